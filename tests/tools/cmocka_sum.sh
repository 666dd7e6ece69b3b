#!/bin/sh
# cmocka_sum.sh LOG STATUS NAME: turns a cmocka binary's output (LOG) and exit STATUS into
# one line per test: "PASS: test", "FAIL: test", "SKIP: test: skipped by the test", each
# test once (cmocka prints a failed test twice: as it runs and in its closing list). Adds a
# FAIL line when the binary did not run every test it declared ("Running N test(s)" against
# the results and the "N test(s) run" lines: a binary that exits part-way hides the tests
# after it), when it exited non-zero with no failed test, or when a sanitizer spoke.
log=$1 rc=$2 name=$3
SAN_PAT='(ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|SUMMARY: (Address|Leak|Thread|UndefinedBehavior|Memory)Sanitizer|: runtime error: '
awk -v name="$name" -v rc="$rc" '
/^\[==========\] Running [0-9]+ test\(s\)\.$/ { declared += $3; groups++; next }
/^\[==========\] [0-9]+ test\(s\) run\.$/ { ran += $2; closed++; next }
/^\[       OK \] / { t = substr($0, 14); if (!(t in seen)) { seen[t] = 1; print "PASS: " t; results++ } next }
/^\[  SKIPPED \] / { t = substr($0, 14); if (t ~ /^[0-9]/) next; if (!(t in seen)) { seen[t] = 1; print "SKIP: " t ": skipped by the test"; results++ } next }
/^\[  FAILED  \] / { t = substr($0, 14); if (t ~ /^[0-9]+ test\(s\)/) next; if (!(t in seen)) { seen[t] = 1; print "FAIL: " t; results++; failed++ } else if (seen[t] == 1) { } next }
END {
    if (groups == 0) print "FAIL: " name " printed no \"Running N test(s)\" line (exit " rc ")"
    else if (closed != groups || ran != declared || results != declared)
        print "FAIL: " name " declared " declared " tests and gave results for " results " (exit " rc "): it stopped part-way"
    if (rc != 0 && failed == 0) print "FAIL: " name " exited " rc
}' "$log"
if grep -qE -- "$SAN_PAT" "$log"; then
    echo "FAIL: $name: sanitizer report: $(grep -m1 -E -- "$SAN_PAT" "$log" | head -c 200)"
fi
exit 0
