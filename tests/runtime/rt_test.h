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
#include "tt_test.h"

#endif
