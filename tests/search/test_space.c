/* The search space over every built-in op and several "expr" ops: random samples, the default
 * schedule, mutants and crossover children all lower, run in the interpreter (a share also
 * through the JIT) and agree with the reference evaluation; decisions decode back from the
 * schedules (also after a JSON round trip); the hash is canonical; errors have messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "search_test.h"

static tt_target *host;
static int n_interp, n_jit;

static int setup(void **state)
{
    (void)state;
    return tt_target_parse("llvm", &host);
}

static int teardown(void **state)
{
    (void)state;
    tt_target_free(host);
    return 0;
}

/* ---- the ops ---- */

typedef struct {
    const char *label;
    tt_compute *c;
    tt_space_opts opts;
} op_case;

#define MAX_CASES 32

static int conv_case(op_case *o, int n, const char *label, tt_op_kind kind, bool nhwc)
{
    tt_op_desc d;
    tt_op_desc_init(&d, kind);
    d.N = 1, d.C = 3, d.H = 9, d.W = 8, d.K = 8, d.R = 3, d.S = 3;
    d.nhwc = nhwc;
    d.stride[0] = d.stride[1] = 2;
    d.pad[0] = d.pad[1] = 1;
    d.bias = kind != TT_OP_POOL2D;
    d.relu = kind == TT_OP_CONV2D;
    if (kind == TT_OP_DEPTHWISE_CONV2D)
        d.C = 4, d.stride[1] = 1;
    o[n] = (op_case){label, st_op(&d), {256, 2, 0}};
    return n + 1;
}

static int make_cases(op_case *o)
{
    int n = 0;
    static const int64_t mm[][3] = {{16, 16, 16}, {13, 17, 9}, {7, 1, 5}, {1, 9, 4}, {31, 29, 37}};
    static const char *mm_label[] = {"matmul 16^3", "matmul 13x17x9", "matmul N=1", "matmul M=1",
                                     "matmul primes"};
    for (int i = 0; i < 5; i++) {
        tt_op_desc d;
        tt_op_desc_init(&d, TT_OP_MATMUL);
        d.M = mm[i][0], d.N = mm[i][1], d.K = mm[i][2];
        o[n++] = (op_case){mm_label[i], st_op(&d), {i == 4 ? 512 : 256, i == 1 ? 1 : 2, 0}};
    }
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_BATCH_MATMUL);
    d.B = 2, d.M = 5, d.N = 12, d.K = 7;
    o[n++] = (op_case){"batch_matmul", st_op(&d), {128, 2, 0}};
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 6, d.N = 20, d.K = 9, d.bias = d.relu = true;
    o[n++] = (op_case){"dense bias relu", st_op(&d), {256, 2, 0}};
    n = conv_case(o, n, "conv2d nchw", TT_OP_CONV2D, false);
    n = conv_case(o, n, "conv2d nhwc", TT_OP_CONV2D, true);
    n = conv_case(o, n, "depthwise nchw", TT_OP_DEPTHWISE_CONV2D, false);
    n = conv_case(o, n, "depthwise nhwc", TT_OP_DEPTHWISE_CONV2D, true);
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.N = 1, d.C = 3, d.H = 8, d.W = 9, d.R = 2, d.S = 2, d.pool_max = true;
    d.stride[0] = d.stride[1] = 2;
    o[n++] = (op_case){"pool2d max", st_op(&d), {256, 2, 0}};
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.N = 1, d.C = 4, d.H = 7, d.W = 7, d.R = 3, d.S = 3, d.nhwc = true;
    d.stride[0] = d.stride[1] = 2;
    d.pad[0] = d.pad[1] = 1;
    o[n++] = (op_case){"pool2d avg nhwc pad", st_op(&d), {256, 2, 0}};
    o[n++] = (op_case){
        "expr scaled_mm",
        tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j]) * s[j]", "A:9x11,B:11x24,s:24"),
        {256, 2, 0}};
    o[n++] = (op_case){
        "expr stencil",
        tt_test_parse("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:9x20"),
        {256, 2, 0}};
    o[n++] = (op_case){"expr softmax",
                       tt_test_parse("M[i] = max(j, X[i, j]); E[i, j] = exp(X[i, j] - M[i]); "
                                     "S[i] = sum(j, E[i, j]); Y[i, j] = E[i, j] / S[i]",
                                     "X:5x19"),
                       {256, 2, 0}};
    o[n++] =
        (op_case){"expr elementwise 3d",
                  tt_test_parse("C[i, j, k] = max(A[i, j, k] * B[k] + 1.0, 0.0)", "A:3x5x18,B:18"),
                  {512, 2, 0}};
    o[n++] = (op_case){"expr sum of squares",
                       tt_test_parse("R[i] = sum([j, k], X[i, j, k] * X[i, j, k])", "X:6x4x7"),
                       {256, 2, 0}};
    o[n++] =
        (op_case){"expr prologue+epilogue",
                  tt_test_parse("S[i, k] = A[i, k] * 2.0; T[i, j] = sum(k, S[i, k] * B[k, j]); "
                                "C[i, j] = max(T[i, j], 0.0)",
                                "A:6x5,B:5x21"),
                  {256, 2, 0}};
    /* edges: a scalar reduction, extent-1 reduce axes (1x1 conv), float64 */
    o[n++] =
        (op_case){"expr scalar sum", tt_test_parse("s = sum(i, A[i] * A[i])", "A:37"), {256, 2, 0}};
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 2, d.C = 5, d.H = 6, d.W = 6, d.K = 12, d.R = 1, d.S = 1, d.bias = true;
    o[n++] = (op_case){"conv2d 1x1 batch 2", st_op(&d), {512, 3, 0}};
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 10, d.N = 12, d.K = 6, d.dtype = TT_DT_F64;
    o[n++] = (op_case){"matmul float64", st_op(&d), {256, 2, 0}};
    /* a second vector axis: output channels of an NCHW conv (width 6 makes poor vectors),
     * rows of a skinny matmul (10 columns) */
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 3, d.H = 5, d.W = 6, d.K = 16, d.R = 3, d.S = 3, d.bias = true;
    d.pad[0] = d.pad[1] = 1;
    o[n++] = (op_case){"conv2d nchw 16 channels", st_op(&d), {256, 1, 0}};
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 40, d.N = 10, d.K = 7;
    o[n++] = (op_case){"matmul 40x10x7", st_op(&d), {256, 2, 0}};
    return n;
}

static void free_cases(op_case *o, int n)
{
    for (int i = 0; i < n; i++)
        tt_compute_release(o[i].c);
}

/* ---- samples, default, JIT ---- */

static void test_samples_lower_and_compute(void **state)
{
    (void)state;
    op_case o[MAX_CASES];
    int n = make_cases(o);
    uint64_t rng = 12345;
    for (int i = 0; i < n; i++) {
        assert_non_null(o[i].c);
        tt_space *sp = NULL;
        if (tt_space_new(o[i].c, &o[i].opts, &sp) != 0)
            fail_msg("%s: %s", o[i].label, tt_get_last_error());
        printf("%-24s space size %lld\n", o[i].label, (long long)tt_space_size(sp));
        assert_true(tt_space_size(sp) >= 1);
        char label[128];
        tt_schedule *s = NULL;
        assert_int_equal(tt_space_default(sp, &s), 0);
        snprintf(label, sizeof label, "%s default", o[i].label);
        assert_int_equal(st_check(o[i].c, s, host, label), 0);
        n_interp++, n_jit++;
        tt_schedule_free(s);
        for (int t = 0; t < 18; t++) {
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            snprintf(label, sizeof label, "%s sample %d", o[i].label, t);
            const tt_target *jit = t < 3 ? host : NULL;
            assert_int_equal(st_check(o[i].c, s, jit, label), 0);
            n_interp++;
            n_jit += jit != NULL;
            tt_schedule_free(s);
        }
        tt_space_free(sp);
    }
    printf("%d schedules checked in the interpreter, %d through the JIT\n", n_interp, n_jit);
    assert_true(n_interp >= 300);
    free_cases(o, n);
}

/* Thousands of samples per op only lower (no run): every decision combination must. */
static void test_many_samples_lower(void **state)
{
    (void)state;
    op_case o[MAX_CASES];
    int n = make_cases(o);
    uint64_t rng = 777;
    int total = 0;
    for (int i = 0; i < n; i++) {
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(o[i].c, &o[i].opts, &sp), 0);
        for (int t = 0; t < 150; t++) {
            tt_schedule *s = NULL;
            tt_kernel *k = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            if (tt_lower(o[i].c, s, "k", &k) != 0) {
                char *js = tt_schedule_to_json(s);
                fail_msg("%s: %s\n%s", o[i].label, tt_get_last_error(), js);
            }
            /* and its point decodes */
            int *v = NULL, nv = 0;
            assert_int_equal(tt_space_decode(sp, s, &v, &nv), 0);
            free(v);
            tt_kernel_release(k);
            tt_schedule_free(s);
            total++;
        }
        /* grid points too, spread over the space */
        int64_t size = tt_space_size(sp);
        for (int t = 0; t < 30; t++) {
            tt_schedule *s = NULL;
            tt_kernel *k = NULL;
            int64_t idx = (int64_t)((double)size * t / 30.0);
            assert_int_equal(tt_space_point(sp, idx, &s), 0);
            if (tt_lower(o[i].c, s, "k", &k) != 0)
                fail_msg("%s point %lld: %s", o[i].label, (long long)idx, tt_get_last_error());
            tt_kernel_release(k);
            tt_schedule_free(s);
            total++;
        }
        tt_space_free(sp);
    }
    printf("%d sampled schedules lowered\n", total);
    free_cases(o, n);
}

/* Realistic shapes (too large to run here) lower too, with their kernels' buffers in bounds of
 * what the space promises: the accumulator tile fits the register budget (LOCAL scope). */
static bool local_only_small(const tt_stmt *st, int64_t limit)
{
    if (!st)
        return true;
    if (st->kind == TT_STMT_ALLOC && st->buffer->scope == TT_SCOPE_LOCAL &&
        strstr(st->buffer->name, ".local") && st->buffer->numel > limit)
        return false;
    if (!local_only_small(st->body, limit) || !local_only_small(st->then_s, limit) ||
        !local_only_small(st->else_s, limit))
        return false;
    for (int i = 0; i < st->nstmts; i++)
        if (!local_only_small(st->stmts[i], limit))
            return false;
    return true;
}

static void test_realistic_shapes_lower(void **state)
{
    (void)state;
    tt_compute *c[6];
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = d.N = d.K = 1024;
    c[0] = st_op(&d);
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 128, d.H = 28, d.W = 28, d.K = 128, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    d.bias = d.relu = true;
    c[1] = st_op(&d);
    d.nhwc = true;
    d.stride[0] = d.stride[1] = 2;
    c[2] = st_op(&d);
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 1, d.N = 1000, d.K = 2048, d.bias = true;
    c[3] = st_op(&d);
    tt_op_desc_init(&d, TT_OP_DEPTHWISE_CONV2D);
    d.N = 1, d.C = 32, d.H = 112, d.W = 112, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    c[4] = st_op(&d);
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.N = 1, d.C = 64, d.H = 112, d.W = 112, d.R = 3, d.S = 3, d.pool_max = true;
    d.stride[0] = d.stride[1] = 2;
    d.pad[0] = d.pad[1] = 1;
    c[5] = st_op(&d);
    static const tt_space_opts opts[] = {{512, 8, 0}, {256, 4, 0}, {128, 2, 0}};
    uint64_t rng = 31;
    for (int i = 0; i < 6; i++) {
        assert_non_null(c[i]);
        for (int o = 0; o < 3; o++) {
            tt_space *sp = NULL;
            assert_int_equal(tt_space_new(c[i], &opts[o], &sp), 0);
            int64_t budget = 16 * opts[o].vector_bits / 32;
            for (int t = 0; t < 25; t++) {
                tt_schedule *s = NULL;
                tt_kernel *k = NULL;
                assert_int_equal(t == 0 ? tt_space_default(sp, &s) : tt_space_sample(sp, &rng, &s),
                                 0);
                if (tt_lower(c[i], s, "k", &k) != 0)
                    fail_msg("%s: %s", c[i]->name, tt_get_last_error());
                assert_true(local_only_small(k->body, budget < 64 ? 64 : budget));
                tt_kernel_release(k);
                tt_schedule_free(s);
            }
            tt_space_free(sp);
        }
        tt_compute_release(c[i]);
    }
}

/* The unrolled body of a schedule's tile, from its steps alone: the innermost factor of every
 * 3-level (spatial) split, ceil(factor / lanes) for the vectorised one, times the factor of
 * every unrolled 1-level (reduce) split. */
static int64_t unrolled_body(const tt_schedule *s, int lanes, bool *reduce_unrolled)
{
    const tt_step *vec = NULL;
    for (int i = 0; i < tt_schedule_size(s); i++)
        if (tt_schedule_step(s, i)->kind == TT_STEP_VECTORIZE)
            vec = tt_schedule_step(s, i);
    int64_t body = 1;
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        if (st->kind != TT_STEP_SPLIT)
            continue;
        char inner[64];
        snprintf(inner, sizeof inner, "%s.%d", st->loops[0], st->nfactors);
        int64_t f = st->factors[st->nfactors - 1];
        if (st->nfactors == 3) {
            body *= vec && strcmp(vec->loops[0], inner) == 0 ? (f + lanes - 1) / lanes : f;
            continue;
        }
        for (int j = 0; j < tt_schedule_size(s); j++) {
            const tt_step *u = tt_schedule_step(s, j);
            if (u->kind == TT_STEP_UNROLL && strcmp(u->loops[0], inner) == 0) {
                body *= f;
                *reduce_unrolled = true;
            }
        }
    }
    return body;
}

/* Unrolling stops at 512 copies of the statement: a conv tile of 7 rows over a 3x3x32
 * reduction unrolled took LLVM 20 s to build. Reduce loops still unroll where they fit. */
static void test_unrolled_body_capped(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 128, d.H = 28, d.W = 28, d.K = 128, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    d.nhwc = true;
    tt_compute *c[2] = {st_op(&d), NULL};
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = d.N = d.K = 1024;
    c[1] = st_op(&d);
    const tt_space_opts opts = {512, 8, 0};
    uint64_t rng = 5;
    for (int i = 0; i < 2; i++) {
        assert_non_null(c[i]);
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(c[i], &opts, &sp), 0);
        int64_t largest = 0;
        int with_reduce = 0;
        for (int t = 0; t < 3000; t++) {
            tt_schedule *s = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            bool ru = false;
            int64_t body = unrolled_body(s, 16, &ru);
            if (body > 512)
                fail_msg("%s: unrolled body %lld > 512: %s", c[i]->name, (long long)body,
                         tt_step_describe(tt_schedule_step(s, 0)));
            if (ru && body > largest)
                largest = body;
            with_reduce += ru;
            tt_schedule_free(s);
        }
        assert_true(with_reduce > 300);
        assert_true(largest > 128);
        tt_space_free(sp);
        tt_compute_release(c[i]);
    }
}

/* ---- mutation, crossover, hashing ---- */

static int count_diffs(const int *a, const int *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

static void test_mutate_and_crossover(void **state)
{
    (void)state;
    op_case o[MAX_CASES];
    int n = make_cases(o);
    uint64_t rng = 4242;
    for (int i = 0; i < n; i++) {
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(o[i].c, &o[i].opts, &sp), 0);
        for (int t = 0; t < 6; t++) {
            tt_schedule *a = NULL, *b = NULL, *m = NULL, *x = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &a), 0);
            assert_int_equal(tt_space_sample(sp, &rng, &b), 0);
            if (tt_space_size(sp) > 1) {
                assert_int_equal(tt_space_mutate(sp, a, &rng, &m), 0);
                assert_true(tt_schedule_hash(m) != tt_schedule_hash(a));
                int *va, *vm, na, nm;
                assert_int_equal(tt_space_decode(sp, a, &va, &na), 0);
                assert_int_equal(tt_space_decode(sp, m, &vm, &nm), 0);
                assert_int_equal(na, nm);
                assert_int_equal(count_diffs(va, vm, na), 1);
                free(va);
                free(vm);
            }
            assert_int_equal(tt_space_crossover(sp, a, b, &rng, &x), 0);
            int *va, *vb, *vx, na, nb, nx;
            assert_int_equal(tt_space_decode(sp, a, &va, &na), 0);
            assert_int_equal(tt_space_decode(sp, b, &vb, &nb), 0);
            assert_int_equal(tt_space_decode(sp, x, &vx, &nx), 0);
            for (int d = 0; d < nx; d++)
                assert_true(vx[d] == va[d] || vx[d] == vb[d]);
            free(va);
            free(vb);
            free(vx);
            char label[128];
            snprintf(label, sizeof label, "%s mutant %d", o[i].label, t);
            if (m && t < 2)
                assert_int_equal(st_check(o[i].c, m, NULL, label), 0);
            snprintf(label, sizeof label, "%s child %d", o[i].label, t);
            if (t < 2)
                assert_int_equal(st_check(o[i].c, x, NULL, label), 0);
            tt_kernel *k = NULL;
            if (m) {
                assert_int_equal(tt_lower(o[i].c, m, "k", &k), 0);
                tt_kernel_release(k);
            }
            assert_int_equal(tt_lower(o[i].c, x, "k", &k), 0);
            tt_kernel_release(k);
            tt_schedule_free(a);
            tt_schedule_free(b);
            tt_schedule_free(m);
            tt_schedule_free(x);
        }
        tt_space_free(sp);
    }
    free_cases(o, n);
}

static void test_hash_and_json_round_trip(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:24x16,B:16x32");
    tt_space_opts opts = {256, 4, 0};
    tt_space *sp = NULL;
    assert_int_equal(tt_space_new(c, &opts, &sp), 0);
    int64_t size = tt_space_size(sp);
    for (int t = 0; t < 20; t++) {
        int64_t idx = (size / 20) * t + t;
        tt_schedule *a = NULL, *b = NULL, *r = NULL;
        assert_int_equal(tt_space_point(sp, idx, &a), 0);
        assert_int_equal(tt_space_point(sp, idx, &b), 0); /* built twice */
        assert_true(tt_schedule_hash(a) == tt_schedule_hash(b));
        char *js = tt_schedule_to_json(a);
        assert_int_equal(tt_schedule_from_json(js, &r), 0);
        assert_true(tt_schedule_hash(r) == tt_schedule_hash(a));
        /* a schedule read back from a log mutates like the original */
        uint64_t r1 = 5, r2 = 5;
        tt_schedule *m1 = NULL, *m2 = NULL;
        assert_int_equal(tt_space_mutate(sp, a, &r1, &m1), 0);
        assert_int_equal(tt_space_mutate(sp, r, &r2, &m2), 0);
        assert_true(tt_schedule_hash(m1) == tt_schedule_hash(m2));
        /* FNV-1a of the canonical JSON */
        uint64_t h = 0xcbf29ce484222325ull;
        for (const char *p = js; *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
        assert_true(h == tt_schedule_hash(a));
        free(js);
        tt_schedule_free(a);
        tt_schedule_free(b);
        tt_schedule_free(r);
        tt_schedule_free(m1);
        tt_schedule_free(m2);
    }
    /* different points hash differently */
    tt_schedule *p0 = NULL, *p1 = NULL;
    assert_int_equal(tt_space_point(sp, 0, &p0), 0);
    assert_int_equal(tt_space_point(sp, 1, &p1), 0);
    assert_true(tt_schedule_hash(p0) != tt_schedule_hash(p1));
    tt_schedule_free(p0);
    tt_schedule_free(p1);
    tt_space_free(sp);
    tt_compute_release(c);
}

/* ---- structure of the schedules ---- */

static const tt_step *find_step(const tt_schedule *s, tt_step_kind k)
{
    for (int i = 0; i < tt_schedule_size(s); i++)
        if (tt_schedule_step(s, i)->kind == k)
            return tt_schedule_step(s, i);
    return NULL;
}

static void test_default_structure(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 64, d.N = 256, d.K = 128, d.bias = d.relu = true;
    tt_compute *c = st_op(&d);
    tt_space_opts opts = {512, 8, 0};
    tt_space *sp = NULL;
    assert_int_equal(tt_space_new(c, &opts, &sp), 0);
    tt_schedule *s = NULL;
    assert_int_equal(tt_space_default(sp, &s), 0);
    char *js = tt_schedule_to_json(s);
    printf("dense default: %s\n", js);
    free(js);
    /* the stride-1 output axis j, 16 lanes, vectorised; outer tiles parallel; accumulator
     * tile; the epilogue fused */
    const tt_step *v = find_step(s, TT_STEP_VECTORIZE);
    assert_non_null(v);
    assert_string_equal(v->loops[0], "j.3");
    const tt_step *sp_j = NULL;
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        if (st->kind == TT_STEP_SPLIT && strcmp(st->loops[0], "j") == 0)
            sp_j = st;
    }
    assert_non_null(sp_j);
    assert_int_equal(sp_j->factors[2] % 16, 0);
    assert_non_null(find_step(s, TT_STEP_PARALLEL));
    assert_non_null(find_step(s, TT_STEP_CACHE_WRITE));
    const tt_step *in = find_step(s, TT_STEP_INLINE);
    assert_non_null(in);
    assert_string_equal(in->stage, "Y");
    assert_int_equal(st_check(c, s, host, "dense default"), 0);
    tt_schedule_free(s);
    /* W[j, k] is read along j by the vector and along k by the reduction: it is a pack
     * candidate, and packed samples pack it by the vector tile */
    uint64_t rng = 9;
    int packed = 0;
    for (int t = 0; t < 40; t++) {
        assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
        const tt_step *p = find_step(s, TT_STEP_PACK);
        if (p) {
            assert_string_equal(p->tensor, "W");
            assert_int_equal(p->dim, 0);
            packed++;
        }
        tt_schedule_free(s);
    }
    assert_true(packed > 0);
    tt_space_free(sp);
    tt_compute_release(c);
    /* NCHW conv: the vector runs along q (stride 1 in Y); X is read along q and p, W along
     * neither, so the register tile's rows run along the output channels k */
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 16, d.H = 14, d.W = 14, d.K = 32, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    c = st_op(&d);
    assert_int_equal(tt_space_new(c, &opts, &sp), 0);
    assert_int_equal(tt_space_default(sp, &s), 0);
    v = find_step(s, TT_STEP_VECTORIZE);
    assert_non_null(v);
    assert_string_equal(v->loops[0], "q.3");
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        if (st->kind == TT_STEP_SPLIT && strcmp(st->loops[0], "k") == 0)
            assert_true(st->factors[2] > 1);
        if (st->kind == TT_STEP_SPLIT && strcmp(st->loops[0], "p") == 0)
            assert_int_equal(st->factors[2], 1);
    }
    assert_int_equal(st_check(c, s, host, "conv nchw default"), 0);
    tt_schedule_free(s);
    tt_space_free(sp);
    tt_compute_release(c);
    /* softmax: the tiled stage is the row sum; the output divides by it (not at its own
     * indices, so no epilogue) and stays a root stage, vectorised and parallel by default */
    c = tt_test_parse("M[i] = max(j, X[i, j]); E[i, j] = exp(X[i, j] - M[i]); "
                      "S[i] = sum(j, E[i, j]); Y[i, j] = E[i, j] / S[i]",
                      "X:32x100");
    assert_int_equal(tt_space_new(c, &opts, &sp), 0);
    assert_int_equal(tt_space_default(sp, &s), 0);
    bool y_vec = false, y_par = false, e_inline = false;
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        y_vec |= st->kind == TT_STEP_VECTORIZE && strcmp(st->stage, "Y") == 0 &&
                 strcmp(st->loops[0], "j.1") == 0;
        y_par |= st->kind == TT_STEP_PARALLEL && strcmp(st->stage, "Y") == 0 &&
                 strcmp(st->loops[0], "i@j.0") == 0;
        e_inline |= st->kind == TT_STEP_INLINE && strcmp(st->stage, "E") == 0;
    }
    assert_true(y_vec && y_par && e_inline);
    assert_int_equal(st_check(c, s, host, "softmax default"), 0);
    tt_schedule_free(s);
    tt_space_free(sp);
    tt_compute_release(c);
}

/* Sizes for the report, and the rate of sampling + lowering. */
static void test_sizes_and_rate(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = d.N = d.K = 1024;
    tt_compute *mm = st_op(&d);
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 128, d.H = 28, d.W = 28, d.K = 128, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    tt_compute *conv = st_op(&d);
    static const int bits[] = {256, 512};
    for (int b = 0; b < 2; b++) {
        tt_space_opts opts = {bits[b], 8, 0};
        tt_space *s1 = NULL, *s2 = NULL;
        assert_int_equal(tt_space_new(mm, &opts, &s1), 0);
        assert_int_equal(tt_space_new(conv, &opts, &s2), 0);
        printf("vector_bits %d, 8 threads: matmul 1024^3 space %lld, conv2d 128x28x28 3x3 "
               "space %lld\n",
               bits[b], (long long)tt_space_size(s1), (long long)tt_space_size(s2));
        assert_true(tt_space_size(s1) > 1000);
        assert_true(tt_space_size(s2) > 1000);
        tt_space_free(s2);
        if (b == 1) {
            uint64_t rng = 1;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            clock_t c0 = clock();
            int n = 300;
            for (int i = 0; i < n; i++) {
                tt_schedule *s = NULL;
                tt_kernel *k = NULL;
                assert_int_equal(tt_space_sample(s1, &rng, &s), 0);
                assert_int_equal(tt_lower(mm, s, "k", &k), 0);
                tt_kernel_release(k);
                tt_schedule_free(s);
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
            printf("matmul 1024^3: %.0f samples/s wall, %.0f per CPU second (tt_space_sample + "
                   "tt_lower)\n",
                   n / sec, n / cpu);
        }
        tt_space_free(s1);
    }
    tt_compute_release(mm);
    tt_compute_release(conv);
}

/* k blocking: the space offers R0 outside S1 with the accumulator tile (BLIS's loop order),
 * for an odd matmul and a dense with a fused bias+relu epilogue; such points lower, compute
 * the reference result (interpreter, one through the JIT) and decode back. */
static bool kblocked(const tt_schedule *s)
{
    const tt_step *r = find_step(s, TT_STEP_REORDER);
    int pk = -1, pi = -1;
    for (int i = 0; r && i < r->nloops; i++) {
        pk = strcmp(r->loops[i], "k.0") == 0 ? i : pk;
        pi = strcmp(r->loops[i], "i.1") == 0 ? i : pi;
    }
    return pk >= 0 && pi >= 0 && pk < pi;
}

static void test_kblock_points(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 13, d.N = 17, d.K = 67;
    tt_compute *mm = st_op(&d);
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 7, d.N = 10, d.K = 61, d.bias = d.relu = true;
    tt_compute *dense = st_op(&d);
    tt_compute *cs[2] = {mm, dense};
    for (int i = 0; i < 2; i++) {
        tt_space_opts opts = {256, 2, 0};
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(cs[i], &opts, &sp), 0);
        uint64_t rng = 99;
        int found = 0;
        for (int t = 0; t < 400 && found < 6; t++) {
            tt_schedule *s = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            if (kblocked(s)) {
                assert_non_null(find_step(s, TT_STEP_CACHE_WRITE));
                char label[64];
                snprintf(label, sizeof label, "k-blocked %d #%d", i, found);
                assert_int_equal(st_check(cs[i], s, found == 0 ? host : NULL, label), 0);
                int *v = NULL, nv = 0;
                assert_int_equal(tt_space_decode(sp, s, &v, &nv), 0);
                free(v);
                found++;
            }
            tt_schedule_free(s);
        }
        assert_int_equal(found, 6);
        tt_space_free(sp);
    }
    tt_compute_release(mm);
    tt_compute_release(dense);
}

/* Odd extents (issue 13's shapes): the space offers the register tiles they need, and
 * every sample lowers. found[] counts samples with: a 6-row tile (prime M), the whole 7 rows,
 * a vector tile past N = 10 (masked tail) or of its width, a parallel GEMV. */
static const tt_step *split_of(const tt_schedule *s, const char *loop)
{
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        if (st->kind == TT_STEP_SPLIT && strcmp(st->loops[0], loop) == 0)
            return st;
    }
    return NULL;
}

static void test_odd_extent_tiles(void **state)
{
    (void)state;
    static const int64_t shapes[4][3] = {
        {127, 131, 257}, {7, 513, 1023}, {2000, 10, 256}, {1, 4096, 4096}};
    for (int c = 0; c < 4; c++) {
        tt_op_desc d;
        tt_op_desc_init(&d, TT_OP_MATMUL);
        d.M = shapes[c][0], d.N = shapes[c][1], d.K = shapes[c][2];
        tt_compute *mm = st_op(&d);
        tt_space_opts opts = {256, 2, 0};
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(mm, &opts, &sp), 0);
        uint64_t rng = 7;
        int found = 0;
        for (int t = 0; t < 600; t++) {
            tt_schedule *s = NULL;
            tt_kernel *k = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            if (tt_lower(mm, s, "k", &k) != 0)
                fail_msg("%lldx%lldx%lld: %s", (long long)d.M, (long long)d.N, (long long)d.K,
                         tt_get_last_error());
            tt_kernel_release(k);
            const tt_step *si = split_of(s, "i"), *sj = split_of(s, "j");
            const tt_step *vec = find_step(s, TT_STEP_VECTORIZE);
            const tt_step *par = find_step(s, TT_STEP_PARALLEL);
            if (c == 0)
                found += si && si->factors[2] == 6;
            else if (c == 1)
                found += si && si->factors[2] == 7;
            else if (c == 2)
                found += vec && sj && (sj->factors[2] == 16 || sj->factors[2] == 10);
            else
                found += !si && vec && par && strcmp(par->loops[0], "j.0") == 0;
            tt_schedule_free(s);
        }
        printf("matmul %lldx%lldx%lld: %d of 600 samples with the tile wanted\n", (long long)d.M,
               (long long)d.N, (long long)d.K, found);
        assert_true(found >= 5);
        tt_space_free(sp);
        tt_compute_release(mm);
    }
}

/* The second vector axis (search/space_variant.c): where the stride-1 axis makes poor vectors
 * and another axis reads broadcasts or packable panels, samples vectorise either (the other
 * with its S3 tile innermost and its input packable), mutants stay with their parent's axis,
 * grid points cover both; where the stride-1 axis is fine, nothing else is vectorised. */
static void test_vector_axis_variants(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 4, d.H = 7, d.W = 7, d.K = 32, d.R = 3, d.S = 3, d.pad[0] = d.pad[1] = 1;
    tt_compute *nchw = st_op(&d);
    d.nhwc = true;
    tt_compute *nhwc = st_op(&d);
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 64, d.N = 10, d.K = 16;
    tt_compute *skinny = st_op(&d);
    d.N = 64;
    tt_compute *square = st_op(&d);
    struct {
        tt_compute *c;
        const char *inner, *alt, *packed; /* the stride-1 axis, the other one (or NULL) */
    } cases[] = {{nchw, "q.3", "k.3", "W"},
                 {skinny, "j.3", "i.3", "A"},
                 {nhwc, "k.3", NULL, NULL},
                 {square, "j.3", NULL, NULL}};
    for (int c = 0; c < 4; c++) {
        tt_space_opts opts = {256, 1, 0};
        tt_space *sp = NULL;
        assert_int_equal(tt_space_new(cases[c].c, &opts, &sp), 0);
        uint64_t rng = 11;
        int n_alt = 0, n_inner = 0, n_packed = 0, checked = 0;
        for (int t = 0; t < 300; t++) {
            tt_schedule *s = NULL;
            assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
            const tt_step *vec = find_step(s, TT_STEP_VECTORIZE);
            bool alt = vec && cases[c].alt && strcmp(vec->loops[0], cases[c].alt) == 0;
            if (vec && !alt)
                assert_string_equal(vec->loops[0], cases[c].inner);
            n_alt += alt;
            n_inner += vec && !alt;
            if (alt) {
                const tt_step *order = find_step(s, TT_STEP_REORDER);
                assert_string_equal(order->loops[order->nloops - 1], cases[c].alt);
                const tt_step *pk = find_step(s, TT_STEP_PACK);
                n_packed += pk && strcmp(pk->tensor, cases[c].packed) == 0;
                tt_schedule *m = NULL;
                assert_int_equal(tt_space_mutate(sp, s, &rng, &m), 0);
                const tt_step *mv = find_step(m, TT_STEP_VECTORIZE);
                const tt_step *mo = find_step(m, TT_STEP_REORDER);
                assert_true(!mv || strcmp(mv->loops[0], cases[c].alt) == 0);
                assert_string_equal(mo->loops[mo->nloops - 1], cases[c].alt);
                tt_schedule_free(m);
                if (checked < 4) {
                    char label[64];
                    snprintf(label, sizeof label, "case %d, vector axis %s #%d", c, cases[c].alt,
                             checked);
                    assert_int_equal(st_check(cases[c].c, s, checked == 0 ? host : NULL, label), 0);
                    checked++;
                }
            }
            tt_schedule_free(s);
        }
        printf("case %d: %d samples vectorise %s, %d %s (%d packed)\n", c, n_inner, cases[c].inner,
               n_alt, cases[c].alt ? cases[c].alt : "-", n_packed);
        assert_true(n_inner >= 60);
        if (cases[c].alt) {
            assert_true(n_alt >= 60 && n_packed >= 10);
            /* the last grid point is the other variant's */
            tt_schedule *last = NULL;
            assert_int_equal(tt_space_point(sp, tt_space_size(sp) - 1, &last), 0);
            const tt_step *order = find_step(last, TT_STEP_REORDER);
            assert_string_equal(order->loops[order->nloops - 1], cases[c].alt);
            tt_schedule_free(last);
        } else {
            assert_int_equal(n_alt, 0);
        }
        tt_space_free(sp);
        tt_compute_release(cases[c].c);
    }
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    (void)state;
    tt_space *sp = NULL;
    assert_int_equal(tt_space_new(NULL, NULL, &sp), -1);
    assert_null(sp);
    assert_non_null(strstr(tt_get_last_error(), "needs a compute"));
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:8x8,B:8x8");
    assert_int_equal(tt_space_new(c, NULL, &sp), 0);
    tt_schedule *s = NULL;
    assert_int_equal(tt_space_point(sp, tt_space_size(sp), &s), -1);
    assert_null(s);
    assert_non_null(strstr(tt_get_last_error(), "expected 0.."));
    assert_int_equal(tt_space_point(sp, -1, &s), -1);
    /* a schedule the space did not make (a split it never emits) */
    tt_schedule *foreign = NULL;
    assert_int_equal(
        tt_schedule_from_json("[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[3]}]",
                              &foreign),
        0);
    uint64_t rng = 3;
    assert_int_equal(tt_space_mutate(sp, foreign, &rng, &s), -1);
    assert_non_null(strstr(tt_get_last_error(), "not a point of the space"));
    int *v = NULL, nv = 0;
    assert_int_equal(tt_space_decode(sp, foreign, &v, &nv), -1);
    assert_null(v);
    tt_schedule *ok = NULL;
    assert_int_equal(tt_space_sample(sp, &rng, &ok), 0);
    assert_int_equal(tt_space_crossover(sp, ok, foreign, &rng, &s), -1);
    assert_non_null(strstr(tt_get_last_error(), "crossover"));
    /* an empty schedule is not a point either (the space always tiles) */
    tt_schedule *empty = tt_schedule_new();
    assert_int_equal(tt_space_decode(sp, empty, &v, &nv), -1);
    tt_schedule_free(empty);
    tt_schedule_free(ok);
    tt_schedule_free(foreign);
    tt_space_free(sp);
    /* a space of one point cannot mutate */
    tt_compute *one = tt_test_parse("C[i] = A[i] * 2.0", "A:1");
    assert_int_equal(tt_space_new(one, NULL, &sp), 0);
    assert_int_equal(tt_space_size(sp), 1);
    assert_int_equal(tt_space_default(sp, &s), 0);
    tt_schedule *m = NULL;
    assert_int_equal(tt_space_mutate(sp, s, &rng, &m), -1);
    assert_non_null(strstr(tt_get_last_error(), "single point"));
    assert_int_equal(st_check(one, s, host, "one point"), 0);
    tt_schedule_free(s);
    tt_space_free(sp);
    tt_compute_release(one);
    tt_compute_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_lower_and_compute),
        cmocka_unit_test(test_many_samples_lower),
        cmocka_unit_test(test_realistic_shapes_lower),
        cmocka_unit_test(test_unrolled_body_capped),
        cmocka_unit_test(test_mutate_and_crossover),
        cmocka_unit_test(test_hash_and_json_round_trip),
        cmocka_unit_test(test_default_structure),
        cmocka_unit_test(test_sizes_and_rate),
        cmocka_unit_test(test_kblock_points),
        cmocka_unit_test(test_odd_extent_tiles),
        cmocka_unit_test(test_vector_axis_variants),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
