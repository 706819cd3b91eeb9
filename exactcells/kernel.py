"""The build's vertex kernel: float64 sign tests with a rigorous error bound, exact on demand.

Every sign the build needs is the sign of a *carried value* at a vertex: a pre-activation
``z_j`` of the layer being cut (or a difference ``z_i - z_j`` of two of them, for the argmax
refinement). This module decides each such sign in float64 arithmetic when a proven bound on the
float value's error shows the sign, and in exact integer arithmetic otherwise. The answer is
exact either way: a sign the filter decides is proven, and a value the bound cannot separate
from zero (in particular every exact zero of a degenerate network) goes to the exact path.

Representation
--------------
Every vertex ever created (the store is append-only; ids are *vids*) has

* a float vector ``Z[v]`` approximating the carried values ``z*(v)`` of the current layer (the
  *float network*: the weights rounded to float64, :meth:`Network.float_layers`),
* two error scalars ``E[v]``, ``F[v]`` with the invariant, for every carried row ``j``,

      |Z[v, j] - z*_j(v)|  <=  r_j E[v] + c_j + F[v]                                (I)

  where ``r_j`` and ``c_j`` are constants of the row (below), and ``z*`` is the exact value
  of the *exact* network (the rational weights) at the exact vertex,
* its creation record: the two vertices ``p, q`` of the edge it was cut from and the function
  that cut it, so its exact homogeneous coordinates ``(D x, D)`` can be rebuilt at any time:
  ``h = f(h_p) h_q - f(h_q) h_p`` with ``f`` evaluated exactly by the integer network
  (:meth:`Network.integer_network`: a positive multiple of ``z*`` row by row, compared rows
  with one common factor, so signs and the crossing point are the same). Domain vertices are
  roots with exact coordinates.

Exact coordinates are kept (``exact``) for the roots and for every vertex the exact path had to
look at; all others are rebuilt in creation order when asked (:meth:`VertexStore.exact_coords`),
with the exact values of each layer at the parents computed once, by FLINT matrix products.

The bound (proof of (I))
------------------------
Notation: ``u = 2^-53`` (unit roundoff of float64, round to nearest), ``gamma_k = k u / (1 - k u)``,
``eta = 2^-1000`` (absorbs underflow: a product that underflows has absolute error at most
``2^-1075``, far below ``eta``, and every bound below has ``eta`` added), and ``INFL = 1 + 2^-40``:
every bound is a sum or product of at most a few dozen non-negative float terms, computed with
relative error at most ``gamma_32 < 2^-47``, so multiplying the computed bound by ``INFL``
gives an upper bound of the true one (the row sums ``r_j`` have at most ``m`` terms: their
computed value is multiplied by ``1 + (m + 2) 2^-52``; widths above ``2^30`` are refused). A
non-finite value anywhere (overflow) makes the comparison ``|value| > bound`` false, so the
sign goes to the exact path.

1. *Exact inputs.* A root (a domain vertex, or a vertex whose exact coordinates the exact path
   computed) has ``x_hat = fl(x)`` (CPython's ``int / int`` is correctly rounded), so
   ``|x_hat_i - x_i| <= u |x_hat_i| / (1 - u)``. Carried values before the first layer are the
   coordinates, with ``r = c = 0`` and ``F = 2u max_i |x_hat_i| + eta``, ``E = 0``.

2. *A layer.* Let the previous carried values satisfy (I) with ``(r', c')``. The stage's float
   output ``y = stage(Z)`` (ReLU, max and identity are exact float operations and 1-Lipschitz in
   the max-norm; a leaky unit of slope ``s`` is ``max(1, |s|)``-Lipschitz and ``fl(fl(s) z)``
   has error at most ``2u |s z| + ...``) satisfies ``|y - y*|_inf <= Ep`` with
   ``Ep = L (max r' E + max c' + F) + 2.01 u max|y|`` (the last term only with leaky units).
   The next layer is ``Z_new = fl(W_hat y + b_hat)``. With ``|W - W_hat| <= u |W_hat| / (1 - u)``
   (the weights are correctly rounded; zero when they are floats already), the standard
   bound for a dot product of length ``m`` in any summation order (FMA included) gives
   ``|Z_new_j - (W y + b)_j| <= gamma_{m+2} (R_j max|y| + |b_hat_j|)`` where
   ``R_j = sum_i |W_hat_ji|``, and ``|(W (y - y*))_j| <= R_j Ep / (1 - u)``. So (I) holds with
   ``r_j = R_j / (1 - u)`` (inflated), ``c_j = gamma_{m+2} |b_hat_j| + eta``,
   ``E = (Ep + gamma_{m+2} max|y|) INFL``, ``F = 0``.

3. *A sign.* For ``f = z_j`` the bound is ``e = r_j E + c_j + F``; for ``f = z_i - z_j`` it is
   the sum of both bounds plus ``u |f_hat|`` (the subtraction). If ``|f_hat| > e INFL + eta``
   the sign of ``f_hat`` is the sign of ``f*``.

4. *A crossing.* Let ``f(p) = a > 0 > b = f(q)`` be decided by 3, with float values
   ``a_hat, b_hat`` and bounds ``ea, eb``, so ``a in [a_hat - ea, a_hat + ea]`` with
   ``a_hat - ea > 0``, and likewise ``b < 0``. The new vertex is ``p + t* (q - p)`` with
   ``t* = a / (a - b)``, and the carried values are affine on the edge (every earlier layer has
   cut it), so ``z*(new) = (1 - t*) z*(p) + t* z*(q)``. With ``t_hat = fl(a_hat / fl(a_hat - b_hat))``
   clipped to ``[0, 1]``: on the box of ``(a, b)`` the partial derivatives of ``a / (a - b)`` are
   bounded by ``(|b_hat| + eb) / den^2`` and ``(a_hat + ea) / den^2`` with
   ``den = (a_hat - ea) + (|b_hat| - eb) > 0`` (a lower bound of ``a - b``), so by the mean value
   theorem ``|t* - t_hat| <= dt = (ea (|b_hat| + eb) + eb (a_hat + ea)) / den^2 + 2.01 u``.
   The new float values ``Z = fl(Zp + t_hat (Zq - Zp))`` then satisfy, row by row,
   ``|Z_j - z*_j| <= (1 - t*) err_j(p) + t* err_j(q) + |t_hat - t*| |Zq_j - Zp_j| + gamma_3 (|Zp_j| + |Zq_j - Zp_j|)``
   (expand ``(1-t*) z*p + t* z*q - (1 - t_hat) Zp - t_hat Zq``), which is (I) with
   ``E = max(Ep, Eq)`` and ``F = (max(Fp, Fq) + dt (|Zp| + |Zq|)_inf + gamma_3 (2 |Zp| + |Zq|)_inf) INFL + eta``.
   If either end's sign needed the exact path, the new vertex is computed exactly (its
   coordinates from the exact values at both ends) and its float data from 1-2 afresh.

The tests in ``tests/test_kernel.py`` check the invariant (I) against exact values on random and
adversarial near-degenerate networks (weights that differ in the last bit, vertices within a few
ulps of a hyperplane, coincident and exactly-zero neurons), and that the build gives the same
complex with the filter as with exact signs only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .network import Network, _stage_float, integer_stage_apply

__all__ = ["VertexStore", "LazyCoords"]

U = 2.0**-53
ETA = 2.0**-1000
INFL = 1.0 + 2.0**-40


def _gamma(k: int) -> float:
    return k * U / (1.0 - k * U)


class _Consts:
    """Per-layer constants of the bound (step 2 of the module docstring)."""

    def __init__(self, net: Network) -> None:
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.gam: list[float] = []
        self.lip: list[float] = []  # Lipschitz constant of the stage after layer l
        self.leaky: list[bool] = []
        for li, (W, b) in enumerate(net.float_layers()):
            m = W.shape[1]
            if m + 2 >= 2**30:  # pragma: no cover - absurd widths
                raise ValueError("layer too wide for the float filter")
            g = _gamma(m + 2) * INFL
            R = np.abs(W).sum(axis=1) * (1.0 + (m + 2) * 2.0**-52) / (1.0 - U)
            self.W.append(np.ascontiguousarray(W.T))
            self.b.append(b)
            self.r.append(R * INFL)
            self.c.append(g * np.abs(b) * INFL + ETA)
            self.gam.append(g)
            layer = net.layers[li]
            slopes = [abs(float(u.slope)) for u in (layer.units or ()) if u.kind == "leaky"]
            self.lip.append(max([1.0] + [s * (1.0 + 4 * U) for s in slopes]))
            self.leaky.append(bool(slopes))


class VertexStore:
    """Every vertex of one build: float values with error bounds, and exact coordinates on demand.

    Vertex ids (vids) are assigned in creation order; a vertex's parents always have smaller
    vids. ``layer`` is the layer whose pre-activations are carried (``-1``: the coordinates).
    """

    def __init__(self, net: Network, n: int, cap: int = 1024) -> None:
        self.net = net
        self.n = n
        self.k = _Consts(net)
        self.layer = -1
        self.width = n
        self.size = 0
        self.Z = np.zeros((cap, n))
        self.E = np.zeros(cap)
        self.F = np.zeros(cap)
        self.pa = np.full(cap, -1, dtype=np.int64)
        self.pb = np.full(cap, -1, dtype=np.int64)
        self.fn = np.full(cap, -1, dtype=np.int64)
        self.fns: list[tuple[int, int, int]] = []  # (layer, row, minus row or -1)
        self.fn_index: dict[tuple[int, int, int], int] = {}
        self.exact: dict[int, tuple[int, ...]] = {}
        self._vals: dict[int, np.ndarray] = {}  # exact carried values of the current layer
        self.decided = 0
        self.fallback = 0
        self._mats: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_mats"] = None  # FLINT matrices do not pickle; rebuilt on demand
        return state

    def set_layer(self, layer: int, width: int) -> None:
        """Start an empty store at ``layer`` (whose values have ``width`` rows)."""
        assert self.size == 0
        self.layer = layer
        self.width = width
        self.Z = np.zeros((self.E.shape[0], width))

    # -- storage ---------------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        cap = self.E.shape[0]
        if size <= cap:
            return
        new = max(size, 2 * cap)
        Z = np.zeros((new, self.Z.shape[1]))
        Z[:cap] = self.Z
        self.Z = Z
        for name, fill in (("E", 0.0), ("F", 0.0), ("pa", -1), ("pb", -1), ("fn", -1)):
            old = getattr(self, name)
            arr = np.full(new, fill, dtype=old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)

    def _alloc(self, count: int) -> np.ndarray:
        start = self.size
        self._grow(start + count)
        self.size = start + count
        return np.arange(start, start + count, dtype=np.int64)

    def add_roots(self, coords: Sequence[Sequence[int]], floats: bool = True) -> np.ndarray:
        """New vertices with known exact homogeneous coordinates ``(D x, D)``, ``D > 0``."""
        vids = self._alloc(len(coords))
        for v, h in zip(vids.tolist(), coords):
            self.exact[v] = _primitive(h)
        if floats and len(coords):
            self._fresh(vids)
        return vids

    # -- float layers ----------------------------------------------------------------------
    def _step(self, Z: np.ndarray, E: np.ndarray, F: np.ndarray, layer: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Float values and bounds of ``layer`` from those of the previous one (step 2)."""
        k = self.k
        with np.errstate(all="ignore"):
            if layer == 0:
                post, Ep = Z, F
            else:
                pre = layer - 1
                Epre = float(k.r[pre].max(initial=0.0)) * E + float(k.c[pre].max(initial=0.0)) + F
                post = _stage_float(self.net.layers[pre], Z)[0]
                Ep = k.lip[pre] * Epre * INFL
                if k.leaky[pre]:
                    Ep = Ep + 2.01 * U * np.abs(post).max(axis=1, initial=0.0)
            Y = np.abs(post).max(axis=1, initial=0.0)
            Znew = post @ k.W[layer] + k.b[layer]
            Enew = (Ep + k.gam[layer] * Y) * INFL + ETA
        return Znew, Enew, np.zeros_like(Enew)

    def _fresh(self, vids: np.ndarray) -> None:
        """Float data of ``vids`` (exact coordinates known) recomputed from the coordinates."""
        n = self.n
        rows = [self.exact[v] for v in vids.tolist()]
        X = np.array([[h[i] / h[n] for i in range(n)] for h in rows], dtype=float).reshape(len(rows), n)
        with np.errstate(all="ignore"):
            F = 2 * U * np.abs(X).max(axis=1, initial=0.0) * INFL + ETA
        E = np.zeros(len(rows))
        Z = X
        for layer in range(self.layer + 1):
            Z, E, F = self._step(Z, E, F, layer)
        self.Z[vids] = Z
        self.E[vids] = E
        self.F[vids] = F

    def transition(self, vids: np.ndarray, layer: int) -> None:
        """Carry the values of ``layer`` (the next one) at ``vids`` (the live vertices)."""
        assert layer == self.layer + 1
        Z, E, F = self._step(self.Z[vids], self.E[vids], self.F[vids], layer)
        width = Z.shape[1]
        if width != self.Z.shape[1]:
            self.Z = np.zeros((self.E.shape[0], width))
        self.Z[vids] = Z
        self.E[vids] = E
        self.F[vids] = F
        self.layer = layer
        self.width = width
        self._vals.clear()

    def _bound(self, vids: np.ndarray, row: int, minus: int) -> tuple[np.ndarray, np.ndarray]:
        """Float values of the function and their error bounds (step 3)."""
        k = self.k
        L = self.layer
        E = self.E[vids]
        F = self.F[vids]
        with np.errstate(all="ignore"):
            f = self.Z[vids, row]
            e = k.r[L][row] * E + k.c[L][row] + F
            if minus >= 0:
                f = f - self.Z[vids, minus]
                e = e + k.r[L][minus] * E + k.c[L][minus] + F + U * np.abs(f)
            e = e * INFL + ETA
        return f, e

    # -- signs -----------------------------------------------------------------------------
    def signs(self, vids: np.ndarray, row: int, minus: int = -1) -> np.ndarray:
        """Exact signs (-1, 0, 1) of ``z_row`` (minus ``z_minus``) at ``vids``, as int8."""
        f, e = self._bound(vids, row, minus)
        with np.errstate(invalid="ignore"):
            ok = np.abs(f) > e
        out = np.where(f > 0, 1, -1).astype(np.int8)
        bad = np.flatnonzero(~ok)
        self.decided += int(vids.size - bad.size)
        if bad.size:
            self.fallback += int(bad.size)
            sub = vids[bad]
            vals = self.exact_values(sub)
            for i, v in enumerate(vals):
                x = v[row] - v[minus] if minus >= 0 else v[row]
                out[bad[i]] = 1 if x > 0 else (-1 if x < 0 else 0)
        return out

    def exact_values(self, vids: np.ndarray) -> list[np.ndarray]:
        """Exact carried values (integer network, homogeneous scale) of the current layer."""
        need = [v for v in vids.tolist() if v not in self._vals]
        if need:
            coords = self.exact_coords(need)
            new_exact = [v for v in need]
            vals = self._forward(coords, self.layer)
            for v, z in zip(need, vals):
                self._vals[v] = z
            self._fresh(np.asarray(new_exact, dtype=np.int64))  # tighten their float data
        return [self._vals[v] for v in vids.tolist()]

    # -- crossings -------------------------------------------------------------------------
    def _fn(self, row: int, minus: int) -> int:
        key = (self.layer, row, minus)
        i = self.fn_index.get(key)
        if i is None:
            i = self.fn_index[key] = len(self.fns)
            self.fns.append(key)
        return i

    def cross(self, P: np.ndarray, Q: np.ndarray, row: int, minus: int = -1) -> np.ndarray:
        """New vertices on the edges ``(P[i], Q[i])`` where the function changes sign (it is
        positive at ``P`` and negative at ``Q``, exactly); returns their vids."""
        vids = self._alloc(P.size)
        fi = self._fn(row, minus)
        self.pa[vids] = P
        self.pb[vids] = Q
        self.fn[vids] = fi
        if not P.size:
            return vids
        a, ea = self._bound(P, row, minus)
        b, eb = self._bound(Q, row, minus)
        with np.errstate(all="ignore"):
            ok = (a - ea > 0) & (-b - eb > 0)
            den = ((a - ea) + (-b - eb)) * (1 - 4 * U)
            ok &= den > 0
            num = (ea * (np.abs(b) + eb) + eb * (a + ea)) * INFL
            dt = num / (den * den) * INFL + 2.01 * U
            t = np.clip(a / (a - b), 0.0, 1.0)
            ok &= np.isfinite(dt) & np.isfinite(t)
        good = np.flatnonzero(ok)
        if good.size:
            g = vids[good]
            Zp = self.Z[P[good]]
            Zq = self.Z[Q[good]]
            with np.errstate(all="ignore"):
                tg = t[good][:, None]
                self.Z[g] = Zp + tg * (Zq - Zp)
                np_ = np.abs(Zp).max(axis=1, initial=0.0)
                nq = np.abs(Zq).max(axis=1, initial=0.0)
                self.E[g] = np.maximum(self.E[P[good]], self.E[Q[good]])
                F = (np.maximum(self.F[P[good]], self.F[Q[good]]) + dt[good] * (np_ + nq)
                     + _gamma(3) * (2 * np_ + nq))
                self.F[g] = F * INFL + ETA
        bad = np.flatnonzero(~ok)
        if bad.size:
            self.exact_coords(vids[bad].tolist())
            self._fresh(vids[bad])
        return vids

    # -- exact coordinates -----------------------------------------------------------------
    def _matrices(self) -> list[Any]:
        if self._mats is None:
            from flint import fmpz_mat

            self._mats = [fmpz_mat([list(r) for r in rows]).transpose()
                          for rows in self.net.integer_network()[0]]
        return self._mats

    def _forward(self, coords: Sequence[tuple[int, ...]], layer: int) -> list[np.ndarray]:
        """Exact pre-activations of ``layer`` (integer network) at homogeneous points."""
        from flint import fmpz_mat

        B = len(coords)
        if B == 0:
            return []
        n = self.n
        mats = self._matrices()
        stages = self.net.integer_stages()
        dens = [h[n] for h in coords]
        X = fmpz_mat(B, n + 1, [int(e) for h in coords for e in h])
        Zobj = np.zeros((0, 0), dtype=object)
        for li in range(layer + 1):
            Zm = X * mats[li]
            w = Zm.ncols()
            Zobj = np.array([int(e) for e in Zm.entries()], dtype=object).reshape(B, w)
            if li == layer:
                break
            post = integer_stage_apply(stages[li], Zobj.T, self.net.layers[li].units is None)[1].T
            w2 = post.shape[1]
            X = fmpz_mat(B, w2 + 1, [e for r, d in zip(post.tolist(), dens) for e in (*r, d)])
        return list(Zobj)

    def _layer_of(self, v: int) -> int:
        f = int(self.fn[v])
        return self.fns[f][0] if f >= 0 else -1

    def exact_coords(self, vids: Sequence[int]) -> list[tuple[int, ...]]:
        """Exact primitive homogeneous coordinates ``(D x, D)`` of ``vids``, rebuilt from their
        creation records in creation order (and remembered).

        Within one layer the rebuild carries, like an exact build would, the full homogeneous
        vector ``(D x, D z, D)`` of every vertex it meets (``z``: the layer's exact values, of
        the integer network): a crossing is ``f(h_p) h_q - f(h_q) h_p``, divided by the gcd.
        Vertices that exist before the layer get their vector by one exact matrix product.
        """
        exact = self.exact
        todo: set[int] = set()
        stack = [v for v in vids if v not in exact]
        while stack:
            v = stack.pop()
            if v in todo or v in exact:
                continue
            todo.add(v)
            for p in (int(self.pa[v]), int(self.pb[v])):
                if p < 0:
                    raise AssertionError(f"vertex {v} has neither coordinates nor parents")
                if p not in exact and p not in todo:
                    stack.append(p)
        if todo:
            n = self.n
            order = np.array(sorted(todo), dtype=np.int64)
            runs = np.split(order, np.flatnonzero(np.diff(self.fn[order])) + 1)
            cache: dict[int, list[int]] = {}
            cache_layer = -2
            for run in runs:
                layer, row, minus = self.fns[int(self.fn[run[0]])]
                if layer != cache_layer:
                    cache = {}
                    cache_layer = layer
                    # every parent of this layer's runs that is not rebuilt within the layer
                    first = [p for r in runs if self.fns[int(self.fn[r[0]])][0] == layer
                             for p in (*self.pa[r].tolist(), *self.pb[r].tolist())
                             if p not in todo or self._layer_of(p) != layer]
                    self._carry(sorted(set(first)), layer, cache)
                P = self.pa[run].tolist()
                Q = self.pb[run].tolist()
                missing = sorted({p for p in P + Q if p not in cache})
                if missing:  # pragma: no cover - every parent is carried above
                    self._carry(missing, layer, cache)
                zr, zm = n + row, n + minus
                for v, p, q in zip(run.tolist(), P, Q):
                    hp, hq = cache[p], cache[q]
                    a = hp[zr] - hp[zm] if minus >= 0 else hp[zr]
                    b = hq[zr] - hq[zm] if minus >= 0 else hq[zr]
                    h = [a * y - b * x for x, y in zip(hp, hq)]
                    g = math.gcd(*h)
                    if g > 1:
                        h = [e // g for e in h]
                    cache[v] = h
                    exact[v] = _primitive(h[:n] + h[-1:])
        return [exact[v] for v in vids]

    def _carry(self, vids: list[int], layer: int, cache: dict[int, list[int]]) -> None:
        """Full homogeneous vectors ``(D x, D z, D)`` of exact vertices at ``layer``."""
        if not vids:
            return
        coords = [self.exact[v] for v in vids]
        n = self.n
        for v, h, z in zip(vids, coords, self._forward(coords, layer)):
            cache[v] = [*h[:n], *z.tolist(), h[n]]

    def release_floats(self) -> None:
        """Drop the float values (the build is over); creation records and exact data stay."""
        self.Z = np.zeros((0, 0))
        self.E = np.zeros(0)
        self.F = np.zeros(0)
        self._vals.clear()

    def stats(self) -> dict[str, int]:
        """Sign tests decided by the float filter and by the exact path; vertices created."""
        return {"decided": self.decided, "exact": self.fallback, "vertices": self.size}


class LazyCoords:
    """Exact coordinates of some vertices of a store, computed when called (picklable)."""

    def __init__(self, store: VertexStore, vids: np.ndarray) -> None:
        self.store = store
        self.vids = vids

    def __call__(self) -> list[tuple[int, ...]]:
        return self.store.exact_coords(self.vids.tolist())


def _primitive(h: Sequence[int]) -> tuple[int, ...]:
    g = math.gcd(*h)
    if g > 1:
        return tuple(int(e) // g for e in h)
    return tuple(int(e) for e in h)
