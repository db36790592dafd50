/* libFuzzer target for the expression language (ir/lang.c, ir/lang_sema.c, ir/lang_infer.c): any
 * text must parse to a compute or fail with a message, never crash; a compute it accepts must
 * keep REDUCE at the top of its stages and, when small, evaluate without an out-of-bounds read
 * (every access, guarded or not, was proven in bounds). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/lang.h"

static int reduce_inside(const tt_expr *e)
{
    if (e->kind == TT_EXPR_REDUCE)
        return 1;
    for (int i = 0; i < e->nargs; i++)
        if (reduce_inside(e->args[i]))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    static const int64_t sa[] = {4, 6}, sb[] = {6, 5}, sx[] = {10}, sq[] = {7}, sw[] = {3, 3};
    const tt_lang_input in[] = {{"A", 2, sa, TT_DT_F32},
                                {"B", 2, sb, TT_DT_F32},
                                {"X", 1, sx, TT_DT_F32},
                                {"Q", 1, sq, TT_DT_I32},
                                {"W", 2, sw, TT_DT_F32}};
    const tt_lang_extent ext[] = {{"p", 12}};
    tt_compute *c = NULL;
    /* with and without an explicit extent (an unused one is itself an error) */
    int rc = tt_lang_parse(text, "f", 5, in, 0, NULL, &c);
    if (rc != 0)
        rc = tt_lang_parse(text, "f", 5, in, 1, ext, &c);
    free(text);
    if (rc != 0) {
        if (tt_get_last_error()[0] == '\0')
            abort(); /* a failure must say why */
        return 0;
    }
    double work = 0;
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        double points = 1;
        for (int i = 0; i < st->naxes; i++)
            points *= (double)st->axes[i]->extent;
        const tt_expr *b = st->body;
        if (b->kind == TT_EXPR_REDUCE) {
            for (int i = 0; i < b->naxes; i++)
                points *= (double)b->axes[i]->extent;
            b = b->args[0];
        }
        if (reduce_inside(b))
            abort(); /* REDUCE below the top of a stage */
        work += points;
    }
    const tt_tensor *out = c->stages[c->nstages - 1]->output;
    if (work < 1e5 && tt_tensor_numel(out) < 1e5) {
        float a[24] = {0}, b[30] = {0}, x[10] = {0}, w[9] = {0};
        int32_t q[7] = {1, 2, 3, 4, 5, 6, 7};
        void *o = calloc((size_t)tt_tensor_numel(out) + 1, 8);
        void *args[] = {a, b, x, q, w, o};
        if (tt_compute_eval(c, args) != 0 && strstr(tt_get_last_error(), "out of bounds")) {
            fprintf(stderr, "accepted program reads out of bounds: %s\n", tt_get_last_error());
            abort();
        }
        free(o);
    }
    tt_compute_release(c);
    return 0;
}
