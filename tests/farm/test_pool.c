/* farm/pool.c against a real PostgreSQL: adding and removing devices, leases that never go to two
 * holders (SKIP LOCKED, also from forked processes at once), leases that expire, stale tokens
 * refused, quarantine after failures in a row and cleared by adding the device again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "farm_test.h"

static tt_farm *open_new(const char **uri_out)
{
    const char *uri = farm_test_db();
    tt_farm *f = NULL;
    assert_int_equal(tt_farm_open(uri, &f), 0);
    if (uri_out)
        *uri_out = uri;
    return f;
}

static void add(tt_farm *f, const char *kind, const char *addr)
{
    int created = -1;
    assert_int_equal(tt_farm_device_add(f, kind, addr, NULL, &created), 0);
    assert_int_equal(created, 1);
}

static const tt_farm_device *find(const tt_farm_device *d, size_t n, const char *addr)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].addr, addr) == 0)
            return &d[i];
    return NULL;
}

static void test_add_list_remove(void **state)
{
    (void)state;
    tt_farm *f = open_new(NULL);
    int created = -1;
    assert_int_equal(tt_farm_device_add(f, "rk3399", "board1:9090", "rk.key", &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(tt_farm_device_add(f, "rk3399", "board1:9090", "rk.key", &created), 0);
    assert_int_equal(created, 0);
    add(f, "x86", "host2:9091");
    tt_farm_device *d = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].kind, "rk3399"); /* by kind, then address */
    assert_string_equal(d[0].addr, "board1:9090");
    assert_string_equal(d[0].key_name, "rk.key");
    assert_string_equal(d[0].state, "free");
    assert_string_equal(d[1].key_name, "x86"); /* no --key: the kind */
    assert_int_equal(d[1].failures_in_row, 0);
    tt_farm_device_list_free(d, n);

    assert_int_equal(tt_farm_device_remove(f, "host2:9091"), 0);
    assert_int_equal(tt_farm_device_remove(f, "host2:9091"), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_get_last_error(), "host2:9091"));

    assert_int_equal(tt_farm_device_add(f, "x86", "nohost", NULL, NULL), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tt_get_last_error(), "HOST:PORT"));
    assert_int_equal(tt_farm_device_add(f, "x86", "h:70000", NULL, NULL), -1);
    assert_int_equal(tt_farm_device_add(f, "x86", "h:1", "../etc/key", NULL), -1);
    assert_non_null(strstr(tt_get_last_error(), "--key"));
    tt_farm_close(f);
}

static void test_uri_and_connection_errors(void **state)
{
    (void)state;
    tt_farm *f = NULL;
    assert_int_equal(tt_farm_open("tuning.db", &f), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tt_get_last_error(), "postgresql://"));
    /* Nothing listens on port 1: an I/O error naming the server, never the password. */
    assert_int_equal(tt_farm_open("postgresql://tt:s3cret@127.0.0.1:1/farm", &f), -1);
    assert_int_equal(tt_get_last_error_category(), TT_ERR_IO);
    assert_non_null(strstr(tt_get_last_error(), "127.0.0.1:1/farm"));
    assert_null(strstr(tt_get_last_error(), "s3cret"));
    assert_null(f);
}

/* A lease transaction that holds a device's row lock makes another leaser skip that device, not
 * wait for it and not take it. */
static void test_skip_locked_row(void **state)
{
    (void)state;
    const char *uri = NULL;
    tt_farm *f = open_new(&uri);
    add(f, "k", "a:1");
    add(f, "k", "b:2");
    PGconn *other = farm_test_conn(uri);
    farm_test_sql(other, "BEGIN");
    farm_test_sql(other, "SELECT id FROM farm_devices WHERE addr = 'a:1' FOR UPDATE");
    tt_farm_lease l[2];
    int got = -1;
    assert_int_equal(tt_farm_device_lease(f, "k", 2, "w1", 60, l, &got), 0);
    assert_int_equal(got, 1);
    assert_string_equal(l[0].addr, "b:2");
    assert_int_equal(strlen(l[0].token), TT_FARM_TOKEN_LEN);
    farm_test_sql(other, "COMMIT");
    tt_farm_lease l2[2];
    assert_int_equal(tt_farm_device_lease(f, "k", 2, "w2", 60, l2, &got), 0);
    assert_int_equal(got, 1);
    assert_string_equal(l2[0].addr, "a:1");
    assert_string_not_equal(l2[0].token, l[0].token);
    assert_int_equal(tt_farm_device_lease(f, "k", 2, "w3", 60, l2, &got), 0);
    assert_int_equal(got, 0); /* both held */
    PQfinish(other);
    tt_farm_close(f);
}

/* Several processes lease at once (released together through a pipe): every device goes to one
 * of them only. */
static void test_concurrent_leases(void **state)
{
    (void)state;
    enum { CLIENTS = 4, DEVICES = 6, EACH = 2 };
    const char *uri = NULL;
    tt_farm *f = open_new(&uri);
    char addr[32];
    for (int i = 0; i < DEVICES; i++) {
        snprintf(addr, sizeof addr, "dev%d:%d", i, 9000 + i);
        add(f, "k", addr);
    }
    int start[2], results[2];
    assert_int_equal(pipe(start), 0);
    assert_int_equal(pipe(results), 0);
    pid_t pids[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            close(start[1]);
            tt_farm *cf = NULL;
            if (tt_farm_open(uri, &cf))
                _exit(3);
            char go;
            if (read(start[0], &go, 1) != 1) /* all connected: lease together */
                _exit(4);
            tt_farm_lease l[EACH];
            int got = 0;
            char holder[16];
            snprintf(holder, sizeof holder, "c%d", c);
            if (tt_farm_device_lease(cf, "k", EACH, holder, 60, l, &got))
                _exit(5);
            for (int i = 0; i < got; i++) {
                int64_t id = l[i].id;
                if (write(results[1], &id, sizeof id) != (ssize_t)sizeof id)
                    _exit(6);
            }
            tt_farm_close(cf);
            _exit(0);
        }
    }
    close(start[0]);
    close(results[1]);
    char go[CLIENTS] = {0};
    assert_int_equal(write(start[1], go, CLIENTS), CLIENTS);
    close(start[1]);
    for (int c = 0; c < CLIENTS; c++) {
        int st = 0;
        assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    int64_t ids[CLIENTS * EACH];
    int n = 0;
    while (n < CLIENTS * EACH && read(results[0], &ids[n], sizeof ids[n]) == sizeof ids[n])
        n++;
    close(results[0]);
    assert_int_equal(n, DEVICES); /* every device leased, 8 asked for 6 */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_true(ids[i] != ids[j]);
    tt_farm_close(f);
}

/* Polls the database's clock until the device's lease is over (no fixed sleep, no client clock). */
static void wait_lease_over(PGconn *c, const char *addr)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT lease_until <= now() FROM farm_devices WHERE addr = '%s'",
             addr);
    for (;;) {
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        int over = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (over)
            return;
        usleep(50 * 1000);
    }
}

static void test_lease_expires_and_old_token_is_refused(void **state)
{
    (void)state;
    const char *uri = NULL;
    tt_farm *f = open_new(&uri);
    add(f, "k", "a:1");
    tt_farm_lease old, now;
    int got = 0;
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "dead-worker", 1, &old, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w2", 60, &now, &got), 0);
    assert_int_equal(got, 0); /* still held */
    assert_int_equal(tt_farm_device_renew(f, old.token, 1), 0);
    PGconn *c = farm_test_conn(uri);
    wait_lease_over(c, "a:1");
    tt_farm_device *d = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_true(d[0].lease_expired);
    assert_string_equal(d[0].holder, "dead-worker");
    tt_farm_device_list_free(d, n);

    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w2", 60, &now, &got), 0);
    assert_int_equal(got, 1);
    assert_string_not_equal(now.token, old.token);
    /* The dead worker comes back: every write with its token changes nothing. */
    assert_int_equal(tt_farm_device_renew(f, old.token, 60), TT_FARM_LEASE_LOST);
    assert_non_null(strstr(tt_get_last_error(), "lease lost"));
    assert_int_equal(tt_farm_device_report(f, old.token, "device lost", 1, NULL),
                     TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_device_release(f, old.token), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_string_equal(d[0].state, "leased");
    assert_string_equal(d[0].holder, "w2");
    assert_int_equal(d[0].failures_in_row, 0);
    tt_farm_device_list_free(d, n);

    assert_int_equal(tt_farm_device_release(f, now.token), 0);
    assert_int_equal(tt_farm_device_release(f, now.token), TT_FARM_LEASE_LOST);
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_string_equal(d[0].state, "free");
    assert_string_equal(d[0].holder, "");
    tt_farm_device_list_free(d, n);
    PQfinish(c);
    tt_farm_close(f);
}

static void test_quarantine_after_failures_cleared_by_add(void **state)
{
    (void)state;
    tt_farm *f = open_new(NULL);
    add(f, "k", "a:1");
    tt_farm_lease l;
    int got = 0, q = -1;
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w", 60, &l, &got), 0);
    /* Two failures, a success, two failures: never three in a row. */
    assert_int_equal(tt_farm_device_report(f, l.token, "device lost: reset", 3, &q), 0);
    assert_int_equal(tt_farm_device_report(f, l.token, "device lost: reset", 3, &q), 0);
    assert_int_equal(tt_farm_device_report(f, l.token, NULL, 3, &q), 0);
    assert_int_equal(tt_farm_device_report(f, l.token, "device lost: a", 3, &q), 0);
    assert_int_equal(tt_farm_device_report(f, l.token, "device lost: b", 3, &q), 0);
    assert_int_equal(q, 0);
    assert_int_equal(tt_farm_device_report(f, l.token, "device lost: c", 3, &q), 0);
    assert_int_equal(q, 1);
    tt_farm_device *d = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_string_equal(d[0].state, "quarantined");
    assert_string_equal(d[0].quarantine_reason, "device lost: c");
    assert_int_equal(d[0].failures_in_row, 3);
    assert_string_equal(d[0].holder, "");
    tt_farm_device_list_free(d, n);
    /* Out of the pool: no lease, and the holder's token is dead. */
    tt_farm_lease l2;
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w", 60, &l2, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(tt_farm_device_renew(f, l.token, 60), TT_FARM_LEASE_LOST);
    /* Adding it again says it is back. */
    int created = -1;
    assert_int_equal(tt_farm_device_add(f, "k", "a:1", NULL, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(tt_farm_device_list(f, &d, &n), 0);
    assert_string_equal(d[0].state, "free");
    assert_int_equal(d[0].failures_in_row, 0);
    assert_string_equal(d[0].quarantine_reason, "");
    tt_farm_device_list_free(d, n);
    assert_int_equal(tt_farm_device_lease(f, "k", 1, "w", 60, &l2, &got), 0);
    assert_int_equal(got, 1);
    tt_farm_close(f);
}

/* Opening an existing farm database again (another worker) keeps its rows: the schema is made
 * once. */
static void test_schema_once(void **state)
{
    (void)state;
    const char *uri = NULL;
    tt_farm *f = open_new(&uri);
    add(f, "k", "a:1");
    tt_farm *g = NULL;
    assert_int_equal(tt_farm_open(uri, &g), 0);
    tt_farm_device *d = NULL;
    size_t n = 0;
    assert_int_equal(tt_farm_device_list(g, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_non_null(find(d, n, "a:1"));
    tt_farm_device_list_free(d, n);
    PGconn *c = farm_test_conn(uri);
    PGresult *r = PQexec(c, "SELECT count(*), max(version) FROM farm_schema");
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    assert_string_equal(PQgetvalue(r, 0, 1), "1");
    PQclear(r);
    PQfinish(c);
    tt_farm_close(g);
    tt_farm_close(f);
}

/* Processes opening a new database at once (released together by a pipe) all find the schema:
 * one creates it, the others wait for it under the advisory lock. */
static void test_schema_created_once_by_concurrent_opens(void **state)
{
    (void)state;
    enum { OPENERS = 4 };
    const char *uri = farm_test_db();
    int start[2];
    assert_int_equal(pipe(start), 0);
    pid_t pids[OPENERS];
    for (int i = 0; i < OPENERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(start[1]);
            char go;
            if (read(start[0], &go, 1) != 1)
                _exit(4);
            tt_farm *f = NULL;
            if (tt_farm_open(uri, &f)) {
                fprintf(stderr, "open %d: %s\n", i, tt_get_last_error());
                _exit(3);
            }
            tt_farm_close(f);
            _exit(0);
        }
    }
    close(start[0]);
    char go[OPENERS] = {0};
    assert_int_equal(write(start[1], go, OPENERS), OPENERS);
    close(start[1]);
    for (int i = 0; i < OPENERS; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    PGconn *c = farm_test_conn(uri);
    PGresult *r = PQexec(c, "SELECT count(*) FROM farm_schema");
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_list_remove),
        cmocka_unit_test(test_uri_and_connection_errors),
        cmocka_unit_test(test_skip_locked_row),
        cmocka_unit_test(test_concurrent_leases),
        cmocka_unit_test(test_lease_expires_and_old_token_is_refused),
        cmocka_unit_test(test_quarantine_after_failures_cleared_by_add),
        cmocka_unit_test(test_schema_once),
        cmocka_unit_test(test_schema_created_once_by_concurrent_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
