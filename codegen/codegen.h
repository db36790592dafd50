/* Code generation: loop IR kernels (ir/ir.h) -> LLVM IR (llvm-c) -> host JIT module, object file,
 * assembly, LLVM text or shared library, for this host or any target LLVM knows. Sits between
 * ir/lower (which makes the kernels) and measure/ and tuner/ (which run and ship them).
 *
 * Each kernel NAME becomes two symbols: the plain C function `int32_t NAME(T0 *p0, T1 *p1, ...)`
 * (params in order, data 64-byte aligned and not aliasing; returns 0, or -1 when a workspace
 * allocation or parallel launch failed) and the PackedFunc `__tt_packed_NAME` (tt_packed_cfunc)
 * that checks its DLTensor arguments (count, type code, device, ndim, dtype, shape, compactness,
 * alignment) and then calls NAME. */
#ifndef TT_CODEGEN_CODEGEN_H
#define TT_CODEGEN_CODEGEN_H

#include <stdbool.h>

#include "ir/ir.h"
#include "tt/runtime.h"

/* ---- targets ---- */

/* A parsed target string: "llvm" (this host), "llvm -mcpu=NAME|native", "llvm -mtriple=T
 * [-mcpu=C] [-mattr=+a,-b]". */
typedef struct tt_target tt_target;

/* Parses s; -1 with a message naming the string and the bad part. Caller frees *out. */
TT_API int tt_target_parse(const char *s, tt_target **out);
/* Frees t (NULL is a no-op). */
TT_API void tt_target_free(tt_target *t);
/* Canonical form, e.g. "llvm -mtriple=x86_64-linux-gnu -mcpu=znver4"; valid while t lives. */
TT_API const char *tt_target_str(const tt_target *t);
/* The normalised LLVM triple ("x86_64-pc-linux-gnu"); valid while t lives. */
TT_API const char *tt_target_triple(const tt_target *t);
/* The CPU name LLVM gets ("skylake-avx512", "cortex-a72", "generic"); valid while t lives. */
TT_API const char *tt_target_cpu(const tt_target *t);
/* Width in bits of the widest vector register the target uses (512 AVX-512, 256 AVX2, 128 NEON). */
TT_API int tt_target_vector_bits(const tt_target *t);
/* Vector registers the code may keep live (16 AVX2, 32 AVX-512 and AArch64, 8 i386). */
TT_API int tt_target_vector_regs(const tt_target *t);
/* True when code for t runs on this machine (same architecture and OS), so it can be JIT'd. */
TT_API bool tt_target_is_host(const tt_target *t);

/* ---- compilation ---- */

/* Wall-clock time of the last compilation on this thread (JIT or emission), in milliseconds. */
typedef struct {
    double ir_ms;      /* loop IR -> LLVM IR */
    double opt_ms;     /* the O3 pipeline */
    double codegen_ms; /* machine code (JIT materialisation, object or assembly) and linking */
    double total_ms;
} tt_codegen_stats;

/* Compiles n kernels for the host target t into a runtime Module of format "jit" (ORC LLJIT);
 * its functions are the kernels' names. Caller frees *out with tt_mod_free. */
TT_API int tt_codegen_jit(tt_kernel *const *kernels, int n, const tt_target *t, tt_module *out);
/* The raw C entry point (int32_t NAME(T *...)) of kernel name in a module made by tt_codegen_jit,
 * or NULL with the last error set (not a JIT module, unknown name). Valid while m lives. */
TT_API void *tt_codegen_jit_lookup(tt_module m, const char *name);

typedef enum { TT_EMIT_LLVM, TT_EMIT_ASM, TT_EMIT_OBJ, TT_EMIT_SO } tt_emit_kind;

/* Compiles n kernels for t and writes LLVM IR text, assembly, an object file or a shared library
 * (linked with ld.lld; its tt_backend_* references resolve when loaded next to libtt_runtime). */
TT_API int tt_codegen_emit(tt_kernel *const *kernels, int n, const tt_target *t, tt_emit_kind kind,
                           const char *path);
/* As tt_codegen_emit for TT_EMIT_LLVM or TT_EMIT_ASM, into a NUL-terminated string the caller
 * frees with free(). */
TT_API int tt_codegen_emit_text(tt_kernel *const *kernels, int n, const tt_target *t,
                                tt_emit_kind kind, char **out);
/* Timings of the last tt_codegen_jit / tt_codegen_emit / tt_codegen_emit_text on this thread. */
TT_API tt_codegen_stats tt_codegen_last_stats(void);

#endif
