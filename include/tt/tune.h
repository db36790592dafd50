/* The tuning loop as a library: for each task of an op.json, propose schedules (search/), build
 * them in parallel, run them one at a time (measure/), journal every candidate (logs/) and keep
 * the best. `tvm-tune op.json --trials N` (tuner/cli_tune.c) is a thin shell around tt_tune_run. */
#ifndef TT_TUNE_H
#define TT_TUNE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tt/opfile.h"
#include "tt/runtime.h"

struct tt_record; /* logs/record.h */

/* The most parallel builds (tt_tune_opts.jobs) and the longest limit (timeout_s, seconds). */
#define TT_TUNE_MAX_JOBS 256
#define TT_TUNE_MAX_TIMEOUT_S 1e6

/* What tt_tune_opts_check accepts is said beside each field. */
typedef struct {
    int64_t trials;         /* budget over all tasks, shared by weight; >= 1 */
    const char *tuner;      /* "random", "grid", "ga" or "xgb" */
    const char *log_path;   /* the JSON-lines journal; required */
    const char *db_path;    /* SQLite database to add records and a run row to; NULL: none */
    const char *target;     /* overrides the file's target; NULL: the file's */
    uint64_t seed;          /* search and input seed */
    bool resume;            /* continue log_path (else an existing non-empty log is an error) */
    int jobs;               /* parallel builds, <= TT_TUNE_MAX_JOBS; 0: the number of CPUs */
    int64_t early_stopping; /* stop a task after this many trials without improvement; 0: off */
    double timeout_s;       /* build and run limit per candidate, <= TT_TUNE_MAX_TIMEOUT_S; 0: the
                               file's measure.timeout_s */
    int max_errors_in_row;  /* consecutive failed candidates that stop a task; default 20 */
    int remeasure_top;      /* best candidates measured again at the end of a task; default 3 */
    int verbose;            /* 1: print every failed candidate as it happens */
    bool quiet;             /* no progress display */
    FILE *progress;         /* where progress, warnings and errors go; default stderr */
    /* Set (by a signal handler) to stop: nothing more is started, the log is already flushed. */
    const volatile sig_atomic_t *stop;
    /* How tasks share the trials: "gradient" (default, NULL: the same; after a first round, to
     * the task expected to reduce sum(weight x best latency) most) or "round-robin" (by weight). */
    const char *task_scheduler;
    const char *model_in;  /* xgb only: start every task from this saved cost model; NULL: none */
    const char *model_out; /* save a cost model trained on the log's records here; NULL: none */
    /* Logs of other workloads whose records train the first cost model (xgb only). */
    const char *const *transfer;
    int ntransfer;
    /* Test-only fault injection, the syntax of the TT_FAULT_INJECT variable; NULL: none. */
    const char *faults;
    /* Remote measurement: candidates are cross-built here and measured on these tvm-tune-rpc
     * servers ("HOST:PORT"), each authenticated with its key file (rpc_key_files[i], 32 bytes),
     * one candidate at a time per device, the devices in parallel. Without target, the target is
     * the first device's (its triple and CPU). nrpc 0: measure on this machine. */
    const char *const *rpc;
    const char *const *rpc_key_files;
    int nrpc;
    /* Called with every record after it is appended to the log (and added to db_path's database
     * when there is one), on the tuning thread; returning nonzero stops the run with that error
     * (a farm worker whose lease was taken over). NULL: none. */
    int (*on_record)(const struct tt_record *r, void *ctx);
    void *on_record_ctx;
    /* true: build each batch before measuring it even when the kernels leave CPUs free (by
     * default the builds then run on those CPUs while the batch is measured). */
    bool serial_builds;
} tt_tune_opts;

/* How a task's tuning ended. */
typedef enum {
    TT_TUNE_TASK_BUDGET = 0,     /* its share of the trials is done */
    TT_TUNE_TASK_EXHAUSTED = 1,  /* the space has no new candidate */
    TT_TUNE_TASK_EARLY_STOP = 2, /* early_stopping trials without improvement */
    TT_TUNE_TASK_TOO_MANY_ERRORS = 3,
    TT_TUNE_TASK_INTERRUPTED = 4,
    TT_TUNE_TASK_NOT_STARTED = 5
} tt_tune_task_end;

typedef struct {
    char *name, *key;
    double weight;
    int64_t trials;     /* candidates in the log for this task (resumed ones included) */
    int64_t trials_run; /* of which measured by this call */
    int64_t errors;     /* failed candidates among trials */
    double best_cost;   /* seconds, the re-measured winner's when there was one; +inf: none */
    double best_gflops; /* 0: none */
    int64_t best_trial; /* -1: none */
    char *best_steps;   /* JSON array; NULL: none */
    tt_tune_task_end end;
    char *diagnosis; /* why the task stopped on errors ("" otherwise) */
} tt_tune_task_result;

typedef enum {
    TT_TUNE_FINISHED = 0,    /* every task ended normally with at least one valid candidate */
    TT_TUNE_FAILED = 1,      /* a task stopped on errors or found no valid candidate */
    TT_TUNE_INTERRUPTED = 2, /* opts.stop was raised */
} tt_tune_status;

typedef struct {
    tt_tune_status status;
    int ntasks;
    tt_tune_task_result *tasks;
    int64_t trials_run; /* measured by this call, all tasks */
    int64_t run_id;     /* the database's run row; 0 without a database */
    double elapsed_s;
    /* Seconds the kernels ran inside timed repeats (every repeat's mean x its number of runs,
     * over all candidates): the part of elapsed_s the measurement protocol must spend. */
    double timed_s;
    /* Where elapsed_s went, by phase of the loop (the remainder is setup and the progress
     * display): proposing candidates (the search, with the cost model's training and scoring),
     * lowering them, building them (parallel builds, wall time), measuring them (wall time of
     * the runs: process start, reference check, warm-up, calibration and timed repeats), writing
     * the records (log, database) and the end-of-task re-measurement. */
    double search_s, lower_s, build_s, measure_s, record_s, remeasure_s;
    /* Timed repeats kept in the costs of this machine's candidates, and how many of them lost a
     * CPU to another process while they ran: the share of figures the load of the machine has
     * moved (docs/ARCHITECTURE.md, "Measurement"). */
    int64_t repeats, disturbed;
} tt_tune_result;

TT_API void tt_tune_opts_default(tt_tune_opts *o);

/* The one check of the options (the CLI parses flags into o and calls it too): each field within
 * what its comment says, known tuner and scheduler names, --model-in and --transfer with xgb.
 * -1 with TT_ERR_INVALID_ARGUMENT and a message naming the flag ("--tuner xgb2: expected ..."). */
TT_API int tt_tune_opts_check(const tt_tune_opts *o);

/* Tunes every task of file under o. Returns 0 when the loop ran (out->status says how it ended)
 * and -1 with the last error when it could not start or the log could not be written. The error's
 * category tells what the user gave (options, log, database path, target, transfer logs, model:
 * INVALID_ARGUMENT, PARSE, NOT_FOUND, UNSUPPORTED) from what the system did (UNKNOWN, IO,
 * OUT_OF_MEMORY). Caller frees out with tt_tune_result_free in both cases. */
TT_API int tt_tune_run(const tt_opfile *file, const tt_tune_opts *o, tt_tune_result *out);
TT_API void tt_tune_result_free(tt_tune_result *r);

/* Writes the summary table (task, trials, errors, best GFLOPS, best ms) of r to f. */
TT_API void tt_tune_print_summary(const tt_tune_result *r, FILE *f);

#endif
