#!/bin/bash
# faithful: images keep the digests they left with (DESIGN rule 5). A real registry
# (docker-registry on 127.0.0.1) filled by skopeo with gzip layers (OCI manifest), zstd
# layers, and a Docker schema 2 image; pack from docker:// (the default keeps what the
# source signed), load into another repository prefix and into oci:DIR: the manifests the
# far registry serves are the source's bytes, and skopeo pulls them by the source digest.
# app-c is app-b with zstd layers: one config under two manifests, each layer kept twice.
# -c recompresses (new digests, said, source digest in the index). A layer whose blob is
# not the one its manifest names is refused at pack.
. "$(dirname "$0")/../lib.sh"
plan 41
skip_unless docker-registry skopeo jq minisign curl
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
export SOURCE_DATE_EPOCH=1700000000

if ! start_registry reg; then fail registry-start "see above"; exit 0; fi
R="127.0.0.1:$REG_PORT"
SK="skopeo --override-os linux --override-arch amd64"
push() { $SK copy -q --dest-tls-verify=false "$@" >>"$T/push.log" 2>&1; }
raw() { skopeo inspect --tls-verify=false --raw "docker://$1"; }
digest_of() { raw "$1" | sha256sum | cut -d' ' -f1; }

push "oci:$S/oci:app-a" "docker://$R/src/app-a:1.0" &&
push "oci-archive:$S/oci-archive.tar:app-b" "docker://$R/src/app-c:1.0" &&
push "docker-archive:$S/docker24/app-b.tar" "docker://$R/src/app-b:1.0" ||
    { fail registry-fill "$(tail -c 300 "$T/push.log")"; exit 0; }
# the probes: what the registry holds is what we think it is
mt_c=$(raw "$R/src/app-c:1.0" | jq -r '.layers[0].mediaType')
mt_b=$(raw "$R/src/app-b:1.0" | jq -r '.mediaType')
if [ "$mt_c" = application/vnd.oci.image.layer.v1.tar+zstd ] &&
   [ "$mt_b" = application/vnd.docker.distribution.manifest.v2+json ]; then pass registry-filled
else fail registry-filled "app-c layer $mt_c, app-b manifest $mt_b"; fi
DA=$(digest_of "$R/src/app-a:1.0"); DB=$(digest_of "$R/src/app-b:1.0"); DC=$(digest_of "$R/src/app-c:1.0")

# ---- pack (default: faithful) -----------------------------------------------------
B="$O/f.tar"
if "$AIRPACK" pack -o "$B" -s "$KEYS/sec" "docker://$R/src/app-a:1.0" "docker://$R/src/app-b:1.0" \
    "docker://$R/src/app-c:1.0" >"$T/p.out" 2>"$T/p.err"; then pass pack-faithful
else fail pack-faithful "exit $?: $(head -c 400 "$T/p.err")"; exit 0; fi
if grep -q "3 image(s) carried as their source signed them" "$T/p.out" &&
   grep -q "layer(s) stored twice, in another compression" "$T/p.out"; then pass pack-says-faithful
else fail pack-says-faithful "$(cat "$T/p.out")"; fi
got=$(index_json "$B" | jq -r '[.images[].manifest.digest | ltrimstr("sha256:")] | sort | join(" ")')
want=$(printf '%s\n' "$DA" "$DB" "$DC" | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$got" = "$want" ]; then pass index-has-source-digests; else fail index-has-source-digests "$got vs $want"; fi
why=$(bundle_check "$B") && pass faithful-bundle-format || fail faithful-bundle-format "$why"
if "$AIRPACK" ls "$B" | grep -q "stored again as another blob"; then pass ls-says-layers-stored-twice
else fail ls-says-layers-stored-twice "$("$AIRPACK" ls "$B" | tail -4)"; fi
if "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$B" >"$T/v.out" 2>&1; then pass faithful-verifies-deep
else fail faithful-verifies-deep "$(head -c 400 "$T/v.out")"; fi
# the manifest bytes in the bundle are the registry's
tar -xOf "$B" "blobs/sha256/$DB" >"$T/mb" 2>/dev/null
if raw "$R/src/app-b:1.0" | cmp -s - "$T/mb"; then pass bundle-manifest-bytes; else fail bundle-manifest-bytes "differ"; fi

# ---- load into another prefix of the same registry ---------------------------------
if "$AIRPACK" load -p "$KEYS/pub" --tls-verify=false --into "docker://$R/mirror" "$B" >"$T/l.out" 2>&1; then
    pass load-registry
else fail load-registry "$(head -c 400 "$T/l.out")"; fi
if grep -q "manifest sha256:$DB" "$T/l.out"; then pass load-prints-manifest-digest
else fail load-prints-manifest-digest "$(head -c 300 "$T/l.out")"; fi
for n in app-a app-b app-c; do
    if raw "$R/src/$n:1.0" >"$T/src.raw" && raw "$R/mirror/$R/src/$n:1.0" >"$T/dst.raw" 2>/dev/null ||
       raw "$R/mirror/src/$n:1.0" >"$T/dst.raw"; then :; fi
    if [ -s "$T/dst.raw" ] && cmp -s "$T/src.raw" "$T/dst.raw"; then pass "far-registry-same-bytes-$n"
    else fail "far-registry-same-bytes-$n" "$(head -c 200 "$T/dst.raw")"; fi
    rm -f "$T/dst.raw"
done
if skopeo copy -q --src-tls-verify=false "docker://$R/mirror/src/app-c@sha256:$DC" "oci:$T/pulled:c" >"$T/s.out" 2>&1
then pass skopeo-pulls-source-digest; else fail skopeo-pulls-source-digest "$(head -c 300 "$T/s.out")"; fi

# ---- load into oci:DIR -------------------------------------------------------------
if "$AIRPACK" load --json -p "$KEYS/pub" --into "oci:$T/lay" "$B" >"$T/lo.out" 2>&1; then
    jm=$(jq -r '[.images[].manifest | ltrimstr("sha256:")] | sort | join(" ")' "$T/lo.out")
    [ "$jm" = "$want" ] && pass load-json-manifest-digests || fail load-json-manifest-digests "$jm"
    got=$(jq -r '[.manifests[].digest | ltrimstr("sha256:")] | sort | join(" ")' "$T/lay/index.json")
    mtb=$(jq -r --arg d "sha256:$DB" '.manifests[] | select(.digest == $d) | .mediaType' "$T/lay/index.json")
    if [ "$got" = "$want" ] && [ "$mtb" = application/vnd.docker.distribution.manifest.v2+json ]; then
        pass oci-target-source-digests
    else fail oci-target-source-digests "$got / $mtb"; fi
else fail oci-target-source-digests "$(head -c 300 "$T/lo.out")"; fi

# ---- -c recompresses and says so -----------------------------------------------------
B2="$O/c.tar"
if "$AIRPACK" pack -c zstd -o "$B2" -s "$KEYS/sec" "docker://$R/src/app-a:1.0" >"$T/c.out" 2>&1 &&
   grep -q "digests change" "$T/c.out"; then
    srcd=$(index_json "$B2" | jq -r '.images[0].source_manifest')
    newd=$(index_json "$B2" | jq -r '.images[0].manifest.digest')
    lsd=$("$AIRPACK" ls --json "$B2" | jq -r '.images[0].source_manifest')
    if [ "$srcd" = "sha256:$DA" ] && [ "$newd" != "sha256:$DA" ] && [ "$lsd" = "$srcd" ]; then pass recompress-records-source
    else fail recompress-records-source "source_manifest $srcd, manifest $newd"; fi
else fail recompress-records-source "$(head -c 300 "$T/c.out")"; fi

# ---- an OCI layout whose layer is not the blob its manifest names -------------------
L="$T/badlay"; cp -r "$S/oci" "$L"; chmod -R u+w "$L"
m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "app-a") | .digest' "$L/index.json")
l0=$(jq -r '.layers[-1].digest' "$L/blobs/sha256/${m#sha256:}")
# same content (same diff_id), other gzip bytes
gzip -dc "$L/blobs/sha256/${l0#sha256:}" | gzip -1 >"$T/regz"
cp "$T/regz" "$L/blobs/sha256/${l0#sha256:}"
if "$AIRPACK" pack -q -o "$O/bad.tar" -s "$KEYS/sec" "oci:$L:app-a" >"$T/b.out" 2>&1; then
    fail refuses-wrong-blob "packed"
elif grep -q "is not the blob its manifest names" "$T/b.out" && [ ! -e "$O/bad.tar" ]; then pass refuses-wrong-blob
else fail refuses-wrong-blob "$(head -c 300 "$T/b.out")"; fi

# ---- oci:DIR names each image by its full name -------------------------------------
# three images tagged 1 in three repositories: each found by its full name
push "oci:$S/oci:app-a" "docker://$R/one/x:1" && push "oci:$S/oci:app-b" "docker://$R/two/x:1" &&
push "oci:$S/oci:app-c" "docker://$R/three/y:1" || { fail three-fill "$(tail -c 300 "$T/push.log")"; exit 0; }
B3="$O/three.tar"
L3="$T/three"
if "$AIRPACK" pack -q -o "$B3" -s "$KEYS/sec" "docker://$R/one/x:1" "docker://$R/two/x:1" "docker://$R/three/y:1" \
    >"$T/3.out" 2>&1 && "$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$L3" "$B3" >>"$T/3.out" 2>&1; then
    ok=0
    for n in one/x two/x three/y; do
        d=$(skopeo inspect --format '{{.Digest}}' "oci:$L3:$R/$n:1" 2>>"$T/3.out")
        [ "$d" = "sha256:$(digest_of "$R/$n:1")" ] && ok=$((ok + 1))
    done
    # the probe: the tag alone is not a name in this layout
    if [ $ok = 3 ] && ! skopeo inspect "oci:$L3:1" >/dev/null 2>&1; then pass oci-full-names-three-images
    else fail oci-full-names-three-images "$ok of 3 found by full name: $(tail -c 300 "$T/3.out")"; fi
else fail oci-full-names-three-images "$(head -c 300 "$T/3.out")"; fi
# a layout an earlier airpack wrote (ref.name = the tag) is rewritten with full names on the next load
jq -c '.manifests |= map(.annotations["org.opencontainers.image.ref.name"] =
    (.annotations["io.containerd.image.name"] | sub(".*:"; "")))' "$L3/index.json" >"$T/old.json" &&
    cp "$T/old.json" "$L3/index.json"
"$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$L3" "$O/c.tar" >"$T/old.out" 2>&1
bad=$(jq -r '[.manifests[].annotations | select(."org.opencontainers.image.ref.name" != ."io.containerd.image.name")] | length' "$L3/index.json")
n=$(jq '.manifests | length' "$L3/index.json")
if [ "$bad" = 0 ] && [ "$n" = 4 ]; then pass oci-old-layout-rewritten
else fail oci-old-layout-rewritten "$bad descriptors still named by tag, $n descriptors: $(head -c 200 "$T/old.out")"; fi

# ---- a two-platform index (issue 19 item 1 and byte-for-byte indexes) -----------------
# app-a as linux/amd64 and an arm64/v8 twin (its config edited), pushed with skopeo --all
two_platform_layout "$S/oci" "$T/ma"
push --all "oci:$MA:multi" "docker://$R/src/multi:1" || { fail multi-fill "$(tail -c 300 "$T/push.log")"; exit 0; }
DI=$(digest_of "$R/src/multi:1")
BM="$O/multi.tar"
if "$AIRPACK" pack --all-platforms -o "$BM" -s "$KEYS/sec" "docker://$R/src/multi:1" >"$T/m.out" 2>&1 &&
   [ "$(index_json "$BM" | jq -r '.indexes[0].digest')" = "sha256:$DI" ] &&
   [ "$(tar -xOf "$BM" index.json | jq -r '.manifests[0].digest')" = "sha256:$DI" ] &&
   "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$BM" >>"$T/m.out" 2>&1; then pass multi-index-carried
else fail multi-index-carried "$(head -c 400 "$T/m.out")"; fi
two() { jq -r '[.manifests[].platform.architecture] | sort | join(",")'; }
# into oci:DIR: the name is the index, both platforms there
if "$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$T/mo" "$BM" >"$T/mo.out" 2>&1 &&
   [ "$(jq -r '.manifests | length' "$T/mo/index.json")" = 1 ] &&
   [ "$(skopeo inspect --raw "oci:$T/mo:$R/src/multi:1" | sha256sum | cut -d' ' -f1)" = "$DI" ]; then
    pass multi-oci-keeps-index
else fail multi-oci-keeps-index "$(head -c 300 "$T/mo.out") $(jq -c . "$T/mo/index.json" 2>/dev/null | head -c 300)"; fi
# into another repository of the registry: the tag names the same index
if "$AIRPACK" load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/mirror" "$BM" >"$T/mr.out" 2>&1 &&
   [ "$(digest_of "$R/mirror/src/multi:1")" = "$DI" ] && [ "$(raw "$R/mirror/src/multi:1" | two)" = amd64,arm64 ]; then
    pass multi-registry-keeps-index
else fail multi-registry-keeps-index "$(head -c 300 "$T/mr.out")"; fi
# into oci-archive: skopeo reads the index from the archive
if "$AIRPACK" load -q -p "$KEYS/pub" --into "oci-archive:$T/ma.tar" "$BM" >"$T/ma.out" 2>&1 &&
   [ "$(skopeo inspect --raw "oci-archive:$T/ma.tar:1" 2>/dev/null | two)" = amd64,arm64 ]; then
    pass multi-oci-archive-both-platforms
else fail multi-oci-archive-both-platforms "$(head -c 300 "$T/ma.out")"; fi
if [ "$(skopeo inspect --raw "oci-archive:$T/ma.tar:1" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$DI" ]; then
    pass multi-oci-archive-same-index
else fail multi-oci-archive-same-index "not the source's index bytes"; fi

if grep -q "1 multi-platform image index(es) carried byte for byte" "$T/m.out"; then pass pack-says-index-carried
else fail pack-says-index-carried "$(cat "$T/m.out")"; fi
# --platform: one platform of the index, which cannot travel as it is: pack says so
if "$AIRPACK" pack --platform linux/arm64 -o "$O/one.tar" -s "$KEYS/sec" "docker://$R/src/multi:1" >"$T/p1.out" 2>&1 &&
   grep -q "1 image index(es) not carried as the source has them" "$T/p1.out"; then pass pack-says-index-subset
else fail pack-says-index-subset "$(cat "$T/p1.out")"; fi
# an OCI layout whose index lists an attestation manifest without a platform (buildx):
# --all-platforms packs the images and says the attestation was left out (issue 19 item 6)
jq -c --arg d "$mdig" --argjson s "$(stat -c %s "$(blob "$mdig")")" '.manifests += [{mediaType:
    "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
    annotations: {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": $d}}]' \
    "$T/idx" >"$T/idx-att"
iatt=$(put_blob "$T/idx-att")
jq -nc --arg d "$iatt" --argjson s "$(stat -c %s "$T/idx-att")" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": "att"}}]}' >"$MA/index.json"
if "$AIRPACK" pack --all-platforms -o "$O/att.tar" -s "$KEYS/sec" "oci:$MA:att" >"$T/at.out" 2>&1 &&
   grep -q "1 attestation manifest(s) left out" "$T/at.out" && grep -q "not carried as the source has them" "$T/at.out" &&
   [ "$(index_json "$O/att.tar" | jq '.images | length')" = 2 ]; then pass attestation-skipped-with-notice
else fail attestation-skipped-with-notice "$(cat "$T/at.out")"; fi

# an OCI layout that holds a referrer (a manifest whose subject is app-a's): it travels, and the far
# registry (no referrers API) finds it through the fallback tag sha256-<hex> that the load writes
RL="$T/reflay"; cp -r "$S/oci" "$RL"; chmod -R u+w "$RL"
am=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "app-a") | .digest' "$RL/index.json")
echo '{}' >"$T/empty.json"; eh=$(sha256sum <"$T/empty.json" | cut -d' ' -f1); cp "$T/empty.json" "$RL/blobs/sha256/$eh"
jq -nc --arg s "$am" --argjson ss "$(stat -c %s "$RL/blobs/sha256/${am#sha256:}")" --arg e "sha256:$eh" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: "application/example.sbom",
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $e, size: 3}, layers: [],
      subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $s, size: $ss}}' >"$T/ref.json"
rh=$(sha256sum <"$T/ref.json" | cut -d' ' -f1); cp "$T/ref.json" "$RL/blobs/sha256/$rh"
jq -c --arg d "sha256:$rh" --argjson z "$(stat -c %s "$T/ref.json")" \
    '.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $z}]' "$RL/index.json" >"$T/ri.json" &&
    cp "$T/ri.json" "$RL/index.json"
if "$AIRPACK" pack -o "$O/reflay.tar" -s "$KEYS/sec" "oci:$RL" >"$T/rl.out" 2>&1 &&
   grep -q "1 signature(s), attestation(s) or SBOM(s) carried" "$T/rl.out" &&
   [ "$(index_json "$O/reflay.tar" | jq '.images | length')" = 3 ] &&
   "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$O/reflay.tar" >>"$T/rl.out" 2>&1 &&
   "$AIRPACK" load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/lay" "$O/reflay.tar" >>"$T/rl.out" 2>&1 &&
   [ "$(raw "$R/lay/reflay@sha256:$rh" | sha256sum | cut -d' ' -f1)" = "$rh" ] &&
   [ "$(raw "$R/lay/reflay:sha256-${am#sha256:}" | jq -r '.manifests[0].digest')" = "sha256:$rh" ]; then
    pass oci-layout-referrer-travels
else fail oci-layout-referrer-travels "$(head -c 400 "$T/rl.out")"; fi

# ---- containerd: the target and ctr import of the OCI archive keep the index digest ----
if have containerd && have ctr; then
    start_containerd || echo "containerd did not start: $(tail -3 "$C/log")"   # the cases below then fail
    export CONTAINERD_ADDRESS="$C/c.sock"
    target_of() { ctr -a "$C/c.sock" -n "$1" images ls 2>/dev/null | awk -v n="$2" '$1 == n { print $3 }'; }
    if "$AIRPACK" load -q -p "$KEYS/pub" --into containerd:fa "$BM" >"$T/ct.out" 2>&1 &&
       [ "$(target_of fa "$R/src/multi:1")" = "sha256:$DI" ]; then pass multi-containerd-keeps-index
    else fail multi-containerd-keeps-index "$(head -c 300 "$T/ct.out") $(ctr -a "$C/c.sock" -n fa images ls 2>&1 | head -c 300)"; fi
    # a bundle that carries an OCI 1.1 referrer loads into containerd as well (the referrer stays out)
    if "$AIRPACK" load -q -p "$KEYS/pub" --into containerd:rl "$O/reflay.tar" >"$T/crl.out" 2>&1; then
        pass containerd-with-referrer
    else fail containerd-with-referrer "$(head -c 300 "$T/crl.out")"; fi
    if ctr -a "$C/c.sock" -n imp images import "$T/ma.tar" >"$T/ci.out" 2>&1 &&
       [ "$(target_of imp "$R/src/multi:1")" = "sha256:$DI" ]; then pass ctr-import-oci-archive-keeps-index
    else fail ctr-import-oci-archive-keeps-index "$(head -c 300 "$T/ci.out") $(ctr -a "$C/c.sock" -n imp images ls 2>&1 | head -c 300)"; fi
else
    skip containerd "containerd not installed" 3
fi

# ---- still a save archive: docker load of a faithful bundle of gzip layers (Docker 20.10) ----
BG="$O/gzip.tar"
if ! have dockerd; then skip docker-load "dockerd not installed"
elif ! "$AIRPACK" pack -q -o "$BG" -s "$KEYS/sec" "docker://$R/src/app-a:1.0" "docker://$R/src/app-b:1.0" >"$T/g.out" 2>&1; then
    fail docker-load-faithful-gzip "pack: $(head -c 300 "$T/g.out")"
elif ! start_dockerd; then fail docker-load-faithful-gzip "dockerd did not start"
else
    "$DOCKER" load -i "$BG" >"$T/dl.out" 2>&1
    got=$("$DOCKER" images --no-trunc -q | sort -u | tr '\n' ' ')
    want=$(index_json "$BG" | jq -r '[.images[].config.digest] | unique | join(" ")')
    if [ "$got" = "$want " ]; then pass docker-load-faithful-gzip
    else fail docker-load-faithful-gzip "docker has '$got', the bundle '$want': $(head -c 300 "$T/dl.out")"; fi
fi

# ---- a cosign-style signature travels with its image ---------------------------------------
CS="python3 $TOP/tests/tools/cosign_sig.py"
$CS keygen "$T/cosign.key" "$T/cosign.pub" &&
$CS sign "$R" src/app-a "sha256:$DA" "$T/cosign.key" >"$T/cs.out" 2>&1 &&
$CS verify "$R" src/app-a 1.0 "$T/cosign.pub" >>"$T/cs.out" 2>&1 || { fail cosign-setup "$(tail -c 300 "$T/cs.out")"; exit 0; }
BS="$O/signed.tar"
if "$AIRPACK" pack -o "$BS" -s "$KEYS/sec" "docker://$R/src/app-a:1.0" >"$T/ps.out" 2>&1 &&
   grep -q "1 signature(s), attestation(s) or SBOM(s) carried" "$T/ps.out" &&
   [ "$(index_json "$BS" | jq -r '.referrers[0].tag')" = "sha256-$DA.sig" ] &&
   "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$BS" >>"$T/ps.out" 2>&1; then pass signature-packed
else fail signature-packed "$(head -c 400 "$T/ps.out")"; fi
if "$AIRPACK" ls "$BS" | grep -q "referrer sha256-$DA.sig"; then pass ls-shows-signature
else fail ls-shows-signature "$("$AIRPACK" ls "$BS" | head -c 300)"; fi
"$AIRPACK" load -p "$KEYS/pub" --tls-verify=false --into "docker://$R/far" "$BS" >"$T/ls.out" 2>&1
if [ "$(raw "$R/far/src/app-a:sha256-$DA.sig" 2>/dev/null | sha256sum)" = "$(raw "$R/src/app-a:sha256-$DA.sig" | sha256sum)" ] &&
   $CS verify "$R" far/src/app-a 1.0 "$T/cosign.pub" >"$T/fv.out" 2>&1; then pass signature-verifies-on-far-side
else fail signature-verifies-on-far-side "$(head -c 300 "$T/ls.out") $(tail -c 300 "$T/fv.out" 2>/dev/null)"; fi
# without the signature (--no-referrers) the same check fails on the far side
"$AIRPACK" pack -q --no-referrers -o "$O/nosig.tar" -s "$KEYS/sec" "docker://$R/src/app-a:1.0" >"$T/ns.out" 2>&1 &&
"$AIRPACK" load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/bare" "$O/nosig.tar" >>"$T/ns.out" 2>&1
if [ "$(digest_of "$R/bare/src/app-a:1.0" 2>/dev/null)" = "$DA" ] &&
   ! $CS verify "$R" bare/src/app-a 1.0 "$T/cosign.pub" >/dev/null 2>&1; then pass no-referrers-leaves-signature
else fail no-referrers-leaves-signature "$(head -c 300 "$T/ns.out")"; fi
# into oci:DIR the signature is kept under its tag; docker-daemon-like targets say they skip it
if "$AIRPACK" load -p "$KEYS/pub" --into "oci:$T/so" "$BS" >"$T/so.out" 2>&1 &&
   skopeo inspect --raw "oci:$T/so:$R/src/app-a:sha256-$DA.sig" 2>/dev/null | cmp -s - <(raw "$R/src/app-a:sha256-$DA.sig"); then
    pass oci-keeps-signature
else fail oci-keeps-signature "$(head -c 300 "$T/so.out")"; fi
# an OCI 1.1 referrer (an SBOM whose subject is app-c) behind the fallback tag sha256-<hex>: it
# travels, the far registry serves the same referrer by digest and the same fallback index
if RM=$($CS attach "$R" src/app-c "sha256:$DC" 2>"$T/at.err"); then
    BR="$O/oci11.tar"
    if "$AIRPACK" pack -o "$BR" -s "$KEYS/sec" "docker://$R/src/app-c:1.0" >"$T/pr.out" 2>&1 &&
       grep -q "2 signature(s), attestation(s) or SBOM(s) carried" "$T/pr.out" &&
       "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$BR" >>"$T/pr.out" 2>&1 &&
       "$AIRPACK" load -q -p "$KEYS/pub" --tls-verify=false --into "docker://$R/far11" "$BR" >>"$T/pr.out" 2>&1 &&
       [ "$(raw "$R/far11/src/app-c:sha256-$DC" | sha256sum)" = "$(raw "$R/src/app-c:sha256-$DC" | sha256sum)" ] &&
       [ "$(raw "$R/far11/src/app-c@$RM" | sha256sum | cut -d' ' -f1)" = "${RM#sha256:}" ]; then
        pass oci11-referrer-travels
    else fail oci11-referrer-travels "$(head -c 400 "$T/pr.out")"; fi
else fail oci11-referrer-travels "attach: $(tail -c 300 "$T/at.err")"; fi
# a Docker engine keeps no manifests: the load says it left the signature out
if [ -n "${DOCKERD_PID:-}" ]; then
    if "$AIRPACK" load -p "$KEYS/pub" --into docker-daemon: "$BS" >"$T/dd.out" 2>&1 &&
       grep -q "1 signature(s), attestation(s) or SBOM(s) not loaded: docker-daemon: keeps no manifests" "$T/dd.out"; then
        pass docker-daemon-says-signature-skipped
    else fail docker-daemon-says-signature-skipped "$(head -c 300 "$T/dd.out")"; fi
else skip docker-daemon-says-signature-skipped "no dockerd"; fi
# a tampered signature manifest is refused by verify, naming it
sm=$(index_json "$BS" | jq -r '.referrers[0].manifest.digest | ltrimstr("sha256:")')
flip_byte "$BS" "$T/tampered.tar" "blobs/sha256/$sm"
if "$AIRPACK" verify -p "$KEYS/pub" "$T/tampered.tar" >"$T/tv.out" 2>&1; then fail tampered-signature-refused "verified"
elif grep -q "$sm" "$T/tv.out"; then pass tampered-signature-refused
else fail tampered-signature-refused "$(head -c 300 "$T/tv.out")"; fi
