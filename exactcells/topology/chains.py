"""Exact orientations, incidence numbers and boundary matrices of polyhedral complexes.

Every cell of a :class:`~exactcells.complex.PolyhedralComplex` is a convex polytope and its
faces in the complex are exactly its faces as a polytope, so the complex is a *regular* cell
complex. Its cellular chain complex over the integers has ``C_k`` free on the ``k``-cells and

``d [C] = sum over facets F of C of [C : F] [F]``,   ``[C : F] = +1 or -1``,

where the incidence numbers come from orientations of the cells. Two exact ways are offered:

:func:`incidence_signs` (the default, fast, vectorized)
    Orientation by propagation. In a polytope every face ``R`` of codimension 2 lies in exactly
    two facets ``F, F'`` (the *diamond property*), and ``d d = 0`` at ``R`` reads
    ``[C:F][F:R] + [C:F'][F':R] = 0``. Given the incidences of the ``(k-1)``-cells, this fixes
    ``[C:F']`` from ``[C:F]``, and since the facets of a polytope of dimension ``>= 2`` are
    connected through their ridges, every ``[C:.]`` is determined up to one global sign per
    cell (an orientation of ``C``). An edge runs from its lower-numbered vertex to the other
    (``-1``, ``+1``); every higher cell is oriented so that its lowest-numbered facet has
    ``[C:F] = +1``. The propagation runs
    as a connected-components computation on the "signed" facet graph of all cells of one
    dimension at once; an inconsistency (which a correct complex cannot have) raises
    :class:`~exactcells.errors.IncompleteComplexError`.

:func:`geometric_incidence_signs` (independent, exact rational geometry, for checks)
    Each ``k``-cell is oriented by the projection of its affine hull onto the lexicographically
    first ``k`` coordinates on which it is injective; ``[C:F]`` is the sign of the determinant
    of ``(w, B_F)`` in those coordinates, with ``w`` pointing from an interior point of ``C`` to
    one of ``F`` (outward) and ``B_F`` a positively oriented basis of ``F`` ("outward normal
    first"). No propagation is involved, so ``d d = 0`` is a genuine check of it.

Both are exact (signs of integers); they differ only by the choice of orientation of each cell,
i.e. by a diagonal matrix of signs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..complex import PolyhedralComplex
from ..errors import IncompleteComplexError
from ..numbers import clear_denominators
from ._arrays import expand_ranges
from .subcomplex import Pair, Subcomplex, as_pair

__all__ = [
    "ChainComplex",
    "incidence_signs",
    "geometric_incidence_signs",
    "chain_complex",
    "boundary_squared_is_zero",
]


# -- incidence numbers ----------------------------------------------------------------------

def incidence_signs(K: PolyhedralComplex) -> np.ndarray:
    """Incidence numbers ``[C:F]`` for every entry of ``K.facet_csr``, by propagation.

    Returns
    -------
    numpy.ndarray
        ``int8`` array aligned with ``K.facet_csr[1]``: entry ``e`` in the facet list of cell
        ``C`` holds ``[C : facet]``, either ``+1`` or ``-1``. An edge gets ``(-1, +1)`` on its
        vertices (in index order); the lowest-numbered facet of every cell of dimension
        ``>= 2`` gets ``+1``.

    Raises
    ------
    IncompleteComplexError
        If the face poset is not that of a regular complex of polytopes (an edge without exactly
        two vertices, a ridge not in exactly two facets of a cell, inconsistent signs).

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> K = build_complex(net, Domain.box(2, -1, 1))
    >>> s = incidence_signs(K)
    >>> sorted(set(s.tolist()))
    [-1, 1]
    """
    indptr, indices = K.facet_csr
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    E = int(indptr[-1])
    N = K.num_cells
    sign = np.zeros(E, dtype=np.int8)
    for k in range(1, K.input_dim + 1):
        cells = K.cells_of_dim(k)
        if len(cells) == 0:
            continue
        a, b = int(indptr[cells.start]), int(indptr[cells.stop])
        counts = np.diff(indptr[cells.start : cells.stop + 1])
        if k == 1:
            if np.any(counts != 2):
                bad = cells.start + int(np.flatnonzero(counts != 2)[0])
                raise IncompleteComplexError(f"edge {bad} does not have exactly two vertices")
            sign[a:b:2] = -1
            sign[a + 1 : b : 2] = 1
            continue
        if np.any(counts < k + 1):
            bad = cells.start + int(np.flatnonzero(counts < k + 1)[0])
            raise IncompleteComplexError(f"cell {bad} of dimension {k} has too few facets")
        ent = np.arange(a, b, dtype=np.int64)  # entries (C, F)
        owner = np.repeat(np.arange(cells.start, cells.stop, dtype=np.int64), counts)
        F = indices[a:b]
        src, inner = expand_ranges(indptr[F], indptr[F + 1])  # (C, F, R) triples
        e_of = ent[src]
        R = indices[inner]
        s = sign[inner].astype(np.int64)
        key = owner[src] * N + R
        order = np.argsort(key, kind="stable")
        key, e_of, s = key[order], e_of[order], s[order]
        T = len(key)
        if T % 2 or np.any(key[0::2] != key[1::2]) or np.any(key[1:-1:2] == key[2::2]):
            raise IncompleteComplexError(
                f"a ridge of a {k}-cell does not lie in exactly two of its facets "
                "(the face poset is not that of a polyhedral complex)"
            )
        e1, e2 = e_of[0::2] - a, e_of[1::2] - a
        same = (s[0::2] * s[1::2]) < 0  # then [C:F1] = [C:F2]
        n_e = b - a
        # node x = "sign(entry x) is +1", node x + n_e = "sign(entry x) is -1"
        r1 = np.concatenate([e1, e1 + n_e])
        r2 = np.concatenate([np.where(same, e2, e2 + n_e), np.where(same, e2 + n_e, e2)])
        G = sp.coo_matrix((np.ones(len(r1), dtype=np.int8), (r1, r2)), shape=(2 * n_e, 2 * n_e))
        _, comp = connected_components(G, directed=False)
        first = np.repeat(indptr[cells.start : cells.stop] - a, counts)  # first entry of the owner
        ref = comp[first]
        plus = comp[:n_e] == ref
        minus = comp[n_e:] == ref
        if np.any(plus == minus):
            raise IncompleteComplexError(
                f"inconsistent or disconnected facet incidences among the {k}-cells "
                "(the complex is not a regular cell complex)"
            )
        sign[a:b] = np.where(plus, 1, -1)
    return sign


def _integer_vector(p: Sequence[Fraction]) -> list[int]:
    """A positive multiple of a rational vector with integer entries."""
    return clear_denominators(p)[0]


def _det_sign(rows: list[list[int]]) -> int:
    from flint import fmpz_mat

    if not rows:
        return 1
    d = int(fmpz_mat(rows).det())
    return (d > 0) - (d < 0)


def _basis(points: list[tuple[Fraction, ...]]) -> list[list[int]]:
    """Integer basis (greedy, exact) of the direction space of the affine hull of ``points``."""
    from flint import fmpz_mat

    p0 = points[0]
    basis: list[list[int]] = []
    for p in points[1:]:
        v = _integer_vector([x - y for x, y in zip(p, p0)])
        if int(fmpz_mat(basis + [v]).rank()) == len(basis) + 1:
            basis.append(v)
    return basis


def _chart(basis: list[list[int]], n: int) -> tuple[int, ...]:
    """The lexicographically first coordinates on which the span of ``basis`` projects bijectively."""
    k = len(basis)
    for cols in combinations(range(n), k):
        if _det_sign([[v[c] for c in cols] for v in basis]) != 0:
            return cols
    raise IncompleteComplexError("a cell's basis is degenerate")  # pragma: no cover


def geometric_incidence_signs(K: PolyhedralComplex) -> np.ndarray:
    """Incidence numbers from exact geometric orientations (independent of the propagation).

    Slow (rational arithmetic cell by cell); meant for checks and small complexes. Returns an
    ``int8`` array aligned with ``K.facet_csr[1]`` like :func:`incidence_signs`.
    """
    n = K.input_dim
    indptr, indices = K.facet_csr
    pts = {v: K.vertex(v) for v in range(K.f_vector[0])}
    vsets = K.vertex_sets()

    def center(c: int) -> tuple[Fraction, ...]:
        vs = vsets[c]
        return tuple(sum((pts[v][i] for v in vs), Fraction(0)) / len(vs) for i in range(n))

    charts: dict[int, tuple[int, ...]] = {}
    oriented: dict[int, list[list[int]]] = {}  # a positively oriented basis of each cell

    def info(c: int) -> tuple[tuple[int, ...], list[list[int]]]:
        if c not in charts:
            B = _basis([pts[v] for v in sorted(vsets[c])])
            ch = _chart(B, n)
            if B and _det_sign([[v[j] for j in ch] for v in B]) < 0:
                B = [[-x for x in B[0]]] + B[1:]
            charts[c], oriented[c] = ch, B
        return charts[c], oriented[c]

    out = np.zeros(int(indptr[-1]), dtype=np.int8)
    for c in range(K.f_vector[0], K.num_cells):
        ch, _ = info(c)
        pc = center(c)
        for e in range(int(indptr[c]), int(indptr[c + 1])):
            f = int(indices[e])
            _, Bf = info(f)
            w = _integer_vector([x - y for x, y in zip(center(f), pc)])
            out[e] = _det_sign([[v[j] for j in ch] for v in [w] + Bf])
    return out


# -- chain complexes ------------------------------------------------------------------------

def restricted_facets(
    K: PolyhedralComplex, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The facet relation restricted to the cells ``keep`` (a boolean mask over ``K``).

    Returns ``(cells, indptr, rows, entries)``: the kept cells in ascending order, and for the
    ``j``-th kept cell the local indices ``rows[indptr[j]:indptr[j+1]]`` (ascending) of its kept
    facets, with ``entries`` the positions of those facets in ``K.facet_csr[1]``. Facets outside
    ``keep`` are dropped (that is the boundary of the quotient ``C(K) / C(L)``).
    """
    kindptr, kindices = K.facet_csr
    kindptr = np.asarray(kindptr, dtype=np.int64)
    kindices = np.asarray(kindices, dtype=np.int64)
    cells = np.flatnonzero(keep).astype(np.int64)
    local = np.full(K.num_cells, -1, dtype=np.int64)
    local[cells] = np.arange(len(cells), dtype=np.int64)
    owner, ent = expand_ranges(kindptr[cells], kindptr[cells + 1])
    rows = local[kindices[ent]]
    ok = rows >= 0
    owner, ent, rows = owner[ok], ent[ok], rows[ok]
    indptr = np.zeros(len(cells) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(cells)), out=indptr[1:])
    return cells, indptr, rows, ent


@dataclass(frozen=True, slots=True, eq=False)
class ChainComplex:
    """The cellular chain complex over Z of a pair ``(K, L)`` of closed subcomplexes.

    Its basis is the cells of ``K`` not in ``L`` (``L`` may be empty), in canonical order (by
    dimension); the boundary drops the faces that lie in ``L``.

    Attributes
    ----------
    cells
        Global indices (in the polyhedral complex) of the basis cells, ascending.
    dims
        Their dimensions.
    indptr, rows, coeffs
        The boundary in compressed-column form over local indices: column ``j`` has entries
        ``coeffs[indptr[j]:indptr[j+1]]`` (each ``+1`` or ``-1``) in the rows
        ``rows[indptr[j]:indptr[j+1]]`` (ascending).
    top_dim
        Dimension of the ambient complex (Betti vectors have ``top_dim + 1`` entries).
    description
        What the chain complex is of, e.g. ``"decision boundary (output 0)"``.
    """

    cells: np.ndarray
    dims: np.ndarray
    indptr: np.ndarray
    rows: np.ndarray
    coeffs: np.ndarray
    top_dim: int
    description: str

    @property
    def num_cells(self) -> int:
        return int(self.cells.shape[0])

    @property
    def f_vector(self) -> tuple[int, ...]:
        """Rank of each chain group ``C_k``, ``k = 0 .. top_dim``."""
        c = np.bincount(self.dims.astype(np.int64), minlength=self.top_dim + 1)
        return tuple(int(x) for x in c[: self.top_dim + 1])

    @property
    def euler_characteristic(self) -> int:
        return sum((-1) ** k * f for k, f in enumerate(self.f_vector))

    def _offsets(self) -> np.ndarray:
        return np.searchsorted(self.dims, np.arange(self.top_dim + 2)).astype(np.int64)

    def boundary_matrix(self, k: int) -> sp.csc_matrix:
        """``d_k : C_k -> C_{k-1}`` as an integer ``scipy.sparse`` matrix (rows: the
        ``(k-1)``-cells, columns: the ``k``-cells, both in local order within their dimension)."""
        off = self._offsets()
        f = [int(off[j + 1] - off[j]) for j in range(self.top_dim + 1)]
        if k <= 0 or k > self.top_dim:
            if k == 0:
                return sp.csc_matrix((0, f[0]), dtype=np.int64)
            if k == self.top_dim + 1:
                return sp.csc_matrix((f[-1], 0), dtype=np.int64)
            return sp.csc_matrix((0, 0), dtype=np.int64)
        a, b = int(off[k]), int(off[k + 1])
        ptr = self.indptr[a : b + 1] - self.indptr[a]
        sl = slice(int(self.indptr[a]), int(self.indptr[b]))
        return sp.csc_matrix(
            (self.coeffs[sl].astype(np.int64), self.rows[sl] - off[k - 1], ptr),
            shape=(int(off[k] - off[k - 1]), b - a),
        )

    def z2_columns(self) -> list[tuple[int, list[int]]]:
        """The boundary over Z/2 as PHAT columns ``(dim, sorted rows)``, in canonical order."""
        rows = self.rows.tolist()
        ptr = self.indptr.tolist()
        return [(int(d), rows[ptr[j] : ptr[j + 1]]) for j, d in enumerate(self.dims.tolist())]


def chain_complex(
    target: PolyhedralComplex | Subcomplex | Pair,
    *,
    incidences: np.ndarray | None = None,
) -> ChainComplex:
    """The integer chain complex of a complex, a closed subcomplex or a pair ``(K, L)``.

    Parameters
    ----------
    target
        The whole complex, a :class:`~exactcells.topology.subcomplex.Subcomplex`, or a
        :class:`~exactcells.topology.subcomplex.Pair` for relative chains.
    incidences
        Precomputed :func:`incidence_signs` of the complex (to share between calls).

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> C = chain_complex(build_complex(net, Domain.box(2, -1, 1)))
    >>> C.f_vector, boundary_squared_is_zero(C)
    ((6, 7, 2), True)
    """
    pair = as_pair(target)
    K = pair.complex
    sig = incidence_signs(K) if incidences is None else incidences
    keep = pair.K.mask & ~pair.L.mask
    cells, indptr, rows, ent = restricted_facets(K, keep)
    dims = np.asarray(K.dims)[cells]
    for a in (cells, dims, indptr, rows):
        a.setflags(write=False)
    coeffs = np.asarray(sig)[ent].astype(np.int8)
    coeffs.setflags(write=False)
    return ChainComplex(cells, dims, indptr, rows, coeffs, K.input_dim, pair.description)


def boundary_squared_is_zero(C: ChainComplex) -> bool:
    """Whether ``d_{k-1} d_k = 0`` for every ``k``, checked over the integers."""
    for k in range(2, C.top_dim + 1):
        P = C.boundary_matrix(k - 1) @ C.boundary_matrix(k)
        if P.count_nonzero():
            return False
    return True
