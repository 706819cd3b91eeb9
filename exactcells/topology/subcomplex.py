"""Closed subcomplexes of a polyhedral complex, and pairs of them for relative homology.

A subcomplex is a set of cells closed under taking faces, held as a read-only boolean mask over
the cells of its :class:`~exactcells.complex.PolyhedralComplex`. The ones defined by signs are
closed for a reason worth stating:

* the domain boundary: the cells with a ``0`` among their domain-facet signs. A face of a cell
  on a facet of the domain lies on that facet too;
* the decision boundary ``F_j = 0`` and the closed regions ``F_j >= 0``, ``F_j <= 0`` (complexes
  built ``with_output``, where the sign of output ``j`` is constant on every cell): ``F_j`` is
  continuous, so on the closure of a cell where ``F_j = 0`` (or ``> 0``) it is ``= 0``
  (or ``>= 0``).

Every constructor checks closedness anyway (:func:`subcomplex_from_mask`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import InvalidSubcomplexError
from ._arrays import expand_ranges

__all__ = [
    "Subcomplex",
    "Pair",
    "as_pair",
    "subcomplex_from_mask",
    "whole_complex",
    "empty_subcomplex",
    "domain_boundary",
    "decision_boundary",
    "positive_region",
    "negative_region",
    "closure",
    "pair",
    "named_subcomplex",
    "SUBCOMPLEX_NAMES",
]

SUBCOMPLEX_NAMES = ("all", "domain-boundary", "decision-boundary", "positive", "negative")


@dataclass(frozen=True, slots=True, eq=False)
class Subcomplex:
    """A closed subcomplex: a face-closed set of cells of ``complex``.

    Attributes
    ----------
    complex
        The ambient polyhedral complex.
    mask
        Read-only boolean array over the cells of ``complex``.
    name
        A short description, e.g. ``"F >= 0 (output 0)"``.
    """

    complex: PolyhedralComplex
    mask: np.ndarray
    name: str

    @property
    def cells(self) -> np.ndarray:
        """Indices of the cells, ascending (so by dimension)."""
        return np.flatnonzero(self.mask)

    @property
    def num_cells(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def f_vector(self) -> tuple[int, ...]:
        """Number of cells of each dimension ``0 .. n`` (``n`` of the ambient complex)."""
        n = self.complex.input_dim
        c = np.bincount(np.asarray(self.complex.dims, dtype=np.int64)[self.mask], minlength=n + 1)
        return tuple(int(x) for x in c[: n + 1])

    @property
    def euler_characteristic(self) -> int:
        return sum((-1) ** k * f for k, f in enumerate(self.f_vector))

    def __and__(self, other: Subcomplex) -> Subcomplex:
        _same_complex(self, other)
        return _frozen(self.complex, self.mask & other.mask, f"{self.name} and {other.name}")

    def __or__(self, other: Subcomplex) -> Subcomplex:
        _same_complex(self, other)
        return _frozen(self.complex, self.mask | other.mask, f"{self.name} or {other.name}")

    def __le__(self, other: Subcomplex) -> bool:
        _same_complex(self, other)
        return not bool(np.any(self.mask & ~other.mask))

    def __repr__(self) -> str:
        return f"Subcomplex({self.name!r}, f_vector={self.f_vector})"


@dataclass(frozen=True, slots=True, eq=False)
class Pair:
    """A pair ``(K, L)`` of closed subcomplexes with ``L`` inside ``K`` (relative homology)."""

    K: Subcomplex
    L: Subcomplex

    def __post_init__(self) -> None:
        if not self.L <= self.K:
            raise InvalidSubcomplexError(f"pair: {self.L.name!r} is not contained in {self.K.name!r}")

    @property
    def complex(self) -> PolyhedralComplex:
        return self.K.complex

    @property
    def relative(self) -> bool:
        return bool(np.any(self.L.mask))

    @property
    def description(self) -> str:
        return f"({self.K.name}, {self.L.name})" if self.relative else self.K.name


def _same_complex(a: Subcomplex, b: Subcomplex) -> None:
    if a.complex is not b.complex:
        raise InvalidSubcomplexError("the subcomplexes belong to different complexes")


def _frozen(K: PolyhedralComplex, mask: np.ndarray, name: str) -> Subcomplex:
    m = np.array(mask, dtype=bool, copy=True)
    m.setflags(write=False)
    return Subcomplex(K, m, name)


def subcomplex_from_mask(K: PolyhedralComplex, mask: np.ndarray, name: str = "subcomplex") -> Subcomplex:
    """A subcomplex from a boolean mask over the cells; raises if it is not closed under faces.

    Raises
    ------
    InvalidSubcomplexError
        If the mask has the wrong length or some cell has a facet outside the mask.
    """
    m = np.asarray(mask, dtype=bool)
    if m.shape != (K.num_cells,):
        raise InvalidSubcomplexError(f"mask of shape {m.shape}; expected ({K.num_cells},)")
    indptr, indices = K.facet_csr
    owners = np.repeat(np.arange(K.num_cells), np.diff(indptr))
    bad = m[owners] & ~m[indices]
    if np.any(bad):
        e = int(np.flatnonzero(bad)[0])
        raise InvalidSubcomplexError(
            f"{name}: not closed under faces (cell {int(owners[e])} is in it, "
            f"its facet {int(indices[e])} is not)"
        )
    return _frozen(K, m, name)


def whole_complex(K: PolyhedralComplex) -> Subcomplex:
    """Every cell."""
    return _frozen(K, np.ones(K.num_cells, dtype=bool), "whole complex")


def empty_subcomplex(K: PolyhedralComplex) -> Subcomplex:
    """No cell."""
    return _frozen(K, np.zeros(K.num_cells, dtype=bool), "empty")


def domain_boundary(K: PolyhedralComplex) -> Subcomplex:
    """The cells on the boundary of the domain (a sign 0 among the domain-facet signs)."""
    sl = K.sign_slices()["domain_facets"]
    mask = np.any(np.asarray(K.signs)[:, sl] == 0, axis=1)
    return subcomplex_from_mask(K, mask, "domain boundary")


def _output_signs(K: PolyhedralComplex, output: int) -> np.ndarray:
    if not K.with_output:
        raise InvalidSubcomplexError(
            "this subcomplex is defined by the output: build the complex with with_output=True"
        )
    m = K.network.output_dim
    if not 0 <= output < m:
        raise InvalidSubcomplexError(f"output {output} does not exist (the network has {m} outputs)")
    return np.asarray(K.signs)[:, K.sign_slices()["outputs"].start + output]


def decision_boundary(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The cells on which output ``output`` is zero (``F = 0``); needs ``with_output``."""
    return subcomplex_from_mask(K, _output_signs(K, output) == 0, f"decision boundary F{output} = 0")


def positive_region(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The closed region ``F >= 0`` of output ``output``; needs ``with_output``."""
    return subcomplex_from_mask(K, _output_signs(K, output) >= 0, f"F{output} >= 0")


def negative_region(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The closed region ``F <= 0`` of output ``output``; needs ``with_output``."""
    return subcomplex_from_mask(K, _output_signs(K, output) <= 0, f"F{output} <= 0")


def closure(K: PolyhedralComplex, cells: Iterable[int], name: str = "closure") -> Subcomplex:
    """The smallest subcomplex that contains the given cells (all their faces added)."""
    mask = np.zeros(K.num_cells, dtype=bool)
    idx = np.fromiter((int(c) for c in cells), dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= K.num_cells):
        raise InvalidSubcomplexError(f"cell indices must lie in 0..{K.num_cells - 1}")
    mask[idx] = True
    indptr, indices = K.facet_csr
    for k in range(K.input_dim, 0, -1):
        r = K.cells_of_dim(k)
        sel = np.flatnonzero(mask[r.start : r.stop]) + r.start
        if sel.size:
            _, pos = expand_ranges(indptr[sel], indptr[sel + 1])
            mask[indices[pos]] = True
    return _frozen(K, mask, name)


def pair(K: Subcomplex, L: Subcomplex) -> Pair:
    """The pair ``(K, L)``; raises :class:`InvalidSubcomplexError` unless ``L`` lies in ``K``."""
    _same_complex(K, L)
    return Pair(K, L)


def as_pair(target: PolyhedralComplex | Subcomplex | Pair) -> Pair:
    """Any homology target as a pair (``L`` empty when not relative)."""
    if isinstance(target, Pair):
        return target
    if isinstance(target, Subcomplex):
        return Pair(target, empty_subcomplex(target.complex))
    if isinstance(target, PolyhedralComplex):
        return Pair(whole_complex(target), empty_subcomplex(target))
    raise TypeError(f"expected a PolyhedralComplex, Subcomplex or Pair, not {type(target).__name__}")


def named_subcomplex(
    K: PolyhedralComplex, name: str, output: int = 0, relative: bool = False
) -> Subcomplex | Pair:
    """The subcomplex of the command line by name (see :data:`SUBCOMPLEX_NAMES`).

    With ``relative``, the pair ``(S, S and domain boundary)``: e.g. the decision boundary
    relative to its part on the domain's boundary, whose homology is that of the unbounded
    decision boundary in ``R^n`` (Borel-Moore) when the box holds every vertex of the
    arrangement.
    """
    makers = {
        "all": lambda: whole_complex(K),
        "domain-boundary": lambda: domain_boundary(K),
        "decision-boundary": lambda: decision_boundary(K, output),
        "positive": lambda: positive_region(K, output),
        "negative": lambda: negative_region(K, output),
    }
    if name not in makers:
        raise InvalidSubcomplexError(f"unknown subcomplex {name!r}; choose one of {', '.join(makers)}")
    S = makers[name]()
    if not relative:
        return S
    B = domain_boundary(K)
    on_b = "domain boundary" if name == "all" else f"{S.name} on the domain boundary"
    return pair(S, _frozen(K, S.mask & B.mask, on_b))
