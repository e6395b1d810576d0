/*  =========================================================================
    wp_pagecache - weight files and the page cache.
    =========================================================================
*/
#include "wp_pagecache.h"
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>

//  Bytes checked per mincore call (its vector is one byte per page).
#define S_MINCORE_SPAN (64ULL * 1024 * 1024)

//  Sort order of the list: by name.
static int
s_compare (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

//  Add path to the list if it is a regular file; else set error.
static int
s_add_file (zlistx_t *files, const char *path, char *error, size_t capacity)
{
    struct stat info;
    if (stat (path, &info)) {
        snprintf (error, capacity, "%s: %s", path, strerror (errno));
        return -1;
    }
    if (!S_ISREG (info.st_mode)) {
        snprintf (error, capacity, "%s: not a regular file", path);
        return -1;
    }
    zlistx_add_end (files, (void *) path);
    return 0;
}

//  Add a directory's regular files.
static int
s_add_directory (zlistx_t *files, const char *path, char *error, size_t capacity)
{
    DIR *dir = opendir (path);
    if (!dir) {
        snprintf (error, capacity, "%s: %s", path, strerror (errno));
        return -1;
    }
    zlistx_t *found = zlistx_new ();
    zlistx_set_duplicator (found, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (found, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (found, s_compare);
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char *child = zsys_sprintf ("%s/%s", path, entry->d_name);
        struct stat info;
        if (child && stat (child, &info) == 0 && S_ISREG (info.st_mode))
            zlistx_add_end (found, child);
        zstr_free (&child);
    }
    closedir (dir);
    zlistx_sort (found);
    for (char *child = (char *) zlistx_first (found); child;
         child = (char *) zlistx_next (found))
        zlistx_add_end (files, child);
    size_t count = zlistx_size (found);
    zlistx_destroy (&found);
    if (count == 0) {
        snprintf (error, capacity, "%s: no files in the directory", path);
        return -1;
    }
    return 0;
}

//  The files a path setting names.
zlistx_t *
wp_pagecache_list (const char *spec, char *error, size_t capacity)
{
    assert (spec && error && capacity);
    *error = 0;
    zlistx_t *files = zlistx_new ();
    zlistx_set_duplicator (files, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (files, (zlistx_destructor_fn *) zstr_free);
    const char *item = spec;
    while (true) {
        while (*item == ' ' || *item == '\t')
            item++;
        size_t length = strcspn (item, ",");
        while (length && (item [length - 1] == ' ' || item [length - 1] == '\t'))
            length--;
        char path [4096];
        if (length == 0 || length >= sizeof path) {
            snprintf (error, capacity, "bad path list '%s'", spec);
            zlistx_destroy (&files);
            return NULL;
        }
        memcpy (path, item, length);
        path [length] = 0;
        struct stat info;
        int rc = stat (path, &info) == 0 && S_ISDIR (info.st_mode)
               ? s_add_directory (files, path, error, capacity)
               : s_add_file (files, path, error, capacity);
        if (rc) {
            zlistx_destroy (&files);
            return NULL;
        }
        item += strcspn (item, ",");
        if (!*item)
            break;
        item++;
    }
    return files;
}

//  Bytes of the file in the page cache.
int
wp_pagecache_residency (const char *path, uint64_t *resident_bytes, uint64_t *size_bytes)
{
    assert (path && resident_bytes && size_bytes);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat info;
    if (fstat (fd, &info)) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    uint64_t size = (uint64_t) info.st_size;
    *size_bytes = size;
    *resident_bytes = 0;
    if (size == 0) {
        close (fd);
        return 0;
    }
    void *map = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    int saved = errno;
    close (fd);
    if (map == MAP_FAILED) {
        errno = saved;
        return -1;
    }
    uint64_t page = (uint64_t) sysconf (_SC_PAGESIZE);
    unsigned char *vector = (unsigned char *) malloc (S_MINCORE_SPAN / page);
    assert (vector);
    uint64_t resident = 0;
    int rc = 0;
    for (uint64_t offset = 0; offset < size && rc == 0; offset += S_MINCORE_SPAN) {
        uint64_t span = size - offset < S_MINCORE_SPAN ? size - offset : S_MINCORE_SPAN;
        uint64_t pages = (span + page - 1) / page;
        if (mincore ((char *) map + offset, span, vector)) {
            rc = -1;
            break;
        }
        for (uint64_t i = 0; i < pages; i++)
            if (vector [i] & 1) {
                //  The last page of the file counts only its bytes
                uint64_t start = offset + i * page;
                resident += size - start < page ? size - start : page;
            }
    }
    saved = errno;
    free (vector);
    munmap (map, size);
    errno = saved;
    *resident_bytes = resident;
    return rc;
}

//  Drop the file's clean pages from the cache.
int
wp_pagecache_evict (const char *path)
{
    assert (path);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
    close (fd);
    if (rc) {
        errno = rc;
        return -1;
    }
    return 0;
}

//  Read a slice of the file into the cache.
int64_t
wp_pagecache_read (int fd, uint64_t offset, uint64_t max_bytes, char *buffer,
                   size_t capacity)
{
    assert (buffer && capacity);
    uint64_t done = 0;
    while (done < max_bytes) {
        size_t want = max_bytes - done < capacity ? (size_t) (max_bytes - done) : capacity;
        ssize_t got = pread (fd, buffer, want, (off_t) (offset + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            break;
        done += (uint64_t) got;
    }
    return (int64_t) done;
}
