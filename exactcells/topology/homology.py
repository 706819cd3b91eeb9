"""Homology of a complex, a closed subcomplex or a pair, over Z/2, Q and Z.

* **Z/2** through PHAT: the boundary matrix in canonical order (by dimension) is a filtration;
  the columns that stay unpaired after the reduction are a basis of the homology, so
  ``beta_k`` is their number in dimension ``k``. No size limit beyond memory.
* **Q** and **Z** (with torsion) by an exact Smith normal form of each boundary matrix:
  first a sparse elimination of unit pivots (an entry ``+-1`` lets one row and one column be
  cleared by unimodular operations, which removes a ``1`` from the Smith form and changes
  nothing else), then :meth:`flint.fmpz_mat.snf` (or ``rank`` over Q) on the small dense
  remainder. Then ``beta_k = f_k - rank d_k - rank d_{k+1}`` and the torsion of ``H_k`` is
  the invariant factors ``> 1`` of ``d_{k+1}``. Limits: ``max_cells`` cells in the chain
  complex (default :data:`MAX_EXACT_CELLS`) and a dense remainder of at most ``max_dense``
  rows and columns (default :data:`MAX_DENSE`); beyond them
  :class:`~exactcells.errors.TopologySizeError` says so (use Z/2, which has no such limit).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from ..complex import PolyhedralComplex
from ..errors import InvalidArgumentError, TopologySizeError
from .chains import chain_complex, restricted_facets
from .phat_adapter import Algorithm, reduce_pairs
from .subcomplex import Pair, Subcomplex, as_pair

__all__ = [
    "HomologyResult",
    "homology",
    "smith_invariants",
    "COEFFICIENTS",
    "MAX_EXACT_CELLS",
    "MAX_DENSE",
]

Coefficients = Literal["z2", "q", "z"]
COEFFICIENTS: tuple[str, ...] = ("z2", "q", "z")
MAX_EXACT_CELLS = 300_000
MAX_DENSE = 1_500


@dataclass(frozen=True, slots=True)
class HomologyResult:
    """Betti numbers (and torsion over Z) of a chain complex.

    Attributes
    ----------
    coefficients
        ``"z2"``, ``"q"`` or ``"z"``.
    betti
        ``beta_0, ..., beta_n`` (index = dimension; ``n`` is the dimension of the complex). Over
        Z this is the rank of the free part.
    torsion
        Per dimension, the torsion coefficients of ``H_k`` over Z (invariant factors ``> 1``);
        all empty over Z/2 and Q.
    f_vector
        Rank of each chain group (cells of ``K`` not in ``L``, by dimension).
    description
        What was computed, e.g. ``"(decision boundary F0 = 0, ... and domain boundary)"``.
    relative
        Whether this is the homology of a pair ``(K, L)`` with ``L`` non-empty.
    """

    coefficients: str
    betti: tuple[int, ...]
    torsion: tuple[tuple[int, ...], ...]
    f_vector: tuple[int, ...]
    description: str
    relative: bool

    @property
    def euler_characteristic(self) -> int:
        """The alternating sum of the Betti numbers (equals that of ``f_vector``)."""
        return sum((-1) ** k * b for k, b in enumerate(self.betti))

    def to_dict(self) -> dict[str, Any]:
        return {
            "coefficients": self.coefficients,
            "betti": list(self.betti),
            "torsion": [list(t) for t in self.torsion],
            "f_vector": list(self.f_vector),
            "euler_characteristic": self.euler_characteristic,
            "subcomplex": self.description,
            "relative": self.relative,
        }


def homology(
    target: PolyhedralComplex | Subcomplex | Pair,
    coefficients: Coefficients = "z2",
    *,
    max_cells: int | None = MAX_EXACT_CELLS,
    max_dense: int = MAX_DENSE,
    incidences: np.ndarray | None = None,
    algorithm: Algorithm = "twist",
) -> HomologyResult:
    """Betti numbers (and torsion over Z) of a complex, a closed subcomplex or a pair.

    Parameters
    ----------
    target
        A :class:`~exactcells.complex.PolyhedralComplex`, a
        :class:`~exactcells.topology.subcomplex.Subcomplex` or a
        :class:`~exactcells.topology.subcomplex.Pair` (relative homology).
    coefficients
        ``"z2"`` (PHAT), ``"q"`` or ``"z"`` (exact Smith normal form).
    max_cells
        Size limit for Q and Z (cells of the chain complex); ``None`` for none.
    max_dense
        Largest side of the dense block left after the sparse unit-pivot elimination.
    incidences
        Precomputed :func:`~exactcells.topology.chains.incidence_signs` (Q and Z only).
    algorithm
        PHAT reduction for Z/2: ``"twist"`` or ``"twist-dual"``.

    Raises
    ------
    TopologySizeError
        Over Q or Z beyond ``max_cells`` or ``max_dense``.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> from exactcells.topology.subcomplex import domain_boundary
    >>> net = network_from_dict({"layers": [{"W": [[1, 1]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> K = build_complex(net, Domain.box(2, -1, 1))
    >>> homology(K).betti, homology(domain_boundary(K), "z").betti
    ((1, 0, 0), (1, 1, 0))
    """
    if coefficients not in COEFFICIENTS:
        raise InvalidArgumentError(f"coefficients must be one of {COEFFICIENTS}, not {coefficients!r}")
    p = as_pair(target)
    K = p.complex
    n = K.input_dim
    keep = p.K.mask & ~p.L.mask
    if coefficients == "z2":
        cells, indptr, rows, _ = restricted_facets(K, keep)
        dims = np.asarray(K.dims, dtype=np.int64)[cells]
        pairs = reduce_pairs(dims, indptr, rows, algorithm=algorithm)
        alive = np.ones(len(cells), dtype=bool)
        alive[pairs.ravel()] = False
        b2 = np.bincount(dims[alive], minlength=n + 1)[: n + 1]
        f = np.bincount(dims, minlength=n + 1)[: n + 1]
        return HomologyResult("z2", tuple(int(b) for b in b2), ((),) * (n + 1),
                              tuple(int(x) for x in f), p.description, p.relative)
    size = int(np.count_nonzero(keep))
    if max_cells is not None and size > max_cells:
        raise TopologySizeError(
            f"homology over {coefficients.upper()} is limited to {max_cells} cells; this chain "
            f"complex has {size} (use coefficients 'z2', or raise max_cells)"
        )
    C = chain_complex(p, incidences=incidences)
    fv = C.f_vector
    ranks = [0] * (n + 2)
    tors: list[tuple[int, ...]] = [()] * (n + 1)
    for k in range(1, n + 1):
        r, inv = smith_invariants(C.boundary_matrix(k), torsion=coefficients == "z", max_dense=max_dense)
        ranks[k] = r
        tors[k - 1] = inv
    betti = tuple(fv[k] - ranks[k] - ranks[k + 1] for k in range(n + 1))
    return HomologyResult(coefficients, betti, tuple(tors), fv, p.description, p.relative)


def smith_invariants(
    M: sp.spmatrix | np.ndarray, *, torsion: bool = True, max_dense: int = MAX_DENSE
) -> tuple[int, tuple[int, ...]]:
    """Rank and the invariant factors ``> 1`` of an integer matrix, exactly.

    Parameters
    ----------
    M
        An integer matrix (``scipy.sparse`` or dense).
    torsion
        Whether to compute the invariant factors (Smith form); otherwise only the rank over Q.
    max_dense
        Largest side of the dense remainder after eliminating unit pivots.

    Returns
    -------
    (rank, factors)
        ``factors`` are the diagonal entries ``> 1`` of the Smith normal form, ascending (each
        divides the next); empty when ``torsion`` is false.

    Examples
    --------
    >>> smith_invariants(np.array([[2, 0], [0, 3]]))
    (2, (6,))
    >>> smith_invariants(np.array([[1, 1], [1, -1]]))
    (2, (2,))
    """
    A = sp.csc_matrix(M)
    A.eliminate_zeros()
    ncols = A.shape[1]
    cols: list[dict[int, int]] = []
    rows: dict[int, set[int]] = {}
    for j in range(ncols):
        a, b = A.indptr[j], A.indptr[j + 1]
        col = {int(r): int(v) for r, v in zip(A.indices[a:b], A.data[a:b])}
        cols.append(col)
        for r in col:
            rows.setdefault(r, set()).add(j)
    rank = 0
    heap = [(len(c), j) for j, c in enumerate(cols) if c]
    heapq.heapify(heap)
    dead = [False] * ncols
    while heap:
        ln, c = heapq.heappop(heap)
        col = cols[c]
        if dead[c] or ln != len(col) or not col:
            continue
        units = [r for r, v in col.items() if v == 1 or v == -1]
        if not units:
            continue  # pushed again if a later elimination changes it
        r = min(units, key=lambda x: len(rows[x]))
        a = col[r]
        for c2 in list(rows[r]):
            if c2 == c:
                continue
            col2 = cols[c2]
            f = col2[r] * a  # a is its own inverse
            for rr, v in col.items():
                w = col2.get(rr, 0) - f * v
                if w:
                    if rr not in col2:
                        rows[rr].add(c2)
                    col2[rr] = w
                elif rr in col2:
                    del col2[rr]
                    rows[rr].discard(c2)
            heapq.heappush(heap, (len(col2), c2))
        for rr in col:
            rows[rr].discard(c)
        dead[c] = True
        cols[c] = {}
        rank += 1
    rest = [j for j in range(ncols) if not dead[j] and cols[j]]
    if not rest:
        return rank, ()
    rrows = sorted({r for j in rest for r in cols[j]})
    if len(rest) > max_dense or len(rrows) > max_dense:
        raise TopologySizeError(
            f"after sparse elimination a dense {len(rrows)} x {len(rest)} block remains; the "
            f"exact Smith form is limited to {max_dense} x {max_dense} (use coefficients 'z2')"
        )
    from flint import fmpz_mat

    pos = {r: i for i, r in enumerate(rrows)}
    D = [[0] * len(rest) for _ in rrows]
    for jj, j in enumerate(rest):
        for r, v in cols[j].items():
            D[pos[r]][jj] = v
    F = fmpz_mat(D)
    if not torsion:
        return rank + int(F.rank()), ()
    S = F.snf()
    diag = [abs(int(S[i, i])) for i in range(min(S.nrows(), S.ncols()))]
    nz = [d for d in diag if d]
    return rank + len(nz), tuple(sorted(d for d in nz if d > 1))
