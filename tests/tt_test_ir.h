/* Helpers for IR-level tests (header only): a compute from text. */
#ifndef TT_TESTS_TT_TEST_IR_H
#define TT_TESTS_TT_TEST_IR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lang.h"

/* A compute from text over float32 inputs given as "A:10x7,B:7x13" (at most 8 inputs of rank
 * 8). NULL on failure, the message printed. */
static inline tt_compute *tt_test_parse(const char *text, const char *inputs)
{
    tt_lang_input in[8];
    int64_t shapes[8][8];
    char names[8][16];
    int n = 0;
    const char *p = inputs;
    while (*p && n < 8) {
        int len = (int)strcspn(p, ":");
        snprintf(names[n], sizeof names[n], "%.*s", len, p);
        p += len + 1;
        int nd = 0;
        while (*p && *p != ',' && nd < 8) {
            shapes[n][nd++] = strtoll(p, (char **)&p, 10);
            if (*p == 'x')
                p++;
        }
        in[n] = (tt_lang_input){names[n], nd, shapes[n], TT_DT_F32};
        n++;
        if (*p == ',')
            p++;
    }
    tt_compute *c = NULL;
    if (tt_lang_parse(text, NULL, n, in, 0, NULL, &c) != 0)
        printf("parse %s: %s\n", text, tt_get_last_error());
    return c;
}

#endif
