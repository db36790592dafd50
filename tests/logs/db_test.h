/* The engine tests/logs/test_db.c runs against: compiled once for SQLite (logs.test_db) and once
 * with TT_TEST_DB_PG for PostgreSQL (logs.test_db_pg, on the fixture's server). db_at names a
 * database of a test: a file in the test's scratch directory, or a fresh PostgreSQL database
 * created for it; raw_int and raw_exec reach a database with the engine's own client. */
#ifndef TT_TESTS_LOGS_DB_TEST_H
#define TT_TESTS_LOGS_DB_TEST_H

#include <ctype.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "logs/db.h"
#include "logs_test.h"
#include "tt_test_pg.h"

#ifdef TT_TEST_DB_PG
#define DB_PG 1
#else
#define DB_PG 0
#endif

/* The fixture's URI with its database replaced by dbname, in a rotating static buffer. */
static inline const char *pg_uri_of(const char *dbname)
{
    static char bufs[8][600];
    static int next;
    const char *base = tt_test_pg_uri();
    if (!base)
        fail_msg("TT_PG_STATE is not set: run this test through ctest (the pg fixture)");
    const char *slash = strrchr(base, '/');
    char *p = bufs[next++ % 8];
    snprintf(p, 600, "%.*s/%s", (int)(slash - base), base, dbname);
    return p;
}

static inline void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs sql on the fixture's own database; 0 on success. */
static inline int pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(tt_test_pg_uri());
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

/* A new empty PostgreSQL database named after the test's scratch directory and name; its URI. */
static inline const char *pg_fresh(const char *dir, const char *name)
{
    char dbname[128];
    const char *tail = strrchr(dir, '-');
    int n = snprintf(dbname, sizeof dbname, "t_%s_%s", tail ? tail + 1 : dir, name);
    for (int i = 0; i < n && i < (int)sizeof dbname; i++)
        dbname[i] = isalnum((unsigned char)dbname[i]) ? (char)tolower(dbname[i]) : '_';
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    if (pg_admin(sql))
        fail_msg("cannot drop database %s", dbname);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    if (pg_admin(sql))
        fail_msg("cannot create database %s", dbname);
    return pg_uri_of(dbname);
}

/* The database `name` of a test: a file in dir, or a fresh PostgreSQL database (first call; the
 * same URI after that, as long as a test uses at most 8 names). */
static inline const char *db_at(const char *dir, const char *name)
{
    if (!DB_PG)
        return path_in(dir, name);
    static char dirs[8][600], names[8][64], uris[8][600];
    static int next;
    for (int i = 0; i < 8; i++)
        if (strcmp(dirs[i], dir) == 0 && strcmp(names[i], name) == 0)
            return uris[i];
    int i = next++ % 8;
    snprintf(dirs[i], sizeof dirs[i], "%s", dir);
    snprintf(names[i], sizeof names[i], "%s", name);
    snprintf(uris[i], sizeof uris[i], "%s", pg_fresh(dir, name));
    return uris[i];
}

/* The first column of the first row of sql on the database at target (either engine); -1 when
 * the statement fails or returns no row. */
static inline long long raw_int(const char *target, const char *sql)
{
    long long v = -1;
    if (tt_db_is_uri(target)) {
        PGconn *c = PQconnectdb(target);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return v;
    }
    sqlite3 *h;
    sqlite3_stmt *st;
    if (sqlite3_open(target, &h) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return v;
}

/* Runs sql (no results) on the database at target; 0 on success. */
static inline int raw_exec(const char *target, const char *sql)
{
    int rc = -1;
    if (tt_db_is_uri(target)) {
        PGconn *c = PQconnectdb(target);
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(r);
        PQfinish(c);
        return rc;
    }
    sqlite3 *h;
    if (sqlite3_open(target, &h) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        rc = sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    }
    sqlite3_close(h);
    return rc;
}

#endif
