/*  =========================================================================
    wp_queue - the warmup queue core: which warm or cool task starts next.

    Each pending task sits in:
      * a FIFO list, oldest first (iteration, persistence);
      * the victim heap, over all pending tasks: lowest priority, then
        newest at the root (eviction when full);
      * the ready heap, over pending tasks whose model is not running:
        highest priority, then earliest deadline, then oldest at the root
        (wp_queue_next). A pending task whose model is running is parked
        outside it until that model's running task completes;
      * the pending hash, model -> task.
    Running tasks sit in an array in start order and in the running hash.
    The hashes borrow the model string of the task as key.
    =========================================================================
*/

#include "wp_queue.h"
#include <czmq.h>

//  Longest model name the queue accepts, in bytes.
#define WP_QUEUE_MODEL_MAX 255

//  Heap slots in an entry.
#define S_READY  0
#define S_VICTIM 1

//  Not in a heap.
#define S_NOWHERE SIZE_MAX

//  A task in the queue. The task must stay the first field: the entry is
//  handed to the caller as a wp_queue_task_t * and freed through it.
typedef struct _s_entry_t {
    wp_queue_task_t task;       // the task as the caller sees it
    uint64_t seq;               // push order: FIFO among equals
    size_t heap_index [2];      // position in the ready and victim heaps
    struct _s_entry_t *prev;    // previous pending task (older), or NULL
    struct _s_entry_t *next;    // next pending task (newer), or NULL
} s_entry_t;

//  True when a should be nearer the root of the heap than b.
typedef bool (s_before_fn) (const s_entry_t *a, const s_entry_t *b);

//  A binary heap of entries that keeps each entry's index up to date.
typedef struct {
    s_entry_t **items;          // the heap array, root first
    size_t size;                // entries in it
    int slot;                   // which heap_index of an entry it maintains
    s_before_fn *before;        // its ordering
} s_heap_t;

//  Structure of our class
struct _wp_queue_t {
    size_t max_size;            // most pending tasks
    size_t max_running;         // most running tasks
    uint64_t timeout_ms;        // running time limit, 0 = none
    uint64_t seq;               // last push order number given
    s_heap_t ready;             // startable pending tasks, next first
    s_heap_t victims;           // all pending tasks, eviction victim first
    s_entry_t *oldest;          // pending FIFO list head
    s_entry_t *newest;          // pending FIFO list tail
    zhashx_t *pending_by_model; // model -> pending entry
    zhashx_t *running_by_model; // model -> running entry
    s_entry_t **running;        // running tasks, oldest start first
    size_t running_count;       // entries in running
    uint64_t dropped;           // refused or evicted because full
    uint64_t evicted;           // evicted by a higher priority task
    uint64_t merged;            // pushes merged into a pending task
    uint64_t cancelled;         // pending tasks cancelled by a push
};

//  Deadline as a sort key: none sorts after every real deadline.
static uint64_t
s_deadline_key (const s_entry_t *entry)
{
    return entry->task.deadline_ms ? entry->task.deadline_ms : UINT64_MAX;
}

//  Ready heap order: higher priority, then earlier deadline, then older.
static bool
s_ready_before (const s_entry_t *a, const s_entry_t *b)
{
    if (a->task.priority != b->task.priority)
        return a->task.priority > b->task.priority;
    if (s_deadline_key (a) != s_deadline_key (b))
        return s_deadline_key (a) < s_deadline_key (b);
    return a->seq < b->seq;
}

//  Victim heap order: lower priority, then newer.
static bool
s_victim_before (const s_entry_t *a, const s_entry_t *b)
{
    if (a->task.priority != b->task.priority)
        return a->task.priority < b->task.priority;
    return a->seq > b->seq;
}

//  Put entry at position index of the heap and record the position.
static void
s_heap_place (s_heap_t *heap, size_t index, s_entry_t *entry)
{
    heap->items [index] = entry;
    entry->heap_index [heap->slot] = index;
}

//  Move the entry at index towards the root while it goes before its
//  parent.
static void
s_heap_up (s_heap_t *heap, size_t index)
{
    s_entry_t *entry = heap->items [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!heap->before (entry, heap->items [parent]))
            break;
        s_heap_place (heap, index, heap->items [parent]);
        index = parent;
    }
    s_heap_place (heap, index, entry);
}

//  Move the entry at index towards the leaves while a child goes before it.
static void
s_heap_down (s_heap_t *heap, size_t index)
{
    s_entry_t *entry = heap->items [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= heap->size)
            break;
        if (child + 1 < heap->size
        &&  heap->before (heap->items [child + 1], heap->items [child]))
            child++;
        if (!heap->before (heap->items [child], entry))
            break;
        s_heap_place (heap, index, heap->items [child]);
        index = child;
    }
    s_heap_place (heap, index, entry);
}

//  Add an entry; the array has room for it (its size is max_size).
static void
s_heap_insert (s_heap_t *heap, s_entry_t *entry)
{
    s_heap_place (heap, heap->size++, entry);
    s_heap_up (heap, heap->size - 1);
}

//  Take an entry out of the heap, wherever it is.
static void
s_heap_remove (s_heap_t *heap, s_entry_t *entry)
{
    size_t index = entry->heap_index [heap->slot];
    assert (index < heap->size && heap->items [index] == entry);
    entry->heap_index [heap->slot] = S_NOWHERE;
    s_entry_t *last = heap->items [--heap->size];
    if (last != entry) {
        s_heap_place (heap, index, last);
        s_heap_up (heap, index);
        s_heap_down (heap, last->heap_index [heap->slot]);
    }
}

//  Restore the order after the entry's keys changed.
static void
s_heap_update (s_heap_t *heap, s_entry_t *entry)
{
    size_t index = entry->heap_index [heap->slot];
    if (index == S_NOWHERE)
        return;
    s_heap_up (heap, index);
    s_heap_down (heap, entry->heap_index [heap->slot]);
}

//  Make a hash that borrows its keys (the entries' model names).
static zhashx_t *
s_hash_new (void)
{
    zhashx_t *hash = zhashx_new ();
    if (hash) {
        zhashx_set_key_duplicator (hash, NULL);
        zhashx_set_key_destructor (hash, NULL);
    }
    return hash;
}

//  Create a new queue.
wp_queue_t *
wp_queue_new (size_t max_size, size_t max_running, uint64_t timeout_ms)
{
    if (max_size == 0 || max_running == 0
    ||  max_size > SIZE_MAX / sizeof (s_entry_t *) / 2
    ||  max_running > SIZE_MAX / sizeof (s_entry_t *))
        return NULL;
    wp_queue_t *self = (wp_queue_t *) calloc (1, sizeof (wp_queue_t));
    if (!self)
        return NULL;
    self->max_size = max_size;
    self->max_running = max_running;
    self->timeout_ms = timeout_ms;
    self->ready.items = (s_entry_t **) calloc (max_size, sizeof (s_entry_t *));
    self->ready.slot = S_READY;
    self->ready.before = s_ready_before;
    self->victims.items = (s_entry_t **) calloc (max_size, sizeof (s_entry_t *));
    self->victims.slot = S_VICTIM;
    self->victims.before = s_victim_before;
    self->running = (s_entry_t **) calloc (max_running, sizeof (s_entry_t *));
    self->pending_by_model = s_hash_new ();
    self->running_by_model = s_hash_new ();
    if (!self->ready.items || !self->victims.items || !self->running
    ||  !self->pending_by_model || !self->running_by_model)
        wp_queue_destroy (&self);
    return self;
}

//  Free an entry and its strings; safe on NULL.
static void
s_entry_destroy (s_entry_t **entry_p)
{
    s_entry_t *entry = *entry_p;
    if (entry) {
        free (entry->task.model);
        free (entry->task.reason);
        free (entry);
        *entry_p = NULL;
    }
}

//  Destroy the queue and every task in it.
void
wp_queue_destroy (wp_queue_t **self_p)
{
    assert (self_p);
    wp_queue_t *self = *self_p;
    if (!self)
        return;
    while (self->oldest) {
        s_entry_t *entry = self->oldest;
        self->oldest = entry->next;
        s_entry_destroy (&entry);
    }
    for (size_t index = 0; index < self->running_count; index++)
        s_entry_destroy (&self->running [index]);
    zhashx_destroy (&self->pending_by_model);
    zhashx_destroy (&self->running_by_model);
    free (self->ready.items);
    free (self->victims.items);
    free (self->running);
    free (self);
    *self_p = NULL;
}

//  Make an entry holding a copy of the task, or NULL if out of memory.
static s_entry_t *
s_entry_new (const wp_queue_task_t *task, int priority, uint64_t now_ms)
{
    s_entry_t *entry = (s_entry_t *) calloc (1, sizeof (s_entry_t));
    if (!entry)
        return NULL;
    entry->task.model = strdup (task->model);
    entry->task.reason = strdup (task->reason ? task->reason : "");
    if (!entry->task.model || !entry->task.reason) {
        s_entry_destroy (&entry);
        return NULL;
    }
    entry->task.action = task->action;
    entry->task.priority = priority;
    entry->task.deadline_ms = task->deadline_ms;
    entry->task.cookie = task->cookie;
    entry->task.timeout_ms = task->timeout_ms;
    entry->task.not_before_ms = task->not_before_ms;
    entry->task.attempts = task->attempts;
    entry->task.enqueued_ms = task->enqueued_ms ? task->enqueued_ms : now_ms;
    entry->heap_index [S_READY] = S_NOWHERE;
    entry->heap_index [S_VICTIM] = S_NOWHERE;
    return entry;
}

//  Add a new entry to the pending structures. The model has no pending
//  task and there is room (czmq aborts when out of memory).
static void
s_pending_add (wp_queue_t *self, s_entry_t *entry)
{
    assert (self->victims.size < self->max_size);
    int rc = zhashx_insert (self->pending_by_model, entry->task.model, entry);
    assert (rc == 0);
    entry->seq = ++self->seq;
    entry->prev = self->newest;
    entry->next = NULL;
    if (self->newest)
        self->newest->next = entry;
    else
        self->oldest = entry;
    self->newest = entry;
    s_heap_insert (&self->victims, entry);
    if (!zhashx_lookup (self->running_by_model, entry->task.model))
        s_heap_insert (&self->ready, entry);
}

//  Take an entry out of the pending structures; the caller owns it then.
static void
s_pending_remove (wp_queue_t *self, s_entry_t *entry)
{
    zhashx_delete (self->pending_by_model, entry->task.model);
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        self->oldest = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        self->newest = entry->prev;
    entry->prev = entry->next = NULL;
    s_heap_remove (&self->victims, entry);
    if (entry->heap_index [S_READY] != S_NOWHERE)
        s_heap_remove (&self->ready, entry);
}

//  Hand a task that left the queue to the caller, or destroy it.
static void
s_hand_over (s_entry_t *entry, wp_queue_task_t **displaced_p)
{
    if (displaced_p)
        *displaced_p = &entry->task;
    else
        s_entry_destroy (&entry);
}

//  Merge a push into the pending task of the same model and action.
static wp_queue_result_t
s_merge (wp_queue_t *self, s_entry_t *entry, const wp_queue_task_t *task,
         int priority)
{
    if (task->reason && *task->reason) {
        char *reason = strdup (task->reason);
        if (!reason)
            return WP_QUEUE_ERROR;
        free (entry->task.reason);
        entry->task.reason = reason;
    }
    if (priority > entry->task.priority)
        entry->task.priority = priority;
    if (task->deadline_ms
    && (!entry->task.deadline_ms || task->deadline_ms < entry->task.deadline_ms))
        entry->task.deadline_ms = task->deadline_ms;
    s_heap_update (&self->ready, entry);
    s_heap_update (&self->victims, entry);
    self->merged++;
    return WP_QUEUE_MERGED;
}

//  Offer a task to the queue.
wp_queue_result_t
wp_queue_push (wp_queue_t *self, const wp_queue_task_t *task,
               uint64_t now_ms, wp_queue_task_t **displaced_p)
{
    assert (self);
    assert (task);
    if (displaced_p)
        *displaced_p = NULL;
    int priority = task->priority == 0 ? WP_QUEUE_NORMAL : task->priority;
    if (!task->model || !*task->model
    ||  strlen (task->model) > WP_QUEUE_MODEL_MAX
    ||  (task->action != WP_QUEUE_WARM && task->action != WP_QUEUE_COOL)
    ||  priority < WP_QUEUE_LOW || priority > WP_QUEUE_HIGH)
        return WP_QUEUE_INVALID;

    s_entry_t *running =
        (s_entry_t *) zhashx_lookup (self->running_by_model, task->model);
    s_entry_t *pending =
        (s_entry_t *) zhashx_lookup (self->pending_by_model, task->model);
    //  Invariant: a pending task never has the action its model is running
    assert (!running || !pending || running->task.action != pending->task.action);

    if (running && running->task.action == task->action) {
        if (pending) {
            //  The pending opposite task would undo what is asked again
            s_pending_remove (self, pending);
            self->cancelled++;
            s_hand_over (pending, displaced_p);
        }
        return WP_QUEUE_RUNNING_DUP;
    }
    if (pending && pending->task.action == task->action)
        return s_merge (self, pending, task, priority);

    s_entry_t *victim = NULL;
    if (!pending && self->victims.size == self->max_size) {
        victim = self->victims.items [0];
        if (priority <= victim->task.priority) {
            self->dropped++;
            return WP_QUEUE_DROPPED_FULL;
        }
    }
    s_entry_t *entry = s_entry_new (task, priority, now_ms);
    if (!entry)
        return WP_QUEUE_ERROR;

    //  Make room: take out the cancelled or evicted task first
    if (pending) {
        s_pending_remove (self, pending);
        s_pending_add (self, entry);
        self->cancelled++;
        s_hand_over (pending, displaced_p);
        return WP_QUEUE_REPLACED;
    }
    if (victim) {
        s_pending_remove (self, victim);
        s_pending_add (self, entry);
        self->dropped++;
        self->evicted++;
        s_hand_over (victim, displaced_p);
        return WP_QUEUE_EVICTED;
    }
    s_pending_add (self, entry);
    return WP_QUEUE_ADDED;
}

//  Make a pending entry running.
static const wp_queue_task_t *
s_start_entry (wp_queue_t *self, s_entry_t *entry, uint64_t now_ms)
{
    s_pending_remove (self, entry);
    int rc = zhashx_insert (self->running_by_model, entry->task.model, entry);
    assert (rc == 0);
    entry->task.started_ms = now_ms;
    entry->task.attempts++;
    self->running [self->running_count++] = entry;
    return &entry->task;
}

//  Start the next task.
const wp_queue_task_t *
wp_queue_next (wp_queue_t *self, uint64_t now_ms)
{
    return wp_queue_next_if (self, now_ms, NULL, NULL);
}

//  Start the best task the filter admits: a best-first walk of the ready
//  heap (a node's children come after it), over a small frontier.
const wp_queue_task_t *
wp_queue_next_if (wp_queue_t *self, uint64_t now_ms, wp_queue_filter_fn *fn,
                  void *arg)
{
    assert (self);
    if (self->running_count == self->max_running || self->ready.size == 0)
        return NULL;
    s_entry_t **items = self->ready.items;
    size_t frontier [2 * WP_QUEUE_SCAN_MAX + 1];
    size_t count = 0;
    frontier [count++] = 0;
    for (size_t examined = 0; count > 0 && examined < WP_QUEUE_SCAN_MAX; examined++) {
        size_t best = 0;
        for (size_t i = 1; i < count; i++)
            if (s_ready_before (items [frontier [i]], items [frontier [best]]))
                best = i;
        size_t index = frontier [best];
        frontier [best] = frontier [--count];
        s_entry_t *entry = items [index];
        if (entry->task.not_before_ms <= now_ms && (!fn || fn (&entry->task, arg)))
            return s_start_entry (self, entry, now_ms);
        for (size_t child = 2 * index + 1; child <= 2 * index + 2; child++)
            if (child < self->ready.size)
                frontier [count++] = child;
    }
    return NULL;
}

//  Take a running entry out of the running structures.
static void
s_running_remove (wp_queue_t *self, s_entry_t *entry)
{
    zhashx_delete (self->running_by_model, entry->task.model);
    size_t index = 0;
    while (self->running [index] != entry)
        index++;
    self->running_count--;
    memmove (&self->running [index], &self->running [index + 1],
             (self->running_count - index) * sizeof (s_entry_t *));
}

//  Put a failed running task back as pending.
wp_queue_result_t
wp_queue_retry (wp_queue_t *self, const char *model, uint64_t now_ms,
                uint64_t not_before_ms, wp_queue_task_t **out_p)
{
    assert (self && model && out_p);
    *out_p = NULL;
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->running_by_model, model);
    if (!entry)
        return WP_QUEUE_INVALID;
    s_entry_t *pending = (s_entry_t *) zhashx_lookup (self->pending_by_model, model);
    s_entry_t *victim = NULL;
    wp_queue_result_t result = WP_QUEUE_ADDED;
    if (pending)
        result = WP_QUEUE_SUPERSEDED;
    else
    if (self->victims.size == self->max_size) {
        victim = self->victims.items [0];
        result = entry->task.priority > victim->task.priority ? WP_QUEUE_EVICTED
                                                              : WP_QUEUE_DROPPED_FULL;
    }
    s_running_remove (self, entry);
    entry->task.finished_ms = now_ms;
    if (result == WP_QUEUE_SUPERSEDED || result == WP_QUEUE_DROPPED_FULL) {
        if (pending) {
            //  The superseding task was parked behind this one
            assert (pending->heap_index [S_READY] == S_NOWHERE);
            s_heap_insert (&self->ready, pending);
        }
        if (result == WP_QUEUE_DROPPED_FULL)
            self->dropped++;
        *out_p = &entry->task;
        return result;
    }
    if (victim) {
        s_pending_remove (self, victim);
        self->dropped++;
        self->evicted++;
        *out_p = &victim->task;
    }
    entry->task.not_before_ms = not_before_ms;
    entry->task.started_ms = 0;
    entry->task.finished_ms = 0;
    s_pending_add (self, entry);
    return result;
}

//  Backoff before a retry.
uint64_t
wp_queue_backoff_ms (uint32_t retry, uint64_t base_ms, uint64_t cap_ms)
{
    if (retry == 0 || base_ms == 0)
        return 0;
    uint64_t delay = base_ms;
    for (uint32_t i = 1; i < retry && delay < cap_ms; i++)
        delay = delay > UINT64_MAX / 2 ? UINT64_MAX : delay * 2;
    return delay < cap_ms ? delay : cap_ms;
}

//  Finish the running task of a model and hand it to the caller.
wp_queue_task_t *
wp_queue_complete (wp_queue_t *self, const char *model, uint64_t now_ms)
{
    assert (self);
    assert (model);
    s_entry_t *entry =
        (s_entry_t *) zhashx_lookup (self->running_by_model, model);
    if (!entry)
        return NULL;
    s_running_remove (self, entry);
    entry->task.finished_ms = now_ms;

    //  A task parked behind this one may start now
    s_entry_t *parked =
        (s_entry_t *) zhashx_lookup (self->pending_by_model, entry->task.model);
    if (parked) {
        assert (parked->heap_index [S_READY] == S_NOWHERE);
        s_heap_insert (&self->ready, parked);
    }
    return &entry->task;
}

//  Report running tasks that have run for timeout_ms or more.
size_t
wp_queue_expired (wp_queue_t *self, uint64_t now_ms, wp_queue_fn *fn,
                  void *arg)
{
    assert (self);
    assert (fn);
    size_t reported = 0;
    size_t index = 0;
    while (index < self->running_count) {
        s_entry_t *entry = self->running [index];
        uint64_t timeout = entry->task.timeout_ms ? entry->task.timeout_ms
                                                  : self->timeout_ms;
        //  Written so that a huge timeout cannot overflow
        if (timeout == 0 || now_ms < entry->task.started_ms
        ||  now_ms - entry->task.started_ms < timeout) {
            index++;
            continue;
        }
        reported++;
        int rc = fn (&entry->task, arg);
        //  fn may have completed it: then the next one moved to index
        if (index < self->running_count && self->running [index] == entry)
            index++;
        if (rc)
            break;
    }
    return reported;
}

//  Call fn for each pending task, oldest first.
int
wp_queue_iterate (wp_queue_t *self, wp_queue_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    for (s_entry_t *entry = self->oldest; entry; entry = entry->next) {
        int rc = fn (&entry->task, arg);
        if (rc)
            return rc;
    }
    return 0;
}

//  The pending task of a model, or NULL.
const wp_queue_task_t *
wp_queue_pending_task (wp_queue_t *self, const char *model)
{
    assert (self);
    assert (model);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->pending_by_model, model);
    return entry ? &entry->task : NULL;
}

//  The running task of a model, or NULL.
const wp_queue_task_t *
wp_queue_running_task (wp_queue_t *self, const char *model)
{
    assert (self);
    assert (model);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->running_by_model, model);
    return entry ? &entry->task : NULL;
}

//  Tasks waiting to start.
size_t
wp_queue_pending (wp_queue_t *self)
{
    assert (self);
    return self->victims.size;
}

//  Tasks running.
size_t
wp_queue_running (wp_queue_t *self)
{
    assert (self);
    return self->running_count;
}

//  Tasks refused or evicted because the queue was full.
uint64_t
wp_queue_dropped (wp_queue_t *self)
{
    assert (self);
    return self->dropped;
}

//  Pending tasks evicted by a higher priority task.
uint64_t
wp_queue_evicted (wp_queue_t *self)
{
    assert (self);
    return self->evicted;
}

//  Pushes merged into a pending task.
uint64_t
wp_queue_merged (wp_queue_t *self)
{
    assert (self);
    return self->merged;
}

//  Pending tasks cancelled by an opposite push.
uint64_t
wp_queue_cancelled (wp_queue_t *self)
{
    assert (self);
    return self->cancelled;
}

//  Short name of a push result.
const char *
wp_queue_result_str (wp_queue_result_t result)
{
    switch (result) {
        case WP_QUEUE_INVALID:      return "invalid";
        case WP_QUEUE_ERROR:        return "error";
        case WP_QUEUE_ADDED:        return "added";
        case WP_QUEUE_MERGED:       return "merged";
        case WP_QUEUE_REPLACED:     return "replaced";
        case WP_QUEUE_EVICTED:      return "evicted";
        case WP_QUEUE_DROPPED_FULL: return "dropped-full";
        case WP_QUEUE_RUNNING_DUP:  return "running-dup";
        case WP_QUEUE_SUPERSEDED:   return "superseded";
    }
    return "unknown";
}

//  Destroy a task the queue handed over.
void
wp_queue_task_destroy (wp_queue_task_t **self_p)
{
    assert (self_p);
    wp_queue_task_t *self = *self_p;
    if (!self)
        return;
    //  The task is the first field of the entry that was allocated
    s_entry_t *entry = (s_entry_t *) self;
    s_entry_destroy (&entry);
    *self_p = NULL;
}
