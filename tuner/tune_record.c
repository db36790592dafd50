/* One candidate of the tuning loop from run to record: the measurement request, the log record
 * (appended and flushed before the next candidate starts) and database row, the bookkeeping that
 * follows (best, error streaks, stop rules, progress) and the end-of-task re-measurement. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lower.h"
#include "tt/cost.h"
#include "tuner/tune_state.h"

void tt_tune_say(tuner *t, const char *fmt, ...)
{
    if (t->line_open) {
        fputs("\r\033[K", t->out);
        t->line_open = false;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fflush(t->out);
    if (t->tty)
        t->last_draw = -1; /* redraw the progress line below the message */
}

void tt_tune_request(tuner *t, task_state *ts, const char *path, bool prune, tt_run_request *req)
{
    const tt_measure_opts *m = &t->file->measure;
    *req = (tt_run_request){.lib_path = path,
                            .func_name = ts->task->name,
                            .args = ts->args,
                            .n_args = ts->nargs,
                            .seed = t->o->seed,
                            .timeout_s = t->timeout_s,
                            .num_threads = t->ndev ? 0 : t->threads,
                            .pin_cpu = t->overlap,
                            .cpu = t->measure_cpu};
    if (ts->ref) {
        req->ref_output = ts->ref;
        req->ref_nbytes = ts->ref_nbytes;
    }
    tt_timing_opts_default(&req->timing);
    req->timing.repeat = m->repeat < TT_MEASURE_MAX_REPEAT ? m->repeat : TT_MEASURE_MAX_REPEAT;
    req->timing.min_repeat_ms = m->min_repeat_ms;
    req->timing.flush_cache = m->flush_cache;
    req->timing.best_so_far = prune && isfinite(ts->best_cost) ? ts->best_cost : 0;
}

void tt_tune_count_timed(tuner *t, const tt_run_result *rr)
{
    if (rr->error == TT_OUTCOME_OK)
        for (int i = 0; i < rr->timing.n_costs; i++) {
            t->timed_s += rr->timing.costs[i] * rr->timing.number;
            t->repeats++;
            t->disturbed += rr->timing.switches[i] > 0;
        }
}

int tt_tune_run_one(tuner *t, task_state *ts, const char *path, bool prune, tt_run_result *rr,
                    const char **device)
{
    tt_run_request req;
    tt_tune_request(t, ts, path, prune, &req);
    *device = NULL;
    int rc = t->ndev ? tt_tune_remote_run(t, &req, rr, device) : tt_runner_local_run(&req, rr);
    if (rc != 0)
        return tt_error_wrap("measuring a candidate of %s", ts->task->name);
    tt_tune_count_timed(t, rr);
    return 0;
}

int tt_tune_log(tuner *t, task_state *ts, const tt_tune_outcome *oc)
{
    char now[TT_RECORD_TIME_LEN];
    tt_record_time_now(now);
    double cost = oc->error == 0 ? tt_cost_median(oc->costs, (size_t)oc->n_costs) : INFINITY;
    double flops = tt_compute_flops(ts->task->compute);
    double gflops = oc->error == 0 && cost > 0 ? flops / cost / 1e9 : 0;
    tt_record r = {
        .key = ts->task->key,
        .workload = ts->task->canonical_json,
        .target = t->target_str,
        .steps = oc->steps,
        .costs = oc->error == 0 ? oc->costs : NULL,
        .n_costs = oc->error == 0 ? (size_t)oc->n_costs : 0,
        .error = oc->error,
        .error_msg = oc->msg ? oc->msg : "",
        .build_s = isfinite(oc->build_s) && oc->build_s > 0 ? oc->build_s : 0,
        .gflops = isfinite(gflops) ? gflops : 0,
        .time = now,
        .tuner = t->o->tuner,
        .trial = oc->trial,
        .seed = (int64_t)t->o->seed,
        .device = oc->device ? oc->device : "",
    };
    if (tt_log_append(t->log, &r) != 0)
        return -1;
    if (t->db) {
        if (tt_db_add_record(t->db, &r, t->run_id, NULL) != 0) {
            /* The log is the journal; the database can import it again later. */
            if (!t->db_warned)
                tt_tune_say(t,
                            "tvm-tune: warning: database %s: %s (the log keeps every "
                            "record; import it later with `tvm-tune db import`)\n",
                            tt_db_path(t->db), tt_get_last_error());
            t->db_warned = true;
        }
    }
    if (t->o->on_record && t->o->on_record(&r, t->o->on_record_ctx) != 0)
        return tt_error_wrap("trial %lld", (long long)oc->trial);
    return 0;
}

void tt_tune_tally_reset(task_state *ts)
{
    ts->ntally = 0;
}

static void tally(task_state *ts, int code, const char *msg)
{
    char m[sizeof ts->tally[0].msg];
    snprintf(m, sizeof m, "%s", msg ? msg : "");
    for (int i = 0; i < ts->ntally; i++) {
        if (ts->tally[i].code == code && strcmp(ts->tally[i].msg, m) == 0) {
            ts->tally[i].count++;
            return;
        }
    }
    if (ts->ntally == TT_TUNE_MAX_TALLY)
        return;
    tally_entry *e = &ts->tally[ts->ntally++];
    e->code = code;
    memcpy(e->msg, m, sizeof m);
    e->count = 1;
}

static char *diagnose(const task_state *ts)
{
    const tally_entry *most = NULL;
    for (int i = 0; i < ts->ntally; i++)
        if (!most || ts->tally[i].count > most->count)
            most = &ts->tally[i];
    char buf[512];
    const char *name = most ? tt_record_error_name(most->code) : NULL;
    snprintf(buf, sizeof buf,
             "stopped after %d failed candidates in a row; most common: %s: %s (%d of them)",
             ts->errors_in_row, name ? name : "unknown", most ? most->msg : "",
             most ? most->count : 0);
    return strdup(buf);
}

static void note_cost(task_state *ts, int64_t trial, const char *steps, int error, double cost);

static void curve_push(task_state *ts)
{
    if (ts->ncurve == ts->capcurve) {
        int64_t cap = ts->capcurve ? 2 * ts->capcurve : 64;
        double *c = realloc(ts->curve, (size_t)cap * sizeof *c);
        if (!c)
            return; /* the scheduler then sees a shorter history, nothing worse */
        ts->curve = c;
        ts->capcurve = cap;
    }
    ts->curve[ts->ncurve++] = ts->best_cost;
}

void tt_tune_note_result(task_state *ts, int64_t trial, const char *steps, int error, double cost)
{
    note_cost(ts, trial, steps, error, cost);
    curve_push(ts);
}

static void note_cost(task_state *ts, int64_t trial, const char *steps, int error, double cost)
{
    if (error != 0 || !isfinite(cost)) {
        ts->errors++;
        ts->since_improvement++;
        return;
    }
    if (cost < ts->best_cost) {
        char *copy = strdup(steps);
        if (copy) {
            free(ts->best_steps);
            ts->best_steps = copy;
            ts->best_cost = cost;
            ts->best_trial = trial;
            double flops = tt_compute_flops(ts->task->compute);
            ts->best_gflops = cost > 0 ? flops / cost / 1e9 : 0;
        }
        ts->since_improvement = 0;
    } else {
        ts->since_improvement++;
    }
    /* Keep the top list sorted; a candidate only enters if it beats the last one. */
    int pos = ts->ntop;
    while (pos > 0 && cost < ts->top[pos - 1].cost)
        pos--;
    if (pos >= TT_TUNE_MAX_TOP)
        return;
    char *copy = strdup(steps);
    if (!copy)
        return;
    if (ts->ntop == TT_TUNE_MAX_TOP)
        free(ts->top[--ts->ntop].steps);
    memmove(&ts->top[pos + 1], &ts->top[pos], (size_t)(ts->ntop - pos) * sizeof ts->top[0]);
    ts->top[pos] = (top_entry){.cost = cost, .trial = trial, .steps = copy};
    ts->ntop++;
}

void tt_tune_after_candidate(tuner *t, task_state *ts, const tt_tune_outcome *oc)
{
    ts->done++;
    ts->run_trials++;
    t->done_total++;
    t->run_trials++;
    if (t->db && tt_db_run_update(t->db, t->run_id, t->run_trials) != 0 && !t->db_warned) {
        tt_tune_say(t, "tvm-tune: warning: database %s: %s\n", tt_db_path(t->db),
                    tt_get_last_error());
        t->db_warned = true;
    }
    double cost = oc->error == 0 ? tt_cost_median(oc->costs, (size_t)oc->n_costs) : INFINITY;
    tt_tune_note_result(ts, oc->trial, oc->steps, oc->error, cost);
    if (oc->error != 0) {
        ts->errors_in_row++;
        tally(ts, oc->error, oc->msg);
        if (t->o->verbose)
            tt_tune_say(t, "trial %lld %s: %s: %s\n", (long long)oc->trial, ts->task->name,
                        tt_record_error_name(oc->error), oc->msg ? oc->msg : "");
    } else {
        ts->errors_in_row = 0;
        tt_tune_tally_reset(ts);
    }
    if (ts->errors_in_row >= t->max_errors) {
        ts->active = false;
        ts->end = TT_TUNE_TASK_TOO_MANY_ERRORS;
        free(ts->diagnosis);
        ts->diagnosis = diagnose(ts);
        tt_tune_say(t, "tvm-tune: task %s: %s\n", ts->task->name,
                    ts->diagnosis ? ts->diagnosis : "too many errors");
    } else if (t->o->early_stopping > 0 && ts->since_improvement >= t->o->early_stopping) {
        ts->active = false;
        ts->end = TT_TUNE_TASK_EARLY_STOP;
    }
    tt_tune_progress_draw(t, !ts->active);
}

/* ---- progress ---- */

void tt_tune_progress_draw(tuner *t, bool force)
{
    if (t->o->quiet)
        return;
    double now = tt_tune_now();
    /* A terminal gets the line redrawn in place; a file or pipe one line now and then. */
    if (!t->tty && !force && t->last_draw >= 0 && now - t->last_draw < 5 &&
        t->run_trials - t->last_drawn < 10)
        return;
    const task_state *ts = &t->ts[t->current];
    double elapsed = now - t->start;
    double rate = elapsed > 0 && t->run_trials > 0 ? (double)t->run_trials / elapsed : 0;
    int64_t left = t->o->trials - t->done_total;
    tt_tune_progress p = {.task = t->current + 1,
                          .ntasks = t->nt,
                          .name = ts->task->name,
                          .done = t->done_total,
                          .asked = t->o->trials,
                          .best_gflops = isfinite(ts->best_cost) ? ts->best_gflops : 0,
                          .rate = rate,
                          .eta_s = rate > 0 ? (double)(left > 0 ? left : 0) / rate : -1};
    char line[512];
    tt_tune_progress_format(&p, line, sizeof line);
    if (t->tty) {
        fprintf(t->out, "\r\033[K%s", line);
        t->line_open = true;
    } else {
        fprintf(t->out, "%s\n", line);
    }
    fflush(t->out);
    t->last_draw = now;
    t->last_drawn = t->run_trials;
}

void tt_tune_progress_end(tuner *t)
{
    if (t->line_open) {
        fputc('\n', t->out);
        fflush(t->out);
        t->line_open = false;
    }
}

/* ---- the end of a task ---- */

int tt_tune_remeasure(tuner *t, task_state *ts)
{
    int n = ts->ntop < t->top ? ts->ntop : t->top;
    if (n == 0)
        return 0;
    if (!t->o->quiet)
        tt_tune_say(t, "task %d/%d %s: measuring the best %d again\n", t->current + 1, t->nt,
                    ts->task->name, n);
    tt_tune_build_item items[TT_TUNE_MAX_TOP] = {0};
    tt_build_job jobs[TT_TUNE_MAX_TOP];
    tt_build_result *br = calloc((size_t)n, sizeof *br);
    if (!br)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int nb = 0, rc = 0;
    int which[TT_TUNE_MAX_TOP];
    for (int i = 0; i < n; i++) {
        tt_schedule *s = NULL;
        tt_kernel *k = NULL;
        if (tt_schedule_from_json(ts->top[i].steps, &s) != 0 ||
            tt_lower(ts->task->compute, s, ts->task->name, &k) != 0) {
            tt_schedule_free(s);
            continue; /* measured fine before: cannot happen unless lowering changed */
        }
        tt_schedule_free(s);
        items[nb] = (tt_tune_build_item){.kernel = k, .target = t->target};
        jobs[nb] = (tt_build_job){.build = tt_tune_build, .ctx = items};
        which[nb++] = i;
    }
    if (nb > 0 && tt_builder_run(jobs, nb, t->jobs, t->timeout_s, br) != 0)
        rc = -1;
    int win = -1;
    double win_cost = INFINITY;
    tt_run_result rr, win_rr;
    const char *device = NULL, *win_device = NULL;
    for (int b = 0; rc == 0 && b < nb && !tt_tune_stopped(t); b++) {
        if (br[b].error != TT_OUTCOME_OK)
            continue;
        if (tt_tune_run_one(t, ts, br[b].path, false, &rr, &device) != 0) {
            rc = -1;
            break;
        }
        if (rr.error == TT_OUTCOME_OK && t->o->verbose) {
            /* The spread of logged figures that the model learns from (issue 13, item 4). */
            double flops = tt_compute_flops(ts->task->compute), was = ts->top[which[b]].cost;
            tt_tune_say(t, "  trial %lld: logged %.1f GFLOPS, measured again %.1f (x%.2f)\n",
                        (long long)ts->top[which[b]].trial, flops / was / 1e9,
                        flops / rr.timing.cost / 1e9, was / rr.timing.cost);
        }
        if (rr.error == TT_OUTCOME_OK && rr.timing.cost < win_cost) {
            win = b;
            win_cost = rr.timing.cost;
            win_rr = rr;
            win_device = device;
        }
    }
    if (rc == 0 && win >= 0 && !tt_tune_stopped(t)) {
        const top_entry *e = &ts->top[which[win]];
        tt_tune_outcome oc = {.trial = e->trial,
                              .steps = e->steps,
                              .costs = win_rr.timing.costs,
                              .n_costs = win_rr.timing.n_costs,
                              .build_s = br[win].build_s,
                              .device = win_device};
        rc = tt_tune_log(t, ts, &oc);
        if (rc == 0) {
            char *copy = strdup(e->steps);
            if (copy) {
                free(ts->best_steps);
                ts->best_steps = copy;
                ts->best_trial = e->trial;
                ts->best_cost = tt_cost_median(win_rr.timing.costs, (size_t)win_rr.timing.n_costs);
                double flops = tt_compute_flops(ts->task->compute);
                ts->best_gflops = ts->best_cost > 0 ? flops / ts->best_cost / 1e9 : 0;
            }
        }
    } else if (rc == 0 && nb > 0 && !tt_tune_stopped(t)) {
        tt_tune_say(t, "tvm-tune: warning: task %s: no candidate survived the re-measurement\n",
                    ts->task->name);
    }
    tt_builder_cleanup(br, nb);
    for (int i = 0; i < nb; i++)
        tt_kernel_release(items[i].kernel);
    free(br);
    return rc;
}
