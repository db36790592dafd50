/* Inputs and output checks of a measurement: deterministic random fills that the tuner can
 * recompute anywhere (to build a reference), and the tolerant comparison of an output with its
 * reference. Used by the runner's child (runner_local.c) before a candidate is timed. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "measure/measure.h"

/* splitmix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014): one
 * multiply-xorshift chain per value, the same on every platform. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t count_of(const DLTensor *t)
{
    int64_t count = 1;
    for (int d = 0; d < t->ndim; d++)
        count *= t->shape[d];
    return count;
}

int tt_measure_dtype_supported(DLDataType dt)
{
    if (dt.lanes != 1)
        return 0;
    if (dt.code == kDLFloat)
        return dt.bits == 32 || dt.bits == 64;
    if (dt.code == kDLInt)
        return dt.bits == 8 || dt.bits == 16 || dt.bits == 32 || dt.bits == 64;
    if (dt.code == kDLUInt)
        return dt.bits == 8;
    return 0;
}

static void *data_of(const DLTensor *t)
{
    return (char *)t->data + t->byte_offset;
}

int tt_measure_fill_random(DLTensor *t, uint64_t seed, int arg_index)
{
    if (t == NULL)
        return tt_error_set("tt_measure_fill_random: tensor is NULL");
    if (!tt_measure_dtype_supported(t->dtype))
        return tt_error_set("tt_measure_fill_random: argument %d: dtype code %u bits %u lanes %u, "
                            "expected float32/64, int8/16/32/64 or uint8",
                            arg_index, t->dtype.code, t->dtype.bits, t->dtype.lanes);
    /* Each argument gets its own stream, so adding an input does not shift the others. */
    uint64_t state = seed ^ ((uint64_t)(arg_index + 1) * 0xD1B54A32D192ED03ull);
    int64_t count = count_of(t);
    void *p = data_of(t);
    for (int64_t i = 0; i < count; i++) {
        uint64_t x = next_u64(&state);
        if (t->dtype.code == kDLFloat) {
            double u = (double)(x >> 11) * 0x1.0p-53; /* [0, 1) */
            if (t->dtype.bits == 32)
                ((float *)p)[i] = (float)(2 * u - 1);
            else
                ((double *)p)[i] = 2 * u - 1;
            continue;
        }
        int64_t v = (int64_t)(x % 17) - 8; /* small: products and sums stay exact */
        switch (t->dtype.bits) {
        case 8:
            if (t->dtype.code == kDLUInt)
                ((uint8_t *)p)[i] = (uint8_t)(x % 9);
            else
                ((int8_t *)p)[i] = (int8_t)v;
            break;
        case 16:
            ((int16_t *)p)[i] = (int16_t)v;
            break;
        case 32:
            ((int32_t *)p)[i] = (int32_t)v;
            break;
        default:
            ((int64_t *)p)[i] = v;
            break;
        }
    }
    return 0;
}

static double float_at(const DLTensor *t, int64_t i)
{
    return t->dtype.bits == 32 ? (double)((const float *)data_of(t))[i]
                               : ((const double *)data_of(t))[i];
}

static int64_t int_at(const DLTensor *t, int64_t i)
{
    const void *p = data_of(t);
    switch (t->dtype.bits) {
    case 8:
        return t->dtype.code == kDLUInt ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
    case 16:
        return ((const int16_t *)p)[i];
    case 32:
        return ((const int32_t *)p)[i];
    default:
        return ((const int64_t *)p)[i];
    }
}

static int compare_floats(const DLTensor *got, const DLTensor *expected, int64_t count, double rtol,
                          char *msg, size_t msglen)
{
    double worst = 0;
    int64_t worst_at = 0;
    for (int64_t i = 0; i < count; i++) {
        double a = float_at(got, i), b = float_at(expected, i);
        if (a == b)
            continue;
        /* A NaN is wrong unless the reference has one too; an unwritten output (the runner
         * pre-fills it with NaN) lands here. */
        if (isnan(a) || isnan(b)) {
            if (isnan(a) && isnan(b))
                continue;
            snprintf(msg, msglen, "NaN mismatch at index %" PRId64 " (got %.9g, expected %.9g)", i,
                     a, b);
            return 1;
        }
        double err = fabs(a - b) / fmax(1.0, fabs(b));
        if (isnan(err)) /* inf / inf: an infinity against a finite value */
            err = INFINITY;
        if (err > worst) {
            worst = err;
            worst_at = i;
        }
    }
    if (worst < rtol)
        return 0;
    snprintf(msg, msglen, "max relative error %.3g at index %" PRId64 " (got %.9g, expected %.9g)",
             worst, worst_at, float_at(got, worst_at), float_at(expected, worst_at));
    return 1;
}

static int compare_ints(const DLTensor *got, const DLTensor *expected, int64_t count, char *msg,
                        size_t msglen)
{
    int64_t wrong = 0, first = -1;
    for (int64_t i = 0; i < count; i++) {
        if (int_at(got, i) != int_at(expected, i)) {
            if (first < 0)
                first = i;
            wrong++;
        }
    }
    if (wrong == 0)
        return 0;
    snprintf(msg, msglen,
             "%" PRId64 " of %" PRId64 " elements differ, first at index %" PRId64 " (got %" PRId64
             ", expected %" PRId64 ")",
             wrong, count, first, int_at(got, first), int_at(expected, first));
    return 1;
}

int tt_measure_compare(const DLTensor *got, const DLTensor *expected, double rtol, char *msg,
                       size_t msglen)
{
    if (msglen > 0)
        msg[0] = '\0';
    if (got == NULL || expected == NULL)
        return tt_error_set("tt_measure_compare: %s tensor is NULL", got ? "expected" : "got");
    if (!tt_measure_dtype_supported(got->dtype))
        return tt_error_set("tt_measure_compare: dtype code %u bits %u lanes %u, expected "
                            "float32/64, int8/16/32/64 or uint8",
                            got->dtype.code, got->dtype.bits, got->dtype.lanes);
    if (got->dtype.code != expected->dtype.code || got->dtype.bits != expected->dtype.bits ||
        got->dtype.lanes != expected->dtype.lanes)
        return tt_error_set("tt_measure_compare: dtypes differ (code %u bits %u vs code %u "
                            "bits %u)",
                            got->dtype.code, got->dtype.bits, expected->dtype.code,
                            expected->dtype.bits);
    int64_t count = count_of(got);
    if (count != count_of(expected))
        return tt_error_set("tt_measure_compare: %" PRId64 " elements vs %" PRId64
                            " in the reference",
                            count, count_of(expected));
    if (!(rtol > 0))
        return tt_error_set("tt_measure_compare: rtol = %g, expected > 0", rtol);
    if (got->dtype.code == kDLFloat)
        return compare_floats(got, expected, count, rtol, msg, msglen);
    return compare_ints(got, expected, count, msg, msglen);
}

/* NaN for floats (the check catches it), a byte pattern for integers: what a kernel that never
 * writes its output leaves behind must not pass as a correct answer. */
void tt_measure_poison(DLTensor *t)
{
    int64_t n = tt_array_nbytes(t);
    char *data = (char *)t->data + t->byte_offset;
    if (t->dtype.code == kDLFloat && t->dtype.bits == 32) {
        for (int64_t i = 0; i < n / 4; i++)
            ((float *)data)[i] = NAN;
    } else if (t->dtype.code == kDLFloat) {
        for (int64_t i = 0; i < n / 8; i++)
            ((double *)data)[i] = NAN;
    } else {
        memset(data, 0x5a, (size_t)n);
    }
}
