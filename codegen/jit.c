/* Host kernels through ORC LLJIT as a runtime Module of format "jit": get_function hands out the
 * JIT'd __tt_packed_NAME wrappers as PackedFuncs; tt_codegen_jit_lookup gives the raw C entry
 * points to the tuner and benchmarks. tt_backend_* and tt_error_set resolve in this process. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "codegen/codegen_internal.h"
#include "tt/backend.h"

typedef struct {
    atomic_int refs; /* the module and each PackedFunc it handed out */
    LLVMOrcLLJITRef jit;
    int n;
    char **names;
    void **entries;          /* C entry points */
    tt_packed_cfunc *packed; /* __tt_packed_ wrappers */
} jit_module;

static void release(jit_module *m)
{
    if (atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->jit) {
        LLVMErrorRef err = LLVMOrcDisposeLLJIT(m->jit);
        if (err)
            LLVMConsumeError(err);
    }
    for (int i = 0; i < m->n; i++)
        free(m->names[i]);
    free(m->names);
    free(m->entries);
    free(m->packed);
    free(m);
}

static void release_func(void *self)
{
    release(self);
}

static int find(const jit_module *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->names[i], name) == 0)
            return i;
    return -1;
}

static int get_function(void *self, const char *name, tt_func *out)
{
    jit_module *m = self;
    *out = NULL;
    int i = find(m, name);
    if (i < 0)
        return 0;
    /* The generated wrapper ignores resource; it is here to keep the JIT's code alive. */
    atomic_fetch_add(&m->refs, 1);
    if (tt_func_create(m->packed[i], m, release_func, out) != 0) {
        release(m);
        return -1;
    }
    return 0;
}

static void module_free(void *self)
{
    release(self);
}

static const tt_module_vtable jit_vtable = {"jit", get_function, module_free};

static int orc_error(LLVMErrorRef err, const char *what)
{
    char *msg = LLVMGetErrorMessage(err);
    int rc = tt_error_set("codegen jit: %s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return rc;
}

/* Binds what generated code calls to this library's own runtime: found by address, it works
 * even where libtt_runtime was loaded RTLD_LOCAL (Python's ctypes) and dlsym cannot see it. */
static int define_runtime(LLVMOrcLLJITRef jit)
{
    struct {
        const char *name;
        uintptr_t addr;
    } syms[] = {
        {"tt_backend_parallel_for", (uintptr_t)&tt_backend_parallel_for},
        {"tt_backend_alloc_workspace", (uintptr_t)&tt_backend_alloc_workspace},
        {"tt_backend_free_workspace", (uintptr_t)&tt_backend_free_workspace},
        {"tt_error_set", (uintptr_t)&tt_error_set},
    };
    enum { N = sizeof syms / sizeof syms[0] };
    LLVMOrcCSymbolMapPair pairs[N];
    for (int i = 0; i < N; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, syms[i].name);
        pairs[i].Sym.Address = syms[i].addr;
        pairs[i].Sym.Flags.GenericFlags =
            LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, N);
    LLVMErrorRef err = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(jit), mu);
    if (err) {
        LLVMOrcDisposeMaterializationUnit(mu);
        return orc_error(err, "defining the runtime's symbols");
    }
    return 0;
}

/* Makes an LLJIT for tm (consumed) that resolves undefined symbols in this process. */
static int make_jit(LLVMTargetMachineRef tm, LLVMOrcLLJITRef *out)
{
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    LLVMErrorRef err = LLVMOrcCreateLLJIT(out, builder);
    if (err)
        return orc_error(err, "creating LLJIT");
    LLVMOrcDefinitionGeneratorRef gen;
    err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(*out), NULL, NULL);
    if (err) {
        LLVMErrorRef e2 = LLVMOrcDisposeLLJIT(*out);
        if (e2)
            LLVMConsumeError(e2);
        *out = NULL;
        return orc_error(err, "searching this process's symbols");
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(*out), gen);
    return define_runtime(*out);
}

/* Compiles (lookups materialise the module) and records every kernel's two entry points. */
static int resolve(jit_module *m, tt_kernel *const *kernels, int n)
{
    m->names = calloc((size_t)n, sizeof *m->names);
    m->entries = calloc((size_t)n, sizeof *m->entries);
    m->packed = calloc((size_t)n, sizeof *m->packed);
    if (!m->names || !m->entries || !m->packed)
        return tt_error_set("out of memory");
    for (int i = 0; i < n; i++) {
        const char *name = kernels[i]->name;
        if (!(m->names[i] = strdup(name)))
            return tt_error_set("out of memory");
        m->n = i + 1;
        char packed[300];
        snprintf(packed, sizeof packed, "%s%s", TT_PACKED_PREFIX, name);
        LLVMOrcExecutorAddress a, p;
        LLVMErrorRef err = LLVMOrcLLJITLookup(m->jit, &a, name);
        if (!err)
            err = LLVMOrcLLJITLookup(m->jit, &p, packed);
        if (err)
            return orc_error(err, name);
        m->entries[i] = (void *)(uintptr_t)a;
        m->packed[i] = (tt_packed_cfunc)(uintptr_t)p;
    }
    return 0;
}

int tt_codegen_jit(tt_kernel *const *kernels, int n, const tt_target *t, tt_module *out)
{
    *out = NULL;
    if (!t)
        return tt_error_set("codegen jit: NULL target");
    if (!tt_target_is_host(t))
        return tt_error_set("codegen jit: target \"%s\" is not this host; emit an object or a "
                            "shared library for it instead",
                            tt_target_str(t));
    tt_codegen_init_llvm();
    double t0 = tt_codegen_now_ms();
    tt_codegen_stats st = {0};
    LLVMTargetMachineRef tm;
    if (tt_target_machine(t, &tm) != 0)
        return -1;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef mod;
    if (tt_codegen_build(kernels, n, t, LLVMOrcThreadSafeContextGetContext(tsc), tm, &mod, &st) !=
        0) {
        LLVMDisposeTargetMachine(tm);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return -1;
    }
    double t1 = tt_codegen_now_ms();
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps the context alive */
    jit_module *m = calloc(1, sizeof *m);
    if (!m) {
        LLVMDisposeTargetMachine(tm);
        LLVMOrcDisposeThreadSafeModule(tsm);
        return tt_error_set("out of memory");
    }
    atomic_init(&m->refs, 1);
    if (make_jit(tm, &m->jit) != 0) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        release(m);
        return -1;
    }
    LLVMErrorRef err =
        LLVMOrcLLJITAddLLVMIRModule(m->jit, LLVMOrcLLJITGetMainJITDylib(m->jit), tsm);
    if (err) {
        orc_error(err, "adding the module");
        release(m);
        return -1;
    }
    if (resolve(m, kernels, n) != 0 || tt_codegen_check_diag("codegen jit: LLVM") != 0 ||
        tt_mod_create(&jit_vtable, m, out) != 0) {
        release(m);
        return -1;
    }
    double t2 = tt_codegen_now_ms();
    st.codegen_ms = t2 - t1;
    st.total_ms = t2 - t0;
    tt_codegen_set_stats(&st);
    return 0;
}

void *tt_codegen_jit_lookup(tt_module m, const char *name)
{
    jit_module *self = m ? tt_mod_self(m, &jit_vtable) : NULL;
    if (!self) {
        tt_error_set("tt_codegen_jit_lookup: module is not a JIT module made by tt_codegen_jit");
        return NULL;
    }
    int i = find(self, name);
    if (i < 0) {
        tt_error_set("tt_codegen_jit_lookup: the module has no kernel named \"%s\"", name);
        return NULL;
    }
    return self->entries[i];
}
