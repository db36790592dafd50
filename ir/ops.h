/* The built-in operators (matmul, dense, conv2d, ...): each is written as text in the expression
 * language (ir/lang.h) and parsed by tt_lang_parse, so built-in and user ops take one path from
 * text to IR. op.json tasks (ir/opjson.c) fill a tt_op_desc and call tt_op_build. */
#ifndef TT_IR_OPS_H
#define TT_IR_OPS_H

#include <stdbool.h>

#include "ir/ir.h"

typedef enum {
    TT_OP_MATMUL,           /* A[M,K], B[K,N] -> C[M,N] */
    TT_OP_BATCH_MATMUL,     /* A[B,M,K], B[B,K,N] -> C[B,M,N] */
    TT_OP_DENSE,            /* X[M,K], W[N,K], bias[N] (if bias) -> Y[M,N] */
    TT_OP_CONV2D,           /* NCHW: X[N,C,H,W], W[K,C,R,S], bias[K] -> Y[N,K,P,Q]
                               NHWC: X[N,H,W,C], W[R,S,C,K], bias[K] -> Y[N,P,Q,K] */
    TT_OP_DEPTHWISE_CONV2D, /* NCHW: X[N,C,H,W], W[C,1,R,S], bias[C] -> Y[N,C,P,Q]
                               NHWC: X[N,H,W,C], W[R,S,C,1], bias[C] -> Y[N,P,Q,C] */
    TT_OP_POOL2D,           /* NCHW: X[N,C,H,W] -> Y[N,C,P,Q]; NHWC: X[N,H,W,C] -> Y[N,P,Q,C] */
    TT_OP_COUNT
} tt_op_kind;

/* One operator instance. Sizes use the letters of op.json; which ones matter depends on kind
 * (see tt_op_kind). P = (H + 2*pad[0] - dilation[0]*(R-1) - 1) / stride[0] + 1, Q likewise with
 * W, S and index 1. Padding is zero padding (pool2d max: padding never wins; avg: divides by
 * the number of window cells inside the unpadded input). */
typedef struct {
    tt_op_kind kind;
    DLDataType dtype;                       /* float32 or float64 */
    int64_t B, M, N, K;                     /* matmul family; conv: N batch, K out channels */
    int64_t C, H, W, R, S;                  /* conv/pool: channels, input, window */
    int64_t stride[2], pad[2], dilation[2]; /* conv/pool: [h, w]; pool2d: dilation 1 */
    bool nhwc;                              /* conv/pool layout; false: NCHW */
    bool bias;                              /* dense, conv2d, depthwise_conv2d */
    bool relu;                              /* activation "relu" after bias */
    bool pool_max;                          /* pool2d: max, else avg */
} tt_op_desc;

/* "matmul", "batch_matmul", "dense", "conv2d", "depthwise_conv2d", "pool2d". */
TT_API const char *tt_op_kind_name(tt_op_kind k);
/* Name to kind; -1 with a message listing the ops otherwise. */
TT_API int tt_op_kind_parse(const char *s, tt_op_kind *out);
/* A desc with the defaults of kind: float32, strides/dilations 1, no padding, NCHW, no bias. */
TT_API void tt_op_desc_init(tt_op_desc *d, tt_op_kind kind);
/* Output height and width of a conv/pool desc; -1 with a message when the (dilated) window is
 * larger than the padded input or a parameter is out of range. */
TT_API int tt_op_out_hw(const tt_op_desc *d, int64_t *P, int64_t *Q);
/* The op's text in the expression language: *text is malloc'ed (caller frees).
 * Mostly for messages and tests; tt_op_build is what the tuner calls. */
TT_API int tt_op_source(const tt_op_desc *d, char **text);
/* Builds the compute, named name. *out is a new reference; -1 with a message on a bad desc. */
TT_API int tt_op_build(const tt_op_desc *d, const char *name, tt_compute **out);

#endif
