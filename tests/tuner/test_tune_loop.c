/* tuner/tune.c through tt_tune_run: a short run's log and database, injected faults as error
 * records, refusing an existing log, resuming (trial numbers go on, nothing measured twice), a
 * stop request, the error streak that ends a task, and bad input. */
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs/db.h"
#include "logs/log.h"
#include "tt/tune.h"
#include "tune_test.h"
#include "tuner/tune_internal.h"

static const char *OPS = "{\"measure\": {\"repeat\": 2, \"min_repeat_ms\": 1, \"timeout_s\": 10},\n"
                         " \"tasks\": [{\"op\": \"matmul\", \"M\": 16, \"N\": 16, \"K\": 16},\n"
                         "           {\"op\": \"expr\", \"name\": \"addmul\", \"weight\": 2,\n"
                         "            \"inputs\": {\"A\": [12, 10], \"B\": [12, 10]},\n"
                         "            \"compute\": \"C[i, j] = A[i, j] * B[i, j] + 1\"}]}";

typedef struct {
    char dir[64], log[128], db[128];
    tt_opfile *file;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/tt-test-loop-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->log, sizeof fx->log, "%s/t.log", fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/t.db", fx->dir);
    assert_int_equal(tt_opfile_parse_string(OPS, "ops.json", &fx->file), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    tt_opfile_free(fx->file);
    free(fx);
    return 0;
}

static void opts(fixture *fx, tt_tune_opts *o, int64_t trials)
{
    tt_tune_opts_default(o);
    o->trials = trials;
    o->log_path = fx->log;
    o->db_path = fx->db;
    o->jobs = 2;
    o->quiet = true;
    o->task_scheduler = "round-robin"; /* the weighted split these tests check */
}

static size_t read_log(const char *path, tt_record ***recs)
{
    size_t n = 0;
    assert_int_equal(tt_log_read_all(path, TT_LOG_STRICT, recs, &n, NULL), 0);
    return n;
}

/* No two records of a workload have the same steps under different trial numbers. */
static void assert_no_repeats(tt_record **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(r[i]->key, r[j]->key) == 0 && strcmp(r[i]->steps, r[j]->steps) == 0 &&
                r[i]->trial != r[j]->trial)
                fail_msg("trials %lld and %lld measured the same schedule %s",
                         (long long)r[i]->trial, (long long)r[j]->trial, r[i]->steps);
}

static void test_run_and_resume(void **state)
{
    fixture *fx = *state;
    tt_tune_opts o;
    opts(fx, &o, 9);
    o.faults = "segv@2,wrong@4,build_error@5";
    tt_tune_result r;
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    assert_int_equal(r.status, TT_TUNE_FINISHED);
    assert_int_equal(r.ntasks, 2);
    assert_int_equal(r.trials_run, 9);
    /* Weights 1 and 2: 3 and 6 trials. */
    assert_int_equal(r.tasks[0].trials, 3);
    assert_int_equal(r.tasks[1].trials, 6);
    for (int i = 0; i < 2; i++) {
        assert_true(isfinite(r.tasks[i].best_cost));
        assert_true(r.tasks[i].best_gflops > 0);
        assert_non_null(r.tasks[i].best_steps);
    }
    int64_t run_id = r.run_id;
    assert_true(run_id >= 1);
    tt_tune_result_free(&r);

    tt_record **recs = NULL;
    size_t n = read_log(fx->log, &recs);
    assert_int_equal(n, 9 + 2); /* and each task's winner once more */
    int seen_codes = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(recs[i]->seed, 1);
        assert_string_equal(recs[i]->tuner, "xgb"); /* the default tuner */
        if (recs[i]->trial == 2)
            assert_int_equal(recs[i]->error, 3), seen_codes |= 1;
        if (recs[i]->trial == 4)
            assert_int_equal(recs[i]->error, 4), seen_codes |= 2;
        if (recs[i]->trial == 5)
            assert_int_equal(recs[i]->error, 2), seen_codes |= 4;
        if (recs[i]->error == 0)
            assert_true(recs[i]->gflops > 0 && recs[i]->n_costs >= 1 && recs[i]->n_costs <= 2);
    }
    /* A fault may hit an invalid schedule (code 1) instead; the stub space makes some. */
    (void)seen_codes;
    assert_no_repeats(recs, n);
    tt_record_array_free(recs, n);

    tt_db *db = NULL;
    assert_int_equal(tt_db_open(fx->db, &db), 0);
    tt_db_run *run = NULL;
    assert_int_equal(tt_db_run_get(db, run_id, &run), 0);
    assert_int_equal(run->status, TT_RUN_FINISHED);
    assert_int_equal(run->trials_done, 9);
    assert_int_equal(run->trials_asked, 9);
    free(run);
    tt_db_counts counts;
    assert_int_equal(tt_db_stats(db, &counts), 0);
    assert_int_equal(counts.records, 11);
    tt_db_close(db);

    /* Without --resume the log is not touched. */
    struct stat before, after;
    assert_int_equal(stat(fx->log, &before), 0);
    opts(fx, &o, 12);
    assert_fails_with(tt_tune_run(fx->file, &o, &r), "pass --resume");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    tt_tune_result_free(&r);
    assert_int_equal(stat(fx->log, &after), 0);
    assert_int_equal(before.st_size, after.st_size);

    /* Resumed with a larger budget: 3 more trials, numbered from 9. */
    o.resume = true;
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    assert_int_equal(r.status, TT_TUNE_FINISHED);
    assert_int_equal(r.trials_run, 3);
    assert_int_equal(r.tasks[0].trials + r.tasks[1].trials, 12);
    tt_tune_result_free(&r);
    n = read_log(fx->log, &recs);
    int64_t max_trial = -1;
    for (size_t i = 0; i < n; i++)
        if (recs[i]->trial > max_trial)
            max_trial = recs[i]->trial;
    assert_int_equal(max_trial, 11);
    assert_no_repeats(recs, n);
    tt_record_array_free(recs, n);

    /* Resumed again with the budget spent: nothing measured, the winners are logged already. */
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    assert_int_equal(r.trials_run, 0);
    tt_tune_result_free(&r);
    size_t n2 = read_log(fx->log, &recs);
    tt_record_array_free(recs, n2);
    assert_int_equal(n2, n);
}

static void test_stop_and_errors(void **state)
{
    fixture *fx = *state;
    tt_tune_opts o;
    opts(fx, &o, 6);
    volatile sig_atomic_t stop = 1;
    o.stop = &stop;
    tt_tune_result r;
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    assert_int_equal(r.status, TT_TUNE_INTERRUPTED);
    assert_int_equal(r.trials_run, 0);
    tt_db *db = NULL;
    assert_int_equal(tt_db_open(fx->db, &db), 0);
    tt_db_run *run = NULL;
    assert_int_equal(tt_db_run_get(db, r.run_id, &run), 0);
    assert_int_equal(run->status, TT_RUN_INTERRUPTED);
    free(run);
    tt_db_close(db);
    tt_tune_result_free(&r);

    /* Every build fails: the first task stops after 3 in a row, with the reason. */
    opts(fx, &o, 8);
    o.resume = true;
    o.db_path = NULL;
    o.max_errors_in_row = 3;
    o.faults = "build_error@0,build_error@1,build_error@2,build_error@3,build_error@4,"
               "build_error@5,build_error@6,build_error@7";
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    assert_int_equal(r.status, TT_TUNE_FAILED);
    int stopped = 0;
    for (int i = 0; i < r.ntasks; i++) {
        if (r.tasks[i].end == TT_TUNE_TASK_TOO_MANY_ERRORS) {
            stopped++;
            assert_contains(r.tasks[i].diagnosis, "3 failed candidates in a row");
        }
    }
    assert_true(stopped >= 1);
    tt_tune_result_free(&r);
}

/* Early stopping ends tasks in the middle of a batch: the trial numbers stay contiguous. */
static void test_early_stop(void **state)
{
    fixture *fx = *state;
    tt_tune_opts o;
    opts(fx, &o, 12);
    o.early_stopping = 1;
    o.db_path = NULL;
    tt_tune_result r;
    assert_int_equal(tt_tune_run(fx->file, &o, &r), 0);
    int early = 0;
    for (int i = 0; i < r.ntasks; i++)
        early += r.tasks[i].end == TT_TUNE_TASK_EARLY_STOP;
    int64_t run = r.trials_run;
    tt_tune_result_free(&r);
    tt_record **recs = NULL;
    size_t n = read_log(fx->log, &recs);
    char seen[64] = {0};
    int64_t max_trial = -1;
    for (size_t i = 0; i < n; i++) {
        assert_true(recs[i]->trial >= 0 && recs[i]->trial < 64);
        seen[recs[i]->trial] = 1;
        if (recs[i]->trial > max_trial)
            max_trial = recs[i]->trial;
    }
    tt_record_array_free(recs, n);
    assert_int_equal(max_trial + 1, run);
    for (int64_t i = 0; i < run; i++)
        assert_true(seen[i]);
    if (run < 12)
        assert_true(early >= 1);
}

static void test_bad_input(void **state)
{
    fixture *fx = *state;
    tt_tune_opts o;
    tt_tune_result r;
    opts(fx, &o, 4);
    char db[200];
    snprintf(db, sizeof db, "%s/no/such/dir/t.db", fx->dir);
    o.db_path = db;
    assert_int_equal(tt_tune_run(fx->file, &o, &r), -1);
    /* the category survives the run's cleanup, which closes files and frees the tasks */
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    assert_contains(tt_get_last_error(), "--db");
    tt_tune_result_free(&r);
    assert_int_equal(access(fx->log, F_OK), -1); /* nothing written */

    opts(fx, &o, 4);
    o.target = "llvm -mtriple=aarch64-linux-gnu";
    assert_fails_with(tt_tune_run(fx->file, &o, &r), "does not run on this machine");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNSUPPORTED);
    tt_tune_result_free(&r);

    opts(fx, &o, 4);
    o.tuner = "bogus";
    assert_fails_with(tt_tune_run(fx->file, &o, &r), "--tuner bogus: expected xgb, ga, random");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    tt_tune_result_free(&r);

    opts(fx, &o, 4);
    o.faults = "segv@";
    assert_fails_with(tt_tune_run(fx->file, &o, &r), "TT_FAULT_INJECT");
    /* the fault parser gives no category: setup counts it as the user's */
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    tt_tune_result_free(&r);

    opts(fx, &o, 4);
    o.log_path = fx->dir;
    assert_fails_with(tt_tune_run(fx->file, &o, &r), "not a regular file");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    tt_tune_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
