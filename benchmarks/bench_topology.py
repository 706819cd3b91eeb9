"""Benchmark the topology layer on a complex of about a million cells; write benchmarks/results/topology.md.

The network is ``3-48-48-1`` drawn with the benchmark recipe (He-normal weights, ``N(0, 0.1)``
biases, float64 taken exactly) from ``numpy.random.default_rng(1)``; on the box ``[-1, 1]^3`` its
complex has 1,119,989 cells. Measured, each once (the machine is shared; no loops):

- boundary-matrix assembly: exact incidence numbers (propagation) and the integer boundary
  matrices ``d_1 .. d_n`` as ``scipy.sparse`` (target 30 s), plus the ``d d = 0`` check;
- PHAT reduction (target 30 s): the Z/2 homology of the whole complex (twist with clearing, and
  dualized), and persistence of a dimension-random filtration, a random linear extension and the
  output lower-star filtration (order + columns + PHAT, each step timed);
- the f-vector identity of the dimension-random Betti maxima, checked on the spot.

    python benchmarks/bench_topology.py [--cache PATH.npz] [--out benchmarks/results/topology.md]

``--cache`` keeps the built complex (built when missing) so that a rerun skips the build.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from exactcells import Domain, PolyhedralComplex, build_complex, load_complex, network_from_dict
from exactcells.io import atomic_write_text
from exactcells.topology.chains import boundary_squared_is_zero, chain_complex, incidence_signs
from exactcells.topology.filtrations import (
    dimension_random_filtration,
    lower_star_filtration,
    random_filtration,
)
from exactcells.topology.homology import homology
from exactcells.topology.persistence import (
    betti_curve,
    f_vector_from_betti_maxima,
    filtered_columns,
)
from exactcells.topology.phat_adapter import reduce_pairs

HERE = Path(__file__).resolve().parent
WIDTHS = (3, 48, 48, 1)
SEED = 1
TARGET_S = 30.0
T = TypeVar("T")


def network() -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    layers = []
    for fi, fo in zip(WIDTHS[:-1], WIDTHS[1:]):
        layers.append({"W": rng.normal(0, np.sqrt(2 / fi), (fo, fi)).tolist(),
                       "b": rng.normal(0, 0.1, fo).tolist()})
    return {"layers": layers}


def timed(label: str, fn: Callable[[], T], rows: list[tuple[str, float]]) -> T:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    rows.append((label, dt))
    print(f"{label}: {dt:.2f} s", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "topology.md")
    args = ap.parse_args()

    rows: list[tuple[str, float]] = []
    net = network_from_dict(network())
    build_s: float | None = None
    if args.cache is not None and args.cache.exists():
        K: PolyhedralComplex = load_complex(args.cache)
    else:
        t0 = time.perf_counter()
        K = build_complex(net, Domain.box(3, -1, 1))
        build_s = time.perf_counter() - t0
        if args.cache is not None:
            K.save(args.cache, force=True)
    print(f"complex {K.f_vector}, {K.num_cells} cells", file=sys.stderr)
    nnz = int(K.facet_csr[0][-1])

    # -- assembly ---------------------------------------------------------------------------
    sig = timed("incidence numbers (propagation)", lambda: incidence_signs(K), rows)
    C = timed("chain complex over Z (restriction, coefficients)", lambda: chain_complex(K, incidences=sig), rows)
    mats = timed("boundary matrices d_1..d_n as scipy.sparse", lambda: [C.boundary_matrix(k) for k in range(1, 4)], rows)
    assembly = rows[0][1] + rows[1][1] + rows[2][1]
    dd = timed("check d d = 0 over Z (sparse products)", lambda: boundary_squared_is_zero(C), rows)
    assert dd
    assert sum(m.nnz for m in mats) == nnz

    # -- PHAT -------------------------------------------------------------------------------
    h1 = timed("Z/2 homology, canonical order, twist", lambda: homology(K, "z2"), rows)
    h2 = timed("Z/2 homology, canonical order, twist-dual", lambda: homology(K, "z2", algorithm="twist-dual"), rows)
    assert h1.betti == h2.betti == (1, 0, 0, 0)
    results: dict[str, dict[str, float]] = {}
    maxima_ok = None
    for name, make in (("dimension-random (seed 0)", lambda: dimension_random_filtration(K, 0)),
                       ("random linear extension (seed 0)", lambda: random_filtration(K, 0)),
                       ("output lower-star (exact values)", lambda: lower_star_filtration(K))):
        r: dict[str, float] = {}
        t0 = time.perf_counter()
        F = make()
        r["order"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dims, ptr, rws = filtered_columns(F)
        r["columns"] = time.perf_counter() - t0
        for alg in ("twist", "twist-dual"):
            t0 = time.perf_counter()
            pairs = reduce_pairs(dims, ptr, rws, algorithm=alg)  # type: ignore[arg-type]
            r[alg] = time.perf_counter() - t0
        results[name] = r
        print(name, {k: round(v, 2) for k, v in r.items()}, file=sys.stderr, flush=True)
        if name.startswith("dimension"):
            from exactcells.topology.persistence import persistence

            P = persistence(F)
            assert len(P.pairs) == len(pairs)
            _, curves = betti_curve(P)
            maxima_ok = f_vector_from_betti_maxima(curves.max(axis=1), P.final_betti) == K.f_vector
    assert maxima_ok
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    # -- report -----------------------------------------------------------------------------
    date = datetime.date.today().isoformat()
    L = [
        "# Topology benchmark (homology and persistence)",
        "",
        f"Measured {date} on this machine class: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, one process (`python benchmarks/bench_topology.py`), "
        "each step once.",
        "",
        f"Complex: network {'-'.join(map(str, WIDTHS))} (benchmark recipe, `default_rng({SEED})`), box "
        f"[-1, 1]^3, cut by the hidden neurons: f-vector {K.f_vector}, **{K.num_cells:,} cells**, "
        f"{nnz:,} facet incidences"
        + (f"; built in {build_s:.1f} s (not part of the targets)." if build_s is not None else "."),
        "",
        "## Boundary-matrix assembly (target 30 s)",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    L += [f"| {lab} | {dt:.2f} |" for lab, dt in rows[:4]]
    L += [f"| **assembly total (incidences + chain complex + matrices)** | **{assembly:.2f}** "
          f"({'met' if assembly <= TARGET_S else 'NOT met'}) |", ""]
    L += ["## PHAT reduction (target 30 s)", "",
          "Z/2 homology of the whole complex (canonical order; Betti numbers "
          f"{h1.betti}), including the column hand-over to PHAT:", "",
          "| reduction | seconds |", "|---|---|",
          f"| twist (with clearing) | {rows[4][1]:.2f} |",
          f"| twist, dualized | {rows[5][1]:.2f} |", "",
          "Persistence of filtrations of all cells (order, columns in filtration order, PHAT "
          "reduction alone):", "",
          "| filtration | order s | columns s | PHAT twist s | PHAT twist-dual s | reduction target met "
          "| end to end s (order + columns + faster PHAT) |",
          "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        red = min(r["twist"], r["twist-dual"])
        tot = r["order"] + r["columns"] + red
        L.append(f"| {name} | {r['order']:.2f} | {r['columns']:.2f} | {r['twist']:.2f} | "
                 f"{r['twist-dual']:.2f} | {'yes' if red <= TARGET_S else 'no'} | {tot:.1f} |")
    L += ["", "The order of the output lower-star filtration is dominated by the exact network "
          f"output at all {K.f_vector[0]:,} vertices (one integer forward pass with flint, entries "
          "of several hundred bits through two 48-wide layers), then an exact ranking of the values.",
          "", f"The f-vector identity of the dimension-random Betti maxima holds on this complex: "
          f"{'yes' if maxima_ok else 'no'}. Peak resident memory of the process: {peak:,} MiB. The "
          "machine is shared with other jobs: runs under load measured up to about 3x these times.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, "\n".join(L), force=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
