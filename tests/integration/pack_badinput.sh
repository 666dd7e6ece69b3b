#!/bin/bash
# pack_badinput: broken inputs and a full disk. Each case: a non-zero exit status,
# a message naming the problem, and nothing left in the output directory (neither
# the bundle nor a temporary file).
. "$(dirname "$0")/../lib.sh"
plan 17
skip_unless jq minisign
make_samples || exit 1
make_keys || exit 1

# bad NAME WANT-STATUS PATTERN INPUT...: packs into a fresh, empty directory
bad() {
    local n=$1 want=$2 pat=$3 d="$T/o-$1" rc left why; shift 3
    mkdir -p "$d"
    "$AIRPACK" pack -q -o "$d/bundle.tar" -s "$KEYS/sec" "$@" >"$T/stdout" 2>"$T/err"; rc=$?
    left=$(ls -A "$d" | tr '\n' ' ')
    if why=$(san_trouble "$rc" "$T/err"); then fail "$n" "$why"; : >"$T/err"
    elif [ "$rc" -eq 0 ]; then fail "$n" "exit 0 for a bad input"
    elif [ "$rc" -ne "$want" ]; then fail "$n" "exit $rc, wanted $want: $(head -c 300 "$T/err")"
    elif ! grep -qE -- "$pat" "$T/err"; then fail "$n" "message did not match /$pat/: $(head -c 300 "$T/err")"
    elif [ -n "$left" ]; then fail "$n" "left in the output directory: $left"
    else pass "$n"; fi
}

bad truncated 1 'truncated\.tar' "$S/bad/truncated.tar"
bad truncated-names-problem 1 'truncat|unexpected end|short|incomplete|EOF' "$S/bad/truncated.tar"
head -c 300000 "$S/docker24/all.tar.zst" >"$T/cut.tar.zst"
bad truncated-zstd 1 'cut\.tar\.zst' "$T/cut.tar.zst"
bad layer-diffid-docker 1 'diff_?id|does not match|mismatch' "$S/bad/diffid.tar"
bad layer-diffid-oci 1 'diff_?id|does not match|mismatch' "$S/bad/oci-diffid.tar"
bad blob-digest-oci 1 'digest|does not match|mismatch' "$S/bad/oci-blob.tar"
bad not-an-image 1 'not-image\.tar' "$S/bad/not-image.tar"
bad not-an-image-says-why 1 'manifest|index|not .*image|no image' "$S/bad/not-image.tar"
bad not-a-tar 1 'not-a-tar' "$S/bad/not-a-tar"
bad missing-file 2 'nope\.tar' "$T/nope.tar"
bad missing-oci-dir 2 'nodir' "oci:$T/nodir"
bad bad-then-good 1 'not-image\.tar' "$S/docker24/app-a.tar" "$S/bad/not-image.tar"
# -o into a directory that does not exist
expect_fail output-dir-missing 2 'nodir/bundle' "$AIRPACK" pack -q -o "$T/nodir/bundle.tar" -s "$KEYS/sec" "$S/docker24/app-a.tar"
# a secret key that is not one
printf 'not a key\n' >"$T/badkey"
mkdir -p "$T/o-badkey"
expect_fail bad-secret-key 2 'badkey' "$AIRPACK" pack -q -o "$T/o-badkey/b.tar" -s "$T/badkey" "$S/docker24/app-a.tar"
[ -z "$(ls -A "$T/o-badkey")" ] || fail bad-secret-key-no-output "left: $(ls -A "$T/o-badkey")"

# ---- interrupted: SIGINT and SIGTERM during a long pack leave nothing behind ----------
# One image with a 160 MiB layer of random bytes, compressed slowly (gzip -9, one thread).
big_archive() {
    local d="$T/big" l="$T/big/layer" did cfg
    mkdir -p "$l/data" "$d/img"
    head -c $((160 << 20)) /dev/urandom >"$l/data/random.bin"
    tar -C "$l" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$d/img/layer.tar" data
    did=$(sha256sum <"$d/img/layer.tar" | cut -d' ' -f1)
    printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$did" >"$d/config.json"
    cfg=$(sha256sum <"$d/config.json" | cut -d' ' -f1)
    mv "$d/config.json" "$d/img/$cfg.json"
    printf '[{"Config":"%s.json","RepoTags":["sample/big:1.0"],"Layers":["layer.tar"]}]' "$cfg" >"$d/img/manifest.json"
    tar -C "$d/img" -cf "$T/big.tar" . && rm -rf "$d"
}
if big_archive; then
    for sig in INT TERM; do
        d="$T/o-sig$sig"; mkdir -p "$d"
        "$AIRPACK" pack -q -o "$d/bundle.tar" -s "$KEYS/sec" --compression gzip --level 9 -j 1 "$T/big.tar" >"$T/stdout" 2>"$T/err" &
        pid=$!
        sleep 1.5
        during=$(ls -A "$d" | tr '\n' ' ')
        kill -"$sig" "$pid" 2>/dev/null
        wait "$pid"; rc=$?
        left=$(ls -A "$d" | tr '\n' ' ')
        if [ "$rc" -eq 0 ]; then fail "interrupted-$sig" "pack finished before the signal (exit 0); make the input bigger"
        elif [ -z "$during" ]; then fail "interrupted-$sig" "no temporary file in the output directory while packing (exit $rc)"
        elif [ -n "$left" ]; then fail "interrupted-$sig" "exit $rc; left in the output directory: $left"
        else pass "interrupted-$sig"; fi
    done
    rm -f "$T/big.tar"
else fail interrupted "could not write the big input"; fi

# ---- a full disk: a 256 KiB tmpfs cannot hold a bundle of about 700 KiB ----------
FULL="$T/full"; mkdir -p "$FULL"
if mount -t tmpfs -o size=256k tmpfs "$FULL" 2>"$T/mount.err"; then
    unmount_full() { umount "$FULL" 2>/dev/null || umount -l "$FULL" 2>/dev/null; }
    add_cleanup unmount_full
    "$AIRPACK" pack -q -o "$FULL/bundle.tar" -s "$KEYS/sec" --compression none "$S/docker24/all.tar" >"$T/stdout" 2>"$T/err"; rc=$?
    left=$(ls -A "$FULL" | tr '\n' ' ')
    if [ "$rc" -ne 2 ]; then fail disk-full "exit $rc, wanted 2: $(head -c 300 "$T/err")"
    elif ! grep -qiE 'space|ENOSPC|disk|full' "$T/err"; then fail disk-full "message does not say the disk is full: $(head -c 300 "$T/err")"
    elif [ -n "$left" ]; then fail disk-full "left on the full disk: $left"
    else pass disk-full; fi
    [ "$(df --output=used -k "$FULL" | tail -1 | tr -d ' ')" -le 8 ] || fail disk-full-space-freed "$(df -k "$FULL" | tail -1)"
else
    skip disk-full "cannot mount a tmpfs here: $(head -c 200 "$T/mount.err")"
fi
exit 0
