"""A complex of at least 5 million cells built, sharded and certified on a Dask cluster, with the
peak resident memory of every process.

Network 3-84-84-1 drawn with the benchmark recipe (``W ~ N(0, sqrt(2 / fan_in))``,
``b ~ N(0, 0.1)``, float64, layer by layer, ``numpy.random.default_rng(1)``), box [-1, 1]^3, cut
by the hidden neurons. Two phases, each on its own local cluster of ``--jobs`` workers:

1. ``build``: ``build_on_cluster(..., out=DIR)``: the workers write the shards, nothing is gathered;
2. ``certify``: ``certify_on_cluster(DIR, volumes=True)``: per-shard checks, cross-shard walls, and
   (the opt-in cross-check) the exact volumes of every shard's top cells reduced as a tree of Dask
   tasks; nothing is gathered.

Peak resident memory: every 0.25 s a thread reads ``VmHWM`` (the kernel's high-water mark of the
resident set, so peaks between two reads are not missed) from ``/proc/PID/status`` of this process
(the client, which also runs the local scheduler) and of all its descendants (the Dask workers).
The phases' records go to ``DIR/../large_sharded.json``; ``report`` writes
benchmarks/results/large_sharded.md (``python benchmarks/collect.py`` adds it to RESULTS.md).

    nice -n 15 python benchmarks/bench_large_sharded.py all --dir /tmp/large5m
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from exactcells import network_from_dict
from exactcells.network import Network

HERE = Path(__file__).resolve().parent
WIDTHS = (3, 84, 84, 1)
LIMIT_MIB = 6 * 1024


def network(widths: tuple[int, ...] = WIDTHS, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        W = rng.normal(0, np.sqrt(2 / a), (b, a))
        bias = rng.normal(0, 0.1, b)
        layers.append({"W": W.tolist(), "b": bias.tolist()})
    return network_from_dict({"layers": layers})


def _hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a child belongs to the thread that started it)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return out


def _role(pid: int) -> str:
    if pid == os.getpid():
        return "client + local scheduler"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "process"
    if "resource_tracker" in cmd:
        return "multiprocessing resource tracker"
    if "spawn_main" in cmd or "distributed" in cmd:
        return "dask worker"
    return "process"


class PeakMonitor:
    """Peak RSS (VmHWM) of this process and of all its descendants, polled in a thread."""

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self.peaks: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> None:
        todo = [os.getpid()]
        while todo:
            pid = todo.pop()
            h = _hwm_kib(pid)
            if h is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0), h)
                if pid not in self.roles:
                    self.roles[pid] = _role(pid)
            todo.extend(_children(pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def report(self) -> list[dict[str, Any]]:
        return [{"pid": pid, "role": self.roles.get(pid, "process"), "peak_mib": round(kib / 1024, 1)}
                for pid, kib in sorted(self.peaks.items())]


def _records(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _save(path: Path, rec: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1) + "\n")
    tmp.replace(path)


def _context(jobs: int) -> dict[str, Any]:
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(), "jobs": jobs,
            "nice": os.nice(0)}


def phase_build(d: Path, jobs: int, partitions: int, rec_path: Path, widths: tuple[int, ...]) -> None:
    from exactcells.parallel import build_on_cluster, cluster

    net = network(widths)
    out = d / "K"
    if out.exists():
        shutil.rmtree(out)
    ctx = _context(jobs)
    stats: list[dict[str, Any]] = []
    with PeakMonitor() as mon:
        t0 = time.perf_counter()
        with cluster(jobs) as client:
            S = build_on_cluster(net, client=client, out=out, partitions=partitions, progress=True,
                                 task_stats=stats)
        wall = time.perf_counter() - t0
    disk = sum(f.stat().st_size for f in out.iterdir())
    rec = _records(rec_path)
    rec["build"] = {**ctx, "widths": list(widths), "seconds": round(wall, 1), "f_vector": list(S.f_vector), "cells": S.num_cells,
                    "partitions": S.partitions, "disk_mib": round(disk / 2**20, 1),
                    "unit_tasks": len(stats), "load_end": round(os.getloadavg()[0], 2),
                    "processes": mon.report()}
    _save(rec_path, rec)
    print(json.dumps(rec["build"], indent=1))


def phase_certify(d: Path, jobs: int, rec_path: Path) -> None:
    from exactcells.parallel import certify_on_cluster, cluster

    ctx = _context(jobs)
    with PeakMonitor() as mon:
        t0 = time.perf_counter()
        with cluster(jobs) as client:
            cert = certify_on_cluster(d / "K", client, volumes=True)
        wall = time.perf_counter() - t0
    rec = _records(rec_path)
    rec["certify"] = {**ctx, "seconds": round(wall, 1), "certified": cert["certified"],
                      "euler_characteristic": cert["euler_characteristic"],
                      "total_volume": cert.get("total_volume"), "domain_volume": cert.get("domain_volume"),
                      "failures": cert["failures"][:5], "not_checked": cert.get("not_checked"),
                      "walls_checked": cert["walls_checked"],
                      "vertices_checked": cert["vertices_checked"],
                      "load_end": round(os.getloadavg()[0], 2), "processes": mon.report()}
    _save(rec_path, rec)
    print(json.dumps(rec["certify"], indent=1))


def _table(procs: list[dict[str, Any]]) -> list[str]:
    rows = ["| process | role | peak resident memory |", "|---|---|---|"]
    for i, p in enumerate(sorted(procs, key=lambda p: -p["peak_mib"])):
        rows.append(f"| {i + 1} | {p['role']} | {p['peak_mib']:,.0f} MiB |")
    return rows


def phase_report(rec_path: Path) -> None:
    rec = _records(rec_path)
    b, c = rec.get("build"), rec.get("certify")
    lines = ["## A sharded complex of over 5 million cells on Dask (`bench_large_sharded.py`)", ""]
    if b is None:
        lines.append("(not measured yet)")
    else:
        peak_b = max(p["peak_mib"] for p in b["processes"])
        arch = "-".join(map(str, b["widths"]))
        lines += [
            f"Measured {b['date']}: {b['cores']} cores, {b['machine']}, Python {b['python']}, a local Dask "
            f"cluster of {b['jobs']} worker processes (one thread each; the scheduler runs in the client), "
            f"`nice -n {b.get('nice', 10)}`, machine shared with other jobs (load average {b['load_start']} at the start "
            f"of the build, {b['load_end']} at its end).",
            f"Network {arch} (benchmark recipe, `default_rng(1)`), box [-1, 1]^3, cut by the hidden "
            f"neurons: f-vector {tuple(b['f_vector'])}, **{b['cells']:,} cells** in {b['partitions']} "
            f"shards ({b['disk_mib']:,.0f} MiB on disk).",
            "",
            "| step | wall time | largest peak resident memory of one process | certified |",
            "|---|---|---|---|",
            f"| build on the cluster, shards written by the workers (`cells --jobs {b['jobs']} --out DIR`) "
            f"| {b['seconds']:,.0f} s | {peak_b:,.0f} MiB | |",
        ]
        if c is not None:
            peak_c = max(p["peak_mib"] for p in c["processes"])
            lines.append(
                f"| certificate of the shards as tasks (`certify_on_cluster`), not gathered "
                f"| {c['seconds']:,.0f} s | {peak_c:,.0f} MiB | {'yes' if c['certified'] else 'NO'} |")
        lines += ["", "Peak resident memory (`VmHWM`) of every process, build:", ""] + _table(b["processes"])
        if c is not None:
            lines += ["", "Certificate:", ""] + _table(c["processes"])
            lines += ["", f"Certificate: Euler characteristic {c['euler_characteristic']}, "
                      f"{c['walls_checked']:,} walls and {c['vertices_checked']:,} vertices checked; "
                      f"exact total volume {c['total_volume']} (the domain's: {c['domain_volume']})."
                      + (f" Failures: {c['failures']}." if c["failures"] else "")
                      + (f" Not checked on shards: {c['not_checked']}." if c.get("not_checked") else "")]
            ok = max(peak_b, peak_c) <= LIMIT_MIB and c["certified"] and b["cells"] >= 5_000_000
            lines += ["", f"**Target (>= 5 million cells built, sharded and certified, no process above "
                      f"6 GiB): {'met' if ok else 'NOT met'}** (largest process {max(peak_b, peak_c):,.0f} MiB)."]
    lines.append("")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "large_sharded.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("phase", choices=("build", "certify", "report", "all"))
    ap.add_argument("--dir", default="/tmp/exactcells-large-sharded", help="work directory (shards + records)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=32)
    ap.add_argument("--widths", default="-".join(map(str, WIDTHS)), help="architecture (smoke tests)")
    a = ap.parse_args()
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    rec_path = d / "large_sharded.json"
    if a.phase in ("build", "all"):
        phase_build(d, a.jobs, a.partitions, rec_path, tuple(int(x) for x in a.widths.split("-")))
    if a.phase in ("certify", "all"):
        phase_certify(d, a.jobs, rec_path)
    if a.phase in ("report", "all"):
        phase_report(rec_path)


if __name__ == "__main__":
    main()
