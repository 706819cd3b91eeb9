"""Figures of a tracking run (matplotlib, Agg; float views of the tracked signatures).

* :func:`save_signature_figure`: loss, cells and Betti numbers over the epochs;
* :func:`save_fiedler_figure`: agreement of the Fiedler partitions with the decision boundary
  over the epochs, and the errors of the paper's proxies (Hamming-1 edges, missed regions);
* :func:`save_complex_gif`: the 2-D complex through training, regions coloured by the Fiedler
  vector of the exact dual graph, decision boundary in black;
* :func:`save_training_figure`: training and test accuracy (and loss) per epoch.

Every file is written atomically (:mod:`exactcells.io`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .tracking import Snapshot, TrackingResult

__all__ = [
    "save_signature_figure",
    "save_fiedler_figure",
    "save_complex_gif",
    "save_training_figure",
]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path, force: bool, dpi: int = 110) -> None:
    from .io import atomic_output

    with atomic_output(path, force=force) as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")


def _loss_axis(ax: Any, res: TrackingResult) -> None:
    x = np.array(res.epochs, dtype=float)
    ax2 = ax.twinx()
    loss = res.series("loss")
    if np.any(np.isfinite(loss)):
        ax2.plot(x, loss, color="0.3", lw=1.2, ls="--", label="training loss")
        if np.nanmin(loss) > 0:
            from matplotlib.ticker import NullFormatter

            ax2.set_yscale("log")
            ax2.yaxis.set_minor_formatter(NullFormatter())
        ax2.set_ylabel("training loss (dashed)", fontsize=8)
        ax2.tick_params(labelsize=7)


def _legend_below(ax: Any) -> None:
    """The legend under the axes (outside them), so that it covers no curve."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def _line_baseline_column(res: TrackingResult) -> str:
    """The straight-cut baseline of the weighted cut when there are weights, else unweighted."""
    col = "line_cut_agreement_weighted"
    if col in res.columns and np.any(np.isfinite(res.series(col))):
        return col
    return "line_cut_agreement"


def save_signature_figure(res: TrackingResult, path: str | Path, title: str = "",
                          force: bool = False) -> None:
    """Cells, Betti-curve maxima and Betti numbers of the decision regions over the epochs,
    each panel with the training loss (dashed, right axis)."""
    plt = _plt()
    x = np.array(res.epochs, dtype=float)
    n = res.settings.domain.dim
    fig, axes = plt.subplots(2, 2, figsize=(10, 8.4))
    ax = axes[0, 0]
    for k in range(n + 1):
        ax.plot(x, res.series(f"f{k}"), lw=1.5, label=f"f{k} ({k}-cells)")
    ax.plot(x, res.series("num_cells"), lw=1, color="k", label="all cells")
    ax.set_title("exact cells (complex of the hidden neurons)", fontsize=9)
    _legend_below(ax)
    _loss_axis(ax, res)
    ax = axes[0, 1]
    for k in range(n):
        m = res.series(f"betti_max_{k}_mean")
        s = res.series(f"betti_max_{k}_std")
        ax.plot(x, m, lw=1.5, label=f"max beta_{k}")
        ax.fill_between(x, m - s, m + s, alpha=0.25)
    ax.set_title(f"Betti-curve maxima, random filtrations (mean +- sd, {res.settings.repeats} repeats)",
                 fontsize=9)
    _legend_below(ax)
    _loss_axis(ax, res)
    ax = axes[1, 0]
    classes = res.settings.classes
    if classes >= 2:
        for k in range(n):
            ax.step(x, res.series(f"boundary_b{k}"), where="mid", lw=1.8, color="k", ls="-" if k else "--",
                    label=f"decision boundary: b{k}")
            for j in range(classes):
                ax.step(x, res.series(f"class{j}_b{k}"), where="mid", lw=1.2, ls="-" if k else ":",
                        label=f"class {j}: b{k}")
        ax.set_title("Betti numbers of the decision boundary and of the class regions (Z/2)", fontsize=9)
    else:
        for k in range(n):
            ax.step(x, res.series(f"boundary_b{k}"), where="mid", lw=1.5, label=f"F = 0: b{k}")
            ax.step(x, res.series(f"positive_b{k}"), where="mid", lw=1.2, ls=":", label=f"F >= 0: b{k}")
        ax.set_title("Betti numbers of the decision boundary and of F >= 0 (Z/2)", fontsize=9)
    _legend_below(ax)
    ax.set_xlabel("epoch")
    _loss_axis(ax, res)
    ax = axes[1, 1]
    loss = res.series("loss")
    sc = ax.scatter(loss, res.series("num_regions"), c=x, cmap="viridis", s=18)
    ax.set_xlabel("training loss")
    ax.set_ylabel("regions")
    if np.any(np.isfinite(loss)) and np.nanmin(loss) > 0:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.colorbar(sc, ax=ax, label="epoch")
    ax.set_title("regions against loss", fontsize=9)
    axes[0, 0].set_xlabel("epoch")
    axes[0, 1].set_xlabel("epoch")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path, force)
    plt.close(fig)


def save_fiedler_figure(res: TrackingResult, path: str | Path, title: str = "",
                        force: bool = False) -> None:
    """Agreement of the Fiedler sign partitions with the decision boundary over the epochs, next
    to two baselines (the majority class, and straight cuts of the same area: see
    :func:`exactcells.tracking.cut_baselines`), and the errors of the paper's Hamming-1 graph and
    pixel sampling. Legends sit under the axes. (The best threshold sweep is not drawn: it is
    at least the majority-class agreement by construction, so it reads near 1 for a
    near-constant classifier; it stays in ``track.csv``.)"""
    plt = _plt()
    x = np.array(res.epochs, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    classes = res.settings.classes
    if classes >= 2:
        curves = [("kway_agreement", f"{classes}-way, exact dual graph, unweighted", "C2", "-"),
                  ("kway_agreement_weighted", f"{classes}-way, paper weights", "C0", "-"),
                  ("kway_ari", "ARI, unweighted", "C1", "-"),
                  ("majority_agreement", "baseline: majority class (constant classifier)", "0.4", ":"),
                  ("test_accuracy", "test accuracy", "k", "--")]
    else:
        curves = [("fiedler_agreement", "Fiedler sign cut, unweighted", "C2", "-"),
                  ("fiedler_agreement_weighted", "Fiedler sign cut, paper weights", "C0", "-"),
                  ("paper_agreement", "paper pipeline (pixels, Hamming-1)", "C1", "-"),
                  ("majority_agreement", "baseline: majority class (constant classifier)", "0.4", ":"),
                  (_line_baseline_column(res), "baseline: straight cut of the same area", "C4", ":"),
                  ("test_accuracy", "test accuracy", "k", "--")]
    for col, label, color, ls in curves:
        y = res.series(col) if col in res.columns else np.full(len(x), np.nan)
        if np.any(np.isfinite(y)):
            ax.plot(x, y, lw=1.5, color=color, ls=ls, label=label)
    ax.set_ylim(0.45 if classes < 2 else -0.05, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("agreement with the decision boundary (area)" if classes < 2
                  else "agreement with the argmax classes (area)")
    ax.set_title("Fiedler sign partition vs decision boundary" if classes < 2
                 else "k-way spectral partition vs argmax classes", fontsize=9)
    _legend_below(ax)
    ax = axes[1]
    ax.plot(x, res.series("num_regions"), lw=1.5, label="exact regions")
    y = res.series("pixel_regions")
    if np.any(np.isfinite(y)):
        ax.plot(x, y, lw=1.2, label="regions seen by the pixels")
    ax.plot(x, res.series("hamming_false_edges"), lw=1.2, label="Hamming-1 edges that are not adjacencies")
    ax.plot(x, res.series("hamming_missing_edges"), lw=1.2, label="adjacencies missing from Hamming-1")
    ax.set_xlabel("epoch")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_title("what the paper's proxies miss or invent", fontsize=9)
    _legend_below(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path, force)
    plt.close(fig)


def save_training_figure(history: Mapping[str, Sequence[float]], path: str | Path, title: str = "",
                         force: bool = False) -> None:
    """Training and test accuracy (left) and loss (right) per epoch."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    e = np.arange(len(history["loss"]))
    if "accuracy" in history:
        axes[0].plot(e, history["accuracy"], lw=1.2, label="train")
        axes[0].plot(e, history["test_accuracy"], lw=1.2, label="test")
        axes[0].set_ylabel("accuracy")
        axes[0].legend(fontsize=8)
    axes[1].plot(e, history["loss"], lw=1.2, label="train")
    axes[1].plot(e, history["test_loss"], lw=1.2, label="test")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("loss")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path, force)
    plt.close(fig)


def _frame_indices(n: int, max_frames: int) -> list[int]:
    if n <= max_frames:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, max_frames)})


def save_complex_gif(
    res: TrackingResult,
    snapshots: Sequence[Snapshot],
    path: str | Path,
    *,
    max_frames: int = 40,
    duration_ms: int = 250,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> None:
    """An animated GIF of the 2-D complex through training.

    Each frame is the complex refined by the decision boundary (:func:`exactcells.plot.plot_complex_2d`),
    every region coloured by the Fiedler vector (the paper's weights when there are training
    points, else unweighted) of the region of the hidden neurons that contains it; the decision
    boundary is black. At most ``max_frames`` frames, evenly spread over the snapshots.
    """
    from PIL import Image

    from .build import build_complex
    from .io import atomic_output
    from .plot import plot_complex_2d

    plt = _plt()
    by_epoch = {s.epoch: s for s in snapshots}
    dom = res.settings.domain
    frames = []
    idx = _frame_indices(len(res.results), max_frames)
    for j, i in enumerate(idx):
        r = res.results[i]
        s = by_epoch[r.epoch]
        K = build_complex(s.network, dom)
        R = (build_complex(s.network, dom, with_output=True, refine="argmax")
             if res.settings.classes >= 2 else build_complex(s.network, dom, with_output=True))
        vec = r.fiedler_vector_weighted if r.fiedler_vector_weighted is not None else r.fiedler_vector
        width = K.signs.shape[1]
        r0 = K.regions().start
        q0 = R.regions().start
        if vec and len(vec) == K.num_regions:
            vals = [vec[K.index_of(R.sign_vector(q0 + q)[:width]) - r0] for q in range(R.num_regions)]
            m = max(abs(v) for v in vals) or 1.0
            values: list[float] | None = [v / m for v in vals]
        else:
            values = [0.0] * R.num_regions
        fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=90)
        loss = r.row.get("loss")
        agree = r.row.get("fiedler_agreement_weighted") or r.row.get("fiedler_agreement")
        t = f"epoch {r.epoch}: {r.row['num_regions']} regions"
        if isinstance(loss, float):
            t += f", loss {loss:.3g}"
        if isinstance(agree, float):
            t += f"\nFiedler / boundary agreement {agree:.2f}"
        plot_complex_2d(R, ax, values=values, cmap="coolwarm", title=t)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        buf.seek(0)
        frames.append(Image.open(buf).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE))
        if progress is not None:
            progress(f"GIF frame {j + 1}/{len(idx)} (epoch {r.epoch})")
    with atomic_output(path, force=force) as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                       duration=duration_ms, loop=0)
