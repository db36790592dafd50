/* Tests of ir/analysis.c and ir/analysis_linear.c: floor division against a definitional
 * reference over a grid reaching the int64 extremes, interval arithmetic, ranges of expressions
 * checked against every assignment of their variables, uses and reads, inlining, linear forms,
 * and the epilogue rule of ir/lower.h that lowering and search share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "expr_build.h"
#include "ir/analysis.h"
#include "ir/lower.h"
#include "tt_test.h"
#include "tt_test_ir.h"

/* ---- floor division ---- */

static void test_floordiv_grid(void **state)
{
    (void)state;
    static const int64_t as[] = {INT64_MIN,
                                 INT64_MIN + 1,
                                 -(INT64_C(1) << 40) - 3,
                                 -1000,
                                 -9,
                                 -8,
                                 -7,
                                 -2,
                                 -1,
                                 0,
                                 1,
                                 2,
                                 7,
                                 8,
                                 9,
                                 1000,
                                 (INT64_C(1) << 40) + 3,
                                 INT64_MAX - 1,
                                 INT64_MAX};
    static const int64_t bs[] = {
        INT64_MIN, -(INT64_C(1) << 40), -1000,    -8, -7, -3, -2, -1, 1, 2, 3, 7, 8,
        1000,      INT64_C(1) << 40,    INT64_MAX};
    for (size_t i = 0; i < sizeof as / sizeof *as; i++)
        for (size_t j = 0; j < sizeof bs / sizeof *bs; j++) {
            int64_t a = as[i], b = bs[j];
            __int128 q = ref_floordiv(a, b), r = (__int128)a - q * b;
            bool fits = q >= INT64_MIN && q <= INT64_MAX;
            assert_int_equal(tt_floordiv_fits(a, b), fits);
            if (!fits) { /* only INT64_MIN / -1: the quotient wraps, the remainder is 0 */
                assert_true(a == INT64_MIN && b == -1);
                assert_true(tt_floordiv(a, b) == INT64_MIN);
                assert_true(tt_floormod(a, b) == 0);
                continue;
            }
            if (tt_floordiv(a, b) != (int64_t)q || tt_floormod(a, b) != (int64_t)r)
                fail_msg("%lld fdiv %lld: got %lld rem %lld, want %lld rem %lld", (long long)a,
                         (long long)b, (long long)tt_floordiv(a, b), (long long)tt_floormod(a, b),
                         (long long)q, (long long)r);
            /* the remainder has the divisor's sign and is smaller than it */
            assert_true(b > 0 ? (r >= 0 && r < b) : (r <= 0 && r > b));
        }
    assert_int_equal(tt_floordiv(-7, 2), -4);
    assert_int_equal(tt_floormod(-7, 2), 1);
    assert_int_equal(tt_floormod(7, -2), -1);
    assert_false(tt_floordiv_fits(5, 0));
}

/* ---- intervals ---- */

static void test_interval_ops(void **state)
{
    (void)state;
    tt_interval r;
    assert_true(tt_interval_mul((tt_interval){-3, 2}, (tt_interval){-5, 4}, &r));
    assert_true(r.lo == -12 && r.hi == 15);
    assert_true(tt_interval_sub((tt_interval){0, 4}, (tt_interval){-2, 3}, &r));
    assert_true(r.lo == -3 && r.hi == 6);
    assert_true(tt_interval_neg((tt_interval){-2, 5}, &r));
    assert_true(r.lo == -5 && r.hi == 2);
    assert_false(tt_interval_neg((tt_interval){INT64_MIN, 0}, &r));
    assert_false(tt_interval_add((tt_interval){0, INT64_MAX}, (tt_interval){0, 1}, &r));
    assert_false(
        tt_interval_mul((tt_interval){0, INT64_C(1) << 40}, (tt_interval){0, 1 << 24}, &r));
    /* floor division of negative bounds, down to INT64_MIN (codegen's old range overflowed) */
    r = tt_interval_floordiv((tt_interval){-7, 5}, 2);
    assert_true(r.lo == -4 && r.hi == 2);
    r = tt_interval_floordiv((tt_interval){INT64_MIN, 0}, 3);
    assert_true(r.lo == INT64_MIN / 3 - 1 && r.hi == 0);
    /* one quotient: exact; more: the whole [0, c) */
    r = tt_interval_floormod((tt_interval){-7, -5}, 4);
    assert_true(r.lo == 1 && r.hi == 3);
    r = tt_interval_floormod((tt_interval){-1, 1}, 4);
    assert_true(r.lo == 0 && r.hi == 3);
    r = tt_interval_min((tt_interval){-3, 9}, (tt_interval){0, 4});
    assert_true(r.lo == -3 && r.hi == 4);
    r = tt_interval_max((tt_interval){-3, 9}, (tt_interval){0, 4});
    assert_true(r.lo == 0 && r.hi == 9);
    r = tt_interval_hull((tt_interval){-3, 1}, (tt_interval){5, 6});
    assert_true(r.lo == -3 && r.hi == 6);
}

/* ---- ranges of expressions ---- */

typedef struct {
    tt_expr *x, *y;
    int64_t xv, yv;
} env;

static int64_t eval(const env *v, const tt_expr *e)
{
    tt_expr *vars[2] = {v->x, v->y};
    int64_t vals[2] = {v->xv, v->yv};
    bool ok = true;
    int64_t r = ref_eval(e, 2, vars, vals, &ok);
    assert_true(ok);
    return r;
}

/* A random integer expression over x and y (constants -6..6, divisors 1..5). */
static tt_expr *random_expr(env *v, uint64_t *rng, int depth)
{
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(*rng >> 33);
    if (depth == 0 || r % 9 == 0)
        return r % 3 == 0 ? I((int64_t)(r / 3 % 13) - 6) : R(r % 3 == 1 ? v->x : v->y);
    tt_expr *a = random_expr(v, rng, depth - 1);
    switch (r / 9 % 8) {
    case 0:
        return bin(TT_EXPR_ADD, a, random_expr(v, rng, depth - 1));
    case 1:
        return bin(TT_EXPR_SUB, a, random_expr(v, rng, depth - 1));
    case 2:
        return bin(TT_EXPR_MUL, a, random_expr(v, rng, depth - 1));
    case 3:
        return bin(TT_EXPR_DIV, a, I((int64_t)(r / 72 % 5) + 1));
    case 4:
        return bin(TT_EXPR_MOD, a, I((int64_t)(r / 72 % 5) + 1));
    case 5:
        return bin(TT_EXPR_MIN, a, random_expr(v, rng, depth - 1));
    case 6:
        return bin(TT_EXPR_MAX, a, random_expr(v, rng, depth - 1));
    default: {
        tt_expr *c = bin(TT_EXPR_LT, random_expr(v, rng, depth - 1), R(v->x));
        return sel(c, a, random_expr(v, rng, depth - 1));
    }
    }
}

/* Every value an expression takes over x in [-5, 3], y in [-2, 4] lies in its interval, and the
 * interval is tight for the nodes whose rule is exact (checked on the examples below). */
static void test_interval_random(void **state)
{
    (void)state;
    env v = {tt_expr_var("x", TT_DT_I64), tt_expr_var("y", TT_DT_I64), 0, 0};
    tt_var_range rg[2] = {{v.x, -5, 3}, {v.y, -2, 4}};
    uint64_t rng = 7;
    int bounded = 0;
    for (int n = 0; n < 400; n++) {
        tt_expr *e = random_expr(&v, &rng, 4);
        int64_t lo, hi;
        if (tt_expr_bounds(e, 2, rg, &lo, &hi)) {
            bounded++;
            for (v.xv = -5; v.xv <= 3; v.xv++)
                for (v.yv = -2; v.yv <= 4; v.yv++) {
                    int64_t val = eval(&v, e);
                    if (val < lo || val > hi)
                        fail_msg("expression %d: value %lld at x=%lld y=%lld outside [%lld, %lld]",
                                 n, (long long)val, (long long)v.xv, (long long)v.yv, (long long)lo,
                                 (long long)hi);
                }
        }
        tt_expr_release(e);
    }
    assert_int_equal(bounded, 400); /* all variables bounded: every expression is */
    tt_expr_release(v.x);
    tt_expr_release(v.y);
}

static void expect_bounds(tt_expr *e, int n, const tt_var_range *rg, int64_t lo, int64_t hi)
{
    int64_t l, h;
    assert_true(tt_expr_bounds(e, n, rg, &l, &h));
    if (l != lo || h != hi)
        fail_msg("got [%lld, %lld], want [%lld, %lld]", (long long)l, (long long)h, (long long)lo,
                 (long long)hi);
    tt_expr_release(e);
}

static void test_interval_cases(void **state)
{
    (void)state;
    tt_expr *x = tt_expr_var("x", TT_DT_I64), *y = tt_expr_var("y", TT_DT_I64);
    tt_var_range rg[2] = {{x, -7, 5}, {y, 8, 11}};
    /* negative coefficients */
    expect_bounds(bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(x), I(-3)), R(y)), 2, rg, -7, 32);
    /* floor division and modulo of negative values */
    expect_bounds(bin(TT_EXPR_DIV, R(x), I(2)), 2, rg, -4, 2);
    expect_bounds(bin(TT_EXPR_MOD, R(x), I(4)), 2, rg, 0, 3);
    expect_bounds(bin(TT_EXPR_MOD, bin(TT_EXPR_SUB, R(x), I(10)), I(32)), 2, rg, 15, 27);
    /* one quotient: [8, 11] % 8 is [0, 3] (codegen's old range said [0, 7]) */
    expect_bounds(bin(TT_EXPR_MOD, R(y), I(8)), 2, rg, 0, 3);
    /* a remainder is bounded even when its dividend is not */
    tt_expr *z = tt_expr_var("z", TT_DT_I64);
    expect_bounds(bin(TT_EXPR_MOD, R(z), I(6)), 2, rg, 0, 5);
    int64_t lo, hi;
    tt_expr *e = bin(TT_EXPR_DIV, R(z), I(6));
    assert_false(tt_expr_bounds(e, 2, rg, &lo, &hi));
    tt_expr_release(e);
    /* min, max, select (codegen's old range could not bound a select) */
    expect_bounds(bin(TT_EXPR_MIN, R(x), R(y)), 2, rg, -7, 5);
    expect_bounds(bin(TT_EXPR_MAX, R(x), I(0)), 2, rg, 0, 5);
    expect_bounds(sel(bin(TT_EXPR_LT, R(x), I(0)), R(y), bin(TT_EXPR_SUB, I(0), R(x))), 2, rg, -5,
                  11);
    /* the innermost range of a variable wins */
    tt_var_range two[2] = {{x, 0, 100}, {x, 2, 3}};
    expect_bounds(R(x), 2, two, 2, 3);
    /* int32 arithmetic wraps: not bounded */
    tt_expr *w = tt_expr_var("w", TT_DT_I32);
    tt_var_range wr[1] = {{w, 0, 10}};
    e = bin(TT_EXPR_ADD, R(w), tt_expr_int_typed(1, TT_DT_I32));
    assert_false(tt_expr_bounds(e, 1, wr, &lo, &hi));
    tt_expr_release(e);
    /* overflow is not a range */
    tt_var_range big[1] = {{x, 0, INT64_MAX / 2}};
    e = bin(TT_EXPR_MUL, R(x), I(4));
    assert_false(tt_expr_bounds(e, 1, big, &lo, &hi));
    tt_expr_release(e);
    tt_expr_release(w);
    tt_expr_release(z);
    tt_expr_release(x);
    tt_expr_release(y);
}

/* ---- uses, reads, inlining ---- */

static bool named_z(const void *ctx, const tt_expr *v)
{
    (void)ctx;
    return v->name[0] == 'z';
}

static bool count_read(void *ctx, const tt_expr *read)
{
    int *n = ctx;
    (*n)++;
    return read->kind != TT_EXPR_LOAD; /* stop at the first load */
}

static void test_uses_and_reads(void **state)
{
    (void)state;
    tt_expr *x = tt_expr_var("x", TT_DT_I64), *y = tt_expr_var("y", TT_DT_I64);
    tt_expr *x2 = tt_expr_var("x", TT_DT_I64); /* same name, another variable */
    tt_expr *e = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(x), I(4)), bin(TT_EXPR_DIV, R(y), I(2)));
    assert_true(tt_expr_uses_var(e, x));
    assert_true(tt_expr_uses_var(e, y));
    assert_false(tt_expr_uses_var(e, x2));
    assert_false(tt_expr_any_var(e, named_z, NULL));
    tt_expr *z = tt_expr_var("z", TT_DT_I64);
    tt_expr *ez = bin(TT_EXPR_MIN, R(e), R(z));
    assert_true(tt_expr_any_var(ez, named_z, NULL));
    assert_false(tt_expr_loads(ez));

    /* int64 tensors, so that a read and an index add up */
    int64_t shape[2] = {4, 5};
    tt_tensor *A = tt_tensor_new("A", TT_DT_I64, 2, shape),
              *B = tt_tensor_new("B", TT_DT_I64, 2, shape);
    tt_buffer *buf = tt_buffer_new("L", TT_DT_I64, 1, shape, TT_SCOPE_GLOBAL);
    tt_expr *idx[2] = {x, y};
    tt_expr *read = tt_expr_access(A, 2, idx), *load = tt_expr_load(buf, e);
    tt_expr *sum = bin(TT_EXPR_ADD, R(read), R(load));
    assert_true(tt_expr_reads(sum, A));
    assert_false(tt_expr_reads(sum, B));
    assert_true(tt_expr_loads(sum));
    int n = 0;
    assert_false(tt_expr_each_read(sum, count_read, &n)); /* stopped at the load */
    assert_int_equal(n, 2);

    /* inlining A[i, j] = i * 10 + j as a value: A[x, y] + L[..] becomes (x*10 + y) + L[..] */
    tt_iter_var *ax[2] = {tt_iter_var_new("i", 4, TT_AXIS_SPATIAL),
                          tt_iter_var_new("j", 5, TT_AXIS_SPATIAL)};
    tt_expr *body = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(ax[0]->var), I(10)), R(ax[1]->var));
    tt_expr *in = tt_expr_inline_reads(sum, A, ax, body);
    assert_non_null(in);
    assert_false(tt_expr_reads(in, A));
    assert_true(tt_expr_uses_var(in, x) && tt_expr_uses_var(in, y));
    assert_false(tt_expr_uses_var(in, ax[0]->var));
    assert_true(in->args[1] == load); /* untouched operands are shared */
    tt_expr *want = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(x), I(10)), R(y));
    assert_true(tt_expr_equal(in->args[0], want));

    tt_expr_release(want);
    tt_expr_release(in);
    tt_expr_release(body);
    tt_iter_var_release(ax[0]);
    tt_iter_var_release(ax[1]);
    tt_expr_release(sum);
    tt_expr_release(read);
    tt_expr_release(load);
    tt_buffer_release(buf);
    tt_tensor_release(A);
    tt_tensor_release(B);
    tt_expr_release(ez);
    tt_expr_release(z);
    tt_expr_release(e);
    tt_expr_release(x);
    tt_expr_release(x2);
    tt_expr_release(y);
}

/* ---- linear forms ---- */

static int64_t coef_of(const tt_linear *f, const tt_expr *atom)
{
    int64_t c = 0;
    for (int i = 0; i < f->n; i++)
        if (tt_expr_equal(f->t[i].atom, atom))
            c += f->t[i].coef;
    return c;
}

static bool k_is_7(const void *ctx, const tt_expr *var, int64_t *v)
{
    *v = 7;
    return var == ctx;
}

static void test_linear_forms(void **state)
{
    (void)state;
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *j = tt_expr_var("j", TT_DT_I64);
    tt_expr *k = tt_expr_var("k", TT_DT_I64);
    /* (i*4 + j)*3 - 2*(i - 5) = 10*i + 3*j + 10 */
    tt_expr *e = bin(TT_EXPR_SUB,
                     bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i), I(4)), R(j)), I(3)),
                     bin(TT_EXPR_MUL, I(2), bin(TT_EXPR_SUB, R(i), I(5))));
    tt_linear f = {0};
    tt_linear_of(e, NULL, &f);
    assert_false(f.bad);
    assert_int_equal(coef_of(&f, i), 10);
    assert_int_equal(coef_of(&f, j), 3);
    assert_int_equal(f.c, 10);
    /* the form's range is exact (i in [0, 3], j in [-2, 2]: [4, 46]); the tree's interval
     * arithmetic counts i twice and is wider, but holds it */
    tt_var_range rg[2] = {{i, 0, 3}, {j, -2, 2}};
    tt_var_ranges l = {2, rg};
    tt_interval r;
    assert_true(tt_linear_interval(&f, tt_var_ranges_bounds, &l, &r));
    assert_true(r.lo == 4 && r.hi == 46);
    int64_t lo, hi;
    assert_true(tt_expr_bounds(e, 2, rg, &lo, &hi));
    assert_true(lo <= 4 && hi >= 46 && (lo < 4 || hi > 46));
    /* back to an expression: the canonical sum, equal in value */
    tt_expr *back = tt_linear_to_expr(&f);
    tt_linear g = {0};
    tt_linear_of(back, NULL, &g);
    assert_int_equal(coef_of(&g, i), 10);
    assert_int_equal(coef_of(&g, j), 3);
    assert_int_equal(g.c, 10);
    tt_linear_free(&g);
    tt_expr_release(back);
    tt_linear_free(&f);
    tt_expr_release(e);

    /* a constant side may be an expression: (2 + 3) * (i - k), with k known to be 7 */
    e = bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, I(2), I(3)), bin(TT_EXPR_SUB, R(i), R(k)));
    tt_linear_hooks h = {k_is_7, NULL, k};
    tt_linear_of(e, &h, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(coef_of(&g, i), 5);
    assert_int_equal(g.c, -35);
    tt_linear_free(&g);
    tt_expr_release(e);

    /* atoms: a product of two variable forms and a floor division stay whole, equal ones merge:
     * i*j + (i/4)*-6 - (i/4)*2 = i*j - 8*(i/4) */
    tt_expr *ij = bin(TT_EXPR_MUL, R(i), R(j)), *q = bin(TT_EXPR_DIV, R(i), I(4));
    e = bin(TT_EXPR_SUB, bin(TT_EXPR_ADD, R(ij), bin(TT_EXPR_MUL, R(q), I(-6))),
            bin(TT_EXPR_MUL, bin(TT_EXPR_DIV, R(i), I(4)), I(2)));
    tt_linear_of(e, NULL, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(coef_of(&g, ij), 1);
    assert_int_equal(coef_of(&g, q), -8);
    /* i in [-5, 3], j in [0, 2]: i*j in [-10, 6]; i/4 in [-2, 0] so -8*(i/4) in [0, 16] */
    tt_var_range rg2[2] = {{i, -5, 3}, {j, 0, 2}};
    l = (tt_var_ranges){2, rg2};
    assert_true(tt_linear_interval(&g, tt_var_ranges_bounds, &l, &r));
    assert_true(r.lo == -10 && r.hi == 22);
    tt_linear_free(&g);
    tt_expr_release(e);

    /* overflow makes the form bad, never wrong */
    e = bin(TT_EXPR_MUL, bin(TT_EXPR_MUL, R(i), I(INT64_C(1) << 40)), I(1 << 30));
    tt_linear_of(e, NULL, &g);
    assert_true(g.bad);
    tt_linear_free(&g);
    tt_expr_release(e);

    tt_expr_release(ij);
    tt_expr_release(q);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_expr_release(k);
}

/* ---- the epilogue rule ---- */

static void expect_epilogue(const char *text, const char *inputs, const bool *inlined, int want)
{
    tt_compute *c = tt_test_parse(text, inputs);
    assert_non_null(c);
    bool none[8] = {false};
    int p = -2;
    assert_int_equal(tt_lower_epilogue(c, inlined ? inlined : none, &p), 0);
    if (p != want)
        fail_msg("%s: epilogue of stage %d, want %d", text, p, want);
    tt_compute_release(c);
}

static void test_epilogue_rule(void **state)
{
    (void)state;
    /* the output reads the reduction at its own indices: fused into it */
    expect_epilogue("T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)",
                    "A:6x4,B:4x5,b:5", NULL, 0);
    /* a reduction output never fuses */
    expect_epilogue("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:6x4,B:4x5", NULL, -1);
    /* shifted reads are not the output's own indices */
    expect_epilogue("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:9x12", NULL, -1);
    /* through an inlined stage: C reads U, inlined, which reads T at C's indices */
    static const bool u_inlined[3] = {false, true, false};
    const char *chain = "T[i, j] = sum(k, A[i, k] * B[k, j]); U[i, j] = T[i, j] * 2.0; "
                        "C[i, j] = U[i, j] + 1.0";
    expect_epilogue(chain, "A:6x4,B:4x5", u_inlined, 0);
    /* U not inlined: the latest stage read is U */
    expect_epilogue(chain, "A:6x4,B:4x5", NULL, 1);
    /* the output also reads a later stage that is not inlined: no fusion */
    expect_epilogue("T[i, j] = sum(k, A[i, k] * B[k, j]); R[i, j] = sum(k, A[i, k] * B[k, j]) "
                    "+ A[i, 0]; C[i, j] = T[i, j] + R[i, j + 1]",
                    "A:6x4,B:4x6", NULL, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floordiv_grid),   cmocka_unit_test(test_interval_ops),
        cmocka_unit_test(test_interval_random), cmocka_unit_test(test_interval_cases),
        cmocka_unit_test(test_uses_and_reads),  cmocka_unit_test(test_linear_forms),
        cmocka_unit_test(test_epilogue_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
