/* Walking the space: random points (weighted toward dividing tiles and enough parallel work),
 * mutation of one decision, crossover of two parents, and the schedule hash that keeps any
 * candidate from being measured twice. Every result is a point of the space by construction
 * (decisions stay in their domains, tile footprints within the register budget), so it lowers. */
#include "search/space_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t sp_rand(uint64_t *rng)
{
    if (*rng == 0)
        *rng = 0x9e3779b97f4a7c15ull;
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t sp_below(uint64_t *rng, int64_t n)
{
    return n <= 1 ? 0 : (int64_t)(sp_rand(rng) % (uint64_t)n);
}

double sp_uniform(uint64_t *rng)
{
    return (double)(sp_rand(rng) >> 11) / 9007199254740992.0;
}

static int bernoulli(uint64_t *rng, double p)
{
    return sp_uniform(rng) < p ? 1 : 0;
}

/* Outer (S0) extent of spatial axis a under tuple t. */
static int64_t outer_extent(const sp_axis *ax, int t)
{
    int64_t prod = 1;
    for (int l = 0; l < ax->ninner; l++)
        prod *= ax->tuples[t].f[l];
    return (ax->extent + prod - 1) / prod;
}

void var_sample_dec(const sp_var *sp, uint64_t *rng, int *v)
{
    /* tiles: exact weighted sampling over the tilings that fit the budget */
    int64_t p = 1, B = sp->budget;
    for (int a = 0; a < sp->nspatial; a++) {
        const sp_axis *ax = &sp->spatial[a];
        double r = sp_uniform(rng) * sp->wcnt[(size_t)a * (size_t)(B + 1) + (size_t)p];
        int pick = -1;
        for (int t = 0; t < ax->ntuples; t++) {
            int64_t q = p * ax->tuples[t].weight;
            if (q > B)
                continue;
            pick = t; /* the last feasible one absorbs rounding */
            r -= (ax->tuples[t].divides ? 4.0 : 1.0) *
                 sp->wcnt[(size_t)(a + 1) * (size_t)(B + 1) + (size_t)q];
            if (r < 0)
                break;
        }
        v[a] = pick;
        p *= ax->tuples[pick].weight;
    }
    for (int a = 0; a < sp->nreduce; a++) {
        const sp_axis *ax = &sp->reduce[a];
        double total = 0;
        for (int t = 0; t < ax->ntuples; t++)
            total += ax->tuples[t].divides ? 4.0 : 1.0;
        double r = sp_uniform(rng) * total;
        int pick = ax->ntuples - 1;
        for (int t = 0; t < ax->ntuples; t++)
            if ((r -= ax->tuples[t].divides ? 4.0 : 1.0) < 0) {
                pick = t;
                break;
            }
        v[sp->d_reduce + a] = pick;
    }
    /* parallel: mostly the fewest outer tiles that give each thread two */
    int npar = sp->dec[sp->d_par].n;
    if (npar > 1 && bernoulli(rng, 0.75)) {
        int64_t work = 1;
        int k = 0;
        while (k < sp->nspatial && work < 2 * sp->opts.num_threads) {
            work *= outer_extent(&sp->spatial[k], v[k]);
            k++;
        }
        v[sp->d_par] = k;
    } else {
        v[sp->d_par] = (int)sp_below(rng, npar);
    }
    v[sp->d_vec] = sp->dec[sp->d_vec].n > 1 ? bernoulli(rng, 0.85) : 0;
    v[sp->d_unroll_s] = sp->dec[sp->d_unroll_s].n > 1 ? bernoulli(rng, 0.5) : 0;
    v[sp->d_unroll_r] = sp->dec[sp->d_unroll_r].n > 1 ? bernoulli(rng, 0.5) : 0;
    v[sp->d_cache] = sp->dec[sp->d_cache].n > 1 ? bernoulli(rng, 0.75) : 0;
    /* k blocking pays when the reduction is long; a third of the tiles try it */
    if (v[sp->d_cache] && sp->dec[sp->d_cache].n > D_CACHE_KBLOCK && bernoulli(rng, 0.33))
        v[sp->d_cache] = D_CACHE_KBLOCK;
    for (int k = 0; k < sp->npack; k++)
        v[sp->d_pack + k] = bernoulli(rng, 0.4);
    /* other stages: mostly inlined (before main) or with every option they allow */
    for (int k = 0; k < sp->npre; k++) {
        int n = sp->dec[sp->d_pre + k].n;
        v[sp->d_pre + k] = bernoulli(rng, 0.5)   ? 0
                           : bernoulli(rng, 0.6) ? n - 1
                                                 : 1 + (int)sp_below(rng, n - 1);
    }
    for (int k = 0; k < sp->naux; k++) {
        int n = sp->dec[sp->d_aux + k].n;
        v[sp->d_aux + k] = bernoulli(rng, 0.7) ? n - 1 : (int)sp_below(rng, n);
    }
}

/* Changes decision d of v to another value that keeps v in the space; false if none. */
static bool change(const sp_var *sp, uint64_t *rng, int d, int *v)
{
    const sp_decision *dc = &sp->dec[d];
    if (dc->n <= 1)
        return false;
    if (dc->kind != D_SPATIAL) {
        int nv = (int)sp_below(rng, dc->n - 1);
        v[d] = nv >= v[d] ? nv + 1 : nv;
        return true;
    }
    const sp_axis *ax = &sp->spatial[dc->ref];
    int64_t rest = 1;
    for (int a = 0; a < sp->nspatial; a++)
        if (a != dc->ref)
            rest *= sp->spatial[a].tuples[v[a]].weight;
    int nfit = 0;
    for (int t = 0; t < ax->ntuples; t++)
        nfit += t != v[d] && rest * ax->tuples[t].weight <= sp->budget;
    if (nfit == 0)
        return false;
    /* mostly a small step (the closest of a few random tilings, in log2 of the sizes), so
     * that a good tiling's neighbourhood gets explored; sometimes a jump */
    int draws = sp_uniform(rng) < 0.7 ? 3 : 1, best = -1;
    double bd = 0;
    for (int k = 0; k < draws; k++) {
        int pick = (int)sp_below(rng, nfit), t = 0;
        for (; t < ax->ntuples; t++)
            if (t != v[d] && rest * ax->tuples[t].weight <= sp->budget && pick-- == 0)
                break;
        double dist = 0;
        for (int l = 0; l < ax->ninner; l++)
            dist += fabs(log2((double)ax->tuples[t].f[l]) - log2((double)ax->tuples[v[d]].f[l]));
        if (best < 0 || dist < bd) {
            best = t;
            bd = dist;
        }
    }
    v[d] = best;
    return true;
}

bool var_mutate_dec(const sp_var *sp, uint64_t *rng, int *v)
{
    int cand[512], n = 0;
    for (int d = 0; d < sp->ndec && n < 512; d++)
        if (sp->dec[d].n > 1)
            cand[n++] = d;
    /* tile sizes are most of what matters: give each tile decision twice the chance */
    while (n > 0) {
        int total = 0;
        for (int i = 0; i < n; i++)
            total += sp->dec[cand[i]].kind <= D_REDUCE ? 2 : 1;
        int r = (int)sp_below(rng, total), i = 0;
        for (; i < n; i++)
            if ((r -= sp->dec[cand[i]].kind <= D_REDUCE ? 2 : 1) < 0)
                break;
        if (change(sp, rng, cand[i], v))
            return true;
        cand[i] = cand[--n];
    }
    return false;
}

void var_cross_dec(const sp_var *sp, uint64_t *rng, const int *a, const int *b, int *child)
{
    for (int d = 0; d < sp->ndec; d++)
        child[d] = bernoulli(rng, 0.5) ? a[d] : b[d];
    /* mixed tiles may overflow the register budget: then all tiles come from one parent */
    if (var_footprint(sp, child) > sp->budget) {
        const int *from = bernoulli(rng, 0.5) ? a : b;
        for (int d = 0; d < sp->nspatial; d++)
            child[d] = from[d];
    }
}

uint64_t tt_schedule_hash(const tt_schedule *s)
{
    char *js = tt_schedule_to_json(s);
    if (!js)
        return 0;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, 64 bit */
    for (const unsigned char *p = (const unsigned char *)js; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    free(js);
    return h;
}
