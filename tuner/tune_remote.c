/* Remote measurement in the tuning loop (docs/ARCHITECTURE.md "Tuning over RPC"): the devices
 * named by --rpc, the target they give, and a batch measured on all of them at once, one
 * candidate at a time per device, while the tuning thread logs the results in trial order.
 *
 * A device is connected before it takes a candidate, so one that is down costs no record: it
 * rests (5 s, doubled while it stays down, up to 2 min) while the others measure, and is tried
 * again after its rest. One that dies during a candidate costs that candidate's error record.
 * When every device is down the run waits for one, up to TT_TUNE_DEVICE_WAIT_S, then stops with
 * an error (the log is complete: --resume continues it). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tt/cost.h"
#include "tuner/tune_state.h"

/* The first rest of a lost device and the longest one, in seconds. */
#define REST_FIRST_S 5.0
#define REST_MAX_S 120.0
/* How long a run waits with every device down before it gives up, in seconds. */
#define TT_TUNE_DEVICE_WAIT_S 600.0

struct tt_tune_device {
    tt_rpc_device *d;
    double rest_until; /* tt_tune_now() before which it gets no candidate; 0: healthy */
    double rest_s;     /* the next rest */
};

static void rest(tuner *t, tt_tune_device *dv, const char *why)
{
    dv->rest_until = tt_tune_now() + dv->rest_s;
    dv->rest_s = fmin(2 * dv->rest_s, REST_MAX_S);
    snprintf(t->dev_lost_msg, sizeof t->dev_lost_msg, "%.1000s", why);
}

static void healthy(tuner *t, tt_tune_device *dv)
{
    dv->rest_until = 0;
    dv->rest_s = REST_FIRST_S;
    t->dev_all_lost_since = 0;
}

/* ---- opening the devices and choosing the target ---- */

/* -1 (TT_ERR_INVALID_ARGUMENT) when the connected device dv runs code of another architecture than
 * the target. */
static int check_arch(const tuner *t, const tt_tune_device *dv)
{
    char want[160], got[128];
    snprintf(want, sizeof want, "llvm -mtriple=%s", tt_rpc_device_triple(dv->d));
    tt_target *dt = NULL;
    if (tt_target_parse(want, &dt) != 0)
        return tt_error_wrapc(TT_ERR_INVALID_ARGUMENT, "device %s", tt_rpc_device_name(dv->d));
    snprintf(got, sizeof got, "%s", tt_target_triple(dt));
    tt_target_free(dt);
    if (strcmp(got, tt_target_triple(t->target)) != 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "device %s runs %s code, but the target is \"%s\" (give --rpc "
                             "devices of one architecture, and a --target for it)",
                             tt_rpc_device_name(dv->d), got, tt_target_str(t->target));
    return 0;
}

int tt_tune_remote_open(tuner *t)
{
    const tt_tune_opts *o = t->o;
    t->dev = calloc((size_t)o->nrpc, sizeof *t->dev);
    if (!t->dev)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    /* One connection try per call: the rests below pace a device that is down, so that a
     * measuring thread never sits in a backoff while its batch waits for it. */
    tt_rpc_device_opts dopts = {.max_tries = 1};
    for (int i = 0; i < o->nrpc; i++) {
        tt_tune_device *dv = &t->dev[i];
        if (tt_rpc_device_new(o->rpc[i], o->rpc_key_files[i], &dopts, &dv->d) != 0)
            return tt_error_wrapc(TT_ERR_INVALID_ARGUMENT, "--rpc %s", o->rpc[i]);
        t->ndev++;
        dv->rest_s = REST_FIRST_S;
    }
    /* Every device is asked for its description now: the target comes from the first one that
     * answers, and a device of another architecture is the user's mistake, found before anything
     * is written. One that does not answer rests; the run goes on with the others. */
    int reachable = 0;
    char why[1024] = "";
    for (int i = 0; i < t->ndev; i++) {
        tt_tune_device *dv = &t->dev[i];
        if (tt_rpc_device_connect(dv->d) != 0) {
            snprintf(why, sizeof why, "%s", tt_get_last_error());
            if (!o->quiet)
                tt_tune_say(t, "tvm-tune: warning: %s; measuring on the other devices\n", why);
            rest(t, dv, why);
            continue;
        }
        reachable++;
        if (!t->target) {
            const char *ts = o->target ? o->target : tt_rpc_device_target(dv->d);
            if (tt_target_parse(ts, &t->target) != 0)
                return tt_error_wrap("target of device %s", tt_rpc_device_name(dv->d));
        }
        if (check_arch(t, dv) != 0)
            return -1;
    }
    if (reachable == 0)
        return tt_error_setc(TT_ERR_IO, "no --rpc device answered: %s", why);
    /* The reference output is computed here, on the host's own target. */
    if (tt_target_parse("llvm", &t->host_target) != 0)
        return tt_error_wrap("host target");
    if (!o->quiet) {
        for (int i = 0; i < t->ndev; i++)
            if (t->dev[i].rest_until == 0)
                tt_tune_say(t,
                            "tvm-tune: measuring on %s (timings under an emulator such as "
                            "qemu are functional only)\n",
                            tt_rpc_device_name(t->dev[i].d));
    }
    return 0;
}

int tt_tune_remote_cores(const tuner *t)
{
    for (int i = 0; i < t->ndev; i++)
        if (tt_rpc_device_cores(t->dev[i].d) > 0)
            return tt_rpc_device_cores(t->dev[i].d);
    return 1;
}

void tt_tune_remote_close(tuner *t)
{
    for (int i = 0; i < t->ndev; i++)
        tt_rpc_device_free(t->dev[i].d);
    free(t->dev);
    t->dev = NULL;
    t->ndev = 0;
    tt_target_free(t->host_target);
    t->host_target = NULL;
}

/* ---- one run ---- */

static bool lost(const tt_run_result *rr)
{
    return rr->error == TT_OUTCOME_DEVICE_ERROR;
}

/* After a run on dv: a lost device rests, a healthy one is healthy again. */
static void note_health(tuner *t, tt_tune_device *dv, const tt_run_result *rr)
{
    if (lost(rr))
        rest(t, dv, rr->error_msg);
    else
        healthy(t, dv);
}

static bool resting(const tt_tune_device *dv, double now)
{
    return dv->rest_until != 0 && now < dv->rest_until;
}

/* Returns once a device is not resting (or the run is stopped); -1 when every device has been
 * down for TT_TUNE_DEVICE_WAIT_S. */
static int wait_for_a_device(tuner *t)
{
    bool said = false;
    for (;;) {
        double now = tt_tune_now(), first = INFINITY;
        for (int i = 0; i < t->ndev; i++) {
            if (!resting(&t->dev[i], now))
                return 0;
            first = fmin(first, t->dev[i].rest_until);
        }
        if (tt_tune_stopped(t))
            return 0;
        if (t->dev_all_lost_since == 0)
            t->dev_all_lost_since = now;
        if (now - t->dev_all_lost_since > TT_TUNE_DEVICE_WAIT_S)
            return tt_error_setc(TT_ERR_IO,
                                 "every --rpc device has been down for %.0f s (last: %s); the log "
                                 "is complete: continue with --resume once a device is back",
                                 TT_TUNE_DEVICE_WAIT_S, t->dev_lost_msg);
        if (!said && !t->o->quiet)
            tt_tune_say(t, "tvm-tune: every device is down (%s); waiting for one\n",
                        t->dev_lost_msg);
        said = true;
        double s = fmin(first - now, 0.5);
        struct timespec ts = {0, (long)(fmax(s, 0.01) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* The device for a run on its own (the re-measurement at the end of a task): the first that is
 * not resting, so the top candidates are compared on one device while it is healthy; when all
 * rest, the one whose rest ends first. */
static tt_tune_device *pick_device(tuner *t)
{
    tt_tune_device *best = &t->dev[0];
    for (int i = 0; i < t->ndev; i++) {
        if (t->dev[i].rest_until == 0)
            return &t->dev[i];
        if (t->dev[i].rest_until < best->rest_until)
            best = &t->dev[i];
    }
    return best;
}

int tt_tune_remote_run(tuner *t, const tt_run_request *req, tt_run_result *rr, const char **device)
{
    if (wait_for_a_device(t) != 0)
        return -1;
    tt_tune_device *dv = pick_device(t);
    if (tt_runner_rpc_run(dv->d, req, rr) != 0)
        return -1;
    note_health(t, dv, rr);
    *device = tt_rpc_device_name(dv->d);
    return 0;
}

/* ---- a batch on every device at once ---- */

typedef struct {
    tuner *t;
    const tt_run_request *req; /* one per candidate; lib_path NULL: nothing to run */
    tt_run_result *rr;
    const char **device; /* the device that ran each one */
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next;    /* the next candidate to hand out */
    bool *done;  /* done[i]: rr[i] and device[i] are final */
    bool cancel; /* take no new candidate */
    int running; /* devices still taking candidates */
    int failed;  /* a worker's call failed (invalid request): the batch stops */
    char failure[1024];
} batch;

typedef struct {
    batch *b;
    tt_tune_device *dv;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    batch *b = w->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->next < b->n && !b->req[b->next].lib_path)
            b->next++; /* invalid or not built: nothing to measure */
        if (b->cancel || b->next >= b->n)
            break;
        if (!tt_rpc_device_connected(w->dv->d)) {
            /* Down devices cost no candidate: the others take them. */
            pthread_mutex_unlock(&b->mu);
            int down = tt_rpc_device_connect(w->dv->d);
            /* A device that was down at the start has its architecture checked here; one of
             * another architecture is out for the rest of the run. */
            int foreign = !down && check_arch(b->t, w->dv) != 0;
            char why[TT_MEASURE_MSG_LEN];
            snprintf(why, sizeof why, "%s", down || foreign ? tt_get_last_error() : "");
            pthread_mutex_lock(&b->mu);
            if (down || foreign) {
                rest(b->t, w->dv, why);
                if (foreign)
                    w->dv->rest_until = INFINITY;
                break;
            }
            healthy(b->t, w->dv);
            continue;
        }
        int i = b->next++;
        pthread_mutex_unlock(&b->mu);
        tt_run_result rr;
        int rc = tt_runner_rpc_run(w->dv->d, &b->req[i], &rr);
        pthread_mutex_lock(&b->mu);
        if (rc != 0) {
            if (!b->failed)
                snprintf(b->failure, sizeof b->failure, "%s", tt_get_last_error());
            b->failed = 1;
            b->cancel = true;
        } else {
            b->rr[i] = rr;
            note_health(b->t, w->dv, &rr);
        }
        b->device[i] = tt_rpc_device_name(w->dv->d);
        b->done[i] = true;
        pthread_cond_broadcast(&b->cv);
    }
    b->running--;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int tt_tune_remote_batch(tuner *t, const tt_run_request *reqs, int n, tt_tune_consume_fn consume,
                         void *ctx, int *consumed)
{
    *consumed = 0;
    if (wait_for_a_device(t) != 0)
        return -1;
    batch b = {.t = t, .req = reqs, .n = n};
    size_t cap = (size_t)(n > 0 ? n : 1);
    b.rr = calloc(cap, sizeof *b.rr);
    b.device = calloc(cap, sizeof *b.device);
    b.done = calloc(cap, sizeof *b.done);
    worker *w = calloc((size_t)t->ndev, sizeof *w);
    pthread_t *th = calloc((size_t)t->ndev, sizeof *th);
    bool *joinable = calloc((size_t)t->ndev, sizeof *joinable);
    int rc = 0;
    if (!b.rr || !b.device || !b.done || !w || !th || !joinable) {
        rc = tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    /* A resting device sits the batch out. */
    pthread_mutex_lock(&b.mu);
    double now = tt_tune_now();
    for (int d = 0; d < t->ndev; d++) {
        w[d] = (worker){.b = &b, .dv = &t->dev[d]};
        if (resting(&t->dev[d], now))
            continue;
        joinable[d] = pthread_create(&th[d], NULL, work, &w[d]) == 0;
        b.running += joinable[d];
    }
    if (b.running == 0 && !tt_tune_stopped(t))
        rc = tt_error_setc(TT_ERR_UNKNOWN, "cannot start a thread to measure on the devices");
    for (int i = 0; rc == 0 && i < n; i++) {
        const tt_run_result *rr = NULL;
        const char *device = NULL;
        if (reqs[i].lib_path) {
            while (!b.done[i] && !b.failed && b.running > 0)
                pthread_cond_wait(&b.cv, &b.mu);
            if (b.failed) {
                rc = tt_error_set("%s", b.failure);
                break;
            }
            if (!b.done[i])
                break; /* every device is down: the rest of the batch goes back */
            rr = &b.rr[i];
            device = b.device[i];
        }
        pthread_mutex_unlock(&b.mu);
        int stop = consume(i, rr, device, ctx);
        pthread_mutex_lock(&b.mu);
        if (stop != 0) {
            rc = stop < 0 ? -1 : 0;
            break;
        }
        (*consumed)++;
    }
    /* Candidates in flight finish (a run has its time limit); their results are dropped. */
    b.cancel = true;
    while (b.running > 0)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    for (int d = 0; d < t->ndev; d++)
        if (joinable[d])
            pthread_join(th[d], NULL);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
out:
    free(b.rr);
    free(b.device);
    free(b.done);
    free(w);
    free(th);
    free(joinable);
    return rc;
}
