#!/bin/bash
# load_containerd_podman: `airpack load --into containerd:NS` against a private
# containerd started here, and `--into containers-storage:[vfs@ROOT+RUNROOT]`
# into a private podman store: names and image IDs (config digests) as in the
# bundle, a second load changes nothing, a tampered bundle loads nothing, no
# temporary layout is left behind.
. "$(dirname "$0")/../lib.sh"
plan 22
skip_unless jq minisign python3
make_samples || exit 1
make_keys || exit 1

B="$T/bundle.tar"
if "$AIRPACK" pack -q -o "$B" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/pack.out" 2>&1; then pass pack
else fail pack "$(head -c 300 "$T/pack.out")"; exit 0; fi
BD="$T/dense.tar"
"$AIRPACK" pack -q --dense -o "$BD" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/packd.out" 2>&1 ||
    fail pack-dense "$(head -c 300 "$T/packd.out")"
IMAGES="sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0"
bundle_manifest() { index_json "$B" | jq -r --arg n "$1" '.images[] | select(.names | index($n)) | .manifest.digest'; }
cp "$B" "$T/bad.tar"
off=$(python3 -c 'import tarfile,sys; m=tarfile.open(sys.argv[1]).getmembers()[-1]; print(m.offset_data + m.size // 2)' "$T/bad.tar")
printf '\x01' | dd of="$T/bad.tar" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
# the temporary layouts live in our own TMPDIR, so we can see that none is left
export TMPDIR="$T/tmp"; mkdir -p "$TMPDIR"
leftovers() { ls -A "$TMPDIR" | grep -c '^airpack-'; }
load() { "$AIRPACK" load -q -p "$KEYS/pub" "$@"; }

# ---- containerd -------------------------------------------------------------------
containerd_tests() {
    local ok=""
    start_containerd && ok=1
    if [ -z "$ok" ]; then fail_cases 11 containerd "containerd is installed but did not start: $(tail -3 "$C/log" | tr '\n' ' ')"; return; fi
    local CTR="ctr -a $C/c.sock -n testns"
    export CONTAINERD_ADDRESS="$C/c.sock"
    if load --into containerd:testns "$B" >"$T/c1.out" 2>&1; then pass containerd-load
    else fail containerd-load "$(head -c 400 "$T/c1.out")"; fi
    local bad="" i got
    for i in $IMAGES; do
        got=$($CTR images ls | awk -v n="docker.io/$i" '$1 == n { print $3 }')
        [ "$got" = "$(bundle_manifest "docker.io/$i")" ] || bad="$bad $i:${got:-missing}"
    done
    if [ -z "$bad" ]; then pass containerd-names-and-digests; else fail containerd-names-and-digests "$bad"; fi
    # the image ID: the config that containerd resolves for the name
    bad=""
    for i in $IMAGES; do
        got=$($CTR content get "$($CTR images ls | awk -v n="docker.io/$i" '$1 == n { print $3 }')" 2>/dev/null | jq -r .config.digest)
        [ "$got" = "$(image_id "$i")" ] || bad="$bad $i:${got:-missing}"
    done
    if [ -z "$bad" ]; then pass containerd-image-ids; else fail containerd-image-ids "$bad"; fi
    if $CTR images check 2>/dev/null | grep 'sample/app-a' | grep -q 'complete'; then pass containerd-content-complete
    else fail containerd-content-complete "$($CTR images check 2>&1 | head -c 300)"; fi
    # a dense bundle: layers rebuilt, then imported; the same image IDs
    local CTRD="ctr -a $C/c.sock -n densens"
    if load --into containerd:densens "$BD" >"$T/cd.out" 2>&1; then
        bad=""
        for i in $IMAGES; do
            got=$($CTRD content get "$($CTRD images ls | awk -v n="docker.io/$i" '$1 == n { print $3 }')" 2>/dev/null | jq -r .config.digest)
            [ "$got" = "$(image_id "$i")" ] || bad="$bad $i:${got:-missing}"
        done
        if [ -z "$bad" ]; then pass containerd-dense-image-ids; else fail containerd-dense-image-ids "$bad"; fi
    else fail containerd-dense-image-ids "$(head -c 400 "$T/cd.out")"; fi
    if load --into containerd:testns "$B" >"$T/c2.out" 2>&1 && grep -q 'already present' "$T/c2.out" &&
       ! grep -qw 'new' "$T/c2.out"; then pass containerd-second-load-already-present
    else fail containerd-second-load-already-present "$(head -c 300 "$T/c2.out")"; fi
    if load --into containerd:only --image sample/app-b:1.0 "$B" >"$T/c3.out" 2>&1 &&
       [ "$(ctr -a "$C/c.sock" -n only images ls -q)" = "docker.io/sample/app-b:1.0" ]; then pass containerd-image-filter
    else fail containerd-image-filter "$(head -c 300 "$T/c3.out") / $(ctr -a "$C/c.sock" -n only images ls -q | tr '\n' ' ')"; fi
    expect_fail containerd-tampered-fails 1 'entry manifest.json at offset [0-9]+: sha256 [0-9a-f]{64}, the signed index says' \
        load --into containerd:tampered "$T/bad.tar"
    # the probe (ctr images ls -q) lists the three images in testns, and answers, empty, for tampered
    local seen listed
    seen=$(ctr -a "$C/c.sock" -n testns images ls -q 2>&1 | wc -l)
    if listed=$(ctr -a "$C/c.sock" -n tampered images ls -q 2>&1) && [ -z "$listed" ] && [ "$seen" -eq 3 ]; then
        pass containerd-tampered-loads-nothing
    else fail containerd-tampered-loads-nothing "tampered: $(tr '\n' ' ' <<<"$listed"); the probe saw $seen images in testns"; fi
    CONTAINERD_ADDRESS="$T/no-such.sock" expect_fail containerd-unreachable 2 'ctr.*no-such.sock' \
        load --into containerd:testns "$B"
    expect_fail containerd-bad-namespace 2 'namespace' load --into 'containerd:bad/ns' "$B"
    unset CONTAINERD_ADDRESS
    stop_containerd
}
if have containerd && have ctr; then containerd_tests; else skip containerd "containerd or ctr not installed" 11; fi

# ---- podman's containers-storage (vfs under $T) -----------------------------------
storage_tests() {
    local P="$T/podman"
    mkdir -p "$P"
    local STORE="vfs@$P/root+$P/run"
    local PODMAN="podman --root $P/root --runroot $P/run --storage-driver vfs"
    if ! $PODMAN images >/dev/null 2>"$T/p.err"; then fail_cases 9 containers-storage "podman is installed but does not run: $(head -c 200 "$T/p.err")"; return; fi
    if load --into "containers-storage:[$STORE]" "$B" >"$T/p1.out" 2>&1; then pass storage-load
    else fail storage-load "$(head -c 400 "$T/p1.out")"; fi
    local bad="" i got
    for i in $IMAGES; do
        got=$($PODMAN images --no-trunc --format '{{.ID}}' "docker.io/$i" 2>/dev/null)
        want=$(image_id "$i"); want=${want#sha256:}
        [ "${got#sha256:}" = "$want" ] || bad="$bad $i:${got:-missing}"
    done
    if [ -z "$bad" ]; then pass storage-image-ids; else fail storage-image-ids "$bad"; fi
    if [ "$($PODMAN images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" = \
         "docker.io/sample/app-a:1.0 docker.io/sample/app-b:1.0 docker.io/sample/base:1.0 " ]; then
        pass storage-names
    else fail storage-names "$($PODMAN images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')"; fi
    # the store's own check of every layer against the diff_ids
    if $PODMAN image inspect docker.io/sample/app-a:1.0 2>/dev/null | jq -r '.[0].RootFS.Layers | join(",")' |
       grep -qx "$(diff_ids sample/app-a:1.0 | paste -sd,)"; then pass storage-diff-ids
    else fail storage-diff-ids "$($PODMAN image inspect docker.io/sample/app-a:1.0 2>&1 | head -c 200)"; fi
    # the same store named without brackets; a second load changes nothing
    if load --into "containers-storage:$STORE" "$B" >"$T/p2.out" 2>&1 && grep -q 'already present' "$T/p2.out" &&
       ! grep -qw 'new' "$T/p2.out"; then pass storage-second-load-already-present
    else fail storage-second-load-already-present "$(head -c 300 "$T/p2.out")"; fi
    # a dense bundle into another store: layers rebuilt, then stored; the same image IDs
    local D="$T/podman-dense"
    mkdir -p "$D"
    if load --into "containers-storage:[vfs@$D/root+$D/run]" "$BD" >"$T/pd.out" 2>&1; then
        bad=""
        for i in $IMAGES; do
            got=$(podman --root "$D/root" --runroot "$D/run" --storage-driver vfs images --no-trunc --format '{{.ID}}' "docker.io/$i" 2>/dev/null)
            want=$(image_id "$i"); want=${want#sha256:}
            [ "${got#sha256:}" = "$want" ] || bad="$bad $i:${got:-missing}"
        done
        if [ -z "$bad" ]; then pass storage-dense-image-ids; else fail storage-dense-image-ids "$bad"; fi
    else fail storage-dense-image-ids "$(head -c 400 "$T/pd.out")"; fi
    local Q="$T/podman2" n
    mkdir -p "$Q"
    expect_fail storage-tampered-fails 1 'entry manifest.json at offset [0-9]+: sha256 [0-9a-f]{64}, the signed index says' \
        load --into "containers-storage:[vfs@$Q/root+$Q/run]" "$T/bad.tar"
    # the probe (podman images -q) lists the three images of the first store, and answers, empty, for this one
    local seen listed
    seen=$($PODMAN images -q 2>&1 | wc -l)
    if listed=$(podman --root "$Q/root" --runroot "$Q/run" --storage-driver vfs images -q 2>&1) && [ -z "$listed" ] && [ "$seen" -eq 3 ]; then
        pass storage-tampered-loads-nothing
    else fail storage-tampered-loads-nothing "listed: $(tr '\n' ' ' <<<"$listed"); the probe saw $seen images in the first store"; fi
    expect_fail storage-bad-spec 2 'containers-storage' load --into "containers-storage:[vfs@$Q/root" "$B"
}
if have podman && have skopeo; then storage_tests; else skip containers-storage "podman or skopeo not installed" 9; fi

n=$(leftovers)
if [ "$n" -eq 0 ]; then pass no-temporary-layout-left; else fail no-temporary-layout-left "$(ls -A "$TMPDIR" | head -3 | tr '\n' ' ')"; fi
