/* Random schedules over many ops (matmul, matmul+bias+relu, conv2d, depthwise conv, pool, batch
 * matmul, dense, multi-axis reductions, a three-stage chain): random splits (dividing or not),
 * permutations with reduce loops interleaved, fusion, annotations, accumulator tiles (also below
 * reduce loops: k blocking), inlining, epilogue fusion, packing and compute_at. Each schedule is
 * lowered, run in the interpreter and compared with the reference evaluation; its JSON must replay
 * to the same kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ir/ops.h"
#include "lower_check.h"

#define MAXL 32

typedef struct {
    int n;
    char name[MAXL][64];
    int64_t ext[MAXL];
    bool red[MAXL];
} sim; /* the loops of one stage as the steps so far shape them */

static int64_t rnd(int64_t n)
{
    return (int64_t)(lc_rand() * (double)n) % n;
}

static void sim_init(sim *m, const tt_stage *st)
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

/* Counts of what happened, to show the generator covers the steps: blocked accumulator tiles
 * (reduce loops above the cache_write loop), with a fused epilogue or not. */
static int n_valid, n_rejected, n_kind[TT_STEP_COUNT], n_blocked, n_blocked_epi;
/* The stage being scheduled has the output fused into it as an epilogue. */
static bool with_epilogue;

/* Keeps the last step if the schedule still lowers, else drops it. */
static bool keep(const tt_compute *c, tt_schedule *s)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "k", &k) == 0) {
        tt_kernel_release(k);
        n_kind[tt_schedule_step(s, tt_schedule_size(s) - 1)->kind]++;
        return true;
    }
    n_rejected++;
    if (getenv("TT_SHOW_DROPPED"))
        printf("dropped: %s\n", tt_get_last_error());
    tt_schedule_truncate(s, 1);
    return false;
}

static void sim_split(sim *m, int p, int nf, const int64_t *f)
{
    if (m->n + nf >= MAXL)
        return;
    char base[64];
    snprintf(base, sizeof base, "%s", m->name[p]);
    int64_t prod = 1, ext = m->ext[p];
    bool red = m->red[p];
    for (int i = 0; i < nf; i++)
        prod *= f[i];
    memmove(&m->name[p + nf], &m->name[p], (size_t)(m->n - p) * sizeof m->name[0]);
    memmove(&m->ext[p + nf], &m->ext[p], (size_t)(m->n - p) * sizeof m->ext[0]);
    memmove(&m->red[p + nf], &m->red[p], (size_t)(m->n - p) * sizeof m->red[0]);
    m->n += nf;
    for (int i = 0; i <= nf; i++) {
        snprintf(m->name[p + i], 64, "%.50s.%d", base, i);
        m->ext[p + i] = i == 0 ? (ext + prod - 1) / prod : f[i - 1];
        m->red[p + i] = red;
    }
}

static void random_stage_steps(const tt_compute *c, tt_schedule *s, const char *stage, sim *m)
{
    static const int64_t choices[] = {1, 2, 3, 4, 5, 8, 16};
    /* splits */
    for (int p = 0; p < m->n; p++) {
        if (lc_rand() > 0.6)
            continue;
        int nf = 1 + (int)rnd(2);
        int64_t f[2] = {choices[rnd(7)], choices[rnd(7)]};
        /* As a search would: tiles within the extent, now and then a tail that overshoots
         * (overshoots compound in the interpreter's run time). */
        int64_t limit = lc_rand() < 0.1 ? 2 * m->ext[p] : m->ext[p];
        while (f[0] * (nf > 1 ? f[1] : 1) > limit && (f[0] > 1 || f[1] > 1)) {
            if (f[0] >= f[1] || nf == 1)
                f[0] = f[0] > 1 ? f[0] / 2 : 1;
            else
                f[1] = f[1] / 2;
        }
        char loop[64];
        snprintf(loop, sizeof loop, "%s", m->name[p]);
        tt_schedule_split(s, stage, loop, nf, f);
        if (keep(c, s)) {
            sim_split(m, p, nf, f);
            p += nf;
        }
    }
    /* a permutation of everything (reduce loops interleave freely) */
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
            sim t = *m;
            for (int i = 0; i < m->n; i++) {
                memcpy(m->name[i], t.name[perm[i]], 64);
                m->ext[i] = t.ext[perm[i]];
                m->red[i] = t.red[perm[i]];
            }
        }
    }
    /* fuse the two outermost loops */
    if (lc_rand() < 0.3 && m->n > 1 && m->red[0] == m->red[1]) {
        const char *names[2] = {m->name[0], m->name[1]};
        tt_schedule_fuse(s, stage, 2, names);
        if (keep(c, s)) {
            char fused[64];
            snprintf(fused, sizeof fused, "%.30s@%.30s", m->name[0], m->name[1]);
            memcpy(m->name[0], fused, 64);
            m->ext[0] *= m->ext[1];
            memmove(&m->name[1], &m->name[2], (size_t)(m->n - 2) * sizeof m->name[0]);
            memmove(&m->ext[1], &m->ext[2], (size_t)(m->n - 2) * sizeof m->ext[0]);
            memmove(&m->red[1], &m->red[2], (size_t)(m->n - 2) * sizeof m->red[0]);
            m->n--;
        }
    }
    bool par = false;
    if (lc_rand() < 0.4 && !m->red[0]) {
        tt_schedule_parallel(s, stage, m->name[0]);
        par = keep(c, s);
    }
    int last = m->n - 1;
    if (lc_rand() < 0.4 && !m->red[last] && m->ext[last] <= 64 && !(par && last == 0)) {
        tt_schedule_vectorize(s, stage, m->name[last]);
        keep(c, s);
    }
    if (lc_rand() < 0.3) {
        int p = (int)rnd(m->n);
        if (m->ext[p] <= 16 && !(par && p == 0) && p != last) {
            tt_schedule_unroll(s, stage, m->name[p]);
            keep(c, s);
        }
    }
    /* an accumulator tile below a loop outside every reduce loop, or (k blocking) below a
     * loop with reduce loops above it: the tile then carries partial sums between blocks */
    int r = 0;
    while (r < m->n && !m->red[r])
        r++;
    if (r < m->n && lc_rand() < 0.6) {
        bool blocked = lc_rand() < 0.5;
        int p = blocked ? r + (int)rnd(m->n - r) : (int)rnd(r + 1) - 1;
        tt_schedule_cache_write(s, stage, p < 0 ? "" : m->name[p]);
        if (keep(c, s) && blocked) {
            n_blocked++;
            n_blocked_epi += with_epilogue;
        }
    }
}

static bool reads(const tt_expr *e, const tt_tensor *t)
{
    if (e->kind == TT_EXPR_ACCESS && e->tensor == t)
        return true;
    for (int a = 0; a < e->nargs; a++)
        if (reads(e->args[a], t))
            return true;
    return false;
}

static int reader_of(const tt_compute *c, int i)
{
    for (int j = i + 1; j < c->nstages; j++) {
        const tt_expr *stack[256];
        int n = 0;
        stack[n++] = c->stages[j]->body;
        while (n > 0) {
            const tt_expr *e = stack[--n];
            if (e->kind == TT_EXPR_ACCESS && e->tensor == c->stages[i]->output)
                return j;
            for (int a = 0; a < e->nargs && n < 256; a++)
                stack[n++] = e->args[a];
        }
    }
    return -1;
}

/* A random schedule of c, valid by construction (steps that do not apply are dropped). */
static tt_schedule *random_schedule(const tt_compute *c)
{
    tt_schedule *s = tt_schedule_new();
    sim m[8];
    int ns = c->nstages < 8 ? c->nstages : 8;
    bool gone[8] = {false}, attached[8] = {false};
    /* Placements first, consumers before producers. */
    const char *out = tt_compute_output(c)->name;
    if (ns > 1 && lc_rand() < 0.5) {
        tt_schedule_inline(s, out);
        gone[ns - 1] = keep(c, s);
    }
    for (int i = ns - 2; i >= 0; i--) {
        const char *name = c->stages[i]->output->name;
        double u = lc_rand();
        if (u < 0.3) {
            tt_schedule_inline(s, name);
            gone[i] = keep(c, s);
        }
    }
    for (int i = ns - 1; i >= 0; i--) {
        if (gone[i])
            continue;
        sim_init(&m[i], c->stages[i]);
        with_epilogue = gone[ns - 1] && i == ns - 2;
        random_stage_steps(c, s, c->stages[i]->output->name, &m[i]);
    }
    /* layout packing of a random input dimension */
    if (lc_rand() < 0.35 && c->ninputs > 0) {
        static const int64_t factors[] = {2, 3, 4, 8, 16};
        const tt_tensor *t = c->inputs[rnd(c->ninputs)];
        for (int i = 0; i < ns; i++)
            if (reads(c->stages[i]->body, t)) {
                tt_schedule_pack(s, c->stages[i]->output->name, t->name, (int)rnd(t->ndim),
                                 factors[rnd(5)]);
                keep(c, s);
                break;
            }
    }
    /* compute_at of a producer into its reader's nest. */
    for (int i = 0; i < ns - 1; i++) {
        int j = reader_of(c, i);
        if (gone[i] || j < 0 || gone[j] || lc_rand() > 0.4)
            continue;
        tt_schedule_compute_at(s, c->stages[i]->output->name, c->stages[j]->output->name,
                               m[j].name[rnd(m[j].n)]);
        attached[i] = keep(c, s);
    }
    /* What lowering reports as each stage's loops is what the generator tracked. */
    for (int i = 0; i < ns; i++) {
        int n = 0;
        tt_loop_info *l = NULL;
        int rc = tt_lower_loops(c, s, c->stages[i]->output->name, &n, &l);
        assert_int_equal(rc, gone[i] ? -1 : 0);
        if (gone[i])
            continue;
        assert_int_equal(n, m[i].n);
        for (int k = 0; k < n; k++) {
            assert_string_equal(l[k].name, m[i].name[k]);
            assert_int_equal(l[k].reduce, m[i].red[k]);
            if (!attached[i])
                assert_int_equal(l[k].extent, m[i].ext[k]);
        }
        tt_loop_info_free(l, n);
    }
    return s;
}

static void run_op(tt_compute *c, int count, const char *label)
{
    assert_non_null(c);
    for (int t = 0; t < count; t++) {
        tt_schedule *s = random_schedule(c);
        char lab[128];
        snprintf(lab, sizeof lab, "%s #%d", label, t);
        assert_int_equal(lc_check(c, s, lab), 0);
        /* The JSON replays to the same kernel. */
        char *js = tt_schedule_to_json(s);
        tt_schedule *r = NULL;
        assert_int_equal(tt_schedule_from_json(js, &r), 0);
        tt_kernel *k1 = NULL, *k2 = NULL;
        assert_int_equal(tt_lower(c, s, "k", &k1), 0);
        assert_int_equal(tt_lower(c, r, "k", &k2), 0);
        char *p1 = tt_kernel_str(k1), *p2 = tt_kernel_str(k2);
        assert_string_equal(p1, p2);
        free(p1);
        free(p2);
        free(js);
        tt_kernel_release(k1);
        tt_kernel_release(k2);
        tt_schedule_free(r);
        tt_schedule_free(s);
        n_valid++;
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

static void test_random_text_ops(void **state)
{
    (void)state;
    run_op(tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:13x9,B:9x11"), 60, "matmul odd");
    run_op(tt_test_parse("C[i, j] = sum(k, A[i, k] * B[k, j])", "A:16x8,B:8x16"), 40,
           "matmul even");
    run_op(tt_test_parse("T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)",
                         "A:12x7,B:7x10,b:10"),
           40, "matmul bias relu");
    run_op(tt_test_parse("S[i, k] = A[i, k] * 2.0; T[i, j] = sum(k, S[i, k] * B[k, j]); "
                         "C[i, j] = max(T[i, j], 0.0)",
                         "A:6x5,B:5x7"),
           30, "three stages");
    run_op(tt_test_parse("R[i] = max([j, k], X[i, j, k])", "X:5x4x7"), 30, "max reduce");
    run_op(tt_test_parse("R[i, j] = min(k, X[i, k, j] - 1.0)", "X:3x7x5"), 30, "min reduce");
    run_op(tt_test_parse("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:9x12"), 40,
           "stencil");
}

static void test_random_builtin_ops(void **state)
{
    (void)state;
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = 3, d.H = 7, d.W = 6, d.K = 4, d.R = 3, d.S = 3;
    d.pad[0] = d.pad[1] = 1;
    d.bias = d.relu = true;
    run_op(op(&d), 50, "conv2d nchw");
    d.nhwc = true;
    d.stride[0] = 2;
    run_op(op(&d), 30, "conv2d nhwc");
    tt_op_desc_init(&d, TT_OP_DEPTHWISE_CONV2D);
    d.N = 1, d.C = 3, d.H = 6, d.W = 5, d.R = 3, d.S = 3, d.bias = true;
    run_op(op(&d), 30, "depthwise");
    tt_op_desc_init(&d, TT_OP_POOL2D);
    d.N = 1, d.C = 2, d.H = 7, d.W = 7, d.R = 2, d.S = 2, d.pool_max = true;
    d.stride[0] = d.stride[1] = 2;
    run_op(op(&d), 30, "max pool");
    tt_op_desc_init(&d, TT_OP_BATCH_MATMUL);
    d.B = 2, d.M = 5, d.N = 6, d.K = 7;
    run_op(op(&d), 30, "batch matmul");
    tt_op_desc_init(&d, TT_OP_DENSE);
    d.M = 5, d.N = 9, d.K = 6, d.bias = d.relu = true;
    run_op(op(&d), 40, "dense bias relu");
}

/* Padded windows whose border tiles skip the taps in the padding (ir/lower_hoist.c): every
 * stride, dilation and padding (none, less than, equal to and more than the window; height and
 * width apart), both layouts, depthwise, max and average pools (a skipped max-pool tap is
 * skipped, never a zero), and a text-defined conv padded unevenly (2 on top, 1 at the bottom). */
static void test_padded_taps(void **state)
{
    (void)state;
    tt_op_desc d;
    char lab[96];
    for (int nhwc = 0; nhwc < 2; nhwc++)
        for (int64_t stride = 1; stride <= 2; stride++)
            for (int64_t dil = 1; dil <= 2; dil++)
                for (int64_t pad = 0; pad <= 3; pad++) {
                    tt_op_desc_init(&d, TT_OP_CONV2D);
                    d.N = 1, d.C = 2, d.H = 7, d.W = 6, d.K = 3, d.R = 3, d.S = 2;
                    d.stride[0] = d.stride[1] = stride;
                    d.dilation[0] = d.dilation[1] = dil;
                    d.pad[0] = pad, d.pad[1] = (pad + 1) % 4;
                    d.nhwc = nhwc;
                    snprintf(lab, sizeof lab, "conv2d %s stride %lld dilation %lld pad %lld,%lld",
                             nhwc ? "nhwc" : "nchw", (long long)stride, (long long)dil,
                             (long long)d.pad[0], (long long)d.pad[1]);
                    run_op(op(&d), 6, lab);
                }
    for (int64_t stride = 1; stride <= 2; stride++) {
        tt_op_desc_init(&d, TT_OP_DEPTHWISE_CONV2D);
        d.N = 1, d.C = 3, d.H = 6, d.W = 7, d.R = 3, d.S = 3, d.nhwc = stride == 2;
        d.stride[0] = d.stride[1] = stride;
        d.pad[0] = d.pad[1] = stride;
        run_op(op(&d), 10, "depthwise padded");
        for (int max = 0; max < 2; max++) {
            tt_op_desc_init(&d, TT_OP_POOL2D);
            d.N = 1, d.C = 2, d.H = 7, d.W = 6, d.R = 3, d.S = 3, d.pool_max = max;
            d.stride[0] = d.stride[1] = stride;
            d.pad[0] = 2, d.pad[1] = 1;
            d.nhwc = stride == 1;
            run_op(op(&d), 10, max ? "max pool padded" : "avg pool padded");
        }
    }
    run_op(tt_test_parse("Y[k, p, q] = sum([c, r, s], select(p + r >= 2 && p + r < 7 && "
                         "q + 2*s >= 1 && q + 2*s < 7, X[c, p + r - 2, q + 2*s - 1], 0.0) * "
                         "W[k, c, r, s] * M[p, q])",
                         "X:2x6x6,W:3x2x3x2,M:6x6"),
           20, "conv padded unevenly");
}

/* Hostile schedules: random steps over real and made-up names, odd factors, any order. Each
 * either is rejected with a message naming its step or lowers to a correct kernel. */
static void test_hostile(void **state)
{
    (void)state;
    tt_compute *cs[3] = {
        tt_test_parse("T[i, j] = sum(k, A[i, k] * B[k, j]); C[i, j] = max(T[i, j] + b[j], 0.0)",
                      "A:7x5,B:5x6,b:6"),
        tt_test_parse("S[i, k] = A[i, k] * 2.0; T[i, j] = sum(k, S[i, k] * B[k, j]); "
                      "C[i, j] = T[i, j] + T[i, j]",
                      "A:4x5,B:5x3"),
        tt_test_parse("T[i, j] = A[i, j] * 2.0; C[i, j] = T[i, j] + T[i, j + 2]", "A:5x8"),
    };
    static const char *stages[] = {"T", "C", "S", "Q"};
    static const char *loops[] = {"i",   "j",   "k",       "i.0",   "i.1", "j.0", "j.1",
                                  "k.0", "k.1", "i.0@j.0", "j.1@k", "i.2", "",    "x"};
    static const char *tensors[] = {"A", "B", "b", "T"};
    static const int64_t factors[] = {1, 2, 3, 5, 8, 0, -2, 100, 1 << 30};
    int accepted = 0, rejected = 0;
    for (int t = 0; t < 600; t++) {
        const tt_compute *c = cs[t % 3];
        tt_schedule *s = tt_schedule_new();
        int n = 1 + (int)rnd(12);
        for (int i = 0; i < n; i++) {
            const char *st = stages[rnd(3)], *l = loops[rnd(14)];
            const char *two[3] = {loops[rnd(14)], loops[rnd(14)], loops[rnd(14)]};
            int64_t f[2] = {factors[rnd(9)], factors[rnd(9)]};
            switch (rnd(TT_STEP_COUNT)) {
            case TT_STEP_SPLIT:
                tt_schedule_split(s, st, l, 1 + (int)rnd(2), f);
                break;
            case TT_STEP_REORDER:
                tt_schedule_reorder(s, st, 1 + (int)rnd(3), two);
                break;
            case TT_STEP_FUSE:
                tt_schedule_fuse(s, st, 2, two);
                break;
            case TT_STEP_PARALLEL:
                tt_schedule_parallel(s, st, l);
                break;
            case TT_STEP_VECTORIZE:
                tt_schedule_vectorize(s, st, l);
                break;
            case TT_STEP_UNROLL:
                tt_schedule_unroll(s, st, l);
                break;
            case TT_STEP_CACHE_WRITE:
                tt_schedule_cache_write(s, st, l);
                break;
            case TT_STEP_COMPUTE_AT:
                tt_schedule_compute_at(s, st, stages[rnd(4)], l);
                break;
            case TT_STEP_INLINE:
                tt_schedule_inline(s, st);
                break;
            default:
                tt_schedule_pack(s, st, tensors[rnd(4)], (int)rnd(3), f[0] > 0 ? f[0] : 4);
                break;
            }
            tt_kernel *k = NULL;
            if (tt_lower(c, s, "k", &k) == 0) {
                accepted++;
                tt_kernel_release(k);
                continue;
            }
            assert_null(k);
            const char *e = tt_get_last_error();
            if (strncmp(e, "step ", 5) != 0)
                printf("message without its step: %s\n", e);
            assert_true(strncmp(e, "step ", 5) == 0);
            rejected++;
            tt_schedule_truncate(s, 1);
        }
        char lab[32];
        snprintf(lab, sizeof lab, "hostile #%d", t);
        assert_int_equal(lc_check(c, s, lab), 0);
        tt_schedule_free(s);
    }
    printf("hostile steps: %d kept (schedules checked), %d rejected\n", accepted, rejected);
    assert_true(accepted > 50 && rejected > 50);
    for (int i = 0; i < 3; i++)
        tt_compute_release(cs[i]);
}

static void test_coverage(void **state)
{
    (void)state;
    printf("random schedules: %d valid, %d steps dropped;", n_valid, n_rejected);
    for (int k = 0; k < TT_STEP_COUNT; k++)
        printf(" %s %d", tt_step_kind_name(k), n_kind[k]);
    printf("; blocked tiles %d (%d with an epilogue)\n", n_blocked, n_blocked_epi);
    assert_true(n_valid >= 200);
    assert_true(n_blocked > 10 && n_blocked_epi > 3);
    for (int k = 0; k < TT_STEP_COUNT; k++)
        assert_true(n_kind[k] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_text_ops), cmocka_unit_test(test_random_builtin_ops),
        cmocka_unit_test(test_padded_taps),     cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
