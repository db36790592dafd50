/* The reference interpreter: runs a lowered kernel (loop IR) or evaluates a compute definition
 * straight from its definition. It is the oracle lowering, codegen and measure are checked
 * against, so it is written for plainness and checks every access, not for speed alone. */
#ifndef TT_IR_INTERP_H
#define TT_IR_INTERP_H

#include "ir/ir.h"

/* Runs a lowered kernel: args[i] is the data pointer of k->params[i] (compact row-major, of
 * its dtype). LOCAL/WORKSPACE buffers are allocated by the interpreter. Out-of-bounds loads or
 * stores are errors (-1, message names buffer, index and size), never a crash. */
TT_API int tt_kernel_interp(const tt_kernel *k, void *const *args);
/* The reference: evaluates a compute definition directly from its definition (each stage in
 * order, every output point, reductions with their identity: sum 0, max -inf, min +inf);
 * args = inputs in order then the output; intermediate stages' tensors allocated inside. */
TT_API int tt_compute_eval(const tt_compute *c, void *const *args);

#endif
