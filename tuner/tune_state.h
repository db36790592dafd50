/* The running state of the tuning loop, shared by tuner/tune.c (tasks, batches, the run) and
 * tuner/tune_record.c (one candidate's run, its record, the bookkeeping after it, progress and
 * the end-of-task re-measurement). Internal to libtt. */
#ifndef TT_TUNER_TUNE_STATE_H
#define TT_TUNER_TUNE_STATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "codegen/codegen.h"
#include "cost_model/model.h"
#include "ir/opjson.h"
#include "logs/db.h"
#include "logs/log.h"
#include "measure/measure.h"
#include "search/search.h"
#include "tt/tune.h"
#include "tuner/tune_internal.h"

#define TT_TUNE_MAX_TOP 8
#define TT_TUNE_MAX_TALLY 16

typedef struct {
    double cost;
    int64_t trial;
    char *steps;
} top_entry;

typedef struct {
    int code;
    char msg[160];
    int count;
} tally_entry;

typedef struct {
    const tt_task *task;
    tt_space *space;
    tt_strategy *strategy;
    tt_measure_tensor *args;
    int nargs;
    void *ref; /* the reference output; NULL without check */
    size_t ref_nbytes;
    tt_tune_history hist; /* what a resumed log held */

    bool active, started, finished;
    tt_tune_task_end end;
    char *diagnosis;
    int64_t done;       /* trials, resumed ones included */
    int64_t run_trials; /* trials of this run */
    int64_t errors;
    int errors_in_row;
    int64_t since_improvement;
    double best_cost, best_gflops;
    int64_t best_trial;
    char *best_steps;
    top_entry top[TT_TUNE_MAX_TOP]; /* best successful candidates, by cost */
    int ntop;
    tally_entry tally[TT_TUNE_MAX_TALLY]; /* errors of the current run of failures */
    int ntally;
    double *curve; /* best cost after each trial (curve[i]: after i + 1), for the scheduler */
    int64_t ncurve, capcurve;
} task_state;

/* A device of --rpc and its health (tuner/tune_remote.c). */
typedef struct tt_tune_device tt_tune_device;

typedef struct {
    const tt_opfile *file;
    const tt_tune_opts *o;
    tt_target *target;      /* what candidates are built for */
    tt_target *host_target; /* with devices: this host's, for the reference; else NULL */
    tt_tune_device *dev;    /* the --rpc devices; NULL: measure here */
    int ndev;
    double dev_all_lost_since; /* tt_tune_now() since when every device is down; 0: one is up */
    char dev_lost_msg[TT_MEASURE_MSG_LEN]; /* why the last device went down */
    const char *target_str;
    double timeout_s;
    int threads, jobs, max_errors, top;
    /* Builds beside measurements (start_run): the measuring thread on measure_cpu, overlap_jobs
     * builds at a time on build_cpus, the CPUs the kernel's threads leave free. */
    bool overlap;
    int measure_cpu, overlap_jobs, nbuild_cpus;
    double avg_build_s, avg_run_s; /* recent wall time of a build, of a measurement (0: none) */
    int build_cpus[TT_TUNE_MAX_JOBS];
    tt_tune_faults faults;
    tt_log *log;
    tt_db *db;
    int64_t run_id;
    bool db_warned;
    task_state *ts;
    int nt, current;
    int64_t next_trial; /* trial number of the next candidate */
    int64_t done_total; /* trials of all tasks, resumed ones included */
    int64_t run_trials; /* trials of this run */
    FILE *out;
    bool tty, line_open;
    double start, last_draw;
    double timed_s; /* kernel time inside timed repeats, all candidates (costs x number) */
    int64_t repeats, disturbed; /* timed repeats kept, and those that lost a CPU meanwhile */
    /* wall time by phase (tt_tune_result's fields of the same names) */
    double search_s, lower_s, build_s, measure_s, record_s, remeasure_s;
    int64_t last_drawn;
    bool gradient;       /* the gradient task scheduler, else weighted round robin */
    uint64_t sched_rng;  /* its exploration draws */
    tt_dataset transfer; /* rows of the --transfer logs (xgb) */
} tuner;

/* A measured (or failed) candidate. */
typedef struct {
    int64_t trial;
    const char *steps;
    int error;
    const char *msg;
    const double *costs;
    int n_costs;
    double build_s;
    const char *device; /* the RPC device that measured it; NULL: this machine */
} tt_tune_outcome;

double tt_tune_now(void);
int tt_tune_stopped(const tuner *t);
/* Prints to the progress stream (even when quiet: for warnings and errors), first clearing a
 * progress line drawn in place. */
void tt_tune_say(tuner *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The request that runs the library at path for ts's task; prune: stop early when clearly
 * slower than the best. */
void tt_tune_request(tuner *t, task_state *ts, const char *path, bool prune, tt_run_request *req);
/* Runs the library at path for ts's task, here or on a device (*device: its name, NULL here). */
int tt_tune_run_one(tuner *t, task_state *ts, const char *path, bool prune, tt_run_result *rr,
                    const char **device);
/* Adds a successful run's timed seconds to the run's total. */
void tt_tune_count_timed(tuner *t, const tt_run_result *rr);

/* ---- remote measurement (tune_remote.c) ---- */

/* Opens the --rpc devices, asks each for its description and sets t->target (--target, else the
 * first device's) and t->host_target; a device that does not answer rests. -1 when none answers
 * (TT_ERR_IO) or one is of another architecture than the target (TT_ERR_INVALID_ARGUMENT). */
int tt_tune_remote_open(tuner *t);
void tt_tune_remote_close(tuner *t);
/* The cores of the first device that answered (what a kernel's parallel loops get there). */
int tt_tune_remote_cores(const tuner *t);
/* One run on the first healthy device (the re-measurement). */
int tt_tune_remote_run(tuner *t, const tt_run_request *req, tt_run_result *rr, const char **device);
/* Takes candidate i's result (rr NULL: nothing was run for it) on the tuning thread; returns 0 to
 * go on, 1 to stop the batch, -1 for an error. */
typedef int (*tt_tune_consume_fn)(int i, const tt_run_result *rr, const char *device, void *ctx);
/* Measures reqs[0..n-1] (lib_path NULL: nothing to run) on every device at once, one candidate
 * per device at a time, and consumes the results in order of i as they arrive, until consume
 * stops or every device has left the batch (all lost). *consumed counts consume's 0 returns. */
int tt_tune_remote_batch(tuner *t, const tt_run_request *reqs, int n, tt_tune_consume_fn consume,
                         void *ctx, int *consumed);
/* Appends the record of oc to the log and the database. */
int tt_tune_log(tuner *t, task_state *ts, const tt_tune_outcome *oc);
/* Bookkeeping after a logged candidate of this run: counts, best, error streak, stop rules,
 * progress. */
void tt_tune_after_candidate(tuner *t, task_state *ts, const tt_tune_outcome *oc);
/* Best and top list updates for one candidate (also for resumed ones). */
void tt_tune_note_result(task_state *ts, int64_t trial, const char *steps, int error, double cost);
void tt_tune_tally_reset(task_state *ts);
/* Measures the task's top candidates again and logs the best of them once more. */
int tt_tune_remeasure(tuner *t, task_state *ts);
/* Redraws the progress line (force: even if drawn recently). */
void tt_tune_progress_draw(tuner *t, bool force);
/* Ends a progress line drawn in place. */
void tt_tune_progress_end(tuner *t);

#endif
