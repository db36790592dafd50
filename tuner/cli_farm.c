/* `tvm-tune farm`: the device pool, the job queue and the worker of a tuning farm, kept in a
 * PostgreSQL database (docs/ARCHITECTURE.md, "Farms"). The work is farm/'s; this file parses
 * flags and prints. Credentials come only from the URI, PGPASSFILE or the environment, and no
 * message repeats the URI. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/farm.h"
#include "farm/worker.h"
#include "tuner/cli.h"

static const char farm_usage[] =
    "usage: tvm-tune farm <subcommand> [<args>]\n"
    "\n"
    "A tuning farm: RPC devices, a queue of tuning jobs and any number of workers, sharing one\n"
    "PostgreSQL database (--db postgresql://USER@HOST:PORT/DBNAME; the password from PGPASSFILE,\n"
    "~/.pgpass or PGPASSWORD, never a flag). The farm's tables are created on first use; the\n"
    "workers' records go to the same database's tuning tables, which compile, best and db read\n"
    "with the same --db.\n"
    "\n"
    "  device add --db URL --kind KIND HOST:PORT [--key NAME]   add an RPC server to the pool (or\n"
    "                                 bring a quarantined one back)\n"
    "  device remove --db URL HOST:PORT                           take it out of the pool\n"
    "  devices --db URL               the pool: kind, address, state, last seen, failures\n"
    "  submit OP.json --db URL --trials N --kind KIND [--target T]  one job per task\n"
    "  status --db URL                every job: trials done / asked, best GFLOPS, state, worker\n"
    "  work --db URL [--key-dir D] [--until-empty] [--lease-s S] [--devices N]  run jobs\n"

    "\n"
    "Run `tvm-tune farm SUBCOMMAND --help` for details.\n"
    "Exit codes: 0 success, 1 database failure (the server is named), 2 bad usage or bad input,\n"
    "130 interrupted.\n";

static const char device_usage[] =
    "usage: tvm-tune farm device add --db URL --kind KIND HOST:PORT [--key NAME]\n"
    "       tvm-tune farm device remove --db URL HOST:PORT\n"
    "\n"
    "add registers the RPC server (tvm-tune-rpc) at HOST:PORT as a device of KIND. Workers\n"
    "authenticate with the key file NAME in their --key-dir (default NAME: KIND); the key itself\n"
    "never goes into the database. Adding an address again updates its kind and key and clears\n"
    "its quarantine and failure count. remove takes the device out of the pool.\n"
    "\n"
    "  --db URL      the farm's database (postgresql:// or postgres://)\n"
    "  --kind KIND   the device kind jobs name (e.g. rk3399)\n"
    "  --key NAME    the key file's name in a worker's --key-dir (a file name, not a path)\n"
    "  -h, --help    this text\n";

static const char devices_usage[] =
    "usage: tvm-tune farm devices --db URL\n"
    "\n"
    "Lists the pool: kind, address, failures in a row, last seen (the last answer a worker\n"
    "reported), and the state: free, leased by WORKER until WHEN (\"lease expired\" once its\n"
    "holder stopped renewing: the next lease takes it), or quarantined: REASON.\n";

static const char submit_usage[] =
    "usage: tvm-tune farm submit OP.json --db URL --trials N --kind KIND [--target T]\n"
    "\n"
    "Enqueues one job per task of OP.json: N trials on devices of KIND. The job holds the task\n"
    "itself (workers on other hosts do not read OP.json) and the file's measure settings.\n"
    "Submitting the same task, kind, target and trials again adds nothing.\n"
    "\n"
    "  --db URL      the farm's database\n"
    "  --trials N    trials per task (N >= 1)\n"
    "  --kind KIND   the device kind that measures the jobs\n"
    "  --target T    the target to compile for (canonicalised); default: the device's own\n"
    "  -h, --help    this text\n";

static const char status_usage[] =
    "usage: tvm-tune farm status --db URL\n"
    "\n"
    "Lists every job: id, task, trials done / asked, best GFLOPS, state (queued, running, done,\n"
    "failed; \"lease expired\" when its worker stopped renewing), worker, devices, and why a job\n"
    "failed.\n";

static const char work_usage[] =
    "usage: tvm-tune farm work --db URL [--key-dir D] [--until-empty] [--lease-s S]\n"
    "                          [--devices N] [--tuner T] [--jobs N] [--name W] [--quiet]\n"
    "\n"
    "Runs jobs: claims one, leases devices of its kind (waiting while none is free), tunes it\n"
    "with the usual tuner and cost model, continuing from every record already stored for it\n"
    "(a job another worker started is continued, nothing measured twice), stores each record\n"
    "in the database under the job's lease, and ends the job. Leases are renewed every third of\n"
    "S seconds; a worker that dies loses its job after S seconds, and another worker takes it.\n"
    "Ctrl-C gives the job in hand back to the queue.\n"
    "\n"
    "  --db URL        the farm's database\n"
    "  --key-dir D     where the devices' key files are (default: the current directory)\n"
    "  --until-empty   return once no job is queued or running (waiting out the lease of a job\n"
    "                  whose worker died, and then finishing it); default: wait for more jobs\n"
    "  --lease-s S     lease length in seconds, 3 to 86400 (default 60)\n"
    "  --devices N     devices leased per job, 1 to 64 (default 1)\n"
    "  --tuner T       search strategy: xgb (default), ga, random, grid\n"
    "  --jobs N        parallel builds (default: the number of CPUs)\n"
    "  --name W        this worker's name in the tables (default HOST:PID)\n"
    "  --quiet         no progress display\n"
    "  -h, --help      this text\n"
    "\n"
    "Exit codes: 0 stopped with --until-empty and no open job, 1 database failure or open jobs\n"
    "that no worker can take (no device of their kind), 2 bad usage, 130 interrupted.\n";

typedef struct {
    const char *name;   /* "--db" */
    const char **value; /* string flag */
    bool *on;           /* boolean flag */
} flag;

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Parses argv[1..] into flags and positional arguments (at most max_pos). TT_EXIT_OK, or prints
 * what is wrong, naming the flag, and returns TT_EXIT_USAGE. *help set: print the usage. */
static int parse(const char *cmd, int argc, char **argv, const flag *flags, const char **pos,
                 int max_pos, int *npos, bool *help)
{
    *npos = 0;
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            *help = true;
            return TT_EXIT_OK;
        }
        if (a[0] == '-' && a[1]) {
            const flag *f = NULL;
            for (const flag *p = flags; p->name && !f; p++)
                if (strcmp(p->name, a) == 0)
                    f = p;
            if (!f) {
                fprintf(stderr, "tvm-tune %s: unknown flag '%s' (--help lists them)\n", cmd, a);
                return TT_EXIT_USAGE;
            }
            if (f->on) {
                *f->on = true;
                continue;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "tvm-tune %s: %s needs a value\n", cmd, a);
                return TT_EXIT_USAGE;
            }
            *f->value = argv[++i];
            continue;
        }
        if (*npos >= max_pos) {
            fprintf(stderr, "tvm-tune %s: unexpected argument '%s'\n", cmd, a);
            return TT_EXIT_USAGE;
        }
        pos[(*npos)++] = a;
    }
    return TT_EXIT_OK;
}

static int need(const char *cmd, const char *flag_name, const char *value)
{
    if (value)
        return TT_EXIT_OK;
    fprintf(stderr, "tvm-tune %s: %s is required\n", cmd, flag_name);
    return TT_EXIT_USAGE;
}

/* Checks the URI (bad usage: exit 2) and connects (exit 1 naming the server). */
static int open_farm(const char *cmd, const char *uri, tt_farm **f)
{
    *f = NULL;
    if (tt_farm_uri_check(uri) || tt_farm_open(uri, f))
        return tt_cli_fail(cmd, TT_ERR_UNKNOWN);
    return TT_EXIT_OK;
}

static int cmd_device(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(device_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? TT_EXIT_USAGE : TT_EXIT_OK;
    }
    bool add = strcmp(argv[1], "add") == 0;
    if (!add && strcmp(argv[1], "remove") != 0) {
        fprintf(stderr, "tvm-tune farm device: unknown subcommand '%s'\n\n%s", argv[1],
                device_usage);
        return TT_EXIT_USAGE;
    }
    const char *cmd = add ? "farm device add" : "farm device remove";
    const char *db = NULL, *kind = NULL, *key = NULL, *pos[1];
    const flag add_flags[] = {
        {"--db", &db, NULL}, {"--kind", &kind, NULL}, {"--key", &key, NULL}, {NULL, NULL, NULL}};
    const flag remove_flags[] = {{"--db", &db, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    bool help = false;
    int rc = parse(cmd, argc - 1, argv + 1, add ? add_flags : remove_flags, pos, 1, &npos, &help);
    if (help) {
        fputs(device_usage, stdout);
        return TT_EXIT_OK;
    }
    if (rc || (rc = need(cmd, "--db URL", db)) || (add && (rc = need(cmd, "--kind", kind))))
        return rc;
    if (npos != 1) {
        fprintf(stderr, "tvm-tune %s: expected one HOST:PORT\n", cmd);
        return TT_EXIT_USAGE;
    }
    tt_farm *f = NULL;
    if ((rc = open_farm(cmd, db, &f)))
        return rc;
    int created = 0;
    if (add ? tt_farm_device_add(f, kind, pos[0], key, &created) : tt_farm_device_remove(f, pos[0]))
        rc = tt_cli_fail(cmd, TT_ERR_UNKNOWN);
    else if (add)
        printf("%s %s (kind %s, key %s)\n", created ? "added" : "updated", pos[0], kind,
               key ? key : kind);
    else
        printf("removed %s\n", pos[0]);
    tt_farm_close(f);
    return rc;
}

/* The commands that take only --db: their flags read, the farm opened. *f NULL: done already
 * (the help printed, or a usage or connection error), return the code. */
static int open_listing(const char *cmd, const char *usage, int argc, char **argv, tt_farm **f)
{
    const char *db = NULL, *pos[1];
    const flag flags[] = {{"--db", &db, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    bool help = false;
    *f = NULL;
    int rc = parse(cmd, argc, argv, flags, pos, 0, &npos, &help);
    if (help) {
        fputs(usage, stdout);
        return TT_EXIT_OK;
    }
    if (rc || (rc = need(cmd, "--db URL", db)))
        return rc;
    return open_farm(cmd, db, f);
}

static int cmd_devices(int argc, char **argv)
{
    const char *cmd = "farm devices";
    tt_farm *f = NULL;
    int rc = open_listing(cmd, devices_usage, argc, argv, &f);
    if (!f)
        return rc;
    tt_farm_device *d = NULL;
    size_t n = 0;
    if (tt_farm_device_list(f, &d, &n)) {
        rc = tt_cli_fail(cmd, TT_ERR_UNKNOWN);
        tt_farm_close(f);
        return rc;
    }
    if (n == 0)
        printf("no device (add one: tvm-tune farm device add)\n");
    else
        printf("%-12s %-24s %-8s %-23s %s\n", "KIND", "ADDRESS", "FAILURES", "LAST SEEN", "STATE");
    for (size_t i = 0; i < n; i++) {
        char state[1024];
        if (strcmp(d[i].state, "leased") == 0)
            snprintf(state, sizeof state, "leased by %s until %s%s", d[i].holder, d[i].lease_until,
                     d[i].lease_expired ? " (lease expired)" : "");
        else if (strcmp(d[i].state, "quarantined") == 0)
            snprintf(state, sizeof state, "quarantined: %s", d[i].quarantine_reason);
        else
            snprintf(state, sizeof state, "%s", d[i].state);
        printf("%-12s %-24s %-8d %-23s %s\n", d[i].kind, d[i].addr, d[i].failures_in_row,
               d[i].last_seen[0] ? d[i].last_seen : "never", state);
    }
    tt_farm_device_list_free(d, n);
    tt_farm_close(f);
    return TT_EXIT_OK;
}

static int cmd_submit(int argc, char **argv)
{
    const char *cmd = "farm submit", *db = NULL, *trials_s = NULL, *kind = NULL, *target_s = NULL,
               *pos[1];
    const flag flags[] = {{"--db", &db, NULL},
                          {"--trials", &trials_s, NULL},
                          {"--kind", &kind, NULL},
                          {"--target", &target_s, NULL},
                          {NULL, NULL, NULL}};
    int npos = 0;
    bool help = false;
    int rc = parse(cmd, argc, argv, flags, pos, 1, &npos, &help);
    if (help) {
        fputs(submit_usage, stdout);
        return TT_EXIT_OK;
    }
    if (rc || (rc = need(cmd, "--db URL", db)) || (rc = need(cmd, "--trials N", trials_s)) ||
        (rc = need(cmd, "--kind KIND", kind)))
        return rc;
    if (npos != 1) {
        fprintf(stderr, "tvm-tune %s: expected one OP.json\n", cmd);
        return TT_EXIT_USAGE;
    }
    long long trials = 0;
    if ((rc = tt_cli_parse_int(cmd, "--trials", trials_s, 1, LLONG_MAX, &trials)))
        return rc;
    if (tt_farm_uri_check(db))
        return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT);
    char *target = NULL;
    if (target_s && (rc = tt_cli_target_canonical(cmd, target_s, &target)))
        return rc;
    tt_opfile *file = NULL;
    if (tt_opfile_load(pos[0], &file)) {
        free(target);
        return tt_cli_fail(cmd, TT_ERR_PARSE);
    }
    tt_farm *f = NULL;
    if ((rc = open_farm(cmd, db, &f)) == TT_EXIT_OK) {
        int added = 0, existing = 0;
        if (tt_farm_submit(f, file, trials, kind, target, &added, &existing))
            rc = tt_cli_fail(cmd, TT_ERR_UNKNOWN);
        else
            printf("submitted %d job%s (%d already queued) of %lld trials on %s\n", added,
                   added == 1 ? "" : "s", existing, trials, kind);
        tt_farm_close(f);
    }
    tt_opfile_free(file);
    free(target);
    return rc;
}

static int cmd_status(int argc, char **argv)
{
    const char *cmd = "farm status";
    tt_farm *f = NULL;
    int rc = open_listing(cmd, status_usage, argc, argv, &f);
    if (!f)
        return rc;
    tt_farm_job *jobs = NULL;
    size_t n = 0;
    if (tt_farm_job_list(f, &jobs, &n)) {
        rc = tt_cli_fail(cmd, TT_ERR_UNKNOWN);
        tt_farm_close(f);
        return rc;
    }
    if (n == 0)
        printf("no job (submit some: tvm-tune farm submit)\n");
    else
        printf("%-5s %-36s %-13s %-11s %-24s %-22s %s\n", "JOB", "TASK", "TRIALS", "GFLOPS",
               "STATE", "WORKER", "DEVICES");
    for (size_t i = 0; i < n; i++) {
        const tt_farm_job *j = &jobs[i];
        char trials[48], gflops[32], state[64];
        snprintf(trials, sizeof trials, "%lld/%lld", (long long)j->trials_done,
                 (long long)j->trials);
        if (j->best_gflops > 0)
            snprintf(gflops, sizeof gflops, "%.2f", j->best_gflops);
        else
            snprintf(gflops, sizeof gflops, "-");
        snprintf(state, sizeof state, "%s%s", j->state, j->lease_expired ? " (lease expired)" : "");
        printf("%-5lld %-36s %-13s %-11s %-24s %-22s %s\n", (long long)j->id, j->name, trials,
               gflops, state, j->worker[0] ? j->worker : "-", j->devices[0] ? j->devices : "-");
        if (j->error[0])
            printf("      %s: %s\n", strcmp(j->state, "failed") == 0 ? "error" : "note", j->error);
    }
    tt_farm_job_list_free(jobs, n);
    tt_farm_close(f);
    return TT_EXIT_OK;
}

static int cmd_work(int argc, char **argv)
{
    const char *cmd = "farm work", *db = NULL, *key_dir = NULL, *lease_s = NULL, *devices = NULL,
               *tuner = NULL, *jobs = NULL, *name = NULL, *pos[1];
    bool until_empty = false, quiet = false;
    const flag flags[] = {{"--db", &db, NULL},
                          {"--key-dir", &key_dir, NULL},
                          {"--until-empty", NULL, &until_empty},
                          {"--lease-s", &lease_s, NULL},
                          {"--devices", &devices, NULL},
                          {"--tuner", &tuner, NULL},
                          {"--jobs", &jobs, NULL},
                          {"--name", &name, NULL},
                          {"--quiet", NULL, &quiet},
                          {NULL, NULL, NULL}};
    int npos = 0;
    bool help = false;
    int rc = parse(cmd, argc, argv, flags, pos, 0, &npos, &help);
    if (help) {
        fputs(work_usage, stdout);
        return TT_EXIT_OK;
    }
    if (rc || (rc = need(cmd, "--db URL", db)))
        return rc;
    tt_farm_worker_opts o;
    tt_farm_worker_opts_default(&o);
    long long v = 0;
    if (lease_s) {
        if ((rc = tt_cli_parse_int(cmd, "--lease-s", lease_s, 3, 86400, &v)))
            return rc;
        o.lease_s = (double)v;
    }
    if (devices) {
        if ((rc = tt_cli_parse_int(cmd, "--devices", devices, 1, 64, &v)))
            return rc;
        o.max_devices = (int)v;
    }
    if (jobs) {
        if ((rc = tt_cli_parse_int(cmd, "--jobs", jobs, 0, 256, &v)))
            return rc;
        o.jobs = (int)v;
    }
    if (tuner && strcmp(tuner, "xgb") != 0 && strcmp(tuner, "ga") != 0 &&
        strcmp(tuner, "random") != 0 && strcmp(tuner, "grid") != 0) {
        fprintf(stderr, "tvm-tune %s: --tuner %s: expected xgb, ga, random or grid\n", cmd, tuner);
        return TT_EXIT_USAGE;
    }
    if (tt_farm_uri_check(db))
        return tt_cli_fail(cmd, TT_ERR_INVALID_ARGUMENT);
    o.uri = db;
    if (key_dir)
        o.key_dir = key_dir;
    o.until_empty = until_empty;
    o.tuner = tuner;
    o.worker = name;
    o.quiet = quiet;
    o.faults = getenv("TT_FAULT_INJECT"); /* test-only, as for tvm-tune tune */
    o.progress = stderr;

    tt_cli_stop stop;
    o.stop = tt_cli_stop_begin(&stop);
    int64_t done = 0;
    rc = tt_farm_work(&o, &done) ? tt_cli_fail(cmd, TT_ERR_UNKNOWN) : TT_EXIT_OK;
    tt_cli_stop_end(&stop);
    if (rc == TT_EXIT_OK)
        printf("%lld job%s ended by this worker; no open job\n", (long long)done,
               done == 1 ? "" : "s");
    return rc;
}

int tt_cli_farm(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(farm_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? TT_EXIT_USAGE : TT_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } subs[] = {{"device", cmd_device},
                {"devices", cmd_devices},
                {"submit", cmd_submit},
                {"status", cmd_status},
                {"work", cmd_work}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tvm-tune farm: unknown subcommand '%s'\n\n%s", argv[1], farm_usage);
    return TT_EXIT_USAGE;
}
