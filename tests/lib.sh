# tests/lib.sh: sourced by the integration scripts.
# Each case: `pass NAME` or `fail NAME why`; helpers start real servers on
# private sockets and loopback ports and stop them by their own process ids.
set -u
AIRPACK=${AIRPACK:-$(cd "$(dirname "$0")/../.." && pwd)/build/airpack}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/airpack-test.XXXXXX")
CLEANUPS=""
on_exit() {
    for c in $CLEANUPS; do "$c" || true; done
    rm -rf "$T" 2>/dev/null || { chmod -R u+w "$T" 2>/dev/null; rm -rf "$T" 2>/dev/null; } || true
}
trap on_exit EXIT
add_cleanup() { CLEANUPS="$1 $CLEANUPS"; }

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ ($2)}"; }
# check NAME command...: passes when the command exits 0
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
# expect_fail NAME STATUS PATTERN command...: the command must exit STATUS with PATTERN on stderr
expect_fail() {
    n=$1; want=$2; pat=$3; shift 3
    "$@" >"$T/ef.out" 2>"$T/ef.err"; rc=$?
    if [ "$rc" -ne "$want" ]; then fail "$n" "exit $rc, wanted $want: $(head -c 300 "$T/ef.err")"
    elif ! grep -qE -- "$pat" "$T/ef.err"; then fail "$n" "message did not match /$pat/: $(head -c 300 "$T/ef.err")"
    else pass "$n"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }
skip_unless() { # skip_unless TOOL... : ends the script with a message when a tool is missing
    for t in "$@"; do have "$t" || { echo "SKIP: $t not installed"; exit 0; }; done
}

# A private Docker engine (vfs) for this script. Sets DOCKER_HOST and DOCKER (the client).
DOCKER=/usr/bin/docker
start_dockerd() {
    D="$T/docker"; mkdir -p "$D"
    dockerd --data-root "$D/root" --exec-root "$D/exec" --storage-driver vfs \
        --iptables=false --ip6tables=false --bridge=none \
        -H "unix://$D/docker.sock" --pidfile "$D/pid" >"$D/log" 2>&1 &
    DOCKERD_PID=$!
    add_cleanup stop_dockerd
    export DOCKER_HOST="unix://$D/docker.sock"
    i=0
    until "$DOCKER" version >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "dockerd did not start:"; tail -20 "$D/log"; return 1; }
        sleep 0.2
    done
}
stop_dockerd() {
    [ -n "${DOCKERD_PID:-}" ] || return 0
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=""
}

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)); }
