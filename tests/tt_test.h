/* Helpers every cmocka test of tvm-tune may use (header only; include after <cmocka.h>): error
 * assertions against the runtime's last error. tt_test_ir.h adds helpers for IR-level tests. */
#ifndef TT_TESTS_TT_TEST_H
#define TT_TESTS_TT_TEST_H

#include <string.h>

#include "tt/runtime.h"

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
