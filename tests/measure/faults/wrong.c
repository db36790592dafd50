/* Kernels with wrong answers: vadd adds 1 to element 17; vadd_nan writes NaN at index 5;
 * vadd_lazy never writes its output; vadd_scribble writes the right output, then into its
 * first input. */
#include <math.h>

#include "fault.h"

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    if (fault_vadd(args, codes, n) != 0)
        return -1;
    fault_data(args, 2)[17] += 1.0f;
    return 0;
}

static int vadd_nan(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    if (fault_vadd(args, codes, n) != 0)
        return -1;
    fault_data(args, 2)[5] = NAN;
    return 0;
}

static int vadd_lazy(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    return 0;
}

static int vadd_scribble(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    if (fault_vadd(args, codes, n) != 0)
        return -1;
    fault_data(args, 0)[3] = 42.0f;
    return 0;
}

TT_EXPORT_PACKED(vadd, vadd)
TT_EXPORT_PACKED(vadd_scribble, vadd_scribble)
TT_EXPORT_PACKED(vadd_nan, vadd_nan)
TT_EXPORT_PACKED(vadd_lazy, vadd_lazy)
