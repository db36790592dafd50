/* The pieces of the tuning loop (tuner/tune.c) that stand on their own: the progress line, the
 * log history a resumed run starts from, the test-only fault injector and the build of candidate
 * libraries (the task scheduler has its own header, task_scheduler.h). Exported for the unit
 * tests. */
#ifndef TT_TUNER_TUNE_INTERNAL_H
#define TT_TUNER_TUNE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "logs/log.h"

/* ---- progress (tune_progress.c) ---- */

typedef struct {
    int task, ntasks; /* 1-based */
    const char *name;
    int64_t done, asked; /* trials of the whole run */
    double best_gflops;  /* of the current task; 0: none yet */
    double rate;         /* trials per second of this run; 0: unknown */
    double eta_s;        /* < 0: unknown */
} tt_tune_progress;

/* "task 1/2 matmul_64x64x64_f32 | trials 12/16 | best 35.2 GFLOPS | 3.1 trials/s | ETA 0:02"
 * into buf (truncated to len). */
TT_API void tt_tune_progress_format(const tt_tune_progress *p, char *buf, size_t len);
/* "0:07", "12:34", "1:02:03"; "--" when s is negative or not finite. */
TT_API void tt_tune_format_duration(double s, char *buf, size_t len);

/* ---- resume (tune_resume.c) ---- */

/* One candidate of a task found in the log. */
typedef struct {
    uint64_t hash; /* tt_tune_steps_hash of its steps */
    int64_t trial;
    double cost; /* tt_record_cost: +inf for an error */
    int error;
    char *steps; /* canonical JSON */
} tt_tune_past;

typedef struct {
    const char *key; /* the task's workload key (borrowed) */
    size_t n, cap;
    tt_tune_past *past; /* distinct candidates, in log order */
    int64_t errors;
    bool winner_logged; /* the end-of-task re-measurement is in the log */
} tt_tune_history;

/* 64-bit FNV-1a of the canonical form of a JSON steps array; -1 when it does not parse. */
TT_API int tt_tune_steps_hash(const char *steps_json, uint64_t *hash, char **canonical);

/* Reads the log at path (a missing file is an empty history) and sorts its records into
 * hist[0..n-1] by key, for records of target only; other workloads and targets are ignored. A
 * candidate logged twice with the same trial is the winner's re-measurement, not a new trial.
 * *next_trial = 1 + the largest trial among the kept records (0 when none). Warnings (a
 * truncated last line) go to stats (may be NULL; tt_log_stats_free). A log with records but none
 * of any key of hist (another workload's log) is an error. */
TT_API int tt_tune_history_read(const char *path, const char *target, tt_tune_history *hist, int n,
                                int64_t *next_trial, tt_log_stats *stats);
TT_API void tt_tune_history_free(tt_tune_history *hist, int n);

/* ---- fault injection and builds (tune_build.c) ---- */

enum {
    TT_FAULT_BUILD_CRASH = 1 << 0,
    TT_FAULT_BUILD_ERROR = 1 << 1,
    TT_FAULT_SEGV = 1 << 2,
    TT_FAULT_HANG = 1 << 3,
    TT_FAULT_WRONG = 1 << 4,
};

typedef struct {
    size_t n;
    int64_t *trials;
    int *kinds;
} tt_tune_faults;

/* Parses "segv@3,hang@5,wrong@7,build_crash@9,build_error@11" (NULL or "": none). */
TT_API int tt_tune_faults_parse(const char *spec, tt_tune_faults *out);
/* The TT_FAULT_* bits for trial. */
TT_API int tt_tune_faults_for(const tt_tune_faults *f, int64_t trial);
TT_API void tt_tune_faults_free(tt_tune_faults *f);

/* k with the kernel faults of kinds applied to its loop IR (segv: a store far out of bounds
 * first; hang: the body inside a loop of INT64_MAX iterations; wrong: 1 added to every value
 * stored to the output). A new reference (k itself, retained, when kinds has none of them). */
TT_API int tt_tune_inject(tt_kernel *k, int kinds, tt_kernel **out);

/* One library to build: k compiled for target into the builder's path. */
typedef struct {
    tt_kernel *kernel;
    const tt_target *target;
    int faults; /* TT_FAULT_BUILD_* */
} tt_tune_build_item;

/* tt_build_fn over an array of tt_tune_build_item (ctx). */
TT_API int tt_tune_build(void *ctx, int index, const char *out_path, char *err, size_t errlen);

#endif
