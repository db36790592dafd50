/* libFuzzer target for schedules (ir/schedule.c) and their lowering (ir/lower*.c): any JSON must
 * parse to steps or fail with a message; a schedule that parses must encode canonically (its JSON
 * reparses to the same bytes) and either be rejected by tt_lower with a message naming its step,
 * or lower to a kernel that computes what the reference evaluation computes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/lang.h"
#include "ir/lower.h"

static tt_compute *compute(void)
{
    static tt_compute *c;
    if (!c) {
        static const int64_t sa[] = {5, 3}, sb[] = {3, 6}, sbias[] = {6};
        const tt_lang_input in[] = {
            {"A", 2, sa, TT_DT_F32}, {"B", 2, sb, TT_DT_F32}, {"b", 1, sbias, TT_DT_F32}};
        if (tt_lang_parse("S[i, k] = A[i, k] * 2.0; T[i, j] = sum(k, S[i, k] * B[k, j]); "
                          "C[i, j] = max(T[i, j] + b[j], 0.0)",
                          "f", 3, in, 0, NULL, &c) != 0)
            abort();
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    tt_schedule *s = NULL;
    if (tt_schedule_from_json(text, &s) != 0) {
        if (!*tt_get_last_error() || s)
            abort();
        free(text);
        return 0;
    }
    char *js = tt_schedule_to_json(s), *js2 = NULL;
    tt_schedule *r = NULL;
    if (!js || tt_schedule_from_json(js, &r) != 0 || !(js2 = tt_schedule_to_json(r)) ||
        strcmp(js, js2) != 0)
        abort();
    const tt_compute *c = compute();
    tt_kernel *k = NULL;
    if (tt_lower(c, s, "k", &k) != 0) {
        if (strncmp(tt_get_last_error(), "step ", 5) != 0 || k)
            abort();
    } else {
        float A[15], B[18], bias[6], out[30], ref[30];
        for (int i = 0; i < 18; i++) {
            B[i] = (float)(i % 7) - 3;
            if (i < 15)
                A[i] = (float)(i % 5) - 2;
            if (i < 6)
                bias[i] = (float)i - 2;
        }
        void *a1[4] = {A, B, bias, out}, *a2[4] = {A, B, bias, ref};
        if (tt_kernel_interp(k, a1) != 0 || tt_compute_eval(c, a2) != 0)
            abort();
        for (int i = 0; i < 30; i++)
            if (fabsf(out[i] - ref[i]) > 1e-4f * fmaxf(1.0f, fabsf(ref[i])))
                abort();
        tt_kernel_release(k);
    }
    free(js);
    free(js2);
    tt_schedule_free(r);
    tt_schedule_free(s);
    free(text);
    return 0;
}
