/* Tests logs/record.c and logs/record_codec.c: the exact line format, round trips, every
 * validation rule with its message, truncation detection, costs statistics and the hash. */
#include <math.h>

#include "logs_test.h"

/* The sample's line, written out by hand from docs/ARCHITECTURE.md's example (compact separators).
 */
static const char golden_line[] =
    "{\"v\":1,\"key\":\"matmul_1024x1024x1024_f32-3fa2c1d0\","
    "\"workload\":{\"op\":\"matmul\",\"M\":1024,\"N\":1024,\"K\":1024,\"dtype\":\"float32\"},"
    "\"target\":\"llvm -mtriple=x86_64-linux-gnu -mcpu=znver4\","
    "\"steps\":[[\"split\",\"i\",[32,4]],[\"parallel\",\"i.0\"]],"
    "\"costs\":[0.0121,0.0123,0.0122],\"error\":0,\"error_msg\":\"\",\"build_s\":0.04,"
    "\"gflops\":176.2,\"time\":\"2026-11-23T18:00:00Z\",\"tuner\":\"xgb\",\"trial\":17,"
    "\"seed\":1}\n";

static void assert_records_equal(const tt_record *a, const tt_record *b)
{
    assert_string_equal(a->key, b->key);
    assert_string_equal(a->workload, b->workload);
    assert_string_equal(a->target, b->target);
    assert_string_equal(a->steps, b->steps);
    assert_int_equal(a->n_costs, b->n_costs);
    for (size_t i = 0; i < a->n_costs; i++)
        assert_true(a->costs[i] == b->costs[i]);
    assert_int_equal(a->error, b->error);
    assert_string_equal(a->error_msg ? a->error_msg : "", b->error_msg ? b->error_msg : "");
    assert_true(a->build_s == b->build_s);
    assert_true(a->gflops == b->gflops);
    assert_string_equal(a->time, b->time);
    assert_string_equal(a->tuner, b->tuner);
    assert_int_equal(a->trial, b->trial);
    assert_int_equal(a->seed, b->seed);
    assert_string_equal(a->device ? a->device : "", b->device ? b->device : "");
}

static void test_encode_matches_golden_line(void **state)
{
    (void)state;
    tt_record r = sample_record();
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    assert_string_equal(line, golden_line);
    free(line);
}

/* The device is optional: absent from a local record's line, kept when a remote one names it. */
static void test_device_field(void **state)
{
    (void)state;
    tt_record r = sample_record();
    r.device = "";
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    assert_string_equal(line, golden_line);
    free(line);
    r.device = "127.0.0.1:9090 (cortex-a72, aarch64-linux-gnu)";
    assert_ok(tt_record_encode(&r, &line));
    assert_non_null(
        strstr(line, ",\"device\":\"127.0.0.1:9090 (cortex-a72, aarch64-linux-gnu)\"}"));
    tt_record *back;
    assert_ok(tt_record_decode(line, strlen(line), &back));
    assert_records_equal(&r, back);
    tt_record *copy;
    assert_ok(tt_record_copy(back, &copy));
    assert_string_equal(copy->device, r.device);
    tt_record_free(copy);
    tt_record_free(back);
    free(line);
    /* a device that is not a string is refused with the field's name */
    const char *bad = "{\"v\":1,\"key\":\"k\",\"workload\":{},\"target\":\"t\",\"steps\":[],"
                      "\"costs\":[1],\"error\":0,\"error_msg\":\"\",\"build_s\":0,\"gflops\":0,"
                      "\"time\":\"2026-11-23T18:00:00Z\",\"tuner\":\"x\",\"trial\":0,\"seed\":1,"
                      "\"device\":7}";
    assert_int_not_equal(tt_record_decode(bad, strlen(bad), &back), 0);
    assert_non_null(strstr(tt_get_last_error(), "\"device\""));
}

static void test_round_trip_all_fields(void **state)
{
    (void)state;
    static const double costs[] = {1e-05, 0.1, 3.0000000000000004, 123456.789, 0};
    tt_record r = sample_record();
    /* Non-compact input texts come back compact; odd characters survive. */
    r.workload = "{ \"op\" : \"expr\", \"name\": \"scaled_mm\",\n \"inputs\": {\"A\": [64, 128]},"
                 " \"alpha\": 0.5, \"ok\": true, \"none\": null}";
    r.steps = "[ ]";
    r.costs = costs;
    r.n_costs = 5;
    r.error = TT_OUTCOME_OK;
    r.error_msg =
        "note: \"quoted\"\tand\nnewline \\ back, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    r.build_s = 12.5;
    r.gflops = 0;
    r.time = "2026-01-02T03:04:05.678Z";
    r.tuner = "genetic";
    r.trial = 0;
    r.seed = -42;
    r.key = "expr_scaled_mm-\xce\xbb";
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    /* One line: the only newline is the last byte. */
    size_t len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1));
    tt_record *d;
    assert_ok(tt_record_decode(line, len, &d));
    tt_record expect = r;
    expect.workload = "{\"op\":\"expr\",\"name\":\"scaled_mm\",\"inputs\":{\"A\":[64,128]},"
                      "\"alpha\":0.5,\"ok\":true,\"none\":null}";
    expect.steps = "[]";
    assert_records_equal(d, &expect);
    /* Encoding the decoded record gives the same line back. */
    char *again;
    assert_ok(tt_record_encode(d, &again));
    assert_string_equal(again, line);
    free(again);
    free(line);
    tt_record_free(d);
}

static void test_round_trip_error_record(void **state)
{
    (void)state;
    tt_record r = sample_record();
    r.error = TT_OUTCOME_RUN_TIMEOUT;
    r.error_msg = "killed after 10 s";
    r.costs = NULL;
    r.n_costs = 0;
    r.gflops = 0;
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    assert_contains(line, "\"costs\":[],\"error\":6,\"error_msg\":\"killed after 10 s\"");
    tt_record *d;
    assert_ok(tt_record_decode(line, strlen(line), &d));
    assert_records_equal(d, &r);
    assert_true(isinf(tt_record_cost(d)));
    assert_true(isinf(tt_record_cost_min(d)));
    tt_record_free(d);
    free(line);
}

static void test_invalid_utf8_in_error_msg_is_replaced(void **state)
{
    (void)state;
    tt_record r = sample_record();
    r.error = TT_OUTCOME_COMPILE_ERROR;
    r.error_msg = "bad \xff byte and cut \xe2\x82";
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    tt_record *d;
    assert_ok(tt_record_decode(line, strlen(line), &d));
    assert_string_equal(d->error_msg, "bad \xef\xbf\xbd byte and cut \xef\xbf\xbd\xef\xbf\xbd");
    tt_record_free(d);
    free(line);
    /* Anywhere else it is an error. */
    r.target = "llvm \xff";
    assert_fails_with(tt_record_encode(&r, &line), "field \"target\": not valid UTF-8");
    assert_null(line);
}

static void test_numbers_take_their_shortest_form(void **state)
{
    (void)state;
    static const double costs[] = {-0.0, 0.1, 1.0 / 3, 1e-300, 2.5e+20};
    tt_record r = sample_record();
    r.costs = costs;
    r.n_costs = 5;
    r.gflops = 1e21;
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    /* -0 would read back as the integer 0 and break the byte-for-byte round trip. */
    assert_contains(line, "\"costs\":[0,0.1,0.3333333333333333,1e-300,2.5e+20]");
    assert_contains(line, "\"gflops\":1e+21");
    tt_record *d;
    assert_ok(tt_record_decode(line, strlen(line), &d));
    for (size_t i = 0; i < 5; i++)
        assert_true(d->costs[i] == costs[i]);
    tt_record_free(d);
    free(line);
}

static void test_control_characters_are_escaped(void **state)
{
    (void)state;
    tt_record r = sample_record();
    r.error_msg = "a\x01z\r";
    char *line;
    assert_ok(tt_record_encode(&r, &line));
    assert_contains(line, "\"error_msg\":\"a\\u0001z\\r\"");
    free(line);
}

/* Replaces the first `from` in the golden line by `to`. */
static char *variant(const char *from, const char *to)
{
    const char *at = strstr(golden_line, from);
    if (!at)
        fail_msg("\"%s\" not in the golden line", from);
    size_t n = strlen(golden_line) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    size_t head = (size_t)(at - golden_line);
    memcpy(s, golden_line, head);
    strcpy(s + head, to);
    strcat(s, at + strlen(from));
    return s;
}

static void test_malformed_lines(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *message;
    } cases[] = {
        {"{\"v\":1,", "{\"v\":1,,", "invalid JSON at column"},
        {"\"seed\":1}", "\"seed\":1} x", "invalid JSON"},
        {"\"seed\":1}", "\"seed\":1}}", "invalid JSON"},
        {"\"costs\":[0.0121,", "\"costs\":[NaN,", "invalid JSON"},
        {"\"costs\":[0.0121,", "\"costs\":[1e999,", "invalid JSON"},
        {"\"key\":\"matmul", "\"key\":\"\\u0000matmul", "invalid JSON"},
        {"\"v\":1,\"key\":\"matmul_1024x1024x1024_f32-3fa2c1d0\",", "\"v\":1,",
         "missing field \"key\""},
        {"\"seed\":1}", "\"seed\":1,\"extra\":2}", "unknown field \"extra\""},
        {"\"trial\":17,", "\"trial\":17,\"trial\":18,", "duplicate object key"},
        {"\"v\":1", "\"v\":2", "field \"v\": expected 1"},
        {"\"v\":1", "\"v\":\"1\"", "field \"v\": expected an integer, got a string"},
        {"\"key\":\"matmul_1024x1024x1024_f32-3fa2c1d0\"", "\"key\":\"\"",
         "field \"key\": expected a non-empty string"},
        {"\"key\":\"matmul_1024x1024x1024_f32-3fa2c1d0\"", "\"key\":7",
         "field \"key\": expected a string, got an integer"},
        {"\"workload\":{\"op\":\"matmul\",\"M\":1024,\"N\":1024,\"K\":1024,\"dtype\":\"float32\"}",
         "\"workload\":[1]", "field \"workload\": expected an object, got an array"},
        {"\"steps\":[[\"split\",\"i\",[32,4]],[\"parallel\",\"i.0\"]]", "\"steps\":{}",
         "field \"steps\": expected an array, got an object"},
        {"\"target\":\"llvm", "\"target\":null,\"x\":\"llvm", "unknown field \"x\""},
        {"\"target\":\"llvm -mtriple=x86_64-linux-gnu -mcpu=znver4\"", "\"target\":null",
         "field \"target\": expected a string, got null"},
        {"\"error\":0", "\"error\":9", "field \"error\": expected an error code 0..8, got 9"},
        {"\"error\":0", "\"error\":-1", "field \"error\": expected an error code 0..8, got -1"},
        {"\"error\":0", "\"error\":false", "field \"error\": expected an integer, got false"},
        {"[0.0121,0.0123,", "[0.0121,-0.0123,",
         "field \"costs\"[1]: expected a finite non-negative number"},
        {"[0.0121,0.0123,", "[0.0121,\"fast\",", "field \"costs\"[1]: expected a number"},
        {"\"costs\":[0.0121,0.0123,0.0122]", "\"costs\":0.0121",
         "field \"costs\": expected an array of numbers, got a real number"},
        {"\"costs\":[0.0121,0.0123,0.0122]", "\"costs\":[]",
         "field \"costs\": expected at least one cost"},
        {"\"build_s\":0.04", "\"build_s\":-0.04", "field \"build_s\": expected a finite non-neg"},
        {"\"gflops\":176.2", "\"gflops\":\"high\"",
         "field \"gflops\": expected a number, got a string"},
        {"\"time\":\"2026-11-23T18:00:00Z\"", "\"time\":\"yesterday\"",
         "field \"time\": expected a UTC time"},
        {"\"time\":\"2026-11-23T18:00:00Z\"", "\"time\":\"2026-13-23T18:00:00Z\"",
         "field \"time\""},
        {"\"time\":\"2026-11-23T18:00:00Z\"", "\"time\":\"2026-11-23T18:00:00+01:00\"",
         "field \"time\""},
        {"\"tuner\":\"xgb\"", "\"tuner\":[]", "field \"tuner\": expected a string, got an array"},
        {"\"trial\":17", "\"trial\":-3", "field \"trial\": expected a non-negative integer"},
        {"\"trial\":17", "\"trial\":1.5", "field \"trial\": expected an integer, got a real"},
        {"\"seed\":1", "\"seed\":99999999999999999999", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = variant(cases[i].from, cases[i].to);
        tt_record *r = (tt_record *)0x1;
        if (tt_record_decode(line, strlen(line), &r) != -1)
            fail_msg("case %zu decoded: %s", i, line);
        assert_null(r);
        if (!strstr(tt_get_last_error(), cases[i].message))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, tt_get_last_error(),
                     cases[i].message);
        free(line);
    }
    tt_record *r;
    assert_fails_with(tt_record_decode("[1,2]", 5, &r), "expected a JSON object");
    assert_fails_with(tt_record_decode("", 0, &r), "invalid JSON");
}

static void test_decode_takes_a_length(void **state)
{
    (void)state;
    /* No NUL needed, and bytes past len are not read. */
    size_t len = strlen(golden_line);
    char *buf = malloc(len + 10);
    memcpy(buf, golden_line, len);
    memcpy(buf + len, "garbage!!!", 10);
    tt_record *r;
    assert_ok(tt_record_decode(buf, len, &r));
    tt_record expect = sample_record();
    assert_records_equal(r, &expect);
    tt_record_free(r);
    free(buf);
}

static void test_every_prefix_is_truncated(void **state)
{
    (void)state;
    /* A record with escapes, multi-byte characters and negative numbers, cut at every byte:
     * each prefix fails and is recognised as a line cut short. */
    tt_record s = sample_record();
    s.error_msg = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ \n";
    s.seed = -12;
    s.build_s = 1e-07;
    char *line;
    assert_ok(tt_record_encode(&s, &line));
    size_t len = strlen(line) - 1; /* without '\n' */
    for (size_t cut = 1; cut < len; cut++) {
        tt_record *r;
        int truncated = -1;
        if (tt_record_decode_line(line, cut, &r, &truncated) == 0)
            fail_msg("prefix of %zu bytes decoded", cut);
        if (truncated != 1)
            fail_msg("prefix of %zu bytes (\"...%.12s\") not seen as truncated: %s", cut,
                     line + (cut > 12 ? cut - 12 : 0), tt_get_last_error());
    }
    free(line);
    /* Other malformed lines are not truncations. */
    static const char *const not_cut[] = {"hello", "{\"a\":nan}", "{\"a\":1}}", "[1,2",
                                          "{\"a\":1} x"};
    for (size_t i = 0; i < sizeof not_cut / sizeof not_cut[0]; i++) {
        tt_record *r;
        int truncated = -1;
        assert_int_equal(tt_record_decode_line(not_cut[i], strlen(not_cut[i]), &r, &truncated), -1);
        if (truncated != 0)
            fail_msg("\"%s\" seen as truncated", not_cut[i]);
    }
}

static void test_encode_checks_the_record(void **state)
{
    (void)state;
    static const double nan_costs[] = {0.1, NAN};
    static const double neg_costs[] = {-1};
    char *line = (char *)0x1;
    tt_record r = sample_record();
    r.key = "";
    assert_fails_with(tt_record_encode(&r, &line), "field \"key\": expected a non-empty string");
    assert_null(line);
    r = sample_record();
    r.costs = nan_costs;
    r.n_costs = 2;
    assert_fails_with(tt_record_encode(&r, &line), "field \"costs\"[1]");
    r.costs = neg_costs;
    r.n_costs = 1;
    assert_fails_with(tt_record_encode(&r, &line), "field \"costs\"[0]");
    r = sample_record();
    r.gflops = INFINITY;
    assert_fails_with(tt_record_encode(&r, &line), "field \"gflops\"");
    r = sample_record();
    r.workload = "{\"op\": ";
    assert_fails_with(tt_record_encode(&r, &line), "field \"workload\": invalid JSON");
    r.workload = "[]";
    assert_fails_with(tt_record_encode(&r, &line), "field \"workload\": expected a JSON object");
    r = sample_record();
    r.steps = NULL;
    assert_fails_with(tt_record_encode(&r, &line), "field \"steps\"");
    r = sample_record();
    r.error = TT_OUTCOME_COUNT;
    assert_fails_with(tt_record_encode(&r, &line), "field \"error\"");
    r = sample_record();
    r.time = "2026-11-23 18:00:00";
    assert_fails_with(tt_record_encode(&r, &line), "field \"time\"");
    r = sample_record();
    r.tuner = NULL;
    assert_fails_with(tt_record_check(&r), "field \"tuner\": expected a string, got NULL");
    r = sample_record();
    r.error_msg = NULL; /* reads as "" */
    assert_ok(tt_record_check(&r));
    assert_ok(tt_record_encode(&r, &line));
    assert_contains(line, "\"error_msg\":\"\"");
    free(line);
}

static void test_cost_statistics(void **state)
{
    (void)state;
    tt_record r = sample_record();
    assert_true(tt_record_cost(&r) == 0.0122);
    assert_true(tt_record_cost_min(&r) == 0.0121);
    assert_float_equal(tt_record_cost_spread(&r), (0.0123 - 0.0121) / 0.0122, 1e-12);
    static const double even[] = {4, 1, 3, 2};
    r.costs = even;
    r.n_costs = 4;
    assert_true(tt_record_cost(&r) == 2.5);
    assert_true(tt_record_cost_min(&r) == 1);
    assert_float_equal(tt_record_cost_spread(&r), 3 / 2.5, 1e-12);
    static const double one[] = {0.5};
    r.costs = one;
    r.n_costs = 1;
    assert_true(tt_record_cost(&r) == 0.5);
    assert_true(tt_record_cost_spread(&r) == 0);
    /* Many costs (the sorted-copy path) against a reference: 0..99 shuffled, median 49.5. */
    double many[100];
    for (int i = 0; i < 100; i++)
        many[i] = (double)((i * 37) % 100);
    r.costs = many;
    r.n_costs = 100;
    assert_true(tt_record_cost(&r) == 49.5);
    assert_true(tt_record_cost_min(&r) == 0);
    r.n_costs = 99; /* drops 63: 0..99 without 63, the 50th smallest is 49 */
    assert_true(tt_record_cost(&r) == 49);
    r = sample_record();
    r.error = TT_OUTCOME_WRONG_ANSWER;
    assert_true(isinf(tt_record_cost(&r)) && tt_record_cost(&r) > 0);
    assert_true(isinf(tt_record_cost_spread(&r)));
}

static void test_error_names(void **state)
{
    (void)state;
    static const char *const names[] = {"none",          "invalid schedule", "compile error",
                                        "runtime error", "wrong answer",     "build timeout",
                                        "run timeout",   "unknown",          "device error"};
    assert_int_equal(TT_OUTCOME_COUNT, 9);
    for (int i = 0; i < TT_OUTCOME_COUNT; i++)
        assert_string_equal(tt_record_error_name(i), names[i]);
    assert_null(tt_record_error_name(-1));
    assert_null(tt_record_error_name(9));
    assert_int_equal(TT_OUTCOME_WRONG_ANSWER, 4);
    assert_int_equal(TT_OUTCOME_UNKNOWN_ERROR, 7);
    assert_int_equal(TT_OUTCOME_DEVICE_ERROR, 8);
}

static void test_hash(void **state)
{
    (void)state;
    tt_record r = sample_record();
    char h1[TT_RECORD_HASH_LEN + 1], h2[TT_RECORD_HASH_LEN + 1];
    assert_ok(tt_record_hash(&r, h1));
    assert_int_equal(strlen(h1), 32);
    assert_int_equal(strspn(h1, "0123456789abcdef"), 32);
    /* Steps are hashed canonically; fields outside the identity do not count. */
    r.steps = "[ [\"split\", \"i\", [32, 4]], [\"parallel\", \"i.0\"] ]";
    r.gflops = 1;
    r.build_s = 9;
    r.tuner = "random";
    assert_ok(tt_record_hash(&r, h2));
    assert_string_equal(h1, h2);
    /* Each identity field counts. */
    static const double other_costs[] = {0.0121, 0.0123, 0.0124};
    const char *fields[] = {"trial", "seed", "time", "key", "target", "steps", "costs"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        r = sample_record();
        switch (i) {
        case 0:
            r.trial++;
            break;
        case 1:
            r.seed++;
            break;
        case 2:
            r.time = "2026-11-23T18:00:01Z";
            break;
        case 3:
            r.key = "matmul_1024x1024x1024_f32-3fa2c1d1";
            break;
        case 4:
            r.target = "llvm";
            break;
        case 5:
            r.steps = "[]";
            break;
        case 6:
            r.costs = other_costs;
            break;
        }
        assert_ok(tt_record_hash(&r, h2));
        if (strcmp(h1, h2) == 0)
            fail_msg("changing %s kept the hash", fields[i]);
    }
}

static void test_copy_owns_everything(void **state)
{
    (void)state;
    char key[] = "matmul-1";
    double costs[] = {1, 2};
    tt_record r = sample_record();
    r.key = key;
    r.costs = costs;
    r.n_costs = 2;
    tt_record *c;
    assert_ok(tt_record_copy(&r, &c));
    key[0] = 'X';
    costs[0] = 99;
    assert_string_equal(c->key, "matmul-1");
    assert_true(c->costs[0] == 1 && c->costs[1] == 2);
    assert_string_equal(c->workload, r.workload);
    tt_record_free(c);
    tt_record_free(NULL);
}

static void test_time_now_has_the_record_format(void **state)
{
    (void)state;
    char now[TT_RECORD_TIME_LEN];
    tt_record_time_now(now);
    assert_int_equal(strlen(now), 20);
    tt_record r = sample_record();
    r.time = now;
    assert_ok(tt_record_check(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_golden_line),
        cmocka_unit_test(test_round_trip_all_fields),
        cmocka_unit_test(test_device_field),
        cmocka_unit_test(test_round_trip_error_record),
        cmocka_unit_test(test_invalid_utf8_in_error_msg_is_replaced),
        cmocka_unit_test(test_numbers_take_their_shortest_form),
        cmocka_unit_test(test_control_characters_are_escaped),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_decode_takes_a_length),
        cmocka_unit_test(test_every_prefix_is_truncated),
        cmocka_unit_test(test_encode_checks_the_record),
        cmocka_unit_test(test_cost_statistics),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_copy_owns_everything),
        cmocka_unit_test(test_time_now_has_the_record_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
