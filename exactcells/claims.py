"""Verdicts on decompositions claimed by other tools, against the exact complex.

The claim format (JSON; everything but ``regions`` is optional)::

    {
      "format": "exactcells-claim", "version": 1,
      "regions": [
        {"pattern": "0110...",            # one character per hidden neuron, layer order:
                                          # "1" active (pre-activation > 0), "0" inactive
         "vertices": [[x, y], ...],       # optional: the region's vertices (numbers)
         "neighbors": [3, 17]},           # optional: indices into "regions"
        ...
      ],
      "cells": [                          # optional: cells of any dimension
        {"pattern": "+-0+...", "dim": 1, "vertices": [[x, y], ...]},   # ternary: + - 0
        ...
      ]
    }

Vertex coordinates are numbers in the network-JSON rules (a float is its exact binary value, a
string such as ``"1/3"`` is exact). A claimed coordinate is right when it equals the exact one or
the exact one correctly rounded to float64 (what a float tool can best report); both tests are
exact comparisons. A claimed region's vertices must be exactly the vertices of the exact regions
with its pattern, and a claimed cell's ``dim`` must be the dimension of an exact cell with its
pattern.

A region of the exact complex is *found* by the claim when its binary pattern (neuron ``j`` is
``1`` iff its sign is ``+1``) is claimed. Several exact regions can share a binary pattern (a
neuron identically zero on one of them, or two regions separated only by deeper layers): a
claimed pattern counts for all of them. The verdict (:func:`judge_claim`) lists the exact regions
that are missing (with exact volume and an exact interior point), the claimed patterns that are
no region (spurious), the claimed adjacencies that are wrong and the exact ones that are missing
(the exact dual graph: two regions sharing an ``(n-1)``-cell), and the largest distance of a
claimed vertex from the exact vertex it stands for.

Adapters build claims the way other tools work: :func:`claim_from_points` and
:func:`claim_from_grid` (patterns seen at sample points / pixel centres, float forward passes as
those tools do), :func:`with_hamming_neighbors` (the paper's Hamming-distance-1 dual graph), and
:func:`claim_from_dump` (vertices + edges + sign vectors, as edge-subdivision tools report).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .complex import PolyhedralComplex
from .domain import Domain
from .errors import FormatError, NonRationalInputError
from .network import Network
from .numbers import float_or_none, float_view, format_rational, format_signs, to_rational

__all__ = [
    "ClaimedRegion",
    "ClaimedCell",
    "Claim",
    "MissingRegion",
    "ClaimVerdict",
    "load_claim",
    "claim_from_dict",
    "judge_claim",
    "claim_from_points",
    "claim_from_grid",
    "with_hamming_neighbors",
    "claim_from_dump",
    "exact_dual_edges",
]

CLAIM_FORMAT = "exactcells-claim"


@dataclass(frozen=True, slots=True)
class ClaimedRegion:
    """One claimed region: a binary pattern, optional float vertices and neighbour indices."""

    pattern: str
    vertices: tuple[tuple[Fraction, ...], ...] | None = None
    neighbors: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class ClaimedCell:
    """A claimed cell of any dimension: a ternary pattern (``+ - 0``) over the hidden neurons."""

    pattern: str
    dim: int | None = None
    vertices: tuple[tuple[Fraction, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed decomposition (see the module docstring for the JSON format)."""

    regions: tuple[ClaimedRegion, ...]
    cells: tuple[ClaimedCell, ...] = ()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": CLAIM_FORMAT, "version": 1, "regions": []}
        for r in self.regions:
            d: dict[str, Any] = {"pattern": r.pattern}
            if r.vertices is not None:
                d["vertices"] = _points_json(r.vertices)
            if r.neighbors is not None:
                d["neighbors"] = list(r.neighbors)
            out["regions"].append(d)
        if self.cells:
            out["cells"] = [{"pattern": c.pattern, **({"dim": c.dim} if c.dim is not None else {}),
                             **({"vertices": _points_json(c.vertices)} if c.vertices else {})}
                            for c in self.cells]
        if self.source:
            out["source"] = self.source
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _points_json(points: tuple[tuple[Fraction, ...], ...]) -> list[list[Any]]:
    """Coordinates for JSON: a float when the value is one exactly, else an exact string."""
    def num(x: Fraction) -> Any:
        f = float_view(x)
        return f if math.isfinite(f) and Fraction(f) == x else format_rational(x)

    return [[num(x) for x in p] for p in points]


def _points(obj: Any, where: str) -> tuple[tuple[Fraction, ...], ...]:
    if not isinstance(obj, (list, tuple)) or not all(isinstance(p, (list, tuple, np.ndarray)) for p in obj):
        raise FormatError(f"{where}: 'vertices' must be a list of coordinate lists")
    try:
        return tuple(tuple(to_rational(x, f"{where}, vertex {j}") for x in p) for j, p in enumerate(obj))
    except NonRationalInputError as e:
        raise FormatError(f"{where}: a vertex coordinate is not a finite number ({e})") from None


def claim_from_dict(d: Any) -> Claim:
    """Read a claim from its JSON object (``FormatError`` with a clear message when malformed)."""
    if not isinstance(d, dict):
        raise FormatError("a claim must be a JSON object with a 'regions' list")
    if "regions" not in d:
        raise FormatError("the claim has no 'regions' list (it is required, even if empty)")
    regs = d["regions"]
    if not isinstance(regs, list):
        raise FormatError("'regions' must be a list")
    regions = []
    for i, r in enumerate(regs):
        if not isinstance(r, dict) or not isinstance(r.get("pattern"), str):
            raise FormatError(f"region {i}: needs a string 'pattern'")
        p = r["pattern"]
        if set(p) - {"0", "1"}:
            raise FormatError(f"region {i}: pattern {p!r} may only contain '0' and '1'")
        nb = r.get("neighbors")
        if nb is not None and (not isinstance(nb, list) or not all(isinstance(x, int) for x in nb)
                               or any(x < 0 or x >= len(regs) for x in nb)):
            raise FormatError(f"region {i}: 'neighbors' must be indices into 'regions'")
        regions.append(ClaimedRegion(p, _points(r["vertices"], f"region {i}") if "vertices" in r else None,
                                     tuple(nb) if nb is not None else None))
    cells = []
    cells_in = d.get("cells", []) or []
    if not isinstance(cells_in, list):
        raise FormatError("'cells' must be a list")
    for i, c in enumerate(cells_in):
        if not isinstance(c, dict) or not isinstance(c.get("pattern"), str):
            raise FormatError(f"cell {i}: needs a string 'pattern'")
        dim = c.get("dim")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 0):
            raise FormatError(f"cell {i}: 'dim' must be a non-negative integer, got {dim!r}")
        if set(c["pattern"]) - {"+", "-", "0"}:
            raise FormatError(f"cell {i}: pattern {c['pattern']!r} may only contain '+', '-' and '0'")
        cells.append(ClaimedCell(c["pattern"], c.get("dim"),
                                 _points(c["vertices"], f"cell {i}") if "vertices" in c else None))
    return Claim(tuple(regions), tuple(cells), str(d.get("source", "")))


def load_claim(path: str | Path) -> Claim:
    """Read a claim JSON file."""
    from .io import read_json

    p = Path(path)
    d = read_json(p, FormatError)
    try:
        return claim_from_dict(d)
    except FormatError as e:
        raise FormatError(f"{p}: {e}") from None


# -- the verdict -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MissingRegion:
    """An exact region the claim does not have."""

    cell: int
    pattern: str
    volume: Fraction
    interior_point: tuple[Fraction, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "pattern": self.pattern, "volume": format_rational(self.volume),
                "volume_float": float_or_none(self.volume),
                "interior_point": [format_rational(x) for x in self.interior_point]}


@dataclass(frozen=True, slots=True)
class ClaimVerdict:
    """The verdict of :func:`judge_claim`.

    Counts refer to binary patterns for the claim and to exact regions for the complex.
    ``adjacency_*`` are ``None`` when the claim has no ``neighbors``; ``max_vertex_distance``
    is ``None`` when it has no vertices; ``cells_*`` are ``None`` when it has no ``cells``.
    """

    num_exact_regions: int
    num_claimed_patterns: int
    missing: tuple[MissingRegion, ...]
    spurious_patterns: tuple[str, ...]
    missing_volume_fraction: Fraction
    adjacency_wrong: tuple[tuple[str, str], ...] | None
    adjacency_missing: tuple[tuple[str, str], ...] | None
    adjacency_precision: float | None
    adjacency_recall: float | None
    max_vertex_distance: float | None
    cells_spurious: tuple[str, ...] | None = None
    cells_missing: int | None = None
    vertices_wrong: int | None = None
    vertices_missing: int | None = None
    cells_wrong_dim: int | None = None

    @property
    def exact(self) -> bool:
        """Nothing missing, nothing spurious, no wrong or missing adjacency, vertex or dimension."""
        return (not self.missing and not self.spurious_patterns and not self.adjacency_wrong
                and not self.adjacency_missing and not self.cells_spurious and not self.cells_missing
                and not self.vertices_wrong and not self.vertices_missing
                and not self.cells_wrong_dim)

    def to_dict(self, max_listed: int = 50) -> dict[str, Any]:
        return {
            "exact": self.exact,
            "num_exact_regions": self.num_exact_regions,
            "num_claimed_patterns": self.num_claimed_patterns,
            "missing_regions": len(self.missing),
            "spurious_regions": len(self.spurious_patterns),
            "missing_volume_fraction": format_rational(self.missing_volume_fraction),
            "missing_volume_fraction_float": float_or_none(self.missing_volume_fraction),
            "missing": [m.to_dict() for m in self.missing[:max_listed]],
            "spurious": list(self.spurious_patterns[:max_listed]),
            "adjacency_wrong": None if self.adjacency_wrong is None else len(self.adjacency_wrong),
            "adjacency_missing": None if self.adjacency_missing is None else len(self.adjacency_missing),
            "adjacency_precision": self.adjacency_precision,
            "adjacency_recall": self.adjacency_recall,
            "max_vertex_distance": (self.max_vertex_distance if self.max_vertex_distance is None
                                    or math.isfinite(self.max_vertex_distance) else None),
            "cells_spurious": None if self.cells_spurious is None else len(self.cells_spurious),
            "cells_missing": self.cells_missing,
            "vertices_wrong": self.vertices_wrong,
            "vertices_missing": self.vertices_missing,
            "cells_wrong_dim": self.cells_wrong_dim,
        }

    def summary(self) -> str:
        lines = [f"{'EXACT' if self.exact else 'NOT EXACT'}: {self.num_claimed_patterns} claimed patterns, "
                 f"{self.num_exact_regions} exact regions",
                 f"missing regions: {len(self.missing)} (volume fraction "
                 f"= {float(self.missing_volume_fraction):.3g})",
                 f"spurious patterns: {len(self.spurious_patterns)}"]
        if self.adjacency_wrong is not None:
            lines.append(f"adjacency: {len(self.adjacency_wrong)} wrong, {len(self.adjacency_missing or ())} "
                         f"missing (precision {self.adjacency_precision:.3f}, recall "
                         f"{self.adjacency_recall:.3f})")
        if self.max_vertex_distance is not None:
            lines.append(f"largest distance of a claimed vertex from the exact one: {self.max_vertex_distance:.3g}")
            lines.append(f"vertices: {self.vertices_wrong or 0} claimed vertices are not exact vertices, "
                         f"{self.vertices_missing or 0} exact vertices are not claimed")
        if self.cells_spurious is not None:
            lines.append(f"cells: {len(self.cells_spurious)} spurious, {self.cells_missing} missing, "
                         f"{self.cells_wrong_dim or 0} with a wrong dimension")
        return "\n".join(lines)


def _binary(signs: np.ndarray) -> list[str]:
    return ["".join("1" if s > 0 else "0" for s in row) for row in signs]


def _ternary(signs: np.ndarray) -> list[str]:
    return [format_signs(row) for row in signs]


def exact_dual_edges(K: PolyhedralComplex) -> set[tuple[int, int]]:
    """The exact dual graph's edges as pairs of node indices (node ``i`` = ``K.regions()[i]``).

    Uses :func:`exactcells.dual.dual_graph`: two regions are adjacent iff they share an
    ``(n-1)``-cell.
    """
    from .dual import dual_graph

    return dual_graph(K).edge_set()


def judge_claim(K: PolyhedralComplex, claim: Claim) -> ClaimVerdict:
    """Compare a claimed decomposition with the exact complex ``K`` (cut by the hidden neurons).

    Raises
    ------
    FormatError
        When a pattern's length is not the number of hidden neurons.
    """
    nh = K.network.num_hidden
    for i, r in enumerate(claim.regions):
        if len(r.pattern) != nh:
            raise FormatError(f"region {i}: pattern has {len(r.pattern)} characters, the network "
                              f"has {nh} hidden neurons")
    for i, c in enumerate(claim.cells):
        if len(c.pattern) != nh:
            raise FormatError(f"cell {i}: pattern has {len(c.pattern)} characters, not {nh}")
    n = K.input_dim
    owners: list[tuple[str, int, tuple[tuple[Fraction, ...], ...] | None]] = [
        ("region", i, r.vertices) for i, r in enumerate(claim.regions)]
    owners += [("cell", i, c.vertices) for i, c in enumerate(claim.cells)]
    for what, i, verts in owners:
        for j, v in enumerate(verts or ()):
            if len(v) != n:
                raise FormatError(f"{what} {i}: vertex {j} has {len(v)} coordinates, the network "
                                  f"takes {n} inputs")
    for i, c in enumerate(claim.cells):
        if c.dim is not None and not 0 <= c.dim <= n:
            raise FormatError(f"cell {i}: dimension {c.dim} is not between 0 and {n}")
    regs = K.regions()
    sl = K.sign_slices()["neurons"]
    pats = _binary(np.asarray(K.signs[regs.start:regs.stop, sl]))
    claimed = [r.pattern for r in claim.regions]
    cset = set(claimed)
    by_pattern: dict[str, list[int]] = {}
    for node, p in enumerate(pats):
        by_pattern.setdefault(p, []).append(node)
    dvol = K.domain.volume()
    missing = []
    for node, p in enumerate(pats):
        if p not in cset:
            ci = regs.start + node
            missing.append(MissingRegion(ci, p, K.volume(ci), K.interior_point(ci)))
    mvol = sum((m.volume for m in missing), Fraction(0)) / dvol
    spurious = tuple(sorted({p for p in claimed if p not in by_pattern}))
    # adjacency
    aw = am = None
    prec = rec = None
    if any(r.neighbors is not None for r in claim.regions):
        def pair(a: str, b: str) -> tuple[str, str]:
            return (a, b) if a < b else (b, a)

        cl_edges = {pair(claimed[i], claimed[j])
                    for i, r in enumerate(claim.regions) for j in (r.neighbors or ()) if claimed[i] != claimed[j]}
        ex_edges = {pair(pats[a], pats[b]) for a, b in exact_dual_edges(K) if pats[a] != pats[b]}
        aw = tuple(sorted(e for e in cl_edges if e not in ex_edges))
        am = tuple(sorted(e for e in ex_edges if e not in cl_edges))
        tp = len(cl_edges & ex_edges)
        prec = tp / len(cl_edges) if cl_edges else 1.0
        rec = tp / len(ex_edges) if ex_edges else 1.0
    # vertices: distances (float view) and exact identity
    maxd: float | None = None
    vwrong = vmissing = None
    V = K.vertices_float()
    vsets = K.vertex_sets()
    index = _VertexIndex(K)
    for r in claim.regions:
        if r.vertices is None:
            continue
        vwrong, vmissing = vwrong or 0, vmissing or 0
        nodes = by_pattern.get(r.pattern)
        cand = sorted(set().union(*(vsets[regs.start + x] for x in nodes))) if nodes else list(range(len(V)))
        found = [index.find(v) for v in r.vertices]
        vwrong += sum(1 for f in found if f is None or f not in cand)
        if nodes:
            vmissing += len(set(cand) - {f for f in found if f is not None})
        if not r.vertices:
            continue
        P = np.array([[float_view(x) for x in v] for v in r.vertices], dtype=float)
        maxd = max(maxd or 0.0, float(_nearest_distances(P, V[cand]).max()))
    cs = cm = cwd = None
    if claim.cells:
        allpats = set(_ternary(np.asarray(K.signs[:, sl])))
        cpats = {c.pattern for c in claim.cells}
        cs = tuple(sorted(p for p in cpats if p not in allpats))
        cdims = {c.dim for c in claim.cells if c.dim is not None}
        rows = np.flatnonzero(np.isin(np.asarray(K.dims), sorted(cdims))) if cdims else np.arange(regs.start)
        lower = set(_ternary(np.asarray(K.signs[rows][:, sl])))
        cm = len(lower - cpats)
        dims_of: dict[str, set[int]] = {}
        for pat, k in zip(_ternary(np.asarray(K.signs[:, sl])), np.asarray(K.dims).tolist()):
            dims_of.setdefault(pat, set()).add(int(k))
        cwd = sum(1 for c in claim.cells
                  if c.dim is not None and c.pattern in dims_of and c.dim not in dims_of[c.pattern])
        for c in claim.cells:
            if c.vertices:
                vwrong = (vwrong or 0) + sum(1 for v in c.vertices if index.find(v) is None)
                P = np.array([[float_view(x) for x in v] for v in c.vertices], dtype=float)
                d = np.min(np.linalg.norm(P[:, None, :] - V[None, :, :], axis=2), axis=1)
                maxd = max(maxd or 0.0, float(d.max()))
    return ClaimVerdict(len(pats), len(cset), tuple(missing), spurious, mvol, aw, am, prec, rec, maxd,
                        cs, cm, vwrong, vmissing, cwd)


def _nearest_distances(P: np.ndarray, V: np.ndarray) -> np.ndarray:
    """The Euclidean distance from each row of ``P`` to its nearest row of ``V`` (float view),
    without overflow in the squares (each difference scaled by the pair's largest); ``inf``
    where a difference is beyond the float range."""
    with np.errstate(over="ignore", invalid="ignore"):
        D = np.abs(P[:, None, :] - V[None, :, :])
        s = D.max(axis=2)
        unit = D / np.where(s > 0, s, 1.0)[..., None]
        d = np.where(np.isfinite(s), s * np.sqrt((unit**2).sum(axis=2)), np.inf)
    return d.min(axis=1)


class _VertexIndex:
    """Finds the exact vertex a claimed point stands for: each claimed coordinate must equal the
    exact coordinate or its correctly rounded float64 (exact comparisons, no tolerance)."""

    def __init__(self, K: PolyhedralComplex) -> None:
        self._exact = [K.vertex(v) for v in range(K.f_vector[0])]
        self._by_float: dict[tuple[float, ...], list[int]] = {}
        for v, x in enumerate(self._exact):
            self._by_float.setdefault(tuple(float_view(c) for c in x), []).append(v)

    def find(self, point: Sequence[Fraction]) -> int | None:
        key = tuple(float_view(c) for c in point)
        for v in self._by_float.get(key, ()):
            if all(c == e or c == Fraction(f) for c, e, f in zip(point, self._exact[v], key)):
                return v
        return None


# -- adapters ----------------------------------------------------------------------------------

def _float_patterns(net: Network, X: np.ndarray) -> list[str]:
    S = net.hidden_signs_float(X)
    return ["".join("1" if s > 0 else "0" for s in row) for row in S]


def claim_from_points(net: Network, X: np.ndarray, source: str = "sampled points") -> Claim:
    """The patterns a sampling tool sees at points ``X`` (float forward pass), one region each."""
    seen = dict.fromkeys(_float_patterns(net, np.asarray(X, dtype=float)))
    return Claim(tuple(ClaimedRegion(p) for p in seen), (), source)


def claim_from_grid(net: Network, domain: Domain, resolution: int) -> Claim:
    """The patterns at the pixel centres of a ``resolution``-per-axis grid over the domain's
    bounding box (points outside the domain are dropped), as the paper's 2-D tool samples."""
    from .dual.proxy import pixel_centres

    X = pixel_centres(domain, resolution)
    return claim_from_points(net, X, f"pixel grid {resolution}^{domain.dim}")


def with_hamming_neighbors(claim: Claim) -> Claim:
    """The claim with the paper's dual graph: regions whose patterns differ in one neuron."""
    from .dual.proxy import hamming1_pairs

    index = {r.pattern: i for i, r in enumerate(claim.regions)}  # a repeated pattern: its last region
    nbs: dict[str, list[int]] = {p: [] for p in index}
    for length in {len(p) for p in index}:
        pats = [p for p in index if len(p) == length and set(p) <= {"0", "1"}]
        bits = np.array([[ch == "1" for ch in p] for p in pats], dtype=bool).reshape(len(pats), length)
        for a, b in hamming1_pairs(bits).tolist():
            nbs[pats[a]].append(index[pats[b]])
            nbs[pats[b]].append(index[pats[a]])
    out = [ClaimedRegion(r.pattern, r.vertices, tuple(sorted(nbs[r.pattern]))) for r in claim.regions]
    return Claim(tuple(out), claim.cells, claim.source + " + Hamming-1 dual graph")


def claim_from_dump(
    vertices: Sequence[Sequence[float]],
    edges: Sequence[tuple[int, int]],
    sign_vectors: Sequence[Sequence[int]],
    regions: Sequence[str] | None = None,
) -> Claim:
    """A claim from a vertices + edges + sign-vectors dump (edge-subdivision tools' output).

    ``sign_vectors[i]`` are the hidden-neuron signs (-1, 0, +1) of vertex ``i``; an edge's pattern
    is the join of its ends' (where they differ in a nonzero entry the dump is inconsistent and
    the edge keeps the first end's sign, which the verdict will show as spurious). ``regions``
    (binary patterns) are optional, since such tools often report only the 1-skeleton.
    """
    def point(v: Sequence[float]) -> tuple[Fraction, ...]:
        return tuple(to_rational(x, "a dumped vertex") for x in v)

    cells = [ClaimedCell(format_signs(s), 0, (point(v),)) for v, s in zip(vertices, sign_vectors)]
    for a, b in edges:
        sa, sb = sign_vectors[a], sign_vectors[b]
        j = [x if x != 0 else y for x, y in zip(sa, sb)]
        cells.append(ClaimedCell(format_signs(j), 1, (point(vertices[a]), point(vertices[b]))))
    regs = tuple(ClaimedRegion(p) for p in (regions or ()))
    return Claim(regs, tuple(cells), "vertices + edges + sign vectors dump")
