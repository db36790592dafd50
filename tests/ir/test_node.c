/* Tests ir/node.c, the IR node constructors: dtype rules and names, constructor errors with their
 * messages, reference counts (constructors retain, releases free), producer links, and the
 * flop count of compute definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <stdlib.h>

#include "ir/ir.h"

/* The constructor call returns NULL and the last error contains fragment. */
#define assert_null_with(call, fragment)                                                           \
    do {                                                                                           \
        assert_null((call));                                                                       \
        if (strstr(tt_get_last_error(), (fragment)) == NULL)                                       \
            fail_msg("error \"%s\" lacks \"%s\"", tt_get_last_error(), (fragment));                \
    } while (0)

static int32_t refs(const void *o)
{
    return ((const tt_object *)o)->refcount;
}

static void test_dtypes(void **state)
{
    (void)state;
    assert_true(tt_dtype_eq(TT_DT_F32, (DLDataType){kDLFloat, 32, 1}));
    assert_false(tt_dtype_eq(TT_DT_F32, TT_DT_F64));
    assert_false(tt_dtype_eq(TT_DT_F32, (DLDataType){kDLFloat, 32, 4}));
    assert_true(tt_dtype_is_float(TT_DT_F64));
    assert_false(tt_dtype_is_float(TT_DT_I32));
    assert_true(tt_dtype_is_int(TT_DT_I32) && tt_dtype_is_int(TT_DT_I64));
    assert_false(tt_dtype_is_int(TT_DT_BOOL)); /* bool is not an integer */
    const char *names[] = {"float32", "float64", "int32", "int64", "bool"};
    DLDataType types[] = {TT_DT_F32, TT_DT_F64, TT_DT_I32, TT_DT_I64, TT_DT_BOOL};
    for (int i = 0; i < 5; i++) {
        DLDataType t;
        assert_string_equal(tt_dtype_name(types[i]), names[i]);
        assert_int_equal(tt_dtype_parse(names[i], &t), 0);
        assert_true(tt_dtype_eq(t, types[i]));
    }
    assert_null(tt_dtype_name((DLDataType){kDLFloat, 16, 1}));
    assert_null(tt_dtype_name((DLDataType){kDLFloat, 32, 8}));
    DLDataType t;
    assert_int_equal(tt_dtype_parse("float16", &t), -1);
    assert_non_null(
        strstr(tt_get_last_error(),
               "dtype \"float16\": expected one of float32, float64, int32, int64, bool"));
    assert_int_equal(tt_dtype_parse(NULL, &t), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tt_expr_kind_name(TT_EXPR_ADD), "add");
    assert_string_equal(tt_expr_kind_name(TT_EXPR_LOAD), "load");
    assert_string_equal(tt_expr_kind_name(TT_EXPR_COUNT), "?");
    assert_string_equal(tt_reduce_op_name(TT_REDUCE_MAX), "max");
    assert_string_equal(tt_reduce_op_name(TT_REDUCE_COUNT), "?");
    assert_string_equal(tt_for_kind_name(TT_FOR_VECTORIZED), "vectorized");
    assert_string_equal(tt_for_kind_name((tt_for_kind)9), "?");
}

static void test_expr_dtypes_and_errors(void **state)
{
    (void)state;
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *x = tt_expr_var("x", TT_DT_F32);
    tt_expr *y = tt_expr_var("y", TT_DT_F64), *one = tt_expr_int(1);
    assert_true(tt_dtype_eq(one->dtype, TT_DT_I64) && one->ival == 1);
    int64_t v = 0;
    assert_true(tt_expr_is_const(one, &v) && v == 1);
    assert_false(tt_expr_is_const(i, &v));

    tt_expr *s = tt_expr_binary(TT_EXPR_ADD, x, x);
    assert_true(tt_dtype_eq(s->dtype, TT_DT_F32));
    tt_expr *lt = tt_expr_binary(TT_EXPR_LT, i, one);
    assert_true(tt_dtype_eq(lt->dtype, TT_DT_BOOL));
    tt_expr *both = tt_expr_binary(TT_EXPR_AND, lt, lt);
    assert_true(tt_dtype_eq(both->dtype, TT_DT_BOOL));
    tt_expr *sel = tt_expr_select(lt, x, s);
    assert_true(tt_dtype_eq(sel->dtype, TT_DT_F32) && sel->nargs == 3);
    tt_expr *c = tt_expr_cast(TT_DT_F64, x);
    assert_true(tt_dtype_eq(c->dtype, TT_DT_F64));
    tt_expr *call = tt_expr_call("exp", TT_DT_F64, 1, &y);
    assert_string_equal(call->name, "exp");

    assert_null_with(tt_expr_binary(TT_EXPR_ADD, x, y),
                     "add: operands have different dtypes (float32 and float64)");
    assert_null_with(tt_expr_binary(TT_EXPR_AND, i, i), "and: operands must be bool");
    assert_null_with(tt_expr_binary(TT_EXPR_MOD, x, x), "mod: operands must be integers");
    assert_null_with(tt_expr_binary(TT_EXPR_NOT, lt, lt), "not is not a binary operator");
    assert_null_with(tt_expr_binary(TT_EXPR_SUB, NULL, i), "sub: operand is NULL");
    assert_null_with(tt_expr_not(i), "not: operand must be bool");
    assert_null_with(tt_expr_select(i, x, x), "select: condition must be bool");
    assert_null_with(tt_expr_select(lt, x, y), "select: both branches must have one dtype");
    assert_null_with(tt_expr_call(NULL, TT_DT_F32, 1, &x), "call: NULL name");
    tt_expr *nul = NULL;
    assert_null_with(tt_expr_cast(TT_DT_F32, nul), "cast: operand 0 is NULL");

    tt_object *all[] = {(tt_object *)i, (tt_object *)x,   (tt_object *)y,    (tt_object *)one,
                        (tt_object *)s, (tt_object *)lt,  (tt_object *)both, (tt_object *)sel,
                        (tt_object *)c, (tt_object *)call};
    for (size_t n = 0; n < sizeof all / sizeof all[0]; n++) {
        assert_string_equal(tt_object_key(all[n]), "ir.Expr");
        tt_object_release(all[n]);
    }
}

static void test_refcounts(void **state)
{
    (void)state;
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *k = tt_expr_int(4);
    assert_int_equal(refs(i), 1);
    tt_expr *a = tt_expr_binary(TT_EXPR_ADD, i, i); /* retains i twice */
    assert_int_equal(refs(i), 3);
    tt_expr *m = tt_expr_mul_s(tt_expr_retain(i), k); /* steals both: i back to +1, k held by m */
    assert_int_equal(refs(i), 4);
    assert_int_equal(refs(k), 1);
    tt_expr_release(a);
    assert_int_equal(refs(i), 2);
    tt_expr_release(m); /* frees k too: ASan would report a leak or double free otherwise */
    assert_int_equal(refs(i), 1);

    /* a stage owns its output; releasing the stage clears the producer link */
    int64_t shape[1] = {8};
    tt_tensor *t = tt_tensor_new("T", TT_DT_F32, 1, shape);
    tt_iter_var *ax = tt_iter_var_new("n", 8, TT_AXIS_SPATIAL);
    tt_expr *z = tt_expr_float(0, TT_DT_F32);
    tt_stage *st = tt_stage_new(t, 1, &ax, z);
    assert_ptr_equal(t->producer, st);
    assert_int_equal(refs(t), 2);
    assert_int_equal(refs(ax), 2);
    assert_string_equal(tt_object_key((tt_object *)st), "ir.Stage");
    assert_string_equal(tt_object_key((tt_object *)ax), "ir.IterVar");
    assert_string_equal(tt_object_key((tt_object *)t), "ir.Tensor");
    tt_stage_release(st);
    assert_null(t->producer);
    assert_int_equal(refs(t), 1);
    tt_tensor_release(t);
    tt_iter_var_release(ax);
    tt_expr_release(z);
    tt_expr_release(i);
}

static tt_expr *access2(tt_tensor *t, tt_expr *a, tt_expr *b)
{
    tt_expr *idx[2] = {a, b};
    return tt_expr_access(t, 2, idx);
}

/* C[i, j] = sum(k, A[i, k] * B[k, j]), and optionally D[i, j] = max(C[i, j] + 1, 0) */
static tt_compute *matmul(int64_t M, int64_t N, int64_t K, bool epilogue)
{
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sc[2] = {M, N};
    tt_tensor *A = tt_tensor_new("A", TT_DT_F32, 2, sa), *B = tt_tensor_new("B", TT_DT_F32, 2, sb);
    tt_tensor *C = tt_tensor_new("C", TT_DT_F32, 2, sc), *D = tt_tensor_new("D", TT_DT_F32, 2, sc);
    tt_iter_var *i = tt_iter_var_new("i", M, TT_AXIS_SPATIAL);
    tt_iter_var *j = tt_iter_var_new("j", N, TT_AXIS_SPATIAL);
    tt_iter_var *k = tt_iter_var_new("k", K, TT_AXIS_REDUCE);
    tt_expr *a = access2(A, i->var, k->var), *b = access2(B, k->var, j->var);
    tt_expr *prod = tt_expr_binary(TT_EXPR_MUL, a, b);
    tt_expr *red = tt_expr_reduce(TT_REDUCE_SUM, prod, 1, &k);
    assert_true(tt_dtype_eq(red->dtype, TT_DT_F32));
    tt_iter_var *axes[2] = {i, j};
    tt_stage *s0 = tt_stage_new(C, 2, axes, red);
    tt_expr *cij = access2(C, i->var, j->var), *one = tt_expr_float(1, TT_DT_F32);
    tt_expr *zero = tt_expr_float(0, TT_DT_F32);
    tt_expr *sum = tt_expr_add_s(cij, one); /* steals cij and one */
    tt_expr *relu = tt_expr_binary(TT_EXPR_MAX, sum, zero);
    tt_stage *s1 = tt_stage_new(D, 2, axes, relu);
    tt_tensor *in[2] = {A, B};
    tt_stage *st[2] = {s0, s1};
    tt_compute *c = tt_compute_new("mm", 2, in, epilogue ? 2 : 1, st);
    tt_object *junk[] = {(tt_object *)A,    (tt_object *)B,    (tt_object *)C,    (tt_object *)D,
                         (tt_object *)i,    (tt_object *)j,    (tt_object *)k,    (tt_object *)a,
                         (tt_object *)b,    (tt_object *)prod, (tt_object *)red,  (tt_object *)s0,
                         (tt_object *)zero, (tt_object *)sum,  (tt_object *)relu, (tt_object *)s1};
    for (size_t n = 0; n < sizeof junk / sizeof junk[0]; n++)
        tt_object_release(junk[n]);
    return c;
}

static void test_compute_and_flops(void **state)
{
    (void)state;
    tt_compute *c = matmul(64, 48, 32, false);
    assert_non_null(c);
    assert_string_equal(tt_object_key((tt_object *)c), "ir.Compute");
    assert_true(tt_compute_flops(c) == 2.0 * 64 * 48 * 32);
    assert_string_equal(tt_compute_output(c)->name, "C");
    assert_ptr_equal(tt_compute_stage(c, "C"), c->stages[0]);
    assert_null(tt_compute_stage(c, "Z"));
    assert_int_equal(tt_tensor_numel(c->inputs[0]), 64 * 32);
    tt_compute_release(c);
    /* the epilogue adds one add and one max per output point */
    c = matmul(16, 8, 4, true);
    assert_true(tt_compute_flops(c) == 2.0 * 16 * 8 * 4 + 2.0 * 16 * 8);
    assert_string_equal(tt_compute_output(c)->name, "D");
    tt_compute_release(c);
}

static void test_tensor_axis_stage_errors(void **state)
{
    (void)state;
    int64_t shape[2] = {4, 4};
    tt_tensor *t = tt_tensor_new("T", TT_DT_F32, 2, shape);
    tt_iter_var *i = tt_iter_var_new("i", 4, TT_AXIS_SPATIAL);
    assert_null_with(tt_iter_var_new("r", 0, TT_AXIS_REDUCE), "axis r: extent 0, expected > 0");
    assert_null_with(tt_tensor_new("U", TT_DT_F32, -1, shape), "tensor U: bad rank -1");
    assert_null_with(tt_expr_access(t, 1, &i->var), "access T: 1 indices for a tensor of rank 2");
    assert_null_with(tt_expr_access(NULL, 1, &i->var), "access: NULL tensor");
    tt_expr *z = tt_expr_float(0, TT_DT_F32);
    assert_null_with(tt_expr_reduce(TT_REDUCE_SUM, z, 0, NULL), "reduce: needs an operator");
    assert_null_with(tt_stage_new(t, 1, &i, z), "stage T: needs an output, a body and one axis");
    assert_null_with(tt_compute_new("c", 0, NULL, 0, NULL), "compute c: needs at least one stage");
    tt_expr_release(z);
    tt_iter_var_release(i);
    tt_tensor_release(t);
}

static void test_loop_ir(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 5}, neg = -2;
    tt_buffer *b = tt_buffer_new("B", TT_DT_F32, 2, shape, TT_SCOPE_GLOBAL);
    assert_int_equal(b->numel, 15);
    assert_string_equal(tt_object_key((tt_object *)b), "ir.Buffer");
    assert_null_with(tt_buffer_new("N", TT_DT_F32, 1, &neg, TT_SCOPE_LOCAL),
                     "buffer N: shape[0] = -2, expected >= 0");
    tt_buffer *l = tt_buffer_new("L", TT_DT_I32, 1, shape, TT_SCOPE_LOCAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *n = tt_expr_int(15);
    tt_expr *f = tt_expr_float(1, TT_DT_F32), *d = tt_expr_float(1, TT_DT_F64);
    tt_stmt *st = tt_stmt_store(b, i, f);
    assert_int_equal(st->kind, TT_STMT_STORE);
    assert_null_with(tt_stmt_store(b, i, d), "store B: value dtype differs from the buffer's");
    assert_null_with(tt_stmt_store(b, NULL, f), "store: needs a buffer, an index and a value");
    tt_stmt *loop = tt_stmt_for(i, n, TT_FOR_PARALLEL, st);
    assert_int_equal(loop->for_kind, TT_FOR_PARALLEL);
    assert_null_with(tt_stmt_for(n, n, TT_FOR_SERIAL, st), "for: needs a loop variable");
    assert_null_with(tt_stmt_if(i, st, NULL), "if: needs a bool condition");
    assert_null_with(tt_stmt_alloc(b, st), "alloc: needs a local or workspace buffer");
    tt_stmt *al = tt_stmt_alloc(l, loop);
    tt_stmt *two[2] = {al, NULL};
    assert_null_with(tt_stmt_seq(2, two), "seq: statement 1 is NULL");
    assert_null_with(tt_stmt_seq(-1, two), "seq: negative count");
    assert_null_with(tt_kernel_new("k", 1, &b, NULL),
                     "kernel: needs a name, parameters and a body");
    tt_kernel *k = tt_kernel_new("k", 1, &b, al);
    assert_string_equal(tt_object_key((tt_object *)k), "ir.Kernel");
    assert_string_equal(tt_object_key((tt_object *)al), "ir.Stmt");
    assert_int_equal(refs(b), 3); /* ours, the store's, the kernel's */
    tt_kernel_release(k);
    tt_stmt_release(al);
    tt_stmt_release(loop);
    tt_stmt_release(st);
    assert_int_equal(refs(b), 1);
    tt_object *junk[] = {(tt_object *)b, (tt_object *)l, (tt_object *)i,
                         (tt_object *)n, (tt_object *)f, (tt_object *)d};
    for (size_t m = 0; m < sizeof junk / sizeof junk[0]; m++)
        tt_object_release(junk[m]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_expr_dtypes_and_errors),
        cmocka_unit_test(test_refcounts),
        cmocka_unit_test(test_compute_and_flops),
        cmocka_unit_test(test_tensor_axis_stage_errors),
        cmocka_unit_test(test_loop_ir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
