"""Class regions, decision boundaries and junctions of argmax complexes, against hand derivations."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from argmax_helpers import argmax_complex, argmax_from_difference, zero_complex

from exactcells import Domain, build_complex, network_from_dict
from exactcells.errors import InvalidFiltrationError, InvalidSubcomplexError
from exactcells.topology.filtrations import (
    affine_certificate,
    class_score_filtration,
    class_score_values,
    margin_filtration,
    margin_values,
)
from exactcells.topology.homology import homology
from exactcells.topology.subcomplex import (
    class_region,
    decision_boundary,
    domain_boundary,
    junctions,
    maximizer_mask,
    named_subcomplex,
    pairwise_boundary,
    parse_subcomplex_name,
    positive_region,
)

BOX = Domain.box(2, -1, 1)


def betti(S: object) -> tuple[int, ...]:
    return tuple(homology(S, "q").betti)  # type: ignore[arg-type]


def linear(rows: list[list[object]], b: list[object] | None = None) -> object:
    return network_from_dict({"layers": [{"W": rows, "b": b or [0] * len(rows)}]})


def diamond_net() -> object:
    """F_0 = |x| + |y| - 1/2, F_1 = 0: class 0 is the box minus an open diamond (an annulus)."""
    return network_from_dict({"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
        {"W": [[1, 1, 1, 1], [0, 0, 0, 0]], "b": ["-1/2", 0]}]})


def test_annulus_class_region_has_a_hole() -> None:
    K = argmax_complex(diamond_net(), BOX)  # type: ignore[arg-type]
    assert betti(class_region(K, 0)) == (1, 1, 0)  # the annulus
    assert betti(class_region(K, 1)) == (1, 0, 0)  # the closed diamond
    B = decision_boundary(K)
    assert betti(B) == (1, 1, 0)  # the diamond's outline, a circle
    assert np.array_equal(B.mask, pairwise_boundary(K, 0, 1).mask)
    assert np.array_equal(B.mask, (class_region(K, 0) & class_region(K, 1)).mask)
    assert junctions(K).num_cells == 0
    # the boundary does not meet the domain's boundary: relative = absolute
    assert betti(named_subcomplex(K, "decision-boundary", relative=True)) == (1, 1, 0)
    # the class regions cover the complex
    assert np.all(class_region(K, 0).mask | class_region(K, 1).mask)


def test_two_classes_equal_the_zero_refinement_of_the_difference() -> None:
    """The engine's argmax complex equals the independent construction, cell for cell."""
    net = diamond_net()
    K = argmax_from_difference(net, BOX)  # type: ignore[arg-type]
    E = argmax_complex(net, BOX)  # type: ignore[arg-type]
    assert np.array_equal(np.asarray(E.signs), np.asarray(K.signs))
    assert E.f_vector == K.f_vector
    assert np.array_equal(np.asarray(E.facet_csr[1]), np.asarray(K.facet_csr[1]))
    # class 0 of the argmax complex is F_0 - F_1 >= 0 of the difference network
    D = zero_complex(network_from_dict({"layers": [
        {"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
        {"W": [[1, 1, 1, 1]], "b": ["-1/2"]}]}), BOX)
    assert betti(class_region(K, 0)) == betti(positive_region(D))
    assert class_region(K, 0).f_vector == positive_region(D).f_vector


def test_three_classes_meet_at_one_point() -> None:
    # F_0 - F_1 = 2x - y, F_0 - F_2 = 2x + y, F_1 - F_2 = 2y: three cones around the origin
    K = argmax_complex(linear([[1, 0], [-1, 1], [-1, -1]]), BOX)  # type: ignore[arg-type]
    assert K.num_regions == 3
    J = junctions(K)
    assert J.f_vector == (1, 0, 0)
    (v,) = J.cells.tolist()
    assert K.vertex(v) == (0, 0)
    assert maximizer_mask(K)[v].all()
    B = decision_boundary(K)
    assert B.f_vector == (4, 3, 0)  # a tripod: the centre and three rays to the box
    assert betti(B) == (1, 0, 0)
    assert betti(named_subcomplex(K, "decision-boundary", relative=True)) == (0, 2, 0)
    for j in range(3):
        assert betti(class_region(K, j)) == (1, 0, 0)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        P = pairwise_boundary(K, i, j)
        assert P.f_vector == (2, 1, 0)  # the centre and one ray
    for j in range(3):
        assert betti(named_subcomplex(K, f"class:{j}")) == (1, 0, 0)


def test_a_fan_of_linear_classifiers_and_a_class_that_never_wins() -> None:
    """F_j = <u_j, x> for u = (1,0), (0,1), (-1,0), (0,-1), (0,0): four quadrant-like cones
    split by the diagonals; class 4 ties with all at the origin only."""
    K = argmax_complex(linear([[1, 0], [0, 1], [-1, 0], [0, -1], [0, 0]]), BOX)  # type: ignore[arg-type]
    assert K.num_regions == 4
    A = maximizer_mask(K)
    top = A[K.regions().start :]
    assert sorted(int(np.flatnonzero(r)[0]) for r in top) == [0, 1, 2, 3]
    C4 = class_region(K, 4)
    assert C4.f_vector == (1, 0, 0)
    assert K.vertex(int(C4.cells[0])) == (0, 0)
    assert junctions(K).f_vector == (1, 0, 0)
    B = decision_boundary(K)
    assert B.f_vector == (5, 4, 0)  # the two diagonals
    # exact volumes: each cone a quarter of the box
    for r in K.regions():
        assert K.volume(r) == 1


def test_identical_outputs_tie_everywhere() -> None:
    """Two identical output rows: every cell has both as maximizers (documented exact answer)."""
    K = argmax_complex(network_from_dict({"layers": [
        {"W": [[1, 0]], "b": [0]}, {"W": [[1], [1]], "b": [0, 0]}]}), BOX)
    A = maximizer_mask(K)
    assert A.all()
    assert decision_boundary(K).num_cells == K.num_cells
    assert betti(decision_boundary(K)) == (1, 0, 0)
    assert betti(class_region(K, 0)) == betti(class_region(K, 1)) == (1, 0, 0)


def test_bad_names_and_classes() -> None:
    assert parse_subcomplex_name("class:3") == ("class", (3,))
    assert parse_subcomplex_name("boundary:0,2") == ("boundary", (0, 2))
    for bad in ("class:", "class:x", "boundary:1", "boundary:1,2,3", "klass:1", "class:-1"):
        with pytest.raises(InvalidSubcomplexError):
            parse_subcomplex_name(bad)
    K = argmax_complex(diamond_net(), BOX)  # type: ignore[arg-type]
    with pytest.raises(InvalidSubcomplexError, match="class 2 does not exist"):
        class_region(K, 2)
    with pytest.raises(InvalidSubcomplexError, match="must differ"):
        pairwise_boundary(K, 1, 1)
    with pytest.raises(InvalidSubcomplexError, match="argmax complex"):
        positive_region(K)
    H = build_complex(diamond_net(), BOX)  # type: ignore[arg-type]
    with pytest.raises(InvalidSubcomplexError, match="argmax"):
        class_region(H, 0)
    with pytest.raises(InvalidFiltrationError, match=">= 2 outputs"):
        margin_values(build_complex(linear([[1, 0]]), BOX))  # type: ignore[arg-type]


def test_margin_and_class_score_two_classes() -> None:
    """Two outputs: the margin is |F_0 - F_1| and g_0 = F_0 - F_1, both affine on every cell."""
    net = diamond_net()
    K = argmax_complex(net, BOX)  # type: ignore[arg-type]
    outs = K.output_values_at_vertices()
    m = margin_values(K)
    g0, g1 = class_score_values(K, 0), class_score_values(K, 1)
    for (a, b), mv, x, y in zip(outs, m, g0, g1):
        assert mv == abs(a - b) and x == a - b and y == b - a
    F = margin_filtration(K)
    assert F.uncertified == 0
    # the margin is 0 on the boundary (the first level) and 3/2 at the box's corners
    assert F.levels is not None
    assert F.levels[0] == 0 and F.levels[-1] == Fraction(3, 2)
    G = class_score_filtration(K, 0)
    assert G.uncertified == 0 and G.levels is not None
    assert G.levels[0] == Fraction(-1, 2) and G.levels[-1] == Fraction(3, 2)
    # face values never exceed coface values, and every cell's value is its vertex maximum
    vs = K.vertex_sets()
    lv = {int(c): G.levels[int(L)] for c, L in zip(G.order, G.level_of)}  # type: ignore[arg-type]
    for c in range(K.num_cells):
        assert lv[c] == max(g0[v] for v in vs[c])


def test_margin_certificate_three_classes() -> None:
    """Three linear classes: where class 0 wins, the runner-up changes along y = 0 inside the
    region, so the margin is not affine there and the certificate says so; elsewhere it is."""
    K = argmax_complex(linear([[1, 0], [-1, 1], [-1, -1]]), BOX)  # type: ignore[arg-type]
    cert = affine_certificate(K, "margin")
    r0 = [r for r in K.regions() if maximizer_mask(K)[r].tolist() == [True, False, False]]
    assert len(r0) == 1
    assert not cert[r0[0]]
    assert margin_filtration(K, refine=False).uncertified == int(np.count_nonzero(~cert))
    # the exact filtration cuts exactly those cells by the runner-up, and is certified everywhere
    F = margin_filtration(K)
    assert F.refined == int(np.count_nonzero(~cert)) and F.uncertified == 0
    assert F.subcomplex.complex is not K and F.subcomplex.complex.num_cells > K.num_cells
    # g_1 is affine wherever class 1 is not the unique maximizer
    c1 = affine_certificate(K, "class-score", 1)
    A = maximizer_mask(K)
    for c in range(K.num_cells):
        if not (A[c, 1] and A[c].sum() == 1):
            assert c1[c]
    assert domain_boundary(K).num_cells > 0


def test_class_picture(tmp_path: object) -> None:
    from pathlib import Path

    from exactcells.dual import dual_graph
    from exactcells.plot import boundary_edges, save_classes_png
    from exactcells.spectral import kway_partition

    net = diamond_net()
    R = argmax_complex(net, BOX)  # type: ignore[arg-type]
    K = build_complex(net, BOX)  # type: ignore[arg-type]
    # the boundary drawn is the diamond's outline: four edges, each with both classes maximal
    edges = boundary_edges(R)
    assert len(edges) == 4 and all(maximizer_mask(R)[e].all() for e in edges)
    p = Path(str(tmp_path)) / "classes.png"
    labels = kway_partition(dual_graph(K), 2).labels
    save_classes_png(R, p, hidden=K, labels=labels, title="t", partition_title="p")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
