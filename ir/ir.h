/* The tensor-expression IR: expressions, tensors, compute definitions (what an op computes) and
 * the loop IR that lowering produces from a compute definition and a schedule (how it is run).
 * Nodes sit on the runtime's refcounted objects; data flows op.json -> tt_compute -> tt_kernel. */
#ifndef TT_IR_IR_H
#define TT_IR_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "tt/runtime.h"

/* Every declaration below is exported from libtt (built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/* ---- dtypes ---- */
#define TT_DT_I64 ((DLDataType){kDLInt, 64, 1})
#define TT_DT_I32 ((DLDataType){kDLInt, 32, 1})
#define TT_DT_F32 ((DLDataType){kDLFloat, 32, 1})
#define TT_DT_F64 ((DLDataType){kDLFloat, 64, 1})
#define TT_DT_BOOL ((DLDataType){kDLUInt, 1, 1})
bool tt_dtype_eq(DLDataType a, DLDataType b);
bool tt_dtype_is_float(DLDataType t);
bool tt_dtype_is_int(DLDataType t); /* signed or unsigned integer, not bool */
/* "float32", "int64", "bool"...; returns a static string or NULL for unsupported types. */
const char *tt_dtype_name(DLDataType t);
/* Parses "float32", "float64", "int32", "int64", "bool"; -1 with a message otherwise. */
int tt_dtype_parse(const char *s, DLDataType *out);

/* ---- expressions ---- */
typedef enum {
    TT_EXPR_INT,   /* ival */
    TT_EXPR_FLOAT, /* fval */
    TT_EXPR_VAR,   /* name; identity is the node pointer, never the name */
    TT_EXPR_ADD,   /* args[0] + args[1]; operands have the node's dtype */
    TT_EXPR_SUB,
    TT_EXPR_MUL,
    TT_EXPR_DIV, /* floats: true division; ints: floor division */
    TT_EXPR_MOD, /* ints: floor modulo (result has the sign of the divisor) */
    TT_EXPR_MIN,
    TT_EXPR_MAX,
    TT_EXPR_EQ, /* comparisons: dtype bool, operands of one dtype */
    TT_EXPR_NE,
    TT_EXPR_LT,
    TT_EXPR_LE,
    TT_EXPR_GT,
    TT_EXPR_GE,
    TT_EXPR_AND, /* bool operands */
    TT_EXPR_OR,
    TT_EXPR_NOT,    /* args[0] */
    TT_EXPR_SELECT, /* args[0] ? args[1] : args[2] */
    TT_EXPR_CALL,   /* name(args...): math intrinsics "exp", "sqrt", "log", "tanh", "fabs" */
    TT_EXPR_CAST,   /* args[0] converted to dtype */
    TT_EXPR_ACCESS, /* tensor[args...]: a read in a compute definition, one index per dim */
    TT_EXPR_REDUCE, /* reduce_op of args[0] over axes; only at the top of a stage's body */
    TT_EXPR_LOAD,   /* buffer[args[0]]: a read in loop IR, flat element index (int64) */
    TT_EXPR_COUNT
} tt_expr_kind;

typedef enum { TT_REDUCE_SUM, TT_REDUCE_MAX, TT_REDUCE_MIN, TT_REDUCE_COUNT } tt_reduce_op;

typedef struct tt_expr tt_expr;
typedef struct tt_iter_var tt_iter_var;
typedef struct tt_tensor tt_tensor;
typedef struct tt_buffer tt_buffer;

/* Immutable once built. Children are owned references (released with the node). */
struct tt_expr {
    tt_object obj;
    tt_expr_kind kind;
    DLDataType dtype;
    int64_t ival; /* INT */
    double fval;  /* FLOAT */
    char *name;   /* VAR, CALL */
    int nargs;
    tt_expr **args;         /* operands / indices / call arguments */
    tt_tensor *tensor;      /* ACCESS */
    tt_buffer *buffer;      /* LOAD */
    tt_reduce_op reduce_op; /* REDUCE */
    int naxes;              /* REDUCE: its reduction axes */
    tt_iter_var **axes;
};

/* Every constructor returns a new reference (caller releases) or NULL after setting the last
 * error (bad operand dtypes, arity, NULL operands). Constructors retain their operands: the
 * caller keeps its own references. */
tt_expr *tt_expr_int(int64_t v); /* int64 */
tt_expr *tt_expr_int_typed(int64_t v, DLDataType t);
tt_expr *tt_expr_float(double v, DLDataType t);
tt_expr *tt_expr_var(const char *name, DLDataType t);
/* Binary ADD..OR: dtype from the operands (comparisons and AND/OR give bool). */
tt_expr *tt_expr_binary(tt_expr_kind kind, tt_expr *a, tt_expr *b);
tt_expr *tt_expr_not(tt_expr *a);
tt_expr *tt_expr_select(tt_expr *cond, tt_expr *t, tt_expr *f);
tt_expr *tt_expr_call(const char *name, DLDataType t, int nargs, tt_expr *const *args);
tt_expr *tt_expr_cast(DLDataType t, tt_expr *a);
tt_expr *tt_expr_access(tt_tensor *t, int nidx, tt_expr *const *idx);
tt_expr *tt_expr_reduce(tt_reduce_op op, tt_expr *source, int naxes, tt_iter_var *const *axes);
tt_expr *tt_expr_load(tt_buffer *b, tt_expr *index);
/* Convenience for building index arithmetic: stealing versions release their operands. */
tt_expr *tt_expr_add_s(tt_expr *a, tt_expr *b);
tt_expr *tt_expr_mul_s(tt_expr *a, tt_expr *b);

static inline tt_expr *tt_expr_retain(tt_expr *e)
{
    tt_object_retain((tt_object *)e);
    return e;
}
static inline void tt_expr_release(tt_expr *e)
{
    tt_object_release((tt_object *)e);
}
const char *tt_expr_kind_name(tt_expr_kind k);           /* "add", "var", ... (as in JSON) */
const char *tt_reduce_op_name(tt_reduce_op op);          /* "sum", "max", "min" */
bool tt_expr_is_const(const tt_expr *e, int64_t *value); /* INT node -> value */

/* ---- iteration axes, tensors, compute definitions ---- */
typedef enum { TT_AXIS_SPATIAL, TT_AXIS_REDUCE } tt_axis_kind;

/* An axis: var ranges over [0, extent). */
struct tt_iter_var {
    tt_object obj;
    tt_expr *var; /* TT_EXPR_VAR, int64 */
    int64_t extent;
    tt_axis_kind kind;
};
tt_iter_var *tt_iter_var_new(const char *name, int64_t extent, tt_axis_kind kind);
static inline void tt_iter_var_release(tt_iter_var *v)
{
    tt_object_release((tt_object *)v);
}

typedef struct tt_stage tt_stage;

/* A tensor: an input (placeholder, producer NULL) or a stage's output. */
struct tt_tensor {
    tt_object obj;
    char *name;
    DLDataType dtype;
    int ndim;
    int64_t *shape;
    tt_stage *producer; /* not owned (the stage owns the tensor); NULL for inputs */
};
tt_tensor *tt_tensor_new(const char *name, DLDataType t, int ndim, const int64_t *shape);
static inline void tt_tensor_release(tt_tensor *t)
{
    tt_object_release((tt_object *)t);
}
int64_t tt_tensor_numel(const tt_tensor *t);

/* One statement "Out[axes...] = body" of a compute definition. If body is a REDUCE its axes are
 * the reduction axes. A reduction nested inside an expression ("sum(k, ..) * s[j]") is split by
 * the front end into its own stage, so REDUCE is only ever at the top. */
struct tt_stage {
    tt_object obj;
    tt_tensor *output; /* owned; output->producer == this stage */
    int naxes;         /* == output->ndim */
    tt_iter_var **axes;
    tt_expr *body;
};
/* Takes new references to output, axes and body; sets output->producer. */
tt_stage *tt_stage_new(tt_tensor *output, int naxes, tt_iter_var *const *axes, tt_expr *body);
static inline void tt_stage_release(tt_stage *s)
{
    tt_object_release((tt_object *)s);
}

/* What an op computes. Kernel arguments: inputs in order, then the last stage's output. */
typedef struct {
    tt_object obj;
    char *name;
    int ninputs;
    tt_tensor **inputs;
    int nstages; /* topological order */
    tt_stage **stages;
} tt_compute;
tt_compute *tt_compute_new(const char *name, int ninputs, tt_tensor *const *inputs, int nstages,
                           tt_stage *const *stages);
static inline void tt_compute_release(tt_compute *c)
{
    tt_object_release((tt_object *)c);
}
tt_tensor *tt_compute_output(const tt_compute *c);
tt_stage *tt_compute_stage(const tt_compute *c, const char *name); /* by output name or NULL */
/* Floating-point operations of one evaluation (a multiply-add counts 2): for GFLOPS. */
double tt_compute_flops(const tt_compute *c);

/* ---- loop IR ---- */
typedef enum {
    TT_SCOPE_GLOBAL,    /* a kernel argument */
    TT_SCOPE_LOCAL,     /* small, on the stack (registers after mem2reg) */
    TT_SCOPE_WORKSPACE, /* large scratch (packed panels): tt_backend_alloc_workspace */
} tt_scope;

/* Flat row-major storage; loads and stores use element indices. */
struct tt_buffer {
    tt_object obj;
    char *name;
    DLDataType dtype;
    int ndim;
    int64_t *shape;
    int64_t numel;
    tt_scope scope;
};
tt_buffer *tt_buffer_new(const char *name, DLDataType t, int ndim, const int64_t *shape,
                         tt_scope scope);
static inline void tt_buffer_release(tt_buffer *b)
{
    tt_object_release((tt_object *)b);
}

typedef enum { TT_FOR_SERIAL, TT_FOR_PARALLEL, TT_FOR_VECTORIZED, TT_FOR_UNROLLED } tt_for_kind;
const char *tt_for_kind_name(tt_for_kind k); /* "serial", "parallel", "vectorized", "unrolled" */

typedef enum {
    TT_STMT_FOR,   /* for var in [0, extent): body */
    TT_STMT_SEQ,   /* stmts in order */
    TT_STMT_STORE, /* buffer[index] = value */
    TT_STMT_IF,    /* if cond then then_s else else_s (else_s may be NULL) */
    TT_STMT_ALLOC, /* buffer (LOCAL or WORKSPACE) lives during body */
    TT_STMT_COUNT
} tt_stmt_kind;

typedef struct tt_stmt tt_stmt;
struct tt_stmt {
    tt_object obj;
    tt_stmt_kind kind;
    tt_expr *var;         /* FOR: int64 VAR */
    tt_expr *extent;      /* FOR: int64 */
    tt_for_kind for_kind; /* FOR */
    tt_stmt *body;        /* FOR, ALLOC */
    int nstmts;           /* SEQ */
    tt_stmt **stmts;
    tt_buffer *buffer; /* STORE, ALLOC */
    tt_expr *index;    /* STORE: flat element index, int64 */
    tt_expr *value;    /* STORE: of buffer->dtype */
    tt_expr *cond;     /* IF: bool */
    tt_stmt *then_s, *else_s;
};
/* Constructors retain their arguments and return a new reference or NULL with the last error. */
tt_stmt *tt_stmt_for(tt_expr *var, tt_expr *extent, tt_for_kind kind, tt_stmt *body);
tt_stmt *tt_stmt_seq(int n, tt_stmt *const *stmts);
tt_stmt *tt_stmt_store(tt_buffer *b, tt_expr *index, tt_expr *value);
tt_stmt *tt_stmt_if(tt_expr *cond, tt_stmt *then_s, tt_stmt *else_s);
tt_stmt *tt_stmt_alloc(tt_buffer *b, tt_stmt *body);
static inline tt_stmt *tt_stmt_retain(tt_stmt *s)
{
    tt_object_retain((tt_object *)s);
    return s;
}
static inline void tt_stmt_release(tt_stmt *s)
{
    tt_object_release((tt_object *)s);
}

/* A lowered kernel: void name(params...) running body. params are GLOBAL buffers. */
typedef struct {
    tt_object obj;
    char *name;
    int nparams;
    tt_buffer **params;
    tt_stmt *body;
} tt_kernel;
tt_kernel *tt_kernel_new(const char *name, int nparams, tt_buffer *const *params, tt_stmt *body);
static inline void tt_kernel_release(tt_kernel *k)
{
    tt_object_release((tt_object *)k);
}

/* Type keys of the node kinds ("ir.Expr", "ir.IterVar", "ir.Tensor", "ir.Stage", "ir.Compute",
 * "ir.Buffer", "ir.Stmt", "ir.Kernel"), for tt_object_key and the JSON form. */
uint32_t tt_ir_type_index(const char *key);

#pragma GCC visibility pop

#endif
