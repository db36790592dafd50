/* What the files of codegen/ share: target machines (target.c), building and optimising an LLVM
 * module from kernels (llvm.c), and timing. Not part of the public API (codegen.h). */
#ifndef TT_CODEGEN_INTERNAL_H
#define TT_CODEGEN_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/codegen.h"

/* Initialises every LLVM target once (thread-safe). */
void tt_codegen_init_llvm(void);
/* The "-mattr" features LLVM gets ("" when none); valid while t lives. */
const char *tt_target_features(const tt_target *t);
/* A target machine for t: optimisation level Aggressive, PIC. Caller disposes. */
int tt_target_machine(const tt_target *t, LLVMTargetMachineRef *out);

/* Builds kernels into a new module of ctx for tm, verifies it and runs the O3 pipeline; fills
 * ir_ms and opt_ms of st. Caller disposes *out. */
int tt_codegen_build(tt_kernel *const *kernels, int n, const tt_target *t, LLVMContextRef ctx,
                     LLVMTargetMachineRef tm, LLVMModuleRef *out, tt_codegen_stats *st);

/* Routes ctx's diagnostics to this thread's record instead of stderr (and instead of LLVM's
 * exit(1) on errors): warnings and remarks are dropped, the first error is kept. */
void tt_codegen_watch(LLVMContextRef ctx);
/* -1 with "what: <LLVM's message>" when an error diagnostic was recorded since the watch began. */
int tt_codegen_check_diag(const char *what);

/* Monotonic clock in milliseconds. */
double tt_codegen_now_ms(void);
/* Records st as the last stats of this thread (tt_codegen_last_stats). */
void tt_codegen_set_stats(const tt_codegen_stats *st);

#endif
