/* Tests of ir/opjson.c: good op.json files give the expected canonical JSON and workload keys
 * (stable across runs, key order and weight; rebuilt from the canonical text), defaults fill in,
 * and each bad file under tests/ir/data gives its message with file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/interp.h"
#include "ir/opjson.h"

static char *src_path(const char *rel)
{
    const char *root = getenv("TT_SOURCE_DIR");
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "../../..", rel);
    return buf;
}

/* Independent of the library: FNV-1a as specified (offset 2166136261, prime 16777619). */
static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void check_key(const tt_task *t)
{
    char key[512];
    snprintf(key, sizeof key, "%s-%08x", t->name, fnv(t->canonical_json));
    assert_string_equal(t->key, key);
    tt_task *r = NULL;
    if (tt_task_from_json_text(t->canonical_json, &r) != 0)
        fail_msg("rebuild %s: %s", t->name, tt_get_last_error());
    assert_string_equal(r->canonical_json, t->canonical_json);
    assert_string_equal(r->key, t->key);
    assert_int_equal(r->compute->nstages, t->compute->nstages);
    tt_task_free(r);
}

static void test_fnv(void **state)
{
    (void)state;
    assert_int_equal(tt_fnv1a32("", 0), 0x811c9dc5u);
    assert_int_equal(tt_fnv1a32("a", 1), 0xe40c292cu);
    assert_int_equal(tt_fnv1a32("foobar", 6), 0xbf9cf968u);
}

static void test_examples(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int ntasks;
        const char *first_key;
    } ex[] = {
        {"examples/matmul.json", 1, "matmul_256x256x256_f32-d78bed43"},
        {"examples/conv2d.json", 1,
         "conv2d_nchw_n1_c64_h28_w28_k64_r3_s3_st1_p1_d1_bias_relu_f32-b49d835d"},
        {"examples/expr.json", 3, "scaled_mm-44034dd0"},
        {"examples/resnet_block.json", 8,
         "conv2d_nchw_n1_c3_h224_w224_k64_r7_s7_st2_p3_d1_bias_relu_f32-d22e0eb4"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        tt_opfile *f = NULL;
        if (tt_opfile_load(src_path(ex[i].file), &f) != 0)
            fail_msg("%s: %s", ex[i].file, tt_get_last_error());
        assert_int_equal(f->ntasks, ex[i].ntasks);
        assert_string_equal(f->tasks[0].key, ex[i].first_key);
        for (int t = 0; t < f->ntasks; t++)
            check_key(&f->tasks[t]);
        tt_opfile_free(f);
    }
    tt_opfile *f = NULL;
    assert_int_equal(tt_opfile_load(src_path("examples/matmul.json"), &f), 0);
    assert_string_equal(f->tasks[0].canonical_json,
                        "{\"K\":256,\"M\":256,\"N\":256,\"dtype\":\"float32\","
                        "\"name\":\"matmul_256x256x256_f32\",\"op\":\"matmul\"}");
    assert_string_equal(f->target, "llvm -mcpu=native");
    assert_int_equal(f->measure.repeat, 5);
    assert_true(f->measure.min_repeat_ms == 100 && f->measure.flush_cache);
    tt_opfile_free(f);
}

static tt_opfile *parse(const char *text)
{
    tt_opfile *f = NULL;
    if (tt_opfile_parse_string(text, "t.json", &f) != 0)
        fail_msg("%s", tt_get_last_error());
    return f;
}

static void test_defaults(void **state)
{
    (void)state;
    tt_opfile *f = parse("{\"op\": \"conv2d\", \"C\": 8, \"H\": 10, \"W\": 12, \"K\": 16, "
                         "\"R\": 3, \"S\": 3}");
    assert_string_equal(f->target, "llvm -mcpu=native");
    assert_int_equal(f->measure.repeat, 3);
    assert_true(f->measure.min_repeat_ms == 50 && f->measure.timeout_s == 10);
    assert_false(f->measure.flush_cache);
    assert_true(f->measure.check);
    assert_int_equal(f->measure.threads, 0);
    tt_task *t = &f->tasks[0];
    assert_true(t->weight == 1);
    assert_string_equal(t->op, "conv2d");
    assert_string_equal(t->name, "conv2d_nchw_n1_c8_h10_w12_k16_r3_s3_st1_p0_d1_f32");
    assert_string_equal(t->canonical_json,
                        "{\"C\":8,\"H\":10,\"K\":16,\"N\":1,\"R\":3,\"S\":3,\"W\":12,"
                        "\"activation\":\"none\",\"bias\":false,\"dilation\":[1,1],"
                        "\"dtype\":\"float32\",\"layout\":\"NCHW\","
                        "\"name\":\"conv2d_nchw_n1_c8_h10_w12_k16_r3_s3_st1_p0_d1_f32\","
                        "\"op\":\"conv2d\",\"pad\":[0,0],\"stride\":[1,1]}");
    const tt_tensor *out = t->compute->stages[t->compute->nstages - 1]->output;
    assert_int_equal(out->shape[2], 8);
    assert_int_equal(out->shape[3], 10);
    check_key(t);
    tt_opfile_free(f);

    /* pool2d: stride defaults to the window */
    f = parse("{\"op\": \"pool2d\", \"pool\": \"avg\", \"C\": 2, \"H\": 8, \"W\": 8, \"R\": 2, "
              "\"S\": 2, \"dtype\": \"float64\"}");
    assert_string_equal(f->tasks[0].name, "pool2d_avg_nchw_n1_c2_h8_w8_r2_s2_st2_p0_f64");
    assert_non_null(strstr(f->tasks[0].canonical_json, "\"stride\":[2,2]"));
    check_key(&f->tasks[0]);
    tt_opfile_free(f);
}

/* Key order, whitespace and weight do not change the workload; a size does. */
static void test_key_stability(void **state)
{
    (void)state;
    tt_opfile *a = parse("{\"op\": \"dense\", \"M\": 4, \"N\": 6, \"K\": 8, \"bias\": true}");
    tt_opfile *b = parse("{\"K\":8,\n \"bias\":true,\"weight\":7,\"N\":6,\"M\":4,\"op\":\"dense\","
                         "\"activation\":\"none\",\"dtype\":\"float32\"}");
    tt_opfile *c = parse("{\"op\": \"dense\", \"M\": 4, \"N\": 6, \"K\": 9, \"bias\": true}");
    assert_string_equal(a->tasks[0].key, b->tasks[0].key);
    assert_string_equal(a->tasks[0].key, "dense_4x6x8_bias_f32-9b3ac5d4");
    assert_true(b->tasks[0].weight == 7);
    assert_string_not_equal(a->tasks[0].key, c->tasks[0].key);
    tt_opfile_free(a);
    tt_opfile_free(b);
    tt_opfile_free(c);
}

static void test_good_mixed(void **state)
{
    (void)state;
    tt_opfile *f = NULL;
    if (tt_opfile_load(src_path("tests/ir/data/good_mixed.json"), &f) != 0)
        fail_msg("%s", tt_get_last_error());
    assert_int_equal(f->ntasks, 2);
    assert_int_equal(f->measure.threads, 2);
    assert_false(f->measure.check);
    assert_int_equal(f->measure.repeat, 3);
    tt_task *t = &f->tasks[0];
    assert_string_equal(t->canonical_json,
                        "{\"compute\":\"Y[n] = select(n - 1 >= 0, X[n - 1], 0.0) + b[]\","
                        "\"extents\":{\"n\":10},\"inputs\":[[\"X\",[10],\"float64\"],"
                        "[\"b\",[],\"float64\"]],\"name\":\"shift_add\",\"op\":\"expr\"}");
    assert_true(t->weight == 2.5);
    assert_int_equal(t->line, 4);
    assert_int_equal(t->col, 5);
    assert_int_equal(t->compute->ninputs, 2);
    assert_string_equal(t->compute->inputs[0]->name, "X");
    assert_int_equal(t->compute->inputs[1]->ndim, 0);
    double x[10], b = 0.25, y[10];
    for (int i = 0; i < 10; i++)
        x[i] = i * 1.5 - 3;
    void *args[] = {x, &b, y};
    if (tt_compute_eval(t->compute, args) != 0)
        fail_msg("%s", tt_get_last_error());
    for (int n = 0; n < 10; n++)
        assert_true(y[n] == (n >= 1 ? x[n - 1] : 0.0) + b);
    check_key(t);
    t = &f->tasks[1];
    assert_string_equal(t->name, "conv2d_nhwc_n1_c4_h9_w7_k5_r3_s1_st2_p1x0_d2x1_f32");
    assert_non_null(strstr(t->canonical_json, "\"stride\":[2,2]"));
    const tt_tensor *out = t->compute->stages[t->compute->nstages - 1]->output;
    /* NHWC: X[N, H, W, C], W[R, S, C, K]; P = (9 + 2 - 2*2 - 1) / 2 + 1 = 4,
     * Q = (7 - 0 - 1) / 2 + 1 = 4 */
    static const int64_t xs[] = {1, 9, 7, 4}, ws[] = {3, 1, 4, 5};
    assert_int_equal(t->compute->ninputs, 2);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t->compute->inputs[0]->shape[i], xs[i]);
        assert_int_equal(t->compute->inputs[1]->shape[i], ws[i]);
    }
    assert_int_equal(out->shape[1], 4);
    assert_int_equal(out->shape[2], 4);
    assert_int_equal(out->shape[3], 5);
    check_key(t);
    tt_opfile_free(f);
}

/* Inputs keep the order written, in the compute and in the canonical form. */
static void test_expr_input_order(void **state)
{
    (void)state;
    tt_opfile *f = parse("{\"op\": \"expr\", \"name\": \"tmm\", \"inputs\": {\"B\": [5, 3], "
                         "\"A\": [5, 4]}, \"compute\": \"C[i, j] = sum(k, A[k, i] * B[k, j])\"}");
    tt_task *t = &f->tasks[0];
    assert_string_equal(t->compute->inputs[0]->name, "B");
    assert_string_equal(t->compute->inputs[1]->name, "A");
    assert_non_null(strstr(t->canonical_json, "[[\"B\",[5,3],\"float32\"],[\"A\",[5,4]"));
    check_key(t);
    tt_opfile_free(f);
}

static void test_bad_files(void **state)
{
    (void)state;
    /* file, expected message after "<path>:" (a prefix of it) */
    static const struct {
        const char *file, *msg;
    } bad[] = {
        {"bad_m.json", "3:8: field \"M\": expected a positive integer, got -4"},
        {"bad_json.json", "1:41: invalid JSON: string or '}' expected"},
        {"bad_op.json", "2:10: field \"op\": unknown op \"conv3d\": expected one of matmul"},
        {"bad_field.json", "2:2: field \"Q\": unknown field for op \"matmul\" (expected one of: "},
        {"bad_type.json", "1:23: field \"M\": expected a positive integer, got \"256\""},
        {"bad_missing.json", "3:3: missing size \"K\" (a positive integer)"},
        {"bad_overflow.json", "1:1: tensor A [2147483647x2147483647x2] would overflow 64-bit "
                              "byte counts"},
        {"bad_memory.json", "1:1: tensor A [1048576x1048576] is 4398046511104 bytes and does not "
                            "fit in memory"},
        {"bad_window.json", "2:7: field \"R\": the window (7, dilation 1: 7 rows) is larger than "
                            "the padded input (H 5 + 2*0 = 5)"},
        {"bad_stride.json", "2:16: field \"stride[1]\": expected an array of 2 integers >= 1"},
        {"bad_pad.json", "2:9: field \"pad\": expected an array of 2 integers >= 0 ([h, w]), got "
                         "[1]"},
        {"bad_dilation.json", "2:14: field \"dilation\": expected an array of 2 integers >= 1"},
        {"bad_dtype.json", "1:50: field \"dtype\": expected \"float32\" or \"float64\", got "
                           "\"float16\""},
        {"bad_expr.json", "3:15: field \"compute\": expr:1:28: undefined tensor 'Z'"},
        {"bad_expr_syntax.json", "2:13: field \"compute\": expr:1:34: expected ']'"},
        {"bad_expr_range.json", "2:13: field \"compute\": expr:1:3: cannot infer the range of "
                                "index 'n'"},
        {"bad_expr_input.json", "1:45: field \"A\": expected a shape: an array of positive "
                                "integers, got [64,0]"},
        {"bad_tasks.json", "1:29: field \"tasks\": expected a non-empty array of task objects"},
        {"bad_measure.json", "1:24: field \"repeat\": expected an integer >= 1, got 0"},
        {"bad_threads.json", "1:83: field \"threads\": expected an integer >= 0"},
        {"bad_dupname.json", "3:51: field \"name\": task name \"mm\" is already used by task 0"},
        {"bad_dupkey.json", "1:28: invalid JSON: duplicate object key"},
        {"bad_name.json", "1:50: field \"name\": expected a C identifier"},
        {"bad_weight.json", "1:52: field \"weight\": expected a positive number, got 0"},
        {"bad_layout.json", "1:68: field \"layout\": expected \"NCHW\" or \"NHWC\", got \"NCWH\""},
        {"bad_pool.json", "1:1: missing field \"pool\": expected \"max\" or \"avg\""},
        {"bad_root.json", "1:1: expected an object: one task, or {\"tasks\": [...]}"},
        {"bad_task_target.json", "1:53: field \"target\": unknown field for op \"matmul\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char rel[256], want[4096 + 1024];
        snprintf(rel, sizeof rel, "tests/ir/data/%s", bad[i].file);
        const char *path = src_path(rel);
        snprintf(want, sizeof want, "%s:%s", path, bad[i].msg);
        tt_opfile *f = (tt_opfile *)1;
        if (tt_opfile_load(path, &f) == 0)
            fail_msg("%s: loaded, expected an error", bad[i].file);
        assert_null(f);
        const char *got = tt_get_last_error();
        if (strncmp(got, want, strlen(want)) != 0)
            fail_msg("%s:\n  got:  %s\n  want: %s", bad[i].file, got, want);
    }
    tt_opfile *f = NULL;
    assert_int_equal(tt_opfile_load(src_path("tests/ir/data/no_such_file.json"), &f), -1);
    assert_non_null(strstr(tt_get_last_error(), "cannot open"));
}

static void test_bad_workload(void **state)
{
    (void)state;
    tt_task *t = (tt_task *)1;
    assert_int_equal(tt_task_from_json_text("{\"op\": \"matmul\", \"M\": 4}", &t), -1);
    assert_null(t);
    assert_string_equal(tt_get_last_error(), "workload:1:1: missing size \"N\" (a positive "
                                             "integer)");
    assert_int_equal(tt_task_from_json_text("[1]", &t), -1);
    assert_int_equal(
        tt_task_from_json_text("{\"op\": \"expr\", \"name\": \"e\", \"inputs\": "
                               "[[\"A\", [4], \"int8\"]], \"compute\": \"B[i] = A[i]\"}",
                               &t),
        -1);
    assert_non_null(strstr(tt_get_last_error(), "workload:1:40: field \"inputs[0]\": dtype: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv),        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_key_stability),
        cmocka_unit_test(test_good_mixed), cmocka_unit_test(test_expr_input_order),
        cmocka_unit_test(test_bad_files),  cmocka_unit_test(test_bad_workload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
