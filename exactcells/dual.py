"""The exact dual graph of the regions of a complex, and where points fall in it.

The **dual graph** of a polyhedral complex ``K`` that subdivides a polytope domain has one node
per top-dimensional cell (region) and one edge per ``(n-1)``-cell with exactly two cofacets: the
two regions that share it. Cells of a polyhedral complex meet in a common face, so two regions
share at most one ``(n-1)``-cell and the graph has no multi-edges; ``(n-1)``-cells with one
cofacet lie on the domain's boundary. Because the domain is convex, the dual graph is connected.

Everything here is exact: volumes and centroids are :class:`~fractions.Fraction`, the
``(n-1)``-volume of a shared facet is ``coefficient * sqrt(radicand)`` with a rational
coefficient and an integer radicand (:class:`FacetVolume`), and points are located in regions
by exact sign vectors. Float values appear only in attributes named ``*_float`` or ``value``.

Node numbering: node ``i`` is the region ``K.regions()[i]``, i.e. regions in canonical order
(by sign vector).

The paper's proxy (arXiv 2510.12700) joins two regions whose binary activation patterns differ
in exactly one neuron (:func:`hamming_proxy_edges`); :func:`compare_proxy` gives its precision
and recall against the exact dual graph. For one hidden layer with pairwise distinct
hyperplanes the two graphs coincide; for deeper networks they need not.

Examples
--------
>>> from exactcells import Domain, build_complex, network_from_dict
>>> net = network_from_dict({"layers": [{"W": [[1, 0], [1, 0]], "b": ["1/2", "-1/2"]},
...                                     {"W": [[1, 1]], "b": [0]}]})
>>> K = build_complex(net, Domain.box(2, -1, 1))
>>> G = dual_graph(K)
>>> G.num_nodes, G.num_edges
(3, 2)
>>> [v.volume for v in region_nodes(K)]  # x < -1/2, -1/2 < x < 1/2, x > 1/2
[Fraction(1, 1), Fraction(2, 1), Fraction(1, 1)]
>>> facet_volumes(K, G.edge_cells)[0].squared
Fraction(4, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .complex import PolyhedralComplex
from .errors import (
    ExactCellsError,
    FormatError,
    IncompleteComplexError,
    InvalidArgumentError,
    InvalidDomainError,
)
from .measure import homogeneous, pulling_triangulation, simplex_volume
from .numbers import to_rational

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "DualGraph",
    "RegionNode",
    "FacetVolume",
    "PointLocation",
    "ProxyComparison",
    "dual_graph",
    "region_nodes",
    "region_volumes_and_centroids",
    "facet_volume",
    "facet_volumes",
    "region_class_volumes",
    "region_argmax_volumes",
    "class_volumes",
    "to_networkx",
    "binary_patterns",
    "hamming_proxy_edges",
    "compare_proxy",
    "locate_points",
    "load_points",
]


# -- the graph ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DualGraph:
    """The dual graph of the regions of a complex (topology only; see :func:`region_nodes`
    and :func:`facet_volumes` for the exact attributes).

    Attributes
    ----------
    complex
        The complex whose regions are the nodes.
    edges
        ``(E, 2)`` int64 array of node pairs ``(i, j)`` with ``i < j``, sorted (read-only).
    edge_cells
        ``(E,)`` int64 array: the ``(n-1)``-cell the two regions of each edge share (read-only).
    """

    complex: PolyhedralComplex
    edges: np.ndarray
    edge_cells: np.ndarray

    @property
    def num_nodes(self) -> int:
        return self.complex.num_regions

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def region_cells(self) -> range:
        """The cell index of every node (node ``i`` is cell ``region_cells[i]``)."""
        return self.complex.regions()

    def node_of_cell(self, cell: int) -> int:
        """The node of a top cell (``ValueError`` for a lower-dimensional cell)."""
        r = self.complex.regions()
        if cell not in r:
            raise InvalidArgumentError(f"cell {cell} is not a region (regions are cells {r.start}..{r.stop - 1})")
        return cell - r.start

    def edge_set(self) -> set[tuple[int, int]]:
        """The edges as a set of node pairs ``(i, j)`` with ``i < j``."""
        return {(int(a), int(b)) for a, b in self.edges}

    def degrees(self) -> np.ndarray:
        """Number of neighbours of every node."""
        return np.bincount(self.edges.ravel(), minlength=self.num_nodes)


def dual_graph(K: PolyhedralComplex) -> DualGraph:
    """The exact dual graph of the regions of ``K`` (vectorized; no geometry is computed).

    Raises
    ------
    IncompleteComplexError
        When an ``(n-1)``-cell has more than two cofacets or two regions share two cells
        (impossible in a complete complex).
    """
    n = K.input_dim
    ptr, ind = K.cofacet_csr()
    regions = K.regions()
    ridges = K.cells_of_dim(n - 1)
    counts = np.diff(ptr[ridges.start : ridges.stop + 1])
    if counts.size and int(counts.max()) > 2:
        bad = int(np.argmax(counts)) + ridges.start
        raise IncompleteComplexError(f"the (n-1)-cell {bad} has {int(counts.max())} cofacets (at most 2 "
                                     "in a polyhedral complex of a polytope)")
    sel = np.nonzero(counts == 2)[0].astype(np.int64) + ridges.start
    a = ind[ptr[sel]].astype(np.int64)
    b = ind[ptr[sel] + 1].astype(np.int64)
    i = np.minimum(a, b) - regions.start
    j = np.maximum(a, b) - regions.start
    order = np.lexsort((j, i))
    edges = np.stack([i[order], j[order]], axis=1) if sel.size else np.zeros((0, 2), dtype=np.int64)
    cells = sel[order]
    if edges.shape[0] > 1:
        same = np.all(edges[1:] == edges[:-1], axis=1)
        if same.any():
            k = int(np.argmax(same))
            raise IncompleteComplexError(f"regions {regions.start + edges[k, 0]} and "
                                         f"{regions.start + edges[k, 1]} share two (n-1)-cells")
    edges.setflags(write=False)
    cells.setflags(write=False)
    return DualGraph(K, edges, cells)


# -- exact geometry of the nodes ---------------------------------------------------------------
def _det3(p: Sequence[int], q: Sequence[int], r: Sequence[int]) -> int:
    return (p[0] * (q[1] * r[2] - r[1] * q[2]) - p[1] * (q[0] * r[2] - r[0] * q[2])
            + p[2] * (q[0] * r[1] - r[0] * q[1]))


def region_volumes_and_centroids(
    K: PolyhedralComplex,
) -> tuple[list[Fraction], list[tuple[Fraction, ...]]]:
    """Exact volume and centre of mass of every region (in node order).

    Computed from a pulling triangulation of each region: the volume is the sum of the simplex
    volumes, the centroid the volume-weighted mean of the simplex barycentres.
    """
    n = K.input_dim
    hom = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
    vols: list[Fraction] = []
    cents: list[tuple[Fraction, ...]] = []
    if n == 2:
        fptr, find = K.facet_csr
        fptr_l = fptr.tolist()
        find_l = find.tolist()
        for r in K.regions():
            edges = find_l[fptr_l[r] : fptr_l[r + 1]]
            ev = [find_l[fptr_l[e] : fptr_l[e] + 2] for e in edges]
            apex = min(min(p) for p in ev)
            pa = hom[apex]
            # accumulate twice the area and the area-weighted sums of 3 * barycentre, per simplex
            vol = Fraction(0)
            sx = Fraction(0)
            sy = Fraction(0)
            for u, w in ev:
                if u == apex or w == apex:
                    continue
                pu, pw = hom[u], hom[w]
                den = pa[2] * pu[2] * pw[2]
                area = Fraction(abs(_det3(pa, pu, pw)), 2 * den)
                vol += area
                sx += area * (Fraction(pa[0], pa[2]) + Fraction(pu[0], pu[2]) + Fraction(pw[0], pw[2]))
                sy += area * (Fraction(pa[1], pa[2]) + Fraction(pu[1], pu[2]) + Fraction(pw[1], pw[2]))
            vols.append(vol)
            cents.append((sx / (3 * vol), sy / (3 * vol)))
        return vols, cents
    vsets = K.vertex_sets()
    for r in K.regions():
        simplices = pulling_triangulation(r, K.facets, vsets.__getitem__, K.dim)
        vol = Fraction(0)
        acc = [Fraction(0)] * n
        for s in simplices:
            sv = simplex_volume([hom[v] for v in s])
            vol += sv
            for k in range(n):
                acc[k] += sv * sum((Fraction(hom[v][k], hom[v][-1]) for v in s), Fraction(0))
        vols.append(vol)
        cents.append(tuple(a / ((n + 1) * vol) for a in acc))
    return vols, cents


@dataclass(frozen=True, slots=True)
class RegionNode:
    """The exact attributes of one node of the dual graph (one region).

    Attributes
    ----------
    node, cell
        The node index and the region's cell index in the complex.
    sign_vector
        The region's sign vector (neurons, domain facets, then outputs with ``with_output``).
    volume
        Exact ``n``-dimensional volume.
    centroid
        Exact centre of mass.
    output_signs
        Per output neuron: the sign of the output on the region's interior (+1, -1, or 0 when
        it is identically zero there), or ``None`` when it takes both strict signs inside.
    output_class
        One output: 1 when the output is positive on the region's interior, 0 when it is
        ``<= 0`` there (class 1 means ``F > 0``), ``None`` when it changes sign inside.
        Several outputs: the index ``k`` with ``F_k > F_j`` for all ``j != k`` on the whole
        interior, or ``None`` when there is no such index.
    output_changes_sign
        Whether some output takes both strict signs inside the region (always ``False`` for a
        complex built ``with_output``). Decided exactly from the output's values at the
        region's vertices: the output is affine on a region.
    """

    node: int
    cell: int
    sign_vector: tuple[int, ...]
    volume: Fraction
    centroid: tuple[Fraction, ...]
    output_signs: tuple[int | None, ...]
    output_class: int | None
    output_changes_sign: bool

    @property
    def volume_float(self) -> float:
        return float(self.volume)

    @property
    def centroid_float(self) -> tuple[float, ...]:
        return tuple(float(c) for c in self.centroid)


def _sign_on_interior(values: Iterable[Fraction]) -> int | None:
    """Sign of an affine function on a polytope's relative interior from its vertex values."""
    pos = neg = False
    for v in values:
        pos |= v > 0
        neg |= v < 0
    if pos and neg:
        return None
    return 1 if pos else (-1 if neg else 0)


def region_nodes(K: PolyhedralComplex) -> tuple[RegionNode, ...]:
    """The exact attributes of every node of the dual graph of ``K`` (see :class:`RegionNode`).

    The output's values at the vertices are computed once, exactly (:meth:`Network.forward_homogeneous`),
    unless the complex was built ``with_output`` and the network has one output.
    """
    vols, cents = region_volumes_and_centroids(K)
    m = K.network.output_dim
    out_sl = K.sign_slices()["outputs"]
    need_values = not (K.with_output and m == 1)
    values: list[tuple[Fraction, ...]] = []
    if need_values:
        hom = [K.vertex_homogeneous(v) for v in range(K.f_vector[0])]
        values = K.network.forward_homogeneous(hom)[1]
    vsets = K.vertex_sets() if need_values else []
    r0 = K.regions().start
    out: list[RegionNode] = []
    for r in K.regions():
        sv = K.sign_vector(r)
        if K.with_output and m == 1:
            s = sv[out_sl][0]
            osigns: tuple[int | None, ...] = (s,)
            cls: int | None = 1 if s > 0 else 0
            changes = False
        else:
            verts = sorted(vsets[r])
            osigns = tuple(_sign_on_interior(values[v][k] for v in verts) for k in range(m))
            changes = any(s is None for s in osigns)
            if m == 1:
                cls = None if osigns[0] is None else (1 if osigns[0] == 1 else 0)
            else:
                cls = None
                for k in range(m):
                    if all(_sign_on_interior(values[v][k] - values[v][j] for v in verts) == 1
                           for j in range(m) if j != k):
                        cls = k
                        break
        out.append(RegionNode(r - r0, r, sv, vols[r - r0], cents[r - r0], osigns, cls, changes))
    return tuple(out)


def region_class_volumes(
    K: PolyhedralComplex, refined: PolyhedralComplex | None = None
) -> list[tuple[Fraction, Fraction]]:
    """Per node of ``K``: the exact volume of its part of class 0 (``F <= 0``) and of class 1
    (``F > 0``), for a network with one output.

    For a complex built ``with_output`` every region is of one class. For the complex cut by the
    hidden neurons only, pass ``refined``: the complex of the same network and domain built
    ``with_output``; each of its regions lies in the region of ``K`` with the same neuron signs.
    """
    if K.network.output_dim != 1:
        raise InvalidDomainError("class volumes need a network with exactly one output")
    if K.with_output:
        vols, _ = region_volumes_and_centroids(K)
        o = K.sign_slices()["outputs"].start
        r0 = K.regions().start
        return [(Fraction(0), v) if K.signs[r0 + i, o] > 0 else (v, Fraction(0)) for i, v in enumerate(vols)]
    if refined is None or not refined.with_output:
        raise InvalidDomainError("the regions of a complex cut by the hidden neurons only have no single "
                                 "class; pass refined= (the same network and domain built with_output)")
    if refined.network != K.network or refined.domain != K.domain:
        raise InvalidDomainError("refined= is not built from the same network and domain")
    vols, _ = region_volumes_and_centroids(refined)
    width = K.signs.shape[1]
    o = refined.sign_slices()["outputs"].start
    r0, q0 = K.regions().start, refined.regions().start
    acc = [[Fraction(0), Fraction(0)] for _ in K.regions()]
    for i, v in enumerate(vols):
        row = refined.signs[q0 + i]
        node = K.index_of(row[:width]) - r0
        acc[node][1 if row[o] > 0 else 0] += v
    return [(a, b) for a, b in acc]


def _is_argmax(K: PolyhedralComplex) -> bool:
    return K.output_refinement == "argmax"


def region_argmax_volumes(
    K: PolyhedralComplex, refined: PolyhedralComplex | None = None
) -> list[tuple[Fraction, ...]]:
    """Per node of ``K``: the exact volume of its part of each class ``0 .. k-1`` (the class of a
    point is the output that is largest there), for a network with ``k >= 2`` outputs.

    ``K`` is the argmax complex itself (every region is of one class) or the complex cut by the
    hidden neurons, with ``refined`` the argmax complex of the same network and domain (each of
    its regions lies in the region of ``K`` with the same neuron and domain signs). A region on
    which several outputs are largest (outputs that tie on an open set, e.g. identical rows)
    counts for the smallest of their indices, as ``numpy.argmax`` would.
    """
    k = K.network.output_dim
    if k < 2:
        raise InvalidDomainError("argmax class volumes need a network with at least two outputs")
    R = K if _is_argmax(K) else refined
    if R is None or not _is_argmax(R):
        raise InvalidDomainError("argmax class volumes need the argmax complex: pass K built with "
                                 "refine='argmax', or refined= (the same network and domain built so)")
    if R is not K and (R.network != K.network or R.domain != K.domain):
        raise InvalidDomainError("refined= is not built from the same network and domain")
    vols, _ = region_volumes_and_centroids(R)
    o = R.sign_slices()["outputs"]
    width = K.sign_slices()["outputs"].start
    r0, q0 = K.regions().start, R.regions().start
    acc = [[Fraction(0)] * k for _ in K.regions()]
    for i, v in enumerate(vols):
        row = R.signs[q0 + i]
        cls = int(np.flatnonzero(row[o] == 0)[0])
        node = i if R is K else K.index_of(row[:width]) - r0
        acc[node][cls] += v
    return [tuple(a) for a in acc]


def class_volumes(K: PolyhedralComplex, refined: PolyhedralComplex | None = None) -> list[tuple[Fraction, ...]]:
    """Exact class volumes per node: :func:`region_class_volumes` for one output (classes
    ``F <= 0``, ``F > 0``), :func:`region_argmax_volumes` for several."""
    if K.network.output_dim == 1:
        return list(region_class_volumes(K, refined))
    return region_argmax_volumes(K, refined)


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
    den = math.lcm(*(x.denominator for x in v))
    ints = [int(x * den) for x in v]
    g = math.gcd(*ints) or 1
    return [x // g for x in ints]


def _det_fraction(rows: Sequence[Sequence[Fraction]]) -> Fraction:
    """Determinant of a small square matrix of Fractions (Gaussian elimination)."""
    a = [list(r) for r in rows]
    m = len(a)
    det = Fraction(1)
    for c in range(m):
        piv = next((r for r in range(c, m) if a[r][c] != 0), None)
        if piv is None:
            return Fraction(0)
        if piv != c:
            a[c], a[piv] = a[piv], a[c]
            det = -det
        det *= a[c][c]
        for r in range(c + 1, m):
            f = a[r][c] / a[c][c]
            if f:
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
    return det


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


# -- networkx export ---------------------------------------------------------------------------
def to_networkx(
    G: DualGraph,
    nodes: Sequence[RegionNode] | None = None,
    volumes: Sequence[FacetVolume] | None = None,
) -> nx.Graph:
    """The dual graph as a :class:`networkx.Graph` with every exact attribute.

    Node ``i`` carries the fields of :class:`RegionNode` (``cell``, ``sign_vector``, ``volume``,
    ``volume_float``, ``centroid``, ``centroid_float``, ``output_signs``, ``output_class``,
    ``output_changes_sign``); edge ``(i, j)`` carries ``cell`` (the shared cell),
    ``volume`` (:class:`FacetVolume`), ``volume_squared`` (Fraction) and ``volume_float``.
    ``nodes`` and ``volumes`` are computed when not given.
    """
    import networkx as nx

    K = G.complex
    if nodes is None:
        nodes = region_nodes(K)
    if volumes is None:
        volumes = facet_volumes(K, G.edge_cells)
    g = nx.Graph()
    for v in nodes:
        g.add_node(v.node, cell=v.cell, sign_vector=v.sign_vector, volume=v.volume,
                   volume_float=v.volume_float, centroid=v.centroid, centroid_float=v.centroid_float,
                   output_signs=v.output_signs, output_class=v.output_class,
                   output_changes_sign=v.output_changes_sign)
    for (a, b), c, vol in zip(G.edges.tolist(), G.edge_cells.tolist(), volumes):
        g.add_edge(a, b, cell=c, volume=vol, volume_squared=vol.squared, volume_float=vol.value)
    return g


# -- the paper's proxy -------------------------------------------------------------------------
def binary_patterns(K: PolyhedralComplex) -> np.ndarray:
    """The regions' binary activation patterns: ``(N, H)`` bool, neuron ``j`` on iff its sign
    is +1 (for a complex built ``with_output`` the output neurons' ``F > 0`` bits follow; for
    the argmax complex, the bits "output ``j`` is a maximizer")."""
    sl = K.sign_slices()
    rows = K.signs[K.regions().start : K.regions().stop]
    bits = [rows[:, sl["neurons"]] > 0]
    if K.with_output:
        out = rows[:, sl["outputs"]]
        bits.append(out == 0 if _is_argmax(K) else out > 0)
    return np.concatenate(bits, axis=1)


def hamming_proxy_edges(K: PolyhedralComplex) -> np.ndarray:
    """The paper's proxy graph: node pairs ``(i, j)``, ``i < j``, whose binary patterns
    (:func:`binary_patterns`) differ in exactly one position; ``(E, 2)`` int64, sorted.

    Candidates come from 64-bit hashes of the patterns; every pair is then checked exactly.
    """
    bits = binary_patterns(K)
    N, H = bits.shape
    if N < 2 or H == 0:
        return np.zeros((0, 2), dtype=np.int64)
    uniq, inverse = np.unique(np.packbits(bits, axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    ub = np.unpackbits(uniq, axis=1, count=H).astype(bool)
    U = ub.shape[0]
    rng = np.random.default_rng(0x5EED)  # hashing only: every candidate is verified exactly
    keys = np.asarray(rng.integers(0, np.iinfo(np.int64).max, size=H, dtype=np.int64), dtype=np.uint64)
    h: np.ndarray = np.zeros(U, dtype=np.uint64)
    for j in range(H):
        h ^= np.where(ub[:, j], keys[j], np.uint64(0))
    order = np.argsort(h, kind="stable")
    hs: np.ndarray = h[order]
    pairs: list[np.ndarray] = []
    if U > 1 and np.any(hs[1:] == hs[:-1]):  # a hash collision: fall back to a dictionary
        index = {row.tobytes(): i for i, row in enumerate(ub)}
        found = []
        for i in range(U):
            for j in range(H):
                if not ub[i, j]:
                    row = ub[i].copy()
                    row[j] = True
                    k = index.get(row.tobytes())
                    if k is not None:
                        found.append((i, k))
        up = np.array(found, dtype=np.int64).reshape(-1, 2)
    else:
        for j in range(H):
            cand = np.nonzero(~ub[:, j])[0]
            target = h[cand] ^ keys[j]
            pos = np.minimum(np.searchsorted(hs, target), U - 1)
            ok = hs[pos] == target
            a, b = cand[ok], order[pos[ok]]
            exact = (np.count_nonzero(ub[a] != ub[b], axis=1) == 1) & ub[b, j]
            pairs.append(np.stack([a[exact], b[exact]], axis=1))
        up = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    # expand pattern pairs to region pairs (regions with equal patterns share them)
    members: dict[int, list[int]] = {}
    for node, u in enumerate(inverse.tolist()):
        members.setdefault(u, []).append(node)
    out = {(min(x, y), max(x, y)) for a, b in up.tolist() for x in members[a] for y in members[b]}
    arr = np.array(sorted(out), dtype=np.int64).reshape(-1, 2)
    return arr


@dataclass(frozen=True, slots=True)
class ProxyComparison:
    """The Hamming-distance-1 proxy graph against the exact dual graph.

    Attributes
    ----------
    exact_edges, proxy_edges
        Number of edges of each graph.
    true_positives
        Proxy edges that are dual edges.
    false_positives
        Proxy edges that are not dual edges (patterns at distance 1, regions not adjacent).
    false_negatives
        Dual edges missing from the proxy (adjacent regions whose patterns differ in more
        than one neuron, or not at all).
    """

    exact_edges: int
    proxy_edges: int
    true_positives: int
    false_positives: tuple[tuple[int, int], ...]
    false_negatives: tuple[tuple[int, int], ...]

    @property
    def precision(self) -> float:
        """``true_positives / proxy_edges`` (1.0 when the proxy has no edge)."""
        return self.true_positives / self.proxy_edges if self.proxy_edges else 1.0

    @property
    def recall(self) -> float:
        """``true_positives / exact_edges`` (1.0 when the dual graph has no edge)."""
        return self.true_positives / self.exact_edges if self.exact_edges else 1.0

    @property
    def equal(self) -> bool:
        return not self.false_positives and not self.false_negatives

    def to_dict(self) -> dict[str, Any]:
        return {"exact_edges": self.exact_edges, "proxy_edges": self.proxy_edges,
                "true_positives": self.true_positives,
                "false_positives": len(self.false_positives),
                "false_negatives": len(self.false_negatives),
                "precision": self.precision, "recall": self.recall}


def compare_proxy(K: PolyhedralComplex, G: DualGraph | None = None) -> ProxyComparison:
    """Precision and recall of the Hamming-1 proxy (:func:`hamming_proxy_edges`) against the
    exact dual graph of ``K``."""
    if G is None:
        G = dual_graph(K)
    exact = G.edge_set()
    proxy = {(int(a), int(b)) for a, b in hamming_proxy_edges(K)}
    return ProxyComparison(len(exact), len(proxy), len(exact & proxy),
                           tuple(sorted(proxy - exact)), tuple(sorted(exact - proxy)))


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


def load_points(path: str | Path, n: int | None = None) -> Any:
    """Read training points, shape ``(N, n)``.

    Formats (by suffix):

    ``.npy``
        A numpy array of shape ``(N, n)`` (floats are taken as their exact binary values).
    ``.csv``, ``.txt``
        One point per line, coordinates separated by commas or white space; blank lines and
        lines starting with ``#`` are skipped, and a first line that is not numeric (a header)
        is skipped. Numbers are read exactly as written (``0.1`` is 1/10).
    ``.json``
        A list of points, or an object with key ``"points"``; each coordinate a number or an
        exact string (design.md §3 rules: a JSON float is its binary value).

    Returns a float/int numpy array (``.npy``) or a list of tuples of Fractions.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    from .io import loads_json, read_npy

    try:
        if suffix == ".npy":
            arr = read_npy(p, FormatError)
        else:
            text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{p}: cannot read training points ({e})") from e
    if suffix == ".npy":
        if arr.ndim != 2 or (n is not None and arr.shape[1] != n) or arr.dtype.kind not in "fiu":
            raise FormatError(f"{p}: expected a numeric array of shape (N, {n or 'n'}), "
                              f"got {arr.dtype} {arr.shape}")
        return arr
    rows: list[list[Any]]
    if suffix == ".json":
        data = loads_json(text, FormatError, str(p))
        if isinstance(data, dict):
            data = data.get("points")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise FormatError(f"{p}: expected a list of points or {{\"points\": [...]}}")
        rows = data
    elif suffix in (".csv", ".txt"):
        rows = []
        first = True
        for line in text.splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            fields = s.replace(",", " ").split()
            if first:
                first = False
                try:
                    for f in fields:
                        to_rational(f)
                except ExactCellsError:
                    continue  # a header line
            rows.append(fields)
    else:
        raise FormatError(f"{p}: unknown training-point format {suffix!r} (use .npy, .csv, .txt or .json)")
    out = []
    for i, r in enumerate(rows):
        if n is not None and len(r) != n:
            raise FormatError(f"{p}: point {i} has {len(r)} coordinates, not {n}")
        try:
            out.append(tuple(to_rational(x, f"{p}: point {i}") for x in r))
        except ExactCellsError as e:
            raise FormatError(str(e)) from e
    return out
