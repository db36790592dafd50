/* The command line of the RPC server and of `keygen` for its pre-shared key, in one place for the
 * two programs that run it: tvm-tune-rpc (the device's, built from runtime/ only: main.c) and
 * `tvm-tune rpc server|keygen` on the host. Exit codes as the tvm-tune CLI: 0 ok, 1 runtime
 * failure, 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/rpc.h"

/* The flags; the usage lines in front name the program (tvm-tune-rpc or tvm-tune rpc). */
static const char flags_help[] =
    "\n"
    "Serves remote sessions: upload, load and run compiled kernels, time them on this device.\n"
    "  --host H             address to bind (default 127.0.0.1; 0.0.0.0 for every interface)\n"
    "  --port P             TCP port (default 9090; 0 picks a free one)\n"
    "  --key-file F         the 32-byte pre-shared key (mode 0600), made by `keygen`\n"
    "  --work-dir D         where sessions get their directories (default $TMPDIR or /tmp)\n"
    "  --max-upload-mb N    total size of a session's uploaded files (default 256)\n"
    "  --session-timeout S  a session older than S seconds is killed (default 3600)\n"
    "The first line on stdout is `listening on HOST:PORT`. SIGTERM stops the server.\n"
    "keygen -o FILE writes 32 random bytes to a new FILE with mode 0600 (never overwrites).\n";

/* The command that runs the server: "tvm-tune-rpc", or "tvm-tune rpc" + " server". */
static const char *server_word = "";

static void print_usage(const char *prog, FILE *f)
{
    fprintf(f,
            "usage: %s%s [--host H] [--port P] --key-file F [--work-dir D]\n"
            "           [--max-upload-mb N] [--session-timeout S]\n"
            "       %s keygen -o FILE\n%s",
            prog, server_word, prog, flags_help);
}

static int parse_long(const char *prog, const char *flag, const char *s, long lo, long hi,
                      long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
        fprintf(stderr, "%s: %s \"%s\": expected an integer in %ld..%ld\n", prog, flag, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int keygen(const char *prog, int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(prog, stdout);
            return 0;
        } else {
            fprintf(stderr, "%s keygen: unknown argument \"%s\"\n", prog, argv[i]);
            print_usage(prog, stderr);
            return 2;
        }
    }
    if (out == NULL) {
        fprintf(stderr, "%s keygen: -o FILE is required\n", prog);
        return 2;
    }
    if (tt_rpc_keygen(out) != 0) {
        fprintf(stderr, "%s: %s\n", prog, tt_get_last_error());
        return 1;
    }
    fprintf(stderr,
            "%s: wrote a new key to %s (mode 0600); copy it to the device over a secure "
            "channel\n",
            prog, out);
    return 0;
}

TT_API int tt_rpc_main(const char *prog, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return keygen(prog, argc, argv);
    if (argc > 1 && strcmp(argv[1], "server") == 0) {
        server_word = " server"; /* tvm-tune rpc server FLAGS */
        argc--;
        argv++;
    }
    tt_rpc_server_options o = {.port = TT_RPC_DEFAULT_PORT};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(prog, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: unknown or incomplete argument \"%s\"\n", prog, a);
            print_usage(prog, stderr);
            return 2;
        }
        const char *v = argv[++i];
        long n;
        if (strcmp(a, "--host") == 0) {
            o.host = v;
        } else if (strcmp(a, "--port") == 0) {
            if (parse_long(prog, a, v, 0, 65535, &n) != 0)
                return 2;
            o.port = (int)n;
        } else if (strcmp(a, "--key-file") == 0) {
            o.key_file = v;
        } else if (strcmp(a, "--work-dir") == 0) {
            o.work_dir = v;
        } else if (strcmp(a, "--max-upload-mb") == 0) {
            if (parse_long(prog, a, v, 1, 1L << 20, &n) != 0)
                return 2;
            o.max_upload_mb = (uint64_t)n;
        } else if (strcmp(a, "--session-timeout") == 0) {
            if (parse_long(prog, a, v, 1, 1L << 30, &n) != 0)
                return 2;
            o.session_timeout_s = (int)n;
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", prog, a);
            print_usage(prog, stderr);
            return 2;
        }
    }
    if (o.key_file == NULL) {
        fprintf(stderr,
                "%s: --key-file is required (security is on by default; make a key with `%s "
                "keygen -o FILE`)\n",
                prog, prog);
        return 2;
    }
    if (tt_rpc_server_run(&o) != 0) {
        fprintf(stderr, "%s: %s\n", prog, tt_get_last_error());
        return 1;
    }
    return 0;
}
