/* Text of IR nodes (ir/printer.h): expressions with the expression language's precedence (so a
 * stage line reads as, and parses as, what the user wrote), loop IR as an indented nest. Used by
 * logs, error messages and golden tests; ir/serialize.c is the faithful form. */
#include "ir/printer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/text.h"

static const char *dtname(DLDataType t)
{
    const char *n = tt_dtype_name(t);
    return n ? n : "?";
}

/* The shortest decimal that reads back as the same value of the dtype, with ".0" when it
 * would otherwise look like an integer. */
static void put_float(tt_sb *b, double v, DLDataType t)
{
    if (isnan(v)) {
        tt_sb_printf(b, "nan");
        return;
    }
    if (isinf(v)) {
        tt_sb_printf(b, v < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    bool f32 = t.bits == 32;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (f32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    tt_sb_printf(b, "%s%s", tmp, strpbrk(tmp, ".en") ? "" : ".0");
}

/* Precedence in the expression language's grammar: || && ! comparisons + * unary primary. */
enum { P_OR = 1, P_AND, P_NOT, P_CMP, P_SUM, P_TERM, P_UNARY, P_PRIMARY };

static int prec(const tt_expr *e)
{
    switch (e->kind) {
    case TT_EXPR_OR:
        return P_OR;
    case TT_EXPR_AND:
        return P_AND;
    case TT_EXPR_NOT:
        return P_NOT;
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
        return P_CMP;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
        return P_SUM;
    case TT_EXPR_MUL:
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
        return P_TERM;
    case TT_EXPR_INT:
        return e->ival < 0 ? P_UNARY : P_PRIMARY;
    case TT_EXPR_FLOAT:
        return (e->fval < 0 || signbit(e->fval)) ? P_UNARY : P_PRIMARY;
    default:
        return P_PRIMARY;
    }
}

static const char *binop(tt_expr_kind k)
{
    static const char *ops[] = {
        "+", "-", "*", "/", "%", "min", "max", "==", "!=", "<", "<=", ">", ">=", "&&", "||"};
    return ops[k - TT_EXPR_ADD];
}

static bool is_binary_op(const tt_expr *e)
{
    return e->kind >= TT_EXPR_ADD && e->kind <= TT_EXPR_OR && e->kind != TT_EXPR_MIN &&
           e->kind != TT_EXPR_MAX;
}

/* ranges: reductions show their axes' ranges ("sum(k: 0..64, ..)") rather than the language's
 * "sum(k, ..)". */
static void expr(tt_sb *b, const tt_expr *e, bool ranges);

/* An operand: in parentheses when its precedence is below min. */
static void operand(tt_sb *b, const tt_expr *e, int min, bool ranges)
{
    bool paren = prec(e) < min;
    if (paren)
        tt_sb_printf(b, "(");
    expr(b, e, ranges);
    if (paren)
        tt_sb_printf(b, ")");
}

/* A whole expression in an index or a load: binary operators get parentheses, as in
 * "C[(i*64 + j)]", so the index stands out from the brackets around it. */
static void wrapped(tt_sb *b, const tt_expr *e, bool ranges)
{
    if (is_binary_op(e)) {
        tt_sb_printf(b, "(");
        expr(b, e, ranges);
        tt_sb_printf(b, ")");
    } else {
        expr(b, e, ranges);
    }
}

static void args(tt_sb *b, const tt_expr *e, bool ranges)
{
    for (int i = 0; i < e->nargs; i++) {
        tt_sb_printf(b, "%s", i ? ", " : "");
        expr(b, e->args[i], ranges);
    }
}

static void expr(tt_sb *b, const tt_expr *e, bool ranges)
{
    if (!e) {
        tt_sb_printf(b, "<null>");
        return;
    }
    switch (e->kind) {
    case TT_EXPR_INT:
        tt_sb_printf(b, "%lld", (long long)e->ival);
        return;
    case TT_EXPR_FLOAT:
        put_float(b, e->fval, e->dtype);
        return;
    case TT_EXPR_VAR:
        tt_sb_printf(b, "%s", e->name);
        return;
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        tt_sb_printf(b, "%s(", binop(e->kind));
        args(b, e, ranges);
        tt_sb_printf(b, ")");
        return;
    case TT_EXPR_NOT:
        tt_sb_printf(b, "!");
        operand(b, e->args[0], P_PRIMARY, ranges);
        return;
    case TT_EXPR_SELECT:
        tt_sb_printf(b, "select(");
        args(b, e, ranges);
        tt_sb_printf(b, ")");
        return;
    case TT_EXPR_CALL:
        /* the language's spelling: it has abs, which the IR calls by its libm name */
        tt_sb_printf(b, "%s(", strcmp(e->name, "fabs") == 0 ? "abs" : e->name);
        args(b, e, ranges);
        tt_sb_printf(b, ")");
        return;
    case TT_EXPR_CAST:
        tt_sb_printf(b, "%s(", dtname(e->dtype));
        args(b, e, ranges);
        tt_sb_printf(b, ")");
        return;
    case TT_EXPR_ACCESS:
        tt_sb_printf(b, "%s[", e->tensor->name);
        args(b, e, ranges);
        tt_sb_printf(b, "]");
        return;
    case TT_EXPR_LOAD:
        tt_sb_printf(b, "%s[", e->buffer->name);
        wrapped(b, e->args[0], ranges);
        tt_sb_printf(b, "]");
        return;
    case TT_EXPR_REDUCE:
        tt_sb_printf(b, "%s(%s", tt_reduce_op_name(e->reduce_op),
                     e->naxes > 1 && !ranges ? "[" : "");
        for (int i = 0; i < e->naxes; i++) {
            tt_sb_printf(b, "%s%s", i ? ", " : "", e->axes[i]->var->name);
            if (ranges)
                tt_sb_printf(b, ": 0..%lld", (long long)e->axes[i]->extent);
        }
        tt_sb_printf(b, "%s, ", e->naxes > 1 && !ranges ? "]" : "");
        expr(b, e->args[0], ranges);
        tt_sb_printf(b, ")");
        return;
    default:
        break;
    }
    if (e->kind >= TT_EXPR_ADD && e->kind <= TT_EXPR_OR && e->nargs == 2) {
        int p = prec(e);
        /* left-associative; comparisons do not chain, so both sides of one bind tighter */
        operand(b, e->args[0], p == P_CMP ? p + 1 : p, ranges);
        /* integer * / % are index arithmetic: written tight, "i*64 + j" */
        bool tight = p == P_TERM && tt_dtype_is_int(e->dtype);
        tt_sb_printf(b, tight ? "%s" : " %s ", binop(e->kind));
        operand(b, e->args[1], p + 1, ranges);
        return;
    }
    tt_sb_printf(b, "<%s?>", tt_expr_kind_name(e->kind));
}

char *tt_expr_str(const tt_expr *e)
{
    if (!e) {
        tt_error_set("tt_expr_str: NULL expression");
        return NULL;
    }
    tt_sb b = {0};
    wrapped(&b, e, true);
    return tt_sb_take(&b);
}

static void shape(tt_sb *b, DLDataType t, int ndim, const int64_t *shape)
{
    tt_sb_printf(b, "%s[", dtname(t));
    for (int i = 0; i < ndim; i++)
        tt_sb_printf(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
    tt_sb_printf(b, "]");
}

static void stmt(tt_sb *b, const tt_stmt *s, int depth)
{
    int ind = 2 * depth;
    switch (s->kind) {
    case TT_STMT_FOR:
        tt_sb_printf(b, "%*s%s%sfor (%s, 0, ", ind, "",
                     s->for_kind == TT_FOR_SERIAL ? "" : tt_for_kind_name(s->for_kind),
                     s->for_kind == TT_FOR_SERIAL ? "" : " ", s->var->name);
        expr(b, s->extent, false);
        tt_sb_printf(b, ") {\n");
        stmt(b, s->body, depth + 1);
        tt_sb_printf(b, "%*s}\n", ind, "");
        return;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            stmt(b, s->stmts[i], depth);
        return;
    case TT_STMT_STORE:
        tt_sb_printf(b, "%*s%s[", ind, "", s->buffer->name);
        wrapped(b, s->index, false);
        tt_sb_printf(b, "] = ");
        expr(b, s->value, false);
        tt_sb_printf(b, "\n");
        return;
    case TT_STMT_IF:
        tt_sb_printf(b, "%*sif (", ind, "");
        expr(b, s->cond, false);
        tt_sb_printf(b, ") {\n");
        stmt(b, s->then_s, depth + 1);
        if (s->else_s) {
            tt_sb_printf(b, "%*s} else {\n", ind, "");
            stmt(b, s->else_s, depth + 1);
        }
        tt_sb_printf(b, "%*s}\n", ind, "");
        return;
    case TT_STMT_ALLOC: {
        const tt_buffer *buf = s->buffer;
        tt_sb_printf(b, "%*salloc %s%s[%s", ind, "",
                     buf->scope == TT_SCOPE_WORKSPACE ? "workspace " : "", buf->name,
                     dtname(buf->dtype));
        for (int i = 0; i < buf->ndim; i++)
            tt_sb_printf(b, " x %lld", (long long)buf->shape[i]);
        tt_sb_printf(b, "] {\n");
        stmt(b, s->body, depth + 1);
        tt_sb_printf(b, "%*s}\n", ind, "");
        return;
    }
    default:
        tt_sb_printf(b, "%*s<stmt %d?>\n", ind, "", (int)s->kind);
    }
}

char *tt_stmt_str(const tt_stmt *s)
{
    if (!s) {
        tt_error_set("tt_stmt_str: NULL statement");
        return NULL;
    }
    tt_sb b = {0};
    stmt(&b, s, 0);
    return tt_sb_take(&b);
}

char *tt_kernel_str(const tt_kernel *k)
{
    if (!k) {
        tt_error_set("tt_kernel_str: NULL kernel");
        return NULL;
    }
    tt_sb b = {0};
    tt_sb_printf(&b, "kernel %s(", k->name);
    for (int i = 0; i < k->nparams; i++) {
        tt_sb_printf(&b, "%s%s: ", i ? ", " : "", k->params[i]->name);
        shape(&b, k->params[i]->dtype, k->params[i]->ndim, k->params[i]->shape);
    }
    tt_sb_printf(&b, ") {\n");
    stmt(&b, k->body, 1);
    tt_sb_printf(&b, "}\n");
    return tt_sb_take(&b);
}

char *tt_compute_str(const tt_compute *c)
{
    if (!c) {
        tt_error_set("tt_compute_str: NULL compute");
        return NULL;
    }
    tt_sb b = {0};
    tt_sb_printf(&b, "compute %s(", c->name);
    for (int i = 0; i < c->ninputs; i++) {
        tt_sb_printf(&b, "%s%s: ", i ? ", " : "", c->inputs[i]->name);
        shape(&b, c->inputs[i]->dtype, c->inputs[i]->ndim, c->inputs[i]->shape);
    }
    tt_sb_printf(&b, ") {\n");
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        tt_sb_printf(&b, "  %s", st->output->name);
        if (st->naxes) {
            tt_sb_printf(&b, "[");
            for (int i = 0; i < st->naxes; i++)
                tt_sb_printf(&b, "%s%s", i ? ", " : "", st->axes[i]->var->name);
            tt_sb_printf(&b, "]");
        }
        tt_sb_printf(&b, " = ");
        expr(&b, st->body, false);
        /* the ranges, which the language infers and the line alone does not show */
        tt_sb_printf(&b, "  # ");
        shape(&b, st->output->dtype, st->output->ndim, st->output->shape);
        const char *sep = "; ";
        for (int i = 0; i < st->naxes; i++, sep = ", ")
            tt_sb_printf(&b, "%s%s < %lld", sep, st->axes[i]->var->name,
                         (long long)st->axes[i]->extent);
        if (st->body->kind == TT_EXPR_REDUCE)
            for (int i = 0; i < st->body->naxes; i++, sep = ", ")
                tt_sb_printf(&b, "%s%s < %lld", sep, st->body->axes[i]->var->name,
                             (long long)st->body->axes[i]->extent);
        tt_sb_printf(&b, "\n");
    }
    tt_sb_printf(&b, "}\n");
    return tt_sb_take(&b);
}
