/* The space as the union of its variants (search/space_internal.h): variant 0 vectorises the
 * output's stride-1 axis, variant 1 (where var_alt_axis finds one) another axis. The public
 * operations and the strategies' decision vectors work on the whole space; a vector carries
 * its variant in its last slot, and sampling, mutation and crossover stay within a variant
 * (a mutant differs from its parent in one decision; samples visit both variants). */
#include "search/space_internal.h"

#include <stdlib.h>
#include <string.h>

/* Variant of v (its last slot when there are two). */
static int variant(const tt_space *sp, const int *v)
{
    int k = sp->nvar > 1 ? v[sp->ndec - 1] : 0;
    return k >= 0 && k < sp->nvar ? k : 0;
}

static void set_variant(const tt_space *sp, int *v, int k)
{
    if (sp->nvar > 1)
        v[sp->ndec - 1] = k;
}

int tt_space_new(const tt_compute *c, const tt_space_opts *opts, tt_space **out)
{
    *out = NULL;
    tt_space *sp = calloc(1, sizeof *sp);
    if (!sp)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (var_new(c, opts, NULL, &sp->var[0]) != 0) {
        free(sp);
        return -1;
    }
    sp->nvar = 1;
    /* a second vector axis is an addition: a compute it cannot tile keeps the first alone */
    const char *alt = var_alt_axis(sp->var[0]);
    if (alt && var_new(c, opts, alt, &sp->var[1]) == 0)
        sp->nvar = 2;
    sp->c = sp->var[0]->c;
    for (int k = 0; k < sp->nvar; k++) {
        if (sp->var[k]->ndec > sp->ndec)
            sp->ndec = sp->var[k]->ndec;
        sp->total += sp->var[k]->total;
    }
    sp->ndec += sp->nvar > 1;
    *out = sp;
    return 0;
}

void tt_space_free(tt_space *sp)
{
    if (!sp)
        return;
    for (int k = 0; k < sp->nvar; k++)
        var_free(sp->var[k]);
    free(sp);
}

int64_t tt_space_size(const tt_space *sp)
{
    return sp->total > (sp_count)INT64_MAX ? INT64_MAX : (int64_t)sp->total;
}

int sp_emit(const tt_space *sp, const int *v, tt_schedule **out)
{
    return var_emit(sp->var[variant(sp, v)], v, out);
}

/* The variant whose schedules include s; variant 0's message when none does. */
int sp_decode(const tt_space *sp, const tt_schedule *s, int *v)
{
    for (int k = sp->nvar - 1; k >= 0; k--) {
        memset(v, 0, (size_t)sp->ndec * sizeof *v);
        if (var_decode(sp->var[k], s, v) == 0) {
            set_variant(sp, v, k);
            return 0;
        }
    }
    return -1;
}

/* Points in order: variant 0's, then variant 1's. */
void sp_unrank(const tt_space *sp, sp_count index, int *v)
{
    memset(v, 0, (size_t)sp->ndec * sizeof *v);
    int k = 0;
    while (k + 1 < sp->nvar && index >= sp->var[k]->total)
        index -= sp->var[k++]->total;
    var_unrank(sp->var[k], index, v);
    set_variant(sp, v, k);
}

/* Each variant half the samples, whatever their sizes: the other vector axis is a different
 * kernel, not a corner of the first one's space. */
void sp_sample_dec(const tt_space *sp, uint64_t *rng, int *v)
{
    memset(v, 0, (size_t)sp->ndec * sizeof *v);
    int k = (int)sp_below(rng, sp->nvar);
    var_sample_dec(sp->var[k], rng, v);
    set_variant(sp, v, k);
}

bool sp_mutate_dec(const tt_space *sp, uint64_t *rng, int *v)
{
    return var_mutate_dec(sp->var[variant(sp, v)], rng, v);
}

/* Parents of different variants share no decision: the child is one of them. */
void sp_cross_dec(const tt_space *sp, uint64_t *rng, const int *a, const int *b, int *child)
{
    int k = variant(sp, a);
    if (k == variant(sp, b)) {
        memset(child, 0, (size_t)sp->ndec * sizeof *child);
        var_cross_dec(sp->var[k], rng, a, b, child);
        set_variant(sp, child, k);
    } else {
        memcpy(child, sp_below(rng, 2) ? b : a, (size_t)sp->ndec * sizeof *child);
    }
}

int tt_space_point(tt_space *sp, int64_t index, tt_schedule **out)
{
    *out = NULL;
    if (index < 0 || (sp_count)index >= sp->total)
        return tt_error_set("space of %s: point %lld, expected 0..%lld", sp->var[0]->main_name,
                            (long long)index, (long long)tt_space_size(sp) - 1);
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    sp_unrank(sp, (sp_count)index, v);
    int rc = sp_emit(sp, v, out);
    free(v);
    return rc;
}

void sp_default_dec(const tt_space *sp, int k, int *v)
{
    memset(v, 0, (size_t)sp->ndec * sizeof *v);
    var_default(sp->var[k], v);
    set_variant(sp, v, k);
}

int tt_space_default(tt_space *sp, tt_schedule **out)
{
    *out = NULL;
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    sp_default_dec(sp, 0, v);
    int rc = sp_emit(sp, v, out);
    free(v);
    return rc;
}

int tt_space_sample(tt_space *sp, uint64_t *rng, tt_schedule **out)
{
    *out = NULL;
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    sp_sample_dec(sp, rng, v);
    int rc = sp_emit(sp, v, out);
    free(v);
    return rc;
}

int tt_space_mutate(tt_space *sp, const tt_schedule *s, uint64_t *rng, tt_schedule **out)
{
    *out = NULL;
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = sp_decode(sp, s, v);
    if (rc != 0)
        rc = tt_error_wrap("mutate");
    else if (!sp_mutate_dec(sp, rng, v))
        rc = tt_error_set("mutate: the space of %s has a single point", sp->var[0]->main_name);
    else
        rc = sp_emit(sp, v, out);
    free(v);
    return rc;
}

int tt_space_crossover(tt_space *sp, const tt_schedule *a, const tt_schedule *b, uint64_t *rng,
                       tt_schedule **out)
{
    *out = NULL;
    size_t n = (size_t)sp->ndec + 1;
    int *va = calloc(n, sizeof *va), *vb = calloc(n, sizeof *vb), *vc = calloc(n, sizeof *vc);
    int rc = va && vb && vc ? 0 : tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (rc == 0 && (sp_decode(sp, a, va) != 0 || sp_decode(sp, b, vb) != 0))
        rc = tt_error_wrap("crossover");
    if (rc == 0) {
        sp_cross_dec(sp, rng, va, vb, vc);
        rc = sp_emit(sp, vc, out);
    }
    free(va);
    free(vb);
    free(vc);
    return rc;
}

int tt_space_decode(const tt_space *sp, const tt_schedule *s, int **values, int *n)
{
    *values = NULL;
    *n = 0;
    int *v = calloc((size_t)sp->ndec + 1, sizeof *v);
    if (!v)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    if (sp_decode(sp, s, v) != 0) {
        free(v);
        return -1;
    }
    *values = v;
    *n = sp->ndec;
    return 0;
}
