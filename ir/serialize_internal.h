/* Internal to the JSON form of the IR: the names both directions share (ir/serialize.c writes,
 * ir/serialize_read.c reads). */
#ifndef TT_IR_SERIALIZE_INTERNAL_H
#define TT_IR_SERIALIZE_INTERNAL_H

#include "ir/serialize.h"

enum { T_EXPR, T_ITER, T_TENSOR, T_STAGE, T_COMPUTE, T_BUFFER, T_STMT, T_KERNEL, T_COUNT };
static const char *const type_keys[T_COUNT] = {"ir.Expr",  "ir.IterVar", "ir.Tensor",
                                               "ir.Stage", "ir.Compute", "ir.Buffer",
                                               "ir.Stmt",  "ir.Kernel"};
static const char *const stmt_kinds[TT_STMT_COUNT] = {"for", "seq", "store", "if", "alloc"};
static const char *const scopes[] = {"global", "local", "workspace"};
static const char *const axis_kinds[] = {"spatial", "reduce"};

#endif
