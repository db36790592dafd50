/* The tt_rpc_* helpers of include/tt/rpc.h built on remote calls of the device's rpc.* globals:
 * upload in chunks, load_module, device_info, remote arrays and their copies, the time evaluator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime_internal.h"
#include "client.h"
#include "proto.h"
#include "tt/rpc.h"

TT_API int tt_rpc_upload(tt_module session, const char *local_path, const char *remote_name)
{
    if (local_path == NULL || remote_name == NULL)
        return tt_error_set("tt_rpc_upload: %s is NULL", local_path ? "remote_name" : "local_path");
    FILE *f = fopen(local_path, "rb");
    if (f == NULL)
        return tt_error_set("tt_rpc_upload: cannot open \"%s\": %s", local_path, strerror(errno));
    char *chunk = malloc(TT_RPC_CHUNK_BYTES);
    if (chunk == NULL) {
        fclose(f);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_rpc_upload: out of memory");
    }
    int64_t offset = 0;
    int rc = 0, first = 1;
    for (;;) {
        size_t got = fread(chunk, 1, TT_RPC_CHUNK_BYTES, f);
        if (got == 0 && !first)
            break;
        tt_bytes b = {chunk, got};
        tt_value args[3] = {{.v_str = remote_name}, {.v_handle = &b}, {.v_int64 = offset}};
        int codes[3] = {TT_STR, TT_BYTES, TT_INT};
        tt_rpc_values vals;
        if (tt_rpc_call_global(session, "tt_rpc_upload", "rpc.upload", args, codes, 3, &vals) !=
            0) {
            rc = -1;
            break;
        }
        tt_rpc_values_free(&vals);
        offset += (int64_t)got;
        first = 0;
        if (got < TT_RPC_CHUNK_BYTES)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = tt_error_set("tt_rpc_upload: reading \"%s\" failed", local_path);
    free(chunk);
    fclose(f);
    return rc;
}

TT_API int tt_rpc_load_module(tt_module session, const char *remote_name, tt_module *out)
{
    if (out == NULL)
        return tt_error_set("tt_rpc_load_module: out is NULL");
    *out = NULL;
    tt_value a = {.v_str = remote_name};
    int c = TT_STR;
    tt_rpc_values vals;
    if (tt_rpc_call_global(session, "tt_rpc_load_module", "rpc.load_module", &a, &c, 1, &vals) != 0)
        return -1;
    if (vals.codes[0] != TT_MODULE) {
        tt_value_release(vals.values[0], vals.codes[0]);
        tt_rpc_values_free(&vals);
        return tt_error_set("tt_rpc_load_module: the device returned no module");
    }
    *out = vals.values[0].v_handle;
    tt_rpc_values_free(&vals);
    return 0;
}

TT_API int tt_rpc_device_info(tt_module session, char **json)
{
    *json = NULL;
    tt_rpc_values vals;
    if (tt_rpc_call_global(session, "tt_rpc_device_info", "rpc.device_info", NULL, NULL, 0,
                           &vals) != 0)
        return -1;
    int rc = 0;
    if (vals.codes[0] != TT_STR || (*json = strdup(vals.values[0].v_str)) == NULL)
        rc = tt_error_set("tt_rpc_device_info: no answer");
    tt_rpc_values_free(&vals);
    return rc;
}

TT_API int tt_rpc_array_alloc(tt_module session, const int64_t *shape, int ndim, DLDataType dt,
                              tt_object **out)
{
    *out = NULL;
    if (ndim < 0 || ndim > 32)
        return tt_error_set("tt_rpc_array_alloc: ndim = %d, expected 0..32", ndim);
    tt_value args[33];
    int codes[33];
    args[0].v_type = dt;
    codes[0] = TT_DTYPE;
    for (int i = 0; i < ndim; i++) {
        args[i + 1].v_int64 = shape[i];
        codes[i + 1] = TT_INT;
    }
    tt_rpc_values vals;
    if (tt_rpc_call_global(session, "tt_rpc_array_alloc", "rpc.array_alloc", args, codes, ndim + 1,
                           &vals) != 0)
        return -1;
    remote_obj *r = vals.codes[0] == TT_OBJECT ? tt_rpc_as_remote(vals.values[0].v_handle) : NULL;
    if (r == NULL || r->code != TT_NDARRAY) {
        tt_value_release(vals.values[0], vals.codes[0]);
        tt_rpc_values_free(&vals);
        return tt_error_set("tt_rpc_array_alloc: the device returned no array");
    }
    DLTensor shape_only = {.ndim = ndim, .dtype = dt, .shape = (int64_t *)shape};
    r->nbytes = tt_array_nbytes(&shape_only);
    *out = &r->obj;
    tt_rpc_values_free(&vals);
    return 0;
}

static int check_pair(const char *who, remote_obj *r, const DLTensor *local)
{
    if (r == NULL || r->code != TT_NDARRAY)
        return tt_error_set("%s: remote is not a remote array", who);
    if (local == NULL || local->data == NULL)
        return tt_error_set("%s: local array is NULL or has no data", who);
    int64_t n = tt_array_nbytes(local);
    if (n < 0)
        return tt_error_wrap("%s", who);
    if (r->nbytes >= 0 && n != r->nbytes)
        return tt_error_set("%s: the local array has %lld bytes, the remote one %lld", who,
                            (long long)n, (long long)r->nbytes);
    return 0;
}

/* Calls a method of the session that owns r with r as its first argument. */
static int call_on(remote_obj *r, const char *name, tt_value *args, int *codes, int n,
                   tt_rpc_values *vals)
{
    args[0].v_handle = &r->obj;
    codes[0] = TT_OBJECT;
    return tt_rpc_call_global_s(r->s, name, name, args, codes, n, vals);
}

TT_API int tt_rpc_array_copy_from(tt_object *remote, const DLTensor *local)
{
    remote_obj *r = tt_rpc_as_remote(remote);
    if (check_pair("tt_rpc_array_copy_from", r, local) != 0)
        return -1;
    int64_t n = tt_array_nbytes(local);
    const char *src = (const char *)local->data + local->byte_offset;
    for (int64_t at = 0; at < n || (n == 0 && at == 0); at += TT_RPC_CHUNK_BYTES) {
        int64_t len = n - at < TT_RPC_CHUNK_BYTES ? n - at : TT_RPC_CHUNK_BYTES;
        tt_bytes b = {src + at, (size_t)len};
        tt_value args[3] = {{0}, {.v_handle = &b}, {.v_int64 = at}};
        int codes[3] = {0, TT_BYTES, TT_INT};
        tt_rpc_values vals;
        if (call_on(r, "rpc.array_copy_to", args, codes, 3, &vals) != 0)
            return -1;
        tt_rpc_values_free(&vals);
        if (n == 0)
            break;
    }
    return 0;
}

TT_API int tt_rpc_array_copy_to(tt_object *remote, DLTensor *local)
{
    remote_obj *r = tt_rpc_as_remote(remote);
    if (check_pair("tt_rpc_array_copy_to", r, local) != 0)
        return -1;
    int64_t n = tt_array_nbytes(local);
    char *dst = (char *)local->data + local->byte_offset;
    for (int64_t at = 0; at < n; at += TT_RPC_CHUNK_BYTES) {
        int64_t len = n - at < TT_RPC_CHUNK_BYTES ? n - at : TT_RPC_CHUNK_BYTES;
        tt_value args[3] = {{0}, {.v_int64 = at}, {.v_int64 = len}};
        int codes[3] = {0, TT_INT, TT_INT};
        tt_rpc_values vals;
        if (call_on(r, "rpc.array_copy_from", args, codes, 3, &vals) != 0)
            return -1;
        const tt_bytes *b = vals.values[0].v_handle;
        if (vals.codes[0] != TT_BYTES || (int64_t)b->size != len) {
            tt_rpc_values_free(&vals);
            return tt_error_set("tt_rpc_array_copy_to: the device sent a short chunk");
        }
        memcpy(dst + at, b->data, b->size);
        tt_rpc_values_free(&vals);
    }
    return 0;
}

/* A little-endian double at p. */
static double le_double(const char *p)
{
    uint64_t bits = 0;
    for (int k = 7; k >= 0; k--)
        bits = bits << 8 | (uint8_t)p[k];
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

TT_API int tt_rpc_time_evaluate(tt_func f, const tt_rpc_timing *t, const tt_value *args,
                                const int *codes, int n, double *costs, int *n_costs,
                                int64_t *number_out)
{
    rpc_sess *s = tt_rpc_func_session(f);
    if (s == NULL)
        return tt_error_set("tt_rpc_time_evaluate: f is not a function of an RPC session");
    if (n < 0 || n > TT_RPC_MAX_ARGS - 6)
        return tt_error_set("tt_rpc_time_evaluate: %d arguments, expected 0..%d", n,
                            TT_RPC_MAX_ARGS - 6);
    tt_value *a = malloc((size_t)(n + 6) * sizeof *a);
    int *c = malloc((size_t)(n + 6) * sizeof *c);
    if (a == NULL || c == NULL) {
        free(a);
        free(c);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "tt_rpc_time_evaluate: out of memory");
    }
    a[0].v_handle = f;
    c[0] = TT_FUNC;
    a[1].v_int64 = t->number;
    c[1] = TT_INT;
    a[2].v_int64 = t->repeat;
    c[2] = TT_INT;
    a[3].v_float64 = t->min_repeat_ms;
    c[3] = TT_FLOAT;
    a[4].v_int64 = t->flush_cache != 0;
    c[4] = TT_INT;
    a[5].v_float64 = t->stop_above_s;
    c[5] = TT_FLOAT;
    for (int i = 0; i < n; i++) {
        a[i + 6] = args[i];
        c[i + 6] = codes[i];
    }
    tt_rpc_values vals;
    int rc =
        tt_rpc_call_global_s(s, "tt_rpc_time_evaluate", "rpc.time_evaluate", a, c, n + 6, &vals);
    free(a);
    free(c);
    if (rc != 0)
        return -1;
    /* [k, number, cost_1 .. cost_k] as little-endian doubles, 1 <= k <= repeat */
    const tt_bytes *b = vals.values[0].v_handle;
    double head[2] = {0, 0};
    size_t k = 0;
    if (vals.codes[0] == TT_BYTES && b->size >= 16 && b->size % 8 == 0) {
        for (int i = 0; i < 2; i++)
            head[i] = le_double(b->data + i * 8);
        k = b->size / 8 - 2;
    }
    if (vals.codes[0] != TT_BYTES || k < 1 || k > (size_t)t->repeat || head[0] != (double)k ||
        !(head[1] >= 1)) {
        tt_rpc_values_free(&vals);
        return tt_error_set("tt_rpc_time_evaluate: the device's reply is not 1..%d costs",
                            t->repeat);
    }
    for (size_t i = 0; i < k; i++)
        costs[i] = le_double(b->data + (i + 2) * 8);
    *n_costs = (int)k;
    if (number_out != NULL)
        *number_out = (int64_t)head[1];
    tt_rpc_values_free(&vals);
    return 0;
}
