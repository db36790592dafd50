/* Strategies over a space: the common object (no repeats: a set of schedule hashes, resumed runs
 * mark what their logs hold), random search and grid search. The genetic search is in
 * search/ga.c. Data flow: the tuner asks for batches, measures them, feeds costs back. */
#include "search/strategy_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DUPLICATES 1000 /* random draws in a row that were all seen: look systematically */
#define MAX_SCAN 200000     /* spaces up to this size are scanned for what random misses */

/* ---- the hash set ---- */

static size_t slot(const st_hashset *hs, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 29)) & (hs->cap - 1);
    while (hs->keys[i] && hs->keys[i] != h)
        i = (i + 1) & (hs->cap - 1);
    return i;
}

bool st_has(const tt_strategy *st, uint64_t h)
{
    const st_hashset *hs = &st->seen;
    if (h == 0)
        return hs->has_zero;
    return hs->cap > 0 && hs->keys[slot(hs, h)] == h;
}

int st_mark(tt_strategy *st, uint64_t h)
{
    st_hashset *hs = &st->seen;
    if (h == 0) {
        bool had = hs->has_zero;
        hs->has_zero = true;
        return had ? 0 : 1;
    }
    if (2 * (hs->n + 1) > hs->cap) {
        size_t cap = hs->cap ? 2 * hs->cap : 1024;
        uint64_t *keys = calloc(cap, sizeof *keys);
        if (!keys)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        st_hashset grown = {keys, cap, 0, hs->has_zero};
        for (size_t i = 0; i < hs->cap; i++)
            if (hs->keys[i]) {
                grown.keys[slot(&grown, hs->keys[i])] = hs->keys[i];
                grown.n++;
            }
        free(hs->keys);
        *hs = grown;
    }
    size_t i = slot(hs, h);
    if (hs->keys[i] == h)
        return 0;
    hs->keys[i] = h;
    hs->n++;
    return 1;
}

/* ---- proposals ---- */

int st_propose_dec(tt_strategy *st, const int *v, tt_schedule **out)
{
    *out = NULL;
    tt_schedule *s = NULL;
    if (sp_emit(st->sp, v, &s) != 0)
        return -1;
    int added = st_mark(st, tt_schedule_hash(s));
    if (added <= 0) {
        tt_schedule_free(s);
        return added;
    }
    st->in_space++;
    *out = s;
    return 1;
}

int st_propose_random(tt_strategy *st, tt_schedule **out)
{
    *out = NULL;
    tt_space *sp = st->sp;
    int64_t size = tt_space_size(sp);
    if (st->in_space >= size)
        return 0;
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = 0;
    for (int tries = 0; rc == 0 && tries < MAX_DUPLICATES; tries++) {
        sp_sample_dec(sp, &st->rng, v);
        rc = st_propose_dec(st, v, out);
    }
    /* Sampling is weighted, so the last points of a small space are slow to draw: look
     * through the space from a random place instead. */
    if (rc == 0 && size <= MAX_SCAN) {
        int64_t start = sp_below(&st->rng, size);
        for (int64_t k = 0; rc == 0 && k < size; k++) {
            sp_unrank(sp, (sp_count)((start + k) % size), v);
            rc = st_propose_dec(st, v, out);
        }
    }
    free(v);
    return rc;
}

/* The genetic and model-guided searches start from the default schedule of each variant of the
 * space (one per vector axis: a register tile of two vectors by up to six rows, strided inputs
 * packed): a sane point of each kind before the random ones, which on an NCHW conv rarely
 * draw a tile as good. 0 once every default was proposed (or seen). */
static int propose_seed(tt_strategy *st, tt_schedule **out)
{
    *out = NULL;
    int rc = 0;
    int *v = calloc((size_t)st->sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    while (rc == 0 && st->seeds < st->sp->nvar) {
        sp_default_dec(st->sp, st->seeds++, v);
        rc = st_propose_dec(st, v, out);
    }
    free(v);
    return rc;
}

static int grid_propose(tt_strategy *st, tt_schedule **out)
{
    *out = NULL;
    int64_t size = tt_space_size(st->sp);
    int *v = calloc((size_t)st->sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = 0;
    while (rc == 0 && st->grid_next < size) {
        sp_unrank(st->sp, (sp_count)st->grid_next++, v);
        rc = st_propose_dec(st, v, out);
    }
    free(v);
    return rc;
}

/* ---- the object ---- */

int tt_strategy_new(const char *kind, tt_space *sp, uint64_t seed, tt_strategy **out)
{
    *out = NULL;
    st_kind k;
    if (kind && strcmp(kind, "random") == 0)
        k = ST_RANDOM;
    else if (kind && strcmp(kind, "grid") == 0)
        k = ST_GRID;
    else if (kind && strcmp(kind, "ga") == 0)
        k = ST_GA;
    else if (kind && strcmp(kind, "xgb") == 0)
        k = ST_XGB;
    else
        return tt_error_set("strategy \"%s\": expected random, grid or ga, or xgb",
                            kind ? kind : "(null)");
    if (!sp)
        return tt_error_set("strategy %s: needs a space", kind);
    tt_strategy *st = calloc(1, sizeof *st);
    if (!st)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    st->kind = k;
    st->sp = sp;
    /* spread the seed so that nearby seeds start far apart */
    st->rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    sp_rand(&st->rng);
    if ((k == ST_GA && ga_init(st) != 0) || (k == ST_XGB && xgb_init(st) != 0)) {
        tt_strategy_free(st);
        return -1;
    }
    *out = st;
    return 0;
}

void tt_strategy_free(tt_strategy *st)
{
    if (!st)
        return;
    ga_free(st);
    xgb_free(st);
    free(st->seen.keys);
    free(st);
}

int tt_strategy_next(tt_strategy *st, int n, tt_schedule ***out, int *count)
{
    *out = NULL;
    *count = 0;
    if (n < 0)
        return tt_error_set("strategy: asked for %d schedules, expected n >= 0", n);
    tt_schedule **r = calloc((size_t)n + 1, sizeof *r);
    if (!r)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int k = 0, rc = 1;
    while (k < n && rc == 1) {
        switch (st->kind) {
        case ST_RANDOM:
            rc = st_propose_random(st, &r[k]);
            break;
        case ST_GRID:
            rc = grid_propose(st, &r[k]);
            break;
        case ST_GA:
            rc = propose_seed(st, &r[k]);
            if (rc == 0)
                rc = ga_propose(st, &r[k]);
            break;
        case ST_XGB:
            rc = propose_seed(st, &r[k]);
            if (rc == 0)
                rc = xgb_propose(st, &r[k]);
            break;
        }
        if (rc == 1)
            k++;
    }
    if (rc < 0) {
        for (int i = 0; i < k; i++)
            tt_schedule_free(r[i]);
        free(r);
        return -1;
    }
    *out = r;
    *count = k;
    return 0;
}

/* Marks s seen; counts it as a point of the space when it decodes to one. */
static int mark_schedule(tt_strategy *st, const tt_schedule *s)
{
    int added = st_mark(st, tt_schedule_hash(s));
    if (added <= 0)
        return added;
    int *v = calloc((size_t)st->sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (sp_decode(st->sp, s, v) == 0)
        st->in_space++;
    free(v);
    return 0;
}

int tt_strategy_update(tt_strategy *st, tt_schedule *const *s, const double *costs, int n)
{
    if (n > 0 && (!s || !costs))
        return tt_error_set("strategy update: %d schedules but no %s", n,
                            !s ? "schedules" : "costs");
    for (int i = 0; i < n; i++) {
        if (!s[i])
            return tt_error_set("strategy update: schedule %d is NULL", i);
        if (mark_schedule(st, s[i]) < 0)
            return -1;
        if (st->kind == ST_GA && ga_feed(st, s[i], costs[i]) != 0)
            return -1;
        if (st->kind == ST_XGB && xgb_feed(st, s[i], costs[i]) != 0)
            return -1;
    }
    return 0;
}

int tt_strategy_seen(tt_strategy *st, const tt_schedule *s, double cost)
{
    tt_schedule *const one[1] = {(tt_schedule *)s};
    return tt_strategy_update(st, one, &cost, 1);
}
