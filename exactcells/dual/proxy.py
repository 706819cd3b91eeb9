"""The paper's proxy for the dual graph (arXiv 2510.12700): regions whose binary activation
patterns differ in exactly one neuron, and its precision and recall against the exact graph.

This module is also the one home of the Hamming-1 neighbour search (:func:`hamming1_pairs`)
that the claims (:mod:`exactcells.claims`) and the tracking pixel pipeline use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..complex import PolyhedralComplex
from ..domain import Domain
from .graph import DualGraph, dual_graph
from .nodes import _is_argmax

__all__ = ["binary_patterns", "hamming_proxy_edges", "hamming1_pairs", "pixel_centres", "ProxyComparison", "compare_proxy"]


# -- the paper's proxy -------------------------------------------------------------------------
def binary_patterns(K: PolyhedralComplex) -> np.ndarray:
    """The regions' binary activation patterns: ``(N, H)`` bool, neuron ``j`` on iff its sign
    is +1 (for a complex built ``with_output`` the output neurons' ``F > 0`` bits follow; for
    the argmax complex, the bits "output ``j`` is a maximizer")."""
    sl = K.sign_slices()
    rows = K.signs[K.regions().start : K.regions().stop]
    bits = [rows[:, sl["neurons"]] > 0]
    if K.with_output:
        out = rows[:, sl["outputs"]]
        bits.append(out == 0 if _is_argmax(K) else out > 0)
    return np.concatenate(bits, axis=1)


def hamming_proxy_edges(K: PolyhedralComplex) -> np.ndarray:
    """The paper's proxy graph: node pairs ``(i, j)``, ``i < j``, whose binary patterns
    (:func:`binary_patterns`) differ in exactly one position; ``(E, 2)`` int64, sorted.

    Candidates come from 64-bit hashes of the patterns; every pair is then checked exactly.
    """
    bits = binary_patterns(K)
    N, H = bits.shape
    if N < 2 or H == 0:
        return np.zeros((0, 2), dtype=np.int64)
    uniq, inverse = np.unique(np.packbits(bits, axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    ub = np.unpackbits(uniq, axis=1, count=H).astype(bool)
    up = hamming1_pairs(ub)
    # expand pattern pairs to region pairs (regions with equal patterns share them)
    members: dict[int, list[int]] = {}
    for node, u in enumerate(inverse.tolist()):
        members.setdefault(u, []).append(node)
    out = {(min(x, y), max(x, y)) for a, b in up.tolist() for x in members[a] for y in members[b]}
    arr = np.array(sorted(out), dtype=np.int64).reshape(-1, 2)
    return arr


def hamming1_pairs(bits: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of rows of a bool array that differ in exactly one position;
    ``(E, 2)`` int64, sorted. The rows must be distinct.

    Candidates come from 64-bit hashes of the rows (a row with bit ``j`` off and the row with it
    on differ in their hashes by the key of ``j``); every candidate is then checked exactly, and
    a hash collision between two rows falls back to a dictionary search.
    """
    bits = np.asarray(bits, dtype=bool)
    U, H = bits.shape
    if U < 2 or H == 0:
        return np.zeros((0, 2), dtype=np.int64)
    rng = np.random.default_rng(0x5EED)  # hashing only: every candidate is verified exactly
    keys = np.asarray(rng.integers(0, np.iinfo(np.int64).max, size=H, dtype=np.int64), dtype=np.uint64)
    h: np.ndarray = np.zeros(U, dtype=np.uint64)
    for j in range(H):
        h ^= np.where(bits[:, j], keys[j], np.uint64(0))
    order = np.argsort(h, kind="stable")
    hs: np.ndarray = h[order]
    if np.any(hs[1:] == hs[:-1]):  # a hash collision: fall back to a dictionary
        index = {row.tobytes(): i for i, row in enumerate(bits)}
        found = []
        for i in range(U):
            for j in np.flatnonzero(~bits[i]).tolist():
                row = bits[i].copy()
                row[j] = True
                k = index.get(row.tobytes())
                if k is not None:
                    found.append((i, k))
        up = np.array(found, dtype=np.int64).reshape(-1, 2)
    else:
        pairs: list[np.ndarray] = []
        for j in range(H):
            cand = np.nonzero(~bits[:, j])[0]
            target = h[cand] ^ keys[j]
            pos = np.minimum(np.searchsorted(hs, target), U - 1)
            ok = hs[pos] == target
            a, b = cand[ok], order[pos[ok]]
            exact = (np.count_nonzero(bits[a] != bits[b], axis=1) == 1) & bits[b, j]
            pairs.append(np.stack([a[exact], b[exact]], axis=1))
        up = np.concatenate(pairs).astype(np.int64)
    if up.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    up = np.sort(up, axis=1)
    return up[np.lexsort((up[:, 1], up[:, 0]))]


def pixel_centres(domain: Domain, resolution: int, *, first_axis_fastest: bool = False) -> np.ndarray:
    """The centres of a ``resolution``-per-axis grid of pixels over the domain's bounding box
    that lie in the domain (float; the sampling tools' and the paper's pipeline).

    Rows are in grid order: the last axis varies fastest, or the first with
    ``first_axis_fastest`` (image order in 2-D: ``x`` along a row of pixels).
    """
    V = np.array([[float(x) for x in v] for v in domain.vertices])
    lo, hi = V.min(axis=0), V.max(axis=0)
    t = (np.arange(resolution) + 0.5) / resolution
    axes = [lo[k] + (hi[k] - lo[k]) * t for k in range(domain.dim)]
    if first_axis_fastest:
        grid = np.meshgrid(*axes[::-1], indexing="ij")[::-1]
    else:
        grid = np.meshgrid(*axes, indexing="ij")
    X = np.stack([g.ravel() for g in grid], axis=1)
    A = np.array([[float(a) for a in row] for row in domain.A])
    c = np.array([float(x) for x in domain.c])
    return X[np.all(X @ A.T <= c, axis=1)]


@dataclass(frozen=True, slots=True)
class ProxyComparison:
    """The Hamming-distance-1 proxy graph against the exact dual graph.

    Attributes
    ----------
    exact_edges, proxy_edges
        Number of edges of each graph.
    true_positives
        Proxy edges that are dual edges.
    false_positives
        Proxy edges that are not dual edges (patterns at distance 1, regions not adjacent).
    false_negatives
        Dual edges missing from the proxy (adjacent regions whose patterns differ in more
        than one neuron, or not at all).
    """

    exact_edges: int
    proxy_edges: int
    true_positives: int
    false_positives: tuple[tuple[int, int], ...]
    false_negatives: tuple[tuple[int, int], ...]

    @property
    def precision(self) -> float:
        """``true_positives / proxy_edges`` (1.0 when the proxy has no edge)."""
        return self.true_positives / self.proxy_edges if self.proxy_edges else 1.0

    @property
    def recall(self) -> float:
        """``true_positives / exact_edges`` (1.0 when the dual graph has no edge)."""
        return self.true_positives / self.exact_edges if self.exact_edges else 1.0

    @property
    def equal(self) -> bool:
        return not self.false_positives and not self.false_negatives

    def to_dict(self) -> dict[str, Any]:
        return {"exact_edges": self.exact_edges, "proxy_edges": self.proxy_edges,
                "true_positives": self.true_positives,
                "false_positives": len(self.false_positives),
                "false_negatives": len(self.false_negatives),
                "precision": self.precision, "recall": self.recall}


def compare_proxy(K: PolyhedralComplex, G: DualGraph | None = None) -> ProxyComparison:
    """Precision and recall of the Hamming-1 proxy (:func:`hamming_proxy_edges`) against the
    exact dual graph of ``K``."""
    if G is None:
        G = dual_graph(K)
    exact = G.edge_set()
    proxy = {(int(a), int(b)) for a, b in hamming_proxy_edges(K)}
    return ProxyComparison(len(exact), len(proxy), len(exact & proxy),
                           tuple(sorted(proxy - exact)), tuple(sorted(exact - proxy)))
