/* The "so" module loader: a shared library produced by codegen (or any C library that exports
 * functions with TT_EXPORT_PACKED) opened with dlopen; function "f" is the symbol __tt_packed_f. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "module_internal.h"
#include "runtime_internal.h"

/* The open library, shared by the module and by every function it handed out: a function may
 * outlive its module (the caller keeps it), and dlclose must wait for the last of them. */
typedef struct {
    int32_t refcount;
    void *handle;
    char *path;
} so_lib;

static void lib_release(void *p)
{
    so_lib *lib = p;
    if (__atomic_sub_fetch(&lib->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    dlclose(lib->handle);
    free(lib->path);
    free(lib);
}

static int so_get_function(void *self, const char *name, tt_func *out)
{
    so_lib *lib = self;
    *out = NULL;
    size_t len = strlen(TT_PACKED_PREFIX) + strlen(name) + 1;
    char *sym = malloc(len);
    if (sym == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(sym, len, "%s%s", TT_PACKED_PREFIX, name);
    dlerror(); /* clear: NULL from dlsym is only an error if dlerror says so */
    void *addr = dlsym(lib->handle, sym);
    free(sym);
    if (addr == NULL)
        return 0;
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
    tt_packed_cfunc body;
    memcpy(&body, &addr, sizeof body);
    __atomic_fetch_add(&lib->refcount, 1, __ATOMIC_RELAXED);
    if (tt_func_create(body, lib, lib_release, out) != 0) {
        lib_release(lib);
        return -1;
    }
    return 0;
}

static const tt_module_vtable so_vtable = {
    .format = "so",
    .get_function = so_get_function,
    .free = lib_release,
};

int tt_mod_load_so(const char *path, tt_module *out)
{
    *out = NULL;
    /* dlopen searches the library path for a name without a slash; a file name is a file. */
    char *open_path;
    if (strchr(path, '/') == NULL) {
        size_t len = strlen(path) + 3;
        open_path = malloc(len);
        if (open_path != NULL)
            snprintf(open_path, len, "./%s", path);
    } else {
        open_path = strdup(path);
    }
    if (open_path == NULL)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_mod_load_from_file: out of memory loading \"%s\"", path);
    /* RTLD_NOW: an unresolved symbol fails here, with a message, not at the first call.
     * RTLD_LOCAL: two kernel libraries may define the same names. */
    void *handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        /* A missing file is NOT_FOUND; anything else (not a library, a missing symbol) UNKNOWN. */
        int missing = access(open_path, F_OK) != 0;
        free(open_path);
        return tt_error_setc(missing ? TT_ERR_NOT_FOUND : TT_ERR_UNKNOWN,
                             "tt_mod_load_from_file: cannot load \"%s\" as a shared library: %s",
                             path, why ? why : "unknown dlopen error");
    }
    so_lib *lib = malloc(sizeof *lib);
    if (lib == NULL) {
        dlclose(handle);
        free(open_path);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                             "tt_mod_load_from_file: out of memory loading \"%s\"", path);
    }
    lib->refcount = 1;
    lib->handle = handle;
    lib->path = open_path;
    if (tt_mod_create(&so_vtable, lib, out) != 0) {
        lib_release(lib);
        return tt_error_wrap("tt_mod_load_from_file: \"%s\"", path);
    }
    return 0;
}
