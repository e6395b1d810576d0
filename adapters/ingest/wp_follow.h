/*  =========================================================================
    wp_follow - read log files line by line as they grow, across rotation
    and truncation, and remember how far in a state file, so that a
    restart neither loses nor repeats a line.

    Each path given is a file, or a directory whose files ending in the
    suffix are followed (new ones as they appear). A poll reads what each
    file gained and hands every whole line (its newline removed) to the
    caller, with its file and 1-based line number; the bytes after the
    last newline wait for the rest of their line. A file is known by its
    device and inode and a fingerprint (a hash of its first 256 bytes):
    - rotated (the path now names another file, or none): the old file is
      read to its end first (a line it ends inside for good is handed over
      as cut), then the new one from its start;
    - truncated in place (copytruncate: smaller than what was read, or
      its first bytes changed): read again from its start (what was
      written between the last poll and the truncation is lost, and a
      rewrite longer than what was read whose first 256 bytes are the
      same is not seen; logged).
    The state file (written whole to a temporary name, flushed and renamed
    over the old one) holds per file its path, device, inode, fingerprint,
    offset and line number, up to the last line the caller took. At start
    a file is resumed where the state says when it is the same file; when
    its path names another file, the old one is looked for by device and
    inode among its directory's files (logrotate's autocomplete.jsonl.1),
    read from where it was left, then the new one from its start. What can
    be repeated: the lines handed over since the last save (a crash; a
    clean stop saves first). Plain files only; memory: one partial line
    per file, at most WP_FOLLOW_LINE_MAX bytes (a longer line is handed
    over as NULL with its length, and skipped).
    =========================================================================
*/
#ifndef WP_FOLLOW_H_INCLUDED
#define WP_FOLLOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest line kept, bytes.
#define WP_FOLLOW_LINE_MAX (8u << 20)

//  Files followed at most.
#define WP_FOLLOW_FILES_MAX 4096

typedef struct _wp_follow_t wp_follow_t;

//  A line: its file, its number (1-based), its bytes without the newline
//  (NULL when longer than WP_FOLLOW_LINE_MAX; size is still its length),
//  and cut: the file ended inside it for good (rotated away without its
//  newline). Return 0 to take it, or -1 to stop the poll before it (it is
//  handed over again at the next poll).
typedef int (wp_follow_fn) (void *arg, const char *path, uint64_t line_no,
                            const char *line, size_t size, bool cut);

//  Create. suffix: the files of a directory that are followed (".jsonl").
//  state_path: where offsets are kept (NULL: nowhere); from_start ignores
//  what it says. NULL with error (size bytes) when the state file exists
//  and cannot be read.
wp_follow_t *
    wp_follow_new (const char *suffix, const char *state_path, bool from_start,
                   char *error, size_t size);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_follow_destroy (wp_follow_t **self_p);

//  Follow a file or a directory. A missing file is waited for; a missing
//  directory, or something else, is an error. Returns 0 or -1 with error.
int
    wp_follow_add (wp_follow_t *self, const char *path, char *error, size_t size);

//  Hand what the files gained to fn, at most max_lines lines (0: no
//  limit). Returns the lines taken; *more is set when lines were left
//  for lack of room (max_lines or fn's -1).
size_t
    wp_follow_poll (wp_follow_t *self, wp_follow_fn *fn, void *arg, size_t max_lines,
                    bool *more);

//  Write the offsets of the lines taken to the state file. Returns 0, or
//  -1 with error (the old state stays whole).
int
    wp_follow_save (wp_follow_t *self, char *error, size_t size);

//  The files followed now and, of them, how many end in a partial line
//  (bytes after the last newline, waiting for the rest of their line).
size_t
    wp_follow_files (wp_follow_t *self, size_t *partial);

//  True while a rotated file is still being read to its end (it is let
//  go after a few polls without growth).
bool
    wp_follow_draining (wp_follow_t *self);

//  For each file ending in a partial line: its path, the number that
//  line will have, its bytes so far.
typedef void (wp_follow_partial_fn) (void *arg, const char *path, uint64_t line_no,
                                     size_t size);
void
    wp_follow_each_partial (wp_follow_t *self, wp_follow_partial_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
