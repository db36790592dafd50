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
#include "tt_test.h"

static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
