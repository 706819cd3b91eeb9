"""Benchmark the tracking of a training run and write benchmarks/results/track.md.

The issue's target: 40 snapshots of a 2-16-16-1 network, 10 random filtrations per snapshot,
tracked in 3 minutes or less. The snapshots come from a seeded training run (XOR, 2-16-16-1,
full batch; PyTorch extra) at epochs 50, 100, ..., 2000; without PyTorch, from a seeded random
walk of a 2-16-16-1 network (same sizes). Only the tracking is timed (every signature of
:mod:`exactcells.tracking`: two exact complexes, homology, 2 x 10 filtrations through PHAT,
three Fiedler problems, the Hamming-1 proxy and the 200 x 200 pixel pipeline per snapshot),
with ``jobs`` worker processes and an empty cache; the training time is reported beside it.

    python benchmarks/bench_track.py [--jobs 2] [--out benchmarks/results/track.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TARGET_S = 180.0


def snapshots_from_training() -> tuple[list, str, float]:
    from exactcells.training import TrainConfig, train

    cfg = TrainConfig(task="xor", arch="2-16-16-1", epochs=2000, every=50, seed=0)
    t0 = time.perf_counter()
    run = train(cfg)
    dt = time.perf_counter() - t0
    snaps = [s for s in run.snapshots if s.epoch > 0][:40]
    return snaps, "training run: xor, 2-16-16-1, AdamW lr 0.01, 200 points, epochs 50..2000", dt


def snapshots_from_random_walk() -> tuple[list, str, float]:
    from exactcells import network_from_arrays
    from exactcells.tracking import Snapshot

    rng = np.random.default_rng(0)
    dims = [2, 16, 16, 1]
    params = [(rng.normal(size=(o, i)) / np.sqrt(i), rng.normal(size=o) * 0.5)
              for i, o in zip(dims[:-1], dims[1:])]
    snaps = []
    for e in range(40):
        params = [(W + 0.05 * rng.normal(size=W.shape), b + 0.05 * rng.normal(size=b.shape))
                  for W, b in params]
        arrs = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
        snaps.append(Snapshot(50 * (e + 1), network_from_arrays(arrs), loss=1.0 / (e + 1)))
    return snaps, "seeded random walk of a 2-16-16-1 network (PyTorch not installed)", 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "track.md"))
    args = ap.parse_args()
    from exactcells.tracking import TrackSettings, track

    try:
        import torch  # noqa: F401

        snaps, source, train_s = snapshots_from_training()
    except ImportError:
        snaps, source, train_s = snapshots_from_random_walk()
    settings = TrackSettings(repeats=10)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = track(snaps, settings, jobs=args.jobs, cache_dir=Path(tmp) / "results")
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = track(snaps, settings, jobs=args.jobs, cache_dir=Path(tmp) / "results")
        resume = time.perf_counter() - t1
    assert again == res and again.cached == len(snaps)
    per = [r.seconds for r in res.results]
    regions = res.series("num_regions")
    cells = res.series("num_cells")
    ok = wall <= TARGET_S
    lines = [
        "## Tracking through training (`bench_track.py`)",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}), {datetime.date.today().isoformat()}; `--jobs {args.jobs}`; "
        f"load average {load:.1f} at the start (the machine is shared).",
        f"Snapshots: {len(snaps)} from a {source} (training took {train_s:.1f} s, not counted).",
        f"Per snapshot: {int(regions.min())}..{int(regions.max())} regions, "
        f"{int(cells.min())}..{int(cells.max())} cells; {settings.repeats} random and "
        f"{settings.repeats} dimension-random filtrations, homology of F = 0 and F >= 0, three Fiedler "
        f"problems, Hamming-1 proxy, {settings.pixels} x {settings.pixels} pixel pipeline.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| 40 snapshots, 10 filtrations each, wall time | **{wall:.1f} s** | <= {TARGET_S:.0f} s "
        f"({'met' if ok else 'NOT met'}) |",
        f"| per snapshot, in a worker (median / max) | {np.median(per):.2f} s / {max(per):.2f} s | |",
        f"| resumed run (all 40 from the cache) | {resume:.1f} s | |",
        "",
    ]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
