"""Exact piecewise-linear networks: the immutable :class:`Network`, its loaders and forward passes.

A network ``F: R^n -> R^m`` is a sequence of affine layers ``(W_l, b_l)``; every layer but the
last is followed by an *activation stage*, the last is linear. ``W_l`` has one row per
pre-activation of the layer. By default a stage is one ReLU per row (the multilayer perceptron);
a layer may instead list its :class:`Unit` s: ``relu``, ``leaky`` (slope on the negative side),
``linear`` (a carried value: a skip connection, no cut) and ``max`` (max-pooling over rows).
Convolutions, pooling, batch normalisation and residual connections are written in this form by
:mod:`exactcells.models`. Weights are exact :class:`~fractions.Fraction` values; floats are
converted once, exactly, by :func:`exactcells.numbers.to_rational`.

Sign vectors (the keys of cells): for every hidden layer and every unit in order, ``relu`` and
``leaky`` give one entry ``sign(z_i)``, ``linear`` gives none, and ``max`` over ``k`` rows gives
``k`` entries ``sign(z_i - max)`` in ``{-1, 0}`` (0 exactly for the maximizers).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    DependencyMissingError,
    ExactCellsError,
    InvalidArgumentError,
    InvalidNetworkError,
    NonRationalInputError,
)
from .numbers import common_denominator, float_view, format_rational, to_rational

__all__ = [
    "Unit",
    "Layer",
    "Network",
    "network_from_dict",
    "network_from_arrays",
    "network_from_torch",
    "load_network",
    "save_network",
    "round_network",
]

Matrix = tuple[tuple[Fraction, ...], ...]
Vector = tuple[Fraction, ...]


UNIT_KINDS = ("relu", "leaky", "linear", "max")


@dataclass(frozen=True, slots=True)
class Unit:
    """One piecewise-linear unit of the activation stage that follows a hidden layer.

    Attributes
    ----------
    kind
        ``"relu"`` (``max(z_i, 0)``), ``"leaky"`` (``z_i`` if ``z_i > 0`` else ``slope * z_i``),
        ``"linear"`` (``z_i``, a carried value with no sign entry) or ``"max"`` (the maximum of
        the rows in ``inputs``).
    inputs
        The rows of the layer's pre-activation ``z`` that the unit reads: one, or at least two
        for ``"max"``.
    slope
        ``"leaky"`` only: the exact slope on the negative side.
    """

    kind: str
    inputs: tuple[int, ...]
    slope: Fraction = Fraction(0)

    @property
    def num_signs(self) -> int:
        """Number of sign-vector entries of the unit."""
        if self.kind == "linear":
            return 0
        return len(self.inputs) if self.kind == "max" else 1

    def to_json(self) -> list[Any]:
        if self.kind == "max":
            return ["max", list(self.inputs)]
        if self.kind == "leaky":
            return ["leaky", self.inputs[0], format_rational(self.slope)]
        return [self.kind, self.inputs[0]]

    def apply(self, z: Sequence[Any]) -> Any:
        """The unit's value for exact pre-activations ``z`` (Fractions, ints or tuples of them
        compared lexicographically with ``scale`` support: see :func:`_scale`)."""
        if self.kind == "max":
            return max(z[i] for i in self.inputs)
        v = z[self.inputs[0]]
        if self.kind == "linear":
            return v
        if _positive(v):
            return v
        return _scale(v, self.slope) if self.kind == "leaky" else _scale(v, 0)

    def signs(self, z: Sequence[Any]) -> list[int]:
        """The unit's sign-vector entries for exact pre-activations ``z``."""
        if self.kind == "linear":
            return []
        if self.kind == "max":
            top = max(z[i] for i in self.inputs)
            return [0 if z[i] == top else -1 for i in self.inputs]
        return [_sign(z[self.inputs[0]])]


def _positive(v: Any) -> bool:
    return bool(v > (Fraction(0),) * len(v)) if isinstance(v, tuple) else bool(v > 0)


def _sign(v: Any) -> int:
    zero = (Fraction(0),) * len(v) if isinstance(v, tuple) else 0
    return (v > zero) - (v < zero)


def _scale(v: Any, c: Fraction | int) -> Any:
    return tuple(c * x for x in v) if isinstance(v, tuple) else c * v


@dataclass(frozen=True, slots=True)
class Layer:
    """One affine layer ``z = W x + b`` with exact rational entries, and its activation stage.

    ``units`` is ``None`` for one ReLU per row (a hidden layer of a multilayer perceptron) and
    for the last layer (which is linear); otherwise the stage's :class:`Unit` s in order, whose
    values form the next layer's input.
    """

    W: Matrix
    b: Vector
    units: tuple[Unit, ...] | None = None

    @property
    def fan_in(self) -> int:
        return len(self.W[0]) if self.W else 0

    @property
    def fan_out(self) -> int:
        return len(self.W)

    def stage(self) -> tuple[Unit, ...]:
        """The activation stage as units (``None`` resolves to one ReLU per row)."""
        if self.units is not None:
            return self.units
        return tuple(Unit("relu", (j,)) for j in range(self.fan_out))

    @property
    def out_width(self) -> int:
        """Width of the stage's output (the next layer's input)."""
        return self.fan_out if self.units is None else len(self.units)

    @property
    def num_signs(self) -> int:
        """Sign-vector entries of the stage (as a hidden layer)."""
        return self.fan_out if self.units is None else sum(u.num_signs for u in self.units)

    def apply_stage(self, z: Sequence[Any]) -> list[Any]:
        """The stage's output for exact pre-activations ``z``."""
        if self.units is None:
            return [v if _positive(v) else _scale(v, 0) for v in z]
        return [u.apply(z) for u in self.units]

    def stage_signs(self, z: Sequence[Any]) -> list[int]:
        """The stage's sign-vector entries for exact pre-activations ``z``."""
        if self.units is None:
            return [_sign(v) for v in z]
        return [e for u in self.units for e in u.signs(z)]


@dataclass(frozen=True, slots=True)
class Network:
    """An immutable ReLU network with exact rational weights.

    Attributes
    ----------
    layers
        The affine layers; all but the last are followed by ReLU.
    rounding
        ``None`` when the weights are exactly those given; otherwise a description of the
        opt-in rounding applied (see :func:`round_network`), recorded in every result.

    Examples
    --------
    >>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, "-1/2"]},
    ...                                     {"W": [[1, -1]], "b": [0]}]})
    >>> net.input_dim, net.hidden_widths, net.output_dim
    (2, (2,), 1)
    >>> net.hidden_signs([1, 1])
    (1, 1)
    """

    layers: tuple[Layer, ...]
    rounding: str | None = None
    _memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        _check_layers(self.layers)

    # -- shape ---------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.layers[0].fan_in

    @property
    def output_dim(self) -> int:
        return self.layers[-1].fan_out

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Pre-activation widths (rows of ``W``) of the hidden layers."""
        return tuple(layer.fan_out for layer in self.layers[:-1])

    @property
    def sign_widths(self) -> tuple[int, ...]:
        """Sign-vector entries of each hidden layer's activation stage."""
        return tuple(layer.num_signs for layer in self.layers[:-1])

    @property
    def num_hidden(self) -> int:
        """Total number of hidden sign-vector entries (the hidden neurons of a ReLU network)."""
        return sum(self.sign_widths)

    @property
    def is_plain(self) -> bool:
        """True for a multilayer perceptron: every hidden stage is one ReLU per row."""
        return all(layer.units is None for layer in self.layers)

    @property
    def architecture(self) -> str:
        """The widths joined by dashes, e.g. ``"2-16-16-1"`` (pre-activation widths)."""
        return "-".join(str(w) for w in (self.input_dim, *self.hidden_widths, self.output_dim))

    def neuron_labels(self) -> list[tuple[int, int]]:
        """``(layer, row)`` of every hidden sign entry, in sign-vector order."""
        out: list[tuple[int, int]] = []
        for li, layer in enumerate(self.layers[:-1]):
            for u in layer.stage():
                if u.kind == "max":
                    out.extend((li, r) for r in u.inputs)
                elif u.kind != "linear":
                    out.append((li, u.inputs[0]))
        return out

    # -- exact passes --------------------------------------------------------------------
    def pre_activations(self, x: Sequence[Any]) -> list[tuple[Fraction, ...]]:
        """Exact pre-activations of every layer (hidden layers, then the output) at ``x``."""
        return self._pre_activations(self._point(x))

    def _pre_activations(self, a: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        last = len(self.layers) - 1
        for li, layer in enumerate(self.layers):
            z = tuple(_dot(row, a, bj) for row, bj in zip(layer.W, layer.b))
            out.append(z)
            if li < last:
                a = layer.apply_stage(z)
        return out

    def forward(self, x: Sequence[Any]) -> tuple[Fraction, ...]:
        """Exact network output ``F(x)``."""
        return self.pre_activations(x)[-1]

    def hidden_signs(self, x: Sequence[Any]) -> tuple[int, ...]:
        """Exact sign-vector entries of every hidden unit at ``x``."""
        zs = self.pre_activations(x)[:-1]
        return tuple(e for layer, z in zip(self.layers, zs) for e in layer.stage_signs(z))

    def output_signs(self, x: Sequence[Any]) -> tuple[int, ...]:
        """Exact signs of the output neurons at ``x``."""
        return tuple((v > 0) - (v < 0) for v in self.forward(x))

    def _point(self, x: Sequence[Any]) -> tuple[Fraction, ...]:
        if len(x) != self.input_dim:
            raise InvalidNetworkError(
                f"point has {len(x)} coordinates but the network takes {self.input_dim}"
            )
        return tuple(to_rational(v, f"x[{i}]") for i, v in enumerate(x))

    def lex_signs(
        self, x: Sequence[Fraction], d: Sequence[Fraction]
    ) -> tuple[tuple[int, ...], tuple[tuple[Fraction, Fraction], ...]]:
        """Hidden sign entries and outputs at ``x + e d`` for ``e -> 0+`` (first-order,
        lexicographic): every value is a pair ``(value, derivative)`` compared as a tuple."""
        a = [(Fraction(v), Fraction(w)) for v, w in zip(x, d)]
        zs = self._pre_activations(a)
        hidden = tuple(e for layer, z in zip(self.layers, zs[:-1]) for e in layer.stage_signs(z))
        return hidden, zs[-1]

    # -- float views ---------------------------------------------------------------------
    def float_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The weights rounded to float64 (a float view; never used by the exact path).
        Computed once per network (memoized, read-only arrays: every vertex store of a
        distributed build's units asks for it)."""
        memo = self._memo.get("float_layers")
        if memo is None:
            memo = [(_float_array(L.W, (L.fan_out, L.fan_in)), _float_array((L.b,), (L.fan_out,)))
                    for L in self.layers]
            for W, b in memo:
                W.setflags(write=False)
                b.setflags(write=False)
            self._memo["float_layers"] = memo
        return list(memo)

    def filter_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The weights as the float filters take them: :meth:`float_layers`, with NaN wherever
        the rounding is not within the relative error ``u = 2^-53`` that the filters' proofs
        assume (``|w - fl(w)| <= u |fl(w)| / (1 - u)``): a weight beyond the float range, or
        one that is not 0 but rounds below ``2^-1022`` (to 0 or a subnormal, where rounding has
        an absolute error, not a relative one). A NaN decides nothing: every sign that depends
        on such a weight goes to the exact path. Memoized, read-only."""
        memo = self._memo.get("filter_layers")
        if memo is None:
            memo = []
            for L, (W, b) in zip(self.layers, self.float_layers()):
                W2, b2 = _unfit_to_nan(W, L.W), _unfit_to_nan(b, (L.b,))
                W2.setflags(write=False)
                b2.setflags(write=False)
                memo.append((W2, b2))
            self._memo["filter_layers"] = memo
        return list(memo)

    def forward_float(self, X: np.ndarray) -> np.ndarray:
        """Float64 forward pass on points ``X`` of shape ``(N, n)``; returns ``(N, m)`` (``±inf``
        or NaN where a weight or value is beyond the float range: a float view)."""
        A = np.asarray(X, dtype=float)
        layers = self.float_layers()
        with np.errstate(over="ignore", invalid="ignore"):
            for li, (W, b) in enumerate(layers):
                Z = A @ W.T + b
                A = Z if li == len(layers) - 1 else _stage_float(self.layers[li], Z)[0]
        return A

    def hidden_signs_float(self, X: np.ndarray) -> np.ndarray:
        """Float64 sign entries of every hidden unit at points ``X``: int8 ``(N, num_hidden)``
        (a float view: 0 where a value is NaN, beyond the float range)."""
        A = np.asarray(X, dtype=float)
        layers = self.float_layers()
        parts = []
        with np.errstate(over="ignore", invalid="ignore"):
            for li, (W, b) in enumerate(layers[:-1]):
                Z = A @ W.T + b
                A, sg = _stage_float(self.layers[li], np.where(np.isnan(Z), 0.0, Z))
                parts.append(sg)
        if not parts:
            return np.zeros((A.shape[0], 0), dtype=np.int8)
        return np.concatenate(parts, axis=1)

    # -- export --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The network JSON of README.md "Formats", every number an exact string."""
        d: dict[str, Any] = {
            "layers": [
                {
                    "W": [[format_rational(w) for w in row] for row in L.W],
                    "b": [format_rational(v) for v in L.b],
                    **({"units": [u.to_json() for u in L.units]} if L.units is not None else {}),
                }
                for L in self.layers
            ]
        }
        if self.rounding is not None:
            d["rounding"] = self.rounding
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def integer_network(self) -> tuple[list[list[list[int]]], list[Fraction]]:
        """A sign-equivalent network with integer weights, and the output scales.

        Each pre-activation row is multiplied by a positive factor that makes its row ``[W | b]``
        integral (and primitive, for a row that is compared with no other), and the next
        layer's columns are divided by the scale of the stage's outputs, so every
        pre-activation keeps its sign at every point. Rows compared with each other (the inputs
        of a ``max`` unit, and all outputs) share one factor. A ``leaky`` unit with slope
        ``p/q`` outputs ``q z`` or ``p z`` (scale ``q``), so every carried value stays an
        integer. Returns the integer rows ``[W | b]`` of every layer and, for each output, the
        factor ``s_k`` with ``integer output k = s_k * F_k`` (one common factor). Computed once
        per network (the result is memoized; do not modify it).
        """
        memo = self._memo.get("integer_network")
        if memo is None:
            memo = self._memo["integer_network"] = self._integer_network()
        return memo

    def _integer_network(self) -> tuple[list[list[list[int]]], list[Fraction]]:
        scale_prev = [Fraction(1)] * self.input_dim
        layers: list[list[list[int]]] = []
        scale: list[Fraction] = []
        last = len(self.layers) - 1
        for li, L in enumerate(self.layers):
            fr = [[w / s for w, s in zip(row, scale_prev)] + [bj] for row, bj in zip(L.W, L.b)]
            rows: list[list[int]] = [[] for _ in fr]
            scale = [Fraction(1)] * len(fr)
            for group in _scale_groups(L, li == last):
                den = common_denominator(v for r in group for v in fr[r])
                nums = {r: [int(v * den) for v in fr[r]] for r in group}
                g = math.gcd(*(x for r in group for x in nums[r])) or 1
                for r in group:
                    rows[r] = [v // g for v in nums[r]]
                    scale[r] = Fraction(den, g)
            layers.append(rows)
            if li < last:
                scale_prev = [scale[u.inputs[0]] * (u.slope.denominator if u.kind == "leaky" else 1)
                              for u in L.stage()]
        return layers, scale

    def integer_stages(self) -> list[list[tuple[str, tuple[int, ...], int, int]]]:
        """Each hidden stage for the integer network: ``(kind, inputs, p, q)`` per unit, where a
        ``leaky`` unit of slope ``p/q`` maps an integer ``z`` to ``q z`` or ``p z``."""
        return [[(u.kind, u.inputs, u.slope.numerator, u.slope.denominator) for u in L.stage()]
                for L in self.layers[:-1]]

    def integer_layers(self) -> list[tuple[list[list[int]], list[int]]]:
        """The layers of :meth:`integer_network` as ``(W, b)`` pairs (for signs only)."""
        return [([r[:-1] for r in rows], [r[-1] for r in rows]) for rows in self.integer_network()[0]]

    def forward_homogeneous(
        self, points: Sequence[Sequence[int]], chunk: int = 4096
    ) -> tuple[np.ndarray, list[tuple[Fraction, ...]]]:
        """Exact hidden sign entries and outputs at points given as homogeneous integer vectors.

        A point is ``(D x_1, ..., D x_n, D)`` with ``D > 0`` (as
        :func:`exactcells.measure.homogeneous` and :meth:`PolyhedralComplex.vertex_homogeneous`
        give). Integer matrix products run in python-flint, ``chunk`` points at a time: much
        faster than :meth:`forward` on Fractions.

        Returns
        -------
        signs
            ``(N, num_hidden)`` int8 array of the hidden units' sign entries.
        outputs
            The exact output ``F(x)`` of every point.
        """
        from flint import fmpz_mat

        layers, out_scale = self.integer_network()
        stages = self.integer_stages()
        mats = [fmpz_mat(rows) for rows in layers]
        n = self.input_dim
        N = len(points)
        signs = np.zeros((N, self.num_hidden), dtype=np.int8)
        outputs: list[tuple[Fraction, ...]] = []
        for s0 in range(0, N, chunk):
            P = points[s0 : s0 + chunk]
            c = len(P)
            dens = [int(p[n]) for p in P]
            if any(d <= 0 for d in dens):
                raise InvalidArgumentError("homogeneous points need a positive last coordinate")
            X = fmpz_mat(n + 1, c, [int(p[i]) for i in range(n + 1) for p in P])
            col = 0
            for li, M in enumerate(mats):
                Z = M * X
                h = Z.nrows()
                if li < len(mats) - 1:
                    arr = np.array(Z.entries(), dtype=object).reshape(h, c)
                    sg, post = integer_stage_apply(stages[li], arr, self.layers[li].units is None)
                    signs[s0 : s0 + c, col : col + sg.shape[0]] = sg.T
                    col += sg.shape[0]
                    X = fmpz_mat(post.shape[0] + 1, c, post.ravel().tolist() + dens)
                else:
                    ent = Z.entries()
                    for q in range(c):
                        outputs.append(tuple(Fraction(int(ent[k * c + q]), dens[q]) / out_scale[k]
                                             for k in range(h)))
        return signs, outputs


Form = tuple[tuple[Fraction, ...], Fraction]


def local_affine_forms(
    net: Network, signs: Sequence[int]
) -> tuple[list[Form], tuple[tuple[tuple[Fraction, ...], ...], tuple[Fraction, ...]]]:
    """Exact affine forms on the closure of the cell of sign vector ``signs`` (hidden part read).

    Returns the form ``(a, c)`` of every hidden sign entry, whose sign at every point of the
    cell is that entry (``z_i`` for relu and leaky units; ``z_i - z_t`` for the entries of a max
    unit, with ``t`` its first maximizer), and the output's affine map ``(A, c)``. On the
    closure of a cell every unit is affine: a relu or leaky unit with entry +1 passes ``z_i``,
    with -1 passes ``0`` or ``slope z_i`` (with 0 it is identically 0 there, so either choice
    is right), a max unit passes its first maximizer (all maximizers are equal there).
    """
    n = net.input_dim
    A: list[list[Fraction]] = [[Fraction(int(r == c)) for c in range(n)] for r in range(n)]
    c0: list[Fraction] = [Fraction(0)] * n
    entries: list[Form] = []
    pos = 0
    last = len(net.layers) - 1
    zero = [Fraction(0)] * n
    for li, L in enumerate(net.layers):
        Z = [[sum((w * A[k][col] for k, w in enumerate(row) if w), Fraction(0)) for col in range(n)]
             for row in L.W]
        zc = [sum((w * c0[k] for k, w in enumerate(row) if w), bj) for row, bj in zip(L.W, L.b)]
        if li == last:
            return entries, (tuple(tuple(r) for r in Z), tuple(zc))
        newA: list[list[Fraction]] = []
        newc: list[Fraction] = []
        for u in L.stage():
            if u.kind == "max":
                k = len(u.inputs)
                block = list(signs[pos:pos + k])
                t = u.inputs[block.index(0)] if 0 in block else u.inputs[0]
                for r in u.inputs:
                    entries.append((tuple(x - y for x, y in zip(Z[r], Z[t])), zc[r] - zc[t]))
                newA.append(Z[t])
                newc.append(zc[t])
                pos += k
                continue
            r = u.inputs[0]
            if u.kind == "linear":
                newA.append(Z[r])
                newc.append(zc[r])
                continue
            entries.append((tuple(Z[r]), zc[r]))
            if signs[pos] > 0:
                newA.append(Z[r])
                newc.append(zc[r])
            elif u.kind == "leaky":
                newA.append([u.slope * x for x in Z[r]])
                newc.append(u.slope * zc[r])
            else:
                newA.append(zero)
                newc.append(Fraction(0))
            pos += 1
        A, c0 = newA, newc
    raise AssertionError("unreachable")  # pragma: no cover


def integer_stage_apply(
    stage: Sequence[tuple[str, tuple[int, ...], int, int]], Z: np.ndarray, plain: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sign entries and outputs of an integer stage (:meth:`Network.integer_stages`).

    ``Z`` is an object array of integer pre-activations with one row per pre-activation (columns
    are points, or coordinates of homogeneous vectors: every unit is positively homogeneous, and
    its choice is made by the sign row of the values). Returns the ``int8`` sign entries (one
    row per entry) and the integer outputs (one row per unit).
    """
    pos = Z > 0
    neg = Z < 0
    zsg = pos.astype(np.int8) - neg.astype(np.int8)
    if plain:
        return zsg, np.where(pos, Z, 0)
    sg_rows: list[np.ndarray] = []
    out_rows: list[np.ndarray] = []
    for kind, inputs, p, q in stage:
        if kind == "max":
            block = Z[list(inputs)]
            top = block.max(axis=0)
            sg_rows.extend(np.where(block == top, 0, -1).astype(np.int8))
            out_rows.append(top)
            continue
        i = inputs[0]
        if kind == "linear":
            out_rows.append(Z[i])
            continue
        sg_rows.append(zsg[i])
        if kind == "relu":
            out_rows.append(np.where(pos[i], Z[i], 0))
        else:
            out_rows.append(np.where(pos[i], q * Z[i], p * Z[i]))
    width = Z.shape[1] if Z.ndim > 1 else 0
    sg = np.array(sg_rows, dtype=np.int8).reshape(len(sg_rows), width)
    out = np.array(out_rows, dtype=object).reshape(len(out_rows), width)
    return sg, out


def _scale_groups(layer: Layer, last: bool) -> list[list[int]]:
    """Rows that must share one integer scale: all outputs; the inputs of each ``max`` unit."""
    n = layer.fan_out
    if last:
        return [list(range(n))]
    if layer.units is None:
        return [[r] for r in range(n)]
    parent = list(range(n))

    def find(r: int) -> int:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for u in layer.units:
        if u.kind == "max":
            for r in u.inputs[1:]:
                parent[find(r)] = find(u.inputs[0])
    groups: dict[int, list[int]] = {}
    for r in range(n):
        groups.setdefault(find(r), []).append(r)
    return list(groups.values())


def _dot(row: Sequence[Fraction], a: Sequence[Any], bias: Fraction) -> Any:
    """``row . a + bias`` for exact values or lexicographic tuples of them."""
    if a and isinstance(a[0], tuple):
        k = len(a[0])
        acc = [Fraction(0)] * k
        acc[0] = bias
        for w, v in zip(row, a):
            if w:
                for t in range(k):
                    acc[t] += w * v[t]
        return tuple(acc)
    return sum((w * v for w, v in zip(row, a) if w), bias)


def _float_array(rows: Sequence[Sequence[Fraction | int]], shape: tuple[int, ...]) -> np.ndarray:
    """Exact rationals rounded to the nearest float64 (``numerator / denominator`` is Python's
    correctly rounded integer division, what ``float(Fraction)`` computes, without its
    per-value overhead). A value beyond the float range becomes an infinity of its sign, as
    IEEE rounding to nearest would give; the float filters take a value or bound that is not
    finite as deciding nothing, so such a weight sends its signs to the exact path."""
    try:
        flat = [v / 1 if v.__class__ is int else v.numerator / v.denominator for row in rows for v in row]
    except OverflowError:  # rare: every value again, one at a time
        flat = [float_view(v) for row in rows for v in row]
    return np.array(flat, dtype=np.float64).reshape(shape)


def _unfit_to_nan(A: np.ndarray, rows: Sequence[Sequence[Fraction | int]]) -> np.ndarray:
    """``A`` (the rounded ``rows``) with NaN where its entry is not within relative error ``u``
    of the exact value (:meth:`Network.filter_layers`); ``A`` itself when there is none."""
    flat = A.reshape(-1)
    with np.errstate(invalid="ignore"):
        suspect = np.flatnonzero(~(np.abs(flat) >= _SMALLEST_NORMAL) | ~np.isfinite(flat))
    if not suspect.size:
        return A
    w = A.shape[-1]
    bad = [i for i in suspect.tolist() if rows[i // w][i % w] != 0]  # exact zeros are fit
    if not bad:
        return A
    out = A.copy()
    out.reshape(-1)[bad] = np.nan
    return out


def filter_float(x: Fraction | int) -> float:
    """``x`` rounded to float64 for a float filter: NaN where the rounding is not within
    relative error ``u`` (see :meth:`Network.filter_layers`)."""
    f = float_view(x)
    return f if x == 0 or (math.isfinite(f) and abs(f) >= _SMALLEST_NORMAL) else math.nan


_SMALLEST_NORMAL = 2.0**-1022


def _stage_float(layer: Layer, Z: np.ndarray, filtered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Float outputs and int8 sign entries of a stage on float pre-activations ``Z`` (N, h).
    ``filtered``: leaky slopes as the float filter takes them (:func:`filter_float`)."""
    to_float = filter_float if filtered else float_view
    if layer.units is None:
        return np.maximum(Z, 0.0), np.sign(Z).astype(np.int8)
    outs: list[np.ndarray] = []
    sgs: list[np.ndarray] = []
    for u in layer.units:
        if u.kind == "max":
            block = Z[:, list(u.inputs)]
            top = block.max(axis=1)
            outs.append(top)
            sgs.append(np.where(block == top[:, None], 0, -1).astype(np.int8))
            continue
        v = Z[:, u.inputs[0]]
        if u.kind == "linear":
            outs.append(v)
            continue
        sgs.append(np.sign(v).astype(np.int8)[:, None])
        outs.append(np.where(v > 0, v, to_float(u.slope) * v if u.kind == "leaky" else 0.0))
    N = Z.shape[0]
    out = np.stack(outs, axis=1) if outs else np.zeros((N, 0))
    sg = np.concatenate(sgs, axis=1) if sgs else np.zeros((N, 0), dtype=np.int8)
    return out, sg


def _check_layers(layers: tuple[Layer, ...]) -> None:
    if not isinstance(layers, tuple) or not layers:
        raise InvalidNetworkError("the network has no layers")
    prev: int | None = None
    for li, L in enumerate(layers):
        if L.fan_out == 0:
            raise InvalidNetworkError(f"layer {li}: W has no rows (a zero-width layer)")
        if L.fan_in == 0:
            raise InvalidNetworkError(f"layer {li}: W has rows of length 0")
        for j, row in enumerate(L.W):
            if len(row) != L.fan_in:
                raise InvalidNetworkError(
                    f"layer {li}: W is ragged: row {j} has {len(row)} entries, row 0 has {L.fan_in}"
                )
        if len(L.b) != L.fan_out:
            raise InvalidNetworkError(
                f"layer {li}: b has {len(L.b)} entries but W has {L.fan_out} rows"
            )
        if prev is not None and L.fan_in != prev:
            raise InvalidNetworkError(
                f"layer {li}: W has shape ({L.fan_out}, {L.fan_in}) but layer {li - 1} has "
                f"{prev} outputs; expected shape ({L.fan_out}, {prev})"
            )
        for row in L.W:
            for v in row:
                if not isinstance(v, Fraction):
                    raise NonRationalInputError(f"layer {li}: weight {v!r} is not a Fraction")
        if L.units is not None:
            if li == len(layers) - 1:
                raise InvalidNetworkError(f"layer {li}: the last layer is linear and takes no units")
            _check_units(L, li)
        prev = L.out_width


def _check_units(L: Layer, li: int) -> None:
    if not isinstance(L.units, tuple) or not L.units:
        raise InvalidNetworkError(f"layer {li}: 'units' must be a non-empty list")
    for k, u in enumerate(L.units):
        where = f"layer {li}, unit {k}"
        if not isinstance(u, Unit) or u.kind not in UNIT_KINDS:
            raise InvalidNetworkError(f"{where}: unknown unit {u!r} (expected one of {', '.join(UNIT_KINDS)})")
        if not isinstance(u.inputs, tuple) or not u.inputs:
            raise InvalidNetworkError(f"{where}: a unit needs input rows")
        for r in u.inputs:
            if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < L.fan_out:
                raise InvalidNetworkError(f"{where}: input row {r!r} is not a row of W (0..{L.fan_out - 1})")
        if u.kind == "max":
            if len(u.inputs) < 2 or len(set(u.inputs)) != len(u.inputs):
                raise InvalidNetworkError(f"{where}: a max unit needs at least two distinct rows")
        elif len(u.inputs) != 1:
            raise InvalidNetworkError(f"{where}: a {u.kind} unit reads exactly one row")
        if not isinstance(u.slope, Fraction):
            raise NonRationalInputError(f"{where}: slope {u.slope!r} is not a Fraction")
        if u.kind != "leaky" and u.slope != 0:
            raise InvalidNetworkError(f"{where}: only leaky units have a slope")


def _units_from_json(spec: Any, li: int) -> tuple[Unit, ...]:
    """Parse ``"units": [["relu", 0], ["leaky", 1, "1/100"], ["linear", 2], ["max", [3, 4]]]``."""
    if not isinstance(spec, list) or not spec:
        raise InvalidNetworkError(f"layer {li}: 'units' must be a non-empty list")
    units = []
    for k, item in enumerate(spec):
        where = f"layer {li}, units[{k}]"
        if not isinstance(item, list) or not item or item[0] not in UNIT_KINDS:
            raise InvalidNetworkError(
                f"{where}: expected [kind, row(s)(, slope)] with kind one of {', '.join(UNIT_KINDS)}, got {item!r}"
            )
        kind = item[0]
        want = 3 if kind == "leaky" else 2
        if len(item) != want:
            raise InvalidNetworkError(f"{where}: a {kind} unit is written with {want} entries, got {item!r}")
        rows = item[1] if kind == "max" else [item[1]]
        if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in rows):
            raise InvalidNetworkError(f"{where}: rows must be integers, got {item[1]!r}")
        slope = to_rational(item[2], f"{where}: slope") if kind == "leaky" else Fraction(0)
        units.append(Unit(kind, tuple(rows), slope))
    return tuple(units)


def _layer_from_lists(W: Any, b: Any, li: int) -> Layer:
    if isinstance(W, (str, bytes)) or not isinstance(W, Iterable):
        raise InvalidNetworkError(f"layer {li}: W must be a list of rows, got {type(W).__name__}")
    rows = list(W)
    if not rows:
        raise InvalidNetworkError(f"layer {li}: W has no rows (a zero-width layer)")
    Wt: list[tuple[Fraction, ...]] = []
    for j, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise InvalidNetworkError(
                f"layer {li}: W[{j}] must be a list of numbers, got {row!r}"
            )
        Wt.append(
            tuple(to_rational(v, f"layer {li}, W[{j}][{k}]") for k, v in enumerate(list(row)))
        )
    if isinstance(b, (str, bytes)) or not isinstance(b, Iterable):
        raise InvalidNetworkError(f"layer {li}: b must be a list of numbers, got {b!r}")
    bt = tuple(to_rational(v, f"layer {li}, b[{j}]") for j, v in enumerate(list(b)))
    return Layer(tuple(Wt), bt)


def network_from_dict(d: Mapping[str, Any], rounding: str | None = None) -> Network:
    """Build a network from the JSON structure of README.md "Formats".

    Raises
    ------
    InvalidNetworkError
        Missing ``layers``/``W``/``b`` keys, ragged or mismatched shapes, empty layers.
    NonRationalInputError
        A value that is not a finite rational (NaN, infinity, non-numeric string).
    """
    if not isinstance(d, Mapping):
        raise InvalidNetworkError(f"a network must be a JSON object, got {type(d).__name__}")
    if "layers" not in d:
        raise InvalidNetworkError("the network has no 'layers' key")
    layers_in = d["layers"]
    if not isinstance(layers_in, list):
        raise InvalidNetworkError("'layers' must be a list")
    if not layers_in:
        raise InvalidNetworkError("the network has no layers ('layers' is empty)")
    layers = []
    for li, L in enumerate(layers_in):
        if not isinstance(L, Mapping):
            raise InvalidNetworkError(f"layer {li} must be an object with keys 'W' and 'b'")
        for key in ("W", "b"):
            if key not in L:
                raise InvalidNetworkError(f"layer {li} has no '{key}' key")
        layer = _layer_from_lists(L["W"], L["b"], li)
        if L.get("units") is not None:
            layer = Layer(layer.W, layer.b, _units_from_json(L["units"], li))
        layers.append(layer)
    rnd = rounding if rounding is not None else d.get("rounding")
    return Network(tuple(layers), rounding=rnd if isinstance(rnd, str) else None)


def network_from_arrays(params: Sequence[tuple[Any, Any]], rounding: str | None = None) -> Network:
    """Build a network from ``[(W0, b0), (W1, b1), ...]`` (numpy arrays or nested lists)."""
    layers = []
    for li, (W, b) in enumerate(params):
        Wa = np.asarray(W, dtype=object) if not isinstance(W, np.ndarray) else W
        ba = np.asarray(b, dtype=object) if not isinstance(b, np.ndarray) else b
        if Wa.ndim != 2:
            raise InvalidNetworkError(f"layer {li}: W must be 2-D, got shape {Wa.shape}")
        if ba.ndim != 1:
            raise InvalidNetworkError(f"layer {li}: b must be 1-D, got shape {ba.shape}")
        if Wa.shape[0] == 0 or Wa.shape[1] == 0:
            raise InvalidNetworkError(f"layer {li}: W has shape {Wa.shape} (a zero-width layer)")
        layers.append(_layer_from_lists(Wa.tolist(), ba.tolist(), li))
    if not layers:
        raise InvalidNetworkError("the network has no layers")
    return Network(tuple(layers), rounding=rounding)


#: The most entries one weight array of a ``.npz`` network may declare (checked before reading).
MAX_ARRAY_WEIGHTS = 10_000_000


def _load_npz(path: Path) -> Network:
    from .io import SafeArchive

    with SafeArchive(path, InvalidNetworkError) as data:
        names = set(data.files)
        k = 0
        params = []
        while f"W{k}" in names:
            if f"b{k}" not in names:
                raise InvalidNetworkError(f"{path}: array W{k} has no matching b{k}")
            W = data.read(f"W{k}", max_entries=MAX_ARRAY_WEIGHTS)
            b = data.read(f"b{k}", max_entries=MAX_ARRAY_WEIGHTS)
            params.append((W, b))
            k += 1
        if not params:
            raise InvalidNetworkError(f"{path}: no arrays W0, b0, W1, b1, ... found")
        used = {f"{c}{i}" for i in range(k) for c in "Wb"}
        stray = sorted(x for x in names - used if re.fullmatch(r"[Wb][0-9]+", x))
        if stray:  # a gap in the numbering would silently drop the layers after it
            raise InvalidNetworkError(f"{path}: array {stray[0]} comes after a gap in the numbering (the "
                                      f"layers read are 0 to {k - 1}); number them 0, 1, 2, ... without gaps")
    for li, (W, b) in enumerate(params):
        if W.dtype.kind not in "iuf" or b.dtype.kind not in "iuf":
            raise NonRationalInputError(f"{path}: layer {li}: arrays must be numeric")
    try:
        return network_from_arrays(params)
    except ExactCellsError as e:
        raise type(e)(f"{path}: {e}") from None


def network_from_torch(model: Any) -> Network:
    """Build a network from a PyTorch ``nn.Sequential`` of ``Linear``/``ReLU`` or its ``state_dict``.

    Float32 (or float64) parameters are taken as their exact binary values. PyTorch is imported
    lazily; it is needed only when ``model`` is a module.
    """
    if isinstance(model, Mapping):
        return _network_from_state_dict(model)
    try:
        import torch  # noqa: F401
        from torch import nn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError(
            "loading a PyTorch model needs the optional extra: pip install 'exactcells[torch]'"
        ) from e
    if not isinstance(model, nn.Sequential):
        raise InvalidNetworkError(
            f"expected an nn.Sequential of Linear and ReLU layers, got {type(model).__name__}"
        )
    params = []
    expect_linear = True
    mods = [m for m in model if not isinstance(m, (nn.Identity, nn.Flatten))]
    for i, m in enumerate(mods):
        if expect_linear:
            if not isinstance(m, nn.Linear):
                raise InvalidNetworkError(f"module {i}: expected Linear, got {type(m).__name__}")
            W = m.weight.detach().cpu().double().numpy()
            b = (
                m.bias.detach().cpu().double().numpy()
                if m.bias is not None
                else np.zeros(W.shape[0])
            )
            params.append((W, b))
        elif not isinstance(m, nn.ReLU):
            raise InvalidNetworkError(f"module {i}: expected ReLU, got {type(m).__name__}")
        expect_linear = not expect_linear
    if expect_linear:
        raise InvalidNetworkError("the Sequential ends with ReLU; the last layer must be Linear")
    return network_from_arrays(params)


def _network_from_state_dict(sd: Mapping[str, Any]) -> Network:
    weights = [k for k in sd if k.endswith("weight")]
    if not weights:
        raise InvalidNetworkError("the state_dict has no '*.weight' entries")

    def order(k: str) -> tuple[int, ...]:
        return tuple(int(p) for p in k.split(".") if p.isdigit())

    params = []
    for k in sorted(weights, key=order):
        W = sd[k]
        bk = k[: -len("weight")] + "bias"
        b = sd.get(bk)
        Wn = W.detach().cpu().double().numpy() if hasattr(W, "detach") else np.asarray(W)
        if b is None:
            bn = np.zeros(Wn.shape[0])
        else:
            bn = b.detach().cpu().double().numpy() if hasattr(b, "detach") else np.asarray(b)
        params.append((Wn, bn))
    return network_from_arrays(params)


def load_network(path: str | Path, trust: bool = False) -> Network:
    """Load a network from a ``.json`` (README.md, "Formats"), ``.npz``, ``.pt``/``.pth`` or ``.onnx`` file.

    A ``.pt`` file is read with PyTorch's safe loader (``weights_only=True``): a ``state_dict``
    of tensors loads, nothing in the file can run code. A whole pickled ``nn.Module`` needs the
    full unpickler, which runs whatever code the file contains: it is used only with
    ``trust=True`` (``--trust-pickle`` on the command line), for files you made yourself.

    Raises
    ------
    InvalidNetworkError
        The file cannot be read or is not a valid network; the message names the file and,
        where it applies, the layer and the entry.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidNetworkError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return _load_npz(p)
    if suffix == ".onnx":
        from .models import load_onnx

        return load_onnx(p)
    if suffix in (".pt", ".pth"):
        return _load_torch_file(p, trust)
    from .io import read_json

    d = read_json(p, InvalidNetworkError)
    try:
        return network_from_dict(d)
    except ExactCellsError as e:
        raise type(e)(f"{p}: {e}") from None


def _load_torch_file(p: Path, trust: bool) -> Network:
    try:
        import torch
    except ImportError as e:
        raise DependencyMissingError(
            f"{p}: reading PyTorch files needs the optional extra: pip install 'exactcells[torch]'"
        ) from e
    import warnings

    try:  # a state_dict of tensors loads without running any code from the file
        with warnings.catch_warnings():  # torch warns about the pickle protocol of odd files
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        if not trust:
            raise InvalidNetworkError(
                f"{p}: not a state_dict of tensors (PyTorch's safe loader refused it: "
                f"{type(e).__name__}); a whole pickled module can run arbitrary code when "
                "opened: save model.state_dict() instead, or pass --trust-pickle (trust=True) "
                "for a file you made yourself"
            ) from None
        try:  # explicitly trusted: the full unpickler (runs code from the file)
            obj = torch.load(p, map_location="cpu", weights_only=False)
        except Exception as e2:
            raise InvalidNetworkError(f"{p}: not a readable PyTorch file ({e2})") from None
    try:
        return network_from_torch(obj)
    except ExactCellsError as e:
        raise type(e)(f"{p}: {e}") from None


def save_network(net: Network, path: str | Path, force: bool = False) -> None:
    """Write the network JSON (exact strings) atomically; refuse to overwrite unless ``force``."""
    from .io import atomic_write_text

    atomic_write_text(Path(path), json.dumps(net.to_dict(), indent=1) + "\n", force=force)


def round_network(net: Network, max_denominator: int) -> Network:
    """Round every weight to the nearest fraction with denominator at most ``max_denominator``.

    An opt-in simplification (for example to make float weights small rationals). The returned
    network records the rounding in :attr:`Network.rounding`, and so does every result built
    from it.
    """
    if max_denominator < 1:
        raise InvalidArgumentError(
            f"the rounding denominator bound must be at least 1, got {max_denominator}"
        )
    layers = tuple(
        Layer(
            tuple(tuple(w.limit_denominator(max_denominator) for w in row) for row in L.W),
            tuple(v.limit_denominator(max_denominator) for v in L.b),
            L.units,
        )
        for L in net.layers
    )
    note = f"weights rounded to denominators <= {max_denominator}"
    if net.rounding:
        note = f"{net.rounding}; {note}"
    return Network(layers, rounding=note)
