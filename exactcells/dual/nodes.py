"""The exact attributes of the nodes of the dual graph: each region's volume, centroid and
output class, and the exact class volumes per region."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import InvalidDomainError
from ..measure import pulling_triangulation, simplex_volume

__all__ = [
    "RegionNode",
    "region_nodes",
    "region_volumes_and_centroids",
    "region_class_volumes",
    "region_argmax_volumes",
    "class_volumes",
]


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
