"""Property tests of build_complex on many random networks (hypothesis).

Small integer weights make degenerate configurations (parallel, coincident and concurrent zero
sets, zero sets through vertices, dead and identically-zero neurons) common; float32 weights
(taken exactly) give generic ones with large denominators. On every example the checks of
``conftest.check_complex`` hold:

- Euler characteristic 1 and exact region volumes summing exactly to the domain's volume;
- the relative-interior point of every cell has exactly the cell's sign vector, recomputed by
  ``Network.hidden_signs``, ``Domain.facet_signs`` (and ``Network.output_signs`` with the output);
- every interval of length 2 in the face poset has exactly two middle elements;
- every cell's dimension is the exact affine rank of its vertices;
- and the build split into independent units gives the identical complex.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.build import build_complex_by_units, merge_units, num_steps, plan_units, refine_unit


def _domain(kind: int, n: int) -> Domain:
    if kind == 0:
        return Domain.box(n, -1, 1)
    if kind == 1:
        return Domain.box(n, [Fraction(-3, 2)] + [-1] * (n - 1), [1] + ["1/3"] * (n - 1))
    # a cross-polytope-like polytope: |x_1| + ... + |x_n| <= 2, cut by x_1 <= 1 (not a box)
    rows = [[s[k] for k in range(n)] for s in np.ndindex(*(2,) * n)]
    A = [[1 if bit else -1 for bit in r] for r in rows] + [[1] + [0] * (n - 1)]
    return Domain(A, [2] * len(rows) + [1])


@examples(40)
@given(d=integer_networks(2, outputs=2), kind=st.integers(0, 2), with_output=st.booleans())
def test_integer_networks_2d(d: dict[str, Any], kind: int, with_output: bool,
                             assert_complex_ok: Callable[..., None]) -> None:
    net = network_from_dict(d)
    K = build_complex(net, _domain(kind, 2), with_output=with_output)
    assert_complex_ok(K, grid=4)


@examples(15)
@given(d=integer_networks(3), kind=st.integers(0, 2), with_output=st.booleans())
def test_integer_networks_3d(d: dict[str, Any], kind: int, with_output: bool,
                             assert_complex_ok: Callable[..., None]) -> None:
    net = network_from_dict(d)
    K = build_complex(net, _domain(kind, 3), with_output=with_output)
    assert_complex_ok(K, grid=2)


@st.composite
def float32_networks(draw: st.DrawFn, n: int, max_depth: int = 2, max_width: int = 4) -> dict[str, Any]:
    """He-initialised float32 networks (the usual trained-network number type), taken exactly."""
    seed = draw(st.integers(0, 2**32 - 1))
    depth = draw(st.integers(1, max_depth))
    widths = [n] + [draw(st.integers(1, max_width)) for _ in range(depth)] + [1]
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        W = rng.normal(0, np.sqrt(2 / fan_in), (fan_out, fan_in)).astype(np.float32)
        b = rng.normal(0, 0.5, fan_out).astype(np.float32)
        layers.append({"W": W.tolist(), "b": b.tolist()})
    return {"layers": layers}


@examples(25)
@given(d=float32_networks(2, max_depth=3), with_output=st.booleans())
def test_float32_networks_2d(d: dict[str, Any], with_output: bool, assert_complex_ok: Callable[..., None]) -> None:
    net = network_from_dict(d)
    # the float32 values are taken exactly: every weight is a dyadic rational
    assert all(w.denominator & (w.denominator - 1) == 0 for L in net.layers for row in L.W for w in row)
    K = build_complex(net, with_output=with_output)
    assert_complex_ok(K)


@examples(10)
@given(d=float32_networks(3))
def test_float32_networks_3d(d: dict[str, Any], assert_complex_ok: Callable[..., None]) -> None:
    K = build_complex(network_from_dict(d), Domain.box(3, -2, 2))
    assert_complex_ok(K)


@examples(40)
@given(d=integer_networks(2, outputs=2), data=st.data(), with_output=st.booleans())
def test_units_equal_whole_build_2d(d: dict[str, Any], data: st.DataObject, with_output: bool,
                                    assert_same_complex: Callable[[PolyhedralComplex, PolyhedralComplex], None]) -> None:
    net = network_from_dict(d)
    K = build_complex(net, with_output=with_output)
    assert_same_complex(K, build_complex_by_units(net, with_output=with_output))
    total = num_steps(net, with_output)
    start = data.draw(st.integers(0, total), label="start")
    assert_same_complex(K, build_complex_by_units(net, start=start, with_output=with_output))


@examples(15)
@given(d=integer_networks(3))
def test_units_equal_whole_build_3d(d: dict[str, Any],
                                    assert_same_complex: Callable[[PolyhedralComplex, PolyhedralComplex], None]) -> None:
    net = network_from_dict(d)
    assert_same_complex(build_complex(net), build_complex_by_units(net))


@examples(20)
@given(d=integer_networks(2), data=st.data())
def test_units_merge_in_any_order(d: dict[str, Any], data: st.DataObject,
                                  assert_same_complex: Callable[[PolyhedralComplex, PolyhedralComplex], None]) -> None:
    """The merge is by sign-vector keys, so the order in which units arrive does not matter."""
    from exactcells.build import _assemble

    net = network_from_dict(d)
    dom = Domain.box(2)
    units = plan_units(net, dom, net.hidden_widths[0])
    parts = [refine_unit(u, net) for u in units]
    perm = data.draw(st.permutations(range(len(parts))), label="order")
    lat = merge_units([parts[i] for i in perm])
    assert_same_complex(build_complex(net, dom), _assemble(lat, net, dom, None, 0.0))


@pytest.mark.parametrize("seed", range(3))
def test_region_volumes_against_float_convex_hulls(seed: int) -> None:
    """Each exact region volume is close to a float convex-hull volume of its exact vertices."""
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(seed)
    d = {"layers": [{"W": rng.integers(-4, 5, (5, 3)).tolist(), "b": rng.integers(-2, 3, 5).tolist()},
                    {"W": rng.integers(-4, 5, (3, 5)).tolist(), "b": rng.integers(-2, 3, 3).tolist()},
                    {"W": [[1, 1, 1]], "b": [0]}]}
    K = build_complex(network_from_dict(d))
    X = K.vertices_float()
    for r, vol in zip(K.regions(), K.region_volumes()):
        hull = ConvexHull(X[list(K.cell_vertices(r))])
        assert float(vol) == pytest.approx(hull.volume, rel=1e-9)


def _corrupt(K: PolyhedralComplex, **changes: Any) -> PolyhedralComplex:
    ptr, ind = K.facet_csr
    kw: dict[str, Any] = dict(network=K.network, domain=K.domain, with_output=K.with_output,
                              dims=K.dims.copy(), signs=K.signs.copy(), facet_indptr=ptr.copy(),
                              facet_indices=ind.copy(),
                              vertex_coords=[K.vertex_homogeneous(v) for v in range(K.f_vector[0])])
    kw.update(changes)
    return PolyhedralComplex(**kw)


def test_the_invariant_checks_catch_corruption(assert_complex_ok: Callable[..., None]) -> None:
    """The checks are not vacuous: small corruptions of a correct complex are caught."""
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "-1/2"]},
                                        {"W": [[1, -1, 1]], "b": [0]}]})
    K = build_complex(net)
    assert_complex_ok(K, grid=4)
    # 1. a vertex moved (the centre of the arrangement to a nearby point)
    verts = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
    c = K.index_of((0, 0, -1, 1, 1, 1, 1))
    verts[c] = (1, 1, 1000)
    # 2. two regions' sign vectors swapped
    signs = K.signs.copy()
    r1, r2 = K.regions()[0], K.regions()[1]
    signs[[r1, r2]] = signs[[r2, r1]]
    # 3. one facet dropped from a region
    ptr, ind = K.facet_csr
    r = K.regions()[0]
    keep = np.ones(len(ind), dtype=bool)
    keep[ptr[r]] = False
    ptr2 = ptr.copy()
    ptr2[r + 1 :] -= 1
    for bad in (_corrupt(K, vertex_coords=verts), _corrupt(K, signs=signs),
                _corrupt(K, facet_indptr=ptr2, facet_indices=ind[keep].copy())):
        with pytest.raises(AssertionError):
            assert_complex_ok(bad, grid=4)
