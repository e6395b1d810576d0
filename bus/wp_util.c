/*  =========================================================================
    wp_util - small helpers shared by every class.
    =========================================================================
*/
#include <czmq.h>
#include "wp_util.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sched.h>

//  Wall-clock time in microseconds since the Unix epoch.
uint64_t
wp_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

//  Monotonic time in nanoseconds.
uint64_t
wp_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

//  Log the first 10 occurrences, then every 1000th.
bool
wp_log_should (uint64_t occurrence)
{
    return occurrence <= 10 || occurrence % 1000 == 0;
}

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
    do {                                                                      \
        v0 += v1; v1 = ROTL (v1, 13); v1 ^= v0; v0 = ROTL (v0, 32);           \
        v2 += v3; v3 = ROTL (v3, 16); v3 ^= v2;                               \
        v0 += v3; v3 = ROTL (v3, 21); v3 ^= v0;                               \
        v2 += v1; v1 = ROTL (v1, 17); v1 ^= v2; v2 = ROTL (v2, 32);           \
    } while (0)

//  Little-endian 64-bit load.
static uint64_t
s_le64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p [i];
    return v;
}

//  SipHash-2-4 (Aumasson and Bernstein), written from the paper.
uint64_t
wp_siphash (const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = (const uint8_t *) data;
    uint64_t k0 = s_le64 (key), k1 = s_le64 (key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++) {
        uint64_t m = s_le64 (in + i * 8);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t) len << 56;
    const uint8_t *tail = in + blocks * 8;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t) tail [i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

//  Keyed hash of a user id.
uint64_t
wp_user_hash (const uint8_t key[16], const char *user)
{
    return wp_siphash (key, user, strlen (user));
}

//  Value of one hex digit, or -1.
static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Parse 2 x n hex digits into n bytes.
int
wp_parse_hex (const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen (hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = s_hexval (hex [2 * i]), lo = s_hexval (hex [2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out [i] = (uint8_t) (hi << 4 | lo);
    }
    return 0;
}

//  Parse 32 hex digits into 16 bytes.
int
wp_parse_key (const char *hex, uint8_t key[16])
{
    return wp_parse_hex (hex, key, 16);
}

//  Write a user id.
void
wp_user_id_format (uint64_t hash, char *text)
{
    static const char digits [] = "0123456789abcdef";
    text [0] = 'u';
    text [1] = ':';
    for (int i = 0; i < 16; i++)
        text [2 + i] = digits [(hash >> (60 - 4 * i)) & 15];
    text [WP_USER_ID_LEN] = 0;
}

//  Parse a user id.
int
wp_user_id_parse (const char *text, uint64_t *hash)
{
    if (!text || text [0] != 'u' || text [1] != ':' || strlen (text) != WP_USER_ID_LEN)
        return -1;
    uint64_t value = 0;
    for (int i = 0; i < 16; i++) {
        char c = text [2 + i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return -1;
        value = value << 4 | (uint64_t) digit;
    }
    *hash = value;
    return 0;
}

//  Read a varint.
bool
wp_varint (const uint8_t **p_p, const uint8_t *end, uint64_t *value)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p_p < end; shift += 7) {
        uint8_t byte = *(*p_p)++;
        v |= (uint64_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return true;
        }
    }
    return false;
}

//  Parse a ZPL file.
zconfig_t *
wp_zpl_load (const char *path, size_t max_bytes)
{
    zchunk_t *chunk = zchunk_slurp (path, max_bytes + 1);
    zconfig_t *root = chunk && zchunk_size (chunk) <= max_bytes
                    ? zconfig_chunk_load (chunk) : NULL;
    zchunk_destroy (&chunk);
    return root;
}

//  An instance id.
char *
wp_instance_id (const char *instance)
{
    if (instance)
        return strdup (instance);
    char host [128] = "localhost";
    gethostname (host, sizeof host - 1);
    return zsys_sprintf ("%s:%d", host, (int) getpid ());
}

//  Resident set size from /proc/self/statm.
uint64_t
wp_rss_kb (void)
{
    FILE *file = fopen ("/proc/self/statm", "r");
    if (!file)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf (file, "%lu %lu", &size, &resident);
    fclose (file);
    if (n != 2)
        return 0;
    return (uint64_t) resident * (uint64_t) sysconf (_SC_PAGESIZE) / 1024;
}

//  Big-endian helpers.
void
wp_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p [i] = (uint8_t) v;
        v >>= 8;
    }
}

uint64_t
wp_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p [i];
    return v;
}

void
wp_put_u32 (uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p [i] = (uint8_t) v;
        v >>= 8;
    }
}

uint32_t
wp_get_u32 (const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p [i];
    return v;
}

void
wp_put_f64 (uint8_t *p, double v)
{
    uint64_t bits;
    memcpy (&bits, &v, sizeof bits);
    wp_put_u64 (p, bits);
}

double
wp_get_f64 (const uint8_t *p)
{
    uint64_t bits = wp_get_u64 (p);
    double v;
    memcpy (&v, &bits, sizeof v);
    return v;
}

//  A usable usage.intent kind.
bool
wp_intent_kind_ok (const char *kind)
{
    size_t length = kind ? strlen (kind) : 0;
    if (length == 0 || length > WP_INTENT_KIND_MAX)
        return false;
    for (const char *c = kind; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.'
              || *c == '_' || *c == '-'))
            return false;
    return true;
}

//  struct sched_attr of sched_setattr (2), as the kernel's ABI has it
//  (glibc has no wrapper before 2.41).
typedef struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
} s_sched_attr_t;

int
wp_thread_slice (int tid, unsigned slice_us)
{
#ifdef SYS_sched_setattr
    s_sched_attr_t attr;
    memset (&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    if (syscall (SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0)
        return -1;
    if (attr.sched_policy != SCHED_OTHER && attr.sched_policy != SCHED_BATCH)
        return -1;              //  a real-time or idle thread: as it is
    //  The nice value read is kept (an unprivileged thread cannot lower
    //  it); sched_runtime is the slice for the fair classes.
    attr.size = sizeof attr;
    attr.sched_flags = 0;
    attr.sched_runtime = (uint64_t) slice_us * 1000;
    if (syscall (SYS_sched_setattr, tid, &attr, 0) != 0)
        return -1;
    //  A kernel without custom slices takes the call and ignores the slice
    if (!slice_us)
        return 0;
    memset (&attr, 0, sizeof attr);
    if (syscall (SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0
        || attr.sched_runtime != (uint64_t) slice_us * 1000)
        return -1;
    return 0;
#else
    (void) tid;
    (void) slice_us;
    errno = ENOSYS;
    return -1;
#endif
}

int
wp_threads_slice (const char *prefix, unsigned slice_us)
{
    DIR *dir = opendir ("/proc/self/task");
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [300], name [64] = "";
        snprintf (path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        if (!fgets (name, sizeof name, file))
            name [0] = 0;
        fclose (file);
        if (strncmp (name, prefix, strlen (prefix)) == 0
            && wp_thread_slice (atoi (entry->d_name), slice_us) == 0)
            count++;
    }
    closedir (dir);
    return count;
}
