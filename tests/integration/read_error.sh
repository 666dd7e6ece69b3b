#!/bin/bash
# read_error.sh: a read error in the middle of a bundle is "could not run" (exit 2), never
# "verification failed" (exit 1), and says the bundle could not be read.
#
# The bundle comes on standard input from a TCP socket (bash's /dev/tcp). A small Python
# server sends its first bytes (the signed index and the first entries, which verify) and
# then resets the connection (SO_LINGER 0: an RST, so the reader gets ECONNRESET, not
# end of file). `verify -`, `load --into` every target that runs here (oci:, docker-archive:,
# oci-archive:, docker-daemon: on a private dockerd, docker:// on a private registry,
# containerd: on a private containerd, containers-storage: in a private vfs store) and
# `verify --part` of a part whose reads fail (EIO) must exit 2 with "could not be read"
# and leave the target as it was. Each probe is shown to work: the same server sending the
# whole bundle verifies and loads (exit 0), the same bytes ended by a FIN instead of an RST
# are a truncated bundle (exit 1), and every "target unchanged" check sees a good load change it.
. "$(dirname "$0")/../lib.sh"
plan 38
skip_unless python3 jq minisign tar
make_samples || exit 1
make_keys || exit 1
cd "$T" || exit 1

B="$T/bundle.tar"        # base, app-a, app-b
SMALL="$T/small.tar"     # app-a only: what each target holds before the failing load
# explicit sequences: the small bundle loads first, the whole one after it is no rollback
"$AIRPACK" pack -q --sequence 2 -o "$B" -s "$KEYS/sec" "$S/docker24/all.tar" >pack.out 2>&1 ||
    fail_rest "pack: $(head -c 300 pack.out)"
"$AIRPACK" pack -q --sequence 1 -o "$SMALL" -s "$KEYS/sec" "$S/docker24/app-a.tar" >pack.out 2>&1 ||
    fail_rest "pack small: $(head -c 300 pack.out)"
# where to cut: half way into the last blob, so the index, its signature and the blobs
# before it (every layer among them) have verified when the read fails
CUT=$(python3 -c '
import sys, tarfile
ms = [m for m in tarfile.open(sys.argv[1]).getmembers() if m.name.startswith("blobs/")]
last = max(ms, key=lambda m: m.offset_data)
print(last.offset_data + last.size // 2)' "$B")
ENTRIES_BEFORE=$(python3 -c '
import sys, tarfile
print(sum(1 for m in tarfile.open(sys.argv[1]).getmembers() if m.offset_data + m.size <= int(sys.argv[2])))' "$B" "$CUT")
[ "$ENTRIES_BEFORE" -ge 5 ] || fail_rest "only $ENTRIES_BEFORE entries before the cut at $CUT"

# serve MODE FILE: a one-connection server on a free port, in the background; sets SRV_PORT.
# MODE rst: CUT bytes, then a reset; fin: CUT bytes, then a normal close; all: the whole file.
# It writes "sent N" to srv.log when done (the probe that it really cut where we said).
SRV_PIDS=""
stop_servers() { for p in $SRV_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; SRV_PIDS=""; }
add_cleanup stop_servers
serve() {
    rm -f srv.port srv.log
    python3 - "$1" "$2" "$CUT" >srv.log 2>&1 <<'PY' &
import socket, struct, sys, time
mode, path, cut = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open("srv.port.tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename("srv.port.tmp", "srv.port")
c, _ = s.accept()
data = open(path, "rb").read()
if mode != "all":
    data = data[:cut]
c.sendall(data)
if mode == "rst":
    # an RST drops what this side has not sent yet: wait until the reader's side has
    # acknowledged every byte (SIOCOUTQ, the unacknowledged bytes, is 0), then reset
    import array, fcntl, termios
    q = array.array("i", [0])
    for _ in range(600):
        fcntl.ioctl(c.fileno(), termios.TIOCOUTQ, q)
        if q[0] == 0:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("sent", len(data), flush=True)
PY
    SRV_PIDS="$SRV_PIDS $!"
    for _ in $(seq 100); do [ -f srv.port ] && break; sleep 0.05; done
    SRV_PORT=$(cat srv.port 2>/dev/null)
}
# from_socket MODE FILE command...: runs the command with standard input connected to the server
from_socket() {
    local mode=$1 file=$2; shift 2
    serve "$mode" "$file"
    [ -n "$SRV_PORT" ] || { echo "server did not start: $(cat srv.log)" >&2; return 99; }
    "$@" </dev/tcp/127.0.0.1/"$SRV_PORT"
}
# expect_read_error NAME command...: exit 2, "could not be read" said, "verification failed" not said
expect_read_error() {
    local n=$1; shift
    from_socket rst "$B" "$@" >out 2>err; local rc=$? why
    if why=$(san_trouble "$rc" err); then fail "$n" "$why"
    elif [ $rc -ne 2 ]; then fail "$n" "exit $rc, wanted 2: $(head -c 400 err)"
    elif ! grep -q "could not be read" err; then fail "$n" "no 'could not be read': $(head -c 400 err)"
    elif grep -qi "verification failed" err; then fail "$n" "says verification failed: $(head -c 400 err)"
    elif ! grep -qi "connection reset" err; then fail "$n" "does not name the read error: $(head -c 400 err)"
    else pass "$n"; fi
}

# ---- the probes: the socket plumbing works, and a reset is not a truncation -------------
from_socket all "$B" "$AIRPACK" verify -q -p "$KEYS/pub" - >out 2>err
rc=$?
if [ $rc -eq 0 ] && grep -q "verified" out; then pass "verify - from a socket: the whole bundle verifies"
else fail "verify - from a socket: the whole bundle verifies" "exit $rc: $(head -c 300 err)"; fi
from_socket fin "$B" "$AIRPACK" verify -q -p "$KEYS/pub" - >out 2>err
rc=$?
if [ $rc -eq 1 ] && grep -q "verification FAILED" err; then pass "the same bytes ended by a FIN: truncated, exit 1"
else fail "the same bytes ended by a FIN: truncated, exit 1" "exit $rc: $(head -c 300 err)"; fi

# ---- verify - ------------------------------------------------------------------------------
expect_read_error "verify -: reset mid-bundle exits 2, could not be read" "$AIRPACK" verify -q -p "$KEYS/pub" -
if grep -q "sent $CUT" srv.log && grep -q "offset $CUT: reading stdin" err; then
    pass "the server sent $CUT bytes, then reset; verify read them all and failed at offset $CUT"
else fail "the server sent $CUT bytes, then reset; verify failed at offset $CUT" "$(cat srv.log) $(head -c 300 err)"; fi
from_socket rst "$B" "$AIRPACK" verify -q --json -p "$KEYS/pub" - >out 2>err
checked=$(jq -r .entries_checked out 2>/dev/null)
if [ "${checked:-0}" -ge 3 ] && jq -e '.verdict == "failed"' out >/dev/null; then
    pass "verify --json: $checked entries verified before the reset"
else fail "verify --json: entries verified before the reset" "$(head -c 300 out) $(head -c 300 err)"; fi

# ---- load into each target: exit 2, nothing changed; a good load does change the probe -------
# target_case NAME TARGET PROBE-FUNCTION: PROBE prints what the target holds
target_case() {
    local n=$1 target=$2 probe=$3 before after
    "$AIRPACK" load -q -p "$KEYS/pub" --into "$target" "$SMALL" >lo.out 2>&1 ||
        { fail_cases 4 "load --into $n" "the first load failed: $(head -c 300 lo.out)"; return; }
    before=$($probe)
    expect_read_error "load --into $n: reset mid-bundle exits 2, could not be read" \
        "$AIRPACK" load -q -p "$KEYS/pub" --into "$target" -
    if grep -q "nothing was loaded" err; then pass "load --into $n: says nothing was loaded"
    else fail "load --into $n: says nothing was loaded" "$(head -c 300 err)"; fi
    after=$($probe)
    if [ -n "$before" ] && [ "$before" = "$after" ]; then pass "load --into $n: the target is unchanged"
    else fail "load --into $n: the target is unchanged" "before: $before / after: $after"; fi
    "$AIRPACK" load -q -p "$KEYS/pub" --into "$target" "$B" >lo.out 2>&1 ||
        { fail "load --into $n: the probe sees a good load" "the good load failed: $(head -c 300 lo.out)"; return; }
    after=$($probe)
    if [ "$before" != "$after" ]; then pass "load --into $n: the probe sees a good load"
    else fail "load --into $n: the probe sees a good load" "unchanged: $after"; fi
}
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
file_sum() { sha256sum <"$1" | cut -c1-16; }
probe_oci() { tree_sum "$T/oci"; }
probe_da() { file_sum "$T/da.tar"; }
probe_oa() { file_sum "$T/oa.tar"; }
target_case oci "oci:$T/oci" probe_oci
target_case docker-archive "docker-archive:$T/da.tar" probe_da
target_case oci-archive "oci-archive:$T/oa.tar" probe_oa
if [ -n "$(ls -A "$T" | grep airpack-tmp)" ]; then fail "no temporary file left" "$(ls -A "$T" | grep airpack-tmp)"
else pass "no temporary file left next to the archives"; fi

if need_dockerd 4 docker-daemon; then
    if docker_probe; then
        probe_docker() { docker_list | tr '\n' ' '; }
        target_case docker-daemon "docker-daemon:" probe_docker
    else fail_cases 4 docker-daemon "docker import of the control image failed"; fi
    stop_dockerd
fi

if ! have docker-registry || ! have curl; then skip docker:// "docker-registry or curl not installed" 4
elif ! start_registry reg >reg.out 2>&1; then fail_cases 4 docker:// "docker-registry did not start: $(tail -3 reg.out | tr '\n' ' ')"
else
    R="127.0.0.1:$REG_PORT"
    # what a pull sees: each name's tags and the manifest its tag names (blobs uploaded on
    # the way without a manifest are unreferenced; the registry's catalog may list their repository)
    probe_registry() {
        local r out=""
        for r in sample/base sample/app-a sample/app-b; do
            out="$out $r:$(curl -s "http://$R/v2/m/$r/tags/list" | jq -c .tags)"
            out="$out:$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
                "http://$R/v2/m/$r/manifests/1.0")"
        done
        echo "$out"
    }
    target_case registry "docker://$R/m" probe_registry
fi

if have containerd && have ctr; then
    ok=""; start_containerd && ok=1
    if [ -n "$ok" ]; then
        export CONTAINERD_ADDRESS="$C/c.sock"
        probe_containerd() { ctr -a "$C/c.sock" -n re images ls | sort | tr '\n' ' '; }
        target_case containerd "containerd:re" probe_containerd
    else fail_cases 4 containerd "containerd is installed but did not start: $(tail -3 "$C/log" | tr '\n' ' ')"; fi
else skip containerd "containerd or ctr not installed" 4; fi

if have podman; then
    P="$T/podman"
    PODMAN="podman --root $P/root --runroot $P/run --storage-driver vfs"
    if $PODMAN images >/dev/null 2>&1; then
        probe_storage() { $PODMAN images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort | tr '\n' ' '; }
        target_case containers-storage "containers-storage:[vfs@$P/root+$P/run]" probe_storage
    else fail_cases 4 containers-storage "podman is installed but cannot list its store"; fi
else skip containers-storage "podman not installed" 4; fi

# ---- verify --part: a part on a failing medium -----------------------------------------------
mkdir -p sp
"$AIRPACK" pack -q -s "$KEYS/sec" --split 1M -o sp/b.tar "$S/docker24/app-a.tar" >pack.out 2>&1 ||
    fail_rest "pack --split: $(head -c 300 pack.out)"
if "$AIRPACK" verify -q -p "$KEYS/pub" --part sp/b.tar.000 >out 2>err; then pass "verify --part: the part itself is good"
else fail "verify --part: the part itself is good" "$(head -c 300 err)"; fi
# the failing medium: /proc/self/mem, whose first page is never mapped: every read is EIO
mv sp/b.tar.000 sp/good.000
ln -s /proc/self/mem sp/b.tar.000
if ! head -c 1 sp/b.tar.000 >/dev/null 2>head.err && grep -qi "input/output error" head.err; then
    pass "the failing medium fails: reading it is EIO"
else fail "the failing medium fails: reading it is EIO" "$(cat head.err)"; fi
"$AIRPACK" verify -q -p "$KEYS/pub" --part sp/b.tar.000 >out 2>err
rc=$?
if [ $rc -eq 2 ] && grep -q "could not be read" err && ! grep -qi "FAILED\|BAD" err; then
    pass "verify --part: a read error exits 2, could not be read"
else fail "verify --part: a read error exits 2, could not be read" "exit $rc: $(head -c 300 err)"; fi
"$AIRPACK" verify -q -p "$KEYS/pub" --json --part sp/b.tar.000 >out 2>err
if jq -e '.verdict == "failed"' out >/dev/null 2>&1; then pass "verify --part --json: verdict failed (not bad)"
else fail "verify --part --json: verdict failed (not bad)" "$(head -c 300 out)"; fi
