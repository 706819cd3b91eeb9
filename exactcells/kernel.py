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
* a float vector ``R[v]`` of error bounds with the invariant, for every carried row ``j``,

      |Z[v, j] - z*_j(v)|  <=  R[v, j]                                              (I)

  where ``z*`` is the exact value of the *exact* network (the rational weights) at the exact
  vertex,
* its creation record: the two vertices ``p, q`` of the edge it was cut from and the function
  that cut it, so its exact homogeneous coordinates ``(D x, D)`` can be rebuilt at any time:
  ``h = f(h_p) h_q - f(h_q) h_p`` with ``f`` evaluated exactly by the integer network
  (:meth:`Network.integer_network`: a positive multiple of ``z*`` row by row, compared rows
  with one common factor, so signs and the crossing point are the same). Domain vertices are
  roots with exact coordinates.

Exact coordinates are kept (``exact``) for the roots and for every vertex the exact path had to
look at; all others are rebuilt in creation order when asked (:meth:`VertexStore.exact_coords`,
section "Exact coordinates" below).

The bound (proof of (I))
------------------------
Notation: ``u = 2^-53`` (unit roundoff of float64, round to nearest), ``gamma_k = k u / (1 - k u)``,
``eta = 2^-1000`` (absorbs underflow: an operation that underflows has absolute error at most
``2^-1075``, far below ``eta``, and every bound below has ``eta`` added), and ``INFL = 1 + 2^-40``.
A bound is computed in float64 from non-negative terms; a sum of ``k`` such terms, or a product
of them, has relative error at most ``gamma_k``; the matrix products below have ``k <= m + 2``
terms and are multiplied by ``1 + (m + 3) 2^-52``, every other bound has at most a few dozen
operations and is multiplied by ``INFL`` (``gamma_32 < 2^-47``), so the computed bounds are upper
bounds of the true ones. Widths above ``2^30`` are refused. A non-finite value anywhere
(overflow) makes the comparison ``|value| > bound`` false, so the sign goes to the exact path;
a bound that is not a number (``inf * 0`` in a product after an overflow) counts as infinite,
never as the bound ``0`` of step 5.

1. *Exact inputs.* A root (a domain vertex, or a vertex whose exact coordinates the exact path
   computed) has ``x_hat = fl(x)`` (CPython's ``int / int`` is correctly rounded), so
   ``|x_hat_i - x_i| <= u |x_i| <= 2u |x_hat_i|``: before the first layer ``Z = x_hat`` and
   ``R = 2u |x_hat| + eta`` (a coordinate below the normal range has ``|x_hat_i - x_i| <
   2^-1022 < eta``; one beyond the float range is infinite, and so is its bound).

2. *A layer.* Let the previous carried values satisfy (I). The stage's float output
   ``y = stage(Z)``: ReLU and max are exact float operations and 1-Lipschitz in every
   coordinate's input (max: in the max-norm of its inputs), the identity is exact, and a leaky
   unit of slope ``s`` is ``max(1, |s|)``-Lipschitz with ``fl(fl(s) z)`` within
   ``2.01 u |s z|`` of ``s z``. So ``|y_i - y*_i| <= Ry_i`` with ``Ry`` the stage applied to the
   bounds (``Ry_i = R_i`` for relu/identity, the max of the inputs' bounds for max,
   ``max(1,|s|) R_i + 2.01 u |y_i|`` for leaky). The next layer is ``Z_new = fl(W_hat y + b_hat)``.
   With ``|W - W_hat| <= u |W_hat| / (1 - u)`` (the weights are correctly rounded; where
   that fails, for a weight beyond the float range or one that is not 0 but rounds below
   ``2^-1022``, to 0 or a subnormal, ``W_hat`` is NaN, :meth:`Network.filter_layers`, and so is
   every value and bound it enters: they decide nothing, and a NaN weight is not a zero factor
   of step 5; a leaky slope likewise, :func:`~exactcells.network.filter_float`), the
   standard bound for a dot product of length ``m`` in any summation order (FMA included) gives
   ``|Z_new - (W y + b)| <= gamma_{m+2} (|W_hat| |y| + |b_hat|)`` and
   ``|W (y - y*)| <= |W_hat| Ry / (1 - u)``: (I) holds with
   ``R_new = (|W_hat| (Ry + gamma_{m+2} |y|) / (1 - u) + gamma_{m+2} |b_hat|)`` (inflated) ``+ eta``.

3. *A sign.* For ``f = z_j`` the bound is ``R_j``; for ``f = z_i - z_j`` it is
   ``R_i + R_j + u |f_hat|`` (the subtraction). If ``|f_hat| > bound INFL + eta`` the sign of
   ``f_hat`` is the sign of ``f*``.

4. *A crossing.* Let ``f(p) = a > 0 > b = f(q)`` be decided by 3, with float values
   ``a_hat, b_hat`` and bounds ``ea, eb``, so ``a in [a_hat - ea, a_hat + ea]`` with
   ``a_hat - ea > 0``, and likewise ``b < 0``. The new vertex is ``p + t* (q - p)`` with
   ``t* = a / (a - b)``, and the carried values are affine on the edge (every earlier layer has
   cut it), so ``z*(new) = (1 - t*) z*(p) + t* z*(q)``. With ``t_hat = fl(a_hat / fl(a_hat - b_hat))``
   clipped to ``[0, 1]``: on the box of ``(a, b)`` the partial derivatives of ``a / (a - b)`` are
   bounded by ``(|b_hat| + eb) / den^2`` and ``(a_hat + ea) / den^2`` with
   ``den = (a_hat - ea) + (|b_hat| - eb) > 0`` (a lower bound of ``a - b``), so by the mean value
   theorem ``|t* - t_hat| <= dt = (ea (|b_hat| + eb) + eb (a_hat + ea)) / den^2 + 2.01 u``.
   The new float values ``Z = fl(Zp + t_hat fl(Zq - Zp))`` then satisfy, row by row
   (expand ``(1-t*) z*p + t* z*q - (1 - t_hat) Zp - t_hat Zq``),
   ``|Z_j - z*_j| <= max(Rp_j, Rq_j) + dt |Zq_j - Zp_j| + gamma_3 (|Zp_j| + |Zq_j - Zp_j|)``,
   and ``|Zq_j - Zp_j| <= |fl(Zq_j - Zp_j)| / (1 - u)``: that is ``R_new`` (inflated, ``+ eta``).
   If either end's sign needed the exact path, the new vertex is computed exactly (its
   coordinates from the exact values at both ends) and its float data from 1-2 afresh.

5. *Exact zeros.* A bound ``0`` means the float value is the exact value. It arises only where
   no rounding can happen: an exact coordinate ``0`` (step 1, decided on the exact
   coordinates); a ReLU output whose input's exact sign (from the build's sign codes, decided
   earlier) is ``'-'`` or ``'0'``: the output is exactly 0; a layer row all of whose terms
   ``W_ji y_i`` have ``y_i = 0`` exactly with bound 0, and ``b_j = 0`` (``eta`` is added as soon
   as one product has two non-zero factors, decided on the factors, not on the product, which
   may underflow); a crossing whose two ends have the value exactly 0 with bound 0 and equal
   (``Zq_j - Zp_j = 0`` and ``Zp_j = 0``: the exact value is ``(1 - t) 0 + t 0``). So a value
   ``0`` with bound ``0`` has the sign 0, exactly: dead and identically-zero neurons of a
   degenerate network are decided without the exact path.

Exact coordinates
-----------------
A vertex cut from the edge ``(p, q)`` by ``f`` (``f(p) > 0 > f(q)``, exactly) is the point of the
edge where ``f``, affine on the edge, vanishes: with primitive ``h_p, h_q`` its homogeneous
vector is ``f(h_p) h_q - f(h_q) h_p`` (``f`` of a homogeneous vector: the integer network's
value, positively homogeneous of degree 1), divided by the gcd of its entries; its last entry
``f(h_p) D_q - f(h_q) D_p`` is positive. :meth:`VertexStore.exact_coords` rebuilds the vertices
in creation order (parents first), so only the two values ``f(h_p)``, ``f(h_q)`` are needed per
crossing:

* layer 0: ``f(h) = c . h`` with ``c`` the integer row ``[W | b]`` (or the difference of two
  rows of one common scale);
* layer 1 after a plain ReLU stage: ``f(h) = sum_i c_i relu(M_i . h) + c_b D`` (``M_i`` the
  rows of layer 0, ``c`` the row of layer 1) ``= A(s) . h`` with the *local form*
  ``A(s) = sum_{i : s_i = 1} c_i M_i + c_b e_D`` of the point's own activation pattern
  ``s_i = [M_i . h > 0]`` (a row with ``M_i . h <= 0`` contributes ``relu = 0``, so this is the
  value at the point itself; no property of the edge is used). The pattern is decided by the
  float filter (steps 1-3: ``|Z_i| > R_i``, or a bound 0 with the exact value ``Z_i``) and, where
  it cannot decide, by the exact dot product ``M_i . h``. ``A(s)`` is a sum of selected integer
  vectors ``c_i M_i``: every entry is split into signed limbs ``< 2^40`` and the 0/1 pattern
  matrix is multiplied with the limb matrix in int64 (exact: at most ``2^23`` terms below
  ``2^40``), then the limbs are recombined exactly (:func:`_limb_sums`);
* deeper layers and other stages: the vector ``(D x, D z, D)`` of every vertex is carried
  through the crossings (``z`` the layer's exact values; a crossing combines its parents'
  vectors with the same weights, and the quotient by the gcd of ``(D x, D)`` stays integral,
  since ``z`` is integral and homogeneous at the primitive point).

All three give the same integers ``f(h_p)``, ``f(h_q)`` (the exact values of one function at one
point), hence the same primitive vectors. With the GMP module (:mod:`exactcells._exactc`, data
:data:`GMP`) the first two are computed in GMP integers instead: the same values (the pattern
by that module's own proven filter, exactly where it cannot decide; ``A(s)`` summed exactly,
updated row by row between neighbouring points) and the same primitive vectors
(``tests/test_exactc.py`` compares both paths).

Compiled passes
---------------
When the optional extension :mod:`exactcells._cutc` is built (and ``EXACTCELLS_NO_EXT`` is not
set), :meth:`VertexStore.signs` and :meth:`VertexStore.cross` run their float parts (steps 3 and
4) as C loops doing the same IEEE double operations in the same order (compiled without
contraction into fused multiply-adds, so each operation rounds as numpy's does: the float data
are bit-identical), and the products of step 2 are sequential sums (the bound of step 2 holds
for any summation order; a term whose input is exactly 0 with bound 0 is skipped: it adds an
exact 0). Undecided signs and crossings go to the same exact path.

The tests in ``tests/test_kernel.py`` check the invariant (I) against exact values on random and
adversarial near-degenerate networks (weights that differ in the last bit, vertices within a few
ulps of a hyperplane, coincident and exactly-zero neurons), and that the build gives the same
complex with the filter as with exact signs only.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Sequence
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np

from .network import Network, _stage_float, filter_float, integer_stage_apply
from .numbers import float_view

__all__ = ["VertexStore", "LazyCoords", "TOTALS", "EXT", "GMP"]


def _load_ext(name: str = "exactcells._cutc") -> ModuleType | None:
    """A compiled module (:mod:`exactcells._cutc` by default), unless ``EXACTCELLS_NO_EXT`` is
    set to something other than ``0`` or the extension was not built: then ``None``."""
    if os.environ.get("EXACTCELLS_NO_EXT", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


#: The compiled passes of the kernel and of the build's cut, or ``None``: the numpy passes
#: (identical results; tests switch it by assigning this attribute).
EXT: ModuleType | None = _load_ext()

#: Exact signs and crossings over GMP (:mod:`exactcells._exactc`: the exact coordinates'
#: rebuild here, the certificate's exact signs and passes), or ``None``: Python integers
#: (identical results; tests switch it by assigning this attribute). Loaded on first use (a
#: build that needs no exact coordinates does not map GMP): read it as ``kernel.GMP`` or
#: :func:`gmp_module`.
GMP: ModuleType | None


def gmp_module() -> ModuleType | None:
    """:data:`GMP`, loading it on first use."""
    g = globals()
    if "GMP" not in g:
        g["GMP"] = _load_ext("exactcells._exactc")
    return g["GMP"]


def __getattr__(name: str) -> Any:
    if name == "GMP":
        return gmp_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compiled_passes() -> ModuleType | None:
    """:data:`EXT`, read at each call (so that assigning ``kernel.EXT`` switches the build too)."""
    return EXT

#: Sign tests of every store of this process: decided by the float filter, and by the exact path.
TOTALS = {"decided": 0, "exact": 0}

#: Float arrays below this size grow in place (:meth:`VertexStore._grow`); larger ones are
#: copied into a fresh block, so that their spare rows stay untouched (not resident) memory.
_IN_PLACE_BYTES = 16 * 2**20

U = 2.0**-53
ETA = 2.0**-1000
INFL = 1.0 + 2.0**-40


def _gamma(k: int) -> float:
    return k * U / (1.0 - k * U)


class _Consts:
    """Per-layer constants of the bound (step 2 of the module docstring)."""

    def __init__(self, net: Network) -> None:
        self.W: list[np.ndarray] = []  # W_hat transposed, (in, out)
        self.absW: list[np.ndarray] = []  # |W_hat| transposed, times 1 + (m + 3) 2^-52, / (1 - u)
        self.b: list[np.ndarray] = []
        self.c: list[np.ndarray] = []  # gamma_{m+2} |b_hat| (inflated) + eta; 0 where b = 0
        self.nzW: list[np.ndarray] = []  # 1.0 where W is not zero (transposed)
        self.gam: list[float] = []
        self.finite: list[bool] = []  # all weights finite: the compiled step may skip exact zeros
        self.dense: list[bool] = []  # no weight is 0 (nzW all 1)
        for W, b in net.filter_layers():
            m = W.shape[1]
            if m + 3 >= 2**30:  # pragma: no cover - absurd widths
                raise ValueError("layer too wide for the float filter")
            g = _gamma(m + 2) * INFL
            self.W.append(np.ascontiguousarray(W.T))
            with np.errstate(over="ignore"):  # a weight near the float range's end: an infinite
                # constant, whose bounds decide nothing (the exact path takes those signs)
                self.absW.append(np.ascontiguousarray(np.abs(W).T) * ((1.0 + (m + 3) * 2.0**-52) / (1.0 - U)))
                self.c.append(np.where(b != 0, g * np.abs(b) * INFL + ETA, 0.0))
            self.b.append(b)
            self.nzW.append(np.ascontiguousarray((W != 0).T.astype(np.float64)))
            self.gam.append(g)
            self.finite.append(bool(np.isfinite(W).all() and np.isfinite(b).all()))
            self.dense.append(bool((W != 0).all()))


def _stage_bounds(layer: Any, Z: np.ndarray, R: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Bounds of a stage's float outputs ``Y = stage(Z)`` from the bounds ``R`` of ``Z``."""
    if layer.units is None:
        return R
    cols: list[np.ndarray] = []
    for i, u in enumerate(layer.units):
        if u.kind == "max":
            cols.append(R[:, list(u.inputs)].max(axis=1))
        elif u.kind == "leaky":
            s = abs(filter_float(u.slope)) * (1.0 + 4 * U)
            lip = math.nan if math.isnan(s) else max(1.0, s)  # NaN: no slope, no bound (step 2)
            cols.append((lip * R[:, u.inputs[0]] + 2.01 * U * np.abs(Y[:, i])) * INFL)
        else:
            cols.append(R[:, u.inputs[0]])
    return np.stack(cols, axis=1) if cols else np.zeros((Z.shape[0], 0))


def _dead_relus(layer: Any, codes: np.ndarray) -> np.ndarray | None:
    """Where a ReLU output of ``layer``'s stage is exactly 0: its input's exact sign code is
    '-' or '0' (codes 0 or 1). One column per stage output; ``None`` if the stage has no ReLU."""
    if layer.units is None:
        return codes <= 1
    cols: list[np.ndarray] = []
    sc = 0
    any_relu = False
    for u in layer.units:
        if u.kind == "relu":
            cols.append(codes[:, sc] <= 1)
            any_relu = True
        else:
            cols.append(np.zeros(codes.shape[0], dtype=bool))
        sc += u.num_signs
    return np.stack(cols, axis=1) if any_relu else None


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
        self.R = np.zeros((cap, n))
        self.pa = np.full(cap, -1, dtype=np.int64)
        self.pb = np.full(cap, -1, dtype=np.int64)
        self.fn = np.full(cap, -1, dtype=np.int64)
        self.fns: list[tuple[int, int, int]] = []  # (layer, row, minus row or -1)
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
        self.Z = np.zeros((self.pa.shape[0], width))
        self.R = np.zeros((self.pa.shape[0], width))

    # -- storage ---------------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        cap = self.pa.shape[0]
        if size <= cap:
            return
        new = max(size, cap + cap // 2)  # 1.5x: the float rows are the bulk of the build's memory
        for name in ("Z", "R"):
            old = self.__dict__.pop(name)
            arr = None
            if old.nbytes < _IN_PLACE_BYTES:
                try:  # in place (realloc remaps the block: no copy, fewer fresh pages; numpy
                    # zeroes the new rows); numpy refuses when a view of the array exists
                    old.resize((new, old.shape[1]))
                    arr = old
                except ValueError:
                    pass
            if arr is None:  # a fresh zeroed block: the rows not used yet are never touched
                arr = np.zeros((new, old.shape[1]))
                arr[:cap] = old
            setattr(self, name, arr)
        for name, fill in (("pa", -1), ("pb", -1), ("fn", -1)):
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
    def _step(self, Z: np.ndarray, R: np.ndarray, layer: int, codes: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Float values and bounds of ``layer`` from those of the previous one (step 2).

        ``codes`` are the previous stage's exact sign codes at these vertices (0 '-', 1 '0',
        2 '+', one column per sign entry), when known: a ReLU whose input is known to be
        ``<= 0`` outputs exactly 0 with bound 0 (step 5 of the module docstring)."""
        k = self.k
        with np.errstate(all="ignore"):
            if layer == 0:
                post, Rp = Z, R
            else:
                prev = self.net.layers[layer - 1]
                post = _stage_float(prev, Z, filtered=True)[0]
                Rp = _stage_bounds(prev, Z, R, post)
                if codes is not None:
                    dead = _dead_relus(prev, codes)
                    if dead is not None:
                        post = np.where(dead, 0.0, post)
                        Rp = np.where(dead, 0.0, Rp)
            if EXT is not None and k.finite[layer]:  # sequential sums: no BLAS threads
                return EXT.layer_step(np.ascontiguousarray(post, dtype=np.float64),
                                      np.ascontiguousarray(Rp, dtype=np.float64), k.W[layer],
                                      k.absW[layer], k.b[layer], k.c[layer], k.nzW[layer],
                                      k.gam[layer], INFL, ETA, k.dense[layer])
            Znew = post @ k.W[layer] + k.b[layer]
            Rnew = ((Rp + k.gam[layer] * np.abs(post)) @ k.absW[layer] + k.c[layer]) * INFL
            # eta wherever some term is not zero (a product of non-zero numbers may underflow)
            live = ((Rp != 0) | (post != 0)).astype(np.float64) @ k.nzW[layer]
            Rnew = np.where(live > 0, Rnew + ETA, Rnew)
        return Znew, Rnew

    def _fresh(self, vids: np.ndarray) -> None:
        """Float data of ``vids`` (exact coordinates known) recomputed from the coordinates."""
        n = self.n
        rows = [self.exact[v] for v in vids.tolist()]
        try:
            X = np.array([[h[i] / h[n] for i in range(n)] for h in rows], dtype=float).reshape(len(rows), n)
        except OverflowError:  # a coordinate beyond the float range: infinite, deciding nothing
            X = np.array([[float_view(Fraction(h[i], h[n])) for i in range(n)] for h in rows],
                         dtype=float).reshape(len(rows), n)
        exact0 = np.array([[h[i] == 0 for i in range(n)] for h in rows], dtype=bool).reshape(len(rows), n)
        with np.errstate(all="ignore"):
            R = np.where(exact0, 0.0, 2 * U * np.abs(X) * INFL + ETA)
        Z = X
        for layer in range(self.layer + 1):
            Z, R = self._step(Z, R, layer)
        self.Z[vids] = Z
        self.R[vids] = R

    def transition(self, vids: np.ndarray, layer: int, codes: np.ndarray | None = None) -> None:
        """Carry the values of ``layer`` (the next one) at ``vids`` (the live vertices);
        ``codes``: the previous stage's exact sign codes there (see :meth:`_step`)."""
        assert layer == self.layer + 1
        Z, R = self._step(self.Z[vids], self.R[vids], layer, codes)
        width = Z.shape[1]
        if width != self.Z.shape[1]:
            self.Z = np.zeros((self.pa.shape[0], width))
            self.R = np.zeros((self.pa.shape[0], width))
        self.Z[vids] = Z
        self.R[vids] = R
        self.layer = layer
        self.width = width
        self._vals.clear()

    def _bound(self, vids: np.ndarray, row: int, minus: int) -> tuple[np.ndarray, np.ndarray]:
        """Float values of the function and their error bounds (step 3)."""
        with np.errstate(all="ignore"):
            f = self.Z[vids, row]
            e = self.R[vids, row]
            if minus >= 0:
                f = f - self.Z[vids, minus]
                e = e + self.R[vids, minus] + U * np.abs(f)
            # a NaN bound (an overflow) is infinite: never the exact 0 of step 5
            e = np.where(e > 0, e * INFL + ETA, np.where(e == 0, 0.0, np.inf))
        return f, e

    # -- signs -----------------------------------------------------------------------------
    def signs(self, vids: np.ndarray, row: int, minus: int = -1) -> np.ndarray:
        """Exact signs (-1, 0, 1) of ``z_row`` (minus ``z_minus``) at ``vids``, as int8."""
        if EXT is not None:
            vids = np.ascontiguousarray(vids, dtype=np.int64)
            out = np.empty(vids.size, dtype=np.int8)
            bad = np.empty(vids.size, dtype=np.int64)
            bad = bad[: EXT.filter_signs(self.Z, self.R, vids, row, minus, U, INFL, ETA, out, bad)]
        else:
            f, e = self._bound(vids, row, minus)
            with np.errstate(invalid="ignore"):
                # a bound 0 means the value is exact (step 5); a value that overflowed decides
                # nothing, even under a finite bound (the error model assumes no overflow)
                ok = ((np.abs(f) > e) & np.isfinite(f)) | (e == 0)
                out = np.sign(f).astype(np.int8)
            bad = np.flatnonzero(~ok)
        self.decided += int(vids.size - bad.size)
        TOTALS["decided"] += int(vids.size - bad.size)
        if bad.size:
            self.fallback += int(bad.size)
            TOTALS["exact"] += int(bad.size)
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
            vals = self._forward(coords, self.layer)
            for v, z in zip(need, vals):
                self._vals[v] = z
            self._fresh(np.asarray(need, dtype=np.int64))  # tighten their float data
        return [self._vals[v] for v in vids.tolist()]

    # -- crossings -------------------------------------------------------------------------
    def _fn(self, row: int, minus: int) -> int:
        """A new function record for one call of :meth:`cross`: records are never shared between
        calls, so a run of one record in creation order is one call's crossings, whose parents all
        precede it (what :meth:`exact_coords` relies on)."""
        self.fns.append((self.layer, row, minus))
        return len(self.fns) - 1

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
        if EXT is not None:
            P = np.ascontiguousarray(P, dtype=np.int64)
            Q = np.ascontiguousarray(Q, dtype=np.int64)
            bad = np.empty(P.size, dtype=np.int64)
            bad = bad[: EXT.cross_floats(self.Z, self.R, P, Q, vids, row, minus, U, INFL, ETA,
                                         1 - 4 * U, 2.01 * U, _gamma(3), bad)]
            if bad.size:
                self.exact_coords(vids[bad].tolist())
                self._fresh(vids[bad])
            return vids
        a, ea = self._bound(P, row, minus)
        b, eb = self._bound(Q, row, minus)
        with np.errstate(all="ignore"):
            ok = (a - ea > 0) & (-b - eb > 0)
            den = ((a - ea) + (-b - eb)) * (1 - 4 * U)
            ok &= den > 0
            num = (ea * (np.abs(b) + eb) + eb * (a + ea)) * INFL
            dt = num / (den * den) * INFL + 2.01 * U
            t = np.minimum(np.maximum(a / (a - b), 0.0), 1.0)
            ok &= np.isfinite(dt) & np.isfinite(t)
        good = np.flatnonzero(ok)
        if good.size:
            g = vids[good]
            Zp = self.Z[P[good]]
            Zq = self.Z[Q[good]]
            with np.errstate(all="ignore"):
                tg = t[good][:, None]
                D = Zq - Zp
                self.Z[g] = Zp + tg * D
                aD = np.abs(D)
                Rm = np.maximum(self.R[P[good]], self.R[Q[good]])
                Rn = Rm + dt[good][:, None] * aD + _gamma(3) * (np.abs(Zp) + aD)
                # exactly 0 with bound 0 where both ends are (step 5); eta elsewhere
                self.R[g] = np.where((Rm != 0) | (D != 0) | (Zp != 0), Rn * INFL + ETA, 0.0)
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

    def exact_coords(self, vids: Sequence[int]) -> list[tuple[int, ...]]:
        """Exact primitive homogeneous coordinates ``(D x, D)`` of ``vids``, rebuilt from their
        creation records in creation order (and remembered).

        A crossing of the edge ``(p, q)`` by ``f`` is ``f(h_p) h_q - f(h_q) h_p`` divided by
        the gcd of its entries (the section "Exact coordinates" of the module docstring).
        The values ``f(h)`` come from :meth:`_rebuild_local` (layers whose values are cheap
        exact functions of ``(D x, D)`` alone) or :meth:`_rebuild_carry` (the others).
        """
        exact = self.exact
        gmp = gmp_module()
        if gmp is not None and len(vids) > 1000:  # the ancestors in one compiled pass
            need = np.zeros(self.size, dtype=np.uint8)
            need[np.asarray(vids, dtype=np.int64)] = 1
            known = np.zeros(self.size, dtype=np.uint8)
            known[np.fromiter(exact.keys(), dtype=np.int64, count=len(exact))] = 1
            bad = gmp.ancestors(self.pa, self.pb, need, known)
            if bad >= 0:
                raise AssertionError(f"vertex {bad} has neither coordinates nor parents")
            todo_arr = np.flatnonzero(need & (known ^ 1))
        else:
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
            todo_arr = np.array(sorted(todo), dtype=np.int64)
        if todo_arr.size:
            order = todo_arr
            runs = np.split(order, np.flatnonzero(np.diff(self.fn[order])) + 1)
            layers = [self.fns[int(self.fn[r[0]])][0] for r in runs]
            i = 0
            while i < len(runs):  # groups of consecutive runs of one layer
                j = i
                while j < len(runs) and layers[j] == layers[i]:
                    j += 1
                if self._local_layer(layers[i]):
                    self._rebuild_local(runs[i:j], layers[i])
                else:
                    self._rebuild_carry(runs[i:j], layers[i])
                i = j
        return [exact[v] for v in vids]

    def _local_layer(self, layer: int) -> bool:
        """Whether :meth:`_rebuild_local` evaluates the values of ``layer``: the first layer, and
        the second after a plain ReLU stage (not too wide for the int64 limb sums)."""
        if layer == 0:
            return True
        return (layer == 1 and self.net.layers[0].units is None
                and self.net.layers[0].fan_out < _MAX_LIMB_TERMS)

    def _rebuild_local(self, runs: Sequence[np.ndarray], layer: int) -> None:
        """Crossings of ``layer`` whose function values are evaluated exactly at the parents.

        Layer 0: ``f(h) = c . h`` with ``c`` the integer row (or the difference of two rows).
        Layer 1 after a plain ReLU stage: ``f(h) = sum_i c_i relu(M_i . h) + c_b D``, that is
        ``A(s) . h`` with the local form ``A(s) = sum_{i : s_i} c_i M_i + c_b e_D`` of the
        parent's own activation pattern ``s_i = [M_i . h > 0]`` (:meth:`_patterns`); the local
        forms are sums of selected rows, computed exactly in int64 limbs (:func:`_limb_sums`).
        """
        exact = self.exact
        n = self.n
        mats = self.net.integer_network()[0]
        pats: dict[int, np.ndarray] = {}
        gmp = gmp_module()
        M0 = [tuple(r) for r in mats[0]] if gmp is not None else []
        for run in runs:
            _, row, minus = self.fns[int(self.fn[run[0]])]
            c = list(mats[layer][row])
            if minus >= 0:
                c = [x - y for x, y in zip(c, mats[layer][minus])]
            P = self.pa[run].tolist()
            Q = self.pb[run].tolist()
            if gmp is not None:  # the same values and crossings, in GMP integers
                hp = [exact[p] for p in P]
                hq = [exact[q] for q in Q]
                try:
                    if layer == 0:
                        made = gmp.cross_linear(tuple(c), hp, hq)
                    else:
                        made = gmp.cross_relu(M0, c[:-1], c[-1], hp, hq)
                except ValueError as exc:
                    raise _crossing_error(exc, run, P, Q) from None
                for v, h in zip(run.tolist(), made):
                    exact[v] = h
                continue
            if layer == 0:
                a = [sum(x * y for x, y in zip(c, exact[p])) for p in P]
                b = [sum(x * y for x, y in zip(c, exact[q])) for q in Q]
            else:
                U = sorted(set(P) | set(Q))
                new = [u for u in U if u not in pats]
                if new:
                    for u, s in zip(new, self._patterns(new)):
                        pats[u] = s
                w0 = len(c) - 1
                rows = [[ci * m for m in mi] for ci, mi in zip(c[:w0], mats[0])]
                S = np.stack([pats[u] for u in U]).astype(np.int64)
                forms = _limb_sums(S, rows)  # (len(U), n + 1) exact Python ints
                cb = c[w0]
                val: dict[int, int] = {}
                for u, A in zip(U, forms):
                    h = exact[u]
                    val[u] = sum(x * y for x, y in zip(A, h)) + cb * h[n]
                a = [val[p] for p in P]
                b = [val[q] for q in Q]
            for v, p, q, fa, fb in zip(run.tolist(), P, Q, a, b):
                if not fa > 0 > fb:
                    raise AssertionError(f"vertex {v}: its function is {fa} and {fb} at the ends "
                                         f"{p}, {q} of its edge (must be > 0 > )")
                r = [fa * y - fb * x for x, y in zip(exact[p], exact[q])]
                g = math.gcd(*r)
                exact[v] = tuple(x // g for x in r) if g > 1 else tuple(r)

    def _patterns(self, vids: list[int]) -> list[np.ndarray]:
        """``[M_i . h > 0]`` for every row ``i`` of layer 0, at exact vertices: decided by the
        float filter (steps 1-3 of the module docstring) where it can, exactly otherwise."""
        exact = self.exact
        n = self.n
        rows = [exact[v] for v in vids]
        X = np.array([[_ratio(h[i], h[n]) for i in range(n)] for h in rows], dtype=float).reshape(len(rows), n)
        zero = np.array([[h[i] == 0 for i in range(n)] for h in rows], dtype=bool).reshape(len(rows), n)
        with np.errstate(all="ignore"):
            R0 = np.where(zero, 0.0, 2 * U * np.abs(X) * INFL + ETA)
            Z, R = self._step(X, R0, 0)
            sure = np.isfinite(Z) & ((np.abs(Z) > R) | (R == 0))  # an overflow decides nothing
            pos = sure & (Z > R)
        if not sure.all():
            M0 = self.net.integer_network()[0][0]
            for r, i in np.argwhere(~sure).tolist():
                pos[r, i] = sum(x * y for x, y in zip(M0[i], rows[r])) > 0
        return list(pos)

    def _rebuild_carry(self, runs: Sequence[np.ndarray], layer: int) -> None:
        """Crossings of ``layer`` by carrying, like an exact build would, the full homogeneous
        vector ``(D x, D z, D)`` of every vertex the rebuild meets (``z``: the layer's exact
        values, of the integer network): a crossing is ``f(h_p) h_q - f(h_q) h_p``, divided by
        the gcd. Vertices that exist before these runs get their vector by one exact forward
        pass."""
        exact = self.exact
        n = self.n
        gmp = gmp_module()
        if gmp is not None and all(self.net.layers[li].units is None for li in range(layer)):
            # each end's value by an exact forward pass in GMP integers (plain ReLU stages)
            rows = [[tuple(r) for r in L] for L in self.net.integer_network()[0][:layer + 1]]
            for run in runs:
                _, row, minus = self.fns[int(self.fn[run[0]])]
                P = self.pa[run].tolist()
                Q = self.pb[run].tolist()
                try:
                    got = gmp.cross_forward(rows, layer, row, minus, [exact[p] for p in P],
                                            [exact[q] for q in Q])
                except ValueError as exc:
                    raise _crossing_error(exc, run, P, Q) from None
                for v, h in zip(run.tolist(), got):
                    exact[v] = h
            return
        made = {v for r in runs for v in r.tolist()}
        cache: dict[int, np.ndarray] = {}
        first = sorted({p for r in runs for p in (*self.pa[r].tolist(), *self.pb[r].tolist())
                        if p not in made})
        self._carry(first, layer, cache)
        for run in runs:
            _, row, minus = self.fns[int(self.fn[run[0]])]
            P = self.pa[run].tolist()
            Q = self.pb[run].tolist()
            Hp = np.stack([cache[p] for p in P])
            Hq = np.stack([cache[q] for q in Q])
            zr, zm = n + row, n + minus
            a = Hp[:, zr] - Hp[:, zm] if minus >= 0 else Hp[:, zr]
            b = Hq[:, zr] - Hq[:, zm] if minus >= 0 else Hq[:, zr]
            wrong = np.flatnonzero(~((a > 0) & (b < 0)))
            if wrong.size:
                t = int(wrong[0])
                raise AssertionError(f"vertex {int(run[t])}: its function is {a[t]} and {b[t]} at the ends "
                                     f"{P[t]}, {Q[t]} of its edge (must be > 0 > )")
            H = a[:, None] * Hq - b[:, None] * Hp
            # (D x, D) made primitive; the carried values z(h) are positively homogeneous
            # and integral at integer points, so they stay integers when divided too
            g = np.array([math.gcd(*r[:n], r[-1]) for r in H.tolist()], dtype=object)
            big = np.flatnonzero(g > 1)
            if big.size:
                H[big] //= g[big][:, None]
            for i, v in enumerate(run.tolist()):
                h = H[i]
                cache[v] = h
                exact[v] = (*h[:n].tolist(), int(h[-1]))

    def _carry(self, vids: list[int], layer: int, cache: dict[int, np.ndarray]) -> None:
        """Full homogeneous vectors ``(D x, D z, D)`` of exact vertices at ``layer``."""
        if not vids:
            return
        coords = [self.exact[v] for v in vids]
        n = self.n
        for v, h, z in zip(vids, coords, self._forward(coords, layer)):
            cache[v] = np.array([*h[:n], *z.tolist(), h[n]], dtype=object)

    def release_floats(self) -> None:
        """Drop the float values (the build is over); creation records and exact data stay."""
        self.Z = np.zeros((0, 0))
        self.R = np.zeros((0, 0))
        self._vals.clear()

    def stats(self) -> dict[str, int]:
        """Sign tests decided by the float filter and by the exact path; vertices created."""
        return {"decided": self.decided, "exact": self.fallback, "vertices": self.size}


def _crossing_error(exc: ValueError, run: np.ndarray, P: list[int], Q: list[int]) -> Exception:
    """The GMP module's refusal of edge ``t`` of a run ("edge t: ...") as the vertex it concerns
    (the build's records contradict the exact values: an internal error); other errors as they are."""
    msg = str(exc)
    head = msg.split(":")[0].split()
    if len(head) == 2 and head[0] == "edge" and head[1].isdigit():
        t = int(head[1])
        return AssertionError(f"vertex {int(run[t])} (ends {P[t]}, {Q[t]}): {msg}")
    return exc


class LazyCoords:
    """Exact coordinates of some vertices of a store, computed when called (picklable)."""

    def __init__(self, store: VertexStore, vids: np.ndarray) -> None:
        self.store = store
        self.vids = vids

    def __call__(self) -> list[tuple[int, ...]]:
        return self.store.exact_coords(self.vids.tolist())


def _ratio(a: int, b: int) -> float:
    """``a / b`` correctly rounded, or infinity when it is too large for a float (an infinite
    coordinate makes every value it reaches undecided: the exact path)."""
    try:
        return a / b
    except OverflowError:
        return math.inf


def _primitive(h: Sequence[int]) -> tuple[int, ...]:
    g = math.gcd(*h)
    if g > 1:
        return tuple(int(e) // g for e in h)
    return tuple(int(e) for e in h)


#: Limbs of :func:`_limb_sums`: ``2^40``; a sum of ``k < 2^23`` of them stays below ``2^63``.
_LIMB_BITS = 40
_MAX_LIMB_TERMS = 2**23


def _limb_sums(S: np.ndarray, rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """Exact ``S @ rows`` for a 0/1 matrix ``S`` (``m x k``, int64) and integer ``rows`` (``k x d``).

    Every integer of ``rows`` is split into signed limbs, ``x = sign(x) sum_l x_l 2^(40 l)``
    with ``0 <= x_l < 2^40``; the limb matrices are multiplied in int64 (numpy's integer matmul:
    exact integer arithmetic, no BLAS): a sum of ``k < 2^23`` terms of magnitude below ``2^40``
    is below ``2^63``, so nothing overflows, and the limb sums are recombined exactly (carries
    propagated in int64, then one ``int.from_bytes`` per entry)."""
    m, k = S.shape
    d = len(rows[0]) if k else 0
    if k >= _MAX_LIMB_TERMS:  # pragma: no cover - guarded by _local_layer
        raise ValueError("too many terms for int64 limb sums")
    flat = [int(x) for r in rows for x in r]
    bits = max((abs(x).bit_length() for x in flat), default=0)
    nl = max(1, -(-bits // _LIMB_BITS))
    nb = nl * _LIMB_BITS // 8
    buf = b"".join(abs(x).to_bytes(nb, "little") for x in flat)
    u = np.frombuffer(buf, dtype=np.uint8).reshape(len(flat), nl, _LIMB_BITS // 8).astype(np.int64)
    limbs = np.zeros((len(flat), nl), dtype=np.int64)
    for j in range(_LIMB_BITS // 8):
        limbs |= u[:, :, j] << (8 * j)
    limbs *= np.array([-1 if x < 0 else 1 for x in flat], dtype=np.int64)[:, None]
    T = S @ limbs.reshape(k, d * nl)  # exact: |entries| <= k (2^40 - 1) < 2^63
    T = T.reshape(m * d, nl)
    low = np.empty_like(T)
    carry = np.zeros(m * d, dtype=np.int64)
    mask = np.int64(2**_LIMB_BITS - 1)
    for j in range(nl):
        s = T[:, j] + carry  # |s| < 2^63: |T| <= 2^63 - 2^40, |carry| <= 2^23
        low[:, j] = s & mask  # s mod 2^40 (two's complement)
        carry = s >> _LIMB_BITS  # floor(s / 2^40)
    width = nb + 8
    out = np.empty((m * d, width), dtype=np.uint8)
    out[:, :nb] = low.astype("<u8").view(np.uint8).reshape(m * d, nl, 8)[:, :, :_LIMB_BITS // 8].reshape(m * d, nb)
    out[:, nb:] = carry.astype("<i8").view(np.uint8).reshape(m * d, 8)
    raw = out.tobytes()
    vals = [int.from_bytes(raw[i * width:(i + 1) * width], "little", signed=True) for i in range(m * d)]
    return [vals[i * d:(i + 1) * d] for i in range(m)]
