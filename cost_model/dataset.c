/* Training rows for the cost model (cost_model/model.h): features and cost per candidate,
 * grouped by workload key. Rows come from the tuner as it measures, or from a log: each
 * record's task is rebuilt from its workload, its schedule lowered and its features extracted. */
#include "cost_model/model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lower.h"
#include "ir/opjson.h"
#include "logs/log.h"

void tt_dataset_init(tt_dataset *d)
{
    memset(d, 0, sizeof *d);
}

void tt_dataset_free(tt_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->cost);
    free(d->group);
    for (size_t g = 0; g < d->ngroups; g++)
        free(d->keys[g]);
    free(d->keys);
    tt_dataset_init(d);
}

static int group_of(tt_dataset *d, const char *key, uint32_t *g)
{
    /* few workloads per dataset: a linear scan from the most recent is enough */
    for (size_t i = d->ngroups; i-- > 0;)
        if (strcmp(d->keys[i], key) == 0) {
            *g = (uint32_t)i;
            return 0;
        }
    char **keys = realloc(d->keys, (d->ngroups + 1) * sizeof *keys);
    if (!keys)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    d->keys = keys;
    if (!(keys[d->ngroups] = strdup(key)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    *g = (uint32_t)d->ngroups++;
    return 0;
}

int tt_dataset_add(tt_dataset *d, const char *key, const float *f, double cost)
{
    if (!key || !f)
        return tt_error_set("dataset: a row needs a workload key and features");
    if (!(cost > 0) && !isnan(cost))
        return tt_error_set("dataset: cost %g of %s: expected a positive number of seconds "
                            "(+inf for a failed candidate)",
                            cost, key);
    if (d->nrows == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 256;
        float *x = realloc(d->x, cap * TT_FEATURE_COUNT * sizeof *x);
        if (x)
            d->x = x;
        double *c = realloc(d->cost, cap * sizeof *c);
        if (c)
            d->cost = c;
        uint32_t *g = realloc(d->group, cap * sizeof *g);
        if (g)
            d->group = g;
        if (!x || !c || !g)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        d->cap = cap;
    }
    uint32_t g = 0;
    if (group_of(d, key, &g) != 0)
        return -1;
    memcpy(d->x + d->nrows * TT_FEATURE_COUNT, f, TT_FEATURE_COUNT * sizeof *f);
    d->cost[d->nrows] = isnan(cost) ? INFINITY : cost;
    d->group[d->nrows] = g;
    d->nrows++;
    return 0;
}

int tt_dataset_add_schedule(tt_dataset *d, const char *key, const tt_compute *c,
                            const tt_schedule *s, double cost)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "candidate", &k) != 0)
        return -1;
    float f[TT_FEATURE_COUNT];
    int rc = tt_features_extract(k, &d->machine, f);
    tt_kernel_release(k);
    return rc == 0 ? tt_dataset_add(d, key, f, cost) : -1;
}

void tt_dataset_targets(const tt_dataset *d, float *y)
{
    double *best = malloc((d->ngroups + 1) * sizeof *best);
    if (!best) { /* keep the order at least: larger is faster */
        for (size_t i = 0; i < d->nrows; i++)
            y[i] = isfinite(d->cost[i]) ? (float)(1e-9 / d->cost[i]) : 0;
        return;
    }
    for (size_t g = 0; g < d->ngroups; g++)
        best[g] = INFINITY;
    for (size_t i = 0; i < d->nrows; i++)
        if (d->cost[i] < best[d->group[i]])
            best[d->group[i]] = d->cost[i];
    for (size_t i = 0; i < d->nrows; i++)
        y[i] = isfinite(d->cost[i]) ? (float)(best[d->group[i]] / d->cost[i]) : 0;
    free(best);
}

/* ---- logs ---- */

typedef struct {
    char *key;
    tt_task *task; /* NULL when the workload does not rebuild */
} task_entry;

typedef struct {
    tt_dataset *d;
    size_t first, count, index;
    tt_dataset_log_stats st;
    task_entry *tasks;
    size_t ntasks;
    char first_problem[256];
} log_ctx;

static void note(log_ctx *c, size_t line, const char *what)
{
    if (!c->first_problem[0])
        snprintf(c->first_problem, sizeof c->first_problem, "line %zu: %s", line, what);
}

static tt_task *task_for(log_ctx *c, const tt_record *r, size_t line, int *oom)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (strcmp(c->tasks[i].key, r->key) == 0)
            return c->tasks[i].task;
    task_entry *t = realloc(c->tasks, (c->ntasks + 1) * sizeof *t);
    if (!t) {
        *oom = 1;
        return NULL;
    }
    c->tasks = t;
    task_entry *e = &t[c->ntasks];
    e->task = NULL;
    if (!(e->key = strdup(r->key))) {
        *oom = 1;
        return NULL;
    }
    c->ntasks++;
    if (tt_task_from_json_text(r->workload, &e->task) != 0) {
        e->task = NULL;
        note(c, line, tt_get_last_error());
    }
    return e->task;
}

static int visit(const tt_record *r, size_t line, void *ctx)
{
    log_ctx *c = ctx;
    size_t i = c->index++;
    if (i < c->first || i - c->first >= c->count)
        return 0;
    c->st.records++;
    int oom = 0;
    tt_task *t = task_for(c, r, line, &oom);
    if (oom)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (!t) {
        c->st.unusable++;
        return 0;
    }
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(r->steps, &s) != 0) {
        note(c, line, tt_get_last_error());
        c->st.unusable++;
        return 0;
    }
    double cost = r->error == TT_RECORD_OK ? tt_record_cost(r) : INFINITY;
    if (!(cost > 0))
        cost = INFINITY;
    int rc = tt_dataset_add_schedule(c->d, r->key, t->compute, s, cost);
    tt_schedule_free(s);
    if (rc != 0) {
        /* a schedule that no longer lowers says nothing about today's kernels */
        note(c, line, tt_get_last_error());
        c->st.unusable++;
        return 0;
    }
    c->st.rows++;
    c->st.failed += !isfinite(cost);
    return 0;
}

int tt_dataset_add_log(tt_dataset *d, const char *path, size_t first, size_t count,
                       tt_dataset_log_stats *stats)
{
    log_ctx c = {.d = d, .first = first, .count = count};
    tt_log_stats ls;
    memset(&ls, 0, sizeof ls);
    int rc = tt_log_read(path, TT_LOG_TOLERANT, visit, &c, &ls);
    tt_log_stats_free(&ls);
    for (size_t i = 0; i < c.ntasks; i++) {
        free(c.tasks[i].key);
        tt_task_free(c.tasks[i].task);
    }
    free(c.tasks);
    if (stats)
        *stats = c.st;
    if (rc != 0)
        return -1;
    if (c.st.rows == 0) {
        if (c.st.records == 0)
            return tt_error_set("%s: no usable records (no records%s)", path,
                                first > 0 ? " in the range asked for" : "");
        return tt_error_set("%s: no usable records (%zu records, none rebuilds and lowers; "
                            "first problem: %s)",
                            path, c.st.records, c.first_problem);
    }
    return 0;
}

static int count_visit(const tt_record *r, size_t line, void *ctx)
{
    (void)r;
    (void)line;
    (*(size_t *)ctx)++;
    return 0;
}

int tt_dataset_log_count(const char *path, size_t *n)
{
    *n = 0;
    tt_log_stats ls;
    memset(&ls, 0, sizeof ls);
    int rc = tt_log_read(path, TT_LOG_TOLERANT, count_visit, n, &ls);
    tt_log_stats_free(&ls);
    return rc;
}
