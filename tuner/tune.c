/* The tuning loop (docs/ARCHITECTURE.md "Measurement"): tasks take turns (the gradient scheduler,
 * or round robin by weight); each turn the task's strategy proposes a batch, the batch is lowered,
 * built in parallel worker processes and then run one candidate at a time, and every candidate
 * becomes a log record before the next starts. Top of the data flow: op.json -> search -> lower ->
 * codegen -> measure -> logs. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cost_model/model.h"
#include "ir/lower.h"
#include "logs/db.h"
#include "measure/measure.h"
#include "search/search.h"
#include "tt/backend.h"
#include "tt/cost.h"
#include "tt/tune.h"
#include "tuner/task_scheduler.h"
#include "tuner/tune_internal.h"
#include "tuner/tune_state.h"

void tt_tune_opts_default(tt_tune_opts *o)
{
    memset(o, 0, sizeof *o);
    o->trials = 0;
    o->tuner = "xgb";
    o->seed = 1;
    o->max_errors_in_row = 20;
    o->remeasure_top = 3;
}

double tt_tune_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int tt_tune_stopped(const tuner *t)
{
    return t->o->stop && *t->o->stop;
}

/* ---- one task's preparation: kernel arguments, space, strategy, reference ---- */

static int fill_arg(const tt_tensor *x, tt_measure_tensor *a)
{
    if (x->ndim > TT_MEASURE_MAX_DIM)
        return tt_error_set("tensor %s has %d dimensions, at most %d are supported", x->name,
                            x->ndim, TT_MEASURE_MAX_DIM);
    a->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++)
        a->shape[d] = x->shape[d];
    a->dtype = x->dtype;
    return 0;
}

static int task_args(task_state *ts)
{
    const tt_compute *c = ts->task->compute;
    ts->nargs = c->ninputs + 1;
    ts->args = calloc((size_t)ts->nargs, sizeof *ts->args);
    if (!ts->args)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < c->ninputs; i++)
        if (fill_arg(c->inputs[i], &ts->args[i]) != 0)
            return -1;
    return fill_arg(tt_compute_output(c), &ts->args[c->ninputs]);
}

/* The reference output: the unscheduled nest built and run once, on the inputs every candidate
 * gets. */
static int task_reference(tuner *t, task_state *ts, char *why, size_t whylen)
{
    const tt_tensor *out = tt_compute_output(ts->task->compute);
    ts->ref_nbytes = (size_t)tt_tensor_numel(out) * ((out->dtype.bits + 7u) / 8u);
    ts->ref = malloc(ts->ref_nbytes ? ts->ref_nbytes : 1);
    if (!ts->ref)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte reference",
                             ts->ref_nbytes);
    tt_kernel *k = NULL;
    if (tt_lower(ts->task->compute, NULL, ts->task->name, &k) != 0) {
        snprintf(why, whylen, "cannot lower the unscheduled nest: %.1000s", tt_get_last_error());
        return 1;
    }
    /* With devices, the reference runs here: built for this host. */
    tt_tune_build_item item = {.kernel = k, .target = t->host_target ? t->host_target : t->target};
    tt_build_job job = {.build = tt_tune_build, .ctx = &item};
    tt_build_result br;
    /* The unscheduled nest is slow by nature: give it more than a candidate gets. */
    double limit = fmax(t->timeout_s, 120);
    int rc = tt_builder_run(&job, 1, 1, limit, &br);
    tt_kernel_release(k);
    if (rc != 0)
        return -1;
    if (br.error != TT_OUTCOME_OK) {
        snprintf(why, whylen, "cannot build the reference: %.1000s", br.error_msg);
        tt_builder_cleanup(&br, 1);
        return 1;
    }
    tt_run_request req = {.lib_path = br.path,
                          .func_name = ts->task->name,
                          .args = ts->args,
                          .n_args = ts->nargs,
                          .seed = t->o->seed,
                          .timeout_s = limit,
                          .num_threads = t->ndev ? 0 : t->threads};
    tt_timing_opts_default(&req.timing);
    tt_run_result rr;
    rc = tt_runner_local_reference(&req, ts->ref, ts->ref_nbytes, &rr);
    tt_builder_cleanup(&br, 1);
    if (rc != 0)
        return -1;
    if (rr.error != TT_OUTCOME_OK) {
        snprintf(why, whylen, "cannot compute the reference output: %.1000s", rr.error_msg);
        return 1;
    }
    return 0;
}

/* Tells the strategy what the resumed log measured already. */
static int task_replay(task_state *ts)
{
    for (size_t i = 0; i < ts->hist.n; i++) {
        const tt_tune_past *p = &ts->hist.past[i];
        tt_schedule *s = NULL;
        if (tt_schedule_from_json(p->steps, &s) != 0)
            return -1;
        int rc = tt_strategy_seen(ts->strategy, s, p->cost);
        tt_schedule_free(s);
        if (rc != 0)
            return tt_error_wrap("search: replaying trial %lld", (long long)p->trial);
    }
    return 0;
}

/* Prepares ts the first time it gets a turn. Returns -1 on a system error; a task that cannot be
 * tuned (no space, no reference) is ended with a diagnosis instead. */
static int task_start(tuner *t, task_state *ts, int index)
{
    ts->started = true;
    char why[TT_MEASURE_MSG_LEN + 128] = "";
    if (task_args(ts) != 0) {
        snprintf(why, sizeof why, "%s", tt_get_last_error());
        goto cannot;
    }
    tt_space_opts so = {.vector_bits = tt_target_vector_bits(t->target),
                        .num_threads = t->threads,
                        .vector_regs = tt_target_vector_regs(t->target)};
    if (tt_space_new(ts->task->compute, &so, &ts->space) != 0) {
        snprintf(why, sizeof why, "no search space: %s", tt_get_last_error());
        goto cannot;
    }
    uint64_t seed = t->o->seed + 0x9e3779b97f4a7c15ull * (uint64_t)index;
    if (tt_strategy_new(t->o->tuner, ts->space, seed ? seed : 1, &ts->strategy) != 0)
        return tt_error_wrap("search");
    if (t->o->model_in && tt_strategy_load_model(ts->strategy, t->o->model_in) != 0)
        return tt_error_wrap("--model-in");
    if (t->transfer.nrows > 0 && tt_strategy_transfer(ts->strategy, &t->transfer) != 0)
        return tt_error_wrap("--transfer");
    if (task_replay(ts) != 0)
        return -1;
    if (t->file->measure.check) {
        int rc = task_reference(t, ts, why, sizeof why);
        if (rc < 0)
            return -1;
        if (rc > 0)
            goto cannot;
    }
    return 0;
cannot:
    ts->active = false;
    ts->end = TT_TUNE_TASK_TOO_MANY_ERRORS;
    free(ts->diagnosis);
    ts->diagnosis = strdup(why);
    tt_tune_say(t, "tvm-tune: task %s: %s\n", ts->task->name, why);
    return 0;
}

static void task_clear(task_state *ts)
{
    tt_strategy_free(ts->strategy);
    tt_space_free(ts->space);
    free(ts->args);
    free(ts->ref);
    tt_tune_history_free(&ts->hist, 1);
    free(ts->best_steps);
    for (int i = 0; i < ts->ntop; i++)
        free(ts->top[i].steps);
    free(ts->diagnosis);
    free(ts->curve);
    tt_tune_tally_reset(ts);
}

/* ---- one batch ---- */

typedef struct {
    int64_t trial;
    char *steps;
    char *invalid; /* lowering's message when the schedule does not apply */
    int build;     /* index among the built ones; -1 when invalid */
} candidate;

static void free_candidates(candidate *c, int n, tt_tune_build_item *items, int nb)
{
    for (int i = 0; c && i < n; i++) {
        free(c[i].steps);
        free(c[i].invalid);
    }
    for (int i = 0; items && i < nb; i++)
        tt_kernel_release(items[i].kernel);
    free(c);
    free(items);
}

/* Lowers the batch, with the injected faults of its trials. */
static int lower_batch(tuner *t, task_state *ts, tt_schedule **s, int n, candidate *c,
                       tt_tune_build_item *items, int *nb)
{
    for (int i = 0; i < n; i++) {
        c[i].trial = t->next_trial++;
        c[i].build = -1;
        c[i].steps = tt_schedule_to_json(s[i]);
        if (!c[i].steps)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        tt_kernel *k = NULL;
        if (tt_lower(ts->task->compute, s[i], ts->task->name, &k) != 0) {
            c[i].invalid = strdup(tt_get_last_error());
            if (!c[i].invalid)
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            continue;
        }
        int faults = tt_tune_faults_for(&t->faults, c[i].trial);
        tt_kernel *fk = NULL;
        int rc = tt_tune_inject(k, faults, &fk);
        tt_kernel_release(k);
        if (rc != 0)
            return -1;
        items[*nb] = (tt_tune_build_item){.kernel = fk, .target = t->target, .faults = faults};
        c[i].build = (*nb)++;
    }
    return 0;
}

/* Candidate i's outcome without a run: invalid, or its build failed; 1 when it has a library to
 * run. */
static int unrun_outcome(const candidate *c, const tt_build_result *br, tt_tune_outcome *oc)
{
    *oc = (tt_tune_outcome){.trial = c->trial, .steps = c->steps};
    if (c->invalid) {
        oc->error = TT_OUTCOME_INVALID_SCHEDULE;
        oc->msg = c->invalid;
        return 0;
    }
    oc->build_s = br[c->build].build_s;
    if (br[c->build].error != TT_OUTCOME_OK) {
        oc->error = br[c->build].error;
        oc->msg = br[c->build].error_msg;
        return 0;
    }
    return 1;
}

static void take_run(tt_tune_outcome *oc, const tt_run_result *rr, const char *device)
{
    oc->error = rr->error;
    oc->msg = rr->error_msg;
    oc->costs = rr->timing.costs;
    oc->n_costs = rr->error == TT_OUTCOME_OK ? rr->timing.n_costs : 0;
    oc->device = device;
}

/* The record of a candidate and the bookkeeping after it. */
static int finish_candidate(tuner *t, task_state *ts, const tt_tune_outcome *oc, double *cost)
{
    double t0 = tt_tune_now();
    int rc = tt_tune_log(t, ts, oc);
    t->record_s += tt_tune_now() - t0;
    if (rc != 0)
        return -1;
    *cost = oc->error == 0 ? tt_cost_median(oc->costs, (size_t)oc->n_costs) : INFINITY;
    tt_tune_after_candidate(t, ts, oc);
    return 0;
}

/* A running mean that follows the last dozen values. */
static double recent(double mean, double x)
{
    return mean > 0 ? 0.85 * mean + 0.15 * x : x;
}

/* Whether a batch of n builds beside its measurements (plan_overlap): when that is expected to
 * end sooner than building it first on every CPU. Builds slower than measurements (big unrolled
 * conv tiles against fast kernels) are better done first, in parallel on all CPUs, than one at a
 * time on the CPU a kernel leaves free. The first batch is built first, and times both. */
static bool beside(const tuner *t, int n)
{
    if (!t->overlap || !(t->avg_build_s > 0) || !(t->avg_run_s > 0))
        return false;
    double first = n * t->avg_build_s / t->jobs + n * t->avg_run_s;
    double along = t->avg_build_s + fmax(n * t->avg_build_s / t->overlap_jobs, n * t->avg_run_s);
    return along < first;
}

/* Measures the batch's candidates one by one; *measured = how many got a record. bb: the batch
 * is still building beside the measurements (each candidate waits for its own build), else
 * NULL. */
static int run_batch(tuner *t, task_state *ts, candidate *c, int n, tt_build_result *br,
                     tt_build_batch *bb, double *costs, int *measured)
{
    *measured = 0;
    for (int i = 0; i < n && ts->active; i++) {
        if (tt_tune_stopped(t))
            break;
        if (bb && c[i].build >= 0) {
            double t0 = tt_tune_now();
            int rc = tt_builder_await(bb, c[i].build);
            t->build_s += tt_tune_now() - t0;
            if (rc != 0)
                return -1;
        }
        tt_tune_outcome oc;
        tt_run_result rr;
        const char *device = NULL;
        if (unrun_outcome(&c[i], br, &oc)) {
            if (tt_tune_run_one(t, ts, br[c[i].build].path, true, &rr, &device) != 0)
                return -1;
            t->avg_run_s = recent(t->avg_run_s, rr.elapsed_s);
            take_run(&oc, &rr, device);
        }
        if (finish_candidate(t, ts, &oc, &costs[i]) != 0)
            return -1;
        (*measured)++;
    }
    return 0;
}

typedef struct {
    tuner *t;
    task_state *ts;
    candidate *c;
    tt_build_result *br;
    double *costs;
} remote_batch;

static int consume_remote(int i, const tt_run_result *rr, const char *device, void *ctx)
{
    remote_batch *rb = ctx;
    if (!rb->ts->active || tt_tune_stopped(rb->t))
        return 1;
    tt_tune_outcome oc;
    if (unrun_outcome(&rb->c[i], rb->br, &oc)) {
        take_run(&oc, rr, device);
        tt_tune_count_timed(rb->t, rr);
    }
    return finish_candidate(rb->t, rb->ts, &oc, &rb->costs[i]);
}

/* The batch on the --rpc devices, all at once; records still go out in trial order. */
static int run_batch_remote(tuner *t, task_state *ts, candidate *c, int n, tt_build_result *br,
                            double *costs, int *measured)
{
    tt_run_request *reqs = calloc(n > 0 ? (size_t)n : 1, sizeof *reqs);
    if (!reqs)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) {
        tt_tune_outcome oc;
        if (unrun_outcome(&c[i], br, &oc))
            tt_tune_request(t, ts, br[c[i].build].path, true, &reqs[i]);
    }
    remote_batch rb = {.t = t, .ts = ts, .c = c, .br = br, .costs = costs};
    int rc = tt_tune_remote_batch(t, reqs, n, consume_remote, &rb, measured);
    free(reqs);
    return rc;
}

static int tune_batch(tuner *t, task_state *ts, int count)
{
    tt_schedule **s = NULL;
    int n = 0;
    double t0 = tt_tune_now();
    int next = tt_strategy_next(ts->strategy, count, &s, &n);
    t->search_s += tt_tune_now() - t0;
    if (next != 0)
        return tt_error_wrap("search: task %s", ts->task->name);
    if (n == 0) {
        free(s);
        ts->active = false;
        ts->end = TT_TUNE_TASK_EXHAUSTED;
        return 0;
    }
    candidate *c = calloc((size_t)n, sizeof *c);
    tt_tune_build_item *items = calloc((size_t)n, sizeof *items);
    tt_build_job *jobs = calloc((size_t)n, sizeof *jobs);
    tt_build_result *br = calloc((size_t)n, sizeof *br);
    double *costs = calloc((size_t)n, sizeof *costs);
    int nb = 0, measured = 0, rc = -1;
    if (!c || !items || !jobs || !br || !costs) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    t0 = tt_tune_now();
    if (lower_batch(t, ts, s, n, c, items, &nb) != 0)
        goto done;
    double t1 = tt_tune_now();
    t->lower_s += t1 - t0;
    for (int i = 0; i < nb; i++)
        jobs[i] = (tt_build_job){.build = tt_tune_build, .ctx = items};
    tt_build_batch *bb = NULL;
    if (nb > 0 && (beside(t, nb) ? tt_builder_begin(jobs, nb, t->overlap_jobs, t->timeout_s,
                                                    t->build_cpus, t->nbuild_cpus, br, &bb)
                                 : tt_builder_run(jobs, nb, t->jobs, t->timeout_s, br)) != 0)
        goto done;
    double t2 = tt_tune_now(), record_before = t->record_s, build_before = t->build_s;
    t->build_s += t2 - t1;
    rc = t->ndev ? run_batch_remote(t, ts, c, n, br, costs, &measured)
                 : run_batch(t, ts, c, n, br, bb, costs, &measured);
    /* What was not measured (a stop rule, an interruption) is not waited for. */
    if (tt_builder_end(bb, measured < n) != 0)
        rc = -1;
    t->measure_s += tt_tune_now() - t2 - (t->record_s - record_before) -
                    (t->build_s - build_before - (t2 - t1));
    /* Candidates left unmeasured (a stop rule, an interruption) give their numbers back, so the
     * trial numbers of a log have no gaps. */
    t->next_trial = c[0].trial + measured;
    for (int i = 0; i < nb; i++)
        if (br[i].build_s > 0)
            t->avg_build_s = recent(t->avg_build_s, br[i].build_s);
    tt_builder_cleanup(br, nb);
    t0 = tt_tune_now();
    if (rc == 0 && measured > 0 && tt_strategy_update(ts->strategy, s, costs, measured) != 0)
        rc = tt_error_wrap("search: task %s", ts->task->name);
    t->search_s += tt_tune_now() - t0;
done:
    free_candidates(c, n, items, nb);
    free(jobs);
    free(br);
    free(costs);
    for (int i = 0; i < n; i++)
        tt_schedule_free(s[i]);
    free(s);
    return rc;
}

/* ---- the run ---- */

static int check_log(const tt_tune_opts *o)
{
    struct stat st;
    if (stat(o->log_path, &st) != 0)
        return 0;
    if (!S_ISREG(st.st_mode))
        return tt_error_set("log '%s' is not a regular file", o->log_path);
    if (st.st_size > 0 && !o->resume)
        return tt_error_set("log '%s' exists: pass --resume to continue it or choose another "
                            "--log",
                            o->log_path);
    return 0;
}

typedef struct {
    tuner *t;
    size_t added;
} sync_ctx;

static int sync_one(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    sync_ctx *sc = ctx;
    if (strcmp(r->target, sc->t->target_str) != 0)
        return 0;
    for (int i = 0; i < sc->t->nt; i++) {
        if (strcmp(r->key, sc->t->file->tasks[i].key) == 0) {
            int added = 0;
            if (tt_db_add_record(sc->t->db, r, 0, &added) != 0)
                return -1;
            sc->added += (size_t)added;
            return 0;
        }
    }
    return 0;
}

/* A resumed run's database gets the records of the log it lacks: a tuner killed between the
 * log's append and the database's insert leaves one behind. Records already there are skipped. */
static int sync_db(tuner *t)
{
    struct stat st;
    if (stat(t->o->log_path, &st) != 0 || st.st_size == 0)
        return 0;
    sync_ctx sc = {.t = t};
    if (tt_log_read(t->o->log_path, TT_LOG_STRICT, sync_one, &sc, NULL) != 0)
        return tt_error_wrap("--db %s: adding the log's records", t->o->db_path);
    if (sc.added > 0 && !t->o->quiet)
        tt_tune_say(t, "tvm-tune: database %s: added %zu record%s of the log it lacked\n",
                    t->o->db_path, sc.added, sc.added == 1 ? "" : "s");
    return 0;
}

int tt_tune_opts_check(const tt_tune_opts *o)
{
    static const char *const tuners[] = {"xgb", "ga", "random", "grid"};
    int known = 0;
    for (size_t i = 0; o->tuner && i < sizeof tuners / sizeof *tuners; i++)
        known |= strcmp(o->tuner, tuners[i]) == 0;
    const tt_error_category bad = TT_ERR_INVALID_ARGUMENT;
    if (o->trials < 1)
        return tt_error_setc(bad, "--trials %lld: expected an integer >= 1", (long long)o->trials);
    if (!o->log_path || !*o->log_path)
        return tt_error_setc(bad, "--log: no log path");
    if (!known)
        return tt_error_setc(bad, "--tuner %s: expected xgb, ga, random or grid",
                             o->tuner ? o->tuner : "(none)");
    if (o->task_scheduler && strcmp(o->task_scheduler, "gradient") &&
        strcmp(o->task_scheduler, "round-robin"))
        return tt_error_setc(bad, "--task-scheduler %s: expected gradient or round-robin",
                             o->task_scheduler);
    if ((o->model_in || o->ntransfer > 0) && strcmp(o->tuner, "xgb") != 0)
        return tt_error_setc(bad, "%s needs the xgb tuner (--tuner xgb), not %s",
                             o->model_in ? "--model-in" : "--transfer", o->tuner);
    if (o->jobs < 0 || o->jobs > TT_TUNE_MAX_JOBS)
        return tt_error_setc(bad, "--jobs %d: expected an integer from 1 to %d (0: one per CPU)",
                             o->jobs, TT_TUNE_MAX_JOBS);
    if (o->early_stopping < 0)
        return tt_error_setc(bad, "--early-stopping %lld: expected an integer >= 1 (0: off)",
                             (long long)o->early_stopping);
    if (o->nrpc < 0 || (o->nrpc > 0 && (!o->rpc || !o->rpc_key_files)))
        return tt_error_setc(bad, "--rpc: %d devices but no %s", o->nrpc,
                             o->rpc ? "key files" : "addresses");
    for (int i = 0; i < o->nrpc; i++) {
        if (!o->rpc[i] || !*o->rpc[i])
            return tt_error_setc(bad,
                                 "--rpc: an empty address (expected HOST:PORT[,HOST:PORT...])");
        if (!o->rpc_key_files[i] || !*o->rpc_key_files[i])
            return tt_error_setc(bad,
                                 "--rpc %s needs --rpc-key-file F (the device's key, written "
                                 "by `tvm-tune rpc keygen`)",
                                 o->rpc[i]);
    }
    if (!(o->timeout_s >= 0 && o->timeout_s <= TT_TUNE_MAX_TIMEOUT_S))
        return tt_error_setc(bad, "--timeout %g: expected seconds > 0 and <= %g", o->timeout_s,
                             TT_TUNE_MAX_TIMEOUT_S);
    return 0;
}

/* Setup, phase 1: the files the user named besides the log (model, transfer logs), the fault
 * spec and the target, read before anything is written. */
static int read_inputs(tuner *t)
{
    const tt_tune_opts *o = t->o;
    if (o->model_in) {
        /* read it now: a bad file is the user's error, found before anything is written */
        tt_model *m = NULL;
        int mrc = tt_model_new(NULL, &m);
        if (mrc == 0)
            mrc = tt_model_load(m, o->model_in);
        tt_model_free(m);
        if (mrc != 0)
            return tt_error_wrap("--model-in");
    }
    for (int i = 0; i < o->ntransfer; i++) {
        tt_dataset_log_stats ls;
        if (tt_dataset_add_log(&t->transfer, o->transfer[i], 0, SIZE_MAX, &ls) != 0)
            return tt_error_wrap("--transfer");
        if (!o->quiet)
            tt_tune_say(t, "tvm-tune: transfer: %s: %zu rows from %zu records (%zu unusable)\n",
                        o->transfer[i], ls.rows, ls.records, ls.unusable);
    }
    if (tt_tune_faults_parse(o->faults, &t->faults) != 0)
        return -1;
    if (o->nrpc > 0) {
        if (tt_tune_remote_open(t) != 0)
            return -1;
    } else {
        const char *ts = o->target ? o->target : t->file->target;
        if (tt_target_parse(ts, &t->target) != 0)
            return tt_error_wrap("target");
        if (!tt_target_is_host(t->target))
            return tt_error_setc(TT_ERR_UNSUPPORTED,
                                 "target '%s' does not run on this machine: measure on a device "
                                 "of it with --rpc HOST:PORT --rpc-key-file F",
                                 tt_target_str(t->target));
    }
    t->target_str = tt_target_str(t->target);
    return check_log(o);
}

/* Setup, phase 2: one state per task, with what a resumed log measured already. */
static int make_tasks(tuner *t, tt_tune_result *out)
{
    const tt_tune_opts *o = t->o;
    t->nt = t->file->ntasks;
    t->ts = calloc((size_t)t->nt, sizeof *t->ts);
    out->tasks = calloc((size_t)t->nt, sizeof *out->tasks);
    tt_tune_history *hist = calloc((size_t)t->nt, sizeof *hist);
    if (!t->ts || !out->tasks || !hist) {
        free(hist);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    out->ntasks = t->nt;
    for (int i = 0; i < t->nt; i++)
        hist[i].key = t->file->tasks[i].key;
    tt_log_stats stats;
    int rc = o->resume ? tt_tune_history_read(o->log_path, t->target_str, hist, t->nt,
                                              &t->next_trial, &stats)
                       : 0;
    if (o->resume) {
        if (stats.warnings)
            tt_tune_say(t, "%s", stats.warnings);
        tt_log_stats_free(&stats);
    }
    for (int i = 0; i < t->nt; i++) {
        task_state *s = &t->ts[i];
        s->task = &t->file->tasks[i];
        s->hist = hist[i];
        s->active = true;
        s->end = TT_TUNE_TASK_NOT_STARTED;
        s->best_cost = INFINITY;
        s->best_trial = -1;
        s->done = (int64_t)s->hist.n;
        t->done_total += s->done;
        for (size_t j = 0; j < s->hist.n; j++) {
            const tt_tune_past *p = &s->hist.past[j];
            tt_tune_note_result(s, p->trial, p->steps, p->error, p->cost);
        }
        s->since_improvement = 0;
    }
    free(hist);
    return rc;
}

/* Setup, phase 3: the database (given the log's records it lacks on --resume) and the log. */
static int open_outputs(tuner *t)
{
    const tt_tune_opts *o = t->o;
    if (o->db_path) {
        if (tt_db_open(o->db_path, &t->db) != 0)
            return tt_error_wrap("--db %s", o->db_path);
        if (o->resume && sync_db(t) != 0)
            return -1;
    }
    return tt_log_open_append(o->log_path, &t->log);
}

/* Whether CPU cpu shares its core with another CPU (SMT), from sysfs; true when unknown. */
static bool shares_core(int cpu)
{
    char path[96], list[64] = "";
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    bool ok = fgets(list, sizeof list, f) != NULL;
    fclose(f);
    return !ok || strpbrk(list, ",-") != NULL;
}

/* Builds beside measurements where a core is free: when the kernels run on fewer threads than
 * the CPUs this process may use (each a core of its own), the measuring thread is pinned to the
 * first of them (the runtime binds a kernel's other threads to the next cores) and the builds of
 * a batch run on the rest while its candidates are measured one by one, each waiting only for
 * its own build. Otherwise (a kernel on every core, SMT, RPC devices) builds and measurements
 * alternate, so that no build disturbs a timing. */
static void plan_overlap(tuner *t)
{
    t->overlap = false;
    cpu_set_t set;
    if (t->o->serial_builds || t->ndev || sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    int allowed[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            if (shares_core(c))
                return;
            allowed[n++] = c;
        }
    if (t->threads < 1 || t->threads >= n)
        return;
    t->measure_cpu = allowed[0];
    t->nbuild_cpus = 0;
    for (int i = t->threads; i < n && t->nbuild_cpus < TT_TUNE_MAX_JOBS; i++)
        t->build_cpus[t->nbuild_cpus++] = allowed[i];
    t->overlap_jobs = t->o->jobs > 0 && t->o->jobs < t->nbuild_cpus ? t->o->jobs : t->nbuild_cpus;
    t->overlap = true;
}

/* Setup, phase 4: the machine's share (limits, threads, parallel builds) and the run's row. */
static int start_run(tuner *t)
{
    const tt_tune_opts *o = t->o;
    t->timeout_s = o->timeout_s > 0 ? o->timeout_s : t->file->measure.timeout_s;
    t->threads = t->file->measure.threads > 0 ? t->file->measure.threads
                 : t->ndev                    ? tt_tune_remote_cores(t)
                                              : tt_backend_num_threads();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    t->jobs = o->jobs > 0 ? o->jobs : (cpus > 0 ? (int)cpus : 1);
    if (t->jobs > TT_TUNE_MAX_JOBS)
        t->jobs = TT_TUNE_MAX_JOBS;
    plan_overlap(t);
    if (t->db &&
        tt_db_run_begin(t->db, t->file->path, t->target_str, o->tuner, o->trials, &t->run_id) != 0)
        return tt_error_wrap("--db %s", o->db_path);
    return 0;
}

/* Everything that depends on what the user gave is checked before anything is written; a failure
 * up to the opened log that its callee left uncategorised is the user's (a log of another
 * workload, a database path in no directory). */
static int setup(tuner *t, tt_tune_result *out)
{
    const tt_tune_opts *o = t->o;
    if (tt_tune_opts_check(o) != 0)
        return -1;
    t->gradient = !o->task_scheduler || strcmp(o->task_scheduler, "gradient") == 0;
    t->sched_rng = o->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (read_inputs(t) != 0 || make_tasks(t, out) != 0 || open_outputs(t) != 0)
        return tt_error_wrapc(TT_ERR_INVALID_ARGUMENT, "%s", "");
    return start_run(t);
}

/* Ends a task: the best candidates measured again, the winner logged again. */
static int task_end(tuner *t, task_state *ts, tt_tune_task_end why)
{
    if (ts->finished)
        return 0;
    ts->finished = true;
    if (ts->active && !ts->started && ts->done == 0)
        ts->end = TT_TUNE_TASK_NOT_STARTED; /* the budget ran out before its first turn */
    else if (ts->active || ts->end == TT_TUNE_TASK_NOT_STARTED)
        ts->end = why;
    ts->active = false;
    if (!ts->started || tt_tune_stopped(t))
        return 0;
    t->current = (int)(ts - t->ts);
    tt_tune_progress_draw(t, true);
    if (ts->run_trials == 0 && ts->hist.winner_logged)
        return 0;
    double t0 = tt_tune_now();
    int rc = tt_tune_remeasure(t, ts);
    t->remeasure_s += tt_tune_now() - t0;
    return rc;
}

static int loop(tuner *t)
{
    /* At least 8 a batch: the builds of a batch end with its slowest, so with two builds per
     * worker a quarter of the build time was one idle worker waiting. */
    int batch = t->jobs * 2 > 8 ? t->jobs * 2 : 8;
    tt_tune_share *share = calloc((size_t)t->nt, sizeof *share);
    if (!share)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = 0;
    while (rc == 0 && !tt_tune_stopped(t)) {
        for (int i = 0; i < t->nt; i++) {
            const task_state *s = &t->ts[i];
            share[i] = (tt_tune_share){.weight = s->task->weight,
                                       .done = s->done,
                                       .active = s->active,
                                       .best = s->best_cost,
                                       .best_before = INFINITY};
            /* the recent slope: the last three batches */
            int64_t w = s->ncurve - 1 < 3 * batch ? s->ncurve - 1 : 3 * batch;
            if (w > 0) {
                share[i].window = w;
                share[i].best_before = s->curve[s->ncurve - 1 - w];
            }
        }
        int count = 0;
        int64_t remaining = t->o->trials - t->done_total;
        int i = t->gradient ? tt_tune_pick_task_gradient(share, t->nt, remaining, batch,
                                                         &t->sched_rng, &count)
                            : tt_tune_pick_task(share, t->nt, remaining, batch, &count);
        if (i < 0)
            break;
        task_state *ts = &t->ts[i];
        t->current = i;
        if (!ts->started) {
            rc = task_start(t, ts, i);
            if (rc != 0 || !ts->active || tt_tune_stopped(t))
                continue;
        }
        rc = tune_batch(t, ts, count);
        if (rc == 0 && !ts->active)
            rc = task_end(t, ts, ts->end);
    }
    free(share);
    /* The budget is spent: the tasks still tuning end here. */
    for (int i = 0; rc == 0 && i < t->nt; i++) {
        if (tt_tune_stopped(t))
            break;
        t->current = i;
        task_state *ts = &t->ts[i];
        if (!ts->started && ts->hist.n > 0 && !ts->hist.winner_logged) {
            /* A resumed task whose budget was spent before the winner was logged. */
            rc = task_start(t, ts, i);
            if (rc != 0)
                break;
        }
        rc = task_end(t, ts, TT_TUNE_TASK_BUDGET);
    }
    tt_tune_progress_end(t);
    return rc;
}

static void fill_result(tuner *t, tt_tune_result *out)
{
    bool failed = false, interrupted = tt_tune_stopped(t);
    for (int i = 0; i < t->nt && out->tasks; i++) {
        task_state *ts = &t->ts[i];
        tt_tune_task_result *r = &out->tasks[i];
        if (interrupted && !ts->finished && ts->started)
            ts->end = TT_TUNE_TASK_INTERRUPTED;
        r->name = strdup(ts->task->name);
        r->key = strdup(ts->task->key);
        r->weight = ts->task->weight;
        r->trials = ts->done;
        r->trials_run = ts->run_trials;
        r->errors = ts->errors;
        r->best_cost = ts->best_cost;
        r->best_gflops = ts->best_gflops;
        r->best_trial = ts->best_trial;
        r->best_steps = ts->best_steps ? strdup(ts->best_steps) : NULL;
        r->end = ts->end;
        r->diagnosis = strdup(ts->diagnosis ? ts->diagnosis : "");
        if (ts->end == TT_TUNE_TASK_TOO_MANY_ERRORS || (ts->done > 0 && !isfinite(ts->best_cost)))
            failed = true;
    }
    out->trials_run = t->run_trials;
    out->run_id = t->run_id;
    out->status = interrupted ? TT_TUNE_INTERRUPTED : failed ? TT_TUNE_FAILED : TT_TUNE_FINISHED;
}

/* --model-out: a model trained on every record of the log (all tasks, resumed ones too) and
 * the transferred rows, so it carries what this run learned to the next one. */
static int save_model(tuner *t)
{
    tt_dataset d;
    tt_dataset_init(&d);
    tt_model *m = NULL;
    int rc = tt_dataset_add_log(&d, t->o->log_path, 0, SIZE_MAX, NULL);
    for (size_t i = 0; rc == 0 && i < t->transfer.nrows; i++)
        rc = tt_dataset_add(&d, t->transfer.keys[t->transfer.group[i]],
                            t->transfer.x + i * TT_FEATURE_COUNT, t->transfer.cost[i]);
    if (rc == 0)
        rc = tt_model_new(NULL, &m);
    if (rc == 0)
        rc = tt_model_train(m, &d);
    if (rc == 0)
        rc = tt_model_save(m, t->o->model_out);
    tt_model_free(m);
    tt_dataset_free(&d);
    return rc == 0 ? 0 : tt_error_wrap("--model-out %s", t->o->model_out);
}

int tt_tune_run(const tt_opfile *file, const tt_tune_opts *o, tt_tune_result *out)
{
    memset(out, 0, sizeof *out);
    tt_tune_opts defaults;
    tt_tune_opts_default(&defaults);
    tuner t = {.file = file, .o = o, .start = tt_tune_now(), .last_draw = -1};
    tt_dataset_init(&t.transfer);
    t.out = o->progress ? o->progress : stderr;
    t.tty = isatty(fileno(t.out));
    t.max_errors = o->max_errors_in_row > 0 ? o->max_errors_in_row : defaults.max_errors_in_row;
    t.top = o->remeasure_top > 0 ? o->remeasure_top : defaults.remeasure_top;
    if (t.top > TT_TUNE_MAX_TOP)
        t.top = TT_TUNE_MAX_TOP;
    int rc = setup(&t, out);
    if (rc == 0) {
        t.start = tt_tune_now();
        rc = loop(&t);
        fill_result(&t, out);
    }
    if (t.db && t.run_id > 0) {
        if (tt_db_run_update(t.db, t.run_id, t.run_trials) != 0 ||
            tt_db_run_end(t.db, t.run_id,
                          tt_tune_stopped(&t) ? TT_RUN_INTERRUPTED : TT_RUN_FINISHED) != 0)
            tt_tune_say(&t, "tvm-tune: warning: database: %s\n", tt_get_last_error());
    }
    if (rc == 0 && o->model_out && save_model(&t) != 0)
        rc = -1;
    /* The cleanup below may overwrite the last error: keep its message and category. */
    char err[1024];
    snprintf(err, sizeof err, "%s", rc ? tt_get_last_error() : "");
    tt_error_category category = tt_get_last_error_category();
    tt_dataset_free(&t.transfer);
    for (int i = 0; t.ts && i < t.nt; i++)
        task_clear(&t.ts[i]);
    free(t.ts);
    tt_log_close(t.log);
    tt_db_close(t.db);
    tt_tune_remote_close(&t);
    tt_target_free(t.target);
    tt_tune_faults_free(&t.faults);
    out->elapsed_s = tt_tune_now() - t.start;
    out->timed_s = t.timed_s;
    out->repeats = t.repeats;
    out->disturbed = t.disturbed;
    out->search_s = t.search_s;
    out->lower_s = t.lower_s;
    out->build_s = t.build_s;
    out->measure_s = t.measure_s;
    out->record_s = t.record_s;
    out->remeasure_s = t.remeasure_s;
    if (rc)
        tt_error_setc(category, "%s", err);
    return rc;
}

void tt_tune_result_free(tt_tune_result *r)
{
    for (int i = 0; r && r->tasks && i < r->ntasks; i++) {
        free(r->tasks[i].name);
        free(r->tasks[i].key);
        free(r->tasks[i].best_steps);
        free(r->tasks[i].diagnosis);
    }
    if (r) {
        free(r->tasks);
        r->tasks = NULL;
        r->ntasks = 0;
    }
}
