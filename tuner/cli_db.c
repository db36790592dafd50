/* `tvm-tune db`: the tuning database by hand. import (logs into it, idempotent), export (a log of
 * it, or of its best K per workload for shipping), best, stats and merge (another database into
 * it). The work is logs/db.c's; this file parses flags and prints. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logs/db.h"
#include "tuner/cli.h"

static const char db_usage[] =
    "usage: tvm-tune db <subcommand> [<args>]\n"
    "\n"
    "The tuning database: workloads, every measured record, one row per tuning run. FILE is an\n"
    "SQLite file or a PostgreSQL database, postgresql://USER@HOST:PORT/DBNAME (any libpq URI;\n"
    "the password from the URI, PGPASSWORD or PGPASSFILE, never printed).\n"
    "\n"
    "  import LOG... --db FILE           add the records of tuning logs (creates FILE if needed;\n"
    "                                    records already present are skipped)\n"
    "  export --db FILE -o LOG [--best K]  write the records as a log (--best K: only the best K\n"
    "                                    of each workload and target, errors excluded)\n"
    "  best --db FILE [--key K] [--target T] [-k N]  the best N records (default 1) of each\n"
    "                                    workload and target\n"
    "  stats --db FILE                   what the database holds\n"
    "  merge --db FILE OTHER             add another database's workloads, runs and records\n"
    "                                    (either may be a file or a URI)\n"
    "\n"
    "Run `tvm-tune db SUBCOMMAND --help` for details.\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage or bad input.\n";

static const char import_usage[] =
    "usage: tvm-tune db import LOG... --db FILE [--tolerant]\n"
    "\n"
    "Adds the records of each LOG to the database FILE (created with its schema when it does not\n"
    "exist) and prints how many were added and how many were already there. Importing a log twice\n"
    "adds nothing. A truncated last line (a tuner killed while writing) is skipped with a "
    "warning.\n"
    "\n"
    "  --db FILE     the database\n"
    "  --tolerant    skip every malformed line with a warning (default: a malformed line before\n"
    "                the last is an error; the records before it stay imported)\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage, unreadable or malformed log.\n";

static const char export_usage[] =
    "usage: tvm-tune db export --db FILE -o LOG [--best K]\n"
    "\n"
    "Writes the database's records as a tuning log (replacing LOG atomically): every record,\n"
    "errors included, in the order they were added; or with --best K the best K records of each\n"
    "workload and target, errors excluded (a small log to ship beside a model).\n"
    "\n"
    "  --db FILE         the database (must exist)\n"
    "  -o, --output LOG  the log to write\n"
    "  --best K          keep the best K per workload and target (K >= 1)\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit codes: 0 success, 1 database or write failure, 2 bad usage, database or output path.\n";

static const char best_usage[] =
    "usage: tvm-tune db best --db FILE [--key K] [--target T] [-k N]\n"
    "\n"
    "Prints the best N records (lowest median cost, errors excluded) of each workload and target:\n"
    "GFLOPS, median time, spread of the repeats, trial, and the schedule's steps.\n"
    "\n"
    "  --db FILE     the database (must exist)\n"
    "  --key K       only the workload with this key (as in the log's \"key\")\n"
    "  --target T    only this target (canonicalised: \"llvm -mcpu=native\" is this host)\n"
    "  -k N          records per workload and target (default 1; 0: all)\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage or database.\n";

static const char stats_usage[] =
    "usage: tvm-tune db stats --db FILE\n"
    "\n"
    "Prints how many workloads, targets, records and error records the database holds, and its\n"
    "tuning runs by status (a run still \"running\" whose tuner is gone was killed).\n"
    "\n"
    "  --db FILE     the database (must exist)\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage or database.\n";

static const char merge_usage[] =
    "usage: tvm-tune db merge --db FILE OTHER\n"
    "\n"
    "Adds the workloads, runs and records of OTHER (only read) to FILE (created when it does\n"
    "not exist) and prints how many records were new. Merging twice adds nothing. Either may be\n"
    "an SQLite file or a PostgreSQL URI: a laptop's file into the farm's database, the farm's\n"
    "database into a release file.\n"
    "\n"
    "  --db FILE     the database merged into\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit codes: 0 success, 1 database failure, 2 bad usage or a file that is not a database.\n";

typedef struct {
    const char *db, *out, *key, *target;
    long long best_k, k;
    int tolerant;
} db_args;

/* Parses the flags of a subcommand (the ones `allowed` lists by short name); returns -1 to go
 * on, or an exit code (help printed, bad usage). */
static int parse(int argc, char **argv, const char *usage, const char *allowed, db_args *a)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"output", required_argument, NULL, 'o'},
        {"best", required_argument, NULL, 'b'},   {"key", required_argument, NULL, 'K'},
        {"target", required_argument, NULL, 'T'}, {"tolerant", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->k = 1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ho:k:", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return TT_EXIT_OK;
        }
        if (c == '?' || !strchr(allowed, c)) {
            if (c != '?')
                fprintf(stderr, "tvm-tune db %s: unexpected option '%s'\n", argv[0],
                        argv[optind - 1]);
            fputs(usage, stderr);
            return TT_EXIT_USAGE;
        }
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'K':
            a->key = optarg;
            break;
        case 'T':
            a->target = optarg;
            break;
        case 't':
            a->tolerant = 1;
            break;
        case 'b':
        case 'k': {
            char cmd[32];
            snprintf(cmd, sizeof cmd, "db %s", argv[0]);
            int rc = tt_cli_parse_int(cmd, c == 'b' ? "--best" : "-k", optarg, c == 'b' ? 1 : 0,
                                      LLONG_MAX, c == 'b' ? &a->best_k : &a->k);
            if (rc != TT_EXIT_OK)
                return rc;
            break;
        }
        default:
            break;
        }
    }
    if (!a->db) {
        fprintf(stderr, "tvm-tune db %s: --db FILE is required\n%s", argv[0], usage);
        return TT_EXIT_USAGE;
    }
    return -1;
}

/* Opens the database; must_exist: a missing file is bad input, never created. */
static int open_db(const char *cmd, const char *path, int must_exist, tt_db **db)
{
    int rc;
    if (must_exist && (rc = tt_cli_check_db_exists(cmd, path)) != 0)
        return rc;
    if (tt_db_open(path, db))
        return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT); /* the file the user named */
    return TT_EXIT_OK;
}

static int db_import(int argc, char **argv)
{
    db_args a;
    int rc = parse(argc, argv, import_usage, "dt", &a);
    if (rc >= 0)
        return rc;
    if (optind == argc) {
        fprintf(stderr, "tvm-tune db import: expected at least one LOG\n%s", import_usage);
        return TT_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            fprintf(stderr, "tvm-tune db import: cannot open log '%s'\n", argv[i]);
            return TT_EXIT_USAGE;
        }
        fclose(f);
    }
    tt_db *db = NULL;
    if ((rc = open_db("db import", a.db, 0, &db)) != 0)
        return rc;
    size_t total_added = 0, total_skipped = 0;
    for (int i = optind; i < argc && rc == 0; i++) {
        tt_log_stats stats;
        size_t added = 0, skipped = 0;
        int failed = tt_db_import_log_mode(
            db, argv[i], a.tolerant ? TT_LOG_TOLERANT : TT_LOG_STRICT, &stats, &added, &skipped);
        if (stats.warnings)
            fputs(stats.warnings, stderr);
        if (failed) {
            /* The records before the error are in and stay in. A malformed line is bad input
             * (PARSE); anything uncategorised is the database's failure. */
            rc = tt_cli_fail("db import", TT_ERR_UNKNOWN);
        } else {
            printf("%s: %zu added, %zu skipped (already present)%s\n", argv[i], added, skipped,
                   stats.skipped ? ", malformed lines skipped" : "");
            total_added += added;
            total_skipped += skipped;
        }
        tt_log_stats_free(&stats);
    }
    if (rc == 0 && argc - optind > 1)
        printf("total: %zu added, %zu skipped\n", total_added, total_skipped);
    if (tt_db_close(db) && rc == 0)
        rc = tt_cli_fail("db import", TT_ERR_UNKNOWN);
    return rc;
}

static int db_export(int argc, char **argv)
{
    db_args a;
    int rc = parse(argc, argv, export_usage, "dob", &a);
    if (rc >= 0)
        return rc;
    if (optind != argc || !a.out) {
        fprintf(stderr, "tvm-tune db export: expected -o LOG and no other argument\n%s",
                export_usage);
        return TT_EXIT_USAGE;
    }
    if ((rc = tt_cli_check_out_dir("db export", a.out)) != 0)
        return rc;
    struct stat in, out;
    if (!tt_db_is_uri(a.db) && stat(a.db, &in) == 0 && stat(a.out, &out) == 0 &&
        in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
        fprintf(stderr, "tvm-tune db export: -o %s is the database itself\n", a.out);
        return TT_EXIT_USAGE;
    }
    tt_db *db = NULL;
    if ((rc = open_db("db export", a.db, 1, &db)) != 0)
        return rc;
    size_t written = 0;
    if (tt_db_export(db, a.out, (size_t)a.best_k, &written)) {
        rc = tt_cli_fail("db export", TT_ERR_UNKNOWN);
    } else if (a.best_k) {
        printf("wrote %zu records (the best %lld per workload and target) to %s\n", written,
               a.best_k, a.out);
    } else {
        printf("wrote %zu records to %s\n", written, a.out);
    }
    tt_db_close(db);
    return rc;
}

static int db_best(int argc, char **argv)
{
    db_args a;
    int rc = parse(argc, argv, best_usage, "dKTk", &a);
    if (rc >= 0)
        return rc;
    if (optind != argc) {
        fprintf(stderr, "tvm-tune db best: unexpected argument '%s'\n%s", argv[optind], best_usage);
        return TT_EXIT_USAGE;
    }
    char *target = NULL;
    if (a.target && (rc = tt_cli_target_canonical("db best", a.target, &target)) != 0)
        return rc;
    rc = tt_cli_print_db_best("db best", a.db, a.key, target, (size_t)a.k);
    free(target);
    return rc;
}

static int db_stats(int argc, char **argv)
{
    db_args a;
    int rc = parse(argc, argv, stats_usage, "d", &a);
    if (rc >= 0)
        return rc;
    if (optind != argc) {
        fprintf(stderr, "tvm-tune db stats: unexpected argument '%s'\n%s", argv[optind],
                stats_usage);
        return TT_EXIT_USAGE;
    }
    tt_db *db = NULL;
    if ((rc = open_db("db stats", a.db, 1, &db)) != 0)
        return rc;
    tt_db_counts n;
    if (tt_db_stats(db, &n)) {
        rc = tt_cli_fail("db stats", TT_ERR_UNKNOWN);
        tt_db_close(db);
        return rc;
    }
    printf("database:  %s\n", tt_db_path(db)); /* a URI without its password */
    printf("workloads: %lld\n", (long long)n.workloads);
    printf("targets:   %lld\n", (long long)n.targets);
    printf("records:   %lld (%lld errors)\n", (long long)n.records, (long long)n.errors);
    printf("runs:      %lld running, %lld finished, %lld interrupted\n",
           (long long)n.runs[TT_RUN_RUNNING], (long long)n.runs[TT_RUN_FINISHED],
           (long long)n.runs[TT_RUN_INTERRUPTED]);
    tt_db_close(db);
    return TT_EXIT_OK;
}

static int db_merge(int argc, char **argv)
{
    db_args a;
    int rc = parse(argc, argv, merge_usage, "d", &a);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1) {
        fprintf(stderr, "tvm-tune db merge: expected one OTHER database\n%s", merge_usage);
        return TT_EXIT_USAGE;
    }
    const char *other = argv[optind];
    if ((rc = tt_cli_check_db_exists("db merge", other)) != 0)
        return rc;
    tt_db *db = NULL;
    if ((rc = open_db("db merge", a.db, 0, &db)) != 0)
        return rc;
    size_t added = 0;
    if (tt_db_merge(db, other, &added)) {
        /* not a database, itself, conflicting workloads: bad input, by category */
        rc = tt_cli_fail("db merge", TT_ERR_UNKNOWN);
    } else {
        char *name = tt_db_display_name(other); /* URIs without their passwords */
        printf("merged %s into %s: %zu records added\n", name ? name : "", tt_db_path(db), added);
        free(name);
    }
    tt_db_close(db);
    return rc;
}

int tt_cli_db(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"import", db_import},
                {"export", db_export},
                {"best", db_best},
                {"stats", db_stats},
                {"merge", db_merge}};
    if (argc < 2) {
        fputs(db_usage, stderr);
        return TT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(db_usage, stdout);
        return TT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tvm-tune db: unknown subcommand '%s'\n\n%s", argv[1], db_usage);
    return TT_EXIT_USAGE;
}
