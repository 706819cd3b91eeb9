"""``argparse`` types that refuse out-of-range option values before any work is done."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "cdd_count", "positive_float"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--jobs``)."""
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def cdd_count(text: str) -> int:
    """A count of regions, or ``-1`` for all of them (``--cdd``)."""
    v = _int(text)
    if v < -1:
        raise argparse.ArgumentTypeError(f"must be a count (0, 1, ...) or -1 for all, got {v}")
    return v


def positive_float(text: str) -> float:
    """A finite float above 0 (``--tol``)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return v
