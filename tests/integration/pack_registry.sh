#!/bin/bash
# pack_registry: `airpack pack docker://HOST/REPO:TAG` pulls straight from a real
# registry (docker-registry, the CNCF distribution server, on 127.0.0.1, filled
# with skopeo): image IDs kept, a layer the registry and a file both carry is
# stored once, by digest, a multi-arch index made here (--platform, the default,
# a missing platform, --all-platforms), basic auth behind TLS with a test CA
# (--creds, --authfile, --tls-verify=false, refusals), unresolvable references
# named before anything is written, and a blob whose bytes do not match its
# digest refused with nothing left behind.
. "$(dirname "$0")/../lib.sh"
plan 33
skip_unless docker-registry skopeo jq minisign openssl curl
make_samples || exit 1
make_keys || exit 1
O="$T/out"; mkdir -p "$O"
E="$T/empty"; mkdir -p "$E"
export SOURCE_DATE_EPOCH=1700000000
nothing_written() { [ -z "$(ls -A "$1")" ]; }

if ! start_registry reg; then fail registry-start "see above"; exit 0; fi
R="127.0.0.1:$REG_PORT"
SK="skopeo --override-os linux --override-arch amd64"
push() { $SK copy -q --dest-tls-verify=false "$@" >>"$T/push.log" 2>&1; }

# ---- fill it: gzip layers (OCI layout), recompressed docker-archive, a multi-arch index
push "oci:$S/oci:app-a" "docker://$R/lib/app-a:1.0" &&
push "docker-archive:$S/docker24/app-b.tar" "docker://$R/lib/app-b:1.0" &&
push "oci:$S/oci:app-c" "docker://$R/lib/app-c:1.0" || { fail registry-fill "$(tail -c 300 "$T/push.log")"; exit 0; }
# a multi-arch index: app-a as linux/amd64 and an arm64/v8 twin (its config edited)
two_platform_layout "$S/oci" "$T/ma"
push --all "oci:$MA:multi" "docker://$R/lib/multi:1" || { fail registry-fill-multi "$(tail -c 300 "$T/push.log")"; exit 0; }
if [ "$(skopeo inspect --tls-verify=false --raw "docker://$R/lib/multi:1" | jq -r '[.manifests[].platform.architecture] | join(",")')" = amd64,arm64 ]; then
    pass registry-multiarch-index
else fail registry-multiarch-index "skopeo inspect --raw shows no amd64,arm64 index"; fi
A_ID=$(image_id sample/app-a:1.0); B_ID=$(image_id sample/app-b:1.0); C_ID=$(image_id sample/app-c:1.0)

# ---- pack from the registry ----------------------------------------------------------
B="$O/reg.tar"
if "$AIRPACK" pack -q -c zstd -o "$B" -s "$KEYS/sec" "docker://$R/lib/app-a:1.0" "docker://$R/lib/app-b:1.0" >"$T/p.out" 2>"$T/p.err"; then
    pass pack-registry
else fail pack-registry "exit $?: $(head -c 400 "$T/p.err")"; exit 0; fi
why=$(bundle_check "$B") && pass registry-bundle-format || fail registry-bundle-format "$why"
if [ "$(bundle_image_ids "$B")" = "$(printf '%s\n' "$A_ID" "$B_ID" | sort)" ]; then pass registry-image-ids
else fail registry-image-ids "$(bundle_image_ids "$B" | tr '\n' ' ')"; fi
names=$(index_json "$B" | jq -r '[.images[].names[]] | sort | join(" ")')
if [ "$names" = "$R/lib/app-a:1.0 $R/lib/app-b:1.0" ]; then pass registry-names; else fail registry-names "$names"; fi
if "$AIRPACK" verify -q --deep -p "$KEYS/pub" "$B" >"$T/v.out" 2>&1; then pass registry-bundle-verifies-deep
else fail registry-bundle-verifies-deep "$(head -c 400 "$T/v.out")"; fi
# the shared base layer came compressed twice (gzip from two repositories): stored once when
# recompressed (-c zstd; by default each blob is kept as its manifest names it: faithful.sh)
n=$(index_json "$B" | jq '[.images[].layers[].digest] | unique | length')
if [ "$n" = 3 ]; then pass registry-shared-layer-once; else fail registry-shared-layer-once "$n layer blobs"; fi

# ---- the same layers from a registry and from a file are one blob -------------------
b="$O/mixed.tar"
if "$AIRPACK" pack -q -c zstd -o "$b" -s "$KEYS/sec" "docker://$R/lib/app-c:1.0" "$S/docker24/all.tar" >"$T/m.out" 2>&1; then
    nd=$(index_json "$b" | jq '[.images[].layers[].diff_id] | unique | length')
    nl=$(index_json "$b" | jq '[.images[].layers[].digest] | unique | length')
    ids=$(bundle_image_ids "$b" | wc -l)
    if [ "$nd" = 4 ] && [ "$nl" = 4 ] && [ "$ids" = 4 ] && bundle_check "$b" >"$T/c.out"; then pass registry-and-file-dedup
    else fail registry-and-file-dedup "$nd diff_ids, $nl blobs, $ids images $(cat "$T/c.out")"; fi
else fail registry-and-file-dedup "$(head -c 300 "$T/m.out")"; fi

# ---- by digest, and through --images-from -------------------------------------------
md=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/lib/app-b:1.0")
printf '# from the registry\ndocker://%s/lib/app-b@%s\n\n' "$R" "$md" >"$T/list.txt"
b="$O/digest.tar"
if "$AIRPACK" pack -q -o "$b" --unsigned --images-from "$T/list.txt" >"$T/d.out" 2>&1 &&
   [ "$(bundle_image_ids "$b")" = "$B_ID" ]; then pass registry-by-digest-images-from
else fail registry-by-digest-images-from "$(head -c 300 "$T/d.out")"; fi

# ---- multi-arch -----------------------------------------------------------------------
plat_of() { index_json "$1" | jq -r '[.images[] | .config.digest + " " + .platform] | sort | join(", ")'; }
b="$O/ma-default.tar"
if "$AIRPACK" pack -q -o "$b" --unsigned "docker://$R/lib/multi:1" >"$T/ma.out" 2>&1 &&
   [ "$(plat_of "$b")" = "$A_ID linux/amd64" ]; then pass multiarch-default-platform
else fail multiarch-default-platform "$(plat_of "$b") $(head -c 300 "$T/ma.out")"; fi
b="$O/ma-arm.tar"
if "$AIRPACK" pack -q -o "$b" --unsigned --platform linux/arm64 "docker://$R/lib/multi:1" >"$T/ma.out" 2>&1 &&
   [ "$(plat_of "$b")" = "$ARM_ID linux/arm64/v8" ]; then pass multiarch-platform-arm64
else fail multiarch-platform-arm64 "$(plat_of "$b") $(head -c 300 "$T/ma.out")"; fi
b="$O/ma-oci-arm.tar"
if "$AIRPACK" pack -q -o "$b" --unsigned --platform linux/arm64/v8 "oci:$MA:multi" >"$T/ma.out" 2>&1 &&
   [ "$(plat_of "$b")" = "$ARM_ID linux/arm64/v8" ]; then pass multiarch-platform-oci-layout
else fail multiarch-platform-oci-layout "$(plat_of "$b") $(head -c 300 "$T/ma.out")"; fi
expect_fail multiarch-missing-platform 2 'linux/s390x.*linux/amd64, linux/arm64/v8' \
    "$AIRPACK" pack -q --unsigned -o "$E/x.tar" --platform linux/s390x "docker://$R/lib/multi:1"
expect_fail platform-syntax 2 'OS/ARCH' "$AIRPACK" pack -q --unsigned -o "$E/x.tar" --platform amd64 "docker://$R/lib/multi:1"
b="$O/ma-all.tar"
if "$AIRPACK" pack -q -o "$b" -s "$KEYS/sec" --all-platforms "docker://$R/lib/multi:1" >"$T/ma.out" 2>&1 &&
   [ "$(plat_of "$b")" = "$(printf '%s\n' "$A_ID linux/amd64" "$ARM_ID linux/arm64/v8" | sort | paste -sd, | sed 's/,/, /')" ]; then
    pass multiarch-all-platforms
else fail multiarch-all-platforms "$(plat_of "$b") $(head -c 300 "$T/ma.out")"; fi
if [ -f "$b" ]; then
    # index.json: the name once, on a nested index with the default platform first;
    # manifest.json: the name only on the default platform's image
    top=$(tar -xOf "$b" index.json | jq -r '[.manifests[] | .mediaType + " " + .annotations["io.containerd.image.name"]] | join(";")')
    nd=$(tar -xOf "$b" index.json | jq -r '.manifests[0].digest')
    np=$(tar -xOf "$b" "blobs/sha256/${nd#sha256:}" 2>/dev/null | jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")')
    dm=$(tar -xOf "$b" manifest.json | jq -r '[.[] | .Config + " " + (.RepoTags | join(","))] | join(";")')
    if [ "$top" = "application/vnd.oci.image.index.v1+json $R/lib/multi:1" ] && [ "$np" = linux/amd64,linux/arm64 ] &&
       [ "$dm" = "blobs/sha256/${A_ID#sha256:} $R/lib/multi:1" ]; then pass multiarch-all-index-and-manifest
    else fail multiarch-all-index-and-manifest "index.json: $top; nested: $np; manifest.json: $dm"; fi
    # third-party readers pick the platform from the nested index
    got=$(skopeo inspect --override-arch arm64 --override-variant v8 --format '{{.Architecture}}' "oci-archive:$b:1" 2>&1)
    got2=$(skopeo inspect --override-arch amd64 --format '{{.Architecture}}' "oci-archive:$b:1" 2>&1)
    if [ "$got" = arm64 ] && [ "$got2" = amd64 ]; then pass multiarch-all-skopeo-picks-platform
    else fail multiarch-all-skopeo-picks-platform "arm64 -> $got, amd64 -> $got2"; fi
    if "$AIRPACK" verify -q -p "$KEYS/pub" "$b" >"$T/v.out" 2>&1; then pass multiarch-all-verifies
    else fail multiarch-all-verifies "$(head -c 300 "$T/v.out")"; fi
    # --deep follows index.json's nested index to both platforms' manifests, and
    # accepts that manifest.json names only the default platform's image
    if "$AIRPACK" verify --deep -q -p "$KEYS/pub" "$b" >"$T/v.out" 2>&1; then pass multiarch-all-verifies-deep
    else fail multiarch-all-verifies-deep "$(head -c 300 "$T/v.out")"; fi
fi

# ---- transient failures are retried; blob redirects are followed ---------------------
# A proxy in front of the registry: the first GET of every manifest and blob is
# answered 503, and every blob GET after that is redirected (307) elsewhere on the
# proxy, which then serves it from the registry.
cat >"$T/flaky.py" <<'PYEOF'
import http.client, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, upstream, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seen, lock = set(), threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def note(self, what):
        with open(log, "a") as f: f.write(what + " " + self.path + "\n")
    def relay(self, path):
        c = http.client.HTTPConnection(upstream)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, path, headers=hdrs)
        r = c.getresponse(); body = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.relay(self.path)
    def do_GET(self):
        p = self.path
        if p.startswith("/_storage"):
            self.note("storage"); return self.relay(p[len("/_storage"):])
        if "/manifests/" in p or "/blobs/" in p:
            with lock:
                first = p not in seen; seen.add(p)
            if first:
                self.note("503")
                self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
            if "/blobs/" in p:
                self.note("307")
                self.send_response(307); self.send_header("Location", "/_storage" + p)
                self.send_header("Content-Length", "0"); self.end_headers(); return
        self.relay(p)
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
FPORT=$(free_port) || exit 1
python3 "$T/flaky.py" "$FPORT" "$R" "$T/flaky.log" >"$T/flaky.out" 2>&1 &
REG_PIDS="$REG_PIDS $!"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$FPORT/v2/" && break; sleep 0.1; done
b="$O/flaky.tar"
if "$AIRPACK" pack -q -o "$b" --unsigned "docker://127.0.0.1:$FPORT/lib/app-b:1.0" >"$T/f.out" 2>&1 &&
   [ "$(bundle_image_ids "$b")" = "$B_ID" ]; then
    if grep -q '^503 .*/manifests/' "$T/flaky.log" && grep -q '^503 .*/blobs/' "$T/flaky.log" &&
       grep -q '^307 ' "$T/flaky.log" && grep -q '^storage ' "$T/flaky.log"; then pass registry-retry-and-redirect
    else fail registry-retry-and-redirect "proxy saw: $(sort "$T/flaky.log" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')"; fi
else fail registry-retry-and-redirect "$(head -c 300 "$T/f.out")"; fi

# ---- references that cannot be resolved: named, nothing written ---------------------
expect_fail registry-missing-tag 2 "docker://$R/lib/app-a:9.9.*(404|MANIFEST_UNKNOWN|not found)" \
    "$AIRPACK" pack -q --unsigned -o "$E/x.tar" "docker://$R/lib/app-b:1.0" "docker://$R/lib/app-a:9.9"
expect_fail registry-missing-repo 2 "docker://$R/lib/nothing:1" \
    "$AIRPACK" pack -q --unsigned -o "$E/x.tar" "docker://$R/lib/nothing:1"
dead=$(free_port)
expect_fail registry-down 2 "127.0.0.1:$dead" "$AIRPACK" pack -q --unsigned -o "$E/x.tar" "docker://127.0.0.1:$dead/lib/x:1"
if nothing_written "$E"; then pass unresolved-nothing-written; else fail unresolved-nothing-written "$(ls -A "$E")"; fi

# ---- basic auth (htpasswd, bcrypt) behind TLS with a test CA ------------------------
PKI="$T/pki"; mkdir -p "$PKI"
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=airpack test CA" \
        -keyout "$PKI/ca.key" -out "$PKI/ca.crt" >/dev/null 2>&1 &&
   openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$PKI/srv.key" -out "$PKI/srv.csr" >/dev/null 2>&1 &&
   printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$PKI/ext" &&
   openssl x509 -req -in "$PKI/srv.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 2 -extfile "$PKI/ext" -out "$PKI/srv.crt" >/dev/null 2>&1; then :
else fail test-ca "openssl could not make the certificates"; exit 0; fi
if have htpasswd; then htpasswd -Bbn alice 's3cret pass' >"$PKI/htpasswd"
else python3 -W ignore -c 'import crypt,sys; print("alice:"+crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' 's3cret pass' >"$PKI/htpasswd"; fi
if ! start_registry areg "  tls:
    certificate: $PKI/srv.crt
    key: $PKI/srv.key
auth:
  htpasswd:
    realm: airpack-test
    path: $PKI/htpasswd"; then fail auth-registry-start "see above"; exit 0; fi
AR="127.0.0.1:$REG_PORT"
mkdir -p "$T/certs"; cp "$PKI/ca.crt" "$T/certs/ca.crt"
$SK copy -q --dest-cert-dir "$T/certs" --dest-creds 'alice:s3cret pass' "oci:$S/oci:app-a" "docker://$AR/sec/app-a:1.0" >"$T/ap.log" 2>&1 ||
    { fail auth-registry-fill "$(tail -c 300 "$T/ap.log")"; exit 0; }
b="$O/auth.tar"
if SSL_CERT_FILE="$PKI/ca.crt" "$AIRPACK" pack -q -o "$b" --unsigned --creds 'alice:s3cret pass' "docker://$AR/sec/app-a:1.0" >"$T/a.out" 2>&1 &&
   [ "$(bundle_image_ids "$b")" = "$A_ID" ]; then pass auth-basic-tls-creds
else fail auth-basic-tls-creds "$(head -c 400 "$T/a.out")"; fi
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$AR" "$(printf 'alice:s3cret pass' | base64 -w0)" >"$T/auth.json"
if SSL_CERT_FILE="$PKI/ca.crt" "$AIRPACK" pack -q -o "$O/authfile.tar" --unsigned --authfile "$T/auth.json" "docker://$AR/sec/app-a:1.0" >"$T/a.out" 2>&1 &&
   [ "$(bundle_image_ids "$O/authfile.tar")" = "$A_ID" ]; then pass auth-authfile
else fail auth-authfile "$(head -c 400 "$T/a.out")"; fi
if "$AIRPACK" pack -q -o "$O/insecure.tar" --unsigned --tls-verify=false --creds 'alice:s3cret pass' "docker://$AR/sec/app-a:1.0" >"$T/a.out" 2>&1; then
    pass tls-verify-false
else fail tls-verify-false "$(head -c 400 "$T/a.out")"; fi
expect_fail tls-untrusted-ca 2 'certificate|SSL|verify' \
    "$AIRPACK" pack -q --unsigned -o "$E/x.tar" --creds 'alice:s3cret pass' "docker://$AR/sec/app-a:1.0"
expect_fail auth-wrong-password 2 '401|credentials|authentication' \
    env SSL_CERT_FILE="$PKI/ca.crt" "$AIRPACK" pack -q --unsigned -o "$E/x.tar" --creds alice:wrong "docker://$AR/sec/app-a:1.0"
expect_fail auth-no-credentials 2 '401|credentials|authentication' \
    env SSL_CERT_FILE="$PKI/ca.crt" DOCKER_CONFIG="$T/nowhere" "$AIRPACK" pack -q --unsigned -o "$E/x.tar" "docker://$AR/sec/app-a:1.0"
if nothing_written "$E"; then pass auth-failures-nothing-written; else fail auth-failures-nothing-written "$(ls -A "$E")"; fi

# ---- a blob whose bytes do not match its digest: refused, nothing written ------------
ld=$(skopeo inspect --tls-verify=false --raw "docker://$R/lib/app-b:1.0" | jq -r '.layers[-1].digest')
data="$T/reg/data/docker/registry/v2/blobs/sha256/${ld:7:2}/${ld#sha256:}/data"
if [ -f "$data" ]; then
    sz=$(stat -c %s "$data")
    printf '\x5a' | dd of="$data" bs=1 seek=$((sz / 2)) count=1 conv=notrunc 2>/dev/null
    [ "$(sha256sum <"$data" | cut -d' ' -f1)" != "${ld#sha256:}" ] || printf '\xa5' | dd of="$data" bs=1 seek=$((sz / 2)) count=1 conv=notrunc 2>/dev/null
    expect_fail corrupt-blob-refused 1 "${ld#sha256:}.*(does not match its digest)" \
        "$AIRPACK" pack -q --unsigned -o "$E/x.tar" "docker://$R/lib/app-a:1.0" "docker://$R/lib/app-b:1.0"
    if nothing_written "$E"; then pass corrupt-blob-nothing-written; else fail corrupt-blob-nothing-written "$(ls -A "$E")"; fi
else fail corrupt-blob-refused "no blob data at $data"; fi
exit 0
