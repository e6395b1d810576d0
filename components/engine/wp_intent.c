/*  =========================================================================
    wp_intent - the engine's intent learning.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_intent.h"
#include "wp_names.h"
#include "wp_util.h"

//  Contexts (kind, language) per user, models per context, leads per model.
#define CONTEXTS 4
#define MODELS 4
#define LEADS 4
//  What a context learned fades by this per intent of it: about the last
//  five intents count (an intent never followed any more stops warming
//  after a few).
#define FADE 0.8
//  The prior weighs as this many intents.
#define PRIOR_WEIGHT 1.0
//  Prior chance of the model an intent names as a hint.
#define HINT_PRIOR 0.5
//  A window holds past the longest lead by a quarter of it, at least this.
#define TAIL_SHARE 0.25
#define TAIL_MIN_MS 2000.0
//  Model names at most, and how many of them hints may add.
#define NAMES_MAX 16384
#define HINT_NAMES_MAX (NAMES_MAX / 2)
#define TABLE_MIN 16            //  smallest user table, slots
#define EVICT_PROBES 8          //  slots looked at for the least recently active

//  A model that followed a context's intents.
typedef struct {
    uint32_t name;              //  id in names + 1 (0: empty)
    float hits;                 //  faded requests within the horizon of an intent
    uint32_t leads [LEADS];     //  the last leads (request - intent), ms
    uint8_t n_leads, at;        //  leads held, next slot
    uint32_t keep_ms;           //  the engine's keep after last_ms, ms
    uint64_t last_ms;           //  the user's latest request of it seen (0: none)
} model_t;

//  One (kind, language) context of a user.
typedef struct {
    uint64_t key;               //  hash of kind and language (0: empty)
    uint64_t pending_ms;        //  the latest intent
    float intents;              //  faded intents counted (the latest included)
    uint8_t followed;           //  bit m: models [m] was asked after it
    model_t models [MODELS];
} context_t;

//  What is learned of one user.
typedef struct {
    uint64_t user;              //  the user's hash
    uint64_t seen_ms;           //  latest intent or request
    bool used;                  //  slot in use
    context_t contexts [CONTEXTS];
} user_t;

struct _wp_intent_t {
    double horizon_ms;          //  a request follows an intent within this
    uint32_t max_users;         //  users at most
    user_t *users;              //  open addressing by wp_mix64 (user), linear
    uint32_t mask;              //  probing, at most 3/4 full
    uint32_t count;             //  users held
    wp_names_t *names;          //  model names (ids + 1 in model_t.name)
    uint32_t hint_names;        //  names hints added
    uint64_t signals;           //  intents learned
    uint64_t warming;           //  ... that warmed something
};

//  Create.
wp_intent_t *
wp_intent_new (const wp_intent_opts_t *opts)
{
    wp_intent_t *self = (wp_intent_t *) zmalloc (sizeof (wp_intent_t));
    if (!self)
        return NULL;
    uint32_t horizon_s = opts && opts->horizon_s ? opts->horizon_s : 300;
    self->horizon_ms = horizon_s * 1000.0;
    self->max_users = opts && opts->max_users ? opts->max_users : 100000;
    self->mask = TABLE_MIN - 1;
    self->users = (user_t *) calloc (TABLE_MIN, sizeof (user_t));
    self->names = wp_names_new ();
    if (!self->users || !self->names)
        wp_intent_destroy (&self);
    return self;
}

//  Destroy.
void
wp_intent_destroy (wp_intent_t **self_p)
{
    assert (self_p);
    wp_intent_t *self = *self_p;
    if (!self)
        return;
    free (self->users);
    wp_names_destroy (&self->names);
    free (self);
    *self_p = NULL;
}

//  A usable optional text (language, model): up to limit bytes, no
//  control byte.
static bool
s_text_ok (const char *text, size_t limit)
{
    if (!text)
        return true;
    size_t length = strlen (text);
    if (length > limit)
        return false;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return false;
    return true;
}

//  The slot of a user (empty when not held).
static uint32_t
s_slot (wp_intent_t *self, uint64_t user)
{
    uint32_t i = (uint32_t) wp_mix64 (user) & self->mask;
    while (self->users [i].used && self->users [i].user != user)
        i = (i + 1) & self->mask;
    return i;
}

//  Remove the user in slot i (backward-shift deletion: every user stays
//  reachable from its home slot).
static void
s_remove (wp_intent_t *self, uint32_t i)
{
    uint32_t hole = i;
    uint32_t j = i;
    while (true) {
        j = (j + 1) & self->mask;
        if (!self->users [j].used)
            break;
        uint32_t home = (uint32_t) wp_mix64 (self->users [j].user) & self->mask;
        //  Move j into the hole unless its home lies cyclically in (hole, j].
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            self->users [hole] = self->users [j];
            hole = j;
        }
    }
    memset (&self->users [hole], 0, sizeof (user_t));
    self->count--;
}

//  Double the table.
static int
s_grow (wp_intent_t *self)
{
    uint32_t size = (self->mask + 1) * 2;
    user_t *old = self->users;
    uint32_t old_size = self->mask + 1;
    user_t *grown = (user_t *) calloc (size, sizeof (user_t));
    if (!grown)
        return -1;
    self->users = grown;
    self->mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++)
        if (old [i].used)
            self->users [s_slot (self, old [i].user)] = old [i];
    free (old);
    return 0;
}

//  The user's record, created (the least recently active of a few
//  forgotten when full) unless find_only. NULL when not held.
static user_t *
s_user (wp_intent_t *self, uint64_t user, bool find_only)
{
    uint32_t i = s_slot (self, user);
    if (self->users [i].used)
        return &self->users [i];
    if (find_only)
        return NULL;
    if (self->count >= self->max_users) {
        //  Forget the least recently active of the slots near its home.
        uint32_t victim = UINT32_MAX;
        uint32_t at = (uint32_t) wp_mix64 (user) & self->mask;
        for (uint32_t n = 0; n <= self->mask; n++) {
            uint32_t j = (at + n) & self->mask;
            if (self->users [j].used
                && (victim == UINT32_MAX
                    || self->users [j].seen_ms < self->users [victim].seen_ms))
                victim = j;
            if (victim != UINT32_MAX && n >= EVICT_PROBES)
                break;
        }
        s_remove (self, victim);
    }
    else
    if ((self->count + 1) * 4 > (self->mask + 1) * 3 && s_grow (self))
        return NULL;
    i = s_slot (self, user);
    memset (&self->users [i], 0, sizeof (user_t));
    self->users [i].used = true;
    self->users [i].user = user;
    self->count++;
    return &self->users [i];
}

//  Key of a (kind, language) context, never 0.
static uint64_t
s_context_key (const char *kind, const char *language)
{
    uint64_t key = wp_names_fnv1a (kind) * 31 + (language ? wp_names_fnv1a (language) : 0);
    key = wp_mix64 (key);
    return key ? key : 1;
}

//  The user's context for key, created in an empty slot or in place of
//  the one whose latest intent is oldest.
static context_t *
s_context (user_t *user, uint64_t key)
{
    context_t *victim = NULL;
    for (int c = 0; c < CONTEXTS; c++) {
        context_t *context = &user->contexts [c];
        if (context->key == key)
            return context;
        if (!victim || (victim->key && (!context->key
                                        || context->pending_ms < victim->pending_ms)))
            victim = context;
    }
    memset (victim, 0, sizeof *victim);
    victim->key = key;
    return victim;
}

//  The context's entry of a model (name id + 1), or NULL.
static model_t *
s_model_find (context_t *context, uint32_t name)
{
    for (int m = 0; m < MODELS; m++)
        if (context->models [m].name == name)
            return &context->models [m];
    return NULL;
}

//  The context's entry of a model, created in an empty slot or in place
//  of the one with the fewest hits (its followed bit cleared).
static model_t *
s_model (context_t *context, uint32_t name)
{
    model_t *found = s_model_find (context, name);
    if (found)
        return found;
    int low = 0;
    for (int m = 0; m < MODELS; m++) {
        if (!context->models [m].name) {
            low = m;
            break;
        }
        if (context->models [m].hits < context->models [low].hits)
            low = m;
    }
    memset (&context->models [low], 0, sizeof (model_t));
    context->models [low].name = name;
    context->followed &= (uint8_t) ~(1u << low);
    return &context->models [low];
}

//  Id + 1 of a model name, added when new and add allows (0: none).
static uint32_t
s_name (wp_intent_t *self, const char *model, bool add)
{
    uint32_t id = wp_names_find (self->names, model);
    if (id == WP_NAMES_NONE && add && wp_names_size (self->names) < NAMES_MAX)
        id = wp_names_add (self->names, model);
    return id == WP_NAMES_NONE ? 0 : id + 1;
}

//  A request.
int
wp_intent_request (wp_intent_t *self, uint64_t user_hash, const char *model,
                   uint64_t now_ms, uint64_t keep_until_ms)
{
    assert (self);
    if (!model || !*model || strlen (model) > WP_NAMES_LEN_MAX)
        return -1;
    user_t *user = s_user (self, user_hash, true);
    if (!user)
        return 0;                       //  no intents from this user
    if (now_ms > user->seen_ms)
        user->seen_ms = now_ms;
    uint32_t name = 0;
    for (int c = 0; c < CONTEXTS; c++) {
        context_t *context = &user->contexts [c];
        if (!context->key)
            continue;
        bool follows = context->pending_ms <= now_ms
                    && (double) (now_ms - context->pending_ms) <= self->horizon_ms
                    && context->intents > 0;
        if (!name)
            name = s_name (self, model, follows);
        if (!name)
            continue;
        model_t *entry = follows ? s_model (context, name) : s_model_find (context, name);
        if (!entry)
            continue;
        entry->last_ms = now_ms;
        uint64_t keep = keep_until_ms > now_ms ? keep_until_ms - now_ms : 0;
        entry->keep_ms = keep > UINT32_MAX ? UINT32_MAX : (uint32_t) keep;
        uint8_t bit = (uint8_t) (1u << (entry - context->models));
        if (follows && !(context->followed & bit)) {
            context->followed |= bit;
            entry->hits += 1;
            entry->leads [entry->at] = (uint32_t) (now_ms - context->pending_ms);
            entry->at = (uint8_t) ((entry->at + 1) % LEADS);
            if (entry->n_leads < LEADS)
                entry->n_leads++;
        }
    }
    return 0;
}

//  The window worth holding for one model of a context: offsets from the
//  intent (start, end), the expected share of the load saved, the median
//  lead. From the leads learned, or, for a hint alone, the horizon.
static void
s_window (wp_intent_t *self, const model_t *entry, double load_ms, double *start,
          double *end, double *share, double *median)
{
    if (!entry || entry->n_leads == 0) {
        *start = 0;
        *end = self->horizon_ms;
        *median = self->horizon_ms / 2;
        //  A lead uniform over the horizon: the load is saved but for the
        //  part of it a request sooner than the load still waits.
        double part = load_ms / (2 * self->horizon_ms);
        *share = part < 1 ? 1 - part : 0;
        return;
    }
    double sorted [LEADS];
    int n = entry->n_leads;
    for (int i = 0; i < n; i++) {
        double lead = entry->leads [i];
        int at = i;
        while (at > 0 && sorted [at - 1] > lead) {
            sorted [at] = sorted [at - 1];
            at--;
        }
        sorted [at] = lead;
    }
    double low = sorted [0], high = sorted [n - 1];
    *median = n % 2 ? sorted [n / 2] : (sorted [n / 2 - 1] + sorted [n / 2]) / 2;
    *start = low > load_ms ? low - load_ms : 0;
    double tail = high * TAIL_SHARE > TAIL_MIN_MS ? high * TAIL_SHARE : TAIL_MIN_MS;
    *end = high + tail < self->horizon_ms ? high + tail : self->horizon_ms;
    double saved = 0;
    for (int i = 0; i < n; i++) {
        double lead = sorted [i];
        if (lead >= *start + load_ms)
            saved += 1;
        else
        if (lead > *start && load_ms > 0)
            saved += (lead - *start) / load_ms;
    }
    *share = saved / n;
}

//  An intent.
int
wp_intent_signal (wp_intent_t *self, wp_engine_t *engine, uint64_t user_hash,
                  const wp_intent_sign_t *sign, uint64_t now_ms, wp_prediction_t *out,
                  size_t capacity)
{
    assert (self && engine && sign && (out || capacity == 0));
    const char *language = sign->language && *sign->language ? sign->language : NULL;
    const char *hint = sign->model && *sign->model ? sign->model : NULL;
    if (!wp_intent_kind_ok (sign->kind) || !s_text_ok (language, WP_INTENT_LANGUAGE_MAX)
        || !s_text_ok (hint, WP_NAMES_LEN_MAX))
        return -1;
    user_t *user = s_user (self, user_hash, false);
    if (!user)
        return 0;                       //  out of memory: learn nothing
    self->signals++;
    if (now_ms > user->seen_ms)
        user->seen_ms = now_ms;
    context_t *context = s_context (user, s_context_key (sign->kind, language));
    uint32_t hint_name = 0;
    if (hint) {
        bool add = self->hint_names < HINT_NAMES_MAX;
        uint32_t before = wp_names_size (self->names);
        hint_name = s_name (self, hint, add);
        if (wp_names_size (self->names) > before)
            self->hint_names++;
    }
    //  A hinted model new to the context starts at the hint's prior: as
    //  many hits as make it HINT_PRIOR now; they fade like any others.
    double before = context->intents;
    if (hint_name && !s_model_find (context, hint_name))
        s_model (context, hint_name)->hits = (float) (HINT_PRIOR * (before + PRIOR_WEIGHT));
    size_t n = 0;
    for (int m = 0; m < MODELS && n < capacity; m++) {
        model_t *entry = &context->models [m];
        if (!entry->name)
            continue;
        double p = entry->hits / (before + PRIOR_WEIGHT);
        p = p > 1 ? 1 : p;
        if (!(p > 0))
            continue;
        const char *name = wp_names_name (self->names, entry->name - 1);
        uint32_t load_ms, memory_mb;
        wp_engine_model_info (engine, name, &load_ms, &memory_mb);
        double break_even = wp_engine_break_even_ms (engine, load_ms, memory_mb);
        double start, end, share, median;
        s_window (self, entry, load_ms, &start, &end, &share, &median);
        //  Residency the window adds to what the engine's plan keeps.
        uint64_t keep_until = entry->last_ms ? entry->last_ms + entry->keep_ms : 0;
        uint64_t from = now_ms + (uint64_t) start;
        uint64_t until = now_ms + (uint64_t) end;
        if (keep_until > from)
            from = keep_until;
        if (from >= until)
            continue;                   //  held all along by the plan
        double value = p * share * break_even;
        if (!(value > (double) (until - from)))
            continue;
        wp_prediction_t *prediction = &out [n++];
        memset (prediction, 0, sizeof *prediction);
        prediction->model = name;
        prediction->probability = p;
        prediction->expected_in_ms = (uint64_t) median;
        prediction->confidence = before / (before + PRIOR_WEIGHT);
        prediction->keep_until_ms = keep_until > now_ms ? keep_until : 0;
        prediction->prewarm_at_ms = now_ms + (uint64_t) start;
        prediction->hold_until_ms = until;
        prediction->benefit_ms = share * load_ms;
        prediction->load_ms = load_ms;
        prediction->last_ms = entry->last_ms;
        prediction->category = WP_CATEGORY_INTENT;
    }
    //  Highest probability first.
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out [j].probability > out [j - 1].probability; j--) {
            wp_prediction_t swap = out [j];
            out [j] = out [j - 1];
            out [j - 1] = swap;
        }
    //  Learn the intent: what came before fades; its followers come next.
    context->intents = (float) (before * FADE + 1);
    for (int m = 0; m < MODELS; m++)
        context->models [m].hits *= (float) FADE;
    context->pending_ms = now_ms;
    context->followed = 0;
    if (n)
        self->warming++;
    return (int) n;
}

//  Counters.
uint64_t
wp_intent_signals (wp_intent_t *self, uint64_t *warming)
{
    assert (self);
    if (warming)
        *warming = self->warming;
    return self->signals;
}

//  Users held.
size_t
wp_intent_users (wp_intent_t *self)
{
    assert (self);
    return self->count;
}

//  Bytes held.
size_t
wp_intent_state_bytes (wp_intent_t *self)
{
    assert (self);
    return sizeof (*self) + (self->mask + 1) * sizeof (user_t) + wp_names_bytes (self->names);
}
