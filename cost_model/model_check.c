/* Structural check of a saved XGBoost model (its JSON form) before XGBoost reads it. XGBoost 1.7
 * trusts the file: a misspelt parameter or a tree whose arrays disagree in length makes its
 * predictor read out of bounds (found by fuzzing cost models). A model is data a user may pass
 * around (--model-in), so every field prediction relies on is checked here first. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost_model/model_internal.h"

/* XGBoost writes its integer parameters as decimal strings ("num_trees": "2"). */
static int param(json_t *obj, const char *key, long long *out, const char *where)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    long long x = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || x < 0 || x > 1000000000)
        return tt_error_set("%s.%s: expected a non-negative integer string", where, key);
    *out = x;
    return 0;
}

static json_t *member(json_t *obj, const char *key, json_type type, const char *where)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_typeof(v) != type)
        tt_error_set("%s.%s: missing or of the wrong type", where, key);
    return v && json_typeof(v) == type ? v : NULL;
}

static int check_tree(json_t *t, size_t index, int nfeat)
{
    char where[64];
    snprintf(where, sizeof where, "trees[%zu]", index);
    json_t *tp = member(t, "tree_param", JSON_OBJECT, where);
    long long nodes, tfeat, leafvec, deleted;
    if (!tp || param(tp, "num_nodes", &nodes, where) || param(tp, "num_feature", &tfeat, where) ||
        param(tp, "size_leaf_vector", &leafvec, where) || param(tp, "num_deleted", &deleted, where))
        return -1;
    if (nodes < 1 || tfeat != nfeat || leafvec != 0 || deleted != 0)
        return tt_error_set("%s: %lld nodes, %lld features, leaf vector %lld, %lld deleted: "
                            "expected >= 1 nodes, %d features, 0, 0",
                            where, nodes, tfeat, leafvec, deleted, nfeat);
    json_t *id = json_object_get(t, "id");
    if (!json_is_integer(id) || json_integer_value(id) != (json_int_t)index)
        return tt_error_set("%s.id: expected %zu", where, index);
    static const char *per_node[] = {
        "left_children", "right_children", "parents",      "split_indices", "split_conditions",
        "default_left",  "base_weights",   "loss_changes", "sum_hessian",   "split_type"};
    for (size_t k = 0; k < sizeof per_node / sizeof per_node[0]; k++) {
        json_t *a = member(t, per_node[k], JSON_ARRAY, where);
        if (!a)
            return -1;
        if ((long long)json_array_size(a) != nodes)
            return tt_error_set("%s.%s: %zu entries for %lld nodes", where, per_node[k],
                                json_array_size(a), nodes);
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_is_number(json_array_get(a, i)))
                return tt_error_set("%s.%s[%zu]: expected a number", where, per_node[k], i);
    }
    static const char *empty[] = {"categories", "categories_nodes", "categories_segments",
                                  "categories_sizes"};
    for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++) {
        json_t *a = member(t, empty[k], JSON_ARRAY, where);
        if (!a)
            return -1;
        if (json_array_size(a) != 0)
            return tt_error_set("%s.%s: categorical splits are not used by tvm-tune", where,
                                empty[k]);
    }
    json_t *left = json_object_get(t, "left_children"),
           *right = json_object_get(t, "right_children");
    json_t *split = json_object_get(t, "split_indices"), *stype = json_object_get(t, "split_type");
    json_t *parents = json_object_get(t, "parents"), *dleft = json_object_get(t, "default_left");
    /* XGBoost indexes nodes by these while it loads a tree: each must be the parent that names
     * the node as a child (the root's is 2^31 - 1, XGBoost's "no parent"). */
    if (json_integer_value(json_array_get(parents, 0)) != 2147483647)
        return tt_error_set("%s: parents[0]: expected 2147483647 (the root has none)", where);
    /* Children come after their parent (XGBoost appends nodes as it grows a tree), so following
     * them always ends at a leaf; a node has two children or none. */
    for (long long i = 0; i < nodes; i++) {
        json_int_t l = json_integer_value(json_array_get(left, (size_t)i));
        json_int_t r = json_integer_value(json_array_get(right, (size_t)i));
        if (!json_is_integer(json_array_get(left, (size_t)i)) ||
            !json_is_integer(json_array_get(right, (size_t)i)))
            return tt_error_set("%s: node %lld: children must be integers", where, i);
        bool leaf = l == -1 && r == -1;
        if (!leaf && (l <= i || r <= i || l >= nodes || r >= nodes || l == r))
            return tt_error_set("%s: node %lld: children %lld and %lld, expected two distinct "
                                "nodes in (%lld, %lld) or none",
                                where, i, (long long)l, (long long)r, i, nodes);
        if (!leaf && (json_integer_value(json_array_get(parents, (size_t)l)) != i ||
                      json_integer_value(json_array_get(parents, (size_t)r)) != i ||
                      !json_is_integer(json_array_get(parents, (size_t)l)) ||
                      !json_is_integer(json_array_get(parents, (size_t)r))))
            return tt_error_set("%s: node %lld: its children do not name it as their parent", where,
                                i);
        json_t *dl = json_array_get(dleft, (size_t)i);
        if (!json_is_integer(dl) || json_integer_value(dl) < 0 || json_integer_value(dl) > 1)
            return tt_error_set("%s: node %lld: default_left must be 0 or 1", where, i);
        json_t *f = json_array_get(split, (size_t)i);
        if (!json_is_integer(f) || json_integer_value(f) < 0 ||
            (!leaf && json_integer_value(f) >= nfeat))
            return tt_error_set("%s: node %lld: split feature out of range", where, i);
        if (json_integer_value(json_array_get(stype, (size_t)i)) != 0)
            return tt_error_set("%s: node %lld: only numerical splits are used", where, i);
    }
    return 0;
}

int tt_model_check_json(const char *text, size_t n, int nfeat)
{
    json_error_t err;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return tt_error_set("line %d: %s", err.line, err.text);
    int rc = -1;
    json_t *learner = member(root, "learner", JSON_OBJECT, "model");
    json_t *lmp = learner ? member(learner, "learner_model_param", JSON_OBJECT, "learner") : NULL;
    json_t *gb = learner ? member(learner, "gradient_booster", JSON_OBJECT, "learner") : NULL;
    json_t *model = gb ? member(gb, "model", JSON_OBJECT, "gradient_booster") : NULL;
    json_t *gmp = model ? member(model, "gbtree_model_param", JSON_OBJECT, "model") : NULL;
    json_t *trees = model ? member(model, "trees", JSON_ARRAY, "model") : NULL;
    json_t *info = model ? member(model, "tree_info", JSON_ARRAY, "model") : NULL;
    const char *name = gb ? json_string_value(json_object_get(gb, "name")) : NULL;
    long long feat, nclass, ntrees, npar, leafvec;
    if (!lmp || !gmp || !trees || !info)
        goto done;
    if (!name || strcmp(name, "gbtree") != 0) {
        tt_error_set("gradient_booster.name: expected \"gbtree\"");
        goto done;
    }
    if (param(lmp, "num_feature", &feat, "learner_model_param") ||
        param(lmp, "num_class", &nclass, "learner_model_param") ||
        param(gmp, "num_trees", &ntrees, "gbtree_model_param") ||
        param(gmp, "num_parallel_tree", &npar, "gbtree_model_param") ||
        param(gmp, "size_leaf_vector", &leafvec, "gbtree_model_param"))
        goto done;
    if (feat != nfeat || nclass != 0 || npar != 1 || leafvec != 0) {
        tt_error_set("model parameters: %lld features, %lld classes, %lld parallel trees, leaf "
                     "vector %lld: expected %d, 0, 1, 0",
                     feat, nclass, npar, leafvec, nfeat);
        goto done;
    }
    if ((long long)json_array_size(trees) != ntrees || (long long)json_array_size(info) != ntrees) {
        tt_error_set("num_trees %lld, but %zu trees and %zu tree_info entries", ntrees,
                     json_array_size(trees), json_array_size(info));
        goto done;
    }
    for (size_t i = 0; i < json_array_size(info); i++)
        if (!json_is_integer(json_array_get(info, i)) ||
            json_integer_value(json_array_get(info, i)) != 0) {
            tt_error_set("tree_info[%zu]: expected 0 (one output group)", i);
            goto done;
        }
    for (size_t i = 0; i < json_array_size(trees); i++) {
        json_t *t = json_array_get(trees, i);
        if (!json_is_object(t)) {
            tt_error_set("trees[%zu]: expected an object", i);
            goto done;
        }
        if (check_tree(t, i, nfeat) != 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}
