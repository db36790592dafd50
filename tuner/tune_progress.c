/* How the tuning loop shares its trial budget between tasks (by weight, round robin, or by the
 * expected reduction of the weighted latency: the gradient scheduler) and how it
 * reports: the progress line redrawn on stderr and the summary table at the end of a run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tt/tune.h"
#include "tuner/tune_internal.h"

int tt_tune_pick_task(const tt_tune_share *tasks, int n, int64_t remaining, int batch, int *count)
{
    *count = 0;
    if (remaining <= 0 || batch < 1)
        return -1;
    int best = -1;
    double weights = 0;
    int64_t done = 0;
    for (int i = 0; i < n; i++) {
        if (!tasks[i].active || !(tasks[i].weight > 0))
            continue;
        weights += tasks[i].weight;
        done += tasks[i].done;
        if (best < 0 ||
            (double)tasks[i].done / tasks[i].weight < (double)tasks[best].done / tasks[best].weight)
            best = i;
    }
    if (best < 0)
        return -1;
    /* The share is of what the active tasks have done and may still do: a task that stopped
     * early leaves its unused trials to the others. */
    double fair = (double)(done + remaining) * tasks[best].weight / weights;
    double want = ceil(fair - (double)tasks[best].done - 1e-9);
    int64_t c = want < 1 ? 1 : (int64_t)fmin(want, (double)INT32_MAX);
    if (c > batch)
        c = batch;
    if (c > remaining)
        c = remaining;
    *count = (int)c;
    return best;
}

static double next_unit(uint64_t *rng)
{
    /* xorshift64*: the scheduler's own stream, so exploration does not disturb the search's */
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

int tt_tune_pick_task_gradient(const tt_tune_share *tasks, int n, int64_t remaining, int batch,
                               uint64_t *rng, int *count)
{
    *count = 0;
    if (remaining <= 0 || batch < 1)
        return -1;
    int nactive = 0;
    for (int i = 0; i < n; i++)
        nactive += tasks[i].active && tasks[i].weight > 0;
    if (nactive == 0)
        return -1;
    int64_t c = batch < remaining ? batch : remaining;
    for (int i = 0; i < n; i++) {
        if (tasks[i].active && tasks[i].weight > 0 && tasks[i].done < batch) {
            int64_t rest = batch - tasks[i].done;
            *count = (int)(rest < c ? rest : c);
            return i;
        }
    }
    *count = (int)c;
    if (nactive > 1 && next_unit(rng) < 0.05) {
        int k = (int)(next_unit(rng) * nactive);
        for (int i = 0; i < n; i++)
            if (tasks[i].active && tasks[i].weight > 0 && k-- == 0)
                return i;
    }
    int best = -1;
    double best_score = -1;
    for (int i = 0; i < n; i++) {
        const tt_tune_share *t = &tasks[i];
        if (!t->active || !(t->weight > 0))
            continue;
        double score;
        if (!isfinite(t->best)) {
            score = INFINITY;
        } else {
            double backward = 0;
            if (t->window > 0 && isfinite(t->best_before))
                backward = fmax(0, t->best_before - t->best) / (double)t->window;
            double forward = t->best / (double)(t->done > 0 ? t->done : 1);
            score = t->weight * (0.5 * backward + 0.5 * forward);
        }
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

void tt_tune_format_duration(double s, char *buf, size_t len)
{
    if (!(s >= 0) || !isfinite(s) || s > 1e9) {
        snprintf(buf, len, "--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void tt_tune_progress_format(const tt_tune_progress *p, char *buf, size_t len)
{
    char best[32], rate[32], eta[32];
    if (p->best_gflops >= 1)
        snprintf(best, sizeof best, "%.1f GFLOPS", p->best_gflops);
    else if (p->best_gflops > 0)
        snprintf(best, sizeof best, "%.2g GFLOPS", p->best_gflops);
    else
        snprintf(best, sizeof best, "-- GFLOPS");
    if (p->rate > 0)
        snprintf(rate, sizeof rate, "%.1f trials/s", p->rate);
    else
        snprintf(rate, sizeof rate, "-- trials/s");
    tt_tune_format_duration(p->eta_s, eta, sizeof eta);
    snprintf(buf, len, "task %d/%d %s | trials %lld/%lld | best %s | %s | ETA %s", p->task,
             p->ntasks, p->name ? p->name : "?", (long long)p->done, (long long)p->asked, best,
             rate, eta);
}

static const char *end_name(tt_tune_task_end e)
{
    switch (e) {
    case TT_TUNE_TASK_BUDGET:
        return "done";
    case TT_TUNE_TASK_EXHAUSTED:
        return "space exhausted";
    case TT_TUNE_TASK_EARLY_STOP:
        return "early stop";
    case TT_TUNE_TASK_TOO_MANY_ERRORS:
        return "too many errors";
    case TT_TUNE_TASK_INTERRUPTED:
        return "interrupted";
    case TT_TUNE_TASK_NOT_STARTED:
        return "not started";
    }
    return "?";
}

void tt_tune_print_summary(const tt_tune_result *r, FILE *f)
{
    int w = 4;
    for (int i = 0; i < r->ntasks; i++) {
        int l = (int)strlen(r->tasks[i].name);
        if (l > w)
            w = l;
    }
    fprintf(f, "%-*s  %7s  %6s  %12s  %10s  %s\n", w, "task", "trials", "errors", "best GFLOPS",
            "best ms", "status");
    for (int i = 0; i < r->ntasks; i++) {
        const tt_tune_task_result *t = &r->tasks[i];
        char gf[32] = "--", ms[32] = "--";
        if (isfinite(t->best_cost)) {
            snprintf(gf, sizeof gf, "%.2f", t->best_gflops);
            snprintf(ms, sizeof ms, "%.4g", t->best_cost * 1e3);
        }
        fprintf(f, "%-*s  %7lld  %6lld  %12s  %10s  %s\n", w, t->name, (long long)t->trials,
                (long long)t->errors, gf, ms, end_name(t->end));
    }
}
