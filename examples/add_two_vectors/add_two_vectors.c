/* The seed example's compiled side: a shared library whose load registers "addTwoVectors"
 * (c = a + b on float32 vectors, or the sum of two numbers) and "callPython"/"callNTimes" (look a
 * function up in the global registry by name and call it: how C reaches a function defined in
 * Python). Only tt/runtime.h is used, as any user library would. */
#include <stdint.h>
#include <string.h>

#include <tt/runtime.h>

static int is_tensor(int code)
{
    return code == TT_DLTENSOR || code == TT_NDARRAY;
}

static int is_number(int code)
{
    return code == TT_INT || code == TT_UINT || code == TT_FLOAT;
}

static double as_double(tt_value v, int code)
{
    if (code == TT_FLOAT)
        return v.v_float64;
    if (code == TT_UINT)
        return (double)(uint64_t)v.v_int64;
    return (double)v.v_int64;
}

/* Checks that argument i is a compact 1-D float32 CPU tensor and returns its data. */
static int float_vector(const tt_value *args, int i, const DLTensor **out)
{
    const char *which = i == 0 ? "a" : i == 1 ? "b" : "c";
    const DLTensor *t = (const DLTensor *)args[i].v_handle;
    if (!t)
        return tt_error_set("addTwoVectors: %s is a NULL tensor", which);
    if (t->dtype.code != kDLFloat || t->dtype.bits != 32 || t->dtype.lanes != 1)
        return tt_error_set("addTwoVectors: %s must be float32, got dtype code %u bits %u lanes %u",
                            which, t->dtype.code, t->dtype.bits, t->dtype.lanes);
    if (t->ndim != 1)
        return tt_error_set("addTwoVectors: %s must be 1-D, got %d dimensions", which, t->ndim);
    if (t->strides && t->shape[0] > 1 && t->strides[0] != 1)
        return tt_error_set("addTwoVectors: %s must be compact, stride is %lld", which,
                            (long long)t->strides[0]);
    if (t->device.device_type != kDLCPU)
        return tt_error_set("addTwoVectors: %s must be on the CPU, device type is %d", which,
                            (int)t->device.device_type);
    if (t->shape[0] > 0 && !t->data)
        return tt_error_set("addTwoVectors: %s has no data", which);
    *out = t;
    return 0;
}

static float *elements(const DLTensor *t)
{
    return (float *)((char *)t->data + t->byte_offset);
}

static int add_vectors(const tt_value *args, tt_ret ret)
{
    const DLTensor *a, *b, *c;
    if (float_vector(args, 0, &a) || float_vector(args, 1, &b) || float_vector(args, 2, &c))
        return -1;
    if (a->shape[0] != b->shape[0] || a->shape[0] != c->shape[0])
        return tt_error_set("addTwoVectors: shapes differ: a has %lld elements, b %lld, c %lld",
                            (long long)a->shape[0], (long long)b->shape[0], (long long)c->shape[0]);
    const float *pa = elements(a), *pb = elements(b);
    float *pc = elements(c);
    for (int64_t i = 0; i < a->shape[0]; i++)
        pc[i] = pa[i] + pb[i];
    (void)ret; /* the result is c itself: nothing is returned (TT_NULL) */
    return 0;
}

static int add_numbers(const tt_value *args, const int *codes, tt_ret ret)
{
    tt_value sum;
    int code;
    if (codes[0] != TT_FLOAT && codes[1] != TT_FLOAT) {
        /* int + int stays an int, as in Python; overflow is an error, not a wrap. */
        if (__builtin_add_overflow(args[0].v_int64, args[1].v_int64, &sum.v_int64))
            return tt_error_set("addTwoVectors: %lld + %lld overflows int64",
                                (long long)args[0].v_int64, (long long)args[1].v_int64);
        code = TT_INT;
    } else {
        sum.v_float64 = as_double(args[0], codes[0]) + as_double(args[1], codes[1]);
        code = TT_FLOAT;
    }
    return tt_ret_set(ret, &sum, &code, 1);
}

static const char *code_name(int code)
{
    static const char *names[] = {"int",   "uint",   "float",    "handle", "null",
                                  "dtype", "device", "DLTensor", "object", "module",
                                  "func",  "str",    "bytes",    "NDArray"};
    return code >= 0 && code < TT_TYPE_CODE_COUNT ? names[code] : "unknown";
}

/* addTwoVectors(a, b, c): c = a + b on float32 vectors of one length (DLTensor or NDArray).
 * addTwoVectors(x, y): x + y for numbers; int + int -> int, otherwise float. */
static int add_two_vectors(const tt_value *args, const int *codes, int n, tt_ret ret,
                           void *resource)
{
    (void)resource;
    if (n == 3 && is_tensor(codes[0]) && is_tensor(codes[1]) && is_tensor(codes[2]))
        return add_vectors(args, ret);
    if (n == 2 && is_number(codes[0]) && is_number(codes[1]))
        return add_numbers(args, codes, ret);
    if (n == 3 || n == 2) {
        int bad = 0;
        while (bad < n && (n == 3 ? is_tensor(codes[bad]) : is_number(codes[bad])))
            bad++;
        return tt_error_set("addTwoVectors: argument %d is a %s, expected %s", bad,
                            code_name(codes[bad]), n == 3 ? "a tensor" : "a number");
    }
    return tt_error_set("addTwoVectors: expected 3 tensors (a, b, c) or 2 numbers, got %d "
                        "arguments",
                        n);
}
TT_REGISTER_GLOBAL("addTwoVectors", add_two_vectors)

/* Calls global `name` with args[first..n) and returns its result through ret. */
static int call_by_name(const char *who, const tt_value *args, const int *codes, int n, int first,
                        long long count, tt_ret ret)
{
    tt_func f = NULL;
    if (tt_func_get_global(args[0].v_str, &f) != 0)
        return -1;
    if (!f)
        return tt_error_set("%s: no global function named '%s'", who, args[0].v_str);
    tt_value rv;
    int rc = TT_NULL;
    int status = 0;
    for (long long i = 0; i < count && status == 0; i++) {
        if (i > 0 && (rc == TT_FUNC || rc == TT_MODULE || rc == TT_NDARRAY || rc == TT_OBJECT)) {
            /* Results that are references are ours to drop, except the last one we return. */
            if (rc == TT_FUNC)
                tt_func_free(rv.v_handle);
            else if (rc == TT_MODULE)
                tt_mod_free(rv.v_handle);
            else if (rc == TT_NDARRAY)
                tt_array_free(rv.v_handle);
            else
                tt_object_release(rv.v_handle);
        }
        status = tt_func_call(f, args + first, codes + first, n - first, &rv, &rc);
    }
    tt_func_free(f);
    if (status != 0)
        return tt_error_wrap("%s('%s'): ", who, args[0].v_str);
    if (rc == TT_NULL)
        return 0;
    /* tt_ret_set copies strings and retains references, so our own reference is dropped after. */
    status = tt_ret_set(ret, &rv, &rc, 1);
    if (rc == TT_FUNC)
        tt_func_free(rv.v_handle);
    else if (rc == TT_MODULE)
        tt_mod_free(rv.v_handle);
    else if (rc == TT_NDARRAY)
        tt_array_free(rv.v_handle);
    else if (rc == TT_OBJECT)
        tt_object_release(rv.v_handle);
    return status;
}

/* callPython(name, args...): looks name up in the registry (a function registered from Python,
 * or anywhere else) and calls it with the remaining arguments, returning its result. */
static int call_python(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)resource;
    if (n < 1 || codes[0] != TT_STR)
        return tt_error_set("callPython: expected a function name (str) first, got %s",
                            n < 1 ? "no arguments" : code_name(codes[0]));
    return call_by_name("callPython", args, codes, n, 1, 1, ret);
}
TT_REGISTER_GLOBAL("callPython", call_python)

/* callNTimes(name, count, args...): calls name count times from C and returns the last result;
 * the callback-leak test and the benchmarks use it to stay out of the Python loop. */
static int call_n_times(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)resource;
    if (n < 2 || codes[0] != TT_STR || codes[1] != TT_INT || args[1].v_int64 < 1)
        return tt_error_set("callNTimes: expected (name: str, count: int >= 1, args...)");
    return call_by_name("callNTimes", args, codes, n, 2, args[1].v_int64, ret);
}
TT_REGISTER_GLOBAL("callNTimes", call_n_times)
