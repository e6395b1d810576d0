/*  =========================================================================
    fuzz_prediction_wire - the prediction.made reader of the scheduler
    (wp_prediction_wire_read) on any PredictionMade that decodes: what it
    reads has a model and a probability in 0..1, and a plan that holds.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_bus.h"
#include "wp_prediction_wire.h"
#include <math.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    Warmup__V1__PredictionMade *msg = warmup__v1__prediction_made__unpack (NULL, size, data);
    if (!msg)
        return 0;
    wp_prediction_t out [WP_PREDICTION_WIRE_MAX];
    size_t n = wp_prediction_wire_read (msg, out, WP_PREDICTION_WIRE_MAX);
    assert (n <= WP_PREDICTION_WIRE_MAX && n <= msg->n_models);
    for (size_t i = 0; i < n; i++) {
        assert (out [i].model && *out [i].model);
        assert (out [i].probability >= 0 && out [i].probability <= 1);
    }
    warmup__v1__prediction_made__free_unpacked (msg, NULL);
    return 0;
}
