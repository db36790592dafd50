/* The search space of an op and the strategies that walk it. The space is derived from the
 * compute definition (docs/ARCHITECTURE.md "Schedules and the search space"), never written per op;
 * a point of it is a tt_schedule (ir/schedule.h) that tt_lower accepts. Strategies propose batches
 * of new schedules and learn from the costs measured for them. Data flow: ir -> search -> tuner. */
#ifndef TT_SEARCH_SEARCH_H
#define TT_SEARCH_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "ir/schedule.h"

/* The space (search/space.c): the stage with the most reduction work (else the output) is
 * tiled "S0 S1 R0 S2 R1 S3" (spatial axes in four levels, reduce axes in two; an elementwise
 * stage "S0 S1"), axes of extent 1 left whole. Decisions: the tiling of each axis (divisors of
 * its extent, and powers of two that do not divide, guarded), with S2*S3 over all spatial axes
 * within a register budget (16 vectors, 12 where the target has only 16 registers); how many outer
 * tiles are fused and parallel; the innermost tile of the vector axis vectorised (lanes * 2^m, or
 * divisors made of whole half vectors, or the whole extent; the other S3 tiles also 6 rows, and 3
 * when the extent has no divisor in 3..8, guarded); unrolling of the other S3 tiles and of R1; an
 * accumulator tile (cache_write above R0, or with R0 moved outside S1: k blocking, S0 R0 S1 S2 R1
 * S3); packing of inputs read along the vector axis and walked by a reduction (matmul's B, dense's
 * W) into panels of the vector tile; elementwise stages before it inlined or kept (parallel); those
 * after it inlined and the output fused as an epilogue when it reads the tiled stage at its own
 * indices; other stages' outer loops parallel. The vector axis is the output's stride-1 axis, or in
 * a second variant of the space another axis read only through packable panels or broadcasts, where
 * the stride-1 axis makes poor vectors (an NCHW conv's output channels; docs/ARCHITECTURE.md).
 * Every combination lowers; a point's steps decode back to its decisions. */

/* What the space needs to know of the machine it tunes for. */
typedef struct {
    int vector_bits; /* widest vector register (512 AVX-512, 256 AVX2, 128 NEON); 0: 128 */
    int num_threads; /* threads parallel loops run on; 0: 1 */
    int vector_regs; /* vector registers (tt_target_vector_regs): 16 AVX2, 32 AVX-512; 0: 16 */
} tt_space_opts;

typedef struct tt_space tt_space;

/* Builds the space of c (c is retained). -1 with a message for computes it cannot schedule. */
TT_API int tt_space_new(const tt_compute *c, const tt_space_opts *opts, tt_space **out);
TT_API void tt_space_free(tt_space *sp);
/* A random valid schedule; *rng is a 64-bit state (any non-zero seed), advanced. */
TT_API int tt_space_sample(tt_space *sp, uint64_t *rng, tt_schedule **out);
/* s with one decision changed (one tile size, one annotation, the unroll, packing on/off). */
TT_API int tt_space_mutate(tt_space *sp, const tt_schedule *s, uint64_t *rng, tt_schedule **out);
/* A child taking each decision from a or b. */
TT_API int tt_space_crossover(tt_space *sp, const tt_schedule *a, const tt_schedule *b,
                              uint64_t *rng, tt_schedule **out);
/* Number of points (saturates at INT64_MAX); grid search enumerates [0, size). */
TT_API int64_t tt_space_size(const tt_space *sp);
/* The index-th point in a fixed order (grid search). */
TT_API int tt_space_point(tt_space *sp, int64_t index, tt_schedule **out);
/* A sane untuned schedule (parallel outer loop, vectorised inner loop, moderate tiles): what
 * `tvm-tune compile` uses for a task with no record. */
TT_API int tt_space_default(tt_space *sp, tt_schedule **out);
/* The decisions s is made of (one value per decision, in the space's fixed order; with a
 * second vector axis, the variant last): for tests, features and tools. -1 with a message when
 * s is not a point of sp. *values: caller frees. */
TT_API int tt_space_decode(const tt_space *sp, const tt_schedule *s, int **values, int *n);
/* Hash of the canonical JSON of s: equal schedules hash equal; no candidate is measured twice. */
TT_API uint64_t tt_schedule_hash(const tt_schedule *s);

/* ---- strategies ---- */
typedef struct tt_strategy tt_strategy;

/* kind: "random", "grid", "ga" (genetic: population, crossover, mutation; seeded) or "xgb"
 * (model-guided: the cost model of cost_model/ scores pools of samples and mutants); ga and
 * xgb propose the space's default schedule of each vector axis first. The
 * strategy keeps sp, which must outlive it. */
TT_API int tt_strategy_new(const char *kind, tt_space *sp, uint64_t seed, tt_strategy **out);
TT_API void tt_strategy_free(tt_strategy *st);
/* Up to n schedules never proposed or marked seen before; *count < n when the space is exhausted
 * (0: nothing left). (*out)[i] are the caller's (tt_schedule_free each, then free(*out)). */
TT_API int tt_strategy_next(tt_strategy *st, int n, tt_schedule ***out, int *count);
/* Feeds measured costs (seconds; INFINITY for a failed candidate) back. */
TT_API int tt_strategy_update(tt_strategy *st, tt_schedule *const *s, const double *costs, int n);
/* Marks s as measured already (a resumed run's log) and feeds its cost. */
TT_API int tt_strategy_seen(tt_strategy *st, const tt_schedule *s, double cost);

/* ---- the cost model of the xgb strategy (cost_model/model.h) ---- */
struct tt_dataset_s;
/* Starts from the model saved at path: it guides from the first batch, until the strategy has
 * measured enough candidates of its own to train one (on them and any transferred rows). -1
 * with a message when the strategy is not xgb or the file is not a model. */
TT_API int tt_strategy_load_model(tt_strategy *st, const char *path);
/* Adds the rows of d (records of other workloads, each its own ranking group) to what the
 * model trains on, for the whole run: the first model is trained on them alone and guides the
 * first batch. -1 when the strategy is not xgb or d has no row. */
TT_API int tt_strategy_transfer(tt_strategy *st, const struct tt_dataset_s *d);

#endif
