/* Range inference of the expression language (rules in ir/lang.h): the linear form of each index,
 * the largest ranges that keep every unguarded affine access in bounds (a fixed point that only
 * tightens), and a final check of every access by interval arithmetic; an access under a select
 * is checked with what the select's condition guarantees where it is read (padding). */
#include "ir/lang_ast.h"

#include <stdlib.h>
#include <string.h>

#include "ir/analysis.h"

/* ---- index expressions: validity, linear form, value range ---- */

/* Errors of the linear form; with S NULL (a quiet attempt) only -1. */
static int ovf(sema *S, const node *n)
{
    return S ? lang_ar_fail(S->a, n->line, n->col, "index arithmetic overflows 64 bits") : -1;
}

#define LIN_FAIL(...) (S ? lang_ar_fail(S->a, n->line, n->col, __VA_ARGS__) : -1)

static int is_const(const int64_t *coef, int affine)
{
    if (!affine)
        return 0;
    for (int i = 0; i < MAXS; i++)
        if (coef[i])
            return 0;
    return 1;
}

/* Linear form c0 + sum coef[s] * axis_s of an index; *affine = 0 when // or % of an axis
 * makes it non-linear (still valid). Errors for anything that is not an index expression. With
 * S NULL it only tries, quietly, and takes no // or % at all (a select condition's form). */
static int lin(sema *S, const char *tname, int d, const node *n, int64_t *coef, int64_t *c0,
               int *affine)
{
    memset(coef, 0, MAXS * sizeof *coef);
    *c0 = 0;
    *affine = 1;
    switch (n->kind) {
    case N_INT:
        *c0 = n->ival;
        return 0;
    case N_IDENT:
        if (n->slot < 0)
            return LIN_FAIL("index %d of %s: unknown name", d, tname);
        coef[n->slot] = 1;
        return 0;
    case N_NEG:
        if (lin(S, tname, d, n->args[0], coef, c0, affine) < 0)
            return -1;
        for (int i = 0; i < MAXS; i++)
            if (__builtin_mul_overflow(coef[i], -1, &coef[i]))
                return ovf(S, n);
        return __builtin_mul_overflow(*c0, -1, c0) ? ovf(S, n) : 0;
    case N_BIN:
        break;
    default:
        return LIN_FAIL("index %d of %s must be an integer expression of axes and constants", d,
                        tname);
    }
    int64_t rc[MAXS], r0;
    int raff;
    if (n->op > B_MOD)
        return LIN_FAIL("index %d of %s must be an integer expression of axes and constants", d,
                        tname);
    if (lin(S, tname, d, n->args[0], coef, c0, affine) < 0 ||
        lin(S, tname, d, n->args[1], rc, &r0, &raff) < 0)
        return -1;
    int lconst = is_const(coef, *affine), rconst = is_const(rc, raff);
    switch (n->op) {
    case B_ADD:
    case B_SUB:
        for (int i = 0; i < MAXS; i++)
            if (n->op == B_ADD ? __builtin_add_overflow(coef[i], rc[i], &coef[i])
                               : __builtin_sub_overflow(coef[i], rc[i], &coef[i]))
                return ovf(S, n);
        *affine &= raff;
        return (n->op == B_ADD ? __builtin_add_overflow(*c0, r0, c0)
                               : __builtin_sub_overflow(*c0, r0, c0))
                   ? ovf(S, n)
                   : 0;
    case B_MUL: {
        if (!lconst && !rconst)
            return LIN_FAIL("index %d of %s multiplies two axis expressions; indices must be "
                            "affine (multiply by constants only)",
                            d, tname);
        int64_t k = lconst ? *c0 : r0;
        if (lconst) {
            memcpy(coef, rc, sizeof rc);
            *c0 = r0;
            *affine = raff;
        }
        for (int i = 0; i < MAXS; i++)
            if (__builtin_mul_overflow(coef[i], k, &coef[i]))
                return ovf(S, n);
        return __builtin_mul_overflow(*c0, k, c0) ? ovf(S, n) : 0;
    }
    default: /* B_DIV, B_FDIV, B_MOD: floor division and modulo by a positive constant */
        if (!S)
            return -1;
        if (!rconst || r0 <= 0)
            return LIN_FAIL("index %d of %s: '%s' needs a positive constant on its right", d, tname,
                            n->op == B_MOD ? "%" : "//");
        if (lconst) {
            *c0 = n->op == B_MOD ? tt_floormod(*c0, r0) : tt_floordiv(*c0, r0);
            return 0;
        }
        *affine = 0;
        return 0;
    }
}

int lang_lin(sema *S, const char *tname, int d, node *n, int64_t *coef, int64_t *c0, int *affine)
{
    return lin(S, tname, d, n, coef, c0, affine);
}

/* [lo, hi] of a validated index expression over the axes' ranges (ir/analysis.h's interval
 * arithmetic; a division's right side is a positive constant). */
static int range(sema *S, node *n, tt_interval *out)
{
    tt_interval a, b;
    bool ok = true;
    switch (n->kind) {
    case N_INT:
        *out = (tt_interval){n->ival, n->ival};
        return 0;
    case N_IDENT:
        *out = (tt_interval){0, S->slots[n->slot].ext - 1};
        return 0;
    case N_NEG:
        if (range(S, n->args[0], &a) < 0)
            return -1;
        return tt_interval_neg(a, out) ? 0 : ovf(S, n);
    default:
        break;
    }
    if (range(S, n->args[0], &a) < 0 || range(S, n->args[1], &b) < 0)
        return -1;
    switch (n->op) {
    case B_ADD:
        ok = tt_interval_add(a, b, out);
        break;
    case B_SUB:
        ok = tt_interval_sub(a, b, out);
        break;
    case B_MUL:
        ok = tt_interval_mul(a, b, out);
        break;
    case B_MOD:
        *out = tt_interval_floormod(a, b.lo);
        break;
    default: /* floor division */
        *out = tt_interval_floordiv(a, b.lo);
        break;
    }
    return ok ? 0 : ovf(S, n);
}

/* ---- what select conditions guarantee ---- */

/* Linear form of an affine index expression, or -1 (no message) for anything else. */
static int try_lin(const node *n, int64_t *coef, int64_t *c0)
{
    int affine;
    return lin(NULL, NULL, 0, n, coef, c0, &affine) < 0 || !affine ? -1 : 0;
}

/* Pushes coef . x + c0 - k >= 0 (k = 0 or 1 for strict comparisons) with the sign s. */
static int push(sema *S, const int64_t *coef, int64_t c0, int s, int k)
{
    if (S->nfacts == S->cap_facts) {
        int cap = S->cap_facts ? 2 * S->cap_facts : 8;
        fact *f = realloc(S->facts, (size_t)cap * sizeof *f);
        if (!f)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        S->facts = f;
        S->cap_facts = cap;
    }
    fact *f = &S->facts[S->nfacts];
    for (int i = 0; i < MAXS; i++)
        if (__builtin_mul_overflow(coef[i], s, &f->coef[i]))
            return 0; /* no fact, not an error */
    if (__builtin_mul_overflow(c0, s, &f->c0) || __builtin_sub_overflow(f->c0, k, &f->c0))
        return 0;
    f->parent = S->cur_fact;
    S->cur_fact = S->nfacts++;
    return 0;
}

int lang_push_facts(sema *S, const node *n, int holds)
{
    if (n->kind == N_NOT)
        return lang_push_facts(S, n->args[0], !holds);
    if (n->kind != N_BIN)
        return 0;
    if (n->op == (holds ? B_AND : B_OR)) /* a && b holds, or a || b fails: both parts do */
        return lang_push_facts(S, n->args[0], holds) < 0 ? -1
                                                         : lang_push_facts(S, n->args[1], holds);
    if (n->op < B_LT || n->op > B_NE)
        return 0;
    int64_t a[MAXS], b[MAXS], d[MAXS], a0, b0, d0;
    if (try_lin(n->args[0], a, &a0) < 0 || try_lin(n->args[1], b, &b0) < 0)
        return 0;
    for (int i = 0; i < MAXS; i++)
        if (__builtin_sub_overflow(a[i], b[i], &d[i]))
            return 0;
    if (__builtin_sub_overflow(a0, b0, &d0))
        return 0;
    /* d = a - b; the comparison (negated when it fails) as d >= k or -d >= k */
    int op = n->op;
    if (!holds) {
        static const int neg[] = {[B_LT] = B_GE, [B_LE] = B_GT, [B_GT] = B_LE,
                                  [B_GE] = B_LT, [B_EQ] = B_NE, [B_NE] = B_EQ};
        op = neg[op];
    }
    switch (op) {
    case B_LT:
        return push(S, d, d0, -1, 1);
    case B_LE:
        return push(S, d, d0, -1, 0);
    case B_GT:
        return push(S, d, d0, 1, 1);
    case B_GE:
        return push(S, d, d0, 1, 0);
    case B_EQ:
        return push(S, d, d0, 1, 0) < 0 ? -1 : push(S, d, d0, -1, 0);
    default:
        return 0;
    }
}

/* Tightens [lo, hi] of an affine access by the facts in force where it is read: a fact with the
 * access's coefficients bounds it from below, one with their negation from above. */
static void apply_facts(const sema *S, const cons *c, int64_t *lo, int64_t *hi)
{
    for (int fi = c->fact; fi >= 0; fi = S->facts[fi].parent) {
        const fact *f = &S->facts[fi];
        int same = 1, opposite = 1;
        for (int s = 0; s < S->nslots; s++) {
            same &= f->coef[s] == c->coef[s];
            opposite &= f->coef[s] == -c->coef[s];
        }
        int64_t v;
        /* same: coef.x >= -f0, so index >= c0 - f0; opposite: coef.x <= f0: index <= c0 + f0 */
        if (same && !__builtin_sub_overflow(c->c0, f->c0, &v) && v > *lo)
            *lo = v;
        if (opposite && !__builtin_add_overflow(c->c0, f->c0, &v) && v < *hi)
            *hi = v;
    }
}

/* ---- range inference ---- */

/* Where an index expression starts (a binary node's own position is its operator). */
static const node *start(const node *n)
{
    while (n->kind == N_BIN)
        n = n->args[0];
    return n;
}

/* Largest extent of axis u keeping constraint c in bounds, the other axes at their extents. */
static int bound(sema *S, const cons *c, int u, int64_t *out)
{
    int64_t cu = c->coef[u], slack;
    __int128 acc = cu > 0 ? (__int128)c->len - 1 - c->c0 : (__int128)c->c0;
    for (int s = 0; s < S->nslots; s++) {
        int64_t k = c->coef[s];
        if (s == u || !k || (cu > 0) != (k > 0))
            continue;
        acc -= (__int128)(k > 0 ? k : -k) * (S->slots[s].ext - 1);
    }
    if (acc < 0) {
        *out = 0;
        return 0;
    }
    slack = acc > INT64_MAX ? INT64_MAX : (int64_t)acc;
    *out = slack / (cu > 0 ? cu : -cu) + 1;
    return 0;
}

int lang_infer(sema *S)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < S->ncons; i++) {
            cons *c = &S->cons[i];
            if (c->guarded || !c->affine)
                continue;
            int unknown = -1, nunknown = 0;
            for (int s = 0; s < S->nslots; s++)
                if (c->coef[s] && S->slots[s].ext < 0) {
                    unknown = s;
                    nunknown++;
                }
            if (nunknown > 1)
                continue;
            for (int s = 0; s < S->nslots; s++) {
                slotinfo *sl = &S->slots[s];
                if (!c->coef[s] || sl->fixed || (nunknown == 1 && s != unknown))
                    continue;
                int64_t b;
                bound(S, c, s, &b);
                if (b <= 0)
                    return lang_ar_fail(S->a, start(c->idx)->line, start(c->idx)->col,
                                        "the range of index '%s' is empty: index %d of %s cannot "
                                        "stay within its extent %lld",
                                        sl->name, c->dim, c->acc->name, (long long)c->len);
                if (sl->ext < 0 || b < sl->ext) {
                    sl->ext = b;
                    changed = 1;
                }
            }
        }
    }
    for (int s = 0; s < S->nslots; s++)
        if (S->slots[s].ext < 0)
            return lang_ar_fail(S->a, S->slots[s].line, S->slots[s].col,
                                "cannot infer the range of index '%s'", S->slots[s].name);
    /* Explicit extents are not tightened, so check every access; a guarded one where it is read,
     * with what the conditions of its selects guarantee. */
    for (int i = 0; i < S->ncons; i++) {
        cons *c = &S->cons[i];
        int64_t lo, hi;
        if (c->affine) {
            __int128 l = c->c0, h = c->c0;
            for (int s = 0; s < S->nslots; s++) {
                __int128 v = (__int128)c->coef[s] * (S->slots[s].ext - 1);
                if (v > 0)
                    h += v;
                else
                    l += v;
            }
            lo = l < INT64_MIN ? INT64_MIN : (int64_t)l;
            hi = h > INT64_MAX ? INT64_MAX : (int64_t)h;
        } else {
            tt_interval r;
            if (range(S, c->idx, &r) < 0)
                return -1;
            lo = r.lo;
            hi = r.hi;
        }
        if (c->guarded && c->affine)
            apply_facts(S, c, &lo, &hi);
        if ((lo < 0 || hi >= c->len) && c->guarded)
            return lang_ar_fail(S->a, start(c->idx)->line, start(c->idx)->col,
                                "index %d of %s may leave its extent %lld where it is read "
                                "(range [%lld, %lld]): bound it in the select's condition, "
                                "as in 'e >= 0 && e < %lld'",
                                c->dim, c->acc->name, (long long)c->len, (long long)lo,
                                (long long)hi, (long long)c->len);
        if (lo < 0 || hi >= c->len)
            return lang_ar_fail(S->a, start(c->idx)->line, start(c->idx)->col,
                                "index %d of %s ranges over [%lld, %lld], outside its extent %lld",
                                c->dim, c->acc->name, (long long)lo, (long long)hi,
                                (long long)c->len);
    }
    return 0;
}
