#!/bin/bash
# delta.sh: weekly updates across the gap. Week one (sample/app-a: base layer +
# its own) is loaded into a store; `airpack inventory` lists that store; week two
# (sample/app-b and sample/app-c: the same base layer, new top layers) is packed
# with --have (and --since week1.tar), leaves the base layer out, and loads into
# that store with the right image IDs: an OCI layout, a private Docker engine
# and a registry on 127.0.0.1. Into a store that lacks the base layer the delta
# fails before anything is committed, naming the missing blobs. Signed have.json:
# a tampered one is refused with -p. Hostile have.json files are refused.
# (Packs use -c zstd: layers recompressed and found by diff_id; a faithful pack, the default for
# sources with manifests, holds only the far side's exact blobs: see faithful.sh.)
. "$(dirname "$0")/../lib.sh"
plan 69
skip_unless jq minisign tar python3
make_samples || exit 1
make_keys || exit 1
cd "$T"
export SOURCE_DATE_EPOCH=1790000000
ap() { "$AIRPACK" "$@"; }
W2_INPUTS="$S/docker24/app-b.tar oci:$S/oci:app-c"
BASE_DIFF=$(diff_ids sample/app-a:1.0 | head -1)

# ---- week one ------------------------------------------------------------------
ap pack -q -c zstd -s "$KEYS/sec" -o w1.tar "$S/docker24/app-a.tar" || { fail setup "pack week one"; exit 0; }
ap pack -q -c zstd -s "$KEYS/sec" -o w2full.tar $W2_INPUTS || { fail setup "pack week two (full)"; exit 0; }
BASE_BLOB=$(index_json w1.tar | jq -r --arg d "$BASE_DIFF" '[.images[].layers[] | select(.diff_id == $d)][0].digest')
BASE_SIZE=$(index_json w1.tar | jq -r --arg d "$BASE_DIFF" '[.images[].layers[] | select(.diff_id == $d)][0].size')
W2_IDS=$(bundle_image_ids w2full.tar)

# delta_ok NAME BUNDLE: base blob absent from the entries, base layers expected, the
# index is version 2, and the bundle is smaller than the full one by about the base blob
delta_ok() {
    local n=$1 b=$2 full drop
    local idx; idx=$(index_json "$b")
    if jq -e --arg p "blobs/sha256/${BASE_BLOB#sha256:}" '[.entries[].path] | index($p) == null' <<<"$idx" >/dev/null &&
       ! tar -tf "$b" | grep -qx "blobs/sha256/${BASE_BLOB#sha256:}"; then pass "$n-base-blob-absent"
    else fail "$n-base-blob-absent" "the delta carries the base layer blob"; fi
    if jq -e --arg d "$BASE_DIFF" '.airpack_bundle == 2 and
          ([.images[].layers[] | select(.diff_id == $d) | .expected] | all and length == 2) and
          ([.images[].layers[] | select(.diff_id != $d) | has("expected")] | any | not)' <<<"$idx" >/dev/null; then
        pass "$n-index-marks-expected"
    else fail "$n-index-marks-expected" "$(jq -c '[.airpack_bundle, [.images[].layers[] | [.diff_id[7:19], .expected]]]' <<<"$idx")"; fi
    full=$(stat -c %s w2full.tar); drop=$((full - $(stat -c %s "$b")))
    # the base blob, give or take the tar header and index bytes
    if [ "$drop" -ge $((BASE_SIZE - 2048)) ] && [ "$drop" -le $((BASE_SIZE + 4096)) ]; then pass "$n-size-drop"
    else fail "$n-size-drop" "full $full, delta $(stat -c %s "$b"), drop $drop, base blob $BASE_SIZE"; fi
    if [ "$(bundle_image_ids "$b")" = "$W2_IDS" ]; then pass "$n-same-images"
    else fail "$n-same-images" "$(bundle_image_ids "$b" | tr '\n' ' ')"; fi
}

# ---- OCI layout -----------------------------------------------------------------
check oci-week1-load ap load -q -p "$KEYS/pub" --into "oci:$T/store" w1.tar
check oci-inventory ap inventory -q --from "oci:$T/store" -o have.json -s "$KEYS/sec"
if jq -e --arg b "$BASE_BLOB" --arg d "$BASE_DIFF" '.airpack_have == 1 and .kind == "oci" and
      ([.layers[] | select(.digest == $b and .diff_id == $d)] | length == 1) and (.layers | length == 2)' have.json >/dev/null
then pass oci-inventory-lists-layers; else fail oci-inventory-lists-layers "$(head -c 300 have.json)"; fi
check have-signature-minisign minisign -Vqm have.json -x have.json.minisig -p "$KEYS/pub"
check oci-pack-have ap pack -q -c zstd -s "$KEYS/sec" -p "$KEYS/pub" --have have.json -o w2.tar $W2_INPUTS
delta_ok oci w2.tar
check oci-delta-verify-deep ap verify -q -p "$KEYS/pub" --deep w2.tar
if ap verify -q -p "$KEYS/pub" w2.tar 2>/dev/null | grep -q "expects the target to hold 2 layer" &&
   ap verify -q -p "$KEYS/pub" w2.tar 2>/dev/null | grep -q "diff_id $BASE_DIFF, blob $BASE_BLOB"; then pass verify-says-expected
else fail verify-says-expected "$(ap verify -q -p "$KEYS/pub" w2.tar 2>&1 | head -5)"; fi
if ap ls w2.tar | grep -q "expected in the target" && ap ls --json w2.tar | jq -e '.totals.expected_layers == 2' >/dev/null
then pass ls-shows-expected; else fail ls-shows-expected "$(ap ls w2.tar | tail -5)"; fi

# --since: the old bundle's signed index alone gives the same delta
check oci-pack-since ap pack -q -c zstd -s "$KEYS/sec" -p "$KEYS/pub" --since w1.tar -o w2since.tar $W2_INPUTS
# (the same index, entries and so bytes, but for the base sequence --since records in "trust")
if [ "$(index_json w2.tar | jq -cS 'del(.trust)')" = "$(index_json w2since.tar | jq -cS 'del(.trust)')" ] &&
   [ "$(index_json w2since.tar | jq -r .trust.base_sequence)" = "$(index_json w1.tar | jq -r .created | xargs -I{} date -ud {} +%s)" ]
then pass since-same-bundle-as-have
else fail since-same-bundle-as-have "$(index_json w2since.tar | jq -c '[.trust, [.images[].layers[] | [.digest[7:19], .expected]]]')"; fi
ap pack -q -c zstd --unsigned -o w1u.tar "$S/docker24/app-a.tar"
expect_fail since-unsigned-refused-with-p 1 "unsigned bundle" ap pack -q -c zstd --unsigned -p "$KEYS/pub" --since w1u.tar -o x.tar $W2_INPUTS
[ ! -e x.tar ] && pass since-refused-writes-nothing || fail since-refused-writes-nothing

# empty store: fails before anything is committed, naming each missing blob
mkdir empty
expect_fail oci-empty-store-refused 2 "expects oci:$T/empty to hold 2 layer.*sample/app-b:1.0 layer 1 \(diff_id $BASE_DIFF, blob $BASE_BLOB\)" \
    ap load -q -p "$KEYS/pub" --into "oci:$T/empty" w2.tar
if [ -z "$(ls -A empty)" ]; then pass oci-empty-store-unchanged; else fail oci-empty-store-unchanged "$(ls -A empty)"; fi
# a store with the blob at the wrong size does not count as holding it
mkdir -p bad
check oci-short-blob-setup-load ap load -q -p "$KEYS/pub" --into "oci:$T/bad" w1.tar
truncate -s 100 "bad/blobs/sha256/${BASE_BLOB#sha256:}"
before=$(cd bad && find . -type f | sort | xargs sha256sum | sha256sum)
expect_fail oci-short-blob-refused 2 "blob $BASE_BLOB" ap load -q -p "$KEYS/pub" --into "oci:$T/bad" w2.tar
[ "$(cd bad && find . -type f | sort | xargs sha256sum | sha256sum)" = "$before" ] && pass oci-short-blob-store-unchanged ||
    fail oci-short-blob-store-unchanged

# the delta loads into the week-one store with the right image IDs
check oci-delta-load ap load -q -p "$KEYS/pub" --into "oci:$T/store" w2.tar
got=""
for n in docker.io/sample/app-b:1.0 localhost/oci:app-c; do
    m=$(jq -r --arg n "$n" '.manifests[] | select(.annotations["io.containerd.image.name"] == $n) | .digest' store/index.json)
    got="$got$(jq -r .config.digest "store/blobs/sha256/${m#sha256:}" 2>/dev/null)"$'\n'
done
if [ "$(sort <<<"${got%$'\n'}")" = "$W2_IDS" ]; then pass oci-delta-image-ids; else fail oci-delta-image-ids "$got"; fi
if have skopeo; then
    if skopeo copy -q "oci:$T/store:localhost/oci:app-c" "oci:$T/copy:x" >/dev/null 2>&1 &&
       [ "$(jq -r .config.digest "copy/blobs/sha256/$(jq -r '.manifests[0].digest[7:]' copy/index.json)")" = "$(image_id sample/app-c:1.0)" ]; then
        pass oci-delta-readable-by-skopeo
    else fail oci-delta-readable-by-skopeo; fi
else skip oci-delta-readable-by-skopeo "skopeo not installed"; fi

# ---- signed have.json ------------------------------------------------------------
sed 's/"kind":"oci"/"kind":"oci" /' have.json >tampered.json && cp have.json.minisig tampered.json.minisig
expect_fail have-tampered-refused 1 "signature does not verify" \
    ap pack -q -c zstd -s "$KEYS/sec" -p "$KEYS/pub" --have tampered.json -o x.tar $W2_INPUTS
cp have.json nosig.json
expect_fail have-unsigned-refused-with-p 1 "signature cannot be read" \
    ap pack -q -c zstd -s "$KEYS/sec" -p "$KEYS/pub" --have nosig.json -o x.tar $W2_INPUTS
[ ! -e x.tar ] && pass have-refused-writes-nothing || fail have-refused-writes-nothing

# ---- hostile have.json -------------------------------------------------------------
hostile() { # NAME PATTERN JSON
    printf '%s' "$3" >h.json
    expect_fail "have-hostile-$1" 1 "$2" ap pack -q -c zstd -s "$KEYS/sec" --have h.json -o x.tar $W2_INPUTS
}
D64="sha256:$(printf 'a%.0s' $(seq 64))"
hostile not-json "invalid JSON" '{"airpack_have":1,'
hostile version "unknown format version" '{"airpack_have":9,"kind":"oci","target":"x","created":"x","layers":[]}'
hostile kind "unknown target kind" '{"airpack_have":1,"kind":"nfs","target":"x","created":"x","layers":[]}'
hostile digest "not.*sha256|digest" '{"airpack_have":1,"kind":"oci","target":"x","created":"x","layers":[{"digest":"sha256:../../etc","size":1,"media_type":"application/vnd.oci.image.layer.v1.tar","diff_id":"'$D64'"}]}'
hostile size "size" '{"airpack_have":1,"kind":"oci","target":"x","created":"x","layers":[{"digest":"'$D64'","size":-1,"media_type":"application/vnd.oci.image.layer.v1.tar","diff_id":"'$D64'"}]}'
hostile media-type "unknown layer media type" '{"airpack_have":1,"kind":"oci","target":"x","created":"x","layers":[{"digest":"'$D64'","size":1,"media_type":"text/html","diff_id":"'$D64'"}]}'
hostile unknown-key "unknown key" '{"airpack_have":1,"kind":"oci","target":"x","created":"x","layers":[],"extra":1}'
hostile deep "nested deeper" "$(python3 -c 'print("["*100 + "]"*100)')"
hostile docker-layers "chains, not layers" '{"airpack_have":1,"kind":"docker","target":"x","created":"x","layers":[{"digest":"'$D64'","size":1,"media_type":"application/vnd.oci.image.layer.v1.tar","diff_id":"'$D64'"}]}'
hostile chain-digest "chains\[0\]\[0\]" '{"airpack_have":1,"kind":"docker","target":"x","created":"x","layers":[],"chains":[["nope"]]}'
[ ! -e x.tar ] && pass hostile-writes-nothing || fail hostile-writes-nothing

# ---- registry ------------------------------------------------------------------------
P1=""
if ! have docker-registry || ! have skopeo || ! have curl; then skip registry "docker-registry, skopeo or curl not installed" 13
elif start_registry reg && P1=$REG_PORT && start_registry reg2 && P2=$REG_PORT; then :
else fail_cases 13 registry "docker-registry is installed but did not start (see above)"; P1=""; fi
if [ -n "${P1:-}" ]; then
    R="127.0.0.1:$P1"
    check registry-week1-load ap load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/mirror" w1.tar
    check registry-inventory ap inventory -q --tls-verify=false --from "docker://$R/mirror" -o rhave.json
    if jq -e --arg b "$BASE_BLOB" '.kind == "registry" and ([.layers[] | select(.digest == $b) | .repository] == ["mirror/sample/app-a"])' rhave.json >/dev/null
    then pass registry-inventory-lists-layers; else fail registry-inventory-lists-layers "$(head -c 300 rhave.json)"; fi
    check registry-pack-have ap pack -q -c zstd -s "$KEYS/sec" --have rhave.json -o rw2.tar $W2_INPUTS
    delta_ok registry rw2.tar
    # another registry, empty: nothing to mount from; nothing pushed
    expect_fail registry-empty-refused 2 "expects docker://127.0.0.1:$P2/mirror to hold 2 layer.*blob $BASE_BLOB" \
        ap load -q -p "$KEYS/pub" --tls-verify=false --into "docker://127.0.0.1:$P2/mirror" rw2.tar
    # the probe (the catalog) lists the week-one registry's repository, and none in the other
    cat=$(curl -s "http://127.0.0.1:$P2/v2/_catalog" | jq -c .repositories)
    cat1=$(curl -s "http://127.0.0.1:$P1/v2/_catalog" | jq -c .repositories)
    if [ "$cat" = "[]" ] && [ "$cat1" = '["mirror/sample/app-a"]' ] && [ -s "$T/reg2.log" ] && ! grep -q '"POST /v2/' "$T/reg2.log"
    then pass registry-empty-unchanged
    else fail registry-empty-unchanged "catalog $cat (the probe saw $cat1 in the week-one registry)"; fi
    # the week-one registry: the base blob is mounted from mirror/sample/app-a
    check registry-delta-load ap load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/mirror" rw2.tar
    bad=""
    for n in sample/app-b:1.0 oci:app-c; do
        id=$(skopeo --override-os linux inspect --tls-verify=false --raw "docker://$R/mirror/$n" 2>/dev/null | jq -r .config.digest)
        grep -qxF "$id" <<<"$W2_IDS" || bad="$bad $n:${id:-missing}"
    done
    [ -z "$bad" ] && pass registry-delta-image-ids || fail registry-delta-image-ids "$bad"
    if skopeo copy -q --src-tls-verify=false "docker://$R/mirror/sample/app-b:1.0" "oci:$T/rpull:b" >/dev/null 2>&1
    then pass registry-delta-pull-back; else fail registry-delta-pull-back "skopeo cannot pull every blob"; fi
fi

# ---- Docker engine -------------------------------------------------------------------
if need_dockerd 12 docker; then
    SOCK="$T/docker/docker.sock"
    check docker-week1-load ap load -q -p "$KEYS/pub" --into "docker-daemon:$SOCK" w1.tar
    check docker-inventory ap inventory -q --from "docker-daemon:$SOCK" -o dhave.json -s "$KEYS/sec"
    if jq -e --arg d "$BASE_DIFF" '.kind == "docker" and (.layers == []) and ([.chains[] | .[0]] | index($d) != null)' dhave.json >/dev/null
    then pass docker-inventory-lists-chains; else fail docker-inventory-lists-chains "$(head -c 300 dhave.json)"; fi
    check docker-pack-have ap pack -q -c zstd -s "$KEYS/sec" -p "$KEYS/pub" --have dhave.json -o dw2.tar $W2_INPUTS
    BASE_BLOB_SAVED=$BASE_BLOB
    # for a Docker engine the expected blob is named by its diff_id (the engine keeps no blobs)
    BASE_BLOB=$BASE_DIFF
    if index_json dw2.tar | jq -e --arg d "$BASE_DIFF" '[.entries[].path] | index("blobs/sha256/" + $d[7:]) == null' >/dev/null; then
        pass docker-base-absent
    else fail docker-base-absent "the index lists blobs/sha256/${BASE_DIFF#sha256:}"; fi
    full=$(stat -c %s w2full.tar); drop=$((full - $(stat -c %s dw2.tar)))
    if [ "$drop" -ge $((BASE_SIZE - 2048)) ]; then pass docker-size-drop; else fail docker-size-drop "drop $drop, base $BASE_SIZE"; fi
    BASE_BLOB=$BASE_BLOB_SAVED
    if tar -tf dw2.tar | grep -q "${BASE_BLOB#sha256:}"; then fail docker-base-blob-absent; else pass docker-base-blob-absent; fi
    check docker-delta-load ap load -q -p "$KEYS/pub" --into "docker-daemon:$SOCK" dw2.tar
    bad=""
    for n in sample/app-b:1.0 localhost/oci:app-c; do
        id=$("$DOCKER" image inspect -f '{{.Id}}' "$n" 2>/dev/null)
        grep -qxF "$id" <<<"$W2_IDS" || bad="$bad $n:${id:-missing}"
    done
    [ -z "$bad" ] && pass docker-delta-image-ids || fail docker-delta-image-ids "$bad"
    if "$DOCKER" run --rm --network none sample/app-b:1.0 2>&1 | grep -q "^Hello from"; then
        pass docker-delta-runs
    else fail docker-delta-runs "$("$DOCKER" run --rm --network none sample/app-b:1.0 2>&1 | head -2)"; fi
    # an engine without the base chain: refused before anything is sent
    "$DOCKER" rmi -f sample/app-a:1.0 sample/app-b:1.0 localhost/oci:app-c >/dev/null 2>&1
    docker_probe && before=$(docker_list) || before="no listing: $(docker_list)"
    expect_fail docker-missing-chain-refused 2 "expects docker-daemon:$SOCK to hold 2 layer.*diff_id $BASE_DIFF" \
        ap load -q -p "$KEYS/pub" --into "docker-daemon:$SOCK" dw2.tar
    if after=$(docker_list) && [ "$after" = "$before" ] && grep -qx airpack-probe/control:1 <<<"$before"; then
        pass docker-missing-chain-unchanged
    else fail docker-missing-chain-unchanged "before: $before; after: $after"; fi
fi

# ---- targets that cannot check a delta -------------------------------------------------
expect_fail containerd-delta-refused 2 "delta bundle.*cannot check" \
    ap load -q -p "$KEYS/pub" --into containerd:airpack-delta-test w2.tar
# A plain save archive must carry every layer: a delta cannot become one.
expect_fail docker-archive-delta-refused 2 "delta bundle.*cannot check" \
    ap load -q -p "$KEYS/pub" --into "docker-archive:$T/w2-plain.tar" w2.tar
[ ! -e "$T/w2-plain.tar" ] && pass docker-archive-delta-no-file || fail docker-archive-delta-no-file
expect_fail oci-archive-delta-refused 2 "delta bundle.*cannot check" \
    ap load -q -p "$KEYS/pub" --into "oci-archive:$T/w2-oci.tar" w2.tar
[ -z "$(ls -A "$T" | grep 'w2-oci')" ] && pass oci-archive-delta-no-file ||
    fail oci-archive-delta-no-file "$(ls -A "$T" | grep w2-oci)"
expect_fail containers-storage-delta-refused 2 "delta bundle.*cannot check" \
    ap load -q -p "$KEYS/pub" --into "containers-storage:[vfs@$T/cs/root+$T/cs/run]" w2.tar
