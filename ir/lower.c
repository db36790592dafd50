/* Lowering, part one: replays a schedule's steps on each stage's loop nest (split, reorder,
 * fuse, annotations), decides where stages live (inlined, fused as an epilogue, computed at a
 * consumer's loop over an inferred region) and which buffers they need. ir/lower_emit.c then
 * writes the loop IR. */
#include "ir/lower_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_BYTES 16384

int lw_step_error(const lw_ctx *x, int step, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const tt_step *st = tt_schedule_step(x->s, step);
    return tt_error_set("step %d (%s): %s", step, st ? tt_step_describe(st) : "?", msg);
}

int lw_stage_index(const lw_ctx *x, const char *name)
{
    for (int i = 0; name && i < x->n; i++)
        if (strcmp(x->st[i].stage->output->name, name) == 0)
            return i;
    return -1;
}

int lw_loop_index(const lw_stage *s, const char *name)
{
    for (int i = 0; name && i < s->nloops; i++)
        if (strcmp(s->loops[i].name, name) == 0)
            return i;
    return -1;
}

int lw_innermost_use(const lw_stage *s, const tt_expr *e)
{
    for (int i = s->nloops - 1; i >= 0; i--)
        if (tt_expr_uses_var(e, s->loops[i].var))
            return i;
    return -1;
}

tt_expr *lw_flat(int n, tt_expr *const *idx, const int64_t *shape)
{
    tt_expr *acc = tt_expr_int(0);
    for (int d = 0; acc && d < n; d++)
        acc = tt_expr_add_s(tt_expr_mul_s(acc, tt_expr_int(shape[d])), tt_expr_retain(idx[d]));
    return acc;
}

/* ---- where stages live ---- */

static bool identity_access(const tt_expr *e, const tt_stage *consumer)
{
    if (e->nargs != consumer->naxes)
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i] != consumer->axes[i]->var)
            return false;
    return true;
}

/* Every read of t in e is at the consumer's own axes. */
static bool all_identity(const tt_expr *e, const tt_tensor *t, const tt_stage *consumer)
{
    if (e->kind == TT_EXPR_ACCESS && e->tensor == t && !identity_access(e, consumer))
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!all_identity(e->args[i], t, consumer))
            return false;
    return true;
}

/* The epilogue rule on the output's body (with the inlined stages substituted): the output
 * fuses into the latest stage before it that the body reads, is not inlined, is read only at the
 * output's own axes and has the output's shape. Returns that stage or -1; *blocker is a later
 * stage, not inlined, that the body also reads (fusion then fails), else -1. */
static int epilogue_producer(const tt_compute *c, const tt_expr *body, const bool *inlined,
                             int *blocker)
{
    int out = c->nstages - 1;
    const tt_stage *O = c->stages[out];
    const tt_tensor *ot = O->output;
    *blocker = -1;
    for (int p = out - 1; p >= 0; p--) {
        const tt_tensor *pt = c->stages[p]->output;
        if (inlined[p] || !tt_expr_reads(body, pt) || !all_identity(body, pt, O))
            continue;
        if (pt->ndim != ot->ndim ||
            memcmp(pt->shape, ot->shape, (size_t)pt->ndim * sizeof *pt->shape))
            continue;
        for (int q = p + 1; q < out && *blocker < 0; q++)
            if (!inlined[q] && tt_expr_reads(body, c->stages[q]->output))
                *blocker = q;
        return p;
    }
    return -1;
}

int tt_lower_epilogue(const tt_compute *c, const bool *inlined, int *producer)
{
    *producer = -1;
    int out = c->nstages - 1;
    if (out < 0 || c->stages[out]->body->kind == TT_EXPR_REDUCE)
        return 0;
    /* latest first: a stage inlined into another is substituted with it, then on its own */
    tt_expr *body = tt_expr_retain(c->stages[out]->body);
    for (int x = out - 1; body && x >= 0; x--) {
        if (!inlined[x])
            continue;
        tt_expr *b = tt_expr_inline_reads(body, c->stages[x]->output, c->stages[x]->axes,
                                          c->stages[x]->body);
        tt_expr_release(body);
        body = b;
    }
    if (!body)
        return -1;
    int blocker, p = epilogue_producer(c, body, inlined, &blocker);
    tt_expr_release(body);
    *producer = blocker < 0 ? p : -1;
    return 0;
}

static int do_inline(lw_ctx *x, int si, int i)
{
    lw_stage *s = &x->st[i];
    if (s->place != LW_ROOT)
        return lw_step_error(x, si, "stage %s is already inlined, fused or attached",
                             s->stage->output->name);
    if (s->body->kind == TT_EXPR_REDUCE)
        return lw_step_error(x, si, "stage %s is a reduction, not elementwise",
                             s->stage->output->name);
    if (i < x->n - 1) {
        for (int j = i + 1; j < x->n; j++) {
            tt_expr *b =
                tt_expr_inline_reads(x->st[j].body, s->stage->output, s->stage->axes, s->body);
            if (!b)
                return -1;
            tt_expr_release(x->st[j].body);
            x->st[j].body = b;
        }
        s->place = LW_INLINED;
        return 0;
    }
    /* The output: an epilogue of the latest stage it reads at its own axes. */
    bool *inlined = calloc((size_t)x->n, sizeof *inlined);
    if (!inlined)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int j = 0; j < x->n; j++)
        inlined[j] = x->st[j].place == LW_INLINED;
    int q, p = epilogue_producer(x->c, s->body, inlined, &q);
    free(inlined);
    if (p < 0)
        return lw_step_error(x, si,
                             "output %s reads no stage at its own indices: nothing to fuse into",
                             s->stage->output->name);
    lw_stage *P = &x->st[p];
    if (P->place != LW_ROOT || P->epilogue >= 0)
        return lw_step_error(x, si, "producer %s is not a root stage", P->stage->output->name);
    if (q >= 0)
        return lw_step_error(x, si, "%s also reads %s, computed after %s", s->stage->output->name,
                             x->st[q].stage->output->name, P->stage->output->name);
    P->epilogue = i;
    s->producer = p;
    s->place = LW_EPILOGUE;
    return 0;
}

/* Pass 1: sorts steps to their stages, applies inlining, records placements. */
static int place_steps(lw_ctx *x)
{
    for (int si = 0; si < tt_schedule_size(x->s); si++) {
        const tt_step *st = tt_schedule_step(x->s, si);
        int i = lw_stage_index(x, st->stage);
        if (i < 0)
            return lw_step_error(x, si, "no stage %s", st->stage);
        lw_stage *s = &x->st[i];
        switch (st->kind) {
        case TT_STEP_INLINE:
            if (do_inline(x, si, i) != 0)
                return -1;
            break;
        case TT_STEP_CACHE_WRITE:
            if (s->cache_loop)
                return lw_step_error(x, si, "stage %s already has a cache_write", st->stage);
            s->cache_loop = st->loops[0];
            s->cache_step = si;
            break;
        case TT_STEP_COMPUTE_AT: {
            int c = lw_stage_index(x, st->target);
            if (c < 0)
                return lw_step_error(x, si, "no stage %s", st->target);
            if (c <= i)
                return lw_step_error(x, si, "stage %s does not come after %s", st->target,
                                     st->stage);
            if (s->place != LW_ROOT)
                return lw_step_error(x, si, "stage %s is already inlined, fused or attached",
                                     st->stage);
            if (i == x->n - 1)
                return lw_step_error(x, si, "the output stage cannot be attached");
            if (s->epilogue >= 0)
                return lw_step_error(x, si, "stage %s has a fused epilogue", st->stage);
            s->place = LW_ATTACHED;
            s->attach_to = c;
            s->attach_loop = st->loops[0];
            s->attach_step = si;
            break;
        }
        case TT_STEP_PACK:
            if (lw_pack_record(x, si, i) != 0)
                return -1;
            break;
        default: {
            int *n = realloc(s->steps, (size_t)(s->nsteps + 1) * sizeof *n);
            if (!n)
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            s->steps = n;
            s->steps[s->nsteps++] = si;
            break;
        }
        }
    }
    for (int i = 0; i < x->n; i++) {
        lw_stage *s = &x->st[i];
        if (s->place != LW_INLINED && s->place != LW_EPILOGUE)
            continue;
        const char *how = s->place == LW_INLINED ? "inlined" : "fused as an epilogue";
        if (s->nsteps > 0)
            return lw_step_error(x, s->steps[0], "stage %s is %s", s->stage->output->name, how);
        if (s->cache_loop)
            return lw_step_error(x, s->cache_step, "stage %s is %s", s->stage->output->name, how);
    }
    return 0;
}

typedef struct {
    int n;
    tt_expr *const *vars;
} var_list;

static bool not_listed(const void *ctx, const tt_expr *var)
{
    const var_list *l = ctx;
    for (int i = 0; i < l->n; i++)
        if (l->vars[i] == var)
            return false;
    return true;
}

typedef struct {
    int ndim;
    tt_expr **base;   /* per dim: the first read's index with the inner loops at 0 */
    int64_t *lo, *hi; /* offsets from base */
    bool *whole;      /* the region cannot be bounded: take the whole dimension */
    int count;
} region_acc;

/* Widens the region by one read of the producer at the consumer's loop q. */
static int region_add(region_acc *r, const tt_expr *access, const lw_ctx *x, const lw_stage *C,
                      int q, tt_expr *const *cvals)
{
    int inner = C->nloops - q - 1;
    tt_expr **ivars = calloc((size_t)inner + 1, sizeof *ivars),
            **zeros = calloc((size_t)inner + 1, sizeof *zeros);
    tt_var_range *rng = calloc((size_t)inner + 1, sizeof *rng);
    tt_expr **cvars = calloc((size_t)C->naxes + 1, sizeof *cvars);
    int rc =
        ivars && zeros && rng && cvars ? 0 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    tt_expr *zero = tt_expr_int(0);
    for (int k = 0; rc == 0 && k < inner; k++) {
        const lw_loop *l = &C->loops[q + 1 + k];
        ivars[k] = l->var;
        zeros[k] = zero;
        rng[k] = (tt_var_range){l->var, 0, l->extent - 1};
    }
    for (int a = 0; rc == 0 && a < C->naxes; a++)
        cvars[a] = C->axes[a]->var;
    for (int d = 0; rc == 0 && d < r->ndim; d++) {
        tt_expr *raw = tt_expr_substitute(access->args[d], C->naxes, cvars, cvals);
        tt_expr *idx = raw ? tt_simplify(raw) : NULL;
        tt_expr *b0 = idx ? tt_expr_substitute(idx, inner, ivars, zeros) : NULL;
        tt_expr *base = b0 ? tt_simplify(b0) : NULL;
        tt_expr *df = base ? tt_expr_binary(TT_EXPR_SUB, idx, base) : NULL;
        tt_expr *diff = df ? tt_simplify_ranged(df, inner, rng) : NULL;
        int64_t lo = 0, hi = 0;
        if (!diff) {
            rc = -1;
        } else if (tt_expr_any_var(diff, not_listed, &(var_list){inner, ivars}) ||
                   !tt_expr_bounds(diff, inner, rng, &lo, &hi)) {
            r->whole[d] = true;
        } else if (r->count == 0) {
            r->base[d] = tt_expr_retain(base);
            r->lo[d] = lo;
            r->hi[d] = hi;
        } else if (!r->whole[d]) {
            tt_expr *dd = tt_expr_binary(TT_EXPR_SUB, base, r->base[d]);
            tt_expr *delta = dd ? tt_simplify(dd) : NULL;
            int64_t k;
            if (delta && tt_expr_is_const(delta, &k)) {
                r->lo[d] = lo + k < r->lo[d] ? lo + k : r->lo[d];
                r->hi[d] = hi + k > r->hi[d] ? hi + k : r->hi[d];
            } else {
                r->whole[d] = true;
            }
            tt_expr_release(dd);
            tt_expr_release(delta);
        }
        tt_expr_release(raw);
        tt_expr_release(idx);
        tt_expr_release(b0);
        tt_expr_release(base);
        tt_expr_release(df);
        tt_expr_release(diff);
    }
    if (rc == 0)
        r->count++;
    tt_expr_release(zero);
    free(ivars);
    free(zeros);
    free(rng);
    free(cvars);
    (void)x;
    return rc;
}

static int region_walk(region_acc *r, const tt_expr *e, const tt_tensor *t, const lw_ctx *x,
                       const lw_stage *C, int q, tt_expr *const *cvals)
{
    if (e->kind == TT_EXPR_ACCESS && e->tensor == t && region_add(r, e, x, C, q, cvals) != 0)
        return -1;
    for (int i = 0; i < e->nargs; i++)
        if (region_walk(r, e->args[i], t, x, C, q, cvals) != 0)
            return -1;
    return 0;
}

/* Bound inference for compute_at: the box of producer i that consumer C's body reads below
 * loop q, as offsets from the first read's index with the inner loops at 0 (affine reads give
 * a constant-size box; anything else takes the whole dimension). */
static int infer_region(lw_ctx *x, int i)
{
    lw_stage *P = &x->st[i], *C = &x->st[P->attach_to];
    const tt_tensor *t = P->stage->output;
    int si = P->attach_step;
    if (C->place != LW_ROOT && C->place != LW_ATTACHED)
        return lw_step_error(x, si, "stage %s is inlined or fused", C->stage->output->name);
    if (!tt_expr_reads(C->body, t))
        return lw_step_error(x, si, "stage %s does not read %s", C->stage->output->name, t->name);
    for (int j = 0; j < x->n; j++)
        if (j != P->attach_to && x->st[j].place != LW_INLINED && tt_expr_reads(x->st[j].body, t))
            return lw_step_error(x, si, "%s is also read by %s", t->name,
                                 x->st[j].stage->output->name);
    int q = lw_loop_index(C, P->attach_loop);
    if (q < 0)
        return lw_step_error(x, si, "no loop %s in stage %s", P->attach_loop,
                             C->stage->output->name);
    /* A vectorized loop stays innermost: nothing may be nested in it. */
    if (C->loops[q].kind == TT_FOR_VECTORIZED)
        return lw_step_error(x, si, "loop %s of %s is vectorized", P->attach_loop,
                             C->stage->output->name);
    int nd = t->ndim;
    region_acc r = {nd,
                    calloc((size_t)nd + 1, sizeof(tt_expr *)),
                    calloc((size_t)nd + 1, sizeof(int64_t)),
                    calloc((size_t)nd + 1, sizeof(int64_t)),
                    calloc((size_t)nd + 1, sizeof(bool)),
                    0};
    tt_expr **cvals = calloc((size_t)C->naxes + 1, sizeof *cvals);
    P->region_lo = calloc((size_t)nd + 1, sizeof *P->region_lo);
    P->region_ext = calloc((size_t)nd + 1, sizeof *P->region_ext);
    int rc = r.base && r.lo && r.hi && r.whole && cvals && P->region_lo && P->region_ext
                 ? 0
                 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (rc == 0)
        rc = lw_eval_values(x, C, C->val, cvals);
    if (rc == 0)
        rc = region_walk(&r, C->body, t, x, C, q, cvals);
    bool *guard = calloc((size_t)nd + 1, sizeof *guard);
    for (int d = 0; rc == 0 && d < nd; d++) {
        int64_t ext = r.hi[d] - r.lo[d] + 1;
        if (r.whole[d] || ext >= t->shape[d]) {
            P->region_lo[d] = tt_expr_int(0);
            P->region_ext[d] = t->shape[d];
        } else {
            tt_expr *l = tt_expr_add_s(tt_expr_retain(r.base[d]), tt_expr_int(r.lo[d]));
            P->region_lo[d] = l ? tt_simplify(l) : NULL;
            tt_expr_release(l);
            P->region_ext[d] = ext;
            guard[d] = true;
        }
        if (!P->region_lo[d])
            rc = -1;
    }
    if (rc == 0)
        rc = lw_build_nest(x, i, P->region_ext);
    /* Region points outside the producer's tensor are not computed. */
    for (int d = 0; rc == 0 && d < nd; d++) {
        if (!guard[d])
            continue;
        tt_expr *v = tt_expr_add_s(tt_expr_retain(P->region_lo[d]), tt_expr_retain(P->val[d]));
        rc = v ? lw_add_guard(P, v, 0, t->shape[d], false) : -1;
        tt_expr_release(v);
    }
    for (int d = 0; d < nd; d++)
        if (r.base)
            tt_expr_release(r.base[d]);
    for (int a = 0; cvals && a < C->naxes; a++)
        tt_expr_release(cvals[a]);
    free(cvals);
    free(guard);
    free(r.base);
    free(r.lo);
    free(r.hi);
    free(r.whole);
    return rc;
}

int lw_eval_values(const lw_ctx *x, const lw_stage *s, tt_expr *const *val, tt_expr **out)
{
    for (int a = 0; a < s->naxes; a++) {
        if (s->place == LW_ATTACHED && a < s->stage->naxes)
            out[a] = tt_expr_add_s(tt_expr_retain(s->region_lo[a]), tt_expr_retain(val[a]));
        else
            out[a] = tt_expr_retain(val[a]);
        if (!out[a]) {
            while (a-- > 0)
                tt_expr_release(out[a]);
            return -1;
        }
    }
    (void)x;
    return 0;
}

/* ---- from compute form to loop IR ---- */

typedef struct {
    const lw_ctx *x;
    const tt_tensor *over;
    tt_expr *over_value;
} load_ctx;

static tt_expr *access_to_load(const load_ctx *l, const tt_expr *e, tt_expr *const *idx)
{
    const lw_ctx *x = l->x;
    const tt_tensor *t = e->tensor;
    for (int k = 0; k < x->c->ninputs; k++)
        if (x->c->inputs[k] == t && x->packed[k]) {
            return lw_pack_load(x, k, idx);
        } else if (x->c->inputs[k] == t) {
            tt_expr *flat = lw_flat(t->ndim, idx, t->shape);
            tt_expr *r = flat ? tt_expr_load(x->inbuf[k], flat) : NULL;
            tt_expr_release(flat);
            return r;
        }
    for (int j = 0; j < x->n; j++) {
        const lw_stage *s = &x->st[j];
        if (s->stage->output != t)
            continue;
        if (!s->buf) {
            tt_error_set("lower: %s is read but has no buffer", t->name);
            return NULL;
        }
        tt_expr *flat = NULL;
        if (s->place == LW_ATTACHED) {
            tt_expr **rel = calloc((size_t)t->ndim + 1, sizeof *rel);
            int d = 0;
            for (; rel && d < t->ndim; d++) {
                rel[d] = tt_expr_binary(TT_EXPR_SUB, idx[d], s->region_lo[d]);
                if (!rel[d])
                    break;
            }
            if (rel && d == t->ndim)
                flat = lw_flat(t->ndim, rel, s->region_ext);
            while (rel && d-- > 0)
                tt_expr_release(rel[d]);
            free(rel);
        } else {
            flat = lw_flat(t->ndim, idx, t->shape);
        }
        tt_expr *r = flat ? tt_expr_load(s->buf, flat) : NULL;
        tt_expr_release(flat);
        return r;
    }
    tt_error_set("lower: %s is neither an input nor a stage of %s", t->name, x->c->name);
    return NULL;
}

static tt_expr *to_loads(const tt_expr *e, void *ctx)
{
    const load_ctx *l = ctx;
    if (e->kind == TT_EXPR_ACCESS && e->tensor == l->over)
        return tt_expr_retain(l->over_value);
    if (e->kind == TT_EXPR_REDUCE) {
        tt_error_set("lower: a reduction inside an expression (the front end splits these)");
        return NULL;
    }
    tt_expr *m = tt_expr_map_args(e, to_loads, ctx);
    if (!m || m->kind != TT_EXPR_ACCESS)
        return m;
    tt_expr *r = access_to_load(l, m, m->args);
    tt_expr_release(m);
    return r;
}

tt_expr *lw_lower_expr(const lw_ctx *x, const tt_expr *body, int naxes, tt_iter_var *const *axes,
                       tt_expr *const *values, const tt_tensor *override_tensor,
                       tt_expr *override_value)
{
    const tt_expr *src = body->kind == TT_EXPR_REDUCE ? body->args[0] : body;
    tt_expr **vars = calloc((size_t)naxes + 1, sizeof *vars);
    if (!vars) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    for (int a = 0; a < naxes; a++)
        vars[a] = axes[a]->var;
    tt_expr *sub = tt_expr_substitute(src, naxes, vars, values);
    free(vars);
    if (!sub)
        return NULL;
    load_ctx l = {x, override_tensor, override_value};
    tt_expr *r = to_loads(sub, &l);
    tt_expr_release(sub);
    return r;
}

/* ---- the driver ---- */

static tt_buffer *scratch(const char *name, DLDataType t, int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    tt_scope scope = n * (t.bits / 8) <= LOCAL_BYTES ? TT_SCOPE_LOCAL : TT_SCOPE_WORKSPACE;
    return tt_buffer_new(name, t, ndim, shape, scope);
}

static int make_buffers(lw_ctx *x)
{
    const tt_compute *c = x->c;
    for (int k = 0; k < c->ninputs; k++) {
        const tt_tensor *t = c->inputs[k];
        if (!(x->inbuf[k] = tt_buffer_new(t->name, t->dtype, t->ndim, t->shape, TT_SCOPE_GLOBAL)))
            return -1;
    }
    for (int i = 0; i < x->n; i++) {
        lw_stage *s = &x->st[i];
        const tt_tensor *t = s->stage->output;
        if (i == x->n - 1) {
            s->buf = tt_buffer_new(t->name, t->dtype, t->ndim, t->shape, TT_SCOPE_GLOBAL);
        } else if (s->place == LW_ATTACHED) {
            s->buf = scratch(t->name, t->dtype, t->ndim, s->region_ext);
        } else if (s->place == LW_ROOT) {
            /* A cached stage needs its tensor only when someone reads it from memory, or for
             * the partial sums of reduce blocks. */
            bool needed = !s->cache_loop;
            for (int j = 0; !needed && j < x->n; j++)
                needed = j != s->epilogue && x->st[j].place != LW_INLINED && j != i &&
                         tt_expr_reads(x->st[j].body, t);
            s->buf_for_blocks = !needed && lw_cache_blocked(s);
            if (needed || s->buf_for_blocks)
                s->buf = scratch(t->name, t->dtype, t->ndim, t->shape);
            else
                continue;
        } else {
            continue;
        }
        if (!s->buf)
            return -1;
    }
    return 0;
}

static void ctx_free(lw_ctx *x)
{
    for (int i = 0; x->st && i < x->n; i++) {
        lw_stage *s = &x->st[i];
        lw_stage_clear(s);
        tt_expr_release(s->body);
        free(s->steps);
        tt_buffer_release(s->buf);
        for (int d = 0; s->region_lo && d < s->stage->output->ndim; d++)
            tt_expr_release(s->region_lo[d]);
        free(s->region_lo);
        free(s->region_ext);
    }
    free(x->st);
    for (int k = 0; x->inbuf && k < x->c->ninputs; k++)
        tt_buffer_release(x->inbuf[k]);
    for (int k = 0; x->packed && k < x->c->ninputs; k++)
        tt_buffer_release(x->packed[k]);
    free(x->inbuf);
    free(x->packed);
    free(x->pack_dim);
    free(x->pack_factor);
}

/* Root stages in order, intermediate buffers allocated around everything. */
static tt_stmt *emit_kernel_body(lw_ctx *x)
{
    tt_stmt **parts = calloc((size_t)x->n + 1, sizeof *parts);
    if (!parts) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    int n = 0;
    tt_stmt *body = NULL;
    bool ok = true;
    for (int i = 0; i < x->n && ok; i++)
        if (x->st[i].place == LW_ROOT)
            ok = (parts[n++] = lw_emit_stage(x, i)) != NULL;
    if (ok)
        body = tt_stmt_seq(n, parts);
    body = body ? lw_pack_wrap(x, body) : NULL;
    for (int i = 0; i < n; i++)
        tt_stmt_release(parts[i]);
    free(parts);
    for (int i = x->n - 2; body && i >= 0; i--) {
        lw_stage *s = &x->st[i];
        if (s->place != LW_ROOT || !s->buf)
            continue;
        tt_stmt *a = tt_stmt_alloc(s->buf, body);
        tt_stmt_release(body);
        body = a;
    }
    return body;
}

/* Everything before emission: placements, each stage's nest after its steps. */
static int prepare(lw_ctx *x, const tt_compute *c, const tt_schedule *s)
{
    *x = (lw_ctx){.c = c, .s = s, .n = c->nstages};
    size_t ni = (size_t)c->ninputs + 1;
    x->st = calloc((size_t)c->nstages, sizeof *x->st);
    x->inbuf = calloc(ni, sizeof *x->inbuf);
    x->packed = calloc(ni, sizeof *x->packed);
    x->pack_dim = calloc(ni, sizeof *x->pack_dim);
    x->pack_factor = calloc(ni, sizeof *x->pack_factor);
    if (!x->st || !x->inbuf || !x->packed || !x->pack_dim || !x->pack_factor)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < x->n; i++)
        x->st[i] = (lw_stage){.stage = c->stages[i],
                              .body = tt_expr_retain(c->stages[i]->body),
                              .epilogue = -1,
                              .producer = -1,
                              .attach_to = -1};
    if (place_steps(x) != 0)
        return -1;
    /* Consumers first: a compute_at region depends on the consumer's final nest. */
    for (int i = x->n - 1; i >= 0; i--) {
        lw_stage *st = &x->st[i];
        int rc = 0;
        if (st->place == LW_ATTACHED)
            rc = infer_region(x, i);
        else if (st->place == LW_ROOT)
            rc = lw_build_nest(x, i, st->stage->output->shape);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int tt_lower(const tt_compute *c, const tt_schedule *s, const char *kernel_name, tt_kernel **out)
{
    *out = NULL;
    if (!c || !kernel_name || !*kernel_name)
        return tt_error_set("lower: needs a compute and a kernel name");
    tt_schedule *empty = NULL;
    if (!s && !(s = empty = tt_schedule_new()))
        return -1;
    lw_ctx x;
    int rc = prepare(&x, c, s);
    if (rc == 0)
        rc = make_buffers(&x);
    tt_stmt *body = rc == 0 ? emit_kernel_body(&x) : NULL;
    tt_stmt *simple = body ? tt_simplify_stmt(body) : NULL;
    /* hoisting works on simplified (canonical affine) conditions; its checks are then folded */
    tt_stmt *hoisted = simple ? lw_hoist_selects(simple) : NULL;
    tt_stmt_release(simple);
    tt_stmt *peeled = hoisted ? lw_peel_tails(hoisted) : NULL;
    tt_stmt_release(hoisted);
    simple = peeled ? tt_simplify_stmt(peeled) : NULL;
    tt_stmt_release(peeled);
    if (simple) {
        tt_buffer **params = calloc((size_t)c->ninputs + 1, sizeof *params);
        if (params) {
            for (int k = 0; k < c->ninputs; k++)
                params[k] = x.inbuf[k];
            params[c->ninputs] = x.st[x.n - 1].buf;
            *out = tt_kernel_new(kernel_name, c->ninputs + 1, params, simple);
        } else {
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        }
        free(params);
    }
    tt_stmt_release(body);
    tt_stmt_release(simple);
    ctx_free(&x);
    tt_schedule_free(empty);
    return *out ? 0 : -1;
}

void tt_loop_info_free(tt_loop_info *loops, int n)
{
    for (int i = 0; loops && i < n; i++)
        free(loops[i].name);
    free(loops);
}

int tt_lower_loops(const tt_compute *c, const tt_schedule *s, const char *stage, int *n,
                   tt_loop_info **out)
{
    *n = 0;
    *out = NULL;
    if (!c || !stage)
        return tt_error_set("lower_loops: needs a compute and a stage name");
    tt_schedule *empty = NULL;
    if (!s && !(s = empty = tt_schedule_new()))
        return -1;
    lw_ctx x;
    int rc = prepare(&x, c, s);
    int i = rc == 0 ? lw_stage_index(&x, stage) : -1;
    if (rc == 0 && i < 0)
        rc = tt_error_set("lower_loops: no stage %s in %s", stage, c->name);
    const lw_stage *st = rc == 0 ? &x.st[i] : NULL;
    if (st && st->place != LW_ROOT && st->place != LW_ATTACHED)
        rc = tt_error_set("lower_loops: stage %s is %s: it has no loops of its own", stage,
                          st->place == LW_INLINED ? "inlined" : "fused as an epilogue");
    if (rc == 0) {
        tt_loop_info *l = calloc((size_t)st->nloops + 1, sizeof *l);
        for (int k = 0; l && k < st->nloops; k++) {
            const lw_loop *lp = &st->loops[k];
            l[k] = (tt_loop_info){strdup(lp->name), lp->extent, lp->reduce, lp->kind};
            if (!l[k].name) {
                tt_loop_info_free(l, k);
                l = NULL;
            }
        }
        if (l) {
            *out = l;
            *n = st->nloops;
        } else {
            rc = tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    ctx_free(&x);
    tt_schedule_free(empty);
    return rc;
}
