/* Helpers shared by the tuner/ tests: cmocka's includes and checks on messages. */
#ifndef TT_TUNE_TEST_H
#define TT_TUNE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tt_test.h"
#include <cmocka.h>

#endif
