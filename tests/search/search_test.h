/* Test helpers for the search tests (header only): the ops the space is checked on, and running
 * a lowered schedule in the interpreter or through the JIT against the compute's reference. */
#ifndef TT_TESTS_SEARCH_SEARCH_TEST_H
#define TT_TESTS_SEARCH_SEARCH_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/interp.h"
#include "ir/lang.h"
#include "ir/lower.h"
#include "ir/ops.h"
#include "ir/printer.h"
#include "search/search.h"
#include "tt_test.h"
#include "tt_test_ir.h"

static inline tt_compute *st_op(const tt_op_desc *d)
{
    tt_compute *c = NULL;
    if (tt_op_build(d, NULL, &c) != 0)
        printf("op %s: %s\n", tt_op_kind_name(d->kind), tt_get_last_error());
    return c;
}

/* n random values in [-1, 1) of dtype t (float32 or float64), 64-byte aligned. */
static inline void *st_inputs_fill(DLDataType t, int64_t n, uint64_t seed)
{
    size_t bytes = (size_t)n * (size_t)(t.bits / 8);
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    uint64_t x = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = (double)(x >> 11) / 9007199254740992.0 * 2 - 1;
        if (t.bits == 64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
    return p;
}

static inline double st_get(DLDataType t, const void *p, int64_t i)
{
    return t.bits == 64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

/* Lowers c under s, runs it in the interpreter (and, given a target, through the JIT) and
 * compares with tt_compute_eval: 0 when all agree within rel err 1e-4, else -1 with the
 * schedule and the reason printed. */
static inline int st_check(const tt_compute *c, const tt_schedule *s, const tt_target *jit,
                           const char *label)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "kernel", &k) != 0) {
        char *js = tt_schedule_to_json(s);
        printf("%s: lower failed: %s\nschedule: %s\n", label, tt_get_last_error(), js);
        free(js);
        return -1;
    }
    int n = c->ninputs + 1, rc = 0;
    void *ref[8], *itp[8], *jt[8];
    for (int i = 0; i < c->ninputs; i++)
        ref[i] = itp[i] = jt[i] =
            st_inputs_fill(c->inputs[i]->dtype, tt_tensor_numel(c->inputs[i]), (uint64_t)i + 3);
    DLDataType ot = tt_compute_output(c)->dtype;
    int64_t on = tt_tensor_numel(tt_compute_output(c));
    ref[n - 1] = st_inputs_fill(ot, on, 99);
    itp[n - 1] = st_inputs_fill(ot, on, 98);
    jt[n - 1] = st_inputs_fill(ot, on, 97);
    tt_module m = NULL;
    if (tt_compute_eval(c, ref) != 0) {
        printf("%s: eval failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (tt_kernel_interp(k, itp) != 0) {
        printf("%s: interp failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (jit && tt_codegen_jit(&k, 1, jit, &m) != 0) {
        printf("%s: jit failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (jit && tt_test_call_kernel(tt_codegen_jit_lookup(m, "kernel"), n, jt) != 0) {
        printf("%s: kernel failed\n", label);
        rc = -1;
    }
    for (int64_t i = 0; rc == 0 && i < on; i++) {
        double r = st_get(ot, ref[n - 1], i), a = st_get(ot, itp[n - 1], i),
               b = st_get(ot, jt[n - 1], i), tol = 1e-4 * fmax(1.0, fabs(r));
        if (!(fabs(a - r) <= tol) || (jit && !(fabs(b - r) <= tol))) {
            printf("%s: element %lld: interpreter %g, jit %g, reference %g\n", label, (long long)i,
                   a, jit ? b : 0.0, r);
            rc = -1;
        }
    }
    if (rc != 0) {
        char *js = tt_schedule_to_json(s);
        printf("schedule: %s\n", js);
        free(js);
    }
    tt_mod_free(m);
    for (int i = 0; i < c->ninputs; i++)
        free(ref[i]);
    free(ref[n - 1]);
    free(itp[n - 1]);
    free(jt[n - 1]);
    tt_kernel_release(k);
    return rc;
}

#endif
