"""``exactcells track``: topological signatures of a network through training.

Two ways in:

* ``exactcells track --task xor --arch 2-16-16-1 --epochs E --every K [--seed S] -o DIR`` trains
  (PyTorch extra) and tracks; ``--grokking`` starts from the grokking recipe
  (:func:`exactcells.training.grokking_config`), other training flags override it;
* ``exactcells track --snapshots DIR -o OUT`` tracks networks trained elsewhere: a folder of
  network files named by epoch (``epoch_000100.json``; ``loss``/``accuracy`` keys are read when
  present; a ``training_points.json`` there, or ``--points FILE``, gives the paper's weights).

Networks with more than two inputs (``--task digits``: scikit-learn's 8x8 digits, 64 inputs, 10
classes) are tracked through a fixed plane: ``--plane FILE`` (three points p0, p1, p2, as for
``cells``), or by default the plane through the first training images of the first three classes
(said on stderr); ``--box``/``--domain`` are then in the plane's coordinates (default
``[-1/2, 3/2]^2``) and ``--ambient-box LO HI`` also intersects with the input box. The plane is
recorded in ``summary.json`` (``settings.slice``) and ``plane.json``.

Output folder: ``snapshots/`` (when training: the snapshots, ``training_points.json``,
``run.json``), ``results/`` (one raw result per snapshot: the cache that lets an interrupted run
resume), ``track.csv`` (one row per snapshot), ``summary.json``, ``signatures.png``,
``fiedler.png``, ``complex.gif``, ``report.html`` (an epoch slider over the complexes and the
signature curves; ``--no-report`` skips it) and ``training.png`` when training. Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import replace
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import OutputExistsError, OutputPathError, TrackArgumentError
from ..io import atomic_write_text
from ..progress import Progress
from . import print_json

__all__ = ["register", "run"]

DEFAULT_PIXELS = 100


def default_jobs() -> int:
    """Worker processes by default: one per core, at most 4 (snapshots are independent)."""
    return max(1, min(4, os.cpu_count() or 1))


OUTPUTS = ("track.csv", "summary.json", "signatures.png", "fiedler.png", "complex.gif")


_DONE = re.compile(r"\[(\d+)/\d+\] (.*)")


def _snapshot_done(bar: Progress, message: str) -> None:
    """:func:`exactcells.tracking.track`'s message after each snapshot: the bar advances (when
    it is shown); other messages, and every message when it is not, are log lines."""
    m = _DONE.fullmatch(message)
    if m is not None and bar.enabled:
        bar.advance_to(int(m.group(1)), m.group(2))
    else:
        bar.write(f"exactcells track: {message}")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "track", help="topological signatures of a network through training",
        description="Train a small MLP on a 2-D task and track its exact complex, homology and Fiedler "
                    "partitions through training (or track a folder of snapshots with --snapshots).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="train on a task: annuli, two_clusters, xor, spiral, checkerboard, "
                                    "half_plane, regression, or a multiclass task (cross-entropy, one "
                                    "output per class): spiral3, blobs3 (2-D, 3 classes), digits "
                                    "(8x8 images, 64 inputs, 10 classes; tracked through a plane)")
    src.add_argument("--snapshots", metavar="DIR", help="track the epoch_*.json networks of DIR")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    t = p.add_argument_group("training (with --task)")
    t.add_argument("--arch", default=None,
                   help="layer widths (default 2-16-16-1; 2-16-16-3 for the 3-class tasks, "
                        "64-16-16-10 for digits; with --grokking the recipe's 2-32-32-1)")
    t.add_argument("--epochs", type=int, help="full-batch training steps (default 1000; grokking 4000)")
    t.add_argument("--every", type=int, help="snapshot interval in epochs (default 50; grokking 100)")
    t.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    t.add_argument("--grokking", action="store_true",
                   help="start from the grokking recipe (its architecture 2-32-32-1 unless --arch)")
    t.add_argument("--optimizer", choices=("adamw", "sgd"), help="optimiser (default adamw)")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--weight-decay", type=float, help="weight decay")
    t.add_argument("--restart-every", type=int, help="reset the optimiser every N epochs (warm restarts)")
    t.add_argument("--n-train", type=int, help="training set size")
    t.add_argument("--init-scale", type=float, help="factor on the initial weights")
    t.add_argument("--loss", choices=("bce", "mse", "ce"),
                   help="classification loss (binary: bce or mse; the 3-class tasks use ce, cross-entropy)")
    k = p.add_argument_group("tracking")
    k.add_argument("--points", metavar="FILE", help="training points (JSON with 'X', or a list of points)")
    g = k.add_mutually_exclusive_group()
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"),
                   help="the box [LO, HI]^2 (default [-3, 3]^2; in plane coordinates with a plane, "
                        "default [-1/2, 3/2]^2)")
    g.add_argument("--domain", metavar="FILE", help="domain JSON (in plane coordinates with a plane)")
    k.add_argument("--plane", metavar="FILE",
                   help="track through the plane of three points p0, p1, p2 (JSON list, .npy (3, n), "
                        "CSV): (s, t) -> p0 + s (p1 - p0) + t (p2 - p0); default for networks with "
                        "more than 2 inputs: through the first training images of three classes")
    k.add_argument("--ambient-box", nargs=2, metavar=("LO", "HI"),
                   help="with a plane: also intersect it with the input box [LO, HI]^n (e.g. 0 1 for "
                        "pixel values)")
    k.add_argument("--repeats", type=int, default=10, help="random filtrations per snapshot (default 10)")
    k.add_argument("--filtration-seed", type=int, default=0, help="first filtration seed (default 0)")
    k.add_argument("--pixels", type=int, default=DEFAULT_PIXELS,
                   help=f"pixel grid of the paper's sampling pipeline (default {DEFAULT_PIXELS}; "
                        "200 is the paper's resolution; 0 skips it)")
    k.add_argument("--jobs", type=int, default=default_jobs(),
                   help="Dask worker processes, one task per snapshot (default: the number of cores, "
                        "at most 4; 0: compute in this process)")
    k.add_argument("--scheduler", metavar="ADDRESS", help="run the snapshots on a running Dask cluster")
    k.add_argument("--max-frames", type=int, default=40, help="frames of the GIF (default 40)")
    k.add_argument("--no-gif", action="store_true", help="skip the animation")
    k.add_argument("--no-report", action="store_true", help="skip the interactive report.html")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true",
                   help="no progress on stderr (the bar is shown only when stderr is a terminal)")
    p.set_defaults(func=run)


def _domain(args: argparse.Namespace, default: Any = None) -> Any:
    from ..domain import Domain, load_domain
    from ..numbers import to_rational
    from ..tracking import default_domain

    if args.domain:
        return load_domain(args.domain)
    if args.box:
        lo, hi = to_rational(args.box[0], "--box LO"), to_rational(args.box[1], "--box HI")
        return Domain.box(2, lo, hi)
    return default if default is not None else default_domain()


def _plane_indices(X: Any, y: Any, n: int) -> tuple[tuple[int, int, int], str]:
    """Three training points for the default plane: the first point of each of the first three
    classes in the order of the training set when they span a plane (``y`` given), else the
    first three affinely independent points."""
    from .common import _independent_triple

    if y is not None:
        firsts: list[int] = []
        seen: set[Any] = set()
        for i, label in enumerate(list(y)):
            if label not in seen:
                seen.add(label)
                firsts.append(i)
            if len(firsts) == 3:
                break
        if len(firsts) == 3:
            from ..geometry import affine_rank
            from ..slicing import exact_row

            pts = [exact_row(X[i]) for i in firsts]
            if affine_rank(pts) == 2:
                labels = ", ".join(str(int(y[i])) for i in firsts)
                return (firsts[0], firsts[1], firsts[2]), f"the first training images of classes {labels}"
    idx = _independent_triple(X, n, "the training points")
    return idx, "the first three affinely independent training points"


def _settings(args: argparse.Namespace, n: int, points: Any, labels: Any) -> tuple[Any, str | None]:
    """The tracking settings: the domain, and for networks with more than two inputs (or with
    ``--plane``) the plane, with a sentence when exactcells picked it."""
    from ..domain import Domain
    from ..numbers import format_rational, to_rational
    from ..slicing import exact_row, load_plane, plane_domain, plane_through
    from ..tracking import TrackSettings

    common = {"repeats": args.repeats, "seed": args.filtration_seed, "pixels": args.pixels}
    if n == 2 and not args.plane:
        if args.ambient_box:
            raise TrackArgumentError("--ambient-box needs a plane (--plane, or networks with more than 2 inputs)")
        return TrackSettings(domain=_domain(args), **common), None
    note = None
    if args.plane:
        sl = load_plane(args.plane, n)
    elif points is not None and len(points) >= 3:
        idx, what = _plane_indices(points, labels, n)
        p0, p1, p2 = (exact_row(points[i]) for i in idx)
        sl = plane_through(p0, p1, p2,
                           source=f"training points {idx[0]}, {idx[1]}, {idx[2]} (0-based; {what})")
        note = f"tracking through the plane of training points {idx[0]}, {idx[1]}, {idx[2]} ({what})"
    else:
        raise TrackArgumentError(f"the networks take {n} inputs: give a plane (--plane FILE, three points) "
                                 "or training points to pick one from")
    base = _domain(args, Domain.box(2, Fraction(-1, 2), Fraction(3, 2)))
    rows = None
    name = ""
    if args.ambient_box:
        lo, hi = to_rational(args.ambient_box[0], "--ambient-box LO"), to_rational(args.ambient_box[1], "--ambient-box HI")
        if lo >= hi:
            raise TrackArgumentError(f"--ambient-box: LO = {args.ambient_box[0]} is not below HI = {args.ambient_box[1]}")
        rows = sl.box_pullback([lo] * n, [hi] * n)
        name = f"the input box [{format_rational(lo)}, {format_rational(hi)}]^{n}"
    dom = plane_domain(sl, base, rows, name or "the input box")
    return TrackSettings(domain=dom, slice=sl, **common), note


def _train_config(args: argparse.Namespace) -> Any:
    from ..training import TrainConfig, grokking_config, input_dim, num_outputs

    if args.grokking:
        base = grokking_config(args.task, args.arch, args.seed) if args.arch else \
            grokking_config(args.task, seed=args.seed)
    else:
        default_arch = f"{input_dim(args.task)}-16-16-{num_outputs(args.task)}"
        base = TrainConfig(task=args.task, arch=args.arch or default_arch, seed=args.seed)
    over: dict[str, Any] = {}
    for name in ("arch", "epochs", "every", "lr", "weight_decay", "n_train", "init_scale", "loss",
                 "optimizer", "restart_every"):
        v = getattr(args, name)
        if v is not None:
            over[name] = v
    return replace(base, **over)


def run(args: argparse.Namespace) -> int:
    from ..tracking import (
        TRAINING_POINTS_FILE,
        correlations,
        load_snapshots,
        load_training_points,
        points_in_slice_coordinates,
        sliced_snapshots,
        track,
    )
    from ..tracking_plots import (
        save_complex_gif,
        save_fiedler_figure,
        save_signature_figure,
        save_training_figure,
    )

    t0 = time.perf_counter()
    out = Path(args.output)
    quiet = args.no_progress

    def say(msg: str) -> None:
        if not quiet:
            print(f"exactcells track: {msg}", file=sys.stderr, flush=True)

    if out.exists() and not out.is_dir():
        raise OutputPathError(f"cannot use {out} as the output folder: it is a file, not a folder")
    report = not getattr(args, "no_report", False)
    if report:
        from ..report.page import plotly_js

        plotly_js()  # a missing plotly is a clear error before any work
    if not args.force:
        for name in OUTPUTS + (("report.html",) if report else ()):
            if (out / name).exists():
                raise OutputExistsError(f"{out / name} exists already; pass --force to overwrite "
                                        "(cached per-snapshot results are reused either way)")
    if args.jobs < 0 or args.repeats < 1 or args.max_frames < 1:
        raise TrackArgumentError("--repeats and --max-frames must be at least 1, --jobs at least 0")
    if args.snapshots and any(getattr(args, a) is not None for a in
                              ("arch", "epochs", "every", "lr", "weight_decay", "n_train", "init_scale",
                               "loss", "optimizer", "restart_every")):
        raise TrackArgumentError("training options (--arch, --epochs, ...) need --task, not --snapshots")
    points = None
    labels = None
    history = None
    source: dict[str, Any]
    if args.task:
        from ..training import save_run, train

        cfg = _train_config(args)
        say(f"training {cfg.arch} on {cfg.task} for {cfg.epochs} epochs (seed {cfg.seed})")
        trained = train(cfg, progress=say)
        save_run(trained, out / "snapshots", force=args.force)
        snaps = trained.snapshots
        points = trained.dataset.X_train.astype(float)
        labels = trained.dataset.y_train
        history = trained.history
        source = {"trained": cfg.to_dict()}
    else:
        folder = Path(args.snapshots)
        snaps = load_snapshots(folder)
        if (folder / TRAINING_POINTS_FILE).is_file():
            points = load_training_points(folder / TRAINING_POINTS_FILE)
        source = {"snapshots": str(folder)}
    if args.points:
        points = load_training_points(Path(args.points))
    settings, note = _settings(args, snaps[0].network.input_dim, points, labels)
    if note:
        say(note)
    if settings.slice is not None:
        plane_record = settings.slice.to_dict()
        plane_record["domain"] = settings.domain.to_dict()
        plane_record["domain_description"] = settings.domain.describe()
        text = json.dumps(plane_record, indent=2) + "\n"
        target = out / "plane.json"
        if target.exists() and not args.force and target.read_text(encoding="utf-8") != text:
            raise OutputExistsError(f"{target} exists already and records another plane; pass --force "
                                    "to overwrite")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text, force=True)
    say(f"tracking {len(snaps)} snapshots on {settings.domain.describe()} with {args.jobs} job(s)")
    with Progress(len(snaps), "snapshots", show=not quiet) as bar:
        res = track(snaps, settings, points=points, jobs=args.jobs, scheduler=args.scheduler,
                    cache_dir=out / "results",
                    progress=None if quiet else partial(_snapshot_done, bar))
    res.write_csv(out / "track.csv", force=args.force)
    name = source.get("trained", {}).get("task") or Path(args.snapshots or "").name
    title = f"{name}: {snaps[0].network.architecture}"
    if settings.slice is not None:
        title += " through a plane"
    save_signature_figure(res, out / "signatures.png", title=title, force=args.force)
    save_fiedler_figure(res, out / "fiedler.png", title=title, force=args.force)
    files = ["track.csv", "signatures.png", "fiedler.png"]
    if history is not None:
        save_training_figure(history, out / "training.png", title=title, force=args.force)
        files.append("training.png")
    # pictures and the report see the networks restricted to the plane (2-D), and the training
    # points that lie in it, in plane coordinates
    import numpy as np

    shown = sliced_snapshots(snaps, settings)
    if settings.slice is not None and points is not None:
        inside = points_in_slice_coordinates(points, settings)
        shown_points = (None if not inside else
                        np.array([[float(x) for x in p] for p in inside], dtype=float))
    else:
        shown_points = points
    if not args.no_gif and settings.domain.dim == 2:
        save_complex_gif(res, shown, out / "complex.gif", max_frames=args.max_frames, force=args.force,
                         progress=None if quiet else say)
        files.append("complex.gif")
    if report:
        from ..report import write_training_report

        say("writing report.html")
        write_training_report(res, shown, out / "report.html", points=shown_points, title=title,
                              max_frames=args.max_frames, force=args.force)
        files.append("report.html")
    summary: dict[str, Any] = {
        "source": source,
        "settings": settings.to_dict(),
        "snapshots": len(res.results),
        "epochs": [res.epochs[0], res.epochs[-1]],
        "cached": res.cached,
        "training_points": None if points is None else int(len(points)),
        "classes": res.settings.classes,
        "plane": None if settings.slice is None else settings.slice.describe(),
        "spearman_with_loss": correlations(res),
        "last": dict(res.results[-1].row),
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n", force=args.force)
    if args.json:
        print_json(summary)
    else:
        last = res.results[-1].row
        print(f"{len(res.results)} snapshots, epochs {res.epochs[0]}..{res.epochs[-1]}: regions "
              f"{res.results[0].row['num_regions']} -> {last['num_regions']}; table {out / 'track.csv'}")
    say(f"done in {summary['seconds']} s")
    return 0
