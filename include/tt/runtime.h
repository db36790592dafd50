/* tvm-tune runtime C ABI: type-erased PackedFuncs, the global registry, Modules, NDArrays and the
 * thread-local last error. This header and libtt_runtime are all a C program needs to call into
 * tvm-tune; the Python binding (python/tvm_tune) calls exactly these functions through ctypes.
 * Every function returns 0 on success and -1 on failure, with a message for tt_get_last_error(). */
#ifndef TT_RUNTIME_H
#define TT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TT_BUILDING_LIBRARY)
#define TT_API __attribute__((visibility("default")))
#else
#define TT_API
#endif

#define TT_VERSION "0.1.0"

/* Type codes of tt_value. These reach the wire (RPC) and Python: values only grow at the end. */
enum {
    TT_INT = 0,      /* v_int64 */
    TT_UINT = 1,     /* v_int64 (bit pattern of a uint64) */
    TT_FLOAT = 2,    /* v_float64 */
    TT_HANDLE = 3,   /* v_handle: opaque pointer, not owned */
    TT_NULL = 4,     /* no value */
    TT_DTYPE = 5,    /* v_type */
    TT_DEVICE = 6,   /* v_device */
    TT_DLTENSOR = 7, /* v_handle: DLTensor *, borrowed */
    TT_OBJECT = 8,   /* v_handle: tt_object * (refcounted) */
    TT_MODULE = 9,   /* v_handle: tt_module */
    TT_FUNC = 10,    /* v_handle: tt_func */
    TT_STR = 11,     /* v_str: NUL-terminated */
    TT_BYTES = 12,   /* v_handle: tt_bytes * */
    TT_NDARRAY = 13, /* v_handle: DLTensor * of an array made by tt_array_alloc (refcounted) */
    TT_TYPE_CODE_COUNT
};

typedef union {
    int64_t v_int64;
    double v_float64;
    void *v_handle;
    const char *v_str;
    DLDataType v_type;
    DLDevice v_device;
} tt_value;

/* TT_BYTES payload: bytes that may contain NUL. */
typedef struct {
    const char *data;
    size_t size;
} tt_bytes;

typedef void *tt_func;
typedef void *tt_module;
typedef void *tt_ret;

/* The signature every PackedFunc body has. args/codes hold n arguments (borrowed for the call);
 * the body sets its result with tt_ret_set(ret, ...) and returns 0, or returns -1 after setting
 * the last error (tt_error_set). resource is the pointer given to tt_func_create. */
typedef int (*tt_packed_cfunc)(const tt_value *args, const int *codes, int n, tt_ret ret,
                               void *resource);

/* ---- PackedFunc ---- */

/* Wraps body as a function; fin(resource) runs when the last reference goes. Caller frees *out. */
TT_API int tt_func_create(tt_packed_cfunc body, void *resource, void (*fin)(void *), tt_func *out);
/* Registers f under name (the registry takes its own reference). Fails if name exists and
 * override is 0. */
TT_API int tt_func_register_global(const char *name, tt_func f, int override);
/* *out = a new reference to the function named name (caller frees), or NULL when absent. */
TT_API int tt_func_get_global(const char *name, tt_func *out);
/* *names = the registered names, sorted; valid until the next call on this thread. */
TT_API int tt_func_list_global(int *count, const char ***names);
/* Removes name from the registry; fails when it is absent. */
TT_API int tt_func_remove_global(const char *name);
/* Calls f. On return *ret_code says the type of *ret (TT_NULL when nothing was set). Returned
 * TT_STR/TT_BYTES stay valid until the next call on this thread; returned TT_FUNC, TT_MODULE,
 * TT_OBJECT and TT_NDARRAY are new references the caller frees. */
TT_API int tt_func_call(tt_func f, const tt_value *args, const int *codes, int n, tt_value *ret,
                        int *ret_code);
/* Sets the result of the PackedFunc call behind ret (n must be 1). Strings and bytes are copied;
 * functions, modules, objects and arrays are retained. */
TT_API int tt_ret_set(tt_ret ret, const tt_value *value, const int *code, int n);
/* Drops one reference to f (NULL is a no-op). */
TT_API int tt_func_free(tt_func f);
/* Adds one reference to f. */
TT_API int tt_func_retain(tt_func f);

/* ---- Modules ---- */

/* Loads path with the loader registered for format ("so": a shared library; NULL or "" means
 * guess from the extension). Caller frees *out with tt_mod_free. */
TT_API int tt_mod_load_from_file(const char *path, const char *format, tt_module *out);
/* *out = a new reference to the function name of m (then of its imports when query_imports),
 * or NULL when absent. Lookups are cached per module. */
TT_API int tt_mod_get_function(tt_module m, const char *name, int query_imports, tt_func *out);
/* m keeps a reference to dep and searches it when query_imports is set. */
TT_API int tt_mod_import(tt_module m, tt_module dep);
/* Drops one reference to m (NULL is a no-op). */
TT_API int tt_mod_free(tt_module m);
/* Adds one reference to m. */
TT_API int tt_mod_retain(tt_module m);
/* The format name m was made with ("so", "jit", "rpc", ...); valid while m lives. */
TT_API const char *tt_mod_format(tt_module m);

/* In a shared library, a module function "name" is the symbol TT_PACKED_PREFIX "name" with the
 * tt_packed_cfunc signature. TT_EXPORT_PACKED(name, cfunc) exports one from C. */
#define TT_PACKED_PREFIX "__tt_packed_"
#define TT_EXPORT_PACKED(name, cfunc)                                                              \
    __attribute__((visibility("default"))) int __tt_packed_##name(                                 \
        const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)                 \
    {                                                                                              \
        return cfunc(args, codes, n, ret, resource);                                               \
    }

/* ---- Module implementations (codegen's JIT, the RPC client, loaders by format) ---- */

typedef struct {
    const char *format;
    /* *out = a new tt_func for name, or NULL when this module has none. -1 on error. */
    int (*get_function)(void *self, const char *name, tt_func *out);
    /* Frees self when the module's last reference goes. */
    void (*free)(void *self);
} tt_module_vtable;

/* Makes a module from an implementation; the module owns self. Caller frees *out. */
TT_API int tt_mod_create(const tt_module_vtable *vtable, void *self, tt_module *out);
/* The self pointer of a module made by tt_mod_create with this vtable, or NULL. */
TT_API void *tt_mod_self(tt_module m, const tt_module_vtable *vtable);

typedef int (*tt_module_loader)(const char *path, tt_module *out);
/* Registers the loader for a file format (e.g. "so"); override as for globals. */
TT_API int tt_mod_register_loader(const char *format, tt_module_loader loader, int override);

/* ---- Arrays (DLPack) ---- */

/* Allocates a compact row-major array, data 64-byte aligned and zeroed. ndim may be 0 (a scalar);
 * every extent must be >= 0 and the byte size must fit in int64. Caller frees with tt_array_free.
 */
TT_API int tt_array_alloc(const int64_t *shape, int ndim, DLDataType dt, DLDevice dev,
                          DLTensor **out);
/* Drops one reference to an array from tt_array_alloc (NULL is a no-op). */
TT_API int tt_array_free(DLTensor *a);
/* Adds one reference to an array from tt_array_alloc. */
TT_API int tt_array_retain(DLTensor *a);
/* Copies between two arrays of the same shape and dtype (compact). */
TT_API int tt_array_copy(const DLTensor *from, DLTensor *to);
/* Number of bytes of the data of t (compact layout). */
TT_API int64_t tt_array_nbytes(const DLTensor *t);

/* ---- Refcounted objects (the base of IR nodes) ---- */

typedef struct tt_object tt_object;
struct tt_object {
    int32_t refcount;             /* atomic; starts at 1 */
    uint32_t type_index;          /* from tt_object_type_register */
    void (*deleter)(tt_object *); /* frees the object when the count reaches 0 */
};

/* *out = the type index of key, registering it if new (thread-safe, idempotent). */
TT_API int tt_object_type_register(const char *key, uint32_t *out);
/* The key of a type index, or NULL when unknown. */
TT_API const char *tt_object_type_key(uint32_t type_index);
/* Initialises the header of a new object: refcount 1. */
TT_API void tt_object_init(tt_object *o, uint32_t type_index, void (*deleter)(tt_object *));
TT_API void tt_object_retain(tt_object *o);  /* NULL is a no-op */
TT_API void tt_object_release(tt_object *o); /* NULL is a no-op; the last release deletes */
/* The type key of o ("runtime.Func", "runtime.Module", "ir.Add", ...). */
TT_API const char *tt_object_key(const tt_object *o);

/* ---- Errors ---- */

/* The categories of errors, one table (as libuv's UV_ERRNO_MAP): X(NAME, message). A caller
 * decides by category (the CLI picks its exit code from it), never by matching message text.
 * The values reach Python: they only grow at the end. */
#define TT_ERROR_MAP(X)                                                                            \
    X(OK, "no error")                                                                              \
    X(UNKNOWN, "error of no particular category")                                                  \
    X(INVALID_ARGUMENT, "invalid argument")                                                        \
    X(PARSE, "malformed input")                                                                    \
    X(NOT_FOUND, "not found")                                                                      \
    X(UNSUPPORTED, "not supported")                                                                \
    X(IO, "input/output error")                                                                    \
    X(OUT_OF_MEMORY, "out of memory")                                                              \
    X(INTERRUPTED, "interrupted")                                                                  \
    X(CONFLICT, "refused by a concurrent change")

/* TT_ERR_OK, TT_ERR_UNKNOWN, ...: what kind of failure the last error is. */
typedef enum {
#define TT_ERROR_ENUM_(name, msg) TT_ERR_##name,
    TT_ERROR_MAP(TT_ERROR_ENUM_)
#undef TT_ERROR_ENUM_
        TT_ERR_CATEGORY_COUNT
} tt_error_category;

/* The message of the last failed call on this thread ("" when none). */
TT_API const char *tt_get_last_error(void);
/* The category of the last failed call on this thread (TT_ERR_OK when none). */
TT_API tt_error_category tt_get_last_error_category(void);
/* "INVALID_ARGUMENT" for TT_ERR_INVALID_ARGUMENT; "UNKNOWN" for a value outside the table. */
TT_API const char *tt_error_category_name(tt_error_category c);
/* "invalid argument" for TT_ERR_INVALID_ARGUMENT; the UNKNOWN one outside the table. */
TT_API const char *tt_error_category_message(tt_error_category c);
/* The category of a failed system call's errno on a path the caller was given: NOT_FOUND for
 * ENOENT and ENOTDIR, INVALID_ARGUMENT for what the path itself is wrong about (EACCES, EISDIR,
 * ENAMETOOLONG, ELOOP, EEXIST), OUT_OF_MEMORY for ENOMEM, IO for the rest. */
TT_API tt_error_category tt_error_category_from_errno(int err);
/* Sets the last error (printf format) with category TT_ERR_UNKNOWN and returns -1, so bodies can
 * `return tt_error_set(...)`. */
TT_API int tt_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the last error with category c (printf format); returns -1. TT_ERR_OK or a value outside
 * the table is taken as TT_ERR_UNKNOWN: an error always says that something failed. */
TT_API int tt_error_setc(tt_error_category c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current last error with context (printf format), keeping its category; -1. An
 * empty context leaves the message as it is. */
TT_API int tt_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As tt_error_wrap, and an error of no category (TT_ERR_UNKNOWN, or none at all) takes c: the
 * caller knows what the callee did not ("reading the user's file failed" is bad input), but a
 * category the callee gave (out of memory) stays. Returns -1. */
TT_API int tt_error_wrapc(tt_error_category c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Registration at load time ---- */

/* TT_REGISTER_GLOBAL("name", cfunc) registers cfunc (a tt_packed_cfunc) when the library or
 * program that contains it loads. A failure is reported on stderr (nothing to return to). */
#define TT_REGISTER_GLOBAL(name, cfunc) TT_REGISTER_GLOBAL_(name, cfunc, __LINE__)
#define TT_REGISTER_GLOBAL_(name, cfunc, line) TT_REGISTER_GLOBAL__(name, cfunc, line)
#define TT_REGISTER_GLOBAL__(name, cfunc, line)                                                    \
    __attribute__((constructor)) static void tt_register_##line(void)                              \
    {                                                                                              \
        tt_register_global_at_load(name, cfunc);                                                   \
    }
TT_API void tt_register_global_at_load(const char *name, tt_packed_cfunc body);

#ifdef __cplusplus
}
#endif
#endif
