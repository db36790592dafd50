/* Cost of one PackedFunc call from C: tt_func_call on a registry handle of a trivial function
 * (returns its int argument + 1), against a direct call and an indirect call of the same body
 * (the peers), and against looking the function up every time. Best of 5 runs.
 *   usage: bench_call [iterations]    (default 10000000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tt/runtime.h>

static int add_one(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)resource;
    if (n != 1 || codes[0] != TT_INT)
        return tt_error_set("bench.addOne: expected one int");
    tt_value out = {.v_int64 = args[0].v_int64 + 1};
    int code = TT_INT;
    return tt_ret_set(ret, &out, &code, 1);
}
TT_REGISTER_GLOBAL("bench.addOne", add_one)

/* The peer "plain C call": the same arithmetic behind a function pointer the compiler cannot
 * see through (volatile), so the loop is not folded away. */
static __attribute__((noinline)) int64_t plain_add_one(int64_t x)
{
    return x + 1;
}
static int64_t (*volatile plain_ptr)(int64_t) = plain_add_one;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum { RUNS = 5 };

static double bench_packed(tt_func f, long iters)
{
    double best = 1e300;
    for (int r = 0; r < RUNS; r++) {
        tt_value arg = {.v_int64 = 0}, ret;
        int code = TT_INT, ret_code;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            if (tt_func_call(f, &arg, &code, 1, &ret, &ret_code) != 0) {
                fprintf(stderr, "tt_func_call: %s\n", tt_get_last_error());
                exit(1);
            }
            arg.v_int64 = ret.v_int64; /* the next call depends on this one */
        }
        double dt = (now_ns() - t0) / (double)iters;
        if (arg.v_int64 != iters) {
            fprintf(stderr, "wrong result %lld, want %ld\n", (long long)arg.v_int64, iters);
            exit(1);
        }
        if (dt < best)
            best = dt;
    }
    return best;
}

static double bench_lookup(long iters)
{
    double best = 1e300;
    for (int r = 0; r < RUNS; r++) {
        tt_value arg = {.v_int64 = 0}, ret;
        int code = TT_INT, ret_code;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            tt_func f = NULL;
            if (tt_func_get_global("bench.addOne", &f) != 0 || !f ||
                tt_func_call(f, &arg, &code, 1, &ret, &ret_code) != 0) {
                fprintf(stderr, "lookup+call: %s\n", tt_get_last_error());
                exit(1);
            }
            tt_func_free(f);
            arg.v_int64 = ret.v_int64;
        }
        double dt = (now_ns() - t0) / (double)iters;
        if (dt < best)
            best = dt;
    }
    return best;
}

static double bench_plain(long iters)
{
    double best = 1e300;
    for (int r = 0; r < RUNS; r++) {
        int64_t x = 0;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++)
            x = plain_ptr(x);
        double dt = (now_ns() - t0) / (double)iters;
        if (x != iters)
            exit(1);
        if (dt < best)
            best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 10000000L;
    if (iters < 1) {
        fprintf(stderr, "usage: bench_call [iterations >= 1]\n");
        return 2;
    }
    tt_func f = NULL;
    if (tt_func_get_global("bench.addOne", &f) != 0 || !f) {
        fprintf(stderr, "bench.addOne is not registered: %s\n", tt_get_last_error());
        return 1;
    }
    double plain = bench_plain(iters);
    double packed = bench_packed(f, iters);
    double lookup = bench_lookup(iters / 10 > 0 ? iters / 10 : 1);
    tt_func_free(f);

    printf("bench_call (C): ns per call, best of %d, %ld iterations\n", RUNS, iters);
    printf("  %-44s %8s %8s\n", "call", "ns", "ratio");
    printf("  %-44s %8.2f %8.2f\n", "plain C call through a function pointer", plain, 1.0);
    printf("  %-44s %8.2f %8.2f\n", "tt_func_call on a registry handle", packed, packed / plain);
    printf("  %-44s %8.2f %8.2f\n", "tt_func_get_global + call + free (iters/10)", lookup,
           lookup / plain);
    return 0;
}
