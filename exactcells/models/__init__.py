"""Piecewise-linear models beyond the multilayer perceptron, exactly.

ONNX files (:func:`load_onnx`) and PyTorch modules (:func:`network_from_module`) built from
affine maps (Linear/Gemm/MatMul, Conv, folded BatchNorm, AveragePool, Add, Concat, reshapes)
and piecewise-linear units (ReLU, LeakyReLU, PReLU, Clip, MaxPool) become an exact
:class:`~exactcells.network.Network` in the layered IR (``units`` per layer). See
:mod:`exactcells.models.graph` for the lowering and the README for the operator table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..network import Network
from .graph import PLGraph, RawLayer, lower, raw_forward_float

__all__ = [
    "load_onnx",
    "network_from_onnx",
    "network_from_module",
    "network_from_graph",
    "network_from_raw",
    "PLGraph",
    "RawLayer",
    "lower",
    "raw_forward_float",
]


def network_from_raw(layers: Sequence[RawLayer]) -> Network:
    """The exact :class:`~exactcells.network.Network` of lowered layers."""
    from fractions import Fraction

    from ..network import Layer, Unit

    def frac(e: Any) -> Fraction:
        return Fraction(int(e.p), int(e.q))

    out = []
    for L in layers:
        c = L.W.ncols()
        e = [frac(x) for x in L.W.entries()]
        W = tuple(tuple(e[i * c:(i + 1) * c]) for i in range(L.W.nrows()))
        b = tuple(frac(x) for x in L.b.entries())
        units = None if L.units is None else tuple(Unit(k, inp, s) for k, inp, s in L.units)
        out.append(Layer(W, b, units))
    return Network(tuple(out))


def network_from_graph(g: PLGraph) -> Network:
    """The exact network of a :class:`PLGraph` (lowered to layers with units)."""
    return network_from_raw(lower(g))


def load_onnx(path: str | Path) -> Network:
    """Read an ONNX file into an exact network (errors name the file, the node and the op)."""
    from .onnx_import import load_onnx_graph

    return network_from_graph(load_onnx_graph(path))


def network_from_onnx(model: Any, source: str = "model") -> Network:
    """The exact network of an in-memory ``onnx.ModelProto``."""
    from .onnx_import import graph_from_onnx

    return network_from_graph(graph_from_onnx(model, source))


def network_from_module(module: Any, input_shape: Sequence[int] | None = None) -> Network:
    """The exact network of a PyTorch module (exported to ONNX in memory; see
    :mod:`exactcells.models.torch_import`). ``input_shape`` includes the batch dimension 1."""
    from .torch_import import graph_from_module

    return network_from_graph(graph_from_module(module, input_shape))
