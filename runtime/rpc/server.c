/* The RPC server (tvm-tune-rpc): a listening socket, and per connection a forked session process
 * that leads its own process group. The parent never parses a byte a client sends: the child
 * authenticates, then creates its work directory and serves (session.c). The parent only reaps,
 * kills a session group past its time limit (so a hung kernel leaves no orphans), removes what a
 * killed session left in the work directory, and stops everything on SIGTERM. */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "session.h"
#include "tt/rpc.h"

#define MAX_SESSIONS 64

typedef struct {
    pid_t pid;
    int64_t deadline_ms;
    int killed;
} session_proc;

static session_proc sessions[MAX_SESSIONS];
static int nsessions;
static int wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT)
        stop_requested = 1;
    if (wake_pipe[1] >= 0) {
        char b = 0;
        ssize_t w = write(wake_pipe[1], &b, 1);
        (void)w;
    }
    errno = saved;
}

TT_API int tt_rpc_keygen(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return tt_error_set("rpc keygen: no output file given");
    if (sodium_init() < 0)
        return tt_error_set("rpc keygen: libsodium failed to initialise");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return tt_error_set("rpc keygen: \"%s\" exists; refusing to overwrite a key (remove "
                                "it first if you mean to replace it)",
                                path);
        return tt_error_set("rpc keygen: cannot create \"%s\": %s", path, strerror(errno));
    }
    uint8_t key[TT_RPC_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    int rc = fchmod(fd, 0600) == 0 ? tt_rpc_write_full(fd, key, sizeof key, -1) : -1;
    sodium_memzero(key, sizeof key);
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int e = errno;
    close(fd);
    if (rc != 0) {
        unlink(path);
        return tt_error_set("rpc keygen: writing \"%s\": %s", path, strerror(e));
    }
    return 0;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tvm-tune-rpc: %s\n", msg);
    fflush(stderr);
}

/* Removes dir and the files in it (a session creates nothing deeper). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Removes the work directories a session process left (it names them tt-rpc-PID-XXXXXX). */
static void remove_session_dirs(const char *work_dir, pid_t pid)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "tt-rpc-%d-", (int)pid);
    DIR *d = opendir(work_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", work_dir, e->d_name);
            remove_tree(path);
        }
    }
    closedir(d);
}

/* Closes a refused connection so that the peer reads our ERROR frame: closing with unread
 * input would make the kernel reset the connection and drop the frame. So: end our side, then
 * discard what the peer still sends (at most 64 KiB, at most 1 s), then close. */
static void linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    int64_t deadline = tt_rpc_now_ms() + 1000;
    char sink[4096];
    for (int total = 0; total < 65536;) {
        int64_t left = deadline - tt_rpc_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = read(fd, sink, sizeof sink);
        if (r <= 0)
            break;
        total += (int)r;
    }
    close(fd);
}

/* The session process: handshake, then (authenticated only) a work directory and the serve
 * loop. Never returns. */
/* Ends the session process when its client goes away (the connection hung up), even while a
 * kernel that never returns holds the serving thread: a client that timed out and closed must not
 * leave the kernel spinning on the device, skewing the next session's timings, until the session
 * timeout. The hang-up is POLLRDHUP, or a readable socket whose peek sees end of file (qemu-user
 * did not report POLLRDHUP in a trial). A request waiting to be read is the serving thread's: the
 * watcher then looks again after 200 ms rather than spin. The parent removes the work directory. */
static void *watch_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
            _exit(0);
        char byte;
        if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            _exit(0);
        struct pollfd hup = {.fd = fd, .events = POLLRDHUP};
        if (poll(&hup, 1, 200) > 0 && (hup.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            _exit(0);
    }
}

static void run_session(int fd, const char *peer, const uint8_t *key, const char *work_dir,
                        uint64_t max_upload)
{
    tt_rpc_channel c;
    if (tt_rpc_handshake_server(&c, fd, key, NULL) != 0) {
        log_line("refused %s: %s", peer, tt_get_last_error());
        linger_close(fd);
        _exit(1);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tt-rpc-%d-XXXXXX", work_dir, (int)getpid());
    if (mkdtemp(dir) == NULL) {
        log_line("session %s: cannot create a work directory in \"%s\": %s", peer, work_dir,
                 strerror(errno));
        close(fd);
        _exit(1);
    }
    log_line("session %d from %s (runtime %s): authenticated, work dir %s", (int)getpid(), peer,
             c.peer_runtime, dir);
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_client, (void *)(intptr_t)fd) == 0)
        pthread_detach(watcher);
    int rc = tt_rpc_device_api_register(dir, max_upload);
    if (rc == 0)
        rc = tt_rpc_session_serve(&c);
    if (rc != 0)
        log_line("session %d from %s ended: %s", (int)getpid(), peer, tt_get_last_error());
    else
        log_line("session %d from %s closed", (int)getpid(), peer);
    sodium_memzero(&c, sizeof c);
    close(fd);
    remove_tree(dir);
    _exit(rc == 0 ? 0 : 1);
}

static void reap(const char *work_dir)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        int killed = 0;
        for (int i = 0; i < nsessions; i++) {
            if (sessions[i].pid == pid) {
                killed = sessions[i].killed;
                sessions[i] = sessions[--nsessions];
                break;
            }
        }
        /* The group may hold children of the session (a kernel that forked): end them too. */
        kill(-pid, SIGKILL);
        if (WIFSIGNALED(status) && !killed)
            log_line("session %d died of signal %d (%s)", (int)pid, WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        else if (WIFEXITED(status) && WEXITSTATUS(status) > 1)
            log_line("session %d exited with status %d", (int)pid, WEXITSTATUS(status));
        remove_session_dirs(work_dir, pid);
    }
}

static int listen_on(const char *host, int port, int *out_fd, char *bound, size_t cap)
{
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int g = getaddrinfo(host, ports, &hints, &res);
    if (g != 0)
        return tt_error_set("rpc server: cannot resolve --host \"%s\": %s", host, gai_strerror(g));
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return tt_error_set("rpc server: cannot listen on %s:%d: %s", host, port, strerror(err));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char addr[INET6_ADDRSTRLEN] = "?";
    int bound_port = port;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        bound_port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        bound_port = ntohs(in6->sin6_port);
    }
    snprintf(bound, cap, "%s:%d", addr, bound_port);
    *out_fd = fd;
    return 0;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%d", addr, port);
}

TT_API int tt_rpc_server_run(const tt_rpc_server_options *o)
{
    if (o == NULL)
        return tt_error_set("rpc server: no options");
    if (sodium_init() < 0)
        return tt_error_set("rpc server: libsodium failed to initialise");
    uint8_t key[TT_RPC_KEY_BYTES];
    if (tt_rpc_key_load(o->key_file, key) != 0)
        return -1;
    const char *host = o->host ? o->host : "127.0.0.1";
    const char *tmp = getenv("TMPDIR");
    const char *work_dir = o->work_dir ? o->work_dir : (tmp && tmp[0] ? tmp : "/tmp");
    struct stat st;
    if (stat(work_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sodium_memzero(key, sizeof key);
        return tt_error_set("rpc server: --work-dir \"%s\" is not a directory", work_dir);
    }
    uint64_t max_upload = (o->max_upload_mb ? o->max_upload_mb : 256) << 20;
    int64_t timeout_ms = (int64_t)(o->session_timeout_s > 0 ? o->session_timeout_s : 3600) * 1000;
    int lfd = -1;
    char bound[128];
    if (listen_on(host, o->port, &lfd, bound, sizeof bound) != 0) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        close(lfd);
        sodium_memzero(key, sizeof key);
        return tt_error_set("rpc server: pipe: %s", strerror(errno));
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_term, old_int, old_chld, old_pipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGCHLD, &sa, &old_chld);
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, &old_pipe);
    printf("listening on %s\n", bound);
    fflush(stdout);
    log_line("listening on %s (work dir %s, max upload %llu MB, session timeout %lld s)", bound,
             work_dir, (unsigned long long)(max_upload >> 20), (long long)(timeout_ms / 1000));

    while (!stop_requested) {
        int64_t now = tt_rpc_now_ms(), next = -1;
        for (int i = 0; i < nsessions; i++) {
            if (sessions[i].killed)
                continue;
            if (sessions[i].deadline_ms <= now) {
                log_line("session %d exceeded the session timeout of %lld s: killing its process "
                         "group",
                         (int)sessions[i].pid, (long long)(timeout_ms / 1000));
                kill(-sessions[i].pid, SIGKILL);
                sessions[i].killed = 1;
            } else if (next < 0 || sessions[i].deadline_ms < next) {
                next = sessions[i].deadline_ms;
            }
        }
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
                              {.fd = wake_pipe[0], .events = POLLIN}};
        int wait = next < 0 ? -1 : (int)(next - now > 1000000 ? 1000000 : next - now);
        int rc = poll(p, 2, wait);
        if (rc < 0 && errno != EINTR) {
            log_line("poll: %s", strerror(errno));
            break;
        }
        if (rc > 0 && (p[1].revents & POLLIN)) {
            char drain[64];
            while (read(wake_pipe[0], drain, sizeof drain) > 0) {
            }
        }
        reap(work_dir);
        if (stop_requested || rc <= 0 || !(p[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int cfd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        char peer[128];
        peer_name(&ss, peer, sizeof peer);
        if (nsessions == MAX_SESSIONS) {
            log_line("refused %s: %d sessions already running", peer, MAX_SESSIONS);
            tt_rpc_send_error(cfd, "server busy: too many sessions");
            close(cfd);
            continue;
        }
        pid_t server_pid = getpid();
        pid_t pid = fork();
        if (pid < 0) {
            log_line("refused %s: fork: %s", peer, strerror(errno));
            close(cfd);
            continue;
        }
        if (pid == 0) {
            setpgid(0, 0);
            /* A session does not outlive its server, even one killed with SIGKILL that cannot end
             * its sessions itself: no orphans left serving (or spinning) on the device. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != server_pid)
                _exit(1);
            sigaction(SIGTERM, &old_term, NULL);
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGCHLD, &old_chld, NULL);
            close(lfd);
            close(wake_pipe[0]);
            close(wake_pipe[1]);
            run_session(cfd, peer, key, work_dir, max_upload);
        }
        /* Both sides set the group, so it exists before the parent could need to kill it. */
        setpgid(pid, pid);
        close(cfd);
        sessions[nsessions++] = (session_proc){pid, tt_rpc_now_ms() + timeout_ms, 0};
    }

    log_line("stopping: ending %d session(s)", nsessions);
    for (int i = 0; i < nsessions; i++)
        kill(-sessions[i].pid, SIGKILL);
    while (nsessions > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        for (int i = 0; i < nsessions; i++) {
            if (sessions[i].pid == pid) {
                sessions[i] = sessions[--nsessions];
                break;
            }
        }
        remove_session_dirs(work_dir, pid);
    }
    close(lfd);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    sodium_memzero(key, sizeof key);
    stop_requested = 0;
    return 0;
}
