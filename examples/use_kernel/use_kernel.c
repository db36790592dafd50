/* The end of the main example (scripts/run-example.sh): an application calling a matmul kernel
 * that `tvm-tune compile` built. Loads each given library, looks the function up by the name
 * the generated header declares, checks it against a naive C loop nest on random inputs and
 * prints GFLOPS (median of several runs) of every library and of the naive loops.
 *   usage: use_kernel [-r RUNS] M N K FUNCTION LABEL=LIB.so [LABEL=LIB.so ...]
 * Exit status 0 when every kernel matches, 1 on a mismatch or a failing call, 2 on bad usage
 * or a library that does not load.
 *
 * An application that ships one library links it instead of loading it:
 *   #include "libops.h"
 *   cc app.c libops.so -ltt_runtime   and call matmul_256x256x256_f32(A, B, C).
 * Here two builds of the same function (default and tuned schedule) are compared, so each comes
 * from dlopen. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tt/backend.h>

/* The type the generated header declares for a matmul: inputs, then the output. */
typedef int (*matmul_fn)(const float *restrict A, const float *restrict B, float *restrict C);

typedef struct {
    int M, N, K;
    const float *A, *B;
    float *C;
    matmul_fn fn; /* NULL: the naive loops */
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The reference: the textbook loop nest, as a user would write it. */
static void naive(const float *A, const float *B, float *C, int M, int N, int K)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++)
                s += A[(size_t)i * K + k] * B[(size_t)k * N + j];
            C[(size_t)i * N + j] = s;
        }
}

static int call(const bench *b)
{
    if (b->fn)
        return b->fn(b->A, b->B, b->C);
    naive(b->A, b->B, b->C, b->M, b->N, b->K);
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Seconds per call: each run repeats the call until it lasts 20 ms; the median of the runs. */
static int time_call(const bench *b, int runs, double *seconds)
{
    double t[64];
    if (call(b)) /* warm up: code, caches, the thread pool */
        return -1;
    for (int r = 0; r < runs; r++) {
        long n = 0;
        double t0 = now_s(), t1;
        do {
            if (call(b))
                return -1;
            n++;
            t1 = now_s();
        } while (t1 - t0 < 0.02);
        t[r] = (t1 - t0) / n;
    }
    qsort(t, (size_t)runs, sizeof t[0], by_value);
    *seconds = t[runs / 2];
    return 0;
}

static float *aligned_floats(size_t n)
{
    /* The kernels want 64-byte aligned arrays (see the header). */
    return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
}

int main(int argc, char **argv)
{
    int runs = 7, a = 1;
    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        runs = atoi(argv[2]);
        a = 3;
    }
    if (argc - a < 5 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: use_kernel [-r RUNS(1..64)] M N K FUNCTION LABEL=LIB.so "
                        "[LABEL=LIB.so ...]\n");
        return 2;
    }
    int M = atoi(argv[a]), N = atoi(argv[a + 1]), K = atoi(argv[a + 2]);
    const char *fname = argv[a + 3];
    if (M <= 0 || N <= 0 || K <= 0) {
        fprintf(stderr, "use_kernel: M N K must be positive integers\n");
        return 2;
    }
    float *A = aligned_floats((size_t)M * K), *B = aligned_floats((size_t)K * N);
    float *C = aligned_floats((size_t)M * N), *R = aligned_floats((size_t)M * N);
    if (!A || !B || !C || !R) {
        fprintf(stderr, "use_kernel: out of memory\n");
        return 2;
    }
    srand(1);
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        B[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    naive(A, B, R, M, N, K);
    float ref_max = 0;
    for (size_t i = 0; i < (size_t)M * N; i++)
        ref_max = fabsf(R[i]) > ref_max ? fabsf(R[i]) : ref_max;

    double flops = 2.0 * M * N * K, sec;
    printf("%s: C[%d,%d] = A[%d,%d] x B[%d,%d], median of %d runs, %d threads\n", fname, M, N, M, K,
           K, N, runs, tt_backend_num_threads());
    bench ref = {M, N, K, A, B, C, NULL};
    time_call(&ref, runs < 3 ? runs : 3, &sec); /* the naive loops are slow: fewer runs */
    printf("  %-10s %-36s %9.2f GFLOPS  %9.3f ms\n", "naive", "(C loops, cc -O2)",
           flops / sec * 1e-9, sec * 1e3);
    double base = 0;
    const char *base_label = NULL;
    int status = 0;
    for (int i = a + 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        const char *label = eq ? argv[i] : "lib", *path = eq ? eq + 1 : argv[i];
        if (eq)
            *eq = '\0';
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        void *sym = h ? dlsym(h, fname) : NULL;
        if (!sym) {
            fprintf(stderr, "use_kernel: %s: %s\n", path, h ? "no such function" : dlerror());
            return 2;
        }
        bench b = {M, N, K, A, B, C, NULL};
        memcpy(&b.fn, &sym, sizeof b.fn);
        memset(C, 0, (size_t)M * N * sizeof *C);
        if (b.fn(A, B, C) != 0) {
            fprintf(stderr, "use_kernel: %s: %s returned an error\n", label, fname);
            return 1;
        }
        float worst = 0;
        for (size_t e = 0; e < (size_t)M * N; e++)
            worst = fabsf(C[e] - R[e]) > worst ? fabsf(C[e] - R[e]) : worst;
        double rel = worst / (ref_max > 0 ? ref_max : 1);
        if (!(rel < 1e-4)) {
            fprintf(stderr, "use_kernel: %s (%s): MISMATCH, max relative error %.3g\n", label, path,
                    rel);
            status = 1;
            continue;
        }
        if (time_call(&b, runs, &sec)) {
            fprintf(stderr, "use_kernel: %s: %s returned an error\n", label, fname);
            return 1;
        }
        printf("  %-10s %-36s %9.2f GFLOPS  %9.3f ms  (max rel error %.1e", label, path,
               flops / sec * 1e-9, sec * 1e3, rel);
        if (base_label) {
            printf(", %.2fx %s", base / sec, base_label);
        } else {
            base = sec;
            base_label = label;
        }
        printf(")\n");
        /* Kept open: dlclose while the runtime's pool threads may still reference it is not
         * worth the risk in an example that exits next. */
    }
    free(A), free(B), free(C), free(R);
    return status;
}
