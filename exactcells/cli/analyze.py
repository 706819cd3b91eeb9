"""``exactcells analyze``: the main job: complex, picture and summary of one network.

Later parts of the report (homology, Fiedler vectors) are *sections*: functions listed in
``SECTIONS`` as ``"module:function"``; each takes an :class:`AnalysisContext` and returns a dict
merged into ``summary.json`` (and may write figures into the output directory).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..build import build_complex
from ..complex import PolyhedralComplex
from ..domain import Domain
from ..errors import OutputPathError
from ..io import atomic_write_text, check_writable, prepare_output_dir
from ..network import Network
from ..plot import check_drawable, save_complex_png
from ..slicing import default_slice
from . import print_json
from .common import Problem, add_network_args, count, load_problem

__all__ = ["AnalysisContext", "SECTIONS", "register", "run"]

# later issues add their report sections here ("module:function")
SECTIONS: list[str] = ["exactcells.cli.fiedler:analyze_section", "exactcells.cli.homology:analyze_section",
                       "exactcells.cli.fiedler:multiclass_section"]
# every file the report may write (a failed run removes those it created)
REPORT_FILES = ("summary.json", "complex.png", "fiedler.png", "betti_curves.png", "classes.png")


@dataclass(frozen=True)
class AnalysisContext:
    """What a report section gets: the network, the domain, both complexes and the folder."""

    network: Network
    domain: Domain
    hidden: PolyhedralComplex  # cut by the hidden neurons (the paper's regions)
    refined: PolyhedralComplex  # also cut by the output's zero sets
    plane: PolyhedralComplex  # the refined complex of the 2-D picture (a slice when n > 2)
    outdir: Path
    force: bool
    marks: tuple[tuple[str, tuple[float, ...]], ...] = ()  # named points of the picture's plane
    points: Any = None  # (N, 2) float array of data points in the picture's plane, or None


def register(sub: Any) -> None:
    p = sub.add_parser("analyze", help="the main job: complex, picture and summary of a network",
                       description="Analyze NETWORK (default: the bundled 2-D classifier) and "
                                   "write summary.json and complex.png into DIR.")
    add_network_args(p, optional_network=True)
    p.add_argument("-o", "--output", default="exactcells-report", metavar="DIR",
                   help="output folder (default: ./exactcells-report)")
    p.add_argument("--points", metavar="FILE",
                   help="training points (.npy, .csv/.txt, .json; shape (N, n)): a high-dimensional "
                        "network's default plane goes through three of them; the points in the "
                        "picture's plane are marked (complex.png and report.html)")
    p.add_argument("--force", action="store_true", help="overwrite files in an existing folder")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-report", action="store_true", help="do not write the interactive report.html")
    p.set_defaults(func=run)


def _section(spec: str) -> Callable[[AnalysisContext], dict[str, Any]]:
    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    prob = load_problem(args, default_plane=True)
    check_drawable(prob.domain)  # the report's pictures: say so before any work
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise OutputPathError(f"cannot use {outdir} as the output folder: it is a file, not a folder")
    targets = [outdir / name for name in REPORT_FILES]
    report = not getattr(args, "no_report", False)
    if report:
        from ..report import REPORT_FILE
        from ..report.page import plotly_js

        plotly_js()  # a missing plotly is a clear error before any work
        targets.append(outdir / REPORT_FILE)
    for t in targets:
        check_writable(t, args.force)
    from ..topology.phat_adapter import require_phat

    require_phat()  # the topology section needs PHAT: say so before writing anything
    marks = _picture_marks(args, prob)
    existed = {t for t in targets if t.exists()}
    folder_existed = outdir.exists()
    try:
        return _run(args, prob, outdir, t0, report, marks)
    except BaseException:
        for t in targets:  # no partial report: remove what this run created
            if t not in existed:
                t.unlink(missing_ok=True)
        if not folder_existed and outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()
        raise


def _run(args: argparse.Namespace, prob: Problem, outdir: Path, t0: float, report: bool,
         picture_marks: tuple[list[tuple[str, tuple[float, ...]]], Any, int | None]) -> int:
    net, dom = prob.network, prob.domain
    marks, pts, n_marked = picture_marks
    progress = not args.no_progress
    hidden = build_complex(net, dom, progress=progress)
    refined = build_complex(net, dom, with_output=True, progress=progress)
    slice_note = None
    if dom.dim <= 2:
        plane = refined  # a 1-D complex is drawn as the graph of the output
    else:
        net2, dom2, slice_note = default_slice(net, dom)
        plane = build_complex(net2, dom2, with_output=True, progress=progress)
    prepare_output_dir(outdir)
    if prob.slice is not None:
        title = (f"{prob.original.architecture}: {count(hidden.num_regions, 'region')} on {dom.describe()} in "
                 f"slice coordinates,\n{prob.slice.describe()}")
    else:
        title = f"{net.architecture} on {dom.describe()}: {count(hidden.num_regions, 'region')}"
    if slice_note:
        title += f"\n{slice_note}"
    axis_labels = prob.slice.coordinate_names() if prob.slice is not None and dom.dim <= 2 else None
    save_complex_png(plane, outdir / "complex.png", title=title, force=args.force, marks=marks, points=pts,
                     axis_labels=axis_labels)
    summary: dict[str, Any] = {
        "network": str(args.network or "bundled default (2-D half-moons classifier)"),
        "architecture": prob.original.architecture,
        "input_dim": prob.original.input_dim,
        "slice": prob.record,
        "domain": dom.describe(),
        "rounding": net.rounding,
        "f_vector": list(hidden.f_vector),
        "num_regions": hidden.num_regions,
        "num_cells": hidden.num_cells,
        "euler_characteristic": hidden.euler_characteristic,
        "with_output": {
            "f_vector": list(refined.f_vector),
            "num_regions": refined.num_regions,
        },
        "picture": {"file": "complex.png", "slice": slice_note,
                    "coordinates": list(axis_labels) if axis_labels else None,
                    "marked_points": [m[0] for m in marks], "data_points_in_plane": n_marked},
    }
    ctx = AnalysisContext(net, dom, hidden, refined, plane, outdir, args.force, tuple(marks), pts)
    for spec in SECTIONS:
        summary.update(_section(spec)(ctx))
    if report:
        from ..report import write_analysis_report

        summary["report"] = "report.html"
        write_analysis_report(ctx, summary, points=pts, slice_note=slice_note)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_text(outdir / "summary.json", json.dumps(summary, indent=2) + "\n", force=args.force)
    if args.json:
        print_json(summary)
    else:
        if prob.slice is not None:
            print(f"{prob.original.architecture} on {prob.slice.describe()}")
        print(f"{net.architecture} on {dom.describe()}: f-vector {tuple(hidden.f_vector)}, "
              f"{count(hidden.num_regions, 'region')}; refined by the output: "
              f"{count(refined.num_regions, 'region')}")
        if slice_note:
            print(f"picture: {slice_note}")
        files = ["summary.json", *_figures(summary)] + (["report.html"] if report else [])
        print(f"wrote into {outdir}: {', '.join(files)}", file=sys.stderr)
    return 0


def _figures(summary: Any) -> list[str]:
    """The figures the summary names (``"file"`` entries among :data:`REPORT_FILES`), in order."""
    found: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            f = x.get("file")
            if isinstance(f, str) and f in REPORT_FILES and f not in found:
                found.append(f)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(summary)
    return found


def _picture_marks(args: argparse.Namespace, prob: Problem
                   ) -> tuple[list[tuple[str, tuple[float, ...]]], Any, int | None]:
    """The named points and the data points (``--points``) to mark in a 1-D or 2-D picture:
    on a slice, the data points that lie in it exactly, in slice coordinates."""
    import numpy as np

    from ..errors import FormatError
    from ..slicing import exact_row, points_in_slice, read_points

    if prob.domain.dim > 2:
        return [], None, None
    marks = [(name, tuple(float(v) for v in xy)) for name, xy in prob.marks]
    if not getattr(args, "points", None):
        return marks, None, None
    raw = read_points(args.points)
    n = prob.original.input_dim
    if len(raw) and len(raw[0]) != n:
        raise FormatError(f"{args.points}: the points have {len(raw[0])} coordinates but the network takes {n} inputs")
    if prob.slice is None:
        coords = [exact_row(r) for r in raw]
    else:
        coords = points_in_slice(prob.slice, raw)[1]
    pts = np.array([[float(v) for v in c] for c in coords], dtype=float).reshape(len(coords), prob.domain.dim)
    return marks, pts, len(coords)
