/* The RPC connection: deadline-bounded socket I/O, the mutual handshake and sealed frames.
 *
 * Handshake (all frames in clear, each payload at most TT_RPC_MAX_HANDSHAKE_PAYLOAD bytes):
 *   client -> HELLO       runtime version, capabilities, nonce_c[32], kx_pk_c[32]
 *   server -> HELLO_REPLY runtime version, capabilities, nonce_s[32], kx_pk_s[32], tag_s[32]
 *   client -> AUTH        tag_c[32], secretstream header c->s [24]
 *   server -> AUTH_OK     secretstream header s->c [24]
 * th = BLAKE2b-256(HELLO frame || HELLO_REPLY frame without tag_s): it covers both headers (so
 * both protocol versions), both runtime versions, both nonces and both kx public keys.
 * tag_x = crypto_auth("tt-rpc v1 server"|"tt-rpc v1 client" || th, K_auth), K_auth = BLAKE2b keyed
 * with the pre-shared key over "tt-rpc auth": a peer without the key cannot produce either tag,
 * the role labels stop a tag being reflected, fresh nonces stop a replay. Stream keys are the
 * crypto_kx session keys (ephemeral X25519) hashed with th under the pre-shared key, so the key
 * alone decrypts no recorded session (forward secrecy) and the kx keys alone authenticate nobody.
 * Either side that refuses says why in an ERROR frame; the server refuses before it parses
 * anything but the handshake, and writes nothing to disk. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"

#define TAG_BYTES crypto_auth_BYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define DEFAULT_HANDSHAKE_MS 10000

int64_t tt_rpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int wait = -1;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - tt_rpc_now_ms();
            if (left <= 0)
                return 0;
            wait = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, wait);
        if (rc > 0)
            return 1;
        if (rc == 0 && deadline_ms >= 0 && tt_rpc_now_ms() >= deadline_ms)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int tt_rpc_read_full(int fd, void *buf, size_t n, int64_t deadline_ms, const char *what)
{
    size_t got = 0;
    while (got < n) {
        int w = wait_fd(fd, POLLIN, deadline_ms);
        if (w == 0)
            return tt_error_set("rpc: timeout waiting for %s", what);
        if (w < 0)
            return tt_error_set("rpc: poll failed waiting for %s: %s", what, strerror(errno));
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == 0)
            return tt_error_set("rpc: connection closed by the peer while reading %s (%zu of %zu "
                                "bytes)",
                                what, got, n);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return tt_error_set("rpc: reading %s: %s", what, strerror(errno));
        }
        got += (size_t)r;
    }
    return 0;
}

int tt_rpc_write_full(int fd, const void *buf, size_t n, int64_t deadline_ms)
{
    size_t put = 0;
    while (put < n) {
        int w = wait_fd(fd, POLLOUT, deadline_ms);
        if (w == 0)
            return tt_error_set("rpc: timeout sending to the peer");
        if (w < 0)
            return tt_error_set("rpc: poll failed while sending: %s", strerror(errno));
        /* MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE that kills the
         * host process (a Python interpreter, the tuner). */
        ssize_t r = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
        if (r < 0 && errno == ENOTSOCK)
            r = write(fd, (const char *)buf + put, n - put);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return tt_error_set("rpc: sending to the peer: %s", strerror(errno));
        }
        put += (size_t)r;
    }
    return 0;
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : tt_rpc_now_ms() + timeout_ms;
}

/* ---- clear frames (handshake) ---- */

static int send_clear(int fd, uint16_t version, int type, const tt_rpc_buf *payload,
                      int64_t deadline, tt_rpc_buf *frame_out)
{
    uint8_t hdr[TT_RPC_HEADER_SIZE];
    tt_rpc_header h = {TT_RPC_MAGIC, version, (uint16_t)type, payload ? payload->len : 0};
    tt_rpc_header_encode(&h, hdr);
    if (frame_out != NULL) {
        tt_rpc_put(frame_out, hdr, sizeof hdr);
        if (payload)
            tt_rpc_put(frame_out, payload->data, payload->len);
    }
    if (tt_rpc_write_full(fd, hdr, sizeof hdr, deadline) != 0)
        return -1;
    if (payload && payload->len && tt_rpc_write_full(fd, payload->data, payload->len, deadline))
        return -1;
    return 0;
}

void tt_rpc_send_error(int fd, const char *msg)
{
    tt_rpc_buf b = {0};
    tt_rpc_put_str(&b, msg);
    if (!b.err)
        send_clear(fd, TT_RPC_PROTOCOL_VERSION, TT_RPC_ERROR, &b, tt_rpc_now_ms() + 1000, NULL);
    tt_rpc_buf_free(&b);
}

/* Reads one clear handshake frame: header checks first (magic, type, the small size cap), then
 * the payload into buf (TT_RPC_MAX_HANDSHAKE_PAYLOAD bytes). The raw frame is appended to
 * transcript when given. */
static int recv_clear(int fd, int64_t deadline, tt_rpc_header *h, uint8_t *buf,
                      tt_rpc_buf *transcript, const char *what)
{
    uint8_t hdr[TT_RPC_HEADER_SIZE];
    if (tt_rpc_read_full(fd, hdr, sizeof hdr, deadline, what) != 0)
        return -1;
    if (tt_rpc_header_decode(hdr, sizeof hdr, TT_RPC_MAX_HANDSHAKE_PAYLOAD, h) != 0)
        return -1;
    if (h->length && tt_rpc_read_full(fd, buf, (size_t)h->length, deadline, what) != 0)
        return -1;
    if (transcript) {
        tt_rpc_put(transcript, hdr, sizeof hdr);
        tt_rpc_put(transcript, buf, (size_t)h->length);
    }
    return 0;
}

/* The message of an ERROR frame's payload, or a note that it had none. */
static void error_text(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    tt_rpc_reader r = {buf, len, 0};
    if (tt_rpc_get_str(&r, out, cap, "the error message") != 0)
        snprintf(out, cap, "(an ERROR frame without a readable message)");
}

typedef struct {
    char runtime[64];
    uint64_t caps;
    uint8_t nonce[32];
    uint8_t kx_pk[crypto_kx_PUBLICKEYBYTES];
} hello_fields;

/* The handshake succeeded: the channel is secure and knows its peer's runtime and capabilities. */
static void established(tt_rpc_channel *c, const hello_fields *peer)
{
    snprintf(c->peer_runtime, sizeof c->peer_runtime, "%s", peer->runtime);
    c->peer_caps = peer->caps;
    c->secure = 1;
}

/* Erases the session keys of a handshake from the stack, whatever its outcome. */
static void wipe_session_keys(uint8_t rx[crypto_kx_SESSIONKEYBYTES],
                              uint8_t tx[crypto_kx_SESSIONKEYBYTES],
                              uint8_t k_rx[crypto_secretstream_xchacha20poly1305_KEYBYTES],
                              uint8_t k_tx[crypto_secretstream_xchacha20poly1305_KEYBYTES])
{
    sodium_memzero(rx, crypto_kx_SESSIONKEYBYTES);
    sodium_memzero(tx, crypto_kx_SESSIONKEYBYTES);
    sodium_memzero(k_rx, crypto_secretstream_xchacha20poly1305_KEYBYTES);
    sodium_memzero(k_tx, crypto_secretstream_xchacha20poly1305_KEYBYTES);
}

static void put_hello(tt_rpc_buf *b, const char *runtime, const uint8_t *nonce,
                      const uint8_t *kx_pk)
{
    tt_rpc_put_str(b, runtime);
    tt_rpc_put_u64(b, TT_RPC_CAPS);
    tt_rpc_put(b, nonce, 32);
    tt_rpc_put(b, kx_pk, crypto_kx_PUBLICKEYBYTES);
}

static int get_hello(tt_rpc_reader *r, hello_fields *f)
{
    if (tt_rpc_get_str(r, f->runtime, sizeof f->runtime, "the runtime version") != 0 ||
        tt_rpc_get_u64(r, &f->caps, "the capabilities") != 0 ||
        tt_rpc_get(r, f->nonce, 32, "the nonce") != 0 ||
        tt_rpc_get(r, f->kx_pk, sizeof f->kx_pk, "the kx public key") != 0)
        return -1;
    return 0;
}

/* Whether two runtime versions "X.Y.Z" can work together: same major, and before 1.0 the same
 * minor too (semantic versioning: 0.y releases may break anything). */
static int runtimes_compatible(const char *a, const char *b)
{
    unsigned am = 0, an = 0, bm = 0, bn = 0;
    if (sscanf(a, "%u.%u", &am, &an) != 2 || sscanf(b, "%u.%u", &bm, &bn) != 2)
        return 0;
    return am == bm && (am != 0 || an == bn);
}

static void auth_key(const uint8_t psk[TT_RPC_KEY_BYTES], uint8_t out[crypto_auth_KEYBYTES])
{
    static const char label[] = "tt-rpc auth";
    crypto_generichash(out, crypto_auth_KEYBYTES, (const uint8_t *)label, sizeof label - 1, psk,
                       TT_RPC_KEY_BYTES);
}

static void make_tag(const uint8_t psk[TT_RPC_KEY_BYTES], const char *role, const uint8_t th[32],
                     uint8_t tag[TAG_BYTES])
{
    uint8_t k[crypto_auth_KEYBYTES], msg[64];
    size_t n = strlen(role);
    memcpy(msg, role, n);
    memcpy(msg + n, th, 32);
    auth_key(psk, k);
    crypto_auth(tag, msg, n + 32, k);
    sodium_memzero(k, sizeof k);
}

static int check_tag(const uint8_t psk[TT_RPC_KEY_BYTES], const char *role, const uint8_t th[32],
                     const uint8_t tag[TAG_BYTES])
{
    uint8_t k[crypto_auth_KEYBYTES], msg[64];
    size_t n = strlen(role);
    memcpy(msg, role, n);
    memcpy(msg + n, th, 32);
    auth_key(psk, k);
    int rc = crypto_auth_verify(tag, msg, n + 32, k);
    sodium_memzero(k, sizeof k);
    return rc;
}

/* One direction's stream key: the kx session key for that direction, mixed with the transcript
 * hash under the pre-shared key. */
static void stream_key(const uint8_t psk[TT_RPC_KEY_BYTES], const char *dir,
                       const uint8_t kx_key[crypto_kx_SESSIONKEYBYTES], const uint8_t th[32],
                       uint8_t out[crypto_secretstream_xchacha20poly1305_KEYBYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, psk, TT_RPC_KEY_BYTES,
                            crypto_secretstream_xchacha20poly1305_KEYBYTES);
    crypto_generichash_update(&st, (const uint8_t *)dir, strlen(dir));
    crypto_generichash_update(&st, kx_key, crypto_kx_SESSIONKEYBYTES);
    crypto_generichash_update(&st, th, 32);
    crypto_generichash_final(&st, out, crypto_secretstream_xchacha20poly1305_KEYBYTES);
}

static void transcript_hash(const tt_rpc_buf *t, size_t len, uint8_t th[32])
{
    crypto_generichash(th, 32, t->data, len, NULL, 0);
}

static const char *opt_runtime(const tt_rpc_handshake_opts *o)
{
    return o && o->runtime_version ? o->runtime_version : TT_VERSION;
}

static uint16_t opt_version(const tt_rpc_handshake_opts *o)
{
    return o && o->protocol_version ? o->protocol_version : TT_RPC_PROTOCOL_VERSION;
}

static int64_t opt_deadline(const tt_rpc_handshake_opts *o)
{
    return tt_rpc_now_ms() + (o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_HANDSHAKE_MS);
}

TT_API int tt_rpc_handshake_client(tt_rpc_channel *c, int fd, const uint8_t key[TT_RPC_KEY_BYTES],
                                   const tt_rpc_handshake_opts *opts)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    if (sodium_init() < 0)
        return tt_error_set("rpc: libsodium failed to initialise");
    int64_t deadline = opt_deadline(opts);
    uint16_t version = opt_version(opts);
    const char *runtime = opt_runtime(opts);
    uint8_t nonce[32], pk[crypto_kx_PUBLICKEYBYTES], sk[crypto_kx_SECRETKEYBYTES];
    randombytes_buf(nonce, sizeof nonce);
    crypto_kx_keypair(pk, sk);
    tt_rpc_buf t = {0}, p = {0};
    uint8_t buf[TT_RPC_MAX_HANDSHAKE_PAYLOAD];
    char msg[TT_RPC_MAX_HANDSHAKE_PAYLOAD];
    int rc = -1;
    tt_rpc_header h;
    put_hello(&p, runtime, nonce, pk);
    if (p.err || send_clear(fd, version, TT_RPC_HELLO, &p, deadline, &t) != 0)
        goto out;
    size_t hello_len = t.len;
    if (recv_clear(fd, deadline, &h, buf, &t, "the server's HELLO_REPLY") != 0)
        goto out;
    if (h.type == TT_RPC_ERROR) {
        error_text(buf, (size_t)h.length, msg, sizeof msg);
        tt_error_set("rpc: the server refused the connection: %s", msg);
        goto out;
    }
    tt_rpc_reader r = {buf, (size_t)h.length, 0};
    hello_fields sf = {0};
    if (h.version != version) {
        if (get_hello(&r, &sf) != 0)
            snprintf(sf.runtime, sizeof sf.runtime, "unknown");
        tt_error_set("rpc: protocol version mismatch: the server speaks protocol %u (runtime %s), "
                     "this client speaks protocol %u (runtime %s)",
                     (unsigned)h.version, sf.runtime, (unsigned)version, runtime);
        goto out;
    }
    if (h.type != TT_RPC_HELLO_REPLY) {
        tt_error_set("rpc: handshake: expected HELLO_REPLY from the server, got %s",
                     tt_rpc_type_name(h.type));
        goto out;
    }
    uint8_t tag_s[TAG_BYTES];
    if (get_hello(&r, &sf) != 0 || tt_rpc_get(&r, tag_s, TAG_BYTES, "the server's proof") != 0 ||
        r.at != r.len) {
        tt_error_wrap("rpc: handshake: malformed HELLO_REPLY");
        goto out;
    }
    if (!runtimes_compatible(runtime, sf.runtime)) {
        snprintf(msg, sizeof msg,
                 "runtime version mismatch: the server runs tvm-tune runtime %s, this client %s "
                 "(protocol %u on both)",
                 sf.runtime, runtime, (unsigned)version);
        tt_rpc_send_error(fd, msg);
        tt_error_set("rpc: %s", msg);
        goto out;
    }
    uint8_t th[32];
    transcript_hash(&t, t.len - TAG_BYTES, th);
    (void)hello_len;
    if (check_tag(key, "tt-rpc v1 server", th, tag_s) != 0) {
        tt_rpc_send_error(fd, "authentication failed: the server did not prove it has the client's "
                              "key");
        tt_error_set("rpc: authentication failed: the server does not have this key (the key "
                     "files of client and server differ)");
        goto out;
    }
    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    if (crypto_kx_client_session_keys(rx, tx, pk, sk, sf.kx_pk) != 0) {
        tt_error_set("rpc: handshake: the server's kx public key is invalid");
        goto out;
    }
    uint8_t k_tx[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    uint8_t k_rx[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    stream_key(key, "tt-rpc c2s", tx, th, k_tx);
    stream_key(key, "tt-rpc s2c", rx, th, k_rx);
    uint8_t auth[TAG_BYTES + SS_HEADER];
    make_tag(key, "tt-rpc v1 client", th, auth);
    crypto_secretstream_xchacha20poly1305_init_push(&c->tx, auth + TAG_BYTES, k_tx);
    tt_rpc_buf a = {0};
    tt_rpc_put(&a, auth, sizeof auth);
    int sent = a.err ? -1 : send_clear(fd, version, TT_RPC_AUTH, &a, deadline, NULL);
    tt_rpc_buf_free(&a);
    if (sent != 0)
        goto wipe;
    if (recv_clear(fd, deadline, &h, buf, NULL, "the server's AUTH_OK") != 0)
        goto wipe;
    if (h.type == TT_RPC_ERROR) {
        error_text(buf, (size_t)h.length, msg, sizeof msg);
        tt_error_set("rpc: the server refused the connection: %s", msg);
        goto wipe;
    }
    if (h.type != TT_RPC_AUTH_OK || h.length != SS_HEADER) {
        tt_error_set("rpc: handshake: expected AUTH_OK of %d bytes, got %s of %llu bytes",
                     SS_HEADER, tt_rpc_type_name(h.type), (unsigned long long)h.length);
        goto wipe;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, buf, k_rx) != 0) {
        tt_error_set("rpc: handshake: invalid stream header from the server");
        goto wipe;
    }
    established(c, &sf);
    rc = 0;
wipe:
    wipe_session_keys(rx, tx, k_rx, k_tx);
out:
    sodium_memzero(sk, sizeof sk);
    tt_rpc_buf_free(&t);
    tt_rpc_buf_free(&p);
    return rc;
}

/* Refuses: tells the peer why (ERROR frame), sets the same message as the last error. */
static int refuse(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(int fd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tt_rpc_send_error(fd, msg);
    return tt_error_set("rpc: %s", msg);
}

TT_API int tt_rpc_handshake_server(tt_rpc_channel *c, int fd, const uint8_t key[TT_RPC_KEY_BYTES],
                                   const tt_rpc_handshake_opts *opts)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    if (sodium_init() < 0)
        return tt_error_set("rpc: libsodium failed to initialise");
    int64_t deadline = opt_deadline(opts);
    uint16_t version = opt_version(opts);
    const char *runtime = opt_runtime(opts);
    uint8_t buf[TT_RPC_MAX_HANDSHAKE_PAYLOAD], hdr[TT_RPC_HEADER_SIZE];
    tt_rpc_buf t = {0};
    tt_rpc_header h;
    int rc = -1;
    uint8_t sk[crypto_kx_SECRETKEYBYTES], pk[crypto_kx_PUBLICKEYBYTES], nonce[32];
    uint8_t k_tx[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    uint8_t k_rx[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    crypto_kx_keypair(pk, sk);
    randombytes_buf(nonce, sizeof nonce);

    /* The header alone first: a bad magic or an oversized length is refused before the payload
     * is read, let alone allocated. */
    if (tt_rpc_read_full(fd, hdr, sizeof hdr, deadline, "the client's HELLO") != 0)
        goto out;
    if (tt_rpc_header_decode(hdr, sizeof hdr, TT_RPC_MAX_HANDSHAKE_PAYLOAD, &h) != 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", tt_get_last_error());
        refuse(fd, "handshake refused: %s", why + (strncmp(why, "rpc: ", 5) ? 0 : 5));
        goto out;
    }
    if (h.length && tt_rpc_read_full(fd, buf, (size_t)h.length, deadline, "the client's HELLO"))
        goto out;
    tt_rpc_put(&t, hdr, sizeof hdr);
    tt_rpc_put(&t, buf, (size_t)h.length);
    tt_rpc_reader r = {buf, (size_t)h.length, 0};
    hello_fields cf = {0};
    if (h.version != version) {
        /* The runtime version is the first field of HELLO in every protocol version. */
        if (get_hello(&r, &cf) != 0)
            snprintf(cf.runtime, sizeof cf.runtime, "unknown");
        refuse(fd,
               "protocol version mismatch: the client speaks protocol %u (runtime %s), this "
               "server speaks protocol %u (runtime %s)",
               (unsigned)h.version, cf.runtime, (unsigned)version, runtime);
        goto out;
    }
    if (h.type != TT_RPC_HELLO) {
        refuse(fd, "handshake refused: expected HELLO first, got %s", tt_rpc_type_name(h.type));
        goto out;
    }
    if (get_hello(&r, &cf) != 0 || r.at != r.len) {
        char why[1024];
        snprintf(why, sizeof why, "%s", tt_get_last_error());
        refuse(fd, "handshake refused: malformed HELLO: %s", why);
        goto out;
    }
    if (!runtimes_compatible(runtime, cf.runtime)) {
        refuse(fd,
               "runtime version mismatch: the client runs tvm-tune runtime %s, this server %s "
               "(protocol %u on both)",
               cf.runtime, runtime, (unsigned)version);
        goto out;
    }
    tt_rpc_buf p = {0};
    put_hello(&p, runtime, nonce, pk);
    size_t th_len = t.len + TT_RPC_HEADER_SIZE + p.len;
    /* The reply's header counts the tag that follows; th covers everything before the tag. */
    {
        uint8_t rh[TT_RPC_HEADER_SIZE];
        tt_rpc_header reply = {TT_RPC_MAGIC, version, TT_RPC_HELLO_REPLY, p.len + TAG_BYTES};
        tt_rpc_header_encode(&reply, rh);
        tt_rpc_put(&t, rh, sizeof rh);
        tt_rpc_put(&t, p.data, p.len);
    }
    uint8_t th[32], tag[TAG_BYTES];
    if (p.err || t.err) {
        tt_rpc_buf_free(&p);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory in the handshake");
        goto out;
    }
    transcript_hash(&t, th_len, th);
    make_tag(key, "tt-rpc v1 server", th, tag);
    tt_rpc_put(&p, tag, TAG_BYTES);
    int sent = p.err ? -1 : send_clear(fd, version, TT_RPC_HELLO_REPLY, &p, deadline, NULL);
    tt_rpc_buf_free(&p);
    if (sent != 0)
        goto out;

    if (recv_clear(fd, deadline, &h, buf, NULL, "the client's AUTH") != 0) {
        /* A client that found our proof wrong says so and closes; keep its reason. */
        goto out;
    }
    if (h.type == TT_RPC_ERROR) {
        char msg[TT_RPC_MAX_HANDSHAKE_PAYLOAD];
        error_text(buf, (size_t)h.length, msg, sizeof msg);
        tt_error_set("rpc: the client refused the handshake: %s", msg);
        goto out;
    }
    if (h.type != TT_RPC_AUTH || h.length != TAG_BYTES + SS_HEADER) {
        refuse(fd, "handshake refused: expected AUTH of %d bytes, got %s of %llu bytes",
               TAG_BYTES + SS_HEADER, tt_rpc_type_name(h.type), (unsigned long long)h.length);
        goto out;
    }
    if (check_tag(key, "tt-rpc v1 client", th, buf) != 0) {
        refuse(fd, "authentication failed: the client did not prove it has this server's key");
        goto out;
    }
    if (crypto_kx_server_session_keys(rx, tx, pk, sk, cf.kx_pk) != 0) {
        refuse(fd, "handshake refused: invalid kx public key");
        goto wipe;
    }
    stream_key(key, "tt-rpc c2s", rx, th, k_rx);
    stream_key(key, "tt-rpc s2c", tx, th, k_tx);
    if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, buf + TAG_BYTES, k_rx) != 0) {
        refuse(fd, "handshake refused: invalid stream header");
        goto wipe;
    }
    uint8_t ss[SS_HEADER];
    crypto_secretstream_xchacha20poly1305_init_push(&c->tx, ss, k_tx);
    tt_rpc_buf ok = {0};
    tt_rpc_put(&ok, ss, sizeof ss);
    sent = ok.err ? -1 : send_clear(fd, version, TT_RPC_AUTH_OK, &ok, deadline, NULL);
    tt_rpc_buf_free(&ok);
    if (sent != 0)
        goto wipe;
    established(c, &cf);
    rc = 0;
wipe:
    wipe_session_keys(rx, tx, k_rx, k_tx);
out:
    sodium_memzero(sk, sizeof sk);
    tt_rpc_buf_free(&t);
    return rc;
}

/* ---- sealed frames ---- */

TT_API int tt_rpc_send(tt_rpc_channel *c, int type, const uint8_t *payload, size_t len,
                       int timeout_ms)
{
    if (!c->secure)
        return tt_error_set("rpc: the connection is not authenticated (or was closed)");
    if (len > TT_RPC_MAX_PAYLOAD)
        return tt_error_set("rpc: a %s frame of %zu bytes exceeds the limit of %llu bytes",
                            tt_rpc_type_name(type), len, (unsigned long long)TT_RPC_MAX_PAYLOAD);
    size_t total = TT_RPC_HEADER_SIZE + len + SS_ABYTES;
    uint8_t *frame = malloc(total);
    if (frame == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory sending %zu bytes", len);
    tt_rpc_header h = {TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, (uint16_t)type, len + SS_ABYTES};
    tt_rpc_header_encode(&h, frame);
    /* The header is the additional data: its type and length are authenticated too. */
    crypto_secretstream_xchacha20poly1305_push(&c->tx, frame + TT_RPC_HEADER_SIZE, NULL, payload,
                                               len, frame, TT_RPC_HEADER_SIZE,
                                               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    int rc = tt_rpc_write_full(c->fd, frame, total, deadline_of(timeout_ms));
    free(frame);
    if (rc != 0)
        c->secure = 0; /* a half-written frame desynchronises the stream: the channel is dead */
    return rc;
}

TT_API int tt_rpc_recv(tt_rpc_channel *c, tt_rpc_header *h, uint8_t **payload, int timeout_ms)
{
    *payload = NULL;
    if (!c->secure)
        return tt_error_set("rpc: the connection is not authenticated (or was closed)");
    int64_t deadline = deadline_of(timeout_ms);
    uint8_t hdr[TT_RPC_HEADER_SIZE];
    if (tt_rpc_read_full(c->fd, hdr, sizeof hdr, deadline, "a frame header") != 0)
        goto dead;
    if (tt_rpc_header_decode(hdr, sizeof hdr, TT_RPC_MAX_PAYLOAD + SS_ABYTES, h) != 0)
        goto dead;
    if (h->version != TT_RPC_PROTOCOL_VERSION) {
        tt_error_set("rpc: a frame of protocol version %u inside a protocol %d session",
                     (unsigned)h->version, TT_RPC_PROTOCOL_VERSION);
        goto dead;
    }
    if (h->length < SS_ABYTES) {
        tt_error_set("rpc: a sealed %s frame of %llu bytes is shorter than its tag",
                     tt_rpc_type_name(h->type), (unsigned long long)h->length);
        goto dead;
    }
    size_t clen = (size_t)h->length, mlen = clen - SS_ABYTES;
    uint8_t *cbuf = malloc(clen), *m = malloc(mlen ? mlen : 1);
    if (cbuf == NULL || m == NULL) {
        free(cbuf);
        free(m);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory receiving %zu bytes", clen);
        goto dead;
    }
    if (tt_rpc_read_full(c->fd, cbuf, clen, deadline, "a frame payload") != 0) {
        free(cbuf);
        free(m);
        goto dead;
    }
    unsigned char tag;
    int bad = crypto_secretstream_xchacha20poly1305_pull(&c->rx, m, NULL, &tag, cbuf, clen, hdr,
                                                         sizeof hdr);
    free(cbuf);
    if (bad != 0) {
        free(m);
        tt_error_set("rpc: a %s frame failed authentication: the stream was tampered with or "
                     "corrupted",
                     tt_rpc_type_name(h->type));
        goto dead;
    }
    h->length = mlen;
    *payload = m;
    return 0;
dead:
    c->secure = 0;
    return -1;
}

/* ---- keys ---- */

TT_API int tt_rpc_key_load(const char *path, uint8_t key[TT_RPC_KEY_BYTES])
{
    if (path == NULL || path[0] == '\0')
        return tt_error_set("rpc: no key file given (create one with `tvm-tune-rpc keygen -o "
                            "FILE`)");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_error_set("rpc: cannot open key file \"%s\": %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return tt_error_set("rpc: cannot stat key file \"%s\": %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tt_error_set("rpc: key file \"%s\" is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return tt_error_set("rpc: key file \"%s\" has mode %04o: group or others can read or "
                            "write it; run chmod 600 \"%s\"",
                            path, (unsigned)(st.st_mode & 07777), path);
    }
    if (st.st_size != TT_RPC_KEY_BYTES) {
        close(fd);
        return tt_error_set("rpc: key file \"%s\" has %lld bytes, expected exactly %d (make one "
                            "with `tvm-tune-rpc keygen -o FILE`)",
                            path, (long long)st.st_size, TT_RPC_KEY_BYTES);
    }
    int rc = tt_rpc_read_full(fd, key, TT_RPC_KEY_BYTES, -1, "the key file");
    close(fd);
    if (rc != 0)
        return tt_error_wrap("rpc: key file \"%s\"", path);
    return 0;
}
