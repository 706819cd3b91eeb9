"""Exact local affine forms of a network's pre-activations, memoized by activation prefix.

On the closure of the cell of a sign vector ``s`` every pre-activation is an affine function of
the input: neurons with sign ``+1`` pass their value, the others (``-1`` and ``0``) pass zero
(Lemma A of :mod:`exactcells.certify`). These forms depend only on the activity of the earlier
layers, so they are computed once per distinct prefix with python-flint integer matrices, from
the sign-equivalent integer network (:meth:`Network.integer_network`). A form is an integer
covector ``N`` with ``N . (D x, D) = c D z(x)`` for a ``c > 0``: its signs at homogeneous integer
points are exact.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from flint import fmpz_mat

from .domain import Domain
from .network import Network

__all__ = ["LocalForms"]


class LocalForms:
    """Exact local affine pre-activation forms of a network, memoized by activation prefix.

    For a sign vector ``s`` (neurons, then domain facets, then outputs) and a position ``j``,
    :meth:`rows` gives the integer covector ``N`` with ``N . (D x, D) = c D z_j(x)`` (``c > 0``)
    for every ``x`` in the closure of the cell of ``s`` (Lemma A of :mod:`exactcells.certify`:
    there the true pre-activation of ``j`` is the local one, with inactive and zero neurons
    passing nothing). Domain facets give ``c_i - A_i x``.
    """

    def __init__(self, net: Network, domain: Domain) -> None:
        rows, _ = net.integer_network()
        self.n = net.input_dim
        self.mats = [fmpz_mat(r) for r in rows]
        self.widths = [len(r) for r in rows]
        self.starts = np.concatenate(([0], np.cumsum(self.widths))).astype(np.int64)
        self.nh = int(sum(self.widths[:-1]))
        self.m = domain.num_facets
        drows = []
        for a, ci in zip(domain.A, domain.c):
            den = math.lcm(*(Fraction(v).denominator for v in list(a) + [ci]))
            drows.append([int(-Fraction(v) * den) for v in a] + [int(Fraction(ci) * den)])
        self.domain_rows = drows
        self._memo: dict[tuple[int, bytes], list[list[int]]] = {}

    def _layer(self, li: int, active: np.ndarray) -> list[list[int]]:
        """Forms of layer ``li`` given the 0/1 activity of the hidden layers before it."""
        key = (li, active[: self.starts[li]].tobytes())
        got = self._memo.get(key)
        if got is not None:
            return got
        n = self.n
        if li == 0:
            out = [[int(x) for x in row] for row in self.mats[0].tolist()]
        else:
            prev = self._layer(li - 1, active)
            act = active[self.starts[li - 1]: self.starts[li]]
            Y = [row if a else [0] * (n + 1) for row, a in zip(prev, act.tolist())]
            Y.append([0] * n + [1])
            out = [[int(x) for x in row] for row in (self.mats[li] * fmpz_mat(Y)).tolist()]
        self._memo[key] = out
        return out

    def rows(self, signs: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Object array ``(len(positions), n + 1)``: the form of ``positions[i]`` on ``signs[i]``."""
        out = np.empty((len(positions), self.n + 1), dtype=object)
        nh, m = self.nh, self.m
        positions = np.asarray(positions, dtype=np.int64)
        dom = (positions >= nh) & (positions < nh + m)
        for i in np.flatnonzero(dom).tolist():
            out[i, :] = self.domain_rows[int(positions[i]) - nh]
        neu = np.flatnonzero(~dom)
        if neu.size == 0:
            return out
        pos = positions[neu]
        last = len(self.widths) - 1
        li = np.where(pos >= nh + m, last, np.searchsorted(self.starts, pos, side="right") - 1)
        local = np.where(pos >= nh + m, pos - nh - m, pos - self.starts[np.minimum(li, last)])
        active = (signs[neu][:, :nh] > 0)
        active &= np.arange(nh)[None, :] < self.starts[li][:, None]  # only the layers before
        keys = np.hstack([li[:, None].astype(np.uint8), np.packbits(active, axis=1)]) if nh else \
            li[:, None].astype(np.uint8)
        uniq, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inv = np.asarray(inv).ravel()
        tables = [self._layer(int(li[f]), active[f].astype(np.uint8)) for f in first.tolist()]
        flat = [tables[u][lc] for u, lc in zip(inv.tolist(), local.tolist())]
        out[neu, :] = np.array(flat, dtype=object).reshape(len(flat), self.n + 1)
        return out
