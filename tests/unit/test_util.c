/*  =========================================================================
    test_util - the shared helpers: SipHash-2-4 against the published
    reference vectors, key parsing, big-endian encoding, the rate limit of
    bad-input logging, the clocks, the RSS probe and the threads' slice.
    =========================================================================
*/

#include "testutil.h"
#include "wp_util.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  SipHash-2-4 with key 00 01 .. 0f over the messages 00, 00 01, ..,
//  00 01 .. 3e (lengths 0..63): the 64 vectors published with the
//  reference implementation (vectors.h, vectors_sip64, read as
//  little-endian 64-bit words; also appendix A of the SipHash paper for
//  length 15: a129ca6149be45e5).
static const uint64_t s_sip_vectors [64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
    0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
    0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
    0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
    0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
    0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
    0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
    0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
    0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
    0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
    0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
    0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
    0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
    0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
    0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
    0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
    0x958a324ceb064572ULL,
};

//  The reference key 00 01 .. 0f.
static void
s_reference_key (uint8_t key [16])
{
    for (int i = 0; i < 16; i++)
        key [i] = (uint8_t) i;
}

//  Every reference vector, lengths 0..63 (covers the empty message, every
//  tail length 0..7 and up to seven full blocks).
static void
test_siphash_reference_vectors (void **state)
{
    uint8_t key [16], message [64];
    s_reference_key (key);
    for (int i = 0; i < 64; i++)
        message [i] = (uint8_t) i;
    for (size_t len = 0; len < 64; len++) {
        uint64_t hash = wp_siphash (key, message, len);
        if (hash != s_sip_vectors [len])
            print_error ("length %zu: got %016llx, want %016llx\n", len,
                         (unsigned long long) hash,
                         (unsigned long long) s_sip_vectors [len]);
        assert_true (hash == s_sip_vectors [len]);
    }
}

//  The hash reads only len bytes, wherever the data starts (unaligned
//  input, bytes after the end that differ).
static void
test_siphash_reads_only_len_bytes (void **state)
{
    uint8_t key [16];
    s_reference_key (key);
    uint8_t buffer [80];
    for (size_t offset = 1; offset < 8; offset++) {
        memset (buffer, 0xa5, sizeof buffer);
        for (int i = 0; i < 64; i++)
            buffer [offset + i] = (uint8_t) i;
        for (size_t len = 0; len < 64; len += 7)
            assert_true (wp_siphash (key, buffer + offset, len) == s_sip_vectors [len]);
    }
}

//  A different key gives a different hash; the user hash is the SipHash of
//  the id's bytes without the terminating NUL.
static void
test_user_hash (void **state)
{
    uint8_t key [16], other [16];
    s_reference_key (key);
    s_reference_key (other);
    other [15] ^= 1;
    assert_true (wp_siphash (key, "", 0) == 0x726fdb47dd0e0e31ULL);
    assert_true (wp_user_hash (key, "") == 0x726fdb47dd0e0e31ULL);
    //  "\x00\x01\x02" cannot be a C string; check through a printable id.
    const char *user = "alice@example.org";
    assert_true (wp_user_hash (key, user) == wp_siphash (key, user, strlen (user)));
    assert_true (wp_user_hash (key, user) != wp_user_hash (other, user));
    assert_true (wp_user_hash (key, "alice") != wp_user_hash (key, "alicf"));
}

//  Good keys: lower and upper case, every byte value position.
static void
test_parse_key_good (void **state)
{
    uint8_t key [16];
    assert_int_equal (wp_parse_key ("000102030405060708090a0b0c0d0e0f", key), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal (key [i], i);
    assert_int_equal (wp_parse_key ("FFfeA0b1C2d3E4f5069788a9BaCbDcEd", key), 0);
    const uint8_t want [16] = { 0xff, 0xfe, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5,
                                0x06, 0x97, 0x88, 0xa9, 0xba, 0xcb, 0xdc, 0xed };
    assert_memory_equal (key, want, 16);
    //  The parsed key drives the hash: the reference vector again.
    assert_int_equal (wp_parse_key ("000102030405060708090A0B0C0D0E0F", key), 0);
    uint8_t message [63];
    for (int i = 0; i < 63; i++)
        message [i] = (uint8_t) i;
    assert_true (wp_siphash (key, message, 63) == 0x958a324ceb064572ULL);
}

//  Bad keys: NULL, wrong length, non-hex digits anywhere.
static void
test_parse_key_bad (void **state)
{
    uint8_t key [16];
    assert_int_equal (wp_parse_key (NULL, key), -1);
    assert_int_equal (wp_parse_key ("", key), -1);
    assert_int_equal (wp_parse_key ("000102030405060708090a0b0c0d0e0", key), -1);
    assert_int_equal (wp_parse_key ("000102030405060708090a0b0c0d0e0f0", key), -1);
    assert_int_equal (wp_parse_key ("000102030405060708090a0b0c0d0e0f ", key), -1);
    assert_int_equal (wp_parse_key (" 00102030405060708090a0b0c0d0e0f", key), -1);
    assert_int_equal (wp_parse_key ("g00102030405060708090a0b0c0d0e0f", key), -1);
    assert_int_equal (wp_parse_key ("000102030405060708090a0b0c0d0e0g", key), -1);
    assert_int_equal (wp_parse_key ("0x0102030405060708090a0b0c0d0e0f", key), -1);
    assert_int_equal (wp_parse_key ("00010203040506070809-a0b0c0d0e0f", key), -1);
    assert_int_equal (wp_parse_key ("0001020304050607:8090a0b0c0d0e0f", key), -1);
}

//  u64: byte layout is most significant first; round trips; writes 8 bytes.
static void
test_big_endian_u64 (void **state)
{
    uint8_t buffer [12];
    memset (buffer, 0xee, sizeof buffer);
    wp_put_u64 (buffer + 2, 0x0102030405060708ULL);
    const uint8_t want [12] = { 0xee, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 0xee, 0xee };
    assert_memory_equal (buffer, want, 12);
    assert_true (wp_get_u64 (buffer + 2) == 0x0102030405060708ULL);

    const uint64_t values [] = { 0, 1, 0xff, 0x100, 0x8000000000000000ULL,
                                 0x7fffffffffffffffULL, UINT64_MAX,
                                 0xdeadbeefcafef00dULL };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        wp_put_u64 (buffer, values [i]);
        assert_true (wp_get_u64 (buffer) == values [i]);
        for (int b = 0; b < 8; b++)
            assert_int_equal (buffer [b], (uint8_t) (values [i] >> (56 - 8 * b)));
    }
    //  Big-endian keys sort like the numbers they hold.
    uint8_t small [8], large [8];
    wp_put_u64 (small, 0x00ffffffffffffffULL);
    wp_put_u64 (large, 0x0100000000000000ULL);
    assert_true (memcmp (small, large, 8) < 0);
}

//  u32: the same for four bytes.
static void
test_big_endian_u32 (void **state)
{
    uint8_t buffer [8];
    memset (buffer, 0xee, sizeof buffer);
    wp_put_u32 (buffer + 2, 0xa1b2c3d4U);
    const uint8_t want [8] = { 0xee, 0xee, 0xa1, 0xb2, 0xc3, 0xd4, 0xee, 0xee };
    assert_memory_equal (buffer, want, 8);
    assert_true (wp_get_u32 (buffer + 2) == 0xa1b2c3d4U);
    const uint32_t values [] = { 0, 1, 0x80000000U, UINT32_MAX, 0x00010000U };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        wp_put_u32 (buffer, values [i]);
        assert_true (wp_get_u32 (buffer) == values [i]);
    }
}

//  f64: IEEE-754 bits, big-endian; exact round trips, including -0,
//  infinities, subnormals and NaN.
static void
test_big_endian_f64 (void **state)
{
    uint8_t buffer [8];
    wp_put_f64 (buffer, 1.0);
    const uint8_t one [8] = { 0x3f, 0xf0, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal (buffer, one, 8);
    wp_put_f64 (buffer, -2.0);
    const uint8_t minus_two [8] = { 0xc0, 0x00, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal (buffer, minus_two, 8);
    wp_put_f64 (buffer, -0.0);
    const uint8_t minus_zero [8] = { 0x80, 0, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal (buffer, minus_zero, 8);
    assert_true (signbit (wp_get_f64 (buffer)));
    //  0.1 is 0x3fb999999999999a
    wp_put_f64 (buffer, 0.1);
    assert_true (wp_get_u64 (buffer) == 0x3fb999999999999aULL);

    const double values [] = { 0.0, 0.1, 1e300, -1e-300, DBL_MAX, DBL_MIN,
                               DBL_MIN / 4, INFINITY, -INFINITY, 3600000.5 };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        wp_put_f64 (buffer, values [i]);
        double back = wp_get_f64 (buffer);
        assert_memory_equal (&back, &values [i], sizeof back);
    }
    wp_put_f64 (buffer, NAN);
    assert_true (isnan (wp_get_f64 (buffer)));
}

//  The first 10 occurrences are logged, then every 1000th.
static void
test_log_should (void **state)
{
    for (uint64_t n = 1; n <= 10; n++)
        assert_true (wp_log_should (n));
    for (uint64_t n = 11; n < 1000; n++)
        assert_false (wp_log_should (n));
    assert_true (wp_log_should (1000));
    assert_false (wp_log_should (1001));
    assert_false (wp_log_should (1999));
    assert_true (wp_log_should (2000));
    assert_true (wp_log_should (1000000));
    assert_false (wp_log_should (1000001));
    assert_true (wp_log_should (UINT64_MAX - UINT64_MAX % 1000));
    //  Over a flood of 100000 problems: 10 + 100 lines.
    int logged = 0;
    for (uint64_t n = 1; n <= 100000; n++)
        logged += wp_log_should (n);
    assert_int_equal (logged, 110);
}

//  Wall clock agrees with time(); the monotonic clock never goes back.
static void
test_clocks (void **state)
{
    time_t before = time (NULL);
    uint64_t wall = wp_wall_us ();
    time_t after = time (NULL);
    assert_true (wall / 1000000 >= (uint64_t) before);
    assert_true (wall / 1000000 <= (uint64_t) after);
    uint64_t last = wp_mono_ns ();
    for (int i = 0; i < 10000; i++) {
        uint64_t now = wp_mono_ns ();
        assert_true (now >= last);
        last = now;
    }
}

//  RSS is known on Linux and grows when we touch memory.
static void
test_rss (void **state)
{
    uint64_t before = wp_rss_kb ();
    assert_true (before > 0);
    size_t size = 64 * 1024 * 1024;
    char *block = malloc (size);
    assert_non_null (block);
    memset (block, 1, size);
    uint64_t after = wp_rss_kb ();
    //  At least most of the 64 MiB just touched is resident.
    assert_true (after >= before + 32 * 1024);
    free (block);
}

//  The slice the kernel shows for this thread (/proc/thread-self/sched,
//  se.slice, ns), 0 when it shows none.
static uint64_t
s_slice_ns (void)
{
    FILE *file = fopen ("/proc/thread-self/sched", "r");
    if (!file)
        return 0;
    char line [256];
    uint64_t slice = 0;
    while (fgets (line, sizeof line, file))
        if (strncmp (line, "se.slice", 8) == 0) {
            char *colon = strchr (line, ':');
            slice = colon ? strtoull (colon + 1, NULL, 10) : 0;
        }
    fclose (file);
    return slice;
}

//  A thread asks for a short slice and gives it back; where the kernel has
//  no custom slices (before 6.12) the call says so and changes nothing.
static void
test_thread_slice (void **state)
{
    (void) state;
    uint64_t before = s_slice_ns ();
    if (wp_thread_slice (0, 100) == 0) {
        if (before)
            assert_int_equal (s_slice_ns (), 100000);
        assert_int_equal (wp_thread_slice (0, 0), 0);
        if (before)
            assert_int_equal (s_slice_ns (), before);
    }
    else
        assert_int_equal (s_slice_ns (), before);
    //  A prefix no thread has: none changed
    assert_int_equal (wp_threads_slice ("no-such-thread/", 100), 0);
    assert_int_equal (s_slice_ns (), before);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_siphash_reference_vectors),
        cmocka_unit_test (test_siphash_reads_only_len_bytes),
        cmocka_unit_test (test_user_hash),
        cmocka_unit_test (test_parse_key_good),
        cmocka_unit_test (test_parse_key_bad),
        cmocka_unit_test (test_big_endian_u64),
        cmocka_unit_test (test_big_endian_u32),
        cmocka_unit_test (test_big_endian_f64),
        cmocka_unit_test (test_log_should),
        cmocka_unit_test (test_clocks),
        cmocka_unit_test (test_rss),
        cmocka_unit_test (test_thread_slice),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
