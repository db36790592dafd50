/* Loop IR -> readable C source, for `tvm-tune show --emit c`: what a schedule does, in the
 * language the user knows. Parallel loops become `#pragma omp parallel for`, vectorised ones
 * `#pragma omp simd`; the result compiles with any C11 compiler (with -fopenmp for the pragmas). */
#ifndef TT_CODEGEN_EMIT_C_H
#define TT_CODEGEN_EMIT_C_H

#include "ir/ir.h"

/* C source of kernel k: one function `int NAME(float *restrict A, ...)` returning 0. *out is
 * malloc'ed (caller frees); -1 with a message for nodes C cannot express (ACCESS, REDUCE). */
TT_API int tt_codegen_emit_c(const tt_kernel *k, char **out);

#endif
