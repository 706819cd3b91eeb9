"""The paper study's grid with ``--jobs 1`` (one process) and ``--jobs 2`` (a local Dask cluster),
from scratch in new folders: wall and CPU time, and whether the data are byte-identical.

The subset (``--seeds 3 --regimes tool,adamw --archs 2-16-16-1``: 36 runs of the six tasks) keeps
the measurement to a few minutes; its runs are those of the full grid (``study_grid.py``), so the
ratio carries over to it. Each invocation runs ``validation/paper/run_study.py`` in its own process
(CPU time: that of the finished child processes, from ``resource``; the Dask workers are children of the study process).

    python benchmarks/bench_study_jobs.py [--dir /tmp/study-jobs] [--out results/study_jobs.md]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUDY = HERE.parent / "validation" / "paper" / "run_study.py"
SUBSET = ["--seeds", "3", "--regimes", "tool,adamw", "--archs", "2-16-16-1"]


def run(out: Path, jobs: int) -> tuple[float, float]:
    if out.exists():
        shutil.rmtree(out)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, str(STUDY), "--out", str(out), "--jobs", str(jobs), *SUBSET],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/study-jobs"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "study_jobs.md")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    res = {J: run(args.dir / f"jobs{J}", J) for J in (1, 2)}
    same = filecmp.cmp(args.dir / "jobs1" / "data" / "grid_runs.csv", args.dir / "jobs2" / "data" / "grid_runs.csv",
                       shallow=False)
    (w1, c1), (w2, c2) = res[1], res[2]
    lines = [
        f"# The study grid with --jobs 1 and --jobs 2 ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)",
        "",
        f"`run_study.py {' '.join(SUBSET)}` (36 runs), from scratch each time.",
        "",
        "| jobs | wall s | CPU s (all processes) | speed-up |",
        "|---|---|---|---|",
        f"| 1 (one process) | {w1:.1f} | {c1:.1f} | 1.00x |",
        f"| 2 (local Dask cluster, its start included) | {w2:.1f} | {c2:.1f} | {w1 / w2:.2f}x |",
        "",
        f"`data/grid_runs.csv` byte-identical between the two: {'yes' if same else 'NO'}.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
