/* The builder: a batch of candidate libraries compiled in parallel, each by a caller's callback in
 * its own forked process with a time limit, so a crashing or hanging compiler costs one error
 * record. First stage of measurement; runner_local.c then runs what was built, one at a time. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
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
    double build_s; /* the build's own wall time, in the child: a parent that measures while
                     * builds run sees their end late */
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
    double started = tt_proc_now();
    pthread_t th;
    if (pthread_create(&th, NULL, build_thread, &c) == 0)
        pthread_join(th, NULL);
    else
        build_thread(&c);
    c.err[sizeof c.err - 1] = '\0';
    c.head.msg_len = (uint32_t)strlen(c.err);
    c.head.build_s = tt_proc_now() - started;
    if (tt_proc_write_all(fd, &c.head, sizeof c.head) != 0 ||
        tt_proc_write_all(fd, c.err, c.head.msg_len) != 0)
        _exit(3);
    _exit(0);
}

/* A batch being built: the jobs, their results, the worker slots and how far it got. */
struct tt_build_batch {
    const tt_build_job *jobs;
    int n, n_workers;
    double timeout_s;
    tt_build_result *results;
    slot *slots;
    int next, running;
    bool *done;
    bool lock_forks; /* take tt_proc_lock around each fork (the incremental API) */
    int ncpus;
    int cpus[MAX_WORKERS];
};

/* Keeps a build child off the CPUs a measurement uses (best effort). */
static void bind_child(const int *cpus, int ncpus)
{
    if (ncpus <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < ncpus; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE)
            CPU_SET(cpus[i], &set);
    sched_setaffinity(0, sizeof set, &set);
}

static int start(slot *slots, int n_workers, slot *s, const tt_build_job *jobs, int index,
                 tt_build_result *r, const int *cpus, int ncpus)
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
        bind_child(cpus, ncpus);
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
        if (reported && head.build_s > 0 && head.build_s < r->build_s)
            r->build_s = head.build_s;
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

/* Starts the next builds in the free slots. */
static int start_free(tt_build_batch *b)
{
    slot *slots = b->slots;
    for (int w = 0; w < b->n_workers && b->next < b->n; w++) {
        if (slots[w].pid != 0)
            continue;
        if (b->lock_forks)
            tt_proc_lock();
        int rc = start(slots, b->n_workers, &slots[w], b->jobs, b->next, &b->results[b->next],
                       b->cpus, b->ncpus);
        if (b->lock_forks)
            tt_proc_unlock();
        if (rc != 0)
            return -1;
        b->next++;
        b->running++;
    }
    return 0;
}

/* Starts builds in free slots, waits for one to end (or a deadline), and finishes those that
 * ended. */
static int step(tt_build_batch *b)
{
    slot *slots = b->slots;
    if (start_free(b) != 0)
        return -1;
    struct pollfd pfds[MAX_WORKERS];
    int who[MAX_WORKERS];
    int np = 0;
    for (int w = 0; w < b->n_workers; w++) {
        if (slots[w].pid > 0) {
            pfds[np] = (struct pollfd){.fd = slots[w].fd, .events = POLLIN};
            who[np++] = w;
        }
    }
    int r = poll(pfds, (nfds_t)np, poll_ms(slots, b->n_workers, b->timeout_s));
    if (r < 0 && errno != EINTR)
        return tt_error_set("tt_builder_run: poll failed: %s", strerror(errno));
    double now = tt_proc_now();
    for (int i = 0; i < np; i++) {
        slot *sl = &slots[who[i]];
        int ended = r > 0 && pfds[i].revents != 0 &&
                    tt_proc_read_some(sl->fd, sl->buf, sizeof sl->buf, &sl->len);
        int late = !ended && now >= sl->start + b->timeout_s;
        if (ended || late) {
            b->done[sl->job] = true;
            finish(sl, late, b->timeout_s, &b->results[sl->job]);
            b->running--;
        }
    }
    return 0;
}

static int check_args(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
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
    return 0;
}

static int batch_new(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                     const int *cpus, int ncpus, tt_build_result *results, tt_build_batch **out)
{
    *out = NULL;
    if (check_args(jobs, n, n_workers, timeout_s, results) != 0)
        return -1;
    if (ncpus < 0 || ncpus > MAX_WORKERS || (ncpus > 0 && cpus == NULL))
        return tt_error_set("tt_builder_begin: ncpus = %d, expected 0..%d", ncpus, MAX_WORKERS);
    tt_build_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_builder_run: out of memory");
    b->jobs = jobs;
    b->n = n;
    b->n_workers = n_workers;
    b->timeout_s = timeout_s;
    b->results = results;
    b->ncpus = ncpus;
    if (ncpus > 0)
        memcpy(b->cpus, cpus, (size_t)ncpus * sizeof *cpus);
    b->slots = calloc((size_t)n_workers, sizeof *b->slots);
    b->done = calloc((size_t)n + 1, sizeof *b->done);
    if (b->slots == NULL || b->done == NULL) {
        free(b->slots);
        free(b->done);
        free(b);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_builder_run: out of memory for %d workers",
                             n_workers);
    }
    if (n > 0) {
        char dir[4000]; /* leaves room in results[i].path for the file name */
        if (make_dir(dir, sizeof dir) != 0) {
            free(b->slots);
            free(b->done);
            free(b);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            memset(&results[i], 0, sizeof results[i]);
            snprintf(results[i].path, sizeof results[i].path, "%s/cand_%d.so", dir, i);
        }
    }
    *out = b;
    return 0;
}

/* Frees b; after a failure, kills what still runs and removes the libraries. */
static void batch_free(tt_build_batch *b, int failed)
{
    if (failed) {
        /* A system failure midway: nothing may be left running. */
        for (int w = 0; w < b->n_workers; w++) {
            if (b->slots[w].pid > 0) {
                tt_proc_kill(b->slots[w].pid);
                close(b->slots[w].fd);
            }
        }
        tt_builder_cleanup(b->results, b->n);
    }
    free(b->slots);
    free(b->done);
    free(b);
}

int tt_builder_begin(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                     const int *cpus, int ncpus, tt_build_result *results, tt_build_batch **out)
{
    tt_build_batch *b;
    if (batch_new(jobs, n, n_workers, timeout_s, cpus, ncpus, results, &b) != 0)
        return -1;
    b->lock_forks = true;
    if (start_free(b) != 0) { /* the first builds run while the caller goes on */
        batch_free(b, 1);
        return -1;
    }
    *out = b;
    return 0;
}

int tt_builder_await(tt_build_batch *b, int index)
{
    if (b == NULL)
        return tt_error_set("tt_builder_await: no batch");
    if (index < 0 || index >= b->n)
        return tt_error_set("tt_builder_await: job %d of a batch of %d", index, b->n);
    while (!b->done[index])
        if (step(b) != 0)
            return -1;
    /* The freed workers take the next builds now, to run while the caller measures. */
    return start_free(b);
}

int tt_builder_end(tt_build_batch *b, int cancel)
{
    if (b == NULL)
        return 0;
    int rc = 0;
    if (cancel) {
        for (int w = 0; w < b->n_workers; w++) {
            if (b->slots[w].pid > 0) {
                tt_proc_kill(b->slots[w].pid);
                close(b->slots[w].fd);
                b->slots[w].pid = 0;
            }
        }
    } else {
        while (rc == 0 && (b->next < b->n || b->running > 0))
            rc = step(b);
    }
    batch_free(b, rc != 0);
    return rc;
}

int tt_builder_run(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                   tt_build_result *results)
{
    if (check_args(jobs, n, n_workers, timeout_s, results) != 0)
        return -1;
    if (n == 0)
        return 0;
    tt_build_batch *b;
    if (batch_new(jobs, n, n_workers, timeout_s, NULL, 0, results, &b) != 0)
        return -1;
    /* the whole batch under the lock: no measurement of another thread beside it */
    tt_proc_lock();
    int rc = 0;
    while (rc == 0 && (b->next < b->n || b->running > 0))
        rc = step(b);
    batch_free(b, rc != 0);
    tt_proc_unlock();
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
