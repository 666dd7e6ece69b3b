#!/usr/bin/env python3
"""gen_images.py N DIR: an OCI image layout with N distinct tiny images, for the scale
bench (tests/bench/scale.sh). Image i (localhost/scale/img-i:1) has one gzip layer (a tar
holding one small file whose content names i), its config and manifest; index.json names
each with io.containerd.image.name and org.opencontainers.image.ref.name, as skopeo and
containerd write. Deterministic: the same N gives the same bytes. Written with Python's
tarfile, gzip and hashlib only (not with airpack)."""
import gzip, hashlib, io, json, os, sys, tarfile

n, out = int(sys.argv[1]), sys.argv[2]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)


def put(data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(blobs, d)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    return "sha256:" + d, len(data)


def js(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()


manifests = []
for i in range(n):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        body = ("image %d of %d\n" % (i, n)).encode()
        ti = tarfile.TarInfo("etc/scale-id")
        ti.size, ti.mode, ti.mtime = len(body), 0o644, 0
        t.addfile(ti, io.BytesIO(body))
    plain = buf.getvalue()
    layer = gzip.compress(plain, compresslevel=6, mtime=0)
    ld, ls = put(layer)
    cd, cs = put(js({"architecture": "amd64", "os": "linux", "config": {"Env": ["SCALE_ID=%d" % i]},
                     "rootfs": {"type": "layers",
                                "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]}}))
    md, ms = put(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                 "digest": ld, "size": ls}]}))
    manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                      "annotations": {"io.containerd.image.name": "localhost/scale/img-%d:1" % i,
                                      "org.opencontainers.image.ref.name": "1"},
                      "platform": {"architecture": "amd64", "os": "linux"}})
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(out, "index.json"), "wb") as f:
    f.write(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": manifests}))
