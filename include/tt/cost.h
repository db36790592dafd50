/* A candidate's cost: the median of the mean times of its repeats (docs/ARCHITECTURE.md
 * "Measurement"). measure/ computes it when it times a kernel, logs/ recomputes it from a record's
 * costs and the tuner from a run's; they must agree, so all three call this one function.
 * Header-only: measure/ and logs/ share no library but the runtime, and this is no part of the
 * runtime's ABI. */
#ifndef TT_COST_H
#define TT_COST_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static inline int tt_cost_cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest of c[0..n-1] without a copy (quadratic: for long arrays when no copy can be
 * allocated). */
static inline double tt_cost_kth_(const double *c, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        size_t less = 0, leq = 0;
        for (size_t j = 0; j < n; j++) {
            less += c[j] < c[i];
            leq += c[j] <= c[i];
        }
        if (less <= k && k < leq)
            return c[i];
    }
    return NAN;
}

/* The median of c[0..n-1] (the mean of the middle two for even n); +inf when n is 0. c is not
 * changed. Allocates only above 64 values, and falls back to a slower exact method when that
 * fails. */
static inline double tt_cost_median(const double *c, size_t n)
{
    if (n == 0)
        return INFINITY;
    double stack[64];
    double *sorted = n <= 64 ? stack : (double *)malloc(n * sizeof(double));
    if (!sorted) {
        double hi = tt_cost_kth_(c, n, n / 2);
        return n % 2 ? hi : (tt_cost_kth_(c, n, n / 2 - 1) + hi) / 2;
    }
    memcpy(sorted, c, n * sizeof(double));
    qsort(sorted, n, sizeof(double), tt_cost_cmp_);
    double m = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    if (sorted != stack)
        free(sorted);
    return m;
}

#endif
