#!/bin/bash
# load_registry: `airpack load --into docker://...` against a real registry
# (docker-registry, the CNCF distribution server) started here on 127.0.0.1:
# names mapped under a prefix, digests kept (checked with skopeo), a second
# load uploads nothing, a tampered bundle pushes no manifest, --image filters,
# basic auth (htpasswd, bcrypt) behind TLS with a test CA, and bearer tokens
# from a token server (a small Python one here, signing with openssl).
. "$(dirname "$0")/../lib.sh"
plan 24
skip_unless docker-registry skopeo jq minisign openssl curl python3
make_samples || exit 1
make_keys || exit 1

# ---- registries ------------------------------------------------------------------
# uploads NAME: how many blob upload sessions (POST .../blobs/uploads/) the registry saw
uploads() { grep -c '"POST /v2/[^ ]*/blobs/uploads/' "$T/$1.log"; }

start_registry reg || fail_rest "docker-registry is installed but did not start (see above)"
R="127.0.0.1:$REG_PORT"
SK="skopeo --override-os linux"

# ---- the bundle ------------------------------------------------------------------
B="$T/bundle.tar"
if "$AIRPACK" pack -q -o "$B" -s "$KEYS/sec" "$S/docker24/all.tar" >"$T/pack.out" 2>&1; then pass pack
else fail pack "$(head -c 300 "$T/pack.out")"; exit 0; fi
IMAGES="sample/base:1.0 sample/app-a:1.0 sample/app-b:1.0"
# manifest digest of an image in the bundle's index, by full name
bundle_manifest() { index_json "$B" | jq -r --arg n "$1" '.images[] | select(.names | index($n)) | .manifest.digest'; }

# ---- load: names under the prefix, same config and manifest digests ---------------
load() { "$AIRPACK" load -q -p "$KEYS/pub" "$@"; }
if load --tls-verify=false --into "docker://$R/mirror" "$B" >"$T/load1.out" 2>"$T/load1.err"; then pass load-registry
else fail load-registry "exit $?: $(head -c 400 "$T/load1.err")"; fi
bad=""
for i in $IMAGES; do
    raw=$($SK inspect --tls-verify=false --raw "docker://$R/mirror/$i" 2>"$T/sk.err")
    got=$(jq -r .config.digest <<<"$raw" 2>/dev/null)
    [ "$got" = "$(image_id "$i")" ] || bad="$bad $i: config ${got:-missing} ($(head -c 150 "$T/sk.err"))"
    md="sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
    [ "$md" = "$(bundle_manifest "docker.io/$i")" ] || bad="$bad $i: manifest $md"
done
if [ -z "$bad" ]; then pass registry-digests-kept; else fail registry-digests-kept "$bad"; fi
# skopeo pulls every blob back and checks its digest against the manifest
if $SK copy -q --src-tls-verify=false "docker://$R/mirror/sample/app-b:1.0" "oci:$T/pulled:app-b" >"$T/pull.out" 2>&1 &&
   [ "$(jq -r '.manifests[0].digest' "$T/pulled/index.json")" = "$(bundle_manifest docker.io/sample/app-b:1.0)" ]; then
    pass registry-pull-back
else fail registry-pull-back "$(head -c 300 "$T/pull.out")"; fi
if $SK inspect --tls-verify=false "docker://$R/mirror/sample/app-a:1.0" >/dev/null 2>&1 &&
   ! $SK inspect --tls-verify=false "docker://$R/sample/app-a:1.0" >/dev/null 2>&1; then
    pass registry-prefix-mapping
else fail registry-prefix-mapping "mirror/sample/app-a:1.0 missing or sample/app-a:1.0 present"; fi

# ---- a second load uploads nothing and says so ------------------------------------
before=$(uploads reg)
if load --tls-verify=false --into "docker://$R/mirror" --json "$B" >"$T/load2.out" 2>"$T/load2.err"; then
    after=$(uploads reg)
    if [ "$after" -eq "$before" ]; then pass second-load-uploads-nothing
    else fail second-load-uploads-nothing "$((after - before)) upload sessions"; fi
    if jq -e '(.images | length) == 3 and ([.images[] | select(.new == false)] | length) == 3' "$T/load2.out" >/dev/null 2>&1
    then pass second-load-already-present
    else fail second-load-already-present "report: $(head -c 300 "$T/load2.out")"; fi
else fail second-load-uploads-nothing "exit $?: $(head -c 300 "$T/load2.err")"; fi
if load --tls-verify=false --into "docker://$R/mirror" "$B" >"$T/load3.out" 2>&1 &&
   [ "$(grep -c ' already present$' "$T/load3.out")" -eq 3 ] && ! grep -q ' new$' "$T/load3.out"; then pass second-load-message
else fail second-load-message "$(head -c 300 "$T/load3.out")"; fi

# ---- --image loads only that image ------------------------------------------------
if load --tls-verify=false --into "docker://$R/only" --image sample/app-a:1.0 "$B" >"$T/o.out" 2>&1 &&
   $SK inspect --tls-verify=false "docker://$R/only/sample/app-a:1.0" >/dev/null 2>&1 &&
   ! $SK inspect --tls-verify=false "docker://$R/only/sample/base:1.0" >/dev/null 2>&1; then
    pass registry-image-filter
else fail registry-image-filter "$(head -c 300 "$T/o.out")"; fi

# ---- a tampered bundle: some blobs may go up, no manifest does --------------------
cp "$B" "$T/bad.tar"
# flip one byte in the data of the last entry (manifest.json): every blob is verified
# and uploaded by then, so only the manifests/tags could still show the images
off=$(python3 -c 'import tarfile,sys; m=tarfile.open(sys.argv[1]).getmembers()[-1]; print(m.offset_data + m.size // 2)' "$T/bad.tar")
printf '\x01' | dd of="$T/bad.tar" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
cmp -s "$B" "$T/bad.tar" && fail tamper "the copy did not change"
expect_fail tampered-load-fails 1 'entry manifest.json at offset [0-9]+: sha256 [0-9a-f]{64}, the signed index says' \
    load --tls-verify=false --into "docker://$R/tampered" "$T/bad.tar"
# the probe (skopeo inspect) first finds the images of the good load, then none of the tampered one
leaked="" blind=""
for i in $IMAGES; do
    $SK inspect --tls-verify=false "docker://$R/mirror/$i" >/dev/null 2>&1 || blind="$blind mirror/$i"
    $SK inspect --tls-verify=false "docker://$R/tampered/$i" >/dev/null 2>&1 && leaked="$leaked $i"
done
if [ -z "$leaked" ] && [ -z "$blind" ]; then pass tampered-no-manifest
else fail tampered-no-manifest "visible:$leaked; the probe did not see the loaded$blind"; fi

# ---- errors name the registry and what it said -------------------------------------
expect_fail refused-prefix 2 'docker://127.0.0.1:[0-9]+/Upper:tag.*prefix' load --tls-verify=false --into "docker://$R/Upper:tag" "$B"
dead=$(free_port)
expect_fail registry-down 2 "127.0.0.1:$dead" load --tls-verify=false --into "docker://127.0.0.1:$dead/x" "$B"

# ---- basic auth (htpasswd, bcrypt) behind TLS with a test CA ----------------------
PKI="$T/pki"; mkdir -p "$PKI"
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=airpack test CA" \
        -keyout "$PKI/ca.key" -out "$PKI/ca.crt" >/dev/null 2>&1 &&
   openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$PKI/srv.key" -out "$PKI/srv.csr" >/dev/null 2>&1 &&
   printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$PKI/ext" &&
   openssl x509 -req -in "$PKI/srv.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 2 -extfile "$PKI/ext" -out "$PKI/srv.crt" >/dev/null 2>&1; then
    pass test-ca
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
A="127.0.0.1:$REG_PORT"
mkdir -p "$T/certs"; cp "$PKI/ca.crt" "$T/certs/ca.crt"

expect_fail tls-untrusted-ca 2 'certificate|SSL|verify' \
    load --creds 'alice:s3cret pass' --into "docker://$A/sec" "$B"
expect_fail auth-no-credentials 2 "127.0.0.1:$REG_PORT.*401" \
    env SSL_CERT_FILE="$PKI/ca.crt" DOCKER_CONFIG="$T/nowhere" "$AIRPACK" load -q -p "$KEYS/pub" --into "docker://$A/sec" "$B"
expect_fail auth-wrong-password 2 "127.0.0.1:$REG_PORT.*401" \
    env SSL_CERT_FILE="$PKI/ca.crt" "$AIRPACK" load -q -p "$KEYS/pub" --creds alice:wrong --into "docker://$A/sec" "$B"
if SSL_CERT_FILE="$PKI/ca.crt" load --creds 'alice:s3cret pass' --into "docker://$A/sec" "$B" >"$T/a.out" 2>&1 &&
   [ "$($SK inspect --cert-dir "$T/certs" --creds 'alice:s3cret pass' --raw "docker://$A/sec/sample/app-a:1.0" | jq -r .config.digest)" = "$(image_id sample/app-a:1.0)" ]; then
    pass auth-basic-tls-creds
else fail auth-basic-tls-creds "$(head -c 400 "$T/a.out")"; fi
# credentials from a Docker config file ($DOCKER_CONFIG/config.json, base64 "auth")
mkdir -p "$T/dockercfg"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$A" "$(printf 'alice:s3cret pass' | base64 -w0)" >"$T/dockercfg/config.json"
if SSL_CERT_FILE="$PKI/ca.crt" DOCKER_CONFIG="$T/dockercfg" load --into "docker://$A/cfg" "$B" >"$T/c.out" 2>&1 &&
   [ "$($SK inspect --cert-dir "$T/certs" --creds 'alice:s3cret pass' --raw "docker://$A/cfg/sample/base:1.0" | jq -r .config.digest)" = "$(image_id sample/base:1.0)" ]; then
    pass auth-docker-config
else fail auth-docker-config "$(head -c 400 "$T/c.out")"; fi
if SSL_CERT_FILE="$PKI/ca.crt" load --authfile "$T/dockercfg/config.json" --into "docker://$A/af" --image sample/base:1.0 "$B" >"$T/f.out" 2>&1 &&
   $SK inspect --cert-dir "$T/certs" --creds 'alice:s3cret pass' "docker://$A/af/sample/base:1.0" >/dev/null 2>&1; then
    pass auth-authfile
else fail auth-authfile "$(head -c 400 "$T/f.out")"; fi
# --tls-verify=false accepts the unknown CA (still https)
if load --tls-verify=false --creds 'alice:s3cret pass' --into "docker://$A/insecure" --image sample/base:1.0 "$B" >"$T/i.out" 2>&1; then
    pass tls-verify-false-https
else fail tls-verify-false-https "$(head -c 400 "$T/i.out")"; fi

# ---- bearer tokens: the registry sends us to a token server (realm/service/scope) ---
TOK="$T/token"; mkdir -p "$TOK"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=airpack test token issuer" \
    -keyout "$TOK/token.key" -out "$TOK/token.crt" >/dev/null 2>&1
cat >"$TOK/server.py" <<'PYEOF'
# A bearer token server for tests: checks basic auth, signs an RS256 JWT with openssl.
import base64, hashlib, json, subprocess, sys, time, os
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse, parse_qs
port, key, crt, user, pw, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
der = subprocess.run(["openssl", "x509", "-in", crt, "-pubkey", "-noout"], capture_output=True, check=True).stdout
der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, capture_output=True, check=True).stdout
b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        ok = auth == "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        with open(log, "a") as f: f.write(f"{'ok' if ok else 'refused'} {q.get('scope', [])}\n")
        if not ok:
            self.send_response(401); self.end_headers(); self.wfile.write(b'{"details":"bad credentials"}'); return
        access = []
        for s in q.get("scope", []):
            t, name, actions = s.split(":")
            access.append({"type": t, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": "airpack-test-issuer", "sub": user, "aud": q.get("service", [""])[0],
                  "exp": now + 600, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        si = b64(json.dumps({"typ": "JWT", "alg": "RS256", "kid": kid}).encode()) + "." + b64(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=si.encode(), capture_output=True, check=True).stdout
        body = json.dumps({"token": si + "." + b64(sig), "expires_in": 600}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers(); self.wfile.write(body)
HTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
TPORT=$(free_port) || exit 1
python3 "$TOK/server.py" "$TPORT" "$TOK/token.key" "$TOK/token.crt" bob 'tok pw' "$TOK/requests" >"$TOK/server.log" 2>&1 &
REG_PIDS="$REG_PIDS $!"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$TPORT/token" && break; sleep 0.1; done
if ! start_registry breg "auth:
  token:
    realm: http://127.0.0.1:$TPORT/token
    service: airpack-test-registry
    issuer: airpack-test-issuer
    rootcertbundle: $TOK/token.crt"; then fail bearer-registry-start "see above"; exit 0; fi
BR="127.0.0.1:$REG_PORT"
if load --creds 'bob:tok pw' --into "docker://$BR/tok" "$B" >"$T/b.out" 2>&1 &&
   [ "$($SK inspect --tls-verify=false --creds 'bob:tok pw' --raw "docker://$BR/tok/sample/app-b:1.0" | jq -r .config.digest)" = "$(image_id sample/app-b:1.0)" ]; then
    pass auth-bearer-token
else fail auth-bearer-token "$(head -c 400 "$T/b.out")"; fi
# one token per scope, not one per request
n=$(grep -c '^ok' "$TOK/requests" 2>/dev/null || echo 0)
if [ "$n" -ge 1 ] && [ "$n" -le 8 ]; then pass bearer-tokens-cached; else fail bearer-tokens-cached "$n token requests"; fi
expect_fail auth-bearer-refused 2 'token server.*refused' \
    load --creds bob:wrong --into "docker://$BR/tok2" "$B"
