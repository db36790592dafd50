/* Tests of codegen/emit_c.c: the emitted C of hand-built kernels is compiled with the system C
 * compiler, loaded and run, and must agree with the reference interpreter (ir/interp.c). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codegen/emit_c.h"
#include "ir/interp.h"

/* Compiles C source into a shared library in a temp dir and returns the dlopen handle. */
static void *compile_c(const char *src)
{
    char dir[] = "/tmp/tt_emit_c_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cpath[256], sopath[256], cmd[1024];
    snprintf(cpath, sizeof cpath, "%s/k.c", dir);
    snprintf(sopath, sizeof sopath, "%s/k.so", dir);
    FILE *f = fopen(cpath, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c11 -O1 -Wall -Werror -fopenmp -shared -fPIC -o %s %s -lm",
             sopath, cpath);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "compile failed for:\n%s\n", src);
    assert_int_equal(rc, 0);
    void *h = dlopen(sopath, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    unlink(cpath);
    unlink(sopath);
    rmdir(dir);
    return h;
}

static tt_expr *v(const tt_stmt *loop)
{
    return loop->var;
}

/* C[i, j] = max(sum_k A[i,k] * B[k,j], 0) for M x N x K with j split by 4 (guarded), the
 * accumulator in a LOCAL buffer, the outer loop parallel, a floor division in an index. */
static tt_kernel *make_kernel(int64_t M, int64_t N, int64_t K)
{
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sc[2] = {M, N}, one = 1;
    tt_buffer *A = tt_buffer_new("A", TT_DT_F32, 2, sa, TT_SCOPE_GLOBAL);
    tt_buffer *B = tt_buffer_new("B", TT_DT_F32, 2, sb, TT_SCOPE_GLOBAL);
    tt_buffer *C = tt_buffer_new("C", TT_DT_F32, 2, sc, TT_SCOPE_GLOBAL);
    tt_buffer *acc = tt_buffer_new("C.local", TT_DT_F32, 1, &one, TT_SCOPE_LOCAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64), *jo = tt_expr_var("j.0", TT_DT_I64);
    tt_expr *ji = tt_expr_var("j.1", TT_DT_I64), *k = tt_expr_var("k", TT_DT_I64);
    /* j = j.0 * 4 + j.1, written as (j.0 * 8 + j.1 * 2) / 2 to exercise floor division */
    tt_expr *jsum = tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(jo), tt_expr_int(8)),
                                  tt_expr_mul_s(tt_expr_retain(ji), tt_expr_int(2)));
    tt_expr *two = tt_expr_int(2);
    tt_expr *j = tt_expr_binary(TT_EXPR_DIV, jsum, two);
    tt_expr_release(jsum);
    tt_expr_release(two);
    tt_expr *zero = tt_expr_int(0);
    tt_expr *a_idx =
        tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(i), tt_expr_int(K)), tt_expr_retain(k));
    tt_expr *b_idx =
        tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(k), tt_expr_int(N)), tt_expr_retain(j));
    tt_expr *c_idx =
        tt_expr_add_s(tt_expr_mul_s(tt_expr_retain(i), tt_expr_int(N)), tt_expr_retain(j));
    tt_expr *la = tt_expr_load(A, a_idx), *lb = tt_expr_load(B, b_idx);
    tt_expr *prod = tt_expr_binary(TT_EXPR_MUL, la, lb);
    tt_expr *lacc = tt_expr_load(acc, zero);
    tt_expr *sum = tt_expr_binary(TT_EXPR_ADD, lacc, prod);
    tt_stmt *upd = tt_stmt_store(acc, zero, sum);
    tt_expr *kext = tt_expr_int(K);
    tt_stmt *kloop = tt_stmt_for(k, kext, TT_FOR_SERIAL, upd);
    tt_expr *fzero = tt_expr_float(0.0, TT_DT_F32);
    tt_stmt *init = tt_stmt_store(acc, zero, fzero);
    tt_expr *relu = tt_expr_binary(TT_EXPR_MAX, lacc, fzero);
    tt_stmt *wb = tt_stmt_store(C, c_idx, relu);
    tt_stmt *parts[3] = {init, kloop, wb};
    tt_stmt *seq = tt_stmt_seq(3, parts);
    tt_stmt *al = tt_stmt_alloc(acc, seq);
    tt_expr *nexpr = tt_expr_int(N);
    tt_expr *guard_c = tt_expr_binary(TT_EXPR_LT, j, nexpr);
    tt_stmt *guard = tt_stmt_if(guard_c, al, NULL);
    tt_expr *four = tt_expr_int(4), *jo_ext = tt_expr_int((N + 3) / 4), *mext = tt_expr_int(M);
    tt_stmt *lji = tt_stmt_for(ji, four, TT_FOR_UNROLLED, guard);
    tt_stmt *ljo = tt_stmt_for(jo, jo_ext, TT_FOR_SERIAL, lji);
    tt_stmt *li = tt_stmt_for(i, mext, TT_FOR_PARALLEL, ljo);
    tt_buffer *params[3] = {A, B, C};
    tt_kernel *kern = tt_kernel_new("mm_relu", 3, params, li);
    assert_non_null(kern);
    tt_expr *exprs[] = {i,    jo,   ji,  k,    j,     zero, a_idx, b_idx,   c_idx, la,     lb,
                        prod, lacc, sum, kext, fzero, relu, nexpr, guard_c, four,  jo_ext, mext};
    for (size_t x = 0; x < sizeof exprs / sizeof exprs[0]; x++)
        tt_expr_release(exprs[x]);
    tt_stmt *stmts[] = {upd, kloop, init, wb, seq, al, guard, lji, ljo, li};
    for (size_t x = 0; x < sizeof stmts / sizeof stmts[0]; x++)
        tt_stmt_release(stmts[x]);
    tt_buffer_release(A);
    tt_buffer_release(B);
    tt_buffer_release(C);
    tt_buffer_release(acc);
    (void)v;
    return kern;
}

static void run_case(int64_t M, int64_t N, int64_t K)
{
    tt_kernel *k = make_kernel(M, N, K);
    char *src = NULL;
    assert_int_equal(tt_codegen_emit_c(k, &src), 0);
    assert_non_null(strstr(src, "#pragma omp parallel for"));
    assert_non_null(strstr(src, "float C_local[1]"));
    void *h = compile_c(src);
    int (*fn)(float *, float *, float *) = (int (*)(float *, float *, float *))dlsym(h, "mm_relu");
    assert_non_null(fn);
    float *A = malloc(sizeof(float) * (size_t)(M * K)),
          *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C1 = calloc((size_t)(M * N), sizeof(float)),
          *C2 = calloc((size_t)(M * N), sizeof(float));
    srand(7);
    for (int64_t x = 0; x < M * K; x++)
        A[x] = (float)((double)rand() / RAND_MAX * 2 - 1);
    for (int64_t x = 0; x < K * N; x++)
        B[x] = (float)((double)rand() / RAND_MAX * 2 - 1);
    assert_int_equal(fn(A, B, C1), 0);
    void *args[3] = {A, B, C2};
    assert_int_equal(tt_kernel_interp(k, args), 0);
    int negatives = 0;
    for (int64_t x = 0; x < M * N; x++) {
        assert_float_equal(C1[x], C2[x], 1e-4);
        negatives += C1[x] < 0;
    }
    assert_int_equal(negatives, 0);
    dlclose(h);
    free(A);
    free(B);
    free(C1);
    free(C2);
    free(src);
    tt_kernel_release(k);
}

static void test_matmul_relu(void **state)
{
    (void)state;
    run_case(8, 16, 8);
    run_case(5, 7, 3); /* 7 is not a multiple of the split factor 4: the guard matters */
    run_case(1, 1, 1);
}

static void test_rejects_compute_nodes(void **state)
{
    (void)state;
    int64_t shape[1] = {4};
    tt_tensor *t = tt_tensor_new("X", TT_DT_F32, 1, shape);
    tt_buffer *out = tt_buffer_new("Y", TT_DT_F32, 1, shape, TT_SCOPE_GLOBAL);
    tt_expr *i = tt_expr_var("i", TT_DT_I64);
    tt_expr *acc = tt_expr_access(t, 1, &i);
    tt_stmt *st = tt_stmt_store(out, i, acc);
    tt_expr *ext = tt_expr_int(4);
    tt_stmt *loop = tt_stmt_for(i, ext, TT_FOR_SERIAL, st);
    tt_kernel *k = tt_kernel_new("bad", 1, &out, loop);
    char *src = NULL;
    assert_int_equal(tt_codegen_emit_c(k, &src), -1);
    assert_null(src);
    assert_non_null(strstr(tt_get_last_error(), "access"));
    tt_kernel_release(k);
    tt_stmt_release(loop);
    tt_stmt_release(st);
    tt_expr_release(ext);
    tt_expr_release(acc);
    tt_expr_release(i);
    tt_buffer_release(out);
    tt_tensor_release(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_relu),
        cmocka_unit_test(test_rejects_compute_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
