/* Lowering: a compute definition (ir/ir.h) and a schedule (ir/schedule.h) become a kernel in loop
 * IR, which codegen/ compiles and ir/interp.c runs. This is where the steps take effect.
 *
 * The kernel's parameters are one GLOBAL buffer per input (in order, named as the inputs), then
 * the output (the last stage's tensor). Intermediate stages get a WORKSPACE buffer (LOCAL when
 * at most 16 KiB) allocated around the whole body, unless inlined, fused as an epilogue, or
 * computed at a consumer's loop (then a buffer of the region that loop needs, allocated there).
 *
 * Without a schedule every stage is one nest: its spatial axes in order, then its reduce axes;
 * a reduction stores its identity (sum 0, max -inf, min +inf) above the outermost reduce loop,
 * over the spatial loops that lie below it, then accumulates out[idx] = out[idx] op value.
 * Non-dividing splits guard the body with "original index < extent" at the innermost loop the
 * guard needs; tt_simplify_stmt removes guards the loop ranges prove. */
#ifndef TT_IR_LOWER_H
#define TT_IR_LOWER_H

#include "ir/ir.h"
#include "ir/schedule.h"

/* Lowers c under schedule s (NULL or empty: the default nest) into a kernel called kernel_name.
 * *out is a new reference. A step that does not apply fails with a message naming the step and
 * the loop: "step 3 (vectorize C.j.1): loop is not innermost". */
TT_API int tt_lower(const tt_compute *c, const tt_schedule *s, const char *kernel_name,
                    tt_kernel **out);

/* One loop of a stage's nest after a schedule: what later steps can name. */
typedef struct {
    char *name;
    int64_t extent;
    bool reduce;
    tt_for_kind kind;
} tt_loop_info;

/* The loops of stage (outer to inner) after replaying s on c: for search, which builds steps on
 * loop names. *out is an array of *n loops, freed with tt_loop_info_free. -1 with the step's
 * message when s does not apply, or when the stage has no nest of its own (inlined, fused). An
 * attached stage (compute_at) reports its loops over the inferred region. */
TT_API int tt_lower_loops(const tt_compute *c, const tt_schedule *s, const char *stage, int *n,
                          tt_loop_info **out);
TT_API void tt_loop_info_free(tt_loop_info *loops, int n);

/* The epilogue rule, for lowering's inline step and for search: the output stage of c, inlined
 * after the stages marked in inlined[0..nstages), fuses as an epilogue into the latest stage it
 * reads (through the inlined ones) that is not inlined, when it reads that stage only at its own
 * axes, has its shape, and reads no later stage that is not inlined. *producer is that stage, or
 * -1 when the output does not fuse (a reduction never does). -1 only when out of memory. */
TT_API int tt_lower_epilogue(const tt_compute *c, const bool *inlined, int *producer);

#endif
