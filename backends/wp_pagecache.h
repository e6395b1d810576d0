/*  =========================================================================
    wp_pagecache - a model's weight files and the page cache: which files
    a `path` setting names, how much of a file is resident (mmap +
    mincore), reading a file into the cache, evicting it.

    An mmap-ing runtime (llama.cpp, and most that load GGUF or
    safetensors) loads a model mostly by faulting its file into memory:
    when the pages are already in the page cache the load costs little
    more than mapping them. These are the plain operations the `file`
    backend runs in slices on the queue's loop; each call blocks only for
    the bytes it is given.
    =========================================================================
*/
#ifndef WP_PAGECACHE_H_INCLUDED
#define WP_PAGECACHE_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The files a path setting names: one file, files separated by commas
//  (blanks around them ignored), or a directory (its regular files, not
//  its subdirectories, hidden files skipped, in name order). Returns a
//  list of paths (strings the list owns; the caller destroys it), or NULL
//  with the reason in error (capacity bytes): a missing file, an empty
//  directory, something that is not a regular file.
zlistx_t *
    wp_pagecache_list (const char *spec, char *error, size_t capacity);

//  Bytes of the file now in the page cache and its size. Returns 0, or
//  -1 (errno set) if it cannot be opened or mapped. An empty file is 0/0.
int
    wp_pagecache_residency (const char *path, uint64_t *resident_bytes,
                            uint64_t *size_bytes);

//  Ask the kernel to drop the file's clean pages from the cache
//  (POSIX_FADV_DONTNEED). Dirty pages stay until written back. Returns 0
//  or -1 (errno set).
int
    wp_pagecache_evict (const char *path);

//  Read up to max_bytes of fd from offset into the cache (the bytes are
//  read into buffer, capacity bytes, and dropped). Returns the bytes read
//  (0 at the end of the file), or -1 (errno set).
int64_t
    wp_pagecache_read (int fd, uint64_t offset, uint64_t max_bytes, char *buffer,
                       size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
