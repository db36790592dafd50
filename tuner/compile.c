/* compile, part 2: which schedule each task gets. A task takes its own best record (from
 * compile_records.c), else the nearest tuned workload's of the same op if it lowers for this
 * task, else the default schedule of search/. compile_emit.c writes the result. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lower.h"
#include "search/search.h"
#include "tt/backend.h"
#include "tuner/compile.h"

/* ---- nearest workload ---- */

/* Sizes are positive, but pads and the like may be 0: (a+1)/(b+1) keeps the ratio defined and
 * is close to a/b for the sizes that matter. */
static double json_distance(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        if (x < 0 || y < 0)
            return x == y ? 0 : INFINITY;
        return fabs(log((x + 1) / (y + 1)));
    }
    if (json_typeof(a) != json_typeof(b))
        return INFINITY;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return INFINITY;
        double sum = 0;
        const char *field;
        json_t *va;
        json_object_foreach(a, field, va)
        {
            json_t *vb = json_object_get(b, field);
            if (!vb)
                return INFINITY;
            if (strcmp(field, "name") != 0)
                sum += json_distance(va, vb);
        }
        return sum;
    }
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b))
            return INFINITY;
        double sum = 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            sum += json_distance(json_array_get(a, i), json_array_get(b, i));
        return sum;
    }
    case JSON_STRING:
        return strcmp(json_string_value(a), json_string_value(b)) == 0 ? 0 : INFINITY;
    default:
        return json_equal(a, b) ? 0 : INFINITY; /* true, false, null */
    }
}

int tt_compile_workload_distance(const char *a, const char *b, double *out)
{
    *out = INFINITY;
    json_error_t err;
    json_t *ja = json_loads(a, 0, &err);
    if (!json_is_object(ja)) {
        json_decref(ja);
        return tt_error_set("workload is not a JSON object: %.60s", a);
    }
    json_t *jb = json_loads(b, 0, &err);
    if (!json_is_object(jb)) {
        json_decref(ja);
        json_decref(jb);
        return tt_error_set("workload is not a JSON object: %.60s", b);
    }
    *out = json_distance(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return 0;
}

/* ---- choosing ---- */

void tt_compile_choice_clear(tt_compile_choice *c)
{
    if (!c)
        return;
    free(c->steps);
    if (c->kernel)
        tt_kernel_release(c->kernel);
    free(c->note);
    free(c->warning);
    memset(c, 0, sizeof *c);
}

/* Lowers task under the steps JSON text; -1 with tt_lower's (or the parser's) message. */
static int lower_steps(const tt_task *task, const char *steps, tt_kernel **k)
{
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(steps, &s))
        return -1;
    int rc = tt_lower(task->compute, s, task->name, k);
    tt_schedule_free(s);
    return rc;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int len = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (s) {
        va_start(ap, f);
        vsnprintf(s, (size_t)len + 1, f, ap);
        va_end(ap);
    }
    return s;
}

typedef struct {
    const tt_record *r;
    double dist;
} candidate;

static int by_distance(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    double cx = tt_record_cost(x->r), cy = tt_record_cost(y->r);
    return cx < cy ? -1 : cx > cy;
}

/* The nearest tuned workload whose schedule lowers for task: 1 when found (out filled), 0 when
 * none, -1 on failure. */
static int borrow(const tt_compile_records *recs, const tt_task *task, tt_compile_choice *out)
{
    if (!recs || recs->n == 0)
        return 0;
    candidate *cands = malloc(recs->n * sizeof *cands);
    if (!cands)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < recs->n; i++) {
        const tt_record *r = recs->records[i];
        double d;
        if (strcmp(r->key, task->key) == 0)
            continue;
        /* A record's workload came through the log decoder: an unparsable one is skipped. */
        if (tt_compile_workload_distance(task->canonical_json, r->workload, &d) == 0 && isfinite(d))
            cands[n++] = (candidate){r, d};
    }
    qsort(cands, n, sizeof *cands, by_distance);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        tt_kernel *k = NULL;
        if (lower_steps(task, cands[i].r->steps, &k))
            continue; /* a schedule for other sizes may not fit these: try the next */
        out->source = TT_COMPILE_BORROWED;
        out->kernel = k;
        out->record = cands[i].r;
        out->steps = strdup(cands[i].r->steps);
        out->note =
            fmt("borrowed from workload %s (%.1f GFLOPS there, median %.4f ms), "
                "%s has no record of its own",
                cands[i].r->key, cands[i].r->gflops, tt_record_cost(cands[i].r) * 1e3, task->name);
        found = 1;
    }
    free(cands);
    return found;
}

/* The default schedule of search/ for target t; the plain nest if search cannot give one. */
static int default_schedule(const tt_task *task, const tt_target *t, tt_compile_choice *out)
{
    tt_space_opts opts = {
        .vector_bits = tt_target_vector_bits(t),
        .vector_regs = tt_target_vector_regs(t),
        .num_threads = tt_target_is_host(t) ? tt_backend_num_threads() : 0,
    };
    tt_space *sp = NULL;
    tt_schedule *s = NULL;
    tt_kernel *k = NULL;
    const char *why = NULL;
    char *why_copy = NULL;
    if (tt_space_new(task->compute, &opts, &sp) || tt_space_default(sp, &s) ||
        tt_lower(task->compute, s, task->name, &k)) {
        why_copy = strdup(tt_get_last_error());
        why = why_copy ? why_copy : "?";
        tt_schedule_free(s);
        s = NULL;
    }
    tt_space_free(sp);
    if (!k && tt_lower(task->compute, NULL, task->name, &k)) {
        free(why_copy);
        return tt_error_wrap("task %s: cannot lower even the unscheduled nest", task->name);
    }
    out->source = TT_COMPILE_DEFAULT;
    out->kernel = k;
    out->steps = s ? tt_schedule_to_json(s) : strdup("[]");
    out->note = why ? fmt("unscheduled loop nest (no default schedule: %s)", why)
                    : fmt("default schedule (untuned)");
    tt_schedule_free(s);
    free(why_copy);
    return 0;
}

int tt_compile_choose(const tt_compile_records *recs, const tt_task *task, const tt_target *t,
                      tt_compile_choice *out)
{
    memset(out, 0, sizeof *out);
    const char *target = tt_target_str(t);
    const tt_record *own = tt_compile_records_find(recs, task->key);
    char *stale = NULL; /* why the task's own record was not used */
    if (own) {
        tt_kernel *k = NULL;
        if (lower_steps(task, own->steps, &k) == 0) {
            out->source = TT_COMPILE_TUNED;
            out->kernel = k;
            out->record = own;
            out->steps = strdup(own->steps);
            size_t times = tt_compile_records_measured(recs, own);
            char again[64] = "";
            if (times > 1)
                snprintf(again, sizeof again, ", measured %zu times: the latest counts", times);
            out->note =
                fmt("tuned: %.1f GFLOPS, median %.4f ms (trial %lld%s, tuner %s, %s)", own->gflops,
                    tt_record_cost(own) * 1e3, (long long)own->trial, again, own->tuner, own->time);
            if (!out->steps || !out->note) {
                tt_compile_choice_clear(out);
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            }
            return 0;
        }
        stale = fmt("its tuned record does not lower (%s)", tt_get_last_error());
    }
    int got = borrow(recs, task, out);
    if (got < 0 || (got == 0 && default_schedule(task, t, out)) || !out->note) {
        free(stale);
        tt_compile_choice_clear(out);
        return -1;
    }
    if (out->source == TT_COMPILE_BORROWED)
        out->warning = fmt("task %s: no usable record for target \"%s\"%s%s; borrowed the schedule "
                           "of the nearest tuned workload %s (%.1f GFLOPS there)",
                           task->name, target, stale ? ": " : "", stale ? stale : "",
                           out->record->key, out->record->gflops);
    else
        out->warning = fmt("task %s: no usable record for target \"%s\"%s%s and no tuned %s "
                           "workload whose schedule fits; using the %s",
                           task->name, target, stale ? ": " : "", stale ? stale : "", task->op,
                           strncmp(out->note, "unscheduled", 11) == 0 ? "unscheduled loop nest"
                                                                      : "default schedule");
    free(stale);
    if (!out->steps || !out->warning) {
        tt_compile_choice_clear(out);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return 0;
}
