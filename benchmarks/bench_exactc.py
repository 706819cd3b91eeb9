"""The exact coordinates and the default certificate against the build, per network, in CPU
seconds: this checkout, and optionally another one (``--before DIR``, e.g. a worktree of an older
commit with its extensions built), interleaved network by network, each measurement in a fresh
process after one warm-up build and certificate (imports). Appends a table to
benchmarks/results/exactc.md.

    python benchmarks/bench_exactc.py [--nets F D2_16x4 D4_10x3 S3_48 3-48-48-1] [--before DIR]

Networks: by name as ``benchmarks/networks.py``'s ``find_network`` finds them (A-F in the repository;
the scaling networks from ../shared/benchmarks/scaling), and ``3-48-48-1`` (bench_large.py's).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import gc, json, sys, time
import numpy as np
from exactcells import build_complex, kernel, load_network, network_from_dict
from exactcells.certify import certify
name, here = sys.argv[1], sys.argv[2]
if name == "3-48-48-1":
    rng = np.random.default_rng(1)
    layers = []
    for a, b in zip((3, 48, 48), (48, 48, 1)):
        W = rng.normal(0, np.sqrt(2 / a), (b, a))
        bias = rng.normal(0, 0.1, b)
        layers.append({"W": W.tolist(), "b": bias.tolist()})
    net = network_from_dict({"layers": layers})
else:
    sys.path.insert(0, here)
    from networks import find_network
    net = load_network(find_network(name))
K0 = build_complex(net)
certify(K0)
del K0
gc.collect()
c0 = time.process_time(); K = build_complex(net); c1 = time.process_time()
K.vertex_homogeneous(0); c2 = time.process_time()
cert = certify(K); c3 = time.process_time()
print(json.dumps({"cells": K.num_cells, "build": c1 - c0, "coords": c2 - c1, "cert": c3 - c2,
                  "certified": cert.certified, "gmp": getattr(kernel, "GMP", None) is not None}))
"""


def run(root: Path, name: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", CHILD, name, str(HERE)], env=env, capture_output=True,
                         text=True, check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="*", default=["F", "D2_16x4", "D4_10x3", "S3_48", "3-48-48-1"])
    ap.add_argument("--before", help="another checkout to measure the same way (extensions built in place)")
    args = ap.parse_args()
    roots = [("before", Path(args.before))] if args.before else []
    roots.append(("this checkout", ROOT))
    load0 = os.getloadavg()[0]
    rows = []
    for name in args.nets:
        for label, root in roots:
            r = run(root, name)
            ratio = (r["coords"] + r["cert"]) / r["build"]
            rows.append(f"| {name} | {label} | {r['cells']:,} | {r['build']:.2f} | {r['coords']:.2f} | "
                        f"{r['cert']:.2f} | **{ratio:.2f}x** | {'GMP' if r['gmp'] else 'Python'} | "
                        f"{'yes' if r['certified'] else 'NO'} |")
            print(rows[-1], flush=True)
    head = [
        f"## Coordinates and certificate against the build ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python benchmarks/bench_exactc.py --nets {' '.join(args.nets)}"
        + (" --before DIR`" if args.before else "`")
        + f": CPU seconds, fresh process per measurement after a warm-up, {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, load average {load0:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end. The ratio is (coordinates + certificate) / build: "
        "the default certificate of a fresh build, which must first rebuild the exact coordinates.",
        "",
        "| network | code | cells | build | coordinates | certificate | ratio | exact integers | certified |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    out = HERE / "results" / "exactc.md"
    old = out.read_text() if out.exists() else ""
    out.write_text("\n".join(head + rows) + "\n\n" + old)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
