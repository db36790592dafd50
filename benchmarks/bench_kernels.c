/* Issue-3 kernel benchmark: our kernels (tt_op_build + a hand-written schedule from
 * benchmarks/schedules/ + tt_lower + tt_codegen_jit) against OpenBLAS, BLIS and oneDNN in one
 * process, so the ratios are measured side by side on the same inputs, with 1 and 2 threads.
 *   usage: bench_kernels [--schedules DIR] [--runs N] [--min-ms MS] [--threads 1,2] [--only OP]
 * Prints a table: op, threads, ours GFLOPS, peer, peer GFLOPS, ratio, compile ms, max rel err. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/lang.h"
#include "ir/lower.h"
#include "ir/ops.h"
#include "ir/schedule.h"
#include "peers.h"
#include "tt/backend.h"

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

static void report(const char *op, int threads, double ours_gf, const char *peer, double peer_gf,
                   double ratio, double compile_ms, double err)
{
    printf("| %-25s | %d | %7.1f | %-8s | %7.1f | %5.2f | %7.1f | %.1e |\n", op, threads, ours_gf,
           peer, peer_gf, ratio, compile_ms, err);
    fflush(stdout);
}

/* e[0] is ours, e[1..n-1] the peers, timed side by side (bench_contest); a row's ratio is the
 * median over rounds of ours/peer GFLOPS within a round. */
static void contest(const char *op, int threads, double flops, double compile_ms, bench_entrant *e,
                    int n)
{
    int runs = opt.runs < BENCH_MAX_RUNS ? opt.runs : BENCH_MAX_RUNS;
    bench_contest(e, n, runs, opt.min_ms);
    double ours = flops / bench_median(e[0].t, runs) * 1e-9;
    if (n == 1)
        report(op, threads, ours, "(none)", 0, 0, compile_ms, e[0].err);
    for (int i = 1; i < n; i++)
        report(op, threads, ours, e[i].name, flops / bench_median(e[i].t, runs) * 1e-9,
               bench_ratio(&e[0], &e[i], runs), compile_ms, e[i].err);
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
        bench_die(path, "cannot open");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
        bench_die(path, "cannot read");
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
        bench_die(path, tt_get_last_error());
    o->compile_ms = tt_codegen_last_stats().total_ms;
    o->fn = (kernel3)tt_codegen_jit_lookup(o->mod, name);
    if (!o->fn)
        bench_die(name, tt_get_last_error());
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
        bench_die("our kernel", "returned an error");
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
    bench_gemm g = {M,
                    N,
                    K,
                    bench_alloc_floats((size_t)(M * K)),
                    bench_alloc_floats((size_t)(K * N)),
                    bench_alloc_floats((size_t)(M * N))};
    bench_fill(g.A, (size_t)(M * K), 1);
    bench_fill(g.B, (size_t)(K * N), 2);
    o.in0 = g.A, o.in1 = g.B, o.out = bench_alloc_floats((size_t)(M * N));
    double flops = 2.0 * (double)M * (double)N * (double)K;
    for (int ti = 0; ti < opt.nthreads; ti++) {
        int nt = opt.threads[ti];
        bench_set_threads(nt);
        bench_entrant e[4] = {{"ours", run_ours, &o, 0, 0, {0}}};
        int ne = 1;
        run_ours(&o);
        bench_check_matmul_sampled(g.A, g.B, o.out, M, N, K);
        bench_dnnl *r;
        ne += bench_gemm_peers(&g, o.out, true, e + ne, &r);
        contest(op, nt, flops, o.compile_ms, e, ne);
        bench_dnnl_free(r);
    }
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
    const bench_conv_shape cv = {CN, CH, CW, CK, CR, CS, 1, 1, false};
    size_t nx = bench_conv_x_size(&cv), nw = bench_conv_w_size(&cv), ny = bench_conv_y_size(&cv);
    float *x = bench_alloc_floats(nx), *w = bench_alloc_floats(nw);
    bench_fill(x, nx, 3); /* NCHW */
    bench_fill(w, nw, 4); /* KCRS (oihw) */
    float *xh = bench_alloc_floats(nx), *wh = bench_alloc_floats(nw), *yh = bench_alloc_floats(ny);
    bench_conv_to_nhwc(&cv, x, w, xh, wh);
    o.in0 = xh, o.in1 = wh, o.out = yh;
    double flops = bench_conv_flops(&cv);
    float *yc = bench_alloc_floats(ny), *yr = bench_alloc_floats(ny);
    bench_conv_reference(&cv, x, w, yr);
    for (int ti = 0; ti < opt.nthreads; ti++) {
        int nt = opt.threads[ti];
        bench_set_threads(nt);
        bench_entrant e[2] = {{"ours", run_ours, &o, 0, 0, {0}}};
        run_ours(&o);
        /* ours is NHWC: compared in NCHW with the reference loops (the table's error) */
        bench_conv_y_to_nchw(&cv, yh, yc);
        double err = bench_max_rel_err(yc, yr, ny);
        e[0].err = err;
#ifdef BENCH_HAVE_DNNL
        bench_dnnl *r = bench_dnnl_conv(&cv, x, w);
        bench_run_dnnl(r);
        float *y = bench_alloc_floats(ny);
        bench_dnnl_conv_output(r, y);
        if (bench_max_rel_err(y, yr, ny) > 1e-4)
            bench_die("oneDNN conv", "its output differs from the reference loops");
        free(y);
        e[1] = (bench_entrant){"oneDNN", bench_run_dnnl, r, err, 0, {0}};
        contest(op, nt, flops, o.compile_ms, e, 2);
        bench_dnnl_free(r);
#else
        contest(op, nt, flops, o.compile_ms, e, 1);
#endif
    }
    tt_mod_free(o.mod);
    free(x), free(w), free(xh), free(wh), free(yh), free(yc), free(yr);
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
    bench_set_prog("bench_kernels");
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
        bench_die("setenv", "BLIS_ARCH_TYPE");
    if (getenv("BLIS_ARCH_TYPE"))
        printf("BLIS_ARCH_TYPE=%s\n", getenv("BLIS_ARCH_TYPE"));
#endif
    bench_print_peers();
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
