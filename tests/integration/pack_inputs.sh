#!/bin/bash
# pack_inputs: `airpack pack` reads every input format, stores each layer once
# across images and compressions, is reproducible, selects and names images.
. "$(dirname "$0")/../lib.sh"
plan 34
skip_unless jq zstd gzip minisign
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
export SOURCE_DATE_EPOCH=1767225600

# pack_ok NAME BUNDLE INPUT...: packs (zstd), then checks the bundle's structure
pack_ok() {
    local n=$1 b=$2; shift 2
    local rc
    "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" "$@" >"$T/pack.out" 2>"$T/pack.err"; rc=$?
    if [ $rc -ne 0 ]; then fail "$n" "pack exited $rc: $(head -c 300 "$T/pack.err")"; return 1; fi
    local why
    if ! why=$(bundle_check "$b"); then fail "$n" "bundle: $why"; return 1; fi
    return 0
}
# want_ids NAME BUNDLE IMAGE-NAME...: the bundle holds exactly these sample images
want_ids() {
    local n=$1 b=$2 want got; shift 2
    want=$(for i in "$@"; do image_id "$i"; done | sort)
    got=$(bundle_image_ids "$b" | sort -u)
    if [ "$want" = "$got" ]; then pass "$n"; else fail "$n" "image IDs $(echo $got) wanted $(echo $want)"; fi
}

# ---- every input format --------------------------------------------------------
B=sample/base:1.0; A=sample/app-a:1.0; AB=sample/app-b:1.0; C=sample/app-c:1.0
pack_ok docker24-multi "$O/d24.bundle" "$S/docker24/all.tar" && want_ids docker24-multi "$O/d24.bundle" $B $A $AB
pack_ok docker24-single "$O/d24a.bundle" "$S/docker24/app-a.tar" && want_ids docker24-single "$O/d24a.bundle" $A
pack_ok docker24-prefixed "$O/d24p.bundle" "docker-archive:$S/docker24/app-b.tar" && want_ids docker24-prefixed "$O/d24p.bundle" $AB
pack_ok docker25 "$O/d25.bundle" "$S/docker25/all.tar" && want_ids docker25 "$O/d25.bundle" $B $A $AB
pack_ok oci-dir "$O/ocid.bundle" "oci:$S/oci" && want_ids oci-dir "$O/ocid.bundle" $A $AB $C
pack_ok oci-dir-ref "$O/ocidr.bundle" "oci:$S/oci:app-c" && want_ids oci-dir-ref "$O/ocidr.bundle" $C
pack_ok oci-archive-detected "$O/ocia.bundle" "$S/oci-archive.tar" && want_ids oci-archive-detected "$O/ocia.bundle" $A $AB
pack_ok oci-archive-ref "$O/ociar.bundle" "oci-archive:$S/oci-archive.tar:app-b" && want_ids oci-archive-ref "$O/ociar.bundle" $AB
for z in gz zst xz; do
    pack_ok "docker24-whole-$z" "$O/d24$z.bundle" "$S/docker24/all.tar.$z" && want_ids "docker24-whole-$z" "$O/d24$z.bundle" $B $A $AB
done

# names: Docker names survive, in the index and in manifest.json
if [ ! -f "$O/d24.bundle" ]; then fail names-kept "no bundle from docker24/all.tar"
else
    names=$(index_json "$O/d24.bundle" | jq -r --arg id "$(image_id $A)" '.images[] | select(.config.digest == $id) | .names[]')
    tags=$(tar -xOf "$O/d24.bundle" manifest.json | jq -r '.[].RepoTags[]?' | sort | tr '\n' ' ')
    if [ "$names" = "docker.io/sample/app-a:1.0" ] && [ "$tags" = "docker.io/sample/app-a:1.0 docker.io/sample/app-b:1.0 docker.io/sample/base:1.0 " ]; then
        pass names-kept
    else fail names-kept "index names '$names', RepoTags '$tags'"; fi
fi

# the packed bundle passes airpack's own deep verification (pack and verify agree)
if [ -f "$O/d24.bundle" ]; then
    pub=$(tail -1 "$KEYS/pub")
    if "$AIRPACK" verify --deep -P "$pub" "$O/d24.bundle" >"$T/v.out" 2>&1; then pass verify-deep-accepts
    else fail verify-deep-accepts "airpack verify --deep exited $?: $(tail -c 300 "$T/v.out")"; fi
else fail verify-deep-accepts "no bundle from docker24/all.tar"; fi

# ---- every compression ------------------------------------------------------------
for c in zstd gzip none; do
    if "$AIRPACK" pack -q -o "$O/c-$c.bundle" -s "$KEYS/sec" --compression "$c" "$S/docker24/all.tar" 2>"$T/err"; then
        mt=$(index_json "$O/c-$c.bundle" | jq -r '[.images[].layers[].media_type] | unique | join(",")')
        comp=$(index_json "$O/c-$c.bundle" | jq -r .compression)
        case $c in zstd) w=application/vnd.oci.image.layer.v1.tar+zstd ;; gzip) w=application/vnd.oci.image.layer.v1.tar+gzip ;;
                   none) w=application/vnd.oci.image.layer.v1.tar ;; esac
        if ! why=$(bundle_check "$O/c-$c.bundle"); then fail "compression-$c" "$why"
        elif [ "$mt" != "$w" ] || [ "$comp" != "$c" ]; then fail "compression-$c" "media types $mt, compression $comp"
        else pass "compression-$c"; fi
    else fail "compression-$c" "exit $?: $(head -c 300 "$T/err")"; fi
done

# ---- layers shared between images are stored once ------------------------------
# app-a and app-b saved separately repeat the base layer; packed together it is there once.
if "$AIRPACK" pack -q -o "$O/two.bundle" -s "$KEYS/sec" --compression none \
        "$S/docker24/app-a.tar" "$S/docker24/app-b.tar" 2>"$T/err"; then
    sum=$(( $(stat -c %s "$S/docker24/app-a.tar") + $(stat -c %s "$S/docker24/app-b.tar") ))
    base=$(stat -c %s "$S/layers/base.tar")
    got=$(stat -c %s "$O/two.bundle")
    expect=$((sum - base))
    if [ "$got" -le $((expect + 65536)) ] && [ "$got" -ge $((expect - 32768)) ]; then
        pass dedup-shared-base
    else fail dedup-shared-base "bundle $got bytes; separate saves $sum, base layer $base: wanted about $expect"; fi
else fail dedup-shared-base "exit $?: $(head -c 300 "$T/err")"; fi

# The base layer gzip-compressed (OCI layout) and uncompressed (docker archive): once, when
# recompressed (-c; by default the OCI layout's blobs are kept as they are: tests/integration/faithful.sh).
if pack_ok dedup-across-compression "$O/mixed.bundle" -c zstd "oci:$S/oci:app-a" "$S/docker24/app-b.tar"; then
    idx=$(index_json "$O/mixed.bundle")
    layer_blobs=$(jq -r '[.images[].layers[].digest] | unique | .[]' <<<"$idx" | sort)
    diffs=$(jq -r '[.images[].layers[].diff_id] | unique | length' <<<"$idx")
    blobs=$(tar -tf "$O/mixed.bundle" | grep -c '^blobs/sha256/')
    base_did=$(diff_ids $B)
    base_blobs=$(jq -r --arg d "$base_did" '[.images[].layers[] | select(.diff_id == $d) | .digest] | unique | length' <<<"$idx")
    ls_json=$("$AIRPACK" ls --json "$O/mixed.bundle" 2>"$T/err")
    missing=""
    for d in $layer_blobs; do grep -q "${d#sha256:}" <<<"$ls_json" || missing="$missing $d"; done
    if [ "$diffs" -ne 3 ] || [ "$(wc -l <<<"$layer_blobs")" -ne 3 ] || [ "$base_blobs" -ne 1 ]; then
        fail dedup-across-compression "$diffs diff_ids, $(wc -l <<<"$layer_blobs") layer blobs, base layer in $base_blobs blobs; wanted 3, 3, 1"
    elif [ "$blobs" -ne 7 ]; then
        fail dedup-across-compression "$blobs blobs in the tar; wanted 7 (3 layers, 2 configs, 2 manifests)"
    elif [ -z "$ls_json" ] || [ -n "$missing" ]; then
        fail dedup-across-compression "airpack ls --json does not show layer blobs:$missing $(head -c 200 "$T/err")"
    else pass dedup-across-compression; fi
fi

# ---- reproducible: same inputs, key and SOURCE_DATE_EPOCH give the same bytes ----
if "$AIRPACK" pack -q -o "$O/r1.bundle" -s "$KEYS/sec" "$S/docker24/all.tar" "oci:$S/oci:app-c" 2>"$T/err" &&
   "$AIRPACK" pack -q -o "$O/r2.bundle" -s "$KEYS/sec" -j 1 "$S/docker24/all.tar" "oci:$S/oci:app-c" 2>>"$T/err"; then
    created=$(index_json "$O/r1.bundle" | jq -r .created)
    if ! cmp "$O/r1.bundle" "$O/r2.bundle" >"$T/cmp" 2>&1; then fail reproducible "$(cat "$T/cmp")"
    elif [ "$created" != "2026-01-01T00:00:00Z" ]; then fail reproducible "created is $created, wanted SOURCE_DATE_EPOCH 2026-01-01T00:00:00Z"
    elif [ "$(TZ=UTC tar --full-time -tvf "$O/r1.bundle" | awk '{ print $4 "T" $5 }' | sort -u)" != "2026-01-01T00:00:00" ]; then
        fail reproducible "tar mtimes are not SOURCE_DATE_EPOCH: $(TZ=UTC tar --full-time -tvf "$O/r1.bundle" | awk '{ print $4, $5 }' | sort -u | head -3 | tr '\n' ' ')"
    else pass reproducible; fi
else fail reproducible "exit $?: $(head -c 300 "$T/err")"; fi

# ---- --image selects ---------------------------------------------------------------
if pack_ok image-select "$O/sel.bundle" --image sample/app-a:1.0 "$S/docker24/all.tar"; then
    want_ids image-select "$O/sel.bundle" $A
fi
expect_fail image-select-missing 2 'sample/nope' "$AIRPACK" pack -q -o "$O/none.bundle" -s "$KEYS/sec" --image sample/nope:1.0 "$S/docker24/all.tar"

# ---- one name for two different images -----------------------------------------------
expect_fail name-conflict 2 'sample/app-a:1\.0' "$AIRPACK" pack -q -o "$O/conf.bundle" -s "$KEYS/sec" \
    "$S/docker24/app-a.tar" "$S/conflict/app-a-other.tar"
[ -e "$O/conf.bundle" ] && fail name-conflict-no-output "$O/conf.bundle was left behind"
for w in first last; do
    if pack_ok "on-conflict-$w" "$O/conf-$w.bundle" --on-conflict "$w" "$S/docker24/app-a.tar" "$S/conflict/app-a-other.tar"; then
        [ $w = first ] && want=$(image_id $A) || want=$(image_id $AB)
        got=$(index_json "$O/conf-$w.bundle" | jq -r '.images[] | select(.names | index("docker.io/sample/app-a:1.0")) | .config.digest')
        if [ "$got" = "$want" ]; then pass "on-conflict-$w"; else fail "on-conflict-$w" "sample/app-a:1.0 is $got, wanted $want"; fi
    fi
done
# the same image under the same name from two inputs is no conflict
pack_ok same-image-twice "$O/twice.bundle" "$S/docker24/app-a.tar" "$S/docker24/all.tar" &&
    want_ids same-image-twice "$O/twice.bundle" $B $A $AB

# ---- a config whose diff_ids do not match its layers ---------------------------------
expect_fail diffid-mismatch 1 'diff_?id|does not match|mismatch' \
    "$AIRPACK" pack -q -o "$O/bad1.bundle" -s "$KEYS/sec" "$S/bad/diffid.tar"
expect_fail diffid-count 1 'diff_?id|layers?' \
    "$AIRPACK" pack -q -o "$O/bad2.bundle" -s "$KEYS/sec" "$S/bad/config-diffids.tar"

# ---- ls ---------------------------------------------------------------------------
if [ ! -f "$O/d24.bundle" ]; then fail ls-text "no bundle to list"; fail ls-json "no bundle to list"
else
    if "$AIRPACK" ls "$O/d24.bundle" >"$T/ls" 2>"$T/err"; then
        miss=""
        for i in $B $A $AB; do
            id=$(image_id "$i"); id=${id#sha256:}
            grep -q "$i" "$T/ls" || miss="$miss name:$i"
            grep -q "${id:0:12}" "$T/ls" || miss="$miss id:${id:0:12}"
        done
        if [ -z "$miss" ]; then pass ls-text; else fail ls-text "missing$miss in: $(head -c 300 "$T/ls")"; fi
    else fail ls-text "exit $?: $(head -c 300 "$T/err")"; fi
    if "$AIRPACK" ls --json "$O/d24.bundle" >"$T/lsj" 2>"$T/err" && jq -e . "$T/lsj" >/dev/null 2>&1; then
        miss=""
        for i in $B $A $AB; do id=$(image_id "$i"); grep -q "${id#sha256:}" "$T/lsj" || miss="$miss $i"; done
        if [ -z "$miss" ]; then pass ls-json; else fail ls-json "image IDs missing:$miss"; fi
    else fail ls-json "exit or JSON invalid: $(head -c 300 "$T/err") $(head -c 200 "$T/lsj")"; fi
fi

# ---- many layers ----------------------------------------------------------------------
# Two Docker <=24 save archives of 40-layer images (no layer shared between them):
# every layer keeps its own diff_id however many the pack holds, and the IDs stay.
python3 - "$T/many" <<'PY'
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]; os.makedirs(out, exist_ok=True)
def tar_bytes(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in entries:
            i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0
            t.addfile(i, io.BytesIO(data))
    return b.getvalue()
for img in ("one", "two"):
    layers = [tar_bytes([("%s/file%02d" % (img, k), b"%s layer %d\n" % (img.encode(), k))]) for k in range(40)]
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    files = [(cid + ".json", cfg)] + [("%s/layer.tar" % d[7:], l) for d, l in zip(diff_ids, layers)]
    files.append(("manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": ["many/%s:1" % img],
        "Layers": ["%s/layer.tar" % d[7:] for d in diff_ids]}]).encode()))
    with open(os.path.join(out, img + ".tar"), "wb") as f:
        f.write(tar_bytes(files))
    with open(os.path.join(out, img + ".id"), "w") as f:
        f.write("sha256:" + cid + "\n")
PY
if pack_ok many-layers "$O/many.bundle" "$T/many/one.tar" "$T/many/two.tar"; then
    want=$(cat "$T/many/one.id" "$T/many/two.id" | sort)
    got=$(bundle_image_ids "$O/many.bundle" | sort -u)
    nl=$(index_json "$O/many.bundle" | jq '[.images[].layers[].diff_id] | unique | length')
    if [ "$want" = "$got" ] && [ "$nl" = 80 ]; then pass many-layers-ids
    else fail many-layers-ids "image IDs $(echo $got), $nl distinct diff_ids (want 80)"; fi
    check many-layers-verify "$AIRPACK" verify -q -p "$KEYS/pub" --deep "$O/many.bundle"
fi

# ---- unsigned and usage ----------------------------------------------------------------
if "$AIRPACK" pack -q -o "$O/unsigned.bundle" --unsigned "$S/docker24/app-a.tar" 2>"$T/err"; then
    if tar -tf "$O/unsigned.bundle" | head -1 | grep -qx airpack/bundle.json; then pass unsigned
    else fail unsigned "entry 1 is not airpack/bundle.json"; fi
else fail unsigned "exit $?: $(head -c 300 "$T/err")"; fi
expect_fail usage-no-input 2 'usage|input' "$AIRPACK" pack -o "$O/x.bundle" --unsigned
expect_fail usage-bad-compression 2 'compression|brotli' "$AIRPACK" pack -o "$O/x.bundle" --unsigned --compression brotli "$S/docker24/app-a.tar"
[ -e "$O/x.bundle" ] && fail usage-no-output "$O/x.bundle was written"
exit 0
