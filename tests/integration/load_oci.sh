#!/bin/bash
# load_oci.sh: `airpack load --into oci:DIR`, checked with skopeo and umoci.
. "$(dirname "$0")/../lib.sh"
plan 15
skip_unless jq tar python3 skopeo umoci

cd "$T"
bash "$TOP/samples/make-samples.sh" "$T/s" >/dev/null 2>&1 || fail_rest "make-samples.sh failed"
"$AIRPACK" keygen -W -p k.pub -s k.key >/dev/null 2>&1 || fail_rest "keygen failed"
"$AIRPACK" pack -q -s k.key -o tags.tar s/docker24/distinct-tags.tar || fail_rest "pack failed"
"$AIRPACK" pack -q -s k.key -o a.tar s/docker24/app-a.tar || fail_rest "pack failed"
"$AIRPACK" pack -q -s k.key -o b.tar s/docker24/app-b.tar || fail_rest "pack failed"
"$AIRPACK" pack -q -s k.key -o c.tar s/oci || fail_rest "pack (oci input) failed"

# a listing of every file under DIR with its checksum
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
temps() { find "$1" -name '.airpack-tmp-*' | wc -l; }
# flips one byte in the middle of the last blob entry of $1 into $2; prints the entry
tamper_last_blob() {
    python3 - "$1" "$2" <<'PY'
import sys, tarfile, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
with tarfile.open(src) as t:
    last = [m for m in t.getmembers() if m.name.startswith("blobs/")][-1]
with open(dst, "r+b") as f:
    f.seek(last.offset_data + last.size // 2)
    b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 0x40]))
print(last.name)
PY
}

# 1. into a new directory; skopeo sees each image's config under its full name (ref.name), and
#    not under its tag alone (several images may share one)
O="$T/o1"
if "$AIRPACK" load -q -p k.pub --into "oci:$O" tags.tar >out 2>err; then pass "loads into a new oci directory"
else fail "loads into a new oci directory" "$(head -c 300 err)"; fi
tar -xOf tags.tar airpack/bundle.json | jq -r '.images[] | "\(.names[0]) \(.config.digest)"' >ids
ok=1; why=""
while read -r name id; do
    tag=${name##*:}
    got=$(skopeo inspect --raw "oci:$O:$name" 2>&1 | jq -r .config.digest 2>/dev/null)
    [ "$got" = "$id" ] || { ok=0; why="$why $name: got '$got' wanted $id;"; }
    ! skopeo inspect --raw "oci:$O:$tag" >/dev/null 2>&1 || { ok=0; why="$why $tag alone still names an image;"; }
done <ids
[ -s ids ] && [ $ok = 1 ] && pass "skopeo inspect finds each image's config" || fail "skopeo inspect finds each image's config" "$why"
tags=$(umoci ls --layout "$O" 2>&1 | sort | tr '\n' ' ')
want=$(while read -r name _; do echo "$name"; done <ids | sort | tr '\n' ' ')
[ "$tags" = "$want" ] && pass "umoci ls lists the full names" || fail "umoci ls lists the full names" "got '$tags' wanted '$want'"

# 2. twice: already present, nothing changes
snap=$(snapshot "$O")
if "$AIRPACK" load -q -p k.pub --into "oci:$O" tags.tar >out 2>err &&
    [ "$(grep -c ' already present$' out)" -eq "$(wc -l <ids)" ] && [ "$snap" = "$(snapshot "$O")" ]; then
    pass "loading twice says already present and changes nothing"
else fail "loading twice says already present and changes nothing" "$(head -c 300 out)"; fi

# 3. two bundles into one directory keep both
O2="$T/o2"
"$AIRPACK" load -q -p k.pub --into "oci:$O2" a.tar >/dev/null 2>err || fail "two bundles" "first: $(head -c 200 err)"
"$AIRPACK" load -q -p k.pub --into "oci:$O2" b.tar >/dev/null 2>err || fail "two bundles" "second: $(head -c 200 err)"
names=$(jq -r '.manifests[].annotations["io.containerd.image.name"]' "$O2/index.json" | sort | tr '\n' ' ')
case "$names" in
*docker.io/sample/app-a:1.0*docker.io/sample/app-b:1.0*) pass "two bundles into one directory keep both" ;;
*) fail "two bundles into one directory keep both" "index names: $names" ;;
esac

# 4. a flipped byte near the end: exit 1, names the entry, directory unchanged, no temp files
entry=$(tamper_last_blob c.tar bad.tar)
snap=$(snapshot "$O2")
"$AIRPACK" load -q -p k.pub --into "oci:$O2" bad.tar >out 2>err; rc=$?
if [ $rc -eq 1 ] && grep -q "$entry" err && grep -q "nothing was loaded" err &&
    [ "$snap" = "$(snapshot "$O2")" ] && [ "$(temps "$O2")" -eq 0 ]; then
    pass "tampered bundle: exit 1, entry named, directory unchanged"
else fail "tampered bundle: exit 1, entry named, directory unchanged" "exit $rc: $(head -c 300 err)"; fi
"$AIRPACK" load -q -p k.pub --into "oci:$O2" - <bad.tar >out 2>err; rc=$?
if [ $rc -eq 1 ] && grep -q "$entry" err && [ "$snap" = "$(snapshot "$O2")" ] && [ "$(temps "$O2")" -eq 0 ]; then
    pass "tampered bundle through stdin: directory unchanged"
else fail "tampered bundle through stdin: directory unchanged" "exit $rc: $(head -c 300 err)"; fi
"$AIRPACK" load -q -p k.pub --into "oci:$T/never" bad.tar >/dev/null 2>&1
[ ! -e "$T/never" ] && pass "failed load into a new directory leaves no directory" ||
    fail "failed load into a new directory leaves no directory" "$(find "$T/never" | head -5 | tr '\n' ' ')"

# 5. the untampered bundle through stdin, then --image
if "$AIRPACK" load -q -p k.pub --into "oci:$O2" - <c.tar >out 2>err &&
    jq -r '.manifests[].annotations["io.containerd.image.name"]' "$O2/index.json" | grep -q app-c; then
    pass "loads through stdin"
else fail "loads through stdin" "$(head -c 300 err)"; fi
O3="$T/o3"
if "$AIRPACK" load -q -p k.pub --image localhost/oci:app-b --into "oci:$O3" c.tar >out 2>err &&
    [ "$(jq -r '.manifests[].annotations["io.containerd.image.name"]' "$O3/index.json")" = localhost/oci:app-b ] &&
    skopeo inspect --raw "oci:$O3:localhost/oci:app-b" >/dev/null 2>&1 &&
    umoci stat --image "$O3:localhost/oci:app-b" >/dev/null 2>&1; then
    pass "--image loads only that image"
else fail "--image loads only that image" "$(head -c 300 err)"; fi
expect_fail "--image of a name not in the bundle" 2 "no image of that name" \
    "$AIRPACK" load -q -p k.pub --image nope:1 --into "oci:$O3" c.tar

# 6. SIGKILL mid-load, then a new load completes
O4="$T/o4"
size=$(stat -c %s c.tar); half=$((size / 2))
mkfifo slow
( head -c "$half" c.tar; sleep 4; tail -c +"$((half + 1))" c.tar ) >slow &
feeder=$!
"$AIRPACK" load -q -p k.pub --into "oci:$O4" - <slow >/dev/null 2>&1 &
loader=$!
sleep 2
# the kill lands mid-load: the loader still runs (waiting for the second half), dies of
# SIGKILL (status 137), and leaves the temporary files of the blobs it was writing
if kill -0 "$loader" 2>/dev/null; then running=yes; else running=no; fi
kill -9 "$loader" 2>/dev/null; wait "$loader" 2>/dev/null; lrc=$?
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
stale=$(temps "$O4")
if [ "$running" = yes ] && [ "$lrc" -eq 137 ] && [ "$stale" -gt 0 ] &&
    "$AIRPACK" load -q -p k.pub --into "oci:$O4" c.tar >out 2>err && [ "$(temps "$O4")" -eq 0 ] &&
    skopeo inspect --raw "oci:$O4:localhost/oci:app-a" >/dev/null 2>&1 && umoci ls --layout "$O4" >/dev/null 2>&1; then
    pass "after SIGKILL mid-load ($stale temp files left) a new load completes"
else fail "after SIGKILL mid-load a new load completes" "running at the kill: $running, status $lrc, $stale temp files; $(head -c 300 err)"; fi

# 7. a full disk: a clear message and the store as it was
F="$T/full"; mkdir -p "$F"
if mount -t tmpfs -o size=64k tmpfs "$F" 2>/dev/null; then
    umount_full() { umount "$F" 2>/dev/null; }
    add_cleanup umount_full
    snap=$(snapshot "$F")
    "$AIRPACK" load -q -p k.pub --into "oci:$F" c.tar >out 2>err; rc=$?
    if [ $rc -eq 2 ] && grep -q "No space left on device" err && [ "$snap" = "$(snapshot "$F")" ] &&
        [ -z "$(ls -A "$F")" ]; then
        pass "full disk: exit 2, clear message, store unchanged"
    else fail "full disk: exit 2, clear message, store unchanged" "exit $rc: $(head -c 300 err); left: $(ls -A "$F")"; fi
else
    skip "full disk: exit 2, clear message, store unchanged" "cannot mount a tmpfs here (not root?)"
fi

# 8. usage
expect_fail "unknown target is a usage error" 2 "oci:DIR" "$AIRPACK" load -p k.pub --into tarball:x c.tar
expect_fail "missing --into is a usage error" 2 "--into" "$AIRPACK" load -p k.pub c.tar
