/*  =========================================================================
    fuzz_jval - the JSON reader of what model servers answer (wp_jval) and
    the error message taken from a failed reply (wp_curl_server_message):
    parse, then walk every value with every accessor, as the backends do.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_curl.h"
#include "wp_jval.h"
#include <math.h>

//  Visit a value and everything under it.
static void
s_walk (const wp_jval_t *value, int depth)
{
    assert (depth <= WP_JVAL_MAX_DEPTH + 1);
    wp_jval_type_t type = wp_jval_type (value);
    const char *text = wp_jval_str (value);
    assert ((type == WP_JVAL_STRING) == (text != NULL));
    (void) wp_jval_num (value, NAN);
    (void) wp_jval_true (value);
    size_t n = wp_jval_size (value);
    if (type != WP_JVAL_ARRAY && type != WP_JVAL_OBJECT)
        assert (n == 0);
    for (size_t i = 0; i < n; i++) {
        const wp_jval_t *item = wp_jval_at (value, i);
        if (type == WP_JVAL_ARRAY)
            s_walk (item, depth + 1);
    }
    //  The paths the backends ask for.
    const char *paths [] = { "data", "id", "aliases", "status.value", "status.failed",
                             "status.exit_code", "models", "name", "model", "size",
                             "error", "error.message", "message", "detail", NULL };
    for (int i = 0; paths [i]; i++) {
        const wp_jval_t *found = wp_jval_path (value, paths [i]);
        if (found && type == WP_JVAL_OBJECT)
            s_walk (found, depth + 1);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    char *text = (char *) malloc (size + 1);
    if (size)
        memcpy (text, data, size);
    text [size] = 0;
    wp_jval_t *json = wp_jval_parse (text, size);
    if (json)
        s_walk (json, 0);
    wp_jval_destroy (&json);
    char message [200];
    wp_curl_server_message (text, size, message, sizeof message);
    assert (strlen (message) < sizeof message);
    char tiny [1];
    wp_curl_server_message (text, size, tiny, sizeof tiny);
    assert (tiny [0] == 0);
    free (text);
    return 0;
}
