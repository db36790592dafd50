/* The reference interpreter (ir/interp.h), compiling half: loop IR and compute definitions become
 * a small stack bytecode (ir/interp_internal.h) in one pass, every variable and buffer resolved to
 * a slot by node identity, every scope checked; ir/interp_vm.c runs it. It is the oracle for
 * lowering and codegen, so every failure is an error message, never a crash. */
#include "ir/interp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "interp: out of memory");
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
    *cls = CLS_I; /* defined on failure too: gcc cannot see that tt_error_set returns -1 */
    if (t.lanes == 1 && t.code == kDLFloat && (t.bits == 32 || t.bits == 64))
        *cls = CLS_F;
    else if (t.lanes == 1 && (t.code == kDLInt || t.code == kDLUInt) && t.bits >= 1 && t.bits <= 64)
        *cls = CLS_I;
    else
        return tt_error_set("dtype (code %d, %d bits, %d lanes) is not supported", t.code, t.bits,
                            t.lanes);
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
    const tt_expr *r = e->args[1];
    if (c == CLS_I && e->kind == TT_EXPR_ADD && r->kind == TT_EXPR_MUL &&
        r->args[0]->kind == TT_EXPR_VAR && tt_expr_is_const(r->args[1], &k)) {
        if (expr(p, e->args[0]) < 0 || expr(p, r->args[0]) < 0)
            return -1;
        ins *last = &p->code[p->n - 1]; /* the VAR just emitted: fold it into the term */
        last->op = OP_ADDVK_I;
        last->imm.i = k;
        p->depth--;
        return 0;
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
    static const int ops_i[] = {OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I,
                                OP_MIN_I, OP_MAX_I, OP_EQ_I,  OP_NE_I,  OP_LT_I,
                                OP_LE_I,  OP_GT_I,  OP_GE_I};
    static const int ops_f[] = {OP_ADD_F, OP_SUB_F, OP_MUL_F, OP_DIV_F, -1,      OP_MIN_F, OP_MAX_F,
                                OP_EQ_F,  OP_NE_F,  OP_LT_F,  OP_LE_F,  OP_GT_F, OP_GE_F};
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
        else if (e->kind == TT_EXPR_INT)
            imm.i = e->ival;
        else if (!(e->fval >= -9223372036854775808.0 && e->fval < 9223372036854775808.0))
            return tt_error_set("float constant %g does not fit in %s", e->fval,
                                tt_dtype_name(e->dtype) ? tt_dtype_name(e->dtype) : "an integer");
        else
            imm.i = (int64_t)e->fval;
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
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
    case TT_EXPR_MUL:
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
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
                                "earlier stage",
                                e->tensor->name);
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
            return tt_error_set("store %s: value dtype differs from the buffer's", s->buffer->name);
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
        if (emit(p, OP_PUSH, 0, 0, ext, 1) < 0 ||
            loop_begin(p, st->axes[d]->var, &slots[d], &inits[d]) < 0)
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

/* Ends p with OP_HALT and runs it. */
static int execute(prog *p, void *const *args, int nargs)
{
    if (emit(p, OP_HALT, 0, 0, V0, 0) < 0)
        return -1;
    return interp_execute(p, args, nargs);
}

/* Elements of t, or -1 when the count overflows (add_buf rejects it). */
static int64_t numel(const tt_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0 || __builtin_mul_overflow(n, t->shape[i], &n))
            return -1;
    return n;
}

static void prog_free(prog *p)
{
    free(p->code);
    free(p->vars);
    free(p->bufs);
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
        if (add_buf(&p, t, t->name, t->dtype, t->ndim, t->shape, numel(t), i) < 0)
            goto done;
    }
    for (int s = 0; s < c->nstages; s++) {
        const tt_tensor *t = c->stages[s]->output;
        if (buf_slot(&p, t) >= 0) {
            tt_error_set("tensor %s is written by stage %d but is an input or an earlier stage's "
                         "output",
                         t->name, s);
            goto done;
        }
        int arg = t == out ? c->ninputs : -1;
        if (add_buf(&p, t, t->name, t->dtype, t->ndim, t->shape, numel(t), arg) < 0)
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
