/* Target strings ("llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72") -> LLVM triple, CPU and
 * features, the canonical string logs use, the vector width the search space tiles for, and
 * target machines for codegen. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Target.h>

#include "codegen/codegen_internal.h"

struct tt_target {
    char *str;    /* canonical */
    char *triple; /* normalised, for LLVM */
    char *cpu;
    char *features; /* "" or "+a,-b,..." */
    int vector_bits;
    int vector_regs;
    bool host;
};

static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;

static void init_llvm(void)
{
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    LLVMInitializeAllAsmParsers();
}

void tt_codegen_init_llvm(void)
{
    pthread_once(&llvm_once, init_llvm);
}

double tt_codegen_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static _Thread_local char diag_error[512];

static void on_diagnostic(LLVMDiagnosticInfoRef info, void *unused)
{
    if (LLVMGetDiagInfoSeverity(info) != LLVMDSError || diag_error[0])
        return;
    char *msg = LLVMGetDiagInfoDescription(info);
    snprintf(diag_error, sizeof diag_error, "%s", msg ? msg : "unknown LLVM error");
    LLVMDisposeMessage(msg);
}

void tt_codegen_watch(LLVMContextRef ctx)
{
    diag_error[0] = 0;
    LLVMContextSetDiagnosticHandler(ctx, on_diagnostic, NULL);
}

int tt_codegen_check_diag(const char *what)
{
    if (!diag_error[0])
        return 0;
    int rc = tt_error_set("%s: %s", what, diag_error);
    diag_error[0] = 0;
    return rc;
}

static _Thread_local tt_codegen_stats last_stats;
void tt_codegen_set_stats(const tt_codegen_stats *st)
{
    last_stats = *st;
}
tt_codegen_stats tt_codegen_last_stats(void)
{
    return last_stats;
}

/* Component i (0 arch, 1 vendor, 2 os, 3 environment) of a normalised triple, into buf. */
static const char *triple_part(const char *triple, int i, char *buf, size_t size)
{
    const char *p = triple;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, '-');
        if (p)
            p++;
    }
    if (!p) {
        buf[0] = 0;
        return buf;
    }
    size_t n = strcspn(p, "-");
    if (n >= size)
        n = size - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

/* "x86_64-pc-linux-gnu" -> "x86_64-linux-gnu": the vendor says nothing about the code, and
 * dropping it keeps the canonical string equal across distributions. */
static char *canonical_triple(const char *norm)
{
    char vendor[64];
    triple_part(norm, 1, vendor, sizeof vendor);
    if (strcmp(vendor, "unknown") != 0 && strcmp(vendor, "pc") != 0)
        return strdup(norm);
    const char *rest = strchr(norm, '-');
    rest = rest ? strchr(rest + 1, '-') : NULL;
    char arch[64];
    triple_part(norm, 0, arch, sizeof arch);
    size_t size = strlen(norm) + 1;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%s%s", arch, rest ? rest : "");
    return out;
}

static bool word_in(const char *name, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* x86 CPUs whose widest vector unit LLVM's default features enable (no C API exposes this). */
static int x86_cpu_bits(const char *cpu)
{
    static const char *const b512[] = {"skylake-avx512",
                                       "cascadelake",
                                       "cooperlake",
                                       "cannonlake",
                                       "icelake-client",
                                       "icelake-server",
                                       "tigerlake",
                                       "rocketlake",
                                       "sapphirerapids",
                                       "emeraldrapids",
                                       "graniterapids",
                                       "graniterapids-d",
                                       "knl",
                                       "knm",
                                       "znver4",
                                       "znver5",
                                       "x86-64-v4",
                                       NULL};
    static const char *const b256[] = {
        "haswell",      "broadwell",  "skylake",          "alderlake",   "raptorlake",
        "meteorlake",   "arrowlake",  "arrowlake-s",      "lunarlake",   "gracemont",
        "sierraforest", "grandridge", "clearwaterforest", "pantherlake", "znver1",
        "znver2",       "znver3",     "x86-64-v3",        "sandybridge", "ivybridge",
        "corei7-avx",   "core-avx-i", "core-avx2",        "bdver1",      "bdver2",
        "bdver3",       "bdver4",     "btver2",           NULL};
    if (word_in(cpu, b512))
        return 512;
    if (word_in(cpu, b256))
        return 256;
    return 128;
}

/* Applies a feature list ("+avx512f,-avx2,...") to an x86 vector width. */
static int x86_apply_features(int bits, const char *features)
{
    const char *p = features;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        char f[64];
        if (n < sizeof f) {
            memcpy(f, p, n);
            f[n] = 0;
            if (strcmp(f, "+avx512f") == 0)
                bits = 512;
            else if (strcmp(f, "-avx512f") == 0 && bits > 256)
                bits = 256;
            else if ((strcmp(f, "+avx") == 0 || strcmp(f, "+avx2") == 0) && bits < 256)
                bits = 256;
            else if (strcmp(f, "-avx") == 0)
                bits = 128;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return bits;
}

void tt_target_free(tt_target *t)
{
    if (!t)
        return;
    free(t->str);
    free(t->triple);
    free(t->cpu);
    free(t->features);
    free(t);
}

/* Stores the value of "-name=value" in *slot; -1 when repeated or empty. */
static int take_option(const char *s, const char *tok, const char *name, char **slot)
{
    const char *v = tok + strlen(name);
    if (*slot)
        return tt_error_set("target \"%s\": option %s given twice", s, name);
    if (!*v)
        return tt_error_set("target \"%s\": option %s needs a value", s, name);
    *slot = strdup(v);
    return *slot ? 0 : tt_error_set("out of memory");
}

/* Splits s into the -mtriple, -mcpu and -mattr values. */
static int split_options(const char *s, char **triple, char **cpu, char **mattr)
{
    char *copy = strdup(s);
    if (!copy)
        return tt_error_set("out of memory");
    int rc = 0, ntok = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok && rc == 0;
         tok = strtok_r(NULL, " \t", &save), ntok++) {
        if (ntok == 0) {
            if (strcmp(tok, "llvm") != 0)
                rc = tt_error_set("target \"%s\": expected \"llvm [-mtriple=T] [-mcpu=C] "
                                  "[-mattr=F]\", got kind \"%s\"",
                                  s, tok);
        } else if (strncmp(tok, "-mtriple=", 9) == 0) {
            rc = take_option(s, tok, "-mtriple=", triple);
        } else if (strncmp(tok, "-mcpu=", 6) == 0) {
            rc = take_option(s, tok, "-mcpu=", cpu);
        } else if (strncmp(tok, "-mattr=", 7) == 0) {
            rc = take_option(s, tok, "-mattr=", mattr);
        } else {
            rc = tt_error_set("target \"%s\": unknown option \"%s\" (expected -mtriple=, "
                              "-mcpu= or -mattr=)",
                              s, tok);
        }
    }
    free(copy);
    if (rc == 0 && ntok == 0)
        rc = tt_error_set("target \"\": expected \"llvm [-mtriple=T] [-mcpu=C] [-mattr=F]\"");
    return rc;
}

/* Fills triple, cpu, features, host, vector_bits and vector_regs of t from the parsed options. */
static int resolve(tt_target *t, const char *s, const char *triple_opt, const char *cpu_opt,
                   const char *mattr)
{
    char *host_triple = LLVMGetDefaultTargetTriple();
    char *host_norm = LLVMNormalizeTargetTriple(host_triple);
    LLVMDisposeMessage(host_triple);
    char *norm = LLVMNormalizeTargetTriple(triple_opt ? triple_opt : host_norm);
    int rc = 0;
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(norm, &target, &err)) {
        rc = tt_error_set("target \"%s\": LLVM knows no target for triple \"%s\" (%s)", s,
                          triple_opt ? triple_opt : norm, err ? err : "?");
        LLVMDisposeMessage(err);
        goto out;
    }
    char a[64], b[64], c[64], d[64];
    t->host = strcmp(triple_part(norm, 0, a, 64), triple_part(host_norm, 0, b, 64)) == 0 &&
              strcmp(triple_part(norm, 2, c, 64), triple_part(host_norm, 2, d, 64)) == 0;
    bool native = cpu_opt ? strcmp(cpu_opt, "native") == 0 : t->host;
    if (native && !t->host) {
        rc = tt_error_set("target \"%s\": -mcpu=native needs this host's triple, not \"%s\"", s,
                          norm);
        goto out;
    }
    char *host_cpu = t->host ? LLVMGetHostCPUName() : NULL;
    /* This host's own CPU name means this host's features: a virtual machine may lack some of
     * what the model has, and the canonical string must give back the code it named. */
    if (host_cpu && cpu_opt && strcmp(cpu_opt, host_cpu) == 0)
        native = true;
    char *host_features = native ? LLVMGetHostCPUFeatures() : NULL;
    t->triple = strdup(norm);
    t->cpu = strdup(native ? host_cpu : cpu_opt ? cpu_opt : "generic");
    size_t fsize = (host_features ? strlen(host_features) : 0) + (mattr ? strlen(mattr) : 0) + 2;
    t->features = malloc(fsize);
    if (t->features)
        snprintf(t->features, fsize, "%s%s%s", host_features ? host_features : "",
                 host_features && *host_features && mattr ? "," : "", mattr ? mattr : "");
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_features);
    if (!t->triple || !t->cpu || !t->features) {
        rc = tt_error_set("out of memory");
        goto out;
    }
    bool x86_64 = strcmp(a, "x86_64") == 0;
    if (x86_64 || strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0)
        t->vector_bits = x86_apply_features(native ? 128 : x86_cpu_bits(t->cpu), t->features);
    else
        t->vector_bits = 128; /* NEON, SSE-class and the fixed-width default of other ISAs */
    /* Architectural vector registers (Intel SDM vol. 1, 15.1: AVX-512 adds zmm16-31 in 64-bit
     * mode; 32-bit mode has 8; Arm ARM: AArch64 has v0-v31, AArch32 NEON q0-q15). Other ISAs:
     * 32, the count of RISC-V V and of POWER's VMX registers. */
    if (x86_64)
        t->vector_regs = t->vector_bits >= 512 ? 32 : 16;
    else if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0)
        t->vector_regs = 8;
    else if (strncmp(a, "arm", 3) == 0 || strncmp(a, "thumb", 5) == 0)
        t->vector_regs = 16;
    else
        t->vector_regs = 32;
    char *canon = canonical_triple(norm);
    size_t size = strlen(canon ? canon : "") + strlen(t->cpu) + (mattr ? strlen(mattr) : 0) + 40;
    t->str = malloc(size);
    if (!canon || !t->str) {
        free(canon);
        rc = tt_error_set("out of memory");
        goto out;
    }
    snprintf(t->str, size, "llvm -mtriple=%s -mcpu=%s%s%s", canon, t->cpu, mattr ? " -mattr=" : "",
             mattr ? mattr : "");
    free(canon);
out:
    LLVMDisposeMessage(norm);
    LLVMDisposeMessage(host_norm);
    return rc;
}

int tt_target_parse(const char *s, tt_target **out)
{
    *out = NULL;
    if (!s)
        return tt_error_set("target: NULL string");
    tt_codegen_init_llvm();
    char *triple = NULL, *cpu = NULL, *mattr = NULL;
    int rc = split_options(s, &triple, &cpu, &mattr);
    tt_target *t = NULL;
    if (rc == 0) {
        t = calloc(1, sizeof *t);
        rc = t ? resolve(t, s, triple, cpu, mattr) : tt_error_set("out of memory");
    }
    free(triple);
    free(cpu);
    free(mattr);
    if (rc != 0) {
        tt_target_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

const char *tt_target_str(const tt_target *t)
{
    return t->str;
}
const char *tt_target_triple(const tt_target *t)
{
    return t->triple;
}
const char *tt_target_cpu(const tt_target *t)
{
    return t->cpu;
}
const char *tt_target_features(const tt_target *t)
{
    return t->features;
}
int tt_target_vector_bits(const tt_target *t)
{
    return t->vector_bits;
}

int tt_target_vector_regs(const tt_target *t)
{
    return t->vector_regs;
}
bool tt_target_is_host(const tt_target *t)
{
    return t->host;
}

int tt_target_machine(const tt_target *t, LLVMTargetMachineRef *out)
{
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &target, &err)) {
        int rc = tt_error_set("target %s: %s", t->str, err ? err : "unknown triple");
        LLVMDisposeMessage(err);
        return rc;
    }
    *out = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features,
                                   LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!*out)
        return tt_error_set("target %s: LLVM could not make a target machine", t->str);
    return 0;
}
