"""The exact piecewise-linear graph of a model, and its lowering to the layered network IR.

A model (an ONNX graph, a traced PyTorch module) is first read into a :class:`PLGraph`: a
topologically ordered list of nodes on *flat* tensors (every tensor is a vector, its elements
in C order), each node one of

``linear``
    ``y = sum_i A_i x_i + c`` with exact matrices ``A_i`` (python-flint ``fmpq_mat``): Gemm,
    MatMul, Conv (expanded to a dense matrix), folded BatchNorm, AveragePool, residual Add,
    Concat, Pad, Slice, Transpose, Mul by a constant, ...
``relu``, ``leaky``
    ``y_i = max(x_i, 0)``, ``y_i = x_i if x_i > 0 else s_i x_i`` (``s_i`` exact, per element);
``max``
    ``y_k = max(x_j for j in window_k)`` (MaxPool).

Shape-only operators (Reshape, Flatten, Squeeze, Identity, Dropout, ...) do not appear: on a flat
vector they are the identity.

:func:`lower` turns the graph into layers ``(W, b, units)`` of :class:`~exactcells.network.Layer`:
every live tensor is kept as an exact affine function ``T = M_T a + c_T`` of the current stage's
activation vector ``a`` (``a`` is the input at first). A ``linear`` node composes exactly
(``M_y = sum_i A_i M_{x_i}``, flint matrix products). A nonlinear node closes a stage: the new
layer's rows are the rows of the activated tensor (its relu/leaky/max units) followed by the rows of
every other tensor still needed later (``linear`` units: skip connections, carried without
cutting); after it, each of those tensors is a block of the new stage vector. Parallel branches
are linearised in the graph's topological order (correct; a branch costs a stage of its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from flint import fmpq_mat, fmpz_mat

from ..errors import NonRationalInputError
from ..numbers import common_denominator

__all__ = [
    "PLNode",
    "PLGraph",
    "RawLayer",
    "lower",
    "raw_forward_float",
]

UnitSpec = tuple[str, tuple[int, ...], Fraction]


@dataclass
class PLNode:
    """One node of a :class:`PLGraph` (see the module docstring for the operators)."""

    name: str
    op: str  # "linear" | "relu" | "leaky" | "max"
    inputs: tuple[str, ...]
    output: str
    mats: tuple[Any, ...] = ()  # linear: one fmpq_mat (out x in_i) per input
    bias: Any = None  # linear: fmpq_mat column (out x 1), or None for zero
    slopes: tuple[Fraction, ...] = ()  # leaky: one exact slope per element
    windows: tuple[tuple[int, ...], ...] = ()  # max: the input elements of each output


@dataclass
class PLGraph:
    """A piecewise-linear computation graph on flat tensors (nodes in topological order)."""

    input: str
    output: str
    sizes: dict[str, int]
    nodes: list[PLNode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RawLayer:
    """A layer of the IR before it becomes exact tuples: ``z = W a + b`` and its units
    (``None``: one ReLU per row, or a linear output layer when it is the last)."""

    W: Any  # fmpq_mat
    b: Any  # fmpq_mat column
    units: list[UnitSpec] | None


# -- exact matrices --------------------------------------------------------------------------


def _dyadic(A: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    """Integers ``N`` (object array) and ``K`` with ``A = N / 2**K`` exactly (``A`` float64)."""
    A = np.asarray(A, dtype=np.float64)
    if not np.all(np.isfinite(A)):
        raise NonRationalInputError(f"{where}: a value is not finite (NaN or infinity)")
    m, e = np.frexp(A)
    mi = (m * 2.0**53).astype(np.int64)  # exact: |m| < 1 has at most 53 significant bits
    out = np.zeros(A.shape, dtype=object)
    nz = mi != 0
    if not nz.any():
        return out, 0
    v = mi[nz]
    low = v & -v
    tz = np.round(np.log2(low.astype(np.float64))).astype(np.int64)
    v = v >> tz
    ex = e[nz].astype(np.int64) - 53 + tz  # value = v * 2**ex
    K = max(0, int(-ex.min()))
    shift = (ex + K).astype(object)
    out[nz] = v.astype(object) << shift
    return out, K


def exact_matrix(A: np.ndarray, where: str = "weights") -> Any:
    """The exact ``fmpq_mat`` of a float array (2-D; each float is its exact binary value)."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A.reshape(-1, 1)
    r, c = A.shape
    N, K = _dyadic(A, where)
    M = fmpq_mat(fmpz_mat(r, c, [int(x) for x in N.ravel()])) if r and c else fmpq_mat(r, c)
    return M / (2**K) if K else M


def exact_column(v: np.ndarray, where: str = "bias") -> Any:
    """An exact column vector (``fmpq_mat`` ``n x 1``) of a float array's values."""
    return exact_matrix(np.asarray(v, dtype=np.float64).reshape(-1, 1), where)


def exact_fraction_matrix(r: int, c: int, rows: Sequence[int], cols: Sequence[int],
                          vals: Sequence[Fraction]) -> Any:
    """A sparse exact matrix (entries given as Fractions) as a dense ``fmpq_mat``."""
    den = common_denominator(vals)
    N = [0] * (r * c)
    for i, j, v in zip(rows, cols, vals):
        N[i * c + j] += int(v * den)
    M = fmpq_mat(fmpz_mat(r, c, N)) if r and c else fmpq_mat(r, c)
    return M / den if den != 1 else M


def _zeros(r: int, c: int) -> Any:
    return fmpq_mat(r, c)


def _identity(n: int) -> Any:
    M = fmpq_mat(n, n)
    for i in range(n):
        M[i, i] = 1
    return M


def _block(n: int, d: int, offset: int) -> Any:
    """The selection matrix of the block ``offset .. offset+n-1`` of a vector of length ``d``."""
    M = fmpq_mat(n, d)
    for i in range(n):
        M[i, offset + i] = 1
    return M


def _vstack(mats: Sequence[Any], cols: int) -> Any:
    rows = sum(m.nrows() for m in mats)
    entries: list[Any] = []
    for m in mats:
        entries.extend(m.entries())
    return fmpq_mat(rows, cols, entries) if rows and cols else fmpq_mat(rows, cols)


def _rows(m: Any, idx: Sequence[int]) -> Any:
    c = m.ncols()
    e = m.entries()
    out: list[Any] = []
    for i in idx:
        out.extend(e[i * c:(i + 1) * c])
    return fmpq_mat(len(idx), c, out) if idx and c else fmpq_mat(len(idx), c)


# -- lowering -------------------------------------------------------------------------------


def lower(g: PLGraph) -> list[RawLayer]:
    """The layers ``(W, b, units)`` of the graph (see the module docstring)."""
    last_use: dict[str, int] = {}
    for k, nd in enumerate(g.nodes):
        for t in nd.inputs:
            last_use[t] = k
    last_use[g.output] = len(g.nodes)
    d = g.sizes[g.input]
    rep: dict[str, tuple[Any, Any]] = {g.input: (_identity(d), _zeros(d, 1))}
    layers: list[RawLayer] = []
    for k, nd in enumerate(g.nodes):
        if nd.op == "linear":
            n_out = g.sizes[nd.output]
            M = _zeros(n_out, d)
            c = nd.bias if nd.bias is not None else _zeros(n_out, 1)
            for A, t in zip(nd.mats, nd.inputs):
                Mt, ct = rep[t]
                M = M + A * Mt
                c = c + A * ct
            rep[nd.output] = (M, c)
        else:
            x = nd.inputs[0]
            Mx, cx = rep[x]
            units: list[UnitSpec] = []
            if nd.op == "max":
                used = sorted({j for w in nd.windows for j in w})
                pos = {j: i for i, j in enumerate(used)}
                act_W, act_b = _rows(Mx, used), _rows(cx, used)
                for w in nd.windows:
                    if len(w) == 1:
                        units.append(("linear", (pos[w[0]],), Fraction(0)))
                    else:
                        units.append(("max", tuple(pos[j] for j in w), Fraction(0)))
            else:
                act_W, act_b = Mx, cx
                for i in range(Mx.nrows()):
                    s = nd.slopes[i] if nd.op == "leaky" else Fraction(0)
                    kind = "relu" if s == 0 else ("linear" if s == 1 else "leaky")
                    units.append((kind, (i,), s if kind == "leaky" else Fraction(0)))
            n_act = len(units)
            carried = [t for t in rep if last_use.get(t, -1) > k]
            blocks_W, blocks_b = [act_W], [act_b]
            row = act_W.nrows()
            offsets: dict[str, int] = {}
            for t in carried:
                Mt, ct = rep[t]
                blocks_W.append(Mt)
                blocks_b.append(ct)
                offsets[t] = len(units)
                for i in range(Mt.nrows()):
                    units.append(("linear", (row + i,), Fraction(0)))
                row += Mt.nrows()
            W = _vstack(blocks_W, d)
            b = _vstack(blocks_b, 1)
            plain = all(u[0] == "relu" and u[1] == (i,) for i, u in enumerate(units)) and len(units) == W.nrows()
            layers.append(RawLayer(W, b, None if plain else units))
            d = len(units)
            new_rep = {nd.output: (_block(n_act, d, 0), _zeros(n_act, 1))}
            for t in carried:
                n_t = rep[t][0].nrows()
                new_rep[t] = (_block(n_t, d, offsets[t]), _zeros(n_t, 1))
            rep = new_rep
        for t in nd.inputs:
            if last_use.get(t, -1) <= k:
                rep.pop(t, None)
    M, c = rep[g.output]
    layers.append(RawLayer(M, c, None))
    return layers


# -- plain views (tests, JSON) ---------------------------------------------------------------


def _float_mat(m: Any) -> np.ndarray:
    r, c = m.nrows(), m.ncols()
    return np.array([float(int(e.p)) / float(int(e.q)) for e in m.entries()], dtype=float).reshape(r, c)


def raw_forward_float(layers: Sequence[RawLayer], X: np.ndarray) -> np.ndarray:
    """Float64 forward pass of raw layers on points ``X`` ``(N, n)`` (a check, never exact)."""
    A = np.asarray(X, dtype=float)
    for li, L in enumerate(layers):
        Z = A @ _float_mat(L.W).T + _float_mat(L.b).ravel()
        if li == len(layers) - 1:
            return Z
        if L.units is None:
            A = np.maximum(Z, 0.0)
            continue
        cols = []
        for kind, inp, s in L.units:
            if kind == "relu":
                cols.append(np.maximum(Z[:, inp[0]], 0.0))
            elif kind == "leaky":
                z = Z[:, inp[0]]
                cols.append(np.where(z > 0, z, float(s) * z))
            elif kind == "linear":
                cols.append(Z[:, inp[0]])
            else:
                cols.append(Z[:, list(inp)].max(axis=1))
        A = np.stack(cols, axis=1)
    return A
