/* Building expressions in IR tests (header only; include after <cmocka.h>): the operand-stealing
 * constructors the tests write trees with. Each asserts that the node was built. */
#ifndef TT_TESTS_IR_EXPR_BUILD_H
#define TT_TESTS_IR_EXPR_BUILD_H

#include "ir/ir.h"

static inline tt_expr *I(int64_t v)
{
    return tt_expr_int(v);
}
static inline tt_expr *R(tt_expr *e)
{
    return tt_expr_retain(e);
}

/* a k b, releasing a and b. */
static inline tt_expr *bin(tt_expr_kind k, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(k, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

/* c ? a : b, releasing its operands. */
static inline tt_expr *sel(tt_expr *c, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_select(c, a, b);
    tt_expr_release(c);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

#endif
