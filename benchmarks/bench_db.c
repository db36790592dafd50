/* bench_db: records written per second into a tuning database (either engine, logs/db.h), by W
 * writer processes at once, each record its own transaction as the tuner writes them
 * (tt_db_add_record). benchmarks/bench_db.sh runs it on SQLite and PostgreSQL, 1 and 4 writers.
 *
 *   bench_db DB_PATH_OR_URI WRITERS RECORDS_PER_WRITER
 *
 * The writers open the database first, then start together (a pipe closed by the parent), and
 * the time is from their start to the last one's end. Prints one line:
 *   "<engine> writers W records N seconds S records/s R". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logs/db.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writer w's record i: 4 workloads, distinct steps and trials, so that every record is new. */
static int write_all(tt_db *db, int w, long n)
{
    static const double costs[] = {0.0121, 0.0123, 0.0122};
    char key[64], workload[160], steps[96];
    for (long i = 0; i < n; i++) {
        int m = 64 << (i % 4);
        snprintf(key, sizeof key, "matmul_%dx64x64_f32-%08x", m, 0xbe00 + (int)(i % 4));
        snprintf(workload, sizeof workload,
                 "{\"op\":\"matmul\",\"M\":%d,\"N\":64,\"K\":64,\"dtype\":\"float32\"}", m);
        snprintf(steps, sizeof steps,
                 "[{\"s\":\"split\",\"stage\":\"C\",\"loop\":\"i\",\"factors\":[%ld]}]", i + 1);
        tt_record r = {.key = key,
                       .workload = workload,
                       .target = "llvm -mtriple=x86_64-linux-gnu",
                       .steps = steps,
                       .costs = costs,
                       .n_costs = 3,
                       .build_s = 0.04,
                       .gflops = 100,
                       .time = "2026-12-04T22:00:00Z",
                       .tuner = "bench",
                       .trial = i,
                       .seed = w};
        int added;
        if (tt_db_add_record(db, &r, 0, &added) || !added) {
            fprintf(stderr, "writer %d, record %ld: %s\n", w, i,
                    added ? tt_get_last_error() : "not added");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_db DB_PATH_OR_URI WRITERS RECORDS_PER_WRITER\n");
        return 2;
    }
    const char *target = argv[1];
    int writers = atoi(argv[2]);
    long per = atol(argv[3]);
    if (writers < 1 || writers > 64 || per < 1) {
        fprintf(stderr, "bench_db: WRITERS 1..64 and RECORDS_PER_WRITER >= 1\n");
        return 2;
    }
    tt_db *db; /* the schema exists before the writers start */
    if (tt_db_open(target, &db)) {
        fprintf(stderr, "bench_db: %s\n", tt_get_last_error());
        return 1;
    }
    int postgres = tt_db_is_postgres(db);
    tt_db_close(db);
    int ready[2], go[2];
    if (pipe(ready) || pipe(go))
        return 1;
    pid_t kids[64];
    for (int w = 0; w < writers; w++) {
        kids[w] = fork();
        if (kids[w] < 0)
            return 1;
        if (kids[w] == 0) {
            close(ready[0]);
            close(go[1]);
            tt_db *mine;
            if (tt_db_open(target, &mine)) {
                fprintf(stderr, "writer %d: %s\n", w, tt_get_last_error());
                _exit(1);
            }
            char c = 'r';
            if (write(ready[1], &c, 1) != 1)
                _exit(1);
            while (read(go[0], &c, 1) < 0 && errno == EINTR)
                ;
            int rc = write_all(mine, w, per);
            _exit(tt_db_close(mine) || rc ? 1 : 0);
        }
    }
    close(ready[1]);
    close(go[0]);
    for (int w = 0; w < writers; w++) {
        char c;
        if (read(ready[0], &c, 1) != 1) {
            fprintf(stderr, "bench_db: a writer failed to open the database\n");
            return 1;
        }
    }
    double t0 = now_s();
    close(go[1]);
    int failed = 0;
    for (int w = 0; w < writers; w++) {
        int status;
        waitpid(kids[w], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    double s = now_s() - t0;
    if (failed) {
        fprintf(stderr, "bench_db: a writer failed\n");
        return 1;
    }
    long total = per * writers;
    printf("%s writers %d records %ld seconds %.3f records/s %.0f\n",
           postgres ? "postgresql" : "sqlite", writers, total, s, (double)total / s);
    return 0;
}
