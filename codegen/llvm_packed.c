/* The PackedFunc wrapper of each kernel, __tt_packed_NAME(args, codes, n, ret, resource): checks
 * that the arguments are DLTensors of the kernel's dtypes, shapes and compact row-major layout
 * (tt_error_set with a message naming the argument otherwise) and calls the C entry point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/llvm_internal.h"

/* DLTensor fields, in struct order (dlpack.h). */
enum { F_DATA, F_DEVICE, F_NDIM, F_DTYPE, F_SHAPE, F_STRIDES, F_OFFSET };

typedef struct {
    cg *c;
    LLVMValueRef fn;
    LLVMTypeRef tensor_t, device_t, dtype_t;
    char prefix[512]; /* "NAME: argument 1 (B)", '%' escaped */
} wrapper;

/* s with '%' doubled, into buf. */
static void escape(const char *s, char *buf, size_t size)
{
    size_t j = 0;
    for (; *s && j + 2 < size; s++) {
        if (*s == '%')
            buf[j++] = '%';
        buf[j++] = *s;
    }
    buf[j] = 0;
}

/* When bad: tt_error_set(fmt, vals...) and return -1. */
static void check(wrapper *w, LLVMValueRef bad, const char *fmt, LLVMValueRef *vals, int nvals)
{
    cg *c = w->c;
    LLVMBasicBlockRef err = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "bad_arg");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "arg_ok");
    LLVMBuildCondBr(c->b, bad, err, ok);
    LLVMPositionBuilderAtEnd(c->b, err);
    LLVMValueRef *args = malloc((size_t)(nvals + 1) * sizeof *args);
    if (args) {
        args[0] = LLVMBuildGlobalString(c->b, fmt, "msg");
        for (int i = 0; i < nvals; i++)
            args[i + 1] = vals[i];
        LLVMTypeRef fty = LLVMFunctionType(c->i32, &c->ptr, 1, 1);
        LLVMBuildCall2(c->b, fty, LLVMGetNamedFunction(c->mod, "tt_error_set"), args,
                       (unsigned)nvals + 1, "");
        free(args);
    }
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, (unsigned long long)-1, 1));
    LLVMPositionBuilderAtEnd(c->b, ok);
}

static LLVMValueRef field(wrapper *w, LLVMValueRef t, int f, LLVMTypeRef type)
{
    LLVMValueRef p = LLVMBuildStructGEP2(w->c->b, w->tensor_t, t, (unsigned)f, "");
    return LLVMBuildLoad2(w->c->b, type, p, "");
}

static LLVMValueRef ne(cg *c, LLVMValueRef v, int64_t k)
{
    return LLVMBuildICmp(c->b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), (unsigned long long)k, 1),
                         "");
}

/* "int", "uint", "float", "bfloat" or "type" for a DLPack type code, chosen at run time. */
static LLVMValueRef code_name(wrapper *w, LLVMValueRef code)
{
    cg *c = w->c;
    static const char *const names[] = {"int", "uint", "float", "type", "bfloat"};
    LLVMValueRef r = LLVMBuildGlobalString(c->b, "type", "dt");
    for (int i = 0; i < 5; i++) {
        if (i == 3)
            continue;
        LLVMValueRef s = LLVMBuildGlobalString(c->b, names[i], "dt");
        r = LLVMBuildSelect(
            c->b,
            LLVMBuildICmp(c->b, LLVMIntEQ, code, LLVMConstInt(c->i8, (unsigned long long)i, 0), ""),
            s, r, "");
    }
    return r;
}

static void check_dtype(wrapper *w, LLVMValueRef t, const tt_buffer *b)
{
    cg *c = w->c;
    LLVMValueRef p = LLVMBuildStructGEP2(c->b, w->tensor_t, t, F_DTYPE, "");
    LLVMValueRef code =
        LLVMBuildLoad2(c->b, c->i8, LLVMBuildStructGEP2(c->b, w->dtype_t, p, 0, ""), "");
    LLVMValueRef bits =
        LLVMBuildLoad2(c->b, c->i8, LLVMBuildStructGEP2(c->b, w->dtype_t, p, 1, ""), "");
    LLVMValueRef lanes =
        LLVMBuildLoad2(c->b, c->i16, LLVMBuildStructGEP2(c->b, w->dtype_t, p, 2, ""), "");
    LLVMValueRef bad = LLVMBuildOr(
        c->b, ne(c, code, b->dtype.code),
        LLVMBuildOr(c->b, ne(c, bits, b->dtype.bits), ne(c, lanes, b->dtype.lanes), ""), "");
    const char *want = tt_dtype_name(b->dtype) ? tt_dtype_name(b->dtype) : "?";
    char fmt1[700], fmt2[700];
    snprintf(fmt1, sizeof fmt1, "%s has dtype %%s%%d, expected %s", w->prefix, want);
    snprintf(fmt2, sizeof fmt2, "%s has dtype %%s%%dx%%d, expected %s", w->prefix, want);
    /* The format is picked in the failure block only; build both strings there. */
    LLVMBasicBlockRef err = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "bad_dtype");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "dtype_ok");
    LLVMBuildCondBr(c->b, bad, err, ok);
    LLVMPositionBuilderAtEnd(c->b, err);
    LLVMValueRef one_lane = LLVMBuildICmp(c->b, LLVMIntEQ, lanes, LLVMConstInt(c->i16, 1, 0), "");
    LLVMValueRef args[4] = {LLVMBuildSelect(c->b, one_lane,
                                            LLVMBuildGlobalString(c->b, fmt1, "msg"),
                                            LLVMBuildGlobalString(c->b, fmt2, "msg"), ""),
                            code_name(w, code), LLVMBuildZExt(c->b, bits, c->i32, ""),
                            LLVMBuildZExt(c->b, lanes, c->i32, "")};
    LLVMTypeRef fty = LLVMFunctionType(c->i32, &c->ptr, 1, 1);
    LLVMBuildCall2(c->b, fty, LLVMGetNamedFunction(c->mod, "tt_error_set"), args, 4, "");
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, (unsigned long long)-1, 1));
    LLVMPositionBuilderAtEnd(c->b, ok);
}

static void check_shape(wrapper *w, LLVMValueRef t, const tt_buffer *b)
{
    cg *c = w->c;
    if (b->ndim == 0)
        return;
    LLVMValueRef shape = field(w, t, F_SHAPE, c->ptr);
    char null_fmt[700];
    snprintf(null_fmt, sizeof null_fmt, "%s has a NULL shape", w->prefix);
    check(w, LLVMBuildIsNull(c->b, shape, ""), null_fmt, NULL, 0);
    LLVMValueRef *dims = malloc((size_t)b->ndim * sizeof *dims);
    char *fmt = malloc(strlen(w->prefix) + 64 + (size_t)b->ndim * 48);
    if (!dims || !fmt) {
        free(dims);
        free(fmt);
        return;
    }
    LLVMValueRef bad = LLVMConstInt(c->i1, 0, 0);
    int len = sprintf(fmt, "%s has shape [", w->prefix);
    for (int d = 0; d < b->ndim; d++) {
        LLVMValueRef i = LLVMConstInt(c->i64, (unsigned long long)d, 0);
        dims[d] = LLVMBuildLoad2(c->b, c->i64, LLVMBuildGEP2(c->b, c->i64, shape, &i, 1, ""), "");
        bad = LLVMBuildOr(c->b, bad, ne(c, dims[d], b->shape[d]), "");
        len += sprintf(fmt + len, "%s%%lld", d ? ", " : "");
    }
    len += sprintf(fmt + len, "], expected [");
    for (int d = 0; d < b->ndim; d++)
        len += sprintf(fmt + len, "%s%lld", d ? ", " : "", (long long)b->shape[d]);
    sprintf(fmt + len, "]");
    check(w, bad, fmt, dims, b->ndim);
    free(dims);
    free(fmt);
}

/* strides NULL means compact; otherwise each dimension of extent > 1 must have the row-major
 * stride. */
static void check_compact(wrapper *w, LLVMValueRef t, const tt_buffer *b)
{
    cg *c = w->c;
    if (b->ndim == 0)
        return;
    LLVMValueRef strides = field(w, t, F_STRIDES, c->ptr);
    LLVMBasicBlockRef test = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "strides");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, w->fn, "strides_ok");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, strides, ""), done, test);
    LLVMPositionBuilderAtEnd(c->b, test);
    LLVMValueRef bad = LLVMConstInt(c->i1, 0, 0);
    int64_t expect = 1;
    for (int d = b->ndim - 1; d >= 0; d--) {
        if (b->shape[d] != 1) {
            LLVMValueRef i = LLVMConstInt(c->i64, (unsigned long long)d, 0);
            LLVMValueRef s =
                LLVMBuildLoad2(c->b, c->i64, LLVMBuildGEP2(c->b, c->i64, strides, &i, 1, ""), "");
            bad = LLVMBuildOr(c->b, bad, ne(c, s, expect), "");
        }
        expect *= b->shape[d];
    }
    char fmt[700];
    snprintf(fmt, sizeof fmt, "%s is not compact (its strides are not row-major)", w->prefix);
    check(w, bad, fmt, NULL, 0);
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* Checks argument i and returns its data pointer (data + byte_offset). */
static LLVMValueRef argument(wrapper *w, LLVMValueRef args, LLVMValueRef codes, int i,
                             const tt_buffer *b)
{
    cg *c = w->c;
    char fmt[700], name[200], kname[200];
    escape(b->name, name, sizeof name);
    escape(c->kernel->name, kname, sizeof kname);
    snprintf(w->prefix, sizeof w->prefix, "%s: argument %d (%s)", kname, i, name);
    LLVMValueRef idx = LLVMConstInt(c->i64, (unsigned long long)i, 0);
    LLVMValueRef code =
        LLVMBuildLoad2(c->b, c->i32, LLVMBuildGEP2(c->b, c->i32, codes, &idx, 1, ""), "");
    snprintf(fmt, sizeof fmt, "%s has type code %%d, expected a DLTensor (%d) or an NDArray (%d)",
             w->prefix, TT_DLTENSOR, TT_NDARRAY);
    check(w, LLVMBuildAnd(c->b, ne(c, code, TT_DLTENSOR), ne(c, code, TT_NDARRAY), ""), fmt, &code,
          1);
    /* tt_value is an 8-byte union on every target */
    LLVMValueRef t =
        LLVMBuildLoad2(c->b, c->ptr, LLVMBuildGEP2(c->b, c->i64, args, &idx, 1, ""), "");
    snprintf(fmt, sizeof fmt, "%s is a NULL tensor", w->prefix);
    check(w, LLVMBuildIsNull(c->b, t, ""), fmt, NULL, 0);
    LLVMValueRef dev = LLVMBuildLoad2(
        c->b, c->i32,
        LLVMBuildStructGEP2(c->b, w->device_t,
                            LLVMBuildStructGEP2(c->b, w->tensor_t, t, F_DEVICE, ""), 0, ""),
        "");
    snprintf(fmt, sizeof fmt, "%s is on device type %%d, expected CPU (%d)", w->prefix, kDLCPU);
    check(w, ne(c, dev, kDLCPU), fmt, &dev, 1);
    LLVMValueRef ndim = field(w, t, F_NDIM, c->i32);
    snprintf(fmt, sizeof fmt, "%s has %%d dimensions, expected %d", w->prefix, b->ndim);
    check(w, ne(c, ndim, b->ndim), fmt, &ndim, 1);
    check_dtype(w, t, b);
    check_shape(w, t, b);
    check_compact(w, t, b);
    LLVMValueRef base = field(w, t, F_DATA, c->ptr);
    if (b->numel > 0) {
        snprintf(fmt, sizeof fmt, "%s has NULL data", w->prefix);
        check(w, LLVMBuildIsNull(c->b, base, ""), fmt, NULL, 0);
    }
    LLVMValueRef off = field(w, t, F_OFFSET, c->i64);
    LLVMValueRef data = LLVMBuildGEP2(c->b, c->i8, base, &off, 1, "");
    LLVMValueRef low = LLVMBuildAnd(c->b, LLVMBuildPtrToInt(c->b, data, c->i64, ""),
                                    LLVMConstInt(c->i64, 63, 0), "");
    snprintf(fmt, sizeof fmt, "%s: data is not 64-byte aligned", w->prefix);
    check(w, ne(c, low, 0), fmt, NULL, 0);
    return data;
}

int cg_packed_wrapper(cg *c, const tt_kernel *k, LLVMValueRef cfn)
{
    wrapper w = {.c = c};
    LLVMTypeRef dev_fields[2] = {c->i32, c->i32};
    LLVMTypeRef dt_fields[3] = {c->i8, c->i8, c->i16};
    w.device_t = LLVMStructTypeInContext(c->ctx, dev_fields, 2, 0);
    w.dtype_t = LLVMStructTypeInContext(c->ctx, dt_fields, 3, 0);
    LLVMTypeRef fields[7] = {c->ptr, w.device_t, c->i32, w.dtype_t, c->ptr, c->ptr, c->i64};
    w.tensor_t = LLVMStructTypeInContext(c->ctx, fields, 7, 0);

    char name[300];
    snprintf(name, sizeof name, "%s%s", TT_PACKED_PREFIX, k->name);
    LLVMTypeRef params[5] = {c->ptr, c->ptr, c->i32, c->ptr, c->ptr};
    w.fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->i32, params, 5, 0));
    cg_function_attrs(c, w.fn);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, w.fn, "entry"));

    char kname[200], fmt[1024];
    escape(k->name, kname, sizeof kname);
    int len = snprintf(fmt, sizeof fmt, "%s: expected %d arguments (", kname, k->nparams);
    for (int i = 0; i < k->nparams && len < 900; i++) {
        char pname[64];
        escape(k->params[i]->name, pname, sizeof pname);
        len += snprintf(fmt + len, sizeof fmt - (size_t)len, "%s%s", i ? ", " : "", pname);
    }
    snprintf(fmt + len, sizeof fmt - (size_t)len, "), got %%d");
    LLVMValueRef n = LLVMGetParam(w.fn, 2);
    check(&w, ne(c, n, k->nparams), fmt, &n, 1);

    LLVMValueRef *data = malloc((size_t)(k->nparams ? k->nparams : 1) * sizeof *data);
    if (!data)
        return tt_error_set("out of memory");
    for (int i = 0; i < k->nparams; i++)
        data[i] = argument(&w, LLVMGetParam(w.fn, 0), LLVMGetParam(w.fn, 1), i, k->params[i]);
    LLVMValueRef r =
        LLVMBuildCall2(c->b, LLVMGlobalGetValueType(cfn), cfn, data, (unsigned)k->nparams, "");
    free(data);
    LLVMBuildRet(c->b, r);
    return 0;
}
