#!/bin/bash
# ship.sh: airpack itself crossing the gap (issue 18).
#   make static: airpack-static has no dynamic dependency, and in a chroot that holds only
#     it, a bundle and a key (no shared library at all) it verifies, refuses a damaged
#     bundle, and loads into oci:, docker-archive: and oci-archive: the same images the
#     dynamic build loads; through a private Docker engine's socket and a loopback
#     registry too (its libcurl is Debian's libcurl.a).
#   --version and --version --json: version, linkage, features, run-time library versions.
#   make install / uninstall with DESTDIR and PREFIX; man -l renders the installed page;
#     mandoc -T lint and groff -ww find nothing; the page's option lists match --help;
#     the installed bash completion completes 'airpack lo' to 'load', and more.
. "$(dirname "$0")/../lib.sh"
plan 55
skip_unless jq minisign make python3 skopeo unshare openssl htpasswd

# ---- make static ----
STATIC="$TOP/airpack-static"
# always from the plain build's objects (a sanitizer build, BUILD=build-asan, cannot link -static)
if make -s -C "$TOP" BUILD=build static >"$T/static.log" 2>&1 && [ -x "$STATIC" ]; then
    pass "make static builds airpack-static"
else
    fail "make static builds airpack-static" "$(tail -c 600 "$T/static.log")"; STATIC=""
fi
# ldd's answer for a dynamic binary first: it must name libraries, or the check proves nothing
if ldd "$AIRPACK" 2>&1 | grep -q 'libzstd'; then pass "ldd lists the dynamic build's libraries"
else fail "ldd lists the dynamic build's libraries" "$(ldd "$AIRPACK" 2>&1 | head -3)"; fi
# every case that needs airpack-static fails, counted, when make static did not build it
no_static() { fail_cases "$1" "$2" "make static did not build airpack-static"; }
if [ -z "$STATIC" ]; then no_static 2 "airpack-static has no dynamic dependency"
else
    out=$(ldd "$STATIC" 2>&1)
    case $out in *"not a dynamic executable"*) pass "ldd: airpack-static is not a dynamic executable" ;;
        *) fail "ldd: airpack-static is not a dynamic executable" "$out" ;; esac
    if readelf -l "$STATIC" | grep -qE 'INTERP|DYNAMIC'; then fail "airpack-static has no INTERP or DYNAMIC segment" "$(readelf -l "$STATIC" | grep -E 'INTERP|DYNAMIC')"
    else pass "airpack-static has no INTERP or DYNAMIC segment"; fi
    echo "airpack-static: $(stat -c %s "$STATIC") bytes"
fi

# ---- --version ----
v=$(sed -n 's/^#define AIRPACK_VERSION "\(.*\)"/\1/p' "$TOP/cli/commands.h")
"$AIRPACK" --version >"$T/v.txt" 2>&1
zstd_run=$(dpkg-query -W -f='${Version}' libzstd1 2>/dev/null | sed 's/^[0-9]*://; s/[+-].*//')
if head -1 "$T/v.txt" | grep -q "^airpack $v (dynamic," && grep -q "^features: .*oci-archive" "$T/v.txt" &&
   grep -qE "^  libzstd +$zstd_run" "$T/v.txt" && grep -qE '^  libcurl +[0-9]' "$T/v.txt"; then
    pass "--version: version, features, libzstd $zstd_run as installed"
else fail "--version: version, features, libzstd $zstd_run as installed" "$(head -c 400 "$T/v.txt")"; fi
if "$AIRPACK" --version --json >"$T/v.json" 2>&1 &&
   jq -e --arg v "$v" --arg z "$zstd_run" '.version == $v and .linkage == "dynamic"
        and (.features | index("docker-archive")) and .libraries.libzstd.version == $z
        and ([.libraries[] | .version | length > 0] | all)
        and (.libraries | has("zlib") and has("libarchive") and has("libsodium") and has("jansson")
             and has("libcrypto") and has("libcurl"))' "$T/v.json" >/dev/null; then
    pass "--version --json"
else fail "--version --json" "$(head -c 400 "$T/v.json")"; fi
expect_fail "--version refuses an unknown option" 2 "only --json" "$AIRPACK" --version --yaml
if [ -z "$STATIC" ]; then no_static 1 "airpack-static --version --json"
else
    if "$STATIC" --version --json >"$T/vs.json" 2>&1 &&
       jq -e '.linkage == "static" and (.features | index("docker")) and (.libraries.libcurl.version | length > 0)' "$T/vs.json" >/dev/null
    then pass "airpack-static --version --json says static"
    else fail "airpack-static --version --json says static" "$(head -c 400 "$T/vs.json")"; fi
fi

# ---- make install / uninstall ----
D="$T/dest"; mkdir -p "$D"
if make -s -C "$TOP" install AIRPACK_BIN="$AIRPACK" DESTDIR="$D" >"$T/inst.log" 2>&1 &&
   [ -x "$D/usr/local/bin/airpack" ] && [ -f "$D/usr/local/share/man/man1/airpack.1" ] &&
   [ -f "$D/usr/local/share/bash-completion/completions/airpack" ]; then
    pass "make install DESTDIR: bin, man1, bash completion under /usr/local"
else fail "make install DESTDIR: bin, man1, bash completion under /usr/local" "$(cat "$T/inst.log"; find "$D" -type f)"; fi
if "$D/usr/local/bin/airpack" --version | grep -q "^airpack $v "; then pass "installed airpack --version"
else fail "installed airpack --version" "$("$D/usr/local/bin/airpack" --version 2>&1 | head -3)"; fi
D2="$T/dest2"
if make -s -C "$TOP" BUILD=build install DESTDIR="$D2" PREFIX=/opt/airpack >"$T/inst2.log" 2>&1 &&
   [ -x "$D2/opt/airpack/bin/airpack" ] && [ -f "$D2/opt/airpack/share/man/man1/airpack.1" ] && [ ! -e "$D2/usr" ]; then
    pass "make install PREFIX=/opt/airpack"
else fail "make install PREFIX=/opt/airpack" "$(cat "$T/inst2.log"; find "$D2" -type f)"; fi
make -s -C "$TOP" uninstall DESTDIR="$D2" PREFIX=/opt/airpack >"$T/uninst.log" 2>&1
left=$(find "$D2" -type f)
if [ -z "$left" ]; then pass "make uninstall removes what install put there"
else fail "make uninstall removes what install put there" "left: $left"; fi

if [ -z "$STATIC" ]; then no_static 3 "install and sign airpack-static"
else
    D3="$T/dest3"
    if make -s -C "$TOP" BUILD=build install DESTDIR="$D3" AIRPACK_BIN=airpack-static >"$T/inst3.log" 2>&1 &&
       "$D3/usr/local/bin/airpack" --version | grep -q "^airpack $v (static,"; then
        pass "make install AIRPACK_BIN=airpack-static installs the static build"
    else fail "make install AIRPACK_BIN=airpack-static installs the static build" "$(head -c 300 "$T/inst3.log")"; fi
    # README "Carrying airpack itself": signed with an airpack key by minisign, checked with minisign -V
    "$AIRPACK" keygen -W -p "$T/ship.pub" -s "$T/ship.key" >/dev/null 2>&1
    cp "$STATIC" "$T/airpack-static"
    if minisign -Sm "$T/airpack-static" -s "$T/ship.key" -t "$("$STATIC" --version | head -1)" >"$T/sign.log" 2>&1 </dev/null &&
       minisign -Vm "$T/airpack-static" -p "$T/ship.pub" >"$T/vfy.log" 2>&1 && grep -q "static, " "$T/vfy.log"; then
        pass "minisign -V checks airpack-static signed with an airpack key"
    else fail "minisign -V checks airpack-static signed with an airpack key" "$(cat "$T/sign.log" "$T/vfy.log" | head -c 300)"; fi
    printf 'x' >>"$T/airpack-static"
    if minisign -Vm "$T/airpack-static" -p "$T/ship.pub" >/dev/null 2>&1; then fail "minisign -V refuses a changed airpack-static"
    else pass "minisign -V refuses a changed airpack-static"; fi
fi

# ---- man page ----
MAN="$D/usr/local/share/man/man1/airpack.1"
if MANWIDTH=80 man -l "$MAN" 2>"$T/man.err" | col -b >"$T/man.txt" && ! grep -q . "$T/man.err" &&
   grep -q '^NAME' "$T/man.txt" && grep -q 'airpack load' "$T/man.txt" && grep -q -- '--into TARGET' "$T/man.txt"; then
    pass "man -l renders the installed page"
else fail "man -l renders the installed page" "$(head -c 300 "$T/man.err")"; fi
if have mandoc; then
    # the probe first: mandoc must report a broken page, or silence proves nothing
    printf '.TH X 1\n.SH NAME\n.BI\n.XX bad\n' >"$T/bad.1"
    if mandoc -T lint "$T/bad.1" >/dev/null 2>&1; then fail "mandoc -T lint reports a broken page"
    else pass "mandoc -T lint reports a broken page"; fi
    if out=$(mandoc -T lint "$MAN" 2>&1) && [ -z "$out" ]; then pass "mandoc -T lint: no message"
    else fail "mandoc -T lint: no message" "$(printf '%s' "$out" | head -5)"; fi
else skip "mandoc -T lint" "mandoc not installed" 2; fi
if out=$(groff -ww -z -man "$MAN" 2>&1) && [ -z "$out" ]; then pass "groff -ww -z: no warning"
else fail "groff -ww -z: no warning" "$(printf '%s' "$out" | head -5)"; fi
# the comparison must notice a difference before its silence counts
sed '/^\.BI \\-\\-into " TARGET"$/,+1d' "$MAN" >"$T/m-into.1"
if out=$(bash "$TOP/tests/tools/man_options.sh" "$AIRPACK" "$T/m-into.1") || ! grep -q 'load: --into' <<<"$out"; then
    fail "man/--help comparison notices a missing option" "$out"
else pass "man/--help comparison notices a missing option"; fi
if out=$(bash "$TOP/tests/tools/man_options.sh" "$AIRPACK" "$MAN" 2>&1); then
    pass "man page options match --help for every command"
else fail "man page options match --help for every command" "$(printf '%s' "$out" | head -8 | tr '\n' ';')"; fi

# ---- bash completion ----
COMP="$D/usr/local/share/bash-completion/completions/airpack"
mkdir -p "$T/cwd" && touch "$T/cwd/site.tar" "$T/cwd/far.pub"
# complete LINE: COMPREPLY, space-separated, for the cursor at the end of LINE
complete_line() {
    (cd "$T/cwd" && PATH="$D/usr/local/bin:$PATH" bash -c '
        . "$1"; line=$2
        COMP_LINE=$line; COMP_POINT=${#line}
        read -ra COMP_WORDS <<<"$line"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        [[ $line == *" " ]] && { COMP_WORDS+=(""); COMP_CWORD=$(( COMP_CWORD + 1 )); }
        _airpack airpack; echo "${COMPREPLY[*]}"' _ "$COMP" "$1")
}
comp_case() { # NAME LINE WANT
    got=$(complete_line "$2")
    if [ "$got" = "$3" ]; then pass "$1"; else fail "$1" "'$2' completed to '$got', wanted '$3'"; fi
}
comp_case "completion: nothing for an unknown prefix" "airpack zz" ""
comp_case "completion: airpack lo -> load" "airpack lo" "load"
comp_case "completion: load --in -> --into" "airpack load --in" "--into"
comp_case "completion: --into oci-a -> oci-archive:" "airpack load --into oci-a" "oci-archive:"
comp_case "completion: pack INPUT docker-d -> docker-daemon:" "airpack pack docker-d" "docker-daemon:"
comp_case "completion: verify s -> site.tar" "airpack verify s" "site.tar"
comp_case "completion: load -p f -> far.pub" "airpack load -p f" "far.pub"
comp_case "completion: --layer-compression g -> gzip" "airpack load --layer-compression g" "gzip"
comp_case "completion: after the colon of docker-archive:" "airpack load --into docker-archive:s" "site.tar"
comp_case "completion: trust r -> rotate revoke (its usage lines)" "airpack trust r" "rotate revoke"

# ---- the static binary where there is no shared library ----
ROOT_CASES=19
if [ -z "$STATIC" ]; then
    no_static $ROOT_CASES "static binary in an empty root"
elif [ "$(id -u)" -ne 0 ] || ! have chroot; then
    skip "static binary in an empty root" "needs root for chroot" $ROOT_CASES
else
    make_samples || fail_rest "make-samples.sh failed"
    make_keys || fail_rest "minisign -G failed"
    R="$T/root"; mkdir -p "$R"
    "$AIRPACK" pack -q -o "$R/bundle.tar" -s "$KEYS/sec" "$S/docker24/all.tar" "oci:$S/oci" >"$T/pack.out" 2>&1 ||
        fail_rest "pack the demo bundle: $(head -c 300 "$T/pack.out")"
    cp "$KEYS/pub" "$R/key.pub"; cp "$STATIC" "$R/airpack"; cp "$AIRPACK" "$R/airpack-dynamic"
    flip_byte "$R/bundle.tar" "$R/damaged.tar" "$(tar -tf "$R/bundle.tar" | grep '^blobs/' | tail -1)"
    so=$(find "$R" -name '*.so*' | head -3)
    if [ -z "$so" ]; then pass "the root holds no shared library"; else fail "the root holds no shared library" "$so"; fi
    # probe: the dynamic build cannot even start there
    chroot "$R" /airpack-dynamic --version >"$T/dyn.out" 2>&1; rc=$?
    if [ $rc -eq 127 ]; then pass "the dynamic build cannot run in the empty root (exit 127)"
    else fail "the dynamic build cannot run in the empty root (exit 127)" "exit $rc: $(head -c 200 "$T/dyn.out")"; fi
    rm "$R/airpack-dynamic"
    ls -A "$R" | tr '\n' ' ' | sed 's/^/root holds: /'; echo
    in_root() { chroot "$R" /airpack "$@" >>"$T/root.out"; }
    check "static: verify in the empty root" in_root verify -q -p /key.pub /bundle.tar
    expect_fail "static: verify refuses a damaged bundle" 1 "damaged.tar" in_root verify -q -p /key.pub /damaged.tar
    chroot "$R" /airpack load -q -p /key.pub --into oci:/bad /damaged.tar >/dev/null 2>"$T/bad.err"; rc=$?
    if [ $rc -eq 1 ] && grep -q damaged.tar "$T/bad.err" && [ ! -e "$R/bad/index.json" ]; then
        pass "static: load of a damaged bundle exits 1 and writes no index.json"
    else fail "static: load of a damaged bundle exits 1 and writes no index.json" "exit $rc: $(head -c 300 "$T/bad.err")"; fi
    check "static: load --into oci: in the empty root" in_root load -q -p /key.pub --into oci:/oci /bundle.tar
    check "static: load --into docker-archive: in the empty root" in_root load -q -p /key.pub --into docker-archive:/docker.tar /bundle.tar
    check "static: load --into oci-archive: in the empty root" in_root load -q -p /key.pub --into oci-archive:/oci.tar /bundle.tar
    # the same loads by the dynamic build, outside: the same bytes
    X="$T/dyn"; mkdir -p "$X"
    "$AIRPACK" load -q -p "$KEYS/pub" --into "oci:$X/oci" "$R/bundle.tar" >"$T/dyn.out" 2>&1 &&
        "$AIRPACK" load -q -p "$KEYS/pub" --into "docker-archive:$X/docker.tar" "$R/bundle.tar" >"$T/dyn.out" 2>&1 &&
        "$AIRPACK" load -q -p "$KEYS/pub" --into "oci-archive:$X/oci.tar" "$R/bundle.tar" >"$T/dyn.out" 2>&1 ||
        { echo "the dynamic build's loads failed:"; cat "$T/dyn.out"; }
    # airpack-state.json (no rollback) records when each load happened: it differs by design
    if [ -f "$R/oci/index.json" ] && diff -r -x airpack-state.json "$R/oci" "$X/oci" >"$T/diff" 2>&1; then pass "static oci: layout = the dynamic build's"
    else fail "static oci: layout = the dynamic build's" "$(head -c 300 "$T/diff")"; fi
    for a in docker.tar oci.tar; do
        if [ -s "$R/$a" ] && cmp "$R/$a" "$X/$a" >"$T/cmp" 2>&1; then pass "static $a = the dynamic build's, byte for byte"
        else fail "static $a = the dynamic build's, byte for byte" "$(cat "$T/cmp")"; fi
    done
    # each layout's own ref.name for localhost/oci:app-c (oci: keeps full names, oci-archive: tags)
    ref_of() { jq -r '.manifests[] | select(.annotations["io.containerd.image.name"] == "localhost/oci:app-c")
                      | .annotations["org.opencontainers.image.ref.name"]' "$1"; }
    if skopeo inspect --raw "oci:$R/oci:$(ref_of "$R/oci/index.json")" >"$T/sk1" 2>"$T/sk.err" &&
       skopeo inspect --raw "oci-archive:$R/oci.tar:$(tar -xOf "$R/oci.tar" index.json | ref_of /dev/stdin)" >"$T/sk2" 2>>"$T/sk.err" &&
       c1=$(jq -r .config.digest "$T/sk1") && [ "$c1" != null ] && [ "$c1" = "$(jq -r .config.digest "$T/sk2")" ]; then
        pass "skopeo reads what the static build loaded (oci:, oci-archive:)"
    else fail "skopeo reads what the static build loaded (oci:, oci-archive:)" "$(head -c 300 "$T/sk.err")"; fi

    # A dense bundle: libzstd.a rebuilds its layers. The rebuild spills next to an oci:DIR
    # target, else to --spill-dir, $TMPDIR or /var/tmp (which the empty root lacks).
    if "$AIRPACK" pack -q --dense -o "$R/dense.tar" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/dpack.out" 2>&1; then
        check "static: dense bundle, verify --deep --spill-dir / in the empty root" in_root verify -q --deep --spill-dir / -p /key.pub /dense.tar
        check "static: dense bundle, load --into oci: in the empty root" in_root load -q -p /key.pub --into oci:/dense-oci /dense.tar
    else fail_cases 2 "static: dense bundle in the empty root" "pack --dense failed: $(head -c 300 "$T/dpack.out")"; fi

    # Network transports from the empty root: libcurl.a over a unix socket and loopback TCP.
    # A registry load spools each blob under $TMPDIR, else /tmp: the root gets a /tmp.
    mkdir -p "$R/tmp"
    if start_registry reg; then
        in_root load -q -p /key.pub --tls-verify=false --into "docker://127.0.0.1:$REG_PORT/s" /bundle.tar >"$T/reg.out" 2>&1
        if curl -fs "http://127.0.0.1:$REG_PORT/v2/s/sample/app-a/tags/list" | grep -q '"1.0"'; then
            pass "static: load --into docker://127.0.0.1 from the empty root"
        else fail "static: load --into docker://127.0.0.1 from the empty root" "$(head -c 300 "$T/reg.out")"; fi
        # a name from /etc/hosts: glibc 2.36's static getaddrinfo reads it without NSS modules
        mkdir -p "$R/etc"; echo "127.0.0.1 far-registry" >"$R/etc/hosts"
        in_root load -q -p /key.pub --tls-verify=false --into "docker://far-registry:$REG_PORT/h" /bundle.tar >"$T/reg2.out" 2>&1
        if curl -fs "http://127.0.0.1:$REG_PORT/v2/h/sample/app-a/tags/list" | grep -q '"1.0"'; then
            pass "static: a registry named in /etc/hosts, from the empty root"
        else fail "static: a registry named in /etc/hosts, from the empty root" "$(head -c 300 "$T/reg2.out")"; fi
        rm -rf "$R/etc"
    else fail_cases 2 "static: loads into a registry" "docker-registry did not start"; fi
    # https with basic auth: libssl.a checks the registry's certificate against a test CA
    # the root holds (SSL_CERT_FILE); without it, the same load must fail on the certificate.
    PKI="$T/pki"; mkdir -p "$PKI"
    if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=airpack test CA" \
            -keyout "$PKI/ca.key" -out "$PKI/ca.crt" >/dev/null 2>&1 &&
       openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$PKI/srv.key" -out "$PKI/srv.csr" >/dev/null 2>&1 &&
       printf 'subjectAltName=IP:127.0.0.1\n' >"$PKI/ext" &&
       openssl x509 -req -in "$PKI/srv.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
            -days 2 -extfile "$PKI/ext" -out "$PKI/srv.crt" >/dev/null 2>&1 &&
       htpasswd -Bbn alice 's3cret' >"$PKI/htpasswd" 2>/dev/null &&
       start_registry treg "  tls:
    certificate: $PKI/srv.crt
    key: $PKI/srv.key
auth:
  htpasswd:
    realm: airpack-test
    path: $PKI/htpasswd"; then
        cp "$PKI/ca.crt" "$R/ca.crt"
        expect_fail "static: https without the CA fails on the certificate" 2 'certificate|SSL|verify' \
            chroot "$R" /airpack load -q -p /key.pub --creds alice:s3cret --into "docker://127.0.0.1:$REG_PORT/tls" /bundle.tar
        SSL_CERT_FILE=/ca.crt chroot "$R" /airpack load -q -p /key.pub --creds alice:s3cret \
            --into "docker://127.0.0.1:$REG_PORT/tls" /bundle.tar >"$T/tls.out" 2>&1
        if curl -fs --cacert "$PKI/ca.crt" -u alice:s3cret "https://127.0.0.1:$REG_PORT/v2/tls/sample/app-a/tags/list" | grep -q '"1.0"'; then
            pass "static: load --into an https registry with basic auth, from the empty root"
        else fail "static: load --into an https registry with basic auth, from the empty root" "$(head -c 300 "$T/tls.out")"; fi
    else fail_cases 2 "static: https registry" "the test CA or the TLS registry could not be set up"; fi

    if need_dockerd 1 "static: load --into docker-daemon: through a socket, from the empty root"; then
        sock=${DOCKER_HOST#unix://}
        unshare -m sh -c 'touch "$1/docker.sock" && mount --bind "$2" "$1/docker.sock" &&
            chroot "$1" /airpack load -q -p /key.pub --into docker-daemon:/docker.sock /bundle.tar' _ "$R" "$sock" >"$T/dd.out" 2>&1
        want=$(image_id sample/app-a:1.0)
        got=$("$DOCKER" image inspect -f '{{.Id}}' sample/app-a:1.0 2>/dev/null)
        if [ -n "$want" ] && [ "$got" = "$want" ]; then pass "static: load --into docker-daemon: through a socket, from the empty root"
        else fail "static: load --into docker-daemon: through a socket, from the empty root" "id '$got', wanted '$want': $(head -c 300 "$T/dd.out")"; fi
    fi
fi

# ---- aarch64: make static-aarch64, run under qemu-user in an empty root ----
# The root holds the arm64 binary, the bundle, the key and qemu-aarch64-static (itself a
# static x86_64 binary): still no shared library.
A64_CASES=5
if ! have aarch64-linux-gnu-gcc || ! have qemu-aarch64-static; then
    skip "static aarch64 build" "aarch64-linux-gnu-gcc or qemu-aarch64-static not installed" $A64_CASES
elif [ "$(id -u)" -ne 0 ] || ! have chroot; then
    skip "static aarch64 build" "needs root for chroot" $A64_CASES
elif ! make -s -C "$TOP" BUILD=build static-aarch64 >"$T/a64.log" 2>&1; then
    fail_cases $A64_CASES "make static-aarch64" "$(tail -c 600 "$T/a64.log")"
else
    A64="$TOP/airpack-static-aarch64"
    info=$(file -b "$A64"; ldd "$A64" 2>&1)
    case $info in *"ARM aarch64"*"statically linked"*"not a dynamic executable"*)
        pass "make static-aarch64: a static ARM aarch64 executable" ;;
        *) fail "make static-aarch64: a static ARM aarch64 executable" "$info" ;; esac
    make_samples || fail_rest "make-samples.sh failed"
    make_keys || fail_rest "minisign -G failed"
    R64="$T/root64"; mkdir -p "$R64"
    cp "$A64" "$R64/airpack"; cp "$(command -v qemu-aarch64-static)" "$R64/qemu"; cp "$KEYS/pub" "$R64/key.pub"
    "$AIRPACK" pack -q -o "$R64/bundle.tar" -s "$KEYS/sec" "$S/docker24/all.tar" "oci:$S/oci" >"$T/pack64.out" 2>&1 ||
        echo "pack for the aarch64 root failed: $(head -c 300 "$T/pack64.out")"
    in_root64() { chroot "$R64" /qemu /airpack "$@" >>"$T/root64.out"; }
    if chroot "$R64" /qemu /airpack --version 2>&1 | head -1 | grep -q "^airpack $v (static, aarch64)"; then
        pass "aarch64: --version under qemu in the empty root"
    else fail "aarch64: --version under qemu in the empty root" "$(chroot "$R64" /qemu /airpack --version 2>&1 | head -c 300)"; fi
    check "aarch64: verify in the empty root" in_root64 verify -q -p /key.pub /bundle.tar
    check "aarch64: load --into oci: in the empty root" in_root64 load -q -p /key.pub --into oci:/oci /bundle.tar
    in_root64 load -q -p /key.pub --into docker-archive:/docker.tar /bundle.tar
    "$AIRPACK" load -q -p "$KEYS/pub" --into "docker-archive:$T/x86.tar" "$R64/bundle.tar" >/dev/null 2>&1
    if [ -s "$R64/docker.tar" ] && cmp "$R64/docker.tar" "$T/x86.tar" >"$T/cmp64" 2>&1; then
        pass "aarch64: load --into docker-archive: writes the x86_64 build's bytes"
    else fail "aarch64: load --into docker-archive: writes the x86_64 build's bytes" "$(cat "$T/cmp64")"; fi
fi
