/* The seed example from C: finds "addTwoVectors" (registered by libadd_two_vectors when it loads)
 * through the global registry, calls it on arrays and on numbers, then loads a module file and
 * calls a function from it. Includes only tt/runtime.h. Exit status 0 when every check passes.
 *   usage: add_two_vectors_main [path/to/add_two_vectors_module.so] */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tt/runtime.h>

#ifndef TT_EXAMPLE_MODULE
#define TT_EXAMPLE_MODULE "add_two_vectors_module.so"
#endif

static int failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int vectors(tt_func add)
{
    enum { N = 8 };
    int64_t shape[1] = {N};
    DLDataType f32 = {kDLFloat, 32, 1};
    DLDevice cpu = {kDLCPU, 0};
    DLTensor *a = NULL, *b = NULL, *c = NULL;
    if (tt_array_alloc(shape, 1, f32, cpu, &a) || tt_array_alloc(shape, 1, f32, cpu, &b) ||
        tt_array_alloc(shape, 1, f32, cpu, &c)) {
        fprintf(stderr, "tt_array_alloc: %s\n", tt_get_last_error());
        return -1;
    }
    for (int i = 0; i < N; i++) {
        ((float *)a->data)[i] = (float)i;
        ((float *)b->data)[i] = 0.5f * (float)i;
    }
    /* NDArrays (refcounted arrays of tt_array_alloc) pass as TT_NDARRAY... */
    tt_value args[3] = {{.v_handle = a}, {.v_handle = b}, {.v_handle = c}};
    int codes[3] = {TT_NDARRAY, TT_NDARRAY, TT_NDARRAY};
    tt_value ret;
    int ret_code;
    int rc = tt_func_call(add, args, codes, 3, &ret, &ret_code);
    CHECK(rc == 0, "addTwoVectors(NDArray x3): %s", tt_get_last_error());
    printf("c = a + b (NDArray):  ");
    for (int i = 0; i < N; i++) {
        float want = 1.5f * (float)i, got = ((float *)c->data)[i];
        CHECK(got == want, "c[%d] = %g, want %g", i, got, want);
        printf("%g ", got);
    }
    printf("\n");

    /* ...and any DLTensor, here one over stack memory, as TT_DLTENSOR. */
    float xs[3] = {1, 2, 3}, ys[3] = {10, 20, 30}, zs[3] = {0};
    int64_t shape3[1] = {3};
    DLTensor tx = {.data = xs, .device = cpu, .ndim = 1, .dtype = f32, .shape = shape3};
    DLTensor ty = tx, tz = tx;
    ty.data = ys;
    tz.data = zs;
    tt_value dargs[3] = {{.v_handle = &tx}, {.v_handle = &ty}, {.v_handle = &tz}};
    int dcodes[3] = {TT_DLTENSOR, TT_DLTENSOR, TT_DLTENSOR};
    rc = tt_func_call(add, dargs, dcodes, 3, &ret, &ret_code);
    CHECK(rc == 0 && zs[0] == 11 && zs[1] == 22 && zs[2] == 33, "addTwoVectors(DLTensor x3): %s",
          tt_get_last_error());
    printf("z = x + y (DLTensor): %g %g %g\n", zs[0], zs[1], zs[2]);

    /* A shape mismatch is an error with a message, not a crash. */
    rc = tt_func_call(add, (tt_value[]){{.v_handle = a}, {.v_handle = &ty}, {.v_handle = c}},
                      (int[]){TT_NDARRAY, TT_DLTENSOR, TT_NDARRAY}, 3, &ret, &ret_code);
    CHECK(rc == -1 && strstr(tt_get_last_error(), "shapes differ"), "mismatch: rc %d, '%s'", rc,
          tt_get_last_error());
    printf("shape mismatch -> error: %s\n", tt_get_last_error());
    tt_array_free(a);
    tt_array_free(b);
    tt_array_free(c);
    return 0;
}

static void numbers(tt_func add)
{
    tt_value ret;
    int ret_code;
    int rc = tt_func_call(add, (tt_value[]){{.v_int64 = 40}, {.v_int64 = 2}},
                          (int[]){TT_INT, TT_INT}, 2, &ret, &ret_code);
    CHECK(rc == 0 && ret_code == TT_INT && ret.v_int64 == 42, "40 + 2: rc %d code %d: %s", rc,
          ret_code, tt_get_last_error());
    printf("40 + 2 = %lld\n", (long long)ret.v_int64);
    rc = tt_func_call(add, (tt_value[]){{.v_float64 = 1.25}, {.v_int64 = 2}},
                      (int[]){TT_FLOAT, TT_INT}, 2, &ret, &ret_code);
    CHECK(rc == 0 && ret_code == TT_FLOAT && ret.v_float64 == 3.25, "1.25 + 2: %s",
          tt_get_last_error());
    printf("1.25 + 2 = %g\n", ret.v_float64);
}

static void module(const char *path)
{
    tt_module m = NULL;
    if (tt_mod_load_from_file(path, "", &m) != 0) {
        CHECK(0, "tt_mod_load_from_file(%s): %s", path, tt_get_last_error());
        return;
    }
    tt_func add_one = NULL;
    int rc = tt_mod_get_function(m, "add_one", 0, &add_one);
    CHECK(rc == 0 && add_one, "get_function(add_one): %s", tt_get_last_error());
    if (add_one) {
        tt_value ret;
        int ret_code;
        rc = tt_func_call(add_one, (tt_value[]){{.v_int64 = 41}}, (int[]){TT_INT}, 1, &ret,
                          &ret_code);
        CHECK(rc == 0 && ret_code == TT_INT && ret.v_int64 == 42, "add_one(41): %s",
              tt_get_last_error());
        printf("module %s: add_one(41) = %lld\n", tt_mod_format(m), (long long)ret.v_int64);
        tt_func_free(add_one);
    }
    tt_func missing = (tt_func)1;
    rc = tt_mod_get_function(m, "no_such_function", 0, &missing);
    CHECK(rc == 0 && missing == NULL, "a missing module function gives NULL");
    tt_mod_free(m);
}

int main(int argc, char **argv)
{
    tt_func add = NULL;
    if (tt_func_get_global("addTwoVectors", &add) != 0 || !add) {
        fprintf(stderr, "addTwoVectors is not registered (is libadd_two_vectors linked?): %s\n",
                tt_get_last_error());
        return 1;
    }
    if (vectors(add) != 0)
        failures++;
    numbers(add);
    tt_func_free(add);
    module(argc > 1 ? argv[1] : TT_EXAMPLE_MODULE);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
