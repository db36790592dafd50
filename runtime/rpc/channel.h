/* One end of an RPC connection: a socket, the handshake that authenticates both peers with the
 * pre-shared key, and after it one secretstream per direction that seals every frame. Shared by
 * the client (client.c) and the server's session process (session.c). */
#ifndef TT_RPC_CHANNEL_H
#define TT_RPC_CHANNEL_H

#include <sodium.h>

#include "proto.h"

#define TT_RPC_KEY_BYTES 32

typedef struct {
    int fd;
    int secure; /* 1 once the handshake finished: frames are sealed */
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    char peer_runtime[64]; /* the peer's TT_VERSION */
    uint64_t peer_caps;
} tt_rpc_channel;

/* Capabilities a peer announces (bit set): what its server side offers. */
#define TT_RPC_CAP_UPLOAD 1u
#define TT_RPC_CAP_TIME_EVALUATOR 2u
#define TT_RPC_CAPS (TT_RPC_CAP_UPLOAD | TT_RPC_CAP_TIME_EVALUATOR)

/* Handshake parameters a test may change to play an older or newer peer. */
typedef struct {
    uint16_t protocol_version;   /* 0: TT_RPC_PROTOCOL_VERSION */
    const char *runtime_version; /* NULL: TT_VERSION */
    int timeout_ms;              /* whole handshake; <= 0: 10 s */
} tt_rpc_handshake_opts;

/* Runs the client side of the handshake on fd (see docs/ARCHITECTURE.md "RPC" and the comment in
 * channel.c); on success c is ready for sealed frames. -1 with a message naming the cause. */
TT_API int tt_rpc_handshake_client(tt_rpc_channel *c, int fd, const uint8_t key[TT_RPC_KEY_BYTES],
                                   const tt_rpc_handshake_opts *opts);
/* The server side. Before authentication it reads at most TT_RPC_MAX_HANDSHAKE_PAYLOAD bytes per
 * frame and parses nothing else; a refusal is also sent to the peer as an ERROR frame. */
TT_API int tt_rpc_handshake_server(tt_rpc_channel *c, int fd, const uint8_t key[TT_RPC_KEY_BYTES],
                                   const tt_rpc_handshake_opts *opts);

/* Sends one sealed frame. timeout_ms < 0: no limit. */
TT_API int tt_rpc_send(tt_rpc_channel *c, int type, const uint8_t *payload, size_t len,
                       int timeout_ms);
/* Receives one sealed frame; *payload (caller frees, NULL when empty) holds h->length bytes.
 * A frame that fails authentication is an error ("tampered"). timeout_ms < 0: no limit. */
TT_API int tt_rpc_recv(tt_rpc_channel *c, tt_rpc_header *h, uint8_t **payload, int timeout_ms);

/* Reads/writes exactly n bytes before the deadline (a CLOCK_MONOTONIC time in ms; < 0: none). */
TT_API int tt_rpc_read_full(int fd, void *buf, size_t n, int64_t deadline_ms, const char *what);
TT_API int tt_rpc_write_full(int fd, const void *buf, size_t n, int64_t deadline_ms);
TT_API int64_t tt_rpc_now_ms(void);

/* Sends a clear ERROR frame (best effort, during the handshake only). */
TT_API void tt_rpc_send_error(int fd, const char *msg);

/* Loads a 32-byte key file; refuses any other size and a file group or others can read. */
TT_API int tt_rpc_key_load(const char *path, uint8_t key[TT_RPC_KEY_BYTES]);

#endif
