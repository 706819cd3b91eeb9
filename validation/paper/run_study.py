"""Reproduce the claims of arXiv 2510.12700 exactly and write validation/paper/REPORT.md.

Runs (PyTorch extra needed for the training):

* binary classification with the grokking recipe (:func:`exactcells.training.grokking_config`:
  24 points, init x6, MSE, AdamW wd 0.3, 2-32-32-1) on ``annuli``, ``xor`` and ``two_clusters``;
* regression of ``x^2 + y^2 - 1.5`` (2-16-16-1, 200 points, AdamW lr 0.01);

each with several seeds, tracked with :func:`exactcells.tracking.track` on the paper's box
``[-3, 3]^2`` (10 random filtrations per snapshot, 200 x 200 pixels for the paper's pipeline).
Per-snapshot results are cached under ``--work`` (default: a folder in the temp directory), so a
second run only redoes the analysis. Writes REPORT.md, the figures and ``data/all_runs.csv``
next to this script.

    python validation/paper/run_study.py [--seeds 3] [--jobs 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CLASS_TASKS = ("annuli", "xor", "two_clusters")


@dataclass
class Run:
    kind: str
    task: str
    seed: int
    config: Any
    result: Any
    history: dict
    snapshots: tuple
    train_seconds: float
    track_seconds: float


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return None
    return float(spearmanr(x[ok], y[ok]).statistic)


def fmt(vals: list[float | None], digits: int = 2) -> str:
    """mean +- sd [min, max] of the defined values."""
    v = np.array([x for x in vals if x is not None], dtype=float)
    if v.size == 0:
        return "n/a (constant series)"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():+.{digits}f} +- {v.std():.{digits}f} [{v.min():+.{digits}f}, {v.max():+.{digits}f}]"


def do_runs(args: argparse.Namespace, log: Any) -> list[Run]:
    from exactcells.tracking import TrackSettings, track
    from exactcells.training import TrainConfig, grokking_config, train

    settings = TrackSettings(repeats=10, seed=0, pixels=200)
    plan: list[tuple[str, str, int, Any]] = []
    for task in CLASS_TASKS:
        for seed in range(args.seeds):
            plan.append(("grokking", task, seed,
                         grokking_config(task, seed=seed, epochs=args.grok_epochs, every=args.grok_every)))
    for seed in range(args.seeds):
        plan.append(("regression", "regression", seed,
                     TrainConfig(task="regression", arch="2-16-16-1", epochs=args.reg_epochs,
                                 every=args.reg_every, seed=seed, n_train=200, lr=0.01)))
    runs = []
    for kind, task, seed, cfg in plan:
        t0 = time.perf_counter()
        tr = train(cfg)
        t1 = time.perf_counter()
        res = track(tr.snapshots, settings, points=tr.dataset.X_train.astype(float), jobs=args.jobs,
                    cache_dir=Path(args.work) / f"{task}_s{seed}" / "results")
        t2 = time.perf_counter()
        log(f"{task} seed {seed}: trained in {t1 - t0:.0f} s, tracked {len(res.results)} snapshots "
            f"({res.cached} cached) in {t2 - t1:.0f} s")
        runs.append(Run(kind, task, seed, cfg, res, {k: list(v) for k, v in tr.history.items()},
                        tr.snapshots, t1 - t0, t2 - t1))
    return runs


def write_csv(runs: list[Run], path: Path) -> None:
    from exactcells.tracking import columns

    cols = ["task", "seed", *columns(2)]
    lines = [",".join(cols)]
    for r in runs:
        for row in r.result.rows():
            vals = [r.task, str(r.seed)] + ["" if row[c] is None else
                                            (repr(row[c]) if isinstance(row[c], float) else str(row[c]))
                                            for c in cols[2:]]
            lines.append(",".join(vals))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# -- figures ------------------------------------------------------------------------------------


def figures(runs: list[Run], out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    grok = [r for r in runs if r.kind == "grokking"]
    reg = [r for r in runs if r.kind == "regression"]
    # 1. grokking curves
    fig, axes = plt.subplots(1, len(CLASS_TASKS), figsize=(4.2 * len(CLASS_TASKS), 3.4), sharey=True)
    for ax, task in zip(axes, CLASS_TASKS):
        for r in (r for r in grok if r.task == task):
            e = np.arange(len(r.history["accuracy"]))
            ax.plot(e, r.history["accuracy"], color="C0", lw=0.8, alpha=0.8,
                    label="train" if r.seed == 0 else None)
            ax.plot(e, r.history["test_accuracy"], color="C3", lw=0.8, alpha=0.8,
                    label="test" if r.seed == 0 else None)
        ax.set_title(f"{task} (grokking recipe, {len([r for r in grok if r.task == task])} seeds)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(out / "fig_grokking.png", dpi=110)
    plt.close(fig)
    files["grokking"] = "fig_grokking.png"
    # 2. Fiedler agreement over epochs
    fig, axes = plt.subplots(1, len(CLASS_TASKS), figsize=(4.2 * len(CLASS_TASKS), 3.6), sharey=True)
    series = [("fiedler_agreement_weighted", "exact dual graph, paper weights", "C0"),
              ("fiedler_agreement", "exact dual graph, unweighted", "C2"),
              ("paper_agreement", "paper pipeline (pixels + Hamming-1)", "C1"),
              ("test_accuracy", "test accuracy", "k")]
    for ax, task in zip(axes, CLASS_TASKS):
        rs = [r for r in grok if r.task == task]
        x = np.array(rs[0].result.epochs, dtype=float)
        for col, label, color in series:
            Y = np.array([r.result.series(col) for r in rs])
            ax.plot(x, np.nanmean(Y, axis=0), color=color, lw=1.6, ls="--" if color == "k" else "-",
                    label=label)
            ax.fill_between(x, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0), color=color, alpha=0.15)
        ax.set_title(f"{task}: mean and range over seeds", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0.45, 1.02)
    axes[0].set_ylabel("agreement with the decision boundary (area)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "fig_fiedler.png", dpi=110)
    plt.close(fig)
    files["fiedler"] = "fig_fiedler.png"
    # 3. regression signatures
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for r in reg:
        x = np.array(r.result.epochs, dtype=float)
        axes[0].plot(x, r.result.series("loss"), lw=1.2, label=f"seed {r.seed}")
        axes[1].plot(x, r.result.series("num_regions"), lw=1.2)
        axes[2].plot(x, r.result.series("betti_max_0_mean"), lw=1.2)
        axes[3].plot(x, r.result.series("betti_max_1_mean"), lw=1.2)
    axes[0].set_yscale("log")
    for ax, t in zip(axes, ("training loss", "exact regions", "max beta_0 (random filtrations)",
                            "max beta_1 (random filtrations)")):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    fig.suptitle("regression of x^2 + y^2 - 1.5 (2-16-16-1)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "fig_regression.png", dpi=110)
    plt.close(fig)
    files["regression"] = "fig_regression.png"
    # 4. proxies
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.4))
    for r in runs:
        x = np.array(r.result.epochs, dtype=float)
        lab = f"{r.task} s{r.seed}"
        axes[0].plot(x, r.result.series("num_regions") - r.result.series("pixel_regions"), lw=1, label=lab)
        axes[1].plot(x, r.result.series("hamming_false_edges"), lw=1)
        axes[2].plot(x, r.result.series("hamming_missing_edges"), lw=1)
    for ax, t in zip(axes, ("exact regions - regions seen by 200 x 200 pixels",
                            "Hamming-1 edges that are not adjacencies",
                            "adjacencies missing from Hamming-1")):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "fig_proxies.png", dpi=110)
    plt.close(fig)
    files["proxies"] = "fig_proxies.png"
    # 5. the complex through grokking (annuli, seed 0): GIF and three frames
    from exactcells.build import build_complex
    from exactcells.plot import plot_complex_2d
    from exactcells.tracking_plots import save_complex_gif

    r0 = next(r for r in grok if r.task == "annuli" and r.seed == 0)
    save_complex_gif(r0.result, r0.snapshots, out / "complex_annuli.gif", max_frames=24, force=True)
    files["gif"] = "complex_annuli.gif"
    idx = [0, len(r0.result.results) // 3, len(r0.result.results) - 1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    by_epoch = {s.epoch: s for s in r0.snapshots}
    dom = r0.result.settings.domain
    for ax, i in zip(axes, idx):
        res = r0.result.results[i]
        net = by_epoch[res.epoch].network
        K = build_complex(net, dom)
        R = build_complex(net, dom, with_output=True)
        vec = res.fiedler_vector_weighted
        width = K.signs.shape[1]
        vals = [vec[K.index_of(R.sign_vector(q)[:width]) - K.regions().start] for q in R.regions()]
        m = max(abs(v) for v in vals) or 1.0
        plot_complex_2d(R, ax, values=[v / m for v in vals],
                        title=f"epoch {res.epoch}: {res.row['num_regions']} regions, test acc "
                              f"{res.row['test_accuracy']:.2f}, agreement "
                              f"{res.row['fiedler_agreement_weighted']:.2f}")
    fig.tight_layout()
    fig.savefig(out / "fig_complex_annuli.png", dpi=100)
    plt.close(fig)
    files["frames"] = "fig_complex_annuli.png"
    return files


# -- the report ---------------------------------------------------------------------------------


def report(runs: list[Run], files: dict[str, str], args: argparse.Namespace, seconds: float) -> str:
    grok = [r for r in runs if r.kind == "grokking"]
    reg = [r for r in runs if r.kind == "regression"]
    L: list[str] = []
    w = L.append
    w("# Reproducing arXiv 2510.12700 with exact cell complexes")
    w("")
    cached = sum(r.result.cached for r in runs)
    total = sum(len(r.result.results) for r in runs)
    cpu = sum(x.seconds for r in runs for x in r.result.results)
    w(f"Generated by `validation/paper/run_study.py` on {datetime.date.today().isoformat()} "
      f"({os.cpu_count()} cores, `--jobs {args.jobs}`): this run took {seconds / 60:.1f} min with "
      f"{cached} of {total} snapshot results from the cache; computing every snapshot took "
      f"{cpu / 60:.1f} CPU-minutes in the workers (a run from scratch: about 9 min wall time on the "
      "shared 2-core machine). Every number below comes from `data/all_runs.csv` (one row per "
      "snapshot and run).")
    w("")
    w("## Setup")
    w("")
    g = grok[0].config
    w(f"* **Classification with grokking** on {', '.join(CLASS_TASKS)}, seeds 0..{args.seeds - 1}: "
      f"`grokking_config` = {g.arch}, {g.n_train} noise-free training points, initial weights x{g.init_scale:g}, "
      f"squared error to -1/+1, AdamW lr {g.lr:g}, weight decay {g.weight_decay:g}, {g.epochs} full-batch "
      f"epochs, a snapshot every {g.every} epochs ({len(grok[0].result.results)} snapshots per run).")
    rc = reg[0].config
    w(f"* **Regression** of x^2 + y^2 - 1.5 (noise {rc.noise:g}), seeds 0..{args.seeds - 1}: {rc.arch}, "
      f"{rc.n_train} points, AdamW lr {rc.lr:g}, {rc.epochs} epochs, a snapshot every {rc.every} "
      f"({len(reg[0].result.results)} snapshots per run).")
    w("* **Tracking** (`exactcells.tracking`) on the paper's box [-3, 3]^2: exact complex of the "
      "hidden neurons and its refinement by F = 0, Z/2 homology of F = 0 and F >= 0, 10 seeded random "
      "filtrations (random linear extensions of the face poset) and 10 dimension-random ones per "
      "snapshot, Fiedler vectors of the exact dual graph (unweighted; paper weights 1 + training points "
      "per region, points located exactly), the Hamming-1 proxy against the exact dual graph, and the "
      "paper's own pipeline: 200 x 200 pixel centres, regions = distinct float activation patterns, "
      "Hamming-1 graph among them, paper weights.")
    w("* Correlations are Spearman rank correlations over the snapshots of one run; the report gives "
      "mean +- sd [min, max] over the runs.")
    w("")
    w(f"![training curves]({files['grokking']})")
    w("")
    # grokking evidence
    w("### The grokking runs")
    w("")
    w("| task | seed | train acc = 1 first at epoch | test acc then | final test acc | regions first -> last |")
    w("|---|---|---|---|---|---|")
    for r in grok:
        acc = np.array(r.history["accuracy"])
        te = np.array(r.history["test_accuracy"])
        hit = np.flatnonzero(acc >= 1.0)
        e1 = int(hit[0]) if hit.size else None
        w(f"| {r.task} | {r.seed} | {e1 if e1 is not None else 'never'} | "
          f"{te[e1]:.2f} | {te[-1]:.2f} | {r.result.results[0].row['num_regions']} -> "
          f"{r.result.results[-1].row['num_regions']} |" if e1 is not None else
          f"| {r.task} | {r.seed} | never | - | {te[-1]:.2f} | {r.result.results[0].row['num_regions']} -> "
          f"{r.result.results[-1].row['num_regions']} |")
    w("")
    # claim 1
    w("## Claim 1: the weighted Fiedler partition comes to track the decision boundary during grokking")
    w("")
    w("Measured per run: the agreement (fraction of the box's area whose side of the Fiedler sign cut "
      "matches its class, maximised over the flip; exact volumes) at the first snapshot after "
      "initialisation and at the last one, and its rank correlation with the epoch and with the test "
      "accuracy. The same for the paper's pixel pipeline (agreement counted over pixels).")
    w("")
    w("| task | series | agreement at epoch " f"{grok[0].result.epochs[1]}" " | final agreement | rho(agreement, epoch) | rho(agreement, test acc) |")
    w("|---|---|---|---|---|---|")
    verdict_rows = []
    for task in CLASS_TASKS:
        rs = [r for r in grok if r.task == task]
        for col, name in (("fiedler_agreement_weighted", "exact, paper weights"),
                          ("fiedler_agreement", "exact, unweighted"),
                          ("paper_agreement", "paper pipeline")):
            first = [float(r.result.series(col)[1]) for r in rs]
            last = [float(r.result.series(col)[-1]) for r in rs]
            re_ = [spearman(r.result.series(col), np.array(r.result.epochs, float)) for r in rs]
            ra = [spearman(r.result.series(col), r.result.series("test_accuracy")) for r in rs]
            w(f"| {task} | {name} | {fmt(first)} | {fmt(last)} | {fmt(re_)} | {fmt(ra)} |")
            if col == "fiedler_agreement_weighted":
                verdict_rows.append((task, np.mean(first), np.mean(last), re_, ra))
    w("")
    w(f"![Fiedler agreement]({files['fiedler']})")
    w("")
    w(f"![complex through grokking]({files['frames']})")
    w("")
    w(f"Animation: [{files['gif']}]({files['gif']}) (regions coloured by the weighted Fiedler vector, "
      "decision boundary in black).")
    w("")
    ok1 = [t for t, a, b, re_, ra in verdict_rows
           if b >= 0.85 and b - a >= 0.1 and np.mean([x for x in ra if x is not None] or [0]) > 0.3]
    w(f"**Verdict.** Rule: the claim holds for a task when the mean final agreement is at least 0.85, "
      f"it rose by at least 0.1 from the first snapshot, and it correlates positively "
      f"(mean rho > 0.3) with the test accuracy. It holds for: {', '.join(ok1) if ok1 else 'none'} "
      f"(of {', '.join(CLASS_TASKS)}). See the discussion below.")
    w("")
    # claim 2
    w("## Claim 2: in regression, cells and Betti numbers of random filtrations move with the loss")
    w("")
    w("| series | rho with the training loss (regression) | rho with the training loss (grokking runs) |")
    w("|---|---|---|")
    claim2 = {}
    for col in ("num_regions", "num_cells", "f0", "f1", "betti_max_0_mean", "betti_max_1_mean",
                "boundary_b0", "boundary_b1", "positive_b0", "positive_b1", "fiedler_value"):
        a = [spearman(r.result.series(col), r.result.series("loss")) for r in reg]
        b = [spearman(r.result.series(col), r.result.series("loss")) for r in grok]
        claim2[col] = a
        w(f"| {col} | {fmt(a)} | {fmt(b)} |")
    w("")
    w(f"![regression signatures]({files['regression']})")
    w("")

    def consistent(vals: list[float | None]) -> bool:
        v = [x for x in vals if x is not None]
        return bool(v) and len(v) == len(vals) and (all(x <= -0.5 for x in v) or all(x >= 0.5 for x in v))

    held = [c for c in ("num_regions", "betti_max_0_mean", "betti_max_1_mean") if consistent(claim2[c])]
    w("**Verdict.** Rule: a series moves with the loss when |rho| >= 0.5 with the same sign in every "
      f"regression seed. Holds for: {', '.join(held) if held else 'none'} (of num_regions, "
      "betti_max_0_mean, betti_max_1_mean).")
    w("")
    # claim 3
    allres = [x for r in runs for x in r.result.results]
    give = sum(int(x.row["betti_maxima_give_f"] or 0) for x in allres)
    w("## Claim 3: the maxima of the Betti curves reveal the f-vector")
    w("")
    w(f"* Dimension-random filtrations (cells by dimension, random order inside): the maxima give the "
      f"f-vector exactly (f_k = M_k + M_(k-1) - beta_(k-1)) in **{give} of {len(allres)}** snapshots, "
      f"in every one of the {runs[0].result.settings.repeats} repeats.")
    r0 = np.array([x.row["betti_max_0_mean"] / x.row["f0"] for x in allres])
    r1 = np.array([x.row["betti_max_1_mean"] / x.row["f2"] for x in allres])
    w(f"* Random linear extensions of the face poset (a cell may enter as soon as its faces are in): "
      f"mean max beta_0 / f0 = {r0.mean():.3f} (range {r0.min():.3f}..{r0.max():.3f}), mean max beta_1 / f2 "
      f"= {r1.mean():.3f} (range {r1.min():.3f}..{r1.max():.3f}); their rank correlation with f0 "
      f"over all snapshots is {spearman(np.array([x.row['betti_max_0_mean'] for x in allres], float), np.array([x.row['f0'] for x in allres], float)) or float('nan'):.2f}. "
      "They track the size of the complex but do not give the f-vector: the identity is exact only "
      "when cells enter by dimension.")
    w("")
    # claim 4
    w("## Where exact computation changes the picture")
    w("")
    prec = np.array([x.row["hamming_precision"] for x in allres], dtype=float)
    rec = np.array([x.row["hamming_recall"] for x in allres], dtype=float)
    fe = np.array([x.row["hamming_false_edges"] for x in allres], dtype=float)
    me = np.array([x.row["hamming_missing_edges"] for x in allres], dtype=float)
    pm = np.array([x.row["pixel_missed_regions"] for x in allres], dtype=float)
    pr = np.array([x.row["num_regions"] for x in allres], dtype=float)
    pa = np.array([x.row["pixel_missed_area"] for x in allres], dtype=float)
    dp = np.array([x.row["distinct_patterns"] for x in allres], dtype=float)
    comp = np.array([x.row["paper_components"] or 1 for x in allres], dtype=float)
    w(f"Over all {len(allres)} snapshots of all runs:")
    w("")
    w(f"* **Hamming-1 proxy vs exact dual graph**: precision {prec.min():.3f}..{prec.max():.3f} "
      f"(median {np.median(prec):.3f}), recall {rec.min():.3f}..{rec.max():.3f}; it invents "
      f"{fe.mean():.1f} non-adjacent pairs per snapshot on average (max {fe.max():.0f}) and misses "
      f"{me.mean():.1f} adjacencies (max {me.max():.0f}); it is exact in "
      f"{int(np.sum((fe == 0) & (me == 0)))} snapshots.")
    w(f"* **Pixel sampling (200 x 200 on [-3, 3]^2)** misses {pm.mean():.1f} regions per snapshot on average "
      f"(max {pm.max():.0f}; {100 * np.mean(pm / pr):.1f} % of the regions), which hold "
      f"{100 * pa.mean():.3f} % of the area on average (max {100 * pa.max():.3f} %). "
      f"Distinct activation patterns are fewer than regions in {int(np.sum(dp < pr))} snapshots "
      "(the paper's region = pattern identification merges them).")
    w(f"* **The paper's Hamming-1 graph on the sampled patterns** is disconnected in "
      f"{int(np.sum(comp > 1))} of {len(allres)} snapshots (its Fiedler value is then 0; the report "
      "uses the largest component as one side).")
    diffs = [abs(x.row["paper_agreement"] - x.row["fiedler_agreement_weighted"]) for x in allres
             if x.row["paper_agreement"] is not None and x.row["fiedler_agreement_weighted"] is not None]
    w(f"* **Agreement, paper pipeline vs exact (paper weights)**: mean absolute difference "
      f"{np.mean(diffs):.3f}, max {np.max(diffs):.3f}.")
    w("")
    w(f"![proxies]({files['proxies']})")
    w("")
    # discussion, from the same numbers
    w("## Discussion")
    w("")
    lag = []
    for r in grok:
        acc = np.array(r.history["accuracy"])
        te = np.array(r.history["test_accuracy"])
        hit = np.flatnonzero(acc >= 1.0)
        if hit.size and hit[0] > 0:
            lag.append((r.task, te[hit[0]], te[-1]))
    late = [x for x in lag if x[2] - x[1] >= 0.1]
    w(f"* **Grokking.** In {len(late)} of {len(grok)} classification runs the test accuracy rose by at "
      "least 0.1 after the training accuracy had reached 1 (late generalisation, the grokking "
      "signature; the recipe is tuned for it, it is not a sharp jump on these 2-D tasks). "
      "`two_clusters` is too easy to grok: it generalises almost at once.")
    wsum = [x.row["training_points_inside"] / x.row["num_regions"] for r in grok for x in r.result.results]
    dw = [abs(x.row["fiedler_agreement_weighted"] - x.row["fiedler_agreement"]) for r in grok
          for x in r.result.results if x.row["fiedler_agreement_weighted"] is not None]
    finals = {t: np.mean([r.result.series("fiedler_agreement_weighted")[-1] for r in grok if r.task == t])
              for t in CLASS_TASKS}
    w(f"* **Claim 1 is not reproduced by the exact computation.** The final agreement of the weighted "
      f"Fiedler cut with the decision boundary is {', '.join(f'{t} {v:.2f}' for t, v in finals.items())} "
      "(0.5 is chance for a balanced cut). The paper's weights change little: with "
      f"{grok[0].config.n_train} training points and {int(np.mean([r.result.series('num_regions').mean() for r in grok]))} "
      f"regions on average, at most {100 * max(wsum):.1f} % of the nodes carry a weight above 1, and the "
      f"weighted and unweighted agreements differ by {np.mean(dw):.3f} on average. A Fiedler sign cut is "
      "a balanced two-way cut of the dual graph; it can follow a decision boundary that splits the box "
      "into two large pieces (`two_clusters`, a line) better than a closed curve (`annuli`) or two "
      "crossing lines (`xor`).")
    w(f"* **The paper's pipeline shows a different picture** (rows 'paper pipeline'): its agreement moves "
      f"differently from the exact one (mean absolute difference {np.mean(diffs):.3f}, up to "
      f"{np.max(diffs):.3f}), because its Hamming-1 graph on sampled patterns is often disconnected "
      f"({int(np.sum(comp > 1))} of {len(allres)} snapshots): the 'Fiedler' partition is then a "
      "component split, not a spectral cut.")
    held_txt = ", ".join(held) if held else "no signature"
    w(f"* **Claim 2 holds only in part.** In regression the number of regions and the Betti-curve maxima "
      f"correlate positively with the loss on average (regions: {fmt(claim2['num_regions'])}), i.e. the "
      "complex loses regions as the loss falls, but not consistently over seeds by the stated rule "
      f"({held_txt} passes). In the grokking runs there is no consistent relation.")
    w("* **Claim 3 is exact for filtrations by dimension** (every snapshot, every repeat) and false for "
      "general random filtrations, whose Betti-curve maxima are a stable fraction of the f-vector: "
      "useful as a size signature, not as the f-vector.")
    w(f"* **Sampling and the Hamming-1 proxy.** The pixels miss {100 * np.mean(pm / pr):.1f} % of the "
      "regions (small ones: their area is a fraction of a percent), so a sampled dual graph has fewer "
      "nodes and different edges; the Hamming-1 proxy adds edges between regions that do not touch in "
      "every snapshot but a few. Exact computation removes both errors; for the global signatures "
      "above (counts, Betti numbers) the missed regions matter more than the proxy's extra edges.")
    w("")
    w("## Run times")
    w("")
    w("| run | snapshots | training (s) | tracking: sum over snapshots (s) | median per snapshot (s) |")
    w("|---|---|---|---|---|")
    for r in runs:
        sec = [x.seconds for x in r.result.results]
        w(f"| {r.task} seed {r.seed} | {len(sec)} | {r.train_seconds:.0f} | {sum(sec):.0f} | "
          f"{np.median(sec):.2f} |")
    w("")
    return "\n".join(L) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--grok-epochs", type=int, default=3000)
    ap.add_argument("--grok-every", type=int, default=200)
    ap.add_argument("--reg-epochs", type=int, default=2000)
    ap.add_argument("--reg-every", type=int, default=100)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "exactcells-paper-study"))
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)

    runs = do_runs(args, log)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(runs, out / "data" / "all_runs.csv")
    log("figures")
    files = figures(runs, out)
    text = report(runs, files, args, time.perf_counter() - t0)
    old = (out / "REPORT.md").read_text() if (out / "REPORT.md").exists() else ""
    start, end = "<!-- multiclass:start -->", "<!-- multiclass:end -->"
    if start in old and end in old:  # the section of run_multiclass.py is kept
        text = text.rstrip("\n") + "\n\n" + old[old.index(start) : old.index(end) + len(end)] + "\n"
    (out / "REPORT.md").write_text(text)
    log(f"wrote {out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
