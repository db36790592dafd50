/* The local runner: one candidate library loaded, checked and timed in a forked child process, so
 * that a crash, a hang or a corrupted heap costs one error record and never the tuner. Comes after
 * the builder (builder.c) in the flow; its result becomes a log record. */
#define _GNU_SOURCE /* sched_getcpu, pthread_setaffinity_np */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "measure/measure.h"
#include "measure/proc.h"
#include "tt/backend.h"

#define MAX_ARGS 64
#define WIRE_MAGIC 0x74746d72u /* "ttmr" */

/* What the child sends back: this header, then msg_len bytes of message. Parent and child are the
 * same program image, so the struct layout agrees by construction. */
typedef struct {
    uint32_t magic;
    int32_t error;
    tt_timing_result timing;
    uint32_t msg_len;
} wire_head;

/* ---- the request ---- */

/* Sets the last error to "who: message" and returns -1. */
__attribute__((format(printf, 2, 3))) static int bad(const char *who, const char *fmt, ...)
{
    char msg[TT_MEASURE_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tt_error_set("%s: %s", who, msg);
}

int tt_run_request_check(const tt_run_request *req, const char *who)
{
    if (req == NULL)
        return bad(who, "request is NULL");
    if (req->lib_path == NULL || req->lib_path[0] == '\0')
        return bad(who, "lib_path is empty");
    if (req->func_name == NULL || req->func_name[0] == '\0')
        return bad(who, "func_name is empty");
    if (req->n_args < 1 || req->n_args > MAX_ARGS || req->args == NULL)
        return bad(who, "n_args = %d, expected 1..%d (inputs, then the output)", req->n_args,
                   MAX_ARGS);
    for (int i = 0; i < req->n_args; i++) {
        const tt_measure_tensor *a = &req->args[i];
        if (a->ndim < 0 || a->ndim > TT_MEASURE_MAX_DIM)
            return bad(who, "argument %d: ndim = %d, expected 0..%d", i, a->ndim,
                       TT_MEASURE_MAX_DIM);
        for (int d = 0; d < a->ndim; d++)
            if (a->shape[d] < 0)
                return bad(who, "argument %d: extent %d is %" PRId64 ", expected >= 0", i, d,
                           a->shape[d]);
        if (!tt_measure_dtype_supported(a->dtype))
            return bad(who,
                       "argument %d: dtype code %u bits %u lanes %u, expected float32/64, "
                       "int8/16/32/64 or uint8",
                       i, a->dtype.code, a->dtype.bits, a->dtype.lanes);
    }
    if (req->ref_output != NULL && req->ref_lib_path != NULL)
        return bad(who, "both ref_output and ref_lib_path are given, expected at most one "
                        "reference");
    if (req->ref_lib_path != NULL && (req->ref_func_name == NULL || !req->ref_func_name[0]))
        return bad(who, "ref_lib_path \"%s\" without ref_func_name", req->ref_lib_path);
    if (req->ref_output != NULL) {
        const tt_measure_tensor *o = &req->args[req->n_args - 1];
        uint64_t bytes = (o->dtype.bits + 7u) / 8u;
        for (int d = 0; d < o->ndim; d++)
            bytes *= (uint64_t)o->shape[d];
        if (bytes != req->ref_nbytes)
            return bad(who,
                       "ref_nbytes = %zu, but the output (argument "
                       "%d) has %" PRIu64 " bytes",
                       req->ref_nbytes, req->n_args - 1, bytes);
    }
    if (!(req->rtol >= 0) || isinf(req->rtol))
        return bad(who, "rtol = %g, expected >= 0 (0: 1e-4)", req->rtol);
    if (!(req->timeout_s > 0) || req->timeout_s > 1e6)
        return bad(who, "timeout_s = %g, expected > 0", req->timeout_s);
    if (req->num_threads < 0)
        return bad(who, "num_threads = %d, expected >= 0 (0: default)", req->num_threads);
    if (tt_timing_opts_check(&req->timing) != 0)
        return tt_error_wrap("%s: timing", who);
    return 0;
}

/* ---- the inputs, made once ---- */

/* The inputs of the last request, filled once in the parent into a shared read-only mapping
 * that every child inherits: a child no longer spends milliseconds (tens for a 1024^3 matmul)
 * filling them, and a kernel that writes into an input now faults (a runtime error) instead of
 * changing what the next candidates read. Parent only, under tt_proc_lock. */
static struct {
    uint64_t seed;
    int n; /* inputs: the request's arguments but the last; 0: nothing cached */
    tt_measure_tensor args[MAX_ARGS];
    size_t off[MAX_ARGS];
    unsigned char *map;
    size_t size;
} inputs;

/* A view of input i of the mapping (shape from the request, which outlives the child). */
static DLTensor input_view(const tt_run_request *req, int i, unsigned char *base, size_t off)
{
    return (DLTensor){.data = base + off,
                      .device = {kDLCPU, 0},
                      .ndim = req->args[i].ndim,
                      .dtype = req->args[i].dtype,
                      .shape = (int64_t *)req->args[i].shape};
}

static bool inputs_match(const tt_run_request *req)
{
    if (inputs.map == NULL || inputs.seed != req->seed || inputs.n != req->n_args - 1)
        return false;
    for (int i = 0; i < inputs.n; i++) {
        const tt_measure_tensor *a = &inputs.args[i], *b = &req->args[i];
        if (a->ndim != b->ndim || a->dtype.code != b->dtype.code ||
            a->dtype.bits != b->dtype.bits || a->dtype.lanes != b->dtype.lanes ||
            memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) != 0)
            return false;
    }
    return true;
}

/* Makes the inputs of req the cached ones (filled, then read-only). */
static int inputs_prepare(const tt_run_request *req, const char *who)
{
    if (inputs_match(req))
        return 0;
    if (inputs.map != NULL)
        munmap(inputs.map, inputs.size);
    memset(&inputs, 0, sizeof inputs);
    int n = req->n_args - 1;
    size_t size = 0;
    for (int i = 0; i < n; i++) {
        DLTensor v = input_view(req, i, NULL, 0);
        inputs.off[i] = size;
        size += ((size_t)tt_array_nbytes(&v) + 63) & ~(size_t)63; /* 64-byte aligned, as arrays */
    }
    void *map =
        mmap(NULL, size > 0 ? size : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return tt_error_set("%s: cannot map %zu bytes of inputs: %s", who, size, strerror(errno));
    for (int i = 0; i < n; i++) {
        DLTensor v = input_view(req, i, map, inputs.off[i]);
        if (tt_measure_fill_random(&v, req->seed, i) != 0) {
            munmap(map, size > 0 ? size : 1);
            return tt_error_wrap("%s: inputs", who);
        }
    }
    mprotect(map, size > 0 ? size : 1, PROT_READ);
    inputs.map = map;
    inputs.size = size > 0 ? size : 1;
    inputs.seed = req->seed;
    inputs.n = n;
    memcpy(inputs.args, req->args, (size_t)n * sizeof *req->args);
    return 0;
}

/* ---- the child ---- */

typedef struct {
    const tt_run_request *req;
    void *sink; /* reference mode: where the output goes (shared with the parent); else NULL */
    wire_head head;
    char msg[TT_MEASURE_MSG_LEN];
} child_job;

__attribute__((format(printf, 3, 4))) static void fail(child_job *job, int error, const char *fmt,
                                                       ...)
{
    job->head.error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->msg, sizeof job->msg, fmt, ap);
    va_end(ap);
}

static int load(child_job *job, const char *path, const char *name, tt_module *mod, tt_func *f)
{
    if (tt_mod_load_from_file(path, "so", mod) != 0) {
        fail(job, TT_OUTCOME_RUNTIME_ERROR, "%s", tt_get_last_error());
        return -1;
    }
    if (tt_mod_get_function(*mod, name, 0, f) != 0) {
        fail(job, TT_OUTCOME_RUNTIME_ERROR, "%s", tt_get_last_error());
        return -1;
    }
    if (*f == NULL) {
        fail(job, TT_OUTCOME_RUNTIME_ERROR, "%s has no kernel \"%s\" (symbol %s%s)", path, name,
             TT_PACKED_PREFIX, name);
        return -1;
    }
    return 0;
}

static int call(tt_func f, tt_value *args, int *codes, int n)
{
    tt_value ret;
    int ret_code;
    return tt_func_call(f, args, codes, n, &ret, &ret_code);
}

/* Runs the reference on the inputs into a new array *expected. */
static int reference(child_job *job, DLTensor **arrays, tt_value *args, int *codes,
                     DLTensor **expected)
{
    const tt_run_request *req = job->req;
    int out = req->n_args - 1;
    if (req->ref_output != NULL) {
        if (tt_array_alloc(arrays[out]->shape, arrays[out]->ndim, arrays[out]->dtype,
                           arrays[out]->device, expected) != 0) {
            fail(job, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            return -1;
        }
        memcpy((*expected)->data, req->ref_output, req->ref_nbytes);
        return 0;
    }
    tt_module mod = NULL;
    tt_func f = NULL;
    int rc = -1;
    if (load(job, req->ref_lib_path, req->ref_func_name, &mod, &f) != 0) {
        /* The candidate is not at fault: say whose library failed. */
        char why[TT_MEASURE_MSG_LEN];
        snprintf(why, sizeof why, "%s", job->msg);
        fail(job, TT_OUTCOME_UNKNOWN_ERROR, "reference: %s", why);
        goto done;
    }
    if (tt_array_alloc(arrays[out]->shape, arrays[out]->ndim, arrays[out]->dtype,
                       arrays[out]->device, expected) != 0) {
        fail(job, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
        goto done;
    }
    tt_measure_poison(*expected);
    args[out].v_handle = *expected;
    rc = call(f, args, codes, req->n_args);
    args[out].v_handle = arrays[out];
    if (rc != 0)
        fail(job, TT_OUTCOME_UNKNOWN_ERROR, "reference kernel failed: %s", tt_get_last_error());
done:
    tt_func_free(f);
    tt_mod_free(mod);
    return rc;
}

static void work(child_job *job)
{
    const tt_run_request *req = job->req;
    int n = req->n_args, out = n - 1;
    DLTensor *arrays[MAX_ARGS] = {0};
    DLTensor *expected = NULL;
    tt_value args[MAX_ARGS];
    int codes[MAX_ARGS];
    tt_module mod = NULL;
    tt_func f = NULL;

    if (req->num_threads > 0)
        tt_backend_set_num_threads(req->num_threads);
    if (load(job, req->lib_path, req->func_name, &mod, &f) != 0)
        goto done;
    DLDevice cpu = {kDLCPU, 0};
    DLTensor views[MAX_ARGS];
    for (int i = 0; i < n; i++) {
        codes[i] = TT_DLTENSOR;
        if (i < out) { /* read-only, filled by the parent (inputs_prepare) */
            views[i] = input_view(req, i, inputs.map, inputs.off[i]);
            args[i].v_handle = &views[i];
            continue;
        }
        const tt_measure_tensor *a = &req->args[i];
        if (tt_array_alloc(a->shape, a->ndim, a->dtype, cpu, &arrays[i]) != 0) {
            fail(job, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            goto done;
        }
        args[i].v_handle = arrays[i];
    }
    tt_measure_poison(arrays[out]);
    /* The reference runs first: a candidate that writes into its inputs must not change what it
     * is compared with. */
    int check = req->ref_output != NULL || req->ref_lib_path != NULL;
    if (check && reference(job, arrays, args, codes, &expected) != 0)
        goto done;
    double warm_s;
    int warm_switches;
    if (tt_measure_call(f, args, codes, n, &warm_s, &warm_switches) != 0) {
        fail(job, TT_OUTCOME_RUNTIME_ERROR, "%s", tt_get_last_error());
        goto done;
    }
    if (job->sink != NULL) {
        memcpy(job->sink, arrays[out]->data, (size_t)tt_array_nbytes(arrays[out]));
        goto done;
    }
    if (check) {
        double rtol = req->rtol > 0 ? req->rtol : 1e-4;
        int cmp = tt_measure_compare(arrays[out], expected, rtol, job->msg, sizeof job->msg);
        if (cmp != 0) {
            if (cmp < 0)
                fail(job, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            else
                job->head.error = TT_OUTCOME_WRONG_ANSWER;
            goto done;
        }
    }
    /* The checked call above was the warm-up (page faults, lazy binding, the thread pool), and
     * its time calibrates: the protocol goes straight to the estimated `number`, and a slow
     * kernel's call is its first repeat. */
    tt_timing_opts timing = req->timing;
    timing.warm = 1;
    timing.warm_s = warm_s > 0 ? warm_s : 0;
    timing.warm_switches = warm_switches;
    if (tt_measure_time(f, args, codes, n, &timing, &job->head.timing) != 0)
        fail(job, TT_OUTCOME_RUNTIME_ERROR, "%s", tt_get_last_error());
done:
    tt_array_free(expected);
    for (int i = 0; i < n; i++)
        tt_array_free(arrays[i]);
    tt_func_free(f);
    tt_mod_free(mod);
}

static void *work_thread(void *p)
{
    /* The measuring thread stays on the core it starts on. Kernel calls leave their caller's
     * affinity alone (runtime/parallel.c) and bind only the workers, to the other cores; a
     * measuring thread that migrated onto a worker's core mid-repeat would time the contention. */
    const child_job *job = p;
    int cpu = job->req->pin_cpu ? job->req->cpu : sched_getcpu();
    if (cpu >= 0 && cpu < CPU_SETSIZE) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one); /* best effort */
    }
    work(p);
    return NULL;
}

/* Never returns. The work runs on a fresh thread: libgomp keeps its thread pool per thread, and
 * the pool the forking thread inherited names workers that do not exist in the child, so a
 * parallel region on it would wait for them forever. A new thread starts a new pool. */
static void child_main(const tt_run_request *req, void *sink, int fd)
{
    static child_job job;
    memset(&job, 0, sizeof job);
    job.req = req;
    job.sink = sink;
    job.head.magic = WIRE_MAGIC;
    pthread_t th;
    if (pthread_create(&th, NULL, work_thread, &job) == 0)
        pthread_join(th, NULL);
    else
        work(&job);
    job.head.msg_len = (uint32_t)strnlen(job.msg, sizeof job.msg - 1);
    if (job.head.error == TT_OUTCOME_OK)
        job.head.msg_len = 0;
    if (tt_proc_write_all(fd, &job.head, sizeof job.head) != 0 ||
        tt_proc_write_all(fd, job.msg, job.head.msg_len) != 0)
        _exit(3);
    /* _exit: no atexit handlers, no leak check, no OpenMP teardown in a child about to vanish. */
    _exit(0);
}

/* ---- the parent ---- */

/* Reads the child's report until end of file or the deadline. 1 when the deadline passed. */
static int collect(int fd, double deadline, char *buf, size_t cap, size_t *len)
{
    for (;;) {
        double left = deadline - tt_proc_now();
        if (left <= 0)
            return 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)ceil(left * 1e3));
        if (r < 0 && errno != EINTR)
            return 1;
        if (r > 0 && tt_proc_read_some(fd, buf, cap, len))
            return 0;
    }
}

static void decode(const char *buf, size_t len, pid_t pid, double deadline, double timeout_s,
                   tt_run_result *out)
{
    wire_head head;
    int status;
    if (tt_proc_wait(pid, deadline, &status) != 0) {
        /* The report's pipe closed but the process lives on: it is past its time. */
        tt_proc_kill(pid);
        status = -1;
    }
    if (len >= sizeof head) {
        memcpy(&head, buf, sizeof head);
        if (head.magic == WIRE_MAGIC && head.msg_len < TT_MEASURE_MSG_LEN &&
            len == sizeof head + head.msg_len) {
            out->error = head.error;
            out->timing = head.timing;
            memcpy(out->error_msg, buf + sizeof head, head.msg_len);
            out->error_msg[head.msg_len] = '\0';
            return;
        }
    }
    if (status != -1 && WIFSIGNALED(status)) {
        out->error = TT_OUTCOME_RUNTIME_ERROR;
        tt_proc_describe(status, out->error_msg, sizeof out->error_msg);
        return;
    }
    if (status == -1) {
        out->error = TT_OUTCOME_RUN_TIMEOUT;
        snprintf(out->error_msg, sizeof out->error_msg,
                 "run timed out after %.1f s (the process closed its report unfinished)",
                 timeout_s);
        return;
    }
    char how[128];
    tt_proc_describe(status, how, sizeof how);
    out->error = TT_OUTCOME_UNKNOWN_ERROR;
    snprintf(out->error_msg, sizeof out->error_msg,
             "the measurement process %s without reporting a result", how);
}

/* Forks the child for req (reference mode when sink is set) and turns what it reports, or how it
 * ended, into out. Caller holds the lock. */
static int run_child(const tt_run_request *req, void *sink, const char *what, tt_run_result *out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return tt_error_set("%s: pipe failed: %s", what, strerror(errno));
    double start = tt_proc_now();
    pid_t pid = tt_proc_fork(what);
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(req, sink, fds[1]);
    }
    close(fds[1]);
    double deadline = start + req->timeout_s;
    char buf[sizeof(wire_head) + TT_MEASURE_MSG_LEN];
    size_t len = 0;
    if (collect(fds[0], deadline, buf, sizeof buf, &len) != 0) {
        tt_proc_kill(pid);
        out->error = TT_OUTCOME_RUN_TIMEOUT;
        snprintf(out->error_msg, sizeof out->error_msg, "run timed out after %.1f s",
                 req->timeout_s);
    } else {
        /* A child that reported has only _exit left: a short grace past the deadline. */
        decode(buf, len, pid, fmax(deadline, tt_proc_now() + 0.5), req->timeout_s, out);
    }
    close(fds[0]);
    out->elapsed_s = tt_proc_now() - start;
    return 0;
}

int tt_runner_local_run(const tt_run_request *req, tt_run_result *out)
{
    memset(out, 0, sizeof *out);
    if (tt_run_request_check(req, "tt_runner_local_run") != 0)
        return -1;
    if (req->timing.flush_cache)
        tt_measure_flush_bytes(); /* the child inherits the size instead of loading the topology */
    tt_proc_lock();
    int rc = inputs_prepare(req, "tt_runner_local_run");
    if (rc == 0)
        rc = run_child(req, NULL, "tt_runner_local_run", out);
    tt_proc_unlock();
    return rc;
}

int tt_runner_local_reference(const tt_run_request *req, void *output, size_t nbytes,
                              tt_run_result *out)
{
    memset(out, 0, sizeof *out);
    if (req == NULL)
        return tt_error_set("tt_runner_local_reference: request is NULL");
    /* Only the kernel and the inputs matter: no check, no timing. */
    tt_run_request once = *req;
    once.ref_output = NULL;
    once.ref_lib_path = once.ref_func_name = NULL;
    tt_timing_opts_default(&once.timing);
    if (tt_run_request_check(&once, "tt_runner_local_reference") != 0)
        return -1;
    const tt_measure_tensor *o = &req->args[req->n_args - 1];
    uint64_t want = (o->dtype.bits + 7u) / 8u;
    for (int d = 0; d < o->ndim; d++)
        want *= (uint64_t)o->shape[d];
    if (want != nbytes || (nbytes > 0 && output == NULL))
        return tt_error_set("tt_runner_local_reference: nbytes = %zu, but the output (argument "
                            "%d) has %" PRIu64 " bytes",
                            nbytes, req->n_args - 1, want);
    /* The child writes the output into memory it shares with the parent: no size limit, no
     * copy through the pipe. */
    void *shared = NULL;
    if (nbytes > 0) {
        shared = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED)
            return tt_error_set("tt_runner_local_reference: cannot map %zu bytes: %s", nbytes,
                                strerror(errno));
    }
    static char dummy;
    tt_proc_lock();
    int rc = inputs_prepare(&once, "tt_runner_local_reference");
    if (rc == 0)
        rc = run_child(&once, shared != NULL ? shared : &dummy, "tt_runner_local_reference", out);
    tt_proc_unlock();
    if (rc == 0 && out->error == TT_OUTCOME_OK && nbytes > 0)
        memcpy(output, shared, nbytes);
    if (shared != NULL)
        munmap(shared, nbytes);
    return rc;
}
