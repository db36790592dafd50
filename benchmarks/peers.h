/* What the kernel benchmarks share (bench_kernels, bench_tuned): the side-by-side timing
 * protocol, inputs and error measures, the reference loops, and the peer libraries (OpenBLAS,
 * BLIS sgemm; oneDNN matmul and convolution in its own preferred layout). A peer missing at
 * configure time is left out: its BENCH_HAVE_* macro is undefined (benchmarks/CMakeLists.txt). */
#ifndef BENCH_PEERS_H
#define BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- timing ---- */

typedef void (*bench_run_fn)(void *ctx);

enum { BENCH_MAX_RUNS = 64 };

/* One contender of a row: a way to compute the op, its samples (seconds per call). */
typedef struct {
    const char *name;
    bench_run_fn f;
    void *ctx;
    double err; /* max rel err of ours against this peer's output (or the reference) */
    long iters;
    double t[BENCH_MAX_RUNS];
} bench_entrant;

/* Prints "PROG: what: msg" on stderr and exits 1 (a benchmark, not library code). */
_Noreturn void bench_die(const char *what, const char *msg);
/* The name used by bench_die. */
void bench_set_prog(const char *prog);

/* Calibrates each entrant (warm-up of at least 3 calls and 50 ms, then the calls that make one
 * run min_ms) and times runs rounds, interleaved (e[0], e[1], ..., e[0], e[1], ...), so a load
 * that comes and goes on the shared machine hits every contender alike. Fills e[i].t[0..runs). */
void bench_contest(bench_entrant *e, int n, int runs, double min_ms);
double bench_median(const double *v, int n);
/* The median over rounds of ours/peer speed within one round (peer time / our time). */
double bench_ratio(const bench_entrant *ours, const bench_entrant *peer, int runs);

/* ---- data ---- */

float *bench_alloc_floats(size_t n); /* 64-byte aligned; caller frees */
void bench_fill(float *p, size_t n, unsigned seed);
/* max |a - b| / max |b|: the error of a relative to the scale of the reference b. */
double bench_max_rel_err(const float *a, const float *b, size_t n);
/* Ours against double-precision dot products at 1000 sampled elements of C = A B (row-major);
 * dies beyond 1e-4 of the output's scale. */
void bench_check_matmul_sampled(const float *A, const float *B, const float *C, int64_t M,
                                int64_t N, int64_t K);

/* ---- threads ---- */

/* Sets the thread count of our runtime and of every peer library. */
void bench_set_threads(int n);
/* "peers: OpenBLAS BLIS oneDNN", naming the ones that were not found. */
void bench_print_peers(void);

/* ---- sgemm: C = A B, row-major ---- */

typedef struct {
    int64_t M, N, K;
    float *A, *B, *C;
} bench_gemm;

#ifdef BENCH_HAVE_OPENBLAS
void bench_run_openblas(void *gemm);
#endif
#ifdef BENCH_HAVE_BLIS
void bench_run_blis(void *gemm);
#endif

typedef struct bench_dnnl bench_dnnl; /* a oneDNN primitive with its memories (below) */

/* Appends to e the sgemm peers of g found at configure time (OpenBLAS, BLIS if with_blis,
 * oneDNN), each run once with its err: max rel err of ours (our C) against its output.
 * Returns how many; *dnnl is the oneDNN matmul (NULL without oneDNN), for bench_dnnl_free. */
int bench_gemm_peers(bench_gemm *g, const float *ours, bool with_blis, bench_entrant *e,
                     bench_dnnl **dnnl);
void bench_dnnl_free(bench_dnnl *d); /* NULL: nothing */

/* ---- convolution (batch 1, fp32) ---- */

/* A conv2d, or with depthwise a depthwise conv2d (K = C, one filter per channel). The user
 * data are NCHW input and KCRS (oihw; depthwise C1RS) weights, output NKPQ. */
typedef struct {
    int64_t C, H, W, K, R, S, stride, pad;
    bool depthwise;
} bench_conv_shape;

void bench_conv_out_hw(const bench_conv_shape *c, int64_t *P, int64_t *Q);
size_t bench_conv_x_size(const bench_conv_shape *c);
size_t bench_conv_w_size(const bench_conv_shape *c);
size_t bench_conv_y_size(const bench_conv_shape *c);
double bench_conv_flops(const bench_conv_shape *c);
/* The conv in plain loops (double accumulation, NCHW): what ours and the peer are checked
 * against, so a wrong peer setup cannot pass for agreement. */
void bench_conv_reference(const bench_conv_shape *c, const float *x, const float *w, float *y);
/* NCHW x and KCRS w to NHWC x and RSCK w (depthwise: RSC1), the built-in op's NHWC layout. */
void bench_conv_to_nhwc(const bench_conv_shape *c, const float *x, const float *w, float *xh,
                        float *wh);
/* An NPQK output back to NKPQ. */
void bench_conv_y_to_nchw(const bench_conv_shape *c, const float *yh, float *y);

/* ---- oneDNN ---- */

#ifdef BENCH_HAVE_DNNL
/* The matmul primitive on g's plain row-major A, B, C (the sgemm interface), for the threads
 * set last by bench_set_threads (oneDNN reads them when a primitive is created). */
bench_dnnl *bench_dnnl_matmul(const bench_gemm *g);
/* The convolution primitive with every tensor in oneDNN's own preferred layout (format_tag
 * any); x and w (NCHW, KCRS) are reordered into it here, outside any timed region. */
bench_dnnl *bench_dnnl_conv(const bench_conv_shape *c, const float *x, const float *w);
/* The conv's output reordered into y (NKPQ). */
void bench_dnnl_conv_output(bench_dnnl *d, float *y);
void bench_run_dnnl(void *dnnl);
#endif

#endif
