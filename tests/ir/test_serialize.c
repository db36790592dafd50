/* Tests ir/serialize.c: round trips of expressions, computes and kernels (the text printed and
 * the JSON written again are identical, node sharing and identity survive, the parsed nodes
 * compute the same numbers), and malformed JSON, each case with the message it must give. */
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
#include "ir/printer.h"
#include "ir/serialize.h"
#include "tt_test.h"

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

static tt_expr *steal(tt_expr *e, tt_expr *a)
{
    tt_expr_release(a);
    assert_non_null(e);
    return e;
}

/* The printed text of any node (expr, stmt, kernel or compute). */
static char *text_of(const tt_object *o)
{
    const char *key = tt_object_key(o);
    if (!strcmp(key, "ir.Expr"))
        return tt_expr_str((const tt_expr *)o);
    if (!strcmp(key, "ir.Stmt"))
        return tt_stmt_str((const tt_stmt *)o);
    if (!strcmp(key, "ir.Kernel"))
        return tt_kernel_str((const tt_kernel *)o);
    if (!strcmp(key, "ir.Compute"))
        return tt_compute_str((const tt_compute *)o);
    return strdup(key);
}

/* Serialises o, parses it back and checks text and JSON are unchanged; returns the parsed node
 * (caller releases). */
static tt_object *round_trip(const tt_object *o)
{
    char *json = tt_ir_to_json(o);
    assert_non_null(json);
    tt_object *back = NULL;
    if (tt_ir_from_json(json, &back) != 0)
        fail_msg("parse failed: %s\n%s", tt_get_last_error(), json);
    assert_string_equal(tt_object_key(back), tt_object_key(o));
    char *json2 = tt_ir_to_json(back);
    assert_non_null(json2);
    assert_string_equal(json2, json);
    char *t1 = text_of(o), *t2 = text_of(back);
    assert_string_equal(t2, t1);
    free(t1);
    free(t2);
    free(json);
    free(json2);
    return back;
}

static void test_expr_round_trip(void **state)
{
    (void)state;
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *i2 = tt_expr_var("i", TT_DT_I64);
    tt_expr *x = tt_expr_var("x", TT_DT_F64);
    /* i + i (one var twice) and i + i' (two vars named i) must stay different */
    tt_expr *same = bin(TT_EXPR_ADD, R(i), R(i)), *diff = bin(TT_EXPR_ADD, R(i), R(i2));
    tt_expr *both = bin(TT_EXPR_MUL, R(same), R(diff));
    tt_expr *back = (tt_expr *)round_trip((tt_object *)both);
    assert_ptr_equal(back->args[0]->args[0], back->args[0]->args[1]);
    assert_ptr_not_equal(back->args[1]->args[0], back->args[1]->args[1]);
    assert_ptr_equal(back->args[0]->args[0], back->args[1]->args[0]);
    tt_expr_release(back);

    /* every other kind, and floats JSON cannot spell */
    tt_expr *lt = bin(TT_EXPR_LT, R(i), I(-5));
    tt_expr *nt = steal(tt_expr_not(lt), NULL);
    tt_expr *logic = bin(TT_EXPR_OR, bin(TT_EXPR_AND, R(lt), R(nt)), bin(TT_EXPR_GE, R(x), R(x)));
    tt_expr *ex = tt_expr_call("exp", TT_DT_F64, 1, &x);
    tt_expr *nanv = tt_expr_float(NAN, TT_DT_F64);
    tt_expr *sel = tt_expr_select(logic, ex, nanv);
    tt_expr *mix = bin(TT_EXPR_MAX, R(sel), tt_expr_float(-INFINITY, TT_DT_F64));
    mix = bin(TT_EXPR_MIN, mix, tt_expr_float(0.1, TT_DT_F64));
    mix = bin(TT_EXPR_DIV, mix,
              bin(TT_EXPR_SUB, tt_expr_float(INFINITY, TT_DT_F64), tt_expr_float(-0.0, TT_DT_F64)));
    tt_expr *ci = steal(tt_expr_cast(TT_DT_I32, mix), mix);
    tt_expr *m = bin(TT_EXPR_MOD, R(ci), tt_expr_int_typed(7, TT_DT_I32));
    tt_expr *eqne = bin(TT_EXPR_NE, bin(TT_EXPR_EQ, R(m), R(m)), tt_expr_not(lt));
    back = (tt_expr *)round_trip((tt_object *)eqne);
    /* the float constants kept their exact values */
    char *json = tt_ir_to_json((tt_object *)back);
    assert_non_null(strstr(json, "\"value\":\"nan\""));
    assert_non_null(strstr(json, "\"value\":\"-inf\""));
    assert_non_null(strstr(json, "\"value\":-0.0"));
    assert_non_null(strstr(json, "\"value\":0.10000000000000001"));
    free(json);
    tt_expr_release(back);

    tt_object *junk[] = {(tt_object *)i,     (tt_object *)i2,   (tt_object *)x,   (tt_object *)same,
                         (tt_object *)diff,  (tt_object *)both, (tt_object *)lt,  (tt_object *)nt,
                         (tt_object *)logic, (tt_object *)ex,   (tt_object *)sel, (tt_object *)nanv,
                         (tt_object *)ci,    (tt_object *)m,    (tt_object *)eqne};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
}

static tt_expr *acc(tt_tensor *t, int n, tt_expr *a, tt_expr *b)
{
    tt_expr *idx[2] = {a, b};
    tt_expr *e = tt_expr_access(t, n, idx);
    tt_expr_release(a);
    tt_expr_release(b);
    assert_non_null(e);
    return e;
}

/* T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + bias[j], 0) */
static tt_compute *dense(int M, int N, int K)
{
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sc[2] = {M, N}, sbias = N;
    tt_tensor *A = tt_tensor_new("A", TT_DT_F32, 2, sa), *B = tt_tensor_new("B", TT_DT_F32, 2, sb);
    tt_tensor *bias = tt_tensor_new("bias", TT_DT_F32, 1, &sbias);
    tt_tensor *T = tt_tensor_new("T", TT_DT_F32, 2, sc), *C = tt_tensor_new("C", TT_DT_F32, 2, sc);
    tt_iter_var *i = tt_iter_var_new("i", M, TT_AXIS_SPATIAL);
    tt_iter_var *j = tt_iter_var_new("j", N, TT_AXIS_SPATIAL);
    tt_iter_var *k = tt_iter_var_new("k", K, TT_AXIS_REDUCE);
    tt_expr *prod =
        bin(TT_EXPR_MUL, acc(A, 2, R(i->var), R(k->var)), acc(B, 2, R(k->var), R(j->var)));
    tt_expr *red = steal(tt_expr_reduce(TT_REDUCE_SUM, prod, 1, &k), prod);
    tt_iter_var *axes[2] = {i, j};
    tt_stage *s0 = tt_stage_new(T, 2, axes, red);
    tt_expr *v = bin(TT_EXPR_ADD, acc(T, 2, R(i->var), R(j->var)), acc(bias, 1, R(j->var), NULL));
    tt_expr *relu = bin(TT_EXPR_MAX, v, F(0));
    tt_stage *s1 = tt_stage_new(C, 2, axes, relu);
    tt_tensor *in[3] = {A, B, bias};
    tt_stage *st[2] = {s0, s1};
    tt_compute *c = tt_compute_new("dense", 3, in, 2, st);
    assert_non_null(c);
    tt_object *junk[] = {(tt_object *)A,   (tt_object *)B,    (tt_object *)bias, (tt_object *)T,
                         (tt_object *)C,   (tt_object *)i,    (tt_object *)j,    (tt_object *)k,
                         (tt_object *)red, (tt_object *)relu, (tt_object *)s0,   (tt_object *)s1};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
    return c;
}

static void fill(float *x, int n, unsigned seed)
{
    srand(seed);
    for (int i = 0; i < n; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
}

static void test_compute_round_trip(void **state)
{
    (void)state;
    const int M = 6, N = 5, K = 7;
    tt_compute *c = dense(M, N, K);
    tt_compute *back = (tt_compute *)round_trip((tt_object *)c);
    /* producers are re-established, and the second stage reads the first stage's tensor */
    assert_ptr_equal(back->stages[0]->output->producer, back->stages[0]);
    assert_ptr_equal(back->stages[1]->output->producer, back->stages[1]);
    const tt_expr *add = back->stages[1]->body->args[0];
    assert_ptr_equal(add->args[0]->tensor, back->stages[0]->output);
    /* the axes' variables are the ones the accesses use */
    assert_ptr_equal(add->args[0]->args[0], back->stages[1]->axes[0]->var);
    assert_ptr_equal(back->stages[0]->body->args[0]->args[0]->args[1],
                     back->stages[0]->body->axes[0]->var);
    assert_true(tt_compute_flops(back) == tt_compute_flops(c));
    /* and it computes the same numbers */
    float a[M * K], b[K * N], bias[N], o1[M * N], o2[M * N];
    fill(a, M * K, 1);
    fill(b, K * N, 2);
    fill(bias, N, 3);
    void *args1[4] = {a, b, bias, o1}, *args2[4] = {a, b, bias, o2};
    assert_int_equal(tt_compute_eval(c, args1), 0);
    assert_int_equal(tt_compute_eval(back, args2), 0);
    assert_memory_equal(o1, o2, sizeof o1);
    /* a stage or tensor alone round-trips too */
    tt_object_release(round_trip((tt_object *)c->stages[0]));
    tt_object_release(round_trip((tt_object *)c->inputs[2]));
    tt_object_release(round_trip((tt_object *)c->stages[0]->body->axes[0]));
    tt_compute_release(back);
    tt_compute_release(c);
}

/* for i in 0..n (parallel): alloc L[2] { L[0] = X[i] * 2; if (i % 2 == 0) Y[i] = L[0]
 * else Y[i] = -1 } */
static tt_kernel *small_kernel(int64_t n)
{
    tt_buffer *X = tt_buffer_new("X", TT_DT_F32, 1, &n, TT_SCOPE_GLOBAL);
    tt_buffer *Y = tt_buffer_new("Y", TT_DT_F32, 1, &n, TT_SCOPE_GLOBAL);
    int64_t two = 2;
    tt_buffer *L = tt_buffer_new("L", TT_DT_F32, 1, &two, TT_SCOPE_LOCAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *zero = I(0), *ext = I(n);
    tt_expr *xi = tt_expr_load(X, i), *l0 = tt_expr_load(L, zero);
    tt_expr *dbl = bin(TT_EXPR_MUL, R(xi), F(2));
    tt_stmt *s1 = tt_stmt_store(L, zero, dbl);
    tt_stmt *s2 = tt_stmt_store(Y, i, l0);
    tt_expr *m1 = F(-1);
    tt_stmt *s3 = tt_stmt_store(Y, i, m1);
    tt_expr *cond = bin(TT_EXPR_EQ, bin(TT_EXPR_MOD, R(i), I(2)), I(0));
    tt_stmt *ite = tt_stmt_if(cond, s2, s3);
    tt_stmt *parts[2] = {s1, ite};
    tt_stmt *sq = tt_stmt_seq(2, parts);
    tt_stmt *al = tt_stmt_alloc(L, sq);
    tt_stmt *lp = tt_stmt_for(i, ext, TT_FOR_PARALLEL, al);
    tt_buffer *params[2] = {X, Y};
    tt_kernel *k = tt_kernel_new("small", 2, params, lp);
    assert_non_null(k);
    tt_object *junk[] = {(tt_object *)X,    (tt_object *)Y,    (tt_object *)L,   (tt_object *)i,
                         (tt_object *)zero, (tt_object *)ext,  (tt_object *)xi,  (tt_object *)l0,
                         (tt_object *)dbl,  (tt_object *)s1,   (tt_object *)s2,  (tt_object *)m1,
                         (tt_object *)s3,   (tt_object *)cond, (tt_object *)ite, (tt_object *)sq,
                         (tt_object *)al,   (tt_object *)lp};
    for (size_t n2 = 0; n2 < sizeof junk / sizeof junk[0]; n2++)
        tt_object_release(junk[n2]);
    return k;
}

static void test_kernel_round_trip(void **state)
{
    (void)state;
    tt_kernel *k = small_kernel(9);
    tt_kernel *back = (tt_kernel *)round_trip((tt_object *)k);
    /* the loop variable is one node: the for binds what the loads use */
    const tt_stmt *alloc = back->body->body;
    assert_ptr_equal(alloc->body->stmts[0]->value->args[0]->args[0], back->body->var);
    assert_ptr_equal(alloc->buffer, alloc->body->stmts[0]->buffer);
    assert_ptr_equal(back->params[0], alloc->body->stmts[0]->value->args[0]->buffer);
    float x[9], y1[9], y2[9];
    fill(x, 9, 4);
    void *a1[2] = {x, y1}, *a2[2] = {x, y2};
    assert_int_equal(tt_kernel_interp(k, a1), 0);
    assert_int_equal(tt_kernel_interp(back, a2), 0);
    assert_memory_equal(y1, y2, sizeof y1);
    assert_true(y1[4] == 2 * x[4] && y1[3] == -1);
    /* a statement and a buffer alone */
    tt_object_release(round_trip((tt_object *)k->body));
    tt_object_release(round_trip((tt_object *)k->params[1]));
    tt_kernel_release(back);
    tt_kernel_release(k);
}

/* Parsing text fails with a message containing fragment. */
static void bad(const char *json, const char *fragment)
{
    tt_object *o = (tt_object *)0x1;
    assert_fails_with(tt_ir_from_json(json, &o), fragment);
    assert_null(o);
}

#define V_I "{\"type\":\"ir.Expr\",\"kind\":\"var\",\"dtype\":\"int64\",\"name\":\"i\"}"
#define V_X "{\"type\":\"ir.Expr\",\"kind\":\"var\",\"dtype\":\"float32\",\"name\":\"x\"}"
#define T_A "{\"type\":\"ir.Tensor\",\"name\":\"A\",\"dtype\":\"float32\",\"shape\":[4,4]}"

static void test_malformed(void **state)
{
    (void)state;
    bad("{\"root\": 0, \"nodes\": [", "ir json: line 1");
    bad("[1, 2]", "expected an object with \"root\" and \"nodes\"");
    bad("{\"root\": 0}", "ir json: nodes: missing");
    bad("{\"root\": 0, \"nodes\": [], \"extra\": 1}", "unknown field \"extra\"");
    bad("{\"root\": 0, \"nodes\": []}", "ir json: root: expected the index of a node");
    bad("{\"root\": 1, \"nodes\": [" V_I "]}",
        "ir json: root: expected the index of a node (0..0)");
    bad("{\"root\": 0, \"nodes\": [" V_I ", " V_I "], \"root\": 1}", "duplicate object key");
    bad("{\"root\": 0, \"nodes\": [3]}", "ir json: nodes[0]: expected an object");
    bad("{\"root\": 0, \"nodes\": [{\"type\": \"ir.Foo\"}]}",
        "ir json: nodes[0].type: unknown node type \"ir.Foo\"");
    bad("{\"root\": 0, \"nodes\": [{\"kind\": \"var\"}]}", "ir json: nodes[0].type: missing");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"pow\","
        "\"dtype\":\"int64\",\"args\":[0,0]}]}",
        "ir json: nodes[1].kind: unknown expression kind \"pow\"");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"var\",\"dtype\":\"float16\","
        "\"name\":\"h\"}]}",
        "ir json: nodes[0].dtype: unknown dtype \"float16\"");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"var\",\"dtype\":\"int64\"}]}",
        "ir json: nodes[0].name: missing");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"var\",\"dtype\":\"int64\","
        "\"name\":\"i\",\"args\":[]}]}",
        "ir json: nodes[0]: unknown field \"args\"");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"int\",\"dtype\":\"int64\","
        "\"value\":1.5}]}",
        "ir json: nodes[0].value: expected an integer");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"float\",\"dtype\":\"float32\","
        "\"value\":\"many\"}]}",
        "ir json: nodes[0].value: expected a number, \"nan\", \"inf\" or \"-inf\"");
    /* references: forward, self, out of range, wrong type, not an index */
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Expr\",\"kind\":\"add\",\"dtype\":\"int64\","
        "\"args\":[0,0]}]}",
        "ir json: nodes[0].args[0]: index 0 does not refer to an earlier node (0..-1)");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"add\","
        "\"dtype\":\"int64\",\"args\":[0,5]}]}",
        "ir json: nodes[1].args[1]: index 5 does not refer to an earlier node (0..0)");
    bad("{\"root\": 1, \"nodes\": [" T_A ", {\"type\":\"ir.Expr\",\"kind\":\"not\","
        "\"dtype\":\"bool\",\"args\":[0]}]}",
        "ir json: nodes[1].args[0]: node 0 is an ir.Tensor, expected an ir.Expr");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"add\","
        "\"dtype\":\"int64\",\"args\":[0,\"0\"]}]}",
        "ir json: nodes[1].args[1]: expected a node index");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"add\","
        "\"dtype\":\"int64\",\"args\":0}]}",
        "ir json: nodes[1].args: expected an array of node indices");
    /* arity, operand dtypes (the constructor's message), declared dtype */
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"add\","
        "\"dtype\":\"int64\",\"args\":[0]}]}",
        "ir json: nodes[1].args: add takes 2 operands, got 1");
    bad("{\"root\": 2, \"nodes\": [" V_I ", " V_X ", {\"type\":\"ir.Expr\",\"kind\":\"mul\","
        "\"dtype\":\"int64\",\"args\":[0,1]}]}",
        "ir json: nodes[2]: mul: operands have different dtypes (int64 and float32)");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Expr\",\"kind\":\"lt\","
        "\"dtype\":\"int64\",\"args\":[0,0]}]}",
        "ir json: nodes[1].dtype: declared int64, but its operands make it bool");
    bad("{\"root\": 1, \"nodes\": [" T_A ", {\"type\":\"ir.Expr\",\"kind\":\"access\","
        "\"dtype\":\"float32\",\"tensor\":0,\"args\":[]}]}",
        "ir json: nodes[1]: access A: 0 indices for a tensor of rank 2");
    /* other node types */
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Tensor\",\"name\":\"A\",\"dtype\":\"float32\","
        "\"shape\":[4,-1]}]}",
        "ir json: nodes[0].shape[1]: expected an integer >= 0");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Buffer\",\"name\":\"B\",\"dtype\":\"float32\","
        "\"shape\":[4294967296,4294967296],\"scope\":\"global\"}]}",
        "ir json: nodes[0].shape: the element count overflows int64");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.IterVar\",\"var\":0,\"extent\":0,"
        "\"kind\":\"spatial\"}]}",
        "ir json: nodes[1]: axis i: extent 0, expected > 0");
    bad("{\"root\": 1, \"nodes\": [" V_X ", {\"type\":\"ir.IterVar\",\"var\":0,\"extent\":4,"
        "\"kind\":\"spatial\"}]}",
        "ir json: nodes[1].var: expected an int64 var");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.IterVar\",\"var\":0,\"extent\":4,"
        "\"kind\":\"diagonal\"}]}",
        "ir json: nodes[1].kind: unknown value \"diagonal\"");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Buffer\",\"name\":\"B\",\"dtype\":\"float32\","
        "\"shape\":[4],\"scope\":\"shared\"}]}",
        "ir json: nodes[0].scope: unknown value \"shared\"");
    bad("{\"root\": 1, \"nodes\": [" V_I ", {\"type\":\"ir.Stmt\",\"kind\":\"while\"}]}",
        "ir json: nodes[1].kind: unknown value \"while\"");
    bad("{\"root\": 2, \"nodes\": [" V_I ", {\"type\":\"ir.Stmt\",\"kind\":\"seq\",\"stmts\":[]},"
        "{\"type\":\"ir.Stmt\",\"kind\":\"for\",\"var\":0,\"extent\":0,\"for_kind\":\"sideways\","
        "\"body\":1}]}",
        "ir json: nodes[2].for_kind: unknown value \"sideways\"");
    bad("{\"root\": 3, \"nodes\": [" V_I ", {\"type\":\"ir.Stmt\",\"kind\":\"seq\",\"stmts\":[]},"
        "{\"type\":\"ir.Expr\",\"kind\":\"int\",\"dtype\":\"int64\",\"value\":4},"
        "{\"type\":\"ir.Stmt\",\"kind\":\"for\",\"var\":2,\"extent\":2,\"for_kind\":\"serial\","
        "\"body\":1}]}",
        "ir json: nodes[3]: for: needs a loop variable");
    bad("{\"root\": 1, \"nodes\": [{\"type\":\"ir.Buffer\",\"name\":\"B\",\"dtype\":\"float32\","
        "\"shape\":[4],\"scope\":\"global\"}, {\"type\":\"ir.Kernel\",\"name\":\"k\","
        "\"params\":[0]}]}",
        "ir json: nodes[1].body: missing");
    bad("{\"root\": 0, \"nodes\": [{\"type\":\"ir.Compute\",\"name\":\"c\",\"inputs\":[],"
        "\"stages\":[]}]}",
        "ir json: nodes[0]: compute c: needs at least one stage");
    assert_fails_with(tt_ir_from_json(NULL, NULL), "NULL text");
}

/* Runs a parsed compute or kernel on zeroed arguments sized from its own tensors/buffers. A
 * mutated graph may be wrong in many ways; the interpreter must say so, never crash. */
static void run_parsed(tt_object *o)
{
    void *args[16] = {0};
    int n = 0;
    bool ok = true;
    if (!strcmp(tt_object_key(o), "ir.Compute")) {
        tt_compute *c = (tt_compute *)o;
        for (int i = 0; i <= c->ninputs && i < 16; i++) {
            tt_tensor *t = i < c->ninputs ? c->inputs[i] : tt_compute_output(c);
            int64_t numel = tt_tensor_numel(t);
            ok = ok && numel >= 0 && numel < (1 << 20);
            args[n++] = ok ? calloc((size_t)numel + 1, 8) : NULL;
        }
        if (ok && c->ninputs < 16 && tt_compute_eval(c, args) != 0)
            assert_true(strlen(tt_get_last_error()) > 0);
    } else if (!strcmp(tt_object_key(o), "ir.Kernel")) {
        tt_kernel *k = (tt_kernel *)o;
        for (int i = 0; i < k->nparams && i < 16; i++) {
            ok = ok && k->params[i]->numel >= 0 && k->params[i]->numel < (1 << 20);
            args[n++] = ok ? calloc((size_t)k->params[i]->numel + 1, 8) : NULL;
        }
        if (ok && k->nparams <= 16 && tt_kernel_interp(k, args) != 0)
            assert_true(strlen(tt_get_last_error()) > 0);
    }
    for (int i = 0; i < n; i++)
        free(args[i]);
}

/* Mutated JSON (digits changed: other indices, extents, shapes; or any byte changed) parses to
 * a valid graph or fails with an "ir json:" message; what parses prints, serialises and runs
 * (under ASan in the sanitizer build). */
static void test_mutations(void **state)
{
    (void)state;
    tt_compute *c = dense(6, 5, 7);
    tt_kernel *k = small_kernel(9);
    char *texts[2] = {tt_ir_to_json((tt_object *)c), tt_ir_to_json((tt_object *)k)};
    int parsed = 0, rejected = 0;
    srand(12345);
    for (int iter = 0; iter < 3000; iter++) {
        char *t = strdup(texts[iter % 2]);
        size_t len = strlen(t);
        for (int m = 0; m < 1 + rand() % 2; m++) {
            size_t at = (size_t)rand() % len;
            if (rand() % 10 < 7) { /* a digit becomes another digit */
                while (t[at] < '0' || t[at] > '9')
                    at = (at + 1) % len;
                t[at] = (char)('0' + rand() % 10);
            } else {
                t[at] = (char)(32 + rand() % 95);
            }
        }
        tt_object *o = NULL;
        if (tt_ir_from_json(t, &o) == 0) {
            parsed++;
            char *j = tt_ir_to_json(o), *txt = text_of(o);
            assert_non_null(j);
            assert_non_null(txt);
            run_parsed(o);
            free(j);
            free(txt);
            tt_object_release(o);
        } else {
            rejected++;
            if (strncmp(tt_get_last_error(), "ir json: ", 9) != 0)
                fail_msg("message \"%s\" lacks the \"ir json: \" prefix", tt_get_last_error());
            assert_null(o);
        }
        free(t);
    }
    printf("mutations: %d parsed, %d rejected\n", parsed, rejected);
    assert_true(parsed > 100 && rejected > 100); /* both paths were exercised */
    free(texts[0]);
    free(texts[1]);
    tt_compute_release(c);
    tt_kernel_release(k);
}

static void test_not_an_ir_node(void **state)
{
    (void)state;
    uint32_t ti;
    assert_int_equal(tt_object_type_register("test.NotIR", &ti), 0);
    tt_object o;
    tt_object_init(&o, ti, NULL);
    assert_null(tt_ir_to_json(&o));
    assert_non_null(strstr(tt_get_last_error(), "object of type test.NotIR is not an IR node"));
    assert_null(tt_ir_to_json(NULL));
    assert_non_null(strstr(tt_get_last_error(), "NULL node"));
    /* JSON strings are UTF-8 */
    tt_expr *v = tt_expr_var("bad\xff", TT_DT_I64);
    tt_expr *e = tt_expr_binary(TT_EXPR_ADD, v, v);
    assert_null(tt_ir_to_json((tt_object *)e));
    assert_non_null(strstr(tt_get_last_error(), "is not valid UTF-8"));
    tt_expr_release(e);
    tt_expr_release(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_round_trip),   cmocka_unit_test(test_compute_round_trip),
        cmocka_unit_test(test_kernel_round_trip), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mutations),         cmocka_unit_test(test_not_an_ir_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
