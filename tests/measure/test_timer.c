/* Tests measure/timer.c: the timing protocol on PackedFuncs of known duration (busy waits), the
 * calibration of `number`, the median and spread, the early stop, and the error paths. */
#include "measure_test.h"

/* The PackedFunc under test: busy-waits durations[k] seconds on its k-th call (the last entry
 * repeats), counts its calls and fails on call fail_at (counting from 1; 0: never). */
typedef struct {
    double durations[8];
    int n_durations;
    int calls;
    int fail_at;
} busy;

static int busy_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    busy *b = resource;
    int k = b->calls++;
    if (b->fail_at > 0 && b->calls == b->fail_at)
        return tt_error_set("busy: injected failure on call %d", b->calls);
    double d = b->durations[k < b->n_durations ? k : b->n_durations - 1];
    double end = test_now() + d;
    while (test_now() < end)
        ;
    return 0;
}

static tt_func make(busy *b)
{
    tt_func f = NULL;
    assert_int_equal(tt_func_create(busy_body, b, NULL, &f), 0);
    return f;
}

static tt_timing_opts opts(int repeat, double min_repeat_ms)
{
    tt_timing_opts o;
    tt_timing_opts_default(&o);
    o.repeat = repeat;
    o.min_repeat_ms = min_repeat_ms;
    return o;
}

static void test_defaults(void **state)
{
    tt_timing_opts o;
    tt_timing_opts_default(&o);
    assert_int_equal(o.repeat, 3);
    assert_int_equal(o.number, 1);
    assert_true(o.min_repeat_ms == 50);
    assert_int_equal(o.flush_cache, 0);
    assert_true(o.best_so_far == 0);
    assert_true(o.slow_factor == 3);
}

/* A 1 ms kernel with min_repeat_ms 10: number rises from 1 to at least 10 and every repeat's mean
 * is close to 1 ms. */
static void test_known_duration(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 10);
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.n_costs, 3);
    assert_int_equal(r.pruned, 0);
    assert_true(r.number >= 10);
    assert_true(r.number <= 40); /* the estimate aims 20% past the target, not far beyond */
    for (int i = 0; i < 3; i++) {
        if (r.costs[i] < 0.95e-3 || r.costs[i] > 3e-3)
            fail_msg("repeat %d: %g s per call, expected about 1 ms", i, r.costs[i]);
    }
    assert_true(r.cost >= 0.95e-3 && r.cost <= 3e-3);
    assert_true(r.number * r.cost >= 10e-3);
    assert_true(r.spread >= 0 && r.spread < 1);
    tt_func_free(f);
}

/* A kernel too fast for one call to reach the target: number grows a lot. */
static void test_number_rises(void **state)
{
    busy b = {.durations = {2e-6}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(2, 5);
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_true(r.number >= 1000);
    /* Each repeat took number * cost; the calibrated one reached 5 ms, the other is close. */
    for (int i = 0; i < r.n_costs; i++)
        assert_true(r.number * r.costs[i] >= 0.8 * 5e-3);
    tt_func_free(f);
}

/* Without a minimum, number stays as given: 1 warm-up call + repeat * number calls exactly. */
static void test_fixed_number(void **state)
{
    busy b = {.durations = {1e-5}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(5, 0);
    o.number = 4;
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.number, 4);
    assert_int_equal(r.n_costs, 5);
    assert_int_equal(b.calls, 1 + 5 * 4);
    tt_func_free(f);
}

/* The cost is the median of repeats, the spread (max - min) / median: repeats of 1, 4 and 2 ms
 * (after a warm-up call) give 2 ms and 1.5. */
static void test_median_and_spread(void **state)
{
    busy b = {.durations = {1e-4, 1e-3, 4e-3, 2e-3}, .n_durations = 4};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 0);
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.number, 1);
    assert_true(r.costs[0] >= 1e-3 && r.costs[1] >= 4e-3 && r.costs[2] >= 2e-3);
    if (r.cost < 2e-3 || r.cost > 3e-3)
        fail_msg("median %g s, expected about 2 ms", r.cost);
    if (r.spread < 1.2 || r.spread > 2.5)
        fail_msg("spread %g, expected about 1.5", r.spread);
    tt_func_free(f);
}

/* A 2 ms kernel against a best of 0.1 ms (x3 = 0.3 ms) stops after its first batch; against a
 * best of 2 ms (x3 = 6 ms) it is timed fully. */
static void test_early_stop(void **state)
{
    busy b = {.durations = {2e-3}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(5, 20);
    o.best_so_far = 1e-4;
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.pruned, 1);
    assert_int_equal(r.n_costs, 1);
    assert_true(r.cost >= 2e-3);
    assert_int_equal(b.calls, 2); /* the warm-up and one timed call, nothing more */

    b.calls = 0;
    o.best_so_far = 2e-3;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.pruned, 0);
    assert_int_equal(r.n_costs, 5);
    tt_func_free(f);
}

static void test_flush_cache(void **state)
{
    size_t bytes = tt_measure_flush_bytes();
    assert_true(bytes >= ((size_t)8 << 20) && bytes <= ((size_t)512 << 20));
    busy b = {.durations = {1e-5}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 0);
    o.flush_cache = 1;
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.n_costs, 3);
    /* The flush happens before a batch's clock starts: it does not count in the cost. */
    assert_true(r.cost < 1e-3);
    tt_func_free(f);
}

static void test_kernel_error(void **state)
{
    busy b = {.durations = {1e-5}, .n_durations = 1, .fail_at = 3};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 0);
    tt_timing_result r;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "busy: injected failure on call 3");
    assert_contains(tt_get_last_error(), "tt_measure_time: the kernel failed");
    /* Failing in the warm-up is reported the same way. */
    b.calls = 0;
    b.fail_at = 1;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "injected failure on call 1");
    tt_func_free(f);
}

static void test_bad_options(void **state)
{
    busy b = {.durations = {1e-5}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_result r;
    tt_timing_opts o = opts(0, 0);
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "repeat = 0, expected 1..64");
    o = opts(65, 0);
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "repeat = 65");
    o = opts(3, -1);
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "min_repeat_ms = -1");
    o = opts(3, 0);
    o.number = 0;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "number = 0");
    o = opts(3, 0);
    o.best_so_far = 1e-3;
    o.slow_factor = 0.5;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "slow_factor = 0.5, expected >= 1");
    o = opts(3, 0);
    assert_fails_with(tt_measure_time(NULL, NULL, NULL, 0, &o, &r), "f is NULL");
    assert_int_equal(b.calls, 0);
    tt_func_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_known_duration),
        cmocka_unit_test(test_number_rises),    cmocka_unit_test(test_fixed_number),
        cmocka_unit_test(test_median_and_spread), cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_flush_cache),     cmocka_unit_test(test_kernel_error),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
