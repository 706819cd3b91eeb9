"""The exact complex of models read from ONNX/PyTorch, on 2-D slices.

* A CNN without pooling (Conv with stride, padding, dilation - ReLU - Linear) read from torch is
  a plain ReLU network; written independently as a dense MLP (the convolution expanded by hand,
  loop by loop, here) it gives *the identical complex*, cell by cell.
* CNNs with max-pooling, BatchNorm, a residual block: the complex passes every exact invariant
  (conftest.check_complex) and every sampled point's exact sign vector is one of its cells.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from torch import nn  # noqa: E402

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict  # noqa: E402
from exactcells.models import network_from_module  # noqa: E402
from exactcells.network import Layer, Network  # noqa: E402


def _slice(net: Network, P: list[list[Fraction]]) -> Network:
    """``(s, t) -> net(p0 + s (p1 - p0) + t (p2 - p0))``, exactly (units of layer 0 kept)."""
    d1 = [a - b for a, b in zip(P[1], P[0])]
    d2 = [a - b for a, b in zip(P[2], P[0])]
    L0 = net.layers[0]
    W = tuple((sum((w * x for w, x in zip(row, d1)), Fraction(0)), sum((w * x for w, x in zip(row, d2)), Fraction(0)))
              for row in L0.W)
    b = tuple(bj + sum((w * x for w, x in zip(row, P[0])), Fraction(0)) for row, bj in zip(L0.W, L0.b))
    return Network((Layer(W, b, L0.units),) + net.layers[1:])


def _points(n: int, seed: int) -> list[list[Fraction]]:
    rng = np.random.default_rng(seed)
    return [[Fraction(int(v), 8) for v in rng.integers(-8, 9, n)] for _ in range(3)]


def _conv_by_hand(w: np.ndarray, H: int, Wd: int, stride: int, pad: int, dil: int) -> tuple[list[list[float]], int, int]:
    """The dense matrix of a single-input-channel Conv2d, written out loop by loop."""
    Co, _, kh, kw = w.shape
    Ho = (H + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    Wo = (Wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    M = [[0.0] * (H * Wd) for _ in range(Co * Ho * Wo)]
    for co in range(Co):
        for oy in range(Ho):
            for ox in range(Wo):
                r = (co * Ho + oy) * Wo + ox
                for ky in range(kh):
                    for kx in range(kw):
                        iy, ix = oy * stride - pad + ky * dil, ox * stride - pad + kx * dil
                        if 0 <= iy < H and 0 <= ix < Wd:
                            M[r][iy * Wd + ix] = float(w[co, 0, ky, kx])
    return M, Ho, Wo


def test_cnn_slice_is_the_complex_of_the_same_net_written_as_a_dense_mlp(
        assert_same_complex: Callable[[PolyhedralComplex, PolyhedralComplex], None]) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1, dilation=2)
    m = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3), nn.ReLU(), nn.Linear(3, 2))
    net = network_from_module(m, (1, 1, 5, 5))
    assert net.is_plain and net.hidden_widths == (8, 3)
    w = conv.weight.detach().double().numpy()
    M, Ho, Wo = _conv_by_hand(w, 5, 5, 2, 1, 2)
    assert (Ho, Wo) == (2, 2)
    cb = conv.bias.detach().double().numpy()
    lin1, lin2 = m[3], m[5]
    dense = network_from_dict({"layers": [
        {"W": M, "b": [float(cb[r // (Ho * Wo)]) for r in range(len(M))]},
        {"W": lin1.weight.detach().double().numpy().tolist(), "b": lin1.bias.detach().double().numpy().tolist()},
        {"W": lin2.weight.detach().double().numpy().tolist(), "b": lin2.bias.detach().double().numpy().tolist()},
    ]})
    assert dense == net  # exactly the same weights
    P = _points(25, 1)
    dom = Domain.box(2, -2, 3)
    K1 = build_complex(_slice(net, P), dom, progress=False)
    K2 = build_complex(_slice(dense, P), dom, progress=False)
    assert K1.num_regions > 3
    assert_same_complex(K1, K2)


class _PoolNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 2)
        self.bn = nn.BatchNorm2d(2)
        self.pool = nn.MaxPool2d(2, stride=1)
        self.a = nn.Linear(8, 4)
        self.b = nn.Linear(4, 8)
        self.out = nn.Linear(8, 2)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x: Any) -> Any:
        y = torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1)
        y = nn.functional.leaky_relu(self.b(torch.relu(self.a(y))), 0.125) + y  # a residual block
        return self.out(y)


def _engine_takes_units() -> bool:
    net = network_from_dict({"layers": [{"W": [[1], [-1]], "b": [0, 0], "units": [["max", [0, 1]]]},
                                        {"W": [[1]], "b": [0]}]})
    try:
        build_complex(net, Domain.box(1), progress=False)
    except NotImplementedError:
        return False
    return True


def test_cnn_with_maxpool_batchnorm_and_residual_slice(assert_complex_ok: Callable[..., None]) -> None:
    if not _engine_takes_units():
        pytest.skip("the engine does not build networks with units yet")
    torch.manual_seed(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = network_from_module(_PoolNet(), (1, 1, 4, 4))
    kinds = {u.kind for L in net.layers[:-1] for u in L.stage()}
    assert {"relu", "max", "leaky", "linear"} <= kinds
    P = _points(16, 3)
    net2 = _slice(net, P)
    dom = Domain.box(2, -1, 2)
    K = build_complex(net2, dom, progress=False)
    assert_complex_ok(K)
    # sampling: every sampled point's exact sign vector is a cell (a region almost surely)
    rng = np.random.default_rng(4)
    regions = set(range(K.regions().start, K.regions().stop))
    seen = set()
    for _ in range(300):
        x = [Fraction(int(v), 1 << 12) for v in rng.integers(-(1 << 12), 2 << 12, 2)]
        i = K.index_of(net2.hidden_signs(x) + dom.facet_signs(x))
        seen.add(i)
        assert i in regions
    assert len(seen) <= K.num_regions
