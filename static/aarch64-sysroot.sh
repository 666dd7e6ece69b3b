#!/bin/sh
# aarch64-sysroot.sh DIR: what `make static-aarch64` links against: Debian 12's arm64 -dev
# packages (their static archives and headers), unpacked into DIR/usr. apt fetches them
# with a private state and cache under DIR/apt (its own arm64 package lists), so the host
# needs no `dpkg --add-architecture arm64` and none of its installed packages changes.
# The package names are tests/deps.sh's library -dev packages and its STATIC_PKGS.
# The cross compiler and glibc are Debian's gcc-aarch64-linux-gnu and libc6-dev-arm64-cross.
set -eu
dir=$1
top=$(cd "$(dirname "$0")/.." && pwd)
command -v aarch64-linux-gnu-gcc >/dev/null ||
    { echo "aarch64-sysroot: no aarch64-linux-gnu-gcc; 'sudo make deps' installs gcc-aarch64-linux-gnu" >&2; exit 1; }
build=$(sed -n 's/^BUILD_PKGS="\(.*\)"/\1/p' "$top/tests/deps.sh" | tr ' ' '\n' | grep -- '-dev$' | grep -v cmocka)
static=$(sed -n 's/^STATIC_PKGS="\(.*\)"/\1/p' "$top/tests/deps.sh")
[ -n "$build" ] && [ -n "$static" ] || { echo "aarch64-sysroot: no package lists in tests/deps.sh" >&2; exit 1; }
apt="$dir/apt"
rm -rf "$dir.tmp"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dir.tmp"
: >"$apt/status"
o() {
    apt-get -q -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status" \
        -o Dir::Cache="$apt/cache" -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
        -o APT::Sandbox::User=root "$@"
}
o update >"$apt/update.log" 2>&1 || { cat "$apt/update.log" >&2; exit 1; }
# shellcheck disable=SC2086
(cd "$apt/debs" && rm -f ./*.deb && o download $build $static) >"$apt/download.log" 2>&1 ||
    { tail -20 "$apt/download.log" >&2; exit 1; }
for d in "$apt/debs"/*.deb; do dpkg-deb -x "$d" "$dir.tmp"; done
rm -rf "$dir/usr" && mv "$dir.tmp/usr" "$dir/usr" && rm -rf "$dir.tmp"
ls "$dir"/usr/lib/aarch64-linux-gnu/libzstd.a "$dir"/usr/lib/aarch64-linux-gnu/libcurl.a >/dev/null
echo "aarch64-sysroot: $(ls "$apt/debs" | wc -l) arm64 packages in $dir"
