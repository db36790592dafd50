/* A correct but slow kernel: vadd sleeps 20 ms per call. */
#include <time.h>

#include "fault.h"

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    struct timespec ts = {0, 20000000L}; /* 20 ms */
    while (nanosleep(&ts, &ts) != 0)
        ;
    return fault_vadd(args, codes, n);
}

TT_EXPORT_PACKED(vadd, vadd)
