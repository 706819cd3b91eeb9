"""The paper's Hamming-1 proxy against the exact dual graph, and exact point location."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactcells import Domain, build_complex, network_from_dict
from exactcells.dual import (
    binary_patterns,
    compare_proxy,
    dual_graph,
    hamming_proxy_edges,
    load_points,
    locate_points,
    region_nodes,
)
from exactcells.errors import FormatError
from exactcells.measure import homogeneous

F = Fraction
BOX = Domain.box(2, -1, 1)


def _brute_hamming(K: object) -> set[tuple[int, int]]:
    bits = binary_patterns(K)
    return {(i, j) for i in range(len(bits)) for j in range(i + 1, len(bits))
            if int(np.count_nonzero(bits[i] != bits[j])) == 1}


# -- one hidden layer: the proxy is exact ------------------------------------------------------
def _proportional(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(a[i] * b[j] == a[j] * b[i] for i in range(3) for j in range(3))


@st.composite
def arrangements(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    rows: list[tuple[int, int, int]] = []
    for _ in range(draw(st.integers(1, 6))):
        w1, w2, b = draw(st.integers(-3, 3)), draw(st.integers(-3, 3)), draw(st.integers(-4, 4))
        r = (w1, w2, b)
        if (w1, w2) == (0, 0) or any(_proportional(r, q) for q in rows):
            continue
        rows.append(r)
    return rows or [(1, 0, 0)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrangements())
def test_proxy_equals_dual_graph_for_one_hidden_layer(rows: list[tuple[int, int, int]]) -> None:
    net = network_from_dict({"layers": [{"W": [[a, b] for a, b, _ in rows], "b": [F(c, 2) for *_, c in rows]},
                                        {"W": [[1] * len(rows)], "b": [0]}]})
    K = build_complex(net, BOX)
    cmp = compare_proxy(K)
    assert cmp.equal and cmp.precision == 1.0 and cmp.recall == 1.0
    assert {(int(a), int(b)) for a, b in hamming_proxy_edges(K)} == _brute_hamming(K)


def test_proxy_misses_an_edge_of_a_deeper_network() -> None:
    # h1 = relu(x), h2 = relu(-x), g = h1 + h2 - 1/2 = |x| - 1/2: four strips x < -1/2 < 0 < 1/2;
    # across x = 0 both h1 and h2 flip, so the proxy misses that edge
    net = network_from_dict({"layers": [{"W": [[1, 0], [-1, 0]], "b": [0, 0]},
                                        {"W": [[1, 1]], "b": ["-1/2"]},
                                        {"W": [[1]], "b": [0]}]})
    K = build_complex(net, BOX)
    G = dual_graph(K)
    assert nx.is_isomorphic(nx.Graph(list(G.edge_set())), nx.path_graph(4))
    cmp = compare_proxy(K, G)
    assert cmp.exact_edges == 3 and cmp.proxy_edges == 2 and not cmp.false_positives
    (i, j), = cmp.false_negatives
    xs = sorted(float(region_nodes(K)[k].centroid[0]) for k in (i, j))
    assert xs == [-0.25, 0.25]
    assert cmp.recall == pytest.approx(2 / 3) and cmp.precision == 1.0


def test_proxy_joins_regions_that_only_touch_at_a_point() -> None:
    # h1 = relu(x), h2 = relu(x + 2) = x + 2, h3 = relu(y + 2) = y + 2 on the box;
    # g = h3 + 2 h1 - h2 = y + |x|, k = -h3 + 2 h1 - h2 + 4 = -y + |x|.
    # The wedges {g > 0, k > 0} = {|x| > |y|} on both sides of x = 0 differ only in h1 but
    # meet only at the origin.
    net = network_from_dict({"layers": [{"W": [[1, 0], [1, 0], [0, 1]], "b": [0, 2, 2]},
                                        {"W": [[2, -1, 1], [2, -1, -1]], "b": [0, 4]},
                                        {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, BOX)
    G = dual_graph(K)
    assert G.num_nodes == 6
    assert nx.is_isomorphic(nx.Graph(list(G.edge_set())), nx.cycle_graph(6))
    cmp = compare_proxy(K, G)
    assert not cmp.false_negatives
    (i, j), = cmp.false_positives
    nodes = region_nodes(K)
    cents = sorted(nodes[k].centroid for k in (i, j))
    assert cents[0][0] < 0 < cents[1][0] and cents[0][1] == cents[1][1] == 0
    assert cmp.precision == pytest.approx(6 / 7) and cmp.recall == 1.0
    assert {(int(a), int(b)) for a, b in hamming_proxy_edges(K)} == _brute_hamming(K)


# -- exact forward pass ------------------------------------------------------------------------
def test_exact_forward_matches_the_fraction_pass() -> None:
    net = network_from_dict({"layers": [{"W": [["0.3", "-1/7"], [2, "0.25"], [-1, 1]], "b": ["1/3", 0, "-0.1"]},
                                        {"W": [[1, "-2/3", 3], ["0.5", 1, 1]], "b": [0, "1/9"]}]})
    rng = np.random.default_rng(1)
    pts = [tuple(F(int(a), 7) for a in row) for row in rng.integers(-7, 8, (40, 2))]
    signs, outs = net.forward_homogeneous([homogeneous(p) for p in pts], chunk=16)
    for p, s, o in zip(pts, signs.tolist(), outs):
        assert tuple(s) == net.hidden_signs(p)
        assert o == net.forward(p)


# -- point location ----------------------------------------------------------------------------
def test_float_points_are_taken_as_their_binary_value() -> None:
    # the line x = 1/10: the float 0.1 lies just right of it, the string "0.1" on it
    net = network_from_dict({"layers": [{"W": [[10, 0]], "b": [-1]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, BOX)
    left, right = 0, 1  # sign vectors (-1, ...) < (+1, ...)
    assert region_nodes(K)[left].centroid[0] < F(1, 10) < region_nodes(K)[right].centroid[0]
    loc = locate_points(K, np.array([[0.1, 0.0], [-0.5, 0.5], [3.0, 0.0]]))
    assert loc.nodes.tolist() == [right, left, -1]
    assert loc.on_boundary.tolist() == [False, False, False]
    loc = locate_points(K, [["0.1", "0"], ["1/10", "-1"]])
    assert loc.nodes.tolist() == [left, left]  # on the line: the smaller sign vector
    assert loc.on_boundary.tolist() == [True, True]
    assert [K.dim(int(c)) for c in loc.cells] == [1, 0]
    assert loc.counts(2).tolist() == [2, 0] and loc.num_outside == 0


def test_boundary_rule_at_a_vertex_of_four_regions() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, BOX)
    loc = locate_points(K, [[0, 0], [0, "1/2"], ["-1/2", 0], [1, 1]])
    # regions by sign vector: (-,-), (-,+), (+,-), (+,+)
    assert loc.nodes.tolist() == [0, 1, 0, 3]  # (0, 1/2) touches (-,+) and (+,+)
    assert loc.on_boundary.tolist() == [True, True, True, True]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_located_regions_contain_the_points(seed: int) -> None:
    net = network_from_dict({"layers": [{"W": [[1, 2], [-3, 1], [1, -1]], "b": ["0.1", "-0.2", "0.3"]},
                                        {"W": [[1, -1, 2], [0, 1, 1]], "b": ["-0.5", "0.25"]},
                                        {"W": [[1, -1]], "b": [0]}]})
    for K in (build_complex(net, BOX), build_complex(net, BOX, with_output=True)):
        X = np.random.default_rng(seed).uniform(-1.2, 1.2, (30, 2))
        loc = locate_points(K, X)
        for x, node in zip(X.tolist(), loc.nodes.tolist()):
            inside = all(-1 <= c <= 1 for c in x)
            assert (node >= 0) == inside
            if inside:
                sv = K.sign_vector(K.regions()[node])
                assert net.hidden_signs(x) == sv[: net.num_hidden]
                if K.with_output:
                    assert net.output_signs(x) == sv[-1:]


def test_load_points_formats(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("x,y\n# a comment\n0.1, -1/2\n\n1 2\n")
    assert load_points(csv, 2) == [(F(1, 10), F(-1, 2)), (F(1), F(2))]
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"points": [[0.5, "1/3"]]}))
    assert load_points(js, 2) == [(F(1, 2), F(1, 3))]
    npy = tmp_path / "p.npy"
    np.save(npy, np.array([[0.1, 0.2]]))
    arr = load_points(npy, 2)
    assert arr.shape == (1, 2)
    with pytest.raises(FormatError):
        load_points(js, 3)
    bad = tmp_path / "p.xyz"
    bad.write_text("1 2")
    with pytest.raises(FormatError):
        load_points(bad, 2)


def test_load_points_npy_shape_is_checked(tmp_path: Path) -> None:
    npy = tmp_path / "p3.npy"
    np.save(npy, np.zeros((4, 3)))
    with pytest.raises(FormatError, match="shape"):
        load_points(npy, 2)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(FormatError):
        load_points(junk, 2)
