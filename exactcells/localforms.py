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

__all__ = ["LocalForms", "domain_rows"]


def domain_rows(domain: Domain) -> list[list[int]]:
    """Integer rows ``L_i [-A_i | c_i]`` (``L_i > 0``): ``(D x, D) . row`` has the sign of
    ``c_i - A_i x``, positive inside the domain and zero on its ``i``-th facet."""
    rows = []
    for a, ci in zip(domain.A, domain.c):
        den = math.lcm(*(Fraction(v).denominator for v in list(a) + [ci]))
        rows.append([int(-Fraction(v) * den) for v in a] + [int(Fraction(ci) * den)])
    return rows


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
        self.domain_rows = domain_rows(domain)
        self.mats_int = [np.array(r, dtype=object).reshape(len(r), -1) for r in rows]
        self._cache: dict[int, dict[bytes, np.ndarray]] = {}
        self._ids: dict[int, dict[bytes, int]] = {}

    def tables(self, li: int, active: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Forms of every neuron of layer ``li`` for each row of ``active`` (see :meth:`_tables`)."""
        return self._tables(li, active, chunk)[0]

    def _tables(self, li: int, active: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Forms of every neuron of layer ``li`` for each row of ``active``.

        ``active`` is a 0/1 array whose first ``starts[li]`` columns are the activity of the
        hidden layers before ``li`` (later columns are ignored). Returns an object array
        ``(rows, width_li, n + 1)`` of Python ints. Distinct prefixes are computed once (and
        cached across calls); each layer is one python-flint matrix product over all new
        prefixes (in chunks).
        """
        n = self.n
        R = active.shape[0]
        if li == 0:
            return (np.broadcast_to(self.mats_int[0], (R,) + self.mats_int[0].shape),
                    np.zeros(R, dtype=np.int64))
        pre = np.packbits(np.asarray(active[:, : self.starts[li]], dtype=bool), axis=1)
        keys = np.ascontiguousarray(pre).view(np.dtype((np.void, pre.shape[1]))).ravel()
        ukeys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        cache = self._cache.setdefault(li, {})
        ids = self._ids.setdefault(li, {})
        kb = [k.tobytes() for k in ukeys]
        new = [i for i, k in enumerate(kb) if k not in cache]
        if new:
            rows_new = np.asarray(active)[first[new]]
            prev = self.tables(li - 1, rows_new)  # (U, w_prev, n + 1)
            act = np.asarray(rows_new[:, self.starts[li - 1]: self.starts[li]], dtype=bool)
            U, w_prev = act.shape
            for a in range(0, U, chunk):
                b = min(U, a + chunk)
                Y = np.where(act[a:b, :, None], prev[a:b], 0)  # inactive neurons pass nothing
                Yext = np.concatenate([Y, np.zeros((b - a, 1, n + 1), dtype=object)], axis=1)
                Yext[:, w_prev, n] = 1  # the bias column
                big = fmpz_mat(w_prev + 1, (b - a) * (n + 1), Yext.transpose(1, 0, 2).ravel().tolist())
                Z = self.mats[li] * big
                vals = np.array([int(x) for x in Z.entries()], dtype=object)
                block = vals.reshape(self.widths[li], b - a, n + 1).transpose(1, 0, 2)
                for t in range(b - a):
                    cache[kb[new[a + t]]] = block[t]
                    ids[kb[new[a + t]]] = len(ids)
        T = np.stack([cache[k] for k in kb]) if kb else np.zeros((0, self.widths[li], n + 1), dtype=object)
        inv = np.asarray(inv).ravel()
        return T[inv], np.array([ids[k] for k in kb], dtype=np.int64)[inv]

    def rows(self, signs: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The form of ``positions[i]`` on the closure of the cell of ``signs[i]``, for every ``i``.

        Returns an object array ``(len(positions), n + 1)`` of Python ints and an ``int64`` id
        per row: equal ids mean equal forms (same neuron, same activity of the layers before).
        """
        out = np.empty((len(positions), self.n + 1), dtype=object)
        fid = np.empty(len(positions), dtype=np.int64)
        nh, m = self.nh, self.m
        positions = np.asarray(positions, dtype=np.int64)
        dom = (positions >= nh) & (positions < nh + m)
        for i in np.flatnonzero(dom).tolist():
            out[i, :] = self.domain_rows[int(positions[i]) - nh]
        fid[dom] = positions[dom]  # domain facets: ids below nh + m; neurons: above
        last = len(self.widths) - 1
        for li in range(last + 1):
            lo, hi = (int(self.starts[li]), int(self.starts[li + 1])) if li < last else (nh + m, nh + m + self.widths[li])
            sel = np.flatnonzero((positions >= lo) & (positions < hi))
            if sel.size == 0:
                continue
            active = (np.asarray(signs)[sel][:, :nh] > 0).astype(np.uint8)
            T, pid = self._tables(li, active)
            local = positions[sel] - lo
            out[sel, :] = T[np.arange(sel.size), local]
            fid[sel] = nh + m + (pid * max(self.widths) + local) * (last + 1) + li
        return out, fid
