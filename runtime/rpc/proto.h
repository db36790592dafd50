/* The RPC wire format (docs/ARCHITECTURE.md "RPC"): 16-byte frame headers, the encoding of
 * PackedFunc values by their runtime.h type codes, and a growable output buffer. Pure functions
 * over bytes: no sockets, no crypto, so the decoder can be fuzzed (tests/fuzz/fuzz_rpc_frame.c). */
#ifndef TT_RPC_PROTO_H
#define TT_RPC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tt/runtime.h"

/* Bytes 'T' 'T' 'R' 'P' on the wire (read as a little-endian u32). */
#define TT_RPC_MAGIC 0x50525454u
/* Bumped on any incompatible change of frames, messages or the handshake. */
#define TT_RPC_PROTOCOL_VERSION 2
#define TT_RPC_HEADER_SIZE 16
/* Before authentication a peer may make us allocate this much and no more. */
#define TT_RPC_MAX_HANDSHAKE_PAYLOAD 512
/* After authentication: a frame carries at most one chunk of an upload or an array copy. */
#define TT_RPC_CHUNK_BYTES (4u << 20)
#define TT_RPC_MAX_PAYLOAD ((uint64_t)TT_RPC_CHUNK_BYTES + 65536)
/* Arguments of one call (a kernel takes a handful; the time evaluator adds five). */
#define TT_RPC_MAX_ARGS 256
/* A string on the wire (function and file names, error messages). */
#define TT_RPC_MAX_STRING 8192

/* Frame types. Handshake frames travel in clear; every later frame is sealed (secretstream). */
enum {
    TT_RPC_HELLO = 1,       /* client: runtime version, capabilities, nonce, kx public key */
    TT_RPC_HELLO_REPLY = 2, /* server: the same, then its proof (crypto_auth tag) */
    TT_RPC_AUTH = 3,        /* client: its proof, then its secretstream header */
    TT_RPC_AUTH_OK = 4,     /* server: its secretstream header */
    TT_RPC_ERROR = 5,       /* either side, during the handshake: why it refuses (string) */
    TT_RPC_GET_GLOBAL = 16, /* name -> RETURN of a FUNC handle or NULL */
    TT_RPC_CALL = 17,       /* u64 function handle, u32 argc, argc values -> RETURN/EXCEPTION */
    TT_RPC_RETURN = 18,     /* one value */
    TT_RPC_EXCEPTION = 19,  /* the remote error message (string) */
    TT_RPC_FREE = 20,       /* u32 type code, u64 handle -> RETURN NULL */
    TT_RPC_CLOSE = 21,      /* end of session -> RETURN NULL, then the server exits */
};

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint64_t length; /* payload bytes that follow the header */
} tt_rpc_header;

/* Name of a frame type ("HELLO", ...) or "unknown". */
TT_API const char *tt_rpc_type_name(int type);

/* Writes h as 16 little-endian bytes. */
TT_API void tt_rpc_header_encode(const tt_rpc_header *h, uint8_t out[TT_RPC_HEADER_SIZE]);
/* Decodes a header from n bytes; checks the magic, that the type is known and that length <=
 * max_payload, all before anyone allocates the payload. Version is not checked here (the
 * handshake reports a mismatch with both versions). -1 with a message on failure. */
TT_API int tt_rpc_header_decode(const uint8_t *buf, size_t n, uint64_t max_payload,
                                tt_rpc_header *out);

/* An output buffer that grows; err is set once an allocation failed (later puts do nothing). */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    int err;
} tt_rpc_buf;

TT_API void tt_rpc_buf_free(tt_rpc_buf *b);
TT_API void tt_rpc_put(tt_rpc_buf *b, const void *p, size_t n);
TT_API void tt_rpc_put_u16(tt_rpc_buf *b, uint16_t v);
TT_API void tt_rpc_put_u32(tt_rpc_buf *b, uint32_t v);
TT_API void tt_rpc_put_u64(tt_rpc_buf *b, uint64_t v);
/* u32 length then the bytes (no NUL). */
TT_API void tt_rpc_put_str(tt_rpc_buf *b, const char *s);

/* A reader over a payload: every get fails (returns -1, sets the last error naming what) when
 * fewer bytes remain than it needs. */
typedef struct {
    const uint8_t *p;
    size_t len, at;
} tt_rpc_reader;

TT_API int tt_rpc_get(tt_rpc_reader *r, void *out, size_t n, const char *what);
TT_API int tt_rpc_get_u16(tt_rpc_reader *r, uint16_t *v, const char *what);
TT_API int tt_rpc_get_u32(tt_rpc_reader *r, uint32_t *v, const char *what);
TT_API int tt_rpc_get_u64(tt_rpc_reader *r, uint64_t *v, const char *what);
/* A string of at most max bytes without NUL, copied into out (NUL-terminated, outcap > max). */
TT_API int tt_rpc_get_str(tt_rpc_reader *r, char *out, size_t outcap, const char *what);

/* Appends one value. Remote handles (TT_FUNC, TT_MODULE, TT_NDARRAY, TT_DLTENSOR, TT_OBJECT)
 * travel as the u64 id in v.v_int64; TT_HANDLE (a local pointer) cannot travel: -1. */
TT_API int tt_rpc_value_encode(tt_rpc_buf *b, tt_value v, int code);

/* Decoded values: handle codes carry the peer's u64 id in v_int64; strings and bytes point into
 * storage owned by the struct. Free with tt_rpc_values_free. */
typedef struct {
    int n;
    tt_value *values;
    int *codes;
    tt_bytes *bytes; /* behind TT_BYTES values */
    char *arena;     /* copies of strings and bytes */
} tt_rpc_values;

/* Decodes count values from r (count <= TT_RPC_MAX_ARGS, and each value needs at least 4 bytes,
 * so a lying count is refused before anything is allocated for it). */
TT_API int tt_rpc_values_decode(tt_rpc_reader *r, uint32_t count, tt_rpc_values *out);
TT_API void tt_rpc_values_free(tt_rpc_values *v);

/* Decodes a whole frame (header and payload in buf) as the receiving side would, with every check
 * it makes: the entry point of the fuzz target. -1 with a message when the bytes are refused. */
TT_API int tt_rpc_frame_check(const uint8_t *buf, size_t n, uint64_t max_payload);

#endif
