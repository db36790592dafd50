/* What generated kernels may call of the runtime: parallel launch and workspace allocation.
 * Nothing else of libtt_runtime is reachable from code that codegen/ emits, so a compiled kernel
 * library links against this small surface only. */
#ifndef TT_BACKEND_H
#define TT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Body of an outlined parallel loop: runs iterations [begin, end) of it; returns 0, or nonzero to
 * report a failure (the launch then returns -1). */
typedef int (*tt_parallel_body)(int64_t begin, int64_t end, void *closure);

/* Runs body over [0, extent) split into contiguous chunks, one per thread of the pool (OpenMP,
 * threads pinned to cores through hwloc). A nested launch runs serially on the caller's thread. */
TT_API int tt_backend_parallel_for(int64_t extent, tt_parallel_body body, void *closure);

/* Threads a launch uses: TT_NUM_THREADS if set, else the number of physical cores (hwloc). */
TT_API int tt_backend_num_threads(void);
/* Sets the thread count for later launches (n >= 1; 0 restores the default). */
TT_API int tt_backend_set_num_threads(int n);

/* Scratch memory for a kernel (packed panels, accumulator tiles): 64-byte aligned, NULL on
 * failure with the last error set. Freed with tt_backend_free_workspace. */
TT_API void *tt_backend_alloc_workspace(int64_t nbytes);
TT_API void tt_backend_free_workspace(void *p);

#ifdef __cplusplus
}
#endif
#endif
