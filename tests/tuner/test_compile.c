/* tuner/compile*.c: which record wins per task (re-measured schedules first, the latest
 * measurement counting, duplicates once, other targets and errors never), the workload distance
 * behind borrowing, the schedule each task gets (tuned, borrowed, default) checked against the
 * reference evaluation, the header text, and writes that fail leaving nothing behind. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/interp.h"
#include "logs/db.h"
#include "logs/log.h"
#include "tune_test.h"
#include "tuner/compile.h"

static const char *HOST = "llvm -mtriple=x86_64-linux-gnu -mcpu=generic";
static const char *ARM = "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72";
/* Three valid schedules of a matmul stage C, and one that never lowers. */
static const char *S_A =
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},{\"s\":\"reorder\","
    "\"stage\":\"C\",\"loops\":[\"i\",\"j.0\",\"k\",\"j.1\"]},{\"s\":\"vectorize\",\"stage\":"
    "\"C\",\"loop\":\"j.1\"}]";
/* S_A spelt with other key order and spaces: the same schedule. */
static const char *S_A2 =
    "[ {\"loop\": \"j\", \"s\": \"split\", \"stage\": \"C\", \"factors\": [4]}, {\"s\": "
    "\"reorder\", \"stage\": \"C\", \"loops\": [\"i\", \"j.0\", \"k\", \"j.1\"]}, {\"s\": "
    "\"vectorize\", \"stage\": \"C\", \"loop\": \"j.1\"} ]";
static const char *S_B = "[{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i\"}]";
static const char *S_C = "[{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"k\"}]";
static const char *S_BAD = "[{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"i\"}]";

static const char *OPS = "{\"tasks\": [{\"op\": \"matmul\", \"M\": 8, \"N\": 12, \"K\": 16},"
                         " {\"op\": \"matmul\", \"M\": 8, \"N\": 12, \"K\": 20},"
                         " {\"op\": \"dense\", \"M\": 4, \"N\": 6, \"K\": 8}]}";

typedef struct {
    char dir[64];
    char path[128];
    tt_opfile *file;
} fixture;

static void add_at(tt_log *log, const tt_task *task, const char *target, const char *steps,
                   int error, int64_t trial, double cost, const char *time)
{
    double costs[1] = {cost};
    tt_record r = {.key = task->key,
                   .workload = task->canonical_json,
                   .target = target,
                   .steps = steps,
                   .costs = error ? NULL : costs,
                   .n_costs = error ? 0 : 1,
                   .error = error,
                   .error_msg = error ? "wrong answer" : "",
                   .gflops = error ? 0 : 1e-9 / cost,
                   .time = time,
                   .tuner = "ga",
                   .trial = trial,
                   .seed = 1};
    assert_int_equal(tt_log_append(log, &r), 0);
}

static void add(tt_log *log, const tt_task *task, const char *target, const char *steps, int error,
                int64_t trial, double cost)
{
    add_at(log, task, target, steps, error, trial, cost, "2026-11-24T18:00:00Z");
}

/* Two steps arrays hold the same schedule, whatever their spelling. */
static void assert_same_schedule(const char *a, const char *b)
{
    tt_schedule *sa = NULL, *sb = NULL;
    assert_int_equal(tt_schedule_from_json(a, &sa), 0);
    assert_int_equal(tt_schedule_from_json(b, &sb), 0);
    char *ja = tt_schedule_to_json(sa), *jb = tt_schedule_to_json(sb);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    tt_schedule_free(sa);
    tt_schedule_free(sb);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tt-test-compile-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.log", f->dir);
    assert_int_equal(tt_opfile_parse_string(OPS, "ops.json", &f->file), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..") != 0)) {
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(f->dir);
    tt_opfile_free(f->file);
    free(f);
    return 0;
}

/* The log of the ranking tests: for task 0, S_A measured at 1 ms then half a second later at
 * 3 ms (spelt differently), S_B once at 0.5 ms (unconfirmed), S_C at 4 ms and later (but earlier
 * in the log) at 2 ms, an error, and a faster record on another target. */
static void write_ranking_log(fixture *f)
{
    const tt_task *t = &f->file->tasks[0];
    tt_log *log = NULL;
    assert_int_equal(tt_log_open_append(f->path, &log), 0);
    add_at(log, t, HOST, S_A, 0, 0, 1e-3, "2026-11-24T18:00:00Z");
    add(log, t, HOST, S_B, 0, 1, 0.5e-3);
    add_at(log, t, HOST, S_C, 0, 2, 2e-3, "2026-11-24T18:00:05Z");
    add_at(log, t, HOST, S_C, 0, 2, 4e-3, "2026-11-24T18:00:01Z");
    add(log, t, HOST, S_A, 4, 3, 0);
    add(log, t, ARM, S_B, 0, 4, 0.1e-3);
    add_at(log, t, HOST, S_A2, 0, 0, 3e-3, "2026-11-24T18:00:00.500Z");
    /* Task 1: S_A then S_A2, the same schedule, measured twice; S_B once, faster. */
    const tt_task *t1 = &f->file->tasks[1];
    add(log, t1, HOST, S_A, 0, 10, 1e-3);
    add(log, t1, HOST, S_B, 0, 11, 0.5e-3);
    add_at(log, t1, HOST, S_A2, 0, 10, 2e-3, "2026-11-24T18:00:01Z");
    tt_log_close(log);
}

static void test_ranking(void **state)
{
    fixture *f = *state;
    write_ranking_log(f);
    const char *logs[] = {f->path};
    tt_compile_records *recs = NULL;
    assert_int_equal(tt_compile_records_load(NULL, logs, 1, HOST, &recs), 0);
    assert_int_equal(recs->n, 2);
    const tt_record *r = tt_compile_records_find(recs, f->file->tasks[0].key);
    assert_non_null(r);
    /* Confirmed schedules first (S_A, however spelt, at its latest 3 ms; S_C at its latest
     * 2 ms): S_C wins, not the single 0.5 ms measurement of S_B. */
    assert_string_equal(r->steps, S_C);
    assert_true(fabs(tt_record_cost(r) - 2e-3) < 1e-12);
    assert_int_equal(tt_compile_records_measured(recs, r), 2);
    r = tt_compile_records_find(recs, f->file->tasks[1].key);
    assert_same_schedule(r->steps, S_A);
    assert_true(fabs(tt_record_cost(r) - 2e-3) < 1e-12);
    assert_int_equal(tt_compile_records_measured(recs, r), 2);
    assert_null(tt_compile_records_find(recs, f->file->tasks[2].key));
    tt_compile_records_free(recs);

    /* The other target sees only its own record. */
    assert_int_equal(tt_compile_records_load(NULL, logs, 1, ARM, &recs), 0);
    r = tt_compile_records_find(recs, f->file->tasks[0].key);
    assert_non_null(r);
    assert_string_equal(r->steps, S_B);
    assert_int_equal(tt_compile_records_measured(recs, r), 1);
    tt_compile_records_free(recs);
}

static void test_database_and_log(void **state)
{
    fixture *f = *state;
    write_ranking_log(f);
    char db_path[160];
    snprintf(db_path, sizeof db_path, "%s/t.db", f->dir);
    tt_compile_records *recs = NULL;
    assert_fails_with(tt_compile_records_load(db_path, NULL, 0, HOST, &recs), "does not exist");
    assert_null(recs);
    assert_int_equal(access(db_path, F_OK), -1); /* not created */

    tt_db *db = NULL;
    assert_int_equal(tt_db_open(db_path, &db), 0);
    assert_int_equal(tt_db_import_log(db, f->path, NULL, NULL), 0);
    tt_db_close(db);
    /* The same measurements from the database and the log count once each. */
    const char *logs[] = {f->path};
    assert_int_equal(tt_compile_records_load(db_path, logs, 1, HOST, &recs), 0);
    const tt_record *r = tt_compile_records_find(recs, f->file->tasks[0].key);
    assert_string_equal(r->steps, S_C);
    assert_true(fabs(tt_record_cost(r) - 2e-3) < 1e-12);
    assert_int_equal(tt_compile_records_measured(recs, r), 2);
    tt_compile_records_free(recs);

    const char *missing[] = {"/nonexistent/t.log"};
    assert_fails_with(tt_compile_records_load(db_path, missing, 1, HOST, &recs), "t.log");
}

static void test_distance(void **state)
{
    (void)state;
    const char *a = "{\"K\":64,\"M\":64,\"N\":64,\"dtype\":\"float32\",\"name\":\"a\",\"op\":"
                    "\"matmul\"}";
    const char *b = "{\"K\":72,\"M\":64,\"N\":64,\"dtype\":\"float32\",\"name\":\"b\",\"op\":"
                    "\"matmul\"}";
    const char *c = "{\"K\":64,\"M\":64,\"N\":64,\"dtype\":\"float64\",\"name\":\"a\",\"op\":"
                    "\"matmul\"}";
    const char *d = "{\"K\":64,\"M\":64,\"N\":64,\"dtype\":\"float32\",\"name\":\"a\",\"op\":"
                    "\"dense\"}";
    double dist;
    assert_int_equal(tt_compile_workload_distance(a, a, &dist), 0);
    assert_true(dist == 0);
    assert_int_equal(tt_compile_workload_distance(a, b, &dist), 0);
    assert_true(fabs(dist - fabs(log(65.0 / 73.0))) < 1e-12);
    assert_int_equal(tt_compile_workload_distance(b, a, &dist), 0);
    assert_true(fabs(dist - fabs(log(65.0 / 73.0))) < 1e-12);
    assert_int_equal(tt_compile_workload_distance(a, c, &dist), 0);
    assert_true(isinf(dist));
    assert_int_equal(tt_compile_workload_distance(a, d, &dist), 0);
    assert_true(isinf(dist));
    /* Array lengths and the field set must agree. */
    assert_int_equal(tt_compile_workload_distance("{\"s\":[1,1]}", "{\"s\":[1]}", &dist), 0);
    assert_true(isinf(dist));
    assert_int_equal(tt_compile_workload_distance("{\"s\":1}", "{\"t\":1}", &dist), 0);
    assert_true(isinf(dist));
    assert_fails_with(tt_compile_workload_distance("[1]", a, &dist), "not a JSON object");
    assert_fails_with(tt_compile_workload_distance(a, "{", &dist), "not a JSON object");
}

/* Runs the chosen kernel and the reference evaluation on the same inputs. */
static void check_kernel(const tt_task *task, const tt_kernel *k)
{
    const tt_compute *c = task->compute;
    int n = c->ninputs + 1;
    void *kargs[8], *rargs[8];
    for (int i = 0; i < n; i++) {
        const tt_tensor *t = i < c->ninputs ? c->inputs[i] : tt_compute_output(c);
        size_t numel = (size_t)tt_tensor_numel(t);
        float *a = calloc(numel, sizeof *a), *b = calloc(numel, sizeof *b);
        for (size_t e = 0; e < numel && i < c->ninputs; e++)
            a[e] = b[e] = (float)((e * 7 + (size_t)i * 3) % 11) - 5.0f;
        kargs[i] = a;
        rargs[i] = b;
    }
    assert_int_equal(tt_kernel_interp(k, kargs), 0);
    assert_int_equal(tt_compute_eval(c, rargs), 0);
    size_t numel = (size_t)tt_tensor_numel(tt_compute_output(c));
    const float *got = kargs[n - 1], *want = rargs[n - 1];
    for (size_t e = 0; e < numel; e++)
        assert_true(fabsf(got[e] - want[e]) <= 1e-4f * (1 + fabsf(want[e])));
    for (int i = 0; i < n; i++) {
        free(kargs[i]);
        free(rargs[i]);
    }
}

static void test_choose(void **state)
{
    fixture *f = *state;
    tt_log *log = NULL;
    assert_int_equal(tt_log_open_append(f->path, &log), 0);
    add(log, &f->file->tasks[0], HOST, S_B, 0, 0, 1e-3);
    tt_log_close(log);
    const char *logs[] = {f->path};
    tt_compile_records *recs = NULL;
    assert_int_equal(tt_compile_records_load(NULL, logs, 1, HOST, &recs), 0);
    tt_target *t = NULL;
    assert_int_equal(tt_target_parse(HOST, &t), 0);

    tt_compile_choice ch[3];
    /* Task 0: its own record. */
    assert_int_equal(tt_compile_choose(recs, &f->file->tasks[0], t, &ch[0]), 0);
    assert_int_equal(ch[0].source, TT_COMPILE_TUNED);
    assert_string_equal(ch[0].steps, S_B);
    assert_null(ch[0].warning);
    assert_contains(ch[0].note, "tuned: ");
    assert_string_equal(ch[0].kernel->name, f->file->tasks[0].name);
    /* Task 1 (K 20): borrows task 0's schedule, with a warning naming both. */
    assert_int_equal(tt_compile_choose(recs, &f->file->tasks[1], t, &ch[1]), 0);
    assert_int_equal(ch[1].source, TT_COMPILE_BORROWED);
    assert_string_equal(ch[1].steps, S_B);
    assert_contains(ch[1].warning, f->file->tasks[1].name);
    assert_contains(ch[1].warning, f->file->tasks[0].key);
    /* Task 2 (dense): nothing of its op, the default schedule. */
    assert_int_equal(tt_compile_choose(recs, &f->file->tasks[2], t, &ch[2]), 0);
    assert_int_equal(ch[2].source, TT_COMPILE_DEFAULT);
    assert_contains(ch[2].warning, "task dense_4x6x8_f32:");
    for (int i = 0; i < 3; i++)
        check_kernel(&f->file->tasks[i], ch[i].kernel);

    /* The header: one declaration per task, inputs const, in the op's argument order. */
    char *h = NULL;
    assert_int_equal(tt_compile_header(f->file, ch, t, "libops.so", "libops.h", &h), 0);
    assert_contains(h, "#ifndef LIBOPS_H\n");
    assert_contains(h, "int matmul_8x12x16_f32(const float *restrict A, const float *restrict B, "
                       "float *restrict C);\n");
    assert_contains(h, "int dense_4x6x8_f32(const float *restrict X, const float *restrict W, "
                       "float *restrict Y);\n");
    assert_contains(h, "A float32[8, 20], B float32[20, 12] -> C float32[8, 12]");
    assert_contains(h, f->file->tasks[1].canonical_json);
    assert_contains(h, "borrowed from workload");
    free(h);

    /* A write into a missing directory fails and leaves nothing. */
    char bad[200];
    snprintf(bad, sizeof bad, "%s/missing/libops.so", f->dir);
    assert_int_equal(tt_compile_write(f->file, ch, t, TT_EMIT_SO, bad), -1);
    snprintf(bad, sizeof bad, "%s/libops.h", f->dir);
    assert_fails_with(tt_compile_write(f->file, ch, t, TT_EMIT_SO, bad), "overwritten");
    assert_fails_with(tt_compile_write(f->file, ch, t, TT_EMIT_ASM, bad), "shared library");
    /* A good one writes exactly the library and the header. */
    char lib[200];
    snprintf(lib, sizeof lib, "%s/libops.o", f->dir);
    assert_int_equal(tt_compile_write(f->file, ch, t, TT_EMIT_OBJ, lib), 0);
    struct stat st;
    assert_int_equal(stat(lib, &st), 0);
    assert_true(st.st_size > 0);
    assert_int_equal(access(bad, R_OK), 0);
    int files = 0;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while ((e = readdir(d)))
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 3); /* t.log, libops.o, libops.h: no temporary left */

    for (int i = 0; i < 3; i++)
        tt_compile_choice_clear(&ch[i]);
    tt_target_free(t);
    tt_compile_records_free(recs);
}

static void test_stale_record(void **state)
{
    fixture *f = *state;
    tt_log *log = NULL;
    assert_int_equal(tt_log_open_append(f->path, &log), 0);
    add(log, &f->file->tasks[0], HOST, S_BAD, 0, 0, 1e-3); /* no longer lowers */
    add(log, &f->file->tasks[1], HOST, S_A, 0, 1, 1e-3);
    tt_log_close(log);
    const char *logs[] = {f->path};
    tt_compile_records *recs = NULL;
    assert_int_equal(tt_compile_records_load(NULL, logs, 1, HOST, &recs), 0);
    tt_target *t = NULL;
    assert_int_equal(tt_target_parse(HOST, &t), 0);
    tt_compile_choice ch;
    assert_int_equal(tt_compile_choose(recs, &f->file->tasks[0], t, &ch), 0);
    assert_int_equal(ch.source, TT_COMPILE_BORROWED);
    assert_string_equal(ch.steps, S_A);
    assert_contains(ch.warning, "does not lower");
    check_kernel(&f->file->tasks[0], ch.kernel);
    tt_compile_choice_clear(&ch);
    tt_target_free(t);
    tt_compile_records_free(recs);
}

static void test_header_path(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"out/libops.so", "out/libops.h"}, {"ops", "ops.h"},        {"a.b/c", "a.b/c.h"},
        {".hidden", ".hidden.h"},          {"x.tar.gz", "x.tar.h"}, {"/t/k.o", "/t/k.h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = tt_compile_header_path(cases[i][0]);
        assert_string_equal(h, cases[i][1]);
        free(h);
    }
}

/* C keywords: an argument is renamed in the header, a task name is refused. */
static void test_keywords(void **state)
{
    (void)state;
    tt_opfile *file = NULL;
    assert_int_equal(tt_opfile_parse_string("{\"op\": \"expr\", \"name\": \"scale\", "
                                            "\"inputs\": {\"int\": [4], \"B\": [4]}, "
                                            "\"compute\": \"C[i] = int[i] * B[i]\"}",
                                            "kw.json", &file),
                     0);
    assert_int_equal(tt_compile_check_names(file), 0);
    tt_target *t = NULL;
    assert_int_equal(tt_target_parse(HOST, &t), 0);
    tt_compile_choice ch;
    assert_int_equal(tt_compile_choose(NULL, &file->tasks[0], t, &ch), 0);
    char *h = NULL;
    assert_int_equal(tt_compile_header(file, &ch, t, "k.so", "k.h", &h), 0);
    assert_contains(h, "int scale(const float *restrict int_, const float *restrict B, "
                       "float *restrict C);");
    free(h);
    tt_compile_choice_clear(&ch);
    tt_opfile_free(file);
    assert_int_equal(tt_opfile_parse_string("{\"op\": \"expr\", \"name\": \"float\", "
                                            "\"inputs\": {\"A\": [4]}, "
                                            "\"compute\": \"C[i] = A[i]\"}",
                                            "kw2.json", &file),
                     0);
    assert_fails_with(tt_compile_check_names(file), "kw2.json: task name \"float\" is a C keyword");
    tt_opfile_free(file);
    tt_target_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_and_log, setup, teardown),
        cmocka_unit_test(test_distance),
        cmocka_unit_test_setup_teardown(test_choose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_record, setup, teardown),
        cmocka_unit_test(test_header_path),
        cmocka_unit_test(test_keywords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
