"""The GMP module (exactcells._exactc) against Python integers.

Every function of the module is compared with a direct computation in Python integers (or
Fractions) on hypothesis inputs built to hit its edges: exact zeros, values one unit away from a
zero, integers of every size around the machine word and the float range, negative and
non-positive homogeneous coordinates, int subclasses and numpy integers. End to end, the exact
coordinates of a build and the certificate's exact sign vectors are the same with the module and
without it (the pure-Python path). The tests load the module directly, so they compare both paths
even under ``EXACTCELLS_NO_EXT=1``; they skip when it is not built.
"""

from __future__ import annotations

import importlib
import math
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, kernel_module

from exactcells import build_complex, network_from_dict
from exactcells.certify import certify, exact_sign_vectors
from exactcells.domain import Domain

REPO = Path(__file__).resolve().parents[1]
CERTIFY = sys.modules["exactcells.certify"]


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("exactcells._exactc")
    except ImportError:
        return None


E: Any = _load()
pytestmark = pytest.mark.skipif(E is None, reason="the GMP module is not built "
                                "(python setup.py build_ext --inplace)")


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def dot(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum(x * y for x, y in zip(a, b))


def primitive(v: list[int]) -> tuple[int, ...]:
    g = math.gcd(*v)
    return tuple(x // g for x in v) if g > 1 else tuple(v)


BITS = [0, 1, 29, 30, 31, 32, 52, 53, 54, 62, 63, 64, 65, 127, 128, 500, 999, 1000, 1001, 1024, 1100, 3000]


@st.composite
def integers(draw: st.DrawFn) -> int:
    """Integers of every size around the digit, the word and the float range."""
    b = draw(st.sampled_from(BITS))
    kind = draw(st.integers(0, 3))
    x = (1 << b) - 1 if kind == 0 else (1 << b) if kind == 1 else draw(st.integers(0, (1 << b) - 1)) if b else 0
    if kind == 3:
        x = draw(st.integers(-3, 3))
    return -x if draw(st.booleans()) else x


@st.composite
def forms_and_points(draw: st.DrawFn) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Forms and homogeneous points, many of the points on a form or next to one."""
    n = draw(st.integers(1, 4))
    forms = [tuple(draw(integers()) for _ in range(n + 1)) for _ in range(draw(st.integers(1, 4)))]
    points: list[tuple[int, ...]] = []
    for _ in range(draw(st.integers(1, 6))):
        h = [draw(integers()) for _ in range(n)] + [draw(integers())]
        f = draw(st.sampled_from(forms))
        j = draw(st.integers(0, n - 1))
        if draw(st.booleans()) and f[j] != 0:
            # move h onto the zero set of f (scale by f_j, solve for h_j), then nudge it by eps
            rest = sum(f[i] * h[i] for i in range(n + 1) if i != j)
            h = [x * f[j] for x in h]
            h[j] = -rest + draw(st.sampled_from([0, 0, 1, -1, 2**60]))
            if draw(st.booleans()):
                h = [-x for x in h]
        points.append(tuple(h))
    return forms, points


@examples(300)
@given(fp=forms_and_points(), data=st.data())
def test_dot_signs_and_sign_table_are_exact(fp: tuple[list[tuple[int, ...]], list[tuple[int, ...]]],
                                            data: st.DataObject) -> None:
    forms, points = fp
    T, _ = E.sign_table(forms, points)
    for p, h in enumerate(points):
        for k, f in enumerate(forms):
            assert T[p, k] == sign(dot(f, h)), (f, h)
    m = data.draw(st.integers(0, 12))
    fi = np.array(data.draw(st.lists(st.integers(0, len(forms) - 1), min_size=m, max_size=m)), dtype=np.int64)
    pi = np.array(data.draw(st.lists(st.integers(0, len(points) - 1), min_size=m, max_size=m)), dtype=np.int64)
    out = np.full(m, 7, dtype=np.int8)
    E.dot_signs(forms, points, fi, pi, out)
    assert out.tolist() == [sign(dot(forms[k], points[p])) for k, p in zip(fi.tolist(), pi.tolist())]


def test_exact_zeros_near_the_float_filter_go_to_exact_arithmetic() -> None:
    """Points on a plane with 200-bit coordinates, and the same points one unit off: the filter's
    bound must leave every one of them to exact arithmetic or decide it right."""
    rng = np.random.default_rng(3)
    forms, points, want = [], [], []
    for t in range(400):
        f = tuple(int(x) for x in rng.integers(-2**62, 2**62, 4))
        D = int(rng.integers(1, 2**62)) << 140
        h0, h1 = (int(x) << 150 for x in rng.integers(-2**50, 2**50, 2))
        num = -(f[0] * h0 + f[1] * h1 + f[3] * D)
        h = (h0 * f[2], h1 * f[2], num, D * f[2])
        if h[3] < 0:
            h = tuple(-x for x in h)
        eps = (0, 1, -1)[t % 3]
        h = (h[0], h[1], h[2] + eps, h[3])
        forms.append(f)
        points.append(h)
        want.append(sign(dot(f, h)))
    out = np.empty(len(forms), dtype=np.int8)
    exact = E.dot_signs(forms, points, np.arange(len(forms), dtype=np.int64),
                        np.arange(len(forms), dtype=np.int64), out)
    assert out.tolist() == want
    assert 0 in want and exact >= want.count(0)


def test_integers_of_any_kind_convert_exactly() -> None:
    """Python ints (the digit path), int subclasses and numpy integers (the index and byte paths),
    booleans; anything else is refused."""

    class Big(int):
        pass

    stack = 8 * 512  # the conversion's stack buffer, in bits
    vals = [0, 1, -1, 127, 128, -128, -129, 255, 256, 2**30, -2**30, 2**63 - 1, 2**63, -2**63,
            -(2**63) - 1, 2**64 - 1, 2**64 + 5, -(2**64) - 5, 3**500, -(7**400),
            # a byte's top bit set (the sign bit of two's complement bytes), at the buffer's edge
            2**(stack - 9), -(2**(stack - 9)), 2**(stack - 1) - 1, 2**(stack - 1), -(2**(stack - 1)),
            2**5000 + 1, -(3**4000)]  # the last two: more than the conversion's stack buffer
    for v in vals:
        for x in (v, Big(v)):
            f = (x, 1)
            out = np.empty(1, dtype=np.int8)
            E.dot_signs([f], [(1, 1)], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), out)
            assert out[0] == sign(v + 1)
            # a crossing returns the integers it computed: the round trip is exact
            got = E.cross_linear((1, 0), [(1, 1)], [(-1, 1)])
            assert got == [(0, 1)]
            # a = |v| + 1 > 0 > b = -2; both ends of x's type, so the subclass path converts both
            hp, hq = (type(x)(abs(v) + 1), 3), (-2, type(x)(v * v + 1))
            (r,) = E.cross_linear((1, 0), [hp], [hq])
            assert r == primitive([(abs(v) + 1) * y + 2 * z for z, y in zip(hp, hq)])
            assert all(type(e) is int for e in r)
    out = np.empty(1, dtype=np.int8)
    E.dot_signs([(np.int64(-5), True)], [(np.int32(1), np.int8(6))], np.zeros(1, dtype=np.int64),
                np.zeros(1, dtype=np.int64), out)
    assert out[0] == 1
    with pytest.raises(TypeError):
        E.dot_signs([(Fraction(1, 2), 1)], [(1, 1)], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), out)
    with pytest.raises(TypeError):
        E.dot_signs([(0.5, 1)], [(1, 1)], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), out)
    with pytest.raises(ValueError):
        E.dot_signs([(1, 1, 1)], [(1, 1)], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), out)


@st.composite
def edges(draw: st.DrawFn) -> tuple[tuple[int, ...], list[tuple[int, ...]], list[tuple[int, ...]]]:
    n = draw(st.integers(1, 4))
    c = tuple(draw(integers()) for _ in range(n + 1))
    hp, hq = [], []
    for _ in range(draw(st.integers(0, 6))):
        p = tuple(draw(integers()) for _ in range(n + 1))
        q = tuple(draw(integers()) for _ in range(n + 1))
        if dot(c, p) < 0:
            p = tuple(-x for x in p)
        if dot(c, q) > 0:
            q = tuple(-x for x in q)
        if dot(c, p) > 0 > dot(c, q):
            hp.append(p)
            hq.append(q)
    return c, hp, hq


@examples(300)
@given(e=edges())
def test_linear_crossings_are_the_primitive_combinations(
        e: tuple[tuple[int, ...], list[tuple[int, ...]], list[tuple[int, ...]]]) -> None:
    c, hp, hq = e
    got = E.cross_linear(c, hp, hq)
    for p, q, r in zip(hp, hq, got):
        a, b = dot(c, p), dot(c, q)
        assert r == primitive([a * y - b * x for x, y in zip(p, q)])
        assert dot(c, r) == 0


def test_a_crossing_of_an_edge_that_does_not_cross_is_refused() -> None:
    with pytest.raises(ValueError, match="edge 1"):
        E.cross_linear((1, 0), [(1, 1), (1, 1)], [(-1, 1), (2, 1)])
    with pytest.raises(ValueError, match="edge 0"):
        E.cross_relu([(1, 0)], [1], 0, [(0, 1)], [(-1, 1)])  # f = relu(x): 0 at x = 0


def relu_value(M0: list[tuple[int, ...]], C: list[int], tail: int, h: tuple[int, ...],
               pattern: list[bool] | None = None) -> int:
    ys = [dot(m, h) for m in M0]
    act = [y > 0 for y in ys] if pattern is None else pattern
    return sum(c * y for c, y, s in zip(C, ys, act) if s) + tail * h[-1]


@st.composite
def relu_edges(draw: st.DrawFn) -> tuple[list[tuple[int, ...]], list[int], int, list[tuple[int, ...]], list[tuple[int, ...]]]:
    n = draw(st.integers(1, 3))
    w0 = draw(st.integers(1, 6))
    small = st.integers(-3, 3)
    M0 = [tuple(draw(st.one_of(small, integers())) for _ in range(n + 1)) for _ in range(w0)]
    C = [draw(st.one_of(small, integers())) for _ in range(w0)]
    tail = draw(st.one_of(small, integers()))
    pts = [tuple(draw(st.one_of(small, integers())) for _ in range(n)) + (draw(st.integers(1, 2**70)),)
           for _ in range(draw(st.integers(2, 8)))]
    vals = [relu_value(M0, C, tail, h) for h in pts]
    hp = [p for p, v in zip(pts, vals) if v > 0]
    hq = [q for q, v in zip(pts, vals) if v < 0]
    k = min(len(hp), len(hq))
    return M0, C, tail, hp[:k], hq[:k]


@examples(300)
@given(e=relu_edges())
def test_relu_crossings_use_each_end_s_own_pattern(
        e: tuple[list[tuple[int, ...]], list[int], int, list[tuple[int, ...]], list[tuple[int, ...]]]) -> None:
    M0, C, tail, hp, hq = e
    got = E.cross_relu(M0, C, tail, hp, hq)
    assert len(got) == len(hp)
    for p, q, r in zip(hp, hq, got):
        a, b = relu_value(M0, C, tail, p), relu_value(M0, C, tail, q)
        assert r == primitive([a * y - b * x for x, y in zip(p, q)])


@examples(200)
@given(e=relu_edges(), data=st.data())
def test_relu_signs_follow_the_given_pattern(
        e: tuple[list[tuple[int, ...]], list[int], int, list[tuple[int, ...]], list[tuple[int, ...]]],
        data: st.DataObject) -> None:
    M0, C, tail, hp, hq = e
    pts = hp + hq
    assume(pts)
    Cs = [C, [-c for c in C], [0] * len(C)]
    tails = [tail, -tail, 5]
    S = np.array([[data.draw(st.booleans()) for _ in M0] for _ in pts], dtype=np.uint8)
    m = data.draw(st.integers(1, 10))
    pi = np.array(data.draw(st.lists(st.integers(0, len(pts) - 1), min_size=m, max_size=m)), dtype=np.int64)
    ki = np.array(data.draw(st.lists(st.integers(0, 2), min_size=m, max_size=m)), dtype=np.int64)
    out = np.empty(m, dtype=np.int8)
    E.relu_signs(M0, Cs, tails, S, pts, pi, ki, out)
    for t, (p, k) in enumerate(zip(pi.tolist(), ki.tolist())):
        assert out[t] == sign(relu_value(M0, Cs[k], tails[k], pts[p], [bool(s) for s in S[p]]))


@examples(300)
@given(fp=forms_and_points())
def test_float_points_bound_their_error(fp: tuple[list[tuple[int, ...]], list[tuple[int, ...]]]) -> None:
    _, points = fp
    points = [h for h in points if h[-1] > 0]
    assume(points)
    n = len(points[0]) - 1
    X = np.empty((len(points), n))
    R = np.empty((len(points), n))
    E.float_points(points, X, R)
    for p, h in enumerate(points):
        for j in range(n):
            if np.isnan(X[p, j]):
                assert R[p, j] == np.inf
                continue
            assert math.isfinite(X[p, j]) and math.isfinite(R[p, j])
            assert abs(Fraction(X[p, j]) - Fraction(h[j], h[-1])) <= Fraction(R[p, j])
            assert (R[p, j] == 0) == (h[j] == 0)


def test_points_with_scales_out_of_range_are_not_filtered() -> None:
    points = [(1, 2**1100), (2**1100, 1), (3, 5)]
    X = np.empty((3, 1))
    R = np.empty((3, 1))
    E.float_points(points, X, R)
    assert np.isnan(X[:2]).all() and np.isinf(R[:2]).all()
    assert X[2, 0] == 0.6 and R[2, 0] > 0


def test_int_points_accepts_only_well_formed_tuples() -> None:
    assert E.int_points([(1, 2, 3), (0, 0, 1)], 3) == -1
    assert E.int_points([(1, 2, 3), (0, 0, 0)], 3) == 1
    assert E.int_points([(1, 2, 3), [0, 0, 1]], 3) == 1
    assert E.int_points([(1, np.int64(2), 3)], 3) == 0
    assert E.int_points([(1, 2)], 3) == 0
    assert E.int_points([], 3) == -1


@pytest.mark.parametrize("seed", range(5))
def test_the_compiled_certificate_layer_bounds_its_error(seed: int) -> None:
    """filter_layer's Z and B against the exact rational values of the same float inputs: every
    decided sign is right and |Z - z| <= B everywhere (the inputs are exact: RY = 0)."""
    rng = np.random.default_rng(seed)
    N, m, k = 60, 5, 7
    W = rng.normal(0, 1, (k, m)) * rng.choice([1.0, 1e-200, 1e200], (k, 1))
    b = rng.normal(0, 1, k)
    Y = rng.normal(0, 1, (N, m))
    Y[rng.random((N, m)) < 0.2] = 0.0
    W[0] = 0.0
    b[0] = 0.0  # an identically-zero row: every entry undecided (exact 0)
    RY = np.zeros((N, m))
    Z = np.empty((N, k))
    B = np.empty((N, k))
    sg = np.empty((N, k), dtype=np.int8)
    E.filter_layer(W, b, Y, RY, np.zeros((0, 0), dtype=np.int8), Z, B, sg)
    for p in range(N):
        for i in range(k):
            z = sum((Fraction(W[i, j]) * Fraction(Y[p, j]) for j in range(m)), Fraction(b[i]))
            if sg[p, i] != 2:
                assert sg[p, i] == sign(z)
            if math.isfinite(Z[p, i]) and math.isfinite(B[p, i]):
                assert abs(Fraction(Z[p, i]) - z) <= Fraction(B[p, i])
    assert (sg[:, 0] == 2).all()


def test_canonical_order_check_agrees_with_the_sort() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        N, width = int(rng.integers(1, 30)), int(rng.integers(1, 20))
        S = rng.integers(-1, 2, (N, width)).astype(np.int8)
        dims = np.sort(rng.integers(0, 3, N))
        if rng.random() < 0.5:  # canonical order (maybe with a repeated row)
            order = CERTIFY._canonical_order(S, dims)
            S, dims = S[order], dims[order]
        inc = CERTIFY._strictly_increasing(S, dims)
        order = CERTIFY._canonical_order(S, dims)
        keys = [(int(d), *map(int, s)) for d, s in zip(dims, S)]
        assert inc == all(a < b for a, b in zip(keys, keys[1:]))
        if inc:
            assert np.array_equal(order, np.arange(N))


def _same_everywhere(d: dict[str, Any], n: int, refinement: str | None = None) -> None:
    net = network_from_dict(d)
    dom = Domain.box(n)
    with kernel_module("GMP", E):
        K1 = build_complex(net, dom, with_output=refinement is not None, refine=refinement)
        H1 = [K1.vertex_homogeneous(v) for v in range(K1.f_vector[0])]
        s1 = exact_sign_vectors(net, dom, H1, refinement)
        c1 = certify(K1)
    with kernel_module("GMP", None):
        K2 = build_complex(net, dom, with_output=refinement is not None, refine=refinement)
        H2 = [K2.vertex_homogeneous(v) for v in range(K2.f_vector[0])]
        s2 = exact_sign_vectors(net, dom, H1, refinement)
        c2 = certify(K1)
    assert H1 == H2
    assert np.array_equal(s1, s2)
    assert c1.certified and c2.certified
    assert [(c.name, c.checked) for c in c1.checks] == [(c.name, c.checked) for c in c2.checks]


@pytest.mark.parametrize("n", [1, 2, 3])
@examples(25)
@given(data=st.data())
def test_coordinates_and_certificate_are_the_same_with_and_without_gmp(n: int, data: st.DataObject) -> None:
    """Small integer weights: coincident, opposite, dead and identically-zero neurons, pencils
    through one point, zero sets through vertices and along facets."""
    d = data.draw(integer_networks(n, max_depth=3 if n <= 2 else 2, max_width=4 if n <= 2 else 3, weight=2))
    _same_everywhere(d, n)


@examples(15)
@given(d=integer_networks(2, max_depth=2, max_width=4, weight=2, outputs=2))
def test_the_same_with_zero_sets_of_outputs(d: dict[str, Any]) -> None:
    _same_everywhere(d, 2, "zero")


def test_the_same_on_a_float_network_in_3d() -> None:
    rng = np.random.default_rng(5)
    layers = [{"W": rng.normal(0, 1, (b, a)).tolist(), "b": rng.normal(0, 0.1, b).tolist()}
              for a, b in ((3, 6), (6, 6), (6, 1))]
    _same_everywhere({"layers": layers}, 3)



@st.composite
def relu_nets(draw: st.DrawFn) -> tuple[list[list[tuple[int, ...]]], list[int], list[tuple[int, ...]]]:
    """Plain ReLU networks of integer rows (small weights: dead, coincident and zero rows), layer
    factors, and homogeneous points (some on zero sets: small coordinates)."""
    n = draw(st.integers(1, 3))
    widths = [n] + [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 4)))]
    w = st.integers(-2, 2)
    mats = [[tuple(draw(w) for _ in range(a + 1)) for _ in range(b)] for a, b in zip(widths, widths[1:])]
    factors = [draw(st.integers(1, 3)) for _ in mats]
    pts = [tuple(draw(st.integers(-3, 3)) for _ in range(n)) + (draw(st.integers(1, 3)),)
           for _ in range(draw(st.integers(1, 8)))]
    return mats, factors, pts


def forward_values(mats: list[list[tuple[int, ...]]], factors: list[int], h: tuple[int, ...]) -> list[list[int]]:
    y, t, vals = list(h[:-1]), h[-1], []
    for M, L in zip(mats, factors):
        z = [dot(r, (*y, t)) for r in M]
        vals.append(z)
        y, t = [max(v, 0) for v in z], t * L
    return vals


@examples(300)
@given(net=relu_nets())
def test_forward_signs_are_the_exact_forward_pass(
        net: tuple[list[list[tuple[int, ...]]], list[int], list[tuple[int, ...]]]) -> None:
    mats, factors, pts = net
    out = np.empty((len(pts), sum(len(M) for M in mats)), dtype=np.int8)
    E.forward_signs(mats, factors, pts, out)
    for p, h in enumerate(pts):
        assert out[p].tolist() == [sign(v) for z in forward_values(mats, factors, h) for v in z]


@examples(300)
@given(net=relu_nets(), data=st.data())
def test_forward_crossings_use_the_exact_values(
        net: tuple[list[list[tuple[int, ...]]], list[int], list[tuple[int, ...]]], data: st.DataObject) -> None:
    mats, _, pts = net
    layer = data.draw(st.integers(0, len(mats) - 1))
    row = data.draw(st.integers(0, len(mats[layer]) - 1))
    minus = data.draw(st.integers(-1, len(mats[layer]) - 1))
    ones = [1] * len(mats)

    def f(h: tuple[int, ...]) -> int:
        z = forward_values(mats, ones, h)[layer]
        return z[row] - z[minus] if minus >= 0 else z[row]

    hp = [h for h in pts if f(h) > 0]
    hq = [h for h in pts if f(h) < 0]
    k = min(len(hp), len(hq))
    got = E.cross_forward(mats, layer, row, minus, hp[:k], hq[:k])
    for p, q, r in zip(hp, hq, got):
        assert r == primitive([f(p) * y - f(q) * x for x, y in zip(p, q)])


@pytest.mark.parametrize("path", ["gmp", "python"])
@pytest.mark.parametrize("net", ["2-layer", "3-layer"])
def test_corrupted_creation_records_are_reported_with_the_vertex(path: str, net: str) -> None:
    """A vertex whose recorded edge does not cross its function (swapped ends): both paths refuse
    to rebuild it and name the vertex; a record without parents is named too."""
    layers = [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "-1/2"]}, {"W": [[1, -1, 1], [1, 1, -1]], "b": [0, "1/3"]}]
    if net == "3-layer":
        layers.append({"W": [[1, -2]], "b": ["1/5"]})
    layers.append({"W": [[1] * len(layers[-1]["b"])], "b": [0]})
    d = {"layers": layers}
    with kernel_module("GMP", E if path == "gmp" else None):
        K = build_complex(network_from_dict(d), Domain.box(2))
        store = K._vsource.store  # type: ignore[attr-defined]
        made = np.flatnonzero(store.pa[: store.size] >= 0)
        v = int(made[-1])  # the last crossing (of the deepest layer cut)
        store.pa[v], store.pb[v] = store.pb[v], store.pa[v]
        with pytest.raises(AssertionError, match=f"vertex {v}"):
            store.exact_coords(list(range(store.size)))
        store.pa[v] = -1
        with pytest.raises(AssertionError, match=f"vertex {v}"):
            store.exact_coords([v])


@pytest.mark.parametrize("seed", range(5))
def test_facet_link_faults_and_joins_are_the_numpy_passes(seed: int) -> None:
    """Random sign vectors and links (most of them no face relation, some planted ones that are):
    the compiled passes give the positions and joins the certificate's numpy passes give."""
    rng = np.random.default_rng(seed)
    N, width = 40, int(rng.integers(1, 140))
    S = rng.integers(-1, 2, (N, width)).astype(np.int8)
    dims = rng.integers(0, 3, N).astype(np.int64)
    for c in range(0, N, 3):  # plant true facets: zero out some entries of a copy
        f = (c + 1) % N
        S[f] = np.where(rng.random(width) < 0.3, 0, S[c])
        dims[f] = dims[c] - 1
    counts = rng.integers(0, 4, N)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = rng.integers(0, N, int(indptr[-1])).astype(np.int64)
    for c in range(0, N, 3):
        if counts[c]:
            indices[indptr[c]] = (c + 1) % N
    pos, neg = CERTIFY._sign_words(S)
    owners = np.repeat(np.arange(N), counts)
    pf, pc, nf, nc = pos[indices], pos[owners], neg[indices], neg[owners]
    face = ~np.any((pf & ~pc) | (nf & ~nc), axis=1) & np.any((pf != pc) | (nf != nc), axis=1)
    want = np.flatnonzero(~(face & (dims[indices] == dims[owners] - 1)))
    got = E.facet_link_faults(pos, neg, indptr, indices, dims)
    assert got.tolist() == want.tolist()
    assert len(want) < len(indices)  # the planted links pass
    jp, jn = E.joins(pos, neg, indptr, indices)
    for c in range(N):
        vs = indices[indptr[c]:indptr[c + 1]]
        assert np.array_equal(jp[c], np.bitwise_or.reduce(pos[vs], axis=0) if vs.size else np.zeros_like(pos[0]))
        assert np.array_equal(jn[c], np.bitwise_or.reduce(neg[vs], axis=0) if vs.size else np.zeros_like(neg[0]))


def test_ancestors_are_the_closure_under_parents() -> None:
    rng = np.random.default_rng(7)
    size = 200
    pa = np.full(size, -1, dtype=np.int64)
    pb = np.full(size, -1, dtype=np.int64)
    for v in range(10, size):
        pa[v], pb[v] = rng.integers(0, v, 2)
    known = np.zeros(size, dtype=np.uint8)
    known[:10] = 1
    known[rng.integers(10, size, 15)] = 1
    need = np.zeros(size, dtype=np.uint8)
    seeds = rng.integers(0, size, 6)
    need[seeds] = 1
    assert E.ancestors(pa, pb, need, known) == -1
    want: set[int] = set()
    stack = [int(v) for v in seeds]
    while stack:
        v = stack.pop()
        if v in want:
            continue
        want.add(v)
        if not known[v]:
            stack += [int(pa[v]), int(pb[v])]
    assert set(np.flatnonzero(need).tolist()) == want
    pa[150] = -1  # a vertex with neither coordinates nor parents
    known[150] = 0
    need[:] = 0
    need[size - 1] = 1
    need[150] = 1
    assert E.ancestors(pa, pb, need, known) == 150
