#!/bin/bash
# pack_for_verify.sh AIRPACK OUTDIR: packs the sample images (samples/make-samples.sh,
# no engine needed) with `airpack pack`, signed by a fresh minisign key, so the
# verifier tests can check a real bundle. Writes OUTDIR/key.pub, OUTDIR/key.key,
# OUTDIR/bundle.tar (zstd) and OUTDIR/bundle-gzip.tar.
set -eu
AIRPACK=$1
OUT=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT"
bash "$TOP/samples/make-samples.sh" "$OUT/samples" >"$OUT/samples.log" 2>&1
rm -f "$OUT/key.pub" "$OUT/key.key"
minisign -G -W -p "$OUT/key.pub" -s "$OUT/key.key" >/dev/null
export SOURCE_DATE_EPOCH=0
"$AIRPACK" pack -q -s "$OUT/key.key" -o "$OUT/bundle.tar" "$OUT/samples/docker24/all.tar" "oci:$OUT/samples/oci"
"$AIRPACK" pack -q -c gzip -s "$OUT/key.key" -o "$OUT/bundle-gzip.tar" "$OUT/samples/docker24/all.tar"
