/* Lowering, the loop steps: a stage's nest (loops, axis values, guards) and split, reorder,
 * fuse and the annotations replayed on it. ir/lower.c decides placements and drives; this file
 * only shapes one stage's loops. */
#include "ir/lower_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LANES 64     /* vectorize: wider is no vector any target has */
#define MAX_UNROLL 64    /* unroll: beyond this code size grows for nothing */
#define MAX_OVERSHOOT 64 /* split: factors may exceed a loop's extent up to this product */

/* ---- nest state ---- */

void lw_stage_clear(lw_stage *s)
{
    for (int i = 0; i < s->nloops; i++) {
        free(s->loops[i].name);
        tt_expr_release(s->loops[i].var);
    }
    free(s->loops);
    for (int i = 0; i < s->nguards; i++)
        tt_expr_release(s->guards[i].value);
    free(s->guards);
    for (int i = 0; s->val && i < s->naxes; i++)
        tt_expr_release(s->val[i]);
    free(s->val);
    free(s->ext);
    free(s->axes);
    s->loops = NULL;
    s->guards = NULL;
    s->val = NULL;
    s->ext = NULL;
    s->axes = NULL;
    s->nloops = s->loop_cap = s->nguards = s->guard_cap = s->naxes = 0;
}

/* Inserts a loop at position pos (takes name; makes the variable). */
static int insert_loop(lw_stage *s, int pos, char *name, int64_t extent, bool reduce)
{
    if (!name)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (s->nloops == s->loop_cap) {
        int cap = s->loop_cap ? 2 * s->loop_cap : 8;
        lw_loop *l = realloc(s->loops, (size_t)cap * sizeof *l);
        if (!l) {
            free(name);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        }
        s->loops = l;
        s->loop_cap = cap;
    }
    /* An attached stage's loops nest inside its consumer's: qualified variable names keep
     * printed and C-emitted kernels free of shadowing ("T.j.0" inside "j.0"). */
    char qual[256];
    if (s->place == LW_ATTACHED)
        snprintf(qual, sizeof qual, "%s.%s", s->stage->output->name, name);
    tt_expr *v = tt_expr_var(s->place == LW_ATTACHED ? qual : name, TT_DT_I64);
    if (!v) {
        free(name);
        return -1;
    }
    memmove(&s->loops[pos + 1], &s->loops[pos], (size_t)(s->nloops - pos) * sizeof *s->loops);
    s->loops[pos] = (lw_loop){name, extent, TT_FOR_SERIAL, -1, reduce, v};
    s->nloops++;
    return 0;
}

static void remove_loop(lw_stage *s, int pos)
{
    free(s->loops[pos].name);
    tt_expr_release(s->loops[pos].var);
    memmove(&s->loops[pos], &s->loops[pos + 1], (size_t)(s->nloops - pos - 1) * sizeof *s->loops);
    s->nloops--;
}

int lw_add_guard(lw_stage *s, tt_expr *value, int64_t lo, int64_t hi, bool reduce)
{
    if (s->nguards == s->guard_cap) {
        int cap = s->guard_cap ? 2 * s->guard_cap : 8;
        lw_guard *g = realloc(s->guards, (size_t)cap * sizeof *g);
        if (!g)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        s->guards = g;
        s->guard_cap = cap;
    }
    s->guards[s->nguards++] = (lw_guard){tt_expr_retain(value), lo, hi, reduce};
    return 0;
}

/* Replaces var by value in every axis value and guard. */
static int substitute_all(lw_stage *s, int n, tt_expr *const *vars, tt_expr *const *values)
{
    for (int a = 0; a < s->naxes; a++) {
        tt_expr *v = tt_expr_substitute(s->val[a], n, vars, values);
        if (!v)
            return -1;
        tt_expr_release(s->val[a]);
        s->val[a] = v;
    }
    for (int g = 0; g < s->nguards; g++) {
        tt_expr *v = tt_expr_substitute(s->guards[g].value, n, vars, values);
        if (!v)
            return -1;
        tt_expr_release(s->guards[g].value);
        s->guards[g].value = v;
    }
    return 0;
}

/* The initial nest: spatial axes in order, then the reduce axes; ext gives the extents. */
static int init_nest(lw_stage *s, const int64_t *spatial_ext)
{
    lw_stage_clear(s);
    const tt_stage *st = s->stage;
    int nred = s->body->kind == TT_EXPR_REDUCE ? s->body->naxes : 0;
    s->naxes = st->naxes + nred;
    s->axes = calloc((size_t)s->naxes + 1, sizeof *s->axes);
    s->ext = calloc((size_t)s->naxes + 1, sizeof *s->ext);
    s->val = calloc((size_t)s->naxes + 1, sizeof *s->val);
    if (!s->axes || !s->ext || !s->val)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int a = 0; a < s->naxes; a++) {
        bool red = a >= st->naxes;
        s->axes[a] = red ? s->body->axes[a - st->naxes] : st->axes[a];
        s->ext[a] = red ? s->axes[a]->extent : spatial_ext[a];
        if (insert_loop(s, a, strdup(s->axes[a]->var->name), s->ext[a], red) != 0)
            return -1;
        s->val[a] = tt_expr_retain(s->loops[a].var);
    }
    return 0;
}

/* ---- loop steps ---- */

static char *joined(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s%s%s", a, sep, b);
    return r;
}

static int do_split(lw_ctx *x, lw_stage *s, int si, const tt_step *st)
{
    int p = lw_loop_index(s, st->loops[0]);
    if (p < 0)
        return lw_step_error(x, si, "no loop %s in stage %s", st->loops[0], st->stage);
    if (s->loops[p].kind != TT_FOR_SERIAL) /* the annotation would silently vanish */
        return lw_step_error(x, si, "loop %s is already %s: annotate after splitting", st->loops[0],
                             tt_for_kind_name(s->loops[p].kind));
    int64_t prod = 1, extent = s->loops[p].extent;
    for (int i = 0; i < st->nfactors; i++) {
        if (st->factors[i] <= 0)
            return lw_step_error(x, si, "factor %lld of loop %s, expected > 0",
                                 (long long)st->factors[i], st->loops[0]);
        if (__builtin_mul_overflow(prod, st->factors[i], &prod) || prod > ((int64_t)1 << 40))
            return lw_step_error(x, si, "factors of loop %s are too large", st->loops[0]);
    }
    /* A tile larger than the loop only runs guarded-off iterations; a small overshoot (a vector
     * tail) is fine, a large one is a mistake that would make the kernel spin. */
    if (prod > extent && prod > MAX_OVERSHOOT)
        return lw_step_error(x, si,
                             "factors of loop %s multiply to %lld, more than its extent %lld",
                             st->loops[0], (long long)prod, (long long)extent);
    for (int i = 0; i <= st->nfactors; i++) {
        char num[24];
        snprintf(num, sizeof num, "%d", i);
        char *name = joined(st->loops[0], ".", num);
        bool taken = name && lw_loop_index(s, name) >= 0;
        free(name);
        if (taken)
            return lw_step_error(x, si, "loop name %s.%d is taken", st->loops[0], i);
    }
    bool red = s->loops[p].reduce;
    tt_expr *old = tt_expr_retain(s->loops[p].var);
    remove_loop(s, p);
    int rc = 0;
    for (int i = 0; rc == 0 && i <= st->nfactors; i++) {
        char num[24];
        snprintf(num, sizeof num, "%d", i);
        int64_t e = i == 0 ? (extent + prod - 1) / prod : st->factors[i - 1];
        rc = insert_loop(s, p + i, joined(st->loops[0], ".", num), e, red);
    }
    /* old = ((l0 * f1 + l1) * f2 + l2) ... */
    tt_expr *v = rc == 0 ? tt_expr_retain(s->loops[p].var) : NULL;
    for (int i = 1; v && i <= st->nfactors; i++)
        v = tt_expr_add_s(tt_expr_mul_s(v, tt_expr_int(st->factors[i - 1])),
                          tt_expr_retain(s->loops[p + i].var));
    if (rc == 0 && !v)
        rc = -1;
    if (rc == 0 && extent % prod != 0)
        rc = lw_add_guard(s, v, INT64_MIN, extent, red);
    if (rc == 0)
        rc = substitute_all(s, 1, &old, &v);
    tt_expr_release(v);
    tt_expr_release(old);
    return rc;
}

static int do_reorder(lw_ctx *x, lw_stage *s, int si, const tt_step *st)
{
    int n = st->nloops, *pos = calloc((size_t)n, sizeof *pos);
    lw_loop *tmp = calloc((size_t)n, sizeof *tmp);
    int rc = 0;
    if (!pos || !tmp)
        rc = tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        pos[i] = lw_loop_index(s, st->loops[i]);
        if (pos[i] < 0)
            rc = lw_step_error(x, si, "no loop %s in stage %s", st->loops[i], st->stage);
        for (int j = 0; rc == 0 && j < i; j++)
            if (pos[j] == pos[i])
                rc = lw_step_error(x, si, "loop %s appears twice: not a permutation", st->loops[i]);
    }
    if (rc == 0) {
        for (int i = 0; i < n; i++)
            tmp[i] = s->loops[pos[i]];
        /* The named loops take their own positions, sorted, in the order given. */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && pos[j - 1] > pos[j]; j--) {
                int t = pos[j];
                pos[j] = pos[j - 1];
                pos[j - 1] = t;
            }
        for (int i = 0; i < n; i++)
            s->loops[pos[i]] = tmp[i];
    }
    free(pos);
    free(tmp);
    return rc;
}

static int do_fuse(lw_ctx *x, lw_stage *s, int si, const tt_step *st)
{
    int n = st->nloops, p = lw_loop_index(s, st->loops[0]);
    if (p < 0)
        return lw_step_error(x, si, "no loop %s in stage %s", st->loops[0], st->stage);
    int64_t ext = 1;
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        int q = lw_loop_index(s, st->loops[i]);
        if (q < 0)
            return lw_step_error(x, si, "no loop %s in stage %s", st->loops[i], st->stage);
        if (q != p + i)
            return lw_step_error(x, si, "loops %s and %s are not adjacent (outer to inner)",
                                 st->loops[i - 1 >= 0 ? i - 1 : 0], st->loops[i]);
        if (s->loops[q].kind != TT_FOR_SERIAL)
            return lw_step_error(x, si, "loop %s is already %s: annotate after fusing",
                                 st->loops[i], tt_for_kind_name(s->loops[q].kind));
        if (s->loops[q].reduce != s->loops[p].reduce)
            return lw_step_error(x, si, "loop %s is a %s loop and %s is not", st->loops[i],
                                 s->loops[q].reduce ? "reduce" : "spatial", st->loops[0]);
        if (__builtin_mul_overflow(ext, s->loops[q].extent, &ext))
            return lw_step_error(x, si, "fused extent overflows");
        len += strlen(st->loops[i]) + 1;
    }
    char *name = calloc(len, 1);
    if (!name)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(name, "@");
        strcat(name, st->loops[i]);
    }
    if (lw_loop_index(s, name) >= 0) {
        free(name);
        return lw_step_error(x, si, "loop name is taken");
    }
    bool red = s->loops[p].reduce;
    if (insert_loop(s, p, name, ext, red) != 0)
        return -1;
    tt_expr *f = s->loops[p].var, **olds = calloc((size_t)n, sizeof *olds),
            **vals = calloc((size_t)n, sizeof *vals);
    int rc = olds && vals ? 0 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    /* Inner to outer: l_n = f % e_n, l_{n-1} = f / e_n % e_{n-1}, ..., l_1 = f / (e_2...e_n). */
    int64_t stride = 1;
    for (int i = n - 1; rc == 0 && i >= 0; i--) {
        const lw_loop *l = &s->loops[p + 1 + i];
        olds[i] = tt_expr_retain(l->var);
        tt_expr *k = tt_expr_int(stride);
        tt_expr *d = stride > 1 ? tt_expr_binary(TT_EXPR_DIV, f, k) : tt_expr_retain(f);
        tt_expr_release(k);
        if (d && i > 0) {
            tt_expr *e = tt_expr_int(l->extent);
            tt_expr *m = tt_expr_binary(TT_EXPR_MOD, d, e);
            tt_expr_release(e);
            tt_expr_release(d);
            d = m;
        }
        vals[i] = d;
        if (!d)
            rc = -1;
        stride *= l->extent;
    }
    if (rc == 0)
        rc = substitute_all(s, n, olds, vals);
    for (int i = 0; olds && vals && i < n; i++) {
        tt_expr_release(olds[i]);
        tt_expr_release(vals[i]);
    }
    free(olds);
    free(vals);
    for (int i = 0; rc == 0 && i < n; i++)
        remove_loop(s, p + 1);
    return rc;
}

static int do_annotate(lw_ctx *x, lw_stage *s, int si, const tt_step *st)
{
    int p = lw_loop_index(s, st->loops[0]);
    if (p < 0)
        return lw_step_error(x, si, "no loop %s in stage %s", st->loops[0], st->stage);
    lw_loop *l = &s->loops[p];
    if (l->kind != TT_FOR_SERIAL)
        return lw_step_error(x, si, "loop %s is already %s", l->name, tt_for_kind_name(l->kind));
    l->kind = st->kind == TT_STEP_PARALLEL    ? TT_FOR_PARALLEL
              : st->kind == TT_STEP_VECTORIZE ? TT_FOR_VECTORIZED
                                              : TT_FOR_UNROLLED;
    l->kind_step = si;
    return 0;
}

/* Annotations are checked on the final nest: a later reorder may move a loop. */
static int check_annotations(lw_ctx *x, lw_stage *s)
{
    for (int p = 0; p < s->nloops; p++) {
        lw_loop *l = &s->loops[p];
        int si = l->kind_step;
        switch (l->kind) {
        case TT_FOR_PARALLEL:
            if (l->reduce)
                return lw_step_error(x, si, "loop %s is a reduce loop: parallel would race",
                                     l->name);
            for (int q = 0; q < p; q++)
                if (s->loops[q].reduce)
                    return lw_step_error(x, si, "loop %s lies inside reduce loop %s", l->name,
                                         s->loops[q].name);
            break;
        case TT_FOR_VECTORIZED:
            if (p != s->nloops - 1)
                return lw_step_error(x, si, "loop %s is not innermost", l->name);
            if (l->reduce)
                return lw_step_error(x, si, "loop %s is a reduce loop", l->name);
            if (l->extent > MAX_LANES)
                return lw_step_error(x, si, "loop %s has extent %lld, more than %d lanes", l->name,
                                     (long long)l->extent, MAX_LANES);
            break;
        case TT_FOR_UNROLLED:
            if (l->extent > MAX_UNROLL)
                return lw_step_error(x, si, "loop %s has extent %lld, more than %d to unroll",
                                     l->name, (long long)l->extent, MAX_UNROLL);
            break;
        default:
            break;
        }
    }
    return 0;
}

/* Builds stage i's nest with the given spatial extents and replays its loop steps. */
int lw_build_nest(lw_ctx *x, int i, const int64_t *spatial_ext)
{
    lw_stage *s = &x->st[i];
    if (init_nest(s, spatial_ext) != 0)
        return -1;
    for (int k = 0; k < s->nsteps; k++) {
        int si = s->steps[k];
        const tt_step *st = tt_schedule_step(x->s, si);
        int rc;
        switch (st->kind) {
        case TT_STEP_SPLIT:
            rc = do_split(x, s, si, st);
            break;
        case TT_STEP_REORDER:
            rc = do_reorder(x, s, si, st);
            break;
        case TT_STEP_FUSE:
            rc = do_fuse(x, s, si, st);
            break;
        default:
            rc = do_annotate(x, s, si, st);
            break;
        }
        if (rc != 0)
            return -1;
    }
    /* Tails compound over splits and axes; past a bound the kernel would spin on guarded-off
     * iterations (and a hostile schedule could make it run for hours). */
    double iters = 1, points = 1;
    for (int p = 0; p < s->nloops; p++)
        iters *= (double)s->loops[p].extent;
    for (int a = 0; a < s->naxes; a++)
        points *= (double)s->ext[a];
    if (iters > MAX_OVERSHOOT * points && iters > 65536) { /* tiny nests may waste freely */
        int last = -1;
        for (int k = 0; k < s->nsteps; k++)
            if (tt_schedule_step(x->s, s->steps[k])->kind == TT_STEP_SPLIT)
                last = s->steps[k];
        return lw_step_error(x, last,
                             "the nest of %s runs %.0f iterations for %.0f points: the "
                             "splits overshoot more than %dx",
                             s->stage->output->name, iters, points, MAX_OVERSHOOT);
    }
    return check_annotations(x, s);
}
