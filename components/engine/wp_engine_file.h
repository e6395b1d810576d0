/*  =========================================================================
    wp_engine_file - a model file: what the engine learned of all its pairs
    (wp_engine_learned_t), written by `warmupctl train`, shown by `warmupctl
    model show`, installed in a running engine by `warmupctl model load`,
    and the record the engine keeps of it in its store.

    Versioned and checksummed, little-endian, about 1.2 KiB:
        "WPMODEL\n"                 magic
        u32 format                  WP_ENGINE_FILE_FORMAT
        u32 flags                   bit 0: merge with what was learned
                                    online (else replace it); bit 1: the
                                    population's survival is the prior
                                    (else the scale-free one stays)
        char engine [16]            the engine that learned it ("idle-plan/3")
        u32 features, levels, tols  its dimensions
        f64 price                   the cold_wait_price it learned at
        u64 requests                requests it learned from
        i64 from_ms, until_ms       the part of the trace, ms (-1: all)
        char source [128]           the trace's file name
        the learned values: f64 weights [features], u64 updates,
        f64 survival [levels - 1], f64 done [levels], f64 waits_s, waits_n,
        f64 hits [tols], f64 trials
        u32 crc32                   of every byte before it
    A file whose magic, format, engine, dimensions or checksum differ, that
    is cut short or too long, or whose values are not finite counts, is
    refused whole, and the reason says which.
    =========================================================================
*/
#ifndef WP_ENGINE_FILE_H_INCLUDED
#define WP_ENGINE_FILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "wp_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_ENGINE_FILE_FORMAT 1
#define WP_ENGINE_FILE_MAX 2048         //  bytes a model file takes at most

typedef struct {
    bool merge;                 //  merge with what was learned online
    bool population;            //  its population survival is the prior
    char engine [16];           //  engine version that learned it
    double price;               //  cold_wait_price it learned at
    uint64_t requests;          //  requests learned from
    int64_t from_ms, until_ms;  //  part of the trace (-1: all)
    char source [128];          //  the trace's file name
    wp_engine_learned_t learned;
} wp_engine_file_t;

//  Encode into out (size >= WP_ENGINE_FILE_MAX); the length.
size_t
    wp_engine_file_encode (const wp_engine_file_t *self, uint8_t *out, size_t size);

//  What a running engine takes of it (the survival only if population).
void
    wp_engine_file_learned (const wp_engine_file_t *self, wp_engine_learned_t *out);

//  Decode and check; 0, or -1 with the reason in error (size bytes).
int
    wp_engine_file_decode (wp_engine_file_t *self, const uint8_t *data, size_t len,
                           char *error, size_t size);

//  Write to path (a temporary file renamed over it); 0 or -1 with the reason.
int
    wp_engine_file_write (const wp_engine_file_t *self, const char *path, char *error,
                          size_t size);

//  Read from path; 0 or -1 with the reason (naming the file).
int
    wp_engine_file_read (wp_engine_file_t *self, const char *path, char *error,
                         size_t size);

//  What is in it, for people.
void
    wp_engine_file_print (const wp_engine_file_t *self, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
