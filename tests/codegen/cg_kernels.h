/* Hand-built loop IR kernels for the codegen tests (matmuls naive and tiled, vectorized, guarded,
 * parallel, with local and workspace buffers) and small helpers to run them. Header-only: each
 * test executable is one source file. */
#ifndef TT_TESTS_CG_KERNELS_H
#define TT_TESTS_CG_KERNELS_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/interp.h"
#include "ir/ir.h"

#include "../ir/expr_build.h"

/* ---- stealing constructors: each releases the references it is given (I, bin, sel: from
 * tests/ir/expr_build.h) ---- */

static inline tt_expr *F(double v)
{
    return tt_expr_float(v, TT_DT_F32);
}
static inline tt_expr *V(tt_expr *var)
{
    return tt_expr_retain(var);
}
static inline tt_expr *add(tt_expr *a, tt_expr *b)
{
    return bin(TT_EXPR_ADD, a, b);
}
static inline tt_expr *mul(tt_expr *a, tt_expr *b)
{
    return bin(TT_EXPR_MUL, a, b);
}
static inline tt_expr *ld(tt_buffer *b, tt_expr *idx)
{
    tt_expr *e = tt_expr_load(b, idx);
    tt_expr_release(idx);
    return e;
}
static inline tt_expr *call1(const char *name, tt_expr *a)
{
    tt_expr *e = tt_expr_call(name, a->dtype, 1, &a);
    tt_expr_release(a);
    return e;
}
static inline tt_stmt *st(tt_buffer *b, tt_expr *idx, tt_expr *val)
{
    tt_stmt *s = tt_stmt_store(b, idx, val);
    tt_expr_release(idx);
    tt_expr_release(val);
    return s;
}
static inline tt_stmt *loop(tt_expr *var, int64_t extent, tt_for_kind kind, tt_stmt *body)
{
    tt_expr *n = tt_expr_int(extent);
    tt_stmt *s = tt_stmt_for(var, n, kind, body);
    tt_expr_release(n);
    tt_stmt_release(body);
    return s;
}
static inline tt_stmt *seq(int n, ...)
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
    return s;
}
static inline tt_stmt *when(tt_expr *cond, tt_stmt *then_s, tt_stmt *else_s)
{
    tt_stmt *s = tt_stmt_if(cond, then_s, else_s);
    tt_expr_release(cond);
    tt_stmt_release(then_s);
    tt_stmt_release(else_s);
    return s;
}
static inline tt_stmt *alloc(tt_buffer *b, tt_stmt *body)
{
    tt_stmt *s = tt_stmt_alloc(b, body);
    tt_stmt_release(body);
    return s;
}
static inline tt_buffer *buf2(const char *name, int64_t r, int64_t c, tt_scope scope)
{
    int64_t shape[2] = {r, c};
    return tt_buffer_new(name, TT_DT_F32, 2, shape, scope);
}
static inline tt_buffer *buf1(const char *name, DLDataType t, int64_t n, tt_scope scope)
{
    return tt_buffer_new(name, t, 1, &n, scope);
}
static inline tt_expr *var(const char *name)
{
    return tt_expr_var(name, TT_DT_I64);
}
/* Makes a kernel and drops the caller's references to params, vars and body. */
static inline tt_kernel *kernel(const char *name, int n, tt_buffer **params, tt_stmt *body)
{
    tt_kernel *k = tt_kernel_new(name, n, params, body);
    for (int i = 0; i < n; i++)
        tt_buffer_release(params[i]);
    tt_stmt_release(body);
    return k;
}

/* ---- matmuls: A[M,K] x B[K,N] -> C[M,N] ---- */

/* for i (ki): for j (kj): C = 0; for k: C += A*B */
static inline tt_kernel *matmul_naive(const char *name, int64_t M, int64_t N, int64_t K,
                                      tt_for_kind ki, tt_for_kind kj)
{
    tt_buffer *A = buf2("A", M, K, TT_SCOPE_GLOBAL), *B = buf2("B", K, N, TT_SCOPE_GLOBAL),
              *C = buf2("C", M, N, TT_SCOPE_GLOBAL);
    tt_expr *i = var("i"), *j = var("j"), *k = var("k");
    tt_expr *cidx = add(mul(V(i), I(N)), V(j));
    tt_stmt *init = st(C, tt_expr_retain(cidx), F(0));
    tt_expr *prod = mul(ld(A, add(mul(V(i), I(K)), V(k))), ld(B, add(mul(V(k), I(N)), V(j))));
    tt_stmt *upd = st(C, tt_expr_retain(cidx), add(ld(C, tt_expr_retain(cidx)), prod));
    tt_stmt *body = loop(i, M, ki, loop(j, N, kj, seq(2, init, loop(k, K, TT_FOR_SERIAL, upd))));
    tt_expr_release(cidx);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_expr_release(k);
    tt_buffer *params[3] = {A, B, C};
    return kernel(name, 3, params, body);
}

/* Register-tiled matmul: tiles of ti rows x nb vectors of vl lanes accumulate in a LOCAL buffer;
 * rows unrolled, vectors unrolled, lanes vectorized; guards when M or N do not divide. */
static inline tt_kernel *matmul_tiled(const char *name, int64_t M, int64_t N, int64_t K, int64_t ti,
                                      int64_t nb, int64_t vl, tt_for_kind kio)
{
    tt_buffer *A = buf2("A", M, K, TT_SCOPE_GLOBAL), *B = buf2("B", K, N, TT_SCOPE_GLOBAL),
              *C = buf2("C", M, N, TT_SCOPE_GLOBAL);
    tt_buffer *acc = buf1("acc", TT_DT_F32, ti * nb * vl, TT_SCOPE_LOCAL);
    int64_t tj = nb * vl;
    int64_t mo = (M + ti - 1) / ti, no = (N + tj - 1) / tj;
    tt_expr *io = var("io"), *jo = var("jo"), *k = var("k");
    tt_stmt *phase[3];
    for (int p = 0; p < 3; p++) {
        tt_expr *ii = var("ii"), *jb = var("jb"), *jv = var("jv");
        tt_expr *row = add(mul(V(io), I(ti)), V(ii));
        tt_expr *col = add(add(mul(V(jo), I(tj)), mul(V(jb), I(vl))), V(jv));
        tt_expr *aidx = add(add(mul(V(ii), I(tj)), mul(V(jb), I(vl))), V(jv));
        tt_stmt *s;
        if (p == 0)
            s = st(acc, tt_expr_retain(aidx), F(0));
        else if (p == 1)
            s = st(acc, tt_expr_retain(aidx),
                   add(ld(acc, tt_expr_retain(aidx)),
                       mul(ld(A, add(mul(tt_expr_retain(row), I(K)), V(k))),
                           ld(B, add(mul(V(k), I(N)), tt_expr_retain(col))))));
        else
            s = st(C, add(mul(tt_expr_retain(row), I(N)), tt_expr_retain(col)),
                   ld(acc, tt_expr_retain(aidx)));
        if (p > 0 && (M % ti || N % tj))
            s = when(bin(TT_EXPR_AND, bin(TT_EXPR_LT, tt_expr_retain(row), I(M)),
                         bin(TT_EXPR_LT, tt_expr_retain(col), I(N))),
                     s, NULL);
        phase[p] = loop(ii, ti, TT_FOR_UNROLLED,
                        loop(jb, nb, TT_FOR_UNROLLED, loop(jv, vl, TT_FOR_VECTORIZED, s)));
        tt_expr_release(row);
        tt_expr_release(col);
        tt_expr_release(aidx);
        tt_expr_release(ii);
        tt_expr_release(jb);
        tt_expr_release(jv);
    }
    phase[1] = loop(k, K, TT_FOR_SERIAL, phase[1]);
    tt_stmt *body = loop(
        io, mo, kio, loop(jo, no, TT_FOR_SERIAL, alloc(acc, seq(3, phase[0], phase[1], phase[2]))));
    tt_buffer_release(acc);
    tt_expr_release(io);
    tt_expr_release(jo);
    tt_expr_release(k);
    tt_buffer *params[3] = {A, B, C};
    return kernel(name, 3, params, body);
}

static inline void fill_random(float *p, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 16) % 2001) / 1000.0f - 1.0f;
    }
}

static inline void matmul_ref(const float *A, const float *B, float *C, int64_t M, int64_t N,
                              int64_t K)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)A[i * K + k] * B[k * N + j];
            C[i * N + j] = (float)s;
        }
}

static inline double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates as the largest */
    }
    return m;
}

/* 64-byte aligned float buffer (the C entry points promise align 64). */
static inline float *falloc(int64_t n)
{
    size_t bytes = (size_t)((n * 4 + 63) / 64 * 64);
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* JITs one kernel for this host. */
static inline tt_module jit_one(tt_kernel *k)
{
    tt_target *t = NULL;
    tt_module m = NULL;
    if (tt_target_parse("llvm", &t) != 0 || tt_codegen_jit(&k, 1, t, &m) != 0)
        fprintf(stderr, "jit_one: %s\n", tt_get_last_error());
    tt_target_free(t);
    return m;
}

typedef int32_t (*kernel3)(float *, float *, float *);
typedef int32_t (*kernel2)(void *, void *);

#endif
