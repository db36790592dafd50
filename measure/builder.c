/* The builder: a batch of candidate libraries compiled in parallel, each by a caller's callback in
 * its own forked process with a time limit, so a crashing or hanging compiler costs one error
 * record. First stage of measurement; runner_local.c then runs what was built, one at a time. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "measure/measure.h"
#include "measure/proc.h"

#define WIRE_MAGIC 0x74746272u /* "ttbr" */
#define MAX_WORKERS 256

typedef struct {
    uint32_t magic;
    int32_t rc;
    uint32_t msg_len;
} wire_head;

/* One running build. */
typedef struct {
    pid_t pid; /* 0: free */
    int fd;
    int job;
    double start;
    size_t len;
    char buf[sizeof(wire_head) + TT_BUILD_MSG_LEN];
} slot;

typedef struct {
    const tt_build_job *job;
    int index;
    const char *path;
    wire_head head;
    char err[TT_BUILD_MSG_LEN];
} child_job;

static void *build_thread(void *p)
{
    child_job *c = p;
    c->head.rc = c->job->build(c->job->ctx, c->index, c->path, c->err, sizeof c->err);
    return NULL;
}

/* Never returns. The callback runs on a fresh thread for the reason runner_local.c gives: a
 * library with per-thread pools (libgomp) inherited from the parent's thread would hang. */
static void child_main(const tt_build_job *job, int index, const char *path, int fd)
{
    static child_job c;
    memset(&c, 0, sizeof c);
    c.job = job;
    c.index = index;
    c.path = path;
    c.head.magic = WIRE_MAGIC;
    pthread_t th;
    if (pthread_create(&th, NULL, build_thread, &c) == 0)
        pthread_join(th, NULL);
    else
        build_thread(&c);
    c.err[sizeof c.err - 1] = '\0';
    c.head.msg_len = (uint32_t)strlen(c.err);
    if (tt_proc_write_all(fd, &c.head, sizeof c.head) != 0 ||
        tt_proc_write_all(fd, c.err, c.head.msg_len) != 0)
        _exit(3);
    _exit(0);
}

static int start(slot *slots, int n_workers, slot *s, const tt_build_job *jobs, int index,
                 tt_build_result *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        return tt_error_set("tt_builder_run: pipe failed: %s", strerror(errno));
    s->start = tt_proc_now();
    pid_t pid = tt_proc_fork("tt_builder_run");
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* The other builds' pipes: holding their write ends open would hide their end of file
         * from the parent; the read ends are not ours either. */
        for (int w = 0; w < n_workers; w++)
            if (slots[w].pid > 0)
                close(slots[w].fd);
        close(fds[0]);
        child_main(&jobs[index], index, r->path, fds[1]);
    }
    close(fds[1]);
    s->pid = pid;
    s->fd = fds[0];
    s->job = index;
    s->len = 0;
    return 0;
}

/* The build in s ended (its pipe closed) or ran out of time; fills its result and frees s. */
static void finish(slot *s, int timed_out, double timeout_s, tt_build_result *r)
{
    int status = 0;
    if (!timed_out && tt_proc_wait(s->pid, s->start + timeout_s, &status) != 0)
        timed_out = 1; /* closed its pipe but kept running */
    if (timed_out)
        tt_proc_kill(s->pid);
    close(s->fd);
    r->build_s = tt_proc_now() - s->start;
    s->pid = 0;

    wire_head head;
    int reported = 0;
    if (!timed_out && s->len >= sizeof head) {
        memcpy(&head, s->buf, sizeof head);
        reported = head.magic == WIRE_MAGIC && head.msg_len < TT_BUILD_MSG_LEN &&
                   s->len == sizeof head + head.msg_len;
    }
    if (timed_out) {
        r->error = TT_OUTCOME_BUILD_TIMEOUT;
        snprintf(r->error_msg, sizeof r->error_msg, "build timed out after %.1f s", timeout_s);
    } else if (!reported) {
        char how[128];
        tt_proc_describe(status, how, sizeof how);
        r->error = TT_OUTCOME_COMPILE_ERROR;
        snprintf(r->error_msg, sizeof r->error_msg, "build crashed: %s", how);
    } else if (head.rc != 0) {
        r->error = TT_OUTCOME_COMPILE_ERROR;
        if (head.msg_len > 0) {
            memcpy(r->error_msg, s->buf + sizeof head, head.msg_len);
            r->error_msg[head.msg_len] = '\0';
        } else {
            snprintf(r->error_msg, sizeof r->error_msg,
                     "build failed (returned %d) without a message", (int)head.rc);
        }
    } else {
        struct stat st;
        if (stat(r->path, &st) != 0 || st.st_size == 0) {
            r->error = TT_OUTCOME_COMPILE_ERROR;
            snprintf(r->error_msg, sizeof r->error_msg,
                     "build reported success but wrote no library at %.3000s", r->path);
        }
    }
}

static int make_dir(char *dir, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if ((size_t)snprintf(dir, len, "%s/tt-build-XXXXXX", tmp) >= len)
        return tt_error_set("tt_builder_run: TMPDIR \"%s\" is too long", tmp);
    if (mkdtemp(dir) == NULL)
        return tt_error_set("tt_builder_run: cannot make a directory \"%s\": %s", dir,
                            strerror(errno));
    return 0;
}

/* Earliest deadline among running builds, as a poll timeout in ms. */
static int poll_ms(const slot *slots, int n_workers, double timeout_s)
{
    double first = INFINITY;
    for (int w = 0; w < n_workers; w++)
        if (slots[w].pid > 0 && slots[w].start + timeout_s < first)
            first = slots[w].start + timeout_s;
    double left = first - tt_proc_now();
    if (left <= 0)
        return 0;
    return left > 1e6 ? 1000000000 : (int)ceil(left * 1e3);
}

static int run(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
               tt_build_result *results, slot *slots)
{
    struct pollfd pfds[MAX_WORKERS];
    int who[MAX_WORKERS];
    int next = 0, running = 0;
    while (next < n || running > 0) {
        for (int w = 0; w < n_workers && next < n; w++) {
            if (slots[w].pid != 0)
                continue;
            if (start(slots, n_workers, &slots[w], jobs, next, &results[next]) != 0)
                return -1;
            next++;
            running++;
        }
        int np = 0;
        for (int w = 0; w < n_workers; w++) {
            if (slots[w].pid > 0) {
                pfds[np] = (struct pollfd){.fd = slots[w].fd, .events = POLLIN};
                who[np++] = w;
            }
        }
        int r = poll(pfds, (nfds_t)np, poll_ms(slots, n_workers, timeout_s));
        if (r < 0 && errno != EINTR)
            return tt_error_set("tt_builder_run: poll failed: %s", strerror(errno));
        double now = tt_proc_now();
        for (int i = 0; i < np; i++) {
            slot *s = &slots[who[i]];
            int ended = r > 0 && pfds[i].revents != 0 &&
                        tt_proc_read_some(s->fd, s->buf, sizeof s->buf, &s->len);
            int late = !ended && now >= s->start + timeout_s;
            if (ended || late) {
                finish(s, late, timeout_s, &results[s->job]);
                running--;
            }
        }
    }
    return 0;
}

int tt_builder_run(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                   tt_build_result *results)
{
    if (n < 0 || (n > 0 && (jobs == NULL || results == NULL)))
        return tt_error_set("tt_builder_run: n = %d jobs, expected >= 0 with jobs and results", n);
    if (n_workers < 1 || n_workers > MAX_WORKERS)
        return tt_error_set("tt_builder_run: n_workers = %d, expected 1..%d", n_workers,
                            MAX_WORKERS);
    if (!(timeout_s > 0) || timeout_s > 1e6)
        return tt_error_set("tt_builder_run: timeout_s = %g, expected > 0", timeout_s);
    for (int i = 0; i < n; i++)
        if (jobs[i].build == NULL)
            return tt_error_set("tt_builder_run: job %d has no build callback", i);
    if (n == 0)
        return 0;
    char dir[4000]; /* leaves room in results[i].path for the file name */
    if (make_dir(dir, sizeof dir) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        snprintf(results[i].path, sizeof results[i].path, "%s/cand_%d.so", dir, i);
    }
    slot *slots = calloc((size_t)n_workers, sizeof *slots);
    if (slots == NULL) {
        rmdir(dir);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_builder_run: out of memory for %d workers",
                             n_workers);
    }
    tt_proc_lock();
    int rc = run(jobs, n, n_workers, timeout_s, results, slots);
    if (rc != 0) {
        /* A system failure midway: nothing may be left running. */
        for (int w = 0; w < n_workers; w++) {
            if (slots[w].pid > 0) {
                tt_proc_kill(slots[w].pid);
                close(slots[w].fd);
            }
        }
        tt_builder_cleanup(results, n);
    }
    tt_proc_unlock();
    free(slots);
    return rc;
}

void tt_builder_cleanup(tt_build_result *results, int n)
{
    if (n <= 0 || results == NULL || results[0].path[0] == '\0')
        return;
    for (int i = 0; i < n; i++)
        if (results[i].path[0] != '\0')
            unlink(results[i].path);
    /* A callback may leave more than the library (objects, temporaries) in the directory. */
    char dir[sizeof results[0].path];
    memcpy(dir, results[0].path, sizeof dir);
    char *d = dirname(dir);
    if (strstr(d, "/tt-build-") == NULL)
        return;
    DIR *h = opendir(d);
    if (h != NULL) {
        struct dirent *e;
        char file[sizeof dir + 256];
        while ((e = readdir(h)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(file, sizeof file, "%s/%s", d, e->d_name);
            unlink(file);
        }
        closedir(h);
    }
    rmdir(d);
    for (int i = 0; i < n; i++)
        results[i].path[0] = '\0';
}
