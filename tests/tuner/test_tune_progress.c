/* tuner/tune_progress.c: the weighted round-robin budget split, the progress line and the
 * summary table. */
#include <math.h>
#include <stdlib.h>

#include "tt/tune.h"
#include "tune_test.h"
#include "tuner/tune_internal.h"

#define S(w, d, a)                                                                                 \
    {                                                                                              \
        .weight = (w), .done = (d), .active = (a), .best = INFINITY                                \
    }

/* Runs the scheduler over a budget as the loop does; returns the picks in order. */
static int simulate(tt_tune_share *t, int n, int64_t budget, int batch, int *order, int max)
{
    int picks = 0;
    int64_t used = 0;
    for (int i = 0; i < n; i++)
        used += t[i].done;
    for (;;) {
        int count = 0;
        int i = tt_tune_pick_task(t, n, budget - used, batch, &count);
        if (i < 0)
            break;
        assert_true(count >= 1 && count <= batch && count <= budget - used);
        t[i].done += count;
        used += count;
        if (picks < max)
            order[picks] = i;
        picks++;
    }
    assert_int_equal(used, budget);
    return picks;
}

static void test_split_by_weight(void **state)
{
    (void)state;
    int order[64];
    tt_tune_share two[2] = {S(2, 0, true), S(1, 0, true)};
    simulate(two, 2, 16, 4, order, 64);
    /* 16 * 2/3 = 10.67 and 5.33 */
    assert_true(two[0].done == 11 || two[0].done == 10);
    assert_int_equal(two[0].done + two[1].done, 16);

    tt_tune_share three[3] = {S(1, 0, true), S(1, 0, true), S(1, 0, true)};
    simulate(three, 3, 30, 4, order, 64);
    for (int i = 0; i < 3; i++)
        assert_int_equal(three[i].done, 10);

    tt_tune_share big[2] = {S(3, 0, true), S(1, 0, true)};
    simulate(big, 2, 400, 8, order, 64);
    assert_int_equal(big[0].done, 300);
    assert_int_equal(big[1].done, 100);
}

static void test_round_robin_order(void **state)
{
    (void)state;
    int order[64];
    tt_tune_share t[2] = {S(1, 0, true), S(1, 0, true)};
    int picks = simulate(t, 2, 16, 4, order, 64);
    assert_int_equal(picks, 4);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 0);
    assert_int_equal(order[3], 1);
}

static void test_stopped_task_leaves_budget(void **state)
{
    (void)state;
    int order[64];
    /* Task 1 stopped after 2 trials (early stopping): the other two share the rest. */
    tt_tune_share t[3] = {S(1, 0, true), S(1, 2, false), S(1, 0, true)};
    simulate(t, 3, 20, 4, order, 64);
    assert_int_equal(t[1].done, 2);
    assert_int_equal(t[0].done, 9);
    assert_int_equal(t[2].done, 9);
}

static void test_resumed_counts(void **state)
{
    (void)state;
    int order[64];
    /* A resumed run: task 0 already has 6 of its 8, task 1 has 0. */
    tt_tune_share t[2] = {S(1, 6, true), S(1, 0, true)};
    int picks = simulate(t, 2, 16, 4, order, 64);
    assert_int_equal(order[0], 1);
    assert_int_equal(t[0].done, 8);
    assert_int_equal(t[1].done, 8);
    assert_true(picks >= 3);
}

static void test_pick_limits(void **state)
{
    (void)state;
    int count = 7;
    tt_tune_share t[2] = {S(1, 0, true), S(1, 0, false)};
    assert_int_equal(tt_tune_pick_task(t, 2, 0, 4, &count), -1);
    assert_int_equal(count, 0);
    assert_int_equal(tt_tune_pick_task(t, 2, 3, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(tt_tune_pick_task(t, 2, 100, 4, &count), 0);
    assert_int_equal(count, 4);
    t[0].active = false;
    assert_int_equal(tt_tune_pick_task(t, 2, 100, 4, &count), -1);
    assert_int_equal(tt_tune_pick_task(t, 0, 100, 4, &count), -1);
}

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
        cmocka_unit_test(test_split_by_weight),
        cmocka_unit_test(test_round_robin_order),
        cmocka_unit_test(test_stopped_task_leaves_budget),
        cmocka_unit_test(test_resumed_counts),
        cmocka_unit_test(test_pick_limits),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
