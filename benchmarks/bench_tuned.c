/* Issue-13 kernel benchmark: one kernel of a library written by `tvm-tune compile` (a tuned
 * schedule) against oneDNN and OpenBLAS in one process, on the same inputs, with the timing
 * protocol of bench_kernels (peers.c: warm-up, calibrated runs, interleaved rounds, medians).
 *   usage: bench_tuned --lib LIB --func NAME [--threads N] [--runs N] [--min-ms MS] SHAPE
 *          bench_tuned --check-peers
 *          bench_tuned --peak    one core's fp32 FMA peak in GFLOPS (the widest vectors this CPU
 *                                has: AVX-512, else AVX2+FMA; 0 on other CPUs), for "% of peak"
 *   SHAPE: matmul M N K
 *          conv2d NCHW|NHWC C H W K R S STRIDE PAD
 *          depthwise_conv2d NCHW|NHWC C H W R S STRIDE PAD
 * The function is the header's `int NAME(const float *, const float *, float *)` (inputs in
 * the op's layout, docs/ARCHITECTURE.md "op.json"). Prints one markdown row:
 *   | NAME | threads | ours GFLOPS | oneDNN GFLOPS | OpenBLAS GFLOPS | ratio | better peer | err |
 * ratio: the median over rounds of ours against the faster peer's time (> 1: ours is faster);
 * err: max rel err of ours against that peer's output. Exit 2 on bad usage or a missing peer. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

typedef int (*kernel3)(const float *, const float *, float *);

typedef struct {
    kernel3 fn;
    const float *in0, *in1;
    float *out;
} ours_t;

static void run_ours(void *ctx)
{
    ours_t *o = ctx;
    if (o->fn(o->in0, o->in1, o->out) != 0)
        bench_die("our kernel", "returned an error");
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 12 independent FMA chains (two FMA pipes of 4-5 cycles' latency stay busy); the flops of n
 * iterations over the seconds they take. */
#define PEAK_BODY(V, FMA, SET1, LANES)                                                             \
    V a[12], b = SET1(1.0f), c = SET1(1e-7f);                                                      \
    for (int k = 0; k < 12; k++)                                                                   \
        a[k] = SET1((float)k);                                                                     \
    double t0 = now_s();                                                                           \
    for (long i = 0; i < n; i++)                                                                   \
        for (int k = 0; k < 12; k++)                                                               \
            a[k] = FMA(a[k], b, c);                                                                \
    double t = now_s() - t0;                                                                       \
    float sink = 0;                                                                                \
    for (int k = 0; k < 12; k++)                                                                   \
        sink += a[k][0];                                                                           \
    if (sink == 42.0f)                                                                             \
        puts("");                                                                                  \
    return 2.0 * LANES * 12 * (double)n / t * 1e-9;

__attribute__((target("avx2,fma"))) static double peak_avx2(long n)
{
    PEAK_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps, 8)
}

__attribute__((target("avx512f"))) static double peak_avx512(long n)
{
    PEAK_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps, 16)
}

/* The best of 5 runs of 0.1-0.2 s each. */
static double fma_peak(void)
{
    __builtin_cpu_init();
    double (*f)(long) = __builtin_cpu_supports("avx512f") ? peak_avx512
                        : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                            ? peak_avx2
                            : NULL;
    double best = 0;
    for (int r = 0; f && r < 5; r++) {
        double g = f(20000000);
        best = g > best ? g : best;
    }
    return best;
}
#else
static double fma_peak(void)
{
    return 0;
}
#endif

static const char usage_text[] =
    "usage: bench_tuned --lib LIB --func NAME [--threads N] [--runs N] [--min-ms MS] SHAPE\n"
    "       bench_tuned --check-peers | --peak\n"
    "  SHAPE: matmul M N K | conv2d NCHW|NHWC C H W K R S STRIDE PAD\n"
    "         | depthwise_conv2d NCHW|NHWC C H W R S STRIDE PAD\n";

static _Noreturn void usage(void)
{
    fputs(usage_text, stderr);
    exit(2);
}

/* Exits 2 naming the peers this build lacks: the table compares against both. */
static void check_peers(void)
{
    const char *missing = ""
#ifndef BENCH_HAVE_DNNL
                          " oneDNN"
#endif
#ifndef BENCH_HAVE_OPENBLAS
                          " OpenBLAS"
#endif
        ;
    if (*missing) {
        fprintf(stderr,
                "bench_tuned: built without%s (install libdnnl-dev / libopenblas-dev and "
                "reconfigure)\n",
                missing);
        exit(2);
    }
}

static long arg_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        usage();
    return v;
}

static struct {
    int threads, runs;
    double min_ms;
} opt = {1, 7, 50.0};

/* The row: ours is e[0]; the peers e[1..n-1]; the faster one (median time) is compared. */
static void report(const char *name, double flops, bench_entrant *e, int n)
{
    bench_contest(e, n, opt.runs, opt.min_ms);
    double gf[3] = {0}, dnnl = 0, blas = 0;
    int best = 1;
    for (int i = 0; i < n; i++) {
        gf[i] = flops / bench_median(e[i].t, opt.runs) * 1e-9;
        if (i > 1 && gf[i] > gf[best])
            best = i;
        if (i && !strcmp(e[i].name, "oneDNN"))
            dnnl = gf[i];
        if (i && !strcmp(e[i].name, "OpenBLAS"))
            blas = gf[i];
    }
    char b[32] = "-";
    if (blas > 0)
        snprintf(b, sizeof b, "%.1f", blas);
    printf("| %s | %d | %.1f | %.1f | %s | %.2f | %s | %.1e |\n", name, opt.threads, gf[0], dnnl, b,
           bench_ratio(&e[0], &e[best], opt.runs), e[best].name, e[best].err);
    fflush(stdout);
}

static void bench_matmul(kernel3 fn, const char *name, char **a)
{
    int64_t M = arg_int(a[0]), N = arg_int(a[1]), K = arg_int(a[2]);
    bench_gemm g = {M,
                    N,
                    K,
                    bench_alloc_floats((size_t)(M * K)),
                    bench_alloc_floats((size_t)(K * N)),
                    bench_alloc_floats((size_t)(M * N))};
    size_t nc = (size_t)(M * N);
    bench_fill(g.A, (size_t)(M * K), 1);
    bench_fill(g.B, (size_t)(K * N), 2);
    ours_t o = {fn, g.A, g.B, bench_alloc_floats(nc)};
    run_ours(&o);
    bench_check_matmul_sampled(g.A, g.B, o.out, M, N, K);
    bench_entrant e[3] = {{"ours", run_ours, &o, 0, 0, {0}}};
    bench_dnnl *r;
    int n = 1 + bench_gemm_peers(&g, o.out, false, e + 1, &r);
    report(name, 2.0 * (double)M * (double)N * (double)K, e, n);
    bench_dnnl_free(r);
    free(g.A), free(g.B), free(g.C), free(o.out);
}

/* a: LAYOUT C H W [K] R S STRIDE PAD */
static void bench_conv2d(kernel3 fn, const char *name, bool depthwise, char **a)
{
    bool nhwc = !strcmp(a[0], "NHWC");
    if (!nhwc && strcmp(a[0], "NCHW"))
        usage();
    int i = 1;
    bench_conv_shape c = {.depthwise = depthwise};
    c.C = arg_int(a[i++]), c.H = arg_int(a[i++]), c.W = arg_int(a[i++]);
    c.K = depthwise ? c.C : arg_int(a[i++]);
    c.R = arg_int(a[i++]), c.S = arg_int(a[i++]);
    c.stride = arg_int(a[i++]), c.pad = arg_int(a[i++]);
    if (c.stride < 1)
        usage();
    size_t nx = bench_conv_x_size(&c), nw = bench_conv_w_size(&c), ny = bench_conv_y_size(&c);
    float *x = bench_alloc_floats(nx), *w = bench_alloc_floats(nw);
    float *yr = bench_alloc_floats(ny), *y = bench_alloc_floats(ny), *yp = bench_alloc_floats(ny);
    bench_fill(x, nx, 3); /* NCHW */
    bench_fill(w, nw, 4); /* KCRS; depthwise C1RS */
    bench_conv_reference(&c, x, w, yr);
    /* ours reads its own layout: NHWC inputs are made here, outside the timed region */
    float *xo = x, *wo = w, *yo = y;
    if (nhwc) {
        xo = bench_alloc_floats(nx), wo = bench_alloc_floats(nw), yo = bench_alloc_floats(ny);
        bench_conv_to_nhwc(&c, x, w, xo, wo);
    }
    ours_t o = {fn, xo, wo, yo};
    run_ours(&o);
    if (nhwc)
        bench_conv_y_to_nchw(&c, yo, y);
    if (bench_max_rel_err(y, yr, ny) > 1e-4)
        bench_die(name, "differs from the reference loops");
    bench_entrant e[2] = {{"ours", run_ours, &o, 0, 0, {0}}};
    int n = 1;
#ifdef BENCH_HAVE_DNNL
    bench_dnnl *r = bench_dnnl_conv(&c, x, w);
    bench_run_dnnl(r);
    bench_dnnl_conv_output(r, yp);
    if (bench_max_rel_err(yp, yr, ny) > 1e-4)
        bench_die("oneDNN conv", "its output differs from the reference loops");
    e[n++] = (bench_entrant){"oneDNN", bench_run_dnnl, r, bench_max_rel_err(y, yp, ny), 0, {0}};
#endif
    report(name, bench_conv_flops(&c), e, n);
#ifdef BENCH_HAVE_DNNL
    bench_dnnl_free(r);
#endif
    if (nhwc)
        free(xo), free(wo), free(yo);
    free(x), free(w), free(yr), free(y), free(yp);
}

int main(int argc, char **argv)
{
    bench_set_prog("bench_tuned");
    const char *lib = NULL, *func = NULL;
    int i = 1;
    if (argc == 2 && !strcmp(argv[1], "--peak")) {
        printf("%.1f\n", fma_peak());
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--check-peers")) {
        check_peers();
        bench_print_peers();
        return 0;
    }
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--lib"))
            lib = v;
        else if (!strcmp(a, "--func"))
            func = v;
        else if (!strcmp(a, "--threads"))
            opt.threads = (int)arg_int(v);
        else if (!strcmp(a, "--runs"))
            opt.runs = (int)arg_int(v);
        else if (!strcmp(a, "--min-ms"))
            opt.min_ms = atof(v);
        else
            usage();
    }
    if (!lib || !func || i >= argc || opt.threads < 1 || opt.runs < 1 || opt.runs > BENCH_MAX_RUNS)
        usage();
    const char *kind = argv[i];
    int nargs = argc - i - 1;
    bool mm = !strcmp(kind, "matmul"), cv = !strcmp(kind, "conv2d"),
         dw = !strcmp(kind, "depthwise_conv2d");
    if (!(mm && nargs == 3) && !(cv && nargs == 9) && !(dw && nargs == 8))
        usage();
    check_peers();
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        bench_die(lib, dlerror());
    kernel3 fn;
    *(void **)&fn = dlsym(h, func); /* POSIX's way to a function pointer from dlsym */
    if (!fn)
        bench_die(func, "not in the library (see the header `tvm-tune compile` wrote)");
    bench_set_threads(opt.threads);
    if (mm)
        bench_matmul(fn, func, argv + i + 1);
    else
        bench_conv2d(fn, func, dw, argv + i + 1);
    dlclose(h);
    return 0;
}
