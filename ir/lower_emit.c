/* Lowering, part two: writes one root stage's loop nest as loop IR, with what is attached to it
 * (compute_at producers), its accumulator tile (cache_write) and its fused epilogue. The layout
 * of a stage with loops L0..Ln-1 and tile root T (the cache_write loop's body, else the
 * outermost reduce loop):
 *     for L0..LT-1:                          guards placed at the innermost loop they need
 *         [alloc tile]
 *         init:  for spatial loops of LT..: tile[idx] = identity      (reductions)
 *         main:  for LT..Ln-1:              tile[idx] = tile[idx] op value
 *         write: for spatial loops of LT..: out[idx] = tile[idx]; epilogue[idx] = f(tile[idx])
 * Without a tile, "tile" is the stage's own buffer and the write nest only runs the epilogue.
 * A tile below reduce loops (k blocking, the BLIS loop order) carries its partial sums in the
 * stage's buffer from one reduce block to the next: init is "first block ? identity : out[idx]"
 * and write is "last block ? epilogue : out[idx] = tile", each branch its own nest, so the
 * epilogue sees only final values and the tile loops keep no condition inside. */
#include "ir/lower_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loops of one emitted nest: positions in the stage's loop list and the variables used
 * (the stage's own, or fresh ones when a nest is replicated for init or write-back). */
typedef struct {
    int n;
    int *pos;
    tt_expr **vars; /* owned */
} nest;

typedef struct {
    lw_ctx *x;
    lw_stage *s;
    int idx;
    int tile;       /* T */
    int *gpos;      /* per guard: innermost loop position it needs, -1 for none */
    tt_buffer *acc; /* where the main nest accumulates: the tile or the stage's buffer */
    bool blocked;   /* cache_write tile below reduce loops: partial sums go through s->buf */
} emitter;

static void nest_free(nest *n)
{
    for (int i = 0; n->vars && i < n->n; i++)
        tt_expr_release(n->vars[i]);
    free(n->vars);
    free(n->pos);
    memset(n, 0, sizeof *n);
}

/* Loops [from, to) of the stage; only spatial ones if spatial_only; fresh variables if fresh. */
static int nest_make(const lw_stage *s, int from, int to, bool spatial_only, bool fresh, nest *n)
{
    memset(n, 0, sizeof *n);
    n->pos = calloc((size_t)(to - from) + 1, sizeof *n->pos);
    n->vars = calloc((size_t)(to - from) + 1, sizeof *n->vars);
    if (!n->pos || !n->vars) {
        nest_free(n);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int p = from; p < to; p++) {
        const lw_loop *l = &s->loops[p];
        if (spatial_only && l->reduce)
            continue;
        n->pos[n->n] = p;
        n->vars[n->n] = fresh ? tt_expr_var(l->var->name, TT_DT_I64) : tt_expr_retain(l->var);
        if (!n->vars[n->n]) {
            nest_free(n);
            return -1;
        }
        n->n++;
    }
    return 0;
}

/* e with the stage's loop variables replaced by the nest's. New reference. */
static tt_expr *in_nest(const emitter *em, const nest *n, const tt_expr *e)
{
    tt_expr **olds = calloc((size_t)n->n + 1, sizeof *olds);
    if (!olds) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int k = 0; k < n->n; k++)
        olds[k] = em->s->loops[n->pos[k]].var;
    tt_expr *r = tt_expr_substitute(e, n->n, olds, n->vars);
    free(olds);
    return r;
}

static tt_expr *guard_cond(const lw_guard *g, tt_expr *v)
{
    tt_expr *hi = tt_expr_int(g->hi), *lt = tt_expr_binary(TT_EXPR_LT, v, hi);
    tt_expr_release(hi);
    if (!lt || g->lo == INT64_MIN)
        return lt;
    tt_expr *lo = tt_expr_int(g->lo), *ge = tt_expr_binary(TT_EXPR_GE, v, lo);
    tt_expr *both = ge ? tt_expr_binary(TT_EXPR_AND, ge, lt) : NULL;
    tt_expr_release(lo);
    tt_expr_release(ge);
    tt_expr_release(lt);
    return both;
}

/* Wraps body (takes it) in the guards placed at position p: allowed reduce guards or not. */
static tt_stmt *wrap_guards(const emitter *em, const nest *n, int p, bool with_reduce,
                            tt_stmt *body)
{
    for (int g = 0; body && g < em->s->nguards; g++) {
        const lw_guard *gd = &em->s->guards[g];
        if (em->gpos[g] != p || (gd->reduce && !with_reduce))
            continue;
        tt_expr *v = in_nest(em, n, gd->value), *c = v ? guard_cond(gd, v) : NULL;
        tt_stmt *w = c ? tt_stmt_if(c, body, NULL) : NULL;
        tt_expr_release(v);
        tt_expr_release(c);
        tt_stmt_release(body);
        body = w;
    }
    return body;
}

/* Producers computed at position p: each in its region buffer, before the rest of the body. */
static tt_stmt *wrap_attached(const emitter *em, int p, tt_stmt *body)
{
    lw_ctx *x = em->x;
    for (int j = x->n - 1; body && j >= 0; j--) {
        lw_stage *P = &x->st[j];
        if (P->place != LW_ATTACHED || P->attach_to != em->idx ||
            lw_loop_index(em->s, P->attach_loop) != p)
            continue;
        tt_stmt *pn = lw_emit_stage(x, j);
        tt_stmt *parts[2] = {pn, body};
        tt_stmt *seq = pn ? tt_stmt_seq(2, parts) : NULL;
        tt_stmt *a = seq ? tt_stmt_alloc(P->buf, seq) : NULL;
        tt_stmt_release(pn);
        tt_stmt_release(seq);
        tt_stmt_release(body);
        body = a;
    }
    return body;
}

/* The loops of n around leaf (taken), with guards and (main nest only) attached producers. */
static tt_stmt *wrap_nest(const emitter *em, const nest *n, tt_stmt *leaf, bool with_reduce,
                          bool attach)
{
    tt_stmt *body = leaf;
    for (int k = n->n - 1; body && k >= 0; k--) {
        int p = n->pos[k];
        const lw_loop *l = &em->s->loops[p];
        body = wrap_guards(em, n, p, with_reduce, body);
        if (attach)
            body = wrap_attached(em, p, body);
        tt_expr *ext = body ? tt_expr_int(l->extent) : NULL;
        tt_stmt *f = ext ? tt_stmt_for(n->vars[k], ext, l->kind, body) : NULL;
        tt_expr_release(ext);
        tt_stmt_release(body);
        body = f;
    }
    return body;
}

/* Axis values of the stage inside nest n (fresh variables substituted). */
static int nest_values(const emitter *em, const nest *n, tt_expr **vals)
{
    const lw_stage *s = em->s;
    for (int a = 0; a < s->naxes; a++)
        if (!(vals[a] = in_nest(em, n, s->val[a]))) {
            while (a-- > 0)
                tt_expr_release(vals[a]);
            return -1;
        }
    return 0;
}

static void release_all(int n, tt_expr **v)
{
    for (int i = 0; v && i < n; i++)
        tt_expr_release(v[i]);
}

/* Index into the stage's own buffer (region-relative when attached). New reference. */
static tt_expr *out_index(const lw_stage *s, tt_expr *const *vals)
{
    const tt_tensor *t = s->stage->output;
    return lw_flat(t->ndim, vals, s->place == LW_ATTACHED ? s->region_ext : t->shape);
}

/* Index into the accumulation target at the nest's values: the tile is indexed by the tile's
 * spatial loops, the stage's buffer by the output index (region-relative when attached). */
static tt_expr *acc_index(const emitter *em, const nest *n, tt_expr *const *vals)
{
    const lw_stage *s = em->s;
    if (s->cache_loop) {
        tt_expr *acc = tt_expr_int(0);
        for (int p = em->tile; acc && p < s->nloops; p++) {
            if (s->loops[p].reduce)
                continue;
            tt_expr *v = in_nest(em, n, s->loops[p].var);
            acc = v ? tt_expr_add_s(tt_expr_mul_s(acc, tt_expr_int(s->loops[p].extent)), v) : NULL;
        }
        return acc;
    }
    return out_index(s, vals);
}

static tt_expr *identity(tt_reduce_op op, DLDataType t)
{
    if (tt_dtype_is_float(t))
        return tt_expr_float(op == TT_REDUCE_SUM   ? 0.0
                             : op == TT_REDUCE_MAX ? -INFINITY
                                                   : INFINITY,
                             t);
    int64_t big = t.bits >= 64 ? INT64_MAX : ((int64_t)1 << (t.bits - 1)) - 1;
    return tt_expr_int_typed(op == TT_REDUCE_SUM ? 0 : op == TT_REDUCE_MAX ? -big - 1 : big, t);
}

/* One store of the stage at the nest's values: init (identity), the partial sums of the
 * previous reduce blocks into the tile (blocked), update, or plain. */
typedef enum { LEAF_INIT, LEAF_RELOAD, LEAF_MAIN } leaf_kind;

static tt_stmt *stage_leaf(const emitter *em, const nest *n, leaf_kind kind)
{
    const lw_stage *s = em->s;
    tt_expr **vals = calloc((size_t)s->naxes + 1, sizeof *vals);
    tt_expr **ev = calloc((size_t)s->naxes + 1, sizeof *ev);
    tt_stmt *st = NULL;
    if (!vals || !ev || nest_values(em, n, vals) != 0) {
        free(vals);
        free(ev);
        return NULL;
    }
    tt_expr *idx = NULL, *value = NULL, *old = NULL, *upd = NULL;
    if (lw_eval_values(em->x, s, vals, ev) != 0)
        goto out;
    idx = acc_index(em, n, vals);
    if (!idx)
        goto out;
    const tt_expr *b = s->body;
    if (kind == LEAF_INIT) {
        value = identity(b->reduce_op, s->stage->output->dtype);
        st = value ? tt_stmt_store(em->acc, idx, value) : NULL;
        goto out;
    }
    if (kind == LEAF_RELOAD) {
        tt_expr *oi = out_index(s, vals);
        value = oi ? tt_expr_load(s->buf, oi) : NULL;
        tt_expr_release(oi);
        st = value ? tt_stmt_store(em->acc, idx, value) : NULL;
        goto out;
    }
    value = lw_lower_expr(em->x, b, s->naxes, s->axes, ev, NULL, NULL);
    if (!value)
        goto out;
    if (b->kind != TT_EXPR_REDUCE) {
        st = tt_stmt_store(em->acc, idx, value);
        goto out;
    }
    old = tt_expr_load(em->acc, idx);
    tt_expr_kind op = b->reduce_op == TT_REDUCE_SUM   ? TT_EXPR_ADD
                      : b->reduce_op == TT_REDUCE_MAX ? TT_EXPR_MAX
                                                      : TT_EXPR_MIN;
    upd = old ? tt_expr_binary(op, old, value) : NULL;
    st = upd ? tt_stmt_store(em->acc, idx, upd) : NULL;
out:
    release_all(s->naxes, vals);
    release_all(s->naxes, ev);
    free(vals);
    free(ev);
    tt_expr_release(idx);
    tt_expr_release(value);
    tt_expr_release(old);
    tt_expr_release(upd);
    return st;
}

/* The write-back of a tile (store) and the epilogue (epi), at the nest's values. */
static tt_stmt *write_leaf(const emitter *em, const nest *n, bool store, bool epi)
{
    const lw_stage *s = em->s;
    lw_ctx *x = em->x;
    tt_expr **vals = calloc((size_t)s->naxes + 1, sizeof *vals);
    if (!vals || nest_values(em, n, vals) != 0) {
        free(vals);
        return NULL;
    }
    const tt_tensor *t = s->stage->output;
    tt_stmt *parts[2] = {NULL, NULL};
    if (!store && !epi)
        return tt_stmt_seq(0, parts);
    int np = 0;
    bool ok = true;
    tt_expr *ai = acc_index(em, n, vals);
    tt_expr *cur = ai ? tt_expr_load(em->acc, ai) : NULL;
    tt_expr *out_idx = out_index(s, vals);
    ok = cur && out_idx;
    if (ok && store)
        ok = (parts[np++] = tt_stmt_store(s->buf, out_idx, cur)) != NULL;
    if (ok && epi) {
        const lw_stage *X = &x->st[s->epilogue];
        tt_expr *v = lw_lower_expr(x, X->body, X->stage->naxes, X->stage->axes, vals, t, cur);
        ok = v && (parts[np++] = tt_stmt_store(X->buf, out_idx, v)) != NULL;
        tt_expr_release(v);
    }
    tt_stmt *r = ok ? (np == 1 ? tt_stmt_retain(parts[0]) : tt_stmt_seq(np, parts)) : NULL;
    for (int i = 0; i < np; i++)
        tt_stmt_release(parts[i]);
    release_all(s->naxes, vals);
    free(vals);
    tt_expr_release(ai);
    tt_expr_release(cur);
    tt_expr_release(out_idx);
    return r;
}

/* kind's nest over the tile's spatial loops (fresh variables): init or reload. */
static tt_stmt *fill_nest(emitter *em, leaf_kind kind)
{
    nest n;
    if (nest_make(em->s, em->tile, em->s->nloops, true, true, &n) != 0)
        return NULL;
    tt_stmt *leaf = stage_leaf(em, &n, kind);
    tt_stmt *r = leaf ? wrap_nest(em, &n, leaf, false, false) : NULL;
    nest_free(&n);
    return r;
}

/* The write-back nest over the tile's spatial loops: a store to the stage's buffer, the
 * epilogue, or both. */
static tt_stmt *write_nest(emitter *em, bool store, bool epi)
{
    nest n;
    if (nest_make(em->s, em->tile, em->s->nloops, true, true, &n) != 0)
        return NULL;
    tt_stmt *leaf = write_leaf(em, &n, store, epi);
    tt_stmt *r = leaf ? wrap_nest(em, &n, leaf, false, false) : NULL;
    nest_free(&n);
    return r;
}

/* "every reduce loop above the tile is at its first (last) iteration". New reference. */
static tt_expr *block_cond(const emitter *em, bool last)
{
    tt_expr *c = NULL;
    for (int p = 0; p < em->tile; p++) {
        const lw_loop *l = &em->s->loops[p];
        if (!l->reduce)
            continue;
        tt_expr *v = tt_expr_int(last ? l->extent - 1 : 0);
        tt_expr *eq = v ? tt_expr_binary(TT_EXPR_EQ, l->var, v) : NULL;
        tt_expr *both = eq && c ? tt_expr_binary(TT_EXPR_AND, c, eq) : tt_expr_retain(eq);
        tt_expr_release(v);
        tt_expr_release(eq);
        tt_expr_release(c);
        if (!(c = both))
            return NULL;
    }
    return c;
}

/* if (cond) a else b; takes a and b. */
static tt_stmt *branch(tt_expr *cond, tt_stmt *a, tt_stmt *b)
{
    tt_stmt *r = cond && a && b ? tt_stmt_if(cond, a, b) : NULL;
    tt_expr_release(cond);
    tt_stmt_release(a);
    tt_stmt_release(b);
    return r;
}

/* init; main; write-back/epilogue, at the tile root. */
static tt_stmt *tile_block(emitter *em)
{
    lw_stage *s = em->s;
    bool red = s->body->kind == TT_EXPR_REDUCE;
    tt_stmt *parts[3] = {NULL, NULL, NULL};
    int np = 0;
    bool ok = true;
    nest n;
    if (red && em->blocked)
        ok = (parts[np++] = branch(block_cond(em, false), fill_nest(em, LEAF_INIT),
                                   fill_nest(em, LEAF_RELOAD))) != NULL;
    else if (red)
        ok = (parts[np++] = fill_nest(em, LEAF_INIT)) != NULL;
    if (ok && (ok = nest_make(s, em->tile, s->nloops, false, false, &n) == 0)) {
        tt_stmt *leaf = stage_leaf(em, &n, LEAF_MAIN);
        ok = leaf && (parts[np++] = wrap_nest(em, &n, leaf, true, true)) != NULL;
        nest_free(&n);
    }
    bool store = s->cache_loop && s->buf, epi = s->epilogue >= 0;
    if (ok && em->blocked && epi) /* the buffer keeps partial sums; the last block is final */
        ok = (parts[np++] = branch(block_cond(em, true), write_nest(em, !s->buf_for_blocks, true),
                                   write_nest(em, true, false))) != NULL;
    else if (ok && (store || epi))
        ok = (parts[np++] = write_nest(em, store, epi)) != NULL;
    tt_stmt *r = ok ? tt_stmt_seq(np, parts) : NULL;
    for (int i = 0; i < np; i++)
        tt_stmt_release(parts[i]);
    if (r && s->cache_loop) {
        tt_stmt *a = tt_stmt_alloc(em->acc, r);
        tt_stmt_release(r);
        r = a;
    }
    return r;
}

bool lw_cache_blocked(const lw_stage *s)
{
    if (!s->cache_loop || s->body->kind != TT_EXPR_REDUCE)
        return false;
    int p = *s->cache_loop ? lw_loop_index(s, s->cache_loop) : -1;
    for (int q = 0; q <= p; q++)
        if (s->loops[q].reduce)
            return true;
    return false;
}

/* The tile root and the tile buffer; checks cache_write's constraints. */
static int plan_tile(emitter *em)
{
    lw_stage *s = em->s;
    int r = 0;
    while (r < s->nloops && !s->loops[r].reduce)
        r++;
    if (!s->cache_loop) {
        em->tile = r;
        em->acc = s->buf;
        return 0;
    }
    int p = *s->cache_loop ? lw_loop_index(s, s->cache_loop) : -1;
    if (*s->cache_loop && p < 0)
        return lw_step_error(em->x, s->cache_step, "no loop %s in stage %s", s->cache_loop,
                             s->stage->output->name);
    if (p >= 0 && s->loops[p].kind == TT_FOR_VECTORIZED)
        return lw_step_error(em->x, s->cache_step, "loop %s is vectorized", s->cache_loop);
    em->tile = p + 1;
    em->blocked = lw_cache_blocked(s);
    /* The epilogue runs at the last reduce block: a guard skipping that block (a reduce axis
     * whose split parts all lie above the tile) would skip it too. */
    for (int g = 0; em->blocked && s->epilogue >= 0 && g < s->nguards; g++)
        if (s->guards[g].reduce && em->gpos[g] >= 0 && em->gpos[g] < em->tile)
            return lw_step_error(em->x, s->cache_step,
                                 "the guard of reduce loop %s lies outside the tile, where the "
                                 "epilogue needs every last reduce block",
                                 s->loops[em->gpos[g]].name);
    int nd = 0;
    int64_t shape[64];
    for (int q = em->tile; q < s->nloops; q++) {
        if (s->loops[q].kind == TT_FOR_PARALLEL)
            return lw_step_error(em->x, s->cache_step, "parallel loop %s lies inside the tile",
                                 s->loops[q].name);
        if (!s->loops[q].reduce && nd < 64)
            shape[nd++] = s->loops[q].extent;
    }
    size_t len = strlen(s->stage->output->name) + 7;
    char *name = malloc(len);
    if (!name)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(name, len, "%s.local", s->stage->output->name);
    int64_t numel = 1;
    for (int d = 0; d < nd; d++)
        numel *= shape[d];
    DLDataType dt = s->stage->output->dtype;
    em->acc = tt_buffer_new(name, dt, nd, shape,
                            numel * (dt.bits / 8) <= 16384 ? TT_SCOPE_LOCAL : TT_SCOPE_WORKSPACE);
    free(name);
    return em->acc ? 0 : -1;
}

tt_stmt *lw_emit_stage(lw_ctx *x, int i)
{
    emitter em = {.x = x, .s = &x->st[i], .idx = i};
    lw_stage *s = em.s;
    em.gpos = calloc((size_t)s->nguards + 1, sizeof *em.gpos);
    if (!em.gpos) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int g = 0; g < s->nguards; g++)
        em.gpos[g] = lw_innermost_use(s, s->guards[g].value);
    tt_stmt *r = NULL;
    if (plan_tile(&em) == 0) {
        if (!em.acc) {
            tt_error_set("lower: stage %s has no buffer", s->stage->output->name);
        } else {
            tt_stmt *tile = tile_block(&em);
            nest outer;
            if (tile && nest_make(s, 0, em.tile, false, false, &outer) == 0) {
                r = wrap_nest(&em, &outer, tile, true, true);
                /* Guards that use no loop (region bounds of an attached stage) wrap it all. */
                r = r ? wrap_guards(&em, &outer, -1, true, r) : NULL;
                nest_free(&outer);
            } else {
                tt_stmt_release(tile);
            }
        }
    }
    if (s->cache_loop)
        tt_buffer_release(em.acc);
    free(em.gpos);
    return r;
}
