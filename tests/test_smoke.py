"""First end-to-end checks: closed-form arrangements and the benchmark counts of network A."""

from __future__ import annotations

from math import comb
from pathlib import Path

import pytest

from exactcells import Domain, build_complex, network_from_dict

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def test_two_lines_cross_in_square() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    # 4 corners + 4 edge midpoints + origin; 12 edges; 4 squares
    assert K.f_vector == (9, 12, 4)
    assert sum(K.region_volumes()) == 4


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared benchmarks not present")
def test_benchmark_A_counts() -> None:
    from exactcells import load_network

    net = load_network(next(SHARED.glob("A_*.json")))
    K = build_complex(net)
    assert K.f_vector == (444, 855, 412)
    assert comb(3, 1) == 3
