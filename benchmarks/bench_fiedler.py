"""Benchmark: the Fiedler vector of an exact dual graph with about 10^5 nodes (target <= 10 s).

The network is a random 2-W-W-1 ReLU network (default W = 240) drawn by the benchmark recipe
(``numpy.random.default_rng(SEED)``, ``W ~ N(0, 2 / fan_in)``, ``b ~ N(0, 0.1)``) on [-1, 1]^2;
with W = 240 and seed 0 its complex has 102,301 regions. Building the exact complex takes minutes
and is not what is measured here; pass ``--cache FILE.npz`` to build it once and reuse it.

Timed, once each (the machine is shared): the dual graph from the complex, the adjacency matrix,
the Fiedler vector (``method="auto"``, i.e. grounded shift-invert above 2000 nodes), and for
reference the exact facet volumes (for the facet-volume weights) and the weighted Fiedler vector.

    python benchmarks/bench_fiedler.py [--width 240] [--seed 0] [--cache /tmp/fiedler_240.npz]
                                       [--out benchmarks/results/fiedler.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy

from exactcells import Domain, build_complex, load_complex, network_from_arrays
from exactcells.dual import dual_graph, facet_volumes
from exactcells.spectral import adjacency_matrix, fiedler

HERE = Path(__file__).resolve().parent
TARGET_S = 10.0


def make_network(width: int, seed: int) -> object:
    rng = np.random.default_rng(seed)
    dims = [2, width, width, 1]
    params = [(rng.normal(0, np.sqrt(2 / a), (b, a)), rng.normal(0, 0.1, b)) for a, b in zip(dims[:-1], dims[1:])]
    return network_from_arrays(params)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, help="complex file (.npz): loaded if present, else written")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "fiedler.md")
    args = ap.parse_args()

    net = make_network(args.width, args.seed)
    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        K = load_complex(args.cache)
        if K.network != net:
            raise SystemExit(f"{args.cache} holds another network")
        how = f"loaded from {args.cache} (built earlier in {K.build_seconds:.0f} s)"
    else:
        K = build_complex(net, Domain.box(2, -1, 1), progress=True)
        how = f"built in {time.perf_counter() - t0:.0f} s"
    print(f"complex {K.f_vector}: {how}", file=sys.stderr)

    t = time.perf_counter()
    G = dual_graph(K)
    t_dual = time.perf_counter() - t
    t = time.perf_counter()
    A = adjacency_matrix(G)
    t_adj = time.perf_counter() - t
    load = os.getloadavg()[0]
    t = time.perf_counter()
    c = time.process_time()
    r = fiedler(A, tol=1e-10, seed=0)
    t_fiedler = time.perf_counter() - t
    c_fiedler = time.process_time() - c
    print(f"fiedler: {t_fiedler:.2f} s, lambda2 = {r.value:.6g}", file=sys.stderr)
    t = time.perf_counter()
    vols = facet_volumes(K, G.edge_cells)
    t_vols = time.perf_counter() - t
    t = time.perf_counter()
    rw = fiedler(adjacency_matrix(G, weights=np.array([v.value for v in vols])), tol=1e-10, seed=0)
    t_fw = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    total = t_dual + t_adj + t_fiedler
    ok = "met" if total <= TARGET_S else "NOT met"
    lines = [
        "## Fiedler vector of a dual graph with ~10^5 nodes",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared with other jobs; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"{datetime.date.today().isoformat()}; load average {load:.1f} when the Fiedler step started. "
        f"Each step measured once, wall-clock (`python benchmarks/bench_fiedler.py"
        f"{' --width ' + str(args.width) if args.width != 240 else ''}`).",
        "",
        f"Network: random {net.architecture} (seed {args.seed}, benchmark recipe) on [-1, 1]^2; exact complex "
        f"f-vector {K.f_vector}, {how}.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| exact dual graph from the complex ({G.num_nodes:,} nodes, {G.num_edges:,} edges) | {t_dual:.2f} |",
        f"| sparse adjacency matrix | {t_adj:.2f} |",
        f"| Fiedler vector, combinatorial Laplacian ({r.method}, tol 1e-10; CPU time {c_fiedler:.2f} s) "
        f"| {t_fiedler:.2f} |",
        f"| **dual graph + Fiedler vector** (target <= {TARGET_S:.0f} s: {ok}) | **{total:.2f}** |",
        f"| exact facet volumes of all {G.num_edges:,} shared facets | {t_vols:.2f} |",
        f"| Fiedler vector with facet-volume edge weights ({rw.method}) | {t_fw:.2f} |",
        "",
        f"lambda_2 = {r.value:.6g}, lambda_3 = {r.eigenvalues[-1]:.6g}, residual {r.residual:.1e} "
        f"(facet-volume weights: lambda_2 = {rw.value:.6g}, residual {rw.residual:.1e}); "
        f"peak memory of the process {peak_mb:,.0f} MB (including the complex).",
        "",
    ]
    if args.cache and not args.cache.exists():
        try:
            K.save(args.cache)
        except Exception as e:  # the cache is a convenience; the figures are written anyway
            print(f"could not save the cache {args.cache}: {e}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
