/* The expression and index analyses every pass shares (one fact in one place): floor
 * division on int64, interval arithmetic and the range of an integer expression, which variables
 * and tensors an expression uses, rebuilding a tree, and the linear form of an index. Lowering,
 * the simplifier, codegen/, cost_model/ and search/ all call these; none keeps a copy. */
#ifndef TT_IR_ANALYSIS_H
#define TT_IR_ANALYSIS_H

#include "ir/ir.h"

/* ---- floor division ---- */

/* floor(a / b) and a - b * floor(a / b) (the remainder has the sign of b), the meaning of
 * TT_EXPR_DIV and TT_EXPR_MOD on integers: -7 / 2 = -4, -7 % 2 = 1, 7 % -2 = -1. b must not be
 * 0. Never undefined behaviour: INT64_MIN / -1 wraps to INT64_MIN (remainder 0), as the
 * generated code does; tt_floordiv_fits says whether the true quotient fits. */
static inline int64_t tt_floordiv(int64_t a, int64_t b)
{
    if (b == -1)
        return (int64_t)(0 - (uint64_t)a);
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}
static inline int64_t tt_floormod(int64_t a, int64_t b)
{
    if (b == -1)
        return 0;
    int64_t r = a % b;
    return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}
static inline bool tt_floordiv_fits(int64_t a, int64_t b)
{
    return b != 0 && !(a == INT64_MIN && b == -1);
}

/* ---- intervals ---- */

/* lo <= x <= hi. The operations return false when a bound overflows int64 (then nothing is
 * known); the floor operations take a constant divisor c > 0. */
typedef struct {
    int64_t lo, hi;
} tt_interval;

TT_API bool tt_interval_add(tt_interval a, tt_interval b, tt_interval *out);
TT_API bool tt_interval_sub(tt_interval a, tt_interval b, tt_interval *out);
TT_API bool tt_interval_neg(tt_interval a, tt_interval *out);
TT_API bool tt_interval_mul(tt_interval a, tt_interval b, tt_interval *out);
/* Floor division is monotonic: [a.lo / c, a.hi / c]. */
TT_API tt_interval tt_interval_floordiv(tt_interval a, int64_t c);
/* [a.lo % c, a.hi % c] when the whole interval has one quotient, else [0, c - 1]. */
TT_API tt_interval tt_interval_floormod(tt_interval a, int64_t c);
TT_API tt_interval tt_interval_min(tt_interval a, tt_interval b);
TT_API tt_interval tt_interval_max(tt_interval a, tt_interval b);
/* The smallest interval holding both (a select's two values). */
TT_API tt_interval tt_interval_hull(tt_interval a, tt_interval b);

/* ---- ranges of integer expressions ---- */

/* Where an analysis learns the range of a variable: true with [lo, hi] when var is bounded. */
typedef bool (*tt_var_bounds_fn)(const void *ctx, const tt_expr *var, tt_interval *out);

/* A known range lo <= var <= hi of an int64 VAR (identity: the node pointer). */
typedef struct {
    const tt_expr *var;
    int64_t lo, hi;
} tt_var_range;

/* An array of ranges as a tt_var_bounds_fn context: tt_var_ranges_bounds finds a variable's
 * range (the last one given wins, so inner loops can be pushed after outer ones). */
typedef struct {
    int n;
    const tt_var_range *r;
} tt_var_ranges;
TT_API bool tt_var_ranges_bounds(const void *ranges, const tt_expr *var, tt_interval *out);

/* [lo, hi] of int64 expression e by interval arithmetic (INT, VAR, + - *, / and % by a positive
 * constant, min, max, select) when every variable it needs is bounded; false otherwise or on
 * overflow. Only int64 arithmetic is bounded: narrower types wrap. */
TT_API bool tt_expr_interval(const tt_expr *e, tt_var_bounds_fn bounds, const void *ctx,
                             tt_interval *out);
/* The same over an array of ranges (the last one of a variable wins): true with *lo, *hi. */
TT_API bool tt_expr_bounds(const tt_expr *e, int nranges, const tt_var_range *ranges, int64_t *lo,
                           int64_t *hi);

/* ---- what an expression uses ---- */

/* True when e contains the node var (variables by identity). */
TT_API bool tt_expr_uses_var(const tt_expr *e, const tt_expr *var);
/* True when e uses a VAR for which pred holds. */
TT_API bool tt_expr_any_var(const tt_expr *e, bool (*pred)(const void *ctx, const tt_expr *var),
                            const void *ctx);
/* True when e reads tensor t (an ACCESS of t). */
TT_API bool tt_expr_reads(const tt_expr *e, const tt_tensor *t);
/* True when e loads from memory (any LOAD). */
TT_API bool tt_expr_loads(const tt_expr *e);
/* Calls visit on every read of e (ACCESS and LOAD nodes, outer before inner, left to right) until
 * it returns false; false when it did. */
TT_API bool tt_expr_each_read(const tt_expr *e, bool (*visit)(void *ctx, const tt_expr *read),
                              void *ctx);

/* ---- rebuilding ---- */

/* A node of e's kind (and name, tensor, buffer, dtype...) over new operands args[0..nargs-1].
 * New reference. */
TT_API tt_expr *tt_expr_rebuild(const tt_expr *e, tt_expr *const *args);
/* f applied to every operand of e, and e rebuilt when one changed (else e shared). f returns a
 * new reference or NULL (error set): then so does this. New reference. */
TT_API tt_expr *tt_expr_map_args(const tt_expr *e, tt_expr *(*f)(const tt_expr *, void *),
                                 void *ctx);
/* e with every VAR vars[i] (by identity) replaced by values[i]. New reference. */
TT_API tt_expr *tt_expr_substitute(const tt_expr *e, int n, tt_expr *const *vars,
                                   tt_expr *const *values);
/* e with every read of t replaced by body, t's axes (axes[0..t->ndim)) taking the read's
 * indices: inlining a stage. New reference. */
TT_API tt_expr *tt_expr_inline_reads(const tt_expr *e, const tt_tensor *t, tt_iter_var *const *axes,
                                     const tt_expr *body);

/* ---- linear forms ---- */

/* e = c + sum coef * atom, where an atom is a VAR or a node the form does not open. */
typedef struct {
    tt_expr *atom; /* owned */
    int64_t coef;
} tt_linear_term;

typedef struct {
    int n, cap;
    tt_linear_term *t;
    int64_t c;
    bool bad; /* overflow or out of memory: the form means nothing */
} tt_linear;

/* How tt_linear_of opens a tree; every field may be NULL. */
typedef struct {
    /* The value of a variable known to be constant (an unrolled loop's). */
    bool (*known)(const void *ctx, const tt_expr *var, int64_t *value);
    /* Adds a node the form does not open (not INT, VAR, ADD, SUB, or MUL with a constant side)
     * to f; default: f gets the term 1 * e. */
    void (*atom)(void *ctx, const tt_expr *e, tt_linear *f);
    void *ctx;
} tt_linear_hooks;

/* The linear form of e into a zeroed *f: INT and known variables are constants, ADD and SUB
 * add, MUL scales when either side's form is a constant; equal atoms (tt_expr_equal) merge.
 * Free with tt_linear_free. */
TT_API void tt_linear_of(const tt_expr *e, const tt_linear_hooks *hooks, tt_linear *f);
TT_API void tt_linear_free(tt_linear *f);
/* Adds coef * atom (takes the reference to atom). */
TT_API void tt_linear_add_term(tt_linear *f, tt_expr *atom, int64_t coef);
/* a += k * b; b is consumed (freed). */
TT_API void tt_linear_merge(tt_linear *a, tt_linear *b, int64_t k);
/* Drops zero terms and sorts the rest by tt_expr_compare (the canonical order). */
TT_API void tt_linear_normalize(tt_linear *f);
/* The range of the form, each atom bounded by tt_expr_interval; false when one is not. */
TT_API bool tt_linear_interval(const tt_linear *f, tt_var_bounds_fn bounds, const void *ctx,
                               tt_interval *out);
/* The form as an expression "c1*x1 + c2*x2 - c3*x3 + k", normalised first. New reference. */
TT_API tt_expr *tt_linear_to_expr(tt_linear *f);

/* Structural equality and a total order used for canonical forms (VARs: by name, then by
 * identity). */
TT_API int tt_expr_compare(const tt_expr *a, const tt_expr *b);
TT_API bool tt_expr_equal(const tt_expr *a, const tt_expr *b);

#endif
