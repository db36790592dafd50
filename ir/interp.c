/* The reference interpreter (ir/interp.h): loop IR and compute definitions are compiled to a
 * small stack bytecode (one pass, every variable and buffer resolved to a slot by node identity)
 * and run by one switch loop. It is the oracle for lowering and codegen, so every load, store and
 * tensor access is bounds-checked and every failure is an error message, never a crash. */
#include "ir/interp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    OP_PUSH,   /* imm */
    OP_VAR,    /* a = variable slot */
    OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I, OP_MIN_I, OP_MAX_I,
    OP_ADD_F, OP_SUB_F, OP_MUL_F, OP_DIV_F, OP_MIN_F, OP_MAX_F,
    OP_EQ_I, OP_NE_I, OP_LT_I, OP_LE_I, OP_GT_I, OP_GE_I,
    OP_EQ_F, OP_NE_F, OP_LT_F, OP_LE_F, OP_GT_F, OP_GE_F,
    OP_ADDK_I,   /* top += imm.i: index arithmetic with a constant, the common case */
    OP_MULK_I,   /* top *= imm.i */
    OP_ADDV_I,   /* top += var a */
    OP_VARMULK_I, /* push var a * imm.i */
    OP_NOT,
    OP_JZ,        /* pop; jump to a when zero */
    OP_JNZ,       /* pop; jump to a when nonzero */
    OP_JMP,       /* jump to a */
    OP_CALL,      /* a = intrinsic; operand and result are doubles */
    OP_I2F,       /* int -> double; b = 1 rounds through float */
    OP_F2F32,     /* double -> float -> double */
    OP_F2I,       /* double -> int64 (truncation); a = element type for the range check */
    OP_I2I32,     /* int64 -> int32 (wraps) */
    OP_TOBOOL_I,
    OP_TOBOOL_F,
    OP_LOAD,       /* pop index; push buffer a [index] */
    OP_STORE,      /* pop value, index; buffer a [index] = value */
    OP_ACCESS,     /* pop b indices; push tensor a [indices] */
    OP_STORE_AT,   /* pop value, b indices; tensor a [indices] = value */
    OP_LOOP_INIT,  /* pop extent; var a = 0; jump to b when extent <= 0 */
    OP_LOOP_NEXT,  /* ++var a; jump to b while var a < extent */
    OP_ALLOC,      /* buffer a enters scope: poisoned so reads before writes show */
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

/* ---- compiling ---- */

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return tt_error_set("interp: out of memory");
    *p = np;
    *cap = nc;
    return 0;
}

/* Appends an instruction whose net stack effect is delta; returns its position or -1. */
static int emit(prog *p, int op, int a, int b, val imm, int delta)
{
    if (grow((void **)&p->code, &p->cap, p->n + 1, sizeof *p->code) < 0)
        return -1;
    p->code[p->n] = (ins){op, a, b, imm};
    p->depth += delta;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    return p->n++;
}
static const val V0 = {0};
#define EMIT(p, op, a, b, delta)                                                                   \
    do {                                                                                           \
        if (emit(p, op, a, b, V0, delta) < 0)                                                      \
            return -1;                                                                             \
    } while (0)

static int cls_of(DLDataType t, int *cls)
{
    if (t.lanes == 1 && t.code == kDLFloat && (t.bits == 32 || t.bits == 64))
        *cls = CLS_F;
    else if (t.lanes == 1 && (t.code == kDLInt || t.code == kDLUInt) && t.bits >= 1 &&
             t.bits <= 64)
        *cls = CLS_I;
    else
        return tt_error_set("dtype (code %d, %d bits, %d lanes) is not supported", t.code,
                            t.bits, t.lanes);
    return 0;
}

static int et_of(DLDataType t, const char *what, int *et)
{
    const char *n = tt_dtype_name(t);
    if (!n)
        return tt_error_set("%s: dtype (code %d, %d bits) is not supported", what, t.code, t.bits);
    *et = tt_dtype_is_float(t) ? (t.bits == 32 ? ET_F32 : ET_F64)
          : t.bits == 1        ? ET_BOOL
          : t.bits == 32       ? ET_I32
                               : ET_I64;
    return 0;
}

static int var_slot(prog *p, const tt_expr *v)
{
    for (int i = 0; i < p->nvars; i++)
        if (p->vars[i].var == v)
            return i;
    if (grow((void **)&p->vars, &p->cap_vars, p->nvars + 1, sizeof *p->vars) < 0)
        return -1;
    p->vars[p->nvars].var = v;
    p->vars[p->nvars].bound = false;
    return p->nvars++;
}

static int bind(prog *p, const tt_expr *v)
{
    int s = var_slot(p, v);
    if (s < 0)
        return -1;
    if (p->vars[s].bound)
        return tt_error_set("variable %s is bound again by a loop nested inside its own loop",
                            v->name);
    p->vars[s].bound = true;
    return s;
}

static int buf_slot(prog *p, const void *node)
{
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].node == node)
            return i;
    return -1;
}

static int add_buf(prog *p, const void *node, const char *name, DLDataType dt, int ndim,
                   const int64_t *shape, int64_t numel, int arg)
{
    int et = ET_F32;
    if (et_of(dt, name, &et) < 0)
        return -1;
    if (numel < 0 || numel > INT64_MAX / 8)
        return tt_error_set("%s: %lld elements is not a valid size", name, (long long)numel);
    if (grow((void **)&p->bufs, &p->cap_bufs, p->nbufs + 1, sizeof *p->bufs) < 0)
        return -1;
    p->bufs[p->nbufs] = (slot_buf){node, name, et, ndim, shape, numel, arg, arg >= 0};
    return p->nbufs++;
}

static int expr(prog *p, const tt_expr *e);

/* Compiles e and converts it to class want (for call operands and index checks). */
static int expr_as(prog *p, const tt_expr *e, int want)
{
    int c;
    if (expr(p, e) < 0 || cls_of(e->dtype, &c) < 0)
        return -1;
    if (c == want)
        return 0;
    if (want == CLS_F)
        EMIT(p, OP_I2F, 0, 0, 0);
    else
        EMIT(p, OP_F2I, ET_I64, 0, 0);
    return 0;
}

static int index_expr(prog *p, const tt_expr *e, const char *what)
{
    int c;
    if (cls_of(e->dtype, &c) < 0)
        return -1;
    if (c != CLS_I || e->dtype.bits == 1)
        return tt_error_set("%s: index has dtype %s, expected an integer", what,
                            tt_dtype_name(e->dtype) ? tt_dtype_name(e->dtype) : "?");
    return expr(p, e);
}

static int binary(prog *p, const tt_expr *e)
{
    int c;
    if (cls_of(e->args[0]->dtype, &c) < 0)
        return -1;
    int64_t k;
    /* Index arithmetic is mostly "x*const + y": fold constants and variables into the
     * instruction, which halves the instructions of a typical load. */
    if (c == CLS_I && (e->kind == TT_EXPR_ADD || e->kind == TT_EXPR_MUL) &&
        tt_expr_is_const(e->args[1], &k)) {
        val imm = {.i = k};
        if (e->kind == TT_EXPR_MUL && e->args[0]->kind == TT_EXPR_VAR) {
            int s = var_slot(p, e->args[0]);
            if (s < 0 || expr(p, e->args[0]) < 0) /* checks that it is bound */
                return -1;
            p->code[p->n - 1].op = OP_VARMULK_I;
            p->code[p->n - 1].imm = imm;
            return 0;
        }
        if (expr(p, e->args[0]) < 0)
            return -1;
        return emit(p, e->kind == TT_EXPR_ADD ? OP_ADDK_I : OP_MULK_I, 0, 0, imm, 0) < 0 ? -1 : 0;
    }
    if (c == CLS_I && e->kind == TT_EXPR_ADD && e->args[1]->kind == TT_EXPR_VAR) {
        if (expr(p, e->args[0]) < 0 || expr(p, e->args[1]) < 0)
            return -1;
        p->code[p->n - 1].op = OP_ADDV_I; /* the VAR just emitted: add it instead of pushing */
        p->depth--;
        return 0;
    }
    if (expr(p, e->args[0]) < 0 || expr(p, e->args[1]) < 0)
        return -1;
    static const int ops_i[] = {OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I, OP_MIN_I,
                                OP_MAX_I, OP_EQ_I,  OP_NE_I,  OP_LT_I,  OP_LE_I,  OP_GT_I,
                                OP_GE_I};
    static const int ops_f[] = {OP_ADD_F, OP_SUB_F, OP_MUL_F, OP_DIV_F, -1,       OP_MIN_F,
                                OP_MAX_F, OP_EQ_F,  OP_NE_F,  OP_LT_F,  OP_LE_F,  OP_GT_F,
                                OP_GE_F};
    int op = (c == CLS_I ? ops_i : ops_f)[e->kind - TT_EXPR_ADD];
    if (op < 0)
        return tt_error_set("mod: operands must be integers");
    EMIT(p, op, 0, 0, -1);
    return 0;
}

/* a && b, a || b and select: only the operand that decides is evaluated, so a guard such as
 * select(i >= 1, A[i - 1], 0) never reads out of bounds (padding relies on it). */
static int branchy(prog *p, const tt_expr *e)
{
    if (expr(p, e->args[0]) < 0)
        return -1;
    int jz = emit(p, e->kind == TT_EXPR_OR ? OP_JNZ : OP_JZ, 0, 0, V0, -1);
    if (jz < 0 || expr(p, e->args[1]) < 0)
        return -1;
    int jmp = emit(p, OP_JMP, 0, 0, V0, 0);
    if (jmp < 0)
        return -1;
    p->depth--; /* the other branch pushes the same one value */
    p->code[jz].a = p->n;
    if (e->kind == TT_EXPR_SELECT) {
        if (expr(p, e->args[2]) < 0)
            return -1;
    } else {
        val imm = {.i = e->kind == TT_EXPR_OR};
        if (emit(p, OP_PUSH, 0, 0, imm, 1) < 0)
            return -1;
    }
    p->code[jmp].a = p->n;
    return 0;
}

/* Converts the value on top of the stack from class `from` to dtype t. */
static int convert(prog *p, int from, DLDataType t)
{
    int to, et = ET_I64;
    if (cls_of(t, &to) < 0)
        return -1;
    if (t.bits == 1 && t.code == kDLUInt) {
        EMIT(p, from == CLS_F ? OP_TOBOOL_F : OP_TOBOOL_I, 0, 0, 0);
        return 0;
    }
    if (to == CLS_F) {
        if (from == CLS_I)
            EMIT(p, OP_I2F, 0, t.bits == 32, 0);
        else if (t.bits == 32)
            EMIT(p, OP_F2F32, 0, 0, 0);
        return 0;
    }
    et = t.bits == 32 ? ET_I32 : ET_I64;
    if (from == CLS_F)
        EMIT(p, OP_F2I, et, 0, 0);
    if (t.bits == 32)
        EMIT(p, OP_I2I32, 0, 0, 0);
    return 0;
}

static int call(prog *p, const tt_expr *e)
{
    static const char *names[] = {"exp", "sqrt", "log", "tanh", "fabs", "abs"};
    int fn = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(e->name, names[i]) == 0)
            fn = i == 5 ? FN_FABS : i;
    if (fn < 0)
        return tt_error_set("call %s: unknown intrinsic (expected exp, sqrt, log, tanh or fabs)",
                            e->name);
    if (e->nargs != 1)
        return tt_error_set("call %s: %d arguments, expected 1", e->name, e->nargs);
    if (expr_as(p, e->args[0], CLS_F) < 0)
        return -1;
    EMIT(p, OP_CALL, fn, 0, 0);
    return convert(p, CLS_F, e->dtype);
}

static int expr(prog *p, const tt_expr *e)
{
    int c;
    if (cls_of(e->dtype, &c) < 0)
        return tt_error_wrap("%s", tt_expr_kind_name(e->kind));
    switch (e->kind) {
    case TT_EXPR_INT:
    case TT_EXPR_FLOAT: {
        val imm;
        if (c == CLS_F)
            imm.f = e->kind == TT_EXPR_INT ? (double)e->ival : e->fval;
        else
            imm.i = e->kind == TT_EXPR_INT ? e->ival : (int64_t)e->fval;
        if (c == CLS_F && e->dtype.bits == 32)
            imm.f = (float)imm.f;
        return emit(p, OP_PUSH, 0, 0, imm, 1) < 0 ? -1 : 0;
    }
    case TT_EXPR_VAR: {
        int s = var_slot(p, e);
        if (s < 0)
            return -1;
        if (!p->vars[s].bound)
            return tt_error_set("variable %s is used outside a loop or axis that binds it",
                                e->name);
        EMIT(p, OP_VAR, s, 0, 1);
        return 0;
    }
    case TT_EXPR_ADD: case TT_EXPR_SUB: case TT_EXPR_MUL: case TT_EXPR_DIV: case TT_EXPR_MOD:
    case TT_EXPR_MIN: case TT_EXPR_MAX: case TT_EXPR_EQ: case TT_EXPR_NE: case TT_EXPR_LT:
    case TT_EXPR_LE: case TT_EXPR_GT: case TT_EXPR_GE:
        return binary(p, e);
    case TT_EXPR_AND:
    case TT_EXPR_OR:
    case TT_EXPR_SELECT:
        return branchy(p, e);
    case TT_EXPR_NOT:
        if (expr(p, e->args[0]) < 0)
            return -1;
        EMIT(p, OP_NOT, 0, 0, 0);
        return 0;
    case TT_EXPR_CALL:
        return call(p, e);
    case TT_EXPR_CAST: {
        int from;
        if (expr(p, e->args[0]) < 0 || cls_of(e->args[0]->dtype, &from) < 0)
            return -1;
        return convert(p, from, e->dtype);
    }
    case TT_EXPR_LOAD: {
        if (p->compute)
            return tt_error_set("load %s: a compute definition reads tensors, not buffers",
                                e->buffer->name);
        int s = buf_slot(p, e->buffer);
        if (s < 0 || !p->bufs[s].live)
            return tt_error_set("load %s: the buffer is neither a parameter nor allocated here",
                                e->buffer->name);
        if (index_expr(p, e->args[0], e->buffer->name) < 0)
            return -1;
        EMIT(p, OP_LOAD, s, 0, 0);
        return 0;
    }
    case TT_EXPR_ACCESS: {
        if (!p->compute)
            return tt_error_set("access %s: loop IR reads buffers, not tensors", e->tensor->name);
        int s = buf_slot(p, e->tensor);
        if (s < 0 || !p->bufs[s].live)
            return tt_error_set("access %s: the tensor is neither an input nor produced by an "
                                "earlier stage", e->tensor->name);
        for (int i = 0; i < e->nargs; i++)
            if (index_expr(p, e->args[i], e->tensor->name) < 0)
                return -1;
        EMIT(p, OP_ACCESS, s, e->nargs, 1 - e->nargs);
        return 0;
    }
    case TT_EXPR_REDUCE:
        return tt_error_set("reduce: only allowed as the whole body of a stage");
    default:
        return tt_error_set("expression kind %d is not supported", (int)e->kind);
    }
}

/* for var in [0, extent): body(); the extent is already on the stack. */
static int loop_begin(prog *p, const tt_expr *var, int *slot, int *init)
{
    if ((*slot = bind(p, var)) < 0)
        return -1;
    *init = emit(p, OP_LOOP_INIT, *slot, 0, V0, -1);
    return *init < 0 ? -1 : 0;
}

static int loop_end(prog *p, int slot, int init)
{
    EMIT(p, OP_LOOP_NEXT, slot, init + 1, 0);
    p->code[init].b = p->n;
    p->vars[slot].bound = false;
    return 0;
}

static int stmt(prog *p, const tt_stmt *s)
{
    switch (s->kind) {
    case TT_STMT_FOR: {
        int slot, init;
        if (index_expr(p, s->extent, s->var->name) < 0 || loop_begin(p, s->var, &slot, &init) < 0 ||
            stmt(p, s->body) < 0)
            return -1;
        return loop_end(p, slot, init);
    }
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (stmt(p, s->stmts[i]) < 0)
                return -1;
        return 0;
    case TT_STMT_STORE: {
        int b = buf_slot(p, s->buffer), c;
        if (b < 0 || !p->bufs[b].live)
            return tt_error_set("store %s: the buffer is neither a parameter nor allocated here",
                                s->buffer->name);
        if (index_expr(p, s->index, s->buffer->name) < 0 || expr(p, s->value) < 0 ||
            cls_of(s->value->dtype, &c) < 0)
            return tt_error_wrap("store %s", s->buffer->name);
        if (!tt_dtype_eq(s->value->dtype, s->buffer->dtype))
            return tt_error_set("store %s: value dtype differs from the buffer's",
                                s->buffer->name);
        EMIT(p, OP_STORE, b, 0, -2);
        return 0;
    }
    case TT_STMT_IF: {
        if (expr(p, s->cond) < 0)
            return -1;
        int jz = emit(p, OP_JZ, 0, 0, V0, -1);
        if (jz < 0 || stmt(p, s->then_s) < 0)
            return -1;
        if (!s->else_s) {
            p->code[jz].a = p->n;
            return 0;
        }
        int jmp = emit(p, OP_JMP, 0, 0, V0, 0);
        if (jmp < 0)
            return -1;
        p->code[jz].a = p->n;
        if (stmt(p, s->else_s) < 0)
            return -1;
        p->code[jmp].a = p->n;
        return 0;
    }
    case TT_STMT_ALLOC: {
        const tt_buffer *buf = s->buffer;
        int b = buf_slot(p, buf);
        if (b >= 0 && p->bufs[b].live)
            return tt_error_set("alloc %s: the buffer is already live here", buf->name);
        if (b < 0 &&
            (b = add_buf(p, buf, buf->name, buf->dtype, buf->ndim, buf->shape, buf->numel, -1)) < 0)
            return -1;
        p->bufs[b].live = true;
        EMIT(p, OP_ALLOC, b, 0, 0);
        if (stmt(p, s->body) < 0)
            return -1;
        p->bufs[b].live = false;
        return 0;
    }
    default:
        return tt_error_set("statement kind %d is not supported", (int)s->kind);
    }
}

/* One stage: a loop per output axis, and for a reduction the accumulator stays on the stack
 * (under the value of each point) while the reduction loops run. */
static int stage(prog *p, const tt_stage *st)
{
    const tt_tensor *out = st->output;
    const tt_expr *body = st->body;
    int slots[st->naxes + 1], inits[st->naxes + 1];
    int oc, bc;
    if (cls_of(out->dtype, &oc) < 0 || cls_of(body->dtype, &bc) < 0)
        return -1;
    if (!tt_dtype_eq(out->dtype, body->dtype))
        return tt_error_set("body dtype %s differs from the output's %s",
                            tt_dtype_name(body->dtype) ? tt_dtype_name(body->dtype) : "?",
                            tt_dtype_name(out->dtype) ? tt_dtype_name(out->dtype) : "?");
    for (int d = 0; d < st->naxes; d++) {
        val ext = {.i = st->axes[d]->extent};
        if (emit(p, OP_PUSH, 0, 0, ext, 1) < 0 || loop_begin(p, st->axes[d]->var, &slots[d],
                                                             &inits[d]) < 0)
            return -1;
    }
    for (int d = 0; d < st->naxes; d++)
        EMIT(p, OP_VAR, slots[d], 0, 1);
    if (body->kind == TT_EXPR_REDUCE) {
        int rs[body->naxes + 1], ri[body->naxes + 1];
        val id;
        bool f = oc == CLS_F;
        bool i32 = out->dtype.bits == 32, b1 = out->dtype.bits == 1;
        int op;
        switch (body->reduce_op) {
        case TT_REDUCE_SUM:
            id.i = 0;
            if (f)
                id.f = 0.0;
            op = f ? OP_ADD_F : OP_ADD_I;
            break;
        case TT_REDUCE_MAX:
            if (f)
                id.f = -INFINITY;
            else
                id.i = b1 ? 0 : i32 ? INT32_MIN : INT64_MIN;
            op = f ? OP_MAX_F : OP_MAX_I;
            break;
        case TT_REDUCE_MIN:
            if (f)
                id.f = INFINITY;
            else
                id.i = b1 ? 1 : i32 ? INT32_MAX : INT64_MAX;
            op = f ? OP_MIN_F : OP_MIN_I;
            break;
        default:
            return tt_error_set("reduce: unknown operator %d", (int)body->reduce_op);
        }
        if (emit(p, OP_PUSH, 0, 0, id, 1) < 0)
            return -1;
        for (int r = 0; r < body->naxes; r++) {
            val ext = {.i = body->axes[r]->extent};
            if (emit(p, OP_PUSH, 0, 0, ext, 1) < 0 ||
                loop_begin(p, body->axes[r]->var, &rs[r], &ri[r]) < 0)
                return -1;
        }
        if (expr(p, body->args[0]) < 0)
            return -1;
        EMIT(p, op, 0, 0, -1);
        for (int r = body->naxes - 1; r >= 0; r--)
            if (loop_end(p, rs[r], ri[r]) < 0)
                return -1;
        if (f && out->dtype.bits == 32)
            EMIT(p, OP_F2F32, 0, 0, 0);
    } else if (expr(p, body) < 0) {
        return -1;
    }
    int s = buf_slot(p, out);
    EMIT(p, OP_STORE_AT, s, st->naxes, -1 - st->naxes);
    for (int d = st->naxes - 1; d >= 0; d--)
        if (loop_end(p, slots[d], inits[d]) < 0)
            return -1;
    return 0;
}

static void prog_free(prog *p)
{
    free(p->code);
    free(p->vars);
    free(p->bufs);
}

/* ---- running ---- */

static const size_t et_size[] = {4, 8, 4, 8, 1};

static inline val load(int et, const char *base, int64_t i)
{
    val v;
    switch (et) {
    case ET_F32: v.f = ((const float *)base)[i]; break;
    case ET_F64: v.f = ((const double *)base)[i]; break;
    case ET_I32: v.i = ((const int32_t *)base)[i]; break;
    case ET_I64: v.i = ((const int64_t *)base)[i]; break;
    default: v.i = ((const uint8_t *)base)[i] != 0; break;
    }
    return v;
}

static inline void store(int et, char *base, int64_t i, val v)
{
    switch (et) {
    case ET_F32: ((float *)base)[i] = (float)v.f; break;
    case ET_F64: ((double *)base)[i] = v.f; break;
    case ET_I32: ((int32_t *)base)[i] = (int32_t)v.i; break;
    case ET_I64: ((int64_t *)base)[i] = v.i; break;
    default: ((uint8_t *)base)[i] = v.i != 0; break;
    }
}

static int oob(const slot_buf *b, const char *what, int64_t i)
{
    return tt_error_set("%s %s: index %lld is out of bounds for a buffer of %lld elements", what,
                        b->name, (long long)i, (long long)b->numel);
}

/* Flat row-major index of the n indices at ix, each checked against its dimension. */
static int flat(const slot_buf *b, const val *ix, int n, const char *what, int64_t *out)
{
    int64_t f = 0;
    for (int d = 0; d < n; d++) {
        if (ix[d].i < 0 || ix[d].i >= b->shape[d])
            return tt_error_set("%s %s: index %lld of dimension %d is out of bounds [0, %lld)",
                                what, b->name, (long long)ix[d].i, d, (long long)b->shape[d]);
        f = f * b->shape[d] + ix[d].i;
    }
    *out = f;
    return 0;
}

static int f2i(double f, int et, int64_t *out)
{
    double lo = et == ET_I32 ? -2147483648.0 : -9223372036854775808.0;
    if (!(f >= lo && f < -lo)) /* also catches NaN */
        return tt_error_set("cast: float value %g does not fit in %s", f,
                            et == ET_I32 ? "int32" : "int64");
    *out = (int64_t)f;
    return 0;
}

static int run(const prog *p, char **data, val *stack, int64_t *var, int64_t *ext)
{
    const ins *code = p->code;
    val *sp = stack;
    int pc = 0;
    for (;;) {
        const ins *in = &code[pc++];
        switch (in->op) {
        case OP_HALT: return 0;
        case OP_PUSH: *sp++ = in->imm; break;
        case OP_VAR: (sp++)->i = var[in->a]; break;
#define BIN_I(OP, EXPR)                                                                            \
    case OP: {                                                                                     \
        int64_t a = sp[-2].i, b = sp[-1].i;                                                        \
        (void)a, (void)b;                                                                          \
        sp--;                                                                                      \
        sp[-1].i = (EXPR);                                                                         \
        break;                                                                                     \
    }
#define BIN_F(OP, EXPR, FIELD)                                                                     \
    case OP: {                                                                                     \
        double a = sp[-2].f, b = sp[-1].f;                                                         \
        sp--;                                                                                      \
        sp[-1].FIELD = (EXPR);                                                                     \
        break;                                                                                     \
    }
        /* unsigned arithmetic: int64 overflow wraps instead of being undefined */
        BIN_I(OP_ADD_I, (int64_t)((uint64_t)a + (uint64_t)b))
        BIN_I(OP_SUB_I, (int64_t)((uint64_t)a - (uint64_t)b))
        BIN_I(OP_MUL_I, (int64_t)((uint64_t)a * (uint64_t)b))
        BIN_I(OP_MIN_I, a < b ? a : b)
        BIN_I(OP_MAX_I, a > b ? a : b)
        BIN_I(OP_EQ_I, a == b)
        BIN_I(OP_NE_I, a != b)
        BIN_I(OP_LT_I, a < b)
        BIN_I(OP_LE_I, a <= b)
        BIN_I(OP_GT_I, a > b)
        BIN_I(OP_GE_I, a >= b)
        BIN_F(OP_ADD_F, a + b, f)
        BIN_F(OP_SUB_F, a - b, f)
        BIN_F(OP_MUL_F, a * b, f)
        BIN_F(OP_DIV_F, a / b, f)
        BIN_F(OP_MIN_F, a < b ? a : b, f)
        BIN_F(OP_MAX_F, a > b ? a : b, f)
        BIN_F(OP_EQ_F, a == b, i)
        BIN_F(OP_NE_F, a != b, i)
        BIN_F(OP_LT_F, a < b, i)
        BIN_F(OP_LE_F, a <= b, i)
        BIN_F(OP_GT_F, a > b, i)
        BIN_F(OP_GE_F, a >= b, i)
        case OP_DIV_I:
        case OP_MOD_I: {
            /* floor division and modulo: the remainder takes the divisor's sign */
            int64_t a = sp[-2].i, b = sp[-1].i, q, r;
            if (b == 0)
                return tt_error_set("%s: integer division by zero",
                                    in->op == OP_DIV_I ? "div" : "mod");
            if (b == -1) {
                q = (int64_t)(0 - (uint64_t)a);
                r = 0;
            } else {
                q = a / b;
                r = a % b;
                if (r != 0 && ((r < 0) != (b < 0))) {
                    q--;
                    r += b;
                }
            }
            sp--;
            sp[-1].i = in->op == OP_DIV_I ? q : r;
            break;
        }
        case OP_ADDK_I: sp[-1].i = (int64_t)((uint64_t)sp[-1].i + (uint64_t)in->imm.i); break;
        case OP_MULK_I: sp[-1].i = (int64_t)((uint64_t)sp[-1].i * (uint64_t)in->imm.i); break;
        case OP_ADDV_I: sp[-1].i = (int64_t)((uint64_t)sp[-1].i + (uint64_t)var[in->a]); break;
        case OP_VARMULK_I: (sp++)->i = (int64_t)((uint64_t)var[in->a] * (uint64_t)in->imm.i); break;
        case OP_NOT: sp[-1].i = !sp[-1].i; break;
        case OP_JZ:
            if ((--sp)->i == 0)
                pc = in->a;
            break;
        case OP_JNZ:
            if ((--sp)->i != 0)
                pc = in->a;
            break;
        case OP_JMP: pc = in->a; break;
        case OP_CALL: {
            double x = sp[-1].f;
            switch (in->a) {
            case FN_EXP: x = exp(x); break;
            case FN_SQRT: x = sqrt(x); break;
            case FN_LOG: x = log(x); break;
            case FN_TANH: x = tanh(x); break;
            default: x = fabs(x); break;
            }
            sp[-1].f = x;
            break;
        }
        case OP_I2F:
            sp[-1].f = in->b ? (double)(float)sp[-1].i : (double)sp[-1].i;
            break;
        case OP_F2F32: sp[-1].f = (float)sp[-1].f; break;
        case OP_F2I:
            if (f2i(sp[-1].f, in->a, &sp[-1].i) < 0)
                return -1;
            break;
        case OP_I2I32: sp[-1].i = (int32_t)(uint32_t)(uint64_t)sp[-1].i; break;
        case OP_TOBOOL_I: sp[-1].i = sp[-1].i != 0; break;
        case OP_TOBOOL_F: sp[-1].i = sp[-1].f != 0; break;
        case OP_LOAD: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i = sp[-1].i;
            if (i < 0 || i >= b->numel)
                return oob(b, "load", i);
            sp[-1] = load(b->et, data[in->a], i);
            break;
        }
        case OP_STORE: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i = sp[-2].i;
            if (i < 0 || i >= b->numel)
                return oob(b, "store", i);
            store(b->et, data[in->a], i, sp[-1]);
            sp -= 2;
            break;
        }
        case OP_ACCESS: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i;
            sp -= in->b;
            if (flat(b, sp, in->b, "access", &i) < 0)
                return -1;
            *sp++ = load(b->et, data[in->a], i);
            break;
        }
        case OP_STORE_AT: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i;
            val v = *--sp;
            sp -= in->b;
            if (flat(b, sp, in->b, "store", &i) < 0)
                return -1;
            store(b->et, data[in->a], i, v);
            break;
        }
        case OP_LOOP_INIT: {
            int64_t e = (--sp)->i;
            if (e <= 0) {
                pc = in->b;
                break;
            }
            ext[in->a] = e;
            var[in->a] = 0;
            break;
        }
        case OP_LOOP_NEXT:
            if (++var[in->a] < ext[in->a])
                pc = in->b;
            break;
        case OP_ALLOC: {
            const slot_buf *b = &p->bufs[in->a];
            /* all-ones bytes are NaN for floats and a large negative value for ints */
            memset(data[in->a], b->et <= ET_F64 ? 0xff : 0xa5, (size_t)b->numel * et_size[b->et]);
            break;
        }
        default: return tt_error_set("interp: bad opcode %d", in->op);
        }
    }
}

/* Allocates what the program does not get from args, runs it and frees everything. */
static int execute(prog *p, void *const *args, int nargs)
{
    if (emit(p, OP_HALT, 0, 0, V0, 0) < 0)
        return -1;
    int rc = -1;
    char **data = calloc((size_t)p->nbufs + 1, sizeof *data);
    val *stack = calloc((size_t)p->max_depth + 1, sizeof *stack);
    int64_t *var = calloc((size_t)p->nvars + 1, sizeof *var);
    int64_t *ext = calloc((size_t)p->nvars + 1, sizeof *ext);
    if (!data || !stack || !var || !ext) {
        tt_error_set("interp: out of memory");
        goto done;
    }
    for (int i = 0; i < p->nbufs; i++) {
        slot_buf *b = &p->bufs[i];
        if (b->arg >= 0) {
            if (b->arg >= nargs || (!args[b->arg] && b->numel > 0)) {
                tt_error_set("argument %d (%s) is NULL", b->arg, b->name);
                goto done;
            }
            data[i] = args[b->arg];
        } else if (!(data[i] = calloc((size_t)(b->numel ? b->numel : 1), et_size[b->et]))) {
            tt_error_set("interp: out of memory allocating %s (%lld elements)", b->name,
                         (long long)b->numel);
            goto done;
        }
    }
    rc = run(p, data, stack, var, ext);
done:
    for (int i = 0; data && i < p->nbufs; i++)
        if (p->bufs[i].arg < 0)
            free(data[i]);
    free(data);
    free(stack);
    free(var);
    free(ext);
    return rc;
}

int tt_kernel_interp(const tt_kernel *k, void *const *args)
{
    if (!k || (!args && k->nparams > 0))
        return tt_error_set("tt_kernel_interp: NULL kernel or arguments");
    prog p = {0};
    int rc = -1;
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *b = k->params[i];
        if (buf_slot(&p, b) >= 0) {
            tt_error_set("parameter %d (%s) appears twice", i, b->name);
            goto done;
        }
        if (add_buf(&p, b, b->name, b->dtype, b->ndim, b->shape, b->numel, i) < 0)
            goto done;
    }
    if (stmt(&p, k->body) < 0)
        goto done;
    rc = execute(&p, args, k->nparams);
done:
    if (rc < 0)
        tt_error_wrap("kernel %s", k->name);
    prog_free(&p);
    return rc;
}

int tt_compute_eval(const tt_compute *c, void *const *args)
{
    if (!c || !args)
        return tt_error_set("tt_compute_eval: NULL compute or arguments");
    prog p = {.compute = true};
    int rc = -1;
    const tt_tensor *out = tt_compute_output(c);
    for (int i = 0; i < c->ninputs; i++) {
        const tt_tensor *t = c->inputs[i];
        if (buf_slot(&p, t) >= 0) {
            tt_error_set("input %d (%s) appears twice", i, t->name);
            goto done;
        }
        if (add_buf(&p, t, t->name, t->dtype, t->ndim, t->shape, tt_tensor_numel(t), i) < 0)
            goto done;
    }
    for (int s = 0; s < c->nstages; s++) {
        const tt_tensor *t = c->stages[s]->output;
        if (buf_slot(&p, t) >= 0) {
            tt_error_set("tensor %s is written by stage %d but is an input or an earlier stage's "
                         "output", t->name, s);
            goto done;
        }
        int arg = t == out ? c->ninputs : -1;
        if (add_buf(&p, t, t->name, t->dtype, t->ndim, t->shape, tt_tensor_numel(t), arg) < 0)
            goto done;
        p.bufs[p.nbufs - 1].live = false; /* readable once its stage has run */
        if (stage(&p, c->stages[s]) < 0) {
            tt_error_wrap("stage %s", t->name);
            goto done;
        }
        p.bufs[p.nbufs - 1].live = true;
    }
    rc = execute(&p, args, c->ninputs + 1);
done:
    if (rc < 0)
        tt_error_wrap("compute %s", c->name);
    prog_free(&p);
    return rc;
}
