/* farm/queue.c against a real PostgreSQL: submission (one job per task, idempotent), claims that
 * never give one job to two workers, a claim of a job whose lease expired (a new token; the old
 * one refused everywhere), records written only under a live token, and their export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "farm_test.h"
#include "ir/opjson.h"
#include "logs/db.h"
#include "logs/log.h"
#include "logs/record.h"

static const char op_text[] = "{\"measure\": {\"repeat\": 2},"
                              " \"tasks\": [{\"op\": \"matmul\", \"M\": 64, \"N\": 64, \"K\": 64},"
                              "            {\"op\": \"matmul\", \"M\": 32, \"N\": 32, \"K\": 32}]}";

static tt_farm *open_new(const char **uri_out, tt_opfile **file)
{
    const char *uri = farm_test_db();
    tt_farm *f = NULL;
    assert_int_equal(tt_farm_open(uri, &f), 0);
    if (uri_out)
        *uri_out = uri;
    assert_int_equal(tt_opfile_parse_string(op_text, "op.json", file), 0);
    return f;
}

static void test_submit_is_idempotent(void **state)
{
    (void)state;
    tt_opfile *file = NULL;
    tt_farm *f = open_new(NULL, &file);
    int added = -1, existing = -1;
    assert_int_equal(tt_farm_submit(f, file, 100, "k", NULL, &added, &existing), 0);
    assert_int_equal(added, 2);
    assert_int_equal(existing, 0);
    assert_int_equal(tt_farm_submit(f, file, 100, "k", NULL, &added, &existing), 0);
    assert_int_equal(added, 0);
    assert_int_equal(existing, 2);
    /* Another budget, kind or target is another job. */
    assert_int_equal(tt_farm_submit(f, file, 200, "k", NULL, &added, &existing), 0);
    assert_int_equal(added, 2);
    assert_int_equal(tt_farm_submit(f, file, 100, "k2", NULL, &added, &existing), 0);
    assert_int_equal(added, 2);
    assert_int_equal(
        tt_farm_submit(f, file, 100, "k", "llvm -mtriple=aarch64-linux-gnu", &added, &existing), 0);
    assert_int_equal(added, 2);
    assert_int_equal(
        tt_farm_submit(f, file, 100, "k", "llvm -mtriple=aarch64-linux-gnu", &added, &existing), 0);
    assert_int_equal(added, 0);
    tt_farm_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_job_list(f, &jobs, &n), 0);
    assert_int_equal(n, 8);
    assert_string_equal(jobs[0].key, file->tasks[0].key);
    assert_string_equal(jobs[0].workload, file->tasks[0].canonical_json);
    assert_string_equal(jobs[0].state, "queued");
    assert_null(jobs[0].target);
    assert_int_equal(jobs[0].trials, 100);
    assert_non_null(strstr(jobs[0].measure, "\"repeat\":2"));
    assert_string_equal(jobs[6].target, "llvm -mtriple=aarch64-linux-gnu");
    tt_farm_job_list_free(jobs, n);
    assert_int_equal(tt_farm_submit(f, file, 0, "k", NULL, NULL, NULL), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    tt_opfile_free(file);
    tt_farm_close(f);
}

static void test_claim_needs_a_device_of_the_kind(void **state)
{
    (void)state;
    tt_opfile *file = NULL;
    tt_farm *f = open_new(NULL, &file);
    assert_int_equal(tt_farm_submit(f, file, 10, "k", NULL, NULL, NULL), 0);
    tt_farm_job *j = NULL;
    assert_int_equal(tt_farm_job_claim(f, "w1", 60, &j), 0);
    assert_null(j); /* no device of kind k */
    int64_t open = -1, waiting = -1;
    assert_int_equal(tt_farm_job_pending(f, &open, &waiting, NULL), 0);
    assert_int_equal(open, 2);
    assert_int_equal(waiting, 2);
    assert_int_equal(tt_farm_device_add(f, "k", "a:1", NULL, NULL), 0);
    assert_int_equal(tt_farm_job_claim(f, "w1", 60, &j), 0);
    assert_non_null(j);
    assert_string_equal(j->state, "running");
    assert_string_equal(j->worker, "w1");
    assert_int_equal(j->attempts, 1);
    assert_int_equal(strlen(j->token), TT_FARM_TOKEN_LEN);
    tt_farm_job *j2 = NULL;
    assert_int_equal(tt_farm_job_claim(f, "w2", 60, &j2), 0);
    assert_non_null(j2);
    assert_true(j2->id != j->id);
    tt_farm_job *j3 = NULL;
    assert_int_equal(tt_farm_job_claim(f, "w3", 60, &j3), 0);
    assert_null(j3);
    assert_int_equal(tt_farm_job_finish(f, j->token, "done", "ok"), 0);
    assert_int_equal(tt_farm_job_finish(f, j->token, "done", "ok"), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_job_finish(f, j2->token, "failed", "no valid candidate"), 0);
    assert_int_equal(tt_farm_job_pending(f, &open, &waiting, NULL), 0);
    assert_int_equal(open, 0);
    assert_int_equal(tt_farm_job_finish(f, j->token, "bogus", NULL), -1);
    tt_farm_job_free(j);
    tt_farm_job_free(j2);
    tt_opfile_free(file);
    tt_farm_close(f);
}

static void make_record(const tt_opfile *file, int64_t trial, double cost, tt_record *r,
                        double *costs, char time[TT_RECORD_TIME_LEN])
{
    costs[0] = cost;
    tt_record_time_now(time);
    *r = (tt_record){.key = file->tasks[0].key,
                     .workload = file->tasks[0].canonical_json,
                     .target = "llvm -mtriple=x86_64-linux-gnu -mcpu=generic",
                     .steps = "[]",
                     .costs = costs,
                     .n_costs = 1,
                     .gflops = 1.0,
                     .time = time,
                     .tuner = "random",
                     .trial = trial,
                     .seed = 1};
}

/* A worker's job lease expires (it died); another worker claims the job with a new token; the
 * first one's renew, progress, record and finish are refused and change nothing. */
static void test_expired_job_is_claimed_again(void **state)
{
    (void)state;
    const char *uri = NULL;
    tt_opfile *file = NULL;
    tt_farm *f = open_new(&uri, &file);
    assert_int_equal(tt_farm_device_add(f, "k", "a:1", NULL, NULL), 0);
    assert_int_equal(tt_farm_submit(f, file, 10, "k", NULL, NULL, NULL), 0);
    tt_db *db = NULL; /* the tuning database on the same server: where records go */
    assert_int_equal(tt_db_open(uri, &db), 0);
    tt_farm_job *dead = NULL, *next = NULL;
    assert_int_equal(tt_farm_job_claim(f, "dead", 60, &dead), 0);
    tt_record r;
    double costs[1];
    char time[TT_RECORD_TIME_LEN];
    make_record(file, 0, 1e-3, &r, costs, time);
    assert_int_equal(tt_farm_record_add(db, dead->token, &r, NULL), 0);
    assert_int_equal(tt_farm_job_progress(f, dead->token, 1, 1.0, "a:1"), 0);

    PGconn *c = farm_test_conn(uri);
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE farm_jobs SET lease_until = now() - interval '1 second' WHERE id = %lld",
             (long long)dead->id);
    farm_test_sql(c, sql);
    double next_expiry = -1;
    assert_int_equal(tt_farm_job_pending(f, NULL, NULL, &next_expiry), 0);
    assert_true(next_expiry == 0);
    /* An expired lease refuses records at once, before anyone took the job over. */
    make_record(file, 1, 2e-3, &r, costs, time);
    assert_int_equal(tt_farm_record_add(db, dead->token, &r, NULL), TT_FARM_LEASE_LOST);

    assert_int_equal(tt_farm_job_claim(f, "alive", 60, &next), 0);
    assert_non_null(next);
    assert_int_equal(next->id, dead->id);
    assert_string_not_equal(next->token, dead->token);
    assert_int_equal(next->attempts, 2);
    assert_int_equal(next->trials_done, 1);
    assert_int_equal(tt_farm_job_renew(f, dead->token, 60), TT_FARM_LEASE_LOST);
    assert_non_null(strstr(tt_get_last_error(), "lease lost"));
    assert_int_equal(tt_farm_job_progress(f, dead->token, 9, 99.0, NULL), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_record_add(db, dead->token, &r, NULL), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_job_finish(f, dead->token, "done", NULL), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_job_renew(f, next->token, 60), 0);
    int added = -1;
    assert_int_equal(tt_farm_record_add(db, next->token, &r, &added), 0);
    assert_int_equal(added, 1);
    assert_int_equal(tt_farm_record_add(db, next->token, &r, &added), 0); /* the same line */
    assert_int_equal(added, 0);
    assert_int_equal(tt_farm_job_progress(f, next->token, 2, 0.5, NULL), 0);

    tt_farm_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_job_list(f, &jobs, &n), 0);
    assert_string_equal(jobs[0].worker, "alive");
    assert_string_equal(jobs[0].state, "running");
    assert_int_equal(jobs[0].trials_done, 2);
    assert_true(jobs[0].best_gflops == 1.0); /* the best is kept */
    tt_farm_job_list_free(jobs, n);
    /* The tuner's verdict (a re-measured winner) replaces it; a stale token cannot. */
    assert_int_equal(tt_farm_job_set_best(f, dead->token, 50.0), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_job_set_best(f, next->token, 0.75), 0);
    assert_int_equal(tt_farm_job_list(f, &jobs, &n), 0);
    assert_true(jobs[0].best_gflops == 0.75);
    tt_farm_job_list_free(jobs, n);

    /* The records: the dead worker's first one and the new worker's, nothing else. */
    char path[] = "/tmp/tt_farm_export_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int64_t exported = -1;
    assert_int_equal(tt_farm_records_export(db, file->tasks[0].key, NULL, path, &exported), 0);
    assert_int_equal(exported, 2);
    tt_record **recs = NULL;
    size_t nrec = 0;
    assert_int_equal(tt_log_read_all(path, TT_LOG_STRICT, &recs, &nrec, NULL), 0);
    assert_int_equal(nrec, 2);
    assert_int_equal(recs[0]->trial, 0);
    assert_int_equal(recs[1]->trial, 1);
    tt_record_array_free(recs, nrec);
    assert_int_equal(
        tt_farm_records_export(db, file->tasks[0].key, "another target", path, &exported), 0);
    assert_int_equal(exported, 0);
    unlink(path);

    assert_int_equal(tt_farm_job_finish(f, next->token, "queued", NULL), 0); /* given back */
    tt_farm_job *again = NULL;
    assert_int_equal(tt_farm_job_claim(f, "third", 60, &again), 0);
    assert_int_equal(again->id, dead->id);
    assert_int_equal(again->attempts, 3);
    tt_farm_job_free(again);
    tt_farm_job_free(dead);
    tt_farm_job_free(next);
    PQfinish(c);
    tt_db_close(db);
    tt_opfile_free(file);
    tt_farm_close(f);
}

/* Workers in several processes claim at once (released together by a pipe): no job twice. */
static void test_concurrent_claims(void **state)
{
    (void)state;
    enum { WORKERS = 4 };
    const char *uri = NULL;
    tt_opfile *file = NULL;
    tt_farm *f = open_new(&uri, &file);
    assert_int_equal(tt_farm_device_add(f, "k", "a:1", NULL, NULL), 0);
    for (int b = 1; b <= 3; b++) /* 6 jobs */
        assert_int_equal(tt_farm_submit(f, file, b, "k", NULL, NULL, NULL), 0);
    int start[2], results[2];
    assert_int_equal(pipe(start), 0);
    assert_int_equal(pipe(results), 0);
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            close(start[1]);
            tt_farm *wf = NULL;
            if (tt_farm_open(uri, &wf))
                _exit(3);
            char go;
            if (read(start[0], &go, 1) != 1)
                _exit(4);
            for (int i = 0; i < 2; i++) {
                tt_farm_job *j = NULL;
                if (tt_farm_job_claim(wf, "w", 60, &j))
                    _exit(5);
                if (!j)
                    break;
                int64_t id = j->id;
                tt_farm_job_free(j);
                if (write(results[1], &id, sizeof id) != (ssize_t)sizeof id)
                    _exit(6);
            }
            tt_farm_close(wf);
            _exit(0);
        }
    }
    close(start[0]);
    close(results[1]);
    char go[WORKERS] = {0};
    assert_int_equal(write(start[1], go, WORKERS), WORKERS);
    close(start[1]);
    for (int w = 0; w < WORKERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    int64_t ids[WORKERS * 2];
    int n = 0;
    while (n < WORKERS * 2 && read(results[0], &ids[n], sizeof ids[n]) == sizeof ids[n])
        n++;
    close(results[0]);
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_true(ids[i] != ids[j]);
    tt_opfile_free(file);
    tt_farm_close(f);
}

/* An idle worker's wait is woken by a submission on another connection (NOTIFY farm). No time
 * bound on success: the wait's own limit (60 s) only makes a broken wake-up fail. */
static void test_submit_wakes_a_waiting_worker(void **state)
{
    (void)state;
    const char *uri = NULL;
    tt_opfile *file = NULL;
    tt_farm *f = open_new(&uri, &file);
    tt_farm *worker = NULL;
    assert_int_equal(tt_farm_open(uri, &worker), 0);
    assert_int_equal(tt_farm_wait(worker, 0), 0); /* LISTENs; nothing yet */
    assert_int_equal(tt_farm_submit(f, file, 5, "k", NULL, NULL, NULL), 0);
    assert_int_equal(tt_farm_wait(worker, 60), 1);
    assert_int_equal(tt_farm_wait(worker, 0), 0); /* taken */
    /* A device added, or released, wakes it too. */
    assert_int_equal(tt_farm_device_add(f, "k", "a:1", NULL, NULL), 0);
    assert_int_equal(tt_farm_wait(worker, 60), 1);
    tt_farm_lease l;
    int got = 0;
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w", 60, &l, &got), 0);
    assert_int_equal(tt_farm_device_release(f, l.token), 0);
    assert_int_equal(tt_farm_wait(worker, 60), 1);
    tt_farm_close(worker);
    tt_opfile_free(file);
    tt_farm_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_is_idempotent),
        cmocka_unit_test(test_claim_needs_a_device_of_the_kind),
        cmocka_unit_test(test_expired_job_is_claimed_again),
        cmocka_unit_test(test_concurrent_claims),
        cmocka_unit_test(test_submit_wakes_a_waiting_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
