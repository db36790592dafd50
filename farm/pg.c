/* The farm's connection to PostgreSQL: URI checks, connecting without ever printing a password,
 * the schema created on first use under an advisory lock, and the statement helpers the pool and
 * the queue use (docs/ARCHITECTURE.md, "Farms"). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "farm/farm_internal.h"

/* The farm tables' schema version (farm_schema). A later version adds a migration step below and
 * bumps this. */
#define FARM_SCHEMA_VERSION 1
/* pg_advisory_xact_lock key of schema creation: "ttfarm" in ASCII. */
#define FARM_SCHEMA_LOCK "116116102097114109"

static const char schema_v1[] =
    "CREATE TABLE farm_devices ("
    " id bigserial PRIMARY KEY,"
    " kind text NOT NULL,"
    " addr text NOT NULL UNIQUE,"
    " key_name text NOT NULL,"
    " state text NOT NULL DEFAULT 'free' CHECK (state IN ('free', 'leased', 'quarantined')),"
    " holder text,"
    " lease_until timestamptz,"
    " lease_token text UNIQUE,"
    " last_seen timestamptz,"
    " failures_in_row integer NOT NULL DEFAULT 0,"
    " last_error text,"
    " quarantine_reason text,"
    " added_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX farm_devices_kind ON farm_devices (kind, state);"
    "CREATE TABLE farm_jobs ("
    " id bigserial PRIMARY KEY,"
    " task_key text NOT NULL,"
    " task_name text NOT NULL,"
    " op text NOT NULL,"
    " measure text NOT NULL,"
    " target text,"
    " kind text NOT NULL,"
    " trials bigint NOT NULL CHECK (trials > 0),"
    " state text NOT NULL DEFAULT 'queued'"
    "   CHECK (state IN ('queued', 'running', 'done', 'failed')),"
    " worker text,"
    " devices text,"
    " lease_until timestamptz,"
    " lease_token text UNIQUE,"
    " attempts integer NOT NULL DEFAULT 0,"
    " trials_done bigint NOT NULL DEFAULT 0,"
    " best_gflops double precision NOT NULL DEFAULT 0,"
    " error text,"
    " created timestamptz NOT NULL DEFAULT now(),"
    " updated timestamptz NOT NULL DEFAULT now(),"
    " UNIQUE NULLS NOT DISTINCT (task_key, kind, target, trials));"
    "CREATE INDEX farm_jobs_state ON farm_jobs (state, id);";

int tt_farm_uri_check(const char *uri)
{
    if (!uri || !uri[0])
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--db: a PostgreSQL URI is required");
    if (strncmp(uri, "postgresql://", 13) != 0 && strncmp(uri, "postgres://", 11) != 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "--db: expected a postgresql:// or postgres:// URI (a farm's "
                             "database is a PostgreSQL server)");
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &err);
    if (!opts) {
        /* libpq's message names the part it could not read, not the URI's text. */
        tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--db: not a valid PostgreSQL URI: %s",
                      err ? strtok(err, "\n") : "out of memory");
        PQfreemem(err);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg; /* "relation already exists, skipping" and the like are not the user's business */
    (void)message;
}

/* HOST:PORT/DBNAME from what libpq resolved (defaults included), for every later message. */
static void describe(tt_farm *f)
{
    const char *host = PQhost(f->conn), *port = PQport(f->conn), *db = PQdb(f->conn);
    snprintf(f->server, sizeof f->server, "%s:%s/%s", host && host[0] ? host : "localhost",
             port && port[0] ? port : "5432", db ? db : "");
}

int tt_farm_exec(tt_farm *f, const char *what, const char *sql, int nparams,
                 const char *const *params, PGresult **res)
{
    if (res)
        *res = NULL;
    PGresult *r = nparams ? PQexecParams(f->conn, sql, nparams, NULL, params, NULL, NULL, 0)
                          : PQexec(f->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(f->conn);
        char line[512];
        snprintf(line, sizeof line, "%s", msg && msg[0] ? msg : "no answer");
        line[strcspn(line, "\n")] = '\0';
        PQclear(r);
        return tt_error_setc(TT_ERR_IO, "database %s: %s: %s", f->server, what, line);
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return 0;
}

int tt_farm_by_token(tt_farm *f, const char *what, const char *sql, int nparams,
                     const char *const *params)
{
    PGresult *r = NULL;
    if (tt_farm_exec(f, what, sql, nparams, params, &r))
        return -1;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n == 0) {
        tt_error_setc(TT_ERR_NOT_FOUND, "%s: lease lost (the token no longer holds it)", what);
        return TT_FARM_LEASE_LOST;
    }
    return 0;
}

int tt_farm_begin(tt_farm *f)
{
    return tt_farm_exec(f, "BEGIN", "BEGIN", 0, NULL, NULL);
}

int tt_farm_commit(tt_farm *f, const char *what)
{
    return tt_farm_exec(f, what, "COMMIT", 0, NULL, NULL);
}

void tt_farm_rollback(tt_farm *f)
{
    if (PQtransactionStatus(f->conn) != PQTRANS_IDLE)
        PQclear(PQexec(f->conn, "ROLLBACK"));
}

char *tt_farm_text(const PGresult *res, int row, int col, int null_ok)
{
    if (PQgetisnull(res, row, col))
        return null_ok ? NULL : strdup("");
    return strdup(PQgetvalue(res, row, col));
}

void tt_farm_secs(double s, char out[32])
{
    snprintf(out, 32, "%.3f", s > 0 ? s : 0);
}

/* Creates or migrates the farm's tables in one transaction, serialised between processes by an
 * advisory lock so that workers starting together neither race nor see half a schema. The lock is
 * the session's, taken before the transaction begins: a backend sees the catalog changes of others
 * (the tables a first process made) from the start of a transaction, so one that began before the
 * lock was granted would still find no table and fail creating them; the transaction-level lock
 * is taken inside as well, so that the creation never runs outside the lock. */
static int ensure_schema(tt_farm *f)
{
    PGresult *r = NULL;
    if (tt_farm_exec(f, "schema lock", "SELECT pg_advisory_lock(" FARM_SCHEMA_LOCK ")", 0, NULL,
                     NULL))
        return -1;
    if (tt_farm_begin(f) ||
        tt_farm_exec(f, "schema lock", "SELECT pg_advisory_xact_lock(" FARM_SCHEMA_LOCK ")", 0,
                     NULL, NULL) ||
        tt_farm_exec(f, "schema version",
                     "CREATE TABLE IF NOT EXISTS farm_schema (version integer NOT NULL)", 0, NULL,
                     NULL) ||
        tt_farm_exec(f, "schema version", "SELECT max(version) FROM farm_schema", 0, NULL, &r))
        goto fail;
    int version = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > FARM_SCHEMA_VERSION) {
        tt_error_setc(TT_ERR_UNSUPPORTED,
                      "database %s: farm schema version %d is newer than this tvm-tune's (%d)",
                      f->server, version, FARM_SCHEMA_VERSION);
        goto fail;
    }
    if (version < 1 &&
        (tt_farm_exec(f, "create the farm tables", schema_v1, 0, NULL, NULL) ||
         tt_farm_exec(f, "schema version", "INSERT INTO farm_schema (version) VALUES (1)", 0, NULL,
                      NULL)))
        goto fail;
    if (tt_farm_commit(f, "create the farm tables"))
        goto fail;
    return tt_farm_exec(f, "schema lock", "SELECT pg_advisory_unlock(" FARM_SCHEMA_LOCK ")", 0,
                        NULL, NULL);
fail:
    tt_farm_rollback(f);
    PQclear(PQexec(f->conn, "SELECT pg_advisory_unlock(" FARM_SCHEMA_LOCK ")"));
    return -1;
}

int tt_farm_open(const char *uri, tt_farm **out)
{
    *out = NULL;
    if (tt_farm_uri_check(uri))
        return -1;
    tt_farm *f = calloc(1, sizeof *f);
    if (!f)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    f->conn = PQconnectdb(uri);
    if (!f->conn) {
        free(f);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory connecting to the database");
    }
    describe(f);
    if (PQstatus(f->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(f->conn));
        /* libpq's message is several lines (one per address tried); the first says why. */
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = p[1] ? ' ' : '\0';
        tt_error_setc(TT_ERR_IO, "database %s: cannot connect: %s", f->server, msg);
        tt_farm_close(f);
        return -1;
    }
    PQsetNoticeProcessor(f->conn, quiet_notices, NULL);
    if (tt_farm_exec(f, "session settings", "SET TIME ZONE 'UTC'", 0, NULL, NULL) ||
        ensure_schema(f)) {
        tt_farm_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void tt_farm_close(tt_farm *f)
{
    if (!f)
        return;
    PQfinish(f->conn);
    free(f);
}

const char *tt_farm_server(const tt_farm *f)
{
    return f->server;
}

int tt_farm_token_new(char out[TT_FARM_TOKEN_LEN + 1])
{
    unsigned char bytes[TT_FARM_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tt_error_setc(TT_ERR_IO, "no random bytes for a lease token: %s",
                                 strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

/* Takes every notification libpq has read; 1 when there was one. */
static int drain_notifies(tt_farm *f)
{
    int got = 0;
    PGnotify *n;
    PQconsumeInput(f->conn);
    while ((n = PQnotifies(f->conn)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

int tt_farm_wait(tt_farm *f, double seconds)
{
    if (!f->listening) {
        if (tt_farm_exec(f, "listen", "LISTEN farm", 0, NULL, NULL))
            return -1;
        f->listening = 1;
    }
    if (drain_notifies(f))
        return 1;
    struct pollfd p = {.fd = PQsocket(f->conn), .events = POLLIN};
    int ms = seconds > 0 ? (int)(seconds * 1000) : 0;
    if (p.fd < 0 || poll(&p, 1, ms) <= 0)
        return 0; /* time out, or a signal: the caller looks at its stop flag */
    return drain_notifies(f);
}
