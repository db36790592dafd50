/* What generated kernels call (include/tt/backend.h): parallel launch over OpenMP with each worker
 * pinned to a physical core through hwloc, the thread count, and aligned workspace memory.
 * Pinning keeps measurements repeatable: a worker that migrates between cores loses its caches.
 * The caller's own thread (OpenMP's thread 0 of a launch) is never bound: it belongs to the
 * application, and threads it creates later inherit its affinity. The workers go to the cores
 * after the one the caller runs on, so that they do not compete with it. */
#define _GNU_SOURCE /* sched_getcpu */
#include <errno.h>
#ifdef TT_HAVE_HWLOC /* optional (cross builds): without it a core is a CPU as the kernel numbers  \
                        them */
#include <hwloc.h>
#endif
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime_internal.h"
#include "tt/backend.h"

#define MAX_THREADS 1024

/* The topology, loaded once and read-only afterwards (hwloc allows concurrent reads then). */
static pthread_once_t topo_once = PTHREAD_ONCE_INIT;
#ifdef TT_HAVE_HWLOC
static hwloc_topology_t topo;
#endif
static int topo_ok;
static int core_count = 1;

/* 0: the default (TT_NUM_THREADS, else the cores); otherwise set by tt_backend_set_num_threads. */
static int num_threads_set;

/* Per thread: inside a launch (so a nested launch runs serially); for a worker, the logical index
 * of the core it is bound to (-1: not bound yet). */
static _Thread_local int in_launch;
static _Thread_local int bound_core = -1;

static void topo_load(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    core_count = online > 0 ? (int)(online < MAX_THREADS ? online : MAX_THREADS) : 1;
#ifndef TT_HAVE_HWLOC
    topo_ok = 1; /* cores are the online CPUs 0..core_count-1 */
#else
    if (hwloc_topology_init(&topo) != 0)
        return;
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return;
    }
    topo_ok = 1;
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (cores > 0)
        core_count = cores < MAX_THREADS ? cores : MAX_THREADS;
#endif
}

static int env_threads(void)
{
    const char *s = getenv("TT_NUM_THREADS");
    if (s == NULL || s[0] == '\0')
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    /* A malformed value falls back to the cores: there is no caller to report it to here. */
    if (errno != 0 || *end != '\0' || v < 1)
        return 0;
    return v > MAX_THREADS ? MAX_THREADS : (int)v;
}

TT_API int tt_backend_num_threads(void)
{
    int n = __atomic_load_n(&num_threads_set, __ATOMIC_RELAXED);
    if (n > 0)
        return n;
    n = env_threads();
    if (n > 0)
        return n;
    pthread_once(&topo_once, topo_load);
    return core_count;
}

TT_API int tt_backend_set_num_threads(int n)
{
    if (n < 0 || n > MAX_THREADS)
        return tt_error_set("tt_backend_set_num_threads: n = %d, expected 1..%d (or 0 for the "
                            "default)",
                            n, MAX_THREADS);
    __atomic_store_n(&num_threads_set, n, __ATOMIC_RELAXED);
    return 0;
}

/* Logical index of the core the calling thread runs on now; 0 when it cannot be told. */
static int caller_core(void)
{
    int cpu = sched_getcpu();
    if (!topo_ok || cpu < 0)
        return 0;
#ifndef TT_HAVE_HWLOC
    return cpu % core_count;
#else
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(topo, (unsigned)cpu);
    hwloc_obj_t core = pu ? hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu) : NULL;
    return core != NULL ? (int)core->logical_index % core_count : 0;
#endif
}

/* Binds worker `worker` (>= 1) of a launch to the core `worker` places after the caller's; a
 * syscall only when that differs from where this OS thread is bound already. A failure
 * (containers often forbid it) only costs repeatability, so it is ignored. */
static void place_worker(int worker, int first_core)
{
    int want = (first_core + worker) % core_count;
    if (!topo_ok || want == bound_core)
        return;
    bound_core = want;
#ifndef TT_HAVE_HWLOC
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(want, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
#else
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)want);
    if (core != NULL && core->cpuset != NULL)
        hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_THREAD);
#endif
}

/* The first failure of a launch, copied from the failing worker's thread-local last error. */
typedef struct {
    int failed; /* atomic: 0, then 1 once the first failure is recorded */
    int code;
    int64_t begin, end;
    char msg[1024];
} launch_error;

TT_API int tt_backend_parallel_for(int64_t extent, tt_parallel_body body, void *closure)
{
    if (extent < 0)
        return tt_error_set("tt_backend_parallel_for: extent = %lld, expected >= 0",
                            (long long)extent);
    if (body == NULL)
        return tt_error_set("tt_backend_parallel_for: body is NULL");
    if (extent == 0)
        return 0;
    if (in_launch || omp_in_parallel()) {
        /* Nested: the outer launch already uses every core. */
        int rc = body(0, extent, closure);
        if (rc != 0)
            return tt_error_wrap("tt_backend_parallel_for: nested body failed on [0, %lld) with "
                                 "code %d",
                                 (long long)extent, rc);
        return 0;
    }
    int want = tt_backend_num_threads();
    if ((int64_t)want > extent)
        want = (int)extent;
    launch_error err = {0};
    pthread_once(&topo_once, topo_load);
    int first_core = caller_core();
#pragma omp parallel num_threads(want)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        if (id > 0)
            place_worker(id, first_core);
        in_launch = 1;
        /* Static contiguous chunks, sizes differing by at most one; no overflow for any extent. */
        int64_t base = extent / nt, rem = extent % nt;
        int64_t begin = id * base + (id < rem ? id : rem);
        int64_t end = begin + base + (id < rem ? 1 : 0);
        if (begin < end) {
            tt_error_clear();
            int rc = body(begin, end, closure);
            if (rc != 0 && __atomic_exchange_n(&err.failed, 1, __ATOMIC_ACQ_REL) == 0) {
                err.code = rc;
                err.begin = begin;
                err.end = end;
                strncpy(err.msg, tt_get_last_error(), sizeof err.msg - 1);
            }
        }
        in_launch = 0;
    }
    if (err.failed) {
        if (err.msg[0] != '\0')
            return tt_error_set("tt_backend_parallel_for: body failed on [%lld, %lld) with code "
                                "%d: %s",
                                (long long)err.begin, (long long)err.end, err.code, err.msg);
        return tt_error_set("tt_backend_parallel_for: body failed on [%lld, %lld) with code %d",
                            (long long)err.begin, (long long)err.end, err.code);
    }
    return 0;
}

#define WORKSPACE_ALIGN 64

TT_API void *tt_backend_alloc_workspace(int64_t nbytes)
{
    if (nbytes < 0) {
        tt_error_set("tt_backend_alloc_workspace: nbytes = %lld, expected >= 0", (long long)nbytes);
        return NULL;
    }
    if (nbytes > INT64_MAX - WORKSPACE_ALIGN || (uint64_t)nbytes > SIZE_MAX - WORKSPACE_ALIGN) {
        tt_error_set("tt_backend_alloc_workspace: nbytes = %lld is too large", (long long)nbytes);
        return NULL;
    }
    /* aligned_alloc wants a multiple of the alignment; 0 bytes still gets a block, so NULL
     * always means failure. */
    size_t size = nbytes == 0
                      ? WORKSPACE_ALIGN
                      : ((size_t)nbytes + WORKSPACE_ALIGN - 1) / WORKSPACE_ALIGN * WORKSPACE_ALIGN;
    void *p = aligned_alloc(WORKSPACE_ALIGN, size);
    if (p == NULL)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                      "tt_backend_alloc_workspace: out of memory allocating %lld bytes",
                      (long long)nbytes);
    return p;
}

TT_API void tt_backend_free_workspace(void *p)
{
    free(p);
}
