/* remeasure: builds the schedules of chosen log records and times them again, each in a fresh
 * child forked from this small single-threaded process, round after round (records
 * interleaved, so drift hits them alike). It checks a tuner's logged figures against a clean
 * measurement: the xgb tuner's measurements were found 24% low this way (benchmarks/README.md).
 *   usage: remeasure OP.json LOG LINE... [--rounds N] [--threads T]
 * LINE: 0-based record index in LOG (file order). The task is OP.json's first. Prints, per round,
 * the median GFLOPS of each record and its repeats. Exit 0, 1 on a failed build or run, 2 on bad
 * usage or input. */
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
#include "tt/runtime.h"

#define MAX_LINES 64

static int usage(void)
{
    fprintf(stderr, "usage: remeasure OP.json LOG LINE... [--rounds N] [--threads T]\n");
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
    int rounds = 3, threads = 2, nl = 0;
    long lines[MAX_LINES];
    for (int i = 3; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (nl < MAX_LINES && (lines[nl] = strtol(argv[i], &end, 10)) >= 0 && *end == '\0' &&
                 end != argv[i])
            nl++;
        else
            return usage();
    }
    if (nl == 0 || rounds < 1 || threads < 0)
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
    int rc = 0;
    for (int round = 0; round < rounds && rc == 0; round++) {
        for (int l = 0; l < nl; l++) {
            tt_run_request req = {.lib_path = paths[l],
                                  .func_name = task->name,
                                  .args = args,
                                  .n_args = na,
                                  .seed = 1,
                                  .timeout_s = 60,
                                  .num_threads = threads};
            tt_timing_opts_default(&req.timing);
            req.timing.repeat = f->measure.repeat;
            req.timing.min_repeat_ms = f->measure.min_repeat_ms;
            tt_run_result rr;
            if (tt_runner_local_run(&req, &rr) != 0 || rr.error != TT_MEASURE_OK) {
                fprintf(stderr, "remeasure: line %ld: %s\n", lines[l],
                        rr.error_msg[0] ? rr.error_msg : tt_get_last_error());
                rc = 1;
                break;
            }
            printf("%7.1f [", flops / rr.timing.cost / 1e9);
            for (int i = 0; i < rr.timing.n_costs; i++)
                printf("%s%.0f", i ? " " : "", flops / rr.timing.costs[i] / 1e9);
            printf("]");
        }
        printf("\n");
    }
    for (int l = 0; l < nl; l++)
        remove(paths[l]);
    rmdir(dir);
    tt_target_free(tg);
    tt_record_array_free(recs, nr);
    tt_opfile_free(f);
    return rc;
}
