#!/bin/sh
# Runs airpack's tests and ends with one line: "N passed, N failed".
#   tests/run.sh              unit tests, then every integration script
#   tests/run.sh unit         unit tests only
#   tests/run.sh integration  integration scripts only (or name scripts: tests/run.sh integration pack)
# Unit tests are cmocka binaries in $BUILD/tests; integration scripts are
# tests/integration/*.sh, each printing "PASS: name" or "FAIL: name" per case.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export AIRPACK="${AIRPACK:-$PWD/$BUILD/airpack}"
what=${1:-all}
[ $# -gt 0 ] && shift
passed=0
failed=0
failures=""
out=tests/out
mkdir -p "$out"

count() { # log file, label
    p=$(grep -c '^PASS: ' "$1" || true)
    f=$(grep -c '^FAIL: ' "$1" || true)
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -gt 0 ] && failures="$failures\n$(grep '^FAIL: ' "$1" | sed "s|^|  $2: |")"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        log="$out/$name.log"
        "$t" >"$log" 2>&1
        rc=$?
        # cmocka: "[       OK ] name" / "[  FAILED  ] name"
        sed -n 's/^\[       OK \] \(.*\)/PASS: \1/p; s/^\[  FAILED  \] \([^0-9].*\)/FAIL: \1/p' "$log" >"$log.sum"
        if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$log.sum"; then
            echo "FAIL: $name exited $rc" >>"$log.sum"
        fi
        count "$log.sum" "$name"
        echo "unit $name: $(grep -c '^PASS' "$log.sum") passed, $(grep -c '^FAIL' "$log.sum") failed"
    done
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    if [ $# -gt 0 ]; then scripts=""; for s in "$@"; do scripts="$scripts tests/integration/$s.sh"; done
    else scripts=$(ls tests/integration/*.sh 2>/dev/null); fi
    for s in $scripts; do
        name=$(basename "$s" .sh)
        log="$out/$name.log"
        start=$(date +%s)
        bash "$s" >"$log" 2>&1
        rc=$?
        if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$log"; then
            echo "FAIL: $name script exited $rc" >>"$log"
        fi
        count "$log" "$name"
        echo "integration $name: $(grep -c '^PASS: ' "$log") passed, $(grep -c '^FAIL: ' "$log") failed ($(( $(date +%s) - start ))s)"
    done
fi

if [ "$failed" -gt 0 ]; then
    printf "failures:%b\n(logs in %s)\n" "$failures" "$out"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
