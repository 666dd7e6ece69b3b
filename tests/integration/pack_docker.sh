#!/bin/bash
# pack_docker: images that a real Docker engine saved are packed, removed, loaded
# back from the bundle with plain `docker load`, and keep their IDs and run.
. "$(dirname "$0")/../lib.sh"
plan 23
skip_unless dockerd jq minisign
[ -x "$DOCKER" ] || skip_rest "$DOCKER not installed"
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
start_dockerd || fail_rest "dockerd is installed but did not start (see above)"

# ---- images made by Docker itself: load the samples, build one more offline ----------
if "$DOCKER" load -i "$S/docker24/all.tar" >"$T/load.out" 2>&1; then pass docker-load-samples
else fail docker-load-samples "$(head -c 300 "$T/load.out")"; fi
mkdir -p "$T/ctx"
printf 'built by docker build, offline\n' >"$T/ctx/built.txt"
cat >"$T/ctx/Dockerfile" <<'EOF'
FROM sample/base:1.0
COPY built.txt /etc/built.conf
CMD ["built", "/etc/built.conf"]
EOF
if DOCKER_BUILDKIT=0 "$DOCKER" build --network none -q -t sample/built:1.0 "$T/ctx" >"$T/build.out" 2>&1; then
    pass docker-build-offline
else fail docker-build-offline "$(tail -c 300 "$T/build.out")"; fi
IMAGES="sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0 sample/built:1.0"
declare -A ID
for i in $IMAGES; do ID[$i]=$("$DOCKER" image inspect --format '{{.Id}}' "$i" 2>/dev/null); done
if "$DOCKER" save -o "$T/saved.tar" $IMAGES 2>"$T/err"; then pass docker-save
else fail docker-save "$(head -c 300 "$T/err")"; fi

# run_ok NAME IMAGE EXPECTED-LINE...: docker run prints these lines
run_ok() {
    local n=$1 img=$2 out; shift 2
    out=$("$DOCKER" run --rm --network none "$img" 2>&1)
    for l in "$@"; do
        grep -qxF "$l" <<<"$out" || { fail "$n" "docker run $img printed: $(head -c 200 <<<"$out")"; return; }
    done
    pass "$n"
}
run_ok run-before sample/app-a:1.0 "Hello from app-a!" "greeting = app-a configuration, layer 2"

# ---- pack, remove everything, load the bundle, compare ------------------------------
for c in gzip none; do
    b="$O/bundle-$c.tar"
    if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --compression "$c" "$T/saved.tar" >"$T/stdout" 2>"$T/err"; then
        pass "pack-$c"
    else fail "pack-$c" "exit $?: $(head -c 300 "$T/err")"; continue; fi
    why=$(bundle_check "$b") && pass "bundle-format-$c" || fail "bundle-format-$c" "$why"
    "$DOCKER" rmi -f $IMAGES >/dev/null 2>&1
    "$DOCKER" image prune -af >/dev/null 2>&1
    left=$("$DOCKER" images -q | wc -l)
    [ "$left" -eq 0 ] || { fail "rmi-$c" "$left images left"; continue; }
    if "$DOCKER" load -i "$b" >"$T/load.out" 2>&1; then pass "docker-load-$c"
    else fail "docker-load-$c" "$(head -c 300 "$T/load.out")"; continue; fi
    bad=""
    for i in $IMAGES; do
        got=$("$DOCKER" image inspect --format '{{.Id}}' "$i" 2>/dev/null)
        [ -n "${ID[$i]}" ] && [ "$got" = "${ID[$i]}" ] || bad="$bad $i:${got:-missing}(was ${ID[$i]})"
    done
    if [ -z "$bad" ]; then pass "ids-kept-$c"; else fail "ids-kept-$c" "$bad"; fi
    run_ok "run-app-a-$c" sample/app-a:1.0 "Hello from app-a!" "greeting = app-a configuration, layer 2"
    run_ok "run-app-b-$c" sample/app-b:1.0 "Hello from app-b!" "greeting = app-b configuration, layer 2"
    run_ok "run-built-$c" sample/built:1.0 "Hello from built!" "built by docker build, offline"
    run_ok "run-base-$c" sample/base:1.0 "Hello from the airpack sample base!"
done

# ---- the hand-written sample archives load the same way ------------------------------
b="$O/samples.tar"
if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --compression gzip "$S/docker25/all.tar" "oci:$S/oci:app-c" >"$T/stdout" 2>"$T/err"; then
    "$DOCKER" rmi -f $IMAGES >/dev/null 2>&1
    if "$DOCKER" load -i "$b" >"$T/load.out" 2>&1 &&
       [ "$("$DOCKER" image inspect --format '{{.Id}}' sample/app-b:1.0 2>/dev/null)" = "$(image_id sample/app-b:1.0)" ]; then
        pass docker-load-docker25-input
    else fail docker-load-docker25-input "$(head -c 300 "$T/load.out")"; fi
    run_ok run-oci-input "$(image_id sample/app-c:1.0)" "Hello from app-c!" "greeting = app-c configuration, layer 2"
else fail docker-load-docker25-input "pack exit $?: $(head -c 300 "$T/err")"; fi

# ---- a zstd bundle: Docker 23 and later read it with plain `docker load`; an older engine
# (Debian 12's 20.10) refuses it, and `airpack load --into docker-daemon:` loads it instead,
# decompressing the layers, with the same image IDs
ver=$("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null)
bz="$O/bundle-zstd.tar"
ids_ok() { local i; for i in $IMAGES; do [ "$("$DOCKER" image inspect --format '{{.Id}}' "$i" 2>/dev/null)" = "${ID[$i]}" ] || return 1; done; }
"$DOCKER" rmi -f $IMAGES >/dev/null 2>&1; "$DOCKER" image prune -af >/dev/null 2>&1
if ! "$AIRPACK" pack -q -o "$bz" -s "$KEYS/sec" "$T/saved.tar" >"$T/stdout" 2>"$T/err"; then
    fail docker-load-zstd "pack: $(head -c 300 "$T/err")"
elif ! [ "${ver%%.*}" -ge 0 ] 2>/dev/null; then
    fail docker-load-zstd "no server version from docker version: '$ver'"
elif [ "${ver%%.*}" -ge 23 ]; then
    if "$DOCKER" load -i "$bz" >"$T/load.out" 2>&1 && ids_ok; then pass "docker-load-zstd (Docker $ver: docker load)"
    else fail "docker-load-zstd (Docker $ver: docker load)" "$(head -c 300 "$T/load.out")"; fi
elif "$DOCKER" load -i "$bz" >"$T/load.out" 2>&1; then
    fail "docker-load-zstd (Docker $ver)" "docker load took a zstd bundle: is Docker $ver older than 23? the README says use gzip"
elif "$AIRPACK" load -q -p "$KEYS/pub" --into docker-daemon: "$bz" >"$T/load.out" 2>&1 && ids_ok; then
    pass "docker-load-zstd (Docker $ver refuses it; airpack load --into docker-daemon: loads it)"
else fail "docker-load-zstd (Docker $ver)" "airpack load: $(head -c 300 "$T/load.out")"; fi
exit 0
