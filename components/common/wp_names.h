/*  =========================================================================
    wp_names - a table of model names with dense ids, for the cores.

    Each name is stored once, in 4 KiB blocks that never move (a name's
    pointer stays valid while the table lives), and gets the next id
    (0, 1, 2, ...; names are never removed). Lookup is an open-addressing
    table of ids keyed by the name's FNV-1a hash (linear probing, at most
    2/3 full). Per name it costs its bytes and terminating NUL, a 4-byte
    locator and 4 to 12 bytes of table: what a zhashx entry costs twice
    over (its item, its copy of the key, its bucket), and every byte is
    counted by wp_names_bytes.

    Plain C, no I/O. Names are 1 to WP_NAMES_LEN_MAX bytes.
    =========================================================================
*/

#ifndef WP_NAMES_H_INCLUDED
#define WP_NAMES_H_INCLUDED

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  No such name.
#define WP_NAMES_NONE UINT32_MAX

//  Longest name, bytes (without the NUL).
#define WP_NAMES_LEN_MAX 255

typedef struct _wp_names_t wp_names_t;

//  Create an empty table. Returns NULL when out of memory.
wp_names_t *
    wp_names_new (void);

//  Destroy the table and its names; safe on NULL; nulls *self_p.
void
    wp_names_destroy (wp_names_t **self_p);

//  Id of name, or WP_NAMES_NONE when it is not in the table.
uint32_t
    wp_names_find (wp_names_t *self, const char *name);

//  The same for a name whose wp_names_fnv1a hash is known (it is not
//  hashed again).
uint32_t
    wp_names_find_fnv1a (wp_names_t *self, const char *name, uint64_t hash);

//  Id of name, added with the next id when new. WP_NAMES_NONE for an
//  empty or over-long name, or when out of memory.
uint32_t
    wp_names_add (wp_names_t *self, const char *name);

//  Room for element id in an array indexed by name id (elements of size
//  bytes): its capacity *cap grows by an eighth, to 16 and to id + 1 at
//  least (the ids of a shared table may skip). Returns the array, moved or
//  not, with *cap updated; NULL, the array and *cap untouched, when out of
//  memory. New elements are not initialised.
void *
    wp_names_room (void *array, uint32_t *cap, uint32_t id, size_t size);

//  The name of an id (< wp_names_size). Borrowed: valid while the table
//  lives.
const char *
    wp_names_name (wp_names_t *self, uint32_t id);

//  Number of names.
uint32_t
    wp_names_size (wp_names_t *self);

//  The lowest id whose name has this FNV-1a hash (see wp_names_fnv1a),
//  or WP_NAMES_NONE. Slower than wp_names_find (it hashes the names it
//  meets): meant for reading records that name models by hash.
uint32_t
    wp_names_find_hash (wp_names_t *self, uint64_t hash);

//  Every byte the table holds (blocks, locators, lookup table, itself).
size_t
    wp_names_bytes (wp_names_t *self);

//  64-bit FNV-1a hash of a name.
uint64_t
    wp_names_fnv1a (const char *name);

#ifdef __cplusplus
}
#endif

#endif
