/* Shared state of lowering (ir/lower.c: steps and placement; ir/lower_emit.c: loop IR emission).
 * Not a public header: only ir/lower*.c include it. */
#ifndef TT_IR_LOWER_INTERNAL_H
#define TT_IR_LOWER_INTERNAL_H

#include "ir/analysis.h"
#include "ir/lower.h"
#include "ir/simplify.h"

/* One loop of a stage's nest, outer to inner. */
typedef struct {
    char *name;
    int64_t extent;
    tt_for_kind kind;
    int kind_step; /* the step that annotated it, for messages; -1 */
    bool reduce;
    tt_expr *var; /* owned, int64 VAR named like the loop */
} lw_loop;

/* lo <= value < hi must hold for the body to run (value in the stage's loop variables). */
typedef struct {
    tt_expr *value; /* owned */
    int64_t lo, hi;
    bool reduce;
} lw_guard;

typedef enum { LW_ROOT, LW_INLINED, LW_EPILOGUE, LW_ATTACHED } lw_place;

typedef struct {
    tt_stage *stage;
    tt_expr *body; /* owned: the stage's body after inlining */
    lw_place place;
    int epilogue;           /* index of the stage fused into this one as an epilogue, or -1 */
    int producer;           /* LW_EPILOGUE: the stage it is fused into */
    const char *cache_loop; /* cache_write: "" = whole stage, NULL = none */
    int cache_step;
    int attach_to, attach_step; /* LW_ATTACHED: consumer stage and the compute_at step */
    const char *attach_loop;
    int nsteps;
    int *steps; /* loop steps (split ... unroll) of this stage, in order */

    /* The nest after its steps. Axes: spatial then reduce; val[a] is the value of axis a in
     * terms of the loop variables, ext[a] its extent (the region's when attached). */
    int naxes;
    tt_iter_var **axes; /* borrowed */
    int64_t *ext;
    tt_expr **val;
    int nloops, loop_cap;
    lw_loop *loops;
    int nguards, guard_cap;
    lw_guard *guards;

    tt_buffer *buf;      /* where the stage's tensor lives: NULL if nowhere */
    tt_expr **region_lo; /* LW_ATTACHED: per output dim, in the consumer's variables */
    int64_t *region_ext;
    bool needs_buffer;   /* someone reads the tensor (or it is the output) */
    bool buf_for_blocks; /* buf holds only the partial sums of a blocked cache_write tile */
} lw_stage;

typedef struct {
    const tt_compute *c;
    const tt_schedule *s;
    int n;
    lw_stage *st;
    tt_buffer **inbuf;  /* per input */
    tt_buffer **packed; /* per input: packed copy or NULL */
    int *pack_dim;
    int64_t *pack_factor;
} lw_ctx;

/* "step I (DESCR): message"; returns -1. */
int lw_step_error(const lw_ctx *x, int step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lw_stage_index(const lw_ctx *x, const char *name);
int lw_loop_index(const lw_stage *s, const char *name);
/* Innermost loop position of s whose variable e uses, -1 if none. */
int lw_innermost_use(const lw_stage *s, const tt_expr *e);
/* The axis values an evaluation of the body sees (region offset added when attached); new
 * references in out[0..naxes). */
int lw_eval_values(const lw_ctx *x, const lw_stage *s, tt_expr *const *val, tt_expr **out);
/* body (a stage's body; for a REDUCE, its source) as loop IR with axes[a] at values[a]: reads
 * become LOADs of the right buffers; override_tensor's reads become override_value. New ref. */
tt_expr *lw_lower_expr(const lw_ctx *x, const tt_expr *body, int naxes, tt_iter_var *const *axes,
                       tt_expr *const *values, const tt_tensor *override_tensor,
                       tt_expr *override_value);
/* Flat row-major index of idx[0..n) over shape. New reference. */
tt_expr *lw_flat(int n, tt_expr *const *idx, const int64_t *shape);

/* Frees a stage's nest state (loops, values, guards). */
void lw_stage_clear(lw_stage *s);
/* Adds the guard lo <= value < hi (lo INT64_MIN: no lower bound); value is retained. */
int lw_add_guard(lw_stage *s, tt_expr *value, int64_t lo, int64_t hi, bool reduce);
/* Builds stage i's nest over the given spatial extents and replays its loop steps. */
int lw_build_nest(lw_ctx *x, int i, const int64_t *spatial_ext);

/* pack (ir/lower_pack.c): records step si (of stage `stage`); a read of packed input k at
 * original indices idx; the copies into panels around body (takes body). */
int lw_pack_record(lw_ctx *x, int si, int stage);
tt_expr *lw_pack_load(const lw_ctx *x, int k, tt_expr *const *idx);
tt_stmt *lw_pack_wrap(const lw_ctx *x, tt_stmt *body);

/* Select hoisting (ir/lower_hoist.c): loops inside an accumulation whose selects' conditions
 * hold for all their iterations run a copy with the selects replaced by their true values,
 * behind one check (padding guards leave the inner loops). New reference, s unchanged. */
tt_stmt *lw_hoist_selects(tt_stmt *s);

/* Tail peeling (ir/lower_peel.c): serial and parallel loops whose last iteration alone needs
 * some guard run the others in a copy without it (a branch in a parallel loop's body), and
 * loops guarded by "q < m" run m iterations. Run on a simplified kernel; the result is
 * simplified. New reference, s unchanged. */
tt_stmt *lw_peel_tails(const tt_stmt *s);

/* Whether s's cache_write tile lies below one of its reduce loops (k blocking): the partial
 * sums of each reduce block then go through the stage's buffer. */
bool lw_cache_blocked(const lw_stage *s);
/* Emits the full nest of root stage i (with what is attached or fused into it). */
tt_stmt *lw_emit_stage(lw_ctx *x, int i);

/* How lw_rebuild maps a statement's parts: stmt (never NULL) takes each child statement, expr
 * (NULL: kept) each expression; both return a new reference or NULL with the error set. */
typedef struct {
    tt_stmt *(*stmt)(const tt_stmt *s, void *ctx);
    tt_expr *(*expr)(const tt_expr *e, void *ctx);
    void *ctx;
} lw_mapper;

/* s of the same kind over its mapped parts (ir/lower_peel.c). New reference. */
tt_stmt *lw_rebuild(const tt_stmt *s, const lw_mapper *m);
/* s with f applied to every expression in it, at any depth. New reference. */
tt_stmt *lw_map_exprs(const tt_stmt *s, tt_expr *(*f)(const tt_expr *e, void *ctx), void *ctx);

#endif
