/* Tests runtime/parallel.c: every index covered exactly once, contiguous chunks, thread counts
 * (TT_NUM_THREADS, hwloc cores, set_num_threads), nested launches, failing bodies, workspaces. */
#define _GNU_SOURCE /* pthread_getaffinity_np */
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "rt_test.h"
#include "tt/backend.h"

typedef struct {
    int64_t extent;
    int *hits;             /* per index, atomic */
    int chunks;            /* atomic */
    pthread_t threads[64]; /* who ran each chunk */
    int nthreads;          /* atomic */
} coverage;

static int mark(int64_t begin, int64_t end, void *closure)
{
    coverage *c = closure;
    if (begin < 0 || end > c->extent || begin >= end)
        return 7;
    for (int64_t i = begin; i < end; i++)
        __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
    int k = __atomic_fetch_add(&c->chunks, 1, __ATOMIC_RELAXED);
    if (k < 64)
        c->threads[k] = pthread_self();
    return 0;
}

static int distinct_threads(const coverage *c)
{
    int n = 0;
    for (int i = 0; i < c->chunks && i < 64; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= pthread_equal(c->threads[i], c->threads[j]);
        n += !seen;
    }
    return n;
}

static void test_covers_each_index_once(void **state)
{
    (void)state;
    const int64_t extents[] = {0, 1, 7, 1000};
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(tt_backend_set_num_threads(threads), 0);
        assert_int_equal(tt_backend_num_threads(), threads);
        for (size_t e = 0; e < sizeof extents / sizeof *extents; e++) {
            coverage c = {.extent = extents[e]};
            c.hits = calloc((size_t)extents[e] + 1, sizeof *c.hits);
            if (tt_backend_parallel_for(extents[e], mark, &c) != 0)
                fail_msg("extent %lld: %s", (long long)extents[e], tt_get_last_error());
            for (int64_t i = 0; i < extents[e]; i++)
                if (c.hits[i] != 1)
                    fail_msg("threads %d extent %lld: index %lld hit %d times", threads,
                             (long long)extents[e], (long long)i, c.hits[i]);
            /* One contiguous chunk per thread, never more threads than indices. */
            int64_t expect = extents[e] < threads ? extents[e] : threads;
            assert_int_equal(c.chunks, expect);
            if (expect == 2)
                assert_int_equal(distinct_threads(&c), 2);
            free(c.hits);
        }
    }
    assert_int_equal(tt_backend_set_num_threads(0), 0);
}

/* Chunk sizes differ by at most one and run in index order by thread number. */
typedef struct {
    int64_t begins[16], ends[16];
    int n;
} chunks;

static int record(int64_t begin, int64_t end, void *closure)
{
    chunks *c = closure;
    int k = __atomic_fetch_add(&c->n, 1, __ATOMIC_RELAXED);
    c->begins[k] = begin;
    c->ends[k] = end;
    return 0;
}

static void test_chunks_balanced(void **state)
{
    (void)state;
    assert_int_equal(tt_backend_set_num_threads(3), 0);
    chunks c = {0};
    assert_int_equal(tt_backend_parallel_for(10, record, &c), 0);
    assert_int_equal(c.n, 3);
    int64_t total = 0;
    for (int i = 0; i < 3; i++) {
        int64_t len = c.ends[i] - c.begins[i];
        assert_true(len == 3 || len == 4);
        total += len;
    }
    assert_int_equal(total, 10);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
}

typedef struct {
    coverage *inner;
    int nested_chunks; /* atomic */
    int bad;           /* atomic: a nested chunk was split or ran on another thread */
} nest;

typedef struct {
    nest *n;
    pthread_t outer; /* the thread running the outer chunk */
} nest_call;

static int nested_inner(int64_t begin, int64_t end, void *closure)
{
    nest_call *call = closure;
    nest *n = call->n;
    __atomic_fetch_add(&n->nested_chunks, 1, __ATOMIC_RELAXED);
    if (begin != 0 || end != n->inner->extent || !pthread_equal(pthread_self(), call->outer))
        __atomic_fetch_add(&n->bad, 1, __ATOMIC_RELAXED);
    for (int64_t i = begin; i < end; i++)
        __atomic_fetch_add(&n->inner->hits[i], 1, __ATOMIC_RELAXED);
    return 0;
}

static int nested_outer(int64_t begin, int64_t end, void *closure)
{
    (void)begin, (void)end;
    /* The inner launch must run serially, as one chunk [0, extent), on this thread. */
    nest_call call = {closure, pthread_self()};
    return tt_backend_parallel_for(call.n->inner->extent, nested_inner, &call);
}

static void test_nested_runs_serially(void **state)
{
    (void)state;
    assert_int_equal(tt_backend_set_num_threads(2), 0);
    coverage inner = {.extent = 50};
    inner.hits = calloc(50, sizeof *inner.hits);
    nest n = {.inner = &inner};
    assert_int_equal(tt_backend_parallel_for(2, nested_outer, &n), 0);
    /* Two outer chunks, each running the whole inner range as a single chunk. */
    assert_int_equal(n.nested_chunks, 2);
    assert_int_equal(n.bad, 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(inner.hits[i], 2);
    free(inner.hits);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
}

static int fail_on_high(int64_t begin, int64_t end, void *closure)
{
    (void)closure;
    if (end == 100)
        return tt_error_set("chunk [%lld, %lld) cannot be computed", (long long)begin,
                            (long long)end) == -1
                   ? 5
                   : 0;
    return 0;
}

static int fail_nested(int64_t begin, int64_t end, void *closure)
{
    (void)begin, (void)end, (void)closure;
    return tt_backend_parallel_for(100, fail_on_high, NULL) == 0 ? 0 : 9;
}

static int fail_quietly(int64_t begin, int64_t end, void *closure)
{
    (void)begin, (void)end, (void)closure;
    return 3;
}

static void test_body_error_propagates(void **state)
{
    (void)state;
    assert_int_equal(tt_backend_set_num_threads(2), 0);
    assert_fails_with(tt_backend_parallel_for(100, fail_on_high, NULL),
                      "tt_backend_parallel_for: body failed on [50, 100) with code 5: chunk [50, "
                      "100) cannot be computed");
    assert_fails_with(tt_backend_parallel_for(4, fail_quietly, NULL), "with code 3");
    assert_int_equal(tt_backend_parallel_for(2, fail_nested, NULL), -1);
    /* The nested failure's message travels up through the outer launch. */
    assert_true(strstr(tt_get_last_error(),
                       "with code 9: tt_backend_parallel_for: nested body "
                       "failed on [0, 100) with code 5: chunk [0, 100)") != NULL);
    assert_int_equal(tt_backend_set_num_threads(1), 0);
    assert_fails_with(tt_backend_parallel_for(100, fail_on_high, NULL),
                      "body failed on [0, 100) with code 5");
    assert_fails_with(tt_backend_parallel_for(-1, fail_quietly, NULL),
                      "extent = -1, expected >= 0");
    assert_fails_with(tt_backend_parallel_for(4, NULL, NULL), "body is NULL");
    assert_int_equal(tt_backend_set_num_threads(0), 0);
}

static int physical_cores(void)
{
    hwloc_topology_t t;
    assert_int_equal(hwloc_topology_init(&t), 0);
    assert_int_equal(hwloc_topology_load(t), 0);
    int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    hwloc_topology_destroy(t);
    return n;
}

static void test_num_threads(void **state)
{
    (void)state;
    assert_int_equal(tt_backend_set_num_threads(0), 0);
    unsetenv("TT_NUM_THREADS");
    assert_int_equal(tt_backend_num_threads(), physical_cores());
    setenv("TT_NUM_THREADS", "3", 1);
    assert_int_equal(tt_backend_num_threads(), 3);
    /* An explicit setting wins over the environment; 0 restores it. */
    assert_int_equal(tt_backend_set_num_threads(5), 0);
    assert_int_equal(tt_backend_num_threads(), 5);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
    assert_int_equal(tt_backend_num_threads(), 3);
    setenv("TT_NUM_THREADS", "lots", 1);
    assert_int_equal(tt_backend_num_threads(), physical_cores());
    unsetenv("TT_NUM_THREADS");

    assert_fails_with(tt_backend_set_num_threads(-1), "n = -1, expected 1..1024 (or 0 for the "
                                                      "default)");
    assert_fails_with(tt_backend_set_num_threads(1 << 20), "n = 1048576");
    assert_int_equal(tt_backend_num_threads(), physical_cores());
}

typedef struct {
    hwloc_topology_t topo;
    int core[2]; /* logical index of the core each chunk's thread is bound to, -1: not one core */
} pin_check;

static int bound_core(int64_t begin, int64_t end, void *closure)
{
    (void)end;
    pin_check *p = closure;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    int core = -1;
    if (hwloc_get_cpubind(p->topo, set, HWLOC_CPUBIND_THREAD) == 0) {
        int n = hwloc_get_nbobjs_by_type(p->topo, HWLOC_OBJ_CORE);
        for (int i = 0; i < n; i++) {
            hwloc_obj_t c = hwloc_get_obj_by_type(p->topo, HWLOC_OBJ_CORE, (unsigned)i);
            if (hwloc_bitmap_isincluded(set, c->cpuset))
                core = i;
        }
    }
    hwloc_bitmap_free(set);
    p->core[begin] = core;
    return 0;
}

static void *try_bind(void *topo)
{
    hwloc_obj_t c = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, 0);
    return (void *)(intptr_t)(hwloc_set_cpubind(topo, c->cpuset, HWLOC_CPUBIND_THREAD) == 0);
}

/* The calling thread's affinity, as a CPU mask. */
static cpu_set_t thread_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof set, &set), 0);
    return set;
}

static void *child_affinity(void *out)
{
    *(cpu_set_t *)out = thread_affinity();
    return NULL;
}

static void test_workers_pinned(void **state)
{
    (void)state;
    pin_check p = {.core = {-2, -2}};
    assert_int_equal(hwloc_topology_init(&p.topo), 0);
    assert_int_equal(hwloc_topology_load(p.topo), 0);
    /* Pinning failures are ignored by design (containers may forbid binding): only require it
     * where a throwaway thread can bind itself. */
    pthread_t t;
    void *can_bind;
    assert_int_equal(pthread_create(&t, NULL, try_bind, p.topo), 0);
    pthread_join(t, &can_bind);
    int cores = hwloc_get_nbobjs_by_type(p.topo, HWLOC_OBJ_CORE);
    cpu_set_t before = thread_affinity();
    assert_int_equal(tt_backend_set_num_threads(2), 0);
    assert_int_equal(tt_backend_parallel_for(2, bound_core, &p), 0);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
    /* The caller's thread is the application's: a launch leaves its affinity as it was, and so
     * a thread it creates afterwards inherits the original mask, not a pinned one. */
    cpu_set_t after = thread_affinity(), child;
    assert_true(CPU_EQUAL(&before, &after));
    assert_int_equal(pthread_create(&t, NULL, child_affinity, &child), 0);
    pthread_join(t, NULL);
    assert_true(CPU_EQUAL(&before, &child));
    hwloc_topology_destroy(p.topo);
    if (!can_bind)
        skip();
    /* Chunk 0 runs on the caller's thread, which stays unbound (-1 unless the process has a single
     * core); chunk 1 on a worker bound to one core, not the caller's when there are two. */
    assert_true(p.core[0] == -1 || cores == 1);
    assert_true(p.core[1] >= 0 && p.core[1] < cores);
}

/* A caller bound to one core by the application keeps exactly that binding, and the worker goes
 * to another core. */
static void test_bound_caller_keeps_its_core(void **state)
{
    (void)state;
    pin_check p = {.core = {-2, -2}};
    assert_int_equal(hwloc_topology_init(&p.topo), 0);
    assert_int_equal(hwloc_topology_load(p.topo), 0);
    int cores = hwloc_get_nbobjs_by_type(p.topo, HWLOC_OBJ_CORE);
    hwloc_obj_t last = hwloc_get_obj_by_type(p.topo, HWLOC_OBJ_CORE, (unsigned)(cores - 1));
    cpu_set_t original = thread_affinity();
    if (cores < 2 || hwloc_set_cpubind(p.topo, last->cpuset, HWLOC_CPUBIND_THREAD) != 0) {
        hwloc_topology_destroy(p.topo);
        skip();
    }
    cpu_set_t before = thread_affinity();
    assert_int_equal(tt_backend_set_num_threads(2), 0);
    assert_int_equal(tt_backend_parallel_for(2, bound_core, &p), 0);
    assert_int_equal(tt_backend_set_num_threads(0), 0);
    cpu_set_t after = thread_affinity();
    assert_true(CPU_EQUAL(&before, &after));
    assert_int_equal(p.core[0], cores - 1);
    assert_int_equal(p.core[1], 0);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof original, &original), 0);
    hwloc_topology_destroy(p.topo);
}

static void test_workspace(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 63, 64, 65, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = tt_backend_alloc_workspace(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        memset(p, 0xab, (size_t)sizes[i]); /* ASan checks the whole size is usable */
        tt_backend_free_workspace(p);
    }
    assert_null(tt_backend_alloc_workspace(-5));
    assert_true(strstr(tt_get_last_error(), "nbytes = -5, expected >= 0") != NULL);
    assert_null(tt_backend_alloc_workspace(INT64_MAX));
    assert_true(strstr(tt_get_last_error(), "too large") != NULL);
    tt_backend_free_workspace(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_covers_each_index_once),
        cmocka_unit_test(test_chunks_balanced),
        cmocka_unit_test(test_nested_runs_serially),
        cmocka_unit_test(test_body_error_propagates),
        cmocka_unit_test(test_num_threads),
        cmocka_unit_test(test_workers_pinned),
        cmocka_unit_test(test_bound_caller_keeps_its_core),
        cmocka_unit_test(test_workspace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
