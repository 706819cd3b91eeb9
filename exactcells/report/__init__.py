"""``report.html``: one self-contained interactive page (plotly.js inline, no server, no network).

* :func:`write_analysis_report` (``exactcells analyze``): the 2-D complex (or the default slice)
  coloured by output, class / argmax set or Fiedler vector, the decision boundary and the data
  points; hovering a region shows its exact sign vector, area, class and output affine map,
  clicking it lists its edges (exact sign vectors, the neurons they lie on, exact endpoints) and
  its neighbours; the Betti numbers, a persistence diagram (exact values on hover) and the
  summary numbers.
* :func:`write_training_report` (``exactcells track``): an epoch slider over the complexes of the
  snapshots and the signature curves (loss, regions, Betti numbers, Fiedler agreement) with the
  current epoch marked.

Why plotly: it is the well-kept library whose one JavaScript bundle renders offline from a single
file; it draws the axes, zoom and pan, legends, colour bars and the other plots. The regions
themselves are painted by ``report.js`` on a canvas laid over plotly's plot area (one canvas path
per colour, repainted when the axes change), which opens a page of 100,000 regions in seconds
where plotly's filled WebGL traces took half a minute. What cannot be seen is decimated, and the
page says so under the picture, with counts for the current zoom: region outlines are drawn only
around regions at least 4 pixels across, and regions less than a pixel across are filled (their
colour blends into the pixel) but cannot be seen one by one. Every region stays hoverable and
clickable: the region under the cursor is found by a point-in-polygon test on a grid index (not
the nearest centroid), and its hover text is assembled from the embedded exact strings. Drawing
coordinates are float32 (far below a pixel); exact vertex coordinates are left out (the page says
so) only when their text would exceed :data:`~exactcells.report.payload.VERTEX_TEXT_BUDGET`
characters.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..build import build_complex
from ..complex import PolyhedralComplex
from ..io import atomic_write_text
from ..numbers import float_view, format_rational
from .page import ReportDependencyError, plotly_js, render_page
from .payload import complex_payload

if TYPE_CHECKING:
    from ..cli.analyze import AnalysisContext
    from ..tracking import Snapshot, TrackingResult

__all__ = ["write_analysis_report", "write_training_report", "analysis_data", "training_data",
           "ReportDependencyError", "REPORT_FILE"]

REPORT_FILE = "report.html"


def _flatten(d: Any, prefix: str = "") -> list[list[str]]:
    rows: list[list[str]] = []
    if isinstance(d, Mapping):
        for k, v in d.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and any(isinstance(x, (Mapping, list)) for x in d):
        for i, v in enumerate(d):
            rows += _flatten(v, f"{prefix}[{i}]")
    else:
        if isinstance(d, list):
            text = "(" + ", ".join("null" if x is None else str(x) for x in d) + ")"
        else:
            text = "null" if d is None else str(d)
        rows.append([prefix, text])
    return rows


def _fiedler_on_plane(ctx: AnalysisContext) -> np.ndarray | None:
    """The Fiedler vector of the hidden-neuron regions (plain Laplacian), on the picture's regions."""
    from ..cli.fiedler import plane_values
    from ..dual import dual_graph
    from ..spectral import SpectralError, dual_fiedler

    G = dual_graph(ctx.hidden)
    if G.num_nodes < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = dual_fiedler(G)
        return plane_values(ctx.hidden, ctx.plane, res.vector)
    except SpectralError:
        return None


def _shown(x: Fraction | int) -> float:
    """Where a picture draws the exact value ``x``: its float, saturated at the largest finite
    float (the page's data is strict JSON, which has no infinity; the hover text is exact)."""
    return max(-sys.float_info.max, min(sys.float_info.max, float_view(x)))


def _persistence(K: PolyhedralComplex) -> dict[str, Any]:
    """The persistence diagram of the sublevel sets of the first output, with exact hover texts."""
    from ..topology.filtrations import lower_star_filtration
    from ..topology.persistence import persistence

    P = persistence(lower_star_filtration(K, 0))
    dims = []
    for k in range(P.top_dim + 1):
        births: list[float] = []
        deaths: list[float | None] = []
        texts: list[str] = []
        for b, d in P.exact_pairs(k):
            if d is not None and b == d:
                continue  # zero persistence
            births.append(_shown(b))  # where to draw it; the text below is exact
            deaths.append(None if d is None else _shown(d))
            texts.append(f"H{k}: birth {format_rational(b)}, death "
                         f"{'∞' if d is None else format_rational(d)} (exact)")
        dims.append({"k": k, "birth": births, "death": deaths, "text": texts})
    return {"description": "sublevel sets of F (output-lower-star filtration)", "dims": dims}


def _betti_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    topo = summary.get("topology") or {}
    for o in topo.get("outputs", []):
        j = o["output"]
        name = "F" if len(topo["outputs"]) == 1 else f"F{j + 1}"
        for key, what in (("decision_boundary_betti", f"decision boundary {name} = 0"),
                          ("decision_boundary_relative_betti", f"{name} = 0 relative to the domain's boundary"),
                          ("positive_betti", f"{name} >= 0"), ("negative_betti", f"{name} <= 0")):
            if key in o:
                rows.append([what] + [str(b) for b in o[key]])
    return rows


def analysis_data(ctx: AnalysisContext, summary: Mapping[str, Any], points: Any = None,
                  slice_note: str | None = None) -> tuple[str, list[str], dict[str, Any]]:
    """Title, notes and data of the analysis page."""
    net, dom, plane = ctx.network, ctx.domain, ctx.plane
    title = f"exactcells: {net.architecture} on {dom.describe()}"
    notes = [f"{ctx.hidden.num_regions} regions (hidden neurons), {ctx.refined.num_regions} refined by the "
             f"output; f-vector {tuple(ctx.hidden.f_vector)}."]
    cx = None
    if plane.input_dim == 2:
        pts = None
        if points is not None:
            pts = np.array([[float(x) for x in p] for p in points], dtype=float).reshape(-1, dom.dim)[:, :2]
            notes.append(f"{len(pts)} data points"
                         + (" projected onto the slice's plane (x1, x2)." if dom.dim > 2 else "."))
        cx = complex_payload(plane, fiedler=_fiedler_on_plane(ctx), points=pts)
        cx["default_colouring"] = len(cx["colourings"]) - (2 if cx["colourings"][-1]["name"].startswith("Fiedler")
                                                           else 1)
        notes.append(f"The picture: {plane.num_regions} regions of the complex refined by the output"
                     + (f", on the {slice_note}; affine maps are in (x1, x2) with the other coordinates fixed"
                        if slice_note else "") + ". Hover a region for its exact data, click it for its facets "
                     "and neighbours (drag to zoom, scroll, double-click to reset); every region is hoverable, "
                     "and the line under the picture says what is too small to be seen at the current zoom.")
    else:
        notes.append("A 1-D network: see complex.png for the graph of the output (the interactive picture "
                     "is for 2-D complexes and slices).")
    data = {
        "kind": "analysis",
        "complex": cx,
        "complex_title": f"{plane.num_regions} regions" + (" (slice)" if slice_note else ""),
        "betti": {"head": ["subcomplex"] + [f"b{k}" for k in range(dom.dim + 1)], "rows": _betti_rows(summary)},
        "persistence": _persistence(ctx.hidden),
        "summary": _flatten(summary),
    }
    return title, notes, data


def write_analysis_report(ctx: AnalysisContext, summary: Mapping[str, Any], *, points: Any = None,
                          slice_note: str | None = None) -> Path:
    """Write ``report.html`` into the analysis folder (atomically); return its path."""
    plotly_js()  # fail early and clearly without plotly
    path = ctx.outdir / REPORT_FILE
    title, notes, data = analysis_data(ctx, summary, points, slice_note)
    atomic_write_text(path, render_page(title, notes, data), force=ctx.force)
    return path


# -- training ---------------------------------------------------------------------------------
def _frames(n: int, max_frames: int) -> list[int]:
    if n <= max_frames:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, max_frames)})


CURVE_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("loss", "test_loss")),
    ("regions", ("num_regions", "refined_regions")),
    ("Betti numbers", ("boundary_b0", "boundary_b1", "positive_b0", "positive_b1")),
    ("Fiedler agreement", ("fiedler_agreement", "fiedler_agreement_weighted", "paper_agreement")),
)


def training_data(res: TrackingResult, snapshots: Sequence[Snapshot], *, points: np.ndarray | None = None,
                  title: str = "", max_frames: int = 40) -> tuple[str, list[str], dict[str, Any]]:
    """Title, notes and data of the training page."""
    dom = res.settings.domain
    by_epoch = {s.epoch: s for s in snapshots}
    frames = []
    idx = _frames(len(res.results), max_frames) if dom.dim == 2 else []
    for i in idx:
        r = res.results[i]
        net = by_epoch[r.epoch].network
        K = build_complex(net, dom)
        R = build_complex(net, dom, with_output=True)
        vec = r.fiedler_vector_weighted if r.fiedler_vector_weighted is not None else r.fiedler_vector
        fied = None
        if vec and len(vec) == K.num_regions:
            width, r0, q0 = K.signs.shape[1], K.regions().start, R.regions().start
            fied = np.array([vec[K.index_of(R.signs[q0 + q, :width].tolist()) - r0]
                             for q in range(R.num_regions)])
        cx = complex_payload(R, fiedler=fied, points=points)
        cx["default_colouring"] = len(cx["colourings"]) - 1
        loss = r.row.get("loss")
        t = f"epoch {r.epoch}: {r.row['num_regions']} regions"
        if isinstance(loss, float):
            t += f", loss {loss:.4g}"
        frames.append({"epoch": r.epoch, "complex": cx, "title": t})
    panels = []
    for name, cols in CURVE_PANELS:
        series: list[dict[str, Any]] = []
        pos: list[float] = []
        for c in cols:
            if c not in res.columns:
                continue
            s = res.series(c)  # float view, nan where empty
            vals = [None if np.isnan(x) else float(x) for x in s]
            if any(v is not None for v in vals):
                series.append({"name": c, "values": vals})
                pos += [v for v in vals if v is not None]
        if series:
            panels.append({"title": name, "series": series, "log": name == "loss" and min(pos) > 0})
    notes = [f"{len(res.results)} snapshots, epochs {res.epochs[0]}..{res.epochs[-1]}, on {dom.describe()}."]
    if frames:
        notes.append(f"The slider shows {len(frames)} of them: the complex refined by the decision boundary "
                     "(black), coloured by the Fiedler vector of the region of the hidden neurons containing "
                     "each piece (the paper's weights when there are training points). Hover a region for "
                     "its exact data, click it for its facets and neighbours; the red line marks the epoch "
                     "on the curves (click a curve point to jump there).")
    else:
        notes.append("The domain is not 2-D: no pictures of the complex, only the curves.")
    data = {"kind": "training", "frames": frames,
            "curves": {"epoch": list(res.epochs), "panels": panels}}
    return title or "exactcells track", notes, data


def write_training_report(res: TrackingResult, snapshots: Sequence[Snapshot], path: str | Path, *,
                          points: np.ndarray | None = None, title: str = "", max_frames: int = 40,
                          force: bool = False) -> Path:
    """Write the training report (atomically); return its path."""
    plotly_js()
    t, notes, data = training_data(res, snapshots, points=points, title=title, max_frames=max_frames)
    p = Path(path)
    atomic_write_text(p, render_page(t, notes, data), force=force)
    return p
