/* A kernel that never returns: vadd spins forever. */
#include "fault.h"

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    volatile int forever = 1;
    while (forever)
        ;
    return 0;
}

TT_EXPORT_PACKED(vadd, vadd)
