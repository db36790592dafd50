/* Tests measure/runner_local.c against the fault-injecting kernel libraries of faults/: a correct
 * kernel is checked and timed; a crash, an error, a wrong answer, a hang, a bad library each give
 * their error code and message; the timeout and the early stop are honoured. No check depends on
 * how fast the machine is: times are bounded below or compared with each other (a timed batch
 * fits in the run that holds it), and only a kernel that never ends gets a short timeout. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "measure_test.h"
#include "tt/backend.h"

#define N 1024

typedef struct {
    tt_measure_tensor args[3];
    float expected[N];
    tt_run_request req;
} vadd_case;

/* A request for "vadd" of lib on N floats, checked against a + b computed here from the same
 * seeded inputs the child will make. */
static void vadd_request(vadd_case *c, const char *lib, const char *func)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 3; i++)
        c->args[i] = (tt_measure_tensor){.ndim = 1, .shape = {N}, .dtype = {kDLFloat, 32, 1}};
    DLTensor *a = NULL, *b = NULL;
    int64_t n = N;
    DLDevice cpu = {kDLCPU, 0};
    assert_int_equal(tt_array_alloc(&n, 1, c->args[0].dtype, cpu, &a), 0);
    assert_int_equal(tt_array_alloc(&n, 1, c->args[1].dtype, cpu, &b), 0);
    assert_int_equal(tt_measure_fill_random(a, 1234, 0), 0);
    assert_int_equal(tt_measure_fill_random(b, 1234, 1), 0);
    for (int i = 0; i < N; i++)
        c->expected[i] = ((float *)a->data)[i] + ((float *)b->data)[i];
    tt_array_free(a);
    tt_array_free(b);
    c->req.lib_path = lib;
    c->req.func_name = func;
    c->req.args = c->args;
    c->req.n_args = 3;
    c->req.seed = 1234;
    c->req.ref_output = c->expected;
    c->req.ref_nbytes = sizeof c->expected;
    c->req.timeout_s = 10;
    c->req.num_threads = 1;
    tt_timing_opts_default(&c->req.timing);
    c->req.timing.min_repeat_ms = 5;
}

static void run(const tt_run_request *req, tt_run_result *r)
{
    if (tt_runner_local_run(req, r) != 0)
        fail_msg("tt_runner_local_run: %s", tt_get_last_error());
}

static void expect_error(const tt_run_result *r, int error, const char *fragment)
{
    if (r->error != error)
        fail_msg("error %d (\"%s\"), expected %d", r->error, r->error_msg, error);
    assert_contains(r->error_msg, fragment);
}

static void test_good_vadd(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_string_equal(r.error_msg, "");
    assert_int_equal(r.timing.n_costs, 3);
    assert_int_equal(r.timing.pruned, 0);
    /* About a microsecond per call: number must have grown for a repeat to last 5 ms. */
    assert_true(r.timing.number > 1);
    /* Every repeat runs the calls that made one batch last 5 ms (that batch may have been a
     * disturbed one, replaced: docs/ARCHITECTURE.md, "Measurement"). */
    double longest = 0;
    for (int i = 0; i < r.timing.n_costs; i++)
        longest = r.timing.costs[i] > longest ? r.timing.costs[i] : longest;
    assert_true(r.timing.number * longest >= 2.5e-3);
    /* Costs are seconds per call: the three timed batches fit in the run the parent timed. */
    double timed = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(r.timing.costs[i] > 0);
        timed += r.timing.number * r.timing.costs[i];
    }
    if (!(timed <= r.elapsed_s))
        fail_msg("batches of %g s in a run of %g s", timed, r.elapsed_s);
}

/* The reference can be a kernel of another library (here a second copy of matmul); the check
 * fails when the expected output is wrong instead. */
static void test_matmul_with_reference_kernel(void **state)
{
    tt_measure_tensor args[3] = {
        {.ndim = 2, .shape = {16, 24}, .dtype = {kDLFloat, 32, 1}},
        {.ndim = 2, .shape = {24, 8}, .dtype = {kDLFloat, 32, 1}},
        {.ndim = 2, .shape = {16, 8}, .dtype = {kDLFloat, 32, 1}},
    };
    tt_run_request req = {.lib_path = TT_FAULT_GOOD,
                          .func_name = "matmul",
                          .args = args,
                          .n_args = 3,
                          .seed = 5,
                          .ref_lib_path = TT_FAULT_GOOD,
                          .ref_func_name = "matmul_ref",
                          .timeout_s = 10};
    tt_timing_opts_default(&req.timing);
    req.timing.min_repeat_ms = 2;
    req.timing.repeat = 4;
    req.timing.flush_cache = 1;
    tt_run_result r;
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_int_equal(r.timing.n_costs, 4);

    float zeros[16 * 8] = {0};
    req.ref_lib_path = req.ref_func_name = NULL;
    req.ref_output = zeros;
    req.ref_nbytes = sizeof zeros;
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "max relative error");

    /* A failing reference is not the candidate's fault: unknown error, named as the reference. */
    req.ref_output = NULL;
    req.ref_lib_path = TT_FAULT_ERROR;
    req.ref_func_name = "vadd";
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_UNKNOWN_ERROR, "reference kernel failed: vadd: injected failure");
    req.ref_func_name = "absent";
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_UNKNOWN_ERROR, "reference: ");
    assert_contains(r.error_msg, "has no kernel \"absent\"");
}

/* The reference output computed once in a child (tt_runner_local_reference) is the same a + b
 * the test computes, and then checks a candidate; a broken reference kernel is an error. */
static void test_reference_output(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    float got[N];
    tt_run_result r;
    memset(got, 0, sizeof got);
    assert_int_equal(tt_runner_local_reference(&c.req, got, sizeof got, &r), 0);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_memory_equal(got, c.expected, sizeof got);
    assert_int_equal(r.timing.n_costs, 0); /* not timed */

    /* A reference for matmul made by one library checks the matmul of another run. */
    tt_measure_tensor args[3] = {
        {.ndim = 2, .shape = {9, 7}, .dtype = {kDLFloat, 32, 1}},
        {.ndim = 2, .shape = {7, 5}, .dtype = {kDLFloat, 32, 1}},
        {.ndim = 2, .shape = {9, 5}, .dtype = {kDLFloat, 32, 1}},
    };
    tt_run_request req = {.lib_path = TT_FAULT_GOOD,
                          .func_name = "matmul_ref",
                          .args = args,
                          .n_args = 3,
                          .seed = 77,
                          .timeout_s = 10};
    float ref[9 * 5];
    assert_int_equal(tt_runner_local_reference(&req, ref, sizeof ref, &r), 0);
    expect_error(&r, TT_OUTCOME_OK, "");
    tt_timing_opts_default(&req.timing);
    req.timing.min_repeat_ms = 1;
    req.func_name = "matmul";
    req.ref_output = ref;
    req.ref_nbytes = sizeof ref;
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    req.seed = 78; /* other inputs, same expected output: wrong */
    run(&req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "max relative error");

    /* Failures leave the output alone. */
    vadd_request(&c, TT_FAULT_SEGV, "vadd");
    memset(got, 0, sizeof got);
    assert_int_equal(tt_runner_local_reference(&c.req, got, sizeof got, &r), 0);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "killed by signal 11");
    assert_true(got[0] == 0 && got[N - 1] == 0);
    assert_fails_with(tt_runner_local_reference(&c.req, got, 12, &r),
                      "nbytes = 12, but the output (argument 2) has 4096 bytes");
}

static void test_segfault(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_SEGV, "vadd");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "");
    assert_string_equal(r.error_msg, "killed by signal 11 (Segmentation fault)");
}

static void test_kernel_error(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_ERROR, "vadd");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR,
                 "vadd: injected failure (workspace of 4096 bytes refused)");
}

static void test_wrong_answers(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_WRONG, "vadd");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "max relative error ");
    assert_contains(r.error_msg, " at index 17 (got ");

    c.req.func_name = "vadd_nan";
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "NaN mismatch at index 5 (got nan, expected ");

    /* A kernel that never writes its output leaves the poison (NaN) in it. */
    c.req.func_name = "vadd_lazy";
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "NaN mismatch at index 0 (got nan, expected ");

    /* Unchecked (no reference), the wrong kernel is simply timed. */
    c.req.func_name = "vadd";
    c.req.ref_output = NULL;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_int_equal(r.timing.n_costs, 3);
}

/* The inputs are made once by the runner and shared read-only with every child: a kernel that
 * writes into an input faults (a runtime error) instead of passing its check, and the candidates
 * after it still read the seeded values (a correct kernel passes its check after it). */
static void test_input_written(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_WRONG, "vadd_scribble");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "");
    assert_string_equal(r.error_msg, "killed by signal 11 (Segmentation fault)");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    /* Another seed: other inputs, the expected values computed for them. */
    c.req.seed = 99;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_WRONG_ANSWER, "max relative error ");
}

static void test_timeout(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_HANG, "vadd");
    c.req.timeout_s = 1.0;
    tt_run_result r;
    double start = test_now();
    run(&c.req, &r);
    double elapsed = test_now() - start;
    expect_error(&r, TT_OUTCOME_RUN_TIMEOUT, "");
    assert_string_equal(r.error_msg, "run timed out after 1.0 s");
    /* The kernel never ends, so returning at all says the child was killed; not before the
     * timeout, and the run's own time fits in the call's. */
    if (r.elapsed_s < 1.0 || r.elapsed_s > elapsed)
        fail_msg("a run of %g s in a call of %g s, for a timeout of 1 s", r.elapsed_s, elapsed);
}

static void test_slow_and_pruned(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_SLOW, "vadd");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_int_equal(r.timing.n_costs, 3);
    assert_int_equal(r.timing.number, 1); /* 20 ms a call already passes min_repeat_ms 5 */
    assert_true(r.timing.cost >= 0.02);
    assert_true(r.timing.costs[0] + r.timing.costs[1] + r.timing.costs[2] <= r.elapsed_s);

    /* Against a best of 1 ms it stops after one repeat. */
    c.req.timing.best_so_far = 1e-3;
    c.req.timing.repeat = 10;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_int_equal(r.timing.pruned, 1);
    assert_int_equal(r.timing.n_costs, 1); /* not 10 repeats of 20 ms */
    assert_true(r.timing.cost >= 0.02 && r.timing.cost <= r.elapsed_s);
}

static void test_bad_libraries(void **state)
{
    vadd_case c;
    vadd_request(&c, TT_FAULT_GOOD, "nope");
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "has no kernel \"nope\" (symbol __tt_packed_nope)");

    /* Not a shared library: a text file. */
    const char *src = getenv("TT_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/measure/CMakeLists.txt", src);
    c.req.lib_path = path;
    c.req.func_name = "vadd";
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "cannot load");
    assert_contains(r.error_msg, "CMakeLists.txt");

    c.req.lib_path = "/nonexistent/libnothing.so";
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_RUNTIME_ERROR, "/nonexistent/libnothing.so");
}

/* The test process runs an OpenMP parallel region first, as a tuner does when XGBoost trains;
 * a parallel kernel in the forked child must still run (libgomp's pool does not survive fork). */
static int touch(int64_t begin, int64_t end, void *closure)
{
    return 0;
}

static void test_parallel_after_openmp(void **state)
{
    assert_int_equal(tt_backend_set_num_threads(2), 0);
    assert_int_equal(tt_backend_parallel_for(64, touch, NULL), 0);
    vadd_case c;
    vadd_request(&c, TT_FAULT_GOOD, "vadd_parallel");
    c.req.num_threads = 2;
    c.req.timing.min_repeat_ms = 2;
    tt_run_result r;
    run(&c.req, &r);
    expect_error(&r, TT_OUTCOME_OK, "");
    assert_int_equal(r.timing.n_costs, 3);
    assert_int_equal(tt_backend_parallel_for(64, touch, NULL), 0);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* Every way a run can end closes its pipe and reaps its child. */
static void test_no_leaks(void **state)
{
    int before = open_fds();
    const char *libs[] = {TT_FAULT_GOOD,  TT_FAULT_SEGV,  TT_FAULT_HANG,
                          TT_FAULT_ERROR, TT_FAULT_WRONG, "/nonexistent.so"};
    static const int errors[] = {0, 3, 6, 3, 4, 3};
    for (int i = 0; i < 6; i++) {
        vadd_case c;
        vadd_request(&c, libs[i], "vadd");
        if (errors[i] == TT_OUTCOME_RUN_TIMEOUT)
            c.req.timeout_s = 0.3; /* the others end by themselves within the default 10 s */
        c.req.timing.min_repeat_ms = 1;
        tt_run_result r;
        run(&c.req, &r);
        assert_int_equal(r.error, errors[i]);
    }
    assert_int_equal(open_fds(), before);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_bad_requests(void **state)
{
    vadd_case c;
    tt_run_result r;
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.req.n_args = 0;
    assert_fails_with(tt_runner_local_run(&c.req, &r), "n_args = 0, expected 1..64");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.req.ref_lib_path = TT_FAULT_GOOD;
    c.req.ref_func_name = "vadd";
    assert_fails_with(tt_runner_local_run(&c.req, &r), "expected at most one reference");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.req.ref_nbytes = 12;
    assert_fails_with(tt_runner_local_run(&c.req, &r),
                      "ref_nbytes = 12, but the output (argument 2) has 4096 bytes");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.req.timeout_s = 0;
    assert_fails_with(tt_runner_local_run(&c.req, &r), "timeout_s = 0, expected > 0");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.args[1].dtype.bits = 16;
    assert_fails_with(tt_runner_local_run(&c.req, &r), "argument 1: dtype code 2 bits 16");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.args[0].shape[0] = -3;
    assert_fails_with(tt_runner_local_run(&c.req, &r), "argument 0: extent 0 is -3");
    vadd_request(&c, TT_FAULT_GOOD, "vadd");
    c.req.timing.repeat = 0;
    assert_fails_with(tt_runner_local_run(&c.req, &r), "timing: tt_measure_time: repeat = 0");
    vadd_request(&c, TT_FAULT_GOOD, NULL);
    assert_fails_with(tt_runner_local_run(&c.req, &r), "func_name is empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_vadd),
        cmocka_unit_test(test_matmul_with_reference_kernel),
        cmocka_unit_test(test_reference_output),
        cmocka_unit_test(test_segfault),
        cmocka_unit_test(test_kernel_error),
        cmocka_unit_test(test_wrong_answers),
        cmocka_unit_test(test_input_written),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_slow_and_pruned),
        cmocka_unit_test(test_bad_libraries),
        cmocka_unit_test(test_parallel_after_openmp),
        cmocka_unit_test(test_no_leaks),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
