/* Internal to op.json parsing (ir/opjson.c, ir/opjson_task.c): field positions, messages with
 * file:line:col, and the typed field readers the task and file checks share. */
#ifndef TT_IR_OPJSON_CHECK_H
#define TT_IR_OPJSON_CHECK_H

#include <jansson.h>

#include "ir/opjson.h"

#define MAX_BYTES ((int64_t)1 << 40) /* a tensor larger than this does not fit in memory */
#define MAX_SIZE 2147483647LL        /* one dimension, stride, pad, dilation */

/* Where a path ("tasks[1].stride[0]", "" for the root) sits: its key and its value. */
typedef struct {
    char *path;
    int kline, kcol, vline, vcol;
} pos;

/* One text being checked: its name for messages and the positions of its values. */
typedef struct {
    const char *file;
    pos *pos;
    int npos;
} ctx;

const pos *opj_find_pos(const ctx *x, const char *path);
/* Sets "file:line:col: field \"M\": <message>" (the last path component names the field;
 * at_key points at the key rather than the value) and returns -1. */
int opj_ferr(const ctx *x, const char *path, int at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A short compact dump of v for "got ..." (a thread-local buffer, valid until the next call). */
char *opj_show(const json_t *v);
void opj_join_path(char *out, size_t n, const char *base, const char *key);
/* Typed readers of o[key]; a missing key keeps *out (get_size: def > 0 is the default, else
 * missing is an error). */
int opj_get_size(const ctx *x, const json_t *o, const char *base, const char *key, int64_t def,
                 int64_t *out);
int opj_get_bool(const ctx *x, const json_t *o, const char *base, const char *key, bool *out);
int opj_get_choice(const ctx *x, const json_t *o, const char *base, const char *key,
                   const char *const *choices, int *out);
int opj_get_pair(const ctx *x, const json_t *o, const char *base, const char *key, int64_t min,
                 int64_t out[2]);
/* Rejects keys not in allowed (NULL-terminated), pointing at the key. */
int opj_check_fields(const ctx *x, const json_t *o, const char *base, const char *what,
                     const char *const *allowed);

/* One task object at path base (opjson_task.c); task_clear frees its members. */
int opj_parse_task(const ctx *x, const json_t *o, const char *base, tt_task *t);
void opj_task_clear(tt_task *t);

#endif
