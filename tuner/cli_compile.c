/* `tvm-tune compile`: applies the tuning database. Each task of OP.json gets its best record's
 * schedule for the target (or the nearest tuned workload's, or the default, with a warning), and
 * all kernels go into one library plus a header (tuner/compile.c does the work). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/opjson.h"
#include "tuner/cli.h"
#include "tuner/compile.h"

static const char compile_usage[] =
    "usage: tvm-tune compile OP.json --db FILE [--log FILE]... -o LIB [--target T]\n"
    "                        [--emit so|obj]\n"
    "\n"
    "Builds every task of OP.json with its best tuned schedule into ONE library and writes a C\n"
    "header beside it (LIB with its extension replaced by .h) declaring one function per task:\n"
    "  int NAME(const float *restrict A, const float *restrict B, float *restrict C);\n"
    "named by the task's \"name\", inputs then output, returning 0 on success. The library also\n"
    "loads as a runtime Module: tt_mod_load_from_file(LIB, \"so\"), functions by name.\n"
    "\n"
    "A task takes the record of lowest median cost (errors excluded) of its workload and target;\n"
    "a schedule measured more than once (the tuner measures its winner again at the end of a\n"
    "run) ranks before those measured once and counts at its latest measurement.\n"
    "A task with no record of its own takes the best schedule of the nearest tuned workload of\n"
    "the same op and target (most similar sizes) if that schedule applies to it, else the\n"
    "default schedule; a warning on stderr names the task and what it got.\n"
    "\n"
    "  --db FILE       the tuning database (must exist; it is only read): an SQLite file or\n"
    "                  postgresql://USER@HOST:PORT/DBNAME\n"
    "  --log FILE      a tuning log to take records from as well (repeatable)\n"
    "  -o, --output LIB  the library to write (its directory must exist)\n"
    "  --target T      target to compile for and to look records up by (default: the file's\n"
    "                  \"target\", else this host), e.g. \"llvm -mtriple=aarch64-linux-gnu\"\n"
    "  --emit KIND     so: a shared library (default), which loads libtt_runtime.so.0 by itself;\n"
    "                  obj: an object file to link yourself, with the runtime:\n"
    "                  cc app.c ops.o $(pkg-config --libs tvm-tune-runtime)\n"
    "  -h, --help      this text\n"
    "\n"
    "Nothing is written unless everything succeeds.\n"
    "Exit codes: 0 success, 1 code generation failed, 2 bad usage, op.json, database, log or\n"
    "output path.\n";

/* Whether two paths name one existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int tt_cli_compile(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"target", required_argument, NULL, 'T'},
        {"emit", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = NULL, *out_path = NULL, *target_str = NULL;
    const char **logs = calloc((size_t)argc + 1, sizeof *logs);
    int nlogs = 0;
    tt_emit_kind kind = TT_EMIT_SO;
    if (!logs) {
        fprintf(stderr, "tvm-tune compile: out of memory\n");
        return TT_EXIT_FAILURE;
    }
    optind = 1;
    int c, rc = TT_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'l':
            logs[nlogs++] = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'T':
            target_str = optarg;
            break;
        case 'e':
            if (strcmp(optarg, "so") == 0) {
                kind = TT_EMIT_SO;
            } else if (strcmp(optarg, "obj") == 0) {
                kind = TT_EMIT_OBJ;
            } else {
                fprintf(stderr, "tvm-tune compile: --emit %s: expected so or obj\n", optarg);
                free(logs);
                return TT_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(compile_usage, stdout);
            free(logs);
            return TT_EXIT_OK;
        default:
            fputs(compile_usage, stderr);
            free(logs);
            return TT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out_path) {
        fprintf(stderr, "tvm-tune compile: expected one OP.json file and -o LIB\n%s",
                compile_usage);
        free(logs);
        return TT_EXIT_USAGE;
    }
    tt_opfile *file = NULL;
    tt_target *target = NULL;
    tt_compile_records *recs = NULL;
    tt_compile_choice *choices = NULL;
    if ((db_path && (rc = tt_cli_check_db_exists("compile", db_path)) != 0) ||
        (rc = tt_cli_check_out_dir("compile", out_path)) != 0)
        goto done;
    char *header_path = tt_compile_header_path(out_path);
    int clash = header_path && strcmp(header_path, out_path) == 0;
    for (int i = -1; i < nlogs && !clash && header_path; i++) {
        const char *in = i < 0 ? db_path : logs[i];
        if (in && (same_file(in, out_path) || same_file(in, header_path))) {
            fprintf(stderr, "tvm-tune compile: -o %s would overwrite %s\n", out_path, in);
            free(header_path);
            rc = TT_EXIT_USAGE;
            goto done;
        }
    }
    free(header_path);
    if (clash) {
        fprintf(stderr,
                "tvm-tune compile: -o %s: the header would overwrite the library; name "
                "the library LIB.so or LIB.o\n",
                out_path);
        rc = TT_EXIT_USAGE;
        goto done;
    }
    /* op.json, the target, the database and the logs are the user's input: what goes wrong
     * reading them is bad input, unless the error says otherwise (out of memory). */
    if (tt_opfile_load(argv[optind], &file) || tt_compile_check_names(file)) {
        rc = tt_cli_fail("compile", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if (tt_target_parse(target_str ? target_str : file->target, &target)) {
        tt_error_wrap("target");
        rc = tt_cli_fail("compile", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if (tt_compile_records_load(db_path, logs, nlogs, tt_target_str(target), &recs)) {
        rc = tt_cli_fail("compile", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if (recs->warnings)
        fputs(recs->warnings, stderr);
    rc = TT_EXIT_FAILURE;
    choices = calloc((size_t)file->ntasks, sizeof *choices);
    if (!choices) {
        fprintf(stderr, "tvm-tune compile: out of memory\n");
        goto done;
    }
    for (int i = 0; i < file->ntasks; i++) {
        if (tt_compile_choose(recs, &file->tasks[i], target, &choices[i])) {
            rc = tt_cli_fail("compile", TT_ERR_UNKNOWN);
            goto done;
        }
        if (choices[i].warning)
            fprintf(stderr, "tvm-tune compile: warning: %s\n", choices[i].warning);
    }
    if (tt_compile_write(file, choices, target, kind, out_path)) {
        rc = tt_cli_fail("compile", TT_ERR_UNKNOWN);
        goto done;
    }
    char *header = tt_compile_header_path(out_path);
    for (int i = 0; i < file->ntasks; i++)
        printf("%s: %s\n", file->tasks[i].name, choices[i].note);
    printf("wrote %s and %s (%d function%s, target \"%s\")\n", out_path, header ? header : "?",
           file->ntasks, file->ntasks == 1 ? "" : "s", tt_target_str(target));
    free(header);
    rc = TT_EXIT_OK;
done:
    for (int i = 0; choices && i < file->ntasks; i++)
        tt_compile_choice_clear(&choices[i]);
    free(choices);
    tt_compile_records_free(recs);
    tt_target_free(target);
    tt_opfile_free(file);
    free(logs);
    return rc;
}
