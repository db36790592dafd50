/* How the tuning loop reports: the progress line redrawn on stderr and the summary table at the
 * end of a run. How it shares the trials between tasks is in task_scheduler.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tt/tune.h"
#include "tuner/tune_internal.h"

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
