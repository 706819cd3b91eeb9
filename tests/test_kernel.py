"""The filtered vertex kernel (exactcells.kernel): the error bound holds, the filter changes
nothing, and near-degenerate inputs go to the exact path."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from conftest import same_complex
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, kernel_module, unit_networks

from exactcells import build as B
from exactcells import kernel
from exactcells.certify import certify
from exactcells.complex import PolyhedralComplex
from exactcells.domain import Domain
from exactcells.kernel import VertexStore
from exactcells.network import Network, _stage_float, network_from_dict


@contextmanager
def exact_only() -> Iterator[None]:
    """Every sign and crossing through the exact path (the filter decides nothing; the
    compiled filter, which does not call ``_bound``, is switched off meanwhile)."""
    orig = VertexStore._bound
    ext, kernel.EXT = kernel.EXT, None

    def never(self: VertexStore, vids: np.ndarray, row: int, minus: int) -> tuple[np.ndarray, np.ndarray]:
        f, _ = orig(self, vids, row, minus)
        return f, np.full(f.shape, np.inf)

    VertexStore._bound = never  # type: ignore[method-assign]
    try:
        yield
    finally:
        VertexStore._bound = orig  # type: ignore[method-assign]
        kernel.EXT = ext


def check_invariant(lat: B.Lattice, net: Network) -> int:
    """Check (I) of the kernel's docstring at every live vertex, against values computed with
    Fractions from the vertex's exact coordinates; returns the number of values checked."""
    st_ = lat.store
    verts = lat.by_dim[0]
    vids = lat.vids(verts).tolist()
    coords = lat.vertex_coords(verts)
    n = lat.n
    L = st_.layer
    checked = 0
    for v, h in zip(vids, coords):
        x = [Fraction(h[i], h[n]) for i in range(n)]
        z = x if L < 0 else list(net.pre_activations(x)[L])
        for j, zj in enumerate(z):
            if not np.isfinite(st_.R[v, j]):
                continue  # an infinite or NaN bound claims nothing
            bound = Fraction(float(st_.R[v, j]))
            err = abs(Fraction(float(st_.Z[v, j])) - zj)
            assert err <= bound, (v, j, float(err), float(bound))
            checked += 1
    return checked


def refine_checking(net: Network, domain: Domain, refine: str | None = None) -> int:
    lat = B.domain_lattice(domain, B._num_columns(net, refine), net)
    checked = check_invariant(lat, net)
    for i in range(len(B._schedule(net, refine))):
        B._refine(lat, net, refine, i, i + 1)
        checked += check_invariant(lat, net)
    return checked


fractions = st.builds(lambda p, q: f"{p}/{q}", st.integers(-40, 40), st.integers(1, 9))


@st.composite
def rational_networks(draw: st.DrawFn, n: int, outputs: int = 1) -> dict[str, Any]:
    """Weights p/q: most of them are not floats, so the float network is rounded."""
    widths = [n] + [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 2)))] + [outputs]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append({"W": [[draw(fractions) for _ in range(a)] for _ in range(b)],
                       "b": [draw(fractions) for _ in range(b)]})
    return {"layers": layers}


@examples(40)
@given(d=rational_networks(2))
def test_bound_holds_at_every_vertex_after_every_step(d: dict[str, Any]) -> None:
    net = network_from_dict(d)
    assert refine_checking(net, Domain.box(2)) > 0


@examples(25)
@given(d=unit_networks(2, outputs=3))
def test_bound_holds_with_units_and_the_argmax(d: dict[str, Any]) -> None:
    net = network_from_dict(d)
    refine_checking(net, Domain.box(2), "argmax")


@examples(15)
@given(d=rational_networks(3))
def test_bound_holds_in_3d(d: dict[str, Any]) -> None:
    refine_checking(network_from_dict(d), Domain.box(3))


def both(net: Network, domain: Domain, **kw: Any) -> tuple[PolyhedralComplex, PolyhedralComplex]:
    K = B.build_complex(net, domain, **kw)
    with exact_only():
        X = B.build_complex(net, domain, **kw)
    same_complex(K, X)
    return K, X


@examples(30)
@given(d=integer_networks(2, max_depth=2, max_width=4, weight=2))
def test_filter_changes_nothing_on_degenerate_integer_networks(d: dict[str, Any]) -> None:
    both(network_from_dict(d), Domain.box(2))


@examples(20)
@given(d=unit_networks(2, outputs=3))
def test_filter_changes_nothing_with_units_and_argmax(d: dict[str, Any]) -> None:
    both(network_from_dict(d), Domain.box(2), with_output=True)


def counting_store() -> Callable[[], dict[str, int]]:
    """Record the stats of every store a build creates."""
    seen: list[VertexStore] = []
    orig = VertexStore.__init__

    def init(self: VertexStore, *a: Any, **k: Any) -> None:
        orig(self, *a, **k)
        seen.append(self)

    VertexStore.__init__ = init  # type: ignore[method-assign]

    def done() -> dict[str, int]:
        VertexStore.__init__ = orig  # type: ignore[method-assign]
        tot = {"decided": 0, "exact": 0}
        for s in seen:
            tot["decided"] += s.decided
            tot["exact"] += s.fallback
        return tot

    return done


EPS = 2.0**-60


@pytest.mark.parametrize("name, layers, regions", [
    # x = 0, y = 0 and x + y = 2^-60: the three vertices are within 2^-60 of each other
    ("three lines within 2^-60", [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, -EPS]}], 7),
    # two neurons whose weights differ in the last bit: two lines through the origin
    ("last-bit rotation", [{"W": [[1, 1], [1, 1 + 2.0**-52]], "b": [0, 0]}], 4),
    # coincident neurons, and five lines through one point
    ("coincident", [{"W": [[1, 2], [2, 4], [1, -1]], "b": [0, 0, 0]}], 4),
    ("pencil of five", [{"W": [[1, 0], [0, 1], [1, 1], [1, -1], [1, 3]], "b": [0] * 5}], 10),
    # the shift 2^-52 moves the third line off the common point by about 2^-53
    ("pencil off by an ulp", [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, 2.0**-52]}], 7),
])
def test_near_degenerate_arrangements(name: str, layers: list[dict[str, Any]], regions: int) -> None:
    d = {"layers": layers + [{"W": [[1] * len(layers[-1]["b"])], "b": [0]}]}
    net = network_from_dict(d)
    done = counting_store()
    try:
        K, _ = both(net, Domain.box(2))
    finally:
        stats = done()
    assert K.f_vector[2] == regions, name
    # every one of these has a vertex where some value is zero or below the bound
    assert stats["exact"] > 0, name


def test_deep_near_degenerate_second_layer() -> None:
    # layer 2 neurons relu(x) - relu(-x) - x = 0 identically, up to rounding-sized offsets
    d = {"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1]], "b": [0, 0, 0]},
        {"W": [[1, -1, 0], [1, -1, EPS], [0, 0, 1]], "b": [0, 0, 0]},
        {"W": [[1, 1, 1]], "b": [0]},
    ]}
    net = network_from_dict(d)
    K, _ = both(net, Domain.box(2))
    assert refine_checking(net, Domain.box(2)) > 0
    # hidden signs of every region are realised by an interior point: the complex is exact
    assert K.f_vector[2] >= 4


def test_dead_relus_and_zero_rows_are_exact_zeros_for_the_filter() -> None:
    # a max-pool of two identically-zero rows, a ReLU of a ReLU that is dead on half the box,
    # and the output cut F = 0, which is exactly 0 on that half: every such sign is an exact
    # zero, decided by the bound 0 (step 5 of the kernel) without the exact path
    d = {"layers": [
        {"W": [[1, 0], [0, 1]], "b": [0, 0]},
        {"W": [[0, 0], [0, 0], [1, 0]], "b": [0, 0, 0], "units": [["max", [0, 1]], ["relu", 2]]},
        {"W": [[1, 1]], "b": [0]},
    ]}
    net = network_from_dict(d)
    done = counting_store()
    try:
        B.build_complex(net, Domain.box(2), with_output=True)
    finally:
        stats = done()
    assert stats["exact"] == 0 and stats["decided"] > 0
    K, _ = both(net, Domain.box(2), with_output=True)  # the same complex as the exact path's
    assert refine_checking(net, Domain.box(2), "zero") > 0
    # the hidden neurons x and y cut the box into 4 regions; F = relu(x) is exactly 0 on the
    # two left ones (sign 0 there) and cuts nothing
    assert K.f_vector == (9, 12, 4)
    out = K.signs[:, K.sign_slices()["outputs"]][:, 0]
    assert sorted(out[K.dims == 2].tolist()) == [0, 0, 1, 1]


def test_an_overflowed_value_decides_no_sign() -> None:
    """A float value that overflowed (inf, with a finite bound, as a long sum of huge terms of
    both signs can give: 1.7e308 + 1.7e308 - 1.7e308 - 1.7e308 - 1.7e308 is inf in float64,
    -1.7e308 exactly) goes to the exact path, which gives the true sign."""
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, -2]}, {"W": [[1, 1]], "b": [0]}]})
    store = VertexStore(net, 2)
    vids = store.add_roots([(1, 1, 1), (-1, 1, 1)])  # the points (1, 1) and (-1, 1)
    store.transition(vids, 0)  # carry the first layer's pre-activations (x, y - 2)
    exact = store.signs(vids, 1)  # y - 2 < 0 at both points
    assert exact.tolist() == [-1, -1]
    store.Z[vids, 1] = np.inf  # as if the float sum had overflowed
    store.R[vids, 1] = 1.0
    before = store.fallback
    assert store.signs(vids, 1).tolist() == [-1, -1]
    assert store.fallback == before + 2



# weights whose float64 rounding is not within the relative error u that the bound assumes
# (|w - fl(w)| <= u |fl(w)| / (1 - u)): beyond the float range, rounding to 0, to an inexact
# subnormal; and an exact subnormal power of two, which the filter also leaves to the exact path
UNFIT = [10**400, 7 * 10**308, Fraction(1, 10**400), Fraction(1, 3 * 2**1060), Fraction(1, 2**1070)]
UNFIT_IDS = ["1e400", "7e308", "1e-400", "subnormal", "2^-1070"]


def scaled_network(c: Fraction | int) -> tuple[Network, Network]:
    """A 2-3-2-1 network with its third neuron's row (weights and bias) times ``c`` and that
    neuron's column in the next layer times ``1 / c``: the same function, so the same complex
    (every sign vector) as the network with ``c = 1``, which comes second."""
    def net(k: Fraction | int) -> Network:
        return network_from_dict({"layers": [
            {"W": [[1, 0], [0, 1], [k, k]], "b": [0, 0, k]},
            {"W": [[1, -1, 1 / Fraction(k)], [2, 1, 1 / Fraction(k)]], "b": [0, "-1/3"]},
            {"W": [[1, 1]], "b": [0]}]})
    return net(c), net(1)


@pytest.mark.parametrize("c", UNFIT, ids=UNFIT_IDS)
def test_weights_outside_the_normal_float_range(c: Fraction | int) -> None:
    # before: 1e400 and 7e308 raised OverflowError, or warned of an overflow; 1e-400 rounded
    # to 0 with the bound 0 of an exact zero, and the build lost the neuron's cut
    net, plain = scaled_network(c)
    floats = net.filter_layers()
    assert np.isnan(floats[0][0][2]).all() and np.isnan(floats[0][1][2])
    assert np.isnan(floats[1][0][:, 2]).all()
    assert not np.isnan(floats[0][0][:2]).any() and not np.isnan(floats[2][0]).any()
    R = B.build_complex(plain, Domain.box(2))
    for ext in (kernel.EXT, None):
        with kernel_module("EXT", ext):
            K, _ = both(net, Domain.box(2))
        assert K.f_vector == R.f_vector == (13, 20, 8)
        assert np.array_equal(K.signs, R.signs) and np.array_equal(K.dims, R.dims)
    assert certify(K).certified


@pytest.mark.parametrize("slope", [10**400, Fraction(1, 10**400), Fraction(-1, 3 * 2**1060)],
                         ids=["1e400", "1e-400", "subnormal"])
def test_leaky_slopes_outside_the_normal_float_range(slope: Fraction | int) -> None:
    # a slope the filter cannot round within u: the leaky unit's outputs go to the exact path
    # (before: an OverflowError for 1e400); the complex is the exact path's, and the float view
    # of the network keeps the rounded slope
    net = network_from_dict({"layers": [
        {"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "1/2"],
         "units": [["relu", 0], ["relu", 1], ["leaky", 2, str(slope)]]},
        {"W": [[1, 1, 1], [1, -2, 3]], "b": [0, "1/5"]},
        {"W": [[1, -1]], "b": [0]}]})
    K, _ = both(net, Domain.box(2), with_output=True)
    assert K.euler_characteristic == 1
    assert refine_checking(net, Domain.box(2), "zero") > 0  # (I) wherever a bound is finite
    z = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])  # the leaky unit on its slope, then not
    view = _stage_float(net.layers[0], z)[0][0, 2]
    assert view == (-math.inf if slope == 10**400 else -float(Fraction(slope)))
    y = _stage_float(net.layers[0], z, filtered=True)[0]
    assert np.isnan(y[0, 2]) and y[1, 2] == 1.0
    # no bound for the unit, not even where its float input is positive: the exact input may
    # be negative there, and the float filter knows no Lipschitz constant without the slope
    r = kernel._stage_bounds(net.layers[0], z, np.full(z.shape, 1e-9), y)
    assert np.isnan(r[:, 2]).all() and np.isfinite(r[:, :2]).all()


def test_filter_layers_mark_only_the_unfit_entries() -> None:
    net = network_from_dict({"layers": [
        {"W": [[0, "1/3", 10**400], [Fraction(1, 2**1074), Fraction(1, 10**400), "-2.5"]],
         "b": [0, Fraction(-1, 10**330)]},
        {"W": [[1, 0]], "b": [0]}]})
    (W, b), (W1, b1) = net.filter_layers()
    assert W[0, 0] == 0 and W[0, 1] == 1 / 3 and W[1, 2] == -2.5  # exact 0 and normal values stay
    assert np.isnan([W[0, 2], W[1, 0], W[1, 1], b[1]]).all() and b[0] == 0
    assert not np.isnan(W1).any() and not np.isnan(b1).any()
    (Wf, bf), _ = net.float_layers()  # the float view: rounded to nearest, infinities beyond
    assert Wf[0, 2] == np.inf and Wf[1, 0] == 2.0**-1074 and Wf[1, 1] == 0.0 and bf[1] == -1e-330
