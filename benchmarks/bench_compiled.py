"""The build with and without the compiled passes, against another checkout, interleaved.

    python benchmarks/bench_compiled.py --base /tmp/base-checkout [--nets E S2_64 C ...]
                                        [--repeats 3] [--out FILE.md]

For every network, and ``--repeats`` rounds, three fresh processes in turn: ``build_complex``
from the checkout given by ``--base`` (e.g. ``git worktree add --detach /tmp/base main``), from
this checkout with its compiled passes, and from this checkout with ``EXACTCELLS_NO_EXT=1``
(its numpy passes). Each process puts its checkout first on ``sys.path``, loads the network,
and times one build: CPU time (``time.process_time``, all threads of the process: the steadier
figure on a shared machine) and wall time; medians are reported. The cell counts must agree.
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

HERE = Path(__file__).resolve().parent

CODE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import exactcells
assert exactcells.__file__.startswith(sys.argv[1]), exactcells.__file__
from exactcells import build_complex, load_network, kernel
net = load_network(sys.argv[2])
t = time.perf_counter(); u = time.process_time(); K = build_complex(net)
cpu = time.process_time() - u; wall = time.perf_counter() - t
print(json.dumps({"cpu": cpu, "wall": wall, "cells": K.num_cells,
                  "compiled": getattr(kernel, "EXT", None) is not None}))
"""


def run(tree: Path, net: Path, no_ext: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("EXACTCELLS_NO_EXT", None)
    if no_ext:
        env["EXACTCELLS_NO_EXT"] = "1"
    out = subprocess.run([sys.executable, "-c", CODE, str(tree), str(net)], capture_output=True, text=True,
                         check=True, timeout=3600, env=env, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the checkout to compare with")
    ap.add_argument("--nets", nargs="+", default=["E", "S2_64", "S2_128", "C", "F", "D4_10x3", "D4_16x3",
                                                 "S3_48"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    here = HERE.parent
    variants = [("base", args.base.resolve(), False), ("compiled", here, False), ("numpy", here, True)]
    rows = []
    t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name in args.nets:
        path = find_network(name)
        res: dict[str, list[dict[str, float]]] = {v: [] for v, _, _ in variants}
        for _ in range(args.repeats):
            for v, tree, no_ext in variants:
                res[v].append(run(tree, path, no_ext))
        cells = {r["cells"] for rs in res.values() for r in rs}
        assert len(cells) == 1, f"{name}: cell counts differ: {cells}"
        assert all(r["compiled"] for r in res["compiled"]), "the extension is not built in this checkout"
        med = {v: (statistics.median(r["cpu"] for r in rs), statistics.median(r["wall"] for r in rs))
               for v, rs in res.items()}
        row = (f"| {name} | {cells.pop():,} | {med['base'][0]:.3f} | {med['numpy'][0]:.3f} | "
               f"{med['compiled'][0]:.3f} | {med['base'][0] / med['compiled'][0]:.2f}x | "
               f"{med['base'][1]:.3f} | {med['numpy'][1]:.3f} | {med['compiled'][1]:.3f} |")
        print(row, flush=True)
        rows.append(row)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    head = (f"# The build with and without the compiled passes ({t0} to "
            f"{time.strftime('%H:%M UTC', time.gmtime())}, {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, medians of {args.repeats}, interleaved; load average at "
            f"the end {load})\n\n"
            "| net | cells | base CPU s | numpy passes CPU s | compiled CPU s | base / compiled (CPU) | "
            "base wall s | numpy wall s | compiled wall s |\n|---|---|---|---|---|---|---|---|---|\n")
    text = head + "\n".join(rows) + "\n"
    print(text)
    if args.out:
        from exactcells.io import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
