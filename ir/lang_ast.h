/* Internal to the expression language (ir/lang.c parses, ir/lang_sema.c resolves names and builds
 * the IR, ir/lang_infer.c infers ranges): the syntax tree, the per-statement analysis state, the
 * arena that owns the tree, and error reporting with line:column. */
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
enum { F_EXP, F_SQRT, F_LOG, F_TANH, F_ABS, F_SELECT, F_MIN, F_MAX, F_CAST };

typedef struct node node;
struct node {
    int kind, op, line, col;
    int height; /* of the subtree: bounded so later recursive passes cannot exhaust the stack */
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

void *lang_ar_alloc(arena *a, size_t size);
char *lang_ar_strndup(arena *a, const char *s, size_t n);
/* Records "expr:line:col: message" unless an error is already recorded; returns -1. */
int lang_ar_fail(arena *a, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void lang_ar_free(arena *a);

#define MAXS 64 /* axes per statement */

typedef struct {
    const char *name;
    int line, col;
    int reduce;
    int64_t ext; /* -1 while unknown */
    int fixed;   /* given explicitly: not tightened, only checked */
} slotinfo;

/* One dimension of one access: index expression and what it must stay within. */
typedef struct {
    node *acc, *idx;
    int dim;
    int64_t len;
    int guarded, affine;
    int64_t c0, coef[MAXS];
    int fact; /* innermost select condition fact in force where it is read, -1 none */
} cons;

/* What a select's condition guarantees in a branch: coef . axes + c0 >= 0; parent chains to the
 * facts of enclosing selects. */
typedef struct {
    int64_t c0, coef[MAXS];
    int parent;
} fact;

typedef struct {
    arena *a;
    int ntensors;
    tt_tensor **tensors; /* inputs, then stage outputs (borrowed) */
    int nextents;
    const tt_lang_extent *extents;
    char *ext_used;
    int nstages, cap_stages;
    tt_stage **stages; /* owned */
    /* the statement being processed */
    const stmt *st;
    slotinfo slots[MAXS];
    int nslots;
    int scope[MAXS], nscope;
    int guard[MAXS];
    cons *cons;
    int ncons, cap_cons;
    fact *facts;
    int nfacts, cap_facts, cur_fact;
    int nsplit;
    DLDataType deffloat;
} sema;

/* Parses text into statements (lang.c). */
int lang_parse_stmts(arena *a, const char *text, int *nstmts, stmt **stmts);

/* Resolves, infers ranges and builds the compute (lang_sema.c). */
int lang_build(arena *a, int nstmts, stmt *stmts, const char *name, int ninputs,
               const tt_lang_input *inputs, int nextents, const tt_lang_extent *extents,
               tt_compute **out);

/* Linear form of index d of tensor tname (lang_infer.c): c0 + sum coef[s] * axis s, *affine = 0
 * when // or % of an axis makes it non-linear; -1 for anything that is not an index expression. */
int lang_lin(sema *S, const char *tname, int d, node *n, int64_t *coef, int64_t *c0, int *affine);
/* Pushes what cond (or, when holds is 0, its negation) guarantees: its affine comparisons joined
 * by && (|| when negated); S->cur_fact becomes the innermost (lang_infer.c). */
int lang_push_facts(sema *S, const node *cond, int holds);
/* Gives every axis of the statement its range and checks the unguarded accesses (lang_infer.c). */
int lang_infer(sema *S);

#endif
