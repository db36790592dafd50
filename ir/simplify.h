/* The index simplifier: constant folding, canonical affine forms of integer index arithmetic,
 * floor div/mod of affine forms by constants, and removal of guards that loop ranges prove.
 * ir/lower.c runs it over every kernel it builds; it also holds the expression rewriting
 * helpers (substitution, rebuilding a node with new operands) lowering works with. */
#ifndef TT_IR_SIMPLIFY_H
#define TT_IR_SIMPLIFY_H

#include "ir/ir.h"

/* A known range lo <= var <= hi of an int64 VAR (identity: the node pointer). */
typedef struct {
    const tt_expr *var;
    int64_t lo, hi;
} tt_var_range;

/* A new reference to a simplified expression equal to e for every value of its variables
 * (within the given ranges); NULL with the last error only when out of memory. Integer (int64)
 * sums, differences and products by constants come out in the canonical form
 * "c1*x1 + c2*x2 + ... + k", terms ordered by variable name: (i.0*16 + i.1)*64 + j becomes
 * i.0*1024 + i.1*64 + j. */
TT_API tt_expr *tt_simplify(const tt_expr *e);
TT_API tt_expr *tt_simplify_ranged(const tt_expr *e, int nranges, const tt_var_range *ranges);
/* Simplifies a statement: every FOR with a constant extent gives its variable the range
 * [0, extent - 1] in its body; IFs whose condition folds to a constant are replaced by the
 * branch taken; SEQs are flattened. New reference. */
TT_API tt_stmt *tt_simplify_stmt(const tt_stmt *s);

/* Proves lo <= e <= hi over the ranges when it can: true with *lo, *hi set. */
TT_API bool tt_expr_bounds(const tt_expr *e, int nranges, const tt_var_range *ranges,
                           int64_t *lo, int64_t *hi);

/* Structural equality and a total order used for canonical forms (VARs: by name, then by
 * identity). */
TT_API int tt_expr_compare(const tt_expr *a, const tt_expr *b);
TT_API bool tt_expr_equal(const tt_expr *a, const tt_expr *b);

/* e with every VAR vars[i] (by identity) replaced by values[i]. New reference. */
TT_API tt_expr *tt_expr_substitute(const tt_expr *e, int n, tt_expr *const *vars,
                                   tt_expr *const *values);
/* A node of e's kind (and name, tensor, buffer, dtype...) over new operands args[0..nargs-1].
 * New reference. */
TT_API tt_expr *tt_expr_rebuild(const tt_expr *e, tt_expr *const *args);

#endif
