/* The index simplifier (see simplify.h). Integer index arithmetic is brought to an affine form
 * (terms coefficient*atom plus a constant), where atoms are variables or expressions the form
 * cannot open (div, mod, min, loads); floor div/mod by a constant c split the form into the terms
 * whose coefficients c divides and a rest whose range, when the loop ranges bound it, decides
 * the quotient. Everything is exact under floor semantics (ir.h): no rule needs a sign guess. */
#include "ir/simplify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- structural order, rebuild, substitute ---- */

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

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

bool tt_expr_equal(const tt_expr *a, const tt_expr *b) { return tt_expr_compare(a, b) == 0; }

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

/* Applies f to every operand and rebuilds e when one changed (shares e otherwise). */
static tt_expr *map_args(const tt_expr *e, tt_expr *(*f)(const tt_expr *, void *), void *ctx)
{
    if (e->nargs == 0)
        return tt_expr_retain((tt_expr *)e);
    tt_expr *stack[4], **args = e->nargs <= 4 ? stack : calloc((size_t)e->nargs, sizeof *args);
    if (!args) {
        tt_error_set("out of memory");
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
    return map_args(e, subst, s);
}

tt_expr *tt_expr_substitute(const tt_expr *e, int n, tt_expr *const *vars, tt_expr *const *values)
{
    subst_ctx s = {n, vars, values};
    return subst(e, &s);
}

/* ---- ranges ---- */

typedef struct {
    int n;
    const tt_var_range *r;
} ranges;

static bool add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static bool mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static int64_t fdiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
static int64_t fmod_i(int64_t a, int64_t b) { return a - fdiv(a, b) * b; }

static bool is_i64(const tt_expr *e) { return tt_dtype_eq(e->dtype, TT_DT_I64); }

static bool bounds(const tt_expr *e, const ranges *rg, int64_t *lo, int64_t *hi)
{
    int64_t al, ah, bl, bh, c;
    switch (e->kind) {
    case TT_EXPR_INT:
        *lo = *hi = e->ival;
        return tt_dtype_is_int(e->dtype);
    case TT_EXPR_VAR:
        for (int i = rg->n - 1; i >= 0; i--)
            if (rg->r[i].var == e) {
                *lo = rg->r[i].lo;
                *hi = rg->r[i].hi;
                return true;
            }
        return false;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
        if (!is_i64(e) || !bounds(e->args[0], rg, &al, &ah) || !bounds(e->args[1], rg, &bl, &bh))
            return false;
        if (e->kind == TT_EXPR_ADD)
            return add_ok(al, bl, lo) && add_ok(ah, bh, hi);
        return !__builtin_sub_overflow(al, bh, lo) && !__builtin_sub_overflow(ah, bl, hi);
    case TT_EXPR_MUL: {
        if (!is_i64(e) || !bounds(e->args[0], rg, &al, &ah) || !bounds(e->args[1], rg, &bl, &bh))
            return false;
        int64_t p[4];
        if (!mul_ok(al, bl, &p[0]) || !mul_ok(al, bh, &p[1]) || !mul_ok(ah, bl, &p[2]) ||
            !mul_ok(ah, bh, &p[3]))
            return false;
        *lo = *hi = p[0];
        for (int i = 1; i < 4; i++) {
            *lo = p[i] < *lo ? p[i] : *lo;
            *hi = p[i] > *hi ? p[i] : *hi;
        }
        return true;
    }
    case TT_EXPR_DIV:
        if (!is_i64(e) || !tt_expr_is_const(e->args[1], &c) || c <= 0 ||
            !bounds(e->args[0], rg, &al, &ah))
            return false;
        *lo = fdiv(al, c);
        *hi = fdiv(ah, c);
        return true;
    case TT_EXPR_MOD:
        if (!is_i64(e) || !tt_expr_is_const(e->args[1], &c) || c <= 0)
            return false;
        if (bounds(e->args[0], rg, &al, &ah) && fdiv(al, c) == fdiv(ah, c)) {
            *lo = fmod_i(al, c);
            *hi = fmod_i(ah, c);
        } else {
            *lo = 0;
            *hi = c - 1;
        }
        return true;
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        if (!is_i64(e) || !bounds(e->args[0], rg, &al, &ah) || !bounds(e->args[1], rg, &bl, &bh))
            return false;
        *lo = e->kind == TT_EXPR_MIN ? (al < bl ? al : bl) : (al > bl ? al : bl);
        *hi = e->kind == TT_EXPR_MIN ? (ah < bh ? ah : bh) : (ah > bh ? ah : bh);
        return true;
    case TT_EXPR_SELECT:
        if (!is_i64(e) || !bounds(e->args[1], rg, &al, &ah) || !bounds(e->args[2], rg, &bl, &bh))
            return false;
        *lo = al < bl ? al : bl;
        *hi = ah > bh ? ah : bh;
        return true;
    default:
        return false;
    }
}

bool tt_expr_bounds(const tt_expr *e, int nranges, const tt_var_range *r, int64_t *lo, int64_t *hi)
{
    ranges rg = {nranges, r};
    return bounds(e, &rg, lo, hi);
}

/* ---- affine forms ---- */

typedef struct {
    tt_expr *atom; /* owned */
    int64_t coef;
} term;

typedef struct {
    int n, cap;
    term *t;
    int64_t c;
    bool bad; /* overflow or out of memory: the caller falls back to the plain node */
} affine;

static void aff_free(affine *a)
{
    for (int i = 0; i < a->n; i++)
        tt_expr_release(a->t[i].atom);
    free(a->t);
    memset(a, 0, sizeof *a);
}

/* Adds coef*atom (takes the reference to atom). */
static void aff_add_term(affine *a, tt_expr *atom, int64_t coef)
{
    for (int i = 0; i < a->n; i++)
        if (tt_expr_equal(a->t[i].atom, atom)) {
            tt_expr_release(atom);
            a->bad |= !add_ok(a->t[i].coef, coef, &a->t[i].coef);
            return;
        }
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 4;
        term *t = realloc(a->t, (size_t)cap * sizeof *t);
        if (!t) {
            tt_expr_release(atom);
            a->bad = true;
            return;
        }
        a->t = t;
        a->cap = cap;
    }
    a->t[a->n++] = (term){atom, coef};
}

/* a += k * b (b is consumed). */
static void aff_merge(affine *a, affine *b, int64_t k)
{
    int64_t c;
    a->bad |= b->bad || !mul_ok(b->c, k, &c) || !add_ok(a->c, c, &a->c);
    for (int i = 0; i < b->n; i++) {
        a->bad |= !mul_ok(b->t[i].coef, k, &c);
        aff_add_term(a, b->t[i].atom, c);
        b->t[i].atom = NULL;
    }
    b->n = 0;
    aff_free(b);
}

static int term_cmp(const void *x, const void *y)
{
    return tt_expr_compare(((const term *)x)->atom, ((const term *)y)->atom);
}

static void aff_normalize(affine *a)
{
    int m = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->t[i].coef == 0)
            tt_expr_release(a->t[i].atom);
        else
            a->t[m++] = a->t[i];
    }
    a->n = m;
    if (m > 1)
        qsort(a->t, (size_t)a->n, sizeof *a->t, term_cmp);
}

static tt_expr *simp(const tt_expr *e, const ranges *rg);
static tt_expr *simp_node(const tt_expr *e, const ranges *rg);

static void to_affine(const tt_expr *e, const ranges *rg, affine *a)
{
    switch (e->kind) {
    case TT_EXPR_INT:
        a->c = e->ival;
        return;
    case TT_EXPR_VAR:
        aff_add_term(a, tt_expr_retain((tt_expr *)e), 1);
        return;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB: {
        affine b = {0};
        to_affine(e->args[0], rg, a);
        to_affine(e->args[1], rg, &b);
        aff_merge(a, &b, e->kind == TT_EXPR_ADD ? 1 : -1);
        return;
    }
    case TT_EXPR_MUL: {
        affine x = {0}, y = {0};
        to_affine(e->args[0], rg, &x);
        to_affine(e->args[1], rg, &y);
        if (y.n == 0 || x.n == 0) {
            affine *var = y.n == 0 ? &x : &y, *k = y.n == 0 ? &y : &x;
            int64_t f = k->c;
            a->bad |= k->bad;
            aff_free(k);
            aff_merge(a, var, f);
            return;
        }
        /* A product of two non-constant forms is an atom of the canonical factors. */
        tt_expr *s = simp_node(e, rg);
        aff_free(&x);
        aff_free(&y);
        if (!s)
            a->bad = true;
        else
            aff_add_term(a, s, 1);
        return;
    }
    default: {
        tt_expr *s = simp_node(e, rg);
        if (!s) {
            a->bad = true;
            return;
        }
        if (s->kind == TT_EXPR_INT || s->kind == TT_EXPR_ADD || s->kind == TT_EXPR_SUB ||
            (s->kind == TT_EXPR_MUL && e->kind != TT_EXPR_MUL)) {
            affine b = {0};
            to_affine(s, rg, &b);
            aff_merge(a, &b, 1);
            tt_expr_release(s);
        } else {
            aff_add_term(a, s, 1);
        }
        return;
    }
    }
}

static tt_expr *from_affine(affine *a)
{
    aff_normalize(a);
    tt_expr *acc = NULL;
    for (int i = 0; i < a->n; i++) {
        int64_t c = a->t[i].coef;
        bool neg = acc && c < 0 && c != INT64_MIN;
        if (neg)
            c = -c;
        tt_expr *t = c == 1 ? tt_expr_retain(a->t[i].atom)
                            : tt_expr_mul_s(tt_expr_retain(a->t[i].atom), tt_expr_int(c));
        if (!t) {
            tt_expr_release(acc);
            return NULL;
        }
        if (!acc) {
            acc = t;
        } else if (neg) {
            tt_expr *s = tt_expr_binary(TT_EXPR_SUB, acc, t);
            tt_expr_release(acc);
            tt_expr_release(t);
            acc = s;
        } else {
            acc = tt_expr_add_s(acc, t);
        }
        if (!acc)
            return NULL;
    }
    if (!acc)
        return tt_expr_int(a->c);
    if (a->c > 0)
        return tt_expr_add_s(acc, tt_expr_int(a->c));
    if (a->c < 0 && a->c != INT64_MIN) {
        tt_expr *k = tt_expr_int(-a->c), *s = tt_expr_binary(TT_EXPR_SUB, acc, k);
        tt_expr_release(k);
        tt_expr_release(acc);
        return s;
    }
    if (a->c == INT64_MIN)
        return tt_expr_add_s(acc, tt_expr_int(a->c));
    return acc;
}

/* Range of an affine form (false when an atom is unbounded). */
static bool aff_bounds(const affine *a, const ranges *rg, int64_t *lo, int64_t *hi)
{
    *lo = *hi = a->c;
    for (int i = 0; i < a->n; i++) {
        int64_t l, h, x, y;
        if (!bounds(a->t[i].atom, rg, &l, &h) || !mul_ok(l, a->t[i].coef, &x) ||
            !mul_ok(h, a->t[i].coef, &y))
            return false;
        if (x > y) {
            int64_t t = x;
            x = y;
            y = t;
        }
        if (!add_ok(*lo, x, lo) || !add_ok(*hi, y, hi))
            return false;
    }
    return true;
}

static tt_expr *affine_simp(const tt_expr *e, const ranges *rg)
{
    affine a = {0};
    to_affine(e, rg, &a);
    if (a.bad) {
        aff_free(&a);
        return NULL;
    }
    tt_expr *r = from_affine(&a);
    aff_free(&a);
    return r;
}

/* floor(x / c) or floor-mod(x, c) for a constant c > 0, x in affine form. */
static tt_expr *divmod_affine(const tt_expr *e, int64_t c, const ranges *rg)
{
    bool is_div = e->kind == TT_EXPR_DIV;
    affine x = {0}, q = {0}, r = {0};
    to_affine(e->args[0], rg, &x);
    if (x.bad) {
        aff_free(&x);
        return NULL;
    }
    /* x = c*q + r with r's coefficients in [0, c) (floor semantics make this exact). */
    for (int i = 0; i < x.n; i++) {
        int64_t k = x.t[i].coef, qc = fdiv(k, c), rc = fmod_i(k, c);
        if (qc)
            aff_add_term(&q, tt_expr_retain(x.t[i].atom), qc);
        if (rc)
            aff_add_term(&r, tt_expr_retain(x.t[i].atom), rc);
    }
    q.c = fdiv(x.c, c);
    r.c = fmod_i(x.c, c);
    aff_free(&x);
    int64_t lo, hi;
    tt_expr *res = NULL;
    if (q.bad || r.bad) {
        aff_free(&q);
        aff_free(&r);
        return NULL;
    }
    if (aff_bounds(&r, rg, &lo, &hi) && fdiv(lo, c) == fdiv(hi, c)) {
        int64_t m = fdiv(lo, c);
        if (is_div) {
            q.c += m;
            res = from_affine(&q);
        } else {
            r.c -= m * c;
            res = from_affine(&r);
        }
    } else if (r.n == 0 && !is_div) {
        res = tt_expr_int(r.c);
    } else {
        tt_expr *rest = from_affine(&r), *k = tt_expr_int(c);
        tt_expr *op = rest && k ? tt_expr_binary(e->kind, rest, k) : NULL;
        tt_expr_release(rest);
        tt_expr_release(k);
        if (op && is_div) {
            affine d = {0};
            aff_add_term(&d, op, 1);
            aff_merge(&q, &d, 1);
            res = from_affine(&q);
        } else {
            res = op;
        }
    }
    aff_free(&q);
    aff_free(&r);
    return res;
}

/* ---- folding ---- */

static tt_expr *bool_const(bool v) { return tt_expr_int_typed(v, TT_DT_BOOL); }

static bool fconst(const tt_expr *e, double *v)
{
    if (e->kind != TT_EXPR_FLOAT)
        return false;
    *v = e->fval;
    return true;
}

static tt_expr *float_typed(double v, DLDataType t)
{
    return tt_expr_float(t.bits == 32 ? (double)(float)v : v, t);
}

/* Comparison of two int64 operands: decided by the range of their difference when it can. */
static tt_expr *simp_compare(const tt_expr *e, tt_expr *a, tt_expr *b, const ranges *rg)
{
    tt_expr *d = tt_expr_binary(TT_EXPR_SUB, a, b);
    affine f = {0};
    if (!d)
        return NULL;
    to_affine(d, rg, &f);
    tt_expr_release(d);
    int64_t lo, hi;
    tt_expr *res = NULL;
    if (!f.bad && aff_bounds(&f, rg, &lo, &hi)) {
        int v = -1;
        switch (e->kind) {
        case TT_EXPR_LT: v = hi < 0 ? 1 : lo >= 0 ? 0 : -1; break;
        case TT_EXPR_LE: v = hi <= 0 ? 1 : lo > 0 ? 0 : -1; break;
        case TT_EXPR_GT: v = lo > 0 ? 1 : hi <= 0 ? 0 : -1; break;
        case TT_EXPR_GE: v = lo >= 0 ? 1 : hi < 0 ? 0 : -1; break;
        case TT_EXPR_EQ: v = (lo == 0 && hi == 0) ? 1 : (lo > 0 || hi < 0) ? 0 : -1; break;
        case TT_EXPR_NE: v = (lo == 0 && hi == 0) ? 0 : (lo > 0 || hi < 0) ? 1 : -1; break;
        default: break;
        }
        if (v >= 0)
            res = bool_const(v);
    }
    if (!res && !f.bad) {
        /* Canonical guard: "terms OP -constant". */
        int64_t k = f.c;
        f.c = 0;
        if (k != INT64_MIN) {
            tt_expr *l = from_affine(&f), *r = tt_expr_int(-k);
            res = l && r ? tt_expr_binary(e->kind, l, r) : NULL;
            tt_expr_release(l);
            tt_expr_release(r);
        }
    }
    aff_free(&f);
    if (!res) {
        tt_expr *args[2] = {a, b};
        res = tt_expr_rebuild(e, args);
    }
    return res;
}

static tt_expr *simp_arg(const tt_expr *e, void *p) { return simp(e, p); }

/* Simplifies e without opening it as an affine form itself (operands are simplified fully). */
static tt_expr *simp_node(const tt_expr *e, const ranges *rg)
{
    int64_t ia, ib;
    double fa, fb;
    if (e->kind == TT_EXPR_INT || e->kind == TT_EXPR_FLOAT || e->kind == TT_EXPR_VAR)
        return tt_expr_retain((tt_expr *)e);
    if ((e->kind == TT_EXPR_DIV || e->kind == TT_EXPR_MOD) && is_i64(e) &&
        tt_expr_is_const(e->args[1], &ib) && ib > 0) {
        /* Floor division composes: (x / a) / b = x / (a*b); and (x % (a*b)) % b = x % b. Both
         * come from fusing loops and splitting the fused one again. */
        tt_expr *inner = simp(e->args[0], rg);
        int64_t ia2, prod;
        if (inner && inner->kind == e->kind && tt_expr_is_const(inner->args[1], &ia2) && ia2 > 0 &&
            (e->kind == TT_EXPR_DIV ? mul_ok(ia2, ib, &prod) : (prod = ib, ia2 % ib == 0))) {
            tt_expr *k = tt_expr_int(prod);
            tt_expr *flat = k ? tt_expr_binary(e->kind, inner->args[0], k) : NULL;
            tt_expr *r = flat ? simp_node(flat, rg) : NULL;
            tt_expr_release(k);
            tt_expr_release(flat);
            tt_expr_release(inner);
            return r;
        }
        tt_expr_release(inner);
        tt_expr *r = divmod_affine(e, ib, rg);
        if (r)
            return r;
    }
    tt_expr *x = map_args(e, simp_arg, (void *)rg);
    if (!x)
        return NULL;
    tt_expr *a = x->nargs > 0 ? x->args[0] : NULL, *b = x->nargs > 1 ? x->args[1] : NULL;
    tt_expr *res = NULL;
    switch (x->kind) {
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
    case TT_EXPR_MUL:
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        if (tt_dtype_is_int(x->dtype) && tt_expr_is_const(a, &ia) && tt_expr_is_const(b, &ib)) {
            int64_t v = 0;
            bool ok = true;
            switch (x->kind) {
            case TT_EXPR_ADD: ok = add_ok(ia, ib, &v); break;
            case TT_EXPR_SUB: ok = !__builtin_sub_overflow(ia, ib, &v); break;
            case TT_EXPR_MUL: ok = mul_ok(ia, ib, &v); break;
            case TT_EXPR_DIV: ok = ib != 0 && !(ia == INT64_MIN && ib == -1); if (ok) v = fdiv(ia, ib); break;
            case TT_EXPR_MOD: ok = ib != 0 && !(ia == INT64_MIN && ib == -1); if (ok) v = fmod_i(ia, ib); break;
            case TT_EXPR_MIN: v = ia < ib ? ia : ib; break;
            default: v = ia > ib ? ia : ib; break;
            }
            /* int32 arithmetic wraps differently: fold only what stays in its range. */
            if (ok && x->dtype.bits == 32 && (v < INT32_MIN || v > INT32_MAX))
                ok = false;
            if (ok)
                res = tt_expr_int_typed(v, x->dtype);
        } else if (tt_dtype_is_float(x->dtype) && fconst(a, &fa) && fconst(b, &fb) &&
                   x->kind != TT_EXPR_MOD) {
            double v = x->kind == TT_EXPR_ADD   ? fa + fb
                       : x->kind == TT_EXPR_SUB ? fa - fb
                       : x->kind == TT_EXPR_MUL ? fa * fb
                       : x->kind == TT_EXPR_DIV ? fa / fb
                       : x->kind == TT_EXPR_MIN ? fmin(fa, fb)
                                                : fmax(fa, fb);
            res = float_typed(v, x->dtype);
        } else if (tt_dtype_is_float(x->dtype)) {
            /* Identities exact in IEEE arithmetic (x + 0 only loses the sign of a -0). */
            if ((x->kind == TT_EXPR_ADD && fconst(a, &fa) && fa == 0) ||
                (x->kind == TT_EXPR_MUL && fconst(a, &fa) && fa == 1))
                res = tt_expr_retain(b);
            else if (((x->kind == TT_EXPR_ADD || x->kind == TT_EXPR_SUB) && fconst(b, &fb) &&
                      fb == 0) ||
                     ((x->kind == TT_EXPR_MUL || x->kind == TT_EXPR_DIV) && fconst(b, &fb) &&
                      fb == 1))
                res = tt_expr_retain(a);
        } else if ((x->kind == TT_EXPR_MIN || x->kind == TT_EXPR_MAX) && is_i64(x)) {
            int64_t al, ah, bl, bh;
            if (bounds(a, rg, &al, &ah) && bounds(b, rg, &bl, &bh)) {
                bool amin = ah <= bl, bmin = bh <= al;
                if (x->kind == TT_EXPR_MIN && (amin || bmin))
                    res = tt_expr_retain(amin ? a : b);
                if (x->kind == TT_EXPR_MAX && (amin || bmin))
                    res = tt_expr_retain(amin ? b : a);
            }
        } else if (x->kind == TT_EXPR_DIV && tt_expr_is_const(b, &ib) && ib == 1) {
            res = tt_expr_retain(a);
        }
        break;
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
        if (is_i64(a)) {
            res = simp_compare(x, a, b, rg);
        } else if (fconst(a, &fa) && fconst(b, &fb)) {
            bool v = x->kind == TT_EXPR_EQ   ? fa == fb
                     : x->kind == TT_EXPR_NE ? fa != fb
                     : x->kind == TT_EXPR_LT ? fa < fb
                     : x->kind == TT_EXPR_LE ? fa <= fb
                     : x->kind == TT_EXPR_GT ? fa > fb
                                             : fa >= fb;
            res = bool_const(v);
        }
        break;
    case TT_EXPR_AND:
    case TT_EXPR_OR: {
        bool is_and = x->kind == TT_EXPR_AND;
        if (tt_expr_is_const(a, &ia))
            res = (ia != 0) == is_and ? tt_expr_retain(b) : bool_const(!is_and);
        else if (tt_expr_is_const(b, &ib))
            res = (ib != 0) == is_and ? tt_expr_retain(a) : bool_const(!is_and);
        break;
    }
    case TT_EXPR_NOT:
        if (tt_expr_is_const(a, &ia))
            res = bool_const(ia == 0);
        break;
    case TT_EXPR_SELECT:
        if (tt_expr_is_const(a, &ia))
            res = tt_expr_retain(ia ? b : x->args[2]);
        else if (tt_expr_equal(b, x->args[2]))
            res = tt_expr_retain(b);
        break;
    case TT_EXPR_CAST:
        if (tt_dtype_eq(a->dtype, x->dtype))
            res = tt_expr_retain(a);
        else if (tt_expr_is_const(a, &ia) && tt_dtype_is_float(x->dtype))
            res = float_typed((double)ia, x->dtype);
        else if (tt_expr_is_const(a, &ia) && tt_dtype_is_int(x->dtype) && tt_dtype_is_int(a->dtype) &&
                 (x->dtype.bits == 64 || (ia >= INT32_MIN && ia <= INT32_MAX)))
            res = tt_expr_int_typed(ia, x->dtype);
        else if (fconst(a, &fa) && tt_dtype_is_float(x->dtype))
            res = float_typed(fa, x->dtype);
        break;
    default:
        break;
    }
    if (res) {
        tt_expr_release(x);
        return res;
    }
    return x;
}

static tt_expr *simp(const tt_expr *e, const ranges *rg)
{
    if (is_i64(e) && (e->kind == TT_EXPR_ADD || e->kind == TT_EXPR_SUB || e->kind == TT_EXPR_MUL)) {
        tt_expr *r = affine_simp(e, rg);
        if (r)
            return r;
    }
    return simp_node(e, rg);
}

tt_expr *tt_simplify_ranged(const tt_expr *e, int nranges, const tt_var_range *r)
{
    if (!e) {
        tt_error_set("simplify: NULL expression");
        return NULL;
    }
    ranges rg = {nranges, r};
    return simp(e, &rg);
}

tt_expr *tt_simplify(const tt_expr *e) { return tt_simplify_ranged(e, 0, NULL); }
