/* tuner/tune_progress.c: the progress line and the summary table. */
#include <math.h>
#include <stdlib.h>

#include "tt/tune.h"
#include "tune_test.h"
#include "tuner/tune_internal.h"

static void test_durations(void **state)
{
    (void)state;
    char b[32];
    tt_tune_format_duration(0, b, sizeof b);
    assert_string_equal(b, "0:00");
    tt_tune_format_duration(65.4, b, sizeof b);
    assert_string_equal(b, "1:05");
    tt_tune_format_duration(3723, b, sizeof b);
    assert_string_equal(b, "1:02:03");
    tt_tune_format_duration(-1, b, sizeof b);
    assert_string_equal(b, "--");
    tt_tune_format_duration(INFINITY, b, sizeof b);
    assert_string_equal(b, "--");
    tt_tune_format_duration(NAN, b, sizeof b);
    assert_string_equal(b, "--");
}

static void test_progress_line(void **state)
{
    (void)state;
    char b[256];
    tt_tune_progress p = {.task = 1,
                          .ntasks = 2,
                          .name = "matmul_64x64x64_f32",
                          .done = 12,
                          .asked = 16,
                          .best_gflops = 35.24,
                          .rate = 3.14,
                          .eta_s = 2};
    tt_tune_progress_format(&p, b, sizeof b);
    assert_string_equal(b, "task 1/2 matmul_64x64x64_f32 | trials 12/16 | best 35.2 GFLOPS | "
                           "3.1 trials/s | ETA 0:02");
    p.best_gflops = 0;
    p.rate = 0;
    p.eta_s = -1;
    tt_tune_progress_format(&p, b, sizeof b);
    assert_string_equal(b, "task 1/2 matmul_64x64x64_f32 | trials 12/16 | best -- GFLOPS | "
                           "-- trials/s | ETA --");
    char small[10];
    tt_tune_progress_format(&p, small, sizeof small);
    assert_string_equal(small, "task 1/2 ");
}

static void test_summary(void **state)
{
    (void)state;
    tt_tune_task_result tasks[2] = {
        {.name = "matmul_64x64x64_f32",
         .trials = 12,
         .errors = 1,
         .best_cost = 2e-5,
         .best_gflops = 26.2144,
         .end = TT_TUNE_TASK_BUDGET},
        {.name = "x",
         .trials = 4,
         .errors = 4,
         .best_cost = INFINITY,
         .end = TT_TUNE_TASK_TOO_MANY_ERRORS},
    };
    tt_tune_result r = {.ntasks = 2, .tasks = tasks};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tt_tune_print_summary(&r, f);
    fclose(f);
    assert_contains(text, "task                  trials  errors   best GFLOPS     best ms  status");
    assert_contains(text, "matmul_64x64x64_f32       12       1         26.21        0.02  done");
    assert_contains(text, "x                          4       4            --          --  "
                          "too many errors");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
