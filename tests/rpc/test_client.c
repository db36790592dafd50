/* Tests runtime/rpc/client.c against the real tvm-tune-rpc (forked here, port 0, stopped with
 * SIGTERM in the group teardown): the C API end to end (connect, upload, load_module, remote
 * arrays, a kernel checked against a naive loop, the time evaluator, device_info, the "rpc"
 * loader), the error paths a C caller sees (wrong key, local arrays passed to a remote function,
 * missing functions, a crashing kernel, a call past its timeout) and that the server serves on.
 * Runs in the sanitizer build too, so client and server code run under ASan/UBSan here. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tt/rpc.h"
#include "tt_test_rpc.h"

static char dir[64], key[128], work[128];
static pid_t server = -1;
static int port;

static void expect_in(const char *msg, const char *fragment)
{
    if (strstr(msg, fragment) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", msg, fragment);
}

static int start_server(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/tt_rpc_client_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(key, sizeof key, "%s/dev.key", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    if (tt_rpc_keygen(key) != 0 || mkdir(work, 0700) != 0)
        return -1;
    return tt_test_start_rpc_server(TT_RPC_SERVER, 0, key, work, NULL, &server, &port);
}

static int stop_server(void **state)
{
    int status = 0;
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, &status, 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return -1;
    /* A clean stop: exit 0 (under ASan, also no leak in the server). */
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static tt_module connect_ok(void)
{
    tt_module s = NULL;
    if (tt_rpc_connect("127.0.0.1", port, key, 30, &s) != 0)
        fail_msg("connect: %s", tt_get_last_error());
    return s;
}

static void run_vadd(void **state)
{
    tt_module s = connect_ok();
    assert_string_equal(tt_mod_format(s), "rpc");
    char *info;
    assert_int_equal(tt_rpc_device_info(s, &info), 0);
    expect_in(info, "\"runtime_version\": \"" TT_VERSION "\"");
    free(info);
    if (tt_rpc_upload(s, TT_RPC_KERNELS, "kernels.so") != 0)
        fail_msg("upload: %s", tt_get_last_error());
    tt_module m;
    assert_int_equal(tt_rpc_load_module(s, "kernels.so", &m), 0);
    tt_func vadd;
    assert_int_equal(tt_mod_get_function(m, "vadd", 0, &vadd), 0);
    assert_non_null(vadd);
    tt_func none;
    assert_int_equal(tt_mod_get_function(m, "no_such_kernel", 0, &none), 0);
    assert_null(none);

    enum { N = 1000 };
    int64_t shape[1] = {N};
    DLDataType f32 = {kDLFloat, 32, 1};
    DLDevice cpu = {kDLCPU, 0};
    DLTensor *x, *y, *z;
    assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &x), 0);
    assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &y), 0);
    assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &z), 0);
    for (int i = 0; i < N; i++) {
        ((float *)x->data)[i] = (float)i;
        ((float *)y->data)[i] = 0.5f * (float)i;
    }
    tt_object *a, *b, *c;
    assert_int_equal(tt_rpc_array_alloc(s, shape, 1, f32, &a), 0);
    assert_int_equal(tt_rpc_array_alloc(s, shape, 1, f32, &b), 0);
    assert_int_equal(tt_rpc_array_alloc(s, shape, 1, f32, &c), 0);
    assert_int_equal(tt_rpc_array_copy_from(a, x), 0);
    assert_int_equal(tt_rpc_array_copy_from(b, y), 0);
    tt_value args[3] = {{.v_handle = a}, {.v_handle = b}, {.v_handle = c}};
    int codes[3] = {TT_OBJECT, TT_OBJECT, TT_OBJECT};
    if (tt_func_call(vadd, args, codes, 3, NULL, NULL) != 0)
        fail_msg("vadd: %s", tt_get_last_error());
    assert_int_equal(tt_rpc_array_copy_to(c, z), 0);
    for (int i = 0; i < N; i++)
        assert_true(((float *)z->data)[i] == 1.5f * (float)i); /* exact in float32 here */

    double costs[3];
    int64_t number = 0;
    int n_costs = 0;
    tt_rpc_timing timing = {.number = 1, .repeat = 3, .min_repeat_ms = 1.0, .flush_cache = 1};
    assert_int_equal(tt_rpc_time_evaluate(vadd, &timing, args, codes, 3, costs, &n_costs, &number),
                     0);
    assert_int_equal(n_costs, 3);
    /* the grown number comes back: a repeat of `number` runs lasted about min_repeat_ms (the
     * calibration batch at least that; half of it leaves room for a faster repeat) */
    assert_true(number >= 1);
    for (int i = 0; i < 3; i++)
        assert_true(costs[i] > 0);
    assert_true((double)number * costs[1] >= 0.5e-3);

    /* Local arrays cannot be passed to a device; the message says what to do. */
    tt_value local[3] = {{.v_handle = x}, {.v_handle = y}, {.v_handle = z}};
    int lcodes[3] = {TT_NDARRAY, TT_NDARRAY, TT_NDARRAY};
    assert_int_equal(tt_func_call(vadd, local, lcodes, 3, NULL, NULL), -1);
    expect_in(tt_get_last_error(), "argument 0 is a local array");
    /* A remote error carries the device's message; the session goes on. */
    assert_int_equal(tt_func_call(vadd, args, codes, 2, NULL, NULL), -1);
    expect_in(tt_get_last_error(), "vadd: 2 arguments, expected 3");
    assert_int_equal(tt_func_call(vadd, args, codes, 3, NULL, NULL), 0);
    /* A remote global by name, through the plain Module ABI. */
    tt_func scale;
    assert_int_equal(tt_mod_get_function(m, "scale", 0, &scale), 0);
    tt_value v = {.v_float64 = 2.25}, r;
    int vc = TT_FLOAT, rc;
    assert_int_equal(tt_func_call(scale, &v, &vc, 1, &r, &rc), 0);
    assert_int_equal(rc, TT_FLOAT);
    assert_true(r.v_float64 == 4.5);

    tt_func_free(scale);
    tt_object_release(a);
    tt_object_release(b);
    tt_object_release(c);
    tt_array_free(x);
    tt_array_free(y);
    tt_array_free(z);
    tt_func_free(vadd);
    tt_mod_free(m);
    tt_mod_free(s);
}

/* rpc.array_alloc_guarded: a guarded array works like any other (copies, a kernel), the
 * session keeps at most 64, and the 65th is refused with a message. */
static void guarded_arrays(void **state)
{
    tt_module s = connect_ok();
    tt_func alloc;
    assert_int_equal(tt_mod_get_function(s, "rpc.array_alloc_guarded", 0, &alloc), 0);
    assert_non_null(alloc);
    assert_int_equal(tt_rpc_upload(s, TT_RPC_KERNELS, "kernels.so"), 0);
    tt_module m;
    assert_int_equal(tt_rpc_load_module(s, "kernels.so", &m), 0);
    tt_func vadd;
    assert_int_equal(tt_mod_get_function(m, "vadd", 0, &vadd), 0);

    enum { N = 1024 + 5 };
    DLDataType f32 = {kDLFloat, 32, 1};
    tt_value aargs[2] = {{.v_type = f32}, {.v_int64 = N}};
    int acodes[2] = {TT_DTYPE, TT_INT};
    tt_value arr[3];
    int codes[3];
    for (int i = 0; i < 3; i++) {
        if (tt_func_call(alloc, aargs, acodes, 2, &arr[i], &codes[i]) != 0)
            fail_msg("array_alloc_guarded: %s", tt_get_last_error());
        assert_int_equal(codes[i], TT_OBJECT);
    }
    int64_t shape[1] = {N};
    DLTensor *x, *z;
    assert_int_equal(tt_array_alloc(shape, 1, f32, (DLDevice){kDLCPU, 0}, &x), 0);
    assert_int_equal(tt_array_alloc(shape, 1, f32, (DLDevice){kDLCPU, 0}, &z), 0);
    for (int i = 0; i < N; i++)
        ((float *)x->data)[i] = (float)i;
    assert_int_equal(tt_rpc_array_copy_from(arr[0].v_handle, x), 0);
    assert_int_equal(tt_rpc_array_copy_from(arr[1].v_handle, x), 0);
    if (tt_func_call(vadd, arr, codes, 3, NULL, NULL) != 0)
        fail_msg("vadd: %s", tt_get_last_error());
    assert_int_equal(tt_rpc_array_copy_to(arr[2].v_handle, z), 0);
    for (int i = 0; i < N; i++)
        assert_true(((float *)z->data)[i] == 2.0f * (float)i);
    for (int i = 0; i < 3; i++)
        tt_object_release(arr[i].v_handle);

    tt_value v;
    int vc, made = 3;
    while (made < 64 && tt_func_call(alloc, aargs, acodes, 2, &v, &vc) == 0) {
        tt_object_release(v.v_handle);
        made++;
    }
    assert_int_equal(made, 64);
    assert_int_equal(tt_func_call(alloc, aargs, acodes, 2, &v, &vc), -1);
    expect_in(tt_get_last_error(), "64 guarded arrays already in this session");

    tt_array_free(x);
    tt_array_free(z);
    tt_func_free(vadd);
    tt_func_free(alloc);
    tt_mod_free(m);
    tt_mod_free(s);
}

static void loader_and_refusals(void **state)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    setenv("TT_RPC_KEY_FILE", key, 1);
    tt_module s;
    if (tt_mod_load_from_file(addr, "rpc", &s) != 0)
        fail_msg("rpc loader: %s", tt_get_last_error());
    tt_func info;
    assert_int_equal(tt_mod_get_function(s, "rpc.device_info", 0, &info), 0);
    tt_value r;
    int rc;
    assert_int_equal(tt_func_call(info, NULL, NULL, 0, &r, &rc), 0);
    assert_int_equal(rc, TT_STR);
    expect_in(r.v_str, "\"triple\"");
    tt_func_free(info);
    assert_int_equal(tt_rpc_close(s), 0);
    assert_int_equal(tt_rpc_upload(s, TT_RPC_KERNELS, "k.so"), -1);
    expect_in(tt_get_last_error(), "closed");
    tt_mod_free(s);
    unsetenv("TT_RPC_KEY_FILE");

    char other[160];
    snprintf(other, sizeof other, "%s/other.key", dir);
    assert_int_equal(tt_rpc_keygen(other), 0);
    assert_int_equal(tt_rpc_connect("127.0.0.1", port, other, 30, &s), -1);
    expect_in(tt_get_last_error(), "authentication failed");
    assert_null(s);
}

static void crash_then_serve(void **state)
{
    tt_module s = connect_ok();
    assert_int_equal(tt_rpc_upload(s, TT_RPC_KERNELS, "kernels.so"), 0);
    tt_module m;
    assert_int_equal(tt_rpc_load_module(s, "kernels.so", &m), 0);
    tt_func crash;
    assert_int_equal(tt_mod_get_function(m, "crash", 0, &crash), 0);
    assert_int_equal(tt_func_call(crash, NULL, NULL, 0, NULL, NULL), -1);
    expect_in(tt_get_last_error(), "session process on the device ended");
    tt_func_free(crash);
    tt_mod_free(m);
    tt_mod_free(s);
    s = connect_ok();
    char *info;
    assert_int_equal(tt_rpc_device_info(s, &info), 0);
    free(info);
    tt_mod_free(s);
}

/* A call that does not answer within the session's call timeout fails with "timeout" and ends
 * the session; the server goes on (its own session timeout reclaims the spinning process). */
static void call_timeout(void **state)
{
    tt_module s = connect_ok();
    assert_int_equal(tt_rpc_upload(s, TT_RPC_KERNELS, "kernels.so"), 0);
    tt_module m;
    assert_int_equal(tt_rpc_load_module(s, "kernels.so", &m), 0);
    tt_func spin;
    assert_int_equal(tt_mod_get_function(m, "spin", 0, &spin), 0);
    assert_int_equal(tt_rpc_set_timeout(s, 0.5), 0);
    assert_int_equal(tt_func_call(spin, NULL, NULL, 0, NULL, NULL), -1);
    expect_in(tt_get_last_error(), "rpc: timeout");
    char *info;
    assert_int_equal(tt_rpc_device_info(s, &info), -1);
    expect_in(tt_get_last_error(), "closed");
    tt_func_free(spin);
    tt_mod_free(m);
    tt_mod_free(s);
    s = connect_ok();
    assert_int_equal(tt_rpc_device_info(s, &info), 0);
    free(info);
    tt_mod_free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_vadd),
        cmocka_unit_test(guarded_arrays),
        cmocka_unit_test(loader_and_refusals),
        cmocka_unit_test(crash_then_serve),
        cmocka_unit_test(call_timeout),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
