/* `tvm-tune model eval LOG`: how well the cost model ranks candidates it has not seen. Trains
 * on the first part of a log (file order, as a tuner would have seen it) and scores the rest.
 * The work is cost_model/'s; this file parses flags and prints. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "cost_model/model.h"
#include "logs/log.h"
#include "tuner/cli.h"

static const char model_usage[] =
    "usage: tvm-tune model eval LOG [--train-fraction F] [--objective rank|reg] [--rounds N]\n"
    "                           [--threads N] [--label-step S] [--model-in FILE]\n"
    "                           [--model-out FILE]\n"
    "\n"
    "Trains the XGBoost cost model on the first F of LOG's records (file order) and reports, on\n"
    "the rest, the pairwise ranking accuracy (pairs of one workload whose measured throughput\n"
    "differs, ordered the same way by the model) and the recall of the true top-10 among the\n"
    "model's top-32 (mean over workloads). Failed candidates count as the slowest.\n"
    "\n"
    "  --train-fraction F   share of the records to train on, 0 < F < 1 (default 0.8)\n"
    "  --objective KIND     rank (XGBoost rank:pairwise, default) or reg (reg:squarederror)\n"
    "  --rounds N           boosting rounds (default 100)\n"
    "  --label-step S       rank: train on targets in buckets of width S (0.05: 20 levels of\n"
    "                       normalised throughput; closer pairs are timing noise); default 0\n"
    "  --threads N          training and prediction threads (default 0: every core)\n"
    "  --model-in FILE      evaluate this saved model instead of training one\n"
    "  --model-out FILE     save the trained model\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit codes: 0 success, 1 training or saving failed, 2 bad usage, unreadable log or model,\n"
    "or a log without usable records.\n";

static int first_target(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    char *t = ctx;
    if (!t[0])
        snprintf(t, 256, "%s", r->target);
    return 0;
}

/* The machine of the log's first record, for the features that need one (cost_model/features.h):
 * its target's vector width and registers; threads are not logged and stay unknown. A target
 * that does not parse leaves all unknown. */
static tt_feat_machine log_machine(const char *log)
{
    tt_feat_machine m = {0};
    char target[256] = "";
    tt_log_stats ls;
    memset(&ls, 0, sizeof ls);
    int rc = tt_log_read(log, TT_LOG_TOLERANT, first_target, target, &ls);
    tt_log_stats_free(&ls);
    tt_target *t = NULL;
    if (rc == 0 && target[0] && tt_target_parse(target, &t) == 0) {
        m.vector_bits = tt_target_vector_bits(t);
        m.vector_regs = tt_target_vector_regs(t);
    }
    tt_target_free(t);
    return m;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_part(const char *what, const tt_dataset_log_stats *st, const tt_dataset *d)
{
    printf("%s: %zu records -> %zu rows (%zu failed candidates, %zu unusable records), "
           "%zu workload%s\n",
           what, st->records, st->rows, st->failed, st->unusable, d->ngroups,
           d->ngroups == 1 ? "" : "s");
}

static int model_eval(int argc, char **argv)
{
    enum { O_FRACTION = 256, O_OBJECTIVE, O_ROUNDS, O_THREADS, O_MODEL_IN, O_MODEL_OUT, O_STEP };
    static const struct option opts[] = {
        {"train-fraction", required_argument, NULL, O_FRACTION},
        {"objective", required_argument, NULL, O_OBJECTIVE},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"threads", required_argument, NULL, O_THREADS},
        {"model-in", required_argument, NULL, O_MODEL_IN},
        {"model-out", required_argument, NULL, O_MODEL_OUT},
        {"label-step", required_argument, NULL, O_STEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tt_model_opts mo;
    tt_model_opts_default(&mo);
    double fraction = 0.8;
    const char *model_in = NULL, *model_out = NULL;
    char *end;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(model_usage, stdout);
            return TT_EXIT_OK;
        case O_FRACTION:
            errno = 0;
            fraction = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(fraction > 0 && fraction < 1)) {
                fprintf(stderr,
                        "tvm-tune model eval: --train-fraction %s: expected a number "
                        "between 0 and 1 (exclusive)\n",
                        optarg);
                return TT_EXIT_USAGE;
            }
            break;
        case O_OBJECTIVE:
            if (strcmp(optarg, "rank") != 0 && strcmp(optarg, "reg") != 0) {
                fprintf(stderr, "tvm-tune model eval: --objective %s: expected rank or reg\n",
                        optarg);
                return TT_EXIT_USAGE;
            }
            mo.objective = optarg;
            break;
        case O_ROUNDS:
        case O_THREADS: {
            long long v;
            int rc = tt_cli_parse_int("model eval", c == O_ROUNDS ? "--rounds" : "--threads",
                                      optarg, c == O_ROUNDS ? 1 : 0, 100000, &v);
            if (rc != TT_EXIT_OK)
                return rc;
            *(c == O_ROUNDS ? &mo.rounds : &mo.nthread) = (int)v;
            break;
        }
        case O_STEP:
            errno = 0;
            mo.label_step = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(mo.label_step >= 0 && mo.label_step < 1)) {
                fprintf(stderr, "tvm-tune model eval: --label-step %s: expected 0 <= step < 1\n",
                        optarg);
                return TT_EXIT_USAGE;
            }
            break;
        case O_MODEL_IN:
            model_in = optarg;
            break;
        case O_MODEL_OUT:
            model_out = optarg;
            break;
        default:
            fprintf(stderr, "tvm-tune model eval: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], model_usage);
            return TT_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "tvm-tune model eval: expected one LOG\n\n%s", model_usage);
        return TT_EXIT_USAGE;
    }
    const char *log = argv[optind];
    size_t n = 0;
    if (tt_dataset_log_count(log, &n) != 0) {
        return tt_cli_fail("model eval", TT_ERR_INVALID_ARGUMENT);
    }
    size_t ntrain = (size_t)floor(fraction * (double)n);
    if (ntrain == 0 || ntrain >= n) {
        fprintf(stderr,
                "tvm-tune model eval: %s: %zu records: too few to train on %g of them "
                "and test on the rest\n",
                log, n, fraction);
        return TT_EXIT_USAGE;
    }
    printf("log: %s (%zu records)\n", log, n);

    int rc = TT_EXIT_OK;
    tt_dataset train, test;
    tt_dataset_init(&train);
    tt_dataset_init(&test);
    train.machine = test.machine = log_machine(log);
    tt_model *m = NULL;
    tt_dataset_log_stats st;
    if (tt_model_new(&mo, &m) != 0) {
        return tt_cli_fail("model eval", TT_ERR_UNKNOWN);
    }
    double t0 = now_s();
    if (!model_in) {
        if (tt_dataset_add_log(&train, log, 0, ntrain, &st) != 0) {
            tt_error_wrap("training part");
            rc = tt_cli_fail("model eval", TT_ERR_INVALID_ARGUMENT);
            goto out;
        }
        print_part("train", &st, &train);
    }
    if (tt_dataset_add_log(&test, log, ntrain, SIZE_MAX, &st) != 0) {
        tt_error_wrap("test part");
        rc = tt_cli_fail("model eval", TT_ERR_INVALID_ARGUMENT);
        goto out;
    }
    print_part("test", &st, &test);
    double t1 = now_s();
    if (model_in) {
        if (tt_model_load(m, model_in) != 0) {
            rc = tt_cli_fail("model eval", TT_ERR_INVALID_ARGUMENT);
            goto out;
        }
        printf("model: loaded from %s\n", model_in);
    } else {
        if (tt_model_train(m, &train) != 0) {
            rc = tt_cli_fail("model eval", TT_ERR_UNKNOWN);
            goto out;
        }
        printf("model: %s, %d rounds, features in %.2f s, trained in %.2f s\n",
               strcmp(mo.objective, "reg") == 0 ? "reg:squarederror" : "rank:pairwise", mo.rounds,
               t1 - t0, now_s() - t1);
    }
    tt_model_eval_result r;
    if (tt_model_evaluate(m, &test, &r) != 0) {
        rc = tt_cli_fail("model eval", TT_ERR_UNKNOWN);
        goto out;
    }
    if (r.pairs)
        printf("pairwise ranking accuracy: %.3f (%zu pairs)\n", r.pair_accuracy, r.pairs);
    else
        printf("pairwise ranking accuracy: - (no pair of different throughput)\n");
    if (r.groups)
        printf("recall of the true top-10 among the predicted top-32: %.3f (%zu workload%s)\n",
               r.recall_top10_32, r.groups, r.groups == 1 ? "" : "s");
    else
        printf("recall of the true top-10 among the predicted top-32: - (no valid candidate)\n");
    if (model_out && !model_in) {
        if (tt_model_save(m, model_out) != 0) {
            rc = tt_cli_fail("model eval", TT_ERR_UNKNOWN);
            goto out;
        }
        printf("model saved: %s\n", model_out);
    }
out:
    tt_model_free(m);
    tt_dataset_free(&train);
    tt_dataset_free(&test);
    return rc;
}

int tt_cli_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(model_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? TT_EXIT_USAGE : TT_EXIT_OK;
    }
    if (strcmp(argv[1], "eval") == 0)
        return model_eval(argc - 1, argv + 1);
    fprintf(stderr, "tvm-tune model: unknown subcommand '%s' (expected eval)\n", argv[1]);
    return TT_EXIT_USAGE;
}
