/*  =========================================================================
    wp_analyzer - UsagePatternAnalyzer core.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_analyzer.h"
#include "wp_util.h"

#define NONE UINT32_MAX
#define MODEL_NAME_MAX 255
#define EVICT_SAMPLE 8

//  Pair record layout (big-endian): count u64, first u64, last u64,
//  gap_mean f64, gap_m2 f64, decayed count f64, decayed-at u64.
#define PAIR_RECORD_SIZE 56
//  Model record: count u64, last u64.
#define MODEL_RECORD_SIZE 16

//  One (user, model) pair.
typedef struct {
    uint64_t user;          //  user hash
    uint32_t model;         //  model id
    uint32_t user_slot;     //  index of the user in users[]
    uint64_t count;         //  requests
    uint64_t first_ms;      //  first request
    uint64_t last_ms;       //  last request
    double gap_mean;        //  Welford mean of gaps, ms
    double gap_m2;          //  Welford sum of squared deviations
    double decayed;         //  exponentially decayed request count
    uint64_t decayed_at;    //  time decayed was last brought up to date
    bool used;              //  slot holds a pair
    bool dirty;             //  changed since the last drain
} pair_t;

//  One user: their pairs, most recently used first.
typedef struct {
    uint64_t hash;                              //  user hash
    uint8_t n;                                  //  pairs in list
    bool used;                                  //  slot holds a user
    uint32_t list [WP_ANALYZER_USER_MODELS_MAX];//  pair indices
} user_t;

//  One model.
typedef struct {
    char *name;             //  owned
    uint64_t count;         //  all users' requests
    uint64_t last_ms;       //  last request
    bool dirty;             //  changed since the last drain
} model_t;

//  An open-addressing table of slab indices (linear probing, backward
//  shift deletion). Slots hold index+1; 0 is empty.
typedef struct {
    uint32_t *slots;
    uint32_t mask;
} itab_t;

//  A deleted pair waiting to be drained.
typedef struct {
    uint64_t user;
    uint32_t model;
} deleted_t;

struct _wp_analyzer_t {
    wp_analyzer_opts_t opts;    //  effective options
    double tau_ms;              //  decay time constant of the rate, ms
    pair_t *pairs;              //  pair slab
    uint32_t pairs_cap;         //  slab size (max_pairs)
    uint32_t pairs_used;        //  live pairs
    uint32_t *pair_free;        //  free slab indices (stack)
    uint32_t pair_free_n;
    uint32_t pairs_top;         //  slab indices below this were handed out
    itab_t pair_index;          //  (user, model) -> pair
    user_t *users;              //  user slab (same capacity as pairs)
    uint32_t users_used;
    uint32_t *user_free;
    uint32_t user_free_n;
    uint32_t users_top;
    itab_t user_index;          //  user hash -> user
    model_t *models;            //  models by id
    uint32_t n_models, models_cap;
    zhashx_t *model_ids;        //  name -> id + 1
    deleted_t *deleted;         //  evicted pairs to delete in the store
    size_t n_deleted, deleted_cap;
    uint32_t *dirty;            //  pairs changed since the last drain (may
                                //  repeat or be stale: drain checks the flag)
    uint32_t n_dirty, dirty_cap;
    uint32_t evict_cursor;      //  where the eviction sample starts
    uint64_t evicted;           //  pairs evicted
};

//  Mix a 64-bit value (splitmix64 finaliser).
static inline uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

//  Hash of a pair key.
static inline uint64_t
s_pair_hash (uint64_t user, uint32_t model)
{
    return s_mix (user ^ ((uint64_t) model * 0x9e3779b97f4a7c15ULL));
}

//  Create a table with room for capacity entries at load <= 1/2.
static void
s_itab_init (itab_t *t, uint32_t capacity)
{
    uint32_t size = 16;
    while (size < capacity * 2)
        size *= 2;
    t->slots = (uint32_t *) calloc (size, sizeof (uint32_t));
    assert (t->slots);
    t->mask = size - 1;
}

//  Pair lookup: returns the slot of the pair, or of the empty slot where
//  it would go (check slots[i] == 0).
static uint32_t
s_pair_slot (wp_analyzer_t *self, uint64_t user, uint32_t model)
{
    itab_t *t = &self->pair_index;
    uint32_t i = (uint32_t) s_pair_hash (user, model) & t->mask;
    while (t->slots [i]) {
        pair_t *p = &self->pairs [t->slots [i] - 1];
        if (p->user == user && p->model == model)
            return i;
        i = (i + 1) & t->mask;
    }
    return i;
}

//  User lookup, the same way.
static uint32_t
s_user_slot (wp_analyzer_t *self, uint64_t hash)
{
    itab_t *t = &self->user_index;
    uint32_t i = (uint32_t) s_mix (hash) & t->mask;
    while (t->slots [i]) {
        if (self->users [t->slots [i] - 1].hash == hash)
            return i;
        i = (i + 1) & t->mask;
    }
    return i;
}

//  Remove slot i of a table, shifting later entries of the probe run back.
//  home(entry) gives an entry's preferred slot.
static void
s_itab_remove (wp_analyzer_t *self, itab_t *t, uint32_t i, bool pairs)
{
    t->slots [i] = 0;
    uint32_t j = i;
    while (true) {
        j = (j + 1) & t->mask;
        if (!t->slots [j])
            break;
        uint32_t index = t->slots [j] - 1;
        uint32_t home = pairs
            ? (uint32_t) s_pair_hash (self->pairs [index].user, self->pairs [index].model) & t->mask
            : (uint32_t) s_mix (self->users [index].hash) & t->mask;
        //  Move entry j to the hole i if its home is not in (i, j].
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            t->slots [i] = t->slots [j];
            t->slots [j] = 0;
            i = j;
        }
    }
}

//  Create an analyzer.
wp_analyzer_t *
wp_analyzer_new (const wp_analyzer_opts_t *opts)
{
    wp_analyzer_t *self = (wp_analyzer_t *) zmalloc (sizeof (wp_analyzer_t));
    assert (self);
    if (opts)
        self->opts = *opts;
    if (!self->opts.max_pairs)
        self->opts.max_pairs = 1000000;
    if (!self->opts.max_user_models)
        self->opts.max_user_models = 16;
    if (self->opts.max_user_models > WP_ANALYZER_USER_MODELS_MAX)
        self->opts.max_user_models = WP_ANALYZER_USER_MODELS_MAX;
    if (!self->opts.rate_half_life_s)
        self->opts.rate_half_life_s = 3600;
    self->tau_ms = self->opts.rate_half_life_s * 1000.0 / M_LN2;
    self->pairs_cap = self->opts.max_pairs;
    //  Slabs grow on demand; tables are sized for the bound up front only
    //  when it is small, else they grow with the slabs.
    self->pairs = NULL;
    self->users = NULL;
    s_itab_init (&self->pair_index, 64);
    s_itab_init (&self->user_index, 64);
    self->model_ids = zhashx_new ();
    return self;
}

//  Destroy.
void
wp_analyzer_destroy (wp_analyzer_t **self_p)
{
    assert (self_p);
    wp_analyzer_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->n_models; i++)
        free (self->models [i].name);
    free (self->models);
    zhashx_destroy (&self->model_ids);
    free (self->pairs);
    free (self->pair_free);
    free (self->users);
    free (self->user_free);
    free (self->pair_index.slots);
    free (self->user_index.slots);
    free (self->deleted);
    free (self->dirty);
    free (self);
    *self_p = NULL;
}

//  Rebuild a table at twice the size.
static void
s_itab_grow (wp_analyzer_t *self, itab_t *t, bool pairs)
{
    uint32_t old_size = t->mask + 1;
    uint32_t *old = t->slots;
    t->slots = (uint32_t *) calloc ((size_t) old_size * 2, sizeof (uint32_t));
    assert (t->slots);
    t->mask = old_size * 2 - 1;
    for (uint32_t i = 0; i < old_size; i++) {
        if (!old [i])
            continue;
        uint32_t index = old [i] - 1;
        uint32_t j = pairs
            ? s_pair_slot (self, self->pairs [index].user, self->pairs [index].model)
            : s_user_slot (self, self->users [index].hash);
        t->slots [j] = old [i];
    }
    free (old);
}

//  Id of a model, creating it. Returns NONE for a bad name.
static uint32_t
s_model_id (wp_analyzer_t *self, const char *name, bool create)
{
    void *found = zhashx_lookup (self->model_ids, name);
    if (found)
        return (uint32_t) (uintptr_t) found - 1;
    size_t len = strlen (name);
    if (!create || len == 0 || len > MODEL_NAME_MAX)
        return NONE;
    if (self->n_models == self->models_cap) {
        self->models_cap = self->models_cap ? self->models_cap * 2 : 16;
        self->models = (model_t *) realloc (self->models,
                                            self->models_cap * sizeof (model_t));
        assert (self->models);
    }
    model_t *model = &self->models [self->n_models];
    memset (model, 0, sizeof *model);
    model->name = strdup (name);
    assert (model->name);
    zhashx_insert (self->model_ids, name, (void *) (uintptr_t) (self->n_models + 1));
    return self->n_models++;
}

//  Grow a slab of `size`-byte items to hold one more at index top.
static void *
s_slab_reserve (void *slab, uint32_t top, size_t size)
{
    //  Capacity is 64, then doubles each time it is reached.
    uint32_t capacity;
    if (top == 0)
        capacity = 64;
    else
    if (top >= 64 && (top & (top - 1)) == 0)
        capacity = top * 2;
    else
        return slab;
    void *grown = realloc (slab, (size_t) capacity * size);
    assert (grown);
    return grown;
}

//  Remove pair index p from its user's list.
static void
s_user_unlink (wp_analyzer_t *self, uint32_t p)
{
    user_t *user = &self->users [self->pairs [p].user_slot];
    for (uint8_t i = 0; i < user->n; i++)
        if (user->list [i] == p) {
            memmove (&user->list [i], &user->list [i + 1],
                     (size_t) (user->n - i - 1) * sizeof (uint32_t));
            user->n--;
            break;
        }
    if (user->n == 0) {
        uint32_t index = self->pairs [p].user_slot;
        s_itab_remove (self, &self->user_index, s_user_slot (self, user->hash), false);
        user->used = false;
        self->users_used--;
        self->user_free = (uint32_t *) realloc (self->user_free,
                                                (self->user_free_n + 1) * sizeof (uint32_t));
        assert (self->user_free);
        self->user_free [self->user_free_n++] = index;
    }
}

//  Evict pair index p (to a delete record).
static void
s_evict (wp_analyzer_t *self, uint32_t p)
{
    pair_t *pair = &self->pairs [p];
    if (self->n_deleted == self->deleted_cap) {
        self->deleted_cap = self->deleted_cap ? self->deleted_cap * 2 : 64;
        self->deleted = (deleted_t *) realloc (self->deleted,
                                               self->deleted_cap * sizeof (deleted_t));
        assert (self->deleted);
    }
    self->deleted [self->n_deleted].user = pair->user;
    self->deleted [self->n_deleted].model = pair->model;
    self->n_deleted++;
    s_user_unlink (self, p);
    s_itab_remove (self, &self->pair_index, s_pair_slot (self, pair->user, pair->model), true);
    pair->used = false;
    self->pairs_used--;
    self->pair_free = (uint32_t *) realloc (self->pair_free,
                                            (self->pair_free_n + 1) * sizeof (uint32_t));
    assert (self->pair_free);
    self->pair_free [self->pair_free_n++] = p;
    self->evicted++;
}

//  Evict the least recently used pair of a small sample.
static void
s_evict_sampled (wp_analyzer_t *self)
{
    uint32_t best = NONE;
    uint32_t seen = 0;
    for (uint32_t tries = 0; tries < self->pairs_top && seen < EVICT_SAMPLE; tries++) {
        uint32_t p = self->evict_cursor++ % self->pairs_top;
        if (!self->pairs [p].used)
            continue;
        seen++;
        if (best == NONE || self->pairs [p].last_ms < self->pairs [best].last_ms)
            best = p;
    }
    assert (best != NONE);
    s_evict (self, best);
}

//  Find or create the user; returns its slab index.
static uint32_t
s_user (wp_analyzer_t *self, uint64_t hash)
{
    uint32_t slot = s_user_slot (self, hash);
    if (self->user_index.slots [slot])
        return self->user_index.slots [slot] - 1;
    uint32_t index;
    if (self->user_free_n)
        index = self->user_free [--self->user_free_n];
    else {
        self->users = (user_t *) s_slab_reserve (self->users, self->users_top, sizeof (user_t));
        index = self->users_top++;
    }
    user_t *user = &self->users [index];
    memset (user, 0, sizeof *user);
    user->hash = hash;
    user->used = true;
    self->users_used++;
    self->user_index.slots [slot] = index + 1;
    if (self->users_used * 2 > self->user_index.mask)
        s_itab_grow (self, &self->user_index, false);
    return index;
}

//  Find or create the pair, moving it to the front of its user's list.
static uint32_t
s_pair (wp_analyzer_t *self, uint64_t hash, uint32_t model)
{
    uint32_t slot = s_pair_slot (self, hash, model);
    uint32_t p;
    if (self->pair_index.slots [slot])
        p = self->pair_index.slots [slot] - 1;
    else {
        if (self->pairs_used >= self->pairs_cap) {
            s_evict_sampled (self);
            slot = s_pair_slot (self, hash, model);
        }
        uint32_t u = s_user (self, hash);
        //  The user's own bound: drop their least recently used model.
        if (self->users [u].n >= self->opts.max_user_models) {
            s_evict (self, self->users [u].list [self->users [u].n - 1]);
            u = s_user (self, hash);
            slot = s_pair_slot (self, hash, model);
        }
        if (self->pair_free_n)
            p = self->pair_free [--self->pair_free_n];
        else {
            self->pairs = (pair_t *) s_slab_reserve (self->pairs, self->pairs_top, sizeof (pair_t));
            p = self->pairs_top++;
        }
        pair_t *pair = &self->pairs [p];
        memset (pair, 0, sizeof *pair);
        pair->user = hash;
        pair->model = model;
        pair->user_slot = u;
        pair->used = true;
        self->pairs_used++;
        self->pair_index.slots [slot] = p + 1;
        if (self->pairs_used * 2 > self->pair_index.mask)
            s_itab_grow (self, &self->pair_index, true);
        user_t *user = &self->users [u];
        memmove (&user->list [1], &user->list [0], user->n * sizeof (uint32_t));
        user->list [0] = p;
        user->n++;
        return p;
    }
    //  Move to the front of the user's list.
    user_t *user = &self->users [self->pairs [p].user_slot];
    for (uint8_t i = 0; i < user->n; i++)
        if (user->list [i] == p) {
            memmove (&user->list [1], &user->list [0], i * sizeof (uint32_t));
            user->list [0] = p;
            break;
        }
    return p;
}

//  Mark pair p changed, once until the next drain.
static void
s_mark_dirty (wp_analyzer_t *self, uint32_t p)
{
    if (self->pairs [p].dirty)
        return;
    self->pairs [p].dirty = true;
    if (self->n_dirty == self->dirty_cap) {
        self->dirty_cap = self->dirty_cap ? self->dirty_cap * 2 : 1024;
        self->dirty = (uint32_t *) realloc (self->dirty, self->dirty_cap * sizeof (uint32_t));
        assert (self->dirty);
    }
    self->dirty [self->n_dirty++] = p;
}

//  Bring a pair's decayed count up to time now.
static double
s_decayed (wp_analyzer_t *self, const pair_t *pair, uint64_t now_ms)
{
    if (now_ms <= pair->decayed_at)
        return pair->decayed;
    return pair->decayed * exp (-(double) (now_ms - pair->decayed_at) / self->tau_ms);
}

//  Learn one request.
int
wp_analyzer_observe (wp_analyzer_t *self, uint64_t user_hash, const char *model,
                     uint64_t now_ms)
{
    assert (self && model);
    uint32_t id = s_model_id (self, model, true);
    if (id == NONE)
        return -1;
    model_t *m = &self->models [id];
    m->count++;
    if (now_ms > m->last_ms)
        m->last_ms = now_ms;
    m->dirty = true;

    uint32_t index = s_pair (self, user_hash, id);     //  may move the slab
    pair_t *pair = &self->pairs [index];
    if (pair->count == 0)
        pair->first_ms = now_ms;
    else {
        //  Out-of-order events count, but do not make a gap.
        double gap = now_ms > pair->last_ms ? (double) (now_ms - pair->last_ms) : 0;
        double n = (double) pair->count;   //  gaps so far + 1
        double delta = gap - pair->gap_mean;
        pair->gap_mean += delta / n;
        pair->gap_m2 += delta * (gap - pair->gap_mean);
    }
    pair->count++;
    if (now_ms < pair->first_ms)
        pair->first_ms = now_ms;
    if (now_ms >= pair->decayed_at) {
        pair->decayed = s_decayed (self, pair, now_ms) + 1.0;
        pair->decayed_at = now_ms;
    }
    else    //  A late event counts as decayed as it would be by now.
        pair->decayed += exp (-(double) (pair->decayed_at - now_ms) / self->tau_ms);
    if (now_ms > pair->last_ms)
        pair->last_ms = now_ms;
    s_mark_dirty (self, index);
    return 0;
}

//  Fill a pattern entry from a pair.
static void
s_fill (wp_analyzer_t *self, const pair_t *pair, uint64_t now_ms, wp_pattern_t *out)
{
    const model_t *model = &self->models [pair->model];
    out->model = model->name;
    out->model_id = pair->model;
    out->count = pair->count;
    out->first_ms = pair->first_ms;
    out->last_ms = pair->last_ms;
    out->gap_mean_ms = pair->count >= 2 ? pair->gap_mean : 0;
    out->gap_std_ms = pair->count >= 3 ? sqrt (pair->gap_m2 / (double) (pair->count - 1)) : 0;
    out->model_count = model->count;
    out->rate_per_h = s_decayed (self, pair, now_ms) / (self->tau_ms / 3600000.0);
}

//  The user's models, most recent first.
size_t
wp_analyzer_pattern (wp_analyzer_t *self, uint64_t user_hash, uint64_t now_ms,
                     wp_pattern_t *out, size_t capacity)
{
    assert (self && out);
    uint32_t slot = s_user_slot (self, user_hash);
    if (!self->user_index.slots [slot])
        return 0;
    const user_t *user = &self->users [self->user_index.slots [slot] - 1];
    size_t n = 0;
    for (uint8_t i = 0; i < user->n && n < capacity; i++)
        s_fill (self, &self->pairs [user->list [i]], now_ms, &out [n++]);
    return n;
}

//  One pair.
bool
wp_analyzer_pair (wp_analyzer_t *self, uint64_t user_hash, const char *model,
                  uint64_t now_ms, wp_pattern_t *out)
{
    assert (self && model && out);
    uint32_t id = s_model_id (self, model, false);
    if (id == NONE)
        return false;
    uint32_t slot = s_pair_slot (self, user_hash, id);
    if (!self->pair_index.slots [slot])
        return false;
    s_fill (self, &self->pairs [self->pair_index.slots [slot] - 1], now_ms, out);
    return true;
}

//  All users' requests for a model.
uint64_t
wp_analyzer_model_count (wp_analyzer_t *self, const char *model)
{
    uint32_t id = s_model_id (self, model, false);
    return id == NONE ? 0 : self->models [id].count;
}

//  Counts.
size_t
wp_analyzer_pairs (wp_analyzer_t *self)
{
    return self->pairs_used;
}

size_t
wp_analyzer_users (wp_analyzer_t *self)
{
    return self->users_used;
}

size_t
wp_analyzer_models (wp_analyzer_t *self)
{
    return self->n_models;
}

uint64_t
wp_analyzer_evicted (wp_analyzer_t *self)
{
    return self->evicted;
}

//  Bytes held by the tables (capacity, not just use).
size_t
wp_analyzer_state_bytes (wp_analyzer_t *self)
{
    size_t bytes = sizeof *self;
    uint32_t pair_cap = self->pairs_top ? 64 : 0, user_cap = self->users_top ? 64 : 0;
    while (pair_cap && pair_cap < self->pairs_top)
        pair_cap *= 2;
    while (user_cap && user_cap < self->users_top)
        user_cap *= 2;
    bytes += (size_t) pair_cap * sizeof (pair_t) + (size_t) user_cap * sizeof (user_t);
    bytes += ((size_t) self->pair_index.mask + 1 + self->user_index.mask + 1) * sizeof (uint32_t);
    bytes += (size_t) self->models_cap * sizeof (model_t);
    for (uint32_t i = 0; i < self->n_models; i++)
        bytes += strlen (self->models [i].name) + 1 + 64;   //  name + hash entry
    bytes += (self->pair_free_n + self->user_free_n) * sizeof (uint32_t);
    bytes += (size_t) self->dirty_cap * sizeof (uint32_t);
    return bytes;
}

//  Key of a pair record: user hash (8 bytes, big-endian) + model name.
static size_t
s_pair_key (wp_analyzer_t *self, uint64_t user, uint32_t model, uint8_t *key)
{
    wp_put_u64 (key, user);
    size_t len = strlen (self->models [model].name);
    memcpy (key + 8, self->models [model].name, len);
    return 8 + len;
}

//  Hand changed records to fn.
int
wp_analyzer_drain (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg)
{
    assert (self && fn);
    uint8_t key [8 + MODEL_NAME_MAX];
    uint8_t value [PAIR_RECORD_SIZE];
    int handed = 0;
    while (self->n_deleted) {
        deleted_t *d = &self->deleted [self->n_deleted - 1];
        size_t len = s_pair_key (self, d->user, d->model, key);
        if (fn ("pairs", key, len, NULL, 0, arg))
            return -1;
        self->n_deleted--;
        handed++;
    }
    while (self->n_dirty) {
        uint32_t p = self->dirty [self->n_dirty - 1];
        pair_t *pair = &self->pairs [p];
        if (!pair->used || !pair->dirty) {
            self->n_dirty--;
            continue;
        }
        size_t len = s_pair_key (self, pair->user, pair->model, key);
        wp_put_u64 (value, pair->count);
        wp_put_u64 (value + 8, pair->first_ms);
        wp_put_u64 (value + 16, pair->last_ms);
        wp_put_f64 (value + 24, pair->gap_mean);
        wp_put_f64 (value + 32, pair->gap_m2);
        wp_put_f64 (value + 40, pair->decayed);
        wp_put_u64 (value + 48, pair->decayed_at);
        if (fn ("pairs", key, len, value, PAIR_RECORD_SIZE, arg))
            return -1;
        pair->dirty = false;
        self->n_dirty--;
        handed++;
    }
    for (uint32_t m = 0; m < self->n_models; m++) {
        model_t *model = &self->models [m];
        if (!model->dirty)
            continue;
        wp_put_u64 (value, model->count);
        wp_put_u64 (value + 8, model->last_ms);
        if (fn ("models", model->name, strlen (model->name), value,
                MODEL_RECORD_SIZE, arg))
            return -1;
        model->dirty = false;
        handed++;
    }
    return handed;
}

//  Load one persisted record.
int
wp_analyzer_load (wp_analyzer_t *self, const char *db, const void *key,
                  size_t key_len, const void *value, size_t value_len)
{
    assert (self && db && key && value);
    const uint8_t *v = (const uint8_t *) value;
    char name [MODEL_NAME_MAX + 1];
    if (streq (db, "models")) {
        if (value_len != MODEL_RECORD_SIZE || key_len == 0 || key_len > MODEL_NAME_MAX)
            return -1;
        memcpy (name, key, key_len);
        name [key_len] = 0;
        if (strlen (name) != key_len)
            return -1;
        uint32_t id = s_model_id (self, name, true);
        self->models [id].count = wp_get_u64 (v);
        self->models [id].last_ms = wp_get_u64 (v + 8);
        return 0;
    }
    if (!streq (db, "pairs") || value_len != PAIR_RECORD_SIZE
        || key_len <= 8 || key_len > 8 + MODEL_NAME_MAX)
        return -1;
    const uint8_t *k = (const uint8_t *) key;
    memcpy (name, k + 8, key_len - 8);
    name [key_len - 8] = 0;
    if (strlen (name) != key_len - 8)
        return -1;
    double gap_mean = wp_get_f64 (v + 24), gap_m2 = wp_get_f64 (v + 32);
    double decayed = wp_get_f64 (v + 40);
    uint64_t count = wp_get_u64 (v);
    if (count == 0 || !isfinite (gap_mean) || !isfinite (gap_m2) || !isfinite (decayed)
        || gap_mean < 0 || gap_m2 < 0 || decayed < 0)
        return -1;
    uint32_t id = s_model_id (self, name, true);
    uint32_t index = s_pair (self, wp_get_u64 (k), id);    //  may move the slab
    pair_t *pair = &self->pairs [index];
    pair->count = count;
    pair->first_ms = wp_get_u64 (v + 8);
    pair->last_ms = wp_get_u64 (v + 16);
    pair->gap_mean = gap_mean;
    pair->gap_m2 = gap_m2;
    pair->decayed = decayed;
    pair->decayed_at = wp_get_u64 (v + 48);
    pair->dirty = false;
    //  Keep the user's list most recent first (records load in key order).
    user_t *user = &self->users [pair->user_slot];
    for (uint8_t i = 0; i + 1 < user->n; i++) {
        if (self->pairs [user->list [i]].last_ms >= self->pairs [user->list [i + 1]].last_ms)
            break;
        uint32_t swap = user->list [i];
        user->list [i] = user->list [i + 1];
        user->list [i + 1] = swap;
    }
    return 0;
}
