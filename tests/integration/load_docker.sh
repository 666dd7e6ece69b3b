#!/bin/bash
# load_docker.sh: `airpack load --into docker-daemon:SOCKET` into a private Docker 20.10 engine.
. "$(dirname "$0")/../lib.sh"
plan 11
skip_unless dockerd jq tar python3

cd "$T"
bash "$TOP/samples/make-samples.sh" "$T/s" >/dev/null 2>&1 || fail_rest "make-samples.sh failed"
"$AIRPACK" keygen -W -p k.pub -s k.key >/dev/null 2>&1 || fail_rest "keygen failed"
"$AIRPACK" pack -q -s k.key -o zstd.tar s/docker24/all.tar || fail_rest "pack (zstd) failed"
"$AIRPACK" pack -q -s k.key -c gzip -o gzip.tar s/docker24/all.tar || fail_rest "pack (gzip) failed"
start_dockerd || fail_rest "dockerd did not start"
SOCK="$T/docker/docker.sock"
D() { "$DOCKER" "$@"; }

# name -> image ID, from the signed index
tar -xOf zstd.tar airpack/bundle.json | jq -r '.images[] | "\(.names[0]) \(.config.digest)"' >ids
[ -s ids ] || fail_rest "no images in the bundle index"

# flips one byte in the middle of the last blob entry of bundle $1 into $2
tamper_last_blob() {
    python3 - "$1" "$2" <<'PY'
import sys, tarfile, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
with tarfile.open(src) as t:
    last = [m for m in t.getmembers() if m.name.startswith("blobs/")][-1]
with open(dst, "r+b") as f:
    f.seek(last.offset_data + last.size // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x40]))
print(last.name)
PY
}

ids_match() {
    while read -r name id; do
        fam=${name#docker.io/}
        got=$(D inspect -f '{{.Id}}' "$fam" 2>/dev/null) || { echo "$fam missing"; return 1; }
        [ "$got" = "$id" ] || { echo "$fam is $got, wanted $id"; return 1; }
    done <ids
}

# 1. a zstd bundle into Docker 20.10 (API 1.41: airpack decompresses the zstd layers)
if "$AIRPACK" load -q -p k.pub --into "docker-daemon:$SOCK" zstd.tar >out 2>err; then
    if why=$(ids_match); then pass "zstd bundle loads with the original image IDs"
    else fail "zstd bundle loads with the original image IDs" "$why"; fi
else fail "zstd bundle loads with the original image IDs" "exit $?: $(head -c 300 err)"; fi
if grep -q " new$" out && ! grep -q "already present" out; then pass "first load reports new images"
else fail "first load reports new images" "$(head -c 300 out)"; fi

out=$(D run --rm --network none sample/app-a:1.0 2>&1)
if echo "$out" | grep -q "Hello from"; then pass "a loaded image runs"
else fail "a loaded image runs" "$(echo "$out" | head -c 300)"; fi

# 2. twice: already present, nothing sent
imgs=$(D images -q --no-trunc | sort)
if "$AIRPACK" load -q -p k.pub --into "docker-daemon:$SOCK" zstd.tar >out2 2>err2 &&
    [ "$(grep -c ' already present$' out2)" -eq "$(wc -l <ids)" ] && [ "$imgs" = "$(D images -q --no-trunc | sort)" ]; then
    pass "loading twice says already present"
else fail "loading twice says already present" "$(head -c 300 out2) $(head -c 300 err2)"; fi

# 3. JSON report
if "$AIRPACK" load -q --json -p k.pub --into "docker-daemon:$SOCK" zstd.tar >j 2>/dev/null &&
    [ "$(jq -r .verdict j)" = loaded ] && [ "$(jq '[.images[] | select(.new == false)] | length' j)" -eq "$(wc -l <ids)" ]; then
    pass "json report"
else fail "json report" "$(head -c 300 j)"; fi

# clean the engine
remove_all() { D rmi -f $(D images -q | sort -u) >/dev/null 2>&1; true; }
remove_all

# 4. a tampered bundle loads nothing: the engine lists only the control image before and after
entry=$(tamper_last_blob zstd.tar bad.tar)
docker_probe && before=$(docker_list) || before="no listing: $(docker_list)"
"$AIRPACK" load -q -p k.pub --into "docker-daemon:$SOCK" bad.tar >out 2>err; rc=$?
after=$(docker_list)
if [ $rc -eq 1 ] && grep -q "$entry" err && grep -q "nothing was loaded" err &&
    [ "$before" = airpack-probe/control:1 ] && [ "$after" = "$before" ]; then
    pass "tampered bundle loads nothing"
else fail "tampered bundle loads nothing" "exit $rc, images before '$before' after '$after': $(head -c 300 err)"; fi

# same through standard input, tampered in the first layer (the engine is mid-upload when it fails)
python3 - zstd.tar bad2.tar <<'PY'
import sys, tarfile, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
with tarfile.open(src) as t:
    first = [m for m in t.getmembers() if m.name.startswith("blobs/")][0]
with open(dst, "r+b") as f:
    f.seek(first.offset_data + first.size - 10)
    b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 1]))
PY
"$AIRPACK" load -q -p k.pub --into "docker-daemon:$SOCK" - <bad2.tar >out 2>err; rc=$?
after=$(docker_list)
if [ $rc -eq 1 ] && grep -q "nothing was loaded" err && [ "$before" = airpack-probe/control:1 ] && [ "$after" = "$before" ]; then pass "tampered bundle through stdin loads nothing"
else fail "tampered bundle through stdin loads nothing" "exit $rc, images after '$after': $(head -c 300 err)"; fi

# 5. a gzip bundle, through standard input
if "$AIRPACK" load -q -p k.pub --into "docker-daemon:$SOCK" - <gzip.tar >out 2>err; then
    if why=$(ids_match); then pass "gzip bundle loads with the original image IDs"
    else fail "gzip bundle loads with the original image IDs" "$why"; fi
else fail "gzip bundle loads with the original image IDs" "exit $?: $(head -c 300 err)"; fi
remove_all

# 6. --image loads only that image
if "$AIRPACK" load -q -p k.pub --image sample/app-b:1.0 --into "docker-daemon:$SOCK" zstd.tar >out 2>err &&
    D inspect sample/app-b:1.0 >/dev/null 2>&1 && ! D inspect sample/app-a:1.0 >/dev/null 2>&1; then
    pass "--image loads only that image"
else fail "--image loads only that image" "$(head -c 300 err)"; fi

# 7. DOCKER_HOST picks the engine when no socket is named
remove_all
if DOCKER_HOST="unix://$SOCK" "$AIRPACK" load -q -p k.pub --into docker-daemon: zstd.tar >out 2>err && ids_match >/dev/null; then
    pass "docker-daemon: uses DOCKER_HOST"
else fail "docker-daemon: uses DOCKER_HOST" "$(head -c 300 err)"; fi

# 8. no engine there: exit 2 with a message
expect_fail "unreachable engine is a target failure" 2 "cannot reach the Docker engine" \
    "$AIRPACK" load -q -p k.pub --into "docker-daemon:$T/nothing.sock" zstd.tar
