/* Tests of ir/schedule.c (steps, canonical JSON) and of the steps lowering rejects: a table of
 * invalid schedules, each with the message tt_lower must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lower_check.h"

static const char *CANON =
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4,16]},"
    "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j\",\"i.1\"]},"
    "{\"s\":\"fuse\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j\"]},"
    "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i.0@j\"},"
    "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"i.2\"},"
    "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i.1\"},"
    "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"i.0@j\"},"
    "{\"s\":\"compute_at\",\"stage\":\"P\",\"target\":\"C\",\"loop\":\"j\"},"
    "{\"s\":\"inline\",\"stage\":\"X\"},"
    "{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":1,\"factor\":16}]";

static void test_json_round_trip(void **state)
{
    (void)state;
    tt_schedule *s = NULL;
    assert_int_equal(tt_schedule_from_json(CANON, &s), 0);
    assert_int_equal(tt_schedule_size(s), 10);
    char *js = tt_schedule_to_json(s);
    assert_string_equal(js, CANON);
    /* Key order and spacing of the input do not matter: the output is canonical. */
    tt_schedule *t = NULL;
    assert_int_equal(tt_schedule_from_json("[ {\"factors\": [4, 16], \"loop\": \"i\", \"stage\": "
                                           "\"C\", \"s\": \"split\"} ]",
                                           &t),
                     0);
    char *jt = tt_schedule_to_json(t);
    assert_string_equal(jt,
                        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4,16]}]");
    /* A copy encodes the same. */
    tt_schedule *c = tt_schedule_copy(s);
    char *jc = tt_schedule_to_json(c);
    assert_string_equal(jc, CANON);
    const tt_step *st = tt_schedule_step(c, 0);
    assert_int_equal(st->kind, TT_STEP_SPLIT);
    assert_int_equal(st->nfactors, 2);
    assert_int_equal(st->factors[1], 16);
    assert_null(tt_schedule_step(c, 10));
    tt_schedule_truncate(c, 9);
    assert_int_equal(tt_schedule_size(c), 1);
    free(js);
    free(jt);
    free(jc);
    tt_schedule_free(s);
    tt_schedule_free(t);
    tt_schedule_free(c);
}

static void test_typed_adders(void **state)
{
    (void)state;
    tt_schedule *s = tt_schedule_new();
    int64_t f[2] = {4, 16};
    const char *order[3] = {"i.0", "j", "i.1"}, *fused[2] = {"i.0", "j"};
    assert_int_equal(tt_schedule_split(s, "C", "i", 2, f), 0);
    assert_int_equal(tt_schedule_reorder(s, "C", 3, order), 0);
    assert_int_equal(tt_schedule_fuse(s, "C", 2, fused), 0);
    assert_int_equal(tt_schedule_parallel(s, "C", "i.0@j"), 0);
    assert_int_equal(tt_schedule_vectorize(s, "C", "i.2"), 0);
    assert_int_equal(tt_schedule_unroll(s, "C", "i.1"), 0);
    assert_int_equal(tt_schedule_cache_write(s, "C", "i.0@j"), 0);
    assert_int_equal(tt_schedule_compute_at(s, "P", "C", "j"), 0);
    assert_int_equal(tt_schedule_inline(s, "X"), 0);
    assert_int_equal(tt_schedule_pack(s, "C", "B", 1, 16), 0);
    char *js = tt_schedule_to_json(s);
    assert_string_equal(js, CANON);
    free(js);
    /* Malformed arguments. */
    assert_int_equal(tt_schedule_split(s, "C", "i", 0, f), -1);
    assert_int_equal(tt_schedule_fuse(s, "C", 1, fused), -1);
    assert_int_equal(tt_schedule_parallel(s, NULL, "i"), -1);
    assert_int_equal(tt_schedule_pack(s, "C", "B", 0, 0), -1);
    assert_int_equal(tt_schedule_size(s), 10);
    /* add_json appends one step. */
    assert_int_equal(tt_schedule_add_json(s, "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"k\"}"),
                     0);
    assert_int_equal(tt_schedule_size(s), 11);
    assert_string_equal(tt_step_describe(tt_schedule_step(s, 10)), "unroll C.k");
    tt_schedule_free(s);
}

static const struct {
    const char *json, *msg;
} bad_json[] = {
    {"{}", "steps: expected a JSON array of steps"},
    {"[1]", "step 0: expected an object"},
    {"[{\"stage\":\"C\"}]", "step 0: field \"s\": expected a string"},
    {"[{\"s\":\"tile\",\"stage\":\"C\"}]", "step 0: unknown step kind \"tile\""},
    {"[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\"}]",
     "step 0: field \"factors\": expected a non-empty array of integers"},
    {"[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[\"4\"]}]",
     "step 0: field \"factors\": element 0: expected an integer"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i\",\"x\":1}"
     "]",
     "step 1: unknown field \"x\""},
    {"[{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[]}]",
     "step 0: field \"loops\": expected a non-empty array of loop names"},
    {"[{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":4294967297,\"factor\":4}]",
     "step 0: fields \"dim\" and \"factor\": expected integers"},
    {"[", "steps: invalid JSON"},
};

static void test_json_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        tt_schedule *s = (tt_schedule *)1;
        assert_int_equal(tt_schedule_from_json(bad_json[i].json, &s), -1);
        assert_null(s);
        const char *e = tt_get_last_error();
        if (strncmp(e, bad_json[i].msg, strlen(bad_json[i].msg)) != 0)
            printf("case %zu: got \"%s\"\n", i, e);
        assert_true(strncmp(e, bad_json[i].msg, strlen(bad_json[i].msg)) == 0);
    }
}

#define MM "T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)"
#define SPLITS                                                                                     \
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[4]},"                            \
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"j\",\"factors\":[8]},"

static const struct {
    const char *json, *msg;
} rejected[] = {
    {"[{\"s\":\"split\",\"stage\":\"Z\",\"loop\":\"i\",\"factors\":[4]}]",
     "step 0 (split Z.i): no stage Z"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"q\",\"factors\":[4]}]",
     "step 0 (split T.q): no loop q in stage T"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[0]}]",
     "step 0 (split T.i): factor 0 of loop i, expected > 0"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[-3]}]",
     "step 0 (split T.i): factor -3 of loop i, expected > 0"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[16,16]}]",
     "step 0 (split T.i): factors of loop i multiply to 256, more than its extent 100"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[64]},"
     "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k.0\",\"factors\":[64]}]",
     "step 1 (split T.k.0): the nest of T runs 40960000 iterations for 500000 points: the splits "
     "overshoot more than 64x"},
    {"[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[4294967296,4294967296]}]",
     "step 0 (split T.i): factors of loop i are too large"},
    {"[" SPLITS "{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"j.1\"}]",
     "step 2 (vectorize T.j.1): loop j.1 is not innermost"},
    {"[{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"k\"}]",
     "step 0 (vectorize T.k): loop k is a reduce loop"},
    {"[{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j\"}]",
     "step 0 (vectorize C.j): loop j has extent 100, more than 64 lanes"},
    {"[" SPLITS "{\"s\":\"fuse\",\"stage\":\"T\",\"loops\":[\"i.0\",\"j.0\"]}]",
     "step 2 (fuse T.i.0,j.0): loops i.0 and j.0 are not adjacent (outer to inner)"},
    {"[{\"s\":\"fuse\",\"stage\":\"T\",\"loops\":[\"j\",\"k\"]}]",
     "step 0 (fuse T.j,k): loop k is a reduce loop and j is not"},
    {"[{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"i\",\"i\"]}]",
     "step 0 (reorder T.i,i): loop i appears twice: not a permutation"},
    {"[{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"i\",\"x\"]}]",
     "step 0 (reorder T.i,x): no loop x in stage T"},
    {"[{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"k\"}]",
     "step 0 (parallel T.k): loop k is a reduce loop: parallel would race"},
    {"[{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"k\",\"i\"]},"
     "{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"j\"}]",
     "step 1 (parallel T.j): loop j lies inside reduce loop k"},
    {"[{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"i\"},{\"s\":\"unroll\",\"stage\":\"T\","
     "\"loop\":\"i\"}]",
     "step 1 (unroll T.i): loop i is already parallel"},
    {"[{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"i\"},{\"s\":\"split\",\"stage\":\"T\","
     "\"loop\":\"i\",\"factors\":[4]}]",
     "step 1 (split T.i): loop i is already parallel: annotate after splitting"},
    {"[{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"i\"},{\"s\":\"fuse\",\"stage\":\"T\","
     "\"loops\":[\"i\",\"j\"]}]",
     "step 1 (fuse T.i,j): loop i is already parallel: annotate after fusing"},
    {"[{\"s\":\"unroll\",\"stage\":\"T\",\"loop\":\"i\"}]",
     "step 0 (unroll T.i): loop i has extent 100, more than 64 to unroll"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},"
     "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[16]},"
     "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"k.0\",\"k.1\",\"i\",\"j\"]},"
     "{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"k.1\"}]",
     "step 3 (cache_write T.k.1): the guard of reduce loop k.1 lies outside the tile, where the "
     "epilogue needs every last reduce block"},
    {"[{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"z\"}]",
     "step 0 (cache_write T.z): no loop z in stage T"},
    {"[{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"j\"},{\"s\":\"cache_write\",\"stage\":\"T\","
     "\"loop\":\"i\"}]",
     "step 1 (cache_write T.i): parallel loop j lies inside the tile"},
    {"[{\"s\":\"inline\",\"stage\":\"T\"}]",
     "step 0 (inline T): stage T is a reduction, not elementwise"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\","
     "\"factors\":[2]}]",
     "step 1 (split C.i): stage C is fused as an epilogue"},
    {"[{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"q\"}]",
     "step 0 (compute_at T.q at C): no loop q in stage C"},
    {"[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},"
     "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"},"
     "{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"j.1\"}]",
     "step 2 (compute_at T.j.1 at C): loop j.1 of C is vectorized"},
    {"[{\"s\":\"compute_at\",\"stage\":\"C\",\"target\":\"T\",\"loop\":\"i\"}]",
     "step 0 (compute_at C.i at T): stage T does not come after C"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\","
     "\"loop\":\"i\"}]",
     "step 1 (compute_at T.i at C): stage T has a fused epilogue"},
    {"[{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"i\"},{\"s\":\"inline\","
     "\"stage\":\"C\"}]",
     "step 1 (inline C): producer T is not a root stage"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},{\"s\":\"inline\",\"stage\":\"C\"}]",
     "step 1 (inline C): stage C is already inlined, fused or attached"},
    {"[{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"i\"},{\"s\":\"cache_write\",\"stage\":"
     "\"T\",\"loop\":\"j\"}]",
     "step 1 (cache_write T.j): stage T already has a cache_write"},
    {"[{\"s\":\"pack\",\"stage\":\"T\",\"tensor\":\"Q\",\"dim\":0,\"factor\":4}]",
     "step 0 (pack T Q): no input Q"},
    {"[{\"s\":\"pack\",\"stage\":\"T\",\"tensor\":\"B\",\"dim\":2,\"factor\":4}]",
     "step 0 (pack T B): dim 2 of B, expected 0..1"},
    {"[{\"s\":\"pack\",\"stage\":\"T\",\"tensor\":\"B\",\"dim\":1,\"factor\":128}]",
     "step 0 (pack T B): factor 128 is more than dim 1 of B (100)"},
    {"[{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":1,\"factor\":4}]",
     "step 0 (pack C B): stage C does not read B"},
    {"[{\"s\":\"pack\",\"stage\":\"T\",\"tensor\":\"B\",\"dim\":1,\"factor\":4},"
     "{\"s\":\"pack\",\"stage\":\"T\",\"tensor\":\"B\",\"dim\":0,\"factor\":8}]",
     "step 1 (pack T B): B is already packed"},
    {"[{\"s\":\"inline\",\"stage\":\"C\"},{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"i\"}]",
     "step 1 (cache_write C.i): stage C is fused as an epilogue"},
};

static void test_rejected_steps(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse(MM, "A:100x50,B:50x100,b:100");
    assert_non_null(c);
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        tt_schedule *s = NULL;
        assert_int_equal(tt_schedule_from_json(rejected[i].json, &s), 0);
        tt_kernel *k = (tt_kernel *)1;
        int rc = tt_lower(c, s, "k", &k);
        if (rc != -1 || strcmp(tt_get_last_error(), rejected[i].msg) != 0)
            printf("case %zu: rc %d, got \"%s\"\n   want \"%s\"\n", i, rc, tt_get_last_error(),
                   rejected[i].msg);
        assert_int_equal(rc, -1);
        assert_null(k);
        assert_string_equal(tt_get_last_error(), rejected[i].msg);
        tt_schedule_free(s);
    }
    tt_compute_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_typed_adders),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_rejected_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
