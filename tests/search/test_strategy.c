/* The strategies: random never repeats and reports exhaustion; grid enumerates exactly the
 * space; the genetic search finds the best point of a synthetic cost (a function of the tile
 * sizes and the other decisions) in far fewer trials than random, is deterministic per seed,
 * and takes a resumed log's schedules (seen) into account. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "search_test.h"

/* ---- a hash set for the tests ---- */

typedef struct {
    uint64_t *h;
    int n, cap;
} hset;

static bool hset_add(hset *s, uint64_t h)
{
    for (int i = 0; i < s->n; i++)
        if (s->h[i] == h)
            return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->h = realloc(s->h, (size_t)s->cap * sizeof *s->h);
    }
    s->h[s->n++] = h;
    return true;
}

static tt_space *space_of(tt_compute *c, int bits, int threads)
{
    tt_space_opts o = {bits, threads, 0};
    tt_space *sp = NULL;
    assert_int_equal(tt_space_new(c, &o, &sp), 0);
    return sp;
}

/* Takes up to n proposals; adds their hashes to seen (failing on a repeat). */
static int take(tt_strategy *st, int n, hset *seen, tt_schedule ***out)
{
    tt_schedule **b = NULL;
    int count = -1;
    assert_int_equal(tt_strategy_next(st, n, &b, &count), 0);
    assert_true(count >= 0 && count <= n);
    for (int i = 0; i < count; i++)
        assert_true(hset_add(seen, tt_schedule_hash(b[i])));
    if (out) {
        *out = b;
    } else {
        for (int i = 0; i < count; i++)
            tt_schedule_free(b[i]);
        free(b);
    }
    return count;
}

static void free_batch(tt_schedule **b, int n)
{
    for (int i = 0; i < n; i++)
        tt_schedule_free(b[i]);
    free(b);
}

/* ---- random and grid ---- */

static void test_random_no_repeats(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:24x16,B:16x32");
    tt_space *sp = space_of(c, 256, 2);
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new("random", sp, 1, &st), 0);
    hset seen = {0};
    for (int r = 0; r < 10; r++)
        assert_int_equal(take(st, 100, &seen, NULL), 100);
    tt_strategy_free(st);
    free(seen.h);
    tt_space_free(sp);
    tt_compute_release(c);
}

/* On a small space random finds every point, then nothing. */
static void test_random_exhausts(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = A[i, j] + B[j]", "A:3x24,B:24");
    tt_space *sp = space_of(c, 256, 2);
    int64_t size = tt_space_size(sp);
    printf("small space: %lld points\n", (long long)size);
    assert_true(size > 10 && size < 2000);
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new("random", sp, 3, &st), 0);
    hset seen = {0};
    int got = 0, k;
    while ((k = take(st, 64, &seen, NULL)) > 0)
        got += k;
    assert_int_equal(got, size);
    assert_int_equal(take(st, 8, &seen, NULL), 0);
    tt_strategy_free(st);
    free(seen.h);
    tt_space_free(sp);
    tt_compute_release(c);
}

static void test_grid_enumerates(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:6x4,B:4x1");
    tt_space *sp = space_of(c, 128, 2);
    int64_t size = tt_space_size(sp);
    printf("grid space: %lld points\n", (long long)size);
    assert_true(size > 1 && size < 5000);
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new("grid", sp, 0, &st), 0);
    hset seen = {0};
    tt_schedule **b = NULL;
    int n = take(st, (int)size + 5, &seen, &b);
    assert_int_equal(n, size);
    /* in the fixed order of tt_space_point, and every one lowers */
    for (int i = 0; i < n; i++) {
        tt_schedule *p = NULL;
        assert_int_equal(tt_space_point(sp, i, &p), 0);
        assert_true(tt_schedule_hash(p) == tt_schedule_hash(b[i]));
        tt_kernel *k = NULL;
        assert_int_equal(tt_lower(c, b[i], "k", &k), 0);
        tt_kernel_release(k);
        tt_schedule_free(p);
    }
    free_batch(b, n);
    assert_int_equal(take(st, 4, &seen, NULL), 0);
    tt_strategy_free(st);
    free(seen.h);
    tt_space_free(sp);
    tt_compute_release(c);
}

/* Schedules marked seen (a resumed log) are never proposed. */
static void test_seen_skips(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:6x4,B:4x1");
    tt_space *sp = space_of(c, 128, 2);
    int64_t size = tt_space_size(sp);
    static const char *kinds[] = {"grid", "random", "ga"};
    for (int kind = 0; kind < 3; kind++) {
        tt_strategy *st = NULL;
        assert_int_equal(tt_strategy_new(kinds[kind], sp, 11, &st), 0);
        hset seen = {0};
        /* every other point was measured by an earlier run */
        for (int64_t i = 0; i < size; i += 2) {
            tt_schedule *p = NULL;
            assert_int_equal(tt_space_point(sp, i, &p), 0);
            assert_int_equal(tt_strategy_seen(st, p, 1.0 + (double)i), 0);
            hset_add(&seen, tt_schedule_hash(p));
            tt_schedule_free(p);
        }
        /* a schedule from elsewhere (not of this space) is only marked */
        tt_schedule *foreign = NULL;
        assert_int_equal(tt_schedule_from_json("[{\"s\":\"inline\",\"stage\":\"X\"}]", &foreign),
                         0);
        assert_int_equal(tt_strategy_seen(st, foreign, 0.5), 0);
        tt_schedule_free(foreign);
        int got = 0, k;
        while ((k = take(st, 16, &seen, NULL)) > 0)
            got += k; /* take fails on anything seen */
        assert_int_equal(got, size / 2);
        tt_strategy_free(st);
        free(seen.h);
    }
    tt_space_free(sp);
    tt_compute_release(c);
}

/* ---- the genetic search on a synthetic cost ---- */

typedef struct {
    tt_space *sp;
    int *target;       /* decisions of the best point */
    int64_t tf[16][3]; /* its split factors by split step */
    int nsplit;
} synth;

/* Distance to the target: log2 distance of every split factor, plus one per other decision
 * that differs. Zero only at the target. */
static double synth_cost(const synth *y, const tt_schedule *s)
{
    double cost = 0;
    int k = 0;
    for (int i = 0; i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        if (st->kind != TT_STEP_SPLIT)
            continue;
        for (int f = 0; f < st->nfactors; f++)
            cost += fabs(log2((double)st->factors[f]) - log2((double)y->tf[k][f]));
        k++;
    }
    int *v = NULL, n = 0;
    assert_int_equal(tt_space_decode(y->sp, s, &v, &n), 0);
    for (int d = 0; d < n; d++)
        cost += v[d] != y->target[d] && d >= y->nsplit ? 1.0 : 0.0;
    free(v);
    return cost;
}

static void synth_init(synth *y, tt_space *sp, int64_t index)
{
    y->sp = sp;
    tt_schedule *t = NULL;
    assert_int_equal(tt_space_point(sp, index, &t), 0);
    int n = 0;
    assert_int_equal(tt_space_decode(sp, t, &y->target, &n), 0);
    y->nsplit = 0;
    for (int i = 0; i < tt_schedule_size(t); i++) {
        const tt_step *st = tt_schedule_step(t, i);
        if (st->kind != TT_STEP_SPLIT)
            continue;
        for (int f = 0; f < st->nfactors; f++)
            y->tf[y->nsplit][f] = st->factors[f];
        y->nsplit++;
    }
    tt_schedule_free(t);
}

/* Trials until the strategy proposes the target (cost 0), at most cap. hashes: the sequence of
 * proposals' hashes (first nh of them) for determinism checks. */
static int run_to_best(const char *kind, const synth *y, uint64_t seed, int cap, uint64_t *hashes,
                       int nh)
{
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new(kind, y->sp, seed, &st), 0);
    int trials = 0;
    bool found = false;
    while (!found && trials < cap) {
        tt_schedule **b = NULL;
        int n = 0;
        assert_int_equal(tt_strategy_next(st, 16, &b, &n), 0);
        assert_true(n > 0);
        double costs[16];
        for (int i = 0; i < n; i++) {
            costs[i] = synth_cost(y, b[i]);
            if (trials + i < nh)
                hashes[trials + i] = tt_schedule_hash(b[i]);
            if (costs[i] == 0 && !found) {
                found = true;
                trials += i + 1;
            }
        }
        if (!found)
            trials += n;
        assert_int_equal(tt_strategy_update(st, b, costs, n), 0);
        free_batch(b, n);
    }
    tt_strategy_free(st);
    return found ? trials : cap;
}

static void test_ga_beats_random(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:12x8,B:8x16");
    tt_space *sp = space_of(c, 128, 2);
    int64_t size = tt_space_size(sp);
    synth y;
    synth_init(&y, sp, size / 3 + 17);
    const int cap = 3000, seeds = 4;
    double ga = 0, rnd = 0;
    for (int s = 1; s <= seeds; s++) {
        int g = run_to_best("ga", &y, (uint64_t)s, cap, NULL, 0);
        int r = run_to_best("random", &y, (uint64_t)s, cap, NULL, 0);
        printf("seed %d: ga %d trials, random %d trials (space %lld)\n", s, g, r, (long long)size);
        ga += g;
        rnd += r;
    }
    ga /= seeds;
    rnd /= seeds;
    printf("mean trials to the best point: ga %.0f, random %.0f\n", ga, rnd);
    assert_true(ga < cap);
    assert_true(ga * 2 < rnd);
    free(y.target);
    tt_space_free(sp);
    tt_compute_release(c);
}

static void test_ga_deterministic(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:12x8,B:8x16");
    tt_space *sp = space_of(c, 128, 2);
    synth y;
    synth_init(&y, sp, tt_space_size(sp) / 5);
    enum { NH = 400 };
    uint64_t h1[NH] = {0}, h2[NH] = {0}, h3[NH] = {0};
    run_to_best("ga", &y, 42, NH, h1, NH);
    run_to_best("ga", &y, 42, NH, h2, NH);
    run_to_best("ga", &y, 43, NH, h3, NH);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_memory_not_equal(h1, h3, sizeof h1);
    free(y.target);
    tt_space_free(sp);
    tt_compute_release(c);
}

/* A resumed GA breeds from the log's best: its first batch beats a random batch. */
static void test_ga_resumes_from_seen(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:12x8,B:8x16");
    tt_space *sp = space_of(c, 128, 2);
    synth y;
    synth_init(&y, sp, tt_space_size(sp) / 2 + 3);
    double ga_mean = 0, rnd_mean = 0;
    for (int seed = 1; seed <= 3; seed++) {
        /* an earlier run's log: 400 random points with their costs */
        tt_strategy *old = NULL, *ga = NULL, *rnd = NULL;
        assert_int_equal(tt_strategy_new("random", sp, (uint64_t)seed + 100, &old), 0);
        assert_int_equal(tt_strategy_new("ga", sp, (uint64_t)seed, &ga), 0);
        assert_int_equal(tt_strategy_new("random", sp, (uint64_t)seed, &rnd), 0);
        hset seen = {0};
        tt_schedule **b = NULL;
        int n = take(old, 400, &seen, &b);
        for (int i = 0; i < n; i++) {
            double cost = synth_cost(&y, b[i]);
            assert_int_equal(tt_strategy_seen(ga, b[i], cost), 0);
            assert_int_equal(tt_strategy_seen(rnd, b[i], cost), 0);
        }
        free_batch(b, n);
        tt_schedule **g = NULL, **r = NULL;
        hset seen2 = {0}; /* the two strategies are independent of each other */
        for (int i = 0; i < seen.n; i++)
            hset_add(&seen2, seen.h[i]);
        int ng = take(ga, 32, &seen, &g), nr = take(rnd, 32, &seen2, &r);
        for (int i = 0; i < ng; i++)
            ga_mean += synth_cost(&y, g[i]) / ng;
        for (int i = 0; i < nr; i++)
            rnd_mean += synth_cost(&y, r[i]) / nr;
        free_batch(g, ng);
        free_batch(r, nr);
        free(seen.h);
        free(seen2.h);
        tt_strategy_free(old);
        tt_strategy_free(ga);
        tt_strategy_free(rnd);
    }
    printf("first batch after resume: ga mean cost %.2f, random %.2f\n", ga_mean / 3, rnd_mean / 3);
    assert_true(ga_mean < rnd_mean);
    free(y.target);
    tt_space_free(sp);
    tt_compute_release(c);
}

static void test_errors(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse("C[i] = A[i] * 2.0", "A:16");
    tt_space *sp = space_of(c, 128, 1);
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new("annealing", sp, 1, &st), -1);
    assert_null(st);
    assert_non_null(strstr(tt_get_last_error(), "expected random, grid or ga"));
    assert_int_equal(tt_strategy_new("ga", NULL, 1, &st), -1);
    assert_non_null(strstr(tt_get_last_error(), "needs a space"));
    assert_int_equal(tt_strategy_new("ga", sp, 1, &st), 0);
    tt_schedule **b = NULL;
    int n = 7;
    assert_int_equal(tt_strategy_next(st, -1, &b, &n), -1);
    assert_non_null(strstr(tt_get_last_error(), "expected n >= 0"));
    assert_int_equal(n, 0);
    tt_schedule *null_s[1] = {NULL};
    double cost = 1;
    assert_int_equal(tt_strategy_update(st, null_s, &cost, 1), -1);
    assert_non_null(strstr(tt_get_last_error(), "NULL"));
    assert_int_equal(tt_strategy_update(st, null_s, NULL, 1), -1);
    assert_non_null(strstr(tt_get_last_error(), "no costs"));
    /* a failed candidate (INFINITY) is taken without breeding from it */
    assert_int_equal(tt_strategy_next(st, 4, &b, &n), 0);
    double inf[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
    assert_int_equal(tt_strategy_update(st, b, inf, n), 0);
    free_batch(b, n);
    tt_strategy_free(st);
    tt_space_free(sp);
    tt_compute_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_no_repeats),    cmocka_unit_test(test_random_exhausts),
        cmocka_unit_test(test_grid_enumerates),      cmocka_unit_test(test_seen_skips),
        cmocka_unit_test(test_ga_beats_random),      cmocka_unit_test(test_ga_deterministic),
        cmocka_unit_test(test_ga_resumes_from_seen), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
