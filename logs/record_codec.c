/* The JSON-lines form of a record (docs/ARCHITECTURE.md, "Logs and the database"): the encoder
 * writes one compact line with fields in a fixed order; the decoder (jansson) accepts exactly those
 * fields and checks each one, because logs come from crashed runs, other versions and hand edits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logs/json_text.h"
#include "logs/record.h"

/* The fields of a line, in the order the encoder writes them. */
static const char *const line_fields[] = {
    "v",       "key",    "workload", "target", "steps", "costs", "error",  "error_msg",
    "build_s", "gflops", "time",     "tuner",  "trial", "seed",  "device",
};

static void put_key(tt_sb *b, const char *name, int first)
{
    if (!first)
        tt_sb_put(b, ",", 1);
    tt_sb_put(b, "\"", 1);
    tt_sb_puts(b, name);
    tt_sb_put(b, "\":", 2);
}

static int put_string(tt_sb *b, const char *name, const char *s, int sanitize)
{
    put_key(b, name, 0);
    if (tt_sb_json_string(b, s ? s : "", sanitize))
        return tt_error_set("field \"%s\": not valid UTF-8", name);
    return 0;
}

TT_API int tt_record_encode(const tt_record *r, char **line_out)
{
    *line_out = NULL;
    if (!r)
        return tt_error_set("record: NULL");
    if (tt_record_check_fields(r))
        return -1;
    char *workload = NULL, *steps = NULL;
    if (tt_json_canonical(r->workload, JSON_OBJECT, "workload", &workload) ||
        tt_json_canonical(r->steps, JSON_ARRAY, "steps", &steps)) {
        free(workload);
        return -1;
    }
    tt_sb b = {0};
    int rc = 0;
    tt_sb_puts(&b, "{");
    put_key(&b, "v", 1);
    tt_sb_int(&b, TT_RECORD_VERSION);
    rc |= put_string(&b, "key", r->key, 0);
    put_key(&b, "workload", 0);
    tt_sb_puts(&b, workload);
    rc |= put_string(&b, "target", r->target, 0);
    put_key(&b, "steps", 0);
    tt_sb_puts(&b, steps);
    put_key(&b, "costs", 0);
    tt_sb_put(&b, "[", 1);
    for (size_t i = 0; i < r->n_costs; i++) {
        if (i)
            tt_sb_put(&b, ",", 1);
        tt_sb_double(&b, r->costs[i]);
    }
    tt_sb_put(&b, "]", 1);
    put_key(&b, "error", 0);
    tt_sb_int(&b, r->error);
    rc |= put_string(&b, "error_msg", r->error_msg, 1);
    put_key(&b, "build_s", 0);
    tt_sb_double(&b, r->build_s);
    put_key(&b, "gflops", 0);
    tt_sb_double(&b, r->gflops);
    rc |= put_string(&b, "time", r->time, 0);
    rc |= put_string(&b, "tuner", r->tuner, 0);
    put_key(&b, "trial", 0);
    tt_sb_int(&b, r->trial);
    put_key(&b, "seed", 0);
    tt_sb_int(&b, r->seed);
    if (r->device && *r->device)
        rc |= put_string(&b, "device", r->device, 0);
    tt_sb_puts(&b, "}\n");
    free(workload);
    free(steps);
    if (rc) {
        tt_sb_free(&b);
        return -1;
    }
    *line_out = tt_sb_take(&b);
    return *line_out ? 0 : -1;
}

/* ---- decoding ---- */

static json_t *field(json_t *root, const char *name)
{
    json_t *v = json_object_get(root, name);
    if (!v)
        tt_error_set("missing field \"%s\"", name);
    return v;
}

static int get_string(json_t *root, const char *name, const char **out)
{
    json_t *v = field(root, name);
    if (!v)
        return -1;
    if (!json_is_string(v))
        return tt_error_set("field \"%s\": expected a string, got %s", name, tt_json_kind(v));
    *out = json_string_value(v);
    return 0;
}

static int get_int(json_t *root, const char *name, json_int_t *out)
{
    json_t *v = field(root, name);
    if (!v)
        return -1;
    if (!json_is_integer(v))
        return tt_error_set("field \"%s\": expected an integer, got %s", name, tt_json_kind(v));
    *out = json_integer_value(v);
    return 0;
}

static int get_number(json_t *root, const char *name, double *out)
{
    json_t *v = field(root, name);
    if (!v)
        return -1;
    if (!json_is_number(v))
        return tt_error_set("field \"%s\": expected a number, got %s", name, tt_json_kind(v));
    *out = json_number_value(v);
    return 0;
}

/* Compact text of the object or array in field `name`. */
static int get_json(json_t *root, const char *name, json_type want, char **out)
{
    json_t *v = field(root, name);
    if (!v)
        return -1;
    if (json_typeof(v) != want)
        return tt_error_set("field \"%s\": expected %s, got %s", name,
                            want == JSON_OBJECT ? "an object" : "an array", tt_json_kind(v));
    *out = json_dumps(v, JSON_COMPACT);
    if (!*out)
        return tt_error_set("field \"%s\": out of memory", name);
    return 0;
}

static int get_costs(json_t *root, double **out, size_t *n)
{
    json_t *v = field(root, "costs");
    if (!v)
        return -1;
    if (!json_is_array(v))
        return tt_error_set("field \"costs\": expected an array of numbers, got %s",
                            tt_json_kind(v));
    *n = json_array_size(v);
    *out = malloc((*n ? *n : 1) * sizeof(double));
    if (!*out)
        return tt_error_set("field \"costs\": out of memory (%zu costs)", *n);
    for (size_t i = 0; i < *n; i++) {
        json_t *c = json_array_get(v, i);
        if (!json_is_number(c))
            return tt_error_set("field \"costs\"[%zu]: expected a number, got %s", i,
                                tt_json_kind(c));
        (*out)[i] = json_number_value(c);
    }
    return 0;
}

static int known_field(const char *name)
{
    for (size_t i = 0; i < sizeof line_fields / sizeof line_fields[0]; i++)
        if (strcmp(name, line_fields[i]) == 0)
            return 1;
    return 0;
}

static int decode_object(json_t *root, tt_record **out)
{
    if (!json_is_object(root))
        return tt_error_set("expected a JSON object (one record per line), got %s",
                            tt_json_kind(root));
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value)
    {
        if (!known_field(name))
            return tt_error_set("unknown field \"%.64s\"", name);
    }
    json_int_t v = 0, error = 0, trial = 0, seed = 0; /* gcc -O3 cannot see the error paths */
    if (get_int(root, "v", &v))
        return -1;
    if (v != TT_RECORD_VERSION)
        return tt_error_set("field \"v\": expected %d (the record version this build reads), got "
                            "%lld",
                            TT_RECORD_VERSION, (long long)v);
    tt_record r = {0};
    char *workload = NULL, *steps = NULL;
    double *costs = NULL;
    int rc = -1;
    if (get_string(root, "key", &r.key) || get_json(root, "workload", JSON_OBJECT, &workload) ||
        get_string(root, "target", &r.target) || get_json(root, "steps", JSON_ARRAY, &steps) ||
        get_costs(root, &costs, &r.n_costs) || get_int(root, "error", &error) ||
        get_string(root, "error_msg", &r.error_msg) || get_number(root, "build_s", &r.build_s) ||
        get_number(root, "gflops", &r.gflops) || get_string(root, "time", &r.time) ||
        get_string(root, "tuner", &r.tuner) || get_int(root, "trial", &trial) ||
        get_int(root, "seed", &seed))
        goto done;
    if (json_object_get(root, "device") && get_string(root, "device", &r.device))
        goto done;
    if (error < 0 || error >= TT_OUTCOME_COUNT) {
        tt_error_set("field \"error\": expected an error code 0..%d, got %lld",
                     TT_OUTCOME_COUNT - 1, (long long)error);
        goto done;
    }
    r.workload = workload;
    r.steps = steps;
    r.costs = costs;
    r.error = (int)error;
    r.trial = trial;
    r.seed = seed;
    if (tt_record_check_fields(&r) || tt_record_copy(&r, out))
        goto done;
    rc = 0;
done:
    free(workload);
    free(steps);
    free(costs);
    return rc;
}

TT_API int tt_record_decode_line(const char *line, size_t len, tt_record **out, int *truncated)
{
    *out = NULL;
    if (truncated)
        *truncated = 0;
    if (!line)
        return tt_error_set("record line: NULL");
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* A crash mid-write cuts a line short: an object whose parser ran out of input inside
         * a value, a token ("tr" of true) or a multi-byte character (at most 4 bytes). */
        if (truncated) {
            size_t at = (size_t)jerr.position;
            enum json_error_code code = json_error_code(&jerr);
            size_t i = 0;
            while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
            *truncated = i < len && line[i] == '{' &&
                         (code == json_error_premature_end_of_input ||
                          (code == json_error_invalid_syntax && at >= len) ||
                          (code == json_error_invalid_utf8 && at + 4 >= len));
        }
        return tt_error_set("invalid JSON at column %d: %s", jerr.column, jerr.text);
    }
    int rc = decode_object(root, out);
    json_decref(root);
    return rc;
}

TT_API int tt_record_decode(const char *line, size_t len, tt_record **out)
{
    return tt_record_decode_line(line, len, out, NULL);
}
