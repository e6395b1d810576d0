/*  =========================================================================
    test_follow - files followed line by line (wp_follow): growth and
    partial lines, rotation while followed (the old file's rest first,
    its cut tail handed over as cut), truncation in place, offsets saved
    and resumed by a new follower (nothing lost, nothing repeated), a
    rotation while nobody followed (the old file found beside the new by
    its inode), directories and their new files, a line too long, a
    caller that stops a poll, a corrupt state file.
    =========================================================================
*/
#include "testutil.h"
#include "wp_follow.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  What the polls handed over.
typedef struct {
    char lines [256][64];       //  "name:line:text" (cut: a '!' after the text)
    int count;
    int refuse_after;           //  refuse lines once this many were taken (0: never)
} s_seen_t;

//  Take a line.
static int
s_take (void *arg, const char *path, uint64_t line_no, const char *line, size_t size,
        bool cut)
{
    s_seen_t *seen = (s_seen_t *) arg;
    if (seen->refuse_after && seen->count >= seen->refuse_after)
        return -1;
    assert_true (seen->count < 256);
    const char *name = strrchr (path, '/');
    snprintf (seen->lines [seen->count++], 64, "%s:%llu:%.*s%s", name ? name + 1 : path,
              (unsigned long long) line_no, line ? (int) size : 4, line ? line : "LONG",
              cut ? "!" : "");
    return 0;
}

//  Poll n times.
static void
s_poll (wp_follow_t *follow, s_seen_t *seen, int times)
{
    for (int i = 0; i < times; i++)
        wp_follow_poll (follow, s_take, seen, 0, NULL);
}

//  Append text to a file.
static void
s_append (const char *path, const char *text)
{
    FILE *out = fopen (path, "a");
    assert_non_null (out);
    fputs (text, out);
    fclose (out);
}

//  The lines seen, joined by blanks, for one comparison.
static const char *
s_joined (s_seen_t *seen)
{
    static char text [8192];
    text [0] = 0;
    for (int i = 0; i < seen->count; i++) {
        strcat (text, i ? " " : "");
        strcat (text, seen->lines [i]);
    }
    return text;
}

//  Growth, a partial line that waits, rotation with the writer still
//  writing to the old file, a cut tail, truncation.
static void
test_grow_rotate_truncate (void **state)
{
    char *dir = wp_test_tmpdir ("follow");
    char path [512], old [512];
    snprintf (path, sizeof path, "%s/a.jsonl", dir);
    snprintf (old, sizeof old, "%s/a.jsonl.1", dir);
    wp_follow_t *follow = wp_follow_new (".jsonl", NULL, false, NULL, 0);
    assert_int_equal (wp_follow_add (follow, path, NULL, 0), 0);    //  missing: waited for
    s_seen_t seen = { .count = 0 };
    s_poll (follow, &seen, 1);
    assert_int_equal (seen.count, 0);
    s_append (path, "one\ntwo\nthr");
    s_poll (follow, &seen, 1);
    assert_string_equal (s_joined (&seen), "a.jsonl:1:one a.jsonl:2:two");
    size_t partial = 0;
    wp_follow_files (follow, &partial);
    assert_int_equal (partial, 1);
    s_append (path, "ee\n");
    s_poll (follow, &seen, 1);
    assert_string_equal (seen.lines [2], "a.jsonl:3:three");

    //  Rotated: renamed, a new file made; the writer still appends to the
    //  old one (it has it open), then it stops inside a line.
    assert_int_equal (rename (path, old), 0);
    s_append (path, "new1\n");
    s_append (old, "four\nfi");
    s_poll (follow, &seen, 1);
    assert_string_equal (seen.lines [3], "a.jsonl:4:four");
    assert_int_equal (seen.count, 4);       //  the new file waits for the old one
    s_poll (follow, &seen, 6);
    assert_string_equal (seen.lines [4], "a.jsonl:5:fi!");
    assert_string_equal (seen.lines [5], "a.jsonl:1:new1");
    assert_int_equal (seen.count, 6);

    //  Truncated in place (copytruncate), then written again.
    FILE *truncate = fopen (path, "w");
    fclose (truncate);
    s_append (path, "x\n");
    s_poll (follow, &seen, 1);
    assert_string_equal (seen.lines [6], "a.jsonl:1:x");
    assert_int_equal (seen.count, 7);
    //  Truncated and written longer than what was read: its start changed.
    truncate = fopen (path, "w");
    fputs ("yyyyy\nzz\n", truncate);
    fclose (truncate);
    s_poll (follow, &seen, 1);
    assert_string_equal (s_joined (&seen) + strlen ("a.jsonl:1:one a.jsonl:2:two a.jsonl:3:three "
                                                     "a.jsonl:4:four a.jsonl:5:fi! "
                                                     "a.jsonl:1:new1 a.jsonl:1:x "),
                         "a.jsonl:1:yyyyy a.jsonl:2:zz");
    wp_follow_destroy (&follow);
    assert_null (follow);
    wp_test_rmtree (dir);
    free (dir);
}

//  A new follower resumes from the saved offsets: nothing lost, nothing
//  repeated; across a rotation while nobody followed, the old file's rest
//  comes first (found by its inode under its new name).
static void
test_resume (void **state)
{
    char *dir = wp_test_tmpdir ("follow");
    char path [512], old [512], saved [512];
    snprintf (path, sizeof path, "%s/chat.jsonl", dir);
    snprintf (old, sizeof old, "%s/chat.jsonl.1", dir);
    snprintf (saved, sizeof saved, "%s/offsets", dir);
    s_append (path, "l1\nl2\nl3\npart");
    char error [256];
    wp_follow_t *follow = wp_follow_new (".jsonl", saved, false, error, sizeof error);
    assert_non_null (follow);
    wp_follow_add (follow, path, NULL, 0);
    s_seen_t seen = { .count = 0, .refuse_after = 2 };
    bool more = false;
    assert_int_equal (wp_follow_poll (follow, s_take, &seen, 0, &more), 2);
    assert_true (more);
    assert_int_equal (wp_follow_save (follow, error, sizeof error), 0);
    wp_follow_destroy (&follow);

    //  l3 was not taken: the next follower hands it over first.
    s_append (path, "ial\n");
    follow = wp_follow_new (".jsonl", saved, false, error, sizeof error);
    wp_follow_add (follow, path, NULL, 0);
    s_seen_t again = { .count = 0 };
    s_poll (follow, &again, 1);
    assert_string_equal (s_joined (&again), "chat.jsonl:3:l3 chat.jsonl:4:partial");
    assert_int_equal (wp_follow_save (follow, error, sizeof error), 0);
    wp_follow_destroy (&follow);

    //  While nobody follows: more lines, a rotation, lines in the new file.
    s_append (path, "l5\n");
    assert_int_equal (rename (path, old), 0);
    s_append (path, "n1\nn2\n");
    follow = wp_follow_new (".jsonl", saved, false, error, sizeof error);
    wp_follow_add (follow, path, NULL, 0);
    s_seen_t third = { .count = 0 };
    s_poll (follow, &third, 6);
    assert_string_equal (s_joined (&third),
                         "chat.jsonl:5:l5 chat.jsonl:1:n1 chat.jsonl:2:n2");
    assert_int_equal (wp_follow_save (follow, error, sizeof error), 0);
    wp_follow_destroy (&follow);

    //  Truncated while nobody followed: from its start.
    FILE *out = fopen (path, "w");
    fputs ("t1\n", out);
    fclose (out);
    follow = wp_follow_new (".jsonl", saved, false, error, sizeof error);
    wp_follow_add (follow, path, NULL, 0);
    s_seen_t fourth = { .count = 0 };
    s_poll (follow, &fourth, 1);
    assert_string_equal (s_joined (&fourth), "chat.jsonl:1:t1");
    wp_follow_destroy (&follow);

    //  --from-start ignores the offsets.
    follow = wp_follow_new (".jsonl", saved, true, error, sizeof error);
    wp_follow_add (follow, old, NULL, 0);
    s_seen_t fifth = { .count = 0 };
    s_poll (follow, &fifth, 1);
    assert_int_equal (fifth.count, 5);
    wp_follow_destroy (&follow);

    //  A corrupt state file is refused, naming it and the line.
    wp_test_write_file (saved, "warmup-follow 1\n12 x\n");
    follow = wp_follow_new (".jsonl", saved, false, error, sizeof error);
    assert_null (follow);
    assert_non_null (strstr (error, "offsets:2:"));
    wp_test_rmtree (dir);
    free (dir);
}

//  A directory: its files with the suffix, new ones as they come; a line
//  too long is handed over as NULL with its length; max_lines.
static void
test_directory_and_limits (void **state)
{
    char *dir = wp_test_tmpdir ("follow");
    char a [512], b [512], other [512];
    snprintf (a, sizeof a, "%s/2025-01-30.json", dir);
    snprintf (b, sizeof b, "%s/2025-01-31.json", dir);
    snprintf (other, sizeof other, "%s/notes.txt", dir);
    s_append (a, "a1\na2\n");
    s_append (other, "no\n");
    wp_follow_t *follow = wp_follow_new (".json", NULL, false, NULL, 0);
    char error [256];
    assert_int_equal (wp_follow_add (follow, dir, error, sizeof error), 0);
    assert_int_equal (wp_follow_add (follow, "/dev/null", error, sizeof error), -1);
    s_seen_t seen = { .count = 0 };
    bool more = false;
    assert_int_equal (wp_follow_poll (follow, s_take, &seen, 1, &more), 1);
    assert_true (more);
    s_poll (follow, &seen, 1);
    assert_string_equal (s_joined (&seen), "2025-01-30.json:1:a1 2025-01-30.json:2:a2");
    s_append (b, "b1\n");
    s_poll (follow, &seen, 1);
    assert_string_equal (seen.lines [2], "2025-01-31.json:1:b1");
    assert_int_equal (wp_follow_files (follow, NULL), 2);
    //  A line over the limit, then a short one.
    char *big = malloc (WP_FOLLOW_LINE_MAX + 100);
    memset (big, 'x', WP_FOLLOW_LINE_MAX + 10);
    strcpy (big + WP_FOLLOW_LINE_MAX + 10, "\nok\n");
    s_append (b, big);
    free (big);
    s_poll (follow, &seen, 1);
    assert_string_equal (seen.lines [3], "2025-01-31.json:2:LONG");
    assert_string_equal (seen.lines [4], "2025-01-31.json:3:ok");
    wp_follow_destroy (&follow);
    wp_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_grow_rotate_truncate),
        cmocka_unit_test (test_resume),
        cmocka_unit_test (test_directory_and_limits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
