/* Text helpers of logs/: the string buffer the record encoder writes into, UTF-8 validation, JSON
 * string and number literals, and canonical compact JSON (what workload and steps are stored as).
 * The encoder writes lines by hand so that numbers take their shortest round-trip form. */
#include "logs/json_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/runtime.h"

void tt_sb_int(tt_sb *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    tt_sb_put(b, tmp, (size_t)n);
}

void tt_sb_double(tt_sb *b, double x)
{
    /* The fewest significant digits that read back to the same double: 0.0121 stays "0.0121"
     * instead of %.17g's "0.012099999999999999". 17 digits always round-trip (IEEE 754). */
    if (x == 0) {
        /* -0.0 too: jansson reads "-0" back as the integer 0, so write what reads back. */
        tt_sb_put(b, "0", 1);
        return;
    }
    char tmp[32];
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    tt_sb_put(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not valid. The rules are
 * those of RFC 3629 section 4, which jansson's reader also enforces. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int tt_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq(u + i, n - i);
        if (len == 0)
            return 0;
        i += len;
    }
    return 1;
}

int tt_sb_json_string(tt_sb *b, const char *s, int sanitize)
{
    size_t n = strlen(s);
    if (!sanitize && !tt_utf8_valid(s, n))
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    tt_sb_put(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tt_sb_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            /* Control characters, newlines above all, never reach the line raw. */
            char esc[8];
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named)
                tt_sb_puts(b, named);
            else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                tt_sb_puts(b, esc);
            }
            i++;
        } else {
            size_t len = utf8_seq(u + i, n - i);
            if (len == 0) {
                tt_sb_puts(b, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
                i++;
            } else {
                tt_sb_put(b, s + i, len);
                i += len;
            }
        }
    }
    tt_sb_put(b, "\"", 1);
    return 0;
}

const char *tt_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "an unknown JSON value";
}

int tt_json_canonical(const char *text, json_type want, const char *field, char **out)
{
    *out = NULL;
    const char *expected = want == JSON_OBJECT ? "a JSON object" : "a JSON array";
    if (!text)
        return tt_error_set("field \"%s\": expected %s, got NULL", field, expected);
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return tt_error_set("field \"%s\": invalid JSON at column %d: %s", field, jerr.column,
                            jerr.text);
    if (json_typeof(v) != want) {
        tt_error_set("field \"%s\": expected %s, got %s", field, expected, tt_json_kind(v));
        json_decref(v);
        return -1;
    }
    *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!*out)
        return tt_error_set("field \"%s\": cannot serialise (out of memory)", field);
    return 0;
}
