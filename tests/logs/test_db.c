/* Tests the tuning database (logs/db*.c) on either engine (db_test.h: logs.test_db on SQLite
 * files, logs.test_db_pg on the fixture's PostgreSQL): idempotent import, best-k against a naive
 * reference, export, the runs lifecycle, merge (also across engines), devices, four processes
 * writing one database at once, guarded writes; and per engine the refusal of databases that are
 * not ours (untouched), the migration of a version-1 SQLite file, simultaneous creation,
 * passwords that no message shows, connection failures and malformed URIs. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_test.h"
#include "logs/db.h"

/* A spread of records over 3 workloads x 2 targets with pseudo-random costs and some errors. */
#define N_RECORDS 60
typedef struct {
    tt_record r;
    double costs[3];
    char key[64], workload[128], steps[64], time[32];
} generated;

static const char *const targets[] = {"llvm -mcpu=znver4", "llvm -mtriple=aarch64-linux-gnu"};

static void make_generated(generated *g, int i)
{
    g->r = sample_record();
    int w = i % 3;
    snprintf(g->key, sizeof g->key, "matmul_%dx64x64_f32-%08x", 64 << w, 0xabc0 + w);
    snprintf(g->workload, sizeof g->workload,
             "{\"op\":\"matmul\",\"M\":%d,\"N\":64,\"K\":64,\"dtype\":\"float32\"}", 64 << w);
    snprintf(g->steps, sizeof g->steps, "[[\"split\",\"i\",[%d,4]]]", i);
    snprintf(g->time, sizeof g->time, "2026-11-23T18:%02d:%02dZ", i / 60, i % 60);
    /* (i * 37) mod 101 is a permutation: distinct costs, not in insertion order. */
    double base = 0.001 * (1 + (i * 37) % 101);
    g->costs[0] = base * 1.01;
    g->costs[1] = base;
    g->costs[2] = base * 0.99;
    g->r.key = g->key;
    g->r.workload = g->workload;
    g->r.target = targets[(i / 3) % 2];
    g->r.steps = g->steps;
    g->r.costs = g->costs;
    g->r.time = g->time;
    g->r.trial = i;
    if (i % 5 == 4) { /* errors, some of them with a cheap-looking base */
        g->r.error = TT_OUTCOME_COMPILE_ERROR;
        g->r.error_msg = "undefined symbol";
        g->r.n_costs = 0;
        g->r.gflops = 0;
    }
}

static void write_generated_log(const char *path)
{
    tt_log *log;
    assert_ok(tt_log_open_append(path, &log));
    for (int i = 0; i < N_RECORDS; i++) {
        generated g;
        make_generated(&g, i);
        assert_ok(tt_log_append(log, &g.r));
    }
    assert_ok(tt_log_close(log));
}

static void test_import_twice_adds_nothing(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *log = path_in(dir, "tune.log");
    write_generated_log(log);
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    size_t added = 99, skipped = 99;
    assert_ok(tt_db_import_log(db, log, &added, &skipped));
    assert_int_equal(added, N_RECORDS);
    assert_int_equal(skipped, 0);
    assert_ok(tt_db_import_log(db, log, &added, &skipped));
    assert_int_equal(added, 0);
    assert_int_equal(skipped, N_RECORDS);
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, N_RECORDS);
    assert_int_equal(c.errors, N_RECORDS / 5);
    assert_int_equal(c.workloads, 3);
    assert_int_equal(c.targets, 2);
    /* Adding one of them by hand is a duplicate too, even with its steps spelled differently. */
    generated g;
    make_generated(&g, 7);
    g.r.steps = "[ [\"split\", \"i\", [7, 4]] ]";
    int was_added = -1;
    assert_ok(tt_db_add_record(db, &g.r, 0, &was_added));
    assert_int_equal(was_added, 0);
    g.r.trial = 1000;
    assert_ok(tt_db_add_record(db, &g.r, 0, &was_added));
    assert_int_equal(was_added, 1);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

static void test_import_errors(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *log = path_in(dir, "tune.log");
    write_generated_log(log);
    write_file(log, "a", "{\"v\":1}\n");
    write_generated_log(log); /* same records again: duplicates after the bad line */
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    size_t added, skipped;
    char where[700];
    snprintf(where, sizeof where, "%s:%d: missing field \"key\"", log, N_RECORDS + 1);
    assert_fails_with(tt_db_import_log(db, log, &added, &skipped), where);
    assert_contains(tt_get_last_error(), "records added before the error");
    /* the CLI's exit code comes from this: a malformed line is bad input */
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    /* Tolerant: the bad line is a warning, the rest are duplicates. */
    tt_log_stats st;
    assert_ok(tt_db_import_log_mode(db, log, TT_LOG_TOLERANT, &st, &added, &skipped));
    assert_int_equal(added + skipped, 2 * N_RECORDS);
    assert_int_equal(st.warnings_count, 1);
    tt_log_stats_free(&st);
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, N_RECORDS);
    /* A key that names another workload is refused. */
    generated g;
    make_generated(&g, 0);
    g.r.workload = "{\"op\":\"matmul\",\"M\":1,\"N\":1,\"K\":1}";
    g.r.trial = 5000;
    assert_fails_with(tt_db_add_record(db, &g.r, 0, NULL), "already names a different workload");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    /* An invalid record is refused with the field named. */
    make_generated(&g, 0);
    g.r.target = "";
    assert_fails_with(tt_db_add_record(db, &g.r, 0, NULL), "field \"target\"");
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, N_RECORDS);
    assert_fails_with(tt_db_import_log(db, path_in(dir, "absent.log"), NULL, NULL),
                      "No such file or directory");
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

typedef struct {
    const char *key, *target;
    double cost;
    int trial;
} expected;

static int by_group_then_cost(const void *a, const void *b)
{
    const expected *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (!c)
        c = strcmp(x->target, y->target);
    if (!c)
        c = (x->cost > y->cost) - (x->cost < y->cost);
    return c ? c : x->trial - y->trial;
}

/* The naive reference: sort all error-free records by group and cost, keep k per group. */
static size_t reference_best(generated *all, size_t k, const char *key, expected *out)
{
    size_t n = 0;
    for (int i = 0; i < N_RECORDS; i++) {
        if (all[i].r.error || (key && strcmp(all[i].r.key, key) != 0))
            continue;
        out[n++] = (expected){all[i].r.key, all[i].r.target, tt_record_cost(&all[i].r), i};
    }
    qsort(out, n, sizeof *out, by_group_then_cost);
    size_t kept = 0, in_group = 0;
    for (size_t i = 0; i < n; i++) {
        int same = i > 0 && strcmp(out[i].key, out[i - 1].key) == 0 &&
                   strcmp(out[i].target, out[i - 1].target) == 0;
        in_group = same ? in_group + 1 : 0;
        if (k == 0 || in_group < k)
            out[kept++] = out[i];
    }
    return kept;
}

static void assert_best(tt_db *db, generated *all, const char *key, size_t k)
{
    expected ref[N_RECORDS];
    size_t n_ref = reference_best(all, k, key, ref);
    tt_record **best;
    size_t n;
    assert_ok(tt_db_best(db, key, NULL, k, &best, &n));
    assert_int_equal(n, n_ref);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(best[i]->key, ref[i].key);
        assert_string_equal(best[i]->target, ref[i].target);
        assert_int_equal(best[i]->trial, ref[i].trial);
        assert_int_equal(best[i]->error, TT_OUTCOME_OK);
        assert_true(tt_record_cost(best[i]) == ref[i].cost);
        /* The record comes back whole. */
        char *a, *b;
        assert_ok(tt_record_encode(best[i], &a));
        assert_ok(tt_record_encode(&all[ref[i].trial].r, &b));
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    tt_record_array_free(best, n);
}

static void test_best_k(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    generated all[N_RECORDS];
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    for (int i = 0; i < N_RECORDS; i++) {
        make_generated(&all[i], i);
        assert_ok(tt_db_add_record(db, &all[i].r, 0, NULL));
    }
    assert_best(db, all, NULL, 1);
    assert_best(db, all, NULL, 3);
    assert_best(db, all, NULL, 0);
    assert_best(db, all, all[1].r.key, 2);
    /* Target filter and an unknown key. */
    tt_record **best;
    size_t n;
    assert_ok(tt_db_best(db, all[0].r.key, targets[1], 1, &best, &n));
    assert_int_equal(n, 1);
    assert_string_equal(best[0]->target, targets[1]);
    tt_record_array_free(best, n);
    assert_ok(tt_db_best(db, "nothing-here", NULL, 5, &best, &n));
    assert_int_equal(n, 0);
    tt_record_array_free(best, n);
    /* An error record never wins, however the table orders NULL costs. */
    generated e;
    make_generated(&e, 4);
    e.r.trial = 777;
    assert_ok(tt_db_add_record(db, &e.r, 0, NULL));
    assert_best(db, all, NULL, 1);
    /* A row that cannot be read stops the reading half-way (PostgreSQL: rows still arriving);
     * the connection then takes the next statement. */
    assert_ok(raw_exec(db_at(dir, "tuning.db"),
                       "UPDATE records SET costs = 'not json' WHERE trial = 30"));
    assert_fails_with(tt_db_best(db, NULL, NULL, 0, &best, &n), "costs column is not a JSON array");
    assert_fails_with(tt_db_export(db, path_in(dir, "x.log"), 0, NULL), "not a JSON array");
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, N_RECORDS + 1);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

static void test_export_best(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *log = path_in(dir, "tune.log");
    write_generated_log(log);
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    assert_ok(tt_db_import_log(db, log, NULL, NULL));
    /* export --best 2: the file is exactly the best-2 records, line by line. */
    const char *out = path_in(dir, "best.log");
    size_t written;
    assert_ok(tt_db_export(db, out, 2, &written));
    tt_record **best, **read;
    size_t n_best, n_read;
    assert_ok(tt_db_best(db, NULL, NULL, 2, &best, &n_best));
    assert_int_equal(written, n_best);
    assert_int_equal(n_best, 3 * 2 * 2); /* 3 workloads x 2 targets x 2 */
    tt_log_stats st;
    assert_ok(tt_log_read_all(out, TT_LOG_STRICT, &read, &n_read, &st));
    assert_int_equal(n_read, n_best);
    assert_null(st.warnings);
    for (size_t i = 0; i < n_read; i++) {
        char *a, *b;
        assert_ok(tt_record_encode(read[i], &a));
        assert_ok(tt_record_encode(best[i], &b));
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    tt_record_array_free(best, n_best);
    tt_record_array_free(read, n_read);
    /* export of everything (K = 0) reproduces the log byte for byte: same records, same order,
     * errors included. */
    const char *all = path_in(dir, "all.log");
    assert_ok(tt_db_export(db, all, 0, &written));
    assert_int_equal(written, N_RECORDS);
    char *a = slurp(log, NULL), *b = slurp(all, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* Exporting over an existing file replaces it. */
    assert_ok(tt_db_export(db, all, 1, &written));
    assert_int_equal(written, 6);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/nodir/x.log", dir);
    assert_fails_with(tt_db_export(db, bad, 1, NULL), "No such file or directory");
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

static void test_runs_lifecycle(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    int64_t id, id2;
    assert_ok(tt_db_run_begin(db, "op.json", "llvm -mcpu=znver4", "xgb", 2000, &id));
    assert_true(id >= 1);
    tt_db_run *run;
    assert_ok(tt_db_run_get(db, id, &run));
    assert_string_equal(run->op_file, "op.json");
    assert_string_equal(run->target, "llvm -mcpu=znver4");
    assert_string_equal(run->tuner, "xgb");
    assert_int_equal(run->trials_asked, 2000);
    assert_int_equal(run->trials_done, 0);
    assert_int_equal(run->status, TT_RUN_RUNNING);
    assert_string_equal(run->end_time, "");
    assert_int_equal(strlen(run->start_time), 24); /* 2026-11-23T18:00:00.000Z */
    free(run);
    assert_ok(tt_db_run_update(db, id, 64));
    assert_ok(tt_db_run_update(db, id, 128));
    assert_ok(tt_db_run_get(db, id, &run));
    assert_int_equal(run->trials_done, 128);
    assert_int_equal(run->status, TT_RUN_RUNNING);
    free(run);
    /* Records carry their run. */
    generated g;
    make_generated(&g, 0);
    assert_ok(tt_db_add_record(db, &g.r, id, NULL));
    assert_ok(tt_db_run_end(db, id, TT_RUN_FINISHED));
    assert_ok(tt_db_run_get(db, id, &run));
    assert_int_equal(run->status, TT_RUN_FINISHED);
    assert_int_equal(strlen(run->end_time), 24);
    assert_true(strcmp(run->end_time, run->start_time) >= 0);
    free(run);
    assert_ok(tt_db_run_begin(db, "op.json", "llvm", "random", 10, &id2));
    assert_true(id2 > id);
    assert_ok(tt_db_run_end(db, id2, TT_RUN_INTERRUPTED));
    int64_t id3;
    assert_ok(tt_db_run_begin(db, "other.json", "llvm", "grid", 0, &id3));
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.runs[TT_RUN_RUNNING], 1);
    assert_int_equal(c.runs[TT_RUN_FINISHED], 1);
    assert_int_equal(c.runs[TT_RUN_INTERRUPTED], 1);
    /* Errors. */
    assert_fails_with(tt_db_run_end(db, id3, TT_RUN_RUNNING), "finished or interrupted");
    assert_fails_with(tt_db_run_update(db, 999, 1), "run 999 not found");
    assert_fails_with(tt_db_run_end(db, 999, TT_RUN_FINISHED), "run 999 not found");
    assert_fails_with(tt_db_run_get(db, 999, &run), "run 999 not found");
    assert_fails_with(tt_db_run_update(db, id3, -1), "trials done must be >= 0");
    assert_fails_with(tt_db_run_begin(db, "x", "y", "z", -5, &id), "trials asked must be >= 0");
    assert_string_equal(tt_run_status_name(TT_RUN_INTERRUPTED), "interrupted");
    assert_null(tt_run_status_name(3));
    /* The CHECK constraint guards the table against other writers too. */
    assert_int_not_equal(raw_exec(db_at(dir, "tuning.db"), "UPDATE runs SET status = 'done'"), 0);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

#if !DB_PG
/* The records table's CHECK on "error" is the outcome table's range: a new database takes every
 * outcome and nothing else, and its text is the one databases were created with (BETWEEN 0 AND
 * 7), so the databases of earlier versions have the same schema. */
static void test_outcome_check_is_the_table(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tuning.db");
    tt_db *db;
    assert_ok(tt_db_open(path, &db));
    tt_record r = sample_record();
    assert_ok(tt_db_add_record(db, &r, 0, NULL));
    assert_ok(tt_db_close(db));
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT sql FROM sqlite_master WHERE name = 'records'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_contains((const char *)sqlite3_column_text(st, 0), "CHECK (error BETWEEN 0 AND 8)");
    sqlite3_finalize(st);
    char sql[96];
    for (int code = -1; code <= TT_OUTCOME_COUNT; code++) {
        snprintf(sql, sizeof sql, "UPDATE records SET error = %d", code);
        int ok = sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK;
        assert_int_equal(ok, code >= 0 && code < TT_OUTCOME_COUNT);
    }
    sqlite3_close(h);
    remove_tree(dir);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void assert_refused_untouched(const char *path, const char *fragment)
{
    size_t len_before, len_after;
    char *before = slurp(path, &len_before);
    assert_non_null(before);
    tt_db *db = (tt_db *)0x1;
    assert_fails_with(tt_db_open(path, &db), fragment);
    assert_null(db);
    char *after = slurp(path, &len_after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    char side[700];
    snprintf(side, sizeof side, "%s-wal", path);
    assert_false(exists(side));
    snprintf(side, sizeof side, "%s-journal", path);
    assert_false(exists(side));
    free(before);
    free(after);
}

static void test_foreign_files_are_refused_untouched(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *text = path_in(dir, "notes.txt");
    FILE *f = fopen(text, "w");
    for (int i = 0; i < 200; i++)
        fprintf(f, "line %d of something that is not a database\n", i);
    fclose(f);
    char expect[800];
    snprintf(expect, sizeof expect, "'%s' is not a tvm-tune database", text);
    assert_refused_untouched(text, expect);
    const char *tiny = path_in(dir, "tiny");
    write_file(tiny, "w", "hi\n");
    assert_refused_untouched(tiny, "not a tvm-tune database");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    /* An SQLite database of another application. */
    const char *other = path_in(dir, "other.db");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(other, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);
    assert_refused_untouched(other, "not a tvm-tune database (an SQLite database of another");
    /* A missing directory, a directory. */
    char path[700];
    snprintf(path, sizeof path, "%s/nodir/tuning.db", dir);
    tt_db *db;
    snprintf(expect, sizeof expect, "cannot open database '%s': No such file or directory", path);
    assert_int_equal(tt_db_open(path, &db), -1);
    assert_string_equal(tt_get_last_error(), expect);
    assert_fails_with(tt_db_open(dir, &db), "is a directory");
    /* Merging refuses the same files and leaves them as they were. */
    assert_ok(tt_db_open(path_in(dir, "tuning.db"), &db));
    size_t len_before, len_after;
    char *before = slurp(text, &len_before);
    assert_fails_with(tt_db_merge(db, text, NULL), "not a tvm-tune database");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    char *after = slurp(text, &len_after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    free(before);
    free(after);
    assert_fails_with(tt_db_merge(db, other, NULL), "another application");
    assert_fails_with(tt_db_merge(db, path, NULL), "No such file or directory");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    assert_false(exists(path));
    assert_fails_with(tt_db_merge(db, path_in(dir, "tuning.db"), NULL), "into itself");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    assert_ok(tt_db_close(db));
    /* Reopening our own database works and keeps its content. */
    assert_ok(tt_db_open(path_in(dir, "tuning.db"), &db));
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}
#endif

static void test_merge(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    tt_db *a, *b;
    assert_ok(tt_db_open(db_at(dir, "a.db"), &a));
    assert_ok(tt_db_open(db_at(dir, "b.db"), &b));
    int64_t run_a, run_b;
    assert_ok(tt_db_run_begin(a, "op.json", "llvm", "xgb", 40, &run_a));
    assert_ok(tt_db_run_begin(b, "op.json", "llvm", "random", 40, &run_b));
    assert_ok(tt_db_run_end(b, run_b, TT_RUN_FINISHED));
    /* a holds 0..39, b holds 20..59: 20 in common. */
    for (int i = 0; i < N_RECORDS; i++) {
        generated g;
        make_generated(&g, i);
        if (i < 40)
            assert_ok(tt_db_add_record(a, &g.r, run_a, NULL));
        if (i >= 20)
            assert_ok(tt_db_add_record(b, &g.r, run_b, NULL));
    }
    assert_ok(tt_db_close(b));
    size_t added;
    assert_ok(tt_db_merge(a, db_at(dir, "b.db"), &added));
    assert_int_equal(added, 20);
    assert_ok(tt_db_merge(a, db_at(dir, "b.db"), &added));
    assert_int_equal(added, 0);
    tt_db_counts c;
    assert_ok(tt_db_stats(a, &c));
    assert_int_equal(c.records, N_RECORDS);
    assert_int_equal(c.workloads, 3);
    assert_int_equal(c.runs[TT_RUN_RUNNING], 1);
    assert_int_equal(c.runs[TT_RUN_FINISHED], 1); /* b's run, once */
    /* The merged records point at the merged run. */
    assert_ok(tt_db_close(a));
    assert_int_equal(raw_int(db_at(dir, "a.db"), "SELECT count(*) FROM records r JOIN runs u"
                                                 " ON u.id = r.run_id WHERE u.tuner = 'random'"),
                     20);
    /* Best over the merged database equals best over one built from everything. */
    tt_db *all;
    assert_ok(tt_db_open(db_at(dir, "all.db"), &all));
    for (int i = 0; i < N_RECORDS; i++) {
        generated g;
        make_generated(&g, i);
        assert_ok(tt_db_add_record(all, &g.r, 0, NULL));
    }
    assert_ok(tt_db_export(all, path_in(dir, "all.log"), 2, NULL));
    assert_ok(tt_db_close(all));
    assert_ok(tt_db_open(db_at(dir, "a.db"), &a));
    assert_ok(tt_db_export(a, path_in(dir, "a.log"), 2, NULL));
    assert_ok(tt_db_close(a));
    char *x = slurp(path_in(dir, "all.log"), NULL), *y = slurp(path_in(dir, "a.log"), NULL);
    assert_string_equal(x, y);
    free(x);
    free(y);
    remove_tree(dir);
}

static void test_four_processes_lose_nothing(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = db_at(dir, "tuning.db");
    tt_db *db;
    assert_ok(tt_db_open(path, &db));
    assert_ok(tt_db_close(db));
    enum { PER_CHILD = 300 };
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            tt_db *mine;
            if (tt_db_open(path, &mine)) {
                fprintf(stderr, "child %d: %s\n", k, tt_get_last_error());
                _exit(1);
            }
            int64_t run;
            if (tt_db_run_begin(mine, "op.json", "llvm", "random", PER_CHILD, &run))
                _exit(2);
            for (int i = 0; i < PER_CHILD; i++) {
                generated g;
                make_generated(&g, i % N_RECORDS);
                g.r.trial = k * PER_CHILD + i;
                g.r.seed = k;
                int added;
                if (tt_db_add_record(mine, &g.r, run, &added) || !added) {
                    fprintf(stderr, "child %d, record %d: %s\n", k, i, tt_get_last_error());
                    _exit(3);
                }
                if (i % 100 == 99 && tt_db_run_update(mine, run, i + 1))
                    _exit(4);
            }
            if (tt_db_run_end(mine, run, TT_RUN_FINISHED) || tt_db_close(mine))
                _exit(5);
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_ok(tt_db_open(path, &db));
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, 4 * PER_CHILD);
    assert_int_equal(c.runs[TT_RUN_FINISHED], 4);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

/* kids processes open the new database at target at the same moment (released together by
 * closing a pipe they block on); returns how many failed. */
static int open_at_once(const char *target, int kids, int round)
{
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pids[8];
    assert_true(kids <= 8);
    for (int k = 0; k < kids; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            close(gate[1]);
            char c;
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            tt_db *mine;
            if (tt_db_open(target, &mine)) {
                fprintf(stderr, "round %d, child %d: %s\n", round, k, tt_get_last_error());
                _exit(1);
            }
            _exit(tt_db_close(mine) ? 2 : 0);
        }
    }
    close(gate[0]);
    close(gate[1]); /* every child reads end of file now */
    int failed = 0;
    for (int k = 0; k < kids; k++) {
        int status;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    return failed;
}

#if !DB_PG
/* Two processes create the same new database at the same moment: both opens succeed. Switching a
 * new database to WAL took an exclusive lock without SQLite's busy handler, and one of two opens
 * within about 1 ms failed at once with "database is locked" (the once-seen failure of
 * tests/cli/test_tune_concurrent.sh); with the retry in logs/db.c none does. The children are
 * released together by closing a pipe they block on. */
static void test_simultaneous_creation(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    enum { ROUNDS = 200 };
    int failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "new%d.db", round);
        failed += open_at_once(path_in(dir, name), 2, round);
    }
    assert_int_equal(failed, 0);
    remove_tree(dir);
}
#endif

/* A record measured on an RPC device keeps its device through add, best, export and merge. */
static void test_device_round_trip(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "tuning.db"), &db));
    generated g;
    make_generated(&g, 0);
    g.r.device = "board:9090 (cortex-a72, aarch64-linux-gnu)";
    int added;
    assert_ok(tt_db_add_record(db, &g.r, 0, &added));
    assert_int_equal(added, 1);
    make_generated(&g, 1); /* a local one: device "" */
    assert_ok(tt_db_add_record(db, &g.r, 0, &added));
    tt_record **best;
    size_t n;
    assert_ok(tt_db_best(db, NULL, NULL, 0, &best, &n));
    assert_int_equal(n, 2);
    int remote = strcmp(best[0]->device, "") == 0 ? 1 : 0;
    assert_string_equal(best[remote]->device, "board:9090 (cortex-a72, aarch64-linux-gnu)");
    assert_string_equal(best[1 - remote]->device, "");
    tt_record_array_free(best, n);
    const char *out = path_in(dir, "all.log");
    assert_ok(tt_db_export(db, out, 0, NULL));
    char *text = slurp(out, NULL);
    assert_contains(text, "\"device\":\"board:9090 (cortex-a72, aarch64-linux-gnu)\"");
    free(text);
    tt_db *copy;
    assert_ok(tt_db_open(path_in(dir, "copy.db"), &copy));
    size_t merged;
    assert_ok(tt_db_merge(copy, db_at(dir, "tuning.db"), &merged));
    assert_int_equal(merged, 2);
    assert_int_equal(raw_int(path_in(dir, "copy.db"),
                             "SELECT count(*) FROM records WHERE device LIKE 'board:9090%'"),
                     1);
    assert_ok(tt_db_close(copy));
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

/* The guard of a farm worker's write runs in the insert's transaction: a row -> written; no row
 * -> refused (TT_ERR_CONFLICT), nothing written, not even the new workload. SQLite has none. */
static void test_guarded_write(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *target = db_at(dir, "tuning.db");
    tt_db *db;
    assert_ok(tt_db_open(target, &db));
    const char *guard = "SELECT 1 FROM farm_jobs WHERE id = $1 AND lease_token = $2"
                        " AND lease_until > now() FOR SHARE";
    const char *mine[] = {"1", "token-a"}, *stolen[] = {"1", "token-b"};
    generated g;
    make_generated(&g, 0);
    int added = -1;
    if (!DB_PG) {
        assert_int_equal(tt_db_is_postgres(db), 0);
        assert_fails_with(tt_db_add_record_guarded(db, &g.r, 0, guard, mine, 2, &added),
                          "guarded writes need PostgreSQL");
        assert_int_equal(tt_get_last_error_category(), TT_ERR_UNSUPPORTED);
        assert_ok(tt_db_close(db));
        remove_tree(dir);
        return;
    }
    assert_int_equal(tt_db_is_postgres(db), 1);
    assert_ok(raw_exec(target,
                       "CREATE TABLE farm_jobs(id BIGINT PRIMARY KEY, lease_token TEXT,"
                       " lease_until TIMESTAMPTZ);"
                       "INSERT INTO farm_jobs VALUES (1, 'token-a', now() + interval '1 hour')"));
    assert_ok(tt_db_add_record_guarded(db, &g.r, 0, guard, mine, 2, &added));
    assert_int_equal(added, 1);
    /* The lease is someone else's now: refused, nothing written. */
    make_generated(&g, 1); /* another workload, new to the database */
    added = -1;
    assert_fails_with(tt_db_add_record_guarded(db, &g.r, 0, guard, stolen, 2, &added),
                      "write refused: the guard matched no row (the lease was taken over)");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_CONFLICT);
    assert_int_equal(added, 0);
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, 1);
    assert_int_equal(c.workloads, 1);
    /* An expired lease is refused alike; a broken guard is an error, nothing written. */
    assert_ok(raw_exec(target, "UPDATE farm_jobs SET lease_until = now() - interval '1 second'"));
    assert_int_equal(tt_db_add_record_guarded(db, &g.r, 0, guard, mine, 2, NULL), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_CONFLICT);
    assert_fails_with(
        tt_db_add_record_guarded(db, &g.r, 0, "SELECT 1 FROM no_such_table", NULL, 0, NULL),
        "guard query failed");
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, 1);
    /* The connection is usable after the refusals (each rolled back). */
    assert_ok(raw_exec(target, "UPDATE farm_jobs SET lease_until = now() + interval '1 hour'"));
    assert_ok(tt_db_add_record_guarded(db, &g.r, 0, guard, mine, 2, &added));
    assert_int_equal(added, 1);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

/* What messages may show of a URI: never its password. */
static void test_display_name(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"tuning.db", "tuning.db"},
        {"postgresql://tt@host:5432/db", "postgresql://tt@host:5432/db"},
        {"postgresql://tt:s3cret@host:5432/db", "postgresql://tt@host:5432/db"},
        {"postgres://tt:s3:c@ret@host/db", "postgres://tt@host/db"},
        {"postgresql://host/db?password=s3cret", "postgresql://host/db"},
        {"postgresql://host/db?sslmode=require&password=s3cret&connect_timeout=5",
         "postgresql://host/db?sslmode=require&connect_timeout=5"},
        {"postgresql://tt:pw@[::1]:5432/db?password=pw", "postgresql://tt@[::1]:5432/db"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = tt_db_display_name(cases[i][0]);
        assert_string_equal(got, cases[i][1]);
        free(got);
    }
    /* the password itself, as libpq reads it, for PGPASSWORD */
    char *pw = tt_db_uri_password("postgresql://tt:p%40ss%2Fw@host/db", 1);
    assert_string_equal(pw, "p@ss/w");
    free(pw);
    pw = tt_db_uri_password("postgresql://host/db?sslmode=require&password=s3cret", 1);
    assert_string_equal(pw, "s3cret");
    free(pw);
    assert_null(tt_db_uri_password("postgresql://tt@host/db", 1));
    assert_null(tt_db_uri_password("tt:pw@file.db", 1));
    assert_true(tt_db_is_uri("postgres://x/y"));
    assert_true(tt_db_is_uri("postgresql://x/y"));
    assert_false(tt_db_is_uri("postgresql.db"));
}

/* Schema version 1 (before records.device), as tvm-tune created it. */
static const char *const v1_schema =
    "CREATE TABLE workloads(key TEXT PRIMARY KEY NOT NULL, op TEXT NOT NULL,"
    " workload TEXT NOT NULL);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, op_file TEXT NOT NULL, target TEXT NOT NULL,"
    " tuner TEXT NOT NULL, trials_asked INTEGER NOT NULL, trials_done INTEGER NOT NULL DEFAULT 0,"
    " start_time TEXT NOT NULL, end_time TEXT, status TEXT NOT NULL DEFAULT 'running'"
    " CHECK (status IN ('running', 'finished', 'interrupted')));"
    "CREATE TABLE records(id INTEGER PRIMARY KEY, key TEXT NOT NULL REFERENCES workloads(key),"
    " target TEXT NOT NULL, steps TEXT NOT NULL, cost REAL, costs TEXT NOT NULL,"
    " error INTEGER NOT NULL CHECK (error BETWEEN 0 AND 7), error_msg TEXT NOT NULL,"
    " build_s REAL NOT NULL, gflops REAL NOT NULL, time TEXT NOT NULL, tuner TEXT NOT NULL,"
    " trial INTEGER NOT NULL, seed INTEGER NOT NULL, run_id INTEGER REFERENCES runs(id),"
    " hash TEXT NOT NULL UNIQUE);"
    "CREATE INDEX records_best ON records(key, target, cost);"
    "PRAGMA application_id = 1953776706; PRAGMA user_version = 1;";

/* A version-1 file with the sample record, made by hand. */
static void make_v1(const char *path)
{
    tt_record r = sample_record();
    char hash[TT_RECORD_HASH_LEN + 1], *costs, sql[2048];
    assert_ok(tt_record_hash(&r, hash));
    assert_ok(tt_record_costs_json(r.costs, r.n_costs, &costs));
    snprintf(sql, sizeof sql,
             "%s INSERT INTO workloads VALUES ('%s', 'matmul', '%s');"
             "INSERT INTO runs(op_file, target, tuner, trials_asked, start_time)"
             " VALUES ('op.json', 'llvm', 'xgb', 10, '2026-11-23T18:00:00.000Z');"
             "INSERT INTO records(key, target, steps, cost, costs, error, error_msg, build_s,"
             " gflops, time, tuner, trial, seed, run_id, hash) VALUES ('%s', '%s', '%s', %.17g,"
             " '%s', 0, '', %.17g, %.17g, '%s', '%s', %lld, %lld, 1, '%s')",
             v1_schema, r.key, r.workload, r.key, r.target, r.steps, tt_record_cost(&r), costs,
             r.build_s, r.gflops, r.time, r.tuner, (long long)r.trial, (long long)r.seed, hash);
    free(costs);
    assert_ok(raw_exec(path, sql));
}

/* A version-1 SQLite file: merged from as it is (only read, still version 1), and migrated to
 * version 2 when opened, its record intact and still a duplicate of itself. */
static void test_migrate_v1(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *v1 = path_in(dir, "v1.db");
    make_v1(v1);
    tt_record r = sample_record();
    char *want;
    assert_ok(tt_record_encode(&r, &want));
    /* Merging reads it without migrating it (into this engine's database). */
    tt_db *db;
    assert_ok(tt_db_open(db_at(dir, "new.db"), &db));
    size_t added;
    assert_ok(tt_db_merge(db, v1, &added));
    assert_int_equal(added, 1);
    assert_ok(tt_db_merge(db, v1, &added));
    assert_int_equal(added, 0);
    tt_record **best;
    size_t n;
    assert_ok(tt_db_best(db, NULL, NULL, 0, &best, &n));
    assert_int_equal(n, 1);
    char *got;
    assert_ok(tt_record_encode(best[0], &got));
    assert_string_equal(got, want);
    free(got);
    tt_record_array_free(best, n);
    assert_ok(tt_db_close(db));
    assert_int_equal(raw_int(v1, "PRAGMA user_version"), 1);
    /* Opening migrates it. */
    assert_ok(tt_db_open(v1, &db));
    assert_int_equal(raw_int(v1, "PRAGMA user_version"), 2);
    assert_int_equal(
        raw_int(v1, "SELECT count(*) FROM pragma_table_info('records') WHERE name = 'device'"), 1);
    assert_ok(tt_db_best(db, NULL, NULL, 0, &best, &n));
    assert_int_equal(n, 1);
    assert_ok(tt_record_encode(best[0], &got));
    assert_string_equal(got, want);
    assert_string_equal(best[0]->device, "");
    free(got);
    tt_record_array_free(best, n);
    int was_added;
    assert_ok(tt_db_add_record(db, &r, 0, &was_added));
    assert_int_equal(was_added, 0);
    r.trial = 99;
    r.device = "board:9090";
    assert_ok(tt_db_add_record(db, &r, 0, &was_added));
    assert_int_equal(was_added, 1);
    /* the outcome version 1's CHECK refused: a device lost during the candidate */
    tt_record lost = r;
    lost.trial = 100;
    lost.error = TT_OUTCOME_DEVICE_ERROR;
    lost.error_msg = "device board:9090 lost: the connection broke";
    lost.costs = NULL;
    lost.n_costs = 0;
    lost.gflops = 0;
    assert_ok(tt_db_add_record(db, &lost, 0, &was_added));
    assert_int_equal(was_added, 1);
    assert_ok(tt_db_close(db));
    assert_int_equal(raw_int(v1, "SELECT count(*) FROM records WHERE device = 'board:9090'"), 2);
    assert_int_equal(raw_int(v1, "SELECT count(*) FROM records WHERE error = 8"), 1);
    /* the rebuilt table kept its index */
    assert_int_equal(raw_int(v1, "SELECT count(*) FROM sqlite_master WHERE name = 'records_best'"),
                     1);
    /* Opening again changes nothing. */
    assert_ok(tt_db_open(v1, &db));
    assert_ok(tt_db_close(db));
    assert_int_equal(raw_int(v1, "PRAGMA user_version"), 2);
    free(want);
    remove_tree(dir);
}

#if !DB_PG
/* A file of a newer schema is refused, untouched. */
static void test_newer_sqlite_refused(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "future.db");
    tt_db *db;
    assert_ok(tt_db_open(path, &db));
    assert_ok(tt_db_close(db));
    assert_ok(raw_exec(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 3"));
    assert_refused_untouched(path, "schema version 3 is newer than this build's 2");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNSUPPORTED);
    remove_tree(dir);
}
#endif

#if DB_PG
/* PostgreSQL databases that are not ours, or of a newer schema, are refused, nothing touched;
 * merging from an empty one creates nothing in it. */
static void test_pg_foreign_refused(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    tt_db *db = (tt_db *)0x1;
    const char *foreign = db_at(dir, "foreign");
    assert_ok(raw_exec(foreign, "CREATE TABLE records(x INTEGER); INSERT INTO records VALUES (1)"));
    assert_fails_with(tt_db_open(foreign, &db), "is not a tvm-tune database");
    assert_null(db);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    assert_int_equal(raw_int(foreign, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
                     1);
    assert_int_equal(raw_int(foreign, "SELECT x FROM records"), 1);
    const char *other_app = db_at(dir, "otherapp");
    assert_ok(raw_exec(other_app, "CREATE TABLE tt_meta(application TEXT, schema_version INTEGER,"
                                  " instance TEXT); INSERT INTO tt_meta VALUES ('other', 2, 'x')"));
    assert_fails_with(tt_db_open(other_app, &db), "is not a tvm-tune database");
    assert_int_equal(
        raw_int(other_app, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 1);
    const char *future = db_at(dir, "future");
    assert_ok(tt_db_open(future, &db));
    assert_ok(tt_db_close(db));
    assert_ok(raw_exec(future, "UPDATE tt_meta SET schema_version = 3"));
    assert_fails_with(tt_db_open(future, &db), "schema version 3 is newer than this build's 2");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNSUPPORTED);
    /* Merging: refused alike, and an empty database is not made ours. */
    const char *empty = db_at(dir, "empty");
    assert_ok(tt_db_open(db_at(dir, "mine"), &db));
    assert_fails_with(tt_db_merge(db, foreign, NULL), "not a tvm-tune database");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    assert_fails_with(tt_db_merge(db, empty, NULL), "not a tvm-tune database");
    assert_int_equal(raw_int(empty, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
                     0);
    assert_fails_with(tt_db_merge(db, db_at(dir, "mine"), NULL), "into itself");
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

/* Several processes open a new PostgreSQL database at the same moment: all succeed and the
 * schema is made once (the advisory lock). Released together by closing a pipe. */
static void test_pg_simultaneous_creation(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    enum { ROUNDS = 10, KIDS = 4 };
    int failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "new%d", round);
        const char *uri = db_at(dir, name);
        failed += open_at_once(uri, KIDS, round);
        assert_int_equal(raw_int(uri, "SELECT count(*) FROM tt_meta"), 1);
    }
    assert_int_equal(failed, 0);
    remove_tree(dir);
}

/* The fixture's password (pgpass: host:port:db:user:password). */
static void fixture_password(char *out, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/pgpass", getenv("TT_PG_STATE"));
    char *text = slurp(path, NULL);
    assert_non_null(text);
    char *p = text;
    for (int colons = 0; colons < 4; p++)
        if (*p == ':')
            colons++;
    snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
    free(text);
}

/* A URI that carries the password: it works, and no path, message or table shows it. */
static void test_pg_password_never_shown(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char pw[128], uri[1400], want[700];
    fixture_password(pw, sizeof pw);
    assert_true(strlen(pw) >= 16);
    const char *plain = db_at(dir, "secret");
    const char *at = strchr(plain, '@'); /* postgresql://tt@... */
    snprintf(uri, sizeof uri, "%.*s:%s%s", (int)(at - plain), plain, pw, at);
    snprintf(want, sizeof want, "%s", plain);
    setenv("PGPASSFILE", "/nonexistent", 1); /* only the URI's password can work now */
    tt_db *db;
    assert_ok(tt_db_open(uri, &db));
    assert_string_equal(tt_db_path(db), want);
    int64_t run;
    assert_ok(tt_db_run_begin(db, "op.json", "llvm", "xgb", 10, &run));
    generated g;
    make_generated(&g, 0);
    assert_ok(tt_db_add_record(db, &g.r, run, NULL));
    assert_int_equal(tt_db_run_get(db, 999, &(tt_db_run *){0}), -1);
    assert_null(strstr(tt_get_last_error(), pw));
    assert_contains(tt_get_last_error(), want);
    assert_int_equal(tt_db_export(db, path_in(dir, "nodir/x.log"), 0, NULL), -1);
    assert_null(strstr(tt_get_last_error(), pw));
    /* merging from a database that does not exist, named with the password */
    char missing[1400];
    snprintf(missing, sizeof missing, "%.*s:%s%.*s/no_such_db", (int)(at - plain), plain, pw,
             (int)(strrchr(at, '/') - at), at);
    assert_int_equal(tt_db_merge(db, missing, NULL), -1);
    assert_null(strstr(tt_get_last_error(), pw));
    assert_contains(tt_get_last_error(), "no_such_db");
    assert_ok(tt_db_close(db));
    /* no table holds it */
    setenv("PGPASSFILE", "", 1);
    char sql[700];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM runs WHERE concat_ws(' ', op_file, target, tuner)"
             " LIKE '%%%s%%') + (SELECT count(*) FROM records WHERE concat_ws(' ', key, target,"
             " steps, device) LIKE '%%%s%%')",
             pw, pw);
    assert_int_equal(raw_int(uri, sql), 0);
    /* a wrong password: refused, and the message does not show it */
    snprintf(uri, sizeof uri, "%.*s:wrong-%s%s", (int)(at - plain), plain, pw, at);
    assert_int_equal(tt_db_open(uri, &db), -1);
    assert_null(strstr(tt_get_last_error(), pw));
    assert_int_equal(tt_get_last_error_category(), TT_ERR_IO);
    char passfile[600];
    snprintf(passfile, sizeof passfile, "%s/pgpass", getenv("TT_PG_STATE"));
    setenv("PGPASSFILE", passfile, 1);
    remove_tree(dir);
}

/* A server that does not answer: TT_ERR_IO naming host:port/dbname; a malformed URI:
 * TT_ERR_INVALID_ARGUMENT. */
static void test_pg_connection_errors(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int port = ntohs(a.sin_port);
    close(fd); /* nothing listens there now */
    char uri[200], where[100];
    snprintf(uri, sizeof uri, "postgresql://tt:hunter2hunter2@127.0.0.1:%d/farm", port);
    snprintf(where, sizeof where, "127.0.0.1:%d/farm", port);
    tt_db *db;
    assert_fails_with(tt_db_open(uri, &db), where);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_IO);
    assert_null(strstr(tt_get_last_error(), "hunter2"));
    assert_null(db);
    assert_fails_with(tt_db_open("postgresql://tt:hunter2hunter2@127.0.0.1/farm?bogus=1", &db),
                      "malformed URI");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    assert_null(strstr(tt_get_last_error(), "hunter2"));
}

/* The server drops the connection (a restart): the next write fails or succeeds on a new
 * connection, and the one after it succeeds; nothing is lost that was committed. */
static void test_pg_reconnects(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *uri = db_at(dir, "tuning.db");
    tt_db *db;
    assert_ok(tt_db_open(uri, &db));
    generated g;
    make_generated(&g, 0);
    assert_ok(tt_db_add_record(db, &g.r, 0, NULL));
    /* Ends every other session of this database, ours included; with a timeout the call returns
     * once the backend is gone (true), so our next statement meets a closed connection. */
    assert_int_equal(raw_int(uri, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                  " current_database() AND pid <> pg_backend_pid()"),
                     1);
    assert_int_equal(raw_int(uri, "SELECT bool_and(pg_terminate_backend(pid, 600000))::int FROM"
                                  " pg_stat_activity WHERE datname = current_database()"
                                  " AND pid <> pg_backend_pid()"),
                     1);
    make_generated(&g, 1);
    assert_int_equal(tt_db_add_record(db, &g.r, 0, NULL), -1); /* the loss shows when used */
    assert_int_equal(tt_get_last_error_category(), TT_ERR_IO);
    make_generated(&g, 2);
    assert_ok(tt_db_add_record(db, &g.r, 0, NULL));
    make_generated(&g, 1);
    assert_ok(tt_db_add_record(db, &g.r, 0, NULL));
    tt_db_counts c;
    assert_ok(tt_db_stats(db, &c));
    assert_int_equal(c.records, 3);
    assert_ok(tt_db_close(db));
    remove_tree(dir);
}

/* Merging across engines, both directions: a laptop's SQLite into PostgreSQL, PostgreSQL into a
 * release SQLite file; the best records are what one database of everything gives. */
static void test_merge_across_engines(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *lite = path_in(dir, "laptop.db"), *pg = db_at(dir, "farm");
    tt_db *a, *b;
    assert_ok(tt_db_open(lite, &a));
    assert_ok(tt_db_open(pg, &b));
    int64_t run_a, run_b;
    assert_ok(tt_db_run_begin(a, "op.json", "llvm", "xgb", 40, &run_a));
    assert_ok(tt_db_run_begin(b, "op.json", "llvm", "random", 40, &run_b));
    for (int i = 0; i < N_RECORDS; i++) {
        generated g;
        make_generated(&g, i);
        if (i < 40)
            assert_ok(tt_db_add_record(a, &g.r, run_a, NULL));
        if (i >= 20)
            assert_ok(tt_db_add_record(b, &g.r, run_b, NULL));
    }
    assert_ok(tt_db_close(a));
    size_t added;
    assert_ok(tt_db_merge(b, lite, &added));
    assert_int_equal(added, 20);
    assert_ok(tt_db_merge(b, lite, &added));
    assert_int_equal(added, 0);
    assert_int_equal(raw_int(pg, "SELECT count(*) FROM records r JOIN runs u ON u.id = r.run_id"
                                 " WHERE u.tuner = 'xgb'"),
                     20);
    tt_db *release;
    assert_ok(tt_db_open(path_in(dir, "release.db"), &release));
    assert_ok(tt_db_merge(release, pg, &added));
    assert_int_equal(added, N_RECORDS);
    assert_ok(tt_db_merge(release, pg, &added));
    assert_int_equal(added, 0);
    tt_db_counts c;
    assert_ok(tt_db_stats(release, &c));
    assert_int_equal(c.records, N_RECORDS);
    assert_int_equal(c.runs[TT_RUN_RUNNING], 2);
    assert_ok(tt_db_export(release, path_in(dir, "release.log"), 2, NULL));
    assert_ok(tt_db_export(b, path_in(dir, "farm.log"), 2, NULL));
    tt_db *all;
    assert_ok(tt_db_open(path_in(dir, "all.db"), &all));
    for (int i = 0; i < N_RECORDS; i++) {
        generated g;
        make_generated(&g, i);
        assert_ok(tt_db_add_record(all, &g.r, 0, NULL));
    }
    assert_ok(tt_db_export(all, path_in(dir, "all.log"), 2, NULL));
    char *x = slurp(path_in(dir, "all.log"), NULL), *y = slurp(path_in(dir, "release.log"), NULL),
         *z = slurp(path_in(dir, "farm.log"), NULL);
    assert_string_equal(x, y);
    assert_string_equal(x, z);
    free(x);
    free(y);
    free(z);
    assert_ok(tt_db_close(all));
    assert_ok(tt_db_close(release));
    assert_ok(tt_db_close(b));
    remove_tree(dir);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_display_name),
        cmocka_unit_test(test_import_twice_adds_nothing),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_best_k),
        cmocka_unit_test(test_export_best),
        cmocka_unit_test(test_runs_lifecycle),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_device_round_trip),
        cmocka_unit_test(test_guarded_write),
        cmocka_unit_test(test_migrate_v1),
        cmocka_unit_test(test_four_processes_lose_nothing),
#if DB_PG
        cmocka_unit_test(test_pg_foreign_refused),
        cmocka_unit_test(test_pg_simultaneous_creation),
        cmocka_unit_test(test_pg_password_never_shown),
        cmocka_unit_test(test_pg_connection_errors),
        cmocka_unit_test(test_merge_across_engines),
        cmocka_unit_test(test_pg_reconnects),
#else
        cmocka_unit_test(test_outcome_check_is_the_table),
        cmocka_unit_test(test_foreign_files_are_refused_untouched),
        cmocka_unit_test(test_newer_sqlite_refused),
        cmocka_unit_test(test_simultaneous_creation),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
