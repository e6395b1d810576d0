/*  =========================================================================
    wp_backend_file - prefetch a model's weight files into the page cache
    (warm), evict them (cool), report their residency (status).

      warm    for each file: POSIX_FADV_WILLNEED (the kernel starts reading
              ahead), then reads of the whole file, S_SLICE_BYTES per loop
              turn so the queue's actor stays responsive. Done when every
              file was read; residency is measured with mmap + mincore and
              reported: warmup.done carries the bytes made resident
              (memory_source "resident", memory_mb rounded up).
      cool    POSIX_FADV_DONTNEED on each file; residency after it.
      status  residency; loaded when at least 99% of the bytes are resident.

    `path` is a file, comma-separated files or a directory (see
    wp_pagecache_list). Reading stops at the job's timeout.
    =========================================================================
*/
#include "wp_backend.h"
#include "wp_pagecache.h"

//  Bytes read per loop turn.
#define S_SLICE_BYTES (16ULL * 1024 * 1024)

//  Read buffer size.
#define S_BUFFER_BYTES (1024 * 1024)

//  The job's state.
typedef struct {
    zlistx_t *files;            //  paths
    const char *current;        //  file being read (borrowed from files)
    int fd;                     //  its descriptor, -1 = none open
    uint64_t offset;            //  bytes of it read
    char *buffer;               //  read buffer
} s_state_t;

//  Measure the residency of every file into result. Returns 0 or -1
//  (the job failed).
static int
s_measure (wp_job_t *job, wp_job_result_t *result)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    for (const char *path = (const char *) zlistx_first (state->files); path;
         path = (const char *) zlistx_next (state->files)) {
        uint64_t resident, size;
        if (wp_pagecache_residency (path, &resident, &size)) {
            wp_job_fail (job, false, "%s: %s", path, strerror (errno));
            return -1;
        }
        result->resident_bytes += resident;
        result->total_bytes += size;
    }
    result->memory_bytes = result->resident_bytes;
    result->memory_source = "resident";
    result->loaded = result->total_bytes > 0
                  && result->resident_bytes >= result->total_bytes / 100 * 99;
    return 0;
}

//  Report the residency as the job's result.
static void
s_report (wp_job_t *job)
{
    wp_job_result_t result = { .ok = true };
    if (s_measure (job, &result) == 0)
        wp_job_finish (job, &result);
}

//  Close the file being read.
static void
s_close (s_state_t *state)
{
    if (state->fd >= 0)
        close (state->fd);
    state->fd = -1;
    state->offset = 0;
}

//  Read the next slice; reschedule until every file is read.
static void
s_read_slice (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    if (wp_job_left_ms (job) == 0) {
        wp_job_result_t result = { .retryable = true, .timed_out = true };
        snprintf (result.error, sizeof result.error,
                  "timed out after %u ms reading %s at byte %" PRIu64,
                  wp_job_timeout_ms (job), state->current, state->offset);
        wp_job_finish (job, &result);
        return;
    }
    if (state->fd < 0) {
        state->current = state->current ? (const char *) zlistx_next (state->files)
                                        : (const char *) zlistx_first (state->files);
        if (!state->current) {
            s_report (job);
            return;
        }
        state->fd = open (state->current, O_RDONLY | O_CLOEXEC);
        if (state->fd < 0) {
            wp_job_fail (job, false, "%s: %s", state->current, strerror (errno));
            return;
        }
        posix_fadvise (state->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        posix_fadvise (state->fd, 0, 0, POSIX_FADV_WILLNEED);
    }
    int64_t got = wp_pagecache_read (state->fd, state->offset, S_SLICE_BYTES,
                                     state->buffer, S_BUFFER_BYTES);
    if (got < 0) {
        wp_job_fail (job, true, "%s: %s", state->current, strerror (errno));
        return;
    }
    state->offset += (uint64_t) got;
    if ((uint64_t) got < S_SLICE_BYTES)
        s_close (state);
    wp_job_timer (job, 0, s_read_slice);
}

//  Start.
static int
s_start (wp_job_t *job)
{
    char error [512];
    zlistx_t *files = wp_pagecache_list (wp_job_model (job)->path, error, sizeof error);
    if (!files) {
        wp_job_fail (job, false, "%s", error);
        return -1;
    }
    s_state_t *state = (s_state_t *) zmalloc (sizeof (s_state_t));
    assert (state);
    state->files = files;
    state->fd = -1;
    wp_job_set_state (job, state);
    if (wp_job_op (job) == WP_JOB_WARM) {
        state->buffer = (char *) malloc (S_BUFFER_BYTES);
        assert (state->buffer);
        return wp_job_timer (job, 0, s_read_slice);
    }
    if (wp_job_op (job) == WP_JOB_COOL)
        for (const char *path = (const char *) zlistx_first (files); path;
             path = (const char *) zlistx_next (files))
            if (wp_pagecache_evict (path)) {
                wp_job_fail (job, false, "%s: %s", path, strerror (errno));
                return -1;
            }
    //  Measured on the next turn: the callback never runs inside start
    return wp_job_timer (job, 0, s_report);
}

//  Free the state.
static void
s_stop (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    if (state) {
        s_close (state);
        zlistx_destroy (&state->files);
        free (state->buffer);
        free (state);
        wp_job_set_state (job, NULL);
    }
}

const wp_backend_t wp_backend_file = {
    .name = "file",
    .start = s_start,
    .stop = s_stop,
};
