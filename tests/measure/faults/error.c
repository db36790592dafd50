/* A kernel that fails the proper way: vadd returns -1 with a message. */
#include "fault.h"

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    return tt_error_set("vadd: injected failure (workspace of %d bytes refused)", 4096);
}

TT_EXPORT_PACKED(vadd, vadd)
