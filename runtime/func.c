/* PackedFunc: type-erased functions (tt_func_create/call/free) and their results (tt_ret_set).
 * Every other runtime piece (registry, modules, the Python binding) calls through here, so it
 * validates its inputs and owns the per-thread storage of returned strings and bytes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

typedef struct {
    tt_object obj;
    tt_packed_cfunc body;
    void *resource;
    void (*fin)(void *);
} func_obj;

/* What a tt_ret handle points at while a body runs: the value it set, owned (strings and bytes
 * copied, refcounted handles retained) until tt_func_call hands it to the caller. */
typedef struct {
    tt_value value;
    int code;
    char *buf; /* owned copy behind a TT_STR or TT_BYTES value */
    tt_bytes bytes;
} ret_state;

static const char *const code_names[TT_TYPE_CODE_COUNT] = {
    "TT_INT",      "TT_UINT",   "TT_FLOAT",  "TT_HANDLE", "TT_NULL", "TT_DTYPE", "TT_DEVICE",
    "TT_DLTENSOR", "TT_OBJECT", "TT_MODULE", "TT_FUNC",   "TT_STR",  "TT_BYTES", "TT_NDARRAY",
};

/* ---- per-thread state ---- */

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static _Thread_local tt_thread_state *thread_state;

static void state_free(void *p)
{
    tt_thread_state *s = p;
    for (int i = 0; i < s->nslots; i++) {
        free(s->slots[i]->buf);
        free(s->slots[i]);
    }
    free(s->slots);
    for (int i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
    free(s->name_ptrs);
    free(s);
    thread_state = NULL;
}

static void state_key_create(void)
{
    /* The destructor frees a thread's state when it exits; the main thread's stays reachable
     * through thread_state until the process ends. */
    pthread_key_create(&state_key, state_free);
}

tt_thread_state *tt_thread_state_get(void)
{
    if (thread_state != NULL)
        return thread_state;
    pthread_once(&state_once, state_key_create);
    tt_thread_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tvm-tune runtime: out of memory for per-thread state");
        return NULL;
    }
    pthread_setspecific(state_key, s);
    thread_state = s;
    return s;
}

/* ---- values ---- */

void tt_value_release(tt_value v, int code)
{
    switch (code) {
    case TT_FUNC:
        tt_func_free(v.v_handle);
        break;
    case TT_MODULE:
        tt_mod_free(v.v_handle);
        break;
    case TT_OBJECT:
        tt_object_release(v.v_handle);
        break;
    case TT_NDARRAY:
        tt_array_free(v.v_handle);
        break;
    default:
        break;
    }
}

static void ret_clear(ret_state *r)
{
    tt_value_release(r->value, r->code);
    free(r->buf);
    r->buf = NULL;
    r->code = TT_NULL;
    r->value.v_handle = NULL;
}

/* ---- functions ---- */

static void func_delete(tt_object *o)
{
    func_obj *f = (func_obj *)o;
    if (f->fin != NULL)
        f->fin(f->resource);
    free(f);
}

TT_API int tt_func_create(tt_packed_cfunc body, void *resource, void (*fin)(void *), tt_func *out)
{
    if (out == NULL)
        return tt_error_set("tt_func_create: out is NULL");
    *out = NULL;
    if (body == NULL)
        return tt_error_set("tt_func_create: body is NULL, expected a tt_packed_cfunc");
    func_obj *f = malloc(sizeof *f);
    if (f == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_func_create: out of memory");
    tt_object_init(&f->obj, TT_TYPE_FUNC, func_delete);
    f->body = body;
    f->resource = resource;
    f->fin = fin;
    *out = f;
    return 0;
}

static int check_func(const char *who, tt_func f)
{
    if (f == NULL)
        return tt_error_set("%s: f is NULL", who);
    if (!tt_is_type(f, TT_TYPE_FUNC)) {
        const char *key = tt_object_key(f);
        return tt_error_set("%s: f is a %s, expected a runtime.Func", who,
                            key ? key : "object of unknown type");
    }
    return 0;
}

TT_API int tt_func_free(tt_func f)
{
    if (f == NULL)
        return 0;
    if (check_func("tt_func_free", f) != 0)
        return -1;
    tt_object_release(f);
    return 0;
}

void *tt_func_resource_if(tt_func f, tt_packed_cfunc body)
{
    if (!tt_is_type(f, TT_TYPE_FUNC))
        return NULL;
    func_obj *fo = f;
    return fo->body == body ? fo->resource : NULL;
}

TT_API int tt_func_retain(tt_func f)
{
    if (check_func("tt_func_retain", f) != 0)
        return -1;
    tt_object_retain(f);
    return 0;
}

/* Moves a finished call's string or bytes into this thread's slot for the call depth, replacing
 * what an earlier call at the same depth returned. */
static void ret_to_slot(tt_thread_state *s, int depth, ret_state *r, tt_value *ret)
{
    tt_ret_slot *slot = s->slots[depth];
    free(slot->buf);
    slot->buf = NULL;
    if (r->code == TT_STR) {
        slot->buf = r->buf;
        r->buf = NULL;
        ret->v_str = slot->buf;
    } else if (r->code == TT_BYTES) {
        slot->buf = r->buf;
        r->buf = NULL;
        slot->bytes.data = slot->buf;
        slot->bytes.size = r->bytes.size;
        ret->v_handle = &slot->bytes;
    } else {
        *ret = r->value;
    }
}

TT_API int tt_func_call(tt_func f, const tt_value *args, const int *codes, int n, tt_value *ret,
                        int *ret_code)
{
    if (check_func("tt_func_call", f) != 0)
        return -1;
    if (n < 0)
        return tt_error_set("tt_func_call: n = %d, expected >= 0", n);
    if (n > 0 && (args == NULL || codes == NULL))
        return tt_error_set("tt_func_call: %s is NULL with n = %d arguments",
                            args == NULL ? "args" : "codes", n);
    if ((ret == NULL) != (ret_code == NULL))
        return tt_error_set("tt_func_call: %s is NULL but %s is not (pass both, or neither to "
                            "discard the result)",
                            ret == NULL ? "ret" : "ret_code", ret == NULL ? "ret_code" : "ret");
    for (int i = 0; i < n; i++) {
        if (codes[i] < 0 || codes[i] >= TT_TYPE_CODE_COUNT)
            return tt_error_set("tt_func_call: argument %d has type code %d, expected 0..%d", i,
                                codes[i], TT_TYPE_CODE_COUNT - 1);
    }
    tt_thread_state *s = tt_thread_state_get();
    if (s == NULL)
        return -1;
    int depth = s->depth;
    if (depth == s->nslots) {
        tt_ret_slot **slots = realloc(s->slots, (size_t)(depth + 1) * sizeof *slots);
        if (slots == NULL)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_func_call: out of memory (call depth %d)", depth);
        s->slots = slots;
        slots[depth] = calloc(1, sizeof **slots);
        if (slots[depth] == NULL)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_func_call: out of memory (call depth %d)", depth);
        s->nslots = depth + 1;
    }

    func_obj *fn = f;
    ret_state r = {.code = TT_NULL};
    /* Clear the last error so that a body that fails without setting one is reported as such
     * instead of with a stale message from an earlier, unrelated failure. */
    tt_error_clear();
    s->depth++;
    int rc = fn->body(args, codes, n, &r, fn->resource);
    s->depth--;
    if (rc != 0) {
        ret_clear(&r);
        if (tt_get_last_error()[0] == '\0')
            tt_error_set("tt_func_call: the function failed (returned %d) without an error message",
                         rc);
        return -1;
    }
    if (ret == NULL) {
        ret_clear(&r);
        free(s->slots[depth]->buf);
        s->slots[depth]->buf = NULL;
        return 0;
    }
    ret_to_slot(s, depth, &r, ret);
    *ret_code = r.code;
    return 0;
}

TT_API int tt_ret_set(tt_ret ret, const tt_value *value, const int *code, int n)
{
    if (ret == NULL)
        return tt_error_set("tt_ret_set: ret is NULL");
    if (n != 1)
        return tt_error_set("tt_ret_set: n = %d, expected 1", n);
    if (value == NULL || code == NULL)
        return tt_error_set("tt_ret_set: %s is NULL", value == NULL ? "value" : "code");
    int c = code[0];
    if (c < 0 || c >= TT_TYPE_CODE_COUNT)
        return tt_error_set("tt_ret_set: type code %d, expected 0..%d", c, TT_TYPE_CODE_COUNT - 1);
    ret_state *r = ret;
    ret_state next = {.value = value[0], .code = c};
    switch (c) {
    case TT_STR: {
        if (value->v_str == NULL)
            return tt_error_set("tt_ret_set: value has type TT_STR but v_str is NULL");
        next.buf = strdup(value->v_str);
        if (next.buf == NULL)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_ret_set: out of memory copying a string of %zu bytes",
                                 strlen(value->v_str));
        break;
    }
    case TT_BYTES: {
        const tt_bytes *b = value->v_handle;
        if (b == NULL || (b->data == NULL && b->size > 0))
            return tt_error_set("tt_ret_set: value has type TT_BYTES but %s is NULL",
                                b == NULL ? "v_handle" : "data");
        /* +1: never malloc(0), and a NUL after the bytes costs nothing. */
        next.buf = malloc(b->size + 1);
        if (next.buf == NULL)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_ret_set: out of memory copying %zu bytes", b->size);
        if (b->size > 0)
            memcpy(next.buf, b->data, b->size);
        next.buf[b->size] = '\0';
        next.bytes.data = next.buf;
        next.bytes.size = b->size;
        next.value.v_handle = NULL; /* tt_func_call points it at the thread's slot */
        break;
    }
    case TT_FUNC:
    case TT_MODULE:
    case TT_OBJECT:
    case TT_NDARRAY: {
        void *h = value->v_handle;
        /* A NULL handle is "no value": the caller sees TT_NULL, never a NULL function. */
        if (h == NULL) {
            next.code = TT_NULL;
            break;
        }
        int rc = c == TT_FUNC      ? tt_func_retain(h)
                 : c == TT_MODULE  ? tt_mod_retain(h)
                 : c == TT_NDARRAY ? tt_array_retain(h)
                                   : (tt_object_retain(h), 0);
        if (rc != 0)
            return tt_error_wrap("tt_ret_set: value with type %s", code_names[c]);
        break;
    }
    default:
        break;
    }
    /* Setting twice replaces the first value (and drops what it held). */
    ret_clear(r);
    *r = next;
    return 0;
}
