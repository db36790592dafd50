/* tvm-tune: the command-line entry point. Dispatches to one function per command; every command
 * documents its flags under `tvm-tune CMD --help`. Exit codes (docs/ARCHITECTURE.md): 0 success, 1
 * runtime failure, 2 bad usage or bad input, 130 interrupted. */
#include <stdio.h>
#include <string.h>

#include "tt/runtime.h"
#include "tuner/cli.h"

static const char usage[] =
    "usage: tvm-tune [--version] [--help] <command> [<args>]\n"
    "\n"
    "tvm-tune tunes tensor operators (matmul, conv2d, any tensor expression) for this CPU or for\n"
    "devices over RPC (tune --rpc), and compiles the best schedules into plain C functions.\n"
    "\n"
    "commands:\n"
    "  compile OP.json  apply the database: every task's best schedule into one .so and a .h\n"
    "  best [OP.json]   the best record per task (or per workload of the database)\n"
    "  db SUBCOMMAND    the database: import, export, best, stats, merge\n"
    "  farm SUBCOMMAND  a tuning farm on PostgreSQL: devices, job queue, workers\n"
    "  model eval LOG   how well the cost model ranks a log's candidates it was not trained on\n"
    "  rpc server|keygen  the device runtime's RPC server here, or a new pre-shared key\n"
    "  show OP.json     print the compute, loop IR, C, LLVM IR or assembly of a schedule\n"
    "  tune OP.json     tune every task of OP.json (also: tvm-tune OP.json --trials N)\n"
    "  version          print the version\n"
    "\n"
    "Run `tvm-tune CMD --help` for the flags of a command.\n"
    "Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input, 130 interrupted.\n";

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tvm-tune %s\n", TT_VERSION);
    return 0;
}

static const command commands[] = {
    {"compile", tt_cli_compile}, {"best", tt_cli_best},   {"db", tt_cli_db},
    {"farm", tt_cli_farm},       {"model", tt_cli_model}, {"rpc", tt_cli_rpc},
    {"show", tt_cli_show},       {"tune", tt_cli_tune},   {"version", cmd_version},
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    size_t len = strlen(argv[1]);
    if (len > 5 && strcmp(argv[1] + len - 5, ".json") == 0)
        return tt_cli_tune(argc, argv); /* tvm-tune OP.json --trials N */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tvm-tune: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
