/* codegen/emit.c: LLVM IR and assembly text (vector width on an AVX-512 target string), aarch64
 * object and shared library (checked ELF machine), a host shared library loaded back as a runtime
 * Module and called, and emission errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_kernels.h"

#define EM_X86_64 62
#define EM_AARCH64 183

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tt-test-emit-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    const char *files[] = {"mm.ll", "mm.s", "mm_arm.o", "mm_arm.so", "mm_host.so", "mm_rv.o"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}

static const char *path(const char *name)
{
    static char p[400];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static tt_target *target(const char *s)
{
    tt_target *t = NULL;
    if (tt_target_parse(s, &t) != 0)
        fail_msg("%s: %s", s, tt_get_last_error());
    return t;
}

/* ELF e_type and e_machine of a file (little-endian ELF64 header). */
static void elf_header(const char *file, int *type, int *machine)
{
    unsigned char h[64];
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
    fclose(f);
    assert_memory_equal(h,
                        "\x7f"
                        "ELF",
                        4);
    *type = h[16] | h[17] << 8;
    *machine = h[18] | h[19] << 8;
}

static void avx512_text(void **state)
{
    tt_target *t = target("llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512");
    tt_kernel *k = matmul_tiled("mm", 64, 64, 64, 4, 2, 16, TT_FOR_PARALLEL);
    char *ir = NULL, *s = NULL;
    assert_int_equal(tt_codegen_emit_text(&k, 1, t, TT_EMIT_LLVM, &ir), 0);
    assert_non_null(strstr(ir, "<16 x float>"));
    assert_non_null(strstr(ir, "@mm(ptr noalias"));
    assert_non_null(strstr(ir, "@__tt_packed_mm("));
    assert_non_null(strstr(ir, "tt_backend_parallel_for"));
    assert_non_null(strstr(ir, "contract"));
    assert_true(tt_codegen_last_stats().total_ms > 0);
    assert_int_equal(tt_codegen_emit_text(&k, 1, t, TT_EMIT_ASM, &s), 0);
    assert_non_null(strstr(s, "zmm"));
    assert_non_null(strstr(s, "vfmadd"));
    free(ir);
    free(s);
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_LLVM, path("mm.ll")), 0);
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_ASM, path("mm.s")), 0);
    assert_int_equal(access(path("mm.ll"), R_OK), 0);
    tt_kernel_release(k);
    tt_target_free(t);
}

static void aarch64_object_and_so(void **state)
{
    tt_target *t = target("llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72");
    tt_kernel *k = matmul_tiled("mm", 33, 17, 9, 4, 1, 4, TT_FOR_PARALLEL);
    char *s = NULL;
    assert_int_equal(tt_codegen_emit_text(&k, 1, t, TT_EMIT_ASM, &s), 0);
    assert_non_null(strstr(s, "fmla")); /* NEON multiply-add from the contracted fmul+fadd */
    assert_non_null(strstr(s, ".4s"));
    free(s);
    int type, machine;
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_OBJ, path("mm_arm.o")), 0);
    elf_header(path("mm_arm.o"), &type, &machine);
    assert_int_equal(type, 1); /* ET_REL */
    assert_int_equal(machine, EM_AARCH64);
    if (tt_codegen_emit(&k, 1, t, TT_EMIT_SO, path("mm_arm.so")) != 0)
        fail_msg("%s", tt_get_last_error());
    elf_header(path("mm_arm.so"), &type, &machine);
    assert_int_equal(type, 3); /* ET_DYN */
    assert_int_equal(machine, EM_AARCH64);
    tt_codegen_stats st = tt_codegen_last_stats();
    assert_true(st.total_ms >= st.ir_ms + st.opt_ms);
    tt_kernel_release(k);
    tt_target_free(t);

    t = target("llvm -mtriple=riscv64-linux-gnu -mattr=+m,+a,+f,+d");
    k = matmul_naive("mm", 8, 8, 8, TT_FOR_PARALLEL, TT_FOR_VECTORIZED);
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_OBJ, path("mm_rv.o")), 0);
    elf_header(path("mm_rv.o"), &type, &machine);
    assert_int_equal(machine, 243); /* EM_RISCV */
    tt_kernel_release(k);
    tt_target_free(t);
}

static void host_so_loads_and_runs(void **state)
{
    tt_target *t = target("llvm");
    int64_t M = 33, N = 17, K = 9;
    tt_kernel *ks[2] = {matmul_tiled("mm_tiled", M, N, K, 4, 2, 8, TT_FOR_PARALLEL),
                        matmul_naive("mm_naive", M, N, K, TT_FOR_SERIAL, TT_FOR_SERIAL)};
    if (tt_codegen_emit(ks, 2, t, TT_EMIT_SO, path("mm_host.so")) != 0)
        fail_msg("%s", tt_get_last_error());
    int type, machine;
    elf_header(path("mm_host.so"), &type, &machine);
    assert_int_equal(type, 3);
#if defined(__x86_64__)
    assert_int_equal(machine, EM_X86_64);
#endif
    tt_module m = NULL;
    if (tt_mod_load_from_file(path("mm_host.so"), "so", &m) != 0)
        fail_msg("load: %s", tt_get_last_error());
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sc[2] = {M, N};
    DLDevice cpu = {kDLCPU, 0};
    DLTensor *a, *b, *c;
    assert_int_equal(tt_array_alloc(sa, 2, TT_DT_F32, cpu, &a), 0);
    assert_int_equal(tt_array_alloc(sb, 2, TT_DT_F32, cpu, &b), 0);
    assert_int_equal(tt_array_alloc(sc, 2, TT_DT_F32, cpu, &c), 0);
    fill_random(a->data, M * K, 1);
    fill_random(b->data, K * N, 2);
    float *ref = falloc(M * N);
    matmul_ref(a->data, b->data, ref, M, N, K);
    const char *names[2] = {"mm_tiled", "mm_naive"};
    for (int i = 0; i < 2; i++) {
        tt_func f = NULL;
        assert_int_equal(tt_mod_get_function(m, names[i], 0, &f), 0);
        assert_non_null(f);
        memset(c->data, 0, (size_t)(M * N) * 4);
        tt_value args[3] = {{.v_handle = a}, {.v_handle = b}, {.v_handle = c}};
        int codes[3] = {TT_NDARRAY, TT_NDARRAY, TT_NDARRAY};
        tt_value ret;
        int ret_code;
        assert_int_equal(tt_func_call(f, args, codes, 3, &ret, &ret_code), 0);
        assert_true(max_abs_diff(c->data, ref, M * N) < 1e-4);
        /* the wrapper's checks live in the library too */
        assert_int_equal(tt_func_call(f, args, codes, 2, &ret, &ret_code), -1);
        assert_non_null(strstr(tt_get_last_error(), "expected 3 arguments (A, B, C), got 2"));
        tt_func_free(f);
    }
    free(ref);
    tt_array_free(a);
    tt_array_free(b);
    tt_array_free(c);
    tt_mod_free(m);
    tt_kernel_release(ks[0]);
    tt_kernel_release(ks[1]);
    tt_target_free(t);
}

static void emit_errors(void **state)
{
    tt_target *t = target("llvm");
    tt_kernel *k = matmul_naive("mm", 4, 4, 4, TT_FOR_SERIAL, TT_FOR_SERIAL);
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_OBJ, "/nonexistent-dir/x.o"), -1);
    assert_non_null(strstr(tt_get_last_error(), "/nonexistent-dir/x.o"));
    assert_int_equal(tt_codegen_emit(&k, 1, t, TT_EMIT_SO, "/nonexistent-dir/x.so"), -1);
    assert_non_null(strstr(tt_get_last_error(), "linking /nonexistent-dir/x.so failed"));
    assert_int_equal(tt_codegen_emit(&k, 1, t, (tt_emit_kind)9, path("x")), -1);
    assert_non_null(strstr(tt_get_last_error(), "unknown output kind 9"));
    assert_int_equal(tt_codegen_emit(&k, 1, NULL, TT_EMIT_OBJ, path("x")), -1);
    tt_kernel_release(k);
    tt_target_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx512_text),
        cmocka_unit_test(aarch64_object_and_so),
        cmocka_unit_test(host_so_loads_and_runs),
        cmocka_unit_test(emit_errors),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
