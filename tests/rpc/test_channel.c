/* Tests runtime/rpc/channel.c over socketpairs: the handshake with the right key, a wrong key
 * (refused on both sides), protocol and runtime version mismatches (messages name both
 * versions), garbage and an oversized first frame (refused from the header), the handshake time
 * limit, sealed frames both ways, a tampered byte in the stream, and key files (keygen, modes,
 * sizes). The server side runs in a thread; nothing sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/rpc/channel.h"
#include "tt/rpc.h"

static void expect_in(const char *msg, const char *fragment)
{
    if (strstr(msg, fragment) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", msg, fragment);
}

typedef struct {
    int fd;
    uint8_t key[32];
    tt_rpc_handshake_opts opts;
    tt_rpc_channel ch;
    int rc;
    char err[1024];
} server_arg;

static void *server_main(void *p)
{
    server_arg *a = p;
    a->rc = tt_rpc_handshake_server(&a->ch, a->fd, a->key, &a->opts);
    snprintf(a->err, sizeof a->err, "%s", tt_get_last_error());
    return NULL;
}

typedef struct {
    int fds[2];
    pthread_t th;
    server_arg s;
} pair;

static void start(pair *p, const uint8_t *server_key, const tt_rpc_handshake_opts *opts)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds), 0);
    memset(&p->s, 0, sizeof p->s);
    p->s.fd = p->fds[1];
    memcpy(p->s.key, server_key, 32);
    if (opts)
        p->s.opts = *opts;
    assert_int_equal(pthread_create(&p->th, NULL, server_main, &p->s), 0);
}

static void finish(pair *p)
{
    pthread_join(p->th, NULL);
    close(p->fds[0]);
    close(p->fds[1]);
}

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t key_b[32] = {1, 2, 3, 4, 5, 6, 7, 8, 10};

static void right_key_and_frames(void **state)
{
    pair p;
    start(&p, key_a, NULL);
    tt_rpc_channel c;
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, NULL), 0);
    pthread_join(p.th, NULL);
    assert_int_equal(p.s.rc, 0);
    assert_string_equal(c.peer_runtime, TT_VERSION);
    assert_string_equal(p.s.ch.peer_runtime, TT_VERSION);
    /* Sealed frames both ways, several in a row (the stream state advances). */
    for (int i = 0; i < 3; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "frame %d", i);
        assert_int_equal(tt_rpc_send(&c, TT_RPC_GET_GLOBAL, (const uint8_t *)msg, strlen(msg), -1),
                         0);
        tt_rpc_header h;
        uint8_t *got;
        assert_int_equal(tt_rpc_recv(&p.s.ch, &h, &got, -1), 0);
        assert_int_equal(h.type, TT_RPC_GET_GLOBAL);
        assert_int_equal(h.length, strlen(msg));
        assert_memory_equal(got, msg, strlen(msg));
        free(got);
        assert_int_equal(tt_rpc_send(&p.s.ch, TT_RPC_RETURN, NULL, 0, -1), 0);
        assert_int_equal(tt_rpc_recv(&c, &h, &got, -1), 0);
        assert_int_equal(h.type, TT_RPC_RETURN);
        assert_int_equal(h.length, 0);
        free(got);
    }
    close(p.fds[0]);
    close(p.fds[1]);
}

static void wrong_key(void **state)
{
    pair p;
    start(&p, key_b, NULL);
    tt_rpc_channel c;
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, NULL), -1);
    expect_in(tt_get_last_error(), "authentication failed");
    finish(&p);
    assert_int_equal(p.s.rc, -1);
    expect_in(p.s.err, "authentication failed");
    assert_false(p.s.ch.secure);
}

static void read_error_frame(int fd, char *out, size_t cap);

/* A peer without the key that ignores the server's proof and sends a made-up one of its own: the
 * server refuses it and says so, and its channel never becomes usable. */
static void forged_proof(void **state)
{
    pair p;
    start(&p, key_a, NULL);
    tt_rpc_buf hello = {0};
    tt_rpc_put_str(&hello, TT_VERSION);
    tt_rpc_put_u64(&hello, 0);
    uint8_t junk[64];
    memset(junk, 0x5a, sizeof junk);
    tt_rpc_put(&hello, junk, 64); /* nonce and kx public key */
    tt_rpc_header h = {TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, TT_RPC_HELLO, hello.len};
    uint8_t hdr[TT_RPC_HEADER_SIZE], reply[600];
    tt_rpc_header_encode(&h, hdr);
    assert_int_equal(tt_rpc_write_full(p.fds[0], hdr, sizeof hdr, -1), 0);
    assert_int_equal(tt_rpc_write_full(p.fds[0], hello.data, hello.len, -1), 0);
    tt_rpc_buf_free(&hello);
    assert_int_equal(tt_rpc_read_full(p.fds[0], hdr, sizeof hdr, -1, "reply"), 0);
    assert_int_equal(tt_rpc_header_decode(hdr, sizeof hdr, sizeof reply, &h), 0);
    assert_int_equal(h.type, TT_RPC_HELLO_REPLY);
    assert_int_equal(tt_rpc_read_full(p.fds[0], reply, (size_t)h.length, -1, "reply"), 0);
    h = (tt_rpc_header){TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, TT_RPC_AUTH, 56};
    tt_rpc_header_encode(&h, hdr);
    assert_int_equal(tt_rpc_write_full(p.fds[0], hdr, sizeof hdr, -1), 0);
    assert_int_equal(tt_rpc_write_full(p.fds[0], junk, 56, -1), 0);
    char msg[600];
    read_error_frame(p.fds[0], msg, sizeof msg);
    expect_in(msg, "authentication failed: the client did not prove it has this server's key");
    finish(&p);
    assert_int_equal(p.s.rc, -1);
    assert_false(p.s.ch.secure);
}

static void version_mismatch(void **state)
{
    pair p;
    enum { ours = TT_RPC_PROTOCOL_VERSION, theirs = TT_RPC_PROTOCOL_VERSION + 1 };
    tt_rpc_handshake_opts newer = {.protocol_version = theirs};
    char client_says[96], server_says[96];
    start(&p, key_a, NULL);
    tt_rpc_channel c;
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, &newer), -1);
    expect_in(tt_get_last_error(), "protocol version mismatch");
    snprintf(client_says, sizeof client_says, "client speaks protocol %d (runtime %s)", theirs,
             TT_VERSION);
    snprintf(server_says, sizeof server_says, "server speaks protocol %d (runtime %s)", ours,
             TT_VERSION);
    expect_in(tt_get_last_error(), client_says);
    expect_in(tt_get_last_error(), server_says);
    finish(&p);
    expect_in(p.s.err, "protocol version mismatch");

    /* The server is the newer one: the client names both as well. */
    start(&p, key_a, &newer);
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, NULL), -1);
    expect_in(tt_get_last_error(), "protocol version mismatch");
    snprintf(client_says, sizeof client_says, "protocol %d", theirs);
    snprintf(server_says, sizeof server_says, "protocol %d", ours);
    expect_in(tt_get_last_error(), client_says);
    expect_in(tt_get_last_error(), server_says);
    finish(&p);

    /* Runtime versions that cannot work together (0.1 vs 0.2). */
    tt_rpc_handshake_opts old_runtime = {.runtime_version = "0.2.0"};
    start(&p, key_a, &old_runtime);
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, NULL), -1);
    expect_in(tt_get_last_error(), "runtime version mismatch");
    expect_in(tt_get_last_error(), "0.2.0");
    expect_in(tt_get_last_error(), TT_VERSION);
    finish(&p);
}

/* Reads the server's ERROR frame reply off fd and returns its message. */
static void read_error_frame(int fd, char *out, size_t cap)
{
    uint8_t hdr[TT_RPC_HEADER_SIZE], body[600];
    assert_int_equal(tt_rpc_read_full(fd, hdr, sizeof hdr, -1, "reply"), 0);
    tt_rpc_header h;
    assert_int_equal(tt_rpc_header_decode(hdr, sizeof hdr, sizeof body, &h), 0);
    assert_int_equal(h.type, TT_RPC_ERROR);
    assert_int_equal(tt_rpc_read_full(fd, body, (size_t)h.length, -1, "reply"), 0);
    tt_rpc_reader r = {body, (size_t)h.length, 0};
    assert_int_equal(tt_rpc_get_str(&r, out, cap, "msg"), 0);
}

static void garbage_and_oversized(void **state)
{
    pair p;
    char msg[600];
    start(&p, key_a, NULL);
    assert_int_equal(tt_rpc_write_full(p.fds[0], "GET / HTTP/1.1\r\n\r\n", 18, -1), 0);
    read_error_frame(p.fds[0], msg, sizeof msg);
    expect_in(msg, "bad magic");
    finish(&p);
    expect_in(p.s.err, "bad magic");

    start(&p, key_a, NULL);
    tt_rpc_header h = {TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, TT_RPC_HELLO, 1ull << 40};
    uint8_t hdr[TT_RPC_HEADER_SIZE];
    tt_rpc_header_encode(&h, hdr);
    assert_int_equal(tt_rpc_write_full(p.fds[0], hdr, sizeof hdr, -1), 0);
    read_error_frame(p.fds[0], msg, sizeof msg);
    expect_in(msg, "exceeds the limit of 512 bytes");
    finish(&p);

    /* A truncated HELLO: the client goes away mid-frame. */
    start(&p, key_a, NULL);
    h.length = 100;
    tt_rpc_header_encode(&h, hdr);
    assert_int_equal(tt_rpc_write_full(p.fds[0], hdr, sizeof hdr, -1), 0);
    shutdown(p.fds[0], SHUT_WR);
    finish(&p);
    assert_int_equal(p.s.rc, -1);
    expect_in(p.s.err, "closed by the peer");
}

static void handshake_time_limit(void **state)
{
    pair p;
    tt_rpc_handshake_opts quick = {.timeout_ms = 100};
    start(&p, key_a, &quick);
    /* The client never speaks; the server gives up at its deadline. */
    pthread_join(p.th, NULL);
    assert_int_equal(p.s.rc, -1);
    expect_in(p.s.err, "timeout");
    close(p.fds[0]);
    close(p.fds[1]);
}

/* A relay that flips one byte of the first sealed frame: the receiver must refuse it. */
static void tampered_stream(void **state)
{
    pair p;
    start(&p, key_a, NULL);
    tt_rpc_channel c;
    assert_int_equal(tt_rpc_handshake_client(&c, p.fds[0], key_a, NULL), 0);
    pthread_join(p.th, NULL);
    assert_int_equal(p.s.rc, 0);
    int relay[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, relay), 0);
    c.fd = relay[0]; /* the client now writes into the relay */
    const char msg[] = "rpc.device_info";
    assert_int_equal(tt_rpc_send(&c, TT_RPC_GET_GLOBAL, (const uint8_t *)msg, sizeof msg - 1, -1),
                     0);
    size_t total =
        TT_RPC_HEADER_SIZE + sizeof msg - 1 + crypto_secretstream_xchacha20poly1305_ABYTES;
    uint8_t buf[256];
    assert_int_equal(tt_rpc_read_full(relay[1], buf, total, -1, "relay"), 0);
    buf[TT_RPC_HEADER_SIZE + 3] ^= 0x01;
    assert_int_equal(tt_rpc_write_full(p.fds[0], buf, total, -1), 0);
    tt_rpc_header h;
    uint8_t *got;
    assert_int_equal(tt_rpc_recv(&p.s.ch, &h, &got, -1), -1);
    expect_in(tt_get_last_error(), "failed authentication");
    expect_in(tt_get_last_error(), "tampered");
    assert_false(p.s.ch.secure); /* the channel is dead from then on */
    close(relay[0]);
    close(relay[1]);
    close(p.fds[0]);
    close(p.fds[1]);
}

static void key_files(void **state)
{
    char dir[] = "/tmp/tt_rpc_keyXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], other[256];
    snprintf(path, sizeof path, "%s/dev.key", dir);
    snprintf(other, sizeof other, "%s/bad.key", dir);
    assert_int_equal(tt_rpc_keygen(path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    uint8_t k1[32], k2[32];
    assert_int_equal(tt_rpc_key_load(path, k1), 0);
    assert_int_equal(tt_rpc_keygen(path), -1);
    expect_in(tt_get_last_error(), "refusing to overwrite");
    assert_int_equal(tt_rpc_key_load(path, k2), 0);
    assert_memory_equal(k1, k2, 32); /* unchanged */

    chmod(path, 0640);
    assert_int_equal(tt_rpc_key_load(path, k2), -1);
    expect_in(tt_get_last_error(), "has mode 0640");
    chmod(path, 0600);

    int fd = open(other, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, k1, 31), 31);
    close(fd);
    assert_int_equal(tt_rpc_key_load(other, k2), -1);
    expect_in(tt_get_last_error(), "has 31 bytes, expected exactly 32");
    assert_int_equal(tt_rpc_key_load("/nonexistent/tt.key", k2), -1);
    expect_in(tt_get_last_error(), "/nonexistent/tt.key");
    unlink(path);
    unlink(other);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(right_key_and_frames),  cmocka_unit_test(wrong_key),
        cmocka_unit_test(forged_proof),          cmocka_unit_test(version_mismatch),
        cmocka_unit_test(garbage_and_oversized), cmocka_unit_test(handshake_time_limit),
        cmocka_unit_test(tampered_stream),       cmocka_unit_test(key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
