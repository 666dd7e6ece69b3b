#!/bin/bash
# tests/bench/bench.sh: `make bench`. Measures airpack against the baseline tools on one
# realistic image set (tests/bench/build-images.sh builds and caches it) and prints sizes,
# median wall times, airpack/baseline ratios and peak memory, checked against the targets.
# It is a report, not a test: it exits 0 whether targets are met or missed, 2 when a command
# failed to run.
#   BENCH_RUNS=3         runs of each command (the median is reported)
#   BENCH_CACHE=warm     warm: read each command's input into the page cache just before it;
#                        cold: sync and drop the page cache before each command (root)
#   BENCH_SKIP="..."     skip measurements by name prefix (e.g. "skopeo docker")
#   AIRPACK_BENCH_CACHE  where the image set and the scratch files live (/var/tmp/airpack-bench)
#   BENCH_JSON           where to write the results (tests/bench/results/latest.json)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
AIRPACK=${AIRPACK:-$TOP/build/airpack}
CACHE=${AIRPACK_BENCH_CACHE:-/var/tmp/airpack-bench}
RUNS=${BENCH_RUNS:-3}
CACHE_MODE=${BENCH_CACHE:-warm}
SKIP=${BENCH_SKIP:-}
JSON=${BENCH_JSON:-$HERE/results/latest.json}
DOCKER=/usr/bin/docker
TIME=/usr/bin/time

say() { echo "bench: $*" >&2; }

# ---- tools: install what is missing when root, else say what to install ----
need_pkgs=""
for pair in debootstrap:debootstrap zstd:zstd gzip:gzip openssl:openssl skopeo:skopeo \
            dockerd:docker.io python3:python3-minimal flock:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs="$need_pkgs ${pair#*:}"
done
[ -x "$TIME" ] || need_pkgs="$need_pkgs time"
if [ -n "$need_pkgs" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing$need_pkgs"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null || {
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null; } || {
            say "could not install$need_pkgs"; exit 2; }
    else
        say "missing Debian packages:$need_pkgs (sudo apt-get install$need_pkgs)"; exit 2
    fi
fi
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and a private dockerd): sudo make bench"; exit 2; }
[ -x "$AIRPACK" ] || { say "no $AIRPACK: run make"; exit 2; }
case $CACHE_MODE in warm|cold) ;; *) say "BENCH_CACHE must be warm or cold"; exit 2 ;; esac
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { say "BENCH_RUNS must be a positive number"; exit 2; }

# ---- the image set ----
# BENCH_SAVE_TAR=FILE measures that docker save tar instead (a quick check of bench itself).
if [ -n "${BENCH_SAVE_TAR:-}" ]; then
    ALL=$(realpath "$BENCH_SAVE_TAR")
    mkdir -p "$CACHE"
    tar -xOf "$ALL" manifest.json | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    for t in m.get("RepoTags") or []:
        print(t)' >"$CACHE/images-override.txt" || { say "no manifest.json in $ALL"; exit 2; }
    IMAGES_TXT=$CACHE/images-override.txt
else
    bash "$HERE/build-images.sh" || { say "build-images.sh failed"; exit 2; }
    ALL=$CACHE/all.tar
    IMAGES_TXT=$CACHE/images.txt
fi
mapfile -t IMAGES <"$IMAGES_TXT"

# ---- scratch space, keys, a private Docker engine ----
R=$CACHE/run
rm -rf "$R"; mkdir -p "$R/log" "$R/keys"
RAW=$R/raw.tsv; : >"$RAW"
"$AIRPACK" keygen -W -p "$R/keys/pub" -s "$R/keys/sec" >/dev/null 2>&1 || { say "airpack keygen failed"; exit 2; }
DPID=""
stop_dockerd() {
    [ -n "$DPID" ] || return 0
    kill "$DPID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DPID" 2>/dev/null; DPID=""
}
# dockerd --bridge=none can leave its default network namespace mounted
trap '[ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null; stop_dockerd; umount "$R/docker/exec/netns/default" 2>/dev/null; rm -rf "$R/docker" 2>/dev/null' EXIT
mkdir -p "$R/docker"
dockerd --data-root "$R/docker/root" --exec-root "$R/docker/exec" --storage-driver vfs \
    --iptables=false --ip6tables=false --bridge=none \
    -H "unix://$R/docker/sock" --pidfile "$R/docker/pid" >"$R/docker/log" 2>&1 &
DPID=$!
export DOCKER_HOST="unix://$R/docker/sock"
# what airpack load records per store (no rollback) stays with the bench; docker_empty drops the
# engine's record with its images, so reloading an earlier-packed bundle is not a rollback
export AIRPACK_STATE_DIR="$R/airpack-state"
i=0
until "$DOCKER" version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 150 ] && { say "dockerd did not start: $(tail -5 "$R/docker/log")"; exit 2; }
    sleep 0.2
done
docker_empty() { # remove every image from the private engine (untimed)
    local ids
    ids=$("$DOCKER" images -aq | sort -u)
    [ -z "$ids" ] || "$DOCKER" rmi -f $ids >/dev/null 2>&1
    "$DOCKER" image prune -af >/dev/null 2>&1
    rm -rf "$AIRPACK_STATE_DIR"
    [ -z "$("$DOCKER" images -aq)" ]
}

# ---- measuring ----
# measure NAME RUN "INPUT FILES" COMMAND...: one timed run; appends to $RAW
#   name run seconds max_rss_kib exit
skipped() { local s; for s in $SKIP; do [[ $1 == "$s"* ]] && return 0; done; return 1; }
FAILED=0
measure() {
    local name=$1 run=$2 inputs=$3; shift 3
    skipped "$name" && return 0
    sync
    if [ "$CACHE_MODE" = cold ]; then
        echo 3 >/proc/sys/vm/drop_caches || { say "cannot drop caches (use BENCH_CACHE=warm)"; exit 2; }
    else
        # shellcheck disable=SC2086
        [ -z "$inputs" ] || cat $inputs >/dev/null
    fi
    local t0 t1 rc secs rss
    t0=$(date +%s.%N)
    "$TIME" -f '%M' -o "$R/log/$name.rss" "$@" >"$R/log/$name.out" 2>"$R/log/$name.err"
    rc=$?
    t1=$(date +%s.%N)
    secs=$(echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }')
    rss=$(grep -E '^[0-9]+$' "$R/log/$name.rss" | tail -1); rss=${rss:-0}
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$secs" "$rss" "$rc" >>"$RAW"
    if [ $rc -ne 0 ]; then
        FAILED=1
        say "$name (run $run) exit $rc: $(grep -v '^Command exited' "$R/log/$name.err" | tail -3 | tr '\n' ' ')"
        cp "$R/log/$name.err" "$R/log/$name.err.run$run"
    else
        say "$name run $run: ${secs}s, ${rss} KiB"
    fi
}
size() { # size NAME PATH: the apparent size in bytes of a file or directory
    printf '%s\t%s\n' "$1" "$(du -sb --apparent-size "$2" 2>/dev/null | cut -f1)" >>"$R/sizes.tsv"
}

P=$R/out; mkdir -p "$P"
B_ZSTD=$P/bundle-zstd.tar
B_GZIP=$P/bundle-gzip.tar
B_DENSE=$P/bundle-dense.tar
B_DENSE_ZSTD=$P/bundle-dense-zstd.tar

# the parity encode rate tool (tests/bench/parity_rate.c) against the library just built
cc -O2 -std=c11 -D_GNU_SOURCE -o "$R/parity_rate" "$HERE/parity_rate.c" "$TOP/build/libairpack.a" -lisal ||
    { say "cannot build parity_rate (make first)"; exit 2; }

MACHINE="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, \
$(free -m | awk '/^Mem:/ { printf "%.1f GiB RAM", $2 / 1024 }'), \
scratch on $(df -h --output=source,fstype,size "$CACHE" | tail -1 | tr -s ' ')"
say "machine: $MACHINE"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "$(stat -c %s "$ALL") bytes of docker save, ${#IMAGES[@]} images; $RUNS runs; page cache: $CACHE_MODE; load average $LOAD0"
# the faithful pack (issue 14): the set pushed with gzip layers into a local registry (untimed),
# packed from docker:// as it is there, against skopeo copy --all of each image into one layout
REG_REFS=()
if ! skipped faithful && command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
    REGP=$(( 20000 + RANDOM % 20000 ))
    mkdir -p "$R/registry"
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$R/registry/data" "$REGP" >"$R/registry/config.yml"
    docker-registry serve "$R/registry/config.yml" >"$R/registry/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$REGP/v2/" && break; sleep 0.1; done
    for img in "${IMAGES[@]}"; do
        ref="127.0.0.1:$REGP/bench/$(echo "${img%:*}" | tr '/' '-'):${img##*:}"
        skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-compress-format gzip \
            "docker-archive:$ALL:$img" "docker://$ref" >>"$R/registry/push.log" 2>&1 && REG_REFS+=("$ref")
    done
    say "pushed ${#REG_REFS[@]} images (gzip) to the local registry"
fi
for run in $(seq "$RUNS"); do
    if [ ${#REG_REFS[@]} -gt 0 ]; then
        rm -f "$P/bundle-faithful.tar"
        measure airpack_pack_faithful "$run" "" "$AIRPACK" pack -q --tls-verify=false -s "$R/keys/sec" \
            -o "$P/bundle-faithful.tar" "${REG_REFS[@]/#/docker://}"
        rm -rf "$P/skopeo-reg-oci"
        measure skopeo_copy_registry "$run" "" bash -c "for ref in ${REG_REFS[*]}; do
            skopeo --insecure-policy copy -q --all --src-tls-verify=false \"docker://\$ref\" \
                \"oci:$P/skopeo-reg-oci:\$(echo \"\$ref\" | tr '/:' '__')\" || exit 1; done"
    fi
    # pack
    rm -f "$P/all.tar.zst"
    measure base_zstd "$run" "$ALL" bash -c "zstd -3 -T0 -q -c '$ALL' >'$P/all.tar.zst'"
    rm -f "$B_ZSTD"
    measure airpack_pack_zstd "$run" "$ALL" "$AIRPACK" pack -s "$R/keys/sec" -o "$B_ZSTD" -q "$ALL"
    # split packing: 10 parts of the zstd bundle's size / 10, with and without 2 parity parts
    SPLIT=${BENCH_SPLIT:-$(( ($(stat -c %s "$B_ZSTD") + 10 * 1024 * 1024 - 1) / (10 * 1024 * 1024) ))M}
    rm -rf "$P/split" "$P/split-parity"; mkdir -p "$P/split" "$P/split-parity"
    measure airpack_pack_split "$run" "$ALL" "$AIRPACK" pack -s "$R/keys/sec" --split "$SPLIT" -o "$P/split/b.tar" -q "$ALL"
    measure airpack_pack_split_parity "$run" "$ALL" "$AIRPACK" pack -s "$R/keys/sec" --split "$SPLIT" --parity 2 \
        -o "$P/split-parity/b.tar" -q "$ALL"
    rm -f "$P/all.tar.gz"
    measure base_gzip "$run" "$ALL" bash -c "gzip -6 -c '$ALL' >'$P/all.tar.gz'"
    rm -f "$B_GZIP"
    measure airpack_pack_gzip "$run" "$ALL" "$AIRPACK" pack -s "$R/keys/sec" -o "$B_GZIP" --compression gzip -q "$ALL"
    if ! skipped skopeo; then
        rm -rf "$P/skopeo-oci"
        measure skopeo_copy_zstd "$run" "$ALL" bash -c "
            while read -r img; do
                skopeo --insecure-policy copy -q --dest-compress-format zstd \\
                    \"docker-archive:$ALL:\$img\" \"oci:$P/skopeo-oci:\$(echo \"\$img\" | tr '/:' '__')\" || exit 1
            done <'$IMAGES_TXT'"
    fi
    # dense: against one long-window zstd over the whole save tar (slow: run 1 only)
    if [ "$run" = 1 ]; then
        rm -f "$P/all.tar.zst19"
        measure base_long19 "$run" "$ALL" bash -c "zstd -19 --long=30 -T0 -q -c '$ALL' >'$P/all.tar.zst19'"
    fi
    rm -f "$B_DENSE"
    measure airpack_dense_pack "$run" "$ALL" "$AIRPACK" pack --dense -s "$R/keys/sec" -o "$B_DENSE" -q "$ALL"
    rm -f "$B_DENSE_ZSTD"
    measure airpack_dense_pack_zstd "$run" "$ALL" "$AIRPACK" pack --dense --compression zstd -s "$R/keys/sec" \
        -o "$B_DENSE_ZSTD" -q "$ALL"
    # verify
    measure base_sha256 "$run" "$B_ZSTD" openssl dgst -sha256 "$B_ZSTD"
    measure airpack_verify "$run" "$B_ZSTD" "$AIRPACK" verify -p "$R/keys/pub" -q "$B_ZSTD"
    measure base_unzstd_sha256 "$run" "$P/all.tar.zst" bash -c "zstd -d -q -c '$P/all.tar.zst' | openssl dgst -sha256"
    measure airpack_verify_deep "$run" "$B_ZSTD" "$AIRPACK" verify -p "$R/keys/pub" --deep -q "$B_ZSTD"
    # load into an OCI layout
    rm -f "$P/copy.tar"
    measure base_cp "$run" "$B_ZSTD" cp "$B_ZSTD" "$P/copy.tar"
    rm -f "$P/copy.tar"
    # the durability floor: cp, then fsync of the copy (airpack load fsyncs every blob it writes)
    measure base_cp_sync "$run" "$B_ZSTD" bash -c "cp '$B_ZSTD' '$P/copy.tar' && sync '$P/copy.tar'"
    rm -f "$P/copy.tar"; rm -rf "$P/oci-load"
    measure airpack_load_oci "$run" "$B_ZSTD" "$AIRPACK" load -p "$R/keys/pub" --into "oci:$P/oci-load" -q "$B_ZSTD"
    # load through damage: the --parity 2 parts whole, then with two data parts missing
    rm -rf "$P/oci-load-parity"
    measure airpack_load_oci_parity "$run" "$P/split-parity/b.tar.*" "$AIRPACK" load -p "$R/keys/pub" \
        --into "oci:$P/oci-load-parity" -q "$P/split-parity/b.tar"
    rm -rf "$P/oci-load-parity" "$P/split-missing"; cp -r "$P/split-parity" "$P/split-missing"
    rm -f "$P/split-missing/b.tar.002" "$P/split-missing/b.tar.005"
    measure airpack_load_oci_parity_2missing "$run" "$P/split-missing/b.tar.*" "$AIRPACK" load -p "$R/keys/pub" \
        --into "oci:$P/oci-load-parity" -q "$P/split-missing/b.tar"
    rm -rf "$P/oci-load-parity" "$P/split-missing"
    # the parity code alone: 10 data stripes of 1 MiB into 2, on one core, 16 GiB of data
    measure airpack_parity_encode "$run" "" "$R/parity_rate" 10 2 16
    rm -rf "$P/oci-load-dense"
    measure airpack_dense_load_oci "$run" "$B_DENSE" "$AIRPACK" load -p "$R/keys/pub" --into "oci:$P/oci-load-dense" -q "$B_DENSE"
    rm -rf "$P/oci-load-dense-zstd"
    measure airpack_dense_load_oci_zstd "$run" "$B_DENSE_ZSTD" "$AIRPACK" load -p "$R/keys/pub" \
        --into "oci:$P/oci-load-dense-zstd" -q "$B_DENSE_ZSTD"
    # load into Docker (the private engine, emptied before each load)
    if ! skipped docker && ! skipped base_docker; then
        docker_empty || { say "could not empty the private Docker engine"; exit 2; }
        measure base_docker_load "$run" "$ALL" "$DOCKER" load -q -i "$ALL"
    fi
    for c in zstd gzip dense_zstd dense; do
        skipped "airpack_load_docker_$c" && continue
        docker_empty || { say "could not empty the private Docker engine"; exit 2; }
        case $c in zstd) b=$B_ZSTD ;; gzip) b=$B_GZIP ;; dense_zstd) b=$B_DENSE_ZSTD ;; dense) b=$B_DENSE ;; esac
        measure "airpack_load_docker_$c" "$run" "$b" "$AIRPACK" load -p "$R/keys/pub" --into docker-daemon: -q "$b"
    done
    # the images airpack loaded must be the ones packed: names and image IDs (untimed)
    if [ "$run" = 1 ] && [ "$(tail -1 "$RAW" | cut -f1,5)" = "$(printf 'airpack_load_docker_dense\t0')" ]; then
        tar -xOf "$ALL" manifest.json | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    for t in m.get("RepoTags") or []:
        print(t, "sha256:" + m["Config"].split("/")[-1].removesuffix(".json"))' |
        while read -r img want; do
            got=$("$DOCKER" image inspect --format '{{.Id}}' "$img" 2>/dev/null)
            [ "$got" = "$want" ] || { say "after airpack load: $img is ${got:-missing}, wanted $want"; echo x >>"$R/idcheck.fail"; }
        done
        [ -f "$R/idcheck.fail" ] && FAILED=1
    fi
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
docker_empty >/dev/null 2>&1

: >"$R/sizes.tsv"
size docker_save_tar "$ALL"
printf 'parity_encode_bytes\t%s\n' $((16 << 30)) >>"$R/sizes.tsv"
size zstd_tar "$P/all.tar.zst"
size gzip_tar "$P/all.tar.gz"
size bundle_zstd "$B_ZSTD"
size bundle_gzip "$B_GZIP"
size zstd19_long_tar "$P/all.tar.zst19"
size bundle_dense "$B_DENSE"
size bundle_dense_zstd "$B_DENSE_ZSTD"
[ -d "$P/oci-load-dense" ] && size airpack_oci_load_dense "$P/oci-load-dense"
[ -d "$P/oci-load-dense-zstd" ] && size airpack_oci_load_dense_zstd "$P/oci-load-dense-zstd"
[ -d "$P/skopeo-oci" ] && size skopeo_oci_zstd "$P/skopeo-oci"
[ -d "$P/oci-load" ] && size airpack_oci_load "$P/oci-load"
[ -f "$P/bundle-faithful.tar" ] && size bundle_faithful "$P/bundle-faithful.tar"
[ -d "$P/skopeo-reg-oci" ] && size skopeo_oci_registry "$P/skopeo-reg-oci"
SKOPEO_MT=$(cat "$P"/skopeo-oci/blobs/sha256/* 2>/dev/null | grep -aoE 'application/vnd\.oci\.image\.layer\.v1\.tar[+a-z]*' | sort | uniq -c | tr -s ' \n' ' ')

mkdir -p "$(dirname "$JSON")" "$CACHE/results"
python3 "$HERE/report.py" --raw "$RAW" --sizes "$R/sizes.tsv" --json "$JSON" \
    --images "$IMAGES_TXT" --runs "$RUNS" --cache-mode "$CACHE_MODE" \
    --load-before "$LOAD0" --load-after "$LOAD1" --machine "$MACHINE" --airpack-version "$("$AIRPACK" --version 2>&1 | head -1)" \
    --skopeo-media-types "$SKOPEO_MT" || FAILED=1
cp "$JSON" "$CACHE/results/$(date -u +%Y%m%dT%H%M%SZ).json" 2>/dev/null
say "results: $JSON (a copy in $CACHE/results/); scratch files in $R/out"
[ $FAILED -eq 0 ] || { say "some commands failed to run: see $R/log/*.err"; exit 2; }
exit 0
