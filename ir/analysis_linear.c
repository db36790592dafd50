/* Linear forms of integer index expressions (see analysis.h): c + sum coef * atom, built bottom
 * up with overflow checks. The simplifier's canonical sums, codegen's lane analysis and the cost
 * model's strides are all read off these forms. */
#include "ir/analysis.h"

#include <stdlib.h>
#include <string.h>

static bool add_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}
static bool mul_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

void tt_linear_free(tt_linear *f)
{
    for (int i = 0; i < f->n; i++)
        tt_expr_release(f->t[i].atom);
    free(f->t);
    memset(f, 0, sizeof *f);
}

void tt_linear_add_term(tt_linear *f, tt_expr *atom, int64_t coef)
{
    for (int i = 0; i < f->n; i++)
        if (tt_expr_equal(f->t[i].atom, atom)) {
            tt_expr_release(atom);
            f->bad |= !add_ok(f->t[i].coef, coef, &f->t[i].coef);
            return;
        }
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 4;
        tt_linear_term *t = realloc(f->t, (size_t)cap * sizeof *t);
        if (!t) {
            tt_expr_release(atom);
            f->bad = true;
            return;
        }
        f->t = t;
        f->cap = cap;
    }
    f->t[f->n++] = (tt_linear_term){atom, coef};
}

void tt_linear_merge(tt_linear *a, tt_linear *b, int64_t k)
{
    int64_t c;
    a->bad |= b->bad || !mul_ok(b->c, k, &c) || !add_ok(a->c, c, &a->c);
    for (int i = 0; i < b->n; i++) {
        a->bad |= !mul_ok(b->t[i].coef, k, &c);
        tt_linear_add_term(a, b->t[i].atom, c);
        b->t[i].atom = NULL;
    }
    b->n = 0;
    tt_linear_free(b);
}

static int term_cmp(const void *x, const void *y)
{
    return tt_expr_compare(((const tt_linear_term *)x)->atom, ((const tt_linear_term *)y)->atom);
}

void tt_linear_normalize(tt_linear *f)
{
    int m = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->t[i].coef == 0)
            tt_expr_release(f->t[i].atom);
        else
            f->t[m++] = f->t[i];
    }
    f->n = m;
    if (m > 1)
        qsort(f->t, (size_t)f->n, sizeof *f->t, term_cmp);
}

static void add_atom(const tt_expr *e, const tt_linear_hooks *h, tt_linear *f)
{
    if (h && h->atom)
        h->atom(h->ctx, e, f);
    else
        tt_linear_add_term(f, tt_expr_retain((tt_expr *)e), 1);
}

void tt_linear_of(const tt_expr *e, const tt_linear_hooks *h, tt_linear *f)
{
    int64_t v;
    switch (e->kind) {
    case TT_EXPR_INT:
        f->bad |= !add_ok(f->c, e->ival, &f->c);
        return;
    case TT_EXPR_VAR:
        if (h && h->known && h->known(h->ctx, e, &v))
            f->bad |= !add_ok(f->c, v, &f->c);
        else
            tt_linear_add_term(f, tt_expr_retain((tt_expr *)e), 1);
        return;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB: {
        tt_linear b = {0};
        tt_linear_of(e->args[0], h, f);
        tt_linear_of(e->args[1], h, &b);
        tt_linear_merge(f, &b, e->kind == TT_EXPR_ADD ? 1 : -1);
        return;
    }
    case TT_EXPR_MUL: {
        tt_linear x = {0}, y = {0};
        tt_linear_of(e->args[0], h, &x);
        tt_linear_of(e->args[1], h, &y);
        if (y.n == 0 || x.n == 0) {
            tt_linear *var = y.n == 0 ? &x : &y, *k = y.n == 0 ? &y : &x;
            int64_t c = k->c;
            f->bad |= k->bad;
            tt_linear_free(k);
            tt_linear_merge(f, var, c);
            return;
        }
        /* a product of two non-constant forms is an atom */
        tt_linear_free(&x);
        tt_linear_free(&y);
        add_atom(e, h, f);
        return;
    }
    default:
        add_atom(e, h, f);
        return;
    }
}

bool tt_linear_interval(const tt_linear *f, tt_var_bounds_fn bounds, const void *ctx,
                        tt_interval *out)
{
    *out = (tt_interval){f->c, f->c};
    for (int i = 0; i < f->n; i++) {
        tt_interval a, k = {f->t[i].coef, f->t[i].coef}, p;
        if (!tt_expr_interval(f->t[i].atom, bounds, ctx, &a) || !tt_interval_mul(a, k, &p) ||
            !tt_interval_add(*out, p, out))
            return false;
    }
    return true;
}

tt_expr *tt_linear_to_expr(tt_linear *f)
{
    tt_linear_normalize(f);
    tt_expr *acc = NULL;
    for (int i = 0; i < f->n; i++) {
        int64_t c = f->t[i].coef;
        bool neg = acc && c < 0 && c != INT64_MIN;
        if (neg)
            c = -c;
        tt_expr *t = c == 1 ? tt_expr_retain(f->t[i].atom)
                            : tt_expr_mul_s(tt_expr_retain(f->t[i].atom), tt_expr_int(c));
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
        return tt_expr_int(f->c);
    if (f->c > 0)
        return tt_expr_add_s(acc, tt_expr_int(f->c));
    if (f->c < 0 && f->c != INT64_MIN) {
        tt_expr *k = tt_expr_int(-f->c), *s = tt_expr_binary(TT_EXPR_SUB, acc, k);
        tt_expr_release(k);
        tt_expr_release(acc);
        return s;
    }
    if (f->c == INT64_MIN)
        return tt_expr_add_s(acc, tt_expr_int(f->c));
    return acc;
}
