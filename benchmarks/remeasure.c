/* remeasure: builds the schedules of chosen log records and times them again, each in a fresh
 * child forked from this small single-threaded process, round after round (records
 * interleaved, so drift hits them alike). It checks a tuner's logged figures against a clean
 * measurement: the xgb tuner's measurements were found 24% low this way (benchmarks/README.md).
 *   usage: remeasure OP.json LOG LINE... [--rounds N] [--threads T] [--repeat R]
 *                    [--min-repeat-ms MS]
 * LINE: 0-based record index in LOG (file order). The task is OP.json's first; --repeat and
 * --min-repeat-ms replace its "measure" settings. Prints, per round, the cost's GFLOPS of each
 * record and its repeats, then the spread (issue 13, item 4) under several statistics of the same
 * repeats: logged against re-measured (the statistic of the log's costs over its median across
 * rounds) and round against round (largest over smallest), each as the median and the largest
 * over the records. Exit 0, 1 on a failed build or run, 2 on bad usage or input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "ir/lower.h"
#include "ir/opjson.h"
#include "logs/log.h"
#include "measure/measure.h"
#include "tt/cost.h"
#include "tt/runtime.h"

#define MAX_LINES 64
#define MAX_ROUNDS 32

/* Statistics of one candidate's repeat costs that the protocol could log; the first is what
 * tt/cost.h computes. */
enum { ST_MEDIAN, ST_MIN, ST_MEDIAN_WARM, N_STATS };
static const char *const stat_name[N_STATS] = {"median of repeats", "min of repeats",
                                               "median, 1st repeat dropped"};

static double stat_of(int st, const double *c, int n)
{
    if (st == ST_MEDIAN_WARM && n > 1)
        return tt_cost_median(c + 1, (size_t)n - 1);
    if (st == ST_MEDIAN)
        return tt_cost_median(c, (size_t)n);
    double lo = INFINITY;
    for (int i = 0; i < n; i++)
        lo = fmin(lo, c[i]);
    return lo;
}

/* |log(x)|: a deviation that treats 2x faster and 2x slower alike, printed as a percentage. */
static double dev(double ratio)
{
    return fabs(ratio - 1) > fabs(1 / ratio - 1) ? fabs(ratio - 1) : fabs(1 / ratio - 1);
}

/* Prints "NAME: median M%, max X%" of v[0..n-1] (deviations). */
static void summary(const char *what, double *v, int n)
{
    double hi = 0;
    for (int i = 0; i < n; i++)
        hi = fmax(hi, v[i]);
    printf("  %s median %5.1f%%  max %5.1f%%", what, 100 * tt_cost_median(v, (size_t)n), 100 * hi);
}

static int usage(void)
{
    fprintf(stderr, "usage: remeasure OP.json LOG LINE... [--rounds N] [--threads T] [--repeat R] "
                    "[--min-repeat-ms MS] [--retries K] [--ab]\n");
    return 2;
}

static int fail(int code, const char *what)
{
    fprintf(stderr, "remeasure: %s: %s\n", what, tt_get_last_error());
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    int rounds = 3, threads = 2, nl = 0, repeat = 0, retries = -1, ab = 0;
    double min_ms = -1;
    long lines[MAX_LINES];
    for (int i = 3; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--retries") == 0 && i + 1 < argc)
            retries = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ab") == 0)
            ab = 1;
        else if (strcmp(argv[i], "--min-repeat-ms") == 0 && i + 1 < argc)
            min_ms = atof(argv[++i]);
        else if (nl < MAX_LINES && (lines[nl] = strtol(argv[i], &end, 10)) >= 0 && *end == '\0' &&
                 end != argv[i])
            nl++;
        else
            return usage();
    }
    if (nl == 0 || rounds < 1 || rounds > MAX_ROUNDS || threads < 0 || repeat < 0 ||
        repeat > TT_MEASURE_MAX_REPEAT || retries > TT_MEASURE_MAX_REPEAT)
        return usage();
    tt_opfile *f = NULL;
    if (tt_opfile_load(argv[1], &f) != 0)
        return fail(2, argv[1]);
    tt_record **recs = NULL;
    size_t nr = 0;
    if (tt_log_read_all(argv[2], TT_LOG_TOLERANT, &recs, &nr, NULL) != 0)
        return fail(2, argv[2]);
    const tt_task *task = &f->tasks[0];
    const tt_compute *c = task->compute;
    tt_measure_tensor args[TT_MEASURE_MAX_DIM + 1];
    int na = c->ninputs + 1;
    if (na > TT_MEASURE_MAX_DIM + 1) {
        fprintf(stderr, "remeasure: %s: too many inputs\n", argv[1]);
        return 2;
    }
    for (int i = 0; i < na; i++) {
        const tt_tensor *x = i < c->ninputs ? c->inputs[i] : tt_compute_output(c);
        args[i].ndim = x->ndim;
        for (int d = 0; d < x->ndim; d++)
            args[i].shape[d] = x->shape[d];
        args[i].dtype = x->dtype;
    }
    tt_target *tg = NULL;
    if (tt_target_parse("llvm", &tg) != 0)
        return fail(1, "target");
    char dir[] = "/tmp/tt-remeasure-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("remeasure: mkdtemp");
        return 1;
    }
    char paths[MAX_LINES][64];
    double flops = tt_compute_flops(c);
    for (int l = 0; l < nl; l++) {
        if ((size_t)lines[l] >= nr) {
            fprintf(stderr, "remeasure: %s has %zu records, no line %ld\n", argv[2], nr, lines[l]);
            return 2;
        }
        const tt_record *r = recs[lines[l]];
        if (strcmp(r->key, task->key) != 0) {
            fprintf(stderr, "remeasure: line %ld is of %s, not of %s's first task %s\n", lines[l],
                    r->key, argv[1], task->key);
            return 2;
        }
        tt_schedule *s = NULL;
        tt_kernel *k = NULL;
        if (tt_schedule_from_json(r->steps, &s) != 0 || tt_lower(c, s, task->name, &k) != 0)
            return fail(2, "schedule");
        tt_schedule_free(s);
        snprintf(paths[l], sizeof paths[l], "%s/k%d.so", dir, l);
        if (tt_codegen_emit(&k, 1, tg, TT_EMIT_SO, paths[l]) != 0)
            return fail(1, "build");
        tt_kernel_release(k);
        printf("line %ld (trial %lld): logged %.1f GFLOPS\n", lines[l], (long long)r->trial,
               r->gflops);
    }
    /* Protocol variants, each record timed under each in turn: the given retries of disturbed
     * repeats (the protocol's default without --retries), or with --ab none and then those (3
     * without --retries). */
    int variants[2] = {retries, retries}, nv = 1;
    if (ab) {
        variants[0] = 0;
        variants[1] = retries >= 0 ? retries : 3;
        nv = 2;
    }
    int rc = 0;
    static double got[2][MAX_LINES][N_STATS][MAX_ROUNDS];
    int disturbed[2] = {0}, runs[2] = {0};
    for (int round = 0; round < rounds && rc == 0; round++) {
        for (int l = 0; l < nl && rc == 0; l++) {
            for (int v = 0; v < nv; v++) {
                tt_run_request req = {.lib_path = paths[l],
                                      .func_name = task->name,
                                      .args = args,
                                      .n_args = na,
                                      .seed = 1,
                                      .timeout_s = 60,
                                      .num_threads = threads};
                tt_timing_opts_default(&req.timing);
                req.timing.repeat = repeat > 0 ? repeat : f->measure.repeat;
                req.timing.min_repeat_ms = min_ms >= 0 ? min_ms : f->measure.min_repeat_ms;
                if (variants[v] >= 0)
                    req.timing.retries = variants[v];
                tt_run_result rr;
                if (tt_runner_local_run(&req, &rr) != 0 || rr.error != TT_MEASURE_OK) {
                    fprintf(stderr, "remeasure: line %ld: %s\n", lines[l],
                            rr.error_msg[0] ? rr.error_msg : tt_get_last_error());
                    rc = 1;
                    break;
                }
                for (int st = 0; st < N_STATS; st++)
                    got[v][l][st][round] = stat_of(st, rr.timing.costs, rr.timing.n_costs);
                disturbed[v] += rr.timing.disturbed;
                runs[v] += rr.timing.n_costs;
                printf("%s%7.1f [", v ? " /" : "", flops / rr.timing.cost / 1e9);
                for (int i = 0; i < rr.timing.n_costs; i++)
                    printf("%s%.0f%s", i ? " " : "", flops / rr.timing.costs[i] / 1e9,
                           rr.timing.switches[i] ? "*" : "");
                printf("]");
            }
            printf("  ");
        }
        printf("\n");
    }
    printf("(GFLOPS of the cost [of each repeat kept], * a disturbed repeat: it lost a CPU to "
           "another process%s)\n",
           ab ? "; per record: no retries / retries" : "");
    for (int v = 0; rc == 0 && v < nv; v++) {
        printf("%s: spread over %d records (deviation: how far a ratio is from 1, either way), "
               "%d disturbed repeats run, %d repeats kept:\n",
               ab ? (v ? "retries" : "no retries") : "protocol", nl, disturbed[v], runs[v]);
        for (int st = 0; st < N_STATS; st++) {
            double logged[MAX_LINES], rounds_dev[MAX_LINES];
            for (int l = 0; l < nl; l++) {
                const tt_record *r = recs[lines[l]];
                double *g = got[v][l][st], lo = INFINITY, hi = 0;
                for (int k = 0; k < rounds; k++) {
                    lo = fmin(lo, g[k]);
                    hi = fmax(hi, g[k]);
                }
                double now = tt_cost_median(g, (size_t)rounds);
                logged[l] = dev(stat_of(st, r->costs, (int)r->n_costs) / now);
                rounds_dev[l] = hi / lo - 1;
            }
            printf("  %-28s", stat_name[st]);
            summary("logged/re-measured:", logged, nl);
            if (rounds > 1)
                summary("round/round:", rounds_dev, nl);
            printf("\n");
        }
    }
    for (int l = 0; l < nl; l++)
        remove(paths[l]);
    rmdir(dir);
    tt_target_free(tg);
    tt_record_array_free(recs, nr);
    tt_opfile_free(f);
    return rc;
}
