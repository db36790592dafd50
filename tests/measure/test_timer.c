/* Tests measure/timer.c: the timing protocol (warm-up, the calibration of `number`, the median
 * and spread, the early stop, the cache flush) on a simulated clock, where each call of the kernel
 * under test advances time by a known amount, so the expected numbers are exact whatever the load
 * of the machine; then once on the real clock with busy waits. */
#include <math.h>

#include "measure_test.h"

/* The simulated clock: tt_measure_time reads it, the kernel advances it. */
static double fake_time;

static double fake_clock(void)
{
    return fake_time;
}

/* The simulated count of involuntary context switches: a kernel call marked disturbed adds one.
 * The simulated tests read it instead of the real one, so that the load of the machine cannot
 * add repeats to their exact counts. */
static long fake_switches;

static long fake_switch_counter(void)
{
    return fake_switches;
}

static int use_fake_clock(void **state)
{
    fake_time = 0;
    fake_switches = 0;
    tt_measure_set_clock(fake_clock);
    tt_measure_set_switch_counter(fake_switch_counter);
    return 0;
}

static int use_real_clock(void **state)
{
    tt_measure_set_clock(NULL);
    tt_measure_set_switch_counter(NULL);
    return 0;
}

/* The PackedFunc under test: its k-th call lasts durations[k] seconds (the last entry repeats),
 * on the simulated clock or, with real set, as a busy wait. It counts its calls and fails on
 * call fail_at (counting from 1; 0: never). */
typedef struct {
    double durations[8];
    int n_durations;
    int disturbed[8]; /* 1: call k loses its CPU once (simulated clock only) */
    int calls;
    int fail_at;
    int real;
} busy;

static int busy_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    busy *b = resource;
    int k = b->calls++;
    if (b->fail_at > 0 && b->calls == b->fail_at)
        return tt_error_set("busy: injected failure on call %d", b->calls);
    double d = b->durations[k < b->n_durations ? k : b->n_durations - 1];
    if (!b->real) {
        fake_time += d;
        fake_switches += k < 8 && b->disturbed[k];
        return 0;
    }
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

/* Runs the protocol on a kernel of the given durations; returns its calls. */
static int measure(busy *b, const tt_timing_opts *o, tt_timing_result *r)
{
    tt_func f = make(b);
    int rc = tt_measure_time(f, NULL, NULL, 0, o, r);
    tt_func_free(f);
    if (rc != 0)
        fail_msg("tt_measure_time: %s", tt_get_last_error());
    return b->calls;
}

#define assert_near(x, want)                                                                       \
    do {                                                                                           \
        if (fabs((x) - (want)) > 1e-6 * fabs(want))                                                \
            fail_msg("%s = %.12g, expected %.12g", #x, (double)(x), (double)(want));               \
    } while (0)

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
    assert_int_equal(o.retries, 0);
    assert_int_equal(tt_timing_opts_check(&o), 0);
}

/* A 1 ms kernel, min_repeat_ms 10: one call (1 ms) is short, so number is estimated 20% past the
 * target: 12. That batch is the first repeat; two more follow. */
static void test_known_duration(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1};
    tt_timing_opts o = opts(3, 10);
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.number, 12);
    assert_int_equal(r.n_costs, 3);
    assert_int_equal(r.pruned, 0);
    for (int i = 0; i < 3; i++)
        assert_near(r.costs[i], 1e-3);
    assert_near(r.cost, 1e-3);
    assert_true(r.spread < 1e-6);
    assert_int_equal(calls, 1 + 1 + 3 * 12); /* warm-up, the 1-call batch, 3 repeats */
}

/* A 2 us kernel, min_repeat_ms 5: number grows at most x1000 a step (1 -> 1000), then by the
 * estimate (2 ms measured -> 3000, 6 ms). */
static void test_number_rises(void **state)
{
    busy b = {.durations = {2e-6}, .n_durations = 1};
    tt_timing_opts o = opts(2, 5);
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.number, 3000);
    assert_int_equal(r.n_costs, 2);
    assert_true(r.number * r.costs[0] >= 5e-3);
    assert_int_equal(calls, 1 + 1 + 1000 + 2 * 3000);
}

/* A batch that falls just short grows by at least x2: 5 calls of 1.9 ms (9.5 ms) for a 10 ms
 * target would estimate 7 calls; it takes 10. */
static void test_number_at_least_doubles(void **state)
{
    busy b = {.durations = {1.9e-3}, .n_durations = 1};
    tt_timing_opts o = opts(1, 10);
    o.number = 5;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.number, 10);
    assert_int_equal(calls, 1 + 5 + 10);
}

/* warm: the caller's own call (the runner's correctness check) was the warm-up, so the protocol
 * starts with the 1-call calibration batch: the calls of test_known_duration less one. */
static void test_warm_skips_the_warm_up(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1};
    tt_timing_opts o = opts(3, 10);
    o.warm = 1;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.number, 12);
    assert_int_equal(r.n_costs, 3);
    assert_near(r.cost, 1e-3);
    assert_int_equal(calls, 1 + 3 * 12);
}

/* The warm call's time calibrates: after a 1 ms checked call, number is 12 at once (no 1-call
 * batch: the calls of test_warm_skips_the_warm_up less one); a 60 ms call against a 50 ms
 * minimum was the first repeat, so two batches of one call follow. */
static void test_warm_call_calibrates(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1};
    tt_timing_opts o = opts(3, 10);
    o.warm = 1;
    o.warm_s = 1e-3;
    tt_timing_result r;
    assert_int_equal(measure(&b, &o, &r), 3 * 12);
    assert_int_equal(r.number, 12);
    assert_near(r.cost, 1e-3);

    busy slow = {.durations = {70e-3}, .n_durations = 1};
    o = opts(3, 50);
    o.warm = 1;
    o.warm_s = 60e-3;
    assert_int_equal(measure(&slow, &o, &r), 2);
    assert_int_equal(r.number, 1);
    assert_int_equal(r.n_costs, 3);
    assert_near(r.costs[0], 60e-3);
    assert_near(r.costs[1], 70e-3);
    assert_near(r.cost, 70e-3);

    /* Its time also stops a slow candidate early: no call at all. */
    slow.calls = 0;
    o.best_so_far = 10e-3;
    assert_int_equal(measure(&slow, &o, &r), 0);
    assert_int_equal(r.pruned, 1);
    assert_near(r.cost, 60e-3);

    /* With a cache flush before each repeat, the unflushed call is no repeat. */
    slow.calls = 0;
    o.best_so_far = 0;
    o.flush_cache = 1;
    assert_int_equal(measure(&slow, &o, &r), 3);
}

/* Without a minimum, number stays as given: 1 warm-up call + repeat * number calls exactly. */
static void test_fixed_number(void **state)
{
    busy b = {.durations = {1e-5}, .n_durations = 1};
    tt_timing_opts o = opts(5, 0);
    o.number = 4;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.number, 4);
    assert_int_equal(r.n_costs, 5);
    assert_int_equal(calls, 1 + 5 * 4);
}

/* The cost is the median of repeats, the spread (max - min) / median: repeats of 1, 4 and 2 ms
 * give 2 ms and 1.5; an even count takes the mean of the middle two (1, 4, 2, 3 ms: 2.5 ms). */
static void test_median_and_spread(void **state)
{
    busy b = {.durations = {7, 1e-3, 4e-3, 2e-3, 3e-3}, .n_durations = 5};
    tt_timing_opts o = opts(3, 0);
    tt_timing_result r;
    measure(&b, &o, &r);
    assert_near(r.costs[0], 1e-3);
    assert_near(r.costs[1], 4e-3);
    assert_near(r.costs[2], 2e-3);
    assert_near(r.cost, 2e-3);
    assert_near(r.spread, 1.5);

    b.calls = 0;
    o.repeat = 4;
    measure(&b, &o, &r);
    assert_near(r.cost, 2.5e-3);
    assert_near(r.spread, 3e-3 / 2.5e-3);
}

/* A repeat that lost its CPU is run again: 1 ms repeats of which the 2nd and 3rd were disturbed
 * (and slow, 5 and 7 ms) are replaced by the 4th and 5th; the cost is 1 ms, not the 5 ms the
 * median of the first three would give. */
static void test_disturbed_repeats_run_again(void **state)
{
    busy b = {.durations = {1e-3, 5e-3, 7e-3, 1e-3, 1e-3},
              .n_durations = 5,
              .disturbed = {0, 1, 1, 0, 0}};
    tt_timing_opts o = opts(3, 0);
    o.warm = 1;
    o.retries = 3;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(calls, 5);
    assert_int_equal(r.n_costs, 3);
    assert_int_equal(r.disturbed, 2);
    for (int i = 0; i < 3; i++) {
        assert_near(r.costs[i], 1e-3);
        assert_int_equal(r.switches[i], 0);
    }
    assert_near(r.cost, 1e-3);
}

/* When the retries run out, the fastest disturbed repeats fill the costs, in the order they ran:
 * 5 (clean), 3, 2, 4 and 1 ms (disturbed) with two retries keep 5, 2 and 1 ms; with none, the
 * first three as before. */
static void test_retries_run_out(void **state)
{
    busy b = {.durations = {5e-3, 3e-3, 2e-3, 4e-3, 1e-3},
              .n_durations = 5,
              .disturbed = {0, 1, 1, 1, 1, 1, 1, 1}};
    tt_timing_opts o = opts(3, 0);
    o.warm = 1;
    o.retries = 2;
    tt_timing_result r;
    assert_int_equal(measure(&b, &o, &r), 5);
    assert_int_equal(r.n_costs, 3);
    assert_int_equal(r.disturbed, 4);
    assert_near(r.costs[0], 5e-3);
    assert_near(r.costs[1], 2e-3);
    assert_near(r.costs[2], 1e-3);
    assert_int_equal(r.switches[0], 0);
    assert_int_equal(r.switches[1], 1);
    assert_near(r.cost, 2e-3);

    b.calls = 0;
    o.retries = 0;
    assert_int_equal(measure(&b, &o, &r), 3);
    assert_near(r.costs[0], 5e-3);
    assert_near(r.costs[1], 3e-3);
    assert_near(r.costs[2], 2e-3);
    assert_near(r.cost, 3e-3);
}

/* A machine busy throughout: with no clean repeat among the first three, no retry runs. */
static void test_no_retry_without_a_clean_repeat(void **state)
{
    busy b = {.durations = {3e-3, 2e-3, 4e-3, 1e-3},
              .n_durations = 4,
              .disturbed = {1, 1, 1, 1, 1, 1, 1, 1}};
    tt_timing_opts o = opts(3, 0);
    o.warm = 1;
    o.retries = 3;
    tt_timing_result r;
    assert_int_equal(measure(&b, &o, &r), 3);
    assert_int_equal(r.disturbed, 3);
    assert_near(r.cost, 3e-3);
}

/* Against a best of 1 ms with slow_factor 3, a 3.1 ms kernel stops after its first timed batch
 * (one call: the warm-up does not count), a 2.9 ms kernel is timed fully. */
static void test_early_stop(void **state)
{
    busy b = {.durations = {3.1e-3}, .n_durations = 1};
    tt_timing_opts o = opts(5, 20);
    o.best_so_far = 1e-3;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.pruned, 1);
    assert_int_equal(r.n_costs, 1);
    assert_int_equal(r.number, 1);
    assert_near(r.cost, 3.1e-3);
    assert_int_equal(calls, 2);

    busy c = {.durations = {2.9e-3}, .n_durations = 1};
    calls = measure(&c, &o, &r);
    assert_int_equal(r.pruned, 0);
    assert_int_equal(r.n_costs, 5);
    assert_int_equal(r.number, 9); /* 20 ms / 2.9 ms * 1.2 = 8.3, rounded up */
    assert_int_equal(calls, 1 + 1 + 5 * 9);

    /* A slow warm-up alone is not a reason to stop (cold caches, page faults). */
    busy d = {.durations = {50e-3, 1e-3}, .n_durations = 2};
    measure(&d, &o, &r);
    assert_int_equal(r.pruned, 0);
}

static void test_flush_cache(void **state)
{
    size_t bytes = tt_measure_flush_bytes();
    assert_true(bytes >= ((size_t)8 << 20) && bytes <= ((size_t)512 << 20));
    busy b = {.durations = {1e-5}, .n_durations = 1};
    tt_timing_opts o = opts(5, 0);
    o.flush_cache = 1;
    tt_timing_result r;
    int calls = measure(&b, &o, &r);
    assert_int_equal(r.n_costs, 5);
    assert_near(r.cost, 1e-5);
    assert_int_equal(calls, 6);
}

/* The real clock, busy waits of 1 ms: whatever the load, a mean is never below the busy wait and
 * the calibrated first repeat lasts min_repeat_ms. */
static void test_real_clock(void **state)
{
    busy b = {.durations = {1e-3}, .n_durations = 1, .real = 1};
    tt_timing_opts o = opts(3, 5);
    o.retries = 0; /* the load of the machine must not replace the calibrated first repeat */
    tt_timing_result r;
    double start = test_now();
    measure(&b, &o, &r);
    double elapsed = test_now() - start;
    assert_int_equal(r.n_costs, 3);
    assert_true(r.number >= 1 && r.number <= 6);
    for (int i = 0; i < 3; i++)
        assert_true(r.costs[i] >= 1e-3);
    assert_true(r.number * r.costs[0] >= 5e-3);
    assert_true(elapsed >= (1 + 3 * r.number) * 1e-3);
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
    o.warm_s = -1;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "warm_s = -1");
    o = opts(3, 0);
    o.retries = -1;
    assert_fails_with(tt_measure_time(f, NULL, NULL, 0, &o, &r), "retries = -1, expected 0..64");
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
#define FAKE(t) cmocka_unit_test_setup_teardown(t, use_fake_clock, use_real_clock)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        FAKE(test_known_duration),
        FAKE(test_warm_skips_the_warm_up),
        FAKE(test_number_rises),
        FAKE(test_number_at_least_doubles),
        FAKE(test_warm_call_calibrates),
        FAKE(test_fixed_number),
        FAKE(test_median_and_spread),
        FAKE(test_disturbed_repeats_run_again),
        FAKE(test_retries_run_out),
        FAKE(test_no_retry_without_a_clean_repeat),
        FAKE(test_early_stop),
        FAKE(test_flush_cache),
        cmocka_unit_test(test_real_clock),
        FAKE(test_kernel_error),
        FAKE(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
