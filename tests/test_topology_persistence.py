"""Filtrations and persistence through PHAT.

- The f-vector identity: for every seed, the maxima M_k of the Betti curves of the
  dimension-random filtration give f_k = M_k + M_{k-1} - beta_{k-1} exactly, on random networks
  and on subcomplexes.
- The number of essential classes of every kind of filtration equals the Betti numbers.
- Random filtrations are linear extensions of the face poset and reproducible by seed.
- Output filtrations: exact values recomputed by exact forward passes at the vertices; closed
  forms of the diamond's lower-star and upper-star diagrams.
- PHAT's twist and dualized twist give the same pairing; user values are checked.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.errors import InvalidFiltrationError
from exactcells.topology.filtrations import (
    FILTRATION_KINDS,
    MULTICLASS_KINDS,
    dimension_random_filtration,
    filtration_from_values,
    lower_star_filtration,
    make_filtration,
    random_filtration,
    upper_star_filtration,
    vertex_outputs,
)
from exactcells.topology.homology import homology
from exactcells.topology.persistence import (
    betti_curve,
    betti_curves,
    f_vector_from_betti_maxima,
    persistence,
)
from exactcells.topology.subcomplex import (
    Subcomplex,
    decision_boundary,
    named_subcomplex,
    positive_region,
)

ONE_OUTPUT_KINDS = [k for k in FILTRATION_KINDS if k not in MULTICLASS_KINDS]


def diamond_complex(with_output: bool = False) -> PolyhedralComplex:
    net = network_from_dict({"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
                                        {"W": [[1, 1, 1, 1]], "b": ["-1/2"]}]})
    return build_complex(net, Domain.box(2, -1, 1), with_output=with_output)


def is_linear_extension(K: PolyhedralComplex, order: np.ndarray) -> bool:
    pos = {int(c): i for i, c in enumerate(order)}
    return all(pos[f] < pos[int(c)] for c in order for f in K.facets(int(c)))


@examples(40)
@given(d=integer_networks(2, max_depth=2), seed=st.integers(0, 2**31))
def test_f_vector_identity_2d(d: dict[str, Any], seed: int) -> None:
    K = build_complex(network_from_dict(d), Domain.box(2, -1, 1), with_output=True)
    C, _ = betti_curves(K, "dimension-random", seed=seed, repeats=3)
    for M in C.maxima:
        assert f_vector_from_betti_maxima(M, C.final_betti) == K.f_vector
    # on subcomplexes too, with their own final Betti numbers
    for name in ("decision-boundary", "positive", "domain-boundary"):
        S = named_subcomplex(K, name)
        assert isinstance(S, Subcomplex)
        C2, P2 = betti_curves(S, "dimension-random", seed=seed)
        assert P2.final_betti == homology(S).betti
        assert f_vector_from_betti_maxima(C2.maxima[0], C2.final_betti) == S.f_vector


@examples(10)
@given(d=integer_networks(3, max_depth=2, max_width=3), seed=st.integers(0, 1000))
def test_f_vector_identity_3d(d: dict[str, Any], seed: int) -> None:
    K = build_complex(network_from_dict(d), Domain.box(3, -1, 1))
    C, _ = betti_curves(K, "dimension-random", seed=seed, repeats=2)
    assert C.final_betti == (1, 0, 0, 0)
    for M in C.maxima:
        assert f_vector_from_betti_maxima(M, C.final_betti) == K.f_vector
    assert C.maxima[0][0] == K.f_vector[0]


@examples(40)
@given(d=integer_networks(2, max_depth=2), seed=st.integers(0, 1000))
def test_essential_classes_are_the_betti_numbers(d: dict[str, Any], seed: int) -> None:
    K = build_complex(network_from_dict(d), Domain.box(2, -1, 1), with_output=True)
    for S in (K, decision_boundary(K), positive_region(K)):
        beta = homology(S).betti
        for kind in ONE_OUTPUT_KINDS:
            P = persistence(make_filtration(S, kind, seed=seed))
            assert P.final_betti == beta
            assert [int(np.isinf(dg[:, 1]).sum()) for dg in P.diagrams()] == list(beta)
            _, curves = betti_curve(P)
            assert tuple(curves[:, -1].tolist()) == beta and np.all(curves[:, 0] == 0)


@examples(15)
@given(d=integer_networks(2, max_depth=2), seed=st.integers(0, 1000))
def test_random_filtration_is_a_linear_extension(d: dict[str, Any], seed: int) -> None:
    K = build_complex(network_from_dict(d), Domain.box(2, -1, 1))
    F = random_filtration(K, seed)
    assert sorted(F.order.tolist()) == list(range(K.num_cells))
    assert is_linear_extension(K, F.order)
    assert np.array_equal(random_filtration(K, seed).order, F.order)
    G = dimension_random_filtration(K, seed)
    assert np.all(np.diff(np.asarray(K.dims)[G.order]) >= 0)
    assert np.array_equal(dimension_random_filtration(K, seed).order, G.order)


def test_random_filtrations_depend_on_the_seed() -> None:
    K = diamond_complex(with_output=True)
    assert not np.array_equal(random_filtration(K, 1).order, random_filtration(K, 2).order)
    assert not np.array_equal(dimension_random_filtration(K, 1).order,
                              dimension_random_filtration(K, 2).order)
    # the random linear extension really mixes dimensions
    dims = np.asarray(K.dims)[random_filtration(K, 1).order]
    assert np.any(np.diff(dims) < 0)


def test_output_values_are_exact() -> None:
    K = diamond_complex(with_output=True)
    vals = [K.network.forward(K.vertex(v)) for v in range(K.f_vector[0])]
    assert vertex_outputs(K) == vals
    L = lower_star_filtration(K)
    U = upper_star_filtration(K)
    vsets = K.vertex_sets()
    for i, c in enumerate(L.order.tolist()):
        assert L.value(i) == max(vals[v][0] for v in vsets[c])
    for i, c in enumerate(U.order.tolist()):
        assert U.value(i) == -min(vals[v][0] for v in vsets[c])
    for F in (L, U):
        assert is_linear_extension(K, F.order)
        assert F.level_of is not None and np.all(np.diff(F.level_of) >= 0)


def test_vertex_outputs_deep_network_with_fractions() -> None:
    net = network_from_dict({"layers": [{"W": [["1/3", "-2/7"], ["0.1", 1]], "b": ["1/5", "-1/11"]},
                                        {"W": [["3/2", "-1/4"], [1, 1]], "b": ["1/9", 0]},
                                        {"W": [[1, "-5/3"], ["2/3", 0]], "b": [0, "1/2"]}]})
    K = build_complex(net, Domain.box(2, "-3/2", 1))
    assert vertex_outputs(K) == [net.forward(K.vertex(v)) for v in range(K.f_vector[0])]


def test_diamond_lower_and_upper_star_closed_forms() -> None:
    K = diamond_complex()  # F = |x| + |y| - 1/2 on [-1, 1]^2
    h = Fraction(1, 2)
    P = persistence(lower_star_filtration(K))
    # sublevel sets are diamonds: one component from the minimum F(0) = -1/2, nothing else
    assert [(b, d) for b, d in P.exact_pairs(0) if b != d] == [(-h, None)]
    assert [(b, d) for b, d in P.exact_pairs(1) if b != d] == []
    assert P.diagram(0).tolist() == [[-0.5, np.inf]]
    # superlevel sets (values -F): four corners (F = 3/2) merge at the side midpoints (F = 1/2),
    # where the loop around the diamond appears; it is filled at the origin (F = -1/2)
    Q = persistence(upper_star_filtration(K))
    t = Fraction(3, 2)
    assert sorted((b, d) for b, d in Q.exact_pairs(0) if b != d and d is not None) == [(-t, -h)] * 3
    assert [(b, d) for b, d in Q.exact_pairs(0) if d is None] == [(-t, None)]
    assert [(b, d) for b, d in Q.exact_pairs(1) if b != d] == [(-h, h)]
    assert Q.diagram(1).tolist() == [[-0.5, 0.5]]
    assert sorted(Q.diagram(0).tolist()) == [[-1.5, -0.5]] * 3 + [[-1.5, np.inf]]
    assert len(Q.diagram(0, include_zero=True)) > 4
    # Betti curve by value: at each distinct value t, beta of {cells of value <= t}
    C, _ = betti_curves(K, "output-upper-star", repeats=5)
    assert C.seeds == (None,) and C.levels == (-t, -h, h)
    assert C.mean.tolist() == [[4, 1, 1], [0, 1, 0], [0, 0, 0]]
    assert C.grid.tolist() == [-1.5, -0.5, 0.5]


def test_twist_and_dual_agree() -> None:
    rng = np.random.default_rng(3)
    d = {"layers": [{"W": rng.integers(-3, 4, (6, 3)).tolist(), "b": rng.integers(-1, 2, 6).tolist()},
                    {"W": rng.integers(-3, 4, (1, 6)).tolist(), "b": [1]}]}
    K = build_complex(network_from_dict(d), Domain.box(3, -1, 1), with_output=True)
    for kind in ONE_OUTPUT_KINDS:
        F = make_filtration(K, kind, seed=7)
        a, b = persistence(F), persistence(F, algorithm="twist-dual")
        assert np.array_equal(a.pairs, b.pairs) and np.array_equal(a.essential, b.essential)


def test_user_values() -> None:
    K = diamond_complex()
    F = filtration_from_values(K, [int(x) for x in K.dims])
    assert np.array_equal(F.order, np.arange(K.num_cells))
    assert F.levels == (0, 1, 2)
    # a face above its coface is refused; so is a missing value
    vals = [Fraction(1)] * K.num_cells
    vals[0] = Fraction(2)
    with pytest.raises(InvalidFiltrationError, match="above"):
        filtration_from_values(K, vals)
    with pytest.raises(InvalidFiltrationError, match="no value"):
        filtration_from_values(K, {0: 1})
    # a mapping on a subcomplex, string values
    S = positive_region(diamond_complex(with_output=True))
    G = filtration_from_values(S, {int(c): "1/3" for c in S.cells})
    assert persistence(G).final_betti == (1, 1, 0)
    with pytest.raises(InvalidFiltrationError, match="unknown filtration"):
        make_filtration(K, "sideways")


def test_betti_curves_summary() -> None:
    K = diamond_complex(with_output=True)
    C, P = betti_curves(K, "random", seed=10, repeats=6)
    assert C.seeds == tuple(range(10, 16)) and C.by == "index"
    assert C.grid.shape == (K.num_cells + 1,) and C.mean.shape == (3, K.num_cells + 1)
    assert np.all(C.min <= C.mean) and np.all(C.mean <= C.max) and np.all(C.std >= 0)
    assert C.mean[:, -1].tolist() == [1, 0, 0] and C.std[:, -1].tolist() == [0, 0, 0]
    assert C.maxima.shape == (6, 3)
    assert P.filtration.seed == 10
    d = P.to_dict()
    assert d["final_betti"] == [1, 0, 0] and len(d["pairs"]["0"]) == K.f_vector[0]
    with pytest.raises(ValueError):
        betti_curves(K, repeats=0)


def test_exact_ranks_beyond_float_precision() -> None:
    from flint import fmpq

    from exactcells.topology.filtrations import _exact_ranks

    eps = Fraction(1, 10**30)
    vals = [1 + eps, Fraction(1), Fraction(1, 3), 1 + eps, Fraction(1, 3) - eps]
    distinct, ranks = _exact_ranks(vals)  # the floats order 1 + eps before 1: the exact check corrects
    assert distinct == [Fraction(1, 3) - eps, Fraction(1, 3), Fraction(1), 1 + eps]
    assert ranks.tolist() == [3, 2, 1, 3, 0]
    q = [fmpq(v.numerator, v.denominator) for v in vals]
    assert _exact_ranks(q)[1].tolist() == [3, 2, 1, 3, 0]
    assert _exact_ranks([])[1].tolist() == []


@examples(25)
@given(d=integer_networks(2, max_depth=2), seed=st.integers(0, 1000),
       k=st.integers(2, 3))
def test_multiclass_filtrations_end_in_the_betti_numbers(d: dict[str, Any], seed: int, k: int) -> None:
    """Margin and class-score filtrations of argmax complexes (and of their class regions and
    decision boundary) are filtrations: their essential classes are the Betti numbers, and a
    cell's value is the maximum over its vertices."""
    from argmax_helpers import argmax_complex

    from exactcells.topology.filtrations import class_score_values, margin_values
    from exactcells.topology.subcomplex import class_region

    rng = np.random.default_rng(seed)
    last = d["layers"][-1]
    width = len(last["W"][0])
    d = {"layers": d["layers"][:-1] + [{"W": rng.integers(-3, 4, (k, width)).tolist(),
                                         "b": rng.integers(-2, 3, k).tolist()}]}
    net = network_from_dict(d)
    K = argmax_complex(net, Domain.box(2, -1, 1))
    vs = K.vertex_sets()
    m = margin_values(K)
    for S in (K, decision_boundary(K), class_region(K, 0)):
        beta = homology(S).betti
        for kind in MULTICLASS_KINDS:
            F = make_filtration(S, kind, seed=seed, output=k - 1)
            assert persistence(F).final_betti == beta
            vals = m if kind == "margin-lower-star" else class_score_values(K, k - 1)
            assert F.levels is not None and F.level_of is not None
            # every cell's value is the maximum over its vertices, on the complex filtered
            # (the argmax complex, or its top-two refinement where the function is not affine)
            T = F.subcomplex.complex
            Fv = [net.forward(T.vertex(v)) for v in range(T.f_vector[0])]
            tv = [sorted(r)[-1] - sorted(r)[-2] if kind == "margin-lower-star" else
                  r[k - 1] - max(x for i, x in enumerate(r) if i != k - 1) for r in Fv]
            tvs = T.vertex_sets() if T is not K else vs
            if T is K:
                assert tv == list(vals)
            for c, lv in zip(F.order.tolist(), F.level_of.tolist()):
                assert F.levels[lv] == max(tv[v] for v in tvs[c])
            assert F.uncertified == 0
            if k == 2:
                assert F.uncertified == 0
