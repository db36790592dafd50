/* Helpers shared by the measure/ tests: cmocka's includes, a monotonic clock, and checks that a
 * call failed with (or a string holds) an expected fragment. */
#ifndef TT_MEASURE_TEST_H
#define TT_MEASURE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "measure/measure.h"

static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The call returns -1 and the last error contains fragment. */
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
