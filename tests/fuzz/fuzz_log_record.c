/* libFuzzer target for the log record decoder (logs/record_codec.c): any bytes must decode to a
 * record or fail with a message, never crash; a record that decodes must encode to a line that
 * decodes to the same line again (the encoder and decoder agree on every rule). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_record *r;
    int truncated;
    if (tt_record_decode_line((const char *)data, size, &r, &truncated) != 0) {
        if (tt_get_last_error()[0] == '\0')
            abort(); /* a failure must say why */
        return 0;
    }
    char *line, *again;
    if (tt_record_encode(r, &line) != 0) {
        fprintf(stderr, "decoded record does not encode: %s\n", tt_get_last_error());
        abort();
    }
    tt_record *r2;
    if (tt_record_decode(line, strlen(line), &r2) != 0) {
        fprintf(stderr, "encoded line does not decode: %s\n%s", tt_get_last_error(), line);
        abort();
    }
    if (tt_record_encode(r2, &again) != 0 || strcmp(line, again) != 0) {
        fprintf(stderr, "round trip changed the line:\n%s%s", line, again);
        abort();
    }
    (void)tt_record_cost(r);
    (void)tt_record_cost_spread(r);
    char hash[TT_RECORD_HASH_LEN + 1];
    if (tt_record_hash(r, hash) != 0)
        abort();
    free(line);
    free(again);
    tt_record_free(r);
    tt_record_free(r2);
    return 0;
}
