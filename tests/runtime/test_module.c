/* Tests runtime/module.c and module_so.c: modules from a vtable, the lookup cache, imports,
 * loaders by format, and the "so" loader on a real library, a missing file and a non-ELF file. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "rt_test.h"

/* ---- a module implemented in the test: counts lookups to prove the cache works ---- */

typedef struct {
    const char *has; /* the one function name it provides */
    int64_t value;   /* what that function returns */
    int lookups;     /* get_function calls */
    int *freed;
} fake_mod;

static int const_body(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    (void)args, (void)codes, (void)n;
    tt_value v = {.v_int64 = (int64_t)(intptr_t)res};
    int c = TT_INT;
    return tt_ret_set(ret, &v, &c, 1);
}

static int fake_get(void *self, const char *name, tt_func *out)
{
    fake_mod *m = self;
    m->lookups++;
    if (strcmp(name, "explode") == 0)
        return tt_error_set("cannot look up explode");
    if (strcmp(name, m->has) != 0) {
        *out = NULL;
        return 0;
    }
    return tt_func_create(const_body, (void *)(intptr_t)m->value, NULL, out);
}

static void fake_free(void *self)
{
    fake_mod *m = self;
    (*m->freed)++;
    free(m);
}

static const tt_module_vtable fake_vtable = {"fake", fake_get, fake_free};

static tt_module fake_new(const char *has, int64_t value, int *freed)
{
    fake_mod *f = malloc(sizeof *f);
    *f = (fake_mod){has, value, 0, freed};
    tt_module m = NULL;
    assert_int_equal(tt_mod_create(&fake_vtable, f, &m), 0);
    return m;
}

static int64_t call0(tt_func f)
{
    tt_value ret;
    int code;
    assert_int_equal(tt_func_call(f, NULL, NULL, 0, &ret, &code), 0);
    assert_int_equal(code, TT_INT);
    return ret.v_int64;
}

static void test_create_and_cache(void **state)
{
    (void)state;
    int freed = 0;
    tt_module m = fake_new("f", 7, &freed);
    assert_string_equal(tt_mod_format(m), "fake");
    assert_string_equal(tt_object_key(m), "runtime.Module");
    fake_mod *self = tt_mod_self(m, &fake_vtable);
    assert_non_null(self);
    assert_null(tt_mod_self(m, (const tt_module_vtable *)&freed));

    tt_func f1 = NULL, f2 = NULL, miss = (tt_func)0x1;
    assert_int_equal(tt_mod_get_function(m, "f", 0, &f1), 0);
    assert_int_equal(tt_mod_get_function(m, "f", 0, &f2), 0);
    assert_non_null(f1);
    assert_ptr_equal(f1, f2); /* the cached handle */
    assert_int_equal(self->lookups, 1);
    assert_int_equal(call0(f1), 7);
    assert_int_equal(tt_mod_get_function(m, "g", 0, &miss), 0);
    assert_null(miss);
    assert_int_equal(tt_mod_get_function(m, "g", 1, &miss), 0);
    assert_int_equal(self->lookups, 2); /* misses are cached too */

    assert_fails_with(tt_mod_get_function(m, "explode", 0, &miss),
                      "tt_mod_get_function: \"explode\" in a fake module: cannot look up explode");
    assert_fails_with(tt_mod_get_function(m, NULL, 0, &miss), "name is NULL");
    assert_fails_with(tt_mod_get_function(m, "f", 0, NULL), "out is NULL");
    assert_fails_with(tt_mod_get_function(NULL, "f", 0, &miss), "m is NULL");
    assert_fails_with(tt_mod_get_function(f1, "f", 0, &miss), "m is a runtime.Func, expected a "
                                                              "runtime.Module");

    /* A function outlives the module that made it. */
    assert_int_equal(tt_mod_free(m), 0);
    assert_int_equal(freed, 1);
    assert_int_equal(call0(f1), 7);
    tt_func_free(f1);
    tt_func_free(f2);

    assert_int_equal(tt_mod_free(NULL), 0);
    assert_fails_with(tt_mod_retain(NULL), "m is NULL");
    assert_null(tt_mod_format(NULL));
    assert_fails_with(tt_mod_create(NULL, NULL, &m), "vtable is NULL");
    static const tt_module_vtable no_get = {"x", NULL, NULL};
    assert_fails_with(tt_mod_create(&no_get, NULL, &m), "vtable->get_function is NULL");
    static const tt_module_vtable no_format = {NULL, fake_get, NULL};
    assert_fails_with(tt_mod_create(&no_format, NULL, &m), "vtable->format is empty");
}

static void test_imports(void **state)
{
    (void)state;
    int freed = 0;
    tt_module top = fake_new("top", 1, &freed), mid = fake_new("mid", 2, &freed),
              leaf = fake_new("leaf", 3, &freed);
    assert_int_equal(tt_mod_import(top, mid), 0);
    assert_int_equal(tt_mod_import(mid, leaf), 0);
    tt_func f = NULL;
    assert_int_equal(tt_mod_get_function(top, "leaf", 0, &f), 0);
    assert_null(f);
    assert_int_equal(tt_mod_get_function(top, "leaf", 1, &f), 0);
    assert_non_null(f);
    assert_int_equal(call0(f), 3);
    tt_func_free(f);
    assert_int_equal(tt_mod_get_function(top, "mid", 1, &f), 0);
    assert_int_equal(call0(f), 2);
    tt_func_free(f);

    assert_fails_with(tt_mod_import(leaf, top), "would make a cycle");
    assert_fails_with(tt_mod_import(top, top), "would make a cycle");
    assert_fails_with(tt_mod_import(top, NULL), "dep is NULL");
    assert_fails_with(tt_mod_import(NULL, top), "m is NULL");

    /* top holds mid holds leaf: dropping our references to mid and leaf frees nothing yet. */
    tt_mod_free(leaf);
    tt_mod_free(mid);
    assert_int_equal(freed, 0);
    tt_mod_free(top);
    assert_int_equal(freed, 3);
}

#define THREADS 4
#define OPS 10000

typedef struct {
    tt_module m;
    tt_func first;
    int errors;
} lookup_worker;

static void *lookup_many(void *arg)
{
    lookup_worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        tt_func f = NULL;
        if (tt_mod_get_function(w->m, i % 2 ? "f" : "absent", 1, &f) != 0) {
            w->errors++;
            continue;
        }
        if (i % 2 && w->first == NULL)
            w->first = f, tt_func_retain(f);
        if (i % 2 ? f != w->first : f != NULL)
            w->errors++;
        tt_func_free(f);
    }
    tt_func_free(w->first);
    return NULL;
}

static void test_lookups_from_threads(void **state)
{
    (void)state;
    int freed = 0;
    tt_module m = fake_new("f", 1, &freed);
    pthread_t t[THREADS];
    lookup_worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (lookup_worker){m, NULL, 0};
        assert_int_equal(pthread_create(&t[i], NULL, lookup_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    /* Two names, each looked up in the implementation exactly once despite the race. */
    assert_int_equal(((fake_mod *)tt_mod_self(m, &fake_vtable))->lookups, 2);
    tt_mod_free(m);
    assert_int_equal(freed, 1);
}

/* ---- loaders ---- */

static int fake_loader(const char *path, tt_module *out)
{
    static int freed_sink;
    *out = fake_new(path, 5, &freed_sink);
    return 0;
}

static int failing_loader(const char *path, tt_module *out)
{
    *out = NULL;
    return tt_error_set("failing loader refused \"%s\"", path);
}

static void test_loaders(void **state)
{
    (void)state;
    assert_int_equal(tt_mod_register_loader("fake", fake_loader, 0), 0);
    assert_fails_with(tt_mod_register_loader("fake", failing_loader, 0),
                      "a loader for \"fake\" is already registered (pass override=1");
    assert_fails_with(tt_mod_register_loader("so", fake_loader, 0), "\"so\" is already registered");
    assert_fails_with(tt_mod_register_loader(NULL, fake_loader, 0), "format is NULL");
    assert_fails_with(tt_mod_register_loader("x", NULL, 0), "loader for \"x\" is NULL");

    tt_module m = NULL;
    /* Guessed from the extension; the path need not exist for this loader. */
    assert_int_equal(tt_mod_load_from_file("dir.so/thing.fake", NULL, &m), 0);
    assert_string_equal(tt_mod_format(m), "fake");
    tt_func f = NULL;
    assert_int_equal(tt_mod_get_function(m, "dir.so/thing.fake", 0, &f), 0);
    assert_int_equal(call0(f), 5);
    tt_func_free(f);
    tt_mod_free(m);
    assert_int_equal(tt_mod_load_from_file("anything", "fake", &m), 0);
    tt_mod_free(m);

    assert_int_equal(tt_mod_register_loader("fake", failing_loader, 1), 0);
    assert_fails_with(tt_mod_load_from_file("a.fake", "", &m), "failing loader refused \"a.fake\"");
    assert_null(m);
    assert_fails_with(tt_mod_load_from_file("a.unknown", NULL, &m),
                      "no loader for format \"unknown\" (file \"a.unknown\")");
    assert_fails_with(tt_mod_load_from_file("dir.so/noext", NULL, &m), "cannot guess the format");
    assert_fails_with(tt_mod_load_from_file(NULL, NULL, &m), "path is NULL");
    assert_fails_with(tt_mod_load_from_file("x.so", NULL, NULL), "out is NULL");
}

/* ---- the "so" loader ---- */

static void test_so_real_library(void **state)
{
    (void)state;
    tt_module m = NULL;
    if (tt_mod_load_from_file(TT_TEST_KERNELS_SO, NULL, &m) != 0)
        fail_msg("%s", tt_get_last_error());
    assert_string_equal(tt_mod_format(m), "so");

    tt_func add = NULL, again = NULL, missing = (tt_func)0x1, plain = (tt_func)0x1;
    assert_int_equal(tt_mod_get_function(m, "add_one", 0, &add), 0);
    assert_non_null(add);
    assert_int_equal(tt_mod_get_function(m, "add_one", 0, &again), 0);
    assert_ptr_equal(add, again);
    tt_func_free(again);
    assert_int_equal(tt_mod_get_function(m, "no_such_function", 1, &missing), 0);
    assert_null(missing);
    assert_int_equal(tt_mod_get_function(m, "plain_symbol", 0, &plain), 0);
    assert_null(plain); /* exported, but without the TT_PACKED_PREFIX */

    int64_t shape[1] = {5};
    DLTensor *x = NULL, *y = NULL;
    DLDataType f32 = {kDLFloat, 32, 1};
    assert_int_equal(tt_array_alloc(shape, 1, f32, (DLDevice){kDLCPU, 0}, &x), 0);
    assert_int_equal(tt_array_alloc(shape, 1, f32, (DLDevice){kDLCPU, 0}, &y), 0);
    for (int i = 0; i < 5; i++)
        ((float *)x->data)[i] = (float)i * 2;
    tt_value args[2] = {{.v_handle = x}, {.v_handle = y}};
    int codes[2] = {TT_NDARRAY, TT_DLTENSOR};
    tt_value ret;
    int code;
    assert_int_equal(tt_func_call(add, args, codes, 2, &ret, &code), 0);
    assert_int_equal(code, TT_NULL);
    for (int i = 0; i < 5; i++)
        assert_true(((float *)y->data)[i] == (float)i * 2 + 1);
    /* The error a kernel sets reaches the caller. */
    assert_fails_with(tt_func_call(add, args, codes, 1, &ret, &code),
                      "add_one: got 1 arguments, expected 2");

    /* The library stays loaded while a function of it lives, after the module is freed. */
    tt_func answer = NULL;
    assert_int_equal(tt_mod_get_function(m, "answer", 0, &answer), 0);
    assert_int_equal(tt_mod_free(m), 0);
    assert_int_equal(call0(answer), 42);
    assert_int_equal(tt_func_call(add, args, codes, 2, &ret, &code), 0);
    tt_func_free(answer);
    tt_func_free(add);
    tt_array_free(x);
    tt_array_free(y);

    /* Imports work across loaders: a fake module importing the library. */
    int freed = 0;
    tt_module top = fake_new("top", 1, &freed), lib = NULL;
    assert_int_equal(tt_mod_load_from_file(TT_TEST_KERNELS_SO, "so", &lib), 0);
    assert_int_equal(tt_mod_import(top, lib), 0);
    tt_mod_free(lib);
    tt_func f = NULL;
    assert_int_equal(tt_mod_get_function(top, "answer", 1, &f), 0);
    assert_non_null(f);
    assert_int_equal(call0(f), 42);
    tt_func_free(f);
    tt_mod_free(top);
    assert_int_equal(freed, 1);
}

static void test_so_bad_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tt_test_module_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char missing[256], text[256];
    snprintf(missing, sizeof missing, "%s/missing.so", dir);
    snprintf(text, sizeof text, "%s/notelf.so", dir);
    FILE *fp = fopen(text, "w");
    assert_non_null(fp);
    fputs("this is a text file, not a shared library\n", fp);
    fclose(fp);

    tt_module m = (tt_module)0x1;
    assert_fails_with(tt_mod_load_from_file(missing, NULL, &m), missing);
    assert_fails_with(tt_mod_load_from_file(missing, NULL, &m), "No such file");
    assert_null(m);
    assert_fails_with(tt_mod_load_from_file(text, "so", &m), text);
    assert_fails_with(tt_mod_load_from_file(text, "so", &m), "cannot load");
    /* dlerror's own words for a non-ELF file ("invalid ELF header" or "file too short"). */
    const char *e = tt_get_last_error();
    assert_true(strstr(e, "ELF") != NULL || strstr(e, "too short") != NULL);
    assert_null(m);

    /* A bare file name is a file in the current directory, not a library-path search. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_fails_with(tt_mod_load_from_file("libc.so.6", "so", &m), "libc.so.6");
    assert_int_equal(chdir(cwd), 0);
    assert_null(m);

    unlink(text);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_cache),     cmocka_unit_test(test_imports),
        cmocka_unit_test(test_lookups_from_threads), cmocka_unit_test(test_loaders),
        cmocka_unit_test(test_so_real_library),      cmocka_unit_test(test_so_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
