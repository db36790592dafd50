/* Text of IR nodes (ir/printer.h): expressions with the expression language's precedence (so a
 * stage line reads as, and parses as, what the user wrote), loop IR as an indented nest. Used by
 * logs, error messages and golden tests; ir/serialize.c is the faithful form. */
#include "ir/printer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string; an allocation failure is remembered and reported once at the end. */
typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int w = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 128;
        while (cap <= b->n + (size_t)w)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static char *finish(sbuf *b)
{
    if (b->oom || !b->s) {
        free(b->s);
        if (b->oom) {
            tt_error_set("printer: out of memory");
            return NULL;
        }
        return strdup("");
    }
    return b->s;
}

static const char *dtname(DLDataType t)
{
    const char *n = tt_dtype_name(t);
    return n ? n : "?";
}

/* The shortest decimal that reads back as the same value of the dtype, with ".0" when it
 * would otherwise look like an integer. */
static void put_float(sbuf *b, double v, DLDataType t)
{
    if (isnan(v)) {
        put(b, "nan");
        return;
    }
    if (isinf(v)) {
        put(b, v < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    bool f32 = t.bits == 32;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (f32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    put(b, "%s%s", tmp, strpbrk(tmp, ".en") ? "" : ".0");
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
static void expr(sbuf *b, const tt_expr *e, bool ranges);

/* An operand: in parentheses when its precedence is below min. */
static void operand(sbuf *b, const tt_expr *e, int min, bool ranges)
{
    bool paren = prec(e) < min;
    if (paren)
        put(b, "(");
    expr(b, e, ranges);
    if (paren)
        put(b, ")");
}

/* A whole expression in an index or a load: binary operators get parentheses, as in
 * "C[(i*64 + j)]", so the index stands out from the brackets around it. */
static void wrapped(sbuf *b, const tt_expr *e, bool ranges)
{
    if (is_binary_op(e)) {
        put(b, "(");
        expr(b, e, ranges);
        put(b, ")");
    } else {
        expr(b, e, ranges);
    }
}

static void args(sbuf *b, const tt_expr *e, bool ranges)
{
    for (int i = 0; i < e->nargs; i++) {
        put(b, "%s", i ? ", " : "");
        expr(b, e->args[i], ranges);
    }
}

static void expr(sbuf *b, const tt_expr *e, bool ranges)
{
    if (!e) {
        put(b, "<null>");
        return;
    }
    switch (e->kind) {
    case TT_EXPR_INT:
        put(b, "%lld", (long long)e->ival);
        return;
    case TT_EXPR_FLOAT:
        put_float(b, e->fval, e->dtype);
        return;
    case TT_EXPR_VAR:
        put(b, "%s", e->name);
        return;
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        put(b, "%s(", binop(e->kind));
        args(b, e, ranges);
        put(b, ")");
        return;
    case TT_EXPR_NOT:
        put(b, "!");
        operand(b, e->args[0], P_PRIMARY, ranges);
        return;
    case TT_EXPR_SELECT:
        put(b, "select(");
        args(b, e, ranges);
        put(b, ")");
        return;
    case TT_EXPR_CALL:
        /* the language's spelling: it has abs, which the IR calls by its libm name */
        put(b, "%s(", strcmp(e->name, "fabs") == 0 ? "abs" : e->name);
        args(b, e, ranges);
        put(b, ")");
        return;
    case TT_EXPR_CAST:
        put(b, "%s(", dtname(e->dtype));
        args(b, e, ranges);
        put(b, ")");
        return;
    case TT_EXPR_ACCESS:
        put(b, "%s[", e->tensor->name);
        args(b, e, ranges);
        put(b, "]");
        return;
    case TT_EXPR_LOAD:
        put(b, "%s[", e->buffer->name);
        wrapped(b, e->args[0], ranges);
        put(b, "]");
        return;
    case TT_EXPR_REDUCE:
        put(b, "%s(%s", tt_reduce_op_name(e->reduce_op), e->naxes > 1 && !ranges ? "[" : "");
        for (int i = 0; i < e->naxes; i++) {
            put(b, "%s%s", i ? ", " : "", e->axes[i]->var->name);
            if (ranges)
                put(b, ": 0..%lld", (long long)e->axes[i]->extent);
        }
        put(b, "%s, ", e->naxes > 1 && !ranges ? "]" : "");
        expr(b, e->args[0], ranges);
        put(b, ")");
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
        put(b, tight ? "%s" : " %s ", binop(e->kind));
        operand(b, e->args[1], p + 1, ranges);
        return;
    }
    put(b, "<%s?>", tt_expr_kind_name(e->kind));
}

char *tt_expr_str(const tt_expr *e)
{
    if (!e) {
        tt_error_set("tt_expr_str: NULL expression");
        return NULL;
    }
    sbuf b = {0};
    wrapped(&b, e, true);
    return finish(&b);
}

static void shape(sbuf *b, DLDataType t, int ndim, const int64_t *shape)
{
    put(b, "%s[", dtname(t));
    for (int i = 0; i < ndim; i++)
        put(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
    put(b, "]");
}

static void stmt(sbuf *b, const tt_stmt *s, int depth)
{
    int ind = 2 * depth;
    switch (s->kind) {
    case TT_STMT_FOR:
        put(b, "%*s%s%sfor (%s, 0, ", ind, "",
            s->for_kind == TT_FOR_SERIAL ? "" : tt_for_kind_name(s->for_kind),
            s->for_kind == TT_FOR_SERIAL ? "" : " ", s->var->name);
        expr(b, s->extent, false);
        put(b, ") {\n");
        stmt(b, s->body, depth + 1);
        put(b, "%*s}\n", ind, "");
        return;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            stmt(b, s->stmts[i], depth);
        return;
    case TT_STMT_STORE:
        put(b, "%*s%s[", ind, "", s->buffer->name);
        wrapped(b, s->index, false);
        put(b, "] = ");
        expr(b, s->value, false);
        put(b, "\n");
        return;
    case TT_STMT_IF:
        put(b, "%*sif (", ind, "");
        expr(b, s->cond, false);
        put(b, ") {\n");
        stmt(b, s->then_s, depth + 1);
        if (s->else_s) {
            put(b, "%*s} else {\n", ind, "");
            stmt(b, s->else_s, depth + 1);
        }
        put(b, "%*s}\n", ind, "");
        return;
    case TT_STMT_ALLOC: {
        const tt_buffer *buf = s->buffer;
        put(b, "%*salloc %s%s[%s", ind, "", buf->scope == TT_SCOPE_WORKSPACE ? "workspace " : "",
            buf->name, dtname(buf->dtype));
        for (int i = 0; i < buf->ndim; i++)
            put(b, " x %lld", (long long)buf->shape[i]);
        put(b, "] {\n");
        stmt(b, s->body, depth + 1);
        put(b, "%*s}\n", ind, "");
        return;
    }
    default:
        put(b, "%*s<stmt %d?>\n", ind, "", (int)s->kind);
    }
}

char *tt_stmt_str(const tt_stmt *s)
{
    if (!s) {
        tt_error_set("tt_stmt_str: NULL statement");
        return NULL;
    }
    sbuf b = {0};
    stmt(&b, s, 0);
    return finish(&b);
}

char *tt_kernel_str(const tt_kernel *k)
{
    if (!k) {
        tt_error_set("tt_kernel_str: NULL kernel");
        return NULL;
    }
    sbuf b = {0};
    put(&b, "kernel %s(", k->name);
    for (int i = 0; i < k->nparams; i++) {
        put(&b, "%s%s: ", i ? ", " : "", k->params[i]->name);
        shape(&b, k->params[i]->dtype, k->params[i]->ndim, k->params[i]->shape);
    }
    put(&b, ") {\n");
    stmt(&b, k->body, 1);
    put(&b, "}\n");
    return finish(&b);
}

char *tt_compute_str(const tt_compute *c)
{
    if (!c) {
        tt_error_set("tt_compute_str: NULL compute");
        return NULL;
    }
    sbuf b = {0};
    put(&b, "compute %s(", c->name);
    for (int i = 0; i < c->ninputs; i++) {
        put(&b, "%s%s: ", i ? ", " : "", c->inputs[i]->name);
        shape(&b, c->inputs[i]->dtype, c->inputs[i]->ndim, c->inputs[i]->shape);
    }
    put(&b, ") {\n");
    for (int s = 0; s < c->nstages; s++) {
        const tt_stage *st = c->stages[s];
        put(&b, "  %s", st->output->name);
        if (st->naxes) {
            put(&b, "[");
            for (int i = 0; i < st->naxes; i++)
                put(&b, "%s%s", i ? ", " : "", st->axes[i]->var->name);
            put(&b, "]");
        }
        put(&b, " = ");
        expr(&b, st->body, false);
        /* the ranges, which the language infers and the line alone does not show */
        put(&b, "  # ");
        shape(&b, st->output->dtype, st->output->ndim, st->output->shape);
        const char *sep = "; ";
        for (int i = 0; i < st->naxes; i++, sep = ", ")
            put(&b, "%s%s < %lld", sep, st->axes[i]->var->name, (long long)st->axes[i]->extent);
        if (st->body->kind == TT_EXPR_REDUCE)
            for (int i = 0; i < st->body->naxes; i++, sep = ", ")
                put(&b, "%s%s < %lld", sep, st->body->axes[i]->var->name,
                    (long long)st->body->axes[i]->extent);
        put(&b, "\n");
    }
    put(&b, "}\n");
    return finish(&b);
}
