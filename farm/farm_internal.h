/* What the farm's files share: the connection, one helper that runs a statement with text
 * parameters and turns a failure into a categorised error naming the server. */
#ifndef TT_FARM_INTERNAL_H
#define TT_FARM_INTERNAL_H

#include <libpq-fe.h>

#include "farm/farm.h"

struct tt_farm {
    PGconn *conn;
    char server[320]; /* HOST:PORT/DBNAME, never the password */
    int listening;    /* LISTEN farm issued (tt_farm_wait) */
};

/* Runs sql with nparams text parameters (NULL ones are SQL NULL); 0 with *res (caller PQclears;
 * res may be NULL) when the result is PGRES_COMMAND_OK or PGRES_TUPLES_OK, else -1 with
 * TT_ERR_IO and "database SERVER: what: MESSAGE". */
int tt_farm_exec(tt_farm *f, const char *what, const char *sql, int nparams,
                 const char *const *params, PGresult **res);
/* Runs a statement that changes the row whose lease token is a parameter (the token column is
 * unique): TT_FARM_LEASE_LOST ("what: lease lost ...") when no row changed, the token no longer
 * holding its device or job. */
int tt_farm_by_token(tt_farm *f, const char *what, const char *sql, int nparams,
                     const char *const *params);
/* BEGIN, COMMIT and ROLLBACK (the last never fails: an error is already being reported). */
int tt_farm_begin(tt_farm *f);
int tt_farm_commit(tt_farm *f, const char *what);
void tt_farm_rollback(tt_farm *f);
/* A copy of the text of row, column (NULL for SQL NULL when null_ok, else ""). */
char *tt_farm_text(const PGresult *res, int row, int col, int null_ok);
/* Seconds as a string for make_interval(secs => $n). */
void tt_farm_secs(double s, char out[32]);

#endif
