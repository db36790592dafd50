/* Tests ir/printer.c against golden strings written (and checked) by hand: precedence and
 * parentheses, literals, every expression kind, loop nests with allocations and guards, kernels
 * and compute definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "ir/interp.h"
#include "ir/lang.h"
#include "ir/ops.h"
#include "ir/printer.h"

/* Checks the text of a node and frees it. */
#define assert_str(call, want)                                                                     \
    do {                                                                                           \
        char *got_ = (call);                                                                       \
        assert_non_null(got_);                                                                     \
        assert_string_equal(got_, (want));                                                         \
        free(got_);                                                                                \
    } while (0)

static tt_expr *I(int64_t v)
{
    return tt_expr_int(v);
}
static tt_expr *F(double v)
{
    return tt_expr_float(v, TT_DT_F32);
}
static tt_expr *R(tt_expr *v)
{
    return tt_expr_retain(v);
}

static tt_expr *bin(tt_expr_kind k, tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(k, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

static tt_expr *steal1(tt_expr *e, tt_expr *a)
{
    tt_expr_release(a);
    assert_non_null(e);
    return e;
}

static tt_expr *acc(tt_tensor *t, tt_expr *a, tt_expr *b)
{
    tt_expr *idx[2] = {a, b};
    tt_expr *e = tt_expr_access(t, t->ndim, idx);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

static void check_expr(tt_expr *e, const char *want)
{
    assert_str(tt_expr_str(e), want);
    tt_expr_release(e);
}

static void test_precedence(void **state)
{
    (void)state;
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *j = tt_expr_var("j", TT_DT_I64);
    tt_expr *x = tt_expr_var("x", TT_DT_F32), *y = tt_expr_var("y", TT_DT_F32);
    /* integer index arithmetic is tight, the outermost binary gets parentheses */
    check_expr(bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i), I(64)), R(j)), "(i*64 + j)");
    check_expr(bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, R(i), I(1)), I(64)), "((i + 1)*64)");
    check_expr(bin(TT_EXPR_SUB, R(i), bin(TT_EXPR_SUB, R(j), I(1))), "(i - (j - 1))");
    check_expr(bin(TT_EXPR_SUB, bin(TT_EXPR_SUB, R(i), R(j)), I(1)), "(i - j - 1)");
    check_expr(bin(TT_EXPR_ADD, R(i), I(-3)), "(i + -3)");
    check_expr(bin(TT_EXPR_MOD, bin(TT_EXPR_DIV, R(i), I(4)), I(2)), "(i/4%2)");
    check_expr(bin(TT_EXPR_DIV, R(i), bin(TT_EXPR_MOD, R(j), I(2))), "(i/(j%2))");
    /* float arithmetic is spaced */
    check_expr(bin(TT_EXPR_MUL, bin(TT_EXPR_ADD, R(x), R(y)), F(0.5)), "((x + y) * 0.5)");
    check_expr(bin(TT_EXPR_ADD, R(x), bin(TT_EXPR_MUL, R(y), F(2))), "(x + y * 2.0)");
    /* logic: && binds tighter than ||, comparisons tighter than both, ! takes a primary */
    tt_expr *lt = bin(TT_EXPR_LT, R(i), R(j)), *ge = bin(TT_EXPR_GE, R(i), I(0));
    tt_expr *eq = bin(TT_EXPR_EQ, R(x), R(y));
    tt_expr *orr = bin(TT_EXPR_OR, R(lt), bin(TT_EXPR_AND, R(ge), R(eq)));
    check_expr(R(orr), "(i < j || i >= 0 && x == y)");
    check_expr(bin(TT_EXPR_AND, R(orr), R(ge)), "((i < j || i >= 0 && x == y) && i >= 0)");
    check_expr(steal1(tt_expr_not(lt), lt), "!(i < j)");
    check_expr(bin(TT_EXPR_NE, bin(TT_EXPR_ADD, R(x), R(y)), F(1)), "(x + y != 1.0)");
    tt_expr_release(orr);
    tt_expr_release(ge);
    tt_expr_release(eq);
    tt_expr_release(i);
    tt_expr_release(j);
    tt_expr_release(x);
    tt_expr_release(y);
}

static void test_literals_and_calls(void **state)
{
    (void)state;
    check_expr(F(0.1), "0.1");
    check_expr(tt_expr_float(0.1, TT_DT_F64), "0.1");
    check_expr(F(3), "3.0");
    check_expr(F(1e20), "1e+20");
    check_expr(F(-INFINITY), "-inf");
    check_expr(F(NAN), "nan");
    check_expr(tt_expr_float(1.0 / 3.0, TT_DT_F32), "0.33333333");
    check_expr(tt_expr_float(1.0 / 3.0, TT_DT_F64), "0.3333333333333333");
    check_expr(I(-42), "-42");
    tt_expr *x = tt_expr_var("x", TT_DT_F32);
    tt_expr *ex = tt_expr_call("exp", TT_DT_F32, 1, &x);
    check_expr(R(ex), "exp(x)");
    check_expr(bin(TT_EXPR_MAX, R(ex), F(0)), "max(exp(x), 0.0)");
    tt_expr *c = bin(TT_EXPR_GT, R(x), F(0));
    tt_expr *s = tt_expr_select(c, x, ex);
    check_expr(s, "select(x > 0.0, x, exp(x))");
    check_expr(steal1(tt_expr_cast(TT_DT_I32, x), NULL), "int32(x)");
    tt_expr_release(c);
    tt_expr_release(ex);
    tt_expr_release(x);
}

static void test_access_load_reduce(void **state)
{
    (void)state;
    int64_t sa[2] = {64, 128}, sb[2] = {128, 32};
    tt_tensor *A = tt_tensor_new("A", TT_DT_F32, 2, sa), *B = tt_tensor_new("B", TT_DT_F32, 2, sb);
    tt_iter_var *i = tt_iter_var_new("i", 64, TT_AXIS_SPATIAL);
    tt_iter_var *j = tt_iter_var_new("j", 32, TT_AXIS_SPATIAL);
    tt_iter_var *k = tt_iter_var_new("k", 128, TT_AXIS_REDUCE);
    tt_expr *prod = bin(TT_EXPR_MUL, acc(A, R(i->var), R(k->var)), acc(B, R(k->var), R(j->var)));
    check_expr(R(prod), "(A[i, k] * B[k, j])");
    tt_expr *red = tt_expr_reduce(TT_REDUCE_SUM, prod, 1, &k);
    check_expr(red, "sum(k: 0..128, A[i, k] * B[k, j])");
    tt_iter_var *two[2] = {i, k};
    check_expr(tt_expr_reduce(TT_REDUCE_MAX, prod, 2, two), "max(i: 0..64, k: 0..128, A[i, k] * "
                                                            "B[k, j])");
    check_expr(acc(A, bin(TT_EXPR_ADD, R(i->var), I(1)), R(k->var)), "A[i + 1, k]");
    int64_t n = 64 * 32;
    tt_buffer *C = tt_buffer_new("C", TT_DT_F32, 1, &n, TT_SCOPE_GLOBAL);
    tt_expr *idx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i->var), I(32)), R(j->var));
    check_expr(steal1(tt_expr_load(C, idx), idx), "C[(i*32 + j)]");
    check_expr(steal1(tt_expr_load(C, i->var), NULL), "C[i]");
    tt_expr_release(prod);
    tt_buffer_release(C);
    tt_iter_var_release(i);
    tt_iter_var_release(j);
    tt_iter_var_release(k);
    tt_tensor_release(A);
    tt_tensor_release(B);
}

/* A tiled matmul loop nest with a local accumulator and a guarded tail. */
static tt_kernel *tiled_kernel(void)
{
    int64_t na = 10 * 8, nc = 10 * 4, nl = 4;
    tt_buffer *A = tt_buffer_new("A", TT_DT_F32, 1, &na, TT_SCOPE_GLOBAL);
    int64_t sb[2] = {8, 4};
    tt_buffer *B = tt_buffer_new("B", TT_DT_F32, 2, sb, TT_SCOPE_GLOBAL);
    tt_buffer *C = tt_buffer_new("C", TT_DT_F32, 1, &nc, TT_SCOPE_GLOBAL);
    tt_buffer *L = tt_buffer_new("C.local", TT_DT_F32, 1, &nl, TT_SCOPE_LOCAL);
    tt_buffer *W = tt_buffer_new("B.packed", TT_DT_F32, 2, sb, TT_SCOPE_WORKSPACE);
    tt_expr *io = tt_expr_var("i.0", TT_DT_I64), *ii = tt_expr_var("i.1", TT_DT_I64);
    tt_expr *j = tt_expr_var("j", TT_DT_I64), *k = tt_expr_var("k", TT_DT_I64);
    tt_expr *i = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(io), I(2)), R(ii));
    tt_expr *e4 = I(4), *e8 = I(8), *e5 = I(5), *e2 = I(2);
    tt_expr *z = F(0);
    tt_stmt *init = tt_stmt_store(L, j, z);
    tt_stmt *init_l = tt_stmt_for(j, e4, TT_FOR_VECTORIZED, init);
    tt_expr *aidx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i), I(8)), R(k));
    tt_expr *a = steal1(tt_expr_load(A, aidx), aidx);
    tt_expr *widx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(k), I(4)), R(j));
    tt_expr *bw = steal1(tt_expr_load(W, widx), widx);
    tt_expr *lj = tt_expr_load(L, j);
    tt_expr *upd = bin(TT_EXPR_ADD, R(lj), bin(TT_EXPR_MUL, a, bw));
    tt_stmt *st = tt_stmt_store(L, j, upd);
    tt_stmt *jl = tt_stmt_for(j, e4, TT_FOR_UNROLLED, st);
    tt_stmt *kl = tt_stmt_for(k, e8, TT_FOR_SERIAL, jl);
    tt_expr *cidx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(i), I(4)), R(j));
    tt_stmt *wb = tt_stmt_store(C, cidx, lj);
    tt_stmt *wbl = tt_stmt_for(j, e4, TT_FOR_SERIAL, wb);
    tt_stmt *parts[3] = {init_l, kl, wbl};
    tt_stmt *sq = tt_stmt_seq(3, parts);
    tt_stmt *al = tt_stmt_alloc(L, sq);
    tt_expr *cond = bin(TT_EXPR_LT, R(i), I(10));
    tt_stmt *guard = tt_stmt_if(cond, al, NULL);
    tt_stmt *iil = tt_stmt_for(ii, e2, TT_FOR_SERIAL, guard);
    tt_stmt *iol = tt_stmt_for(io, e5, TT_FOR_PARALLEL, iil);
    tt_expr *bidx = bin(TT_EXPR_ADD, bin(TT_EXPR_MUL, R(k), I(4)), R(j));
    tt_expr *bl = tt_expr_load(B, bidx);
    tt_stmt *pk = tt_stmt_store(W, bidx, bl);
    tt_stmt *pj = tt_stmt_for(j, e4, TT_FOR_SERIAL, pk);
    tt_stmt *pkl = tt_stmt_for(k, e8, TT_FOR_SERIAL, pj);
    tt_stmt *top[2] = {pkl, iol};
    tt_stmt *body_seq = tt_stmt_seq(2, top);
    tt_stmt *body = tt_stmt_alloc(W, body_seq);
    tt_buffer *params[3] = {A, B, C};
    tt_kernel *kern = tt_kernel_new("mm_tiled", 3, params, body);
    assert_non_null(kern);
    tt_object *junk[] = {
        (tt_object *)A,        (tt_object *)B,   (tt_object *)C,    (tt_object *)L,
        (tt_object *)W,        (tt_object *)io,  (tt_object *)ii,   (tt_object *)j,
        (tt_object *)k,        (tt_object *)i,   (tt_object *)e4,   (tt_object *)e8,
        (tt_object *)e5,       (tt_object *)e2,  (tt_object *)z,    (tt_object *)init,
        (tt_object *)init_l,   (tt_object *)lj,  (tt_object *)upd,  (tt_object *)st,
        (tt_object *)jl,       (tt_object *)kl,  (tt_object *)cidx, (tt_object *)wb,
        (tt_object *)wbl,      (tt_object *)sq,  (tt_object *)al,   (tt_object *)cond,
        (tt_object *)guard,    (tt_object *)iil, (tt_object *)iol,  (tt_object *)bidx,
        (tt_object *)bl,       (tt_object *)pk,  (tt_object *)pj,   (tt_object *)pkl,
        (tt_object *)body_seq, (tt_object *)body};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
    return kern;
}

static const char *tiled_golden =
    "kernel mm_tiled(A: float32[80], B: float32[8, 4], C: float32[40]) {\n"
    "  alloc workspace B.packed[float32 x 8 x 4] {\n"
    "    for (k, 0, 8) {\n"
    "      for (j, 0, 4) {\n"
    "        B.packed[(k*4 + j)] = B[(k*4 + j)]\n"
    "      }\n"
    "    }\n"
    "    parallel for (i.0, 0, 5) {\n"
    "      for (i.1, 0, 2) {\n"
    "        if (i.0*2 + i.1 < 10) {\n"
    "          alloc C.local[float32 x 4] {\n"
    "            vectorized for (j, 0, 4) {\n"
    "              C.local[j] = 0.0\n"
    "            }\n"
    "            for (k, 0, 8) {\n"
    "              unrolled for (j, 0, 4) {\n"
    "                C.local[j] = C.local[j] + A[((i.0*2 + i.1)*8 + k)] * B.packed[(k*4 + j)]\n"
    "              }\n"
    "            }\n"
    "            for (j, 0, 4) {\n"
    "              C[((i.0*2 + i.1)*4 + j)] = C.local[j]\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

static void test_kernel(void **state)
{
    (void)state;
    tt_kernel *k = tiled_kernel();
    assert_str(tt_kernel_str(k), tiled_golden);
    /* a statement alone starts at column 0; an if with an else */
    tt_stmt *inner = k->body->body->stmts[0]; /* the packing loop nest */
    assert_str(tt_stmt_str(inner), "for (k, 0, 8) {\n"
                                   "  for (j, 0, 4) {\n"
                                   "    B.packed[(k*4 + j)] = B[(k*4 + j)]\n"
                                   "  }\n"
                                   "}\n");
    tt_expr *t = tt_expr_binary(TT_EXPR_EQ, inner->var, inner->extent);
    tt_stmt *ite = tt_stmt_if(t, inner->body->body, inner->body->body);
    assert_str(tt_stmt_str(ite), "if (k == 8) {\n"
                                 "  B.packed[(k*4 + j)] = B[(k*4 + j)]\n"
                                 "} else {\n"
                                 "  B.packed[(k*4 + j)] = B[(k*4 + j)]\n"
                                 "}\n");
    tt_stmt_release(ite);
    tt_expr_release(t);
    tt_kernel_release(k);
}

static void test_compute(void **state)
{
    (void)state;
    int64_t sa[2] = {64, 128}, sb[2] = {128, 32}, sc[2] = {64, 32}, sbias = 32;
    tt_tensor *A = tt_tensor_new("A", TT_DT_F32, 2, sa), *B = tt_tensor_new("B", TT_DT_F32, 2, sb);
    tt_tensor *bias = tt_tensor_new("bias", TT_DT_F32, 1, &sbias);
    tt_tensor *T = tt_tensor_new("T", TT_DT_F32, 2, sc), *C = tt_tensor_new("C", TT_DT_F32, 2, sc);
    tt_iter_var *i = tt_iter_var_new("i", 64, TT_AXIS_SPATIAL);
    tt_iter_var *j = tt_iter_var_new("j", 32, TT_AXIS_SPATIAL);
    tt_iter_var *k = tt_iter_var_new("k", 128, TT_AXIS_REDUCE);
    tt_expr *prod = bin(TT_EXPR_MUL, acc(A, R(i->var), R(k->var)), acc(B, R(k->var), R(j->var)));
    tt_expr *red = steal1(tt_expr_reduce(TT_REDUCE_SUM, prod, 1, &k), prod);
    tt_iter_var *axes[2] = {i, j};
    tt_stage *s0 = tt_stage_new(T, 2, axes, red);
    tt_expr *jv = j->var;
    tt_expr *v =
        bin(TT_EXPR_ADD, acc(T, R(i->var), R(j->var)), steal1(tt_expr_access(bias, 1, &jv), NULL));
    tt_expr *relu = bin(TT_EXPR_MAX, v, F(0));
    tt_stage *s1 = tt_stage_new(C, 2, axes, relu);
    tt_tensor *in[3] = {A, B, bias};
    tt_stage *st[2] = {s0, s1};
    tt_compute *c = tt_compute_new("dense", 3, in, 2, st);
    assert_str(tt_compute_str(c),
               "compute dense(A: float32[64, 128], B: float32[128, 32], bias: float32[32]) {\n"
               "  T[i, j] = sum(k, A[i, k] * B[k, j])  # float32[64, 32]; i < 64, j < 32, k < 128\n"
               "  C[i, j] = max(T[i, j] + bias[j], 0.0)  # float32[64, 32]; i < 64, j < 32\n"
               "}\n");
    tt_object *junk[] = {(tt_object *)A,   (tt_object *)B,    (tt_object *)bias, (tt_object *)T,
                         (tt_object *)C,   (tt_object *)i,    (tt_object *)j,    (tt_object *)k,
                         (tt_object *)red, (tt_object *)relu, (tt_object *)s0,   (tt_object *)s1,
                         (tt_object *)c};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
}

/* The stage lines of tt_compute_str, comments cut, as one program of the expression language. */
static char *program_of(const char *text)
{
    char *prog = calloc(strlen(text) + 1, 1);
    const char *line = strchr(text, '\n') + 1; /* after the "compute name(...) {" line */
    while (*line && strncmp(line, "}", 1) != 0) {
        const char *end = strchr(line, '\n'), *hash = strstr(line, "  # ");
        if (hash && hash < end)
            end = hash;
        if (*prog)
            strcat(prog, "; ");
        strncat(prog, line + 2, (size_t)(end - line - 2));
        line = strchr(line, '\n') + 1;
    }
    return prog;
}

/* Prints c, parses the printed stages back with tt_lang_parse (inputs and every axis extent
 * from c), and checks the reparsed compute prints the same and computes the same numbers. */
static void check_reparse(tt_compute *c)
{
    char *text = tt_compute_str(c), *prog = program_of(text);
    tt_lang_input in[8];
    tt_lang_extent ext[32];
    int next = 0;
    for (int i = 0; i < c->ninputs; i++)
        in[i] = (tt_lang_input){c->inputs[i]->name, c->inputs[i]->ndim, c->inputs[i]->shape,
                                c->inputs[i]->dtype};
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        int nred = st->body->kind == TT_EXPR_REDUCE ? st->body->naxes : 0;
        for (int a = 0; a < st->naxes + nred; a++) {
            const tt_iter_var *v = a < st->naxes ? st->axes[a] : st->body->axes[a - st->naxes];
            bool seen = false;
            for (int e = 0; e < next; e++)
                seen = seen || strcmp(ext[e].axis, v->var->name) == 0;
            if (!seen)
                ext[next++] = (tt_lang_extent){v->var->name, v->extent};
        }
    }
    tt_compute *back = NULL;
    if (tt_lang_parse(prog, c->name, c->ninputs, in, next, ext, &back) != 0)
        fail_msg("%s\ndoes not parse: %s", prog, tt_get_last_error());
    assert_str(tt_compute_str(back), text);

    void *a1[9], *a2[9];
    int n = 0;
    for (; n <= c->ninputs; n++) {
        const tt_tensor *t = n < c->ninputs ? c->inputs[n] : tt_compute_output(c);
        size_t bytes = (size_t)tt_tensor_numel(t) * (t->dtype.bits / 8);
        a1[n] = malloc(bytes);
        a2[n] = malloc(bytes);
        for (size_t b = 0; b < bytes; b++)
            ((unsigned char *)a1[n])[b] = n < c->ninputs ? (unsigned char)(rand() % 64 + 32) : 0;
        memcpy(a2[n], a1[n], bytes);
    }
    assert_int_equal(tt_compute_eval(c, a1), 0);
    assert_int_equal(tt_compute_eval(back, a2), 0);
    const tt_tensor *out = tt_compute_output(c);
    assert_memory_equal(a1[c->ninputs], a2[c->ninputs],
                        (size_t)tt_tensor_numel(out) * (out->dtype.bits / 8));
    for (int i = 0; i < n; i++) {
        free(a1[i]);
        free(a2[i]);
    }
    tt_compute_release(back);
    free(prog);
    free(text);
}

static void test_reparse_builtin_ops(void **state)
{
    (void)state;
    struct {
        tt_op_kind kind;
        bool nhwc, bias, relu, pool_max;
        int stride, pad, dilation;
    } cases[] = {
        {TT_OP_MATMUL, 0, 0, 0, 0, 1, 0, 1},
        {TT_OP_BATCH_MATMUL, 0, 0, 0, 0, 1, 0, 1},
        {TT_OP_DENSE, 0, 1, 1, 0, 1, 0, 1},
        {TT_OP_DENSE, 0, 0, 0, 0, 1, 0, 1},
        {TT_OP_CONV2D, 0, 1, 1, 0, 1, 1, 1},
        {TT_OP_CONV2D, 1, 0, 0, 0, 2, 1, 1},
        {TT_OP_CONV2D, 0, 1, 0, 0, 1, 2, 2},
        {TT_OP_DEPTHWISE_CONV2D, 0, 0, 0, 0, 1, 1, 1},
        {TT_OP_DEPTHWISE_CONV2D, 1, 1, 1, 0, 2, 1, 1},
        {TT_OP_POOL2D, 0, 0, 0, 1, 2, 1, 1},
        {TT_OP_POOL2D, 1, 0, 0, 1, 1, 0, 1},
    };
    srand(7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_op_desc d;
        tt_op_desc_init(&d, cases[i].kind);
        d.B = 2, d.M = 5, d.N = 3, d.K = cases[i].kind == TT_OP_DEPTHWISE_CONV2D ? 1 : 4;
        d.C = 3, d.H = 7, d.W = 6, d.R = 3, d.S = 2;
        d.nhwc = cases[i].nhwc, d.bias = cases[i].bias, d.relu = cases[i].relu;
        d.pool_max = cases[i].pool_max;
        d.stride[0] = d.stride[1] = cases[i].stride;
        d.pad[0] = d.pad[1] = cases[i].pad;
        d.dilation[0] = d.dilation[1] = cases[i].dilation;
        tt_compute *c = NULL;
        if (tt_op_build(&d, NULL, &c) != 0)
            fail_msg("case %zu: %s", i, tt_get_last_error());
        check_reparse(c);
        tt_compute_release(c);
    }
}

/* Expressions the built-in ops do not use: precedence, unary minus, calls, comparisons. */
static void test_reparse_expressions(void **state)
{
    (void)state;
    const char *texts[] = {
        "B[i] = select(A[i] > 0.0 || !(A[i] > -1.0), A[i], -A[i]) * 2.0 - exp(A[i]) / "
        "sqrt(abs(A[i]) + 1.0)",
        "B[i] = A[i] - (A[i] - 1.0) - -A[i] * (0.5 - tanh(A[i]))",
        "T[i, j] = A[i] * A[j]; M[i] = max(j, T[i, j]); "
        "B[i] = M[i] + min(abs(M[i]), log(M[i] * M[i] + 1.0))",
        "B[i] = select(i % 2 == 0 && i / 2 != 3, A[i], A[(i + 3) % 8]) + A[7 - i]",
    };
    int64_t n = 8;
    tt_lang_input in = {"A", 1, &n, TT_DT_F32};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tt_compute *c = NULL;
        if (tt_lang_parse(texts[i], "e", 1, &in, 0, NULL, &c) != 0)
            fail_msg("%s: %s", texts[i], tt_get_last_error());
        check_reparse(c);
        tt_compute_release(c);
    }
}

static void test_null(void **state)
{
    (void)state;
    assert_null(tt_expr_str(NULL));
    assert_non_null(strstr(tt_get_last_error(), "NULL expression"));
    assert_null(tt_stmt_str(NULL));
    assert_null(tt_kernel_str(NULL));
    assert_null(tt_compute_str(NULL));
    assert_non_null(strstr(tt_get_last_error(), "NULL compute"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_literals_and_calls),
        cmocka_unit_test(test_access_load_reduce),
        cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_compute),
        cmocka_unit_test(test_reparse_builtin_ops),
        cmocka_unit_test(test_reparse_expressions),
        cmocka_unit_test(test_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
