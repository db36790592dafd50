/* Internal to the expression language (ir/lang.c parses, ir/lang_sema.c infers ranges and builds
 * the IR): the syntax tree, the arena that owns it, and error reporting with line:column. */
#ifndef TT_IR_LANG_AST_H
#define TT_IR_LANG_AST_H

#include "ir/lang.h"

enum {
    N_INT,    /* ival */
    N_FLOAT,  /* fval */
    N_IDENT,  /* name; slot after resolution */
    N_ACCESS, /* name[args]; tensor after resolution */
    N_CALL,   /* name(args); fn after resolution, or turned into N_REDUCE */
    N_LIST,   /* [a, b, ...]: axis names, only as the first argument of a reduction */
    N_BIN,    /* args[0] op args[1] */
    N_NEG,    /* -args[0] */
    N_NOT,    /* !args[0] */
    N_REDUCE, /* rop over axslots of args[0] */
};

/* Binary operators (N_BIN op). */
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_FDIV, B_MOD, B_LT, B_LE, B_GT, B_GE, B_EQ, B_NE, B_AND, B_OR };

/* Functions (N_CALL fn). */
enum { F_EXP, F_SQRT, F_LOG, F_TANH, F_ABS, F_SELECT, F_MIN, F_MAX };

typedef struct node node;
struct node {
    int kind, op, line, col;
    int64_t ival;
    double fval;
    char *name;
    int nargs;
    node **args;
    int slot;          /* N_IDENT: index of its axis in the statement */
    tt_tensor *tensor; /* N_ACCESS: borrowed */
    int fn;            /* N_CALL */
    int rop;           /* N_REDUCE: tt_reduce_op */
    int naxes;         /* N_REDUCE: its own axes (slots) */
    int *axslots;
};

/* A statement: out[axes] = body. */
typedef struct {
    char *out;
    int line, col;
    int naxes;
    node **axes; /* N_IDENT */
    node *body;
} stmt;

/* Everything a parse allocates, freed at once; the first error is kept with its position. */
typedef struct {
    void **ptrs;
    int nptrs, cap;
    int failed;
    char msg[512];
} arena;

void *ar_alloc(arena *a, size_t size);
char *ar_strndup(arena *a, const char *s, size_t n);
/* Records "expr:line:col: message" unless an error is already recorded; returns -1. */
int ar_fail(arena *a, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void ar_free(arena *a);

/* Parses text into statements (lang.c). */
int lang_parse_stmts(arena *a, const char *text, int *nstmts, stmt **stmts);

/* Resolves, infers ranges and builds the compute (lang_sema.c). */
int lang_build(arena *a, int nstmts, stmt *stmts, const char *name, int ninputs,
               const tt_lang_input *inputs, int nextents, const tt_lang_extent *extents,
               tt_compute **out);

#endif
