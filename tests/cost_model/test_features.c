/* Features of loop IR (cost_model/features.c): values checked by hand on small nests built
 * directly and lowered from a matmul; identical schedules give identical vectors; every
 * schedule the matmul space samples extracts; the throughput of lower + features and of
 * features alone is printed (the issue asks for >= 20,000 candidates/s on one core). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cost_model/features.h"
#include "ir/lower.h"
#include "ir/opjson.h"
#include "search/search.h"

static tt_compute *matmul(int M, int N, int K, tt_opfile **file)
{
    char text[256];
    snprintf(text, sizeof text, "{\"op\": \"matmul\", \"M\": %d, \"N\": %d, \"K\": %d}", M, N, K);
    assert_int_equal(tt_opfile_parse_string(text, "mm.json", file), 0);
    return (*file)->tasks[0].compute;
}

#define F(i) ((double)f[(i)])

/* for i in [0,4): vectorized for j in [0,8): C[i*8 + j] = A[i*8 + j] + B[j] */
static void test_hand_built_nest(void **state)
{
    (void)state;
    int64_t shape2[2] = {4, 8}, shape1[1] = {8};
    tt_buffer *A = tt_buffer_new("A", TT_DT_F32, 2, shape2, TT_SCOPE_GLOBAL);
    tt_buffer *B = tt_buffer_new("B", TT_DT_F32, 1, shape1, TT_SCOPE_GLOBAL);
    tt_buffer *C = tt_buffer_new("C", TT_DT_F32, 2, shape2, TT_SCOPE_GLOBAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *j = tt_expr_var("j", TT_DT_I64);
    tt_expr *idx =
        tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(i), tt_expr_int(8)), tt_expr_retain(j));
    tt_expr *la = tt_expr_load(A, idx), *lb = tt_expr_load(B, j);
    tt_expr *sum = tt_expr_binary(TT_EXPR_ADD, la, lb);
    tt_stmt *st = tt_stmt_store(C, idx, sum);
    tt_expr *e8 = tt_expr_int(8), *e4 = tt_expr_int(4);
    tt_stmt *inner = tt_stmt_for(j, e8, TT_FOR_VECTORIZED, st);
    tt_stmt *outer = tt_stmt_for(i, e4, TT_FOR_SERIAL, inner);
    tt_buffer *params[3] = {A, B, C};
    tt_kernel *k = tt_kernel_new("k", 3, params, outer);
    assert_non_null(k);
    tt_expr_release(i), tt_expr_release(j), tt_expr_release(idx), tt_expr_release(la);
    tt_expr_release(lb), tt_expr_release(sum), tt_expr_release(e8), tt_expr_release(e4);
    tt_stmt_release(st), tt_stmt_release(inner), tt_stmt_release(outer);
    tt_buffer_release(A), tt_buffer_release(B), tt_buffer_release(C);

    float f[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(k, NULL, f), 0);
    assert_true(F(TT_F_FLOAT_OPS) == 32 && F(TT_F_FLOAT_ADDSUB) == 32 && F(TT_F_FLOAT_MUL) == 0);
    assert_true(F(TT_F_INT_MUL) == 64 && F(TT_F_INT_ADDSUB) == 64); /* C's and A's index */
    assert_true(F(TT_F_LOADS) == 64 && F(TT_F_STORES) == 32);
    assert_true(F(TT_F_BYTES_LOADED) == 256 && F(TT_F_BYTES_STORED) == 128);
    assert_true(F(TT_F_N_LOOPS) == 2 && F(TT_F_MAX_DEPTH) == 2 && F(TT_F_N_NESTS) == 1);
    assert_true(F(TT_F_N_VECTOR_LOOPS) == 1 && F(TT_F_VECTOR_FRACTION) == 1);
    assert_true(F(TT_F_PARALLEL_FRACTION) == 0 && F(TT_F_N_IFS) == 0);
    assert_true(F(TT_F_HOT_EXECUTIONS) == 32 && F(TT_F_HOT_FLOAT_OPS) == 1);
    assert_true(F(TT_F_HOT_DEPTH) == 2 && F(TT_F_HOT_SPATIAL_PRODUCT) == 32);
    assert_true(F(TT_F_HOT_REDUCE_PRODUCT) == 1 && F(TT_F_HOT_VECTOR_WIDTH) == 8);
    assert_true(F(TT_F_HOT_PARALLEL_PROD) == 1 && F(TT_F_HOT_PARALLEL_GRAIN) == 32);
    assert_true(F(TT_F_HOT_ACCUMULATES) == 0);
    /* levels: 0 = j (vectorized), 1 = i */
    assert_true(F(TT_F_LEVEL(0, TT_FL_EXTENT)) == 8 && F(TT_F_LEVEL(0, TT_FL_KIND)) == 2);
    assert_true(F(TT_F_LEVEL(1, TT_FL_EXTENT)) == 4 && F(TT_F_LEVEL(1, TT_FL_KIND)) == 0);
    assert_true(F(TT_F_LEVEL(0, TT_FL_REDUCE)) == 0 && F(TT_F_LEVEL(2, TT_FL_EXTENT)) == 0);
    /* slot 0: C; slot 1: A (128 bytes touched), slot 2: B (32 bytes) */
    assert_true(F(TT_F_SLOT(0, TT_FS_PRESENT)) == 1 && F(TT_F_SLOT(0, TT_FS_INNER_STRIDE)) == 1);
    assert_true(F(TT_F_SLOT(0, TT_FS_BYTES_TOUCHED)) == 128);
    assert_true(F(TT_F_SLOT(0, TT_FS_FOOTPRINT + 0)) == 32);
    assert_true(F(TT_F_SLOT(0, TT_FS_FOOTPRINT + 1)) == 128);
    assert_true(F(TT_F_SLOT(0, TT_FS_REUSE + 1)) == 1 && F(TT_F_SLOT(0, TT_FS_AFFINE)) == 1);
    assert_true(F(TT_F_SLOT(1, TT_FS_BUFFER_BYTES)) == 128);
    assert_true(F(TT_F_SLOT(1, TT_FS_BYTES_TOUCHED)) == 128);
    assert_true(F(TT_F_SLOT(2, TT_FS_BUFFER_BYTES)) == 32);
    assert_true(F(TT_F_SLOT(2, TT_FS_FOOTPRINT + 1)) == 32);
    assert_true(F(TT_F_SLOT(2, TT_FS_REUSE + 0)) == 1 && F(TT_F_SLOT(2, TT_FS_REUSE + 1)) == 4);
    assert_true(F(TT_F_SLOT(3, TT_FS_PRESENT)) == 0);
    assert_true(fabs(F(TT_F_HOT_INTENSITY) - 32.0 / (128 + 128 + 32)) < 1e-6);
    tt_kernel_release(k);
}

/* The unscheduled matmul 4x6x5: for i, j { C = 0; for k: C[i*6+j] += A[i*5+k] * B[k*6+j] } */
static void test_matmul_default_nest(void **state)
{
    (void)state;
    tt_opfile *file = NULL;
    tt_compute *c = matmul(4, 6, 5, &file);
    tt_kernel *k = NULL;
    assert_int_equal(tt_lower(c, NULL, "mm", &k), 0);
    float f[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(k, NULL, f), 0);
    assert_true(F(TT_F_FLOAT_OPS) == 2 * 4 * 6 * 5);
    assert_true(F(TT_F_FLOAT_MUL) == 120 && F(TT_F_FLOAT_ADDSUB) == 120);
    assert_true(F(TT_F_STORES) == 24 + 120 && F(TT_F_N_STORE_STMTS) == 2);
    assert_true(F(TT_F_HOT_EXECUTIONS) == 120 && F(TT_F_HOT_ACCUMULATES) == 1);
    assert_true(F(TT_F_HOT_SPATIAL_PRODUCT) == 24 && F(TT_F_HOT_REDUCE_PRODUCT) == 5);
    assert_true(F(TT_F_LEVEL(0, TT_FL_EXTENT)) == 5 && F(TT_F_LEVEL(0, TT_FL_REDUCE)) == 1);
    assert_true(F(TT_F_LEVEL(1, TT_FL_EXTENT)) == 6 && F(TT_F_LEVEL(1, TT_FL_REDUCE)) == 0);
    /* C: invariant in k; first variable j at level 1 with stride 1 */
    assert_true(F(TT_F_SLOT(0, TT_FS_INNER_STRIDE)) == 0);
    assert_true(F(TT_F_SLOT(0, TT_FS_FIRST_VAR_LEVEL)) == 1);
    assert_true(F(TT_F_SLOT(0, TT_FS_FIRST_VAR_STRIDE)) == 1);
    assert_true(F(TT_F_SLOT(0, TT_FS_FOOTPRINT + 0)) == 4); /* one element over k */
    assert_true(F(TT_F_SLOT(0, TT_FS_REUSE + 0)) == 5);
    /* B (30 elements touched) before A (20): B strided by N along k */
    assert_true(F(TT_F_SLOT(1, TT_FS_BYTES_TOUCHED)) == 120);
    assert_true(F(TT_F_SLOT(1, TT_FS_INNER_STRIDE)) == 6);
    assert_true(F(TT_F_SLOT(1, TT_FS_FOOTPRINT + 0)) == 20); /* a column of 5 */
    assert_true(F(TT_F_SLOT(1, TT_FS_FOOTPRINT + 1)) == 120);
    assert_true(F(TT_F_SLOT(1, TT_FS_REUSE + 2)) == 4); /* 120 reads of 30 elements */
    assert_true(F(TT_F_SLOT(2, TT_FS_BYTES_TOUCHED)) == 80);
    assert_true(F(TT_F_SLOT(2, TT_FS_INNER_STRIDE)) == 1);
    assert_true(F(TT_F_SLOT(2, TT_FS_FOOTPRINT + 1)) == 20); /* a row of A over j and k */
    assert_true(F(TT_F_SLOT(2, TT_FS_REUSE + 1)) == 6);
    tt_kernel_release(k);
    tt_opfile_free(file);
}

/* Matmul M x N x K with an fi x fj register tile (fi rows unrolled, fj columns vectorised) inside
 * the reduction k, the outer tiles fused and parallel, the tile accumulated in a local buffer. */
static tt_kernel *tiled_matmul(int M, int N, int K, int fi, int fj)
{
    tt_opfile *file = NULL;
    tt_compute *c = matmul(M, N, K, &file);
    char steps[1024];
    snprintf(
        steps, sizeof steps,
        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[%d]},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[%d]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"k\",\"i.1\",\"j.1\"]},"
        "{\"s\":\"fuse\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\"]},"
        "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i.0@j.0\"},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"},"
        "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i.1\"},"
        "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"i.0@j.0\"}]",
        fi, fj);
    tt_schedule *s = NULL;
    assert_int_equal(tt_schedule_from_json(steps, &s), 0);
    tt_kernel *k = NULL;
    assert_int_equal(tt_lower(c, s, "mm", &k), 0);
    tt_schedule_free(s);
    tt_opfile_free(file);
    return k;
}

/* split + fuse + parallel + vectorize + cache_write: annotations, local buffer, grain */
static void test_matmul_tiled(void **state)
{
    (void)state;
    tt_kernel *k1 = tiled_matmul(64, 64, 32, 8, 16), *k2 = tiled_matmul(64, 64, 32, 8, 16);
    float f[TT_FEATURE_COUNT], g[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(k1, NULL, f), 0);
    assert_int_equal(tt_features_extract(k2, NULL, g), 0);
    assert_memory_equal(f, g, sizeof f); /* identical schedules, identical vectors */
    assert_true(F(TT_F_FLOAT_OPS) == 2.0 * 64 * 64 * 32);
    assert_true(F(TT_F_HOT_PARALLEL_PROD) == 32); /* 8 x 4 tiles */
    assert_true(F(TT_F_HOT_PARALLEL_GRAIN) == 64 * 64 * 32 / 32);
    assert_true(F(TT_F_HOT_VECTOR_WIDTH) == 16 && F(TT_F_HOT_UNROLL_PRODUCT) == 8);
    assert_true(F(TT_F_LOCAL_BYTES) == 8 * 16 * 4); /* the accumulator tile */
    assert_true(F(TT_F_PARALLEL_FRACTION) == 1 && F(TT_F_N_PARALLEL_LOOPS) == 1);
    assert_true(F(TT_F_LEVEL(0, TT_FL_KIND)) == TT_FOR_VECTORIZED);
    assert_true(F(TT_F_LEVEL(1, TT_FL_KIND)) == TT_FOR_UNROLLED);
    assert_true(F(TT_F_LEVEL(2, TT_FL_EXTENT)) == 32 && F(TT_F_LEVEL(2, TT_FL_REDUCE)) == 1);
    assert_true(F(TT_F_LEVEL(3, TT_FL_KIND)) == TT_FOR_PARALLEL);
    assert_true(F(TT_F_SLOT(0, TT_FS_SCOPE)) == TT_SCOPE_LOCAL);
    /* the fused loop reads through its division and modulo: not affine */
    int global_slots = 0;
    for (int sl = 1; sl < 3; sl++)
        global_slots += F(TT_F_SLOT(sl, TT_FS_SCOPE)) == TT_SCOPE_GLOBAL;
    assert_int_equal(global_slots, 2);
    tt_kernel_release(k1);
    tt_kernel_release(k2);
}

/* The accumulator tile against the vector registers: a 10 x 16 float tile needs 10 x 2 = 20
 * AVX2 registers of 16 (it spills), a 6 x 16 one 12 (it fits); on AVX-512 10 of 32. A 12-wide
 * vector loop fills two 8-lane registers, leaving 4 of 16 lanes empty. */
static void test_register_tile(void **state)
{
    (void)state;
    tt_feat_machine avx2 = {256, 16, 5}, avx512 = {512, 32, 5};
    float f[TT_FEATURE_COUNT];
    tt_kernel *k = tiled_matmul(60, 64, 32, 10, 16);
    assert_int_equal(tt_features_extract(k, &avx2, f), 0);
    assert_true(F(TT_F_REG_TILE_ELEMS) == 160 && F(TT_F_REG_TILE_VECTORS) == 20);
    assert_true(F(TT_F_REG_TILE_PRESSURE) == 1.25 && F(TT_F_VECTOR_LANE_WASTE) == 0);
    /* 6 x 4 tiles on 5 threads: 4.8 each, the busiest runs 5 */
    assert_true(fabs(F(TT_F_PAR_TASKS_PER_THREAD) - 4.8) < 1e-6);
    assert_true(fabs(F(TT_F_PAR_IMBALANCE) - 25.0 / 24) < 1e-6);
    assert_int_equal(tt_features_extract(k, &avx512, f), 0);
    assert_true(F(TT_F_REG_TILE_VECTORS) == 10 && F(TT_F_REG_TILE_PRESSURE) == 10.0 / 32);
    assert_int_equal(tt_features_extract(k, NULL, f), 0); /* the machine unknown: missing */
    assert_true(F(TT_F_REG_TILE_ELEMS) == 160 && isnan(F(TT_F_REG_TILE_VECTORS)));
    assert_true(isnan(F(TT_F_REG_TILE_PRESSURE)) && isnan(F(TT_F_VECTOR_LANE_WASTE)));
    assert_true(isnan(F(TT_F_PAR_TASKS_PER_THREAD)) && isnan(F(TT_F_PAR_IMBALANCE)));
    tt_kernel_release(k);

    k = tiled_matmul(60, 64, 32, 6, 16);
    assert_int_equal(tt_features_extract(k, &avx2, f), 0);
    assert_true(F(TT_F_REG_TILE_ELEMS) == 96 && F(TT_F_REG_TILE_VECTORS) == 12);
    assert_true(F(TT_F_REG_TILE_PRESSURE) == 0.75);
    assert_true(F(TT_F_PAR_TASKS_PER_THREAD) == 8 && F(TT_F_PAR_IMBALANCE) == 1);
    tt_kernel_release(k);

    k = tiled_matmul(48, 60, 32, 4, 12);
    assert_int_equal(tt_features_extract(k, &avx2, f), 0);
    assert_true(F(TT_F_REG_TILE_VECTORS) == 8 && F(TT_F_VECTOR_LANE_WASTE) == 0.25);
    assert_int_equal(tt_features_extract(k, &avx512, f), 0); /* one 16-lane register: 4 empty */
    assert_true(F(TT_F_REG_TILE_VECTORS) == 4 && F(TT_F_VECTOR_LANE_WASTE) == 0.25);
    tt_kernel_release(k);

    /* 7 columns on 8 lanes: one register, one lane empty */
    k = tiled_matmul(14, 14, 8, 2, 7);
    assert_int_equal(tt_features_extract(k, &avx2, f), 0);
    assert_true(F(TT_F_VECTOR_LANE_WASTE) == 0.125 && F(TT_F_REG_TILE_VECTORS) == 2);
    tt_kernel_release(k);

    /* the unscheduled matmul: one scalar accumulator inside k */
    tt_opfile *file = NULL;
    tt_compute *c = matmul(4, 6, 5, &file);
    assert_int_equal(tt_lower(c, NULL, "mm", &k), 0);
    assert_int_equal(tt_features_extract(k, &avx2, f), 0);
    assert_true(F(TT_F_REG_TILE_ELEMS) == 1 && F(TT_F_REG_TILE_VECTORS) == 1);
    /* no parallel loop: one thread of five does everything */
    assert_true(fabs(F(TT_F_PAR_TASKS_PER_THREAD) - 0.2) < 1e-6 && F(TT_F_PAR_IMBALANCE) == 5);
    tt_kernel_release(k);
    tt_opfile_free(file);
}

/* A packing copy, an interior accumulation and a guarded border copy of it, built by hand:
 *   alloc workspace P[8] {
 *     for t < 8: P[t] = A[t]                                   work  8 x 1
 *     for i < 4: for j < 8: C[i*8+j] = C[i*8+j] + P[j] * A[j]   work 32 x 3 (the hot store)
 *     for j < 8: if (j < 4) C[j] = C[j] + P[j] * A[j]           work  8 x 3, guarded
 *   } */
static void test_work_shares(void **state)
{
    (void)state;
    int64_t s32[1] = {32}, s8[1] = {8};
    tt_buffer *A = tt_buffer_new("A", TT_DT_F32, 1, s8, TT_SCOPE_GLOBAL);
    tt_buffer *C = tt_buffer_new("C", TT_DT_F32, 1, s32, TT_SCOPE_GLOBAL);
    tt_buffer *P = tt_buffer_new("P", TT_DT_F32, 1, s8, TT_SCOPE_WORKSPACE);
    tt_expr *t = tt_expr_var("t", TT_DT_I64), *i = tt_expr_var("i", TT_DT_I64);
    tt_expr *j = tt_expr_var("j", TT_DT_I64), *e8 = tt_expr_int(8), *e4 = tt_expr_int(4);
    tt_expr *at = tt_expr_load(A, t);
    tt_stmt *pack = tt_stmt_store(P, t, at);
    tt_stmt *pack_loop = tt_stmt_for(t, e8, TT_FOR_SERIAL, pack);
    tt_expr *ij =
        tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(i), tt_expr_int(8)), tt_expr_retain(j));
    tt_expr *pj = tt_expr_load(P, j), *aj = tt_expr_load(A, j);
    tt_expr *prod = tt_expr_binary(TT_EXPR_MUL, pj, aj);
    tt_expr *cij = tt_expr_load(C, ij), *cj = tt_expr_load(C, j);
    tt_expr *sum1 = tt_expr_binary(TT_EXPR_ADD, cij, prod);
    tt_expr *sum2 = tt_expr_binary(TT_EXPR_ADD, cj, prod);
    tt_stmt *interior = tt_stmt_store(C, ij, sum1);
    tt_stmt *inner = tt_stmt_for(j, e8, TT_FOR_SERIAL, interior);
    tt_stmt *interior_loop = tt_stmt_for(i, e4, TT_FOR_SERIAL, inner);
    tt_expr *cond = tt_expr_binary(TT_EXPR_LT, j, e4);
    tt_stmt *border = tt_stmt_store(C, j, sum2);
    tt_stmt *guard = tt_stmt_if(cond, border, NULL);
    tt_stmt *border_loop = tt_stmt_for(j, e8, TT_FOR_SERIAL, guard);
    tt_stmt *parts[3] = {pack_loop, interior_loop, border_loop};
    tt_stmt *seq = tt_stmt_seq(3, parts);
    tt_stmt *body = tt_stmt_alloc(P, seq);
    tt_buffer *params[2] = {A, C};
    tt_kernel *k = tt_kernel_new("k", 2, params, body);
    assert_non_null(k);
    tt_expr *exprs[] = {t, i, j, e8, e4, at, ij, pj, aj, prod, cij, cj, sum1, sum2, cond};
    for (size_t n = 0; n < sizeof exprs / sizeof exprs[0]; n++)
        tt_expr_release(exprs[n]);
    tt_stmt *stmts[] = {pack,   pack_loop, interior,    inner, interior_loop,
                        border, guard,     border_loop, seq,   body};
    for (size_t n = 0; n < sizeof stmts / sizeof stmts[0]; n++)
        tt_stmt_release(stmts[n]);
    tt_buffer_release(A), tt_buffer_release(C), tt_buffer_release(P);

    float f[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(k, NULL, f), 0);
    assert_true(F(TT_F_HOT_EXECUTIONS) == 32 && F(TT_F_HOT_ACCUMULATES) == 1);
    assert_true(F(TT_F_HOT_WORK_SHARE) == 96.0 / 128 && F(TT_F_HOT_COPIES) == 2);
    assert_true(F(TT_F_GUARDED_WORK_SHARE) == 24.0 / 128);
    assert_true(F(TT_F_WORKSPACE_WORK_SHARE) == 8.0 / 128);
    assert_true(F(TT_F_REG_TILE_ELEMS) == 0); /* no reduction loop around the hot store */
    tt_kernel_release(k);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Every sampled schedule of a matmul space extracts, twice the same; throughput printed. */
static void test_sampled_schedules(void **state)
{
    (void)state;
    tt_opfile *file = NULL;
    tt_compute *c = matmul(256, 256, 256, &file);
    tt_space_opts so = {256, 2, 0};
    tt_space *sp = NULL;
    assert_int_equal(tt_space_new(c, &so, &sp), 0);
    enum { N = 200 };
    tt_kernel *ks[N];
    uint64_t rng = 7;
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        tt_schedule *s = NULL;
        assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
        assert_int_equal(tt_lower(c, s, "mm", &ks[i]), 0);
        tt_schedule_free(s);
    }
    double t1 = now_s();
    float *f = malloc(sizeof(float) * TT_FEATURE_COUNT * N);
    assert_non_null(f);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tt_features_extract(ks[i], NULL, f + i * TT_FEATURE_COUNT), 0);
        /* exact without guards; a guarded tail (a 6-row tile of 256 rows) counts as taken */
        float ops = f[i * TT_FEATURE_COUNT + TT_F_FLOAT_OPS], exact = 2.0f * 256 * 256 * 256;
        assert_true(f[i * TT_FEATURE_COUNT + TT_F_N_IFS] > 0 ? ops >= exact : ops == exact);
    }
    double t2 = now_s();
    int reps = 20;
    float g[TT_FEATURE_COUNT];
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < N; i++)
            assert_int_equal(tt_features_extract(ks[i], NULL, g), 0);
    double t3 = now_s();
    for (int i = 0; i < N; i++) {
        assert_int_equal(tt_features_extract(ks[i], NULL, g), 0);
        assert_memory_equal(g, f + i * TT_FEATURE_COUNT, sizeof g);
        tt_kernel_release(ks[i]);
    }
    printf("matmul 256^3 schedules: lower %.0f/s, lower + features %.0f/s, features alone "
           "%.0f/s (%d features)\n",
           N / (t1 - t0), N / (t2 - t0), reps * N / (t3 - t2), TT_FEATURE_COUNT);
    free(f);
    tt_space_free(sp);
    tt_opfile_free(file);
}

static void test_names_and_errors(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(tt_feature_name(0, buf, sizeof buf), "float_ops");
    assert_string_equal(tt_feature_name(TT_F_HOT_ACCUMULATES, buf, sizeof buf), "hot_accumulates");
    assert_string_equal(tt_feature_name(TT_F_LEVEL(3, TT_FL_KIND), buf, sizeof buf), "level3_kind");
    assert_string_equal(tt_feature_name(TT_F_PAR_IMBALANCE, buf, sizeof buf), "par_imbalance");
    assert_string_equal(tt_feature_name(TT_F_REG_TILE_PRESSURE, buf, sizeof buf),
                        "reg_tile_pressure");
    assert_string_equal(tt_feature_name(TT_F_SLOT(1, TT_FS_REUSE + 2), buf, sizeof buf),
                        "slot1_reuse_2");
    assert_string_equal(tt_feature_name(TT_F_SLOT(3, TT_FS_BYTES_TOUCHED), buf, sizeof buf),
                        "slot3_bytes_touched");
    assert_string_equal(tt_feature_name(TT_FEATURE_COUNT, buf, sizeof buf), "");
    float f[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(NULL, NULL, f), -1);
    assert_non_null(strstr(tt_get_last_error(), "expected a kernel"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_built_nest),  cmocka_unit_test(test_matmul_default_nest),
        cmocka_unit_test(test_matmul_tiled),     cmocka_unit_test(test_sampled_schedules),
        cmocka_unit_test(test_names_and_errors), cmocka_unit_test(test_register_tile),
        cmocka_unit_test(test_work_shares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
