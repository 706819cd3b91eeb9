"""The exact coordinate rebuild of the vertex kernel (VertexStore.exact_coords): every vertex's
rebuilt primitive homogeneous coordinates equal a straightforward recomputation with Fractions
(the crossing point of its edge, from the network's own rational forward pass), and the fast
path (function values at the parents) equals the carry path."""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, unit_networks

from exactcells import build as B
from exactcells.domain import Domain
from exactcells.kernel import VertexStore, _limb_sums
from exactcells.network import Network, network_from_dict


def primitive(x: list[Fraction]) -> tuple[int, ...]:
    """``(D x, D)`` with ``D`` the lcm of the denominators: primitive, ``D > 0``."""
    D = math.lcm(*(v.denominator for v in x))
    return (*(int(v * D) for v in x), D)


def fraction_points(store: VertexStore, net: Network) -> dict[int, tuple[int, ...]]:
    """Every vertex of ``store`` recomputed with Fractions: the roots' given coordinates, and for a
    crossing of ``(p, q)`` by ``f`` the point ``p + t (q - p)``, ``t = f(p) / (f(p) - f(q))``
    (``f`` from :meth:`Network.pre_activations`, no integer network, no kernel)."""
    n = store.n
    pts: dict[int, list[Fraction]] = {}
    for v in range(store.size):
        f = int(store.fn[v])
        if f < 0:
            h = store.exact[v]
            pts[v] = [Fraction(h[i], h[n]) for i in range(n)]
            continue
        layer, row, minus = store.fns[f]
        p, q = int(store.pa[v]), int(store.pb[v])
        zp, zq = (net.pre_activations(pts[u])[layer] for u in (p, q))
        a = zp[row] - (zp[minus] if minus >= 0 else 0)
        b = zq[row] - (zq[minus] if minus >= 0 else 0)
        assert a > 0 > b, (v, a, b)
        t = a / (a - b)
        pts[v] = [xp + t * (xq - xp) for xp, xq in zip(pts[p], pts[q])]
    return {v: primitive(x) for v, x in pts.items()}


def built_store(net: Network, dom: Domain, **kw: Any) -> VertexStore:
    K = B.build_complex(net, dom, **kw)
    src = K._vsource
    assert src is not None, "the build left no lazy coordinates"
    store = src.store
    assert isinstance(store, VertexStore)
    return store


@contextmanager
def carry_only() -> Iterator[None]:
    """Every layer through the carry path of the rebuild."""
    orig = VertexStore._local_layer
    VertexStore._local_layer = lambda self, layer: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        VertexStore._local_layer = orig  # type: ignore[method-assign]


def check_rebuild(net: Network, dom: Domain, **kw: Any) -> int:
    """The rebuild of every vertex equals the Fraction recomputation, and the carry path's."""
    store = built_store(net, dom, **kw)
    blob = pickle.dumps(store)
    allv = list(range(store.size))
    fast = store.exact_coords(allv)
    want = fraction_points(store, net)
    assert fast == [want[v] for v in allv]
    other = pickle.loads(blob)
    with carry_only():
        assert other.exact_coords(allv) == fast
    return store.size


fractions = st.builds(lambda p, q: f"{p}/{q}", st.integers(-40, 40), st.integers(1, 9))


@st.composite
def rational_networks(draw: st.DrawFn, n: int, depth: int = 2) -> dict[str, Any]:
    widths = [n] + [draw(st.integers(1, 5)) for _ in range(depth)] + [1]
    layers = [{"W": [[draw(fractions) for _ in range(a)] for _ in range(b)],
               "b": [draw(fractions) for _ in range(b)]} for a, b in zip(widths[:-1], widths[1:])]
    return {"layers": layers}


@examples(40)
@given(d=integer_networks(2, max_depth=3, max_width=5, weight=2))
def test_rebuild_equals_fractions_on_degenerate_integer_networks(d: dict[str, Any]) -> None:
    # weights in [-2, 2]: zero rows, coincident neurons, pencils, vertices on the box corners
    check_rebuild(network_from_dict(d), Domain.box(2))


@examples(25)
@given(d=rational_networks(2))
def test_rebuild_equals_fractions_on_rational_networks(d: dict[str, Any]) -> None:
    check_rebuild(network_from_dict(d), Domain.box(2))


@examples(10)
@given(d=rational_networks(3))
def test_rebuild_equals_fractions_in_3d(d: dict[str, Any]) -> None:
    check_rebuild(network_from_dict(d), Domain.box(3, -2, 3))


@examples(15)
@given(d=unit_networks(2, outputs=3))
def test_rebuild_with_units_and_the_argmax(d: dict[str, Any]) -> None:
    # non-ReLU stages take the carry path from layer 1 on; the argmax cuts differences of rows
    check_rebuild(network_from_dict(d), Domain.box(2), with_output=True, refine="argmax")


@examples(15)
@given(d=integer_networks(2, max_depth=2, max_width=4, weight=2, outputs=3))
def test_rebuild_with_plain_relus_and_the_argmax(d: dict[str, Any]) -> None:
    # one hidden layer: the argmax cuts z_i - z_j of the output layer on the fast path
    check_rebuild(network_from_dict(d), Domain.box(2), with_output=True, refine="argmax")


def test_rebuild_on_a_float_network() -> None:
    # float weights: integer rows of 50-110 bits, the case the fast path is for
    rng = np.random.default_rng(7)
    d = {"layers": [{"W": rng.normal(size=(12, 2)).tolist(), "b": rng.normal(size=12).tolist()},
                    {"W": rng.normal(size=(12, 12)).tolist(), "b": rng.normal(size=12).tolist()},
                    {"W": rng.normal(size=(1, 12)).tolist(), "b": [0.0]}]}
    assert check_rebuild(network_from_dict(d), Domain.box(2)) > 100


def test_rebuild_of_a_subset_and_then_the_rest() -> None:
    rng = np.random.default_rng(3)
    d = {"layers": [{"W": rng.normal(size=(6, 2)).tolist(), "b": rng.normal(size=6).tolist()},
                    {"W": rng.normal(size=(6, 6)).tolist(), "b": rng.normal(size=6).tolist()},
                    {"W": [[1.0] * 6], "b": [0.0]}]}
    net = network_from_dict(d)
    store = built_store(net, Domain.box(2))
    want = fraction_points(store, net)
    last = [store.size - 1, store.size // 2]
    assert store.exact_coords(last) == [want[v] for v in last]
    allv = list(range(store.size))
    assert store.exact_coords(allv) == [want[v] for v in allv]


def test_deep_near_degenerate_second_layer_coordinates() -> None:
    # layer-1 neurons relu(x) - relu(-x) - x, identically zero up to an offset of 2^-60: the
    # patterns at vertices on x = 0 are decided exactly
    eps = 2.0**-60
    d = {"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1], [1, 1]], "b": [0, 0, 0, eps]},
        {"W": [[1, -1, 0, 0], [1, -1, eps, 0], [0, 0, 1, -1], [0, 1, 0, 1]], "b": [0, 0, eps, 0]},
        {"W": [[1, 1, 1, 1]], "b": [0]},
    ]}
    check_rebuild(network_from_dict(d), Domain.box(2))


def exact_pattern(net: Network, h: tuple[int, ...]) -> list[bool]:
    n = len(h) - 1
    x = [Fraction(h[i], h[n]) for i in range(n)]
    return [z > 0 for z in net.pre_activations(x)[0]]


def test_patterns_at_adversarial_points() -> None:
    # points exactly on the first layer's lines, and within 2^-70 of them on either side: the
    # float filter cannot decide these, the exact dot product must
    eps = Fraction(1, 2**70)
    d = {"layers": [{"W": [[1, 0], [0, 1], [1, 1], [3, -7], [1, 1 + 2.0**-52]],
                     "b": [0, 0, 0, 0, 0]},
                    {"W": [[1, 1, 1, 1, 1]], "b": [0]}]}
    net = network_from_dict(d)
    store = VertexStore(net, 2)
    pts = [(Fraction(0), Fraction(1, 3)), (eps, Fraction(1, 3)), (-eps, Fraction(1, 3)),
           (Fraction(7, 3) + eps, Fraction(1)), (Fraction(7, 3) - eps, Fraction(1)),
           (Fraction(1, 5), -Fraction(1, 5)), (Fraction(1, 5), -Fraction(1, 5) + eps),
           (Fraction(0), Fraction(0)), (Fraction(1, 2), Fraction(1, 7))]
    coords = [primitive(list(p)) for p in pts] + [(10**400, 1, 1), (-(10**400), 3, 10**399)]
    vids = store.add_roots(coords, floats=False).tolist()
    got = store._patterns(vids)
    for h, s in zip(coords, got):
        assert s.tolist() == exact_pattern(net, h), h


big = st.integers(-(2**200), 2**200) | st.sampled_from([0, 1, -1, 2**40 - 1, -(2**40), 2**40, 2**80 - 1])


@examples(60)
@given(rows=st.lists(st.lists(big, min_size=3, max_size=3), min_size=1, max_size=12), data=st.data())
def test_limb_sums_are_exact(rows: list[list[int]], data: st.DataObject) -> None:
    k = len(rows)
    m = data.draw(st.integers(1, 6))
    S = np.array(data.draw(st.lists(st.lists(st.integers(0, 1), min_size=k, max_size=k),
                                    min_size=m, max_size=m)), dtype=np.int64)
    got = _limb_sums(S, rows)
    want = [[sum(int(S[i, r]) * rows[r][j] for r in range(k)) for j in range(3)] for i in range(m)]
    assert got == want


def test_limb_sums_of_many_large_terms() -> None:
    # 5000 terms of 2^120 - 1: the int64 limb sums carry across limbs
    rows = [[2**120 - 1, -(2**120 - 1), 2**40]] * 5000
    S = np.ones((2, 5000), dtype=np.int64)
    S[1, ::2] = 0
    assert _limb_sums(S, rows) == [[5000 * (2**120 - 1), -5000 * (2**120 - 1), 5000 * 2**40],
                                   [2500 * (2**120 - 1), -2500 * (2**120 - 1), 2500 * 2**40]]
