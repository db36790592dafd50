/* Refcounted objects: the type registry (type key <-> index) and the atomic retain/release every
 * runtime object (functions, modules, arrays) and every IR node shares. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

static const char *const builtin_keys[TT_TYPE_BUILTIN_COUNT] = {
    [TT_TYPE_FUNC] = "runtime.Func",
    [TT_TYPE_MODULE] = "runtime.Module",
    [TT_TYPE_NDARRAY] = "runtime.NDArray",
};

/* Keys registered at run time, index = TT_TYPE_BUILTIN_COUNT + position. Keys are never removed,
 * so a pointer returned by tt_object_type_key stays valid for the life of the process. */
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static char **type_keys;
static uint32_t type_count, type_cap;

TT_API int tt_object_type_register(const char *key, uint32_t *out)
{
    if (key == NULL || key[0] == '\0')
        return tt_error_set("tt_object_type_register: key is %s, expected a non-empty string",
                            key == NULL ? "NULL" : "empty");
    if (out == NULL)
        return tt_error_set("tt_object_type_register: out is NULL");
    for (uint32_t i = 0; i < TT_TYPE_BUILTIN_COUNT; i++) {
        if (strcmp(builtin_keys[i], key) == 0) {
            *out = i;
            return 0;
        }
    }
    pthread_mutex_lock(&types_lock);
    for (uint32_t i = 0; i < type_count; i++) {
        if (strcmp(type_keys[i], key) == 0) {
            pthread_mutex_unlock(&types_lock);
            *out = TT_TYPE_BUILTIN_COUNT + i;
            return 0;
        }
    }
    if (type_count == type_cap) {
        uint32_t cap = type_cap ? type_cap * 2 : 64;
        char **keys = realloc(type_keys, cap * sizeof *keys);
        if (keys == NULL) {
            pthread_mutex_unlock(&types_lock);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_object_type_register: out of memory registering \"%s\"", key);
        }
        type_keys = keys;
        type_cap = cap;
    }
    char *copy = strdup(key);
    if (copy == NULL) {
        pthread_mutex_unlock(&types_lock);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_object_type_register: out of memory registering \"%s\"", key);
    }
    type_keys[type_count] = copy;
    *out = TT_TYPE_BUILTIN_COUNT + type_count;
    type_count++;
    pthread_mutex_unlock(&types_lock);
    return 0;
}

TT_API const char *tt_object_type_key(uint32_t type_index)
{
    if (type_index < TT_TYPE_BUILTIN_COUNT)
        return builtin_keys[type_index];
    const char *key = NULL;
    pthread_mutex_lock(&types_lock);
    if (type_index - TT_TYPE_BUILTIN_COUNT < type_count)
        key = type_keys[type_index - TT_TYPE_BUILTIN_COUNT];
    pthread_mutex_unlock(&types_lock);
    return key;
}

TT_API void tt_object_init(tt_object *o, uint32_t type_index, void (*deleter)(tt_object *))
{
    if (o == NULL)
        return;
    __atomic_store_n(&o->refcount, 1, __ATOMIC_RELAXED);
    o->type_index = type_index;
    o->deleter = deleter;
}

TT_API void tt_object_retain(tt_object *o)
{
    if (o != NULL)
        __atomic_fetch_add(&o->refcount, 1, __ATOMIC_RELAXED);
}

TT_API void tt_object_release(tt_object *o)
{
    if (o == NULL)
        return;
    /* acq_rel: the thread that deletes must see every write made by threads that released
     * before it (the usual refcount protocol, as in std::shared_ptr). */
    if (__atomic_sub_fetch(&o->refcount, 1, __ATOMIC_ACQ_REL) == 0 && o->deleter != NULL)
        o->deleter(o);
}

TT_API const char *tt_object_key(const tt_object *o)
{
    return o == NULL ? NULL : tt_object_type_key(o->type_index);
}
