"""``exactcells track``: topological signatures of a network through training.

Two ways in:

* ``exactcells track --task xor --arch 2-16-16-1 --epochs E --every K [--seed S] -o DIR`` trains
  (PyTorch extra) and tracks; ``--grokking`` starts from the grokking recipe
  (:func:`exactcells.training.grokking_config`), other training flags override it;
* ``exactcells track --snapshots DIR -o OUT`` tracks networks trained elsewhere: a folder of
  network files named by epoch (``epoch_000100.json``; ``loss``/``accuracy`` keys are read when
  present; a ``training_points.json`` there, or ``--points FILE``, gives the paper's weights).

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
                                    "half_plane, regression, or a 3-class task (cross-entropy, one "
                                    "output per class): spiral3, blobs3")
    src.add_argument("--snapshots", metavar="DIR", help="track the epoch_*.json networks of DIR")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    t = p.add_argument_group("training (with --task)")
    t.add_argument("--arch", default=None,
                   help="layer widths (default 2-16-16-1; 2-16-16-3 for the 3-class tasks; "
                        "with --grokking the recipe's 2-32-32-1)")
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
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"), help="the box [LO, HI]^2 (default [-3, 3]^2)")
    g.add_argument("--domain", metavar="FILE", help="domain JSON")
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


def _domain(args: argparse.Namespace) -> Any:
    from ..domain import Domain, load_domain
    from ..numbers import to_rational
    from ..tracking import default_domain

    if args.domain:
        return load_domain(args.domain)
    if args.box:
        lo, hi = to_rational(args.box[0], "--box LO"), to_rational(args.box[1], "--box HI")
        return Domain.box(2, lo, hi)
    return default_domain()


def _train_config(args: argparse.Namespace) -> Any:
    from ..training import TrainConfig, grokking_config, num_outputs

    if args.grokking:
        base = grokking_config(args.task, args.arch, args.seed) if args.arch else \
            grokking_config(args.task, seed=args.seed)
    else:
        base = TrainConfig(task=args.task, arch=args.arch or f"2-16-16-{num_outputs(args.task)}", seed=args.seed)
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
        TrackSettings,
        correlations,
        load_snapshots,
        load_training_points,
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
    settings = TrackSettings(domain=_domain(args), repeats=args.repeats, seed=args.filtration_seed,
                             pixels=args.pixels)
    points = None
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
    say(f"tracking {len(snaps)} snapshots on {settings.domain.describe()} with {args.jobs} job(s)")
    with Progress(len(snaps), "snapshots", show=not quiet) as bar:
        res = track(snaps, settings, points=points, jobs=args.jobs, scheduler=args.scheduler,
                    cache_dir=out / "results",
                    progress=None if quiet else partial(_snapshot_done, bar))
    res.write_csv(out / "track.csv", force=args.force)
    name = source.get("trained", {}).get("task") or Path(args.snapshots or "").name
    title = f"{name}: {snaps[0].network.architecture}"
    save_signature_figure(res, out / "signatures.png", title=title, force=args.force)
    save_fiedler_figure(res, out / "fiedler.png", title=title, force=args.force)
    files = ["track.csv", "signatures.png", "fiedler.png"]
    if history is not None:
        save_training_figure(history, out / "training.png", title=title, force=args.force)
        files.append("training.png")
    if not args.no_gif and settings.domain.dim == 2:
        save_complex_gif(res, snaps, out / "complex.gif", max_frames=args.max_frames, force=args.force,
                         progress=None if quiet else say)
        files.append("complex.gif")
    if report:
        from ..report import write_training_report

        say("writing report.html")
        write_training_report(res, snaps, out / "report.html", points=points, title=title,
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
