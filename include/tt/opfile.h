/* An op.json file as the public API sees it: opaque, loaded and freed here, handed to the tuner
 * (tt/tune.h) and the compiler. ir/opjson.h defines what is inside and documents the format
 * (docs/ARCHITECTURE.md, "op.json"). */
#ifndef TT_OPFILE_H
#define TT_OPFILE_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_opfile tt_opfile;

/* Loads and checks an op.json file; *out is the caller's (tt_opfile_free). On bad input -1 with
 * "path:line:col: field \"M\": expected a positive integer, got -4" style messages. */
TT_API int tt_opfile_load(const char *path, tt_opfile **out);
/* The same from text; path is only used in messages. */
TT_API int tt_opfile_parse_string(const char *text, const char *path, tt_opfile **out);
TT_API void tt_opfile_free(tt_opfile *f);

#ifdef __cplusplus
}
#endif
#endif
