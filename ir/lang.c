/* The expression language's front half: lexer and recursive-descent parser from text to a syntax
 * tree (ir/lang_ast.h), and tt_lang_parse, which hands the tree to ir/lang_sema.c for range
 * inference and IR building. The grammar is in ir/lang.h. */
#include "ir/lang_ast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena and errors ---- */

void *lang_ar_alloc(arena *a, size_t size)
{
    if (a->nptrs == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        void **p = realloc(a->ptrs, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        a->ptrs = p;
        a->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        a->ptrs[a->nptrs++] = m;
    return m;
}

char *lang_ar_strndup(arena *a, const char *s, size_t n)
{
    char *d = lang_ar_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

int lang_ar_fail(arena *a, int line, int col, const char *fmt, ...)
{
    if (a->failed)
        return -1;
    a->failed = 1;
    int n = snprintf(a->msg, sizeof a->msg, "expr:%d:%d: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg + n, sizeof a->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

void lang_ar_free(arena *a)
{
    for (int i = 0; i < a->nptrs; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    a->ptrs = NULL;
    a->nptrs = a->cap = 0;
}

/* ---- lexer ---- */

enum {
    T_END,
    T_NAME,
    T_INT,
    T_FLOAT,
    T_LBRACK,
    T_RBRACK,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_SEMI,
    T_ASSIGN,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_DSLASH,
    T_PERCENT,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_EQ,
    T_NE,
    T_AND,
    T_OR,
    T_NOT,
};

typedef struct {
    arena *a;
    const char *s;
    size_t pos;
    int line, col; /* of s[pos] */
    /* current token */
    int tok, tline, tcol;
    const char *tstart;
    size_t tlen;
    int64_t ival;
    double fval;
    int depth;
} parser;

static void adv(parser *p, size_t n)
{
    for (size_t i = 0; i < n && p->s[p->pos]; i++) {
        if (p->s[p->pos] == '\n') {
            p->line++;
            p->col = 1;
        } else {
            p->col++;
        }
        p->pos++;
    }
}

static const char *tok_text(int t)
{
    static const char *names[] = {
        "end of text", "a name", "an integer", "a number", "'['",  "']'",  "'('",  "')'", "','",
        "';'",         "'='",    "'+'",        "'-'",      "'*'",  "'/'",  "'//'", "'%'", "'<'",
        "'<='",        "'>'",    "'>='",       "'=='",     "'!='", "'&&'", "'||'", "'!'"};
    return names[t];
}

static int number(parser *p)
{
    const char *s = p->s + p->pos;
    size_t n = 0;
    int is_float = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    if (s[n] == '.') {
        is_float = 1;
        n++;
        while (isdigit((unsigned char)s[n]))
            n++;
    }
    if ((s[n] == 'e' || s[n] == 'E') &&
        (isdigit((unsigned char)s[n + 1]) ||
         ((s[n + 1] == '+' || s[n + 1] == '-') && isdigit((unsigned char)s[n + 2])))) {
        is_float = 1;
        n += 2;
        while (isdigit((unsigned char)s[n]))
            n++;
    }
    if (isalpha((unsigned char)s[n]) || s[n] == '_')
        return lang_ar_fail(p->a, p->line, p->col, "malformed number '%.*s%c'", (int)n, s, s[n]);
    char buf[64];
    if (n >= sizeof buf)
        return lang_ar_fail(p->a, p->line, p->col, "number too long");
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    if (is_float) {
        p->tok = T_FLOAT;
        p->fval = strtod(buf, NULL);
        if (errno == ERANGE && isinf(p->fval))
            return lang_ar_fail(p->a, p->line, p->col, "number %s is out of range", buf);
    } else {
        p->tok = T_INT;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return lang_ar_fail(p->a, p->line, p->col, "integer %s does not fit in 64 bits", buf);
        p->ival = v;
    }
    p->tlen = n;
    return 0;
}

/* Reads the next token into p->tok. */
static int next(parser *p)
{
    for (;;) {
        char c = p->s[p->pos];
        if (c == '#') {
            while (p->s[p->pos] && p->s[p->pos] != '\n')
                adv(p, 1);
        } else if (isspace((unsigned char)c)) {
            adv(p, 1);
        } else {
            break;
        }
    }
    const char *s = p->s + p->pos;
    p->tline = p->line;
    p->tcol = p->col;
    p->tstart = s;
    p->tlen = 1;
    char c = s[0];
    if (c == 0) {
        p->tok = T_END;
        p->tlen = 0;
        return 0;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t n = 1;
        while (isalnum((unsigned char)s[n]) || s[n] == '_')
            n++;
        p->tok = T_NAME;
        p->tlen = n;
        if (n == 3 && memcmp(s, "inf", 3) == 0) {
            p->tok = T_FLOAT;
            p->fval = INFINITY;
        }
    } else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[1]))) {
        if (number(p) < 0)
            return -1;
    } else {
        static const struct {
            const char *text;
            int tok;
        } ops[] = {
            {"//", T_DSLASH}, {"<=", T_LE},   {">=", T_GE},    {"==", T_EQ},     {"!=", T_NE},
            {"&&", T_AND},    {"||", T_OR},   {"[", T_LBRACK}, {"]", T_RBRACK},  {"(", T_LPAREN},
            {")", T_RPAREN},  {",", T_COMMA}, {";", T_SEMI},   {"=", T_ASSIGN},  {"+", T_PLUS},
            {"-", T_MINUS},   {"*", T_STAR},  {"/", T_SLASH},  {"%", T_PERCENT}, {"<", T_LT},
            {">", T_GT},      {"!", T_NOT},
        };
        size_t i = 0;
        for (; i < sizeof ops / sizeof ops[0]; i++)
            if (strncmp(s, ops[i].text, strlen(ops[i].text)) == 0)
                break;
        if (i == sizeof ops / sizeof ops[0]) {
            if (isprint((unsigned char)c))
                return lang_ar_fail(p->a, p->line, p->col, "unexpected character '%c'", c);
            return lang_ar_fail(p->a, p->line, p->col, "unexpected byte 0x%02x", (unsigned char)c);
        }
        p->tok = ops[i].tok;
        p->tlen = strlen(ops[i].text);
    }
    adv(p, p->tlen);
    return 0;
}

static int expect(parser *p, int tok)
{
    if (p->tok != tok)
        return lang_ar_fail(p->a, p->tline, p->tcol, "expected %s, got %s", tok_text(tok),
                            tok_text(p->tok));
    return next(p);
}

/* ---- parser ---- */

static node *mk(parser *p, int kind, int line, int col)
{
    node *n = lang_ar_alloc(p->a, sizeof *n);
    if (!n) {
        lang_ar_fail(p->a, line, col, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->slot = -1;
    return n;
}

#define MAX_HEIGHT 256

/* Sets n's height from its children; an error past MAX_HEIGHT (a 10000-term sum is a tree as
 * deep as it is long, and every later pass recurses over it). */
static node *grown(parser *p, node *n)
{
    if (!n)
        return NULL;
    int h = 0;
    for (int i = 0; i < n->nargs; i++)
        if (n->args[i] && n->args[i]->height > h)
            h = n->args[i]->height;
    n->height = h + 1;
    if (n->height > MAX_HEIGHT) {
        lang_ar_fail(p->a, n->line, n->col, "expression nested too deeply (more than %d levels)",
                     MAX_HEIGHT);
        return NULL;
    }
    return n;
}

static node *bin(parser *p, int op, node *l, node *r, int line, int col)
{
    node *n = mk(p, N_BIN, line, col);
    if (!n)
        return NULL;
    n->op = op;
    n->args = lang_ar_alloc(p->a, 2 * sizeof *n->args);
    if (!n->args) {
        lang_ar_fail(p->a, line, col, "out of memory");
        return NULL;
    }
    n->args[0] = l;
    n->args[1] = r;
    n->nargs = 2;
    return grown(p, n);
}

static node *expr(parser *p);

/* Comma-separated items up to the closing token; items are expressions or, first in a call,
 * an axis list. */
static int items(parser *p, int close, int allow_list, node ***out, int *count)
{
    node *tmp[64];
    int n = 0;
    if (p->tok != close) {
        for (;;) {
            if (n == 64)
                return lang_ar_fail(p->a, p->tline, p->tcol, "more than 64 items");
            node *it;
            if (allow_list && n == 0 && p->tok == T_LBRACK) {
                it = mk(p, N_LIST, p->tline, p->tcol);
                if (!it || next(p) < 0 || items(p, T_RBRACK, 0, &it->args, &it->nargs) < 0 ||
                    !grown(p, it))
                    return -1;
            } else {
                it = expr(p);
            }
            if (!it)
                return -1;
            tmp[n++] = it;
            if (p->tok != T_COMMA)
                break;
            if (next(p) < 0)
                return -1;
        }
    }
    if (p->tok != close)
        return lang_ar_fail(p->a, p->tline, p->tcol, "expected %s or ',', got %s", tok_text(close),
                            tok_text(p->tok));
    *out = lang_ar_alloc(p->a, (size_t)(n ? n : 1) * sizeof **out);
    if (!*out)
        return lang_ar_fail(p->a, p->tline, p->tcol, "out of memory");
    memcpy(*out, tmp, (size_t)n * sizeof *tmp);
    *count = n;
    return next(p);
}

static node *primary(parser *p)
{
    int line = p->tline, col = p->tcol;
    node *n = NULL;
    switch (p->tok) {
    case T_INT:
        if (!(n = mk(p, N_INT, line, col)))
            return NULL;
        n->ival = p->ival;
        return next(p) < 0 ? NULL : n;
    case T_FLOAT:
        if (!(n = mk(p, N_FLOAT, line, col)))
            return NULL;
        n->fval = p->fval;
        return next(p) < 0 ? NULL : n;
    case T_LPAREN:
        if (next(p) < 0 || !(n = expr(p)) || expect(p, T_RPAREN) < 0)
            return NULL;
        return n;
    case T_NAME: {
        char *name = lang_ar_strndup(p->a, p->tstart, p->tlen);
        if (!name || next(p) < 0)
            return NULL;
        int kind = p->tok == T_LBRACK ? N_ACCESS : p->tok == T_LPAREN ? N_CALL : N_IDENT;
        if (!(n = mk(p, kind, line, col)))
            return NULL;
        n->name = name;
        if (kind == N_IDENT)
            return n;
        if (next(p) < 0 || items(p, kind == N_ACCESS ? T_RBRACK : T_RPAREN, kind == N_CALL,
                                 &n->args, &n->nargs) < 0)
            return NULL;
        return grown(p, n);
    }
    default:
        lang_ar_fail(p->a, line, col, "expected an expression, got %s", tok_text(p->tok));
        return NULL;
    }
}

static node *unary(parser *p)
{
    if (p->tok != T_MINUS)
        return primary(p);
    int line = p->tline, col = p->tcol;
    if (++p->depth > 1000) {
        lang_ar_fail(p->a, line, col, "expression nested too deeply");
        return NULL;
    }
    node *n = mk(p, N_NEG, line, col);
    if (!n || next(p) < 0 || !(n->args = lang_ar_alloc(p->a, sizeof *n->args)))
        return NULL;
    n->nargs = 1;
    n->args[0] = unary(p);
    p->depth--;
    return n->args[0] ? grown(p, n) : NULL;
}

/* Binary levels from loosest to tightest; each entry maps a token to an operator. */
typedef struct {
    int tok, op;
} binop;
static const binop lv_or[] = {{T_OR, B_OR}, {-1, 0}};
static const binop lv_and[] = {{T_AND, B_AND}, {-1, 0}};
static const binop lv_cmp[] = {{T_LT, B_LT}, {T_LE, B_LE}, {T_GT, B_GT}, {T_GE, B_GE},
                               {T_EQ, B_EQ}, {T_NE, B_NE}, {-1, 0}};
static const binop lv_add[] = {{T_PLUS, B_ADD}, {T_MINUS, B_SUB}, {-1, 0}};
static const binop lv_mul[] = {
    {T_STAR, B_MUL}, {T_SLASH, B_DIV}, {T_DSLASH, B_FDIV}, {T_PERCENT, B_MOD}, {-1, 0}};
static const binop *levels[] = {lv_or, lv_and, NULL /* '!' */, lv_cmp, lv_add, lv_mul};
enum { NLEVELS = sizeof levels / sizeof levels[0] };

static node *level(parser *p, int lv)
{
    if (lv == NLEVELS)
        return unary(p);
    if (++p->depth > 1000) {
        lang_ar_fail(p->a, p->tline, p->tcol, "expression nested too deeply");
        return NULL;
    }
    node *l;
    if (!levels[lv]) { /* prefix '!' binds looser than comparisons: !a < b is !(a < b) */
        if (p->tok == T_NOT) {
            l = mk(p, N_NOT, p->tline, p->tcol);
            if (!l || next(p) < 0 || !(l->args = lang_ar_alloc(p->a, sizeof *l->args)))
                return NULL;
            l->nargs = 1;
            if (!(l->args[0] = level(p, lv)) || !grown(p, l))
                return NULL;
        } else {
            l = level(p, lv + 1);
        }
        p->depth--;
        return l;
    }
    if (!(l = level(p, lv + 1)))
        return NULL;
    for (;;) {
        const binop *b = levels[lv];
        while (b->tok >= 0 && b->tok != p->tok)
            b++;
        if (b->tok < 0)
            break;
        int line = p->tline, col = p->tcol;
        if (next(p) < 0)
            return NULL;
        node *r = level(p, lv + 1);
        if (!r || !(l = bin(p, b->op, l, r, line, col)))
            return NULL;
        if (lv == 3 && p->tok >= T_LT && p->tok <= T_NE) {
            lang_ar_fail(p->a, p->tline, p->tcol, "comparisons do not chain; use &&");
            return NULL;
        }
    }
    p->depth--;
    return l;
}

static node *expr(parser *p)
{
    return level(p, 0);
}

static int statement(parser *p, stmt *st)
{
    if (p->tok != T_NAME)
        return lang_ar_fail(p->a, p->tline, p->tcol,
                            "expected the name of an output tensor, got %s", tok_text(p->tok));
    st->line = p->tline;
    st->col = p->tcol;
    if (!(st->out = lang_ar_strndup(p->a, p->tstart, p->tlen)) || next(p) < 0)
        return -1;
    if (p->tok == T_LBRACK) {
        if (next(p) < 0 || items(p, T_RBRACK, 0, &st->axes, &st->naxes) < 0)
            return -1;
        for (int i = 0; i < st->naxes; i++)
            if (st->axes[i]->kind != N_IDENT) {
                const node *at = st->axes[i];
                while (at->kind == N_BIN) /* report where the index starts */
                    at = at->args[0];
                return lang_ar_fail(p->a, at->line, at->col,
                                    "output indices of %s must be axis names", st->out);
            }
    }
    if (expect(p, T_ASSIGN) < 0)
        return -1;
    return (st->body = expr(p)) ? 0 : -1;
}

int lang_parse_stmts(arena *a, const char *text, int *nstmts, stmt **stmts)
{
    parser p = {.a = a, .s = text, .line = 1, .col = 1};
    int n = 0, cap = 0;
    stmt *v = NULL;
    if (next(&p) < 0)
        return -1;
    while (p.tok != T_END) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            stmt *nv = lang_ar_alloc(a, (size_t)cap * sizeof *nv);
            if (!nv)
                return lang_ar_fail(a, p.tline, p.tcol, "out of memory");
            if (n)
                memcpy(nv, v, (size_t)n * sizeof *v);
            v = nv;
        }
        memset(&v[n], 0, sizeof v[n]);
        if (statement(&p, &v[n]) < 0)
            return -1;
        n++;
        if (p.tok == T_END)
            break;
        if (p.tok != T_SEMI)
            return lang_ar_fail(a, p.tline, p.tcol, "expected ';' or the end of the text, got %s",
                                tok_text(p.tok));
        if (next(&p) < 0)
            return -1;
    }
    if (n == 0)
        return lang_ar_fail(a, p.tline, p.tcol, "expected a statement such as \"C[i] = A[i]\"");
    *nstmts = n;
    *stmts = v;
    return 0;
}

int tt_lang_parse(const char *text, const char *name, int ninputs, const tt_lang_input *inputs,
                  int nextents, const tt_lang_extent *extents, tt_compute **out)
{
    *out = NULL;
    if (!text || ninputs < 0 || (ninputs > 0 && !inputs) || nextents < 0 ||
        (nextents > 0 && !extents))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "tt_lang_parse: bad arguments");
    arena a = {0};
    int nst = 0;
    stmt *st = NULL;
    int rc = lang_parse_stmts(&a, text, &nst, &st);
    if (rc == 0)
        rc = lang_build(&a, nst, st, name, ninputs, inputs, nextents, extents, out);
    if (rc < 0 && a.failed)
        tt_error_setc(TT_ERR_PARSE, "%s", a.msg);
    lang_ar_free(&a);
    return rc < 0 ? -1 : 0;
}
