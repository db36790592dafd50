/* Tests of ir/simplify.c: constant folding, canonical affine forms, floor div/mod under ranges,
 * guard removal in statements, and random expressions evaluated before and after
 * simplification over many random assignments of their variables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expr_build.h"
#include "ir/printer.h"
#include "ir/simplify.h"

/* The printer parenthesises a binary node; the outermost pair says nothing here. */
static void strip_outer(char *t)
{
    size_t n = strlen(t);
    if (n < 2 || t[0] != '(' || t[n - 1] != ')')
        return;
    int depth = 0;
    for (size_t i = 0; i < n - 1; i++) {
        depth += t[i] == '(' ? 1 : t[i] == ')' ? -1 : 0;
        if (depth == 0)
            return; /* "(a) + (b)" */
    }
    memmove(t, t + 1, n - 2);
    t[n - 2] = 0;
}

static void expect(tt_expr *e, int n, const tt_var_range *r, const char *want)
{
    tt_expr *s = tt_simplify_ranged(e, n, r);
    assert_non_null(s);
    char *txt = tt_expr_str(s);
    strip_outer(txt);
    if (strcmp(txt, want) != 0)
        printf("got %s, want %s\n", txt, want);
    assert_string_equal(txt, want);
    free(txt);
    tt_expr_release(s);
    tt_expr_release(e);
}

static void test_folding(void **state)
{
    (void)state;
    tt_expr *x = tt_expr_var("x", TT_DT_I64);
    expect(bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, I(2), I(3)), R(x)), 0, NULL, "x*5");
    expect(bin(TT_EXPR_SUB, R(x), R(x)), 0, NULL, "0");
    expect(bin(TT_EXPR_DIV, I(-7), I(2)), 0, NULL, "-4"); /* floor */
    expect(bin(TT_EXPR_MOD, I(-7), I(2)), 0, NULL, "1");
    expect(bin(TT_EXPR_LT, I(3), I(4)), 0, NULL, "1");
    tt_expr *f = tt_expr_var("f", TT_DT_F32);
    expect(bin(TT_EXPR_MUL, R(f), tt_expr_float(1.0, TT_DT_F32)), 0, NULL, "f");
    expect(bin(TT_EXPR_ADD, tt_expr_float(1.5, TT_DT_F32), tt_expr_float(2.0, TT_DT_F32)), 0, NULL,
           "3.5");
    expect(sel(bin(TT_EXPR_LT, I(1), I(0)), R(f), tt_expr_float(0, TT_DT_F32)), 0, NULL, "0.0");
    tt_expr_release(f);
    tt_expr_release(x);
}

static void test_affine_canonical(void **state)
{
    (void)state;
    tt_expr *i0 = tt_expr_var("i.0", TT_DT_I64), *i1 = tt_expr_var("i.1", TT_DT_I64),
            *j = tt_expr_var("j", TT_DT_I64);
    /* (i.0*16 + i.1)*64 + j */
    expect(bin(TT_EXPR_ADD,
               bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i0), I(16)), R(i1)), I(64)),
               R(j)),
           0, NULL, "i.0*1024 + i.1*64 + j");
    /* j + 3 - (2 - i.1) - j*2 + 1 */
    expect(bin(TT_EXPR_ADD,
               bin(TT_EXPR_SUB,
                   bin(TT_EXPR_SUB, bin(TT_EXPR_ADD, R(j), I(3)), bin(TT_EXPR_SUB, I(2), R(i1))),
                   bin(TT_EXPR_MUL, R(j), I(2))),
               I(1)),
           0, NULL, "i.1 - j + 2");
    tt_var_range r[2] = {{i0, 0, 7}, {i1, 0, 15}};
    tt_expr *idx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i0), I(16)), R(i1));
    expect(bin(TT_EXPR_DIV, R(idx), I(16)), 2, r, "i.0");
    expect(bin(TT_EXPR_MOD, R(idx), I(16)), 2, r, "i.1");
    expect(bin(TT_EXPR_DIV, R(idx), I(4)), 2, r, "i.0*4 + i.1/4");
    expect(bin(TT_EXPR_MOD, bin(TT_EXPR_ADD, R(idx), I(32)), I(16)), 2, r, "i.1");
    /* Divisions compose. */
    expect(bin(TT_EXPR_DIV, bin(TT_EXPR_DIV, R(j), I(4)), I(8)), 0, NULL, "j/32");
    expect(bin(TT_EXPR_MOD, bin(TT_EXPR_MOD, R(j), I(12)), I(4)), 0, NULL, "j%4");
    expect(bin(TT_EXPR_MOD, bin(TT_EXPR_MOD, R(j), I(12)), I(5)), 0, NULL, "j%12%5");
    /* Without ranges only the exact part comes out. */
    expect(bin(TT_EXPR_DIV, R(idx), I(16)), 0, NULL, "i.0 + i.1/16");
    /* Guards the ranges prove, and ones they do not. */
    expect(bin(TT_EXPR_LT, R(idx), I(128)), 2, r, "1");
    expect(bin(TT_EXPR_GE, R(idx), I(0)), 2, r, "1");
    expect(bin(TT_EXPR_LT, R(idx), I(100)), 2, r, "i.0*16 + i.1 < 100");
    expect(bin(TT_EXPR_MIN, R(i1), I(20)), 2, r, "i.1");
    tt_expr_release(idx);
    tt_expr_release(i0);
    tt_expr_release(i1);
    tt_expr_release(j);
}

static int count_ifs(const tt_stmt *s)
{
    if (!s)
        return 0;
    int n = s->kind == TT_STMT_IF;
    n += count_ifs(s->body) + count_ifs(s->then_s) + count_ifs(s->else_s);
    for (int i = 0; i < s->nstmts; i++)
        n += count_ifs(s->stmts[i]);
    return n;
}

static void test_guard_removal(void **state)
{
    (void)state;
    int64_t shape[1] = {16};
    tt_buffer *b = tt_buffer_new("B", TT_DT_F32, 1, shape, TT_SCOPE_GLOBAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *j = tt_expr_var("j", TT_DT_I64);
    tt_expr *idx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i), I(4)), R(j));
    tt_expr *one = tt_expr_float(1, TT_DT_F32);
    tt_stmt *st = tt_stmt_store(b, idx, one);
    for (int bound = 16; bound >= 15; bound--) {
        tt_expr *cond = bin(TT_EXPR_LT, R(idx), I(bound));
        tt_stmt *g = tt_stmt_if(cond, st, NULL);
        tt_expr *e4 = I(4);
        tt_stmt *lj = tt_stmt_for(j, e4, TT_FOR_SERIAL, g);
        tt_stmt *li = tt_stmt_for(i, e4, TT_FOR_SERIAL, lj);
        tt_stmt *s = tt_simplify_stmt(li);
        assert_int_equal(count_ifs(s), bound == 16 ? 0 : 1);
        tt_stmt_release(s);
        tt_stmt_release(li);
        tt_stmt_release(lj);
        tt_stmt_release(g);
        tt_expr_release(e4);
        tt_expr_release(cond);
    }
    /* A constant false IF disappears with its body; an empty loop goes too. */
    tt_expr *f = tt_expr_int_typed(0, TT_DT_BOOL);
    tt_stmt *g = tt_stmt_if(f, st, NULL), *s = tt_simplify_stmt(g);
    assert_int_equal(s->kind, TT_STMT_SEQ);
    assert_int_equal(s->nstmts, 0);
    tt_stmt_release(s);
    tt_stmt_release(g);
    tt_expr_release(f);
    tt_stmt_release(st);
    tt_expr_release(one);
    tt_expr_release(idx);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_buffer_release(b);
}

/* ---- random expressions ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static int64_t rnd(int64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int64_t)(rng % (uint64_t)n);
}

#define NV 3
static tt_expr *vars[NV];
static int64_t vals[NV];

static int64_t eval(const tt_expr *e)
{
    bool ok = true;
    int64_t v = ref_eval(e, NV, vars, vals, &ok);
    if (!ok)
        fail_msg("cannot evaluate %s", tt_expr_kind_name(e->kind));
    return v;
}

static tt_expr *gen_int(int depth);

static tt_expr *gen_bool(int depth)
{
    static const tt_expr_kind cmp[] = {TT_EXPR_EQ, TT_EXPR_NE, TT_EXPR_LT,
                                       TT_EXPR_LE, TT_EXPR_GT, TT_EXPR_GE};
    int r = (int)rnd(depth > 0 ? 4 : 1);
    if (r == 1)
        return bin(rnd(2) ? TT_EXPR_AND : TT_EXPR_OR, gen_bool(depth - 1), gen_bool(depth - 1));
    if (r == 2) {
        tt_expr *a = gen_bool(depth - 1), *n = tt_expr_not(a);
        tt_expr_release(a);
        return n;
    }
    return bin(cmp[rnd(6)], gen_int(depth - 1), gen_int(depth - 1));
}

static tt_expr *gen_int(int depth)
{
    int r = (int)rnd(depth > 0 ? 9 : 2);
    switch (r) {
    case 0:
        return I(rnd(21) - 10);
    case 1:
        return R(vars[rnd(NV)]);
    case 2:
        return bin(TT_EXPR_ADD, gen_int(depth - 1), gen_int(depth - 1));
    case 3:
        return bin(TT_EXPR_SUB, gen_int(depth - 1), gen_int(depth - 1));
    case 4:
        return bin(TT_EXPR_MUL, gen_int(depth - 1), I(rnd(9) - 4));
    case 5:
        return bin(TT_EXPR_DIV, gen_int(depth - 1), I(rnd(8) + 1));
    case 6:
        return bin(TT_EXPR_MOD, gen_int(depth - 1), I(rnd(8) + 1));
    case 7:
        return bin(rnd(2) ? TT_EXPR_MIN : TT_EXPR_MAX, gen_int(depth - 1), gen_int(depth - 1));
    default: {
        tt_expr *c = gen_bool(depth - 1), *a = gen_int(depth - 1), *b = gen_int(depth - 1);
        tt_expr *s = tt_expr_select(c, a, b);
        tt_expr_release(c);
        tt_expr_release(a);
        tt_expr_release(b);
        return s;
    }
    }
}

static void test_random_equivalence(void **state)
{
    (void)state;
    const char *names[NV] = {"x", "y", "z"};
    for (int i = 0; i < NV; i++)
        vars[i] = tt_expr_var(names[i], TT_DT_I64);
    int changed = 0;
    for (int t = 0; t < 3000; t++) {
        tt_var_range r[NV];
        for (int i = 0; i < NV; i++) {
            int64_t lo = rnd(3) == 0 ? -rnd(10) : 0;
            r[i] = (tt_var_range){vars[i], lo, lo + rnd(20)};
        }
        bool ranged = rnd(4) != 0;
        tt_expr *e = t % 3 == 0 ? gen_bool(4) : gen_int(5);
        tt_expr *s = ranged ? tt_simplify_ranged(e, NV, r) : tt_simplify(e);
        assert_non_null(s);
        changed += !tt_expr_equal(e, s);
        for (int k = 0; k < 40; k++) {
            for (int i = 0; i < NV; i++)
                vals[i] = r[i].lo + rnd(r[i].hi - r[i].lo + 1);
            int64_t a = eval(e), b = eval(s);
            if (a != b) {
                char *te = tt_expr_str(e), *ts = tt_expr_str(s);
                printf("x=%lld y=%lld z=%lld (%s): %s = %lld but %s = %lld\n", (long long)vals[0],
                       (long long)vals[1], (long long)vals[2], ranged ? "ranged" : "free", te,
                       (long long)a, ts, (long long)b);
                free(te);
                free(ts);
            }
            assert_int_equal(a, b);
        }
        tt_expr_release(e);
        tt_expr_release(s);
    }
    assert_true(changed > 1000); /* the simplifier did something */
    for (int i = 0; i < NV; i++)
        tt_expr_release(vars[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_affine_canonical),
        cmocka_unit_test(test_guard_removal),
        cmocka_unit_test(test_random_equivalence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
