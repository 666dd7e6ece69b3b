#!/bin/bash
# split_parts.sh: `pack --split` and reading split bundles with verify, ls, load.
#
# One bundle packed whole and split into 3 parts of 1 MiB from the same inputs,
# key and SOURCE_DATE_EPOCH: the parts concatenated are the whole bundle; the
# sidecar lists them and minisign verifies its signature; verify, ls and load
# (oci:DIR, docker-daemon:) from the parts give the same image IDs; `cat` of the
# parts loads with `docker load`. Then hostile copies: a truncated part, two
# parts swapped, a flipped byte, a missing part: each refused naming the part
# (and, for the flipped byte, the entry and the byte offset in the part), exit
# status 1, nothing loaded. Single-part verify says good or BAD.
. "$(dirname "$0")/../lib.sh"
plan 49
skip_unless minisign jq tar python3

cd "$T" || exit 1
make_samples || fail_rest "make-samples.sh failed"
make_keys || fail_rest "minisign -G failed"
export SOURCE_DATE_EPOCH=1700000000
P() { "$AIRPACK" "$@"; }

# make_big_image OUT.tar NAME KIB: a docker-archive with one layer of KIB KiB of
# random bytes, so the bundle is large enough for three 1 MiB parts. Prints the image ID.
make_big_image() {
    local out=$1 name=$2 kib=$3 w diff cfg
    w=$(mktemp -d "$T/big.XXXXXX")
    mkdir -p "$w/root/data" "$w/arch/layer"
    head -c $((kib * 1024)) /dev/urandom >"$w/root/data/blob"
    tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
        -cf "$w/arch/layer/layer.tar" -C "$w/root" data
    diff=$(sha256sum "$w/arch/layer/layer.tar" | cut -d' ' -f1)
    printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/data/blob"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$diff" >"$w/cfg"
    cfg=$(sha256sum "$w/cfg" | cut -d' ' -f1)
    mv "$w/cfg" "$w/arch/$cfg.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]' "$cfg" "$name" >"$w/arch/manifest.json"
    tar --format=ustar -cf "$out" -C "$w/arch" manifest.json "$cfg.json" layer/layer.tar
    rm -rf "$w"
    echo "sha256:$cfg"
}
BIG_ID=$(make_big_image big.tar sample/big:1.0 2600) || fail_rest "could not make the big image"
IN=(big.tar "$S/docker24/all.tar")

# ---- pack whole and split ------------------------------------------------------------
P pack -q -s "$KEYS/sec" -c gzip -o whole.tar "${IN[@]}" || fail_rest "pack (whole) failed"
mkdir -p sp
P pack -s "$KEYS/sec" -c gzip --split 1M -o sp/b.tar "${IN[@]}" >pack.out 2>pack.err ||
    fail_rest "pack --split failed: $(head -c 300 pack.err)"
ls sp >sp.list
if [ "$(cat sp.list | tr '\n' ' ')" = "b.tar.000 b.tar.001 b.tar.002 b.tar.parts b.tar.parts.minisig " ]; then
    pass "pack --split 1M writes 3 parts, the sidecar and its signature, nothing else"
else
    fail "pack --split 1M writes 3 parts, the sidecar and its signature, nothing else" "$(tr '\n' ' ' <sp.list)"
fi
if [ "$(stat -c %s sp/b.tar.000)" = 1048576 ] && [ "$(stat -c %s sp/b.tar.001)" = 1048576 ] &&
   [ "$(stat -c %s sp/b.tar.002)" -gt 0 ] && [ "$(stat -c %s sp/b.tar.002)" -le 1048576 ]; then
    pass "every part but the last is exactly 1 MiB"
else
    fail "every part but the last is exactly 1 MiB" "$(stat -c '%n %s' sp/b.tar.0* | tr '\n' ' ')"
fi
check "the parts concatenated are the unsplit bundle, byte for byte" \
    sh -c 'cat sp/b.tar.000 sp/b.tar.001 sp/b.tar.002 | cmp -s - whole.tar'
check "pack says how many parts it wrote" grep -q "split into 3 parts" pack.out

sidecar_ok() {
    jq -e --argjson size "$(stat -c %s whole.tar)" \
        '.airpack_parts == 1 and .bundle == "b.tar" and .size == $size and .part_size == 1048576
         and (.parts | length) == 3 and ([.parts[].size] | add) == $size
         and ([.parts[].name] == ["b.tar.000","b.tar.001","b.tar.002"])' sp/b.tar.parts >/dev/null || return 1
    for i in 0 1 2; do
        [ "$(jq -r ".parts[$i].sha256" sp/b.tar.parts)" = "$(sha256sum "sp/b.tar.00$i" | cut -d' ' -f1)" ] || return 1
    done
}
check "the sidecar lists each part's name, size and sha256" sidecar_ok
check "minisign -Vm verifies the sidecar with the public key" \
    sh -c "minisign -Vm sp/b.tar.parts -p '$KEYS/pub' >/dev/null 2>&1"

# ---- verify, ls, load from the parts ---------------------------------------------------
check "verify NAME.000 verifies the whole split bundle" P verify -q -p "$KEYS/pub" sp/b.tar.000
check "verify NAME (only NAME.000... exist) verifies it too" P verify -q -p "$KEYS/pub" sp/b.tar
ids_of_ls() { P ls --json "$1" | jq -r '.images[].id' | sort; }
if [ "$(ids_of_ls sp/b.tar.000)" = "$(ids_of_ls whole.tar)" ] && ids_of_ls sp/b.tar.000 | grep -qx "$BIG_ID"; then
    pass "ls of the first part lists the same images as the unsplit bundle"
else
    fail "ls of the first part lists the same images as the unsplit bundle" "$(ids_of_ls sp/b.tar.000 | tr '\n' ' ')"
fi
loaded_ids() { jq -r '.images[].id' "$1" | sort -u; }
# an OCI layout into which nothing was loaded: no index.json, or one listing no manifest
nothing_in_oci() { [ ! -e "$1/index.json" ] || [ "$(jq '.manifests | length' "$1/index.json")" = 0 ]; }
P load -q --json -p "$KEYS/pub" --into "oci:$T/oci-whole" whole.tar >whole.json 2>/dev/null
if P load -q --json -p "$KEYS/pub" --into "oci:$T/oci-parts" sp/b.tar.000 >parts.json 2>parts.err &&
   [ "$(loaded_ids parts.json)" = "$(loaded_ids whole.json)" ] && loaded_ids parts.json | grep -qx "$BIG_ID" &&
   [ "$(jq -S . "$T/oci-parts/index.json")" = "$(jq -S . "$T/oci-whole/index.json")" ] &&
   ! nothing_in_oci "$T/oci-parts"; then   # (the control of the "nothing loaded" checks below)
    pass "load --into oci:DIR from the parts: the same image IDs and index.json as from the whole bundle"
else
    fail "load --into oci:DIR from the parts: the same image IDs and index.json as from the whole bundle" \
        "$(head -c 300 parts.err)"
fi
if cat sp/b.tar.[0-9][0-9][0-9] | P load -q --json -p "$KEYS/pub" --into "oci:$T/oci-stdin" - >stdin.json 2>stdin.err &&
   [ "$(loaded_ids stdin.json)" = "$(loaded_ids whole.json)" ]; then
    pass "cat NAME.[0-9][0-9][0-9] | airpack load - loads the same images"
else
    fail "cat NAME.[0-9][0-9][0-9] | airpack load - loads the same images" "$(head -c 300 stdin.err)"
fi

# ---- single parts -----------------------------------------------------------------------
mkdir -p alone && cp sp/b.tar.001 sp/b.tar.parts sp/b.tar.parts.minisig alone/
expect_ok "verify NAME.001 alone (before the other parts arrive) says good" \
    "b.tar.001: good: part 2 of 3" P verify -p "$KEYS/pub" alone/b.tar.001
expect_ok "verify --part NAME.000 checks only the first part" \
    "b.tar.000: good: part 1 of 3" P verify -p "$KEYS/pub" --part sp/b.tar.000
python3 -c "
import sys
with open('alone/b.tar.001', 'r+b') as f:
    f.seek(4242); b = f.read(1); f.seek(4242); f.write(bytes([b[0] ^ 1]))"
expect_fail "verify NAME.001 with a flipped byte says BAD" 1 "b.tar.001: BAD: damaged" \
    P verify -p "$KEYS/pub" alone/b.tar.001
cp sp/b.tar.001 alone/b.tar.001
minisign -G -W -f -p other.pub -s other.key >/dev/null 2>&1
expect_fail "verify NAME.001 with a key that did not sign the sidecar fails" 1 "b.tar.parts.minisig" \
    P verify -p other.pub alone/b.tar.001
expect_fail "ls of a later part points to the first" 2 "part 2 of a split bundle: give its first part" \
    P ls alone/b.tar.001

# ---- hostile copies -----------------------------------------------------------------------
copy() { rm -rf "$1" && mkdir -p "$1" && cp sp/b.tar.* "$1/"; }
refused() { # NAME DIR PATTERN: verify and load --into oci: both exit 1 naming the part; nothing loaded
    local rn=$1 d=$2 pat=$3
    expect_fail "$rn: verify names the part" 1 "$pat" P verify -q -p "$KEYS/pub" "$d/b.tar.000"
    expect_fail "$rn: load names the part" 1 "$pat" P load -q -p "$KEYS/pub" --into "oci:$T/oci-$d" "$d/b.tar.000"
    check "$rn: nothing loaded into the oci: target" nothing_in_oci "$T/oci-$d"
}
copy trunc && truncate -s 1000000 trunc/b.tar.001
refused "one part truncated" trunc "trunc/b.tar.001: 1000000 bytes, but trunc/b.tar.parts lists 1048576 \(truncated"
copy swap && mv swap/b.tar.000 swap/x && mv swap/b.tar.001 swap/b.tar.000 && mv swap/x swap/b.tar.001
refused "two parts swapped" swap "swap/b.tar.000: holds the bytes swap/b.tar.parts lists for swap/b.tar.001"
copy miss && rm miss/b.tar.002
refused "one part missing" miss "miss/b.tar.002: missing"
copy miss0 && rm miss0/b.tar.000
expect_fail "first part missing: verify NAME names it (exit 1, like any missing part)" 1 \
    "miss0/b.tar.000: missing \(miss0/b.tar.parts lists 3 parts; copy it again\)" P verify -q -p "$KEYS/pub" miss0/b.tar

# flipped byte in the data of manifest.json, the last entry: the message names the
# part, the entry and where the entry starts in that part
read -r MBLOCK < <(tar -tRvf whole.tar | sed -n 's/^block \([0-9]*\): .* manifest\.json$/\1/p')
MOFF=$((MBLOCK * 512))
MPART=$((MOFF / 1048576))
copy flip && python3 -c "
with open('flip/b.tar.00$MPART', 'r+b') as f:
    at = $MOFF % 1048576 + 512 + 5; f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x20]))"
refused "a flipped byte" flip \
    "flip/b.tar.00$MPART: damaged: .*entry manifest.json, which starts at byte $((MOFF % 1048576)) of flip/b.tar.00$MPART"
# a flipped byte in the middle part, inside the big layer that spans the parts
copy flip1 && python3 -c "
with open('flip1/b.tar.001', 'r+b') as f:
    f.seek(500000); b = f.read(1); f.seek(500000); f.write(bytes([b[0] ^ 0x20]))"
refused "a flipped byte inside a layer spanning parts" flip1 \
    "flip1/b.tar.001: damaged: .*entry blobs/sha256/[0-9a-f]{64}, which covers flip1/b.tar.001 from byte 0 \(the entry starts at byte [0-9]+ of flip1/b.tar.000\)"

# a damaged sidecar is refused, naming it
copy badsc && printf '{"airpack_parts":1,"bundle":"b.tar","parts":[' >badsc/b.tar.parts
expect_fail "a damaged sidecar: verify names it" 1 "badsc/b.tar.parts: parts sidecar: not valid JSON" \
    P verify -q -p "$KEYS/pub" badsc/b.tar.000
expect_fail "a damaged sidecar: load names it" 1 "badsc/b.tar.parts: parts sidecar" \
    P load -q -p "$KEYS/pub" --into "oci:$T/oci-badsc" badsc/b.tar.000
check "a damaged sidecar: nothing loaded" nothing_in_oci "$T/oci-badsc"
copy stale && cp sp/b.tar.002 stale/b.tar.003
expect_fail "a stale extra part after the last listed is refused, named" 1 "stale/b.tar.003: not listed in" \
    P verify -q -p "$KEYS/pub" stale/b.tar.000

# without the sidecar: parts are still read in order; a fault is placed in its part
copy nosc && rm nosc/b.tar.parts nosc/b.tar.parts.minisig
check "without the sidecar, verify reads NAME.000, NAME.001, ... in order" P verify -q -p "$KEYS/pub" nosc/b.tar.000
python3 -c "
with open('nosc/b.tar.00$MPART', 'r+b') as f:
    at = $MOFF % 1048576 + 512 + 5; f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x20]))"
expect_fail "without the sidecar, a damaged entry's offset is given in its part" 1 \
    "entry manifest.json at offset $MOFF: .*byte $((MOFF % 1048576)) of nosc/b.tar.00$MPART" \
    P verify -q -p "$KEYS/pub" nosc/b.tar.000

# ---- --split sizes, failed and repeated packs ---------------------------------------------
expect_fail "--split below 1M is refused" 2 "at least 1M" P pack -q -s "$KEYS/sec" --split 512K -o small.tar "${IN[@]}"
expect_fail "--split with an unknown suffix is refused" 2 "suffix must be K, M or G" \
    P pack -q -s "$KEYS/sec" --split 4T -o small.tar "${IN[@]}"
mkdir -p failed
P pack -q -s "$KEYS/sec" --split 1M -o failed/b.tar big.tar "$S/bad/diffid.tar" >/dev/null 2>&1
if [ $? -ne 0 ] && [ -z "$(ls -A failed)" ]; then pass "a failed split pack leaves no parts and no temporary files"
else fail "a failed split pack leaves no parts and no temporary files" "$(ls -A failed | tr '\n' ' ')"; fi
cp -r sp repack
P pack -q -s "$KEYS/sec" -c gzip --split 2M -o repack/b.tar "${IN[@]}" >/dev/null 2>&1
if [ "$(ls repack | tr '\n' ' ')" = "b.tar.000 b.tar.001 b.tar.parts b.tar.parts.minisig " ] &&
   P verify -q -p "$KEYS/pub" repack/b.tar.000; then
    pass "packing again with fewer parts removes the stale last part"
else
    fail "packing again with fewer parts removes the stale last part" "$(ls repack | tr '\n' ' ')"
fi
mkdir -p uns
P pack -q --unsigned -c gzip --split 1M -o uns/b.tar "${IN[@]}" >/dev/null 2>&1
if [ -f uns/b.tar.parts ] && [ ! -e uns/b.tar.parts.minisig ]; then pass "--unsigned --split writes an unsigned sidecar"
else fail "--unsigned --split writes an unsigned sidecar" "$(ls uns | tr '\n' ' ')"; fi
expect_fail "verify of a part of an unsigned split bundle says the sidecar is not signed" 1 "is not signed" \
    P verify -p "$KEYS/pub" uns/b.tar.001

# ---- Docker: load from the parts, and cat NAME.* | docker load -----------------------------
need_dockerd 5 docker || exit 0
SOCK="$T/docker/docker.sock"
ids_in_docker() { tar -xOf whole.tar airpack/bundle.json | jq -r '.images[] | "\(.names[0]) \(.config.digest)"' |
    while read -r name id; do
        got=$("$DOCKER" image inspect -f '{{.Id}}' "${name#docker.io/}" 2>/dev/null) || { echo "${name#docker.io/} missing"; return 1; }
        [ "$got" = "$id" ] || { echo "${name#docker.io/} is $got, wanted $id"; return 1; }
    done; }
rm_all() { "$DOCKER" rmi -f $("$DOCKER" images -q) >/dev/null 2>&1; true; }
# the engine holds only the control image before and after the damaged load
docker_probe && before=$(docker_list) || before="no listing: $(docker_list)"
expect_fail "a damaged part: load --into docker-daemon: fails" 1 "flip1/b.tar.001: damaged" \
    P load -q -p "$KEYS/pub" --into "docker-daemon:$SOCK" flip1/b.tar.000
if after=$(docker_list) && [ "$before" = airpack-probe/control:1 ] && [ "$after" = "$before" ]; then
    pass "a damaged part: nothing loaded into Docker"
else fail "a damaged part: nothing loaded into Docker" "before: $before; after: $after"; fi
rm_all
out=""
if P load -q -p "$KEYS/pub" --into "docker-daemon:$SOCK" sp/b.tar.000 >/dev/null 2>dl.err && out=$(ids_in_docker); then
    pass "load --into docker-daemon: from the parts gives the bundle's image IDs"
else
    fail "load --into docker-daemon: from the parts gives the bundle's image IDs" "$(head -c 200 dl.err) $out"
fi
rm_all
out=""
if cat sp/b.tar.[0-9][0-9][0-9] | "$DOCKER" load >dload.out 2>&1 && out=$(ids_in_docker); then
    pass "cat NAME.[0-9][0-9][0-9] | docker load gives the same image IDs"
else
    fail "cat NAME.[0-9][0-9][0-9] | docker load gives the same image IDs" "$(head -c 300 dload.out) $out"
fi
rm_all
out=""
# the plain glob also takes in NAME.parts and NAME.parts.minisig after the archive's end
if cat sp/b.tar.* | "$DOCKER" load >dload2.out 2>&1 && out=$(ids_in_docker); then
    pass "cat NAME.* | docker load (the sidecar after the archive's end) gives the same image IDs"
else
    fail "cat NAME.* | docker load (the sidecar after the archive's end) gives the same image IDs" \
        "$(head -c 300 dload2.out) $out"
fi
