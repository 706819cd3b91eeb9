"""Exact ``(n-1)``-dimensional volumes of cells (the weights of the dual graph's edges), as
``coefficient * sqrt(radicand)``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..complex import PolyhedralComplex
from ..errors import InvalidArgumentError
from ..measure import pulling_triangulation, simplex_volume
from ..numbers import clear_denominators

__all__ = ["FacetVolume", "facet_volume", "facet_volumes"]


# -- exact facet volumes -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FacetVolume:
    """The exact ``(n-1)``-dimensional volume ``coefficient * sqrt(radicand)`` of a cell.

    The radicand is the squared norm of a primitive integer normal of the cell, with perfect
    squares and square factors below 100 pulled into the coefficient, so the form is not
    canonical (``1*sqrt(20402)`` is ``101*sqrt(2)``): equality and hashing are those of the
    exact value, i.e. of its sign and exact square :attr:`squared`.
    """

    coefficient: Fraction
    radicand: int

    def _key(self) -> tuple[int, Fraction]:
        c = self.coefficient
        sign = 0 if c == 0 or self.radicand == 0 else (1 if c > 0 else -1)
        return sign, self.squared

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FacetVolume):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def squared(self) -> Fraction:
        """The exact square of the volume."""
        return self.coefficient * self.coefficient * self.radicand

    @property
    def value(self) -> float:
        """A float view of the volume."""
        return float(self.coefficient) * math.sqrt(self.radicand)


_SMALL_PRIMES = tuple(p for p in range(2, 100) if all(p % q for q in range(2, p)))


def _reduce_radical(coef: Fraction, rad: int) -> FacetVolume:
    s = math.isqrt(rad)
    if s * s == rad:
        return FacetVolume(coef * s, 1)
    for p in _SMALL_PRIMES:
        while rad % (p * p) == 0:
            rad //= p * p
            coef *= p
    return FacetVolume(coef, rad)


def _segment_volume(p: Sequence[int], q: Sequence[int]) -> FacetVolume:
    """Length of the segment between homogeneous points ``(D x, D)`` (any dimension)."""
    dp, dq = p[-1], q[-1]
    ints = [b * dp - a * dq for a, b in zip(p[:-1], q[:-1])]
    g = math.gcd(*ints)
    return _reduce_radical(Fraction(g, dp * dq), sum((x // g) ** 2 for x in ints))


def _primitive(v: Sequence[Fraction]) -> list[int]:
    ints, _ = clear_denominators(v)
    g = math.gcd(*ints) or 1
    return [x // g for x in ints]


def _det_fraction(rows: Sequence[Sequence[Fraction]]) -> Fraction:
    """Determinant of a square matrix of Fractions: FLINT's integer determinant of the rows with
    their denominators cleared, divided by those denominators."""
    from flint import fmpz_mat

    if not rows:
        return Fraction(1)
    cleared = [clear_denominators(r) for r in rows]
    den = math.prod(d for _, d in cleared)
    return Fraction(int(fmpz_mat([ints for ints, _ in cleared]).det()), den)


def facet_volume(K: PolyhedralComplex, cell: int) -> FacetVolume:
    """The exact ``(n-1)``-dimensional volume of an ``(n-1)``-cell of ``K``.

    The cell is triangulated (pulling), projected onto the coordinate hyperplane ``x_k = 0``
    where ``k`` is the first non-zero component of its primitive integer normal ``nu``, and the
    projected volume ``P`` is lifted back: ``vol = P * |nu| / |nu_k|``.
    """
    n = K.input_dim
    if K.dim(cell) != n - 1:
        raise InvalidArgumentError(f"cell {cell} has dimension {K.dim(cell)}, not n - 1 = {n - 1}")
    if n == 1:
        return FacetVolume(Fraction(1), 1)
    if n == 2:
        p, q = K.facets(cell)
        return _segment_volume(K.vertex_homogeneous(p), K.vertex_homogeneous(q))
    vsets = K.vertex_sets()
    simplices = pulling_triangulation(cell, K.facets, vsets.__getitem__, K.dim)
    hom = {v: K.vertex_homogeneous(v) for s in simplices for v in s}
    pts = [K.vertex(v) for v in simplices[0]]
    diffs = [[b - a for a, b in zip(pts[0], p)] for p in pts[1:]]
    nu: list[Fraction] = []
    for j in range(n):
        minor = [[row[c] for c in range(n) if c != j] for row in diffs]
        nu.append((-1) ** j * _det_fraction(minor))
    nu_i = _primitive(nu)
    k = next(i for i, x in enumerate(nu_i) if x != 0)
    proj = Fraction(0)
    for s in simplices:
        proj += simplex_volume([hom[v][:k] + hom[v][k + 1 :] for v in s])
    return _reduce_radical(proj / abs(nu_i[k]), sum(x * x for x in nu_i))


def facet_volumes(K: PolyhedralComplex, cells: Iterable[int]) -> tuple[FacetVolume, ...]:
    """Exact volumes of ``(n-1)``-cells, e.g. ``facet_volumes(K, dual_graph(K).edge_cells)``."""
    if K.input_dim == 2:
        ptr, ind = K.facet_csr
        ptr_l, ind_l = ptr.tolist(), ind.tolist()
        one = K.cells_of_dim(1)
        out = []
        for c in cells:
            c = int(c)
            if c not in one:
                raise InvalidArgumentError(f"cell {c} has dimension {K.dim(c)}, not n - 1 = 1")
            a = ptr_l[c]
            out.append(_segment_volume(K.vertex_homogeneous(ind_l[a]), K.vertex_homogeneous(ind_l[a + 1])))
        return tuple(out)
    return tuple(facet_volume(K, int(c)) for c in cells)
