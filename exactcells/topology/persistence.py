"""Persistent homology over Z/2 of filtrations of the complex (PHAT), and Betti curves.

A filtration (:mod:`exactcells.topology.filtrations`) orders the cells; the boundary matrix in
that order is reduced by PHAT (:mod:`exactcells.topology.phat_adapter`). A pair ``(b, d)``
of positions means a class of dimension ``dim(b)`` born when the ``b``-th cell enters and dying
when the ``d``-th enters; an unpaired position is an essential class (death ``inf``). Exact
birth and death values are the filtration values of those cells (positions for index-based
filtrations). The float diagrams follow the ripser/persim convention: per dimension an array
of shape ``(m, 2)`` of ``(birth, death)`` with ``inf`` for essential classes, pairs of zero
persistence left out unless asked for.

Betti curves: ``beta_k`` after the first ``i`` cells, ``i = 0 .. N`` (by index), or after every
cell of value ``<= t`` for each distinct value ``t`` (by value). The dimension-random
filtration has an identity that :func:`f_vector_from_betti_maxima` states: during the ``k``-th
phase only ``beta_k`` grows, so its maximum ``M_k`` is the dimension of the ``k``-cycles, and
``f_k = M_k + M_{k-1} - beta_{k-1}`` with the final Betti numbers ``beta``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import InvalidArgumentError, InvalidFiltrationError
from ..numbers import float_view, format_rational
from ..progress import Progress
from ._arrays import expand_ranges
from .chains import restricted_facets
from .filtrations import DETERMINISTIC_KINDS, Filtration, make_filtration
from .phat_adapter import Algorithm, reduce_pairs
from .subcomplex import Subcomplex

__all__ = [
    "PersistenceResult",
    "BettiCurves",
    "persistence",
    "betti_curve",
    "betti_curves",
    "f_vector_from_betti_maxima",
]

Value = Fraction | int


@dataclass(frozen=True, slots=True, eq=False)
class PersistenceResult:
    """Persistence pairs of one filtration.

    Attributes
    ----------
    filtration
        The filtration (order and exact values).
    pairs
        ``int64`` array ``(p, 2)`` of ``(birth, death)`` positions in the filtration.
    pair_dims
        Dimension of each pair's class (that of the birth cell).
    essential
        Positions of the essential (never dying) classes.
    essential_dims
        Their dimensions.
    top_dim
        Dimension of the ambient complex (Betti vectors have ``top_dim + 1`` entries).
    algorithm
        The PHAT reduction used.
    """

    filtration: Filtration
    pairs: np.ndarray
    pair_dims: np.ndarray
    essential: np.ndarray
    essential_dims: np.ndarray
    top_dim: int
    algorithm: str

    @property
    def final_betti(self) -> tuple[int, ...]:
        """Betti numbers (Z/2) of the whole filtered complex: essential classes per dimension."""
        c = np.bincount(self.essential_dims, minlength=self.top_dim + 1)
        return tuple(int(x) for x in c[: self.top_dim + 1])

    def exact_pairs(self, k: int) -> list[tuple[Value, Value | None]]:
        """Exact ``(birth, death)`` values of the classes of dimension ``k``, essential ones
        (death ``None``) last."""
        f = self.filtration
        out: list[tuple[Value, Value | None]] = [
            (f.value(int(b)), f.value(int(d))) for b, d in self.pairs[self.pair_dims == k]
        ]
        out += [(f.value(int(b)), None) for b in self.essential[self.essential_dims == k]]
        return out

    def _values_float(self, pos: np.ndarray) -> np.ndarray:
        f = self.filtration
        if f.levels is None or f.level_of is None:
            return pos.astype(float)
        lv = np.array([float_view(x) for x in f.levels], dtype=float)
        return lv[f.level_of[pos]]

    def diagram(self, k: int, *, include_zero: bool = False) -> np.ndarray:
        """Float ``(birth, death)`` array of dimension ``k`` (ripser/persim convention).

        Float view of the exact values; ``inf`` deaths for essential classes. Pairs whose exact
        birth and death values are equal are left out unless ``include_zero``.
        """
        f = self.filtration
        P = self.pairs[self.pair_dims == k]
        if not include_zero and f.level_of is not None and len(P):
            P = P[f.level_of[P[:, 0]] != f.level_of[P[:, 1]]]
        E = self.essential[self.essential_dims == k]
        out = np.empty((len(P) + len(E), 2), dtype=float)
        if len(P):
            out[: len(P), 0] = self._values_float(P[:, 0])
            out[: len(P), 1] = self._values_float(P[:, 1])
        if len(E):
            out[len(P) :, 0] = self._values_float(E)
            out[len(P) :, 1] = np.inf
        return out

    def diagrams(self, *, include_zero: bool = False) -> list[np.ndarray]:
        """One float diagram per dimension ``0 .. top_dim`` (as ``ripser(...)["dgms"]``)."""
        return [self.diagram(k, include_zero=include_zero) for k in range(self.top_dim + 1)]

    def to_dict(self) -> dict[str, Any]:
        """Exact pairs as JSON: values as strings of rationals (or integer positions)."""
        f = self.filtration

        def fmt(v: Value | None) -> str | int | None:
            if v is None:
                return None
            return int(v) if isinstance(v, int) else format_rational(v)

        return {
            "filtration": f.kind,
            "description": f.describe(),
            "seed": f.seed,
            "output": f.output,
            "by_value": f.by_value,
            "num_cells": f.num_cells,
            "algorithm": self.algorithm,
            "final_betti": list(self.final_betti),
            "pairs": {str(k): [[fmt(b), fmt(d)] for b, d in self.exact_pairs(k)]
                      for k in range(self.top_dim + 1)},
        }


def filtered_columns(F: Filtration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boundary matrix in filtration order: ``(dims, indptr, rows)`` over positions."""
    S = F.subcomplex
    K = S.complex
    cells, indptr, rows, _ = restricted_facets(K, S.mask)
    local = np.full(K.num_cells, -1, dtype=np.int64)
    local[cells] = np.arange(len(cells), dtype=np.int64)
    perm = local[F.order]  # position -> local index
    if (len(perm) != len(cells) or np.any(perm < 0)
            or np.any(np.bincount(perm, minlength=len(cells)) != 1)):
        raise InvalidFiltrationError("the order is not a permutation of the subcomplex's cells")
    pos = np.empty(len(cells), dtype=np.int64)
    pos[perm] = np.arange(len(cells), dtype=np.int64)
    owner, ent = expand_ranges(indptr[perm], indptr[perm + 1])
    r = pos[rows[ent]]
    if r.size and np.any(r >= owner):
        raise InvalidFiltrationError("a face enters after one of its cofaces: not a filtration")
    N = max(len(cells), 1)
    r = np.sort(owner * N + r) % N  # ascending rows inside each column
    new_ptr = np.zeros(len(cells) + 1, dtype=np.int64)
    np.cumsum(np.diff(indptr)[perm], out=new_ptr[1:])
    dims = np.asarray(K.dims, dtype=np.int64)[F.order]
    return dims, new_ptr, r


def persistence(F: Filtration, *, algorithm: Algorithm = "twist") -> PersistenceResult:
    """Persistence pairs of a filtration over Z/2, by PHAT.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> from exactcells.topology.filtrations import dimension_random_filtration
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> P = persistence(dimension_random_filtration(build_complex(net, Domain.box(2, -1, 1))))
    >>> P.final_betti, [len(d) for d in P.diagrams()]
    ((1, 0, 0), [6, 2, 0])
    """
    dims, indptr, rows = filtered_columns(F)
    pairs = reduce_pairs(dims, indptr, rows, algorithm=algorithm)
    alive = np.ones(len(dims), dtype=bool)
    alive[pairs.ravel()] = False
    ess = np.flatnonzero(alive).astype(np.int64)
    out = [pairs, dims[pairs[:, 0]] if len(pairs) else np.zeros(0, dtype=np.int64), ess, dims[ess]]
    for a in out:
        a.setflags(write=False)
    return PersistenceResult(F, out[0], out[1], out[2], out[3], F.subcomplex.complex.input_dim, algorithm)


def betti_curve(P: PersistenceResult, by: Literal["index", "value"] = "index") -> tuple[np.ndarray, np.ndarray]:
    """Exact Betti curves of one filtration.

    Returns
    -------
    (grid, curves)
        By index: ``grid = 0 .. N`` (cells added) and ``curves[k, i]`` = ``beta_k`` of the first
        ``i`` cells. By value (value-based filtrations only): ``grid`` holds the positions just
        after each distinct value (``curves[k, j]`` is ``beta_k`` of ``{cells of value <= t_j}``,
        ``t_j = levels[j]``).
    """
    N = P.filtration.num_cells
    n = P.top_dim
    W = N + 2
    births = np.concatenate([P.pair_dims * W + P.pairs[:, 0] + 1, P.essential_dims * W + P.essential + 1])
    deaths = P.pair_dims * W + P.pairs[:, 1] + 1
    size = (n + 1) * W
    diff = np.bincount(births, minlength=size) - np.bincount(deaths, minlength=size)
    curves = np.cumsum(diff.reshape(n + 1, W), axis=1)[:, : N + 1]
    if by == "index":
        return np.arange(N + 1), curves
    f = P.filtration
    if f.levels is None or f.level_of is None:
        raise InvalidFiltrationError("a Betti curve by value needs a value-based filtration")
    ends = np.searchsorted(f.level_of, np.arange(len(f.levels)), side="right")
    return ends, curves[:, ends]


@dataclass(frozen=True, slots=True, eq=False)
class BettiCurves:
    """Betti curves of a kind of filtration, averaged over seeded repeats.

    Attributes
    ----------
    kind
        The filtration kind.
    seeds
        The seed of each repeat (``seed, seed + 1, ...``); one ``None`` for a deterministic kind.
    by
        ``"index"`` (grid = number of cells added) or ``"value"`` (grid = distinct values).
    grid
        Float grid (a float view of the exact values for ``"value"``).
    levels
        The exact values of the grid for ``"value"``; ``None`` for ``"index"``.
    mean, std, min, max
        Float arrays ``(top_dim + 1, len(grid))`` over the repeats (float summaries).
    maxima
        Exact ``int64`` array ``(repeats, top_dim + 1)``: the maximum of each curve.
    final_betti
        The Betti numbers of the filtered complex (the curves' last values).
    """

    kind: str
    seeds: tuple[int | None, ...]
    by: str
    grid: np.ndarray
    levels: tuple[Fraction, ...] | None
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    maxima: np.ndarray
    final_betti: tuple[int, ...]

    @property
    def repeats(self) -> int:
        return len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "filtration": self.kind,
            "seeds": list(self.seeds),
            "by": self.by,
            "maxima": self.maxima.tolist(),
            "mean_maxima": self.maxima.mean(axis=0).tolist(),
            "final_betti": list(self.final_betti),
        }


def betti_curves(
    target: PolyhedralComplex | Subcomplex,
    kind: str = "dimension-random",
    *,
    seed: int = 0,
    repeats: int = 1,
    output: int = 0,
    algorithm: Algorithm = "twist",
    progress: bool = False,
) -> tuple[BettiCurves, PersistenceResult]:
    """Betti curves of ``repeats`` seeded filtrations of one kind, with mean and spread.

    Random kinds use the seeds ``seed .. seed + repeats - 1`` and are curves by index; the
    output filtrations are deterministic (computed once) and are curves by value. ``progress``
    shows a bar over the repeats on stderr (:class:`exactcells.progress.Progress`).

    Returns
    -------
    (curves, first)
        The averaged curves and the persistence result of the first repeat.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> K = build_complex(net, Domain.box(2, -1, 1))
    >>> C, _ = betti_curves(K, seed=3, repeats=4)
    >>> f_vector_from_betti_maxima(C.maxima[0], C.final_betti) == K.f_vector
    True
    """
    if repeats < 1:
        raise InvalidArgumentError("repeats must be at least 1")
    deterministic = kind in DETERMINISTIC_KINDS
    seeds: tuple[int | None, ...] = (None,) if deterministic else tuple(seed + r for r in range(repeats))
    curves = []
    first: PersistenceResult | None = None
    grid: np.ndarray = np.zeros(0)
    levels: tuple[Fraction, ...] | None = None
    bar = Progress(len(seeds), "filtrations", show=progress)
    for s in seeds:
        F = make_filtration(target, kind, seed=0 if s is None else s, output=output)
        P = persistence(F, algorithm=algorithm)
        g, c = betti_curve(P, "value" if deterministic else "index")
        if first is None:
            first = P
            if deterministic:
                levels = F.levels
                grid = np.array([float_view(x) for x in (levels or ())], dtype=float)
            else:
                grid = g.astype(float)
        curves.append(c)
        bar.step("" if s is None else f"seed {s}")
    bar.close()
    assert first is not None
    A = np.stack(curves).astype(float)
    maxima = np.stack([c.max(axis=1) for c in curves]).astype(np.int64)
    out = BettiCurves(kind, seeds, "value" if deterministic else "index", grid, levels,
                      A.mean(axis=0), A.std(axis=0), A.min(axis=0), A.max(axis=0), maxima,
                      first.final_betti)
    for a in (out.grid, out.mean, out.std, out.min, out.max, out.maxima):
        a.setflags(write=False)
    return out, first


def f_vector_from_betti_maxima(maxima: np.ndarray | list[int], final_betti: tuple[int, ...]) -> tuple[int, ...]:
    """The f-vector from the Betti-curve maxima of a dimension-random filtration.

    ``f_k = M_k + M_{k-1} - beta_{k-1}``: the maximum ``M_k`` of ``beta_k`` is reached when every
    ``k``-cell is in and no ``(k+1)``-cell yet, where ``beta_k = dim Z_k``; and
    ``f_k = dim Z_k + rank d_k`` with ``rank d_k = dim Z_{k-1} - beta_{k-1}``.
    """
    M = [int(x) for x in maxima]
    return tuple(M[k] + (M[k - 1] - final_betti[k - 1] if k else 0) for k in range(len(M)))
