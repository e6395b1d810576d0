/*  =========================================================================
    wp_eval_strmap - interns strings to dense integer ids

    Linear probing over a power-of-two table of slots holding id + 1
    (0 = empty); the hash of each string is kept beside its id so probes
    compare strings only on a full hash match.
    =========================================================================
*/
#include "wp_eval_strmap.h"

#include <stdlib.h>
#include <string.h>

struct _wp_eval_strmap_t {
    uint32_t *slots;            //  id + 1 per slot, 0 when empty
    size_t capacity;            //  number of slots, a power of two
    char **names;               //  names [id], owned copies
    uint64_t *hashes;           //  hashes [id]
    size_t size;                //  distinct strings stored
    size_t names_cap;           //  allocated length of names/hashes
    size_t string_bytes;        //  bytes held by the string copies
};

//  FNV-1a over the bytes, then a final mix so low bits are usable.
static uint64_t
s_hash (const char *str, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) str [i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

//  Create an empty map.
wp_eval_strmap_t *
wp_eval_strmap_new (void)
{
    wp_eval_strmap_t *self = calloc (1, sizeof (wp_eval_strmap_t));
    if (!self)
        return NULL;
    self->capacity = 64;
    self->slots = calloc (self->capacity, sizeof (uint32_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

//  Destroy the map and its strings.
void
wp_eval_strmap_destroy (wp_eval_strmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_strmap_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++)
        free (self->names [i]);
    free (self->names);
    free (self->hashes);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  Slot index holding the string, or the empty slot where it would go.
static size_t
s_find (wp_eval_strmap_t *self, const char *str, size_t len, uint64_t hash)
{
    size_t mask = self->capacity - 1;
    size_t pos = (size_t) hash & mask;
    while (self->slots [pos]) {
        uint32_t id = self->slots [pos] - 1;
        if (self->hashes [id] == hash && strncmp (self->names [id], str, len) == 0
        &&  self->names [id][len] == 0)
            return pos;
        pos = (pos + 1) & mask;
    }
    return pos;
}

//  Double the slot table and re-insert every id.
static int
s_grow (wp_eval_strmap_t *self)
{
    size_t capacity = self->capacity * 2;
    uint32_t *slots = calloc (capacity, sizeof (uint32_t));
    if (!slots)
        return -1;
    for (size_t id = 0; id < self->size; id++) {
        size_t pos = (size_t) self->hashes [id] & (capacity - 1);
        while (slots [pos])
            pos = (pos + 1) & (capacity - 1);
        slots [pos] = (uint32_t) id + 1;
    }
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

//  Id of the string or -1.
int64_t
wp_eval_strmap_lookup (wp_eval_strmap_t *self, const char *str, size_t len)
{
    uint64_t hash = s_hash (str, len);
    size_t pos = s_find (self, str, len, hash);
    return self->slots [pos]? (int64_t) self->slots [pos] - 1: -1;
}

//  Id of the string, interning it if new.
int64_t
wp_eval_strmap_intern (wp_eval_strmap_t *self, const char *str, size_t len,
                       int *added)
{
    uint64_t hash = s_hash (str, len);
    size_t pos = s_find (self, str, len, hash);
    if (added)
        *added = 0;
    if (self->slots [pos])
        return (int64_t) self->slots [pos] - 1;
    if (self->size >= UINT32_MAX - 1)
        return -1;
    if (self->size == self->names_cap) {
        size_t cap = self->names_cap? self->names_cap * 2: 64;
        char **names = realloc (self->names, cap * sizeof (char *));
        if (!names)
            return -1;
        self->names = names;
        uint64_t *hashes = realloc (self->hashes, cap * sizeof (uint64_t));
        if (!hashes)
            return -1;
        self->hashes = hashes;
        self->names_cap = cap;
    }
    char *copy = malloc (len + 1);
    if (!copy)
        return -1;
    memcpy (copy, str, len);
    copy [len] = 0;
    size_t id = self->size++;
    self->names [id] = copy;
    self->hashes [id] = hash;
    self->slots [pos] = (uint32_t) id + 1;
    self->string_bytes += len + 1;
    if (added)
        *added = 1;
    if (self->size * 2 > self->capacity && s_grow (self))
        return -1;
    return (int64_t) id;
}

//  Number of distinct strings.
size_t
wp_eval_strmap_size (wp_eval_strmap_t *self)
{
    return self->size;
}

//  The string with this id.
const char *
wp_eval_strmap_name (wp_eval_strmap_t *self, size_t id)
{
    return id < self->size? self->names [id]: NULL;
}

//  Bytes of memory the map holds.
size_t
wp_eval_strmap_bytes (wp_eval_strmap_t *self)
{
    return sizeof (*self) + self->capacity * sizeof (uint32_t)
         + self->names_cap * (sizeof (char *) + sizeof (uint64_t)) + self->string_bytes;
}
