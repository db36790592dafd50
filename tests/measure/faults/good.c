/* A correct kernel library: vadd (c = a + b, float32 vectors), vadd_parallel (the same through
 * tt_backend_parallel_for, i.e. OpenMP) and matmul (C = A B, float32 row-major, M x K times
 * K x N), plus "matmul_ref", a second copy used as the reference kernel. */
#include <tt/backend.h>

#include "fault.h"

static int add_chunk(int64_t begin, int64_t end, void *closure)
{
    const tt_value *args = closure;
    const float *a = fault_data(args, 0), *b = fault_data(args, 1);
    float *c = fault_data(args, 2);
    for (int64_t i = begin; i < end; i++)
        c[i] = a[i] + b[i];
    return 0;
}

static int vadd_parallel(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    if (n != 3)
        return tt_error_set("vadd_parallel: expected 3 arguments, got %d", n);
    return tt_backend_parallel_for(fault_len(args, 2), add_chunk, (void *)args);
}

static int vadd(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    return fault_vadd(args, codes, n);
}

static int matmul(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    if (n != 3)
        return tt_error_set("matmul: expected 3 arguments, got %d", n);
    const DLTensor *A = args[0].v_handle, *B = args[1].v_handle, *C = args[2].v_handle;
    int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
    if (B->shape[0] != K || C->shape[0] != M || C->shape[1] != N)
        return tt_error_set("matmul: shapes do not agree");
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

TT_EXPORT_PACKED(vadd, vadd)
TT_EXPORT_PACKED(vadd_parallel, vadd_parallel)
TT_EXPORT_PACKED(matmul, matmul)
TT_EXPORT_PACKED(matmul_ref, matmul)
