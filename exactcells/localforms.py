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

from collections.abc import Sequence

import numpy as np
from flint import fmpz_mat

from .domain import Domain
from .network import Network
from .numbers import clear_denominators

__all__ = ["LocalForms", "domain_rows", "select_sums"]


def domain_rows(domain: Domain) -> list[list[int]]:
    """Integer rows ``L_i [-A_i | c_i]`` (``L_i > 0``): ``(D x, D) . row`` has the sign of
    ``c_i - A_i x``, positive inside the domain and zero on its ``i``-th facet."""
    rows = []
    for a, ci in zip(domain.A, domain.c):
        ints, _ = clear_denominators([*a, ci])
        rows.append([-x for x in ints[:-1]] + [ints[-1]])
    return rows


_PIECE = 32  # bits per piece in select_sums


def select_sums(S: np.ndarray, rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """Exact ``S @ rows`` for a 0/1 int64 matrix ``S`` and integer ``rows``.

    Each integer is written as ``sign * sum_p d_p 2^(32 p)`` with digits ``0 <= d_p < 2^32``; the
    signed digit matrices are multiplied by ``S`` in int64 (numpy's integer matmul, exact): with
    fewer than ``2^30`` rows a sum stays below ``2^62``. The sums are then brought back to digits
    ``0 <= d < 2^32`` by carrying upwards in int64 (``s = 2^32 floor(s / 2^32) + (s mod 2^32)``,
    the carries below ``2^31``) and read as one little-endian two's complement integer each: the
    digits, then the last carry as a signed 64-bit word."""
    k = S.shape[1]
    if k >= 2**30:  # pragma: no cover - absurd widths
        raise ValueError("too many rows for int64 sums")
    d = len(rows[0])
    flat = [int(x) for r in rows for x in r]
    pieces = max(1, -(-max(abs(x).bit_length() for x in flat) // _PIECE))
    digits = np.frombuffer(b"".join(abs(x).to_bytes(4 * pieces, "little") for x in flat),
                           dtype="<u4").reshape(len(flat), pieces).astype(np.int64)
    digits *= np.array([-1 if x < 0 else 1 for x in flat], dtype=np.int64)[:, None]
    cnt = S.shape[0] * d
    sums = (S @ digits.reshape(k, d * pieces)).reshape(cnt, pieces)
    low = np.empty((cnt, pieces), dtype="<u4")
    carry = np.zeros(cnt, dtype=np.int64)
    for p in range(pieces):
        v = sums[:, p] + carry
        low[:, p] = v & 0xFFFFFFFF
        carry = v >> _PIECE
    raw = np.concatenate([low.view(np.uint8).reshape(cnt, 4 * pieces),
                          carry.astype("<i8").view(np.uint8).reshape(cnt, 8)], axis=1).tobytes()
    size = 4 * pieces + 8
    vals = [int.from_bytes(raw[i:i + size], "little", signed=True) for i in range(0, cnt * size, size)]
    return [vals[i:i + d] for i in range(0, cnt, d)]


class LocalForms:
    """Exact local affine forms of a network's sign entries, memoized by the choices before.

    For a sign vector ``s`` (hidden entries, then domain facets, then outputs) and a position
    ``j``, :meth:`rows` gives the integer covector ``N`` with ``N . (D x, D) = c D f_j(x)``
    (``c > 0``) for every ``x`` in the closure of the cell of ``s``, where ``f_j`` is the
    function whose sign is entry ``j`` there: a relu or leaky unit's pre-activation, ``z_r -
    z_t`` for an entry of a max unit (``t`` its first maximizer in ``s``), ``c_i - A_i x`` for a
    domain facet, ``F_j`` for an output of the zero refinement and ``F_j - F_t`` for the argmax
    refinement. On that closure every unit is affine (Lemma A of :mod:`exactcells.certify`):
    its *choice* (active or not; which input is the maximum) is read from ``s``.
    """

    def __init__(self, net: Network, domain: Domain, refinement: str | None = "zero") -> None:
        rows, _ = net.integer_network()
        self.n = net.input_dim
        self.plain = net.is_plain
        self.stages = net.integer_stages()
        self.mats = [fmpz_mat(r) for r in rows]
        self.widths = [len(r) for r in rows]
        sw = list(net.sign_widths)
        self.sign_starts = np.concatenate(([0], np.cumsum(sw))).astype(np.int64)
        self.nh = int(sum(sw))
        self.m = domain.num_facets
        self.refinement = refinement
        self.domain_rows = domain_rows(domain)
        self.mats_int = [np.array(r, dtype=object).reshape(len(r), -1) for r in rows]
        # per hidden sign entry: (layer, row, first sign position of its unit, rows of a max unit)
        self.entry_row: list[int] = []
        self.entry_unit_start: list[int] = []
        self.entry_max_rows: list[tuple[int, ...]] = []
        for li, stage in enumerate(self.stages):
            pos = int(self.sign_starts[li])
            for kind, inputs, _p, _q in stage:
                if kind == "linear":
                    continue
                k = len(inputs) if kind == "max" else 1
                for t in range(k):
                    self.entry_row.append(inputs[t])
                    self.entry_unit_start.append(pos)
                    self.entry_max_rows.append(inputs if kind == "max" else ())
                pos += k
        self._cache: dict[int, dict[bytes, np.ndarray]] = {}
        self._ids: dict[int, dict[bytes, int]] = {}

    def choices(self, li: int, signs: np.ndarray) -> np.ndarray:
        """The choice of every unit of hidden layer ``li`` on the cells of ``signs``: 1/0 for
        an active/inactive relu or leaky unit, 0 for a linear one, and the index of the first
        maximizer of a max unit."""
        S = np.asarray(signs)
        lo = int(self.sign_starts[li])
        if self.plain:
            return (S[:, lo:int(self.sign_starts[li + 1])] > 0).astype(np.int64)
        out = np.zeros((S.shape[0], len(self.stages[li])), dtype=np.int64)
        pos = lo
        for u, (kind, inputs, _p, _q) in enumerate(self.stages[li]):
            if kind == "linear":
                continue
            if kind == "max":
                k = len(inputs)
                out[:, u] = np.argmax(S[:, pos:pos + k] == 0, axis=1)
                pos += k
            else:
                out[:, u] = S[:, pos] > 0
                pos += 1
        return out

    def tables(self, li: int, signs: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Forms of every pre-activation row of layer ``li`` on the cells of ``signs``."""
        return self._tables(li, signs, chunk)[0]

    def _prefix(self, li: int, signs: np.ndarray) -> np.ndarray:
        """The choices of the hidden layers before ``li``, one row per cell."""
        if li == 0:
            return np.zeros((np.asarray(signs).shape[0], 0), dtype=np.int64)
        return np.concatenate([self.choices(k, signs) for k in range(li)], axis=1)

    def _tables(self, li: int, signs: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Forms of every row of layer ``li`` for each sign row, and an id per distinct prefix.

        Returns an object array ``(rows, width_li, n + 1)`` of Python ints (see
        :meth:`_unique_tables`).
        """
        T, inv, ids = self._unique_tables(li, signs, chunk)
        return T[inv], ids[inv]

    def _unique_tables(self, li: int, signs: np.ndarray, chunk: int = 4096
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The forms of layer ``li`` once per distinct prefix of choices among the sign rows.

        Returns ``(T, inv, ids)``: an object array ``T`` of shape ``(U, width_li, n + 1)``
        (Python ints), one table per distinct prefix, the index ``inv`` of each sign row's
        prefix in ``T`` and an id per table (stable across calls). Distinct prefixes are computed
        once (and cached across calls); each layer is one python-flint matrix product over all
        new prefixes (in chunks).
        """
        n = self.n
        S = np.asarray(signs)
        R = S.shape[0]
        if li == 0:
            return self.mats_int[0][None], np.zeros(R, dtype=np.int64), np.zeros(1, dtype=np.int64)
        pre = self._prefix(li, S)
        keys = np.ascontiguousarray(pre).view(np.dtype((np.void, pre.shape[1] * 8))).ravel()
        ukeys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        cache = self._cache.setdefault(li, {})
        ids = self._ids.setdefault(li, {})
        kb = [k.tobytes() for k in ukeys]
        new = [i for i, k in enumerate(kb) if k not in cache]
        if new:
            rows_new = S[first[new]]
            prev = self.tables(li - 1, rows_new)  # (U, w_prev, n + 1)
            ch = self.choices(li - 1, rows_new)
            U = ch.shape[0]
            for a in range(0, U, chunk):
                b = min(U, a + chunk)
                Y = self._post(li - 1, prev[a:b], ch[a:b])
                w_post = Y.shape[1]
                Yext = np.concatenate([Y, np.zeros((b - a, 1, n + 1), dtype=object)], axis=1)
                Yext[:, w_post, n] = 1  # the bias column
                big = fmpz_mat(w_post + 1, (b - a) * (n + 1), Yext.transpose(1, 0, 2).ravel().tolist())
                Z = self.mats[li] * big
                vals = np.array([int(x) for x in Z.entries()], dtype=object)
                block = vals.reshape(self.widths[li], b - a, n + 1).transpose(1, 0, 2)
                for t in range(b - a):
                    cache[kb[new[a + t]]] = block[t]
                    ids.setdefault(kb[new[a + t]], len(ids))
        T = np.stack([cache[k] for k in kb]) if kb else np.zeros((0, self.widths[li], n + 1), dtype=object)
        return T, np.asarray(inv).ravel(), np.array([ids[k] for k in kb], dtype=np.int64)

    def _plain_layer1_rows(self, signs: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forms of rows ``row[i]`` of hidden layer 1 of a plain network on the cells of
        ``signs``, and the id of each cell's prefix (as :meth:`_unique_tables` numbers them).

        With the layer-0 activity ``a`` of a cell (``a_i = 1`` where neuron ``i`` passes), the
        form of row ``j`` is ``sum_i a_i M1[j, i] M0[i] + M1[j, w0] e_n`` (the bias column of
        layer 1 times the homogeneous coordinate): what the tables' matrix product gives for that
        row, computed for each distinct ``(a, j)`` alone as a 0/1 sum of fixed integer rows
        (:func:`select_sums`), instead of every row of every distinct prefix.
        """
        n = self.n
        pre = self._prefix(1, signs)
        keys = np.ascontiguousarray(pre).view(np.dtype((np.void, pre.shape[1] * 8))).ravel()
        ukeys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        inv = np.asarray(inv).ravel()
        ids = self._ids.setdefault(1, {})
        pid = np.array([ids.setdefault(k.tobytes(), len(ids)) for k in ukeys], dtype=np.int64)[inv]
        _, pfirst, pinv = np.unique(inv * (self.widths[1] + 1) + row, return_index=True, return_inverse=True)
        uact, urow = pre[first][inv[pfirst]], row[pfirst]
        M0, M1 = self.mats_int[0], self.mats_int[1]
        w0 = M0.shape[0]
        F = np.empty((pfirst.size, n + 1), dtype=object)
        for j in np.unique(urow).tolist():
            at = np.flatnonzero(urow == j)
            vals = select_sums(uact[at], [[int(M1[j, i]) * int(x) for x in M0[i]] for i in range(w0)])
            bias = int(M1[j, w0])
            for t, v in zip(at.tolist(), vals):
                v[n] += bias
                F[t, :] = v
        return F[np.asarray(pinv).ravel()], pid

    def _post(self, li: int, T: np.ndarray, ch: np.ndarray) -> np.ndarray:
        """Integer forms of the outputs of hidden stage ``li`` from the forms ``T`` of its rows."""
        if self.plain:
            return np.where(ch[:, :, None].astype(bool), T, 0)  # inactive neurons pass nothing
        R = T.shape[0]
        src = np.zeros(ch.shape, dtype=np.int64)
        mult = np.ones(ch.shape, dtype=object)
        for u, (kind, inputs, p, q) in enumerate(self.stages[li]):
            if kind == "max":
                src[:, u] = np.asarray(inputs, dtype=np.int64)[ch[:, u]]
                continue
            src[:, u] = inputs[0]
            if kind == "relu":
                mult[:, u] = ch[:, u]
            elif kind == "leaky":
                mult[:, u] = np.where(ch[:, u] > 0, q, p)
        return T[np.arange(R)[:, None], src] * mult[:, :, None]

    def rows(self, signs: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The form of ``positions[i]`` on the closure of the cell of ``signs[i]``, for every ``i``.

        Returns an object array ``(len(positions), n + 1)`` of Python ints and an ``int64`` id
        per row: equal ids mean equal forms (same entry, same choices before).
        """
        S = np.asarray(signs)
        out = np.empty((len(positions), self.n + 1), dtype=object)
        fid = np.empty(len(positions), dtype=np.int64)
        nh, m = self.nh, self.m
        positions = np.asarray(positions, dtype=np.int64)
        dom = (positions >= nh) & (positions < nh + m)
        for i in np.flatnonzero(dom).tolist():
            out[i, :] = self.domain_rows[int(positions[i]) - nh]
        fid[dom] = positions[dom]  # domain facets: ids below nh + m; units: above
        last = len(self.widths) - 1
        W = max(self.widths) + 1
        entry_row = np.asarray(self.entry_row, dtype=np.int64)
        for li in range(last + 1):
            if li < last:
                lo, hi = int(self.sign_starts[li]), int(self.sign_starts[li + 1])
            else:
                lo, hi = nh + m, nh + m + self.widths[li]
            sel = np.flatnonzero((positions >= lo) & (positions < hi))
            if sel.size == 0:
                continue
            pos = positions[sel]
            if li == 1 and li < last and self.plain and self.widths[0]:
                F, pid = self._plain_layer1_rows(S[sel], entry_row[pos])
                out[sel, :] = F
                fid[sel] = nh + m + (((pid * W + entry_row[pos]) * (W + 1)) * (last + 1) + li)
                continue
            T, tix, tid = self._unique_tables(li, S[sel])  # one table per distinct prefix
            pid = tid[tix]
            if li < last:
                row = entry_row[pos]
                other = np.full(sel.size, -1, dtype=np.int64)
                for t, p in enumerate([] if self.plain else pos.tolist()):  # max units only
                    mr = self.entry_max_rows[p]
                    if mr:
                        u0 = self.entry_unit_start[p]
                        block = S[sel[t], u0:u0 + len(mr)]
                        other[t] = mr[int(np.argmax(block == 0))]
            else:
                row = pos - lo
                other = np.full(sel.size, -1, dtype=np.int64)
                if self.refinement == "argmax":
                    other = np.argmax(S[sel][:, lo:hi] == 0, axis=1).astype(np.int64)
            F = T[tix, row]  # only the rows asked for
            diff = other >= 0
            if diff.any():
                F[diff] = F[diff] - T[tix[diff], other[diff]]
            out[sel, :] = F
            fid[sel] = nh + m + (((pid * W + row) * (W + 1) + other + 1) * (last + 1) + li)
        return out, fid
