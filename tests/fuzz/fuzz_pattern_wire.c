/*  =========================================================================
    fuzz_pattern_wire - the usage.pattern reader of the engine, warmupctl
    and the tests (wp_pattern_wire_read) on any UsagePattern that decodes:
    either it refuses the message naming a field, or the pair it reads has
    a model, a count, finite non-negative counts in its histogram and at
    most four links a list, each with a model.
    =========================================================================
*/
#include <math.h>
#include "fuzz.h"
#include "wp_bus.h"
#include "wp_pattern_wire.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    Warmup__V1__UsagePattern *msg = warmup__v1__usage_pattern__unpack (NULL, size, data);
    if (!msg)
        return 0;
    static wp_pattern_t out;
    char error [160] = "";
    if (wp_pattern_wire_read (msg, &out, error, sizeof error)) {
        assert (*error);
        warmup__v1__usage_pattern__free_unpacked (msg, NULL);
        return 0;
    }
    assert (out.model && *out.model);
    assert (out.count > 0);
    assert (out.hist == out.hist_buf);
    for (int b = 0; b < WP_IDLE_BINS; b++)
        assert (out.hist [b] >= 0 && isfinite (out.hist [b]));
    assert (out.hist_total >= 0 && isfinite (out.hist_total));
    assert (isfinite (out.season) && isfinite (out.anomaly));
    assert (out.n_next <= WP_PATTERN_LINKS && out.n_next2 <= WP_PATTERN_LINKS
            && out.n_couse <= WP_PATTERN_LINKS);
    for (int i = 0; i < out.n_next; i++)
        assert (out.next [i].model && *out.next [i].model && out.next [i].weight >= 0);
    warmup__v1__usage_pattern__free_unpacked (msg, NULL);
    return 0;
}
