/*  =========================================================================
    test_names - the cores' table of model names: ids, lookup, growth,
    bounds, lookup by FNV-1a hash, and the bytes it reports.
    =========================================================================
*/

#include <stdlib.h>
#include "testutil.h"
#include "wp_names.h"
#include <stdio.h>
#include <string.h>

static void
test_ids (void **state)
{
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    assert_int_equal (wp_names_size (names), 0);
    assert_int_equal (wp_names_find (names, "a"), WP_NAMES_NONE);
    assert_int_equal (wp_names_add (names, "a"), 0);
    assert_int_equal (wp_names_add (names, "b"), 1);
    assert_int_equal (wp_names_add (names, "a"), 0);
    assert_int_equal (wp_names_find (names, "b"), 1);
    assert_int_equal (wp_names_size (names), 2);
    assert_string_equal (wp_names_name (names, 0), "a");
    const char *b = wp_names_name (names, 1);

    //  Many names: the table and the blocks grow, ids and pointers stay
    char name [300];
    for (int i = 0; i < 20000; i++) {
        snprintf (name, sizeof name, "model/%d/%0*d", i, i % 200, 7);
        assert_int_equal (wp_names_add (names, name), (uint32_t) i + 2);
    }
    for (int i = 0; i < 20000; i++) {
        snprintf (name, sizeof name, "model/%d/%0*d", i, i % 200, 7);
        assert_int_equal (wp_names_find (names, name), (uint32_t) i + 2);
        assert_int_equal (wp_names_find_fnv1a (names, name, wp_names_fnv1a (name)),
                          (uint32_t) i + 2);
        assert_string_equal (wp_names_name (names, (uint32_t) i + 2), name);
    }
    assert_int_equal (wp_names_find_fnv1a (names, "model/1", wp_names_fnv1a ("model/1")),
                      WP_NAMES_NONE);
    assert_ptr_equal (wp_names_name (names, 1), b);
    assert_string_equal (b, "b");
    assert_int_equal (wp_names_find (names, "model/1"), WP_NAMES_NONE);

    //  The bytes: at least the names, not much more
    size_t text = 0;
    for (uint32_t id = 0; id < wp_names_size (names); id++)
        text += strlen (wp_names_name (names, id)) + 1;
    size_t bytes = wp_names_bytes (names);
    assert_true (bytes > text + 4 * 20002);
    assert_true (bytes < text + 24 * 20002 + 8192);
    wp_names_destroy (&names);
    assert_null (names);
    wp_names_destroy (&names);
}

static void
test_bounds (void **state)
{
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    char name [WP_NAMES_LEN_MAX + 2];
    memset (name, 'x', sizeof name);
    name [WP_NAMES_LEN_MAX + 1] = 0;
    assert_int_equal (wp_names_add (names, name), WP_NAMES_NONE);
    assert_int_equal (wp_names_add (names, ""), WP_NAMES_NONE);
    name [WP_NAMES_LEN_MAX] = 0;
    assert_int_equal (wp_names_add (names, name), 0);
    //  Longest names fill blocks end to end
    for (int i = 1; i < 100; i++) {
        name [0] = (char) ('A' + i % 26);
        name [1] = (char) ('A' + i / 26);
        assert_int_equal (wp_names_add (names, name), (uint32_t) i);
    }
    for (int i = 1; i < 100; i++) {
        name [0] = (char) ('A' + i % 26);
        name [1] = (char) ('A' + i / 26);
        assert_string_equal (wp_names_name (names, (uint32_t) i), name);
    }
    assert_int_equal (wp_names_size (names), 100);
    wp_names_destroy (&names);
}

static void
test_hash (void **state)
{
    //  FNV-1a test vectors
    assert_true (wp_names_fnv1a ("") == 0xcbf29ce484222325ULL);
    assert_true (wp_names_fnv1a ("a") == 0xaf63dc4c8601ec8cULL);
    assert_true (wp_names_fnv1a ("foobar") == 0x85944171f73967e8ULL);
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    char name [32];
    for (int i = 0; i < 1000; i++) {
        snprintf (name, sizeof name, "m%d", i);
        wp_names_add (names, name);
    }
    for (int i = 0; i < 1000; i += 7) {
        snprintf (name, sizeof name, "m%d", i);
        assert_int_equal (wp_names_find_hash (names, wp_names_fnv1a (name)), (uint32_t) i);
    }
    assert_int_equal (wp_names_find_hash (names, wp_names_fnv1a ("absent")), WP_NAMES_NONE);
    wp_names_destroy (&names);
}

//  Room for an array indexed by id: 16 first, an eighth more after, and
//  straight to an id past that (a shared table's ids skip); what was in
//  the array stays.
static void
test_room (void **state)
{
    uint32_t cap = 0;
    uint32_t *array = (uint32_t *) wp_names_room (NULL, &cap, 0, sizeof (uint32_t));
    assert_non_null (array);
    assert_int_equal (cap, 16);
    for (uint32_t i = 0; i < 16; i++)
        array [i] = i * 3;
    assert_ptr_equal (wp_names_room (array, &cap, 15, sizeof (uint32_t)), array);
    assert_int_equal (cap, 16);
    array = (uint32_t *) wp_names_room (array, &cap, 16, sizeof (uint32_t));
    assert_int_equal (cap, 18);
    array = (uint32_t *) wp_names_room (array, &cap, 1000, sizeof (uint32_t));
    assert_int_equal (cap, 1001);
    array [1000] = 7;
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal (array [i], i * 3);
    free (array);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ids),
        cmocka_unit_test (test_bounds),
        cmocka_unit_test (test_hash),
        cmocka_unit_test (test_room),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
