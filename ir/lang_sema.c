/* The expression language's back half: from the syntax tree (ir/lang_ast.h) to a tt_compute.
 * Per statement: resolve names to tensors and axes, infer the axes' ranges from the accesses
 * (ir/lang_infer.c, rules in ir/lang.h), check every access stays in bounds, then build the IR,
 * splitting reductions nested in expressions into stages of their own. */
#include "ir/lang_ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tt_tensor *find_tensor(sema *S, const char *name)
{
    for (int i = 0; i < S->ntensors; i++)
        if (strcmp(S->tensors[i]->name, name) == 0)
            return S->tensors[i];
    return NULL;
}

static int in_scope(sema *S, const char *name)
{
    for (int i = S->nscope - 1; i >= 0; i--)
        if (strcmp(S->slots[S->scope[i]].name, name) == 0)
            return S->scope[i];
    return -1;
}

static int new_slot(sema *S, node *id, int reduce)
{
    if (in_scope(S, id->name) >= 0)
        return lang_ar_fail(S->a, id->line, id->col, "axis '%s' is already defined", id->name);
    if (find_tensor(S, id->name))
        return lang_ar_fail(S->a, id->line, id->col, "'%s' is a tensor, not an axis name",
                            id->name);
    if (S->nslots == MAXS)
        return lang_ar_fail(S->a, id->line, id->col, "more than %d axes in one statement", MAXS);
    slotinfo *s = &S->slots[S->nslots];
    *s =
        (slotinfo){.name = id->name, .line = id->line, .col = id->col, .reduce = reduce, .ext = -1};
    for (int i = 0; i < S->nextents; i++)
        if (strcmp(S->extents[i].axis, id->name) == 0) {
            s->ext = S->extents[i].extent;
            s->fixed = 1;
            S->ext_used[i] = 1;
        }
    id->slot = S->nslots;
    S->scope[S->nscope++] = S->nslots;
    return S->nslots++;
}

/* ---- name resolution ---- */

static void mark_slots(node *n, int *guard, int delta)
{
    if (n->kind == N_IDENT && n->slot >= 0)
        guard[n->slot] += delta;
    for (int i = 0; i < n->nargs; i++)
        mark_slots(n->args[i], guard, delta);
}

static int uses_guarded(const node *n, const int *guard)
{
    if (n->kind == N_IDENT && n->slot >= 0 && guard[n->slot] > 0)
        return 1;
    for (int i = 0; i < n->nargs; i++)
        if (uses_guarded(n->args[i], guard))
            return 1;
    return 0;
}

static int resolve(sema *S, node *n);

static int resolve_access(sema *S, node *n)
{
    tt_tensor *t = find_tensor(S, n->name);
    if (!t)
        return lang_ar_fail(S->a, n->line, n->col, "undefined tensor '%s'", n->name);
    if (n->nargs != t->ndim)
        return lang_ar_fail(S->a, n->line, n->col, "%s has rank %d, indexed with %d ind%s", n->name,
                            t->ndim, n->nargs, n->nargs == 1 ? "ex" : "ices");
    n->tensor = t;
    for (int d = 0; d < n->nargs; d++) {
        if (resolve(S, n->args[d]) < 0)
            return -1;
        if (S->ncons == S->cap_cons) {
            int cap = S->cap_cons ? 2 * S->cap_cons : 16;
            cons *c = realloc(S->cons, (size_t)cap * sizeof *c);
            if (!c)
                return lang_ar_fail(S->a, n->line, n->col, "out of memory");
            S->cons = c;
            S->cap_cons = cap;
        }
        cons *c = &S->cons[S->ncons];
        c->acc = n;
        c->idx = n->args[d];
        c->dim = d;
        c->len = t->shape[d];
        c->guarded = uses_guarded(n->args[d], S->guard);
        c->fact = S->cur_fact;
        if (lang_lin(S, n->name, d, n->args[d], c->coef, &c->c0, &c->affine) < 0)
            return -1;
        S->ncons++;
    }
    return 0;
}

static int resolve_reduce(sema *S, node *n, int rop)
{
    if (n->nargs != 2)
        return lang_ar_fail(S->a, n->line, n->col,
                            "%s takes an axis (or a list of axes) and an expression, got %d "
                            "argument%s",
                            n->name, n->nargs, n->nargs == 1 ? "" : "s");
    node *ax = n->args[0];
    node **ids = ax->kind == N_LIST ? ax->args : &n->args[0];
    int nids = ax->kind == N_LIST ? ax->nargs : 1;
    if (nids == 0)
        return lang_ar_fail(S->a, ax->line, ax->col, "%s needs at least one axis", n->name);
    int mark = S->nscope;
    n->axslots = lang_ar_alloc(S->a, (size_t)nids * sizeof *n->axslots);
    if (!n->axslots)
        return lang_ar_fail(S->a, n->line, n->col, "out of memory");
    for (int i = 0; i < nids; i++) {
        if (ids[i]->kind != N_IDENT)
            return lang_ar_fail(S->a, ids[i]->line, ids[i]->col,
                                "expected a reduction axis name for %s", n->name);
        if ((n->axslots[i] = new_slot(S, ids[i], 1)) < 0)
            return -1;
    }
    n->kind = N_REDUCE;
    n->rop = rop;
    n->naxes = nids;
    n->args[0] = n->args[1];
    n->nargs = 1;
    int rc = resolve(S, n->args[0]);
    S->nscope = mark;
    return rc;
}

static int resolve_call(sema *S, node *n)
{
    static const struct {
        const char *name;
        int fn, nargs;
    } fns[] = {
        {"exp", F_EXP, 1},      {"sqrt", F_SQRT, 1},     {"log", F_LOG, 1},    {"tanh", F_TANH, 1},
        {"abs", F_ABS, 1},      {"select", F_SELECT, 3}, {"min", F_MIN, 2},    {"max", F_MAX, 2},
        {"float32", F_CAST, 1}, {"float64", F_CAST, 1},  {"int32", F_CAST, 1}, {"int64", F_CAST, 1},
    };
    int is_max = strcmp(n->name, "max") == 0, is_min = strcmp(n->name, "min") == 0;
    if (strcmp(n->name, "sum") == 0)
        return resolve_reduce(S, n, TT_REDUCE_SUM);
    /* max/min reduce when the first argument introduces axes: a list, or a name that is
     * neither an axis in scope nor a tensor. */
    if ((is_max || is_min) && n->nargs == 2 &&
        (n->args[0]->kind == N_LIST ||
         (n->args[0]->kind == N_IDENT && in_scope(S, n->args[0]->name) < 0 &&
          !find_tensor(S, n->args[0]->name))))
        return resolve_reduce(S, n, is_max ? TT_REDUCE_MAX : TT_REDUCE_MIN);
    size_t i = 0;
    while (i < sizeof fns / sizeof fns[0] && strcmp(fns[i].name, n->name) != 0)
        i++;
    if (i == sizeof fns / sizeof fns[0])
        return lang_ar_fail(S->a, n->line, n->col, "unknown function '%s'", n->name);
    if (n->nargs != fns[i].nargs)
        return lang_ar_fail(S->a, n->line, n->col, "%s takes %d argument%s, got %d", n->name,
                            fns[i].nargs, fns[i].nargs == 1 ? "" : "s", n->nargs);
    n->fn = fns[i].fn;
    if (n->fn != F_SELECT) {
        for (int k = 0; k < n->nargs; k++)
            if (resolve(S, n->args[k]) < 0)
                return -1;
        return 0;
    }
    /* Accesses in the branches whose indices use an axis the condition tests are guarded by
     * it (padding): they may be out of bounds where the branch is not taken. */
    if (resolve(S, n->args[0]) < 0)
        return -1;
    mark_slots(n->args[0], S->guard, 1);
    int outer = S->cur_fact, rc = -1;
    if (lang_push_facts(S, n->args[0], 1) == 0 && resolve(S, n->args[1]) == 0) {
        S->cur_fact = outer;
        if (lang_push_facts(S, n->args[0], 0) == 0 && resolve(S, n->args[2]) == 0)
            rc = 0;
    }
    S->cur_fact = outer;
    mark_slots(n->args[0], S->guard, -1);
    return rc;
}

static int resolve(sema *S, node *n)
{
    switch (n->kind) {
    case N_INT:
    case N_FLOAT:
        return 0;
    case N_IDENT:
        if ((n->slot = in_scope(S, n->name)) >= 0)
            return 0;
        if (find_tensor(S, n->name))
            return lang_ar_fail(S->a, n->line, n->col, "tensor '%s' needs indices: %s[...]",
                                n->name, n->name);
        return lang_ar_fail(S->a, n->line, n->col, "undefined index '%s'", n->name);
    case N_LIST:
        return lang_ar_fail(
            S->a, n->line, n->col,
            "a list of axes is only allowed as the first argument of sum, max or min");
    case N_ACCESS:
        return resolve_access(S, n);
    case N_CALL:
        return resolve_call(S, n);
    default:
        for (int i = 0; i < n->nargs; i++)
            if (resolve(S, n->args[i]) < 0)
                return -1;
        return 0;
    }
}

/* ---- types ---- */

enum { U_INT, U_FLOAT, TYPED };
typedef struct {
    int cls;
    DLDataType dt;
} ty;

static const char *dtn(DLDataType t)
{
    return tt_dtype_name(t) ? tt_dtype_name(t) : "?";
}
static int is_bool(DLDataType t)
{
    return tt_dtype_eq(t, TT_DT_BOOL);
}

static int join(sema *S, node *n, ty a, ty b, ty *out)
{
    if (a.cls == TYPED && b.cls == TYPED) {
        if (tt_dtype_eq(a.dt, b.dt)) {
            *out = a;
        } else if (is_bool(a.dt) || is_bool(b.dt)) {
            return lang_ar_fail(S->a, n->line, n->col, "a condition (bool) used as a number");
        } else if (tt_dtype_is_float(a.dt) && tt_dtype_is_float(b.dt)) {
            return lang_ar_fail(S->a, n->line, n->col, "mixes %s and %s; convert explicitly",
                                dtn(a.dt), dtn(b.dt));
        } else if (tt_dtype_is_float(a.dt) != tt_dtype_is_float(b.dt)) {
            *out = tt_dtype_is_float(a.dt) ? a : b;
        } else {
            *out = a.dt.bits >= b.dt.bits ? a : b;
        }
        return 0;
    }
    if (a.cls != TYPED && b.cls != TYPED) {
        out->cls = (a.cls == U_FLOAT || b.cls == U_FLOAT) ? U_FLOAT : U_INT;
        return 0;
    }
    ty t = a.cls == TYPED ? a : b, u = a.cls == TYPED ? b : a;
    if (is_bool(t.dt))
        return lang_ar_fail(S->a, n->line, n->col, "a condition (bool) used as a number");
    if (tt_dtype_is_int(t.dt) && u.cls == U_FLOAT)
        *out = u;
    else
        *out = t;
    return 0;
}

static int nat(sema *S, node *n, ty *out)
{
    ty a, b;
    switch (n->kind) {
    case N_INT:
        *out = (ty){U_INT, TT_DT_I64};
        return 0;
    case N_FLOAT:
        *out = (ty){U_FLOAT, TT_DT_F32};
        return 0;
    case N_IDENT:
        *out = (ty){TYPED, TT_DT_I64};
        return 0;
    case N_ACCESS:
        *out = (ty){TYPED, n->tensor->dtype};
        return 0;
    case N_NEG:
    case N_REDUCE:
        return nat(S, n->args[0], out);
    case N_NOT:
        *out = (ty){TYPED, TT_DT_BOOL};
        return 0;
    case N_BIN:
        if (n->op >= B_LT) {
            *out = (ty){TYPED, TT_DT_BOOL};
            return 0;
        }
        return nat(S, n->args[0], &a) < 0 || nat(S, n->args[1], &b) < 0 ? -1
                                                                        : join(S, n, a, b, out);
    default: /* N_CALL */
        if (n->fn == F_CAST) {
            out->cls = TYPED;
            return tt_dtype_parse(n->name, &out->dt);
        }
        if (n->fn == F_SELECT)
            return nat(S, n->args[1], &a) < 0 || nat(S, n->args[2], &b) < 0 ? -1
                                                                            : join(S, n, a, b, out);
        if (n->fn == F_MIN || n->fn == F_MAX)
            return nat(S, n->args[0], &a) < 0 || nat(S, n->args[1], &b) < 0 ? -1
                                                                            : join(S, n, a, b, out);
        if (nat(S, n->args[0], &a) < 0)
            return -1;
        if (a.cls == TYPED && is_bool(a.dt))
            return lang_ar_fail(S->a, n->line, n->col, "%s of a condition", n->name);
        *out = (n->fn == F_ABS || (a.cls == TYPED && tt_dtype_is_float(a.dt)))
                   ? a
                   : (ty){U_FLOAT, TT_DT_F32};
        return 0;
    }
}

static DLDataType concrete(sema *S, ty t)
{
    return t.cls == TYPED ? t.dt : t.cls == U_INT ? TT_DT_I64 : S->deffloat;
}

/* ---- IR building ---- */

static tt_expr *ir_fail(sema *S, node *n)
{
    lang_ar_fail(S->a, n->line, n->col, "%s", tt_get_last_error());
    return NULL;
}

static tt_expr *build(sema *S, node *n, DLDataType want, tt_expr **env, int top);

static tt_expr *bin2(sema *S, node *n, tt_expr_kind k, tt_expr *a, tt_expr *b)
{
    tt_expr *e = (a && b) ? tt_expr_binary(k, a, b) : NULL;
    if (a && b && !e)
        ir_fail(S, n);
    tt_expr_release(a);
    tt_expr_release(b);
    return e;
}

static tt_expr *literal(sema *S, node *n, double v, DLDataType want)
{
    tt_expr *e =
        tt_dtype_is_float(want) ? tt_expr_float(v, want) : tt_expr_int_typed((int64_t)v, want);
    return e ? e : ir_fail(S, n);
}

static void collect_slots(const node *n, char *used, char *bound_here)
{
    if (n->kind == N_IDENT && n->slot >= 0)
        used[n->slot] = 1;
    if (n->kind == N_REDUCE)
        for (int i = 0; i < n->naxes; i++)
            bound_here[n->axslots[i]] = 1;
    for (int i = 0; i < n->nargs; i++)
        collect_slots(n->args[i], used, bound_here);
}

static int add_stage(sema *S, tt_stage *st)
{
    if (S->nstages == S->cap_stages) {
        int cap = S->cap_stages ? 2 * S->cap_stages : 8;
        tt_stage **v = realloc(S->stages, (size_t)cap * sizeof *v);
        if (!v)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        S->stages = v;
        S->cap_stages = cap;
    }
    S->stages[S->nstages++] = st;
    return 0;
}

/* A stage name[axes] = body with one spatial axis per slot in sl, added to S; returns its output
 * (borrowed: the stage in S owns it) or NULL. */
static tt_tensor *make_stage(sema *S, node *at, const char *name, int n, const int *sl,
                             DLDataType dt, node *body, tt_expr **env)
{
    tt_iter_var *ivs[MAXS];
    int64_t shape[MAXS];
    tt_expr *local[MAXS];
    memcpy(local, env, sizeof local);
    int made = 0, ok = 0;
    int64_t numel = 1;
    tt_tensor *t = NULL;
    tt_stage *st = NULL;
    tt_expr *e = NULL;
    for (; made < n; made++) {
        shape[made] = S->slots[sl[made]].ext;
        if (__builtin_mul_overflow(numel, shape[made], &numel)) {
            lang_ar_fail(S->a, at->line, at->col, "%s has more elements than fit in 64 bits", name);
            goto out;
        }
        if (!(ivs[made] = tt_iter_var_new(S->slots[sl[made]].name, shape[made], TT_AXIS_SPATIAL))) {
            lang_ar_fail(S->a, at->line, at->col, "%s", tt_get_last_error());
            goto out;
        }
        local[sl[made]] = ivs[made]->var;
    }
    if (!(e = build(S, body, dt, local, 1)))
        goto out;
    if (!(t = tt_tensor_new(name, dt, n, shape)) || !(st = tt_stage_new(t, n, ivs, e)) ||
        add_stage(S, st) < 0) {
        lang_ar_fail(S->a, at->line, at->col, "%s", tt_get_last_error());
        tt_stage_release(st);
        goto out;
    }
    ok = 1;
out:
    tt_expr_release(e);
    for (int i = 0; i < made; i++)
        tt_iter_var_release(ivs[i]);
    tt_tensor_release(t);
    return ok ? t : NULL;
}

static tt_expr *build_reduce(sema *S, node *n, DLDataType want, tt_expr **env, int top)
{
    if (!top) {
        /* Split: a stage over the axes the reduction uses from outside, read back here. */
        char used[MAXS] = {0}, inner[MAXS] = {0};
        collect_slots(n, used, inner);
        int sl[MAXS], nf = 0;
        for (int s = 0; s < S->nslots; s++)
            if (used[s] && !inner[s])
                sl[nf++] = s;
        char name[256];
        if (S->nsplit++ == 0)
            snprintf(name, sizeof name, "%s.red", S->st->out);
        else
            snprintf(name, sizeof name, "%s.red%d", S->st->out, S->nsplit - 1);
        tt_tensor *t = make_stage(S, n, name, nf, sl, want, n, env);
        if (!t)
            return NULL;
        tt_expr *idx[MAXS];
        for (int i = 0; i < nf; i++)
            idx[i] = env[sl[i]];
        tt_expr *e = tt_expr_access(t, nf, idx);
        return e ? e : ir_fail(S, n);
    }
    tt_iter_var *ivs[MAXS];
    tt_expr *local[MAXS];
    memcpy(local, env, sizeof local);
    int made = 0;
    tt_expr *e = NULL, *body = NULL;
    for (; made < n->naxes; made++) {
        slotinfo *s = &S->slots[n->axslots[made]];
        if (!(ivs[made] = tt_iter_var_new(s->name, s->ext, TT_AXIS_REDUCE))) {
            ir_fail(S, n);
            goto out;
        }
        local[n->axslots[made]] = ivs[made]->var;
    }
    if ((body = build(S, n->args[0], want, local, 0)) &&
        !(e = tt_expr_reduce((tt_reduce_op)n->rop, body, n->naxes, ivs)))
        ir_fail(S, n);
out:
    tt_expr_release(body);
    for (int i = 0; i < made; i++)
        tt_iter_var_release(ivs[i]);
    return e;
}

static tt_expr *build_call(sema *S, node *n, DLDataType want, tt_expr **env)
{
    static const char *names[] = {"exp", "sqrt", "log", "tanh"};
    tt_expr *a, *e;
    switch (n->fn) {
    case F_SELECT: {
        tt_expr *c = build(S, n->args[0], TT_DT_BOOL, env, 0);
        tt_expr *t = c ? build(S, n->args[1], want, env, 0) : NULL;
        tt_expr *f = t ? build(S, n->args[2], want, env, 0) : NULL;
        e = f ? tt_expr_select(c, t, f) : NULL;
        if (f && !e)
            ir_fail(S, n);
        tt_expr_release(c);
        tt_expr_release(t);
        tt_expr_release(f);
        return e;
    }
    case F_MIN:
    case F_MAX:
        a = build(S, n->args[0], want, env, 0);
        return bin2(S, n, n->fn == F_MIN ? TT_EXPR_MIN : TT_EXPR_MAX, a,
                    a ? build(S, n->args[1], want, env, 0) : NULL);
    case F_CAST: { /* the operand at its own type, then converted */
        ty t;
        if (nat(S, n->args[0], &t) < 0 ||
            !(a = build(S, n->args[0], t.cls == TYPED ? t.dt : want, env, 0)))
            return NULL;
        if (tt_dtype_eq(a->dtype, TT_DT_BOOL)) {
            tt_expr_release(a);
            lang_ar_fail(S->a, n->line, n->col, "%s of a condition; use select(c, 1, 0)", n->name);
            return NULL;
        }
        e = tt_dtype_eq(a->dtype, want) ? tt_expr_retain(a) : tt_expr_cast(want, a);
        break;
    }
    case F_ABS:
        if (!(a = build(S, n->args[0], want, env, 0)))
            return NULL;
        if (tt_dtype_is_float(want)) {
            e = tt_expr_call("fabs", want, 1, &a);
        } else { /* |x| = max(x, 0 - x) */
            tt_expr *z = literal(S, n, 0, want);
            tt_expr *neg = z ? tt_expr_binary(TT_EXPR_SUB, z, a) : NULL;
            e = neg ? tt_expr_binary(TT_EXPR_MAX, a, neg) : NULL;
            tt_expr_release(z);
            tt_expr_release(neg);
        }
        break;
    default:
        if (!tt_dtype_is_float(want)) {
            lang_ar_fail(S->a, n->line, n->col, "%s gives a float, used where %s is expected",
                         n->name, dtn(want));
            return NULL;
        }
        if (!(a = build(S, n->args[0], want, env, 0)))
            return NULL;
        e = tt_expr_call(names[n->fn], want, 1, &a);
        break;
    }
    tt_expr_release(a);
    return e ? e : ir_fail(S, n);
}

static tt_expr *build(sema *S, node *n, DLDataType want, tt_expr **env, int top)
{
    ty t;
    if (nat(S, n, &t) < 0)
        return NULL;
    if (t.cls == TYPED && !tt_dtype_eq(t.dt, want)) {
        /* Integers (an index expression, an int tensor) convert to the float they meet. */
        if (!is_bool(t.dt) && !is_bool(want) && tt_dtype_is_int(t.dt)) {
            tt_expr *a = build(S, n, t.dt, env, top), *e = a ? tt_expr_cast(want, a) : NULL;
            if (a && !e)
                ir_fail(S, n);
            tt_expr_release(a);
            return e;
        }
        lang_ar_fail(S->a, n->line, n->col, "%s %s used where %s is expected",
                     is_bool(t.dt) ? "a condition" : "a value of type",
                     is_bool(t.dt) ? "" : dtn(t.dt), is_bool(want) ? "a condition" : dtn(want));
        return NULL;
    }
    if (t.cls != TYPED && (is_bool(want) || (t.cls == U_FLOAT && !tt_dtype_is_float(want)))) {
        lang_ar_fail(S->a, n->line, n->col, "a %s used where %s is expected",
                     t.cls == U_FLOAT ? "float" : "number",
                     is_bool(want) ? "a condition" : dtn(want));
        return NULL;
    }
    tt_expr *a, *e;
    switch (n->kind) {
    case N_INT:
        if (tt_dtype_is_float(want))
            return literal(S, n, (double)n->ival, want);
        e = tt_expr_int_typed(n->ival, want);
        return e ? e : ir_fail(S, n);
    case N_FLOAT:
        return literal(S, n, n->fval, want);
    case N_IDENT:
        return tt_expr_retain(env[n->slot]);
    case N_ACCESS: {
        tt_expr *idx[MAXS] = {0};
        e = NULL;
        int k = 0;
        for (; k < n->nargs; k++)
            if (!(idx[k] = build(S, n->args[k], TT_DT_I64, env, 0)))
                break;
        if (k == n->nargs && !(e = tt_expr_access(n->tensor, n->nargs, idx)))
            ir_fail(S, n);
        for (int i = 0; i < k; i++)
            tt_expr_release(idx[i]);
        return e;
    }
    case N_NEG:
        if (n->args[0]->kind == N_INT && !tt_dtype_is_float(want)) {
            e = tt_expr_int_typed(-n->args[0]->ival, want);
            return e ? e : ir_fail(S, n);
        }
        if (n->args[0]->kind == N_INT || n->args[0]->kind == N_FLOAT)
            return literal(
                S, n, -(n->args[0]->kind == N_INT ? (double)n->args[0]->ival : n->args[0]->fval),
                want);
        a = literal(S, n, 0, want);
        return bin2(S, n, TT_EXPR_SUB, a, a ? build(S, n->args[0], want, env, 0) : NULL);
    case N_NOT:
        if (!(a = build(S, n->args[0], TT_DT_BOOL, env, 0)))
            return NULL;
        e = tt_expr_not(a);
        tt_expr_release(a);
        return e ? e : ir_fail(S, n);
    case N_REDUCE:
        return build_reduce(S, n, want, env, top);
    case N_CALL:
        return build_call(S, n, want, env);
    default:
        break;
    }
    /* N_BIN */
    static const tt_expr_kind kinds[] = {
        [B_ADD] = TT_EXPR_ADD,  [B_SUB] = TT_EXPR_SUB, [B_MUL] = TT_EXPR_MUL, [B_DIV] = TT_EXPR_DIV,
        [B_FDIV] = TT_EXPR_DIV, [B_MOD] = TT_EXPR_MOD, [B_LT] = TT_EXPR_LT,   [B_LE] = TT_EXPR_LE,
        [B_GT] = TT_EXPR_GT,    [B_GE] = TT_EXPR_GE,   [B_EQ] = TT_EXPR_EQ,   [B_NE] = TT_EXPR_NE,
        [B_AND] = TT_EXPR_AND,  [B_OR] = TT_EXPR_OR,
    };
    DLDataType opt = want;
    if ((n->op == B_FDIV || n->op == B_MOD) && !tt_dtype_is_int(want)) {
        lang_ar_fail(S->a, n->line, n->col, "'%s' needs integer operands; use '/' for %s",
                     n->op == B_MOD ? "%" : "//", dtn(want));
        return NULL;
    }
    if (n->op >= B_LT && n->op <= B_NE) {
        ty l, r, j;
        if (nat(S, n->args[0], &l) < 0 || nat(S, n->args[1], &r) < 0 || join(S, n, l, r, &j) < 0)
            return NULL;
        opt = concrete(S, j);
    }
    a = build(S, n->args[0], opt, env, 0);
    return bin2(S, n, kinds[n->op], a, a ? build(S, n->args[1], opt, env, 0) : NULL);
}

/* ---- statements ---- */

static int statement(sema *S, const stmt *st)
{
    S->st = st;
    S->nslots = S->nscope = S->ncons = S->nsplit = S->nfacts = 0;
    S->cur_fact = -1;
    memset(S->guard, 0, sizeof S->guard);
    if (find_tensor(S, st->out))
        return lang_ar_fail(S->a, st->line, st->col, "tensor '%s' is already defined", st->out);
    int sl[MAXS];
    for (int i = 0; i < st->naxes; i++)
        if ((sl[i] = new_slot(S, st->axes[i], 0)) < 0)
            return -1;
    if (resolve(S, st->body) < 0 || lang_infer(S) < 0)
        return -1;
    ty t;
    if (nat(S, st->body, &t) < 0)
        return -1;
    DLDataType dt = t.cls == TYPED ? t.dt : t.cls == U_FLOAT ? TT_DT_F32 : TT_DT_I64;
    S->deffloat = tt_dtype_is_float(dt) ? dt : TT_DT_F32;
    tt_expr *env[MAXS] = {0};
    tt_tensor *out = make_stage(S, st->body, st->out, st->naxes, sl, dt, st->body, env);
    if (!out)
        return -1;
    tt_tensor **v = realloc(S->tensors, (size_t)(S->ntensors + 1) * sizeof *v);
    if (!v)
        return lang_ar_fail(S->a, st->line, st->col, "out of memory");
    S->tensors = v;
    S->tensors[S->ntensors++] = out;
    return 0;
}

static int plain_fail(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int plain_fail(arena *a, const char *fmt, ...)
{
    if (!a->failed) {
        a->failed = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->msg, sizeof a->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int valid_name(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static int make_inputs(sema *S, int n, const tt_lang_input *in)
{
    for (int i = 0; i < n; i++) {
        if (!valid_name(in[i].name) || strcmp(in[i].name, "inf") == 0)
            return plain_fail(S->a, "input %d: name \"%s\", expected letters, digits and '_'", i,
                              in[i].name ? in[i].name : "(null)");
        if (in[i].ndim < 0 || in[i].ndim > 16 || (in[i].ndim && !in[i].shape))
            return plain_fail(S->a, "input %s: rank %d, expected 0 to 16", in[i].name, in[i].ndim);
        for (int d = 0; d < in[i].ndim; d++)
            if (in[i].shape[d] <= 0)
                return plain_fail(S->a, "input %s: dimension of size %lld, expected > 0",
                                  in[i].name, (long long)in[i].shape[d]);
        if (!tt_dtype_name(in[i].dtype))
            return plain_fail(S->a, "input %s: unsupported dtype", in[i].name);
        if (find_tensor(S, in[i].name))
            return plain_fail(S->a, "input %s: given twice", in[i].name);
        tt_tensor *t = tt_tensor_new(in[i].name, in[i].dtype, in[i].ndim, in[i].shape);
        if (!t)
            return plain_fail(S->a, "input %s: %s", in[i].name, tt_get_last_error());
        S->tensors[S->ntensors++] = t;
    }
    return 0;
}

int lang_build(arena *a, int nstmts, stmt *stmts, const char *name, int ninputs,
               const tt_lang_input *inputs, int nextents, const tt_lang_extent *extents,
               tt_compute **out)
{
    sema S = {.a = a, .nextents = nextents, .extents = extents};
    int rc = -1;
    S.tensors = calloc((size_t)ninputs + 1, sizeof *S.tensors);
    S.ext_used = calloc((size_t)nextents + 1, 1);
    if (!S.tensors || !S.ext_used) {
        plain_fail(a, "out of memory");
        goto out;
    }
    for (int i = 0; i < nextents; i++)
        if (!valid_name(extents[i].axis) || extents[i].extent <= 0) {
            plain_fail(a, "extent of '%s': %lld, expected a positive size of a named axis",
                       extents[i].axis ? extents[i].axis : "(null)", (long long)extents[i].extent);
            goto out;
        }
    if (make_inputs(&S, ninputs, inputs) < 0)
        goto out;
    for (int i = 0; i < nstmts; i++)
        if (statement(&S, &stmts[i]) < 0)
            goto out;
    for (int i = 0; i < nextents; i++)
        if (!S.ext_used[i]) {
            plain_fail(a, "extent given for '%s', which is not an axis of the compute",
                       extents[i].axis);
            goto out;
        }
    *out = tt_compute_new(name ? name : stmts[nstmts - 1].out, ninputs, S.tensors, S.nstages,
                          S.stages);
    if (!*out)
        plain_fail(a, "%s", tt_get_last_error());
    else
        rc = 0;
out:
    for (int i = 0; i < ninputs && i < S.ntensors; i++)
        tt_tensor_release(S.tensors[i]);
    for (int i = 0; i < S.nstages; i++)
        tt_stage_release(S.stages[i]);
    free(S.stages);
    free(S.tensors);
    free(S.cons);
    free(S.facts);
    free(S.ext_used);
    return rc;
}
