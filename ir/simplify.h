/* The index simplifier: constant folding, canonical affine forms of integer index arithmetic,
 * floor div/mod of affine forms by constants, and removal of guards that loop ranges prove.
 * ir/lower.c runs it over every kernel it builds. The expression helpers it builds on
 * (substitution, rebuilding, ranges, linear forms) are in ir/analysis.h. */
#ifndef TT_IR_SIMPLIFY_H
#define TT_IR_SIMPLIFY_H

#include "ir/analysis.h"

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

#endif
