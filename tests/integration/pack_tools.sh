#!/bin/bash
# pack_tools: a zstd bundle read by the other real tools: podman load, skopeo
# (docker-archive: and oci-archive: views), minisign on the extracted index,
# umoci, and containerd's ctr import (on a private containerd).
. "$(dirname "$0")/../lib.sh"
plan 11
skip_unless jq minisign
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
B="$O/bundle.tar"
NAMES="sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0"
if "$AIRPACK" pack -q -o "$B" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/stdout" 2>"$T/err"; then
    pass pack-zstd
else fail pack-zstd "exit $?: $(head -c 300 "$T/err")"; exit 0; fi
# a second bundle whose images have distinct tags, so each has its own OCI ref name
B2="$O/tags.tar"
"$AIRPACK" pack -q -o "$B2" -s "$KEYS/sec" "$S/docker24/distinct-tags.tar" >"$T/stdout" 2>"$T/err" ||
    fail pack-distinct-tags "exit $?: $(head -c 300 "$T/err")"

# ---- minisign verifies the extracted index; the index covers every entry ------------
X="$T/x"; mkdir -p "$X"
if tar -xf "$B" -C "$X" airpack/bundle.json airpack/bundle.json.minisig 2>"$T/err" &&
   minisign -Vm "$X/airpack/bundle.json" -p "$KEYS/pub" >"$T/ms" 2>&1; then
    if grep -q 'file:bundle.json' "$T/ms" && grep -q 'hashed' "$T/ms"; then pass minisign-verifies
    else fail minisign-verifies "trusted comment: $(grep -i trusted "$T/ms")"; fi
else fail minisign-verifies "$(head -c 300 "$T/err" "$T/ms" 2>/dev/null)"; fi
# the same index with one byte changed must not verify (the signature is over these bytes)
if [ -f "$X/airpack/bundle.json" ]; then
    cp "$X/airpack/bundle.json.minisig" "$T/t.json.minisig"
    sed 's/"airpack_bundle":1/"airpack_bundle":2/' "$X/airpack/bundle.json" >"$T/t.json"
    if minisign -Vm "$T/t.json" -p "$KEYS/pub" >/dev/null 2>&1; then fail minisign-rejects-tampered "a changed index verified"
    else pass minisign-rejects-tampered; fi
fi
why=$(bundle_check "$B") && pass bundle-format || fail bundle-format "$why"

# ---- skopeo: the bundle is a docker-archive and an OCI archive ----------------------
if have skopeo; then
    bad=""
    for n in $NAMES; do
        got=$(skopeo inspect --raw "docker-archive:$B:$n" 2>"$T/err" | jq -r .config.digest)
        raw=$(skopeo inspect --raw --config "docker-archive:$B:$n" 2>>"$T/err" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$(image_id "$n")" ] && [ "sha256:$raw" = "$got" ] || bad="$bad $n:$got/$raw"
    done
    if [ -z "$bad" ]; then pass skopeo-docker-archive; else fail skopeo-docker-archive "$bad $(head -c 200 "$T/err")"; fi
    bad=""
    for i in base app-a app-b; do
        got=$(skopeo inspect --raw "oci-archive:$B2:$i" 2>"$T/err" | jq -r .config.digest)
        [ "$got" = "$(image_id "sample/$i:1.0")" ] || bad="$bad $i:$got"
    done
    if [ -z "$bad" ]; then pass skopeo-oci-archive; else fail skopeo-oci-archive "$bad $(head -c 200 "$T/err")"; fi
    # skopeo copies an image out of the bundle's OCI view into a fresh OCI layout
    mkdir -p "$T/ocix"; tar -xf "$B2" -C "$T/ocix"
    if skopeo copy -q "oci:$T/ocix:app-a" "oci:$T/copied:app-a" >"$T/err" 2>&1 &&
       [ "$(skopeo inspect --raw "oci:$T/copied:app-a" | jq -r .config.digest)" = "$(image_id sample/app-a:1.0)" ]; then
        pass skopeo-copy-oci
    else fail skopeo-copy-oci "$(head -c 300 "$T/err")"; fi
else skip skopeo "skopeo not installed" 3; fi

# ---- umoci unpacks an image from the extracted OCI layout ---------------------------
# (umoci 0.4.7 reads no zstd layers, so this one is a gzip bundle)
if have umoci; then
    mkdir -p "$T/ocig"
    if "$AIRPACK" pack -q -o "$O/tags-gz.tar" -s "$KEYS/sec" --compression gzip "$S/docker24/distinct-tags.tar" >"$T/err" 2>&1 &&
       tar -xf "$O/tags-gz.tar" -C "$T/ocig" &&
       umoci unpack --rootless --image "$T/ocig:app-b" "$T/bundle-b" >"$T/err" 2>&1 &&
       [ "$("$T/bundle-b/rootfs/bin/hello" app-b "$T/bundle-b/rootfs/etc/app-b.conf" | tail -1)" = "greeting = app-b configuration, layer 2" ]; then
        pass umoci-unpack
    else fail umoci-unpack "$(head -c 300 "$T/err")"; fi
else skip umoci-unpack "umoci not installed"; fi

# ---- podman load (vfs, private storage) keeps the image IDs --------------------------
if have podman; then
    mkdir -p "$T/ptmp"
    P="podman --root $T/storage --runroot $T/run --storage-driver vfs --tmpdir $T/ptmp --cgroup-manager cgroupfs --events-backend file"
    if $P load -i "$B" >"$T/pl" 2>&1; then
        bad=""
        for n in $NAMES; do
            got=$($P image inspect --format '{{.Id}}' "$n" 2>/dev/null)
            [ "sha256:$got" = "$(image_id "$n")" ] || [ "$got" = "$(image_id "$n")" ] || bad="$bad $n:${got:-missing}"
        done
        if [ -z "$bad" ]; then pass podman-load-ids; else fail podman-load-ids "$bad; podman said: $(tail -c 200 "$T/pl")"; fi
    else fail podman-load-ids "$(tail -c 300 "$T/pl")"; fi
    $P rmi -af >/dev/null 2>&1
else skip podman-load-ids "podman not installed"; fi

# ---- containerd: ctr import on a private containerd -----------------------------------
if ! have containerd || ! have ctr; then skip ctr-import "containerd or ctr not installed" 2
elif ! start_containerd; then fail_cases 2 ctr-import "containerd is installed but did not start: $(tail -3 "$C/log" | tr '\n' ' ')"
else
    CTR="ctr -a $C/c.sock -n airpack"
    if $CTR images import --snapshotter native "$B" >"$T/ci" 2>&1; then
        bad=""
        for n in $NAMES; do
            m=$($CTR images ls 2>/dev/null | awk -v r="docker.io/$n" '$1 == r { print $3 }')
            want=$(index_json "$B" | jq -r --arg n "docker.io/$n" '.images[] | select(.names | index($n)) | .manifest.digest')
            cfg=$($CTR content get "$m" 2>/dev/null | jq -r .config.digest)
            [ -n "$m" ] && [ "$m" = "$want" ] && [ "$cfg" = "$(image_id "$n")" ] || bad="$bad $n:manifest=${m:-missing},config=$cfg"
        done
        if [ -z "$bad" ]; then pass ctr-import-ids; else fail ctr-import-ids "$bad"; fi
        out=$($CTR run --rm --snapshotter native docker.io/sample/app-a:1.0 airpack-t1 2>&1)
        if grep -qxF "Hello from app-a!" <<<"$out"; then pass ctr-run
        else fail ctr-run "ctr run printed: $(head -c 200 <<<"$out")"; fi
    else fail_cases 2 ctr-import "$(tail -c 300 "$T/ci")"; fi
fi
exit 0
