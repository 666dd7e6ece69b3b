#!/bin/bash
# load_hostile.sh: every target checks what `verify --deep` checks before it commits.
#
# Bundles signed by a trusted key whose every entry matches the signed index, but whose
# layer is hostile (tests/tools/forge_hostile.py, written without airpack): a zstd frame
# claiming 1 TB, a 50 GiB zstd RLE bomb, a 1 GiB gzip bomb with a wrong diff_id, and a
# config whose diff_id is not the index's. Plain `verify` accepts them; `verify --deep`
# refuses them; so must `load` into every target, leaving the store as it was. Each
# store's probe is shown to see a change first (the good bundle loaded into it).
. "$(dirname "$0")/../lib.sh"
plan 71
skip_unless minisign python3 jq
make_keys || exit 1

W=$T/w
mkdir -p "$W"
KINDS="zstd1tb zstd50g gzip1g configdiff"
for k in good $KINDS; do
    python3 "$TOP/tests/tools/forge_hostile.py" "$W/$k.tar" "$k" "$KEYS/sec" >"$W/forge.log" 2>&1 ||
        { fail "forge $k" "$(tail -3 "$W/forge.log")"; exit 0; }
done
declare -A WHY=([zstd1tb]="Frame requires too much memory" [zstd50g]="decompresses past its declared size"
                [gzip1g]="decompressed sha256 is sha256:[0-9a-f]{64}, its diff_id is"
                [configdiff]="config of images\[0\]: diff_id 0 is")
V=("$AIRPACK" verify -q -p "$KEYS/pub")
for k in $KINDS; do
    check "$k: plain verify accepts it (every entry matches the signed index)" "${V[@]}" "$W/$k.tar"
    expect_fail "$k: verify --deep refuses it" 1 "${WHY[$k]}" "${V[@]}" --deep "$W/$k.tar"
done

load() { "$AIRPACK" load -q -p "$KEYS/pub" "$@"; }
# hostile TARGET-NAME SPEC PROBE-FUNCTION [LOAD-OPTIONS...]: the good bundle changes what the probe sees;
# each hostile bundle is refused (exit 1, the reason named) and the probe sees no change.
hostile() {
    local name=$1 spec=$2 probe=$3 k before after
    shift 3
    before=$($probe)
    if load "$@" --into "$spec" "$W/good.tar" >"$T/good.out" 2>&1; then
        after=$($probe)
        [ "$before" != "$after" ] && pass "$name: probe sees the good bundle loaded" ||
            fail "$name: probe sees the good bundle loaded" "no change: $before"
    else
        fail "$name: good bundle loads" "$(head -c 300 "$T/good.out")"
    fi
    for k in $KINDS; do
        before=$($probe)
        expect_fail "$name: $k refused" 1 "${WHY[$k]}" load "$@" --into "$spec" "$W/$k.tar"
        after=$($probe)
        [ "$before" = "$after" ] && pass "$name: $k left the store unchanged" ||
            fail "$name: $k left the store unchanged" "$(diff <(echo "$before") <(echo "$after") | head -5 | tr '\n' ' ')"
    done
}

tree() { # DIR: every file under it with its sha256 (nothing when absent)
    [ -d "$1" ] && (cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# ---- oci: ------------------------------------------------------------------------------
probe_oci() { tree "$W/oci"; }
hostile "oci:" "oci:$W/oci" probe_oci

# ---- docker-archive: and oci-archive: (the file, and nothing else next to it) ------------
mkdir -p "$W/da" "$W/oa"
probe_da() { tree "$W/da"; }
probe_oa() { tree "$W/oa"; }
hostile "docker-archive:" "docker-archive:$W/da/out.tar" probe_da
rm -f "$W/da/out.tar"
hostile "oci-archive:" "oci-archive:$W/oa/out.tar" probe_oa
rm -f "$W/oa/out.tar"

# ---- docker-daemon: (images, and the layers the engine holds) ----------------------------
if need_dockerd 9 "docker-daemon:"; then
    probe_docker() {
        "$DOCKER" image ls -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort
        ls "$D/root/vfs/dir" 2>/dev/null | sort
        ls "$D/root/image/vfs/layerdb/sha256" 2>/dev/null | sort
    }
    hostile "docker-daemon:" "docker-daemon:" probe_docker
    stop_dockerd
fi

# ---- docker:// (everything the registry stores, uploads included) ------------------------
if ! have docker-registry; then skip "docker://" "docker-registry not installed" 9
elif start_registry reg; then
    # tags, manifests, blob data and uploads in progress. A layer that verified may be linked
    # into a repository before a later entry fails (a registry has no transaction): its
    # _layers link is left out; its data, and any upload, are not.
    probe_reg() { tree "$T/reg/data" | grep -v '/_layers/'; }
    hostile "docker://" "docker://127.0.0.1:$REG_PORT/mirror" probe_reg --tls-verify=false
else
    fail_cases 9 "docker://" "docker-registry is installed but did not start (see above)"
fi

# ---- containerd: ------------------------------------------------------------------------------
if have containerd && have ctr; then
    ok=""; start_containerd && ok=1
    if [ -n "$ok" ]; then
        export CONTAINERD_ADDRESS="$C/c.sock"
        # images, and whether the content each references is there (ctr images check); content
        # no image references is containerd's garbage collector's to remove, when it runs
        probe_ctrd() {
            ctr -a "$C/c.sock" -n hostile images ls | awk 'NR > 1 { print $1, $3 }' | sort
            ctr -a "$C/c.sock" -n hostile images check 2>&1 | awk 'NR > 1' | sort
        }
        hostile "containerd:" "containerd:hostile" probe_ctrd
        unset CONTAINERD_ADDRESS
    else
        fail_cases 9 "containerd:" "containerd is installed but did not start: $(tail -3 "$C/log" | tr '\n' ' ')"
    fi
    stop_containerd
else
    skip "containerd:" "containerd or ctr not installed" 9
fi

# ---- containers-storage: (podman, vfs) ----------------------------------------------------
if have podman; then
    P="$T/podman"
    mkdir -p "$P"
    PODMAN="podman --root $P/root --runroot $P/run --storage-driver vfs"
    if $PODMAN images >/dev/null 2>"$T/p.err"; then
        export TMPDIR="$T/tmp"; mkdir -p "$TMPDIR"
        probe_storage() {
            $PODMAN images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort
            ls "$P/root/vfs/dir" 2>/dev/null | sort
            ls -A "$TMPDIR"
        }
        hostile "containers-storage:" "containers-storage:[vfs@$P/root+$P/run]" probe_storage
    else
        fail_cases 9 "containers-storage:" "podman is installed but does not run: $(head -c 200 "$T/p.err")"
    fi
else
    skip "containers-storage:" "podman not installed" 9
fi
