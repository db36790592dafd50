/* `tvm-tune show`: what a schedule does to an op. Parses op.json, lowers each task under the
 * default or a given schedule, and prints the compute, the loop IR, C, LLVM IR or assembly. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/emit_c.h"
#include "ir/lower.h"
#include "ir/opjson.h"
#include "ir/printer.h"
#include "ir/schedule.h"
#include "runtime/text.h"
#include "tuner/cli.h"

static const char show_usage[] =
    "usage: tvm-tune show OP.json [--task NAME] [--steps FILE] [--emit KIND] [--target T]\n"
    "\n"
    "Prints what a schedule does to each task of OP.json.\n"
    "\n"
    "  --task NAME     only the task called NAME (default: every task)\n"
    "  --steps FILE    the schedule: a JSON array of steps, as in a log record's \"steps\"\n"
    "                  (default: the unscheduled loop nest)\n"
    "  --emit KIND     compute: the compute definition; ir: the loop IR (default);\n"
    "                  c: C source; llvm: LLVM IR after O3; asm: assembly for the target\n"
    "  --target T      target for llvm/asm (default: the file's \"target\", else this host),\n"
    "                  e.g. \"llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72\"\n"
    "  -h, --help      this text\n"
    "\n"
    "Exit codes: 0 success, 1 code generation failed, 2 bad usage, op.json or schedule.\n";

typedef enum { EMIT_COMPUTE, EMIT_IR, EMIT_C, EMIT_LLVM, EMIT_ASM } emit_kind;

/* Prints one task; returns an exit code. */
static int show_task(const tt_task *task, const tt_schedule *sched, emit_kind emit,
                     const tt_target *target)
{
    printf("// task %s (key %s)\n", task->name, task->key);
    char *text = NULL;
    if (emit == EMIT_COMPUTE) {
        text = tt_compute_str(task->compute);
        if (!text)
            return tt_cli_fail("show", TT_ERR_UNKNOWN);
        fputs(text, stdout);
        free(text);
        return TT_EXIT_OK;
    }
    tt_kernel *k = NULL;
    if (tt_lower(task->compute, sched, task->name, &k)) {
        /* the schedule the user gave does not apply */
        tt_error_wrap("task %s", task->name);
        return tt_cli_fail("show", TT_ERR_INVALID_ARGUMENT);
    }
    int rc = 0;
    switch (emit) {
    case EMIT_IR:
        text = tt_kernel_str(k);
        rc = text ? 0 : -1;
        break;
    case EMIT_C:
        rc = tt_codegen_emit_c(k, &text);
        break;
    case EMIT_LLVM:
    case EMIT_ASM:
        rc = tt_codegen_emit_text(&k, 1, target, emit == EMIT_LLVM ? TT_EMIT_LLVM : TT_EMIT_ASM,
                                  &text);
        break;
    default:
        break;
    }
    tt_kernel_release(k);
    if (rc) {
        tt_error_wrap("task %s", task->name);
        return tt_cli_fail("show", TT_ERR_UNKNOWN);
    }
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n')
        putchar('\n');
    free(text);
    return TT_EXIT_OK;
}

int tt_cli_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"task", required_argument, NULL, 't'}, {"steps", required_argument, NULL, 's'},
        {"emit", required_argument, NULL, 'e'}, {"target", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *task_name = NULL, *steps_path = NULL, *target_str = NULL;
    emit_kind emit = EMIT_IR;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            task_name = optarg;
            break;
        case 's':
            steps_path = optarg;
            break;
        case 'T':
            target_str = optarg;
            break;
        case 'e': {
            static const char *names[] = {"compute", "ir", "c", "llvm", "asm"};
            int found = -1;
            for (int i = 0; i < 5; i++)
                if (strcmp(optarg, names[i]) == 0)
                    found = i;
            if (found < 0) {
                fprintf(stderr, "tvm-tune show: --emit %s: expected compute, ir, c, llvm or asm\n",
                        optarg);
                return TT_EXIT_USAGE;
            }
            emit = (emit_kind)found;
            break;
        }
        case 'h':
            fputs(show_usage, stdout);
            return TT_EXIT_OK;
        default:
            fputs(show_usage, stderr);
            return TT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "tvm-tune show: expected one OP.json file\n%s", show_usage);
        return TT_EXIT_USAGE;
    }

    int rc = TT_EXIT_USAGE;
    tt_opfile *file = NULL;
    tt_schedule *sched = NULL;
    tt_target *target = NULL;
    char *steps_text = NULL;
    /* op.json, --steps and the target are the user's input: what goes wrong reading them is
     * bad input, unless the error says otherwise (out of memory). */
    if (tt_opfile_load(argv[optind], &file)) {
        rc = tt_cli_fail("show", TT_ERR_INVALID_ARGUMENT);
        goto done;
    }
    if (steps_path) {
        if (tt_read_file(steps_path, 0, &steps_text, NULL) ||
            tt_schedule_from_json(steps_text, &sched)) {
            tt_error_wrap("--steps %s", steps_path);
            rc = tt_cli_fail("show", TT_ERR_INVALID_ARGUMENT);
            goto done;
        }
    }
    if (emit == EMIT_LLVM || emit == EMIT_ASM) {
        const char *t = target_str ? target_str : file->target;
        if (tt_target_parse(t, &target)) {
            tt_error_wrap("target");
            rc = tt_cli_fail("show", TT_ERR_INVALID_ARGUMENT);
            goto done;
        }
    }
    int shown = 0;
    rc = TT_EXIT_OK;
    for (int i = 0; i < file->ntasks && rc == TT_EXIT_OK; i++) {
        if (task_name && strcmp(task_name, file->tasks[i].name) != 0)
            continue;
        rc = show_task(&file->tasks[i], sched, emit, target);
        shown++;
    }
    if (rc == TT_EXIT_OK && shown == 0) {
        fprintf(stderr, "tvm-tune show: %s has no task named '%s'\n", argv[optind], task_name);
        rc = TT_EXIT_USAGE;
    }
done:
    free(steps_text);
    tt_schedule_free(sched);
    tt_target_free(target);
    tt_opfile_free(file);
    return rc;
}
