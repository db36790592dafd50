/* The tuning database, part one: opening (schema, WAL, the checks that refuse a file that is not
 * ours), adding records one by one or from a log, and the runs table. Queries, export and merge
 * are in db_query.c. Every write is one BEGIN IMMEDIATE transaction, so concurrent tuners queue
 * on the lock instead of losing writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "logs/db_internal.h"

/* A macro's value as a string literal: the schema prints the outcome table's largest code. */
#define TT_DB_STR_(x) #x
#define TT_DB_STR(x) TT_DB_STR_(x)

/* The records table's CHECK on "error" is made from the outcome table (tt/outcome.h), so a new
 * database always accepts exactly its codes. An existing database keeps the CHECK it was created
 * with, which SQLite cannot alter: a new outcome needs TT_DB_SCHEMA_VERSION raised and a
 * migration that rebuilds the records table, before this assert may change. */
_Static_assert(TT_OUTCOME_MAX == 7 && TT_DB_SCHEMA_VERSION == 1,
               "the outcome codes changed: migrate the records table's CHECK (see above)");

#define BUSY_TIMEOUT_MS 10000
/* Records per transaction when importing: large enough to be fast, small enough that another
 * tuner waiting for the lock gets it well within the busy timeout. */
#define IMPORT_BATCH 1000

static const char *const schema_sql =
    "CREATE TABLE workloads("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  op TEXT NOT NULL,"
    "  workload TEXT NOT NULL);" /* canonical task JSON */
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  op_file TEXT NOT NULL, target TEXT NOT NULL, tuner TEXT NOT NULL,"
    "  trials_asked INTEGER NOT NULL, trials_done INTEGER NOT NULL DEFAULT 0,"
    "  start_time TEXT NOT NULL, end_time TEXT,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (status IN ('running', 'finished', 'interrupted')));"
    "CREATE TABLE records("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL REFERENCES workloads(key),"
    "  target TEXT NOT NULL,"
    "  steps TEXT NOT NULL," /* compact JSON array */
    "  cost REAL,"           /* median of costs; NULL for errors */
    "  costs TEXT NOT NULL," /* compact JSON array */
    "  error INTEGER NOT NULL CHECK (error BETWEEN 0 AND " TT_DB_STR(
        TT_OUTCOME_MAX) "),"
                        "  error_msg TEXT NOT NULL,"
                        "  build_s REAL NOT NULL, gflops REAL NOT NULL,"
                        "  time TEXT NOT NULL, tuner TEXT NOT NULL,"
                        "  trial INTEGER NOT NULL, seed INTEGER NOT NULL,"
                        "  run_id INTEGER REFERENCES runs(id),"
                        "  hash TEXT NOT NULL UNIQUE);" /* tt_record_hash: what makes imports
                                                           idempotent */
                        "CREATE INDEX records_best ON records(key, target, cost);";

static const char *const status_names[] = {"running", "finished", "interrupted"};
_Static_assert(sizeof status_names / sizeof status_names[0] == TT_RUN_STATUS_COUNT,
               "one name per tt_run_status");

TT_API const char *tt_run_status_name(int status)
{
    if (status < 0 || status >= TT_RUN_STATUS_COUNT)
        return NULL;
    return status_names[status];
}

int tt_db_fail(tt_db *db, const char *what)
{
    return tt_error_set("database '%s': %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

int tt_db_exec(tt_db *db, const char *sql)
{
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return tt_db_fail(db, sql);
    return 0;
}

int tt_db_begin(tt_db *db)
{
    return tt_db_exec(db, "BEGIN IMMEDIATE");
}

int tt_db_commit(tt_db *db)
{
    return tt_db_exec(db, "COMMIT");
}

void tt_db_rollback(tt_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

void tt_db_time_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* One integer from a query (count(*), a pragma); the statement must return a row. */
static int query_int(tt_db *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return tt_db_fail(db, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        tt_db_fail(db, sql);
        sqlite3_finalize(st);
        return -1;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* A missing directory would otherwise surface as SQLite's vague "unable to open database file". */
static int check_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = strndup(path, n);
    if (!dir)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database '%s': out of memory",
                             path);
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0)
        rc = tt_error_setc(tt_error_category_from_errno(errno), "cannot open database '%s': %s",
                           path, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                           "cannot open database '%s': '%s' is not a directory", path, dir);
    free(dir);
    return rc;
}

/* Refuses files that are not SQLite or not ours before anything could write to them; fills
 * *tables with the number of schema objects (0 for a new database). */
static int check_ours(tt_db *db, int64_t *tables)
{
    if (query_int(db, "SELECT count(*) FROM sqlite_master", tables)) {
        int code = sqlite3_errcode(db->h) & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            return tt_error_setc(TT_ERR_PARSE, "'%s' is not a tvm-tune database (%s)", db->path,
                                 sqlite3_errmsg(db->h));
        return -1;
    }
    if (*tables == 0)
        return 0;
    int64_t app_id, version;
    if (query_int(db, "PRAGMA application_id", &app_id) ||
        query_int(db, "PRAGMA user_version", &version))
        return -1;
    if (app_id != TT_DB_APPLICATION_ID)
        return tt_error_setc(TT_ERR_PARSE,
                             "'%s' is not a tvm-tune database (an SQLite database of another "
                             "application)",
                             db->path);
    if (version > TT_DB_SCHEMA_VERSION)
        return tt_error_setc(TT_ERR_UNSUPPORTED,
                             "database '%s' has schema version %lld, newer than this tvm-tune "
                             "reads (%d)",
                             db->path, (long long)version, TT_DB_SCHEMA_VERSION);
    return 0;
}

static int create_schema(tt_db *db)
{
    if (tt_db_begin(db))
        return -1;
    /* Another process may have created it between our check and the lock. */
    int64_t tables;
    if (query_int(db, "SELECT count(*) FROM sqlite_master", &tables))
        goto fail;
    if (tables == 0) {
        char pragmas[96];
        snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 TT_DB_APPLICATION_ID, TT_DB_SCHEMA_VERSION);
        if (tt_db_exec(db, schema_sql) || tt_db_exec(db, pragmas))
            goto fail;
    }
    if (tt_db_commit(db))
        goto fail;
    return 0;
fail:
    tt_db_rollback(db);
    return -1;
}

static int prepare(tt_db *db, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare a statement");
    return 0;
}

/* Switches the database to WAL. On a database still in rollback mode (one being created) the
 * switch upgrades a read lock to an exclusive one, and SQLite does not call the busy handler for
 * that upgrade (sqlite3BtreeSetVersion begins a read transaction, then a write one; the busy
 * handler runs only from no transaction): a second process opening the new database at the same
 * moment got SQLITE_BUSY at once (4-33 of 600 simultaneous opens). So retry here, within the same
 * busy timeout, as the busy handler would. */
static int set_wal(tt_db *db)
{
    for (int waited_ms = 0;; waited_ms += 5) {
        int rc = sqlite3_exec(db->h, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            return tt_db_fail(db, "PRAGMA journal_mode = WAL");
        sqlite3_sleep(5);
    }
}

TT_API int tt_db_open(const char *path, tt_db **out)
{
    *out = NULL;
    if (!path || !*path)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open database: empty path");
    if (check_parent_dir(path))
        return -1;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open database '%s': is a directory",
                             path);
    tt_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database '%s': out of memory",
                             path);
    }
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        tt_error_set("cannot open database '%s': %s", path,
                     db->h ? sqlite3_errmsg(db->h) : "out of memory");
        tt_db_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    int64_t tables;
    if (check_ours(db, &tables))
        goto fail;
    /* WAL: readers never block the writer and commits need no fsync of the main file;
     * synchronous=NORMAL keeps the database consistent across a crash (SQLite's WAL docs). */
    if (set_wal(db) || tt_db_exec(db, "PRAGMA synchronous = NORMAL"))
        goto fail;
    if (tables == 0 && create_schema(db))
        goto fail;
    if (prepare(db, "SELECT workload FROM workloads WHERE key = ?1", &db->get_workload) ||
        prepare(db, "INSERT INTO workloads(key, op, workload) VALUES (?1, ?2, ?3)",
                &db->put_workload) ||
        prepare(db,
                "INSERT INTO records(key, target, steps, cost, costs, error, error_msg, build_s,"
                " gflops, time, tuner, trial, seed, run_id, hash)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                " ON CONFLICT(hash) DO NOTHING",
                &db->put_record))
        goto fail;
    *out = db;
    return 0;
fail:
    tt_db_close(db);
    return -1;
}

TT_API int tt_db_close(tt_db *db)
{
    if (!db)
        return 0;
    sqlite3_finalize(db->get_workload);
    sqlite3_finalize(db->put_workload);
    sqlite3_finalize(db->put_record);
    int rc = 0;
    if (db->h && sqlite3_close(db->h) != SQLITE_OK)
        rc = tt_error_set("database '%s': close failed: %s", db->path, sqlite3_errmsg(db->h));
    free(db->path);
    free(db);
    return rc;
}

TT_API const char *tt_db_path(const tt_db *db)
{
    return db->path;
}

/* ---- records ---- */

/* The op of a workload: its "op" field, else the key up to its last '-' (name-hash). */
static char *workload_op(const char *key, const char *workload)
{
    json_t *w = json_loads(workload, 0, NULL);
    const char *op = json_string_value(json_object_get(w, "op"));
    char *out;
    if (op) {
        out = strdup(op);
    } else {
        const char *dash = strrchr(key, '-');
        out = strndup(key, dash && dash != key ? (size_t)(dash - key) : strlen(key));
    }
    json_decref(w);
    return out;
}

static int put_workload(tt_db *db, const tt_record *r)
{
    sqlite3_stmt *st = db->get_workload;
    sqlite3_reset(st);
    if (sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC) != SQLITE_OK)
        return tt_db_fail(db, "cannot bind a workload key");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *known = (const char *)sqlite3_column_text(st, 0);
        int same = known && strcmp(known, r->workload) == 0;
        sqlite3_reset(st);
        if (!same)
            return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                                 "database '%s': key \"%s\" already names a different workload",
                                 db->path, r->key);
        return 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return tt_db_fail(db, "cannot look up a workload");
    char *op = workload_op(r->key, r->workload);
    if (!op)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
    st = db->put_workload;
    sqlite3_reset(st);
    int bad = 0;
    bad |= sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 2, op, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 3, r->workload, -1, SQLITE_STATIC) != SQLITE_OK;
    if (bad) {
        free(op);
        return tt_db_fail(db, "cannot bind a workload");
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(op);
    if (rc != SQLITE_DONE)
        return tt_db_fail(db, "cannot add a workload");
    return 0;
}

/* Inserts a canonical record (as tt_record_decode returns it) inside the caller's transaction. */
static int put_record(tt_db *db, const tt_record *r, int64_t run_id, int *added)
{
    char hash[TT_RECORD_HASH_LEN + 1];
    char *costs;
    if (put_workload(db, r) || tt_record_hash(r, hash))
        return -1;
    if (tt_record_costs_json(r->costs, r->n_costs, &costs))
        return -1;
    sqlite3_stmt *st = db->put_record;
    sqlite3_reset(st);
    int bad = 0;
    bad |= sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 3, r->steps, -1, SQLITE_STATIC) != SQLITE_OK;
    if (r->error == TT_OUTCOME_OK)
        bad |= sqlite3_bind_double(st, 4, tt_record_cost(r)) != SQLITE_OK;
    else
        bad |= sqlite3_bind_null(st, 4) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 5, costs, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_int(st, 6, r->error) != SQLITE_OK;
    bad |=
        sqlite3_bind_text(st, 7, r->error_msg ? r->error_msg : "", -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_double(st, 8, r->build_s) != SQLITE_OK;
    bad |= sqlite3_bind_double(st, 9, r->gflops) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 10, r->time, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 11, r->tuner, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_int64(st, 12, r->trial) != SQLITE_OK;
    bad |= sqlite3_bind_int64(st, 13, r->seed) != SQLITE_OK;
    if (run_id > 0)
        bad |= sqlite3_bind_int64(st, 14, run_id) != SQLITE_OK;
    else
        bad |= sqlite3_bind_null(st, 14) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 15, hash, -1, SQLITE_STATIC) != SQLITE_OK;
    if (bad) {
        free(costs);
        return tt_db_fail(db, "cannot bind a record");
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* they point at memory freed below */
    free(costs);
    if (rc != SQLITE_DONE)
        return tt_db_fail(db, "cannot add a record");
    *added = sqlite3_changes(db->h) > 0;
    return 0;
}

TT_API int tt_db_add_record(tt_db *db, const tt_record *r, int64_t run_id, int *added)
{
    /* An encode-decode round trip checks r exactly as a log line is checked and brings workload
     * and steps to the canonical text the database compares and hashes. */
    char *line;
    tt_record *c;
    if (tt_record_encode(r, &line))
        return tt_error_wrap("database '%s': cannot add record", db->path);
    int rc = tt_record_decode(line, strlen(line), &c);
    free(line);
    if (rc)
        return tt_error_wrap("database '%s': cannot add record", db->path);
    int was_added = 0;
    if (tt_db_begin(db) || put_record(db, c, run_id, &was_added) || tt_db_commit(db)) {
        tt_db_rollback(db);
        tt_record_free(c);
        return -1;
    }
    tt_record_free(c);
    if (added)
        *added = was_added;
    return 0;
}

typedef struct {
    tt_db *db;
    size_t batch, batch_added, added, skipped;
} import_state;

static int import_one(const tt_record *r, size_t line, void *ctx)
{
    import_state *s = ctx;
    if (s->batch == 0 && tt_db_begin(s->db))
        return -1;
    int added;
    if (put_record(s->db, r, 0, &added))
        return -1;
    s->batch++;
    s->batch_added += (size_t)added;
    s->skipped += (size_t)!added;
    if (s->batch == IMPORT_BATCH) {
        if (tt_db_commit(s->db))
            return -1;
        s->added += s->batch_added;
        s->batch = s->batch_added = 0;
    }
    return 0;
}

TT_API int tt_db_import_log_mode(tt_db *db, const char *path, int mode, tt_log_stats *stats,
                                 size_t *added, size_t *skipped)
{
    import_state s = {.db = db};
    int rc = tt_log_read(path, mode, import_one, &s, stats);
    if (rc == 0 && s.batch > 0) {
        rc = tt_db_commit(db);
        if (rc == 0)
            s.added += s.batch_added;
    }
    if (rc != 0) {
        tt_db_rollback(db);
        tt_error_wrap("importing '%s' into '%s' (%zu records added before the error)", path,
                      db->path, s.added);
    }
    if (added)
        *added = s.added;
    if (skipped)
        *skipped = s.skipped;
    return rc;
}

TT_API int tt_db_import_log(tt_db *db, const char *path, size_t *added, size_t *skipped)
{
    return tt_db_import_log_mode(db, path, TT_LOG_STRICT, NULL, added, skipped);
}

/* ---- runs ---- */

/* Runs one write statement (with bound values set by the caller) in its own transaction;
 * *changes gets the number of rows it touched. */
static int write_one(tt_db *db, sqlite3_stmt *st, int bad, const char *what, int *changes)
{
    int rc = -1;
    if (bad) {
        tt_db_fail(db, what);
        goto done;
    }
    if (tt_db_begin(db))
        goto done;
    if (sqlite3_step(st) != SQLITE_DONE) {
        tt_db_fail(db, what);
        goto done;
    }
    *changes = sqlite3_changes(db->h);
    if (tt_db_commit(db))
        goto done;
    rc = 0;
done:
    sqlite3_finalize(st);
    if (rc)
        tt_db_rollback(db);
    return rc;
}

TT_API int tt_db_run_begin(tt_db *db, const char *op_file, const char *target, const char *tuner,
                           int64_t trials_asked, int64_t *run_id)
{
    *run_id = 0;
    if (!op_file || !target || !tuner)
        return tt_error_set("database '%s': run: op file, target and tuner must be given",
                            db->path);
    if (trials_asked < 0)
        return tt_error_set("database '%s': run: trials asked must be >= 0, got %lld", db->path,
                            (long long)trials_asked);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT INTO runs(op_file, target, tuner, trials_asked, start_time)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &st, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare run insert");
    char now[32];
    tt_db_time_now(now);
    int bad = 0;
    bad |= sqlite3_bind_text(st, 1, op_file, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 3, tuner, -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_int64(st, 4, trials_asked) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 5, now, -1, SQLITE_TRANSIENT) != SQLITE_OK;
    /* last_insert_rowid is per connection, so reading it after the commit is safe. */
    int changes;
    if (write_one(db, st, bad, "cannot start a run", &changes))
        return -1;
    *run_id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

TT_API int tt_db_run_update(tt_db *db, int64_t run_id, int64_t trials_done)
{
    if (trials_done < 0)
        return tt_error_set("database '%s': run %lld: trials done must be >= 0, got %lld", db->path,
                            (long long)run_id, (long long)trials_done);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "UPDATE runs SET trials_done = ?1 WHERE id = ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare run update");
    int bad = 0;
    bad |= sqlite3_bind_int64(st, 1, trials_done) != SQLITE_OK;
    bad |= sqlite3_bind_int64(st, 2, run_id) != SQLITE_OK;
    int changes;
    if (write_one(db, st, bad, "cannot update a run", &changes))
        return -1;
    if (changes == 0)
        return tt_error_set("database '%s': run %lld not found", db->path, (long long)run_id);
    return 0;
}

TT_API int tt_db_run_end(tt_db *db, int64_t run_id, tt_run_status status)
{
    if (status != TT_RUN_FINISHED && status != TT_RUN_INTERRUPTED)
        return tt_error_set("database '%s': run %lld: a run ends finished or interrupted, not "
                            "status %d",
                            db->path, (long long)run_id, (int)status);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "UPDATE runs SET status = ?1, end_time = ?2 WHERE id = ?3", -1,
                           &st, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare run end");
    char now[32];
    tt_db_time_now(now);
    int bad = 0;
    bad |= sqlite3_bind_text(st, 1, status_names[status], -1, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT) != SQLITE_OK;
    bad |= sqlite3_bind_int64(st, 3, run_id) != SQLITE_OK;
    int changes;
    if (write_one(db, st, bad, "cannot end a run", &changes))
        return -1;
    if (changes == 0)
        return tt_error_set("database '%s': run %lld not found", db->path, (long long)run_id);
    return 0;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

TT_API int tt_db_run_get(tt_db *db, int64_t run_id, tt_db_run **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT op_file, target, tuner, trials_asked, trials_done, start_time,"
                           " end_time, status FROM runs WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return tt_db_fail(db, "cannot prepare run query");
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) {
        tt_db_fail(db, "cannot bind a run id");
        sqlite3_finalize(st);
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            tt_error_set("database '%s': run %lld not found", db->path, (long long)run_id);
        else
            tt_db_fail(db, "cannot read a run");
        sqlite3_finalize(st);
        return -1;
    }
    const char *texts[] = {column_text(st, 0), column_text(st, 1), column_text(st, 2),
                           column_text(st, 5), column_text(st, 6)};
    size_t size = sizeof(tt_db_run);
    for (int i = 0; i < 5; i++)
        size += strlen(texts[i]) + 1;
    tt_db_run *run = malloc(size);
    if (!run) {
        sqlite3_finalize(st);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
    }
    char *cursor = (char *)(run + 1);
    const char **fields[] = {&run->op_file, &run->target, &run->tuner, &run->start_time,
                             &run->end_time};
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(texts[i]) + 1;
        memcpy(cursor, texts[i], n);
        *fields[i] = cursor;
        cursor += n;
    }
    run->id = run_id;
    run->trials_asked = sqlite3_column_int64(st, 3);
    run->trials_done = sqlite3_column_int64(st, 4);
    const char *status = column_text(st, 7);
    run->status = TT_RUN_RUNNING;
    for (int i = 0; i < TT_RUN_STATUS_COUNT; i++)
        if (strcmp(status, status_names[i]) == 0)
            run->status = i;
    sqlite3_finalize(st);
    *out = run;
    return 0;
}
