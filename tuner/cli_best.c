/* `tvm-tune best`: what the database and logs know of each task of an op file (its best record
 * for the target: GFLOPS, median time, trial, schedule), or, without an op file, of every
 * workload in the database. Also the record printer that `db best` shares. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/opjson.h"
#include "logs/db.h"
#include "tuner/cli.h"
#include "tuner/compile.h"

static const char best_usage[] =
    "usage: tvm-tune best [OP.json] --db FILE [--log FILE]... [--target T]\n"
    "\n"
    "Prints, for each task of OP.json, the best record (lowest median cost, errors excluded) of\n"
    "its workload on the target: GFLOPS, median time, trial and its schedule (the steps JSON, as\n"
    "`tvm-tune show --steps` takes it), or \"no record\". A schedule measured more than once\n"
    "(the tuner measures its winner again) ranks first and counts at its latest measurement,\n"
    "as `tvm-tune compile` ranks them. Without OP.json: the best record of every workload and\n"
    "target in the database, by median cost alone (as `db best`).\n"
    "\n"
    "  --db FILE     the tuning database (must exist; it is only read): an SQLite file or\n"
    "                postgresql://USER@HOST:PORT/DBNAME\n"
    "  --log FILE    a tuning log to take records from as well (repeatable; needs OP.json)\n"
    "  --target T    the target (default: the file's \"target\", else this host; without\n"
    "                OP.json: every target)\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage, op.json, database or log.\n";

int tt_cli_best(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},
        {"target", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = NULL, *target_str = NULL;
    const char **logs = calloc((size_t)argc + 1, sizeof *logs);
    int nlogs = 0;
    if (!logs) {
        fprintf(stderr, "tvm-tune best: out of memory\n");
        return TT_EXIT_FAILURE;
    }
    optind = 1;
    int c, rc = TT_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'l':
            logs[nlogs++] = optarg;
            break;
        case 'T':
            target_str = optarg;
            break;
        case 'h':
            fputs(best_usage, stdout);
            free(logs);
            return TT_EXIT_OK;
        default:
            fputs(best_usage, stderr);
            free(logs);
            return TT_EXIT_USAGE;
        }
    }
    tt_opfile *file = NULL;
    tt_compile_records *recs = NULL;
    char *target = NULL;
    if (optind < argc - 1 || (optind == argc && (!db_path || nlogs > 0)) ||
        (!db_path && nlogs == 0)) {
        fprintf(stderr,
                "tvm-tune best: expected [OP.json] and --db FILE (--log needs OP.json)"
                "\n%s",
                best_usage);
        goto done;
    }
    if (optind == argc) {
        if (target_str && (rc = tt_cli_target_canonical("best", target_str, &target)) != 0)
            goto done;
        rc = tt_cli_print_db_best("best", db_path, NULL, target, 1);
        goto done;
    }
    if (db_path && (rc = tt_cli_check_db_exists("best", db_path)) != 0)
        goto done;
    if (tt_opfile_load(argv[optind], &file)) {
        rc = tt_cli_fail("best", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if ((rc = tt_cli_target_canonical("best", target_str ? target_str : file->target, &target)) !=
        0)
        goto done;
    if (tt_compile_records_load(db_path, logs, nlogs, target, &recs)) {
        rc = tt_cli_fail("best", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if (recs->warnings)
        fputs(recs->warnings, stderr);
    for (int i = 0; i < file->ntasks; i++) {
        const tt_task *task = &file->tasks[i];
        const tt_record *r = tt_compile_records_find(recs, task->key);
        printf("%s  (key %s, target %s)\n", task->name, task->key, target);
        size_t times = r ? tt_compile_records_measured(recs, r) : 0;
        if (r)
            tt_cli_print_record(r, "  ");
        if (times > 1)
            printf("  (schedule measured %zu times: the latest counts)\n", times);
        else if (!r)
            printf("  no record\n");
    }
    rc = TT_EXIT_OK;
done:
    tt_compile_records_free(recs);
    tt_opfile_free(file);
    free(target);
    free(logs);
    return rc;
}
