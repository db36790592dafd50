/* Tests measure/builder.c: build callbacks that succeed, fail with a message, crash, hang or write
 * nothing give codes 0, 2, 2, 5, 2 with their messages; exactly n_workers builds run at once
 * (counted in memory the build processes share, never by timing them); the temporary directory
 * is cleaned up. No check depends on how fast the machine is: durations are compared with each
 * other or bounded below, and a hang is known to be killed because it ended at all. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measure_test.h"

enum { OK, FAIL, CRASH, HANG, NO_FILE, LONG_MESSAGE, SILENT_FAIL, SPAWN_HANG };

/* Counters in memory shared with the forked build processes (MAP_SHARED before the fork). */
typedef struct {
    atomic_int running; /* builds between their start and their end */
    atomic_int started; /* builds that have started */
    atomic_int most;    /* the largest value running had */
} pool_counts;

typedef struct {
    const int *modes;  /* per job */
    pool_counts *pool; /* when set, every build waits at the rendezvous below first */
    int n, n_workers;  /* with pool: the number of jobs and of workers */
} plan;

static void pause_for(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A build of the pool test: counts itself running, then waits until n_workers builds run at
 * once, or until every job has started (the last round may be smaller). A pool that keeps its
 * n_workers slots filled always gets there, however slow the machine; one that runs fewer
 * builds leaves this waiting until the builder's timeout kills it. Then it stays 50 ms more, so
 * that a pool which runs more builds than n_workers shows in pool->most (a slow machine can only
 * hide that, never fail a correct pool). */
static void rendezvous(const plan *p)
{
    pool_counts *c = p->pool;
    int now = atomic_fetch_add(&c->running, 1) + 1;
    atomic_fetch_add(&c->started, 1);
    int most = atomic_load(&c->most);
    while (now > most && !atomic_compare_exchange_weak(&c->most, &most, now))
        ;
    while (atomic_load(&c->running) < p->n_workers && atomic_load(&c->started) < p->n)
        pause_for(0.001);
    pause_for(0.05);
    atomic_fetch_sub(&c->running, 1);
}

static int build(void *ctx, int index, const char *out_path, char *err, size_t errlen)
{
    const plan *p = ctx;
    if (p->pool != NULL)
        rendezvous(p);
    switch (p->modes[index]) {
    case FAIL:
        snprintf(err, errlen, "kernel.ll:3:7: error: expected ';' (job %d)", index);
        return 1;
    case CRASH:
        raise(SIGSEGV);
        return 0;
    case HANG:
        pause_for(1000);
        return 0;
    case LONG_MESSAGE:
        /* Longer than a pipe's atomic write: it must arrive whole (up to the buffer's size). */
        memset(err, 'x', errlen - 1);
        err[errlen - 1] = '\0';
        return 1;
    case SILENT_FAIL:
        return 7;
    case SPAWN_HANG: {
        /* A compiler that runs a tool which hangs: the tool must die with the build. */
        pid_t tool = fork();
        if (tool == 0) {
            execlp("sleep", "sleep", "100", (char *)NULL);
            _exit(127);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s.tool", out_path);
        FILE *f = fopen(path, "w");
        if (f != NULL) {
            fprintf(f, "%d\n", (int)tool);
            fclose(f);
        }
        waitpid(tool, NULL, 0);
        return 0;
    }
    case NO_FILE:
        return 0;
    default: {
        FILE *f = fopen(out_path, "w");
        if (f == NULL)
            return 1;
        fprintf(f, "library %d\n", index);
        fclose(f);
        return 0;
    }
    }
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void test_outcomes(void **state)
{
    int fds_before = open_fds();
    static const int modes[] = {OK, FAIL, CRASH, HANG, NO_FILE, LONG_MESSAGE, SILENT_FAIL, OK};
    enum { n = sizeof modes / sizeof modes[0] };
    plan p = {.modes = modes};
    tt_build_job jobs[n];
    for (int i = 0; i < n; i++)
        jobs[i] = (tt_build_job){build, &p};
    static tt_build_result res[n];
    double start = test_now();
    assert_int_equal(tt_builder_run(jobs, n, 2, 1.0, res), 0);
    double elapsed = test_now() - start;
    /* The hung build sleeps 1000 s: that the run returned at all says it was killed. Every pipe
     * closed, every child reaped, the hung one included. */
    assert_int_equal(open_fds(), fds_before);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);

    assert_int_equal(res[0].error, TT_OUTCOME_OK);
    assert_string_equal(res[0].error_msg, "");
    FILE *f = fopen(res[0].path, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "library 0\n");
    assert_true(res[0].build_s >= 0 && res[0].build_s <= elapsed);
    assert_int_equal(res[7].error, TT_OUTCOME_OK);
    assert_contains(res[7].path, "/cand_7.so");

    assert_int_equal(res[1].error, TT_OUTCOME_COMPILE_ERROR);
    assert_string_equal(res[1].error_msg, "kernel.ll:3:7: error: expected ';' (job 1)");
    assert_int_equal(res[2].error, TT_OUTCOME_COMPILE_ERROR);
    assert_string_equal(res[2].error_msg,
                        "build crashed: killed by signal 11 (Segmentation fault)");
    assert_int_equal(res[3].error, TT_OUTCOME_BUILD_TIMEOUT);
    assert_string_equal(res[3].error_msg, "build timed out after 1.0 s");
    assert_true(res[3].build_s >= 1.0 && res[3].build_s <= elapsed);
    assert_int_equal(res[4].error, TT_OUTCOME_COMPILE_ERROR);
    assert_contains(res[4].error_msg, "build reported success but wrote no library at ");
    assert_int_equal(res[5].error, TT_OUTCOME_COMPILE_ERROR);
    assert_int_equal(strlen(res[5].error_msg), TT_BUILD_MSG_LEN - 1);
    assert_int_equal(res[5].error_msg[100], 'x');
    assert_int_equal(res[6].error, TT_OUTCOME_COMPILE_ERROR);
    assert_string_equal(res[6].error_msg, "build failed (returned 7) without a message");

    /* Every library is in one fresh directory, removed by the cleanup. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", res[0].path);
    *strrchr(dir, '/') = '\0';
    assert_contains(dir, "/tt-build-");
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    tt_builder_cleanup(res, n);
    assert_int_not_equal(stat(dir, &st), 0);
    assert_string_equal(res[0].path, "");
}

static void check_pool(int n, int n_workers)
{
    pool_counts *counts =
        mmap(NULL, sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(counts != MAP_FAILED);
    atomic_init(&counts->running, 0);
    atomic_init(&counts->started, 0);
    atomic_init(&counts->most, 0);
    int modes[32] = {0};
    plan p = {.modes = modes, .pool = counts, .n = n, .n_workers = n_workers};
    tt_build_job jobs[32];
    for (int i = 0; i < n; i++)
        jobs[i] = (tt_build_job){build, &p};
    tt_build_result *res = calloc((size_t)n, sizeof *res);
    /* The timeout only ends a pool that never fills its slots (then the builds time out). */
    assert_int_equal(tt_builder_run(jobs, n, n_workers, 60, res), 0);
    for (int i = 0; i < n; i++)
        if (res[i].error != TT_OUTCOME_OK)
            fail_msg("build %d of %d with %d workers: %s", i, n, n_workers, res[i].error_msg);
    assert_int_equal(atomic_load(&counts->started), n);
    assert_int_equal(atomic_load(&counts->running), 0);
    int most = atomic_load(&counts->most);
    if (most != n_workers)
        fail_msg("%d builds ran at once with %d workers", most, n_workers);
    tt_builder_cleanup(res, n);
    free(res);
    munmap(counts, sizeof *counts);
}

static void test_pool_two_workers(void **state)
{
    check_pool(6, 2);
}

static void test_pool_three_workers(void **state)
{
    check_pool(7, 3);
}

static void test_pool_one_worker(void **state)
{
    check_pool(3, 1);
}

/* 1 while pid runs (a zombie or a missing process does not). */
static int alive(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int live = fgets(line, sizeof line, f) != NULL && strstr(line, ") Z") == NULL;
    fclose(f);
    return live;
}

/* 1 when SIGKILL is pending for pid (/proc/PID/status: SigPnd, ShdPnd are hex signal masks). */
static int sigkill_pending(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int pending = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long mask;
        if ((sscanf(line, "SigPnd: %llx", &mask) == 1 ||
             sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
            (mask & (1ULL << (SIGKILL - 1))))
            pending = 1;
    }
    fclose(f);
    return pending;
}

static void test_timeout_kills_tools(void **state)
{
    static const int modes[] = {SPAWN_HANG};
    plan p = {.modes = modes};
    tt_build_job jobs[1] = {{build, &p}};
    tt_build_result res[1];
    assert_int_equal(tt_builder_run(jobs, 1, 1, 0.5, res), 0);
    assert_int_equal(res[0].error, TT_OUTCOME_BUILD_TIMEOUT);
    assert_string_equal(res[0].error_msg, "build timed out after 0.5 s");
    char path[4200];
    snprintf(path, sizeof path, "%s.tool", res[0].path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int tool = 0;
    assert_int_equal(fscanf(f, "%d", &tool), 1);
    fclose(f);
    assert_true(tool > 0);
    /* The builder kills the build's process group before it returns: the tool is gone, or
     * SIGKILL is pending for it (a killed process may not have been scheduled to die yet). */
    if (alive(tool) && !sigkill_pending(tool))
        fail_msg("the build's tool (pid %d) outlived the timeout", tool);
    /* The cleanup removes the stray file too. */
    tt_builder_cleanup(res, 1);
    assert_null(fopen(path, "r"));
}

/* "Compiles" by copying a prebuilt kernel library (the ctx names it) to out_path. */
static int copy_library(void *ctx, int index, const char *out_path, char *err, size_t errlen)
{
    FILE *in = fopen((const char *)ctx, "rb"), *out = fopen(out_path, "wb");
    if (in == NULL || out == NULL) {
        snprintf(err, errlen, "cannot copy %s to %s", (const char *)ctx, out_path);
        return 1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out) != 0;
}

/* The tuning loop's order: build a batch, then run its libraries one by one. */
static void test_build_then_run(void **state)
{
    tt_build_job jobs[3] = {{copy_library, TT_FAULT_GOOD},
                            {copy_library, TT_FAULT_WRONG},
                            {copy_library, "/nonexistent/lib.so"}};
    tt_build_result res[3];
    assert_int_equal(tt_builder_run(jobs, 3, 2, 10, res), 0);
    assert_int_equal(res[0].error, TT_OUTCOME_OK);
    assert_int_equal(res[1].error, TT_OUTCOME_OK);
    assert_int_equal(res[2].error, TT_OUTCOME_COMPILE_ERROR);
    assert_contains(res[2].error_msg, "cannot copy /nonexistent/lib.so to ");

    tt_measure_tensor args[3];
    for (int i = 0; i < 3; i++)
        args[i] = (tt_measure_tensor){.ndim = 1, .shape = {256}, .dtype = {kDLFloat, 32, 1}};
    float expected[256];
    tt_run_request req = {.lib_path = res[0].path,
                          .func_name = "vadd",
                          .args = args,
                          .n_args = 3,
                          .seed = 9,
                          .timeout_s = 10};
    tt_run_result r;
    assert_int_equal(tt_runner_local_reference(&req, expected, sizeof expected, &r), 0);
    assert_int_equal(r.error, TT_OUTCOME_OK);
    tt_timing_opts_default(&req.timing);
    req.timing.min_repeat_ms = 1;
    req.ref_output = expected;
    req.ref_nbytes = sizeof expected;
    static const int want[2] = {TT_OUTCOME_OK, TT_OUTCOME_WRONG_ANSWER};
    for (int i = 0; i < 2; i++) {
        req.lib_path = res[i].path;
        assert_int_equal(tt_runner_local_run(&req, &r), 0);
        if (r.error != want[i])
            fail_msg("%s: error %d (%s), expected %d", res[i].path, r.error, r.error_msg, want[i]);
    }
    tt_builder_cleanup(res, 3);
}

/* A build that writes the CPUs it may run on into its library ("cpus 1,3"). */
static int affinity_library(void *ctx, int index, const char *out_path, char *err, size_t errlen)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        snprintf(err, errlen, "sched_getaffinity: %s", strerror(errno));
        return 1;
    }
    FILE *f = fopen(out_path, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "cpus");
    for (int c = 0, first = 1; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            fprintf(f, "%s%d", first ? " " : ",", c);
            first = 0;
        }
    fprintf(f, "\n");
    fclose(f);
    return 0;
}

static void read_line(const char *path, char *line, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, (int)len, f));
    fclose(f);
    line[strcspn(line, "\n")] = 0;
}

/* The incremental builder (the tuner measures while a batch builds): results come whenever asked,
 * in any order, candidates run between the calls (the mutex is not held across them), every
 * build child is bound to the CPUs given, and ending early kills what runs and leaves no process
 * behind. */
static void test_begin_await_end(void **state)
{
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &mine))
        cpu++;
    char want[32];
    snprintf(want, sizeof want, "cpus %d", cpu);

    enum { n = 5 };
    tt_build_job jobs[n];
    for (int i = 0; i < n; i++)
        jobs[i] = (tt_build_job){affinity_library, NULL};
    jobs[3] = (tt_build_job){copy_library, TT_FAULT_GOOD};
    tt_build_result res[n];
    tt_build_batch *b = NULL;
    assert_int_equal(tt_builder_begin(jobs, n, 2, 10, &cpu, 1, res, &b), 0);
    static const int order[n] = {2, 0, 3, 4, 1};
    char line[256];
    for (int k = 0; k < n; k++) {
        int i = order[k];
        assert_int_equal(tt_builder_await(b, i), 0);
        assert_int_equal(res[i].error, TT_OUTCOME_OK);
        if (i == 3) { /* a measurement between the calls */
            tt_measure_tensor args[3];
            for (int a = 0; a < 3; a++)
                args[a] = (tt_measure_tensor){.ndim = 1, .shape = {64}, .dtype = {kDLFloat, 32, 1}};
            tt_run_request req = {.lib_path = res[3].path,
                                  .func_name = "vadd",
                                  .args = args,
                                  .n_args = 3,
                                  .seed = 3,
                                  .timeout_s = 10,
                                  .pin_cpu = 1,
                                  .cpu = cpu};
            tt_timing_opts_default(&req.timing);
            req.timing.min_repeat_ms = 1;
            tt_run_result r;
            assert_int_equal(tt_runner_local_run(&req, &r), 0);
            assert_int_equal(r.error, TT_OUTCOME_OK);
            continue;
        }
        read_line(res[i].path, line, sizeof line);
        assert_string_equal(line, want);
    }
    assert_int_equal(tt_builder_end(b, 0), 0);
    tt_builder_cleanup(res, n);
    assert_int_equal(tt_builder_await(NULL, 0), -1);

    /* Ending early: the hanging builds are killed, none is waited for. */
    static const int modes[] = {OK, HANG, HANG};
    plan p = {.modes = modes};
    tt_build_job hang[3];
    for (int i = 0; i < 3; i++)
        hang[i] = (tt_build_job){build, &p};
    assert_int_equal(tt_builder_begin(hang, 3, 3, 1000, NULL, 0, res, &b), 0);
    assert_int_equal(tt_builder_await(b, 0), 0);
    assert_int_equal(res[0].error, TT_OUTCOME_OK);
    assert_int_equal(tt_builder_end(b, 1), 0);
    tt_builder_cleanup(res, 3);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left, not even a zombie */
    assert_int_equal(errno, ECHILD);
}

static void test_bad_arguments(void **state)
{
    static const int modes[] = {OK};
    plan p = {.modes = modes};
    tt_build_job jobs[1] = {{build, &p}};
    tt_build_result res[1];
    assert_fails_with(tt_builder_run(jobs, 1, 0, 1, res), "n_workers = 0, expected 1..256");
    assert_fails_with(tt_builder_run(jobs, 1, 2, 0, res), "timeout_s = 0, expected > 0");
    assert_fails_with(tt_builder_run(jobs, -1, 2, 1, res), "n = -1 jobs");
    jobs[0].build = NULL;
    assert_fails_with(tt_builder_run(jobs, 1, 2, 1, res), "job 0 has no build callback");
    assert_int_equal(tt_builder_run(NULL, 0, 2, 1, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_pool_two_workers),
        cmocka_unit_test(test_pool_three_workers),
        cmocka_unit_test(test_pool_one_worker),
        cmocka_unit_test(test_timeout_kills_tools),
        cmocka_unit_test(test_build_then_run),
        cmocka_unit_test(test_begin_await_end),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
