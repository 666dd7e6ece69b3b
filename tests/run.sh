#!/bin/sh
# Runs airpack's tests and ends with one line: "N passed, N failed, N skipped".
#   tests/run.sh              unit tests, the harness self-test, then every integration script
#   tests/run.sh unit         unit tests only
#   tests/run.sh selftest     the harness self-test only (tests/selftest.sh)
#   tests/run.sh integration  integration scripts only (or name scripts: tests/run.sh integration pack_tools)
# Unit tests are cmocka binaries in $BUILD/tests, one per tests/unit/test_*.c; each must run
# every test it declares (tests/tools/cmocka_sum.sh). Integration scripts are
# tests/integration/*.sh: each declares its cases first (`plan N`, tests/lib.sh) and prints
# "PASS: name", "FAIL: name (why)" or "SKIP: name: reason" per case; a script whose lines do
# not add up to its plan, that exits non-zero, or whose log holds a sanitizer report fails.
# A skip is counted and shown; under CI=true (CI installs every tool) a skip is a failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export AIRPACK="${AIRPACK:-$PWD/$BUILD/airpack}"
what=${1:-all}
[ $# -gt 0 ] && shift
passed=0
failed=0
skipped=0
failures=""
out=tests/out
mkdir -p "$out"
CI=${CI:-}
SAN_PAT='(ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|SUMMARY: (Address|Leak|Thread|UndefinedBehavior|Memory)Sanitizer|: runtime error: '

# tally SUM: P F S, the cases its PASS/FAIL/SKIP lines stand for ("[N cases]" at the end of a
# line stands for N)
tally() {
    awk '/^(PASS|FAIL|SKIP): / { n = 1; if (match($0, /\[[0-9]+ cases\]$/)) n = substr($0, RSTART + 1, RLENGTH - 8) + 0
                                 c[substr($0, 1, 4)] += n }
         END { printf "%d %d %d\n", c["PASS"], c["FAIL"], c["SKIP"] }' "$1"
}
count() { # SUM-FILE LABEL: adds its cases to the totals
    set -- "$1" "$2" $(tally "$1")
    passed=$((passed + $3)); failed=$((failed + $4)); skipped=$((skipped + $5))
    [ "$4" -gt 0 ] && failures="$failures\n$(grep '^FAIL: ' "$1" | sed "s|^|  $2: |")"
    if [ "$5" -gt 0 ] && [ "$CI" = true ]; then
        failed=$((failed + $5))
        failures="$failures\n$(grep '^SKIP: ' "$1" | sed "s|^|  $2: under CI=true a skip fails: |")"
    fi
    line_p=$3 line_f=$4 line_s=$5
}

# run_script PATH: one integration script (or the self-test), checked against its plan
run_script() {
    s=$1 name=$(basename "$1" .sh)
    log="$out/$name.log" sum="$out/$name.log.sum"
    start=$(date +%s)
    if [ ! -f "$s" ]; then echo "FAIL: $name: no such script $s" >"$sum"
    else
        bash "$s" >"$log" 2>&1
        rc=$?
        grep -E '^(PASS|FAIL|SKIP): ' "$log" >"$sum"
        planned=$(sed -n 's/^PLAN: \([0-9][0-9]*\)$/\1/p' "$log")
        set -- $(tally "$sum")
        cases=$(($1 + $2 + $3))
        if [ -z "$planned" ]; then
            echo "FAIL: $name declares no plan: call \`plan N\` (tests/lib.sh) before its first case (it printed $cases)" >>"$sum"
        elif [ "$(echo "$planned" | wc -l)" -ne 1 ]; then
            echo "FAIL: $name declared its plan more than once" >>"$sum"
        elif [ "$cases" -ne "$planned" ]; then
            echo "FAIL: $name planned $planned cases and printed $cases (exit $rc): a crash, an early exit, an unset variable, or a plan to update" >>"$sum"
        fi
        [ "$rc" -eq 0 ] || echo "FAIL: $name script exited $rc" >>"$sum"
        if grep -qE -- "$SAN_PAT" "$log"; then
            echo "FAIL: $name: sanitizer report in its log: $(grep -m1 -E -- "$SAN_PAT" "$log" | head -c 200)" >>"$sum"
        fi
    fi
    count "$sum" "$name"
    echo "integration $name: $line_p passed, $line_f failed, $line_s skipped ($(( $(date +%s) - start ))s)"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    nunit=0
    for src in tests/unit/test_*.c; do
        [ -f "$src" ] || continue
        name=$(basename "$src" .c)
        t="$BUILD/tests/$name"
        log="$out/$name.log"
        nunit=$((nunit + 1))
        if [ ! -x "$t" ]; then echo "FAIL: $name is not built ($t)" >"$log.sum"
        else
            "$t" >"$log" 2>&1
            sh tests/tools/cmocka_sum.sh "$log" $? "$name" >"$log.sum"
        fi
        count "$log.sum" "$name"
        echo "unit $name: $line_p passed, $line_f failed, $line_s skipped"
    done
    if [ "$nunit" -eq 0 ]; then failed=$((failed + 1)); failures="$failures\n  unit: no tests/unit/test_*.c"; fi
fi

if [ "$what" = all ] || [ "$what" = selftest ]; then
    run_script tests/selftest.sh
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    if [ $# -gt 0 ]; then scripts=""; for s in "$@"; do scripts="$scripts tests/integration/$s.sh"; done
    else scripts=$(ls tests/integration/*.sh 2>/dev/null); fi
    if [ -z "$scripts" ]; then failed=$((failed + 1)); failures="$failures\n  integration: no scripts in tests/integration"; fi
    for s in $scripts; do run_script "$s"; done
fi

case $what in all|unit|selftest|integration) ;; *) echo "tests/run.sh: unknown suite '$what' (all, unit, selftest, integration)"; failed=$((failed + 1)) ;; esac
if [ "$failed" -gt 0 ]; then
    printf "failures:%b\n(logs in %s)\n" "$failures" "$out"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
