/* Text helpers every folder shares: a growable string buffer and reading a whole file. They sit in
 * the runtime, the one library every other folder may use (docs/ARCHITECTURE.md, "Folders and
 * what each may use"); not part of the public ABI of include/tt/. */
#ifndef TT_RUNTIME_TEXT_H
#define TT_RUNTIME_TEXT_H

#include <stddef.h>

#include "tt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable NUL-terminated buffer; {0} is an empty one. After an allocation failure `failed`
 * stays set and further appends are no-ops, so a writer checks once at the end (tt_sb_take). */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} tt_sb;

TT_API void tt_sb_put(tt_sb *b, const char *s, size_t n);
TT_API void tt_sb_puts(tt_sb *b, const char *s);
TT_API void tt_sb_printf(tt_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands over the text ("" when nothing was written; caller frees), or NULL with an
 * OUT_OF_MEMORY error after an allocation failure. b is empty afterwards either way. */
TT_API char *tt_sb_take(tt_sb *b);
TT_API void tt_sb_free(tt_sb *b);

/* The whole file at path in a new NUL-terminated buffer (*out, caller frees; *len bytes, len may
 * be NULL). A file of more than max_bytes (0: no limit) or one that cannot be opened or read is
 * -1 with "PATH: cannot open: REASON" (category from errno), "PATH: larger than N bytes"
 * (INVALID_ARGUMENT) or "PATH: read error" (IO). */
TT_API int tt_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
