/* op.json tasks: each task object checked field by field (sizes, windows, memory), built through
 * ir/ops.c or, for "expr", ir/lang.c, and given its canonical JSON, default name and workload key
 * (formats in ir/opjson.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lang.h"
#include "ir/opjson_check.h"
#include "ir/ops.h"

/* ---- tasks ---- */

/* Bytes of a tensor of dims; an error when it overflows 64 bits or exceeds MAX_BYTES. */
static int fits(const ctx *x, const char *base, const char *tensor, int n, const int64_t *dims,
                int64_t elsize)
{
    int64_t bytes = elsize;
    char shape[256] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%lld", i ? "x" : "", (long long)dims[i]);
    }
    for (int i = 0; i < n; i++)
        if (__builtin_mul_overflow(bytes, dims[i], &bytes))
            return opj_ferr(x, base, 0, "tensor %s [%s] would overflow 64-bit byte counts", tensor,
                            shape);
    if (bytes > MAX_BYTES)
        return opj_ferr(x, base, 0,
                        "tensor %s [%s] is %lld bytes and does not fit in memory "
                        "(limit 2^40 bytes)",
                        tensor, shape, (long long)bytes);
    return 0;
}

static const char *dt_short(DLDataType t)
{
    return t.code == kDLFloat ? (t.bits == 32 ? "f32" : "f64")
           : t.code == kDLInt ? (t.bits == 32 ? "i32" : "i64")
                              : "b8";
}

static int is_ident(const char *s)
{
    if (!*s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static const char *const layouts[] = {"NCHW", "NHWC", NULL};
static const char *const activations[] = {"none", "relu", NULL};
static const char *const pools[] = {"max", "avg", NULL};

static void pair_name(char *buf, size_t n, const char *tag, const int64_t v[2])
{
    if (v[0] == v[1])
        snprintf(buf, n, "_%s%lld", tag, (long long)v[0]);
    else
        snprintf(buf, n, "_%s%lldx%lld", tag, (long long)v[0], (long long)v[1]);
}

static void default_name(const tt_op_desc *d, char *buf, size_t n)
{
    const char *dt = dt_short(d->dtype), *lay = d->nhwc ? "nhwc" : "nchw";
    const char *epi = d->bias ? (d->relu ? "_bias_relu" : "_bias") : (d->relu ? "_relu" : "");
    long long N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, R = d->R, S = d->S;
    char st[48], pd[48], dl[48];
    pair_name(st, sizeof st, "st", d->stride);
    pair_name(pd, sizeof pd, "p", d->pad);
    pair_name(dl, sizeof dl, "d", d->dilation);
    switch (d->kind) {
    case TT_OP_MATMUL:
        snprintf(buf, n, "matmul_%lldx%lldx%lld_%s", (long long)d->M, N, K, dt);
        break;
    case TT_OP_BATCH_MATMUL:
        snprintf(buf, n, "batch_matmul_%lldx%lldx%lldx%lld_%s", (long long)d->B, (long long)d->M, N,
                 K, dt);
        break;
    case TT_OP_DENSE:
        snprintf(buf, n, "dense_%lldx%lldx%lld%s_%s", (long long)d->M, N, K, epi, dt);
        break;
    case TT_OP_CONV2D:
        snprintf(buf, n, "conv2d_%s_n%lld_c%lld_h%lld_w%lld_k%lld_r%lld_s%lld%s%s%s%s_%s", lay, N,
                 C, H, W, K, R, S, st, pd, dl, epi, dt);
        break;
    case TT_OP_DEPTHWISE_CONV2D:
        snprintf(buf, n, "depthwise_conv2d_%s_n%lld_c%lld_h%lld_w%lld_r%lld_s%lld%s%s%s%s_%s", lay,
                 N, C, H, W, R, S, st, pd, dl, epi, dt);
        break;
    default:
        snprintf(buf, n, "pool2d_%s_%s_n%lld_c%lld_h%lld_w%lld_r%lld_s%lld%s%s_%s",
                 d->pool_max ? "max" : "avg", lay, N, C, H, W, R, S, st, pd, dt);
        break;
    }
}

static json_t *pair_json(const int64_t v[2])
{
    return json_pack("[II]", v[0], v[1]);
}

/* The canonical object of a built-in op (see ir/opjson.h). */
static json_t *op_canonical(const tt_op_desc *d, const char *name)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "op", json_string(tt_op_kind_name(d->kind)));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "dtype", json_string(tt_dtype_name(d->dtype)));
    if (d->kind <= TT_OP_DENSE) {
        if (d->kind == TT_OP_BATCH_MATMUL)
            json_object_set_new(o, "B", json_integer(d->B));
        json_object_set_new(o, "M", json_integer(d->M));
        json_object_set_new(o, "N", json_integer(d->N));
        json_object_set_new(o, "K", json_integer(d->K));
    } else {
        json_object_set_new(o, "layout", json_string(layouts[d->nhwc]));
        const char *keys[] = {"N", "C", "H", "W", "K", "R", "S"};
        const int64_t vals[] = {d->N, d->C, d->H, d->W, d->K, d->R, d->S};
        for (int i = 0; i < 7; i++)
            if (i != 4 || d->kind == TT_OP_CONV2D)
                json_object_set_new(o, keys[i], json_integer(vals[i]));
        json_object_set_new(o, "stride", pair_json(d->stride));
        json_object_set_new(o, "pad", pair_json(d->pad));
        if (d->kind != TT_OP_POOL2D)
            json_object_set_new(o, "dilation", pair_json(d->dilation));
        else
            json_object_set_new(o, "pool", json_string(pools[d->pool_max ? 0 : 1]));
    }
    if (d->kind == TT_OP_DENSE || d->kind == TT_OP_CONV2D || d->kind == TT_OP_DEPTHWISE_CONV2D) {
        json_object_set_new(o, "bias", json_boolean(d->bias));
        json_object_set_new(o, "activation", json_string(activations[d->relu]));
    }
    return o;
}

static int op_fields(const ctx *x, const json_t *o, const char *base, tt_op_desc *d)
{
    static const char *const common[] = {"op", "name", "dtype", "weight", "target", "measure"};
    static const char *const per[TT_OP_COUNT][12] = {
        [TT_OP_MATMUL] = {"M", "N", "K"},
        [TT_OP_BATCH_MATMUL] = {"B", "M", "N", "K"},
        [TT_OP_DENSE] = {"M", "N", "K", "bias", "activation"},
        [TT_OP_CONV2D] = {"layout", "N", "C", "H", "W", "K", "R", "S", "stride", "pad", "dilation",
                          "bias"},
        [TT_OP_DEPTHWISE_CONV2D] = {"layout", "N", "C", "H", "W", "R", "S", "stride", "pad",
                                    "dilation", "bias", "activation"},
        [TT_OP_POOL2D] = {"layout", "N", "C", "H", "W", "R", "S", "stride", "pad", "pool"},
    };
    const char *allowed[24];
    int na = 0;
    /* target and measure sit beside a lone task at the top of a file, never inside "tasks" */
    for (int i = 0; i < 6; i++)
        if (i < 4 || !*base)
            allowed[na++] = common[i];
    for (int i = 0; i < 12 && per[d->kind][i]; i++)
        allowed[na++] = per[d->kind][i];
    if (d->kind == TT_OP_CONV2D)
        allowed[na++] = "activation";
    allowed[na] = NULL;
    char what[64];
    snprintf(what, sizeof what, "op \"%s\"", tt_op_kind_name(d->kind));
    if (opj_check_fields(x, o, base, what, allowed) < 0)
        return -1;
    int conv = d->kind >= TT_OP_CONV2D;
    if (!conv) {
        if ((d->kind == TT_OP_BATCH_MATMUL && opj_get_size(x, o, base, "B", 0, &d->B) < 0) ||
            opj_get_size(x, o, base, "M", 0, &d->M) < 0 ||
            opj_get_size(x, o, base, "N", 0, &d->N) < 0 ||
            opj_get_size(x, o, base, "K", 0, &d->K) < 0)
            return -1;
    } else {
        int lay = 0, pool = -1;
        if (opj_get_choice(x, o, base, "layout", layouts, &lay) < 0 ||
            opj_get_size(x, o, base, "N", 1, &d->N) < 0 ||
            opj_get_size(x, o, base, "C", 0, &d->C) < 0 ||
            opj_get_size(x, o, base, "H", 0, &d->H) < 0 ||
            opj_get_size(x, o, base, "W", 0, &d->W) < 0 ||
            (d->kind == TT_OP_CONV2D && opj_get_size(x, o, base, "K", 0, &d->K) < 0) ||
            opj_get_size(x, o, base, "R", 0, &d->R) < 0 ||
            opj_get_size(x, o, base, "S", 0, &d->S) < 0)
            return -1;
        d->nhwc = lay == 1;
        if (d->kind == TT_OP_POOL2D) {
            d->stride[0] = d->R, d->stride[1] = d->S; /* pooling windows tile by default */
            if (opj_get_choice(x, o, base, "pool", pools, &pool) < 0)
                return -1;
            if (pool < 0)
                return opj_ferr(x, base, 0, "missing field \"pool\": expected \"max\" or \"avg\"");
            d->pool_max = pool == 0;
        }
        if (opj_get_pair(x, o, base, "stride", 1, d->stride) < 0 ||
            opj_get_pair(x, o, base, "pad", 0, d->pad) < 0 ||
            opj_get_pair(x, o, base, "dilation", 1, d->dilation) < 0)
            return -1;
    }
    int act = 0;
    if (opj_get_bool(x, o, base, "bias", &d->bias) < 0 ||
        opj_get_choice(x, o, base, "activation", activations, &act) < 0)
        return -1;
    d->relu = act == 1;
    if (!conv)
        return 0;
    const int64_t in[2] = {d->H, d->W}, win[2] = {d->R, d->S};
    for (int i = 0; i < 2; i++) {
        char path[512];
        opj_join_path(path, sizeof path, base, i ? "S" : "R");
        if (d->kind == TT_OP_POOL2D && d->pad[i] >= win[i]) {
            opj_join_path(path, sizeof path, base, "pad");
            return opj_ferr(x, path, 0, "pad %lld must be smaller than the window %lld",
                            (long long)d->pad[i], (long long)win[i]);
        }
        int64_t span = d->dilation[i] * (win[i] - 1) + 1, padded = in[i] + 2 * d->pad[i];
        if (span > padded)
            return opj_ferr(x, path, 0,
                            "the window (%lld, dilation %lld: %lld %s) is larger than "
                            "the padded input (%s %lld + 2*%lld = %lld)",
                            (long long)win[i], (long long)d->dilation[i], (long long)span,
                            i ? "columns" : "rows", i ? "W" : "H", (long long)in[i],
                            (long long)d->pad[i], (long long)padded);
    }
    return 0;
}

/* Memory of a built-in op's tensors. */
static int op_fits(const ctx *x, const char *base, const tt_op_desc *d)
{
    int64_t el = d->dtype.bits / 8, P = 1, Q = 1;
    if (d->kind >= TT_OP_CONV2D && tt_op_out_hw(d, &P, &Q) < 0)
        return opj_ferr(x, base, 0, "%s", tt_get_last_error());
    int64_t t[3][4];
    const char *names[3] = {"A", "B", "C"};
    int nd[3] = {2, 2, 2}, nt = 3;
    switch (d->kind) {
    case TT_OP_MATMUL:
        memcpy(t, (int64_t[3][4]){{d->M, d->K}, {d->K, d->N}, {d->M, d->N}}, sizeof t);
        break;
    case TT_OP_DENSE:
        memcpy(t, (int64_t[3][4]){{d->M, d->K}, {d->N, d->K}, {d->M, d->N}}, sizeof t);
        names[0] = "X", names[1] = "W", names[2] = "Y";
        break;
    case TT_OP_BATCH_MATMUL:
        memcpy(t, (int64_t[3][4]){{d->B, d->M, d->K}, {d->B, d->K, d->N}, {d->B, d->M, d->N}},
               sizeof t);
        nd[0] = nd[1] = nd[2] = 3;
        break;
    default: {
        int64_t k = d->kind == TT_OP_CONV2D ? d->K : d->C;
        int64_t wc = d->kind == TT_OP_CONV2D ? d->C : 1;
        memcpy(t, (int64_t[3][4]){{d->N, d->C, d->H, d->W}, {k, wc, d->R, d->S}, {d->N, k, P, Q}},
               sizeof t);
        names[0] = "X", names[1] = "W", names[2] = "Y";
        nd[0] = nd[1] = nd[2] = 4;
        if (d->kind == TT_OP_POOL2D) {
            memcpy(t[1], t[2], sizeof t[1]);
            names[1] = "Y";
            nt = 2;
        }
    }
    }
    for (int i = 0; i < nt; i++)
        if (fits(x, base, names[i], nd[i], t[i], el) < 0)
            return -1;
    return 0;
}

/* An "expr" task: inputs in the order written, compute text, optional extents. */
static int expr_task(const ctx *x, const json_t *o, const char *base, DLDataType dt,
                     const char *name, tt_compute **c, json_t *canon)
{
    static const char *const allowed[] = {"op",      "name",    "dtype",  "weight",  "inputs",
                                          "compute", "extents", "target", "measure", NULL};
    char path[512], ip[600];
    if (opj_check_fields(x, o, base, "op \"expr\"",
                         *base ? (const char *const[]){"op", "name", "dtype", "weight", "inputs",
                                                       "compute", "extents", NULL}
                               : allowed) < 0)
        return -1;
    const json_t *inputs = json_object_get(o, "inputs"), *text = json_object_get(o, "compute");
    const json_t *exts = json_object_get(o, "extents");
    opj_join_path(path, sizeof path, base, "inputs");
    if (!inputs)
        return opj_ferr(x, base, 0, "missing field \"inputs\": expected an object of input shapes");
    if (!json_is_object(inputs) && !json_is_array(inputs))
        return opj_ferr(x, path, 0, "expected an object such as {\"A\": [64, 128]}, got %s",
                        opj_show(inputs));
    size_t total = json_is_object(inputs) ? json_object_size(inputs) : json_array_size(inputs);
    if (total > 64)
        return opj_ferr(x, path, 0, "more than 64 inputs");
    tt_lang_input in[64];
    int64_t shapes[64][16];
    int nin = 0;
    const char *key;
    const json_t *v;
    void *iter = json_is_object(inputs) ? json_object_iter((json_t *)inputs) : NULL;
    json_t *clist = json_array();
    json_object_set_new(canon, "inputs", clist);
    for (size_t n = 0; n < total; n++) {
        /* {"A": shape | {"shape": .., "dtype": ..}} as written, or the canonical
         * [["A", shape, dtype], ...] of a workload */
        const json_t *shape, *dtj = NULL;
        if (iter) {
            key = json_object_iter_key(iter);
            v = json_object_iter_value(iter);
            iter = json_object_iter_next((json_t *)inputs, iter);
            snprintf(ip, sizeof ip, "%s.%s", path, key);
            shape = v;
        } else {
            v = json_array_get(inputs, n);
            snprintf(ip, sizeof ip, "%s[%zu]", path, n);
            if (!json_is_array(v) || json_array_size(v) != 3 ||
                !json_is_string(json_array_get(v, 0)))
                return opj_ferr(x, ip, 0, "expected [name, shape, dtype], got %s", opj_show(v));
            key = json_string_value(json_array_get(v, 0));
            shape = json_array_get(v, 1);
            dtj = json_array_get(v, 2);
        }
        tt_lang_input *li = &in[nin];
        li->name = key;
        li->dtype = dt;
        li->shape = shapes[nin];
        if (!is_ident(key))
            return opj_ferr(x, ip, 1, "an input name is letters, digits and '_'");
        for (int i = 0; i < nin; i++)
            if (strcmp(in[i].name, key) == 0)
                return opj_ferr(x, ip, 1, "input \"%s\" is given twice", key);
        if (json_is_object(v)) {
            static const char *const sk[] = {"shape", "dtype", NULL};
            if (opj_check_fields(x, v, ip, "an input", sk) < 0)
                return -1;
            shape = json_object_get(v, "shape");
            dtj = json_object_get(v, "dtype");
            if (!shape)
                return opj_ferr(x, ip, 0, "missing field \"shape\"");
            snprintf(ip + strlen(ip), sizeof ip - strlen(ip), ".shape");
        }
        if (dtj && (!json_is_string(dtj) || tt_dtype_parse(json_string_value(dtj), &li->dtype) < 0))
            return opj_ferr(x, ip, 0,
                            "dtype: expected one of \"float32\", \"float64\", \"int32\", "
                            "\"int64\", \"bool\", got %s",
                            opj_show(dtj));
        if (!json_is_array(shape) || json_array_size(shape) > 16)
            return opj_ferr(x, ip, 0,
                            "expected a shape: an array of up to 16 positive integers, got %s",
                            opj_show(shape));
        li->ndim = (int)json_array_size(shape);
        for (int i = 0; i < li->ndim; i++) {
            const json_t *e = json_array_get(shape, (size_t)i);
            if (!json_is_integer(e) || json_integer_value(e) <= 0 ||
                json_integer_value(e) > MAX_SIZE)
                return opj_ferr(x, ip, 0, "expected a shape: an array of positive integers, got %s",
                                opj_show(shape));
            shapes[nin][i] = json_integer_value(e);
        }
        if (fits(x, ip, key, li->ndim, li->shape, li->dtype.bits > 8 ? li->dtype.bits / 8 : 1) < 0)
            return -1;
        json_t *sj = json_array();
        for (int i = 0; i < li->ndim; i++)
            json_array_append_new(sj, json_integer(shapes[nin][i]));
        json_array_append_new(clist, json_pack("[sos]", key, sj, tt_dtype_name(li->dtype)));
        nin++;
    }
    tt_lang_extent ext[64];
    int next = 0;
    json_t *cext = json_object();
    json_object_set_new(canon, "extents", cext);
    opj_join_path(path, sizeof path, base, "extents");
    if (exts && (!json_is_object(exts) || json_object_size(exts) > 64))
        return opj_ferr(x, path, 0,
                        "expected an object of axis extents such as {\"n\": 30}, got %s",
                        opj_show(exts));
    if (exts)
        json_object_foreach((json_t *)exts, key, v)
        {
            snprintf(ip, sizeof ip, "%s.%s", path, key);
            if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
                json_integer_value(v) > MAX_SIZE)
                return opj_ferr(x, ip, 0, "expected a positive integer, got %s", opj_show(v));
            ext[next++] = (tt_lang_extent){key, json_integer_value(v)};
            json_object_set_new(cext, key, json_integer(json_integer_value(v)));
        }
    opj_join_path(path, sizeof path, base, "compute");
    if (!text)
        return opj_ferr(x, base, 0,
                        "missing field \"compute\": expected the computation as text, "
                        "e.g. \"C[i, j] = sum(k, A[i, k] * B[k, j])\"");
    if (!json_is_string(text))
        return opj_ferr(x, path, 0, "expected a string, got %s", opj_show(text));
    json_object_set_new(canon, "compute", json_string(json_string_value(text)));
    if (tt_lang_parse(json_string_value(text), name, nin, in, next, ext, c) < 0)
        return opj_ferr(x, path, 0, "%s", tt_get_last_error());
    for (int s = 0; s < (*c)->nstages; s++) {
        const tt_tensor *t = (*c)->stages[s]->output;
        if (fits(x, path, t->name, t->ndim, t->shape, t->dtype.bits > 8 ? t->dtype.bits / 8 : 1) <
            0)
            return -1;
    }
    return 0;
}

int opj_parse_task(const ctx *x, const json_t *o, const char *base, tt_task *t)
{
    char path[512], name[256];
    memset(t, 0, sizeof *t);
    t->weight = 1;
    const pos *p = opj_find_pos(x, base);
    if (p)
        t->line = p->vline, t->col = p->vcol;
    if (!json_is_object(o))
        return opj_ferr(x, base, 0,
                        "expected a task object such as {\"op\": \"matmul\", ...}, got %s",
                        opj_show(o));
    const json_t *op = json_object_get(o, "op"), *v;
    opj_join_path(path, sizeof path, base, "op");
    if (!op)
        return opj_ferr(x, base, 0,
                        "missing field \"op\": expected one of matmul, batch_matmul, "
                        "dense, conv2d, depthwise_conv2d, pool2d, expr");
    tt_op_kind kind = TT_OP_MATMUL;
    int is_expr = json_is_string(op) && strcmp(json_string_value(op), "expr") == 0;
    if (!is_expr && (!json_is_string(op) || tt_op_kind_parse(json_string_value(op), &kind) < 0))
        return opj_ferr(x, path, 0,
                        "unknown op %s: expected one of matmul, batch_matmul, dense, "
                        "conv2d, depthwise_conv2d, pool2d, expr",
                        opj_show(op));
    DLDataType dt = TT_DT_F32;
    opj_join_path(path, sizeof path, base, "dtype");
    if ((v = json_object_get(o, "dtype")) &&
        (!json_is_string(v) || tt_dtype_parse(json_string_value(v), &dt) < 0 ||
         (!is_expr && !tt_dtype_is_float(dt))))
        return opj_ferr(x, path, 0, "expected %s, got %s",
                        is_expr ? "one of \"float32\", \"float64\", \"int32\", \"int64\", \"bool\""
                                : "\"float32\" or \"float64\"",
                        opj_show(v));
    opj_join_path(path, sizeof path, base, "weight");
    if ((v = json_object_get(o, "weight"))) {
        if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1e12)
            return opj_ferr(x, path, 0, "expected a positive number, got %s", opj_show(v));
        t->weight = json_number_value(v);
    }
    opj_join_path(path, sizeof path, base, "name");
    if ((v = json_object_get(o, "name")) &&
        (!json_is_string(v) || !is_ident(json_string_value(v)) ||
         strlen(json_string_value(v)) > 200))
        return opj_ferr(x, path, 0, "expected a C identifier (it names the kernel), got %s",
                        opj_show(v));
    if (is_expr && !v)
        return opj_ferr(x, base, 0, "missing field \"name\": an \"expr\" task needs one");
    json_t *canon = json_object();
    tt_compute *c = NULL;
    int rc = -1;
    if (is_expr) {
        snprintf(name, sizeof name, "%s", json_string_value(v));
        json_object_set_new(canon, "op", json_string("expr"));
        if (expr_task(x, o, base, dt, name, &c, canon) < 0)
            goto out;
    } else {
        tt_op_desc d;
        tt_op_desc_init(&d, kind);
        d.dtype = dt;
        if (op_fields(x, o, base, &d) < 0 || op_fits(x, base, &d) < 0)
            goto out;
        if (v)
            snprintf(name, sizeof name, "%s", json_string_value(v));
        else
            default_name(&d, name, sizeof name);
        json_decref(canon);
        if (!(canon = op_canonical(&d, name)))
            goto out;
        if (tt_op_build(&d, name, &c) < 0) {
            opj_ferr(x, base, 0, "%s", tt_get_last_error());
            goto out;
        }
    }
    json_object_set_new(canon, "name", json_string(name));
    t->canonical_json = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    t->name = strdup(name);
    t->op = strdup(is_expr ? "expr" : tt_op_kind_name(kind));
    size_t kl = strlen(name) + 10;
    t->key = malloc(kl);
    if (!t->canonical_json || !t->name || !t->op || !t->key) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    snprintf(t->key, kl, "%s-%08x", name, tt_fnv1a32(t->canonical_json, strlen(t->canonical_json)));
    t->compute = c;
    c = NULL;
    rc = 0;
out:
    json_decref(canon);
    if (c)
        tt_compute_release(c);
    return rc;
}

void opj_task_clear(tt_task *t)
{
    free(t->name);
    free(t->op);
    free(t->canonical_json);
    free(t->key);
    if (t->compute)
        tt_compute_release(t->compute);
    memset(t, 0, sizeof *t);
}

void tt_task_free(tt_task *t)
{
    if (!t)
        return;
    opj_task_clear(t);
    free(t);
}
