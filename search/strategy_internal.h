/* Shared state of the strategies (search/strategy.c: the object, random and grid;
 * search/ga.c: the genetic search). Not a public header. */
#ifndef TT_SEARCH_STRATEGY_INTERNAL_H
#define TT_SEARCH_STRATEGY_INTERNAL_H

#include "search/space_internal.h"

/* Open-addressing set of schedule hashes (0 is stored out of band). */
typedef struct {
    uint64_t *keys;
    size_t cap, n;
    bool has_zero;
} st_hashset;

typedef struct {
    int *v; /* decisions */
    double cost;
    int64_t order; /* arrival, breaks ties so equal costs stay deterministic */
} ga_member;

typedef enum { ST_RANDOM, ST_GRID, ST_GA, ST_XGB } st_kind;

typedef struct xgb_state xgb_state; /* search/xgb.c */

struct tt_strategy {
    st_kind kind;
    tt_space *sp;
    uint64_t rng;
    st_hashset seen;
    int64_t in_space; /* distinct points of the space proposed or marked */
    int64_t grid_next;
    int seeds; /* variants whose default schedule was proposed (ga, xgb) */
    /* ga */
    int popsize;
    int64_t proposed;
    int npop;
    ga_member *pop; /* the best measured, ascending cost */
    int64_t arrivals;
    xgb_state *xgb;
};

/* 1 when h was added, 0 when present, -1 out of memory. */
int st_mark(tt_strategy *st, uint64_t h);
bool st_has(const tt_strategy *st, uint64_t h);
/* A random point not seen yet, marked seen: 1 found, 0 the space is exhausted, -1 error. */
int st_propose_random(tt_strategy *st, tt_schedule **out);
/* Emits v; when its schedule is new, marks it and returns 1 with *out set; 0 when seen. */
int st_propose_dec(tt_strategy *st, const int *v, tt_schedule **out);

int ga_init(tt_strategy *st);
void ga_free(tt_strategy *st);
int ga_propose(tt_strategy *st, tt_schedule **out);
/* Feeds one measured schedule (any origin) into the population. */
int ga_feed(tt_strategy *st, const tt_schedule *s, double cost);

/* The model-guided strategy (search/xgb.c), the same shape as the genetic one. */
int xgb_init(tt_strategy *st);
void xgb_free(tt_strategy *st);
int xgb_propose(tt_strategy *st, tt_schedule **out);
int xgb_feed(tt_strategy *st, const tt_schedule *s, double cost);

#endif
