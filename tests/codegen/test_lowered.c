/* Real kernels from ir/lower through the JIT: a CPU-style matmul schedule (tiles, parallel,
 * vectorized, unrolled, accumulator tile, packed B), and random schedules over many ops (splits
 * that do not divide, reorders, fusion, annotations, cache_write, inline, compute_at); each run
 * is compared with the compute's reference evaluation and with the interpreter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cg_kernels.h"
#include "ir/lower_check.h"
#include "ir/ops.h"
#include "tt/backend.h"
#include "tt_test.h"

static tt_target *host;
static int n_checked, n_dropped;

static int setup(void **state)
{
    return tt_target_parse("llvm", &host);
}

static int teardown(void **state)
{
    tt_target_free(host);
    return 0;
}

/* Lowers c under s, JITs it, runs it and compares with tt_compute_eval and the interpreter.
 * Returns 0 when all agree; prints the schedule and kernel otherwise. */
static int check_jit(const tt_compute *c, const tt_schedule *s, const char *label)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "kernel", &k) != 0) {
        printf("%s: lower failed: %s\n", label, tt_get_last_error());
        return -1;
    }
    int n = c->ninputs + 1, rc = 0;
    void *jit_args[8], *ref_args[8], *int_args[8];
    for (int i = 0; i < c->ninputs; i++) {
        int64_t numel = tt_tensor_numel(c->inputs[i]);
        float *p = falloc(numel);
        fill_random(p, numel, (unsigned)(i + 1) * 7919u + (unsigned)n_checked);
        jit_args[i] = ref_args[i] = int_args[i] = p;
    }
    int64_t on = tt_tensor_numel(tt_compute_output(c));
    float *out = falloc(on), *ref = falloc(on), *itp = falloc(on);
    for (int64_t i = 0; i < on; i++)
        out[i] = NAN; /* every element must be written */
    jit_args[n - 1] = out;
    ref_args[n - 1] = ref;
    int_args[n - 1] = itp;
    tt_module m = NULL;
    if (tt_codegen_jit(&k, 1, host, &m) != 0) {
        printf("%s: jit failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (tt_test_call_kernel(tt_codegen_jit_lookup(m, "kernel"), n, jit_args) != 0) {
        printf("%s: kernel failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (tt_compute_eval(c, ref_args) != 0 || tt_kernel_interp(k, int_args) != 0) {
        printf("%s: reference failed: %s\n", label, tt_get_last_error());
        rc = -1;
    }
    for (int64_t i = 0; rc == 0 && i < on; i++) {
        double x = out[i], y = ref[i];
        if (!(fabs(x - y) <= 1e-4 * fmax(1.0, fabs(y))) ||
            !(fabs(x - itp[i]) <= 1e-4 * fmax(1.0, fabs(y)))) {
            printf("%s: element %lld: jit %g, reference %g, interpreter %g\n", label, (long long)i,
                   x, y, itp[i]);
            rc = -1;
        }
    }
    if (rc != 0) {
        char *txt = tt_kernel_str(k), *js = s ? tt_schedule_to_json(s) : NULL;
        printf("schedule: %s\n%s\n", js ? js : "[]", txt ? txt : "");
        free(txt);
        free(js);
    }
    tt_mod_free(m);
    for (int i = 0; i < c->ninputs; i++)
        free(jit_args[i]);
    free(out);
    free(ref);
    free(itp);
    tt_kernel_release(k);
    n_checked++;
    return rc;
}

static int check_json(const tt_compute *c, const char *json, const char *label)
{
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(json, &s) != 0) {
        printf("%s: %s\n", label, tt_get_last_error());
        return -1;
    }
    int rc = check_jit(c, s, label);
    tt_schedule_free(s);
    return rc;
}

/* A CPU matmul schedule as the search space makes them, on sizes that divide and that do not. */
static void matmul_schedules(void **state)
{
    const char *sched = "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]},"
                        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[16]},"
                        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"k\",\"factors\":[4]},"
                        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"k.0\",\"k."
                        "1\",\"i.1\",\"j.1\"]},"
                        "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i.0\"},"
                        "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"j.0\"},"
                        "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i.1\"},"
                        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]";
    const char *packed =
        "[{\"s\":\"pack\",\"stage\":\"C\",\"tensor\":\"B\",\"dim\":1,\"factor\":16},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[4]},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[16]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"k\",\"i.1\",\"j.1\"]},"
        "{\"s\":\"fuse\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\"]},"
        "{\"s\":\"parallel\",\"stage\":\"C\",\"loop\":\"i.0@j.0\"},"
        "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"i.0@j.0\"},"
        "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i.1\"},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]";
    int64_t sizes[3][3] = {{32, 32, 16}, {33, 17, 9}, {64, 48, 7}};
    for (int t = 0; t < 3; t++) {
        tt_op_desc d;
        tt_op_desc_init(&d, TT_OP_MATMUL);
        d.M = sizes[t][0], d.N = sizes[t][1], d.K = sizes[t][2];
        tt_compute *c = NULL;
        assert_int_equal(tt_op_build(&d, "C", &c), 0);
        char label[64];
        snprintf(label, sizeof label, "matmul %lldx%lldx%lld", (long long)d.M, (long long)d.N,
                 (long long)d.K);
        assert_int_equal(check_json(c, "[]", label), 0);
        assert_int_equal(check_json(c, sched, label), 0);
        assert_int_equal(check_json(c, packed, label), 0);
        for (int threads = 1; threads <= 2; threads++) {
            tt_backend_set_num_threads(threads);
            assert_int_equal(check_json(c, sched, label), 0);
        }
        tt_backend_set_num_threads(0);
        tt_compute_release(c);
    }
}

/* Vectorized loops of widths that are not a power of two or not a multiple of the target's
 * vector (native chunks plus power-of-two pieces): the accumulator's columns, over sizes where
 * the split divides and where its guard masks lanes, and the rows (stride-N gathers/scatters). */
static void odd_vector_widths(void **state)
{
    (void)state;
    static const int64_t widths[] = {3, 6, 10, 12, 17, 20, 24};
    static const char *fmt[2] = {
        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[3]},"
        "{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[%lld]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j.0\",\"k\",\"i.1\",\"j.1\"]},"
        "{\"s\":\"cache_write\",\"stage\":\"C\",\"loop\":\"j.0\"},"
        "{\"s\":\"unroll\",\"stage\":\"C\",\"loop\":\"i.1\"},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"j.1\"}]",
        "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[%lld]},"
        "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i.0\",\"j\",\"k\",\"i.1\"]},"
        "{\"s\":\"vectorize\",\"stage\":\"C\",\"loop\":\"i.1\"}]"};
    int64_t sizes[2][3] = {{24, 120, 5}, {25, 37, 4}};
    for (int t = 0; t < 2; t++) {
        tt_op_desc d;
        tt_op_desc_init(&d, TT_OP_MATMUL);
        d.M = sizes[t][0], d.N = sizes[t][1], d.K = sizes[t][2];
        tt_compute *c = NULL;
        assert_int_equal(tt_op_build(&d, "C", &c), 0);
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
            for (int f = 0; f < 2; f++) {
                char json[1024], label[96];
                snprintf(json, sizeof json, fmt[f], (long long)widths[w]);
                snprintf(label, sizeof label, "matmul %lldx%lld, %s vectorized by %lld",
                         (long long)d.M, (long long)d.N, f ? "rows" : "columns",
                         (long long)widths[w]);
                assert_int_equal(check_json(c, json, label), 0);
            }
        tt_compute_release(c);
    }
}

/* ---- random schedules ---- */

#define MAXL 32

typedef struct {
    int n;
    char name[MAXL][64];
    int64_t ext[MAXL];
    bool red[MAXL];
} loops; /* one stage's loops as the steps so far shape them */

static int64_t rnd(int64_t n)
{
    return (int64_t)(lc_rand() * (double)n) % n;
}

static void loops_init(loops *m, const tt_stage *st)
{
    m->n = 0;
    for (int a = 0; a < st->naxes; a++) {
        snprintf(m->name[m->n], 64, "%s", st->axes[a]->var->name);
        m->ext[m->n] = st->axes[a]->extent;
        m->red[m->n++] = false;
    }
    if (st->body->kind == TT_EXPR_REDUCE)
        for (int a = 0; a < st->body->naxes; a++) {
            snprintf(m->name[m->n], 64, "%s", st->body->axes[a]->var->name);
            m->ext[m->n] = st->body->axes[a]->extent;
            m->red[m->n++] = true;
        }
}

/* Keeps the last step if the schedule still lowers, else drops it. */
static bool keep(const tt_compute *c, tt_schedule *s)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "k", &k) == 0) {
        tt_kernel_release(k);
        return true;
    }
    n_dropped++;
    tt_schedule_truncate(s, 1);
    return false;
}

static void split_loop(loops *m, int p, int64_t f)
{
    if (m->n + 1 >= MAXL)
        return;
    char base[64];
    snprintf(base, sizeof base, "%s", m->name[p]);
    int64_t ext = m->ext[p];
    memmove(&m->name[p + 1], &m->name[p], (size_t)(m->n - p) * sizeof m->name[0]);
    memmove(&m->ext[p + 1], &m->ext[p], (size_t)(m->n - p) * sizeof m->ext[0]);
    memmove(&m->red[p + 1], &m->red[p], (size_t)(m->n - p) * sizeof m->red[0]);
    m->n++;
    snprintf(m->name[p], 64, "%.50s.0", base);
    snprintf(m->name[p + 1], 64, "%.50s.1", base);
    m->ext[p] = (ext + f - 1) / f;
    m->ext[p + 1] = f;
}

/* Splits, a spatial-first reorder with the vector candidate innermost, annotations and an
 * accumulator tile: the shapes codegen sees from the tuner, plus random variety. */
static void random_stage(const tt_compute *c, tt_schedule *s, const char *stage, loops *m)
{
    static const int64_t choices[] = {2, 3, 4, 5, 8, 16};
    for (int p = 0; p < m->n; p++) {
        if (lc_rand() > 0.6)
            continue;
        int64_t f = choices[rnd(6)];
        char loop[64];
        snprintf(loop, sizeof loop, "%s", m->name[p]);
        tt_schedule_split(s, stage, loop, 1, &f);
        if (keep(c, s)) {
            split_loop(m, p, f);
            p++;
        }
    }
    if (lc_rand() < 0.6 && m->n > 1) {
        int perm[MAXL];
        for (int i = 0; i < m->n; i++)
            perm[i] = i;
        for (int i = m->n - 1; i > 0; i--) {
            int j = (int)rnd(i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        const char *names[MAXL];
        for (int i = 0; i < m->n; i++)
            names[i] = m->name[perm[i]];
        tt_schedule_reorder(s, stage, m->n, names);
        if (keep(c, s)) {
            loops t = *m;
            for (int i = 0; i < m->n; i++) {
                memcpy(m->name[i], t.name[perm[i]], 64);
                m->ext[i] = t.ext[perm[i]];
                m->red[i] = t.red[perm[i]];
            }
        }
    }
    bool par = false;
    if (lc_rand() < 0.5 && !m->red[0]) {
        tt_schedule_parallel(s, stage, m->name[0]);
        par = keep(c, s);
    }
    int last = m->n - 1;
    if (lc_rand() < 0.7 && m->ext[last] <= 64 && !(par && last == 0)) {
        tt_schedule_vectorize(s, stage, m->name[last]);
        keep(c, s);
    }
    if (lc_rand() < 0.4) {
        int p = (int)rnd(m->n);
        if (m->ext[p] <= 16 && !(par && p == 0) && p != last) {
            tt_schedule_unroll(s, stage, m->name[p]);
            keep(c, s);
        }
    }
    int r = 0;
    while (r < m->n && !m->red[r])
        r++;
    if (r < m->n && lc_rand() < 0.5) {
        int p = (int)rnd(r + 1) - 1;
        tt_schedule_cache_write(s, stage, p < 0 ? "" : m->name[p]);
        keep(c, s);
    }
}

static tt_schedule *random_schedule(const tt_compute *c)
{
    tt_schedule *s = tt_schedule_new();
    int ns = c->nstages < 8 ? c->nstages : 8;
    bool gone[8] = {false};
    if (ns > 1 && lc_rand() < 0.5) {
        tt_schedule_inline(s, tt_compute_output(c)->name);
        gone[ns - 1] = keep(c, s);
    }
    for (int i = ns - 2; i >= 0; i--)
        if (lc_rand() < 0.3) {
            tt_schedule_inline(s, c->stages[i]->output->name);
            gone[i] = keep(c, s);
        }
    for (int i = ns - 1; i >= 0; i--) {
        if (gone[i])
            continue;
        loops m;
        loops_init(&m, c->stages[i]);
        random_stage(c, s, c->stages[i]->output->name, &m);
    }
    return s;
}

static void run_random(tt_compute *c, int count, const char *label)
{
    assert_non_null(c);
    for (int t = 0; t < count; t++) {
        tt_schedule *s = random_schedule(c);
        char lab[128];
        snprintf(lab, sizeof lab, "%s #%d", label, t);
        int rc = check_jit(c, s, lab);
        tt_schedule_free(s);
        assert_int_equal(rc, 0);
    }
    tt_compute_release(c);
}

static tt_compute *op(tt_op_desc *d)
{
    tt_compute *c = NULL;
    if (tt_op_build(d, NULL, &c) != 0)
        printf("op: %s\n", tt_get_last_error());
    return c;
}

static void random_text_ops(void **state)
{
    run_random(tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:13x9,B:9x11"), 15,
               "matmul odd");
    run_random(tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:16x8,B:8x32"), 10,
               "matmul even");
    run_random(
        tt_test_parse("T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)",
                      "A:12x7,B:7x10,b:10"),
        15, "matmul bias relu");
    run_random(tt_test_parse("R[i] = max([j, k], X[i, j, k])", "X:5x4x7"), 6, "max reduce");
    run_random(tt_test_parse("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:9x12"),
               6, "stencil");
    run_random(tt_test_parse("C[i, j] = exp(A[i, j]) / sqrt(A[i, j] * A[i, j] + 1.0)", "A:7x19"), 6,
               "math");
}

static void random_builtin_ops(void **state)
{
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 3, d.H = 7, d.W = 6, d.K = 4, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    d.bias = d.relu = true;
    run_random(op(&d), 12, "conv2d nchw");
    d.nhwc = true;
    d.stride[0] = 2;
    run_random(op(&d), 6, "conv2d nhwc");
    tt_op_desc_init(&d, TT_OP_DEPTHWISE_CONV2D);
    d.N = 1, d.C = 3, d.H = 6, d.W = 5, d.R = 3, d.S = 3, d.bias = true;
    run_random(op(&d), 6, "depthwise");
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.N = 1, d.C = 2, d.H = 7, d.W = 7, d.R = 2, d.S = 2, d.pool_max = true;
    d.stride[0] = d.stride[1] = 2;
    run_random(op(&d), 6, "max pool");
    d.pool_max = false;
    d.pad[0] = d.pad[1] = 1;
    run_random(op(&d), 6, "avg pool");
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 5, d.N = 9, d.K = 6, d.bias = d.relu = true;
    run_random(op(&d), 6, "dense bias relu");
    printf("# %d lowered kernels checked through the JIT, %d random steps dropped\n", n_checked,
           n_dropped);
}

/* Lowers c under json and says whether a select was hoisted: the kernel has an "else" copy, or no
 * select is left (the version behind a failed check of a skippable update is empty). */
static bool hoisted(const tt_compute *c, const char *json)
{
    tt_schedule *s = NULL;
    tt_kernel *k = NULL;
    if (tt_schedule_from_json(json, &s) != 0 || tt_lower(c, s, "kernel", &k) != 0)
        fail_msg("%s: %s", json, tt_get_last_error());
    char *txt = tt_kernel_str(k);
    bool r = txt && (strstr(txt, "} else {") || !strstr(txt, "select("));
    free(txt);
    tt_kernel_release(k);
    tt_schedule_free(s);
    return r;
}

/* Whether s has a loop of variable extent: a tap loop tightened to the taps inside the input. */
static bool has_tightened_loop(const tt_stmt *s)
{
    int64_t ext;
    switch (s->kind) {
    case TT_STMT_FOR:
        return !tt_expr_is_const(s->extent, &ext) || has_tightened_loop(s->body);
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (has_tightened_loop(s->stmts[i]))
                return true;
        return false;
    case TT_STMT_IF:
        return has_tightened_loop(s->then_s) || (s->else_s && has_tightened_loop(s->else_s));
    case TT_STMT_ALLOC:
        return has_tightened_loop(s->body);
    default:
        return false;
    }
}

/* Whether a loop of the tap axis `name` runs fewer than `full` taps somewhere: a bound computed
 * at run time, or a constant one where peeling (ir/lower_peel.c) made the tile's position known. */
static bool has_short_loop(const tt_stmt *s, const char *name, int64_t full)
{
    int64_t ext;
    switch (s->kind) {
    case TT_STMT_FOR:
        if (strcmp(s->var->name, name) == 0 && (!tt_expr_is_const(s->extent, &ext) || ext < full))
            return true;
        return has_short_loop(s->body, name, full);
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (has_short_loop(s->stmts[i], name, full))
                return true;
        return false;
    case TT_STMT_IF:
        return has_short_loop(s->then_s, name, full) ||
               (s->else_s && has_short_loop(s->else_s, name, full));
    case TT_STMT_ALLOC:
        return has_short_loop(s->body, name, full);
    default:
        return false;
    }
}

static bool short_taps(const tt_compute *c, const char *json, const char *name, int64_t full)
{
    tt_schedule *s = NULL;
    tt_kernel *k = NULL;
    if (tt_schedule_from_json(json, &s) != 0 || tt_lower(c, s, "kernel", &k) != 0)
        fail_msg("%s: %s", json, tt_get_last_error());
    bool r = has_short_loop(k->body, name, full);
    tt_kernel_release(k);
    tt_schedule_free(s);
    return r;
}

static bool tightened(const tt_compute *c, const char *json)
{
    tt_schedule *s = NULL;
    tt_kernel *k = NULL;
    if (tt_schedule_from_json(json, &s) != 0 || tt_lower(c, s, "kernel", &k) != 0)
        fail_msg("%s: %s", json, tt_get_last_error());
    bool r = has_tightened_loop(k->body);
    tt_kernel_release(k);
    tt_schedule_free(s);
    return r;
}

/* Padding selects decided once per reduce loop (ir/lower_hoist.c): odd sizes, stride 2,
 * dilation 2, tiles whose last one is partial, each checked through the JIT. */
static void hoisted_guards(void **state)
{
    static const char *conv_sched =
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
    static const struct {
        int64_t h, w, stride, dil, pad;
    } cases[] = {{9, 7, 1, 1, 1}, {11, 10, 2, 1, 1}, {10, 9, 1, 2, 2}, {13, 8, 2, 2, 2}};
    tt_op_desc d;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_op_desc_init(&d, TT_OP_CONV2D);
        d.N = 1, d.C = 5, d.H = cases[i].h, d.W = cases[i].w, d.K = 6, d.R = 3, d.S = 3;
        d.stride[0] = d.stride[1] = cases[i].stride;
        d.dilation[0] = d.dilation[1] = cases[i].dil;
        d.pad[0] = d.pad[1] = cases[i].pad;
        d.nhwc = true;
        tt_compute *c = op(&d);
        assert_non_null(c);
        char lab[64];
        snprintf(lab, sizeof lab, "hoisted conv nhwc #%zu", i);
        assert_true(hoisted(c, conv_sched));
        /* border tiles run only the rows of taps inside the input */
        assert_true(tightened(c, conv_sched));
        assert_int_equal(check_json(c, conv_sched, lab), 0);
        assert_true(hoisted(c, "[]")); /* the default nest: decided at c, over r and s */
        assert_int_equal(check_json(c, "[]", lab), 0);
        run_random(c, 4, lab);
    }
    /* tiles over output pixels (p and q split, the taps inside): interior tiles run unguarded,
     * border tiles per tap, and with pad 3 the rows and columns of taps that a 2x2 tile reads
     * only in the padding are skipped */
    static const char *pixel_tiles =
        "[{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"p\",\"factors\":[2]},"
        "{\"s\":\"split\",\"stage\":\"Y\",\"loop\":\"q\",\"factors\":[2]},"
        "{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"p.0\",\"q.0\",\"r\",\"s\","
        "\"c\",\"p.1\",\"q.1\",\"k\"]},"
        "{\"s\":\"cache_write\",\"stage\":\"Y\",\"loop\":\"q.0\"},"
        "{\"s\":\"unroll\",\"stage\":\"Y\",\"loop\":\"p.1\"},"
        "{\"s\":\"unroll\",\"stage\":\"Y\",\"loop\":\"q.1\"},"
        "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"k\"}]";
    for (int64_t pad = 1; pad <= 3; pad += 2) {
        tt_op_desc_init(&d, TT_OP_CONV2D);
        d.N = 1, d.C = 3, d.H = 8, d.W = 8, d.K = 12, d.R = 3, d.S = 3;
        d.pad[0] = d.pad[1] = pad;
        d.nhwc = true;
        tt_compute *c = op(&d);
        assert_non_null(c);
        assert_true(hoisted(c, pixel_tiles));
        /* pad 1: every tap reads inside for some pixel of every 2x2 tile */
        assert_true(tightened(c, pixel_tiles) == (pad == 3));
        assert_int_equal(check_json(c, pixel_tiles, "conv pixel tiles"), 0);
        d.H = 9; /* a last tile of one row, whose last row of taps reads only padding */
        tt_compute_release(c);
        c = op(&d);
        /* the last tile is peeled (ir/lower_peel.c): its rows of taps are known constants */
        assert_true(short_taps(c, pixel_tiles, "r", 3));
        assert_int_equal(check_json(c, pixel_tiles, "conv pixel tiles, partial"), 0);
        tt_compute_release(c);
    }
    /* a data-dependent condition stays where it is; conditions mixing spatial and reduce
     * variables are hoisted where they can be */
    tt_compute *c = tt_test_parse("C[i] = sum(k, select(A[i, k] > 0.0, A[i, k], 0.0))", "A:5x7");
    assert_false(hoisted(c, "[]"));
    run_random(c, 6, "data select");
    c = tt_test_parse("C[i, j] = sum([k, l], A[i, j] * select(i + k >= 3 && j - k < 6, "
                      "D[k, l], 0.0) * B[l, j] * E[k])",
                      "A:12x10,D:4x3,B:3x10,E:4");
    static const char *mixed = "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"j\",\"factors\":[4]},"
                               "{\"s\":\"reorder\",\"stage\":\"C\",\"loops\":[\"i\",\"j.0\","
                               "\"l\",\"k\",\"j.1\"]}]";
    assert_true(hoisted(c, mixed));
    assert_int_equal(check_json(c, mixed, "mixed select"), 0);
    run_random(c, 20, "mixed select");
    /* pools: the window loops outside the channel loop, which the guard does not use */
    static const char *pool_sched[2] = {
        "[{\"s\":\"reorder\",\"stage\":\"Y.red\",\"loops\":[\"n\",\"p\",\"q\",\"r\",\"s\","
        "\"c\"]},{\"s\":\"vectorize\",\"stage\":\"Y.red\",\"loop\":\"c\"}]",
        "[{\"s\":\"reorder\",\"stage\":\"Y\",\"loops\":[\"n\",\"p\",\"q\",\"r\",\"s\",\"c\"]},"
        "{\"s\":\"vectorize\",\"stage\":\"Y\",\"loop\":\"c\"}]"};
    for (int max = 0; max < 2; max++)
        for (int64_t stride = 1; stride <= 2; stride++) {
            tt_op_desc_init(&d, TT_OP_POOL2D);
            d.N = 1, d.C = 6, d.H = 9, d.W = 7, d.R = 3, d.S = 3, d.pool_max = max;
            d.stride[0] = d.stride[1] = stride;
            d.pad[0] = d.pad[1] = 1;
            d.nhwc = true;
            tt_compute *c = op(&d);
            assert_non_null(c);
            char lab[64];
            snprintf(lab, sizeof lab, "hoisted pool max %d stride %lld", max, (long long)stride);
            assert_true(hoisted(c, pool_sched[max]));
            assert_true(tightened(c, pool_sched[max]));
            assert_int_equal(check_json(c, pool_sched[max], lab), 0);
            run_random(c, 4, lab);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_schedules), cmocka_unit_test(odd_vector_widths),
        cmocka_unit_test(random_text_ops),  cmocka_unit_test(random_builtin_ops),
        cmocka_unit_test(hoisted_guards),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
