/* The built-in operators as text in the expression language: each desc becomes one program
 * (reduction stage, then bias/relu as a chained statement) with its inputs and the output extents
 * the text cannot infer (padded windows), and goes through tt_lang_parse like any "expr" task. */
#include "ir/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lang.h"

static const char *kind_names[] = {"matmul", "batch_matmul",     "dense",
                                   "conv2d", "depthwise_conv2d", "pool2d"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TT_OP_COUNT, "an op without a name");

const char *tt_op_kind_name(tt_op_kind k)
{
    return (k >= 0 && k < TT_OP_COUNT) ? kind_names[k] : "?";
}

int tt_op_kind_parse(const char *s, tt_op_kind *out)
{
    for (int k = 0; k < TT_OP_COUNT; k++)
        if (s && strcmp(s, kind_names[k]) == 0) {
            *out = (tt_op_kind)k;
            return 0;
        }
    return tt_error_set("unknown op \"%s\": expected one of matmul, batch_matmul, dense, conv2d, "
                        "depthwise_conv2d, pool2d, expr",
                        s ? s : "(null)");
}

void tt_op_desc_init(tt_op_desc *d, tt_op_kind kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->dtype = TT_DT_F32;
    d->N = kind >= TT_OP_CONV2D ? 1 : 0;
    for (int i = 0; i < 2; i++)
        d->stride[i] = d->dilation[i] = 1;
}

static int is_conv(const tt_op_desc *d)
{
    return d->kind >= TT_OP_CONV2D;
}

int tt_op_out_hw(const tt_op_desc *d, int64_t *P, int64_t *Q)
{
    const int64_t in[2] = {d->H, d->W}, win[2] = {d->R, d->S};
    int64_t out[2];
    for (int i = 0; i < 2; i++) {
        const char *hw = i ? "w" : "h";
        if (in[i] <= 0 || win[i] <= 0)
            return tt_error_set("%s: H, W, R and S must be positive", tt_op_kind_name(d->kind));
        if (d->stride[i] < 1 || d->dilation[i] < 1 || d->pad[i] < 0)
            return tt_error_set("%s: stride_%s %lld, dilation_%s %lld, pad_%s %lld: expected "
                                "stride >= 1, dilation >= 1, pad >= 0",
                                tt_op_kind_name(d->kind), hw, (long long)d->stride[i], hw,
                                (long long)d->dilation[i], hw, (long long)d->pad[i]);
        if (d->kind == TT_OP_POOL2D && (d->dilation[i] != 1 || d->pad[i] >= win[i]))
            return tt_error_set("pool2d: pad_%s %lld must be smaller than the window %lld (and "
                                "dilation 1)",
                                hw, (long long)d->pad[i], (long long)win[i]);
        /* Sizes come from JSON integers: bounded well below 2^62 by the caller's checks, so
         * these products do not overflow; check anyway, the desc may come from elsewhere. */
        int64_t span, padded;
        if (__builtin_mul_overflow(d->dilation[i], win[i] - 1, &span) ||
            __builtin_mul_overflow(d->pad[i], 2, &padded) ||
            __builtin_add_overflow(padded, in[i], &padded))
            return tt_error_set("%s: window or padding too large", tt_op_kind_name(d->kind));
        if (span + 1 > padded)
            return tt_error_set("%s: the window's %s extent %lld (dilation %lld) is larger than "
                                "the padded input %lld",
                                tt_op_kind_name(d->kind), hw, (long long)(span + 1),
                                (long long)d->dilation[i], (long long)padded);
        out[i] = (padded - span - 1) / d->stride[i] + 1;
    }
    *P = out[0];
    *Q = out[1];
    return 0;
}

/* "p*2 + r*3 - 1": the input row a window cell reads, before the bounds check. */
static void in_index(char *buf, size_t n, const char *o, int64_t st, const char *w, int64_t dil,
                     int64_t pad)
{
    int k = 0;
    k += snprintf(buf + k, n - (size_t)k, "%s", o);
    if (st != 1)
        k += snprintf(buf + k, n - (size_t)k, "*%lld", (long long)st);
    k += snprintf(buf + k, n - (size_t)k, " + %s", w);
    if (dil != 1)
        k += snprintf(buf + k, n - (size_t)k, "*%lld", (long long)dil);
    if (pad)
        snprintf(buf + k, n - (size_t)k, " - %lld", (long long)pad);
}

typedef struct {
    FILE *f;
    int nin;
    tt_lang_input in[3];
    int64_t shape[3][4];
    int next;
    tt_lang_extent ext[4];
} gen;

static void input(gen *g, const char *name, DLDataType dt, int ndim, int64_t a, int64_t b,
                  int64_t c, int64_t d)
{
    int64_t *s = g->shape[g->nin];
    s[0] = a, s[1] = b, s[2] = c, s[3] = d;
    g->in[g->nin++] = (tt_lang_input){name, ndim, s, dt};
}

/* "Y[n, k, p, q] = " / "Y[n, p, q, k] = " */
static void conv_out(gen *g, const tt_op_desc *d, const char *name, const char *ch)
{
    if (d->nhwc)
        fprintf(g->f, "%s[n, p, q, %s]", name, ch);
    else
        fprintf(g->f, "%s[n, %s, p, q]", name, ch);
}

/* The window read of X, wrapped in a bounds check where padding can take it outside. */
static void window_read(gen *g, const tt_op_desc *d, const char *ch, const char *pad_value)
{
    char hi[128], wi[128];
    in_index(hi, sizeof hi, "p", d->stride[0], "r", d->dilation[0], d->pad[0]);
    in_index(wi, sizeof wi, "q", d->stride[1], "s", d->dilation[1], d->pad[1]);
    int guard = d->pad[0] > 0 || d->pad[1] > 0;
    if (guard) {
        fprintf(g->f, "select(");
        if (d->pad[0])
            fprintf(g->f, "%s >= 0 && %s < %lld", hi, hi, (long long)d->H);
        if (d->pad[0] && d->pad[1])
            fprintf(g->f, " && ");
        if (d->pad[1])
            fprintf(g->f, "%s >= 0 && %s < %lld", wi, wi, (long long)d->W);
        fprintf(g->f, ", ");
    }
    if (d->nhwc)
        fprintf(g->f, "X[n, %s, %s, %s]", hi, wi, ch);
    else
        fprintf(g->f, "X[n, %s, %s, %s]", ch, hi, wi);
    if (guard)
        fprintf(g->f, ", %s)", pad_value);
}

/* "; Y[..] = max(acc[..] + bias[ch], 0.0)" after a reduction stage called acc. */
static void epilogue(gen *g, const tt_op_desc *d, const char *acc, const char *out_idx,
                     const char *ch)
{
    fprintf(g->f, "; Y%s = ", out_idx);
    if (d->relu)
        fprintf(g->f, "max(");
    fprintf(g->f, "%s%s", acc, out_idx);
    if (d->bias)
        fprintf(g->f, " + bias[%s]", ch);
    if (d->relu)
        fprintf(g->f, ", 0.0)");
}

static int generate(const tt_op_desc *d, gen *g)
{
    DLDataType dt = d->dtype;
    int epi = (d->bias || d->relu) && d->kind != TT_OP_POOL2D;
    const char *first = epi ? "acc" : "Y";
    switch (d->kind) {
    case TT_OP_MATMUL:
        input(g, "A", dt, 2, d->M, d->K, 0, 0);
        input(g, "B", dt, 2, d->K, d->N, 0, 0);
        fprintf(g->f, "C[i, j] = sum(k, A[i, k] * B[k, j])");
        return 0;
    case TT_OP_BATCH_MATMUL:
        input(g, "A", dt, 3, d->B, d->M, d->K, 0);
        input(g, "B", dt, 3, d->B, d->K, d->N, 0);
        fprintf(g->f, "C[b, i, j] = sum(k, A[b, i, k] * B[b, k, j])");
        return 0;
    case TT_OP_DENSE:
        input(g, "X", dt, 2, d->M, d->K, 0, 0);
        input(g, "W", dt, 2, d->N, d->K, 0, 0);
        if (d->bias)
            input(g, "bias", dt, 1, d->N, 0, 0, 0);
        fprintf(g->f, "%s[i, j] = sum(k, X[i, k] * W[j, k])", first);
        if (epi)
            epilogue(g, d, "acc", "[i, j]", "j");
        return 0;
    default:
        break;
    }
    int64_t P, Q;
    if (tt_op_out_hw(d, &P, &Q) < 0)
        return -1;
    g->ext[g->next++] = (tt_lang_extent){"p", P};
    g->ext[g->next++] = (tt_lang_extent){"q", Q};
    if (d->nhwc)
        input(g, "X", dt, 4, d->N, d->H, d->W, d->C);
    else
        input(g, "X", dt, 4, d->N, d->C, d->H, d->W);
    const char *out_idx = d->nhwc ? "[n, p, q, c]" : "[n, c, p, q]";
    if (d->kind == TT_OP_CONV2D) {
        if (d->nhwc)
            input(g, "W", dt, 4, d->R, d->S, d->C, d->K);
        else
            input(g, "W", dt, 4, d->K, d->C, d->R, d->S);
        if (d->bias)
            input(g, "bias", dt, 1, d->K, 0, 0, 0);
        conv_out(g, d, first, "k");
        fprintf(g->f, " = sum([c, r, s], ");
        window_read(g, d, "c", "0.0");
        fprintf(g->f, d->nhwc ? " * W[r, s, c, k])" : " * W[k, c, r, s])");
        if (epi)
            epilogue(g, d, "acc", d->nhwc ? "[n, p, q, k]" : "[n, k, p, q]", "k");
    } else if (d->kind == TT_OP_DEPTHWISE_CONV2D) {
        if (d->nhwc)
            input(g, "W", dt, 4, d->R, d->S, d->C, 1);
        else
            input(g, "W", dt, 4, d->C, 1, d->R, d->S);
        if (d->bias)
            input(g, "bias", dt, 1, d->C, 0, 0, 0);
        conv_out(g, d, first, "c");
        fprintf(g->f, " = sum([r, s], ");
        window_read(g, d, "c", "0.0");
        fprintf(g->f, d->nhwc ? " * W[r, s, c, 0])" : " * W[c, 0, r, s])");
        if (epi)
            epilogue(g, d, "acc", out_idx, "c");
    } else if (d->pool_max) {
        g->ext[g->next++] = (tt_lang_extent){"r", d->R}; /* no weight tensor bounds the window */
        g->ext[g->next++] = (tt_lang_extent){"s", d->S};
        conv_out(g, d, "Y", "c");
        fprintf(g->f, " = max([r, s], ");
        window_read(g, d, "c", "-inf");
        fprintf(g->f, ")");
    } else {
        /* avg: the count of window cells inside the input, an integer expression of p and q
         * (its reduction is split into a stage "Y.red" by the front end). */
        g->ext[g->next++] = (tt_lang_extent){"r", d->R};
        g->ext[g->next++] = (tt_lang_extent){"s", d->S};
        conv_out(g, d, "Y", "c");
        fprintf(g->f, " = sum([r, s], ");
        window_read(g, d, "c", "0.0");
        fprintf(g->f, ") / ");
        if (!d->pad[0] && !d->pad[1]) {
            fprintf(g->f, "%lld", (long long)(d->R * d->S));
        } else {
            const int64_t st[2] = {d->stride[0], d->stride[1]}, in[2] = {d->H, d->W};
            const int64_t win[2] = {d->R, d->S};
            fprintf(g->f, "(");
            for (int i = 0; i < 2; i++) {
                const char *o = i ? "q" : "p";
                long long s = (long long)st[i], pd = (long long)d->pad[i];
                if (i)
                    fprintf(g->f, " * ");
                fprintf(g->f, "(min(%s*%lld - %lld + %lld, %lld) - max(%s*%lld - %lld, 0))", o, s,
                        pd, (long long)win[i], (long long)in[i], o, s, pd);
            }
            fprintf(g->f, ")");
        }
    }
    return 0;
}

static int check(const tt_op_desc *d)
{
    if (d->kind < 0 || d->kind >= TT_OP_COUNT)
        return tt_error_set("op kind %d: unknown", (int)d->kind);
    if (!tt_dtype_is_float(d->dtype) || !tt_dtype_name(d->dtype))
        return tt_error_set("%s: dtype %s, expected float32 or float64", tt_op_kind_name(d->kind),
                            tt_dtype_name(d->dtype) ? tt_dtype_name(d->dtype) : "?");
    struct {
        const char *name;
        int64_t v;
        int used;
    } sz[] = {
        {"B", d->B, d->kind == TT_OP_BATCH_MATMUL},
        {"M", d->M, d->kind <= TT_OP_DENSE},
        {"N", d->N, 1},
        {"K", d->K, d->kind <= TT_OP_CONV2D},
        {"C", d->C, is_conv(d)},
    };
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        if (sz[i].used && sz[i].v <= 0)
            return tt_error_set("%s: size %s = %lld, expected a positive integer",
                                tt_op_kind_name(d->kind), sz[i].name, (long long)sz[i].v);
    return 0;
}

int tt_op_source(const tt_op_desc *d, char **text)
{
    *text = NULL;
    if (check(d) < 0)
        return -1;
    gen g = {0};
    size_t len = 0;
    if (!(g.f = open_memstream(text, &len)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = generate(d, &g);
    fclose(g.f);
    if (rc < 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

int tt_op_build(const tt_op_desc *d, const char *name, tt_compute **out)
{
    *out = NULL;
    if (check(d) < 0)
        return -1;
    char *text = NULL;
    size_t len = 0;
    gen g = {0};
    if (!(g.f = open_memstream(&text, &len)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = generate(d, &g);
    fclose(g.f);
    if (rc == 0 && tt_lang_parse(text, name ? name : tt_op_kind_name(d->kind), g.nin, g.in, g.next,
                                 g.ext, out) < 0)
        rc = tt_error_wrap("built-in op %s", tt_op_kind_name(d->kind));
    free(text);
    return rc;
}
