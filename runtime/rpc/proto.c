/* The RPC wire format: frame headers, values by type code, and the payload checks the receiver
 * makes. Everything is little-endian and length-prefixed; every length is checked against what
 * remains before it is used, so no input can make the decoder read past its buffer or allocate
 * more than a small multiple of the payload it was given. */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

const char *tt_rpc_type_name(int type)
{
    switch (type) {
    case TT_RPC_HELLO:
        return "HELLO";
    case TT_RPC_HELLO_REPLY:
        return "HELLO_REPLY";
    case TT_RPC_AUTH:
        return "AUTH";
    case TT_RPC_AUTH_OK:
        return "AUTH_OK";
    case TT_RPC_ERROR:
        return "ERROR";
    case TT_RPC_GET_GLOBAL:
        return "GET_GLOBAL";
    case TT_RPC_CALL:
        return "CALL";
    case TT_RPC_RETURN:
        return "RETURN";
    case TT_RPC_EXCEPTION:
        return "EXCEPTION";
    case TT_RPC_FREE:
        return "FREE";
    case TT_RPC_CLOSE:
        return "CLOSE";
    default:
        return "unknown";
    }
}

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

TT_API void tt_rpc_header_encode(const tt_rpc_header *h, uint8_t out[TT_RPC_HEADER_SIZE])
{
    le32(out, h->magic);
    le16(out + 4, h->version);
    le16(out + 6, h->type);
    le64(out + 8, h->length);
}

TT_API int tt_rpc_header_decode(const uint8_t *buf, size_t n, uint64_t max_payload,
                                tt_rpc_header *out)
{
    if (n < TT_RPC_HEADER_SIZE)
        return tt_error_set("rpc: truncated frame header (%zu of %d bytes)", n, TT_RPC_HEADER_SIZE);
    out->magic = (uint32_t)rd(buf, 4);
    out->version = (uint16_t)rd(buf + 4, 2);
    out->type = (uint16_t)rd(buf + 6, 2);
    out->length = rd(buf + 8, 8);
    if (out->magic != TT_RPC_MAGIC)
        return tt_error_set("rpc: bad magic 0x%08x, expected 0x%08x (\"TTRP\"): the peer does not "
                            "speak the tvm-tune RPC protocol",
                            (unsigned)out->magic, (unsigned)TT_RPC_MAGIC);
    if (strcmp(tt_rpc_type_name(out->type), "unknown") == 0)
        return tt_error_set("rpc: unknown frame type %u", (unsigned)out->type);
    if (out->length > max_payload)
        return tt_error_set("rpc: %s frame of %llu bytes exceeds the limit of %llu bytes",
                            tt_rpc_type_name(out->type), (unsigned long long)out->length,
                            (unsigned long long)max_payload);
    return 0;
}

/* ---- output ---- */

void tt_rpc_buf_free(tt_rpc_buf *b)
{
    free(b->data);
    *b = (tt_rpc_buf){0};
}

void tt_rpc_put(tt_rpc_buf *b, const void *p, size_t n)
{
    if (b->err || n == 0)
        return;
    if (n > SIZE_MAX / 2 - b->len) {
        b->err = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            b->err = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tt_rpc_put_u16(tt_rpc_buf *b, uint16_t v)
{
    uint8_t t[2];
    le16(t, v);
    tt_rpc_put(b, t, 2);
}

void tt_rpc_put_u32(tt_rpc_buf *b, uint32_t v)
{
    uint8_t t[4];
    le32(t, v);
    tt_rpc_put(b, t, 4);
}

void tt_rpc_put_u64(tt_rpc_buf *b, uint64_t v)
{
    uint8_t t[8];
    le64(t, v);
    tt_rpc_put(b, t, 8);
}

void tt_rpc_put_str(tt_rpc_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > TT_RPC_MAX_STRING)
        n = TT_RPC_MAX_STRING; /* error messages are cut, names are checked by the caller */
    tt_rpc_put_u32(b, (uint32_t)n);
    tt_rpc_put(b, s, n);
}

/* ---- input ---- */

int tt_rpc_get(tt_rpc_reader *r, void *out, size_t n, const char *what)
{
    if (r->len - r->at < n)
        return tt_error_set("rpc: truncated payload: %s needs %zu bytes, %zu left", what, n,
                            r->len - r->at);
    memcpy(out, r->p + r->at, n);
    r->at += n;
    return 0;
}

int tt_rpc_get_u16(tt_rpc_reader *r, uint16_t *v, const char *what)
{
    uint8_t t[2];
    if (tt_rpc_get(r, t, 2, what) != 0)
        return -1;
    *v = (uint16_t)rd(t, 2);
    return 0;
}

int tt_rpc_get_u32(tt_rpc_reader *r, uint32_t *v, const char *what)
{
    uint8_t t[4];
    if (tt_rpc_get(r, t, 4, what) != 0)
        return -1;
    *v = (uint32_t)rd(t, 4);
    return 0;
}

int tt_rpc_get_u64(tt_rpc_reader *r, uint64_t *v, const char *what)
{
    uint8_t t[8];
    if (tt_rpc_get(r, t, 8, what) != 0)
        return -1;
    *v = rd(t, 8);
    return 0;
}

int tt_rpc_get_str(tt_rpc_reader *r, char *out, size_t outcap, const char *what)
{
    uint32_t n;
    if (tt_rpc_get_u32(r, &n, what) != 0)
        return -1;
    if (n >= outcap)
        return tt_error_set("rpc: %s of %u bytes is longer than the limit of %zu", what,
                            (unsigned)n, outcap - 1);
    if (tt_rpc_get(r, out, n, what) != 0)
        return -1;
    if (memchr(out, '\0', n) != NULL)
        return tt_error_set("rpc: %s contains a NUL byte", what);
    out[n] = '\0';
    return 0;
}

/* ---- values ---- */

static int is_handle_code(int code)
{
    return code == TT_FUNC || code == TT_MODULE || code == TT_NDARRAY || code == TT_DLTENSOR ||
           code == TT_OBJECT;
}

TT_API int tt_rpc_value_encode(tt_rpc_buf *b, tt_value v, int code)
{
    tt_rpc_put_u32(b, (uint32_t)code);
    switch (code) {
    case TT_INT:
    case TT_UINT:
        tt_rpc_put_u64(b, (uint64_t)v.v_int64);
        return 0;
    case TT_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v.v_float64, 8);
        tt_rpc_put_u64(b, bits);
        return 0;
    }
    case TT_NULL:
        return 0;
    case TT_DTYPE: {
        uint8_t t[4] = {v.v_type.code, v.v_type.bits, (uint8_t)v.v_type.lanes,
                        (uint8_t)(v.v_type.lanes >> 8)};
        tt_rpc_put(b, t, 4);
        return 0;
    }
    case TT_DEVICE:
        tt_rpc_put_u32(b, (uint32_t)v.v_device.device_type);
        tt_rpc_put_u32(b, (uint32_t)v.v_device.device_id);
        return 0;
    case TT_STR: {
        if (v.v_str == NULL)
            return tt_error_set("rpc: a TT_STR value with v_str NULL");
        size_t n = strlen(v.v_str);
        tt_rpc_put_u64(b, n);
        tt_rpc_put(b, v.v_str, n);
        return 0;
    }
    case TT_BYTES: {
        const tt_bytes *by = v.v_handle;
        if (by == NULL || (by->data == NULL && by->size > 0))
            return tt_error_set("rpc: a TT_BYTES value without data");
        tt_rpc_put_u64(b, by->size);
        tt_rpc_put(b, by->data, by->size);
        return 0;
    }
    default:
        if (is_handle_code(code)) {
            tt_rpc_put_u64(b, (uint64_t)v.v_int64);
            return 0;
        }
        return tt_error_set("rpc: a value of type code %d cannot travel to another process "
                            "(a local pointer means nothing there)",
                            code);
    }
}

TT_API void tt_rpc_values_free(tt_rpc_values *v)
{
    free(v->values);
    free(v->codes);
    free(v->bytes);
    free(v->arena);
    *v = (tt_rpc_values){0};
}

TT_API int tt_rpc_values_decode(tt_rpc_reader *r, uint32_t count, tt_rpc_values *out)
{
    *out = (tt_rpc_values){0};
    size_t left = r->len - r->at;
    if (count > TT_RPC_MAX_ARGS)
        return tt_error_set("rpc: %u values, more than the limit of %d", (unsigned)count,
                            TT_RPC_MAX_ARGS);
    if ((size_t)count * 4 > left)
        return tt_error_set("rpc: %u values cannot fit in the %zu bytes left", (unsigned)count,
                            left);
    size_t n = count ? count : 1;
    out->values = calloc(n, sizeof *out->values);
    out->codes = calloc(n, sizeof *out->codes);
    out->bytes = calloc(n, sizeof *out->bytes);
    /* Strings and bytes are copies of payload bytes, each with a NUL after it. */
    out->arena = malloc(left + n);
    if (!out->values || !out->codes || !out->bytes || !out->arena) {
        tt_rpc_values_free(out);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory decoding %u values",
                             (unsigned)count);
    }
    size_t arena_at = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t code;
        tt_value *v = &out->values[i];
        if (tt_rpc_get_u32(r, &code, "a value's type code") != 0)
            goto fail;
        if (code >= TT_TYPE_CODE_COUNT) {
            tt_error_set("rpc: value %u has type code %u, expected 0..%d", (unsigned)i,
                         (unsigned)code, TT_TYPE_CODE_COUNT - 1);
            goto fail;
        }
        out->codes[i] = (int)code;
        uint64_t u;
        switch (code) {
        case TT_INT:
        case TT_UINT:
            if (tt_rpc_get_u64(r, &u, "an integer") != 0)
                goto fail;
            v->v_int64 = (int64_t)u;
            break;
        case TT_FLOAT:
            if (tt_rpc_get_u64(r, &u, "a float") != 0)
                goto fail;
            memcpy(&v->v_float64, &u, 8);
            break;
        case TT_NULL:
            v->v_handle = NULL;
            break;
        case TT_DTYPE: {
            uint8_t t[4];
            if (tt_rpc_get(r, t, 4, "a dtype") != 0)
                goto fail;
            v->v_type.code = t[0];
            v->v_type.bits = t[1];
            v->v_type.lanes = (uint16_t)(t[2] | t[3] << 8);
            break;
        }
        case TT_DEVICE: {
            uint32_t ty, id;
            if (tt_rpc_get_u32(r, &ty, "a device type") != 0 ||
                tt_rpc_get_u32(r, &id, "a device id") != 0)
                goto fail;
            v->v_device.device_type = (DLDeviceType)(int32_t)ty;
            v->v_device.device_id = (int32_t)id;
            break;
        }
        case TT_STR:
        case TT_BYTES: {
            if (tt_rpc_get_u64(r, &u, code == TT_STR ? "a string length" : "a bytes length") != 0)
                goto fail;
            if (u > r->len - r->at) {
                tt_error_set("rpc: truncated payload: %s of %llu bytes, %zu left",
                             code == TT_STR ? "a string" : "bytes", (unsigned long long)u,
                             r->len - r->at);
                goto fail;
            }
            char *dst = out->arena + arena_at;
            memcpy(dst, r->p + r->at, (size_t)u);
            dst[u] = '\0';
            r->at += (size_t)u;
            arena_at += (size_t)u + 1;
            if (code == TT_STR) {
                if (memchr(dst, '\0', (size_t)u) != NULL) {
                    tt_error_set("rpc: value %u: a string that contains a NUL byte", (unsigned)i);
                    goto fail;
                }
                v->v_str = dst;
            } else {
                out->bytes[i] = (tt_bytes){dst, (size_t)u};
                v->v_handle = &out->bytes[i];
            }
            break;
        }
        case TT_HANDLE:
            tt_error_set("rpc: value %u is a TT_HANDLE (a pointer of the peer's process), which "
                         "cannot travel",
                         (unsigned)i);
            goto fail;
        default: /* remote handles */
            if (tt_rpc_get_u64(r, &u, "a remote handle") != 0)
                goto fail;
            v->v_int64 = (int64_t)u;
            break;
        }
        out->n = (int)i + 1;
    }
    out->n = (int)count;
    return 0;
fail:
    tt_rpc_values_free(out);
    return -1;
}

/* What each message's payload must hold after authentication (handshake payloads are checked by
 * the handshake itself, which knows their layouts too; here they are checked for size only). */
TT_API int tt_rpc_frame_check(const uint8_t *buf, size_t n, uint64_t max_payload)
{
    tt_rpc_header h;
    if (tt_rpc_header_decode(buf, n, max_payload, &h) != 0)
        return -1;
    if (h.version != TT_RPC_PROTOCOL_VERSION)
        return tt_error_set("rpc: protocol version %u, expected %d", (unsigned)h.version,
                            TT_RPC_PROTOCOL_VERSION);
    if (h.length != n - TT_RPC_HEADER_SIZE)
        return tt_error_set("rpc: header says %llu payload bytes, %zu follow",
                            (unsigned long long)h.length, n - TT_RPC_HEADER_SIZE);
    tt_rpc_reader r = {buf + TT_RPC_HEADER_SIZE, (size_t)h.length, 0};
    char s[TT_RPC_MAX_STRING + 1];
    uint64_t u;
    uint32_t w;
    tt_rpc_values vals;
    switch (h.type) {
    case TT_RPC_GET_GLOBAL:
    case TT_RPC_ERROR:
    case TT_RPC_EXCEPTION:
        if (tt_rpc_get_str(&r, s, sizeof s, "a string") != 0)
            return -1;
        break;
    case TT_RPC_CALL:
        if (tt_rpc_get_u64(&r, &u, "the function handle") != 0 ||
            tt_rpc_get_u32(&r, &w, "the argument count") != 0 ||
            tt_rpc_values_decode(&r, w, &vals) != 0)
            return -1;
        tt_rpc_values_free(&vals);
        break;
    case TT_RPC_RETURN:
        if (tt_rpc_values_decode(&r, 1, &vals) != 0)
            return -1;
        tt_rpc_values_free(&vals);
        break;
    case TT_RPC_FREE:
        if (tt_rpc_get_u32(&r, &w, "the handle's type code") != 0 ||
            tt_rpc_get_u64(&r, &u, "the handle") != 0)
            return -1;
        break;
    default:
        return 0; /* handshake frames and CLOSE: checked elsewhere / empty */
    }
    if (r.at != r.len)
        return tt_error_set("rpc: %s frame has %zu bytes after its last field",
                            tt_rpc_type_name(h.type), r.len - r.at);
    return 0;
}
