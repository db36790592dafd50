/* Tests runtime/rpc/proto.c: frame headers (round trip, truncated, bad magic, unknown type, an
 * oversized length refused from the header alone), values by type code (round trip of every
 * travelling code, every truncation refused, lying counts refused before allocation) and the
 * whole-frame check the fuzz target drives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/rpc/proto.h"

static void expect_error(int rc, const char *fragment)
{
    assert_int_equal(rc, -1);
    if (strstr(tt_get_last_error(), fragment) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", tt_get_last_error(), fragment);
}

static void header_round_trip(void **state)
{
    tt_rpc_header h = {TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, TT_RPC_CALL, 0x0102030405060708ull};
    uint8_t b[TT_RPC_HEADER_SIZE];
    tt_rpc_header_encode(&h, b);
    /* Little-endian on the wire, whatever the host. */
    assert_memory_equal(b, "TTRP", 4);
    assert_int_equal(b[8], 0x08);
    assert_int_equal(b[15], 0x01);
    tt_rpc_header d;
    assert_int_equal(tt_rpc_header_decode(b, sizeof b, UINT64_MAX, &d), 0);
    assert_int_equal(d.magic, h.magic);
    assert_int_equal(d.version, h.version);
    assert_int_equal(d.type, h.type);
    assert_true(d.length == h.length);
}

static void header_errors(void **state)
{
    tt_rpc_header h = {TT_RPC_MAGIC, TT_RPC_PROTOCOL_VERSION, TT_RPC_CALL, 100};
    uint8_t b[TT_RPC_HEADER_SIZE];
    tt_rpc_header_encode(&h, b);
    tt_rpc_header d;
    expect_error(tt_rpc_header_decode(b, 15, 1000, &d), "truncated frame header (15 of 16");
    b[0] = 'X';
    expect_error(tt_rpc_header_decode(b, sizeof b, 1000, &d), "bad magic");
    h.type = 99;
    tt_rpc_header_encode(&h, b);
    expect_error(tt_rpc_header_decode(b, sizeof b, 1000, &d), "unknown frame type 99");
    /* A length of 2^40: refused from the 16 header bytes alone, nothing else is read. */
    h.type = TT_RPC_CALL;
    h.length = 1ull << 40;
    tt_rpc_header_encode(&h, b);
    expect_error(tt_rpc_header_decode(b, sizeof b, TT_RPC_MAX_PAYLOAD, &d),
                 "CALL frame of 1099511627776 bytes exceeds the limit");
}

static void frame_check_errors(void **state)
{
    tt_rpc_buf f = {0};
    tt_rpc_header h = {TT_RPC_MAGIC, 7, TT_RPC_CLOSE, 0};
    uint8_t b[TT_RPC_HEADER_SIZE];
    tt_rpc_header_encode(&h, b);
    char want[64];
    snprintf(want, sizeof want, "protocol version 7, expected %d", TT_RPC_PROTOCOL_VERSION);
    expect_error(tt_rpc_frame_check(b, sizeof b, 1000), want);
    h.version = TT_RPC_PROTOCOL_VERSION;
    h.type = TT_RPC_GET_GLOBAL;
    h.length = 10;
    tt_rpc_header_encode(&h, b);
    tt_rpc_put(&f, b, sizeof b);
    tt_rpc_put(&f, "\x03\0\0\0abc", 7);
    expect_error(tt_rpc_frame_check(f.data, f.len, 1000), "header says 10 payload bytes, 7");
    tt_rpc_buf_free(&f);
    /* A well-formed GET_GLOBAL passes. */
    h.length = 7;
    tt_rpc_header_encode(&h, b);
    tt_rpc_put(&f, b, sizeof b);
    tt_rpc_put(&f, "\x03\0\0\0abc", 7);
    assert_int_equal(tt_rpc_frame_check(f.data, f.len, 1000), 0);
    tt_rpc_buf_free(&f);
}

/* Every code that travels, with awkward values. */
static void values_round_trip(void **state)
{
    static const char raw[] = {'a', '\0', 'b'};
    tt_bytes by = {raw, sizeof raw};
    tt_value v[9];
    int c[9] = {TT_INT, TT_UINT, TT_FLOAT, TT_NULL, TT_DTYPE, TT_DEVICE, TT_STR, TT_BYTES, TT_FUNC};
    v[0].v_int64 = INT64_MIN;
    v[1].v_int64 = -1;
    v[2].v_float64 = -0.1;
    v[3].v_handle = NULL;
    v[4].v_type = (DLDataType){kDLFloat, 16, 300};
    v[5].v_device = (DLDevice){kDLCPU, 3};
    v[6].v_str = "héllo";
    v[7].v_handle = &by;
    v[8].v_int64 = 42;
    tt_rpc_buf b = {0};
    for (int i = 0; i < 9; i++)
        assert_int_equal(tt_rpc_value_encode(&b, v[i], c[i]), 0);
    assert_false(b.err);
    tt_rpc_reader r = {b.data, b.len, 0};
    tt_rpc_values d;
    assert_int_equal(tt_rpc_values_decode(&r, 9, &d), 0);
    assert_int_equal(r.at, b.len);
    assert_int_equal(d.n, 9);
    for (int i = 0; i < 9; i++)
        assert_int_equal(d.codes[i], c[i]);
    assert_true(d.values[0].v_int64 == INT64_MIN);
    assert_true(d.values[1].v_int64 == -1);
    assert_true(d.values[2].v_float64 == -0.1);
    assert_int_equal(d.values[4].v_type.bits, 16);
    assert_int_equal(d.values[4].v_type.lanes, 300);
    assert_int_equal(d.values[5].v_device.device_id, 3);
    assert_string_equal(d.values[6].v_str, "héllo");
    const tt_bytes *db = d.values[7].v_handle;
    assert_int_equal(db->size, 3);
    assert_memory_equal(db->data, raw, 3);
    assert_true(d.values[8].v_int64 == 42);
    tt_rpc_values_free(&d);

    /* Every strict prefix is refused with a message, never read past. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        tt_rpc_reader rc = {copy, cut, 0};
        assert_int_equal(tt_rpc_values_decode(&rc, 9, &d), -1);
        assert_true(tt_get_last_error()[0] != '\0');
        free(copy);
    }
    tt_rpc_buf_free(&b);
}

static void values_refused(void **state)
{
    tt_rpc_buf b = {0};
    tt_value v = {.v_handle = &b};
    expect_error(tt_rpc_value_encode(&b, v, TT_HANDLE), "cannot travel");
    tt_rpc_buf_free(&b);

    /* Counts that cannot be true are refused before anything is allocated for them. */
    uint8_t few[8] = {0};
    tt_rpc_reader r = {few, sizeof few, 0};
    tt_rpc_values d;
    expect_error(tt_rpc_values_decode(&r, 0x7fffffffu, &d), "more than the limit");
    expect_error(tt_rpc_values_decode(&r, 3, &d), "3 values cannot fit in the 8 bytes");

    /* A string that claims 2^60 bytes. */
    tt_rpc_put_u32(&b, TT_STR);
    tt_rpc_put_u64(&b, 1ull << 60);
    r = (tt_rpc_reader){b.data, b.len, 0};
    expect_error(tt_rpc_values_decode(&r, 1, &d), "a string of 1152921504606846976 bytes");
    tt_rpc_buf_free(&b);

    /* A string with a NUL inside, a TT_HANDLE, an unknown code. */
    tt_rpc_put_u32(&b, TT_STR);
    tt_rpc_put_u64(&b, 3);
    tt_rpc_put(&b, "a\0b", 3);
    r = (tt_rpc_reader){b.data, b.len, 0};
    expect_error(tt_rpc_values_decode(&r, 1, &d), "contains a NUL byte");
    tt_rpc_buf_free(&b);
    tt_rpc_put_u32(&b, TT_HANDLE);
    tt_rpc_put_u64(&b, 0x1234);
    r = (tt_rpc_reader){b.data, b.len, 0};
    expect_error(tt_rpc_values_decode(&r, 1, &d), "TT_HANDLE");
    tt_rpc_buf_free(&b);
    tt_rpc_put_u32(&b, 77);
    r = (tt_rpc_reader){b.data, b.len, 0};
    expect_error(tt_rpc_values_decode(&r, 1, &d), "type code 77");
    tt_rpc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trip),  cmocka_unit_test(header_errors),
        cmocka_unit_test(frame_check_errors), cmocka_unit_test(values_round_trip),
        cmocka_unit_test(values_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
