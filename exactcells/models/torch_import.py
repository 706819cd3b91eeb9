"""PyTorch modules, exactly: exported to ONNX in memory, then read by :mod:`.onnx_import`.

Why export rather than ``torch.fx``: the ONNX exporter already resolves every way a module can
express the same operation (``nn.Flatten``, ``x.view(x.size(0), -1)``, ``torch.flatten``,
``F.relu``, ``torch.cat``, ``x + y``, ...) into a small set of ONNX operators with documented
semantics, so one operator table serves both front ends, and whatever a user can export they can
load. The cost is the ``onnx`` package (the exporter needs it anyway). Parameters are exported as
float32 initializers, bit for bit; the legacy TorchScript exporter is used (``dynamo=False``)
with ``training=EVAL`` and without constant folding, so BatchNormalization stays a node and is
folded here (see :func:`exactcells.models.onnx_import._batchnorm`).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any, cast

from ..errors import DependencyMissingError, InvalidNetworkError
from .graph import PLGraph
from .onnx_import import graph_from_onnx

__all__ = ["graph_from_module", "infer_input_shape"]


def infer_input_shape(module: Any) -> tuple[int, ...] | None:
    """``(1, in_features)`` when the first parameterised layer is ``nn.Linear``, else ``None``."""
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.Linear):
            return (1, int(m.in_features))
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return None
    return None


def graph_from_module(module: Any, input_shape: Sequence[int] | None = None,
                      source: str | None = None) -> PLGraph:
    """The exact :class:`PLGraph` of a PyTorch module (evaluated in eval mode).

    ``input_shape`` includes the batch dimension (1), e.g. ``(1, 1, 8, 8)``; it may be omitted
    when the module starts with ``nn.Linear``.
    """
    try:
        import onnx
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError(
            "converting a PyTorch module needs torch and onnx: pip install 'exactcells[models]'") from e
    name = source or type(module).__name__
    shape = tuple(int(v) for v in input_shape) if input_shape is not None else infer_input_shape(module)
    if shape is None:
        raise InvalidNetworkError(f"{name}: give input_shape (with batch 1, e.g. (1, 1, 8, 8)); "
                                  "it cannot be inferred from the first layer")
    was_training = module.training
    module.eval()
    buf = io.BytesIO()
    try:
        x = torch.zeros(shape, dtype=torch.float32)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter, on purpose
            torch.onnx.export(module, (x,), cast(Any, buf), dynamo=False, opset_version=17,
                              training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False,
                              input_names=["input"], output_names=["output"])
    except Exception as e:
        raise InvalidNetworkError(f"{name}: torch.onnx.export failed: {e}") from None
    finally:
        module.train(was_training)
    model = onnx.load_model_from_string(buf.getvalue())
    return graph_from_onnx(model, source=name)
