"""Point location: the region each point lies in, decided by exact sign vectors."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import IncompleteComplexError, InvalidDomainError
from ..measure import homogeneous
from ..numbers import to_rational
from .nodes import _is_argmax

__all__ = ["PointLocation", "locate_points"]


# -- exact forward passes and point location ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class PointLocation:
    """Where points lie in a complex, decided exactly.

    Attributes
    ----------
    nodes
        ``(N,)`` int64: the region (node index) each point is assigned to, -1 outside the
        domain. A point in the interior of a region gets that region; a point on a
        lower-dimensional cell gets, among the regions whose closure contains it, the one
        with the lexicographically smallest sign vector (the smallest cell index).
    cells
        ``(N,)`` int64: the cell whose relative interior contains the point (-1 outside).
    on_boundary
        ``(N,)`` bool: the point lies on a cell of dimension below ``n``.
    """

    nodes: np.ndarray
    cells: np.ndarray
    on_boundary: np.ndarray

    @property
    def num_outside(self) -> int:
        return int(np.count_nonzero(self.nodes < 0))

    def counts(self, num_nodes: int) -> np.ndarray:
        """How many points each node got (points outside the domain are not counted)."""
        inside = self.nodes[self.nodes >= 0]
        return np.bincount(inside, minlength=num_nodes).astype(np.int64)


def _as_rational_points(points: Any, n: int) -> list[tuple[Fraction, ...]]:
    if isinstance(points, np.ndarray):
        if points.ndim != 2 or points.shape[1] != n:
            raise InvalidDomainError(f"points must have shape (N, {n}), got {points.shape}")
        if points.dtype.kind == "f":
            if not np.all(np.isfinite(points)):
                raise InvalidDomainError("points contain NaN or infinity")
            return [tuple(Fraction(x) for x in row) for row in points.tolist()]
        if points.dtype.kind in "iu":
            return [tuple(Fraction(x) for x in row) for row in points.tolist()]
    out = []
    for i, p in enumerate(points):
        if len(p) != n:
            raise InvalidDomainError(f"point {i} has {len(p)} coordinates, not {n}")
        out.append(tuple(to_rational(x, f"point {i}, coordinate {k}") for k, x in enumerate(p)))
    return out


def locate_points(K: PolyhedralComplex, points: Any) -> PointLocation:
    """Locate points in the regions of ``K`` exactly.

    Parameters
    ----------
    K
        The complex.
    points
        ``(N, n)``: a float array (each float is taken as its exact binary value), an integer
        array, or a sequence of points whose coordinates are ints, Fractions, floats or exact
        strings (``"0.1"`` is 1/10).

    Returns
    -------
    PointLocation
        Exact sign vector of each point -> the cell containing it in its relative interior ->
        its region (boundary rule: the smallest cell index, i.e. the lexicographically
        smallest sign vector among the regions whose closure contains the point).

    Raises
    ------
    IncompleteComplexError
        When a point of the domain has a sign vector that is not a cell of ``K``.
    """
    n = K.input_dim
    pts = _as_rational_points(points, n)
    N = len(pts)
    dom = K.domain
    fsig = np.array([dom.facet_signs(p) for p in pts], dtype=np.int8).reshape(N, dom.num_facets)
    inside = np.all(fsig >= 0, axis=1)
    idx = np.nonzero(inside)[0]
    hom = [homogeneous(pts[i]) for i in idx.tolist()]
    hsig, outs = K.network.forward_homogeneous(hom)
    parts = [hsig, fsig[idx]]
    if K.with_output and _is_argmax(K):
        parts.append(np.array([[0 if v == max(o) else -1 for v in o] for o in outs], dtype=np.int8)
                     .reshape(len(hom), K.network.output_dim))
    elif K.with_output:
        parts.append(np.array([[(v > 0) - (v < 0) for v in o] for o in outs], dtype=np.int8)
                     .reshape(len(hom), K.network.output_dim))
    rows = np.concatenate(parts, axis=1).astype(np.int8)
    nodes = np.full(N, -1, dtype=np.int64)
    cells = np.full(N, -1, dtype=np.int64)
    onb = np.zeros(N, dtype=bool)
    regions = K.regions()
    cache: dict[int, int] = {}
    ptr, ind = K.cofacet_csr()
    for k, i in enumerate(idx.tolist()):
        try:
            c = K.index_of(rows[k])
        except KeyError:
            raise IncompleteComplexError(
                f"point {i} has sign vector {tuple(int(s) for s in rows[k])}, which is no cell of "
                "the complex (the complex is incomplete or of another network)") from None
        cells[i] = c
        if c in regions:
            nodes[i] = c - regions.start
            continue
        onb[i] = True
        if c not in cache:
            frontier = {c}
            while frontier and min(frontier) < regions.start:
                frontier = {int(x) for f in frontier for x in ind[ptr[f] : ptr[f + 1]]}
            cache[c] = min(frontier) - regions.start
        nodes[i] = cache[c]
    for a in (nodes, cells, onb):
        a.setflags(write=False)
    return PointLocation(nodes, cells, onb)
