/* A kernel that crashes: vadd writes through a null pointer. */
#include "fault.h"

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    volatile float *nowhere = (volatile float *)(uintptr_t)(n - 3); /* NULL for 3 arguments */
    *nowhere = 1.0f;
    return 0;
}

TT_EXPORT_PACKED(vadd, vadd)
