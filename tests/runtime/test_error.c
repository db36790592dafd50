/* Tests runtime/error.c: the thread-local last error, its formatting, wrapping and limits, and
 * the category every error carries (kept through wrapping, per thread). */
#include <errno.h>
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

static void test_set_is_unknown_setc_keeps_category(void **state)
{
    (void)state;
    tt_error_setc(TT_ERR_PARSE, "op.json:%d:%d: expected a number", 3, 12);
    assert_string_equal(tt_get_last_error(), "op.json:3:12: expected a number");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    assert_int_equal(tt_error_set("no category"), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNKNOWN);
    assert_int_equal(tt_error_setc(TT_ERR_NOT_FOUND, "x"), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    /* An error is never "ok", whatever the caller passed. */
    tt_error_setc(TT_ERR_OK, "failed after all");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNKNOWN);
    tt_error_setc((tt_error_category)999, "out of the table");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNKNOWN);
}

static void test_wrap_keeps_category(void **state)
{
    (void)state;
    tt_error_setc(TT_ERR_PARSE, "line 3: bad field");
    tt_error_wrap("reading %s", "a.log");
    tt_error_wrap("import");
    assert_string_equal(tt_get_last_error(), "import: reading a.log: line 3: bad field");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
    tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    tt_error_wrap("%s", "");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_OUT_OF_MEMORY);
}

static void test_wrapc_fills_only_a_missing_category(void **state)
{
    (void)state;
    tt_error_set("not a model");
    assert_int_equal(tt_error_wrapc(TT_ERR_INVALID_ARGUMENT, "--model-in %s", "m.bin"), -1);
    assert_string_equal(tt_get_last_error(), "--model-in m.bin: not a model");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    /* the callee's own category wins: out of memory is no user error */
    tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    tt_error_wrapc(TT_ERR_INVALID_ARGUMENT, "--model-in");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_OUT_OF_MEMORY);
    tt_error_wrap("outer");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_OUT_OF_MEMORY);
    /* an empty context only categorises */
    tt_error_set("bad field");
    tt_error_wrapc(TT_ERR_PARSE, "%s", "");
    assert_string_equal(tt_get_last_error(), "bad field");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
}

static void test_category_names_from_the_table(void **state)
{
    (void)state;
    assert_string_equal(tt_error_category_name(TT_ERR_OK), "OK");
    assert_string_equal(tt_error_category_name(TT_ERR_PARSE), "PARSE");
    assert_string_equal(tt_error_category_name(TT_ERR_INTERRUPTED), "INTERRUPTED");
    assert_string_equal(tt_error_category_message(TT_ERR_INVALID_ARGUMENT), "invalid argument");
    assert_string_equal(tt_error_category_message(TT_ERR_OUT_OF_MEMORY), "out of memory");
    assert_string_equal(tt_error_category_name((tt_error_category)-1), "UNKNOWN");
    assert_string_equal(tt_error_category_name(TT_ERR_CATEGORY_COUNT), "UNKNOWN");
    /* every category has its own name and a message */
    for (int i = 0; i < TT_ERR_CATEGORY_COUNT; i++) {
        assert_true(tt_error_category_message((tt_error_category)i)[0] != '\0');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(tt_error_category_name((tt_error_category)i),
                                    tt_error_category_name((tt_error_category)j));
    }
}

static void test_category_from_errno(void **state)
{
    (void)state;
    assert_int_equal(tt_error_category_from_errno(ENOENT), TT_ERR_NOT_FOUND);
    assert_int_equal(tt_error_category_from_errno(ENOTDIR), TT_ERR_NOT_FOUND);
    assert_int_equal(tt_error_category_from_errno(EACCES), TT_ERR_INVALID_ARGUMENT);
    assert_int_equal(tt_error_category_from_errno(EISDIR), TT_ERR_INVALID_ARGUMENT);
    assert_int_equal(tt_error_category_from_errno(ENOMEM), TT_ERR_OUT_OF_MEMORY);
    assert_int_equal(tt_error_category_from_errno(EIO), TT_ERR_IO);
    assert_int_equal(tt_error_category_from_errno(ENOSPC), TT_ERR_IO);
    assert_int_equal(tt_error_category_from_errno(0), TT_ERR_UNKNOWN);
}

static int failing_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)args, (void)codes, (void)n, (void)ret;
    if (resource)
        return tt_error_setc(TT_ERR_NOT_FOUND, "no kernel named %s", (const char *)resource);
    return -1; /* fails without a message */
}

static void test_category_crosses_a_packed_call(void **state)
{
    (void)state;
    tt_func with = NULL, without = NULL;
    assert_int_equal(tt_func_create(failing_body, "mm", NULL, &with), 0);
    assert_int_equal(tt_func_create(failing_body, NULL, NULL, &without), 0);
    tt_value rv;
    int rc;
    assert_int_equal(tt_func_call(with, NULL, NULL, 0, &rv, &rc), -1);
    assert_string_equal(tt_get_last_error(), "no kernel named mm");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    /* a body that sets nothing does not inherit the stale category of the call before */
    assert_int_equal(tt_func_call(without, NULL, NULL, 0, &rv, &rc), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_UNKNOWN);
    tt_func_free(with);
    tt_func_free(without);
}

static tt_error_category seen_category;

static void *other_thread(void *arg)
{
    char *seen = arg;
    /* A new thread starts with no error, whatever the main thread set. */
    strcpy(seen, tt_get_last_error());
    seen_category = tt_get_last_error_category();
    tt_error_setc(TT_ERR_IO, "set in the other thread");
    return NULL;
}

static void test_thread_local(void **state)
{
    (void)state;
    tt_error_setc(TT_ERR_PARSE, "main thread error");
    char seen[64] = "unset";
    seen_category = TT_ERR_UNKNOWN;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    pthread_join(t, NULL);
    assert_string_equal(seen, "");
    assert_int_equal(seen_category, TT_ERR_OK);
    assert_string_equal(tt_get_last_error(), "main thread error");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_returns_minus_one_and_formats),
        cmocka_unit_test(test_wrap_prefixes),
        cmocka_unit_test(test_wrap_of_empty_is_context),
        cmocka_unit_test(test_set_may_quote_last_error),
        cmocka_unit_test(test_long_messages_truncate_safely),
        cmocka_unit_test(test_set_is_unknown_setc_keeps_category),
        cmocka_unit_test(test_wrap_keeps_category),
        cmocka_unit_test(test_wrapc_fills_only_a_missing_category),
        cmocka_unit_test(test_category_names_from_the_table),
        cmocka_unit_test(test_category_from_errno),
        cmocka_unit_test(test_category_crosses_a_packed_call),
        cmocka_unit_test(test_thread_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
