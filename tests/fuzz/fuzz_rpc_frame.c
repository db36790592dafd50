/* libFuzzer target for the RPC frame decoder (runtime/rpc/proto.c): any bytes must be accepted or
 * refused with a message, never crash or read past the input, under the size cap a server uses
 * before (512 bytes) and after (TT_RPC_MAX_PAYLOAD) authentication. A CALL or RETURN payload that
 * decodes must encode back to the same bytes (encoder and decoder agree on every code). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rpc/proto.h"

static void check_reencode(const uint8_t *data, size_t size)
{
    tt_rpc_header h;
    if (tt_rpc_header_decode(data, size, TT_RPC_MAX_PAYLOAD, &h) != 0 ||
        (h.type != TT_RPC_CALL && h.type != TT_RPC_RETURN))
        return;
    tt_rpc_reader r = {data + TT_RPC_HEADER_SIZE, size - TT_RPC_HEADER_SIZE, 0};
    uint64_t fid = 0;
    uint32_t n = 1;
    if (h.type == TT_RPC_CALL &&
        (tt_rpc_get_u64(&r, &fid, "f") != 0 || tt_rpc_get_u32(&r, &n, "n") != 0))
        return;
    size_t start = r.at;
    tt_rpc_values v;
    if (tt_rpc_values_decode(&r, n, &v) != 0)
        return;
    tt_rpc_buf b = {0};
    for (int i = 0; i < v.n; i++) {
        if (tt_rpc_value_encode(&b, v.values[i], v.codes[i]) != 0) {
            fprintf(stderr, "a decoded value does not encode: %s\n", tt_get_last_error());
            abort();
        }
    }
    if (b.len != r.at - start || memcmp(b.data, data + TT_RPC_HEADER_SIZE + start, b.len) != 0) {
        fprintf(stderr, "values re-encode to different bytes\n");
        abort();
    }
    tt_rpc_buf_free(&b);
    tt_rpc_values_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t caps[] = {TT_RPC_MAX_HANDSHAKE_PAYLOAD, TT_RPC_MAX_PAYLOAD};
    for (int i = 0; i < 2; i++) {
        if (tt_rpc_frame_check(data, size, caps[i]) != 0 && tt_get_last_error()[0] == '\0')
            abort(); /* a refusal must say why */
    }
    check_reencode(data, size);
    return 0;
}
