/* What the tvm-tune commands share: the one map from error categories to exit codes, the one
 * integer parser for flags, reading a whole file, the checks of input and output paths, targets
 * and the printing of records. Linked into the executable only. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "logs/db.h"
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
    case TT_ERR_CONFLICT: /* a farm worker's lease was taken over: a runtime failure */
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

/* ---- paths, targets, records ---- */

int tt_cli_check_out_dir(const char *cmd, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return tt_cli_fail(cmd, TT_ERR_UNKNOWN);
    }
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0)
        rc = tt_error_setc(tt_error_category_from_errno(errno),
                           "output directory '%s' does not exist (%s)", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc =
            tt_error_setc(TT_ERR_INVALID_ARGUMENT, "output directory '%s' is not a directory", dir);
    else if (access(dir, W_OK | X_OK) != 0)
        rc = tt_error_setc(TT_ERR_INVALID_ARGUMENT, "output directory '%s' is not writable (%s)",
                           dir, strerror(errno));
    else if ((!slash ? path[0] == '\0' : slash[1] == '\0') ||
             (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        rc = tt_error_setc(TT_ERR_INVALID_ARGUMENT, "output '%s' names a directory, not a file",
                           path);
    free(dir);
    return rc ? tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT) : TT_EXIT_OK;
}

int tt_cli_check_db_exists(const char *cmd, const char *path)
{
    struct stat st;
    if (tt_db_is_uri(path)) /* a server's database: opening it tells */
        return TT_EXIT_OK;
    if (stat(path, &st) == 0)
        return TT_EXIT_OK;
    if (errno == ENOENT)
        tt_error_setc(TT_ERR_NOT_FOUND, "database '%s' does not exist", path);
    else
        tt_error_setc(tt_error_category_from_errno(errno), "database '%s': %s", path,
                      strerror(errno));
    return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT);
}

void tt_cli_print_record(const tt_record *r, const char *indent)
{
    double cost = tt_record_cost(r);
    printf("%s%.2f GFLOPS  median %.4f ms  spread %.1f%%  trial %lld  (tuner %s, seed %lld, %s)\n",
           indent, r->gflops, cost * 1e3, 100 * tt_record_cost_spread(r), (long long)r->trial,
           r->tuner, (long long)r->seed, r->time);
    printf("%ssteps: %s\n", indent, r->steps);
}

int tt_cli_target_canonical(const char *cmd, const char *s, char **out)
{
    tt_target *t = NULL;
    *out = NULL;
    if (tt_target_parse(s, &t)) {
        tt_error_wrap("target");
        return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT);
    }
    *out = strdup(tt_target_str(t));
    tt_target_free(t);
    if (!*out) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return tt_cli_fail(cmd, TT_ERR_UNKNOWN);
    }
    return TT_EXIT_OK;
}

/* The best record of every (workload, target) of the database, target (canonical) or all. */
int tt_cli_print_db_best(const char *cmd, const char *db_path, const char *key, const char *target,
                         size_t k)
{
    int rc = tt_cli_check_db_exists(cmd, db_path);
    if (rc)
        return rc;
    tt_db *db = NULL;
    if (tt_db_open(db_path, &db))
        return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT); /* the file the user named */
    tt_record **best = NULL;
    size_t n = 0;
    if (tt_db_best(db, key, target, k, &best, &n)) {
        rc = tt_cli_fail(cmd, TT_ERR_UNKNOWN);
        tt_db_close(db);
        return rc;
    }
    const char *last_key = "", *last_target = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(best[i]->key, last_key) != 0 || strcmp(best[i]->target, last_target) != 0) {
            printf("%s  (target %s)\n", best[i]->key, best[i]->target);
            last_key = best[i]->key;
            last_target = best[i]->target;
        }
        tt_cli_print_record(best[i], "  ");
    }
    if (n == 0)
        printf("no record%s%s%s%s%s\n", key ? " of key " : "", key ? key : "",
               target ? " for target \"" : "", target ? target : "", target ? "\"" : "");
    tt_record_array_free(best, n);
    tt_db_close(db);
    return TT_EXIT_OK;
}

static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

const volatile sig_atomic_t *tt_cli_stop_begin(tt_cli_stop *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
    return &stop_flag;
}

void tt_cli_stop_end(tt_cli_stop *s)
{
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
}
