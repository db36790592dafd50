/* The thread-local last error: every runtime call that fails leaves a message and a category
 * here for tt_get_last_error() and tt_get_last_error_category(), as in TVM's c_runtime_api. No
 * allocation, so reporting out-of-memory works. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

/* 4 KiB: long enough for a wrapped chain of messages that quote paths and dlerror text. */
#define ERROR_CAP 4096

static _Thread_local char last_error[ERROR_CAP];
static _Thread_local tt_error_category last_category = TT_ERR_OK;

static const char *const category_names[] = {
#define NAME_(name, msg) #name,
    TT_ERROR_MAP(NAME_)
#undef NAME_
};

static const char *const category_messages[] = {
#define MSG_(name, msg) msg,
    TT_ERROR_MAP(MSG_)
#undef MSG_
};

_Static_assert(sizeof category_names / sizeof *category_names == TT_ERR_CATEGORY_COUNT,
               "one name per error category");

TT_API const char *tt_get_last_error(void)
{
    return last_error;
}

TT_API tt_error_category tt_get_last_error_category(void)
{
    return last_category;
}

static int known(tt_error_category c)
{
    return (int)c >= 0 && (int)c < TT_ERR_CATEGORY_COUNT;
}

TT_API const char *tt_error_category_name(tt_error_category c)
{
    return category_names[known(c) ? c : TT_ERR_UNKNOWN];
}

TT_API const char *tt_error_category_message(tt_error_category c)
{
    return category_messages[known(c) ? c : TT_ERR_UNKNOWN];
}

TT_API tt_error_category tt_error_category_from_errno(int err)
{
    switch (err) {
    case 0:
        return TT_ERR_UNKNOWN;
    case ENOENT:
    case ENOTDIR:
        return TT_ERR_NOT_FOUND;
    case EACCES:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EEXIST:
        return TT_ERR_INVALID_ARGUMENT;
    case ENOMEM:
        return TT_ERR_OUT_OF_MEMORY;
    default:
        return TT_ERR_IO;
    }
}

static int vset(tt_error_category c, const char *fmt, va_list ap)
{
    /* Format into a scratch buffer first: an argument may point into last_error itself. */
    char msg[ERROR_CAP];
    vsnprintf(msg, sizeof msg, fmt, ap);
    memcpy(last_error, msg, sizeof msg);
    /* An error always has a category that says "failed": OK would tell the caller nothing
     * went wrong. */
    last_category = known(c) && c != TT_ERR_OK ? c : TT_ERR_UNKNOWN;
    return -1;
}

TT_API int tt_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(TT_ERR_UNKNOWN, fmt, ap);
    va_end(ap);
    return -1;
}

TT_API int tt_error_setc(tt_error_category c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(c, fmt, ap);
    va_end(ap);
    return -1;
}

/* ctx ": " last_error, or ctx alone when there is no message, or the message alone when ctx is
 * empty; the category is left as it is. */
static void vwrap(const char *fmt, va_list ap)
{
    char ctx[ERROR_CAP];
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    if (ctx[0] == '\0')
        return;
    if (last_error[0] == '\0') {
        memcpy(last_error, ctx, sizeof ctx);
        return;
    }
    char old[ERROR_CAP];
    memcpy(old, last_error, sizeof old);
    /* ctx ": " old, cut at the buffer's end (by hand: snprintf would warn about truncation,
     * which here is intended). */
    size_t at = 0;
    const char *parts[3] = {ctx, ": ", old};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (len > ERROR_CAP - 1 - at)
            len = ERROR_CAP - 1 - at;
        memcpy(last_error + at, parts[i], len);
        at += len;
    }
    last_error[at] = '\0';
}

TT_API int tt_error_wrap(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrap(fmt, ap);
    va_end(ap);
    if (last_category == TT_ERR_OK)
        last_category = TT_ERR_UNKNOWN;
    return -1;
}

TT_API int tt_error_wrapc(tt_error_category c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrap(fmt, ap);
    va_end(ap);
    if (last_category == TT_ERR_OK || last_category == TT_ERR_UNKNOWN)
        last_category = known(c) && c != TT_ERR_OK ? c : TT_ERR_UNKNOWN;
    return -1;
}

void tt_error_clear(void)
{
    last_error[0] = '\0';
    last_category = TT_ERR_OK;
}
