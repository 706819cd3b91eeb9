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


def sum_inputs(K: PolyhedralComplex) -> tuple[FaceVolumes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The recursion's result, the regions, the vertex CSR and the interior vertices of ``K``."""
    n, N = K.input_dim, K.num_cells
    dims = np.asarray(K.dims, dtype=np.int64)
    ptr, ind = (np.asarray(a, dtype=np.int64) for a in K.facet_csr)
    B = sp.csr_matrix((np.ones(ind.size, dtype=np.int64), ind, ptr), shape=(N, N))
    V = _vertex_csr(N, K.f_vector[0], dims, B, n)
    fv = recursion(K)
    nh, m = K.network.num_hidden, K.domain.num_facets
    inside = np.all(np.asarray(K.signs)[:K.f_vector[0], nh:nh + m] != 0, axis=1)
    return fv, np.asarray(K.regions(), dtype=np.int64), V.indptr.astype(np.int64), V.indices.astype(np.int64), inside


def check_volume_sum(K: PolyhedralComplex, seed: int) -> None:
    """volume_sum equals the Fraction sum of the regions' volumes, in any order, for any choice of
    closable vertices (the wrong ones stay open); with the interior vertices, exactly the
    vertices on the domain's boundary stay open (every interior one cancels)."""
    from math import factorial

    from exactcells.volumes import volume_sum

    fv, tops, vptr, vind, inside = sum_inputs(K)
    n = K.input_dim
    want = sum((fv.volume(int(c)) for c in tops), Fraction(0))
    assert want == K.domain.volume()
    rng = np.random.default_rng(seed)
    on_boundary = set(np.flatnonzero(~inside).tolist())
    for order, closable in [(tops, inside), (rng.permutation(tops), inside),
                            (tops, np.ones_like(inside)), (rng.permutation(tops), rng.random(inside.size) < 0.5),
                            (tops[: max(1, tops.size // 3)], inside)]:
        vs = volume_sum(fv.nu, fv.L, fv.D, order, vptr, vind, closable)
        part = sum((fv.volume(int(c)) for c in order), Fraction(0))
        assert vs.fraction(factorial(n)) == part
        assert vs.equals(part, factorial(n)) and not vs.equals(part + Fraction(1, 10**9), factorial(n))
        if order is tops and closable is inside:
            used = set(vind.tolist())
            assert vs.open_vertices == len(on_boundary & used)  # every interior vertex cancelled


@examples(25)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), integer_networks(n, max_depth=2, max_width=3))),
       st.integers(0, 2**16))
def test_volume_sum_on_integer_networks(nn: tuple[int, dict[str, Any]], seed: int) -> None:
    n, d = nn
    check_volume_sum(build_complex(network_from_dict(d), Domain.box(n, -1, 1)), seed)


@pytest.mark.parametrize("name,net,n", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_volume_sum_on_degenerate_networks(name: str, net: Any, n: int) -> None:
    check_volume_sum(build_complex(net, Domain.box(n, -1, 1)), 1)


def test_volume_sum_on_float_weights_in_three_dimensions() -> None:
    rng = np.random.default_rng(11)
    d = {"layers": [{"W": rng.normal(size=(6, 3)).tolist(), "b": rng.normal(size=6).tolist()},
                    {"W": rng.normal(size=(5, 6)).tolist(), "b": rng.normal(size=5).tolist()},
                    {"W": rng.normal(size=(1, 5)).tolist(), "b": [0.0]}]}
    check_volume_sum(build_complex(network_from_dict(d), Domain.box(3, Fraction(-1, 2), 1)), 2)
