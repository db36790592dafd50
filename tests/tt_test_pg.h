/* The PostgreSQL server of the test fixture (tests/CMakeLists.txt, scripts/pg-server.sh): a test
 * registered with tt_add_test(... PG) reads its URI here. libpq finds the password through
 * PGPASSFILE, which the fixture sets, so the URI carries none. */
#ifndef TT_TEST_PG_H
#define TT_TEST_PG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server's URI ("postgresql://tt@127.0.0.1:PORT/tvmtune"), or NULL when TT_PG_STATE is not
 * set or its uri file cannot be read. */
static inline const char *tt_test_pg_uri(void)
{
    static char uri[512];
    const char *state = getenv("TT_PG_STATE");
    if (!state)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/uri", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *got = fgets(uri, sizeof uri, f);
    fclose(f);
    if (!got)
        return NULL;
    uri[strcspn(uri, "\n")] = '\0';
    return uri;
}

#endif
