/* Shared between the runtime's own files, never installed: built-in object type indices, the
 * per-thread state behind "valid until the next call on this thread", and object layouts that
 * more than one file needs to see. */
#ifndef TT_RUNTIME_INTERNAL_H
#define TT_RUNTIME_INTERNAL_H

#include "tt/runtime.h"

/* Built-in types occupy the first indices of the type registry (object.c preloads them), so
 * checking "is this handle a function" is one integer compare with no lookup or lock. */
enum {
    TT_TYPE_FUNC = 0,    /* "runtime.Func" */
    TT_TYPE_MODULE = 1,  /* "runtime.Module" */
    TT_TYPE_NDARRAY = 2, /* "runtime.NDArray" */
    TT_TYPE_BUILTIN_COUNT
};

/* Storage for a string or bytes returned by tt_func_call at one call depth. */
typedef struct {
    char *buf;      /* owned copy of the string or of the bytes */
    tt_bytes bytes; /* what a TT_BYTES result points at */
} tt_ret_slot;

/* Per-thread state, freed when the thread exits. Returned strings live in slots indexed by the
 * call depth, so a body that makes nested calls cannot free the string its caller still holds. */
typedef struct {
    /* One allocation per slot: a TT_BYTES result points into its slot, and that pointer must
     * survive the array growing when a nested call goes deeper. */
    tt_ret_slot **slots;
    int nslots;
    int depth;              /* tt_func_call frames active on this thread */
    char **names;           /* owned copies for tt_func_list_global */
    const char **name_ptrs; /* what the caller of tt_func_list_global sees */
    int nnames;
} tt_thread_state;

/* Empties this thread's last error. */
void tt_error_clear(void);

/* This thread's state, or NULL (with the last error set) when out of memory. */
tt_thread_state *tt_thread_state_get(void);

/* Whether a handle points at an object of a built-in type. Handles are opaque pointers crossing
 * a C ABI (and ctypes), so this catches a module passed as a function, not arbitrary garbage. */
static inline int tt_is_type(const void *h, uint32_t type_index)
{
    return h != NULL && ((const tt_object *)h)->type_index == type_index;
}

/* Releases the reference held by a value of a refcounted type code (FUNC, MODULE, OBJECT,
 * NDARRAY); other codes hold nothing. */
void tt_value_release(tt_value v, int code);

/* The resource of f when f was made by tt_func_create with this body, else NULL: how the RPC
 * client recognises its own forwarding functions among the ones it is passed. */
void *tt_func_resource_if(tt_func f, tt_packed_cfunc body);

#endif
