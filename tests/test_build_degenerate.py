"""Hand-made degenerate networks, with f-vectors derived by hand in the comments.

Unless said otherwise the domain is the square [-1, 1]^2 or the cube [-1, 1]^3, and the sign
vector lists the hidden neurons, then the box facets in the order x >= -1, x <= 1, y >= -1,
y <= 1 (, z >= -1, z <= 1), then the outputs (with_output only).

Two facts are used again and again:
- one line crossing the square through the relative interiors of two opposite (or adjacent)
  edges: 4 corners + 2 crossing points = 6 vertices; 4 box edges + 2 (two of them split) + 1
  segment = 7 edges; 2 regions: (6, 7, 2);
- the square alone: (4, 4, 1); the cube alone: (8, 12, 6, 1).
Every complex below also passes every exact invariant of ``conftest.check_complex``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict

SQUARE = (4, 4, 1)
CUBE = (8, 12, 6, 1)
ONE_LINE = (6, 7, 2)
INSIDE2 = (1, 1, 1, 1)  # the box-facet part of a sign vector in the open square


def build(layers: list[tuple[list[list[Any]], list[Any]]], n: int = 2, with_output: bool = False,
          domain: Domain | None = None) -> PolyhedralComplex:
    """The complex of the network with hidden layers ``layers`` and a linear output summing
    the last hidden layer (its zero set matters only ``with_output``)."""
    d = {"layers": [{"W": W, "b": b} for W, b in layers]}
    d["layers"].append({"W": [[1] * len(layers[-1][1])], "b": [0]})
    return build_complex(network_from_dict(d), domain or Domain.box(n, -1, 1), with_output=with_output)


def region_signs(K: PolyhedralComplex) -> set[tuple[int, ...]]:
    return {K.sign_vector(r) for r in K.regions()}


# -- duplicated neurons, a neuron and its negative ------------------------------------------

@pytest.mark.parametrize("W, b", [
    ([[1, 0], [1, 0]], [0, 0]),               # x, x: the same line twice
    ([[1, 0], [3, 0]], [0, 0]),               # x, 3x: a positive multiple
    ([[1, 2], ["1/2", 1]], ["1/3", "1/6"]),   # x + 2y + 1/3 and half of it
])
def test_duplicated_neurons(W: list[list[Any]], b: list[Any], assert_complex_ok: Callable[..., None]) -> None:
    # the zero sets coincide: one line, so (6, 7, 2), and both neurons have equal signs everywhere
    K = build([(W, b)])
    assert K.f_vector == ONE_LINE
    assert all(s[0] == s[1] for s in map(tuple, K.signs))
    assert_complex_ok(K)


def test_a_neuron_and_its_negative(assert_complex_ok: Callable[..., None]) -> None:
    # x + 1/2 and -x - 1/2: one line x = -1/2, (6, 7, 2); the signs are opposite on every cell
    K = build([([[1, 0], [-1, 0]], ["1/2", "-1/2"])])
    assert K.f_vector == ONE_LINE
    assert all(s[0] == -s[1] for s in map(tuple, K.signs))
    assert region_signs(K) == {(1, -1) + INSIDE2, (-1, 1) + INSIDE2}
    # the line itself: both neurons 0, in the open square
    (line,) = [i for i in K.cells_of_dim(1) if K.sign_vector(i)[:2] == (0, 0)]
    assert K.sign_vector(line)[2:] == INSIDE2
    assert_complex_ok(K)


def test_duplicated_planes_3d(assert_complex_ok: Callable[..., None]) -> None:
    # the plane x + y + z = 1/2 twice; it crosses 6 cube edges (a hexagonal section):
    # f0 = 8 + 6, f1 = 12 + 6 (split edges) + 6 (hexagon sides) = 24,
    # f2 = 6 + 6 (faces split) + 1 (hexagon) = 13, f3 = 2.  Euler 14 - 24 + 13 - 2 = 1.
    K = build([([[1, 1, 1], [2, 2, 2]], ["-1/2", -1])], n=3)
    assert K.f_vector == (14, 24, 13, 2)
    assert_complex_ok(K)


# -- dead and identically-zero neurons -----------------------------------------------------

def test_dead_neuron(assert_complex_ok: Callable[..., None]) -> None:
    # x + y - 5 < 0 on the whole square: no cut, every cell has sign -1 for it
    K = build([([[1, 1]], [-5])])
    assert K.f_vector == SQUARE
    assert set(K.signs[:, 0].tolist()) == {-1}
    # beside a live neuron it changes nothing either
    K = build([([[1, 0], [1, 1]], [0, -5])])
    assert K.f_vector == ONE_LINE
    assert set(K.signs[:, 1].tolist()) == {-1}
    assert_complex_ok(K)


def test_dead_neuron_touching_a_corner(assert_complex_ok: Callable[..., None]) -> None:
    # x + y - 2 <= 0 on the square, = 0 only at the corner (1, 1): no cut, the corner gets 0
    K = build([([[1, 1]], [-2])])
    assert K.f_vector == SQUARE
    corner = K.index_of((0, 1, 0, 1, 0))
    assert K.vertex(corner) == (1, 1)
    assert sorted(K.signs[:, 0].tolist()) == [-1] * 8 + [0]
    assert_complex_ok(K)


def test_identically_zero_neuron(assert_complex_ok: Callable[..., None]) -> None:
    # W row 0, b 0: z = 0 everywhere: no cut, every cell (the open square too) has a 0 there
    K = build([([[0, 0]], [0])])
    assert K.f_vector == SQUARE
    assert set(K.signs[:, 0].tolist()) == {0}
    assert K.dim(K.index_of((0,) + INSIDE2)) == 2
    K = build([([[0, 0], [0, 1]], [0, 0])])  # beside the line y = 0
    assert K.f_vector == ONE_LINE
    assert region_signs(K) == {(0, 1) + INSIDE2, (0, -1) + INSIDE2}
    assert_complex_ok(K)


def test_deep_neuron_identically_zero_on_a_region(assert_complex_ok: Callable[..., None]) -> None:
    # layer 1: h1 = relu(x), h2 = relu(-x); layer 2: z = h1 = relu(x).
    # z = 0 on the whole half x <= 0: it cuts nothing new (the line x = 0 is there already), so
    # (6, 7, 2), but the full-dimensional region x < 0 has a 0 in its sign vector.
    K = build([([[1, 0], [-1, 0]], [0, 0]), ([[1, 0]], [0])])
    assert K.f_vector == ONE_LINE
    assert region_signs(K) == {(-1, 1, 0) + INSIDE2, (1, -1, 1) + INSIDE2}
    left = K.index_of((-1, 1, 0) + INSIDE2)
    assert K.dim(left) == 2 and K.volume(left) == 2
    assert K.affine_map(left) == (((0, 0),), (0,))  # the output h1(2nd layer) is 0 there
    assert_complex_ok(K)


def test_deep_neuron_zero_on_one_region_negative_on_the_other(assert_complex_ok: Callable[..., None]) -> None:
    # z = -relu(-x): 0 on x >= 0 (a full-dimensional zero set), x < 0 on the left: never positive
    K = build([([[1, 0], [-1, 0]], [0, 0]), ([[0, -1]], [0])])
    assert K.f_vector == ONE_LINE
    assert region_signs(K) == {(-1, 1, -1) + INSIDE2, (1, -1, 0) + INSIDE2}
    assert_complex_ok(K)


@pytest.mark.parametrize("W2, b2, sign", [
    ([[0, 0]], [0], 0),        # identically zero in layer 2
    ([[-1, -1]], [-1], -1),    # dead in layer 2: -relu(x) - relu(-x) - 1 < 0
])
def test_deep_dead_and_identically_zero(W2: list[list[int]], b2: list[int], sign: int,
                                        assert_complex_ok: Callable[..., None]) -> None:
    K = build([([[1, 0], [-1, 0]], [0, 0]), (W2, b2)])
    assert K.f_vector == ONE_LINE
    assert set(K.signs[:, 2].tolist()) == {sign}
    assert_complex_ok(K)


def test_three_layers_with_zero_and_dead_neurons(assert_complex_ok: Callable[..., None]) -> None:
    # layer 1: relu(x), relu(y); layer 2: u = relu(x) (0 on x <= 0), v = -1 (dead);
    # layer 3: w = u - relu(v) = relu(x) (again 0 on x <= 0).
    # The only cuts are x = 0 and y = 0: the 3 x 3 grid, (9, 12, 4).
    K = build([([[1, 0], [0, 1]], [0, 0]), ([[1, 0], [0, 0]], [0, -1]), ([[1, -1]], [0])])
    assert K.f_vector == (9, 12, 4)
    # regions: layer-1 signs (sx, sy), then u = sx or 0, v = -1, w = u
    expect = {(sx, sy, max(sx, 0), -1, max(sx, 0)) + INSIDE2 for sx in (-1, 1) for sy in (-1, 1)}
    assert region_signs(K) == expect
    assert_complex_ok(K)


def test_deep_neuron_duplicating_a_first_layer_neuron(assert_complex_ok: Callable[..., None]) -> None:
    # layer 1: relu(x + 1) = x + 1 on the square (zero only on the facet x = -1), relu(x);
    # layer 2: relu(x + 1) - 1 = x: its zero set is the line x = 0, the same as neuron 2's.
    K = build([([[1, 0], [1, 0]], [1, 0]), ([[1, 0]], [-1])])
    assert K.f_vector == ONE_LINE
    assert region_signs(K) == {(1, -1, -1) + INSIDE2, (1, 1, 1) + INSIDE2}
    # neuron 1 is 0 exactly on the cells of the facet x = -1
    assert all((s[0] == 0) == (s[3] == 0) for s in map(tuple, K.signs))
    assert_complex_ok(K)


# -- zero sets on box facets and through box corners ---------------------------------------

def test_zero_set_on_a_box_facet(assert_complex_ok: Callable[..., None]) -> None:
    # x - 1 = 0 is the facet x = 1: no cut; the facet's cells (1 edge, 2 corners) get 0
    K = build([([[1, 0]], [-1])])
    assert K.f_vector == SQUARE
    zero = [i for i in range(K.num_cells) if K.sign_vector(i)[0] == 0]
    assert sorted(K.dim(i) for i in zero) == [0, 0, 1]
    assert all(K.sign_vector(i)[2] == 0 for i in zero)  # exactly the cells on x <= 1's facet
    assert_complex_ok(K)


def test_zero_set_on_a_box_facet_3d(assert_complex_ok: Callable[..., None]) -> None:
    # z + 1 = 0 is the facet z = -1 (neuron positive inside): the facet's 9 cells get 0
    K = build([([[0, 0, 1]], [1])], n=3)
    assert K.f_vector == CUBE
    assert sum(1 for s in K.signs.tolist() if s[0] == 0) == 4 + 4 + 1
    assert_complex_ok(K)


def test_line_through_two_corners(assert_complex_ok: Callable[..., None]) -> None:
    # x + y = 0, the diagonal from (1, -1) to (-1, 1): no new vertex, 4 + 1 edges, 2 triangles
    K = build([([[1, 1]], [0])])
    assert K.f_vector == (4, 5, 2)
    assert K.region_volumes() == [2, 2]
    assert_complex_ok(K)


def test_line_through_one_corner(assert_complex_ok: Callable[..., None]) -> None:
    # 2x + y = 1 passes through the corner (1, -1) and crosses the top edge at (0, 1):
    # vertices 4 + 1, edges 4 + 1 (top split) + 1, regions 2: (5, 6, 2)
    K = build([([[2, 1]], [-1])])
    assert K.f_vector == (5, 6, 2)
    assert_complex_ok(K)


def test_plane_through_a_cube_edge(assert_complex_ok: Callable[..., None]) -> None:
    # x + y = 0 contains the cube edges {x = 1, y = -1} and {x = -1, y = 1}: two prisms.
    # f0 = 8 (no new vertex); f1 = 12 + 2 (the diagonals of the faces z = -1 and z = 1);
    # f2 = 6 + 2 (those two faces split) + 1 (the diagonal rectangle) = 9; f3 = 2.
    K = build([([[1, 1, 0]], [0])], n=3)
    assert K.f_vector == (8, 14, 9, 2)
    assert_complex_ok(K)


def test_plane_through_three_corners(assert_complex_ok: Callable[..., None]) -> None:
    # x + y + z = 1 passes through (1, 1, -1), (1, -1, 1), (-1, 1, 1): a triangle whose sides
    # are diagonals of the faces x = 1, y = 1, z = 1. f0 = 8; f1 = 12 + 3; f2 = 6 + 3 + 1;
    # f3 = 2; the corner tetrahedron has volume 2 * 2 * 2 / 6 = 4/3.
    K = build([([[1, 1, 1]], [-1])], n=3)
    assert K.f_vector == (8, 15, 10, 2)
    assert sorted(K.region_volumes()) == [Fraction(4, 3), Fraction(20, 3)]
    assert_complex_ok(K)


def test_plane_touching_only_a_corner(assert_complex_ok: Callable[..., None]) -> None:
    K = build([([[1, 1, 1]], [-3])], n=3)  # 0 at (1, 1, 1), negative elsewhere
    assert K.f_vector == CUBE
    assert sum(1 for s in K.signs.tolist() if s[0] == 0) == 1
    assert_complex_ok(K)


def test_bent_zero_set_through_a_corner_and_a_zero_set_on_a_facet(assert_complex_ok: Callable[..., None]) -> None:
    # layer 1: a = x, c = y + 1 (0 on the facet y = -1, positive elsewhere: relu(c) = c);
    # layer 2: z = relu(a) + relu(c) - 1 = relu(x) + y: the bent line y = 0 (x <= 0), y = -x
    # (x >= 0), from (-1, 0) through (0, 0) to the corner (1, -1).
    # vertices: 4 corners, (0, -1), (0, 1) [x = 0 on the box], (-1, 0), (0, 0): 8.
    # edges: bottom 2, top 2, left 2, right 1 (the bent line ends in its corner): 7 box pieces;
    # x = 0: 2 pieces; the bent line: 2 pieces: 11.
    # regions: x < 0 split by y = 0 (2), x > 0 split by y = -x (2): 4.   8 - 11 + 4 = 1.
    K = build([([[1, 0], [0, 1]], [0, 1]), ([[1, 1]], [-1])])
    assert K.f_vector == (8, 11, 4)
    assert region_signs(K) == {(sx, 1, sz) + INSIDE2 for sx in (-1, 1) for sz in (-1, 1)}
    # the triangle (0, 0), (0, -1), (1, -1) is the region x > 0, z < 0: volume 1/2
    tri = K.index_of((1, 1, -1) + INSIDE2)
    assert {K.vertex(v) for v in K.cell_vertices(tri)} == {(0, 0), (0, -1), (1, -1)}
    assert K.volume(tri) == Fraction(1, 2)
    assert_complex_ok(K)


def test_three_planes_through_one_line(assert_complex_ok: Callable[..., None]) -> None:
    # x = 0, y = 0, x = 2y all contain the z-axis (a degenerate arrangement). The complex is the
    # product of the square cut by three concurrent lines Q and the segment I = [-1, 1].
    # Q: 4 corners + 6 crossings with the edges + the centre = 11 vertices; 4 + 6 box pieces +
    # 3 x 2 half-lines = 16 edges; 6 regions. I: (2, 1).
    # f_k(Q x I) = sum_{i + j = k} f_i(Q) f_j(I): (22, 16*2 + 11, 6*2 + 16, 6) = (22, 43, 28, 6).
    K = build([([[1, 0, 0], [0, 1, 0], [1, -2, 0]], [0, 0, 0])], n=3)
    assert K.f_vector == (22, 43, 28, 6)
    assert_complex_ok(K)


# -- concurrency that only exact decimals see ---------------------------------------------

DECIMAL_LINES = {"W": [[1, 0], [0, 1], [1, 1]], "b": ["-0.1", "-0.2", "-0.3"]}


def test_three_lines_concurrent_in_exact_decimals(assert_complex_ok: Callable[..., None]) -> None:
    # x = 0.1, y = 0.2, x + y = 0.3 all pass through (1/10, 2/10), exactly.
    # Each line crosses the boundary twice at distinct non-corner points (x = 0.1 on top and
    # bottom, y = 0.2 on left and right, x + y = 0.3 on top at x = -0.7 and right at y = -0.7).
    # vertices 4 + 6 + 1 = 11; edges 4 + 6 box pieces + 3 x 2 = 16; regions 6.
    net = network_from_dict({"layers": [DECIMAL_LINES, {"W": [[1, 1, 1]], "b": [0]}]})
    assert net.layers[0].b == (Fraction(-1, 10), Fraction(-2, 10), Fraction(-3, 10))
    K = build_complex(net)
    assert K.f_vector == (11, 16, 6)
    centre = K.index_of((0, 0, 0) + INSIDE2)
    assert K.vertex(centre) == (Fraction(1, 10), Fraction(1, 5))
    assert_complex_ok(K)


def test_the_same_lines_written_as_floats_are_not_concurrent(assert_complex_ok: Callable[..., None]) -> None:
    # As floats, 0.1, 0.2 and 0.3 are binary fractions with 0.1 + 0.2 != 0.3, so the three lines
    # meet pairwise in three distinct points: general position, one more region (a tiny
    # triangle): vertices 4 + 6 + 3 = 13, edges 4 + 6 + 3 x 3 = 19, regions 7.
    assert Fraction(0.1) + Fraction(0.2) != Fraction(0.3)
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [-0.1, -0.2, -0.3]},
                                        {"W": [[1, 1, 1]], "b": [0]}]})
    K = build_complex(net)
    assert K.f_vector == (13, 19, 7)
    # in binary f(0.1) + f(0.2) > f(0.3), so the tiny triangle is x < 0.1, y < 0.2,
    # x + y > 0.3: a right isosceles triangle with legs d = f(0.1) + f(0.2) - f(0.3), area d^2 / 2
    tri = K.index_of((-1, -1, 1) + INSIDE2)
    d = Fraction(0.1) + Fraction(0.2) - Fraction(0.3)
    assert K.volume(tri) == d * d / 2
    assert_complex_ok(K)


def test_four_lines_concurrent_in_exact_decimals(assert_complex_ok: Callable[..., None]) -> None:
    # add x - y = -0.1 (through (0.1, 0.2) too; it meets the left edge at y = -0.9 and the top
    # at x = 0.9): vertices 4 + 8 + 1 = 13; edges 4 + 8 + 4 x 2 = 20; regions 8.
    net = network_from_dict({"layers": [
        {"W": [[1, 0], [0, 1], [1, 1], [1, -1]], "b": ["-0.1", "-0.2", "-0.3", "0.1"]},
        {"W": [[1, 1, 1, 1]], "b": [0]}]})
    K = build_complex(net)
    assert K.f_vector == (13, 20, 8)
    centre = K.index_of((0, 0, 0, 0) + INSIDE2)
    assert len(K.cofacets(centre)) == 8  # a vertex on four zero sets (more than n = 2)
    assert_complex_ok(K)


# -- degenerate outputs (with_output) ----------------------------------------------------

def test_output_identically_zero_on_a_region(assert_complex_ok: Callable[..., None]) -> None:
    # output = relu(x): 0 on the whole left half. With the output it cuts nothing new;
    # the left region has output sign 0.
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, with_output=True)
    assert K.f_vector == ONE_LINE
    assert region_signs(K) == {(-1,) + INSIDE2 + (0,), (1,) + INSIDE2 + (1,)}
    assert_complex_ok(K)


def test_output_refines_the_regions(assert_complex_ok: Callable[..., None]) -> None:
    # hidden: relu(x), relu(y), relu(-y) (y and its negative); output: relu(x) + relu(y) -
    # relu(-y) - 1/2 = relu(x) + y - 1/2: the bent line y = 1/2 (x <= 0), y = 1/2 - x (x >= 0).
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [0, -1]], "b": [0, 0, 0]},
                                        {"W": [[1, 1, -1]], "b": ["-1/2"]}]})
    # hidden only: the lines x = 0 and y = 0 (twice): the 3 x 3 grid
    assert build_complex(net).f_vector == (9, 12, 4)
    K = build_complex(net, with_output=True)
    # vertices: 4 corners; x = 0 meets the box at (0, -1), (0, 1); y = 0 at (-1, 0), (1, 0);
    # the centre; the bent line: (-1, 1/2), (0, 1/2), (1/2, 0), (1, -1/2): 4 + 2 + 2 + 1 + 4 = 13.
    # edges: box pieces top 2, bottom 2, left 3, right 3 = 10; x = 0 split at y = 0 and y = 1/2:
    # 3; y = 0 split at x = 0 and x = 1/2: 3; the bent line: 3 pieces: 19.
    # regions: the 4 quadrants, of which the bent line splits three (all but x < 0, y < 0): 7.
    # Euler: 13 - 19 + 7 = 1.
    assert K.f_vector == (13, 19, 7)
    assert_complex_ok(K)
