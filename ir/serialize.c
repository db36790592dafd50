/* JSON serialisation of IR nodes (ir/serialize.h) with jansson, writing half: walks the node
 * graph children first and gives each distinct node (by pointer) one table entry, so sharing and
 * identity survive; ir/serialize_read.c reads the table back. */
#include "ir/serialize_internal.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint32_t type_indices[T_COUNT];
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

static void find_types(void)
{
    for (int t = 0; t < T_COUNT; t++)
        type_indices[t] = tt_ir_type_index(type_keys[t]);
}

/* Looked up once: the registry takes a lock per lookup, and a kernel has thousands of nodes. */
static int type_of(const tt_object *o)
{
    pthread_once(&types_once, find_types);
    for (int t = 0; t < T_COUNT; t++)
        if (o->type_index == type_indices[t])
            return t;
    return -1;
}

/* ---- writing ---- */

typedef struct {
    const void *key;
    int index;
} entry;

typedef struct {
    entry *tab; /* open addressing on the node pointer */
    size_t cap, n;
    json_t *nodes;
    bool failed;
} writer;

static size_t hash(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static int lookup(const writer *w, const void *key)
{
    if (!w->cap)
        return -1;
    for (size_t i = hash(key, w->cap);; i = (i + 1) & (w->cap - 1)) {
        if (w->tab[i].key == key)
            return w->tab[i].index;
        if (!w->tab[i].key)
            return -1;
    }
}

static int insert(writer *w, const void *key, int index)
{
    if (2 * (w->n + 1) > w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        entry *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
        for (size_t i = 0; i < w->cap; i++)
            if (w->tab[i].key) {
                size_t j = hash(w->tab[i].key, cap);
                while (tab[j].key)
                    j = (j + 1) & (cap - 1);
                tab[j] = w->tab[i];
            }
        free(w->tab);
        w->tab = tab;
        w->cap = cap;
    }
    size_t j = hash(key, w->cap);
    while (w->tab[j].key)
        j = (j + 1) & (w->cap - 1);
    w->tab[j] = (entry){key, index};
    w->n++;
    return 0;
}

/* Sets obj[key] = v (stolen); a NULL v (its maker failed) or a failed set marks the writer
 * failed. Makers that fail for a reason other than memory set the message and w->failed. */
static void set(writer *w, json_t *obj, const char *key, json_t *v)
{
    if (!v || json_object_set_new(obj, key, v) < 0) {
        if (!w->failed)
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
        w->failed = true;
    }
}

static int visit(writer *w, const tt_object *o);

static json_t *ref(writer *w, const void *o)
{
    int i = visit(w, o);
    return i < 0 ? NULL : json_integer(i);
}

static json_t *refs(writer *w, const void *const *objs, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        json_t *r = ref(w, objs[i]);
        if (!r || json_array_append_new(a, r) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Names come from op.json (UTF-8 already), but JSON cannot hold arbitrary bytes: say so. */
static json_t *name_json(writer *w, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    if (!v && !w->failed) {
        tt_error_set("ir json: name \"%s\" is not valid UTF-8", s ? s : "(null)");
        w->failed = true;
    }
    return v;
}

static json_t *shape_json(int ndim, const int64_t *shape)
{
    json_t *a = json_array();
    for (int i = 0; a && i < ndim; i++)
        if (json_array_append_new(a, json_integer(shape[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *dtype_json(writer *w, DLDataType t)
{
    const char *n = tt_dtype_name(t);
    if (!n && !w->failed) {
        tt_error_set("ir json: dtype (code %d, %d bits, %d lanes) has no name", t.code, t.bits,
                     t.lanes);
        w->failed = true;
    }
    return n ? json_string(n) : NULL;
}

/* Finite floats are JSON numbers (jansson prints 17 significant digits, which read back exactly);
 * JSON has no NaN or infinity, so those are strings. */
static json_t *float_json(double v)
{
    if (isnan(v))
        return json_string("nan");
    if (isinf(v))
        return json_string(v < 0 ? "-inf" : "inf");
    return json_real(v);
}

static void expr_fields(writer *w, json_t *j, const tt_expr *e)
{
    set(w, j, "kind", json_string(tt_expr_kind_name(e->kind)));
    set(w, j, "dtype", dtype_json(w, e->dtype));
    switch (e->kind) {
    case TT_EXPR_INT:
        set(w, j, "value", json_integer(e->ival));
        return;
    case TT_EXPR_FLOAT:
        set(w, j, "value", float_json(e->fval));
        return;
    case TT_EXPR_VAR:
        set(w, j, "name", name_json(w, e->name));
        return;
    case TT_EXPR_CALL:
        set(w, j, "name", name_json(w, e->name));
        break;
    case TT_EXPR_ACCESS:
        set(w, j, "tensor", ref(w, e->tensor));
        break;
    case TT_EXPR_LOAD:
        set(w, j, "buffer", ref(w, e->buffer));
        break;
    case TT_EXPR_REDUCE:
        set(w, j, "op", json_string(tt_reduce_op_name(e->reduce_op)));
        set(w, j, "axes", refs(w, (const void *const *)e->axes, e->naxes));
        break;
    default:
        break;
    }
    set(w, j, "args", refs(w, (const void *const *)e->args, e->nargs));
}

static void stmt_fields(writer *w, json_t *j, const tt_stmt *s)
{
    set(w, j, "kind", json_string(stmt_kinds[s->kind]));
    switch (s->kind) {
    case TT_STMT_FOR:
        set(w, j, "var", ref(w, s->var));
        set(w, j, "extent", ref(w, s->extent));
        set(w, j, "for_kind", json_string(tt_for_kind_name(s->for_kind)));
        set(w, j, "body", ref(w, s->body));
        break;
    case TT_STMT_SEQ:
        set(w, j, "stmts", refs(w, (const void *const *)s->stmts, s->nstmts));
        break;
    case TT_STMT_STORE:
        set(w, j, "buffer", ref(w, s->buffer));
        set(w, j, "index", ref(w, s->index));
        set(w, j, "value", ref(w, s->value));
        break;
    case TT_STMT_IF:
        set(w, j, "cond", ref(w, s->cond));
        set(w, j, "then", ref(w, s->then_s));
        if (s->else_s)
            set(w, j, "else", ref(w, s->else_s));
        break;
    case TT_STMT_ALLOC:
        set(w, j, "buffer", ref(w, s->buffer));
        set(w, j, "body", ref(w, s->body));
        break;
    default:
        w->failed = true;
    }
}

/* Returns the table index of o, writing o (after its children) when it is new. */
static int visit(writer *w, const tt_object *o)
{
    if (w->failed)
        return -1;
    if (!o) {
        w->failed = true;
        return tt_error_set("ir json: NULL node");
    }
    int idx = lookup(w, o);
    if (idx >= 0)
        return idx;
    int t = type_of(o);
    if (t < 0) {
        w->failed = true;
        return tt_error_set("ir json: object of type %s is not an IR node",
                            tt_object_key(o) ? tt_object_key(o) : "?");
    }
    json_t *j = json_object();
    if (!j) {
        w->failed = true;
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
    }
    set(w, j, "type", json_string(type_keys[t]));
    switch (t) {
    case T_EXPR:
        expr_fields(w, j, (const tt_expr *)o);
        break;
    case T_ITER: {
        const tt_iter_var *v = (const tt_iter_var *)o;
        set(w, j, "var", ref(w, v->var));
        set(w, j, "extent", json_integer(v->extent));
        set(w, j, "kind", json_string(axis_kinds[v->kind == TT_AXIS_REDUCE]));
        break;
    }
    case T_TENSOR: {
        const tt_tensor *x = (const tt_tensor *)o;
        set(w, j, "name", name_json(w, x->name));
        set(w, j, "dtype", dtype_json(w, x->dtype));
        set(w, j, "shape", shape_json(x->ndim, x->shape));
        break;
    }
    case T_STAGE: {
        const tt_stage *s = (const tt_stage *)o;
        set(w, j, "output", ref(w, s->output));
        set(w, j, "axes", refs(w, (const void *const *)s->axes, s->naxes));
        set(w, j, "body", ref(w, s->body));
        break;
    }
    case T_COMPUTE: {
        const tt_compute *c = (const tt_compute *)o;
        set(w, j, "name", name_json(w, c->name));
        set(w, j, "inputs", refs(w, (const void *const *)c->inputs, c->ninputs));
        set(w, j, "stages", refs(w, (const void *const *)c->stages, c->nstages));
        break;
    }
    case T_BUFFER: {
        const tt_buffer *b = (const tt_buffer *)o;
        set(w, j, "name", name_json(w, b->name));
        set(w, j, "dtype", dtype_json(w, b->dtype));
        set(w, j, "shape", shape_json(b->ndim, b->shape));
        set(w, j, "scope",
            json_string((unsigned)b->scope <= TT_SCOPE_WORKSPACE ? scopes[b->scope] : "?"));
        break;
    }
    case T_STMT:
        stmt_fields(w, j, (const tt_stmt *)o);
        break;
    case T_KERNEL: {
        const tt_kernel *k = (const tt_kernel *)o;
        set(w, j, "name", name_json(w, k->name));
        set(w, j, "params", refs(w, (const void *const *)k->params, k->nparams));
        set(w, j, "body", ref(w, k->body));
        break;
    }
    }
    if (w->failed) {
        json_decref(j);
        return -1;
    }
    if (json_array_append_new(w->nodes, j) < 0) { /* j is released by the call */
        w->failed = true;
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
    }
    idx = (int)json_array_size(w->nodes) - 1;
    if (insert(w, o, idx) < 0) {
        w->failed = true;
        return -1;
    }
    return idx;
}

char *tt_ir_to_json(const tt_object *node)
{
    writer w = {.nodes = json_array()};
    char *text = NULL;
    if (!w.nodes) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
        return NULL;
    }
    int root = visit(&w, node);
    if (root >= 0 && !w.failed) {
        json_t *top = json_object();
        set(&w, top, "root", json_integer(root));
        if (top && json_object_set(top, "nodes", w.nodes) == 0 && !w.failed)
            text = json_dumps(top, JSON_COMPACT);
        json_decref(top);
    }
    if (!text && !w.failed)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
    json_decref(w.nodes);
    free(w.tab);
    return text;
}
