#!/bin/bash
# make-samples.sh OUTDIR: writes small sample container images in every input
# format airpack reads, with no network and no container engine.
#
# Images (all share the "base" layer; configs are identical in every format, so
# an image has the same ID whichever file it comes from):
#   sample/base:1.0   base layer: /bin/hello (static, built here) + a few files
#   sample/app-a:1.0  base + a layer with /etc/app-a.conf
#   sample/app-b:1.0  base + a layer with /etc/app-b.conf and /usr/share/app-b/
#   sample/app-c:1.0  base + a layer with /etc/app-c.conf (OCI samples only)
# `docker run IMAGE` prints "Hello from <name>!" and the first line of its conf.
#
# Files written in OUTDIR (default samples/out):
#   docker24/all.tar        Docker <=24 `docker save` of base, app-a, app-b
#                           (<id>/layer.tar dirs, a shared layer via symlink)
#   docker24/app-a.tar      the same layout, one image each
#   docker24/app-b.tar
#   docker24/distinct-tags.tar  base, app-a, app-b tagged sample/X:X (unique OCI ref names)
#   docker24/all.tar.gz, .tar.zst, .tar.xz   all.tar compressed whole
#   docker25/all.tar        Docker >=25 `docker save` (OCI blobs + manifest.json)
#   oci/                    OCI layout directory, gzip layers: app-a, app-b, app-c
#                           (ref names app-a, app-b, app-c, as skopeo writes them)
#   oci-archive.tar         OCI archive, zstd layers: app-a, app-b
#   conflict/app-a-other.tar  docker24 archive naming app-b's image sample/app-a:1.0
#   bad/...                 broken inputs for the tests (see the end of this file)
#   IDS                     name, image ID (config digest) and diff_ids, one per line
#   layers/                 the layer tars (uncompressed) and their digests
# Deterministic: the same machine writes the same bytes every time.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
export LC_ALL=C TZ=UTC

OUT=${1:-$(dirname "$0")/out}
for t in cc tar gzip zstd xz jq sha256sum; do
    command -v "$t" >/dev/null || { echo "make-samples: $t is needed" >&2; exit 2; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W="$OUT/.work"
rm -rf "$W" "$OUT/docker24" "$OUT/docker25" "$OUT/oci" "$OUT/oci-archive.tar" \
    "$OUT/conflict" "$OUT/bad" "$OUT/layers" "$OUT/IDS"
mkdir -p "$W" "$OUT/layers"
umask 022

case $(uname -m) in
    x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; armv7l) ARCH=arm ;;
    ppc64le) ARCH=ppc64le ;; s390x) ARCH=s390x ;; riscv64) ARCH=riscv64 ;; *) ARCH=$(uname -m) ;;
esac
CREATED="2026-01-01T00:00:00Z"

sha() { sha256sum "$1" | cut -d' ' -f1; }
# Reproducible tar of DIR's contents (no "./" prefix) into OUTFILE.
mktar() {
    (cd "$1" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        --format=gnu -cf "$2" $(ls -A))
}

# ---- the static binary --------------------------------------------------------
cat >"$W/hello.c" <<'EOF'
#include <stdio.h>
#include <string.h>
/* hello [NAME [FILE]]: greets, then prints FILE's first line (proves the app layer is there). */
int main(int argc, char **argv)
{
    printf("Hello from %s!\n", argc > 1 ? argv[1] : "the airpack sample base");
    if (argc > 2) {
        char line[256];
        FILE *f = fopen(argv[2], "r");
        if (!f) { perror(argv[2]); return 1; }
        if (fgets(line, sizeof line, f)) fputs(line, stdout);
        fclose(f);
    }
    return 0;
}
EOF
cc -static -Os -s -o "$W/hello" "$W/hello.c"

# ---- layer contents -------------------------------------------------------------
R="$W/rootfs"
mkdir -p "$R/base/bin" "$R/base/etc" "$R/base/tmp" "$R/base/usr/share/doc/sample"
cp "$W/hello" "$R/base/bin/hello"
chmod 0755 "$R/base/bin/hello"
printf 'root:x:0:0:root:/root:/bin/hello\nnobody:x:65534:65534:nobody:/nonexistent:/bin/hello\n' >"$R/base/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/base/etc/group"
printf 'NAME="airpack sample"\nID=airpack-sample\nVERSION_ID=1.0\n' >"$R/base/etc/os-release"
printf 'The airpack sample base layer: a static /bin/hello and a few files.\n' >"$R/base/usr/share/doc/sample/README"
chmod 1777 "$R/base/tmp"

mkdir -p "$R/app-a/etc"
printf 'greeting = app-a configuration, layer 2\nlevel = 1\n' >"$R/app-a/etc/app-a.conf"
mkdir -p "$R/app-b/etc" "$R/app-b/usr/share/app-b"
printf 'greeting = app-b configuration, layer 2\n' >"$R/app-b/etc/app-b.conf"
seq 1 2000 >"$R/app-b/usr/share/app-b/numbers.txt"
mkdir -p "$R/app-c/etc"
printf 'greeting = app-c configuration, layer 2\n' >"$R/app-c/etc/app-c.conf"

declare -A DIFF GZ ZST
for l in base app-a app-b app-c; do
    mktar "$R/$l" "$OUT/layers/$l.tar"
    DIFF[$l]=$(sha "$OUT/layers/$l.tar")
    gzip -n -6 -c "$OUT/layers/$l.tar" >"$W/$l.tar.gz"
    zstd -q -3 -c "$OUT/layers/$l.tar" >"$W/$l.tar.zst"
    GZ[$l]=$(sha "$W/$l.tar.gz")
    ZST[$l]=$(sha "$W/$l.tar.zst")
done
(cd "$OUT/layers" && sha256sum ./*.tar >SHA256SUMS)

# ---- image configs --------------------------------------------------------------
declare -A NAME LAYERS CFG
NAME[base]=sample/base:1.0;   LAYERS[base]="base"
NAME[app-a]=sample/app-a:1.0; LAYERS[app-a]="base app-a"
NAME[app-b]=sample/app-b:1.0; LAYERS[app-b]="base app-b"
NAME[app-c]=sample/app-c:1.0; LAYERS[app-c]="base app-c"
mkdir -p "$W/configs"
for i in base app-a app-b app-c; do
    diffs=$(for l in ${LAYERS[$i]}; do echo "sha256:${DIFF[$l]}"; done | jq -R . | jq -sc .)
    if [ "$i" = base ]; then
        cfg='{Env:$env, Entrypoint:["/bin/hello"], WorkingDir:"/"}'
        hist='[{created:$c, created_by:"COPY rootfs/ / # airpack sample base"}]'
    else
        cfg='{Env:$env, Entrypoint:["/bin/hello"], Cmd:[$i, ("/etc/" + $i + ".conf")], WorkingDir:"/", Labels:{"org.opencontainers.image.title":$i}}'
        hist='[{created:$c, created_by:"COPY rootfs/ / # airpack sample base"}, {created:$c, created_by:("COPY " + $i + "/ / # airpack sample")}]'
    fi
    jq -cn --arg c "$CREATED" --arg a "$ARCH" --arg i "$i" --argjson d "$diffs" \
        --argjson env '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]' \
        "{architecture:\$a, config:$cfg, created:\$c, history:$hist, os:\"linux\", rootfs:{type:\"layers\", diff_ids:\$d}}" \
        | tr -d '\n' >"$W/configs/$i.json"
    CFG[$i]=$(sha "$W/configs/$i.json")
    echo "${NAME[$i]} sha256:${CFG[$i]} $(echo "$diffs" | jq -r 'join(",")')" >>"$OUT/IDS"
done

# ---- (a) Docker <=24 docker save --------------------------------------------------
# docker24 OUTFILE IMAGE[=NAME]...: per-layer <v1id>/{VERSION,json,layer.tar}; a layer
# already written under another v1 id is a symlink ../<that id>/layer.tar, as Docker
# writes it. (JSON is built with printf: every value here is hex or a plain name.)
docker24() {
    local out=$1; shift
    local d; d=$(mktemp -d "$W/d24.XXXX")
    local -A saved=() written=()
    local manifest="" repos="" i name
    for i in "$@"; do
        name=${i#*=}; i=${i%%=*}; [ "$name" = "$i" ] && name=${NAME[$i]}
        local parent="" layers="" l v1 n=0 total
        total=$(echo ${LAYERS[$i]} | wc -w)
        for l in ${LAYERS[$i]}; do
            n=$((n + 1))
            if [ $n -lt "$total" ]; then v1=$(printf 'v1:%s:%s' "$parent" "${DIFF[$l]}" | sha256sum | cut -d' ' -f1)
            else v1=$(printf 'v1:%s:%s:%s' "$parent" "${DIFF[$l]}" "${CFG[$i]}" | sha256sum | cut -d' ' -f1); fi
            if [ -z "${written[$v1]:-}" ]; then
                mkdir -p "$d/$v1"
                printf '1.0' >"$d/$v1/VERSION"
                printf '{"id":"%s",%s"created":"%s","container_config":{"Cmd":null},"os":"linux"}' \
                    "$v1" "${parent:+\"parent\":\"$parent\",}" "$CREATED" >"$d/$v1/json"
                if [ -n "${saved[${DIFF[$l]}]:-}" ]; then
                    ln -s "../${saved[${DIFF[$l]}]}/layer.tar" "$d/$v1/layer.tar"
                else
                    cp "$OUT/layers/$l.tar" "$d/$v1/layer.tar"
                    saved[${DIFF[$l]}]=$v1
                fi
                written[$v1]=1
            fi
            layers="$layers${layers:+,}\"$v1/layer.tar\""
            parent=$v1
        done
        cp "$W/configs/$i.json" "$d/${CFG[$i]}.json"
        manifest="$manifest${manifest:+,}{\"Config\":\"${CFG[$i]}.json\",\"RepoTags\":[\"$name\"],\"Layers\":[$layers]}"
        repos="$repos${repos:+,}\"${name%:*}\":{\"${name##*:}\":\"$parent\"}"
    done
    printf '[%s]\n' "$manifest" >"$d/manifest.json"
    printf '{%s}\n' "$repos" >"$d/repositories"
    mktar "$d" "$out"
    rm -rf "$d"
}

# ---- OCI layouts --------------------------------------------------------------------
# oci_layout DIR COMPRESSION(gzip|zstd|none) STYLE(skopeo|docker25) IMAGE...
#   skopeo:   index.json annotations carry only org.opencontainers.image.ref.name=IMAGE
#   docker25: full name + tag annotations, plus manifest.json and repositories
oci_layout() {
    local d=$1 comp=$2 style=$3; shift 3
    mkdir -p "$d/blobs/sha256"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
    local index="" manifest="" repos="" i l
    for i in "$@"; do
        local layers="" paths="" mt dg src
        for l in ${LAYERS[$i]}; do
            case $comp in
                gzip) mt=application/vnd.oci.image.layer.v1.tar+gzip; src="$W/$l.tar.gz"; dg=${GZ[$l]} ;;
                zstd) mt=application/vnd.oci.image.layer.v1.tar+zstd; src="$W/$l.tar.zst"; dg=${ZST[$l]} ;;
                none) mt=application/vnd.oci.image.layer.v1.tar; src="$OUT/layers/$l.tar"; dg=${DIFF[$l]} ;;
            esac
            cp "$src" "$d/blobs/sha256/$dg"
            layers="$layers${layers:+,}{\"mediaType\":\"$mt\",\"digest\":\"sha256:$dg\",\"size\":$(stat -c %s "$src")}"
            paths="$paths${paths:+,}\"blobs/sha256/$dg\""
        done
        cp "$W/configs/$i.json" "$d/blobs/sha256/${CFG[$i]}"
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
            "${CFG[$i]}" "$(stat -c %s "$W/configs/$i.json")" "$layers" >"$W/manifest.json"
        local mh; mh=$(sha "$W/manifest.json")
        cp "$W/manifest.json" "$d/blobs/sha256/$mh"
        local ann
        if [ "$style" = docker25 ]; then
            ann="\"io.containerd.image.name\":\"docker.io/${NAME[$i]}\",\"org.opencontainers.image.ref.name\":\"${NAME[$i]##*:}\""
        else
            ann="\"org.opencontainers.image.ref.name\":\"$i\""
        fi
        index="$index${index:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mh\",\"size\":$(stat -c %s "$W/manifest.json"),\"annotations\":{$ann},\"platform\":{\"architecture\":\"$ARCH\",\"os\":\"linux\"}}"
        manifest="$manifest${manifest:+,}{\"Config\":\"blobs/sha256/${CFG[$i]}\",\"RepoTags\":[\"${NAME[$i]}\"],\"Layers\":[$paths]}"
        repos="$repos${repos:+,}\"${NAME[$i]%:*}\":{\"${NAME[$i]##*:}\":\"${CFG[$i]}\"}"
    done
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$index" >"$d/index.json"
    if [ "$style" = docker25 ]; then
        printf '[%s]\n' "$manifest" >"$d/manifest.json"
        printf '{%s}\n' "$repos" >"$d/repositories"
    fi
}

mkdir -p "$OUT/docker24" "$OUT/docker25" "$OUT/conflict"
docker24 "$OUT/docker24/all.tar" base app-a app-b                  # (a) and (e)
docker24 "$OUT/docker24/app-a.tar" app-a
docker24 "$OUT/docker24/app-b.tar" app-b
gzip -n -6 -c "$OUT/docker24/all.tar" >"$OUT/docker24/all.tar.gz"    # (f)
zstd -q -3 -c "$OUT/docker24/all.tar" >"$OUT/docker24/all.tar.zst"
xz -T1 -6 -c "$OUT/docker24/all.tar" >"$OUT/docker24/all.tar.xz"
oci_layout "$W/d25" none docker25 base app-a app-b                 # (b)
mktar "$W/d25" "$OUT/docker25/all.tar"
oci_layout "$OUT/oci" gzip skopeo app-a app-b app-c                # (c)
oci_layout "$W/ocia" zstd skopeo app-a app-b                       # (d)
mktar "$W/ocia" "$OUT/oci-archive.tar"
docker24 "$OUT/docker24/distinct-tags.tar" base=sample/base:base app-a=sample/app-a:app-a app-b=sample/app-b:app-b
docker24 "$OUT/conflict/app-a-other.tar" "app-b=sample/app-a:1.0"

# ---- broken inputs -----------------------------------------------------------------
#   bad/truncated.tar        docker24/app-a.tar cut in the middle of a layer
#   bad/not-image.tar        a tar of text files, no manifest
#   bad/not-a-tar            plain text
#   bad/diffid.tar           docker24 app-a whose app-a layer was changed after the
#                            config was written (layer does not match its diff_id)
#   bad/oci-diffid.tar       OCI archive (gzip), same change; blob digests all right
#   bad/oci-blob.tar         OCI archive whose layer blob does not match its digest
#   bad/config-diffids.tar   docker24 app-a whose config lists one diff_id too few
mkdir -p "$OUT/bad"
sz=$(stat -c %s "$OUT/docker24/app-a.tar")
head -c $((sz / 2)) "$OUT/docker24/app-a.tar" >"$OUT/bad/truncated.tar"
mkdir -p "$W/notimg/docs"
printf 'just a text file\n' >"$W/notimg/docs/a.txt"
printf 'another text file\n' >"$W/notimg/b.txt"
mktar "$W/notimg" "$OUT/bad/not-image.tar"
printf 'this is not a tar archive, nor an image\n' >"$OUT/bad/not-a-tar"

# the tampered app-a layer: same size, one byte changed
mkdir -p "$W/tamper"
cp -a "$R/app-a/." "$W/tamper/"
sed -i 's/level = 1/level = 9/' "$W/tamper/etc/app-a.conf"
cp "$OUT/layers/app-a.tar" "$W/app-a.orig.tar"
mktar "$W/tamper" "$OUT/layers/app-a.tar"         # docker24() reads layers/ by name
GZ_ORIG=${GZ[app-a]}
gzip -n -6 -c "$OUT/layers/app-a.tar" >"$W/app-a.tar.gz"
GZ[app-a]=$(sha "$W/app-a.tar.gz")
docker24 "$OUT/bad/diffid.tar" app-a
oci_layout "$W/bad-oci" gzip skopeo app-a
mktar "$W/bad-oci" "$OUT/bad/oci-diffid.tar"
mv "$W/app-a.orig.tar" "$OUT/layers/app-a.tar"
gzip -n -6 -c "$OUT/layers/app-a.tar" >"$W/app-a.tar.gz"
GZ[app-a]=$GZ_ORIG
oci_layout "$W/bad-blob" gzip skopeo app-a
# a valid gzip stream of another layer under app-a's layer digest: only the digest is wrong
cp "$W/app-c.tar.gz" "$W/bad-blob/blobs/sha256/${GZ[app-a]}"
mktar "$W/bad-blob" "$OUT/bad/oci-blob.tar"
# a config listing only the base diff_id for a two-layer image
jq -c '.rootfs.diff_ids |= .[:1]' "$W/configs/app-a.json" | tr -d '\n' >"$W/configs/app-a-short.json"
cp "$W/configs/app-a.json" "$W/configs/app-a.good.json"
cp "$W/configs/app-a-short.json" "$W/configs/app-a.json"
CFG_GOOD=${CFG[app-a]}
CFG[app-a]=$(sha "$W/configs/app-a.json")
docker24 "$OUT/bad/config-diffids.tar" app-a
mv "$W/configs/app-a.good.json" "$W/configs/app-a.json"
CFG[app-a]=$CFG_GOOD

rm -rf "$W"
echo "samples written to $OUT:"
(cd "$OUT" && find . -maxdepth 2 \( -name '*.tar*' -o -name oci -o -name bad -o -name IDS \) | sort | sed 's/^/  /')
