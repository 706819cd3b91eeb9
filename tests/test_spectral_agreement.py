"""Agreement of Fiedler partitions with the decision boundary, and the adjusted Rand index."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactcells import Domain, build_complex, load_network, network_from_dict
from exactcells.cli.common import default_network_path
from exactcells.dual import dual_graph, region_class_volumes
from exactcells.spectral import (
    adjusted_rand_index,
    boundary_agreement,
    dual_fiedler,
    partition_agreement,
)

F = Fraction
BOX = Domain.box(2, -1, 1)


def _ari_by_pairs(a: list[int], b: list[int]) -> float:
    """Steinley's form: 2 (n11 n00 - n10 n01) / ((n11 + n10)(n10 + n00) + (n11 + n01)(n01 + n00))."""
    n11 = n10 = n01 = n00 = 0
    for i, j in combinations(range(len(a)), 2):
        sa, sb = a[i] == a[j], b[i] == b[j]
        n11 += sa and sb
        n10 += sa and not sb
        n01 += sb and not sa
        n00 += not sa and not sb
    den = (n11 + n10) * (n10 + n00) + (n11 + n01) * (n01 + n00)
    return 1.0 if den == 0 else 2 * (n11 * n00 - n10 * n01) / den


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=2, max_size=25))
def test_adjusted_rand_index_against_pair_counting(pairs: list[tuple[int, int]]) -> None:
    a = [p for p, _ in pairs]
    b = [q for _, q in pairs]
    assert adjusted_rand_index(a, b) == pytest.approx(_ari_by_pairs(a, b), abs=1e-12)
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_index(b, a), abs=1e-12)
    # multiplicities are the same as repeated items
    w = [1 + (i % 3) for i in range(len(a))]
    ra = [x for x, k in zip(a, w) for _ in range(k)]
    rb = [x for x, k in zip(b, w) for _ in range(k)]
    assert adjusted_rand_index(a, b, counts=w) == pytest.approx(_ari_by_pairs(ra, rb), abs=1e-12)


def test_adjusted_rand_index_known_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == 1.0
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert adjusted_rand_index([0, 0, 0], [1, 1, 1]) == 1.0


def strips(cs: list[object], extra: list[list[object]], out: list[object], bias: object) -> object:
    rows = [[1, 0, F(-1) * F(c)] for c in cs] + extra  # type: ignore[arg-type]
    return network_from_dict({"layers": [{"W": [r[:2] for r in rows], "b": [r[2] for r in rows]},
                                         {"W": [out], "b": [bias]}]})


@pytest.mark.parametrize("with_output", [False, True])
def test_boundary_along_the_middle_line_is_found_exactly(with_output: bool) -> None:
    # strips at x = -1/2, 0, 1/2; F = relu(x) - relu(-x) = x: the boundary is the middle line
    net = strips(["-1/2", 0, "1/2"], [[-1, 0, 0]], [0, 1, 0, -1], 0)
    K = build_complex(net, BOX, with_output=with_output)
    G = dual_graph(K)
    assert G.num_nodes == 4
    res = dual_fiedler(G)
    R = None if with_output else build_complex(net, BOX, with_output=True)
    cv = region_class_volumes(K, R)
    agr = boundary_agreement(G, res.vector, cv)
    for p in (agr.sign, agr.best_sweep):
        assert p.volume_agreement == 1
        assert p.adjusted_rand_index == 1.0
        assert (p.cut_edges, p.boundary_edges, p.cut_boundary_edges) == (1, 1, 1)
        assert p.cut_on_boundary == 1.0 and p.boundary_cut == 1.0
    # the positive side of the vector is the left (class 0) half
    assert agr.sign.flipped is True


def test_boundary_inside_a_region_of_the_hidden_complex() -> None:
    # strips at x = -1/2, 0, 1/2 and F = (x + 2) - 9/4 = x - 1/4 splits the third strip in halves
    net = strips(["-1/2", 0, "1/2"], [[1, 0, 2]], [0, 0, 0, 1], F(-9, 4))
    K = build_complex(net, BOX)
    R = build_complex(net, BOX, with_output=True)
    G = dual_graph(K)
    cv = region_class_volumes(K, R)
    assert cv == [(1, 0), (1, 0), (F(1, 2), F(1, 2)), (0, 1)]
    res = dual_fiedler(G)
    assert res.side.tolist() == [True, True, False, False]
    agr = boundary_agreement(G, res.vector, cv)
    s = agr.sign
    assert s.flipped and s.volume_agreement == F(7, 8) and s.threshold == 0.0
    assert s.adjusted_rand_index == pytest.approx(_ari_by_pairs([1, 1, 0, 0, 0], [0, 0, 0, 1, 1]))
    # the tie in the split strip goes to class 0, so the only boundary edge is (2, 3)
    assert (s.cut_edges, s.boundary_edges, s.cut_boundary_edges) == (1, 1, 0)
    assert s.cut_on_boundary == 0.0 and s.boundary_cut == 0.0
    assert agr.best_sweep.volume_agreement == F(7, 8)


def test_partition_agreement_by_hand() -> None:
    edges = np.array([[0, 1], [1, 2]])
    cv = [(F(1), F(0)), (F(0), F(1)), (F(0), F(2))]
    p = partition_agreement(edges, np.array([False, True, True]), cv)
    assert p.volume_agreement == 1 and not p.flipped
    q = partition_agreement(edges, np.array([True, False, False]), cv)
    assert q.volume_agreement == 1 and q.flipped
    r = partition_agreement(edges, np.array([False, False, True]), cv)
    assert r.volume_agreement == F(3, 4) and (r.cut_edges, r.boundary_edges, r.cut_boundary_edges) == (1, 1, 0)
    assert r.to_dict()["volume_agreement"] == 0.75


def test_bundled_network_sweep_is_at_least_the_sign_cut() -> None:
    net = load_network(default_network_path())
    K = build_complex(net)
    R = build_complex(net, with_output=True)
    G = dual_graph(K)
    res = dual_fiedler(G)
    cv = region_class_volumes(K, R)
    agr = boundary_agreement(G, res.vector, cv)
    assert F(1, 2) <= agr.sign.volume_agreement <= agr.best_sweep.volume_agreement <= 1
    # recompute the sign agreement independently
    total = sum((a + b for a, b in cv), F(0))
    direct = sum((b if v > 0 else a for v, (a, b) in zip(res.vector, cv)), F(0)) / total
    assert agr.sign.volume_agreement == max(direct, 1 - direct)
    # on the refined graph every region has one class
    GR = dual_graph(R)
    agr_r = boundary_agreement(GR, dual_fiedler(GR).vector, region_class_volumes(R))
    assert agr_r.sign.boundary_edges == sum(
        1 for a, b in GR.edges.tolist() if (R.signs[R.regions()[a], -1] > 0) != (R.signs[R.regions()[b], -1] > 0))
