/* `tvm-tune rpc server|keygen`: the device runtime's RPC server and key generator, run from the
 * host build (the same code and flags as tvm-tune-rpc: runtime/rpc/cli.c). */
#include <stdio.h>
#include <string.h>

#include "tt/rpc.h"
#include "tuner/cli.h"

static const char rpc_usage[] =
    "usage: tvm-tune rpc server --key-file F [--host H] [--port P] [--work-dir D]\n"
    "                           [--max-upload-mb N] [--session-timeout S]\n"
    "       tvm-tune rpc keygen -o FILE\n"
    "\n"
    "server runs the RPC server of the device runtime here (as tvm-tune-rpc does on a device):\n"
    "authenticated and encrypted sessions that upload, run and time kernels; `tvm-tune rpc\n"
    "server --help` lists its flags. keygen writes a new 32-byte pre-shared key (mode 0600).\n";

int tt_cli_rpc(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(rpc_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? TT_EXIT_USAGE : TT_EXIT_OK;
    }
    if (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "keygen") != 0) {
        fprintf(stderr, "tvm-tune rpc: unknown subcommand '%s'\n\n%s", argv[1], rpc_usage);
        return TT_EXIT_USAGE;
    }
    return tt_rpc_main("tvm-tune rpc", argc, argv);
}
