/*  =========================================================================
    fuzz_model_file - the model file reader (wp_engine_file_decode: warmupctl
    model show/load, the engine's model load and its stored record) on any
    bytes: either it refuses them with a reason, or what it read encodes
    back to the same bytes and an engine takes it or refuses it whole.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_engine.h"
#include "wp_engine_file.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    wp_engine_file_t file;
    char error [256] = "";
    if (wp_engine_file_decode (&file, data, size, error, sizeof error)) {
        assert (*error);
        return 0;
    }
    uint8_t again [WP_ENGINE_FILE_MAX];
    size_t len = wp_engine_file_encode (&file, again, sizeof again);
    assert (len == size && memcmp (again, data, size) == 0);
    static wp_engine_t *engine;
    if (!engine)
        engine = wp_engine_new (NULL);
    wp_engine_learned_t learned, before, after;
    wp_engine_file_learned (&file, &learned);
    wp_engine_learned (engine, &before);
    if (wp_engine_learn_from (engine, &learned, WP_ENGINE_MERGE)) {
        wp_engine_learned (engine, &after);
        assert (memcmp (&before, &after, sizeof before) == 0);
    }
    return 0;
}
