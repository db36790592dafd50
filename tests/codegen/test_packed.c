/* The JIT module and the generated PackedFunc wrappers: calls with NDArrays and DLTensors, every
 * argument check with its message, raw entry lookup, lifetimes, and codegen's own errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cg_kernels.h"

#define N 64

typedef struct {
    tt_module mod;
    tt_func f;
    DLTensor *a, *b, *c;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof *x);
    tt_kernel *k = matmul_tiled("matmul_64", N, N, N, 4, 1, 16, TT_FOR_PARALLEL);
    x->mod = jit_one(k);
    tt_kernel_release(k);
    if (!x->mod || tt_mod_get_function(x->mod, "matmul_64", 0, &x->f) != 0 || !x->f)
        return -1;
    int64_t shape[2] = {N, N};
    DLDevice cpu = {kDLCPU, 0};
    if (tt_array_alloc(shape, 2, TT_DT_F32, cpu, &x->a) ||
        tt_array_alloc(shape, 2, TT_DT_F32, cpu, &x->b) ||
        tt_array_alloc(shape, 2, TT_DT_F32, cpu, &x->c))
        return -1;
    fill_random(x->a->data, N * N, 1);
    fill_random(x->b->data, N * N, 2);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    tt_array_free(x->a);
    tt_array_free(x->b);
    tt_array_free(x->c);
    tt_func_free(x->f);
    tt_mod_free(x->mod);
    free(x);
    return 0;
}

/* Calls f with tensors t[0..n) as DLTensors (code) and returns its status. */
static int call(tt_func f, DLTensor **t, int n, int code)
{
    tt_value args[4];
    int codes[4];
    for (int i = 0; i < n; i++) {
        args[i].v_handle = t[i];
        codes[i] = code;
    }
    tt_value ret;
    int ret_code;
    return tt_func_call(f, args, codes, n, &ret, &ret_code);
}

static void expect_error(tt_func f, DLTensor **t, int n, const char *msg)
{
    assert_int_equal(call(f, t, n, TT_DLTENSOR), -1);
    if (!strstr(tt_get_last_error(), msg))
        fail_msg("expected \"%s\" in \"%s\"", msg, tt_get_last_error());
}

static void call_ok(void **state)
{
    fixture *x = *state;
    float *ref = falloc(N * N);
    matmul_ref(x->a->data, x->b->data, ref, N, N, N);
    DLTensor *t[3] = {x->a, x->b, x->c};
    assert_int_equal(call(x->f, t, 3, TT_NDARRAY), 0);
    assert_true(max_abs_diff(x->c->data, ref, N * N) < 1e-3);
    /* borrowed DLTensors with explicit compact strides work too */
    memset(x->c->data, 0, N * N * 4);
    int64_t strides[2] = {N, 1};
    DLTensor c2 = *x->c;
    c2.strides = strides;
    DLTensor *t2[3] = {x->a, x->b, &c2};
    assert_int_equal(call(x->f, t2, 3, TT_DLTENSOR), 0);
    assert_true(max_abs_diff(x->c->data, ref, N * N) < 1e-3);
    free(ref);
}

static void argument_errors(void **state)
{
    fixture *x = *state;
    DLTensor *t[3] = {x->a, x->b, x->c};
    expect_error(x->f, t, 2, "matmul_64: expected 3 arguments (A, B, C), got 2");

    int64_t small[2] = {32, 64};
    DLTensor b = *x->b;
    b.shape = small;
    DLTensor *ts[3] = {x->a, &b, x->c};
    expect_error(x->f, ts, 3, "matmul_64: argument 1 (B) has shape [32, 64], expected [64, 64]");

    DLTensor c = *x->c;
    c.dtype = (DLDataType){kDLFloat, 64, 1};
    DLTensor *td[3] = {x->a, x->b, &c};
    expect_error(x->f, td, 3, "matmul_64: argument 2 (C) has dtype float64, expected float32");
    c.dtype = (DLDataType){kDLInt, 32, 4};
    expect_error(x->f, td, 3, "matmul_64: argument 2 (C) has dtype int32x4, expected float32");

    DLTensor a = *x->a;
    a.ndim = 1;
    DLTensor *tn[3] = {&a, x->b, x->c};
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A) has 1 dimensions, expected 2");
    a = *x->a;
    a.device.device_type = kDLCUDA;
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A) is on device type 2, expected CPU (1)");
    a = *x->a;
    int64_t transposed[2] = {1, N};
    a.strides = transposed;
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A) is not compact");
    a = *x->a;
    a.shape = NULL;
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A) has a NULL shape");
    a = *x->a;
    a.data = NULL;
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A) has NULL data");
    a = *x->a;
    a.byte_offset = 4;
    expect_error(x->f, tn, 3, "matmul_64: argument 0 (A): data is not 64-byte aligned");

    tt_value args[3] = {{.v_handle = x->a}, {.v_int64 = 5}, {.v_handle = x->c}};
    int codes[3] = {TT_NDARRAY, TT_INT, TT_NDARRAY};
    tt_value ret;
    int ret_code;
    assert_int_equal(tt_func_call(x->f, args, codes, 3, &ret, &ret_code), -1);
    assert_non_null(strstr(tt_get_last_error(),
                           "matmul_64: argument 1 (B) has type code 0, expected a DLTensor (7) or "
                           "an NDArray (13)"));
    args[1].v_handle = NULL;
    codes[1] = TT_DLTENSOR;
    assert_int_equal(tt_func_call(x->f, args, codes, 3, &ret, &ret_code), -1);
    assert_non_null(strstr(tt_get_last_error(), "argument 1 (B) is a NULL tensor"));
}

static void lookup_and_lifetime(void **state)
{
    fixture *x = *state;
    assert_non_null(tt_codegen_jit_lookup(x->mod, "matmul_64"));
    assert_null(tt_codegen_jit_lookup(x->mod, "nope"));
    assert_non_null(strstr(tt_get_last_error(), "no kernel named \"nope\""));
    tt_func g = (tt_func)1;
    assert_int_equal(tt_mod_get_function(x->mod, "nope", 0, &g), 0);
    assert_null(g);
    assert_string_equal(tt_mod_format(x->mod), "jit");

    /* a function keeps the JIT code alive after its module is freed */
    tt_kernel *k = matmul_naive("mm_small", 5, 6, 7, TT_FOR_SERIAL, TT_FOR_VECTORIZED);
    tt_module m = jit_one(k);
    tt_kernel_release(k);
    tt_func f;
    assert_int_equal(tt_mod_get_function(m, "mm_small", 0, &f), 0);
    assert_non_null(f);
    assert_int_equal(tt_mod_free(m), 0);
    DLTensor *t[3];
    int64_t sa[2] = {5, 7}, sb[2] = {7, 6}, sc[2] = {5, 6};
    DLDevice cpu = {kDLCPU, 0};
    assert_int_equal(tt_array_alloc(sa, 2, TT_DT_F32, cpu, &t[0]), 0);
    assert_int_equal(tt_array_alloc(sb, 2, TT_DT_F32, cpu, &t[1]), 0);
    assert_int_equal(tt_array_alloc(sc, 2, TT_DT_F32, cpu, &t[2]), 0);
    fill_random(t[0]->data, 35, 3);
    fill_random(t[1]->data, 42, 4);
    assert_int_equal(call(f, t, 3, TT_NDARRAY), 0);
    float ref[30];
    matmul_ref(t[0]->data, t[1]->data, ref, 5, 6, 7);
    assert_true(max_abs_diff(t[2]->data, ref, 30) < 1e-5);
    for (int i = 0; i < 3; i++)
        tt_array_free(t[i]);
    tt_func_free(f);
}

/* A kernel of the one parameter x (the caller keeps its reference). */
static tt_kernel *kernel1(const char *name, tt_buffer *x, tt_stmt *body)
{
    tt_object_retain((tt_object *)x);
    return kernel(name, 1, &x, body);
}

static void codegen_errors(void **state)
{
    tt_target *host, *arm;
    assert_int_equal(tt_target_parse("llvm", &host), 0);
    assert_int_equal(tt_target_parse("llvm -mtriple=aarch64-linux-gnu", &arm), 0);
    tt_kernel *k = matmul_naive("mm", 4, 4, 4, TT_FOR_SERIAL, TT_FOR_SERIAL);
    tt_module m = (tt_module)1;

    assert_int_equal(tt_codegen_jit(&k, 1, arm, &m), -1);
    assert_null(m);
    assert_non_null(strstr(tt_get_last_error(), "is not this host"));
    assert_int_equal(tt_codegen_jit(&k, 0, host, &m), -1);
    assert_non_null(strstr(tt_get_last_error(), "at least one kernel"));
    tt_kernel *twice[2] = {k, k};
    assert_int_equal(tt_codegen_jit(twice, 2, host, &m), -1);
    assert_non_null(strstr(tt_get_last_error(), "kernel mm: name used twice"));

    /* an unknown math function and an ACCESS node are errors, not crashes */
    tt_buffer *x = buf1("x", TT_DT_F32, 4, TT_SCOPE_GLOBAL);
    tt_expr *v = var("v");
    tt_stmt *body = loop(v, 4, TT_FOR_SERIAL, st(x, V(v), call1("pow", ld(x, V(v)))));
    tt_kernel *bad = kernel1("bad_call", x, body);
    assert_int_equal(tt_codegen_jit(&bad, 1, host, &m), -1);
    assert_non_null(strstr(tt_get_last_error(), "kernel bad_call: unknown function \"pow\""));
    tt_kernel_release(bad);

    int64_t four = 4;
    tt_tensor *tensor = tt_tensor_new("T", TT_DT_F32, 1, &four);
    tt_expr *acc = tt_expr_access(tensor, 1, &v);
    body = loop(v, 4, TT_FOR_SERIAL, st(x, V(v), acc));
    bad = kernel1("bad_access", x, body);
    char *text = NULL;
    assert_int_equal(tt_codegen_emit_text(&bad, 1, host, TT_EMIT_LLVM, &text), -1);
    assert_null(text);
    assert_non_null(strstr(tt_get_last_error(), "kernel bad_access: access node in loop IR"));
    tt_kernel_release(bad);
    tt_tensor_release(tensor);

    /* a variable used outside its loop */
    tt_expr *w = var("w");
    body = seq(2, loop(v, 4, TT_FOR_SERIAL, st(x, V(v), F(1))), st(x, V(w), F(2)));
    bad = kernel1("bad_scope", x, body);
    assert_int_equal(tt_codegen_emit_text(&bad, 1, host, TT_EMIT_LLVM, &text), -1);
    assert_non_null(strstr(tt_get_last_error(), "kernel bad_scope: variable w is used outside"));
    tt_kernel_release(bad);
    tt_expr_release(w);
    tt_expr_release(v);
    tt_buffer_release(x);

    assert_int_equal(tt_codegen_emit_text(&k, 1, host, TT_EMIT_OBJ, &text), -1);
    assert_non_null(strstr(tt_get_last_error(), "is not text"));
    assert_null(tt_codegen_jit_lookup(NULL, "mm"));
    tt_kernel_release(k);
    tt_target_free(host);
    tt_target_free(arm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(call_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(lookup_and_lifetime, setup, teardown),
        cmocka_unit_test(codegen_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
