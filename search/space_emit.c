/* Points of the space as schedules and back: a decision vector emits its steps in a fixed order
 * (split, reorder, fuse, parallel, vectorize, unroll, cache_write, the other stages' steps,
 * pack, inline), and a schedule read from a log decodes to the decisions that emit it, so
 * mutation and crossover work on schedules from any earlier run. */
#include "search/space_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A list of loop names built while emitting. */
typedef struct {
    int n;
    char *names[256];
} names;

static int push(names *l, const char *axis, int level)
{
    if (l->n >= 256)
        return tt_error_set("space: too many loops");
    char buf[512];
    if (level >= 0)
        snprintf(buf, sizeof buf, "%s.%d", axis, level);
    else
        snprintf(buf, sizeof buf, "%s", axis);
    if (!(l->names[l->n] = strdup(buf)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    l->n++;
    return 0;
}

static void names_free(names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->names[i]);
    l->n = 0;
}

static char *loop_name(const char *axis, int level)
{
    size_t n = strlen(axis) + 16;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s.%d", axis, level);
    return r;
}

/* The spatial loops of one level, the vector axis last (in S2 and S3 it is the innermost). */
static int push_level(const sp_var *sp, names *l, int lev)
{
    int rc = 0;
    for (int a = 0; rc == 0 && a < sp->nspatial; a++)
        if (a != sp->vec)
            rc = push(l, sp->spatial[a].name, lev);
    return rc == 0 && sp->vec >= 0 ? push(l, sp->spatial[sp->vec].name, lev) : rc;
}

/* The nest order: S0 S1 R0 S2 R1 S3 (vector axis innermost), or S0 S1 for an elementwise main;
 * axes of extent 1 stay unsplit at the front of their block. k blocking (D_CACHE_KBLOCK) moves
 * R0 out: S0 R0 S1 S2 R1 S3, the loop order of BLIS, where the R1 x S1*S2*S3 block of a packed
 * panel stays in cache across the S1 tiles and the accumulator tile carries partial sums. */
static int main_order(const sp_var *sp, bool kblock, names *l)
{
    int rc = 0;
    for (int a = 0; rc == 0 && a < sp->ntriv_s; a++)
        rc = push(l, sp->triv_s[a], -1);
    for (int lev = 0; rc == 0 && lev <= 1; lev++) {
        if (lev == 1 && kblock) {
            for (int a = 0; rc == 0 && a < sp->ntriv_r; a++)
                rc = push(l, sp->triv_r[a], -1);
            for (int a = 0; rc == 0 && a < sp->nreduce; a++)
                rc = push(l, sp->reduce[a].name, 0);
        }
        for (int a = 0; rc == 0 && a < sp->nspatial; a++)
            rc = push(l, sp->spatial[a].name, lev);
    }
    if (!sp->reduction)
        return rc;
    for (int a = 0; rc == 0 && !kblock && a < sp->ntriv_r; a++)
        rc = push(l, sp->triv_r[a], -1);
    for (int a = 0; rc == 0 && !kblock && a < sp->nreduce; a++)
        rc = push(l, sp->reduce[a].name, 0);
    if (rc == 0)
        rc = push_level(sp, l, 2);
    for (int a = 0; rc == 0 && a < sp->nreduce; a++)
        rc = push(l, sp->reduce[a].name, 1);
    return rc == 0 ? push_level(sp, l, 3) : rc;
}

/* A root stage besides main under option mask: the innermost axis split by the lanes and
 * vectorised (SP_ROOT_VEC), the loops outside it fused and parallel (SP_ROOT_PAR). */
static int root_stage(const sp_var *sp, tt_schedule *s, const tt_stage *st, unsigned mask)
{
    const char *name = st->output->name;
    int n = st->naxes < 64 ? st->naxes : 64, rc = 0;
    const tt_iter_var *last = st->axes[n - 1];
    names outer = {0};
    for (int a = 0; rc == 0 && a < n - 1; a++)
        rc = push(&outer, st->axes[a]->var->name, -1);
    if (rc == 0 && (mask & SP_ROOT_VEC)) {
        int64_t f = last->extent >= sp->lanes ? sp->lanes : last->extent;
        rc = tt_schedule_split(s, name, last->var->name, 1, &f);
        if (rc == 0)
            rc = push(&outer, last->var->name, 0);
    } else if (rc == 0) {
        rc = push(&outer, last->var->name, -1);
    }
    if (rc == 0 && (mask & SP_ROOT_PAR)) {
        if (outer.n >= 2)
            rc = tt_schedule_fuse(s, name, outer.n, (const char *const *)outer.names);
        size_t len = 1;
        for (int a = 0; a < outer.n; a++)
            len += strlen(outer.names[a]) + 1;
        char *fused = rc == 0 ? calloc(len, 1) : NULL;
        for (int a = 0; fused && a < outer.n; a++) {
            if (a)
                strcat(fused, "@");
            strcat(fused, outer.names[a]);
        }
        if (rc == 0)
            rc = fused ? tt_schedule_parallel(s, name, fused)
                       : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(fused);
    }
    if (rc == 0 && (mask & SP_ROOT_VEC)) {
        char *l = loop_name(last->var->name, 1);
        rc = l ? tt_schedule_vectorize(s, name, l)
               : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(l);
    }
    names_free(&outer);
    return rc;
}

static int emit_main(const sp_var *sp, const int *v, tt_schedule *s)
{
    const char *M = sp->main_name;
    int rc = 0;
    for (int a = 0; rc == 0 && a < sp->nspatial; a++) {
        const sp_axis *ax = &sp->spatial[a];
        rc = tt_schedule_split(s, M, ax->name, ax->ninner, ax->tuples[v[a]].f);
    }
    for (int a = 0; rc == 0 && a < sp->nreduce; a++) {
        const sp_axis *ax = &sp->reduce[a];
        rc = tt_schedule_split(s, M, ax->name, 1, ax->tuples[v[sp->d_reduce + a]].f);
    }
    names order = {0};
    if (rc == 0)
        rc = main_order(sp, v[sp->d_cache] == D_CACHE_KBLOCK, &order);
    if (rc == 0 && order.n >= 2)
        rc = tt_schedule_reorder(s, M, order.n, (const char *const *)order.names);
    names_free(&order);
    int k = v[sp->d_par];
    if (rc == 0 && k >= 1) {
        names outer = {0};
        for (int a = 0; rc == 0 && a < k; a++)
            rc = push(&outer, sp->spatial[a].name, 0);
        if (rc == 0 && k >= 2)
            rc = tt_schedule_fuse(s, M, k, (const char *const *)outer.names);
        char *fused = NULL;
        if (rc == 0) {
            size_t len = 1;
            for (int a = 0; a < k; a++)
                len += strlen(outer.names[a]) + 1;
            fused = calloc(len, 1);
            for (int a = 0; fused && a < k; a++) {
                if (a)
                    strcat(fused, "@");
                strcat(fused, outer.names[a]);
            }
            rc = fused ? tt_schedule_parallel(s, M, fused)
                       : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        }
        free(fused);
        names_free(&outer);
    }
    bool vec = v[sp->d_vec] == 1;
    if (rc == 0 && vec) {
        const sp_axis *ax = &sp->spatial[sp->vec];
        char *l = loop_name(ax->name, ax->ninner);
        rc = l ? tt_schedule_vectorize(s, M, l)
               : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(l);
    }
    /* The body of the innermost tile in copies of the statement, a vector counting once per
     * register: LLVM fully unrolls short inner loops whether or not a step says so. */
    int64_t body = 1;
    for (int a = 0; a < sp->nspatial; a++) {
        const sp_axis *ax = &sp->spatial[a];
        int64_t f = ax->tuples[v[a]].f[ax->ninner - 1];
        body *= a == sp->vec && vec ? (f + sp->lanes - 1) / sp->lanes : f;
    }
    for (int a = 0; rc == 0 && v[sp->d_unroll_s] && a < sp->nspatial; a++) {
        if (a == sp->vec) /* its inner loop is the vector (or the would-be vector) */
            continue;
        const sp_axis *ax = &sp->spatial[a];
        char *l = loop_name(ax->name, ax->ninner);
        rc = l ? tt_schedule_unroll(s, M, l) : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(l);
    }
    /* Reduce loops unroll innermost first while the body stays within SP_MAX_BODY: beyond it
     * LLVM takes seconds (a 3x3x32 conv reduction over a 7-row tile took 20 s) for nothing. */
    for (int a = sp->nreduce - 1; rc == 0 && v[sp->d_unroll_r] && a >= 0; a--) {
        const sp_axis *ax = &sp->reduce[a];
        int64_t f = ax->tuples[v[sp->d_reduce + a]].f[0];
        if (body * f > SP_MAX_BODY)
            break;
        body *= f;
        char *l = loop_name(ax->name, 1);
        rc = l ? tt_schedule_unroll(s, M, l) : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(l);
    }
    if (rc == 0 && v[sp->d_cache]) {
        /* the tile: everything below the last S1 loop (S2 R1 S3; R0 too unless k blocked) */
        char *l = sp->nspatial > 0  ? loop_name(sp->spatial[sp->nspatial - 1].name, 1)
                  : sp->ntriv_s > 0 ? strdup(sp->triv_s[sp->ntriv_s - 1])
                                    : strdup("");
        rc = l ? tt_schedule_cache_write(s, M, l)
               : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        free(l);
    }
    return rc;
}

int var_emit(const sp_var *sp, const int *v, tt_schedule **out)
{
    *out = NULL;
    tt_schedule *s = tt_schedule_new();
    if (!s)
        return -1;
    const tt_compute *c = sp->c;
    int rc = emit_main(sp, v, s);
    for (int p = 0; rc == 0 && p < sp->npre; p++) {
        int k = v[sp->d_pre + p];
        unsigned m = k > 0 ? sp_root_mask(sp->pre_caps[p], k - 1) : 0;
        if (m)
            rc = root_stage(sp, s, c->stages[sp->pre[p]], m);
    }
    for (int p = 0; rc == 0 && p < sp->naux; p++) {
        unsigned m = sp_root_mask(sp->aux_caps[p], v[sp->d_aux + p]);
        if (m)
            rc = root_stage(sp, s, c->stages[sp->aux[p]], m);
    }
    for (int p = 0; rc == 0 && p < sp->npack; p++) {
        if (!v[sp->d_pack + p])
            continue;
        const sp_axis *ax = &sp->spatial[sp->vec];
        int64_t f = ax->tuples[v[sp->vec]].f[ax->ninner - 1];
        rc = tt_schedule_pack(s, sp->main_name, sp->pack[p].tensor, sp->pack[p].dim, f);
    }
    /* inlines in stage order: lowering fuses the output into main only once the stages
     * between them are gone */
    for (int i = 0; rc == 0 && i < c->nstages; i++) {
        bool in = false;
        for (int p = 0; p < sp->npre; p++)
            in |= sp->pre[p] == i && v[sp->d_pre + p] == 0;
        for (int f = 0; f < sp->nforced; f++)
            in |= sp->forced[f] == i;
        in |= sp->epilogue && i == c->nstages - 1;
        if (in)
            rc = tt_schedule_inline(s, c->stages[i]->output->name);
    }
    if (rc != 0) {
        tt_schedule_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* ---- decoding ---- */

static int find_tuple(const sp_axis *ax, const tt_step *st)
{
    if (st->nfactors != ax->ninner)
        return -1;
    for (int t = 0; t < ax->ntuples; t++) {
        bool eq = true;
        for (int l = 0; l < ax->ninner; l++)
            eq &= ax->tuples[t].f[l] == st->factors[l];
        if (eq)
            return t;
    }
    return -1;
}

/* Whether loop (named "axis.level") belongs to a reduce axis of main. */
static bool reduce_loop(const sp_var *sp, const char *loop)
{
    const char *dot = strrchr(loop, '.');
    size_t n = dot ? (size_t)(dot - loop) : strlen(loop);
    for (int a = 0; a < sp->nreduce; a++)
        if (strlen(sp->reduce[a].name) == n && strncmp(sp->reduce[a].name, loop, n) == 0)
            return true;
    return false;
}

static int stage_of(const sp_var *sp, const char *name, const int *list, int n)
{
    for (int p = 0; p < n; p++)
        if (strcmp(sp->c->stages[list[p]]->output->name, name) == 0)
            return p;
    return -1;
}

static int decode_main(const sp_var *sp, const tt_step *st, int *v)
{
    switch (st->kind) {
    case TT_STEP_SPLIT:
        for (int a = 0; a < sp->nspatial; a++)
            if (strcmp(sp->spatial[a].name, st->loops[0]) == 0)
                return (v[a] = find_tuple(&sp->spatial[a], st)) >= 0 ? 0 : -1;
        for (int a = 0; a < sp->nreduce; a++)
            if (strcmp(sp->reduce[a].name, st->loops[0]) == 0)
                return (v[sp->d_reduce + a] = find_tuple(&sp->reduce[a], st)) >= 0 ? 0 : -1;
        return -1;
    case TT_STEP_FUSE:
        v[sp->d_par] = st->nloops;
        return 0;
    case TT_STEP_PARALLEL:
        if (v[sp->d_par] == 0)
            v[sp->d_par] = 1;
        return 0;
    case TT_STEP_VECTORIZE:
        v[sp->d_vec] = 1;
        return 0;
    case TT_STEP_UNROLL:
        v[reduce_loop(sp, st->loops[0]) ? sp->d_unroll_r : sp->d_unroll_s] = 1;
        return 0;
    case TT_STEP_CACHE_WRITE:
        if (v[sp->d_cache] == 0)
            v[sp->d_cache] = 1;
        return 0;
    case TT_STEP_PACK:
        for (int p = 0; p < sp->npack; p++)
            if (strcmp(sp->pack[p].tensor, st->tensor) == 0) {
                v[sp->d_pack + p] = 1;
                return 0;
            }
        return -1;
    case TT_STEP_REORDER:
        /* fixed by the structure but for k blocking: an R0 loop before the S1 loops */
        if (sp->nreduce > 0 && sp->nspatial > 0) {
            char *r0 = loop_name(sp->reduce[0].name, 0), *s1 = loop_name(sp->spatial[0].name, 1);
            int pr = -1, ps = -1;
            for (int i = 0; r0 && s1 && i < st->nloops; i++) {
                pr = strcmp(st->loops[i], r0) == 0 ? i : pr;
                ps = strcmp(st->loops[i], s1) == 0 ? i : ps;
            }
            bool ok = r0 && s1;
            free(r0);
            free(s1);
            if (!ok)
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            if (pr >= 0 && ps >= 0 && pr < ps)
                v[sp->d_cache] = D_CACHE_KBLOCK;
        }
        return 0;
    case TT_STEP_INLINE:
        return 0; /* fixed by the structure; checked by re-emitting */
    default:
        return -1;
    }
}

/* The option bits a step on another root stage shows. */
static unsigned root_bits(const tt_step *st)
{
    return st->kind == TT_STEP_PARALLEL    ? SP_ROOT_PAR
           : st->kind == TT_STEP_VECTORIZE ? SP_ROOT_VEC
                                           : 0;
}

int var_decode(const sp_var *sp, const tt_schedule *s, int *v)
{
    memset(v, 0, (size_t)sp->ndec * sizeof *v);
    int n = sp->npre + sp->naux;
    unsigned *mask = calloc((size_t)n + 1, sizeof *mask);
    bool *inlined = calloc((size_t)n + 1, sizeof *inlined);
    if (!mask || !inlined) {
        free(mask);
        free(inlined);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    int bad = -1;
    for (int i = 0; bad < 0 && i < tt_schedule_size(s); i++) {
        const tt_step *st = tt_schedule_step(s, i);
        int p;
        if (strcmp(st->stage, sp->main_name) == 0) {
            if (decode_main(sp, st, v) != 0)
                bad = i;
        } else if ((p = stage_of(sp, st->stage, sp->pre, sp->npre)) >= 0) {
            inlined[p] |= st->kind == TT_STEP_INLINE;
            mask[p] |= root_bits(st);
        } else if ((p = stage_of(sp, st->stage, sp->aux, sp->naux)) >= 0) {
            mask[sp->npre + p] |= root_bits(st);
        }
    }
    for (int p = 0; p < sp->npre; p++)
        v[sp->d_pre + p] = inlined[p] ? 0 : 1 + sp_root_index(sp->pre_caps[p], mask[p]);
    for (int p = 0; p < sp->naux; p++)
        v[sp->d_aux + p] = sp_root_index(sp->aux_caps[p], mask[sp->npre + p]);
    free(mask);
    free(inlined);
    for (int d = 0; bad < 0 && d < sp->ndec; d++)
        if (v[d] < 0 || v[d] >= sp->dec[d].n)
            bad = tt_schedule_size(s);
    if (bad < 0 && var_footprint(sp, v) > sp->budget)
        bad = tt_schedule_size(s);
    /* the decisions must emit exactly s */
    char *want = tt_schedule_to_json(s), *got = NULL;
    tt_schedule *e = NULL;
    if (bad < 0 && var_emit(sp, v, &e) == 0)
        got = tt_schedule_to_json(e);
    int rc = 0;
    if (!want || (bad < 0 && !got))
        rc = tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    else if (bad >= 0 || strcmp(want, got) != 0)
        rc = tt_error_set("schedule is not a point of the space of %s (%s)",
                          sp->c->name ? sp->c->name : sp->main_name,
                          bad >= 0 && bad < tt_schedule_size(s)
                              ? tt_step_describe(tt_schedule_step(s, bad))
                              : "its steps differ from what the space emits");
    free(want);
    free(got);
    tt_schedule_free(e);
    return rc;
}
