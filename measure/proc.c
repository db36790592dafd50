/* Child-process plumbing for measure/: the builder's workers and the runner's child are plain
 * fork()ed processes watched with deadlines; this file holds what both need (see proc.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "measure/measure.h"
#include "measure/proc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

double tt_proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tt_proc_lock(void)
{
    pthread_mutex_lock(&lock);
}

void tt_proc_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

static void child_setup(pid_t parent)
{
    setpgid(0, 0);
    /* The child must not outlive a tuner that died (a hanging kernel would spin forever). The
     * parent may have died before prctl: then getppid() already changed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    static const int crash[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++) {
        signal(crash[i], SIG_DFL);
        sigaddset(&set, crash[i]);
    }
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGPIPE, SIG_DFL);
}

pid_t tt_proc_fork(const char *what)
{
    pid_t parent = getpid();
    fflush(NULL); /* buffered output would otherwise be written twice */
    pid_t pid = fork();
    if (pid < 0)
        return tt_error_set("%s: fork failed: %s", what, strerror(errno));
    if (pid == 0) {
        child_setup(parent);
        return 0;
    }
    /* Also from the parent, so that a kill of the group right away finds it. */
    setpgid(pid, pid);
    return pid;
}

int tt_proc_wait(pid_t pid, double deadline, int *status)
{
    long sleep_ns = 100000L; /* 0.1 ms, doubling to 10 ms */
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR) {
            /* ECHILD: someone else reaped it (SIGCHLD ignored); nothing to wait for. */
            *status = 0;
            return 0;
        }
        double left = deadline - tt_proc_now();
        if (left <= 0)
            return 1;
        struct timespec ts = {0, sleep_ns};
        if (left < (double)sleep_ns * 1e-9)
            ts.tv_nsec = (long)(left * 1e9) + 1;
        nanosleep(&ts, NULL);
        if (sleep_ns < 10000000L)
            sleep_ns *= 2;
    }
}

void tt_proc_kill(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

void tt_proc_describe(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = strsignal(sig);
        snprintf(buf, len, "killed by signal %d (%s)", sig, name ? name : "unknown signal");
    } else if (WIFEXITED(status)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
    }
}

int tt_proc_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int tt_proc_read_some(int fd, char *buf, size_t cap, size_t *len)
{
    char tmp[4096];
    ssize_t r;
    do {
        r = read(fd, tmp, sizeof tmp);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 1;
    if (r < 0)
        return errno == EAGAIN ? 0 : 1; /* a broken pipe reads as the end */
    size_t take = (size_t)r;
    if (take > cap - *len)
        take = cap - *len;
    memcpy(buf + *len, tmp, take);
    *len += take;
    return 0;
}
