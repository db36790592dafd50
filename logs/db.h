/* The tuning database: an SQLite file with the workloads, the records of every measured
 * candidate (indexed to find the best per workload and target) and one row per tuning run. Logs
 * are imported into it, databases merged, and `compile` reads the best schedules out of it. */
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

/* Opens the database at path, creating the file and its schema when they do not exist. Several
 * processes may open one database and write at once (WAL, 10 s busy timeout). A path in a missing
 * directory, a file that is not SQLite, or an SQLite file of another application is an error
 * ("... not a tvm-tune database") and the file is left untouched. */
TT_API int tt_db_open(const char *path, tt_db **out);
/* Closes; NULL is a no-op. */
TT_API int tt_db_close(tt_db *db);
TT_API const char *tt_db_path(const tt_db *db);

/* Adds r (checked as tt_record_encode checks it) in its own transaction, with the run that
 * measured it (run_id 0: none). A record already present (same key, target, steps, costs, time,
 * trial, seed) is not added again; *added (may be NULL) says whether this one was. A key that
 * already names a different workload is an error. */
TT_API int tt_db_add_record(tt_db *db, const tt_record *r, int64_t run_id, int *added);

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

/* Merges the database at other_path into db: its workloads, runs and records (records already
 * present are skipped, runs are matched by op file, target, tuner, trials asked and start time,
 * so merging twice adds nothing). *added (may be NULL) counts new records. other is only read. */
TT_API int tt_db_merge(tt_db *db, const char *other_path, size_t *added);

#endif
