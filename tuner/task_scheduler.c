/* The task scheduler (task_scheduler.h): round robin by weight, and the gradient scheduler that
 * sends the next batch to the task expected to cut the weighted total latency most. */
#include <math.h>

#include "tuner/task_scheduler.h"

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
