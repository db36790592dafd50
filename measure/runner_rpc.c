/* The remote runner: a candidate library uploaded to a device's tvm-tune-rpc server, checked
 * there against the host's reference output and timed by the device's time evaluator. Comes after
 * the builder (which cross-builds for the device's triple) in the flow, in place of
 * runner_local.c; its result becomes a log record that names the device. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "measure/measure.h"
#include "measure/proc.h"
#include "tt/cost.h"
#include "tt/rpc.h"

#define MAX_ARGS 64

struct tt_rpc_device {
    char host[256];
    int port;
    char addr[300]; /* "HOST:PORT", as the caller gave it */
    char key_file[4096];
    tt_rpc_device_opts opts;
    tt_module session; /* NULL: connect on next use */
    char triple[128], cpu[128], target[256];
    int cores;
    char name[600];
    int sessions;     /* opened so far; also the generation of the current one */
    unsigned uploads; /* names the uploaded files */
};

/* ---- the device ---- */

static void real_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void (*sleep_fn)(double) = real_sleep;

void tt_runner_rpc_set_sleep(void (*sleep_s)(double))
{
    sleep_fn = sleep_s != NULL ? sleep_s : real_sleep;
}

int tt_rpc_device_new(const char *addr, const char *key_file, const tt_rpc_device_opts *opts,
                      tt_rpc_device **out)
{
    if (out == NULL)
        return tt_error_set("tt_rpc_device_new: out is NULL");
    *out = NULL;
    if (addr == NULL || key_file == NULL)
        return tt_error_set("tt_rpc_device_new: %s is NULL", addr ? "key_file" : "addr");
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == addr || end == colon + 1 || *end != '\0' || port < 1 ||
        port > 65535 || (size_t)(colon - addr) >= sizeof((tt_rpc_device *)0)->host)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "tt_rpc_device_new: \"%s\": expected HOST:PORT with a port in "
                             "1..65535",
                             addr);
    if (strlen(key_file) >= sizeof((tt_rpc_device *)0)->key_file)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "tt_rpc_device_new: key file path too long");
    tt_rpc_device_opts o = {0};
    if (opts != NULL)
        o = *opts;
    if (o.connect_timeout_s < 0 || o.max_tries < 0 || o.backoff_s < 0 || o.backoff_max_s < 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "tt_rpc_device_new: negative option (connect_timeout_s %g, max_tries "
                             "%d, backoff_s %g, backoff_max_s %g), expected >= 0 (0: default)",
                             o.connect_timeout_s, o.max_tries, o.backoff_s, o.backoff_max_s);
    o.connect_timeout_s = o.connect_timeout_s > 0 ? o.connect_timeout_s : 10;
    o.max_tries = o.max_tries > 0 ? o.max_tries : 6;
    o.backoff_s = o.backoff_s > 0 ? o.backoff_s : 0.2;
    o.backoff_max_s = o.backoff_max_s > 0 ? o.backoff_max_s : 5;
    tt_rpc_device *d = calloc(1, sizeof *d);
    if (d == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_rpc_device_new: out of memory");
    memcpy(d->host, addr, (size_t)(colon - addr));
    d->port = (int)port;
    snprintf(d->addr, sizeof d->addr, "%s:%d", d->host, d->port);
    snprintf(d->key_file, sizeof d->key_file, "%s", key_file);
    snprintf(d->name, sizeof d->name, "%s", d->addr);
    d->opts = o;
    *out = d;
    return 0;
}

/* Ends the session; the next call connects again. */
static void drop(tt_rpc_device *d)
{
    tt_mod_free(d->session);
    d->session = NULL;
}

void tt_rpc_device_free(tt_rpc_device *d)
{
    if (d == NULL)
        return;
    drop(d);
    free(d);
}

const char *tt_rpc_device_name(const tt_rpc_device *d)
{
    return d->name;
}
const char *tt_rpc_device_triple(const tt_rpc_device *d)
{
    return d->triple;
}
const char *tt_rpc_device_target(const tt_rpc_device *d)
{
    return d->target;
}

const char *tt_rpc_device_cpu(const tt_rpc_device *d)
{
    return d->cpu;
}
int tt_rpc_device_cores(const tt_rpc_device *d)
{
    return d->cores;
}
int tt_rpc_device_connected(const tt_rpc_device *d)
{
    return d->session != NULL;
}
int tt_rpc_device_sessions(const tt_rpc_device *d)
{
    return d->sessions;
}

/* The value of "key" in the flat JSON object of device_info: a string copied into buf (escapes
 * taken literally but for \" and \\), or a number's text. 0 when found. */
static int json_field(const char *json, const char *key, char *buf, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (p == NULL || len == 0)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
        p++;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && n + 1 < len; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            buf[n++] = *p;
        }
    } else {
        while (*p && *p != ',' && *p != '}' && *p != ' ' && n + 1 < len)
            buf[n++] = *p++;
    }
    buf[n] = '\0';
    return 0;
}

/* One try: connect, authenticate, read device_info. */
static int connect_once(tt_rpc_device *d)
{
    tt_module s = NULL;
    if (tt_rpc_connect(d->host, d->port, d->key_file, d->opts.connect_timeout_s, &s) != 0)
        return -1;
    char *info = NULL;
    if (tt_rpc_set_timeout(s, d->opts.connect_timeout_s) != 0 ||
        tt_rpc_device_info(s, &info) != 0) {
        tt_mod_free(s);
        return tt_error_wrap("device_info");
    }
    char cores[32] = "0";
    if (json_field(info, "triple", d->triple, sizeof d->triple) != 0)
        d->triple[0] = '\0';
    if (json_field(info, "cpu", d->cpu, sizeof d->cpu) != 0)
        d->cpu[0] = '\0';
    if (json_field(info, "target", d->target, sizeof d->target) != 0)
        snprintf(d->target, sizeof d->target, "llvm -mtriple=%s", d->triple);
    json_field(info, "cores", cores, sizeof cores);
    d->cores = atoi(cores);
    free(info);
    snprintf(d->name, sizeof d->name, "%s (%s, %s)", d->addr, d->cpu[0] ? d->cpu : "unknown cpu",
             d->triple[0] ? d->triple : "unknown triple");
    d->session = s;
    d->sessions++;
    return 0;
}

int tt_rpc_device_connect(tt_rpc_device *d)
{
    if (d == NULL)
        return tt_error_set("tt_rpc_device_connect: device is NULL");
    if (d->session != NULL)
        return 0;
    /* Exponential backoff: a device that reboots or a server being restarted comes back within
     * seconds; a device that is gone costs a bounded wait (0.2 + 0.4 + ... by default) per call,
     * not the tuning run. */
    double wait = d->opts.backoff_s;
    char last[TT_MEASURE_MSG_LEN] = "";
    for (int t = 1; t <= d->opts.max_tries; t++) {
        if (connect_once(d) == 0)
            return 0;
        snprintf(last, sizeof last, "%s", tt_get_last_error());
        if (t == d->opts.max_tries)
            break;
        sleep_fn(wait);
        wait = fmin(2 * wait, d->opts.backoff_max_s);
    }
    return tt_error_setc(TT_ERR_IO, "device %s lost: no session after %d tries: %s", d->addr,
                         d->opts.max_tries, last);
}

/* 1 when the session still answers (a failed call was the candidate's error, not the
 * connection's). */
static int alive(tt_rpc_device *d)
{
    char *info = NULL;
    if (tt_rpc_set_timeout(d->session, d->opts.connect_timeout_s) != 0 ||
        tt_rpc_device_info(d->session, &info) != 0)
        return 0;
    free(info);
    return 1;
}

/* ---- one candidate ---- */

typedef struct {
    tt_rpc_device *d;
    const tt_run_request *req;
    tt_run_result *out;
    double deadline; /* CLOCK_MONOTONIC seconds */
    double t0;       /* when the current step's call started */
    double budget;   /* its time limit */
} run_ctx;

__attribute__((format(printf, 3, 4))) static int outcome(run_ctx *c, int error, const char *fmt,
                                                         ...)
{
    c->out->error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->error_msg, sizeof c->out->error_msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int timed_out(run_ctx *c, const char *step)
{
    return outcome(c, TT_OUTCOME_RUN_TIMEOUT,
                   "timeout: the run passed its limit of %.3g s during %s on %s", c->req->timeout_s,
                   step, c->d->addr);
}

/* Before a remote call: what is left of the run's time bounds it. -1 (a timeout) when none is. */
static int begin(run_ctx *c, const char *step)
{
    c->t0 = tt_proc_now();
    c->budget = c->deadline - c->t0;
    if (c->budget <= 0)
        return timed_out(c, step);
    tt_rpc_set_timeout(c->d->session, c->budget);
    return 0;
}

/* After a failed remote call: decides what the failure was. The RPC client gives its errors no
 * category, so this asks the device rather than reading the message: a session that still
 * answers had the candidate fail (a kernel error, a library that does not load); a dead one
 * whose call lasted its whole budget timed out; otherwise a fresh session tells a candidate that
 * crashed its session process (the device accepts it) from a device that is gone. */
static int failed(run_ctx *c, const char *step)
{
    char msg[TT_MEASURE_MSG_LEN];
    snprintf(msg, sizeof msg, "%s", tt_get_last_error());
    double took = tt_proc_now() - c->t0;
    tt_rpc_device *d = c->d;
    if (alive(d))
        return outcome(c, TT_OUTCOME_RUNTIME_ERROR, "%s: %s", step, msg);
    drop(d);
    /* The client's poll waits at least the budget (in whole ms); a little slack for that. */
    if (took >= c->budget - 0.01)
        return timed_out(c, step);
    if (connect_once(d) == 0)
        return outcome(c, TT_OUTCOME_RUNTIME_ERROR,
                       "%s: the candidate ended the session process on the device (a crash; a "
                       "new session is open): %s",
                       step, msg);
    return outcome(c, TT_OUTCOME_DEVICE_ERROR,
                   "device %s lost: %s: %s (reconnecting on the next "
                   "call)",
                   d->addr, step, msg);
}

/* The body of a run on an open session; an outcome other than OK is in c->out. The caller frees
 * what it allocated (all of it is in the arrays it passes). */
static void run_on_device(run_ctx *c, const char *remote_name, int *uploaded, tt_module *mod,
                          tt_func *f, DLTensor **local, tt_object **remote)
{
    const tt_run_request *req = c->req;
    tt_module s = c->d->session;
    int n = req->n_args, out = n - 1;

    if (begin(c, "upload") != 0)
        return;
    if (tt_rpc_upload(s, req->lib_path, remote_name) != 0) {
        failed(c, "upload");
        return;
    }
    *uploaded = 1;
    if (begin(c, "load") != 0)
        return;
    if (tt_rpc_load_module(s, remote_name, mod) != 0 ||
        tt_mod_get_function(*mod, req->func_name, 0, f) != 0) {
        failed(c, "load");
        return;
    }
    if (*f == NULL) {
        outcome(c, TT_OUTCOME_RUNTIME_ERROR, "%s has no kernel \"%s\" (symbol %s%s)", req->lib_path,
                req->func_name, TT_PACKED_PREFIX, req->func_name);
        return;
    }

    tt_value args[MAX_ARGS];
    int codes[MAX_ARGS];
    DLDevice cpu = {kDLCPU, 0};
    for (int i = 0; i < n; i++) {
        const tt_measure_tensor *a = &req->args[i];
        if (tt_array_alloc(a->shape, a->ndim, a->dtype, cpu, &local[i]) != 0) {
            outcome(c, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            return;
        }
        /* The local runner's inputs, so the host's reference applies; the output starts
         * poisoned so that a kernel that never writes it fails the check. */
        if (i < out && tt_measure_fill_random(local[i], req->seed, i) != 0) {
            outcome(c, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            return;
        }
        if (i == out)
            tt_measure_poison(local[i]);
        if (begin(c, "array allocation") != 0)
            return;
        if (tt_rpc_array_alloc(s, a->shape, a->ndim, a->dtype, &remote[i]) != 0) {
            failed(c, "array allocation");
            return;
        }
        if (begin(c, "copy to the device") != 0)
            return;
        if (tt_rpc_array_copy_from(remote[i], local[i]) != 0) {
            failed(c, "copy to the device");
            return;
        }
        args[i].v_handle = remote[i];
        codes[i] = TT_OBJECT;
    }

    if (begin(c, "the first run") != 0)
        return;
    if (tt_func_call(*f, args, codes, n, NULL, NULL) != 0) {
        failed(c, "the first run");
        return;
    }
    if (req->ref_output != NULL) {
        if (begin(c, "copy from the device") != 0)
            return;
        if (tt_rpc_array_copy_to(remote[out], local[out]) != 0) {
            failed(c, "copy from the device");
            return;
        }
        const tt_measure_tensor *o = &req->args[out];
        DLTensor expected = {.data = (void *)req->ref_output,
                             .device = cpu,
                             .ndim = o->ndim,
                             .dtype = o->dtype,
                             .shape = (int64_t *)o->shape};
        double rtol = req->rtol > 0 ? req->rtol : 1e-4;
        int cmp = tt_measure_compare(local[out], &expected, rtol, c->out->error_msg,
                                     sizeof c->out->error_msg);
        if (cmp < 0) {
            outcome(c, TT_OUTCOME_UNKNOWN_ERROR, "%s", tt_get_last_error());
            return;
        }
        if (cmp > 0) {
            c->out->error = TT_OUTCOME_WRONG_ANSWER;
            return;
        }
    }

    const tt_timing_opts *t = &req->timing;
    tt_timing_result *r = &c->out->timing;
    if (begin(c, "timing") != 0)
        return;
    int64_t number = t->number;
    tt_rpc_timing rt = {.number = t->number,
                        .repeat = t->repeat,
                        .min_repeat_ms = t->min_repeat_ms,
                        .flush_cache = t->flush_cache,
                        .stop_above_s = t->best_so_far > 0 ? t->best_so_far * t->slow_factor : 0};
    if (tt_rpc_time_evaluate(*f, &rt, args, codes, n, r->costs, &r->n_costs, &number) != 0) {
        failed(c, "timing");
        return;
    }
    r->number = number > INT_MAX ? INT_MAX : (int)number;
    r->cost = tt_cost_median(r->costs, (size_t)r->n_costs);
    double lo = r->costs[0], hi = r->costs[0];
    for (int i = 1; i < r->n_costs; i++) {
        lo = fmin(lo, r->costs[i]);
        hi = fmax(hi, r->costs[i]);
    }
    r->spread = r->cost > 0 ? (hi - lo) / r->cost : 0;
    r->pruned = r->n_costs < t->repeat;
}

/* Removes the uploaded library from the device (best effort): a long run must not fill it. */
static void remove_upload(tt_rpc_device *d, const char *remote_name)
{
    tt_func rm = NULL;
    tt_value a = {.v_str = remote_name};
    int code = TT_STR;
    tt_rpc_set_timeout(d->session, d->opts.connect_timeout_s);
    if (tt_mod_get_function(d->session, "rpc.remove", 0, &rm) != 0 || rm == NULL ||
        tt_func_call(rm, &a, &code, 1, NULL, NULL) != 0) {
        if (!alive(d))
            drop(d);
    }
    tt_func_free(rm);
}

int tt_runner_rpc_run(tt_rpc_device *d, const tt_run_request *req, tt_run_result *out)
{
    if (out == NULL)
        return tt_error_set("tt_runner_rpc_run: out is NULL");
    memset(out, 0, sizeof *out);
    if (d == NULL)
        return tt_error_set("tt_runner_rpc_run: device is NULL");
    if (tt_run_request_check(req, "tt_runner_rpc_run") != 0)
        return -1;
    if (req->ref_lib_path != NULL)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "tt_runner_rpc_run: ref_lib_path \"%s\": a remote run takes the "
                             "host's reference as ref_output",
                             req->ref_lib_path);
    double start = tt_proc_now();
    run_ctx c = {.d = d, .req = req, .out = out};
    if (tt_rpc_device_connect(d) != 0) {
        outcome(&c, TT_OUTCOME_DEVICE_ERROR, "%s", tt_get_last_error());
        out->elapsed_s = tt_proc_now() - start;
        return 0;
    }
    c.deadline = tt_proc_now() + req->timeout_s;
    int generation = d->sessions;
    char remote_name[64];
    snprintf(remote_name, sizeof remote_name, "tt-candidate-%u.so", ++d->uploads);

    int uploaded = 0;
    tt_module mod = NULL;
    tt_func f = NULL;
    DLTensor *local[MAX_ARGS] = {0};
    tt_object *remote[MAX_ARGS] = {0};
    run_on_device(&c, remote_name, &uploaded, &mod, &f, local, remote);

    /* Remote objects of a dead session free locally only; a live one gets its own time. */
    if (d->session != NULL)
        tt_rpc_set_timeout(d->session, d->opts.connect_timeout_s);
    for (int i = 0; i < req->n_args; i++) {
        if (remote[i] != NULL)
            tt_object_release(remote[i]);
        tt_array_free(local[i]);
    }
    tt_func_free(f);
    tt_mod_free(mod);
    if (uploaded && d->session != NULL && d->sessions == generation)
        remove_upload(d, remote_name);
    out->elapsed_s = tt_proc_now() - start;
    return 0;
}
