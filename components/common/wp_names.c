/*  =========================================================================
    wp_names - a table of model names with dense ids, for the cores.
    =========================================================================
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "wp_names.h"

#define BLOCK_SIZE 4096         //  bytes per block of names
#define BLOCK_SHIFT 12          //  locator = block << BLOCK_SHIFT | offset
#define TABLE_MIN 16            //  smallest lookup table, slots

_Static_assert (WP_NAMES_LEN_MAX + 1 <= BLOCK_SIZE, "a name must fit a block");
_Static_assert ((1 << BLOCK_SHIFT) == BLOCK_SIZE, "BLOCK_SHIFT");

struct _wp_names_t {
    char **blocks;              //  blocks of names, each BLOCK_SIZE bytes
    uint32_t n_blocks;          //  blocks allocated
    uint32_t blocks_cap;        //  capacity of blocks []
    uint32_t block_used;        //  bytes used in the last block
    uint32_t *where;            //  per id: its name's locator
    uint32_t size;              //  names
    uint32_t where_cap;         //  capacity of where []
    uint32_t *slots;            //  lookup table: id + 1, 0 empty
    uint32_t mask;              //  slots - 1
};

//  64-bit FNV-1a hash of a name.
uint64_t
wp_names_fnv1a (const char *name)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const uint8_t *c = (const uint8_t *) name; *c; c++)
        hash = (hash ^ *c) * 0x100000001b3ULL;
    return hash;
}

//  Home slot of a hash (its high bits folded in: FNV's low bits are weak).
static inline uint32_t
s_home (const wp_names_t *self, uint64_t hash)
{
    hash ^= hash >> 29;
    hash *= 0xbf58476d1ce4e5b9ULL;
    hash ^= hash >> 32;
    return (uint32_t) hash & self->mask;
}

//  Create.
wp_names_t *
wp_names_new (void)
{
    wp_names_t *self = (wp_names_t *) calloc (1, sizeof (wp_names_t));
    if (!self)
        return NULL;
    self->slots = (uint32_t *) calloc (TABLE_MIN, sizeof (uint32_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->mask = TABLE_MIN - 1;
    return self;
}

//  Destroy.
void
wp_names_destroy (wp_names_t **self_p)
{
    assert (self_p);
    wp_names_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->n_blocks; i++)
        free (self->blocks [i]);
    free (self->blocks);
    free (self->where);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  The name of an id.
const char *
wp_names_name (wp_names_t *self, uint32_t id)
{
    assert (self && id < self->size);
    uint32_t at = self->where [id];
    return self->blocks [at >> BLOCK_SHIFT] + (at & (BLOCK_SIZE - 1));
}

//  Number of names.
uint32_t
wp_names_size (wp_names_t *self)
{
    assert (self);
    return self->size;
}

//  Id of a name with a known hash, or NONE; *slot_p gets the slot where
//  it would go.
static uint32_t
s_find (wp_names_t *self, const char *name, uint64_t hash, uint32_t *slot_p)
{
    uint32_t i = s_home (self, hash);
    while (self->slots [i]) {
        uint32_t id = self->slots [i] - 1;
        if (strcmp (wp_names_name (self, id), name) == 0)
            return id;
        i = (i + 1) & self->mask;
    }
    if (slot_p)
        *slot_p = i;
    return WP_NAMES_NONE;
}

//  Id of a name.
uint32_t
wp_names_find (wp_names_t *self, const char *name)
{
    assert (self && name);
    return s_find (self, name, wp_names_fnv1a (name), NULL);
}

//  Id of a name with a known hash.
uint32_t
wp_names_find_fnv1a (wp_names_t *self, const char *name, uint64_t hash)
{
    assert (self && name);
    return s_find (self, name, hash, NULL);
}

//  Rebuild the lookup table at twice the size (ids in order, so of names
//  with one hash the lowest id comes first on its probe path). 0 or -1.
static int
s_grow (wp_names_t *self)
{
    uint32_t size = (self->mask + 1) * 2;
    uint32_t *slots = (uint32_t *) calloc (size, sizeof (uint32_t));
    if (!slots)
        return -1;
    free (self->slots);
    self->slots = slots;
    self->mask = size - 1;
    for (uint32_t id = 0; id < self->size; id++) {
        uint32_t i = s_home (self, wp_names_fnv1a (wp_names_name (self, id)));
        while (self->slots [i])
            i = (i + 1) & self->mask;
        self->slots [i] = id + 1;
    }
    return 0;
}

//  Copy a name into the blocks; its locator into *where_p. 0 or -1.
static int
s_store (wp_names_t *self, const char *name, size_t len, uint32_t *where_p)
{
    if (self->n_blocks == 0 || self->block_used + len + 1 > BLOCK_SIZE) {
        if (self->n_blocks == self->blocks_cap) {
            uint32_t cap = self->blocks_cap ? self->blocks_cap * 2 : 4;
            char **blocks = (char **) realloc (self->blocks, cap * sizeof (char *));
            if (!blocks)
                return -1;
            self->blocks = blocks;
            self->blocks_cap = cap;
        }
        char *block = (char *) malloc (BLOCK_SIZE);
        if (!block)
            return -1;
        self->blocks [self->n_blocks++] = block;
        self->block_used = 0;
    }
    char *at = self->blocks [self->n_blocks - 1] + self->block_used;
    memcpy (at, name, len + 1);
    *where_p = (self->n_blocks - 1) << BLOCK_SHIFT | self->block_used;
    self->block_used += (uint32_t) len + 1;
    return 0;
}

//  Id of a name, adding it.
uint32_t
wp_names_add (wp_names_t *self, const char *name)
{
    assert (self && name);
    uint64_t hash = wp_names_fnv1a (name);
    uint32_t slot;
    uint32_t id = s_find (self, name, hash, &slot);
    if (id != WP_NAMES_NONE)
        return id;
    size_t len = strnlen (name, WP_NAMES_LEN_MAX + 1);
    if (len == 0 || len > WP_NAMES_LEN_MAX || self->size == WP_NAMES_NONE - 1)
        return WP_NAMES_NONE;
    if (self->size == self->where_cap) {
        uint32_t cap = self->where_cap < 16 ? 16 : self->where_cap + self->where_cap / 2;
        uint32_t *where = (uint32_t *) realloc (self->where, cap * sizeof (uint32_t));
        if (!where)
            return WP_NAMES_NONE;
        self->where = where;
        self->where_cap = cap;
    }
    //  At most 2/3 full; a failed grow leaves it fuller, never full
    if ((uint64_t) (self->size + 1) * 3 > (uint64_t) (self->mask + 1) * 2) {
        if (s_grow (self) && self->size + 2 > self->mask + 1)
            return WP_NAMES_NONE;
        s_find (self, name, hash, &slot);
    }
    if (s_store (self, name, len, &self->where [self->size]))
        return WP_NAMES_NONE;
    id = self->size++;
    self->slots [slot] = id + 1;
    return id;
}

//  The lowest id with a name hash.
uint32_t
wp_names_find_hash (wp_names_t *self, uint64_t hash)
{
    assert (self);
    uint32_t i = s_home (self, hash);
    while (self->slots [i]) {
        uint32_t id = self->slots [i] - 1;
        if (wp_names_fnv1a (wp_names_name (self, id)) == hash)
            return id;
        i = (i + 1) & self->mask;
    }
    return WP_NAMES_NONE;
}

//  Every byte held.
size_t
wp_names_bytes (wp_names_t *self)
{
    assert (self);
    return sizeof (*self) + (size_t) self->blocks_cap * sizeof (char *)
         + (size_t) self->n_blocks * BLOCK_SIZE + (size_t) self->where_cap * sizeof (uint32_t)
         + ((size_t) self->mask + 1) * sizeof (uint32_t);
}

//  Room in an array indexed by name id.
void *
wp_names_room (void *array, uint32_t *cap, uint32_t id, size_t size)
{
    assert (cap && size);
    if (id < *cap)
        return array;
    uint32_t grown = *cap < 16 ? 16 : *cap + *cap / 8;
    if (grown <= id)
        grown = id + 1;
    void *moved = realloc (array, (size_t) grown * size);
    if (!moved)
        return NULL;
    *cap = grown;
    return moved;
}
