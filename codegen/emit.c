/* Emission for any target: LLVM IR text, assembly, object files and shared libraries (the object
 * linked by ld.lld). A shared library loads back as a runtime Module (format "so"), locally or
 * on an RPC device.
 *
 * What a kernel library needs of the runtime (include/tt/backend.h, tt_error_set) it takes from
 * libtt_runtime.so.0, recorded as a dependency (DT_NEEDED) with the directory of the runtime that
 * this process uses as its RUNPATH: so a library built from the build tree loads with plain dlopen
 * from there, one built by an installed tvm-tune from the install prefix, and one copied to another
 * machine wherever that machine's loader finds libtt_runtime.so.0 (its library path, or the runtime
 * already loaded in the process, as in the RPC server). A library for another architecture cannot
 * link this machine's runtime; it records nothing and resolves those symbols against the runtime
 * of the process that loads it. docs/ARCHITECTURE.md, "Kernel libraries". */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen_internal.h"
#include "tt/backend.h"

#ifndef TT_LLD
#define TT_LLD "ld.lld-19"
#endif

extern char **environ;

static const char *kind_name(tt_emit_kind k)
{
    switch (k) {
    case TT_EMIT_LLVM:
        return "LLVM IR";
    case TT_EMIT_ASM:
        return "assembly";
    case TT_EMIT_OBJ:
        return "object";
    case TT_EMIT_SO:
        return "shared library";
    default:
        return "?";
    }
}

/* One compilation: context, target machine and optimised module, disposed together. */
typedef struct {
    LLVMContextRef ctx;
    LLVMTargetMachineRef tm;
    LLVMModuleRef mod;
    tt_codegen_stats st;
    double t0;
} build;

static void build_free(build *b)
{
    if (b->mod)
        LLVMDisposeModule(b->mod);
    if (b->tm)
        LLVMDisposeTargetMachine(b->tm);
    if (b->ctx)
        LLVMContextDispose(b->ctx);
}

static int build_new(tt_kernel *const *kernels, int n, const tt_target *t, build *b)
{
    memset(b, 0, sizeof *b);
    if (!t)
        return tt_error_set("codegen emit: NULL target");
    tt_codegen_init_llvm();
    b->t0 = tt_codegen_now_ms();
    if (tt_target_machine(t, &b->tm) != 0)
        return -1;
    b->ctx = LLVMContextCreate();
    if (tt_codegen_build(kernels, n, t, b->ctx, b->tm, &b->mod, &b->st) != 0) {
        build_free(b);
        return -1;
    }
    return 0;
}

static void build_done(build *b)
{
    double now = tt_codegen_now_ms();
    b->st.total_ms = now - b->t0;
    b->st.codegen_ms = b->st.total_ms - b->st.ir_ms - b->st.opt_ms;
    tt_codegen_set_stats(&b->st);
}

/* Machine code of b into a memory buffer. */
static int machine_code(build *b, LLVMCodeGenFileType type, LLVMMemoryBufferRef *out)
{
    char *err = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(b->tm, b->mod, type, &err, out)) {
        int rc = tt_error_set("codegen emit: LLVM failed to emit %s: %s",
                              type == LLVMObjectFile ? "an object" : "assembly", err ? err : "?");
        LLVMDisposeMessage(err);
        return rc;
    }
    if (tt_codegen_check_diag("codegen emit: LLVM") != 0) {
        LLVMDisposeMemoryBuffer(*out);
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return tt_error_set("codegen emit: cannot open %s for writing: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, size, f);
    int closed = fclose(f);
    if (w != size || closed != 0)
        return tt_error_set("codegen emit: cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The file of the libtt_runtime this process runs (it defines tt_backend_parallel_for), into
 * path; 0 when it cannot be told (then nothing is recorded). */
static int runtime_path(char path[PATH_MAX])
{
    Dl_info info;
    if (dladdr((void *)&tt_backend_parallel_for, &info) == 0 || info.dli_fname == NULL)
        return 0;
    return realpath(info.dli_fname, path) != NULL;
}

/* Runs `LINKER -shared -o so obj [runtime -rpath DIR]` and waits; *spawn_errno: why it could not
 * start (0 when it ran). The linker's messages go into the error on failure. A library for this
 * machine is linked by GNU ld when the build found it: its start costs 3 ms against lld's 20 ms
 * (lld relocates all of libLLVM at each start), a tenth of a tuning candidate's build. */
static int run_linker(const char *linker, bool lld, const char *obj, const char *so,
                      bool with_runtime, int *spawn_errno)
{
    *spawn_errno = 0;
    char log_path[] = "/tmp/tt-lld-XXXXXX";
    int log_fd = mkstemp(log_path);
    if (log_fd < 0)
        return tt_error_set("codegen emit: cannot make a temporary file: %s", strerror(errno));
    unlink(log_path);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    char *argv[13] = {(char *)linker, "-shared",  "--hash-style=gnu", "--enable-new-dtags",
                      "-o",           (char *)so, (char *)obj};
    int n = 7;
    if (lld) /* one thread: kernel objects are small; a thread pool costs more than it saves */
        argv[n++] = "--threads=1";
    char rt[PATH_MAX], dir[PATH_MAX];
    if (with_runtime && runtime_path(rt)) {
        strcpy(dir, rt);
        *strrchr(dir, '/') = 0;
        /* --no-as-needed: the dependency is the point, even if the kernels call nothing of it */
        argv[n++] = "--no-as-needed";
        argv[n++] = rt;
        argv[n++] = "-rpath";
        argv[n++] = dir;
    }
    pid_t pid;
    int rc = posix_spawn(&pid, linker, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        close(log_fd);
        *spawn_errno = rc;
        return tt_error_set("codegen emit: cannot run %s: %s", linker, strerror(rc));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        close(log_fd);
        return 0;
    }
    char msg[1024] = "";
    ssize_t got = pread(log_fd, msg, sizeof msg - 1, 0);
    msg[got > 0 ? got : 0] = 0;
    close(log_fd);
    return tt_error_set("codegen emit: linking %s failed (%s exited with status %d): %s", so,
                        linker, WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg);
}

/* A library for this machine: GNU ld if it is there (else lld); for another, lld (it links any
 * target). */
static int link_shared(const char *obj, const char *so, bool host)
{
    int spawn_errno = 0;
#ifdef TT_LD_HOST
    if (host) {
        int rc = run_linker(TT_LD_HOST, false, obj, so, true, &spawn_errno);
        if (rc == 0 || spawn_errno == 0)
            return rc;
    }
#endif
    return run_linker(TT_LLD, true, obj, so, host, &spawn_errno);
}

static int emit_so(build *b, const tt_target *t, const char *path)
{
    LLVMMemoryBufferRef buf;
    if (machine_code(b, LLVMObjectFile, &buf) != 0)
        return -1;
    char obj[] = "/tmp/tt-obj-XXXXXX";
    int fd = mkstemp(obj);
    int rc;
    if (fd < 0) {
        rc = tt_error_set("codegen emit: cannot make a temporary file: %s", strerror(errno));
    } else {
        close(fd);
        rc = write_file(obj, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
        if (rc == 0)
            rc = link_shared(obj, path, tt_target_is_host(t));
        unlink(obj);
    }
    LLVMDisposeMemoryBuffer(buf);
    return rc;
}

int tt_codegen_emit(tt_kernel *const *kernels, int n, const tt_target *t, tt_emit_kind kind,
                    const char *path)
{
    if (!path)
        return tt_error_set("codegen emit: NULL output path");
    if (kind < TT_EMIT_LLVM || kind > TT_EMIT_SO)
        return tt_error_set("codegen emit: unknown output kind %d", (int)kind);
    build b;
    if (build_new(kernels, n, t, &b) != 0)
        return -1;
    int rc = 0;
    if (kind == TT_EMIT_LLVM) {
        char *err = NULL;
        if (LLVMPrintModuleToFile(b.mod, path, &err))
            rc = tt_error_set("codegen emit: cannot write %s: %s", path, err ? err : "?");
        LLVMDisposeMessage(err);
    } else if (kind == TT_EMIT_SO) {
        rc = emit_so(&b, t, path);
    } else {
        LLVMMemoryBufferRef buf;
        rc = machine_code(&b, kind == TT_EMIT_OBJ ? LLVMObjectFile : LLVMAssemblyFile, &buf);
        if (rc == 0) {
            rc = write_file(path, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
            LLVMDisposeMemoryBuffer(buf);
        }
    }
    if (rc == 0)
        build_done(&b);
    build_free(&b);
    if (rc != 0)
        tt_error_wrap("%s for %s", kind_name(kind), tt_target_str(t));
    return rc;
}

int tt_codegen_emit_text(tt_kernel *const *kernels, int n, const tt_target *t, tt_emit_kind kind,
                         char **out)
{
    *out = NULL;
    if (kind != TT_EMIT_LLVM && kind != TT_EMIT_ASM)
        return tt_error_set("codegen emit: %s is not text (expected LLVM IR or assembly)",
                            kind_name(kind));
    build b;
    if (build_new(kernels, n, t, &b) != 0)
        return -1;
    int rc = 0;
    if (kind == TT_EMIT_LLVM) {
        char *s = LLVMPrintModuleToString(b.mod);
        *out = strdup(s);
        LLVMDisposeMessage(s);
    } else {
        LLVMMemoryBufferRef buf;
        rc = machine_code(&b, LLVMAssemblyFile, &buf);
        if (rc == 0) {
            size_t size = LLVMGetBufferSize(buf);
            if ((*out = malloc(size + 1))) {
                memcpy(*out, LLVMGetBufferStart(buf), size);
                (*out)[size] = 0;
            }
            LLVMDisposeMemoryBuffer(buf);
        }
    }
    if (rc == 0 && !*out)
        rc = tt_error_set("out of memory");
    if (rc == 0)
        build_done(&b);
    build_free(&b);
    return rc;
}
