/* The shared expression analyses (see analysis.h): intervals and the range of an integer
 * expression, uses and reads, rebuilding, substitution and inlining. Linear forms are in
 * ir/analysis_linear.c. Everything follows the floor semantics of ir.h. */
#include "ir/analysis.h"

#include <stdlib.h>
#include <string.h>

/* ---- intervals ---- */

bool tt_interval_add(tt_interval a, tt_interval b, tt_interval *out)
{
    return !__builtin_add_overflow(a.lo, b.lo, &out->lo) &&
           !__builtin_add_overflow(a.hi, b.hi, &out->hi);
}

bool tt_interval_sub(tt_interval a, tt_interval b, tt_interval *out)
{
    return !__builtin_sub_overflow(a.lo, b.hi, &out->lo) &&
           !__builtin_sub_overflow(a.hi, b.lo, &out->hi);
}

bool tt_interval_neg(tt_interval a, tt_interval *out)
{
    return !__builtin_sub_overflow(0, a.hi, &out->lo) && !__builtin_sub_overflow(0, a.lo, &out->hi);
}

bool tt_interval_mul(tt_interval a, tt_interval b, tt_interval *out)
{
    int64_t p[4];
    if (__builtin_mul_overflow(a.lo, b.lo, &p[0]) || __builtin_mul_overflow(a.lo, b.hi, &p[1]) ||
        __builtin_mul_overflow(a.hi, b.lo, &p[2]) || __builtin_mul_overflow(a.hi, b.hi, &p[3]))
        return false;
    out->lo = out->hi = p[0];
    for (int i = 1; i < 4; i++) {
        out->lo = p[i] < out->lo ? p[i] : out->lo;
        out->hi = p[i] > out->hi ? p[i] : out->hi;
    }
    return true;
}

tt_interval tt_interval_floordiv(tt_interval a, int64_t c)
{
    return (tt_interval){tt_floordiv(a.lo, c), tt_floordiv(a.hi, c)};
}

tt_interval tt_interval_floormod(tt_interval a, int64_t c)
{
    if (tt_floordiv(a.lo, c) == tt_floordiv(a.hi, c))
        return (tt_interval){tt_floormod(a.lo, c), tt_floormod(a.hi, c)};
    return (tt_interval){0, c - 1};
}

tt_interval tt_interval_min(tt_interval a, tt_interval b)
{
    return (tt_interval){a.lo < b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi};
}

tt_interval tt_interval_max(tt_interval a, tt_interval b)
{
    return (tt_interval){a.lo > b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

tt_interval tt_interval_hull(tt_interval a, tt_interval b)
{
    return (tt_interval){a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

/* ---- ranges of integer expressions ---- */

static bool is_i64(const tt_expr *e)
{
    return tt_dtype_eq(e->dtype, TT_DT_I64);
}

bool tt_expr_interval(const tt_expr *e, tt_var_bounds_fn bounds, const void *ctx, tt_interval *out)
{
    tt_interval a, b;
    int64_t c;
    switch (e->kind) {
    case TT_EXPR_INT:
        *out = (tt_interval){e->ival, e->ival};
        return tt_dtype_is_int(e->dtype);
    case TT_EXPR_VAR:
        return bounds && bounds(ctx, e, out);
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
        if (!is_i64(e) || !tt_expr_is_const(e->args[1], &c) || c <= 0)
            return false;
        if (e->kind == TT_EXPR_MOD) {
            /* whatever the dividend, the remainder lies in [0, c) */
            bool known = tt_expr_interval(e->args[0], bounds, ctx, &a);
            *out = known ? tt_interval_floormod(a, c) : (tt_interval){0, c - 1};
            return true;
        }
        if (!tt_expr_interval(e->args[0], bounds, ctx, &a))
            return false;
        *out = tt_interval_floordiv(a, c);
        return true;
    case TT_EXPR_SELECT:
        if (!is_i64(e) || !tt_expr_interval(e->args[1], bounds, ctx, &a) ||
            !tt_expr_interval(e->args[2], bounds, ctx, &b))
            return false;
        *out = tt_interval_hull(a, b);
        return true;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
    case TT_EXPR_MUL:
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        break;
    default:
        return false;
    }
    if (!is_i64(e) || !tt_expr_interval(e->args[0], bounds, ctx, &a) ||
        !tt_expr_interval(e->args[1], bounds, ctx, &b))
        return false;
    switch (e->kind) {
    case TT_EXPR_ADD:
        return tt_interval_add(a, b, out);
    case TT_EXPR_SUB:
        return tt_interval_sub(a, b, out);
    case TT_EXPR_MUL:
        return tt_interval_mul(a, b, out);
    case TT_EXPR_MIN:
        *out = tt_interval_min(a, b);
        return true;
    default:
        *out = tt_interval_max(a, b);
        return true;
    }
}

bool tt_var_ranges_bounds(const void *ranges, const tt_expr *var, tt_interval *out)
{
    const tt_var_ranges *l = ranges;
    for (int i = l->n - 1; i >= 0; i--)
        if (l->r[i].var == var) {
            *out = (tt_interval){l->r[i].lo, l->r[i].hi};
            return true;
        }
    return false;
}

bool tt_expr_bounds(const tt_expr *e, int nranges, const tt_var_range *ranges, int64_t *lo,
                    int64_t *hi)
{
    tt_var_ranges l = {nranges, ranges};
    tt_interval r;
    if (!tt_expr_interval(e, tt_var_ranges_bounds, &l, &r))
        return false;
    *lo = r.lo;
    *hi = r.hi;
    return true;
}

/* ---- what an expression uses ---- */

bool tt_expr_uses_var(const tt_expr *e, const tt_expr *var)
{
    if (e == var)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (tt_expr_uses_var(e->args[i], var))
            return true;
    return false;
}

bool tt_expr_any_var(const tt_expr *e, bool (*pred)(const void *ctx, const tt_expr *var),
                     const void *ctx)
{
    if (e->kind == TT_EXPR_VAR)
        return pred(ctx, e);
    for (int i = 0; i < e->nargs; i++)
        if (tt_expr_any_var(e->args[i], pred, ctx))
            return true;
    return false;
}

bool tt_expr_each_read(const tt_expr *e, bool (*visit)(void *ctx, const tt_expr *read), void *ctx)
{
    if ((e->kind == TT_EXPR_ACCESS || e->kind == TT_EXPR_LOAD) && !visit(ctx, e))
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!tt_expr_each_read(e->args[i], visit, ctx))
            return false;
    return true;
}

static bool not_of(void *ctx, const tt_expr *read)
{
    return read->kind != TT_EXPR_ACCESS || read->tensor != ctx;
}

bool tt_expr_reads(const tt_expr *e, const tt_tensor *t)
{
    return !tt_expr_each_read(e, not_of, (void *)t);
}

static bool not_load(void *ctx, const tt_expr *read)
{
    (void)ctx;
    return read->kind != TT_EXPR_LOAD;
}

bool tt_expr_loads(const tt_expr *e)
{
    return !tt_expr_each_read(e, not_load, NULL);
}

/* ---- rebuilding ---- */

tt_expr *tt_expr_rebuild(const tt_expr *e, tt_expr *const *args)
{
    tt_expr *x = (tt_expr *)e;
    switch (e->kind) {
    case TT_EXPR_INT:
    case TT_EXPR_FLOAT:
    case TT_EXPR_VAR:
        return tt_expr_retain(x);
    case TT_EXPR_NOT:
        return tt_expr_not(args[0]);
    case TT_EXPR_SELECT:
        return tt_expr_select(args[0], args[1], args[2]);
    case TT_EXPR_CALL:
        return tt_expr_call(e->name, e->dtype, e->nargs, args);
    case TT_EXPR_CAST:
        return tt_expr_cast(e->dtype, args[0]);
    case TT_EXPR_ACCESS:
        return tt_expr_access(e->tensor, e->nargs, args);
    case TT_EXPR_REDUCE:
        return tt_expr_reduce(e->reduce_op, args[0], e->naxes, e->axes);
    case TT_EXPR_LOAD:
        return tt_expr_load(e->buffer, args[0]);
    default:
        return tt_expr_binary(e->kind, args[0], args[1]);
    }
}

tt_expr *tt_expr_map_args(const tt_expr *e, tt_expr *(*f)(const tt_expr *, void *), void *ctx)
{
    if (e->nargs == 0)
        return tt_expr_retain((tt_expr *)e);
    tt_expr *stack[8], **args = e->nargs <= 8 ? stack : calloc((size_t)e->nargs, sizeof *args);
    if (!args) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    bool changed = false, ok = true;
    int n = 0;
    for (; n < e->nargs; n++) {
        if (!(args[n] = f(e->args[n], ctx))) {
            ok = false;
            break;
        }
        changed |= args[n] != e->args[n];
    }
    tt_expr *r = !ok ? NULL : changed ? tt_expr_rebuild(e, args) : tt_expr_retain((tt_expr *)e);
    for (int i = 0; i < n; i++)
        tt_expr_release(args[i]);
    if (args != stack)
        free(args);
    return r;
}

typedef struct {
    int n;
    tt_expr *const *vars, *const *values;
} subst_ctx;

static tt_expr *subst(const tt_expr *e, void *p)
{
    subst_ctx *s = p;
    if (e->kind == TT_EXPR_VAR) {
        for (int i = 0; i < s->n; i++)
            if (s->vars[i] == e)
                return tt_expr_retain(s->values[i]);
        return tt_expr_retain((tt_expr *)e);
    }
    return tt_expr_map_args(e, subst, s);
}

tt_expr *tt_expr_substitute(const tt_expr *e, int n, tt_expr *const *vars, tt_expr *const *values)
{
    subst_ctx s = {n, vars, values};
    return subst(e, &s);
}

typedef struct {
    const tt_tensor *t;
    tt_iter_var *const *axes;
    const tt_expr *body;
} inline_ctx;

static tt_expr *inline_read(const tt_expr *e, void *p)
{
    const inline_ctx *in = p;
    tt_expr *r = tt_expr_map_args(e, inline_read, p);
    if (!r || r->kind != TT_EXPR_ACCESS || r->tensor != in->t)
        return r;
    tt_expr **vars = calloc((size_t)r->nargs + 1, sizeof *vars);
    tt_expr *body = NULL;
    if (vars) {
        for (int i = 0; i < r->nargs; i++)
            vars[i] = in->axes[i]->var;
        body = tt_expr_substitute(in->body, r->nargs, vars, r->args);
    } else {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    free(vars);
    tt_expr_release(r);
    return body;
}

tt_expr *tt_expr_inline_reads(const tt_expr *e, const tt_tensor *t, tt_iter_var *const *axes,
                              const tt_expr *body)
{
    inline_ctx in = {t, axes, body};
    return inline_read(e, &in);
}

/* ---- structural order ---- */

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

int tt_expr_compare(const tt_expr *a, const tt_expr *b)
{
    if (a == b)
        return 0;
    if (a->kind != b->kind) {
        /* Variables first so that canonical sums read "i*4 + j + (x/4)". */
        if (a->kind == TT_EXPR_VAR || b->kind == TT_EXPR_VAR)
            return a->kind == TT_EXPR_VAR ? -1 : 1;
        return cmp_i64(a->kind, b->kind);
    }
    int c = cmp_i64(a->dtype.code, b->dtype.code);
    if (!c)
        c = cmp_i64(a->dtype.bits, b->dtype.bits);
    if (c)
        return c;
    switch (a->kind) {
    case TT_EXPR_INT:
        return cmp_i64(a->ival, b->ival);
    case TT_EXPR_FLOAT:
        return a->fval < b->fval ? -1 : a->fval > b->fval ? 1 : 0;
    case TT_EXPR_VAR:
        c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
        return c ? (c < 0 ? -1 : 1) : ((uintptr_t)a < (uintptr_t)b ? -1 : 1);
    default:
        break;
    }
    if (a->name || b->name) {
        c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
        if (c)
            return c < 0 ? -1 : 1;
    }
    if (a->tensor != b->tensor)
        return (uintptr_t)a->tensor < (uintptr_t)b->tensor ? -1 : 1;
    if (a->buffer != b->buffer)
        return (uintptr_t)a->buffer < (uintptr_t)b->buffer ? -1 : 1;
    if ((c = cmp_i64(a->reduce_op, b->reduce_op)) || (c = cmp_i64(a->naxes, b->naxes)) ||
        (c = cmp_i64(a->nargs, b->nargs)))
        return c;
    for (int i = 0; i < a->naxes; i++)
        if (a->axes[i] != b->axes[i])
            return (uintptr_t)a->axes[i] < (uintptr_t)b->axes[i] ? -1 : 1;
    for (int i = 0; i < a->nargs; i++)
        if ((c = tt_expr_compare(a->args[i], b->args[i])))
            return c;
    return 0;
}

bool tt_expr_equal(const tt_expr *a, const tt_expr *b)
{
    return tt_expr_compare(a, b) == 0;
}
