/* A shared library in the shape codegen emits: TT_EXPORT_PACKED functions that test_module.c
 * loads through the "so" module loader. */
#include "tt/runtime.h"

/* add_one(x: DLTensor float32 [n], y: DLTensor float32 [n]): y = x + 1. */
static int add_one(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)ret, (void)resource;
    if (n != 2)
        return tt_error_set("add_one: got %d arguments, expected 2", n);
    for (int i = 0; i < 2; i++)
        if (codes[i] != TT_DLTENSOR && codes[i] != TT_NDARRAY)
            return tt_error_set("add_one: argument %d has type code %d, expected an array", i,
                                codes[i]);
    const DLTensor *x = args[0].v_handle;
    DLTensor *y = args[1].v_handle;
    const float *xs = x->data;
    float *ys = y->data;
    for (int64_t i = 0; i < x->shape[0]; i++)
        ys[i] = xs[i] + 1.0f;
    return 0;
}
TT_EXPORT_PACKED(add_one, add_one)

static int answer(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)args, (void)codes, (void)n, (void)resource;
    tt_value v = {.v_int64 = 42};
    int c = TT_INT;
    return tt_ret_set(ret, &v, &c, 1);
}
TT_EXPORT_PACKED(answer, answer)

/* Not exported with the prefix: a module must not find it. */
__attribute__((visibility("default"))) int plain_symbol(void)
{
    return 1;
}
