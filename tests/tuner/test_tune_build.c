/* tuner/tune_build.c: the TT_FAULT_INJECT spec, the loop IR faults (checked in the interpreter
 * and for real: built with the tuner's build callback, run by the local runner, which must report
 * the error code each fault stands for) and the build faults. */
#include <math.h>
#include <stdlib.h>

#include "ir/interp.h"
#include "ir/lower.h"
#include "ir/opjson.h"
#include "measure/measure.h"
#include "tune_test.h"
#include "tuner/tune_internal.h"

static void test_parse(void **state)
{
    (void)state;
    tt_tune_faults f;
    assert_int_equal(tt_tune_faults_parse(NULL, &f), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(tt_tune_faults_for(&f, 0), 0);
    tt_tune_faults_free(&f);
    assert_int_equal(tt_tune_faults_parse("segv@3,hang@5,wrong@3,build_crash@0,build_error@12", &f),
                     0);
    assert_int_equal(f.n, 5);
    assert_int_equal(tt_tune_faults_for(&f, 3), TT_FAULT_SEGV | TT_FAULT_WRONG);
    assert_int_equal(tt_tune_faults_for(&f, 5), TT_FAULT_HANG);
    assert_int_equal(tt_tune_faults_for(&f, 0), TT_FAULT_BUILD_CRASH);
    assert_int_equal(tt_tune_faults_for(&f, 12), TT_FAULT_BUILD_ERROR);
    assert_int_equal(tt_tune_faults_for(&f, 4), 0);
    tt_tune_faults_free(&f);
    static const char *bad[] = {"segv", "boom@1", "segv@x", "segv@-1", "segv@1x", "@1", "segv@"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_fails_with(tt_tune_faults_parse(bad[i], &f), "expected KIND@TRIAL");
        assert_int_equal(f.n, 0);
    }
}

typedef struct {
    tt_opfile *file;
    tt_kernel *k;
    tt_target *target;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_int_equal(tt_opfile_parse_string("{\"op\": \"matmul\", \"M\": 8, \"N\": 8, \"K\": 8}",
                                            "mm.json", &fx->file),
                     0);
    assert_int_equal(tt_lower(fx->file->tasks[0].compute, NULL, fx->file->tasks[0].name, &fx->k),
                     0);
    assert_int_equal(tt_target_parse("llvm", &fx->target), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tt_kernel_release(fx->k);
    tt_target_free(fx->target);
    tt_opfile_free(fx->file);
    free(fx);
    return 0;
}

static void interp(tt_kernel *k, float *out)
{
    float a[64], b[64];
    for (int i = 0; i < 64; i++) {
        a[i] = (float)(i % 7) - 3;
        b[i] = (float)(i % 5) - 2;
        out[i] = NAN;
    }
    void *args[3] = {a, b, out};
    assert_int_equal(tt_kernel_interp(k, args), 0);
}

static void test_inject_ir(void **state)
{
    fixture *fx = *state;
    tt_kernel *k = NULL;
    assert_int_equal(tt_tune_inject(fx->k, 0, &k), 0);
    assert_ptr_equal(k, fx->k);
    tt_kernel_release(k);
    assert_int_equal(tt_tune_inject(fx->k, TT_FAULT_BUILD_CRASH, &k), 0);
    assert_ptr_equal(k, fx->k);
    tt_kernel_release(k);

    float good[64], wrong[64];
    interp(fx->k, good);
    assert_int_equal(tt_tune_inject(fx->k, TT_FAULT_WRONG, &k), 0);
    interp(k, wrong);
    for (int i = 0; i < 64; i++)
        assert_true(wrong[i] - good[i] >= 1.0f); /* every store of C added 1 */
    tt_kernel_release(k);

    assert_int_equal(tt_tune_inject(fx->k, TT_FAULT_SEGV, &k), 0);
    assert_int_equal(k->body->kind, TT_STMT_SEQ);
    int64_t idx = 0;
    assert_true(tt_expr_is_const(k->body->stmts[0]->index, &idx));
    assert_true(idx == (int64_t)1 << 40);
    float out[64], a[64] = {0}, b[64] = {0};
    void *args[3] = {a, b, out};
    assert_fails_with(tt_kernel_interp(k, args), "1099511627776");
    tt_kernel_release(k);

    assert_int_equal(tt_tune_inject(fx->k, TT_FAULT_HANG, &k), 0);
    assert_int_equal(k->body->kind, TT_STMT_FOR);
    assert_true(tt_expr_is_const(k->body->extent, &idx));
    assert_true(idx == INT64_MAX);
    assert_ptr_equal(k->body->body, fx->k->body);
    tt_kernel_release(k);
}

/* Builds the kernel with kinds injected, runs it, returns the measurement's error code. */
static int build_and_run(fixture *fx, int kinds, char *msg, size_t len)
{
    tt_kernel *k = NULL;
    assert_int_equal(tt_tune_inject(fx->k, kinds, &k), 0);
    tt_tune_build_item item = {.kernel = k, .target = fx->target, .faults = kinds};
    tt_build_job job = {.build = tt_tune_build, .ctx = &item};
    tt_build_result br;
    assert_int_equal(tt_builder_run(&job, 1, 1, 60, &br), 0);
    tt_kernel_release(k);
    if (br.error != TT_OUTCOME_OK) {
        snprintf(msg, len, "%s", br.error_msg);
        tt_builder_cleanup(&br, 1);
        return br.error;
    }
    /* The reference: the same kernel without faults, computed in the runner's way. */
    float ref[64];
    const tt_task *task = &fx->file->tasks[0];
    tt_measure_tensor args[3];
    for (int i = 0; i < 3; i++)
        args[i] = (tt_measure_tensor){.ndim = 2, .shape = {8, 8}, .dtype = {kDLFloat, 32, 1}};
    tt_run_request req = {.lib_path = br.path,
                          .func_name = task->name,
                          .args = args,
                          .n_args = 3,
                          .seed = 1,
                          /* Only a hang needs a short limit; the others end by themselves, and
                           * a short one would fail them on a slow or loaded machine. */
                          .timeout_s = kinds & TT_FAULT_HANG ? 2 : 60};
    tt_timing_opts_default(&req.timing);
    req.timing.min_repeat_ms = 1;
    req.timing.repeat = 2;
    tt_run_result rr;
    if (kinds == 0) {
        assert_int_equal(tt_runner_local_reference(&req, ref, sizeof ref, &rr), 0);
        assert_int_equal(rr.error, 0);
    } else {
        /* Computed by the interpreter on the runner's inputs. */
        float a[64], b[64];
        DLTensor ta = {
            .data = a, .ndim = 2, .dtype = {kDLFloat, 32, 1}, .shape = (int64_t[]){8, 8}};
        DLTensor tb = ta;
        tb.data = b;
        assert_int_equal(tt_measure_fill_random(&ta, 1, 0), 0);
        assert_int_equal(tt_measure_fill_random(&tb, 1, 1), 0);
        void *iargs[3] = {a, b, ref};
        assert_int_equal(tt_kernel_interp(fx->k, iargs), 0);
    }
    req.ref_output = ref;
    req.ref_nbytes = sizeof ref;
    assert_int_equal(tt_runner_local_run(&req, &rr), 0);
    tt_builder_cleanup(&br, 1);
    snprintf(msg, len, "%s", rr.error_msg);
    return rr.error;
}

static void test_faults_for_real(void **state)
{
    fixture *fx = *state;
    char msg[TT_BUILD_MSG_LEN];
    assert_int_equal(build_and_run(fx, 0, msg, sizeof msg), TT_OUTCOME_OK);
    assert_int_equal(build_and_run(fx, TT_FAULT_WRONG, msg, sizeof msg), TT_OUTCOME_WRONG_ANSWER);
    assert_contains(msg, "relative error");
    assert_int_equal(build_and_run(fx, TT_FAULT_SEGV, msg, sizeof msg), TT_OUTCOME_RUNTIME_ERROR);
    assert_contains(msg, "signal 11");
    assert_int_equal(build_and_run(fx, TT_FAULT_HANG, msg, sizeof msg), TT_OUTCOME_RUN_TIMEOUT);
    assert_int_equal(build_and_run(fx, TT_FAULT_BUILD_ERROR, msg, sizeof msg),
                     TT_OUTCOME_COMPILE_ERROR);
    assert_contains(msg, "injected build error");
    assert_int_equal(build_and_run(fx, TT_FAULT_BUILD_CRASH, msg, sizeof msg),
                     TT_OUTCOME_COMPILE_ERROR);
    assert_contains(msg, "build crashed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_inject_ir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_for_real, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
