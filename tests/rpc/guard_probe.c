/* peek(array, offset): the byte at offset (may be negative) from the start of array's data, read
 * on the device: the aarch64 guard test's check that rpc.array_alloc_guarded really puts
 * inaccessible pages right after (and before) an array. Built with TT_EXPORT_PACKED. */
#include "tt/runtime.h"

static int peek(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    if (n != 2 || (codes[0] != TT_NDARRAY && codes[0] != TT_DLTENSOR) || codes[1] != TT_INT)
        return tt_error_set("peek: expected (array, offset)");
    const DLTensor *t = args[0].v_handle;
    const volatile char *p = (const char *)t->data + t->byte_offset + args[1].v_int64;
    tt_value v = {.v_int64 = (unsigned char)*p};
    int code = TT_INT;
    return tt_ret_set(ret, &v, &code, 1);
}
TT_EXPORT_PACKED(peek, peek)
