/* The model-guided strategy (search/xgb.c) against a simulated machine: a candidate's cost is a
 * known function of its kernel (vector width, parallel tasks, the stride of its reads, its
 * accumulator tile). Over the same number of trials it must find a cheaper candidate than random
 * search, propose nothing twice, and only schedules that lower. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "cost_model/features.h"
#include "ir/lower.h"
#include "ir/opjson.h"
#include "search/search.h"

static double simulated_cost(const tt_compute *c, const tt_schedule *s)
{
    tt_kernel *k = NULL;
    assert_int_equal(tt_lower(c, s, "k", &k), 0);
    float f[TT_FEATURE_COUNT];
    assert_int_equal(tt_features_extract(k, NULL, f), 0);
    tt_kernel_release(k);
    double work = f[TT_F_HOT_EXECUTIONS] / f[TT_F_HOT_VECTOR_WIDTH];
    double par = fmin(f[TT_F_HOT_PARALLEL_PROD], 4);
    double strided = 0;
    for (int sl = 1; sl < TT_FEAT_SLOTS; sl++)
        strided += f[TT_F_SLOT(sl, TT_FS_INNER_STRIDE)] > 1;
    /* an accumulator tile of 4 KiB is best */
    double tile = 1 + fabs(log2((f[TT_F_LOCAL_BYTES] + 64) / 4096)) / 2;
    return 1e-9 * work / par * (1 + strided) * tile + 1e-6;
}

/* Best simulated cost after `batches` batches of 16 from strategy kind. */
static double run(const char *kind, tt_compute *c, tt_space *sp, uint64_t seed, int batches)
{
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new(kind, sp, seed, &st), 0);
    double best = INFINITY;
    uint64_t seen[16 * 64];
    int nseen = 0;
    for (int b = 0; b < batches; b++) {
        tt_schedule **s = NULL;
        int n = 0;
        assert_int_equal(tt_strategy_next(st, 16, &s, &n), 0);
        assert_int_equal(n, 16);
        double costs[16];
        for (int i = 0; i < n; i++) {
            costs[i] = simulated_cost(c, s[i]);
            best = fmin(best, costs[i]);
            uint64_t h = tt_schedule_hash(s[i]);
            for (int j = 0; j < nseen; j++)
                assert_true(seen[j] != h); /* no repeats */
            seen[nseen++] = h;
        }
        assert_int_equal(tt_strategy_update(st, s, costs, n), 0);
        for (int i = 0; i < n; i++)
            tt_schedule_free(s[i]);
        free(s);
    }
    tt_strategy_free(st);
    return best;
}

/* A matmul of M x N x K and its search space for 256-bit vectors and `threads` threads. */
typedef struct {
    tt_opfile *file;
    tt_compute *c;
    tt_space *sp;
} matmul_space;

static matmul_space matmul_space_new(int m, int n, int k, int threads)
{
    char text[128];
    snprintf(text, sizeof text, "{\"op\": \"matmul\", \"M\": %d, \"N\": %d, \"K\": %d}", m, n, k);
    matmul_space ms = {0};
    assert_int_equal(tt_opfile_parse_string(text, "mm.json", &ms.file), 0);
    ms.c = ms.file->tasks[0].compute;
    tt_space_opts so = {256, threads, 0};
    assert_int_equal(tt_space_new(ms.c, &so, &ms.sp), 0);
    return ms;
}

static void matmul_space_free(matmul_space *ms)
{
    tt_space_free(ms->sp);
    tt_opfile_free(ms->file);
}

static void test_guided_beats_random(void **state)
{
    (void)state;
    matmul_space ms = matmul_space_new(128, 96, 64, 4);
    tt_compute *c = ms.c;
    tt_space *sp = ms.sp;
    int wins = 0;
    double sum_x = 0, sum_r = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        double x = run("xgb", c, sp, seed, 5), r = run("random", c, sp, seed, 5);
        printf("seed %llu: best simulated cost xgb %.3g, random %.3g\n", (unsigned long long)seed,
               x, r);
        wins += x <= r;
        sum_x += x;
        sum_r += r;
    }
    assert_true(wins >= 4);
    assert_true(sum_x < sum_r);
    matmul_space_free(&ms);
}

static int threads_of_this_process(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Training and scoring leave no thread behind: the measurement children are forked from the
 * tuner, and a multi-threaded XGBoost's OpenMP workers (libgomp state the children inherit)
 * made their kernels' parallel loops run at single-thread speed or below. */
static void test_model_leaves_no_threads(void **state)
{
    (void)state;
    matmul_space ms = matmul_space_new(64, 64, 64, 2);
    assert_int_equal(threads_of_this_process(), 1);
    run("xgb", ms.c, ms.sp, 7, 3); /* 48 measured: the model trained and scored pools twice */
    assert_int_equal(threads_of_this_process(), 1);
    matmul_space_free(&ms);
}

/* A resumed run's schedules (tt_strategy_seen) count as measured: never proposed again. */
static void test_seen_and_errors(void **state)
{
    (void)state;
    matmul_space ms = matmul_space_new(32, 32, 32, 2);
    tt_compute *c = ms.c;
    tt_space *sp = ms.sp;
    tt_strategy *st = NULL;
    assert_int_equal(tt_strategy_new("xgb", sp, 5, &st), 0);
    uint64_t rng = 3, marked[40];
    for (int i = 0; i < 40; i++) {
        tt_schedule *s = NULL;
        assert_int_equal(tt_space_sample(sp, &rng, &s), 0);
        marked[i] = tt_schedule_hash(s);
        assert_int_equal(tt_strategy_seen(st, s, i % 9 == 4 ? INFINITY : simulated_cost(c, s)), 0);
        tt_schedule_free(s);
    }
    tt_schedule **s = NULL;
    int n = 0;
    assert_int_equal(tt_strategy_next(st, 32, &s, &n), 0);
    assert_int_equal(n, 32);
    for (int i = 0; i < n; i++) {
        uint64_t h = tt_schedule_hash(s[i]);
        for (int j = 0; j < 40; j++)
            assert_true(h != marked[j]);
        tt_schedule_free(s[i]);
    }
    free(s);
    tt_strategy_free(st);
    assert_int_equal(tt_strategy_new("xgboost", sp, 5, &st), -1);
    assert_non_null(strstr(tt_get_last_error(), "or xgb"));
    matmul_space_free(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_leaves_no_threads),
        cmocka_unit_test(test_guided_beats_random),
        cmocka_unit_test(test_seen_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
