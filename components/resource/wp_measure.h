/*  =========================================================================
    wp_measure - what a load really took, measured as the change in device
    or process memory around it, for a model whose server does not say.

    The resource manager feeds it readings on channels (a GPU's memory
    used, a watched process item's RSS), each taken between two times, and
    the loads and cools of the service: when one is asked for (busy from
    then), and when it ended (its start and end). For a load to measure
    (wp_measure_load) it takes, on each channel of the model, the last
    reading that ended before the load started and the first that started
    after it ended, and reports the change between them once every channel
    has its reading after, if no other load or cool of the service ran
    between those readings (else the measure is dropped: it would count
    another model's memory). A change of a process running elsewhere in
    that window is in it: the measure is what the device says, no more.

    Plain C, no I/O, no clock: times come as arguments (wall clock, ms).
    Bounded: WP_MEASURE_CHANNELS channels of WP_MEASURE_READINGS readings
    each, WP_MEASURE_PENDING loads waiting for their reading after,
    WP_MEASURE_ACTIVITY loads and cools remembered.
    =========================================================================
*/

#ifndef WP_MEASURE_H_INCLUDED
#define WP_MEASURE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WP_MEASURE_CHANNELS 64      //  channels at most
#define WP_MEASURE_READINGS 16      //  readings kept per channel
#define WP_MEASURE_PENDING 64       //  loads waiting to be measured
#define WP_MEASURE_ACTIVITY 256     //  loads and cools remembered
#define WP_MEASURE_WAIT_MS 60000    //  a load not measurable by then is dropped
#define WP_MEASURE_NAME_MAX 255     //  longest model name, bytes

//  A channel: GPUs are 0..31 (by index), watched process items 32..63.
#define WP_MEASURE_GPU(index) (index)
#define WP_MEASURE_WATCH(index) (32 + (index))

//  One measured load.
typedef struct {
    char model [WP_MEASURE_NAME_MAX + 1];
    uint32_t vram_mb;           //  change on the GPU channels, MiB
    uint32_t ram_mb;            //  change on the process channels, MiB
    bool gpu;                   //  GPU channels were measured
    bool processes;             //  process channels were measured
    uint64_t end_ms;            //  end of the load
} wp_measured_t;

typedef struct _wp_measure_t wp_measure_t;

//  Create; NULL when out of memory.
wp_measure_t *
    wp_measure_new (void);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_measure_destroy (wp_measure_t **self_p);

//  A reading of a channel taken between start_ms and end_ms: value_mb
//  (KiB for a process channel, summed RSS; MiB for a GPU). Returns 0, or
//  -1 for a channel out of range.
int
    wp_measure_reading (wp_measure_t *self, unsigned channel, uint64_t start_ms,
                        uint64_t end_ms, uint64_t value);

//  A load or cool of model was asked at at_ms: the service is busy with
//  it until wp_measure_ended.
void
    wp_measure_asked (wp_measure_t *self, const char *model, uint64_t at_ms);

//  A load or cool of model ended: it ran from start_ms to end_ms.
void
    wp_measure_ended (wp_measure_t *self, const char *model, uint64_t start_ms,
                      uint64_t end_ms);

//  Measure this load of model (from start_ms to end_ms, also ended with
//  wp_measure_ended) on its channels (n of them, at most 64). Returns 0,
//  or -1 when the pending list is full or the model name is bad.
int
    wp_measure_load (wp_measure_t *self, const char *model, uint64_t start_ms,
                     uint64_t end_ms, const unsigned *channels, size_t n);

//  Loads measured by now (now_ms): fills at most capacity, returns how
//  many. Each is reported once; loads that cannot be measured (a reading
//  before is missing, another load or cool overlapped, no change above 0,
//  or no reading after within WP_MEASURE_WAIT_MS) are dropped.
size_t
    wp_measure_take (wp_measure_t *self, uint64_t now_ms, wp_measured_t *out,
                     size_t capacity);

//  Loads dropped as not measurable since the start.
uint64_t
    wp_measure_dropped (wp_measure_t *self);

#ifdef __cplusplus
}
#endif

#endif
