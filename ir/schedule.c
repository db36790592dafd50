/* Schedule steps: the list search builds, logs store as JSON and ir/lower.c replays. Only the
 * shape of each step is checked here; whether it applies to a compute is lowering's business. */
#include "ir/schedule.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tt_schedule {
    int n, cap;
    tt_step *steps;
};

static const char *kind_names[] = {"split",  "reorder",     "fuse",       "parallel", "vectorize",
                                   "unroll", "cache_write", "compute_at", "inline",   "pack"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TT_STEP_COUNT, "a step without a name");

const char *tt_step_kind_name(tt_step_kind k)
{
    return (k >= 0 && k < TT_STEP_COUNT) ? kind_names[k] : "?";
}

static void step_clear(tt_step *st)
{
    free(st->stage);
    for (int i = 0; i < st->nloops; i++)
        free(st->loops[i]);
    free(st->loops);
    free(st->factors);
    free(st->target);
    free(st->tensor);
    memset(st, 0, sizeof *st);
}

tt_schedule *tt_schedule_new(void)
{
    tt_schedule *s = calloc(1, sizeof *s);
    if (!s)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    return s;
}

void tt_schedule_free(tt_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        step_clear(&s->steps[i]);
    free(s->steps);
    free(s);
}

int tt_schedule_size(const tt_schedule *s)
{
    return s ? s->n : 0;
}

const tt_step *tt_schedule_step(const tt_schedule *s, int i)
{
    return (s && i >= 0 && i < s->n) ? &s->steps[i] : NULL;
}

void tt_schedule_truncate(tt_schedule *s, int n)
{
    while (s && n-- > 0 && s->n > 0)
        step_clear(&s->steps[--s->n]);
}

static char *dup(const char *x)
{
    return x ? strdup(x) : NULL;
}

/* Deep-copies src into dst (zeroed); -1 when out of memory (dst then cleared). */
static int step_copy(tt_step *dst, const tt_step *src)
{
    *dst = *src;
    dst->stage = dup(src->stage);
    dst->target = dup(src->target);
    dst->tensor = dup(src->tensor);
    dst->loops = src->nloops ? calloc((size_t)src->nloops, sizeof *dst->loops) : NULL;
    dst->factors = src->nfactors ? malloc((size_t)src->nfactors * sizeof *dst->factors) : NULL;
    bool ok = dst->stage && (!src->target || dst->target) && (!src->tensor || dst->tensor) &&
              (!src->nloops || dst->loops) && (!src->nfactors || dst->factors);
    if (dst->loops)
        for (int i = 0; i < src->nloops; i++)
            ok = (dst->loops[i] = dup(src->loops[i])) && ok;
    if (dst->factors)
        memcpy(dst->factors, src->factors, (size_t)src->nfactors * sizeof *src->factors);
    if (!ok) {
        if (!dst->loops)
            dst->nloops = 0;
        step_clear(dst);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory copying a schedule step");
    }
    return 0;
}

static int push(tt_schedule *s, const tt_step *st)
{
    if (!s)
        return tt_error_set("schedule: NULL");
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        tt_step *n = realloc(s->steps, (size_t)cap * sizeof *n);
        if (!n)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        s->steps = n;
        s->cap = cap;
    }
    if (step_copy(&s->steps[s->n], st) != 0)
        return -1;
    s->n++;
    return 0;
}

tt_schedule *tt_schedule_copy(const tt_schedule *s)
{
    tt_schedule *c = tt_schedule_new();
    for (int i = 0; c && s && i < s->n; i++)
        if (push(c, &s->steps[i]) != 0) {
            tt_schedule_free(c);
            return NULL;
        }
    return c;
}

static int check_name(const char *what, const char *name, tt_step_kind k)
{
    if (!name || !*name)
        return tt_error_set("%s: %s name is missing", tt_step_kind_name(k), what);
    return 0;
}

/* Adds a step whose loops are given; the step's other fields come from proto. */
static int add(tt_schedule *s, tt_step proto, int nloops, const char *const *loops)
{
    if (check_name("stage", proto.stage, proto.kind) != 0)
        return -1;
    for (int i = 0; i < nloops; i++)
        if (!loops[i])
            return tt_error_set("%s %s: loop %d is missing", tt_step_kind_name(proto.kind),
                                proto.stage, i);
    proto.nloops = nloops;
    proto.loops = (char **)loops; /* copied by push */
    return push(s, &proto);
}

int tt_schedule_split(tt_schedule *s, const char *stage, const char *loop, int nfactors,
                      const int64_t *factors)
{
    if (nfactors <= 0 || !factors)
        return tt_error_set("split %s.%s: expected at least one factor", stage ? stage : "?",
                            loop ? loop : "?");
    tt_step p = {.kind = TT_STEP_SPLIT,
                 .stage = (char *)stage,
                 .nfactors = nfactors,
                 .factors = (int64_t *)factors};
    return add(s, p, 1, &loop);
}

int tt_schedule_reorder(tt_schedule *s, const char *stage, int nloops, const char *const *loops)
{
    if (nloops <= 0 || !loops)
        return tt_error_set("reorder %s: expected at least one loop", stage ? stage : "?");
    return add(s, (tt_step){.kind = TT_STEP_REORDER, .stage = (char *)stage}, nloops, loops);
}

int tt_schedule_fuse(tt_schedule *s, const char *stage, int nloops, const char *const *loops)
{
    if (nloops < 2 || !loops)
        return tt_error_set("fuse %s: expected at least two loops", stage ? stage : "?");
    return add(s, (tt_step){.kind = TT_STEP_FUSE, .stage = (char *)stage}, nloops, loops);
}

static int one_loop(tt_schedule *s, tt_step_kind k, const char *stage, const char *loop)
{
    return add(s, (tt_step){.kind = k, .stage = (char *)stage}, 1, &loop);
}

int tt_schedule_parallel(tt_schedule *s, const char *stage, const char *loop)
{
    return one_loop(s, TT_STEP_PARALLEL, stage, loop);
}
int tt_schedule_vectorize(tt_schedule *s, const char *stage, const char *loop)
{
    return one_loop(s, TT_STEP_VECTORIZE, stage, loop);
}
int tt_schedule_unroll(tt_schedule *s, const char *stage, const char *loop)
{
    return one_loop(s, TT_STEP_UNROLL, stage, loop);
}
int tt_schedule_cache_write(tt_schedule *s, const char *stage, const char *loop)
{
    return one_loop(s, TT_STEP_CACHE_WRITE, stage, loop ? loop : "");
}

int tt_schedule_compute_at(tt_schedule *s, const char *stage, const char *target, const char *loop)
{
    if (check_name("target", target, TT_STEP_COMPUTE_AT) != 0)
        return -1;
    tt_step p = {.kind = TT_STEP_COMPUTE_AT, .stage = (char *)stage, .target = (char *)target};
    return add(s, p, 1, &loop);
}

int tt_schedule_inline(tt_schedule *s, const char *stage)
{
    return add(s, (tt_step){.kind = TT_STEP_INLINE, .stage = (char *)stage}, 0, NULL);
}

int tt_schedule_pack(tt_schedule *s, const char *stage, const char *tensor, int dim, int64_t factor)
{
    if (check_name("tensor", tensor, TT_STEP_PACK) != 0)
        return -1;
    if (factor <= 0 || dim < 0)
        return tt_error_set("pack %s: dim %d factor %lld, expected dim >= 0 and factor > 0", tensor,
                            dim, (long long)factor);
    tt_step p = {.kind = TT_STEP_PACK,
                 .stage = (char *)stage,
                 .tensor = (char *)tensor,
                 .dim = dim,
                 .factor = factor};
    return add(s, p, 0, NULL);
}

/* ---- JSON ---- */

static const char *str_field(json_t *o, const char *key, int idx)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        tt_error_set("step %d: field \"%s\": expected a string", idx, key);
        return NULL;
    }
    return json_string_value(v);
}

/* Reads an array of strings (want_str) or of integers into newly allocated storage. */
static int array_field(json_t *o, const char *key, int idx, bool want_str, int *n, void **out)
{
    json_t *a = json_object_get(o, key);
    size_t len = json_array_size(a);
    if (!json_is_array(a) || len == 0 || len > 64)
        return tt_error_set("step %d: field \"%s\": expected a non-empty array of %s", idx, key,
                            want_str ? "loop names" : "integers");
    void *buf = calloc(len, want_str ? sizeof(char *) : sizeof(int64_t));
    if (!buf)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(a, i);
        if (want_str ? !json_is_string(v) : !json_is_integer(v)) {
            free(buf);
            return tt_error_set("step %d: field \"%s\": element %zu: expected %s", idx, key, i,
                                want_str ? "a string" : "an integer");
        }
        if (want_str)
            ((const char **)buf)[i] = json_string_value(v);
        else
            ((int64_t *)buf)[i] = json_integer_value(v);
    }
    *n = (int)len;
    *out = buf;
    return 0;
}

static int check_keys(json_t *o, int idx, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = strcmp(key, "s") == 0 || strcmp(key, "stage") == 0;
        for (int i = 0; !ok && allowed[i]; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return tt_error_set("step %d: unknown field \"%s\"", idx, key);
    }
    return 0;
}

static int add_value(tt_schedule *s, json_t *o, int idx)
{
    if (!json_is_object(o))
        return tt_error_set("step %d: expected an object", idx);
    const char *kind = str_field(o, "s", idx);
    if (!kind)
        return -1;
    int k = 0;
    while (k < TT_STEP_COUNT && strcmp(kind_names[k], kind) != 0)
        k++;
    if (k == TT_STEP_COUNT)
        return tt_error_set("step %d: unknown step kind \"%s\"", idx, kind);
    const char *stage = str_field(o, "stage", idx);
    if (!stage)
        return -1;
    static const char *const k_loop[] = {"loop", NULL}, *const k_loops[] = {"loops", NULL},
                             *const k_split[] = {"loop", "factors", NULL},
                             *const k_at[] = {"target", "loop", NULL}, *const k_none[] = {NULL},
                             *const k_pack[] = {"tensor", "dim", "factor", NULL};
    const char *const *allowed = k_loop;
    int rc = -1, n = 0;
    void *arr = NULL;
    const char *loop = NULL, *target = NULL;
    switch ((tt_step_kind)k) {
    case TT_STEP_SPLIT:
        allowed = k_split;
        if ((loop = str_field(o, "loop", idx)) &&
            array_field(o, "factors", idx, false, &n, &arr) == 0)
            rc = tt_schedule_split(s, stage, loop, n, arr);
        break;
    case TT_STEP_REORDER:
    case TT_STEP_FUSE:
        allowed = k_loops;
        if (array_field(o, "loops", idx, true, &n, &arr) == 0)
            rc = k == TT_STEP_REORDER ? tt_schedule_reorder(s, stage, n, arr)
                                      : tt_schedule_fuse(s, stage, n, arr);
        break;
    case TT_STEP_PARALLEL:
    case TT_STEP_VECTORIZE:
    case TT_STEP_UNROLL:
    case TT_STEP_CACHE_WRITE:
        if ((loop = str_field(o, "loop", idx)))
            rc = one_loop(s, (tt_step_kind)k, stage, loop);
        break;
    case TT_STEP_COMPUTE_AT:
        allowed = k_at;
        if ((target = str_field(o, "target", idx)) && (loop = str_field(o, "loop", idx)))
            rc = tt_schedule_compute_at(s, stage, target, loop);
        break;
    case TT_STEP_INLINE:
        allowed = k_none;
        rc = tt_schedule_inline(s, stage);
        break;
    case TT_STEP_PACK: {
        allowed = k_pack;
        const char *tensor = str_field(o, "tensor", idx);
        json_t *d = json_object_get(o, "dim"), *f = json_object_get(o, "factor");
        if (tensor && (!json_is_integer(d) || !json_is_integer(f) || json_integer_value(d) < 0 ||
                       json_integer_value(d) > 64))
            tt_error_set("step %d: fields \"dim\" and \"factor\": expected integers, dim in "
                         "0..64",
                         idx);
        else if (tensor)
            rc = tt_schedule_pack(s, stage, tensor, (int)json_integer_value(d),
                                  json_integer_value(f));
        break;
    }
    default:
        break;
    }
    free(arr);
    if (rc != 0)
        return -1;
    if (check_keys(o, idx, allowed) != 0) {
        tt_schedule_truncate(s, 1);
        return -1;
    }
    return 0;
}

int tt_schedule_add_json(tt_schedule *s, const char *step_json)
{
    json_error_t err;
    json_t *o = json_loads(step_json ? step_json : "", JSON_REJECT_DUPLICATES, &err);
    if (!o)
        return tt_error_set("step: invalid JSON at %d:%d: %s", err.line, err.column, err.text);
    int rc = add_value(s, o, tt_schedule_size(s));
    json_decref(o);
    return rc;
}

int tt_schedule_from_json(const char *text, tt_schedule **out)
{
    *out = NULL;
    json_error_t err;
    json_t *a = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &err);
    if (!a)
        return tt_error_set("steps: invalid JSON at %d:%d: %s", err.line, err.column, err.text);
    if (!json_is_array(a)) {
        json_decref(a);
        return tt_error_set("steps: expected a JSON array of steps");
    }
    tt_schedule *s = tt_schedule_new();
    for (size_t i = 0; s && i < json_array_size(a); i++)
        if (add_value(s, json_array_get(a, i), (int)i) != 0) {
            tt_schedule_free(s);
            s = NULL;
        }
    json_decref(a);
    *out = s;
    return s ? 0 : -1;
}

static json_t *step_json(const tt_step *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "s", json_string(tt_step_kind_name(st->kind)));
    json_object_set_new(o, "stage", json_string(st->stage));
    switch (st->kind) {
    case TT_STEP_SPLIT: {
        json_object_set_new(o, "loop", json_string(st->loops[0]));
        json_t *f = json_array();
        for (int i = 0; i < st->nfactors; i++)
            json_array_append_new(f, json_integer(st->factors[i]));
        json_object_set_new(o, "factors", f);
        break;
    }
    case TT_STEP_REORDER:
    case TT_STEP_FUSE: {
        json_t *l = json_array();
        for (int i = 0; i < st->nloops; i++)
            json_array_append_new(l, json_string(st->loops[i]));
        json_object_set_new(o, "loops", l);
        break;
    }
    case TT_STEP_COMPUTE_AT:
        json_object_set_new(o, "target", json_string(st->target));
        json_object_set_new(o, "loop", json_string(st->loops[0]));
        break;
    case TT_STEP_INLINE:
        break;
    case TT_STEP_PACK:
        json_object_set_new(o, "tensor", json_string(st->tensor));
        json_object_set_new(o, "dim", json_integer(st->dim));
        json_object_set_new(o, "factor", json_integer(st->factor));
        break;
    default:
        json_object_set_new(o, "loop", json_string(st->loops[0]));
        break;
    }
    return o;
}

char *tt_schedule_to_json(const tt_schedule *s)
{
    json_t *a = json_array();
    for (int i = 0; s && i < s->n; i++)
        json_array_append_new(a, step_json(&s->steps[i]));
    /* JSON_PRESERVE_ORDER keeps the insertion order above: that is the canonical key order. */
    char *text = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(a);
    if (!text)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory encoding a schedule");
    return text;
}

const char *tt_step_describe(const tt_step *st)
{
    static _Thread_local char buf[256];
    int n = snprintf(buf, sizeof buf, "%s %s", tt_step_kind_name(st->kind), st->stage);
    for (int i = 0; i < st->nloops && n < (int)sizeof buf; i++)
        if (*st->loops[i]) /* cache_write of the whole stage names no loop */
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s", i ? "," : ".", st->loops[i]);
    if (st->kind == TT_STEP_COMPUTE_AT && n < (int)sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " at %s", st->target);
    if (st->kind == TT_STEP_PACK && n < (int)sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " %s", st->tensor);
    return buf;
}
