/* The device pool (docs/ARCHITECTURE.md, "Farms"): RPC servers by kind, leased with an expiry on
 * the database's clock and a token per lease, renewed by heartbeat, quarantined after failures in
 * a row. Every call is one short transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/farm_internal.h"

/* A key name is a file name inside --key-dir, never a path. */
static int check_key_name(const char *name)
{
    if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "--key %s: expected a file name (the key file in a worker's "
                             "--key-dir), not a path",
                             name);
    return 0;
}

/* HOST:PORT with a port in 1..65535. */
static int check_addr(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == addr || !end || *end || end == colon + 1 || port < 1 || port > 65535)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "device address '%s': expected HOST:PORT with a port from 1 to 65535",
                             addr);
    return 0;
}

int tt_farm_device_add(tt_farm *f, const char *kind, const char *addr, const char *key_name,
                       int *created)
{
    if (created)
        *created = 0;
    if (!kind || !kind[0])
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--kind: a device kind is required");
    if (check_addr(addr) || check_key_name(key_name ? key_name : kind))
        return -1;
    const char *params[] = {kind, addr, key_name ? key_name : kind};
    PGresult *r = NULL;
    /* xmax = 0 tells an inserted row from an updated one. Adding again clears the quarantine: the
     * operator says the device is back. */
    if (tt_farm_exec(f, "add a device",
                     "INSERT INTO farm_devices (kind, addr, key_name, last_seen)"
                     " VALUES ($1, $2, $3, NULL)"
                     " ON CONFLICT (addr) DO UPDATE SET kind = $1, key_name = $3,"
                     "  failures_in_row = 0, quarantine_reason = NULL,"
                     "  state = CASE WHEN farm_devices.state = 'quarantined' THEN 'free'"
                     "               ELSE farm_devices.state END"
                     " RETURNING (xmax = 0), pg_notify('farm', 'device')",
                     3, params, &r))
        return -1;
    if (created)
        *created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int tt_farm_device_remove(tt_farm *f, const char *addr)
{
    const char *params[] = {addr};
    PGresult *r = NULL;
    if (tt_farm_exec(f, "remove a device", "DELETE FROM farm_devices WHERE addr = $1", 1, params,
                     &r))
        return -1;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n == 0)
        return tt_error_setc(TT_ERR_NOT_FOUND, "no device '%s' in the pool", addr);
    return 0;
}

int tt_farm_device_list(tt_farm *f, tt_farm_device **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PGresult *r = NULL;
    if (tt_farm_exec(f, "list the devices",
                     "SELECT id, kind, addr, key_name, state, coalesce(holder, ''),"
                     " coalesce(to_char(lease_until, 'YYYY-MM-DD HH24:MI:SS UTC'), ''),"
                     " coalesce(to_char(last_seen, 'YYYY-MM-DD HH24:MI:SS UTC'), ''),"
                     " to_char(added_at, 'YYYY-MM-DD HH24:MI:SS UTC'),"
                     " state = 'leased' AND lease_until <= now(), failures_in_row,"
                     " coalesce(last_error, ''), coalesce(quarantine_reason, '')"
                     " FROM farm_devices ORDER BY kind, addr",
                     0, NULL, &r))
        return -1;
    int rows = PQntuples(r);
    tt_farm_device *d = calloc(rows ? (size_t)rows : 1, sizeof *d);
    if (!d) {
        PQclear(r);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        d[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        d[i].kind = tt_farm_text(r, i, 1, 0);
        d[i].addr = tt_farm_text(r, i, 2, 0);
        d[i].key_name = tt_farm_text(r, i, 3, 0);
        d[i].state = tt_farm_text(r, i, 4, 0);
        d[i].holder = tt_farm_text(r, i, 5, 0);
        d[i].lease_until = tt_farm_text(r, i, 6, 0);
        d[i].last_seen = tt_farm_text(r, i, 7, 0);
        d[i].added_at = tt_farm_text(r, i, 8, 0);
        d[i].lease_expired = strcmp(PQgetvalue(r, i, 9), "t") == 0;
        d[i].failures_in_row = atoi(PQgetvalue(r, i, 10));
        d[i].last_error = tt_farm_text(r, i, 11, 0);
        d[i].quarantine_reason = tt_farm_text(r, i, 12, 0);
        if (!d[i].kind || !d[i].addr || !d[i].key_name || !d[i].state || !d[i].holder ||
            !d[i].lease_until || !d[i].last_seen || !d[i].added_at || !d[i].last_error ||
            !d[i].quarantine_reason) {
            PQclear(r);
            tt_farm_device_list_free(d, (size_t)i + 1);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    PQclear(r);
    *out = d;
    *n = (size_t)rows;
    return 0;
}

void tt_farm_device_list_free(tt_farm_device *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].kind);
        free(d[i].addr);
        free(d[i].key_name);
        free(d[i].state);
        free(d[i].holder);
        free(d[i].lease_until);
        free(d[i].last_seen);
        free(d[i].added_at);
        free(d[i].last_error);
        free(d[i].quarantine_reason);
    }
    free(d);
}

int tt_farm_device_lease(tt_farm *f, const char *kind, int n, const char *holder, double ttl_s,
                         tt_farm_lease *leases, int *got)
{
    *got = 0;
    if (n <= 0)
        return 0;
    char limit[24], secs[32];
    snprintf(limit, sizeof limit, "%d", n);
    tt_farm_secs(ttl_s, secs);
    const char *sel[] = {kind, limit};
    PGresult *r = NULL;
    /* SKIP LOCKED: a device another transaction is leasing right now is passed over rather than
     * waited for, and never handed out twice. An expired lease counts as free: its holder died. */
    if (tt_farm_begin(f) ||
        tt_farm_exec(f, "lease devices",
                     "SELECT id, addr, key_name FROM farm_devices WHERE kind = $1"
                     " AND (state = 'free' OR (state = 'leased' AND lease_until <= now()))"
                     " ORDER BY id LIMIT $2::integer FOR UPDATE SKIP LOCKED",
                     2, sel, &r))
        goto fail;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        tt_farm_lease *l = &leases[i];
        l->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(l->addr, sizeof l->addr, "%s", PQgetvalue(r, i, 1));
        snprintf(l->key_name, sizeof l->key_name, "%s", PQgetvalue(r, i, 2));
        if (tt_farm_token_new(l->token))
            goto fail;
        const char *upd[] = {PQgetvalue(r, i, 0), holder, secs, l->token};
        if (tt_farm_exec(f, "lease a device",
                         "UPDATE farm_devices SET state = 'leased', holder = $2,"
                         " lease_until = now() + make_interval(secs => $3::double precision),"
                         " lease_token = $4 WHERE id = $1::bigint",
                         4, upd, NULL))
            goto fail;
    }
    PQclear(r);
    r = NULL;
    if (tt_farm_commit(f, "lease devices"))
        goto fail;
    *got = rows;
    return 0;
fail:
    PQclear(r);
    tt_farm_rollback(f);
    return -1;
}

int tt_farm_device_renew(tt_farm *f, const char *token, double ttl_s)
{
    char secs[32];
    tt_farm_secs(ttl_s, secs);
    const char *params[] = {token, secs};
    return tt_farm_by_token(f, "renew a device lease",
                            "UPDATE farm_devices SET"
                            " lease_until = now() + make_interval(secs => $2::double precision)"
                            " WHERE lease_token = $1 AND state = 'leased'",
                            2, params);
}

int tt_farm_device_release(tt_farm *f, const char *token)
{
    const char *params[] = {token};
    /* pg_notify wakes a worker waiting for a device (delivered at the commit). */
    return tt_farm_by_token(f, "release a device",
                            "WITH freed AS (UPDATE farm_devices SET state = 'free', holder = NULL,"
                            " lease_until = NULL, lease_token = NULL"
                            " WHERE lease_token = $1 AND state = 'leased' RETURNING id)"
                            " SELECT pg_notify('farm', 'device') FROM freed",
                            1, params);
}

int tt_farm_device_report(tt_farm *f, const char *token, const char *error, int max_failures,
                          int *quarantined)
{
    if (quarantined)
        *quarantined = 0;
    if (!error) {
        const char *params[] = {token};
        return tt_farm_by_token(f, "report on a device",
                                "UPDATE farm_devices SET failures_in_row = 0, last_seen = now()"
                                " WHERE lease_token = $1 AND state = 'leased'",
                                1, params);
    }
    char k[24];
    snprintf(k, sizeof k, "%d", max_failures > 0 ? max_failures : TT_FARM_DEFAULT_MAX_FAILURES);
    const char *params[] = {token, error, k};
    PGresult *r = NULL;
    /* One statement: the count and the quarantine decision see the same row. A quarantined device
     * loses its lease (and token): it is out of the pool until `farm device add` again. */
    if (tt_farm_exec(f, "report on a device",
                     "UPDATE farm_devices SET failures_in_row = failures_in_row + 1,"
                     " last_error = $2,"
                     " state = CASE WHEN failures_in_row + 1 >= $3::integer THEN 'quarantined'"
                     "              ELSE state END,"
                     " quarantine_reason = CASE WHEN failures_in_row + 1 >= $3::integer THEN $2"
                     "              ELSE quarantine_reason END,"
                     " holder = CASE WHEN failures_in_row + 1 >= $3::integer THEN NULL"
                     "              ELSE holder END,"
                     " lease_until = CASE WHEN failures_in_row + 1 >= $3::integer THEN NULL"
                     "              ELSE lease_until END,"
                     " lease_token = CASE WHEN failures_in_row + 1 >= $3::integer THEN NULL"
                     "              ELSE lease_token END"
                     " WHERE lease_token = $1 AND state = 'leased' RETURNING state",
                     3, params, &r))
        return -1;
    int rows = PQntuples(r);
    if (rows && quarantined)
        *quarantined = strcmp(PQgetvalue(r, 0, 0), "quarantined") == 0;
    PQclear(r);
    if (rows == 0) {
        tt_error_setc(TT_ERR_NOT_FOUND, "report on a device: lease lost (the token no longer "
                                        "holds it)");
        return TT_FARM_LEASE_LOST;
    }
    return 0;
}
