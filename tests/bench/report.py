#!/usr/bin/env python3
"""tests/bench/report.py: turns bench.sh's raw timings into the table and the JSON file.

Reads raw.tsv (name, run, seconds, max RSS KiB, exit status per timed run) and sizes.tsv
(name, bytes); prints sizes, median times, airpack/baseline ratios checked against the
targets (PASS/MISS) and each airpack command's peak memory; writes the same as JSON."""
import argparse
import json
import statistics
import sys
import time

MIB = 1 << 20
MEM_LIMIT_KIB = 256 * 1024

# (target name, airpack measurement, baseline measurement, kind, limit, what the baseline is)
#   time: airpack time / baseline time must be <= limit
#   throughput: baseline time / airpack time (= airpack throughput / baseline) must be >= limit
#   size: airpack size / baseline size must be <= limit
TARGETS = [
    ("pack time", "airpack_pack_zstd", "base_zstd", "time", 1.3,
     "zstd -3 -T0 over the combined docker save tar"),
    ("pack size", "bundle_zstd", "zstd_tar", "size", 1.0,
     "zstd -3 -T0 output of the combined docker save tar"),
    ("verify throughput", "airpack_verify", "base_sha256", "throughput", 0.8,
     "openssl dgst -sha256 over the bundle"),
    ("verify --deep time", "airpack_verify_deep", "base_unzstd_sha256", "time", 1.2,
     "zstd -d | openssl dgst -sha256 of the zstd-compressed combined save tar"),
    ("load oci: time", "airpack_load_oci", "base_cp", "time", 1.5, "cp of the bundle"),
    ("load docker-daemon: time", "airpack_load_docker_zstd", "base_docker_load", "time", 1.1,
     "docker load of the plain save tar (zstd bundle, airpack decompresses for Docker 20.10)"),
    ("dense pack size", "bundle_dense", "zstd19_long_tar", "size", 0.85,
     "zstd -19 --long=30 -T0 output of the combined docker save tar"),
    ("dense pack time", "airpack_dense_pack", "base_long19", "time", 0.25,
     "zstd -19 --long=30 -T0 over the combined docker save tar (run 1 only)"),
    ("dense load oci: time", "airpack_dense_load_oci", "airpack_load_oci", "time", 2.0,
     "airpack load of the default (zstd) bundle into oci:DIR"),
    ("pack --split --parity 2 time", "airpack_pack_split_parity", "airpack_pack_zstd", "time", 1.1,
     "airpack pack of the same inputs, unsplit"),
    ("pack --split time", "airpack_pack_split", "airpack_pack_zstd", "time", 1.1,
     "airpack pack of the same inputs, unsplit"),
    ("faithful pack vs skopeo size", "bundle_faithful", "skopeo_oci_registry", "size", 1.0,
     "skopeo copy --all of each image from the local registry (gzip layers) into one OCI layout (du)"),
    ("faithful pack vs skopeo time", "airpack_pack_faithful", "skopeo_copy_registry", "time", 0.5,
     "skopeo copy --all of each image from the local registry into one OCI layout"),
    ("load oci: through 2 missing parts", "airpack_load_oci_parity_2missing", "airpack_load_oci_parity", "time", 1.3,
     "airpack load of the same --parity 2 parts with none missing"),
]
# (target name, measurement, bytes it processed (sizes), minimum bytes per second)
RATES = [
    ("parity encode rate (1 core)", "airpack_parity_encode", "parity_encode_bytes", 1e9),
]
# Compared, but no target.
INFO = [
    ("pack gzip time", "airpack_pack_gzip", "base_gzip", "time", "gzip -6 over the combined save tar"),
    ("pack gzip size", "bundle_gzip", "gzip_tar", "size", "gzip -6 output of the combined save tar"),
    ("pack vs skopeo time", "airpack_pack_zstd", "skopeo_copy_zstd", "time",
     "skopeo copy --dest-compress-format zstd of each image into one OCI layout"),
    ("pack vs skopeo size", "bundle_zstd", "skopeo_oci_zstd", "size", "that OCI layout (du)"),
    ("load oci: vs cp + fsync", "airpack_load_oci", "base_cp_sync", "time",
     "cp of the bundle, then fsync of the copy (the durability floor)"),
    ("load docker-daemon: from gzip bundle", "airpack_load_docker_gzip", "base_docker_load", "time",
     "docker load of the plain save tar"),
    ("dense --compression zstd pack time", "airpack_dense_pack_zstd", "airpack_dense_pack", "time",
     "airpack pack --dense (layers load as plain tars)"),
    ("dense --compression zstd load oci: time", "airpack_dense_load_oci_zstd", "airpack_load_oci", "time",
     "airpack load of the default (zstd) bundle into oci:DIR"),
    ("dense load docker-daemon: time", "airpack_load_docker_dense", "base_docker_load", "time",
     "docker load of the plain save tar"),
    ("dense --compression zstd load docker-daemon: time", "airpack_load_docker_dense_zstd", "base_docker_load",
     "time", "docker load of the plain save tar"),
    ("dense OCI layout size", "airpack_oci_load_dense", "airpack_oci_load", "size",
     "the OCI layout loaded from the default bundle (du)"),
    ("dense --compression zstd OCI layout size", "airpack_oci_load_dense_zstd", "airpack_oci_load", "size",
     "the OCI layout loaded from the default bundle (du)"),
]
LABELS = {
    "base_zstd": "zstd -3 -T0 < all.tar > all.tar.zst",
    "airpack_pack_zstd": "airpack pack (zstd)",
    "base_gzip": "gzip -6 < all.tar > all.tar.gz",
    "airpack_pack_gzip": "airpack pack --compression gzip",
    "skopeo_copy_zstd": "skopeo copy (zstd) of each image -> oci:",
    "base_sha256": "openssl dgst -sha256 bundle",
    "airpack_verify": "airpack verify",
    "base_unzstd_sha256": "zstd -d all.tar.zst | openssl dgst -sha256",
    "airpack_verify_deep": "airpack verify --deep",
    "base_cp": "cp bundle",
    "base_cp_sync": "cp bundle && sync copy (fsync)",
    "airpack_load_oci": "airpack load --into oci:DIR",
    "base_docker_load": "docker load -i all.tar",
    "airpack_load_docker_zstd": "airpack load --into docker-daemon: (zstd bundle)",
    "airpack_load_docker_gzip": "airpack load --into docker-daemon: (gzip bundle)",
    "base_long19": "zstd -19 --long=30 -T0 < all.tar",
    "airpack_dense_pack": "airpack pack --dense",
    "airpack_dense_load_oci": "airpack load --into oci:DIR (dense bundle)",
    "airpack_dense_pack_zstd": "airpack pack --dense --compression zstd",
    "airpack_dense_load_oci_zstd": "airpack load --into oci:DIR (dense, zstd blobs)",
    "airpack_load_docker_dense": "airpack load --into docker-daemon: (dense bundle)",
    "airpack_load_docker_dense_zstd": "airpack load --into docker-daemon: (dense, zstd blobs)",
    "airpack_pack_faithful": "airpack pack docker://... (faithful, gzip layers as they are)",
    "skopeo_copy_registry": "skopeo copy --all docker://... -> oci: (each image)",
    "airpack_pack_split": "airpack pack --split (10 parts)",
    "airpack_pack_split_parity": "airpack pack --split --parity 2",
    "airpack_load_oci_parity": "airpack load --into oci:DIR (--parity 2 parts)",
    "airpack_load_oci_parity_2missing": "airpack load --into oci:DIR (2 data parts missing)",
    "airpack_parity_encode": "parity encode 10+2, 16 GiB of data, 1 core",
}


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    for a in ("raw", "sizes", "json", "images", "cache-mode", "load-before", "load-after",
              "airpack-version", "skopeo-media-types", "machine"):
        ap.add_argument("--" + a, default="")
    ap.add_argument("--runs", type=int, default=0)
    o = ap.parse_args()

    runs = {}
    for name, run, secs, rss, rc in read_tsv(o.raw):
        runs.setdefault(name, []).append({"run": int(run), "seconds": float(secs),
                                          "max_rss_kib": int(rss), "exit": int(rc)})
    sizes = {n: int(b) for n, b in read_tsv(o.sizes) if b}
    with open(o.images) as f:
        images = [l.strip() for l in f if l.strip()]

    meas = {}
    for name, rs in runs.items():
        ok = [r for r in rs if r["exit"] == 0]
        meas[name] = {
            "label": LABELS.get(name, name),
            "runs": rs,
            "failed_runs": len(rs) - len(ok),
            "median_seconds": round(statistics.median(r["seconds"] for r in ok), 3) if ok else None,
            "max_rss_kib": max(r["max_rss_kib"] for r in ok) if ok else None,
        }

    def value(name, kind):
        if kind == "size":
            return sizes.get(name)
        m = meas.get(name)
        return m["median_seconds"] if m else None

    def compare(name, a, b, kind, limit=None, what=""):
        va, vb = value(a, kind), value(b, kind)
        row = {"name": name, "airpack": a, "baseline": b, "baseline_is": what, "kind": kind}
        if limit is not None:
            row["target"] = (">= " if kind == "throughput" else "<= ") + str(limit)
        if not va or not vb:
            row.update(ratio=None, verdict="not measured")
            return row
        ratio = vb / va if kind == "throughput" else va / vb
        row["ratio"] = round(ratio, 4)
        if limit is not None:
            ok = ratio >= limit if kind == "throughput" else ratio <= limit
            row["verdict"] = "PASS" if ok else "MISS"
        return row

    targets = [compare(*t[:5], what=t[5]) for t in TARGETS]
    for name, a, b, limit in RATES:
        secs, nbytes = value(a, "time"), sizes.get(b)
        row = {"name": name, "airpack": a, "baseline": b, "kind": "rate", "target": ">= %.0f GB/s" % (limit / 1e9),
               "baseline_is": "%s GB/s" % ("%.1f" % (nbytes / secs / 1e9) if secs and nbytes else "-")}
        if secs and nbytes:
            row["ratio"] = round(nbytes / secs / limit, 4)
            row["verdict"] = "PASS" if nbytes / secs >= limit else "MISS"
        else:
            row.update(ratio=None, verdict="not measured")
        targets.append(row)
    info = [compare(n, a, b, k, None, what) for n, a, b, k, what in INFO]
    mem = []
    for name, m in sorted(meas.items()):
        if not name.startswith("airpack_") or name == "airpack_parity_encode":
            continue
        kib = m["max_rss_kib"]
        mem.append({"name": name, "max_rss_kib": kib, "target": "<= 256 MiB",
                    "verdict": "not measured" if kib is None else ("PASS" if kib <= MEM_LIMIT_KIB else "MISS")})

    # ---- the terminal table ----
    out = sys.stdout
    w = out.write
    total = sizes.get("docker_save_tar", 0)
    w("\n== airpack bench: %d images, docker save %.1f MiB, %d run(s), median wall time; page cache %s\n"
      % (len(images), total / MIB, o.runs, o.cache_mode))
    w("   load average before %s, after %s\n" % (o.load_before, o.load_after))
    w("   machine: %s\n\n" % o.machine)
    w("%-52s %10s %10s %10s\n" % ("command", "median s", "MB/s in", "max RSS"))
    inputs = {"base_sha256": "bundle_zstd", "airpack_verify": "bundle_zstd", "airpack_verify_deep": "bundle_zstd",
              "base_unzstd_sha256": "zstd_tar", "base_cp": "bundle_zstd", "base_cp_sync": "bundle_zstd", "airpack_load_oci": "bundle_zstd",
              "airpack_load_docker_zstd": "bundle_zstd", "airpack_load_docker_gzip": "bundle_gzip",
              "airpack_dense_load_oci": "bundle_dense", "airpack_dense_load_oci_zstd": "bundle_dense_zstd",
              "airpack_load_docker_dense": "bundle_dense", "airpack_load_docker_dense_zstd": "bundle_dense_zstd"}
    for name in LABELS:
        m = meas.get(name)
        if not m:
            continue
        s = m["median_seconds"]
        src = sizes.get(inputs.get(name, "docker_save_tar"), 0)
        rate = "%.0f" % (src / 1e6 / s) if s else "-"
        rss = "%.0f MiB" % (m["max_rss_kib"] / 1024) if m["max_rss_kib"] is not None else "-"
        st = "%.2f" % s if s is not None else "FAILED"
        w("%-52s %10s %10s %10s\n" % (m["label"][:52], st, rate, rss))
    w("\n%-28s %14s %14s\n" % ("size", "MiB", "bytes"))
    for n, b in sizes.items():
        w("%-28s %14.1f %14d\n" % (n, b / MIB, b))
    w("\n%-36s %7s %7s  %-12s %s\n" % ("airpack vs baseline", "ratio", "target", "verdict", "baseline"))
    for r in targets + info:
        ratio = ("%.4f" if r["kind"] == "size" else "%.2f") % r["ratio"] if r.get("ratio") is not None else "-"
        w("%-36s %7s %7s  %-12s %s\n" % (r["name"], ratio, r.get("target", "-"),
                                          r.get("verdict", "(info)"), r["baseline_is"]))
    w("\n%-26s %10s %8s  %s\n" % ("peak memory", "MiB", "target", "verdict"))
    for r in mem:
        mib = "%.1f" % (r["max_rss_kib"] / 1024) if r["max_rss_kib"] is not None else "-"
        w("%-26s %10s %8s  %s\n" % (r["name"], mib, "256", r["verdict"]))
    if o.skopeo_media_types:
        w("\nskopeo OCI layer media types (count, type): %s\n" % o.skopeo_media_types.strip())
    w("\n")

    doc = {
        "airpack_bench": 1,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "airpack_version": o.airpack_version,
        "runs": o.runs,
        "page_cache": o.cache_mode,
        "load_average_before": o.load_before,
        "load_average_after": o.load_after,
        "machine": o.machine,
        "images": images,
        "sizes_bytes": sizes,
        "measurements": meas,
        "targets": targets,
        "compared": info,
        "peak_memory": mem,
        "notes": [
            "Wall times are medians over the runs; max RSS is the largest over the runs of the "
            "command's biggest process (GNU time %M); for docker load and airpack load into "
            "docker-daemon: it does not include dockerd.",
            "page_cache warm: each command's input was read into the page cache just before it; "
            "cold: caches were dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each command.",
            "The --deep baseline decompresses the zstd-compressed combined docker save tar "
            "(the base_zstd output), not the bundle's layers.",
        ],
    }
    with open(o.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
