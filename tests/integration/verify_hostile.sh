#!/bin/bash
# verify_hostile.sh: `airpack verify` on a good bundle and on many hostile ones.
#
# The bundles are forged here, independently of airpack's own writer: blobs made
# with GNU tar and zstd, JSON made with jq, the index signed by the real minisign
# program, the bundle assembled by GNU tar in an explicit order. Each case checks
# the exit status and the reason in the message.
. "$(dirname "$0")/../lib.sh"
plan 76
skip_unless minisign jq zstd tar

W=$T/w
mkdir -p "$W"
cd "$W" || exit 1

# ---- keys -----------------------------------------------------------------------
minisign -G -W -p k1.pub -s k1.key >/dev/null 2>&1 &&
    minisign -G -W -p k2.pub -s k2.key >/dev/null 2>&1 || { fail setup "minisign -G failed"; exit 0; }
K1_B64=$(sed -n 2p k1.pub)
# minisign's default must be the prehashed "ED" algorithm the format names
echo probe >probe && minisign -S -s k1.key -m probe >/dev/null 2>&1
if [ "$(sed -n 2p probe.minisig | base64 -d 2>/dev/null | head -c 2)" = ED ]; then
    pass "minisign signs prehashed (ED) by default"
else
    fail "minisign signs prehashed (ED) by default" "algorithm $(sed -n 2p probe.minisig | base64 -d | head -c 2)"
fi

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
TARFLAGS=(--format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=0644)

# ---- the base: one image with two names, one zstd layer ---------------------------
B=$W/base
mkdir -p "$B/blobs/sha256" "$B/airpack" rootfs/etc
echo "hello from the forge" >rootfs/etc/motd
head -c 100000 /dev/urandom | base64 >rootfs/etc/data
tar "${TARFLAGS[@]}" --sort=name -cf layer.tar -C rootfs etc
DIFF=$(sha layer.tar)
USIZE=$(size layer.tar)
zstd -q -c layer.tar >layer.zst
L=$(sha layer.zst)
LSIZE=$(size layer.zst)
cp layer.zst "$B/blobs/sha256/$L"
LMT=application/vnd.oci.image.layer.v1.tar+zstd

jq -cn --arg d "sha256:$DIFF" \
    '{architecture:"amd64",os:"linux",config:{},rootfs:{type:"layers",diff_ids:[$d]}}' | tr -d '\n' >cfg
C=$(sha cfg)
CSIZE=$(size cfg)
cp cfg "$B/blobs/sha256/$C"

jq -cn --arg c "sha256:$C" --argjson cs "$CSIZE" --arg l "sha256:$L" --argjson ls "$LSIZE" --arg mt "$LMT" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
      layers:[{mediaType:$mt,digest:$l,size:$ls}]}' | tr -d '\n' >man
M=$(sha man)
MSIZE=$(size man)
cp man "$B/blobs/sha256/$M"

N1=docker.io/library/demo:1.0
N2=localhost:5000/demo:1.0
printf '{"imageLayoutVersion":"1.0.0"}' >"$B/oci-layout"
jq -cn --arg m "sha256:$M" --argjson ms "$MSIZE" --arg n1 "$N1" --arg n2 "$N2" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.index.v1+json",manifests:[
      {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$m,size:$ms,
       annotations:{"io.containerd.image.name":$n1,"org.opencontainers.image.ref.name":"1.0"},
       platform:{architecture:"amd64",os:"linux"}},
      {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$m,size:$ms,
       annotations:{"io.containerd.image.name":$n2,"org.opencontainers.image.ref.name":"1.0"},
       platform:{architecture:"amd64",os:"linux"}}]}' | tr -d '\n' >"$B/index.json"
jq -cn --arg c "blobs/sha256/$C" --arg l "blobs/sha256/$L" \
    '[{Config:$c,RepoTags:["demo:1.0","localhost:5000/demo:1.0"],Layers:[$l]}]' | tr -d '\n' >"$B/manifest.json"

ENTRIES="blobs/sha256/$L blobs/sha256/$C blobs/sha256/$M oci-layout index.json manifest.json"

# index DIR [JQ-FILTER] [ENTRY-PATHS]: writes DIR/airpack/bundle.json for the files in DIR.
index() {
    local dir=$1 filter=${2:-.} paths=${3:-$ENTRIES} p
    for p in $paths; do echo "$p $(size "$dir/$p") $(sha "$dir/$p")"; done >"$dir.entries"
    jq -cn --rawfile el "$dir.entries" \
        --arg n1 "$N1" --arg n2 "$N2" --arg m "sha256:$M" --argjson ms "$MSIZE" \
        --arg c "sha256:$C" --argjson cs "$CSIZE" --arg l "sha256:$L" --argjson ls "$LSIZE" \
        --arg d "sha256:$DIFF" --argjson us "$USIZE" --arg mt "$LMT" \
        '{airpack_bundle:1,created:"1970-01-01T00:00:00Z",tool:"forge",compression:"zstd",
          images:[{names:[$n1,$n2],manifest:{digest:$m,size:$ms},config:{digest:$c,size:$cs},
                   platform:"linux/amd64",
                   layers:[{digest:$l,size:$ls,diff_id:$d,uncompressed_size:$us,media_type:$mt}]}],
          entries:($el | split("\n") | map(select(length > 0) | split(" ")
                   | {path:.[0],size:(.[1] | tonumber),sha256:.[2]}))} | '"$filter" |
        tr -d '\n' >"$dir/airpack/bundle.json"
}
# sign DIR [KEY]: signs the index with minisign (prehashed, airpack's trusted comment).
sign() {
    rm -f "$1/airpack/bundle.json.minisig"
    minisign -S -s "${2:-k1.key}" -m "$1/airpack/bundle.json" -x "$1/airpack/bundle.json.minisig" \
        -t "timestamp:0	file:bundle.json	hashed" >/dev/null
}
# bundle DIR OUT [MEMBERS...]: the tar, in exactly this order.
bundle() {
    local dir=$1 out=$2
    shift 2
    [ $# -gt 0 ] || set -- airpack/bundle.json airpack/bundle.json.minisig $ENTRIES
    tar "${TARFLAGS[@]}" -cf "$out" -C "$dir" "$@"
}
# forge NAME [JQ-FILTER]: a copy of the base, indexed (filtered), signed: $W/NAME/
forge() {
    rm -rf "${W:?}/$1"
    cp -a "$B" "$W/$1"
    index "$W/$1" "${2:-.}"
    sign "$W/$1"
}
flip_byte() { # FILE OFFSET: change one byte in place
    local old
    old=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(((old + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# expect_ok NAME PATTERN command... (tests/lib.sh): exit 0 with PATTERN on stdout
offset_of() { # TAR PATH: byte offset of the entry's header, as GNU tar lists it
    tar -tv -R -f "$1" 2>/dev/null | awk -v p="$2" '$NF == p { sub(":", "", $2); print $2 * 512; exit }'
}
via_stdin() { # BUNDLE args...: airpack verify ARGS - < BUNDLE
    local f=$1
    shift
    "$AIRPACK" verify "$@" - <"$f"
}
V=("$AIRPACK" verify -q)

# ---- the good bundle -------------------------------------------------------------------
forge good
bundle good good.tar
LOFF=$(offset_of good.tar "blobs/sha256/$L")
[ -n "$LOFF" ] && [ "$LOFF" -ge 1536 ] || fail "offset of the layer in the good bundle" "got '$LOFF'"
expect_ok "good bundle verifies (file)" "good.tar: verified: 1 image, 6 entries, [0-9]+ bytes, signed by key ID [0-9A-F]{16} \(trusted comment: timestamp:0.file:bundle.json.hashed\)" \
    "${V[@]}" -p k1.pub good.tar
expect_ok "good bundle verifies (stdin)" "stdin: verified: 1 image, 6 entries" \
    bash -c "cat good.tar | '$AIRPACK' verify -q -p k1.pub -"
expect_ok "good bundle verifies --deep" "verified: 1 image" "${V[@]}" --deep -p k1.pub good.tar
expect_ok "good bundle verifies --deep (stdin)" "verified: 1 image" via_stdin good.tar -q --deep -p k1.pub
expect_ok "two -p keys, the second one signed" "verified" "${V[@]}" -p k2.pub -p k1.pub good.tar
expect_ok "-P BASE64 works" "verified" "${V[@]}" -P "$K1_B64" good.tar
# The key ID from the key itself (bytes 2-9, little-endian), as airpack prints it: 16 hex
# digits. Not from minisign's comment line: minisign writes the ID without leading zeros, so
# one key in 16 has a 15-digit comment.
KID=$(sed -n 2p k1.pub | base64 -d | od -An -tx1 -j2 -N8 | tr -d ' \n' | fold -w2 | tac | tr -d '\n' |
    tr a-f A-F)
"${V[@]}" --json -p k1.pub good.tar >json.out 2>json.err
JSON_RC=$?
if [ $JSON_RC -eq 0 ] && jq -e --arg k "$KID" --arg c "sha256:$C" '.verdict == "verified" and .key_id == $k and .entries_checked == 6
        and .images[0].id == $c and (.images[0].names | length) == 2 and (.bytes > 0) and (.seconds >= 0)
        and (.trusted_comment | startswith("timestamp:0"))' json.out >/dev/null; then
    pass "--json report of a good bundle"
else
    fail "--json report of a good bundle" "exit $JSON_RC; stdout: $(cat json.out); stderr: $(head -c 1000 json.err)"
fi
minisign -Vm good/airpack/bundle.json -p k1.pub -q >/dev/null 2>&1 &&
    pass "minisign verifies the forged index" || fail "minisign verifies the forged index"

# default keys: ./airpack.pub when there is no -p/-P (and no trusted-keys directory)
mkdir -p cwd && cp k1.pub cwd/airpack.pub
(cd cwd && AIRPACK_TRUSTED_KEYS=$W/nokeys AIRPACK_CONFIG_DIR=$W/noconf "$AIRPACK" verify ../good.tar) >dk.out 2>dk.err
if [ $? -eq 0 ] && grep -q "airpack.pub" dk.err && grep -q verified dk.out; then pass "default key ./airpack.pub is used and named"
else fail "default key ./airpack.pub is used and named" "$(cat dk.err)"; fi
mkdir -p trusted && cp k2.pub trusted/old.pub && cp k1.pub trusted/new.pub
AIRPACK_TRUSTED_KEYS=$W/trusted "${V[@]}" good.tar >/dev/null 2>&1 &&
    pass "trusted-keys directory is used" || fail "trusted-keys directory is used"

# ---- could not run: exit 2 -------------------------------------------------------------
expect_fail "missing file: exit 2" 2 "no-such.tar" "${V[@]}" -p k1.pub no-such.tar
expect_fail "no trusted key: exit 2" 2 "no trusted key" \
    env AIRPACK_TRUSTED_KEYS="$W/nokeys" AIRPACK_CONFIG_DIR="$W/noconf" HOME="$W/nohome" "${V[@]}" good.tar
expect_fail "unknown option: exit 2" 2 "not known" "${V[@]}" --frobnicate -p k1.pub good.tar
expect_fail "unreadable key file: exit 2" 2 "nokey.pub" "${V[@]}" -p nokey.pub good.tar

# ---- signature -------------------------------------------------------------------------
forge badsig
# same length, one byte changed, after signing
sed -i 's/"tool":"forge"/"tool":"forgf"/' badsig/airpack/bundle.json
bundle badsig badsig.tar
expect_fail "index changed after signing" 1 "entry airpack/bundle.json.minisig at offset [0-9]+: signature verification failed" \
    "${V[@]}" -p k1.pub badsig.tar

forge otherkey
sign otherkey k2.key
bundle otherkey otherkey.tar
expect_fail "signed by another key" 1 "entry airpack/bundle.json.minisig at offset [0-9]+: signed by key ID [0-9A-F]{16}, which is not trusted" \
    "${V[@]}" -p k1.pub otherkey.tar

forge tc
sed -i '3s/timestamp:0/timestamp:1/' tc/airpack/bundle.json.minisig
bundle tc tc.tar
expect_fail "tampered trusted comment" 1 "airpack/bundle.json.minisig at offset [0-9]+: trusted comment does not match" \
    "${V[@]}" -p k1.pub tc.tar

forge nosig
bundle nosig nosig.tar airpack/bundle.json $ENTRIES
expect_fail "signature missing" 1 "entry blobs/sha256/$L at offset $(offset_of nosig.tar "blobs/sha256/$L"): entry 2 of a bundle must be airpack/bundle.json.minisig" \
    "${V[@]}" -p k1.pub nosig.tar

# ---- order and membership --------------------------------------------------------------
bundle good notfirst.tar airpack/bundle.json.minisig airpack/bundle.json $ENTRIES
expect_fail "index not first" 1 "entry airpack/bundle.json.minisig at offset 0: entry 1 of a bundle must be airpack/bundle.json" \
    "${V[@]}" -p k1.pub notfirst.tar

forge extra
echo "not listed" >extra/extra.txt
bundle extra extra.tar airpack/bundle.json airpack/bundle.json.minisig $ENTRIES extra.txt
expect_fail "unlisted entry at the end" 1 "entry extra.txt at offset [0-9]+: not listed in the signed index" \
    "${V[@]}" -p k1.pub extra.tar
expect_fail "unlisted entry at the end (stdin)" 1 "stdin: entry extra.txt at offset [0-9]+: not listed" \
    via_stdin extra.tar -q -p k1.pub
bundle extra extra2.tar airpack/bundle.json airpack/bundle.json.minisig "blobs/sha256/$L" extra.txt \
    "blobs/sha256/$C" "blobs/sha256/$M" oci-layout index.json manifest.json
expect_fail "unlisted entry in the middle" 1 "entry extra.txt at offset [0-9]+: not listed in the signed index" \
    "${V[@]}" -p k1.pub extra2.tar

bundle good missing-last.tar airpack/bundle.json airpack/bundle.json.minisig $(echo $ENTRIES | sed 's/ manifest.json//')
expect_fail "listed entry missing at the end" 1 "good.tar|missing-last.tar: offset [0-9]+: archive ends, but the signed index lists manifest.json next" \
    "${V[@]}" -p k1.pub missing-last.tar
bundle good missing-mid.tar airpack/bundle.json airpack/bundle.json.minisig $(echo $ENTRIES | sed 's/ oci-layout//')
expect_fail "listed entry missing in the middle" 1 "entry index.json at offset [0-9]+: the signed index lists oci-layout before it \(missing or out of order\)" \
    "${V[@]}" -p k1.pub missing-mid.tar
bundle good reorder.tar airpack/bundle.json airpack/bundle.json.minisig "blobs/sha256/$C" "blobs/sha256/$L" \
    "blobs/sha256/$M" oci-layout index.json manifest.json
expect_fail "entries out of order" 1 "entry blobs/sha256/$C at offset [0-9]+: the signed index lists blobs/sha256/$L before it" \
    "${V[@]}" -p k1.pub reorder.tar

# manifest.json must be the last entry (docker load commits when it reads it): plain verify
# and load refuse a signed index that lists it elsewhere, or lists an entry after it.
MJ_ORDER="blobs/sha256/$L blobs/sha256/$C blobs/sha256/$M oci-layout manifest.json index.json"
forge mjnotlast
index mjnotlast . "$MJ_ORDER" && sign mjnotlast
bundle mjnotlast mjnotlast.tar airpack/bundle.json airpack/bundle.json.minisig $MJ_ORDER
tar -tf mjnotlast.tar | tail -1 | grep -qx index.json &&
    pass "probe: the forged bundle ends with index.json, after manifest.json" ||
    fail "probe: the forged bundle ends with index.json, after manifest.json"
expect_fail "manifest.json not last (plain verify)" 1 "mjnotlast.tar: entry airpack/bundle.json at offset 0: manifest.json is not the last entry the index lists" \
    "${V[@]}" -p k1.pub mjnotlast.tar
forge mjafter
echo "after manifest.json" >mjafter/after.txt
AFTER=blobs/sha256/$(sha mjafter/after.txt)
mv mjafter/after.txt "mjafter/$AFTER"
index mjafter . "$ENTRIES $AFTER" && sign mjafter
bundle mjafter mjafter.tar airpack/bundle.json airpack/bundle.json.minisig $ENTRIES "$AFTER"
expect_fail "an entry after manifest.json (plain verify)" 1 "mjafter.tar: entry airpack/bundle.json at offset 0: manifest.json is not the last entry the index lists" \
    "${V[@]}" -p k1.pub mjafter.tar
expect_ok "probe: the same store loads the good bundle" "loaded" "$AIRPACK" load -p k1.pub --into oci:probe-store good.tar
for b in mjnotlast mjafter; do
    mkdir -p "store-$b"
    expect_fail "$b refused by load --into oci:, store left empty" 1 "$b.tar: entry airpack/bundle.json at offset 0: manifest.json is not the last entry" \
        "$AIRPACK" load -q -p k1.pub --into "oci:store-$b" "$b.tar"
    [ -z "$(ls -A "store-$b")" ] && pass "$b: oci: store unchanged" || fail "$b: oci: store unchanged" "$(ls -A "store-$b")"
done

# ---- sizes and digests -----------------------------------------------------------------
forge sizemm ".entries[3].size += 1"
bundle sizemm sizemm.tar
expect_fail "size mismatch" 1 "entry oci-layout at offset [0-9]+: size 30, the signed index says 31" \
    "${V[@]}" -p k1.pub sizemm.tar

forge digestmm
flip_byte "digestmm/blobs/sha256/$L" 100
bundle digestmm digestmm.tar
expect_fail "digest mismatch (one flipped byte in a layer)" 1 "entry blobs/sha256/$L at offset $LOFF: sha256 [0-9a-f]{64}, the signed index says $L" \
    "${V[@]}" -p k1.pub digestmm.tar
expect_fail "digest mismatch (stdin)" 1 "stdin: entry blobs/sha256/$L at offset $LOFF: sha256 [0-9a-f]{64}, the signed index says" \
    via_stdin digestmm.tar -q -p k1.pub
expect_fail "digest mismatch --deep still reports the digest" 1 "entry blobs/sha256/$L at offset $LOFF: sha256 [0-9a-f]{64}, the signed index says" \
    "${V[@]}" --deep -p k1.pub digestmm.tar

# ---- tar structure -----------------------------------------------------------------------
bundle good twice.tar --hard-dereference airpack/bundle.json airpack/bundle.json.minisig "blobs/sha256/$L" "blobs/sha256/$L" \
    "blobs/sha256/$C" "blobs/sha256/$M" oci-layout index.json manifest.json
expect_fail "path twice" 1 "entry blobs/sha256/$L at offset [0-9]+: appears twice" "${V[@]}" -p k1.pub twice.tar

forge links
ln -s oci-layout links/sym
ln "links/blobs/sha256/$C" links/hard
mkdir -p links/adir
bundle links sym.tar airpack/bundle.json airpack/bundle.json.minisig "blobs/sha256/$L" sym "blobs/sha256/$C" \
    "blobs/sha256/$M" oci-layout index.json manifest.json
expect_fail "symlink entry" 1 "entry sym at offset [0-9]+: is a symbolic link" "${V[@]}" -p k1.pub sym.tar
bundle links hard.tar airpack/bundle.json airpack/bundle.json.minisig "blobs/sha256/$L" "blobs/sha256/$C" hard \
    "blobs/sha256/$M" oci-layout index.json manifest.json
expect_fail "hard link entry" 1 "entry hard at offset [0-9]+: is a hard link" "${V[@]}" -p k1.pub hard.tar
bundle links dir.tar airpack/bundle.json airpack/bundle.json.minisig adir $ENTRIES
expect_fail "directory entry" 1 "entry adir/? at offset [0-9]+: is a directory" "${V[@]}" -p k1.pub dir.tar

tar "${TARFLAGS[@]}" -P -cf abs.tar -C good airpack/bundle.json airpack/bundle.json.minisig "$W/good/oci-layout" 2>/dev/null
expect_fail "absolute path" 1 "entry $W/good/oci-layout at offset [0-9]+: has an absolute path" "${V[@]}" -p k1.pub abs.tar
tar "${TARFLAGS[@]}" -P --transform 's|^oci-layout$|../oci-layout|' -cf dotdot.tar -C good \
    airpack/bundle.json airpack/bundle.json.minisig oci-layout 2>/dev/null
expect_fail "'..' path" 1 "entry \.\./oci-layout at offset [0-9]+: has a '\.\.' component" "${V[@]}" -p k1.pub dotdot.tar

head -c $(( $(size good.tar) / 2 )) good.tar >trunc.tar
expect_fail "truncated archive" 1 "trunc.tar: truncated at offset [0-9]+" "${V[@]}" -p k1.pub trunc.tar
expect_fail "truncated archive (stdin)" 1 "stdin: truncated at offset [0-9]+" via_stdin trunc.tar -q -p k1.pub
# cut at the end-of-archive marker, after every entry verified: none of it, or one of its two blocks
END=$(( $(tar -tv -R -f good.tar 2>/dev/null | sed -n 's/^block \([0-9]*\): \*\* Block of NULs \*\*.*/\1/p' | head -1) * 512 ))
head -c "$END" good.tar >trunc-end.tar
expect_fail "archive without its end marker" 1 "trunc-end.tar: truncated at offset $END" "${V[@]}" -p k1.pub trunc-end.tar
cp good.tar after.tar && printf 'trailing junk' >>after.tar
expect_fail "data after the end" 1 "data after the end of the archive" "${V[@]}" -p k1.pub after.tar
expect_fail "data after the end (stdin)" 1 "stdin: data after the end of the archive" via_stdin after.tar -q -p k1.pub

# ---- caps ----------------------------------------------------------------------------
mkdir -p big/airpack
truncate -s 25M big/airpack/bundle.json
cp good/airpack/bundle.json.minisig big/airpack/
bundle big big.tar airpack/bundle.json airpack/bundle.json.minisig
expect_fail "index over the 24 MiB cap (refused by its size)" 1 "entry airpack/bundle.json at offset 0: 26214400 bytes, over the 25165824-byte limit" \
    "${V[@]}" -p k1.pub big.tar
expect_fail "index over the cap (stdin)" 1 "stdin: entry airpack/bundle.json at offset 0: 26214400 bytes, over" \
    via_stdin big.tar -q -p k1.pub

mkdir -p bigsig/airpack && cp good/airpack/bundle.json bigsig/airpack/ && head -c 9000 /dev/zero >bigsig/airpack/bundle.json.minisig
bundle bigsig bigsig.tar airpack/bundle.json airpack/bundle.json.minisig
expect_fail "signature over the 8 KiB cap" 1 "entry airpack/bundle.json.minisig at offset [0-9]+: 9000 bytes, over the 8192-byte limit" \
    "${V[@]}" -p k1.pub bigsig.tar

# Order of checks, documented in verify/verifier.c: size cap, signature, depth, parse.
# A deep index signed by a trusted key is refused by its depth ...
forge deepjson '. + {x: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
bundle deepjson deepjson.tar
expect_fail "JSON nested past the cap (signed)" 1 "entry airpack/bundle.json at offset 0: index: JSON nested deeper than 32 levels" \
    "${V[@]}" -p k1.pub deepjson.tar
# ... and the same index signed by an untrusted key is refused by its signature first
sign deepjson k2.key
bundle deepjson deepjson2.tar
expect_fail "deep JSON from an untrusted key: signature checked first" 1 "airpack/bundle.json.minisig at offset [0-9]+: signed by key ID [0-9A-F]+, which is not trusted" \
    "${V[@]}" -p k1.pub deepjson2.tar

forge version '.airpack_bundle = 4'
bundle version version.tar
expect_fail "unknown format version" 1 "entry airpack/bundle.json at offset 0: bundle index: unknown bundle format version 4" \
    "${V[@]}" -p k1.pub version.tar
forge version2 '.airpack_bundle = 2'
bundle version2 version2.tar
expect_fail "delta version without expected layers" 1 "bundle index: index: version 2 is a delta bundle's, but no layer is expected" \
    "${V[@]}" -p k1.pub version2.tar
forge expected1 '.images[0].layers[0].expected = true'
bundle expected1 expected1.tar
expect_fail "expected layer in a version 1 index" 1 "bundle index: images\[0\] layers\[0\]: \"expected\" in a version 1 index" \
    "${V[@]}" -p k1.pub expected1.tar
forge expectedlisted '.airpack_bundle = 2 | .images[0].layers[0].expected = true'
bundle expectedlisted expectedlisted.tar
expect_fail "expected layer also carried" 1 "expected in the target but also listed as an entry" \
    "${V[@]}" -p k1.pub expectedlisted.tar
# version 3 is a dense bundle (pack --dense): an index that says 3 but is not dense is refused
forge version3 '.airpack_bundle = 3'
bundle version3 version3.tar
expect_fail "version 3 without its dense description" 1 "entry airpack/bundle.json at offset 0: bundle index: .*\"dense\" must be present" \
    "${V[@]}" -p k1.pub version3.tar

forge badindex '.entries[0].sha256 = "XYZ"'
bundle badindex badindex.tar
expect_fail "signed index with a bad digest" 1 "entry airpack/bundle.json at offset 0: bundle index: entries\[0\].*not 64 lowercase hex" \
    "${V[@]}" -p k1.pub badindex.tar

# ---- --deep ---------------------------------------------------------------------------
forge bomb ".images[0].layers[0].uncompressed_size = 4096"
bundle bomb bomb.tar
expect_ok "understated uncompressed_size passes without --deep" "verified" "${V[@]}" -p k1.pub bomb.tar
expect_fail "layer decompresses past uncompressed_size (--deep)" 1 "entry blobs/sha256/$L at offset $LOFF: .*decompresses past.*4096" \
    "${V[@]}" --deep -p k1.pub bomb.tar

forge overstated ".images[0].layers[0].uncompressed_size += 1"
bundle overstated overstated.tar
expect_fail "layer shorter than uncompressed_size (--deep)" 1 "entry blobs/sha256/$L at offset $LOFF: decompresses to $USIZE bytes, the index says $((USIZE + 1))" \
    "${V[@]}" --deep -p k1.pub overstated.tar

# a wrong diff_id that the config agrees with: only decompression finds it
BAD_DIFF=$(printf '%064d' 7)
rm -rf wrongdiff && cp -a "$B" wrongdiff
jq -c --arg d "sha256:$BAD_DIFF" '.rootfs.diff_ids = [$d]' cfg | tr -d '\n' >cfg2
C2=$(sha cfg2)
rm "wrongdiff/blobs/sha256/$C" && cp cfg2 "wrongdiff/blobs/sha256/$C2"
jq -c --arg c "sha256:$C2" --argjson s "$(size cfg2)" '.config.digest = $c | .config.size = $s' man | tr -d '\n' >man2
M2=$(sha man2)
rm "wrongdiff/blobs/sha256/$M" && cp man2 "wrongdiff/blobs/sha256/$M2"
sed -i "s/$M/$M2/g; s/\"size\":$MSIZE/\"size\":$(size man2)/g" wrongdiff/index.json
sed -i "s/$C/$C2/g" wrongdiff/manifest.json
(
    C=$C2 CSIZE=$(size cfg2) M=$M2 MSIZE=$(size man2) DIFF=$BAD_DIFF
    ENTRIES="blobs/sha256/$L blobs/sha256/$C blobs/sha256/$M oci-layout index.json manifest.json"
    index wrongdiff && sign wrongdiff && bundle wrongdiff wrongdiff.tar
)
expect_ok "consistent but wrong diff_id passes without --deep" "verified" "${V[@]}" -p k1.pub wrongdiff.tar
expect_fail "wrong diff_id (--deep)" 1 "entry blobs/sha256/$L at offset $LOFF: decompressed sha256 is sha256:$DIFF, its diff_id is sha256:$BAD_DIFF" \
    "${V[@]}" --deep -p k1.pub wrongdiff.tar

# manifest.json that lacks a tag the index names
forge tags
jq -c '.[0].RepoTags = ["demo:1.0"]' tags/manifest.json | tr -d '\n' >tags/m && mv tags/m tags/manifest.json
index tags && sign tags && bundle tags tags.tar
expect_ok "manifest.json missing a tag passes without --deep" "verified" "${V[@]}" -p k1.pub tags.tar
expect_fail "manifest.json missing a tag (--deep)" 1 "entry manifest.json at offset [0-9]+: manifest.json (does not name|names) image" \
    "${V[@]}" --deep -p k1.pub tags.tar

# RepoTags in their full form ("docker.io/library/demo:1.0") name the same images
forge fulltags
jq -c --arg n1 "$N1" --arg n2 "$N2" '.[0].RepoTags = [$n2, $n1]' fulltags/manifest.json | tr -d '\n' >fulltags/m &&
    mv fulltags/m fulltags/manifest.json
index fulltags && sign fulltags && bundle fulltags fulltags.tar
expect_ok "manifest.json with full-form RepoTags passes --deep" "verified" "${V[@]}" --deep -p k1.pub fulltags.tar

# index.json naming an image the index does not
forge idxname
sed -i 's|localhost:5000/demo:1.0|localhost:5000/evil:1.0|' idxname/index.json
index idxname && sign idxname && bundle idxname idxname.tar
expect_fail "index.json names another image (--deep)" 1 "entry index.json at offset [0-9]+: index.json (does not name|names) image" \
    "${V[@]}" --deep -p k1.pub idxname.tar

# a manifest whose layer count disagrees with the index
rm -rf mlayers && cp -a "$B" mlayers
jq -c '.layers += .layers' man | tr -d '\n' >man3
M3=$(sha man3)
rm "mlayers/blobs/sha256/$M" && cp man3 "mlayers/blobs/sha256/$M3"
sed -i "s/$M/$M3/g; s/\"size\":$MSIZE/\"size\":$(size man3)/g" mlayers/index.json
(
    M=$M3 MSIZE=$(size man3)
    ENTRIES="blobs/sha256/$L blobs/sha256/$C blobs/sha256/$M oci-layout index.json manifest.json"
    index mlayers && sign mlayers && bundle mlayers mlayers.tar
)
expect_fail "manifest layer count differs from the index (--deep)" 1 "entry blobs/sha256/$M3 at offset [0-9]+: manifest of images\[0\]: 2 layers, the index says 1" \
    "${V[@]}" --deep -p k1.pub mlayers.tar

# ---- --json on failure --------------------------------------------------------------------
"${V[@]}" --json -p k1.pub digestmm.tar >jf.out 2>/dev/null
rc=$?
if [ $rc -eq 1 ] && jq -e '.verdict == "failed" and (.error | test("sha256 [0-9a-f]{64}, the signed index says"))' jf.out >/dev/null; then
    pass "--json report of a failed bundle"
else
    fail "--json report of a failed bundle" "exit $rc: $(head -c 300 jf.out)"
fi

# ---- a bundle packed by airpack itself ------------------------------------------------------
# (airpack pack failing here is a failure of airpack, not a reason to skip)
{
    if bash "$TOP/tests/tools/pack_for_verify.sh" "$AIRPACK" "$W/packed" >pack.log 2>&1 && [ -f "$W/packed/bundle.tar" ]; then
        expect_ok "a bundle from airpack pack verifies --deep" "verified: [1-9][0-9]* image" \
            "${V[@]}" --deep -p "$W/packed/key.pub" "$W/packed/bundle.tar"
        expect_ok "a bundle from airpack pack verifies --deep (stdin)" "stdin: verified" \
            via_stdin "$W/packed/bundle.tar" -q --deep -p "$W/packed/key.pub"
        expect_ok "a gzip bundle from airpack pack verifies --deep" "verified: [1-9][0-9]* image" \
            "${V[@]}" --deep -p "$W/packed/key.pub" "$W/packed/bundle-gzip.tar"
        cp "$W/packed/bundle.tar" packed-bad.tar
        FIRST=$(tar -tf packed-bad.tar | sed -n 3p)
        flip_byte packed-bad.tar $(( $(offset_of packed-bad.tar "$FIRST") + 512 + 20 ))
        expect_fail "a packed bundle with one flipped byte is refused" 1 "packed-bad.tar: entry $FIRST at offset [0-9]+: sha256 [0-9a-f]+, the signed index says" \
            "${V[@]}" -p "$W/packed/key.pub" packed-bad.tar
        mkdir -p px && tar -xf "$W/packed/bundle.tar" -C px airpack/bundle.json airpack/bundle.json.minisig &&
            minisign -Vm px/airpack/bundle.json -x px/airpack/bundle.json.minisig -p "$W/packed/key.pub" >/dev/null 2>&1 &&
            pass "minisign -Vm verifies the index airpack signed" || fail "minisign -Vm verifies the index airpack signed"
    else
        fail_cases 5 "bundles from airpack pack" "tests/tools/pack_for_verify.sh failed: $(tail -3 pack.log | tr '\n' ' ')"
    fi
}
