/* Tests logs/log.c: appends read back equal, a crash's truncated line (skipped with a warning,
 * repaired by the next append), malformed lines (errors naming path:line, or warnings in tolerant
 * mode), missing directories, and concurrent appenders. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "logs/log.h"
#include "logs_test.h"

/* Sample record number i: distinct trial, costs and steps. */
typedef struct {
    tt_record r;
    double costs[3];
    char steps[64];
} numbered;

static void make_numbered(numbered *n, int i)
{
    n->r = sample_record();
    n->costs[0] = 0.001 * (i + 1);
    n->costs[1] = 0.001 * (i + 1) + 1e-6;
    n->costs[2] = 0.001 * (i + 1) - 1e-6;
    snprintf(n->steps, sizeof n->steps, "[[\"split\",\"i\",[%d,4]]]", i + 1);
    n->r.costs = n->costs;
    n->r.steps = n->steps;
    n->r.trial = i;
    if (i % 7 == 3) {
        n->r.error = TT_OUTCOME_RUNTIME_ERROR;
        n->r.error_msg = "signal 11 (SIGSEGV)";
        n->r.n_costs = 0;
        n->r.gflops = 0;
    }
}

static void append_n(const char *path, int from, int to)
{
    tt_log *log;
    assert_ok(tt_log_open_append(path, &log));
    for (int i = from; i < to; i++) {
        numbered n;
        make_numbered(&n, i);
        assert_ok(tt_log_append(log, &n.r));
    }
    assert_ok(tt_log_close(log));
}

/* The records of path are exactly numbers from..to-1, in order. */
static void assert_log_holds(const char *path, int mode, int from, int to, size_t warnings)
{
    tt_record **records;
    size_t n;
    tt_log_stats st;
    assert_ok(tt_log_read_all(path, mode, &records, &n, &st));
    assert_int_equal(n, (size_t)(to - from));
    assert_int_equal(st.records, n);
    assert_int_equal(st.warnings_count, warnings);
    for (size_t i = 0; i < n; i++) {
        numbered expect;
        make_numbered(&expect, from + (int)i);
        char *a, *b;
        assert_ok(tt_record_encode(records[i], &a));
        assert_ok(tt_record_encode(&expect.r, &b));
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    tt_record_array_free(records, n);
    tt_log_stats_free(&st);
}

static void test_append_then_read_back(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 40);
    append_n(path, 40, 50); /* reopening appends, never truncates */
    assert_log_holds(path, TT_LOG_STRICT, 0, 50, 0);
    /* The file is exactly the encoded lines, one per record. */
    size_t len = 0;
    char *text = slurp(path, &len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 50);
    assert_int_equal(text[len - 1], '\n');
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0644 & ~mask);
    remove_tree(dir);
}

static void test_truncated_last_line(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 3);
    /* A crash in the middle of the fourth record's write. */
    numbered n;
    make_numbered(&n, 3);
    char *line;
    assert_ok(tt_record_encode(&n.r, &line));
    line[strlen(line) / 2] = '\0';
    write_file(path, "a", line);
    free(line);
    tt_log_stats st;
    tt_record **records;
    size_t count;
    assert_ok(tt_log_read_all(path, TT_LOG_STRICT, &records, &count, &st));
    assert_int_equal(count, 3);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.warnings_count, 1);
    char where[600];
    snprintf(where, sizeof where, "%s:4: truncated last line skipped", path);
    assert_contains(st.warnings, where);
    tt_record_array_free(records, count);
    tt_log_stats_free(&st);
    /* The next append starts on a fresh line; the cut line stays, now in the middle, and is
     * still only a warning. */
    append_n(path, 4, 6);
    char *text = slurp(path, NULL);
    char *cut_end = strstr(text, "\n{\"v\":1,\"key\":\"matmul_1024x1024x1024_f32-3fa2c1d0\","
                                 "\"workload\":{\"op\":\"matmul\",\"M\":1024,\"N\":1024,\"K\":1024,"
                                 "\"dtype\":\"float32\"},\"target\":\"llvm -mtriple=x86_64-linux-"
                                 "gnu -mcpu=znver4\",\"steps\":[[\"split\",\"i\",[5,4]]]");
    assert_non_null(cut_end);
    free(text);
    assert_ok(tt_log_read_all(path, TT_LOG_STRICT, &records, &count, &st));
    assert_int_equal(count, 5);
    assert_int_equal(records[3]->trial, 4);
    assert_int_equal(st.warnings_count, 1);
    snprintf(where, sizeof where, "%s:4: truncated record skipped", path);
    assert_contains(st.warnings, where);
    tt_record_array_free(records, count);
    tt_log_stats_free(&st);
    remove_tree(dir);
}

static void test_last_line_missing_only_its_newline_counts(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 2);
    numbered n;
    make_numbered(&n, 2);
    char *line;
    assert_ok(tt_record_encode(&n.r, &line));
    line[strlen(line) - 1] = '\0';
    write_file(path, "a", line);
    free(line);
    assert_log_holds(path, TT_LOG_STRICT, 0, 3, 0);
    append_n(path, 3, 4); /* repairs the newline first */
    assert_log_holds(path, TT_LOG_STRICT, 0, 4, 0);
    remove_tree(dir);
}

static void test_unreadable_last_line_with_newline_is_a_warning(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 2);
    write_file(path, "a", "{\"v\":1}\n\n   \n");
    tt_log_stats st;
    tt_record **records;
    size_t count;
    assert_ok(tt_log_read_all(path, TT_LOG_STRICT, &records, &count, &st));
    assert_int_equal(count, 2);
    assert_int_equal(st.lines, 5);
    char where[600];
    snprintf(where, sizeof where, "%s:3: unreadable last line skipped", path);
    assert_contains(st.warnings, where);
    assert_contains(st.warnings, "missing field \"key\"");
    tt_record_array_free(records, count);
    tt_log_stats_free(&st);
    remove_tree(dir);
}

static void test_malformed_middle_line(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 2);
    write_file(path, "a", "\n{\"v\":1,\"key\":\"k\"}\n");
    append_n(path, 2, 4);
    tt_record **records = (tt_record **)0x1;
    size_t count = 99;
    tt_log_stats st;
    char where[600];
    snprintf(where, sizeof where, "%s:4: missing field \"workload\"", path);
    assert_fails_with(tt_log_read_all(path, TT_LOG_STRICT, &records, &count, &st), where);
    assert_null(records);
    assert_int_equal(count, 0);
    tt_log_stats_free(&st);
    /* Tolerant mode skips it with the same location in a warning. */
    assert_ok(tt_log_read_all(path, TT_LOG_TOLERANT, &records, &count, &st));
    assert_int_equal(count, 4);
    assert_int_equal(st.skipped, 1);
    snprintf(where, sizeof where, "%s:4: malformed line skipped: missing field \"workload\"", path);
    assert_contains(st.warnings, where);
    tt_record_array_free(records, count);
    tt_log_stats_free(&st);
    /* Garbage that is not a cut record is an error too. */
    write_file(path, "w", "hello\n");
    append_n(path, 0, 1);
    snprintf(where, sizeof where, "%s:1: invalid JSON", path);
    assert_fails_with(tt_log_read(path, TT_LOG_STRICT, NULL, NULL, NULL), where);
    remove_tree(dir);
}

static void test_many_warnings_are_capped(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 50; i++)
        fputs("not a record\n", f);
    fclose(f);
    append_n(path, 0, 1);
    tt_log_stats st;
    assert_ok(tt_log_read(path, TT_LOG_TOLERANT, NULL, NULL, &st));
    assert_int_equal(st.records, 1);
    assert_int_equal(st.skipped, 50);
    assert_int_equal(st.warnings_count, 50);
    size_t lines = 0;
    for (const char *p = st.warnings; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 21);
    assert_contains(st.warnings, "30 more malformed lines skipped");
    tt_log_stats_free(&st);
    remove_tree(dir);
}

static int stop_at_second(const tt_record *r, size_t line, void *ctx)
{
    int *seen = ctx;
    if (++*seen == 2)
        return tt_error_set("enough after trial %lld", (long long)r->trial);
    return 0;
}

static void test_visitor_can_stop(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    append_n(path, 0, 5);
    int seen = 0;
    char expect[600];
    snprintf(expect, sizeof expect, "%s:2: enough after trial 1", path);
    assert_fails_with(tt_log_read(path, TT_LOG_STRICT, stop_at_second, &seen, NULL), expect);
    assert_string_equal(tt_get_last_error(), expect);
    assert_int_equal(seen, 2);
    remove_tree(dir);
}

static void test_missing_directory_and_file(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/nodir/y.log", dir);
    tt_log *log = (tt_log *)0x1;
    char expect[700];
    snprintf(expect, sizeof expect, "cannot open log '%s': No such file or directory", path);
    assert_int_equal(tt_log_open_append(path, &log), -1);
    assert_string_equal(tt_get_last_error(), expect);
    assert_null(log);
    assert_int_equal(tt_log_read(path, TT_LOG_STRICT, NULL, NULL, NULL), -1);
    assert_string_equal(tt_get_last_error(), expect);
    /* A directory is not a log. */
    snprintf(expect, sizeof expect, "cannot open log '%s'", dir);
    assert_fails_with(tt_log_open_append(dir, &log), expect);
    remove_tree(dir);
}

static void test_bad_record_is_not_appended(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    tt_log *log;
    assert_ok(tt_log_open_append(path, &log));
    tt_record r = sample_record();
    r.key = "";
    char expect[700];
    snprintf(expect, sizeof expect, "log '%s': field \"key\"", path);
    assert_fails_with(tt_log_append(log, &r), expect);
    assert_ok(tt_log_close(log));
    size_t len = 0;
    free(slurp(path, &len));
    assert_int_equal(len, 0);
    remove_tree(dir);
}

static void test_concurrent_appenders_interleave_whole_lines(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *path = path_in(dir, "tune.log");
    enum { PER_CHILD = 200 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            tt_log *log;
            if (tt_log_open_append(path, &log))
                _exit(1);
            for (int i = 0; i < PER_CHILD; i++) {
                numbered n;
                make_numbered(&n, k * PER_CHILD + i);
                if (tt_log_append(log, &n.r))
                    _exit(2);
            }
            _exit(tt_log_close(log) ? 3 : 0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    tt_record **records;
    size_t count;
    tt_log_stats st;
    assert_ok(tt_log_read_all(path, TT_LOG_STRICT, &records, &count, &st));
    assert_int_equal(count, 2 * PER_CHILD);
    assert_int_equal(st.warnings_count, 0);
    /* Every trial exactly once. */
    char seen[2 * PER_CHILD] = {0};
    for (size_t i = 0; i < count; i++) {
        assert_in_range(records[i]->trial, 0, 2 * PER_CHILD - 1);
        assert_int_equal(seen[records[i]->trial]++, 0);
    }
    tt_record_array_free(records, count);
    tt_log_stats_free(&st);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_then_read_back),
        cmocka_unit_test(test_truncated_last_line),
        cmocka_unit_test(test_last_line_missing_only_its_newline_counts),
        cmocka_unit_test(test_unreadable_last_line_with_newline_is_a_warning),
        cmocka_unit_test(test_malformed_middle_line),
        cmocka_unit_test(test_many_warnings_are_capped),
        cmocka_unit_test(test_visitor_can_stop),
        cmocka_unit_test(test_missing_directory_and_file),
        cmocka_unit_test(test_bad_record_is_not_appended),
        cmocka_unit_test(test_concurrent_appenders_interleave_whole_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
