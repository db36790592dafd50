/* Tests of the expression language (ir/lang.c, ir/lang_sema.c): programs parsed, evaluated by the
 * reference interpreter (tt_compute_eval) and compared with C loops; inferred ranges, stage
 * splitting and axis kinds checked on the IR; and a table of errors with their line:column. */
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
#include "ir/lang.h"

static uint32_t rng = 777;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static float *randv(int64_t n)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

static tt_compute *parse(const char *text, int nin, const tt_lang_input *in, int next,
                         const tt_lang_extent *ext)
{
    tt_compute *c = NULL;
    if (tt_lang_parse(text, "f", nin, in, next, ext, &c) != 0)
        fail_msg("%s: %s", text, tt_get_last_error());
    return c;
}

static const tt_tensor *output(const tt_compute *c)
{
    return c->stages[c->nstages - 1]->output;
}

static void eval(const tt_compute *c, void **args)
{
    if (tt_compute_eval(c, args) != 0)
        fail_msg("eval %s: %s", c->name, tt_get_last_error());
}

static void near(const float *got, const double *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > 1e-4 * (1 + fabs(want[i])))
            fail_msg("element %lld: got %.7g, expected %.7g", (long long)i, got[i], want[i]);
}

/* C[i, j] = sum(k, A[k, i] * B[j, k]): A is K x M, B is N x K, so C is M x N. */
static void test_transposed_matmul(void **state)
{
    (void)state;
    enum { K = 7, M = 5, N = 3 };
    int64_t sa[] = {K, M}, sb[] = {N, K};
    tt_lang_input in[] = {{"A", 2, sa, TT_DT_F32}, {"B", 2, sb, TT_DT_F32}};
    tt_compute *c = parse("C[i, j] = sum(k, A[k, i] * B[j, k])", 2, in, 0, NULL);
    assert_int_equal(c->nstages, 1);
    const tt_stage *s = c->stages[0];
    assert_int_equal(s->output->shape[0], M);
    assert_int_equal(s->output->shape[1], N);
    assert_string_equal(s->axes[0]->var->name, "i");
    assert_int_equal(s->axes[0]->kind, TT_AXIS_SPATIAL);
    assert_int_equal(s->body->kind, TT_EXPR_REDUCE);
    assert_int_equal(s->body->reduce_op, TT_REDUCE_SUM);
    assert_string_equal(s->body->axes[0]->var->name, "k");
    assert_int_equal(s->body->axes[0]->kind, TT_AXIS_REDUCE);
    assert_int_equal(s->body->axes[0]->extent, K);
    float *a = randv(K * M), *b = randv(N * K), out[M * N];
    double ref[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            ref[i * N + j] = 0;
            for (int k = 0; k < K; k++)
                ref[i * N + j] += (double)a[k * M + i] * b[j * K + k];
        }
    void *args[] = {a, b, out};
    eval(c, args);
    near(out, ref, M * N);
    free(a), free(b);
    tt_compute_release(c);
}

/* Row max and min, and a multi-axis sum (per-channel total, as in batch norm). */
static void test_reductions(void **state)
{
    (void)state;
    enum { R = 6, C = 9 };
    int64_t sa[] = {R, C};
    tt_lang_input in[] = {{"A", 2, sa, TT_DT_F32}};
    tt_compute *c = parse("M[i] = max(j, A[i, j]) - min(j, A[i, j])", 1, in, 0, NULL);
    assert_int_equal(c->nstages, 3); /* M.red, M.red1, M */
    assert_string_equal(c->stages[0]->output->name, "M.red");
    assert_string_equal(c->stages[1]->output->name, "M.red1");
    assert_int_equal(c->stages[0]->body->reduce_op, TT_REDUCE_MAX);
    float *a = randv(R * C), out[R];
    double ref[R];
    for (int i = 0; i < R; i++) {
        double mx = -INFINITY, mn = INFINITY;
        for (int j = 0; j < C; j++) {
            mx = fmax(mx, a[i * C + j]);
            mn = fmin(mn, a[i * C + j]);
        }
        ref[i] = mx - mn;
    }
    void *args[] = {a, out};
    eval(c, args);
    near(out, ref, R);
    tt_compute_release(c);
    free(a);

    enum { N = 2, CH = 3, H = 4, W = 5 };
    int64_t sx[] = {N, CH, H, W};
    tt_lang_input inx[] = {{"X", 4, sx, TT_DT_F32}};
    c = parse("S[c] = sum([n, h, w], X[n, c, h, w]); T = sum([c], S[c] * S[c])", 1, inx, 0, NULL);
    assert_int_equal(c->stages[0]->body->naxes, 3);
    assert_int_equal(output(c)->ndim, 0);
    float *x = randv(N * CH * H * W), t;
    double s[CH], tref = 0;
    for (int ch = 0; ch < CH; ch++) {
        s[ch] = 0;
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    s[ch] += x[((n * CH + ch) * H + h) * W + w];
        tref += s[ch] * s[ch];
    }
    void *args2[] = {x, &t};
    eval(c, args2);
    near(&t, &tref, 1);
    tt_compute_release(c);
    free(x);
}

/* Y[o, n] = sum(r, X[n + r] * W[o, r]): r from W, n from X: L - R + 1. */
static void test_conv1d_inferred(void **state)
{
    (void)state;
    enum { L = 13, O = 3, R = 4, P = L - R + 1 };
    int64_t sx[] = {L}, sw[] = {O, R};
    tt_lang_input in[] = {{"X", 1, sx, TT_DT_F32}, {"W", 2, sw, TT_DT_F32}};
    tt_compute *c = parse("Y[o, n] = sum(r, X[n + r] * W[o, r])", 2, in, 0, NULL);
    assert_int_equal(output(c)->shape[0], O);
    assert_int_equal(output(c)->shape[1], P);
    float *x = randv(L), *w = randv(O * R), out[O * P];
    double ref[O * P];
    for (int o = 0; o < O; o++)
        for (int n = 0; n < P; n++) {
            ref[o * P + n] = 0;
            for (int r = 0; r < R; r++)
                ref[o * P + n] += (double)x[n + r] * w[o * R + r];
        }
    void *args[] = {x, w, out};
    eval(c, args);
    near(out, ref, O * P);
    tt_compute_release(c);

    /* strided and dilated: X[2*n + 3*r] with r < 4 keeps 2n <= 12 - 9: n < 2 */
    c = parse("Y[o, n] = sum(r, X[2*n + 3*r] * W[o, r])", 2, in, 0, NULL);
    assert_int_equal(output(c)->shape[1], 2);
    tt_compute_release(c);
    free(x), free(w);
}

/* Matmul, then bias and relu as a chained statement; and the same with the reduction inside
 * the expression, which the front end splits into "C.red". */
static void test_fused_epilogue(void **state)
{
    (void)state;
    enum { M = 5, N = 7, K = 3 };
    int64_t sa[] = {M, K}, sb[] = {K, N}, sbias[] = {N};
    tt_lang_input in[] = {
        {"A", 2, sa, TT_DT_F32}, {"B", 2, sb, TT_DT_F32}, {"b", 1, sbias, TT_DT_F32}};
    const char *texts[] = {
        "T[i, j] = sum(k, A[i,k]*B[k,j]); C[i, j] = max(T[i, j] + b[j], 0.0)",
        "C[i, j] = max(sum(k, A[i, k] * B[k, j]) + b[j], 0)",
    };
    float *a = randv(M * K), *b = randv(K * N), *bias = randv(N), out[M * N];
    double ref[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias[j];
            for (int k = 0; k < K; k++)
                s += (double)a[i * K + k] * b[k * N + j];
            ref[i * N + j] = s > 0 ? s : 0;
        }
    for (int t = 0; t < 2; t++) {
        tt_compute *c = parse(texts[t], 3, in, 0, NULL);
        assert_int_equal(c->nstages, 2);
        assert_string_equal(c->stages[0]->output->name, t ? "C.red" : "T");
        assert_int_equal(c->stages[0]->body->kind, TT_EXPR_REDUCE);
        assert_int_not_equal(c->stages[1]->body->kind, TT_EXPR_REDUCE);
        assert_string_equal(output(c)->name, "C");
        assert_int_equal(c->ninputs, 3);
        void *args[] = {a, b, bias, out};
        eval(c, args);
        near(out, ref, M * N);
        tt_compute_release(c);
    }
    free(a), free(b), free(bias);
}

static void test_softmax(void **state)
{
    (void)state;
    enum { R = 4, C = 11 };
    int64_t sx[] = {R, C};
    tt_lang_input in[] = {{"X", 2, sx, TT_DT_F32}};
    tt_compute *c = parse("E[i, j] = exp(X[i, j] - max(k, X[i, k]));\n"
                          "Y[i, j] = E[i, j] / sum(k, E[i, k])",
                          1, in, 0, NULL);
    assert_int_equal(c->nstages, 4);
    assert_string_equal(c->stages[0]->output->name, "E.red");
    assert_int_equal(c->stages[0]->output->ndim, 1); /* over the axes it uses: i */
    assert_string_equal(c->stages[2]->output->name, "Y.red");
    float *x = randv(R * C), out[R * C];
    double ref[R * C];
    for (int i = 0; i < R; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < C; j++)
            mx = fmax(mx, x[i * C + j]);
        for (int j = 0; j < C; j++)
            s += exp(x[i * C + j] - mx);
        for (int j = 0; j < C; j++)
            ref[i * C + j] = exp(x[i * C + j] - mx) / s;
    }
    void *args[] = {x, out};
    eval(c, args);
    near(out, ref, R * C);
    tt_compute_release(c);
    free(x);
}

/* Index arithmetic (// and %), select with padding and explicit extents, the value functions,
 * integer tensors and index values converted to float. */
static void test_index_and_values(void **state)
{
    (void)state;
    enum { L = 11 };
    int64_t sx[] = {L}, sq[] = {L};
    tt_lang_input in[] = {{"X", 1, sx, TT_DT_F32}, {"Q", 1, sq, TT_DT_I32}};
    tt_compute *c = parse("Y[n] = X[2*n + 1] + X[n // 2] * X[(n + 3) % 7] - Q[n] % 3 + n * 0.5", 2,
                          in, 0, NULL);
    assert_int_equal(output(c)->shape[0], 5); /* 2*4 + 1 = 9 < 11 */
    assert_int_equal(output(c)->dtype.code, kDLFloat);
    float *x = randv(L), out[L];
    int32_t q[L];
    for (int i = 0; i < L; i++)
        q[i] = i * 7 - 20;
    double ref[L];
    for (int n = 0; n < 5; n++) {
        int m = q[n] % 3;
        m += m < 0 ? 3 : 0; /* floor modulo */
        ref[n] = x[2 * n + 1] + (double)x[n / 2] * x[(n + 3) % 7] - m + n * 0.5;
    }
    void *args[] = {x, q, out};
    eval(c, args);
    near(out, ref, 5);
    tt_compute_release(c);

    tt_lang_extent ext[] = {{"n", L + 2}};
    c = parse("Y[n] = select(n - 1 >= 0 && n - 1 < 11, X[n - 1], -1.5) + abs(min(X[0], -2)) "
              "* sqrt(4.0) + log(exp(1.0)) + tanh(0.0) + select(!(n < 3) || n == 0, 1, 0)",
              1, in, 1, ext);
    assert_int_equal(output(c)->shape[0], L + 2);
    for (int n = 0; n < L + 2; n++)
        ref[0] = 0;
    double r2[L + 2];
    for (int n = 0; n < L + 2; n++)
        r2[n] = (n >= 1 && n - 1 < 11 ? x[n - 1] : -1.5) + fabs(fmin(x[0], -2)) * 2 + 1 +
                ((!(n < 3) || n == 0) ? 1 : 0);
    float out2[L + 2];
    void *args2[] = {x, out2};
    eval(c, args2);
    near(out2, r2, L + 2);
    tt_compute_release(c);

    /* integer statement keeps the integer dtype; comments and a trailing ';' are fine */
    c = parse("# a comment\nY[n] = Q[n] // 4 % 5;", 2, in, 0, NULL);
    assert_int_equal(output(c)->dtype.code, kDLInt);
    assert_int_equal(output(c)->dtype.bits, 32);
    int32_t oi[L];
    void *args3[] = {x, q, oi};
    eval(c, args3);
    for (int n = 0; n < L; n++) {
        int v = (int)floor(q[n] / 4.0);
        v %= 5;
        v += v < 0 ? 5 : 0;
        assert_int_equal(oi[n], v);
    }
    tt_compute_release(c);
    free(x);
}

/* An access under select is checked where it is read, with what the condition guarantees there. */
static void test_guarded(void **state)
{
    (void)state;
    enum { L = 10 };
    int64_t sx[] = {L};
    tt_lang_input in[] = {{"X", 1, sx, TT_DT_F32}};
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"Y[n] = X[n] + select(n < 5, X[n + 5], 0.0)", NULL},
        {"Y[n] = X[n] + select(n < 5, 0.0, X[n - 5])", NULL},
        {"Y[n] = X[n] + select(!(n >= 5), X[n + 5], 0.0)", NULL},
        {"Y[n] = X[n] + select(n >= 2, select(7 > n, X[n + 3] + X[n - 2], 0.0), 0.0)", NULL},
        {"Y[n] = X[n] + select(!(n < 2 || n >= 7), X[n + 3] * X[n - 2], 0.0)", NULL},
        {"Y[n] = X[n] + select(n >= 0, X[n + 5], 0.0)",
         "expr:1:32: index 0 of X may leave its extent 10 where it is read (range [5, 14])"},
        {"Y[n] = X[n] + select(n < 5 || n > 7, X[n + 5], 0.0)",
         "expr:1:40: index 0 of X may leave its extent 10"},
        {"Y[n] = X[n] + select(n < 5 && n > 1, 0.0, X[n + 5])",
         "expr:1:45: index 0 of X may leave its extent 10"},
        {"Y[n] = X[n] + select(n < 6, X[n + 5], 0.0)",
         "expr:1:31: index 0 of X may leave its extent 10 where it is read (range [5, 10])"},
    };
    float *x = randv(L), out[L];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_compute *c = NULL;
        int rc = tt_lang_parse(cases[i].text, "g", 1, in, 0, NULL, &c);
        if (cases[i].err) {
            if (rc == 0)
                fail_msg("%s: parsed, expected %s", cases[i].text, cases[i].err);
            if (strncmp(tt_get_last_error(), cases[i].err, strlen(cases[i].err)) != 0)
                fail_msg("%s:\n  got:  %s\n  want: %s", cases[i].text, tt_get_last_error(),
                         cases[i].err);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", cases[i].text, tt_get_last_error());
        void *args[] = {x, out};
        eval(c, args);
        double ref[L];
        for (int n = 0; n < L; n++) {
            double v = i == 0 || i == 2 ? (n < 5 ? x[n + 5] : 0)
                       : i == 1         ? (n < 5 ? 0 : x[n - 5])
                       : i == 3         ? (n >= 2 && n < 7 ? (double)x[n + 3] + x[n - 2] : 0)
                                        : (n >= 2 && n < 7 ? (double)x[n + 3] * x[n - 2] : 0);
            ref[n] = x[n] + v;
        }
        near(out, ref, L);
        tt_compute_release(c);
    }
    free(x);
}

/* Explicit conversions: mixing float widths needs one. */
static void test_casts(void **state)
{
    (void)state;
    int64_t s4[] = {4};
    tt_lang_input in[] = {
        {"A", 1, s4, TT_DT_F32}, {"D", 1, s4, TT_DT_F64}, {"Q", 1, s4, TT_DT_I32}};
    tt_compute *c = parse("Y[i] = float64(A[i]) * D[i] + float64(int32(D[i] * 2.5)) + int64(Q[i])",
                          3, in, 0, NULL);
    assert_int_equal(output(c)->dtype.bits, 64);
    assert_int_equal(output(c)->dtype.code, kDLFloat);
    float a[4] = {0.5f, -1, 2, 3};
    double d[4] = {1, 2.3, -0.7, 4}, out[4];
    int32_t q[4] = {5, -6, 7, 8};
    void *args[] = {a, d, q, out};
    eval(c, args);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - ((double)a[i] * d[i] + (double)(int32_t)(d[i] * 2.5) + q[i])) <
                    1e-9);
    tt_compute_release(c);
    assert_int_equal(tt_lang_parse("Y[i] = int32(A[i] > 0)", "f", 3, in, 0, NULL, &c), -1);
    assert_string_equal(tt_get_last_error(), "expr:1:8: int32 of a condition; use select(c, 1, 0)");
}

/* Statements: a later one reads an earlier output; the last one is the op's output. */
static void test_chain_and_names(void **state)
{
    (void)state;
    int64_t sa[] = {3, 4};
    tt_lang_input in[] = {{"A", 2, sa, TT_DT_F64}};
    tt_compute *c = NULL;
    assert_int_equal(
        tt_lang_parse("T[j, i] = A[i, j] * 2; U[i] = sum(j, T[j, i])", NULL, 1, in, 0, NULL, &c),
        0);
    assert_string_equal(c->name, "U");
    assert_int_equal(c->stages[0]->output->shape[0], 4);
    assert_int_equal(c->stages[0]->output->dtype.bits, 64);
    double a[12], out[3], ref[3];
    for (int i = 0; i < 12; i++)
        a[i] = i * 0.25;
    for (int i = 0; i < 3; i++) {
        ref[i] = 0;
        for (int j = 0; j < 4; j++)
            ref[i] += 2 * a[i * 4 + j];
    }
    void *args[] = {a, out};
    eval(c, args);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(out[i] - ref[i]) < 1e-12);
    tt_compute_release(c);
}

static void test_errors(void **state)
{
    (void)state;
    int64_t sa[] = {4, 6}, sb[] = {6, 5}, sd[] = {4};
    tt_lang_input in[] = {
        {"A", 2, sa, TT_DT_F32}, {"B", 2, sb, TT_DT_F32}, {"D", 1, sd, TT_DT_F64}};
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"C[i, j] = sum(k, A[i, k] * Z[k, j])", "expr:1:28: undefined tensor 'Z'"},
        {"C[i, j] = sum(k, A[i, k, j])", "expr:1:18: A has rank 2, indexed with 3 indices"},
        {"C[i, j] = sum(k, A[i, k] * B[k, j]", "expr:1:35: expected ')'"},
        {"C[i, j] = A[i, j", "expr:1:17: expected ']'"},
        {"C[i] = A[i, q]", "expr:1:13: undefined index 'q'"},
        {"C[i, j] = A[i, 0]", "expr:1:6: cannot infer the range of index 'j'"},
        {"C[i] = A[i*i, 0]", "expr:1:11: index 0 of A multiplies two axis expressions"},
        {"C[i, j] = A[i // j, j]", "expr:1:15: index 0 of A: '//' needs a positive constant"},
        {"C[i] = A[i % 0, 0]", "expr:1:12: index 0 of A: '%' needs a positive constant"},
        {"C[i] = A[i, 0.5]", "expr:1:13: index 1 of A must be an integer expression"},
        {"C[i] = A[B[0, i], 0]", "expr:1:10: index 0 of A must be an integer expression"},
        {"C[i] = foo(A[i, 0])", "expr:1:8: unknown function 'foo'"},
        {"C[i] = exp(A[i, 0], 1)", "expr:1:8: exp takes 1 argument, got 2"},
        {"C[i, i] = A[i, i]", "expr:1:6: axis 'i' is already defined"},
        {"A[i, j] = B[j, i]", "expr:1:1: tensor 'A' is already defined"},
        {"C[i] = A[i, 0] $ 2", "expr:1:16: unexpected character '$'"},
        {"C[i] = A[i, 0] +", "expr:1:17: expected an expression, got end of text"},
        {"C[i] = A", "expr:1:8: tensor 'A' needs indices"},
        {"C[i] = A[i, 0] < 1 < 2", "expr:1:20: comparisons do not chain"},
        {"C[i] = A[i + 10, 0]", "expr:1:10: the range of index 'i' is empty"},
        {"C[i] = sum(k, A[i, k]) + k", "expr:1:26: undefined index 'k'"},
        {"C[i] = A[i, 0] // 2", "expr:1:16: '//' needs integer operands"},
        {"C[i] = A[i, 0] + D[i]", "expr:1:16: mixes float32 and float64"},
        {"C[i] = A[i, 0] + 1e999", "expr:1:18: number 1e999 is out of range"},
        {"C[i] = sum([], A[i, 0])", "expr:1:12: sum needs at least one axis"},
        {"C[i] = sum(A[i, 0])", "expr:1:8: sum takes an axis (or a list of axes) and an "
                                "expression, got 1 argument"},
        {"C[i] = sum(i, A[i, 0])", "expr:1:12: axis 'i' is already defined"},
        {"C[i] = A[i, 0] + [i]", "expr:1:18: expected an expression, got '['"},
        {"T[i] = A[i, 0];\n  C[i] = T[i] + Q[i]", "expr:2:17: undefined tensor 'Q'"},
        {"", "expr:1:1: expected a statement"},
        {"C[i] = A[i, 0]\nE[i] = A[i, 1]", "expr:2:1: expected ';' or the end of the text"},
        {"C[i + 1] = A[i, 0]", "expr:1:3: output indices of C must be axis names"},
        {"C[i] = A[i, 0] > 0 + 1", NULL}, /* fine: bool output */
        {"C[i] = select(A[i, 0], 1.0, 0.0)", "expr:1:15: a value of type float32 used where a "
                                             "condition is expected"},
        {"C[i] = A[i, 0] && 1", "expr:1:8: a value of type float32 used where a condition"},
        {"C[i] = 12345678901234567890", "expr:1:8: integer 12345678901234567890 does not fit"},
        {"C[i] = A[i, 0] * 2x", "expr:1:18: malformed number '2x'"},
        {"C[i] = max(A[i, 0])", "expr:1:8: max takes 2 arguments, got 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_compute *c = (tt_compute *)1;
        int rc = tt_lang_parse(bad[i].text, "f", 3, in, 0, NULL, &c);
        if (!bad[i].msg) {
            if (rc != 0)
                fail_msg("%s: %s", bad[i].text, tt_get_last_error());
            tt_compute_release(c);
            continue;
        }
        if (rc == 0)
            fail_msg("\"%s\": parsed, expected \"%s\"", bad[i].text, bad[i].msg);
        assert_null(c);
        if (strncmp(tt_get_last_error(), bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("\"%s\":\n  got:  %s\n  want: %s", bad[i].text, tt_get_last_error(),
                     bad[i].msg);
    }

    /* explicit extents are checked, not trusted; unused ones are reported */
    tt_compute *c = NULL;
    tt_lang_extent big[] = {{"i", 100}};
    assert_int_equal(tt_lang_parse("C[i] = A[i, 0]", "f", 3, in, 1, big, &c), -1);
    assert_string_equal(tt_get_last_error(),
                        "expr:1:10: index 0 of A ranges over [0, 99], outside its extent 4");
    tt_lang_extent unused[] = {{"z", 3}};
    assert_int_equal(tt_lang_parse("C[i] = A[i, 0]", "f", 3, in, 1, unused, &c), -1);
    assert_string_equal(tt_get_last_error(),
                        "extent given for 'z', which is not an axis of the compute");
    tt_lang_extent zero[] = {{"i", 0}};
    assert_int_equal(tt_lang_parse("C[i] = A[i, 0]", "f", 3, in, 1, zero, &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "expected a positive size"));
    /* a long chain is a deep tree: refused before later passes recurse over it */
    char *chain = malloc(8 * 400 + 32);
    strcpy(chain, "C[i] = A[i, 0]");
    for (int i = 0; i < 400; i++)
        strcat(chain, " + 1");
    assert_int_equal(tt_lang_parse(chain, "f", 3, in, 0, NULL, &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "nested too deeply"));
    chain[strlen("C[i] = A[i, 0]") + 4 * 200] = 0; /* 200 terms are fine */
    assert_int_equal(tt_lang_parse(chain, "f", 3, in, 0, NULL, &c), 0);
    tt_compute_release(c);
    c = NULL;
    free(chain);
    tt_lang_input dup[] = {{"A", 2, sa, TT_DT_F32}, {"A", 2, sa, TT_DT_F32}};
    assert_int_equal(tt_lang_parse("C[i] = A[i, 0]", "f", 2, dup, 0, NULL, &c), -1);
    assert_string_equal(tt_get_last_error(), "input A: given twice");
    int64_t neg[] = {4, -1};
    tt_lang_input badshape[] = {{"A", 2, neg, TT_DT_F32}};
    assert_int_equal(tt_lang_parse("C[i] = A[i, 0]", "f", 1, badshape, 0, NULL, &c), -1);
    assert_non_null(strstr(tt_get_last_error(), "dimension of size -1"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transposed_matmul),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_conv1d_inferred),
        cmocka_unit_test(test_fused_epilogue),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_index_and_values),
        cmocka_unit_test(test_chain_and_names),
        cmocka_unit_test(test_guarded),
        cmocka_unit_test(test_casts),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
