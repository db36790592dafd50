/* Tests runtime/text.c: the string buffer (appends, printf past the first allocation, take and
 * free) and tt_read_file (contents with NUL bytes, the size cap, a missing file's category). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "rt_test.h"
#include "runtime/text.h"

static void test_buffer(void **state)
{
    (void)state;
    tt_sb b = {0};
    char *empty = tt_sb_take(&b);
    assert_string_equal(empty, "");
    free(empty);
    tt_sb_puts(&b, "ab");
    tt_sb_put(&b, "cdef", 2);
    /* Long enough to make printf grow the buffer after measuring. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tt_sb_printf(&b, "[%d|%s]", 42, big);
    assert_int_equal(b.len, 4 + 4 + 999 + 1);
    char *s = tt_sb_take(&b);
    assert_int_equal(strncmp(s, "abcd[42|xxx", 11), 0);
    assert_int_equal(s[strlen(s) - 1], ']');
    assert_int_equal(strlen(s), 4 + 4 + 999 + 1);
    free(s);
    assert_null(b.buf);
    /* A failed buffer takes as NULL with OUT_OF_MEMORY and stays inert. */
    b.failed = 1;
    tt_sb_puts(&b, "lost");
    assert_null(b.buf);
    assert_null(tt_sb_take(&b));
    assert_int_equal(tt_get_last_error_category(), TT_ERR_OUT_OF_MEMORY);
    tt_sb_free(&b);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tt-text-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* 200000 bytes with NULs inside: read whole, NUL-terminated, length exact. */
    size_t n = 200000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    char *got;
    size_t len;
    assert_int_equal(tt_read_file(path, 0, &got, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(got[n], '\0');
    free(got);
    assert_int_equal(tt_read_file(path, n, &got, NULL), 0);
    free(got);
    assert_fails_with(tt_read_file(path, n - 1, &got, &len), "larger than 199999 bytes");
    assert_null(got);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    unlink(path);
    assert_fails_with(tt_read_file(path, 0, &got, &len), ": cannot open: No such file");
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
