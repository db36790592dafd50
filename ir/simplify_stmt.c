/* The statement pass of the simplifier (see simplify.h): loop extents become variable ranges for
 * the expressions below them, IFs the ranges decide are folded away, SEQs flattened. ir/lower.c
 * runs it over every kernel; the expression rules live in ir/simplify.c. */
#include "ir/simplify.h"

#include <stdlib.h>

/* ---- statements ---- */

typedef struct {
    int n, cap;
    tt_var_range *r;
} range_stack;

static tt_stmt *simp_stmt(const tt_stmt *s, range_stack *rs);

static tt_expr *simp_e(const tt_expr *e, range_stack *rs)
{
    return tt_simplify_ranged(e, rs->n, rs->r);
}

static tt_stmt *empty(void)
{
    return tt_stmt_seq(0, NULL);
}

static bool is_empty(const tt_stmt *s)
{
    return s->kind == TT_STMT_SEQ && s->nstmts == 0;
}

static tt_stmt *simp_for(const tt_stmt *s, range_stack *rs)
{
    tt_expr *ext = simp_e(s->extent, rs);
    if (!ext)
        return NULL;
    int64_t n;
    bool known = tt_expr_is_const(ext, &n);
    if (known && n <= 0) {
        tt_expr_release(ext);
        return empty();
    }
    if (known) {
        if (rs->n == rs->cap) {
            int cap = rs->cap ? 2 * rs->cap : 16;
            tt_var_range *r = realloc(rs->r, (size_t)cap * sizeof *r);
            if (!r) {
                tt_expr_release(ext);
                tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
                return NULL;
            }
            rs->r = r;
            rs->cap = cap;
        }
        rs->r[rs->n++] = (tt_var_range){s->var, 0, n - 1};
    }
    tt_stmt *body = simp_stmt(s->body, rs);
    if (known)
        rs->n--;
    tt_stmt *r = NULL;
    if (body && is_empty(body))
        r = tt_stmt_retain(body);
    else if (body)
        r = tt_stmt_for(s->var, ext, s->for_kind, body);
    tt_expr_release(ext);
    tt_stmt_release(body);
    return r;
}

static tt_stmt *simp_seq(const tt_stmt *s, range_stack *rs)
{
    int n = 0, cap = s->nstmts + 4;
    tt_stmt **out = calloc((size_t)cap, sizeof *out), *r = NULL;
    if (!out) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    bool ok = true;
    for (int i = 0; ok && i < s->nstmts; i++) {
        tt_stmt *c = simp_stmt(s->stmts[i], rs);
        if (!c) {
            ok = false;
            break;
        }
        int add = c->kind == TT_STMT_SEQ ? c->nstmts : 1;
        if (n + add > cap) {
            cap = 2 * (n + add);
            tt_stmt **m = realloc(out, (size_t)cap * sizeof *m);
            if (!m) {
                tt_stmt_release(c);
                ok = false;
                tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            out = m;
        }
        if (c->kind == TT_STMT_SEQ)
            for (int j = 0; j < c->nstmts; j++)
                out[n++] = tt_stmt_retain(c->stmts[j]);
        else
            out[n++] = tt_stmt_retain(c);
        tt_stmt_release(c);
    }
    if (ok)
        r = n == 1 ? tt_stmt_retain(out[0]) : tt_stmt_seq(n, out);
    for (int i = 0; i < n; i++)
        tt_stmt_release(out[i]);
    free(out);
    return r;
}

static tt_stmt *simp_stmt(const tt_stmt *s, range_stack *rs)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        return simp_for(s, rs);
    case TT_STMT_SEQ:
        return simp_seq(s, rs);
    case TT_STMT_STORE: {
        tt_expr *i = simp_e(s->index, rs), *v = simp_e(s->value, rs);
        tt_stmt *r = i && v ? tt_stmt_store(s->buffer, i, v) : NULL;
        tt_expr_release(i);
        tt_expr_release(v);
        return r;
    }
    case TT_STMT_IF: {
        tt_expr *c = simp_e(s->cond, rs);
        if (!c)
            return NULL;
        int64_t v;
        tt_stmt *r = NULL;
        if (tt_expr_is_const(c, &v)) {
            const tt_stmt *taken = v ? s->then_s : s->else_s;
            r = taken ? simp_stmt(taken, rs) : empty();
        } else {
            tt_stmt *t = simp_stmt(s->then_s, rs), *e = s->else_s ? simp_stmt(s->else_s, rs) : NULL;
            if (t && (!s->else_s || e))
                r = is_empty(t) && (!e || is_empty(e)) ? empty() : tt_stmt_if(c, t, e);
            tt_stmt_release(t);
            tt_stmt_release(e);
        }
        tt_expr_release(c);
        return r;
    }
    case TT_STMT_ALLOC: {
        tt_stmt *b = simp_stmt(s->body, rs);
        tt_stmt *r = b ? tt_stmt_alloc(s->buffer, b) : NULL;
        tt_stmt_release(b);
        return r;
    }
    default:
        tt_error_set("simplify: unknown statement kind %d", (int)s->kind);
        return NULL;
    }
}

tt_stmt *tt_simplify_stmt(const tt_stmt *s)
{
    if (!s) {
        tt_error_set("simplify: NULL statement");
        return NULL;
    }
    range_stack rs = {0};
    tt_stmt *r = simp_stmt(s, &rs);
    free(rs.r);
    return r;
}
