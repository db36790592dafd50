/* compile, part 1: the best records per workload key for one target, out of a database and logs
 * (`tvm-tune compile` and `tvm-tune best` read them). compile.c chooses a schedule per task from
 * them, compile_emit.c writes the library and the header. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logs/db.h"
#include "logs/log.h"
#include "tuner/compile.h"

/* ---- the best record per key ---- */

/* Every usable record, in the order offered (database, then logs in order). */
typedef struct {
    const char *target;
    tt_record **all;
    char **steps; /* all[i]'s schedule in canonical form: one schedule, however spelt */
    size_t n, cap;
} gather;

/* The canonical JSON of a steps array; the text itself if it does not parse (it then only
 * matches itself). */
static char *canonical_steps(const char *steps)
{
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(steps, &s) != 0)
        return strdup(steps);
    char *canon = tt_schedule_to_json(s);
    tt_schedule_free(s);
    return canon;
}

static int offer(gather *g, const tt_record *r)
{
    if (r->error != TT_OUTCOME_OK || strcmp(r->target, g->target) != 0 ||
        !isfinite(tt_record_cost(r)))
        return 0;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        tt_record **all = realloc(g->all, cap * sizeof *all);
        if (all)
            g->all = all;
        char **steps = all ? realloc(g->steps, cap * sizeof *steps) : NULL;
        if (!steps)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory gathering records");
        g->steps = steps;
        g->cap = cap;
    }
    if (!(g->steps[g->n] = canonical_steps(r->steps)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory gathering records");
    if (tt_record_copy(r, &g->all[g->n])) {
        free(g->steps[g->n]);
        return -1;
    }
    g->n++;
    return 0;
}

static int visit_log(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    return offer(ctx, r);
}

static int append_warnings(tt_compile_records *recs, const char *more)
{
    if (!more || !*more)
        return 0;
    size_t have = recs->warnings ? strlen(recs->warnings) : 0;
    char *w = realloc(recs->warnings, have + strlen(more) + 1);
    if (!w)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(w + have, more, strlen(more) + 1);
    recs->warnings = w;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(tt_record *const *)a)->key, (*(tt_record *const *)b)->key);
}

/* Key, then schedule, then the latest measurement first (by time, then the order offered). */
typedef struct {
    tt_record *r;
    const char *steps; /* canonical */
    size_t order;
    char hash[TT_RECORD_HASH_LEN + 1]; /* the same measurement read from a database and a log */
} item;

/* Compares record times "YYYY-MM-DDTHH:MM:SS[.fff]Z": as text up to the seconds, then the
 * fraction as a number ("…:37.5Z" is later than "…:37Z", though '.' sorts before 'Z'). */
static int time_cmp(const char *a, const char *b)
{
    int c = strncmp(a, b, 19);
    if (c != 0 || strlen(a) < 19 || strlen(b) < 19)
        return c;
    double fa = a[19] == '.' ? strtod(a + 19, NULL) : 0,
           fb = b[19] == '.' ? strtod(b + 19, NULL) : 0;
    return fa < fb ? -1 : fa > fb;
}

static int by_schedule(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(x->r->key, y->r->key);
    if (c == 0)
        c = strcmp(x->steps, y->steps);
    if (c == 0)
        c = -time_cmp(x->r->time, y->r->time);
    if (c == 0)
        c = x->order > y->order ? -1 : x->order < y->order;
    return c;
}

/* Distinct measurements among items[i..j). */
static size_t distinct(const item *items, size_t i, size_t j)
{
    size_t n = 0;
    for (size_t a = i; a < j; a++) {
        size_t b = i;
        while (b < a && strcmp(items[b].hash, items[a].hash) != 0)
            b++;
        n += b == a;
    }
    return n;
}

/* Whether schedule x (measured mx times, cost cx, first offered at ox) ranks before y. */
static int better(size_t mx, double cx, size_t ox, size_t my, double cy, size_t oy)
{
    if ((mx > 1) != (my > 1))
        return mx > 1;
    if (cx != cy)
        return cx < cy;
    return ox < oy;
}

/* The winner per key. The tuner measures its best candidates again at the end of a run and logs
 * the one that wins again, so a schedule measured more than once is a confirmed result: it
 * ranks before every schedule measured once (a lucky outlier on a busy machine), and counts at
 * its latest measurement, the number the tuner reported for it. */
static int pick(gather *g, tt_compile_records *recs)
{
    item *items = malloc((g->n ? g->n : 1) * sizeof *items);
    recs->records = malloc((g->n ? g->n : 1) * sizeof *recs->records);
    recs->measured = malloc((g->n ? g->n : 1) * sizeof *recs->measured);
    if (!items || !recs->records || !recs->measured) {
        free(items);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < g->n; i++) {
        items[i] = (item){.r = g->all[i], .steps = g->steps[i], .order = i};
        if (tt_record_hash(g->all[i], items[i].hash)) {
            free(items);
            return -1;
        }
    }
    qsort(items, g->n, sizeof *items, by_schedule);
    size_t best_order = 0;
    for (size_t i = 0; i < g->n;) {
        size_t j = i + 1;
        while (j < g->n && strcmp(items[j].r->key, items[i].r->key) == 0 &&
               strcmp(items[j].steps, items[i].steps) == 0)
            j++;
        /* items[i] represents its schedule; the first of its measurements offered breaks ties. */
        size_t first = items[i].order, times = distinct(items, i, j);
        for (size_t m = i; m < j; m++)
            first = items[m].order < first ? items[m].order : first;
        tt_record *rep = items[i].r;
        size_t n = recs->n;
        if (n > 0 && strcmp(recs->records[n - 1]->key, rep->key) == 0) {
            if (better(times, tt_record_cost(rep), first, recs->measured[n - 1],
                       tt_record_cost(recs->records[n - 1]), best_order)) {
                recs->records[n - 1] = rep;
                recs->measured[n - 1] = times;
                best_order = first;
            }
        } else {
            recs->records[n] = rep;
            recs->measured[n] = times;
            recs->n++;
            best_order = first;
        }
        i = j;
    }
    free(items);
    /* Keep the winners, free the rest. */
    for (size_t i = 0; i < g->n; i++) {
        int kept = 0;
        for (size_t k = 0; k < recs->n && !kept; k++)
            kept = recs->records[k] == g->all[i];
        if (!kept)
            tt_record_free(g->all[i]);
    }
    return 0;
}

static int load_db(gather *g, const char *db_path)
{
    struct stat st;
    if (!tt_db_is_uri(db_path) && stat(db_path, &st) != 0) {
        if (errno == ENOENT)
            return tt_error_set("database '%s' does not exist", db_path);
        return tt_error_set("database '%s': %s", db_path, strerror(errno));
    }
    tt_db *db = NULL;
    if (tt_db_open(db_path, &db))
        return -1;
    tt_record **recs = NULL;
    size_t n = 0;
    int rc = tt_db_best(db, NULL, g->target, 0, &recs, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = offer(g, recs[i]);
    tt_record_array_free(recs, n);
    tt_db_close(db);
    return rc;
}

int tt_compile_records_load(const char *db_path, const char *const *log_paths, int nlogs,
                            const char *target, tt_compile_records **out)
{
    *out = NULL;
    tt_compile_records *recs = calloc(1, sizeof *recs);
    if (!recs || !(recs->target = strdup(target))) {
        free(recs);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    gather g = {.target = recs->target};
    int rc = db_path ? load_db(&g, db_path) : 0;
    for (int i = 0; rc == 0 && i < nlogs; i++) {
        tt_log_stats stats;
        rc = tt_log_read(log_paths[i], TT_LOG_STRICT, visit_log, &g, &stats);
        if (rc == 0)
            rc = append_warnings(recs, stats.warnings);
        tt_log_stats_free(&stats);
    }
    if (rc == 0 && pick(&g, recs) == 0) {
        free(g.all); /* the winners now belong to recs, pick freed the rest */
    } else {
        rc = -1;
        tt_record_array_free(g.all, g.n);
        recs->n = 0;
    }
    for (size_t i = 0; i < g.n; i++)
        free(g.steps[i]);
    free(g.steps);
    if (rc) {
        tt_compile_records_free(recs);
        return -1;
    }
    *out = recs;
    return 0;
}

void tt_compile_records_free(tt_compile_records *recs)
{
    if (!recs)
        return;
    tt_record_array_free(recs->records, recs->n);
    free(recs->measured);
    free(recs->target);
    free(recs->warnings);
    free(recs);
}

size_t tt_compile_records_measured(const tt_compile_records *recs, const tt_record *r)
{
    for (size_t i = 0; recs && i < recs->n; i++)
        if (recs->records[i] == r)
            return recs->measured[i];
    return 0;
}

const tt_record *tt_compile_records_find(const tt_compile_records *recs, const char *key)
{
    if (!recs || !key || recs->n == 0)
        return NULL;
    tt_record probe = {.key = key};
    const tt_record *p = &probe;
    tt_record **hit = bsearch(&p, recs->records, recs->n, sizeof *recs->records, by_key);
    return hit ? *hit : NULL;
}
