#!/usr/bin/env python3
"""forge_hostile.py OUT.tar KIND KEY: a one-image bundle whose layer is hostile, its index
signed by the real minisign program with KEY, so every check but --deep's passes.

KIND:
  good       a gzip layer holding an empty tar (10 KiB of zeros): loads everywhere
  zstd1tb    a zstd frame whose header claims 1 TB of content (single segment, so a
             1 TB window); it holds 10 KiB of zeros, which the index describes truly
  zstd50g    a zstd RLE bomb: 1.6 MB of blocks that decompress to 50 GiB of zeros; the
             index says 1 MiB
  gzip1g     1 GiB of zeros, gzip'd (1 MB); the index gives its true size and a diff_id
             that is not its sha256
  configdiff a good layer, but the config's diff_id is not the index's
Written independently of airpack's writer (Python's tarfile, zlib, hashlib)."""
import hashlib, io, json, os, struct, subprocess, sys, tarfile, tempfile, zlib

out, kind, key = sys.argv[1:4]
name = "docker.io/hostile/%s:1" % kind
ZEROS = 10240


def sha(b):
    return hashlib.sha256(b).hexdigest()


def gzip_bytes(chunks):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [c.compress(x) for x in chunks]
    parts.append(c.flush())
    return b"".join(parts)


def zeros_sha(n):
    h = hashlib.sha256()
    block = bytes(1 << 20)
    while n:
        k = min(n, len(block))
        h.update(block[:k])
        n -= k
    return h.hexdigest()


diff_id = sha(bytes(ZEROS))
usize = ZEROS
if kind in ("good", "configdiff"):
    layer = gzip_bytes([bytes(ZEROS)])
    mt = "application/vnd.oci.image.layer.v1.tar+gzip"
elif kind == "zstd1tb":
    # magic, FHD 0xE0 (8-byte content size, single segment), size 2^40, one last RLE block
    layer = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", 1 << 40)
    hdr = (ZEROS << 3) | (1 << 1) | 1
    layer += struct.pack("<I", hdr)[:3] + b"\x00"
    mt = "application/vnd.oci.image.layer.v1.tar+zstd"
elif kind == "zstd50g":
    # FHD 0x00 (no content size, window descriptor follows), window 128 KiB, RLE blocks
    block = 128 << 10
    n = (50 << 30) // block
    rle = struct.pack("<I", (block << 3) | (1 << 1))[:3] + b"\x00"
    last = struct.pack("<I", (block << 3) | (1 << 1) | 1)[:3] + b"\x00"
    layer = b"\x28\xb5\x2f\xfd\x00" + bytes([7 << 3]) + rle * (n - 1) + last
    usize = 1 << 20
    diff_id = sha(bytes(usize))
    mt = "application/vnd.oci.image.layer.v1.tar+zstd"
elif kind == "gzip1g":
    layer = gzip_bytes([bytes(16 << 20)] * 64)
    usize = 1 << 30
    diff_id = sha(b"not the layer")
    mt = "application/vnd.oci.image.layer.v1.tar+gzip"
else:
    sys.exit("unknown kind " + kind)

cfg_diff = sha(b"another layer") if kind == "configdiff" else diff_id
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + cfg_diff]}},
                    separators=(",", ":")).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + sha(config), "size": len(config)},
                       "layers": [{"mediaType": mt, "digest": "sha256:" + sha(layer), "size": len(layer)}]},
                      separators=(",", ":")).encode()
index_json = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                        "digest": "sha256:" + sha(manifest), "size": len(manifest),
                                        "annotations": {"io.containerd.image.name": name,
                                                        "org.opencontainers.image.ref.name": "1"},
                                        "platform": {"architecture": "amd64", "os": "linux"}}]},
                        separators=(",", ":")).encode()
manifest_json = json.dumps([{"Config": "blobs/sha256/" + sha(config), "RepoTags": [name],
                             "Layers": ["blobs/sha256/" + sha(layer)]}], separators=(",", ":")).encode()
entries = [("blobs/sha256/" + sha(layer), layer), ("blobs/sha256/" + sha(config), config),
           ("blobs/sha256/" + sha(manifest), manifest), ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
           ("index.json", index_json), ("manifest.json", manifest_json)]
index = json.dumps({"airpack_bundle": 1, "created": "1970-01-01T00:00:00Z", "tool": "forge",
                    "compression": "zstd" if "zstd" in mt else "gzip",
                    "images": [{"names": [name],
                                "manifest": {"digest": "sha256:" + sha(manifest), "size": len(manifest)},
                                "config": {"digest": "sha256:" + sha(config), "size": len(config)},
                                "platform": "linux/amd64",
                                "layers": [{"digest": "sha256:" + sha(layer), "size": len(layer),
                                            "diff_id": "sha256:" + diff_id, "uncompressed_size": usize,
                                            "media_type": mt}]}],
                    "entries": [{"path": p, "size": len(b), "sha256": sha(b)} for p, b in entries]},
                   separators=(",", ":")).encode()
with tempfile.TemporaryDirectory() as d:
    ip = os.path.join(d, "bundle.json")
    with open(ip, "wb") as f:
        f.write(index)
    subprocess.run(["minisign", "-S", "-s", key, "-m", ip, "-x", ip + ".minisig",
                    "-t", "timestamp:0\tfile:bundle.json\thashed"], check=True, stdout=subprocess.DEVNULL)
    with open(ip + ".minisig", "rb") as f:
        sig = f.read()
tmp = out + ".tmp"
with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as t:
    for p, b in [("airpack/bundle.json", index), ("airpack/bundle.json.minisig", sig)] + entries:
        ti = tarfile.TarInfo(p)
        ti.size, ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = len(b), 0o644, 0, 0, 0, "", ""
        t.addfile(ti, io.BytesIO(b))
os.rename(tmp, out)
