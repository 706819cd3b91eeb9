"""Hyperplane arrangements (one hidden layer) in general position, in a box holding every vertex.

A one-hidden-layer network with ``k`` neurons cuts the box ``B = [-L, L]^n`` by ``k`` hyperplanes
``a_i . x + b_i = 0``. The complex's cells are the relatively open pieces of the arrangement of the
``k`` hyperplanes *and* of the box's own faces, so the f-vector counts box faces and their cuts
as well as the pieces of the hyperplanes. The counts below are derived in the comments and use
only quantities this test computes itself, exactly (with Fractions), from the weights.

n = 2, k lines. General position: no two parallel, no three through a point; every one of the
C(k,2) crossing points inside the open box; no line through a box corner. Then each line meets
the boundary in 2 points, interior to box edges, and these 2k points are distinct (two lines
sharing one would make a crossing on the boundary).
  f0 = 4 corners + 2k boundary points + C(k,2) crossings
  f1 = (4 + 2k) box-edge pieces (each boundary point splits one edge)
       + k^2 line pieces (each line carries k-1 crossings, so it is cut into k segments)
  f2 = 1 + k + C(k,2)                       (the regions of the arrangement, all met by the box)
  Euler: f0 - f1 + f2 = 1 + k + 2 C(k,2) - k^2 = 1.

n = 3, k planes. General position: any three normals independent (so two planes meet in a line,
three in a point, and no four share a point); every triple point inside the open box; no plane
through a box corner; every line L_ij = P_i n P_j meets the box boundary in two points that lie
in the relative interior of box 2-faces (not on box edges). Let p_i be the number of box edges
plane i crosses (the edges whose end corners give a . x + b opposite strict signs; 3 to 6: the
section of the cube is a polygon with p_i vertices and p_i edges, one on each of p_i faces).
Write P = sum p_i, C2 = C(k,2), C3 = C(k,3).
  f0 = 8 corners + P (plane/box-edge crossings, distinct because no L_ij meets a box edge)
       + 2 C2 (L_ij hits the boundary twice) + C3 (triple points)
  f1 = (12 + P) box-edge pieces
       + (P + 4 C2) pieces of the planes' traces on box faces (the p_i polygon edges, each further
         split at every boundary point of an L_ij on it: each of the 2 C2 points lies on two traces)
       + (k - 1) C2 pieces of the lines L_ij inside (each carries the k - 2 triple points on it)
  f2 = (6 + P + 2 C2) pieces of box faces (a convex polygon cut by chords with distinct ends and
         no three concurrent has 1 + #chords + #crossings parts; summed over the six faces:
         6 + P chords + 2 C2 crossings)
       + k (1 + (k - 1) + C(k-1, 2)) pieces of the planes (the section polygon of plane i is cut
         by the k - 1 chords L_ij, which cross at the C(k-1, 2) triple points on plane i)
  f3 = 1 + k + C2 + C3                      (the regions of the arrangement)
  Euler: 1 (the P terms cancel; C2 terms: -(k-1) + 2 + (k-2) - 1 = 0).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from itertools import combinations, product
from math import comb

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.geometry import exact_rank

Vec = tuple[Fraction, ...]


def _solve(M: list[list[Fraction]], r: list[Fraction]) -> Vec | None:
    """Exact solution of the square system ``M x = r`` (None if singular), Gauss-Jordan."""
    n = len(M)
    A = [list(row) + [ri] for row, ri in zip(M, r)]
    for col in range(n):
        piv = next((i for i in range(col, n) if A[i][col] != 0), None)
        if piv is None:
            return None
        A[col], A[piv] = A[piv], A[col]
        for i in range(n):
            if i != col and A[i][col] != 0:
                f = A[i][col] / A[col][col]
                A[i] = [x - f * y for x, y in zip(A[i], A[col])]
    return tuple(A[i][n] / A[i][i] for i in range(n))


def _val(a: Vec, b: Fraction, x: Vec) -> Fraction:
    return sum((ai * xi for ai, xi in zip(a, x)), b)


def _cross(u: Vec, v: Vec) -> Vec:
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def _corners(n: int, L: Fraction) -> list[Vec]:
    return [tuple(L * s for s in signs) for signs in product((-1, 1), repeat=n)]


def _box_edges(n: int, L: Fraction) -> list[tuple[Vec, Vec]]:
    cs = _corners(n, L)
    return [(p, q) for p, q in combinations(cs, 2) if sum(x != y for x, y in zip(p, q)) == 1]


def _vertices(A: list[Vec], b: list[Fraction], n: int) -> list[Vec] | None:
    """All n-fold intersection points; None unless in general position."""
    pts = []
    for S in combinations(range(len(A)), n):
        x = _solve([list(A[i]) for i in S], [-b[i] for i in S])
        if x is None:
            return None
        pts.append(x)
    if len(set(pts)) != len(pts):
        return None  # n+1 hyperplanes through one point
    for m in range(2, n):  # every m normals independent (m < n), e.g. no two planes parallel
        for S in combinations(range(len(A)), m):
            if exact_rank([A[i] for i in S]) < m:
                return None
    return pts


def _line_exits_through_open_facets(p0: Vec, d: Vec, L: Fraction) -> bool:
    """The line p0 + t d meets the open box and leaves it through the relative interiors of
    two box facets (each exit point on exactly one facet)."""
    lows, highs = [], []
    for pc, dc in zip(p0, d):
        if dc == 0:
            if not -L < pc < L:
                return False
            continue
        t1, t2 = sorted(((-L - pc) / dc, (L - pc) / dc))
        lows.append(t1)
        highs.append(t2)
    lo, hi = max(lows), min(highs)
    return lo < hi and lows.count(lo) == 1 and highs.count(hi) == 1


def _generic_in_box(A: list[Vec], b: list[Fraction], n: int, L: Fraction) -> int | None:
    """Check general position in ``[-L, L]^n`` (module docstring); return P (n = 3) or 0.

    Returns None when the arrangement is not in general position in this box.
    """
    pts = _vertices(A, b, n)
    if pts is None or not all(-L < x < L for p in pts for x in p):
        return None
    if any(_val(a, bi, c) == 0 for a, bi in zip(A, b) for c in _corners(n, L)):
        return None  # a hyperplane through a box corner
    for a, bi in zip(A, b):  # every hyperplane meets the open box
        if len({_val(a, bi, c) > 0 for c in _corners(n, L)}) != 2:
            return None
    if n == 2:
        return 0
    for i, j in combinations(range(len(A)), 2):
        d = _cross(A[i], A[j])
        p0 = _solve([list(A[i]), list(A[j]), list(d)], [-b[i], -b[j], Fraction(0)])
        assert p0 is not None
        if not _line_exits_through_open_facets(p0, d, L):
            return None
    return sum((_val(a, bi, p) > 0) != (_val(a, bi, q) > 0)
               for a, bi in zip(A, b) for p, q in _box_edges(3, L))


def _general_position_in_box(A: list[Vec], b: list[Fraction], n: int) -> tuple[Fraction, int] | None:
    """A box half-width L holding every vertex, in general position, and its P; or None."""
    pts = _vertices(A, b, n)
    if pts is None:
        return None
    L = Fraction(int(max([abs(x) for p in pts for x in p] + [abs(v) for v in b] + [0])) + 1)
    for _ in range(10):  # a few box sizes, in case a corner or a box edge is hit
        P = _generic_in_box(A, b, n, L)
        if P is not None:
            return L, P
        L += Fraction(1, 3)
    return None


def _expected_f_vector(n: int, k: int, P: int) -> tuple[int, ...]:
    C2, C3 = comb(k, 2), comb(k, 3)
    if n == 2:
        return (4 + 2 * k + C2, 4 + 2 * k + k * k, 1 + k + C2)
    return (
        8 + P + 2 * C2 + C3,
        (12 + P) + (P + 4 * C2) + (k - 1) * C2,
        (6 + P + 2 * C2) + k * (1 + (k - 1) + comb(k - 1, 2)),
        1 + k + C2 + C3,
    )


def _random_generic(n: int, k: int, seed: int) -> tuple[list[Vec], list[Fraction], Fraction, int]:
    rng = np.random.default_rng(1000 * n + 10 * k + seed)
    for _ in range(200):
        A = [tuple(Fraction(int(v)) for v in rng.integers(-6, 7, n)) for _ in range(k)]
        b = [Fraction(int(v), int(rng.integers(1, 4))) for v in rng.integers(-6, 7, k)]
        if any(all(v == 0 for v in a) for a in A):
            continue
        found = _general_position_in_box(A, b, n)
        if found is not None:
            return A, b, found[0], found[1]
    raise AssertionError("no generic arrangement found (test set-up)")


def _network(A: list[Vec], b: list[Fraction]) -> dict[str, object]:
    return {"layers": [{"W": [[str(v) for v in a] for a in A], "b": [str(v) for v in b]},
                       {"W": [[1] * len(A)], "b": [0]}]}


@pytest.mark.parametrize("n", [2, 3])
def test_the_closed_forms_have_euler_characteristic_one(n: int) -> None:
    for k in range(1, 12):
        for P in range(3 * k, 6 * k + 1):
            f = _expected_f_vector(n, k, P if n == 3 else 0)
            assert sum((-1) ** i * x for i, x in enumerate(f)) == 1
            assert f[n] == sum(comb(k, i) for i in range(n + 1))


@pytest.mark.parametrize("k", range(1, 9))
@pytest.mark.parametrize("seed", range(2))
def test_lines_in_general_position(k: int, seed: int, assert_complex_ok: Callable[..., None]) -> None:
    A, b, L, _ = _random_generic(2, k, seed)
    K = build_complex(network_from_dict(_network(A, b)), Domain.box(2, -L, L))
    assert K.num_regions == sum(comb(k, i) for i in range(3))
    assert K.f_vector == _expected_f_vector(2, k, 0)
    if seed == 0:
        assert_complex_ok(K)


@pytest.mark.parametrize("k", range(1, 7))
@pytest.mark.parametrize("seed", range(2))
def test_planes_in_general_position(k: int, seed: int, assert_complex_ok: Callable[..., None]) -> None:
    A, b, L, P = _random_generic(3, k, seed)
    K = build_complex(network_from_dict(_network(A, b)), Domain.box(3, -L, L))
    assert K.num_regions == sum(comb(k, i) for i in range(4))
    assert K.f_vector == _expected_f_vector(3, k, P)
    if seed == 0 and k <= 4:
        assert_complex_ok(K)


def test_planes_sections_of_every_shape(assert_complex_ok: Callable[..., None]) -> None:
    """Four planes whose sections of [-1, 1]^3 are a triangle, a pentagon, a hexagon and a
    quadrilateral (p_i = 3, 5, 6, 4), in general position in that box, so that the P term of the
    closed form is really exercised."""
    A = [(-1, -1, 1), (2, -2, 4), (-4, 4, -3), (-2, 4, 1)]
    b = ["5/4", "3/2", "-5/4", "-3/4"]
    Aq = [tuple(Fraction(v) for v in a) for a in A]
    bq = [Fraction(v) for v in b]
    one = Fraction(1)
    shapes = [sum((_val(a, bi, p) > 0) != (_val(a, bi, q) > 0) for p, q in _box_edges(3, one))
              for a, bi in zip(Aq, bq)]
    assert shapes == [3, 5, 6, 4]
    P = _generic_in_box(Aq, bq, 3, one)
    assert P == 18
    K = build_complex(network_from_dict(_network(Aq, bq)), Domain.box(3, -1, 1))
    assert K.f_vector == _expected_f_vector(3, 4, P)
    assert_complex_ok(K)


def test_coordinate_planes_give_the_3x3x3_grid() -> None:
    """x = 0, y = 0, z = 0 in [-1, 1]^3: the cube cut into 8 unit cubes, counted directly:
    27 grid points; 3 directions x 9 lines x 2 unit edges = 54; 3 orientations x 3 planes x 4
    unit squares = 36; 8 cubes. The closed form gives the same with p_i = 4 (square sections)."""
    net = network_from_dict({"layers": [{"W": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "b": [0, 0, 0]},
                                        {"W": [[1, 1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(3, -1, 1))
    assert K.f_vector == (27, 54, 36, 8) == _expected_f_vector(3, 3, 12)
    assert all(v == 1 for v in K.region_volumes())


def test_coordinate_lines_give_the_3x3_grid() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    assert K.f_vector == (9, 12, 4) == _expected_f_vector(2, 2, 0)
