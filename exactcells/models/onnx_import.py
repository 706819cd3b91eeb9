"""Read an ONNX model into the exact piecewise-linear graph (:mod:`exactcells.models.graph`).

Only the ``onnx`` package is needed (initializers and the graph; no onnxruntime). Every float
weight is taken as its exact binary value. Subgraphs that depend only on constants (shape
arithmetic such as ``Shape -> Gather -> Concat -> Reshape``) are evaluated by ONNX's reference
evaluator, with a batch size of 1. The one deliberate rounding is BatchNormalization's scale
``gamma / sqrt(var + eps)``, irrational in general: it is computed in float64 and its exact
binary value is used (see :func:`_batchnorm`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from flint import fmpq

from ..errors import (
    DependencyMissingError,
    InvalidNetworkError,
    NotPiecewiseLinearError,
    UnsupportedOperatorError,
)
from .graph import (
    PLGraph,
    PLNode,
    exact_column,
    exact_fraction_matrix,
    exact_matrix,
)

__all__ = ["graph_from_onnx", "load_onnx_graph", "MonotoneOutputWarning"]


class MonotoneOutputWarning(UserWarning):
    """A final Softmax/LogSoftmax/Sigmoid was dropped: it is monotone, so it keeps every cell
    and the predicted class; the network's output is its input (the logits)."""


NOT_PL = {
    "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Exp", "Log", "Sqrt", "Pow", "Erf", "Gelu", "Elu",
    "Selu", "Celu", "Softplus", "Softsign", "HardSwish", "Mish", "Sin", "Cos", "Tan", "Reciprocal",
    "LRN", "LayerNormalization", "InstanceNormalization", "GroupNormalization", "Floor", "Ceil",
    "Round", "Sign", "ThresholdedRelu", "Hardmax", "ArgMax", "ArgMin", "TopK", "Softmax_13",
    "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceProd", "Atan", "Asin", "Acos",
    "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Shrink", "Bernoulli", "RandomNormal",
    "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Einsum", "QuantizeLinear",
}
MONOTONE_FINAL = {"Softmax", "LogSoftmax", "Sigmoid"}
SHAPE_ONLY = {"Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError("reading ONNX files needs the 'onnx' package: pip install onnx") from e
    return onnx


def load_onnx_graph(path: str | Path) -> PLGraph:
    """Read the ONNX file at ``path`` into a :class:`PLGraph` (errors name the file)."""
    onnx = _onnx()
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InvalidNetworkError(f"{p}: cannot read the file ({e})") from e
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf's DecodeError and friends
        raise InvalidNetworkError(f"{p}: not an ONNX model (the protobuf does not parse: {e})") from None
    if not isinstance(model, onnx.ModelProto) or (not model.graph.node and not model.graph.input):
        raise InvalidNetworkError(f"{p}: not an ONNX model (no graph, no inputs, no nodes)")
    return graph_from_onnx(model, source=str(p))


class _Reader:
    def __init__(self, model: Any, source: str) -> None:
        self.onnx = _onnx()
        self.model = model
        self.src = source
        self.const: dict[str, np.ndarray] = {}
        self.shape: dict[str, tuple[int, ...]] = {}  # data tensors (batch 1)
        self.alias: dict[str, str] = {}  # data tensor name -> the PL tensor holding its values
        self.g: PLGraph | None = None
        self.node_label = ""
        self.fresh = 0

    # -- errors ----------------------------------------------------------------------------
    def fail(self, msg: str, cls: type[InvalidNetworkError] = UnsupportedOperatorError) -> InvalidNetworkError:
        return cls(f"{self.src}: {self.node_label}{msg}")

    # -- tensors ---------------------------------------------------------------------------
    def is_data(self, name: str) -> bool:
        return name in self.alias

    def size(self, name: str) -> int:
        return int(np.prod(self.shape[name], dtype=np.int64))

    def new_name(self, base: str) -> str:
        self.fresh += 1
        return f"{base}#{self.fresh}"

    def set_data(self, name: str, pl_name: str, shape: tuple[int, ...]) -> None:
        assert self.g is not None
        self.alias[name] = pl_name
        self.shape[name] = shape
        self.g.sizes.setdefault(pl_name, int(np.prod(shape, dtype=np.int64)))

    def linear(self, label: str, out: str, shape: tuple[int, ...], terms: Sequence[tuple[str, Any]],
               bias: Any = None) -> None:
        """``out = sum A @ t + bias`` over data tensors ``t`` (``A`` exact ``fmpq_mat``)."""
        assert self.g is not None
        pl = self.new_name(out)
        self.g.sizes[pl] = int(np.prod(shape, dtype=np.int64))
        self.g.nodes.append(PLNode(label, "linear", tuple(self.alias[t] for t, _ in terms), pl,
                                   mats=tuple(A for _, A in terms), bias=bias))
        self.set_data(out, pl, shape)

    def nonlinear(self, label: str, op: str, x: str, out: str, shape: tuple[int, ...],
                  slopes: tuple[Fraction, ...] = (), windows: tuple[tuple[int, ...], ...] = ()) -> None:
        assert self.g is not None
        pl = self.new_name(out)
        self.g.sizes[pl] = int(np.prod(shape, dtype=np.int64)) if op != "max" else len(windows)
        self.g.nodes.append(PLNode(label, op, (self.alias[x],), pl, slopes=slopes, windows=windows))
        self.set_data(out, pl, shape)

    def gather(self, out_idx: np.ndarray, n_in: int, coef: np.ndarray | None = None) -> Any:
        """The exact matrix of ``y_j = coef_j * x[out_idx_j]`` (``out_idx_j = -1``: ``y_j = 0``)."""
        idx = np.asarray(out_idx, dtype=np.int64).ravel()
        rows = np.flatnonzero(idx >= 0)
        M = np.zeros((idx.size, n_in))
        vals = np.ones(rows.size) if coef is None else np.asarray(coef, dtype=np.float64).ravel()[rows]
        M[rows, idx[rows]] = vals
        return exact_matrix(M, self.node_label or "weights")

    # -- the graph -------------------------------------------------------------------------
    def read(self) -> PLGraph:
        onnx = self.onnx
        graph = self.model.graph
        for t in graph.initializer:
            self.const[t.name] = onnx.numpy_helper.to_array(t)
        inputs = [v for v in graph.input if v.name not in self.const]
        if len(inputs) != 1:
            names = ", ".join(repr(v.name) for v in inputs) or "none"
            raise InvalidNetworkError(f"{self.src}: the graph must have exactly one data input, it has {names}")
        if len(graph.output) != 1:
            raise InvalidNetworkError(f"{self.src}: the graph must have exactly one output, it has {len(graph.output)}")
        inp = inputs[0]
        shape = self._input_shape(inp)
        self.g = PLGraph(input=inp.name, output="", sizes={})
        self.set_data(inp.name, inp.name, shape)
        nodes = list(graph.node)
        out_name = graph.output[0].name
        producer = {o: i for i, nd in enumerate(nodes) for o in nd.output}
        skip: set[int] = set()
        while out_name in producer and nodes[producer[out_name]].op_type in MONOTONE_FINAL:
            i = producer[out_name]
            consumers = [nd for nd in nodes if out_name in nd.input]
            if consumers:
                break
            nd = nodes[i]
            skip.add(i)
            msg = (f"{self.src}: the final {nd.op_type} (node {self._name(nd, i)}) is monotone and was "
                   f"dropped: the network's output is its input (it keeps every cell and the argmax)")
            self.g.notes.append(msg)
            warnings.warn(msg, MonotoneOutputWarning, stacklevel=3)
            out_name = nd.input[0]
            nodes_using = [n for j, n in enumerate(nodes) if j not in skip and out_name in n.input]
            if len(nodes_using) > 0:
                break
        for i, nd in enumerate(nodes):
            if i in skip:
                continue
            self.node_label = f"node {self._name(nd, i)} ({nd.op_type}) "
            self._node(nd)
        self.node_label = ""
        if out_name not in self.alias:
            raise InvalidNetworkError(f"{self.src}: the output {out_name!r} does not depend on the input")
        self.g.output = self.alias[out_name]
        return self.g

    @staticmethod
    def _name(nd: Any, i: int) -> str:
        return repr(nd.name) if nd.name else f"#{i}"

    def _input_shape(self, v: Any) -> tuple[int, ...]:
        tt = v.type.tensor_type
        if not tt.HasField("shape"):
            raise InvalidNetworkError(f"{self.src}: input {v.name!r} has no shape")
        dims: list[int] = []
        for k, dim in enumerate(tt.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                dims.append(int(dim.dim_value))
            elif k == 0:
                dims.append(1)  # a symbolic batch dimension
            else:
                raise InvalidNetworkError(
                    f"{self.src}: input {v.name!r} has a symbolic dimension {dim.dim_param or '?'} at axis {k}; "
                    "exactcells needs a fixed input shape")
        if len(dims) >= 2 and dims[0] != 1:
            raise InvalidNetworkError(
                f"{self.src}: input {v.name!r} has batch size {dims[0]}; export the model with batch size 1 "
                "or a symbolic batch dimension")
        return tuple(dims)

    def _attrs(self, nd: Any) -> dict[str, Any]:
        h = self.onnx.helper
        return {a.name: h.get_attribute_value(a) for a in nd.attribute}

    def _cval(self, name: str) -> np.ndarray:
        if name not in self.const:
            raise self.fail(f"input {name!r} must be a constant (an initializer)")
        return self.const[name]

    def _opt(self, nd: Any, k: int) -> str | None:
        return nd.input[k] if len(nd.input) > k and nd.input[k] else None

    # -- one node --------------------------------------------------------------------------
    def _node(self, nd: Any) -> None:
        op = nd.op_type
        data_in = [t for t in nd.input if t and self.is_data(t)]
        if not data_in:
            self._fold(nd)
            return
        if nd.domain not in ("", "ai.onnx"):
            raise self.fail(f"is not supported (operator domain {nd.domain!r})")
        if op in NOT_PL:
            raise self.fail("is not piecewise linear", NotPiecewiseLinearError)
        handler: Callable[[Any, dict[str, Any]], None] | None = getattr(self, f"op_{op}", None)
        if handler is None:
            raise self.fail("is not supported")
        handler(nd, self._attrs(nd))

    def _fold(self, nd: Any) -> None:
        """Evaluate a node whose inputs are all constants (ONNX's reference implementation)."""
        if nd.op_type == "Constant":
            a = self._attrs(nd)
            if "value" in a:
                self.const[nd.output[0]] = self.onnx.numpy_helper.to_array(a["value"])
                return
        from onnx.reference import ReferenceEvaluator

        feeds = {t: self.const[t] for t in nd.input if t}
        try:
            outs = ReferenceEvaluator(nd).run(None, feeds)
        except Exception as e:
            raise self.fail(f"cannot be evaluated on its constant inputs ({e})") from None
        for name, val in zip(nd.output, outs):
            if name:
                self.const[name] = np.asarray(val)

    # -- shape-only operators --------------------------------------------------------------
    def op_Shape(self, nd: Any, a: dict[str, Any]) -> None:
        """The shape of a data tensor is a constant (batch size 1)."""
        s = np.array(self.shape[nd.input[0]], dtype=np.int64)
        start, end = int(a.get("start", 0)), a.get("end")
        self.const[nd.output[0]] = s[start:None if end is None else int(end)]

    def op_Size(self, nd: Any, a: dict[str, Any]) -> None:
        self.const[nd.output[0]] = np.array(self.size(nd.input[0]), dtype=np.int64)

    def _same(self, nd: Any, shape: tuple[int, ...]) -> None:
        x = nd.input[0]
        if int(np.prod(shape, dtype=np.int64)) != self.size(x):
            raise self.fail(f"changes the number of elements ({self.size(x)} -> {int(np.prod(shape))})")
        assert self.g is not None
        self.alias[nd.output[0]] = self.alias[x]
        self.shape[nd.output[0]] = tuple(int(s) for s in shape)

    def op_Identity(self, nd: Any, a: dict[str, Any]) -> None:
        self._same(nd, self.shape[nd.input[0]])

    def op_Dropout(self, nd: Any, a: dict[str, Any]) -> None:
        if len(nd.output) > 1 and nd.output[1]:
            raise self.fail("with a mask output is not supported (export the model in eval mode)")
        training = self._opt(nd, 2)
        if training is not None and bool(np.asarray(self._cval(training)).item()):
            raise self.fail("in training mode is not supported")
        self._same(nd, self.shape[nd.input[0]])

    def op_Flatten(self, nd: Any, a: dict[str, Any]) -> None:
        s = self.shape[nd.input[0]]
        ax = int(a.get("axis", 1))
        ax = ax + len(s) if ax < 0 else ax
        self._same(nd, (int(np.prod(s[:ax], dtype=np.int64)), int(np.prod(s[ax:], dtype=np.int64))))

    def op_Reshape(self, nd: Any, a: dict[str, Any]) -> None:
        s = self.shape[nd.input[0]]
        target = a["shape"] if "shape" in a else self._cval(nd.input[1])  # opset < 5: an attribute
        t = [int(v) for v in np.asarray(target).ravel()]
        allowzero = int(a.get("allowzero", 0))
        for k, v in enumerate(t):
            if v == 0 and not allowzero:
                t[k] = s[k]
        if -1 in t:
            known = int(np.prod([v for v in t if v != -1], dtype=np.int64))
            t[t.index(-1)] = int(np.prod(s, dtype=np.int64)) // max(known, 1)
        self._same(nd, tuple(t))

    def _axes(self, nd: Any, a: dict[str, Any]) -> list[int] | None:
        if "axes" in a:
            return [int(v) for v in a["axes"]]
        k = self._opt(nd, 1)
        return None if k is None else [int(v) for v in np.asarray(self._cval(k)).ravel()]

    def op_Squeeze(self, nd: Any, a: dict[str, Any]) -> None:
        s = self.shape[nd.input[0]]
        axes = self._axes(nd, a)
        ax = {k % len(s) for k in axes} if axes is not None else {k for k, v in enumerate(s) if v == 1}
        self._same(nd, tuple(v for k, v in enumerate(s) if k not in ax))

    def op_Unsqueeze(self, nd: Any, a: dict[str, Any]) -> None:
        s = list(self.shape[nd.input[0]])
        axes = self._axes(nd, a) or []
        r = len(s) + len(axes)
        for k in sorted(x % r for x in axes):
            s.insert(k, 1)
        self._same(nd, tuple(s))

    # -- affine operators ------------------------------------------------------------------
    def _matmul(self, nd: Any, A_name: str, B_name: str, transA: bool, transB: bool) -> tuple[Any, tuple[int, ...], str]:
        """The exact matrix of ``A' @ B'`` in its data operand, the output shape and that operand."""
        if self.is_data(A_name) and self.is_data(B_name):
            raise self.fail("multiplies two data tensors: it is not piecewise linear", NotPiecewiseLinearError)
        if self.is_data(A_name):
            sA = self.shape[A_name]
            B = np.asarray(self._cval(B_name), dtype=np.float64)
            if B.ndim != 2:
                raise self.fail(f"with a constant operand of rank {B.ndim} is not supported (only matrices)")
            B = B.T if transB else B
            idx = np.arange(int(np.prod(sA, dtype=np.int64))).reshape(sA if len(sA) > 1 else (1, sA[0]))
            if transA:
                if idx.ndim != 2:
                    raise self.fail("transA on a data tensor of rank > 2 is not supported")
                idx = idx.T
            lead = idx.shape[:-1]
            rows_in = idx.reshape(-1, idx.shape[-1])  # (P, k)
            P, k = rows_in.shape
            if B.shape[0] != k:
                raise self.fail(f"shapes do not match: data {idx.shape} times constant {B.shape}")
            n = B.shape[1]
            M = np.zeros((P * n, rows_in.size))
            for p in range(P):
                M[p * n:(p + 1) * n, rows_in[p]] = B.T
            out_shape = (*lead, n) if len(sA) > 1 else (n,)
            return exact_matrix(M, self.node_label), tuple(out_shape), A_name
        sB = self.shape[B_name]
        A = np.asarray(self._cval(A_name), dtype=np.float64)
        if A.ndim != 2 or len(sB) != 2:
            raise self.fail("with a constant left operand is supported only for matrices")
        A = A.T if transA else A
        idx = np.arange(sB[0] * sB[1]).reshape(sB)
        if transB:
            idx = idx.T
        k, n = idx.shape
        if A.shape[1] != k:
            raise self.fail(f"shapes do not match: constant {A.shape} times data {idx.shape}")
        m = A.shape[0]
        M = np.zeros((m * n, k * n))
        for i in range(m):
            for j in range(n):
                M[i * n + j, idx[:, j]] = A[i]
        return exact_matrix(M, self.node_label), (m, n), B_name

    def op_MatMul(self, nd: Any, a: dict[str, Any]) -> None:
        M, shape, t = self._matmul(nd, nd.input[0], nd.input[1], False, False)
        self.linear(self.node_label, nd.output[0], shape, [(t, M)])

    def op_Gemm(self, nd: Any, a: dict[str, Any]) -> None:
        M, shape, t = self._matmul(nd, nd.input[0], nd.input[1], bool(a.get("transA", 0)), bool(a.get("transB", 0)))
        alpha = Fraction(float(a.get("alpha", 1.0)))
        beta = Fraction(float(a.get("beta", 1.0)))
        if alpha != 1:
            M = M * fmpq(alpha.numerator, alpha.denominator)
        bias = None
        c_name = self._opt(nd, 2)
        if c_name is not None:
            if self.is_data(c_name):
                raise self.fail("with a data tensor as C is not supported")
            C = np.broadcast_to(np.asarray(self._cval(c_name), dtype=np.float64), shape)
            bias = exact_column(C.ravel(), self.node_label)
            if beta != 1:
                bias = bias * fmpq(beta.numerator, beta.denominator)
        self.linear(self.node_label, nd.output[0], shape, [(t, M)], bias)

    def _elementwise(self, nd: Any, sign_b: int) -> None:
        """Add (``sign_b = 1``) or Sub (``-1``) with numpy broadcasting."""
        names = list(nd.input[:2])
        shapes = [self.shape[t] if self.is_data(t) else np.shape(self._cval(t)) for t in names]
        try:
            out = tuple(int(v) for v in np.broadcast_shapes(*shapes))
        except ValueError:
            raise self.fail(f"shapes {shapes[0]} and {shapes[1]} do not broadcast") from None
        terms = []
        bias = np.zeros(int(np.prod(out, dtype=np.int64)))
        for t, s, sg in zip(names, shapes, (1, sign_b)):
            if self.is_data(t):
                idx = np.broadcast_to(np.arange(int(np.prod(s, dtype=np.int64))).reshape(s), out)
                terms.append((t, self.gather(idx, self.size(t), np.full(idx.size, float(sg)))))
            else:
                bias = bias + sg * np.broadcast_to(np.asarray(self._cval(t), dtype=np.float64), out).ravel()
        self.linear(self.node_label, nd.output[0], out, terms, exact_column(bias, self.node_label))

    def op_Add(self, nd: Any, a: dict[str, Any]) -> None:
        self._elementwise(nd, 1)

    def op_Sub(self, nd: Any, a: dict[str, Any]) -> None:
        self._elementwise(nd, -1)

    def op_Neg(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        n = self.size(x)
        self.linear(self.node_label, nd.output[0], self.shape[x], [(x, self.gather(np.arange(n), n, -np.ones(n)))])

    def _scale(self, nd: Any, divide: bool) -> None:
        x, y = nd.input[0], nd.input[1]
        if self.is_data(x) and self.is_data(y):
            raise self.fail("multiplies two data tensors: it is not piecewise linear", NotPiecewiseLinearError)
        if not self.is_data(x):
            if divide:
                raise self.fail("divides by a data tensor: it is not piecewise linear", NotPiecewiseLinearError)
            x, y = y, x
        c = np.asarray(self._cval(y), dtype=np.float64)
        s = self.shape[x]
        try:
            out = tuple(int(v) for v in np.broadcast_shapes(s, c.shape))
        except ValueError:
            raise self.fail(f"shapes {s} and {c.shape} do not broadcast") from None
        idx = np.broadcast_to(np.arange(self.size(x)).reshape(s), out).ravel()
        cv = np.broadcast_to(c, out).ravel()
        if not divide:
            self.linear(self.node_label, nd.output[0], out, [(x, self.gather(idx, self.size(x), cv))])
            return
        if np.any(cv == 0):
            raise self.fail("divides by zero", InvalidNetworkError)
        vals = [1 / Fraction(float(v)) for v in cv]
        M = exact_fraction_matrix(idx.size, self.size(x), list(range(idx.size)), idx.tolist(), vals)
        self.linear(self.node_label, nd.output[0], out, [(x, M)])

    def op_Mul(self, nd: Any, a: dict[str, Any]) -> None:
        self._scale(nd, False)

    def op_Div(self, nd: Any, a: dict[str, Any]) -> None:
        self._scale(nd, True)

    def op_Concat(self, nd: Any, a: dict[str, Any]) -> None:
        names = [t for t in nd.input if t]
        shapes = [self.shape[t] if self.is_data(t) else np.shape(self._cval(t)) for t in names]
        r = len(shapes[0])
        ax = int(a["axis"]) % r
        out = list(shapes[0])
        out[ax] = sum(s[ax] for s in shapes)
        pos = np.arange(int(np.prod(out, dtype=np.int64))).reshape(out)
        parts = np.split(pos, np.cumsum([s[ax] for s in shapes])[:-1], axis=ax)
        n_out = pos.size
        terms = []
        bias = np.zeros(n_out)
        for t, part in zip(names, parts):
            rows = part.ravel()
            if self.is_data(t):
                idx = -np.ones(n_out, dtype=np.int64)
                idx[rows] = np.arange(rows.size)
                terms.append((t, self.gather(idx, self.size(t))))
            else:
                bias[rows] = np.asarray(self._cval(t), dtype=np.float64).ravel()
        self.linear(self.node_label, nd.output[0], tuple(out), terms, exact_column(bias, self.node_label))

    def op_Transpose(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        s = self.shape[x]
        perm = [int(v) for v in a.get("perm", list(reversed(range(len(s)))))]
        idx = np.arange(self.size(x)).reshape(s).transpose(perm)
        self.linear(self.node_label, nd.output[0], tuple(idx.shape), [(x, self.gather(idx, self.size(x)))])

    def op_Slice(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        s = self.shape[x]
        if "starts" in a:  # opset < 10
            starts, ends = list(a["starts"]), list(a["ends"])
            axes = list(a.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts = [int(v) for v in self._cval(nd.input[1]).ravel()]
            ends = [int(v) for v in self._cval(nd.input[2]).ravel()]
            ax_n, st_n = self._opt(nd, 3), self._opt(nd, 4)
            axes = [int(v) for v in self._cval(ax_n).ravel()] if ax_n else list(range(len(starts)))
            steps = [int(v) for v in self._cval(st_n).ravel()] if st_n else [1] * len(starts)
        sl = [slice(None)] * len(s)
        for st, en, ax, sp in zip(starts, ends, axes, steps):
            sl[int(ax) % len(s)] = slice(int(st), int(max(min(en, 2**62), -(2**62))), int(sp))
        idx = np.arange(self.size(x)).reshape(s)[tuple(sl)]
        self.linear(self.node_label, nd.output[0], tuple(idx.shape), [(x, self.gather(idx, self.size(x)))])

    def op_Gather(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        if self.is_data(nd.input[1]):
            raise self.fail("with data-dependent indices is not supported")
        ind = np.asarray(self._cval(nd.input[1]), dtype=np.int64)
        s = self.shape[x]
        ax = int(a.get("axis", 0)) % len(s)
        ind = np.where(ind < 0, ind + s[ax], ind)
        idx = np.take(np.arange(self.size(x)).reshape(s), ind, axis=ax)
        self.linear(self.node_label, nd.output[0], tuple(idx.shape), [(x, self.gather(idx, self.size(x)))])

    def op_Pad(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        s = self.shape[x]
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if "pads" in a:  # opset < 11
            pads = [int(v) for v in a["pads"]]
            value = float(a.get("value", 0.0))
            axes = list(range(len(s)))
        else:
            pads = [int(v) for v in self._cval(nd.input[1]).ravel()]
            cv = self._opt(nd, 2)
            value = float(np.asarray(self._cval(cv)).ravel()[0]) if cv else 0.0
            an = self._opt(nd, 3)
            axes = [int(v) % len(s) for v in self._cval(an).ravel()] if an else list(range(len(s)))
        width = [(0, 0)] * len(s)
        for k, ax in enumerate(axes):
            width[ax] = (pads[k], pads[k + len(axes)])
        if any(p < 0 for w in width for p in w):
            raise self.fail("with negative pads is not supported")
        base = np.arange(self.size(x)).reshape(s)
        if mode == "constant":
            idx = np.pad(base, width, mode="constant", constant_values=-1)
        elif mode in ("reflect", "edge", "wrap"):
            idx = np.pad(base, width, mode=mode)  # type: ignore[call-overload]
        else:
            raise self.fail(f"with mode {mode!r} is not supported")
        bias = np.where(idx.ravel() < 0, value, 0.0)
        self.linear(self.node_label, nd.output[0], tuple(idx.shape), [(x, self.gather(idx, self.size(x)))],
                    exact_column(bias, self.node_label))

    def op_BatchNormalization(self, nd: Any, a: dict[str, Any]) -> None:
        if len([o for o in nd.output if o]) > 1 or int(a.get("training_mode", 0)):
            raise self.fail("in training mode is not supported (export the model in eval mode)")
        x = nd.input[0]
        s = self.shape[x]
        gamma, beta, mean, var = (np.asarray(self._cval(t), dtype=np.float64).ravel() for t in nd.input[1:5])
        eps = float(a.get("epsilon", 1e-5))
        scale, shift = _batchnorm(gamma, beta, mean, var, eps)
        C = s[1] if len(s) > 1 else s[0]
        n = self.size(x)
        if len(scale) == C:  # per channel
            per = n // C
            ch = np.repeat(np.arange(C), per)
        elif len(scale) == n // s[0]:  # opset < 9 with spatial=0: one value per element
            ch = np.arange(n) % len(scale)
        else:
            raise self.fail(f"has {len(scale)} parameters for input shape {s}")
        vals = [scale[c] for c in ch]
        M = exact_fraction_matrix(n, n, list(range(n)), list(range(n)), vals)
        bias = exact_fraction_matrix(n, 1, list(range(n)), [0] * n, [shift[c] for c in ch])
        self.linear(self.node_label, nd.output[0], s, [(x, M)], bias)

    def _spatial(self, nd: Any, a: dict[str, Any], x: str, kernel: Sequence[int]
                 ) -> tuple[tuple[int, ...], list[int], list[int], list[int], list[int]]:
        """Output spatial shape, strides, begin pads, dilations and input spatial shape."""
        s = self.shape[x]
        S = list(s[2:])
        nd_ = len(S)
        if len(kernel) != nd_:
            raise self.fail(f"kernel {tuple(kernel)} does not fit input shape {s}")
        strides = [int(v) for v in a.get("strides", [1] * nd_)]
        dil = [int(v) for v in a.get("dilations", [1] * nd_)]
        pads = [int(v) for v in a.get("pads", [0] * (2 * nd_))]
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        ceil = bool(int(a.get("ceil_mode", 0)))
        out = []
        begin = []
        for d in range(nd_):
            keff = dil[d] * (kernel[d] - 1) + 1
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                o = -(-S[d] // strides[d])
                tot = max((o - 1) * strides[d] + keff - S[d], 0)
                pb = tot // 2 if auto == "SAME_UPPER" else tot - tot // 2
                begin.append(pb)
                out.append(o)
                continue
            pb, pe = (0, 0) if auto == "VALID" else (pads[d], pads[d + nd_])
            span = S[d] + pb + pe - keff
            if span < 0:
                raise self.fail(f"kernel larger than the padded input {s}")
            o = (-(-span // strides[d]) if ceil else span // strides[d]) + 1
            if ceil and (o - 1) * strides[d] >= S[d] + pb:
                o -= 1
            out.append(o)
            begin.append(pb)
        return tuple(out), strides, begin, dil, S

    def op_Conv(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        if self.is_data(nd.input[1]):
            raise self.fail("with a data tensor as weights is not piecewise linear", NotPiecewiseLinearError)
        Wt = np.asarray(self._cval(nd.input[1]), dtype=np.float64)
        s = self.shape[x]
        group = int(a.get("group", 1))
        Mo, Cg = Wt.shape[0], Wt.shape[1]
        K = list(Wt.shape[2:])
        if "kernel_shape" in a and [int(v) for v in a["kernel_shape"]] != K:
            raise self.fail("kernel_shape does not match the weights")
        if s[1] != Cg * group or Mo % group:
            raise self.fail(f"weights {Wt.shape} with group {group} do not fit input shape {s}")
        O, strides, begin, dil, S = self._spatial(nd, a, x, K)
        grids = np.meshgrid(np.arange(Mo), np.arange(Cg), *[np.arange(k) for k in K],
                            *[np.arange(o) for o in O], indexing="ij")
        m, c = grids[0].ravel(), grids[1].ravel()
        ks = [g.ravel() for g in grids[2:2 + len(K)]]
        os_ = [g.ravel() for g in grids[2 + len(K):]]
        ipos = [o * st - pb + k * dl for o, st, pb, k, dl in zip(os_, strides, begin, ks, dil)]
        ok = np.ones(m.size, dtype=bool)
        for p, n in zip(ipos, S):
            ok &= (p >= 0) & (p < n)
        g = m // (Mo // group)
        nO, nS = int(np.prod(O, dtype=np.int64)), int(np.prod(S, dtype=np.int64))
        rows = m * nO + np.ravel_multi_index(tuple(o for o in os_), O) if O else m
        cols = (g * Cg + c) * nS + np.ravel_multi_index(tuple(np.where(ok, p, 0) for p in ipos), S)
        vals = Wt[(m, c, *ks)]
        M = np.zeros((Mo * nO, s[1] * nS))
        M[rows[ok], cols[ok]] = vals[ok]
        bias = None
        if self._opt(nd, 2) is not None:
            bias = exact_column(np.repeat(np.asarray(self._cval(nd.input[2]), dtype=np.float64), nO), self.node_label)
        self.linear(self.node_label, nd.output[0], (1, Mo, *O), [(x, exact_matrix(M, self.node_label))], bias)

    def _windows(self, nd: Any, a: dict[str, Any], x: str, K: Sequence[int]
                 ) -> tuple[list[tuple[int, ...]], tuple[int, ...], list[int]]:
        """Each output's window (its input elements inside the input), the output shape, and
        each window's size counting padded positions (for ``count_include_pad``)."""
        s = self.shape[x]
        O, strides, begin, dil, S = self._spatial(nd, a, x, K)
        nd_ = len(S)
        pads = [int(v) for v in a.get("pads", [0] * (2 * nd_))]
        end = [max(pads[d + nd_], 0) for d in range(nd_)]
        nS = int(np.prod(S, dtype=np.int64))
        C = s[1]
        wins: list[tuple[int, ...]] = []
        full: list[int] = []
        for c in range(C):
            for o in np.ndindex(*O):
                idx = []
                cnt = 0
                for k in np.ndindex(*K):
                    p = [oi * st - pb + ki * dl for oi, st, pb, ki, dl in zip(o, strides, begin, k, dil)]
                    if all(0 <= pi < n for pi, n in zip(p, S)):
                        idx.append(c * nS + int(np.ravel_multi_index(p, S)))
                    if all(-pb <= pi < n + pe for pi, n, pb, pe in zip(p, S, begin, end)):
                        cnt += 1
                wins.append(tuple(idx))
                full.append(cnt)
        return wins, (1, C, *O), full

    def op_MaxPool(self, nd: Any, a: dict[str, Any]) -> None:
        if len([o for o in nd.output if o]) > 1:
            raise self.fail("with an Indices output is not supported")
        x = nd.input[0]
        wins, shape, _ = self._windows(nd, a, x, [int(v) for v in a["kernel_shape"]])
        if any(not w for w in wins):
            raise self.fail("has a window that lies entirely in the padding")
        self.nonlinear(self.node_label, "max", x, nd.output[0], shape, windows=tuple(wins))

    def op_GlobalMaxPool(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        s = self.shape[x]
        per = int(np.prod(s[2:], dtype=np.int64))
        wins = tuple(tuple(range(c * per, (c + 1) * per)) for c in range(s[1]))
        self.nonlinear(self.node_label, "max", x, nd.output[0], (1, s[1], *([1] * (len(s) - 2))), windows=wins)

    def op_AveragePool(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        K = [int(v) for v in a["kernel_shape"]]
        wins, shape, full = self._windows(nd, a, x, K)
        include_pad = bool(int(a.get("count_include_pad", 0)))
        rows, cols, vals = [], [], []
        for r, w in enumerate(wins):
            if not w:
                raise self.fail("has a window that lies entirely in the padding")
            den = full[r] if include_pad else len(w)
            for j in w:
                rows.append(r)
                cols.append(j)
                vals.append(Fraction(1, den))
        M = exact_fraction_matrix(len(wins), self.size(x), rows, cols, vals)
        self.linear(self.node_label, nd.output[0], shape, [(x, M)])

    def op_GlobalAveragePool(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        s = self.shape[x]
        per = int(np.prod(s[2:], dtype=np.int64))
        rows = [c for c in range(s[1]) for _ in range(per)]
        cols = list(range(s[1] * per))
        M = exact_fraction_matrix(s[1], self.size(x), rows, cols, [Fraction(1, per)] * len(cols))
        self.linear(self.node_label, nd.output[0], (1, s[1], *([1] * (len(s) - 2))), [(x, M)])

    # -- piecewise-linear units ------------------------------------------------------------
    def op_Relu(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        self.nonlinear(self.node_label, "relu", x, nd.output[0], self.shape[x])

    def _leaky(self, nd: Any, slopes: np.ndarray) -> None:
        x = nd.input[0]
        fr = [Fraction(float(v)) for v in slopes]
        if any(v < 0 for v in fr):
            raise self.fail("with a negative slope is not supported")
        if all(v == 1 for v in fr):
            self._same(nd, self.shape[x])
            return
        op = "relu" if all(v == 0 for v in fr) else "leaky"
        self.nonlinear(self.node_label, op, x, nd.output[0], self.shape[x], slopes=tuple(fr))

    def op_LeakyRelu(self, nd: Any, a: dict[str, Any]) -> None:
        alpha = float(a.get("alpha", np.float32(0.01)))
        self._leaky(nd, np.full(self.size(nd.input[0]), alpha))

    def op_PRelu(self, nd: Any, a: dict[str, Any]) -> None:
        x = nd.input[0]
        if self.is_data(nd.input[1]):
            raise self.fail("with a data-dependent slope is not piecewise linear", NotPiecewiseLinearError)
        sl = np.asarray(self._cval(nd.input[1]), dtype=np.float64)
        s = self.shape[x]
        if sl.ndim == 1 and len(s) > 2 and sl.size == s[1]:  # per channel (a common export form)
            sl = sl.reshape(-1, *([1] * (len(s) - 2)))
        try:
            self._leaky(nd, np.broadcast_to(sl, s).ravel())
        except ValueError:
            raise self.fail(f"slope of shape {sl.shape} does not broadcast to {s}") from None

    def op_Clip(self, nd: Any, a: dict[str, Any]) -> None:
        """``clip(x, lo, hi) = lo + relu(x - lo) - relu(x - hi)``: two ReLU units per element."""
        x = nd.input[0]
        if "min" in a or "max" in a:  # opset < 11
            lo: float | None = float(a["min"]) if "min" in a else None
            hi: float | None = float(a["max"]) if "max" in a else None
        else:
            ln, hn = self._opt(nd, 1), self._opt(nd, 2)
            lo = float(np.asarray(self._cval(ln)).ravel()[0]) if ln else None
            hi = float(np.asarray(self._cval(hn)).ravel()[0]) if hn else None
        self._clip(nd, x, lo, hi)

    def _clip(self, nd: Any, x: str, lo: float | None, hi: float | None) -> None:
        s = self.shape[x]
        n = self.size(x)
        bounds = [v for v in (lo, hi) if v is not None and math.isfinite(v)]
        if not bounds:
            self._same(nd, s)
            return
        if lo is not None and hi is not None and lo > hi:
            raise self.fail(f"min {lo} is above max {hi}", InvalidNetworkError)
        # rows: x - lo (if lo), hi - x (if hi); y = lo + relu(x - lo) - relu(x - hi)
        #      written as y = hi - relu(hi - x) when only hi is finite.
        pre = self.new_name(nd.output[0] + ":pre")
        eye = np.arange(n)
        parts = []
        bias_parts = []
        if lo is not None and math.isfinite(lo):
            parts.append(np.ones(n))
            bias_parts.append(np.full(n, -lo))
        if hi is not None and math.isfinite(hi):
            parts.append(np.ones(n) if len(parts) else -np.ones(n))
            bias_parts.append(np.full(n, -hi) if len(bias_parts) else np.full(n, hi))
        k = len(parts)
        idx = np.concatenate([eye] * k)
        coef = np.concatenate(parts)
        self.linear(self.node_label, pre, (k * n,), [(x, self.gather(idx, n, coef))],
                    exact_column(np.concatenate(bias_parts), self.node_label))
        act = self.new_name(nd.output[0] + ":relu")
        self.nonlinear(self.node_label, "relu", pre, act, (k * n,))
        if k == 2:
            M = np.zeros((n, 2 * n))
            M[eye, eye] = 1.0
            M[eye, eye + n] = -1.0
            self.linear(self.node_label, nd.output[0], s, [(act, exact_matrix(M))],
                        exact_column(np.full(n, lo), self.node_label))
        elif lo is not None and math.isfinite(lo):
            self.linear(self.node_label, nd.output[0], s, [(act, self.gather(eye, n))],
                        exact_column(np.full(n, lo), self.node_label))
        else:
            assert hi is not None
            self.linear(self.node_label, nd.output[0], s, [(act, self.gather(eye, n, -np.ones(n)))],
                        exact_column(np.full(n, hi), self.node_label))

    def op_Relu6(self, nd: Any, a: dict[str, Any]) -> None:  # pragma: no cover - not an ONNX op
        self._clip(nd, nd.input[0], 0.0, 6.0)


def _batchnorm(gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
               eps: float) -> tuple[list[Fraction], list[Fraction]]:
    """The eval-mode fold ``y = s x + (beta - s mean)`` of BatchNormalization.

    ``s = gamma / sqrt(var + eps)`` is irrational in general. It is computed in float64 from the
    float parameters (each widened exactly to float64): ``s = fl(gamma / fl(sqrt(fl(var + eps))))``
    with IEEE round-to-nearest, and that float's exact binary value is used. The shift
    ``beta - s * mean`` is then computed exactly from the exact values. Against the true real
    fold, each ``s`` has a relative error below ``2**-51``; the folded network is an exact
    rational network thereafter.
    """
    with np.errstate(all="raise"):
        try:
            s = gamma / np.sqrt(var + eps)
        except FloatingPointError:
            raise InvalidNetworkError("BatchNormalization: var + epsilon is not positive") from None
    scale = [Fraction(float(v)) for v in s]
    shift = [Fraction(float(b)) - sc * Fraction(float(m)) for b, sc, m in zip(beta, scale, mean)]
    return scale, shift


def graph_from_onnx(model: Any, source: str = "model") -> PLGraph:
    """The :class:`PLGraph` of an in-memory ``onnx.ModelProto`` (``source`` names it in errors)."""
    return _Reader(model, source).read()
