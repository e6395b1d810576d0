/*  =========================================================================
    fuzz_front_api - the HTTP proxy's readers of request bodies, as it calls
    them: the model named in an OpenAI or Ollama request
    (wp_front_scan_model), POST /warmup/v1/usage (wp_front_usage_read),
    POST /warmup/v1/intent (wp_front_intent_read) and POST
    /warmup/v1/predict (wp_front_predict_read). Each reads the body or
    refuses it with an HTTP status and a reason; what it reads holds
    together (a model fits its room, every usage event has a user and a
    model and packs, every intent a user and a usable kind).
    =========================================================================
*/
#include "fuzz.h"
#include "wp_front.h"
#include "wp_front_api.h"
#include "wp_util.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    const char *body = (const char *) data;
    char model [WP_FRONT_MODEL_MAX + 1];
    wp_front_scan_t scan = wp_front_scan_model (body, size, model, sizeof model);
    assert (wp_front_scan_name (scan));
    assert (strlen (model) <= WP_FRONT_MODEL_MAX);

    wp_front_error_t error;
    wp_front_usage_t *usage = wp_front_usage_read (body, size, 1700000000000ULL, &error);
    if (usage) {
        size_t n = wp_front_usage_count (usage);
        assert (n >= 1 && n <= WP_FRONT_USAGE_MAX);
        for (size_t i = 0; i < n; i++) {
            Warmup__V1__UsageObserved *event = wp_front_usage_event (usage, i);
            assert (event->user && *event->user && event->model && *event->model);
            uint8_t buffer [65536];
            if (protobuf_c_message_get_packed_size (&event->base) <= sizeof buffer)
                protobuf_c_message_pack (&event->base, buffer);
        }
        wp_front_usage_destroy (&usage);
    }
    else
        assert (error.status >= 400 && error.status < 600);

    wp_front_usage_t *intents = wp_front_intent_read (body, size, 1700000000000ULL, &error);
    if (intents) {
        size_t n = wp_front_usage_count (intents);
        assert (n >= 1 && n <= WP_FRONT_USAGE_MAX);
        for (size_t i = 0; i < n; i++) {
            Warmup__V1__UsageIntent *intent = wp_front_intent_event (intents, i);
            assert (intent->user && *intent->user && wp_intent_kind_ok (intent->kind));
            assert (wp_front_batch_message (intents, i) == &intent->base);
            uint8_t buffer [65536];
            if (protobuf_c_message_get_packed_size (&intent->base) <= sizeof buffer)
                protobuf_c_message_pack (&intent->base, buffer);
        }
        wp_front_usage_destroy (&intents);
    }
    else
        assert (error.status >= 400 && error.status < 600);

    wp_front_predict_t request;
    if (wp_front_predict_read (body, size, &request, &error) == 0)
        assert (strlen (request.user) <= WP_FRONT_USER_MAX);
    else
        assert (error.status >= 400 && error.status < 600);
    return 0;
}
