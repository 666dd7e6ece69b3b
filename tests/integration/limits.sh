#!/bin/bash
# limits.sh: the index limits of formats/BUNDLE-FORMAT.md ("Limits a reader enforces") hold
# on both sides: pack writes a bundle at the image limit that verify --deep and load accept
# in under 256 MiB; pack refuses one image more with the reader's words; a signed index past
# the image or entry limit (forged here, without airpack) is refused by verify, in bounded
# memory.
. "$(dirname "$0")/../lib.sh"
plan 10
skip_unless python3 minisign
make_keys || fail_rest "minisign -G failed"
MAX_IMAGES=16384
MAX_ENTRIES=65536
MEM_KIB=$((256 * 1024))
W=$T/w
mkdir -p "$W"
# rss NAME STATUS PATTERN command...: exit STATUS, PATTERN on stdout+stderr, peak RSS < 256 MiB
rss() {
    local n=$1 want=$2 pat=$3 rc kib
    shift 3
    /usr/bin/time -f "%M" -o "$T/rss" "$@" >"$T/rss.out" 2>&1
    rc=$?
    kib=$(tail -1 "$T/rss")
    if [ "$rc" -ne "$want" ]; then fail "$n" "exit $rc, wanted $want: $(head -c 300 "$T/rss.out")"
    elif [ -n "$pat" ] && ! grep -qE -- "$pat" "$T/rss.out"; then fail "$n" "output did not match /$pat/: $(head -c 300 "$T/rss.out")"
    elif [ "$kib" -ge "$MEM_KIB" ]; then fail "$n" "peak RSS $((kib / 1024)) MiB"
    else pass "$n (peak $((kib / 1024)) MiB)"; fi
}
python3 "$TOP/tests/tools/gen_images.py" $((MAX_IMAGES + 1)) "$W/layout" || fail_rest "gen_images.py failed"
# the same layout, one image fewer: index.json without its last descriptor
mkdir -p "$W/at"
ln -s "$W/layout/blobs" "$W/at/blobs"
cp "$W/layout/oci-layout" "$W/at/"
python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); i["manifests"]=i["manifests"][:-1]; json.dump(i,open(sys.argv[2],"w"))' \
    "$W/layout/index.json" "$W/at/index.json"

rss "pack: $MAX_IMAGES images (at the limit) packs" 0 "" \
    "$AIRPACK" pack -q -s "$KEYS/sec" -o "$W/at.tar" "oci:$W/at"
rss "verify --deep accepts it" 0 "verified: $MAX_IMAGES images" \
    "$AIRPACK" verify --deep -p "$KEYS/pub" "$W/at.tar"
rss "load --into oci: accepts it" 0 "" "$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$W/store" "$W/at.tar"
rss "pack: $((MAX_IMAGES + 1)) images refused with the reader's words" 2 \
    "index: $((MAX_IMAGES + 1)) images, over the limit of $MAX_IMAGES images a bundle may hold" \
    "$AIRPACK" pack -q -s "$KEYS/sec" -o "$W/past.tar" "oci:$W/layout"
[ ! -e "$W/past.tar" ] && pass "pack past the limit leaves no bundle" || fail "pack past the limit leaves no bundle"

# forge SIGNED-BUNDLE N-IMAGES N-ENTRIES: a signed index with that many images (all the
# same one) and entries (distinct fake blobs); only the index and signature are in the tar
forge() {
    python3 - "$1" "$2" "$3" "$KEYS/sec" <<'PY'
import hashlib, io, json, os, subprocess, sys, tarfile, tempfile
out, ni, ne, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
L, C, M, D = h("layer"), h("config"), h("manifest"), h("diff")
img = {"names": ["docker.io/library/x:1"], "manifest": {"digest": "sha256:" + M, "size": 1},
       "config": {"digest": "sha256:" + C, "size": 1}, "platform": "linux/amd64",
       "layers": [{"digest": "sha256:" + L, "size": 1, "diff_id": "sha256:" + D, "uncompressed_size": 1,
                   "media_type": "application/vnd.oci.image.layer.v1.tar+zstd"}]}
ents = [{"path": "blobs/sha256/" + x, "size": 1, "sha256": x} for x in (L, C, M)]
ents += [{"path": "blobs/sha256/" + h(str(i)), "size": 1, "sha256": h(str(i))} for i in range(ne - 6)]
ents += [{"path": p, "size": 1, "sha256": h(p)} for p in ("oci-layout", "index.json", "manifest.json")]
idx = json.dumps({"airpack_bundle": 1, "created": "1970-01-01T00:00:00Z", "tool": "forge", "compression": "zstd",
                  "images": [img] * ni, "entries": ents}, separators=(",", ":")).encode()
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "bundle.json")
    open(p, "wb").write(idx)
    subprocess.run(["minisign", "-S", "-s", key, "-m", p, "-x", p + ".minisig", "-t",
                    "timestamp:0\tfile:bundle.json\thashed"], check=True, stdout=subprocess.DEVNULL)
    sig = open(p + ".minisig", "rb").read()
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, b in (("airpack/bundle.json", idx), ("airpack/bundle.json.minisig", sig)):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(b), 0o644, 0
        t.addfile(ti, io.BytesIO(b))
PY
}
forge "$W/img-at.tar" $MAX_IMAGES 6 && forge "$W/img-past.tar" $((MAX_IMAGES + 1)) 6 &&
    forge "$W/ent-at.tar" 1 $MAX_ENTRIES && forge "$W/ent-past.tar" 1 $((MAX_ENTRIES + 1)) ||
    fail_rest "forging the signed indexes failed"
# at the limit the index is accepted: verify goes on to the first entry, which is missing
rss "a signed index of $MAX_IMAGES images and one of $MAX_ENTRIES entries get past the index" 1 \
    "archive ends, but the signed index lists blobs/sha256/" \
    sh -c '"$1" verify -q -p "$2" "$3"; r1=$?; "$1" verify -q -p "$2" "$4"; r2=$?; [ $r1 = 1 ] && [ $r2 = 1 ] && exit 1; exit 9' \
    verify "$AIRPACK" "$KEYS/pub" "$W/img-at.tar" "$W/ent-at.tar"
rss "a signed index of $((MAX_IMAGES + 1)) images is refused" 1 \
    "index: $((MAX_IMAGES + 1)) images, over the limit of $MAX_IMAGES images a bundle may hold" \
    "$AIRPACK" verify -q -p "$KEYS/pub" "$W/img-past.tar"
rss "a signed index of $((MAX_ENTRIES + 1)) entries is refused" 1 \
    "index: $((MAX_ENTRIES + 1)) entries, over the limit of $MAX_ENTRIES entries a bundle may hold" \
    "$AIRPACK" verify -q -p "$KEYS/pub" "$W/ent-past.tar"

# ls reads an index without checking its signature: a crafted one of many tiny JSON values
# (24 MiB of "1,") is refused by its count before it is parsed; one at the count limit
# (short strings, the costliest to parse) stays under 256 MiB
crafted() { # OUT JSON-ELEMENT COUNT
    mkdir -p "$W/c/airpack"
    python3 -c 'import sys; e=sys.argv[2].encode(); n=int(sys.argv[3]); open(sys.argv[1], "wb").write(b"{\"airpack_bundle\":1,\"images\":[" + e * n + b"1]}")' \
        "$W/c/airpack/bundle.json" "$2" "$3"
    echo sig >"$W/c/airpack/bundle.json.minisig"
    tar --format=ustar -cf "$1" -C "$W/c" airpack/bundle.json airpack/bundle.json.minisig
}
crafted "$W/many.tar" '1,' $(((24 << 20) / 2 - 40))
rss "ls: an index of 12 million values is refused before it is parsed" 1 "more than 1600000 JSON keys and values" \
    "$AIRPACK" ls "$W/many.tar"
crafted "$W/cap.tar" '"aaaaaaa",' 1599990
rss "ls: an index at the value limit is parsed in bounded memory" 1 "bundle index: index: missing" "$AIRPACK" ls "$W/cap.tar"
