/*  =========================================================================
    fuzz_proto - every bus event's decoder: the first byte picks the topic
    (and, with its top bit, the header-only decoding the metrics use), the
    rest is the payload, decoded as a subscriber does (wp_bus_unpack).
    What decodes is written as JSON (warmupctl tail) and packed again:
    packing what was unpacked must give bytes that unpack and pack to the
    same bytes.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_bus.h"
#include "wp_json.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    if (size < 1)
        return 0;
    wp_topic_t topic = (wp_topic_t) ((data [0] & 0x7f) % WP_TOPIC_COUNT);
    bool header_only = data [0] & 0x80;
    ProtobufCMessage *msg = wp_bus_unpack (topic, header_only, data + 1, size - 1, NULL);
    if (!msg)
        return 0;
    assert (msg->descriptor == wp_topic_descriptor (topic));
    char *json = wp_json_event (wp_topic_name (topic), msg);
    assert (json && json [0] == '{');
    free (json);
    size_t once = protobuf_c_message_get_packed_size (msg);
    uint8_t *packed = (uint8_t *) malloc (once + 1);
    assert (protobuf_c_message_pack (msg, packed) == once);
    ProtobufCMessage *again = wp_bus_unpack (topic, false, packed, once, NULL);
    assert (again);
    size_t twice = protobuf_c_message_get_packed_size (again);
    uint8_t *repacked = (uint8_t *) malloc (twice + 1);
    assert (protobuf_c_message_pack (again, repacked) == twice);
    assert (twice == once && memcmp (packed, repacked, once) == 0);
    free (repacked);
    free (packed);
    protobuf_c_message_free_unpacked (again, NULL);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
