/* Legality of running a vectorized loop's iterations as vector lanes (llvm.c then emits LLVM
 * vectors, or else a scalar loop that asks LLVM's vectorizer to try). Lanes run the body's
 * statements in order, all lanes at once, so no lane may touch an element another lane writes:
 * checked on linear forms of the access indices. */
#include <stdlib.h>

#include "codegen/llvm_internal.h"

/* index = form + stride * vector variable, the form free of the vector variable. */
typedef struct {
    tt_linear f; /* the vector variable's term has coefficient 0 */
    int64_t stride;
    bool ok; /* false: not linear in a form this analysis can compare */
} linear;

typedef struct {
    const cg *c;
    const tt_expr *var; /* the vectorized loop's variable */
} scope;

/* A variable of a loop inside the vector body: its value changes while the lanes run. */
static bool inner_var(const void *ctx, const tt_expr *v)
{
    const scope *sc = ctx;
    return v != sc->var && !cg_lookup(sc->c, v);
}

static bool uses_inner_var(const scope *sc, const tt_expr *e)
{
    return tt_expr_any_var(e, inner_var, sc);
}

static linear linear_form(const scope *sc, const tt_expr *index)
{
    linear l = {.f = {0}};
    cg_linear(sc->c, index, &l.f);
    l.ok = !l.f.bad;
    for (int i = 0; l.ok && i < l.f.n; i++) {
        tt_linear_term *t = &l.f.t[i];
        if (t->atom == sc->var) {
            l.stride = t->coef;
            t->coef = 0;
        } else if (tt_expr_uses_var(t->atom, sc->var) || uses_inner_var(sc, t->atom)) {
            l.ok = false;
        }
    }
    return l;
}

/* Same atoms with the same coefficients (zero coefficients ignored). */
static bool same_rest(const tt_linear *a, const tt_linear *b)
{
    for (int pass = 0; pass < 2; pass++) {
        const tt_linear *x = pass ? b : a, *y = pass ? a : b;
        for (int i = 0; i < x->n; i++) {
            if (x->t[i].coef == 0)
                continue;
            int64_t cy = 0;
            for (int j = 0; j < y->n; j++)
                if (tt_expr_equal(x->t[i].atom, y->t[j].atom))
                    cy += y->t[j].coef;
            if (cy != x->t[i].coef)
                return false;
        }
    }
    return true;
}

typedef struct {
    const tt_buffer *buffer;
    const tt_expr *index;
    bool store;
} mem_access;

typedef struct {
    mem_access *items;
    int n, cap;
    bool varying_extent; /* an inner loop's extent depends on the vector variable */
    bool oom;
} access_list;

static void note(access_list *l, const tt_buffer *b, const tt_expr *index, bool store)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        mem_access *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) {
            l->oom = true;
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (mem_access){b, index, store};
}

static bool note_load(void *l, const tt_expr *read)
{
    if (read->kind == TT_EXPR_LOAD)
        note(l, read->buffer, read->args[0], false);
    return true;
}

static void expr_accesses(const tt_expr *e, access_list *l)
{
    tt_expr_each_read(e, note_load, l);
}

static void stmt_accesses(const tt_stmt *s, const tt_expr *var, access_list *l)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        if (tt_expr_uses_var(s->extent, var))
            l->varying_extent = true;
        stmt_accesses(s->body, var, l);
        break;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            stmt_accesses(s->stmts[i], var, l);
        break;
    case TT_STMT_STORE:
        expr_accesses(s->index, l);
        expr_accesses(s->value, l);
        note(l, s->buffer, s->index, true);
        break;
    case TT_STMT_IF:
        expr_accesses(s->cond, l);
        stmt_accesses(s->then_s, var, l);
        if (s->else_s)
            stmt_accesses(s->else_s, var, l);
        break;
    case TT_STMT_ALLOC:
        stmt_accesses(s->body, var, l);
        break;
    default:
        break;
    }
}

/* Lane a's access p and lane b's access q (a != b) never meet when both are lane-fixed (no inner
 * loop variable), stride s != 0, and their constant gap d is 0 (each lane its own element) or
 * not s times a lane distance below lanes. */
static bool disjoint_lanes(const linear *p, const linear *q, int lanes)
{
    if (!p->ok || !q->ok || p->stride == 0 || p->stride != q->stride || !same_rest(&p->f, &q->f))
        return false;
    int64_t d = p->f.c - q->f.c, s = p->stride;
    return d == 0 || d % s != 0 || llabs(d / s) >= lanes;
}

bool cg_vectorizable(const cg *c, const tt_stmt *s, int lanes)
{
    access_list l = {0};
    stmt_accesses(s->body, s->var, &l);
    scope sc = {c, s->var};
    bool ok = !l.oom && !l.varying_extent;
    for (int i = 0; ok && i < l.n; i++) {
        if (!l.items[i].store)
            continue;
        linear p = linear_form(&sc, l.items[i].index);
        bool alone = true;
        for (int j = 0; ok && j < l.n; j++) {
            if (j == i || l.items[j].buffer != l.items[i].buffer)
                continue;
            alone = false;
            linear q = linear_form(&sc, l.items[j].index);
            ok = disjoint_lanes(&p, &q, lanes);
            tt_linear_free(&q.f);
        }
        tt_linear_free(&p.f);
        /* A lone store scatters lanes in order, as the scalar loop writes, unless an inner loop
         * moves its address while the lanes run. */
        if (alone)
            ok = !uses_inner_var(&sc, l.items[i].index);
    }
    free(l.items);
    return ok;
}

int cg_native_lanes(const cg *c, const tt_stmt *s)
{
    access_list l = {0};
    stmt_accesses(s->body, s->var, &l);
    int bits = 0;
    for (int i = 0; i < l.n; i++) {
        int b = l.items[i].buffer->dtype.bits;
        bits = b > bits ? b : bits;
    }
    free(l.items);
    int lanes = tt_target_vector_bits(c->target) / (bits ? bits : 32);
    return lanes > 1 ? lanes : 1;
}
