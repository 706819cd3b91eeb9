"""``exactcells fiedler``: the exact dual graph of the regions and its Fiedler vector.

By default the graph is that of the complex cut by the hidden neurons (the paper's regions);
``--with-output`` refines it by the output's zero sets first. With one output, the agreement of
the Fiedler partition with the decision boundary is reported (exact class volumes from the
complex refined by the output). ``-o DIR`` writes ``fiedler.png``: the 2-D complex (a slice
through the domain's centre when ``n > 2``) refined by the output, each piece coloured by the
Fiedler value of its region, with the decision boundary drawn.

Training points (``--weights training-points FILE``): ``.npy`` (an ``(N, n)`` numeric array;
floats are their exact binary values), ``.csv``/``.txt`` (one point per line, comma or space
separated, optional header line and ``#`` comments; numbers read exactly as written) or
``.json`` (a list of points, or ``{"points": [...]}``). Each point is located exactly; points
on a boundary go to the region with the smallest sign vector; points outside the domain are
counted and ignored.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..build import build_complex
from ..complex import PolyhedralComplex
from ..domain import Domain
from ..dual import compare_proxy, dual_graph, load_points, locate_points, region_class_volumes
from ..errors import FormatError
from ..io import check_writable
from ..network import Network
from ..plot import Mark, check_drawable, save_complex_png
from ..slicing import default_slice, points_in_slice, read_points
from ..spectral import FiedlerGapWarning, FiedlerResult, SpectralError, boundary_agreement, dual_fiedler
from . import print_json
from .argtypes import positive_float
from .common import add_network_args, load_problem

if TYPE_CHECKING:
    from .analyze import AnalysisContext

__all__ = ["register", "run", "analyze_section", "multiclass_section", "plane_values", "WEIGHT_KINDS"]

WEIGHT_KINDS = ("none", "facet-volume", "region-volume", "training-points")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fiedler", help="exact dual graph of the regions and its Fiedler vector",
        description="Build the exact dual graph of the regions of NETWORK (one node per region, one "
                    "edge per shared facet), compute the Fiedler vector of its Laplacian and, for one "
                    "output, its agreement with the decision boundary.")
    add_network_args(p, seed_alias=False)
    p.add_argument("--weights", nargs="+", default=["none"], metavar="KIND",
                   help="none (default) | facet-volume (edge weights: shared facet volumes) | "
                        "region-volume (node weights: region volumes) | training-points FILE (node "
                        "weights 1 + points per region, the paper's W_V; FILE .npy/.csv/.txt/.json of "
                        "shape (N, n)); put it after NETWORK")
    p.add_argument("--normalized", action="store_true",
                   help="normalized Laplacian (the degrees as node weights)")
    p.add_argument("--with-output", action="store_true",
                   help="refine the complex by the output first (zero sets for one output, argmax "
                        "boundaries for several; see --refine)")
    p.add_argument("--refine", choices=("zero", "argmax"), default=None,
                   help="the output refinement of --with-output: zero (F_j = 0) or argmax (F_i = F_j = max)")
    p.add_argument("-o", "--output", metavar="DIR", help="write DIR/fiedler.png")
    p.add_argument("--force", action="store_true", help="overwrite an existing fiedler.png")
    p.add_argument("--method", default="auto", choices=["auto", "dense", "shift-invert", "lobpcg"],
                   help="eigensolver (default auto: dense up to 2000 nodes, else shift-invert)")
    p.add_argument("--tol", type=positive_float, default=1e-10, help="solver tolerance (default 1e-10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the solver's start vectors (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def _parse_weights(spec: list[str]) -> tuple[str, str | None]:
    kind = spec[0]
    if kind not in WEIGHT_KINDS:
        raise SpectralError(f"--weights: unknown kind {kind!r} (use {', '.join(WEIGHT_KINDS)})")
    if kind == "training-points":
        if len(spec) != 2:
            raise SpectralError("--weights training-points needs exactly one FILE")
        return kind, spec[1]
    if len(spec) != 1:
        raise SpectralError(f"--weights {kind} takes no further argument (got {spec[1:]})")
    return kind, None


def _slice_center(domain: Domain) -> list[Fraction]:
    """The point through which :func:`exactcells.slicing.default_slice` cuts (its ``origin``
    plus the slice coordinates ``(t1, t2)`` in the first two places)."""
    n = domain.dim
    if domain.box_bounds is not None:
        return [(a + b) / 2 for a, b in domain.box_bounds]
    k = len(domain.vertices)
    return [sum((v[i] for v in domain.vertices), Fraction(0)) / k for i in range(n)]


def plane_values(K: PolyhedralComplex, plane: PolyhedralComplex, vector: np.ndarray) -> np.ndarray:
    """The value of ``vector`` (one per region of ``K``) on every region of ``plane``.

    ``plane`` is a 2-D complex: ``K``'s own plane (``n = 2``, possibly refined by the output),
    where a region's node is found by its sign vector, or the default slice
    (:func:`exactcells.slicing.default_slice`), whose regions' exact interior points are
    lifted to ``R^n`` and located exactly in ``K``.
    """
    n = K.input_dim
    vec = np.asarray(vector, dtype=float)
    if (plane.network == K.network and plane.domain == K.domain
            and (plane.with_output or not K.with_output)):
        # the same plane, possibly refined by the output: match sign-vector prefixes
        width = K.signs.shape[1]
        r0 = K.regions().start
        return vec[[K.index_of(plane.signs[r, :width].tolist()) - r0 for r in plane.regions()]]
    center = _slice_center(K.domain)
    pts = []
    for r in plane.regions():
        t = plane.interior_point(r)
        pts.append(tuple(t) + tuple(center[2:]) if n > 2 else tuple(t))
    loc = locate_points(K, pts)
    if loc.num_outside:
        raise SpectralError("a region of the picture lies outside the complex's domain")
    return vec[loc.nodes]


def _picture(K: PolyhedralComplex, net: Network, dom: Domain, res: FiedlerResult, path: Path,
             force: bool, plane: PolyhedralComplex | None = None, progress: bool = False,
             marks: Sequence[Mark] = (), points: np.ndarray | None = None,
             axis_labels: Sequence[str] | None = None) -> str | None:
    note = None
    if plane is None:
        if dom.dim == 2:
            plane = K if K.with_output else build_complex(net, dom, with_output=True, progress=progress)
        else:
            net2, dom2, note = default_slice(net, dom)
            plane = build_complex(net2, dom2, with_output=True, progress=progress)
    elif dom.dim > 2:
        note = default_slice(net, dom)[2]
    vals = plane_values(K, plane, res.vector)
    title = (f"Fiedler vector ({res.problem}) of {res.num_nodes} regions, "
             f"lambda2 = {res.value:.4g}")
    if note:
        title += f"\n{note}"
    if dom.dim > 2:
        marks, points, axis_labels = (), None, None
    save_complex_png(plane, path, title=title, values=vals.tolist(), force=force,
                     label="Fiedler vector entry of the region (float)", marks=marks, points=points,
                     axis_labels=axis_labels)
    return note


def _solve(G: Any, **kw: Any) -> FiedlerResult:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FiedlerGapWarning)
        res = dual_fiedler(G, **kw)
    for w in caught:
        print(f"exactcells: warning: {w.message}", file=sys.stderr)
    return res


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    kind, points_file = _parse_weights(args.weights)
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    png = Path(args.output) / "fiedler.png" if args.output else None
    if png is not None:
        check_drawable(dom)
        check_writable(png, args.force)
    points: Any = None
    off_slice = 0
    if points_file and prob.slice is None:
        points = load_points(points_file, net.input_dim)
    elif points_file and prob.slice is not None:
        raw = read_points(points_file)
        n = prob.original.input_dim
        if len(raw) and len(raw[0]) != n:
            raise FormatError(f"{points_file}: the points have {len(raw[0])} coordinates but the network "
                              f"takes {n} inputs")
        points = points_in_slice(prob.slice, raw)[1]
        off_slice = len(raw) - len(points)
    progress = not args.no_progress
    from .homology import build_for, resolve_refinement

    refine = resolve_refinement(net, args.refine, None, "--refine",
                                with_output=args.with_output or args.refine is not None)
    K = build_for(net, dom, refine, progress=progress)
    t_build = time.perf_counter() - t0
    G = dual_graph(K)
    location = locate_points(K, points) if points is not None else None
    t1 = time.perf_counter()
    res = _solve(G, weights=kind, normalized=args.normalized, location=location,
                 method=args.method, tol=args.tol, seed=args.seed)
    t_fiedler = time.perf_counter() - t1
    out: dict[str, Any] = {
        "network": str(args.network),
        "architecture": net.architecture,
        "domain": dom.describe(),
        "with_output": refine is not None,
        "refine": refine,
        "weights": kind,
        "normalized": bool(args.normalized),
        "f_vector": list(K.f_vector),
        "slice": prob.record,
    }
    out.update(res.to_dict())
    if location is not None:
        out["training_points"] = {"file": points_file, "count": int(location.nodes.shape[0]),
                                  "outside_domain": location.num_outside,
                                  "on_boundary": int(np.count_nonzero(location.on_boundary))}
        if prob.slice is not None:
            out["training_points"]["off_slice"] = off_slice
    refined = None
    if net.output_dim == 1:
        refined = K if K.with_output else build_complex(net, dom, with_output=True, progress=progress)
        cv = region_class_volumes(K, None if K.with_output else refined)
        out["agreement"] = boundary_agreement(G, res.vector, cv).to_dict()
    if net.output_dim >= 2:
        out["kway"] = _kway(K, G, net, dom, refine, progress, weights=kind, normalized=args.normalized,
                            location=location, tol=args.tol, seed=args.seed, solver=args.method)
    out["hamming_proxy"] = compare_proxy(K, G).to_dict()
    if png is not None:
        plane = refined if (refined is not None and dom.dim == 2) else None
        pts = None
        if points is not None and dom.dim <= 2:
            pts = np.array([[float(v) for v in p] for p in points], dtype=float).reshape(len(points), dom.dim)
        marks = [(name, tuple(float(v) for v in xy)) for name, xy in prob.marks]
        labels = prob.slice.coordinate_names() if prob.slice is not None else None
        note = _picture(K, net, dom, res, png, args.force, plane=plane, progress=progress, marks=marks,
                        points=pts, axis_labels=labels)
        out["picture"] = {"file": str(png), "slice": note}
    out["seconds"] = {"build": round(t_build, 4), "fiedler": round(t_fiedler, 4),
                      "total": round(time.perf_counter() - t0, 4)}
    if args.json:
        print_json(out)
    else:
        print(f"{net.architecture} on {dom.describe()}{' (refined by the output)' if args.with_output else ''}: "
              f"dual graph with {res.num_nodes} nodes and {res.num_edges} edges")
        print(f"Fiedler value ({res.problem}, weights {kind}): {res.value:.10g}  "
              f"[lambda3 {res.eigenvalues[-1]:.6g}, residual {res.residual:.2e}, {res.method}]")
        if "agreement" in out:
            s, b = out["agreement"]["sign"], out["agreement"]["best_sweep"]
            print(f"agreement with the decision boundary: sign cut {s['volume_agreement']:.4f} of the "
                  f"volume (ARI {s['adjusted_rand_index']:.3f}); best sweep {b['volume_agreement']:.4f} "
                  f"(ARI {b['adjusted_rand_index']:.3f})")
        if isinstance(out.get("kway"), dict) and "agreement" in out["kway"]:
            a = out["kway"]["agreement"]
            print(f"{net.output_dim}-way partition (recursive Fiedler cuts) vs the argmax classes: "
                  f"{a['volume_agreement']:.4f} of the volume (ARI {a['adjusted_rand_index']:.3f})")
        hp = out["hamming_proxy"]
        print(f"Hamming-1 proxy: precision {hp['precision']:.4f}, recall {hp['recall']:.4f}")
        if png is not None:
            print(f"wrote {png}", file=sys.stderr)
    return 0


def _kway(K: PolyhedralComplex, G: Any, net: Network, dom: Domain, refine: str | None, progress: bool,
          **kw: Any) -> dict[str, Any]:
    """The k-way partition of the dual graph of ``K`` and its exact agreement with the argmax
    classes (``k`` = outputs); a note instead when it cannot be computed."""
    from ..dual import region_argmax_volumes
    from ..spectral import kway_agreement, kway_partition
    from .homology import build_for

    k = net.output_dim
    if refine == "zero":
        return {"note": "the k-way agreement needs the hidden-neuron or the argmax complex, not --refine zero"}
    if G.num_nodes < k:
        return {"note": f"{G.num_nodes} regions cannot be cut into {k} parts"}
    R = K if refine == "argmax" else build_for(net, dom, "argmax", progress=progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FiedlerGapWarning)
        part = kway_partition(G, k, **kw)
    ag = kway_agreement(part.labels, region_argmax_volumes(K, R))
    return {"partition": part.to_dict(), "agreement": ag.to_dict(),
            "labels": ag.relabel(part.labels).tolist()}


def multiclass_section(ctx: AnalysisContext) -> dict[str, Any]:
    """The ``analyze`` section for networks with ``k >= 2`` outputs (nothing otherwise): exact
    class volumes, the k-way partition of the hidden-neuron regions (recursive Fiedler cuts,
    plain Laplacian) with its exact agreement with the argmax classes, the persistence of the
    margin's lower-star filtration, and ``classes.png`` (classes, decision boundary and
    junctions of the argmax complex; the k-way partition beside it in 2-D)."""
    from ..dual import region_argmax_volumes
    from ..plot import save_classes_png
    from ..topology.filtrations import margin_filtration
    from ..topology.persistence import persistence
    from ..topology.subcomplex import output_refinement

    R = ctx.refined
    if ctx.network.output_dim < 2 or output_refinement(R) != "argmax":
        return {}
    t0 = time.perf_counter()
    k = ctx.network.output_dim
    vols = [sum(col, Fraction(0)) for col in zip(*region_argmax_volumes(R))]
    total = sum(vols, Fraction(0))
    G = dual_graph(ctx.hidden)
    kw = _kway(ctx.hidden, G, ctx.network, ctx.domain, None, False)
    F = margin_filtration(R)
    P = persistence(F)
    margin: dict[str, Any] = {"uncertified_cells": F.uncertified, "refined_cells": F.refined,
                              "dimensions": []}
    for d in range(ctx.domain.dim):
        pairs = [(b, e) for b, e in P.exact_pairs(d) if e is not None and e != b]
        margin["dimensions"].append({
            "dim": d, "pairs": len(pairs),
            "total_persistence": float(sum((Fraction(e) - Fraction(b) for b, e in pairs), Fraction(0))),
            "essential": len([1 for _, e in P.exact_pairs(d) if e is None])})
    png = ctx.outdir / "classes.png"
    labels = kw.get("labels")
    two_d = ctx.domain.dim == 2
    a = kw.get("agreement", {})
    save_classes_png(
        ctx.plane, png, force=ctx.force,
        hidden=ctx.hidden if two_d and labels is not None else None,
        labels=labels if two_d else None,
        title=f"argmax classes of {ctx.network.architecture}: decision boundary black, junctions red",
        partition_title=(f"{k}-way spectral partition of {ctx.hidden.num_regions} regions, clusters "
                         f"coloured by matched class: volume agreement "
                         f"{a.get('volume_agreement', float('nan')):.3f}"))
    kw.pop("labels", None)
    return {"classes": {
        "k": k,
        "class_volumes": [f"{v.numerator}/{v.denominator}" for v in vols],
        "class_volume_fractions": [float(v / total) for v in vols],
        "kway": kw,
        "margin_persistence": margin,
        "picture": {"file": "classes.png", "slice": None if two_d else "the classes of the default slice"},
        "seconds": round(time.perf_counter() - t0, 3),
    }}


def analyze_section(ctx: AnalysisContext) -> dict[str, Any]:
    """The ``analyze`` report section: the Fiedler summary of the hidden-neuron regions
    (plain combinatorial Laplacian), its agreement with the decision boundary, the Hamming-1
    proxy's precision and recall, and ``fiedler.png``."""
    K = ctx.hidden
    G = dual_graph(K)
    if G.num_nodes < 2:
        return {"fiedler": {"num_nodes": G.num_nodes, "num_edges": G.num_edges, "fiedler_value": None}}
    res = _solve(G)
    summary: dict[str, Any] = res.to_dict()
    if ctx.network.output_dim == 1:
        cv = region_class_volumes(K, ctx.refined)
        summary["agreement"] = boundary_agreement(G, res.vector, cv).to_dict()
    summary["hamming_proxy"] = compare_proxy(K, G).to_dict()
    png = ctx.outdir / "fiedler.png"
    note = _picture(K, ctx.network, ctx.domain, res, png, ctx.force, plane=ctx.plane, marks=ctx.marks,
                    points=ctx.points)
    summary["picture"] = {"file": "fiedler.png", "slice": note}
    return {"fiedler": summary}
