/* Modules: a vtable over an implementation (a shared library, codegen's JIT, an RPC session),
 * a per-module cache of function lookups, imports, and the registry of loaders by file format.
 * tt_mod_load_from_file is the one entry point; the "so" loader lives in module_so.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "module_internal.h"
#include "runtime_internal.h"

typedef struct {
    char *name;
    tt_func f; /* NULL: the implementation has no such function (misses are cached too) */
} cache_entry;

typedef struct {
    tt_object obj;
    const tt_module_vtable *vt;
    void *self;
    /* Guards cache and imports. Lookups hold it across the implementation's get_function, so a
     * name is looked up in the implementation once even when threads race for it. */
    pthread_mutex_t lock;
    cache_entry *cache;
    int ncache, cache_cap;
    tt_module *imports;
    int nimports, imports_cap;
} module_obj;

static void module_delete(tt_object *o)
{
    module_obj *m = (module_obj *)o;
    /* Functions first, the implementation last: a function of a shared library must not
     * outlive the code it points into (module_so.c also makes each function hold the library). */
    for (int i = 0; i < m->ncache; i++) {
        free(m->cache[i].name);
        tt_func_free(m->cache[i].f);
    }
    free(m->cache);
    for (int i = 0; i < m->nimports; i++)
        tt_mod_free(m->imports[i]);
    free(m->imports);
    if (m->vt->free != NULL)
        m->vt->free(m->self);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

TT_API int tt_mod_create(const tt_module_vtable *vtable, void *self, tt_module *out)
{
    if (out == NULL)
        return tt_error_set("tt_mod_create: out is NULL");
    *out = NULL;
    if (vtable == NULL || vtable->get_function == NULL)
        return tt_error_set("tt_mod_create: %s is NULL, expected a vtable with get_function",
                            vtable == NULL ? "vtable" : "vtable->get_function");
    if (vtable->format == NULL || vtable->format[0] == '\0')
        return tt_error_set("tt_mod_create: vtable->format is empty, expected a format name");
    module_obj *m = calloc(1, sizeof *m);
    if (m == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_mod_create: out of memory");
    tt_object_init(&m->obj, TT_TYPE_MODULE, module_delete);
    m->vt = vtable;
    m->self = self;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

static int check_module(const char *who, const char *arg, tt_module m)
{
    if (m == NULL)
        return tt_error_set("%s: %s is NULL", who, arg);
    if (!tt_is_type(m, TT_TYPE_MODULE)) {
        const char *key = tt_object_key(m);
        return tt_error_set("%s: %s is a %s, expected a runtime.Module", who, arg,
                            key ? key : "object of unknown type");
    }
    return 0;
}

TT_API void *tt_mod_self(tt_module m, const tt_module_vtable *vtable)
{
    if (!tt_is_type(m, TT_TYPE_MODULE))
        return NULL;
    module_obj *mo = m;
    return mo->vt == vtable ? mo->self : NULL;
}

TT_API const char *tt_mod_format(tt_module m)
{
    if (!tt_is_type(m, TT_TYPE_MODULE))
        return NULL;
    return ((module_obj *)m)->vt->format;
}

TT_API int tt_mod_free(tt_module m)
{
    if (m == NULL)
        return 0;
    if (check_module("tt_mod_free", "m", m) != 0)
        return -1;
    tt_object_release(m);
    return 0;
}

TT_API int tt_mod_retain(tt_module m)
{
    if (check_module("tt_mod_retain", "m", m) != 0)
        return -1;
    tt_object_retain(m);
    return 0;
}

/* Looks name up in m itself, through the cache. *out is a new reference or NULL. */
static int lookup_own(module_obj *m, const char *name, tt_func *out)
{
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->ncache; i++) {
        if (strcmp(m->cache[i].name, name) == 0) {
            *out = m->cache[i].f;
            tt_object_retain(*out);
            pthread_mutex_unlock(&m->lock);
            return 0;
        }
    }
    tt_func f = NULL;
    if (m->vt->get_function(m->self, name, &f) != 0) {
        pthread_mutex_unlock(&m->lock);
        return tt_error_wrap("tt_mod_get_function: \"%s\" in a %s module", name, m->vt->format);
    }
    if (f != NULL && !tt_is_type(f, TT_TYPE_FUNC)) {
        pthread_mutex_unlock(&m->lock);
        return tt_error_set("tt_mod_get_function: the %s module returned a non-function for "
                            "\"%s\"",
                            m->vt->format, name);
    }
    /* Cache the answer, hit or miss: a module's set of functions is fixed once it is made. If
     * the cache cannot grow the lookup still succeeds, uncached. */
    if (m->ncache == m->cache_cap) {
        int cap = m->cache_cap ? m->cache_cap * 2 : 8;
        cache_entry *c = realloc(m->cache, (size_t)cap * sizeof *c);
        if (c != NULL) {
            m->cache = c;
            m->cache_cap = cap;
        }
    }
    char *copy = m->ncache < m->cache_cap ? strdup(name) : NULL;
    if (copy != NULL) {
        m->cache[m->ncache++] = (cache_entry){copy, f};
        tt_object_retain(f); /* one reference for the cache, the one from get_function for out */
    }
    pthread_mutex_unlock(&m->lock);
    *out = f;
    return 0;
}

/* Copies m's imports (retained) so they can be searched without holding m's lock. */
static int snapshot_imports(module_obj *m, tt_module **out, int *n)
{
    pthread_mutex_lock(&m->lock);
    *n = m->nimports;
    *out = NULL;
    if (*n > 0) {
        *out = malloc((size_t)*n * sizeof **out);
        if (*out == NULL) {
            pthread_mutex_unlock(&m->lock);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_mod_get_function: out of memory");
        }
        for (int i = 0; i < *n; i++) {
            (*out)[i] = m->imports[i];
            tt_object_retain(m->imports[i]);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void free_snapshot(tt_module *mods, int n)
{
    for (int i = 0; i < n; i++)
        tt_mod_free(mods[i]);
    free(mods);
}

TT_API int tt_mod_get_function(tt_module m, const char *name, int query_imports, tt_func *out)
{
    if (out == NULL)
        return tt_error_set("tt_mod_get_function: out is NULL");
    *out = NULL;
    if (check_module("tt_mod_get_function", "m", m) != 0)
        return -1;
    if (name == NULL || name[0] == '\0')
        return tt_error_set("tt_mod_get_function: name is %s, expected a function name",
                            name == NULL ? "NULL" : "empty");
    if (lookup_own(m, name, out) != 0)
        return -1;
    if (*out != NULL || !query_imports)
        return 0;
    /* Depth-first through the imports, in import order; tt_mod_import refuses cycles. */
    tt_module *deps;
    int n;
    if (snapshot_imports(m, &deps, &n) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && *out == NULL && rc == 0; i++)
        rc = tt_mod_get_function(deps[i], name, 1, out);
    free_snapshot(deps, n);
    return rc;
}

/* Whether m is from or reachable from from through imports. */
static int reaches(tt_module from, tt_module m, int *found)
{
    if (from == m) {
        *found = 1;
        return 0;
    }
    tt_module *deps;
    int n;
    if (snapshot_imports(from, &deps, &n) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && !*found && rc == 0; i++)
        rc = reaches(deps[i], m, found);
    free_snapshot(deps, n);
    return rc;
}

TT_API int tt_mod_import(tt_module m, tt_module dep)
{
    if (check_module("tt_mod_import", "m", m) != 0 || check_module("tt_mod_import", "dep", dep))
        return -1;
    int cycle = 0;
    if (reaches(dep, m, &cycle) != 0)
        return tt_error_wrap("tt_mod_import");
    if (cycle)
        return tt_error_set("tt_mod_import: dep already imports m (directly or through its "
                            "imports), or is m: importing it would make a cycle");
    module_obj *mo = m;
    pthread_mutex_lock(&mo->lock);
    if (mo->nimports == mo->imports_cap) {
        int cap = mo->imports_cap ? mo->imports_cap * 2 : 4;
        tt_module *im = realloc(mo->imports, (size_t)cap * sizeof *im);
        if (im == NULL) {
            pthread_mutex_unlock(&mo->lock);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_mod_import: out of memory");
        }
        mo->imports = im;
        mo->imports_cap = cap;
    }
    tt_object_retain(dep);
    mo->imports[mo->nimports++] = dep;
    pthread_mutex_unlock(&mo->lock);
    return 0;
}

/* ---- loaders by format ---- */

#define MAX_LOADERS 32

/* Formats are never removed, so their strings (strdup'd, or the literal "so") live for the
 * process. A fixed table: a handful of formats exist (so, jit, rpc). */
typedef struct {
    char *format;
    tt_module_loader loader;
} loader_entry;

static pthread_mutex_t loaders_lock = PTHREAD_MUTEX_INITIALIZER;
static loader_entry loaders[MAX_LOADERS] = {{"so", tt_mod_load_so}};
static int loader_count = 1;

TT_API int tt_mod_register_loader(const char *format, tt_module_loader loader, int override)
{
    if (format == NULL || format[0] == '\0')
        return tt_error_set("tt_mod_register_loader: format is %s, expected a format name",
                            format == NULL ? "NULL" : "empty");
    if (loader == NULL)
        return tt_error_set("tt_mod_register_loader: loader for \"%s\" is NULL", format);
    pthread_mutex_lock(&loaders_lock);
    for (int i = 0; i < loader_count; i++) {
        if (strcmp(loaders[i].format, format) == 0) {
            if (!override) {
                pthread_mutex_unlock(&loaders_lock);
                return tt_error_set("tt_mod_register_loader: a loader for \"%s\" is already "
                                    "registered (pass override=1 to replace it)",
                                    format);
            }
            loaders[i].loader = loader;
            pthread_mutex_unlock(&loaders_lock);
            return 0;
        }
    }
    if (loader_count == MAX_LOADERS) {
        pthread_mutex_unlock(&loaders_lock);
        return tt_error_set("tt_mod_register_loader: cannot add \"%s\": %d formats already "
                            "registered",
                            format, MAX_LOADERS);
    }
    char *copy = strdup(format);
    if (copy == NULL) {
        pthread_mutex_unlock(&loaders_lock);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_mod_register_loader: out of memory");
    }
    loaders[loader_count++] = (loader_entry){copy, loader};
    pthread_mutex_unlock(&loaders_lock);
    return 0;
}

TT_API int tt_mod_load_from_file(const char *path, const char *format, tt_module *out)
{
    if (out == NULL)
        return tt_error_set("tt_mod_load_from_file: out is NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return tt_error_set("tt_mod_load_from_file: path is %s, expected a file name",
                            path == NULL ? "NULL" : "empty");
    if (format == NULL || format[0] == '\0') {
        /* Guess from the extension of the file name (not of a directory in the path). */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        const char *dot = strrchr(base, '.');
        if (dot == NULL || dot == base || dot[1] == '\0')
            return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                                 "tt_mod_load_from_file: cannot guess the format of \"%s\" (no "
                                 "extension); pass a format such as \"so\"",
                                 path);
        format = dot + 1;
    }
    tt_module_loader loader = NULL;
    pthread_mutex_lock(&loaders_lock);
    for (int i = 0; i < loader_count; i++) {
        if (strcmp(loaders[i].format, format) == 0)
            loader = loaders[i].loader;
    }
    pthread_mutex_unlock(&loaders_lock);
    if (loader == NULL)
        return tt_error_setc(TT_ERR_UNSUPPORTED,
                             "tt_mod_load_from_file: no loader for format \"%s\" (file \"%s\")",
                             format, path);
    if (loader(path, out) != 0) {
        if (*out != NULL) {
            tt_mod_free(*out);
            *out = NULL;
        }
        return -1;
    }
    if (!tt_is_type(*out, TT_TYPE_MODULE)) {
        *out = NULL;
        return tt_error_set("tt_mod_load_from_file: the \"%s\" loader returned no module for "
                            "\"%s\"",
                            format, path);
    }
    return 0;
}
