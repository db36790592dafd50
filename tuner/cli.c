/* What every tvm-tune command shares: the one map from error categories to exit codes, the one
 * integer parser for flags, and reading a whole file. Linked into the executable only. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/cli.h"

int tt_cli_exit_code(tt_error_category c)
{
    switch (c) {
    case TT_ERR_OK:
        return TT_EXIT_OK;
    case TT_ERR_INVALID_ARGUMENT:
    case TT_ERR_PARSE:
    case TT_ERR_NOT_FOUND:
    case TT_ERR_UNSUPPORTED:
        return TT_EXIT_USAGE;
    case TT_ERR_INTERRUPTED:
        return TT_EXIT_INTERRUPTED;
    case TT_ERR_UNKNOWN:
    case TT_ERR_IO:
    case TT_ERR_OUT_OF_MEMORY:
    case TT_ERR_CATEGORY_COUNT:
        break;
    }
    return TT_EXIT_FAILURE;
}

int tt_cli_fail(const char *cmd, tt_error_category uncategorised)
{
    fprintf(stderr, "tvm-tune%s%s: %s\n", cmd[0] ? " " : "", cmd, tt_get_last_error());
    tt_error_category c = tt_get_last_error_category();
    return tt_cli_exit_code(c == TT_ERR_UNKNOWN || c == TT_ERR_OK ? uncategorised : c);
}

int tt_cli_parse_int(const char *cmd, const char *flag, const char *s, long long min, long long max,
                     long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && v >= min && v <= max) {
        *out = v;
        return TT_EXIT_OK;
    }
    const char *sep = cmd[0] ? " " : "";
    if (max == LLONG_MAX)
        fprintf(stderr, "tvm-tune%s%s: %s %s: expected an integer >= %lld\n", sep, cmd, flag, s,
                min);
    else
        fprintf(stderr, "tvm-tune%s%s: %s %s: expected an integer from %lld to %lld\n", sep, cmd,
                flag, s, min, max);
    return TT_EXIT_USAGE;
}

int tt_cli_read_file(const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tt_error_setc(tt_error_category_from_errno(errno), "cannot open '%s': %s", path,
                             strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
    if (err) {
        free(buf);
        return tt_error_setc(TT_ERR_IO, "cannot read '%s'", path);
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}
