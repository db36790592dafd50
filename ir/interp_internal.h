/* Internal to the reference interpreter: the stack bytecode that ir/interp.c compiles loop IR and
 * compute definitions to, and that ir/interp_vm.c runs. */
#ifndef TT_IR_INTERP_INTERNAL_H
#define TT_IR_INTERP_INTERNAL_H

#include "ir/interp.h"

/* Values are evaluated in int64 (ints and bools) or double (floats); the dtype only matters when
 * a value is stored, where float32 rounds to float and int32 wraps. */
typedef union {
    int64_t i;
    double f;
} val;

enum { CLS_I, CLS_F }; /* bools are class I with values 0 and 1 */
enum { ET_F32, ET_F64, ET_I32, ET_I64, ET_BOOL };

typedef enum {
    OP_HALT,
    OP_PUSH, /* imm */
    OP_VAR,  /* a = variable slot */
    OP_ADD_I,
    OP_SUB_I,
    OP_MUL_I,
    OP_DIV_I,
    OP_MOD_I,
    OP_MIN_I,
    OP_MAX_I,
    OP_ADD_F,
    OP_SUB_F,
    OP_MUL_F,
    OP_DIV_F,
    OP_MIN_F,
    OP_MAX_F,
    OP_EQ_I,
    OP_NE_I,
    OP_LT_I,
    OP_LE_I,
    OP_GT_I,
    OP_GE_I,
    OP_EQ_F,
    OP_NE_F,
    OP_LT_F,
    OP_LE_F,
    OP_GT_F,
    OP_GE_F,
    OP_ADDK_I,    /* top += imm.i: index arithmetic with a constant, the common case */
    OP_MULK_I,    /* top *= imm.i */
    OP_ADDV_I,    /* top += var a */
    OP_VARMULK_I, /* push var a * imm.i */
    OP_ADDVK_I,   /* top += var a * imm.i: one term of a flattened index */
    OP_NOT,
    OP_JZ,    /* pop; jump to a when zero */
    OP_JNZ,   /* pop; jump to a when nonzero */
    OP_JMP,   /* jump to a */
    OP_CALL,  /* a = intrinsic; operand and result are doubles */
    OP_I2F,   /* int -> double; b = 1 rounds through float */
    OP_F2F32, /* double -> float -> double */
    OP_F2I,   /* double -> int64 (truncation); a = element type for the range check */
    OP_I2I32, /* int64 -> int32 (wraps) */
    OP_TOBOOL_I,
    OP_TOBOOL_F,
    OP_LOAD,      /* pop index; push buffer a [index] */
    OP_STORE,     /* pop value, index; buffer a [index] = value */
    OP_ACCESS,    /* pop b indices; push tensor a [indices] */
    OP_STORE_AT,  /* pop value, b indices; tensor a [indices] = value */
    OP_LOOP_INIT, /* pop extent; var a = 0; jump to b when extent <= 0 */
    OP_LOOP_NEXT, /* ++var a; jump to b while var a < extent */
    OP_ALLOC,     /* buffer a enters scope: poisoned so reads before writes show */
} opcode;

enum { FN_EXP, FN_SQRT, FN_LOG, FN_TANH, FN_FABS };

typedef struct {
    int op;
    int a, b;
    val imm;
} ins;

/* A buffer (loop IR) or tensor (compute) slot. */
typedef struct {
    const void *node; /* identity: a tt_buffer or tt_tensor */
    const char *name;
    int et;
    int ndim;
    const int64_t *shape;
    int64_t numel;
    int arg;   /* argument index, or -1 when the interpreter allocates it */
    bool live; /* compile time: in scope */
} slot_buf;

typedef struct {
    ins *code;
    int n, cap;
    int depth, max_depth;
    struct {
        const tt_expr *var; /* variable slots by node identity, never by name */
        bool bound;
    } *vars;
    int nvars, cap_vars;
    slot_buf *bufs;
    int nbufs, cap_bufs;
    bool compute; /* tensors (ACCESS) rather than buffers (LOAD) */
    int err;
} prog;

/* Runs p (ending in OP_HALT) with the interpreter's own buffers allocated and args bound to the
 * argument slots; frees what it allocated. -1 with the last error set. */
int interp_execute(const prog *p, void *const *args, int nargs);

#endif
