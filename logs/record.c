/* The log record in memory: validation of its fields, copies, the cost that ranks it (median and
 * spread of its repeats) and the hash that identifies a measurement in the database. The JSON
 * line form is in record_codec.c. */
#include "logs/record.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs/json_text.h"
#include "tt/cost.h"

static const char *const error_names[] = {
#define NAME_(name, code, text) [code] = text,
    TT_OUTCOME_MAP(NAME_)
#undef NAME_
};
/* The codes are 0 .. TT_OUTCOME_COUNT - 1 with no gap (a gap would be a NULL name), and the
 * largest one is TT_OUTCOME_MAX, which the database's CHECK is printed from (logs/db.c). */
static_assert(sizeof error_names / sizeof error_names[0] == TT_OUTCOME_COUNT,
              "outcome codes run from 0 without a gap");
static_assert(TT_OUTCOME_MAX == TT_OUTCOME_COUNT - 1, "TT_OUTCOME_MAX is the largest outcome code");

TT_API const char *tt_record_error_name(int error)
{
    if (error < 0 || error >= TT_OUTCOME_COUNT)
        return NULL;
    return error_names[error];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS" with an optional ".fraction" and a final "Z" (RFC 3339, UTC only, so
 * that times from different machines sort as text). */
static int valid_time(const char *t)
{
    if (strlen(t) < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':')
        return 0;
    int year = digits(t, 4), month = digits(t + 5, 2), day = digits(t + 8, 2);
    int hour = digits(t + 11, 2), minute = digits(t + 14, 2), second = digits(t + 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60)
        return 0;
    const char *p = t + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p[0] == 'Z' && p[1] == '\0';
}

static int check_text(const char *s, const char *field, int non_empty)
{
    if (!s)
        return tt_error_set("field \"%s\": expected a string, got NULL", field);
    size_t n = strlen(s);
    if (non_empty && n == 0)
        return tt_error_set("field \"%s\": expected a non-empty string", field);
    if (!tt_utf8_valid(s, n))
        return tt_error_set("field \"%s\": not valid UTF-8", field);
    return 0;
}

static int check_number(double x, const char *field)
{
    if (!isfinite(x) || x < 0)
        return tt_error_set("field \"%s\": expected a finite non-negative number, got %g", field,
                            x);
    return 0;
}

/* Everything but the JSON texts workload and steps, which the caller parses. The decoder calls
 * this too, so a line and a struct are held to the same rules with the same messages. */
int tt_record_check_fields(const tt_record *r)
{
    if (check_text(r->key, "key", 1) || check_text(r->target, "target", 1) ||
        check_text(r->tuner, "tuner", 0) || (r->device && check_text(r->device, "device", 0)))
        return -1;
    if (r->error < 0 || r->error >= TT_OUTCOME_COUNT)
        return tt_error_set("field \"error\": expected an error code 0..%d, got %d",
                            TT_OUTCOME_COUNT - 1, r->error);
    if (r->n_costs > 0 && !r->costs)
        return tt_error_set("field \"costs\": %zu costs but no array", r->n_costs);
    for (size_t i = 0; i < r->n_costs; i++)
        if (!isfinite(r->costs[i]) || r->costs[i] < 0)
            return tt_error_set("field \"costs\"[%zu]: expected a finite non-negative number "
                                "of seconds, got %g",
                                i, r->costs[i]);
    if (r->error == TT_OUTCOME_OK && r->n_costs == 0)
        return tt_error_set("field \"costs\": expected at least one cost for a record without "
                            "error");
    if (check_number(r->build_s, "build_s") || check_number(r->gflops, "gflops"))
        return -1;
    if (!r->time)
        return tt_error_set("field \"time\": expected a string, got NULL");
    if (!valid_time(r->time))
        return tt_error_set("field \"time\": expected a UTC time like \"2026-11-23T18:00:00Z\", "
                            "got \"%.40s\"",
                            r->time);
    if (r->trial < 0)
        return tt_error_set("field \"trial\": expected a non-negative integer, got %lld",
                            (long long)r->trial);
    return 0;
}

TT_API int tt_record_check(const tt_record *r)
{
    if (!r)
        return tt_error_set("record: NULL");
    if (tt_record_check_fields(r))
        return -1;
    char *text;
    if (tt_json_canonical(r->workload, JSON_OBJECT, "workload", &text))
        return -1;
    free(text);
    if (tt_json_canonical(r->steps, JSON_ARRAY, "steps", &text))
        return -1;
    free(text);
    return 0;
}

static size_t text_size(const char *s)
{
    return (s ? strlen(s) : 0) + 1;
}

static const char *put_text(char **cursor, const char *s)
{
    size_t n = text_size(s);
    char *dst = *cursor;
    memcpy(dst, s ? s : "", n);
    *cursor += n;
    return dst;
}

TT_API int tt_record_copy(const tt_record *r, tt_record **out)
{
    *out = NULL;
    if (r->n_costs > (SIZE_MAX / 2) / sizeof(double))
        return tt_error_set("record: %zu costs is too many", r->n_costs);
    /* One block: the struct, the costs (8-byte aligned right after it), then the strings. */
    static_assert(sizeof(tt_record) % sizeof(double) == 0, "costs follow the struct aligned");
    size_t size = sizeof(tt_record) + r->n_costs * sizeof(double);
    const char *texts[] = {r->key,       r->workload, r->target, r->steps,
                           r->error_msg, r->time,     r->tuner,  r->device};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        size += text_size(texts[i]);
    tt_record *c = malloc(size);
    if (!c)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "record: out of memory (%zu bytes)", size);
    *c = *r;
    double *costs = (double *)(c + 1);
    if (r->n_costs)
        memcpy(costs, r->costs, r->n_costs * sizeof(double));
    c->costs = r->n_costs ? costs : NULL;
    char *cursor = (char *)(costs + r->n_costs);
    c->key = put_text(&cursor, r->key);
    c->workload = put_text(&cursor, r->workload);
    c->target = put_text(&cursor, r->target);
    c->steps = put_text(&cursor, r->steps);
    c->error_msg = put_text(&cursor, r->error_msg);
    c->time = put_text(&cursor, r->time);
    c->tuner = put_text(&cursor, r->tuner);
    c->device = put_text(&cursor, r->device);
    assert((size_t)(cursor - (char *)c) == size);
    *out = c;
    return 0;
}

TT_API void tt_record_free(tt_record *r)
{
    free(r);
}

TT_API void tt_record_array_free(tt_record **records, size_t n)
{
    if (!records)
        return;
    for (size_t i = 0; i < n; i++)
        tt_record_free(records[i]);
    free(records);
}

TT_API double tt_record_cost(const tt_record *r)
{
    if (r->error != TT_OUTCOME_OK || r->n_costs == 0)
        return INFINITY;
    return tt_cost_median(r->costs, r->n_costs);
}

TT_API double tt_record_cost_min(const tt_record *r)
{
    if (r->error != TT_OUTCOME_OK || r->n_costs == 0)
        return INFINITY;
    double m = r->costs[0];
    for (size_t i = 1; i < r->n_costs; i++)
        m = r->costs[i] < m ? r->costs[i] : m;
    return m;
}

TT_API double tt_record_cost_spread(const tt_record *r)
{
    if (r->error != TT_OUTCOME_OK || r->n_costs == 0)
        return INFINITY;
    double lo = r->costs[0], hi = r->costs[0];
    for (size_t i = 1; i < r->n_costs; i++) {
        lo = r->costs[i] < lo ? r->costs[i] : lo;
        hi = r->costs[i] > hi ? r->costs[i] : hi;
    }
    if (hi == lo)
        return 0;
    double mid = tt_cost_median(r->costs, r->n_costs);
    return mid > 0 ? (hi - lo) / mid : INFINITY;
}

TT_API int tt_record_costs_json(const double *costs, size_t n, char **out)
{
    tt_sb b = {0};
    tt_sb_put(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(costs[i])) {
            tt_sb_free(&b);
            *out = NULL;
            return tt_error_set("field \"costs\"[%zu]: expected a finite number, got %g", i,
                                costs[i]);
        }
        if (i)
            tt_sb_put(&b, ",", 1);
        tt_sb_double(&b, costs[i]);
    }
    tt_sb_put(&b, "]", 1);
    *out = tt_sb_take(&b);
    return *out ? 0 : -1;
}

/* FNV-1a with 128-bit state (Fowler, Noll, Vo; parameters from the FNV reference,
 * draft-eastlake-fnv): 128 bits keep accidental collisions out of reach for any number of records
 * a database will hold, and the hash is stable across machines and versions, as the UNIQUE column
 * that makes imports idempotent needs. Not cryptographic: nobody gains by forging a duplicate. */
typedef unsigned __int128 u128;

static void fnv(u128 *h, const void *data, size_t n)
{
    const u128 prime = ((u128)1 << 88) | 0x13b;
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= prime;
    }
}

/* Each field is length-prefixed so that ("ab", "c") and ("a", "bc") hash apart. */
static void fnv_field(u128 *h, const char *s)
{
    uint64_t n = strlen(s);
    fnv(h, &n, sizeof n);
    fnv(h, s, n);
}

TT_API int tt_record_hash(const tt_record *r, char out[TT_RECORD_HASH_LEN + 1])
{
    out[0] = '\0';
    if (!r->key || !r->target || !r->time)
        return tt_error_set("record hash: key, target and time must be set");
    /* Steps and costs are hashed in canonical form, so the same measurement hashes the same
     * whether it comes from a log line or from a producer's own text. */
    char *steps, *costs;
    if (tt_json_canonical(r->steps, JSON_ARRAY, "steps", &steps))
        return -1;
    if (tt_record_costs_json(r->costs, r->n_costs, &costs)) {
        free(steps);
        return -1;
    }
    char ints[64];
    snprintf(ints, sizeof ints, "%lld %lld", (long long)r->trial, (long long)r->seed);
    u128 h = ((u128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
    fnv_field(&h, r->key);
    fnv_field(&h, r->target);
    fnv_field(&h, steps);
    fnv_field(&h, costs);
    fnv_field(&h, r->time);
    fnv_field(&h, ints);
    free(steps);
    free(costs);
    snprintf(out, TT_RECORD_HASH_LEN + 1, "%016llx%016llx", (unsigned long long)(h >> 64),
             (unsigned long long)h);
    return 0;
}

TT_API void tt_record_time_now(char out[TT_RECORD_TIME_LEN])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, TT_RECORD_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
