"""The build on Dask (exactcells.parallel) against one process, and a simulated scaling table.

For each network: the one-process build (``build_complex``) and the same build as Dask tasks on
a local cluster of two workers, interleaved, medians of ``--repeats=R`` runs (default 3); the
cluster's start-up and a first tiny build (the workers import exactcells) are outside the clock
and reported apart; the results compared cell by cell, the speed-up, every process's peak
resident memory. The unit
tasks' measured costs are then scheduled (longest first, on the least loaded worker) on 4 to 64
simulated workers; see ``ASSUMPTIONS`` for how the table extrapolates to 10^8 cells.

Networks: ``3-48-48-1`` (the recipe of bench_large.py, ``default_rng(1)``) is generated here;
``S2_*`` are read from ``../shared/benchmarks/scaling/`` (not in a fresh clone: then they are
skipped with a message).

    python benchmarks/bench_parallel.py [--repeats=R] [--no-simulation] [S2_256 3-48-48-1 ...]
    # default: S2_128 3-24-24-1; writes results/parallel-latest.md (parallel.md collects the
    # runs by hand, with the machine's load)
    python benchmarks/bench_parallel.py --breakdown [S2_256 3-48-48-1 ...]
    # where the time goes: every task of the gathered build (2 units, 2 ranges, shared-memory
    # output) run in turn in this process, CPU seconds, against the one-process build
"""

from __future__ import annotations

import datetime
import heapq
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from exactcells import build_complex, load_network, network_from_dict
from exactcells.network import Network
from exactcells.parallel import build_on_cluster, cluster

HERE = Path(__file__).resolve().parent
# ../shared/benchmarks/scaling from the repository (or from any folder above it: worktrees)
SCALING = next((d / "shared" / "benchmarks" / "scaling" for d in HERE.parents
                if (d / "shared" / "benchmarks" / "scaling").is_dir()), HERE.parent.parent / "shared")

ASSUMPTIONS = """\
Assumptions of the simulated table (written down, not measured on a cluster):
- costs are CPU seconds (a unit task's thread time; the client's plus the busiest worker's for
  the whole build), so the table does not depend on the machine's load;
- unit tasks keep the measured cost per cell of this run (seconds of unit work / cells), and a
  10^8-cell complex has the same mix: its unit work is that cost times 10^8;
- the 10^8-cell build has 32 unit tasks per worker whose sizes follow the measured task-size
  distribution (the measured costs taken cyclically, scaled to the total above), scheduled
  longest first on the least loaded of W workers (so imbalance is the measured one);
- the merge phase (of the gathered build: range tasks, the key exchange, the client's gather;
  writing shards instead is not measured here) is spread evenly over the
  workers: its measured time on 2 workers times 2 / W, scaled by cell count;
- no network or disk contention, every worker as fast as one of these cores, the first-layer
  planning in the client (seconds here) does not grow with W.
"""


def _net(name: str) -> Network | None:
    if name.startswith("S2_"):
        f = SCALING / f"{name}.json"
        if not f.is_file():
            print(f"skipping {name}: {f} not found (the scaling networks live in ../shared)", file=sys.stderr)
            return None
        return load_network(f)
    widths = tuple(int(x) for x in name.split("-"))
    rng = np.random.default_rng(1)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append({"W": rng.normal(0, np.sqrt(2 / a), (b, a)).tolist(), "b": rng.normal(0, 0.1, b).tolist()})
    return network_from_dict({"layers": layers})


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lpt(costs: list[float], workers: int) -> float:
    loads = [0.0] * workers
    heapq.heapify(loads)
    for c in sorted(costs, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + c)
    return max(loads)


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def run(names: list[str], repeats: int = 3, simulate: bool = True) -> str:
    t = time.perf_counter()
    lines = []
    tables = []
    with cluster(2, announce=False) as client:
        startup = time.perf_counter() - t
        # the workers' first task imports exactcells: a tiny build, outside the clock too
        t = time.perf_counter()
        build_on_cluster(network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
                                                       {"W": [[1, 1]], "b": [0]}]}), client=client)
        warm = time.perf_counter() - t
        lines += [f"# Dask build vs one process ({datetime.date.today()}, {platform.machine()}, "
                  f"{os.cpu_count()} cores, Python {platform.python_version()})", "",
                  f"Medians of {repeats} runs, one process and 2 workers interleaved. Outside the clock: "
                  f"starting the local cluster of 2 workers ({startup:.1f} s) and a first tiny build that "
                  f"makes the workers import exactcells ({warm:.1f} s).", "",
                  "CPU columns: the one-process build's CPU seconds against the client's plus the busiest "
                  "worker's during the Dask build (what its wall time would be with every process on a "
                  "core of its own and no waiting: a load-independent estimate).", "",
                  "| network | cells | 1 process s | 2 workers s | speed-up | CPU s: 1 process / client + busiest "
                  "worker | runs (1 / 2) s | identical | peak RSS MB (client / workers) | load avg before, after |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name in names:
            net = _net(name)
            if net is None:
                continue
            load0 = os.getloadavg()[0]
            ones: list[float] = []
            twos: list[float] = []
            one_cpu: list[float] = []
            two_cpu: list[float] = []
            same = True
            cells = 0
            for _ in range(repeats):
                c = time.process_time()
                t = time.perf_counter()
                K = build_complex(net)
                ones.append(time.perf_counter() - t)
                one_cpu.append(time.process_time() - c)
                w0 = client.run(time.process_time)
                c = time.process_time()
                t = time.perf_counter()
                K2 = build_on_cluster(net, client=client)
                twos.append(time.perf_counter() - t)
                c = time.process_time() - c
                w1 = client.run(time.process_time)
                two_cpu.append(c + max(w1[k] - w0[k] for k in w1))
                same = same and (K.f_vector == K2.f_vector and np.array_equal(K.signs, K2.signs)  # type: ignore[union-attr]
                                 and np.array_equal(K.facet_csr[1], K2.facet_csr[1]))  # type: ignore[union-attr]
                cells = K.num_cells
                del K, K2
            load1 = os.getloadavg()[0]
            one, two = _median(ones), _median(twos)
            oc, tc = _median(one_cpu), _median(two_cpu)
            rss = client.run(_maxrss_mb)
            lines.append(f"| {name} | {cells} | {one:.1f} | {two:.1f} | {one / two:.2f}x | "
                         f"{oc:.1f} / {tc:.1f} = {oc / tc:.2f}x | "
                         f"{' '.join(f'{x:.1f}' for x in ones)} / {' '.join(f'{x:.1f}' for x in twos)} | {same} | "
                         f"{_maxrss_mb():.0f} / {' '.join(f'{v:.0f}' for v in rss.values())} | "
                         f"{load0:.1f}, {load1:.1f} |")
            print(lines[-1], flush=True)
            if not simulate:
                continue
            # finer tasks (32 per worker) for the simulated table: their measured costs
            # (CPU seconds: the table must not depend on the machine's load)
            stats: list[dict[str, Any]] = []
            w0 = client.run(time.process_time)
            c = time.process_time()
            build_on_cluster(net, client=client, tasks_per_worker=32, task_stats=stats)
            c = time.process_time() - c
            w1 = client.run(time.process_time)
            fine = c + max(w1[k] - w0[k] for k in w1)
            costs = [s["cpu"] for s in stats]
            unit_total = sum(costs)
            unit_phase = _lpt(costs, 2)
            merge = max(fine - unit_phase, 0.0)
            scale = 1e8 / cells
            rows = [f"Simulated, from {name} ({len(stats)} unit tasks, {unit_total:.1f} CPU s of unit work, "
                    f"{merge:.1f} of the {fine:.1f} CPU s (client + busiest worker) of the build outside the "
                    f"unit phase on 2 workers):", "",
                    "| workers | unit phase (this complex) s | predicted 10^8 cells h | unit-phase efficiency |",
                    "|---|---|---|---|"]
            for W in (4, 8, 16, 32, 64):
                ms = _lpt(costs, W)
                # 10^8 cells: 32 tasks per worker drawn (cyclically) from the measured sizes,
                # scaled to the measured unit cost per cell
                big = [costs[i % len(costs)] for i in range(32 * W)]
                f = unit_total * scale / sum(big)
                ms_big = _lpt([c * f for c in big], W)
                pred = ms_big + merge * 2 / W * scale
                eff = unit_total * scale / (W * ms_big)
                rows.append(f"| {W} | {ms:.2f} | {pred / 3600:.2f} | {eff:.2f} |")
            tables.append("\n".join(rows) + "\n")
    return "\n".join(lines + [""] + tables + ["", ASSUMPTIONS])


def breakdown(names: list[str]) -> str:
    """CPU seconds of each task of the gathered build (two units, two ranges, written into
    shared memory as on a local cluster) run in turn in this process, and the critical path
    (the busier worker's tasks plus the client's planning and mapping) against the
    one-process build (refinement + assembly). Dask's own costs are not included."""
    import shutil
    import tempfile

    from exactcells import parallel as par
    from exactcells.build import _assemble, _num_columns, _refine, domain_lattice
    from exactcells.domain import Domain

    cpu = time.process_time
    cols: list[dict[str, str]] = []
    done: list[str] = []
    for name in names:
        net = _net(name)
        if net is None:
            continue
        dom = Domain.box(net.input_dim)
        c = cpu()
        lat = domain_lattice(dom, _num_columns(net, None), net)
        _refine(lat, net, None)
        r1 = cpu() - c
        c = cpu()
        K = _assemble(lat, net, dom, None, 0.0)
        a1 = cpu() - c
        del lat
        t: dict[str, list[float]] = {}
        c = cpu()
        groups = par.plan_groups(net, dom, None, 2)
        shipped = par._ship_network(net)
        plan = cpu() - c
        units = []
        for g in groups:
            par._RECEIVED.clear()  # each worker rebuilds the network once
            c = cpu()
            units.append(par._group_task(g, shipped, dom, None, None))
            t.setdefault("unit tasks (receive the network, refine, ownership, keys, facet lists)", []).append(cpu() - c)
        split = par._splitters(2, *[par._sample(u) for u in units])
        routes = []
        for u in units:
            c = cpu()
            routes.append(par._route(u, split))
            t.setdefault("route (ranges of the owned cells and asked facets)", []).append(cpu() - c)
        width = net.num_hidden + dom.num_facets
        ranges = []
        for p in range(2):
            c = cpu()
            ranges.append(par._range_task(width, *[r["msgs"][p] for r in routes]))
            t.setdefault("range tasks (sort a range, ranks, facet starts)", []).append(cpu() - c)
        sizes = [par._range_sizes(rr) for rr in ranges]
        N, F = sum(m for m, _ in sizes), sum(f for _, f in sizes)
        where = Path(tempfile.mkdtemp(prefix="exactcells-bench-", dir=par.SHARED_DIR))
        try:
            par._create_shared(where, N, F, width, reserve=False)  # the writers reserve their parts
            for p in range(2):
                c = cpu()
                par._write_block(ranges[p], str(where), p, width, *sizes)
                t.setdefault("write a range (dims, unpacked signs, facet pointers)", []).append(cpu() - c)
            small = []
            for i in range(2):
                c = cpu()
                small.append(par._write_facets(units[i], routes[i], str(where), 2, *sizes,
                                               *[rr["answers"][i] for rr in ranges]))
                t.setdefault("write a unit's facet lists (global indices)", []).append(cpu() - c)
            c = cpu()
            K2 = par._assemble_shared(where, N, F, small, net, dom, None, 0.0)
            client = cpu() - c + plan
        finally:
            shutil.rmtree(where, ignore_errors=True)
        same = np.array_equal(K.signs, K2.signs) and np.array_equal(K.facet_csr[1], K2.facet_csr[1])
        per_worker = [sum(v[i] for v in t.values()) for i in range(2)]
        crit = max(per_worker) + client
        col = {"one process: refine + assemble": f"{r1:.2f} + {a1:.2f} = {r1 + a1:.2f}"}
        col.update({k: ", ".join(f"{x:.2f}" for x in v) for k, v in t.items()})
        col["client: plan, ship the network, map the arrays"] = f"{client:.2f}"
        col["critical path (busier worker + client)"] = f"{crit:.2f} ({(r1 + a1) / crit:.2f}x){'' if same else ' NOT IDENTICAL'}"
        cols.append(col)
        done.append(name)
    rows = ["| | " + " | ".join(done) + " |", "|---" * (len(done) + 1) + "|"]
    for key in cols[0] if cols else []:
        rows.append(f"| {key} | " + " | ".join(c[key] for c in cols) + " |")
    return "\n".join(rows)


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--breakdown":
        print(f"Where the time goes ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
              f"load {os.getloadavg()[0]:.1f}), CPU seconds:\n")
        print(breakdown(args[1:] or ["3-48-48-1", "S2_256"]))
        return
    repeats = 3
    if args and args[0].startswith("--repeats="):
        repeats = int(args.pop(0).split("=", 1)[1])
    simulate = "--no-simulation" not in args
    names = [a for a in args if a != "--no-simulation"] or ["S2_128", "3-24-24-1"]
    text = run(names, repeats, simulate)
    print(text)
    out = HERE / "results" / "parallel-latest.md"
    from exactcells.io import atomic_write_text

    atomic_write_text(out, text + "\n", force=True)


if __name__ == "__main__":
    main()
