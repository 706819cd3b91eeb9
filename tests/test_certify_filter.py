"""The certificate's float filter (exactcells.certify, exact_sign_vectors on plain ReLU networks):
its error bound holds, it decides nothing it cannot prove (near-degenerate points fall back to
exact arithmetic), and its sign vectors equal the integer pass and a Fraction forward pass."""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import build_complex, kernel
from exactcells.domain import Domain
from exactcells.network import Network, network_from_dict

C = importlib.import_module("exactcells.certify")  # the module (exactcells.certify is the function)
# every test twice, with the GMP module and with the pure-Python path (conftest.exact_path)
pytestmark = pytest.mark.usefixtures("exact_path")


def fraction_signs(net: Network, dom: Domain, h: Sequence[int], out: bool) -> tuple[int, ...]:
    x = [Fraction(v, h[-1]) for v in h[:-1]]
    return net.hidden_signs(x) + dom.facet_signs(x) + (net.output_signs(x) if out else ())


def homogeneous(x: Sequence[Fraction]) -> tuple[int, ...]:
    D = math.lcm(*(v.denominator for v in x))
    return (*(int(v * D) for v in x), D)


def check(net: Network, dom: Domain, H: list[tuple[int, ...]], out: bool = False) -> np.ndarray:
    got = C.exact_sign_vectors(net, dom, H, out)
    want = C._integer_sign_vectors(net, dom, H, "zero" if out else None)
    assert np.array_equal(got, want)
    assert [tuple(int(v) for v in r) for r in got] == [fraction_signs(net, dom, h, out) for h in H]
    return got


class Spy:
    """Counts the entries the filter leaves to exact arithmetic, by layer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.second = 0
        self.integer = 0
        orig2, origi = C._exact_second_layer, C._integer_sign_vectors

        def second(mats: Any, net: Any, points: Any, S: Any, todo: np.ndarray, sg: Any) -> None:
            self.second += len(todo)
            orig2(mats, net, points, S, todo, sg)

        def integer(net: Any, dom: Any, points: Any, refinement: Any) -> np.ndarray:
            self.integer += len(points)
            return origi(net, dom, points, refinement)

        monkeypatch.setattr(C, "_exact_second_layer", second)
        monkeypatch.setattr(C, "_integer_sign_vectors", integer)
        if kernel.GMP is not None:  # the GMP path's exact signs of layer 1
            spy = self
            gmp = kernel.GMP

            class Counting:
                def __getattr__(self, name: str) -> Any:
                    return getattr(gmp, name)

                def relu_signs(self, *args: Any) -> None:
                    spy.second += len(args[5])
                    gmp.relu_signs(*args)

            monkeypatch.setattr(kernel, "GMP", Counting())


EPS = 2.0**-60


def near_net() -> Network:
    # layer 0: x, y, x + y and a line rotated by the last bit; layer 1: relu(x) - relu(-x) - ...
    # rows that vanish identically on half planes, and one that is off by 2^-60
    return network_from_dict({"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1], [1, 1], [1, 1 + 2.0**-52]], "b": [0, 0, 0, 0, EPS]},
        {"W": [[1, -1, 0, 0, 0], [1, -1, EPS, 0, 0], [0, 0, 1, -1, 0], [0, 0, 0, 1, -1]],
         "b": [0, 0, EPS, 0]},
        {"W": [[1, 1, 1, 1]], "b": [0]},
    ]})


def test_near_degenerate_points_fall_back_to_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    net = near_net()
    dom = Domain.box(2)
    e = Fraction(1, 2**70)
    xs = [(Fraction(0), Fraction(1, 3)), (e, Fraction(1, 3)), (-e, Fraction(1, 3)),
          (Fraction(1, 5), -Fraction(1, 5)), (Fraction(1, 5), -Fraction(1, 5) + e),
          (Fraction(0), Fraction(0)), (Fraction(1, 2), Fraction(1, 7)), (e, e), (-e, 2 * e)]
    H = [homogeneous(x) for x in xs]
    spy = Spy(monkeypatch)
    check(net, dom, H, out=True)
    # points on x = 0 make rows 0 and 1 of layer 1 exactly 0 (or 2^-60 off): the exact path
    assert spy.second > 0
    # the output F = 0 at the origin cannot be decided in floats: the integer pass
    assert spy.integer > 0


def test_vertices_of_a_near_degenerate_complex(monkeypatch: pytest.MonkeyPatch) -> None:
    net = near_net()
    K = build_complex(net, Domain.box(2), with_output=True)
    H = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
    spy = Spy(monkeypatch)
    got = check(net, K.domain, H, out=True)
    assert np.array_equal(got, np.asarray(K.signs[:len(H)]))
    assert spy.second > 0


def test_huge_and_tiny_coordinates() -> None:
    net = near_net()
    dom = Domain.box(2)
    H = [(10**400, 1, 1), (-(10**400), 3, 7), (1, -1, 10**400), (0, 1, 10**400), (2**1100, -(2**1100), 1)]
    check(net, dom, H, out=True)


def test_the_bound_holds_layer_by_layer() -> None:
    # (P2) at random points of a float network whose rows differ in the last bit
    rng = np.random.default_rng(5)
    W0 = rng.normal(size=(6, 3))
    W0[1] = np.nextafter(W0[0], np.inf)
    W1 = rng.normal(size=(4, 6))
    net = network_from_dict({"layers": [{"W": W0.tolist(), "b": rng.normal(size=6).tolist()},
                                        {"W": W1.tolist(), "b": [0.0, 1e-300, -1e300 * 0, 3.0]},
                                        {"W": [[1.0] * 4], "b": [0.0]}]})
    H = [homogeneous([Fraction(int(v), 997) for v in rng.integers(-997, 997, size=3)]) for _ in range(60)]
    pts = C._float_points(H)
    assert pts is not None
    Y, R = pts
    xs = [[Fraction(h[i], h[3]) for i in range(3)] for h in H]
    exact = [net.pre_activations(x) for x in xs]
    for li in range(2):
        Z, B, sure = C._float_layer(*net.float_layers()[li], Y, R)
        for r in range(len(H)):
            for j, zj in enumerate(exact[r][li]):
                assert abs(Fraction(float(Z[r, j])) - zj) <= Fraction(float(B[r, j]))
                if sure[r, j]:
                    assert (zj > 0) == (Z[r, j] > 0) and zj != 0
        live = np.array([[z > 0 for z in exact[r][li]] for r in range(len(H))])
        Y, R = np.where(live, np.maximum(Z, 0.0), 0.0), np.where(live, B, 0.0)


@st.composite
def float_points(draw: st.DrawFn, n: int) -> list[tuple[int, ...]]:
    pts = draw(st.lists(st.tuples(*[st.fractions(-2, 2, max_denominator=2**20)] * n), min_size=1, max_size=10))
    return [homogeneous(p) for p in pts]


@examples(40)
@given(d=integer_networks(2, max_depth=2, max_width=5, weight=2), pts=float_points(2))
def test_filtered_equals_integer_on_degenerate_networks(d: dict[str, Any], pts: list[tuple[int, ...]]) -> None:
    net = network_from_dict(d)
    dom = Domain.box(2)
    K = build_complex(net, dom)
    H = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
    f0 = len(H)
    # vertices, points on edges and inside cells, arbitrary points
    H += [tuple(a + b for a, b in zip(H[i], H[(5 * i + 1) % f0])) for i in range(f0)] + pts
    check(net, dom, H, out=True)
    check(net, dom, H, out=False)


@examples(15)
@given(d=integer_networks(3, max_depth=2, max_width=4, weight=2))
def test_filtered_equals_integer_in_3d(d: dict[str, Any]) -> None:
    net = network_from_dict(d)
    K = build_complex(net, Domain.box(3))
    H = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
    check(net, K.domain, H)


def test_points_where_plain_floats_get_the_sign_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.1 x + 0.2 y - 0.3 at (1, 1) is exactly 0 but 5.6e-17 in floats; the same row again in
    # layer 1 (on relu outputs) and an output that is 0 there too
    net = network_from_dict({"layers": [
        {"W": [["1/10", "2/10"], [1, 0], [0, 1]], "b": ["-3/10", 0, 0]},
        {"W": [[0, "1/10", "2/10"], [1, 0, 0]], "b": ["-3/10", 0]},
        {"W": [[1, 1]], "b": [0]},
    ]})
    dom = Domain.box(2, -2, 2)
    H = [(1, 1, 1), (10, 10, 10), (3, 3, 3), (1, 1, 2)]
    Y, R = C._float_points(H)
    Z0, _, _ = C._float_layer(*net.float_layers()[0], Y, R)
    assert Z0[0, 0] != 0  # floats alone would say '+' (or '-')
    Z1, _, _ = C._float_layer(*net.float_layers()[1], np.maximum(Z0, 0.0), np.zeros_like(Z0))
    assert Z1[0, 0] != 0
    spy = Spy(monkeypatch)
    got = check(net, dom, H, out=True)
    assert got[0, 0] == 0 and got[0, 3] == 0 and spy.second > 0


def test_points_as_numpy_or_flint_integers() -> None:
    # 2^53 + 1 is not a float: numpy's int64 division would round before dividing
    from flint import fmpz

    net = near_net()
    dom = Domain.box(2)
    H = [(2**53 + 1, -(2**53 + 1), 2**53 + 1), (1, 3, 7), (0, 0, 5)]
    want = check(net, dom, H, out=True)
    as_np = [np.array(h, dtype=np.int64) for h in H]
    as_fmpz = [tuple(fmpz(x) for x in h) for h in H]
    assert np.array_equal(C.exact_sign_vectors(net, dom, as_np, True), want)
    assert np.array_equal(C.exact_sign_vectors(net, dom, as_fmpz, True), want)


@examples(40)
@given(S=st.lists(st.lists(st.integers(-128, 127), min_size=3, max_size=3), min_size=0, max_size=30),
       data=st.data())
def test_canonical_order_is_the_lexsort(S: list[list[int]], data: st.DataObject) -> None:
    # the unique_keys check's sort: by dimension, then the sign vector (any int8 entries)
    arr = np.array(S, dtype=np.int8).reshape(len(S), 3)
    dims = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(S), max_size=len(S))), dtype=np.int64)
    want = np.lexsort(tuple(arr[:, k] for k in range(2, -1, -1)) + (dims,))
    assert np.array_equal(C._canonical_order(arr, dims), want)


def test_domain_facets_decided_by_the_filter_or_exactly() -> None:
    # a triangle with the facet x/10 + 2y/10 <= 3/10: at (1, 1) it is tight, but 5.6e-17 off in
    # floats; points 2^-70 inside and outside, on the other facets and at the corners
    dom = Domain([[Fraction(1, 10), Fraction(2, 10)], [-1, 0], [0, -1]], [Fraction(3, 10), 0, 0])
    net = near_net()
    e = Fraction(1, 2**70)
    xs = [(Fraction(1), Fraction(1)), (Fraction(1), 1 - e), (Fraction(1), 1 + e), (Fraction(0), Fraction(0)),
          (Fraction(3), Fraction(0)), (Fraction(1, 3), Fraction(0)), (-e, Fraction(1, 2)), (Fraction(1, 2), e)]
    H = [homogeneous(x) for x in xs]
    Y, R = C._float_points(H)
    Wd = np.array([[float(-a) for a in row] for row in dom.A])
    Z, B, sure = C._float_layer(Wd, np.array([float(c) for c in dom.c]), Y, R)
    assert Z[0, 0] != 0 and not sure[0, 0]  # floats alone would get the tight facet wrong
    for r in range(len(xs)):  # the bound (P2) holds for the domain's rows as for a layer's
        for i, (a, c) in enumerate(zip(dom.A, dom.c)):
            exact = c - sum(ai * xi for ai, xi in zip(a, xs[r]))
            assert abs(Fraction(float(Z[r, i])) - exact) <= Fraction(float(B[r, i]))
    got = check(net, dom, H, out=True)
    assert got[0, net.num_hidden] == 0 and got[1, net.num_hidden] == 1 and got[2, net.num_hidden] == -1
