/*  =========================================================================
    fuzz_ingress - what the bus proxy does to what publishers send: the
    usage.observed rewrite that hashes user ids (wp_ingress_usage) and the
    principal stamp of control events (wp_ingress_append_string). The
    first byte picks which.

    The rewrite never writes past its bound, and what it passes decodes
    whenever the input did, with the same fields and a user that is empty
    or a hash: never the input's user id.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_bus.h"
#include "wp_ingress.h"
#include "wp_util.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    if (size < 1)
        return 0;
    const uint8_t key [16] = { 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    if (data [0] & 1) {
        //  The stamp: the control request keeps its fields and says who.
        size_t cap = len + 64;
        uint8_t *buffer = (uint8_t *) malloc (cap);
        if (len)
            memcpy (buffer, in, len);
        int n = wp_ingress_append_string (buffer, len, cap, 6, "client/fuzz.key", 15);
        assert (n == (int) len + 17);
        Warmup__V1__ControlRequest *before = warmup__v1__control_request__unpack (NULL, len, in);
        Warmup__V1__ControlRequest *after = warmup__v1__control_request__unpack (
            NULL, (size_t) n, buffer);
        if (before) {
            assert (after);
            assert (streq (after->principal, "client/fuzz.key"));
            assert (after->command == before->command);
            warmup__v1__control_request__free_unpacked (before, NULL);
        }
        if (after)
            warmup__v1__control_request__free_unpacked (after, NULL);
        free (buffer);
        return 0;
    }
    uint8_t *out = (uint8_t *) malloc (len + WP_INGRESS_GROWTH);
    wp_ingress_info_t info;
    int n = wp_ingress_usage (in, len, key, out, &info);
    Warmup__V1__UsageObserved *before = warmup__v1__usage_observed__unpack (NULL, len, in);
    if (n < 0)
        assert (info.why);
    else {
        assert ((size_t) n <= len + WP_INGRESS_GROWTH);
        Warmup__V1__UsageObserved *after = warmup__v1__usage_observed__unpack (
            NULL, (size_t) n, out);
        if (before)
            assert (after);
        if (after) {
            uint64_t hash;
            assert (!*after->user || wp_user_id_parse (after->user, &hash) == 0);
            if (before) {
                assert (after->event_ms == before->event_ms);
                assert (streq (after->model, before->model));
                assert (after->task == before->task && after->wait_ms == before->wait_ms);
                //  A user that was there is there hashed; none stays none.
                assert (!*before->user || *after->user || info.user);
            }
            warmup__v1__usage_observed__free_unpacked (after, NULL);
        }
    }
    if (before)
        warmup__v1__usage_observed__free_unpacked (before, NULL);
    free (out);
    return 0;
}
