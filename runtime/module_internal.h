/* Between module.c and module_so.c: the built-in loader of shared libraries. */
#ifndef TT_MODULE_INTERNAL_H
#define TT_MODULE_INTERNAL_H

#include "tt/runtime.h"

/* The "so" loader: dlopen(path) as a module whose functions are its TT_PACKED_PREFIX symbols. */
int tt_mod_load_so(const char *path, tt_module *out);

#endif
