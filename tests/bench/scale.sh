#!/bin/bash
# tests/bench/scale.sh: `make bench-scale` (and a section of `make bench`). How airpack grows
# with the number of images: 200, 800, 3,200 and 12,800 generated images (tiny distinct
# layers and configs in an OCI layout, tests/tools/gen_images.py), each packed, listed,
# verified, verified --deep and loaded into an oci: directory twice (first load, and the
# same bundle again: nothing to write). For each step from one size to the next it prints the
# time ratio divided by the image ratio (growth; target <= 1.3, i.e. nothing grows faster
# than the images), the peak RSS (target < 256 MiB), the first load against its floor
# (cp + fsync of the bundle), and whether verify --deep accepted every bundle pack made.
# A report, not a test: exits 0 whether targets are met or missed, 2 when a command failed.
#   SCALE_SIZES="200 800 3200 12800"   image counts
#   AIRPACK_BENCH_CACHE                where layouts and bundles live (/var/tmp/airpack-bench)
#   SCALE_JSON                         results (tests/bench/results/scale.json)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
AIRPACK=${AIRPACK:-$TOP/build/airpack}
CACHE=${AIRPACK_BENCH_CACHE:-/var/tmp/airpack-bench}/scale
SIZES=${SCALE_SIZES:-200 800 3200 12800}
JSON=${SCALE_JSON:-$HERE/results/scale.json}
TIME=/usr/bin/time
say() { echo "scale: $*" >&2; }
[ -x "$AIRPACK" ] || { say "no $AIRPACK: run make"; exit 2; }
[ -x "$TIME" ] || { say "needs GNU time (apt-get install time)"; exit 2; }
command -v python3 >/dev/null || { say "needs python3"; exit 2; }
mkdir -p "$CACHE" "$(dirname "$JSON")"
R=$CACHE/run
rm -rf "$R"; mkdir -p "$R"
"$AIRPACK" keygen -W -p "$R/pub" -s "$R/sec" >/dev/null 2>&1 || { say "airpack keygen failed"; exit 2; }
RAW=$R/raw.tsv; : >"$RAW"
failed=0

# measure N STEP command...: wall seconds and peak RSS (KiB) into RAW; output in $R/STEP-N.out
measure() {
    local n=$1 step=$2 out
    shift 2
    out=$R/$step-$n
    if ! "$TIME" -f "%e %M" -o "$out.time" "$@" >"$out.out" 2>"$out.err"; then
        say "$step ($n images) failed: $(tail -2 "$out.err" | tr '\n' ' ')"
        failed=1
        echo "$n	$step	fail	0" >>"$RAW"
        return 1
    fi
    read -r secs kib <"$out.time"
    echo "$n	$step	$secs	$kib" >>"$RAW"
}
FLOOR=(sh -c 'cp "$1" "$2" && sync "$2"' floor)   # cp + fsync of the copy

for n in $SIZES; do
    L=$CACHE/layout-$n
    if [ ! -f "$L/index.json" ]; then
        say "generating $n images"
        rm -rf "$L.tmp" && python3 "$TOP/tests/tools/gen_images.py" "$n" "$L.tmp" && mv "$L.tmp" "$L" ||
            { say "gen_images.py $n failed"; exit 2; }
    fi
    B=$R/bundle-$n.tar
    say "$n images"
    cat "$L/index.json" >/dev/null
    measure "$n" pack "$AIRPACK" pack -q -s "$R/sec" -o "$B" "oci:$L" || continue
    measure "$n" ls "$AIRPACK" ls "$B"
    measure "$n" verify "$AIRPACK" verify -q -p "$R/pub" "$B"
    measure "$n" verify_deep "$AIRPACK" verify -q --deep -p "$R/pub" "$B" ||
        say "verify --deep refused the bundle pack made ($n images)"
    rm -rf "$R/oci-$n" "$R/copy-$n"
    measure "$n" floor_cp_fsync "${FLOOR[@]}" "$B" "$R/copy-$n"
    rm -f "$R/copy-$n"
    measure "$n" load_oci_first "$AIRPACK" load -q -p "$R/pub" --into "oci:$R/oci-$n" "$B"
    measure "$n" load_oci_again "$AIRPACK" load -q -p "$R/pub" --into "oci:$R/oci-$n" "$B"
    rm -rf "$R/oci-$n"
done

python3 - "$RAW" "$JSON" "$SIZES" <<'PY'
import json, sys, platform, os
raw, out, sizes = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split()]
r = {}
for line in open(raw):
    n, step, secs, kib = line.rstrip("\n").split("\t")
    r.setdefault(step, {})[int(n)] = None if secs == "fail" else (float(secs), int(kib))
steps = ["pack", "ls", "verify", "verify_deep", "load_oci_first", "load_oci_again", "floor_cp_fsync"]
print("\nscale: wall seconds (peak RSS MiB) by image count; growth = time ratio / image ratio (target <= 1.3)")
print("%-16s" % "step" + "".join("%18d" % n for n in sizes) + "   growth " +
      " ".join("%d->%d" % (a, b) for a, b in zip(sizes, sizes[1:])))
res = {"sizes": sizes, "steps": {}, "machine": platform.node(), "cores": os.cpu_count()}
misses = []
for s in steps:
    row, gr = [], []
    for n in sizes:
        v = r.get(s, {}).get(n)
        row.append("%18s" % ("failed" if v is None else "%.2f (%d)" % (v[0], v[1] // 1024)))
        if v and v[1] >= 256 * 1024 and s != "floor_cp_fsync":
            misses.append("%s at %d images: peak %d MiB" % (s, n, v[1] // 1024))
    for a, b in zip(sizes, sizes[1:]):
        va, vb = r.get(s, {}).get(a), r.get(s, {}).get(b)
        if va and vb:
            g = (vb[0] / max(va[0], 0.01)) / (b / a)
            gr.append(g)
        else:
            gr.append(None)
    print("%-16s" % s + "".join(row) + "   " + " ".join("-" if g is None else "%.2f" % g for g in gr))
    last = gr[-1] if gr else None
    if s != "floor_cp_fsync" and last is not None and last > 1.3:
        misses.append("%s grows %.2fx faster than the images from %d to %d" % (s, last, sizes[-2], sizes[-1]))
    res["steps"][s] = {str(n): (None if r.get(s, {}).get(n) is None else
                                {"seconds": r[s][n][0], "peak_rss_kib": r[s][n][1]}) for n in sizes}
    res["steps"][s]["growth"] = gr
for n in sizes:
    f, l = r.get("floor_cp_fsync", {}).get(n), r.get("load_oci_first", {}).get(n)
    if f and l:
        print("load --into oci: (first) at %d images: %.2fx its floor (cp + fsync of the bundle, %.2f s)" %
              (n, l[0] / max(f[0], 0.01), f[0]))
deep_ok = all(r.get("verify_deep", {}).get(n) is not None for n in sizes)
print("verify --deep accepted every bundle pack made: %s" % ("yes" if deep_ok else "NO"))
res["deep_accepts_every_bundle"] = deep_ok
res["misses"] = misses
print("targets missed: " + ("none" if not misses else "; ".join(misses)))
json.dump(res, open(out, "w"), indent=1)
PY
[ $failed -eq 0 ] || exit 2
exit 0
