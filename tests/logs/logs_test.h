/* Helpers shared by the logs tests: cmocka's includes, a failure-message check, sample records
 * and scratch directories. */
#ifndef TT_LOGS_TEST_H
#define TT_LOGS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "logs/record.h"
#include "runtime/text.h"
#include "tt_test.h"

#define assert_ok(call)                                                                            \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            fail_msg("%s failed: %s", #call, tt_get_last_error());                                 \
    } while (0)

static const double sample_costs[] = {0.0121, 0.0123, 0.0122};

/* The record of docs/ARCHITECTURE.md's example line. */
static inline tt_record sample_record(void)
{
    tt_record r = {
        .key = "matmul_1024x1024x1024_f32-3fa2c1d0",
        .workload = "{\"op\":\"matmul\",\"M\":1024,\"N\":1024,\"K\":1024,\"dtype\":\"float32\"}",
        .target = "llvm -mtriple=x86_64-linux-gnu -mcpu=znver4",
        .steps = "[[\"split\",\"i\",[32,4]],[\"parallel\",\"i.0\"]]",
        .costs = sample_costs,
        .n_costs = 3,
        .error = TT_OUTCOME_OK,
        .error_msg = "",
        .build_s = 0.04,
        .gflops = 176.2,
        .time = "2026-11-23T18:00:00Z",
        .tuner = "xgb",
        .trial = 17,
        .seed = 1,
    };
    return r;
}

/* A fresh directory under $TMPDIR (or /tmp); caller removes it with remove_tree. */
static inline char *scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = malloc(512);
    snprintf(dir, 512, "%s/tt-logs-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp %s failed", dir);
    return dir;
}

static inline void remove_tree(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    free(dir);
}

/* dir/name in a static rotating buffer (enough for a few paths at once). */
static inline const char *path_in(const char *dir, const char *name)
{
    static char bufs[8][600];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

/* The whole file in a new NUL-terminated buffer (*len bytes); NULL when it cannot be read. */
static inline char *slurp(const char *path, size_t *len)
{
    char *buf;
    return tt_read_file(path, 0, &buf, len) == 0 ? buf : NULL;
}

static inline void write_file(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);
    if (!f)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

#endif
