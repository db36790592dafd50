/* The search space of a compute, derived from its definition (docs/ARCHITECTURE.md "Schedules and
 * the search space"): which stage gets the multi-level tiling, the tilings of its axes, and the
 * other decisions (parallel, vectorise, unroll, accumulator tile, packing, placements).
 * search/space_emit.c turns a point into steps, search/space_sample.c walks the space. */
#include "search/space_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/analysis.h"
#include "ir/lower.h"

#define MAX_VALUES 40 /* candidate extents per tile level */

/* ---- tile sizes ---- */

static bool is_pow2(int64_t x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Adds v to the sorted set vals[0..*n) when absent. */
static void add_value(int64_t *vals, int *n, int cap, int64_t v)
{
    for (int i = 0; i < *n; i++)
        if (vals[i] == v)
            return;
    if (*n < cap) {
        vals[(*n)++] = v;
        qsort(vals, (size_t)*n, sizeof *vals, cmp_i64);
    }
}

/* Divisors of e up to cap, thinned to about two per octave when there are many (highly
 * composite extents would otherwise multiply the tilings without adding distinct shapes). */
static void level_values(int64_t e, int64_t cap, int64_t *vals, int *n)
{
    int64_t all[4096];
    int na = 0;
    for (int64_t d = 1; d * d <= e && na < 4094; d++)
        if (e % d == 0) {
            if (d <= cap)
                all[na++] = d;
            if (e / d != d && e / d <= cap)
                all[na++] = e / d;
        }
    qsort(all, (size_t)na, sizeof *all, cmp_i64);
    *n = 0;
    if (na <= MAX_VALUES - 12) {
        for (int i = 0; i < na; i++)
            vals[(*n)++] = all[i];
    } else {
        /* keep the divisor nearest each point of a half-octave grid */
        double top = log2((double)all[na - 1]);
        for (double g = 0; g <= top + 0.01 && *n < MAX_VALUES - 12; g += 0.5) {
            int best = 0;
            for (int i = 1; i < na; i++)
                if (fabs(log2((double)all[i]) - g) < fabs(log2((double)all[best]) - g))
                    best = i;
            add_value(vals, n, MAX_VALUES, all[best]);
        }
    }
    /* powers of two that do not divide: the "few others", guarded by lowering */
    for (int64_t p = 2; p <= cap && p <= e; p *= 2)
        add_value(vals, n, MAX_VALUES, p);
}

/* The vector tile: multiples of the lanes (lanes * 2^m up to 64, no more than one tile past
 * the extent), divisors of the extent of at least half a vector that are whole half vectors
 * (28 = 16 + 8 + 4 on AVX2; not 7 or 14, whose last pieces of 2 and 1 lanes made tiles 4-7x
 * slower than their neighbours in random logs, a quarter of all samples), the whole extent (a
 * skinny 10 = 8 + 2 still beats a guarded 16), or the extent when it is shorter than half a
 * vector. */
static void vector_values(int64_t e, int lanes, int64_t *vals, int *n)
{
    *n = 0;
    int half = (lanes + 1) / 2;
    for (int64_t m = lanes; 2 * e >= lanes && m <= SP_MAX_LANES && m < e + lanes; m *= 2)
        add_value(vals, n, MAX_VALUES, m);
    for (int64_t d = half; d <= SP_MAX_LANES && d <= e; d++)
        if (e % d == 0 && (d % half == 0 || is_pow2(d) || d == e))
            add_value(vals, n, MAX_VALUES, d);
    if (e < (lanes + 1) / 2)
        add_value(vals, n, MAX_VALUES, e);
}

/* The tilings of one axis: ninner inner levels with per-level caps; vec: the last level is
 * the vector tile. weigh: the last two levels count against the register budget. */
static int make_tuples(sp_axis *ax, int ninner, const int64_t *caps, bool vec, int lanes,
                       bool weigh, int64_t budget)
{
    int64_t vals[SP_MAX_INNER][MAX_VALUES];
    int nv[SP_MAX_INNER];
    int64_t e = ax->extent;
    /* The register tile's rows (the innermost level of a weighed axis that is not the vector
     * axis) also take 6, the height of BLIS's AVX2 micro-kernel, dividing or guarded: 6 rows of
     * 2 vectors fill 12 of 16 registers with accumulators, where 4 leaves registers idle and 8
     * spills (matmul 1024^3, one thread: 6x16 0.95x the peers, 8x32 0.37x). 3 (3 rows of 4
     * vectors) too when the extent has no divisor in 3..8 (a prime M: 127, 251), which had
     * only guarded powers of two. */
    bool row_level = weigh && !vec && ninner >= 2, odd = row_level;
    for (int64_t d = 3; odd && d <= 8; d++)
        odd = e % d != 0;
    for (int l = 0; l < ninner; l++) {
        if (vec && l == ninner - 1)
            vector_values(e, lanes, vals[l], &nv[l]);
        else
            level_values(e, caps[l], vals[l], &nv[l]);
        if (row_level && l == ninner - 1 && 6 <= e && 6 <= caps[l])
            add_value(vals[l], &nv[l], MAX_VALUES, 6);
        if (odd && l == ninner - 1 && 3 <= e && 3 <= caps[l])
            add_value(vals[l], &nv[l], MAX_VALUES, 3);
    }
    int cap = 1;
    for (int l = 0; l < ninner; l++)
        cap *= nv[l];
    ax->tuples = calloc((size_t)cap, sizeof *ax->tuples);
    if (!ax->tuples)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    ax->ninner = ninner;
    ax->ntuples = 0;
    int idx[SP_MAX_INNER] = {0};
    for (int k = 0; k < cap; k++) {
        int r = k;
        for (int l = ninner - 1; l >= 0; l--) {
            idx[l] = r % nv[l];
            r /= nv[l];
        }
        sp_tuple t = {{1, 1, 1}, 1, false};
        int64_t prod = 1;
        bool nice = true, over = false;
        for (int l = 0; l < ninner; l++) {
            t.f[l] = vals[l][idx[l]];
            if (__builtin_mul_overflow(prod, t.f[l], &prod) || prod > 2 * e)
                over = true;
            bool free_level = (vec || row_level) && l == ninner - 1;
            nice &= is_pow2(t.f[l]) || free_level;
        }
        if (over)
            continue;
        t.divides = e % prod == 0;
        /* a tiling that does not divide costs a guard: only with "nice" sizes, and never so
         * large that a whole tile would be padding; past the extent only as a short vector
         * tail (ir/lower refuses larger overshoots) */
        if (!t.divides && (!nice || prod >= 2 * e || (prod > e && prod > SP_MAX_OVERSHOOT)))
            continue;
        if (weigh) {
            t.weight = t.f[ninner - 1] * (ninner >= 2 ? t.f[ninner - 2] : 1);
            if (t.weight > budget)
                continue;
        }
        ax->tuples[ax->ntuples++] = t;
    }
    sp_tuple *fit = realloc(ax->tuples, (size_t)(ax->ntuples + 1) * sizeof *fit);
    if (fit)
        ax->tuples = fit;
    if (ax->ntuples == 0)
        return tt_error_set("space: axis %s (extent %lld) has no tiling", ax->name, (long long)e);
    return 0;
}

/* ---- the compute's structure ---- */

static double stage_work(const tt_stage *st)
{
    double w = 1;
    for (int a = 0; a < st->naxes; a++)
        w *= (double)st->axes[a]->extent;
    if (st->body->kind == TT_EXPR_REDUCE)
        for (int a = 0; a < st->body->naxes; a++)
            w *= (double)st->body->axes[a]->extent;
    return w;
}

/* Whether lowering fuses the output into main when the forced stages are inlined first
 * (ir/lower.h's epilogue rule). */
static int check_epilogue(sp_var *sp, bool *fused)
{
    const tt_compute *c = sp->c;
    bool *inlined = calloc((size_t)c->nstages, sizeof *inlined);
    if (!inlined)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int f = 0; f < sp->nforced; f++)
        inlined[sp->forced[f]] = true;
    int producer;
    int rc = tt_lower_epilogue(c, inlined, &producer);
    free(inlined);
    *fused = rc == 0 && producer == sp->main && sp->main != c->nstages - 1;
    return rc;
}

/* Inputs main reads with one dimension indexed by the vector axis alone and another walked by
 * a reduce axis: matmul's B[k, j], dense's W[j, k]. Packing them into panels of the vector
 * tile makes the reduction walk contiguous memory. */
static void find_packs(sp_var *sp, const tt_expr *e, const tt_expr *vvar, const tt_stage *M)
{
    if (e->kind == TT_EXPR_ACCESS && !e->tensor->producer && e->nargs >= 2) {
        int dim = -1;
        bool walked = false;
        for (int d = 0; d < e->nargs; d++) {
            if (e->args[d] == vvar && dim < 0) {
                dim = d;
                continue;
            }
            for (int r = 0; r < M->body->naxes; r++)
                walked |= tt_expr_uses_var(e->args[d], M->body->axes[r]->var);
        }
        bool seen = false;
        for (int p = 0; p < sp->npack; p++)
            seen |= strcmp(sp->pack[p].tensor, e->tensor->name) == 0;
        if (dim >= 0 && walked && !seen && sp->npack < 8)
            sp->pack[sp->npack++] = (sp_pack){e->tensor->name, dim, dim != e->nargs - 1};
    }
    for (int i = 0; i < e->nargs; i++)
        find_packs(sp, e->args[i], vvar, M);
}

/* Marks (in bad[]) the spatial axes of main that index an access which also uses the vector
 * axis: a register tile along them would load a new vector for every row. */
static void vector_companions(const sp_var *sp, const tt_expr *e, const tt_expr *vvar,
                              const tt_stage *M, bool *bad)
{
    if (e->kind == TT_EXPR_ACCESS && tt_expr_uses_var(e, vvar))
        for (int a = 0; a < sp->nspatial; a++)
            for (int m = 0; m < M->naxes; m++)
                if (strcmp(M->axes[m]->var->name, sp->spatial[a].name) == 0 &&
                    tt_expr_uses_var(e, M->axes[m]->var))
                    bad[a] = true;
    for (int i = 0; i < e->nargs; i++)
        vector_companions(sp, e->args[i], vvar, M, bad);
}

/* How the reads in e use variable x: *bare counts reads of an input indexing one dim by x alone
 * with another dim walked by a reduce axis of M (a panel the pack step makes contiguous); *other
 * is set by any read using x otherwise (a window q + s, a stride 2q, x in two dims). */
static void var_reads(const tt_expr *e, const tt_expr *x, const tt_stage *M, int *bare, bool *other)
{
    if (e->kind == TT_EXPR_ACCESS && tt_expr_uses_var(e, x)) {
        int alone = 0, mixed = 0;
        bool walked = false;
        for (int d = 0; d < e->nargs; d++) {
            if (e->args[d] == x)
                alone++;
            else if (tt_expr_uses_var(e->args[d], x))
                mixed++;
            for (int r = 0; r < M->body->naxes; r++)
                walked |= tt_expr_uses_var(e->args[d], M->body->axes[r]->var);
        }
        if (alone == 1 && mixed == 0 && walked && !e->tensor->producer)
            (*bare)++;
        else
            *other = true;
    }
    for (int i = 0; i < e->nargs; i++)
        var_reads(e->args[i], x, M, bare, other);
}

static const tt_expr *axis_var(const tt_stage *M, const char *name)
{
    for (int a = 0; a < M->naxes; a++)
        if (strcmp(M->axes[a]->var->name, name) == 0)
            return M->axes[a]->var;
    return NULL;
}

const char *var_alt_axis(const sp_var *v0)
{
    if (v0->vec < 0 || !v0->reduction)
        return NULL;
    const tt_stage *M = v0->c->stages[v0->main];
    const sp_axis *vax = &v0->spatial[v0->vec];
    int bare = 0;
    bool other = false;
    var_reads(M->body, axis_var(M, vax->name), M, &bare, &other);
    /* the stride-1 axis makes full vectors read contiguously: nothing to add */
    if (!other && vax->extent % v0->lanes == 0 && vax->extent >= 2 * v0->lanes)
        return NULL;
    /* the innermost other axis with long vectors whose reads are broadcasts or panels */
    for (int a = v0->nspatial - 1; a >= 0; a--) {
        const sp_axis *ax = &v0->spatial[a];
        if (a == v0->vec || ax->extent < 2 * v0->lanes)
            continue;
        bare = 0;
        other = false;
        var_reads(M->body, axis_var(M, ax->name), M, &bare, &other);
        if (bare > 0 && !other)
            return ax->name;
    }
    return NULL;
}

/* ---- decisions and counting ---- */

static int add_decision(sp_var *sp, sp_dkind kind, int n, int ref)
{
    sp_decision *d = realloc(sp->dec, (size_t)(sp->ndec + 1) * sizeof *d);
    if (!d)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    sp->dec = d;
    sp->dec[sp->ndec++] = (sp_decision){kind, n, ref};
    return 0;
}

static sp_count sat_add(sp_count a, sp_count b)
{
    const sp_count top = (sp_count)1 << 120;
    return a + b > top ? top : a + b;
}

static sp_count sat_mul(sp_count a, sp_count b)
{
    const sp_count top = (sp_count)1 << 120;
    if (a == 0 || b == 0)
        return 0;
    return a > top / b ? top : a * b;
}

/* cnt[a][p]: tilings of spatial axes a.. that fit the budget after footprint p. */
static int count_tiles(sp_var *sp)
{
    int64_t B = sp->budget;
    size_t cells = (size_t)(sp->nspatial + 1) * (size_t)(B + 1);
    sp->cnt = calloc(cells, sizeof *sp->cnt);
    sp->wcnt = calloc(cells, sizeof *sp->wcnt);
    if (!sp->cnt || !sp->wcnt)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t p = 1; p <= B; p++) {
        sp->cnt[(size_t)sp->nspatial * (size_t)(B + 1) + (size_t)p] = 1;
        sp->wcnt[(size_t)sp->nspatial * (size_t)(B + 1) + (size_t)p] = 1;
    }
    for (int a = sp->nspatial - 1; a >= 0; a--) {
        const sp_axis *ax = &sp->spatial[a];
        for (int64_t p = 1; p <= B; p++) {
            sp_count n = 0;
            double w = 0;
            for (int t = 0; t < ax->ntuples; t++) {
                int64_t q = p * ax->tuples[t].weight;
                if (q > B)
                    continue;
                size_t next = (size_t)(a + 1) * (size_t)(B + 1) + (size_t)q;
                n = sat_add(n, sp->cnt[next]);
                w += (ax->tuples[t].divides ? 4.0 : 1.0) * sp->wcnt[next];
            }
            sp->cnt[(size_t)a * (size_t)(B + 1) + (size_t)p] = n;
            sp->wcnt[(size_t)a * (size_t)(B + 1) + (size_t)p] = w;
        }
    }
    sp->nother = 1;
    for (int d = sp->nspatial; d < sp->ndec; d++)
        sp->nother = sat_mul(sp->nother, (sp_count)sp->dec[d].n);
    sp->total = sat_mul(sp->cnt[1], sp->nother);
    if (sp->total == 0)
        return tt_error_set("space: no tiling of %s fits the register budget", sp->main_name);
    return 0;
}

int64_t var_footprint(const sp_var *sp, const int *v)
{
    int64_t p = 1;
    for (int a = 0; a < sp->nspatial; a++) {
        p *= sp->spatial[a].tuples[v[a]].weight;
        if (p > sp->budget)
            return p;
    }
    return p;
}

void var_unrank(const sp_var *sp, sp_count index, int *v)
{
    sp_count other = index % sp->nother, tiles = index / sp->nother;
    for (int d = sp->nspatial; d < sp->ndec; d++) {
        v[d] = (int)(other % (sp_count)sp->dec[d].n);
        other /= (sp_count)sp->dec[d].n;
    }
    int64_t p = 1, B = sp->budget;
    for (int a = 0; a < sp->nspatial; a++) {
        const sp_axis *ax = &sp->spatial[a];
        v[a] = 0;
        for (int t = 0; t < ax->ntuples; t++) {
            int64_t q = p * ax->tuples[t].weight;
            if (q > B)
                continue;
            sp_count n = sp->cnt[(size_t)(a + 1) * (size_t)(B + 1) + (size_t)q];
            if (tiles < n) {
                v[a] = t;
                p = q;
                break;
            }
            tiles -= n;
        }
    }
}

/* ---- construction ---- */

static int build_axes(sp_var *sp, const char *vec_axis)
{
    const tt_stage *M = sp->c->stages[sp->main];
    int nred = M->body->kind == TT_EXPR_REDUCE ? M->body->naxes : 0;
    sp->spatial = calloc((size_t)M->naxes + 1, sizeof *sp->spatial);
    sp->triv_s = calloc((size_t)M->naxes + 1, sizeof *sp->triv_s);
    sp->reduce = calloc((size_t)nred + 1, sizeof *sp->reduce);
    sp->triv_r = calloc((size_t)nred + 1, sizeof *sp->triv_r);
    if (!sp->spatial || !sp->triv_s || !sp->reduce || !sp->triv_r)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int a = 0; a < M->naxes + nred; a++) {
        const tt_iter_var *iv = a < M->naxes ? M->axes[a] : M->body->axes[a - M->naxes];
        if (strlen(iv->var->name) > 200) /* loop names are built in fixed buffers */
            return tt_error_set("axis name %.32s... is longer than 200 characters", iv->var->name);
    }
    for (int a = 0; a < M->naxes; a++) {
        const tt_iter_var *iv = M->axes[a];
        if (iv->extent > 1)
            sp->spatial[sp->nspatial++] = (sp_axis){.name = iv->var->name, .extent = iv->extent};
        else
            sp->triv_s[sp->ntriv_s++] = iv->var->name;
    }
    for (int a = 0; a < nred; a++) {
        const tt_iter_var *iv = M->body->axes[a];
        if (iv->extent > 1)
            sp->reduce[sp->nreduce++] =
                (sp_axis){.name = iv->var->name, .extent = iv->extent, .reduce = true};
        else
            sp->triv_r[sp->ntriv_r++] = iv->var->name;
    }
    sp->vec = sp->lanes >= 2 && sp->nspatial > 0 ? sp->nspatial - 1 : -1;
    for (int a = 0; vec_axis && sp->vec >= 0 && a < sp->nspatial; a++)
        if (strcmp(sp->spatial[a].name, vec_axis) == 0)
            sp->vec = a;
    for (int a = 0; a < sp->nspatial; a++) {
        sp_axis *ax = &sp->spatial[a];
        int rc;
        if (sp->reduction) {
            const int64_t caps[3] = {ax->extent, sp->budget, SP_MAX_UNROLL};
            rc = make_tuples(ax, 3, caps, a == sp->vec, sp->lanes, true, sp->budget);
        } else {
            const int64_t caps[1] = {SP_MAX_UNROLL};
            rc = make_tuples(ax, 1, caps, a == sp->vec, sp->lanes, false, sp->budget);
        }
        if (rc != 0)
            return -1;
    }
    for (int a = 0; a < sp->nreduce; a++) {
        const int64_t caps[1] = {SP_MAX_UNROLL};
        if (make_tuples(&sp->reduce[a], 1, caps, false, sp->lanes, false, sp->budget) != 0)
            return -1;
    }
    return 0;
}

/* What a root stage besides main may do: parallel outer loops (with threads), a vectorised
 * innermost axis (elementwise, so that the innermost loop is spatial). */
static unsigned root_caps(const sp_var *sp, const tt_stage *st)
{
    unsigned caps = 0;
    if (sp->opts.num_threads > 1 && st->naxes > 0)
        caps |= SP_ROOT_PAR;
    if (sp->lanes >= 2 && st->naxes > 0 && st->body->kind != TT_EXPR_REDUCE &&
        st->axes[st->naxes - 1]->extent >= 2)
        caps |= SP_ROOT_VEC;
    return caps;
}

int sp_root_count(unsigned caps)
{
    int n = 0;
    for (unsigned m = 0; m < 4; m++)
        n += (m & ~caps) == 0;
    return n;
}

unsigned sp_root_mask(unsigned caps, int k)
{
    for (unsigned m = 0; m < 4; m++)
        if ((m & ~caps) == 0 && k-- == 0)
            return m;
    return 0;
}

int sp_root_index(unsigned caps, unsigned mask)
{
    if (mask & ~caps)
        return -1;
    int k = 0;
    for (unsigned m = 0; m < mask; m++)
        k += (m & ~caps) == 0;
    return k;
}

static int classify_stages(sp_var *sp)
{
    const tt_compute *c = sp->c;
    int n = c->nstages, out = n - 1;
    sp->forced = calloc((size_t)n, sizeof *sp->forced);
    sp->pre = calloc((size_t)n, sizeof *sp->pre);
    sp->aux = calloc((size_t)n, sizeof *sp->aux);
    sp->pre_caps = calloc((size_t)n, sizeof *sp->pre_caps);
    sp->aux_caps = calloc((size_t)n, sizeof *sp->aux_caps);
    if (!sp->forced || !sp->pre || !sp->aux || !sp->pre_caps || !sp->aux_caps)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) {
        bool red = c->stages[i]->body->kind == TT_EXPR_REDUCE;
        if (i == sp->main)
            continue;
        if (red)
            sp->aux[sp->naux++] = i;
        else if (i < sp->main)
            sp->pre[sp->npre++] = i;
        else if (i < out)
            sp->forced[sp->nforced++] = i;
    }
    if (out != sp->main && c->stages[out]->body->kind != TT_EXPR_REDUCE) {
        if (check_epilogue(sp, &sp->epilogue) != 0)
            return -1;
        if (!sp->epilogue)
            sp->aux[sp->naux++] = out;
    }
    for (int p = 0; p < sp->npre; p++)
        sp->pre_caps[p] = root_caps(sp, c->stages[sp->pre[p]]);
    for (int p = 0; p < sp->naux; p++)
        sp->aux_caps[p] = root_caps(sp, c->stages[sp->aux[p]]);
    return 0;
}

static int build_decisions(sp_var *sp)
{
    bool threads = sp->opts.num_threads > 1;
    int rc = 0;
    for (int a = 0; rc == 0 && a < sp->nspatial; a++)
        rc = add_decision(sp, D_SPATIAL, sp->spatial[a].ntuples, a);
    sp->d_reduce = sp->ndec;
    for (int a = 0; rc == 0 && a < sp->nreduce; a++)
        rc = add_decision(sp, D_REDUCE, sp->reduce[a].ntuples, a);
    sp->d_par = sp->ndec;
    if (rc == 0)
        rc = add_decision(sp, D_PAR, threads ? sp->nspatial + 1 : 1, 0);
    sp->d_vec = sp->ndec;
    if (rc == 0)
        rc = add_decision(sp, D_VEC, sp->vec >= 0 ? 2 : 1, 0);
    sp->d_unroll_s = sp->ndec;
    if (rc == 0)
        rc = add_decision(sp, D_UNROLL_S, sp->nspatial - (sp->vec >= 0) > 0 ? 2 : 1, 0);
    sp->d_unroll_r = sp->ndec;
    if (rc == 0)
        rc = add_decision(sp, D_UNROLL_R, sp->nreduce > 0 ? 2 : 1, 0);
    sp->d_cache = sp->ndec;
    if (rc == 0)
        rc = add_decision(sp, D_CACHE,
                          !sp->reduction                        ? 1
                          : sp->nreduce > 0 && sp->nspatial > 0 ? D_CACHE_KBLOCK + 1
                                                                : 2,
                          0);
    sp->d_pack = sp->ndec;
    for (int p = 0; rc == 0 && p < sp->npack; p++)
        rc = add_decision(sp, D_PACK, 2, p);
    sp->d_pre = sp->ndec;
    for (int p = 0; rc == 0 && p < sp->npre; p++)
        rc = add_decision(sp, D_PRE, 1 + sp_root_count(sp->pre_caps[p]), p);
    sp->d_aux = sp->ndec;
    for (int p = 0; rc == 0 && p < sp->naux; p++)
        rc = add_decision(sp, D_AUX, sp_root_count(sp->aux_caps[p]), p);
    return rc;
}

int var_new(const tt_compute *c, const tt_space_opts *opts, const char *vec_axis, sp_var **out)
{
    *out = NULL;
    if (!c || c->nstages <= 0)
        return tt_error_set("space: needs a compute with at least one stage");
    sp_var *sp = calloc(1, sizeof *sp);
    if (!sp)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    sp->c = (tt_compute *)c;
    tt_object_retain((tt_object *)c);
    sp->opts = opts ? *opts : (tt_space_opts){0, 0, 0};
    if (sp->opts.vector_bits <= 0)
        sp->opts.vector_bits = 128;
    if (sp->opts.num_threads <= 0)
        sp->opts.num_threads = 1;
    /* main: the reduction with the most work (ties: the later), else the output */
    sp->main = c->nstages - 1;
    double best = -1;
    for (int i = 0; i < c->nstages; i++)
        if (c->stages[i]->body->kind == TT_EXPR_REDUCE && stage_work(c->stages[i]) >= best) {
            best = stage_work(c->stages[i]);
            sp->main = i;
        }
    const tt_stage *M = c->stages[sp->main];
    sp->main_name = M->output->name;
    sp->reduction = M->body->kind == TT_EXPR_REDUCE;
    int bits = M->output->dtype.bits > 0 ? M->output->dtype.bits : 32;
    sp->lanes = sp->opts.vector_bits / bits;
    if (sp->lanes > SP_MAX_LANES)
        sp->lanes = SP_MAX_LANES;
    /* accumulators of the register tile: 16 vectors, or all registers but four (a tile of
     * 13-16 accumulators spills on AVX2's 16: the inputs of each step need registers too) */
    if (sp->opts.vector_regs <= 0)
        sp->opts.vector_regs = 16;
    int64_t vecs = sp->opts.vector_regs - 4 < 16 ? sp->opts.vector_regs - 4 : 16;
    vecs = vecs > 2 ? vecs : 2;
    sp->budget = sp->reduction ? (vecs * sp->lanes > 64 ? vecs * sp->lanes : 64) : 1;
    sp->row = -1;
    sp->pack = calloc(8, sizeof *sp->pack);
    int rc = sp->pack ? 0 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (rc == 0)
        rc = build_axes(sp, vec_axis);
    if (rc == 0 && sp->vec >= 0 && sp->reduction) {
        const tt_expr *vvar = axis_var(M, sp->spatial[sp->vec].name);
        find_packs(sp, M->body, vvar, M);
        /* the default's row tile: the innermost axis no vector read depends on (matmul's i,
         * NCHW conv's k), else the next axis in from the vector axis */
        bool bad[64] = {false};
        if (sp->nspatial <= 64)
            vector_companions(sp, M->body, vvar, M, bad);
        sp->row = sp->vec > 0 ? sp->vec - 1 : sp->nspatial - 1;
        for (int a = sp->nspatial - 1; a >= 0; a--)
            if (a != sp->vec && !bad[a]) {
                sp->row = a;
                break;
            }
    }
    if (rc == 0)
        rc = classify_stages(sp);
    if (rc == 0)
        rc = build_decisions(sp);
    if (rc == 0)
        rc = count_tiles(sp);
    if (rc != 0) {
        var_free(sp);
        return tt_error_wrap("space of %s", c->name ? c->name : "compute");
    }
    *out = sp;
    return 0;
}

void var_free(sp_var *sp)
{
    if (!sp)
        return;
    for (int a = 0; sp->spatial && a < sp->nspatial; a++)
        free(sp->spatial[a].tuples);
    for (int a = 0; sp->reduce && a < sp->nreduce; a++)
        free(sp->reduce[a].tuples);
    free(sp->spatial);
    free(sp->reduce);
    free(sp->triv_s);
    free(sp->triv_r);
    free(sp->forced);
    free(sp->pre);
    free(sp->aux);
    free(sp->pre_caps);
    free(sp->aux_caps);
    free(sp->pack);
    free(sp->dec);
    free(sp->cnt);
    free(sp->wcnt);
    tt_compute_release(sp->c);
    free(sp);
}

/* ---- the default schedule ---- */

/* The tuple of ax closest to the wanted sizes (log distance; a guard costs a little), within
 * the footprint left. */
static int closest(const sp_axis *ax, const int64_t *want, int64_t room)
{
    int best = -1;
    double bd = 0;
    for (int t = 0; t < ax->ntuples; t++) {
        const sp_tuple *tp = &ax->tuples[t];
        if (tp->weight > room)
            continue;
        double d = tp->divides ? 0 : 1.5;
        for (int l = 0; l < ax->ninner; l++)
            d += fabs(log2((double)tp->f[l]) - log2((double)want[l]));
        if (best < 0 || d < bd) {
            best = t;
            bd = d;
        }
    }
    return best < 0 ? 0 : best;
}

/* Whether a read in e slides a window: one index uses both an output axis and a reduce axis of
 * M (a conv's q + s). */
static bool has_window(const tt_expr *e, const tt_stage *M)
{
    if (e->kind == TT_EXPR_ACCESS)
        for (int d = 0; d < e->nargs; d++) {
            bool out = false, red = false;
            for (int a = 0; a < M->naxes; a++)
                out |= tt_expr_uses_var(e->args[d], M->axes[a]->var);
            for (int r = 0; r < M->body->naxes; r++)
                red |= tt_expr_uses_var(e->args[d], M->body->axes[r]->var);
            if (out && red)
                return true;
        }
    for (int i = 0; i < e->nargs; i++)
        if (has_window(e->args[i], M))
            return true;
    return false;
}

void var_default(const sp_var *sp, int *v)
{
    int64_t room = sp->budget;
    /* The vector axis first: two vectors in S3; then rows on the row axis, as many as the
     * register budget leaves, up to BLIS's 6 (6 x 2 vectors on AVX2's 16 registers). A window
     * (conv) takes 4: LLVM keeps the inputs the unrolled taps share live, and 12 accumulators
     * spill (3x3 NCHW conv 128@28 by hand: k24 x q4 0.41-0.50x oneDNN, k16 x q4 0.84-0.89x). */
    const tt_stage *M = sp->c->stages[sp->main];
    bool window = sp->reduction && has_window(M->body, M);
    int64_t rows = sp->budget / (2 * sp->lanes);
    rows = rows > 6 ? 6 : rows < 2 ? 2 : rows;
    rows = window && rows > 4 ? 4 : rows;
    for (int i = -1; i < sp->nspatial; i++) {
        /* the vector axis, then the others from the innermost out */
        int k = i < 0 ? sp->vec : sp->nspatial - 1 - i;
        if (k < 0 || (i >= 0 && k == sp->vec))
            continue;
        const sp_axis *ax = &sp->spatial[k];
        int64_t want[3] = {1, 1, 1};
        if (sp->reduction) {
            if (k == sp->vec)
                want[2] = 2 * sp->lanes;
            else if (k == sp->row || (sp->vec < 0 && k == sp->nspatial - 1))
                want[0] = 4, want[2] = rows;
        } else if (k == sp->vec) {
            want[0] = sp->lanes;
        }
        v[k] = closest(ax, want, room);
        room /= ax->tuples[v[k]].weight;
    }
    for (int a = 0; a < sp->nreduce; a++) {
        const int64_t want[1] = {4};
        v[sp->d_reduce + a] = closest(&sp->reduce[a], want, INT64_MAX);
    }
    /* parallel: the fewest outer tiles that give every thread a few */
    if (sp->dec[sp->d_par].n > 1) {
        int64_t work = 1;
        int k = 0;
        while (k < sp->nspatial && work < 4 * sp->opts.num_threads) {
            const sp_axis *ax = &sp->spatial[k];
            const sp_tuple *t = &ax->tuples[v[k]];
            int64_t prod = t->f[0] * (ax->ninner > 1 ? t->f[1] * t->f[2] : 1);
            work *= (ax->extent + prod - 1) / prod;
            k++;
        }
        v[sp->d_par] = k;
    }
    v[sp->d_vec] = sp->dec[sp->d_vec].n - 1;
    v[sp->d_unroll_s] = sp->reduction ? sp->dec[sp->d_unroll_s].n - 1 : 0;
    v[sp->d_unroll_r] = sp->dec[sp->d_unroll_r].n - 1;
    v[sp->d_cache] = sp->reduction ? 1 : 0; /* a tile over the whole reduction */
    for (int p = 0; p < sp->npack; p++)
        v[sp->d_pack + p] = sp->pack[p].strided;
    for (int p = 0; p < sp->npre; p++)
        v[sp->d_pre + p] = 0;
    for (int p = 0; p < sp->naux; p++)
        v[sp->d_aux + p] = sp->dec[sp->d_aux + p].n - 1;
}
