/* JSON serialisation of IR nodes (ir/serialize.h), reading half: every table entry is rebuilt
 * through its constructor in table order, so references can only point backwards and every check
 * a constructor makes applies to JSON input too; errors name the JSON path of the bad part. */
#include "ir/serialize_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tt_object **tab; /* built nodes, one reference each */
    int *types;
    int n;
} reader;

/* "ir json: nodes[i].field: message"; returns -1. */
static int fail(const reader *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const reader *r, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tt_error_setc(TT_ERR_PARSE, "ir json: nodes[%d]%s%s: %s", r->n, field ? "." : "",
                         field ? field : "", msg);
}

/* Every field of j must be in allowed (NULL-terminated; "type" is always allowed). */
static int check_keys(const reader *r, json_t *j, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        bool ok = strcmp(key, "type") == 0;
        for (int i = 0; !ok && allowed[i]; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return fail(r, NULL, "unknown field \"%s\"", key);
    }
    return 0;
}

static int get_str(const reader *r, json_t *j, const char *key, const char **out)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v))
        return fail(r, key, v ? "expected a string" : "missing");
    *out = json_string_value(v);
    return 0;
}

static int get_int(const reader *r, json_t *j, const char *key, int64_t *out)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v))
        return fail(r, key, v ? "expected an integer" : "missing");
    *out = json_integer_value(v);
    return 0;
}

static int get_enum(const reader *r, json_t *j, const char *key, const char *const *names, int n,
                    int *out)
{
    const char *s = NULL;
    if (get_str(r, j, key, &s) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return fail(r, key, "unknown value \"%s\"", s);
}

static int get_dtype(const reader *r, json_t *j, DLDataType *out)
{
    const char *s = NULL;
    if (get_str(r, j, "dtype", &s) < 0)
        return -1;
    if (tt_dtype_parse(s, out) < 0)
        return fail(r, "dtype", "unknown dtype \"%s\"", s);
    return 0;
}

/* v (at field) is the index of an earlier node of type want. */
static int resolve(const reader *r, json_t *v, const char *field, int want, void **out)
{
    if (!json_is_integer(v))
        return fail(r, field, v ? "expected a node index" : "missing");
    json_int_t i = json_integer_value(v);
    if (i < 0 || i >= r->n)
        return fail(r, field, "index %lld does not refer to an earlier node (0..%d)", (long long)i,
                    r->n - 1);
    if (r->types[i] != want)
        return fail(r, field, "node %lld is an %s, expected an %s", (long long)i,
                    type_keys[r->types[i]], type_keys[want]);
    *out = r->tab[i];
    return 0;
}

static int get_ref(const reader *r, json_t *j, const char *key, int want, void *out)
{
    return resolve(r, json_object_get(j, key), key, want, (void **)out);
}

/* An array of node indices; *out (caller frees) has at least one slot. */
static int get_refs(const reader *r, json_t *j, const char *key, int want, void *out, int *n)
{
    json_t *a = json_object_get(j, key);
    if (!json_is_array(a))
        return fail(r, key, a ? "expected an array of node indices" : "missing");
    size_t len = json_array_size(a);
    void **items = calloc(len ? len : 1, sizeof *items);
    if (!items)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
    for (size_t i = 0; i < len; i++) {
        char field[64];
        snprintf(field, sizeof field, "%s[%zu]", key, i);
        if (resolve(r, json_array_get(a, i), field, want, &items[i]) < 0) {
            free(items);
            return -1;
        }
    }
    *(void ***)out = items;
    *n = (int)len;
    return 0;
}

static int get_shape(const reader *r, json_t *j, int64_t **out, int *n)
{
    json_t *a = json_object_get(j, "shape");
    if (!json_is_array(a))
        return fail(r, "shape", a ? "expected an array of integers" : "missing");
    size_t len = json_array_size(a);
    int64_t *shape = calloc(len ? len : 1, sizeof *shape), numel = 1;
    if (!shape)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            free(shape);
            char field[32];
            snprintf(field, sizeof field, "shape[%zu]", i);
            return fail(r, field, "expected an integer >= 0");
        }
        shape[i] = json_integer_value(v);
        /* node.c multiplies the extents without checking: keep the product in range */
        if (__builtin_mul_overflow(numel, shape[i], &numel)) {
            free(shape);
            return fail(r, "shape", "the element count overflows int64");
        }
    }
    *out = shape;
    *n = (int)len;
    return 0;
}

/* A constructor failed: its message, under this node's path. */
static void *ctor_failed(const reader *r)
{
    tt_error_wrap("ir json: nodes[%d]", r->n);
    return NULL;
}

static int arity(tt_expr_kind k)
{
    if (k >= TT_EXPR_ADD && k <= TT_EXPR_OR)
        return 2;
    switch (k) {
    case TT_EXPR_NOT:
    case TT_EXPR_CAST:
    case TT_EXPR_REDUCE:
    case TT_EXPR_LOAD:
        return 1;
    case TT_EXPR_SELECT:
        return 3;
    default:
        return -1; /* CALL and ACCESS: any (ACCESS is checked against the rank) */
    }
}

static tt_object *read_expr(const reader *r, json_t *j)
{
    const char *kind = NULL, *name = NULL;
    DLDataType dt = TT_DT_F32;
    int k = 0;
    if (get_str(r, j, "kind", &kind) < 0 || get_dtype(r, j, &dt) < 0)
        return NULL;
    while (k < TT_EXPR_COUNT && strcmp(kind, tt_expr_kind_name(k)) != 0)
        k++;
    if (k == TT_EXPR_COUNT) {
        fail(r, "kind", "unknown expression kind \"%s\"", kind);
        return NULL;
    }
    tt_expr *e = NULL;
    if (k == TT_EXPR_INT || k == TT_EXPR_FLOAT) {
        static const char *const keys[] = {"kind", "dtype", "value", NULL};
        json_t *v = json_object_get(j, "value");
        if (check_keys(r, j, keys) < 0)
            return NULL;
        if (k == TT_EXPR_INT) {
            if (!json_is_integer(v)) {
                fail(r, "value", v ? "expected an integer" : "missing");
                return NULL;
            }
            e = tt_expr_int_typed(json_integer_value(v), dt);
        } else {
            const char *s = json_string_value(v);
            double f = json_is_number(v)         ? json_number_value(v)
                       : s && !strcmp(s, "nan")  ? NAN
                       : s && !strcmp(s, "inf")  ? INFINITY
                       : s && !strcmp(s, "-inf") ? -INFINITY
                                                 : 0;
            if (!json_is_number(v) && f == 0) {
                fail(r, "value", "expected a number, \"nan\", \"inf\" or \"-inf\"");
                return NULL;
            }
            e = tt_expr_float(f, dt);
        }
        return e ? (tt_object *)e : ctor_failed(r);
    }
    if (k == TT_EXPR_VAR) {
        static const char *const keys[] = {"kind", "dtype", "name", NULL};
        if (check_keys(r, j, keys) < 0 || get_str(r, j, "name", &name) < 0)
            return NULL;
        e = tt_expr_var(name, dt);
        return e ? (tt_object *)e : ctor_failed(r);
    }

    static const char *const keys_call[] = {"kind", "dtype", "name", "args", NULL};
    static const char *const keys_access[] = {"kind", "dtype", "tensor", "args", NULL};
    static const char *const keys_reduce[] = {"kind", "dtype", "op", "axes", "args", NULL};
    static const char *const keys_load[] = {"kind", "dtype", "buffer", "args", NULL};
    static const char *const keys_op[] = {"kind", "dtype", "args", NULL};
    const char *const *keys = k == TT_EXPR_CALL     ? keys_call
                              : k == TT_EXPR_ACCESS ? keys_access
                              : k == TT_EXPR_REDUCE ? keys_reduce
                              : k == TT_EXPR_LOAD   ? keys_load
                                                    : keys_op;
    tt_expr **args = NULL;
    tt_iter_var **axes = NULL;
    int nargs = 0, naxes = 0;
    if (check_keys(r, j, keys) < 0 || get_refs(r, j, "args", T_EXPR, &args, &nargs) < 0)
        return NULL;
    if (arity(k) >= 0 && nargs != arity(k)) {
        fail(r, "args", "%s takes %d operands, got %d", kind, arity(k), nargs);
        free(args);
        return NULL;
    }
    switch (k) {
    case TT_EXPR_NOT:
        e = tt_expr_not(args[0]);
        break;
    case TT_EXPR_SELECT:
        e = tt_expr_select(args[0], args[1], args[2]);
        break;
    case TT_EXPR_CAST:
        e = tt_expr_cast(dt, args[0]);
        break;
    case TT_EXPR_CALL:
        if (get_str(r, j, "name", &name) < 0)
            goto out;
        e = tt_expr_call(name, dt, nargs, args);
        break;
    case TT_EXPR_ACCESS: {
        tt_tensor *t = NULL;
        if (get_ref(r, j, "tensor", T_TENSOR, &t) < 0)
            goto out;
        e = tt_expr_access(t, nargs, args);
        break;
    }
    case TT_EXPR_LOAD: {
        tt_buffer *b = NULL;
        if (get_ref(r, j, "buffer", T_BUFFER, &b) < 0)
            goto out;
        e = tt_expr_load(b, args[0]);
        break;
    }
    case TT_EXPR_REDUCE: {
        int op = 0;
        if (get_enum(r, j, "op", (const char *const[]){"sum", "max", "min"}, 3, &op) < 0 ||
            get_refs(r, j, "axes", T_ITER, &axes, &naxes) < 0)
            goto out;
        e = tt_expr_reduce((tt_reduce_op)op, args[0], naxes, axes);
        break;
    }
    default:
        e = tt_expr_binary((tt_expr_kind)k, args[0], args[1]);
        break;
    }
    if (!e) {
        ctor_failed(r);
    } else if (!tt_dtype_eq(e->dtype, dt)) {
        fail(r, "dtype", "declared %s, but its operands make it %s", tt_dtype_name(dt),
             tt_dtype_name(e->dtype) ? tt_dtype_name(e->dtype) : "?");
        tt_expr_release(e);
        e = NULL;
    }
out:
    free(args);
    free(axes);
    return (tt_object *)e;
}

static tt_object *read_stmt(const reader *r, json_t *j)
{
    static const char *const keys[][6] = {{"kind", "var", "extent", "for_kind", "body", NULL},
                                          {"kind", "stmts", NULL},
                                          {"kind", "buffer", "index", "value", NULL},
                                          {"kind", "cond", "then", "else", NULL},
                                          {"kind", "buffer", "body", NULL}};
    int kind = 0;
    if (get_enum(r, j, "kind", stmt_kinds, TT_STMT_COUNT, &kind) < 0 ||
        check_keys(r, j, keys[kind]) < 0)
        return NULL;
    tt_stmt *s = NULL, *body = NULL, *else_s = NULL, **stmts = NULL;
    tt_expr *var = NULL, *extent = NULL, *index = NULL, *value = NULL;
    tt_buffer *b = NULL;
    int n = 0, fk = 0;
    switch (kind) {
    case TT_STMT_FOR:
        if (get_ref(r, j, "var", T_EXPR, &var) < 0 ||
            get_ref(r, j, "extent", T_EXPR, &extent) < 0 ||
            get_enum(r, j, "for_kind",
                     (const char *const[]){"serial", "parallel", "vectorized", "unrolled"}, 4,
                     &fk) < 0 ||
            get_ref(r, j, "body", T_STMT, &body) < 0)
            return NULL;
        s = tt_stmt_for(var, extent, (tt_for_kind)fk, body);
        break;
    case TT_STMT_SEQ:
        if (get_refs(r, j, "stmts", T_STMT, &stmts, &n) < 0)
            return NULL;
        s = tt_stmt_seq(n, stmts);
        free(stmts);
        break;
    case TT_STMT_STORE:
        if (get_ref(r, j, "buffer", T_BUFFER, &b) < 0 ||
            get_ref(r, j, "index", T_EXPR, &index) < 0 ||
            get_ref(r, j, "value", T_EXPR, &value) < 0)
            return NULL;
        s = tt_stmt_store(b, index, value);
        break;
    case TT_STMT_IF:
        if (get_ref(r, j, "cond", T_EXPR, &value) < 0 || get_ref(r, j, "then", T_STMT, &body) < 0 ||
            (json_object_get(j, "else") && get_ref(r, j, "else", T_STMT, &else_s) < 0))
            return NULL;
        s = tt_stmt_if(value, body, else_s);
        break;
    default:
        if (get_ref(r, j, "buffer", T_BUFFER, &b) < 0 || get_ref(r, j, "body", T_STMT, &body) < 0)
            return NULL;
        s = tt_stmt_alloc(b, body);
        break;
    }
    return s ? (tt_object *)s : ctor_failed(r);
}

static tt_object *read_node(const reader *r, json_t *j, int type)
{
    switch (type) {
    case T_EXPR:
        return read_expr(r, j);
    case T_STMT:
        return read_stmt(r, j);
    case T_ITER: {
        static const char *const keys[] = {"var", "extent", "kind", NULL};
        tt_expr *var = NULL;
        int64_t extent = 0;
        int kind = 0;
        if (check_keys(r, j, keys) < 0 || get_ref(r, j, "var", T_EXPR, &var) < 0 ||
            get_int(r, j, "extent", &extent) < 0 ||
            get_enum(r, j, "kind", axis_kinds, 2, &kind) < 0)
            return NULL;
        if (var->kind != TT_EXPR_VAR || !tt_dtype_eq(var->dtype, TT_DT_I64)) {
            fail(r, "var", "expected an int64 var");
            return NULL;
        }
        tt_iter_var *v = tt_iter_var_new(var->name, extent, (tt_axis_kind)kind);
        if (!v)
            return ctor_failed(r);
        /* the axis must use the table's variable, which expressions elsewhere refer to */
        tt_expr_release(v->var);
        v->var = tt_expr_retain(var);
        return (tt_object *)v;
    }
    case T_TENSOR:
    case T_BUFFER: {
        static const char *const keys_t[] = {"name", "dtype", "shape", NULL};
        static const char *const keys_b[] = {"name", "dtype", "shape", "scope", NULL};
        const char *name = NULL;
        DLDataType dt = TT_DT_F32;
        int64_t *shape = NULL;
        int ndim = 0, scope = 0;
        if (check_keys(r, j, type == T_TENSOR ? keys_t : keys_b) < 0 ||
            get_str(r, j, "name", &name) < 0 || get_dtype(r, j, &dt) < 0 ||
            (type == T_BUFFER && get_enum(r, j, "scope", scopes, 3, &scope) < 0) ||
            get_shape(r, j, &shape, &ndim) < 0)
            return NULL;
        tt_object *o = type == T_TENSOR
                           ? (tt_object *)tt_tensor_new(name, dt, ndim, shape)
                           : (tt_object *)tt_buffer_new(name, dt, ndim, shape, (tt_scope)scope);
        free(shape);
        return o ? o : ctor_failed(r);
    }
    case T_STAGE: {
        static const char *const keys[] = {"output", "axes", "body", NULL};
        tt_tensor *out = NULL;
        tt_iter_var **axes = NULL;
        tt_expr *body = NULL;
        int n = 0;
        if (check_keys(r, j, keys) < 0 || get_ref(r, j, "output", T_TENSOR, &out) < 0 ||
            get_ref(r, j, "body", T_EXPR, &body) < 0 ||
            get_refs(r, j, "axes", T_ITER, &axes, &n) < 0)
            return NULL;
        tt_stage *s = tt_stage_new(out, n, axes, body); /* sets out->producer */
        free(axes);
        return s ? (tt_object *)s : ctor_failed(r);
    }
    case T_COMPUTE: {
        static const char *const keys[] = {"name", "inputs", "stages", NULL};
        const char *name = NULL;
        tt_tensor **in = NULL;
        tt_stage **st = NULL;
        int nin = 0, nst = 0;
        tt_compute *c = NULL;
        if (check_keys(r, j, keys) == 0 && get_str(r, j, "name", &name) == 0 &&
            get_refs(r, j, "inputs", T_TENSOR, &in, &nin) == 0 &&
            get_refs(r, j, "stages", T_STAGE, &st, &nst) == 0 &&
            !(c = tt_compute_new(name, nin, in, nst, st)))
            ctor_failed(r);
        free(in);
        free(st);
        return (tt_object *)c;
    }
    default: { /* T_KERNEL */
        static const char *const keys[] = {"name", "params", "body", NULL};
        const char *name = NULL;
        tt_buffer **params = NULL;
        tt_stmt *body = NULL;
        int n = 0;
        tt_kernel *k = NULL;
        if (check_keys(r, j, keys) == 0 && get_str(r, j, "name", &name) == 0 &&
            get_ref(r, j, "body", T_STMT, &body) == 0 &&
            get_refs(r, j, "params", T_BUFFER, &params, &n) == 0 &&
            !(k = tt_kernel_new(name, n, params, body)))
            ctor_failed(r);
        free(params);
        return (tt_object *)k;
    }
    }
}

int tt_ir_from_json(const char *json, tt_object **out)
{
    if (!json || !out)
        return tt_error_set("tt_ir_from_json: NULL text or out");
    *out = NULL;
    json_error_t jerr;
    json_t *top = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!top)
        return tt_error_set("ir json: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    reader r = {0};
    int rc = -1;
    json_t *nodes = json_object_get(top, "nodes"), *root = json_object_get(top, "root");
    const char *key;
    json_t *v;
    if (!json_is_object(top)) {
        tt_error_set("ir json: expected an object with \"root\" and \"nodes\"");
        goto done;
    }
    json_object_foreach(top, key, v)
    {
        if (strcmp(key, "root") != 0 && strcmp(key, "nodes") != 0) {
            tt_error_set("ir json: unknown field \"%s\" (expected \"root\" and \"nodes\")", key);
            goto done;
        }
    }
    if (!json_is_array(nodes)) {
        tt_error_set("ir json: nodes: %s", nodes ? "expected an array" : "missing");
        goto done;
    }
    size_t n = json_array_size(nodes);
    r.tab = calloc(n ? n : 1, sizeof *r.tab);
    r.types = calloc(n ? n : 1, sizeof *r.types);
    if (!r.tab || !r.types) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "ir json: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(nodes, i);
        const char *type = NULL;
        if (!json_is_object(j)) {
            fail(&r, NULL, "expected an object");
            goto done;
        }
        if (get_str(&r, j, "type", &type) < 0)
            goto done;
        int t = 0;
        while (t < T_COUNT && strcmp(type, type_keys[t]) != 0)
            t++;
        if (t == T_COUNT) {
            fail(&r, "type", "unknown node type \"%s\"", type);
            goto done;
        }
        tt_object *o = read_node(&r, j, t);
        if (!o)
            goto done;
        r.tab[r.n] = o;
        r.types[r.n++] = t;
    }
    if (!json_is_integer(root) || json_integer_value(root) < 0 ||
        json_integer_value(root) >= (json_int_t)n) {
        tt_error_set("ir json: root: expected the index of a node (0..%d)", (int)n - 1);
        goto done;
    }
    *out = r.tab[json_integer_value(root)];
    tt_object_retain(*out);
    rc = 0;
done:
    for (int i = 0; i < r.n; i++)
        tt_object_release(r.tab[i]);
    free(r.tab);
    free(r.types);
    json_decref(top);
    return rc;
}
