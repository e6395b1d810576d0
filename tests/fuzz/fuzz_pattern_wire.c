/*  =========================================================================
    fuzz_pattern_wire - the usage.pattern reader of the engine, warmupctl
    and the tests (wp_pattern_wire_read) on any UsagePattern that decodes:
    either it refuses the message naming a field, or every entry it reads
    has a model, a count and a histogram of the message's size or none.
    =========================================================================
*/
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
    static wp_pattern_t out [WP_PATTERN_WIRE_MAX];
    char error [160] = "";
    int n = wp_pattern_wire_read (msg, out, WP_PATTERN_WIRE_MAX, error, sizeof error);
    if (n < 0)
        assert (*error);
    for (int i = 0; i < n; i++) {
        assert (out [i].model && *out [i].model);
        assert (out [i].count > 0);
    }
    //  A smaller room: no more than it holds.
    assert (wp_pattern_wire_read (msg, out, 2, error, sizeof error) <= 2);
    warmup__v1__usage_pattern__free_unpacked (msg, NULL);
    return 0;
}
