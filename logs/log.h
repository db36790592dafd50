/* The tuning log: an append-only journal of records, one JSON line each (logs/record.h). The tuner
 * appends one line per measured candidate and makes it durable before the next one starts, so an
 * interrupted run loses at most the line being written; readers stream it back line by line. */
#ifndef TT_LOGS_LOG_H
#define TT_LOGS_LOG_H

#include <stddef.h>

#include "logs/record.h"

typedef struct tt_log tt_log;

/* Opens (creating with mode 0644) the log at path for appending. Several processes may append
 * to one log at once: each line goes out in a single write(2) on an O_APPEND descriptor. */
TT_API int tt_log_open_append(const char *path, tt_log **out);
/* Appends r (encoded with tt_record_encode) with one write and syncs it to disk before
 * returning. If the file does not end in '\n' (a line cut short by a crash) a '\n' goes first,
 * so the new record starts on its own line. */
TT_API int tt_log_append(tt_log *log, const tt_record *r);
/* Closes the log; NULL is a no-op. */
TT_API int tt_log_close(tt_log *log);
TT_API const char *tt_log_path(const tt_log *log);

/* Reading modes. Strict: a malformed line is an error, except the last line (a crash while
 * writing) and a line cut short inside its JSON value (a crash, then more appends), which are
 * skipped with a warning; a last line that lacks only its '\n' still decodes and counts.
 * Tolerant: every malformed line is skipped with a warning. */
enum { TT_LOG_STRICT = 0, TT_LOG_TOLERANT = 1 };

typedef struct {
    size_t lines;   /* lines read, empty ones included */
    size_t records; /* records decoded */
    size_t skipped; /* malformed lines skipped with a warning */
    size_t warnings_count;
    char *warnings; /* "path:LINE: what" lines, each ending in '\n' (the first 20 and a count
                     * of the rest); NULL when none. Freed by tt_log_stats_free. */
} tt_log_stats;

/* Called for each record in file order with its 1-based line number. The record is only
 * borrowed for the call (tt_record_copy keeps it). Return 0 to go on, or -1 with an error set to
 * stop reading; tt_log_read then fails with "path:LINE: " before that error. */
typedef int (*tt_log_visit)(const tt_record *r, size_t line, void *ctx);

/* Streams the log at path (mode TT_LOG_STRICT or TT_LOG_TOLERANT) through visit. Errors name
 * "path:LINE: what". stats (may be NULL) is filled even on failure; free it with
 * tt_log_stats_free. Empty lines are ignored. */
TT_API int tt_log_read(const char *path, int mode, tt_log_visit visit, void *ctx,
                       tt_log_stats *stats);
/* Reads every record of the log into a new array (caller frees with tt_record_array_free). */
TT_API int tt_log_read_all(const char *path, int mode, tt_record ***records, size_t *n,
                           tt_log_stats *stats);
TT_API void tt_log_stats_free(tt_log_stats *stats);

#endif
