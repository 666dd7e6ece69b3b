#!/bin/sh
# tests/fuzz/run.sh SECONDS: builds every tests/fuzz/fuzz_*.c as a libFuzzer
# target (ASan + UBSan) against the library sources, runs each for its share of
# SECONDS (at least 5 s) from a seed corpus made here, and prints one
# "PASS: fuzz_x" or "FAIL: fuzz_x (why)" line per target. Exits 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
TOTAL=${1:-30}
OUT=build-fuzz
CC_FUZZ=${CC_FUZZ:-clang}
PKGS="libzstd zlib libarchive libsodium jansson libcrypto libcurl libisal"
CFLAGS_FUZZ="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64"
LIBS="$(pkg-config --libs $PKGS 2>/dev/null || echo -lzstd -lz -larchive -lsodium -ljansson -lcrypto -lcurl -lisal) -lpthread"
if pkg-config --exists liblzma 2>/dev/null; then
    CFLAGS_FUZZ="$CFLAGS_FUZZ -DAP_HAVE_LZMA"
    LIBS="$LIBS $(pkg-config --libs liblzma)"
fi

command -v "$CC_FUZZ" >/dev/null 2>&1 || { echo "FAIL: fuzz ($CC_FUZZ not installed)"; exit 2; }
targets=$(ls tests/fuzz/fuzz_*.c 2>/dev/null)
[ -n "$targets" ] || { echo "FAIL: fuzz (no tests/fuzz/fuzz_*.c targets)"; exit 2; }
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/log"

# Library objects, built once. -fsanitize=fuzzer-no-link instruments without a main.
OBJS=""
build_failed=0
SRC_DIRS=${SRC_DIRS:-$(sed -n 's/^SRC_DIRS := //p' Makefile)}
for src in $(for d in $SRC_DIRS; do echo "$d"/*.c; done); do
    [ -f "$src" ] || continue
    obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find $SRC_DIRS -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
        if ! $CC_FUZZ $(echo "$CFLAGS_FUZZ" | sed 's/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,/') \
                -c -o "$obj" "$src" 2>"$OUT/log/build-$(basename "$src").log"; then
            echo "FAIL: build $src ($(head -c 300 "$OUT/log/build-$(basename "$src").log"))"
            build_failed=1
            continue
        fi
    fi
    OBJS="$OBJS $obj"
done

# Seed inputs made now, from the real tools: small tars and compressed streams.
seed_dir=$(mktemp -d "${TMPDIR:-/tmp}/airpack-fuzz-seed.XXXXXX")
trap 'rm -rf "$seed_dir"' EXIT
(
    cd "$seed_dir" || exit 1
    mkdir -p src/dir && printf 'hello\n' >src/a.txt && printf '{"a":1}\n' >src/dir/b.json
    long=src/$(printf 'x%.0s' $(seq 1 120))
    printf long >"$long"
    ln -s a.txt src/link
    tar --format=posix -cf posix.tar -C src . 2>/dev/null
    tar --format=ustar -cf ustar.tar -C src a.txt dir/b.json 2>/dev/null
    tar --format=gnu -cf gnu.tar -C src . 2>/dev/null
    head -c 3000 ustar.tar >cut.tar
    gzip -c ustar.tar >t.gz
    { command -v zstd >/dev/null && zstd -q -c ustar.tar >t.zst; } || true
    { command -v xz >/dev/null && xz -c ustar.tar >t.xz; } || true
) >/dev/null 2>&1

seed() { # target: fills $OUT/corpus/<target> if it is empty
    dir="$OUT/corpus/$1"
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
    case $1 in
    fuzz_dense)
        for f in "$seed_dir"/*.tar; do
            [ -f "$f" ] && { printf '\200'; cat "$f"; } >"$dir/chunk-$(basename "$f")"
        done
        printf '\100' >"$dir/edit-none"
        printf '\000APDENSE1' >"$dir/raw-magic" ;;
    fuzz_codec)
        i=0
        for f in "$seed_dir"/t.gz "$seed_dir"/t.zst "$seed_dir"/t.xz "$seed_dir"/ustar.tar; do
            [ -f "$f" ] || continue
            for m in 0 1 2 3 4 5 8 13; do
                { printf "\\$(printf %03o $m)"; cat "$f"; } >"$dir/seed$i-$m"
            done
            i=$((i + 1))
        done ;;
    fuzz_parts)
        printf '\200' >"$dir/edit-v1"
        printf '\201' >"$dir/edit-parity"
        printf '\201\001\020\060' >"$dir/edit-parity-1"
        head -c 700 /dev/urandom | { printf '\300\100\002\001\007'; cat; } >"$dir/heal-delete"
        head -c 600 /dev/urandom | { printf '\300\121\004\003\011'; cat; } >"$dir/heal-cut-hashed"
        for f in "$seed_dir"/*.tar; do [ -f "$f" ] && { printf '\300\100\100\000'; head -c 2000 "$f"; } >"$dir/reader-$(basename "$f")"; done ;;
    fuzz_have_list)
        d="sha256:$(printf 'a%.0s' $(seq 64))"
        printf '\000{"airpack_have":1,"kind":"oci","target":"oci:/x","created":"x","layers":[{"digest":"%s","size":1,"media_type":"application/vnd.oci.image.layer.v1.tar+gzip","diff_id":"%s","repository":"r/a"}]}' "$d" "$d" >"$dir/oci"
        printf '\000{"airpack_have":1,"kind":"docker","target":"d","created":"x","layers":[],"chains":[["%s","%s"]]}' "$d" "$d" >"$dir/docker"
        printf '\201\000\001x' >"$dir/edit"
        printf '\000{"airpack_have":1,"kind":"oci","target":"o","created":"x","layers":[],"loaded":[{"key":"0123456789ABCDEF","channel":"default","sequence":5}]}' >"$dir/loaded" ;;
    fuzz_load_state)
        printf '\000{"airpack_state":1,"target":"containerd:","streams":[{"key":"0123456789ABCDEF","channel":"apps","sequence":7,"created":"2026-11-30T00:53:20Z","loaded":"2026-12-02T17:37:48Z"}]}' >"$dir/state"
        printf '\000{"airpack_state":1,"streams":[]}' >"$dir/empty"
        printf '\200\000\020Z' >"$dir/edit" ;;
    fuzz_statement)
        printf '\000{"airpack_statement":1,"type":"revocation","created":"2026-12-02T17:45:39Z","key":"93149FD187DEB494","reason":"r"}\n' >"$dir/revocation"
        printf '\000{"airpack_statement":1,"type":"succession","created":"2026-12-02T17:45:39Z","key":"93149FD187DEB494","successor":"RWTrLec/7Z6A1TKb4ynPte8EeVJAj3e6SdFGBQ0JpdPotLlYzzgafkdb"}\n' >"$dir/succession"
        printf '\201\000\060A' >"$dir/edit" ;;
    *)
        for f in "$seed_dir"/*.tar; do [ -f "$f" ] && cp "$f" "$dir/"; done
        for f in "$seed_dir"/t.*; do [ -f "$f" ] && cp "$f" "$dir/"; done ;;
    esac
    printf 'x' >"$dir/tiny"
}

n=$(echo "$targets" | wc -w)
each=$((TOTAL / n))
[ "$each" -lt 5 ] && each=5
failed=$build_failed
for src in $targets; do
    name=$(basename "$src" .c)
    bin="$OUT/$name"
    log="$OUT/log/$name.log"
    if ! $CC_FUZZ $CFLAGS_FUZZ -o "$bin" "$src" $OBJS $LIBS >"$log" 2>&1; then
        echo "FAIL: $name (does not build: $(grep -m1 -E 'error|undefined' "$log" | head -c 300))"
        failed=1
        continue
    fi
    seed "$name"
    mkdir -p "$OUT/crashes/$name"
    "$bin" -max_total_time="$each" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/crashes/$name/" -print_final_stats=1 \
        "$OUT/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        echo "PASS: $name (${runs:-?} runs in ${each}s)"
    else
        why=$(grep -m1 -E 'ERROR: |runtime error|deadly signal|Test unit written' "$log" | head -c 300)
        echo "FAIL: $name (exit $rc: ${why:-see $log}; artifacts in $OUT/crashes/$name)"
        failed=1
    fi
done
exit $failed
