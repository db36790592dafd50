/* The model-guided strategy ("xgb"): each batch is chosen from a pool of thousands of
 * candidates scored by the XGBoost cost model (cost_model/), which is retrained on every
 * measured candidate before the next batch. The pool persists between batches, its features
 * computed once: each refill re-scores it with the new model, adds fresh random samples and
 * mutation chains from the best measured schedules and from the best predicted ones (an
 * evolutionary round), and drops the worst predicted beyond POOL_CAP. A share of each batch
 * is random (exploration); nothing is proposed twice. Until enough candidates are measured it
 * is random. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost_model/model.h"
#include "ir/lower.h"
#include "search/strategy_internal.h"

#define BATCH 64         /* proposals chosen per scoring round */
#define POOL_FIRST 512   /* random samples in the first pool */
#define POOL_RANDOM 96   /* fresh random samples per refill */
#define POOL_CAP 3072    /* candidates kept between refills (the best predicted) */
#define TOP_PARENTS 16   /* best measured schedules the mutation chains start from */
#define CHAIN_PARENT 8   /* mutants per measured parent per refill */
#define CHAIN 16         /* mutants per predicted parent per evolutionary round */
#define ROUNDS 2         /* evolutionary rounds: the best of the pool are mutated again */
#define MIN_ROWS 16      /* measured candidates before the model guides */
#define EPSILON 0.2      /* share of each batch picked at random */
#define TRANSFER_ROWS 64 /* what the --transfer rows weigh in all, in rows of our own */
#define RETRAIN_MIN 8    /* new rows that make the model retrain and choose afresh ... */
#define RETRAIN_SHARE 8  /* ... or 1/8 of the rows it was trained on, when that is more */

typedef struct {
    int *v;
    double cost;
} parent;

/* Candidates with their features, kept between refills; scores are the last model's. */
typedef struct {
    int ndec, n, cap;
    int *v;      /* n * ndec */
    uint64_t *h; /* schedule hashes: no duplicate in the pool */
    float *f;    /* n * TT_FEATURE_COUNT */
    float *score;
} pool;

struct xgb_state {
    tt_model *model;
    tt_dataset data;
    int valid;        /* measured rows with a finite cost */
    bool dirty;       /* rows arrived since the last training */
    int rows_trained; /* rows of our own (failed ones too) the last training saw */
    parent best[TOP_PARENTS];
    int nbest;
    /* Decision vectors chosen, not yet proposed (nqueue * ndec): [0, ntop) the best predicted,
     * [ntop, nqueue) the exploration picks; each part has its own head. */
    int *queue;
    int nqueue, ntop, head_top, head_exp;
    pool pool;        /* persists between refills */
    int64_t proposed; /* guided proposals so far: every 1/EPSILON-th is an exploration pick */
    bool loaded;      /* a saved model guides until MIN_ROWS of our own are measured */
    size_t transfer;  /* rows of other workloads in data (--transfer) */
};

int xgb_init(tt_strategy *st)
{
    xgb_state *x = calloc(1, sizeof *x);
    if (!x)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    st->xgb = x;
    tt_dataset_init(&x->data);
    tt_model_opts o;
    tt_model_opts_default(&o);
    o.rounds = 60;
    o.seed = st->rng % 1000003;
    /* One thread. A multi-threaded XGBoost leaves libgomp worker threads in this process, and
     * the measurement children forked from it inherit that runtime's state: their kernels'
     * parallel loops then ran at single-thread speed or below (an expr candidate logged at 40
     * GFLOPS measured 183 in a clean process; 30 of 30 were logged low, by a median of 24%). */
    o.nthread = 1;
    return tt_model_new(&o, &x->model);
}

static void pool_free(pool *p);

void xgb_free(tt_strategy *st)
{
    xgb_state *x = st->xgb;
    if (!x)
        return;
    tt_model_free(x->model);
    tt_dataset_free(&x->data);
    for (int i = 0; i < x->nbest; i++)
        free(x->best[i].v);
    free(x->queue);
    pool_free(&x->pool);
    free(x);
    st->xgb = NULL;
}

/* Features of the schedule of decisions v; -1 when it does not lower (the row is skipped). */
static int featurize(const tt_space *sp, const tt_schedule *s, float *f)
{
    tt_kernel *k = NULL;
    if (tt_lower(sp->c, s, "candidate", &k) != 0)
        return -1;
    /* the machine as the space knows it (its variants share the options, defaults filled) */
    const tt_space_opts *o = &sp->var[0]->opts;
    tt_feat_machine m = {
        .vector_bits = o->vector_bits, .vector_regs = o->vector_regs, .threads = o->num_threads};
    int rc = tt_features_extract(k, &m, f);
    tt_kernel_release(k);
    return rc;
}

int xgb_feed(tt_strategy *st, const tt_schedule *s, double cost)
{
    xgb_state *x = st->xgb;
    float f[TT_FEATURE_COUNT];
    if (featurize(st->sp, s, f) != 0)
        return 0; /* not of this space or no longer lowering: nothing to learn */
    if (!isfinite(cost) || !(cost > 0))
        cost = INFINITY;
    if (tt_dataset_add(&x->data, "task", f, cost) != 0)
        return -1;
    x->dirty = true;
    if (!isfinite(cost))
        return 0;
    x->valid++;
    int *v = calloc((size_t)st->sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (sp_decode(st->sp, s, v) != 0) {
        free(v);
        return 0;
    }
    int pos = x->nbest;
    while (pos > 0 && x->best[pos - 1].cost > cost)
        pos--;
    if (pos >= TOP_PARENTS) {
        free(v);
        return 0;
    }
    if (x->nbest == TOP_PARENTS)
        free(x->best[--x->nbest].v);
    memmove(&x->best[pos + 1], &x->best[pos], (size_t)(x->nbest - pos) * sizeof *x->best);
    x->best[pos] = (parent){v, cost};
    x->nbest++;
    return 0;
}

/* Trains on every row. Rows of other workloads (--transfer) weigh TRANSFER_ROWS of our own in
 * all, however many there are: they guide the first batches, and our own measurements, which
 * are what this workload's ranking really is, outweigh them once there are more of those. */
static int train(xgb_state *x)
{
    if (x->transfer == 0)
        return tt_model_train(x->model, &x->data);
    const tt_dataset *d = &x->data;
    float *w = malloc((d->ngroups + 1) * sizeof *w);
    if (!w)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    float tw = x->transfer > TRANSFER_ROWS ? (float)TRANSFER_ROWS / (float)x->transfer : 1.0f;
    for (size_t g = 0; g < d->ngroups; g++)
        w[g] = strcmp(d->keys[g], "task") == 0 ? 1.0f : tw;
    int rc = tt_model_train_weighted(x->model, d, w);
    free(w);
    return rc;
}

/* ---- a scored pool ---- */

static void pool_free(pool *p)
{
    free(p->v);
    free(p->h);
    free(p->f);
    free(p->score);
    memset(p, 0, sizeof *p);
}

/* Moves entry i to slot j (j <= i). */
static void pool_move(pool *p, int j, int i)
{
    if (i == j)
        return;
    memcpy(p->v + (size_t)j * p->ndec, p->v + (size_t)i * p->ndec, (size_t)p->ndec * sizeof *p->v);
    memcpy(p->f + (size_t)j * TT_FEATURE_COUNT, p->f + (size_t)i * TT_FEATURE_COUNT,
           TT_FEATURE_COUNT * sizeof *p->f);
    p->h[j] = p->h[i];
    p->score[j] = p->score[i];
}

/* Drops what was proposed since the pool was made (the queue's picks and the other
 * strategies' marks: a resumed run, a random fallback). */
static void pool_drop_seen(const tt_strategy *st, pool *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (!st_has(st, p->h[i]))
            pool_move(p, n++, i);
    p->n = n;
}

/* Adds v when its schedule is new to the pool and to the strategy and lowers: 1 added, 0 not,
 * -1 out of memory. */
static int pool_add(tt_strategy *st, pool *p, const int *v)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 1024;
        int *nv = realloc(p->v, (size_t)cap * (size_t)p->ndec * sizeof *nv);
        if (nv)
            p->v = nv;
        uint64_t *nh = realloc(p->h, (size_t)cap * sizeof *nh);
        if (nh)
            p->h = nh;
        float *nf = realloc(p->f, (size_t)cap * TT_FEATURE_COUNT * sizeof *nf);
        if (nf)
            p->f = nf;
        float *ns = realloc(p->score, (size_t)cap * sizeof *ns);
        if (ns)
            p->score = ns;
        if (!nv || !nh || !nf || !ns)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        p->cap = cap;
    }
    tt_schedule *s = NULL;
    if (sp_emit(st->sp, v, &s) != 0)
        return 0;
    uint64_t h = tt_schedule_hash(s);
    int rc = 0;
    bool dup = st_has(st, h);
    for (int i = 0; !dup && i < p->n; i++)
        dup = p->h[i] == h;
    if (!dup && featurize(st->sp, s, p->f + (size_t)p->n * TT_FEATURE_COUNT) == 0) {
        memcpy(p->v + (size_t)p->n * p->ndec, v, (size_t)p->ndec * sizeof *v);
        p->h[p->n++] = h;
        rc = 1;
    }
    tt_schedule_free(s);
    return rc;
}

/* Mutation chains from each of nstart decision vectors (len steps, each kept). */
static int add_chains(tt_strategy *st, pool *p, const int *starts, int nstart, int len,
                      int *scratch)
{
    for (int i = 0; i < nstart; i++) {
        memcpy(scratch, starts + (size_t)i * p->ndec, (size_t)p->ndec * sizeof *scratch);
        for (int m = 0; m < len; m++) {
            if (!sp_mutate_dec(st->sp, &st->rng, scratch))
                break;
            if (pool_add(st, p, scratch) < 0)
                return -1;
        }
    }
    return 0;
}

static const float *sort_scores;
static int by_score(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_scores[i] != sort_scores[j])
        return sort_scores[i] > sort_scores[j] ? -1 : 1;
    return i - j;
}

/* Scores the pool entries [from, n) with the model and sorts the indices of the whole pool
 * into *order, best predicted first. */
static int score_and_sort(xgb_state *x, int from, int **order)
{
    pool *p = &x->pool;
    if (p->n > from && tt_model_predict(x->model, p->f + (size_t)from * TT_FEATURE_COUNT,
                                        (size_t)(p->n - from), p->score + from) != 0)
        return -1;
    free(*order);
    *order = malloc(((size_t)p->n + 1) * sizeof **order);
    if (!*order)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < p->n; i++)
        (*order)[i] = i;
    sort_scores = p->score;
    qsort(*order, (size_t)p->n, sizeof **order, by_score);
    return 0;
}

/* Keeps the POOL_CAP best predicted entries (order: the pool's indices, best first). */
static int pool_trim(pool *p, const int *order)
{
    if (p->n <= POOL_CAP)
        return 0;
    char *keep = calloc((size_t)p->n, 1);
    if (!keep)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < POOL_CAP; i++)
        keep[order[i]] = 1;
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (keep[i])
            pool_move(p, n++, i);
    p->n = n;
    free(keep);
    return 0;
}

/* Fills the queue: the BATCH * (1 - EPSILON) best predicted of the pool, then exploration. */
static int refill(tt_strategy *st)
{
    xgb_state *x = st->xgb;
    tt_space *sp = st->sp;
    pool *p = &x->pool;
    p->ndec = sp->ndec;
    if (x->dirty) {
        /* a loaded model is better than one trained on a handful of rows */
        bool keep = x->loaded && x->valid < MIN_ROWS && x->transfer == 0;
        if (!keep && train(x) != 0)
            return -1;
        x->dirty = false;
        x->rows_trained = (int)(x->data.nrows - x->transfer);
    }
    pool_drop_seen(st, p);
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    int *order = NULL, *starts = NULL;
    int rc = -1;
    if (!v)
        goto out;
    int fresh = p->n == 0 ? POOL_FIRST : POOL_RANDOM;
    for (int i = 0; i < fresh; i++) {
        sp_sample_dec(sp, &st->rng, v);
        if (pool_add(st, p, v) < 0)
            goto out;
    }
    starts = calloc((size_t)(TOP_PARENTS + BATCH) * (size_t)sp->ndec + 1, sizeof *starts);
    if (!starts)
        goto out;
    for (int i = 0; i < x->nbest; i++)
        memcpy(starts + (size_t)i * sp->ndec, x->best[i].v, (size_t)sp->ndec * sizeof *v);
    int mut_lo = p->n;
    if (add_chains(st, p, starts, x->nbest, CHAIN_PARENT, v) != 0)
        goto out;
    int mut_hi = p->n;
    /* every entry is re-scored: the model changed since the pool's older entries were */
    if (score_and_sort(x, 0, &order) != 0)
        goto out;
    for (int round = 0; round < ROUNDS; round++) {
        /* evolve: mutation chains from the best predicted so far */
        int ns = p->n < BATCH / 4 ? p->n : BATCH / 4;
        for (int i = 0; i < ns; i++)
            memcpy(starts + (size_t)i * sp->ndec, p->v + (size_t)order[i] * sp->ndec,
                   (size_t)sp->ndec * sizeof *v);
        int before = p->n;
        if (add_chains(st, p, starts, ns, CHAIN, v) != 0)
            goto out;
        if (score_and_sort(x, before, &order) != 0)
            goto out;
    }
    int want = (int)(BATCH * (1 - EPSILON));
    int take = p->n < want ? p->n : want;
    free(x->queue);
    x->queue = malloc(((size_t)BATCH + 1) * (size_t)sp->ndec * sizeof *x->queue);
    x->nqueue = x->ntop = x->head_top = x->head_exp = 0;
    if (!x->queue)
        goto out;
    for (int i = 0; i < take; i++)
        memcpy(x->queue + (size_t)x->nqueue++ * sp->ndec, p->v + (size_t)order[i] * sp->ndec,
               (size_t)sp->ndec * sizeof *v);
    x->ntop = x->head_exp = x->nqueue;
    /* Exploration, unfiltered by the model: alternately a neighbour of the best measured (a
     * noisy measurement may have taught the model to shun a region a single decision away,
     * such as parallel loops on a small kernel) and any member of the pool. The chosen
     * prefix is marked by its order position so nothing is queued twice. */
    int *rank = malloc(((size_t)p->n + 1) * sizeof *rank);
    if (!rank)
        goto out;
    for (int i = 0; i < p->n; i++)
        rank[order[i]] = i;
    for (int i = take, tries = 0; i < BATCH && p->n > take && tries < 8 * BATCH; tries++) {
        int k = (i & 1) && mut_hi > mut_lo ? mut_lo + (int)sp_below(&st->rng, mut_hi - mut_lo)
                                           : (int)sp_below(&st->rng, p->n);
        if (rank[k] < 0 || rank[k] < take)
            continue; /* already queued */
        rank[k] = -1;
        memcpy(x->queue + (size_t)x->nqueue++ * sp->ndec, p->v + (size_t)k * sp->ndec,
               (size_t)sp->ndec * sizeof *v);
        i++;
    }
    free(rank);
    rc = pool_trim(p, order);
out:
    if (rc != 0 && !v)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    free(v);
    free(order);
    free(starts);
    return rc;
}

/* Pops the next vector of the queue: an exploration pick when the running share of them
 * falls behind EPSILON (the tuner takes only a few per batch, and a batch makes the queue
 * stale), else the best predicted left. NULL when the queue is empty. */
static const int *pop(xgb_state *x, int ndec)
{
    bool top_left = x->head_top < x->ntop, exp_left = x->head_exp < x->nqueue;
    bool explore =
        (int64_t)((double)(x->proposed + 1) * EPSILON) > (int64_t)((double)x->proposed * EPSILON);
    if (exp_left && (explore || !top_left))
        return x->queue + (size_t)x->head_exp++ * ndec;
    if (top_left)
        return x->queue + (size_t)x->head_top++ * ndec;
    return NULL;
}

int xgb_propose(tt_strategy *st, tt_schedule **out)
{
    *out = NULL;
    xgb_state *x = st->xgb;
    if (x->valid < MIN_ROWS && !x->loaded && x->transfer == 0)
        return st_propose_random(st, out);
    /* A retrained model chooses afresh once enough results arrived since the queue was made:
     * RETRAIN_MIN rows, or a share of what it learnt from. Each refill lowers and featurises
     * hundreds of new candidates and retrains, so retraining after every batch of a few (the
     * tuner's batches follow the parallel builds) made the search a fifth of a tuning run's
     * time; the share keeps early batches (where each row moves the model most) responsive. */
    int fresh = (int)(x->data.nrows - x->transfer) - x->rows_trained;
    int gap = x->rows_trained / RETRAIN_SHARE > RETRAIN_MIN ? x->rows_trained / RETRAIN_SHARE
                                                            : RETRAIN_MIN;
    if (x->dirty && fresh >= gap)
        x->nqueue = x->ntop = x->head_top = x->head_exp = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        const int *v;
        while ((v = pop(x, st->sp->ndec)) != NULL) {
            int rc = st_propose_dec(st, v, out);
            if (rc != 0) {
                x->proposed += rc == 1;
                return rc;
            }
        }
        if (refill(st) != 0)
            return -1;
    }
    return st_propose_random(st, out);
}

int tt_strategy_load_model(tt_strategy *st, const char *path)
{
    if (st->kind != ST_XGB)
        return tt_error_set("a saved cost model (%s) needs the xgb tuner", path);
    if (tt_model_load(st->xgb->model, path) != 0)
        return -1;
    st->xgb->loaded = true;
    return 0;
}

int tt_strategy_transfer(tt_strategy *st, const tt_dataset *d)
{
    if (st->kind != ST_XGB)
        return tt_error_set("transfer learning needs the xgb tuner");
    if (!d || d->nrows == 0)
        return tt_error_set("transfer: no rows to learn from");
    xgb_state *x = st->xgb;
    for (size_t i = 0; i < d->nrows; i++) {
        /* "task" is the key of our own rows: another workload must never join their group */
        char key[512];
        snprintf(key, sizeof key, "transfer:%s", d->keys[d->group[i]]);
        if (tt_dataset_add(&x->data, key, d->x + i * TT_FEATURE_COUNT, d->cost[i]) != 0)
            return -1;
    }
    x->transfer += d->nrows;
    x->dirty = true;
    return 0;
}
