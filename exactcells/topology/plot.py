"""Pictures of Betti curves and persistence diagrams (matplotlib, Agg; float views only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_output
from .persistence import BettiCurves, PersistenceResult

__all__ = ["save_betti_curves_png", "save_diagram_png"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_betti_curves_png(C: BettiCurves, path: str | Path, *, title: str | None = None,
                          force: bool = False) -> None:
    """Mean Betti curves with a band of one standard deviation and the min/max range."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    x = C.grid
    for k in range(C.mean.shape[0]):
        if not np.any(C.max[k]):
            continue
        line = ax.step(x, C.mean[k], where="post", label=f"$\\beta_{k}$", lw=1.4)[0]
        if C.repeats > 1:
            ax.fill_between(x, C.min[k], C.max[k], step="post", color=line.get_color(), alpha=0.12, lw=0)
            ax.fill_between(x, C.mean[k] - C.std[k], C.mean[k] + C.std[k], step="post",
                            color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel("cells added" if C.by == "index" else "filtration value")
    ax.set_ylabel("Betti number")
    rep = f", mean of {C.repeats} seeds (band: std, shade: min-max)" if C.repeats > 1 else ""
    ax.set_title(title or f"Betti curves, {C.kind} filtration{rep}", fontsize=9)
    if np.any(C.max):
        ax.legend(fontsize=8)
    with atomic_output(path, force=force) as f:
        fig.savefig(f, format="png", bbox_inches="tight")
    plt.close(fig)


def save_diagram_png(P: PersistenceResult, path: str | Path, *, title: str | None = None,
                     force: bool = False) -> None:
    """The persistence diagram (every dimension, zero-persistence pairs left out); essential
    classes are drawn on a line above the finite deaths, marked ``inf``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5.0), dpi=120)
    dgms = P.diagrams()
    finite = np.concatenate([d[np.isfinite(d[:, 1])].ravel() for d in dgms] + [d[:, 0] for d in dgms])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    top = hi + 2 * pad
    for k, d in enumerate(dgms):
        if not len(d):
            continue
        y = np.where(np.isinf(d[:, 1]), top, d[:, 1])
        ax.scatter(d[:, 0], y, s=12, label=f"$H_{k}$ ({len(d)})", alpha=0.7)
    ax.plot([lo - pad, top], [lo - pad, top], color="0.5", lw=0.8)
    ax.axhline(top, color="0.7", lw=0.6, ls="--")
    ax.text(lo - pad, top, " inf", va="bottom", fontsize=8, color="0.4")
    neg = " (value = -F)" if P.filtration.kind == "output-upper-star" else ""
    ax.set_xlabel("birth" + neg)
    ax.set_ylabel("death" + neg)
    ax.set_title(title or f"persistence diagram, {P.filtration.describe()}", fontsize=9)
    if any(len(d) for d in dgms):
        ax.legend(fontsize=8, loc="lower right")
    with atomic_output(path, force=force) as f:
        fig.savefig(f, format="png", bbox_inches="tight")
    plt.close(fig)
