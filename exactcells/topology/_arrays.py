"""Small vectorized helpers on CSR-style arrays (private to the topology package)."""

from __future__ import annotations

import numpy as np

__all__ = ["expand_ranges"]


def expand_ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[starts[i], stops[i])``: (the owner ``i`` of every position, the positions).

    Examples
    --------
    >>> o, p = expand_ranges(np.array([3, 0]), np.array([5, 1]))
    >>> o.tolist(), p.tolist()
    ([0, 0, 1], [3, 4, 0])
    """
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(stops, dtype=np.int64) - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    if total == 0:
        return owner, np.zeros(0, dtype=np.int64)
    first = np.zeros(len(starts), dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    pos = np.arange(total, dtype=np.int64) - np.repeat(first - starts, counts)
    return owner, pos
