/* The global function registry: name -> PackedFunc, shared by C (TT_REGISTER_GLOBAL), the host
 * library and the Python binding. Kept sorted so lookups are a binary search and
 * tt_func_list_global needs no sort; a rwlock lets many threads look up at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

typedef struct {
    char *name;
    tt_func f;
} entry;

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static entry *entries;
static int entry_count, entry_cap;

/* Index of name, or -(insertion point) - 1 when absent. Caller holds reg_lock. */
static int find(const char *name)
{
    int lo = 0, hi = entry_count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(entries[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -lo - 1;
}

static int check_name(const char *who, const char *name)
{
    if (name == NULL)
        return tt_error_set("%s: name is NULL", who);
    if (name[0] == '\0')
        return tt_error_set("%s: name is empty, expected a function name", who);
    return 0;
}

TT_API int tt_func_register_global(const char *name, tt_func f, int override)
{
    if (check_name("tt_func_register_global", name) != 0)
        return -1;
    if (!tt_is_type(f, TT_TYPE_FUNC))
        return tt_error_set("tt_func_register_global: \"%s\": f is %s, expected a runtime.Func",
                            name, f == NULL ? "NULL" : "not a function");
    tt_func old = NULL;
    pthread_rwlock_wrlock(&reg_lock);
    int i = find(name);
    if (i >= 0) {
        if (!override) {
            pthread_rwlock_unlock(&reg_lock);
            return tt_error_set("tt_func_register_global: \"%s\" is already registered (pass "
                                "override=1 to replace it)",
                                name);
        }
        old = entries[i].f;
        tt_func_retain(f);
        entries[i].f = f;
    } else {
        if (entry_count == entry_cap) {
            int cap = entry_cap ? entry_cap * 2 : 64;
            entry *e = realloc(entries, (size_t)cap * sizeof *e);
            if (e == NULL) {
                pthread_rwlock_unlock(&reg_lock);
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                     "tt_func_register_global: out of memory registering \"%s\"",
                                     name);
            }
            entries = e;
            entry_cap = cap;
        }
        char *copy = strdup(name);
        if (copy == NULL) {
            pthread_rwlock_unlock(&reg_lock);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_func_register_global: out of memory registering \"%s\"", name);
        }
        int at = -i - 1;
        memmove(entries + at + 1, entries + at, (size_t)(entry_count - at) * sizeof *entries);
        tt_func_retain(f);
        entries[at] = (entry){copy, f};
        entry_count++;
    }
    pthread_rwlock_unlock(&reg_lock);
    /* Released outside the lock: a finaliser (a Python callback's, say) may use the registry. */
    tt_func_free(old);
    return 0;
}

TT_API int tt_func_get_global(const char *name, tt_func *out)
{
    if (out == NULL)
        return tt_error_set("tt_func_get_global: out is NULL");
    *out = NULL;
    if (check_name("tt_func_get_global", name) != 0)
        return -1;
    pthread_rwlock_rdlock(&reg_lock);
    int i = find(name);
    if (i >= 0) {
        tt_object_retain(entries[i].f);
        *out = entries[i].f;
    }
    pthread_rwlock_unlock(&reg_lock);
    return 0;
}

TT_API int tt_func_remove_global(const char *name)
{
    if (check_name("tt_func_remove_global", name) != 0)
        return -1;
    pthread_rwlock_wrlock(&reg_lock);
    int i = find(name);
    if (i < 0) {
        pthread_rwlock_unlock(&reg_lock);
        return tt_error_set("tt_func_remove_global: \"%s\" is not registered", name);
    }
    entry e = entries[i];
    memmove(entries + i, entries + i + 1, (size_t)(entry_count - i - 1) * sizeof *entries);
    entry_count--;
    pthread_rwlock_unlock(&reg_lock);
    free(e.name);
    tt_func_free(e.f);
    return 0;
}

TT_API int tt_func_list_global(int *count, const char ***names)
{
    if (count == NULL || names == NULL)
        return tt_error_set("tt_func_list_global: %s is NULL", count == NULL ? "count" : "names");
    *count = 0;
    *names = NULL;
    tt_thread_state *s = tt_thread_state_get();
    if (s == NULL)
        return -1;
    /* Copies, not the registry's own strings: another thread may remove a name while the caller
     * still reads the list. */
    for (int i = 0; i < s->nnames; i++)
        free(s->names[i]);
    s->nnames = 0;
    pthread_rwlock_rdlock(&reg_lock);
    int n = entry_count;
    char **copies = realloc(s->names, (size_t)(n + 1) * sizeof *copies);
    if (copies != NULL)
        s->names = copies;
    const char **ptrs = realloc(s->name_ptrs, (size_t)(n + 1) * sizeof *ptrs);
    if (ptrs != NULL)
        s->name_ptrs = ptrs;
    if (copies == NULL || ptrs == NULL) {
        pthread_rwlock_unlock(&reg_lock);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_func_list_global: out of memory listing %d names", n);
    }
    for (int i = 0; i < n; i++) {
        copies[i] = strdup(entries[i].name);
        if (copies[i] == NULL) {
            s->nnames = i;
            pthread_rwlock_unlock(&reg_lock);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                                 "tt_func_list_global: out of memory listing %d names", n);
        }
        ptrs[i] = copies[i];
        s->nnames = i + 1;
    }
    pthread_rwlock_unlock(&reg_lock);
    ptrs[n] = NULL;
    *count = n;
    *names = ptrs;
    return 0;
}

TT_API void tt_register_global_at_load(const char *name, tt_packed_cfunc body)
{
    tt_func f = NULL;
    if (tt_func_create(body, NULL, NULL, &f) != 0 || tt_func_register_global(name, f, 0) != 0)
        fprintf(stderr, "tvm-tune: TT_REGISTER_GLOBAL(\"%s\") failed: %s\n", name ? name : "(null)",
                tt_get_last_error());
    tt_func_free(f);
}
