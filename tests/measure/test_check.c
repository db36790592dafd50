/* Tests measure/check.c: the deterministic random fill (reproducible, per-argument streams, in
 * range) and the output comparison (tolerance, NaN, integers, its messages and its errors). */
#include <math.h>

#include "measure_test.h"

static DLTensor *vec(int64_t n, uint8_t code, uint8_t bits)
{
    DLTensor *t = NULL;
    DLDataType dt = {code, bits, 1};
    DLDevice cpu = {kDLCPU, 0};
    assert_int_equal(tt_array_alloc(&n, 1, dt, cpu, &t), 0);
    return t;
}

static void test_fill_reproducible(void **state)
{
    DLTensor *a = vec(1000, kDLFloat, 32), *b = vec(1000, kDLFloat, 32),
             *c = vec(1000, kDLFloat, 32), *d = vec(1000, kDLFloat, 32);
    assert_int_equal(tt_measure_fill_random(a, 42, 0), 0);
    assert_int_equal(tt_measure_fill_random(b, 42, 0), 0);
    assert_int_equal(tt_measure_fill_random(c, 42, 1), 0);
    assert_int_equal(tt_measure_fill_random(d, 43, 0), 0);
    assert_memory_equal(a->data, b->data, 4000);
    const float *pa = a->data, *pc = c->data, *pd = d->data;
    int same_c = 0, same_d = 0, negative = 0;
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(pa[i] >= -1.0f && pa[i] <= 1.0f);
        same_c += pa[i] == pc[i];
        same_d += pa[i] == pd[i];
        negative += pa[i] < 0;
        sum += pa[i];
    }
    assert_true(same_c < 5 && same_d < 5); /* other streams, not the same values */
    assert_true(negative > 400 && negative < 600);
    assert_true(fabs(sum / 1000) < 0.1); /* uniform on [-1, 1]: mean near 0 */
    tt_array_free(a), tt_array_free(b), tt_array_free(c), tt_array_free(d);
}

static void test_fill_integers(void **state)
{
    DLTensor *i32 = vec(500, kDLInt, 32), *u8 = vec(500, kDLUInt, 8), *f64 = vec(500, kDLFloat, 64);
    assert_int_equal(tt_measure_fill_random(i32, 7, 0), 0);
    assert_int_equal(tt_measure_fill_random(u8, 7, 0), 0);
    assert_int_equal(tt_measure_fill_random(f64, 7, 0), 0);
    int lo = 0, hi = 0;
    for (int i = 0; i < 500; i++) {
        int32_t v = ((int32_t *)i32->data)[i];
        assert_true(v >= -8 && v <= 8);
        lo += v == -8;
        hi += v == 8;
        assert_true(((uint8_t *)u8->data)[i] <= 8);
        double x = ((double *)f64->data)[i];
        assert_true(x >= -1 && x <= 1);
    }
    assert_true(lo > 0 && hi > 0);
    DLTensor *h = vec(4, kDLFloat, 16);
    assert_fails_with(tt_measure_fill_random(h, 7, 3),
                      "argument 3: dtype code 2 bits 16 lanes 1, expected float32/64");
    tt_array_free(i32), tt_array_free(u8), tt_array_free(f64), tt_array_free(h);
}

static void set(DLTensor *t, const float *v, int n)
{
    memcpy(t->data, v, (size_t)n * sizeof(float));
}

static void test_compare_floats(void **state)
{
    DLTensor *got = vec(20, kDLFloat, 32), *want = vec(20, kDLFloat, 32);
    char msg[256];
    for (int i = 0; i < 20; i++)
        ((float *)want->data)[i] = ((float *)got->data)[i] = (float)i * 0.25f - 2;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 0);
    assert_string_equal(msg, "");

    /* The error is relative to max(1, |expected|): 2 vs 1 at index 17 is 0.5. */
    ((float *)want->data)[17] = 2.0f;
    ((float *)got->data)[17] = 1.0f;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 1);
    assert_string_equal(msg, "max relative error 0.5 at index 17 (got 1, expected 2)");

    /* Near zero the error is absolute; within rtol passes, the worst element is reported. */
    set(want, (const float[]){0, 0, 100, 1e-3f}, 4);
    set(got, (const float[]){5e-5f, 0, 100.009f, 1e-3f}, 4);
    for (int i = 4; i < 20; i++)
        ((float *)got->data)[i] = ((float *)want->data)[i];
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 0);
    ((float *)got->data)[3] = 2e-3f;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 1);
    assert_contains(msg, "max relative error 0.001 at index 3");

    /* NaN: an error unless both are NaN. */
    ((float *)got->data)[3] = 1e-3f;
    ((float *)got->data)[5] = NAN;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 1);
    assert_contains(msg, "NaN mismatch at index 5 (got nan, expected");
    ((float *)want->data)[5] = NAN;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 0);
    /* Infinities compare equal to themselves, and far from anything finite. */
    ((float *)got->data)[6] = ((float *)want->data)[6] = INFINITY;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 0);
    ((float *)got->data)[6] = 1;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 1);
    assert_contains(msg, "at index 6 (got 1, expected inf)");
    tt_array_free(got), tt_array_free(want);
}

static void test_compare_ints(void **state)
{
    DLTensor *got = vec(10, kDLInt, 32), *want = vec(10, kDLInt, 32);
    char msg[256];
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 0);
    ((int32_t *)got->data)[3] = 7;
    ((int32_t *)got->data)[8] = -1;
    assert_int_equal(tt_measure_compare(got, want, 1e-4, msg, sizeof msg), 1);
    assert_string_equal(msg, "2 of 10 elements differ, first at index 3 (got 7, expected 0)");
    tt_array_free(got), tt_array_free(want);
}

static void test_compare_errors(void **state)
{
    DLTensor *f = vec(10, kDLFloat, 32), *d = vec(10, kDLFloat, 64), *g = vec(11, kDLFloat, 32);
    char msg[64];
    assert_fails_with(tt_measure_compare(f, d, 1e-4, msg, sizeof msg),
                      "dtypes differ (code 2 bits 32 vs code 2 bits 64)");
    assert_fails_with(tt_measure_compare(f, g, 1e-4, msg, sizeof msg),
                      "10 elements vs 11 in the reference");
    assert_fails_with(tt_measure_compare(f, f, 0, msg, sizeof msg), "rtol = 0, expected > 0");
    assert_fails_with(tt_measure_compare(NULL, f, 1e-4, msg, sizeof msg), "got tensor is NULL");
    tt_array_free(f), tt_array_free(d), tt_array_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_reproducible), cmocka_unit_test(test_fill_integers),
        cmocka_unit_test(test_compare_floats),    cmocka_unit_test(test_compare_ints),
        cmocka_unit_test(test_compare_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
