/* The cost model: an XGBoost booster (C API) over candidate features (cost_model/features.h),
 * trained on measured candidates grouped by workload, predicting a score per candidate (higher
 * is faster). cost_model/model.c holds the model, cost_model/dataset.c the rows and the reading
 * of logs. search/ (the model-guided strategy) and `tvm-tune model eval` use it.
 *
 * Targets are normalised throughput within a workload: min cost of the workload / cost, so the
 * best candidate is 1 and a failed one (cost +inf) is 0, the worst. Rows keep their raw costs,
 * so targets follow as faster candidates arrive. */
#ifndef TT_COST_MODEL_MODEL_H
#define TT_COST_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cost_model/features.h"
#include "ir/ir.h"
#include "ir/schedule.h"

/* ---- datasets ---- */

typedef struct tt_dataset_s {
    size_t nrows, cap;
    float *x;        /* nrows * TT_FEATURE_COUNT */
    double *cost;    /* seconds; +inf for a failed candidate */
    uint32_t *group; /* workload id of each row (index into keys) */
    size_t ngroups;
    char **keys; /* workload key of each group */
    /* the machine the features of tt_dataset_add_schedule and tt_dataset_add_log describe;
     * tt_dataset_init leaves it unknown (0s), the owner sets it */
    tt_feat_machine machine;
} tt_dataset;

TT_API void tt_dataset_init(tt_dataset *d);
TT_API void tt_dataset_free(tt_dataset *d);
/* Adds one row: features f (TT_FEATURE_COUNT floats) of a candidate of workload key, with its
 * cost (seconds, > 0; +inf or NaN for a failed candidate). */
TT_API int tt_dataset_add(tt_dataset *d, const char *key, const float *f, double cost);
/* Lowers schedule s of compute c and adds its row. -1 with the lowering message when s does
 * not apply. */
TT_API int tt_dataset_add_schedule(tt_dataset *d, const char *key, const tt_compute *c,
                                   const tt_schedule *s, double cost);
/* Targets of every row: min cost of its group / cost (0 for failures and for groups with no
 * valid row) into y (nrows floats). */
TT_API void tt_dataset_targets(const tt_dataset *d, float *y);

/* What reading a log gave. */
typedef struct {
    size_t records;  /* records in the log */
    size_t rows;     /* rows added */
    size_t failed;   /* of which failed candidates (target 0) */
    size_t unusable; /* records whose workload or schedule no longer rebuilds or lowers */
} tt_dataset_log_stats;

/* Adds the records [first, first + count) of the log at path (count SIZE_MAX: to the end; file
 * order) as rows: each record's task is rebuilt from its workload (once per key), its schedule
 * lowered and its features extracted; failed records become rows of cost +inf. Fails with
 * "path: no usable records (...)" when the range gave no row. stats may be NULL. */
TT_API int tt_dataset_add_log(tt_dataset *d, const char *path, size_t first, size_t count,
                              tt_dataset_log_stats *stats);
/* Number of records in the log (tolerant read), for splitting it. */
TT_API int tt_dataset_log_count(const char *path, size_t *n);

/* ---- the model ---- */

typedef struct {
    const char *objective; /* "rank" (rank:pairwise, default) or "reg" (reg:squarederror) */
    int rounds;            /* boosting rounds per training; default 100 */
    int max_depth;         /* default 6 */
    double eta;            /* default 0.2 */
    int nthread;   /* 0: all cores; the tuner uses 1 (see search/xgb.c: forked measurements) */
    uint64_t seed; /* default 1 */
    /* rank: targets put in buckets of this width (0.05: 20 levels of normalised throughput)
     * before training, so two candidates closer than the timing noise are not taught as an
     * ordered pair; 0 (default): exact targets. */
    double label_step;
} tt_model_opts;

typedef struct tt_model tt_model;

TT_API void tt_model_opts_default(tt_model_opts *o);
TT_API int tt_model_new(const tt_model_opts *o, tt_model **out); /* o NULL: defaults */
TT_API void tt_model_free(tt_model *m);
/* Trains a new booster on every row of d (groups as ranking queries), replacing the old one.
 * -1 when d has no row. */
TT_API int tt_model_train(tt_model *m, const tt_dataset *d);
/* The same with a weight per group of d (group_weight[g] >= 0 for each of d->ngroups; NULL: all
 * 1): how much the group's rows count in the loss (rank: per query; reg: each of its rows). The
 * xgb tuner gives the rows of other workloads (--transfer) a fixed weight in all, so that its own
 * measurements outweigh them as they grow. */
TT_API int tt_model_train_weighted(tt_model *m, const tt_dataset *d, const float *group_weight);
TT_API bool tt_model_trained(const tt_model *m);
/* Scores of n feature rows (x: n * TT_FEATURE_COUNT floats) into scores; higher is faster. An
 * untrained model scores every row 0. */
TT_API int tt_model_predict(tt_model *m, const float *x, size_t n, float *scores);
/* Saves the trained model to path (a header line, then XGBoost's JSON model). */
TT_API int tt_model_save(const tt_model *m, const char *path);
/* Loads a model saved by tt_model_save; -1 with "path: ..." when the file is not one. */
TT_API int tt_model_load(tt_model *m, const char *path);
/* The same from n bytes in memory; name is only used in messages. On failure m is unchanged. */
TT_API int tt_model_load_buffer(tt_model *m, const char *text, size_t n, const char *name);

/* ---- evaluation ---- */

typedef struct {
    size_t pairs;           /* pairs of one group with different targets */
    double pair_accuracy;   /* share of them the scores order correctly */
    double recall_top10_32; /* true top-10 found among the predicted top-32, mean over groups */
    size_t groups;          /* groups with a valid row */
} tt_model_eval_result;

/* Scores the rows of d with m and compares with their targets. */
TT_API int tt_model_evaluate(tt_model *m, const tt_dataset *d, tt_model_eval_result *out);
/* The same for given scores (no model): for tests and other rankers. */
TT_API int tt_rank_evaluate(const tt_dataset *d, const float *scores, tt_model_eval_result *out);

#endif
