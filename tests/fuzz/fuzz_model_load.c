/* libFuzzer target for loading cost models (cost_model/model.c): any bytes must load or fail
 * with a message, never crash; a model that loads predicts a finite score for a row of zeros
 * and leaves a failed load's model untouched (still untrained). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cost_model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_model *m = NULL;
    if (tt_model_new(NULL, &m) != 0)
        abort();
    if (tt_model_load_buffer(m, (const char *)data, size, "fuzz.model") != 0) {
        if (tt_get_last_error()[0] == '\0' || tt_model_trained(m))
            abort(); /* a failure must say why and change nothing */
        tt_model_free(m);
        return 0;
    }
    float row[TT_FEATURE_COUNT] = {0}, score = NAN;
    if (tt_model_predict(m, row, 1, &score) != 0) {
        fprintf(stderr, "a loaded model does not predict: %s\n", tt_get_last_error());
        abort();
    }
    tt_model_free(m);
    return 0;
}
