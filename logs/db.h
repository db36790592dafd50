/* The tuning database: the workloads, the records of every measured candidate (indexed to find
 * the best per workload and target) and one row per tuning run, in an SQLite file (the embedded
 * default) or a PostgreSQL database shared by a farm (docs/ARCHITECTURE.md, "Logs and the
 * database"). Logs are imported into it, databases merged, and `compile` reads the best schedules
 * out of it. Every function works on both engines unless it says otherwise. */
#ifndef TT_LOGS_DB_H
#define TT_LOGS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "logs/log.h"
#include "logs/record.h"

typedef struct tt_db tt_db;

/* The status of a run, stored as its name ("running"...). A run that stays "running" after its
 * tuner is gone was killed without a chance to say so. */
typedef enum {
    TT_RUN_RUNNING = 0,
    TT_RUN_FINISHED = 1,
    TT_RUN_INTERRUPTED = 2,
    TT_RUN_STATUS_COUNT
} tt_run_status;

/* "running", "finished", "interrupted"; NULL out of range. */
TT_API const char *tt_run_status_name(int status);

/* Opens the database: a libpq URI ("postgresql://USER@HOST:PORT/DBNAME" or "postgres://...")
 * connects to PostgreSQL, anything else is the path of an SQLite file. Creates the file (SQLite)
 * and the schema when they do not exist, and migrates an SQLite file of schema version 1. Several
 * processes may open one database and write at once (SQLite: WAL, 10 s busy timeout). A path in
 * a missing directory, a file that is not SQLite, an SQLite file or a PostgreSQL database of
 * another application is an error ("... not a tvm-tune database"), as is a newer schema version,
 * and nothing is touched. A malformed URI is TT_ERR_INVALID_ARGUMENT; a server that cannot be
 * reached is TT_ERR_IO, its message naming host:port/dbname (never the password). */
TT_API int tt_db_open(const char *path_or_uri, tt_db **out);
/* Closes; NULL is a no-op. */
TT_API int tt_db_close(tt_db *db);
/* The file, or the URI without its password. */
TT_API const char *tt_db_path(const tt_db *db);
/* 1 when path_or_uri starts with postgresql:// or postgres:// (tt_db_open connects to a server). */
TT_API int tt_db_is_uri(const char *path_or_uri);
/* path_or_uri as messages may show it: a URI without its password (user:PASSWORD@ and any
 * password= parameter removed), a path as it is. Caller frees; NULL when out of memory. */
TT_API char *tt_db_display_name(const char *path_or_uri);
/* The password a URI carries (user:PASSWORD@ or password=PASSWORD), percent-decoded when decode
 * is set (as libpq reads it); NULL when it has none or is not a URI. Caller frees. A program
 * whose messages name the URI it was given can move the password to PGPASSWORD and use
 * tt_db_display_name's URI instead (tvm-tune's tuning command does). */
TT_API char *tt_db_uri_password(const char *uri, int decode);
/* 1 when db is a PostgreSQL database. */
TT_API int tt_db_is_postgres(const tt_db *db);

/* Adds r (checked as tt_record_encode checks it) in its own transaction, with the run that
 * measured it (run_id 0: none). A record already present (same key, target, steps, costs, time,
 * trial, seed) is not added again; *added (may be NULL) says whether this one was. A key that
 * already names a different workload is an error. */
TT_API int tt_db_add_record(tt_db *db, const tt_record *r, int64_t run_id, int *added);

/* As tt_db_add_record, for farm workers (PostgreSQL only): in the same transaction as the
 * insert, first runs guard_sql with the text parameters params[0..nparams-1] as $1..$n (e.g.
 * "SELECT 1 FROM farm_jobs WHERE id = $1 AND lease_token = $2 AND lease_until > now() FOR
 * SHARE"). When it returns no row nothing is written and the call fails with TT_ERR_CONFLICT
 * ("... write refused: the guard matched no row (the lease was taken over)"). SQLite:
 * TT_ERR_UNSUPPORTED. */
TT_API int tt_db_add_record_guarded(tt_db *db, const tt_record *r, int64_t run_id,
                                    const char *guard_sql, const char *const *params, int nparams,
                                    int *added);

/* Imports the log at path (strict mode, see tt_log_read): *added new records, *skipped records
 * already present (both may be NULL). Importing a log twice adds nothing. Records are committed
 * in batches, so those before an error stay imported; importing again after a fix adds the rest. */
TT_API int tt_db_import_log(tt_db *db, const char *path, size_t *added, size_t *skipped);
/* As tt_db_import_log with a reading mode (TT_LOG_STRICT, TT_LOG_TOLERANT) and the reader's
 * statistics and warnings in *stats (may be NULL; free with tt_log_stats_free). */
TT_API int tt_db_import_log_mode(tt_db *db, const char *path, int mode, tt_log_stats *stats,
                                 size_t *added, size_t *skipped);

/* Starts a run ("running", start time now) and returns its id (>= 1). */
TT_API int tt_db_run_begin(tt_db *db, const char *op_file, const char *target, const char *tuner,
                           int64_t trials_asked, int64_t *run_id);
/* Records how many trials the run has done so far. */
TT_API int tt_db_run_update(tt_db *db, int64_t run_id, int64_t trials_done);
/* Ends a run: status TT_RUN_FINISHED or TT_RUN_INTERRUPTED, end time now. */
TT_API int tt_db_run_end(tt_db *db, int64_t run_id, tt_run_status status);

typedef struct {
    int64_t id;
    const char *op_file, *target, *tuner;
    int64_t trials_asked, trials_done;
    const char *start_time, *end_time; /* end_time is "" while running */
    int status;                        /* tt_run_status */
} tt_db_run;
/* Reads run run_id into a new tt_db_run (one allocation: caller frees with free()). */
TT_API int tt_db_run_get(tt_db *db, int64_t run_id, tt_db_run **out);

/* The best k records (k = 0: all) by cost for each (workload, target), errors excluded, limited
 * to key and target when they are not NULL; ordered by key, target, then cost (ties: the earlier
 * record). *out is a new array (caller frees with tt_record_array_free). */
TT_API int tt_db_best(tt_db *db, const char *key, const char *target, size_t k, tt_record ***out,
                      size_t *n);

/* Writes a log (replacing path atomically) of the best best_k records per workload and target,
 * errors excluded, or with best_k = 0 of every record, errors included, in insertion order.
 * *written (may be NULL) counts the lines. */
TT_API int tt_db_export(tt_db *db, const char *path, size_t best_k, size_t *written);

typedef struct {
    int64_t workloads;
    int64_t targets; /* distinct targets among the records */
    int64_t records; /* errors included */
    int64_t errors;
    int64_t runs[TT_RUN_STATUS_COUNT]; /* runs by tt_run_status */
} tt_db_counts;
/* Counts what the database holds, read in one snapshot. */
TT_API int tt_db_stats(tt_db *db, tt_db_counts *out);

/* Merges the database at other_path (an SQLite file or a URI, either engine into either) into
 * db: its workloads, runs and records (records already present are skipped, runs are matched by
 * op file, target, tuner, trials asked and start time, so merging twice adds nothing). Records
 * are written in batches, each its own transaction: after an error, merging again adds the rest.
 * *added (may be NULL) counts new records. other is only read, never created or migrated. */
TT_API int tt_db_merge(tt_db *db, const char *other_path, size_t *added);

#endif
