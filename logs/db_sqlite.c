/* The tuning database's embedded engine: an SQLite file (docs/ARCHITECTURE.md, "Logs and the
 * database"). Opening (WAL, the checks that refuse a file that is not ours, the schema, the
 * migration of version 1), and the statements of db_internal.h's vtable over sqlite3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "logs/db_internal.h"

/* The records table's CHECK on "error" is made from the outcome table (tt/outcome.h), so a new
 * database always accepts exactly its codes. An existing database keeps the CHECK it was created
 * with, which SQLite cannot alter: a new outcome needs TT_DB_SCHEMA_VERSION raised and a
 * migration that rebuilds the records table, before this assert may change. (Version 2 only
 * added records.device, with ALTER TABLE: the CHECK of version 1 files is the same.) */
_Static_assert(TT_OUTCOME_MAX == 7 && TT_DB_SCHEMA_VERSION == 2,
               "the outcome codes changed: migrate the records table's CHECK (see above)");

#define BUSY_TIMEOUT_MS 10000

static const char *const schema_sql =
    TT_DB_SCHEMA("INTEGER PRIMARY KEY", "REAL", "TEXT", "INTEGER");

/* Prepared statements kept for the connection's life, by their SQL text: the writes of a tuner
 * are the same few. */
#define CACHE_SIZE 16
typedef struct {
    char *sql;
    sqlite3_stmt *st;
    int busy;
} cached;

struct tt_db_rows {
    sqlite3_stmt *st;
    cached *slot; /* NULL: finalize when done */
};

static sqlite3 *H(tt_db *db)
{
    return db->h;
}

static const char *lite_errmsg(tt_db *db)
{
    return db->h ? sqlite3_errmsg(H(db)) : "out of memory";
}

static int lite_exec(tt_db *db, const char *sql)
{
    if (sqlite3_exec(H(db), sql, NULL, NULL, NULL) != SQLITE_OK)
        return tt_db_fail(db, sql);
    return 0;
}

static int bind_all(sqlite3_stmt *st, const tt_db_arg *args, int nargs)
{
    int bad = 0;
    for (int i = 0; i < nargs; i++) {
        const tt_db_arg *a = &args[i];
        if (a->null)
            bad |= sqlite3_bind_null(st, i + 1) != SQLITE_OK;
        else if (a->type == 't')
            bad |= sqlite3_bind_text(st, i + 1, a->s, -1, SQLITE_STATIC) != SQLITE_OK;
        else if (a->type == 'i')
            bad |= sqlite3_bind_int64(st, i + 1, a->i) != SQLITE_OK;
        else
            bad |= sqlite3_bind_double(st, i + 1, a->f) != SQLITE_OK;
    }
    return bad;
}

static int lite_query(tt_db *db, const char *sql, const tt_db_arg *args, int nargs,
                      tt_db_rows **out)
{
    *out = NULL;
    cached *cache = db->cache, *slot = NULL;
    for (int i = 0; i < CACHE_SIZE && !slot; i++)
        if (cache[i].sql && !cache[i].busy && strcmp(cache[i].sql, sql) == 0)
            slot = &cache[i];
    for (int i = 0; i < CACHE_SIZE && !slot; i++)
        if (!cache[i].sql) {
            if (!(cache[i].sql = strdup(sql)))
                return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory",
                                     db->path);
            if (sqlite3_prepare_v3(H(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &cache[i].st, NULL) !=
                SQLITE_OK) {
                free(cache[i].sql);
                cache[i].sql = NULL;
                return tt_db_fail(db, "cannot prepare a statement");
            }
            slot = &cache[i];
        }
    sqlite3_stmt *st;
    if (slot) {
        st = slot->st;
    } else if (sqlite3_prepare_v2(H(db), sql, -1, &st, NULL) != SQLITE_OK) {
        return tt_db_fail(db, "cannot prepare a statement");
    }
    tt_db_rows *rows = malloc(sizeof *rows);
    if (!rows) {
        if (!slot)
            sqlite3_finalize(st);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
    }
    *rows = (tt_db_rows){.st = st, .slot = slot};
    if (slot)
        slot->busy = 1;
    if (bind_all(st, args, nargs)) {
        tt_db_fail(db, "cannot bind a value");
        db->engine->rows_free(rows);
        return -1;
    }
    *out = rows;
    return 0;
}

static int lite_next(tt_db_rows *rows)
{
    int rc = sqlite3_step(rows->st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : -1; /* the caller reports sqlite3_errmsg */
}

static const char *lite_text(tt_db_rows *rows, int col)
{
    const char *s = (const char *)sqlite3_column_text(rows->st, col);
    return s ? s : "";
}

static int64_t lite_int(tt_db_rows *rows, int col)
{
    return sqlite3_column_int64(rows->st, col);
}

static double lite_real(tt_db_rows *rows, int col)
{
    return sqlite3_column_double(rows->st, col);
}

static int lite_is_null(tt_db_rows *rows, int col)
{
    return sqlite3_column_type(rows->st, col) == SQLITE_NULL;
}

static void lite_rows_free(tt_db_rows *rows)
{
    if (!rows)
        return;
    if (rows->slot) {
        sqlite3_reset(rows->st);
        sqlite3_clear_bindings(rows->st); /* they point at the caller's memory */
        rows->slot->busy = 0;
    } else {
        sqlite3_finalize(rows->st);
    }
    free(rows);
}

static int64_t lite_changes(tt_db *db)
{
    return sqlite3_changes64(H(db));
}

static int lite_close(tt_db *db)
{
    cached *cache = db->cache;
    for (int i = 0; cache && i < CACHE_SIZE; i++) {
        sqlite3_finalize(cache[i].st);
        free(cache[i].sql);
    }
    free(cache);
    if (db->h && sqlite3_close(H(db)) != SQLITE_OK)
        return tt_error_set("database '%s': close failed: %s", db->path, sqlite3_errmsg(H(db)));
    return 0;
}

const tt_db_engine tt_db_sqlite_engine = {
    .name = "SQLite",
    .close = lite_close,
    .exec = lite_exec,
    .query = lite_query,
    .next = lite_next,
    .text = lite_text,
    .integer = lite_int,
    .real = lite_real,
    .is_null = lite_is_null,
    .rows_free = lite_rows_free,
    .changes = lite_changes,
    .begin_write = "BEGIN IMMEDIATE",
    .begin_read = "BEGIN",
    .errmsg = lite_errmsg,
    .guard = NULL,
};

/* ---- open ---- */

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
 * *tables with the number of schema objects (0 for a new database) and db->version. */
static int check_ours(tt_db *db, int64_t *tables)
{
    if (tt_db_query_int(db, "SELECT count(*) FROM sqlite_master", NULL, 0, tables)) {
        int code = sqlite3_errcode(H(db)) & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            return tt_error_setc(TT_ERR_PARSE, "'%s' is not a tvm-tune database (%s)", db->path,
                                 sqlite3_errmsg(H(db)));
        return -1;
    }
    if (*tables == 0)
        return 0;
    int64_t app_id, version;
    if (tt_db_query_int(db, "PRAGMA application_id", NULL, 0, &app_id) ||
        tt_db_query_int(db, "PRAGMA user_version", NULL, 0, &version))
        return -1;
    if (app_id != TT_DB_APPLICATION_ID)
        return tt_error_setc(TT_ERR_PARSE,
                             "'%s' is not a tvm-tune database (an SQLite database of another "
                             "application)",
                             db->path);
    if (version > TT_DB_SCHEMA_VERSION)
        return tt_error_setc(TT_ERR_UNSUPPORTED,
                             "database '%s': schema version %lld is newer than this build's %d",
                             db->path, (long long)version, TT_DB_SCHEMA_VERSION);
    db->version = (int)version;
    return 0;
}

/* Creates the schema (a new file) or migrates a version-1 file, in one write transaction that
 * reads the version again: another process may have done either between our check and the
 * lock. Version 1 -> 2: records.device. */
static int create_or_migrate(tt_db *db)
{
    if (tt_db_begin(db))
        return -1;
    int64_t tables, version;
    if (tt_db_query_int(db, "SELECT count(*) FROM sqlite_master", NULL, 0, &tables) ||
        tt_db_query_int(db, "PRAGMA user_version", NULL, 0, &version))
        goto fail;
    char pragmas[96];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             TT_DB_APPLICATION_ID, TT_DB_SCHEMA_VERSION);
    if (tables == 0) {
        if (tt_db_exec(db, schema_sql) || tt_db_exec(db, pragmas))
            goto fail;
    } else if (version == 1) {
        if (tt_db_exec(db, "ALTER TABLE records ADD COLUMN device TEXT NOT NULL DEFAULT ''") ||
            tt_db_exec(db, pragmas))
            goto fail;
    }
    if (tt_db_commit(db))
        goto fail;
    db->version = TT_DB_SCHEMA_VERSION;
    return 0;
fail:
    tt_db_rollback(db);
    return tt_error_wrap("database '%s': cannot %s the schema", db->path,
                         tables == 0 ? "create" : "migrate");
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
        int rc = sqlite3_exec(H(db), "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            return tt_db_fail(db, "PRAGMA journal_mode = WAL");
        sqlite3_sleep(5);
    }
}

int tt_db_sqlite_open(const char *path, int read_only, tt_db **out)
{
    *out = NULL;
    if (!path || !*path)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open database: empty path");
    if (check_parent_dir(path))
        return -1;
    struct stat st;
    int found = stat(path, &st) == 0;
    if (found && S_ISDIR(st.st_mode))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open database '%s': is a directory",
                             path);
    if (read_only && !found)
        return tt_error_setc(tt_error_category_from_errno(errno), "cannot open database '%s': %s",
                             path, strerror(errno));
    /* An empty file reads as an empty database, which only a writer may turn into ours. */
    if (read_only && (!S_ISREG(st.st_mode) || st.st_size == 0))
        return tt_error_setc(TT_ERR_PARSE, "'%s' is not a tvm-tune database (%s)", path,
                             S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
    tt_db *db = tt_db_alloc(&tt_db_sqlite_engine, path);
    if (!db)
        return -1;
    if (!(db->cache = calloc(CACHE_SIZE, sizeof(cached)))) {
        tt_db_close(db);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database '%s': out of memory",
                             path);
    }
    sqlite3 *h = NULL;
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &h, flags, NULL);
    db->h = h;
    if (rc != SQLITE_OK) {
        tt_error_set("cannot open database '%s': %s", path,
                     h ? sqlite3_errmsg(h) : "out of memory");
        tt_db_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
    /* Identity for "merge into itself": the file's device and inode. */
    char id[64];
    snprintf(id, sizeof id, "sqlite:%llu:%llu", found ? (unsigned long long)st.st_dev : 0ULL,
             found ? (unsigned long long)st.st_ino : 0ULL);
    int64_t tables;
    if (!(db->identity = strdup(id))) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database '%s': out of memory", path);
        goto fail;
    }
    if (check_ours(db, &tables))
        goto fail;
    if (read_only) {
        if (tables == 0) {
            tt_error_setc(TT_ERR_PARSE, "'%s' is not a tvm-tune database (an empty database)",
                          path);
            goto fail;
        }
        *out = db;
        return 0;
    }
    /* WAL: readers never block the writer and commits need no fsync of the main file;
     * synchronous=NORMAL keeps the database consistent across a crash (SQLite's WAL docs). */
    if (set_wal(db) || tt_db_exec(db, "PRAGMA synchronous = NORMAL"))
        goto fail;
    if ((tables == 0 || db->version < TT_DB_SCHEMA_VERSION) && create_or_migrate(db))
        goto fail;
    if (!found && stat(path, &st) == 0) {
        snprintf(id, sizeof id, "sqlite:%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        free(db->identity);
        if (!(db->identity = strdup(id))) {
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database '%s': out of memory", path);
            goto fail;
        }
    }
    *out = db;
    return 0;
fail:
    tt_db_close(db);
    return -1;
}
