/* The JSON form of IR nodes: a node table plus a root, so that shared nodes (a variable used in
 * many indices, a tensor read by many accesses) stay shared and distinct nodes with one name stay
 * distinct through a round trip. Schedules, logs and the RPC builder ship IR this way.
 *
 *   {"root": 5, "nodes": [{"type": "ir.Expr", "kind": "var", "dtype": "int64", "name": "i"},
 *                         {"type": "ir.Expr", "kind": "add", "dtype": "int64", "args": [0, 0]},
 *                         ...]}
 *
 * A node refers to others by index, and only to earlier ones, so a table has no cycles. */
#ifndef TT_IR_SERIALIZE_H
#define TT_IR_SERIALIZE_H

#include "ir/ir.h"

/* Any of Expr, IterVar, Tensor, Stage, Compute, Buffer, Stmt, Kernel -> compact JSON text the
 * caller frees; NULL with the last error set. */
TT_API char *tt_ir_to_json(const tt_object *node);
/* Parses and validates text from tt_ir_to_json. *out is a new reference to the root (caller
 * releases; tt_object_key says its type). -1 with a message naming the JSON path of the bad part
 * ("nodes[3].args[1]: ..."); every node is built by its constructor, whose checks apply. */
TT_API int tt_ir_from_json(const char *json, tt_object **out);

#endif
