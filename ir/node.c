/* Constructors, destructors and small queries of the IR nodes declared in ir/ir.h. Every other
 * part of ir/, and codegen/, builds nodes only through these, so ownership rules live here:
 * constructors retain what they are given, destructors release it. */
#include "ir/ir.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ---- */

bool tt_dtype_eq(DLDataType a, DLDataType b)
{
    return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
bool tt_dtype_is_float(DLDataType t)
{
    return t.code == kDLFloat;
}
bool tt_dtype_is_int(DLDataType t)
{
    return (t.code == kDLInt || t.code == kDLUInt) && t.bits > 1;
}

const char *tt_dtype_name(DLDataType t)
{
    if (t.lanes != 1)
        return NULL;
    if (t.code == kDLFloat && t.bits == 32)
        return "float32";
    if (t.code == kDLFloat && t.bits == 64)
        return "float64";
    if (t.code == kDLInt && t.bits == 32)
        return "int32";
    if (t.code == kDLInt && t.bits == 64)
        return "int64";
    if (t.code == kDLUInt && t.bits == 1)
        return "bool";
    return NULL;
}

int tt_dtype_parse(const char *s, DLDataType *out)
{
    static const struct {
        const char *name;
        DLDataType t;
    } table[] = {
        {"float32", {kDLFloat, 32, 1}}, {"float64", {kDLFloat, 64, 1}}, {"int32", {kDLInt, 32, 1}},
        {"int64", {kDLInt, 64, 1}},     {"bool", {kDLUInt, 1, 1}},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (s && strcmp(s, table[i].name) == 0) {
            *out = table[i].t;
            return 0;
        }
    return tt_error_set("dtype \"%s\": expected one of float32, float64, int32, int64, bool",
                        s ? s : "(null)");
}

/* ---- type indices ---- */

static uint32_t ti_expr, ti_iter, ti_tensor, ti_stage, ti_compute, ti_buffer, ti_stmt, ti_kernel;
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

static void register_types(void)
{
    tt_object_type_register("ir.Expr", &ti_expr);
    tt_object_type_register("ir.IterVar", &ti_iter);
    tt_object_type_register("ir.Tensor", &ti_tensor);
    tt_object_type_register("ir.Stage", &ti_stage);
    tt_object_type_register("ir.Compute", &ti_compute);
    tt_object_type_register("ir.Buffer", &ti_buffer);
    tt_object_type_register("ir.Stmt", &ti_stmt);
    tt_object_type_register("ir.Kernel", &ti_kernel);
}

uint32_t tt_ir_type_index(const char *key)
{
    pthread_once(&types_once, register_types);
    uint32_t idx = 0;
    tt_object_type_register(key, &idx);
    return idx;
}

static void *node_alloc(size_t size, uint32_t *index, void (*deleter)(tt_object *))
{
    pthread_once(&types_once, register_types);
    tt_object *o = calloc(1, size);
    if (!o) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory allocating an IR node of %zu bytes",
                      size);
        return NULL;
    }
    tt_object_init(o, *index, deleter);
    return o;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- expressions ---- */

static void expr_delete(tt_object *o)
{
    tt_expr *e = (tt_expr *)o;
    for (int i = 0; i < e->nargs; i++)
        tt_expr_release(e->args[i]);
    free(e->args);
    for (int i = 0; i < e->naxes; i++)
        tt_iter_var_release(e->axes[i]);
    free(e->axes);
    tt_object_release((tt_object *)e->tensor);
    tt_object_release((tt_object *)e->buffer);
    free(e->name);
    free(e);
}

static tt_expr *expr_new(tt_expr_kind kind, DLDataType t, int nargs, tt_expr *const *args)
{
    for (int i = 0; i < nargs; i++)
        if (!args[i]) {
            tt_error_set("%s: operand %d is NULL", tt_expr_kind_name(kind), i);
            return NULL;
        }
    tt_expr *e = node_alloc(sizeof *e, &ti_expr, expr_delete);
    if (!e)
        return NULL;
    e->kind = kind;
    e->dtype = t;
    if (nargs > 0) {
        e->args = calloc((size_t)nargs, sizeof *e->args);
        if (!e->args) {
            free(e);
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            return NULL;
        }
        for (int i = 0; i < nargs; i++)
            e->args[i] = tt_expr_retain(args[i]);
        e->nargs = nargs;
    }
    return e;
}

tt_expr *tt_expr_int_typed(int64_t v, DLDataType t)
{
    tt_expr *e = expr_new(TT_EXPR_INT, t, 0, NULL);
    if (e)
        e->ival = v;
    return e;
}
tt_expr *tt_expr_int(int64_t v)
{
    return tt_expr_int_typed(v, TT_DT_I64);
}

tt_expr *tt_expr_float(double v, DLDataType t)
{
    tt_expr *e = expr_new(TT_EXPR_FLOAT, t, 0, NULL);
    if (e)
        e->fval = v;
    return e;
}

tt_expr *tt_expr_var(const char *name, DLDataType t)
{
    tt_expr *e = expr_new(TT_EXPR_VAR, t, 0, NULL);
    if (e && !(e->name = dup_str(name))) {
        tt_expr_release(e);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    return e;
}

tt_expr *tt_expr_binary(tt_expr_kind kind, tt_expr *a, tt_expr *b)
{
    if (kind < TT_EXPR_ADD || kind > TT_EXPR_OR) {
        tt_error_set("tt_expr_binary: %s is not a binary operator", tt_expr_kind_name(kind));
        return NULL;
    }
    if (!a || !b) {
        tt_error_set("%s: operand is NULL", tt_expr_kind_name(kind));
        return NULL;
    }
    if (!tt_dtype_eq(a->dtype, b->dtype)) {
        tt_error_set("%s: operands have different dtypes (%s and %s)", tt_expr_kind_name(kind),
                     tt_dtype_name(a->dtype) ? tt_dtype_name(a->dtype) : "?",
                     tt_dtype_name(b->dtype) ? tt_dtype_name(b->dtype) : "?");
        return NULL;
    }
    DLDataType t = a->dtype;
    if (kind >= TT_EXPR_EQ && kind <= TT_EXPR_GE)
        t = TT_DT_BOOL;
    if (kind == TT_EXPR_AND || kind == TT_EXPR_OR) {
        if (!tt_dtype_eq(a->dtype, TT_DT_BOOL)) {
            tt_error_set("%s: operands must be bool", tt_expr_kind_name(kind));
            return NULL;
        }
    }
    if (kind == TT_EXPR_MOD && !tt_dtype_is_int(t)) {
        tt_error_set("mod: operands must be integers");
        return NULL;
    }
    tt_expr *args[2] = {a, b};
    return expr_new(kind, t, 2, args);
}

tt_expr *tt_expr_not(tt_expr *a)
{
    if (a && !tt_dtype_eq(a->dtype, TT_DT_BOOL)) {
        tt_error_set("not: operand must be bool");
        return NULL;
    }
    return expr_new(TT_EXPR_NOT, TT_DT_BOOL, 1, &a);
}

tt_expr *tt_expr_select(tt_expr *cond, tt_expr *t, tt_expr *f)
{
    if (!cond || !t || !f) {
        tt_error_set("select: operand is NULL");
        return NULL;
    }
    if (!tt_dtype_eq(cond->dtype, TT_DT_BOOL)) {
        tt_error_set("select: condition must be bool");
        return NULL;
    }
    if (!tt_dtype_eq(t->dtype, f->dtype)) {
        tt_error_set("select: both branches must have one dtype");
        return NULL;
    }
    tt_expr *args[3] = {cond, t, f};
    return expr_new(TT_EXPR_SELECT, t->dtype, 3, args);
}

tt_expr *tt_expr_call(const char *name, DLDataType t, int nargs, tt_expr *const *args)
{
    if (!name) {
        tt_error_set("call: NULL name");
        return NULL;
    }
    tt_expr *e = expr_new(TT_EXPR_CALL, t, nargs, args);
    if (e && !(e->name = dup_str(name))) {
        tt_expr_release(e);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    return e;
}

tt_expr *tt_expr_cast(DLDataType t, tt_expr *a)
{
    return expr_new(TT_EXPR_CAST, t, 1, &a);
}

tt_expr *tt_expr_access(tt_tensor *t, int nidx, tt_expr *const *idx)
{
    if (!t) {
        tt_error_set("access: NULL tensor");
        return NULL;
    }
    if (nidx != t->ndim) {
        tt_error_set("access %s: %d indices for a tensor of rank %d", t->name, nidx, t->ndim);
        return NULL;
    }
    tt_expr *e = expr_new(TT_EXPR_ACCESS, t->dtype, nidx, idx);
    if (e) {
        tt_object_retain((tt_object *)t);
        e->tensor = t;
    }
    return e;
}

tt_expr *tt_expr_reduce(tt_reduce_op op, tt_expr *source, int naxes, tt_iter_var *const *axes)
{
    if (op < 0 || op >= TT_REDUCE_COUNT || naxes <= 0 || !source) {
        tt_error_set("reduce: needs an operator, a source and at least one axis");
        return NULL;
    }
    tt_expr *e = expr_new(TT_EXPR_REDUCE, source->dtype, 1, &source);
    if (!e)
        return NULL;
    e->reduce_op = op;
    e->axes = calloc((size_t)naxes, sizeof *e->axes);
    if (!e->axes) {
        tt_expr_release(e);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < naxes; i++) {
        tt_object_retain((tt_object *)axes[i]);
        e->axes[i] = axes[i];
    }
    e->naxes = naxes;
    return e;
}

tt_expr *tt_expr_load(tt_buffer *b, tt_expr *index)
{
    if (!b) {
        tt_error_set("load: NULL buffer");
        return NULL;
    }
    tt_expr *e = expr_new(TT_EXPR_LOAD, b->dtype, 1, &index);
    if (e) {
        tt_object_retain((tt_object *)b);
        e->buffer = b;
    }
    return e;
}

tt_expr *tt_expr_add_s(tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(TT_EXPR_ADD, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    return e;
}

tt_expr *tt_expr_mul_s(tt_expr *a, tt_expr *b)
{
    tt_expr *e = tt_expr_binary(TT_EXPR_MUL, a, b);
    tt_expr_release(a);
    tt_expr_release(b);
    return e;
}

const char *tt_expr_kind_name(tt_expr_kind k)
{
    static const char *names[] = {"int",  "float",  "var",    "add", "sub", "mul",    "div",
                                  "mod",  "min",    "max",    "eq",  "ne",  "lt",     "le",
                                  "gt",   "ge",     "and",    "or",  "not", "select", "call",
                                  "cast", "access", "reduce", "load"};
    _Static_assert(sizeof names / sizeof names[0] == TT_EXPR_COUNT, "a kind without a name");
    return (k >= 0 && k < TT_EXPR_COUNT) ? names[k] : "?";
}

const char *tt_reduce_op_name(tt_reduce_op op)
{
    static const char *names[] = {"sum", "max", "min"};
    _Static_assert(sizeof names / sizeof names[0] == TT_REDUCE_COUNT, "an op without a name");
    return (op >= 0 && op < TT_REDUCE_COUNT) ? names[op] : "?";
}

bool tt_expr_is_const(const tt_expr *e, int64_t *value)
{
    if (!e || e->kind != TT_EXPR_INT)
        return false;
    if (value)
        *value = e->ival;
    return true;
}

/* ---- axes, tensors, stages, computes ---- */

static void iter_delete(tt_object *o)
{
    tt_iter_var *v = (tt_iter_var *)o;
    tt_expr_release(v->var);
    free(v);
}

tt_iter_var *tt_iter_var_new(const char *name, int64_t extent, tt_axis_kind kind)
{
    if (extent <= 0) {
        tt_error_set("axis %s: extent %lld, expected > 0", name ? name : "?", (long long)extent);
        return NULL;
    }
    tt_iter_var *v = node_alloc(sizeof *v, &ti_iter, iter_delete);
    if (!v)
        return NULL;
    v->var = tt_expr_var(name, TT_DT_I64);
    if (!v->var) {
        free(v);
        return NULL;
    }
    v->extent = extent;
    v->kind = kind;
    return v;
}

static void tensor_delete(tt_object *o)
{
    tt_tensor *t = (tt_tensor *)o;
    free(t->name);
    free(t->shape);
    free(t);
}

tt_tensor *tt_tensor_new(const char *name, DLDataType dt, int ndim, const int64_t *shape)
{
    if (ndim < 0 || (ndim > 0 && !shape)) {
        tt_error_set("tensor %s: bad rank %d", name ? name : "?", ndim);
        return NULL;
    }
    tt_tensor *t = node_alloc(sizeof *t, &ti_tensor, tensor_delete);
    if (!t)
        return NULL;
    t->name = dup_str(name);
    t->dtype = dt;
    t->ndim = ndim;
    t->shape = calloc((size_t)(ndim ? ndim : 1), sizeof *t->shape);
    if (!t->name || !t->shape) {
        tensor_delete(&t->obj);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return t;
}

int64_t tt_tensor_numel(const tt_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

static void stage_delete(tt_object *o)
{
    tt_stage *s = (tt_stage *)o;
    if (s->output && s->output->producer == s)
        s->output->producer = NULL;
    tt_tensor_release(s->output);
    for (int i = 0; i < s->naxes; i++)
        tt_iter_var_release(s->axes[i]);
    free(s->axes);
    tt_expr_release(s->body);
    free(s);
}

tt_stage *tt_stage_new(tt_tensor *output, int naxes, tt_iter_var *const *axes, tt_expr *body)
{
    if (!output || !body || naxes != output->ndim) {
        tt_error_set("stage %s: needs an output, a body and one axis per output dimension",
                     output ? output->name : "?");
        return NULL;
    }
    tt_stage *s = node_alloc(sizeof *s, &ti_stage, stage_delete);
    if (!s)
        return NULL;
    s->axes = calloc((size_t)(naxes ? naxes : 1), sizeof *s->axes);
    if (!s->axes) {
        free(s);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < naxes; i++) {
        tt_object_retain((tt_object *)axes[i]);
        s->axes[i] = axes[i];
    }
    s->naxes = naxes;
    tt_object_retain((tt_object *)output);
    s->output = output;
    output->producer = s;
    s->body = tt_expr_retain(body);
    return s;
}

static void compute_delete(tt_object *o)
{
    tt_compute *c = (tt_compute *)o;
    for (int i = 0; i < c->ninputs; i++)
        tt_tensor_release(c->inputs[i]);
    for (int i = 0; i < c->nstages; i++)
        tt_stage_release(c->stages[i]);
    free(c->inputs);
    free(c->stages);
    free(c->name);
    free(c);
}

tt_compute *tt_compute_new(const char *name, int ninputs, tt_tensor *const *inputs, int nstages,
                           tt_stage *const *stages)
{
    if (nstages <= 0 || ninputs < 0) {
        tt_error_set("compute %s: needs at least one stage", name ? name : "?");
        return NULL;
    }
    tt_compute *c = node_alloc(sizeof *c, &ti_compute, compute_delete);
    if (!c)
        return NULL;
    c->name = dup_str(name ? name : "compute");
    c->inputs = calloc((size_t)(ninputs ? ninputs : 1), sizeof *c->inputs);
    c->stages = calloc((size_t)nstages, sizeof *c->stages);
    if (!c->name || !c->inputs || !c->stages) {
        compute_delete(&c->obj);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < ninputs; i++) {
        tt_object_retain((tt_object *)inputs[i]);
        c->inputs[c->ninputs++] = inputs[i];
    }
    for (int i = 0; i < nstages; i++) {
        tt_object_retain((tt_object *)stages[i]);
        c->stages[c->nstages++] = stages[i];
    }
    return c;
}

tt_tensor *tt_compute_output(const tt_compute *c)
{
    return c->stages[c->nstages - 1]->output;
}

tt_stage *tt_compute_stage(const tt_compute *c, const char *name)
{
    for (int i = 0; i < c->nstages; i++)
        if (strcmp(c->stages[i]->output->name, name) == 0)
            return c->stages[i];
    return NULL;
}

/* Arithmetic of one evaluation of e (not counting index arithmetic, which is integer). */
static double expr_flops(const tt_expr *e)
{
    double f = 0;
    if (e->kind == TT_EXPR_ACCESS || e->kind == TT_EXPR_LOAD)
        return 0;
    for (int i = 0; i < e->nargs; i++)
        f += expr_flops(e->args[i]);
    if (tt_dtype_is_float(e->dtype) &&
        ((e->kind >= TT_EXPR_ADD && e->kind <= TT_EXPR_MAX) || e->kind == TT_EXPR_CALL))
        f += 1;
    return f;
}

double tt_compute_flops(const tt_compute *c)
{
    double total = 0;
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        double points = (double)tt_tensor_numel(st->output);
        const tt_expr *b = st->body;
        double per = 0;
        if (b->kind == TT_EXPR_REDUCE) {
            double red = 1;
            for (int i = 0; i < b->naxes; i++)
                red *= (double)b->axes[i]->extent;
            per = red * (expr_flops(b->args[0]) + 1); /* + the accumulate */
        } else {
            per = expr_flops(b);
        }
        total += points * per;
    }
    return total;
}

/* ---- loop IR ---- */

static void buffer_delete(tt_object *o)
{
    tt_buffer *b = (tt_buffer *)o;
    free(b->name);
    free(b->shape);
    free(b);
}

tt_buffer *tt_buffer_new(const char *name, DLDataType t, int ndim, const int64_t *shape,
                         tt_scope scope)
{
    if (ndim < 0 || (ndim > 0 && !shape)) {
        tt_error_set("buffer %s: bad rank %d", name ? name : "?", ndim);
        return NULL;
    }
    tt_buffer *b = node_alloc(sizeof *b, &ti_buffer, buffer_delete);
    if (!b)
        return NULL;
    b->name = dup_str(name);
    b->shape = calloc((size_t)(ndim ? ndim : 1), sizeof *b->shape);
    if (!b->name || !b->shape) {
        buffer_delete(&b->obj);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    b->dtype = t;
    b->ndim = ndim;
    b->numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            tt_error_set("buffer %s: shape[%d] = %lld, expected >= 0", b->name, i,
                         (long long)shape[i]);
            buffer_delete(&b->obj);
            return NULL;
        }
        b->shape[i] = shape[i];
        b->numel *= shape[i];
    }
    b->scope = scope;
    return b;
}

const char *tt_for_kind_name(tt_for_kind k)
{
    static const char *names[] = {"serial", "parallel", "vectorized", "unrolled"};
    return (k >= TT_FOR_SERIAL && k <= TT_FOR_UNROLLED) ? names[k] : "?";
}

static void stmt_delete(tt_object *o)
{
    tt_stmt *s = (tt_stmt *)o;
    tt_expr_release(s->var);
    tt_expr_release(s->extent);
    tt_stmt_release(s->body);
    for (int i = 0; i < s->nstmts; i++)
        tt_stmt_release(s->stmts[i]);
    free(s->stmts);
    tt_buffer_release(s->buffer);
    tt_expr_release(s->index);
    tt_expr_release(s->value);
    tt_expr_release(s->cond);
    tt_stmt_release(s->then_s);
    tt_stmt_release(s->else_s);
    free(s);
}

static tt_stmt *stmt_new(tt_stmt_kind kind)
{
    tt_stmt *s = node_alloc(sizeof *s, &ti_stmt, stmt_delete);
    if (s)
        s->kind = kind;
    return s;
}

tt_stmt *tt_stmt_for(tt_expr *var, tt_expr *extent, tt_for_kind kind, tt_stmt *body)
{
    if (!var || var->kind != TT_EXPR_VAR || !extent || !body) {
        tt_error_set("for: needs a loop variable, an extent and a body");
        return NULL;
    }
    tt_stmt *s = stmt_new(TT_STMT_FOR);
    if (!s)
        return NULL;
    s->var = tt_expr_retain(var);
    s->extent = tt_expr_retain(extent);
    s->for_kind = kind;
    s->body = tt_stmt_retain(body);
    return s;
}

tt_stmt *tt_stmt_seq(int n, tt_stmt *const *stmts)
{
    if (n < 0) {
        tt_error_set("seq: negative count");
        return NULL;
    }
    tt_stmt *s = stmt_new(TT_STMT_SEQ);
    if (!s)
        return NULL;
    s->stmts = calloc((size_t)(n ? n : 1), sizeof *s->stmts);
    if (!s->stmts) {
        free(s);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!stmts[i]) {
            tt_stmt_release(s);
            tt_error_set("seq: statement %d is NULL", i);
            return NULL;
        }
        s->stmts[s->nstmts++] = tt_stmt_retain(stmts[i]);
    }
    return s;
}

tt_stmt *tt_stmt_store(tt_buffer *b, tt_expr *index, tt_expr *value)
{
    if (!b || !index || !value) {
        tt_error_set("store: needs a buffer, an index and a value");
        return NULL;
    }
    if (!tt_dtype_eq(b->dtype, value->dtype)) {
        tt_error_set("store %s: value dtype differs from the buffer's", b->name);
        return NULL;
    }
    tt_stmt *s = stmt_new(TT_STMT_STORE);
    if (!s)
        return NULL;
    tt_object_retain((tt_object *)b);
    s->buffer = b;
    s->index = tt_expr_retain(index);
    s->value = tt_expr_retain(value);
    return s;
}

tt_stmt *tt_stmt_if(tt_expr *cond, tt_stmt *then_s, tt_stmt *else_s)
{
    if (!cond || !then_s || !tt_dtype_eq(cond->dtype, TT_DT_BOOL)) {
        tt_error_set("if: needs a bool condition and a then branch");
        return NULL;
    }
    tt_stmt *s = stmt_new(TT_STMT_IF);
    if (!s)
        return NULL;
    s->cond = tt_expr_retain(cond);
    s->then_s = tt_stmt_retain(then_s);
    if (else_s)
        s->else_s = tt_stmt_retain(else_s);
    return s;
}

tt_stmt *tt_stmt_alloc(tt_buffer *b, tt_stmt *body)
{
    if (!b || !body || b->scope == TT_SCOPE_GLOBAL) {
        tt_error_set("alloc: needs a local or workspace buffer and a body");
        return NULL;
    }
    tt_stmt *s = stmt_new(TT_STMT_ALLOC);
    if (!s)
        return NULL;
    tt_object_retain((tt_object *)b);
    s->buffer = b;
    s->body = tt_stmt_retain(body);
    return s;
}

static void kernel_delete(tt_object *o)
{
    tt_kernel *k = (tt_kernel *)o;
    for (int i = 0; i < k->nparams; i++)
        tt_buffer_release(k->params[i]);
    free(k->params);
    tt_stmt_release(k->body);
    free(k->name);
    free(k);
}

tt_kernel *tt_kernel_new(const char *name, int nparams, tt_buffer *const *params, tt_stmt *body)
{
    if (!name || nparams < 0 || !body) {
        tt_error_set("kernel: needs a name, parameters and a body");
        return NULL;
    }
    tt_kernel *k = node_alloc(sizeof *k, &ti_kernel, kernel_delete);
    if (!k)
        return NULL;
    k->name = dup_str(name);
    k->params = calloc((size_t)(nparams ? nparams : 1), sizeof *k->params);
    if (!k->name || !k->params) {
        kernel_delete(&k->obj);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < nparams; i++) {
        tt_object_retain((tt_object *)params[i]);
        k->params[k->nparams++] = params[i];
    }
    k->body = tt_stmt_retain(body);
    return k;
}
