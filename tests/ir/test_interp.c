/* Tests ir/interp.c, the reference interpreter: hand-built loop nests and compute definitions
 * against direct C loops on random inputs, expression semantics (floor division, casts, lazy
 * select), local buffers, and the errors (out-of-bounds, unbound variables, division by zero). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "ir/interp.h"
#include "tt_test.h"

/* ---- builders that steal their expression/statement operands (keeps the tests short) ---- */

static tt_expr *I(int64_t v)
{
    return tt_expr_int(v);
}
static tt_expr *F(double v)
{
    return tt_expr_float(v, TT_DT_F32);
}
static tt_expr *D(double v)
{
    return tt_expr_float(v, TT_DT_F64);
}
static tt_expr *R(tt_expr *v)
{
    return tt_expr_retain(v);
} /* a new reference to a shared var */

static tt_expr *bin(tt_expr_kind k, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(k, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}
static tt_expr *add(tt_expr *a, tt_expr *b)
{
    return bin(TT_EXPR_ADD, a, b);
}
static tt_expr *mul(tt_expr *a, tt_expr *b)
{
    return bin(TT_EXPR_MUL, a, b);
}

static tt_expr *ld(tt_buffer *b, tt_expr *idx)
{
    tt_expr *e = tt_expr_load(b, idx);
    tt_expr_release(idx);
    assert_non_null(e);
    return e;
}

static tt_expr *sel(tt_expr *c, tt_expr *t, tt_expr *f)
{
    tt_expr *e = tt_expr_select(c, t, f);
    tt_expr_release(c);
    tt_expr_release(t);
    tt_expr_release(f);
    assert_non_null(e);
    return e;
}

static tt_expr *not_(tt_expr *a)
{
    tt_expr *e = tt_expr_not(a);
    tt_expr_release(a);
    assert_non_null(e);
    return e;
}

static tt_expr *call1(const char *name, tt_expr *a)
{
    tt_expr *e = tt_expr_call(name, a->dtype, 1, &a);
    tt_expr_release(a);
    assert_non_null(e);
    return e;
}

static tt_expr *cast(DLDataType t, tt_expr *a)
{
    tt_expr *e = tt_expr_cast(t, a);
    tt_expr_release(a);
    assert_non_null(e);
    return e;
}

static tt_stmt *st(tt_buffer *b, tt_expr *idx, tt_expr *v)
{
    tt_stmt *s = tt_stmt_store(b, idx, v);
    tt_expr_release(idx);
    tt_expr_release(v);
    assert_non_null(s);
    return s;
}

static tt_stmt *loop(tt_expr *var, int64_t extent, tt_stmt *body)
{
    tt_expr *e = I(extent);
    tt_stmt *s = tt_stmt_for(var, e, TT_FOR_SERIAL, body);
    tt_expr_release(e);
    tt_stmt_release(body);
    assert_non_null(s);
    return s;
}

static tt_stmt *seq(int n, ...)
{
    tt_stmt *items[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        items[i] = va_arg(ap, tt_stmt *);
    va_end(ap);
    tt_stmt *s = tt_stmt_seq(n, items);
    for (int i = 0; i < n; i++)
        tt_stmt_release(items[i]);
    assert_non_null(s);
    return s;
}

static tt_buffer *buf(const char *name, DLDataType t, int64_t n, tt_scope scope)
{
    tt_buffer *b = tt_buffer_new(name, t, 1, &n, scope);
    assert_non_null(b);
    return b;
}

static tt_expr *var(const char *name)
{
    tt_expr *v = tt_expr_var(name, TT_DT_I64);
    assert_non_null(v);
    return v;
}

static void fill_random(float *x, int64_t n, unsigned seed)
{
    srand(seed);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
}

static void ref_matmul(const float *A, const float *B, float *C, int M, int N, int K)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)A[i * K + k] * B[k * N + j];
            C[i * N + j] = (float)acc;
        }
}

static void assert_close(const float *got, const float *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol * (1 + fabs((double)want[i]))))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got[i], want[i]);
}

/* x*n + y, or y + x*n when swapped: the interpreter folds the two orders differently */
static tt_expr *flat2(tt_expr *x, int64_t n, tt_expr *y, bool swapped)
{
    return swapped ? add(R(y), mul(R(x), I(n))) : add(mul(R(x), I(n)), R(y));
}

/* C[i*N + j] = 0; for k: C[i*N + j] = C[i*N + j] + A[i*K + k] * B[k*N + j] */
static tt_kernel *matmul_kernel_terms(int M, int N, int K, bool swapped)
{
    tt_buffer *A = buf("A", TT_DT_F32, (int64_t)M * K, TT_SCOPE_GLOBAL);
    tt_buffer *B = buf("B", TT_DT_F32, (int64_t)K * N, TT_SCOPE_GLOBAL);
    tt_buffer *C = buf("C", TT_DT_F32, (int64_t)M * N, TT_SCOPE_GLOBAL);
    tt_expr *i = var("i"), *j = var("j"), *k = var("k");
    tt_stmt *init = st(C, flat2(i, N, j, swapped), F(0));
    tt_expr *a = ld(A, flat2(i, K, k, swapped));
    tt_expr *b = ld(B, flat2(k, N, j, swapped));
    tt_expr *c = ld(C, flat2(i, N, j, swapped));
    tt_stmt *upd = st(C, flat2(i, N, j, swapped), add(c, mul(a, b)));
    tt_stmt *body = loop(i, M, loop(j, N, seq(2, init, loop(k, K, upd))));
    tt_buffer *params[3] = {A, B, C};
    tt_kernel *kern = tt_kernel_new("matmul", 3, params, body);
    assert_non_null(kern);
    tt_stmt_release(body);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_expr_release(k);
    tt_buffer_release(A);
    tt_buffer_release(B);
    tt_buffer_release(C);
    return kern;
}

static tt_kernel *matmul_kernel(int M, int N, int K)
{
    return matmul_kernel_terms(M, N, K, false);
}

static void test_matmul_loop_nest(void **state)
{
    (void)state;
    const int shapes[][3] = {{13, 17, 19}, {64, 64, 64}};
    for (int s = 0; s < 2; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C = malloc(sizeof(float) * M * N), *W = malloc(sizeof(float) * M * N);
        fill_random(A, M * K, 1);
        fill_random(B, K * N, 2);
        ref_matmul(A, B, W, M, N, K);
        tt_kernel *k = matmul_kernel(M, N, K);
        void *args[3] = {A, B, C};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(tt_kernel_interp(k, args), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_close(C, W, M * N, 1e-5);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (M == 64)
            printf("interp: 64^3 matmul in %.2f ms, %.1f M multiply-adds/s\n", sec * 1e3,
                   (double)M * N * K / sec / 1e6);
        tt_kernel_release(k);
        memset(C, 0, sizeof(float) * M * N);
        k = matmul_kernel_terms(M, N, K, true);
        assert_int_equal(tt_kernel_interp(k, args), 0);
        assert_close(C, W, M * N, 1e-5);
        tt_kernel_release(k);
        free(A);
        free(B);
        free(C);
        free(W);
    }
}

/* for io in 0..3, ii in 0..4: if (io*4 + ii < 10) Y[io*4+ii] = X[io*4+ii] * 2; the tail is
 * guarded; then Z[i] = select(i >= 1, X[i - 1], 0): the select must not evaluate X[-1]. */
static void test_guards_and_lazy_select(void **state)
{
    (void)state;
    tt_buffer *X = buf("X", TT_DT_F32, 10, TT_SCOPE_GLOBAL);
    tt_buffer *Y = buf("Y", TT_DT_F32, 12, TT_SCOPE_GLOBAL);
    tt_buffer *Z = buf("Z", TT_DT_F32, 10, TT_SCOPE_GLOBAL);
    tt_expr *io = var("io"), *ii = var("ii"), *i = var("i");
    tt_expr *flat = add(mul(R(io), I(4)), R(ii));
    tt_stmt *store = st(Y, R(flat), mul(ld(X, R(flat)), F(2)));
    tt_expr *cond = bin(TT_EXPR_LT, R(flat), I(10));
    tt_stmt *guarded = tt_stmt_if(cond, store, NULL);
    assert_non_null(guarded);
    tt_expr_release(cond);
    tt_expr_release(flat);
    tt_stmt_release(store);
    tt_stmt *shifted =
        st(Z, R(i), sel(bin(TT_EXPR_GE, R(i), I(1)), ld(X, bin(TT_EXPR_SUB, R(i), I(1))), F(0)));
    tt_stmt *body = seq(2, loop(io, 3, loop(ii, 4, guarded)), loop(i, 10, shifted));
    tt_buffer *params[3] = {X, Y, Z};
    tt_kernel *k = tt_kernel_new("guards", 3, params, body);
    float x[10], y[12], z[10];
    for (int n = 0; n < 10; n++)
        x[n] = (float)n + 0.5f;
    for (int n = 0; n < 12; n++)
        y[n] = -7;
    void *args[3] = {x, y, z};
    assert_int_equal(tt_kernel_interp(k, args), 0);
    for (int n = 0; n < 10; n++) {
        assert_true(y[n] == 2 * x[n]);
        assert_true(z[n] == (n ? x[n - 1] : 0));
    }
    assert_true(y[10] == -7 && y[11] == -7); /* the guard held */
    tt_kernel_release(k);
    tt_stmt_release(body);
    tt_expr_release(io);
    tt_expr_release(ii);
    tt_expr_release(i);
    tt_buffer_release(X);
    tt_buffer_release(Y);
    tt_buffer_release(Z);
}

/* Row sums through a local accumulator tile: alloc acc[4] { acc = 0; for k: acc[j] += X[..];
 * Y[..] = acc[j] }, one tile per row block; a read of the tile before any write is NaN. */
static void test_local_buffers(void **state)
{
    (void)state;
    tt_buffer *X = buf("X", TT_DT_F32, 8 * 5, TT_SCOPE_GLOBAL);
    tt_buffer *Y = buf("Y", TT_DT_F32, 8, TT_SCOPE_GLOBAL);
    tt_buffer *P = buf("P", TT_DT_F32, 1, TT_SCOPE_GLOBAL);
    tt_buffer *acc = buf("acc", TT_DT_F32, 4, TT_SCOPE_LOCAL);
    tt_buffer *ws = buf("ws", TT_DT_F32, 3, TT_SCOPE_WORKSPACE);
    tt_expr *io = var("io"), *j = var("j"), *k = var("k");
    tt_expr *row = add(mul(R(io), I(4)), R(j));
    tt_stmt *body = seq(
        3, loop(j, 4, st(acc, R(j), F(0))),
        loop(k, 5,
             loop(j, 4, st(acc, R(j), add(ld(acc, R(j)), ld(X, add(mul(R(row), I(5)), R(k))))))),
        loop(j, 4, st(Y, R(row), ld(acc, R(j)))));
    tt_stmt *tile = tt_stmt_alloc(acc, body);
    tt_stmt *poison = st(P, I(0), ld(ws, I(2)));
    tt_stmt *wsa = tt_stmt_alloc(ws, poison);
    tt_stmt *all = seq(2, loop(io, 2, tile), wsa);
    tt_stmt_release(body);
    tt_stmt_release(poison);
    tt_buffer *params[3] = {X, Y, P};
    tt_kernel *kern = tt_kernel_new("rowsum", 3, params, all);
    float x[40], y[8], p = 0;
    fill_random(x, 40, 3);
    void *args[3] = {x, y, &p};
    assert_int_equal(tt_kernel_interp(kern, args), 0);
    for (int r = 0; r < 8; r++) {
        double want = 0;
        for (int c = 0; c < 5; c++)
            want += x[r * 5 + c];
        assert_true(fabs(y[r] - want) < 1e-5);
    }
    assert_true(isnan(p));
    tt_kernel_release(kern);
    tt_stmt_release(all);
    tt_expr_release(row);
    tt_expr_release(io);
    tt_expr_release(j);
    tt_expr_release(k);
    tt_buffer_release(X);
    tt_buffer_release(Y);
    tt_buffer_release(P);
    tt_buffer_release(acc);
    tt_buffer_release(ws);
}

/* Runs a kernel storing each of the n expressions into out[0..n), of out's dtype. */
static int run_exprs(DLDataType t, int n, tt_expr **es, void *out)
{
    tt_buffer *O = buf("O", t, n, TT_SCOPE_GLOBAL);
    tt_stmt *stores[16];
    for (int i = 0; i < n; i++)
        stores[i] = st(O, I(i), es[i]);
    tt_stmt *body = tt_stmt_seq(n, stores);
    for (int i = 0; i < n; i++)
        tt_stmt_release(stores[i]);
    tt_kernel *k = tt_kernel_new("exprs", 1, &O, body);
    void *args[1] = {out};
    int rc = tt_kernel_interp(k, args);
    tt_kernel_release(k);
    tt_stmt_release(body);
    tt_buffer_release(O);
    return rc;
}

static void test_int_semantics(void **state)
{
    (void)state;
    tt_expr *es[] = {
        bin(TT_EXPR_DIV, I(-7), I(2)),                               /* floor: -4 */
        bin(TT_EXPR_MOD, I(-7), I(2)),                               /* 1 */
        bin(TT_EXPR_DIV, I(7), I(-2)),                               /* -4 */
        bin(TT_EXPR_MOD, I(7), I(-2)),                               /* -1 */
        bin(TT_EXPR_DIV, I(6), I(3)),                                /* 2 */
        bin(TT_EXPR_MOD, I(-6), I(3)),                               /* 0 */
        bin(TT_EXPR_MIN, I(-3), I(5)),                               /* -3 */
        bin(TT_EXPR_MAX, I(-3), I(5)),                               /* 5 */
        cast(TT_DT_I64, D(-2.75)),                                   /* truncation: -2 */
        cast(TT_DT_I64, bin(TT_EXPR_LT, I(1), I(2))),                /* 1 */
        cast(TT_DT_I64, not_(bin(TT_EXPR_EQ, I(1), I(1)))),          /* 0 */
        cast(TT_DT_I64, cast(TT_DT_I32, I(((int64_t)1 << 32) + 5))), /* wraps: 5 */
        sel(bin(TT_EXPR_AND, bin(TT_EXPR_GT, I(2), I(1)), bin(TT_EXPR_NE, I(1), I(1))), I(10),
            I(20)), /* 20 */
        sel(bin(TT_EXPR_OR, bin(TT_EXPR_LE, I(2), I(1)), bin(TT_EXPR_GE, I(1), I(1))), I(10),
            I(20)), /* 10 */
    };
    int64_t want[] = {-4, 1, -4, -1, 2, 0, -3, 5, -2, 1, 0, 5, 20, 10};
    int n = (int)(sizeof want / sizeof want[0]);
    int64_t got[16];
    assert_int_equal(run_exprs(TT_DT_I64, n, es, got), 0);
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("expression %d: got %lld, want %lld", i, (long long)got[i],
                     (long long)want[i]);
}

/* Index arithmetic in the forms the interpreter folds (var*k, + var, + var*k, + k) and the
 * ones it does not (k*var, var*var, subtraction), with negative constants: Y[i*4 + j] = f(i, j). */
static void test_index_forms(void **state)
{
    (void)state;
    tt_buffer *Y = buf("Y", TT_DT_I64, 12, TT_SCOPE_GLOBAL);
    tt_expr *i = var("i"), *j = var("j");
    tt_expr *f = add(add(add(mul(R(i), I(3)), mul(R(j), I(-2))), R(i)), I(7)); /* 4i - 2j + 7 */
    f = add(f, mul(I(5), R(j)));                                               /* + 5j */
    f = add(f, bin(TT_EXPR_SUB, mul(R(i), R(j)), mul(R(j), I(-1))));           /* + ij + j */
    tt_stmt *s = loop(i, 3, loop(j, 4, st(Y, add(R(j), mul(R(i), I(4))), f)));
    tt_kernel *k = tt_kernel_new("forms", 1, &Y, s);
    int64_t y[12];
    void *args[1] = {y};
    assert_int_equal(tt_kernel_interp(k, args), 0);
    for (int64_t a = 0; a < 3; a++)
        for (int64_t b = 0; b < 4; b++)
            assert_int_equal(y[a * 4 + b], 4 * a - 2 * b + 7 + 5 * b + a * b + b);
    tt_kernel_release(k);
    tt_stmt_release(s);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_buffer_release(Y);
}

static void test_float_semantics(void **state)
{
    (void)state;
    tt_expr *es[] = {
        call1("exp", D(1.5)),
        call1("sqrt", D(2)),
        call1("log", D(3)),
        call1("tanh", D(-0.5)),
        call1("fabs", D(-4.25)),
        bin(TT_EXPR_DIV, D(7), D(2)),
        bin(TT_EXPR_MAX, D(-1), D(2.5)),
        bin(TT_EXPR_MIN, D(-1), D(2.5)),
        cast(TT_DT_F64, I(-9)),
        cast(TT_DT_F64, cast(TT_DT_F32, D(0.1))), /* rounds through float */
        bin(TT_EXPR_SUB, D(1), D(0.25)),
    };
    double want[] = {exp(1.5), sqrt(2), log(3), tanh(-0.5),   4.25, 3.5,
                     2.5,      -1,      -9,     (double)0.1f, 0.75};
    int n = (int)(sizeof want / sizeof want[0]);
    double got[16];
    assert_int_equal(run_exprs(TT_DT_F64, n, es, got), 0);
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("expression %d: got %.17g, want %.17g", i, got[i], want[i]);

    /* float32 stores round; int32 and bool buffers hold their own widths */
    tt_expr *f32[] = {F(1.0 / 3.0)};
    float g32;
    assert_int_equal(run_exprs(TT_DT_F32, 1, f32, &g32), 0);
    assert_true(g32 == (float)(1.0 / 3.0));
    tt_expr *i32[] = {tt_expr_int_typed(-3, TT_DT_I32), tt_expr_int_typed(7, TT_DT_I32)};
    int32_t gi[2];
    assert_int_equal(run_exprs(TT_DT_I32, 2, i32, gi), 0);
    assert_int_equal(gi[0], -3);
    assert_int_equal(gi[1], 7);
    tt_expr *bs[] = {bin(TT_EXPR_LT, D(1), D(2)), bin(TT_EXPR_GT, D(1), D(2))};
    uint8_t gb[2];
    assert_int_equal(run_exprs(TT_DT_BOOL, 2, bs, gb), 0);
    assert_int_equal(gb[0], 1);
    assert_int_equal(gb[1], 0);
}

static void test_errors(void **state)
{
    (void)state;
    tt_buffer *C = buf("C", TT_DT_F32, 64, TT_SCOPE_GLOBAL);
    tt_buffer *L = buf("L", TT_DT_F32, 4, TT_SCOPE_LOCAL);
    tt_expr *i = var("i"), *j = var("i"); /* same name, distinct variables */
    float c[64];
    void *args[1] = {c};

    /* store one past the end */
    tt_stmt *s = loop(i, 65, st(C, R(i), F(1)));
    tt_kernel *k = tt_kernel_new("oob", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args),
                      "kernel oob: store C: index 64 is out of bounds for a buffer of 64 elements");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* load before the start */
    s = loop(i, 4, st(C, R(i), ld(C, bin(TT_EXPR_SUB, R(i), I(2)))));
    k = tt_kernel_new("oob_load", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "load C: index -2 is out of bounds");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* j has i's name but no loop binds it */
    s = loop(i, 4, st(C, R(j), F(1)));
    k = tt_kernel_new("unbound", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "variable i is used outside a loop");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* a loop inside its own loop */
    s = loop(i, 4, loop(i, 4, st(C, R(i), F(1))));
    k = tt_kernel_new("rebind", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "variable i is bound again");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* a local buffer used outside its alloc */
    s = st(L, I(0), F(1));
    k = tt_kernel_new("noalloc", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args),
                      "store L: the buffer is neither a parameter nor allocated here");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* integer division by zero, at run time */
    s = loop(i, 4,
             st(C, I(0), cast(TT_DT_F32, bin(TT_EXPR_DIV, I(1), bin(TT_EXPR_SUB, R(i), I(2))))));
    k = tt_kernel_new("divzero", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "div: integer division by zero");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* a float constant of an integer dtype that no integer holds */
    s = st(C, I(0), cast(TT_DT_F32, tt_expr_float(NAN, TT_DT_I64)));
    k = tt_kernel_new("nanint", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "float constant nan does not fit in int64");
    tt_kernel_release(k);
    tt_stmt_release(s);

    /* unknown intrinsic, and a NULL argument */
    s = st(C, I(0), call1("erf", F(1)));
    k = tt_kernel_new("call", 1, &C, s);
    assert_fails_with(tt_kernel_interp(k, args), "call erf: unknown intrinsic");
    tt_kernel_release(k);
    tt_stmt_release(s);
    s = st(C, I(0), call1("exp", F(1)));
    k = tt_kernel_new("nullarg", 1, &C, s);
    void *null_args[1] = {NULL};
    assert_fails_with(tt_kernel_interp(k, null_args), "argument 0 (C) is NULL");
    tt_kernel_release(k);
    tt_stmt_release(s);

    tt_expr_release(i);
    tt_expr_release(j);
    tt_buffer_release(C);
    tt_buffer_release(L);
}

/* ---- compute definitions ---- */

static tt_iter_var *axis(const char *name, int64_t extent, tt_axis_kind kind)
{
    tt_iter_var *v = tt_iter_var_new(name, extent, kind);
    assert_non_null(v);
    return v;
}

static tt_expr *acc2(tt_tensor *t, tt_expr *a, tt_expr *b)
{
    tt_expr *idx[2] = {a, b};
    tt_expr *e = tt_expr_access(t, 2, idx);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

static tt_tensor *tensor2(const char *name, int64_t m, int64_t n)
{
    int64_t shape[2] = {m, n};
    tt_tensor *t = tt_tensor_new(name, TT_DT_F32, 2, shape);
    assert_non_null(t);
    return t;
}

/* out[i, j] = op(k, A[i, k] * B[k, j]) or, with B NULL, op(k, A[i, k]) (out is [M, 1]) */
static tt_stage *reduce_stage(tt_tensor *out, tt_reduce_op op, tt_tensor *A, tt_tensor *B,
                              int64_t K)
{
    tt_iter_var *i = axis("i", out->shape[0], TT_AXIS_SPATIAL);
    tt_iter_var *j = axis("j", out->shape[1], TT_AXIS_SPATIAL);
    tt_iter_var *k = axis("k", K, TT_AXIS_REDUCE);
    tt_expr *src = acc2(A, R(i->var), R(k->var));
    if (B)
        src = mul(src, acc2(B, R(k->var), R(j->var)));
    tt_expr *red = tt_expr_reduce(op, src, 1, &k);
    tt_iter_var *axes[2] = {i, j};
    tt_stage *s = tt_stage_new(out, 2, axes, red);
    assert_non_null(s);
    tt_expr_release(src);
    tt_expr_release(red);
    tt_iter_var_release(i);
    tt_iter_var_release(j);
    tt_iter_var_release(k);
    return s;
}

static void test_compute_matmul(void **state)
{
    (void)state;
    const int M = 24, N = 20, K = 33;
    tt_tensor *A = tensor2("A", M, K), *B = tensor2("B", K, N), *C = tensor2("C", M, N);
    tt_stage *s = reduce_stage(C, TT_REDUCE_SUM, A, B, K);
    tt_tensor *in[2] = {A, B};
    tt_compute *c = tt_compute_new("matmul", 2, in, 1, &s);
    assert_non_null(c);
    float a[M * K], b[K * N], got[M * N], want[M * N], viak[M * N];
    fill_random(a, M * K, 4);
    fill_random(b, K * N, 5);
    ref_matmul(a, b, want, M, N, K);
    void *args[3] = {a, b, got};
    for (int rep = 0; rep < 2; rep++) { /* repeatable: the accumulator starts over each point */
        assert_int_equal(tt_compute_eval(c, args), 0);
        assert_close(got, want, M * N, 1e-6);
    }
    /* the loop-nest interpreter agrees with the compute evaluator */
    tt_kernel *k = matmul_kernel(M, N, K);
    void *kargs[3] = {a, b, viak};
    assert_int_equal(tt_kernel_interp(k, kargs), 0);
    assert_close(viak, got, M * N, 1e-6);
    tt_kernel_release(k);
    tt_compute_release(c);
    tt_stage_release(s);
    tt_tensor_release(A);
    tt_tensor_release(B);
    tt_tensor_release(C);
}

static void test_compute_max_min(void **state)
{
    (void)state;
    const int M = 9, K = 14;
    tt_tensor *A = tensor2("A", M, K), *Mx = tensor2("Mx", M, 1), *Mn = tensor2("Mn", M, 1);
    float a[M * K], mx[M], mn[M];
    fill_random(a, M * K, 6);
    a[3 * K + 5] = -INFINITY; /* the max identity must not be confused by it */
    for (int r = 0; r < M; r++)
        for (int q = 0; q < K; q++)
            a[r * K + q] -= 5.0f; /* all negative: a 0 identity would show */
    tt_reduce_op ops[2] = {TT_REDUCE_MAX, TT_REDUCE_MIN};
    tt_tensor *outs[2] = {Mx, Mn};
    float *res[2] = {mx, mn};
    for (int o = 0; o < 2; o++) {
        tt_stage *s = reduce_stage(outs[o], ops[o], A, NULL, K);
        tt_compute *c = tt_compute_new("reduce", 1, &A, 1, &s);
        void *args[2] = {a, res[o]};
        assert_int_equal(tt_compute_eval(c, args), 0);
        for (int r = 0; r < M; r++) {
            float w = a[r * K];
            for (int q = 1; q < K; q++)
                w = o == 0 ? fmaxf(w, a[r * K + q]) : fminf(w, a[r * K + q]);
            assert_true(res[o][r] == w);
        }
        tt_compute_release(c);
        tt_stage_release(s);
    }
    tt_tensor_release(A);
    tt_tensor_release(Mx);
    tt_tensor_release(Mn);
}

/* T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = select(T[i, j] + b[j] > 0, T[i, j] + b[j], 0) */
static tt_compute *dense_relu(int M, int N, int K)
{
    tt_tensor *A = tensor2("A", M, K), *B = tensor2("B", K, N), *T = tensor2("T", M, N);
    tt_tensor *C = tensor2("C", M, N);
    int64_t n = N;
    tt_tensor *bias = tt_tensor_new("bias", TT_DT_F32, 1, &n);
    tt_stage *s0 = reduce_stage(T, TT_REDUCE_SUM, A, B, K);
    tt_iter_var *i = axis("i", M, TT_AXIS_SPATIAL), *j = axis("j", N, TT_AXIS_SPATIAL);
    tt_expr *jv = R(j->var);
    tt_expr *bj = tt_expr_access(bias, 1, &jv);
    tt_expr_release(jv);
    tt_expr *v = add(acc2(T, R(i->var), R(j->var)), bj);
    tt_expr *relu = sel(bin(TT_EXPR_GT, R(v), F(0)), R(v), F(0));
    tt_expr_release(v);
    tt_iter_var *axes[2] = {i, j};
    tt_stage *s1 = tt_stage_new(C, 2, axes, relu);
    tt_tensor *in[3] = {A, B, bias};
    tt_stage *stages[2] = {s0, s1};
    tt_compute *c = tt_compute_new("dense_relu", 3, in, 2, stages);
    assert_non_null(c);
    tt_expr_release(relu);
    tt_iter_var_release(i);
    tt_iter_var_release(j);
    tt_stage_release(s0);
    tt_stage_release(s1);
    tt_tensor_release(A);
    tt_tensor_release(B);
    tt_tensor_release(T);
    tt_tensor_release(C);
    tt_tensor_release(bias);
    return c;
}

static void test_compute_two_stages(void **state)
{
    (void)state;
    const int M = 16, N = 12, K = 10;
    tt_compute *c = dense_relu(M, N, K);
    float a[M * K], b[K * N], bias[N], got[M * N], want[M * N];
    fill_random(a, M * K, 7);
    fill_random(b, K * N, 8);
    fill_random(bias, N, 9);
    ref_matmul(a, b, want, M, N, K);
    int positive = 0;
    for (int r = 0; r < M; r++)
        for (int q = 0; q < N; q++) {
            float v = want[r * N + q] + bias[q];
            want[r * N + q] = v > 0 ? v : 0;
            positive += v > 0;
        }
    assert_true(positive > 0 && positive < M * N); /* both branches are exercised */
    void *args[4] = {a, b, bias, got};
    assert_int_equal(tt_compute_eval(c, args), 0);
    assert_close(got, want, M * N, 1e-5);
    tt_compute_release(c);
}

/* One stage over the rows of an [M, K] input of dtype `in`: O[i] = op(k, body(A[i, k], i, k)). */
static tt_compute *row_compute(DLDataType in, DLDataType out, tt_reduce_op op, int M, int K,
                               tt_expr *(*body)(tt_expr *a, tt_iter_var *i, tt_iter_var *k))
{
    int64_t sa[2] = {M, K}, so = M;
    tt_tensor *A = tt_tensor_new("A", in, 2, sa), *O = tt_tensor_new("O", out, 1, &so);
    tt_iter_var *i = axis("i", M, TT_AXIS_SPATIAL), *k = axis("k", K, TT_AXIS_REDUCE);
    tt_expr *a = acc2(A, R(i->var), R(k->var));
    tt_expr *b = body(a, i, k);
    tt_expr *red = tt_expr_reduce(op, b, 1, &k);
    assert_non_null(red);
    tt_stage *s = tt_stage_new(O, 1, &i, red);
    assert_non_null(s);
    tt_compute *c = tt_compute_new("rows", 1, &A, 1, &s);
    tt_object *junk[] = {(tt_object *)A, (tt_object *)O, (tt_object *)i,   (tt_object *)k,
                         (tt_object *)a, (tt_object *)b, (tt_object *)red, (tt_object *)s};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
    return c;
}

static tt_expr *same(tt_expr *a, tt_iter_var *i, tt_iter_var *k)
{
    (void)i, (void)k;
    return tt_expr_retain(a);
}
/* int64(a) / 3 - i: floor division of negative sums */
static tt_expr *floordiv3(tt_expr *a, tt_iter_var *i, tt_iter_var *k)
{
    (void)k;
    tt_expr *c = cast(TT_DT_I64, tt_expr_retain(a));
    return bin(TT_EXPR_SUB, bin(TT_EXPR_DIV, c, I(3)), R(i->var));
}

static void test_compute_dtypes(void **state)
{
    (void)state;
    enum { M = 5, K = 6 };
    /* int32 max over all-negative rows: the identity is INT32_MIN, not 0 */
    int32_t a32[M * K], m32[M];
    for (int n = 0; n < M * K; n++)
        a32[n] = -1000000 - (int32_t)((n * 7919) % 1000);
    tt_compute *c = row_compute(TT_DT_I32, TT_DT_I32, TT_REDUCE_MAX, M, K, same);
    void *args[2] = {a32, m32};
    assert_int_equal(tt_compute_eval(c, args), 0);
    for (int r = 0; r < M; r++) {
        int32_t w = INT32_MIN;
        for (int q = 0; q < K; q++)
            w = a32[r * K + q] > w ? a32[r * K + q] : w;
        assert_int_equal(m32[r], w);
    }
    tt_compute_release(c);

    /* float64 sums are exact in double, in k order */
    double a64[M * K], s64[M];
    for (int n = 0; n < M * K; n++)
        a64[n] = 1.0 / (n + 1);
    c = row_compute(TT_DT_F64, TT_DT_F64, TT_REDUCE_SUM, M, K, same);
    args[0] = a64, args[1] = s64;
    assert_int_equal(tt_compute_eval(c, args), 0);
    for (int r = 0; r < M; r++) {
        double w = 0;
        for (int q = 0; q < K; q++)
            w += a64[r * K + q];
        assert_true(s64[r] == w);
    }
    tt_compute_release(c);

    /* int64: sum(k, int64(A[i, k]) / 3 - i) with negative values floors */
    int64_t q64[M];
    c = row_compute(TT_DT_I32, TT_DT_I64, TT_REDUCE_SUM, M, K, floordiv3);
    args[0] = a32, args[1] = q64;
    assert_int_equal(tt_compute_eval(c, args), 0);
    for (int r = 0; r < M; r++) {
        int64_t w = 0;
        for (int q = 0; q < K; q++) {
            int64_t v = a32[r * K + q], d = v / 3;
            if (v % 3 != 0 && v < 0)
                d--;
            w += d - r;
        }
        assert_int_equal(q64[r], w);
    }
    tt_compute_release(c);
}

static void test_compute_errors(void **state)
{
    (void)state;
    /* a stage that reads a tensor nobody produced */
    tt_tensor *A = tensor2("A", 4, 4), *G = tensor2("G", 4, 4), *C = tensor2("C", 4, 4);
    tt_stage *s = reduce_stage(C, TT_REDUCE_SUM, A, G, 4);
    tt_compute *c = tt_compute_new("ghost", 1, &A, 1, &s);
    float a[16], out[16];
    void *args[2] = {a, out};
    assert_fails_with(tt_compute_eval(c, args),
                      "compute ghost: stage C: access G: the tensor is neither an input");
    tt_compute_release(c);
    tt_stage_release(s);

    /* an access out of the input's bounds: reduction axis longer than A's second dimension */
    s = reduce_stage(C, TT_REDUCE_SUM, A, NULL, 5);
    c = tt_compute_new("oob", 1, &A, 1, &s);
    assert_fails_with(tt_compute_eval(c, args),
                      "access A: index 4 of dimension 1 is out of bounds [0, 4)");
    tt_compute_release(c);
    tt_stage_release(s);
    tt_tensor_release(A);
    tt_tensor_release(G);
    tt_tensor_release(C);
}

typedef struct {
    const tt_kernel *k;
    const tt_compute *c;
    const float *a, *b;
    float out[24 * 20], out2[24 * 20];
    int rc;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    void *args[3] = {(void *)j->a, (void *)j->b, j->out};
    void *args2[3] = {(void *)j->a, (void *)j->b, j->out2};
    for (int r = 0; r < 20 && j->rc == 0; r++)
        j->rc = tt_kernel_interp(j->k, args) | tt_compute_eval(j->c, args2);
    return NULL;
}

/* One kernel and one compute shared by 4 threads: the interpreter keeps no state of its own
 * and does not touch the nodes (measure computes references from several threads). */
static void test_threads(void **state)
{
    (void)state;
    enum { M = 24, N = 20, K = 9 };
    tt_tensor *A = tensor2("A", M, K), *B = tensor2("B", K, N), *C = tensor2("C", M, N);
    tt_stage *s = reduce_stage(C, TT_REDUCE_SUM, A, B, K);
    tt_tensor *in[2] = {A, B};
    tt_compute *c = tt_compute_new("matmul", 2, in, 1, &s);
    tt_kernel *k = matmul_kernel(M, N, K);
    float a[M * K], b[K * N], want[M * N];
    fill_random(a, M * K, 11);
    fill_random(b, K * N, 12);
    ref_matmul(a, b, want, M, N, K);
    static job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (job){.k = k, .c = c, .a = a, .b = b};
        assert_int_equal(pthread_create(&th[t], NULL, run_job, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].rc, 0);
        assert_close(jobs[t].out, want, M * N, 1e-5);
        assert_close(jobs[t].out2, want, M * N, 1e-5);
    }
    assert_int_equal(k->obj.refcount, 1);
    tt_kernel_release(k);
    tt_compute_release(c);
    tt_stage_release(s);
    tt_tensor_release(A);
    tt_tensor_release(B);
    tt_tensor_release(C);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_loop_nest), cmocka_unit_test(test_guards_and_lazy_select),
        cmocka_unit_test(test_local_buffers),    cmocka_unit_test(test_int_semantics),
        cmocka_unit_test(test_index_forms),      cmocka_unit_test(test_float_semantics),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_compute_matmul),
        cmocka_unit_test(test_compute_max_min),  cmocka_unit_test(test_compute_two_stages),
        cmocka_unit_test(test_compute_dtypes),   cmocka_unit_test(test_compute_errors),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
