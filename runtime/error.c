/* The thread-local last error: every runtime call that fails leaves a message here for
 * tt_get_last_error(), as in TVM's c_runtime_api. No allocation, so reporting out-of-memory works. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

/* 4 KiB: long enough for a wrapped chain of messages that quote paths and dlerror text. */
#define ERROR_CAP 4096

static _Thread_local char last_error[ERROR_CAP];

TT_API const char *tt_get_last_error(void)
{
    return last_error;
}

TT_API int tt_error_set(const char *fmt, ...)
{
    /* Format into a scratch buffer first: an argument may point into last_error itself. */
    char msg[ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return -1;
}

TT_API int tt_error_wrap(const char *fmt, ...)
{
    char ctx[ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (last_error[0] == '\0') {
        memcpy(last_error, ctx, sizeof ctx);
        return -1;
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
    return -1;
}

void tt_error_clear(void)
{
    last_error[0] = '\0';
}
