/* Tests of ir/ops.c: every built-in op, built through the expression language and evaluated by
 * the reference interpreter (tt_compute_eval), against straightforward C loops, on shapes that
 * include 1, odd and prime sizes, strides, padding and dilation, both layouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "ir/interp.h"
#include "ir/ops.h"

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *randv(int64_t n)
{
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

static int64_t numel(const tt_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Builds d, checks the output shape, evaluates on the inputs and compares with ref. */
static void run(const tt_op_desc *d, int nin, float **in, const int64_t *oshape, int ondim,
                const double *ref)
{
    tt_compute *c = NULL;
    if (tt_op_build(d, "op", &c) != 0)
        fail_msg("build %s: %s", tt_op_kind_name(d->kind), tt_get_last_error());
    assert_int_equal(c->ninputs, nin);
    const tt_tensor *o = c->stages[c->nstages - 1]->output;
    assert_int_equal(o->ndim, ondim);
    for (int i = 0; i < ondim; i++)
        assert_int_equal(o->shape[i], oshape[i]);
    for (int i = 0; i < nin; i++)
        assert_int_equal(c->inputs[i]->dtype.code, kDLFloat);
    int64_t n = numel(o);
    float *out = calloc((size_t)n, sizeof *out);
    void *args[4];
    for (int i = 0; i < nin; i++)
        args[i] = in[i];
    args[nin] = out;
    if (tt_compute_eval(c, args) != 0)
        fail_msg("eval %s: %s", tt_op_kind_name(d->kind), tt_get_last_error());
    for (int64_t i = 0; i < n; i++)
        if (fabs(out[i] - ref[i]) > 1e-4 * (1 + fabs(ref[i])))
            fail_msg("%s: element %lld: got %g, expected %g", tt_op_kind_name(d->kind),
                     (long long)i, out[i], ref[i]);
    free(out);
    tt_compute_release(c);
}

static void matmul_case(int64_t M, int64_t N, int64_t K, int64_t B, int batch)
{
    tt_op_desc d;
    tt_op_desc_init(&d, batch ? TT_OP_BATCH_MATMUL : TT_OP_MATMUL);
    d.M = M, d.N = N, d.K = K, d.B = batch ? B : 0;
    int64_t nb = batch ? B : 1;
    float *a = randv(nb * M * K), *b = randv(nb * K * N);
    double *ref = calloc((size_t)(nb * M * N), sizeof *ref);
    for (int64_t z = 0; z < nb; z++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)a[(z * M + i) * K + k] * b[(z * K + k) * N + j];
                ref[(z * M + i) * N + j] = s;
            }
    float *in[] = {a, b};
    int64_t shape[] = {B, M, N};
    run(&d, 2, in, batch ? shape : shape + 1, batch ? 3 : 2, ref);
    free(a), free(b), free(ref);
}

static void test_matmul(void **state)
{
    (void)state;
    const int64_t sz[][3] = {{1, 1, 1}, {7, 5, 3}, {13, 1, 11}, {1, 17, 2}, {16, 8, 32}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        matmul_case(sz[i][0], sz[i][1], sz[i][2], 0, 0);
        matmul_case(sz[i][0], sz[i][1], sz[i][2], 3, 1);
    }
    matmul_case(5, 3, 7, 1, 1);
}

static void dense_case(int64_t M, int64_t N, int64_t K, int bias, int relu)
{
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = M, d.N = N, d.K = K, d.bias = bias, d.relu = relu;
    float *x = randv(M * K), *w = randv(N * K), *b = randv(N);
    double *ref = calloc((size_t)(M * N), sizeof *ref);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)x[i * K + k] * w[j * K + k];
            if (bias)
                s += b[j];
            ref[i * N + j] = relu && s < 0 ? 0 : s;
        }
    float *in[] = {x, w, b};
    int64_t shape[] = {M, N};
    run(&d, bias ? 3 : 2, in, shape, 2, ref);
    free(x), free(w), free(b), free(ref);
}

static void test_dense(void **state)
{
    (void)state;
    dense_case(1, 1, 1, 0, 0);
    dense_case(7, 5, 3, 1, 0);
    dense_case(3, 13, 11, 1, 1);
    dense_case(4, 2, 9, 0, 1);
}

/* Conv, depthwise conv and pooling share one reference, by layout-aware indexing. */
typedef struct {
    tt_op_kind kind;
    int nhwc, bias, relu, pool_max;
    int64_t N, C, H, W, K, R, S, st[2], pad[2], dil[2];
} conv_case;

static int64_t xi(const conv_case *c, int64_t n, int64_t ch, int64_t h, int64_t w)
{
    return c->nhwc ? ((n * c->H + h) * c->W + w) * c->C + ch
                   : ((n * c->C + ch) * c->H + h) * c->W + w;
}

static void conv_run(const conv_case *c)
{
    tt_op_desc d;
    tt_op_desc_init(&d, c->kind);
    d.N = c->N, d.C = c->C, d.H = c->H, d.W = c->W, d.K = c->K, d.R = c->R, d.S = c->S;
    d.nhwc = c->nhwc, d.bias = c->bias, d.relu = c->relu, d.pool_max = c->pool_max;
    for (int i = 0; i < 2; i++)
        d.stride[i] = c->st[i], d.pad[i] = c->pad[i], d.dilation[i] = c->dil[i];
    int64_t P = (c->H + 2 * c->pad[0] - c->dil[0] * (c->R - 1) - 1) / c->st[0] + 1;
    int64_t Q = (c->W + 2 * c->pad[1] - c->dil[1] * (c->S - 1) - 1) / c->st[1] + 1;
    int dw = c->kind == TT_OP_DEPTHWISE_CONV2D, pool = c->kind == TT_OP_POOL2D;
    int64_t K = (dw || pool) ? c->C : c->K;
    float *x = randv(c->N * c->C * c->H * c->W);
    float *w = randv(K * (dw ? 1 : c->C) * c->R * c->S), *b = randv(K);
    double *ref = calloc((size_t)(c->N * K * P * Q), sizeof *ref);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double s = pool && c->pool_max ? -INFINITY : 0;
                    int64_t cnt = 0;
                    for (int64_t ch = (dw || pool) ? k : 0; ch < ((dw || pool) ? k + 1 : c->C);
                         ch++)
                        for (int64_t r = 0; r < c->R; r++)
                            for (int64_t t = 0; t < c->S; t++) {
                                int64_t h = p * c->st[0] + r * c->dil[0] - c->pad[0];
                                int64_t ww = q * c->st[1] + t * c->dil[1] - c->pad[1];
                                if (h < 0 || h >= c->H || ww < 0 || ww >= c->W)
                                    continue;
                                double v = x[xi(c, n, ch, h, ww)];
                                cnt++;
                                if (pool) {
                                    s = c->pool_max ? (v > s ? v : s) : s + v;
                                    continue;
                                }
                                int64_t wi =
                                    dw ? (c->nhwc ? (r * c->S + t) * K + k
                                                  : (k * c->R + r) * c->S + t)
                                       : (c->nhwc ? ((r * c->S + t) * c->C + ch) * K + k
                                                  : ((k * c->C + ch) * c->R + r) * c->S + t);
                                s += v * w[wi];
                            }
                    if (pool && !c->pool_max)
                        s /= (double)cnt;
                    if (!pool && c->bias)
                        s += b[k];
                    if (!pool && c->relu && s < 0)
                        s = 0;
                    int64_t o =
                        c->nhwc ? ((n * P + p) * Q + q) * K + k : ((n * K + k) * P + p) * Q + q;
                    ref[o] = s;
                }
    float *in[3] = {x, w, b};
    int64_t nchw[] = {c->N, K, P, Q}, nhwc[] = {c->N, P, Q, K};
    int nin = pool ? 1 : 2 + c->bias;
    if (pool)
        in[0] = x;
    run(&d, nin, in, c->nhwc ? nhwc : nchw, 4, ref);
    free(x), free(w), free(b), free(ref);
}

static void test_conv2d(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {TT_OP_CONV2D, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, {1, 1}, {0, 0}, {1, 1}},
        {TT_OP_CONV2D, 0, 1, 1, 0, 1, 3, 7, 7, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}},
        {TT_OP_CONV2D, 1, 1, 1, 0, 1, 3, 7, 7, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}},
        {TT_OP_CONV2D, 0, 0, 0, 0, 2, 2, 9, 11, 3, 3, 3, {2, 2}, {1, 1}, {1, 1}},
        {TT_OP_CONV2D, 1, 1, 0, 0, 2, 2, 9, 11, 3, 3, 3, {2, 2}, {1, 1}, {1, 1}},
        {TT_OP_CONV2D, 0, 0, 1, 0, 1, 3, 11, 13, 5, 3, 3, {1, 1}, {2, 2}, {2, 2}},
        {TT_OP_CONV2D, 1, 0, 0, 0, 1, 3, 11, 13, 5, 3, 3, {1, 1}, {0, 2}, {2, 2}},
        {TT_OP_CONV2D, 0, 1, 0, 0, 1, 5, 8, 7, 2, 1, 3, {2, 1}, {0, 1}, {1, 1}},
        {TT_OP_CONV2D, 1, 0, 0, 0, 1, 2, 5, 6, 7, 5, 2, {3, 2}, {2, 0}, {1, 3}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        conv_run(&cases[i]);
}

static void test_depthwise(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {TT_OP_DEPTHWISE_CONV2D, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, {1, 1}, {0, 0}, {1, 1}},
        {TT_OP_DEPTHWISE_CONV2D, 0, 1, 1, 0, 2, 3, 7, 5, 0, 3, 3, {1, 1}, {1, 1}, {1, 1}},
        {TT_OP_DEPTHWISE_CONV2D, 1, 0, 0, 0, 2, 3, 7, 5, 0, 3, 3, {2, 2}, {1, 1}, {1, 1}},
        {TT_OP_DEPTHWISE_CONV2D, 1, 1, 0, 0, 1, 5, 11, 9, 0, 3, 2, {1, 2}, {2, 1}, {2, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        conv_run(&cases[i]);
}

static void test_pool(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++)
        for (int mx = 0; mx < 2; mx++) {
            const conv_case cases[] = {
                {TT_OP_POOL2D, layout, 0, 0, mx, 1, 1, 1, 1, 0, 1, 1, {1, 1}, {0, 0}, {1, 1}},
                {TT_OP_POOL2D, layout, 0, 0, mx, 2, 3, 8, 8, 0, 2, 2, {2, 2}, {0, 0}, {1, 1}},
                {TT_OP_POOL2D, layout, 0, 0, mx, 1, 2, 7, 9, 0, 3, 3, {2, 2}, {1, 1}, {1, 1}},
                {TT_OP_POOL2D, layout, 0, 0, mx, 1, 3, 5, 11, 0, 3, 2, {1, 3}, {2, 1}, {1, 1}},
            };
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                conv_run(&cases[i]);
        }
}

/* The text is the language's, and the flops count is the textbook one. */
static void test_source_and_flops(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 4, d.N = 5, d.K = 6;
    char *text = NULL;
    assert_int_equal(tt_op_source(&d, &text), 0);
    assert_string_equal(text, "C[i, j] = sum(k, A[i, k] * B[k, j])");
    free(text);
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.C = 2, d.H = 5, d.W = 5, d.K = 3, d.R = 3, d.S = 3, d.pad[0] = 1, d.pad[1] = 1;
    d.bias = d.relu = true;
    assert_int_equal(tt_op_source(&d, &text), 0);
    assert_string_equal(text,
                        "acc[n, k, p, q] = sum([c, r, s], select(p + r - 1 >= 0 && "
                        "p + r - 1 < 5 && q + s - 1 >= 0 && q + s - 1 < 5, X[n, c, p + r - 1, "
                        "q + s - 1], 0.0) * W[k, c, r, s]); Y[n, k, p, q] = "
                        "max(acc[n, k, p, q] + bias[k], 0.0)");
    free(text);
    tt_compute *c = NULL;
    assert_int_equal(tt_op_build(&d, "conv", &c), 0);
    assert_int_equal(c->nstages, 2);
    assert_string_equal(c->name, "conv");
    assert_int_equal(c->stages[0]->body->kind, TT_EXPR_REDUCE);
    assert_int_equal(c->stages[0]->body->naxes, 3);
    assert_int_equal(c->stages[0]->body->axes[0]->kind, TT_AXIS_REDUCE);
    assert_int_equal(c->stages[0]->axes[2]->kind, TT_AXIS_SPATIAL);
    assert_string_equal(c->stages[0]->axes[2]->var->name, "p");
    tt_compute_release(c);
}

static void test_errors(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_compute *c = NULL;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.C = 2, d.H = 3, d.W = 3, d.K = 3, d.R = 5, d.S = 3;
    assert_int_equal(tt_op_build(&d, "x", &c), -1);
    assert_null(c);
    assert_non_null(strstr(tt_get_last_error(), "larger than the padded input 3"));
    d.pad[0] = 1; /* 5 fits 3 + 2 */
    assert_int_equal(tt_op_build(&d, "x", &c), 0);
    tt_compute_release(c);
    d.stride[1] = 0;
    assert_int_equal(tt_op_build(&d, "x", &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "stride >= 1"));
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = 4, d.N = 0, d.K = 2;
    assert_int_equal(tt_op_build(&d, "x", &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "size N = 0"));
    d.N = 3, d.dtype = TT_DT_I32;
    assert_int_equal(tt_op_build(&d, "x", &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "expected float32 or float64"));
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.C = 1, d.H = 4, d.W = 4, d.R = 2, d.S = 2, d.pad[0] = 2;
    assert_int_equal(tt_op_build(&d, "x", &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "smaller than the window"));
    tt_op_kind k;
    assert_int_equal(tt_op_kind_parse("conv3d", &k), -1);
    assert_non_null(strstr(tt_get_last_error(), "unknown op \"conv3d\""));
    assert_int_equal(tt_op_kind_parse("pool2d", &k), 0);
    assert_int_equal(k, TT_OP_POOL2D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul), cmocka_unit_test(test_dense),
        cmocka_unit_test(test_conv2d), cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_pool),   cmocka_unit_test(test_source_and_flops),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
