"""Homology over Z/2 (PHAT), Q and Z (exact Smith normal form) against closed forms.

- The whole complex of a box is a ball, (1, 0, ..., 0); its domain boundary is a sphere; the
  pair (ball, sphere) has H_n = 1 only; for n = 1 .. 4.
- Hand-built networks with known topology: the diamond |x| + |y| = 1/2 (decision boundary a
  circle (1, 1), F >= 0 an annulus, F <= 0 a disk), the octahedron |x| + |y| + |z| = 1/2 in 3-D
  (decision boundary a sphere (1, 0, 1)), the lines |x| = 1/2 (two components; relative to the
  domain boundary two open intervals, (0, 2)), two disjoint diamonds ((2, 2); F >= 0 a disk with
  two holes (1, 2)).
- Random integer networks: Euler characteristic = alternating sum of Betti numbers for every
  subcomplex and coefficient ring; PHAT's Z/2 numbers equal an independent GF(2) elimination of
  the boundary matrices; Q and Z agree and Z has no torsion (subcomplexes of R^2 and R^3).
- The Smith form routine against flint's dense ``snf`` on random integer matrices (with
  torsion), and the size limits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.errors import InvalidSubcomplexError, TopologySizeError
from exactcells.network import Network
from exactcells.topology.chains import ChainComplex, chain_complex, incidence_signs
from exactcells.topology.homology import homology, smith_invariants
from exactcells.topology.subcomplex import (
    closure,
    decision_boundary,
    domain_boundary,
    named_subcomplex,
    negative_region,
    pair,
    positive_region,
    whole_complex,
)


def diamond() -> Network:
    """F = relu(x) + relu(-x) + relu(y) + relu(-y) - 1/2 = |x| + |y| - 1/2."""
    return network_from_dict({"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
                                         {"W": [[1, 1, 1, 1]], "b": ["-1/2"]}]})


def octahedron() -> Network:
    """F = |x| + |y| + |z| - 1/2."""
    W = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
    return network_from_dict({"layers": [{"W": W, "b": [0] * 6}, {"W": [[1] * 6], "b": ["-1/2"]}]})


def two_lines() -> Network:
    """F = |x| - 1/2: the decision boundary is the two segments x = -1/2 and x = 1/2."""
    return network_from_dict({"layers": [{"W": [[1, 0], [-1, 0]], "b": [0, 0]},
                                         {"W": [[1, 1]], "b": ["-1/2"]}]})


def two_diamonds() -> Network:
    """F = min(d1, d2) with d1 = |x - 1/2| + |y| - 1/4, d2 = |x + 1/2| + |y| - 1/4
    (min(a, b) = relu(a) - relu(-a) - relu(a - b))."""
    W1 = [[1, 0], [-1, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]
    b1 = ["-1/2", "1/2", "1/2", "-1/2", 0, 0]
    W2 = [[1, 1, 0, 0, 1, 1], [-1, -1, 0, 0, -1, -1], [1, 1, -1, -1, 0, 0]]
    return network_from_dict({"layers": [{"W": W1, "b": b1}, {"W": W2, "b": ["-1/4", "1/4", 0]},
                                         {"W": [[1, -1, -1]], "b": [0]}]})


def all_rings(target: Any) -> set[tuple[int, ...]]:
    out = {homology(target, c).betti for c in ("z2", "q", "z")}
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_box_is_a_ball_with_a_sphere_for_boundary(n: int) -> None:
    net = network_from_dict({"layers": [{"W": [[1] + [0] * (n - 1), [1] * n], "b": ["1/3", 0]},
                                        {"W": [[1, -1]], "b": [0]}]})
    K = build_complex(net, Domain.box(n, -1, 1))
    e = tuple(int(k == 0) for k in range(n + 1))
    sphere = tuple(int(k == 0) + int(k == n - 1) for k in range(n + 1))
    top = tuple(int(k == n) for k in range(n + 1))
    assert all_rings(K) == {e}
    assert all_rings(domain_boundary(K)) == {sphere}
    assert all_rings(pair(whole_complex(K), domain_boundary(K))) == {top}
    assert homology(K, "z").torsion == ((),) * (n + 1)


def test_diamond() -> None:
    K = build_complex(diamond(), Domain.box(2, -1, 1), with_output=True)
    assert all_rings(decision_boundary(K)) == {(1, 1, 0)}
    assert all_rings(positive_region(K)) == {(1, 1, 0)}  # an annulus
    assert all_rings(negative_region(K)) == {(1, 0, 0)}  # a disk
    # the annulus relative to its outer circle: nothing; the disk relative to the empty set
    assert all_rings(named_subcomplex(K, "positive", relative=True)) == {(0, 0, 0)}
    assert all_rings(named_subcomplex(K, "decision-boundary", relative=True)) == {(1, 1, 0)}


def test_octahedron_is_a_sphere() -> None:
    K = build_complex(octahedron(), Domain.box(3, -1, 1), with_output=True)
    assert all_rings(decision_boundary(K)) == {(1, 0, 1, 0)}
    assert all_rings(positive_region(K)) == {(1, 0, 1, 0)}  # the box with a hole
    assert all_rings(negative_region(K)) == {(1, 0, 0, 0)}
    assert decision_boundary(K).f_vector == (6, 12, 8, 0)  # the octahedron's faces


def test_two_components_and_relative() -> None:
    K = build_complex(two_lines(), Domain.box(2, -1, 1), with_output=True)
    assert all_rings(decision_boundary(K)) == {(2, 0, 0)}
    assert all_rings(positive_region(K)) == {(2, 0, 0)}
    # the two lines relative to their ends on the box: two open intervals (Borel-Moore H_1 = 2)
    assert all_rings(named_subcomplex(K, "decision-boundary", relative=True)) == {(0, 2, 0)}
    assert all_rings(named_subcomplex(K, "negative", relative=True)) == {(0, 1, 0)}


def test_two_diamonds() -> None:
    K = build_complex(two_diamonds(), Domain.box(2, -1, 1), with_output=True)
    assert all_rings(decision_boundary(K)) == {(2, 2, 0)}
    assert all_rings(positive_region(K)) == {(1, 2, 0)}
    assert all_rings(negative_region(K)) == {(2, 0, 0)}
    assert all_rings(named_subcomplex(K, "positive", relative=True)) == {(0, 1, 0)}


def test_closure_of_user_cells() -> None:
    K = build_complex(diamond(), Domain.box(2, -1, 1), with_output=True)
    D = decision_boundary(K)
    edges = [c for c in D.cells if K.dim(int(c)) == 1]
    S = closure(K, edges[:-1], "three sides")
    assert homology(S).betti == (1, 0, 0)
    assert S.f_vector == (4, 3, 0)
    assert (closure(K, edges).mask == D.mask).all()


def gf2_betti(C: ChainComplex) -> tuple[int, ...]:
    """Betti numbers over GF(2) by Gaussian elimination on bitsets (independent of PHAT)."""
    def rank(M: Any) -> int:
        A = M.tocsc()
        cols = []
        for j in range(A.shape[1]):
            v = 0
            for r, x in zip(A.indices[A.indptr[j] : A.indptr[j + 1]], A.data[A.indptr[j] : A.indptr[j + 1]]):
                if x % 2:
                    v ^= 1 << int(r)
            cols.append(v)
        piv: dict[int, int] = {}
        r = 0
        for v in cols:
            while v:
                h = v.bit_length() - 1
                if h in piv:
                    v ^= piv[h]
                else:
                    piv[h] = v
                    r += 1
                    break
        return r

    n = C.top_dim
    ranks = [0] + [rank(C.boundary_matrix(k)) for k in range(1, n + 1)] + [0]
    return tuple(C.f_vector[k] - ranks[k] - ranks[k + 1] for k in range(n + 1))


def subcomplexes(K: PolyhedralComplex) -> list[Any]:
    names = ["all", "domain-boundary", "decision-boundary", "positive", "negative"]
    return [named_subcomplex(K, nm, relative=rel) for nm in names for rel in (False, True)]


def check_all(K: PolyhedralComplex) -> None:
    s = incidence_signs(K)
    for T in subcomplexes(K):
        C = chain_complex(T, incidences=s)
        z2 = homology(T, "z2")
        q = homology(T, "q", incidences=s)
        z = homology(T, "z", incidences=s)
        assert z2.betti == gf2_betti(C)
        assert q.betti == z.betti
        assert z.torsion == ((),) * (K.input_dim + 1)
        for h in (z2, q, z):
            assert h.euler_characteristic == C.euler_characteristic
            assert h.f_vector == C.f_vector
    assert homology(K).betti == (1,) + (0,) * K.input_dim


@examples(60)
@given(d=integer_networks(2, max_depth=2))
def test_random_2d(d: dict[str, Any]) -> None:
    check_all(build_complex(network_from_dict(d), Domain.box(2, -1, 1), with_output=True))


@examples(30)
@given(d=integer_networks(3, max_depth=2, max_width=3))
def test_random_3d(d: dict[str, Any]) -> None:
    check_all(build_complex(network_from_dict(d), Domain.box(3, -1, 1), with_output=True))


@examples(60)
@given(M=st.lists(st.lists(st.integers(-4, 4), min_size=5, max_size=5), min_size=1, max_size=6))
def test_smith_form_against_flint(M: list[list[int]]) -> None:
    from flint import fmpz_mat

    S = fmpz_mat(M).snf()
    diag = [abs(int(S[i, i])) for i in range(min(S.nrows(), S.ncols()))]
    r, inv = smith_invariants(np.array(M))
    assert r == sum(1 for x in diag if x)
    assert inv == tuple(sorted(x for x in diag if x > 1))
    assert smith_invariants(np.array(M), torsion=False) == (r, ())


def test_torsion_of_the_projective_plane() -> None:
    # the minimal CW structure of RP^2: d_2 = (2), d_1 = 0 -> H_1 = Z/2
    assert smith_invariants(np.array([[2]])) == (1, (2,))
    # a unit pivot to eliminate, then diag(2) and [[4, 2], [2, 4]] (gcd 2, det 12: 2, 6)
    D = np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 4, 2], [0, 0, 2, 4]])
    assert smith_invariants(D) == (4, (2, 2, 6))


def test_size_limits() -> None:
    K = build_complex(diamond(), Domain.box(2, -1, 1), with_output=True)
    with pytest.raises(TopologySizeError, match="limited to 10 cells"):
        homology(K, "q", max_cells=10)
    assert homology(K, "z2", max_cells=10).betti == (1, 0, 0)  # no limit over Z/2
    M = np.diag([2] * 5)
    with pytest.raises(TopologySizeError, match="dense"):
        smith_invariants(M, max_dense=4)
    assert smith_invariants(M, max_dense=5) == (5, (2,) * 5)


def test_output_subcomplexes_need_the_output() -> None:
    K = build_complex(diamond(), Domain.box(2, -1, 1))
    with pytest.raises(InvalidSubcomplexError, match="with_output"):
        decision_boundary(K)
    K2 = build_complex(diamond(), Domain.box(2, -1, 1), with_output=True)
    with pytest.raises(InvalidSubcomplexError, match="output 1"):
        positive_region(K2, output=1)
    with pytest.raises(InvalidSubcomplexError, match="not contained"):
        pair(decision_boundary(K2), domain_boundary(K2))
    with pytest.raises(InvalidSubcomplexError, match="unknown subcomplex"):
        named_subcomplex(K2, "interior")
    d = homology(named_subcomplex(K2, "decision-boundary", relative=True), "z").to_dict()
    assert d["betti"] == [1, 1, 0] and d["coefficients"] == "z" and d["relative"] is False
