"""The multiclass study: argmax class regions, their topology and k-way spectral partitions
through training, and the section "Many classes" of validation/paper/REPORT.md.

Runs (PyTorch extra needed): the 3-class tasks ``spiral3`` and ``blobs3``, ``2-16-16-3``
networks trained with cross-entropy (AdamW, lr 0.01, 200 points), ``--seeds`` seeds each,
snapshots every ``--every`` epochs, tracked with :func:`exactcells.tracking.track` on the box
``[-3, 3]^2`` (argmax complex: class-region and decision-boundary Betti numbers, junctions,
3-way spectral agreement, margin persistence). Writes ``data/multiclass_runs.csv``,
``fig_multiclass.png``, ``fig_multiclass_classes.png`` and replaces the section between the
markers ``<!-- multiclass:start -->`` and ``<!-- multiclass:end -->`` of REPORT.md (appending it
the first time); ``run_study.py`` keeps that section when it rewrites the report.

    python validation/paper/run_multiclass.py [--seeds 3] [--epochs 600] [--every 50] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
TASKS = ("spiral3", "blobs3")
START, END = "<!-- multiclass:start -->", "<!-- multiclass:end -->"


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return None
    return float(spearmanr(x[ok], y[ok]).statistic)


def fmt(x: Any, d: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    return f"{x:.{d}f}" if isinstance(x, float) else str(x)


def main() -> int:
    from exactcells.tracking import TrackSettings, track
    from exactcells.training import TrainConfig, train

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=600)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "exactcells-multiclass"))
    args = ap.parse_args()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)

    settings = TrackSettings(repeats=3, pixels=0)
    runs = []
    for task in TASKS:
        for seed in range(args.seeds):
            cfg = TrainConfig(task=task, arch="2-16-16-3", epochs=args.epochs, every=args.every, seed=seed)
            log(f"train {task} seed {seed}")
            tr = train(cfg)
            log(f"track {len(tr.snapshots)} snapshots")
            res = track(tr.snapshots, settings, points=tr.dataset.X_train.astype(float), jobs=args.jobs,
                        cache_dir=Path(args.work) / f"{task}_{seed}")
            runs.append((task, seed, tr, res))
    # the table
    cols = ["task", "seed"] + list(runs[0][3].columns)
    lines = [",".join(cols)]
    for task, seed, _, res in runs:
        for row in res.rows():
            lines.append(",".join([task, str(seed)] + ["" if row[c] is None else repr(row[c])
                                                       if isinstance(row[c], float) else str(row[c])
                                                       for c in cols[2:]]))
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "data" / "multiclass_runs.csv").write_text("\n".join(lines) + "\n")
    figures(runs)
    section = report(runs, args, time.perf_counter() - t0)
    path = HERE / "REPORT.md"
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        a, b = text.index(START), text.index(END) + len(END)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    log("wrote REPORT.md")
    return 0


def figures(runs: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for r, task in enumerate(TASKS):
        sel = [x for x in runs if x[0] == task]
        for _, seed, _, res in sel:
            e = np.array(res.epochs)
            axes[r, 0].plot(e, res.series("loss"), lw=1.2, label=f"seed {seed}")
            for j in range(3):
                axes[r, 1].step(e, res.series(f"class{j}_b0"), where="mid", lw=1, alpha=0.7,
                                label=f"class {j} b0 (seed {seed})" if seed == 0 else None)
            axes[r, 1].step(e, res.series("boundary_b1"), where="mid", lw=1.6, color="k", alpha=0.6,
                            label="boundary b1" if seed == 0 else None)
            axes[r, 2].plot(e, res.series("kway_agreement"), lw=1.2, label=f"3-way, seed {seed}")
            axes[r, 2].plot(e, res.series("test_accuracy"), lw=1, ls="--", color="0.5")
        axes[r, 0].set_yscale("log")
        axes[r, 0].set_title(f"{task}: cross-entropy (train)", fontsize=9)
        axes[r, 1].set_title(f"{task}: class-region b0 and decision-boundary b1", fontsize=9)
        axes[r, 2].set_title(f"{task}: 3-way spectral agreement (dashed: test accuracy)", fontsize=9)
        for a in axes[r]:
            a.set_xlabel("epoch")
            a.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(HERE / "fig_multiclass.png", dpi=110)
    plt.close(fig)
    # the last snapshot of seed 0 of each task: classes and the 3-way partition
    from exactcells import build_complex
    from exactcells.dual import dual_graph
    from exactcells.plot import plot_classes_2d, plot_partition_2d
    from exactcells.spectral import kway_partition
    from exactcells.tracking import default_domain

    fig, axes = plt.subplots(2, 2, figsize=(11, 10))
    for r, task in enumerate(TASKS):
        _, _, tr, res = next(x for x in runs if x[0] == task and x[1] == 0)
        net = tr.snapshots[-1].network
        dom = default_domain()
        R = build_complex(net, dom, with_output=True, refine="argmax")
        K = build_complex(net, dom)
        lab = kway_partition(dual_graph(K), 3).labels
        row = res.results[-1].row
        plot_classes_2d(R, axes[r, 0], title=f"{task}, seed 0, epoch {res.epochs[-1]}: argmax classes")
        X = tr.dataset.X_train
        axes[r, 0].scatter(X[:, 0], X[:, 1], c="w", s=4, edgecolors="k", linewidths=0.3)
        plot_partition_2d(K, lab, axes[r, 1], boundary_of=R,
                          title=f"3-way spectral partition of {K.num_regions} regions "
                                f"(volume agreement {row['kway_agreement']:.3f})")
    fig.tight_layout()
    fig.savefig(HERE / "fig_multiclass_classes.png", dpi=110)
    plt.close(fig)


def report(runs: list, args: argparse.Namespace, seconds: float) -> str:
    L = [START, "", "## Many classes: argmax regions, their topology and 3-way spectral partitions", ""]
    L.append(
        f"The paper leaves multiclass classification to future work. Here: two 3-class tasks, "
        f"`spiral3` (three interleaved arms) and `blobs3` (three Gaussian blobs), `2-16-16-3` networks "
        f"trained with cross-entropy (AdamW, lr 0.01, 200 points, full batch), {args.seeds} seeds each, "
        f"{args.epochs} epochs, a snapshot every {args.every}; every snapshot tracked exactly on "
        "`[-3, 3]^2` with the argmax complex (`exactcells track`, `python validation/paper/run_multiclass.py`). "
        "Data: `data/multiclass_runs.csv` (one row per snapshot, the columns of "
        "`exactcells.tracking.columns(2, 3)`).")
    L.append("")
    L.append("| task | seed | epoch | loss | test acc. | regions | argmax regions | class b0 (0, 1, 2) | "
             "class b1 | boundary (b0, b1) | junction cells | 3-way agreement | ARI | margin H0 pairs | uncertified |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for task, seed, _, res in runs:
        for idx in (1, len(res.results) - 1):
            row = res.results[idx].row
            L.append("| " + " | ".join([
                task, str(seed), str(row["epoch"]), fmt(row["loss"], 4), fmt(row["test_accuracy"]),
                str(row["num_regions"]), str(row["refined_regions"]),
                ", ".join(str(row[f"class{j}_b0"]) for j in range(3)),
                ", ".join(str(row[f"class{j}_b1"]) for j in range(3)),
                f"{row['boundary_b0']}, {row['boundary_b1']}", str(row["junction_cells"]),
                fmt(row["kway_agreement"]), fmt(row["kway_ari"]), str(row["margin_h0_pairs"]),
                str(row["margin_uncertified"])]) + " |")
    L.append("")
    # correlations with the loss, pooled per run
    names = ["num_regions", "refined_regions", "boundary_b0", "boundary_b1", "junction_cells",
             "kway_agreement", "margin_h0_pairs", "margin_h0_total"]
    L.append("Spearman correlation with the training loss over the snapshots of each run "
             "(first snapshot, epoch 0, included):")
    L.append("")
    L.append("| task | seed | " + " | ".join(names) + " | total class b0 | total class b1 |")
    L.append("|---|---|" + "---|" * (len(names) + 2))
    stats: dict[str, list[float]] = {}
    for task, seed, _, res in runs:
        loss = res.series("loss")
        cells = []
        for c in names:
            rho = spearman(res.series(c), loss)
            cells.append(fmt(rho, 2))
            if rho is not None:
                stats.setdefault(c, []).append(rho)
        b0 = sum(res.series(f"class{j}_b0") for j in range(3))
        b1 = sum(res.series(f"class{j}_b1") for j in range(3))
        cells += [fmt(spearman(b0, loss), 2), fmt(spearman(b1, loss), 2)]
        L.append(f"| {task} | {seed} | " + " | ".join(cells) + " |")
    L.append("")
    last = [res.results[-1].row for _, _, _, res in runs]
    ag = [r["kway_agreement"] for r in last if r["kway_agreement"] is not None]
    acc = [r["test_accuracy"] for r in last if r["test_accuracy"] is not None]
    first = [res.results[1].row for _, _, _, res in runs]
    ag1 = [r["kway_agreement"] for r in first if r["kway_agreement"] is not None]
    unc = [r["margin_uncertified"] for r in last]
    ext = [sum(r[f"class{j}_b0"] for j in range(3)) - 3 for r in last]
    holes = [sum(r[f"class{j}_b1"] for j in range(3)) for r in last]
    L.append("What the data show (and no more):")
    L.append("")
    L.append(f"* **Does the 3-way partition follow the class regions?** At the last snapshot the "
             f"exact volume agreement of the 3-way spectral partition (recursive Fiedler cuts of the "
             f"unweighted dual graph of the hidden-neuron regions) with the argmax classes is "
             f"{min(ag):.3f} to {max(ag):.3f} over the {len(ag)} runs (median {np.median(ag):.3f}; "
             f"chance level for three balanced classes is about 1/3, and the networks' test accuracy is "
             f"{min(acc):.3f} to {max(acc):.3f}); at the first snapshot after initialisation it is "
             f"{min(ag1):.3f} to {max(ag1):.3f}. So the partition follows the classes only partly: it "
             "cuts the dual graph where it is weakly connected, which is where the regions are small "
             "(where many neurons' hyperplanes cross), and that need not be along the argmax boundaries. "
             "The per-run correlations of `kway_agreement` with the loss are in the table above.")
    L.append(f"* **Class-region topology through training.** Across runs, the class regions have "
             f"{min(ext)} to {max(ext)} extra connected components (sum of `class{{j}}_b0` minus 3) and "
             f"{min(holes)} to {max(holes)} holes in total at the last snapshot; the table above gives "
             "how the number of (argmax) regions, the decision boundary's Betti numbers and the "
             "junctions move with the loss, run by run.")
    L.append(f"* **Margin filtration.** The margin's lower-star filtration had {min(unc)} to {max(unc)} "
             "cells at the last snapshot where the margin is not certified affine (a class is the unique "
             "maximizer and the runner-up changes inside the cell); there the diagram is that of the "
             "vertex values, see `docs/mathematics.md`.")
    L.append("")
    L.append(f"A small study: {len(runs)} runs of cheap networks, one architecture, one box; the "
             f"correlations are over {len(runs[0][3].results)} snapshots per run. Run time "
             f"{seconds / 60:.1f} min. Figures: `fig_multiclass.png` (loss, class-region b0 and "
             "boundary b1, 3-way agreement over the epochs) and `fig_multiclass_classes.png` (the "
             "last snapshot of seed 0: argmax classes with the decision boundary in black and the "
             "junctions in red, and the 3-way partition beside it).")
    L.append("")
    L.append("![multiclass signatures](fig_multiclass.png)")
    L.append("")
    L.append("![classes and 3-way partitions](fig_multiclass_classes.png)")
    L.append("")
    L.append(END)
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
