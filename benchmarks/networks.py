"""Regenerate the six benchmark networks (A to F) from their recipe, so the repo needs nothing else.

The recipe (../shared/benchmarks/README.md): ``numpy.random.default_rng(0)``, then for A, B, C, D,
E, F in that order and each layer in order, ``W = rng.normal(0, sqrt(2 / fan_in), (fan_out,
fan_in))`` and ``b = rng.normal(0, 0.1, fan_out)``; float64 weights, written as network JSON
(design.md §3) with ``json.dumps``. The domain of every benchmark is the box ``[-1, 1]^n``.

Usage: ``python benchmarks/networks.py DIR`` writes ``A_2-16-16-1.json`` ... into ``DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from exactcells.io import atomic_write_text

__all__ = ["BENCHMARKS", "benchmark_network", "benchmark_file_name", "find_network", "write_all"]

# name -> widths (input, hidden..., output), in the order the generator draws them
BENCHMARKS: dict[str, tuple[int, ...]] = {
    "A": (2, 16, 16, 1),
    "B": (2, 32, 32, 1),
    "C": (3, 16, 16, 1),
    "D": (4, 8, 8, 1),
    "E": (2, 64, 64, 1),
    "F": (4, 10, 10, 10, 1),
}


def _generate_all() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, Any]] = {}
    for name, widths in BENCHMARKS.items():
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            W = rng.normal(0, np.sqrt(2 / fan_in), (fan_out, fan_in))
            b = rng.normal(0, 0.1, fan_out)
            layers.append({"W": W.tolist(), "b": b.tolist()})
        out[name] = {"layers": layers}
    return out


def benchmark_file_name(name: str) -> str:
    """The file name of benchmark ``name``, e.g. ``"A_2-16-16-1.json"``."""
    return f"{name}_{'-'.join(str(w) for w in BENCHMARKS[name])}.json"


def find_network(name: str) -> Path:
    """The file of a benchmark network: ``"A"`` ... ``"F"`` (by :func:`benchmark_file_name`) or
    any other name (``"S2_64"``: ``S2_64.json``), looked up in ``benchmarks/networks`` and in
    ../shared/benchmarks and its ``scaling`` folder (the large networks, not in the repository)."""
    here = Path(__file__).resolve().parent
    fname = benchmark_file_name(name) if name in BENCHMARKS else f"{name}.json"
    search = [here / "networks"] + [up / "shared" / "benchmarks" / sub for up in here.parents[:3]
                                    for sub in ("", "scaling")]
    for d in search:
        if (d / fname).is_file():
            return d / fname
    raise SystemExit(f"{fname} not found in {', '.join(map(str, search))}")


def benchmark_network(name: str) -> dict[str, Any]:
    """The network JSON dict (float weights) of benchmark ``name`` (``"A"`` ... ``"F"``).

    The draws of one network depend on those before it, so every network is regenerated from
    the seed in order and the one asked for is returned.
    """
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}")
    return _generate_all()[name]


def write_all(directory: str | Path) -> list[Path]:
    """Write the six networks as ``<name>_<widths>.json`` into ``directory``; return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, net in _generate_all().items():
        p = d / benchmark_file_name(name)
        atomic_write_text(p, json.dumps(net), force=True)
        paths.append(p)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/networks.py DIR")
    for path in write_all(sys.argv[1]):
        print(path)
