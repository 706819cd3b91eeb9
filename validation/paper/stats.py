"""Statistics of the paper study: bootstrap intervals over seeds, paired effect sizes, rank
correlations of levels and of step-to-step changes, loss spikes and the generalisation phase.

Every interval is a seeded percentile bootstrap over runs (seeds): the runs of a grid cell are
resampled with replacement, the statistic recomputed, and the 2.5 % and 97.5 % quantiles
reported. With 10 seeds such intervals are rough (they tend to be a little too narrow); they are
per cell and not adjusted for the number of cells compared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = 4000
LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    """A statistic over ``n`` runs and its bootstrap interval ``[lo, hi]``."""

    est: float
    lo: float
    hi: float
    n: int

    def fmt(self, digits: int = 2, signed: bool = False) -> str:
        if self.n == 0 or not math.isfinite(self.est):
            return "n/a"
        f = f"{{:{'+' if signed else ''}.{digits}f}}"
        if self.n == 1:
            return f.format(self.est) + " (1 run)"
        return f"{f.format(self.est)} [{f.format(self.lo)}, {f.format(self.hi)}]"

    @property
    def excludes_zero(self) -> int:
        """+1 when the interval lies above 0, -1 below, 0 when it contains 0 (or n < 2)."""
        if self.n < 2:
            return 0
        return 1 if self.lo > 0 else (-1 if self.hi < 0 else 0)


def _clean(values: Sequence[float | None]) -> np.ndarray:
    v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
    return v[np.isfinite(v)]


def bootstrap(values: Sequence[float | None], stat: Callable[[np.ndarray], float] = np.mean,
              *, seed: int = 0, reps: int = BOOTSTRAP, level: float = LEVEL) -> Interval:
    """``stat`` of the defined values and its seeded percentile bootstrap interval.

    Examples
    --------
    >>> i = bootstrap([0.5, 0.6, 0.7, 0.8])
    >>> round(i.est, 2), 0.5 <= i.lo <= i.est <= i.hi <= 0.8
    (0.65, True)
    """
    v = _clean(values)
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    est = float(stat(v))
    if v.size == 1:
        return Interval(est, est, est, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(reps, v.size))
    boots = np.array([stat(v[i]) for i in idx]) if stat is not np.mean else v[idx].mean(axis=1)
    a = (1 - level) / 2
    return Interval(est, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)), int(v.size))


@dataclass(frozen=True, slots=True)
class Effect:
    """A paired difference ``a - b`` over runs: its mean with a bootstrap interval, and the
    standardised effect size ``d_z = mean / sd`` of the differences (``nan`` when sd = 0)."""

    diff: Interval
    d_z: float

    def fmt(self) -> str:
        d = "n/a" if not math.isfinite(self.d_z) else f"{self.d_z:+.1f}"
        return f"{self.diff.fmt(2, signed=True)}, d_z {d}"


def paired_effect(a: Sequence[float | None], b: Sequence[float | None], *, seed: int = 0) -> Effect:
    """The effect of ``a`` over ``b`` (paired by run; pairs with a missing value are dropped)."""
    pairs = [(float(x), float(y)) for x, y in zip(a, b) if x is not None and y is not None
             and math.isfinite(float(x)) and math.isfinite(float(y))]
    d = np.array([x - y for x, y in pairs], dtype=float)
    iv = bootstrap(d.tolist(), seed=seed)
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    dz = float(d.mean() / sd) if d.size > 1 and sd > 0 else math.nan
    return Effect(iv, dz)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rank correlation over the pairs where both are finite (``None`` when fewer
    than three pairs or a series is constant)."""
    from scipy.stats import spearmanr

    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    r = float(spearmanr(a[ok], b[ok]).statistic)
    return r if math.isfinite(r) else None


def spearman_of_changes(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's correlation of the step-to-step changes ``x[i+1] - x[i]`` and ``y[i+1] - y[i]``
    (two series that both trend down correlate in level without moving together)."""
    return spearman(np.diff(np.asarray(x, dtype=float)), np.diff(np.asarray(y, dtype=float)))


def loss_spikes(loss: Sequence[float], factor: float = 2.0, window: int = 20) -> list[int]:
    """Epochs where a loss spike starts: the loss exceeds ``factor`` times the lowest loss of the
    previous ``window`` epochs, and did not at the epoch before.

    Examples
    --------
    >>> loss_spikes([1.0, 0.5, 0.4, 1.5, 0.9, 0.3, 0.2, 0.9, 0.1])
    [3, 7]
    """
    v = np.asarray(loss, dtype=float)
    out = []
    above_prev = False
    for t in range(1, v.size):
        lo = float(v[max(0, t - window):t].min())
        above = bool(v[t] > factor * lo)
        if above and not above_prev:
            out.append(t)
        above_prev = above
    return out


def generalisation_phase(epochs: Sequence[int], accuracy: Sequence[float],
                         test_accuracy: Sequence[float], margin: float = 0.02) -> tuple[int | None, int | None]:
    """``(fit, generalised)``: the first epoch with training accuracy 1, and the first epoch at or
    after it whose test accuracy is within ``margin`` of the run's final test accuracy. The
    generalisation phase is the interval between them (``None`` when the training set is never
    fitted)."""
    acc = np.asarray(accuracy, dtype=float)
    te = np.asarray(test_accuracy, dtype=float)
    hit = np.flatnonzero(acc >= 1.0)
    if hit.size == 0:
        return None, None
    i = int(hit[0])
    final = float(te[-1])
    later = np.flatnonzero(te[i:] >= final - margin)
    j = i + int(later[0]) if later.size else len(te) - 1
    return int(epochs[i]), int(epochs[j])
