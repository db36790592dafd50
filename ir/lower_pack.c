/* Lowering, layout packing of inputs: the pack step copies an input into panels at the start of
 * the kernel (B[K,N] by dim 1, factor 16 -> Bp[ceil(N/16)][K][16], zero padded) so the inner
 * loops of a consumer walk it with unit stride; every read of the input then goes to the panels.
 * ir/lower.c records the step, this file writes the copy and rewrites the indices. */
#include "ir/lower_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lw_pack_record(lw_ctx *x, int si, int stage)
{
    const tt_step *st = tt_schedule_step(x->s, si);
    const tt_compute *c = x->c;
    int k = 0;
    while (k < c->ninputs && strcmp(c->inputs[k]->name, st->tensor) != 0)
        k++;
    if (k == c->ninputs)
        return lw_step_error(x, si, "no input %s", st->tensor);
    const tt_tensor *t = c->inputs[k];
    if (st->dim < 0 || st->dim >= t->ndim)
        return lw_step_error(x, si, "dim %d of %s, expected 0..%d", st->dim, t->name, t->ndim - 1);
    if (st->factor <= 0)
        return lw_step_error(x, si, "factor %lld, expected > 0", (long long)st->factor);
    if (st->factor > t->shape[st->dim] && st->factor > 64) /* as split: padding, not panels */
        return lw_step_error(x, si, "factor %lld is more than dim %d of %s (%lld)",
                             (long long)st->factor, st->dim, t->name, (long long)t->shape[st->dim]);
    if (!tt_expr_reads(x->st[stage].body, t))
        return lw_step_error(x, si, "stage %s does not read %s", st->stage, t->name);
    if (x->packed[k])
        return lw_step_error(x, si, "%s is already packed", t->name);
    /* Panels: [ceil(S_dim / f), the other dims in order, f]. */
    int64_t shape[16];
    if (t->ndim + 1 > 16)
        return lw_step_error(x, si, "%s has too many dimensions to pack", t->name);
    int n = 0;
    shape[n++] = (t->shape[st->dim] + st->factor - 1) / st->factor;
    for (int d = 0; d < t->ndim; d++)
        if (d != st->dim)
            shape[n++] = t->shape[d];
    shape[n++] = st->factor;
    char name[128];
    snprintf(name, sizeof name, "%s.packed", t->name);
    int64_t numel = 1;
    for (int d = 0; d < n; d++)
        if (__builtin_mul_overflow(numel, shape[d], &numel))
            return lw_step_error(x, si, "packed %s is too large", t->name);
    x->packed[k] =
        tt_buffer_new(name, t->dtype, n, shape,
                      numel * (t->dtype.bits / 8) <= 16384 ? TT_SCOPE_LOCAL : TT_SCOPE_WORKSPACE);
    x->pack_dim[k] = st->dim;
    x->pack_factor[k] = st->factor;
    return x->packed[k] ? 0 : -1;
}

/* Indices into the panels of input k for original indices idx (new references in out). */
static int panel_index(const lw_ctx *x, int k, tt_expr *const *idx, tt_expr **out)
{
    const tt_tensor *t = x->c->inputs[k];
    int dim = x->pack_dim[k], n = 0;
    tt_expr *f = tt_expr_int(x->pack_factor[k]);
    out[n++] = f ? tt_expr_binary(TT_EXPR_DIV, idx[dim], f) : NULL;
    for (int d = 0; d < t->ndim; d++)
        if (d != dim)
            out[n++] = tt_expr_retain(idx[d]);
    out[n++] = f ? tt_expr_binary(TT_EXPR_MOD, idx[dim], f) : NULL;
    tt_expr_release(f);
    for (int d = 0; d < n; d++)
        if (!out[d]) {
            for (int e = 0; e < n; e++)
                tt_expr_release(out[e]);
            return -1;
        }
    return 0;
}

tt_expr *lw_pack_load(const lw_ctx *x, int k, tt_expr *const *idx)
{
    tt_buffer *p = x->packed[k];
    tt_expr *pi[17] = {NULL};
    if (panel_index(x, k, idx, pi) != 0)
        return NULL;
    tt_expr *flat = lw_flat(p->ndim, pi, p->shape);
    tt_expr *r = flat ? tt_expr_load(p, flat) : NULL;
    tt_expr_release(flat);
    for (int d = 0; d < p->ndim; d++)
        tt_expr_release(pi[d]);
    return r;
}

/* for o, other dims..., r: panels[o, ..., r] = o*f + r < S ? input[...] : 0 */
static tt_stmt *pack_nest(const lw_ctx *x, int k)
{
    const tt_tensor *t = x->c->inputs[k];
    tt_buffer *p = x->packed[k];
    int dim = x->pack_dim[k], n = p->ndim;
    tt_expr *vars[17] = {NULL}, *orig[16] = {NULL};
    tt_stmt *body = NULL;
    tt_expr *f = tt_expr_int(x->pack_factor[k]), *pflat = NULL, *oflat = NULL, *load = NULL,
            *zero = NULL, *cond = NULL, *ext = NULL;
    bool ok = f != NULL;
    for (int d = 0; ok && d < n; d++) {
        char name[160];
        snprintf(name, sizeof name, "%s.p%d", t->name, d);
        ok = (vars[d] = tt_expr_var(name, TT_DT_I64)) != NULL;
    }
    /* original index: dim = o*f + r, the others in order */
    for (int d = 0, m = 1; ok && d < t->ndim; d++) {
        if (d == dim)
            orig[d] = tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(vars[0]), tt_expr_retain(f)),
                                    tt_expr_retain(vars[n - 1]));
        else
            orig[d] = tt_expr_retain(vars[m++]);
        ok = orig[d] != NULL;
    }
    if (ok) {
        pflat = lw_flat(n, vars, p->shape);
        oflat = lw_flat(t->ndim, orig, t->shape);
        load = oflat ? tt_expr_load(x->inbuf[k], oflat) : NULL;
        ok = pflat && load;
    }
    if (ok) {
        tt_stmt *copy = tt_stmt_store(p, pflat, load);
        if (copy && t->shape[dim] % x->pack_factor[k] != 0) {
            zero = tt_dtype_is_float(t->dtype) ? tt_expr_float(0, t->dtype)
                                               : tt_expr_int_typed(0, t->dtype);
            tt_expr *lim = tt_expr_int(t->shape[dim]);
            cond = zero && lim ? tt_expr_binary(TT_EXPR_LT, orig[dim], lim) : NULL;
            tt_expr_release(lim);
            tt_stmt *pad = cond ? tt_stmt_store(p, pflat, zero) : NULL;
            body = pad ? tt_stmt_if(cond, copy, pad) : NULL;
            tt_stmt_release(pad);
            tt_stmt_release(copy);
        } else {
            body = copy;
        }
    }
    /* Large copies run their panel loop in parallel; the panel row is contiguous on both sides
     * when the packed dim is the last one, and then is a vector loop. The padding guard needs
     * only the last panel: tail peeling (ir/lower_peel.c) gives the others a copy without it,
     * and in the last one the guard masks the vector loop (no scalar fallback). */
    for (int d = n - 1; body && d >= 0; d--) {
        tt_for_kind kind = TT_FOR_SERIAL;
        if (d == 0 && p->numel >= ((int64_t)1 << 16) && p->shape[0] > 1)
            kind = TT_FOR_PARALLEL;
        else if (d == n - 1 && dim == t->ndim - 1 && p->shape[d] > 1 && p->shape[d] <= 64)
            kind = TT_FOR_VECTORIZED;
        ext = tt_expr_int(p->shape[d]);
        tt_stmt *l = ext ? tt_stmt_for(vars[d], ext, kind, body) : NULL;
        tt_expr_release(ext);
        tt_stmt_release(body);
        body = l;
    }
    for (int d = 0; d < n; d++)
        tt_expr_release(vars[d]);
    for (int d = 0; d < t->ndim; d++)
        tt_expr_release(orig[d]);
    tt_expr_release(f);
    tt_expr_release(pflat);
    tt_expr_release(oflat);
    tt_expr_release(load);
    tt_expr_release(zero);
    tt_expr_release(cond);
    return body;
}

tt_stmt *lw_pack_wrap(const lw_ctx *x, tt_stmt *body)
{
    for (int k = x->c->ninputs - 1; body && k >= 0; k--) {
        if (!x->packed[k])
            continue;
        tt_stmt *copy = pack_nest(x, k);
        tt_stmt *parts[2] = {copy, body};
        tt_stmt *seq = copy ? tt_stmt_seq(2, parts) : NULL;
        tt_stmt *a = seq ? tt_stmt_alloc(x->packed[k], seq) : NULL;
        tt_stmt_release(copy);
        tt_stmt_release(seq);
        tt_stmt_release(body);
        body = a;
    }
    return body;
}
