"""Pictures of 2-D complexes (matplotlib, Agg backend; float coordinates for drawing only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .complex import PolyhedralComplex
from .domain import Domain
from .errors import InvalidDomainError
from .numbers import float_view

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["region_polygons", "plot_complex_2d", "plot_complex_1d", "save_complex_png",
           "boundary_edges", "plot_classes_2d", "plot_partition_2d", "save_classes_png", "draw_marks", "Mark"]

# a named point to mark (e.g. p0 of a plane), in the complex's coordinates (a float view)
Mark = tuple[str, Sequence[float]]


def _maximizers(K: PolyhedralComplex) -> np.ndarray | None:
    """The argmax sets of an argmax complex (bool, cells x k), else ``None``."""
    if K.output_refinement != "argmax":
        return None
    return np.asarray(K.signs)[:, K.sign_slices()["outputs"]] == 0


def boundary_edges(K: PolyhedralComplex) -> list[int]:
    """The 1-cells of the decision boundary of a complex built with the output: ``F_0 = 0``
    (zero refinement) or at least two maximizers (argmax refinement)."""
    if not K.with_output:
        return []
    A = _maximizers(K)
    edges = K.cells_of_dim(1)
    if A is not None:
        return [e for e in edges if A[e].sum() >= 2]
    out0 = K.sign_slices()["outputs"].start
    return [e for e in edges if K.signs[e, out0] == 0]


def drawable_vertices(K: PolyhedralComplex) -> np.ndarray:
    """The float view of the vertices, for a picture: a complex with a coordinate beyond the
    float range cannot be drawn."""
    V = K.vertices_float()
    if not np.isfinite(V).all():
        raise InvalidDomainError("the complex cannot be drawn: a vertex coordinate lies beyond the float "
                                 "range (draw a smaller box, or a slice)")
    return V


def check_drawable(domain: Domain) -> None:
    """Refuse, before any work, a domain whose pictures cannot be drawn (a vertex coordinate
    beyond the float range; every cell lies in the domain, so otherwise all can be)."""
    for v in domain.vertices:
        for x in v:
            if not math.isfinite(float_view(x)):
                q = Fraction(x)
                digits = len(str(abs(q.numerator))) - len(str(q.denominator))
                raise InvalidDomainError(f"the domain cannot be drawn: a vertex coordinate of about "
                                         f"10^{digits} lies beyond the float range (draw a smaller box, "
                                         "or a slice)")


def region_polygons(K: PolyhedralComplex) -> list[np.ndarray]:
    """Float polygons (vertices in counter-clockwise order) of the regions of a 2-D complex."""
    if K.input_dim != 2:
        raise InvalidDomainError("region polygons need a 2-D complex (use a 2-D slice)")
    V = drawable_vertices(K)
    vsets = K.vertex_sets()
    polys = []
    for r in K.regions():
        P = V[sorted(vsets[r])]
        c = P.mean(axis=0)
        ang = np.arctan2(P[:, 1] - c[1], P[:, 0] - c[0])
        polys.append(P[np.argsort(ang)])
    return polys


def plot_complex_2d(
    K: PolyhedralComplex,
    ax: Axes,
    values: Sequence[float] | None = None,
    cmap: str = "coolwarm",
    boundary: bool = True,
    edge_color: str = "0.35",
    title: str | None = None,
    label: str | None = None,
    marks: Sequence[Mark] = (),
    points: np.ndarray | None = None,
    axis_labels: Sequence[str] | None = None,
) -> None:
    """Draw the regions of a 2-D complex coloured by ``values`` (default: the network output
    at each region's interior point, a float view), the cell edges, and the decision boundary
    (the 1-cells on which the first output is zero, or with at least two maximizers for the
    argmax complex, when the complex was built with the output).
    ``marks`` are named points drawn with their names, ``points`` an ``(N, 2)`` array of data
    points drawn as dots (both in the complex's coordinates, e.g. plane coordinates).
    """
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import TwoSlopeNorm

    polys = region_polygons(K)
    if values is None:
        # a float view: exact interior points, the output evaluated in floating point (an exact
        # forward pass at points with huge denominators, e.g. on a slice of a float network, is slow)
        X = np.array([[float_view(v) for v in K.interior_point(r)] for r in K.regions()], dtype=float)
        vals = K.network.forward_float(X.reshape(len(X), K.input_dim))[:, 0]
    else:
        vals = np.asarray(values, dtype=float)
    vmax = float(np.max(np.abs(vals))) if vals.size and np.max(np.abs(vals)) > 0 else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    pc = PolyCollection(polys, array=vals, cmap=cmap, norm=norm, edgecolors="none")
    ax.add_collection(pc)
    V = drawable_vertices(K)
    ptr, ind = K.facet_csr
    edges = list(K.cells_of_dim(1))
    segs = [V[ind[ptr[e] : ptr[e + 1]]] for e in edges]
    ax.add_collection(LineCollection(segs, colors=edge_color, linewidths=0.4))
    if boundary and K.with_output:
        zero = boundary_edges(K)
        ax.add_collection(LineCollection([V[ind[ptr[e] : ptr[e + 1]]] for e in zero],
                                         colors="k", linewidths=1.8))
    lo, hi = V.min(axis=0), V.max(axis=0)
    draw_marks(ax, marks, points)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    if axis_labels:
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
    if title:
        ax.set_title(title, fontsize=9)
    cb = ax.figure.colorbar(pc, ax=ax, shrink=0.8)
    cb.set_label(label if label is not None else ("F(x) at each region's interior point (float view)"
                                                   if values is None else "value"), fontsize=8)


def draw_marks(ax: Axes, marks: Sequence[Mark] = (), points: np.ndarray | None = None) -> None:
    """Data points as small dots and named points with their names (2-D axes; on 1-D axes the
    points are drawn on the horizontal axis)."""
    if points is not None and len(points):
        P = np.asarray(points, dtype=float)
        ys = P[:, 1] if P.shape[1] > 1 else np.zeros(len(P))
        ax.plot(P[:, 0], ys, "o", ms=2.5, color="k", alpha=0.7, label="data points in the slice", zorder=4)
    for name, xy in marks:
        x = float(xy[0])
        y = float(xy[1]) if len(xy) > 1 else 0.0
        ax.plot([x], [y], marker="*", ms=11, color="gold", markeredgecolor="k", zorder=5)
        ax.annotate(name, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9, zorder=6)


def plot_complex_1d(K: PolyhedralComplex, ax: Axes, values: Sequence[float] | None = None,
                    cmap: str = "coolwarm", title: str | None = None, label: str | None = None,
                    marks: Sequence[Mark] = (), points: np.ndarray | None = None,
                    axis_labels: Sequence[str] | None = None) -> None:
    """Draw a 1-D complex: the graph of the first output through its exact vertex values (a float
    view) over the regions, which are shaded by ``values`` when given (one per region)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import TwoSlopeNorm

    V = drawable_vertices(K)[:, 0]
    xs = V
    ys = np.array([float_view(v[0]) for v in K.output_values_at_vertices()])
    if values is not None:
        vals = np.asarray(values, dtype=float)
        vmax = float(np.max(np.abs(vals))) if vals.size and np.max(np.abs(vals)) > 0 else 1.0
        norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
        cm = colormaps[cmap]
        ptr, ind = K.facet_csr
        for val, r in zip(vals, K.regions()):
            a, b = V[ind[ptr[r] : ptr[r + 1]]]
            ax.axvspan(min(a, b), max(a, b), color=cm(norm(val)), alpha=0.6, lw=0)
        sm = ScalarMappable(norm=norm, cmap=cm)
        cb = ax.figure.colorbar(sm, ax=ax, shrink=0.8)
        cb.set_label(label or "value", fontsize=8)
    order = np.argsort(xs)
    ax.plot(xs[order], ys[order], color="k", lw=1.5, label="F(x)")
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.plot(xs, ys, "o", color="k", ms=3, label="vertices of the complex")
    draw_marks(ax, marks, points)
    ax.set_xlabel(axis_labels[0] if axis_labels else "x")
    ax.set_ylabel("network output")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)


def save_complex_png(K: PolyhedralComplex, path: str | Path, title: str | None = None,
                     values: Sequence[float] | None = None, force: bool = False,
                     label: str | None = None, marks: Sequence[Mark] = (),
                     points: np.ndarray | None = None, axis_labels: Sequence[str] | None = None) -> None:
    """Write a PNG of a 1-D or 2-D complex (atomically), with ``marks`` and data ``points``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_output

    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=120)
    draw = plot_complex_1d if K.input_dim == 1 else plot_complex_2d
    draw(K, ax, values=values, title=title, label=label, marks=marks, points=points, axis_labels=axis_labels)
    with atomic_output(path, force=force) as f:
        fig.savefig(f, format="png", bbox_inches="tight")
    plt.close(fig)


_CLASS_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948",
                 "#ff9da7", "#9c755f", "#bab0ac")


def _segments(K: PolyhedralComplex, cells: Sequence[int]) -> list[np.ndarray]:
    V = drawable_vertices(K)
    ptr, ind = K.facet_csr
    return [V[ind[ptr[e] : ptr[e + 1]]] for e in cells]


def plot_classes_2d(K: PolyhedralComplex, ax: Axes, title: str | None = None) -> None:
    """Draw the argmax complex of a 2-D network: every region coloured by its class (a region
    where several outputs tie on an open set is hatched in grey), the decision boundary
    (1-cells with >= 2 maximizers) in black, and the junctions (vertices with >= 3 maximizers)
    as red dots."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.patches import Patch

    A = _maximizers(K)
    if A is None or K.input_dim != 2:
        raise InvalidDomainError("class pictures need a 2-D complex built with refine='argmax'")
    k = A.shape[1]
    polys = region_polygons(K)
    tops = A[K.regions().start : K.regions().stop]
    colors = [_CLASS_COLORS[int(np.flatnonzero(t)[0]) % len(_CLASS_COLORS)] if t.sum() == 1 else "0.75"
              for t in tops]
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="none", alpha=0.85))
    ties = [p for p, t in zip(polys, tops) if t.sum() > 1]
    if ties:
        ax.add_collection(PolyCollection(ties, facecolors="none", edgecolors="0.4", hatch="//", lw=0))
    edges = list(K.cells_of_dim(1))
    ax.add_collection(LineCollection(_segments(K, edges), colors="0.55", linewidths=0.3))
    ax.add_collection(LineCollection(_segments(K, boundary_edges(K)), colors="k", linewidths=1.8))
    V = drawable_vertices(K)
    junc = [v for v in K.cells_of_dim(0) if A[v].sum() >= 3]
    if junc:
        ax.plot(V[junc, 0], V[junc, 1], "o", color="red", ms=5, mec="k", mew=0.6, zorder=5)
    lo, hi = V.min(axis=0), V.max(axis=0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    handles = [Patch(color=_CLASS_COLORS[j % len(_CLASS_COLORS)], label=f"class {j}") for j in range(k)]
    if ties:
        handles.append(Patch(facecolor="0.75", edgecolor="0.4", hatch="//", label="outputs tie (open set)"))
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)


def plot_partition_2d(K: PolyhedralComplex, labels: Sequence[int] | np.ndarray, ax: Axes,
                      boundary_of: PolyhedralComplex | None = None, title: str | None = None) -> None:
    """Draw the regions of a 2-D complex coloured by a partition (one label per region), with
    the decision boundary of ``boundary_of`` (a complex built with the output) in black."""
    from matplotlib.collections import LineCollection, PolyCollection

    lab = np.asarray(labels, dtype=np.int64)
    polys = region_polygons(K)
    ax.add_collection(PolyCollection(polys, edgecolors="none", alpha=0.85,
                                     facecolors=[_CLASS_COLORS[int(c) % len(_CLASS_COLORS)] for c in lab]))
    ax.add_collection(LineCollection(_segments(K, list(K.cells_of_dim(1))), colors="0.55", linewidths=0.3))
    if boundary_of is not None:
        ax.add_collection(LineCollection(_segments(boundary_of, boundary_edges(boundary_of)),
                                         colors="k", linewidths=1.5))
    V = drawable_vertices(K)
    lo, hi = V.min(axis=0), V.max(axis=0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)


def save_classes_png(R: PolyhedralComplex, path: str | Path, *, hidden: PolyhedralComplex | None = None,
                     labels: Sequence[int] | np.ndarray | None = None, title: str | None = None,
                     partition_title: str | None = None, force: bool = False) -> None:
    """Write a PNG of the argmax complex ``R`` coloured by class (:func:`plot_classes_2d`) and,
    with ``hidden`` and ``labels``, the k-way partition of the hidden-neuron regions beside it
    (:func:`plot_partition_2d`, the decision boundary of ``R`` in black). Atomic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_output

    two = hidden is not None and labels is not None
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11.5 if two else 6, 5.4), dpi=120, squeeze=False)
    plot_classes_2d(R, axes[0, 0], title=title)
    if two:
        assert hidden is not None and labels is not None
        plot_partition_2d(hidden, labels, axes[0, 1], boundary_of=R, title=partition_title)
    fig.tight_layout()
    with atomic_output(path, force=force) as f:
        fig.savefig(f, format="png", bbox_inches="tight")
    plt.close(fig)
