"""exactcells and Regioncam side by side on the same 2-D networks, interleaved, medians of 3.

Each measurement runs in a fresh subprocess (so the peak resident memory is that run's own):
exactcells builds the complex cut by the hidden neurons (every cell of every dimension, exact);
Regioncam (Rust, float32, 2-D only; ``pip install regioncam``) computes its regions on the same
box ``[-1, 1]^2``. Times are the time inside the call (imports and loading excluded), wall
clock and CPU time of the process (the CPU-time ratio is the steadier one on a shared machine);
memory is the subprocess's own peak resident set (``VmHWM``, see ``peak.py``; bytes/cell: that peak over the number of cells of
every dimension). Runs alternate tool by tool (exactcells, Regioncam, exactcells,
...), so slow minutes on a shared machine hit both.

    python benchmarks/bench_peers.py [--nets S2_64 S2_128 A B E] [--alone C D F S3_48 ...]
                                     [--repeats 3] [--out FILE.md]

exactcells' time is ``build_complex`` (every cell, its sign vector and facets, exact; the
exact vertex coordinates are computed when first asked for); *coords s* is the time of that
first request (all vertices at once). *exact path* is the share of vertex sign tests that the
float filter (exactcells.kernel) could not decide and the exact path did.

Networks: A, B, E from ``benchmarks/networks`` (or ../shared/benchmarks); ``S2_*`` from
../shared/benchmarks/scaling (not in the repository: large files).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from networks import find_network
from peak import OWN_PEAK_SOURCE

HERE = Path(__file__).resolve().parent

EXACT = OWN_PEAK_SOURCE + r"""
import json, sys, time
from exactcells import load_network, build_complex
from exactcells.kernel import TOTALS
net = load_network(sys.argv[1])
t = time.perf_counter(); u = time.process_time(); K = build_complex(net)
s = time.perf_counter() - t; cpu = time.process_time() - u
rss = own_peak_mib()
t = time.perf_counter(); K.vertex_homogeneous(0); c = time.perf_counter() - t
tests = TOTALS["decided"] + TOTALS["exact"]
print(json.dumps({"seconds": s, "cpu": cpu, "regions": K.num_regions, "cells": K.num_cells, "coords": c,
                  "exact_share": TOTALS["exact"] / max(tests, 1), "tests": tests,
                  "rss_mib": rss,
                  "rss_coords_mib": own_peak_mib()}))
"""

PEER = OWN_PEAK_SOURCE + r"""
import json, sys, time
import numpy as np
import regioncam
d = json.load(open(sys.argv[1]))
layers = [(np.array(L["W"], dtype=np.float32), np.array(L["b"], dtype=np.float32)) for L in d["layers"]]
t = time.perf_counter(); u = time.process_time()
rc = regioncam.Regioncam(size=1)
for W, b in layers[:-1]:
    rc.linear(W.T, b)
    rc.relu()
s = time.perf_counter() - t; cpu = time.process_time() - u
print(json.dumps({"seconds": s, "cpu": cpu, "regions": int(rc.num_faces),
                  "rss_mib": own_peak_mib()}))
"""


def run(code: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["A", "B", "E", "S2_64", "S2_128"])
    ap.add_argument("--alone", nargs="*", default=["C", "D", "F", "S3_32", "D4_10x3"],
                    help="networks measured for exactcells only (Regioncam is 2-D only)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "peers.md")
    args = ap.parse_args()
    rows = []
    for name in args.nets:
        path = find_network(name)
        ex, pe = [], []
        for _ in range(args.repeats):
            ex.append(run(EXACT, path))
            pe.append(run(PEER, path))
        te = statistics.median(r["seconds"] for r in ex)
        tp = statistics.median(r["seconds"] for r in pe)
        me = max(r["rss_mib"] for r in ex)
        mp = max(r["rss_mib"] for r in pe)
        ce = statistics.median(r["cpu"] for r in ex)
        cp = statistics.median(r["cpu"] for r in pe)
        rows.append((name, ex[0]["regions"], pe[0]["regions"], te, tp, te / tp, me, mp,
                     statistics.median(r["coords"] for r in ex), ex[0]["exact_share"], ce / cp,
                     me * 2**20 / ex[0]["cells"]))
        print(f"{name}: exactcells {te:.3f} s ({ex[0]['regions']} regions, {me:.0f} MiB), "
              f"Regioncam {tp:.3f} s ({pe[0]['regions']} regions, {mp:.0f} MiB), ratio {te / tp:.1f}x",
              file=sys.stderr)
    alone = []
    for name in args.alone:
        path = find_network(name)
        ex = [run(EXACT, path) for _ in range(args.repeats)]
        alone.append((name, ex[0]["cells"], ex[0]["regions"], statistics.median(r["seconds"] for r in ex),
                      statistics.median(r["coords"] for r in ex), max(r["rss_mib"] for r in ex),
                      ex[0]["exact_share"], ex[0]["tests"], statistics.median(r["cpu"] for r in ex)))
        print(f"{name}: exactcells {alone[-1][3]:.3f} s", file=sys.stderr)
    load = " ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    lines = [
        f"# exactcells vs Regioncam ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}, medians of "
        f"{args.repeats}, interleaved; load average at the end {load})",
        "",
        "| net | regions (exact) | regions (Regioncam) | exactcells s | Regioncam s | ratio | "
        "CPU-time ratio | exactcells peak MiB | Regioncam peak MiB | exactcells bytes/cell | coords s | "
        "exact path |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, re_, rp, te, tp, ratio, me, mp, co, share, cratio, bpc in rows:
        lines.append(f"| {name} | {re_:,} | {rp:,} | {te:.3f} | {tp:.3f} | {ratio:.1f}x | {cratio:.1f}x | "
                     f"{me:.1f} | {mp:.1f} | {bpc:,.0f} | {co:.2f} | {100 * share:.3f}% |")
    if alone:
        lines += ["", "exactcells alone (3-D and 4-D):", "",
                  "| net | cells | regions | exactcells s | CPU s | coords s | peak MiB | bytes/cell | sign tests | "
                  "exact path |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, cells, regions, te, co, me, share, tests, cpu in alone:
            lines.append(f"| {name} | {cells:,} | {regions:,} | {te:.3f} | {cpu:.3f} | {co:.2f} | {me:.1f} | "
                         f"{me * 2**20 / cells:,.0f} | {tests:,} | {100 * share:.3f}% |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
