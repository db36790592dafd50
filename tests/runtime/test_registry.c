/* Tests runtime/registry.c: register, look up, override, remove, list (sorted), registration at
 * load time, and the registry under concurrent use from several threads. */
#include <pthread.h>
#include <stdlib.h>

#include "rt_test.h"

/* Returns the int in its resource, so tests can tell registered functions apart. */
static int const_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    (void)args, (void)codes, (void)n;
    tt_value v = {.v_int64 = (int64_t)(intptr_t)res};
    int c = TT_INT;
    return tt_ret_set(ret, &v, &c, 1);
}

static int at_load_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    (void)res;
    tt_value v = {.v_int64 = n == 1 && codes[0] == TT_INT ? args[0].v_int64 * 3 : -1};
    int c = TT_INT;
    return tt_ret_set(ret, &v, &c, 1);
}
TT_REGISTER_GLOBAL("test.registry.at_load", at_load_body)

static tt_func make_const(int64_t k)
{
    tt_func f = NULL;
    assert_int_equal(tt_func_create(const_body, (void *)(intptr_t)k, NULL, &f), 0);
    return f;
}

static int64_t call_global(const char *name)
{
    tt_func f = NULL;
    assert_int_equal(tt_func_get_global(name, &f), 0);
    if (f == NULL)
        fail_msg("\"%s\" is not registered", name);
    tt_value ret;
    int code;
    assert_int_equal(tt_func_call(f, NULL, NULL, 0, &ret, &code), 0);
    assert_int_equal(code, TT_INT);
    tt_func_free(f);
    return ret.v_int64;
}

static void test_registered_at_load(void **state)
{
    (void)state;
    tt_func f = NULL;
    assert_int_equal(tt_func_get_global("test.registry.at_load", &f), 0);
    assert_non_null(f);
    tt_value arg = {.v_int64 = 14}, ret;
    int c = TT_INT, code;
    assert_int_equal(tt_func_call(f, &arg, &c, 1, &ret, &code), 0);
    assert_int_equal(ret.v_int64, 42);
    tt_func_free(f);
}

static void test_at_load_duplicate_reports(void **state)
{
    (void)state;
    /* The name exists: the helper reports on stderr and leaves the first registration alone. */
    tt_register_global_at_load("test.registry.at_load", const_body);
    tt_func f = NULL;
    assert_int_equal(tt_func_get_global("test.registry.at_load", &f), 0);
    tt_value arg = {.v_int64 = 1}, ret;
    int c = TT_INT, code;
    assert_int_equal(tt_func_call(f, &arg, &c, 1, &ret, &code), 0);
    assert_int_equal(ret.v_int64, 3);
    tt_func_free(f);
}

static void test_register_get_override_remove(void **state)
{
    (void)state;
    tt_func one = make_const(1), two = make_const(2);
    assert_int_equal(tt_func_register_global("test.k", one, 0), 0);
    /* The registry took its own reference. */
    assert_int_equal(((tt_object *)one)->refcount, 2);
    assert_int_equal(call_global("test.k"), 1);

    assert_fails_with(tt_func_register_global("test.k", two, 0),
                      "tt_func_register_global: \"test.k\" is already registered (pass "
                      "override=1 to replace it)");
    assert_int_equal(call_global("test.k"), 1);

    assert_int_equal(tt_func_register_global("test.k", two, 1), 0);
    assert_int_equal(call_global("test.k"), 2);
    assert_int_equal(((tt_object *)one)->refcount, 1); /* the registry let go of it */

    assert_int_equal(tt_func_remove_global("test.k"), 0);
    tt_func f = (tt_func)0x1;
    assert_int_equal(tt_func_get_global("test.k", &f), 0);
    assert_null(f);
    assert_fails_with(tt_func_remove_global("test.k"), "\"test.k\" is not registered");
    assert_int_equal(((tt_object *)two)->refcount, 1);
    tt_func_free(one);
    tt_func_free(two);
}

static void test_errors(void **state)
{
    (void)state;
    tt_func f = make_const(0);
    assert_fails_with(tt_func_register_global(NULL, f, 0), "name is NULL");
    assert_fails_with(tt_func_register_global("", f, 0), "name is empty");
    assert_fails_with(tt_func_register_global("test.null", NULL, 0), "f is NULL");
    assert_fails_with(tt_func_get_global("x", NULL), "out is NULL");
    tt_func g = f;
    assert_fails_with(tt_func_get_global(NULL, &g), "name is NULL");
    assert_null(g); /* *out is cleared on failure too */
    assert_fails_with(tt_func_remove_global(NULL), "name is NULL");
    int count;
    const char **names;
    assert_fails_with(tt_func_list_global(NULL, &names), "count is NULL");
    assert_fails_with(tt_func_list_global(&count, NULL), "names is NULL");
    tt_func_free(f);
    f = NULL;
    assert_int_equal(tt_func_get_global("test.never.registered", &f), 0);
    assert_null(f);
}

static int index_of(const char **names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static void test_list_sorted(void **state)
{
    (void)state;
    const char *add[] = {"test.list.b", "test.list.c", "test.list.a"};
    for (int i = 0; i < 3; i++) {
        tt_func f = make_const(i);
        assert_int_equal(tt_func_register_global(add[i], f, 0), 0);
        tt_func_free(f);
    }
    int count = 0;
    const char **names = NULL;
    assert_int_equal(tt_func_list_global(&count, &names), 0);
    assert_true(count >= 4);
    for (int i = 1; i < count; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    int a = index_of(names, count, "test.list.a"), b = index_of(names, count, "test.list.b"),
        c = index_of(names, count, "test.list.c");
    assert_true(a >= 0 && b == a + 1 && c == b + 1);
    assert_true(index_of(names, count, "test.registry.at_load") >= 0);

    /* The list is a snapshot: removing a name leaves the caller's copy readable. */
    assert_int_equal(tt_func_remove_global("test.list.b"), 0);
    assert_string_equal(names[b], "test.list.b");
    int count2;
    assert_int_equal(tt_func_list_global(&count2, &names), 0);
    assert_int_equal(count2, count - 1);
    assert_int_equal(index_of(names, count2, "test.list.b"), -1);
    assert_int_equal(tt_func_remove_global("test.list.a"), 0);
    assert_int_equal(tt_func_remove_global("test.list.c"), 0);
}

#define THREADS 4
#define OPS 10000

typedef struct {
    int id;
    int errors;
} worker;

/* Each thread registers, overrides, looks up, calls, lists and removes its own names while the
 * others do the same, and all of them call one shared function. */
static void *hammer(void *arg)
{
    worker *w = arg;
    char name[64];
    for (int i = 0; i < OPS; i++) {
        snprintf(name, sizeof name, "test.mt.%d.%d", w->id, i % 16);
        tt_func f = NULL;
        if (tt_func_create(const_body, (void *)(intptr_t)(w->id * 1000 + i % 16), NULL, &f) != 0 ||
            tt_func_register_global(name, f, 1) != 0) {
            w->errors++;
            continue;
        }
        tt_func_free(f);
        tt_func g = NULL;
        tt_value ret;
        int code;
        if (tt_func_get_global(name, &g) != 0 || g == NULL ||
            tt_func_call(g, NULL, NULL, 0, &ret, &code) != 0 ||
            ret.v_int64 != w->id * 1000 + i % 16)
            w->errors++;
        tt_func_free(g);
        if (tt_func_get_global("test.mt.shared", &g) != 0 || g == NULL ||
            tt_func_call(g, NULL, NULL, 0, &ret, &code) != 0 || ret.v_int64 != 77)
            w->errors++;
        tt_func_free(g);
        if (i % 100 == 0) {
            int count;
            const char **names;
            if (tt_func_list_global(&count, &names) != 0 ||
                index_of(names, count, "test.mt.shared") < 0)
                w->errors++;
        }
        if (i % 16 == 15 && tt_func_remove_global(name) != 0)
            w->errors++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    tt_func shared = make_const(77);
    assert_int_equal(tt_func_register_global("test.mt.shared", shared, 0), 0);
    tt_func_free(shared);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < 15; k++) {
            char name[64];
            snprintf(name, sizeof name, "test.mt.%d.%d", i, k);
            assert_int_equal(call_global(name), i * 1000 + k);
            assert_int_equal(tt_func_remove_global(name), 0);
        }
    assert_int_equal(tt_func_remove_global("test.mt.shared"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_at_load),
        cmocka_unit_test(test_at_load_duplicate_reports),
        cmocka_unit_test(test_register_get_override_remove),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_list_sorted),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
