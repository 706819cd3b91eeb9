"""The exact vertex coordinates (the kernel's lazy rebuild) and the certificate, in CPU time.

Each network runs in a fresh subprocess: ``build_complex`` (every cell, exact), then the first
request for the exact vertex coordinates (``K._coords``: the rebuild of every vertex from its
creation record, :meth:`exactcells.kernel.VertexStore.exact_coords`, including the one-time
integer network), then optionally ``certify(K, jobs=1)`` (the default structural proof and the
exact volumes, all in the measuring process so its CPU time is the whole cost) with the time of
each check (wall seconds, as the certificate reports them), and the certificate's forward pass
alone (``exact_sign_vectors`` at every vertex, the vertex_signs check's work). Times are process
CPU seconds (``time.process_time``), so other load on a shared machine slows them less than wall
time; the load average is recorded with each run.

    python benchmarks/bench_coords.py [--nets E S2_128 S2_256 S3_48] [--certify]
                                      [--repeats 1] [--code DIR ...] [--out FILE.md]

To measure an older version, run this script with ``PYTHONPATH`` pointing at a checkout of it
(``git archive COMMIT | tar -x -C DIR``), or give ``--code OLD NEW``: every network then runs
once per checkout and repeat, alternating (``git worktree add --detach DIR COMMIT``), so that the
versions see the same load. A network is a name (``find_network``) or a path to its file.

Networks: A-F from ``benchmarks/networks``; ``S2_*``, ``S3_*``, ``D4_*`` from
../shared/benchmarks/scaling (not in the repository: large files).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from networks import find_network
from peak import OWN_PEAK_SOURCE

RUN = OWN_PEAK_SOURCE + r"""
import json, os, sys, time
from exactcells import load_network, build_complex
net = load_network(sys.argv[1])
load0 = os.getloadavg()[0]
t = time.process_time(); K = build_complex(net); build = time.process_time() - t
t = time.process_time(); C = K._coords; coords = time.process_time() - t
out = {"build": build, "coords": coords, "vertices": len(C), "cells": K.num_cells,
       "regions": K.num_regions}
if sys.argv[2] == "1":
    from exactcells.certify import certify
    t = time.process_time(); cert = certify(K, jobs=1); out["certify"] = time.process_time() - t
    out["certified"] = cert.certified
    out["checks"] = {c.name: c.seconds for c in cert.checks}  # wall seconds of each check
    # the certificate's forward pass alone (the vertex_signs check's work), in CPU seconds
    from exactcells.certify import exact_sign_vectors
    H = [K.vertex_homogeneous(v) for v in range(len(C))]
    t = time.process_time(); exact_sign_vectors(K.network, K.domain, H); out["signs"] = time.process_time() - t
out["rss_mib"] = own_peak_mib()
out["load"] = [load0, os.getloadavg()[0]]
print(json.dumps(out))
"""


def run(path: Path, certify: bool, code: str | None = None) -> dict:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = code
    out = subprocess.run([sys.executable, "-c", RUN, str(path), "1" if certify else "0"],
                         capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise SystemExit(f"bench_coords: {path.name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["E", "S2_128", "S2_256", "S3_48"])
    ap.add_argument("--certify", action="store_true", help="also certify(K, jobs=1)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--code", nargs="+", help="checkouts to compare (PYTHONPATH of each run), alternating")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    rows = []
    codes = a.code or [None]
    for name in a.nets:
        path = Path(name) if Path(name).is_file() else find_network(name)
        allruns: dict[str | None, list[dict]] = {c: [] for c in codes}
        for _ in range(a.repeats):
            for c in codes:
                allruns[c].append(run(path, a.certify, c))
        for c in codes:
            rows.append(_row(path.stem if c is None else f"{path.stem} ({c})", allruns[c], a.certify))
            print(json.dumps(rows[-1]), flush=True)
    _write(rows, a.repeats, a.out)


def _row(name: str, runs: list[dict], certify: bool) -> dict:
    med = {k: statistics.median(r[k] for r in runs) for k in ("build", "coords")}
    r0 = runs[0]
    row = {"net": name, **med, "vertices": r0["vertices"], "cells": r0["cells"],
           "regions": r0["regions"], "rss_mib": max(r["rss_mib"] for r in runs),
           "load": [round(x, 1) for r in runs for x in r["load"]]}
    if certify:
        row["certify"] = statistics.median(r["certify"] for r in runs)
        row["certified"] = all(r["certified"] for r in runs)
        row["signs"] = statistics.median(r["signs"] for r in runs)
        row["checks"] = {k: statistics.median(r["checks"][k] for r in runs) for k in r0["checks"]}
    return row


def _write(rows: list[dict], repeats: int, out: Path | None) -> None:
    lines = [f"# exact coordinates and certificate, CPU seconds ({time.strftime('%Y-%m-%d')}, "
             f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"median of {repeats})", "",
             "| net | cells | vertices | build s | coords s | coords / build | certify s | certify / build | "
             "vertex sign vectors s | load avg (start, end) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['net']} | {r['cells']:,} | {r['vertices']:,} | {r['build']:.2f} | "
                     f"{r['coords']:.2f} | {r['coords'] / r['build']:.2f} | "
                     f"{r.get('certify', float('nan')):.2f} | {r.get('certify', float('nan')) / r['build']:.2f} | "
                     f"{r.get('signs', float('nan')):.2f} | "
                     f"{', '.join(map(str, r['load']))} |")
    text = "\n".join(lines) + "\n"
    if out:
        out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
