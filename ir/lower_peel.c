/* Lowering, tail peeling: a loop whose last iteration alone needs the guards of a non-dividing
 * split (or the branch of a blocked tile's last reduce block) runs its other iterations in a
 * copy without them. tt_lower applies it to the simplified kernel; simplifying the result drops
 * the guards the narrowed loop range proves, and the tail copy keeps them, so an inner vector
 * loop is masked only there (the remainder loop of a BLIS edge case, not a scalar fallback);
 * a serial loop whose body is all behind "q < m" then runs m iterations. */
#include "ir/lower_internal.h"

#include <stdlib.h>

/* Statements that peeling may copy under one loop: past this the code size (and LLVM's time)
 * grows faster than the tails cost. */
#define PEEL_MAX_STMTS 4096

typedef struct {
    int n, cap;
    tt_var_range *r;
} ranges;

static int push(ranges *rs, const tt_expr *var, int64_t lo, int64_t hi)
{
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 16;
        tt_var_range *r = realloc(rs->r, (size_t)cap * sizeof *r);
        if (!r)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n++] = (tt_var_range){var, lo, hi};
    return 0;
}

static int count_stmts(const tt_stmt *s)
{
    if (!s)
        return 0;
    int n = 1 + count_stmts(s->body) + count_stmts(s->then_s) + count_stmts(s->else_s);
    for (int i = 0; i < s->nstmts; i++)
        n += count_stmts(s->stmts[i]);
    return n;
}

/* Whether cond folds to a constant under rs but not once the last range is dropped. */
static bool decided_by_last(const tt_expr *cond, const ranges *rs, int last, bool *err)
{
    int64_t v;
    tt_expr *narrow = tt_simplify_ranged(cond, rs->n, rs->r);
    bool now = narrow && tt_expr_is_const(narrow, &v);
    tt_expr_release(narrow);
    if (!narrow) {
        *err = true;
        return false;
    }
    if (!now)
        return false;
    /* the same with the loop's full range: ranges after `last` are inner loops, kept */
    tt_var_range saved = rs->r[last];
    rs->r[last].hi = saved.hi + 1;
    tt_expr *full = tt_simplify_ranged(cond, rs->n, rs->r);
    rs->r[last] = saved;
    bool before = full && tt_expr_is_const(full, &v);
    tt_expr_release(full);
    if (!full)
        *err = true;
    return !before;
}

/* Whether some IF below s (inner loops' ranges pushed on the way) is decided once the loop at
 * rs->r[last] loses its last iteration. */
static bool peel_helps(const tt_stmt *s, ranges *rs, int last, bool *err)
{
    if (!s || *err)
        return false;
    switch (s->kind) {
    case TT_STMT_FOR: {
        int64_t n;
        bool known = tt_expr_is_const(s->extent, &n) && n >= 1;
        if (known && push(rs, s->var, 0, n - 1) != 0) {
            *err = true;
            return false;
        }
        bool r = peel_helps(s->body, rs, last, err);
        if (known)
            rs->n--;
        return r;
    }
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (peel_helps(s->stmts[i], rs, last, err))
                return true;
        return false;
    case TT_STMT_IF:
        if (tt_expr_uses_var(s->cond, rs->r[last].var) && decided_by_last(s->cond, rs, last, err))
            return true;
        return peel_helps(s->then_s, rs, last, err) || peel_helps(s->else_s, rs, last, err);
    case TT_STMT_ALLOC:
        return peel_helps(s->body, rs, last, err);
    default:
        return false;
    }
}

typedef lw_mapper mapper;

static tt_expr *map_expr(const mapper *m, const tt_expr *e)
{
    return m->expr ? m->expr(e, m->ctx) : tt_expr_retain((tt_expr *)e);
}

static tt_stmt *map_stmt(const mapper *m, const tt_stmt *s)
{
    return m->stmt(s, m->ctx);
}

tt_stmt *lw_rebuild(const tt_stmt *s, const lw_mapper *m)
{
    tt_stmt *r = NULL;
    switch (s->kind) {
    case TT_STMT_FOR: {
        tt_expr *e = map_expr(m, s->extent);
        tt_stmt *b = e ? map_stmt(m, s->body) : NULL;
        r = b ? tt_stmt_for(s->var, e, s->for_kind, b) : NULL;
        tt_expr_release(e);
        tt_stmt_release(b);
        return r;
    }
    case TT_STMT_SEQ: {
        tt_stmt **parts = calloc((size_t)s->nstmts + 1, sizeof *parts);
        bool ok = parts != NULL;
        for (int i = 0; ok && i < s->nstmts; i++)
            ok = (parts[i] = map_stmt(m, s->stmts[i])) != NULL;
        r = ok ? tt_stmt_seq(s->nstmts, parts) : NULL;
        for (int i = 0; parts && i < s->nstmts; i++)
            tt_stmt_release(parts[i]);
        free(parts);
        if (!parts)
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return r;
    }
    case TT_STMT_STORE: {
        tt_expr *i = map_expr(m, s->index), *v = i ? map_expr(m, s->value) : NULL;
        r = v ? tt_stmt_store(s->buffer, i, v) : NULL;
        tt_expr_release(i);
        tt_expr_release(v);
        return r;
    }
    case TT_STMT_IF: {
        tt_expr *c = map_expr(m, s->cond);
        tt_stmt *t = c ? map_stmt(m, s->then_s) : NULL;
        tt_stmt *e = t && s->else_s ? map_stmt(m, s->else_s) : NULL;
        r = t && (!s->else_s || e) ? tt_stmt_if(c, t, e) : NULL;
        tt_expr_release(c);
        tt_stmt_release(t);
        tt_stmt_release(e);
        return r;
    }
    case TT_STMT_ALLOC: {
        tt_stmt *b = map_stmt(m, s->body);
        r = b ? tt_stmt_alloc(s->buffer, b) : NULL;
        tt_stmt_release(b);
        return r;
    }
    default:
        tt_error_set("lower: unknown statement kind %d", (int)s->kind);
        return NULL;
    }
}

typedef struct {
    tt_expr *(*f)(const tt_expr *e, void *ctx);
    void *ctx;
} exprs_of;

static tt_expr *each_expr(const tt_expr *e, void *ctx)
{
    const exprs_of *x = ctx;
    return x->f(e, x->ctx);
}

static tt_stmt *each_stmt(const tt_stmt *s, void *ctx)
{
    const mapper m = {each_stmt, each_expr, ctx};
    return lw_rebuild(s, &m);
}

tt_stmt *lw_map_exprs(const tt_stmt *s, tt_expr *(*f)(const tt_expr *e, void *ctx), void *ctx)
{
    exprs_of x = {f, ctx};
    return each_stmt(s, &x);
}

/* Substitution of one variable (args[0]) by a value (args[1]). */
static tt_expr *subst_expr(const tt_expr *e, void *ctx)
{
    tt_expr **args = ctx;
    return tt_expr_substitute(e, 1, &args[0], &args[1]);
}

/* s with the variable var replaced by value everywhere. New reference. */
static tt_stmt *subst_stmt(const tt_stmt *s, tt_expr *var, tt_expr *value)
{
    tt_expr *args[2] = {var, value};
    return lw_map_exprs(s, subst_expr, args);
}

static tt_stmt *peel(const tt_stmt *s, ranges *rs);

/* A serial loop: for (q, 0, n - 1) body; body[q := n - 1]. A parallel loop keeps its
 * iterations (a serial tail would idle the other threads): the tail is a branch in its body,
 * and the other branch is the body simplified over the narrowed range. */
static tt_stmt *peel_for(const tt_stmt *s, ranges *rs)
{
    int64_t n;
    bool known = tt_expr_is_const(s->extent, &n) && n >= 1;
    if (known && push(rs, s->var, 0, n - 1) != 0)
        return NULL;
    tt_stmt *body = peel(s->body, rs);
    if (known)
        rs->n--;
    if (!body)
        return NULL;
    bool err = false, kind_ok = s->for_kind == TT_FOR_SERIAL || s->for_kind == TT_FOR_PARALLEL;
    bool helps = false;
    if (known && n >= 2 && kind_ok && count_stmts(body) <= PEEL_MAX_STMTS) {
        if (push(rs, s->var, 0, n - 2) != 0) {
            tt_stmt_release(body);
            return NULL;
        }
        helps = peel_helps(body, rs, rs->n - 1, &err);
        rs->n--;
    }
    if (err || !helps) {
        tt_stmt *r = err ? NULL : tt_stmt_for(s->var, s->extent, s->for_kind, body);
        tt_stmt_release(body);
        return r;
    }
    tt_expr *lastv = tt_expr_int(n - 1), *rest = tt_expr_int(n - 1);
    tt_stmt *tail = lastv ? subst_stmt(body, s->var, lastv) : NULL;
    tt_stmt *head = rest && tail ? tt_stmt_for(s->var, rest, TT_FOR_SERIAL, body) : NULL;
    tt_stmt *r = NULL;
    if (head && s->for_kind == TT_FOR_SERIAL) {
        tt_stmt *parts[2] = {head, tail};
        r = tt_stmt_seq(2, parts);
    } else if (head) {
        tt_stmt *narrow = tt_simplify_stmt(head); /* the FOR, or empty when nothing is left */
        tt_expr *cond = narrow ? tt_expr_binary(TT_EXPR_LT, s->var, rest) : NULL;
        tt_stmt *inner = narrow && narrow->kind == TT_STMT_FOR ? narrow->body : narrow;
        tt_stmt *br = cond ? tt_stmt_if(cond, inner, tail) : NULL;
        r = br ? tt_stmt_for(s->var, s->extent, s->for_kind, br) : NULL;
        tt_stmt_release(narrow);
        tt_expr_release(cond);
        tt_stmt_release(br);
    }
    tt_expr_release(lastv);
    tt_expr_release(rest);
    tt_stmt_release(tail);
    tt_stmt_release(head);
    tt_stmt_release(body);
    return r;
}

static tt_stmt *peel_cb(const tt_stmt *s, void *ctx)
{
    return peel(s, ctx);
}

static tt_stmt *peel(const tt_stmt *s, ranges *rs)
{
    if (s->kind == TT_STMT_FOR)
        return peel_for(s, rs);
    const mapper m = {peel_cb, NULL, rs};
    return lw_rebuild(s, &m);
}

/* for (q, 0, n) { if (q < m) B } becomes for (q, 0, m) B, what a peeled tail of a split
 * usually is once simplified; a vector loop keeps its width (the guard becomes its mask). */
static tt_stmt *tighten(const tt_stmt *s, void *ctx)
{
    const mapper m = {tighten, NULL, ctx};
    const tt_stmt *body = s->kind == TT_STMT_FOR ? s->body : NULL;
    const tt_expr *c = body && body->kind == TT_STMT_IF && !body->else_s ? body->cond : NULL;
    int64_t n, k;
    if (!c || s->for_kind == TT_FOR_VECTORIZED || c->kind != TT_EXPR_LT || c->args[0] != s->var ||
        !tt_expr_is_const(c->args[1], &k) || !tt_expr_is_const(s->extent, &n) || k < 1 || k >= n)
        return lw_rebuild(s, &m);
    tt_expr *ext = tt_expr_int(k);
    tt_stmt *f = ext ? tt_stmt_for(s->var, ext, s->for_kind, body->then_s) : NULL;
    tt_stmt *r = f ? lw_rebuild(f, &m) : NULL;
    tt_expr_release(ext);
    tt_stmt_release(f);
    return r;
}

tt_stmt *lw_peel_tails(const tt_stmt *s)
{
    ranges rs = {0};
    tt_stmt *p = peel(s, &rs);
    free(rs.r);
    tt_stmt *simple = p ? tt_simplify_stmt(p) : NULL;
    tt_stmt *r = simple ? tighten(simple, NULL) : NULL;
    tt_stmt_release(p);
    tt_stmt_release(simple);
    return r;
}
