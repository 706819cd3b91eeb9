"""Input domains: full-dimensional bounded polytopes ``{x : A x <= c}``, checked exactly.

A box is the common case (:meth:`Domain.box`). The domain's facets are the irredundant rows of
``A x <= c`` in the user's order (duplicates and redundant rows dropped); they index the
domain part of every sign vector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any

from .errors import (
    DomainTooLargeError,
    EmptyDomainError,
    FlatDomainError,
    InvalidDomainError,
    NonRationalInputError,
    UnboundedDomainError,
)
from .geometry import affine_rank, implicit_equalities, vertices_of
from .numbers import format_rational, to_rational

__all__ = [
    "Domain",
    "DomainFace",
    "DomainTooLargeError",
    "MAX_DOMAIN_DIM",
    "load_domain",
    "halfspaces_from_dict",
    "load_halfspaces",
]

# The largest dimension of a full-dimensional domain exactcells enumerates. Every n-polytope has
# at least 2^(n+1) - 1 faces and the n-cube 3^n; measured on a 2-core machine (a network of one
# neuron, the cube [-1, 1]^n, build included): 8-D 2 s, 9-D 10 s, 10-D 20 s, 11-D 97 s, 12-D
# about 6 minutes. Above the limit a domain is refused at once: take a slice (exactcells.slicing).
MAX_DOMAIN_DIM = 10


def too_large_message(n: int) -> str:
    return (f"a full-dimensional domain in R^{n} is too large to enumerate (its face lattice has at "
            f"least 2^{n + 1} faces; the limit is {MAX_DOMAIN_DIM} dimensions): take a slice with "
            "--plane FILE, --slice FILE or --around POINT --radius R (exactcells.slicing)")


@dataclass(frozen=True, slots=True)
class DomainFace:
    """A face of the domain: its vertex indices, dimension and the facets that contain it."""

    vertices: frozenset[int]
    dim: int
    on_facets: frozenset[int]


@dataclass(frozen=True, slots=True, init=False)
class Domain:
    """A full-dimensional bounded polytope ``{x : A x <= c}`` with exact data.

    Attributes
    ----------
    A, c
        The irredundant facet inequalities (one row per facet).
    vertices
        The exact vertices.
    facet_vertices
        For each facet, the indices of the vertices on it.

    Examples
    --------
    >>> D = Domain.box(2, -1, 1)
    >>> len(D.vertices), D.num_facets, D.volume()
    (4, 4, Fraction(4, 1))
    """

    A: tuple[tuple[Fraction, ...], ...]
    c: tuple[Fraction, ...]
    vertices: tuple[tuple[Fraction, ...], ...]
    facet_vertices: tuple[frozenset[int], ...]
    box_bounds: tuple[tuple[Fraction, Fraction], ...] | None

    def __init__(
        self,
        A: Sequence[Sequence[Any]],
        c: Sequence[Any],
        _box: tuple[tuple[Fraction, Fraction], ...] | None = None,
    ) -> None:
        if len(A) == 0:
            raise InvalidDomainError("the domain has no inequalities (A is empty)")
        if len(A) != len(c):
            raise InvalidDomainError(f"A has {len(A)} rows but c has {len(c)} entries")
        n = len(A[0])
        if n == 0:
            raise InvalidDomainError("the domain's rows have no columns")
        if n > MAX_DOMAIN_DIM:
            raise DomainTooLargeError(too_large_message(n))
        Aq: list[tuple[Fraction, ...]] = []
        for i, row in enumerate(A):
            if len(row) != n:
                raise InvalidDomainError(f"A is ragged: row {i} has {len(row)} entries, not {n}")
            Aq.append(tuple(to_rational(v, f"domain A[{i}][{k}]") for k, v in enumerate(row)))
        cq = [to_rational(v, f"domain c[{i}]") for i, v in enumerate(c)]
        for i, row in enumerate(Aq):
            if all(v == 0 for v in row):
                if cq[i] < 0:
                    raise EmptyDomainError(f"domain row {i} reads 0 <= {cq[i]}: no point")
        if _box is not None:  # the rows of Domain.box: its corners and facets in closed form
            verts, inc = _box_corners(_box)
            facet_rows = list(range(len(Aq)))
        else:
            verts, inc, rays = vertices_of(Aq, cq)
            if not verts:
                raise EmptyDomainError("the domain {x : A x <= c} is empty")
            if rays:
                raise UnboundedDomainError("the domain {x : A x <= c} is unbounded")
            eq = implicit_equalities(Aq, cq)
            if eq or affine_rank(verts) < n:
                raise FlatDomainError(
                    f"the domain is not full-dimensional (rows {sorted(eq)} hold with equality)"
                    if eq
                    else "the domain is not full-dimensional"
                )
            # facets: rows whose vertex set spans an (n-1)-flat, deduplicated by vertex set
            facet_rows = []
            seen: set[frozenset[int]] = set()
            for i in range(len(Aq)):
                s = inc[i]
                if s in seen or len(s) < n:
                    continue
                if affine_rank([verts[j] for j in s]) == n - 1:
                    seen.add(s)
                    facet_rows.append(i)
        object.__setattr__(self, "A", tuple(Aq[i] for i in facet_rows))
        object.__setattr__(self, "c", tuple(cq[i] for i in facet_rows))
        object.__setattr__(self, "vertices", tuple(verts))
        object.__setattr__(self, "facet_vertices", tuple(inc[i] for i in facet_rows))
        object.__setattr__(self, "box_bounds", _box)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def box(cls, n: int, lo: Any = -1, hi: Any = 1) -> Domain:
        """The box ``[lo, hi]^n`` (``lo``, ``hi`` scalars or per-coordinate sequences)."""
        if n < 1:
            raise InvalidDomainError(f"a box needs dimension at least 1, got {n}")
        if n > MAX_DOMAIN_DIM:
            raise DomainTooLargeError(too_large_message(n))
        los = list(lo) if isinstance(lo, (list, tuple)) else [lo] * n
        his = list(hi) if isinstance(hi, (list, tuple)) else [hi] * n
        if len(los) != n or len(his) != n:
            raise InvalidDomainError(f"box bounds must have {n} entries")
        lq = [to_rational(v, f"box lower bound {i}") for i, v in enumerate(los)]
        hq = [to_rational(v, f"box upper bound {i}") for i, v in enumerate(his)]
        for i, (a, b) in enumerate(zip(lq, hq)):
            if a >= b:
                raise InvalidDomainError(
                    f"box coordinate {i}: LO = {format_rational(a)} is not below HI = {format_rational(b)}"
                )
        A: list[list[Fraction]] = []
        c: list[Fraction] = []
        for i in range(n):
            e = [Fraction(0)] * n
            e[i] = Fraction(-1)
            A.append(e)
            c.append(-lq[i])
            e2 = [Fraction(0)] * n
            e2[i] = Fraction(1)
            A.append(e2)
            c.append(hq[i])
        return cls(A, c, _box=tuple(zip(lq, hq)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Domain:
        """From ``{"A": [...], "c": [...]}`` (``A x <= c``) or ``{"box": [[lo, hi], ...]}``."""
        _check_domain_dict(d)
        if "box" in d:
            b = d["box"]
            return cls.box(len(b), [r[0] for r in b], [r[1] for r in b])
        return cls(d["A"], d["c"])

    # -- properties ------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.A[0])

    @property
    def num_facets(self) -> int:
        return len(self.A)

    def is_box(self) -> bool:
        return self.box_bounds is not None

    def contains(self, x: Sequence[Any]) -> bool:
        """Exact membership test."""
        xq = [to_rational(v) for v in x]
        return all(sum((a * v for a, v in zip(row, xq)), Fraction(0)) <= ci for row, ci in zip(self.A, self.c))

    def facet_signs(self, x: Sequence[Any]) -> tuple[int, ...]:
        """The domain part of a sign vector: 0 on a facet, +1 inside (-1 outside the domain)."""
        xq = [to_rational(v) for v in x]
        out = []
        for row, ci in zip(self.A, self.c):
            s = ci - sum((a * v for a, v in zip(row, xq)), Fraction(0))
            out.append((s > 0) - (s < 0))
        return tuple(out)

    def faces(self) -> list[DomainFace]:
        """Every non-empty face (the domain itself included), by increasing dimension."""
        return self.face_lattice()[0]

    def face_lattice(self) -> tuple[list[DomainFace], list[list[int]]]:
        """Every non-empty face (as :meth:`faces`) and, for each, the indices of its facets.

        Faces are found as intersections of faces with facets (vertex sets as bit masks). A
        face's dimension is ``n`` minus the exact rank of the normals of the facets that contain
        it (the affine hull of a face is cut out by the inequalities tight on it), and ``g`` is
        a facet of ``f`` exactly when ``g = f ∩ F_i`` for some facet ``F_i`` and
        ``dim g = dim f - 1``.
        """
        from .geometry import exact_rank, faces_from_incidences, integer_rows

        n = self.dim
        nv = len(self.vertices)
        fmasks = [sum(1 << v for v in fv) for fv in self.facet_vertices]
        normals = integer_rows(self.A)
        allv = (1 << nv) - 1
        found = faces_from_incidences(allv, fmasks)
        info: dict[int, tuple[int, frozenset[int]]] = {}
        for vs in found:
            on = frozenset(i for i, fm in enumerate(fmasks) if vs & fm == vs)
            if vs == allv:
                dim = n
            elif vs & (vs - 1) == 0:
                dim = 0  # a single vertex
            else:
                dim = n - exact_rank([normals[i] for i in sorted(on)])
            info[vs] = (dim, on)

        def bits(m: int) -> list[int]:
            out = []
            while m:
                low = m & -m
                out.append(low.bit_length() - 1)
                m ^= low
            return out

        order = sorted(found, key=lambda vs: (info[vs][0], bits(vs)))
        index = {vs: i for i, vs in enumerate(order)}
        faces = [DomainFace(frozenset(bits(vs)), info[vs][0], info[vs][1]) for vs in order]
        facets: list[list[int]] = []
        for vs in order:
            d, on = info[vs]
            fs: set[int] = set()
            if d > 0:
                for i, fm in enumerate(fmasks):
                    if i not in on:
                        g = vs & fm
                        if g and info[g][0] == d - 1:
                            fs.add(index[g])
            facets.append(sorted(fs))
        return faces, facets

    def volume(self) -> Fraction:
        """Exact volume (a product for a box; otherwise by a triangulation of the face lattice)."""
        if self.box_bounds is not None:
            out = Fraction(1)
            for a, b in self.box_bounds:
                out *= b - a
            return out
        from .measure import polytope_volume

        return polytope_volume(list(self.vertices), [(f.vertices, f.dim) for f in self.faces()])

    def to_dict(self) -> dict[str, Any]:
        if self.box_bounds is not None:
            return {"box": [[format_rational(a), format_rational(b)] for a, b in self.box_bounds]}
        return {
            "A": [[format_rational(v) for v in row] for row in self.A],
            "c": [format_rational(v) for v in self.c],
        }

    def describe(self) -> str:
        if self.box_bounds is not None:
            bs = set(self.box_bounds)
            if len(bs) == 1:
                (a, b), = bs
                return f"[{format_rational(a)}, {format_rational(b)}]^{self.dim}"
            return " x ".join(f"[{format_rational(a)}, {format_rational(b)}]" for a, b in self.box_bounds)
        return f"polytope with {self.num_facets} facets in R^{self.dim}"


def _box_corners(bounds: Sequence[tuple[Fraction, Fraction]]) -> tuple[list[tuple[Fraction, ...]],
                                                                       list[frozenset[int]]]:
    """The vertices of the box ``prod [lo_i, hi_i]`` (``lo_i < hi_i``) and, for each row of
    :meth:`Domain.box` (``-x_i <= -lo_i``, then ``x_i <= hi_i``, for each ``i``), the vertices
    on it: what cddlib finds, without it."""
    verts = list(product(*bounds))
    inc: list[frozenset[int]] = []
    for i, (lo, hi) in enumerate(bounds):
        inc.append(frozenset(j for j, v in enumerate(verts) if v[i] == lo))
        inc.append(frozenset(j for j, v in enumerate(verts) if v[i] == hi))
    return verts, inc


def _check_domain_dict(d: Any) -> None:
    if not isinstance(d, Mapping):
        raise InvalidDomainError("a domain must be a JSON object with keys 'A' and 'c'")
    if "box" in d:
        b = d["box"]
        if not isinstance(b, list) or not all(isinstance(r, list) and len(r) == 2 for r in b):
            raise InvalidDomainError("'box' must be a list of [lo, hi] pairs")
        return
    for key in ("A", "c"):
        if key not in d:
            raise InvalidDomainError(f"the domain has no '{key}' key")
    A, c = d["A"], d["c"]
    if not isinstance(A, list) or not all(isinstance(r, list) for r in A):
        raise InvalidDomainError("'A' must be a list of rows")
    if not isinstance(c, list):
        raise InvalidDomainError("'c' must be a list")


def halfspaces_from_dict(d: Mapping[str, Any]) -> tuple[list[tuple[Fraction, ...]], list[Fraction]]:
    """The rows ``A x <= c`` of a domain dict, read exactly but not enumerated (any dimension).

    Used for ambient domains of slices: the polytope is computed only in slice coordinates.
    """
    _check_domain_dict(d)
    if "box" in d:
        A: list[tuple[Fraction, ...]] = []
        c: list[Fraction] = []
        n = len(d["box"])
        for i, (lo, hi) in enumerate(d["box"]):
            lq, hq = to_rational(lo, f"box lower bound {i}"), to_rational(hi, f"box upper bound {i}")
            if lq >= hq:
                raise InvalidDomainError(f"box coordinate {i}: LO = {format_rational(lq)} is not below "
                                         f"HI = {format_rational(hq)}")
            A.append(tuple(Fraction(-int(j == i)) for j in range(n)))
            c.append(-lq)
            A.append(tuple(Fraction(int(j == i)) for j in range(n)))
            c.append(hq)
        return A, c
    rows, cs = d["A"], d["c"]
    if len(rows) == 0:
        raise InvalidDomainError("the domain has no inequalities (A is empty)")
    if len(rows) != len(cs):
        raise InvalidDomainError(f"A has {len(rows)} rows but c has {len(cs)} entries")
    n = len(rows[0])
    out = []
    for i, row in enumerate(rows):
        if len(row) != n:
            raise InvalidDomainError(f"A is ragged: row {i} has {len(row)} entries, not {n}")
        out.append(tuple(to_rational(v, f"domain A[{i}][{k}]") for k, v in enumerate(row)))
    return out, [to_rational(v, f"domain c[{i}]") for i, v in enumerate(cs)]


def load_halfspaces(path: str | Path) -> tuple[list[tuple[Fraction, ...]], list[Fraction]]:
    """Read a domain JSON file as rows ``A x <= c`` without enumerating it (see
    :func:`halfspaces_from_dict`)."""
    p = Path(path)
    d = _read_domain_json(p)
    try:
        return halfspaces_from_dict(d)
    except (InvalidDomainError, NonRationalInputError) as e:
        raise type(e)(f"{p}: {e}") from None


def _read_domain_json(p: Path) -> Any:
    from .io import read_json

    return read_json(p, InvalidDomainError)


def load_domain(path: str | Path) -> Domain:
    """Read a domain JSON file (``{"A": ..., "c": ...}`` or ``{"box": ...}``)."""
    p = Path(path)
    d = _read_domain_json(p)
    try:
        return Domain.from_dict(d)
    except (InvalidDomainError, NonRationalInputError) as e:
        raise type(e)(f"{p}: {e}") from None
