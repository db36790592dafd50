/* op.json: the tuning tasks a user asks for (format in docs/ARCHITECTURE.md "op.json"), parsed with
 * jansson into tasks that each hold a compute (built-in ops via ir/ops.h, "expr" via ir/lang.h),
 * their canonical JSON and their workload key, which logs and the database use to name a workload.
 */
#ifndef TT_IR_OPJSON_H
#define TT_IR_OPJSON_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tt/opfile.h"

/* How candidates are measured ("measure" in op.json). */
typedef struct {
    int repeat;           /* repeats timed; cost = median of their means. Default 3, >= 1 */
    double min_repeat_ms; /* a repeat runs at least this long. Default 50, >= 0 */
    double timeout_s;     /* per candidate (build and run each). Default 10, > 0 */
    bool flush_cache;     /* flush caches before each repeat. Default false */
    bool check;           /* compare outputs with the reference. Default true */
    int threads;          /* 0: one per physical core. Default 0, >= 0 */
} tt_measure_opts;

/* One task. canonical_json is the workload: the task with every default filled in, keys sorted,
 * compact, without "weight" (how often a task occurs does not change what it computes):
 *   {"K":256,"M":256,"N":256,"dtype":"float32","name":"matmul_256x256x256_f32","op":"matmul"}
 * conv2d adds layout, N, C, H, W, K, R, S, stride/pad/dilation as [h, w], bias (bool),
 * activation ("none" | "relu"); depthwise_conv2d the same without K; pool2d has pool ("max" |
 * "avg") and no dilation, bias or activation; dense has bias and activation. An "expr" task:
 *   {"compute":"...","extents":{"n":30},"inputs":[["A",[64,128],"float32"],...],"name":..,
 *    "op":"expr"}  (inputs keep their argument order; no task-level dtype).
 * Defaults: dtype float32 (built-in ops: float32 or float64); conv/pool N 1, layout "NCHW",
 * stride 1 (pool2d: the window), pad 0, dilation 1, bias false, activation "none"; stride, pad
 * and dilation are one integer or [h, w]. Sizes are integers in [1, 2^31); a tensor of more than
 * 2^40 bytes is refused. An "expr" input is a shape [..] (of the task's dtype) or
 * {"shape": [..], "dtype": ".."}; "name" is required there.
 * key = name "-" 8 hex digits of the 32-bit FNV-1a hash of canonical_json. Default names:
 *   matmul_MxNxK_f32, batch_matmul_BxMxNxK_f32, dense_MxNxK[_bias][_relu]_f32,
 *   conv2d_nchw_n1_c64_h56_w56_k64_r3_s3_st1_p1_d1[_bias][_relu]_f32 (a pair that differs
 *   between h and w prints as st2x1), depthwise_conv2d_<layout>_n_c_h_w_r_s_st_p_d..._f32,
 *   pool2d_max_<layout>_n_c_h_w_r_s_st_p_f32. A name is a C identifier: it names the kernel. */
typedef struct {
    char *name;
    char *op;      /* "matmul", "batch_matmul", "dense", "conv2d", ..., "expr" */
    double weight; /* > 0, default 1: occurrences in the model, for the scheduler */
    char *canonical_json;
    char *key;
    tt_compute *compute; /* owned reference */
    int line, col;       /* where the task starts in its file; 0 when rebuilt from JSON */
} tt_task;

struct tt_opfile {
    char *path;   /* as given (messages name it) */
    char *target; /* "target"; default "llvm -mcpu=native" (this host) */
    tt_measure_opts measure;
    int ntasks;
    tt_task *tasks;
};

TT_API void tt_measure_opts_default(tt_measure_opts *m);
/* tt_opfile_load, tt_opfile_parse_string and tt_opfile_free: tt/opfile.h. */

/* Rebuilds a task from a workload (a log record's canonical JSON, or any single task object);
 * the result's canonical_json and key equal the original's. *out: caller frees (tt_task_free). */
TT_API int tt_task_from_json_text(const char *json, tt_task **out);
TT_API void tt_task_free(tt_task *t);

/* 32-bit FNV-1a of n bytes (the hash in workload keys). */
TT_API uint32_t tt_fnv1a32(const void *data, size_t n);

#endif
