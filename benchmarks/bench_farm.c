/* bench_farm: jobs claimed per second from a farm's queue (farm/farm.h) by C claimer processes at
 * once, each claim its own transaction (SELECT ... FOR UPDATE SKIP LOCKED, a new token), each
 * claimed job finished at once (one more transaction), as a worker does around a tuning run.
 * benchmarks/bench_farm.sh runs it with 1 and 4 claimers on a fresh database.
 *
 *   bench_farm URI CLAIMERS JOBS
 *
 * Submits JOBS jobs (one op file of JOBS matmul tasks, one device of their kind), then the
 * claimers start together (a pipe closed by the parent) and claim until the queue is empty; the
 * time is from their start to the last one's end. Every job must be claimed exactly once (checked
 * from the table afterwards). Prints "claimers C jobs N seconds S jobs/s R". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "farm/farm.h"
#include "tt/opfile.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An op file of n matmul tasks of distinct sizes. */
static char *op_text(int n)
{
    size_t cap = 64 + (size_t)n * 80;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t at = (size_t)snprintf(s, cap, "{\"tasks\": [");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, cap - at,
                               "%s{\"op\": \"matmul\", \"M\": %d, \"N\": 8, \"K\": 8}",
                               i ? ", " : "", i + 1);
    snprintf(s + at, cap - at, "]}");
    return s;
}

/* Claims and finishes jobs until none is left; *claimed counts them. */
static int claim_all(const char *uri, int c, int ready_fd, int go_fd, long *claimed)
{
    tt_farm *f;
    if (tt_farm_open(uri, &f))
        return -1;
    char me[32], ch = 'r';
    snprintf(me, sizeof me, "bench:%d", c);
    if (write(ready_fd, &ch, 1) != 1)
        return -1;
    while (read(go_fd, &ch, 1) < 0 && errno == EINTR)
        ;
    *claimed = 0;
    for (;;) {
        tt_farm_job *job = NULL;
        if (tt_farm_job_claim(f, me, 60, &job)) {
            tt_farm_close(f);
            return -1;
        }
        if (!job)
            break;
        int rc = tt_farm_job_finish(f, job->token, "done", "bench");
        tt_farm_job_free(job);
        if (rc) {
            tt_farm_close(f);
            return -1;
        }
        (*claimed)++;
    }
    tt_farm_close(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_farm URI CLAIMERS JOBS\n");
        return 2;
    }
    const char *uri = argv[1];
    int claimers = atoi(argv[2]);
    int jobs = atoi(argv[3]);
    if (claimers < 1 || claimers > 64 || jobs < 1 || jobs > 100000) {
        fprintf(stderr, "bench_farm: CLAIMERS 1..64 and JOBS 1..100000\n");
        return 2;
    }
    tt_farm *f;
    char *text = op_text(jobs);
    tt_opfile *file = NULL;
    int added = 0;
    if (!text || tt_farm_open(uri, &f) ||
        tt_farm_device_add(f, "bench", "127.0.0.1:1", "bench.key", NULL) ||
        tt_opfile_parse_string(text, "bench.json", &file) ||
        tt_farm_submit(f, file, 8, "bench", NULL, &added, NULL)) {
        fprintf(stderr, "bench_farm: %s\n", tt_get_last_error());
        return 1;
    }
    free(text);
    tt_opfile_free(file);
    if (added != jobs) {
        fprintf(stderr, "bench_farm: %d jobs submitted, expected %d (a database not fresh?)\n",
                added, jobs);
        return 1;
    }
    int ready[2], go[2], counts[2];
    if (pipe(ready) || pipe(go) || pipe(counts))
        return 1;
    pid_t kids[64];
    for (int c = 0; c < claimers; c++) {
        kids[c] = fork();
        if (kids[c] < 0)
            return 1;
        if (kids[c] == 0) {
            close(ready[0]);
            close(go[1]);
            long n = 0;
            int rc = claim_all(uri, c, ready[1], go[0], &n);
            if (rc)
                fprintf(stderr, "claimer %d: %s\n", c, tt_get_last_error());
            _exit(rc == 0 && write(counts[1], &n, sizeof n) == sizeof n ? 0 : 1);
        }
    }
    close(ready[1]);
    close(go[0]);
    for (int c = 0; c < claimers; c++) {
        char ch;
        if (read(ready[0], &ch, 1) != 1) {
            fprintf(stderr, "bench_farm: a claimer failed to open the farm\n");
            return 1;
        }
    }
    double t0 = now_s();
    close(go[1]);
    int failed = 0;
    long total = 0;
    for (int c = 0; c < claimers; c++) {
        int status;
        waitpid(kids[c], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        long n = 0;
        if (!failed && read(counts[0], &n, sizeof n) == sizeof n)
            total += n;
    }
    double s = now_s() - t0;
    /* every job claimed once: all done, one attempt each */
    tt_farm_job *list = NULL;
    size_t n = 0;
    if (failed || tt_farm_job_list(f, &list, &n)) {
        fprintf(stderr, "bench_farm: a claimer failed\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].state, "done") != 0 || list[i].attempts != 1)
            failed = 1;
    tt_farm_job_list_free(list, n);
    tt_farm_close(f);
    if (failed || total != jobs) {
        fprintf(stderr, "bench_farm: %ld claims for %d jobs, or a job not claimed exactly once\n",
                total, jobs);
        return 1;
    }
    printf("claimers %d jobs %d seconds %.3f jobs/s %.0f\n", claimers, jobs, s, (double)jobs / s);
    return 0;
}
