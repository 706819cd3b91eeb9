"""Certification time vs build time on the six benchmark networks, and the sharded certificate
on a mid-size complex -> benchmarks/results/certify.md.

Part 1 (A-F). Each network (regenerated from benchmarks/networks.py) is built and certified five
times, back to back (build, certify, build, certify, ...), with the default certificate
(``certify(K)``: the structural proof, which proves the complex exact and complete, see
exactcells.certify); the medians and the median of the five ratios are reported. Then, once each:
the opt-in volume cross-check (``certify(K, volumes=True)``: the exact volumes in this process
unless they are expected to take 10 s or more, then split with one Dask worker on a local
cluster, see ``exactcells.certify.AUTO_VOLUME_SECONDS``), the same with ``jobs=1`` (no Dask), and
the optional cddlib recomputation of 10 top cells. Other networks by name (``--nets S3_48``).

Part 2 (sharded, default S3_32 = 3-32-32-1 from ../shared/benchmarks/scaling, 8 partitions). The
complex is built in one process, saved as one ``.npz`` and as a sharded directory; then, each in a
fresh child process (so that its peak memory is its own): the one-process certificate of the
``.npz`` (``certify(K, jobs=1, volumes=True)``), the sharded certificate shard by shard in one
process (``certify_shards``) and as Dask tasks on a local cluster of ``--jobs`` workers
(``certify_on_cluster``; all three with the volume cross-check; the cluster's start counted separately). Peak resident memory is the
kernel's high-water mark (``VmHWM``) of every process (the child, and its Dask workers), polled
every 0.25 s (benchmarks/bench_large_sharded.py's ``PeakMonitor``). The load average at the start
of each part is recorded.

    nice -n 15 python benchmarks/bench_certify.py [--nets A B C D E F] [--sharded S3_32|FILE]
        [--partitions 8] [--jobs 2] [--out benchmarks/results/certify.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from networks import BENCHMARKS, benchmark_network, find_network  # noqa: E402

from exactcells import Domain, build_complex, load_network, network_from_dict  # noqa: E402
from exactcells.certify import certify  # noqa: E402
from exactcells.io import atomic_write_text  # noqa: E402


def _network(name: str) -> Any:
    """A-F regenerated from benchmarks/networks.py; any other name (``S3_48``) from its file."""
    if name in BENCHMARKS:
        return network_from_dict(benchmark_network(name))
    return load_network(find_network(name))


def part_benchmarks(nets: list[str]) -> list[str]:
    load0 = os.getloadavg()[0]
    rows = []
    details = []
    for name in nets:
        net = _network(name)
        tbs, tcs, ratios = [], [], []
        for _ in range(5):
            t = time.perf_counter()
            K = build_complex(net, Domain.box(net.input_dim, -1, 1))
            tbs.append(time.perf_counter() - t)
            default = certify(K)
            tcs.append(default.seconds)
            ratios.append(tcs[-1] / tbs[-1])
        full = certify(K, volumes=True)
        serial = certify(K, volumes=True, jobs=1)
        ncdd = 10
        withcdd = certify(K, cdd_regions=ncdd, jobs=1)
        cdd_per_region = withcdd.check("cdd_regions").seconds / ncdd
        ok = default.certified and full.certified and serial.certified and withcdd.certified
        found = re.search(r"(\d+) processes", full.check("volumes").detail)
        workers = found.group(1) if found else "1"
        tb = statistics.median(tbs)
        rows.append((name, net.architecture, K.f_vector, K.num_cells, tb, statistics.median(tcs), sorted(ratios),
                     full.seconds, workers, serial.seconds, ok, cdd_per_region, cdd_per_region * K.num_regions))
        details.append((name, serial))
        print(f"{name}: build {tb:.2f} s, certify {statistics.median(tcs):.2f} s "
              f"(ratios {', '.join(f'{r:.2f}' for r in sorted(ratios))}), with volumes {full.seconds:.2f} s "
              f"({serial.seconds:.2f} s in one process), certified {ok}", file=sys.stderr, flush=True)
    lines = [
        "## Certification (`exactcells.certify`)",
        "",
        f"Measured {_now()}: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()} (`nice -n 15 python benchmarks/bench_certify.py --nets {' '.join(nets)}`); "
        f"load average at start {load0:.1f}. Builds and certificates are measured back to back, five "
        "times, and the median of the five ratios is the figure against the target: **certification "
        "at most 2x the build time**.",
        "",
        "*certify*: the default certificate (`certify(K)`), the structural proof: exact vertex signs, "
        "joins (which prove the interior points' sign vectors), facet links, intervals, walls and the "
        "Euler characteristic; it proves the complex exact and complete (module docstring of "
        "`exactcells/certify.py`). *with volumes*: the opt-in cross-check `certify(K, volumes=True)` "
        "(CLI `--volumes`), which also sums the exact volumes of all top cells (implied by the proof); "
        "they stay in this process unless expected to take 10 s or more, then they are split with one "
        "Dask worker task on a local cluster (*processes* 2; its start, about 4 s, included). "
        "*one process*: the same with `jobs=1`. The build is one process (`build_complex`).",
        "",
        "*cdd per top cell*: recomputing one top cell from scratch with cddlib's GMP kernel (its "
        "inequalities from the local affine maps, vertices and the whole face lattice from "
        "incidences, compared with the claims), measured on 10 top cells; *cdd all* extrapolates "
        "to every top cell. This is why the certificate verifies the claimed vertices exactly "
        "instead of calling cdd per cell.",
        "",
        "| net | f-vector | cells | certified | build s | certify s | certify / build (median) | the five "
        "ratios | with volumes s | processes | with volumes / build | one process s | cdd per top cell ms | "
        "cdd all (est.) s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, arch, f, nc, tb, tc, rs, tv, wk, t1, ok, cpr, call in rows:
        lines.append(f"| {name} {arch} | {tuple(f)} | {nc:,} | {'yes' if ok else 'NO'} | {tb:.2f} | {tc:.2f} | "
                     f"**{statistics.median(rs):.2f}x** | {', '.join(f'{r:.2f}' for r in rs)} | {tv:.2f} | {wk} | "
                     f"{tv / tb:.1f}x | {t1:.2f} | {1000 * cpr:.0f} | {call:.0f} |")
    met = [r[0] for r in rows if statistics.median(r[6]) <= 2]
    missed = [f"{r[0]} ({statistics.median(r[6]):.2f}x)" for r in rows if statistics.median(r[6]) > 2]
    lines += [
        "",
        f"**Target (certificate <= 2x build): met on {', '.join(met) or 'none'}; missed on "
        f"{', '.join(missed) or 'none'}.** The exact volumes dominate the cross-check in 3-D and 4-D: "
        "every top cell's volume is a rational with thousands of digits (its vertices' denominators "
        "multiply).",
    ]
    if details:
        lines += ["", "Time per check of the one-process certificate with volumes (s):", ""]
        names = [c.name for c in details[0][1].checks]
        lines.append("| net | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for name, cert in details:
            lines.append(f"| {name} | " + " | ".join(f"{cert.check(x).seconds:.2f}" for x in names) + " |")
    return lines


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- part 2: the sharded certificate, each run in a child process ------------------------------------

def child(mode: str, path: str, jobs: int) -> None:
    """One certificate in this (fresh) process; prints one JSON record on stdout."""
    from bench_large_sharded import PeakMonitor

    rec: dict[str, Any] = {"mode": mode}
    with PeakMonitor() as mon:
        t0 = time.perf_counter()
        if mode == "one":
            from exactcells import load_complex

            K = load_complex(path)
            t1 = time.perf_counter()
            cert = certify(K, jobs=1, volumes=True)  # type: ignore[arg-type]
            rec["load_seconds"] = round(t1 - t0, 2)
            rec["seconds"] = round(cert.seconds, 2)
            rec["certified"] = cert.certified
            rec["checks"] = {c.name: round(c.seconds, 2) for c in cert.checks}
        else:
            if mode == "shards":
                from exactcells.shards import certify_shards

                res = certify_shards(path, volumes=True)
            else:
                from exactcells.parallel import certify_on_cluster, cluster

                with cluster(jobs, announce=False) as client:
                    t1 = time.perf_counter()
                    rec["cluster_start_seconds"] = round(t1 - t0, 2)
                    res = certify_on_cluster(path, client, volumes=True)
                    rec["tasks_seconds"] = round(time.perf_counter() - t1, 2)
            rec["seconds"] = round(time.perf_counter() - t0, 2)
            rec["certified"] = bool(res["certified"])
            rec["failures"] = res["failures"][:5]
            rec["checks"] = {k: round(v, 2) for k, v in res["check_seconds"].items()}
    rec["processes"] = mon.report()
    print(json.dumps(rec))


def _run_child(mode: str, path: Path, jobs: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, str(path),
                          "--jobs", str(jobs)], check=True, capture_output=True, text=True, env=env)
    rec: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{mode}: {rec['seconds']} s, certified {rec['certified']}, peaks "
          f"{[p['peak_mib'] for p in rec['processes']]} MiB", file=sys.stderr, flush=True)
    return rec


def part_sharded(name: str, partitions: int, jobs: int) -> list[str]:
    from exactcells.shards import SHARD_CHECKS, write_shards

    load0 = os.getloadavg()[0]
    file = Path(name) if Path(name).is_file() else find_network(name)
    name = file.stem
    net = network_from_dict(json.loads(file.read_text()))
    t = time.perf_counter()
    K = build_complex(net, Domain.box(net.input_dim, -1, 1))
    tb = time.perf_counter() - t
    print(f"{name}: built {K.f_vector} in {tb:.1f} s", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-certify-") as tmp:
        npz = Path(tmp) / "K.npz"
        K.save(npz)
        d = Path(tmp) / "K"
        write_shards(K, d, partitions=partitions)
        f, cells = K.f_vector, K.num_cells
        del K
        runs = [_run_child(m, npz if m == "one" else d, jobs) for m in ("one", "shards", "dask")]
    load1 = os.getloadavg()[0]
    one, shards, dask = runs

    def peak(r: dict[str, Any], role: str | None = None) -> float:
        return max((p["peak_mib"] for p in r["processes"] if role is None or p["role"] == role), default=0.0)

    workers = ", ".join(f"{p['peak_mib']:.0f}" for p in dask["processes"] if p["role"] == "dask worker")
    lines = [
        "",
        f"## The sharded certificate on {name} {net.architecture} ({partitions} shards)",
        "",
        f"Measured {_now()}: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"under `nice -n 15`; load average {load0:.1f} at the start, {load1:.1f} at the end (other agents "
        f"share the machine). f-vector {tuple(f)}, {cells:,} cells, built in one process in {tb:.1f} s. "
        "Each certificate runs in a fresh child process; *peak* is the high-water mark of the resident "
        "set (VmHWM) of each process. The sharded certificate runs every default check of the "
        "one-process one (`cell_signs`, `intervals` and `cofacets` across shards included) and holds "
        "at most a shard, one exchange's requests and answers, or one shard's closure per task.",
        "",
        "| certificate | certified | wall s | peak, main process MiB | peak per Dask worker MiB |",
        "|---|---|---|---|---|",
        f"| one process: `certify(K, jobs=1, volumes=True)` on the `.npz` (load {one['load_seconds']} s not included) | "
        f"{'yes' if one['certified'] else 'NO'} | {one['seconds']:.1f} | {peak(one):.0f} | - |",
        f"| sharded, shard by shard in one process: `certify_shards` | {'yes' if shards['certified'] else 'NO'} | "
        f"{shards['seconds']:.1f} | {peak(shards):.0f} | - |",
        f"| sharded, Dask tasks, {jobs} local workers: `certify_on_cluster` (cluster start "
        f"{dask['cluster_start_seconds']:.1f} s included; tasks {dask['tasks_seconds']:.1f} s) | "
        f"{'yes' if dask['certified'] else 'NO'} | {dask['seconds']:.1f} | "
        f"{peak(dask, 'client + local scheduler'):.0f} | "
        f"{workers} |",
        "",
        "Time per check (s; the sharded ones summed over the shards' tasks, so on Dask they add up "
        "to more than the wall time):",
        "",
    ]
    names = [c[0] for c in SHARD_CHECKS]
    lines.append("| run | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for label, r in (("shard by shard", shards), (f"Dask, {jobs} workers", dask)):
        lines.append(f"| {label} | " + " | ".join(f"{r['checks'].get(x, 0.0):.2f}" for x in names) + " |")
    onames = list(one["checks"])
    lines += ["", "The one-process certificate, per check (s):", "",
              "| " + " | ".join(onames) + " |", "|" + "---|" * len(onames),
              "| " + " | ".join(f"{one['checks'][x]:.2f}" for x in onames) + " |", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="*", default=list(BENCHMARKS),
                    help="A-F (default: all six) or other benchmark names, e.g. S3_48")
    ap.add_argument("--sharded", default="S3_32", help="network of part 2, a name or a file ('' to skip it)")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "certify.md"))
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.jobs)
        return
    lines = part_benchmarks(args.nets)
    if args.sharded:
        lines += part_sharded(args.sharded, args.partitions, args.jobs)
    atomic_write_text(args.out, "\n".join(lines) + "\n", force=True)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
