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
from .graph import PLGraph, RawLayer, lower, raw_forward_float, raw_layers_to_dict

__all__ = [
    "load_onnx",
    "network_from_onnx",
    "network_from_module",
    "network_from_graph",
    "PLGraph",
    "RawLayer",
    "lower",
    "raw_forward_float",
    "raw_layers_to_dict",
]


def network_from_graph(g: PLGraph) -> Network:
    """The exact network of a :class:`PLGraph` (lowered to layers with units)."""
    from ..network import network_from_dict

    return network_from_dict(raw_layers_to_dict(lower(g)))


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
