/* Tests of ir/lower.c: computes lowered under hand-written schedules, run in the interpreter and
 * compared with the reference evaluation of the compute; non-dividing splits with prime and
 * size-1 extents; the structure of the emitted nests (epilogue fusion, accumulator tiles,
 * compute_at regions) and one golden printed kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lower_check.h"

static const char *MM = "C[i, j] = sum(k, A[i, k] * B[k, j])";
static const char *MM_RELU =
    "T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)";

static void check_all(const char *text, const char *inputs, const char *const *schedules, int n)
{
    tt_compute *c = tt_test_parse(text, inputs);
    assert_non_null(c);
    for (int i = 0; i < n; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s #%d", inputs, i);
        assert_int_equal(lc_check_json(c, schedules[i], label), 0);
    }
    tt_compute_release(c);
}

static void test_default_nests(void **state)
{
    (void)state;
    const char *none[] = {"[]"};
    check_all(MM, "A:1x1,B:1x1", none, 1);
    check_all(MM, "A:7x13,B:13x5", none, 1);
    check_all(MM_RELU, "A:6x4,B:4x9,b:9", none, 1);
    check_all("R[i] = max(k, A[i, k])", "A:5x11", none, 1);
    check_all("R[i] = min(k, A[i, k] * 2.0)", "A:5x11", none, 1);
    check_all("S[i] = sum([j, k], X[i, j, k])", "X:3x4x5", none, 1);
    check_all("E[i, j] = exp(A[i, j]) - 1.0", "A:4x6", none, 1);
    /* A scalar output: no spatial loops at all. */
    const char *scalar[] = {"[]",
                            "[{\"s\":\"split\",\"stage\":\"S\",\"loop\":\"i\",\"factors\":[2]},"
                            "{\"s\":\"cache_write\",\"stage\":\"S\",\"loop\":\"\"}]"};
    check_all("S = sum([i, j], A[i, j])", "A:3x4", scalar, 2);
    /* A NULL schedule is the default nest too. */
    tt_compute *c = tt_test_parse(MM, "A:3x2,B:2x4");
    assert_int_equal(lc_check(c, NULL, "null schedule"), 0);
    tt_compute_release(c);
}

static const char *mm_schedules[] = {
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]}]",
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[2,3]},"
    "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"k\"}]",
    "[{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"k\",\"i\",\"j\"]}]",
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[3]},"
    "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},"
    "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"k\",\"factors\":[2]},"
    "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"k.0\",\"i.1\",\"k.1\",\"j.1\"]"
    "},"
    "{\"s\":\"fuse\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\"]},"
    "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i.0@j.0\"},"
    "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"k.1\"},"
    "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]",
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[2,2]},"
    "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[8]},"
    "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"i.1\",\"k\",\"i.2\",\"j.1\"]},"
    "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"j.0\"},"
    "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]",
    "[{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"\"}]",
    "[{\"s\":\"fuse\",\"stage\":\"C\",\"loops\":[\"i\",\"j\"]},"
    "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i@j\",\"factors\":[5]},"
    "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i@j.0\"}]",
    "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"k\",\"factors\":[4,2]},"
    "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"k.0\",\"i\",\"k.1\",\"j\",\"k.2\"]}]",
};

static void test_matmul_schedules(void **state)
{
    (void)state;
    int n = (int)(sizeof mm_schedules / sizeof mm_schedules[0]);
    check_all(MM, "A:10x7,B:7x13", mm_schedules, n);
    check_all(MM, "A:16x8,B:8x16", mm_schedules, n);
    check_all(MM, "A:1x1,B:1x1", mm_schedules, n);
    check_all(MM, "A:13x1,B:1x17", mm_schedules, n);
}

static const char *epilogue_schedules[] = {
    "[{\"s\":\"inline\",\"stage\":\"C\"}]",
    "[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[4]},"
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"j\",\"factors\":[2,4]},"
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[3]},"
    "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"i.0\",\"j.0\",\"k.0\",\"i.1\",\"j.1\",\"k.1\","
    "\"j.2\"]},"
    "{\"s\":\"fuse\",\"stage\":\"T\",\"loops\":[\"i.0\",\"j.0\"]},"
    "{\"s\":\"parallel\",\"stage\":\"T\",\"loop\":\"i.0@j.0\"},"
    "{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"j.2\"},"
    "{\"s\":\"unroll\",\"stage\":\"T\",\"loop\":\"k.1\"},"
    "{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"i.0@j.0\"},"
    "{\"s\":\"inline\",\"stage\":\"C\"}]",
    "[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[2]},"
    "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"k.0\",\"i\",\"j\",\"k.1\"]},"
    "{\"s\":\"inline\",\"stage\":\"C\"}]",
    ("[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]},"
     "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[8]},"
     "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"i.1\",\"j.1\"]},"
     "{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"j.0\"},"
     "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"j\",\"factors\":[4]},"
     "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"i\",\"j.0\",\"k\",\"j.1\"]},"
     "{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"j.1\"}]"),
    "[{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"i\"}]",
    "[{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"j\"},"
    "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i\"}]",
    "[{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"i\"}]",
};

static void test_epilogue_and_tiles(void **state)
{
    (void)state;
    int n = (int)(sizeof epilogue_schedules / sizeof epilogue_schedules[0]);
    check_all(MM_RELU, "A:10x7,B:7x13,b:13", epilogue_schedules, n);
    check_all(MM_RELU, "A:8x6,B:6x16,b:16", epilogue_schedules, n);
    check_all(MM_RELU, "A:1x1,B:1x1,b:1", epilogue_schedules, n);
}

/* Counts statements of a kind and loops named like name in a kernel. */
static int count_stmts(const tt_stmt *s, tt_stmt_kind kind)
{
    if (!s)
        return 0;
    int n = s->kind == kind;
    n += count_stmts(s->body, kind) + count_stmts(s->then_s, kind) + count_stmts(s->else_s, kind);
    for (int i = 0; i < s->nstmts; i++)
        n += count_stmts(s->stmts[i], kind);
    return n;
}

static tt_kernel *lower_json(const tt_compute *c, const char *json)
{
    tt_schedule *s = NULL;
    assert_int_equal(tt_schedule_from_json(json, &s), 0);
    tt_kernel *k = NULL;
    int rc = tt_lower(c, s, "k", &k);
    if (rc != 0)
        printf("lower: %s\n", tt_get_last_error());
    assert_int_equal(rc, 0);
    tt_schedule_free(s);
    return k;
}

/* The epilogue makes one nest: no intermediate buffer, a single top-level loop, C stored in it. */
static void test_epilogue_is_one_nest(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse(MM_RELU, "A:16x8,B:8x16,b:16");
    tt_kernel *k = lower_json(c, epilogue_schedules[1]);
    assert_int_equal(k->body->kind, TT_STMT_FOR); /* no alloc of T around two nests */
    assert_int_equal(k->body->for_kind, TT_FOR_PARALLEL);
    assert_int_equal(count_stmts(k->body, TT_STMT_ALLOC), 1); /* the T.local tile only */
    /* 16 = 4*4 and 16 = 2*4*2, 8 = 3*3 - 1: only the k guard remains, and the last k.0 is
     * peeled, where the guard cuts the unrolled k.1 loop short: no IF is left. */
    assert_int_equal(count_stmts(k->body, TT_STMT_IF), 0);
    tt_kernel_release(k);
    /* Without a tile the epilogue still sits in T's nest, after each point's reduction. */
    k = lower_json(c, epilogue_schedules[0]);
    assert_int_equal(k->body->kind, TT_STMT_ALLOC);
    assert_int_equal(k->body->body->kind, TT_STMT_FOR);
    tt_kernel_release(k);
    tt_compute_release(c);
}

static void test_guards_removed_when_dividing(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse(MM, "A:16x8,B:8x12");
    tt_kernel *k =
        lower_json(c, "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]},"
                      "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[2,3]}]");
    assert_int_equal(count_stmts(k->body, TT_STMT_IF), 0);
    tt_kernel_release(k);
    k = lower_json(c, "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[5]}]");
    /* One guard, above the init and the reduction (i.1 lies outside the reduce loop), only
     * in the peeled last i.0, where it shortens the i.1 loop: no IF is left. */
    assert_int_equal(count_stmts(k->body, TT_STMT_IF), 0);
    assert_int_equal(k->body->kind, TT_STMT_SEQ);
    tt_kernel_release(k);
    tt_compute_release(c);
}

/* compute_at allocates only the region the consumer's tile reads. */
static void test_compute_at_region(void **state)
{
    (void)state;
    tt_compute *c =
        tt_test_parse("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:12x20");
    assert_non_null(c);
    const char *js = "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},"
                     "{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\",\"loop\":\"j.0\"}]";
    tt_kernel *k = lower_json(c, js);
    const tt_stmt *s = k->body;
    /* (the last j.0 reads past the row's end: peeled, it comes second) */
    while (s && s->kind != TT_STMT_ALLOC)
        s = s->kind == TT_STMT_FOR ? s->body : s->kind == TT_STMT_SEQ ? s->stmts[0] : NULL;
    assert_non_null(s);
    assert_int_equal(s->buffer->ndim, 2);
    assert_int_equal(s->buffer->shape[0], 1); /* one row: i is outside j.0 */
    assert_int_equal(s->buffer->shape[1], 6); /* j.1 in [0,4) and j.1 + 2 */
    tt_kernel_release(k);
    assert_int_equal(lc_check_json(c, js, "stencil compute_at"), 0);
    assert_int_equal(lc_check_json(c,
                                   "[{\"s\":\"compute_at\",\"stage\":\"T\",\"target\":\"C\","
                                   "\"loop\":\"i\"}]",
                                   "row compute_at"),
                     0);
    tt_compute_release(c);
}

static void test_inline_intermediate(void **state)
{
    (void)state;
    const char *text = "S[i, k] = A[i, k] * 2.0; T[i, j] = sum(k, S[i, k] * B[k, j]); "
                       "C[i, j] = max(T[i, j], 0.0)";
    tt_compute *c = tt_test_parse(text, "A:5x6,B:6x7");
    assert_non_null(c);
    const char *js = "[{\"s\":\"inline\",\"stage\":\"S\"},{\"s\":\"inline\",\"stage\":\"C\"}]";
    assert_int_equal(lc_check_json(c, js, "inline both"), 0);
    tt_kernel *k = lower_json(c, js);
    assert_int_equal(count_stmts(k->body, TT_STMT_ALLOC), 1); /* T only */
    tt_kernel_release(k);
    tt_compute_release(c);
}

static void test_golden(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse(MM_RELU, "A:4x3,B:3x4,b:4");
    tt_kernel *k =
        lower_json(c, "[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"j\",\"factors\":[2]},"
                      "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"i\",\"j.0\",\"k\",\"j.1\"]},"
                      "{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"j.1\"},"
                      "{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"j.0\"},"
                      "{\"s\":\"inline\",\"stage\":\"C\"}]");
    char *txt = tt_kernel_str(k);
    const char *want =
        "kernel k(A: float32[4, 3], B: float32[3, 4], b: float32[4], C: float32[4, 4]) {\n"
        "  for (i, 0, 4) {\n"
        "    for (j.0, 0, 2) {\n"
        "      alloc T.local[float32 x 2] {\n"
        "        vectorized for (j.1, 0, 2) {\n"
        "          T.local[j.1] = 0.0\n"
        "        }\n"
        "        for (k, 0, 3) {\n"
        "          vectorized for (j.1, 0, 2) {\n"
        "            T.local[j.1] = T.local[j.1] + A[(i*3 + k)] * B[(j.0*2 + j.1 + k*4)]\n"
        "          }\n"
        "        }\n"
        "        vectorized for (j.1, 0, 2) {\n"
        "          C[(i*4 + j.0*2 + j.1)] = max(T.local[j.1] + b[(j.0*2 + j.1)], 0.0)\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n";
    if (strcmp(txt, want) != 0)
        printf("got:\n%s\n", txt);
    assert_string_equal(txt, want);
    free(txt);
    tt_kernel_release(k);
    tt_compute_release(c);
}

static int count_loads(const tt_expr *e, const char *buffer)
{
    int n = e->kind == TT_EXPR_LOAD && strcmp(e->buffer->name, buffer) == 0;
    for (int i = 0; i < e->nargs; i++)
        n += count_loads(e->args[i], buffer);
    return n;
}

static int count_stmt_loads(const tt_stmt *s, const char *buffer)
{
    if (!s)
        return 0;
    int n = (s->value ? count_loads(s->value, buffer) : 0) + count_stmt_loads(s->body, buffer) +
            count_stmt_loads(s->then_s, buffer) + count_stmt_loads(s->else_s, buffer);
    for (int i = 0; i < s->nstmts; i++)
        n += count_stmt_loads(s->stmts[i], buffer);
    return n;
}

/* pack: B[K,N] into panels [ceil(N/f)][K][f], zero padded; the matmul reads only the panels. */
/* Stores to buffer inside vectorized loops (one per loop that holds some). */
static int vector_stores(const tt_stmt *s, const char *buffer, bool in_vector)
{
    if (!s)
        return 0;
    if (s->kind == TT_STMT_STORE)
        return in_vector && strcmp(s->buffer->name, buffer) == 0;
    if (s->kind == TT_STMT_FOR && s->for_kind == TT_FOR_VECTORIZED)
        return vector_stores(s->body, buffer, true) > 0;
    int n = vector_stores(s->body, buffer, in_vector) +
            vector_stores(s->then_s, buffer, in_vector) +
            vector_stores(s->else_s, buffer, in_vector);
    for (int i = 0; i < s->nstmts; i++)
        n += vector_stores(s->stmts[i], buffer, in_vector);
    return n;
}

static void test_pack(void **state)
{
    (void)state;
    const char *scheds[] = {
        "[{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":1,\"factor\":4}]",
        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"j.0\",\"i\",\"k\",\"j.1\"]},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"},"
        "{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":1,\"factor\":4},"
        "{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"A\",\"dim\":0,\"factor\":3}]",
        "[{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":0,\"factor\":16}]",
    };
    check_all(MM, "A:10x7,B:7x13", scheds, 3);
    check_all(MM, "A:8x8,B:8x16", scheds, 3);
    tt_compute *c = tt_test_parse(MM, "A:8x8,B:8x16");
    tt_kernel *k = lower_json(c, scheds[1]);
    assert_int_equal(count_stmt_loads(k->body, "B"), 1); /* the copy */
    assert_int_equal(count_stmt_loads(k->body, "B.packed"), 1);
    assert_int_equal(k->body->kind, TT_STMT_ALLOC);
    assert_int_equal(k->body->buffer->ndim, 3);
    assert_int_equal(k->body->buffer->shape[0], 3); /* A: ceil(8/3) panels of 3 rows */
    tt_kernel_release(k);
    tt_compute_release(c);
    /* B[7,13] into panels of 4 columns: the panel row is a vector loop in every panel, the
     * full ones (peeled) and the last, zero-padded one (guarded there: masked) */
    c = tt_test_parse(MM, "A:10x7,B:7x13");
    k = lower_json(c, scheds[0]);
    assert_int_equal(vector_stores(k->body, "B.packed", false), 2);
    tt_kernel_release(k);
    tt_compute_release(c);
}

/* cache_write below a reduce loop (k blocking): partial sums go through T between blocks, the
 * tile starts from the identity only in the first block, the epilogue runs only in the last. */
static const char *blocked_schedules[] = {
    "[{\"s\":\"inline\",\"stage\":\"C\"},"
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"i\",\"factors\":[4]},"
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"j\",\"factors\":[8]},"
    "{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[4]},"
    "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"k.0\",\"i.0\",\"j.0\",\"k.1\",\"i.1\","
    "\"j.1\"]},"
    "{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"j.0\"},"
    "{\"s\":\"vectorize\",\"stage\":\"T\",\"loop\":\"j.1\"}]",
    /* no epilogue; two reduce blocks above the tile, a spatial loop between them */
    "[{\"s\":\"split\",\"stage\":\"T\",\"loop\":\"k\",\"factors\":[2,2]},"
    "{\"s\":\"reorder\",\"stage\":\"T\",\"loops\":[\"k.0\",\"i\",\"k.1\",\"j\",\"k.2\"]},"
    "{\"s\":\"cache_write\",\"stage\":\"T\",\"loop\":\"k.1\"}]",
};

static void test_blocked_tile(void **state)
{
    (void)state;
    check_all(MM_RELU, "A:10x7,B:7x13,b:13", blocked_schedules, 2);
    check_all(MM_RELU, "A:8x8,B:8x16,b:16", blocked_schedules, 2);
    check_all(MM_RELU, "A:1x1,B:1x1,b:1", blocked_schedules, 2);
    tt_compute *c = tt_test_parse(MM_RELU, "A:8x12,B:12x16,b:16");
    tt_kernel *k = lower_json(c, blocked_schedules[0]);
    /* alloc T { for k.0 in 0..1: alloc T.local { if first {init} else {reload}; main;
     * T = tile }; k.0 = 2: alloc T.local {reload; main; C = epilogue} }: the last reduce block
     * is peeled, T only carries the partial sums */
    assert_int_equal(k->body->kind, TT_STMT_ALLOC);
    assert_string_equal(k->body->buffer->name, "T");
    assert_int_equal(count_stmts(k->body, TT_STMT_IF), 1); /* everything divides */
    assert_int_equal(count_stmt_loads(k->body, "T"), 2);   /* the reloads */
    tt_kernel_release(k);
    tt_compute_release(c);
}

/* Non-dividing splits: the last iteration of the outer loops is peeled, so the full tiles run
 * without guards and the vector loop is masked only in the tail copies. */
static void test_peeled_tails(void **state)
{
    (void)state;
    const char *js =
        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[8]},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"k\",\"factors\":[4]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"j.0\",\"i.0\",\"k.0\",\"k.1\","
        "\"i.1\",\"j.1\"]},"
        "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"i.0\"},"
        "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"j.0\"},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]";
    const char *one[] = {js};
    check_all(MM, "A:13x9,B:9x19", one, 1);
    check_all(MM, "A:1x1,B:1x1", one, 1);
    tt_compute *c = tt_test_parse(MM, "A:13x9,B:9x19");
    tt_kernel *k = lower_json(c, js);
    /* parallel j.0 { if (j.0 < 2) {full columns: i.0 loop; its tail} else {column tail} } */
    const tt_stmt *par = k->body;
    assert_int_equal(par->kind, TT_STMT_FOR);
    assert_int_equal(par->for_kind, TT_FOR_PARALLEL);
    assert_int_equal(par->body->kind, TT_STMT_IF);
    const tt_stmt *full = par->body->then_s;
    assert_int_equal(full->kind, TT_STMT_SEQ);
    assert_int_equal(full->stmts[0]->kind, TT_STMT_FOR); /* i.0 over 3 full row tiles */
    /* the k tail and the row past 12 run shorter loops, not guards */
    assert_int_equal(count_stmts(full, TT_STMT_IF), 0);
    /* columns 16..18: the vector loop is guarded (masked) there only */
    assert_true(count_stmts(par->body->else_s, TT_STMT_IF) > 0);
    tt_kernel_release(k);
    tt_compute_release(c);
}

static void test_lower_loops(void **state)
{
    (void)state;
    tt_compute *c = tt_test_parse(MM_RELU, "A:10x7,B:7x13,b:13");
    tt_schedule *s = NULL;
    assert_int_equal(tt_schedule_from_json(epilogue_schedules[1], &s), 0);
    int n = 0;
    tt_loop_info *l = NULL;
    assert_int_equal(tt_lower_loops(c, s, "T", &n, &l), 0);
    const char *names[] = {"i.0@j.0", "k.0", "i.1", "j.1", "k.1", "j.2"};
    const int64_t ext[] = {6, 3, 4, 2, 3, 4};
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        assert_string_equal(l[i].name, names[i]);
        assert_int_equal(l[i].extent, ext[i]);
    }
    assert_int_equal(l[0].kind, TT_FOR_PARALLEL);
    assert_true(l[1].reduce && !l[2].reduce);
    assert_int_equal(l[5].kind, TT_FOR_VECTORIZED);
    tt_loop_info_free(l, n);
    assert_int_equal(tt_lower_loops(c, s, "C", &n, &l), -1);
    assert_string_equal(tt_get_last_error(),
                        "lower_loops: stage C is fused as an epilogue: it has no loops of its own");
    assert_int_equal(tt_lower_loops(c, s, "Q", &n, &l), -1);
    tt_schedule_free(s);
    /* An attached stage's loops run over the region its consumer's tile reads. */
    assert_int_equal(tt_schedule_from_json(epilogue_schedules[3], &s), 0);
    assert_int_equal(tt_lower_loops(c, s, "T", &n, &l), 0);
    assert_int_equal(n, 4); /* i, j.0, k, j.1 */
    assert_int_equal(l[0].extent, 4);
    assert_int_equal(l[1].extent, 2);
    assert_int_equal(l[3].extent, 4);
    tt_loop_info_free(l, n);
    tt_schedule_free(s);
    /* No schedule: the axes, spatial then reduce. */
    assert_int_equal(tt_lower_loops(c, NULL, "T", &n, &l), 0);
    assert_int_equal(n, 3);
    assert_string_equal(l[2].name, "k");
    tt_loop_info_free(l, n);
    tt_compute_release(c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tt_kernel *k = NULL;
    tt_compute *c = tt_test_parse(MM, "A:2x2,B:2x2");
    assert_int_equal(tt_lower(NULL, NULL, "k", &k), -1);
    assert_int_equal(tt_lower(c, NULL, "", &k), -1);
    assert_null(k);
    tt_compute_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_nests),
        cmocka_unit_test(test_matmul_schedules),
        cmocka_unit_test(test_epilogue_and_tiles),
        cmocka_unit_test(test_epilogue_is_one_nest),
        cmocka_unit_test(test_blocked_tile),
        cmocka_unit_test(test_peeled_tails),
        cmocka_unit_test(test_guards_removed_when_dividing),
        cmocka_unit_test(test_compute_at_region),
        cmocka_unit_test(test_inline_intermediate),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_lower_loops),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
