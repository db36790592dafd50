/* Shared state of the search space (search/space.c builds it, search/space_emit.c turns decisions
 * into steps and back, search/space_sample.c samples, mutates and crosses them). Not a public
 * header: only the search/ sources include it. */
#ifndef TT_SEARCH_SPACE_INTERNAL_H
#define TT_SEARCH_SPACE_INTERNAL_H

#include "search/search.h"

#define SP_MAX_INNER 3      /* inner tile levels of a spatial axis (S1 S2 S3) */
#define SP_MAX_LANES 64     /* ir/lower: widest vectorised loop */
#define SP_MAX_UNROLL 64    /* ir/lower: longest unrolled loop */
#define SP_MAX_BODY 512     /* copies of the statement in the unrolled body of a tile */
#define SP_MAX_OVERSHOOT 64 /* ir/lower: split factors may exceed the extent up to this product */

typedef unsigned __int128 sp_count;

/* One way to tile an axis: the inner extents, outer to inner (the split step's factors). */
typedef struct {
    int64_t f[SP_MAX_INNER];
    int64_t weight; /* register-tile footprint (S2*S3), 1 where no budget applies */
    bool divides;   /* the product divides the extent: no guard */
} sp_tuple;

/* A non-trivial (extent > 1) axis of the main stage and its tilings. */
typedef struct {
    const char *name; /* the axis' loop name */
    int64_t extent;
    bool reduce;
    int ninner; /* inner levels: 3 (S1 S2 S3), 1 (S1 of an elementwise stage, R1) */
    int ntuples;
    sp_tuple *tuples;
} sp_axis;

typedef enum {
    D_SPATIAL,  /* ref: spatial axis; value: tuple index (register budget shared) */
    D_REDUCE,   /* ref: reduce axis; value: tuple index */
    D_PAR,      /* value k: the k outermost tiles fused and parallel (0: none) */
    D_VEC,      /* vectorise the innermost tile of the vector axis */
    D_UNROLL_S, /* unroll the innermost tiles of the spatial axes besides the vector axis */
    D_UNROLL_R, /* unroll the inner reduce tiles */
    D_CACHE,    /* accumulate the register tile in a local buffer (cache_write); value
                 * D_CACHE_KBLOCK: with R0 outside S1 (k blocking) */
    D_PACK,     /* ref: pack candidate; pack it into panels of the vector tile */
    D_PRE,      /* ref: stage before main: 0 inlined, k > 0 root with option k - 1 */
    D_AUX,      /* ref: other root stage: root with option k */
} sp_dkind;

#define D_CACHE_KBLOCK 2

typedef struct {
    sp_dkind kind;
    int n;   /* domain size (values 0..n-1) */
    int ref; /* axis, pack candidate or stage index */
} sp_decision;

typedef struct {
    const char *tensor; /* an input read by the main stage */
    int dim;            /* indexed by the vector axis alone */
    bool strided;       /* dim is not the last: unpacked, the vector gathers */
} sp_pack;

/* One variant of the space: every decision below for one choice of the vector axis. */
typedef struct sp_var {
    tt_compute *c;
    tt_space_opts opts;
    int lanes;      /* vector lanes of the output dtype */
    int64_t budget; /* register tile: max product of S2*S3 over spatial axes */
    int main;       /* the stage tiled with the full structure */
    const char *main_name;
    bool reduction; /* main has reduce axes: S0 S1 R0 S2 R1 S3, else S0 S1 */
    int nspatial;
    sp_axis *spatial; /* non-trivial spatial axes of main, in order */
    int ntriv_s;
    const char **triv_s; /* spatial axes of extent 1: left unsplit, outermost */
    int nreduce;
    sp_axis *reduce;
    int ntriv_r;
    const char **triv_r;
    int vec;       /* index in spatial of the vector axis (innermost in S2 and S3); -1: none */
    int row;       /* the default's register-tile row axis: reads along it reuse the vector */
    bool epilogue; /* the output is fused into main as an epilogue */
    int nforced;
    int *forced; /* elementwise stages after main: always inlined */
    int npack;
    sp_pack *pack;
    int npre;
    int *pre; /* elementwise stages before main: inlined, or root with an option */
    unsigned char *pre_caps;
    int naux;
    int *aux; /* other root stages (reductions besides main, an output not fused) */
    unsigned char *aux_caps;
    int ndec;
    sp_decision *dec; /* the spatial tiles first (dec[a] is spatial axis a) */
    /* Where the other decisions sit in dec. */
    int d_reduce, d_par, d_vec, d_unroll_s, d_unroll_r, d_cache, d_pack, d_pre, d_aux;

    /* cnt[a * (budget + 1) + p]: tile choices for spatial axes a.. with footprint p so far;
     * wcnt likewise, weighting dividing tilings higher (sampling). */
    sp_count *cnt;
    double *wcnt;
    sp_count nother; /* product of the other decisions' domains */
    sp_count total;
} sp_var;

/* The space: the union of its variants, which differ in the vector axis. Variant 0 vectorises
 * the output's stride-1 axis; variant 1, where there is one, another axis whose reads are
 * broadcasts or packable panels (an NCHW conv's output channels, a skinny matmul's rows), for
 * computes whose stride-1 axis makes poor vectors (search/space_variant.c). A decision vector
 * holds its variant's decisions, then (with two variants) the variant in v[ndec - 1]. */
#define SP_MAX_VARIANTS 2
struct tt_space {
    tt_compute *c;
    int nvar;
    sp_var *var[SP_MAX_VARIANTS];
    int ndec;       /* the longest variant's decisions, plus the variant's own slot */
    sp_count total; /* points of all variants */
};

/* Options of a root stage besides main: its outer loops fused and parallel, its innermost
 * axis split by the lanes and vectorised (elementwise stages). A stage's caps say which it
 * allows; its decision's values are the allowed masks in increasing order. */
#define SP_ROOT_PAR 1u
#define SP_ROOT_VEC 2u
int sp_root_count(unsigned caps);
unsigned sp_root_mask(unsigned caps, int k);
int sp_root_index(unsigned caps, unsigned mask); /* -1 when caps do not allow mask */

/* A variant (search/space.c): vec_axis names the vector axis, NULL for the output's stride-1
 * axis. */
int var_new(const tt_compute *c, const tt_space_opts *opts, const char *vec_axis, sp_var **out);
void var_free(sp_var *sp);
/* The axis a second variant vectorises (a name in c), or NULL when v0's is good enough. */
const char *var_alt_axis(const sp_var *v0);
/* The default schedule's decisions. */
void var_default(const sp_var *sp, int *v);

/* The top level (search/space_variant.c): the same operations on a decision vector of the
 * whole space, dispatched to its variant. */
int sp_emit(const tt_space *sp, const int *v, tt_schedule **out);
int sp_decode(const tt_space *sp, const tt_schedule *s, int *v);
void sp_unrank(const tt_space *sp, sp_count index, int *v);
void sp_sample_dec(const tt_space *sp, uint64_t *rng, int *v);
bool sp_mutate_dec(const tt_space *sp, uint64_t *rng, int *v);
void sp_cross_dec(const tt_space *sp, uint64_t *rng, const int *a, const int *b, int *child);
/* Variant k's default schedule (tt_space_default is variant 0's). */
void sp_default_dec(const tt_space *sp, int k, int *v);

/* Decisions -> schedule (search/space_emit.c). *out is a new schedule. */
int var_emit(const sp_var *sp, const int *v, tt_schedule **out);
/* Schedule -> decisions: the one point whose schedule is s, or -1 with a message. */
int var_decode(const sp_var *sp, const tt_schedule *s, int *v);
/* Footprint of the spatial tiles of v; whether v respects the budget. */
int64_t var_footprint(const sp_var *sp, const int *v);
/* Decisions of point index (mixed radix over the other decisions, DP unrank over tiles). */
void var_unrank(const sp_var *sp, sp_count index, int *v);

/* xorshift64* in [0, n). */
uint64_t sp_rand(uint64_t *rng);
int64_t sp_below(uint64_t *rng, int64_t n);
double sp_uniform(uint64_t *rng);

/* Random decisions (search/space_sample.c). */
void var_sample_dec(const sp_var *sp, uint64_t *rng, int *v);
/* Changes exactly one decision of v; false when no decision can change. */
bool var_mutate_dec(const sp_var *sp, uint64_t *rng, int *v);
void var_cross_dec(const sp_var *sp, uint64_t *rng, const int *a, const int *b, int *child);

#endif
