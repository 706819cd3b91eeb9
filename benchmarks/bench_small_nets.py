"""Two checkouts of exactcells side by side on small networks: CPU time, first call, peak memory.

Each measurement runs in a fresh subprocess with ``PYTHONPATH`` set to one checkout (its compiled
extension built in place): the CPU time (``time.process_time``) and wall time of the first
``build_complex`` call of the process, then of a second one (warm), the peak resident memory
(``VmHWM``, the process's own: see ``peak.py``) after the first build, and the heavy modules the process has loaded by then.
Runs alternate checkout by checkout (A, B, A, B, ...), so slow minutes on a shared machine hit
both; medians over the repeats (memory: the maximum).

    python benchmarks/bench_small_nets.py BEFORE_DIR AFTER_DIR [--nets E S2_64 ...]
                                          [--repeats 5] [--out FILE.md]

Networks are found as :mod:`benchmarks.bench_peers` finds them (A-F here, ``S*``/``D4_*`` in
../shared/benchmarks/scaling).
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

HERE = Path(__file__).resolve().parent

CODE = OWN_PEAK_SOURCE + r"""
import json, sys, time
t0 = time.process_time()
from exactcells import load_network, build_complex
net = load_network(sys.argv[1])
t1 = time.process_time()
w = time.perf_counter(); u = time.process_time(); K = build_complex(net)
cpu1 = time.process_time() - u; wall1 = time.perf_counter() - w
rss = own_peak_mib()
mods = sorted(m for m in ("flint", "cdd", "scipy", "networkx", "matplotlib") if m in sys.modules)
w = time.perf_counter(); u = time.process_time(); K2 = build_complex(net)
cpu2 = time.process_time() - u; wall2 = time.perf_counter() - w
print(json.dumps({"import_cpu": t1 - t0, "cpu1": cpu1, "wall1": wall1, "cpu2": cpu2, "wall2": wall2,
                  "rss_mib": rss, "cells": K.num_cells, "modules": mods}))
"""


def run(tree: Path, path: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CODE, str(path)], capture_output=True, text=True,
                         check=True, timeout=3600, env=env, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--nets", nargs="+", default=["E", "S2_64", "S2_128", "C", "F"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    rows = []
    for name in args.nets:
        path = find_network(name)
        res: dict[str, list[dict[str, object]]] = {k: [] for k in trees}
        for _ in range(args.repeats):
            for k, tree in trees.items():
                res[k].append(run(tree, path))
        b, a = res["before"], res["after"]
        if b[0]["cells"] != a[0]["cells"]:
            raise SystemExit(f"{name}: {b[0]['cells']} cells before, {a[0]['cells']} after")

        def med(rs: list[dict[str, object]], key: str) -> float:
            return statistics.median(float(r[key]) for r in rs)  # type: ignore[arg-type]

        row = (name, a[0]["cells"], med(b, "cpu1"), med(a, "cpu1"), med(b, "cpu2"), med(a, "cpu2"),
               med(b, "wall1"), med(a, "wall1"), med(b, "import_cpu"), med(a, "import_cpu"),
               max(float(r["rss_mib"]) for r in b), max(float(r["rss_mib"]) for r in a),  # type: ignore[arg-type]
               ",".join(b[0]["modules"]) or "-", ",".join(a[0]["modules"]) or "-")  # type: ignore[arg-type]
        rows.append(row)
        print(f"{name}: first-call CPU {row[2]:.3f} -> {row[3]:.3f} s, warm {row[4]:.3f} -> {row[5]:.3f} s, "
              f"peak {row[10]:.0f} -> {row[11]:.0f} MiB", file=sys.stderr)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"# before / after ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, medians of {args.repeats}, "
        f"interleaved; load average at the end {load})",
        "",
        "| net | cells | first call CPU s before | after | warm CPU s before | after | first call wall s before "
        "| after | import+load CPU s before | after | peak MiB before | after | heavy modules before | after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]:,} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.3f} | "
                     f"{r[7]:.3f} | {r[8]:.3f} | {r[9]:.3f} | {r[10]:.0f} | {r[11]:.0f} | {r[12]} | {r[13]} |")
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
