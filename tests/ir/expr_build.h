/* Building and evaluating expressions in tests (header only): the operand-stealing constructors
 * IR and codegen tests write trees with, and a reference evaluator of integer expressions whose
 * floor division follows its definition, independent of the library's. */
#ifndef TT_TESTS_IR_EXPR_BUILD_H
#define TT_TESTS_IR_EXPR_BUILD_H

#include <stdbool.h>

#include "ir/ir.h"

static inline tt_expr *I(int64_t v)
{
    return tt_expr_int(v);
}
static inline tt_expr *R(tt_expr *e)
{
    return tt_expr_retain(e);
}

/* a k b, releasing a and b (NULL when the node cannot be built). */
static inline tt_expr *bin(tt_expr_kind k, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(k, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    return e;
}

/* c ? a : b, releasing its operands. */
static inline tt_expr *sel(tt_expr *c, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_select(c, a, b);
    tt_expr_release(c);
    tt_expr_release(a);
    tt_expr_release(b);
    return e;
}

/* The q with q*b <= a < (q+1)*b (b > 0) or q*b >= a > (q+1)*b (b < 0): the truncating quotient in
 * 128 bits moved until the definition holds. */
static inline __int128 ref_floordiv(int64_t a, int64_t b)
{
    __int128 q = (__int128)a / b, A = a, B = b;
    while (B > 0 ? q * B > A : q * B < A)
        q--;
    while (B > 0 ? (q + 1) * B <= A : (q + 1) * B >= A)
        q++;
    return q;
}

/* The value of integer expression e with vars[i] = vals[i]; *ok = false for a node it does not
 * know (a variable not given, a float, a load). */
static inline int64_t ref_eval(const tt_expr *e, int n, tt_expr *const *vars, const int64_t *vals,
                               bool *ok)
{
    int64_t a = e->nargs > 0 ? ref_eval(e->args[0], n, vars, vals, ok) : 0;
    int64_t b =
        e->nargs > 1 && e->kind != TT_EXPR_SELECT ? ref_eval(e->args[1], n, vars, vals, ok) : 0;
    switch (e->kind) {
    case TT_EXPR_INT:
        return e->ival;
    case TT_EXPR_VAR:
        for (int i = 0; i < n; i++)
            if (vars[i] == e)
                return vals[i];
        break;
    case TT_EXPR_ADD:
        return a + b;
    case TT_EXPR_SUB:
        return a - b;
    case TT_EXPR_MUL:
        return a * b;
    case TT_EXPR_DIV:
        return (int64_t)ref_floordiv(a, b);
    case TT_EXPR_MOD:
        return (int64_t)(a - ref_floordiv(a, b) * b);
    case TT_EXPR_MIN:
        return a < b ? a : b;
    case TT_EXPR_MAX:
        return a > b ? a : b;
    case TT_EXPR_EQ:
        return a == b;
    case TT_EXPR_NE:
        return a != b;
    case TT_EXPR_LT:
        return a < b;
    case TT_EXPR_LE:
        return a <= b;
    case TT_EXPR_GT:
        return a > b;
    case TT_EXPR_GE:
        return a >= b;
    case TT_EXPR_AND:
        return a && b;
    case TT_EXPR_OR:
        return a || b;
    case TT_EXPR_NOT:
        return !a;
    case TT_EXPR_SELECT:
        return a ? ref_eval(e->args[1], n, vars, vals, ok)
                 : ref_eval(e->args[2], n, vars, vals, ok);
    default:
        break;
    }
    *ok = false;
    return 0;
}

#endif
