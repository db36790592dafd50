/* Internal to the last lowering step: the path of loops that ir/lower_hoist.c (select hoisting)
 * and ir/lower_taps.c (border tiles skipping padded taps) walk, and what the second gives the
 * first. */
#ifndef TT_IR_LOWER_HOIST_H
#define TT_IR_LOWER_HOIST_H

#include "ir/lower_internal.h"

/* Loops from a candidate loop L down to the statement being rewritten (or the loops around it). */
typedef struct {
    int n, cap;
    tt_var_range *r;
    int plain; /* > 0: inside a nest of tap loops already split; nothing more to tighten */
    int slow;  /* > 0: inside the slow copy of a versioned loop */
    const tt_expr **failed; /* the checks of the versions whose slow copy this is */
    int nfailed, capfailed;
} lw_path;

/* Pushes var in [0, hi]; false when out of memory. */
bool lw_path_push(lw_path *p, const tt_expr *var, int64_t hi);
/* Whether v is a variable of the path. */
bool lw_path_has(const lw_path *p, const tt_expr *v);
/* Whether e uses a variable of the path (inner = true) or a variable off it (inner = false). */
bool lw_path_uses(const lw_path *p, const tt_expr *e, bool inner);
/* A scalar int64: a guard comparison the analyses can bound. */
bool lw_is_index(const tt_expr *e);

/* Whether every update in loop s is a no-op when check is off (check being their one guard,
 * which does not move inside s): then s may be skipped whole. */
bool lw_skips_whole(const tt_stmt *s, const tt_expr *check);
/* The nest of loop s with its tap loops (serial or unrolled loops nested right inside it whose
 * taps a guard bounds) run only over the taps the guards can let through, with *full the
 * condition under which every tap of each can be in range. NULL with *full NULL when no loop of
 * the nest is bounded; NULL with *full set when out of memory. New references. */
tt_stmt *lw_tap_border(const lw_path *anc, const tt_stmt *s, tt_expr **full);

#endif
