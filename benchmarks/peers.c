/* The timing protocol, data helpers, reference loops and peer libraries that bench_kernels and
 * bench_tuned share (peers.h). Everything here runs outside our compiler: the programs hand in
 * their own kernels as bench_entrant callbacks. */
#define _POSIX_C_SOURCE 200809L
#include "peers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "tt/backend.h"
#include "tt/runtime.h"

#ifdef BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef BENCH_HAVE_BLIS
/* blis.h also declares the CBLAS interface, which clashes with OpenBLAS's cblas.h in this
 * translation unit: declare the two BLIS 0.9 entry points used (trans_t is an enum whose
 * BLIS_NO_TRANSPOSE is 0; dim_t and inc_t are int64_t on x86-64). */
void bli_sgemm(int transa, int transb, int64_t m, int64_t n, int64_t k, const float *alpha,
               const float *a, int64_t rs_a, int64_t cs_a, const float *b, int64_t rs_b,
               int64_t cs_b, const float *beta, float *c, int64_t rs_c, int64_t cs_c);
void bli_thread_set_num_threads(int64_t n);
#endif
#ifdef BENCH_HAVE_DNNL
#include <dnnl.h>
#endif

static const char *prog = "bench";

void bench_set_prog(const char *p)
{
    prog = p;
}

void bench_die(const char *what, const char *msg)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
    exit(1);
}

/* ---- timing ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap_ms(int ms)
{
    /* Lets the worker threads of the previous library stop spinning before the next is timed
     * (OpenBLAS and libgomp busy-wait a while after a call; the machine has 2 cores). */
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void calibrate(bench_entrant *e, double min_ms)
{
    double t0 = now_s();
    int warm = 0;
    while (warm < 3 || now_s() - t0 < 0.05) {
        e->f(e->ctx);
        warm++;
    }
    e->iters = (long)(min_ms * 1e-3 / ((now_s() - t0) / warm)) + 1;
}

static double run_once(bench_entrant *e)
{
    double s = now_s();
    for (long i = 0; i < e->iters; i++)
        e->f(e->ctx);
    return (now_s() - s) / (double)e->iters;
}

void bench_contest(bench_entrant *e, int n, int runs, double min_ms)
{
    runs = runs < BENCH_MAX_RUNS ? runs : BENCH_MAX_RUNS;
    for (int i = 0; i < n; i++) {
        nap_ms(100);
        calibrate(&e[i], min_ms);
    }
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < n; i++) {
            nap_ms(i && !strcmp(e[i - 1].name, "OpenBLAS") ? 100 : 20);
            e[i].t[r] = run_once(&e[i]);
        }
}

double bench_median(const double *v, int n)
{
    double c[BENCH_MAX_RUNS];
    memcpy(c, v, (size_t)n * sizeof *v);
    qsort(c, (size_t)n, sizeof c[0], cmp_double);
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

double bench_ratio(const bench_entrant *ours, const bench_entrant *peer, int runs)
{
    double ratio[BENCH_MAX_RUNS];
    runs = runs < BENCH_MAX_RUNS ? runs : BENCH_MAX_RUNS;
    for (int r = 0; r < runs; r++)
        ratio[r] = peer->t[r] / ours->t[r];
    return bench_median(ratio, runs);
}

/* ---- data ---- */

float *bench_alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        bench_die("alloc", "out of memory");
    return p;
}

void bench_fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
}

double bench_max_rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d || isnan(e))
            d = isnan(e) ? INFINITY : e;
        if (fabs((double)b[i]) > s)
            s = fabs((double)b[i]);
    }
    if (s == 0)
        bench_die("check", "the reference output is all zeros");
    return d / s;
}

void bench_check_matmul_sampled(const float *A, const float *B, const float *C, int64_t M,
                                int64_t N, int64_t K)
{
    unsigned seed = 7;
    double dmax = 0, smax = 0;
    for (int t = 0; t < 1000; t++) {
        seed = seed * 1664525u + 1013904223u;
        int64_t i = (int64_t)(seed >> 8) % M;
        seed = seed * 1664525u + 1013904223u;
        int64_t j = (int64_t)(seed >> 8) % N;
        double ref = 0;
        for (int64_t k = 0; k < K; k++)
            ref += (double)A[i * K + k] * (double)B[k * N + j];
        double d = fabs(ref - (double)C[i * N + j]);
        dmax = d > dmax || isnan(d) ? d : dmax;
        smax = fabs(ref) > smax ? fabs(ref) : smax;
    }
    if (!(dmax <= 1e-4 * smax))
        bench_die("our matmul", "differs from the reference dot products");
}

/* ---- threads ---- */

void bench_set_threads(int n)
{
    if (tt_backend_set_num_threads(n) < 0)
        bench_die("tt_backend_set_num_threads", tt_get_last_error());
    omp_set_num_threads(n); /* oneDNN (OpenMP runtime) reads it when a primitive is created */
#ifdef BENCH_HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
#ifdef BENCH_HAVE_BLIS
    bli_thread_set_num_threads(n);
#endif
}

void bench_print_peers(void)
{
    printf("peers:%s%s%s\n",
#ifdef BENCH_HAVE_OPENBLAS
           " OpenBLAS",
#else
           " (OpenBLAS not found)",
#endif
#ifdef BENCH_HAVE_BLIS
           " BLIS",
#else
           " (BLIS not found)",
#endif
#ifdef BENCH_HAVE_DNNL
           " oneDNN"
#else
           " (oneDNN not found)"
#endif
    );
}

/* ---- sgemm ---- */

#ifdef BENCH_HAVE_OPENBLAS
void bench_run_openblas(void *ctx)
{
    bench_gemm *g = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f,
                g->A, (int)g->K, g->B, (int)g->N, 0.0f, g->C, (int)g->N);
}
#endif

#ifdef BENCH_HAVE_BLIS
void bench_run_blis(void *ctx)
{
    bench_gemm *g = ctx;
    const float one = 1.0f, zero = 0.0f;
    bli_sgemm(0, 0, g->M, g->N, g->K, &one, g->A, g->K, 1, g->B, g->N, 1, &zero, g->C, g->N, 1);
}
#endif

/* ---- convolution ---- */

void bench_conv_out_hw(const bench_conv_shape *c, int64_t *P, int64_t *Q)
{
    *P = (c->H + 2 * c->pad - c->R) / c->stride + 1;
    *Q = (c->W + 2 * c->pad - c->S) / c->stride + 1;
}

static int64_t out_k(const bench_conv_shape *c)
{
    return c->depthwise ? c->C : c->K;
}

size_t bench_conv_x_size(const bench_conv_shape *c)
{
    return (size_t)(c->C * c->H * c->W);
}

size_t bench_conv_w_size(const bench_conv_shape *c)
{
    return (size_t)(out_k(c) * (c->depthwise ? 1 : c->C) * c->R * c->S);
}

size_t bench_conv_y_size(const bench_conv_shape *c)
{
    int64_t P, Q;
    bench_conv_out_hw(c, &P, &Q);
    return (size_t)(out_k(c) * P * Q);
}

double bench_conv_flops(const bench_conv_shape *c)
{
    return 2.0 * (double)bench_conv_y_size(c) * (double)(c->depthwise ? 1 : c->C) *
           (double)(c->R * c->S);
}

void bench_conv_reference(const bench_conv_shape *c, const float *x, const float *w, float *y)
{
    int64_t P, Q, K = out_k(c), C = c->depthwise ? 1 : c->C;
    bench_conv_out_hw(c, &P, &Q);
    for (int64_t k = 0; k < K; k++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {
                double acc = 0;
                for (int64_t ci = 0; ci < C; ci++) {
                    int64_t cx = c->depthwise ? k : ci; /* the input channel read */
                    for (int64_t r = 0; r < c->R; r++)
                        for (int64_t s = 0; s < c->S; s++) {
                            int64_t h = p * c->stride + r - c->pad, v = q * c->stride + s - c->pad;
                            if (h >= 0 && h < c->H && v >= 0 && v < c->W)
                                acc += (double)x[(cx * c->H + h) * c->W + v] *
                                       (double)w[((k * C + ci) * c->R + r) * c->S + s];
                        }
                }
                y[(k * P + p) * Q + q] = (float)acc;
            }
}

void bench_conv_to_nhwc(const bench_conv_shape *c, const float *x, const float *w, float *xh,
                        float *wh)
{
    int64_t K = out_k(c), C = c->depthwise ? 1 : c->C;
    for (int64_t ci = 0; ci < c->C; ci++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t v = 0; v < c->W; v++)
                xh[(h * c->W + v) * c->C + ci] = x[(ci * c->H + h) * c->W + v];
    /* KCRS -> RSCK; depthwise C1RS -> RSC1, the same rule with C = 1 and K = channels */
    for (int64_t k = 0; k < K; k++)
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t r = 0; r < c->R; r++)
                for (int64_t s = 0; s < c->S; s++)
                    wh[((r * c->S + s) * C + ci) * K + k] = w[((k * C + ci) * c->R + r) * c->S + s];
}

void bench_conv_y_to_nchw(const bench_conv_shape *c, const float *yh, float *y)
{
    int64_t P, Q, K = out_k(c);
    bench_conv_out_hw(c, &P, &Q);
    for (int64_t k = 0; k < K; k++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                y[(k * P + p) * Q + q] = yh[(p * Q + q) * K + k];
}

/* ---- oneDNN ---- */

#ifdef BENCH_HAVE_DNNL
struct bench_dnnl {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[3];
    dnnl_memory_t mem[3];
    dnnl_memory_t user_y; /* conv: the NKPQ output the result is reordered into */
};

static dnnl_engine_t eng;
static dnnl_stream_t stream;

static void dnnl_ok(dnnl_status_t st, const char *what)
{
    if (st != dnnl_success)
        bench_die("oneDNN", what);
}

/* One engine and stream for the process, made at the first primitive. */
static void dnnl_start(void)
{
    if (eng)
        return;
    dnnl_ok(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    dnnl_ok(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags), "stream");
}

void bench_run_dnnl(void *ctx)
{
    bench_dnnl *r = ctx;
    dnnl_ok(dnnl_primitive_execute(r->prim, stream, r->nargs, r->args), "execute");
    dnnl_ok(dnnl_stream_wait(stream), "wait");
}

void bench_dnnl_free(bench_dnnl *r)
{
    if (!r)
        return;
    for (int i = 0; i < 3; i++)
        if (r->mem[i])
            dnnl_memory_destroy(r->mem[i]);
    if (r->user_y)
        dnnl_memory_destroy(r->user_y);
    dnnl_primitive_destroy(r->prim);
    free(r);
}

/* Copies the data of memory from into memory to, changing the layout (a reorder primitive). */
static void dnnl_copy(dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *fmd, *tmd;
    dnnl_memory_get_memory_desc(from, &fmd);
    dnnl_memory_get_memory_desc(to, &tmd);
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    dnnl_ok(dnnl_reorder_primitive_desc_create(&pd, fmd, eng, tmd, eng, NULL), "reorder pd");
    dnnl_ok(dnnl_primitive_create(&p, pd), "reorder");
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    dnnl_ok(dnnl_primitive_execute(p, stream, 2, a), "reorder execute");
    dnnl_ok(dnnl_stream_wait(stream), "wait");
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

static bench_dnnl *dnnl_new(void)
{
    dnnl_start();
    bench_dnnl *r = calloc(1, sizeof *r);
    if (!r)
        bench_die("alloc", "out of memory");
    r->nargs = 3;
    return r;
}

static void dnnl_set_args(bench_dnnl *r)
{
    r->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, r->mem[0]};
    r->args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, r->mem[1]};
    r->args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, r->mem[2]};
}

bench_dnnl *bench_dnnl_matmul(const bench_gemm *g)
{
    bench_dnnl *r = dnnl_new();
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t da = {g->M, g->K}, db = {g->K, g->N}, dc = {g->M, g->N};
    dnnl_ok(dnnl_memory_desc_init_by_tag(&a, 2, da, dnnl_f32, dnnl_ab), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&b, 2, db, dnnl_f32, dnnl_ab), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&c, 2, dc, dnnl_f32, dnnl_ab), "md");
    dnnl_matmul_desc_t md;
    dnnl_ok(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), "matmul desc");
    dnnl_primitive_desc_t pd;
    dnnl_ok(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL), "matmul pd");
    dnnl_ok(dnnl_primitive_create(&r->prim, pd), "matmul");
    dnnl_primitive_desc_destroy(pd);
    dnnl_ok(dnnl_memory_create(&r->mem[0], &a, eng, g->A), "mem");
    dnnl_ok(dnnl_memory_create(&r->mem[1], &b, eng, g->B), "mem");
    dnnl_ok(dnnl_memory_create(&r->mem[2], &c, eng, g->C), "mem");
    dnnl_set_args(r);
    return r;
}

bench_dnnl *bench_dnnl_conv(const bench_conv_shape *c, const float *x, const float *w)
{
    bench_dnnl *r = dnnl_new();
    int64_t P, Q, K = out_k(c);
    bench_conv_out_hw(c, &P, &Q);
    /* depthwise: a grouped conv of C groups of one channel, weights goihw [C, 1, 1, R, S] */
    int wnd = c->depthwise ? 5 : 4;
    dnnl_dims_t dx = {1, c->C, c->H, c->W}, dy = {1, K, P, Q};
    dnnl_dims_t dw = {K, c->C, c->R, c->S}, dwg = {c->C, 1, 1, c->R, c->S};
    dnnl_dims_t strides = {c->stride, c->stride}, pad = {c->pad, c->pad};
    dnnl_memory_desc_t ux, uw, uy, ax, aw, ay;
    dnnl_ok(dnnl_memory_desc_init_by_tag(&ux, 4, dx, dnnl_f32, dnnl_nchw), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&uw, wnd, c->depthwise ? dwg : dw, dnnl_f32,
                                         c->depthwise ? dnnl_goihw : dnnl_oihw),
            "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&uy, 4, dy, dnnl_f32, dnnl_nchw), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&ax, 4, dx, dnnl_f32, dnnl_format_tag_any), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&aw, wnd, c->depthwise ? dwg : dw, dnnl_f32,
                                         dnnl_format_tag_any),
            "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&ay, 4, dy, dnnl_f32, dnnl_format_tag_any), "md");
    dnnl_convolution_desc_t cd;
    dnnl_ok(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                               &ax, &aw, NULL, &ay, strides, pad, pad),
            "conv desc");
    dnnl_primitive_desc_t pd;
    dnnl_ok(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL), "conv pd");
    dnnl_ok(dnnl_primitive_create(&r->prim, pd), "conv");
    const dnnl_memory_desc_t *mx = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *mw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *my = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t umx, umw;
    dnnl_ok(dnnl_memory_create(&umx, &ux, eng, (void *)x), "mem");
    dnnl_ok(dnnl_memory_create(&umw, &uw, eng, (void *)w), "mem");
    dnnl_ok(dnnl_memory_create(&r->user_y, &uy, eng, DNNL_MEMORY_ALLOCATE), "mem");
    dnnl_ok(dnnl_memory_create(&r->mem[0], mx, eng, DNNL_MEMORY_ALLOCATE), "mem");
    dnnl_ok(dnnl_memory_create(&r->mem[1], mw, eng, DNNL_MEMORY_ALLOCATE), "mem");
    dnnl_ok(dnnl_memory_create(&r->mem[2], my, eng, DNNL_MEMORY_ALLOCATE), "mem");
    dnnl_primitive_desc_destroy(pd);
    /* Layout changes outside the timed region: the primitive alone is timed. */
    dnnl_copy(umx, r->mem[0]);
    dnnl_copy(umw, r->mem[1]);
    dnnl_memory_destroy(umx);
    dnnl_memory_destroy(umw);
    dnnl_set_args(r);
    return r;
}

void bench_dnnl_conv_output(bench_dnnl *r, float *y)
{
    dnnl_copy(r->mem[2], r->user_y);
    void *p;
    dnnl_ok(dnnl_memory_get_data_handle(r->user_y, &p), "data handle");
    const dnnl_memory_desc_t *md;
    dnnl_memory_get_memory_desc(r->user_y, &md);
    memcpy(y, p, dnnl_memory_desc_get_size(md));
}
#endif

#ifndef BENCH_HAVE_DNNL
void bench_dnnl_free(bench_dnnl *d)
{
    (void)d;
}
#endif

int bench_gemm_peers(bench_gemm *g, const float *ours, bool with_blis, bench_entrant *e,
                     bench_dnnl **dnnl)
{
    size_t nc = (size_t)(g->M * g->N);
    int n = 0;
    (void)ours, (void)with_blis, (void)nc, (void)e; /* unused when no peer library was found */
    *dnnl = NULL;
#ifdef BENCH_HAVE_OPENBLAS
    bench_run_openblas(g);
    e[n++] = (bench_entrant){
        "OpenBLAS", bench_run_openblas, g, bench_max_rel_err(ours, g->C, nc), 0, {0}};
#endif
#ifdef BENCH_HAVE_BLIS
    if (with_blis) {
        bench_run_blis(g);
        e[n++] =
            (bench_entrant){"BLIS", bench_run_blis, g, bench_max_rel_err(ours, g->C, nc), 0, {0}};
    }
#endif
#ifdef BENCH_HAVE_DNNL
    *dnnl = bench_dnnl_matmul(g);
    bench_run_dnnl(*dnnl);
    e[n++] =
        (bench_entrant){"oneDNN", bench_run_dnnl, *dnnl, bench_max_rel_err(ours, g->C, nc), 0, {0}};
#endif
    return n;
}
