/* The tuning database, part one: opening either engine (docs/ARCHITECTURE.md, "Logs and the
 * database"), the engine-neutral statement helpers, adding records one by one, guarded or from a
 * log, and the runs table. Queries, export and merge are in db_query.c; the engines in
 * db_sqlite.c and db_pg.c. Every write is one short transaction, so concurrent tuners queue on
 * the lock (SQLite) or on rows (PostgreSQL) instead of losing writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "logs/db_internal.h"

/* Records per transaction when importing: large enough to be fast, small enough that another
 * tuner waiting for the lock gets it well within the busy timeout. */
#define IMPORT_BATCH 1000

static const char *const status_names[] = {"running", "finished", "interrupted"};
_Static_assert(sizeof status_names / sizeof status_names[0] == TT_RUN_STATUS_COUNT,
               "one name per tt_run_status");

TT_API const char *tt_run_status_name(int status)
{
    if (status < 0 || status >= TT_RUN_STATUS_COUNT)
        return NULL;
    return status_names[status];
}

/* ---- which engine, and what messages may show of a URI ---- */

TT_API int tt_db_is_uri(const char *path_or_uri)
{
    return path_or_uri && (strncmp(path_or_uri, "postgresql://", 13) == 0 ||
                           strncmp(path_or_uri, "postgres://", 11) == 0);
}

/* Drops the password of a URI: ":secret" of "user:secret@host", and any "password=" query
 * parameter. Works on text alone, so a URI libpq refuses is redacted as well. */
TT_API char *tt_db_display_name(const char *path_or_uri)
{
    if (!path_or_uri)
        return NULL;
    char *out = strdup(path_or_uri);
    if (!out || !tt_db_is_uri(out))
        return out;
    char *auth = strstr(out, "://") + 3;
    char *auth_end = auth + strcspn(auth, "/?");
    char *at = NULL;
    for (char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon)
            memmove(colon, at, strlen(at) + 1);
    }
    char *q = strchr(out, '?');
    if (q) {
        char *p = q + 1, *dst = q + 1;
        int kept = 0;
        while (*p) {
            size_t len = strcspn(p, "&");
            if (strncmp(p, "password=", 9) != 0) {
                if (kept++)
                    *dst++ = '&';
                memmove(dst, p, len);
                dst += len;
            }
            p += len;
            if (*p == '&')
                p++;
        }
        *dst = '\0';
        if (!kept)
            *q = '\0';
    }
    return out;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

TT_API char *tt_db_uri_password(const char *uri, int decode)
{
    if (!tt_db_is_uri(uri))
        return NULL;
    const char *auth = strstr(uri, "://") + 3;
    size_t len = strcspn(auth, "/?");
    const char *at = NULL, *from = NULL;
    size_t n = 0;
    for (const char *p = auth; p < auth + len; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    const char *q = strchr(uri, '?');
    if (colon && at > colon + 1) {
        from = colon + 1;
        n = (size_t)(at - from);
    } else {
        for (const char *p = q; p && *p; p = strchr(p + 1, '&'))
            if (strncmp(p + 1, "password=", 9) == 0) {
                from = p + 10;
                n = strcspn(from, "&");
            }
    }
    if (!from || n == 0)
        return NULL;
    char *out = strndup(from, n);
    if (!out || !decode)
        return out;
    char *w = out;
    for (const char *r = out; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hex_digit(r[1])) >= 0 && (lo = hex_digit(r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

TT_API int tt_db_is_postgres(const tt_db *db)
{
    return db && db->engine == &tt_db_pg_engine;
}

tt_db *tt_db_alloc(const tt_db_engine *engine, const char *path)
{
    tt_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = tt_db_display_name(path))) {
        free(db);
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open database: out of memory");
        return NULL;
    }
    db->engine = engine;
    db->version = TT_DB_SCHEMA_VERSION;
    return db;
}

TT_API int tt_db_open(const char *path_or_uri, tt_db **out)
{
    if (tt_db_is_uri(path_or_uri))
        return tt_db_pg_open(path_or_uri, 0, out);
    return tt_db_sqlite_open(path_or_uri, 0, out);
}

TT_API int tt_db_close(tt_db *db)
{
    if (!db)
        return 0;
    if (db->in_tx)
        tt_db_rollback(db);
    int rc = db->engine->close(db); /* sets an error only when it fails */
    free(db->path);
    free(db->identity);
    free(db->last_err);
    free(db);
    return rc;
}

TT_API const char *tt_db_path(const tt_db *db)
{
    return db->path;
}

/* ---- statements on either engine ---- */

int tt_db_fail(tt_db *db, const char *what)
{
    return tt_error_set("database '%s': %s: %s", db->path, what, db->engine->errmsg(db));
}

int tt_db_exec(tt_db *db, const char *sql)
{
    return db->engine->exec(db, sql);
}

int tt_db_query(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, tt_db_rows **rows)
{
    return db->engine->query(db, sql, args, nargs, rows);
}

int tt_db_next(tt_db *db, tt_db_rows *rows)
{
    int rc = db->engine->next(rows);
    if (rc < 0)
        return tt_db_fail(db, "statement failed");
    return rc;
}

const char *tt_db_col_text(tt_db *db, tt_db_rows *rows, int col)
{
    return db->engine->text(rows, col);
}

int64_t tt_db_col_int(tt_db *db, tt_db_rows *rows, int col)
{
    return db->engine->integer(rows, col);
}

double tt_db_col_real(tt_db *db, tt_db_rows *rows, int col)
{
    return db->engine->real(rows, col);
}

int tt_db_col_null(tt_db *db, tt_db_rows *rows, int col)
{
    return db->engine->is_null(rows, col);
}

void tt_db_rows_free(tt_db *db, tt_db_rows *rows)
{
    if (rows)
        db->engine->rows_free(rows);
}

int tt_db_write(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, int64_t *changes)
{
    tt_db_rows *rows;
    if (tt_db_query(db, sql, args, nargs, &rows))
        return -1;
    int rc = tt_db_next(db, rows);
    tt_db_rows_free(db, rows);
    if (rc < 0)
        return -1;
    if (changes)
        *changes = db->engine->changes(db);
    return 0;
}

int tt_db_query_int(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, int64_t *out)
{
    tt_db_rows *rows;
    if (tt_db_query(db, sql, args, nargs, &rows))
        return -1;
    int rc = tt_db_next(db, rows);
    if (rc == 0)
        rc = tt_error_set("database '%s': %s: no row", db->path, sql);
    if (rc > 0) {
        *out = tt_db_col_int(db, rows, 0);
        rc = 0;
    }
    tt_db_rows_free(db, rows);
    return rc;
}

int tt_db_begin(tt_db *db)
{
    if (tt_db_exec(db, db->engine->begin_write))
        return -1;
    db->in_tx = 1;
    return 0;
}

int tt_db_begin_read(tt_db *db)
{
    if (tt_db_exec(db, db->engine->begin_read))
        return -1;
    db->in_tx = 1;
    return 0;
}

int tt_db_commit(tt_db *db)
{
    if (tt_db_exec(db, "COMMIT"))
        return -1;
    db->in_tx = 0;
    return 0;
}

void tt_db_rollback(tt_db *db)
{
    if (!db->in_tx)
        return;
    /* keeps the error that made us roll back */
    tt_error_category cat = tt_get_last_error_category();
    char *msg = strdup(tt_get_last_error());
    db->engine->exec(db, "ROLLBACK");
    db->in_tx = 0;
    if (msg)
        tt_error_setc(cat, "%s", msg);
    free(msg);
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

/* ---- records ---- */

char *tt_db_workload_op(const char *key, const char *workload)
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

static const char *const get_workload_sql = "SELECT workload FROM workloads WHERE key = ?1";

/* Insert-or-nothing then compare, so two writers adding one new workload both succeed. */
int tt_db_put_workload(tt_db *db, const char *key, const char *workload)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        tt_db_rows *rows;
        tt_db_arg arg = TT_DB_TEXT(key);
        if (tt_db_query(db, get_workload_sql, &arg, 1, &rows))
            return -1;
        int rc = tt_db_next(db, rows);
        int same = rc > 0 && strcmp(tt_db_col_text(db, rows, 0), workload) == 0;
        tt_db_rows_free(db, rows);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (!same)
                return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                                     "database '%s': key \"%s\" already names a different workload",
                                     db->path, key);
            return 0;
        }
        if (attempt > 0)
            break;
        char *op = tt_db_workload_op(key, workload);
        if (!op)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
        tt_db_arg args[] = {TT_DB_TEXT(key), TT_DB_TEXT(op), TT_DB_TEXT(workload)};
        int64_t changes;
        rc = tt_db_write(db,
                         "INSERT INTO workloads(key, op, workload) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT(key) DO NOTHING",
                         args, 3, &changes);
        free(op);
        if (rc)
            return -1;
        if (changes > 0)
            return 0;
        /* another writer added it first: compare with theirs */
    }
    return tt_error_set("database '%s': workload \"%s\" vanished while adding it", db->path, key);
}

int tt_db_put_record(tt_db *db, const tt_record *r, int64_t run_id, int *added)
{
    char hash[TT_RECORD_HASH_LEN + 1];
    char *costs;
    if (tt_db_put_workload(db, r->key, r->workload) || tt_record_hash(r, hash))
        return -1;
    if (tt_record_costs_json(r->costs, r->n_costs, &costs))
        return -1;
    tt_db_arg args[] = {
        TT_DB_TEXT(r->key),
        TT_DB_TEXT(r->target),
        TT_DB_TEXT(r->steps),
        r->error == TT_OUTCOME_OK ? TT_DB_REAL(tt_record_cost(r))
                                  : (tt_db_arg){.type = 'f', .null = 1},
        TT_DB_TEXT(costs),
        TT_DB_INT(r->error),
        TT_DB_TEXT(r->error_msg ? r->error_msg : ""),
        TT_DB_REAL(r->build_s),
        TT_DB_REAL(r->gflops),
        TT_DB_TEXT(r->time),
        TT_DB_TEXT(r->tuner),
        TT_DB_INT(r->trial),
        TT_DB_INT(r->seed),
        run_id > 0 ? TT_DB_INT(run_id) : TT_DB_NULL_INT,
        TT_DB_TEXT(hash),
        TT_DB_TEXT(r->device ? r->device : ""),
    };
    int64_t changes = 0;
    int rc = tt_db_write(db,
                         "INSERT INTO records(key, target, steps, cost, costs, error, error_msg,"
                         " build_s, gflops, time, tuner, trial, seed, run_id, hash, device)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                         " ?15, ?16) ON CONFLICT(hash) DO NOTHING",
                         args, (int)(sizeof args / sizeof args[0]), &changes);
    free(costs);
    if (rc)
        return -1;
    *added = changes > 0;
    return 0;
}

/* An encode-decode round trip checks r exactly as a log line is checked and brings workload and
 * steps to the canonical text the database compares and hashes. */
static int canonical(tt_db *db, const tt_record *r, tt_record **out)
{
    char *line;
    if (tt_record_encode(r, &line))
        return tt_error_wrap("database '%s': cannot add record", db->path);
    int rc = tt_record_decode(line, strlen(line), out);
    free(line);
    if (rc)
        return tt_error_wrap("database '%s': cannot add record", db->path);
    return 0;
}

static int add_record(tt_db *db, const tt_record *r, int64_t run_id, const char *guard_sql,
                      const char *const *params, int nparams, int *added)
{
    tt_record *c;
    if (canonical(db, r, &c))
        return -1;
    int was_added = 0, matched = 1;
    if (tt_db_begin(db))
        goto fail;
    if (guard_sql && db->engine->guard(db, guard_sql, params, nparams, &matched))
        goto fail;
    if (!matched) {
        tt_error_setc(TT_ERR_CONFLICT,
                      "database '%s': write refused: the guard matched no row (the lease was "
                      "taken over)",
                      db->path);
        goto fail;
    }
    if (tt_db_put_record(db, c, run_id, &was_added) || tt_db_commit(db))
        goto fail;
    tt_record_free(c);
    if (added)
        *added = was_added;
    return 0;
fail:
    tt_db_rollback(db);
    tt_record_free(c);
    return -1;
}

TT_API int tt_db_add_record(tt_db *db, const tt_record *r, int64_t run_id, int *added)
{
    return add_record(db, r, run_id, NULL, NULL, 0, added);
}

TT_API int tt_db_add_record_guarded(tt_db *db, const tt_record *r, int64_t run_id,
                                    const char *guard_sql, const char *const *params, int nparams,
                                    int *added)
{
    if (added)
        *added = 0;
    if (!db->engine->guard)
        return tt_error_setc(TT_ERR_UNSUPPORTED,
                             "database '%s': guarded writes need PostgreSQL, not %s", db->path,
                             db->engine->name);
    if (!guard_sql || nparams < 0 || (nparams > 0 && !params))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "database '%s': guarded write: a guard query and its %d parameters "
                             "must be given",
                             db->path, nparams);
    return add_record(db, r, run_id, guard_sql, params, nparams, added);
}

typedef struct {
    tt_db *db;
    size_t batch, batch_added, added, skipped;
} import_state;

static int import_one(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    import_state *s = ctx;
    if (s->batch == 0 && tt_db_begin(s->db))
        return -1;
    int added;
    if (tt_db_put_record(s->db, r, 0, &added))
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

/* Runs one write statement in its own transaction; *changes gets the rows it touched. */
static int write_one(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, const char *what,
                     int64_t *changes)
{
    if (tt_db_begin(db) || tt_db_write(db, sql, args, nargs, changes) || tt_db_commit(db)) {
        tt_db_rollback(db);
        return tt_error_wrap("database '%s': %s", db->path, what);
    }
    return 0;
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
    char now[32];
    tt_db_time_now(now);
    tt_db_arg args[] = {TT_DB_TEXT(op_file), TT_DB_TEXT(target), TT_DB_TEXT(tuner),
                        TT_DB_INT(trials_asked), TT_DB_TEXT(now)};
    /* RETURNING reads the new id in the same statement, on either engine. */
    if (tt_db_begin(db) ||
        tt_db_query_int(db,
                        "INSERT INTO runs(op_file, target, tuner, trials_asked, start_time)"
                        " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                        args, 5, run_id) ||
        tt_db_commit(db)) {
        tt_db_rollback(db);
        *run_id = 0;
        return tt_error_wrap("database '%s': cannot start a run", db->path);
    }
    return 0;
}

TT_API int tt_db_run_update(tt_db *db, int64_t run_id, int64_t trials_done)
{
    if (trials_done < 0)
        return tt_error_set("database '%s': run %lld: trials done must be >= 0, got %lld", db->path,
                            (long long)run_id, (long long)trials_done);
    tt_db_arg args[] = {TT_DB_INT(trials_done), TT_DB_INT(run_id)};
    int64_t changes;
    if (write_one(db, "UPDATE runs SET trials_done = ?1 WHERE id = ?2", args, 2,
                  "cannot update a run", &changes))
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
    char now[32];
    tt_db_time_now(now);
    tt_db_arg args[] = {TT_DB_TEXT(status_names[status]), TT_DB_TEXT(now), TT_DB_INT(run_id)};
    int64_t changes;
    if (write_one(db, "UPDATE runs SET status = ?1, end_time = ?2 WHERE id = ?3", args, 3,
                  "cannot end a run", &changes))
        return -1;
    if (changes == 0)
        return tt_error_set("database '%s': run %lld not found", db->path, (long long)run_id);
    return 0;
}

TT_API int tt_db_run_get(tt_db *db, int64_t run_id, tt_db_run **out)
{
    *out = NULL;
    tt_db_rows *rows;
    tt_db_arg id = TT_DB_INT(run_id);
    if (tt_db_query(db,
                    "SELECT op_file, target, tuner, trials_asked, trials_done, start_time,"
                    " end_time, status FROM runs WHERE id = ?1",
                    &id, 1, &rows))
        return -1;
    int rc = tt_db_next(db, rows);
    if (rc <= 0) {
        if (rc == 0)
            tt_error_set("database '%s': run %lld not found", db->path, (long long)run_id);
        tt_db_rows_free(db, rows);
        return -1;
    }
    const char *texts[5];
    const int cols[] = {0, 1, 2, 5, 6};
    size_t size = sizeof(tt_db_run);
    for (int i = 0; i < 5; i++) {
        texts[i] = tt_db_col_text(db, rows, cols[i]);
        size += strlen(texts[i]) + 1;
    }
    tt_db_run *run = malloc(size);
    if (!run) {
        tt_db_rows_free(db, rows);
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
    run->trials_asked = tt_db_col_int(db, rows, 3);
    run->trials_done = tt_db_col_int(db, rows, 4);
    const char *status = tt_db_col_text(db, rows, 7);
    run->status = TT_RUN_RUNNING;
    for (int i = 0; i < TT_RUN_STATUS_COUNT; i++)
        if (strcmp(status, status_names[i]) == 0)
            run->status = i;
    tt_db_rows_free(db, rows);
    *out = run;
    return 0;
}
