/* Feature extraction (cost_model/features.h): one recursive walk of a kernel's loop IR with a
 * fixed-size loop stack, counting what every statement executes and describing the hottest
 * store's loops and buffers. Little allocation (only the linear forms of the hot store's indices):
 * search scores thousands of candidates per batch. */
#include "cost_model/features.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/analysis.h"

#define MAX_DEPTH 64
#define MAX_LOADS 16 /* loads of one store's value that are described (more are only counted) */
#define MAX_ACC 16   /* buffers whose accumulating stores are counted (hot_copies) */

typedef struct {
    const tt_expr *var;
    double extent;
    tt_for_kind kind;
} loop;

/* An index as sum coef[d] * loop_d + c0 over the loop stack. */
typedef struct {
    double coef[MAX_DEPTH];
    bool affine;
} affine;

typedef struct {
    const tt_buffer *buf;
    const tt_expr *index;
} access;

typedef struct {
    loop loops[MAX_DEPTH];
    int depth;
    double mult; /* executions of the current statement per call */
    int guarded; /* if statements around the current statement */
    int par_depth, vec_depth;
    float *f;
    double hot_score;
    double stores_total, stores_par, stores_vec, stores_guarded;
    /* scratch for one store: its loads */
    access loads[MAX_LOADS];
    int nloads;
    double float_ops; /* of the current store's value, per execution */
    /* work (executions * (1 + float ops)) of all stores, under an if, into WORKSPACE buffers */
    double work_total, work_guarded, work_workspace;
    /* accumulating store statements per target buffer (the first MAX_ACC buffers) */
    const tt_buffer *acc_buf[MAX_ACC];
    int acc_count[MAX_ACC], nacc;
    const tt_buffer *hot_buf;
    const tt_feat_machine *machine;
} walker;

/* ---- arithmetic counts ---- */

/* Counts the operations of e (executed w->mult times) into the kernel-wide features; collects
 * the loads when collect is set. */
static void count_expr(walker *w, const tt_expr *e, bool collect)
{
    float *f = w->f;
    double m = w->mult;
    bool fl = tt_dtype_is_float(e->dtype);
    switch (e->kind) {
    case TT_EXPR_ADD:
    case TT_EXPR_SUB:
        f[fl ? TT_F_FLOAT_ADDSUB : TT_F_INT_ADDSUB] += m;
        break;
    case TT_EXPR_MUL:
        f[fl ? TT_F_FLOAT_MUL : TT_F_INT_MUL] += m;
        break;
    case TT_EXPR_DIV:
    case TT_EXPR_MOD:
        f[fl ? TT_F_FLOAT_DIV : TT_F_INT_DIVMOD] += m;
        break;
    case TT_EXPR_MIN:
    case TT_EXPR_MAX:
        f[fl ? TT_F_FLOAT_MINMAX : TT_F_INT_ADDSUB] += m;
        break;
    case TT_EXPR_EQ:
    case TT_EXPR_NE:
    case TT_EXPR_LT:
    case TT_EXPR_LE:
    case TT_EXPR_GT:
    case TT_EXPR_GE:
        f[tt_dtype_is_float(e->args[0]->dtype) ? TT_F_FLOAT_CMP : TT_F_INT_CMP_LOGIC] += m;
        break;
    case TT_EXPR_AND:
    case TT_EXPR_OR:
    case TT_EXPR_NOT:
        f[TT_F_INT_CMP_LOGIC] += m;
        break;
    case TT_EXPR_SELECT:
        f[TT_F_SELECTS] += m;
        break;
    case TT_EXPR_CALL:
        if (fl)
            f[TT_F_FLOAT_CALL] += m;
        break;
    case TT_EXPR_LOAD:
        f[TT_F_LOADS] += m;
        f[TT_F_BYTES_LOADED] += m * (e->buffer->dtype.bits / 8.0) * e->buffer->dtype.lanes;
        if (collect && w->nloads < MAX_LOADS)
            w->loads[w->nloads++] = (access){e->buffer, e->args[0]};
        count_expr(w, e->args[0], false); /* index arithmetic */
        return;
    default:
        break;
    }
    bool arith = e->kind == TT_EXPR_ADD || e->kind == TT_EXPR_SUB || e->kind == TT_EXPR_MUL ||
                 e->kind == TT_EXPR_DIV || e->kind == TT_EXPR_MIN || e->kind == TT_EXPR_MAX ||
                 e->kind == TT_EXPR_CALL;
    if (fl && arith) {
        f[TT_F_FLOAT_OPS] += m;
        if (collect)
            w->float_ops += 1;
    }
    for (int i = 0; i < e->nargs; i++)
        count_expr(w, e->args[i], collect);
}

/* ---- index analysis ---- */

static int stack_pos(const walker *w, const tt_expr *var)
{
    for (int d = w->depth - 1; d >= 0; d--)
        if (w->loops[d].var == var)
            return d;
    return -1;
}

/* Adds scale * e to a over ir/analysis.h's linear form: loop variables take their coefficients
 * (other variables are invariant), and a floor div or mod by a constant is followed into its
 * dividend (scaled by 1/c for div) as an approximate stride, marking the index non-affine. */
static void decompose(const walker *w, const tt_expr *e, double scale, affine *a)
{
    tt_linear f = {0};
    tt_linear_of(e, NULL, &f);
    a->affine &= !f.bad;
    for (int i = 0; !f.bad && i < f.n; i++) {
        const tt_expr *t = f.t[i].atom;
        double s = scale * (double)f.t[i].coef;
        int64_t c;
        if (t->kind == TT_EXPR_VAR) {
            int d = stack_pos(w, t);
            if (d >= 0)
                a->coef[d] += s;
        } else if ((t->kind == TT_EXPR_DIV || t->kind == TT_EXPR_MOD) &&
                   tt_expr_is_const(t->args[1], &c) && c != 0) {
            a->affine = false;
            decompose(w, t->args[0], t->kind == TT_EXPR_DIV ? s / (double)c : s, a);
        } else {
            a->affine = false;
        }
    }
    tt_linear_free(&f);
}

/* Describes one access of the hot store in buffer slot s; returns the bytes it touches. */
static double describe_slot(walker *w, int s, const access *ac)
{
    float *f = w->f;
    affine a;
    memset(a.coef, 0, sizeof(double) * (size_t)w->depth);
    a.affine = true;
    decompose(w, ac->index, 1.0, &a);
    const tt_buffer *b = ac->buf;
    double eb = (b->dtype.bits / 8.0) * b->dtype.lanes;
    double numel = (double)b->numel;
    f[TT_F_SLOT(s, TT_FS_PRESENT)] = 1;
    f[TT_F_SLOT(s, TT_FS_ELEM_BYTES)] = (float)eb;
    f[TT_F_SLOT(s, TT_FS_SCOPE)] = (float)b->scope;
    f[TT_F_SLOT(s, TT_FS_BUFFER_BYTES)] = (float)(numel * eb);
    f[TT_F_SLOT(s, TT_FS_AFFINE)] = a.affine ? 1.0f : 0.0f;
    f[TT_F_SLOT(s, TT_FS_INNER_STRIDE)] = w->depth > 0 ? (float)fabs(a.coef[w->depth - 1]) : 0;
    f[TT_F_SLOT(s, TT_FS_FIRST_VAR_LEVEL)] = TT_FEAT_LEVELS;
    bool first = true;
    double prod_nz = 1, span = 0, accesses = 1;
    for (int l = 0; l < w->depth; l++) {
        int d = w->depth - 1 - l;
        double c = fabs(a.coef[d]), ext = w->loops[d].extent;
        accesses *= ext;
        if (c != 0) {
            prod_nz *= ext;
            span += c * (ext - 1);
            if (first && l < TT_FEAT_LEVELS) {
                f[TT_F_SLOT(s, TT_FS_FIRST_VAR_LEVEL)] = (float)l;
                f[TT_F_SLOT(s, TT_FS_FIRST_VAR_STRIDE)] = (float)c;
            }
            first = false;
        }
        if (l < TT_FEAT_LEVELS) {
            double distinct = fmin(numel, fmin(prod_nz, floor(span) + 1));
            f[TT_F_SLOT(s, TT_FS_FOOTPRINT + l)] = (float)(distinct * eb);
            f[TT_F_SLOT(s, TT_FS_REUSE + l)] = (float)(accesses / distinct);
        }
    }
    double distinct = fmin(numel, fmin(prod_nz, floor(span) + 1));
    f[TT_F_SLOT(s, TT_FS_BYTES_TOUCHED)] = (float)(distinct * eb);
    return distinct * eb;
}

static double slot_bytes(walker *w, const access *ac)
{
    /* the whole-nest footprint only, to order the loads */
    affine a;
    memset(a.coef, 0, sizeof(double) * (size_t)w->depth);
    a.affine = true;
    decompose(w, ac->index, 1.0, &a);
    double prod_nz = 1, span = 0;
    for (int d = 0; d < w->depth; d++)
        if (a.coef[d] != 0) {
            prod_nz *= w->loops[d].extent;
            span += fabs(a.coef[d]) * (w->loops[d].extent - 1);
        }
    double eb = (ac->buf->dtype.bits / 8.0) * ac->buf->dtype.lanes;
    return fmin((double)ac->buf->numel, fmin(prod_nz, floor(span) + 1)) * eb;
}

/* Lanes of the target's widest vector register for elements of elem_bytes; 0 when unknown. */
static double lanes_of(const walker *w, double elem_bytes)
{
    int bits = w->machine ? w->machine->vector_bits : 0;
    return floor(bits / (elem_bytes * 8));
}

/* How the hot vector loop (vec elements of elem_bytes) fills the target's registers. */
static void vector_fill(walker *w, double vec, double elem_bytes)
{
    float *f = w->f;
    double lanes = lanes_of(w, elem_bytes);
    if (vec <= 1)
        return; /* no vector loop: nothing wasted */
    if (!(lanes >= 1)) {
        f[TT_F_VECTOR_LANE_WASTE] = NAN;
        return;
    }
    double regs = ceil(vec / lanes);
    f[TT_F_VECTOR_LANE_WASTE] = (float)(1 - vec / (regs * lanes));
}

/* The accumulators the hot store st keeps live across its innermost reduce loop (extent > 1):
 * the spatial loops inside that loop sweep them once per reduce iteration, so they stay in
 * registers only when they fit (the BLIS micro-kernel's register block). */
static void register_tile(walker *w, const tt_stmt *st)
{
    float *f = w->f;
    double eb = (st->buffer->dtype.bits / 8.0) * st->buffer->dtype.lanes;
    double elems = 1, vec_ext = 0;
    int l = 0;
    for (; l < w->depth; l++) {
        const loop *lp = &w->loops[w->depth - 1 - l];
        if (!tt_expr_uses_var(st->index, lp->var)) {
            if (lp->extent > 1)
                break;
            continue;
        }
        elems *= lp->extent;
        if (lp->kind == TT_FOR_VECTORIZED)
            vec_ext = lp->extent;
    }
    if (l == w->depth)
        return; /* no reduction around: nothing stays live */
    f[TT_F_REG_TILE_ELEMS] = (float)elems;
    double lanes = lanes_of(w, eb);
    int regs = w->machine ? w->machine->vector_regs : 0;
    if (!(lanes >= 1)) {
        f[TT_F_REG_TILE_VECTORS] = f[TT_F_REG_TILE_PRESSURE] = NAN;
        return;
    }
    /* a run of the vector loop fills ceil(ext / lanes) registers; scalars take one each */
    double vectors = vec_ext > 0 ? elems / vec_ext * ceil(vec_ext / lanes) : elems;
    f[TT_F_REG_TILE_VECTORS] = (float)vectors;
    f[TT_F_REG_TILE_PRESSURE] = regs > 0 ? (float)(vectors / regs) : NAN;
}

/* Rewrites the hot-store features for store st (executed w->mult times). */
static void describe_hot(walker *w, const tt_stmt *st)
{
    float *f = w->f;
    memset(f + TT_F_HOT_EXECUTIONS, 0,
           sizeof(float) * (size_t)(TT_FEATURE_COUNT - TT_F_HOT_EXECUTIONS));
    f[TT_F_HOT_EXECUTIONS] = (float)w->mult;
    f[TT_F_HOT_FLOAT_OPS] = (float)w->float_ops;
    f[TT_F_HOT_DEPTH] = (float)w->depth;
    double spatial = 1, reduce = 1, par = 1, vec = 1, unroll = 1;
    for (int l = 0; l < w->depth; l++) {
        const loop *lp = &w->loops[w->depth - 1 - l];
        bool red = !tt_expr_uses_var(st->index, lp->var);
        *(red ? &reduce : &spatial) *= lp->extent;
        if (lp->kind == TT_FOR_PARALLEL)
            par *= lp->extent;
        else if (lp->kind == TT_FOR_VECTORIZED)
            vec *= lp->extent;
        else if (lp->kind == TT_FOR_UNROLLED)
            unroll *= lp->extent;
        if (l < TT_FEAT_LEVELS) {
            f[TT_F_LEVEL(l, TT_FL_EXTENT)] = (float)lp->extent;
            f[TT_F_LEVEL(l, TT_FL_KIND)] = (float)lp->kind;
            f[TT_F_LEVEL(l, TT_FL_REDUCE)] = red ? 1.0f : 0.0f;
        }
    }
    register_tile(w, st);
    f[TT_F_HOT_SPATIAL_PRODUCT] = (float)spatial;
    f[TT_F_HOT_REDUCE_PRODUCT] = (float)reduce;
    f[TT_F_HOT_PARALLEL_PROD] = (float)par;
    f[TT_F_HOT_PARALLEL_GRAIN] = (float)(w->mult / par);
    f[TT_F_HOT_VECTOR_WIDTH] = (float)vec;
    f[TT_F_HOT_UNROLL_PRODUCT] = (float)unroll;
    vector_fill(w, vec, (st->buffer->dtype.bits / 8.0) * st->buffer->dtype.lanes);
    int threads = w->machine ? w->machine->threads : 0;
    f[TT_F_PAR_TASKS_PER_THREAD] = threads > 0 ? (float)(par / threads) : NAN;
    f[TT_F_PAR_IMBALANCE] = threads > 0 ? (float)(ceil(par / threads) * threads / par) : NAN;

    /* slot 0: the target; then distinct loaded buffers other than the target, largest first */
    access target = {st->buffer, st->index};
    double bytes = describe_slot(w, 0, &target);
    access uniq[MAX_LOADS];
    double ub[MAX_LOADS];
    int nu = 0;
    for (int i = 0; i < w->nloads; i++) {
        if (w->loads[i].buf == st->buffer) {
            f[TT_F_HOT_ACCUMULATES] = 1;
            continue;
        }
        int j = 0;
        while (j < nu && uniq[j].buf != w->loads[i].buf)
            j++;
        if (j < nu)
            continue;
        uniq[nu] = w->loads[i];
        ub[nu] = slot_bytes(w, &w->loads[i]);
        /* insertion keeps the earlier of equal sizes first */
        int p = nu++;
        while (p > 0 && ub[p - 1] < ub[p]) {
            access ta = uniq[p - 1];
            uniq[p - 1] = uniq[p];
            uniq[p] = ta;
            double tb = ub[p - 1];
            ub[p - 1] = ub[p];
            ub[p] = tb;
            p--;
        }
    }
    for (int i = 0; i < nu && i + 1 < TT_FEAT_SLOTS; i++)
        bytes += describe_slot(w, i + 1, &uniq[i]);
    f[TT_F_HOT_INTENSITY] = bytes > 0 ? (float)(w->mult * w->float_ops / bytes) : 0;
}

/* ---- the walk ---- */

/* Counts store s (its loads collected) when its value reads the buffer it stores to. */
static void count_accumulation(walker *w, const tt_stmt *s)
{
    int i = 0;
    while (i < w->nloads && w->loads[i].buf != s->buffer)
        i++;
    if (i == w->nloads)
        return;
    int j = 0;
    while (j < w->nacc && w->acc_buf[j] != s->buffer)
        j++;
    if (j == w->nacc) {
        if (w->nacc == MAX_ACC)
            return;
        w->acc_buf[w->nacc] = s->buffer;
        w->acc_count[w->nacc++] = 0;
    }
    w->acc_count[j]++;
}

static int walk(walker *w, const tt_stmt *s)
{
    float *f = w->f;
    switch (s->kind) {
    case TT_STMT_FOR: {
        if (w->depth >= MAX_DEPTH)
            return tt_error_set("features: loops nest deeper than %d", MAX_DEPTH);
        int64_t ext = 1;
        if (!tt_expr_is_const(s->extent, &ext))
            ext = 1; /* lowering gives constant extents; count an unknown one once */
        f[TT_F_N_LOOPS] += 1;
        if (w->depth == 0)
            f[TT_F_N_NESTS] += 1;
        if (w->depth + 1 > f[TT_F_MAX_DEPTH])
            f[TT_F_MAX_DEPTH] = (float)(w->depth + 1);
        f[TT_F_N_PARALLEL_LOOPS] += s->for_kind == TT_FOR_PARALLEL;
        f[TT_F_N_VECTOR_LOOPS] += s->for_kind == TT_FOR_VECTORIZED;
        f[TT_F_N_UNROLLED_LOOPS] += s->for_kind == TT_FOR_UNROLLED;
        w->loops[w->depth++] = (loop){s->var, (double)(ext > 0 ? ext : 0), s->for_kind};
        double saved = w->mult;
        w->mult *= (double)(ext > 0 ? ext : 0);
        w->par_depth += s->for_kind == TT_FOR_PARALLEL;
        w->vec_depth += s->for_kind == TT_FOR_VECTORIZED;
        int rc = walk(w, s->body);
        w->par_depth -= s->for_kind == TT_FOR_PARALLEL;
        w->vec_depth -= s->for_kind == TT_FOR_VECTORIZED;
        w->mult = saved;
        w->depth--;
        return rc;
    }
    case TT_STMT_SEQ:
        for (int i = 0; i < s->nstmts; i++)
            if (walk(w, s->stmts[i]) != 0)
                return -1;
        return 0;
    case TT_STMT_IF: {
        f[TT_F_N_IFS] += 1;
        count_expr(w, s->cond, false);
        w->guarded++;
        int rc = walk(w, s->then_s);
        if (rc == 0 && s->else_s)
            rc = walk(w, s->else_s);
        w->guarded--;
        return rc;
    }
    case TT_STMT_ALLOC: {
        const tt_buffer *b = s->buffer;
        double bytes = (double)b->numel * (b->dtype.bits / 8.0) * b->dtype.lanes;
        f[b->scope == TT_SCOPE_LOCAL ? TT_F_LOCAL_BYTES : TT_F_WORKSPACE_BYTES] += (float)bytes;
        return walk(w, s->body);
    }
    case TT_STMT_STORE: {
        double m = w->mult;
        f[TT_F_N_STORE_STMTS] += 1;
        f[TT_F_STORES] += m;
        f[TT_F_BYTES_STORED] += m * (s->buffer->dtype.bits / 8.0) * s->buffer->dtype.lanes;
        w->stores_total += m;
        w->stores_par += w->par_depth > 0 ? m : 0;
        w->stores_vec += w->vec_depth > 0 ? m : 0;
        w->stores_guarded += w->guarded > 0 ? m : 0;
        w->nloads = 0;
        w->float_ops = 0;
        count_expr(w, s->index, false);
        count_expr(w, s->value, true);
        double score = m * (1 + w->float_ops);
        w->work_total += score;
        w->work_guarded += w->guarded > 0 ? score : 0;
        w->work_workspace += s->buffer->scope == TT_SCOPE_WORKSPACE ? score : 0;
        count_accumulation(w, s);
        if (score > w->hot_score) {
            w->hot_score = score;
            w->hot_buf = s->buffer;
            describe_hot(w, s);
        }
        return 0;
    }
    default:
        return tt_error_set("features: unknown statement kind %d", (int)s->kind);
    }
}

int tt_features_extract(const tt_kernel *k, const tt_feat_machine *m, float *out)
{
    if (!k || !out)
        return tt_error_set("features: expected a kernel and an output array");
    walker w;
    w.depth = 0;
    w.mult = 1;
    w.guarded = w.par_depth = w.vec_depth = 0;
    w.f = out;
    w.hot_score = -1;
    w.stores_total = w.stores_par = w.stores_vec = w.stores_guarded = 0;
    w.nloads = 0;
    w.float_ops = 0;
    w.work_total = w.work_guarded = w.work_workspace = 0;
    w.nacc = 0;
    w.hot_buf = NULL;
    w.machine = m;
    memset(out, 0, sizeof(float) * TT_FEATURE_COUNT);
    if (k->body && walk(&w, k->body) != 0)
        return -1;
    if (w.stores_total > 0) {
        out[TT_F_PARALLEL_FRACTION] = (float)(w.stores_par / w.stores_total);
        out[TT_F_VECTOR_FRACTION] = (float)(w.stores_vec / w.stores_total);
        out[TT_F_GUARDED_FRACTION] = (float)(w.stores_guarded / w.stores_total);
    }
    if (w.work_total > 0) {
        out[TT_F_HOT_WORK_SHARE] = (float)(w.hot_score / w.work_total);
        out[TT_F_GUARDED_WORK_SHARE] = (float)(w.work_guarded / w.work_total);
        out[TT_F_WORKSPACE_WORK_SHARE] = (float)(w.work_workspace / w.work_total);
    }
    for (int j = 0; j < w.nacc; j++)
        if (w.acc_buf[j] == w.hot_buf)
            out[TT_F_HOT_COPIES] = (float)w.acc_count[j];
    return 0;
}

static const char *const names[TT_FEAT_LEVEL_BASE] = {
    "float_ops",
    "float_addsub",
    "float_mul",
    "float_div",
    "float_minmax",
    "float_call",
    "float_cmp",
    "selects",
    "int_addsub",
    "int_mul",
    "int_divmod",
    "int_cmp_logic",
    "loads",
    "stores",
    "bytes_loaded",
    "bytes_stored",
    "n_store_stmts",
    "n_loops",
    "max_depth",
    "n_nests",
    "n_parallel_loops",
    "parallel_fraction",
    "n_vector_loops",
    "vector_fraction",
    "n_unrolled_loops",
    "local_bytes",
    "workspace_bytes",
    "n_ifs",
    "guarded_fraction",
    "hot_executions",
    "hot_float_ops",
    "hot_depth",
    "hot_spatial_product",
    "hot_reduce_product",
    "hot_parallel_prod",
    "hot_parallel_grain",
    "hot_vector_width",
    "hot_unroll_product",
    "hot_intensity",
    "hot_accumulates",
    "hot_work_share",
    "hot_copies",
    "guarded_work_share",
    "workspace_work_share",
    "reg_tile_elems",
    "reg_tile_vectors",
    "reg_tile_pressure",
    "vector_lane_waste",
    "par_tasks_per_thread",
    "par_imbalance",
};

const char *tt_feature_name(int i, char *buf, size_t size)
{
    static const char *const level[] = {"extent", "kind", "reduce"};
    static const char *const slot[] = {"present",          "elem_bytes",   "scope",
                                       "buffer_bytes",     "inner_stride", "first_var_level",
                                       "first_var_stride", "affine",       "bytes_touched"};
    if (!buf || size == 0)
        return "";
    buf[0] = '\0';
    if (i < 0 || i >= TT_FEATURE_COUNT)
        return buf;
    if (i < TT_FEAT_LEVEL_BASE) {
        snprintf(buf, size, "%s", names[i]);
    } else if (i < TT_FEAT_SLOT_BASE) {
        int r = i - TT_FEAT_LEVEL_BASE;
        snprintf(buf, size, "level%d_%s", r / 3, level[r % 3]);
    } else {
        int r = i - TT_FEAT_SLOT_BASE, s = r / TT_FEAT_SLOT_SIZE, o = r % TT_FEAT_SLOT_SIZE;
        if (o < TT_FS_FOOTPRINT)
            snprintf(buf, size, "slot%d_%s", s, slot[o]);
        else if (o < TT_FS_REUSE)
            snprintf(buf, size, "slot%d_footprint_%d", s, o - TT_FS_FOOTPRINT);
        else
            snprintf(buf, size, "slot%d_reuse_%d", s, o - TT_FS_REUSE);
    }
    return buf;
}
