/* tvm-tune-rpc: the RPC server a device runs, built from runtime/ only (no LLVM, XGBoost, SQLite
 * or jansson). Its command line is the runtime's (runtime/rpc/cli.c), shared with `tvm-tune rpc`.
 */
#include "tt/rpc.h"

int main(int argc, char **argv)
{
    return tt_rpc_main("tvm-tune-rpc", argc, argv);
}
