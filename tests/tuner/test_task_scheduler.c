/* tuner/task_scheduler.c: the weighted round-robin budget split, and the gradient task scheduler
 * on synthetic tuning histories (each task's best latency a known function of the trials it got),
 * run the way the tuning loop runs it: first round, tasks still improving and heavy tasks get
 * more, no valid candidate first. */
#include <math.h>
#include <stdlib.h>

#include "tune_test.h"
#include "tuner/task_scheduler.h"

/* ---- round robin by weight ---- */

#define S(w, d, a) {.weight = (w), .done = (d), .active = (a), .best = INFINITY}

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

/* ---- the gradient scheduler ---- */

#define MAXT 4
#define MAXN 4096

/* best latency of a task after n trials */
typedef double (*curve_fn)(int64_t n);

static double plateau(int64_t n)
{
    (void)n;
    return 1.0; /* found its best at once */
}

static double improving(int64_t n)
{
    return 5.0 - 0.01 * (double)n; /* 1% of its start per trial, all along */
}

static double none_yet(int64_t n)
{
    return n < 16 ? INFINITY : 1.0; /* the first 16 candidates all fail */
}

typedef struct {
    tt_tune_share share[MAXT];
    double curve[MAXT][MAXN];
    int order[256];
    int picks;
} sim;

/* Runs the budget as tuner/tune.c's loop does (window: the last three batches). */
static void run(sim *s, const curve_fn *f, const double *w, int n, int64_t budget, int batch,
                uint64_t seed)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < n; i++)
        s->share[i] = (tt_tune_share){.weight = w[i], .active = true, .best = INFINITY};
    uint64_t rng = seed;
    int64_t used = 0;
    for (;;) {
        for (int i = 0; i < n; i++) {
            tt_tune_share *t = &s->share[i];
            int64_t w3 = t->done - 1 < 3 * batch ? t->done - 1 : 3 * batch;
            t->best = t->done > 0 ? s->curve[i][t->done - 1] : INFINITY;
            t->window = w3 > 0 ? w3 : 0;
            t->best_before = w3 > 0 ? s->curve[i][t->done - 1 - w3] : INFINITY;
        }
        int count = 0;
        int i = tt_tune_pick_task_gradient(s->share, n, budget - used, batch, &rng, &count);
        if (i < 0)
            break;
        assert_true(count >= 1 && count <= batch && count <= budget - used);
        for (int k = 0; k < count; k++) {
            int64_t d = s->share[i].done + k;
            s->curve[i][d] = f[i](d + 1);
        }
        s->share[i].done += count;
        used += count;
        if (s->picks < 256)
            s->order[s->picks] = i;
        s->picks++;
    }
    assert_int_equal(used, budget);
}

static void test_first_round(void **state)
{
    (void)state;
    static sim s;
    curve_fn f[3] = {plateau, plateau, improving};
    double w[3] = {1, 1, 1};
    run(&s, f, w, 3, 64, 8, 1);
    /* every task gets one batch, in order, before any choice */
    assert_int_equal(s.order[0], 0);
    assert_int_equal(s.order[1], 1);
    assert_int_equal(s.order[2], 2);
    for (int i = 0; i < 3; i++)
        assert_true(s.share[i].done >= 8);
}

static void test_improving_gets_more(void **state)
{
    (void)state;
    static sim s;
    curve_fn f[2] = {plateau, improving};
    double w[2] = {1, 1};
    run(&s, f, w, 2, 400, 8, 7);
    /* round robin would give 200 each */
    assert_true(s.share[1].done >= 2 * s.share[0].done);
    assert_true(s.share[0].done >= 8);
}

static void test_heavy_gets_more(void **state)
{
    (void)state;
    static sim s;
    curve_fn f[2] = {improving, improving};
    double w[2] = {1, 10};
    run(&s, f, w, 2, 400, 8, 3);
    assert_true(s.share[1].done >= 2 * s.share[0].done);
    /* the light task is not starved: its first round, and more while it gains most per trial */
    assert_true(s.share[0].done >= 16);
}

static void test_no_valid_candidate_first(void **state)
{
    (void)state;
    static sim s;
    curve_fn f[2] = {improving, none_yet};
    double w[2] = {1, 1};
    run(&s, f, w, 2, 40, 8, 1);
    /* after the first round the failing task goes on until it has a valid candidate */
    assert_int_equal(s.order[2], 1);
    assert_true(s.share[1].done >= 16);
}

static void test_limits(void **state)
{
    (void)state;
    uint64_t rng = 1;
    int count = 7;
    tt_tune_share t[2] = {{.weight = 1, .done = 20, .active = true, .best = 1},
                          {.weight = 1, .done = 0, .active = false, .best = INFINITY}};
    assert_int_equal(tt_tune_pick_task_gradient(t, 2, 0, 4, &rng, &count), -1);
    assert_int_equal(count, 0);
    /* the inactive task is never picked, even with no trial yet */
    assert_int_equal(tt_tune_pick_task_gradient(t, 2, 3, 4, &rng, &count), 0);
    assert_int_equal(count, 3);
    /* a first round is completed, not exceeded */
    t[1].active = true;
    t[1].done = 3;
    assert_int_equal(tt_tune_pick_task_gradient(t, 2, 100, 4, &rng, &count), 1);
    assert_int_equal(count, 1);
    t[0].active = t[1].active = false;
    assert_int_equal(tt_tune_pick_task_gradient(t, 2, 100, 4, &rng, &count), -1);
    assert_int_equal(tt_tune_pick_task_gradient(t, 0, 100, 4, &rng, &count), -1);
}

static void test_deterministic(void **state)
{
    (void)state;
    static sim a, b;
    curve_fn f[3] = {plateau, improving, improving};
    double w[3] = {1, 2, 1};
    run(&a, f, w, 3, 300, 8, 5);
    run(&b, f, w, 3, 300, 8, 5);
    assert_int_equal(a.picks, b.picks);
    assert_memory_equal(a.order, b.order, sizeof a.order);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_weight),
        cmocka_unit_test(test_round_robin_order),
        cmocka_unit_test(test_stopped_task_leaves_budget),
        cmocka_unit_test(test_resumed_counts),
        cmocka_unit_test(test_pick_limits),
        cmocka_unit_test(test_first_round),
        cmocka_unit_test(test_improving_gets_more),
        cmocka_unit_test(test_heavy_gets_more),
        cmocka_unit_test(test_no_valid_candidate_first),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
