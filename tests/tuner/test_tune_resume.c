/* tuner/tune_resume.c: what a resumed run reads back from its log (per-task candidates, the
 * winner's re-measurement, errors, the next trial number) and which records it ignores. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs/log.h"
#include "tune_test.h"
#include "tuner/tune_internal.h"

static const char *T1 = "llvm -mtriple=x86_64-linux-gnu -mcpu=generic";
static const char *STEPS_A = "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]}]";
/* The same schedule spelt with other key order and spaces. */
static const char *STEPS_A2 =
    "[ {\"factors\": [4], \"loop\": \"i\", \"stage\": \"C\", \"s\": \"split\"} ]";
static const char *STEPS_B = "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[2]}]";

static void add(tt_log *log, const char *key, const char *target, const char *steps, int error,
                int64_t trial, double cost)
{
    double costs[2] = {cost, cost};
    tt_record r = {.key = key,
                   .workload = "{\"op\":\"matmul\"}",
                   .target = target,
                   .steps = steps,
                   .costs = error ? NULL : costs,
                   .n_costs = error ? 0 : 2,
                   .error = error,
                   .error_msg = error ? "killed by signal 11" : "",
                   .time = "2026-11-24T18:00:00Z",
                   .tuner = "ga",
                   .trial = trial,
                   .seed = 1};
    assert_int_equal(tt_log_append(log, &r), 0);
}

static void make_path(char *dir, char *path, size_t len, const char *name)
{
    strcpy(dir, "/tmp/tt-test-resume-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, len, "%s/%s", dir, name);
}

static void test_history(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_path(dir, path, sizeof path, "t.log");
    tt_log *log = NULL;
    assert_int_equal(tt_log_open_append(path, &log), 0);
    add(log, "mm-1", T1, STEPS_A, 0, 0, 2e-3);
    add(log, "mm-1", T1, STEPS_B, 3, 1, 0);
    add(log, "conv-2", T1, STEPS_A, 0, 2, 5e-3);
    add(log, "mm-1", "llvm -mtriple=aarch64-linux-gnu", STEPS_B, 0, 40, 1e-3); /* other target */
    add(log, "other-3", T1, STEPS_B, 0, 30, 1e-3);                             /* other workload */
    add(log, "mm-1", T1, STEPS_A2, 0, 0, 1.5e-3); /* the winner, measured again */
    tt_log_close(log);
    /* A crash in the middle of the next line. */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"v\":1,\"key\":\"mm-1\",\"wor", 24), 24);
    close(fd);

    tt_tune_history h[2] = {{.key = "mm-1"}, {.key = "conv-2"}};
    int64_t next = -1;
    tt_log_stats stats;
    assert_int_equal(tt_tune_history_read(path, T1, h, 2, &next, &stats), 0);
    assert_int_equal(next, 3);
    assert_int_equal(h[0].n, 2);
    assert_int_equal(h[0].errors, 1);
    assert_true(h[0].winner_logged);
    assert_int_equal(h[0].past[0].trial, 0);
    assert_true(fabs(h[0].past[0].cost - 1.5e-3) < 1e-12); /* the re-measured one */
    assert_int_equal(h[0].past[1].error, 3);
    assert_true(isinf(h[0].past[1].cost));
    assert_int_equal(h[1].n, 1);
    assert_false(h[1].winner_logged);
    assert_int_equal(h[1].past[0].trial, 2);
    assert_int_equal(stats.skipped, 1);
    assert_non_null(stats.warnings);
    assert_contains(stats.warnings, "t.log:7");
    tt_log_stats_free(&stats);
    tt_tune_history_free(h, 2);
    unlink(path);
    rmdir(dir);
}

static void test_missing_and_bad(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_path(dir, path, sizeof path, "none.log");
    tt_tune_history h[1] = {{.key = "mm-1"}};
    int64_t next = -1;
    assert_int_equal(tt_tune_history_read(path, T1, h, 1, &next, NULL), 0);
    assert_int_equal(next, 0);
    assert_int_equal(h[0].n, 0);
    /* A log of other workloads only is refused, not appended to. */
    tt_log *log = NULL;
    assert_int_equal(tt_log_open_append(path, &log), 0);
    add(log, "other-3", T1, STEPS_B, 0, 0, 1e-3);
    add(log, "other-4", T1, STEPS_B, 0, 1, 1e-3);
    tt_log_close(log);
    assert_fails_with(tt_tune_history_read(path, T1, h, 1, &next, NULL),
                      "holds 2 records, none of them of these tasks (it is a log of other-3 and "
                      "others)");
    unlink(path);
    /* A directory is no log. */
    assert_fails_with(tt_tune_history_read(dir, T1, h, 1, &next, NULL), "not a regular file");
    /* A corrupt line in the middle is an error naming its line. */
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    log = NULL;
    assert_int_equal(tt_log_open_append(path, &log), 0);
    add(log, "mm-1", T1, STEPS_A, 0, 0, 2e-3);
    tt_log_close(log);
    assert_fails_with(tt_tune_history_read(path, T1, h, 1, &next, NULL), "none.log:1");
    tt_tune_history_free(h, 1);
    unlink(path);
    rmdir(dir);
}

static void test_steps_hash(void **state)
{
    (void)state;
    uint64_t a, a2, b;
    char *canon = NULL;
    assert_int_equal(tt_tune_steps_hash(STEPS_A, &a, &canon), 0);
    assert_string_equal(canon, STEPS_A);
    free(canon);
    assert_int_equal(tt_tune_steps_hash(STEPS_A2, &a2, NULL), 0);
    assert_int_equal(tt_tune_steps_hash(STEPS_B, &b, NULL), 0);
    assert_true(a == a2);
    assert_true(a != b);
    assert_int_equal(tt_tune_steps_hash("[{", &a, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_missing_and_bad),
        cmocka_unit_test(test_steps_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
