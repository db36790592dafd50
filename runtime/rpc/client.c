/* The RPC client: a session is a Module of format "rpc" whose get_function asks the device for a
 * global; functions, modules and arrays the device hands back become local proxies (a PackedFunc
 * whose body forwards the call, a Module whose lookups go to the device, an "rpc.RemoteObject").
 * Each proxy holds the session, and frees its remote handle when its last reference goes. One
 * request and its answer at a time per session (a mutex), so threads may share a session. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "../runtime_internal.h"
#include "channel.h"
#include "client.h"
#include "tt/rpc.h"

struct rpc_sess {
    int32_t refcount;
    pthread_mutex_t lock;
    tt_rpc_channel ch;
    int fd;
    int dead;
    int timeout_ms; /* per call; -1: none */
    char addr[288];
    /* Remote handles of the rpc.* globals the C helpers call, looked up once per session (the
     * device keeps them until the session ends). */
    struct {
        char name[48];
        uint64_t id;
    } globals[16];
    int nglobals;
};

/* self of an "rpc" module: the session (remote_id 0) or a module on the device. */
typedef struct {
    rpc_sess *s;
    uint64_t remote_id;
} rpc_mod;

/* resource of a forwarding PackedFunc. */
typedef struct {
    rpc_sess *s;
    uint64_t remote_id;
} rpc_fn;

static void sess_retain(rpc_sess *s)
{
    __atomic_fetch_add(&s->refcount, 1, __ATOMIC_RELAXED);
}

static void sess_close_locked(rpc_sess *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->dead = 1;
    sodium_memzero(&s->ch, sizeof s->ch);
}

static void send_close(rpc_sess *s);

static void sess_release(rpc_sess *s)
{
    if (__atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    send_close(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* One request and its answer. *reply (caller frees) holds the RETURN payload; an EXCEPTION is
 * returned as an error with the device's message. A broken or timed-out connection ends the
 * session: later calls fail at once. */
static int roundtrip(rpc_sess *s, int type, const tt_rpc_buf *req, uint8_t **reply, size_t *len)
{
    *reply = NULL;
    if (req->err)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory encoding a %s request",
                             tt_rpc_type_name(type));
    pthread_mutex_lock(&s->lock);
    if (s->dead) {
        pthread_mutex_unlock(&s->lock);
        return tt_error_set("rpc: the session with %s is closed (an earlier error or close ended "
                            "it); connect again",
                            s->addr);
    }
    tt_rpc_header h;
    uint8_t *p = NULL;
    if (tt_rpc_send(&s->ch, type, req->data, req->len, s->timeout_ms) != 0 ||
        tt_rpc_recv(&s->ch, &h, &p, s->timeout_ms) != 0) {
        sess_close_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (strstr(tt_get_last_error(), "closed by the peer") != NULL)
            return tt_error_wrap("rpc: session with %s lost (the session process on the device "
                                 "ended: a crash in the remote function, or its time limit)",
                                 s->addr);
        return tt_error_wrap("rpc: session with %s", s->addr);
    }
    pthread_mutex_unlock(&s->lock);
    if (h.type == TT_RPC_EXCEPTION) {
        char msg[TT_RPC_MAX_STRING + 1];
        tt_rpc_reader r = {p, (size_t)h.length, 0};
        if (tt_rpc_get_str(&r, msg, sizeof msg, "the remote error") != 0)
            snprintf(msg, sizeof msg, "(unreadable message)");
        free(p);
        return tt_error_set("remote error on %s: %s", s->addr, msg);
    }
    if (h.type != TT_RPC_RETURN) {
        free(p);
        return tt_error_set("rpc: expected RETURN from %s, got %s", s->addr,
                            tt_rpc_type_name(h.type));
    }
    *reply = p;
    *len = (size_t)h.length;
    return 0;
}

static void send_free(rpc_sess *s, int code, uint64_t id)
{
    tt_rpc_buf b = {0};
    tt_rpc_put_u32(&b, (uint32_t)code);
    tt_rpc_put_u64(&b, id);
    uint8_t *reply;
    size_t len;
    /* Best effort: a dead session has freed everything already. Keep the caller's last error. */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", tt_get_last_error());
    pthread_mutex_lock(&s->lock);
    int dead = s->dead;
    pthread_mutex_unlock(&s->lock);
    if (!dead && roundtrip(s, TT_RPC_FREE, &b, &reply, &len) == 0)
        free(reply);
    tt_error_set("%s", saved);
    tt_rpc_buf_free(&b);
}

static void send_close(rpc_sess *s)
{
    pthread_mutex_lock(&s->lock);
    if (!s->dead) {
        tt_rpc_header h;
        uint8_t *p = NULL;
        /* A bounded wait: the answer only confirms; the device ends the session either way. */
        if (tt_rpc_send(&s->ch, TT_RPC_CLOSE, NULL, 0, 2000) == 0)
            tt_rpc_recv(&s->ch, &h, &p, 2000);
        free(p);
    }
    sess_close_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* ---- proxies ---- */

static const tt_module_vtable rpc_vtable;
static uint32_t remote_type;
static pthread_once_t remote_type_once = PTHREAD_ONCE_INIT;

static void remote_type_init(void)
{
    tt_object_type_register("rpc.RemoteObject", &remote_type);
}

static void remote_delete(tt_object *o)
{
    remote_obj *r = (remote_obj *)o;
    send_free(r->s, r->code, r->remote_id);
    sess_release(r->s);
    free(r);
}

remote_obj *tt_rpc_as_remote(const void *h)
{
    pthread_once(&remote_type_once, remote_type_init);
    if (h == NULL || ((const tt_object *)h)->type_index != remote_type)
        return NULL;
    return (remote_obj *)h;
}

static int make_remote(rpc_sess *s, int code, uint64_t id, tt_object **out)
{
    pthread_once(&remote_type_once, remote_type_init);
    remote_obj *r = calloc(1, sizeof *r);
    if (r == NULL) {
        send_free(s, code, id);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory");
    }
    tt_object_init(&r->obj, remote_type, remote_delete);
    sess_retain(s);
    r->s = s;
    r->remote_id = id;
    r->code = code;
    r->nbytes = -1;
    *out = &r->obj;
    return 0;
}

static void fn_fin(void *p)
{
    rpc_fn *f = p;
    send_free(f->s, TT_FUNC, f->remote_id);
    sess_release(f->s);
    free(f);
}

static int forward(const tt_value *args, const int *codes, int n, tt_ret ret, void *res);

static int make_fn(rpc_sess *s, uint64_t id, tt_func *out)
{
    rpc_fn *f = malloc(sizeof *f);
    if (f == NULL) {
        send_free(s, TT_FUNC, id);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory");
    }
    sess_retain(s);
    *f = (rpc_fn){s, id};
    if (tt_func_create(forward, f, fn_fin, out) != 0) {
        fn_fin(f);
        return -1;
    }
    return 0;
}

static void mod_free(void *self)
{
    rpc_mod *m = self;
    if (m->remote_id != 0)
        send_free(m->s, TT_MODULE, m->remote_id);
    sess_release(m->s);
    free(m);
}

static int make_mod(rpc_sess *s, uint64_t id, tt_module *out)
{
    rpc_mod *m = malloc(sizeof *m);
    if (m == NULL) {
        if (id)
            send_free(s, TT_MODULE, id);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory");
    }
    sess_retain(s);
    *m = (rpc_mod){s, id};
    if (tt_mod_create(&rpc_vtable, m, out) != 0) {
        mod_free(m);
        return -1;
    }
    return 0;
}

/* Decodes a RETURN payload into a value the caller owns (proxies are new references). On
 * failure *vals is freed. */
static int decode_return_(rpc_sess *s, const uint8_t *p, size_t len, tt_rpc_values *vals);

static int decode_return(rpc_sess *s, const uint8_t *p, size_t len, tt_rpc_values *vals)
{
    if (decode_return_(s, p, len, vals) == 0)
        return 0;
    tt_rpc_values_free(vals);
    return -1;
}

static int decode_return_(rpc_sess *s, const uint8_t *p, size_t len, tt_rpc_values *vals)
{
    tt_rpc_reader r = {p, len, 0};
    if (tt_rpc_values_decode(&r, 1, vals) != 0)
        return tt_error_wrap("rpc: malformed answer from %s", s->addr);
    tt_value *v = &vals->values[0];
    uint64_t id = (uint64_t)v->v_int64;
    switch (vals->codes[0]) {
    case TT_FUNC:
        return make_fn(s, id, (tt_func *)&v->v_handle);
    case TT_MODULE:
        return make_mod(s, id, (tt_module *)&v->v_handle);
    case TT_NDARRAY:
    case TT_OBJECT: {
        tt_object *o = NULL;
        if (make_remote(s, vals->codes[0], id, &o) != 0)
            return -1;
        v->v_handle = o;
        vals->codes[0] = TT_OBJECT;
        return 0;
    }
    case TT_DLTENSOR:
        return tt_error_set("rpc: %s returned a borrowed array handle", s->addr);
    default:
        return 0;
    }
}

/* Encodes one argument for session s: plain values as they are, proxies of s as their remote
 * handles; anything local (arrays, functions, pointers) is refused with what to do instead. */
static int encode_arg(rpc_sess *s, tt_rpc_buf *b, int i, tt_value v, int code)
{
    tt_value w = v;
    switch (code) {
    case TT_FUNC: {
        rpc_fn *f = tt_func_resource_if(v.v_handle, forward);
        if (f == NULL || f->s != s)
            return tt_error_set("rpc: argument %d is a local function (or one of another session):"
                                " only functions of this session can be passed",
                                i);
        w.v_int64 = (int64_t)f->remote_id;
        break;
    }
    case TT_MODULE: {
        rpc_mod *m = tt_mod_self(v.v_handle, &rpc_vtable);
        if (m == NULL || m->s != s || m->remote_id == 0)
            return tt_error_set("rpc: argument %d is a local module (or one of another session):"
                                " only modules loaded in this session can be passed",
                                i);
        w.v_int64 = (int64_t)m->remote_id;
        break;
    }
    case TT_OBJECT: {
        remote_obj *r = tt_rpc_as_remote(v.v_handle);
        if (r == NULL || r->s != s)
            return tt_error_set("rpc: argument %d is a local object (or one of another session):"
                                " only objects on this session's device can be passed",
                                i);
        w.v_int64 = (int64_t)r->remote_id;
        code = r->code;
        break;
    }
    case TT_NDARRAY:
    case TT_DLTENSOR:
        return tt_error_set("rpc: argument %d is a local array: copy it to the device first "
                            "(C: tt_rpc_array_alloc and tt_rpc_array_copy_from; Python: "
                            "session.array(x))",
                            i);
    default:
        break;
    }
    return tt_rpc_value_encode(b, w, code);
}

/* Calls remote function id of s with args; *vals holds the answer (owned). */
static int call_remote(rpc_sess *s, uint64_t id, const tt_value *args, const int *codes, int n,
                       tt_rpc_values *vals)
{
    tt_rpc_buf b = {0};
    tt_rpc_put_u64(&b, id);
    tt_rpc_put_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        if (encode_arg(s, &b, i, args[i], codes[i]) != 0) {
            tt_rpc_buf_free(&b);
            return -1;
        }
    }
    if (b.len > TT_RPC_MAX_PAYLOAD) {
        tt_rpc_buf_free(&b);
        return tt_error_set("rpc: the arguments take %zu bytes, over the frame limit of %llu "
                            "(send big data in chunks)",
                            b.len, (unsigned long long)TT_RPC_MAX_PAYLOAD);
    }
    uint8_t *reply;
    size_t len;
    int rc = roundtrip(s, TT_RPC_CALL, &b, &reply, &len);
    tt_rpc_buf_free(&b);
    if (rc != 0)
        return -1;
    rc = decode_return(s, reply, len, vals);
    free(reply);
    if (rc != 0)
        tt_rpc_values_free(vals);
    return rc;
}

static int forward(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    rpc_fn *f = res;
    tt_rpc_values vals;
    if (call_remote(f->s, f->remote_id, args, codes, n, &vals) != 0)
        return -1;
    int rc = tt_ret_set(ret, &vals.values[0], &vals.codes[0], 1);
    tt_value_release(vals.values[0], vals.codes[0]); /* tt_ret_set took its own reference */
    tt_rpc_values_free(&vals);
    return rc;
}

/* Asks the device for its global name: *code is TT_FUNC and *id its remote handle when it has
 * one (anything else: it has none). The one GET_GLOBAL exchange; no proxy is made here. */
static int ask_global(rpc_sess *s, const char *name, int *code, uint64_t *id)
{
    tt_rpc_buf b = {0};
    tt_rpc_put_str(&b, name);
    uint8_t *reply;
    size_t len;
    int rc = roundtrip(s, TT_RPC_GET_GLOBAL, &b, &reply, &len);
    tt_rpc_buf_free(&b);
    if (rc != 0)
        return -1;
    tt_rpc_reader r = {reply, len, 0};
    tt_rpc_values vals;
    rc = tt_rpc_values_decode(&r, 1, &vals);
    free(reply);
    if (rc != 0)
        return tt_error_wrap("rpc: malformed answer from %s", s->addr);
    *code = vals.codes[0];
    *id = (uint64_t)vals.values[0].v_int64;
    tt_rpc_values_free(&vals);
    return 0;
}

/* *out = a proxy of the device's global name, NULL when it has none. */
static int get_global(rpc_sess *s, const char *name, tt_func *out)
{
    *out = NULL;
    int code;
    uint64_t id;
    if (ask_global(s, name, &code, &id) != 0)
        return -1;
    return code == TT_FUNC ? make_fn(s, id, out) : 0;
}

static int rpc_get_function(void *self, const char *name, tt_func *out)
{
    rpc_mod *m = self;
    if (m->remote_id == 0)
        return get_global(m->s, name, out);
    /* A module on the device: ask rpc.module_get_function(module, name). */
    tt_func getter;
    if (get_global(m->s, "rpc.module_get_function", &getter) != 0)
        return -1;
    if (getter == NULL)
        return tt_error_set("rpc: %s has no rpc.module_get_function", m->s->addr);
    rpc_fn *g = tt_func_resource_if(getter, forward);
    tt_value args[2] = {{.v_int64 = (int64_t)m->remote_id}, {.v_str = name}};
    int codes[2] = {TT_MODULE, TT_STR};
    /* The module handle goes as is: build the request by hand rather than through a proxy. */
    tt_rpc_buf b = {0};
    tt_rpc_put_u64(&b, g->remote_id);
    tt_rpc_put_u32(&b, 2);
    tt_rpc_value_encode(&b, args[0], codes[0]);
    tt_rpc_value_encode(&b, args[1], codes[1]);
    uint8_t *reply;
    size_t len;
    int rc = roundtrip(m->s, TT_RPC_CALL, &b, &reply, &len);
    tt_rpc_buf_free(&b);
    tt_func_free(getter);
    if (rc != 0)
        return -1;
    tt_rpc_values vals;
    rc = decode_return(m->s, reply, len, &vals);
    free(reply);
    if (rc != 0)
        return -1;
    *out = vals.codes[0] == TT_FUNC ? vals.values[0].v_handle : NULL;
    if (vals.codes[0] != TT_FUNC)
        tt_value_release(vals.values[0], vals.codes[0]);
    tt_rpc_values_free(&vals);
    return 0;
}

rpc_sess *tt_rpc_func_session(tt_func f)
{
    rpc_fn *rf = tt_func_resource_if(f, forward);
    return rf ? rf->s : NULL;
}

static const tt_module_vtable rpc_vtable = {
    .format = "rpc",
    .get_function = rpc_get_function,
    .free = mod_free,
};

/* ---- connect ---- */

static int dial(const char *host, int port, int64_t deadline, int *out)
{
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int g = getaddrinfo(host, ports, &hints, &res);
    if (g != 0)
        return tt_error_set("rpc: cannot resolve \"%s\": %s", host, gai_strerror(g));
    int err = 0, fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int64_t left = deadline - tt_rpc_now_ms();
        int pr = poll(&p, 1, left > 0 ? (int)left : 0);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (pr <= 0) {
            err = pr == 0 ? ETIMEDOUT : errno;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            err = soerr ? soerr : errno;
        } else {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return tt_error_set("rpc: cannot connect to %s:%d: %s", host, port, strerror(err));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *out = fd;
    return 0;
}

TT_API int tt_rpc_connect(const char *host, int port, const char *key_file, double timeout_s,
                          tt_module *session)
{
    if (session == NULL)
        return tt_error_set("tt_rpc_connect: session is NULL");
    *session = NULL;
    if (host == NULL || host[0] == '\0')
        return tt_error_set("tt_rpc_connect: no host given");
    if (port <= 0 || port > 65535)
        return tt_error_set("tt_rpc_connect: port %d, expected 1..65535", port);
    uint8_t key[TT_RPC_KEY_BYTES];
    if (tt_rpc_key_load(key_file, key) != 0)
        return -1;
    int timeout_ms = timeout_s > 0 ? (int)(timeout_s * 1000) : 10000;
    int fd = -1;
    if (dial(host, port, tt_rpc_now_ms() + timeout_ms, &fd) != 0) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    rpc_sess *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        sodium_memzero(key, sizeof key);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_rpc_connect: out of memory");
    }
    s->refcount = 1;
    s->fd = fd;
    s->timeout_ms = -1;
    snprintf(s->addr, sizeof s->addr, "%s:%d", host, port);
    pthread_mutex_init(&s->lock, NULL);
    tt_rpc_handshake_opts opts = {.timeout_ms = timeout_ms};
    int rc = tt_rpc_handshake_client(&s->ch, fd, key, &opts);
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        s->dead = 1;
        tt_error_wrap("tt_rpc_connect: %s", s->addr);
        sess_release(s);
        return -1;
    }
    rc = make_mod(s, 0, session);
    sess_release(s); /* the module holds it now */
    return rc;
}

static rpc_sess *session_of(const char *who, tt_module m)
{
    rpc_mod *rm = tt_mod_self(m, &rpc_vtable);
    if (rm == NULL) {
        tt_error_set("%s: not an RPC session (a module of format \"%s\")", who,
                     m && tt_mod_format(m) ? tt_mod_format(m) : "none");
        return NULL;
    }
    return rm->s;
}

TT_API int tt_rpc_set_timeout(tt_module session, double timeout_s)
{
    rpc_sess *s = session_of("tt_rpc_set_timeout", session);
    if (s == NULL)
        return -1;
    pthread_mutex_lock(&s->lock);
    s->timeout_ms = timeout_s > 0 ? (int)(timeout_s * 1000) : -1;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

TT_API int tt_rpc_close(tt_module session)
{
    rpc_sess *s = session_of("tt_rpc_close", session);
    if (s == NULL)
        return -1;
    send_close(s);
    return 0;
}

/* *id = the remote handle of the device's global name, from the session's cache when it was
 * looked up before. *cached = 0 when the cache is full and the caller must free it. */
static int global_id(rpc_sess *s, const char *name, uint64_t *id, int *cached)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nglobals; i++) {
        if (strcmp(s->globals[i].name, name) == 0) {
            *id = s->globals[i].id;
            *cached = 1;
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    int code;
    if (ask_global(s, name, &code, id) != 0)
        return -1;
    if (code != TT_FUNC)
        return tt_error_set("rpc: the server at %s has no function %s", s->addr, name);
    *cached = 0;
    pthread_mutex_lock(&s->lock);
    if (s->nglobals < (int)(sizeof s->globals / sizeof s->globals[0]) &&
        strlen(name) < sizeof s->globals[0].name) {
        snprintf(s->globals[s->nglobals].name, sizeof s->globals[0].name, "%s", name);
        s->globals[s->nglobals++].id = *id;
        *cached = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Calls the device's global name with args; *vals holds the answer. */
int tt_rpc_call_global_s(rpc_sess *s, const char *who, const char *name, const tt_value *args,
                         const int *codes, int n, tt_rpc_values *vals)
{
    uint64_t id = 0;
    int cached = 1;
    if (global_id(s, name, &id, &cached) != 0)
        return tt_error_wrap("%s", who);
    int rc = call_remote(s, id, args, codes, n, vals);
    if (!cached)
        send_free(s, TT_FUNC, id);
    return rc == 0 ? 0 : tt_error_wrap("%s", who);
}

int tt_rpc_call_global(tt_module session, const char *who, const char *name, const tt_value *args,
                       const int *codes, int n, tt_rpc_values *vals)
{
    rpc_sess *s = session_of(who, session);
    if (s == NULL)
        return -1;
    return tt_rpc_call_global_s(s, who, name, args, codes, n, vals);
}

/* The "rpc" module loader: path "host:port", key file from TT_RPC_KEY_FILE. */
static int rpc_loader(const char *path, tt_module *out)
{
    const char *colon = strrchr(path, ':');
    if (colon == NULL || colon == path)
        return tt_error_set("rpc loader: \"%s\" is not HOST:PORT", path);
    char host[256];
    size_t hl = (size_t)(colon - path);
    if (hl >= sizeof host)
        return tt_error_set("rpc loader: host name too long in \"%s\"", path);
    memcpy(host, path, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return tt_error_set("rpc loader: bad port in \"%s\"", path);
    const char *key = getenv("TT_RPC_KEY_FILE");
    if (key == NULL || key[0] == '\0')
        return tt_error_set("rpc loader: set TT_RPC_KEY_FILE to the key file for \"%s\"", path);
    return tt_rpc_connect(host, (int)port, key, 0, out);
}

__attribute__((constructor)) static void register_rpc_loader(void)
{
    if (tt_mod_register_loader("rpc", rpc_loader, 1) != 0)
        fprintf(stderr, "tvm-tune runtime: %s\n", tt_get_last_error());
}
