/* codegen/llvm*.c through the JIT: hand-built kernels (naive and tiled matmuls, parallel,
 * vectorized with guards and strides, local and workspace buffers, select, math calls, integer
 * floor division) against plain C loops and the reference interpreter. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "cg_kernels.h"
#include "tt/backend.h"
#include "tt_test.h"

/* Runs k through the JIT (raw C entry) and the interpreter on the same inputs. */
static void run_both(tt_kernel *k, void **jit_args, void **ref_args)
{
    tt_module m = jit_one(k);
    assert_non_null(m);
    void *f = tt_codegen_jit_lookup(m, k->name);
    assert_non_null(f);
    assert_true(k->nparams >= 1 && k->nparams <= 4);
    int rc = tt_test_call_kernel(f, k->nparams, jit_args);
    assert_int_equal(rc, 0);
    assert_int_equal(tt_mod_free(m), 0);
    if (ref_args && tt_kernel_interp(k, ref_args) != 0)
        fail_msg("interp: %s", tt_get_last_error());
}

static void check_matmul(tt_kernel *k, int64_t M, int64_t N, int64_t K)
{
    float *A = falloc(M * K), *B = falloc(K * N), *C = falloc(M * N), *R = falloc(M * N),
          *I = falloc(M * N);
    fill_random(A, M * K, 1);
    fill_random(B, K * N, 2);
    fill_random(C, M * N, 3); /* garbage the kernel must overwrite */
    matmul_ref(A, B, R, M, N, K);
    void *args[3] = {A, B, C}, *iargs[3] = {A, B, I};
    run_both(k, args, iargs);
    double tol = 1e-4 * (double)K;
    if (max_abs_diff(C, R, M * N) > tol)
        fail_msg("%s: max |diff| vs C loops %g", k->name, max_abs_diff(C, R, M * N));
    if (max_abs_diff(C, I, M * N) > tol)
        fail_msg("%s: max |diff| vs interpreter %g", k->name, max_abs_diff(C, I, M * N));
    free(A);
    free(B);
    free(C);
    free(R);
    free(I);
}

static void naive_matmul_odd(void **state)
{
    tt_kernel *k = matmul_naive("mm_naive", 33, 17, 9, TT_FOR_SERIAL, TT_FOR_SERIAL);
    check_matmul(k, 33, 17, 9);
    tt_kernel_release(k);
}

static void tiled_matmul_odd(void **state)
{
    /* 33x17x9 with 4-row tiles of 2 vectors of 8 lanes: guards on both edges */
    tt_kernel *k = matmul_tiled("mm_tiled", 33, 17, 9, 4, 2, 8, TT_FOR_SERIAL);
    check_matmul(k, 33, 17, 9);
    tt_kernel_release(k);
    k = matmul_tiled("mm_tiled16", 33, 17, 9, 3, 1, 16, TT_FOR_SERIAL);
    check_matmul(k, 33, 17, 9);
    tt_kernel_release(k);
    k = matmul_tiled("mm_exact", 32, 32, 16, 4, 2, 16, TT_FOR_SERIAL);
    check_matmul(k, 32, 32, 16);
    tt_kernel_release(k);
}

/* A parallel outer loop gives the same bits as the serial kernel, with 1 and 2 threads. */
static void parallel_matches_serial(void **state)
{
    int64_t M = 37, N = 29, K = 13;
    tt_kernel *ks = matmul_tiled("mm_ser", M, N, K, 4, 1, 8, TT_FOR_SERIAL);
    tt_kernel *kp = matmul_tiled("mm_par", M, N, K, 4, 1, 8, TT_FOR_PARALLEL);
    tt_kernel *kn = matmul_naive("mm_par_naive", M, N, K, TT_FOR_PARALLEL, TT_FOR_PARALLEL);
    float *A = falloc(M * K), *B = falloc(K * N), *S = falloc(M * N), *P = falloc(M * N),
          *Q = falloc(M * N);
    fill_random(A, M * K, 5);
    fill_random(B, K * N, 6);
    void *sa[3] = {A, B, S};
    run_both(ks, sa, NULL);
    check_matmul(kp, M, N, K);
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(tt_backend_set_num_threads(threads), 0);
        void *pa[3] = {A, B, P}, *qa[3] = {A, B, Q};
        run_both(kp, pa, NULL);
        run_both(kn, qa, NULL);
        assert_memory_equal(S, P, (size_t)(M * N) * 4);
        assert_true(max_abs_diff(S, Q, M * N) < 1e-4);
    }
    assert_int_equal(tt_backend_set_num_threads(0), 0);
    free(A);
    free(B);
    free(S);
    free(P);
    free(Q);
    tt_kernel_release(ks);
    tt_kernel_release(kp);
    tt_kernel_release(kn);
}

/* out[i, v] = in[i, 2v] * 2 + in[i, 2v + 1] (stride-2 gathers) with v vectorized over w lanes;
 * then, in the same vector loop, odd lanes are negated by an IF with an ELSE branch. */
static tt_kernel *strided(const char *name, int64_t rows, int64_t w)
{
    tt_buffer *in = buf2("in", rows, 2 * w, TT_SCOPE_GLOBAL),
              *out = buf2("out", rows, w, TT_SCOPE_GLOBAL);
    tt_expr *i = var("i"), *v = var("v");
    tt_expr *base = mul(V(i), I(2 * w));
    tt_expr *val = add(mul(ld(in, add(tt_expr_retain(base), mul(V(v), I(2)))), F(2)),
                       ld(in, add(add(tt_expr_retain(base), mul(I(2), V(v))), I(1))));
    tt_expr *oidx = add(mul(V(i), I(w)), V(v));
    tt_expr *even = bin(TT_EXPR_EQ, bin(TT_EXPR_MOD, V(v), I(2)), I(0));
    tt_stmt *s = when(even, st(out, tt_expr_retain(oidx), tt_expr_retain(val)),
                      st(out, tt_expr_retain(oidx), bin(TT_EXPR_SUB, F(0), tt_expr_retain(val))));
    tt_stmt *body = loop(i, rows, TT_FOR_SERIAL, loop(v, w, TT_FOR_VECTORIZED, s));
    tt_expr_release(base);
    tt_expr_release(val);
    tt_expr_release(oidx);
    tt_expr_release(i);
    tt_expr_release(v);
    tt_buffer *params[2] = {in, out};
    return kernel(name, 2, params, body);
}

/* Widths that are not a power of two or not a multiple of the target's vector run as native
 * chunks plus power-of-two pieces (codegen/llvm.c, vectorized): 24 = 16 + 8, 17 = 16 + 1 on
 * AVX2. */
static void vectorized_strides(void **state)
{
    int64_t widths[] = {16, 8, 24, 12, 6, 10, 17, 3, 40};
    for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
        int64_t rows = 5, w = widths[t];
        char name[32];
        snprintf(name, sizeof name, "strided%lld", (long long)w);
        tt_kernel *k = strided(name, rows, w);
        float *in = falloc(rows * 2 * w), *out = falloc(rows * w), *ref = falloc(rows * w);
        fill_random(in, rows * 2 * w, 9);
        void *args[2] = {in, out}, *iargs[2] = {in, ref};
        run_both(k, args, iargs);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t v = 0; v < w; v++) {
                float x = in[i * 2 * w + 2 * v] * 2 + in[i * 2 * w + 2 * v + 1];
                float want = (v % 2) ? -x : x;
                assert_float_equal(out[i * w + v], want, 1e-6);
            }
        assert_memory_equal(out, ref, (size_t)(rows * w) * 4);
        free(in);
        free(out);
        free(ref);
        tt_kernel_release(k);
    }
}

/* y[i, v] = x[i, v] * 2 + 1 over w lanes of float32 for AVX2 (znver3), as LLVM IR after O3. */
static char *odd_width_ir(int64_t w)
{
    tt_buffer *x = buf2("x", 3, w, TT_SCOPE_GLOBAL), *y = buf2("y", 3, w, TT_SCOPE_GLOBAL);
    tt_expr *i = var("i"), *v = var("v");
    tt_expr *idx = add(mul(V(i), I(w)), V(v));
    tt_stmt *body =
        loop(i, 3, TT_FOR_SERIAL,
             loop(v, w, TT_FOR_VECTORIZED,
                  st(y, tt_expr_retain(idx), add(mul(ld(x, tt_expr_retain(idx)), F(2)), F(1)))));
    tt_expr_release(idx);
    tt_expr_release(i);
    tt_expr_release(v);
    tt_buffer *params[2] = {x, y};
    tt_kernel *k = kernel("odd", 2, params, body);
    tt_target *t = NULL;
    char *ir = NULL;
    assert_int_equal(tt_target_parse("llvm -mtriple=x86_64-linux-gnu -mcpu=znver3", &t), 0);
    if (tt_codegen_emit_text(&k, 1, t, TT_EMIT_LLVM, &ir) != 0)
        fail_msg("emit: %s", tt_get_last_error());
    tt_target_free(t);
    tt_kernel_release(k);
    return ir;
}

/* The code of odd widths: whole 8-lane registers and a masked 4- or 8-lane tail, never a vector
 * of the loop's own width (which LLVM's type legalisation scalarises). */
static void odd_widths_are_native_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t w;
        int pieces[3]; /* the remainder's power-of-two pieces, widest first (0: none) */
    } cases[] = {{24, {0}},   {12, {4}},      {10, {2}}, {17, {1}},
                 {6, {4, 2}}, {7, {4, 2, 1}}, {20, {4}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *ir = odd_width_ir(cases[c].w), wide[32], piece[64];
        snprintf(wide, sizeof wide, "<%lld x float>", (long long)cases[c].w);
        if (strstr(ir, wide))
            fail_msg("width %lld: %s in\n%s", (long long)cases[c].w, wide, ir);
        for (int k = 0; k < 3 && cases[c].pieces[k]; k++) {
            snprintf(piece, sizeof piece, "store <%d x float>", cases[c].pieces[k]);
            if (!strstr(ir, piece))
                fail_msg("width %lld: no %s in\n%s", (long long)cases[c].w, piece, ir);
        }
        if (strstr(ir, "@llvm.masked"))
            fail_msg("width %lld: masked ops in\n%s", (long long)cases[c].w, ir);
        assert_null(strstr(ir, "insertelement <8 x float>"));
        free(ir);
    }
}

/* An index through a narrowing cast wraps, so it is not linear in the vector variable: lanes
 * v = 0..3 of int64(int8(v * 64)) + 128 store to 128, 192, 0 and 64. (Codegen's cg_affine used to
 * open every integer cast and stored the lanes at 128 + 64 * v, past the buffer; the shared
 * linear form opens only the casts that do not narrow.) */
static void vectorized_narrowing_cast_index(void **state)
{
    (void)state;
    tt_buffer *B = buf1("B", TT_DT_F32, 256, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v"), *prod = mul(V(v), I(64));
    tt_expr *narrow = tt_expr_cast((DLDataType){kDLInt, 8, 1}, prod);
    tt_expr *wide = tt_expr_cast(TT_DT_I64, narrow);
    tt_expr_release(prod);
    tt_expr_release(narrow);
    tt_stmt *body = loop(v, 4, TT_FOR_VECTORIZED, st(B, add(wide, I(128)), F(1)));
    tt_expr_release(v);
    tt_buffer *params[1] = {B};
    tt_kernel *k = kernel("narrow", 1, params, body);
    float *out = falloc(256);
    void *args[1] = {out};
    run_both(k, args, NULL);
    for (int64_t i = 0; i < 256; i++)
        assert_float_equal(out[i], (i % 64 == 0 ? 1.0f : 0.0f), 0);
    free(out);
    tt_kernel_release(k);
}

/* A vectorized loop whose lanes all update one element (a reduction over v) must not be run as
 * vectors: codegen falls back to a scalar loop and the sum is exact. */
static void vectorized_reduction_falls_back(void **state)
{
    tt_buffer *in = buf1("in", TT_DT_F32, 16, TT_SCOPE_GLOBAL),
              *out = buf1("out", TT_DT_F32, 1, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_stmt *body =
        seq(2, st(out, I(0), F(0)),
            loop(v, 16, TT_FOR_VECTORIZED, st(out, I(0), add(ld(out, I(0)), ld(in, V(v))))));
    tt_expr_release(v);
    tt_buffer *params[2] = {in, out};
    tt_kernel *k = kernel("vsum", 2, params, body);
    float *x = falloc(16), *y = falloc(1);
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    void *args[2] = {x, y};
    run_both(k, args, NULL);
    assert_float_equal(y[0], 136.0, 0);
    free(x);
    free(y);
    tt_kernel_release(k);
}

/* A 16-lane loop over 13 elements: the guard masks loads, stores and a stored SELECT; the
 * elements behind the tail stay untouched. */
static void guarded_tail(void **state)
{
    tt_buffer *x = buf1("x", TT_DT_F32, 13, TT_SCOPE_GLOBAL),
              *y = buf1("y", TT_DT_F32, 16, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_expr *xv = ld(x, V(v));
    tt_stmt *s =
        when(bin(TT_EXPR_LT, V(v), I(13)),
             st(y, V(v), sel(bin(TT_EXPR_GT, tt_expr_retain(xv), F(0)), tt_expr_retain(xv), F(0))),
             NULL);
    tt_stmt *body = loop(v, 16, TT_FOR_VECTORIZED, s);
    tt_expr_release(xv);
    tt_expr_release(v);
    tt_buffer *params[2] = {x, y};
    tt_kernel *k = kernel("tail", 2, params, body);
    float *X = falloc(16), *Y = falloc(16), *R = falloc(16);
    fill_random(X, 13, 7);
    for (int i = 0; i < 16; i++)
        Y[i] = R[i] = 42;
    void *args[2] = {X, Y}, *iargs[2] = {X, R};
    run_both(k, args, iargs);
    for (int i = 0; i < 16; i++)
        assert_float_equal(Y[i], i < 13 ? (X[i] > 0 ? X[i] : 0) : 42, 0);
    assert_memory_equal(Y, R, 64);
    free(X);
    free(Y);
    free(R);
    tt_kernel_release(k);
}

/* relu via SELECT and math calls, vectorized (16 lanes) and scalar, against libm. */
static tt_kernel *math_kernel(const char *name, tt_for_kind kind)
{
    int64_t n = 16;
    tt_buffer *x = buf1("x", TT_DT_F32, n, TT_SCOPE_GLOBAL), *y = buf2("y", 6, n, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_expr *xv = ld(x, V(v));
    tt_expr *ax = call1("fabs", tt_expr_retain(xv));
    tt_stmt *s = seq(
        6, st(y, V(v), sel(bin(TT_EXPR_GT, tt_expr_retain(xv), F(0)), tt_expr_retain(xv), F(0))),
        st(y, add(V(v), I(n)), call1("exp", tt_expr_retain(xv))),
        st(y, add(V(v), I(2 * n)), call1("sqrt", tt_expr_retain(ax))),
        st(y, add(V(v), I(3 * n)), call1("log", add(tt_expr_retain(ax), F(1)))),
        st(y, add(V(v), I(4 * n)), call1("tanh", tt_expr_retain(xv))),
        st(y, add(V(v), I(5 * n)),
           bin(TT_EXPR_MAX, bin(TT_EXPR_MIN, tt_expr_retain(xv), F(0.5)), F(-0.25))));
    tt_stmt *body = loop(v, n, kind, s);
    tt_expr_release(xv);
    tt_expr_release(ax);
    tt_expr_release(v);
    tt_buffer *params[2] = {x, y};
    return kernel(name, 2, params, body);
}

static void select_and_math(void **state)
{
    tt_for_kind kinds[3] = {TT_FOR_VECTORIZED, TT_FOR_SERIAL, TT_FOR_UNROLLED};
    for (int t = 0; t < 3; t++) {
        char name[32];
        snprintf(name, sizeof name, "math_%s", tt_for_kind_name(kinds[t]));
        tt_kernel *k = math_kernel(name, kinds[t]);
        float *x = falloc(16), *y = falloc(96), *r = falloc(96);
        fill_random(x, 16, 11);
        x[3] = 0;
        x[4] = -3.5f;
        void *args[2] = {x, y}, *iargs[2] = {x, r};
        run_both(k, args, iargs);
        for (int i = 0; i < 16; i++) {
            float a = x[i];
            assert_float_equal(y[i], a > 0 ? a : 0, 0);
            assert_float_equal(y[16 + i], expf(a), 1e-5 * expf(a));
            assert_float_equal(y[32 + i], sqrtf(fabsf(a)), 1e-6);
            assert_float_equal(y[48 + i], logf(fabsf(a) + 1), 1e-6);
            assert_float_equal(y[64 + i], tanhf(a), 1e-6);
            assert_float_equal(y[80 + i], fmaxf(fminf(a, 0.5f), -0.25f), 0);
        }
        assert_true(max_abs_diff(y, r, 96) < 1e-5);
        free(x);
        free(y);
        free(r);
        tt_kernel_release(k);
    }
}

static tt_expr *cast_s(DLDataType t, tt_expr *a)
{
    tt_expr *e = tt_expr_cast(t, a);
    tt_expr_release(a);
    return e;
}

/* out = in / d, in mod d, in / 3, in mod -3 with floor semantics on negative numbers, int64
 * and int32 (through casts), scalar and vectorized. */
static tt_kernel *int_kernel(const char *name, tt_for_kind kind, int64_t n)
{
    tt_buffer *a = buf1("a", TT_DT_I64, n, TT_SCOPE_GLOBAL),
              *d = buf1("d", TT_DT_I64, n, TT_SCOPE_GLOBAL),
              *o = buf1("o", TT_DT_I64, 5 * n, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_expr *av = ld(a, V(v)), *dv = ld(d, V(v));
    tt_expr *a32 = tt_expr_cast(TT_DT_I32, av), *d32 = tt_expr_cast(TT_DT_I32, dv);
    tt_stmt *s =
        seq(5, st(o, V(v), bin(TT_EXPR_DIV, tt_expr_retain(av), tt_expr_retain(dv))),
            st(o, add(V(v), I(n)), bin(TT_EXPR_MOD, tt_expr_retain(av), tt_expr_retain(dv))),
            st(o, add(V(v), I(2 * n)), bin(TT_EXPR_DIV, tt_expr_retain(av), I(3))),
            st(o, add(V(v), I(3 * n)), bin(TT_EXPR_MOD, tt_expr_retain(av), I(-3))),
            st(o, add(V(v), I(4 * n)),
               cast_s(TT_DT_I64, bin(TT_EXPR_MOD, tt_expr_retain(a32), tt_expr_retain(d32)))));
    tt_stmt *body = loop(v, n, kind, s);
    tt_expr_release(av);
    tt_expr_release(dv);
    tt_expr_release(a32);
    tt_expr_release(d32);
    tt_expr_release(v);
    tt_buffer *params[3] = {a, d, o};
    return kernel(name, 3, params, body);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t floormod(int64_t a, int64_t b)
{
    return a - floordiv(a, b) * b;
}

static void int_floor_div_mod(void **state)
{
    tt_for_kind kinds[2] = {TT_FOR_SERIAL, TT_FOR_VECTORIZED};
    int64_t n = 8;
    int64_t a[8] = {7, -7, 7, -7, 0, -1, 6, -9}, d[8] = {2, 2, -2, -2, 5, 3, -3, 3};
    for (int t = 0; t < 2; t++) {
        tt_kernel *k = int_kernel(t ? "intops_vec" : "intops", kinds[t], n);
        int64_t *A = aligned_alloc(64, 64), *D = aligned_alloc(64, 64), *O = aligned_alloc(64, 320),
                *R = aligned_alloc(64, 320);
        memcpy(A, a, sizeof a);
        memcpy(D, d, sizeof d);
        void *args[3] = {A, D, O}, *iargs[3] = {A, D, R};
        run_both(k, args, iargs);
        for (int i = 0; i < n; i++) {
            assert_int_equal(O[i], floordiv(a[i], d[i]));
            assert_int_equal(O[n + i], floormod(a[i], d[i]));
            assert_int_equal(O[2 * n + i], floordiv(a[i], 3));
            assert_int_equal(O[3 * n + i], floormod(a[i], -3));
            assert_int_equal(O[4 * n + i], floormod(a[i], d[i]));
        }
        assert_memory_equal(O, R, 5 * n * 8);
        free(A);
        free(D);
        free(O);
        free(R);
        tt_kernel_release(k);
    }
}

/* tmp (WORKSPACE) = relu(x) * 2 over rows, then y = tmp + x; parallel rows each allocate. */
static void workspace_alloc(void **state)
{
    int64_t rows = 7, n = 40;
    tt_buffer *x = buf2("x", rows, n, TT_SCOPE_GLOBAL), *y = buf2("y", rows, n, TT_SCOPE_GLOBAL);
    tt_buffer *tmp = buf1("tmp", TT_DT_F32, n, TT_SCOPE_WORKSPACE);
    tt_expr *i = var("i"), *j = var("j"), *j2 = var("j2");
    tt_expr *xi = ld(x, add(mul(V(i), I(n)), V(j)));
    tt_stmt *fill = loop(
        j, n, TT_FOR_SERIAL,
        st(tmp, V(j),
           mul(sel(bin(TT_EXPR_GT, tt_expr_retain(xi), F(0)), tt_expr_retain(xi), F(0)), F(2))));
    tt_stmt *use = loop(j2, n, TT_FOR_VECTORIZED,
                        st(y, add(mul(V(i), I(n)), V(j2)),
                           add(ld(tmp, V(j2)), ld(x, add(mul(V(i), I(n)), V(j2))))));
    tt_stmt *body = loop(i, rows, TT_FOR_PARALLEL, alloc(tmp, seq(2, fill, use)));
    tt_expr_release(xi);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_expr_release(j2);
    tt_buffer_release(tmp);
    tt_buffer *params[2] = {x, y};
    tt_kernel *k = kernel("ws", 2, params, body);
    float *X = falloc(rows * n), *Y = falloc(rows * n), *R = falloc(rows * n);
    fill_random(X, rows * n, 4);
    void *args[2] = {X, Y}, *iargs[2] = {X, R};
    run_both(k, args, iargs);
    for (int64_t e = 0; e < rows * n; e++)
        assert_float_equal(Y[e], (X[e] > 0 ? X[e] * 2 : 0) + X[e], 1e-6);
    assert_memory_equal(Y, R, (size_t)(rows * n) * 4);
    free(X);
    free(Y);
    free(R);
    tt_kernel_release(k);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* float64, int32 and bool buffers: o = x > 0 && m mod 2 == 0 (bool stored as a byte), then
 * y = float32(o ? x * 2 : float64(m)) reading the bool back; scalar and 16 lanes. */
static tt_kernel *dtype_kernel(const char *name, tt_for_kind kind, int64_t n)
{
    tt_buffer *x = buf1("x", TT_DT_F64, n, TT_SCOPE_GLOBAL),
              *m = buf1("m", TT_DT_I32, n, TT_SCOPE_GLOBAL),
              *o = buf1("o", TT_DT_BOOL, n, TT_SCOPE_GLOBAL),
              *y = buf1("y", TT_DT_F32, n, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_expr *xv = ld(x, V(v)), *mv = ld(m, V(v));
    tt_expr *even =
        bin(TT_EXPR_EQ, bin(TT_EXPR_MOD, tt_expr_retain(mv), tt_expr_int_typed(2, TT_DT_I32)),
            tt_expr_int_typed(0, TT_DT_I32));
    tt_expr *cond =
        bin(TT_EXPR_AND, bin(TT_EXPR_GT, tt_expr_retain(xv), tt_expr_float(0, TT_DT_F64)), even);
    tt_expr *yv =
        sel(ld(o, V(v)), bin(TT_EXPR_MUL, tt_expr_retain(xv), tt_expr_float(2, TT_DT_F64)),
            cast_s(TT_DT_F64, tt_expr_retain(mv)));
    tt_stmt *body = loop(v, n, kind, seq(2, st(o, V(v), cond), st(y, V(v), cast_s(TT_DT_F32, yv))));
    tt_expr_release(xv);
    tt_expr_release(mv);
    tt_expr_release(v);
    tt_buffer *params[4] = {x, m, o, y};
    return kernel(name, 4, params, body);
}

static void dtypes(void **state)
{
    int64_t n = 16;
    tt_for_kind kinds[2] = {TT_FOR_SERIAL, TT_FOR_VECTORIZED};
    for (int t = 0; t < 2; t++) {
        tt_kernel *k = dtype_kernel(t ? "dtypes_vec" : "dtypes", kinds[t], n);
        double *X = aligned_alloc(64, 128);
        int32_t *M = aligned_alloc(64, 64);
        uint8_t *O = aligned_alloc(64, 64), *OR = aligned_alloc(64, 64);
        float *Y = falloc(n), *YR = falloc(n);
        for (int i = 0; i < n; i++) {
            X[i] = (i % 3 ? 1.5 : -2.0) * (i + 1);
            M[i] = i * 7 - 50;
        }
        void *args[4] = {X, M, O, Y}, *iargs[4] = {X, M, OR, YR};
        run_both(k, args, iargs);
        for (int i = 0; i < n; i++) {
            bool want = X[i] > 0 && ((M[i] % 2) + 2) % 2 == 0;
            assert_int_equal(O[i], want);
            assert_float_equal(Y[i], want ? (float)(X[i] * 2) : (float)M[i], 0);
        }
        assert_memory_equal(O, OR, (size_t)n);
        assert_memory_equal(Y, YR, (size_t)n * 4);
        free(X);
        free(M);
        free(O);
        free(OR);
        free(Y);
        free(YR);
        tt_kernel_release(k);
    }
}

/* A workspace the runtime cannot give makes the kernel return -1 with the runtime's message,
 * after freeing the workspaces it already holds (the sanitizer build checks), at top level and
 * inside a parallel body. */
static void workspace_failure(void **state)
{
    for (int par = 0; par < 2; par++) {
        tt_buffer *y = buf1("y", TT_DT_F32, 4, TT_SCOPE_GLOBAL);
        tt_buffer *small = buf1("small", TT_DT_F32, 1000, TT_SCOPE_WORKSPACE);
        /* just under INT64_MAX bytes: the runtime refuses it before asking the allocator */
        DLDataType i8 = {kDLInt, 8, 1};
        tt_buffer *huge = buf1("huge", i8, INT64_MAX - 10, TT_SCOPE_WORKSPACE);
        tt_expr *i = var("i");
        tt_stmt *inner =
            alloc(small, alloc(huge, seq(2, st(huge, I(0), tt_expr_int_typed(1, i8)),
                                         st(y, V(i), cast_s(TT_DT_F32, ld(huge, I(0)))))));
        tt_stmt *body = loop(i, 4, par ? TT_FOR_PARALLEL : TT_FOR_SERIAL, inner);
        tt_expr_release(i);
        tt_buffer_release(small);
        tt_buffer_release(huge);
        tt_kernel *k = kernel(par ? "ws_fail_par" : "ws_fail", 1, &y, body);
        tt_module m = jit_one(k);
        assert_non_null(m);
        int32_t (*f)(float *) = (int32_t (*)(float *))tt_codegen_jit_lookup(m, k->name);
        float *Y = falloc(4);
        assert_int_equal(f(Y), -1);
        if (!strstr(tt_get_last_error(),
                    par ? "tt_backend_parallel_for" : "tt_backend_alloc_workspace"))
            fail_msg("message: %s", tt_get_last_error());
        free(Y);
        tt_mod_free(m);
        tt_kernel_release(k);
    }
}

/* A LOCAL buffer too large for a worker's stack goes to the workspace; nested unrolled loops
 * past the unroll budget stay loops; results are unchanged. */
static void big_local_and_deep_unroll(void **state)
{
    int64_t n = 16, big = 1 << 16;
    tt_buffer *x = buf1("x", TT_DT_F32, n * n * n, TT_SCOPE_GLOBAL),
              *y = buf1("y", TT_DT_F32, n * n * n, TT_SCOPE_GLOBAL);
    tt_buffer *tmp = buf1("tmp", TT_DT_F32, big, TT_SCOPE_LOCAL);
    tt_expr *a = var("a"), *b = var("b"), *c = var("c");
    tt_expr *idx = add(add(mul(V(a), I(n * n)), mul(V(b), I(n))), V(c));
    tt_stmt *s =
        seq(2,
            st(tmp, add(tt_expr_retain(idx), I(big - n * n * n)),
               mul(ld(x, tt_expr_retain(idx)), F(3))),
            st(y, tt_expr_retain(idx), ld(tmp, add(tt_expr_retain(idx), I(big - n * n * n)))));
    tt_stmt *body = loop(a, n, TT_FOR_PARALLEL,
                         alloc(tmp, loop(b, n, TT_FOR_UNROLLED, loop(c, n, TT_FOR_UNROLLED, s))));
    tt_expr *r = var("r");
    body = loop(r, 8, TT_FOR_UNROLLED, body); /* 8 x 16 x 16 copies: past the unroll budget */
    tt_expr_release(r);
    tt_expr_release(idx);
    tt_expr_release(a);
    tt_expr_release(b);
    tt_expr_release(c);
    tt_buffer_release(tmp);
    tt_buffer *params[2] = {x, y};
    tt_kernel *k = kernel("big_local", 2, params, body);
    float *X = falloc(n * n * n), *Y = falloc(n * n * n);
    fill_random(X, n * n * n, 3);
    void *args[2] = {X, Y};
    run_both(k, args, NULL);
    for (int64_t e = 0; e < n * n * n; e++)
        assert_float_equal(Y[e], X[e] * 3, 0);
    free(X);
    free(Y);
    tt_kernel_release(k);
}

/* Compilations on several threads at once (each has its own LLVM context and JIT). */
static void *compile_and_run(void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg, M = 9 + id, N = 21, K = 5 + id;
    char name[32];
    snprintf(name, sizeof name, "mm_thread%d", (int)id);
    tt_kernel *k = matmul_tiled(name, M, N, K, 2, 1, 8, id % 2 ? TT_FOR_PARALLEL : TT_FOR_SERIAL);
    intptr_t bad = 0;
    for (int rep = 0; rep < 3 && !bad; rep++) {
        tt_module m = jit_one(k);
        kernel3 f = m ? (kernel3)tt_codegen_jit_lookup(m, name) : NULL;
        float *A = falloc(M * K), *B = falloc(K * N), *C = falloc(M * N), *R = falloc(M * N);
        fill_random(A, M * K, 1);
        fill_random(B, K * N, 2);
        matmul_ref(A, B, R, M, N, K);
        bad = !f || f(A, B, C) != 0 || max_abs_diff(C, R, M * N) > 1e-4;
        free(A);
        free(B);
        free(C);
        free(R);
        tt_mod_free(m);
    }
    tt_kernel_release(k);
    return (void *)bad;
}

static void concurrent_compiles(void **state)
{
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, compile_and_run, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_null(bad);
    }
}

/* Informative: compile time of a tiled matmul and GFLOPS of a tiled, vectorized, parallel
 * 512^3 matmul. Checked for correctness, timings only printed. */
static void benchmark_512(void **state)
{
    int64_t n = 512;
    tt_target *t;
    assert_int_equal(tt_target_parse("llvm", &t), 0);
    int vl = tt_target_vector_bits(t) / 32;
    tt_kernel *k = matmul_tiled("mm512", n, n, n, 6, 2, vl, TT_FOR_PARALLEL);
    tt_module m = NULL;
    double best_compile = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        tt_mod_free(m);
        assert_int_equal(tt_codegen_jit(&k, 1, t, &m), 0);
        tt_codegen_stats st = tt_codegen_last_stats();
        if (st.total_ms < best_compile)
            best_compile = st.total_ms;
        printf("# compile mm512 (%s): ir %.1f ms, O3 %.1f ms, jit %.1f ms, total %.1f ms\n",
               tt_target_str(t), st.ir_ms, st.opt_ms, st.codegen_ms, st.total_ms);
    }
    kernel3 f = (kernel3)tt_codegen_jit_lookup(m, "mm512");
    float *A = falloc(n * n), *B = falloc(n * n), *C = falloc(n * n), *R = falloc(n * n);
    fill_random(A, n * n, 1);
    fill_random(B, n * n, 2);
    assert_int_equal(f(A, B, C), 0);
    matmul_ref(A, B, R, n, n, n);
    assert_true(max_abs_diff(C, R, n * n) < 1e-2);
    for (int threads = 1; threads <= 2; threads++) {
        tt_backend_set_num_threads(threads);
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now_ms();
            f(A, B, C);
            double dt = now_ms() - t0;
            if (dt < best)
                best = dt;
        }
        printf("# mm512 tiled 6x%d vectorized parallel, %d thread(s): %.2f ms, %.1f GFLOPS\n",
               2 * vl, threads, best, 2.0 * n * n * n / (best * 1e6));
    }
    tt_backend_set_num_threads(0);
    printf("# best compile time mm512: %.1f ms\n", best_compile);
    free(A);
    free(B);
    free(C);
    free(R);
    tt_mod_free(m);
    tt_kernel_release(k);
    tt_target_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(naive_matmul_odd),
        cmocka_unit_test(tiled_matmul_odd),
        cmocka_unit_test(parallel_matches_serial),
        cmocka_unit_test(vectorized_strides),
        cmocka_unit_test(odd_widths_are_native_vectors),
        cmocka_unit_test(vectorized_narrowing_cast_index),
        cmocka_unit_test(vectorized_reduction_falls_back),
        cmocka_unit_test(guarded_tail),
        cmocka_unit_test(select_and_math),
        cmocka_unit_test(int_floor_div_mod),
        cmocka_unit_test(workspace_alloc),
        cmocka_unit_test(dtypes),
        cmocka_unit_test(workspace_failure),
        cmocka_unit_test(big_local_and_deep_unroll),
        cmocka_unit_test(concurrent_compiles),
        cmocka_unit_test(benchmark_512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
