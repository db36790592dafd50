/* op.json parsing: jansson reads the file, a small scanner of the same text records where each
 * field sits (jansson keeps no positions per value) so every message names file:line:col; the
 * field checkers, file-level settings and the API. Tasks themselves: ir/opjson_task.c. */
#include "ir/opjson.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/opjson_check.h"
#include "runtime/text.h"

uint32_t tt_fnv1a32(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

void tt_measure_opts_default(tt_measure_opts *m)
{
    *m = (tt_measure_opts){.repeat = 3,
                           .min_repeat_ms = 50,
                           .timeout_s = 10,
                           .flush_cache = false,
                           .check = true,
                           .threads = 0};
}

/* ---- positions: path ("tasks[1].stride[0]") -> line:col of its key and value ---- */

typedef struct {
    const char *s;
    size_t i;
    int line, col;
    pos *v;
    int n, cap;
    int depth;
} scanner;

static void sc_adv(scanner *sc)
{
    if (sc->s[sc->i] == '\n') {
        sc->line++;
        sc->col = 1;
    } else if (((unsigned char)sc->s[sc->i] & 0xc0) != 0x80) {
        sc->col++; /* columns count characters, as jansson's do */
    }
    sc->i++;
}

static void sc_ws(scanner *sc)
{
    while (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
           sc->s[sc->i] == '\r')
        sc_adv(sc);
}

static void sc_string(scanner *sc)
{
    sc_adv(sc); /* opening quote */
    while (sc->s[sc->i] && sc->s[sc->i] != '"') {
        if (sc->s[sc->i] == '\\' && sc->s[sc->i + 1])
            sc_adv(sc);
        sc_adv(sc);
    }
    if (sc->s[sc->i])
        sc_adv(sc);
}

static pos *sc_add(scanner *sc, const char *path)
{
    if (sc->n == sc->cap) {
        int cap = sc->cap ? 2 * sc->cap : 64;
        pos *v = realloc(sc->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        sc->v = v;
        sc->cap = cap;
    }
    pos *p = &sc->v[sc->n];
    if (!(p->path = strdup(path)))
        return NULL;
    sc->n++;
    return p;
}

/* The text is valid JSON (jansson accepted it), so this only walks it. */
static int sc_value(scanner *sc, const char *path, int kline, int kcol)
{
    sc_ws(sc);
    pos *p = sc_add(sc, path);
    if (!p || ++sc->depth > 64)
        return -1;
    p->kline = kline, p->kcol = kcol, p->vline = sc->line, p->vcol = sc->col;
    char c = sc->s[sc->i];
    size_t plen = strlen(path);
    char *sub = malloc(plen + 32);
    if (!sub)
        return -1;
    int rc = 0;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        sc_adv(sc);
        for (int idx = 0;; idx++) {
            sc_ws(sc);
            if (sc->s[sc->i] == close || !sc->s[sc->i])
                break;
            int kl = sc->line, kc = sc->col;
            if (c == '{') {
                size_t k0 = sc->i + 1;
                sc_string(sc);
                size_t klen = sc->i - 1 - k0;
                char *np = realloc(sub, plen + klen + 32);
                if (!np) {
                    rc = -1;
                    break;
                }
                sub = np;
                snprintf(sub, plen + klen + 32, "%s%s%.*s", path, plen ? "." : "", (int)klen,
                         sc->s + k0);
                sc_ws(sc);
                sc_adv(sc); /* ':' */
            } else {
                snprintf(sub, plen + 32, "%s[%d]", path, idx);
            }
            if (sc_value(sc, sub, kl, kc) < 0) {
                rc = -1;
                break;
            }
            sc_ws(sc);
            if (sc->s[sc->i] == ',')
                sc_adv(sc);
        }
        if (sc->s[sc->i])
            sc_adv(sc);
    } else if (c == '"') {
        sc_string(sc);
    } else {
        while (sc->s[sc->i] && !strchr(",]} \t\r\n", sc->s[sc->i]))
            sc_adv(sc);
    }
    free(sub);
    sc->depth--;
    return rc;
}

/* ---- checking context ---- */

static int pos_cmp(const void *a, const void *b)
{
    return strcmp(((const pos *)a)->path, ((const pos *)b)->path);
}

/* Positions are sorted by path once scanned (paths are unique: jansson rejects duplicate keys),
 * so a file of many tasks is not quadratic. */
const pos *opj_find_pos(const ctx *x, const char *path)
{
    pos key = {.path = (char *)path};
    return x->npos ? bsearch(&key, x->pos, (size_t)x->npos, sizeof *x->pos, pos_cmp) : NULL;
}

/* "file:line:col: field \"M\": <message>"; at_key puts the position on the key rather than the
 * value (unknown fields). The field is the last component of path. */
int opj_ferr(const ctx *x, const char *path, int at_key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const pos *p = opj_find_pos(x, path);
    int line = p ? (at_key ? p->kline : p->vline) : 1, col = p ? (at_key ? p->kcol : p->vcol) : 1;
    const char *field = strrchr(path, '.');
    field = field ? field + 1 : path;
    if (!*field || (field[0] == 't' && strncmp(path, "tasks[", 6) == 0 && !strchr(path, '.')))
        return tt_error_setc(TT_ERR_PARSE, "%s:%d:%d: %s", x->file, line, col, msg);
    return tt_error_setc(TT_ERR_PARSE, "%s:%d:%d: field \"%s\": %s", x->file, line, col, field,
                         msg);
}

char *opj_show(const json_t *v)
{
    static _Thread_local char buf[96];
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, sizeof buf, "%s%s", s ? s : "?", s && strlen(s) > 80 ? "..." : "");
    if (s && strlen(s) > 80)
        memcpy(buf + 77, "...", 4);
    free(s);
    return buf;
}

void opj_join_path(char *out, size_t n, const char *base, const char *key)
{
    snprintf(out, n, "%s%s%s", base, *base ? "." : "", key);
}

int opj_get_size(const ctx *x, const json_t *o, const char *base, const char *key, int64_t def,
                 int64_t *out)
{
    char path[512];
    opj_join_path(path, sizeof path, base, key);
    const json_t *v = json_object_get(o, key);
    if (!v) {
        if (def > 0) {
            *out = def;
            return 0;
        }
        return opj_ferr(x, base, 0, "missing size \"%s\" (a positive integer)", key);
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > MAX_SIZE)
        return opj_ferr(x, path, 0, "expected a positive integer%s, got %s",
                        json_is_integer(v) && json_integer_value(v) > MAX_SIZE ? " up to 2147483647"
                                                                               : "",
                        opj_show(v));
    *out = json_integer_value(v);
    return 0;
}

int opj_get_bool(const ctx *x, const json_t *o, const char *base, const char *key, bool *out)
{
    char path[512];
    opj_join_path(path, sizeof path, base, key);
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return opj_ferr(x, path, 0, "expected true or false, got %s", opj_show(v));
    *out = json_is_true(v);
    return 0;
}

/* A string among choices (NULL-terminated); *out = its index; missing keeps *out. */
int opj_get_choice(const ctx *x, const json_t *o, const char *base, const char *key,
                   const char *const *choices, int *out)
{
    char path[512], list[256] = "";
    opj_join_path(path, sizeof path, base, key);
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    for (int i = 0; choices[i]; i++) {
        if (json_is_string(v) && strcmp(json_string_value(v), choices[i]) == 0) {
            *out = i;
            return 0;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s\"%s\"", i ? (choices[i + 1] ? ", " : " or ") : "",
                 choices[i]);
    }
    return opj_ferr(x, path, 0, "expected %s, got %s", list, opj_show(v));
}

/* stride / pad / dilation: one integer for both, or [h, w]. */
int opj_get_pair(const ctx *x, const json_t *o, const char *base, const char *key, int64_t min,
                 int64_t out[2])
{
    char path[512];
    opj_join_path(path, sizeof path, base, key);
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    const char *what = min ? "integers >= 1" : "integers >= 0";
    if (json_is_integer(v)) {
        if (json_integer_value(v) < min || json_integer_value(v) > MAX_SIZE)
            return opj_ferr(x, path, 0, "expected an array of 2 %s ([h, w]) or one integer, got %s",
                            what, opj_show(v));
        out[0] = out[1] = json_integer_value(v);
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) != 2)
        return opj_ferr(x, path, 0, "expected an array of 2 %s ([h, w]), got %s", what,
                        opj_show(v));
    for (int i = 0; i < 2; i++) {
        const json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < min ||
            json_integer_value(e) > MAX_SIZE) {
            char ep[540];
            snprintf(ep, sizeof ep, "%s[%d]", path, i);
            return opj_ferr(x, ep, 0, "expected an array of 2 %s ([h, w]), got %s", what,
                            opj_show(v));
        }
        out[i] = json_integer_value(e);
    }
    return 0;
}

/* Rejects fields not in allowed (NULL-terminated), pointing at the key. */
int opj_check_fields(const ctx *x, const json_t *o, const char *base, const char *what,
                     const char *const *allowed)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char path[512], list[512] = "";
            opj_join_path(path, sizeof path, base, key);
            for (int i = 0; allowed[i]; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", allowed[i]);
            }
            return opj_ferr(x, path, 1, "unknown field for %s (expected one of: %s)", what, list);
        }
    }
    return 0;
}

/* ---- files ---- */

static int measure_opts(const ctx *x, const json_t *m, tt_measure_opts *out)
{
    static const char *const allowed[] = {"repeat", "min_repeat_ms", "timeout_s", "flush_cache",
                                          "check",  "threads",       NULL};
    if (!json_is_object(m))
        return opj_ferr(x, "measure", 0, "expected an object such as {\"repeat\": 3}, got %s",
                        opj_show(m));
    if (opj_check_fields(x, m, "measure", "\"measure\"", allowed) < 0)
        return -1;
    const json_t *v;
    if ((v = json_object_get(m, "repeat"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
            return opj_ferr(x, "measure.repeat", 0, "expected an integer >= 1, got %s",
                            opj_show(v));
        out->repeat = (int)json_integer_value(v);
    }
    if ((v = json_object_get(m, "threads"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65536)
            return opj_ferr(x, "measure.threads", 0,
                            "expected an integer >= 0 (0: all cores), got %s", opj_show(v));
        out->threads = (int)json_integer_value(v);
    }
    if ((v = json_object_get(m, "min_repeat_ms"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e7)
            return opj_ferr(x, "measure.min_repeat_ms", 0, "expected a number >= 0, got %s",
                            opj_show(v));
        out->min_repeat_ms = json_number_value(v);
    }
    if ((v = json_object_get(m, "timeout_s"))) {
        if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1e7)
            return opj_ferr(x, "measure.timeout_s", 0, "expected a number > 0, got %s",
                            opj_show(v));
        out->timeout_s = json_number_value(v);
    }
    return opj_get_bool(x, m, "measure", "flush_cache", &out->flush_cache) < 0 ||
                   opj_get_bool(x, m, "measure", "check", &out->check) < 0
               ? -1
               : 0;
}

/* Parses text (already known to be JSON in root) with positions from the scanner. */
static int parse_file(const ctx *x, const json_t *root, tt_opfile *f)
{
    if (!json_is_object(root))
        return opj_ferr(x, "", 0, "expected an object: one task, or {\"tasks\": [...]}");
    const json_t *tasks = json_object_get(root, "tasks"), *v;
    if ((v = json_object_get(root, "target")) && (!json_is_string(v) || !*json_string_value(v)))
        return opj_ferr(x, "target", 0,
                        "expected a target string such as \"llvm -mcpu=native\", "
                        "got %s",
                        opj_show(v));
    if (!(f->target = strdup(v ? json_string_value(v) : "llvm -mcpu=native")))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if ((v = json_object_get(root, "measure")) && measure_opts(x, v, &f->measure) < 0)
        return -1;
    if (!tasks) {
        if (!(f->tasks = calloc(1, sizeof *f->tasks)))
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        f->ntasks = 1;
        return opj_parse_task(x, root, "", &f->tasks[0]);
    }
    static const char *const allowed[] = {"tasks", "target", "measure", NULL};
    if (opj_check_fields(x, root, "", "an op file with \"tasks\"", allowed) < 0)
        return -1;
    if (!json_is_array(tasks) || json_array_size(tasks) == 0 || json_array_size(tasks) > 100000)
        return opj_ferr(x, "tasks", 0, "expected a non-empty array of task objects, got %s",
                        opj_show(tasks));
    size_t n = json_array_size(tasks);
    if (!(f->tasks = calloc(n, sizeof *f->tasks)))
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char base[32];
        snprintf(base, sizeof base, "tasks[%zu]", i);
        if (opj_parse_task(x, json_array_get(tasks, i), base, &f->tasks[i]) < 0)
            return -1;
        f->ntasks++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->tasks[j].name, f->tasks[i].name) == 0) {
                char np[48];
                snprintf(np, sizeof np, "%s.name", base);
                return opj_ferr(
                    x, opj_find_pos(x, np) ? np : base, 0,
                    "task name \"%s\" is already used by task %zu; names must be unique",
                    f->tasks[i].name, j);
            }
    }
    return 0;
}

static int with_positions(const char *text, const char *file, json_t **root, ctx *x)
{
    json_error_t err;
    *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!*root)
        return tt_error_setc(TT_ERR_PARSE, "%s:%d:%d: invalid JSON: %s", file, err.line, err.column,
                             err.text);
    scanner sc = {.s = text, .line = 1, .col = 1};
    int rc = sc_value(&sc, "", 1, 1);
    x->file = file;
    x->pos = sc.v;
    x->npos = sc.n;
    if (rc < 0)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "%s: out of memory or nested too deeply", file);
    qsort(x->pos, (size_t)x->npos, sizeof *x->pos, pos_cmp);
    return 0;
}

static void free_positions(ctx *x)
{
    for (int i = 0; i < x->npos; i++)
        free(x->pos[i].path);
    free(x->pos);
}

void tt_opfile_free(tt_opfile *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->ntasks; i++)
        opj_task_clear(&f->tasks[i]);
    free(f->tasks);
    free(f->path);
    free(f->target);
    free(f);
}

int tt_opfile_parse_string(const char *text, const char *path, tt_opfile **out)
{
    *out = NULL;
    if (!text)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "tt_opfile_parse_string: NULL text");
    if (!path)
        path = "op.json";
    tt_opfile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    tt_measure_opts_default(&f->measure);
    json_t *root = NULL;
    ctx x = {0};
    int rc = with_positions(text, path, &root, &x);
    if (rc == 0)
        rc = parse_file(&x, root, f);
    free_positions(&x);
    json_decref(root);
    if (rc < 0) {
        tt_opfile_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

int tt_opfile_load(const char *path, tt_opfile **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    if (tt_read_file(path, (size_t)64 << 20, &buf, &len) != 0)
        return -1;
    if (strlen(buf) != len) {
        free(buf);
        return tt_error_setc(TT_ERR_PARSE, "%s: contains a NUL byte; expected JSON text", path);
    }
    int rc = tt_opfile_parse_string(buf, path, out);
    free(buf);
    return rc;
}

int tt_task_from_json_text(const char *json, tt_task **out)
{
    *out = NULL;
    if (!json)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "tt_task_from_json_text: NULL text");
    json_t *root = NULL;
    ctx x = {0};
    tt_task *t = calloc(1, sizeof *t);
    if (!t)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = with_positions(json, "workload", &root, &x);
    if (rc == 0 && !json_is_object(root))
        rc = opj_ferr(&x, "", 0, "expected a task object");
    if (rc == 0)
        rc = opj_parse_task(&x, root, "", t);
    free_positions(&x);
    json_decref(root);
    if (rc < 0) {
        tt_task_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
