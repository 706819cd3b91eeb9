"""Exact volumes of polytopes from their face lattices (pulling triangulations).

A bounded polytope of dimension ``k`` is triangulated by pulling its smallest vertex ``v``:
the simplices are ``v`` joined with the simplices of every facet that does not contain ``v``.
Volumes are exact rationals computed from integer determinants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

from .numbers import clear_denominators

__all__ = [
    "pulling_triangulation",
    "simplex_volume",
    "simplices_volume",
    "polytope_volume",
    "homogeneous",
]


def homogeneous(point: Sequence[Fraction]) -> tuple[int, ...]:
    """The primitive integer vector ``(D x_1, ..., D x_n, D)`` of a rational point."""
    ints, den = clear_denominators(point)
    return (*ints, den)


def pulling_triangulation(
    cell: int,
    facets_of: Callable[[int], Sequence[int]],
    vertices_of: Callable[[int], frozenset[int] | set[int]],
    dim_of: Callable[[int], int],
) -> list[tuple[int, ...]]:
    """Simplices (tuples of vertex ids) of a pulling triangulation of ``cell``.

    ``facets_of`` gives the facets of a face, ``vertices_of`` its vertex ids and ``dim_of`` its
    dimension; vertices are the faces of dimension 0 and are their own single vertex.
    """
    memo: dict[tuple[int, int], list[tuple[int, ...]]] = {}

    def tri(c: int) -> list[tuple[int, ...]]:
        if dim_of(c) == 0:
            return [(c,)]
        vs = vertices_of(c)
        apex = min(vs)
        key = (c, apex)
        if key in memo:
            return memo[key]
        out: list[tuple[int, ...]] = []
        for f in facets_of(c):
            if apex in vertices_of(f):
                continue
            out.extend(s + (apex,) for s in tri(f))
        memo[key] = out
        return out

    return tri(cell)


def simplex_volume(rows: Sequence[Sequence[int]]) -> Fraction:
    """Volume of the full-dimensional simplex with homogeneous integer vertices ``(D x, D)``."""
    from flint import fmpz_mat

    n = len(rows) - 1
    det = int(fmpz_mat([list(r) for r in rows]).det())
    den = math.factorial(n)
    for r in rows:
        den *= r[-1]
    return Fraction(abs(det), den)


def simplices_volume(simplices: Sequence[Sequence[int]], hom: Callable[[int], Sequence[int]]) -> Fraction:
    """Exact total volume of full-dimensional simplices, ``hom(v)`` giving vertex ``v`` as a
    homogeneous integer vector ``(D x, D)``.

    In the plane all vertices are brought to their common denominator ``L`` and the doubled
    areas summed as one integer; in higher dimensions (where ``L^n`` grows too fast) each
    simplex's volume is ``|det [h_i]| / (n! prod D_i)``.
    """
    if not simplices:
        return Fraction(0)
    n = len(simplices[0]) - 1
    if n != 2:
        return sum((simplex_volume([hom(v) for v in s]) for s in simplices), Fraction(0))
    H = {v: hom(v) for s in simplices for v in s}
    L = math.lcm(*(h[-1] for h in H.values()))
    X = {v: (h[0] * (L // h[2]), h[1] * (L // h[2])) for v, h in H.items()}
    total = 0
    for s in simplices:
        (ax, ay), (bx, by), (cx, cy) = X[s[0]], X[s[1]], X[s[2]]
        total += abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))
    return Fraction(total, 2 * L * L)


def polytope_volume(
    vertices: Sequence[Sequence[Fraction]], faces: Sequence[tuple[frozenset[int], int]]
) -> Fraction:
    """Exact volume of a full-dimensional polytope from its vertices and all its faces.

    ``faces`` lists every non-empty face as ``(vertex index set, dimension)``, the polytope
    itself included; the cover relations are derived from inclusion.
    """
    n = len(vertices[0])
    ids = {vs: i for i, (vs, _) in enumerate(faces)}
    dims = [d for _, d in faces]
    sets = [vs for vs, _ in faces]
    by_dim: dict[int, list[int]] = {}
    for i, d in enumerate(dims):
        by_dim.setdefault(d, []).append(i)
    facets: dict[int, list[int]] = {}
    for i, d in enumerate(dims):
        facets[i] = [j for j in by_dim.get(d - 1, []) if sets[j] < sets[i]] if d > 0 else []
    vid = {}
    for i, d in enumerate(dims):
        if d == 0:
            (v,) = tuple(sets[i])
            vid[i] = v
    top = ids[frozenset(range(len(vertices)))]
    simplices = pulling_triangulation(
        top,
        lambda c: facets[c],
        lambda c: frozenset(j for j in ids.values() if dims[j] == 0 and sets[j] <= sets[c]),
        lambda c: dims[c],
    )
    hom = [homogeneous(v) for v in vertices]
    total = Fraction(0)
    for s in simplices:
        total += simplex_volume([hom[vid[c]] for c in s])
    assert len(hom[0]) == n + 1
    return total
