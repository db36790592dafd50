/* Test helpers shared by the lowering tests (header only): build a compute from text, lower it
 * under a schedule, run the kernel in the interpreter and compare with the reference evaluation
 * of the compute on random inputs. */
#ifndef TT_TESTS_IR_LOWER_CHECK_H
#define TT_TESTS_IR_LOWER_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/lang.h"
#include "ir/lower.h"
#include "ir/printer.h"
#include "ir/schedule.h"
#include "tt_test_ir.h"

static uint64_t lc_rng = 88172645463325252ull;
static inline double lc_rand(void)
{
    lc_rng ^= lc_rng << 13;
    lc_rng ^= lc_rng >> 7;
    lc_rng ^= lc_rng << 17;
    return (double)(lc_rng >> 11) / 9007199254740992.0;
}

static inline void *lc_alloc(DLDataType t, int64_t n, bool fill)
{
    size_t sz = (size_t)(t.bits / 8);
    void *p = calloc((size_t)(n ? n : 1), sz);
    for (int64_t i = 0; fill && i < n; i++) {
        double v = lc_rand() * 2 - 1;
        if (t.bits == 64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
    return p;
}

static inline double lc_get(DLDataType t, const void *p, int64_t i)
{
    return t.bits == 64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

/* Lowers c under s and compares the interpreter's output with tt_compute_eval's. Returns 0 when
 * they agree within rel err 1e-4, -1 (message printed) otherwise; *kernel_out (if given)
 * receives the kernel. */
static inline int lc_check(const tt_compute *c, const tt_schedule *s, const char *label)
{
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "kernel", &k) != 0) {
        printf("%s: lower failed: %s\n", label, tt_get_last_error());
        return -1;
    }
    if (getenv("TT_LOWER_TRACE")) { /* which schedule a slow or crashing run is on */
        char *js = s ? tt_schedule_to_json(s) : NULL;
        printf("%s: %s\n", label, js ? js : "[]");
        fflush(stdout);
        free(js);
    }
    int n = c->ninputs + 1;
    void **a1 = calloc((size_t)n, sizeof *a1), **a2 = calloc((size_t)n, sizeof *a2);
    for (int i = 0; i < c->ninputs; i++) {
        const tt_tensor *t = c->inputs[i];
        a1[i] = a2[i] = lc_alloc(t->dtype, tt_tensor_numel(t), true);
    }
    const tt_tensor *o = tt_compute_output(c);
    int64_t on = tt_tensor_numel(o);
    a1[n - 1] = lc_alloc(o->dtype, on, false);
    a2[n - 1] = lc_alloc(o->dtype, on, false);
    int rc = 0;
    if (tt_kernel_interp(k, a1) != 0) {
        printf("%s: interp failed: %s\n", label, tt_get_last_error());
        rc = -1;
    } else if (tt_compute_eval(c, a2) != 0) {
        printf("%s: eval failed: %s\n", label, tt_get_last_error());
        rc = -1;
    }
    for (int64_t i = 0; rc == 0 && i < on; i++) {
        double x = lc_get(o->dtype, a1[n - 1], i), y = lc_get(o->dtype, a2[n - 1], i);
        if (!(fabs(x - y) <= 1e-4 * fmax(1.0, fabs(y)))) {
            printf("%s: element %lld: kernel %g, reference %g\n", label, (long long)i, x, y);
            rc = -1;
        }
    }
    if (rc != 0) {
        char *txt = tt_kernel_str(k), *js = s ? tt_schedule_to_json(s) : NULL;
        printf("schedule: %s\n%s\n", js ? js : "[]", txt ? txt : "");
        free(txt);
        free(js);
    }
    for (int i = 0; i < c->ninputs; i++)
        free(a1[i]);
    free(a1[n - 1]);
    free(a2[n - 1]);
    free(a1);
    free(a2);
    tt_kernel_release(k);
    return rc;
}

/* lc_check with a schedule given as JSON text. */
static inline int lc_check_json(const tt_compute *c, const char *json, const char *label)
{
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(json, &s) != 0) {
        printf("%s: bad schedule JSON: %s\n", label, tt_get_last_error());
        return -1;
    }
    int rc = lc_check(c, s, label);
    tt_schedule_free(s);
    return rc;
}

#endif
