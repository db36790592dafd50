/* Applying the tuning database (`tvm-tune compile`, `tvm-tune best`): the best measured schedule
 * per (workload, target) out of a database and logs, else the schedule of the nearest tuned
 * workload of the same op, else the default; then one library (.so or .o) with every task's kernel
 * and a C header that declares them. The last arrow of docs/ARCHITECTURE.md's data flow. */
#ifndef TT_TUNER_COMPILE_H
#define TT_TUNER_COMPILE_H

#include <stddef.h>

#include "codegen/codegen.h"
#include "ir/opjson.h"
#include "ir/schedule.h"
#include "logs/record.h"

/* The best error-free record of each workload key for one target, gathered from a database and
 * logs. Records are owned by the set. */
typedef struct {
    char *target; /* canonical target string the records were measured on */
    size_t n;
    tt_record **records; /* one per key, sorted by key */
    size_t *measured;    /* records[i]'s schedule was measured measured[i] times */
    char *warnings;      /* log readers' warnings ("path:LINE: what\n"...), NULL when none */
} tt_compile_records;

/* Loads the best record per key measured on target (a canonical string, tt_target_str) from the
 * database at db_path (NULL: none; a missing file is an error "database 'x' does not exist", it is
 * never created) and from the logs (strict reading; a truncated last line is only a warning).
 * Best: lowest median cost, errors excluded, where a schedule (same key and steps) measured
 * more than once (the tuner measures its winner again at the end of a run) ranks before those
 * measured once and counts at its latest measurement (the re-measurement the tuner reported),
 * the record kept; so one lucky measurement on a busy machine does not win. The same measurement
 * read twice (database and log) counts once. Among equal costs the schedule offered first
 * (database, then the logs in order) wins. *out: caller frees. */
TT_API int tt_compile_records_load(const char *db_path, const char *const *log_paths, int nlogs,
                                   const char *target, tt_compile_records **out);
TT_API void tt_compile_records_free(tt_compile_records *recs);
/* How many times r's schedule was measured (r from recs; 0 if it is not one of its records). */
TT_API size_t tt_compile_records_measured(const tt_compile_records *recs, const tt_record *r);
/* The record of key, or NULL. */
TT_API const tt_record *tt_compile_records_find(const tt_compile_records *recs, const char *key);

/* Distance between two canonical workloads (JSON text): the sum over their numbers of
 * |log((a+1)/(b+1))| (sizes, strides, pads, ...), +inf when they differ in anything else (op,
 * dtype, layout, flags, the compute of an "expr", field set, array lengths). "name" is ignored.
 * -1 with a message when either is not a JSON object. */
TT_API int tt_compile_workload_distance(const char *a, const char *b, double *out);

typedef enum {
    TT_COMPILE_TUNED,    /* the task's own best record */
    TT_COMPILE_BORROWED, /* the best record of the nearest tuned workload of the same op */
    TT_COMPILE_DEFAULT,  /* tt_space_default, or the unscheduled nest if even that fails */
} tt_compile_source;

/* What compile applies to one task. */
typedef struct {
    tt_compile_source source;
    char *steps;             /* canonical JSON of the schedule applied ("[]": the plain nest) */
    tt_kernel *kernel;       /* the task lowered under it, named as the task (own reference) */
    const tt_record *record; /* TUNED, BORROWED: the record, borrowed from the tt_compile_records */
    char *note;              /* one line for the header: where the schedule comes from */
    char *warning;           /* BORROWED, DEFAULT (and a TUNED record that no longer lowers):
                              * names the task and what it got; NULL otherwise */
} tt_compile_choice;

/* Chooses and lowers the schedule of task for target t (see tt_compile_source; a borrowed or own
 * schedule is used only if tt_lower accepts it for this task). recs may be NULL (no records). */
TT_API int tt_compile_choose(const tt_compile_records *recs, const tt_task *task,
                             const tt_target *t, tt_compile_choice *out);
TT_API void tt_compile_choice_clear(tt_compile_choice *c);

/* The header declaring one function per task: `int NAME(const float *restrict A, ...,
 * float *restrict C)`, with a comment giving shapes, the canonical workload and the schedule's
 * source. lib_name is the library's file name, for the comment. Caller frees *out. */
TT_API int tt_compile_header(const tt_opfile *file, const tt_compile_choice *choices,
                             const tt_target *t, const char *lib_name, const char *guard_base,
                             char **out);

/* Every task name can be declared in C (not a keyword); -1 naming the file and task otherwise. */
TT_API int tt_compile_check_names(const tt_opfile *file);

/* The header's path for a library path: the same with its extension replaced by ".h"
 * ("out/libops.so" -> "out/libops.h", "ops" -> "ops.h"). Caller frees; NULL when out of memory. */
TT_API char *tt_compile_header_path(const char *lib_path);

/* Builds every chosen kernel into ONE library at lib_path (kind TT_EMIT_SO or TT_EMIT_OBJ) and
 * writes the header beside it (tt_compile_header_path). Both are written to temporary files in
 * the output's directory and renamed into place, so a failure leaves nothing behind. */
TT_API int tt_compile_write(const tt_opfile *file, const tt_compile_choice *choices,
                            const tt_target *t, tt_emit_kind kind, const char *lib_path);

#endif
