"""First end-to-end checks: closed-form arrangements and the benchmark counts of network A."""

from __future__ import annotations

from pathlib import Path

from exactcells import Domain, build_complex, load_network, network_from_dict

NETWORKS = Path(__file__).resolve().parents[1] / "benchmarks" / "networks"


def test_two_lines_cross_in_square() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    # 4 corners + 4 edge midpoints + origin; 12 edges; 4 squares
    assert K.f_vector == (9, 12, 4)
    assert sum(K.region_volumes()) == 4


def test_benchmark_A_counts() -> None:
    # the counts of an independent exact computation (benchmarks/networks/README.md)
    net = load_network(NETWORKS / "A_2-16-16-1.json")
    K = build_complex(net)
    assert K.f_vector == (444, 855, 412)
    assert K.euler_characteristic == 1
    assert sum(K.region_volumes()) == 4
