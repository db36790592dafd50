/* Building candidates for the tuning loop: the builder callback (a lowered kernel compiled into a
 * shared library, run by measure/builder.c in a worker process) and the test-only fault injector
 * (TT_FAULT_INJECT), which breaks chosen trials for real, in their loop IR or their build, so that
 * the tests see the error records a broken candidate leaves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/tune_internal.h"

/* ---- fault specs ---- */

static const struct {
    const char *name;
    int bit;
} fault_names[] = {
    {"build_crash", TT_FAULT_BUILD_CRASH},
    {"build_error", TT_FAULT_BUILD_ERROR},
    {"segv", TT_FAULT_SEGV},
    {"hang", TT_FAULT_HANG},
    {"wrong", TT_FAULT_WRONG},
};

int tt_tune_faults_parse(const char *spec, tt_tune_faults *out)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return 0;
    size_t cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    out->trials = calloc(cap, sizeof *out->trials);
    out->kinds = calloc(cap, sizeof *out->kinds);
    if (!out->trials || !out->kinds) {
        tt_tune_faults_free(out);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *at = memchr(p, '@', len);
        int bit = 0;
        for (size_t i = 0; at && i < sizeof fault_names / sizeof fault_names[0]; i++)
            if (strlen(fault_names[i].name) == (size_t)(at - p) &&
                strncmp(p, fault_names[i].name, (size_t)(at - p)) == 0)
                bit = fault_names[i].bit;
        char *num_end = NULL;
        long long trial = at ? strtoll(at + 1, &num_end, 10) : -1;
        if (!bit || !at || num_end == at + 1 || num_end != p + len || trial < 0) {
            tt_error_set("TT_FAULT_INJECT: '%.*s': expected KIND@TRIAL with KIND one of "
                         "build_crash, build_error, segv, hang, wrong and TRIAL >= 0",
                         (int)len, p);
            tt_tune_faults_free(out);
            return -1;
        }
        out->trials[out->n] = trial;
        out->kinds[out->n] = bit;
        out->n++;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

int tt_tune_faults_for(const tt_tune_faults *f, int64_t trial)
{
    int kinds = 0;
    for (size_t i = 0; f && i < f->n; i++)
        if (f->trials[i] == trial)
            kinds |= f->kinds[i];
    return kinds;
}

void tt_tune_faults_free(tt_tune_faults *f)
{
    free(f->trials);
    free(f->kinds);
    memset(f, 0, sizeof *f);
}

/* ---- kernel faults ---- */

/* s with 1 added to every value stored to out. New reference, NULL with the error set. */
static tt_stmt *add_one(tt_stmt *s, tt_buffer *out)
{
    if (!s)
        return NULL;
    switch (s->kind) {
    case TT_STMT_STORE: {
        if (s->buffer != out)
            return tt_stmt_retain(s);
        tt_expr *one = tt_dtype_is_float(out->dtype) ? tt_expr_float(1.0, out->dtype)
                                                     : tt_expr_int_typed(1, out->dtype);
        tt_expr *v = one ? tt_expr_binary(TT_EXPR_ADD, s->value, one) : NULL;
        tt_stmt *r = v ? tt_stmt_store(out, s->index, v) : NULL;
        if (one)
            tt_expr_release(one);
        if (v)
            tt_expr_release(v);
        return r;
    }
    case TT_STMT_FOR: {
        tt_stmt *b = add_one(s->body, out);
        tt_stmt *r = b ? tt_stmt_for(s->var, s->extent, s->for_kind, b) : NULL;
        if (b)
            tt_stmt_release(b);
        return r;
    }
    case TT_STMT_ALLOC: {
        tt_stmt *b = add_one(s->body, out);
        tt_stmt *r = b ? tt_stmt_alloc(s->buffer, b) : NULL;
        if (b)
            tt_stmt_release(b);
        return r;
    }
    case TT_STMT_IF: {
        tt_stmt *t = add_one(s->then_s, out);
        tt_stmt *e = s->else_s ? add_one(s->else_s, out) : NULL;
        tt_stmt *r = t && (e || !s->else_s) ? tt_stmt_if(s->cond, t, e) : NULL;
        if (t)
            tt_stmt_release(t);
        if (e)
            tt_stmt_release(e);
        return r;
    }
    case TT_STMT_SEQ: {
        tt_stmt **parts = calloc((size_t)s->nstmts + 1, sizeof *parts);
        if (!parts) {
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            return NULL;
        }
        int ok = 1;
        for (int i = 0; i < s->nstmts && ok; i++)
            ok = (parts[i] = add_one(s->stmts[i], out)) != NULL;
        tt_stmt *r = ok ? tt_stmt_seq(s->nstmts, parts) : NULL;
        for (int i = 0; i < s->nstmts; i++)
            if (parts[i])
                tt_stmt_release(parts[i]);
        free(parts);
        return r;
    }
    default:
        return tt_stmt_retain(s);
    }
}

/* A store 2^40 elements past the output's start: far beyond any mapping, so the kernel dies of
 * SIGSEGV the way a wrong index would make it. */
static tt_stmt *segv_first(tt_stmt *body, tt_buffer *out)
{
    tt_expr *idx = tt_expr_int((int64_t)1 << 40);
    tt_expr *zero = tt_dtype_is_float(out->dtype) ? tt_expr_float(0.0, out->dtype)
                                                  : tt_expr_int_typed(0, out->dtype);
    tt_stmt *store = idx && zero ? tt_stmt_store(out, idx, zero) : NULL;
    tt_stmt *parts[2] = {store, body};
    tt_stmt *r = store ? tt_stmt_seq(2, parts) : NULL;
    if (idx)
        tt_expr_release(idx);
    if (zero)
        tt_expr_release(zero);
    if (store)
        tt_stmt_release(store);
    return r;
}

/* The body repeated INT64_MAX times: it stores, so no optimiser may drop the loop. */
static tt_stmt *hang_around(tt_stmt *body)
{
    tt_expr *var = tt_expr_var("tt_fault_hang", TT_DT_I64);
    tt_expr *ext = tt_expr_int(INT64_MAX);
    tt_stmt *r = var && ext ? tt_stmt_for(var, ext, TT_FOR_SERIAL, body) : NULL;
    if (var)
        tt_expr_release(var);
    if (ext)
        tt_expr_release(ext);
    return r;
}

int tt_tune_inject(tt_kernel *k, int kinds, tt_kernel **out)
{
    *out = NULL;
    if (!(kinds & (TT_FAULT_SEGV | TT_FAULT_HANG | TT_FAULT_WRONG))) {
        tt_object_retain((tt_object *)k);
        *out = k;
        return 0;
    }
    if (k->nparams < 1)
        return tt_error_set("fault injection: kernel %s has no output parameter", k->name);
    tt_buffer *o = k->params[k->nparams - 1];
    tt_stmt *body = tt_stmt_retain(k->body);
    if (kinds & TT_FAULT_WRONG) {
        tt_stmt *b = add_one(body, o);
        tt_stmt_release(body);
        body = b;
    }
    if (body && (kinds & TT_FAULT_HANG)) {
        tt_stmt *b = hang_around(body);
        tt_stmt_release(body);
        body = b;
    }
    if (body && (kinds & TT_FAULT_SEGV)) {
        tt_stmt *b = segv_first(body, o);
        tt_stmt_release(body);
        body = b;
    }
    if (!body)
        return tt_error_wrap("fault injection into %s", k->name);
    *out = tt_kernel_new(k->name, k->nparams, k->params, body);
    tt_stmt_release(body);
    return *out ? 0 : -1;
}

/* ---- the build callback ---- */

int tt_tune_build(void *ctx, int index, const char *out_path, char *err, size_t errlen)
{
    const tt_tune_build_item *it = &((const tt_tune_build_item *)ctx)[index];
    if (it->faults & TT_FAULT_BUILD_CRASH)
        raise(SIGSEGV);
    if (it->faults & TT_FAULT_BUILD_ERROR) {
        snprintf(err, errlen, "injected build error (TT_FAULT_INJECT)");
        return 1;
    }
    if (tt_codegen_emit(&it->kernel, 1, it->target, TT_EMIT_SO, out_path) != 0) {
        snprintf(err, errlen, "%s", tt_get_last_error());
        return 1;
    }
    return 0;
}
