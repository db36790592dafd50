/* A log record: one measured candidate (workload, target, schedule steps, costs or the error that
 * stopped it) and its JSON-lines form. measure/ and tuner/ fill records; logs/log.c journals them
 * and logs/db.c stores them. The line format is fixed by docs/ARCHITECTURE.md ("Logs and the
 * database"). */
#ifndef TT_LOGS_RECORD_H
#define TT_LOGS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "tt/outcome.h"
#include "tt/runtime.h"

/* The "v" field: bump it (and teach the decoder the old form) when the line format changes. */
#define TT_RECORD_VERSION 1

/* A record's "error" is a tt_outcome (tt/outcome.h). The old name of success stays for
 * cost_model/dataset.c. */
#define TT_RECORD_OK TT_OUTCOME_OK

/* One candidate. Strings other than error_msg must be valid UTF-8 and not NULL. Every pointer is
 * a borrowed view: a producer points them at its own strings (a stack tt_record is fine for
 * encode, append and add_record); a record made by decode or copy owns all of them in one
 * allocation that tt_record_free releases. */
typedef struct tt_record {
    const char *key;       /* op name + hash of the canonical workload, non-empty */
    const char *workload;  /* canonical task, compact JSON object text */
    const char *target;    /* target string, non-empty */
    const char *steps;     /* schedule steps, compact JSON array text */
    const double *costs;   /* seconds per run, one per repeat; finite, >= 0 */
    size_t n_costs;        /* >= 1 unless error != TT_RECORD_OK */
    int error;             /* tt_outcome */
    const char *error_msg; /* what went wrong ("" when nothing did); NULL reads as "" */
    double build_s;        /* build time in seconds, finite, >= 0 */
    double gflops;         /* finite, >= 0; 0 for errors */
    const char *time;      /* UTC, "YYYY-MM-DDTHH:MM:SS[.fff]Z" */
    const char *tuner;     /* strategy name: "random", "xgb"... */
    int64_t trial;         /* index of the candidate in its run, >= 0 */
    int64_t seed;          /* seed of the run */
    /* The device that measured it: "" (or NULL) for this machine, the RPC device's name
     * ("HOST:PORT (cpu, triple)", tt_rpc_device_name) otherwise. Optional in a line: written only
     * when not empty, so the lines of a local run are what they were before devices existed. */
    const char *device;
} tt_record;

/* "none", "invalid schedule", ... "unknown"; NULL for a code out of range. */
TT_API const char *tt_record_error_name(int error);

/* Checks every field against the rules above; -1 with a message naming the field otherwise. */
TT_API int tt_record_check(const tt_record *r);

/* tt_record_check without parsing workload and steps (logs/ internal, not exported). */
int tt_record_check_fields(const tt_record *r);

/* Encodes r (checked first) as one JSON line ending in '\n', no other newline. Invalid UTF-8 in
 * error_msg (compiler or crash output) becomes U+FFFD; in any other string it is an error.
 * Caller frees *line_out with free(). */
TT_API int tt_record_encode(const tt_record *r, char **line_out);

/* Decodes one line (len bytes, no NUL needed; a trailing newline is allowed) into a new record
 * that the caller frees with tt_record_free. Validates every field; the message names it
 * ("field \"costs\": expected ..."). workload and steps come back as compact JSON text. */
TT_API int tt_record_decode(const char *line, size_t len, tt_record **out);

/* As tt_record_decode; on failure *truncated (may be NULL) is 1 when the line ended before its
 * JSON value was complete (what a crash in the middle of a write leaves), 0 otherwise. */
TT_API int tt_record_decode_line(const char *line, size_t len, tt_record **out, int *truncated);

/* Deep copy of r into one allocation (caller frees with tt_record_free). Does not check r. */
TT_API int tt_record_copy(const tt_record *r, tt_record **out);

/* Frees a record made by decode or copy; NULL is a no-op. */
TT_API void tt_record_free(tt_record *r);
/* Frees n records and the array that holds them (as returned by the readers); NULL is a no-op. */
TT_API void tt_record_array_free(tt_record **records, size_t n);

/* The cost that ranks a record: median of costs; +inf for an error or no costs. */
TT_API double tt_record_cost(const tt_record *r);
/* Smallest cost; +inf for an error or no costs. */
TT_API double tt_record_cost_min(const tt_record *r);
/* (max - min) / median of costs: how far apart the repeats were; 0 with fewer than two costs,
 * +inf for an error. */
TT_API double tt_record_cost_spread(const tt_record *r);

/* Identity of a measurement for de-duplication: a hash of (key, target, steps, costs, time,
 * trial, seed), 32 lowercase hex digits and a NUL in out. */
#define TT_RECORD_HASH_LEN 32
TT_API int tt_record_hash(const tt_record *r, char out[TT_RECORD_HASH_LEN + 1]);

/* The current UTC time in the record's format ("2026-11-23T18:00:00Z") into out. */
#define TT_RECORD_TIME_LEN 21
TT_API void tt_record_time_now(char out[TT_RECORD_TIME_LEN]);

/* Costs as a compact JSON array of shortest round-trip numbers ("[0.0121,0.0123]"), the form
 * the line and the database use; caller frees with free(). */
TT_API int tt_record_costs_json(const double *costs, size_t n, char **out);

#endif
