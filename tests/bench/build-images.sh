#!/bin/bash
# tests/bench/build-images.sh: builds, once, the realistic image set `make bench` measures,
# and saves it into one combined `docker save` tar. Cached outside the repository in
# ${AIRPACK_BENCH_CACHE:-/var/tmp/airpack-bench}:
#   all.tar      docker save of every image below (one archive, each layer once)
#   images.txt   the image names in that archive, one a line
#   STAMP        the recipe the cache was built from (a changed recipe rebuilds)
# The set: a Debian bookworm minbase made with debootstrap and `docker import`ed, apps made
# on it with apt-get inside `docker run --network host` + `docker commit`, and the base
# debootstrapped again later (new digests, almost the same files) with apps rebuilt on it.
# Needs root (debootstrap, a private dockerd with vfs). Run it alone: bench.sh calls it.
set -euo pipefail

CACHE=${AIRPACK_BENCH_CACHE:-/var/tmp/airpack-bench}
DOCKER=/usr/bin/docker
SUITE=bookworm
# The apt mirror this machine is configured with (deb822 or one-line sources).
mirror() {
    local m
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "'"$SUITE"'" { print $2; exit }' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=${AIRPACK_BENCH_MIRROR:-$(mirror)}

# name  base  packages (apt-get install --no-install-recommends)
APPS_ON_BASE1="
bench/curl:1 base1 curl ca-certificates
bench/python:1 base1 python3-minimal python3 python3-pip
bench/nginx:1 base1 nginx-light
bench/pgclient:1 base1 postgresql-client
bench/git:1 base1 git openssh-client
bench/build:1 base1 build-essential
bench/java:1 base1 openjdk-17-jre-headless
"
APPS_ON_BASE2="
bench/python:2 base2 python3-minimal python3 python3-pip
bench/build:2 base2 build-essential
"
RECIPE=$(echo "v1 $SUITE minbase $MIRROR $APPS_ON_BASE1 $APPS_ON_BASE2" | sha256sum | cut -c1-64)

log() { echo "build-images: $*" >&2; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$CACHE/all.tar" ] && [ -f "$CACHE/images.txt" ] && [ "$(cat "$CACHE/STAMP" 2>/dev/null)" = "$RECIPE" ]; then
    log "cached: $CACHE/all.tar ($(du -h "$CACHE/all.tar" | cut -f1), $(wc -l <"$CACHE/images.txt") images)"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, dockerd); run: sudo make bench"; exit 2; }
for t in debootstrap dockerd "$DOCKER"; do
    command -v "$t" >/dev/null || { log "missing $t (apt-get install debootstrap docker.io)"; exit 2; }
done
rm -f "$CACHE/all.tar" "$CACHE/images.txt" "$CACHE/STAMP"

W="$CACHE/build"
rm -rf "$W"; mkdir -p "$W"
DPID=""
cleanup() {
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$DPID" 2>/dev/null || true
    fi
    # dockerd --bridge=none can leave its default network namespace mounted
    umount "$W/docker/exec/netns/default" 2>/dev/null || true
    rm -rf "$W"/rootfs-* 2>/dev/null || true
}
trap cleanup EXIT

log "starting a private dockerd (vfs) in $W/docker"
mkdir -p "$W/docker"
dockerd --data-root "$W/docker/root" --exec-root "$W/docker/exec" --storage-driver vfs \
    --iptables=false --ip6tables=false --bridge=none \
    -H "unix://$W/docker/sock" --pidfile "$W/docker/pid" >"$W/docker/log" 2>&1 &
DPID=$!
export DOCKER_HOST="unix://$W/docker/sock"
i=0
until "$DOCKER" version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 150 ] && { log "dockerd did not start:"; tail -20 "$W/docker/log" >&2; exit 2; }
    sleep 0.2
done

# make_base TAG: debootstrap a minbase into a fresh directory and import it as TAG.
make_base() {
    local tag=$1 dir="$W/rootfs-$1"
    log "debootstrap --variant=minbase $SUITE from $MIRROR -> bench/debian:$tag"
    rm -rf "$dir"
    debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$W/debootstrap-$tag.log" 2>&1 || {
        log "debootstrap failed:"; tail -20 "$W/debootstrap-$tag.log" >&2; exit 2; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* 2>/dev/null || true
    tar --numeric-owner --xattrs -C "$dir" -c . |
        "$DOCKER" import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - "bench/debian:$tag" >/dev/null
    rm -rf "$dir"
    echo "bench/debian:$tag" >>"$W/images.txt"
}

# make_apps LIST: each line "NAME BASE PKG..." becomes NAME = BASE + apt-get install PKG...
make_apps() {
    local name base pkgs
    while read -r name base pkgs; do
        [ -n "$name" ] || continue
        log "$name: apt-get install $pkgs on bench/debian:$base"
        "$DOCKER" rm -f bench-build >/dev/null 2>&1 || true
        "$DOCKER" run --name bench-build --network host "bench/debian:$base" sh -c "
            set -e
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
            apt-get clean
            rm -rf /var/lib/apt/lists/*" >"$W/app.log" 2>&1 || {
            log "$name failed:"; tail -20 "$W/app.log" >&2; exit 2; }
        "$DOCKER" commit -c 'CMD ["bash"]' bench-build "$name" >/dev/null
        "$DOCKER" rm bench-build >/dev/null
        echo "$name" >>"$W/images.txt"
    done <<<"$1"
}

: >"$W/images.txt"
make_base base1
make_apps "$APPS_ON_BASE1"
make_base base2
make_apps "$APPS_ON_BASE2"

log "docker save of $(wc -l <"$W/images.txt") images -> $CACHE/all.tar"
# shellcheck disable=SC2046
"$DOCKER" save -o "$W/all.tar" $(cat "$W/images.txt")
mv "$W/all.tar" "$CACHE/all.tar"
mv "$W/images.txt" "$CACHE/images.txt"
printf '%s' "$RECIPE" >"$CACHE/STAMP"
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' | sed 's/^/  /' >&2
log "done: $CACHE/all.tar $(du -h "$CACHE/all.tar" | cut -f1)"
cleanup; DPID=""
rm -rf "$W"
