/* Schedules: ordered lists of steps (split, reorder, fuse, annotations, cache_write, compute_at,
 * inline, pack) that ir/lower.c applies to a compute's initial loop nest. Search builds them,
 * logs store them as the JSON "steps" array, lowering replays them.
 *
 * Loop names are stable, so a stored schedule replays without the space that produced it:
 *   - a stage's loops start as its axes, by name: spatial axes in order, then reduce axes;
 *   - split "i" by factors [f1, ..., fn] gives "i.0", "i.1", ..., "i.n" (outer to inner). The
 *     factors are the INNER extents: "i.1" has extent f1, ..., "i.n" has fn, and "i.0" has
 *     ceil(extent(i) / (f1*...*fn)). When the product does not divide the extent, lowering
 *     guards the body so the original index stays in range;
 *   - fuse of adjacent loops "a", "b" (outer first) gives "a@b" of extent extent(a)*extent(b).
 *
 * JSON forms (one object per step, key order as below is the canonical form), and what lowering
 * requires of each (anything else is rejected with "step N (kind stage.loop): why"):
 *   {"s":"split","stage":"C","loop":"i","factors":[4,16]}     factors > 0; their product at most
 *          the loop's extent, or at most 64 (a vector tail); the loop not yet annotated
 *   {"s":"reorder","stage":"C","loops":["i.0","j.0","k","i.1"]}  distinct loops of the stage:
 *          they take their own (sorted) positions in the order given; reduce loops may
 *          interleave with spatial ones
 *   {"s":"fuse","stage":"C","loops":["i.0","j.0"]}   adjacent, outer to inner, all spatial or all
 *          reduce, none annotated
 *   {"s":"parallel","stage":"C","loop":"i.0@j.0"}    spatial, not inside a reduce loop (checked
 *          on the final nest, as are the two below)
 *   {"s":"vectorize","stage":"C","loop":"j.2"}       the stage's innermost loop, spatial, extent
 *          at most 64
 *   {"s":"unroll","stage":"C","loop":"k.1"}          extent at most 64
 *   {"s":"cache_write","stage":"C","loop":"j.0"}   the stage accumulates the tile of the loops
 *          below "j.0" in a LOCAL buffer and writes it back once ("" = the whole stage); no
 *          parallel loop inside the tile. Reduce loops may lie above the loop (k blocking: the
 *          loop order of BLIS, a block of B reused across the tiles of A): the tile then starts
 *          from the identity in the first reduce block and from the partial sums in C
 *          otherwise, is stored back to C after each block, and a fused epilogue runs on the
 *          last block only (a guard of a reduce axis may then not lie above the tile)
 *   {"s":"compute_at","stage":"P","target":"C","loop":"j.0"}  P computed at the start of C's
 *          loop "j.0" over the region C's body reads below it (affine reads give a box of
 *          constant size, others the whole dimension); C comes after P and is P's only reader;
 *          the loop is not vectorized; P's own steps then shape the region's loops
 *   {"s":"inline","stage":"X"}   X elementwise and not the output: substituted into its
 *          consumers. X the output (elementwise, reading its producer stage at its own axes):
 *          fused as an epilogue into the producer's nest, written as soon as a tile is final
 *          (after the accumulator tile's reduction with cache_write, else after the outermost
 *          reduce loop); X then takes no steps of its own
 *   {"s":"pack","stage":"C","tensor":"B","dim":1,"factor":16}  input B (read by stage C) copied
 *          at the start of the kernel into panels: dim `dim` split by `factor`, the panel index
 *          outermost, B[K,N] -> B.packed[ceil(N/16)][K][16] (zero padded, a WORKSPACE buffer);
 *          every read of B in the kernel then goes to the panels
 *
 * Steps may come in any order: lowering sorts them to their stages and replays each stage's loop
 * steps in order once placements (inline, compute_at) are known. tt_lower_loops (ir/lower.h)
 * tells which loops a stage has after a schedule. */
#ifndef TT_IR_SCHEDULE_H
#define TT_IR_SCHEDULE_H

#include <stdint.h>

#include "ir/ir.h"

typedef enum {
    TT_STEP_SPLIT,
    TT_STEP_REORDER,
    TT_STEP_FUSE,
    TT_STEP_PARALLEL,
    TT_STEP_VECTORIZE,
    TT_STEP_UNROLL,
    TT_STEP_CACHE_WRITE,
    TT_STEP_COMPUTE_AT,
    TT_STEP_INLINE,
    TT_STEP_PACK,
    TT_STEP_COUNT
} tt_step_kind;

/* One step; strings and arrays owned by the schedule that holds it. */
typedef struct {
    tt_step_kind kind;
    char *stage;
    int nloops; /* split, parallel, vectorize, unroll, cache_write, compute_at: 1 */
    char **loops;
    int nfactors; /* split */
    int64_t *factors;
    char *target;   /* compute_at: the consumer stage */
    char *tensor;   /* pack: the input */
    int dim;        /* pack */
    int64_t factor; /* pack */
} tt_step;

typedef struct tt_schedule tt_schedule;

TT_API tt_schedule *tt_schedule_new(void); /* NULL only when out of memory */
TT_API void tt_schedule_free(tt_schedule *s);
TT_API tt_schedule *tt_schedule_copy(const tt_schedule *s);
TT_API int tt_schedule_size(const tt_schedule *s);
TT_API const tt_step *tt_schedule_step(const tt_schedule *s, int i); /* NULL when out of range */
TT_API const char *tt_step_kind_name(tt_step_kind k);                /* "split", ... */
/* Removes the last n steps (search uses it to backtrack). */
TT_API void tt_schedule_truncate(tt_schedule *s, int n);

/* Typed adders: -1 with a message on malformed arguments (NULL names, counts <= 0). Whether a
 * step applies to a compute is checked by tt_lower. */
TT_API int tt_schedule_split(tt_schedule *s, const char *stage, const char *loop, int nfactors,
                             const int64_t *factors);
TT_API int tt_schedule_reorder(tt_schedule *s, const char *stage, int nloops,
                               const char *const *loops);
TT_API int tt_schedule_fuse(tt_schedule *s, const char *stage, int nloops,
                            const char *const *loops);
TT_API int tt_schedule_parallel(tt_schedule *s, const char *stage, const char *loop);
TT_API int tt_schedule_vectorize(tt_schedule *s, const char *stage, const char *loop);
TT_API int tt_schedule_unroll(tt_schedule *s, const char *stage, const char *loop);
TT_API int tt_schedule_cache_write(tt_schedule *s, const char *stage, const char *loop);
TT_API int tt_schedule_compute_at(tt_schedule *s, const char *stage, const char *target,
                                  const char *loop);
TT_API int tt_schedule_inline(tt_schedule *s, const char *stage);
TT_API int tt_schedule_pack(tt_schedule *s, const char *stage, const char *tensor, int dim,
                            int64_t factor);

/* Appends one step given as a JSON object (forms above). */
TT_API int tt_schedule_add_json(tt_schedule *s, const char *step_json);
/* Parses a JSON array of steps; *out is a new schedule (caller frees). Messages name the step
 * index and the field: "step 2: field \"factors\": expected an array of integers". */
TT_API int tt_schedule_from_json(const char *json_array_text, tt_schedule **out);
/* The canonical JSON array (compact, fixed key order, no spaces): the same schedule always
 * gives the same bytes (log records hash it). Caller frees with free(); NULL when out of memory. */
TT_API char *tt_schedule_to_json(const tt_schedule *s);
/* "split C.i [4,16]" style short description of step i, for messages; static thread buffer. */
TT_API const char *tt_step_describe(const tt_step *st);

#endif
