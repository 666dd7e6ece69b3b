#!/bin/sh
# Installs (as root) or lists the Debian packages airpack needs.
#   deps.sh install           install everything missing (root), else say what is missing
#   deps.sh check-or-install  same, but only touch apt when something is missing
set -eu
BUILD_PKGS="gcc make pkg-config libzstd-dev zlib1g-dev libarchive-dev libsodium-dev libjansson-dev libssl-dev libcurl4-openssl-dev libcmocka-dev liblzma-dev libisal-dev"
# make static: the static archives libcurl.a and libarchive.a need, and the headers of the
# libraries Debian ships no static archive of (static/absent_libs.c stands in for them)
STATIC_PKGS="libacl1-dev liblz4-dev libbz2-dev libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev libldap-dev libgnutls28-dev nettle-dev libgmp-dev libtasn1-6-dev libidn2-dev libunistring-dev libbrotli-dev libkrb5-dev libp11-kit-dev"
# make static-aarch64 (and its test under qemu-user); the arm64 -dev packages it links
# against are fetched into a private sysroot by static/aarch64-sysroot.sh, not installed
CROSS_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"
TOOL_PKGS="zstd xz-utils gzip tar jq minisign python3-cryptography skopeo podman uidmap docker.io containerd docker-registry umoci openssl apache2-utils clang libclang-rt-14-dev time libc6-dev iproute2 curl python3 runc util-linux mandoc groff-base man-db"
missing=""
for p in $BUILD_PKGS $STATIC_PKGS $CROSS_PKGS $TOOL_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    [ "${1:-}" = install ] && echo "deps: all Debian packages airpack needs are installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: install them with: sudo apt-get install$missing   (or run 'sudo make deps')" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
