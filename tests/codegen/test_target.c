/* codegen/target.c: target strings, their canonical form, host detection, vector widths, and
 * bad strings with their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cg_kernels.h"

static tt_target *parse_ok(const char *s)
{
    tt_target *t = NULL;
    if (tt_target_parse(s, &t) != 0)
        fail_msg("%s: %s", s, tt_get_last_error());
    return t;
}

static void host(void **state)
{
    tt_target *t = parse_ok("llvm");
    assert_true(tt_target_is_host(t));
    const char *s = tt_target_str(t);
    assert_non_null(strstr(s, "llvm -mtriple="));
    assert_non_null(strstr(s, " -mcpu="));
    assert_null(strstr(s, "-pc-"));
    assert_null(strstr(s, "-unknown-"));
    assert_true(tt_target_vector_bits(t) >= 128);
#if defined(__x86_64__)
    assert_non_null(strstr(s, "llvm -mtriple=x86_64-linux-gnu -mcpu="));
    assert_int_equal(tt_target_vector_bits(t), __builtin_cpu_supports("avx512f") ? 512
                                               : __builtin_cpu_supports("avx")   ? 256
                                                                                 : 128);
#endif
    /* native is the same as the default; the canonical string parses back to itself */
    tt_target *n = parse_ok("llvm -mcpu=native");
    assert_string_equal(tt_target_str(n), s);
    tt_target *again = parse_ok(s);
    assert_string_equal(tt_target_str(again), s);
    assert_true(tt_target_is_host(again));
    assert_int_equal(tt_target_vector_bits(again), tt_target_vector_bits(t));
    tt_target_free(n);
    tt_target_free(again);
    tt_target_free(t);
}

static void cross(void **state)
{
    tt_target *t = parse_ok("llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72");
    assert_string_equal(tt_target_str(t), "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72");
    assert_string_equal(tt_target_triple(t), "aarch64-unknown-linux-gnu");
    assert_string_equal(tt_target_cpu(t), "cortex-a72");
    assert_int_equal(tt_target_vector_bits(t), 128);
#if defined(__x86_64__)
    assert_false(tt_target_is_host(t));
#endif
    tt_target_free(t);

    t = parse_ok("llvm  -mtriple=aarch64-linux-gnu");
    assert_string_equal(tt_target_str(t), "llvm -mtriple=aarch64-linux-gnu -mcpu=generic");
    assert_int_equal(tt_target_vector_regs(t), 32);
    tt_target_free(t);
    t = parse_ok("llvm -mtriple=riscv64-linux-gnu -mattr=+m,+a");
    assert_string_equal(tt_target_str(t),
                        "llvm -mtriple=riscv64-linux-gnu -mcpu=generic -mattr=+m,+a");
    tt_target_free(t);
}

static void x86_widths(void **state)
{
    struct {
        const char *s;
        int bits, regs;
    } cases[] = {
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512", 512, 32},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=znver4", 512, 32},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=haswell", 256, 16},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=x86-64", 128, 16},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512 -mattr=-avx512f", 256, 16},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=x86-64 -mattr=+avx2", 256, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_target *t = parse_ok(cases[i].s);
        if (tt_target_vector_bits(t) != cases[i].bits)
            fail_msg("%s: %d bits, expected %d", cases[i].s, tt_target_vector_bits(t),
                     cases[i].bits);
        if (tt_target_vector_regs(t) != cases[i].regs)
            fail_msg("%s: %d vector registers, expected %d", cases[i].s, tt_target_vector_regs(t),
                     cases[i].regs);
        assert_string_equal(tt_target_str(t), cases[i].s);
#if defined(__x86_64__) && defined(__linux__)
        assert_true(tt_target_is_host(t));
#endif
        tt_target_free(t);
    }
}

static void bad_strings(void **state)
{
    struct {
        const char *s, *msg;
    } cases[] = {
        {"", "expected \"llvm"},
        {"   ", "expected \"llvm"},
        {"cuda",
         "target \"cuda\": expected \"llvm [-mtriple=T] [-mcpu=C] [-mattr=F]\", got kind \"cuda\""},
        {"llvm -mcpu", "unknown option \"-mcpu\""},
        {"llvm -mcpu=", "option -mcpu= needs a value"},
        {"llvm -bogus=1", "target \"llvm -bogus=1\": unknown option \"-bogus=1\""},
        {"llvm -mcpu=a -mcpu=b", "option -mcpu= given twice"},
        {"llvm -mtriple=foo-bar-baz", "LLVM knows no target for triple \"foo-bar-baz\""},
        {"llvm -mtriple=aarch64-linux-gnu -mcpu=native", "-mcpu=native needs this host's triple"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_target *t = (tt_target *)1;
        assert_int_equal(tt_target_parse(cases[i].s, &t), -1);
        assert_null(t);
        if (!strstr(tt_get_last_error(), cases[i].msg))
            fail_msg("\"%s\": message \"%s\", expected \"%s\"", cases[i].s, tt_get_last_error(),
                     cases[i].msg);
    }
    tt_target *t;
    assert_int_equal(tt_target_parse(NULL, &t), -1);
    tt_target_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host),
        cmocka_unit_test(cross),
        cmocka_unit_test(x86_widths),
        cmocka_unit_test(bad_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
