/* Lowering, last step: hoists select conditions out of reduction loops (padding guards). A
 * select whose condition does not use a loop L lying in a reduction is decided once for the
 * whole of L when the condition holds for every iteration below L: the kernel runs
 *     if (condition holds for all inner iterations) L with the select replaced by its true value
 *     else                                          L unchanged
 * so the hot loop of an interior tile reads X unguarded (a broadcast FMA for a padded conv).
 * Before that, border tiles skip the padded taps: tap loops (a conv's ry, rx) whose every update
 * is a no-op where its guard is off run only over the taps the guard can let through,
 *     if (no tap of the nest is out for the whole tile) the nest as it is (versioned as above)
 *     else the nest with ry in [lo, hi), rx in [lo', hi') (ir/lower_taps.c; versioned)
 * so a border tile neither computes nor masks the taps that read only padding. */
#include "ir/lower_hoist.h"

#include <stdlib.h>
#include <string.h>

#include "ir/simplify.h"

typedef lw_path path;

/* The checks collected while rewriting L's body. */
typedef struct {
    int n, cap;
    tt_expr **e; /* owned */
    bool fail;   /* out of memory */
} checks;

bool lw_path_has(const lw_path *p, const tt_expr *v)
{
    for (int i = 0; i < p->n; i++)
        if (p->r[i].var == v)
            return true;
    return false;
}

static bool on_path_pred(const void *p, const tt_expr *v)
{
    return lw_path_has(p, v);
}
static bool off_path(const void *p, const tt_expr *v)
{
    return !lw_path_has(p, v);
}

/* Whether e uses a variable of the path (inner = true) or a variable off it (inner = false). */
bool lw_path_uses(const lw_path *p, const tt_expr *e, bool inner)
{
    return tt_expr_any_var(e, inner ? on_path_pred : off_path, p);
}

bool lw_is_index(const tt_expr *e)
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
    bool inner = lw_path_uses(p, e, true);
    if (inner && lw_path_uses(p, e, false))
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
    if (!lw_path_uses(p, cond, true))
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
        !lw_is_index(cond->args[0]) || !lw_is_index(cond->args[1]))
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

bool lw_path_push(lw_path *p, const tt_expr *var, int64_t hi)
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
        if (!inner_extent(p, anc, s, &ext) || !lw_path_push(p, s->var, ext - 1))
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

/* Loop L: versioned on the checks its selects need, then its body (the fast one) visited. */
static tt_stmt *version_for(path *anc, tt_stmt *s)
{
    int64_t ext;
    if (!loop_extent(anc, s, &ext) || !lw_path_push(anc, s->var, ext - 1))
        return tt_stmt_retain(s);
    path p = {0};
    checks c = {0};
    tt_stmt *fast = NULL, *r = NULL;
    if (lw_path_push(&p, s->var, ext - 1))
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
        bool none = !always && c.n == 1 && lw_skips_whole(s, c.e[0]);
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

/* Loop s and the tap loops nested right inside it (ir/lower_taps.c):
 *     if (every tap of each can be in range) s, versioned
 *     else                                   s with those loops tightened, versioned
 * The interior copy keeps constant tap extents: a conv tile ran 13% slower when the tightened
 * nest (bounds known at run time) served every tile, though it halves the code. Sets *done false
 * (and returns NULL) when no loop of the nest is bounded. */
static tt_stmt *tighten(path *anc, tt_stmt *s, bool *done)
{
    tt_expr *full = NULL;
    tt_stmt *border = lw_tap_border(anc, s, &full);
    *done = full != NULL;
    anc->plain++;
    tt_stmt *a = border ? version_for(anc, s) : NULL;
    tt_stmt *b = a ? version_for(anc, border) : NULL;
    anc->plain--;
    tt_stmt *r = b ? tt_stmt_if(full, a, b) : NULL;
    tt_stmt_release(a);
    tt_stmt_release(b);
    tt_stmt_release(border);
    tt_expr_release(full);
    return r;
}

/* The largest product of unrolled loop extents on a path down s: the copies of a statement
 * that unrolling makes. */
static int64_t unrolled_copies(const tt_stmt *s)
{
    int64_t ext, most = 1;
    switch (s->kind) {
    case TT_STMT_FOR: {
        int64_t inner = unrolled_copies(s->body);
        if (s->for_kind == TT_FOR_UNROLLED && tt_expr_is_const(s->extent, &ext) && ext > 1)
            inner *= ext;
        return inner;
    }
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++) {
            int64_t c = unrolled_copies(s->stmts[i]);
            most = c > most ? c : most;
        }
        return most;
    case TT_STMT_IF: {
        int64_t a = unrolled_copies(s->then_s), b = s->else_s ? unrolled_copies(s->else_s) : 1;
        return a > b ? a : b;
    }
    case TT_STMT_ALLOC:
        return unrolled_copies(s->body);
    default:
        return 1;
    }
}

/* Border tiles get their own tightened copy only below this many unrolled copies of the body:
 * every copy is versioned per tap in the border nest, and a conv with a 14-wide unrolled tile
 * around unrolled 3x3 taps (126 copies) took 6 s to compile instead of 1.2 s; the ResNet conv
 * schedule of benchmarks/schedules (32 copies) gains 5% from it. */
#define MAX_TIGHTENED_COPIES 64

/* Loop L: a nest of tap loops split into interior and border versions, then versioned on its
 * selects' checks. */
static tt_stmt *hoist_for(path *anc, tt_stmt *s)
{
    bool done = false;
    tt_stmt *r =
        anc->plain || unrolled_copies(s) > MAX_TIGHTENED_COPIES ? NULL : tighten(anc, s, &done);
    return done ? r : version_for(anc, s);
}

static tt_stmt *hoist_part(const tt_stmt *s, void *anc)
{
    return hoist(anc, (tt_stmt *)s);
}

static tt_stmt *hoist(path *anc, tt_stmt *s)
{
    if (s->kind == TT_STMT_FOR)
        return hoist_for(anc, s);
    if (s->kind == TT_STMT_STORE)
        return tt_stmt_retain(s);
    const lw_mapper m = {hoist_part, NULL, anc}; /* sequences, branches, allocations */
    return lw_rebuild(s, &m);
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
