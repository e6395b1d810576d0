#!/usr/bin/env sh
#  =========================================================================
#  check_function_length - no function in components/ or backends/ is
#  longer than a screen (LIMIT lines of body, default 100).
#
#  A function that every new rule grows by a flag and a branch is the
#  shape that made this code hard to change; a limit that a test holds
#  keeps it from growing back. Functions are read in the house style
#  (clang-format, CLASS): the signature starts at column 0, the body
#  opens with '{' and closes with '}', each alone at column 0. The body
#  is the lines between the two braces.
#
#  Usage: tests/layout/check_function_length.sh REPO [LIMIT]
#  Prints every function over the limit (lines, file:line, name) and
#  exits 1 if there is one; with LIMIT 0, lists every function's length.
#  =========================================================================
set -eu
REPO=${1:?usage: check_function_length.sh REPO [LIMIT]}
LIMIT=${2:-100}
cd "$REPO"
files=$(find components backends -name '*.c' | sort)
[ -n "$files" ] || { echo "check_function_length: no sources under $REPO" >&2; exit 2; }
# shellcheck disable=SC2086
awk -v limit="$LIMIT" '
    FNR == 1 { open = 0; signature = "" }
    #  The last line at column 0 that opens a parameter list names the function.
    open == 0 && /^[A-Za-z_].*\(/ {
        signature = $0
        sub (/[ \t]*\(.*/, "", signature)
        sub (/.*[ \t*]/, "", signature)
    }
    open == 0 && /^\{/ { open = FNR; name = signature; next }
    open > 0 && /^\}/ {
        lines = FNR - open - 1
        functions++
        if (lines > limit) {
            printf "%5d  %s:%d  %s\n", lines, FILENAME, open, name
            over++
        }
        open = 0
    }
    END {
        if (over > 0) {
            printf "check_function_length: %d of %d functions over %d lines: " \
                   "split them into named steps\n", over, functions, limit
            exit 1
        }
        printf "check_function_length: %d functions, none over %d lines\n",
               functions, limit
    }' $files
