"""The exact margin and class-score filtrations for k >= 3 classes (the top-two refinement).

Checked against closed forms on hand-built networks whose margin sublevel sets are known, and,
for random networks, against two independent exact computations: every cell's value equals the
maximum of the function over the closed cell by an exact LP (cddlib GMP) over the convex hull of
its vertices, with the network evaluated by its own Fraction forward pass; and the persistence
diagram equals that of the lower star on an independently built, finer complex on which the
margin is affine as well (every cell cut by every ``F_i - F_j = 0``: the zero refinement of the
pairwise-difference network).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from typing import Any

import cdd
import cdd.gmp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.errors import InvalidFiltrationError
from exactcells.network import Network
from exactcells.topology.filtrations import (
    affine_certificate,
    class_score_filtration,
    margin_filtration,
    top_two_complex,
    top_two_network,
    top_two_parents,
)
from exactcells.topology.homology import homology
from exactcells.topology.persistence import persistence
from exactcells.topology.subcomplex import class_region, decision_boundary, whole_complex

BOX = Domain.box(2, -1, 1)


def argmax(net: Network, dom: Domain = BOX) -> PolyhedralComplex:
    return build_complex(net, dom, with_output=True, refine="argmax")


def diagram(F: Any) -> dict[int, Counter[tuple[Fraction, Fraction | None]]]:
    """The exact pairs of positive persistence and the essential classes, per dimension."""
    P = persistence(F)
    return {k: Counter((b, d) for b, d in P.exact_pairs(k) if d is None or d != b) for k in range(3)}


def strip_net() -> Network:
    """F = (10, x, -x) on [-1, 1]^2; the hidden neuron relu(x + 5) = x + 5 never cuts the box."""
    return network_from_dict({"layers": [{"W": [[1, 0]], "b": [5]},
                                         {"W": [[0], [1], [-1]], "b": [10, -5, 5]}]})


def square_net() -> Network:
    """F = (10, |x|, |y|) with |x| = relu(x) + relu(-x): the margin is 10 - max(|x|, |y|)."""
    return network_from_dict({"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
        {"W": [[0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], "b": [10, 0, 0]}]})


def test_two_strips_merge() -> None:
    """m = 10 - |x|: {m <= t} is empty below 9, the two strips near x = +-1 for 9 <= t < 10
    (two components), everything at 10. So H0 = {(9, 10), (9, inf)}; the vertex-sampled
    filtration of the one-cell argmax complex sees one component only."""
    R = argmax(strip_net())
    assert R.num_regions == 1
    F = margin_filtration(R)
    assert F.refined is not None and F.refined > 0 and F.uncertified == 0
    D = diagram(F)
    assert D[0] == Counter({(Fraction(9), Fraction(10)): 1, (Fraction(9), None): 1})
    assert not D[1] and not D[2]
    old = diagram(margin_filtration(R, refine=False))
    assert old[0] == Counter({(Fraction(9), None): 1})  # what the unrefined filtration said
    # g_1 = x - 10 (class 0 always wins): affine everywhere, no refinement needed
    G = class_score_filtration(R, 1)
    assert G.refined == 0 and G.subcomplex.complex is R
    assert diagram(G)[0] == Counter({(Fraction(-11), None): 1})


def test_square_annulus() -> None:
    """m = 10 - max(|x|, |y|): for 9 <= t < 10 the sublevel set is a square annulus (b0 = 1,
    b1 = 1), filled at 10: H0 = {(9, inf)}, H1 = {(9, 10)}."""
    R = argmax(square_net())
    F = margin_filtration(R)
    assert F.refined is not None and F.refined > 0
    D = diagram(F)
    assert D[0] == Counter({(Fraction(9), None): 1})
    assert D[1] == Counter({(Fraction(9), Fraction(10)): 1})


def test_three_classes_meeting_at_a_point() -> None:
    """Three linear classes meeting at the origin: m = 0 exactly on the decision boundary (a
    connected tree), and every superlevel set {m > t} of one class region is convex and reaches
    the box's boundary, so the sublevel sets stay connected without holes: H0 = {(0, inf)}."""
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [5, 5]},
                                        {"W": [[1, 0], [-1, 1], [-1, -1]], "b": [-5, 0, 10]}]})
    R = argmax(net)
    F = margin_filtration(R)
    assert F.refined is not None and F.refined > 0  # the runner-up changes inside each class region
    D = diagram(F)
    assert D[0] == Counter({(Fraction(0), None): 1}) and not D[1]
    # the cells at level 0 are exactly the decision boundary's, carried to the refinement
    T = F.subcomplex.complex
    parent = top_two_parents(T, R)
    zero = {int(c) for c, lv in zip(F.order, F.level_of) if F.levels[int(lv)] == 0}  # type: ignore[index]
    db = decision_boundary(R).mask
    assert zero == {c for c in range(T.num_cells) if db[parent[c]]}


def test_refinement_refines_and_is_certified() -> None:
    """Every cell of the top-two refinement lies in one cell of the argmax complex (its exact
    interior point has that cell's sign vector), and both functions are certified affine on
    every cell."""
    R = argmax(square_net())
    T = top_two_complex(R)
    parent = top_two_parents(T, R)
    for c in range(T.num_cells):
        x = T.interior_point(c)
        p = int(parent[c])
        assert R.network.hidden_signs(x) == R.sign_vector(p)[: R.network.num_hidden]
        out = R.network.forward(x)
        top = max(out)
        want = tuple(0 if v == top else -1 for v in out)
        assert R.sign_vector(p)[R.sign_slices()["outputs"]] == want
    F_at = R.network.forward_homogeneous([T.vertex_homogeneous(v) for v in range(T.f_vector[0])])[1]
    assert affine_certificate(T, "margin", scores=F_at).all()
    for j in range(3):
        assert affine_certificate(T, "class-score", j, scores=F_at).all()
    # the regions of R are unions of regions of T: the volumes add up
    vol = [Fraction(0)] * R.num_cells
    for c in T.regions():
        vol[parent[c]] += T.volume(c)
    assert all(vol[r] == R.volume(r) for r in R.regions())


def test_bad_input() -> None:
    with pytest.raises(InvalidFiltrationError, match=">= 3 outputs"):
        top_two_network(network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1], [-1]], "b": [0, 0]}]}))
    wide = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[j] for j in range(12)], "b": [0] * 12}]})
    with pytest.raises(InvalidFiltrationError, match="at most 11 classes"):
        top_two_network(wide)
    Z = build_complex(square_net(), BOX, with_output=True, refine="zero")
    with pytest.raises(InvalidFiltrationError, match="argmax"):
        margin_filtration(Z)


# -- independent checks on random networks ----------------------------------------------------


def _lp_max(values: list[tuple[Fraction, ...]], fn: str, j: int) -> Fraction:
    """The exact maximum over the convex hull of points with class scores ``values`` (the
    scores are affine there) of the margin (``fn="margin"``) or of ``g_j``: for the margin
    ``max_t max_lambda min_{i != t} sum_v lambda_v (F_t(v) - F_i(v))``, for ``g_j`` the same
    with ``t = j`` (``g_j = min_{i != j} (F_j - F_i)``), each an LP in (lambda, s)."""
    k = len(values[0])
    V = len(values)
    best: Fraction | None = None
    for t in (range(k) if fn == "margin" else [j]):
        rows: list[list[Any]] = []
        for i in range(k):  # sum_v lambda_v (F_t - F_i)(v) - s >= 0
            if i != t:
                rows.append([0] + [values[v][t] - values[v][i] for v in range(V)] + [-1])
        for v in range(V):  # lambda_v >= 0
            rows.append([0] + [int(u == v) for u in range(V)] + [0])
        rows.append([1] + [-1] * V + [0])  # sum lambda <= 1
        rows.append([-1] + [1] * V + [0])  # sum lambda >= 1
        rows.append([0] + [0] * V + [1])  # maximise s
        lp = cdd.gmp.linprog_from_array(rows, cdd.LPObjType.MAX)
        cdd.gmp.linprog_solve(lp)
        assert lp.status == cdd.LPStatusType.OPTIMAL
        val = Fraction(lp.obj_value)
        best = val if best is None or val > best else best
    assert best is not None
    return best


def pairwise_difference_complex(net: Network, dom: Domain) -> PolyhedralComplex:
    """Every cell cut by every F_i - F_j = 0 (the zero refinement of the network whose outputs
    are the pairwise differences): the order of the scores is constant on each cell."""
    last = net.layers[-1]
    pairs = list(itertools.combinations(range(net.output_dim), 2))
    W = tuple(tuple(a - b for a, b in zip(last.W[i], last.W[j])) for i, j in pairs)
    b = tuple(last.b[i] - last.b[j] for i, j in pairs)
    return build_complex(Network(net.layers[:-1] + (replace(last, W=W, b=b),)), dom,
                         with_output=True, refine="zero")


def _lower_star_diagram(Z: PolyhedralComplex, net: Network, fn: str, j: int) -> dict[int, Counter[Any]]:
    from exactcells.topology.filtrations import _star

    rows = [net.forward(Z.vertex(v)) for v in range(Z.f_vector[0])]
    if fn == "margin":
        vals = [sorted(r)[-1] - sorted(r)[-2] for r in rows]
    else:
        vals = [r[j] - max(x for i, x in enumerate(r) if i != j) for r in rows]
    return diagram(_star(whole_complex(Z), vals, "values", None))


@examples(12)
@given(d=integer_networks(2, max_depth=2, outputs=3), k=st.integers(3, 4), seed=st.integers(0, 1000))
def test_values_are_exact_maxima_and_diagrams_agree(d: dict[str, Any], k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    width = len(d["layers"][-1]["W"][0])
    d = {"layers": d["layers"][:-1] + [{"W": rng.integers(-3, 4, (k, width)).tolist(),
                                         "b": rng.integers(-2, 3, k).tolist()}]}
    net = network_from_dict(d)
    R = argmax(net)
    Z = pairwise_difference_complex(net, BOX)
    for fn, j in (("margin", 0), ("class-score", k - 1)):
        F = margin_filtration(R) if fn == "margin" else class_score_filtration(R, j)
        assert F.uncertified == 0 and F.levels is not None and F.level_of is not None
        T = F.subcomplex.complex
        vs = T.vertex_sets()
        Fv = [net.forward(T.vertex(v)) for v in range(T.f_vector[0])]
        for c, lv in zip(F.order.tolist(), F.level_of.tolist()):
            assert F.levels[lv] == _lp_max([Fv[v] for v in sorted(vs[c])], fn, j)
        assert diagram(F) == _lower_star_diagram(Z, net, fn, j)
        # on class regions: the essential classes are the region's Betti numbers
        S = class_region(R, 0)
        G = margin_filtration(S) if fn == "margin" else class_score_filtration(S, j)
        assert persistence(G).final_betti == homology(S).betti
