/* Tests measure/timer.c: the timing protocol on PackedFuncs of known duration (busy waits), the
 * calibration of `number`, the median and spread, the early stop, and the error paths. */
#include <math.h>

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

/* A 1 ms kernel with min_repeat_ms 10: number rises from 1 to about 12 and every repeat's mean
 * is close to 1 ms. A loaded machine can stretch any wall-clock measurement, so the check gets a
 * few attempts; a wrong protocol fails them all. */
static const char *known_duration_problem(const tt_timing_result *r, char *buf, size_t len)
{
    if (r->n_costs != 3 || r->pruned)
        snprintf(buf, len, "%d repeats, pruned %d; expected 3, 0", r->n_costs, r->pruned);
    else if (r->number < 10 || r->number > 40)
        snprintf(buf, len, "number %d, expected 10..40", r->number);
    else if (r->cost < 1e-3 || r->cost > 3e-3)
        snprintf(buf, len, "cost %g s, expected about 1 ms", r->cost);
    else if (r->number * r->costs[0] < 10e-3)
        snprintf(buf, len, "the first repeat lasted %g s, expected >= 10 ms",
                 r->number * r->costs[0]);
    else
        return NULL;
    return buf;
}

static void test_known_duration(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 10);
    tt_timing_result r;
    char why[128];
    const char *problem = "";
    for (int attempt = 0; attempt < 5 && problem != NULL; attempt++) {
        assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
        /* Busy waits never end early: each mean is at least 1 ms whatever the load. */
        for (int i = 0; i < r.n_costs; i++)
            assert_true(r.costs[i] >= 1e-3);
        problem = known_duration_problem(&r, why, sizeof why);
    }
    tt_func_free(f);
    if (problem != NULL)
        fail_msg("%s", problem);
}

/* A kernel too fast for one call to reach the target: number grows a lot (by at most x1000 a
 * step, so from 1 to at least 1000), and the first repeat is the batch that reached the target.
 * (Later repeats run the same number of calls; on a loaded machine a preempted calibration batch
 * can make them shorter, so only the first is bounded here.) */
static void test_number_rises(void **state)
{
    busy b = {.durations = {2e-6}, .n_durations = 1};
    tt_func f = make(&b);
    tt_timing_opts o = opts(2, 5);
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    tt_func_free(f);
    assert_int_equal(r.n_costs, 2);
    if (r.number < 1000)
        fail_msg("number %d, expected >= 1000", r.number);
    if (r.number * r.costs[0] < 5e-3)
        fail_msg("the first repeat lasted %g s, expected >= 5 ms", r.number * r.costs[0]);
    for (int i = 0; i < 2; i++)
        assert_true(r.costs[i] >= 2e-6);
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

/* The cost is the median of repeats, the spread (max - min) / median. Repeats of 1, 4 and 2 ms
 * (after a warm-up call): each lasts at least its busy wait, and the summary follows from them. */
static void test_median_and_spread(void **state)
{
    busy b = {.durations = {1e-4, 1e-3, 4e-3, 2e-3}, .n_durations = 4};
    tt_func f = make(&b);
    tt_timing_opts o = opts(3, 0);
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    tt_func_free(f);
    assert_int_equal(r.number, 1);
    assert_int_equal(r.n_costs, 3);
    assert_true(r.costs[0] >= 1e-3 && r.costs[1] >= 4e-3 && r.costs[2] >= 2e-3);
    double lo = fmin(r.costs[0], fmin(r.costs[1], r.costs[2]));
    double hi = fmax(r.costs[0], fmax(r.costs[1], r.costs[2]));
    double mid = r.costs[0] + r.costs[1] + r.costs[2] - lo - hi;
    assert_true(r.cost == mid);
    assert_true(fabs(r.spread - (hi - lo) / mid) < 1e-12);

    /* An even count takes the mean of the middle two: 1, 4, 2, 2 ms -> about 2 ms. */
    busy c = {.durations = {1e-4, 1e-3, 4e-3, 2e-3, 2e-3}, .n_durations = 5};
    f = make(&c);
    o.repeat = 4;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    tt_func_free(f);
    double sorted[4];
    memcpy(sorted, r.costs, sizeof sorted);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (sorted[j] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    assert_true(fabs(r.cost - 0.5 * (sorted[1] + sorted[2])) < 1e-15);
}

/* A 2 ms kernel against a best of 0.1 ms (x3 = 0.3 ms) stops after its first batch; against a
 * best of 5 ms it is timed fully. */
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
    o.best_so_far = 5e-3; /* x3 = 15 ms: a preempted 2 ms call stays below */
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
    tt_timing_opts o = opts(5, 0);
    o.flush_cache = 1;
    tt_timing_result r;
    assert_int_equal(tt_measure_time(f, NULL, NULL, 0, &o, &r), 0);
    assert_int_equal(r.n_costs, 5);
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
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r),
                      "busy: injected failure on call 3");
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
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r),
                      "slow_factor = 0.5, expected >= 1");
    o = opts(3, 0);
    assert_fails_with(tt_measure_time(NULL, NULL, NULL, 0, &o, &r), "f is NULL");
    assert_int_equal(b.calls, 0);
    tt_func_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_known_duration),
        cmocka_unit_test(test_number_rises),      cmocka_unit_test(test_fixed_number),
        cmocka_unit_test(test_median_and_spread), cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_flush_cache),       cmocka_unit_test(test_kernel_error),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
