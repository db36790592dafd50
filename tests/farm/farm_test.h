/* What the farm tests share: a fresh database on the fixture's server for each test (so tests
 * neither see nor disturb each other's devices and jobs), and a raw libpq connection to it for
 * what the API does not do (holding a row lock, moving a lease's expiry into the past). */
#ifndef TT_FARM_TEST_H
#define TT_FARM_TEST_H

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farm/farm.h"
#include "tt_test_pg.h"

/* The URI of a new, empty database (its name unique to this process and call). */
static inline const char *farm_test_db(void)
{
    static char uri[600];
    static int serial;
    const char *base = tt_test_pg_uri();
    if (!base) {
        fprintf(stderr, "farm test: no PostgreSQL fixture (TT_PG_STATE unset)\n");
        exit(1);
    }
    PGconn *c = PQconnectdb(base);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "farm test: %s", PQerrorMessage(c));
        exit(1);
    }
    char name[64], sql[128];
    snprintf(name, sizeof name, "tt_farm_%d_%d", (int)getpid(), serial++);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "farm test: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    const char *slash = strrchr(base, '/');
    snprintf(uri, sizeof uri, "%.*s/%s", (int)(slash - base), base, name);
    return uri;
}

/* Runs sql on a raw connection; exits the test on failure. */
static inline void farm_test_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "farm test: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

static inline PGconn *farm_test_conn(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "farm test: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

#endif
