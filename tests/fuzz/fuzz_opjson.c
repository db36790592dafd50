/* libFuzzer target for op.json (ir/opjson.c, ir/opjson_task.c): any bytes must load as an op file
 * or fail with a message, never crash; every task it accepts rebuilds from its canonical JSON to
 * the same canonical JSON and key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/opjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    tt_opfile *f = NULL;
    int rc = tt_opfile_parse_string(text, "fuzz.json", &f);
    free(text);
    if (rc != 0) {
        if (tt_get_last_error()[0] == '\0')
            abort();
        return 0;
    }
    for (int i = 0; i < f->ntasks; i++) {
        tt_task *t = NULL;
        if (tt_task_from_json_text(f->tasks[i].canonical_json, &t) != 0) {
            fprintf(stderr, "canonical JSON does not rebuild: %s\n%s\n", tt_get_last_error(),
                    f->tasks[i].canonical_json);
            abort();
        }
        if (strcmp(t->canonical_json, f->tasks[i].canonical_json) != 0 ||
            strcmp(t->key, f->tasks[i].key) != 0) {
            fprintf(stderr, "round trip changed the workload:\n%s\n%s\n",
                    f->tasks[i].canonical_json, t->canonical_json);
            abort();
        }
        tt_task_free(t);
    }
    tt_opfile_free(f);
    return 0;
}
