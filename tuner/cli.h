/* The tvm-tune commands: one function per command, taking the arguments after the command word
 * (argv[0] is the command) and returning the process exit code (DESIGN.md "Commands"). */
#ifndef TT_TUNER_CLI_H
#define TT_TUNER_CLI_H

enum { TT_EXIT_OK = 0, TT_EXIT_FAILURE = 1, TT_EXIT_USAGE = 2, TT_EXIT_INTERRUPTED = 130 };

/* tvm-tune show OP.json [--task NAME] [--steps FILE] [--emit compute|ir|c|llvm|asm] [--target T] */
int tt_cli_show(int argc, char **argv);

/* Reads a whole file into a NUL-terminated string (caller frees); -1 with a message. */
int tt_cli_read_file(const char *path, char **out);

#endif
