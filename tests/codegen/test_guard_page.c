/* Padded reads stay inside their buffer (codegen/llvm_expr.c, select_expr): padded convs, a pool
 * and a select over an input, JIT-compiled for generic x86-64 (SSE2: no hardware load masking),
 * run with the padded input ending right before a PROT_NONE page or starting right after one, and
 * compared with the compute's reference evaluation and the interpreter. A read of the padding
 * outside the buffer faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_kernels.h"
#include "ir/lower.h"
#include "ir/ops.h"
#include "ir/schedule.h"
#include "tt/backend.h"
#include "tt_test.h"
#include "tt_test_ir.h"

static tt_target *generic;

static int setup(void **state)
{
    (void)state;
    return tt_target_parse("llvm -mcpu=x86-64", &generic);
}

static int teardown(void **state)
{
    (void)state;
    tt_target_free(generic);
    return 0;
}

/* n floats between two PROT_NONE pages, flush against the one after (at_end) or the one before. */
typedef struct {
    char *map;
    size_t len;
} guarded;

static float *guarded_alloc(int64_t n, bool at_end, guarded *g)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)n * sizeof(float);
    size_t body = (bytes + page - 1) / page * page;
    /* kernels may assume 64-byte aligned buffers */
    assert_int_equal(bytes % 64, 0);
    g->len = body + 2 * page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map, page, PROT_NONE), 0);
    assert_int_equal(mprotect(g->map + page + body, page, PROT_NONE), 0);
    return (float *)(at_end ? g->map + page + body - bytes : g->map + page);
}

/* Lowers c under json for the generic target, runs it with input 0 (the padded one) guarded on
 * either side and
 * compares with tt_compute_eval and the interpreter. */
static void check(const tt_compute *c, const char *json, const char *label)
{
    tt_schedule *s = NULL;
    tt_kernel *k = NULL;
    tt_module m = NULL;
    if (tt_schedule_from_json(json, &s) != 0 || tt_lower(c, s, "kernel", &k) != 0 ||
        tt_codegen_jit(&k, 1, generic, &m) != 0)
        fail_msg("%s: %s: %s", label, json, tt_get_last_error());
    void *fn = tt_codegen_jit_lookup(m, "kernel");
    assert_non_null(fn);
    int n = c->ninputs + 1;
    int64_t on = tt_tensor_numel(tt_compute_output(c));
    for (int at_end = 0; at_end < 2; at_end++) {
        void *args[8], *ref_args[8], *int_args[8];
        guarded g = {0};
        for (int i = 0; i < c->ninputs; i++) {
            int64_t numel = tt_tensor_numel(c->inputs[i]);
            float *p = i == 0 ? guarded_alloc(numel, at_end, &g) : falloc(numel);
            fill_random(p, numel, (unsigned)(i + 1) * 7919u);
            args[i] = ref_args[i] = int_args[i] = p;
        }
        float *out = falloc(on), *ref = falloc(on), *itp = falloc(on);
        args[n - 1] = out;
        ref_args[n - 1] = ref;
        int_args[n - 1] = itp;
        assert_int_equal(tt_test_call_kernel(fn, n, args), 0);
        assert_int_equal(tt_compute_eval(c, ref_args), 0);
        assert_int_equal(tt_kernel_interp(k, int_args), 0);
        for (int64_t i = 0; i < on; i++)
            if (!(fabs(out[i] - ref[i]) <= 1e-4 * fmax(1.0, fabs(ref[i]))) ||
                !(fabs(out[i] - itp[i]) <= 1e-4 * fmax(1.0, fabs(ref[i]))))
                fail_msg("%s (%s): element %lld: jit %g, reference %g, interpreter %g", label, json,
                         (long long)i, out[i], ref[i], itp[i]);
        munmap(g.map, g.len);
        for (int i = 1; i < c->ninputs; i++)
            free(args[i]);
        free(out);
        free(ref);
        free(itp);
    }
    tt_mod_free(m);
    tt_kernel_release(k);
    tt_schedule_free(s);
}

static tt_compute *op(const tt_op_desc *d)
{
    tt_compute *c = NULL;
    if (tt_op_build(d, NULL, &c) != 0)
        fail_msg("op: %s", tt_get_last_error());
    return c;
}

/* NCHW: the default nest (scalar border reads), the width vectorized (masked vector loads) and
 * unrolled window loops. */
static void conv2d_nchw(void **state)
{
    (void)state;
    static const char *scheds[] = {
        "[]",
        ("[{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"q\",\"factors\":[4]},"
         "{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"k\",\"p\",\"q.0\",\"c\","
         "\"r\",\"s\",\"q.1\"]},"
         "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"q.1\"}]"),
        ("[{\"s\":\"unroll\",\"stage\":\"Y\",\"loop\":\"r\"},"
         "{\"s\":\"unroll\",\"stage\":\"Y\",\"loop\":\"s\"}]"),
        /* 7 lanes: pieces of 4, 2 and 1 */
        ("[{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"q\",\"factors\":[7]},"
         "{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"k\",\"p\",\"q.0\",\"c\","
         "\"r\",\"s\",\"q.1\"]},"
         "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"q.1\"}]"),
    };
    tt_op_desc d;
    for (int64_t pad = 1; pad <= 2; pad++) {
        tt_op_desc_init(&d, TT_OP_CONV2D);
        d.N = 1, d.C = 4, d.H = 12, d.W = 16, d.K = 3, d.R = 3, d.S = 3;
        d.pad[0] = d.pad[1] = pad;
        tt_compute *c = op(&d);
        for (size_t i = 0; i < sizeof scheds / sizeof scheds[0]; i++)
            check(c, scheds[i], "conv2d nchw");
        tt_compute_release(c);
    }
}

/* NHWC with the tuner's kind of schedule (tiles, accumulator, parallel, vectorized channels). */
static void conv2d_nhwc(void **state)
{
    (void)state;
    static const char *sched =
        "[{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"q\",\"factors\":[3]},"
        "{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"k\",\"factors\":[4]},"
        "{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"c\",\"factors\":[2]},"
        "{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"p\",\"q.0\",\"k.0\",\"r\",\"s\","
        "\"c.0\",\"c.1\",\"q.1\",\"k.1\"]},"
        "{\"s\":\"cache_write\",\"stage\":\"Y\",\"loop\":\"n@p@q.0@k.0\"},"
        "{\"s\":\"fuse\",\"stage\":\"Y\",\"loops\":[\"n\",\"p\",\"q.0\",\"k.0\"]},"
        "{\"s\":\"parallel\",\"stage\":\"Y\",\"loop\":\"n@p@q.0@k.0\"},"
        "{\"s\":\"unroll\",\"stage\":\"Y\",\"loop\":\"q.1\"},"
        "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"k.1\"}]";
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 4, d.H = 8, d.W = 8, d.K = 8, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    d.stride[0] = d.stride[1] = 2;
    d.nhwc = true;
    tt_compute *c = op(&d);
    check(c, "[]", "conv2d nhwc");
    check(c, sched, "conv2d nhwc");
    tt_compute_release(c);
}

/* Pools with the window outside the vectorized channel loop, and a select over an input with
 * no reduction (nothing to hoist: every iteration runs the guarded read). */
static void pool_and_select(void **state)
{
    (void)state;
    static const char *pool_sched[2] = {
        "[{\"s\":\"reorder\",\"stage\":\"Y.red\",\"loops\":[\"n\",\"p\",\"q\",\"r\",\"s\","
        "\"c\"]},{\"s\":\"vectorize\",\"stage\":\"Y.red\",\"loop\":\"c\"}]",
        "[{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"p\",\"q\",\"r\",\"s\",\"c\"]},"
        "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"c\"}]"};
    tt_op_desc d;
    for (int max = 0; max < 2; max++) {
        tt_op_desc_init(&d, TT_OP_POOL2D);
        d.N = 1, d.C = 8, d.H = 6, d.W = 6, d.R = 3, d.S = 3, d.pool_max = max;
        d.pad[0] = d.pad[1] = 1;
        d.nhwc = true;
        tt_compute *c = op(&d);
        check(c, "[]", max ? "max pool" : "avg pool");
        check(c, pool_sched[max], max ? "max pool" : "avg pool");
        tt_compute_release(c);
    }
    tt_compute *c =
        tt_test_parse("C[i, j] = A[i, j] * 0.5 + select(i >= 2 && j >= 3, A[i - 2, j - 3], 0.0) + "
                      "select(i < 14 && j < 13, A[i + 2, j + 3], 1.0)",
                      "A:16x16");
    check(c, "[]", "shifted select");
    check(c,
          "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[8]},"
          "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]",
          "shifted select");
    check(c,
          "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[11]},"
          "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]",
          "shifted select, 11 lanes");
    tt_compute_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_nchw),
        cmocka_unit_test(conv2d_nhwc),
        cmocka_unit_test(pool_and_select),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
