/* Features of a candidate for the cost model: one fixed-length float vector per lowered kernel
 * (loop IR, ir/ir.h), computed in one walk of the IR. search/ and tuner/ lower a schedule, call
 * tt_features_extract, and hand the vectors to the XGBoost model (cost_model/model.h).
 *
 * Counts are per kernel call: a statement inside loops counts (product of the enclosing loop
 * extents) times; a vector lane counts as one element. Values are raw (not log-scaled): the
 * model is an ensemble of trees, which only compares a feature with thresholds.
 *
 * The "hot store" is the store statement with the most work, executions * (1 + float ops of its
 * value); the loop and buffer features describe it and the loops around it (matmul: the
 * accumulation C[..] = C[..] + A[..] * B[..]). Loop levels count from the innermost loop around
 * the hot store (level 0) outwards; levels past TT_FEAT_LEVELS are not described one by one
 * (their effect is in the whole-nest totals). Index analysis treats a flat index as affine in the
 * loop variables (sum c_v * v + c0); floor division by a constant scales the coefficients down,
 * modulo keeps them (both flagged non-affine); anything else (a load in an index) is non-affine
 * with coefficient 0. Distinct elements a loop nest touches are estimated as
 *     min(buffer elements, product of extents of the loops with c_v != 0,
 *         1 + sum over those loops of |c_v| * (extent - 1)),
 * exact for row-major tiles of a box.
 *
 *  index            name                meaning
 *  ---------------- ------------------- ---------------------------------------------------------
 *  Kernel-wide (all statements)
 *   0               float_ops           float arithmetic executed (add, sub, mul, div, min, max,
 *                                       call; a multiply-add is 2), all stores
 *   1               float_addsub        float add and sub executed
 *   2               float_mul           float mul executed
 *   3               float_div           float div executed
 *   4               float_minmax        float min and max executed
 *   5               float_call          math intrinsic calls (exp, sqrt, ...) executed
 *   6               float_cmp           comparisons of float operands executed
 *   7               selects             select expressions executed
 *   8               int_addsub          integer add and sub executed (index arithmetic included)
 *   9               int_mul             integer mul executed
 *  10               int_divmod          integer div and mod executed
 *  11               int_cmp_logic       integer comparisons, and/or/not executed (guards too)
 *  12               loads               elements loaded
 *  13               stores              elements stored
 *  14               bytes_loaded        bytes loaded (elements * element size)
 *  15               bytes_stored        bytes stored
 *  16               n_store_stmts       store statements in the kernel
 *  17               n_loops             loop statements in the kernel
 *  18               max_depth           deepest loop nesting
 *  19               n_nests             loops not inside another loop
 *  20               n_parallel_loops    parallel loop statements
 *  21               parallel_fraction   share of stored elements stored inside a parallel loop
 *  22               n_vector_loops      vectorized loop statements
 *  23               vector_fraction     share of stored elements stored inside a vectorized loop
 *  24               n_unrolled_loops    unrolled loop statements
 *  25               local_bytes         bytes of LOCAL buffers (cache_write tiles), summed over
 *                                       their allocations (once each, not per iteration)
 *  26               workspace_bytes     bytes of WORKSPACE buffers (packed panels)
 *  27               n_ifs               if statements (guards of non-dividing tiles)
 *  28               guarded_fraction    share of stored elements stored under an if
 *  The hot store
 *  29               hot_executions      times the hot store runs per call
 *  30               hot_float_ops       float ops of its value (per execution)
 *  31               hot_depth           loops around it
 *  32               hot_spatial_product product of extents of its loops whose variable appears in
 *                                       the stored index (the output tile it sweeps)
 *  33               hot_reduce_product  product of extents of its other loops (reduction)
 *  34               hot_parallel_prod   product of extents of the parallel loops around it (the
 *                                       outer-loop product: tasks of the parallel launch)
 *  35               hot_parallel_grain  hot_executions / hot_parallel_prod (work per task)
 *  36               hot_vector_width    extent of the vectorized loop around it (1: none)
 *  37               hot_unroll_product  product of the extents of unrolled loops around it
 *  38               hot_intensity       float ops executed / bytes touched by its slots (below)
 *  39               hot_accumulates     1 when its value reads the buffer it stores to
 *  What one store cannot show ("work" of a store: executions * (1 + float ops of its value))
 *  40               hot_work_share      the hot store's work / the work of all stores (lowering
 *                                       splits a conv into an interior and border tiles, and
 *                                       peels taps: the hot store is then one copy among many)
 *  41               hot_copies          store statements that accumulate into the hot store's
 *                                       buffer (interior, border tiles, peeled taps: code size)
 *  42               guarded_work_share  share of the work done under an if (guarded border
 *                                       tiles, non-dividing tiles)
 *  43               workspace_work_share share of the work storing into WORKSPACE buffers (the
 *                                       copies that pack a blocked layout, per call)
 *  44               reg_tile_elems      elements of the hot store's register tile: product of
 *                                       the extents of its spatial loops inside its innermost
 *                                       reduce loop of extent > 1 (0: no such reduce loop)
 *  45               reg_tile_vectors    vector registers that tile keeps live: its elements
 *                                       outside the vectorised loop times the registers one
 *                                       vector-loop run fills (scalars: one each)
 *  46               reg_tile_pressure   reg_tile_vectors / the target's vector registers (> 1:
 *                                       the accumulators spill)
 *  47               vector_lane_waste   share of the lanes of the hot vector loop's registers
 *                                       left empty (12 floats on 8 lanes: 4 of 16)
 *  48               par_tasks_per_thread hot_parallel_prod / threads
 *  49               par_imbalance       ceil(tasks / threads) * threads / tasks: the busiest
 *                                       thread's work over the mean (threads when the hot
 *                                       store has no parallel loop)
 *  Features 45-49 need the machine (tt_feat_machine); what it leaves unknown (0) is NaN, which
 *  XGBoost treats as missing.
 *  Per loop level l = 0 .. TT_FEAT_LEVELS-1 (0: innermost loop of the hot store), 3 each at
 *  TT_FEAT_LEVEL_BASE + 3*l:
 *   +0              extent              the loop's extent (0: no loop at this level)
 *   +1              kind                0 serial, 1 parallel, 2 vectorized, 3 unrolled
 *   +2              reduce              1 when the loop's variable is absent from the stored index
 *  Per buffer slot s = 0 .. TT_FEAT_SLOTS-1 at TT_FEAT_SLOT_BASE + TT_FEAT_SLOT_SIZE*s. Slot 0
 *  is the hot store's target; slots 1.. the distinct buffers its value loads (the target's own
 *  read left out), most bytes touched first, ties in reading order:
 *   +0              present             1 when the slot holds a buffer
 *   +1              elem_bytes          bytes per element
 *   +2              scope               0 global (argument), 1 local, 2 workspace
 *   +3              buffer_bytes        size of the whole buffer
 *   +4              inner_stride        |coefficient| of the innermost loop's variable in the
 *                                       index, in elements (0: invariant in that loop, 1: unit)
 *   +5              first_var_level     level of the innermost loop whose variable appears
 *                                       (TT_FEAT_LEVELS: none within the described levels)
 *   +6              first_var_stride    |coefficient| of that variable, in elements
 *   +7              affine              1 when the index is affine (no div, mod, indirection)
 *   +8              bytes_touched       distinct bytes touched by the whole nest
 *   +9 + l          footprint_l         distinct bytes touched by one run of the loop at level l
 *                                       (that loop and the loops inside it), l < TT_FEAT_LEVELS
 *   +9 + LEVELS + l reuse_l             accesses / distinct elements within that run
 */
#ifndef TT_COST_MODEL_FEATURES_H
#define TT_COST_MODEL_FEATURES_H

#include <stddef.h>

#include "ir/ir.h"

#define TT_FEAT_LEVELS 10
#define TT_FEAT_SLOTS 4
#define TT_FEAT_LEVEL_BASE 50
#define TT_FEAT_SLOT_BASE (TT_FEAT_LEVEL_BASE + 3 * TT_FEAT_LEVELS)
#define TT_FEAT_SLOT_SIZE (9 + 2 * TT_FEAT_LEVELS)
#define TT_FEATURE_COUNT (TT_FEAT_SLOT_BASE + TT_FEAT_SLOTS * TT_FEAT_SLOT_SIZE)

/* Named indices of the kernel-wide and hot-store features (the table above). */
enum {
    TT_F_FLOAT_OPS = 0,
    TT_F_FLOAT_ADDSUB,
    TT_F_FLOAT_MUL,
    TT_F_FLOAT_DIV,
    TT_F_FLOAT_MINMAX,
    TT_F_FLOAT_CALL,
    TT_F_FLOAT_CMP,
    TT_F_SELECTS,
    TT_F_INT_ADDSUB,
    TT_F_INT_MUL,
    TT_F_INT_DIVMOD,
    TT_F_INT_CMP_LOGIC,
    TT_F_LOADS,
    TT_F_STORES,
    TT_F_BYTES_LOADED,
    TT_F_BYTES_STORED,
    TT_F_N_STORE_STMTS,
    TT_F_N_LOOPS,
    TT_F_MAX_DEPTH,
    TT_F_N_NESTS,
    TT_F_N_PARALLEL_LOOPS,
    TT_F_PARALLEL_FRACTION,
    TT_F_N_VECTOR_LOOPS,
    TT_F_VECTOR_FRACTION,
    TT_F_N_UNROLLED_LOOPS,
    TT_F_LOCAL_BYTES,
    TT_F_WORKSPACE_BYTES,
    TT_F_N_IFS,
    TT_F_GUARDED_FRACTION,
    TT_F_HOT_EXECUTIONS,
    TT_F_HOT_FLOAT_OPS,
    TT_F_HOT_DEPTH,
    TT_F_HOT_SPATIAL_PRODUCT,
    TT_F_HOT_REDUCE_PRODUCT,
    TT_F_HOT_PARALLEL_PROD,
    TT_F_HOT_PARALLEL_GRAIN,
    TT_F_HOT_VECTOR_WIDTH,
    TT_F_HOT_UNROLL_PRODUCT,
    TT_F_HOT_INTENSITY,
    TT_F_HOT_ACCUMULATES,
    TT_F_HOT_WORK_SHARE,
    TT_F_HOT_COPIES,
    TT_F_GUARDED_WORK_SHARE,
    TT_F_WORKSPACE_WORK_SHARE,
    TT_F_REG_TILE_ELEMS,
    TT_F_REG_TILE_VECTORS,
    TT_F_REG_TILE_PRESSURE,
    TT_F_VECTOR_LANE_WASTE,
    TT_F_PAR_TASKS_PER_THREAD,
    TT_F_PAR_IMBALANCE,
};
_Static_assert(TT_F_PAR_IMBALANCE + 1 == TT_FEAT_LEVEL_BASE, "the table above ends at the levels");

/* The machine a kernel runs on, as far as features need it; 0: unknown. The tuner fills it from
 * its target (codegen/: tt_target_vector_bits, tt_target_vector_regs) and its threads. */
typedef struct {
    int vector_bits; /* widest vector register */
    int vector_regs; /* vector registers */
    int threads;     /* threads parallel loops run on */
} tt_feat_machine;
/* Offsets within a loop level and within a buffer slot. */
enum { TT_FL_EXTENT = 0, TT_FL_KIND, TT_FL_REDUCE };
enum {
    TT_FS_PRESENT = 0,
    TT_FS_ELEM_BYTES,
    TT_FS_SCOPE,
    TT_FS_BUFFER_BYTES,
    TT_FS_INNER_STRIDE,
    TT_FS_FIRST_VAR_LEVEL,
    TT_FS_FIRST_VAR_STRIDE,
    TT_FS_AFFINE,
    TT_FS_BYTES_TOUCHED,
    TT_FS_FOOTPRINT = 9,
    TT_FS_REUSE = 9 + TT_FEAT_LEVELS,
};
#define TT_F_LEVEL(l, field) (TT_FEAT_LEVEL_BASE + 3 * (l) + (field))
#define TT_F_SLOT(s, field) (TT_FEAT_SLOT_BASE + TT_FEAT_SLOT_SIZE * (s) + (field))

/* Fills out[0 .. TT_FEATURE_COUNT) from kernel k running on machine m (NULL: all unknown).
 * Allocates little; reentrant. -1 with a message when k is NULL or its loops nest deeper than
 * the walker's limit (64). */
TT_API int tt_features_extract(const tt_kernel *k, const tt_feat_machine *m, float *out);

/* The name of feature i as in the table ("float_ops", "level3_extent", "slot1_reuse_2") into
 * buf; returns buf, or "" for i out of range. */
TT_API const char *tt_feature_name(int i, char *buf, size_t size);

#endif
