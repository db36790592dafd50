/* The reference interpreter: runs a lowered kernel (loop IR) or evaluates a compute definition
 * straight from its definition. It is the oracle lowering, codegen and measure are checked
 * against, so it is written for plainness and checks every access, not for speed alone. */
#ifndef TT_IR_INTERP_H
#define TT_IR_INTERP_H

#include "ir/ir.h"

/* Semantics, which generated code should match up to float rounding:
 * - values are computed in int64 (ints, bools as 0/1) or double (floats); a store rounds to the
 *   buffer's dtype (float32 rounds, int32 wraps), and so does a cast;
 * - integer / and % are floor division and modulo; division by zero is an error;
 * - select, && and || evaluate only the operand that decides (guarded padding reads are safe);
 * - calls: exp, sqrt, log, tanh, fabs (also "abs"); a float -> int cast out of range is an error;
 * - every FOR runs serially, whatever its kind; a LOCAL or WORKSPACE buffer is filled with NaN
 *   (floats) or 0xa5 bytes (ints) each time its ALLOC is entered, so reads before writes show. */

/* Runs a lowered kernel: args[i] is the data pointer of k->params[i] (compact row-major, of
 * its dtype). LOCAL/WORKSPACE buffers are allocated by the interpreter. Out-of-bounds loads or
 * stores are errors (-1, message names buffer, index and size), never a crash. */
TT_API int tt_kernel_interp(const tt_kernel *k, void *const *args);
/* The reference: evaluates a compute definition directly from its definition (each stage in
 * order, every output point, reductions with their identity: sum 0, max -inf, min +inf);
 * args = inputs in order then the output; intermediate stages' tensors allocated inside. */
TT_API int tt_compute_eval(const tt_compute *c, void *const *args);

#endif
