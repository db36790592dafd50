/* The task scheduler: which task of a tuning run gets the next batch of trials, and how many.
 * Round robin by weight, or the gradient scheduler after Ansor's. The tuning loop (tune.c) asks
 * it once per batch; it sees each task only through a tt_tune_share. */
#ifndef TT_TUNER_TASK_SCHEDULER_H
#define TT_TUNER_TASK_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "tt/runtime.h"

/* A task as the scheduler sees it. */
typedef struct {
    double weight; /* > 0 */
    int64_t done;  /* trials so far (resumed ones included) */
    bool active;   /* still tuning */
    /* For the gradient scheduler: */
    double best;        /* best cost so far, seconds; +inf: no valid candidate yet */
    double best_before; /* best cost `window` trials ago; +inf: none then */
    int64_t window;     /* trials between best_before and best; 0: no history yet */
} tt_tune_share;

/* Picks the next task: the active one furthest behind its weighted share (smallest done/weight,
 * ties to the lower index), and in *count how many trials it gets: at most batch, at most
 * remaining, and at most what brings it to its fair share of (trials of the active tasks +
 * remaining), at least 1. Returns -1 (and *count = 0) when no task is active or remaining <= 0. */
TT_API int tt_tune_pick_task(const tt_tune_share *tasks, int n, int64_t remaining, int batch,
                             int *count);

/* The gradient scheduler (after Ansor's task scheduler): what matters is the weighted total
 * latency sum(weight x best cost), so the next batch goes to the task expected to reduce it most
 * per trial. Every active task first gets one round (a task with done < batch is served first,
 * lowest index first). Then, with probability 1/20 (drawn from *rng), a random active task
 * (exploration); else the task of largest weight x (0.5 x backward + 0.5 x forward), where
 * backward = (best_before - best) / window is its recent improvement per trial and forward =
 * best / done the optimistic one (it could gain its current latency again over as many trials).
 * A task with no valid candidate yet comes first. *count = min(batch, remaining); on a first
 * round at most what completes it. Returns -1 (and *count = 0) when no task is active or
 * remaining <= 0. */
TT_API int tt_tune_pick_task_gradient(const tt_tune_share *tasks, int n, int64_t remaining,
                                      int batch, uint64_t *rng, int *count);

#endif
