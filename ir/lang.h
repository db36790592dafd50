/* The tensor-expression language: text such as "C[i, j] = sum(k, A[i, k] * B[k, j])" parsed into
 * a tt_compute (ir/ir.h). It is the one path from text to IR: op.json "expr" tasks and the
 * built-in ops (ir/ops.c) both come through tt_lang_parse.
 *
 * Grammar (whitespace free; '#' starts a comment to the end of the line):
 *   program   := stmt (';' stmt)* [';']
 *   stmt      := NAME ['[' NAME (',' NAME)* ']'] '=' expr      output axes: distinct names
 *   expr      := or;  or := and ('||' and)*;  and := not ('&&' not)*;  not := '!' not | cmp
 *   cmp       := sum [('<' | '<=' | '>' | '>=' | '==' | '!=') sum]
 *   sum       := term (('+' | '-') term)*;  term := unary (('*' | '/' | '//' | '%') unary)*
 *   unary     := '-' unary | primary
 *   primary   := INT | FLOAT | 'inf' | NAME | NAME '[' expr (',' expr)* ']' | NAME '(' args ')'
 *              | '(' expr ')'
 * Calls: sum(AXES, e), and max/min(AXES, e) are reductions, where AXES is one new axis name or a
 * list [r, s, c]; max(a, b) / min(a, b) are element-wise when the first argument is not a new
 * name or a list. exp, sqrt, log, tanh, abs take one argument; select(cond, a, b) picks lazily;
 * float32(e), float64(e), int32(e), int64(e) convert (float to int truncates toward zero).
 *
 * Semantics:
 * - Statements run in order; each output is a tensor later statements may read. The last
 *   statement's output is the op's output (kernel arguments: inputs in the order given, then it).
 * - Indices are integer expressions of axis names and constants: + and -, * by a constant,
 *   // and % by a positive constant. / on integers is floor division, as // is.
 * - dtype: a statement's values take the dtype of the tensors it reads (one float dtype per
 *   statement); literals adapt; an integer index expression used as a value is converted.
 * - Range inference: each axis (output or reduce) gets the largest range that keeps every
 *   affine access in bounds: A[i, k] bounds i and k by A's dims; X[n + r] with r known bounds n
 *   by len(X) - extent(r) + 1; several accesses intersect. An access dimension inside a branch of
 *   select(cond, ..) whose index uses an axis named in cond is guarded (padding): it bounds no
 *   axis, so axes only it could bound need an explicit extent. Explicit extents (by axis name,
 *   for every axis of that name) are taken as given, not tightened. Then every access is checked
 *   to stay in bounds: a guarded one with what the conditions of its selects guarantee where it
 *   is read (affine comparisons joined by &&, or by || in a negated condition, whose linear form
 *   matches the index up to a constant: "h - 1 >= 0 && h - 1 < H" guards X[h - 1]).
 * - A reduction that is not the whole body of its statement is split into its own stage named
 *   "<out>.red" ("<out>.red1", ...) over the axes it uses, so REDUCE is only at a stage's top.
 *
 * Errors: "expr:LINE:COL: message" (columns 1-based, within text). */
#ifndef TT_IR_LANG_H
#define TT_IR_LANG_H

#include "ir/ir.h"

/* One input tensor of a compute, in argument order. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    DLDataType dtype;
} tt_lang_input;

/* An explicit extent for every axis called `axis`, where the text cannot bound it. */
typedef struct {
    const char *axis;
    int64_t extent;
} tt_lang_extent;

/* Parses text into a compute called name (NULL: the last output's name). extents may be NULL
 * when nextents is 0. *out is a new reference (caller releases); -1 with the last error set. */
TT_API int tt_lang_parse(const char *text, const char *name, int ninputs,
                         const tt_lang_input *inputs, int nextents, const tt_lang_extent *extents,
                         tt_compute **out);

#endif
