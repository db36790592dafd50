/* The tvm-tune commands: one function per command, taking the arguments after the command word
 * (argv[0] is the command) and returning the process exit code (docs/ARCHITECTURE.md "Errors and
 * exit codes"). */
#ifndef TT_TUNER_CLI_H
#define TT_TUNER_CLI_H

#include <signal.h>
#include <stddef.h>

#include "tt/runtime.h"

enum { TT_EXIT_OK = 0, TT_EXIT_FAILURE = 1, TT_EXIT_USAGE = 2, TT_EXIT_INTERRUPTED = 130 };

/* tvm-tune show OP.json [--task NAME] [--steps FILE] [--emit compute|ir|c|llvm|asm] [--target T] */
int tt_cli_show(int argc, char **argv);
/* tvm-tune tune OP.json --trials N [...] (and tvm-tune OP.json --trials N) */
int tt_cli_tune(int argc, char **argv);

/* tvm-tune compile OP.json --db F [--log F]... -o LIB [--target T] [--emit so|obj] */
int tt_cli_compile(int argc, char **argv);
/* tvm-tune best [OP.json] --db F [--log F]... [--target T] */
int tt_cli_best(int argc, char **argv);
/* tvm-tune db import|export|best|stats|merge ... */
int tt_cli_db(int argc, char **argv);
/* tvm-tune model eval LOG [--train-fraction F] ... (tuner/cli_model.c) */
int tt_cli_model(int argc, char **argv);
int tt_cli_rpc(int argc, char **argv);
/* tvm-tune farm device|devices|submit|status|work ... (tuner/cli_farm.c) */
int tt_cli_farm(int argc, char **argv);

/* ---- shared by the commands (cli.c) ---- */

/* Helpers of compile, best and db. Each prints its message as "tvm-tune CMD: ..." and returns an
 * exit code (through tt_cli_fail: the category of what went wrong decides). */
/* The directory of an output path exists, is a directory and is writable. */
int tt_cli_check_out_dir(const char *cmd, const char *path);
/* A database path exists (commands that only read it must not create it). */
int tt_cli_check_db_exists(const char *cmd, const char *path);
/* The canonical form of a target string (caller frees *out). */
int tt_cli_target_canonical(const char *cmd, const char *s, char **out);
/* Prints the best k records per (key, target) of the database, limited to key/target if given. */
int tt_cli_print_db_best(const char *cmd, const char *db_path, const char *key, const char *target,
                         size_t k);
/* Prints one record (GFLOPS, median, spread, trial, steps), each line prefixed by indent. */
struct tt_record;
void tt_cli_print_record(const struct tt_record *r, const char *indent);

/* The exit code of an error of category c: the one place categories become exit codes (0 ok,
 * 1 runtime failure, 2 bad usage or bad input, 130 interrupted). */
int tt_cli_exit_code(tt_error_category c);
/* Prints "tvm-tune CMD: <last error>" on stderr and returns the exit code of its category. An
 * error its library left uncategorised (TT_ERR_UNKNOWN) counts as `uncategorised`: what the
 * caller knows (the user's op.json did not load: bad input). */
int tt_cli_fail(const char *cmd, tt_error_category uncategorised);
/* Parses s, the value of flag, as a decimal integer in [min, max] (max LLONG_MAX: no bound).
 * Returns TT_EXIT_OK with *out set, or prints "tvm-tune CMD: FLAG S: expected an integer ..."
 * and returns TT_EXIT_USAGE with *out untouched. */
int tt_cli_parse_int(const char *cmd, const char *flag, const char *s, long long min, long long max,
                     long long *out);

/* Ctrl-C and SIGTERM during a long command (tune, farm work): the first raises the flag the
 * command's loop polls (*stop of tt_tune_opts), so it stops cleanly at the next candidate; the
 * handler resets, so a second signal ends the process at once. No SA_RESTART: a signal wakes
 * the loop's waits. tt_cli_stop_end restores what was there before. */
typedef struct {
    struct sigaction old_int, old_term;
} tt_cli_stop;
const volatile sig_atomic_t *tt_cli_stop_begin(tt_cli_stop *s);
void tt_cli_stop_end(tt_cli_stop *s);

#endif
