/* Helpers shared by the tuner/ tests: cmocka's includes and checks on messages. */
#ifndef TT_TUNE_TEST_H
#define TT_TUNE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define assert_fails_with(call, fragment)                                                          \
    do {                                                                                           \
        assert_int_equal((call), -1);                                                              \
        if (strstr(tt_get_last_error(), (fragment)) == NULL)                                       \
            fail_msg("error \"%s\" lacks \"%s\"", tt_get_last_error(), (fragment));                \
    } while (0)

#define assert_contains(text, fragment)                                                            \
    do {                                                                                           \
        if (strstr((text), (fragment)) == NULL)                                                    \
            fail_msg("\"%s\" lacks \"%s\"", (text), (fragment));                                   \
    } while (0)

#endif
