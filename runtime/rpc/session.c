/* The serve loop of a session process: decodes each sealed request, maps remote handle ids to the
 * objects they stand for, calls through the runtime ABI and seals the answer. A failing call is
 * an EXCEPTION frame with the runtime's message; only a broken connection ends the loop. */
#include <stdlib.h>
#include <string.h>

#include "../runtime_internal.h"
#include "session.h"

typedef struct {
    int code; /* TT_FUNC, TT_MODULE, TT_NDARRAY, TT_OBJECT; 0 with ptr NULL when free */
    void *ptr;
} slot;

static slot *slots;
static size_t nslots;

/* Stores one reference to ptr; *id = its handle on the wire (index + 1). */
static int store(int code, void *ptr, uint64_t *id)
{
    size_t i = 0;
    while (i < nslots && slots[i].ptr != NULL)
        i++;
    if (i == nslots) {
        size_t cap = nslots ? nslots * 2 : 64;
        slot *s = realloc(slots, cap * sizeof *s);
        if (s == NULL)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory for the handle table");
        memset(s + nslots, 0, (cap - nslots) * sizeof *s);
        slots = s;
        nslots = cap;
    }
    slots[i] = (slot){code, ptr};
    *id = i + 1;
    return 0;
}

static void *lookup(uint64_t id, int code)
{
    if (id == 0 || id > nslots || slots[id - 1].ptr == NULL || slots[id - 1].code != code)
        return NULL;
    return slots[id - 1].ptr;
}

static const char *code_word(int code)
{
    switch (code) {
    case TT_FUNC:
        return "function";
    case TT_MODULE:
        return "module";
    case TT_NDARRAY:
        return "array";
    default:
        return "object";
    }
}

/* A handle of the table, released as the value it was returned as. */
static void release(int code, void *ptr)
{
    tt_value_release((tt_value){.v_handle = ptr}, code);
}

static void free_all(void)
{
    /* Functions and arrays before modules: a function must not outlive its library's code
     * (module_so.c makes functions hold the library, so any order is safe; this one is cheap). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nslots; i++) {
            if (slots[i].ptr != NULL && (pass == 1 || slots[i].code != TT_MODULE)) {
                release(slots[i].code, slots[i].ptr);
                slots[i].ptr = NULL;
            }
        }
    }
    free(slots);
    slots = NULL;
    nslots = 0;
}

static int send_exception(tt_rpc_channel *c, const char *msg)
{
    tt_rpc_buf b = {0};
    tt_rpc_put_str(&b, msg[0] ? msg : "remote call failed without a message");
    int rc = b.err ? tt_error_setc(TT_ERR_OUT_OF_MEMORY, "rpc: out of memory")
                   : tt_rpc_send(c, TT_RPC_EXCEPTION, b.data, b.len, -1);
    tt_rpc_buf_free(&b);
    return rc;
}

/* Sends v (a call's result, owned: handles are new references) as RETURN. */
static int send_return(tt_rpc_channel *c, tt_value v, int code)
{
    tt_rpc_buf b = {0};
    if (code == TT_FUNC || code == TT_MODULE || code == TT_NDARRAY || code == TT_OBJECT) {
        uint64_t id = 0;
        if (store(code, v.v_handle, &id) != 0) {
            release(code, v.v_handle);
            return send_exception(c, tt_get_last_error());
        }
        v.v_int64 = (int64_t)id;
    } else if (code == TT_DLTENSOR || code == TT_HANDLE) {
        return send_exception(c, "rpc: the function returned a borrowed pointer (TT_DLTENSOR or "
                                 "TT_HANDLE), which cannot travel to the client");
    }
    if (tt_rpc_value_encode(&b, v, code) != 0 || b.err) {
        tt_rpc_buf_free(&b);
        return send_exception(c, tt_get_last_error());
    }
    int rc = tt_rpc_send(c, TT_RPC_RETURN, b.data, b.len, -1);
    tt_rpc_buf_free(&b);
    return rc;
}

static int do_call(tt_rpc_channel *c, tt_rpc_reader *r)
{
    uint64_t fid;
    uint32_t argc;
    tt_rpc_values vals;
    if (tt_rpc_get_u64(r, &fid, "the function handle") != 0 ||
        tt_rpc_get_u32(r, &argc, "the argument count") != 0 ||
        tt_rpc_values_decode(r, argc, &vals) != 0)
        return send_exception(c, tt_get_last_error());
    char msg[256] = "";
    tt_func f = lookup(fid, TT_FUNC);
    if (f == NULL)
        snprintf(msg, sizeof msg, "rpc: call of handle %llu, which is not a live function",
                 (unsigned long long)fid);
    for (int i = 0; i < vals.n && msg[0] == '\0'; i++) {
        int code = vals.codes[i];
        if (code == TT_FUNC || code == TT_MODULE || code == TT_NDARRAY || code == TT_DLTENSOR ||
            code == TT_OBJECT) {
            int want = code == TT_DLTENSOR ? TT_NDARRAY : code;
            void *p = lookup((uint64_t)vals.values[i].v_int64, want);
            if (p == NULL)
                snprintf(msg, sizeof msg, "rpc: argument %d: handle %llu is not a live %s", i,
                         (unsigned long long)vals.values[i].v_int64, code_word(want));
            vals.values[i].v_handle = p;
            vals.codes[i] = want;
        }
    }
    if (msg[0] != '\0') {
        tt_rpc_values_free(&vals);
        return send_exception(c, msg);
    }
    tt_value ret;
    int ret_code = TT_NULL;
    int rc = tt_func_call(f, vals.values, vals.codes, vals.n, &ret, &ret_code);
    tt_rpc_values_free(&vals);
    if (rc != 0)
        return send_exception(c, tt_get_last_error());
    return send_return(c, ret, ret_code);
}

static int do_get_global(tt_rpc_channel *c, tt_rpc_reader *r)
{
    char name[TT_RPC_MAX_STRING + 1];
    if (tt_rpc_get_str(r, name, sizeof name, "the function name") != 0)
        return send_exception(c, tt_get_last_error());
    tt_func f = NULL;
    if (tt_func_get_global(name, &f) != 0)
        return send_exception(c, tt_get_last_error());
    tt_value v = {.v_handle = f};
    return send_return(c, v, f ? TT_FUNC : TT_NULL);
}

static int do_free(tt_rpc_channel *c, tt_rpc_reader *r)
{
    uint32_t code;
    uint64_t id;
    if (tt_rpc_get_u32(r, &code, "the handle's type code") != 0 ||
        tt_rpc_get_u64(r, &id, "the handle") != 0)
        return send_exception(c, tt_get_last_error());
    if (code == TT_DLTENSOR)
        code = TT_NDARRAY;
    void *p = lookup(id, (int)code);
    if (p == NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "rpc: free of handle %llu, which is not a live %s",
                 (unsigned long long)id, code_word((int)code));
        return send_exception(c, msg);
    }
    slots[id - 1].ptr = NULL;
    release((int)code, p);
    tt_value none = {.v_handle = NULL};
    return send_return(c, none, TT_NULL);
}

int tt_rpc_session_serve(tt_rpc_channel *c)
{
    int rc = -1;
    for (;;) {
        tt_rpc_header h;
        uint8_t *p;
        if (tt_rpc_recv(c, &h, &p, -1) != 0)
            break;
        tt_rpc_reader r = {p, (size_t)h.length, 0};
        int sent;
        switch (h.type) {
        case TT_RPC_GET_GLOBAL:
            sent = do_get_global(c, &r);
            break;
        case TT_RPC_CALL:
            sent = do_call(c, &r);
            break;
        case TT_RPC_FREE:
            sent = do_free(c, &r);
            break;
        case TT_RPC_CLOSE: {
            tt_value none = {.v_handle = NULL};
            send_return(c, none, TT_NULL);
            free(p);
            rc = 0;
            goto out;
        }
        default: {
            char msg[96];
            snprintf(msg, sizeof msg, "rpc: unexpected %s frame in a session",
                     tt_rpc_type_name(h.type));
            sent = send_exception(c, msg);
        }
        }
        free(p);
        if (sent != 0)
            break;
    }
out:
    free_all();
    return rc;
}
