#!/bin/bash
# demo.sh: what `make demo` runs. Makes the sample images, a signing key, packs
# every sample into one bundle, lists it, verifies it, loads it into an OCI
# layout and shows what arrived. Needs no container engine and no network.
#   AIRPACK=path/to/airpack  DEMO=dir (default samples/out/demo)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
AIRPACK=${AIRPACK:-$PWD/build/airpack}
S=samples/out
D=${DEMO:-$S/demo}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}

STEP=start
step() { STEP=$*; printf '\n==== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "\ndemo FAILED (exit %d) in step: %s\n" "$rc" "$STEP" >&2' EXIT

step "1. Sample images in every input format (no engine, no network)"
run bash samples/make-samples.sh "$S"

step "2. A signing key pair"
rm -rf "$D"; mkdir -p "$D"
run "$AIRPACK" keygen -W -p "$D/demo.pub" -s "$D/demo.key"

step "3. Pack them all into one deduplicated, signed bundle"
inputs=("$S/docker24/all.tar" "$S/docker25/all.tar" "oci:$S/oci" "$S/oci-archive.tar" "$S/docker24/all.tar.xz")
total=0
for f in "$S/docker24/all.tar" "$S/docker25/all.tar" "$S/oci-archive.tar" "$S/docker24/all.tar.xz"; do
    total=$((total + $(stat -c %s "$f")))
done
total=$((total + $(du -sb "$S/oci" | cut -f1)))
run "$AIRPACK" pack -o "$D/bundle.tar" -s "$D/demo.key" "${inputs[@]}"
echo "inputs: $total bytes in ${#inputs[@]} inputs; bundle: $(stat -c %s "$D/bundle.tar") bytes"

step "4. What is in the bundle"
run "$AIRPACK" ls "$D/bundle.tar"

step "5. Verify it (signature, then every digest)"
run "$AIRPACK" verify -p "$D/demo.pub" --deep "$D/bundle.tar"

step "6. Load it into an OCI image layout"
run "$AIRPACK" load -p "$D/demo.pub" --into "oci:$D/oci" "$D/bundle.tar"

step "7. What arrived"
printf '$ jq index.json\n'
jq -r '.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"] // "-")\t\(.annotations["io.containerd.image.name"] // "")\t\(.digest)"' "$D/oci/index.json"
n=$(jq '.manifests | length' "$D/oci/index.json")
blobs=$(ls "$D/oci/blobs/sha256" | wc -l)
echo "$n image references, $blobs blobs in $D/oci"
if command -v skopeo >/dev/null; then
    # a ref name that only one image has (several images may share a tag such as 1.0)
    ref=$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"] // empty] | group_by(.) | map(select(length == 1)) | .[0][0] // empty' "$D/oci/index.json")
    if [ -n "$ref" ]; then
        printf '$ skopeo inspect oci:%s:%s\n' "$D/oci" "$ref"
        skopeo inspect "oci:$D/oci:$ref" | jq '{Digest, Architecture, Os, Layers}'
    fi
fi
step "demo done: $D/bundle.tar verified and loaded into $D/oci"
