/* `tvm-tune tune OP.json --trials N` (also `tvm-tune OP.json --trials N`): flags to
 * tt_tune_opts, Ctrl-C to a clean stop, the tuning loop (tuner/tune.c), then the summary and the
 * exit code (0 done, 1 failed candidates only or too many errors, 2 bad input, 130 interrupted). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/opjson.h"
#include "logs/db.h"
#include "tt/tune.h"
#include "tuner/cli.h"

static const char tune_usage[] =
    "usage: tvm-tune OP.json --trials N [flags]\n"
    "       tvm-tune tune OP.json --trials N [flags]\n"
    "\n"
    "Tunes every task of OP.json on this CPU, or on devices over RPC: proposes schedules, builds\n"
    "them in parallel, runs each one alone (checked against the unscheduled loop nest, timed\n"
    "with the \"measure\" settings of OP.json) and appends one JSON line per candidate to the "
    "log.\n"
    "\n"
    "  --trials N          candidates to measure, over all tasks (required); tasks share them\n"
    "                      by their \"weight\". With --resume the trials already in the log count\n"
    "  --tuner KIND        search strategy: xgb (default: model-guided, an XGBoost cost model\n"
    "                      retrained after each batch ranks thousands of candidates), ga\n"
    "                      (genetic), random or grid\n"
    "  --task-scheduler S  how tasks share the trials: gradient (default: after one round each,\n"
    "                      the next batch goes to the task expected to cut sum(weight x best\n"
    "                      latency) most; tasks still improving get more) or round-robin (by\n"
    "                      weight)\n"
    "  --model-in F        xgb: start from the cost model saved in F (by --model-out or\n"
    "                      `tvm-tune model eval --model-out`) instead of random first batches\n"
    "  --model-out F       save a cost model trained on every record of the log to F\n"
    "  --transfer LOG      xgb: train the first model on the records of LOG (other workloads,\n"
    "                      same op or not; together they weigh as 64 of the task's own\n"
    "                      records); repeat the flag for several logs\n"
    "  --log PATH          the log (default: OP.log in the current directory, named after\n"
    "                      OP.json); an existing non-empty log needs --resume\n"
    "  --db PATH|URI       also add every record to this database, with a row for the run\n"
    "                      (status running / finished / interrupted): an SQLite file, or\n"
    "                      PostgreSQL as postgresql://USER@HOST:PORT/DBNAME; default: none\n"
    "  --target T          target string (default: the file's \"target\", else this host; with\n"
    "                      --rpc, the first device's own, e.g. \"llvm -mtriple=aarch64-linux-gnu\n"
    "                      -mcpu=cortex-a72\")\n"
    "  --rpc HOST:PORT[,HOST:PORT...]\n"
    "                      measure on these tvm-tune-rpc servers instead of this CPU\n"
    "                      (repeatable): candidates are cross-built here, uploaded, checked\n"
    "                      against this host's reference output and timed on the device, one at\n"
    "                      a time per device, the devices in parallel; each record names its\n"
    "                      device. A device that dies during a candidate costs one error record;\n"
    "                      one that is down rests and is tried again while the others go on.\n"
    "                      Timings under an emulator are functional only\n"
    "  --rpc-key-file F    the devices' 32-byte key (`tvm-tune rpc keygen`); required with --rpc\n"
    "  --seed S            seed of the search and of the random inputs (default 1)\n"
    "  --resume            continue the log: candidates it holds are not measured again and the\n"
    "                      trial numbers go on from the largest one logged\n"
    "  --jobs N            parallel builds (default: the number of CPUs)\n"
    "  --serial-builds     build each batch before measuring it even when the kernels leave\n"
    "                      CPUs free (\"measure\": {\"threads\": T} below the CPUs); by default\n"
    "                      the builds then run on those CPUs while the batch is measured, the\n"
    "                      measuring thread pinned to a CPU of its own\n"
    "  --early-stopping N  end a task after N trials without a better candidate (default: off)\n"
    "  --timeout S         seconds a build or a run may take (default: measure.timeout_s)\n"
    "  --quiet             no progress display\n"
    "  --verbose           print every failed candidate as it happens, and where the time\n"
    "                      went (search, lowering, builds, measurement, records)\n"
    "  -h, --help          this text\n"
    "\n"
    "Progress goes to stderr, the summary table to stdout. After 20 failed candidates in a row\n"
    "a task stops with a diagnosis. Ctrl-C stops cleanly: the log is flushed and the run can be\n"
    "continued with --resume.\n"
    "\n"
    "Exit codes: 0 success, 1 a task failed (too many errors, no valid candidate), 2 bad usage\n"
    "or bad input (op.json, log, database path, target), 130 interrupted.\n";

/* OP.log in the current directory for a/b/OP.json. */
static char *default_log(const char *op_path)
{
    const char *base = strrchr(op_path, '/');
    base = base ? base + 1 : op_path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        len -= 5;
    char *log = malloc(len + 5);
    if (log)
        snprintf(log, len + 5, "%.*s.log", (int)len, base);
    return log;
}

/* The addresses of --rpc flags (each a comma-separated list), split into owned strings. */
typedef struct {
    char **addr;
    const char **keys;
    int n, cap;
} rpc_list;

static int add_rpc(rpc_list *l, const char *arg)
{
    const char *p = arg;
    do {
        size_t len = strcspn(p, ",");
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 4;
            char **a = realloc(l->addr, (size_t)cap * sizeof *a);
            if (a)
                l->addr = a;
            const char **k = realloc(l->keys, (size_t)cap * sizeof *k);
            if (k)
                l->keys = k;
            if (!a || !k) {
                fprintf(stderr, "tvm-tune: out of memory\n");
                return -1;
            }
            l->cap = cap;
        }
        l->addr[l->n] = strndup(p, len);
        if (!l->addr[l->n]) {
            fprintf(stderr, "tvm-tune: out of memory\n");
            return -1;
        }
        l->n++;
        p += len;
    } while (*p++ == ',');
    return 0;
}

static void free_rpc(rpc_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->addr[i]);
    free(l->addr);
    free(l->keys);
}

static int tune_with(int argc, char **argv, const char **transfer, rpc_list *l);

static int tune(int argc, char **argv, const char **transfer)
{
    rpc_list l = {0};
    int rc = tune_with(argc, argv, transfer, &l);
    free_rpc(&l);
    return rc;
}

static int tune_with(int argc, char **argv, const char **transfer, rpc_list *l)
{
    enum {
        O_TUNER = 256,
        O_LOG,
        O_DB,
        O_TARGET,
        O_SEED,
        O_RESUME,
        O_JOBS,
        O_EARLY,
        O_TIMEOUT,
        O_QUIET,
        O_VERBOSE,
        O_TRIALS,
        O_SCHED,
        O_MODEL_IN,
        O_MODEL_OUT,
        O_TRANSFER,
        O_RPC,
        O_RPC_KEY,
        O_SERIAL_BUILDS
    };
    static const struct option opts[] = {
        {"trials", required_argument, NULL, O_TRIALS},
        {"tuner", required_argument, NULL, O_TUNER},
        {"log", required_argument, NULL, O_LOG},
        {"db", required_argument, NULL, O_DB},
        {"target", required_argument, NULL, O_TARGET},
        {"seed", required_argument, NULL, O_SEED},
        {"resume", no_argument, NULL, O_RESUME},
        {"jobs", required_argument, NULL, O_JOBS},
        {"early-stopping", required_argument, NULL, O_EARLY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"task-scheduler", required_argument, NULL, O_SCHED},
        {"model-in", required_argument, NULL, O_MODEL_IN},
        {"model-out", required_argument, NULL, O_MODEL_OUT},
        {"transfer", required_argument, NULL, O_TRANSFER},
        {"rpc", required_argument, NULL, O_RPC},
        {"rpc-key-file", required_argument, NULL, O_RPC_KEY},
        {"serial-builds", no_argument, NULL, O_SERIAL_BUILDS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* Flags are parsed here; what their values may be is tt_tune_opts_check's to say. */
    tt_tune_opts o;
    tt_tune_opts_default(&o);
    long long v = 0;
    bool trials_given = false;
    const char *key_file = NULL;
    o.transfer = transfer;
    optind = 1;
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_TRIALS:
            if ((rc = tt_cli_parse_int("", "--trials", optarg, INT64_MIN, INT64_MAX, &v)) != 0)
                return rc;
            o.trials = v;
            trials_given = true;
            break;
        case O_TUNER:
            o.tuner = optarg;
            break;
        case O_LOG:
            o.log_path = optarg;
            break;
        case O_DB:
            o.db_path = optarg;
            break;
        case O_TARGET:
            o.target = optarg;
            break;
        case O_SEED:
            if ((rc = tt_cli_parse_int("", "--seed", optarg, 0, INT64_MAX, &v)) != 0)
                return rc;
            o.seed = (uint64_t)v;
            break;
        case O_RESUME:
            o.resume = true;
            break;
        case O_JOBS:
            if ((rc = tt_cli_parse_int("", "--jobs", optarg, INT_MIN, INT_MAX, &v)) != 0)
                return rc;
            o.jobs = (int)v;
            break;
        case O_EARLY:
            if ((rc = tt_cli_parse_int("", "--early-stopping", optarg, INT64_MIN, INT64_MAX, &v)) !=
                0)
                return rc;
            o.early_stopping = v;
            break;
        case O_TIMEOUT: {
            char *end = NULL;
            o.timeout_s = strtod(optarg, &end);
            if (end == optarg || *end) {
                fprintf(stderr, "tvm-tune: --timeout %s: expected a number of seconds\n", optarg);
                return TT_EXIT_USAGE;
            }
            break;
        }
        case O_QUIET:
            o.quiet = true;
            break;
        case O_VERBOSE:
            o.verbose = 1;
            break;
        case O_SERIAL_BUILDS:
            o.serial_builds = true;
            break;
        case O_SCHED:
            o.task_scheduler = optarg;
            break;
        case O_MODEL_IN:
            o.model_in = optarg;
            break;
        case O_MODEL_OUT:
            o.model_out = optarg;
            break;
        case O_TRANSFER:
            transfer[o.ntransfer++] = optarg;
            break;
        case O_RPC:
            if (add_rpc(l, optarg) != 0)
                return TT_EXIT_FAILURE;
            break;
        case O_RPC_KEY:
            key_file = optarg;
            break;
        case 'h':
            fputs(tune_usage, stdout);
            return TT_EXIT_OK;
        default:
            fputs(tune_usage, stderr);
            return TT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "tvm-tune: expected one OP.json file\n%s", tune_usage);
        return TT_EXIT_USAGE;
    }
    if (!trials_given) {
        fprintf(stderr, "tvm-tune: --trials N is required\n");
        return TT_EXIT_USAGE;
    }
    for (int i = 0; i < l->n; i++)
        l->keys[i] = key_file;
    o.rpc = (const char *const *)l->addr;
    o.rpc_key_files = l->keys;
    o.nrpc = l->n;
    if (key_file && l->n == 0) {
        fprintf(stderr, "tvm-tune: --rpc-key-file needs --rpc HOST:PORT\n");
        return TT_EXIT_USAGE;
    }
    const char *op_path = argv[optind];
    char *log = o.log_path ? NULL : default_log(op_path);
    if (log)
        o.log_path = log;
    if (tt_tune_opts_check(&o) != 0) {
        free(log);
        return tt_cli_fail("", TT_ERR_INVALID_ARGUMENT);
    }
    tt_opfile *file = NULL;
    if (tt_opfile_load(op_path, &file) != 0) {
        free(log);
        return tt_cli_fail("", TT_ERR_INVALID_ARGUMENT);
    }
    o.faults = getenv("TT_FAULT_INJECT"); /* test-only: tests/cli/test_tune_faults.sh */
    o.progress = stderr;

    tt_cli_stop stop;
    o.stop = tt_cli_stop_begin(&stop);

    /* The tuner's messages name --db: a URI's password moves to PGPASSWORD, where libpq finds it,
     * and the tuner gets the URI without it (docs/ARCHITECTURE.md, "Logs and the database"). */
    static char *db_shown; /* reachable until exit */
    char *password = tt_db_uri_password(o.db_path, 1);
    if (password && (db_shown = tt_db_display_name(o.db_path))) {
        setenv("PGPASSWORD", password, 1);
        o.db_path = db_shown;
    }
    free(password);

    tt_tune_result r;
    rc = tt_tune_run(file, &o, &r);
    tt_cli_stop_end(&stop);
    int exit_code;
    if (rc != 0) {
        exit_code = tt_cli_fail("", TT_ERR_UNKNOWN);
        if (r.ntasks > 0 && r.tasks[0].name)
            tt_tune_print_summary(&r, stdout);
    } else {
        tt_tune_print_summary(&r, stdout);
        char *db_name = tt_db_display_name(o.db_path); /* a URI without its password */
        printf("log: %s%s%s\n", o.log_path, db_name ? "  database: " : "", db_name ? db_name : "");
        free(db_name);
        /* What tuning cost beyond the timed kernel runs the protocol asks for: builds,
         * reference, process start-up, search. */
        if (r.timed_s > 0)
            printf("time: %.1f s, of which timed kernel runs %.1f s (overhead %.2fx)\n",
                   r.elapsed_s, r.timed_s, r.elapsed_s / r.timed_s);
        if (o.verbose)
            printf("time by phase: search %.1f s, lowering %.1f s, builds %.1f s, measurement "
                   "%.1f s (timed runs %.1f s), records %.1f s, re-measurement %.1f s\n",
                   r.search_s, r.lower_s, r.build_s, r.measure_s, r.timed_s, r.record_s,
                   r.remeasure_s);
        if (o.verbose && r.repeats > 0)
            printf("timed repeats: %lld, of which %lld (%.0f%%) lost a CPU to another process "
                   "(their figures move with the machine's load)\n",
                   (long long)r.repeats, (long long)r.disturbed,
                   100.0 * (double)r.disturbed / (double)r.repeats);
        for (int i = 0; i < r.ntasks; i++)
            if (r.tasks[i].diagnosis && r.tasks[i].diagnosis[0])
                fprintf(stderr, "tvm-tune: task %s: %s\n", r.tasks[i].name, r.tasks[i].diagnosis);
        if (r.status == TT_TUNE_INTERRUPTED) {
            fprintf(stderr, "tvm-tune: interrupted; the log is complete up to the last "
                            "candidate: continue with --resume\n");
            exit_code = tt_cli_exit_code(TT_ERR_INTERRUPTED);
        } else if (r.status == TT_TUNE_FAILED) {
            for (int i = 0; i < r.ntasks; i++)
                if (r.tasks[i].trials > 0 && !r.tasks[i].best_steps &&
                    !(r.tasks[i].diagnosis && r.tasks[i].diagnosis[0]))
                    fprintf(stderr, "tvm-tune: task %s: no valid candidate in %lld trials\n",
                            r.tasks[i].name, (long long)r.tasks[i].trials);
            exit_code = TT_EXIT_FAILURE;
        } else {
            exit_code = TT_EXIT_OK;
        }
    }
    tt_tune_result_free(&r);
    free(log);
    tt_opfile_free(file);
    return exit_code;
}

int tt_cli_tune(int argc, char **argv)
{
    /* at most argc of them: each --transfer takes an argument */
    const char **transfer = calloc((size_t)argc + 1, sizeof *transfer);
    if (!transfer) {
        fprintf(stderr, "tvm-tune: out of memory\n");
        return TT_EXIT_FAILURE;
    }
    int rc = tune(argc, argv, transfer);
    free(transfer);
    return rc;
}
