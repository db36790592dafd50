/* Tests runtime/object.c: the type registry and atomic refcounts (also from several threads). */
#include <pthread.h>
#include <stdlib.h>

#include "rt_test.h"

static void test_type_register_is_idempotent(void **state)
{
    (void)state;
    uint32_t a = 0, b = 0, c = 0;
    assert_int_equal(tt_object_type_register("test.A", &a), 0);
    assert_int_equal(tt_object_type_register("test.B", &b), 0);
    assert_int_equal(tt_object_type_register("test.A", &c), 0);
    assert_int_equal(a, c);
    assert_int_not_equal(a, b);
    assert_string_equal(tt_object_type_key(a), "test.A");
    assert_string_equal(tt_object_type_key(b), "test.B");
    assert_null(tt_object_type_key(100000));
}

static void test_builtin_keys(void **state)
{
    (void)state;
    uint32_t f = 99, m = 99, n = 99;
    assert_int_equal(tt_object_type_register("runtime.Func", &f), 0);
    assert_int_equal(tt_object_type_register("runtime.Module", &m), 0);
    assert_int_equal(tt_object_type_register("runtime.NDArray", &n), 0);
    assert_string_equal(tt_object_type_key(f), "runtime.Func");
    assert_string_equal(tt_object_type_key(m), "runtime.Module");
    assert_string_equal(tt_object_type_key(n), "runtime.NDArray");
}

static void test_type_register_errors(void **state)
{
    (void)state;
    uint32_t idx;
    assert_fails_with(tt_object_type_register(NULL, &idx), "key is NULL");
    assert_fails_with(tt_object_type_register("", &idx), "key is empty");
    assert_fails_with(tt_object_type_register("test.A", NULL), "out is NULL");
}

typedef struct {
    tt_object obj;
    int *deleted;
} counted;

static void counted_delete(tt_object *o)
{
    counted *c = (counted *)o;
    (*c->deleted)++;
    free(c);
}

static counted *counted_new(int *deleted)
{
    uint32_t idx;
    assert_int_equal(tt_object_type_register("test.Counted", &idx), 0);
    counted *c = malloc(sizeof *c);
    assert_non_null(c);
    tt_object_init(&c->obj, idx, counted_delete);
    c->deleted = deleted;
    return c;
}

static void test_refcount(void **state)
{
    (void)state;
    int deleted = 0;
    counted *c = counted_new(&deleted);
    assert_int_equal(c->obj.refcount, 1);
    assert_string_equal(tt_object_key(&c->obj), "test.Counted");
    tt_object_retain(&c->obj);
    tt_object_retain(&c->obj);
    assert_int_equal(c->obj.refcount, 3);
    tt_object_release(&c->obj);
    tt_object_release(&c->obj);
    assert_int_equal(deleted, 0);
    tt_object_release(&c->obj);
    assert_int_equal(deleted, 1);
    /* NULL is a no-op everywhere. */
    tt_object_retain(NULL);
    tt_object_release(NULL);
    assert_null(tt_object_key(NULL));
}

#define THREADS 4
#define OPS 10000

static void *retain_release(void *arg)
{
    tt_object *o = arg;
    for (int i = 0; i < OPS; i++)
        tt_object_retain(o);
    for (int i = 0; i < OPS; i++)
        tt_object_release(o);
    return NULL;
}

static void *register_types(void *arg)
{
    uint32_t *out = arg;
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "test.T%d", i);
        if (tt_object_type_register(key, &out[i]) != 0)
            out[i] = UINT32_MAX;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    int deleted = 0;
    counted *c = counted_new(&deleted);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, retain_release, &c->obj), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c->obj.refcount, 1);
    assert_int_equal(deleted, 0);
    tt_object_release(&c->obj);
    assert_int_equal(deleted, 1);

    /* Racing registrations of the same keys agree on one index per key. */
    static uint32_t idx[THREADS][200];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, register_types, idx[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < 200; k++) {
        char key[32];
        snprintf(key, sizeof key, "test.T%d", k);
        for (int i = 1; i < THREADS; i++)
            assert_int_equal(idx[i][k], idx[0][k]);
        assert_string_equal(tt_object_type_key(idx[0][k]), key);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_register_is_idempotent),
        cmocka_unit_test(test_builtin_keys),
        cmocka_unit_test(test_type_register_errors),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
