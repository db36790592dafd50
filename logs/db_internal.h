/* What logs/db.c (open, schema, writes, runs) and logs/db_query.c (best, export, stats, merge)
 * share: the connection with its prepared statements and the transaction helpers. */
#ifndef TT_LOGS_DB_INTERNAL_H
#define TT_LOGS_DB_INTERNAL_H

#include <sqlite3.h>

#include "logs/db.h"

/* PRAGMA application_id marks a file as ours ("ttDB"); user_version is the schema version. */
#define TT_DB_APPLICATION_ID 0x74744442
#define TT_DB_SCHEMA_VERSION 1

struct tt_db {
    sqlite3 *h;
    char *path;
    sqlite3_stmt *get_workload; /* key -> workload */
    sqlite3_stmt *put_workload; /* key, op, workload */
    sqlite3_stmt *put_record;   /* the record columns, see db.c */
};

/* Sets "database 'path': what: <sqlite message>" and returns -1. */
int tt_db_fail(tt_db *db, const char *what);
/* Runs SQL without results; fails through tt_db_fail. */
int tt_db_exec(tt_db *db, const char *sql);
/* BEGIN IMMEDIATE: takes the write lock up front, waiting up to the busy timeout, so that a
 * writer never fails half-way on a lock another tuner holds. */
int tt_db_begin(tt_db *db);
int tt_db_commit(tt_db *db);
/* Rolls back when a transaction is open; keeps the current error message. */
void tt_db_rollback(tt_db *db);
/* "UTC now" with milliseconds, for run start and end times. */
void tt_db_time_now(char out[32]);

#endif
