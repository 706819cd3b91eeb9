"""Chain complexes: exact incidence numbers with boundary of boundary = 0 over Z.

- On random integer networks (degenerate configurations are common), with and without the
  output, in 2-D and 3-D, on boxes and on a non-box polytope: d d = 0 over the integers, for
  the propagated incidences and, independently, for the geometric ones.
- The two orientations differ only by one sign per cell (a diagonal change of basis), checked by
  2-colouring the ratios.
- Hand-checked incidences of an edge and of a square; PHAT columns; relative chains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.errors import IncompleteComplexError
from exactcells.topology.chains import (
    boundary_squared_is_zero,
    chain_complex,
    geometric_incidence_signs,
    incidence_signs,
)
from exactcells.topology.subcomplex import decision_boundary, domain_boundary, pair, whole_complex


def cross_polytope(n: int) -> Domain:
    rows = [[1 if bit else -1 for bit in s] for s in np.ndindex(*(2,) * n)]
    return Domain(rows, [2] * len(rows))


def flips_exist(K: PolyhedralComplex, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a[e] = s(C) s(F) b[e] for some signs s on the cells (BFS 2-colouring)."""
    indptr, indices = K.facet_csr
    adj: dict[int, list[tuple[int, int]]] = {}
    for c in range(K.num_cells):
        for e in range(int(indptr[c]), int(indptr[c + 1])):
            f = int(indices[e])
            r = int(a[e]) * int(b[e])
            adj.setdefault(c, []).append((f, r))
            adj.setdefault(f, []).append((c, r))
    s: dict[int, int] = {}
    for start in range(K.num_cells):
        if start in s:
            continue
        s[start] = 1
        stack = [start]
        while stack:
            u = stack.pop()
            for v, r in adj.get(u, []):
                if v not in s:
                    s[v] = s[u] * r
                    stack.append(v)
                elif s[v] != s[u] * r:
                    return False
    return True


@examples(80)
@given(d=integer_networks(2, max_depth=2), with_output=st.booleans(), box=st.booleans())
def test_dd_zero_2d(d: dict[str, Any], with_output: bool, box: bool) -> None:
    K = build_complex(network_from_dict(d), Domain.box(2, -1, 1) if box else cross_polytope(2),
                      with_output=with_output)
    s = incidence_signs(K)
    assert set(np.unique(s).tolist()) <= {-1, 1}
    assert boundary_squared_is_zero(chain_complex(K, incidences=s))
    g = geometric_incidence_signs(K)
    assert boundary_squared_is_zero(chain_complex(K, incidences=g))
    assert flips_exist(K, s, g)


@examples(40)
@given(d=integer_networks(3, max_depth=2, max_width=3), with_output=st.booleans(), box=st.booleans())
def test_dd_zero_3d(d: dict[str, Any], with_output: bool, box: bool) -> None:
    K = build_complex(network_from_dict(d), Domain.box(3, -1, 1) if box else cross_polytope(3),
                      with_output=with_output)
    s = incidence_signs(K)
    assert boundary_squared_is_zero(chain_complex(K, incidences=s))
    g = geometric_incidence_signs(K)
    assert boundary_squared_is_zero(chain_complex(K, incidences=g))
    assert flips_exist(K, s, g)


def test_dd_zero_4d_benchmark_sized() -> None:
    # a 4-D network with 16 hidden neurons: the propagation on every level at once
    rng = np.random.default_rng(5)
    d = {"layers": [{"W": rng.integers(-4, 5, (8, 4)).tolist(), "b": rng.integers(-2, 3, 8).tolist()},
                    {"W": rng.integers(-4, 5, (8, 8)).tolist(), "b": rng.integers(-2, 3, 8).tolist()},
                    {"W": rng.integers(-4, 5, (1, 8)).tolist(), "b": [0]}]}
    K = build_complex(network_from_dict(d), Domain.box(4, -1, 1), with_output=True)
    assert K.num_cells > 1000
    C = chain_complex(K)
    assert boundary_squared_is_zero(C)
    # d_1 d_2 etc. really are the products of the integer matrices
    for k in range(2, 5):
        assert (C.boundary_matrix(k - 1) @ C.boundary_matrix(k)).count_nonzero() == 0


def test_square_by_hand() -> None:
    # the box [0,1]^2 cut by nothing: 4 vertices, 4 edges, 1 square
    net = network_from_dict({"layers": [{"W": [[0, 0]], "b": [1]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, 0, 1))
    assert K.f_vector == (4, 4, 1)
    g = geometric_incidence_signs(K)
    ptr, ind = K.facet_csr
    # an edge: + at the endpoint with the larger first differing coordinate
    for e in K.cells_of_dim(1):
        a, b = (int(v) for v in ind[ptr[e] : ptr[e + 1]])
        pa, pb = K.vertex(a), K.vertex(b)
        big = b if pb > pa else a
        assert {int(ind[i]): int(g[i]) for i in range(ptr[e], ptr[e + 1])} == {big: 1, a + b - big: -1}
    # the square: its boundary is the counter-clockwise cycle (standard orientation of R^2)
    (sq,) = K.cells_of_dim(2)
    cyc = 0
    for i in range(ptr[sq], ptr[sq + 1]):
        e = int(ind[i])
        a, b = (K.vertex(int(v)) for v in ind[ptr[e] : ptr[e + 1]])
        lo, hi = (a, b) if a < b else (b, a)  # edge oriented from lo to hi (+ at hi)
        cyc += int(g[i]) * (lo[0] * hi[1] - hi[0] * lo[1])  # shoelace term of the oriented edge
    assert cyc == 2  # twice the (positive) area: counter-clockwise


def test_propagated_convention_and_columns() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    s = incidence_signs(K)
    ptr, _ = K.facet_csr
    for c in range(K.f_vector[0], K.num_cells):
        # an edge runs from its lower vertex; higher cells: the first facet gets +1
        assert s[ptr[c]] == (-1 if K.dim(c) == 1 else 1)
    C = chain_complex(K, incidences=s)
    cols = C.z2_columns()
    assert len(cols) == K.num_cells == 25
    assert all(d == K.dim(j) for j, (d, _) in enumerate(cols))
    assert all(r < j for j, (_, rows) in enumerate(cols) for r in rows)
    # each edge column has two +-1 entries summing to 0
    D1 = C.boundary_matrix(1).toarray()
    assert np.all(D1.sum(axis=0) == 0) and np.all(np.abs(D1).sum(axis=0) == 2)
    assert C.boundary_matrix(0).shape == (0, 9) and C.boundary_matrix(3).shape == (4, 0)


def test_relative_chains_drop_the_subcomplex() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": ["1/3"]}, {"W": [[1]], "b": ["-1/2"]}]})
    K = build_complex(net, Domain.box(2, -1, 1), with_output=True)
    B = domain_boundary(K)
    C = chain_complex(pair(whole_complex(K), B))
    assert C.f_vector == tuple(a - b for a, b in zip(K.f_vector, B.f_vector))
    assert C.description == "(whole complex, domain boundary)"
    assert not np.any(B.mask[C.cells])
    assert boundary_squared_is_zero(C)
    D = chain_complex(decision_boundary(K))
    assert D.f_vector == (2, 1, 0)


def test_a_broken_poset_is_refused() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    ptr, ind = K.facet_csr
    bad = np.array(ind)
    e = K.cells_of_dim(1)[0]
    bad[ptr[e]] = bad[ptr[e] + 1]  # an edge with one vertex twice
    broken = PolyhedralComplex(network=K.network, domain=K.domain, with_output=False, dims=np.array(K.dims),
                               signs=np.array(K.signs), facet_indptr=np.array(ptr), facet_indices=bad,
                               vertex_coords=[K.vertex_homogeneous(v) for v in range(K.f_vector[0])])
    with pytest.raises(IncompleteComplexError):
        incidence_signs(broken)
