/* compile, part 2: the chosen kernels (compile.c) become one library (.so or .o, codegen/) and a
 * C header with one plain function per task; both appear at once or not at all (temporary files
 * renamed into place). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tuner/compile.h"

static const char *c_type(DLDataType t)
{
    if (t.lanes != 1)
        return NULL;
    if (t.code == kDLFloat && t.bits == 32)
        return "float";
    if (t.code == kDLFloat && t.bits == 64)
        return "double";
    if (t.code == kDLInt && t.bits == 32)
        return "int32_t";
    if (t.code == kDLInt && t.bits == 64)
        return "int64_t";
    if (t.code == kDLUInt && (t.bits == 1 || t.bits == 8))
        return "uint8_t";
    return NULL;
}

/* Writes s inside a C comment; a star followed by a slash (an "expr" compute string may hold
 * one) is broken up so that it does not end the comment early. */
static void comment_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        fputc(*s, f);
        if (s[0] == '*' && s[1] == '/')
            fputc(' ', f);
    }
}

static void shape(FILE *f, const tt_buffer *b)
{
    fprintf(f, "%s %s[", b->name, tt_dtype_name(b->dtype) ? tt_dtype_name(b->dtype) : "?");
    for (int d = 0; d < b->ndim; d++)
        fprintf(f, "%s%lld", d ? ", " : "", (long long)b->shape[d]);
    fputc(']', f);
}

/* C11 keywords and the header's own names: an argument so named gets a trailing '_' (argument
 * names are only documentation), a function so named cannot be declared. */
static int reserved(const char *name)
{
    static const char *words[] = {
        "auto",       "break",     "case",           "char",
        "const",      "continue",  "default",        "do",
        "double",     "else",      "enum",           "extern",
        "float",      "for",       "goto",           "if",
        "inline",     "int",       "long",           "register",
        "restrict",   "return",    "short",          "signed",
        "sizeof",     "static",    "struct",         "switch",
        "typedef",    "union",     "unsigned",       "void",
        "volatile",   "while",     "_Alignas",       "_Alignof",
        "_Atomic",    "_Bool",     "_Complex",       "_Generic",
        "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
        "int32_t",    "int64_t",   "uint8_t",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(name, words[i]) == 0)
            return 1;
    return 0;
}

int tt_compile_check_names(const tt_opfile *file)
{
    for (int i = 0; i < file->ntasks; i++)
        if (reserved(file->tasks[i].name))
            return tt_error_set("%s: task name \"%s\" is a C keyword: the header cannot declare "
                                "it; give the task another \"name\"",
                                file->path, file->tasks[i].name);
    return 0;
}

static int declare(FILE *f, const tt_task *task, const tt_compile_choice *c)
{
    if (reserved(task->name))
        return tt_error_set("task name \"%s\" is a C keyword: the header cannot declare it; "
                            "give the task another \"name\"",
                            task->name);
    const tt_kernel *k = c->kernel;
    fprintf(f, "/* %s\n *   ", task->name);
    for (int i = 0; i < k->nparams; i++) {
        fputs(i == 0 ? "" : i == k->nparams - 1 ? " -> " : ", ", f);
        shape(f, k->params[i]);
    }
    fputs("\n *   workload: ", f);
    comment_text(f, task->canonical_json);
    fputs("\n *   schedule: ", f);
    comment_text(f, c->note);
    fputs("\n *   steps: ", f);
    comment_text(f, c->steps);
    fprintf(f, "\n */\nint %s(", task->name);
    for (int i = 0; i < k->nparams; i++) {
        const tt_buffer *b = k->params[i];
        const char *ty = c_type(b->dtype);
        if (!ty)
            return tt_error_set("task %s: argument %s has dtype %s, which the header cannot "
                                "declare",
                                task->name, b->name,
                                tt_dtype_name(b->dtype) ? tt_dtype_name(b->dtype) : "?");
        fprintf(f, "%s%s%s *restrict %s%s", i ? ", " : "", i < k->nparams - 1 ? "const " : "", ty,
                b->name, reserved(b->name) ? "_" : "");
    }
    fputs(");\n\n", f);
    return 0;
}

int tt_compile_header(const tt_opfile *file, const tt_compile_choice *choices, const tt_target *t,
                      const char *lib_name, const char *guard_base, char **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return tt_error_set("cannot make the header: %s", strerror(errno));
    char guard[256];
    size_t g = 0;
    for (const char *p = guard_base; *p && g < sizeof guard - 1; p++)
        guard[g++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A'
                            : ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ? *p
                                                                                     : '_');
    guard[g] = '\0';
    if (guard[0] >= '0' && guard[0] <= '9')
        guard[0] = '_';
    fprintf(
        f,
        "/* Generated by tvm-tune %s from %s (`tvm-tune compile`) for target\n"
        " * \"%s\".\n"
        " * The functions live in %s, which needs libtt_runtime (parallel launch and workspace\n"
        " * memory): a shared library records libtt_runtime.so.0 as its dependency; link an "
        "object\n"
        " * file with `pkg-config --libs tvm-tune-runtime`. Each returns 0, or -1 when a workspace "
        "allocation or the\n"
        " * parallel launch failed. Arrays are compact row-major, 64-byte aligned and do not\n"
        " * overlap. From the runtime, tt_mod_load_from_file(\"%s\", \"so\") gives the same\n"
        " * functions by name, taking DLTensors. */\n"
        "#ifndef %s\n#define %s\n\n#include <stdint.h>\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#define restrict __restrict\n#endif\n\n",
        TT_VERSION, file->path, tt_target_str(t), lib_name, lib_name, guard, guard);
    int rc = 0;
    for (int i = 0; i < file->ntasks && rc == 0; i++)
        rc = declare(f, &file->tasks[i], &choices[i]);
    fprintf(f, "#ifdef __cplusplus\n#undef restrict\n}\n#endif\n\n#endif /* %s */\n", guard);
    if (fclose(f) != 0 && rc == 0)
        rc = tt_error_set("cannot make the header: %s", strerror(errno));
    if (rc) {
        free(text);
        return -1;
    }
    *out = text;
    return 0;
}

char *tt_compile_header_path(const char *lib_path)
{
    const char *slash = strrchr(lib_path, '/');
    const char *base = slash ? slash + 1 : lib_path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - lib_path) : strlen(lib_path);
    char *h = malloc(stem + 3);
    if (h) {
        memcpy(h, lib_path, stem);
        memcpy(h + stem, ".h", 3);
    }
    return h;
}

/* A temporary file beside path ("dir/.base.XXXXXX"), so the final rename stays on one file
 * system. Caller unlinks and frees. */
static char *temp_beside(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = strlen(path) + 10;
    char *tmp = malloc(n);
    if (!tmp)
        return NULL;
    snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        tt_error_set("cannot create a file beside '%s': %s", path, strerror(errno));
        free(tmp);
        return NULL;
    }
    close(fd);
    return tmp;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tt_error_set("cannot write '%s': %s", path, strerror(errno));
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    if (fclose(f) != 0 || bad)
        return tt_error_set("cannot write '%s': %s", path, strerror(errno));
    return 0;
}

int tt_compile_write(const tt_opfile *file, const tt_compile_choice *choices, const tt_target *t,
                     tt_emit_kind kind, const char *lib_path)
{
    if (kind != TT_EMIT_SO && kind != TT_EMIT_OBJ)
        return tt_error_set("compile: the library is a shared library or an object file");
    char *header_path = tt_compile_header_path(lib_path);
    const char *slash = strrchr(lib_path, '/');
    const char *lib_name = slash ? slash + 1 : lib_path;
    const char *hslash = header_path ? strrchr(header_path, '/') : NULL;
    char *guard_base = header_path ? strdup(hslash ? hslash + 1 : header_path) : NULL;
    tt_kernel **kernels = malloc((size_t)(file->ntasks ? file->ntasks : 1) * sizeof *kernels);
    char *header = NULL, *tmp_lib = NULL, *tmp_h = NULL;
    int rc = -1;
    if (!header_path || !guard_base || !kernels) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    if (strcmp(header_path, lib_path) == 0) {
        tt_error_set("compile: the library '%s' would be overwritten by its header", lib_path);
        goto done;
    }
    for (int i = 0; i < file->ntasks; i++)
        kernels[i] = choices[i].kernel;
    if (tt_compile_header(file, choices, t, lib_name, guard_base, &header))
        goto done;
    if (!(tmp_lib = temp_beside(lib_path)) || !(tmp_h = temp_beside(header_path)))
        goto done;
    if (tt_codegen_emit(kernels, file->ntasks, t, kind, tmp_lib) || write_text(tmp_h, header))
        goto done;
    /* mkstemp made them 0600; a library is for others to load. */
    chmod(tmp_lib, kind == TT_EMIT_SO ? 0755 : 0644);
    chmod(tmp_h, 0644);
    if (rename(tmp_lib, lib_path) != 0) {
        tt_error_set("cannot write '%s': %s", lib_path, strerror(errno));
        goto done;
    }
    free(tmp_lib);
    tmp_lib = NULL;
    if (rename(tmp_h, header_path) != 0) {
        tt_error_set("cannot write '%s': %s", header_path, strerror(errno));
        unlink(lib_path);
        goto done;
    }
    free(tmp_h);
    tmp_h = NULL;
    rc = 0;
done:
    if (tmp_lib) {
        unlink(tmp_lib);
        free(tmp_lib);
    }
    if (tmp_h) {
        unlink(tmp_h);
        free(tmp_h);
    }
    free(header);
    free(kernels);
    free(guard_base);
    free(header_path);
    return rc;
}
