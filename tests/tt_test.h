/* Helpers every cmocka test of tvm-tune may use (header only; include after <cmocka.h>): error
 * assertions against the runtime's last error. tt_test_ir.h adds helpers for IR-level tests. */
#ifndef TT_TESTS_TT_TEST_H
#define TT_TESTS_TT_TEST_H

#include <stdint.h>
#include <string.h>

#include "tt/runtime.h"

/* Calls a kernel's raw C entry (int32_t f(void *, ...), one pointer per buffer) with n buffers;
 * -99 when n is beyond what the tests use. */
static inline int tt_test_call_kernel(void *fn, int n, void **a)
{
    typedef void *p;
    switch (n) {
    case 1:
        return ((int32_t (*)(p))fn)(a[0]);
    case 2:
        return ((int32_t (*)(p, p))fn)(a[0], a[1]);
    case 3:
        return ((int32_t (*)(p, p, p))fn)(a[0], a[1], a[2]);
    case 4:
        return ((int32_t (*)(p, p, p, p))fn)(a[0], a[1], a[2], a[3]);
    case 5:
        return ((int32_t (*)(p, p, p, p, p))fn)(a[0], a[1], a[2], a[3], a[4]);
    case 6:
        return ((int32_t (*)(p, p, p, p, p, p))fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
    default:
        return -99;
    }
}

/* The call returns -1 and the last error contains fragment. */
#define assert_fails_with(call, fragment)                                                          \
    do {                                                                                           \
        assert_int_equal((call), -1);                                                              \
        if (strstr(tt_get_last_error(), (fragment)) == NULL)                                       \
            fail_msg("error \"%s\" lacks \"%s\"", tt_get_last_error(), (fragment));                \
    } while (0)

/* text (may be NULL: a failure) contains fragment. */
#define assert_contains(text, fragment)                                                            \
    do {                                                                                           \
        const char *h_ = (text);                                                                   \
        if (!h_ || !strstr(h_, (fragment)))                                                        \
            fail_msg("\"%s\" lacks \"%s\"", h_ ? h_ : "(null)", (fragment));                       \
    } while (0)

#endif
