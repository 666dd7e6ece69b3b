#!/bin/bash
# pack_daemon: `airpack pack docker-daemon:NAME` reads images straight from a real
# Docker engine (vfs, private socket) over the Engine API, with no `docker save`
# file: the packed image IDs equal the daemon's, a layer the daemon and a file
# both carry is stored once, the bundle verifies (--deep) and loads back into
# docker, a missing image is named before anything is written, and a save
# stream that breaks off half-way is refused (through a truncating proxy).
. "$(dirname "$0")/../lib.sh"
plan 18
skip_unless dockerd jq minisign python3
[ -x "$DOCKER" ] || skip_rest "$DOCKER not installed"
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
start_dockerd || fail_rest "dockerd is installed but did not start (see above)"
export SOURCE_DATE_EPOCH=1700000000

# ---- images in the daemon: the samples, one built here offline ----------------------
"$DOCKER" load -i "$S/docker24/all.tar" >"$T/load.out" 2>&1 || { fail docker-load-samples "$(head -c 300 "$T/load.out")"; exit 0; }
mkdir -p "$T/ctx"
printf 'built by docker build, offline\n' >"$T/ctx/built.txt"
cat >"$T/ctx/Dockerfile" <<'EOF'
FROM sample/base:1.0
COPY built.txt /etc/built.conf
CMD ["built", "/etc/built.conf"]
EOF
if DOCKER_BUILDKIT=0 "$DOCKER" build --network none -q -t sample/built:1.0 "$T/ctx" >"$T/build.out" 2>&1; then
    pass docker-build-offline
else fail docker-build-offline "$(tail -c 300 "$T/build.out")"; exit 0; fi
declare -A ID
for i in sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0 sample/built:1.0; do
    ID[$i]=$("$DOCKER" image inspect --format '{{.Id}}' "$i")
done
nothing_written() { # DIR: no bundle and no temporary file left in DIR
    [ -z "$(ls -A "$1")" ]
}
pub() { "$AIRPACK" "$@"; }

# ---- pack two images straight from the daemon ---------------------------------------
B="$O/daemon.tar"
if "$AIRPACK" pack -q -o "$B" -s "$KEYS/sec" --compression gzip \
        docker-daemon:sample/app-a:1.0 docker-daemon:sample/built:1.0 >"$T/p.out" 2>"$T/p.err"; then
    pass pack-docker-daemon
else fail pack-docker-daemon "exit $?: $(head -c 400 "$T/p.err")"; exit 0; fi
why=$(bundle_check "$B") && pass daemon-bundle-format || fail daemon-bundle-format "$why"
want=$(printf '%s\n' "${ID[sample/app-a:1.0]}" "${ID[sample/built:1.0]}" | sort)
if [ "$(bundle_image_ids "$B")" = "$want" ]; then pass daemon-image-ids-equal
else fail daemon-image-ids-equal "bundle has $(bundle_image_ids "$B" | tr '\n' ' '), daemon $(echo $want)"; fi
names=$(index_json "$B" | jq -r '[.images[].names[]] | sort | join(" ")')
if [ "$names" = "docker.io/sample/app-a:1.0 docker.io/sample/built:1.0" ]; then pass daemon-names
else fail daemon-names "$names"; fi
# the base layer both images share is stored once: 3 distinct diff_ids
n=$(index_json "$B" | jq '[.images[].layers[].diff_id] | unique | length')
nb=$(index_json "$B" | jq '[.images[].layers[].digest] | unique | length')
if [ "$n" = 3 ] && [ "$nb" = 3 ]; then pass daemon-shared-layer-once; else fail daemon-shared-layer-once "$n diff_ids, $nb blobs"; fi
if "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$B" >"$T/v.out" 2>&1; then pass daemon-bundle-verifies-deep
else fail daemon-bundle-verifies-deep "$(head -c 400 "$T/v.out")"; fi

# ---- mixed with a file input: every layer once, whichever input comes first ---------
for order in file-first daemon-first; do
    b="$O/mixed-$order.tar"
    if [ $order = file-first ]; then ins=("$S/docker24/all.tar" docker-daemon:sample/built:1.0 docker-daemon:sample/app-a:1.0)
    else ins=(docker-daemon:sample/built:1.0 docker-daemon:sample/app-a:1.0 "$S/docker24/all.tar"); fi
    if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --compression gzip "${ins[@]}" >"$T/m.out" 2>"$T/m.err"; then
        why=$(bundle_check "$b") || { fail "mixed-$order" "$why"; continue; }
        ids=$(bundle_image_ids "$b" | tr '\n' ' ')
        nd=$(index_json "$b" | jq '[.images[].layers[].diff_id] | unique | length')
        ne=$(index_json "$b" | jq '[.entries[].path | select(startswith("blobs/"))] | length')
        # base, app-a, app-b, built: 4 images; layers base, a, b, built: 4; blobs 4 layers + 4 configs + 4 manifests
        if [ "$(wc -w <<<"$ids")" = 4 ] && [ "$nd" = 4 ] && [ "$ne" = 12 ] &&
           "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$b" >"$T/v.out" 2>&1; then
            pass "mixed-$order"
        else fail "mixed-$order" "$ids / $nd diff_ids / $ne blobs / $(head -c 200 "$T/v.out")"; fi
    else fail "mixed-$order" "exit $?: $(head -c 300 "$T/m.err")"; fi
done

# ---- every kind of input in one pack: daemon, registry, file; by ID too -------------
if have docker-registry && have skopeo && have curl; then
    start_registry reg && RPORT=$REG_PORT || RPORT=0   # not started: skopeo below fails, named
    if skopeo copy -q --dest-tls-verify=false "oci:$S/oci:app-c" "docker://127.0.0.1:$RPORT/lib/app-c:1.0" >"$T/sk.out" 2>&1; then
        b="$O/all-kinds.tar"
        if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --compression gzip "docker://127.0.0.1:$RPORT/lib/app-c:1.0" \
                "docker-daemon:${ID[sample/built:1.0]}" "$S/docker24/app-a.tar" >"$T/k.out" 2>&1; then
            want=$(printf '%s\n' "$(image_id sample/app-c:1.0)" "${ID[sample/built:1.0]}" "${ID[sample/app-a:1.0]}" | sort)
            nd=$(index_json "$b" | jq '[.images[].layers[].diff_id] | unique | length')
            nl=$(index_json "$b" | jq '[.images[].layers[].digest] | unique | length')
            unnamed=$(index_json "$b" | jq -r --arg id "${ID[sample/built:1.0]}" '.images[] | select(.config.digest == $id) | .names | length')
            if [ "$(bundle_image_ids "$b")" = "$want" ] && [ "$nd" = 4 ] && [ "$nl" = 4 ] && [ "$unnamed" = 0 ] &&
               bundle_check "$b" >"$T/c.out" && "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$b" >"$T/v.out" 2>&1; then
                pass all-source-kinds-one-pack
            else fail all-source-kinds-one-pack "$nd diff_ids, $nl blobs, names of the ID-given image: $unnamed; $(cat "$T/c.out" "$T/v.out" | head -c 300)"; fi
        else fail all-source-kinds-one-pack "$(head -c 300 "$T/k.out")"; fi
    else fail all-source-kinds-one-pack "skopeo: $(head -c 300 "$T/sk.out")"; fi
else skip all-source-kinds-one-pack "docker-registry, skopeo or curl missing"; fi

# ---- --images-from: one reference a line, comments ----------------------------------
cat >"$T/images.txt" <<'EOF'
# images for the site
docker-daemon:sample/app-b:1.0   # the b app

docker-daemon:sample/base:1.0
EOF
b="$O/list.tar"
if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --images-from "$T/images.txt" >"$T/l.out" 2>&1 &&
   [ "$(bundle_image_ids "$b")" = "$(printf '%s\n' "${ID[sample/app-b:1.0]}" "${ID[sample/base:1.0]}" | sort)" ]; then
    pass images-from
else fail images-from "$(head -c 300 "$T/l.out")"; fi

# ---- load it back into docker: same IDs, runs ---------------------------------------
"$DOCKER" rmi -f sample/app-a:1.0 sample/built:1.0 sample/app-b:1.0 sample/base:1.0 >/dev/null 2>&1
"$DOCKER" image prune -af >/dev/null 2>&1
if "$DOCKER" load -i "$B" >"$T/dl.out" 2>&1 &&
   [ "$("$DOCKER" image inspect --format '{{.Id}}' sample/built:1.0)" = "${ID[sample/built:1.0]}" ] &&
   [ "$("$DOCKER" image inspect --format '{{.Id}}' sample/app-a:1.0)" = "${ID[sample/app-a:1.0]}" ]; then
    pass daemon-bundle-loads-back
else fail daemon-bundle-loads-back "$(head -c 300 "$T/dl.out")"; fi
out=$("$DOCKER" run --rm --network none sample/built:1.0 2>&1)
if grep -qxF "built by docker build, offline" <<<"$out"; then pass daemon-bundle-runs
else fail daemon-bundle-runs "$(head -c 200 <<<"$out")"; fi

# ---- errors: named before anything is written ---------------------------------------
E="$T/empty"; mkdir -p "$E"
expect_fail daemon-no-such-image 2 'docker-daemon:sample/nope:9.*(No such image|no such image)' \
    "$AIRPACK" pack -q --unsigned -o "$E/x.tar" docker-daemon:sample/app-a:1.0 docker-daemon:sample/nope:9
if nothing_written "$E"; then pass daemon-no-such-image-nothing-written; else fail daemon-no-such-image-nothing-written "$(ls -A "$E")"; fi
expect_fail daemon-unreachable 2 "$T/no.sock" \
    env DOCKER_HOST="unix://$T/no.sock" "$AIRPACK" pack -q --unsigned -o "$E/x.tar" docker-daemon:sample/app-a:1.0
nothing_written "$E" || fail daemon-unreachable-nothing-written "$(ls -A "$E")"

# ---- a save stream that breaks off half-way is refused ------------------------------
# A proxy in front of the daemon's socket that passes everything through but
# cuts GET /images/get after 200 KiB.
cat >"$T/proxy.py" <<'PYEOF'
import os, socket, sys, threading
listen, upstream, cut = sys.argv[1], sys.argv[2], int(sys.argv[3])
if os.path.exists(listen): os.unlink(listen)
srv = socket.socket(socket.AF_UNIX); srv.bind(listen); srv.listen(8)
def handle(c):
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(65536)
        if not d: c.close(); return
        req += d
    u = socket.socket(socket.AF_UNIX); u.connect(upstream)
    head, rest = req.split(b"\r\n\r\n", 1)
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    u.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + rest)
    limit = cut if b"/images/get" in lines[0] else None
    sent = 0
    while True:
        d = u.recv(65536)
        if not d: break
        if limit is not None and sent + len(d) > limit:
            c.sendall(d[:limit - sent]); break
        c.sendall(d); sent += len(d)
    u.close(); c.shutdown(socket.SHUT_RDWR); c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PYEOF
"$DOCKER" load -i "$B" >/dev/null 2>&1
python3 "$T/proxy.py" "$T/proxy.sock" "${DOCKER_HOST#unix://}" 204800 >"$T/proxy.log" 2>&1 &
PROXY_PID=$!
stop_proxy() { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
add_cleanup stop_proxy
for _ in $(seq 50); do [ -S "$T/proxy.sock" ] && break; sleep 0.1; done
expect_fail daemon-stream-cut-refused 2 'docker-daemon:sample/built:1.0.*broke off' \
    env DOCKER_HOST="unix://$T/proxy.sock" "$AIRPACK" pack -q --unsigned -o "$E/cut.tar" docker-daemon:sample/built:1.0
if nothing_written "$E"; then pass daemon-stream-cut-nothing-written; else fail daemon-stream-cut-nothing-written "$(ls -A "$E")"; fi
exit 0
