#!/bin/bash
# selftest.sh: the harness tested (tests/run.sh selftest; CI runs it with make test). A copy
# of tests/run.sh, tests/lib.sh and tests/tools in a scratch tree runs small suites and fake
# programs, and each case checks the verdict of that run.sh: it must fail what a broken
# airpack or a broken suite would slip past a careless harness, and pass the same suites when
# nothing is wrong (each failing case has a passing control, so the probe itself is shown to
# work). Cases:
#   a fake airpack that prints the expected refusal and then trips AddressSanitizer fails its
#   expect_fail case, with the Makefile's ASAN_OPTIONS (exit 86) and with a sanitizer that exits
#   1 (caught by the report on stderr); check fails a command that exits 0 after a report;
#   a suite with a dockerd on PATH that exits at once fails, with CI=true and without;
#   a skip is counted and shown, and fails under CI=true;
#   a unit binary that exits 0 after the first of three tests fails; a failing unit test
#   counts once; a test source with no binary fails;
#   a script that prints fewer cases than its plan (an unset variable), or declares none, fails;
#   expect_fail refuses a status list such as 1|2.
. "$(dirname "$0")/lib.sh"
plan 17
have cc || skip_rest "cc not installed"
# The Makefile's sanitizer settings (make asan passes them down; these are its defaults).
MK_ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86}
MK_UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=86}
R="$T/repo"
mkdir -p "$R/tests/integration" "$R/tests/unit" "$R/tests/tools" "$R/build/tests" "$T/bin"
cp "$TOP/tests/run.sh" "$TOP/tests/lib.sh" "$R/tests/"
cp "$TOP/tests/tools/cmocka_sum.sh" "$R/tests/tools/"
: >"$R/tests/selftest.sh"

# ---- fake programs -------------------------------------------------------------------
cat >"$T/fakeap.c" <<'EOF'
/* A fake airpack: prints a refusal and exits $FAKE_EXIT (default 1); with FAKE_MODE=uaf it
   reads freed memory first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
    const char *mode = getenv("FAKE_MODE"), *status = getenv("FAKE_EXIT");
    fprintf(stderr, "airpack: x.tar: entry blobs/sha256/00: sha256 mismatch\n");
    if (mode && strcmp(mode, "uaf") == 0) {
        char *p = malloc(16);
        if (!p) return 2;
        strcpy(p, "freed");
        free(p);
        volatile char c = p[1];
        (void)c;
    }
    return status ? atoi(status) : 1;
}
EOF
cc -fsanitize=address -g -O0 -o "$T/fakeap" "$T/fakeap.c" 2>"$T/cc.err" || { fail_rest "cc -fsanitize=address: $(head -c 200 "$T/cc.err")"; }
cat >"$T/units.c" <<'EOF'
/* Three cmocka tests; MODE picks what the second one does: pass, fail, or exit(0). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
static void first(void **s) { (void)s; }
static void second(void **s)
{
    (void)s;
    const char *m = getenv("MODE");
    if (m && strcmp(m, "exit") == 0) exit(0);
    if (m && strcmp(m, "fail") == 0) assert_int_equal(1, 2);
}
static void third(void **s) { (void)s; }
int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(first), cmocka_unit_test(second), cmocka_unit_test(third) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
EOF
cc -o "$T/units" "$T/units.c" -lcmocka 2>"$T/cc.err" || { fail_rest "cc -lcmocka: $(head -c 200 "$T/cc.err")"; }

# ---- running the scratch tree's run.sh -----------------------------------------------
# verdict NAME WANT(pass|fail) PATTERN SUITE ARGS... (environment before it with env):
# run.sh's exit status must say WANT and its output must match PATTERN
verdict() {
    local n=$1 want=$2 pat=$3 rc got; shift 3
    (cd "$R" && env -u CI BUILD=build "$@") >"$T/v.out" 2>&1; rc=$?
    got=$([ $rc -eq 0 ] && echo pass || echo fail)
    if [ "$got" != "$want" ]; then fail "$n" "run.sh should $want, it did $got: $(tail -4 "$T/v.out" | tr '\n' ' ' | head -c 400)"
    elif ! grep -qE -- "$pat" "$T/v.out"; then fail "$n" "run.sh output did not match /$pat/: $(tail -4 "$T/v.out" | tr '\n' ' ' | head -c 400)"
    else pass "$n"; fi
}
suite() { # NAME: writes tests/integration/NAME.sh from stdin, the only script there
    rm -f "$R"/tests/integration/*.sh
    { echo '#!/bin/bash'; echo '. "$(dirname "$0")/../lib.sh"'; cat; } >"$R/tests/integration/$1.sh"
}

# ---- a refusal followed by a sanitizer report ------------------------------------------
suite refusal <<'EOF'
plan 1
expect_fail refused 1 "sha256 mismatch" "$AIRPACK"
EOF
verdict "control: a clean refusal passes expect_fail" pass "^1 passed, 0 failed, 0 skipped$" \
    AIRPACK="$T/fakeap" sh tests/run.sh integration refusal
verdict "refusal then heap-use-after-free fails (Makefile ASAN_OPTIONS: exit 86)" fail "exit 86, a sanitizer's status" \
    AIRPACK="$T/fakeap" FAKE_MODE=uaf ASAN_OPTIONS="$MK_ASAN_OPTIONS" sh tests/run.sh integration refusal
verdict "refusal then heap-use-after-free fails when ASan exits 1 (report on stderr)" fail "sanitizer report: .*AddressSanitizer" \
    AIRPACK="$T/fakeap" FAKE_MODE=uaf ASAN_OPTIONS=exitcode=1 sh tests/run.sh integration refusal
suite checked <<'EOF'
plan 1
check "exits 0" env FAKE_EXIT=0 "$AIRPACK"
EOF
verdict "control: check passes a command that exits 0" pass "^1 passed, 0 failed" \
    AIRPACK="$T/fakeap" sh tests/run.sh integration checked
verdict "check fails a command that exits 0 after an ASan report" fail "sanitizer report" \
    AIRPACK="$T/fakeap" FAKE_MODE=uaf ASAN_OPTIONS=exitcode=0 sh tests/run.sh integration checked

# ---- a dockerd that is installed but exits at once ---------------------------------------
printf '#!/bin/sh\necho "fake dockerd: failed to start daemon" >&2\nexit 1\n' >"$T/bin/dockerd"
chmod +x "$T/bin/dockerd"
suite engine <<'EOF'
plan 3
pass before-the-engine
if need_dockerd 2 engine-cases; then pass engine-one; pass engine-two; stop_dockerd; fi
EOF
verdict "a dockerd that exits at once fails its cases under CI=true" fail "dockerd is installed but did not start" \
    PATH="$T/bin:$PATH" CI=true sh tests/run.sh integration engine
verdict "... and without CI" fail "1 passed, 2 failed" \
    PATH="$T/bin:$PATH" sh tests/run.sh integration engine

# ---- skips -------------------------------------------------------------------------------
suite skips <<'EOF'
plan 4
pass one
skip two "frobtool not installed"
skip three-and-four "frobtool not installed" 2
EOF
verdict "a skip is its own line, counted in the totals" pass "^1 passed, 0 failed, 3 skipped$" \
    sh tests/run.sh integration skips
verdict "under CI=true a skip fails" fail "under CI=true a skip fails: SKIP: two: frobtool not installed" \
    CI=true sh tests/run.sh integration skips

# ---- plans ---------------------------------------------------------------------------------
suite planned <<'EOF'
plan 2
pass one
pass "two${NOT_SET_HERE:-}"
EOF
verdict "control: a script that prints its plan passes" pass "^2 passed, 0 failed" sh tests/run.sh integration planned
suite unset <<'EOF'
plan 3
pass one
echo "$NOT_SET_HERE"
pass two
pass three
EOF
verdict "an unset variable that ends the script after 1 of 3 cases fails" fail "planned 3 cases and printed 1" \
    sh tests/run.sh integration unset
suite noplan <<'EOF'
pass one
EOF
verdict "a script without a plan fails" fail "declares no plan" sh tests/run.sh integration noplan
suite either <<'EOF'
plan 1
expect_fail either '1|2' "sha256 mismatch" "$AIRPACK"
EOF
verdict "expect_fail takes one status, not 1|2" fail "expect_fail takes one exit status" \
    AIRPACK="$T/fakeap" sh tests/run.sh integration either

# ---- unit binaries ---------------------------------------------------------------------------
: >"$R/tests/unit/test_three.c"
cp "$T/units" "$R/build/tests/test_three"
verdict "control: three passing unit tests count three" pass "^3 passed, 0 failed, 0 skipped$" sh tests/run.sh unit
verdict "a unit binary that exits 0 after the first of three tests fails" fail "declared 3 tests and gave results for 1" \
    MODE=exit sh tests/run.sh unit
verdict "a failing unit test counts once" fail "^2 passed, 1 failed, 0 skipped$" MODE=fail sh tests/run.sh unit
: >"$R/tests/unit/test_unbuilt.c"
verdict "a unit test source without its binary fails" fail "test_unbuilt is not built" sh tests/run.sh unit

# the scratch tree's logs hold the sanitizer reports these cases provoked on purpose
rm -rf "$R" "$T/v.out"
