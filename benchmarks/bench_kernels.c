/* Issue-3 kernel benchmark: our kernels (tt_op_build + a hand-written schedule from
 * benchmarks/schedules/ + tt_lower + tt_codegen_jit) against OpenBLAS, BLIS and oneDNN in one
 * process, so the ratios are measured side by side on the same inputs, with 1 and 2 threads.
 *   usage: bench_kernels [--schedules DIR] [--runs N] [--min-ms MS] [--threads 1,2] [--only OP]
 * Prints a table: op, threads, ours GFLOPS, peer, peer GFLOPS, ratio, compile ms, max rel err. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "codegen/codegen.h"
#include "ir/lang.h"
#include "ir/lower.h"
#include "ir/ops.h"
#include "ir/schedule.h"
#include "tt/backend.h"

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

#ifndef BENCH_SCHEDULE_DIR
#define BENCH_SCHEDULE_DIR "benchmarks/schedules"
#endif

static struct {
    const char *sched_dir;
    int runs;
    double min_ms;
    int nthreads;
    int threads[4];
    const char *only;
} opt = {BENCH_SCHEDULE_DIR, 7, 50.0, 2, {1, 2}, NULL};

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_kernels: %s: %s\n", what, msg);
    exit(1);
}

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

typedef void (*run_fn)(void *ctx);

/* One contender of a row: a way to compute the op, its samples (seconds per call). */
typedef struct {
    const char *name;
    run_fn f;
    void *ctx;
    double err; /* max rel err of ours against this peer's output (or the reference) */
    long iters;
    double t[64];
} entrant;

/* Warm-up (at least 3 calls and 50 ms), then the number of calls that makes a run opt.min_ms. */
static void calibrate(entrant *e)
{
    double t0 = now_s();
    int warm = 0;
    while (warm < 3 || now_s() - t0 < 0.05) {
        e->f(e->ctx);
        warm++;
    }
    e->iters = (long)(opt.min_ms * 1e-3 / ((now_s() - t0) / warm)) + 1;
}

static double run_once(entrant *e)
{
    double s = now_s();
    for (long i = 0; i < e->iters; i++)
        e->f(e->ctx);
    return (now_s() - s) / (double)e->iters;
}

static double median(double *v, int n)
{
    double c[64];
    memcpy(c, v, (size_t)n * sizeof *v);
    qsort(c, (size_t)n, sizeof c[0], cmp_double);
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

static void report(const char *op, int threads, double ours_gf, const char *peer, double peer_gf,
                   double ratio, double compile_ms, double err)
{
    printf("| %-25s | %d | %7.1f | %-8s | %7.1f | %5.2f | %7.1f | %.1e |\n", op, threads, ours_gf,
           peer, peer_gf, ratio, compile_ms, err);
    fflush(stdout);
}

/* e[0] is ours, e[1..n-1] the peers. Runs are interleaved round by round (ours, peer 1, ...,
 * ours, peer 1, ...) so a load that comes and goes on the shared machine hits every contender
 * alike; a row's ratio is the median over rounds of ours/peer GFLOPS within a round. */
static void contest(const char *op, int threads, double flops, double compile_ms, entrant *e, int n)
{
    int runs = opt.runs < 64 ? opt.runs : 64;
    for (int i = 0; i < n; i++) {
        nap_ms(100);
        calibrate(&e[i]);
    }
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < n; i++) {
            nap_ms(i && !strcmp(e[i - 1].name, "OpenBLAS") ? 100 : 20);
            e[i].t[r] = run_once(&e[i]);
        }
    double ours = flops / median(e[0].t, runs) * 1e-9;
    if (n == 1)
        report(op, threads, ours, "(none)", 0, 0, compile_ms, e[0].err);
    for (int i = 1; i < n; i++) {
        double ratio[64];
        for (int r = 0; r < runs; r++)
            ratio[r] = e[i].t[r] / e[0].t[r];
        report(op, threads, ours, e[i].name, flops / median(e[i].t, runs) * 1e-9,
               median(ratio, runs), compile_ms, e[i].err);
    }
}

static float *alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        die("alloc", "out of memory");
    return p;
}

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
}

/* max |a - b| / max |b|: the error of a relative to the scale of the reference b. */
static double max_rel_err(const float *a, const float *b, size_t n)
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
        die("check", "the reference output is all zeros");
    return d / s;
}

/* Ours against double-precision dot products at 1000 sampled elements of C (a check that needs
 * no peer library); dies beyond 1e-4 of the output's scale. */
static void check_matmul_sampled(const float *A, const float *B, const float *C, int64_t M,
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
        die("our matmul", "differs from the reference dot products");
}

/* The conv2d in plain loops (double accumulation, NCHW): what ours and the peer are checked
 * against, so a wrong peer setup cannot pass for agreement. */
static void conv_reference(const float *x, const float *w, float *y, int C, int K, int H, int W)
{
    for (int k = 0; k < K; k++)
        for (int p = 0; p < H; p++)
            for (int q = 0; q < W; q++) {
                double acc = 0;
                for (int c = 0; c < C; c++)
                    for (int r = 0; r < 3; r++)
                        for (int s = 0; s < 3; s++) {
                            int h = p + r - 1, v = q + s - 1;
                            if (h >= 0 && h < H && v >= 0 && v < W)
                                acc += (double)x[((size_t)c * H + h) * W + v] *
                                       (double)w[(((size_t)k * C + c) * 3 + r) * 3 + s];
                        }
                y[((size_t)k * H + p) * W + q] = (float)acc;
            }
}

/* ---- our kernels ---- */

typedef int32_t (*kernel3)(float *, float *, float *);

typedef struct {
    tt_module mod;
    kernel3 fn;
    double compile_ms;
    float *in0, *in1, *out;
} ours_t;

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, "cannot open");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
        die(path, "cannot read");
    s[n] = 0;
    fclose(f);
    return s;
}

/* Builds the op of d, or when d is NULL the expression text expr over the inputs in. */
static void build_ours(const tt_op_desc *d, const char *expr, int nin, const tt_lang_input *in,
                       int nex, const tt_lang_extent *ex, const char *name, const char *sched_file,
                       ours_t *o)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", opt.sched_dir, sched_file);
    char *text = read_text(path);
    tt_schedule *s = NULL;
    tt_compute *c = NULL;
    tt_kernel *k = NULL;
    tt_target *t = NULL;
    int built = d ? tt_op_build(d, name, &c) : tt_lang_parse(expr, name, nin, in, nex, ex, &c);
    if (tt_schedule_from_json(text, &s) < 0 || built < 0 || tt_lower(c, s, name, &k) < 0 ||
        tt_target_parse("llvm -mcpu=native", &t) < 0 || tt_codegen_jit(&k, 1, t, &o->mod) < 0)
        die(path, tt_get_last_error());
    o->compile_ms = tt_codegen_last_stats().total_ms;
    o->fn = (kernel3)tt_codegen_jit_lookup(o->mod, name);
    if (!o->fn)
        die(name, tt_get_last_error());
    free(text);
    tt_schedule_free(s);
    tt_object_release((tt_object *)c);
    tt_object_release((tt_object *)k);
    tt_target_free(t);
}

static void run_ours(void *ctx)
{
    ours_t *o = ctx;
    if (o->fn(o->in0, o->in1, o->out) != 0)
        die("our kernel", "returned an error");
}

/* ---- peers ---- */

typedef struct {
    int64_t M, N, K;
    float *A, *B, *C;
} gemm_t;

#ifdef BENCH_HAVE_OPENBLAS
static void run_openblas(void *ctx)
{
    gemm_t *g = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f,
                g->A, (int)g->K, g->B, (int)g->N, 0.0f, g->C, (int)g->N);
}
#endif

#ifdef BENCH_HAVE_BLIS
static void run_blis(void *ctx)
{
    gemm_t *g = ctx;
    const float one = 1.0f, zero = 0.0f;
    bli_sgemm(0, 0, g->M, g->N, g->K, &one, g->A, g->K, 1, g->B, g->N, 1, &zero, g->C, g->N, 1);
}
#endif

#ifdef BENCH_HAVE_DNNL
static void dnnl_ok(dnnl_status_t st, const char *what)
{
    if (st != dnnl_success)
        die("oneDNN", what);
}

typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[3];
    dnnl_memory_t mem[3];
} dnnl_run_t;

static void run_dnnl(void *ctx)
{
    dnnl_run_t *r = ctx;
    dnnl_ok(dnnl_primitive_execute(r->prim, r->stream, r->nargs, r->args), "execute");
    dnnl_ok(dnnl_stream_wait(r->stream), "wait");
}

static void dnnl_free_run(dnnl_run_t *r)
{
    for (int i = 0; i < 3; i++)
        if (r->mem[i])
            dnnl_memory_destroy(r->mem[i]);
    dnnl_primitive_destroy(r->prim);
}

/* Copies user (plain) data into a memory of desc md (oneDNN's chosen layout), or back. */
static void dnnl_copy(dnnl_engine_t eng, dnnl_stream_t st, dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *fmd, *tmd;
    dnnl_memory_get_memory_desc(from, &fmd);
    dnnl_memory_get_memory_desc(to, &tmd);
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    dnnl_ok(dnnl_reorder_primitive_desc_create(&pd, fmd, eng, tmd, eng, NULL), "reorder pd");
    dnnl_ok(dnnl_primitive_create(&p, pd), "reorder");
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    dnnl_ok(dnnl_primitive_execute(p, st, 2, a), "reorder execute");
    dnnl_ok(dnnl_stream_wait(st), "wait");
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

/* The matmul primitive on plain row-major A, B, C (the sgemm interface). */
static void dnnl_matmul_make(dnnl_engine_t eng, dnnl_stream_t st, gemm_t *g, dnnl_run_t *r)
{
    memset(r, 0, sizeof *r);
    r->eng = eng;
    r->stream = st;
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
    r->nargs = 3;
    r->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, r->mem[0]};
    r->args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, r->mem[1]};
    r->args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, r->mem[2]};
}
#endif

static void set_threads(int n)
{
    if (tt_backend_set_num_threads(n) < 0)
        die("tt_backend_set_num_threads", tt_get_last_error());
    omp_set_num_threads(n); /* oneDNN (OpenMP runtime) reads it when a primitive is created */
#ifdef BENCH_HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
#ifdef BENCH_HAVE_BLIS
    bli_thread_set_num_threads(n);
#endif
}

/* ---- matmul ---- */

static void bench_matmul(int64_t M, int64_t N, int64_t K, const char *sched_file)
{
    char op[64];
    snprintf(op, sizeof op, "matmul %lldx%lldx%lld", (long long)M, (long long)N, (long long)K);
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_MATMUL);
    d.M = M, d.N = N, d.K = K;
    ours_t o = {0};
    build_ours(&d, NULL, 0, NULL, 0, NULL, "bench_matmul", sched_file, &o);
    gemm_t g = {M,
                N,
                K,
                alloc_floats((size_t)(M * K)),
                alloc_floats((size_t)(K * N)),
                alloc_floats((size_t)(M * N))};
    fill(g.A, (size_t)(M * K), 1);
    fill(g.B, (size_t)(K * N), 2);
    o.in0 = g.A, o.in1 = g.B, o.out = alloc_floats((size_t)(M * N));
    double flops = 2.0 * (double)M * (double)N * (double)K;
    size_t nc = (size_t)(M * N);
    (void)nc; /* unused when no peer library was found */
#ifdef BENCH_HAVE_DNNL
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_ok(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    dnnl_ok(dnnl_stream_create(&st, eng, dnnl_stream_default_flags), "stream");
#endif
    for (int ti = 0; ti < opt.nthreads; ti++) {
        int nt = opt.threads[ti];
        set_threads(nt);
        entrant e[4] = {{"ours", run_ours, &o, 0, 0, {0}}};
        int ne = 1;
        run_ours(&o);
        check_matmul_sampled(g.A, g.B, o.out, M, N, K);
#ifdef BENCH_HAVE_OPENBLAS
        run_openblas(&g);
        e[ne++] = (entrant){"OpenBLAS", run_openblas, &g, max_rel_err(o.out, g.C, nc), 0, {0}};
#endif
#ifdef BENCH_HAVE_BLIS
        run_blis(&g);
        e[ne++] = (entrant){"BLIS", run_blis, &g, max_rel_err(o.out, g.C, nc), 0, {0}};
#endif
#ifdef BENCH_HAVE_DNNL
        dnnl_run_t r;
        dnnl_matmul_make(eng, st, &g, &r);
        run_dnnl(&r);
        e[ne++] = (entrant){"oneDNN", run_dnnl, &r, max_rel_err(o.out, g.C, nc), 0, {0}};
#endif
        contest(op, nt, flops, o.compile_ms, e, ne);
#ifdef BENCH_HAVE_DNNL
        dnnl_free_run(&r);
#endif
    }
#ifdef BENCH_HAVE_DNNL
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
#endif
    tt_mod_free(o.mod);
    free(g.A), free(g.B), free(g.C), free(o.out);
}

/* ---- conv2d: ResNet-50 3x3, N=1 C=K=128 H=W=28 pad 1 stride 1 ---- */

enum { CN = 128, CK = 128, CH = 28, CW = 28, CR = 3, CS = 3 };

/* The same conv written in the expression language with the zero padding as its own stage Xp
 * (a workspace the kernel fills from X on every call, inside the timed region): the main nest
 * then reads without the bounds select the built-in op has in its inner loop. */
static const char conv_padded_expr[] =
    "Xp[n, h, w, c] = select(h >= 1 && h < 29 && w >= 1 && w < 29, X[n, h - 1, w - 1, c], 0.0);"
    "Y[n, p, q, k] = sum([r, s, c], Xp[n, p + r, q + s, c] * W[r, s, c, k])";

/* padded: ours is conv_padded_expr, else the built-in conv2d op (NHWC). */
static void bench_conv(const char *sched_file, bool padded)
{
    const char *op = padded ? "conv2d 128 28x28 padstage" : "conv2d 3x3 128 28x28";
    tt_op_desc d;
    tt_op_desc_init(&d, TT_OP_CONV2D);
    d.N = 1, d.C = CN, d.H = CH, d.W = CW, d.K = CK, d.R = CR, d.S = CS;
    d.pad[0] = d.pad[1] = 1;
    d.nhwc = true; /* ours runs NHWC (X[n,h,w,c], W[r,s,c,k]); the peer gets NCHW user data */
    ours_t o = {0};
    if (padded) {
        static const int64_t xs[4] = {1, CH, CW, CN}, ws[4] = {CR, CS, CN, CK};
        const tt_lang_input in[2] = {{"X", 4, xs, d.dtype}, {"W", 4, ws, d.dtype}};
        const tt_lang_extent ex[2] = {{"h", CH + 2}, {"w", CW + 2}};
        build_ours(NULL, conv_padded_expr, 2, in, 2, ex, "bench_conv_pad", sched_file, &o);
    } else {
        build_ours(&d, NULL, 0, NULL, 0, NULL, "bench_conv", sched_file, &o);
    }
    size_t nx = (size_t)CN * CH * CW, nw = (size_t)CK * CN * CR * CS, ny = (size_t)CK * CH * CW;
    float *x = alloc_floats(nx), *w = alloc_floats(nw), *y = alloc_floats(ny);
    fill(x, nx, 3); /* NCHW */
    fill(w, nw, 4); /* KCRS (oihw) */
    float *xh = alloc_floats(nx), *wh = alloc_floats(nw), *yh = alloc_floats(ny);
    for (int c = 0; c < CN; c++)
        for (int h = 0; h < CH; h++)
            for (int v = 0; v < CW; v++)
                xh[((size_t)h * CW + v) * CN + c] = x[((size_t)c * CH + h) * CW + v];
    for (int k = 0; k < CK; k++)
        for (int c = 0; c < CN; c++)
            for (int r = 0; r < CR; r++)
                for (int s = 0; s < CS; s++)
                    wh[(((size_t)r * CS + s) * CN + c) * CK + k] =
                        w[(((size_t)k * CN + c) * CR + r) * CS + s];
    o.in0 = xh, o.in1 = wh, o.out = yh;
    double flops = 2.0 * CK * CH * CW * CN * CR * CS;
    float *yc = alloc_floats(ny), *yr = alloc_floats(ny);
    conv_reference(x, w, yr, CN, CK, CH, CW);
#ifdef BENCH_HAVE_DNNL
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_ok(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    dnnl_ok(dnnl_stream_create(&st, eng, dnnl_stream_default_flags), "stream");
#endif
    for (int ti = 0; ti < opt.nthreads; ti++) {
        int nt = opt.threads[ti];
        set_threads(nt);
        entrant e[2] = {{"ours", run_ours, &o, 0, 0, {0}}};
        run_ours(&o);
        /* ours is NHWC: compared in NCHW with the reference loops (the table's error) */
        for (int k = 0; k < CK; k++)
            for (int h = 0; h < CH; h++)
                for (int v = 0; v < CW; v++)
                    yc[((size_t)k * CH + h) * CW + v] = yh[((size_t)h * CW + v) * CK + k];
        double err = max_rel_err(yc, yr, ny);
        e[0].err = err;
#ifdef BENCH_HAVE_DNNL
        dnnl_memory_desc_t ux, uw, uy, ax, aw, ay;
        dnnl_dims_t dx = {1, CN, CH, CW}, dw = {CK, CN, CR, CS}, dy = {1, CK, CH, CW};
        dnnl_dims_t strides = {1, 1}, pad = {1, 1};
        dnnl_ok(dnnl_memory_desc_init_by_tag(&ux, 4, dx, dnnl_f32, dnnl_nchw), "md");
        dnnl_ok(dnnl_memory_desc_init_by_tag(&uw, 4, dw, dnnl_f32, dnnl_oihw), "md");
        dnnl_ok(dnnl_memory_desc_init_by_tag(&uy, 4, dy, dnnl_f32, dnnl_nchw), "md");
        dnnl_ok(dnnl_memory_desc_init_by_tag(&ax, 4, dx, dnnl_f32, dnnl_format_tag_any), "md");
        dnnl_ok(dnnl_memory_desc_init_by_tag(&aw, 4, dw, dnnl_f32, dnnl_format_tag_any), "md");
        dnnl_ok(dnnl_memory_desc_init_by_tag(&ay, 4, dy, dnnl_f32, dnnl_format_tag_any), "md");
        dnnl_convolution_desc_t cd;
        dnnl_ok(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                   dnnl_convolution_direct, &ax, &aw, NULL, &ay,
                                                   strides, pad, pad),
                "conv desc");
        dnnl_primitive_desc_t pd;
        dnnl_ok(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL), "conv pd");
        dnnl_run_t r = {.eng = eng, .stream = st, .nargs = 3};
        dnnl_ok(dnnl_primitive_create(&r.prim, pd), "conv");
        const dnnl_memory_desc_t *mx = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *mw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *my = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        dnnl_memory_t umx, umw, umy;
        dnnl_ok(dnnl_memory_create(&umx, &ux, eng, x), "mem");
        dnnl_ok(dnnl_memory_create(&umw, &uw, eng, w), "mem");
        dnnl_ok(dnnl_memory_create(&umy, &uy, eng, y), "mem");
        dnnl_ok(dnnl_memory_create(&r.mem[0], mx, eng, DNNL_MEMORY_ALLOCATE), "mem");
        dnnl_ok(dnnl_memory_create(&r.mem[1], mw, eng, DNNL_MEMORY_ALLOCATE), "mem");
        dnnl_ok(dnnl_memory_create(&r.mem[2], my, eng, DNNL_MEMORY_ALLOCATE), "mem");
        dnnl_primitive_desc_destroy(pd);
        /* Layout changes outside the timed region: the primitive alone is timed. */
        dnnl_copy(eng, st, umx, r.mem[0]);
        dnnl_copy(eng, st, umw, r.mem[1]);
        r.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, r.mem[0]};
        r.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, r.mem[1]};
        r.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, r.mem[2]};
        run_dnnl(&r);
        dnnl_copy(eng, st, r.mem[2], umy);
        /* ours is NHWC: compare in NCHW */
        if (max_rel_err(y, yr, ny) > 1e-4)
            die("oneDNN conv", "its output differs from the reference loops");
        e[1] = (entrant){"oneDNN", run_dnnl, &r, err, 0, {0}};
        contest(op, nt, flops, o.compile_ms, e, 2);
        dnnl_memory_destroy(umx), dnnl_memory_destroy(umw), dnnl_memory_destroy(umy);
        dnnl_free_run(&r);
#else
        contest(op, nt, flops, o.compile_ms, e, 1);
#endif
    }
#ifdef BENCH_HAVE_DNNL
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
#endif
    tt_mod_free(o.mod);
    free(x), free(w), free(y), free(xh), free(wh), free(yh), free(yc), free(yr);
}

static void usage(void)
{
    fputs("usage: bench_kernels [--schedules DIR] [--runs N] [--min-ms MS] [--threads 1,2] "
          "[--only matmul|conv]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--schedules"))
            opt.sched_dir = v;
        else if (!strcmp(a, "--runs"))
            opt.runs = atoi(v);
        else if (!strcmp(a, "--min-ms"))
            opt.min_ms = atof(v);
        else if (!strcmp(a, "--only"))
            opt.only = v;
        else if (!strcmp(a, "--threads")) {
            opt.nthreads = 0;
            for (char *s = (char *)v; *s && opt.nthreads < 4;) {
                opt.threads[opt.nthreads++] = (int)strtol(s, &s, 10);
                if (*s == ',')
                    s++;
                else if (*s)
                    usage();
            }
        } else
            usage();
        i++;
        if (opt.runs < 1)
            usage();
    }
#ifdef BENCH_HAVE_BLIS
    /* BLIS 0.9 cannot count the FMA units of CPUs it does not know and then picks its AVX2
     * 'haswell' kernels (about 0.6x of its AVX-512 ones here): give it 'skx' on an AVX-512
     * host unless the user chose. Read at BLIS's first call. */
    if (__builtin_cpu_supports("avx512f") && setenv("BLIS_ARCH_TYPE", "skx", 0) < 0)
        die("setenv", "BLIS_ARCH_TYPE");
    if (getenv("BLIS_ARCH_TYPE"))
        printf("BLIS_ARCH_TYPE=%s\n", getenv("BLIS_ARCH_TYPE"));
#endif
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
    printf("median of %d runs, each >= %.0f ms, after warm-up\n\n", opt.runs, opt.min_ms);
    printf(
        "| op | threads | ours GFLOPS | peer | peer GFLOPS | ratio | compile ms | max rel err |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    if (!opt.only || !strcmp(opt.only, "matmul")) {
        bench_matmul(1024, 1024, 1024, "matmul_1024.json");
        bench_matmul(512, 512, 512, "matmul_512.json");
        bench_matmul(128, 768, 3072, "matmul_128x768x3072.json");
        bench_matmul(127, 131, 257, "matmul_127x131x257.json");
    }
    if (!opt.only || !strcmp(opt.only, "conv"))
        bench_conv("conv2d_nhwc_128_28.json", false);
    if (!opt.only || !strcmp(opt.only, "conv") || !strcmp(opt.only, "convpad"))
        bench_conv("conv2d_nhwc_128_28_padstage.json", true);
    return 0;
}
