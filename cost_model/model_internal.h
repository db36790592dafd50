/* Internal to cost_model/: what model.c uses of model_check.c. */
#ifndef TT_COST_MODEL_MODEL_INTERNAL_H
#define TT_COST_MODEL_MODEL_INTERNAL_H

#include <stddef.h>

#include "tt/runtime.h"

/* Checks the JSON text of a saved XGBoost model (n bytes) before XGBoost reads it: the fields
 * prediction relies on, consistent with nfeat features. -1 with a message naming the field. */
int tt_model_check_json(const char *text, size_t n, int nfeat);

#endif
