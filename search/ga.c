/* The genetic strategy: the first generation is random; after it each child comes from two
 * parents picked by tournament among the best measured schedules (elitism: the population is
 * the best so far, whatever generation they came from), crossed and mutated until it is new.
 * Seeded: the same seed and the same costs give the same proposals. Schedules from a resumed
 * log join the population through tt_strategy_seen. */
#include "search/strategy_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POPULATION 64
#define TOURNAMENT 3
#define P_CROSSOVER 0.8
#define P_MUTATION 0.5
#define CHILD_TRIES 64 /* children that came out seen before falling back to a random point */

int ga_init(tt_strategy *st)
{
    int64_t size = tt_space_size(st->sp);
    /* a small space gets a smaller population, or the first generation would be all of it */
    st->popsize = size / 8 < POPULATION ? (int)(size / 8) : POPULATION;
    if (st->popsize < 4)
        st->popsize = 4;
    st->pop = calloc((size_t)st->popsize, sizeof *st->pop);
    return st->pop ? 0 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
}

void ga_free(tt_strategy *st)
{
    for (int i = 0; st->pop && i < st->npop; i++)
        free(st->pop[i].v);
    free(st->pop);
    st->pop = NULL;
    st->npop = 0;
}

/* Keeps the population the best popsize members, ascending cost, ties by arrival. */
static int insert(tt_strategy *st, int *v, double cost)
{
    int64_t order = st->arrivals++;
    int pos = st->npop;
    while (pos > 0 && st->pop[pos - 1].cost > cost)
        pos--;
    if (pos >= st->popsize) {
        free(v);
        return 0;
    }
    if (st->npop == st->popsize)
        free(st->pop[--st->npop].v);
    memmove(&st->pop[pos + 1], &st->pop[pos], (size_t)(st->npop - pos) * sizeof *st->pop);
    st->pop[pos] = (ga_member){v, cost, order};
    st->npop++;
    return 0;
}

int ga_feed(tt_strategy *st, const tt_schedule *s, double cost)
{
    if (!isfinite(cost))
        return 0; /* failed candidates breed nothing */
    int *v = calloc((size_t)st->sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (sp_decode(st->sp, s, v) != 0) {
        free(v); /* not of this space (an older space's log): seen, but no parent */
        return 0;
    }
    return insert(st, v, cost);
}

/* The best of TOURNAMENT random members: the lowest index, as the population is sorted. */
static const int *tournament(tt_strategy *st)
{
    int best = st->npop;
    for (int i = 0; i < TOURNAMENT; i++) {
        int k = (int)sp_below(&st->rng, st->npop);
        best = k < best ? k : best;
    }
    return st->pop[best].v;
}

int ga_propose(tt_strategy *st, tt_schedule **out)
{
    *out = NULL;
    /* breed once the first generation is out, or a resumed log already filled half a
     * population */
    if (st->npop < 2 || (st->proposed < st->popsize && 2 * st->npop < st->popsize)) {
        int rc = st_propose_random(st, out);
        st->proposed += rc == 1;
        return rc;
    }
    tt_space *sp = st->sp;
    int *child = calloc((size_t)sp->ndec + 1, sizeof *child);
    if (!child)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = 0;
    for (int t = 0; rc == 0 && t < CHILD_TRIES; t++) {
        const int *a = tournament(st), *b = tournament(st);
        bool crossed = sp_uniform(&st->rng) < P_CROSSOVER;
        if (crossed)
            sp_cross_dec(sp, &st->rng, a, b, child);
        else
            memcpy(child, a, (size_t)sp->ndec * sizeof *child);
        /* a copy must change; a crossed child often equals a parent, so mutate it too */
        if (!crossed || sp_uniform(&st->rng) < P_MUTATION)
            sp_mutate_dec(sp, &st->rng, child);
        rc = st_propose_dec(st, child, out);
        /* seen: walk on from it, one decision at a time */
        for (int m = 0; rc == 0 && m < 4 && sp_mutate_dec(sp, &st->rng, child); m++)
            rc = st_propose_dec(st, child, out);
    }
    free(child);
    if (rc == 0)
        rc = st_propose_random(st, out);
    st->proposed += rc == 1;
    return rc;
}
