/* NDArrays: refcounted, compact, 64-byte aligned CPU arrays described by an embedded DLTensor
 * (DLPack), so a DLTensor * can be handed to kernels, Python (numpy via DLPack) and RPC as is. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

/* More dimensions than this is a bug in the caller, not a real tensor. */
#define MAX_NDIM 32
#define ALIGN 64

/* A distinct value after the object header: tt_array_free/retain receive bare DLTensor pointers,
 * and this catches a DLTensor that tt_array_alloc did not make (best effort: we read the words
 * before it). */
#define NDARRAY_MAGIC 0x74742d6e64617272ull /* "tt-ndarr" */

typedef struct {
    tt_object obj;
    uint64_t magic;
    DLTensor tensor;
    int64_t dims[]; /* shape[ndim] then strides[ndim] */
} ndarray;

static ndarray *from_tensor(const DLTensor *t)
{
    ndarray *a = (ndarray *)((char *)t - offsetof(ndarray, tensor));
    if (a->magic != NDARRAY_MAGIC || a->obj.type_index != TT_TYPE_NDARRAY)
        return NULL;
    return a;
}

static void ndarray_delete(tt_object *o)
{
    ndarray *a = (ndarray *)o;
    free(a->tensor.data);
    a->magic = 0;
    free(a);
}

/* Bytes of prod(shape) elements of dt into *out; -1 (message names who) on overflow. */
static int byte_size(const char *who, const int64_t *shape, int ndim, DLDataType dt, int64_t *out)
{
    int64_t bits = (int64_t)dt.bits * dt.lanes;
    for (int i = 0; i < ndim; i++) {
        if (__builtin_mul_overflow(bits, shape[i], &bits))
            return tt_error_set("%s: the byte size of the shape overflows int64 (at shape[%d] = "
                                "%lld)",
                                who, i, (long long)shape[i]);
    }
    *out = bits / 8 + (bits % 8 != 0);
    return 0;
}

static int check_dtype(const char *who, DLDataType dt)
{
    if (dt.bits == 0 || dt.lanes == 0)
        return tt_error_set("%s: dtype has bits = %u and lanes = %u, expected both >= 1", who,
                            (unsigned)dt.bits, (unsigned)dt.lanes);
    return 0;
}

TT_API int tt_array_alloc(const int64_t *shape, int ndim, DLDataType dt, DLDevice dev,
                          DLTensor **out)
{
    if (out == NULL)
        return tt_error_set("tt_array_alloc: out is NULL");
    *out = NULL;
    if (ndim < 0 || ndim > MAX_NDIM)
        return tt_error_set("tt_array_alloc: ndim = %d, expected 0..%d", ndim, MAX_NDIM);
    if (ndim > 0 && shape == NULL)
        return tt_error_set("tt_array_alloc: shape is NULL with ndim = %d", ndim);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return tt_error_set("tt_array_alloc: shape[%d] = %lld, expected >= 0", i,
                                (long long)shape[i]);
    }
    if (check_dtype("tt_array_alloc", dt) != 0)
        return -1;
    if (dev.device_type != kDLCPU)
        return tt_error_set("tt_array_alloc: device type %d, expected kDLCPU (%d)",
                            (int)dev.device_type, (int)kDLCPU);
    int64_t nbytes = 0;
    if (byte_size("tt_array_alloc", shape, ndim, dt, &nbytes) != 0)
        return -1;
    if (nbytes > INT64_MAX - ALIGN)
        return tt_error_set("tt_array_alloc: byte size %lld is too large", (long long)nbytes);
    /* Round up to the alignment (aligned_alloc requires a multiple) and allocate at least one
     * block, so data is never NULL even for an empty array. */
    int64_t padded = nbytes == 0 ? ALIGN : (nbytes + ALIGN - 1) / ALIGN * ALIGN;
    if ((uint64_t)padded > SIZE_MAX)
        return tt_error_set("tt_array_alloc: byte size %lld does not fit in size_t",
                            (long long)nbytes);

    ndarray *a = malloc(sizeof *a + 2 * (size_t)ndim * sizeof(int64_t));
    if (a == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_array_alloc: out of memory for the array header");
    void *data = aligned_alloc(ALIGN, (size_t)padded);
    if (data == NULL) {
        free(a);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_array_alloc: out of memory allocating %lld bytes",
                             (long long)nbytes);
    }
    memset(data, 0, (size_t)padded);
    tt_object_init(&a->obj, TT_TYPE_NDARRAY, ndarray_delete);
    a->magic = NDARRAY_MAGIC;
    int64_t *shp = a->dims, *strides = a->dims + ndim;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        shp[i] = shape[i];
        strides[i] = stride;
        stride *= shape[i] > 0 ? shape[i] : 1; /* cannot overflow: the byte size did not */
    }
    a->tensor = (DLTensor){
        .data = data,
        .device = dev,
        .ndim = ndim,
        .dtype = dt,
        .shape = shp,
        .strides = strides,
        .byte_offset = 0,
    };
    *out = &a->tensor;
    return 0;
}

TT_API int tt_array_free(DLTensor *t)
{
    if (t == NULL)
        return 0;
    ndarray *a = from_tensor(t);
    if (a == NULL)
        return tt_error_set("tt_array_free: the DLTensor was not made by tt_array_alloc");
    tt_object_release(&a->obj);
    return 0;
}

TT_API int tt_array_retain(DLTensor *t)
{
    if (t == NULL)
        return tt_error_set("tt_array_retain: a is NULL");
    ndarray *a = from_tensor(t);
    if (a == NULL)
        return tt_error_set("tt_array_retain: the DLTensor was not made by tt_array_alloc");
    tt_object_retain(&a->obj);
    return 0;
}

/* Whether t's strides (if any) describe the compact row-major layout. */
static int is_compact(const DLTensor *t)
{
    if (t->strides == NULL)
        return 1;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != expect)
            return 0;
        expect *= t->shape[i];
    }
    return 1;
}

TT_API int64_t tt_array_nbytes(const DLTensor *t)
{
    if (t == NULL)
        return tt_error_set("tt_array_nbytes: t is NULL");
    if (t->ndim < 0 || t->ndim > MAX_NDIM || (t->ndim > 0 && t->shape == NULL))
        return tt_error_set("tt_array_nbytes: ndim = %d%s, expected 0..%d with a shape", t->ndim,
                            t->shape == NULL ? " and shape NULL" : "", MAX_NDIM);
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0)
            return tt_error_set("tt_array_nbytes: shape[%d] = %lld, expected >= 0", i,
                                (long long)t->shape[i]);
    }
    if (check_dtype("tt_array_nbytes", t->dtype) != 0)
        return -1;
    int64_t n = 0;
    if (byte_size("tt_array_nbytes", t->shape, t->ndim, t->dtype, &n) != 0)
        return -1;
    return n;
}

static int check_copy_side(const char *side, const DLTensor *t)
{
    if (t == NULL)
        return tt_error_set("tt_array_copy: %s is NULL", side);
    if (t->device.device_type != kDLCPU)
        return tt_error_set("tt_array_copy: %s is on device type %d, expected kDLCPU", side,
                            (int)t->device.device_type);
    if (t->ndim > 0 && t->shape == NULL)
        return tt_error_set("tt_array_copy: %s has ndim = %d and no shape", side, t->ndim);
    if (!is_compact(t))
        return tt_error_set("tt_array_copy: %s is strided, expected a compact array", side);
    return 0;
}

TT_API int tt_array_copy(const DLTensor *from, DLTensor *to)
{
    if (check_copy_side("from", from) != 0 || check_copy_side("to", to) != 0)
        return -1;
    if (from->ndim != to->ndim)
        return tt_error_set("tt_array_copy: from has ndim %d, to has ndim %d", from->ndim,
                            to->ndim);
    for (int i = 0; i < from->ndim; i++) {
        if (from->shape[i] != to->shape[i])
            return tt_error_set("tt_array_copy: shape[%d] is %lld in from and %lld in to", i,
                                (long long)from->shape[i], (long long)to->shape[i]);
    }
    if (from->dtype.code != to->dtype.code || from->dtype.bits != to->dtype.bits ||
        from->dtype.lanes != to->dtype.lanes)
        return tt_error_set("tt_array_copy: dtypes differ (code %u bits %u lanes %u in from, "
                            "code %u bits %u lanes %u in to)",
                            (unsigned)from->dtype.code, (unsigned)from->dtype.bits,
                            (unsigned)from->dtype.lanes, (unsigned)to->dtype.code,
                            (unsigned)to->dtype.bits, (unsigned)to->dtype.lanes);
    int64_t n = tt_array_nbytes(from);
    if (n < 0)
        return tt_error_wrap("tt_array_copy: from");
    if (n == 0)
        return 0;
    if (from->data == NULL || to->data == NULL)
        return tt_error_set("tt_array_copy: %s has no data", from->data == NULL ? "from" : "to");
    /* memmove: from and to may be views of one buffer. */
    memmove((char *)to->data + to->byte_offset, (const char *)from->data + from->byte_offset,
            (size_t)n);
    return 0;
}
