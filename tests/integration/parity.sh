#!/bin/bash
# parity.sh: `pack --split SIZE --parity N`, `airpack repair`, and verify / load through damage.
#
# One bundle packed whole and split into 10 parts with --parity 2 from the same inputs, key
# and SOURCE_DATE_EPOCH. Each damage case starts from a fresh copy of the parts:
#   - a data part deleted and bytes flipped in another: verify says which and "repairable",
#     load --into oci: gives the original image IDs, repair restores both byte for byte;
#   - one data part and one parity part lost; exactly 2 lost (the first and the short last);
#   - 3 lost: verify, load and repair refuse, naming the parts to bring again; nothing loaded,
#     nothing written;
#   - a truncated part, a swapped pair, a parity part from another bundle: each named;
#   - hostile parity parameters in NAME.parts (zero, huge, inconsistent with the parts):
#     refused before anything is decoded (a part is missing, so decoding would be needed);
#   - an unsigned list: repair refuses (it could not check what it rebuilds).
. "$(dirname "$0")/../lib.sh"
plan 75
skip_unless minisign jq tar python3 cmp

cd "$T" || exit 1
make_samples || fail_rest "make-samples.sh failed"
make_keys || fail_rest "minisign -G failed"
export SOURCE_DATE_EPOCH=1700000000
P() { "$AIRPACK" "$@"; }

# make_big_image OUT.tar NAME KIB: a docker-archive with one layer of KIB KiB of random bytes.
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
BIG_ID=$(make_big_image big.tar sample/big:1.0 12000) || fail_rest "could not make the big image"
IN=(big.tar "$S/docker24/all.tar")

P pack -q -s "$KEYS/sec" -c gzip -o whole.tar "${IN[@]}" || fail_rest "pack (whole) failed"
WHOLE=$(stat -c %s whole.tar)
SPLIT_K=$(( (WHOLE + 10 * 1024 - 1) / (10 * 1024) ))     # 10 parts, the last one shorter
mkdir -p good
P pack -s "$KEYS/sec" -c gzip --split "${SPLIT_K}K" --parity 2 -o good/b.tar "${IN[@]}" >pack.out 2>pack.err ||
    fail_rest "pack --split --parity 2 failed: $(head -c 300 pack.err)"
PART=$((SPLIT_K * 1024))

# ---- what pack writes ------------------------------------------------------------------
want_list="b.tar.000 b.tar.001 b.tar.002 b.tar.003 b.tar.004 b.tar.005 b.tar.006 b.tar.007 b.tar.008 b.tar.009 b.tar.p00 b.tar.p01 b.tar.parts b.tar.parts.minisig "
if [ "$(ls good | tr '\n' ' ')" = "$want_list" ]; then
    pass "pack --split --parity 2 writes 10 parts, 2 parity parts, the list and its signature"
else
    fail "pack --split --parity 2 writes 10 parts, 2 parity parts, the list and its signature" "$(ls good | tr '\n' ' ')"
fi
check "each parity part is exactly the part size" \
    sh -c "[ \$(stat -c %s good/b.tar.p00) = $PART ] && [ \$(stat -c %s good/b.tar.p01) = $PART ]"
check "the data parts concatenated are the unsplit bundle, byte for byte" \
    sh -c 'cat good/b.tar.[0-9][0-9][0-9] | cmp -s - whole.tar'
check "pack says how many parity parts it wrote" grep -q "2 parity parts .*b.tar.p00 .. .*b.tar.p01" pack.out
list_ok() {
    jq -e '.airpack_parts == 2 and .parity == {"code":"reed-solomon-cauchy-gf256","data_parts":10,"parity_parts":2}
           and ([.parity_parts[].name] == ["b.tar.p00","b.tar.p01"]) and ([.parity_parts[].size] | unique) == [.part_size]' \
        good/b.tar.parts >/dev/null || return 1
    for i in 0 1; do
        [ "$(jq -r ".parity_parts[$i].sha256" good/b.tar.parts)" = "$(sha256sum "good/b.tar.p0$i" | cut -d' ' -f1)" ] || return 1
    done
}
check "the signed list (version 2) holds the code's parameters and each parity part's size and sha256" list_ok
check "minisign -Vm verifies the list with the public key" \
    sh -c "minisign -Vm good/b.tar.parts -p '$KEYS/pub' >/dev/null 2>&1"
check "verify of the healthy parts: exit 0" P verify -q -p "$KEYS/pub" good/b.tar
check "repair of the healthy parts: nothing to repair, exit 0" sh -c \
    "'$AIRPACK' repair -p '$KEYS/pub' good/b.tar | grep -q 'nothing to repair'"

loaded_ids() { jq -r '.images[].id' "$1" | sort -u; }
P load -q --json -p "$KEYS/pub" --into "oci:$T/oci-whole" whole.tar >whole.json 2>/dev/null
check "the whole bundle loads (the reference image IDs)" sh -c "loaded=\$(jq -r '.images[].id' whole.json); echo \"\$loaded\" | grep -qx '$BIG_ID'"

fresh() { rm -rf "$1"; cp -r good "$1"; }
flip() { printf '\377\377\377' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
same_as_good() { # DIR PART...: the parts are byte for byte the packed ones
    local d=$1 p; shift
    for p in "$@"; do cmp -s "$d/b.tar.$p" "good/b.tar.$p" || return 1; done
}
loads_original() { # NAME DIR: load --into oci: through the damage gives the original image IDs
    if P load -q --json -p "$KEYS/pub" --into "oci:$T/oci-$2" "$2/b.tar" >"$2.json" 2>"$2.err" &&
       [ "$(loaded_ids "$2.json")" = "$(loaded_ids whole.json)" ] &&
       [ "$(jq -S . "$T/oci-$2/index.json")" = "$(jq -S . "$T/oci-whole/index.json")" ]; then
        pass "$1: load --into oci: gives the original image IDs and index.json"
    else
        fail "$1: load --into oci: gives the original image IDs and index.json" "$(head -c 400 "$2.err")"
    fi
}
repairs() { # NAME DIR PART...: repair exits 0, names the parts, and they are the packed bytes again
    local n=$1 d=$2; shift 2
    if P repair -p "$KEYS/pub" "$d/b.tar" >"$d.rep" 2>&1 && same_as_good "$d" "$@" &&
       [ "$(ls "$d" | tr '\n' ' ')" = "$want_list" ]; then
        pass "$n: repair restores $* byte for byte (cmp), no temporary file left"
    else
        fail "$n: repair restores $* byte for byte (cmp), no temporary file left" "$(head -c 400 "$d.rep"; ls "$d" | tr '\n' ' ')"
    fi
}

# ---- a data part deleted, bytes flipped in another ------------------------------------
fresh d1
rm d1/b.tar.003
flip d1/b.tar.006 $((PART / 2))
expect_fail "deleted + flipped: verify names both and says repairable (exit 1)" 1 \
    "2 of 10 data parts and 0 of 2 parity parts are bad: .*b\.tar\.003 missing, .*b\.tar\.006 damaged.*; repairable \(2 parity parts\)" \
    P verify -q -p "$KEYS/pub" d1/b.tar
check "deleted + flipped: verify also says the bundle verified through the parity parts" \
    grep -q "verified (.*) through its parity parts" "$T/ef.err"
loads_original "deleted + flipped" d1
check "deleted + flipped: load notes what it read through" grep -q "loaded through its parity parts" d1.err
repairs "deleted + flipped" d1 003 006
check "deleted + flipped: verify after repair: exit 0" P verify -q -p "$KEYS/pub" d1/b.tar

# ---- one data part and one parity part lost -------------------------------------------
fresh d2
rm d2/b.tar.005 d2/b.tar.p00
expect_fail "a data and a parity part lost: verify says repairable" 1 \
    "1 of 10 data parts and 1 of 2 parity parts are bad: .*b\.tar\.005 missing, .*b\.tar\.p00 missing; repairable" \
    P verify -q -p "$KEYS/pub" d2/b.tar
loads_original "a data and a parity part lost" d2
repairs "a data and a parity part lost" d2 005 p00

# ---- exactly N lost: the first part (the head) and the short last one ------------------
fresh d3
rm d3/b.tar.000 d3/b.tar.009
expect_fail "exactly 2 lost: verify says repairable" 1 \
    "2 of 10 data parts and 0 of 2 parity parts are bad: .*b\.tar\.000 missing, .*b\.tar\.009 missing; repairable" \
    P verify -q -p "$KEYS/pub" d3/b.tar
check "exactly 2 lost: ls reads the index through the parity parts" sh -c \
    "'$AIRPACK' ls --json d3/b.tar | jq -e '.images | length > 0' >/dev/null"
loads_original "exactly 2 lost" d3
if /usr/bin/time -f %M -o d3.mem "$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$T/oci-d3mem" d3/b.tar >/dev/null 2>&1 &&
   [ "$(tail -1 d3.mem)" -lt 262144 ]; then
    pass "exactly 2 lost: load rebuilds on the fly under 256 MiB ($(tail -1 d3.mem) KiB)"
else
    fail "exactly 2 lost: load rebuilds on the fly under 256 MiB" "$(tail -1 d3.mem 2>/dev/null)"
fi
repairs "exactly 2 lost" d3 000 009

# ---- N + 1 lost: refused, naming the parts to bring again; nothing loaded or written ----
fresh d4
rm d4/b.tar.001 d4/b.tar.004 d4/b.tar.p01
before=$(ls d4 | tr '\n' ' ')
expect_fail "3 lost: verify refuses, naming the parts to bring again" 1 \
    "2 of 10 data parts and 1 of 2 parity parts are bad: .*; not repairable: .*bring again .*b\.tar\.001" \
    P verify -q -p "$KEYS/pub" d4/b.tar
expect_fail "3 lost: load refuses (exit 1) naming the parts" 1 "not repairable.*bring again" \
    P load -q -p "$KEYS/pub" --into "oci:$T/oci-d4" d4/b.tar
check "3 lost: nothing loaded" sh -c "[ ! -e '$T/oci-d4/index.json' ] || [ \"\$(jq '.manifests | length' '$T/oci-d4/index.json')\" = 0 ]"
expect_fail "3 lost: repair refuses (exit 1) naming the parts" 1 "not repairable.*bring again" \
    P repair -p "$KEYS/pub" d4/b.tar
check "3 lost: repair wrote nothing" sh -c "[ \"\$(ls d4 | tr '\n' ' ')\" = '$before' ]"
cp good/b.tar.001 d4/
repairs "3 lost, one brought again" d4 004 p01

# ---- a truncated part --------------------------------------------------------------------
fresh d5
truncate -s $((PART - 1000)) d5/b.tar.005
expect_fail "truncated part: named (verify)" 1 "b\.tar\.005 truncated \($((PART - 1000)) bytes\).*repairable" \
    P verify -q -p "$KEYS/pub" d5/b.tar
loads_original "truncated part" d5
repairs "truncated part" d5 005

# ---- a swapped pair ------------------------------------------------------------------------
fresh d6
mv d6/b.tar.002 d6/x; mv d6/b.tar.007 d6/b.tar.002; mv d6/x d6/b.tar.007
expect_fail "swapped pair: both named (verify)" 1 \
    "b\.tar\.002 holds the bytes of b\.tar\.007 \(swapped or misnamed\), .*b\.tar\.007 holds the bytes of b\.tar\.002" \
    P verify -q -p "$KEYS/pub" d6/b.tar
loads_original "swapped pair" d6
repairs "swapped pair" d6 002 007

# ---- a parity part from another bundle ------------------------------------------------------
mkdir -p other
P pack -q -s "$KEYS/sec" -c gzip --split "${SPLIT_K}K" --parity 2 -o other/b.tar big.tar ||
    echo "pack of another bundle failed"
fresh d7
cp other/b.tar.p01 d7/b.tar.p01
expect_fail "parity part from another bundle: named (verify, exit 1)" 1 \
    "0 of 10 data parts and 1 of 2 parity parts are bad: .*b\.tar\.p01 damaged.*repairable" \
    P verify -q -p "$KEYS/pub" d7/b.tar
loads_original "parity part from another bundle" d7
repairs "parity part from another bundle" d7 p01

# ---- hostile parity parameters: refused before any decoding --------------------------------
# A data part is missing, so reading the bundle would need decoding: the parser must refuse first.
hostile() { # NAME JQ-FILTER PATTERN
    local d="h$RANDOM"
    fresh "$d"
    rm "$d/b.tar.004"
    jq -c "$2" good/b.tar.parts >"$d/b.tar.parts"
    expect_fail "hostile list, $1: verify refuses before decoding" 1 "b\.tar\.parts: parts sidecar: .*$3" \
        P verify -q -p "$KEYS/pub" "$d/b.tar"
    expect_fail "hostile list, $1: load refuses, nothing loaded" 1 "parts sidecar: .*$3" \
        P load -q -p "$KEYS/pub" --into "oci:$T/oci-$d" "$d/b.tar"
    # re-signed, so that repair gets past the signature to the parser
    rm -f "$d/b.tar.parts.minisig"
    minisign -S -s "$KEYS/sec" -m "$d/b.tar.parts" -x "$d/b.tar.parts.minisig" </dev/null >/dev/null 2>&1
    expect_fail "hostile list, $1: repair refuses, writes nothing" 1 "parts sidecar: .*$3" \
        P repair -p "$KEYS/pub" "$d/b.tar"
    [ ! -e "$d/b.tar.004" ] && pass "hostile list, $1: nothing rebuilt" || fail "hostile list, $1: nothing rebuilt"
}
hostile "parity_parts 0" '.parity.parity_parts = 0' "parity_parts 0 is out of range"
hostile "parity_parts huge" '.parity.parity_parts = 4611686018427387904' "out of range"
hostile "data_parts inconsistent" '.parity.data_parts = 12' "says 12 data parts, the sidecar lists 10"
hostile "parity part size not the part size" '.parity_parts[1].size = 1048576' "a parity part is part_size"
hostile "fewer parity parts listed" '.parity_parts |= .[:1]' "must list the 2 parity parts"
hostile "unknown code" '.parity.code = "xor"' "not known"
hostile "version 1 with parity" '.airpack_parts = 1' "version 1 has no parity parts"

# ---- repair needs the signed list -------------------------------------------------------------
fresh d8
rm d8/b.tar.003 d8/b.tar.parts.minisig
expect_fail "unsigned list: repair refuses (it could not check what it rebuilds)" 1 "is not signed" \
    P repair -p "$KEYS/pub" d8/b.tar
check "unsigned list: nothing rebuilt" test ! -e d8/b.tar.003

# ---- one parity part checked on its own -------------------------------------------------------
check "verify NAME.p01 checks that parity part alone against the signed list" sh -c \
    "'$AIRPACK' verify -p '$KEYS/pub' good/b.tar.p01 | grep -q 'good: parity part 2 of 2'"
fresh d9
cp other/b.tar.p01 d9/b.tar.p01
expect_fail "verify --part NAME.p01 of another bundle's parity part: BAD" 1 "b\.tar\.p01: BAD: damaged" \
    P verify -p "$KEYS/pub" --part d9/b.tar.p01
expect_fail "load NAME.p00: refused, pointing at the first part" 2 "b\.tar\.p00 is a parity part of a split bundle: give its first part" \
    P load -q -p "$KEYS/pub" --into "oci:$T/oci-p00" good/b.tar.p00
# ---- options ------------------------------------------------------------------------------------
expect_fail "--parity without --split: usage error" 2 "needs --split" \
    P pack -q -s "$KEYS/sec" --parity 2 -o x.tar big.tar
expect_fail "--parity 0: usage error" 2 "from 1 to 64" P pack -q -s "$KEYS/sec" --split 1M --parity 0 -o x.tar big.tar
expect_fail "--parity 65: usage error" 2 "from 1 to 64" P pack -q -s "$KEYS/sec" --split 1M --parity 65 -o x.tar big.tar
P pack -q -s "$KEYS/sec" -c gzip --split "${SPLIT_K}K" -o good/b.tar "${IN[@]}" 2>/dev/null
if [ ! -e good/b.tar.p00 ] && [ ! -e good/b.tar.p01 ] && [ "$(jq .airpack_parts good/b.tar.parts)" = 1 ]; then
    pass "packing again without --parity removes the old parity parts and writes a version 1 list"
else
    fail "packing again without --parity removes the old parity parts and writes a version 1 list" "$(ls good | tr '\n' ' ')"
fi
