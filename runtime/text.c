/* Text helpers (runtime/text.h): the string buffer the printers, the C emitter and the log encoder
 * write into, and whole-file reading for op.json, models and logs. */
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for extra more bytes and the NUL; sets failed when there is none. */
static int grow(tt_sb *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra < SIZE_MAX - b->len && b->len + extra + 1 <= b->cap)
        return 0;
    if (extra >= SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *buf = realloc(b->buf, cap);
    if (!buf) {
        b->failed = 1;
        return -1;
    }
    b->buf = buf;
    b->cap = cap;
    return 0;
}

TT_API void tt_sb_put(tt_sb *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

TT_API void tt_sb_puts(tt_sb *b, const char *s)
{
    tt_sb_put(b, s, strlen(s));
}

TT_API void tt_sb_printf(tt_sb *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (w < 0) {
        b->failed = 1;
        return;
    }
    if (b->buf && (size_t)w < b->cap - b->len) {
        b->len += (size_t)w;
        return;
    }
    if (grow(b, (size_t)w) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)w;
}

TT_API char *tt_sb_take(tt_sb *b)
{
    if (b->failed || !b->buf) {
        int failed = b->failed;
        tt_sb_free(b);
        char *empty = failed ? NULL : calloc(1, 1);
        if (!empty)
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return empty;
    }
    char *s = b->buf;
    b->buf = NULL;
    b->len = b->cap = 0;
    return s;
}

TT_API void tt_sb_free(tt_sb *b)
{
    free(b->buf);
    *b = (tt_sb){0};
}

TT_API int tt_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tt_error_setc(tt_error_category_from_errno(errno), "%s: cannot open: %s", path,
                             strerror(errno));
    tt_sb b = {0};
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (max_bytes && b.len + r > max_bytes) {
            fclose(f);
            tt_sb_free(&b);
            return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "%s: larger than %zu bytes", path,
                                 max_bytes);
        }
        tt_sb_put(&b, chunk, r);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        tt_sb_free(&b);
        return tt_error_setc(TT_ERR_IO, "%s: read error", path);
    }
    size_t n = b.len;
    char *text = tt_sb_take(&b);
    if (!text)
        return -1;
    *out = text;
    if (len)
        *len = n;
    return 0;
}
