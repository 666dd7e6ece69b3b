#!/usr/bin/env python3
"""cosign_sig.py: cosign-style image signatures without cosign (Debian's skopeo has sigstore
disabled). As `cosign sign --key` does: a simple-signing payload naming the manifest digest,
an ECDSA P-256 signature (SHA-256, DER, base64) in the dev.cosignproject.cosign/signature
annotation of the payload layer, in a manifest tagged sha256-<hex>.sig next to the image.

  cosign_sig.py keygen KEY.pem PUB.pem
  cosign_sig.py sign HOST REPO DIGEST KEY.pem       push REPO:sha256-<hex>.sig for DIGEST
  cosign_sig.py verify HOST REPO TAG PUB.pem        verify it against REPO:TAG's digest now
  cosign_sig.py attach HOST REPO DIGEST             an OCI 1.1 referrer (an SBOM artifact whose subject is
                                                    DIGEST) by digest, and the fallback tag sha256-<hex>
                                                    (an index listing it), as a registry without the
                                                    referrers API keeps them
Plain http to a local registry (127.0.0.1)."""
import base64, hashlib, json, sys, urllib.request
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(r)


def push_blob(host, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = req("POST", f"http://{host}/v2/{repo}/blobs/uploads/").headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{host}{loc}"
    req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data,
        {"Content-Type": "application/octet-stream"})
    return d


def manifest(host, repo, ref):
    with req("GET", f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}) as r:
        return r.read()


def blob(host, repo, d):
    with req("GET", f"http://{host}/v2/{repo}/blobs/{d}") as r:
        data = r.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == d, "blob does not match its digest"
    return data


def sign(host, repo, digest, keyfile):
    key = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    payload = json.dumps({"critical": {"identity": {"docker-reference": f"{host}/{repo}"},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"},
                          "optional": None}, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    config = json.dumps({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(payload).hexdigest()]}}, separators=(",", ":")).encode()
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": push_blob(host, repo, config), "size": len(config)},
         "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                     "digest": push_blob(host, repo, payload), "size": len(payload),
                     "annotations": {"dev.cosignproject.cosign/signature": sig}}]}
    body = json.dumps(m, separators=(",", ":")).encode()
    tag = "sha256-" + digest.split(":")[1] + ".sig"
    req("PUT", f"http://{host}/v2/{repo}/manifests/{tag}", body, {"Content-Type": OCI_MANIFEST})
    print(tag)


def verify(host, repo, tag, pubfile):
    pub = serialization.load_pem_public_key(open(pubfile, "rb").read())
    digest = "sha256:" + hashlib.sha256(manifest(host, repo, tag)).hexdigest()
    m = json.loads(manifest(host, repo, "sha256-" + digest.split(":")[1] + ".sig"))
    for layer in m["layers"]:
        payload = blob(host, repo, layer["digest"])
        sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
        pub.verify(sig, payload, ec.ECDSA(hashes.SHA256()))   # raises when it does not verify
        named = json.loads(payload)["critical"]["image"]["docker-manifest-digest"]
        if named != digest:
            sys.exit(f"the signature names {named}, the image is {digest}")
    print(f"verified: {repo}:{tag} ({digest})")


def attach(host, repo, digest):
    subject = manifest(host, repo, digest)
    sm = json.loads(subject)
    empty = b"{}"
    sbom = b'{"spdxVersion":"SPDX-2.3","name":"airpack-test"}'
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
         "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": push_blob(host, repo, empty),
                    "size": len(empty)},
         "layers": [{"mediaType": "application/spdx+json", "digest": push_blob(host, repo, sbom), "size": len(sbom)}],
         "subject": {"mediaType": sm.get("mediaType", OCI_MANIFEST), "digest": digest, "size": len(subject)}}
    body = json.dumps(m, separators=(",", ":")).encode()
    md = "sha256:" + hashlib.sha256(body).hexdigest()
    req("PUT", f"http://{host}/v2/{repo}/manifests/{md}", body, {"Content-Type": OCI_MANIFEST})
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": len(body),
                          "artifactType": "application/spdx+json"}]}
    ib = json.dumps(idx, separators=(",", ":")).encode()
    req("PUT", f"http://{host}/v2/{repo}/manifests/sha256-{digest.split(':')[1]}", ib,
        {"Content-Type": "application/vnd.oci.image.index.v1+json"})
    print(md)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "keygen":
        k = ec.generate_private_key(ec.SECP256R1())
        open(sys.argv[2], "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        open(sys.argv[3], "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    elif cmd == "sign":
        sign(*sys.argv[2:6])
    elif cmd == "verify":
        verify(*sys.argv[2:6])
    elif cmd == "attach":
        attach(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
