"""The only module that talks to cddlib (``cdd.gmp``, exact GMP rationals; imported when first used).

Functions take and return exact rationals (:class:`~fractions.Fraction` or int); passing a float
raises :class:`~exactcells.errors.NonRationalInputError` instead of cdd's accidental error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import TypeVar

from .errors import ExactCellsError, NonRationalInputError
from .numbers import clear_denominators

__all__ = [
    "vertices_of",
    "implicit_equalities",
    "affine_rank",
    "exact_rank",
    "integer_rows",
    "faces_from_incidences",
]

# An inequality system ``A x <= c`` given as rows (A_i, c_i).
HRep = tuple[Sequence[Sequence[Fraction]], Sequence[Fraction]]


def _check_exact(values: Sequence[object], what: str) -> None:
    for v in values:
        if not isinstance(v, (int, Fraction)) or isinstance(v, bool):
            raise NonRationalInputError(
                f"{what}: {v!r} is not exact; convert with exactcells.numbers.to_rational first"
            )


def _cdd_rows(A: Sequence[Sequence[Fraction]], c: Sequence[Fraction]) -> list[list[Fraction]]:
    rows = []
    for i, (a, ci) in enumerate(zip(A, c)):
        _check_exact(list(a) + [ci], f"row {i}")
        # cdd: row [b, -a] means b - a.x >= 0, i.e. a.x <= b
        rows.append([Fraction(ci)] + [-Fraction(v) for v in a])
    return rows


def vertices_of(
    A: Sequence[Sequence[Fraction]], c: Sequence[Fraction]
) -> tuple[list[tuple[Fraction, ...]], list[frozenset[int]], int]:
    """Vertices of ``{x : A x <= c}`` and, for each row, the set of vertices on it.

    Returns
    -------
    vertices, row_incidence, num_rays
        ``num_rays`` counts rays and lines of the recession cone (0 for a polytope); the
        vertex list is empty for an empty set.
    """
    import cdd
    import cdd.gmp

    try:
        m = cdd.gmp.matrix_from_array(_cdd_rows(A, c), rep_type=cdd.RepType.INEQUALITY)
        P = cdd.gmp.polyhedron_from_matrix(m)
        gens = cdd.gmp.copy_generators(P)
        inc = cdd.gmp.copy_input_incidence(P)
    except (RuntimeError, ValueError) as e:  # pragma: no cover - cdd internal failure
        raise ExactCellsError(f"cddlib failed: {e}") from e
    verts: list[tuple[Fraction, ...]] = []
    index: dict[int, int] = {}
    rays = len(gens.lin_set)
    for g, row in enumerate(gens.array):
        if row[0] == 0:
            rays += 1
            continue
        index[g] = len(verts)
        verts.append(tuple(Fraction(v) / Fraction(row[0]) for v in row[1:]))
    row_inc = [frozenset(index[g] for g in inc[i] if g in index) for i in range(len(A))]
    return verts, row_inc, rays


def implicit_equalities(A: Sequence[Sequence[Fraction]], c: Sequence[Fraction]) -> set[int]:
    """Rows of ``A x <= c`` that hold with equality on the whole (non-empty) set."""
    import cdd
    import cdd.gmp

    m = cdd.gmp.matrix_from_array(_cdd_rows(A, c), rep_type=cdd.RepType.INEQUALITY)
    return set(cdd.gmp.implicit_linearity_rows(m))


def exact_rank(rows: Sequence[Sequence[Fraction | int]]) -> int:
    """Rank of a rational matrix by exact fraction-free elimination (small matrices in Python
    integers, larger ones in python-flint)."""
    if not rows or not rows[0]:
        return 0
    ints = integer_rows(rows)
    if len(ints) * len(ints[0]) <= _SMALL_RANK:
        return _int_rank(ints)
    from flint import fmpz_mat

    return int(fmpz_mat(ints).rank())


#: Matrices up to this many entries get their rank from :func:`_int_rank` (a domain's faces:
#: no python-flint import for a build).
_SMALL_RANK = 1024


def _int_rank(rows: Sequence[Sequence[int]]) -> int:
    """Rank of an integer matrix by fraction-free elimination in Python integers: each row below
    the pivot row ``p`` (pivot column ``c``) becomes ``p[c] r - r[c] p`` (an invertible
    combination with the pivot row: the row space is unchanged and ``r[c]`` becomes 0), divided
    by the gcd of its entries; the rank is the number of pivots."""
    M = [list(r) for r in rows]
    rank = 0
    for c in range(len(M[0]) if M else 0):
        piv = next((i for i in range(rank, len(M)) if M[i][c] != 0), None)
        if piv is None:
            continue
        M[rank], M[piv] = M[piv], M[rank]
        p = M[rank]
        for i in range(rank + 1, len(M)):
            a = M[i][c]
            if a:
                r = [p[c] * x - a * y for x, y in zip(M[i], p)]
                g = math.gcd(*r)
                M[i] = [x // g for x in r] if g > 1 else r
        rank += 1
    return rank


def integer_rows(rows: Sequence[Sequence[Fraction | int]]) -> list[list[int]]:
    """Each row multiplied by the lcm of its denominators (same row space, integer entries)."""
    return [clear_denominators(r)[0] for r in rows]


def affine_rank(points: Sequence[Sequence[Fraction | int]]) -> int:
    """Dimension of the affine hull of ``points`` (-1 for no points), exactly."""
    if not points:
        return -1
    p0 = points[0]
    diffs = [[Fraction(a) - Fraction(b) for a, b in zip(p, p0)] for p in points[1:]]
    return exact_rank(diffs) if diffs else 0


_S = TypeVar("_S", int, frozenset[int])  # a vertex set: a bit mask or a frozenset


def faces_from_incidences(whole: _S, facets: Iterable[_S]) -> list[_S]:
    """The non-empty faces of a polytope as vertex sets, from its facets' vertex sets.

    Every face is an intersection of facets, so the faces are ``whole`` and the non-empty sets
    reached from it by intersecting with facets, breadth first (the returned order). Vertex sets
    are anything with ``&``: bit masks (``int``) or ``frozenset``.

    >>> sorted(faces_from_incidences(0b111, [0b011, 0b110, 0b101]))  # a triangle
    [1, 2, 3, 4, 5, 6, 7]
    """
    facet_sets = list(dict.fromkeys(facets))
    found: dict[_S, None] = {whole: None}
    frontier = [whole]
    while frontier:
        nxt = []
        for f in frontier:
            for g in facet_sets:
                h = f & g
                if h and h not in found:
                    found[h] = None
                    nxt.append(h)
        frontier = nxt
    return list(found)
