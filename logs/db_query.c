/* The tuning database, part two: reading records back (best k per workload and target), export
 * to a log, counts, and merging another database in. Writes are in db.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "logs/db_internal.h"

/* The columns every record query selects, in the order row_record reads them. */
#define RECORD_COLUMNS                                                                             \
    "r.key, w.workload, r.target, r.steps, r.costs, r.error, r.error_msg, r.build_s, r.gflops,"    \
    " r.time, r.tuner, r.trial, r.seed"

static const char *text_at(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* The record of the current row, as a new tt_record. */
static int row_record(tt_db *db, sqlite3_stmt *st, tt_record **out)
{
    json_error_t jerr;
    json_t *costs = json_loads(text_at(st, 4), 0, &jerr);
    if (!json_is_array(costs)) {
        json_decref(costs);
        return tt_error_set("database '%s': record of \"%s\": costs column is not a JSON array",
                            db->path, text_at(st, 0));
    }
    size_t n = json_array_size(costs);
    double *values = malloc((n ? n : 1) * sizeof(double));
    if (!values) {
        json_decref(costs);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
    }
    for (size_t i = 0; i < n; i++)
        values[i] = json_number_value(json_array_get(costs, i));
    json_decref(costs);
    tt_record r = {
        .key = text_at(st, 0),
        .workload = text_at(st, 1),
        .target = text_at(st, 2),
        .steps = text_at(st, 3),
        .costs = values,
        .n_costs = n,
        .error = sqlite3_column_int(st, 5),
        .error_msg = text_at(st, 6),
        .build_s = sqlite3_column_double(st, 7),
        .gflops = sqlite3_column_double(st, 8),
        .time = text_at(st, 9),
        .tuner = text_at(st, 10),
        .trial = sqlite3_column_int64(st, 11),
        .seed = sqlite3_column_int64(st, 12),
    };
    int rc = tt_record_copy(&r, out);
    free(values);
    return rc;
}

typedef int (*row_visit)(const tt_record *r, void *ctx);

/* Steps st to the end, handing each row's record to visit; finalizes st. */
static int each_record(tt_db *db, sqlite3_stmt *st, row_visit visit, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tt_record *r;
        if (row_record(db, st, &r)) {
            sqlite3_finalize(st);
            return -1;
        }
        int stop = visit(r, ctx);
        tt_record_free(r);
        if (stop) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    if (rc != SQLITE_DONE) {
        tt_db_fail(db, "cannot read records");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* The best k (0: all) error-free records per (key, target): the window numbers each group's
 * records by cost; the index on (key, target, cost) serves it. */
static int prepare_best(tt_db *db, const char *key, const char *target, size_t k,
                        sqlite3_stmt **out)
{
    const char *sql =
        "SELECT " RECORD_COLUMNS " FROM"
        " (SELECT *, row_number() OVER (PARTITION BY key, target ORDER BY cost, id) AS rank"
        "  FROM records WHERE error = 0 AND (?1 IS NULL OR key = ?1)"
        "  AND (?2 IS NULL OR target = ?2)) AS r"
        " JOIN workloads w ON w.key = r.key"
        " WHERE ?3 = 0 OR r.rank <= ?3"
        " ORDER BY r.key, r.target, r.cost, r.id";
    if (sqlite3_prepare_v2(db->h, sql, -1, out, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare the best-records query");
    int bad = 0;
    if (key)
        bad |= sqlite3_bind_text(*out, 1, key, -1, SQLITE_STATIC) != SQLITE_OK;
    if (target)
        bad |= sqlite3_bind_text(*out, 2, target, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_int64(*out, 3, k > (size_t)INT64_MAX ? 0 : (int64_t)k) != SQLITE_OK;
    if (bad) {
        tt_db_fail(db, "cannot bind the best-records query");
        sqlite3_finalize(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

typedef struct {
    tt_record **records;
    size_t n, cap;
} record_list;

static int keep(const tt_record *r, void *ctx)
{
    record_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tt_record **grown = realloc(l->records, cap * sizeof *grown);
        if (!grown)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory (%zu records)", l->n);
        l->records = grown;
        l->cap = cap;
    }
    if (tt_record_copy(r, &l->records[l->n]))
        return -1;
    l->n++;
    return 0;
}

TT_API int tt_db_best(tt_db *db, const char *key, const char *target, size_t k, tt_record ***out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (prepare_best(db, key, target, k, &st))
        return -1;
    record_list l = {0};
    if (each_record(db, st, keep, &l)) {
        tt_record_array_free(l.records, l.n);
        return -1;
    }
    *out = l.records;
    *n = l.n;
    return 0;
}

/* ---- export ---- */

typedef struct {
    FILE *f;
    size_t written;
} export_state;

static int write_line(const tt_record *r, void *ctx)
{
    export_state *s = ctx;
    char *line;
    if (tt_record_encode(r, &line))
        return -1;
    size_t len = strlen(line);
    size_t done = fwrite(line, 1, len, s->f);
    free(line);
    if (done != len)
        return tt_error_set("write failed: %s", strerror(errno));
    s->written++;
    return 0;
}

TT_API int tt_db_export(tt_db *db, const char *path, size_t best_k, size_t *written)
{
    if (written)
        *written = 0;
    /* Written beside the target and renamed over it: a reader never sees half an export. */
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot export to '%s': out of memory", path);
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return tt_error_set("cannot export to '%s': %s", path, strerror(err));
    }
    fchmod(fd, 0644);
    export_state s = {.f = fdopen(fd, "w")};
    if (!s.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return tt_error_set("cannot export to '%s': %s", path, strerror(errno));
    }
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (best_k > 0) {
        if (prepare_best(db, NULL, NULL, best_k, &st))
            goto done;
    } else if (sqlite3_prepare_v2(db->h,
                                  "SELECT " RECORD_COLUMNS " FROM records r"
                                  " JOIN workloads w ON w.key = r.key ORDER BY r.id",
                                  -1, &st, NULL) != SQLITE_OK) {
        tt_db_fail(db, "cannot prepare the export query");
        goto done;
    }
    /* One read transaction: the export is a snapshot even while tuners keep writing. */
    if (tt_db_exec(db, "BEGIN")) {
        sqlite3_finalize(st);
        goto done;
    }
    rc = each_record(db, st, write_line, &s);
    tt_db_exec(db, "COMMIT");
    if (rc == 0 && (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0))
        rc = tt_error_set("write failed: %s", strerror(errno));
done:
    if (fclose(s.f) != 0 && rc == 0)
        rc = tt_error_set("write failed: %s", strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = tt_error_set("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        tt_error_wrap("cannot export '%s' to '%s'", db->path, path);
    } else if (written) {
        *written = s.written;
    }
    free(tmp);
    return rc;
}

/* ---- stats ---- */

TT_API int tt_db_stats(tt_db *db, tt_db_counts *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (tt_db_exec(db, "BEGIN"))
        return -1;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT (SELECT count(*) FROM workloads),"
                           " (SELECT count(DISTINCT target) FROM records),"
                           " (SELECT count(*) FROM records),"
                           " (SELECT count(*) FROM records WHERE error != 0)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        tt_db_fail(db, "cannot count records");
        goto done;
    }
    out->workloads = sqlite3_column_int64(st, 0);
    out->targets = sqlite3_column_int64(st, 1);
    out->records = sqlite3_column_int64(st, 2);
    out->errors = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db->h, "SELECT status, count(*) FROM runs GROUP BY status", -1, &st,
                           NULL) != SQLITE_OK) {
        st = NULL;
        tt_db_fail(db, "cannot count runs");
        goto done;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *status = text_at(st, 0);
        for (int i = 0; i < TT_RUN_STATUS_COUNT; i++)
            if (strcmp(status, tt_run_status_name(i)) == 0)
                out->runs[i] = sqlite3_column_int64(st, 1);
    }
    if (step != SQLITE_DONE) {
        tt_db_fail(db, "cannot count runs");
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    tt_db_exec(db, rc == 0 ? "COMMIT" : "ROLLBACK");
    return rc;
}

/* ---- merge ---- */

/* The runs of `other` as they map onto runs of main: a run is the same run when its op file,
 * target, tuner, trials asked and start time (milliseconds) agree. */
#define SAME_RUN                                                                                   \
    "m.op_file = o.op_file AND m.target = o.target AND m.tuner = o.tuner"                          \
    " AND m.trials_asked = o.trials_asked AND m.start_time = o.start_time"

static int merge_attached(tt_db *db, size_t *added)
{
    int64_t conflicts;
    if (tt_db_begin(db))
        return -1;
    const char *conflict_sql = "SELECT count(*) FROM other.workloads o JOIN main.workloads m"
                               " ON m.key = o.key WHERE m.workload != o.workload";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, conflict_sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        tt_db_fail(db, "cannot compare workloads");
        sqlite3_finalize(st);
        goto fail;
    }
    conflicts = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (conflicts > 0) {
        tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                      "%lld keys name different workloads in the two databases",
                      (long long)conflicts);
        goto fail;
    }
    if (tt_db_exec(db, "INSERT INTO main.workloads(key, op, workload)"
                       " SELECT key, op, workload FROM other.workloads WHERE true"
                       " ON CONFLICT(key) DO NOTHING") ||
        tt_db_exec(db, "INSERT INTO main.runs(op_file, target, tuner, trials_asked, trials_done,"
                       " start_time, end_time, status)"
                       " SELECT op_file, target, tuner, trials_asked, trials_done, start_time,"
                       " end_time, status FROM other.runs o"
                       " WHERE NOT EXISTS (SELECT 1 FROM main.runs m WHERE " SAME_RUN ")"
                       " ORDER BY o.id") ||
        tt_db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS merge_runs("
                       "old INTEGER PRIMARY KEY, new INTEGER)") ||
        tt_db_exec(db, "DELETE FROM temp.merge_runs") ||
        tt_db_exec(db, "INSERT INTO temp.merge_runs(old, new)"
                       " SELECT o.id, (SELECT min(m.id) FROM main.runs m WHERE " SAME_RUN ")"
                       " FROM other.runs o"))
        goto fail;
    if (tt_db_exec(db, "INSERT INTO main.records(key, target, steps, cost, costs, error,"
                       " error_msg, build_s, gflops, time, tuner, trial, seed, run_id, hash)"
                       " SELECT r.key, r.target, r.steps, r.cost, r.costs, r.error, r.error_msg,"
                       " r.build_s, r.gflops, r.time, r.tuner, r.trial, r.seed, mr.new, r.hash"
                       " FROM other.records r LEFT JOIN temp.merge_runs mr ON mr.old = r.run_id"
                       " WHERE true ON CONFLICT(hash) DO NOTHING"))
        goto fail;
    *added = (size_t)sqlite3_changes(db->h);
    if (tt_db_commit(db))
        goto fail;
    return 0;
fail:
    tt_db_rollback(db);
    return -1;
}

TT_API int tt_db_merge(tt_db *db, const char *other_path, size_t *added_out)
{
    size_t added = 0;
    if (added_out)
        *added_out = 0;
    /* ATTACH creates a missing file, and an empty file reads as an empty database: refuse both
     * here, so that merging never writes to other_path. */
    struct stat st_other, st_main;
    if (stat(other_path, &st_other) != 0)
        return tt_error_setc(tt_error_category_from_errno(errno), "cannot merge '%s': %s",
                             other_path, strerror(errno));
    if (!S_ISREG(st_other.st_mode) || st_other.st_size == 0)
        return tt_error_setc(TT_ERR_PARSE, "cannot merge '%s': not a tvm-tune database (%s)",
                             other_path,
                             S_ISREG(st_other.st_mode) ? "empty file" : "not a regular file");
    if (stat(db->path, &st_main) == 0 && st_main.st_dev == st_other.st_dev &&
        st_main.st_ino == st_other.st_ino)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot merge '%s' into itself", other_path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "ATTACH DATABASE ?1 AS other", -1, &st, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare ATTACH");
    int rc = sqlite3_bind_text(st, 1, other_path, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        int code = sqlite3_extended_errcode(db->h) & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            return tt_error_setc(TT_ERR_PARSE, "cannot merge '%s': not a tvm-tune database (%s)",
                                 other_path, sqlite3_errmsg(db->h));
        return tt_error_set("cannot merge '%s': %s", other_path, sqlite3_errmsg(db->h));
    }
    int64_t tables = 0, app_id = 0;
    rc = -1;
    if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM other.sqlite_master", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        tables = sqlite3_column_int64(st, 0);
    else
        tables = -1;
    sqlite3_finalize(st);
    if (tables < 0) {
        tt_error_setc(TT_ERR_PARSE, "cannot merge '%s': not a tvm-tune database (%s)", other_path,
                      sqlite3_errmsg(db->h));
        goto detach;
    }
    if (sqlite3_prepare_v2(db->h, "PRAGMA other.application_id", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        app_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (app_id != TT_DB_APPLICATION_ID) {
        tt_error_setc(TT_ERR_PARSE,
                      "cannot merge '%s': not a tvm-tune database (an SQLite database of another "
                      "application)",
                      other_path);
        goto detach;
    }
    if (merge_attached(db, &added)) {
        tt_error_wrap("cannot merge '%s' into '%s'", other_path, db->path);
        goto detach;
    }
    rc = 0;
detach:
    sqlite3_exec(db->h, "DETACH DATABASE other", NULL, NULL, NULL);
    if (rc == 0 && added_out)
        *added_out = added;
    return rc;
}
