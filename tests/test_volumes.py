"""The face recursion of exactcells.volumes against pulling triangulations (exactcells.measure).

Every region's volume from the recursion must equal, exactly, the sum of its simplex
determinants (an independent computation from the vertices alone), and the Plücker vectors the
recursion takes from the network's local forms must be the primitive Plücker vectors of the
cells' affine hulls, which is checked directly from the vertices.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import gcd
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks
from test_certify import DEGENERATE

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.localforms import LocalForms
from exactcells.volumes import FaceVolumes, face_volumes
from exactcells.volumes import cell_vertex_matrix as _vertex_csr


def recursion(K: PolyhedralComplex, keep: bool = False) -> FaceVolumes:
    n, N = K.input_dim, K.num_cells
    dims = np.asarray(K.dims, dtype=np.int64)
    ptr, ind = (np.asarray(a, dtype=np.int64) for a in K.facet_csr)
    B = sp.csr_matrix((np.ones(ind.size, dtype=np.int64), ind, ptr), shape=(N, N))
    V = _vertex_csr(N, K.f_vector[0], dims, B, n)
    H = [tuple(int(x) for x in K.vertex_homogeneous(v)) for v in range(K.f_vector[0])]
    return face_volumes(n, dims, np.asarray(K.signs), B, V, H, LocalForms(K.network, K.domain),
                        keep_plucker=keep)


def check_against_triangulation(K: PolyhedralComplex) -> None:
    fv = recursion(K, keep=True)
    assert fv.inconsistent.size == 0
    vols = [fv.volume(r) for r in K.regions()]
    assert vols == [K.volume(r) for r in K.regions()]  # pulling triangulation, exactcells.measure
    assert sum(vols) == K.domain.volume()
    assert K.region_volumes() == vols
    check_plucker(K, fv)


def wedge(rows: list[tuple[int, ...]]) -> list[int]:
    """Plücker coordinates of the rows (all maximal minors, lexicographic column sets)."""
    from flint import fmpz_mat

    k, m = len(rows), len(rows[0])
    return [int(fmpz_mat([[r[j] for j in cols] for r in rows]).det()) for cols in combinations(range(m), k)]


def check_plucker(K: PolyhedralComplex, fv: FaceVolumes) -> None:
    """E_G is +- the primitive Plücker vector of the span of G's homogeneous vertex vectors."""
    from flint import fmpz_mat

    assert fv.plucker is not None
    lower = [c for c in range(K.f_vector[0], K.num_cells) if K.dim(c) < K.input_dim]
    assert not lower or any(fv.computed[c] for c in lower)
    for c in lower:
        k = K.dim(c)
        if not fv.computed[c]:  # not reached by the pulling recursion
            continue
        hs = [tuple(int(x) for x in K.vertex_homogeneous(v)) for v in K.cell_vertices(c)]
        # k + 1 independent vertices: greedy by rank
        basis: list[tuple[int, ...]] = []
        for h in hs:
            if fmpz_mat(basis + [h]).rank() == len(basis) + 1:
                basis.append(h)
        assert len(basis) == k + 1
        w = wedge(basis)
        g = gcd(*w)
        prim = [x // g for x in w]
        E = [int(x) for x in fv.plucker(c)]
        assert E == prim or E == [-x for x in prim], (c, k)


@examples(40)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), integer_networks(n, max_depth=2, max_width=3))),
       st.booleans())
def test_recursion_equals_triangulation_on_integer_networks(nn: tuple[int, dict[str, Any]], with_output: bool) -> None:
    n, d = nn
    K = build_complex(network_from_dict(d), Domain.box(n, -1, 1), with_output=with_output)
    check_against_triangulation(K)


@pytest.mark.parametrize("name,net,n", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_recursion_on_degenerate_networks(name: str, net: Any, n: int) -> None:
    check_against_triangulation(build_complex(net, Domain.box(n, -1, 1)))


def test_recursion_on_a_triangle_domain_with_fractions() -> None:
    dom = Domain([[-1, 0], [0, -1], [1, 1]], [0, 0, Fraction(3, 2)])
    net = network_from_dict({"layers": [{"W": [[1, -2], [3, 1], ["1/3", 1]], "b": ["1/7", -1, "-1/2"]},
                                        {"W": [[1, -1, 2]], "b": ["1/5"]}]})
    K = build_complex(net, dom, with_output=True)
    check_against_triangulation(K)
    assert sum(recursion(K).volume(r) for r in K.regions()) == Fraction(9, 8)


def test_recursion_on_float_weights_and_a_shifted_box() -> None:
    rng = np.random.default_rng(3)
    d = {"layers": [{"W": rng.normal(size=(5, 3)).astype(np.float32).tolist(), "b": rng.normal(size=5).tolist()},
                    {"W": rng.normal(size=(4, 5)).tolist(), "b": rng.normal(size=4).tolist()},
                    {"W": rng.normal(size=(1, 4)).tolist(), "b": [0.0]}]}
    K = build_complex(network_from_dict(d), Domain.box(3, Fraction(-1, 3), 2))
    check_against_triangulation(K)


def test_recursion_in_five_dimensions() -> None:
    rng = np.random.default_rng(5)
    d = {"layers": [{"W": rng.integers(-3, 4, size=(4, 5)).tolist(), "b": rng.integers(-2, 3, size=4).tolist()},
                    {"W": rng.integers(-2, 3, size=(2, 4)).tolist(), "b": [1, -1]},
                    {"W": [[1, 1]], "b": [0]}]}
    K = build_complex(network_from_dict(d), Domain.box(5, -1, 1))
    check_against_triangulation(K)


def test_recursion_on_a_closed_subset_of_cells_equals_the_whole() -> None:
    from exactcells.volumes import closure

    rng = np.random.default_rng(7)
    d = {"layers": [{"W": rng.integers(-3, 4, size=(6, 3)).tolist(), "b": rng.integers(-2, 3, size=6).tolist()},
                    {"W": rng.integers(-2, 3, size=(3, 6)).tolist(), "b": [1, -1, 0]},
                    {"W": [[1, 1, 1]], "b": [0]}]}
    K = build_complex(network_from_dict(d), Domain.box(3, -1, 1))
    whole = recursion(K)
    tops = np.asarray(K.regions())
    half = tops[np.asarray(K.signs)[tops, 0] > 0]
    n, N = K.input_dim, K.num_cells
    dims = np.asarray(K.dims, dtype=np.int64)
    ptr, ind = (np.asarray(a, dtype=np.int64) for a in K.facet_csr)
    B = sp.csr_matrix((np.ones(ind.size, dtype=np.int64), ind, ptr), shape=(N, N))
    mask = closure(B, dims, half)
    assert mask[half].all() and mask.sum() < N
    assert all(mask[f] for c in np.flatnonzero(mask) for f in K.facets(int(c)))
    V = _vertex_csr(N, K.f_vector[0], dims, B, n)
    H = [tuple(int(x) for x in K.vertex_homogeneous(v)) for v in range(K.f_vector[0])]
    part = face_volumes(n, dims, np.asarray(K.signs), B, V, H, LocalForms(K.network, K.domain), cells=mask)
    assert [part.volume(int(c)) for c in half] == [whole.volume(int(c)) for c in half]
    assert part.inconsistent.size == 0
