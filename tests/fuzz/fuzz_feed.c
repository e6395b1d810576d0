/*  =========================================================================
    fuzz_feed - the readers of IDE assistants' usage files and of
    Continue's HTTP destination (wp_feed), as warmupctl ingest and the
    proxy call them. The first byte picks the reader (a Continue line of a
    file named autocomplete.jsonl, a Continue line of a file that names no
    event, a Tabby line, Continue's POST body); the rest is the input.
    Every input is a request, no request, an unknown event or a bad one
    with a reason; a request has a user and a model within their bounds,
    and its event packs.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_feed.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    if (size == 0)
        return 0;
    wp_feed_opts_t opts = { .format = WP_FEED_CONTINUE };
    int reader = data [0] % 4;
    if (reader == 0)
        opts.event_name = "autocomplete";
    if (reader == 2) {
        opts.format = WP_FEED_TABBY;
        opts.completion_model = "tabby-coder";
        opts.chat_model = "tabby-chat";
    }
    if (data [0] & 0x80)
        opts.user = "override";
    const char *text = (const char *) data + 1;
    wp_feed_event_t event;
    char why [256];
    wp_feed_result_t result = reader == 3
        ? wp_feed_continue_post (&opts, text, size - 1, 1700000000000ULL, &event, why,
                                 sizeof why)
        : wp_feed_line (&opts, text, size - 1, 1700000000000ULL, &event, why, sizeof why);
    assert (result <= WP_FEED_BAD);
    assert (*wp_feed_result_name (result));
    if (result == WP_FEED_BAD || result == WP_FEED_UNKNOWN)
        assert (*why);
    if (result == WP_FEED_USAGE) {
        assert (*event.usage.user && strlen (event.usage.user) <= 256);
        assert (*event.usage.model && strlen (event.usage.model) <= 200);
        assert (event.usage.event_ms > 0);
        assert (event.usage.task != WARMUP__V1__TASK__TASK_UNSPECIFIED);
        uint8_t buffer [4096];
        assert (protobuf_c_message_get_packed_size (&event.usage.base) <= sizeof buffer);
        protobuf_c_message_pack (&event.usage.base, buffer);
    }
    uint64_t ms;
    char small [32];
    snprintf (small, sizeof small, "%.*s", (int) (size - 1 < 31 ? size - 1 : 31), text);
    if (wp_feed_iso_ms (small, &ms) == 0)
        assert (ms < 253402300800000ULL);
    char language [65], type [33];
    wp_feed_language (small, language, sizeof language, type, sizeof type);
    assert (strlen (language) < sizeof language && strlen (type) < sizeof type);
    return 0;
}
