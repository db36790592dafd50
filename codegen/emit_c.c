/* Loop IR -> C source (see emit_c.h). A straight tree walk: every expression is fully
 * parenthesised so precedence never changes meaning; floor division and modulo, which C lacks,
 * go through two small inline helpers emitted at the top of the file. */
#include "codegen/emit_c.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 64;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

static const char *ctype(DLDataType t)
{
    if (t.code == kDLFloat)
        return t.bits == 64 ? "double" : "float";
    if (t.code == kDLUInt && t.bits == 1)
        return "bool";
    return t.bits == 32 ? "int32_t" : "int64_t";
}

/* C has no names with dots ("i.0", "C.local") or '@' (fused loops): map them to '_'. */
static void put_name(sbuf *b, const char *name)
{
    if (name[0] >= '0' && name[0] <= '9')
        put(b, "v_");
    for (const char *p = name; *p; p++)
        put(b, "%c", (*p == '.' || *p == '@' || *p == '-') ? '_' : *p);
}

/* A float literal C reads back exactly: "%.17g" always, and ".0" where %g printed an integer
 * ("1" would be an int, "1f" is not C). */
static void put_float(sbuf *b, double v, DLDataType t)
{
    if (isinf(v)) {
        put(b, "%sINFINITY", v < 0 ? "-" : "");
        return;
    }
    if (isnan(v)) {
        put(b, "NAN");
        return;
    }
    char text[40];
    snprintf(text, sizeof text, "%.17g", v);
    put(b, "%s%s%s", text, strpbrk(text, ".e") ? "" : ".0", t.bits == 32 ? "f" : "");
}

static int expr(sbuf *b, const tt_expr *e)
{
    static const char *binop[] = {
        [TT_EXPR_ADD] = "+", [TT_EXPR_SUB] = "-", [TT_EXPR_MUL] = "*", [TT_EXPR_EQ] = "==",
        [TT_EXPR_NE] = "!=", [TT_EXPR_LT] = "<",  [TT_EXPR_LE] = "<=", [TT_EXPR_GT] = ">",
        [TT_EXPR_GE] = ">=", [TT_EXPR_AND] = "&&", [TT_EXPR_OR] = "||",
    };
    switch (e->kind) {
    case TT_EXPR_INT:
        put(b, "%" PRId64, e->ival);
        return 0;
    case TT_EXPR_FLOAT:
        put_float(b, e->fval, e->dtype);
        return 0;
    case TT_EXPR_VAR:
        put_name(b, e->name);
        return 0;
    case TT_EXPR_ADD: case TT_EXPR_SUB: case TT_EXPR_MUL: case TT_EXPR_EQ: case TT_EXPR_NE:
    case TT_EXPR_LT: case TT_EXPR_LE: case TT_EXPR_GT: case TT_EXPR_GE: case TT_EXPR_AND:
    case TT_EXPR_OR:
        put(b, "(");
        if (expr(b, e->args[0]))
            return -1;
        put(b, " %s ", binop[e->kind]);
        if (expr(b, e->args[1]))
            return -1;
        put(b, ")");
        return 0;
    case TT_EXPR_DIV: case TT_EXPR_MOD: case TT_EXPR_MIN: case TT_EXPR_MAX: {
        const char *fn;
        bool fl = tt_dtype_is_float(e->dtype);
        if (e->kind == TT_EXPR_DIV)
            fn = fl ? NULL : "tt_floordiv";
        else if (e->kind == TT_EXPR_MOD)
            fn = "tt_floormod";
        else if (e->kind == TT_EXPR_MIN)
            fn = fl ? (e->dtype.bits == 32 ? "fminf" : "fmin") : "tt_imin";
        else
            fn = fl ? (e->dtype.bits == 32 ? "fmaxf" : "fmax") : "tt_imax";
        if (!fn) {
            put(b, "(");
            if (expr(b, e->args[0]))
                return -1;
            put(b, " / ");
            if (expr(b, e->args[1]))
                return -1;
            put(b, ")");
            return 0;
        }
        put(b, "%s(", fn);
        if (expr(b, e->args[0]))
            return -1;
        put(b, ", ");
        if (expr(b, e->args[1]))
            return -1;
        put(b, ")");
        return 0;
    }
    case TT_EXPR_NOT:
        put(b, "(!");
        if (expr(b, e->args[0]))
            return -1;
        put(b, ")");
        return 0;
    case TT_EXPR_SELECT:
        put(b, "(");
        for (int i = 0; i < 3; i++) {
            if (expr(b, e->args[i]))
                return -1;
            if (i < 2)
                put(b, i == 0 ? " ? " : " : ");
        }
        put(b, ")");
        return 0;
    case TT_EXPR_CALL:
        put(b, "%s%s(", e->name, tt_dtype_is_float(e->dtype) && e->dtype.bits == 32 ? "f" : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i)
                put(b, ", ");
            if (expr(b, e->args[i]))
                return -1;
        }
        put(b, ")");
        return 0;
    case TT_EXPR_CAST:
        put(b, "((%s)", ctype(e->dtype));
        if (expr(b, e->args[0]))
            return -1;
        put(b, ")");
        return 0;
    case TT_EXPR_LOAD:
        put_name(b, e->buffer->name);
        put(b, "[");
        if (expr(b, e->args[0]))
            return -1;
        put(b, "]");
        return 0;
    default:
        return tt_error_set("emit c: %s nodes appear only in compute definitions, not in a "
                            "lowered kernel", tt_expr_kind_name(e->kind));
    }
}

static void indent(sbuf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        put(b, "    ");
}

static int stmt(sbuf *b, const tt_stmt *s, int depth)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        if (s->for_kind == TT_FOR_PARALLEL) {
            indent(b, depth);
            put(b, "#pragma omp parallel for\n");
        } else if (s->for_kind == TT_FOR_VECTORIZED) {
            indent(b, depth);
            put(b, "#pragma omp simd\n");
        } else if (s->for_kind == TT_FOR_UNROLLED) {
            indent(b, depth);
            put(b, "#pragma GCC unroll 64\n");
        }
        indent(b, depth);
        put(b, "for (int64_t ");
        put_name(b, s->var->name);
        put(b, " = 0; ");
        put_name(b, s->var->name);
        put(b, " < ");
        if (expr(b, s->extent))
            return -1;
        put(b, "; ++");
        put_name(b, s->var->name);
        put(b, ") {\n");
        if (stmt(b, s->body, depth + 1))
            return -1;
        indent(b, depth);
        put(b, "}\n");
        return 0;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (stmt(b, s->stmts[i], depth))
                return -1;
        return 0;
    case TT_STMT_STORE:
        indent(b, depth);
        put_name(b, s->buffer->name);
        put(b, "[");
        if (expr(b, s->index))
            return -1;
        put(b, "] = ");
        if (expr(b, s->value))
            return -1;
        put(b, ";\n");
        return 0;
    case TT_STMT_IF:
        indent(b, depth);
        put(b, "if (");
        if (expr(b, s->cond))
            return -1;
        put(b, ") {\n");
        if (stmt(b, s->then_s, depth + 1))
            return -1;
        if (s->else_s) {
            indent(b, depth);
            put(b, "} else {\n");
            if (stmt(b, s->else_s, depth + 1))
                return -1;
        }
        indent(b, depth);
        put(b, "}\n");
        return 0;
    case TT_STMT_ALLOC:
        indent(b, depth);
        put(b, "{\n");
        indent(b, depth + 1);
        if (s->buffer->scope == TT_SCOPE_LOCAL) {
            put(b, "%s ", ctype(s->buffer->dtype));
            put_name(b, s->buffer->name);
            put(b, "[%" PRId64 "] __attribute__((aligned(64)));\n", s->buffer->numel);
        } else {
            put(b, "%s *", ctype(s->buffer->dtype));
            put_name(b, s->buffer->name);
            put(b, " = aligned_alloc(64, (%" PRId64 " * sizeof(%s) + 63) / 64 * 64);\n",
                s->buffer->numel, ctype(s->buffer->dtype));
            indent(b, depth + 1);
            put(b, "if (!");
            put_name(b, s->buffer->name);
            put(b, ")\n");
            indent(b, depth + 2);
            put(b, "return -1;\n");
        }
        if (stmt(b, s->body, depth + 1))
            return -1;
        if (s->buffer->scope != TT_SCOPE_LOCAL) {
            indent(b, depth + 1);
            put(b, "free(");
            put_name(b, s->buffer->name);
            put(b, ");\n");
        }
        indent(b, depth);
        put(b, "}\n");
        return 0;
    default:
        return tt_error_set("emit c: unknown statement kind %d", (int)s->kind);
    }
}

int tt_codegen_emit_c(const tt_kernel *k, char **out)
{
    *out = NULL;
    sbuf b = {0};
    put(&b, "/* Generated by tvm-tune from the loop IR of kernel %s. */\n", k->name);
    put(&b, "#include <math.h>\n#include <stdbool.h>\n#include <stdint.h>\n#include <stdlib.h>\n\n");
    put(&b, "static inline int64_t tt_floordiv(int64_t a, int64_t b)\n"
            "{\n    int64_t q = a / b;\n    return (a %% b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;\n}\n");
    put(&b, "static inline int64_t tt_floormod(int64_t a, int64_t b)\n"
            "{\n    int64_t r = a %% b;\n    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;\n}\n");
    put(&b, "static inline int64_t tt_imin(int64_t a, int64_t b) { return a < b ? a : b; }\n");
    put(&b, "static inline int64_t tt_imax(int64_t a, int64_t b) { return a > b ? a : b; }\n\n");
    put(&b, "int ");
    put_name(&b, k->name);
    put(&b, "(");
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *p = k->params[i];
        put(&b, "%s%s *restrict ", i ? ", " : "", ctype(p->dtype));
        put_name(&b, p->name);
    }
    put(&b, ")\n{\n");
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *p = k->params[i];
        put(&b, "    /* ");
        put_name(&b, p->name);
        put(&b, ": %s[", ctype(p->dtype));
        for (int d = 0; d < p->ndim; d++)
            put(&b, "%s%" PRId64, d ? ", " : "", p->shape[d]);
        put(&b, "] */\n");
    }
    if (stmt(&b, k->body, 1)) {
        free(b.data);
        return -1;
    }
    put(&b, "    return 0;\n}\n");
    if (b.failed) {
        free(b.data);
        return tt_error_set("emit c: out of memory");
    }
    *out = b.data;
    return 0;
}
