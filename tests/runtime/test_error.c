/* Tests runtime/error.c: the thread-local last error, its formatting, wrapping and limits. */
#include <pthread.h>

#include "rt_test.h"

static void test_set_returns_minus_one_and_formats(void **state)
{
    (void)state;
    assert_int_equal(tt_error_set("shape[%d] = %d, expected >= 0", 1, -3), -1);
    assert_string_equal(tt_get_last_error(), "shape[1] = -3, expected >= 0");
}

static void test_wrap_prefixes(void **state)
{
    (void)state;
    tt_error_set("inner failure");
    assert_int_equal(tt_error_wrap("loading \"%s\"", "a.so"), -1);
    assert_string_equal(tt_get_last_error(), "loading \"a.so\": inner failure");
    assert_int_equal(tt_error_wrap("outer"), -1);
    assert_string_equal(tt_get_last_error(), "outer: loading \"a.so\": inner failure");
}

static void test_wrap_of_empty_is_context(void **state)
{
    (void)state;
    tt_error_set("%s", "");
    assert_string_equal(tt_get_last_error(), "");
    tt_error_wrap("context only");
    assert_string_equal(tt_get_last_error(), "context only");
}

static void test_set_may_quote_last_error(void **state)
{
    (void)state;
    tt_error_set("first");
    /* The argument points into the error buffer itself. */
    tt_error_set("again: %s", tt_get_last_error());
    assert_string_equal(tt_get_last_error(), "again: first");
}

static void test_long_messages_truncate_safely(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tt_error_set("%s", big);
    /* At least 1 KiB is kept whole. */
    assert_int_equal(strlen(tt_get_last_error()), sizeof big - 1);
    tt_error_wrap("%s", big);
    size_t len = strlen(tt_get_last_error());
    assert_true(len >= 4000 && len < 8192);
    assert_int_equal(strncmp(tt_get_last_error(), big, 100), 0);
    tt_error_wrap("%s", big); /* wrapping an already full buffer stays bounded */
    assert_true(strlen(tt_get_last_error()) < 8192);
}

static void *other_thread(void *arg)
{
    char *seen = arg;
    /* A new thread starts with no error, whatever the main thread set. */
    strcpy(seen, tt_get_last_error());
    tt_error_set("set in the other thread");
    return NULL;
}

static void test_thread_local(void **state)
{
    (void)state;
    tt_error_set("main thread error");
    char seen[64] = "unset";
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    pthread_join(t, NULL);
    assert_string_equal(seen, "");
    assert_string_equal(tt_get_last_error(), "main thread error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_returns_minus_one_and_formats),
        cmocka_unit_test(test_wrap_prefixes),
        cmocka_unit_test(test_wrap_of_empty_is_context),
        cmocka_unit_test(test_set_may_quote_last_error),
        cmocka_unit_test(test_long_messages_truncate_safely),
        cmocka_unit_test(test_thread_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
