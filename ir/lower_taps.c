/* Lowering, last step, border tiles (called by ir/lower_hoist.c): the tap loops of a padded window
 * (a conv's ry, rx) whose every update is a no-op where its guard is off run only over the taps
 * the guard can let through, from its affine conjuncts in the tap variable, and the conjuncts
 * those ranges imply leave the selects: a border tile neither computes nor masks the taps that
 * read only padding, for any stride, dilation and padding. */
#include "ir/lower_hoist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/simplify.h"

typedef lw_path path;

static bool off_path(const void *p, const tt_expr *v)
{
    return !lw_path_has(p, v);
}

static bool is_value(const tt_expr *e, double v)
{
    return (e->kind == TT_EXPR_FLOAT && e->fval == v) ||
           (e->kind == TT_EXPR_INT && (double)e->ival == v);
}

/* The guard of a padded read that is a factor of t: select(cond, x, 0) alone or multiplied. */
static const tt_expr *zero_factor(const tt_expr *t)
{
    if (t->kind == TT_EXPR_SELECT && is_value(t->args[2], 0))
        return t->args[0];
    if (t->kind != TT_EXPR_MUL)
        return NULL;
    const tt_expr *c = zero_factor(t->args[0]);
    return c ? c : zero_factor(t->args[1]);
}

/* The condition without which store s leaves its buffer as it is, so that an iteration where it
 * is off may be skipped: Y[i] = Y[i] + ... * select(cond, x, 0) * ... (a sum), or
 * Y[i] = max(Y[i], select(cond, x, -inf)) (a max pool's padding is -inf, skipping is right; a
 * zero would not be), min with +inf. NULL for any other store. Borrowed. */
static const tt_expr *skip_cond(const tt_stmt *s)
{
    const tt_expr *v = s->value;
    if (v->kind != TT_EXPR_ADD && v->kind != TT_EXPR_MAX && v->kind != TT_EXPR_MIN)
        return NULL;
    for (int side = 0; side < 2; side++) {
        const tt_expr *acc = v->args[side], *t = v->args[1 - side];
        if (acc->kind != TT_EXPR_LOAD || acc->buffer != s->buffer ||
            !tt_expr_equal(acc->args[0], s->index))
            continue;
        if (v->kind == TT_EXPR_ADD)
            return zero_factor(t);
        double id = v->kind == TT_EXPR_MAX ? -INFINITY : INFINITY;
        if (t->kind == TT_EXPR_SELECT && is_value(t->args[2], id))
            return t->args[0];
    }
    return NULL;
}

#define MAX_EXACT 8

/* What a tap loop's body holds: the skip conditions of its stores and the ranges of its loops. */
typedef struct {
    const tt_expr *var; /* the tap loop's */
    bool any_index;     /* stores may move with var (skipping var's whole loop, not a tap) */
    const tt_expr *exact[MAX_EXACT]; /* conjuncts its range implies (no inner variable) */
    int nexact;
    path inner; /* loops inside it with a known extent */
    const tt_expr **conds;
    int n, cap;
    bool bad; /* a store that cannot be skipped, or out of memory */
} taps;

static void taps_collect(taps *t, const tt_stmt *s)
{
    int64_t ext;
    switch (s->kind) {
    case TT_STMT_FOR:
        /* a loop of unknown extent: its variable would pass for an outer one in a bound */
        if (!tt_expr_is_const(s->extent, &ext) ||
            (ext >= 1 && !lw_path_push(&t->inner, s->var, ext - 1)))
            t->bad = true;
        taps_collect(t, s->body);
        break;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            taps_collect(t, s->stmts[i]);
        break;
    case TT_STMT_IF:
        taps_collect(t, s->then_s);
        if (s->else_s)
            taps_collect(t, s->else_s);
        break;
    case TT_STMT_STORE: {
        const tt_expr *c = skip_cond(s);
        if (!c || (!t->any_index && tt_expr_uses_var(s->index, t->var))) {
            t->bad = true;
            break;
        }
        if (t->n == t->cap) {
            int cap = t->cap ? 2 * t->cap : 8;
            const tt_expr **nc = realloc(t->conds, (size_t)cap * sizeof *nc);
            if (!nc) {
                t->bad = true;
                break;
            }
            t->conds = nc;
            t->cap = cap;
        }
        t->conds[t->n++] = c;
        break;
    }
    default:
        t->bad = true; /* an ALLOC: its initialisation is no update */
        break;
    }
}

bool lw_skips_whole(const tt_stmt *s, const tt_expr *check)
{
    taps t = {.var = s->var, .any_index = true};
    taps_collect(&t, s->body);
    bool ok = !t.bad && t.n > 0;
    for (int i = 0; ok && i < t.n; i++)
        ok = tt_expr_equal(t.conds[i], check);
    free(t.inner.r);
    free(t.conds);
    return ok;
}

/* Whether k is one of the conjuncts of cond. */
static bool has_conjunct(const tt_expr *cond, const tt_expr *k)
{
    if (cond->kind == TT_EXPR_AND)
        return has_conjunct(cond->args[0], k) || has_conjunct(cond->args[1], k);
    return tt_expr_equal(cond, k);
}

static tt_expr *bin_s(tt_expr_kind kind, tt_expr *a, tt_expr *b)
{
    tt_expr *r = a && b ? tt_expr_binary(kind, a, b) : NULL;
    tt_expr_release(a);
    tt_expr_release(b);
    return r;
}

/* The bound on the tap variable v that conjunct k (int64 sides) gives: every tap where k holds
 * for some iteration of the inner loops has v >= *lo (or v < *hi). With k as a*v + b >= 0, b
 * free of v: b takes its largest value over the inner loops, then v >= ceil(-b / a) for a > 0,
 * v <= floor(b / -a) for a < 0. False when k is not of that form (a variable coefficient, an
 * inner variable mixed with an outer one, an unbounded inner loop). */
static bool tap_bound(const taps *t, const tt_expr *k, tt_expr **lo, tt_expr **hi, bool *exact)
{
    *exact = true;
    tt_expr_kind op = k->kind;
    if ((op != TT_EXPR_LT && op != TT_EXPR_LE && op != TT_EXPR_GT && op != TT_EXPR_GE) ||
        !lw_is_index(k->args[0]) || !lw_is_index(k->args[1]))
        return false;
    bool ge = op == TT_EXPR_GT || op == TT_EXPR_GE;
    tt_linear f = {0}, g = {0};
    tt_linear_of(k->args[ge ? 0 : 1], NULL, &f);
    tt_linear_of(k->args[ge ? 1 : 0], NULL, &g);
    tt_linear_merge(&f, &g, -1); /* f = big side - small side >= 0 (> 0: >= 1) */
    if (op == TT_EXPR_GT || op == TT_EXPR_LT)
        f.c -= 1;
    int64_t a = 0;
    bool ok = !f.bad;
    for (int i = 0; ok && i < f.n; i++) {
        tt_linear_term *term = &f.t[i];
        int64_t blo, bhi;
        if (term->atom == t->var) {
            ok = !__builtin_add_overflow(a, term->coef, &a);
            term->coef = 0;
        } else if (tt_expr_uses_var(term->atom, t->var)) {
            ok = false;
        } else if (lw_path_uses(&t->inner, term->atom, true)) {
            /* only inner variables: their largest contribution, as a constant */
            *exact = false;
            ok = !tt_expr_any_var(term->atom, off_path, &t->inner) &&
                 tt_expr_bounds(term->atom, t->inner.n, t->inner.r, &blo, &bhi) &&
                 !__builtin_mul_overflow(term->coef, term->coef > 0 ? bhi : blo, &bhi) &&
                 !__builtin_add_overflow(f.c, bhi, &f.c);
            term->coef = 0;
        }
    }
    tt_expr *b = ok && a != 0 ? tt_linear_to_expr(&f) : NULL;
    tt_linear_free(&f);
    if (!b)
        return false;
    if (a > 0) /* ceil(-b / a) = floor((a - 1 - b) / a) */
        *lo = bin_s(TT_EXPR_DIV, bin_s(TT_EXPR_SUB, tt_expr_int(a - 1), b), tt_expr_int(a));
    else
        *hi = bin_s(TT_EXPR_ADD, bin_s(TT_EXPR_DIV, b, tt_expr_int(-a)), tt_expr_int(1));
    return true;
}

/* Narrows [*lo, *hi) by every conjunct of cond that bounds the tap variable and that the guards
 * of all stores share. */
static bool bound_conjuncts(taps *t, const tt_expr *cond, tt_expr **lo, tt_expr **hi)
{
    if (cond->kind == TT_EXPR_AND) { /* both sides narrow, whatever the first found */
        bool a = bound_conjuncts(t, cond->args[0], lo, hi);
        bool b = bound_conjuncts(t, cond->args[1], lo, hi);
        return a || b;
    }
    if (!tt_expr_uses_var(cond, t->var))
        return false;
    for (int i = 1; i < t->n; i++)
        if (!has_conjunct(t->conds[i], cond))
            return false;
    tt_expr *l = NULL, *h = NULL;
    bool exact;
    if (!tap_bound(t, cond, &l, &h, &exact))
        return false;
    if (exact && t->nexact < MAX_EXACT)
        t->exact[t->nexact++] = cond;
    if (l)
        *lo = bin_s(TT_EXPR_MAX, *lo, l);
    if (h)
        *hi = bin_s(TT_EXPR_MIN, *hi, h);
    return *lo && *hi;
}

/* One loop of a nest of tap loops and the taps it keeps, [lo, hi) (NULL: all). */
typedef struct {
    const tt_stmt *loop;
    tt_expr *lo, *hi;
    tt_expr *var;                    /* the tightened loop's variable, counting from lo */
    const tt_expr *exact[MAX_EXACT]; /* guard conjuncts that [lo, hi) implies (borrowed) */
    int nexact;
} tap_loop;

/* The taps of loop s (serial, of constant extent) that some guard lets through, as [*lo, *hi)
 * over the variables around it; false (nothing set) when no guard bounds them. An unrolled tap
 * loop keeps its taps: with bounds known only at run time LLVM unrolls it with remainder loops,
 * and a conv whose r and s were unrolled around a 14-wide tile took 17 s to compile instead of
 * 1.2 s. */
static bool tap_range(const path *anc, const tt_stmt *s, tap_loop *out)
{
    tt_expr **lo = &out->lo, **hi = &out->hi;
    int64_t ext, l, h;
    if (s->for_kind != TT_FOR_SERIAL || !tt_expr_is_const(s->extent, &ext) || ext < 1)
        return false;
    taps t = {.var = s->var};
    taps_collect(&t, s->body);
    tt_expr *a = tt_expr_int(0), *b = tt_expr_int(ext);
    bool any = !t.bad && t.n > 0 && a && b && bound_conjuncts(&t, t.conds[0], &a, &b) && a && b;
    free(t.inner.r);
    free(t.conds);
    memcpy(out->exact, t.exact, sizeof t.exact);
    out->nexact = t.nexact;
    *lo = any ? tt_simplify_ranged(a, anc->n, anc->r) : NULL;
    *hi = any ? tt_simplify_ranged(b, anc->n, anc->r) : NULL;
    tt_expr_release(a);
    tt_expr_release(b);
    /* every tap whatever the outer loops: nothing to tighten */
    if (*lo && *hi &&
        !(tt_expr_is_const(*lo, &l) && l <= 0 && tt_expr_is_const(*hi, &h) && h >= ext))
        return true;
    tt_expr_release(*lo);
    tt_expr_release(*hi);
    *lo = *hi = NULL;
    return false;
}

typedef struct {
    int n;
    tt_expr *const *vars, *const *values;
} subst_ctx;

static tt_expr *subst_expr(const tt_expr *e, void *ctx)
{
    const subst_ctx *x = ctx;
    return tt_expr_substitute(e, x->n, x->vars, x->values);
}

/* Guard conjuncts known to hold in a tightened nest. */
typedef struct {
    const tt_expr *const *k;
    int n;
} implied;

/* cond without the implied conjuncts; NULL with *all set when none is left (NULL alone: out of
 * memory). */
static tt_expr *drop_conjuncts(const tt_expr *cond, const implied *d, bool *all)
{
    *all = false;
    if (cond->kind == TT_EXPR_AND) {
        bool all_a, all_b;
        tt_expr *a = drop_conjuncts(cond->args[0], d, &all_a);
        tt_expr *b = drop_conjuncts(cond->args[1], d, &all_b);
        *all = all_a && all_b;
        if (all_a || all_b) {
            tt_expr_release(all_a ? a : b);
            return all_a ? b : a;
        }
        return bin_s(TT_EXPR_AND, a, b);
    }
    for (int i = 0; i < d->n; i++)
        if (tt_expr_equal(cond, d->k[i])) {
            *all = true;
            return NULL;
        }
    return tt_expr_retain((tt_expr *)cond);
}

/* e with the implied conjuncts of its selects' conditions dropped (a select left with none is
 * its true value): a tightened nest reads its in-range taps unguarded. */
static tt_expr *drop_implied(const tt_expr *e, void *ctx)
{
    if (e->kind == TT_EXPR_SELECT) {
        bool all;
        tt_expr *c = drop_conjuncts(e->args[0], ctx, &all);
        if (all)
            return drop_implied(e->args[1], ctx);
        tt_expr *a = c ? drop_implied(e->args[1], ctx) : NULL;
        tt_expr *b = a ? drop_implied(e->args[2], ctx) : NULL;
        tt_expr *r = b ? tt_expr_select(c, a, b) : NULL;
        tt_expr_release(c);
        tt_expr_release(a);
        tt_expr_release(b);
        return r;
    }
    return tt_expr_map_args(e, drop_implied, ctx);
}

#define MAX_TAP_LOOPS 8

/* The nest from loop s down with its tap loops tightened: each keeps its variable's name and runs
 * from 0 to hi - lo, its old variable being the new one + lo. New reference. */
static tt_stmt *tightened(tap_loop *t, int n)
{
    tt_expr *vars[MAX_TAP_LOOPS], *values[MAX_TAP_LOOPS];
    int m = 0;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        if (!t[i].lo)
            continue;
        t[i].var = tt_expr_var(t[i].loop->var->name, TT_DT_I64);
        vars[m] = t[i].loop->var;
        values[m] = t[i].var ? tt_expr_binary(TT_EXPR_ADD, t[i].var, t[i].lo) : NULL;
        ok &= values[m++] != NULL;
    }
    const tt_expr *exact[MAX_TAP_LOOPS * MAX_EXACT];
    implied d = {exact, 0};
    for (int i = 0; i < n; i++)
        for (int j = 0; t[i].lo && j < t[i].nexact; j++)
            exact[d.n++] = t[i].exact[j];
    tt_stmt *body = ok ? lw_map_exprs(t[n - 1].loop->body, drop_implied, &d) : NULL;
    tt_stmt *r = body ? lw_map_exprs(body, subst_expr, &(subst_ctx){m, vars, values}) : NULL;
    tt_stmt_release(body);
    for (int i = n - 1; r && i >= 0; i--) {
        const tt_stmt *l = t[i].loop;
        tt_expr *ext =
            t[i].lo ? bin_s(TT_EXPR_MAX,
                            bin_s(TT_EXPR_SUB, tt_expr_retain(t[i].hi), tt_expr_retain(t[i].lo)),
                            tt_expr_int(0))
                    : tt_expr_retain(l->extent);
        tt_stmt *f = ext ? tt_stmt_for(t[i].lo ? t[i].var : l->var, ext, l->for_kind, r) : NULL;
        tt_expr_release(ext);
        tt_stmt_release(r);
        r = f;
    }
    for (int i = 0; i < m; i++)
        tt_expr_release(values[i]);
    return r;
}

/* Whether e uses the variable of one of the loops t[0..n). */
static bool uses_tap_var(const tap_loop *t, int n, const tt_expr *e)
{
    for (int i = 0; i < n; i++)
        if (tt_expr_uses_var(e, t[i].loop->var))
            return true;
    return false;
}

tt_stmt *lw_tap_border(const lw_path *anc, const tt_stmt *s, tt_expr **full)
{
    tap_loop t[MAX_TAP_LOOPS];
    int n = 0, bounded = 0;
    int64_t ext;
    *full = NULL;
    for (const tt_stmt *l = s; l->kind == TT_STMT_FOR && n < MAX_TAP_LOOPS &&
                               (l->for_kind == TT_FOR_SERIAL || l->for_kind == TT_FOR_UNROLLED) &&
                               tt_expr_is_const(l->extent, &ext);
         l = l->body) {
        t[n] = (tap_loop){.loop = l};
        /* a bound that moves with a loop of the nest cannot be decided above it */
        if (tap_range(anc, l, &t[n]) &&
            (uses_tap_var(t, n, t[n].lo) || uses_tap_var(t, n, t[n].hi))) {
            tt_expr_release(t[n].lo);
            tt_expr_release(t[n].hi);
            t[n].lo = t[n].hi = NULL;
        }
        bounded += t[n++].lo != NULL;
    }
    if (bounded == 0)
        return NULL;
    tt_expr *all = NULL;
    bool oom = false;
    for (int i = 0; i < n; i++) {
        if (!t[i].lo)
            continue;
        tt_expr *in =
            bin_s(TT_EXPR_AND, bin_s(TT_EXPR_LE, tt_expr_retain(t[i].lo), tt_expr_int(0)),
                  bin_s(TT_EXPR_GE, tt_expr_retain(t[i].hi), tt_expr_retain(t[i].loop->extent)));
        all = all ? bin_s(TT_EXPR_AND, all, in) : in;
        oom |= !all;
    }
    tt_stmt *r = all && !oom ? tightened(t, n) : NULL;
    for (int i = 0; i < n; i++) {
        tt_expr_release(t[i].lo);
        tt_expr_release(t[i].hi);
        tt_expr_release(t[i].var);
    }
    /* out of memory: *full set, no nest */
    *full = all ? all : tt_expr_int(0);
    return r;
}
