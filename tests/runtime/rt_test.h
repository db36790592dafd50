/* Helpers shared by the runtime tests: cmocka's includes and a check that a call failed with a
 * message containing an expected fragment. */
#ifndef TT_RT_TEST_H
#define TT_RT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tt/runtime.h"

/* The call returns -1 and the last error contains fragment. */
#define assert_fails_with(call, fragment)                                                          \
    do {                                                                                           \
        assert_int_equal((call), -1);                                                              \
        if (strstr(tt_get_last_error(), (fragment)) == NULL)                                       \
            fail_msg("error \"%s\" lacks \"%s\"", tt_get_last_error(), (fragment));               \
    } while (0)

#endif
