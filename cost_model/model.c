/* The XGBoost cost model (cost_model/model.h): training on a dataset's rows grouped by workload,
 * prediction, save and load through XGBoost's C API (1.7), and the ranking metrics that
 * `tvm-tune model eval` reports. Rows come from cost_model/dataset.c. */
#include "cost_model/model.h"
#include "cost_model/model_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "runtime/text.h"

#define MAGIC "tvm-tune-model 1"

struct tt_model {
    tt_model_opts o;
    char objective[16];
    BoosterHandle bst; /* NULL until trained or loaded */
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_log(const char *msg)
{
    (void)msg;
}
static void make_quiet(void)
{
    /* XGBoost prints warnings on its own; our callers report errors through return codes */
    XGBSetGlobalConfig("{\"verbosity\":0}");
    XGBRegisterLogCallback(quiet_log);
}

static int xgb_fail(const char *what)
{
    return tt_error_set("cost model: %s: %s", what, XGBGetLastError());
}

void tt_model_opts_default(tt_model_opts *o)
{
    *o = (tt_model_opts){
        .objective = "rank", .rounds = 100, .max_depth = 6, .eta = 0.2, .nthread = 0, .seed = 1};
}

int tt_model_new(const tt_model_opts *o, tt_model **out)
{
    *out = NULL;
    tt_model_opts d;
    tt_model_opts_default(&d);
    if (!o)
        o = &d;
    const char *obj = o->objective ? o->objective : "rank";
    if (strcmp(obj, "rank") != 0 && strcmp(obj, "reg") != 0)
        return tt_error_set("cost model: objective \"%s\": expected rank or reg", obj);
    if (!(o->label_step >= 0 && o->label_step < 1))
        return tt_error_set("cost model: label step %g: expected 0 <= step < 1", o->label_step);
    if (o->rounds < 1 || o->max_depth < 1 || !(o->eta > 0) || o->nthread < 0)
        return tt_error_set("cost model: expected rounds >= 1, max_depth >= 1, eta > 0 and "
                            "nthread >= 0, got %d, %d, %g, %d",
                            o->rounds, o->max_depth, o->eta, o->nthread);
    pthread_once(&quiet_once, make_quiet);
    tt_model *m = calloc(1, sizeof *m);
    if (!m)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    m->o = *o;
    snprintf(m->objective, sizeof m->objective, "%s", obj);
    m->o.objective = m->objective;
    *out = m;
    return 0;
}

void tt_model_free(tt_model *m)
{
    if (!m)
        return;
    if (m->bst)
        XGBoosterFree(m->bst);
    free(m);
}

bool tt_model_trained(const tt_model *m)
{
    return m && m->bst;
}

static int set_params(tt_model *m, BoosterHandle b)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", m->o.nthread);
    if (XGBoosterSetParam(b, "nthread", buf) != 0)
        return xgb_fail("nthread");
    return 0;
}

static int set_train_params(tt_model *m, BoosterHandle b)
{
    char depth[32], eta[32], seed[32];
    snprintf(depth, sizeof depth, "%d", m->o.max_depth);
    snprintf(eta, sizeof eta, "%g", m->o.eta);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(m->o.seed % 2147483647u));
    const char *params[][2] = {
        {"objective", strcmp(m->objective, "rank") == 0 ? "rank:pairwise" : "reg:squarederror"},
        {"max_depth", depth},
        {"eta", eta},
        {"seed", seed},
        {"tree_method", "hist"},
        {"min_child_weight", "1"},
        {"verbosity", "0"},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (XGBoosterSetParam(b, params[i][0], params[i][1]) != 0)
            return xgb_fail(params[i][0]);
    return set_params(m, b);
}

/* Rows ordered by group (XGBoost wants a query's rows contiguous), stable within a group. */
static size_t *group_order(const tt_dataset *d, unsigned *sizes)
{
    size_t *perm = malloc((d->nrows + 1) * sizeof *perm);
    size_t *start = calloc(d->ngroups + 1, sizeof *start);
    if (!perm || !start) {
        free(perm);
        free(start);
        return NULL;
    }
    memset(sizes, 0, d->ngroups * sizeof *sizes);
    for (size_t i = 0; i < d->nrows; i++)
        sizes[d->group[i]]++;
    for (size_t g = 1; g <= d->ngroups; g++)
        start[g] = start[g - 1] + sizes[g - 1];
    for (size_t i = 0; i < d->nrows; i++)
        perm[start[d->group[i]]++] = i;
    free(start);
    return perm;
}

int tt_model_train(tt_model *m, const tt_dataset *d)
{
    return tt_model_train_weighted(m, d, NULL);
}

int tt_model_train_weighted(tt_model *m, const tt_dataset *d, const float *group_weight)
{
    if (!d || d->nrows == 0)
        return tt_error_set("cost model: no rows to train on");
    for (size_t g = 0; group_weight && g < d->ngroups; g++)
        if (!(group_weight[g] >= 0) || !isfinite(group_weight[g]))
            return tt_error_set("cost model: group %zu has weight %g, expected a finite value "
                                ">= 0",
                                g, (double)group_weight[g]);
    const size_t nf = TT_FEATURE_COUNT;
    unsigned *sizes = calloc(d->ngroups + 1, sizeof *sizes);
    float *x = malloc(d->nrows * nf * sizeof *x);
    float *y = malloc(d->nrows * sizeof *y), *ys = malloc(d->nrows * sizeof *ys);
    /* rank: one weight per non-empty group; reg: one per row */
    float *w = group_weight ? malloc((d->nrows + 1) * sizeof *w) : NULL;
    bool rank = strcmp(m->o.objective, "rank") == 0;
    size_t *perm = sizes ? group_order(d, sizes) : NULL;
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    int rc = -1;
    if (!sizes || !x || !y || !ys || !perm || (group_weight && !w)) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    tt_dataset_targets(d, y);
    for (size_t i = 0; i < d->nrows; i++) {
        memcpy(x + i * nf, d->x + perm[i] * nf, nf * sizeof *x);
        ys[i] = y[perm[i]];
        /* failures stay 0, below every bucket of a valid candidate */
        if (m->o.label_step > 0 && ys[i] > 0 && rank)
            ys[i] = (float)((floor(ys[i] / m->o.label_step) + 1) * m->o.label_step);
        if (w && !rank)
            w[i] = group_weight[d->group[perm[i]]];
    }
    /* empty groups (all rows of a key dropped) are left out of the group sizes */
    size_t ng = 0;
    for (size_t g = 0; g < d->ngroups; g++)
        if (sizes[g]) {
            if (w && rank)
                w[ng] = group_weight[g];
            sizes[ng++] = sizes[g];
        }
    if (XGDMatrixCreateFromMat(x, d->nrows, nf, NAN, &dm) != 0) {
        xgb_fail("training matrix");
        goto out;
    }
    /* groups matter to ranking only; XGBoost then wants a weight per group, and per row
     * without groups */
    if (XGDMatrixSetFloatInfo(dm, "label", ys, d->nrows) != 0 ||
        ((rank || !w) && XGDMatrixSetUIntInfo(dm, "group", sizes, ng) != 0)) {
        xgb_fail("training labels");
        goto out;
    }
    if (w && XGDMatrixSetFloatInfo(dm, "weight", w, rank ? ng : d->nrows) != 0) {
        xgb_fail("training weights");
        goto out;
    }
    if (XGBoosterCreate(&dm, 1, &b) != 0) {
        xgb_fail("booster");
        goto out;
    }
    if (set_train_params(m, b) != 0)
        goto out;
    for (int it = 0; it < m->o.rounds; it++)
        if (XGBoosterUpdateOneIter(b, it, dm) != 0) {
            xgb_fail("training");
            goto out;
        }
    if (m->bst)
        XGBoosterFree(m->bst);
    m->bst = b;
    b = NULL;
    rc = 0;
out:
    if (b)
        XGBoosterFree(b);
    if (dm)
        XGDMatrixFree(dm);
    free(sizes);
    free(x);
    free(y);
    free(ys);
    free(w);
    free(perm);
    return rc;
}

int tt_model_predict(tt_model *m, const float *x, size_t n, float *scores)
{
    if (n == 0)
        return 0;
    if (!m->bst) {
        memset(scores, 0, n * sizeof *scores);
        return 0;
    }
    DMatrixHandle dm = NULL;
    if (XGDMatrixCreateFromMat(x, n, TT_FEATURE_COUNT, NAN, &dm) != 0)
        return xgb_fail("prediction matrix");
    bst_ulong len = 0;
    const float *res = NULL;
    int rc = XGBoosterPredict(m->bst, dm, 0, 0, 0, &len, &res);
    if (rc != 0 || len != n) {
        XGDMatrixFree(dm);
        return rc != 0 ? xgb_fail("prediction")
                       : tt_error_set("cost model: %llu scores for %zu rows",
                                      (unsigned long long)len, n);
    }
    memcpy(scores, res, n * sizeof *scores);
    XGDMatrixFree(dm);
    return 0;
}

int tt_model_save(const tt_model *m, const char *path)
{
    if (!m->bst)
        return tt_error_set("cost model: nothing to save to %s: the model is not trained", path);
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(m->bst, "{\"format\":\"json\"}", &len, &buf) != 0)
        return xgb_fail("save");
    FILE *f = fopen(path, "wb");
    if (!f)
        return tt_error_set("%s: cannot write the model: %s", path, strerror(errno));
    fprintf(f, "%s features=%d objective=%s\n", MAGIC, TT_FEATURE_COUNT, m->objective);
    size_t w = fwrite(buf, 1, len, f);
    int bad = w != len || fflush(f) != 0 || ferror(f);
    if (fclose(f) != 0 || bad)
        return tt_error_set("%s: cannot write the model: %s", path, strerror(errno));
    return 0;
}

int tt_model_load_buffer(tt_model *m, const char *text, size_t n, const char *name)
{
    const char *nl = memchr(text, '\n', n);
    int nfeat = 0;
    char obj[16] = "", head[128];
    size_t hn = nl ? (size_t)(nl - text) : 0;
    if (nl && hn < sizeof head) {
        memcpy(head, text, hn);
        head[hn] = '\0';
    }
    if (!nl || hn >= sizeof head || strncmp(head, MAGIC " ", strlen(MAGIC) + 1) != 0 ||
        sscanf(head + strlen(MAGIC), " features=%d objective=%15s", &nfeat, obj) != 2)
        return tt_error_set("%s: not a tvm-tune model (expected a first line \"%s "
                            "features=N objective=rank|reg\")",
                            name, MAGIC);
    if (nfeat != TT_FEATURE_COUNT || (strcmp(obj, "rank") != 0 && strcmp(obj, "reg") != 0))
        return tt_error_set("%s: a model of %d features (%s), expected %d features (rank or reg): "
                            "made by another version of tvm-tune",
                            name, nfeat, obj, TT_FEATURE_COUNT);
    pthread_once(&quiet_once, make_quiet);
    BoosterHandle b = NULL;
    size_t off = hn + 1;
    if (XGBoosterCreate(NULL, 0, &b) != 0)
        return xgb_fail("booster");
    bst_ulong nf = 0;
    if (n - off > 0 && tt_model_check_json(text + off, n - off, TT_FEATURE_COUNT) != 0) {
        tt_error_wrap("%s: corrupt model", name);
        goto fail;
    }
    if (n - off == 0 || XGBoosterLoadModelFromBuffer(b, text + off, n - off) != 0) {
        tt_error_set("%s: corrupt model: %s", name,
                     n - off == 0 ? "nothing after the header line" : XGBGetLastError());
        goto fail;
    }
    if (XGBoosterGetNumFeature(b, &nf) != 0 || nf != TT_FEATURE_COUNT) {
        tt_error_set("%s: corrupt model: %llu features, expected %d", name, (unsigned long long)nf,
                     TT_FEATURE_COUNT);
        goto fail;
    }
    if (set_params(m, b) != 0)
        goto fail;
    /* XGBoost accepts some inconsistent models (a tree parameter it enforces only when it
     * predicts): score one row now, so such a file fails here and not in the middle of tuning. */
    {
        float row[TT_FEATURE_COUNT] = {0};
        DMatrixHandle dm = NULL;
        bst_ulong len = 0;
        const float *res = NULL;
        if (XGDMatrixCreateFromMat(row, 1, TT_FEATURE_COUNT, NAN, &dm) != 0) {
            xgb_fail("prediction matrix");
            goto fail;
        }
        int bad = XGBoosterPredict(b, dm, 0, 0, 0, &len, &res) != 0 || len != 1;
        XGDMatrixFree(dm);
        if (bad) {
            tt_error_set("%s: corrupt model: it does not predict (%s)", name,
                         len != 1 && !XGBGetLastError()[0] ? "no score" : XGBGetLastError());
            goto fail;
        }
    }
    if (m->bst)
        XGBoosterFree(m->bst);
    m->bst = b;
    snprintf(m->objective, sizeof m->objective, "%s", obj);
    return 0;
fail:
    XGBoosterFree(b);
    return -1;
}

int tt_model_load(tt_model *m, const char *path)
{
    char *text;
    size_t n;
    if (tt_read_file(path, 0, &text, &n) != 0)
        return tt_error_wrap("%s: cannot read the model", path);
    int rc = tt_model_load_buffer(m, text, n, path);
    free(text);
    return rc;
}

/* ---- evaluation ---- */

typedef struct {
    double key;
    size_t row;
} ranked;

static int by_key(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

int tt_rank_evaluate(const tt_dataset *d, const float *scores, tt_model_eval_result *out)
{
    memset(out, 0, sizeof *out);
    float *y = malloc((d->nrows + 1) * sizeof *y);
    ranked *byc = malloc((d->nrows + 1) * sizeof *byc), *bys = malloc((d->nrows + 1) * sizeof *bys);
    if (!y || !byc || !bys) {
        free(y);
        free(byc);
        free(bys);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    tt_dataset_targets(d, y);
    double correct = 0, recall = 0;
    for (size_t g = 0; g < d->ngroups; g++) {
        size_t n = 0, nvalid = 0;
        for (size_t i = 0; i < d->nrows; i++) {
            if (d->group[i] != g)
                continue;
            /* failed rows sort last by cost */
            double c = isfinite(d->cost[i]) ? d->cost[i] : INFINITY;
            byc[n] = (ranked){c, i};
            bys[n] = (ranked){-(double)scores[i], i};
            nvalid += isfinite(d->cost[i]);
            n++;
        }
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                size_t i = byc[a].row, j = byc[b].row;
                if (y[i] == y[j])
                    continue;
                out->pairs++;
                double ds = (double)scores[i] - scores[j], dy = (double)y[i] - y[j];
                correct += ds == 0 ? 0.5 : (ds > 0) == (dy > 0);
            }
        if (nvalid == 0)
            continue;
        qsort(byc, n, sizeof *byc, by_key);
        qsort(bys, n, sizeof *bys, by_key);
        size_t k = nvalid < 10 ? nvalid : 10, top = n < 32 ? n : 32, hit = 0;
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < top; b++)
                hit += byc[a].row == bys[b].row;
        recall += (double)hit / (double)k;
        out->groups++;
    }
    out->pair_accuracy = out->pairs ? correct / (double)out->pairs : 0;
    out->recall_top10_32 = out->groups ? recall / (double)out->groups : 0;
    free(y);
    free(byc);
    free(bys);
    return 0;
}

int tt_model_evaluate(tt_model *m, const tt_dataset *d, tt_model_eval_result *out)
{
    memset(out, 0, sizeof *out);
    float *s = malloc((d->nrows + 1) * sizeof *s);
    if (!s)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    int rc = tt_model_predict(m, d->x, d->nrows, s);
    if (rc == 0)
        rc = tt_rank_evaluate(d, s, out);
    free(s);
    return rc;
}
