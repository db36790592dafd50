/* A kernel library for the RPC tests, uploaded to the server and run there: vadd (c = a + b over
 * float32 arrays), matmul (C = A B, float32, row-major), crash (a segfault in a session) and spin
 * (never returns: a session past its time limit). Built with the runtime's TT_EXPORT_PACKED. */
#include <stdint.h>
#include <string.h>

#include "tt/runtime.h"

static int check_f32(const char *fn, const tt_value *args, const int *codes, int n, int want)
{
    if (n != want)
        return tt_error_set("%s: %d arguments, expected %d arrays", fn, n, want);
    for (int i = 0; i < n; i++) {
        if (codes[i] != TT_NDARRAY && codes[i] != TT_DLTENSOR)
            return tt_error_set("%s: argument %d has type code %d, expected an array", fn, i,
                                codes[i]);
        const DLTensor *t = args[i].v_handle;
        if (t->dtype.code != kDLFloat || t->dtype.bits != 32)
            return tt_error_set("%s: argument %d is not float32", fn, i);
    }
    return 0;
}

static int64_t numel(const DLTensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    if (check_f32("vadd", args, codes, n, 3) != 0)
        return -1;
    const DLTensor *a = args[0].v_handle, *b = args[1].v_handle, *c = args[2].v_handle;
    int64_t len = numel(c);
    if (numel(a) != len || numel(b) != len)
        return tt_error_set("vadd: arrays of different sizes");
    const float *x = a->data, *y = b->data;
    float *z = c->data;
    for (int64_t i = 0; i < len; i++)
        z[i] = x[i] + y[i];
    return 0;
}
TT_EXPORT_PACKED(vadd, vadd)

static int matmul(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    if (check_f32("matmul", args, codes, n, 3) != 0)
        return -1;
    const DLTensor *A = args[0].v_handle, *B = args[1].v_handle, *C = args[2].v_handle;
    if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2 || A->shape[1] != B->shape[0] ||
        C->shape[0] != A->shape[0] || C->shape[1] != B->shape[1])
        return tt_error_set("matmul: shapes do not agree");
    int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
    const float *a = A->data, *b = B->data;
    float *c = C->data;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++)
                s += a[i * K + k] * b[k * N + j];
            c[i * N + j] = s;
        }
    return 0;
}
TT_EXPORT_PACKED(matmul, matmul)

/* NULL, read through a volatile so the compiler cannot prove (and refuse) the fault. */
int *volatile tt_rpc_test_null;

static int crash(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    *tt_rpc_test_null = 1;
    return 0;
}
TT_EXPORT_PACKED(crash, crash)

static int spin(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    for (volatile uint64_t i = 0;; i++) {
    }
    return 0;
}
TT_EXPORT_PACKED(spin, spin)

static int scale(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    if (n != 1 || codes[0] != TT_FLOAT)
        return tt_error_set("scale: expected one float");
    tt_value v = {.v_float64 = args[0].v_float64 * 2};
    int c = TT_FLOAT;
    return tt_ret_set(ret, &v, &c, 1);
}
TT_EXPORT_PACKED(scale, scale)
