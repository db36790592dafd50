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

#include "runtime/text.h"

static const char *ctype(DLDataType t)
{
    if (t.code == kDLFloat)
        return t.bits == 64 ? "double" : "float";
    if (t.code == kDLUInt && t.bits == 1)
        return "bool";
    return t.bits == 32 ? "int32_t" : "int64_t";
}

/* C has no names with dots ("i.0", "C.local") or '@' (fused loops): map them to '_'. */
static void put_name(tt_sb *b, const char *name)
{
    if (name[0] >= '0' && name[0] <= '9')
        tt_sb_printf(b, "v_");
    for (const char *p = name; *p; p++)
        tt_sb_printf(b, "%c", (*p == '.' || *p == '@' || *p == '-') ? '_' : *p);
}

/* A float literal C reads back exactly: "%.17g" always, and ".0" where %g printed an integer
 * ("1" would be an int, "1f" is not C). */
static void put_float(tt_sb *b, double v, DLDataType t)
{
    if (isinf(v)) {
        tt_sb_printf(b, "%sINFINITY", v < 0 ? "-" : "");
        return;
    }
    if (isnan(v)) {
        tt_sb_printf(b, "NAN");
        return;
    }
    char text[40];
    snprintf(text, sizeof text, "%.17g", v);
    tt_sb_printf(b, "%s%s%s", text, strpbrk(text, ".e") ? "" : ".0", t.bits == 32 ? "f" : "");
}

static int expr(tt_sb *b, const tt_expr *e)
{
    static const char *binop[] = {
        [TT_EXPR_ADD] = "+", [TT_EXPR_SUB] = "-",  [TT_EXPR_MUL] = "*", [TT_EXPR_EQ] = "==",
        [TT_EXPR_NE] = "!=", [TT_EXPR_LT] = "<",   [TT_EXPR_LE] = "<=", [TT_EXPR_GT] = ">",
        [TT_EXPR_GE] = ">=", [TT_EXPR_AND] = "&&", [TT_EXPR_OR] = "||",
    };
    switch (e->kind) {
    case TT_EXPR_INT:
        tt_sb_printf(b, "%" PRId64, e->ival);
        return 0;
    case TT_EXPR_FLOAT:
        put_float(b, e->fval, e->dtype);
        return 0;
    case TT_EXPR_VAR:
        put_name(b, e->name);
        return 0;
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
    case TT_EXPR_MUL:
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
    case TT_EXPR_AND:
    case TT_EXPR_OR:
        tt_sb_printf(b, "(");
        if (expr(b, e->args[0]))
            return -1;
        tt_sb_printf(b, " %s ", binop[e->kind]);
        if (expr(b, e->args[1]))
            return -1;
        tt_sb_printf(b, ")");
        return 0;
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
    case TT_EXPR_MIN:
    case TT_EXPR_MAX: {
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
            tt_sb_printf(b, "(");
            if (expr(b, e->args[0]))
                return -1;
            tt_sb_printf(b, " / ");
            if (expr(b, e->args[1]))
                return -1;
            tt_sb_printf(b, ")");
            return 0;
        }
        tt_sb_printf(b, "%s(", fn);
        if (expr(b, e->args[0]))
            return -1;
        tt_sb_printf(b, ", ");
        if (expr(b, e->args[1]))
            return -1;
        tt_sb_printf(b, ")");
        return 0;
    }
    case TT_EXPR_NOT:
        tt_sb_printf(b, "(!");
        if (expr(b, e->args[0]))
            return -1;
        tt_sb_printf(b, ")");
        return 0;
    case TT_EXPR_SELECT:
        tt_sb_printf(b, "(");
        for (int i = 0; i < 3; i++) {
            if (expr(b, e->args[i]))
                return -1;
            if (i < 2)
                tt_sb_printf(b, i == 0 ? " ? " : " : ");
        }
        tt_sb_printf(b, ")");
        return 0;
    case TT_EXPR_CALL:
        tt_sb_printf(b, "%s%s(", e->name,
                     tt_dtype_is_float(e->dtype) && e->dtype.bits == 32 ? "f" : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i)
                tt_sb_printf(b, ", ");
            if (expr(b, e->args[i]))
                return -1;
        }
        tt_sb_printf(b, ")");
        return 0;
    case TT_EXPR_CAST:
        tt_sb_printf(b, "((%s)", ctype(e->dtype));
        if (expr(b, e->args[0]))
            return -1;
        tt_sb_printf(b, ")");
        return 0;
    case TT_EXPR_LOAD:
        put_name(b, e->buffer->name);
        tt_sb_printf(b, "[");
        if (expr(b, e->args[0]))
            return -1;
        tt_sb_printf(b, "]");
        return 0;
    default:
        return tt_error_set("emit c: %s nodes appear only in compute definitions, not in a "
                            "lowered kernel",
                            tt_expr_kind_name(e->kind));
    }
}

static void indent(tt_sb *b, int depth)
{
    for (int i = 0; i < depth; i++)
        tt_sb_printf(b, "    ");
}

static int stmt(tt_sb *b, const tt_stmt *s, int depth)
{
    switch (s->kind) {
    case TT_STMT_FOR:
        if (s->for_kind == TT_FOR_PARALLEL) {
            indent(b, depth);
            tt_sb_printf(b, "#pragma omp parallel for\n");
        } else if (s->for_kind == TT_FOR_VECTORIZED) {
            indent(b, depth);
            tt_sb_printf(b, "#pragma omp simd\n");
        } else if (s->for_kind == TT_FOR_UNROLLED) {
            indent(b, depth);
            tt_sb_printf(b, "#pragma GCC unroll 64\n");
        }
        indent(b, depth);
        tt_sb_printf(b, "for (int64_t ");
        put_name(b, s->var->name);
        tt_sb_printf(b, " = 0; ");
        put_name(b, s->var->name);
        tt_sb_printf(b, " < ");
        if (expr(b, s->extent))
            return -1;
        tt_sb_printf(b, "; ++");
        put_name(b, s->var->name);
        tt_sb_printf(b, ") {\n");
        if (stmt(b, s->body, depth + 1))
            return -1;
        indent(b, depth);
        tt_sb_printf(b, "}\n");
        return 0;
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (stmt(b, s->stmts[i], depth))
                return -1;
        return 0;
    case TT_STMT_STORE:
        indent(b, depth);
        put_name(b, s->buffer->name);
        tt_sb_printf(b, "[");
        if (expr(b, s->index))
            return -1;
        tt_sb_printf(b, "] = ");
        if (expr(b, s->value))
            return -1;
        tt_sb_printf(b, ";\n");
        return 0;
    case TT_STMT_IF:
        indent(b, depth);
        tt_sb_printf(b, "if (");
        if (expr(b, s->cond))
            return -1;
        tt_sb_printf(b, ") {\n");
        if (stmt(b, s->then_s, depth + 1))
            return -1;
        if (s->else_s) {
            indent(b, depth);
            tt_sb_printf(b, "} else {\n");
            if (stmt(b, s->else_s, depth + 1))
                return -1;
        }
        indent(b, depth);
        tt_sb_printf(b, "}\n");
        return 0;
    case TT_STMT_ALLOC:
        indent(b, depth);
        tt_sb_printf(b, "{\n");
        indent(b, depth + 1);
        if (s->buffer->scope == TT_SCOPE_LOCAL) {
            tt_sb_printf(b, "%s ", ctype(s->buffer->dtype));
            put_name(b, s->buffer->name);
            tt_sb_printf(b, "[%" PRId64 "] __attribute__((aligned(64)));\n", s->buffer->numel);
        } else {
            tt_sb_printf(b, "%s *", ctype(s->buffer->dtype));
            put_name(b, s->buffer->name);
            tt_sb_printf(b, " = aligned_alloc(64, (%" PRId64 " * sizeof(%s) + 63) / 64 * 64);\n",
                         s->buffer->numel, ctype(s->buffer->dtype));
            indent(b, depth + 1);
            tt_sb_printf(b, "if (!");
            put_name(b, s->buffer->name);
            tt_sb_printf(b, ")\n");
            indent(b, depth + 2);
            tt_sb_printf(b, "return -1;\n");
        }
        if (stmt(b, s->body, depth + 1))
            return -1;
        if (s->buffer->scope != TT_SCOPE_LOCAL) {
            indent(b, depth + 1);
            tt_sb_printf(b, "free(");
            put_name(b, s->buffer->name);
            tt_sb_printf(b, ");\n");
        }
        indent(b, depth);
        tt_sb_printf(b, "}\n");
        return 0;
    default:
        return tt_error_set("emit c: unknown statement kind %d", (int)s->kind);
    }
}

int tt_codegen_emit_c(const tt_kernel *k, char **out)
{
    *out = NULL;
    tt_sb b = {0};
    tt_sb_printf(&b, "/* Generated by tvm-tune from the loop IR of kernel %s. */\n", k->name);
    tt_sb_printf(
        &b,
        "#include <math.h>\n#include <stdbool.h>\n#include <stdint.h>\n#include <stdlib.h>\n\n");
    tt_sb_printf(&b, "static inline int64_t tt_floordiv(int64_t a, int64_t b)\n"
                     "{\n    int64_t q = a / b;\n    return (a %% b != 0 && ((a < 0) != (b < 0))) "
                     "? q - 1 : q;\n}\n");
    tt_sb_printf(&b, "static inline int64_t tt_floormod(int64_t a, int64_t b)\n"
                     "{\n    int64_t r = a %% b;\n    return (r != 0 && ((r < 0) != (b < 0))) ? r "
                     "+ b : r;\n}\n");
    tt_sb_printf(&b,
                 "static inline int64_t tt_imin(int64_t a, int64_t b) { return a < b ? a : b; }\n");
    tt_sb_printf(
        &b, "static inline int64_t tt_imax(int64_t a, int64_t b) { return a > b ? a : b; }\n\n");
    tt_sb_printf(&b, "int ");
    put_name(&b, k->name);
    tt_sb_printf(&b, "(");
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *p = k->params[i];
        tt_sb_printf(&b, "%s%s *restrict ", i ? ", " : "", ctype(p->dtype));
        put_name(&b, p->name);
    }
    tt_sb_printf(&b, ")\n{\n");
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *p = k->params[i];
        tt_sb_printf(&b, "    /* ");
        put_name(&b, p->name);
        tt_sb_printf(&b, ": %s[", ctype(p->dtype));
        for (int d = 0; d < p->ndim; d++)
            tt_sb_printf(&b, "%s%" PRId64, d ? ", " : "", p->shape[d]);
        tt_sb_printf(&b, "] */\n");
    }
    if (stmt(&b, k->body, 1)) {
        tt_sb_free(&b);
        return -1;
    }
    tt_sb_printf(&b, "    return 0;\n}\n");
    *out = tt_sb_take(&b);
    return *out ? 0 : tt_error_wrap("emit c");
}
