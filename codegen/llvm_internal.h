/* The state of one loop IR -> LLVM IR translation, shared by llvm.c (kernels, statements, loops,
 * parallel outlining), llvm_expr.c (expressions, loads and stores, vector lanes) and
 * llvm_packed.c (the PackedFunc wrappers). Internal to codegen/. */
#ifndef TT_CODEGEN_LLVM_INTERNAL_H
#define TT_CODEGEN_LLVM_INTERNAL_H

#include <llvm-c/Core.h>

#include "codegen/codegen_internal.h"
#include "ir/analysis.h"

/* A name in scope: a loop variable (key: its VAR node) or a buffer (key: its tt_buffer) bound to
 * an LLVM value of the current function. */
typedef struct {
    const void *key;
    LLVMValueRef value;
    int64_t extent; /* loop variables: value in [0, extent) when > 0; 0 when unknown */
    bool owned;     /* buffers: allocated in this function, so no other thread touches it */
} cg_binding;

typedef struct {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    const tt_target *target;
    const tt_kernel *kernel;
    LLVMTypeRef i1, i8, i16, i32, i64, f32, f64, ptr;

    /* The function being emitted (the kernel or an outlined parallel body). */
    LLVMValueRef fn;
    LLVMBasicBlockRef entry; /* allocas go at its start */
    cg_binding *env;
    int nenv, cap_env;
    LLVMValueRef *live_ws; /* workspaces to free on the failure paths */
    int nlive, cap_live;
    bool in_parallel;       /* nested parallel loops run serially */
    int nparallel;          /* outlined bodies so far, for their names */
    int64_t unroll_product; /* product of the extents of the unrolled loops around here */

    /* Inside a vectorized loop: lanes > 0, vec_var its variable (bound to <base, base + 1, ...,
     * base + lanes - 1>: a loop longer than the target's vector runs as chunks of it), mask the
     * lanes that run the current statement or use the select arm being emitted (NULL: all;
     * outside vector loops a select arm's mask is one i1). Loads never touch memory outside
     * their buffer for lanes the mask has off. */
    int lanes;
    int64_t vec_base;
    const tt_expr *vec_var;
    LLVMValueRef mask;
} cg;

/* Binds key to value (innermost wins); pops the newest n bindings. */
int cg_bind(cg *c, const void *key, LLVMValueRef value);
int cg_bind_loop(cg *c, const tt_expr *var, LLVMValueRef value, int64_t extent);
const cg_binding *cg_find(const cg *c, const void *key);
void cg_unbind(cg *c, int n);
LLVMValueRef cg_lookup(const cg *c, const void *key);

/* Register type of a dtype (bool is i1) and its memory type (bool is i8); NULL if unsupported. */
LLVMTypeRef cg_type(cg *c, DLDataType t);
LLVMTypeRef cg_mem_type(cg *c, DLDataType t);
/* An alloca of type at the start of the current function's entry block, 64-byte aligned. */
LLVMValueRef cg_entry_alloca(cg *c, LLVMTypeRef type, const char *name);
/* Calls an overloaded intrinsic ("llvm.masked.load") with the given overload types. */
LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef *types, int ntypes,
                          LLVMValueRef *args, int nargs);
/* v as a vector of the current lane count (v itself when already a vector). */
LLVMValueRef cg_splat(cg *c, LLVMValueRef v);
bool cg_is_vector(LLVMValueRef v);

/* Evaluates e in the current function and lanes: a scalar when uniform, a vector when varying. */
int cg_expr(cg *c, const tt_expr *e, LLVMValueRef *out);
/* Emits buffer[index] = value (masked, gathered or scattered as the lanes require). */
int cg_store(cg *c, const tt_stmt *s);
/* The linear form of e here (ir/analysis.h): variables bound to constants (unrolled loops) are
 * constants, integer casts that do not narrow are opened. Free with tt_linear_free. */
void cg_linear(const cg *c, const tt_expr *e, tt_linear *f);
/* True when e is base + stride * var with base free of var and stride a known integer. */
bool cg_affine(const cg *c, const tt_expr *e, const tt_expr *var, int64_t *stride);
/* The integer value of e when it is a constant or a variable bound to one (an unrolled loop). */
bool cg_known_int(const cg *c, const tt_expr *e, int64_t *v);
/* True when running the iterations of vectorized loop s as lanes keeps the scalar meaning. */
bool cg_vectorizable(const cg *c, const tt_stmt *s, int lanes);
/* Lanes of one native vector register of the target for the widest element s's body accesses
 * (8 for float32 on AVX2, 16 on AVX-512); at least 1. */
int cg_native_lanes(const cg *c, const tt_stmt *s);

/* Emits the PackedFunc wrapper __tt_packed_NAME that checks DLTensors and calls cfn. */
int cg_packed_wrapper(cg *c, const tt_kernel *k, LLVMValueRef cfn);
/* Adds the target's function attributes (target-cpu, target-features, nounwind...) to fn. */
void cg_function_attrs(cg *c, LLVMValueRef fn);

#endif
