/* tvm-tune RPC: run and time compiled kernels on another device (docs/ARCHITECTURE.md "RPC"). A
 * session is a Module of format "rpc": its functions are the device's global PackedFuncs, called
 * through the same ABI as local ones (tt_mod_get_function, tt_func_call). Modules loaded on the
 * device and functions returned from it are local proxies of the same kinds; arrays on the device
 * are objects of type "rpc.RemoteObject" passed as TT_OBJECT. Security: a pre-shared 32-byte key on
 * both sides, mutual authentication, every frame encrypted and authenticated (libsodium). */
#ifndef TT_RPC_H
#define TT_RPC_H

#include <stdint.h>

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_RPC_DEFAULT_PORT 9090

/* ---- keys ---- */

/* Writes 32 random bytes to a new file path, mode 0600; refuses to overwrite an existing file. */
TT_API int tt_rpc_keygen(const char *path);

/* ---- client ---- */

/* Connects to the server at host:port and authenticates with the key in key_file (which must be
 * 32 bytes, readable by its owner only). timeout_s bounds connect + handshake (<= 0: 10 s).
 * *session is a Module of format "rpc" (caller frees; the connection closes when the session and
 * every proxy made from it are freed). Also reachable as tt_mod_load_from_file("host:port",
 * "rpc") with the key file in the environment variable TT_RPC_KEY_FILE. */
TT_API int tt_rpc_connect(const char *host, int port, const char *key_file, double timeout_s,
                          tt_module *session);
/* Bounds every later call of the session (<= 0: no bound). A call past it fails with an error
 * that says "rpc: timeout" (after the session's name) and ends the session (the connection is out
 * of step). */
TT_API int tt_rpc_set_timeout(tt_module session, double timeout_s);
/* Sends CLOSE and closes the connection now; proxies still alive fail on use. */
TT_API int tt_rpc_close(tt_module session);
/* Uploads local_path as remote_name into the session's work directory (chunked). */
TT_API int tt_rpc_upload(tt_module session, const char *local_path, const char *remote_name);
/* Loads an uploaded shared library on the device; *out is a Module of format "rpc" whose
 * functions run there. Caller frees. */
TT_API int tt_rpc_load_module(tt_module session, const char *remote_name, tt_module *out);
/* *json = the device's description (caller frees with free()): {"triple", "cpu" (the name
 * /proc/cpuinfo gives), "target" (the target string to compile for it: "llvm -mtriple=T
 * -mcpu=C" with an LLVM CPU name), "cores", "cpus_online", "runtime_version",
 * "protocol_version"}. */
TT_API int tt_rpc_device_info(tt_module session, char **json);

/* Allocates a compact array on the device; *out is a remote object (caller frees with
 * tt_object_release). Pass it to remote functions as TT_OBJECT. */
TT_API int tt_rpc_array_alloc(tt_module session, const int64_t *shape, int ndim, DLDataType dt,
                              tt_object **out);
/* Copies a local compact array into a remote one of the same byte size. */
TT_API int tt_rpc_array_copy_from(tt_object *remote, const DLTensor *local);
/* Copies a remote array into a local compact array of the same byte size. */
TT_API int tt_rpc_array_copy_to(tt_object *remote, DLTensor *local);

/* The time evaluator's settings. */
typedef struct {
    int number;           /* runs per repeat to start calibration from, >= 1 */
    int repeat;           /* repeats, >= 1 */
    double min_repeat_ms; /* number grows until a batch lasts this long */
    int flush_cache;      /* evict the caches before every batch */
    double stop_above_s;  /* > 0: a batch whose mean per run is above this ends the timing with
                           * that one cost (early stop of a slow candidate); 0: off */
} tt_rpc_timing;

/* Times the remote function f (a proxy from a remote module) on the device with the host's
 * protocol (docs/ARCHITECTURE.md "Measurement"): one warm-up run, then batches with `number`
 * grown until one lasts min_repeat_ms, which is the first repeat, then the others. costs (room
 * for t->repeat) receives the mean seconds per run of each repeat, *n_costs how many (t->repeat,
 * or 1 after an early stop), *number_out (may be NULL) the runs per repeat it grew to. */
TT_API int tt_rpc_time_evaluate(tt_func f, const tt_rpc_timing *t, const tt_value *args,
                                const int *codes, int n, double *costs, int *n_costs,
                                int64_t *number_out);

/* ---- server ---- */

typedef struct {
    const char *host;       /* NULL: 127.0.0.1 */
    int port;               /* 0: any free port (printed on stdout) */
    const char *key_file;   /* required */
    const char *work_dir;   /* NULL: $TMPDIR or /tmp; sessions get a fresh directory inside */
    uint64_t max_upload_mb; /* 0: 256 */
    int session_timeout_s;  /* 0: 3600; a session past it is killed with its process group */
} tt_rpc_server_options;

/* Serves until SIGTERM or SIGINT (then 0): prints "listening on HOST:PORT" as the first line of
 * stdout, logs sessions on stderr, runs each connection in its own forked process group. */
TT_API int tt_rpc_server_run(const tt_rpc_server_options *opts);

/* The server's command line, shared by tvm-tune-rpc and `tvm-tune rpc`: argv[1] "keygen" runs
 * keygen -o FILE; argv[1] "server" is skipped; then the server flags (--help lists them). prog
 * names the program in messages. Returns the exit code (0 ok, 1 failure, 2 bad usage). */
TT_API int tt_rpc_main(const char *prog, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
