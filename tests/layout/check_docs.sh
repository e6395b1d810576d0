#!/usr/bin/env sh
#  =========================================================================
#  check_docs - the docs describe the product as it is: no commit hashes,
#  load averages or issue numbers in README.md or under docs/.
#
#  History (dated runs, the machine's load at the time, which commit or
#  issue changed what) belongs in git; a doc that narrates it goes stale
#  the day it is written. A number in a doc is a result with the command
#  that reproduces it.
#
#  Flagged: a word of 7 to 40 hex digits with at least one digit and one
#  letter (a commit hash; plain decimal numbers pass), "load average", and
#  "issue N" / "issue #N" / "#N" references.
#
#  Usage: tests/layout/check_docs.sh REPO
#  Prints each offending line as file:line: text and exits 1 if any.
#  =========================================================================
set -eu
REPO=${1:?usage: check_docs.sh REPO}
cd "$REPO"
files="README.md $(find docs -name '*.md' | sort)"
# shellcheck disable=SC2086
awk '
    function flag(why) {
        printf "%s:%d: %s: %s\n", FILENAME, FNR, why, $0
        found++
    }
    {
        line = tolower($0)
        if (line ~ /load average/)
            flag("a load average")
        if (line ~ /(^|[^a-z])issues? #?[0-9]+/ || line ~ /(^|[ (])#[0-9]+([^0-9a-z]|$)/)
            flag("an issue number")
        rest = line
        while (match(rest, /[0-9a-f]+/)) {
            word = substr(rest, RSTART, RLENGTH)
            before = RSTART > 1 ? substr(rest, RSTART - 1, 1) : " "
            after = substr(rest, RSTART + RLENGTH, 1)
            if (RLENGTH >= 7 && RLENGTH <= 40 && word ~ /[0-9]/ && word ~ /[a-f]/ \
                && before !~ /[a-z0-9_.:\/-]/ && after !~ /[a-z0-9_\/-]/)
                flag("a commit hash")
            rest = substr(rest, RSTART + RLENGTH)
        }
    }
    END {
        if (found > 0) {
            printf "check_docs: %d line(s) above: docs say what is, " \
                   "history stays in git\n", found
            exit 1
        }
        printf "check_docs: %d files, no commit hashes, load averages or issue numbers\n",
               ARGC - 1
    }' $files
