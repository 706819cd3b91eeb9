"""The data of a 2-D complex for the interactive report: exact strings and float drawing arrays.

Everything a reader sees as a number about a region is exact and written with
:func:`~exactcells.numbers.format_rational`: its sign vector, its area, its class or argmax set,
the output's affine map on it, the sign vectors of its edges and, within a size budget, the exact
coordinates of its vertices. Floats appear only in arrays named for drawing (``poly_x``,
``poly_y``, ``colour_*``, ``boundary_*``, ``points``), stored as little-endian ``float32``
in base64. The page packs the long texts and arrays (:func:`~exactcells.report.page.pack`:
zlib, inflated in the browser), which keeps a complex of 120,000 regions with exact rationals of
hundreds of digits at about 75 MiB.

The output's affine map on a region is solved exactly from the output's exact values at three
affinely independent vertices of the region (the output is affine on the closed region), which
needs one integer forward pass over the vertices instead of one rational pass per region.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..complex import PolyhedralComplex
from ..dual import region_volumes_and_centroids
from ..errors import InvalidDomainError
from ..numbers import float_view, format_rational
from ..plot import drawable_vertices

__all__ = ["complex_payload", "entry_names", "affine_maps_2d", "pack_signs", "SIGN_CODE",
           "VERTEX_TEXT_BUDGET"]

# 2 bits per sign entry, 4 entries per byte (first entry in the lowest bits)
SIGN_CODE = {0: 0, 1: 1, -1: 2}
# exact vertex coordinates are written only while their text stays below this many characters
VERTEX_TEXT_BUDGET = 30_000_000


def b64(a: np.ndarray, dtype: str) -> str:
    """Base64 of an array in an explicit little-endian dtype (``"<f4"``, ``"<i4"``, ``"u1"``)."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.dtype(dtype)).tobytes()).decode("ascii")


def pack_signs(signs: np.ndarray) -> tuple[str, int]:
    """Pack an ``(N, w)`` array of signs in {-1, 0, 1} into 2 bits per entry; return the base64
    text and the number of bytes per row."""
    N, w = signs.shape
    stride = (w + 3) // 4
    codes = np.zeros((N, stride * 4), dtype=np.uint8)
    s = np.asarray(signs, dtype=np.int8)
    codes[:, :w] = np.where(s == 1, 1, np.where(s == -1, 2, 0))
    q = codes.reshape(N, stride, 4)
    packed = q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)
    return b64(packed, "u1"), stride


def entry_names(K: PolyhedralComplex) -> list[str]:
    """A short name for every sign-vector entry: ``h1.3`` (layer 1, sign entry 3), ``d2``
    (domain facet 2), ``F`` or ``F1`` (outputs), 1-based."""
    names = [f"h{li + 1}.{k + 1}" for li, w in enumerate(K.network.sign_widths) for k in range(w)]
    names += [f"d{k + 1}" for k in range(K.domain.num_facets)]
    m = K.signs.shape[1] - len(names)
    names += ["F"] if m == 1 else [f"F{j + 1}" for j in range(m)]
    return names


def _ring(K: PolyhedralComplex, r: int, fptr: list[int], find: list[int]) -> list[int]:
    """The vertices of a 2-D region in boundary order (walking its edges)."""
    edges = find[fptr[r] : fptr[r + 1]]
    nbr: dict[int, list[int]] = {}
    for e in edges:
        a, b = find[fptr[e]], find[fptr[e] + 1]
        nbr.setdefault(a, []).append(b)
        nbr.setdefault(b, []).append(a)
    start = min(nbr)
    ring = [start]
    prev, cur = -1, start
    for _ in range(len(edges) - 1):
        a, b = nbr[cur]
        nxt = b if a == prev else a
        prev, cur = cur, nxt
        ring.append(cur)
    return ring


def affine_maps_2d(
    K: PolyhedralComplex, rings: Sequence[Sequence[int]], values: Sequence[Sequence[Fraction]]
) -> list[list[tuple[Fraction, Fraction, Fraction]]]:
    """Per region, per output ``j``: exact ``(a1, a2, c)`` with ``F_j(x) = a1 x1 + a2 x2 + c`` on
    the region, solved from three affinely independent vertices of its ``ring``."""
    out = []
    for ring in rings:
        p = [K.vertex(v) for v in ring]
        x0, y0 = p[0]
        i1 = 1
        x1, y1 = p[i1]
        det = Fraction(0)
        for i2 in range(2, len(p)):
            x2, y2 = p[i2]
            det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if det != 0:
                break
        if det == 0:
            raise InvalidDomainError("a region of the picture has no three affinely independent vertices")
        f0, f1, f2 = values[ring[0]], values[ring[i1]], values[ring[i2]]
        maps = []
        for j in range(len(f0)):
            d1, d2 = f1[j] - f0[j], f2[j] - f0[j]
            a1 = (d1 * (y2 - y0) - d2 * (y1 - y0)) / det
            a2 = ((x1 - x0) * d2 - (x2 - x0) * d1) / det
            maps.append((a1, a2, f0[j] - a1 * x0 - a2 * y0))
        out.append(maps)
    return out


def _affine_text(maps: list[tuple[Fraction, Fraction, Fraction]], coords: tuple[str, str]) -> str:
    lines = []
    for j, (a1, a2, c) in enumerate(maps):
        name = "F" if len(maps) == 1 else f"F{j + 1}"
        lines.append(f"{name} = {format_rational(a1)}·{coords[0]} + {format_rational(a2)}·{coords[1]}"
                     f" + {format_rational(c)}")
    return "\n".join(lines)


def _class_labels(K: PolyhedralComplex, regions: range) -> tuple[list[str], list[int]]:
    """Distinct class texts and each region's index into them."""
    if not K.with_output:
        return ["not refined by the output"], [0] * len(regions)
    out = K.signs[:, K.sign_slices()["outputs"]]
    texts: list[str] = []
    if K.output_refinement == "argmax":
        for r in regions:
            top = np.flatnonzero(out[r] == 0).tolist()
            if len(top) == 1:
                texts.append(f"class {top[0] + 1} (argmax {{{top[0] + 1}}})")
            else:
                texts.append("tie: argmax {" + ", ".join(str(t + 1) for t in top) + "}")
    else:
        for r in regions:
            s = [int(x) for x in out[r]]
            if len(s) == 1:
                texts.append({1: "class 1 (F > 0)", -1: "class 0 (F < 0)", 0: "F = 0 on the region"}[s[0]])
            else:
                texts.append("signs of F: " + " ".join({1: "+", -1: "-", 0: "0"}[x] for x in s))
    labels = sorted(set(texts))
    idx = {t: i for i, t in enumerate(labels)}
    return labels, [idx[t] for t in texts]


def complex_payload(
    K: PolyhedralComplex,
    *,
    fiedler: Sequence[float] | np.ndarray | None = None,
    points: np.ndarray | None = None,
    coords: tuple[str, str] = ("x1", "x2"),
    details: bool = True,
    vertex_text_budget: int = VERTEX_TEXT_BUDGET,
) -> dict[str, Any]:
    """The JSON-ready data of a 2-D complex for ``report.js``.

    Parameters
    ----------
    K
        A 2-D complex, normally refined by the output (so that every region has one class or
        argmax set).
    fiedler
        One float per region of ``K`` (a colouring), or ``None``.
    points
        Data points ``(N, 2)`` to draw (floats), or ``None``.
    coords
        Names of the two coordinates in the affine maps (``t1, t2`` for a slice).
    details
        Also the edges of every region (exact sign vectors, neighbours) and, within
        ``vertex_text_budget`` characters, the exact vertex coordinates (for the click panel).
    """
    if K.input_dim != 2:
        raise InvalidDomainError("the interactive picture needs a 2-D complex (use a 2-D slice)")
    regions = K.regions()
    R = len(regions)
    fptr_a, find_a = K.facet_csr
    fptr, find = fptr_a.tolist(), find_a.tolist()
    rings = [_ring(K, r, fptr, find) for r in regions]
    V = drawable_vertices(K)
    ring_len = np.array([len(g) for g in rings], dtype=np.int64)
    start = np.zeros(R + 1, dtype=np.int64)
    np.cumsum(ring_len, out=start[1:])
    flat = np.fromiter((v for g in rings for v in g), dtype=np.int64, count=int(start[-1]))
    vols, cents = region_volumes_and_centroids(K)
    values = K.output_values_at_vertices()
    maps = affine_maps_2d(K, rings, values)
    m = K.network.output_dim
    colours: list[dict[str, Any]] = []
    for j in range(m):
        vals = [float_view(a1 * cx + a2 * cy + c) for (a1, a2, c), (cx, cy) in
                ((mp[j], ce) for mp, ce in zip(maps, cents))]
        name = "output F" if m == 1 else f"output F{j + 1}"
        colours.append({"name": f"{name} at the region's centroid (float)", "kind": "diverging",
                        "values": b64(np.array(vals), "<f4")})
    labels, cls = _class_labels(K, regions)
    colours.append({"name": "class / argmax set", "kind": "category", "labels": labels,
                    "values": b64(np.array(cls), "<i4")})
    if fiedler is not None:
        fv = np.asarray(fiedler, dtype=float)
        if fv.shape != (R,):
            raise ValueError(f"the Fiedler colouring has {fv.shape} entries for {R} regions")
        colours.append({"name": "Fiedler vector entry (float)", "kind": "diverging",
                        "values": b64(fv, "<f4")})
    signs_b64, stride = pack_signs(K.signs[regions.start : regions.stop])
    sl = K.sign_slices()
    edges1 = K.cells_of_dim(1)
    e_v = np.array([find[fptr[e] : fptr[e] + 2] for e in edges1], dtype=np.int64).reshape(-1, 2)
    out_sl = sl["outputs"]
    if K.with_output:
        zeros_out = np.count_nonzero(K.signs[edges1.start : edges1.stop, out_sl] == 0, axis=1)
        on_boundary = zeros_out >= (2 if K.output_refinement == "argmax" else 1)
    else:
        on_boundary = np.zeros(len(edges1), dtype=bool)
    bsegs = e_v[on_boundary]
    bx = np.full(3 * len(bsegs), np.nan)
    by = np.full(3 * len(bsegs), np.nan)
    if len(bsegs):
        bx[0::3], bx[1::3] = V[bsegs[:, 0], 0], V[bsegs[:, 1], 0]
        by[0::3], by[1::3] = V[bsegs[:, 0], 1], V[bsegs[:, 1], 1]
    data: dict[str, Any] = {
        "num_regions": R,
        "first_region_cell": regions.start,
        "f_vector": list(K.f_vector),
        "coords": list(coords),
        "entry_names": entry_names(K),
        "groups": [sl["neurons"].stop, sl["domain_facets"].stop],
        "signs": signs_b64,
        "sign_stride": stride,
        "poly_x": b64(V[flat, 0], "<f4"),
        "poly_y": b64(V[flat, 1], "<f4"),
        "poly_start": b64(start, "<i4"),
        "volumes": [format_rational(v) for v in vols],
        "affine": [_affine_text(mp, coords) for mp in maps],
        "colourings": colours,
        "boundary_x": b64(bx, "<f4"),
        "boundary_y": b64(by, "<f4"),
        "bounds": [float(V[:, 0].min()), float(V[:, 0].max()), float(V[:, 1].min()), float(V[:, 1].max())],
        "points": None if points is None else b64(np.asarray(points, dtype=float)[:, :2].ravel(), "<f4"),
        "details": None,
    }
    if details:
        data["details"] = _details(K, e_v, vertex_text_budget)
    return data


def _details(K: PolyhedralComplex, e_v: np.ndarray, budget: int) -> dict[str, Any]:
    """Edges of every region for the click panel: each edge's vertices, the entries on which it
    is zero (its sign vector is that of either region with those entries set to 0) and the
    regions on its two sides."""
    regions = K.regions()
    edges1 = K.cells_of_dim(1)
    e0, r0 = edges1.start, regions.start
    fptr, find = K.facet_csr
    reg_edges = find[fptr[regions.start] : fptr[regions.stop]] - e0
    reg_ptr = fptr[regions.start : regions.stop + 1] - fptr[regions.start]
    eS = K.signs[e0 : edges1.stop]
    zr, zc = np.nonzero(eS == 0)
    zptr = np.zeros(len(edges1) + 1, dtype=np.int64)
    np.cumsum(np.bincount(zr, minlength=len(edges1)), out=zptr[1:])
    cptr, cind = K.cofacet_csr()
    sides = np.full((len(edges1), 2), -1, dtype=np.int64)
    for k, e in enumerate(edges1):
        cs = cind[cptr[e] : cptr[e + 1]]
        sides[k, : len(cs)] = cs - r0
    # vertex coordinates: one line "x, y" per vertex, exact, while the text stays small
    lines: list[str] = []
    total = 0
    for v in range(K.f_vector[0]):
        t = ", ".join(format_rational(x) for x in K.vertex(v))
        total += len(t) + 1
        if total > budget:
            lines = []
            break
        lines.append(t)
    return {
        "edge_cell_start": e0,
        "edge_vertices": b64(e_v, "<i4"),
        "edge_zero_ptr": b64(zptr, "<i4"),
        "edge_zero_idx": b64(zc, "<i4"),
        "edge_sides": b64(sides, "<i4"),
        "region_edge_ptr": b64(reg_ptr, "<i4"),
        "region_edges": b64(reg_edges, "<i4"),
        "vertices": lines or None,
        "vertex_text_budget": budget,
    }
