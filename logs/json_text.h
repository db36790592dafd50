/* Text helpers of logs/: a growable string buffer, UTF-8 validation and the JSON pieces the record
 * encoder writes by hand (strings, shortest round-trip numbers) and canonical compact JSON text.
 * Internal to logs/ (not exported from libtt). */
#ifndef TT_LOGS_JSON_TEXT_H
#define TT_LOGS_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime/text.h"

/* The string buffer tt_sb is runtime/text.h's; these append JSON pieces to it. */
void tt_sb_int(tt_sb *b, int64_t v);
void tt_sb_double(tt_sb *b, double x); /* shortest round-trip form; x must be finite */
/* A JSON string literal. Invalid UTF-8 becomes U+FFFD when sanitize, else fails (returns -1
 * without touching b). */
int tt_sb_json_string(tt_sb *b, const char *s, int sanitize);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int tt_utf8_valid(const char *s, size_t n);

/* "an object", "a string", "true"...: what a JSON value is, for messages. */
const char *tt_json_kind(const json_t *v);

/* Parses text as JSON, requires an object (want == JSON_OBJECT) or array (JSON_ARRAY) and returns
 * its compact form in *out (caller frees). Messages name `field`. */
int tt_json_canonical(const char *text, json_type want, const char *field, char **out);

#endif
