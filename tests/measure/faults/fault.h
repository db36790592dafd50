/* Shared by the fault-injecting kernel libraries of tests/measure: argument access for a vector
 * kernel c = a + b on float32 (every library exports "vadd" with its own fault). */
#ifndef TT_TEST_FAULT_H
#define TT_TEST_FAULT_H

#include <stdint.h>

#include <tt/runtime.h>

static inline float *fault_data(const tt_value *args, int i)
{
    const DLTensor *t = (const DLTensor *)args[i].v_handle;
    return (float *)((char *)t->data + t->byte_offset);
}

static inline int64_t fault_len(const tt_value *args, int i)
{
    const DLTensor *t = (const DLTensor *)args[i].v_handle;
    return t->shape[0];
}

/* c = a + b, checking the argument count and kinds as a generated kernel would. */
static inline int fault_vadd(const tt_value *args, const int *codes, int n)
{
    if (n != 3)
        return tt_error_set("vadd: expected 3 arguments, got %d", n);
    for (int i = 0; i < 3; i++)
        if (codes[i] != TT_DLTENSOR && codes[i] != TT_NDARRAY)
            return tt_error_set("vadd: argument %d has type code %d, expected a tensor", i,
                                codes[i]);
    const float *a = fault_data(args, 0), *b = fault_data(args, 1);
    float *c = fault_data(args, 2);
    for (int64_t i = 0; i < fault_len(args, 2); i++)
        c[i] = a[i] + b[i];
    return 0;
}

#endif
