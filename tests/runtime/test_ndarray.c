/* Tests runtime/ndarray.c: allocation (shapes, dtypes, alignment, zeroing, overflow), refcounts,
 * tt_array_nbytes and tt_array_copy with their error paths. */
#include <stdlib.h>

#include "rt_test.h"

static const DLDataType f32 = {kDLFloat, 32, 1};
static const DLDevice cpu = {kDLCPU, 0};

static void test_alloc_2d(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 5};
    DLTensor *a = NULL;
    assert_int_equal(tt_array_alloc(shape, 2, f32, cpu, &a), 0);
    assert_non_null(a);
    assert_int_equal(a->ndim, 2);
    assert_int_equal(a->shape[0], 3);
    assert_int_equal(a->shape[1], 5);
    assert_non_null(a->strides);
    assert_int_equal(a->strides[0], 5);
    assert_int_equal(a->strides[1], 1);
    assert_int_equal(a->byte_offset, 0);
    assert_int_equal(a->dtype.bits, 32);
    assert_int_equal(a->device.device_type, kDLCPU);
    assert_int_equal((uintptr_t)a->data % 64, 0);
    assert_int_equal(tt_array_nbytes(a), 60);
    const unsigned char *bytes = a->data;
    for (int i = 0; i < 60; i++)
        assert_int_equal(bytes[i], 0);
    /* The shape is the array's own copy. */
    shape[0] = 100;
    assert_int_equal(a->shape[0], 3);
    float *x = a->data;
    for (int i = 0; i < 15; i++)
        x[i] = (float)i;
    assert_int_equal(tt_array_free(a), 0);
}

/* Data is zeroed even when the allocator hands back memory a freed array dirtied. */
static void test_alloc_zeroes_reused_memory(void **state)
{
    (void)state;
    int64_t shape[1] = {1000};
    for (int round = 0; round < 8; round++) {
        DLTensor *a = NULL;
        assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &a), 0);
        const unsigned char *bytes = a->data;
        for (int i = 0; i < 4000; i++)
            if (bytes[i] != 0)
                fail_msg("round %d: byte %d is %d, expected 0", round, i, bytes[i]);
        memset(a->data, 0xff, 4000);
        tt_array_free(a);
    }
}

static void test_scalar_and_empty(void **state)
{
    (void)state;
    DLTensor *s = NULL;
    assert_int_equal(tt_array_alloc(NULL, 0, (DLDataType){kDLInt, 64, 1}, cpu, &s), 0);
    assert_int_equal(s->ndim, 0);
    assert_int_equal(tt_array_nbytes(s), 8);
    assert_non_null(s->data);
    *(int64_t *)s->data = 5;
    tt_array_free(s);

    int64_t shape[3] = {4, 0, 2};
    DLTensor *e = NULL;
    assert_int_equal(tt_array_alloc(shape, 3, f32, cpu, &e), 0);
    assert_int_equal(tt_array_nbytes(e), 0);
    assert_non_null(e->data);
    tt_array_free(e);

    /* Vector lanes and sub-byte types round up to whole bytes. */
    int64_t n7[1] = {7};
    DLTensor *v = NULL;
    assert_int_equal(tt_array_alloc(n7, 1, (DLDataType){kDLFloat, 32, 4}, cpu, &v), 0);
    assert_int_equal(tt_array_nbytes(v), 7 * 16);
    tt_array_free(v);
    assert_int_equal(tt_array_alloc(n7, 1, (DLDataType){kDLInt, 4, 1}, cpu, &v), 0);
    assert_int_equal(tt_array_nbytes(v), 4);
    tt_array_free(v);
}

static void test_alloc_errors(void **state)
{
    (void)state;
    DLTensor *a = (DLTensor *)0x1;
    int64_t neg[2] = {2, -3};
    assert_fails_with(tt_array_alloc(neg, 2, f32, cpu, &a), "tt_array_alloc: shape[1] = -3, "
                                                            "expected >= 0");
    assert_null(a);
    int64_t ok[1] = {4};
    assert_fails_with(tt_array_alloc(ok, -1, f32, cpu, &a), "ndim = -1, expected 0..32");
    assert_fails_with(tt_array_alloc(ok, 33, f32, cpu, &a), "ndim = 33");
    assert_fails_with(tt_array_alloc(NULL, 1, f32, cpu, &a), "shape is NULL with ndim = 1");
    assert_fails_with(tt_array_alloc(ok, 1, (DLDataType){kDLFloat, 0, 1}, cpu, &a), "bits = 0");
    assert_fails_with(tt_array_alloc(ok, 1, (DLDataType){kDLFloat, 32, 0}, cpu, &a), "lanes = 0");
    assert_fails_with(tt_array_alloc(ok, 1, f32, (DLDevice){kDLCUDA, 0}, &a),
                      "device type 2, expected kDLCPU");
    assert_fails_with(tt_array_alloc(ok, 1, f32, cpu, NULL), "out is NULL");
    /* 2^31 * 2^31 elements of 4 bytes: 2^64 bytes. */
    int64_t huge[2] = {INT64_C(1) << 31, INT64_C(1) << 31};
    assert_fails_with(tt_array_alloc(huge, 2, f32, cpu, &a), "byte size of the shape overflows "
                                                             "int64");
    int64_t max[1] = {INT64_MAX};
    assert_fails_with(tt_array_alloc(max, 1, (DLDataType){kDLInt, 8, 1}, cpu, &a), "overflows");
    assert_null(a);
}

static void test_refcount(void **state)
{
    (void)state;
    int64_t shape[1] = {16};
    DLTensor *a = NULL;
    assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &a), 0);
    assert_int_equal(tt_array_retain(a), 0);
    assert_int_equal(tt_array_free(a), 0);
    ((float *)a->data)[15] = 1.0f; /* one reference left: still valid (ASan would object) */
    assert_int_equal(tt_array_free(a), 0);
    assert_int_equal(tt_array_free(NULL), 0);
    assert_fails_with(tt_array_retain(NULL), "a is NULL");

    /* A DLTensor that tt_array_alloc did not make is refused, not freed. */
    struct {
        char pad[64];
        DLTensor t;
    } foreign;
    memset(&foreign, 0, sizeof foreign);
    assert_fails_with(tt_array_free(&foreign.t), "was not made by tt_array_alloc");
    assert_fails_with(tt_array_retain(&foreign.t), "was not made by tt_array_alloc");
}

static void test_nbytes_errors(void **state)
{
    (void)state;
    assert_fails_with((int)tt_array_nbytes(NULL), "t is NULL");
    int64_t shape[1] = {-1};
    DLTensor t = {.ndim = 1, .shape = shape, .dtype = f32, .device = cpu};
    assert_fails_with((int)tt_array_nbytes(&t), "shape[0] = -1");
    t.ndim = 1, t.shape = NULL;
    assert_fails_with((int)tt_array_nbytes(&t), "shape NULL");
}

static void test_copy(void **state)
{
    (void)state;
    int64_t shape[2] = {4, 3};
    DLTensor *a = NULL, *b = NULL;
    assert_int_equal(tt_array_alloc(shape, 2, f32, cpu, &a), 0);
    assert_int_equal(tt_array_alloc(shape, 2, f32, cpu, &b), 0);
    for (int i = 0; i < 12; i++)
        ((float *)a->data)[i] = (float)i * 1.5f;
    assert_int_equal(tt_array_copy(a, b), 0);
    for (int i = 0; i < 12; i++)
        assert_true(((float *)b->data)[i] == (float)i * 1.5f);

    /* A foreign compact DLTensor (strides NULL) works as well, with its byte_offset. */
    float raw[14] = {0};
    int64_t shp[2] = {4, 3};
    DLTensor view = {.data = raw,
                     .device = cpu,
                     .ndim = 2,
                     .dtype = f32,
                     .shape = shp,
                     .strides = NULL,
                     .byte_offset = 2 * sizeof(float)};
    assert_int_equal(tt_array_copy(a, &view), 0);
    assert_true(raw[0] == 0.0f && raw[1] == 0.0f);
    assert_true(raw[2] == 0.0f && raw[3] == 1.5f && raw[13] == 11 * 1.5f);

    int64_t other[2] = {3, 4};
    DLTensor *c = NULL, *d = NULL, *e = NULL;
    assert_int_equal(tt_array_alloc(other, 2, f32, cpu, &c), 0);
    assert_fails_with(tt_array_copy(a, c), "shape[0] is 4 in from and 3 in to");
    assert_int_equal(tt_array_alloc(shape, 2, (DLDataType){kDLInt, 32, 1}, cpu, &d), 0);
    assert_fails_with(tt_array_copy(a, d), "dtypes differ");
    assert_int_equal(tt_array_alloc(shape, 1, f32, cpu, &e), 0);
    assert_fails_with(tt_array_copy(a, e), "from has ndim 2, to has ndim 1");
    assert_fails_with(tt_array_copy(NULL, b), "from is NULL");
    assert_fails_with(tt_array_copy(a, NULL), "to is NULL");
    int64_t strides[2] = {1, 4}; /* column-major */
    view.strides = strides;
    view.byte_offset = 0;
    assert_fails_with(tt_array_copy(a, &view), "to is strided");
    view.strides = NULL;
    view.device.device_type = kDLCUDA;
    assert_fails_with(tt_array_copy(&view, a), "from is on device type 2");
    tt_array_free(a);
    tt_array_free(b);
    tt_array_free(c);
    tt_array_free(d);
    tt_array_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_2d),
        cmocka_unit_test(test_alloc_zeroes_reused_memory),
        cmocka_unit_test(test_scalar_and_empty),
        cmocka_unit_test(test_alloc_errors),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_nbytes_errors),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
