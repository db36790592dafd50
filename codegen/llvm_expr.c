/* Loop IR expressions, loads and stores -> LLVM IR. Inside a vectorized loop each value is either
 * uniform (one scalar for all lanes) or varying (an LLVM vector): accesses affine in the vector
 * variable with stride 1 become vector loads/stores, other strides gathers/scatters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/llvm_internal.h"

/* ---- scopes and types ---- */

int cg_bind(cg *c, const void *key, LLVMValueRef value)
{
    return cg_bind_loop(c, key, value, 0);
}

int cg_bind_loop(cg *c, const tt_expr *key, LLVMValueRef value, int64_t extent)
{
    if (c->nenv == c->cap_env) {
        int cap = c->cap_env ? 2 * c->cap_env : 32;
        cg_binding *env = realloc(c->env, (size_t)cap * sizeof *env);
        if (!env)
            return tt_error_set("out of memory");
        c->env = env;
        c->cap_env = cap;
    }
    c->env[c->nenv++] = (cg_binding){key, value, extent > 0 ? extent : 0, false};
    return 0;
}

void cg_unbind(cg *c, int n)
{
    c->nenv -= n;
}

const cg_binding *cg_find(const cg *c, const void *key)
{
    for (int i = c->nenv - 1; i >= 0; i--)
        if (c->env[i].key == key)
            return &c->env[i];
    return NULL;
}

LLVMValueRef cg_lookup(const cg *c, const void *key)
{
    const cg_binding *b = cg_find(c, key);
    return b ? b->value : NULL;
}

LLVMTypeRef cg_type(cg *c, DLDataType t)
{
    if (t.lanes != 1)
        return NULL;
    if (t.code == kDLFloat)
        return t.bits == 32 ? c->f32 : t.bits == 64 ? c->f64 : NULL;
    if (t.code == kDLInt || t.code == kDLUInt) {
        switch (t.bits) {
        case 1:
            return c->i1;
        case 8:
            return c->i8;
        case 16:
            return c->i16;
        case 32:
            return c->i32;
        case 64:
            return c->i64;
        default:
            return NULL;
        }
    }
    return NULL;
}

LLVMTypeRef cg_mem_type(cg *c, DLDataType t)
{
    LLVMTypeRef r = cg_type(c, t);
    return r == c->i1 ? c->i8 : r;
}

LLVMValueRef cg_entry_alloca(cg *c, LLVMTypeRef type, const char *name)
{
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(b, first);
    else
        LLVMPositionBuilderAtEnd(b, c->entry);
    LLVMValueRef a = LLVMBuildAlloca(b, type, name);
    LLVMSetAlignment(a, 64);
    LLVMDisposeBuilder(b);
    return a;
}

LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef *types, int ntypes,
                          LLVMValueRef *args, int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, types, (size_t)ntypes);
    LLVMTypeRef fty = LLVMIntrinsicGetType(c->ctx, id, types, (size_t)ntypes);
    return LLVMBuildCall2(c->b, fty, fn, args, (unsigned)nargs, "");
}

bool cg_is_vector(LLVMValueRef v)
{
    return LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMVectorTypeKind;
}

LLVMValueRef cg_splat(cg *c, LLVMValueRef v)
{
    if (cg_is_vector(v))
        return v;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), (unsigned)c->lanes);
    LLVMValueRef one =
        LLVMBuildInsertElement(c->b, LLVMGetPoison(vt), v, LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(c->b, one, LLVMGetPoison(vt),
                                  LLVMConstNull(LLVMVectorType(c->i32, (unsigned)c->lanes)), "");
}

/* A constant of v's type (splat when v is a vector). */
static LLVMValueRef const_like(cg *c, LLVMValueRef v, int64_t i, double f)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    bool vec = LLVMGetTypeKind(t) == LLVMVectorTypeKind;
    LLVMTypeRef et = vec ? LLVMGetElementType(t) : t;
    LLVMTypeKind k = LLVMGetTypeKind(et);
    LLVMValueRef s = (k == LLVMFloatTypeKind || k == LLVMDoubleTypeKind)
                         ? LLVMConstReal(et, f)
                         : LLVMConstInt(et, (unsigned long long)i, 1);
    if (!vec)
        return s;
    unsigned n = LLVMGetVectorSize(t);
    LLVMValueRef *elts = malloc(n * sizeof *elts);
    if (!elts)
        return NULL;
    for (unsigned j = 0; j < n; j++)
        elts[j] = s;
    LLVMValueRef r = LLVMConstVector(elts, n);
    free(elts);
    return r;
}

/* Makes a and b both scalars or both vectors. */
static void unify(cg *c, LLVMValueRef *a, LLVMValueRef *b)
{
    bool va = cg_is_vector(*a), vb = cg_is_vector(*b);
    if (va && !vb)
        *b = cg_splat(c, *b);
    else if (vb && !va)
        *a = cg_splat(c, *a);
}

/* ---- analyses on the loop IR ---- */

/* The integer value of e when it is a constant or a variable bound to one (an unrolled loop). */
bool cg_known_int(const cg *c, const tt_expr *e, int64_t *v)
{
    if (tt_expr_is_const(e, v))
        return true;
    if (e->kind != TT_EXPR_VAR)
        return false;
    LLVMValueRef b = cg_lookup(c, e);
    if (!b || !LLVMIsAConstantInt(b))
        return false;
    *v = LLVMConstIntGetSExtValue(b);
    return true;
}

static bool known_var(const void *ctx, const tt_expr *var, int64_t *v)
{
    return cg_known_int(ctx, var, v);
}

/* An integer cast that does not narrow keeps the form linear; anything else is an atom. */
static void open_cast(void *ctx, const tt_expr *e, tt_linear *f)
{
    if (e->kind == TT_EXPR_CAST && tt_dtype_is_int(e->dtype) &&
        tt_dtype_is_int(e->args[0]->dtype) && e->dtype.bits >= e->args[0]->dtype.bits) {
        tt_linear_hooks h = {known_var, open_cast, ctx};
        tt_linear_of(e->args[0], &h, f);
        return;
    }
    tt_linear_add_term(f, tt_expr_retain((tt_expr *)e), 1);
}

void cg_linear(const cg *c, const tt_expr *e, tt_linear *f)
{
    tt_linear_hooks h = {known_var, open_cast, (void *)c};
    tt_linear_of(e, &h, f);
}

bool cg_affine(const cg *c, const tt_expr *e, const tt_expr *var, int64_t *stride)
{
    *stride = e == var;
    if (e == var || !tt_expr_uses_var(e, var))
        return true;
    tt_linear f = {0};
    cg_linear(c, e, &f);
    bool ok = !f.bad;
    for (int i = 0; ok && i < f.n; i++) {
        if (f.t[i].atom == var)
            ok = !__builtin_add_overflow(*stride, f.t[i].coef, stride);
        else
            ok = !tt_expr_uses_var(f.t[i].atom, var);
    }
    tt_linear_free(&f);
    return ok;
}

/* Loop variables are never negative, so floor division by a positive constant is unsigned. */
static bool nonneg(const tt_expr *e)
{
    int64_t v;
    switch (e->kind) {
    case TT_EXPR_INT:
        return e->ival >= 0;
    case TT_EXPR_VAR:
        return true;
    case TT_EXPR_ADD:
    case TT_EXPR_MUL:
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        return nonneg(e->args[0]) && nonneg(e->args[1]);
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
        return nonneg(e->args[0]) && tt_expr_is_const(e->args[1], &v) && v > 0;
    case TT_EXPR_CAST:
        return tt_dtype_is_int(e->dtype) && tt_dtype_is_int(e->args[0]->dtype) &&
               e->dtype.bits >= e->args[0]->dtype.bits && nonneg(e->args[0]);
    default:
        return false;
    }
}

/* A number the value of integer e is known to be a multiple of (0: e is 0). */
static int64_t known_multiple(const cg *c, const tt_expr *e)
{
    int64_t v, a, b;
    if (cg_known_int(c, e, &v))
        return v < 0 ? -v : v;
    switch (e->kind) {
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
        a = known_multiple(c, e->args[0]);
        b = known_multiple(c, e->args[1]);
        while (b) {
            int64_t t = a % b;
            a = b;
            b = t;
        }
        return a;
    case TT_EXPR_MUL:
        a = known_multiple(c, e->args[0]);
        b = known_multiple(c, e->args[1]);
        if (a == 0 || b == 0)
            return 0;
        return (a > (1 << 20) || b > (1 << 20)) ? (1 << 20) : a * b;
    default:
        return 1;
    }
}

/* The range of a variable over every lane and every iteration of the enclosing loops. */
static bool var_bounds(const void *ctx, const tt_expr *var, tt_interval *out)
{
    const cg *c = ctx;
    int64_t v;
    if (cg_known_int(c, var, &v)) {
        *out = (tt_interval){v, v};
        return true;
    }
    if (var == c->vec_var) {
        *out = (tt_interval){c->vec_base, c->vec_base + c->lanes - 1};
        return true;
    }
    const cg_binding *b = cg_find(c, var);
    if (!b || b->extent <= 0)
        return false;
    *out = (tt_interval){0, b->extent - 1};
    return true;
}

/* Every lane's index lies inside buffer b, whatever the mask says. */
static bool in_bounds(const cg *c, const tt_buffer *b, const tt_expr *index)
{
    tt_interval r;
    return tt_expr_interval(index, var_bounds, c, &r) && r.lo >= 0 && r.hi < b->numel;
}

/* ---- arithmetic ---- */

static bool is_float(LLVMValueRef v)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
        t = LLVMGetElementType(t);
    return LLVMGetTypeKind(t) == LLVMFloatTypeKind || LLVMGetTypeKind(t) == LLVMDoubleTypeKind;
}

/* Floating-point ops may be contracted (a*b+c -> fma), nothing more. */
static LLVMValueRef contract(LLVMValueRef v)
{
    if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
        LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
    return v;
}

/* Floor division and modulo of signed integers (round toward -inf; remainder has the sign of the
 * divisor), from truncating sdiv/srem plus a correction when the signs differ. */
static LLVMValueRef floor_divmod(cg *c, const tt_expr *e, LLVMValueRef a, LLVMValueRef b)
{
    LLVMBuilderRef B = c->b;
    int64_t k;
    bool div = e->kind == TT_EXPR_DIV;
    if (nonneg(e->args[0]) && tt_expr_is_const(e->args[1], &k) && k > 0)
        return div ? LLVMBuildUDiv(B, a, b, "") : LLVMBuildURem(B, a, b, "");
    LLVMValueRef zero = const_like(c, a, 0, 0);
    LLVMValueRef r = LLVMBuildSRem(B, a, b, "");
    LLVMValueRef signs = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildXor(B, r, b, ""), zero, "");
    LLVMValueRef fix = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntNE, r, zero, ""), signs, "");
    if (div) {
        LLVMValueRef q = LLVMBuildSDiv(B, a, b, "");
        return LLVMBuildSub(B, q, LLVMBuildZExt(B, fix, LLVMTypeOf(q), ""), "");
    }
    return LLVMBuildSelect(B, fix, LLVMBuildAdd(B, r, b, ""), r, "");
}

static LLVMValueRef compare(cg *c, tt_expr_kind k, LLVMValueRef a, LLVMValueRef b, bool is_signed)
{
    if (is_float(a)) {
        static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                               LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
        return LLVMBuildFCmp(c->b, fp[k - TT_EXPR_EQ], a, b, "");
    }
    static const LLVMIntPredicate si[] = {LLVMIntEQ,  LLVMIntNE,  LLVMIntSLT,
                                          LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
    static const LLVMIntPredicate ui[] = {LLVMIntEQ,  LLVMIntNE,  LLVMIntULT,
                                          LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
    return LLVMBuildICmp(c->b, is_signed ? si[k - TT_EXPR_EQ] : ui[k - TT_EXPR_EQ], a, b, "");
}

static int binary(cg *c, const tt_expr *e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *out)
{
    LLVMBuilderRef B = c->b;
    unify(c, &a, &b);
    bool fl = is_float(a);
    bool sgn = e->args[0]->dtype.code != kDLUInt;
    switch (e->kind) {
    case TT_EXPR_ADD:
        *out = fl ? contract(LLVMBuildFAdd(B, a, b, "")) : LLVMBuildNSWAdd(B, a, b, "");
        break;
    case TT_EXPR_SUB:
        *out = fl ? contract(LLVMBuildFSub(B, a, b, "")) : LLVMBuildNSWSub(B, a, b, "");
        break;
    case TT_EXPR_MUL:
        *out = fl ? contract(LLVMBuildFMul(B, a, b, "")) : LLVMBuildNSWMul(B, a, b, "");
        break;
    case TT_EXPR_DIV:
        if (fl)
            *out = contract(LLVMBuildFDiv(B, a, b, ""));
        else
            *out = sgn ? floor_divmod(c, e, a, b) : LLVMBuildUDiv(B, a, b, "");
        break;
    case TT_EXPR_MOD:
        *out = sgn ? floor_divmod(c, e, a, b) : LLVMBuildURem(B, a, b, "");
        break;
    case TT_EXPR_MIN:
    case TT_EXPR_MAX: {
        /* select(a < b) rather than minnum: maps to one minps/vmin and keeps NaN handling simple */
        LLVMValueRef lt = compare(c, e->kind == TT_EXPR_MIN ? TT_EXPR_LT : TT_EXPR_GT, a, b, sgn);
        *out = LLVMBuildSelect(B, lt, a, b, "");
        break;
    }
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
        *out = compare(c, e->kind, a, b, sgn);
        break;
    case TT_EXPR_AND:
        *out = LLVMBuildAnd(B, a, b, "");
        break;
    case TT_EXPR_OR:
        *out = LLVMBuildOr(B, a, b, "");
        break;
    default:
        return tt_error_set("kernel %s: %s is not a binary operator", c->kernel->name,
                            tt_expr_kind_name(e->kind));
    }
    return 0;
}

static int cast(cg *c, const tt_expr *e, LLVMValueRef a, LLVMValueRef *out)
{
    DLDataType from = e->args[0]->dtype, to = e->dtype;
    LLVMTypeRef st = cg_type(c, to);
    if (!st)
        return tt_error_set("kernel %s: cast to unsupported dtype", c->kernel->name);
    LLVMTypeRef t = cg_is_vector(a) ? LLVMVectorType(st, (unsigned)c->lanes) : st;
    LLVMBuilderRef B = c->b;
    bool ff = tt_dtype_is_float(from), tf = tt_dtype_is_float(to);
    bool fbool = tt_dtype_eq(from, TT_DT_BOOL), tbool = tt_dtype_eq(to, TT_DT_BOOL);
    if (tt_dtype_eq(from, to))
        *out = a;
    else if (tbool)
        *out = ff ? LLVMBuildFCmp(B, LLVMRealUNE, a, const_like(c, a, 0, 0), "")
                  : LLVMBuildICmp(B, LLVMIntNE, a, const_like(c, a, 0, 0), "");
    else if (ff && tf)
        *out = LLVMBuildFPCast(B, a, t, "");
    else if (ff)
        *out = to.code == kDLUInt ? LLVMBuildFPToUI(B, a, t, "") : LLVMBuildFPToSI(B, a, t, "");
    else if (tf)
        *out = (fbool || from.code == kDLUInt) ? LLVMBuildUIToFP(B, a, t, "")
                                               : LLVMBuildSIToFP(B, a, t, "");
    else
        *out = LLVMBuildIntCast2(B, a, t, !fbool && from.code != kDLUInt, "");
    return 0;
}

/* tanh has no LLVM intrinsic: a libm call, lane by lane in vectors. */
static LLVMValueRef libm_call(cg *c, const char *fname, LLVMValueRef a)
{
    bool vec = cg_is_vector(a);
    LLVMTypeRef et = vec ? LLVMGetElementType(LLVMTypeOf(a)) : LLVMTypeOf(a);
    char name[32];
    snprintf(name, sizeof name, "%s%s", fname, et == c->f32 ? "f" : "");
    LLVMTypeRef fty = LLVMFunctionType(et, &et, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    if (!fn) {
        fn = LLVMAddFunction(c->mod, name, fty);
        LLVMAddAttributeAtIndex(
            fn, LLVMAttributeFunctionIndex,
            LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    }
    if (!vec)
        return LLVMBuildCall2(c->b, fty, fn, &a, 1, "");
    LLVMValueRef r = LLVMGetPoison(LLVMTypeOf(a));
    for (int i = 0; i < c->lanes; i++) {
        LLVMValueRef idx = LLVMConstInt(c->i32, (unsigned long long)i, 0);
        LLVMValueRef x = LLVMBuildExtractElement(c->b, a, idx, "");
        r = LLVMBuildInsertElement(c->b, r, LLVMBuildCall2(c->b, fty, fn, &x, 1, ""), idx, "");
    }
    return r;
}

static int call(cg *c, const tt_expr *e, LLVMValueRef *out)
{
    static const char *const names[] = {"exp", "sqrt", "log", "fabs", "tanh"};
    static const char *const intrinsics[] = {"llvm.exp", "llvm.sqrt", "llvm.log", "llvm.fabs",
                                             NULL};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(e->name, names[i]) == 0)
            which = i;
    if (which < 0)
        return tt_error_set("kernel %s: unknown function \"%s\" (expected exp, sqrt, log, tanh or "
                            "fabs)",
                            c->kernel->name, e->name);
    if (e->nargs != 1 || !tt_dtype_is_float(e->dtype) || !tt_dtype_eq(e->dtype, e->args[0]->dtype))
        return tt_error_set("kernel %s: %s expects one floating-point argument of its own dtype",
                            c->kernel->name, e->name);
    LLVMValueRef a;
    if (cg_expr(c, e->args[0], &a) != 0)
        return -1;
    if (!intrinsics[which]) {
        *out = libm_call(c, names[which], a);
        return 0;
    }
    LLVMTypeRef t = LLVMTypeOf(a);
    *out = contract(cg_intrinsic(c, intrinsics[which], &t, 1, &a, 1));
    return 0;
}

/* ---- loads and stores ---- */

/* How an access buffer[index] is emitted inside a vectorized loop. */
typedef struct {
    LLVMValueRef ptr;  /* scalar address of lane 0 (contiguous, uniform) */
    LLVMValueRef ptrs; /* vector of addresses (gather/scatter) */
    unsigned align;
    int64_t stride;
    bool affine;
} access;

/* Whether any lane of mask m is on (m itself when it is one scalar condition). */
static LLVMValueRef any_lane(cg *c, LLVMValueRef m)
{
    if (!cg_is_vector(m))
        return m;
    LLVMTypeRef mt = LLVMTypeOf(m);
    return cg_intrinsic(c, "llvm.vector.reduce.or", &mt, 1, &m, 1);
}

/* The address of buffer[index]. With guard set, a scalar access (no lanes, or every lane at one
 * address) reads element 0 instead when c->mask has no lane on: index' = select(on, index, 0)
 * keeps the load in its buffer, branch-free, and the masked-off value is never used. */
static int address(cg *c, tt_buffer *buf, const tt_expr *index, bool guard, access *a)
{
    LLVMValueRef base = cg_lookup(c, buf);
    if (!base)
        return tt_error_set("kernel %s: buffer %s is used outside its allocation (not a parameter "
                            "or an enclosing ALLOC)",
                            c->kernel->name, buf->name);
    LLVMTypeRef mt = cg_mem_type(c, buf->dtype);
    if (!mt)
        return tt_error_set("kernel %s: buffer %s has an unsupported dtype", c->kernel->name,
                            buf->name);
    if (!tt_dtype_is_int(index->dtype))
        return tt_error_set("kernel %s: index into %s must be an integer", c->kernel->name,
                            buf->name);
    memset(a, 0, sizeof *a);
    unsigned esize = (unsigned)(buf->dtype.bits == 1 ? 1 : buf->dtype.bits / 8);
    a->affine = !c->lanes || cg_affine(c, index, c->vec_var, &a->stride);
    LLVMValueRef idx;
    if (c->lanes && a->affine) {
        /* lane 0's index: the vector variable is the chunk's base there */
        if (cg_bind(c, c->vec_var, LLVMConstInt(c->i64, (unsigned long long)c->vec_base, 0)) != 0)
            return -1;
        int64_t m = known_multiple(c, index);
        int rc = cg_expr(c, index, &idx);
        cg_unbind(c, 1);
        if (rc != 0)
            return -1;
        unsigned align = 64;
        if (m != 0)
            while (align > esize && (int64_t)(m * esize) % align != 0)
                align /= 2;
        a->align = align;
    } else {
        a->align = esize;
        if (cg_expr(c, index, &idx) != 0)
            return -1;
        if (c->lanes && !cg_is_vector(idx))
            a->affine = true, a->stride = 0; /* varies in form only, e.g. min(v, 0) */
    }
    idx = LLVMBuildIntCast2(c->b, idx,
                            cg_is_vector(idx) ? LLVMVectorType(c->i64, (unsigned)c->lanes) : c->i64,
                            index->dtype.code != kDLUInt, "");
    if (guard && c->mask && !cg_is_vector(idx) && (!c->lanes || (a->affine && a->stride == 0)))
        idx = LLVMBuildSelect(c->b, any_lane(c, c->mask), idx, LLVMConstInt(c->i64, 0, 0), "");
    if (c->lanes && a->affine && a->stride != 0 && a->stride != 1) {
        /* lane i's index: lane 0's plus stride * i */
        LLVMValueRef *steps = malloc((size_t)c->lanes * sizeof *steps);
        if (!steps)
            return tt_error_set("out of memory");
        for (int i = 0; i < c->lanes; i++)
            steps[i] = LLVMConstInt(c->i64, (unsigned long long)(a->stride * i), 1);
        LLVMValueRef step = LLVMConstVector(steps, (unsigned)c->lanes);
        free(steps);
        idx = LLVMBuildNSWAdd(c->b, cg_splat(c, idx), step, "");
    }
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, mt, base, &idx, 1, "");
    if (cg_is_vector(p))
        a->ptrs = p;
    else
        a->ptr = p;
    return 0;
}

/* The all-lanes-on mask when c->mask is NULL. */
static LLVMValueRef lane_mask(cg *c)
{
    if (c->mask)
        return c->mask;
    LLVMValueRef t = LLVMConstInt(c->i1, 1, 0);
    return cg_splat(c, t);
}

static int load(cg *c, const tt_expr *e, LLVMValueRef *out)
{
    /* A load every lane may do (in bounds) needs no mask: inactive lanes' values are unused. */
    bool safe = c->mask && in_bounds(c, e->buffer, e->args[0]);
    access a;
    if (address(c, e->buffer, e->args[0], !safe, &a) != 0)
        return -1;
    LLVMTypeRef mt = cg_mem_type(c, e->buffer->dtype);
    LLVMValueRef v;
    if (a.ptr && (!c->lanes || a.stride == 0)) {
        v = LLVMBuildLoad2(c->b, mt, a.ptr, "");
        LLVMSetAlignment(v, a.align);
    } else {
        LLVMTypeRef vt = LLVMVectorType(mt, (unsigned)c->lanes);
        if (a.ptr && (!c->mask || safe)) {
            v = LLVMBuildLoad2(c->b, vt, a.ptr, "");
            LLVMSetAlignment(v, a.align);
        } else {
            LLVMValueRef args[4] = {a.ptr ? a.ptr : a.ptrs, LLVMConstInt(c->i32, a.align, 0),
                                    lane_mask(c), LLVMConstNull(vt)};
            LLVMTypeRef types[2] = {vt, LLVMTypeOf(args[0])};
            v = cg_intrinsic(c, a.ptr ? "llvm.masked.load" : "llvm.masked.gather", types, 2, args,
                             4);
        }
    }
    if (tt_dtype_eq(e->buffer->dtype, TT_DT_BOOL))
        v = LLVMBuildICmp(c->b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
    *out = v;
    return 0;
}

int cg_store(cg *c, const tt_stmt *s)
{
    LLVMValueRef v;
    access a;
    if (cg_expr(c, s->value, &v) != 0 || address(c, s->buffer, s->index, false, &a) != 0)
        return -1;
    LLVMTypeRef mt = cg_mem_type(c, s->buffer->dtype);
    if (tt_dtype_eq(s->buffer->dtype, TT_DT_BOOL))
        v = LLVMBuildZExt(c->b, v, cg_is_vector(v) ? LLVMVectorType(mt, (unsigned)c->lanes) : mt,
                          "");
    if (!c->lanes || (a.ptr && a.stride == 0 && !cg_is_vector(v) && !c->mask)) {
        LLVMSetAlignment(LLVMBuildStore(c->b, v, a.ptr), a.align);
        return 0;
    }
    v = cg_splat(c, v);
    /* A masked store into a buffer of this function's own (an accumulator tile) becomes
     * load-blend-store, which SROA can keep in registers; elsewhere it could race. */
    const cg_binding *owner = cg_find(c, s->buffer);
    bool blended = false;
    if (a.ptr && a.stride == 1 && c->mask && owner && owner->owned &&
        in_bounds(c, s->buffer, s->index)) {
        blended = true;
        LLVMValueRef old = LLVMBuildLoad2(c->b, LLVMTypeOf(v), a.ptr, "");
        LLVMSetAlignment(old, a.align);
        v = LLVMBuildSelect(c->b, c->mask, v, old, "");
    }
    if (a.ptr && a.stride == 1 && (!c->mask || blended)) {
        LLVMSetAlignment(LLVMBuildStore(c->b, v, a.ptr), a.align);
        return 0;
    }
    /* Scatter orders lanes that hit one address from first to last, as the scalar loop would. */
    LLVMValueRef ptrs = a.ptrs ? a.ptrs : a.stride == 0 ? cg_splat(c, a.ptr) : NULL;
    LLVMValueRef args[4] = {v, ptrs ? ptrs : a.ptr, LLVMConstInt(c->i32, a.align, 0), lane_mask(c)};
    LLVMTypeRef types[2] = {LLVMTypeOf(v), LLVMTypeOf(args[1])};
    cg_intrinsic(c, ptrs ? "llvm.masked.scatter" : "llvm.masked.store", types, 2, args, 4);
    return 0;
}

/* ---- expressions ---- */

/* c->mask narrowed to the lanes where cond (scalar or vector) is on. */
static LLVMValueRef narrow_mask(cg *c, LLVMValueRef cond)
{
    if (c->lanes)
        cond = cg_splat(c, cond);
    return c->mask ? LLVMBuildAnd(c->b, c->mask, cond, "") : cond;
}

/* select(cond, a, b) is branch-free, so both arms run; each arm's loads run under the mask of
 * the lanes that use them (cond, not cond), which load() honours with masked loads, masked
 * gathers or an index clamped to element 0: a padded read never leaves its buffer when its
 * guard is off, whatever the target masks in hardware. Outside vector loops the mask is one i1. */
static int select_expr(cg *c, const tt_expr *e, LLVMValueRef *out)
{
    LLVMValueRef x, a, b;
    if (cg_expr(c, e->args[0], &x) != 0)
        return -1;
    LLVMValueRef saved = c->mask;
    c->mask = tt_expr_loads(e->args[1]) ? narrow_mask(c, x) : saved;
    int rc = cg_expr(c, e->args[1], &a);
    c->mask = tt_expr_loads(e->args[2]) ? narrow_mask(c, LLVMBuildNot(c->b, x, "")) : saved;
    if (rc == 0)
        rc = cg_expr(c, e->args[2], &b);
    c->mask = saved;
    if (rc != 0)
        return -1;
    unify(c, &a, &b);
    if (cg_is_vector(x))
        unify(c, &a, &x), unify(c, &b, &x);
    *out = LLVMBuildSelect(c->b, x, a, b, "");
    return 0;
}

int cg_expr(cg *c, const tt_expr *e, LLVMValueRef *out)
{
    LLVMValueRef a, b;
    LLVMTypeRef t;
    switch (e->kind) {
    case TT_EXPR_INT:
    case TT_EXPR_FLOAT:
        if (!(t = cg_type(c, e->dtype)))
            return tt_error_set("kernel %s: constant of unsupported dtype", c->kernel->name);
        if (tt_dtype_is_float(e->dtype))
            *out = LLVMConstReal(t, e->kind == TT_EXPR_FLOAT ? e->fval : (double)e->ival);
        else if (e->kind == TT_EXPR_FLOAT && !(fabs(e->fval) < 9.2e18))
            return tt_error_set("kernel %s: constant %g does not fit %s", c->kernel->name, e->fval,
                                tt_dtype_name(e->dtype) ? tt_dtype_name(e->dtype) : "?");
        else
            *out = LLVMConstInt(
                t, (unsigned long long)(e->kind == TT_EXPR_FLOAT ? (int64_t)e->fval : e->ival), 1);
        return 0;
    case TT_EXPR_VAR:
        if (!(*out = cg_lookup(c, e)))
            return tt_error_set("kernel %s: variable %s is used outside the loop that defines it",
                                c->kernel->name, e->name ? e->name : "?");
        return 0;
    case TT_EXPR_NOT:
        if (cg_expr(c, e->args[0], &a) != 0)
            return -1;
        *out = LLVMBuildNot(c->b, a, "");
        return 0;
    case TT_EXPR_SELECT:
        return select_expr(c, e, out);
    case TT_EXPR_CALL:
        return call(c, e, out);
    case TT_EXPR_CAST:
        if (cg_expr(c, e->args[0], &a) != 0)
            return -1;
        return cast(c, e, a, out);
    case TT_EXPR_LOAD:
        return load(c, e, out);
    case TT_EXPR_ACCESS:
    case TT_EXPR_REDUCE:
        return tt_error_set("kernel %s: %s node in loop IR (lowering must replace it)",
                            c->kernel->name, tt_expr_kind_name(e->kind));
    default:
        if (e->kind < TT_EXPR_ADD || e->kind > TT_EXPR_OR || e->nargs != 2)
            return tt_error_set("kernel %s: unknown expression kind %d", c->kernel->name,
                                (int)e->kind);
        if (cg_expr(c, e->args[0], &a) != 0 || cg_expr(c, e->args[1], &b) != 0)
            return -1;
        return binary(c, e, a, b, out);
    }
}
