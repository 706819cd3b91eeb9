"""The exact dual graph: closed forms (parallel lines, grids), an independent adjacency test from
vertex sets, exact region and facet volumes (pyramid formula), node attributes, networkx export."""

from __future__ import annotations

import math
from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactcells import Domain, build_complex, network_from_dict
from exactcells.dual import (
    FacetVolume,
    dual_graph,
    facet_volume,
    facet_volumes,
    region_class_volumes,
    region_nodes,
    region_volumes_and_centroids,
    to_networkx,
)

F = Fraction


def lines_net(rows: list[list[object]], out: list[object] | None = None) -> object:
    """One hidden layer whose neuron i is ``rows[i][:-1] . x + rows[i][-1]``."""
    W = [r[:-1] for r in rows]
    b = [r[-1] for r in rows]
    return network_from_dict({"layers": [{"W": W, "b": b},
                                         {"W": [out or [1] * len(rows)], "b": [0]}]})


def vertical_lines(cs: list[Fraction]) -> object:
    return lines_net([[1, 0, -c] for c in cs])


def _rank(rows: list[list[Fraction]]) -> int:
    a = [list(r) for r in rows]
    rank = 0
    cols = len(a[0]) if a else 0
    for c in range(cols):
        piv = next((r for r in range(rank, len(a)) if a[r][c] != 0), None)
        if piv is None:
            continue
        a[rank], a[piv] = a[piv], a[rank]
        for r in range(len(a)):
            if r != rank and a[r][c] != 0:
                f = a[r][c] / a[rank][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[rank])]
        rank += 1
    return rank


def _affine_rank(pts: list[tuple[Fraction, ...]]) -> int:
    if not pts:
        return -1
    return _rank([[x - y for x, y in zip(p, pts[0])] for p in pts[1:]]) if len(pts) > 1 else 0


# -- closed forms ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_parallel_lines_give_a_path(k: int) -> None:
    cs = [F(-1) + F(2 * i, k) for i in range(1, k)]
    K = build_complex(vertical_lines(cs), Domain.box(2, -1, 1))
    G = dual_graph(K)
    assert G.num_nodes == k
    # nodes are ordered by sign vector, i.e. left to right
    assert G.edge_set() == {(i, i + 1) for i in range(k - 1)}
    assert [int(c) for c in G.edge_cells] == sorted(set(int(c) for c in G.edge_cells))
    vols = facet_volumes(K, G.edge_cells)
    assert all(v == FacetVolume(F(2), 1) and v.squared == 4 for v in vols)
    nodes = region_nodes(K)
    assert [v.volume for v in nodes] == [F(4, k)] * k
    bounds = [F(-1)] + cs + [F(1)]
    assert [v.centroid for v in nodes] == [((bounds[i] + bounds[i + 1]) / 2, F(0)) for i in range(k)]


def test_slanted_parallel_lines_have_irrational_facets() -> None:
    cs = [F(-1, 2), F(1, 3)]  # lines 2x + y = c cross the box from y = -1 to y = 1
    K = build_complex(lines_net([[2, 1, -c] for c in cs]), Domain.box(2, -1, 1))
    G = dual_graph(K)
    assert G.edge_set() == {(0, 1), (1, 2)}
    for v in facet_volumes(K, G.edge_cells):
        assert v == FacetVolume(F(1), 5)  # the segment (-1, 2) has length sqrt(5)
        assert v.squared == 5 and v.value == pytest.approx(math.sqrt(5))
    vols = [n.volume for n in region_nodes(K)]
    assert sorted(vols) == sorted([cs[0] + 2, cs[1] - cs[0], 2 - cs[1]])


@pytest.mark.parametrize(("a", "b"), [(2, 3), (3, 3), (4, 2)])
def test_grid_of_lines_gives_a_grid_graph(a: int, b: int) -> None:
    xs = [F(-1) + F(2 * i, a) for i in range(1, a)]
    ys = [F(-1) + F(2 * j, b) for j in range(1, b)]
    K = build_complex(lines_net([[1, 0, -x] for x in xs] + [[0, 1, -y] for y in ys]), Domain.box(2, -1, 1))
    G = dual_graph(K)
    assert G.num_nodes == a * b and G.num_edges == (a - 1) * b + a * (b - 1)
    # identify each node with its grid cell through its exact centroid
    nodes = region_nodes(K)
    cell = {}
    for v in nodes:
        cx, cy = v.centroid
        cell[v.node] = (int((cx + 1) * a / 2), int((cy + 1) * b / 2))
    assert sorted(cell.values()) == [(i, j) for i in range(a) for j in range(b)]
    expected = {frozenset(((i, j), (i + 1, j))) for i in range(a - 1) for j in range(b)}
    expected |= {frozenset(((i, j), (i, j + 1))) for i in range(a) for j in range(b - 1)}
    assert {frozenset((cell[i], cell[j])) for i, j in G.edge_set()} == expected
    # shared facets: vertical ones have length 2/b, horizontal ones 2/a
    for (i, j), vol in zip(G.edges.tolist(), facet_volumes(K, G.edge_cells)):
        vertical = cell[i][1] == cell[j][1]
        assert vol == FacetVolume(F(2, b) if vertical else F(2, a), 1)


# -- independent checks on random networks -----------------------------------------------------
small_int = st.integers(-3, 3)


@st.composite
def small_networks(draw: st.DrawFn, n: int = 2) -> object:
    widths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    layers = []
    fan_in = n
    for w in widths + [1]:
        W = draw(st.lists(st.lists(small_int, min_size=fan_in, max_size=fan_in), min_size=w, max_size=w))
        b = draw(st.lists(small_int, min_size=w, max_size=w))
        layers.append({"W": W, "b": [F(x, 2) for x in b]})
        fan_in = w
    return network_from_dict({"layers": layers})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_dual_edges_are_regions_sharing_an_n_minus_1_face(net: object) -> None:
    _check_adjacency(build_complex(net, Domain.box(2, -1, 1)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks(n=3))
def test_dual_edges_in_three_dimensions(net: object) -> None:
    _check_adjacency(build_complex(net, Domain.box(3, -1, 1)))


def _check_adjacency(K: object) -> None:
    G = dual_graph(K)
    vs = K.vertex_sets()
    regs = list(K.regions())
    pts = {v: K.vertex(v) for v in range(K.f_vector[0])}
    expected = set()
    for x in range(len(regs)):
        for y in range(x + 1, len(regs)):
            common = sorted(vs[regs[x]] & vs[regs[y]])
            if _affine_rank([pts[v] for v in common]) == K.input_dim - 1:
                expected.add((x, y))
    assert G.edge_set() == expected
    # the shared cell is the face spanned by the common vertices
    for (x, y), c in zip(G.edges.tolist(), G.edge_cells.tolist()):
        assert vs[c] == vs[regs[x]] & vs[regs[y]]
    # the dual graph of a subdivided convex domain is connected
    g = nx.Graph()
    g.add_nodes_from(range(G.num_nodes))
    g.add_edges_from(G.edge_set())
    assert nx.is_connected(g)


def _normal_2d(p: tuple[Fraction, ...], q: tuple[Fraction, ...]) -> list[Fraction]:
    return [q[1] - p[1], p[0] - q[0]]


def _normal_3d(pts: list[tuple[Fraction, ...]]) -> list[Fraction]:
    p = pts[0]
    for i in range(1, len(pts)):
        for j in range(i + 1, len(pts)):
            u = [a - b for a, b in zip(pts[i], p)]
            v = [a - b for a, b in zip(pts[j], p)]
            nu = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
            if any(nu):
                return nu
    raise AssertionError("degenerate facet")


def _exact_sqrt(x: Fraction) -> Fraction:
    p, q = math.isqrt(x.numerator), math.isqrt(x.denominator)
    assert p * p == x.numerator and q * q == x.denominator, f"{x} is not a rational square"
    return F(p, q)


def _check_pyramids(K: object) -> None:
    """vol(P) = (1/n) sum over facets F of vol(F) * dist(c, aff F) for every region P."""
    n = K.input_dim
    vols, cents = region_volumes_and_centroids(K)
    for node, r in enumerate(K.regions()):
        total = F(0)
        for f in K.facets(r):
            pts = [K.vertex(v) for v in sorted(K.vertex_sets()[f])]
            nu = _normal_2d(pts[0], pts[1]) if n == 2 else _normal_3d(pts)
            h = sum((a * (x - c) for a, x, c in zip(nu, pts[0], cents[node])), F(0))
            vol = facet_volume(K, f)
            total += _exact_sqrt(vol.squared * h * h / sum(a * a for a in nu))
        assert total == n * vols[node]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_region_and_facet_volumes_exact_2d(net: object) -> None:
    K = build_complex(net, Domain.box(2, -1, 1))
    vols, cents = region_volumes_and_centroids(K)
    assert sum(vols) == 4
    assert vols == K.region_volumes()
    # the volume-weighted centroids average to the box's centre
    assert [sum((v * c[i] for v, c in zip(vols, cents)), F(0)) for i in range(2)] == [0, 0]
    _check_pyramids(K)


def test_region_and_facet_volumes_exact_3d() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 1, 1], [1, -2, 0], [0, 1, -3]], "b": [0, "1/3", "1/2"]},
                                        {"W": [[1, -1, 2], [2, 1, -1]], "b": [0, "-1/2"]},
                                        {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(3, -1, 1))
    vols, cents = region_volumes_and_centroids(K)
    assert sum(vols) == 8 and vols == K.region_volumes()
    assert [sum((v * c[i] for v, c in zip(vols, cents)), F(0)) for i in range(3)] == [0, 0, 0]
    _check_pyramids(K)


def test_cube_cut_by_a_diagonal_plane() -> None:
    K = build_complex(lines_net([[1, 1, 1, 0]]), Domain.box(3, -1, 1))
    G = dual_graph(K)
    assert G.num_edges == 1
    v = facet_volume(K, int(G.edge_cells[0]))
    assert v == FacetVolume(F(3), 3)  # a regular hexagon of side sqrt(2): 3 sqrt(3)
    K2 = build_complex(lines_net([[1, 0, 0, F(-1, 3)]]), Domain.box(3, -1, 1))
    assert facet_volume(K2, int(dual_graph(K2).edge_cells[0])) == FacetVolume(F(4), 1)


def test_one_dimensional_complex() -> None:
    net = network_from_dict({"layers": [{"W": [[1], [2]], "b": [0, -1]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(1, -1, 1))
    G = dual_graph(K)
    assert G.edge_set() == {(0, 1), (1, 2)}
    assert facet_volumes(K, G.edge_cells) == (FacetVolume(F(1), 1),) * 2
    assert [v.volume for v in region_nodes(K)] == [1, F(1, 2), F(1, 2)]


# -- node attributes ---------------------------------------------------------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_output_attributes_against_the_refined_complex(net: object) -> None:
    dom = Domain.box(2, -1, 1)
    K = build_complex(net, dom)
    R = build_complex(net, dom, with_output=True)
    width = K.signs.shape[1]
    o = R.sign_slices()["outputs"].start
    seen: dict[int, set[int]] = {}
    for r in R.regions():
        seen.setdefault(K.index_of(R.signs[r, :width]), set()).add(int(R.signs[r, o]))
    for v in region_nodes(K):
        Fc = net.forward(v.centroid)[0]
        strict = seen[v.cell] - {0}
        assert v.output_changes_sign == (strict == {-1, 1})
        if v.output_changes_sign:
            assert v.output_signs == (None,) and v.output_class is None
        else:
            s = v.output_signs[0]
            assert s == (Fc > 0) - (Fc < 0)
            assert v.output_class == (1 if s == 1 else 0)
    for v in region_nodes(R):
        assert v.output_changes_sign is False
        Fc = net.forward(v.centroid)[0]
        assert v.output_signs == ((Fc > 0) - (Fc < 0),)
    # class volumes: hidden regions split exactly as the refined complex says
    cv = region_class_volumes(K, R)
    cr = region_class_volumes(R)
    assert sum((a + b for a, b in cv), F(0)) == 4
    assert sum(b for _, b in cv) == sum(b for _, b in cr)
    for v, (c0, c1) in zip(region_nodes(K), cv):
        assert c0 + c1 == v.volume
        if not v.output_changes_sign:
            assert (c1 == v.volume) == (v.output_class == 1)


def test_several_outputs_class_is_the_argmax() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
                                        {"W": [[1, 0], [0, 1], [0, 0]], "b": [0, 0, "1/2"]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    for v in region_nodes(K):
        x, y = v.centroid
        if x < 0 and y < 0:
            assert v.output_class == 2  # (0, 0, 1/2)
        else:
            assert v.output_class is None  # relu(x) vs 1/2 changes inside
        assert v.output_signs[2] == 1


def test_to_networkx_carries_exact_attributes() -> None:
    K = build_complex(vertical_lines([F(0)]), Domain.box(2, -1, 1))
    g = to_networkx(dual_graph(K))
    assert sorted(g.nodes) == [0, 1] and list(g.edges) == [(0, 1)]
    assert g.nodes[0]["volume"] == 2 and g.nodes[0]["volume_float"] == 2.0
    assert g.nodes[0]["centroid"] == (F(-1, 2), F(0))
    assert g.nodes[1]["sign_vector"][0] == 1
    e = g.edges[0, 1]
    assert e["volume_squared"] == 4 and e["volume_float"] == 2.0
    assert K.dim(e["cell"]) == 1
