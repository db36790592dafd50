/* Readable text of IR nodes, for debugging, logs and golden tests: expressions in the syntax of
 * the expression language (ir/lang.h), loop IR as an indented loop nest. The stage lines of
 * tt_compute_str parse back to the same compute, except casts ("float32(x)") and stage names the
 * front end made ("Y.red"). Not a serialisation: variables print by name, so distinct variables
 * may print alike (ir/serialize.h keeps them apart). Every function returns a string the caller
 * frees, or NULL with the last error set. */
#ifndef TT_IR_PRINTER_H
#define TT_IR_PRINTER_H

#include "ir/ir.h"

/* "(A[i, k] * B[k, j])", "sum(k: 0..64, A[i, k])", "select(c, a, b)", "C[(i*64 + j)]" */
TT_API char *tt_expr_str(const tt_expr *e);
/* One statement per line, two spaces per level: "parallel for (i.0, 0, 16) {" ... "}",
 * "alloc C.local[float32 x 64] {" ... "}", "C[(i*64 + j)] = C[(i*64 + j)] + 1.0". */
TT_API char *tt_stmt_str(const tt_stmt *s);
/* "kernel name(A: float32[64, 128], ...) {", the body, "}". */
TT_API char *tt_kernel_str(const tt_kernel *k);
/* "compute name(A: float32[64, 128], ...) {", one line per stage in the expression language
 * ("  C[i, j] = sum(k, A[i, k] * B[k, j])  # float32[64, 32]; i < 64, j < 32, k < 128"), "}". */
TT_API char *tt_compute_str(const tt_compute *c);

#endif
