/* libFuzzer target for the JSON form of the IR (ir/serialize_read.c): any text must parse to a
 * node or fail with an "ir json:" message, never crash. A node it accepts must write back to JSON
 * that reads again and writes identically, print, and, when the work is small, run in the
 * reference interpreter (ir/interp.c) without crashing (errors are fine: the graph may be wrong).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/printer.h"
#include "ir/serialize.h"

#define WORK_LIMIT 1e5

/* Statements executed by s, when its extents are constants; WORK_LIMIT+1 otherwise. */
static double stmt_work(const tt_stmt *s)
{
    int64_t ext;
    double w = 0;
    switch (s->kind) {
    case TT_STMT_FOR:
        if (!tt_expr_is_const(s->extent, &ext))
            return WORK_LIMIT + 1;
        return (ext > 0 ? (double)ext : 0) * (1 + stmt_work(s->body));
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            w += stmt_work(s->stmts[i]);
        return w;
    case TT_STMT_IF:
        w = stmt_work(s->then_s);
        return 1 + (s->else_s ? w + stmt_work(s->else_s) : w);
    case TT_STMT_ALLOC:
        return (double)s->buffer->numel + stmt_work(s->body);
    default:
        return 1;
    }
}

static double compute_work(const tt_compute *c)
{
    double work = 0;
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        double points = (double)tt_tensor_numel(st->output);
        if (st->body->kind == TT_EXPR_REDUCE)
            for (int i = 0; i < st->body->naxes; i++)
                points *= (double)st->body->axes[i]->extent;
        work += points;
    }
    return work;
}

/* Zeroed arguments of n elements each (8 bytes: any dtype fits); NULL when too large. */
static void **alloc_args(int n, const int64_t *numel)
{
    void **args = calloc((size_t)n + 1, sizeof *args);
    for (int i = 0; i < n; i++) {
        if (numel[i] < 0 || numel[i] > (int64_t)WORK_LIMIT) {
            for (int j = 0; j < i; j++)
                free(args[j]);
            free(args);
            return NULL;
        }
        args[i] = calloc((size_t)numel[i] + 1, 8);
    }
    return args;
}

static void run(tt_object *o)
{
    const char *key = tt_object_key(o);
    int64_t numel[64];
    int n = 0;
    void **args = NULL;
    if (strcmp(key, "ir.Kernel") == 0) {
        const tt_kernel *k = (const tt_kernel *)o;
        if (k->nparams > 64 || stmt_work(k->body) > WORK_LIMIT)
            return;
        for (; n < k->nparams; n++)
            numel[n] = k->params[n]->numel;
        if ((args = alloc_args(n, numel)))
            tt_kernel_interp(k, args);
    } else if (strcmp(key, "ir.Compute") == 0) {
        const tt_compute *c = (const tt_compute *)o;
        if (c->ninputs > 63 || compute_work(c) > WORK_LIMIT)
            return;
        for (; n < c->ninputs; n++)
            numel[n] = tt_tensor_numel(c->inputs[n]);
        numel[n++] = tt_tensor_numel(tt_compute_output(c));
        if ((args = alloc_args(n, numel)))
            tt_compute_eval(c, args);
    }
    for (int i = 0; args && i < n; i++)
        free(args[i]);
    free(args);
}

static char *print(tt_object *o)
{
    const char *key = tt_object_key(o);
    if (strcmp(key, "ir.Expr") == 0)
        return tt_expr_str((const tt_expr *)o);
    if (strcmp(key, "ir.Stmt") == 0)
        return tt_stmt_str((const tt_stmt *)o);
    if (strcmp(key, "ir.Kernel") == 0)
        return tt_kernel_str((const tt_kernel *)o);
    if (strcmp(key, "ir.Compute") == 0)
        return tt_compute_str((const tt_compute *)o);
    return strdup(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    tt_object *o = NULL;
    int rc = tt_ir_from_json(text, &o);
    free(text);
    if (rc != 0) {
        if (o || strncmp(tt_get_last_error(), "ir json: ", 9) != 0)
            abort(); /* a failure says why, and leaves nothing behind */
        return 0;
    }
    char *j1 = tt_ir_to_json(o), *j2 = NULL;
    tt_object *back = NULL;
    if (!j1 || tt_ir_from_json(j1, &back) != 0 || !(j2 = tt_ir_to_json(back)) ||
        strcmp(j1, j2) != 0) {
        fprintf(stderr, "round trip differs: %s\n%s\n%s\n", tt_get_last_error(), j1, j2);
        abort();
    }
    char *p1 = print(o), *p2 = print(back);
    if (!p1 || !p2 || strcmp(p1, p2) != 0)
        abort();
    run(o);
    free(p1);
    free(p2);
    free(j1);
    free(j2);
    tt_object_release(back);
    tt_object_release(o);
    return 0;
}
