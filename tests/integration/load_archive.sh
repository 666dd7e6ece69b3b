#!/bin/bash
# load_archive.sh: `airpack load --into docker-archive:FILE` and `--into oci-archive:FILE`,
# read back by the real tools: `docker load` into a private Docker 20.10 engine,
# `podman load` (vfs, private store), skopeo, and `ctr import` on a private containerd.
# Image IDs and names as in the bundle; layers uncompressed (default) or gzip; --image;
# a damaged or forged bundle leaves no FILE, no temporary file, and an existing FILE as it was.
. "$(dirname "$0")/../lib.sh"
plan 46
skip_unless jq minisign python3 tar
make_samples || exit 1
make_keys || exit 1

O="$T/out"; mkdir -p "$O"
B="$T/zstd.tar"        # base, app-a, app-b (shared base layer), zstd layers
BG="$T/gzip.tar"       # the same, gzip layers
BN="$T/none.tar"       # the same, uncompressed layers
BT="$T/tags.tar"       # base, app-a, app-b as sample/X:X (distinct OCI ref names; the same image IDs)
for x in "zstd $B" "gzip $BG" "none $BN"; do
    set -- $x
    "$AIRPACK" pack -q -c "$1" -o "$2" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/pack.out" 2>&1 ||
        { fail "pack $1" "$(head -c 300 "$T/pack.out")"; exit 0; }
done
"$AIRPACK" pack -q -o "$BT" -s "$KEYS/sec" "$S/docker24/distinct-tags.tar" >"$T/pack.out" 2>&1 ||
    { fail "pack distinct tags" "$(head -c 300 "$T/pack.out")"; exit 0; }
NAMES="sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0"
load() { "$AIRPACK" load -q -p "$KEYS/pub" "$@"; }
# no temporary archive left in the output directory
leftovers() { ls -A "$O" | grep -c 'airpack-tmp'; }

# archive_check FILE [gzip]: every blob matches its name; layers are plain tars (or gzip)
# whose sha256 (uncompressed) is the diff_id the config lists; manifests name the configs.
archive_check() {
    local f=$1 comp=${2:-none} x m cfg l dg did i
    x=$(mktemp -d "$T/x.XXXXXX")
    tar -xf "$f" -C "$x" || { echo "tar cannot extract it"; return 1; }
    for b in "$x"/blobs/sha256/*; do
        [ "$(sha256sum <"$b" | cut -c1-64)" = "$(basename "$b")" ] || { echo "blob $(basename "$b") does not match its name"; return 1; }
    done
    jq -e '.imageLayoutVersion == "1.0.0"' "$x/oci-layout" >/dev/null || { echo "no oci-layout"; return 1; }
    for m in $(jq -r '.manifests[].digest | ltrimstr("sha256:")' "$x/index.json"); do
        cfg=$(jq -r '.config.digest | ltrimstr("sha256:")' "$x/blobs/sha256/$m")
        [ -f "$x/blobs/sha256/$cfg" ] || { echo "manifest $m: config $cfg missing"; return 1; }
        i=0
        for l in $(jq -r '.layers[] | "\(.mediaType)|\(.digest | ltrimstr("sha256:"))"' "$x/blobs/sha256/$m"); do
            dg=${l#*|}
            did=$(jq -r ".rootfs.diff_ids[$i]" "$x/blobs/sha256/$cfg")
            case "$comp:${l%%|*}" in
                none:application/vnd.oci.image.layer.v1.tar) [ "sha256:$dg" = "$did" ] || { echo "layer $dg is not $did"; return 1; } ;;
                gzip:application/vnd.oci.image.layer.v1.tar+gzip)
                    [ "sha256:$(gzip -dc <"$x/blobs/sha256/$dg" | sha256sum | cut -c1-64)" = "$did" ] ||
                        { echo "layer $dg does not gunzip to $did"; return 1; } ;;
                *) echo "layer $dg: media type ${l%%|*} for $comp"; return 1 ;;
            esac
            i=$((i + 1))
        done
    done
    rm -rf "$x"
}

# ---- docker-archive: the archive itself -------------------------------------------------
DA="$O/images.tar"
if load --into "docker-archive:$DA" "$B" >"$T/l.out" 2>&1 && [ -f "$DA" ]; then pass docker-archive-load
else fail docker-archive-load "$(head -c 300 "$T/l.out")"; fi
why=$(archive_check "$DA") && pass docker-archive-blobs-and-diff-ids || fail docker-archive-blobs-and-diff-ids "$why"
got=$(tar -xOf "$DA" manifest.json | jq -r '[.[].RepoTags[]] | join(" ")')
if [ "$got" = "docker.io/sample/base:1.0 docker.io/sample/app-a:1.0 docker.io/sample/app-b:1.0" ] &&
   [ "$(tar -tf "$DA" | tail -1)" = manifest.json ]; then pass docker-archive-manifest-json
else fail docker-archive-manifest-json "RepoTags: $got; last entry $(tar -tf "$DA" | tail -1)"; fi
# the shared base layer is in the archive once
n=$(tar -tf "$DA" | sort | uniq -d | wc -l)
if [ "$n" -eq 0 ] && [ "$(tar -tf "$DA" | grep -c "$(diff_ids sample/base:1.0 | cut -c8-)")" -eq 1 ]; then
    pass docker-archive-shared-layer-once
else fail docker-archive-shared-layer-once "$(tar -tf "$DA" | sort | uniq -d | head -2)"; fi
# gzip bundle, uncompressed bundle: the same archive content; none -> none keeps the bundle's manifests
if load --into "docker-archive:$O/from-gzip.tar" "$BG" >"$T/l.out" 2>&1 &&
   load --into "docker-archive:$O/from-none.tar" "$BN" >>"$T/l.out" 2>&1 &&
   cmp -s "$DA" "$O/from-gzip.tar" && cmp -s "$DA" "$O/from-none.tar"; then
    pass docker-archive-same-bytes-from-zstd-gzip-none-bundles
else fail docker-archive-same-bytes-from-zstd-gzip-none-bundles "$(head -c 300 "$T/l.out")"; fi
if [ "$(tar -xOf "$BN" index.json | jq -r '[.manifests[].digest] | join(" ")')" = \
     "$(tar -xOf "$DA" index.json | jq -r '[.manifests[].digest] | join(" ")')" ]; then
    pass uncompressed-archive-keeps-the-bundles-manifests
else fail uncompressed-archive-keeps-the-bundles-manifests "manifest digests differ"; fi
# gzip layers
DG="$O/images-gz.tar"
if load --layer-compression gzip --into "docker-archive:$DG" "$B" >"$T/l.out" 2>&1; then
    why=$(archive_check "$DG" gzip) && pass docker-archive-gzip-layers || fail docker-archive-gzip-layers "$why"
else fail docker-archive-gzip-layers "$(head -c 300 "$T/l.out")"; fi
# a gzip bundle's layers are copied as they are: its manifests stay the same
if load --layer-compression gzip --into "docker-archive:$O/gz-from-gz.tar" "$BG" >"$T/l.out" 2>&1 &&
   [ "$(tar -xOf "$BG" index.json | jq -r '[.manifests[].digest] | join(" ")')" = \
     "$(tar -xOf "$O/gz-from-gz.tar" index.json | jq -r '[.manifests[].digest] | join(" ")')" ]; then
    pass gzip-archive-from-gzip-bundle-keeps-manifests
else fail gzip-archive-from-gzip-bundle-keeps-manifests "$(head -c 300 "$T/l.out")"; fi
# from standard input, with a JSON report
if "$AIRPACK" load -q --json -p "$KEYS/pub" --into "docker-archive:$O/stdin.tar" - <"$B" >"$T/j" 2>"$T/l.err" &&
   [ "$(jq -r .verdict "$T/j")" = loaded ] && [ "$(jq '.images | length' "$T/j")" -eq 3 ] && cmp -s "$DA" "$O/stdin.tar"; then
    pass docker-archive-from-stdin
else fail docker-archive-from-stdin "$(head -c 300 "$T/j" "$T/l.err")"; fi

# ---- docker load into a private Docker engine --------------------------------------------
ids_match() { # DOCKER-NAMES...: each has its sample image ID
    local n got
    for n in "$@"; do
        got=$("$DOCKER" inspect -f '{{.Id}}' "$n" 2>/dev/null) || { echo "$n missing"; return 1; }
        [ "$got" = "$(image_id "$n")" ] || { echo "$n is $got, wanted $(image_id "$n")"; return 1; }
    done
}
remove_all() { "$DOCKER" rmi -f $("$DOCKER" images -aq | sort -u) >/dev/null 2>&1; true; }
if need_dockerd 4 docker-load; then
    for f in "$DA" "$DG"; do
        what=$([ "$f" = "$DA" ] && echo uncompressed || echo gzip)
        if "$DOCKER" load -i "$f" >"$T/dl.out" 2>&1; then
            if why=$(ids_match $NAMES); then pass "docker-load-$what-ids-and-tags"
            else fail "docker-load-$what-ids-and-tags" "$why"; fi
        else fail "docker-load-$what-ids-and-tags" "$(head -c 300 "$T/dl.out")"; fi
        if [ "$f" = "$DA" ]; then
            out=$("$DOCKER" run --rm --network none sample/app-a:1.0 2>&1)
            if grep -q "Hello from app-a" <<<"$out"; then pass docker-run-loaded-image
            else fail docker-run-loaded-image "$(head -c 200 <<<"$out")"; fi
        fi
        remove_all
    done
    # --image writes only that image
    DI="$O/only-b.tar"
    if load --image sample/app-b:1.0 --into "docker-archive:$DI" "$B" >"$T/l.out" 2>&1 &&
       [ "$(tar -xOf "$DI" manifest.json | jq -c '[.[].RepoTags[]]')" = '["docker.io/sample/app-b:1.0"]' ] &&
       [ "$(tar -xOf "$DI" index.json | jq '.manifests | length')" -eq 1 ] &&
       [ "$(tar -tf "$DI" | grep -c '^blobs/')" -eq 4 ] &&
       "$DOCKER" load -i "$DI" >"$T/dl.out" 2>&1 && ids_match sample/app-b:1.0 >/dev/null &&
       ! "$DOCKER" inspect sample/app-a:1.0 >/dev/null 2>&1 && ! "$DOCKER" inspect sample/base:1.0 >/dev/null 2>&1; then
        pass image-filter-writes-only-that-image
    else fail image-filter-writes-only-that-image "$(head -c 300 "$T/l.out" "$T/dl.out" 2>/dev/null)"; fi
    remove_all
    stop_dockerd
fi

# ---- podman load and skopeo read the docker-archive -------------------------------------
if have podman; then
    mkdir -p "$T/ptmp"
    P="podman --root $T/storage --runroot $T/run --storage-driver vfs --tmpdir $T/ptmp --cgroup-manager cgroupfs --events-backend file"
    if $P load -i "$DA" >"$T/pl" 2>&1; then
        bad=""
        for n in $NAMES; do
            got=$($P image inspect --format '{{.Id}}' "docker.io/$n" 2>/dev/null)
            [ "sha256:${got#sha256:}" = "$(image_id "$n")" ] || bad="$bad $n:${got:-missing}"
        done
        if [ -z "$bad" ]; then pass podman-load-ids-and-names; else fail podman-load-ids-and-names "$bad; $(tail -c 200 "$T/pl")"; fi
    else fail podman-load-ids-and-names "$(tail -c 300 "$T/pl")"; fi
    $P rmi -af >/dev/null 2>&1
else skip podman-load "podman not installed"; fi
if have skopeo; then
    bad=""
    for n in $NAMES; do
        for f in "$DA" "$DG"; do
            got=$(skopeo inspect --config --raw "docker-archive:$f:$n" 2>"$T/err" | sha256sum | cut -c1-64)
            [ "sha256:$got" = "$(image_id "$n")" ] || bad="$bad $(basename "$f"):$n:$got"
        done
    done
    if [ -z "$bad" ]; then pass skopeo-inspect-docker-archive; else fail skopeo-inspect-docker-archive "$bad $(head -c 200 "$T/err")"; fi
else skip skopeo-inspect-docker-archive "skopeo not installed"; fi

# ---- oci-archive ------------------------------------------------------------------------
OA="$O/oci.tar"; OG="$O/oci-gz.tar"
if load --into "oci-archive:$OA" --layer-compression none "$BT" >"$T/l.out" 2>&1 &&
   load --into "oci-archive:$OG" --layer-compression gzip "$BT" >>"$T/l.out" 2>&1; then pass oci-archive-load
else fail oci-archive-load "$(head -c 300 "$T/l.out")"; fi
why=$(archive_check "$OA") && why2=$(archive_check "$OG" gzip) && pass oci-archive-blobs-and-diff-ids ||
    fail oci-archive-blobs-and-diff-ids "$why ${why2:-}"
# by default an OCI archive keeps the bundle's blobs, so its manifests are the bundle's (same digests)
OK="$O/oci-keep.tar"
if load --into "oci-archive:$OK" "$BT" >"$T/l.out" 2>&1 &&
   [ "$(tar -xOf "$OK" index.json | jq -r '[.manifests[].digest] | sort | join(" ")')" = \
     "$(index_json "$BT" | jq -r '[.images[].manifest.digest] | sort | join(" ")')" ]; then
    pass oci-archive-keeps-manifest-digests
else fail oci-archive-keeps-manifest-digests "$(head -c 300 "$T/l.out") $(tar -xOf "$OK" index.json | head -c 300)"; fi
if ! tar -tf "$OA" | grep -qx manifest.json &&
   [ "$(tar -xOf "$OA" index.json | jq -r '[.manifests[].annotations | ."io.containerd.image.name" + "=" + ."org.opencontainers.image.ref.name"] | join(" ")')" = \
     "docker.io/sample/base:base=base docker.io/sample/app-a:app-a=app-a docker.io/sample/app-b:app-b=app-b" ]; then
    pass oci-archive-index-names
else fail oci-archive-index-names "$(tar -xOf "$OA" index.json | head -c 300)"; fi
if have skopeo; then
    bad=""
    for i in base app-a app-b; do
        for f in "$OA" "$OG"; do
            got=$(skopeo inspect --raw "oci-archive:$f:$i" 2>"$T/err" | jq -r .config.digest)
            [ "$got" = "$(image_id "sample/$i:1.0")" ] || bad="$bad $(basename "$f"):$i:$got"
        done
    done
    if [ -z "$bad" ]; then pass skopeo-inspect-oci-archive; else fail skopeo-inspect-oci-archive "$bad $(head -c 200 "$T/err")"; fi
    # skopeo copy pulls every blob and checks it against the manifest
    if skopeo copy -q "oci-archive:$OG:app-a" "oci:$T/copied:app-a" >"$T/err" 2>&1 &&
       [ "$(skopeo inspect --raw "oci:$T/copied:app-a" | jq -r .config.digest)" = "$(image_id sample/app-a:1.0)" ] &&
       skopeo copy -q "oci-archive:$OA:app-b" "oci:$T/copied:app-b" >"$T/err" 2>&1; then
        pass skopeo-copy-oci-archive
    else fail skopeo-copy-oci-archive "$(head -c 300 "$T/err")"; fi
else skip skopeo-oci-archive "skopeo not installed" 2; fi

# ---- a name that two platforms carry (pack --all-platforms) ---------------------------------
# app-a as linux/amd64 and an arm64/v8 twin (its config edited), under one OCI index
two_platform_layout "$S/oci" "$T/ma"
BM="$T/multi.tar"; MO="$O/multi.tar"
if [ "$(uname -m)" != x86_64 ]; then skip multi-platform "the expectations below are for an amd64 host" 2
elif "$AIRPACK" pack -q --all-platforms -o "$BM" -s "$KEYS/sec" "oci:$MA:multi" >"$T/pack.out" 2>&1 &&
     load --into "docker-archive:$MO" "$BM" >"$T/l.out" 2>&1; then
    top=$(tar -xOf "$MO" index.json | jq -r '[.manifests[] | .mediaType + " " + .annotations["io.containerd.image.name"]] | join(";")')
    nd=$(tar -xOf "$MO" index.json | jq -r '.manifests[0].digest')
    np=$(tar -xOf "$MO" "blobs/sha256/${nd#sha256:}" 2>/dev/null | jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")')
    dm=$(tar -xOf "$MO" manifest.json | jq -r '[.[] | .Config + " " + (.RepoTags | join(","))] | join(";")')
    if [ "$top" = "application/vnd.oci.image.index.v1+json localhost/ma:multi" ] && [ "$np" = linux/amd64,linux/arm64 ] &&
       [ "$dm" = "blobs/sha256/${cdig#sha256:} localhost/ma:multi" ]; then pass multi-platform-nested-index-and-manifest-json
    else fail multi-platform-nested-index-and-manifest-json "index.json: $top; nested: $np; manifest.json: $dm"; fi
    if have skopeo; then
        got=$(skopeo inspect --override-arch arm64 --override-variant v8 --raw --config "oci-archive:$MO:multi" 2>&1 | sha256sum | cut -c1-64)
        got2=$(skopeo inspect --override-arch amd64 --raw --config "oci-archive:$MO:multi" 2>&1 | sha256sum | cut -c1-64)
        if [ "sha256:$got" = "$ARM_ID" ] && [ "sha256:$got2" = "$cdig" ]; then pass multi-platform-skopeo-picks-platform
        else fail multi-platform-skopeo-picks-platform "arm64 -> $got, amd64 -> $got2"; fi
    else skip multi-platform-skopeo-picks-platform "skopeo not installed"; fi
else fail_cases 2 multi-platform "$(head -c 300 "$T/pack.out" "$T/l.out" 2>/dev/null)"; fi

# ---- ctr import on a private containerd ----------------------------------------------
ctr_check() { # NAMESPACE ARCHIVE NAME=ID...: import, then each name's manifest names that config
    local ns=$1 f=$2 bad="" pair n m cfg
    shift 2
    ctr -a "$C/c.sock" -n "$ns" images import --snapshotter native "$f" >"$T/ci" 2>&1 || { echo "import: $(tail -c 300 "$T/ci")"; return 1; }
    for pair in "$@"; do
        n=${pair%%=*}
        m=$(ctr -a "$C/c.sock" -n "$ns" images ls 2>/dev/null | awk -v r="docker.io/$n" '$1 == r { print $3 }')
        cfg=$(ctr -a "$C/c.sock" -n "$ns" content get "$m" 2>/dev/null | jq -r .config.digest)
        [ -n "$m" ] && [ "$cfg" = "${pair#*=}" ] || bad="$bad $n:manifest=${m:-missing},config=$cfg"
    done
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}
if ! have containerd || ! have ctr; then skip ctr-import "containerd or ctr not installed" 4
elif ! start_containerd; then fail_cases 4 ctr-import "containerd is installed but did not start: $(tail -3 "$C/log" | tr '\n' ' ')"
else
    why=$(ctr_check oci "$OA" "sample/base:base=$(image_id sample/base:1.0)" \
          "sample/app-a:app-a=$(image_id sample/app-a:1.0)" "sample/app-b:app-b=$(image_id sample/app-b:1.0)") &&
        pass ctr-import-oci-archive || fail ctr-import-oci-archive "$why"
    why=$(ctr_check ocigz "$OG" "sample/app-a:app-a=$(image_id sample/app-a:1.0)") &&
        pass ctr-import-oci-archive-gzip || fail ctr-import-oci-archive-gzip "$why"
    why=$(ctr_check docker "$DA" "sample/base:1.0=$(image_id sample/base:1.0)" \
          "sample/app-a:1.0=$(image_id sample/app-a:1.0)" "sample/app-b:1.0=$(image_id sample/app-b:1.0)") &&
        pass ctr-import-docker-archive || fail ctr-import-docker-archive "$why"
    out=$(ctr -a "$C/c.sock" -n oci run --rm --snapshotter native docker.io/sample/app-a:app-a airpack-t1 2>&1)
    if grep -qxF "Hello from app-a!" <<<"$out"; then pass ctr-run-imported-image
    else fail ctr-run-imported-image "ctr run printed: $(head -c 200 <<<"$out")"; fi
    stop_containerd
fi

# ---- damaged and forged bundles: no FILE, no temporary file, an existing FILE kept --------
# flip one byte in the middle of the first layer
python3 - "$B" "$T/bad.tar" >"$T/badentry" <<'PY'
import sys, tarfile, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
with tarfile.open(src) as t:
    first = [m for m in t.getmembers() if m.name.startswith("blobs/")][0]
with open(dst, "r+b") as f:
    f.seek(first.offset_data + first.size // 2)
    b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 0x20]))
print(first.name)
PY
entry=$(cat "$T/badentry")
for kind in docker-archive oci-archive; do
    for comp in none gzip; do
        expect_fail "damaged-bundle-$kind-$comp-fails-naming-the-entry" 1 "$entry" \
            load --layer-compression "$comp" --into "$kind:$O/bad-$kind.tar" "$T/bad.tar"
    done
    if [ ! -e "$O/bad-$kind.tar" ] && [ "$(leftovers)" -eq 0 ]; then pass "damaged-bundle-$kind-leaves-nothing"
    else fail "damaged-bundle-$kind-leaves-nothing" "$(ls -A "$O" | tr '\n' ' ')"; fi
done
cp "$DA" "$O/keep.tar"
expect_fail existing-file-failed-run-exits-1 1 "$entry" load --into "docker-archive:$O/keep.tar" "$T/bad.tar"
if cmp -s "$DA" "$O/keep.tar" && [ "$(leftovers)" -eq 0 ]; then pass existing-file-not-clobbered-by-failed-run
else fail existing-file-not-clobbered-by-failed-run "changed or temp left: $(ls -A "$O" | tr '\n' ' ')"; fi
# a successful run replaces it
if load --image sample/base:1.0 --into "docker-archive:$O/keep.tar" "$B" >/dev/null 2>&1 &&
   [ "$(tar -xOf "$O/keep.tar" manifest.json | jq length)" -eq 1 ]; then pass existing-file-replaced-by-good-run
else fail existing-file-replaced-by-good-run "not replaced"; fi

# forged: the index is re-signed with a diff_id (or uncompressed_size) the layer does not have;
# every entry's sha256 is right, so only checking the diff_id while writing finds it.
forge() { # FIELD VALUE OUT: sets the first layer's FIELD in the signed index and re-signs it
    python3 - "$B" "$3" "$1" "$2" "$KEYS/sec" "$T/forge" <<'PY'
import sys, tarfile, json, subprocess, os, io
src, dst, field, value, key, work = sys.argv[1:7]
os.makedirs(work, exist_ok=True)
with tarfile.open(src) as t:
    members = t.getmembers()
    data = {m.name: t.extractfile(m).read() for m in members}
raw = data["airpack/bundle.json"]
idx = json.loads(raw)
for im in idx["images"]:
    for l in im["layers"]:
        if l["digest"] == idx["images"][0]["layers"][0]["digest"]:
            l[field] = int(value) if field == "uncompressed_size" else value
new = json.dumps(idx, separators=(",", ":")).encode()
new = new + b" " * (len(raw) - len(new))
assert len(new) == len(raw)
open(work + "/bundle.json", "wb").write(new)
tc = [l for l in data["airpack/bundle.json.minisig"].decode().splitlines() if l.startswith("trusted comment: ")][0][17:]
subprocess.run(["minisign", "-S", "-s", key, "-m", work + "/bundle.json", "-x", work + "/sig", "-t", tc],
               check=True, stdout=subprocess.DEVNULL)
data["airpack/bundle.json"] = new
data["airpack/bundle.json.minisig"] = open(work + "/sig", "rb").read()
with tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as out:
    for m in members:
        m.size = len(data[m.name])
        out.addfile(m, io.BytesIO(data[m.name]))
PY
}
wrong=sha256:$(printf 'x' | sha256sum | cut -c1-64)
if forge diff_id "$wrong" "$T/forged-diff.tar" && "$AIRPACK" verify -q -p "$KEYS/pub" "$T/forged-diff.tar" >/dev/null 2>&1; then
    expect_fail forged-diff-id-fails 1 "entry blobs/sha256/.*decompressed sha256 is sha256:.*its diff_id is $wrong" \
        load --into "docker-archive:$O/forged.tar" "$T/forged-diff.tar"
    expect_fail forged-diff-id-fails-gzip 1 "diff_id is $wrong" \
        load --layer-compression gzip --into "oci-archive:$O/forged.tar" "$T/forged-diff.tar"
else fail forged-diff-id-setup "the forged bundle does not verify (without --deep)"; fi
if forge uncompressed_size 1000 "$T/forged-size.tar" && "$AIRPACK" verify -q -p "$KEYS/pub" "$T/forged-size.tar" >/dev/null 2>&1; then
    expect_fail forged-uncompressed-size-fails 1 "entry blobs/sha256/.*(uncompressed_size|decompresses past)" \
        load --into "docker-archive:$O/forged.tar" "$T/forged-size.tar"
else fail forged-size-setup "the forged bundle does not verify (without --deep)"; fi
if [ ! -e "$O/forged.tar" ] && [ "$(leftovers)" -eq 0 ]; then pass forged-bundles-leave-nothing
else fail forged-bundles-leave-nothing "$(ls -A "$O" | tr '\n' ' ')"; fi

# ---- usage ------------------------------------------------------------------------------
expect_fail layer-compression-only-for-archives 2 'layer-compression.*docker-archive' \
    load --layer-compression gzip --into "oci:$T/layout" "$B"
expect_fail layer-compression-zstd-refused 2 'none or gzip' \
    load --layer-compression zstd --into "docker-archive:$O/z.tar" "$B"
expect_fail archive-needs-a-file 2 'needs a file name' load --into docker-archive: "$B"
expect_fail archive-missing-directory 2 'cannot create a temporary file' \
    load --into "oci-archive:$T/no/such/dir/x.tar" "$B"
mkdir -p "$O/adir"
expect_fail archive-onto-a-directory 2 'not a regular file' load --into "docker-archive:$O/adir" "$B"
rmdir "$O/adir"
if [ "$(leftovers)" -eq 0 ]; then pass no-temporary-file-left; else fail no-temporary-file-left "$(ls -A "$O" | tr '\n' ' ')"; fi
exit 0
