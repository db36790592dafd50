/* measure/: isolated, timed, checked execution of candidate kernels. A batch of candidates is
 * built in parallel worker processes (builder.c), then each library is run one at a time in a
 * child process that checks its output and times it (runner_local.c, timer.c), or, for another
 * device, uploaded to its tvm-tune-rpc server and checked and timed there (runner_rpc.c). */
#ifndef TT_MEASURE_H
#define TT_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "tt/outcome.h"
#include "tt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A measurement's outcome is a tt_outcome (tt/outcome.h), the codes the log record keeps; all but
 * TT_OUTCOME_INVALID_SCHEDULE (the caller's schedule check) are produced here. The old name of
 * success stays for benchmarks/remeasure.c. */
#define TT_MEASURE_OK TT_OUTCOME_OK

/* ---- Timing protocol (timer.c) ---- */

#define TT_MEASURE_MAX_REPEAT 64

typedef struct {
    int repeat;           /* timed repeats, 1..TT_MEASURE_MAX_REPEAT */
    int number;           /* runs per repeat to start calibration from, >= 1 */
    double min_repeat_ms; /* number grows until one repeat lasts at least this long (0: no min) */
    int flush_cache;      /* write a buffer larger than the last-level cache before each repeat */
    double best_so_far;   /* seconds; > 0 enables the early stop below, 0 disables it */
    double slow_factor;   /* early stop: a timed batch (calibration or first repeat) has a mean
                           * > slow_factor * best_so_far; the warm-up call does not count */
    int warm;             /* 1: f has just run on these arguments in this process (the runner's
                           * correctness check), which was the warm-up: no call of its own */
    int retries;          /* at most this many extra repeats replace disturbed ones (below) */
    double warm_s;        /* with warm: how long that call took (tt_measure_call), 0: unknown */
    int warm_switches;    /* with warm_s: its involuntary context switches */
} tt_timing_opts;

typedef struct {
    double costs[TT_MEASURE_MAX_REPEAT]; /* seconds per run, one per repeat (mean of `number`) */
    int n_costs;                         /* repeats done: opts.repeat, or 1 when pruned */
    int number;                          /* runs per repeat after calibration */
    double cost;                         /* median of costs */
    double spread;                       /* (max - min) / median of costs */
    int pruned; /* 1: stopped at the first batch slower than slow_factor * best_so_far */
    /* Per cost, the times the scheduler took a CPU from this process (its threads, the kernel's
     * workers too) while that repeat ran (getrusage ru_nivcsw): > 0, the repeat shared its CPUs
     * with another process and was disturbed. */
    int switches[TT_MEASURE_MAX_REPEAT];
    int disturbed; /* repeats run that were disturbed, those kept in costs and those replaced */
} tt_timing_result;

/* Fills o with the defaults: repeat 3, number 1, min_repeat_ms 50, no flush, no early stop,
 * slow_factor 3, retries 0 (benchmarks/README.md, "bench_spread.sh": on a machine this loaded
 * they did not lower the spread). */
TT_API void tt_timing_opts_default(tt_timing_opts *o);

/* Times f(args): one warm-up call (none when o->warm), then `number` is raised (by estimate, at
 * least doubling) until a batch of `number` calls lasts min_repeat_ms; that batch is the first
 * repeat. The caller's warm call, when its time warm_s is known, calibrates instead of a 1-call
 * batch: `number` starts from its estimate, and a call that alone lasted min_repeat_ms (no flush
 * asked, number 1) is the first repeat, or the batch that stops a slow candidate early. A repeat
 * during which the process lost a CPU to another (an involuntary context switch) is disturbed:
 * when at least one of the `repeat` repeats was not, up to `retries` extra repeats run while fewer
 * than `repeat` were undisturbed, and costs keeps the undisturbed ones, topped up with the
 * fastest disturbed ones to `repeat`. The cost is the median
 * of costs (the mean call time of each batch). With flush_cache, the cache is flushed before every
 * batch. -1 when f fails (its message, prefixed) or the options are out of range. */
TT_API int tt_measure_time(tt_func f, const tt_value *args, const int *codes, int n,
                           const tt_timing_opts *o, tt_timing_result *out);

/* Calls f(args) once; *seconds = how long it took on the protocol's clock, *switches the
 * process's involuntary context switches meanwhile: what a caller that runs a kernel before
 * tt_measure_time (the runner's checked call) passes as warm_s and warm_switches. -1 when f fails
 * (its own message). */
TT_API int tt_measure_call(tt_func f, const tt_value *args, const int *codes, int n,
                           double *seconds, int *switches);

/* Replaces the clock tt_measure_time reads (seconds; NULL restores CLOCK_MONOTONIC). For tests
 * of the protocol, which then run on a simulated clock that a load on the machine cannot skew;
 * not thread-safe. */
TT_API void tt_measure_set_clock(double (*now)(void));

/* Replaces the count of the process's involuntary context switches that tt_measure_time reads
 * (NULL restores getrusage), for tests of the disturbed repeats; not thread-safe. */
TT_API void tt_measure_set_switch_counter(long (*count)(void));

/* 0 when o is valid for tt_measure_time, else -1 with a message naming the field. */
TT_API int tt_timing_opts_check(const tt_timing_opts *o);

/* Bytes the cache flush writes: twice the largest cache hwloc reports, in [8 MiB, 512 MiB]
 * (64 MiB when the topology is unknown). */
TT_API size_t tt_measure_flush_bytes(void);

/* ---- Inputs and checks (check.c) ---- */

/* Fills t (float32, float64, int8/16/32/64, uint8) with deterministic pseudo-random values from
 * (seed, arg_index): floats uniform in [-1, 1], integers in [-8, 8] ([0, 8] unsigned). The same
 * pair gives the same values in every process, so a caller can recompute a reference. */
TT_API int tt_measure_fill_random(DLTensor *t, uint64_t seed, int arg_index);

/* Fills t with a value no correct kernel leaves behind (NaN for floats, the byte 0x5a for
 * integers), so that a kernel that never writes its output fails the check. */
TT_API void tt_measure_poison(DLTensor *t);

/* 1 when dt is one of the dtypes above. */
TT_API int tt_measure_dtype_supported(DLDataType dt);

/* Compares got with expected (same dtype and element count). Floats: the max over elements of
 * |got - expected| / max(1, |expected|) must be < rtol, and a NaN must match a NaN; integers
 * must be equal. Returns 0 when they match, 1 with a message in msg when they do not ("max
 * relative error 0.5 at index 17 (got 1, expected 2)"), -1 on a dtype or size mismatch. */
TT_API int tt_measure_compare(const DLTensor *got, const DLTensor *expected, double rtol, char *msg,
                              size_t msglen);

/* ---- Local runner (runner_local.c) ---- */

#define TT_MEASURE_MAX_DIM 8
#define TT_MEASURE_MSG_LEN 1024

/* Shape and dtype of one kernel argument. */
typedef struct {
    int ndim;
    int64_t shape[TT_MEASURE_MAX_DIM];
    DLDataType dtype;
} tt_measure_tensor;

/* One candidate to run. The kernel takes args[0..n_args-1] as DLTensors: the inputs, then the
 * output (the last argument). Inputs are filled with tt_measure_fill_random(seed, index). */
typedef struct {
    const char *lib_path;  /* shared library exporting TT_PACKED_PREFIX func_name */
    const char *func_name; /* kernel name */
    const tt_measure_tensor *args;
    int n_args;
    uint64_t seed;
    /* The reference output, at most one of the two (both absent: no check):
     *  ref_output: the expected output bytes (ref_nbytes of them, compact row-major), or
     *  ref_lib_path + ref_func_name: a reference kernel run on the same inputs. */
    const void *ref_output;
    size_t ref_nbytes;
    const char *ref_lib_path;
    const char *ref_func_name;
    double rtol;      /* relative tolerance of the check; 0 means 1e-4 */
    double timeout_s; /* wall-clock limit for the whole child (load, check, timing), > 0 */
    int num_threads;  /* threads of the kernel's parallel loops; 0: the backend's default */
    tt_timing_opts timing;
    int pin_cpu; /* 1: the measuring thread runs on CPU `cpu` (builds run on others); 0: on
                  * the CPU it starts on */
    int cpu;
} tt_run_request;

typedef struct {
    int error;                          /* TT_MEASURE_* */
    char error_msg[TT_MEASURE_MSG_LEN]; /* "" when error is TT_MEASURE_OK */
    tt_timing_result timing;            /* valid when error is TT_MEASURE_OK */
    double elapsed_s;                   /* wall time of the child process */
} tt_run_result;

/* 0 when req is a valid request (for either runner), else -1 with a message "who: ..." naming the
 * field and what was expected. */
TT_API int tt_run_request_check(const tt_run_request *req, const char *who);

/* Runs req in a forked child: loads the library, allocates and fills the arguments, runs the
 * kernel once, checks the output against the reference, then times it with the protocol, and
 * sends the result back through a pipe. A crash, an error, a wrong answer or a hang (killed at
 * timeout_s) becomes out->error with a message; this returns -1 only for an invalid request or
 * when no child can be started (fork, pipe). Calls are serialised by a process-wide mutex: one
 * measurement at a time (tt_builder_run takes the same mutex). The child does its work on a fresh
 * thread, so kernels may use OpenMP even when the caller already did (no deadlock on the
 * inherited pool). Contract for the caller: no other thread of the process is inside the runtime
 * when this forks, SIGCHLD is not ignored, and the caller keeps no OpenMP worker threads: the
 * child inherits libgomp's state from them, and a caller that had run XGBoost on two threads got
 * its children's parallel kernels timed at single-thread speed or below (search/xgb.c). */
TT_API int tt_runner_local_run(const tt_run_request *req, tt_run_result *out);

/* Runs the kernel of req (lib_path, func_name) once on the seeded inputs in a child process, as
 * tt_runner_local_run does, and copies its output (nbytes, the size of the last argument) into
 * output: the reference that later requests pass as ref_output, computed once per workload rather
 * than once per candidate. req's reference fields and timing options are ignored; failures are
 * out->error as for tt_runner_local_run (output is untouched then). */
TT_API int tt_runner_local_reference(const tt_run_request *req, void *output, size_t nbytes,
                                     tt_run_result *out);

/* ---- Remote runner (runner_rpc.c) ---- */

/* A device behind a tvm-tune-rpc server (include/tt/rpc.h), measured through ONE session that
 * lives across candidates (connected on first use, reopened after a crash, a timeout or a lost
 * connection). One thread uses a device at a time; devices are independent of each other. */
typedef struct tt_rpc_device tt_rpc_device;

typedef struct {
    double connect_timeout_s; /* connect + handshake of one try; 0: 10 */
    int max_tries;            /* connection tries per call before the device counts as lost; 0: 6 */
    double backoff_s;         /* wait after the first failed try, doubled after each; 0: 0.2 */
    double backoff_max_s;     /* the longest wait between tries; 0: 5 */
} tt_rpc_device_opts;

/* *out = a device at addr "HOST:PORT" authenticated with the 32-byte key in key_file (caller
 * frees with tt_rpc_device_free); opts NULL: the defaults. Does not connect yet. -1 for a bad
 * address or options. */
TT_API int tt_rpc_device_new(const char *addr, const char *key_file, const tt_rpc_device_opts *opts,
                             tt_rpc_device **out);
/* Closes the session (if any) and frees d; NULL is a no-op. */
TT_API void tt_rpc_device_free(tt_rpc_device *d);
/* Connects now unless a session is open (tries with backoff, then reads device_info); -1 with
 * "device HOST:PORT lost: ..." when every try failed. tt_runner_rpc_run calls it itself. */
TT_API int tt_rpc_device_connect(tt_rpc_device *d);
/* "HOST:PORT (cpu, triple)" once connected, "HOST:PORT" before: the device a record names. */
TT_API const char *tt_rpc_device_name(const tt_rpc_device *d);
/* The device's target triple ("aarch64-linux-gnu"), "" before the first connection. */
TT_API const char *tt_rpc_device_triple(const tt_rpc_device *d);
/* The device's CPU name as its server reports it (/proc/cpuinfo's), "" before. */
TT_API const char *tt_rpc_device_cpu(const tt_rpc_device *d);
/* The target string the device reports for itself ("llvm -mtriple=aarch64-linux-gnu
 * -mcpu=cortex-a72"; a server too old to say: "llvm -mtriple=TRIPLE"), "" before. */
TT_API const char *tt_rpc_device_target(const tt_rpc_device *d);
/* The device's physical cores as its server reports them, 0 before the first connection. */
TT_API int tt_rpc_device_cores(const tt_rpc_device *d);
/* 1 while a session is open (it may have died since the last call). */
TT_API int tt_rpc_device_connected(const tt_rpc_device *d);
/* Sessions opened so far (1 after any number of healthy candidates; +1 per reconnection). */
TT_API int tt_rpc_device_sessions(const tt_rpc_device *d);

/* Replaces the sleep between connection tries (seconds; NULL restores nanosleep). For tests of
 * the backoff, which record the waits instead of waiting; not thread-safe. */
TT_API void tt_runner_rpc_set_sleep(void (*sleep_s)(double));

/* Runs req on device d as tt_runner_local_run does here: uploads req->lib_path (built for the
 * device's triple), loads it, fills the inputs with tt_measure_fill_random(seed, index) on the
 * host and copies them over, runs once, copies the output back and compares it with ref_output
 * (ref_lib_path is refused: the reference is the host's), then times with the device's time
 * evaluator with the same protocol and early stop (best_so_far x slow_factor) as here; the
 * result's number is the device's calibrated one. Remote arrays,
 * the module and the uploaded file are freed on the device afterwards. req->timeout_s bounds the
 * run from the upload on (connecting is not counted); num_threads is not applied (the device's
 * default). Outcomes: a kernel error, or a crash that ends the session process while the device
 * still accepts a new session -> RUNTIME_ERROR with the device's message; past timeout_s ->
 * RUN_TIMEOUT ("timeout: ..."); a device that cannot be reached, or whose connection broke and
 * cannot be reopened -> DEVICE_ERROR "device HOST:PORT lost: ...", and the next call reconnects
 * (with backoff); a mismatch -> WRONG_ANSWER with tt_measure_compare's message. Returns -1 only
 * for an invalid request. */
TT_API int tt_runner_rpc_run(tt_rpc_device *d, const tt_run_request *req, tt_run_result *out);

/* ---- Builder (builder.c) ---- */

#define TT_BUILD_MSG_LEN 4096

/* Writes a shared library to out_path; returns 0, or nonzero with a message in err. Runs in a
 * forked child: it may crash or hang without harm, but what it changes in memory is lost. */
typedef int (*tt_build_fn)(void *ctx, int index, const char *out_path, char *err, size_t errlen);

typedef struct {
    tt_build_fn build;
    void *ctx; /* passed to build, with the job's index in the batch */
} tt_build_job;

typedef struct {
    char path[4096];                  /* the library (in a fresh temporary directory) */
    double build_s;                   /* wall time of the build */
    int error;                        /* TT_MEASURE_OK, _COMPILE_ERROR or _BUILD_TIMEOUT */
    char error_msg[TT_BUILD_MSG_LEN]; /* the callback's message, the signal, or the timeout */
} tt_build_result;

/* Builds jobs[0..n-1], each in its own forked child, at most n_workers at a time, each killed
 * after timeout_s. The libraries go to a new directory under $TMPDIR (or /tmp); remove them with
 * tt_builder_cleanup. Returns -1 only for invalid arguments or a system failure (directory, pipe,
 * fork; nothing is left running then); a failed build is results[i].error. The tuning loop
 * alternates: build a batch, then run its libraries one by one with tt_runner_local_run, so that no
 * build disturbs a measurement. */
TT_API int tt_builder_run(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                          tt_build_result *results);

/* The same, incrementally, for a caller that measures while the batch builds (on CPUs a
 * measurement does not use): tt_builder_begin starts the first builds and returns; each build
 * child is bound to cpus[0..ncpus) (ncpus 0: anywhere). tt_builder_await(b, i) returns once
 * results[i] is final, starting queued builds as workers free up (builds progress only inside
 * these calls and in their own processes). tt_builder_end waits for the rest (cancel: kills it)
 * and frees b; results stay for tt_builder_cleanup. The tuner process's mutex is taken around
 * each fork only, so the caller may run tt_runner_local_run between the calls. */
typedef struct tt_build_batch tt_build_batch;
TT_API int tt_builder_begin(const tt_build_job *jobs, int n, int n_workers, double timeout_s,
                            const int *cpus, int ncpus, tt_build_result *results,
                            tt_build_batch **out);
TT_API int tt_builder_await(tt_build_batch *b, int index);
TT_API int tt_builder_end(tt_build_batch *b, int cancel);

/* Removes the libraries of a batch and its temporary directory. */
TT_API void tt_builder_cleanup(tt_build_result *results, int n);

#ifdef __cplusplus
}
#endif
#endif
