/* What the files of the tuning database share (docs/ARCHITECTURE.md, "Logs and the database"):
 * the connection, the two engines behind it (db_sqlite.c, db_pg.c) as one small vtable, and the
 * engine-neutral statements db.c (records, runs, import) and db_query.c (best, export, stats,
 * merge) are written with. SQL is written once with ?N parameters; the PostgreSQL engine turns
 * them into $N. */
#ifndef TT_LOGS_DB_INTERNAL_H
#define TT_LOGS_DB_INTERNAL_H

#include "logs/db.h"

/* PRAGMA application_id marks an SQLite file as ours ("ttDB"); user_version (SQLite) and
 * tt_meta.schema_version (PostgreSQL) are the schema version. Version 2 added records.device. */
#define TT_DB_APPLICATION_ID 0x74744442
#define TT_DB_APPLICATION_NAME "tvm-tune"
#define TT_DB_SCHEMA_VERSION 2

/* A bound value: text (s NULL: SQL NULL), a 64-bit integer or a double (null: SQL NULL). */
typedef struct {
    char type; /* 't', 'i', 'f' */
    char null;
    const char *s;
    int64_t i;
    double f;
} tt_db_arg;
#define TT_DB_TEXT(v) ((tt_db_arg){.type = 't', .null = (v) == NULL, .s = (v)})
#define TT_DB_INT(v) ((tt_db_arg){.type = 'i', .i = (v)})
#define TT_DB_REAL(v) ((tt_db_arg){.type = 'f', .f = (v)})
#define TT_DB_NULL_INT ((tt_db_arg){.type = 'i', .null = 1})

/* The rows of one query, read forward once. */
typedef struct tt_db_rows tt_db_rows;

typedef struct tt_db_engine {
    const char *name;        /* "SQLite", "PostgreSQL" */
    int (*close)(tt_db *db); /* sets an error only when it fails */
    /* Runs SQL without parameters or results (several statements allowed). */
    int (*exec)(tt_db *db, const char *sql);
    /* Runs one statement; *rows (freed with rows_free) reads its results. */
    int (*query)(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, tt_db_rows **rows);
    /* 1: a row is current, 0: no more rows, -1: error (set). */
    int (*next)(tt_db_rows *rows);
    const char *(*text)(tt_db_rows *rows, int col); /* "" for NULL */
    int64_t (*integer)(tt_db_rows *rows, int col);
    double (*real)(tt_db_rows *rows, int col);
    int (*is_null)(tt_db_rows *rows, int col);
    void (*rows_free)(tt_db_rows *rows);
    /* Rows the last write statement changed. */
    int64_t (*changes)(tt_db *db);
    /* A write transaction (SQLite: BEGIN IMMEDIATE, the write lock up front, so a writer never
     * fails half-way on a lock another tuner holds) and a read snapshot. */
    const char *begin_write, *begin_read;
    /* The message of the engine's last failure. */
    const char *(*errmsg)(tt_db *db);
    /* The guard of tt_db_add_record_guarded inside the open transaction: *matched says whether
     * it returned a row. NULL: the engine has none. */
    int (*guard)(tt_db *db, const char *sql, const char *const *params, int nparams, int *matched);
} tt_db_engine;

struct tt_db {
    const tt_db_engine *engine;
    char *path;      /* the file, or the URI without its password: what messages name */
    int version;     /* the schema version read (1: an SQLite file opened read-only, unmigrated) */
    int in_tx;       /* a transaction is open */
    void *h;         /* sqlite3 * or PGconn * */
    void *cache;     /* the engine's statement cache */
    char *identity;  /* what makes two handles one database (merge into itself) */
    char *last_err;  /* PostgreSQL: its last message */
    int64_t changed; /* PostgreSQL: rows the last write changed */
};

extern const tt_db_engine tt_db_sqlite_engine, tt_db_pg_engine;

/* The engines' opens: read_only never creates, migrates or writes (the other side of a merge). */
int tt_db_sqlite_open(const char *path, int read_only, tt_db **out);
int tt_db_pg_open(const char *uri, int read_only, tt_db **out);

/* A new tt_db for engine with path (copied); NULL with the error set when out of memory. */
tt_db *tt_db_alloc(const tt_db_engine *engine, const char *path);

/* Sets "database 'path': what: <engine message>" and returns -1. */
int tt_db_fail(tt_db *db, const char *what);
/* Runs SQL without results. */
int tt_db_exec(tt_db *db, const char *sql);
/* Runs a statement without results; *changes (may be NULL) gets the rows it changed. */
int tt_db_write(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, int64_t *changes);
/* Runs a query; the rows are read with tt_db_next and the column readers, freed with
 * tt_db_rows_free. */
int tt_db_query(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, tt_db_rows **rows);
int tt_db_next(tt_db *db, tt_db_rows *rows);
const char *tt_db_col_text(tt_db *db, tt_db_rows *rows, int col);
int64_t tt_db_col_int(tt_db *db, tt_db_rows *rows, int col);
double tt_db_col_real(tt_db *db, tt_db_rows *rows, int col);
int tt_db_col_null(tt_db *db, tt_db_rows *rows, int col);
void tt_db_rows_free(tt_db *db, tt_db_rows *rows);
/* One integer from a query that returns one row. */
int tt_db_query_int(tt_db *db, const char *sql, const tt_db_arg *args, int nargs, int64_t *out);

/* A write transaction, a read snapshot, commit, and a rollback that keeps the current error. */
int tt_db_begin(tt_db *db);
int tt_db_begin_read(tt_db *db);
int tt_db_commit(tt_db *db);
void tt_db_rollback(tt_db *db);
/* "UTC now" with milliseconds, for run start and end times. */
void tt_db_time_now(char out[32]);

/* The op of a workload: its "op" field, else the key up to its last '-'. Caller frees. */
char *tt_db_workload_op(const char *key, const char *workload);
/* Adds a workload unless its key is there (a key that names another workload is an error). */
int tt_db_put_workload(tt_db *db, const char *key, const char *workload);
/* Inserts a canonical record (as tt_record_decode returns it) with its workload inside the
 * caller's transaction; *added says whether it was new. */
int tt_db_put_record(tt_db *db, const tt_record *r, int64_t run_id, int *added);

/* The schema of both engines from one text: the engines differ in the type of an id, a real and
 * a text that orders bytewise (PostgreSQL's database collation might not). */
#define TT_DB_STR_(x) #x
#define TT_DB_STR(x) TT_DB_STR_(x)
#define TT_DB_SCHEMA(ID, REAL, KEYTEXT, INT)                                                       \
    "CREATE TABLE workloads("                                                                      \
    "  key " KEYTEXT " PRIMARY KEY NOT NULL,"                                                      \
    "  op TEXT NOT NULL,"                                                                          \
    "  workload TEXT NOT NULL);" /* canonical task JSON */                                         \
    "CREATE TABLE runs("                                                                           \
    "  id " ID ","                                                                                 \
    "  op_file TEXT NOT NULL, target TEXT NOT NULL, tuner TEXT NOT NULL,"                          \
    "  trials_asked " INT " NOT NULL, trials_done " INT " NOT NULL DEFAULT 0,"                     \
    "  start_time TEXT NOT NULL, end_time TEXT,"                                                   \
    "  status TEXT NOT NULL DEFAULT 'running'"                                                     \
    "    CHECK (status IN ('running', 'finished', 'interrupted')));"                               \
    "CREATE TABLE records("                                                                        \
    "  id " ID ","                                                                                 \
    "  key " KEYTEXT " NOT NULL REFERENCES workloads(key),"                                        \
    "  target " KEYTEXT " NOT NULL,"                                                               \
    "  steps TEXT NOT NULL," /* compact JSON array */                                              \
    "  cost " REAL ","       /* median of costs; NULL for errors */                                \
    "  costs TEXT NOT NULL," /* compact JSON array */                                              \
    "  error INTEGER NOT NULL CHECK (error BETWEEN 0 AND " TT_DB_STR(                              \
        TT_OUTCOME_MAX) "),"                                                                       \
                        "  error_msg TEXT NOT NULL,"                                               \
                        "  build_s " REAL " NOT NULL, gflops " REAL " NOT NULL,"                   \
                        "  time TEXT NOT NULL, tuner TEXT NOT NULL,"                               \
                        "  trial " INT " NOT NULL, seed " INT " NOT NULL,"                         \
                        "  run_id " INT " REFERENCES runs(id),"                                    \
                        "  hash TEXT NOT NULL UNIQUE," /* tt_record_hash: what makes imports       \
                                                          idempotent */                            \
                        "  device TEXT NOT NULL DEFAULT '');" /* schema version 2 */               \
                        "CREATE INDEX records_best ON records(key, target, cost);"

#endif
