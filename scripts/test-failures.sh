#!/usr/bin/env bash
# Usage: scripts/test-failures.sh BUILD_DIR
# After a failed ctest run: the Catch2 cases that failed in it and the assertion each failed on, a
# few lines apiece, printed last. ctest's own output of a failed test can run to thousands of lines
# (the VM test bed runs a whole test binary in one test), and a log cut to its head and tail would
# otherwise lose the one line that says what broke.
set -euo pipefail
log="${1:?usage: test-failures.sh BUILD_DIR}/Testing/Temporary/LastTest.log"
[[ -r $log ]] || { echo "test-failures.sh: no $log" >&2; exit 0; }
echo "== failed assertions (from $log) =="
# A Catch2 case starts with a line of dashes, its name, another line of dashes; a failure is a
# "FILE:LINE: FAILED:" line followed by the assertion and its expansion; a sanitizer's report
# starts with its own line.
awk '
    /^-+$/ && length($0) == 79 { if (in_header) { in_header = 0 } else { in_header = 1; name = "" } next }
    # A long name is wrapped, a word cut with a hyphen: joined back, trimmed.
    in_header {
        line = $0; sub(/^[ \t]+/, "", line)
        if (name == "") name = line
        else if (name ~ /-$/) name = substr(name, 1, length(name) - 1) line
        else name = name " " line
        next
    }
    /: FAILED:$/ { print "case: " name; print; left = 6; next }
    /ERROR: [A-Za-z]+Sanitizer|: runtime error: / { print; left = 6; next }
    left > 0 { print; left--; if (left == 0) print "" }
' "$log" | head -n 120
