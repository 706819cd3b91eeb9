"""Exact slices: a network restricted to an affine subspace, and the domain in slice coordinates.

A slice is an origin ``p0`` and ``k`` linearly independent directions ``d_1, ..., d_k`` of
``R^n`` (``k`` = 1, 2 or 3); slice coordinates ``t`` map to ``x = p0 + M t`` with
``M = [d_1 ... d_k]``, exactly. The restricted network ``t -> F(p0 + M t)`` has first layer
``W' = W_0 M`` and ``b' = b_0 + W_0 p0`` (the other layers unchanged), and a domain
``A x <= c`` of ``R^n`` pulls back to ``(A M) t <= c - A p0``. The complex of the restricted
network on the slice domain is exactly the intersection of the original complex with the
slice: a point's sign vector depends only on its pre-activations, which are the same
(``docs/mathematics.md``, "Slices").

The ambient domain is never enumerated: its rows are pulled back (2n rows for a box) and the
polytope is computed by cddlib in ``k`` unknowns.

Slices come from files or from a point:

* :func:`plane_through` -- three points ``p0, p1, p2``: ``(s, t) -> p0 + s (p1 - p0) + t (p2 - p0)``;
* :func:`slice_from_dict` -- ``{"origin": [...], "directions": [[...], ...]}``;
* :func:`around_point` -- a point and ``k`` directions (given, seeded random coordinate axes or
  seeded Gaussian directions), with the box ``[-R, R]^k`` as the local neighbourhood.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .domain import Domain
from .errors import (
    EmptyDomainError,
    FlatDomainError,
    FormatError,
    InvalidArgumentError,
    InvalidDomainError,
    InvalidSliceError,
)
from .network import Network
from .numbers import float_view, format_rational, to_rational

__all__ = [
    "MAX_SLICE_DIM",
    "InvalidSliceError",
    "Slice",
    "plane_through",
    "slice_from_dict",
    "slice_from_record",
    "load_slice",
    "load_plane",
    "load_point",
    "points_in_slice",
    "around_point",
    "axis_plane",
    "plane_domain",
    "restrict_to_plane",
]

MAX_SLICE_DIM = 3  # slices of dimension 1, 2 or 3

Rows = tuple[list[tuple[Fraction, ...]], list[Fraction]]


def _fmpq_mat(rows: Sequence[Sequence[Fraction]], ncols: int) -> Any:
    from flint import fmpq, fmpq_mat

    return fmpq_mat(len(rows), ncols, [fmpq(v.numerator, v.denominator) for r in rows for v in r])


def _fractions(M: Any) -> list[tuple[Fraction, ...]]:
    """The rows of a flint ``fmpq_mat`` as tuples of Fractions."""
    m, n = M.nrows(), M.ncols()
    flat = [Fraction(int(e.p), int(e.q)) for e in M.entries()]
    return [tuple(flat[i * n : (i + 1) * n]) for i in range(m)]


def _rank(rows: Sequence[Sequence[Fraction]]) -> int:
    if not rows:
        return 0
    return int(_fmpq_mat(rows, len(rows[0])).rank())


@dataclass(frozen=True)
class Slice:
    """An affine subspace ``{origin + sum_k t_k directions[k]}`` of ``R^n``, exactly.

    Attributes
    ----------
    origin, directions
        Exact rationals; the directions are linearly independent (checked).
    kind
        ``"plane"`` (three points), ``"slice"`` (origin and directions), ``"around"`` (a point's
        neighbourhood) or ``"default"`` (picked by exactcells).
    points
        The points that define it: ``p0, p1, p2`` of a plane, the centre of ``around``.
    source
        Where it came from (a file name, or a sentence for a default slice).
    radius, seed, direction_kind
        For ``around``: the half-width ``R`` of the box ``[-R, R]^k``, the seed of random
        directions and how the directions were chosen (``given``, ``coordinate``, ``gaussian``).
    axes
        For coordinate directions: the input coordinates (0-based) the directions follow.
    """

    origin: tuple[Fraction, ...]
    directions: tuple[tuple[Fraction, ...], ...]
    kind: str = "slice"
    points: tuple[tuple[Fraction, ...], ...] = ()
    source: str | None = None
    radius: Fraction | None = None
    seed: int | None = None
    direction_kind: str | None = None
    axes: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.origin)
        k = len(self.directions)
        if n == 0:
            raise InvalidSliceError("the slice's origin has no coordinates")
        if not 1 <= k <= MAX_SLICE_DIM:
            raise InvalidSliceError(f"a slice needs 1 to {MAX_SLICE_DIM} directions, got {k}")
        for i, d in enumerate(self.directions):
            if len(d) != n:
                raise InvalidSliceError(f"direction {i} has {len(d)} coordinates but the origin has {n}")
            if all(v == 0 for v in d):
                raise InvalidSliceError(f"direction {i} is zero")
        if k > n:
            raise InvalidSliceError(f"{k} directions in R^{n} are linearly dependent")
        if _rank(self.directions) < k:
            raise InvalidSliceError(
                "the three points are collinear (they span no plane)" if self.kind == "plane"
                else f"the {k} directions are linearly dependent")
        if self.radius is not None and self.radius <= 0:
            raise InvalidSliceError(f"the radius must be positive, got {format_rational(self.radius)}")

    # -- shape -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """``k``: the dimension of the slice."""
        return len(self.directions)

    @property
    def ambient_dim(self) -> int:
        """``n``: the dimension of the input space."""
        return len(self.origin)

    def coordinate_names(self) -> tuple[str, ...]:
        if self.kind == "plane":
            return ("s", "t")
        if self.kind == "default" and self.axes is not None:
            return tuple(f"x{a + 1}" for a in self.axes)  # the input coordinates themselves
        return tuple(f"t{i + 1}" for i in range(self.dim))

    # -- maps ------------------------------------------------------------------------------
    def to_input(self, t: Sequence[Any]) -> tuple[Fraction, ...]:
        """The input point ``origin + sum_k t_k directions[k]`` of slice coordinates ``t``, exactly."""
        if len(t) != self.dim:
            raise InvalidSliceError(f"slice coordinates need {self.dim} entries, got {len(t)}")
        tq = [to_rational(v, "slice coordinate") for v in t]
        return tuple(o + sum((tk * d[i] for tk, d in zip(tq, self.directions)), Fraction(0))
                     for i, o in enumerate(self.origin))

    def restrict(self, net: Network) -> Network:
        """The network ``t -> F(origin + M t)``: ``W' = W_0 M``, ``b' = b_0 + W_0 origin``, exactly.

        The other layers (and every other field of the first layer) are kept.
        """
        if net.input_dim != self.ambient_dim:
            raise InvalidSliceError(
                f"the slice lives in R^{self.ambient_dim} but the network takes {net.input_dim} inputs")
        first = net.layers[0]
        n = self.ambient_dim
        W0 = _fmpq_mat(first.W, n)
        M = _fmpq_mat([list(col) for col in zip(*self.directions)], self.dim)
        P = _fmpq_mat([[v] for v in self.origin], 1)
        W = tuple(_fractions(W0 * M))
        shift = [r[0] for r in _fractions(W0 * P)]
        b = tuple(bj + s for bj, s in zip(first.b, shift))
        layer = dataclasses.replace(first, W=W, b=b)
        return dataclasses.replace(net, layers=(layer,) + tuple(net.layers[1:]))

    def pullback(self, A: Sequence[Sequence[Fraction]], c: Sequence[Fraction]) -> Rows:
        """The rows of ``(A M) t <= c - A origin``, exactly (no row is dropped here)."""
        if A and len(A[0]) != self.ambient_dim:
            raise InvalidDomainError(
                f"the ambient domain lives in R^{len(A[0])} but the slice in R^{self.ambient_dim}")
        if not A:
            return [], []
        n = self.ambient_dim
        Am = _fmpq_mat(A, n)
        M = _fmpq_mat([list(col) for col in zip(*self.directions)], self.dim)
        P = _fmpq_mat([[v] for v in self.origin], 1)
        AM = _fractions(Am * M)
        Ap = [r[0] for r in _fractions(Am * P)]
        return AM, [Fraction(ci) - s for ci, s in zip(c, Ap)]

    def box_pullback(self, lo: Sequence[Fraction], hi: Sequence[Fraction]) -> Rows:
        """The rows of ``lo <= origin + M t <= hi`` (a box of ``R^n``), without a matrix product."""
        A: list[tuple[Fraction, ...]] = []
        c: list[Fraction] = []
        for i in range(self.ambient_dim):
            row = tuple(d[i] for d in self.directions)
            A.append(row)
            c.append(hi[i] - self.origin[i])
            A.append(tuple(-v for v in row))
            c.append(self.origin[i] - lo[i])
        return A, c

    def locate(self, x: Sequence[Any]) -> tuple[Fraction, ...] | None:
        """The slice coordinates of the input point ``x`` when it lies in the slice, else ``None``."""
        if len(x) != self.ambient_dim:
            raise InvalidSliceError(f"a point with {len(x)} coordinates is not in R^{self.ambient_dim}")
        piv, inv = self._pivots()
        rhs = [to_rational(x[i], "point") - self.origin[i] for i in piv]
        t = tuple(sum((inv[a][b] * rhs[b] for b in range(self.dim)), Fraction(0)) for a in range(self.dim))
        for i in range(self.ambient_dim):
            xi = to_rational(x[i], "point")
            if xi != self.origin[i] + sum((tk * d[i] for tk, d in zip(t, self.directions)), Fraction(0)):
                return None
        return t

    def _pivots(self) -> tuple[list[int], list[list[Fraction]]]:
        """``k`` input coordinates on which ``M`` is invertible, and that ``k x k`` inverse."""
        cache = self.__dict__.get("_pivot_cache")
        if cache is not None:
            return cache
        piv: list[int] = []
        for i in range(self.ambient_dim):
            rows = [[d[j] for d in self.directions] for j in piv + [i]]
            if _rank(rows) == len(piv) + 1:
                piv.append(i)
                if len(piv) == self.dim:
                    break
        sub = _fmpq_mat([[d[j] for d in self.directions] for j in piv], self.dim)
        inv = [list(r) for r in _fractions(sub.inv())]
        object.__setattr__(self, "_pivot_cache", (piv, inv))
        return piv, inv

    def marks(self) -> list[tuple[str, tuple[Fraction, ...]]]:
        """The defining points in slice coordinates: ``p0, p1, p2`` of a plane, the centre of ``around``."""
        if self.kind == "plane":
            return [("p0", (Fraction(0), Fraction(0))), ("p1", (Fraction(1), Fraction(0))),
                    ("p2", (Fraction(0), Fraction(1)))]
        if self.kind == "around":
            return [("centre", tuple(Fraction(0) for _ in range(self.dim)))]
        return []

    # -- records ---------------------------------------------------------------------------
    def describe(self) -> str:
        if self.kind == "plane":
            what = "the plane through p0, p1, p2"
        elif self.kind == "around":
            what = (f"the {self.dim}-D neighbourhood of half-width {format_rational(self.radius or 0)} "
                    f"around a point ({self.direction_kind} directions"
                    + (f", seed {self.seed}" if self.seed is not None and self.direction_kind != "given" else "")
                    + ")")
        elif self.kind == "default":
            return f"the plane {self.source} of R^{self.ambient_dim}" if self.source else \
                f"the default {self.dim}-D slice of R^{self.ambient_dim}"
        else:
            what = f"a {self.dim}-D slice"
        src = f" ({self.source})" if self.source else ""
        return f"{what}{src} of R^{self.ambient_dim}"

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to reproduce the slice, numbers as exact strings."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "dim": self.dim,
            "ambient_dim": self.ambient_dim,
            "origin": [format_rational(v) for v in self.origin],
            "directions": [[format_rational(v) for v in r] for r in self.directions],
            "coordinates": list(self.coordinate_names()),
        }
        if self.points:
            d["points"] = [[format_rational(v) for v in p] for p in self.points]
        if self.source is not None:
            d["source"] = self.source
        if self.radius is not None:
            d["radius"] = format_rational(self.radius)
        if self.direction_kind is not None:
            d["direction_kind"] = self.direction_kind
        if self.seed is not None:
            d["seed"] = self.seed
        if self.axes is not None:
            d["axes"] = list(self.axes)
        return d


# -- constructors ------------------------------------------------------------------------------

def _point(values: Sequence[Any], what: str) -> tuple[Fraction, ...]:
    return tuple(to_rational(v, what) for v in values)


def plane_through(p0: Sequence[Any], p1: Sequence[Any], p2: Sequence[Any], source: str | None = None) -> Slice:
    """The plane ``(s, t) -> p0 + s (p1 - p0) + t (p2 - p0)``; the points must not be collinear."""
    pts = [_point(p, f"plane point p{i}") for i, p in enumerate((p0, p1, p2))]
    n = len(pts[0])
    for i, p in enumerate(pts[1:], 1):
        if len(p) != n:
            raise InvalidSliceError(f"plane point p{i} has {len(p)} coordinates but p0 has {n}")
    d1 = tuple(a - b for a, b in zip(pts[1], pts[0]))
    d2 = tuple(a - b for a, b in zip(pts[2], pts[0]))
    if n < 2 or _rank([d1, d2]) < 2:
        raise InvalidSliceError("the three points are collinear (they span no plane)")
    return Slice(pts[0], (d1, d2), kind="plane", points=tuple(pts), source=source)


def slice_from_dict(d: Mapping[str, Any], source: str | None = None) -> Slice:
    """From ``{"origin": [...], "directions": [[...], ...]}`` (1 to 3 directions)."""
    if not isinstance(d, Mapping) or "origin" not in d or "directions" not in d:
        raise InvalidSliceError('a slice must be a JSON object {"origin": [...], "directions": [[...], ...]}')
    o, ds = d["origin"], d["directions"]
    if not isinstance(o, list) or not isinstance(ds, list) or not all(isinstance(r, list) for r in ds):
        raise InvalidSliceError("'origin' must be a list of numbers and 'directions' a list of lists")
    origin = _point(o, "slice origin")
    dirs = tuple(_point(r, f"slice direction {i}") for i, r in enumerate(ds))
    return Slice(origin, dirs, kind="slice", source=source)


def slice_from_record(d: Mapping[str, Any]) -> Slice:
    """The slice of a record written by :meth:`Slice.to_dict` (the same slice: kind, defining
    points, source, radius, seed, direction kind and axes are kept), read exactly.

    Examples
    --------
    >>> sl = plane_through([0, 0, 0], [1, 0, "1/3"], [0, 2, 0], source="three points")
    >>> slice_from_record(sl.to_dict()) == sl
    True
    """
    if not isinstance(d, Mapping) or "origin" not in d or "directions" not in d:
        raise InvalidSliceError("a slice record needs 'origin' and 'directions'")
    base = slice_from_dict({"origin": d["origin"], "directions": d["directions"]})
    pts = d.get("points") or []
    if not isinstance(pts, list) or not all(isinstance(p, list) for p in pts):
        raise InvalidSliceError("a slice record's 'points' must be a list of points")
    radius = d.get("radius")
    axes = d.get("axes")
    seed = d.get("seed")
    return Slice(base.origin, base.directions, kind=str(d.get("kind", "slice")),
                 points=tuple(_point(p, f"slice point {i}") for i, p in enumerate(pts)),
                 source=None if d.get("source") is None else str(d["source"]),
                 radius=None if radius is None else to_rational(radius, "slice radius"),
                 seed=None if seed is None else int(seed),
                 direction_kind=None if d.get("direction_kind") is None else str(d["direction_kind"]),
                 axes=None if axes is None else tuple(int(a) for a in axes))


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: cannot read the {what} ({e})") from e
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}: malformed JSON at line {e.lineno}: {e.msg}") from e


def load_slice(path: str | Path) -> Slice:
    """Read a slice file: JSON ``{"origin": [...], "directions": [[...], ...]}``."""
    p = Path(path)
    try:
        return slice_from_dict(_read_json(p, "slice"), source=str(p))
    except InvalidArgumentError as e:
        raise InvalidSliceError(f"{p}: {e}") from None
    except InvalidDomainError as e:
        raise InvalidSliceError(f"{p}: {e}") from None


def _read_points(path: Path) -> list[tuple[Fraction, ...]]:
    from .dual import load_points
    from .errors import ExactCellsError

    if path.suffix.lower() == ".json":
        data = _read_json(path, "points")
        if isinstance(data, list) and data and not any(isinstance(v, (list, dict)) for v in data):
            data = [data]  # one point written as a flat list
        rows = data.get("points") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise FormatError(f"{path}: expected a list of points or {{\"points\": [...]}}")
        try:
            return [_point(r, f"{path}: point {i}") for i, r in enumerate(rows)]
        except ExactCellsError as e:
            raise FormatError(str(e)) from None
    if path.suffix.lower() == ".npy":
        arr = _point_array(path)
        try:
            return [_point(r.tolist(), f"{path}: point {i}") for i, r in enumerate(arr)]
        except ExactCellsError as e:
            raise FormatError(str(e)) from None
    pts = load_points(path)
    return [_point(r, f"{path}: point {i}") for i, r in enumerate(pts)]


def read_points(path: str | Path) -> Sequence[Sequence[Any]]:
    """Points of a file (as :func:`exactcells.dual.load_points`, plus a flat JSON list for one
    point); a ``.npy`` file stays a float array whose rows are converted exactly when used."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        arr = _point_array(p)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise FormatError(f"{p}: the array has NaN or infinite entries")
        rows: Sequence[Sequence[Any]] = arr  # type: ignore[assignment]  # an (N, n) array is a sequence of rows
        return rows
    return _read_points(p)


def _point_array(path: Path) -> np.ndarray:
    """A ``.npy`` file of points, read by the hardened reader (the header is checked before
    anything is allocated), as a numeric ``(N, n)`` array."""
    from .io import read_npy

    arr = read_npy(path, FormatError)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise FormatError(f"{path}: expected a numeric array of shape (N, n), got {arr.dtype} {arr.shape}")
    return arr


def exact_row(row: Sequence[Any], what: str = "point") -> tuple[Fraction, ...]:
    """A point read exactly (numpy floats are their binary values, numpy integers integers)."""
    if isinstance(row, np.ndarray):
        row = row.tolist()
    out = []
    for v in row:
        if isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = float(v)
        out.append(to_rational(v, what))
    return tuple(out)


def points_in_slice(sl: Slice, points: Sequence[Sequence[Any]]) -> tuple[list[int], list[tuple[Fraction, ...]]]:
    """The indices of the points that lie in the slice (exactly) and their slice coordinates."""
    idx: list[int] = []
    coords: list[tuple[Fraction, ...]] = []
    for i, x in enumerate(points):
        if len(x) != sl.ambient_dim:
            raise InvalidSliceError(f"point {i} has {len(x)} coordinates but the slice lives in R^{sl.ambient_dim}")
        t = sl.locate(x.tolist() if isinstance(x, np.ndarray) else x)
        if t is not None:
            idx.append(i)
            coords.append(t)
    return idx, coords


def load_plane(path: str | Path, n: int | None = None) -> Slice:
    """Read exactly three points (JSON list, ``.npy`` of shape (3, n), CSV/TXT) and make a plane."""
    p = Path(path)
    pts = _read_points(p)
    if len(pts) != 3:
        raise InvalidSliceError(f"{p}: a plane needs exactly 3 points, the file has {len(pts)}")
    for i, q in enumerate(pts):
        if n is not None and len(q) != n:
            raise InvalidSliceError(f"{p}: point p{i} has {len(q)} coordinates but the network takes {n} inputs")
    try:
        return plane_through(pts[0], pts[1], pts[2], source=str(p))
    except InvalidSliceError as e:
        raise InvalidSliceError(f"{p}: {e}") from None


def load_point(path: str | Path, n: int | None = None) -> tuple[Fraction, ...]:
    """Read one point (JSON list, ``.npy`` of shape (n,) or (1, n), a CSV/TXT line)."""
    p = Path(path)
    pts = _read_points(p)
    if len(pts) != 1:
        raise InvalidSliceError(f"{p}: expected exactly one point, the file has {len(pts)}")
    if n is not None and len(pts[0]) != n:
        raise InvalidSliceError(f"{p}: the point has {len(pts[0])} coordinates but the network takes {n} inputs")
    return pts[0]


def around_point(
    center: Sequence[Any],
    radius: Any,
    dims: int = 2,
    *,
    directions: str | Sequence[Sequence[Any]] = "gaussian",
    seed: int = 0,
    source: str | None = None,
) -> Slice:
    """The ``dims``-dimensional neighbourhood of ``center``: slice coordinates in ``[-R, R]^dims``.

    ``directions`` is ``"coordinate"`` (``dims`` distinct input axes drawn with a seeded numpy
    Generator), ``"gaussian"`` (standard normal vectors drawn with a seeded Generator and
    normalised to unit length in floating point; their exact binary values are the directions,
    recorded exactly) or the directions themselves.
    """
    c = _point(center, "centre")
    n = len(c)
    R = to_rational(radius, "radius")
    if R <= 0:
        raise InvalidSliceError(f"the radius must be positive, got {format_rational(R)}")
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= min(n, MAX_SLICE_DIM):
        raise InvalidSliceError(f"--dims must be between 1 and {min(n, MAX_SLICE_DIM)} for a point of R^{n}, "
                                f"got {dims}")
    rng = np.random.default_rng(seed)
    axes: tuple[int, ...] | None = None
    if isinstance(directions, str):
        kind = directions
        if kind == "coordinate":
            axes = tuple(sorted(int(i) for i in rng.choice(n, size=dims, replace=False)))
            dirs = tuple(tuple(Fraction(int(i == a)) for i in range(n)) for a in axes)
        elif kind == "gaussian":
            G = rng.standard_normal((dims, n))
            G /= np.linalg.norm(G, axis=1, keepdims=True)
            dirs = tuple(tuple(Fraction(float(v)) for v in row) for row in G)
        else:
            raise InvalidSliceError(f"unknown direction kind {kind!r} (use coordinate, gaussian or a file)")
        used_seed: int | None = seed
    else:
        kind = "given"
        dirs = tuple(_point(d, f"direction {i}") for i, d in enumerate(directions))
        if len(dirs) != dims:
            raise InvalidSliceError(f"{len(dirs)} directions given but --dims is {dims}")
        used_seed = None
    return Slice(c, dirs, kind="around", points=(c,), source=source, radius=R, seed=used_seed,
                 direction_kind=kind, axes=axes)


def axis_plane(lo: Sequence[Fraction], hi: Sequence[Fraction]) -> tuple[Slice, Domain]:
    """The plane through the centre of the box ``[lo, hi]`` spanned by ``x1`` and ``x2``.

    Its coordinates are ``x1`` and ``x2`` themselves, on ``[lo1, hi1] x [lo2, hi2]``.
    """
    n = len(lo)
    centre = [(a + b) / 2 for a, b in zip(lo, hi)]
    origin = (Fraction(0), Fraction(0), *centre[2:])
    dirs = tuple(tuple(Fraction(int(i == j)) for i in range(n)) for j in (0, 1))
    rest = {format_rational(v) for v in centre[2:]}
    if len(rest) == 1:
        fixed = f"x3 = ... = x{n} = {rest.pop()}" if n > 3 else f"x3 = {rest.pop()}"
    else:
        fixed = ", ".join(f"x{i + 1} = {format_rational(centre[i])}" for i in range(2, min(n, 5)))
        fixed += ", ..." if n > 5 else ""
    note = f"spanned by x1 and x2 through the domain's centre ({fixed})"
    sl = Slice(origin, dirs, kind="default", source=note, direction_kind="coordinate", axes=(0, 1))
    return sl, Domain.box(2, [lo[0], lo[1]], [hi[0], hi[1]])


# -- the domain in slice coordinates -------------------------------------------------------------

def box_rows(k: int, lo: Fraction, hi: Fraction) -> Rows:
    """The rows of the box ``[lo, hi]^k``."""
    A: list[tuple[Fraction, ...]] = []
    c: list[Fraction] = []
    for i in range(k):
        A.append(tuple(Fraction(-int(j == i)) for j in range(k)))
        c.append(-lo)
        A.append(tuple(Fraction(int(j == i)) for j in range(k)))
        c.append(hi)
    return A, c


def _reduce_rows(A: Sequence[Sequence[Fraction]], c: Sequence[Fraction], what: str) -> Rows:
    """Drop rows that hold everywhere and keep the tightest of rows with the same direction.

    Raises :class:`~exactcells.errors.EmptyDomainError` for a row ``0 <= negative``.
    """
    best: dict[tuple[Fraction, ...], Fraction] = {}
    for i, (a, ci) in enumerate(zip(A, c)):
        piv = next((abs(v) for v in a if v != 0), None)
        if piv is None:
            if ci < 0:
                raise EmptyDomainError(f"{what} does not meet the slice (its row {i} fails everywhere on it)")
            continue
        key = tuple(v / piv for v in a)
        val = ci / piv
        if key not in best or val < best[key]:
            best[key] = val
    return list(best), list(best.values())


def _active_rows(base: Domain, A: list[tuple[Fraction, ...]], c: list[Fraction], what: str) -> Rows:
    """A subset of the rows ``A t <= c`` that cuts ``base`` to the same polytope, found by adding
    rows violated at the current vertices (cddlib on few rows each round, exact throughout).

    At the end every vertex of ``Q = base ∩ {chosen rows}`` satisfies every row, so ``Q`` (the
    hull of its vertices) lies in every half-space: ``Q`` is the whole intersection.
    """
    from .geometry import vertices_of

    chosen: list[int] = []
    left = list(range(len(A)))
    verts: list[tuple[Fraction, ...]] = list(base.vertices)
    scale = [max(abs(v) for v in row) for row in A]
    while True:
        worst: dict[int, tuple[Fraction, int]] = {}  # vertex -> (largest scaled violation, row)
        still: list[int] = []
        for i in left:
            a, ci = A[i], c[i]
            hit = False
            for j, v in enumerate(verts):
                excess = sum((x * y for x, y in zip(a, v)), Fraction(0)) - ci
                if excess > 0:
                    hit = True
                    val = excess / scale[i]
                    if j not in worst or val > worst[j][0]:
                        worst[j] = (val, i)
            if hit:
                still.append(i)
        if not worst:
            return [A[i] for i in chosen], [c[i] for i in chosen]
        new = sorted({i for _, i in worst.values()})
        chosen += new
        left = [i for i in still if i not in set(new)]
        rows_A = list(base.A) + [A[i] for i in chosen]
        rows_c = list(base.c) + [c[i] for i in chosen]
        verts, _, _ = vertices_of(rows_A, rows_c)
        if not verts:
            raise EmptyDomainError(f"{what} does not meet the slice's domain {base.describe()} (empty intersection)")


def plane_domain(sl: Slice, base: Domain, ambient: Rows | None = None, ambient_name: str = "the ambient domain",
                 ) -> Domain:
    """``base`` (a domain in slice coordinates) intersected with the pull-back of ``ambient``.

    ``ambient`` holds rows ``A x <= c`` of ``R^n`` (use :meth:`Slice.pullback` or
    :meth:`Slice.box_pullback`). Raises :class:`~exactcells.errors.EmptyDomainError` when the
    ambient domain does not meet the slice's domain and
    :class:`~exactcells.errors.FlatDomainError` when it meets it in a lower-dimensional set.
    """
    if base.dim != sl.dim:
        raise InvalidDomainError(f"the domain in slice coordinates lives in R^{base.dim}, "
                                 f"but the slice has {sl.dim} coordinates")
    if ambient is None:
        return base
    A, c = _reduce_rows(ambient[0], ambient[1], ambient_name)
    if not A:
        return base
    A, c = _active_rows(base, A, c, ambient_name)
    try:
        return Domain(list(base.A) + list(A), list(base.c) + list(c))
    except EmptyDomainError:
        raise EmptyDomainError(f"{ambient_name} does not meet the slice's domain {base.describe()} "
                               "(empty intersection)") from None
    except FlatDomainError:
        raise FlatDomainError(f"{ambient_name} meets the slice's domain {base.describe()} only in a "
                              f"lower-dimensional set") from None


# -- older helpers -----------------------------------------------------------------------------

def restrict_to_plane(
    net: Network,
    domain: Domain,
    origin: Sequence[Fraction],
    directions: Sequence[Sequence[Fraction]],
) -> tuple[Network, Domain]:
    """The network ``t -> F(origin + sum_k t_k d_k)`` and the domain's preimage, exactly.

    ``domain`` is a domain of ``R^n`` already built; for high-dimensional inputs build the slice
    domain with :func:`plane_domain` instead (it never enumerates the ambient domain).
    """
    sl = Slice(tuple(Fraction(v) for v in origin), tuple(tuple(Fraction(v) for v in d) for d in directions))
    new_net = sl.restrict(net)
    if domain.box_bounds is not None and all(
        sum(1 for x in d if x != 0) == 1 and all(x in (0, 1) for x in d) for d in directions
    ):
        axes = [next(i for i, x in enumerate(d) if x == 1) for d in directions]
        lo = [domain.box_bounds[i][0] - origin[i] for i in axes]
        hi = [domain.box_bounds[i][1] - origin[i] for i in axes]
        return new_net, Domain.box(len(directions), lo, hi)
    A, c = sl.pullback(domain.A, domain.c)
    return new_net, Domain(A, c)


def default_slice(net: Network, domain: Domain) -> tuple[Network, Domain, str]:
    """The slice through the domain's vertex centroid along the first two coordinates.

    Returns the restricted network and domain and a sentence that says which slice it is.
    """
    n = domain.dim
    k = len(domain.vertices)
    center = [sum((v[i] for v in domain.vertices), Fraction(0)) / k for i in range(n)]
    if domain.box_bounds is not None:
        center = [(a + b) / 2 for a, b in domain.box_bounds]
    dirs = [[Fraction(int(i == j)) for i in range(n)] for j in (0, 1)]
    origin = [Fraction(0)] * 2 + center[2:]
    net2, dom2 = restrict_to_plane(net, domain, origin, dirs)
    fixed = ", ".join(f"x{i + 1} = {float_view(center[i]):g}" for i in range(2, n))
    return net2, dom2, f"2-D slice spanned by x1 and x2 through the domain's centre ({fixed})"
