/* What a resumed tuning run starts from: the candidates its log already holds, per task, so that
 * none is measured twice, the trial count continues and the budget counts what was done. Reads
 * logs/ records; tuner/tune.c feeds the result to the search strategies. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/schedule.h"
#include "tuner/tune_internal.h"

int tt_tune_steps_hash(const char *steps_json, uint64_t *hash, char **canonical)
{
    if (canonical)
        *canonical = NULL;
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(steps_json, &s) != 0)
        return -1;
    char *text = tt_schedule_to_json(s);
    tt_schedule_free(s);
    if (!text)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory serialising a schedule");
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, 64 bits */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    *hash = h;
    if (canonical)
        *canonical = text;
    else
        free(text);
    return 0;
}

typedef struct {
    const char *target;
    tt_tune_history *hist;
    int n;
    int64_t next_trial;
    int64_t records, ours; /* all records read; those of one of the tasks (any target) */
    char first_key[160];   /* the first record's key, to name a foreign log */
} scan;

static int add_past(tt_tune_history *h, const tt_tune_past *p)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        tt_tune_past *more = realloc(h->past, cap * sizeof *more);
        if (!more)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory reading the log");
        h->past = more;
        h->cap = cap;
    }
    h->past[h->n++] = *p;
    return 0;
}

static int visit(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    scan *sc = ctx;
    if (sc->records++ == 0)
        snprintf(sc->first_key, sizeof sc->first_key, "%s", r->key);
    tt_tune_history *h = NULL;
    for (int i = 0; i < sc->n && !h; i++)
        if (strcmp(sc->hist[i].key, r->key) == 0)
            h = &sc->hist[i];
    if (!h)
        return 0;
    sc->ours++;
    if (strcmp(r->target, sc->target) != 0)
        return 0;
    tt_tune_past p = {.trial = r->trial, .cost = tt_record_cost(r), .error = r->error};
    if (tt_tune_steps_hash(r->steps, &p.hash, &p.steps) != 0)
        return tt_error_wrap("field \"steps\"");
    if (r->trial + 1 > sc->next_trial)
        sc->next_trial = r->trial + 1;
    for (size_t i = 0; i < h->n; i++) {
        if (h->past[i].hash != p.hash || strcmp(h->past[i].steps, p.steps) != 0)
            continue;
        /* Measured again: the end-of-task winner (same trial; its re-measured cost is the one
         * to trust), or a candidate two runs measured (another trial; keep the better cost).
         * Either way not a new trial. */
        if (h->past[i].trial == p.trial) {
            h->winner_logged = true;
            if (p.error == 0)
                h->past[i].cost = p.cost;
        } else if (p.cost < h->past[i].cost) {
            h->past[i].cost = p.cost;
        }
        free(p.steps);
        return 0;
    }
    if (p.error != 0)
        h->errors++;
    if (add_past(h, &p) != 0) {
        free(p.steps);
        return -1;
    }
    return 0;
}

int tt_tune_history_read(const char *path, const char *target, tt_tune_history *hist, int n,
                         int64_t *next_trial, tt_log_stats *stats)
{
    *next_trial = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return tt_error_set("cannot read log '%s': %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return tt_error_set("cannot read log '%s': not a regular file", path);
    scan sc = {.target = target, .hist = hist, .n = n, .next_trial = 0};
    if (tt_log_read(path, TT_LOG_STRICT, visit, &sc, stats) != 0)
        return -1;
    /* A log that holds records, none of them of these tasks, is almost surely the wrong --log
     * (a shared log of many workloads still holds some of ours). Appending to it would mix a
     * new run into another one's journal, so refuse before writing anything. */
    if (sc.records > 0 && sc.ours == 0)
        return tt_error_set("log '%s' holds %lld records, none of them of these tasks (it is a "
                            "log of %s%s): choose another --log",
                            path, (long long)sc.records, sc.first_key,
                            sc.records > 1 ? " and others" : "");
    *next_trial = sc.next_trial;
    return 0;
}

void tt_tune_history_free(tt_tune_history *hist, int n)
{
    for (int i = 0; hist && i < n; i++) {
        for (size_t j = 0; j < hist[i].n; j++)
            free(hist[i].past[j].steps);
        free(hist[i].past);
        hist[i].past = NULL;
        hist[i].n = hist[i].cap = 0;
    }
}
