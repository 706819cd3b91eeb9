"""Closed subcomplexes of a polyhedral complex, and pairs of them for relative homology.

A subcomplex is a set of cells closed under taking faces, held as a read-only boolean mask over
the cells of its :class:`~exactcells.complex.PolyhedralComplex`. The ones defined by signs are
closed for a reason worth stating:

* the domain boundary: the cells with a ``0`` among their domain-facet signs. A face of a cell
  on a facet of the domain lies on that facet too;
* the decision boundary ``F_j = 0`` and the closed regions ``F_j >= 0``, ``F_j <= 0`` (complexes
  built ``with_output`` with the zero refinement, where the sign of output ``j`` is constant on
  every cell): ``F_j`` is continuous, so on the closure of a cell where ``F_j = 0`` (or ``> 0``)
  it is ``= 0`` (or ``>= 0``);
* for the argmax refinement (``refine="argmax"``, ``k >= 2`` outputs), whose output entries are
  ``sign(F_j - max_i F_i)``, the argmax set ``A(C) = {j : F_j = max F on C}`` of a cell ``C``:
  ``F_j - max_i F_i`` is continuous, so if it vanishes on a cell it vanishes on its closure, and
  ``A(face) contains A(C)``. Hence the class region ``class:J`` (cells with ``J`` in ``A``), the
  decision boundary (``|A| >= 2``), the pairwise boundary ``boundary:I,J`` (``I, J`` in ``A``)
  and the junctions (``|A| >= 3``) are closed.

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
    "subcomplex_from_mask",
    "whole_complex",
    "domain_boundary",
    "decision_boundary",
    "positive_region",
    "negative_region",
    "closure",
    "pair",
    "named_subcomplex",
    "SUBCOMPLEX_NAMES",
    "maximizer_mask",
    "class_region",
    "pairwise_boundary",
    "junctions",
]

SUBCOMPLEX_NAMES = ("all", "domain-boundary", "decision-boundary", "positive", "negative",
                    "class:J", "boundary:I,J", "junctions")


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


def output_refinement(K: PolyhedralComplex) -> str | None:
    """How ``K`` is refined by the output: ``None``, ``"zero"`` (``sign F_j``) or ``"argmax"``
    (``sign(F_j - max F)``)."""
    return K.output_refinement


def _output_signs(K: PolyhedralComplex, output: int) -> np.ndarray:
    if not K.with_output:
        raise InvalidSubcomplexError(
            "this subcomplex is defined by the output: build the complex with with_output=True"
        )
    m = K.network.output_dim
    if not 0 <= output < m:
        raise InvalidSubcomplexError(f"output {output} does not exist (the network has {m} outputs)")
    return np.asarray(K.signs)[:, K.sign_slices()["outputs"].start + output]


def _zero_refinement(K: PolyhedralComplex, what: str) -> None:
    if output_refinement(K) == "argmax":
        raise InvalidSubcomplexError(
            f"{what} is not a subcomplex of the argmax complex (its cells are cut by F_i = F_j, "
            "not by F_j = 0): build it with refine='zero' (--refine zero), or use class:J"
        )


def maximizer_mask(K: PolyhedralComplex) -> np.ndarray:
    """``(cells, k)`` bool: ``[c, j]`` is True when output ``j`` is a maximizer on cell ``c``
    (its argmax-refinement entry is 0). Needs a complex built with ``refine="argmax"``."""
    if output_refinement(K) != "argmax":
        raise InvalidSubcomplexError(
            "class regions and multiclass decision boundaries need the argmax complex: build it "
            "with with_output=True, refine='argmax' (--refine argmax; >= 2 outputs)"
        )
    sl = K.sign_slices()["outputs"]
    return np.asarray(K.signs)[:, sl] == 0


def _check_class(K: PolyhedralComplex, j: int) -> None:
    k = K.network.output_dim
    if not 0 <= j < k:
        raise InvalidSubcomplexError(f"class {j} does not exist (the network has {k} outputs: "
                                     f"classes 0..{k - 1})")


def decision_boundary(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The decision boundary; needs ``with_output``.

    Zero refinement: the cells on which output ``output`` is zero (``F = 0``). Argmax
    refinement: the cells with at least two maximizers (``output`` is ignored).
    """
    if output_refinement(K) == "argmax":
        A = maximizer_mask(K)
        return subcomplex_from_mask(K, A.sum(axis=1) >= 2, "decision boundary (>= 2 maximizers)")
    return subcomplex_from_mask(K, _output_signs(K, output) == 0, f"decision boundary F{output} = 0")


def positive_region(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The closed region ``F >= 0`` of output ``output``; needs the zero refinement."""
    _zero_refinement(K, "F >= 0")
    return subcomplex_from_mask(K, _output_signs(K, output) >= 0, f"F{output} >= 0")


def negative_region(K: PolyhedralComplex, output: int = 0) -> Subcomplex:
    """The closed region ``F <= 0`` of output ``output``; needs the zero refinement."""
    _zero_refinement(K, "F <= 0")
    return subcomplex_from_mask(K, _output_signs(K, output) <= 0, f"F{output} <= 0")


def class_region(K: PolyhedralComplex, j: int) -> Subcomplex:
    """The closed class region of class ``j``: the closure of the cells where ``j`` is a
    maximizer, which is the set of cells where it is one (module docstring); argmax complex."""
    A = maximizer_mask(K)
    _check_class(K, j)
    return subcomplex_from_mask(K, A[:, j], f"class {j} region")


def pairwise_boundary(K: PolyhedralComplex, i: int, j: int) -> Subcomplex:
    """The cells where classes ``i`` and ``j`` are both maximizers (``F_i = F_j = max F``)."""
    A = maximizer_mask(K)
    _check_class(K, i)
    _check_class(K, j)
    if i == j:
        raise InvalidSubcomplexError(f"boundary:{i},{j}: the two classes must differ")
    return subcomplex_from_mask(K, A[:, i] & A[:, j], f"boundary of classes {i} and {j}")


def junctions(K: PolyhedralComplex) -> Subcomplex:
    """The cells with at least three maximizers (where three or more classes meet)."""
    A = maximizer_mask(K)
    return subcomplex_from_mask(K, A.sum(axis=1) >= 3, "junctions (>= 3 maximizers)")


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


def parse_subcomplex_name(name: str) -> tuple[str, tuple[int, ...]]:
    """``"class:3"`` -> ``("class", (3,))``, ``"boundary:0,2"`` -> ``("boundary", (0, 2))``,
    other names -> ``(name, ())``; raises :class:`InvalidSubcomplexError` on a bad name."""
    plain = ("all", "domain-boundary", "decision-boundary", "positive", "negative", "junctions")
    if name in plain:
        return name, ()
    head, sep, tail = name.partition(":")
    want = {"class": 1, "boundary": 2}.get(head)
    if sep and want is not None:
        try:
            nums = tuple(int(x) for x in tail.split(","))
        except ValueError:
            nums = ()
        if len(nums) == want and all(x >= 0 for x in nums):
            return head, nums
        raise InvalidSubcomplexError(
            f"subcomplex {name!r}: write class:J or boundary:I,J with class indices >= 0")
    raise InvalidSubcomplexError(
        f"unknown subcomplex {name!r}; choose one of {', '.join(SUBCOMPLEX_NAMES)}")


def subcomplex_refinement(name: str, output_dim: int) -> str | None:
    """The output refinement a named subcomplex needs: ``None`` (none), ``"zero"`` or
    ``"argmax"`` (the decision boundary of a network with ``>= 2`` outputs is the argmax one)."""
    head, _ = parse_subcomplex_name(name)
    if head in ("class", "boundary", "junctions"):
        return "argmax"
    if head in ("positive", "negative"):
        return "zero"
    if head == "decision-boundary":
        return "argmax" if output_dim >= 2 else "zero"
    return None


def named_subcomplex(
    K: PolyhedralComplex, name: str, output: int = 0, relative: bool = False
) -> Subcomplex | Pair:
    """The subcomplex of the command line by name (see :data:`SUBCOMPLEX_NAMES`; ``class:J``,
    ``boundary:I,J`` and ``junctions`` need the argmax complex).

    With ``relative``, the pair ``(S, S and domain boundary)``: e.g. the decision boundary
    relative to its part on the domain's boundary, whose homology is that of the unbounded
    decision boundary in ``R^n`` (Borel-Moore) when the box holds every vertex of the
    arrangement.
    """
    head, nums = parse_subcomplex_name(name)
    makers = {
        "all": lambda: whole_complex(K),
        "domain-boundary": lambda: domain_boundary(K),
        "decision-boundary": lambda: decision_boundary(K, output),
        "positive": lambda: positive_region(K, output),
        "negative": lambda: negative_region(K, output),
        "class": lambda: class_region(K, nums[0]),
        "boundary": lambda: pairwise_boundary(K, nums[0], nums[1]),
        "junctions": lambda: junctions(K),
    }
    S = makers[head]()
    if not relative:
        return S
    B = domain_boundary(K)
    on_b = "domain boundary" if name == "all" else f"{S.name} on the domain boundary"
    return pair(S, _frozen(K, S.mask & B.mask, on_b))
