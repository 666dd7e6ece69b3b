# tests/lib.sh: sourced by the integration scripts.
# A script first declares how many cases it runs: `plan N` (tests/run.sh fails a script
# whose PASS/FAIL/SKIP lines do not add up to N: a crash, an early exit, an unset variable).
# Each case prints one line: `pass NAME`, `fail NAME why`, or `skip NAME reason` (a tool is
# not installed; under CI=true run.sh counts every skip as a failure). A tool that is
# installed but does not start is a failure, not a skip. A section of N cases that cannot
# run says so in one line: `skip NAME reason N` or `fail_cases N NAME why`.
# Helpers start real servers on private sockets and loopback ports and stop them by their
# own process ids.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIRPACK=${AIRPACK:-$TOP/build/airpack}
T=$(mktemp -d "${TMPDIR:-/tmp}/airpack-test.XXXXXX")
CLEANUPS=""
# loads record the sequences they loaded (no rollback) here, not in /var/lib/airpack
export AIRPACK_STATE_DIR="$T/airpack-state"
on_exit() {
    local f
    # a sanitizer report that a case wrote to a file of its own and nobody looked at
    for f in $(find "$T" -type f -size -4M ! -name ef.err ! -name ck.err ! -name ok.err 2>/dev/null | xargs -r grep -lsIE -- "$SAN_PAT" 2>/dev/null); do
        echo "FAIL: sanitizer-report (${f#"$T"/}: $(grep -m1 -E -- "$SAN_PAT" "$f" | head -c 200))"
    done
    for c in $CLEANUPS; do "$c" || true; done
    rm -rf "$T" 2>/dev/null || { chmod -R u+w "$T" 2>/dev/null; rm -rf "$T" 2>/dev/null; } || true
}
trap on_exit EXIT
add_cleanup() { CLEANUPS="$1 $CLEANUPS"; }

# ---- cases -------------------------------------------------------------------------
PLANNED=""; CASES=0
plan() { PLANNED=$1; echo "PLAN: $1"; }
pass() { CASES=$((CASES + 1)); echo "PASS: $1"; }
fail() { CASES=$((CASES + 1)); echo "FAIL: $1${2:+ ($2)}"; }
# skip NAME REASON [N]: N cases (default 1) not run because a tool is missing
skip() {
    local n=${3:-1}
    CASES=$((CASES + n))
    if [ "$n" -eq 1 ]; then echo "SKIP: $1: $2"; else echo "SKIP: $1: $2 [$n cases]"; fi
}
# fail_cases N NAME WHY: a section of N cases that could not run (a tool that does not start)
fail_cases() { CASES=$((CASES + $1)); echo "FAIL: $2 ($3) [$1 cases]"; }
# skip_rest REASON: skips the cases of the plan not yet run and ends the script
skip_rest() { skip "${0##*/}" "$1" $(( ${PLANNED:-0} - CASES > 0 ? ${PLANNED:-0} - CASES : 1 )); exit 0; }
# fail_rest WHY: the cases of the plan not yet run fail (setup broke) and the script ends
fail_rest() { fail_cases $(( ${PLANNED:-0} - CASES > 0 ? ${PLANNED:-0} - CASES : 1 )) "${0##*/}" "$1"; exit 0; }

# ---- sanitizers ----------------------------------------------------------------------
# make asan/tsan make a sanitizer exit with a status of its own (86 for ASan, LSan and
# UBSan, 66 for TSan); a report in a case's stderr fails the case whatever the status.
SAN_PAT='(ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|SUMMARY: (Address|Leak|Thread|UndefinedBehavior|Memory)Sanitizer|: runtime error: '
SAN_STATUS="86 66"
# san_trouble STATUS ERRFILE: prints what a sanitizer said (and returns 0) when it did
san_trouble() {
    case " $SAN_STATUS " in *" $1 "*) echo "exit $1, a sanitizer's status: $(grep -m1 -E -- "$SAN_PAT" "$2" 2>/dev/null | head -c 200)"; return 0 ;; esac
    grep -qE -- "$SAN_PAT" "$2" 2>/dev/null || return 1
    echo "sanitizer report: $(grep -m1 -E -- "$SAN_PAT" "$2" | head -c 200)"
}
# check NAME command...: passes when the command exits 0 with no sanitizer report
check() {
    local n=$1 rc why; shift
    "$@" 2>"$T/ck.err"; rc=$?
    cat "$T/ck.err" >&2
    if why=$(san_trouble "$rc" "$T/ck.err"); then fail "$n" "$why: $*"
    elif [ "$rc" -eq 0 ]; then pass "$n"
    else fail "$n" "command failed (exit $rc): $*"; fi
}
# expect_fail NAME STATUS PATTERN command...: the command must exit STATUS (exactly one:
# 1 verification failed, 2 could not run) with PATTERN on stderr and no sanitizer report
expect_fail() {
    local n=$1 want=$2 pat=$3 rc why; shift 3
    case $want in ''|*[!0-9]*) fail "$n" "expect_fail takes one exit status, not '$want'"; return ;; esac
    "$@" >"$T/ef.out" 2>"$T/ef.err"; rc=$?
    if why=$(san_trouble "$rc" "$T/ef.err"); then fail "$n" "$why"
    elif [ "$rc" -ne "$want" ]; then fail "$n" "exit $rc, wanted $want: $(head -c 300 "$T/ef.err")"
    elif ! grep -qE -- "$pat" "$T/ef.err"; then fail "$n" "message did not match /$pat/: $(head -c 300 "$T/ef.err")"
    else pass "$n"; fi
}
# expect_ok NAME PATTERN command...: the command must exit 0 with PATTERN on stdout and no
# sanitizer report on stderr
expect_ok() {
    local n=$1 pat=$2 rc why; shift 2
    "$@" >"$T/ok.out" 2>"$T/ok.err"; rc=$?
    if why=$(san_trouble "$rc" "$T/ok.err"); then fail "$n" "$why"
    elif [ "$rc" -ne 0 ]; then fail "$n" "exit $rc: $(head -c 300 "$T/ok.err")"
    elif ! grep -qE -- "$pat" "$T/ok.out"; then fail "$n" "output did not match /$pat/: $(head -c 300 "$T/ok.out")"
    else pass "$n"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }
skip_unless() { # skip_unless TOOL... : skips the rest of the plan and ends the script when a tool is missing
    for t in "$@"; do have "$t" || skip_rest "$t not installed"; done
}

# A private Docker engine (vfs) for this script. Sets DOCKER_HOST and DOCKER (the client).
DOCKER=/usr/bin/docker
start_dockerd() {
    D="$T/docker"; mkdir -p "$D"
    dockerd --data-root "$D/root" --exec-root "$D/exec" --storage-driver vfs \
        --iptables=false --ip6tables=false --bridge=none \
        -H "unix://$D/docker.sock" --pidfile "$D/pid" >"$D/log" 2>&1 &
    DOCKERD_PID=$!
    add_cleanup stop_dockerd
    export DOCKER_HOST="unix://$D/docker.sock"
    i=0
    until "$DOCKER" version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 150 ] || ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            echo "dockerd did not start:"; tail -20 "$D/log"; return 1
        fi
        sleep 0.2
    done
}
# need_dockerd N NAME: starts the private engine for a section of N cases. When dockerd is
# not installed the N cases are skipped; when it is installed but does not start they fail
# (everywhere). Returns 1 in both cases.
need_dockerd() {
    if ! have dockerd || [ ! -x "$DOCKER" ]; then skip "$2" "dockerd or $DOCKER not installed" "$1"; return 1; fi
    start_dockerd >"$T/dockerd-start.out" 2>&1 ||
        { fail_cases "$1" "$2" "dockerd is installed but did not start: $(tail -3 "$T/dockerd-start.out" | tr '\n' ' ' | head -c 300)"; return 1; }
}
# The positive control of every "nothing was loaded into the engine" check: docker_probe
# imports a one-file image, airpack-probe/control:1; docker_list prints the engine's images
# (REPO:TAG, sorted) and fails when docker cannot list them or the control is not among them,
# so an empty answer from a broken client never passes for "nothing loaded".
docker_probe() {
    mkdir -p "$T/probe" && echo control >"$T/probe/control.txt" &&
        tar -C "$T/probe" -cf "$T/probe.tar" control.txt &&
        "$DOCKER" import "$T/probe.tar" airpack-probe/control:1 >/dev/null
}
docker_list() {
    local l
    l=$("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' 2>&1) || { echo "docker images failed: $l"; return 1; }
    grep -qx 'airpack-probe/control:1' <<<"$l" || { echo "the control image is not listed: $l"; return 1; }
    sort <<<"$l"
}
stop_dockerd() {
    [ -n "${DOCKERD_PID:-}" ] || return 0
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=""
}

# A private containerd for this script: root, state and socket ($C/c.sock) under $T/ctrd,
# no CRI plugin, stopped with the script by its own pid. Sets C and CTRD_PID; returns 1 when
# it does not answer within 15 s (its log is $C/log).
CTRD_PID=""
stop_containerd() {
    [ -n "${CTRD_PID:-}" ] || return 0
    kill "$CTRD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$CTRD_PID" 2>/dev/null
    CTRD_PID=""
}
start_containerd() {
    C="$T/ctrd"; mkdir -p "$C"
    cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/c.sock"
[ttrpc]
  address = "$C/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
    containerd --config "$C/config.toml" >"$C/log" 2>&1 &
    CTRD_PID=$!
    add_cleanup stop_containerd
    for _ in $(seq 75); do ctr -a "$C/c.sock" version >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

# two_platform_layout SRC DEST: copies the OCI layout SRC (the samples' oci/) to DEST and names
# one image "multi" there: an index of app-a (linux/amd64) and an arm64/v8 twin whose config is
# app-a's with the platform edited. Sets MA=DEST, mdig and cdig (app-a's manifest and config),
# ARM_ID (the twin's config digest) and idig (the index, also in $T/idx); blob DIGEST and
# put_blob FILE work in MA.
blob() { echo "$MA/blobs/sha256/${1#sha256:}"; }
put_blob() { local h; h=$(sha256sum <"$1" | cut -d' ' -f1); cp "$1" "$MA/blobs/sha256/$h"; echo "sha256:$h"; }
two_platform_layout() {
    local armm
    MA=$2; cp -r "$1" "$MA"; chmod -R u+w "$MA"
    mdig=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "app-a") | .digest' "$MA/index.json")
    cdig=$(jq -r .config.digest "$(blob "$mdig")")
    jq -c '.architecture = "arm64" | .variant = "v8"' "$(blob "$cdig")" >"$T/cfg-arm"
    ARM_ID=$(put_blob "$T/cfg-arm")
    jq -c --arg d "$ARM_ID" --argjson s "$(stat -c %s "$T/cfg-arm")" '.config.digest = $d | .config.size = $s' "$(blob "$mdig")" >"$T/man-arm"
    armm=$(put_blob "$T/man-arm")
    jq -nc --arg a "$mdig" --argjson asz "$(stat -c %s "$(blob "$mdig")")" --arg b "$armm" --argjson bs "$(stat -c %s "$T/man-arm")" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
          {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz, platform: {architecture: "amd64", os: "linux"}},
          {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bs, platform: {architecture: "arm64", os: "linux", variant: "v8"}}]}' >"$T/idx"
    idig=$(put_blob "$T/idx")
    jq -nc --arg d "$idig" --argjson s "$(stat -c %s "$T/idx")" \
        '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
          annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' >"$MA/index.json"
}

# A free TCP port on 127.0.0.1: a random one in 20000-59999 that nothing listens on.
free_port() {
    local p i
    for i in $(seq 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# CNCF registries (docker-registry) on loopback, stopped with this script.
# start_registry NAME [EXTRA-YAML]: filesystem storage under $T/NAME/data, log in
# $T/NAME.log, on a free port it sets in REG_PORT. Waits up to 30 s for /v2/ (a loaded
# machine, as in the sanitizer run, can be slow); when the registry dies first (its port
# taken after free_port looked), tries once more on another port. On failure it prints
# the end of the log and returns 1. Other helper servers may add their pids to REG_PIDS.
REG_PIDS=""
stop_registries() { for p in $REG_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; REG_PIDS=""; }
add_cleanup stop_registries
start_registry() {
    local name=$1 extra=${2:-} scheme=http pid try
    case $extra in *tls:*) scheme=https ;; esac
    mkdir -p "$T/$name"
    for try in 1 2; do
        REG_PORT=$(free_port) || return 1
        cat >"$T/$name.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $T/$name/data
http:
  addr: 127.0.0.1:$REG_PORT
  secret: airpack-test-secret
$extra
EOF
        docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
        pid=$!
        REG_PIDS="$REG_PIDS $pid"
        for _ in $(seq 300); do
            curl -ks -o /dev/null "$scheme://127.0.0.1:$REG_PORT/v2/" && return 0
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && break   # running but not answering: no retry
    done
    echo "docker-registry $name (port $REG_PORT) did not start:"; tail -20 "$T/$name.log"
    return 1
}

# ---- samples, keys and an independent bundle checker (shared by the pack tests) ----

# make_samples: writes the sample images into $S ($T/samples), once per script.
make_samples() {
    S="$T/samples"
    [ -f "$S/IDS" ] && return 0
    bash "$TOP/samples/make-samples.sh" "$S" >"$T/make-samples.log" 2>&1 || {
        echo "make-samples.sh failed:"; tail -20 "$T/make-samples.log"; return 1; }
}
# image_id NAME: the sample image's ID (config digest) from $S/IDS, e.g. image_id sample/app-a:1.0
image_id() { awk -v n="$1" '$1 == n { print $2 }' "$S/IDS"; }
# diff_ids NAME: the sample image's diff_ids, one a line
diff_ids() { awk -v n="$1" '$1 == n { print $3 }' "$S/IDS" | tr , '\n'; }

# tiny_image OUT NAME: a docker-archive (docker save's layout) of one small layer, made with
# tar alone (no engine, no samples); prints its image ID (config digest)
tiny_image() {
    local out=$1 name=$2 w diff cfg
    w=$(mktemp -d "$T/tiny.XXXXXX")
    mkdir -p "$w/root/etc" "$w/arch/layer"
    echo "tiny image $name" >"$w/root/etc/tiny.txt"
    tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$w/arch/layer/layer.tar" -C "$w/root" etc || return 1
    diff=$(sha256sum <"$w/arch/layer/layer.tar" | cut -d' ' -f1)
    printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$w/cfg"
    cfg=$(sha256sum <"$w/cfg" | cut -d' ' -f1)
    mv "$w/cfg" "$w/arch/$cfg.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]' "$cfg" "$name" >"$w/arch/manifest.json"
    tar --format=ustar -cf "$out" -C "$w/arch" manifest.json "$cfg.json" layer/layer.tar || return 1
    rm -rf "$w"
    echo "sha256:$cfg"
}

# make_keys: an unencrypted minisign key pair $KEYS/pub, $KEYS/sec (made by minisign
# itself, so the pack tests do not depend on `airpack keygen`).
make_keys() {
    KEYS="$T/keys"; mkdir -p "$KEYS"
    [ -f "$KEYS/sec" ] && return 0
    minisign -G -W -f -p "$KEYS/pub" -s "$KEYS/sec" >/dev/null 2>&1 || {
        echo "minisign -G failed"; return 1; }
}

# index_json BUNDLE: prints the bundle's airpack/bundle.json
index_json() { tar -xOf "$1" airpack/bundle.json; }
# flip_byte SRC DST MEMBER [DIVISOR]: DST is SRC with one bit flipped in the tar member
# MEMBER, 1/DIVISOR (default 2) of the way into its data
flip_byte() {
    python3 - "$@" <<'PY'
import sys, tarfile, shutil
src, dst, name = sys.argv[1:4]
div = int(sys.argv[4]) if len(sys.argv) > 4 else 2
shutil.copyfile(src, dst)
with tarfile.open(src) as t:
    m = t.getmember(name)
with open(dst, "r+b") as f:
    f.seek(m.offset_data + m.size // div)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x10]))
PY
}
# bundle_image_ids BUNDLE: the image IDs (config digests) in the bundle's index, sorted
bundle_image_ids() { index_json "$1" | jq -r '.images[].config.digest' | sort; }

# bundle_check BUNDLE: checks a bundle against formats/BUNDLE-FORMAT.md with tar,
# sha256sum, jq and the decompressors only. Prints what is wrong and returns 1.
bundle_check() {
    local b=$1 x r line
    x=$(mktemp -d "$T/check.XXXXXX"); r="$x/root"; mkdir -p "$r"
    tar -tvf "$b" >"$x/list" 2>"$x/err" || { echo "tar cannot list it: $(head -c 200 "$x/err")"; return 1; }
    tar -tf "$b" >"$x/names"
    line=$(grep -v '^-' "$x/list" | head -1)
    [ -z "$line" ] || { echo "not a regular file: $line"; return 1; }
    line=$(sort "$x/names" | uniq -d | head -1)
    [ -z "$line" ] || { echo "path twice: $line"; return 1; }
    line=$(grep -E '^/|(^|/)\.\.(/|$)' "$x/names" | head -1)
    [ -z "$line" ] || { echo "unsafe path: $line"; return 1; }
    [ "$(sed -n 1p "$x/names")" = airpack/bundle.json ] || { echo "entry 1 is $(sed -n 1p "$x/names")"; return 1; }
    [ "$(sed -n 2p "$x/names")" = airpack/bundle.json.minisig ] || { echo "entry 2 is $(sed -n 2p "$x/names")"; return 1; }
    [ "$(tail -1 "$x/names")" = manifest.json ] || { echo "last entry is $(tail -1 "$x/names")"; return 1; }
    awk '$1 != "-rw-r--r--" || $2 != "0/0"' "$x/list" | grep -q . && { echo "mode/owner: $(awk '$1 != "-rw-r--r--" || $2 != "0/0"' "$x/list" | head -1)"; return 1; }
    tar -xf "$b" -C "$r" || { echo "tar cannot extract it"; return 1; }
    local idx="$r/airpack/bundle.json"
    jq -e '.airpack_bundle == 1' "$idx" >/dev/null 2>&1 || { echo "index is not JSON with airpack_bundle 1"; return 1; }
    tail -n +3 "$x/names" >"$x/rest"
    jq -r '.entries[].path' "$idx" >"$x/listed"
    cmp -s "$x/rest" "$x/listed" || { echo "index entries differ from tar order: $(diff "$x/listed" "$x/rest" | head -3 | tr '\n' ' ')"; return 1; }
    jq -r '.entries[] | "\(.sha256)  \(.path)"' "$idx" >"$x/sums"
    (cd "$r" && sha256sum -c --quiet "$x/sums") >"$x/err" 2>&1 || { echo "entry sha256 wrong: $(head -c 200 "$x/err")"; return 1; }
    while read -r p s; do
        [ "$(stat -c %s "$r/$p")" = "$s" ] || { echo "entry $p size is not $s"; return 1; }
    done < <(jq -r '.entries[] | "\(.path) \(.size)"' "$idx")
    for f in $(ls "$r/blobs/sha256"); do
        [ "$(sha256sum <"$r/blobs/sha256/$f" | cut -d' ' -f1)" = "$f" ] || { echo "blob $f does not match its name"; return 1; }
    done
    jq -e '.imageLayoutVersion == "1.0.0"' "$r/oci-layout" >/dev/null || { echo "bad oci-layout"; return 1; }
    local cfg man lds dids paths dg did mt dec
    jq -c '.[] | [.Config, .Layers]' "$r/manifest.json" >"$x/dm" 2>/dev/null || { echo "manifest.json is not a JSON array"; return 1; }
    jq -r '.manifests[].digest' "$r/index.json" >"$x/om" 2>/dev/null || { echo "index.json has no manifests"; return 1; }
    jq -r '.images[] | [(.config.digest | ltrimstr("sha256:")), (.manifest.digest | ltrimstr("sha256:")),
        ([.layers[].digest] | tojson), ([.layers[].diff_id] | tojson),
        ([.layers[].digest | "blobs/sha256/" + ltrimstr("sha256:")] | tojson)] | @tsv' "$idx" >"$x/images"
    [ -s "$x/images" ] || { echo "no images in the index"; return 1; }
    while IFS=$'\t' read -r cfg man lds dids paths; do
        [ -f "$r/blobs/sha256/$cfg" ] || { echo "image $cfg: config blob missing"; return 1; }
        [ -f "$r/blobs/sha256/$man" ] || { echo "image $cfg: manifest blob $man missing"; return 1; }
        [ "$(jq -c '[.config.digest, [.layers[].digest]]' "$r/blobs/sha256/$man")" = "[\"sha256:$cfg\",$lds]" ] ||
            { echo "image $cfg: manifest $man names another config or other layers than the index"; return 1; }
        [ "$(jq -c '.rootfs.diff_ids' "$r/blobs/sha256/$cfg")" = "$dids" ] || { echo "image $cfg: config diff_ids differ from the index"; return 1; }
        grep -qxF "sha256:$man" "$x/om" || { echo "image $cfg: manifest not in index.json"; return 1; }
        grep -qxF "[\"blobs/sha256/$cfg\",$paths]" "$x/dm" || { echo "image $cfg: manifest.json has no entry with its Config and Layers"; return 1; }
    done <"$x/images"
    while read -r dg did mt; do
        case $mt in
            *+zstd) dec="zstd -dc" ;; *+gzip|*.tar.gzip) dec="gzip -dc" ;; *.tar) dec="cat" ;;
            *) echo "layer $dg: media type $mt"; return 1 ;;
        esac
        [ "sha256:$($dec <"$r/blobs/sha256/${dg#sha256:}" | sha256sum | cut -d' ' -f1)" = "$did" ] || {
            echo "layer $dg does not decompress to $did"; return 1; }
    done < <(jq -r '[.images[].layers[]] | unique_by(.digest)[] | "\(.digest) \(.diff_id) \(.media_type)"' "$idx")
    rm -rf "$x"
}
