/* The index simplifier (see simplify.h). Integer index arithmetic is brought to an affine form
 * (terms coefficient*atom plus a constant), where atoms are variables or expressions the form
 * cannot open (div, mod, min, loads); floor div/mod by a constant c split the form into the terms
 * whose coefficients c divides and a rest whose range, when the loop ranges bound it, decides
 * the quotient. Everything is exact under floor semantics (ir.h): no rule needs a sign guess.
 * The forms, ranges and floor division are ir/analysis.h's. */
#include "ir/simplify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef tt_var_ranges ranges;

static bool add_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}
static bool mul_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

static bool is_i64(const tt_expr *e)
{
    return tt_dtype_eq(e->dtype, TT_DT_I64);
}

static bool bounds(const tt_expr *e, const ranges *rg, int64_t *lo, int64_t *hi)
{
    return tt_expr_bounds(e, rg->n, rg->r, lo, hi);
}

/* ---- affine forms ---- */

static tt_expr *simp(const tt_expr *e, const ranges *rg);
static tt_expr *simp_node(const tt_expr *e, const ranges *rg);

/* A node the linear form does not open becomes an atom of its simplified self; when that
 * simplifies to a sum (or, for a non-product, to a product) the sum is opened in its place. */
static void simp_atom(void *ctx, const tt_expr *e, tt_linear *f)
{
    const ranges *rg = ctx;
    tt_expr *s = simp_node(e, rg);
    if (!s) {
        f->bad = true;
        return;
    }
    if (e->kind != TT_EXPR_MUL && (s->kind == TT_EXPR_INT || s->kind == TT_EXPR_ADD ||
                                   s->kind == TT_EXPR_SUB || s->kind == TT_EXPR_MUL)) {
        tt_linear b = {0};
        tt_linear_hooks h = {NULL, simp_atom, ctx};
        tt_linear_of(s, &h, &b);
        tt_linear_merge(f, &b, 1);
        tt_expr_release(s);
    } else {
        tt_linear_add_term(f, s, 1);
    }
}

static void to_affine(const tt_expr *e, const ranges *rg, tt_linear *a)
{
    tt_linear_hooks h = {NULL, simp_atom, (void *)rg};
    tt_linear_of(e, &h, a);
}

static bool aff_bounds(const tt_linear *a, const ranges *rg, int64_t *lo, int64_t *hi)
{
    tt_interval r;
    if (!tt_linear_interval(a, tt_var_ranges_bounds, rg, &r))
        return false;
    *lo = r.lo;
    *hi = r.hi;
    return true;
}

static tt_expr *affine_simp(const tt_expr *e, const ranges *rg)
{
    tt_linear a = {0};
    to_affine(e, rg, &a);
    if (a.bad) {
        tt_linear_free(&a);
        return NULL;
    }
    tt_expr *r = tt_linear_to_expr(&a);
    tt_linear_free(&a);
    return r;
}

/* floor(x / c) or floor-mod(x, c) for a constant c > 0, x in affine form. */
static tt_expr *divmod_affine(const tt_expr *e, int64_t c, const ranges *rg)
{
    bool is_div = e->kind == TT_EXPR_DIV;
    tt_linear x = {0}, q = {0}, r = {0};
    to_affine(e->args[0], rg, &x);
    if (x.bad) {
        tt_linear_free(&x);
        return NULL;
    }
    /* x = c*q + r with r's coefficients in [0, c) (floor semantics make this exact). */
    for (int i = 0; i < x.n; i++) {
        int64_t k = x.t[i].coef, qc = tt_floordiv(k, c), rc = tt_floormod(k, c);
        if (qc)
            tt_linear_add_term(&q, tt_expr_retain(x.t[i].atom), qc);
        if (rc)
            tt_linear_add_term(&r, tt_expr_retain(x.t[i].atom), rc);
    }
    q.c = tt_floordiv(x.c, c);
    r.c = tt_floormod(x.c, c);
    tt_linear_free(&x);
    int64_t lo, hi;
    tt_expr *res = NULL;
    if (q.bad || r.bad) {
        tt_linear_free(&q);
        tt_linear_free(&r);
        return NULL;
    }
    if (aff_bounds(&r, rg, &lo, &hi) && tt_floordiv(lo, c) == tt_floordiv(hi, c)) {
        int64_t m = tt_floordiv(lo, c);
        if (is_div) {
            q.c += m;
            res = tt_linear_to_expr(&q);
        } else {
            r.c -= m * c;
            res = tt_linear_to_expr(&r);
        }
    } else if (r.n == 0 && !is_div) {
        res = tt_expr_int(r.c);
    } else {
        tt_expr *rest = tt_linear_to_expr(&r), *k = tt_expr_int(c);
        tt_expr *op = rest && k ? tt_expr_binary(e->kind, rest, k) : NULL;
        tt_expr_release(rest);
        tt_expr_release(k);
        if (op && is_div) {
            tt_linear d = {0};
            tt_linear_add_term(&d, op, 1);
            tt_linear_merge(&q, &d, 1);
            res = tt_linear_to_expr(&q);
        } else {
            res = op;
        }
    }
    tt_linear_free(&q);
    tt_linear_free(&r);
    return res;
}

/* ---- folding ---- */

static tt_expr *bool_const(bool v)
{
    return tt_expr_int_typed(v, TT_DT_BOOL);
}

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
    tt_linear f = {0};
    if (!d)
        return NULL;
    to_affine(d, rg, &f);
    tt_expr_release(d);
    int64_t lo, hi;
    tt_expr *res = NULL;
    if (!f.bad && aff_bounds(&f, rg, &lo, &hi)) {
        int v = -1;
        switch (e->kind) {
        case TT_EXPR_LT:
            v = hi < 0 ? 1 : lo >= 0 ? 0 : -1;
            break;
        case TT_EXPR_LE:
            v = hi <= 0 ? 1 : lo > 0 ? 0 : -1;
            break;
        case TT_EXPR_GT:
            v = lo > 0 ? 1 : hi <= 0 ? 0 : -1;
            break;
        case TT_EXPR_GE:
            v = lo >= 0 ? 1 : hi < 0 ? 0 : -1;
            break;
        case TT_EXPR_EQ:
            v = (lo == 0 && hi == 0) ? 1 : (lo > 0 || hi < 0) ? 0 : -1;
            break;
        case TT_EXPR_NE:
            v = (lo == 0 && hi == 0) ? 0 : (lo > 0 || hi < 0) ? 1 : -1;
            break;
        default:
            break;
        }
        if (v >= 0)
            res = bool_const(v);
    }
    if (!res && !f.bad) {
        /* Canonical guard: "terms OP -constant". */
        int64_t k = f.c;
        f.c = 0;
        if (k != INT64_MIN) {
            tt_expr *l = tt_linear_to_expr(&f), *r = tt_expr_int(-k);
            res = l && r ? tt_expr_binary(e->kind, l, r) : NULL;
            tt_expr_release(l);
            tt_expr_release(r);
        }
    }
    tt_linear_free(&f);
    if (!res) {
        tt_expr *args[2] = {a, b};
        res = tt_expr_rebuild(e, args);
    }
    return res;
}

static tt_expr *simp_arg(const tt_expr *e, void *p)
{
    return simp(e, p);
}

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
    tt_expr *x = tt_expr_map_args(e, simp_arg, (void *)rg);
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
            case TT_EXPR_ADD:
                ok = add_ok(ia, ib, &v);
                break;
            case TT_EXPR_SUB:
                ok = !__builtin_sub_overflow(ia, ib, &v);
                break;
            case TT_EXPR_MUL:
                ok = mul_ok(ia, ib, &v);
                break;
            case TT_EXPR_DIV:
                ok = tt_floordiv_fits(ia, ib);
                if (ok)
                    v = tt_floordiv(ia, ib);
                break;
            case TT_EXPR_MOD:
                ok = tt_floordiv_fits(ia, ib);
                if (ok)
                    v = tt_floormod(ia, ib);
                break;
            case TT_EXPR_MIN:
                v = ia < ib ? ia : ib;
                break;
            default:
                v = ia > ib ? ia : ib;
                break;
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
        else if (tt_expr_is_const(a, &ia) && tt_dtype_is_int(x->dtype) &&
                 tt_dtype_is_int(a->dtype) &&
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

tt_expr *tt_simplify(const tt_expr *e)
{
    return tt_simplify_ranged(e, 0, NULL);
}
