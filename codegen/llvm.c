/* Loop IR kernels -> one LLVM module: the C entry point of each kernel, its statements and loops
 * (serial, unrolled, vectorized as LLVM vectors, parallel outlined onto tt_backend_parallel_for),
 * local and workspace buffers; then verification and LLVM's O3 pipeline for the target machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/llvm_internal.h"

/* Unrolled loops up to this extent are unrolled here; longer ones get llvm.loop.unroll metadata. */
#define MAX_UNROLL 64
/* Nested unrolled loops are unrolled here while the product of their extents stays below this;
 * beyond it code size (and compile time) grows faster than the benefit, and LLVM decides. */
#define MAX_UNROLL_PRODUCT 1024
/* Vectorized loops up to this many lanes become LLVM vectors; longer ones are left to LLVM. */
#define MAX_LANES 64
/* LOCAL buffers larger than this go to the workspace: worker threads have small stacks. */
#define MAX_STACK_BYTES (128 * 1024)

static void add_attr(cg *c, LLVMValueRef fn, LLVMAttributeIndex i, const char *name, uint64_t v)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, i, LLVMCreateEnumAttribute(c->ctx, kind, v));
}

static void add_str_attr(cg *c, LLVMValueRef fn, const char *key, const char *value)
{
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(c->ctx, key, (unsigned)strlen(key), value,
                                                      (unsigned)strlen(value)));
}

void cg_function_attrs(cg *c, LLVMValueRef fn)
{
    add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind", 0);
    add_str_attr(c, fn, "target-cpu", tt_target_cpu(c->target));
    if (*tt_target_features(c->target))
        add_str_attr(c, fn, "target-features", tt_target_features(c->target));
    /* X86 splits 512-bit vectors in two unless told 512 is preferred (AVX-512 parts default to
     * 256 for frequency reasons); tuned kernels are better off with the full width. */
    if (tt_target_vector_bits(c->target) == 512)
        add_str_attr(c, fn, "prefer-vector-width", "512");
}

/* Attaches !llvm.loop !{self, !{prop[, i1 true]}} to a loop's latch branch. */
static void loop_metadata(cg *c, LLVMValueRef br, const char *prop)
{
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(c->ctx, NULL, 0);
    LLVMMetadataRef items[2] = {LLVMMDStringInContext2(c->ctx, prop, strlen(prop)),
                                LLVMValueAsMetadata(LLVMConstInt(c->i1, 1, 0))};
    bool flag = strcmp(prop, "llvm.loop.vectorize.enable") == 0;
    LLVMMetadataRef ops[2] = {tmp, LLVMMDNodeInContext2(c->ctx, items, flag ? 2 : 1)};
    LLVMMetadataRef node = LLVMMDNodeInContext2(c->ctx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, node); /* the self reference; frees tmp */
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9),
                    LLVMMetadataAsValue(c->ctx, node));
}

/* Branches to a block that frees the live workspaces and returns -1 when bad is true. */
static int fail_if(cg *c, LLVMValueRef bad)
{
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fail");
    LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
    LLVMBuildCondBr(c->b, bad, fail, cont);
    LLVMPositionBuilderAtEnd(c->b, fail);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), &c->ptr, 1, 0);
    LLVMValueRef free_fn = LLVMGetNamedFunction(c->mod, "tt_backend_free_workspace");
    for (int i = c->nlive - 1; i >= 0; i--)
        LLVMBuildCall2(c->b, fty, free_fn, &c->live_ws[i], 1, "");
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, (unsigned long long)-1, 1));
    LLVMPositionBuilderAtEnd(c->b, cont);
    return 0;
}

static int stmt(cg *c, const tt_stmt *s);

/* Evaluates a loop extent: a uniform integer, as i64. */
static int extent_value(cg *c, const tt_stmt *s, LLVMValueRef *out)
{
    if (!tt_dtype_is_int(s->extent->dtype))
        return tt_error_set("kernel %s: extent of loop %s must be an integer", c->kernel->name,
                            s->var->name);
    if (cg_expr(c, s->extent, out) != 0)
        return -1;
    if (cg_is_vector(*out))
        return tt_error_set("kernel %s: extent of loop %s varies across the lanes of a "
                            "vectorized loop",
                            c->kernel->name, s->var->name);
    *out = LLVMBuildIntCast2(c->b, *out, c->i64, s->extent->dtype.code != kDLUInt, "");
    return 0;
}

/* Binds a loop variable to the i64 counter i, converted to the variable's dtype. */
static int bind_var(cg *c, const tt_expr *var, LLVMValueRef i, int64_t extent)
{
    LLVMTypeRef t = cg_type(c, var->dtype);
    if (!t || !tt_dtype_is_int(var->dtype))
        return tt_error_set("kernel %s: loop variable %s must be an integer", c->kernel->name,
                            var->name);
    return cg_bind_loop(c, var, t == c->i64 ? i : LLVMBuildTrunc(c->b, i, t, ""), extent);
}

/* for (var = begin; var < end; var++) body, with optional loop metadata. */
static int serial_loop(cg *c, LLVMValueRef begin, LLVMValueRef end, const tt_stmt *s,
                       const char *prop)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop.end");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, begin, end, ""), body, exit);
    LLVMPositionBuilderAtEnd(c->b, body);
    LLVMValueRef i = LLVMBuildPhi(c->b, c->i64, s->var->name);
    int64_t extent = 0;
    tt_expr_is_const(s->extent, &extent);
    if (bind_var(c, s->var, i, extent) != 0)
        return -1;
    int rc = stmt(c, s->body);
    cg_unbind(c, 1);
    if (rc != 0)
        return -1;
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, i, LLVMConstInt(c->i64, 1, 0), "");
    LLVMSetNUW(next, 1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMValueRef br =
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, next, end, ""), body, exit);
    if (prop)
        loop_metadata(c, br, prop);
    LLVMValueRef in_vals[2] = {begin, next};
    LLVMBasicBlockRef in_blocks[2] = {pre, latch};
    LLVMAddIncoming(i, in_vals, in_blocks, 2);
    LLVMPositionBuilderAtEnd(c->b, exit);
    return 0;
}

static int serial(cg *c, const tt_stmt *s, const char *prop)
{
    LLVMValueRef n;
    if (extent_value(c, s, &n) != 0)
        return -1;
    return serial_loop(c, LLVMConstInt(c->i64, 0, 0), n, s, prop);
}

static int unrolled(cg *c, const tt_stmt *s, int64_t extent)
{
    for (int64_t k = 0; k < extent; k++) {
        if (bind_var(c, s->var, LLVMConstInt(c->i64, (unsigned long long)k, 0), extent) != 0)
            return -1;
        int rc = stmt(c, s->body);
        cg_unbind(c, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- vectorized loops ---- */

/* One chunk of a vectorized loop: iterations [base, base + lanes) as vector lanes. */
static int vector_chunk(cg *c, const tt_stmt *s, int64_t base, int lanes)
{
    LLVMValueRef *idx = malloc((size_t)lanes * sizeof *idx);
    if (!idx)
        return tt_error_set("out of memory");
    for (int i = 0; i < lanes; i++)
        idx[i] = LLVMConstInt(c->i64, (unsigned long long)(base + i), 0);
    LLVMValueRef iota = LLVMConstVector(idx, (unsigned)lanes);
    free(idx);
    c->lanes = lanes;
    c->vec_base = base;
    c->mask = NULL; /* every lane runs */
    int rc = cg_bind(c, s->var, iota);
    if (rc == 0) {
        rc = stmt(c, s->body);
        cg_unbind(c, 1);
    }
    return rc;
}

/* A vectorized loop of extent n that is not a power of two runs as power-of-two vectors of at
 * least the target's native width w (24 = 16 + 8 float32 lanes on AVX2; LLVM splits those into
 * whole registers), then the remainder r < w as power-of-two pieces, halving (7 = 4 + 2 + 1):
 * every value is a whole register of its width and every access a plain vector op. One LLVM
 * vector of n lanes instead leaves the odd width to type legalisation, which scalarises it (24
 * lanes of f32 became insertps chains through the stack); one vector of 8 masked to the r lanes
 * made every access of the accumulator tile a masked load, blend and store (AVX2, znver3: a
 * 7-wide tile of a 3x3 NCHW conv ran at 2.1 GFLOPS masked, 16.3 in pieces; matmul 251x253x509
 * with a 23-wide tile, 9.6 against 25.5). Chunks run one after another, which keeps the
 * meaning since cg_vectorizable found the lanes independent. */
static int vectorized(cg *c, const tt_stmt *s, int n)
{
    int saved_lanes = c->lanes;
    int64_t saved_base = c->vec_base;
    const tt_expr *saved_var = c->vec_var;
    LLVMValueRef saved_mask = c->mask;
    c->vec_var = s->var;
    int w = cg_native_lanes(c, s), rc = 0, base = 0;
    while (rc == 0 && n - base >= w) {
        int lanes = w;
        while (2 * lanes <= n - base)
            lanes *= 2;
        rc = vector_chunk(c, s, base, lanes);
        base += lanes;
    }
    for (int lanes = w / 2; rc == 0 && lanes >= 1; lanes /= 2)
        if (n - base >= lanes) {
            rc = vector_chunk(c, s, base, lanes);
            base += lanes;
        }
    c->lanes = saved_lanes;
    c->vec_base = saved_base;
    c->vec_var = saved_var;
    c->mask = saved_mask;
    return rc;
}

/* ---- parallel loops ---- */

typedef struct {
    const void **keys;
    int n, cap;
    bool oom;
} key_set;

static void add_key(const cg *c, key_set *k, const void *key)
{
    if (!cg_lookup(c, key))
        return; /* defined inside the body */
    for (int i = 0; i < k->n; i++)
        if (k->keys[i] == key)
            return;
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 16;
        const void **keys = realloc(k->keys, (size_t)cap * sizeof *keys);
        if (!keys) {
            k->oom = true;
            return;
        }
        k->keys = keys;
        k->cap = cap;
    }
    k->keys[k->n++] = key;
}

static void expr_free(const cg *c, const tt_expr *e, key_set *k)
{
    if (e->kind == TT_EXPR_VAR)
        add_key(c, k, e);
    if (e->kind == TT_EXPR_LOAD)
        add_key(c, k, e->buffer);
    for (int i = 0; i < e->nargs; i++)
        expr_free(c, e->args[i], k);
}

/* The values of the enclosing function that s uses: loop variables and buffers. */
static void stmt_free(const cg *c, const tt_stmt *s, key_set *k)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        expr_free(c, s->extent, k);
        stmt_free(c, s->body, k);
        break;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            stmt_free(c, s->stmts[i], k);
        break;
    case TT_STMT_STORE:
        add_key(c, k, s->buffer);
        expr_free(c, s->index, k);
        expr_free(c, s->value, k);
        break;
    case TT_STMT_IF:
        expr_free(c, s->cond, k);
        stmt_free(c, s->then_s, k);
        if (s->else_s)
            stmt_free(c, s->else_s, k);
        break;
    case TT_STMT_ALLOC:
        stmt_free(c, s->body, k);
        break;
    default:
        break;
    }
}

/* Emits `int32 body(i64 begin, i64 end, ptr closure)` running s's iterations [begin, end) with
 * the closure's fields bound to keys. */
static int outline_body(cg *c, const tt_stmt *s, const key_set *k, LLVMTypeRef closure_t,
                        LLVMValueRef *out)
{
    char name[256];
    snprintf(name, sizeof name, "%s.parallel.%d", c->kernel->name, c->nparallel++);
    LLVMTypeRef params[3] = {c->i64, c->i64, c->ptr};
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->i32, params, 3, 0));
    LLVMSetLinkage(fn, LLVMPrivateLinkage);
    cg_function_attrs(c, fn);
    add_attr(c, fn, 3, "noalias", 0);

    /* The body is a new function: fresh scope, allocas and failure paths. */
    cg saved = *c;
    c->fn = fn;
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    c->env = NULL;
    c->nenv = c->cap_env = 0;
    c->live_ws = NULL;
    c->nlive = c->cap_live = 0;
    c->in_parallel = true;
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    int rc = 0;
    for (int i = 0; i < k->n && rc == 0; i++) {
        LLVMValueRef field =
            LLVMBuildStructGEP2(c->b, closure_t, LLVMGetParam(fn, 2), (unsigned)i, "");
        LLVMValueRef v =
            LLVMBuildLoad2(c->b, LLVMStructGetTypeAtIndex(closure_t, (unsigned)i), field, "");
        const cg_binding *outer = cg_find(&saved, k->keys[i]);
        rc = cg_bind_loop(c, k->keys[i], v, outer ? outer->extent : 0);
    }
    if (rc == 0)
        rc = serial_loop(c, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), s, NULL);
    if (rc == 0)
        LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
    free(c->env);
    free(c->live_ws);
    c->fn = saved.fn;
    c->entry = saved.entry;
    c->env = saved.env;
    c->nenv = saved.nenv;
    c->cap_env = saved.cap_env;
    c->live_ws = saved.live_ws;
    c->nlive = saved.nlive;
    c->cap_live = saved.cap_live;
    c->in_parallel = saved.in_parallel;
    *out = fn;
    return rc;
}

static int parallel(cg *c, const tt_stmt *s)
{
    LLVMValueRef n;
    if (extent_value(c, s, &n) != 0)
        return -1;
    key_set k = {0};
    stmt_free(c, s->body, &k);
    if (k.oom) {
        free(k.keys);
        return tt_error_set("out of memory");
    }
    LLVMTypeRef *types = malloc((size_t)(k.n ? k.n : 1) * sizeof *types);
    if (!types) {
        free(k.keys);
        return tt_error_set("out of memory");
    }
    for (int i = 0; i < k.n; i++)
        types[i] = LLVMTypeOf(cg_lookup(c, k.keys[i]));
    LLVMTypeRef closure_t = LLVMStructTypeInContext(c->ctx, types, (unsigned)k.n, 0);
    free(types);
    LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
    LLVMValueRef body_fn;
    int rc = outline_body(c, s, &k, closure_t, &body_fn);
    LLVMPositionBuilderAtEnd(c->b, here);
    if (rc == 0) {
        LLVMValueRef closure = cg_entry_alloca(c, closure_t, "closure");
        for (int i = 0; i < k.n; i++)
            LLVMBuildStore(c->b, cg_lookup(c, k.keys[i]),
                           LLVMBuildStructGEP2(c->b, closure_t, closure, (unsigned)i, ""));
        LLVMTypeRef params[3] = {c->i64, c->ptr, c->ptr};
        LLVMTypeRef fty = LLVMFunctionType(c->i32, params, 3, 0);
        /* a negative extent runs no iteration, as a serial loop would */
        LLVMValueRef zero = LLVMConstInt(c->i64, 0, 0);
        n = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, n, zero, ""), zero, n, "");
        LLVMValueRef args[3] = {n, body_fn, closure};
        LLVMValueRef r = LLVMBuildCall2(
            c->b, fty, LLVMGetNamedFunction(c->mod, "tt_backend_parallel_for"), args, 3, "");
        rc = fail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, r, LLVMConstInt(c->i32, 0, 0), ""));
    }
    free(k.keys);
    return rc;
}

static int for_stmt(cg *c, const tt_stmt *s)
{
    int64_t extent;
    bool known = tt_expr_is_const(s->extent, &extent);
    switch (s->for_kind) {
    case TT_FOR_VECTORIZED:
        if (!c->lanes && known && extent >= 1 && extent <= MAX_LANES &&
            tt_dtype_eq(s->var->dtype, TT_DT_I64) && cg_vectorizable(c, s, (int)extent))
            return vectorized(c, s, (int)extent);
        return serial(c, s, "llvm.loop.vectorize.enable");
    case TT_FOR_UNROLLED:
        if (known && extent <= MAX_UNROLL && c->unroll_product * extent <= MAX_UNROLL_PRODUCT) {
            int64_t saved = c->unroll_product;
            c->unroll_product *= extent > 0 ? extent : 1;
            int rc = unrolled(c, s, extent);
            c->unroll_product = saved;
            return rc;
        }
        return serial(c, s, "llvm.loop.unroll.enable");
    case TT_FOR_PARALLEL:
        if (!c->lanes && !c->in_parallel)
            return parallel(c, s);
        return serial(c, s, NULL);
    case TT_FOR_SERIAL:
        return serial(c, s, NULL);
    default:
        return tt_error_set("kernel %s: loop %s has unknown kind %d", c->kernel->name, s->var->name,
                            (int)s->for_kind);
    }
}

/* ---- statements ---- */

static int if_stmt(cg *c, const tt_stmt *s)
{
    LLVMValueRef cond;
    if (cg_expr(c, s->cond, &cond) != 0)
        return -1;
    if (cg_is_vector(cond)) {
        /* lanes run both branches under complementary masks */
        LLVMValueRef saved = c->mask;
        c->mask = saved ? LLVMBuildAnd(c->b, saved, cond, "") : cond;
        int rc = stmt(c, s->then_s);
        if (rc == 0 && s->else_s) {
            LLVMValueRef inv = LLVMBuildNot(c->b, cond, "");
            c->mask = saved ? LLVMBuildAnd(c->b, saved, inv, "") : inv;
            rc = stmt(c, s->else_s);
        }
        c->mask = saved;
        return rc;
    }
    LLVMBasicBlockRef then_b = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "then");
    LLVMBasicBlockRef else_b =
        s->else_s ? LLVMAppendBasicBlockInContext(c->ctx, c->fn, "else") : NULL;
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
    LLVMBuildCondBr(c->b, cond, then_b, else_b ? else_b : merge);
    LLVMPositionBuilderAtEnd(c->b, then_b);
    if (stmt(c, s->then_s) != 0)
        return -1;
    LLVMBuildBr(c->b, merge);
    if (else_b) {
        LLVMPositionBuilderAtEnd(c->b, else_b);
        if (stmt(c, s->else_s) != 0)
            return -1;
        LLVMBuildBr(c->b, merge);
    }
    LLVMPositionBuilderAtEnd(c->b, merge);
    return 0;
}

static int alloc_stmt(cg *c, const tt_stmt *s)
{
    tt_buffer *buf = s->buffer;
    LLVMTypeRef mt = cg_mem_type(c, buf->dtype);
    if (!mt)
        return tt_error_set("kernel %s: buffer %s has an unsupported dtype", c->kernel->name,
                            buf->name);
    int64_t esize = buf->dtype.bits == 1 ? 1 : buf->dtype.bits / 8, nbytes;
    if (__builtin_mul_overflow(buf->numel, esize, &nbytes))
        return tt_error_set("kernel %s: buffer %s has more bytes than int64 counts",
                            c->kernel->name, buf->name);
    if (buf->scope == TT_SCOPE_LOCAL && nbytes <= MAX_STACK_BYTES) {
        LLVMValueRef p = cg_entry_alloca(c, LLVMArrayType2(mt, (uint64_t)buf->numel), buf->name);
        if (cg_bind(c, buf, p) != 0)
            return -1;
        c->env[c->nenv - 1].owned = true;
        int rc = stmt(c, s->body);
        cg_unbind(c, 1);
        return rc;
    }
    if (buf->scope != TT_SCOPE_LOCAL && buf->scope != TT_SCOPE_WORKSPACE)
        return tt_error_set("kernel %s: ALLOC of buffer %s, which is neither local nor "
                            "workspace",
                            c->kernel->name, buf->name);
    LLVMTypeRef fty = LLVMFunctionType(c->ptr, &c->i64, 1, 0);
    LLVMValueRef size = LLVMConstInt(c->i64, (unsigned long long)(nbytes > 64 ? nbytes : 64), 0);
    LLVMValueRef p = LLVMBuildCall2(
        c->b, fty, LLVMGetNamedFunction(c->mod, "tt_backend_alloc_workspace"), &size, 1, buf->name);
    if (fail_if(c, LLVMBuildIsNull(c->b, p, "")) != 0)
        return -1;
    if (c->nlive == c->cap_live) {
        int cap = c->cap_live ? 2 * c->cap_live : 8;
        LLVMValueRef *live = realloc(c->live_ws, (size_t)cap * sizeof *live);
        if (!live)
            return tt_error_set("out of memory");
        c->live_ws = live;
        c->cap_live = cap;
    }
    c->live_ws[c->nlive++] = p;
    if (cg_bind(c, buf, p) != 0)
        return -1;
    c->env[c->nenv - 1].owned = true;
    int rc = stmt(c, s->body);
    cg_unbind(c, 1);
    c->nlive--;
    if (rc == 0) {
        LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), &c->ptr, 1, 0);
        LLVMBuildCall2(c->b, ft, LLVMGetNamedFunction(c->mod, "tt_backend_free_workspace"), &p, 1,
                       "");
    }
    return rc;
}

static int stmt(cg *c, const tt_stmt *s)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        return for_stmt(c, s);
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (stmt(c, s->stmts[i]) != 0)
                return -1;
        return 0;
    case TT_STMT_STORE:
        return cg_store(c, s);
    case TT_STMT_IF:
        return if_stmt(c, s);
    case TT_STMT_ALLOC:
        return alloc_stmt(c, s);
    default:
        return tt_error_set("kernel %s: unknown statement kind %d", c->kernel->name, (int)s->kind);
    }
}

/* ---- kernels and the module ---- */

/* Declares what generated code may call: include/tt/backend.h and tt_error_set. */
static void declare_runtime(cg *c)
{
    LLVMTypeRef pfor[3] = {c->i64, c->ptr, c->ptr};
    LLVMAddFunction(c->mod, "tt_backend_parallel_for", LLVMFunctionType(c->i32, pfor, 3, 0));
    LLVMAddFunction(c->mod, "tt_backend_alloc_workspace", LLVMFunctionType(c->ptr, &c->i64, 1, 0));
    LLVMAddFunction(c->mod, "tt_backend_free_workspace",
                    LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), &c->ptr, 1, 0));
    LLVMAddFunction(c->mod, "tt_error_set", LLVMFunctionType(c->i32, &c->ptr, 1, 1));
    for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
        add_attr(c, f, LLVMAttributeFunctionIndex, "nounwind", 0);
}

static int kernel(cg *c, const tt_kernel *k)
{
    c->kernel = k;
    c->nparallel = 0;
    if (LLVMGetNamedFunction(c->mod, k->name))
        return tt_error_set("kernel %s: name used twice in one module", k->name);
    LLVMTypeRef *params = malloc((size_t)(k->nparams ? k->nparams : 1) * sizeof *params);
    if (!params)
        return tt_error_set("out of memory");
    for (int i = 0; i < k->nparams; i++)
        params[i] = c->ptr;
    LLVMValueRef fn =
        LLVMAddFunction(c->mod, k->name, LLVMFunctionType(c->i32, params, (unsigned)k->nparams, 0));
    free(params);
    cg_function_attrs(c, fn);
    for (int i = 0; i < k->nparams; i++) {
        tt_buffer *b = k->params[i];
        if (b->scope != TT_SCOPE_GLOBAL || !cg_mem_type(c, b->dtype))
            return tt_error_set("kernel %s: parameter %d (%s) must be a global buffer of a "
                                "supported dtype",
                                k->name, i, b->name);
        LLVMAttributeIndex at = (LLVMAttributeIndex)(i + 1);
        add_attr(c, fn, at, "noalias", 0);
        add_attr(c, fn, at, "align", 64);
        int64_t nbytes;
        if (__builtin_mul_overflow(b->numel, b->dtype.bits == 1 ? 1 : b->dtype.bits / 8, &nbytes))
            return tt_error_set("kernel %s: parameter %s has more bytes than int64 counts", k->name,
                                b->name);
        if (nbytes > 0)
            add_attr(c, fn, at, "dereferenceable", (uint64_t)nbytes);
        LLVMSetValueName2(LLVMGetParam(fn, (unsigned)i), b->name, strlen(b->name));
    }
    c->fn = fn;
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    c->nenv = 0;
    c->nlive = 0;
    c->in_parallel = false;
    c->unroll_product = 1;
    c->lanes = 0;
    c->vec_base = 0;
    c->mask = NULL;
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    for (int i = 0; i < k->nparams; i++)
        if (cg_bind(c, k->params[i], LLVMGetParam(fn, (unsigned)i)) != 0)
            return -1;
    if (stmt(c, k->body) != 0)
        return -1;
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
    c->nenv = 0;
    return cg_packed_wrapper(c, k, fn);
}

static int run_o3(LLVMModuleRef mod, LLVMTargetMachineRef tm)
{
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 1);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 1);
    LLVMErrorRef err = LLVMRunPasses(mod, "default<O3>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (err) {
        char *msg = LLVMGetErrorMessage(err);
        int rc = tt_error_set("LLVM O3 pipeline failed: %s", msg);
        LLVMDisposeErrorMessage(msg);
        return rc;
    }
    return 0;
}

int tt_codegen_build(tt_kernel *const *kernels, int n, const tt_target *t, LLVMContextRef ctx,
                     LLVMTargetMachineRef tm, LLVMModuleRef *out, tt_codegen_stats *st)
{
    *out = NULL;
    if (n < 1 || !kernels)
        return tt_error_set("codegen: expected at least one kernel, got %d", n);
    double t0 = tt_codegen_now_ms();
    tt_codegen_watch(ctx);
    cg c = {.ctx = ctx, .target = t};
    c.mod = LLVMModuleCreateWithNameInContext(kernels[0]->name, ctx);
    c.b = LLVMCreateBuilderInContext(ctx);
    c.i1 = LLVMInt1TypeInContext(ctx);
    c.i8 = LLVMInt8TypeInContext(ctx);
    c.i16 = LLVMInt16TypeInContext(ctx);
    c.i32 = LLVMInt32TypeInContext(ctx);
    c.i64 = LLVMInt64TypeInContext(ctx);
    c.f32 = LLVMFloatTypeInContext(ctx);
    c.f64 = LLVMDoubleTypeInContext(ctx);
    c.ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMSetTarget(c.mod, tt_target_triple(t));
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(c.mod, td);
    LLVMDisposeTargetData(td);
    declare_runtime(&c);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!kernels[i] || !kernels[i]->name || !kernels[i]->body)
            rc = tt_error_set("codegen: kernel %d is NULL or incomplete", i);
        else
            rc = kernel(&c, kernels[i]);
    }
    LLVMDisposeBuilder(c.b);
    free(c.env);
    free(c.live_ws);
    char *msg = NULL;
    if (rc == 0 && LLVMVerifyModule(c.mod, LLVMReturnStatusAction, &msg))
        rc = tt_error_set("codegen: generated LLVM IR for %s is invalid: %s", kernels[0]->name,
                          msg ? msg : "?");
    LLVMDisposeMessage(msg);
    double t1 = tt_codegen_now_ms();
    if (rc == 0)
        rc = run_o3(c.mod, tm);
    if (rc == 0)
        rc = tt_codegen_check_diag("codegen: LLVM");
    double t2 = tt_codegen_now_ms();
    st->ir_ms = t1 - t0;
    st->opt_ms = t2 - t1;
    if (rc != 0) {
        LLVMDisposeModule(c.mod);
        return -1;
    }
    *out = c.mod;
    return 0;
}
