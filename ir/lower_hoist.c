/* Lowering, last step: hoists select conditions out of reduction loops (padding guards). A
 * select whose condition does not use a loop L lying in a reduction is decided once for the
 * whole of L when the condition holds for every iteration below L: the kernel runs
 *     if (condition holds for all inner iterations) L with the select replaced by its true value
 *     else                                          L unchanged
 * so the hot loop of an interior tile reads X unguarded (a broadcast FMA for a padded conv).
 * Before that, border tiles skip the padded taps: tap loops (a conv's ry, rx) whose every update
 * is a no-op where its guard is off run only over the taps the guard can let through,
 *     the nest with ry in [lo, hi), rx in [lo', hi') (from the affine guards; versioned as above)
 * (behind "if (no tap is out for the whole tile) the nest as it is" when a tap loop is unrolled,
 * to keep constant extents there), so a border tile neither computes nor masks the taps that
 * read only padding. */
#include "ir/lower_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/simplify.h"

/* Loops from the candidate loop L down to the statement being rewritten. */
typedef struct {
    int n, cap;
    tt_var_range *r;
    int plain; /* > 0: inside a nest of tap loops already split; nothing more to tighten */
    int slow;  /* > 0: inside the slow copy of a versioned loop */
    const tt_expr **failed; /* the checks of the versions whose slow copy this is */
    int nfailed, capfailed;
} path;

/* The checks collected while rewriting L's body. */
typedef struct {
    int n, cap;
    tt_expr **e; /* owned */
    bool fail;   /* out of memory */
} checks;

static bool on_path(const path *p, const tt_expr *v)
{
    for (int i = 0; i < p->n; i++)
        if (p->r[i].var == v)
            return true;
    return false;
}

static bool on_path_pred(const void *p, const tt_expr *v)
{
    return on_path(p, v);
}
static bool off_path(const void *p, const tt_expr *v)
{
    return !on_path(p, v);
}

/* Whether e uses a variable of the path (inner = true) or a variable off it (inner = false). */
static bool uses(const path *p, const tt_expr *e, bool inner)
{
    return tt_expr_any_var(e, inner ? on_path_pred : off_path, p);
}

static bool is_index(const tt_expr *e)
{
    return e->dtype.code == kDLInt && e->dtype.bits == 64 && e->dtype.lanes == 1;
}

/* Splits the terms of sign*e into the inner part (only path variables) and the outer part (no
 * path variable), each added into *in / *out (new references). False when a term mixes both. */
static bool split_terms(const path *p, const tt_expr *e, int64_t sign, tt_expr **in, tt_expr **out)
{
    if (e->kind == TT_EXPR_ADD || e->kind == TT_EXPR_SUB)
        return split_terms(p, e->args[0], sign, in, out) &&
               split_terms(p, e->args[1], e->kind == TT_EXPR_SUB ? -sign : sign, in, out);
    bool inner = uses(p, e, true);
    if (inner && uses(p, e, false))
        return false;
    tt_expr **acc = inner ? in : out;
    tt_expr *t = tt_expr_retain((tt_expr *)e);
    if (sign != 1)
        t = tt_expr_mul_s(t, tt_expr_int(sign));
    *acc = t ? tt_expr_add_s(*acc, t) : NULL;
    return *acc != NULL;
}

/* A condition over outer variables only that implies cond for every value of the path's
 * variables, or NULL (with no error) when none is found. */
static tt_expr *forall(const path *p, const tt_expr *cond)
{
    if (tt_expr_loads(cond))
        return NULL;
    if (!uses(p, cond, true))
        return tt_expr_retain((tt_expr *)cond);
    if (cond->kind == TT_EXPR_AND) {
        tt_expr *a = forall(p, cond->args[0]), *b = a ? forall(p, cond->args[1]) : NULL;
        tt_expr *r = b ? tt_expr_binary(TT_EXPR_AND, a, b) : NULL;
        tt_expr_release(a);
        tt_expr_release(b);
        return r;
    }
    tt_expr_kind k = cond->kind;
    if ((k != TT_EXPR_LT && k != TT_EXPR_LE && k != TT_EXPR_GT && k != TT_EXPR_GE) ||
        !is_index(cond->args[0]) || !is_index(cond->args[1]))
        return NULL;
    /* d = a - b in canonical affine form: inner + outer; d OP 0 for all inner values follows
     * from outer + min(inner) OP 0 (>, >=) or outer + max(inner) OP 0 (<, <=). */
    tt_expr *diff = tt_expr_binary(TT_EXPR_SUB, cond->args[0], cond->args[1]);
    tt_expr *d = diff ? tt_simplify(diff) : NULL;
    tt_expr_release(diff);
    if (!d)
        return NULL;
    tt_expr *in = tt_expr_int(0), *out = tt_expr_int(0), *r = NULL;
    int64_t lo, hi;
    if (in && out && split_terms(p, d, 1, &in, &out) && tt_expr_bounds(in, p->n, p->r, &lo, &hi)) {
        int64_t bound = (k == TT_EXPR_GT || k == TT_EXPR_GE) ? lo : hi;
        tt_expr *zero = tt_expr_int(-bound);
        r = zero ? tt_expr_binary(k, out, zero) : NULL;
        tt_expr_release(zero);
    }
    tt_expr_release(d);
    tt_expr_release(in);
    tt_expr_release(out);
    return r;
}

static void add_check(checks *c, tt_expr *e)
{
    for (int i = 0; i < c->n; i++)
        if (tt_expr_equal(c->e[i], e)) {
            tt_expr_release(e);
            return;
        }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        tt_expr **ne = realloc(c->e, (size_t)cap * sizeof *ne);
        if (!ne) {
            tt_expr_release(e);
            c->fail = true;
            return;
        }
        c->e = ne;
        c->cap = cap;
    }
    c->e[c->n++] = e;
}

typedef struct {
    const path *p;
    checks *c;
} rewrite_ctx;

/* e with each select decided for the whole of loop L (path->r[0]) replaced by its true value. */
static tt_expr *rewrite_expr(const tt_expr *e, void *ctx)
{
    const rewrite_ctx *w = ctx;
    if (e->kind == TT_EXPR_SELECT && !tt_expr_uses_var(e->args[0], w->p->r[0].var)) {
        tt_expr *ok = forall(w->p, e->args[0]);
        if (ok) {
            add_check(w->c, ok);
            return rewrite_expr(e->args[1], ctx);
        }
    }
    tt_expr *r = tt_expr_map_args(e, rewrite_expr, ctx);
    w->c->fail |= !r;
    return r;
}

/* An index that some loop of anc does not move: the store accumulates over that loop. */
static bool reduces_over(const path *anc, const tt_expr *index)
{
    for (int i = 0; i < anc->n; i++)
        if (!tt_expr_uses_var(index, anc->r[i].var))
            return true;
    return false;
}

static bool push(path *p, const tt_expr *var, int64_t hi)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        tt_var_range *r = realloc(p->r, (size_t)cap * sizeof *r);
        if (!r)
            return false;
        p->r = r;
        p->cap = cap;
    }
    p->r[p->n++] = (tt_var_range){var, 0, hi};
    return true;
}

/* The most iterations loop s below L runs: its constant extent, or a bound of a variable one (a
 * tightened tap loop) over the loops around it. False when unbounded or empty. */
static bool inner_extent(const path *p, const path *anc, const tt_stmt *s, int64_t *ext)
{
    if (tt_expr_is_const(s->extent, ext))
        return *ext >= 1;
    tt_var_range *r = malloc((size_t)(anc->n + p->n + 1) * sizeof *r);
    if (!r)
        return false;
    memcpy(r, anc->r, (size_t)anc->n * sizeof *r);
    memcpy(r + anc->n, p->r, (size_t)p->n * sizeof *r);
    int64_t lo;
    bool ok = tt_expr_bounds(s->extent, anc->n + p->n, r, &lo, ext) && *ext >= 1;
    free(r);
    return ok;
}

/* s (below L) with the selects of accumulating stores decided for the whole of L replaced. */
static tt_stmt *rewrite_stmt(path *p, const path *anc, checks *c, tt_stmt *s)
{
    int64_t ext;
    tt_stmt *r = NULL;
    switch (s->kind) {
    case TT_STMT_FOR: {
        /* a loop of unbounded extent cannot be quantified over: left as it is */
        if (!inner_extent(p, anc, s, &ext) || !push(p, s->var, ext - 1))
            return tt_stmt_retain(s);
        tt_stmt *b = rewrite_stmt(p, anc, c, s->body);
        p->n--;
        r = b ? tt_stmt_for(s->var, s->extent, s->for_kind, b) : NULL;
        tt_stmt_release(b);
        return r;
    }
    case TT_STMT_SEQ: {
        tt_stmt **parts = calloc((size_t)s->nstmts + 1, sizeof *parts);
        int n = 0;
        while (parts && n < s->nstmts && (parts[n] = rewrite_stmt(p, anc, c, s->stmts[n])))
            n++;
        r = parts && n == s->nstmts ? tt_stmt_seq(n, parts) : NULL;
        for (int i = 0; i < n; i++)
            tt_stmt_release(parts[i]);
        free(parts);
        return r;
    }
    case TT_STMT_IF: {
        tt_stmt *t = rewrite_stmt(p, anc, c, s->then_s);
        tt_stmt *e = t && s->else_s ? rewrite_stmt(p, anc, c, s->else_s) : NULL;
        r = t && (e || !s->else_s) ? tt_stmt_if(s->cond, t, e) : NULL;
        tt_stmt_release(t);
        tt_stmt_release(e);
        return r;
    }
    case TT_STMT_ALLOC: {
        tt_stmt *b = rewrite_stmt(p, anc, c, s->body);
        r = b ? tt_stmt_alloc(s->buffer, b) : NULL;
        tt_stmt_release(b);
        return r;
    }
    case TT_STMT_STORE: {
        if (!reduces_over(anc, s->index))
            return tt_stmt_retain(s);
        tt_expr *v = rewrite_expr(s->value, &(rewrite_ctx){p, c});
        r = v ? (v == s->value ? tt_stmt_retain(s) : tt_stmt_store(s->buffer, s->index, v)) : NULL;
        tt_expr_release(v);
        return r;
    }
    default:
        return tt_stmt_retain(s);
    }
}

static tt_stmt *hoist(path *anc, tt_stmt *s);

/* The most iterations loop s runs: its constant extent, or a bound of it over the enclosing
 * loops (a tightened tap loop). False when nothing bounds it or it runs none. */
static bool loop_extent(const path *anc, const tt_stmt *s, int64_t *ext)
{
    int64_t lo;
    if (tt_expr_is_const(s->extent, ext))
        return *ext >= 1;
    return tt_expr_bounds(s->extent, anc->n, anc->r, &lo, ext) && *ext >= 1;
}

/* Whether cond is known false here: a constant, or the check of an enclosing version whose
 * slow copy this is (an inner loop over the same selects would ask the same question again). */
static bool known_false(const path *anc, const tt_expr *cond)
{
    int64_t v;
    if (tt_expr_is_const(cond, &v))
        return v == 0;
    for (int i = 0; i < anc->nfailed; i++)
        if (tt_expr_equal(anc->failed[i], cond))
            return true;
    return false;
}

/* s with its body visited (L = s already on anc). */
static tt_stmt *visit_body(path *anc, tt_stmt *s)
{
    tt_stmt *b = hoist(anc, s->body);
    tt_stmt *r = b ? tt_stmt_for(s->var, s->extent, s->for_kind, b) : NULL;
    tt_stmt_release(b);
    return r;
}

/* The slow copy of L behind a failed check: its body visited once more, so that a border tile
 * still gets the per-tap versions and skipped taps of its inner loops (one level of slow copies:
 * code size stays linear in the depth). */
static tt_stmt *slow_copy(path *anc, tt_stmt *s, tt_expr *cond)
{
    if (anc->slow > 0)
        return tt_stmt_retain(s);
    if (anc->nfailed == anc->capfailed) {
        int cap = anc->capfailed ? 2 * anc->capfailed : 4;
        const tt_expr **f = realloc(anc->failed, (size_t)cap * sizeof *f);
        if (!f)
            return NULL;
        anc->failed = f;
        anc->capfailed = cap;
    }
    anc->failed[anc->nfailed++] = cond;
    anc->slow++;
    tt_stmt *r = visit_body(anc, s);
    anc->slow--;
    anc->nfailed--;
    return r;
}

static bool skips_whole(const tt_stmt *s, const tt_expr *check);

/* Loop L: versioned on the checks its selects need, then its body (the fast one) visited. */
static tt_stmt *version_for(path *anc, tt_stmt *s)
{
    int64_t ext;
    if (!loop_extent(anc, s, &ext) || !push(anc, s->var, ext - 1))
        return tt_stmt_retain(s);
    path p = {0};
    checks c = {0};
    tt_stmt *fast = NULL, *r = NULL;
    if (push(&p, s->var, ext - 1))
        fast = rewrite_stmt(&p, anc, &c, s->body);
    tt_expr *cond = NULL;
    for (int i = 0; fast && i < c.n; i++) {
        tt_expr *a = cond ? tt_expr_binary(TT_EXPR_AND, cond, c.e[i]) : tt_expr_retain(c.e[i]);
        tt_expr_release(cond);
        if (!(cond = a))
            break;
    }
    if (cond) {
        tt_expr *sc = tt_simplify_ranged(cond, anc->n, anc->r);
        tt_expr_release(cond);
        cond = sc;
    }
    if (fast && !c.fail && cond && known_false(anc, cond)) {
        /* never decided here (the whole image, say): inner loops may decide it */
        r = visit_body(anc, s);
    } else if (fast && !c.fail && (cond || c.n == 0)) {
        int64_t v;
        bool always = !cond || (tt_expr_is_const(cond, &v) && v != 0);
        tt_stmt *b = hoist(anc, fast);
        tt_stmt *f = b ? tt_stmt_for(s->var, s->extent, s->for_kind, b) : NULL;
        /* where the one guard of every update is off, L does nothing: no slow copy */
        bool none = !always && c.n == 1 && skips_whole(s, c.e[0]);
        tt_stmt *slow = f && !always && !none ? slow_copy(anc, s, cond) : NULL;
        r = slow          ? tt_stmt_if(cond, f, slow)
            : none        ? (f ? tt_stmt_if(cond, f, NULL) : NULL)
            : f && always ? tt_stmt_retain(f)
                          : NULL;
        tt_stmt_release(b);
        tt_stmt_release(f);
        tt_stmt_release(slow);
    }
    anc->n--;
    tt_expr_release(cond);
    tt_stmt_release(fast);
    for (int i = 0; i < c.n; i++)
        tt_expr_release(c.e[i]);
    free(c.e);
    free(p.r);
    return r;
}

/* ---- border tiles: tap loops tightened to the taps inside the input ---- */

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
        if (!tt_expr_is_const(s->extent, &ext) || (ext >= 1 && !push(&t->inner, s->var, ext - 1)))
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

/* Whether every update in loop s is a no-op when check is off (check being their one guard,
 * which does not move inside s): then s may be skipped whole. */
static bool skips_whole(const tt_stmt *s, const tt_expr *check)
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
        !is_index(k->args[0]) || !is_index(k->args[1]))
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
        } else if (uses(&t->inner, term->atom, true)) {
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
    if (cond->kind == TT_EXPR_AND)
        return bound_conjuncts(t, cond->args[0], lo, hi) |
               bound_conjuncts(t, cond->args[1], lo, hi);
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

/* The taps of loop s (serial or unrolled, of constant extent) that some guard lets through, as
 * [*lo, *hi) over the variables around it; false (nothing set) when no guard bounds them. */
static bool tap_range(const path *anc, const tt_stmt *s, tap_loop *out)
{
    tt_expr **lo = &out->lo, **hi = &out->hi;
    int64_t ext, l, h;
    if ((s->for_kind != TT_FOR_SERIAL && s->for_kind != TT_FOR_UNROLLED) ||
        !tt_expr_is_const(s->extent, &ext) || ext < 1)
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

/* s with f applied to each of its expressions. New reference. */
static tt_stmt *map_stmt(const tt_stmt *s, tt_expr *(*f)(const tt_expr *, void *), void *ctx)
{
    tt_stmt *r = NULL, *a = NULL, *b = NULL;
    tt_expr *x = NULL, *y = NULL;
    switch (s->kind) {
    case TT_STMT_FOR:
        x = f(s->extent, ctx);
        a = map_stmt(s->body, f, ctx);
        r = x && a ? tt_stmt_for(s->var, x, s->for_kind, a) : NULL;
        break;
    case TT_STMT_SEQ: {
        tt_stmt **parts = calloc((size_t)s->nstmts + 1, sizeof *parts);
        int k = 0;
        while (parts && k < s->nstmts && (parts[k] = map_stmt(s->stmts[k], f, ctx)))
            k++;
        r = parts && k == s->nstmts ? tt_stmt_seq(k, parts) : NULL;
        for (int i = 0; i < k; i++)
            tt_stmt_release(parts[i]);
        free(parts);
        break;
    }
    case TT_STMT_STORE:
        x = f(s->index, ctx);
        y = f(s->value, ctx);
        r = x && y ? tt_stmt_store(s->buffer, x, y) : NULL;
        break;
    case TT_STMT_IF:
        x = f(s->cond, ctx);
        a = map_stmt(s->then_s, f, ctx);
        b = s->else_s ? map_stmt(s->else_s, f, ctx) : NULL;
        r = x && a && (b || !s->else_s) ? tt_stmt_if(x, a, b) : NULL;
        break;
    case TT_STMT_ALLOC:
        a = map_stmt(s->body, f, ctx);
        r = a ? tt_stmt_alloc(s->buffer, a) : NULL;
        break;
    default:
        r = tt_stmt_retain((tt_stmt *)s);
        break;
    }
    tt_expr_release(x);
    tt_expr_release(y);
    tt_stmt_release(a);
    tt_stmt_release(b);
    return r;
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
    tt_stmt *body = ok ? map_stmt(t[n - 1].loop->body, drop_implied, &d) : NULL;
    tt_stmt *r = body ? map_stmt(body, subst_expr, &(subst_ctx){m, vars, values}) : NULL;
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

/* Loop s and the loops nested right inside it (serial or unrolled) whose taps a guard bounds:
 *     if (every tap of each can be in range) s, versioned       (only when one is unrolled)
 *     else                                   s with those loops tightened, versioned
 * Sets *done false (and returns NULL) when no loop of the nest is bounded. */
static tt_stmt *tighten(path *anc, tt_stmt *s, bool *done)
{
    tap_loop t[MAX_TAP_LOOPS];
    int n = 0, bounded = 0;
    *done = false;
    int64_t ext;
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
    *done = true;
    tt_expr *all = NULL;
    for (int i = 0; i < n; i++) {
        if (!t[i].lo)
            continue;
        tt_expr *full =
            bin_s(TT_EXPR_AND, bin_s(TT_EXPR_LE, tt_expr_retain(t[i].lo), tt_expr_int(0)),
                  bin_s(TT_EXPR_GE, tt_expr_retain(t[i].hi), tt_expr_retain(t[i].loop->extent)));
        all = all ? bin_s(TT_EXPR_AND, all, full) : full;
    }
    /* Serial tap loops lose nothing to bounds known only at run time, and the versions per tap
     * inside give interior tiles their unguarded code: the tightened nest serves every tile.
     * Unrolled ones keep a copy of constant extents for the tiles where every tap can be in. */
    bool unrolled = false;
    for (int i = 0; i < n; i++)
        unrolled |= t[i].lo && t[i].loop->for_kind == TT_FOR_UNROLLED;
    tt_stmt *border = all ? tightened(t, n) : NULL, *r = NULL;
    anc->plain++;
    tt_stmt *a = border && unrolled ? version_for(anc, s) : NULL;
    tt_stmt *b = border && (a || !unrolled) ? version_for(anc, border) : NULL;
    anc->plain--;
    r = b && a ? tt_stmt_if(all, a, b) : b ? tt_stmt_retain(b) : NULL;
    tt_stmt_release(a);
    tt_stmt_release(b);
    tt_stmt_release(border);
    tt_expr_release(all);
    for (int i = 0; i < n; i++) {
        tt_expr_release(t[i].lo);
        tt_expr_release(t[i].hi);
        tt_expr_release(t[i].var);
    }
    return r;
}

/* Loop L: a nest of tap loops split into interior and border versions, then versioned on its
 * selects' checks. */
static tt_stmt *hoist_for(path *anc, tt_stmt *s)
{
    bool done = false;
    tt_stmt *r = anc->plain ? NULL : tighten(anc, s, &done);
    return done ? r : version_for(anc, s);
}

static tt_stmt *hoist(path *anc, tt_stmt *s)
{
    tt_stmt *r = NULL;
    switch (s->kind) {
    case TT_STMT_FOR:
        return hoist_for(anc, s);
    case TT_STMT_SEQ: {
        tt_stmt **parts = calloc((size_t)s->nstmts + 1, sizeof *parts);
        int n = 0;
        while (parts && n < s->nstmts && (parts[n] = hoist(anc, s->stmts[n])))
            n++;
        r = parts && n == s->nstmts ? tt_stmt_seq(n, parts) : NULL;
        for (int i = 0; i < n; i++)
            tt_stmt_release(parts[i]);
        free(parts);
        return r;
    }
    case TT_STMT_IF: {
        tt_stmt *t = hoist(anc, s->then_s);
        tt_stmt *e = t && s->else_s ? hoist(anc, s->else_s) : NULL;
        r = t && (e || !s->else_s) ? tt_stmt_if(s->cond, t, e) : NULL;
        tt_stmt_release(t);
        tt_stmt_release(e);
        return r;
    }
    case TT_STMT_ALLOC: {
        tt_stmt *b = hoist(anc, s->body);
        r = b ? tt_stmt_alloc(s->buffer, b) : NULL;
        tt_stmt_release(b);
        return r;
    }
    default:
        return tt_stmt_retain(s);
    }
}

tt_stmt *lw_hoist_selects(tt_stmt *s)
{
    path anc = {0};
    tt_stmt *r = hoist(&anc, s);
    free(anc.r);
    free(anc.failed);
    if (!r)
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    return r;
}
