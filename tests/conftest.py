"""Shared checks for the build tests: every exact invariant a complex must satisfy.

The checks are recomputations that do not use the engine's bookkeeping: sign vectors come from
exact forward passes (``Network.hidden_signs``, ``Domain.facet_signs``, ``Network.output_signs``)
at exact points, dimensions from exact affine ranks of vertex coordinates.
They are exposed as session-scoped fixtures (hypothesis refuses function-scoped ones).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from exactcells import PolyhedralComplex
from exactcells.geometry import affine_rank

# tests import shared helpers (net_strategies.py) as sibling modules
sys.path.insert(0, str(Path(__file__).resolve().parent))


def expected_signs(K: PolyhedralComplex, x: Sequence[Fraction]) -> tuple[int, ...]:
    """The sign vector of point ``x`` recomputed by exact forward passes."""
    s = K.network.hidden_signs(x) + K.domain.facet_signs(x)
    if K.output_refinement == "argmax":  # sign(F_j - max F): 0 for the top classes
        out = K.network.forward(x)
        s += tuple(0 if v == max(out) else -1 for v in out)
    elif K.with_output:
        s += K.network.output_signs(x)
    return s


def check_complex(K: PolyhedralComplex, *, grid: int = 0) -> None:
    """Assert every exact invariant of ``K`` (see the module docstring of the test files).

    ``grid > 0`` also checks completeness on the points of a grid with ``grid`` steps per
    coordinate: each point's sign vector must be a cell of ``K``.
    """
    n = K.input_dim
    N = K.num_cells
    f = K.f_vector
    dims = K.dims
    assert sum(f) == N == len(K.signs)
    # Euler characteristic of a complex whose union is a polytope
    assert sum((-1) ** k * fk for k, fk in enumerate(f)) == 1
    assert K.euler_characteristic == 1
    # canonical order: by dimension, then sign vector (lexicographic)
    assert list(dims) == sorted(dims)
    rows = [K.sign_vector(i) for i in range(N)]
    for k in range(n + 1):
        r = K.cells_of_dim(k)
        assert rows[r.start : r.stop] == sorted(rows[r.start : r.stop])
    # sign vectors are canonical keys: distinct, and found back by index_of
    assert len(set(rows)) == N
    for i in range(N):
        assert K.index_of(rows[i]) == i
    # vertices: exact points of the domain, pairwise distinct
    verts = [K.vertex(v) for v in range(f[0])]
    assert all(isinstance(x, Fraction) for v in verts for x in v)
    assert len(set(verts)) == f[0]
    assert all(K.domain.contains(v) for v in verts)
    vsets = K.vertex_sets()
    for i in range(N):
        d = K.dim(i)
        fac = K.facets(i)
        # the facet relation: one dimension lower; the cofacet relation is its transpose
        assert all(K.dim(g) == d - 1 for g in fac)
        assert all(i in K.cofacets(g) for g in fac)
        assert all(i in K.facets(c) for c in K.cofacets(i))
        # a face's sign vector agrees with the cell's or has a 0 there (continuity)
        for g in fac:
            assert all(a == b or a == 0 for a, b in zip(rows[g], rows[i])), (rows[g], rows[i])
        # dimension = exact affine rank of the vertices
        assert affine_rank([verts[v] for v in sorted(vsets[i])]) == d
        # every interval of length 2 in the face poset has exactly two middle elements
        if d == 1:
            assert len(fac) == 2  # the interval [empty face, edge]: its two vertices
        elif d >= 2:
            below: dict[int, int] = {}
            for g in fac:
                for h in K.facets(g):
                    below[h] = below.get(h, 0) + 1
            assert below and all(c == 2 for c in below.values()), below
        # the relative-interior point has exactly the cell's sign vector
        assert expected_signs(K, K.interior_point(i)) == rows[i]
    # an (n-1)-cell bounds two regions, or one when it lies on the domain's boundary
    dom = K.sign_slices()["domain_facets"]
    for i in K.cells_of_dim(n - 1):
        on_boundary = 0 in rows[i][dom]
        assert len(K.cofacets(i)) == (1 if on_boundary else 2)
    # exact volumes add up to the domain's volume
    vols = K.region_volumes()
    assert all(isinstance(v, Fraction) and v > 0 for v in vols)
    assert sum(vols) == K.domain.volume()
    # the output map on a region agrees with the exact forward pass at its vertices
    for r in K.regions():
        A, c = K.affine_map(r)
        for v in vsets[r]:
            x = verts[v]
            val = tuple(sum((a * xi for a, xi in zip(row, x)), ci) for row, ci in zip(A, c))
            assert val == K.network.forward(x)
    if grid:
        check_grid(K, grid)


def check_grid(K: PolyhedralComplex, steps: int) -> None:
    """Every point of a rational grid over the domain's bounding box that lies in the domain has
    its sign vector among the cells, in the cell of that key (a vertex: the same point)."""
    verts = np.array([[Fraction(x) for x in v] for v in K.domain.vertices], dtype=object)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    axes = [[lo[k] + (hi[k] - lo[k]) * Fraction(t, steps) for t in range(steps + 1)]
            for k in range(K.input_dim)]
    for x in product(*axes):
        if not K.domain.contains(x):
            continue
        i = K.index_of(expected_signs(K, x))  # KeyError if the cell is missing
        if K.dim(i) == 0:
            assert K.vertex(i) == tuple(x)


def same_complex(K1: PolyhedralComplex, K2: PolyhedralComplex) -> None:
    """Assert two complexes are identical cell by cell (dims, signs, facets, vertices)."""
    assert K1.f_vector == K2.f_vector
    assert np.array_equal(K1.dims, K2.dims)
    assert np.array_equal(K1.signs, K2.signs)
    assert np.array_equal(K1.facet_csr[0], K2.facet_csr[0])
    assert np.array_equal(K1.facet_csr[1], K2.facet_csr[1])
    assert [K1.vertex_homogeneous(v) for v in range(K1.f_vector[0])] == [
        K2.vertex_homogeneous(v) for v in range(K2.f_vector[0])
    ]


@pytest.fixture(scope="session")
def assert_complex_ok() -> Callable[..., None]:
    """:func:`check_complex` as a fixture: ``assert_complex_ok(K, grid=0)``."""
    return check_complex


@pytest.fixture(scope="session")
def assert_same_complex() -> Callable[[PolyhedralComplex, PolyhedralComplex], None]:
    """:func:`same_complex` as a fixture."""
    return same_complex


@pytest.fixture(params=["gmp", "python"])
def exact_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test twice: with the GMP module (``exactcells._exactc``: exact signs, the
    certificate's filter layers, facet links and joins) and with the pure-Python and numpy path
    (``kernel.GMP = None``). Modules opt in with ``pytestmark = pytest.mark.usefixtures("exact_path")``."""
    from exactcells import kernel

    gmp = kernel.gmp_module()
    if request.param == "gmp" and gmp is None:
        pytest.skip("the GMP module is not built")
    old = kernel.GMP
    kernel.GMP = gmp if request.param == "gmp" else None
    try:
        yield request.param
    finally:
        kernel.GMP = old
