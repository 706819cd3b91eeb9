"""ONNX and PyTorch models beyond the MLP: the exact IR against torch and onnxruntime.

Every comparison evaluates the *exact* network (Fractions, ``Network.forward``) at random inputs
and compares with torch's and onnxruntime's float32 outputs within float error; the raw lowered
layers are also checked by an independent float64 evaluation of ``(W, b, units)``.
"""

from __future__ import annotations

import io
import json
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

from exactcells import InvalidNetworkError, load_network  # noqa: E402
from exactcells.errors import NotPiecewiseLinearError, UnsupportedOperatorError  # noqa: E402
from exactcells.models import network_from_module, network_from_onnx  # noqa: E402
from exactcells.models.graph import lower, raw_forward_float  # noqa: E402
from exactcells.models.onnx_import import MonotoneOutputWarning, _batchnorm, graph_from_onnx  # noqa: E402
from exactcells.models.torch_import import graph_from_module  # noqa: E402

HAS_UNITS = hasattr(__import__("exactcells.network", fromlist=["Unit"]), "Unit")


def _export(m: nn.Module, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    m.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(m, (torch.zeros(shape),), buf, dynamo=False, opset_version=17,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False,
                          input_names=["input"], output_names=["output"])
    return buf.getvalue()


def _ort(model_bytes: bytes, X: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x.reshape(shape).astype(np.float32)})[0].reshape(1, -1)
                           for x in X])


def _check(m: nn.Module, shape: tuple[int, ...], logits: Any = None, n: int = 6, seed: int = 0) -> Any:
    """Exact forward == torch == onnxruntime at random points (float error); returns the net."""
    m.eval()
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    X = rng.normal(size=(n, size))
    with torch.no_grad():
        f = logits or m
        ref = f(torch.tensor(X, dtype=torch.float32).reshape(n, *shape[1:])).reshape(n, -1).double().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MonotoneOutputWarning)
        g = graph_from_module(m, shape)
        raw = lower(g)
        mb = _export(m, shape)
        ort_out = _ort(mb, X, shape)
    scale = 1 + np.abs(ref).max()
    if logits is None:
        assert np.abs(ort_out - ref).max() <= 1e-4 * scale
    assert np.abs(raw_forward_float(raw, X) - ref).max() <= 1e-4 * scale
    if not HAS_UNITS:
        return raw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MonotoneOutputWarning)
        net = network_from_module(m, shape)
    for x, r, o in zip(X, ref, ort_out):
        exact = np.array([float(v) for v in net.forward([Fraction(float(v)) for v in x])])
        assert np.abs(exact - r).max() <= 1e-4 * scale
        if logits is None:
            assert np.abs(exact - o).max() <= 1e-4 * scale
    return net


def test_mlp_is_the_plain_network() -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 4), nn.ReLU(), nn.Linear(4, 3))
    raw = _check(m, (1, 5))
    if not HAS_UNITS:
        assert all(L.units is None for L in raw)
        return
    from exactcells.network import network_from_torch

    # exactly the float32 weights' binary values, plain ReLU layers
    assert raw.layers == network_from_torch(m).layers


class _CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2)
        self.mp = nn.MaxPool2d(2, stride=1)
        self.ap = nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False)
        self.fc = nn.Linear(6 * 4 * 4, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 2.0)
            self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x: Any) -> Any:
        y = torch.relu(self.bn(self.c1(x)))
        y = self.ap(self.mp(torch.relu(self.c2(y))))
        return self.fc(torch.flatten(y, 1))


def test_cnn_conv_bn_relu_maxpool_avgpool_linear() -> None:
    torch.manual_seed(1)
    net = _check(_CNN(), (1, 2, 8, 8))
    if HAS_UNITS:
        from exactcells.network import network_from_dict

        kinds = {u.kind for L in net.layers[:-1] for u in L.stage()}
        assert kinds == {"relu", "max"}
        assert network_from_dict(json.loads(net.to_json())) == net  # the JSON round-trips exactly


def test_conv1d_and_global_pools() -> None:
    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv1d(1, 3, 3, stride=2, padding=2, dilation=2), nn.BatchNorm1d(3), nn.ReLU(),
                      nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(3, 2))
    _check(m, (1, 1, 9))


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        h = torch.relu(self.a(x))
        return self.out(torch.relu(self.b(h) + x))


def test_residual_block_carries_the_skip_as_linear_units() -> None:
    torch.manual_seed(3)
    raw = _check(_Residual(), (1, 4))
    layers = raw if not HAS_UNITS else None
    if layers is None:
        layers = lower(graph_from_module(_Residual(), (1, 4)))
    first = layers[0]
    assert first.units is not None
    kinds = [u[0] for u in first.units]
    assert kinds == ["relu"] * 4 + ["linear"] * 4  # h's units, then x carried


def test_leaky_relu_slope_is_the_float32_binary_value() -> None:
    torch.manual_seed(4)
    m = nn.Sequential(nn.Linear(3, 5), nn.LeakyReLU(0.1), nn.Linear(5, 2))
    _check(m, (1, 3))
    g = graph_from_module(m, (1, 3))
    leaky = [nd for nd in g.nodes if nd.op == "leaky"]
    assert leaky and set(leaky[0].slopes) == {Fraction(float(np.float32(0.1)))}


class _Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(3, 2)
        self.out = nn.Linear(6, 2)

    def forward(self, x: Any) -> Any:
        return self.out(torch.cat([torch.relu(self.a(x)), nn.functional.leaky_relu(self.b(x), 0.25)], dim=1))


def test_concat_of_two_branches() -> None:
    torch.manual_seed(5)
    _check(_Concat(), (1, 3))


def test_final_softmax_is_dropped_with_a_warning() -> None:
    torch.manual_seed(6)
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    m = nn.Sequential(inner, nn.Softmax(dim=1))
    with pytest.warns(MonotoneOutputWarning, match="Softmax"):
        g = graph_from_module(m, (1, 3))
    assert any("monotone" in s for s in g.notes)
    _check(m, (1, 3), logits=inner)


def test_clip_and_relu6() -> None:
    torch.manual_seed(7)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU6(), nn.Linear(4, 4), nn.Hardtanh(-0.5, 0.5), nn.Linear(4, 1))
    _check(m, (1, 3), n=12)


def test_batchnorm_fold_is_the_float64_scale() -> None:
    g, b = np.array([1.5, 0.25]), np.array([0.1, -2.0])
    mu, v = np.array([0.3, 1.0]), np.array([2.0, 0.1])
    scale, shift = _batchnorm(g, b, mu, v, 1e-5)
    for k in range(2):
        s = g[k] / np.sqrt(v[k] + 1e-5)
        assert scale[k] == Fraction(float(s))
        assert shift[k] == Fraction(float(b[k])) - Fraction(float(s)) * Fraction(float(mu[k]))


# -- hand-written ONNX graphs ------------------------------------------------------------------


def _model(nodes: list[Any], inits: list[Any], in_shape: list[Any], out_shape: list[Any],
           opset: int = 13) -> Any:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("transB", [0, 1])
@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, 2.0)])
def test_gemm_variants_match_onnxruntime(transB: int, alpha: float, beta: float) -> None:
    rng = np.random.default_rng(8)
    B = rng.normal(size=(3, 4) if transB else (4, 3)).astype(np.float32)
    C = rng.normal(size=(3,)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "B", "C"], ["h"], transB=transB, alpha=alpha, beta=beta),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["y"])]
    inits = [numpy_helper.from_array(B, "B"), numpy_helper.from_array(C, "C"),
             numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")]
    model = _model(nodes, inits, ["N", 4], ["N", 3])
    X = rng.normal(size=(5, 4))
    ref = _ort(model.SerializeToString(), X, (1, 4))
    raw = lower(graph_from_onnx(model))
    assert np.abs(raw_forward_float(raw, X) - ref).max() < 1e-5
    if HAS_UNITS:
        net = network_from_onnx(model)
        Bt = B.T if transB else B
        x = [Fraction(1, 3), Fraction(-2), Fraction(0), Fraction(5, 7)]
        h = [Fraction(float(alpha)) * sum((x[i] * Fraction(float(Bt[i, j])) for i in range(4)), Fraction(0))
             + Fraction(float(beta)) * Fraction(float(C[j])) for j in range(3)]
        assert net.forward(x) == tuple(max(v, Fraction(0)) for v in h)  # exact, not approximately


def test_old_opset_reshape_attribute_and_gemm_broadcast() -> None:
    rng = np.random.default_rng(9)
    B = rng.normal(size=(4, 2)).astype(np.float32)
    C = rng.normal(size=(2,)).astype(np.float32)
    nodes = [helper.make_node("Reshape", ["x"], ["f"], shape=[1, 4]),
             helper.make_node("Gemm", ["f", "B", "C"], ["y"], broadcast=1)]
    model = _model(nodes, [numpy_helper.from_array(B, "B"), numpy_helper.from_array(C, "C")],
                   [1, 2, 2], [1, 2], opset=4)
    raw = lower(graph_from_onnx(model))
    X = rng.normal(size=(3, 4))
    assert np.allclose(raw_forward_float(raw, X), X @ B.astype(float) + C, atol=1e-12)


def _tanh_model() -> Any:
    W = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="MatMul_0"),
             helper.make_node("Tanh", ["h"], ["y"], name="Tanh_3")]
    return _model(nodes, [W], [1, 2], [1, 2])


def test_not_piecewise_linear_is_refused_with_file_node_and_op(tmp_path: Path) -> None:
    p = tmp_path / "model.onnx"
    p.write_bytes(_tanh_model().SerializeToString())
    with pytest.raises(NotPiecewiseLinearError) as e:
        load_network(p)
    assert str(e.value) == f"{p}: node 'Tanh_3' (Tanh) is not piecewise linear"
    assert isinstance(e.value, InvalidNetworkError)


def test_unsupported_op_is_refused(tmp_path: Path) -> None:
    nodes = [helper.make_node("CumSum", ["x", "ax"], ["y"], name="cs")]
    model = _model(nodes, [numpy_helper.from_array(np.array(1, dtype=np.int64), "ax")], [1, 3], [1, 3])
    p = tmp_path / "m.onnx"
    p.write_bytes(model.SerializeToString())
    with pytest.raises(UnsupportedOperatorError, match=r"m\.onnx: node 'cs' \(CumSum\) is not supported"):
        load_network(p)


def test_product_of_two_data_tensors_is_not_piecewise_linear() -> None:
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"], name="sq")]
    with pytest.raises(NotPiecewiseLinearError, match="node 'sq' \\(Mul\\) multiplies two data tensors"):
        graph_from_onnx(_model(nodes, [], [1, 2], [1, 2]), "m.onnx")


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff" * 10, b'{"layers": []}'])
def test_a_file_that_is_not_a_model_is_refused_in_one_line(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(InvalidNetworkError) as e:
        load_network(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: not an ONNX model") and "\n" not in msg


def test_cli_refuses_a_tanh_model_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from exactcells.cli import main

    p = tmp_path / "model.onnx"
    p.write_bytes(_tanh_model().SerializeToString())
    assert main(["cells", str(p), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"exactcells: error: {p}: node 'Tanh_3' (Tanh) is not piecewise linear"


class _Pools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(1, 3, 2, padding=1)
        self.pr = nn.PReLU(3)
        self.ap = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
        self.mp = nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)
        self.fc = nn.Linear(3 * 3 * 3 + 3 * 3 * 3, 2)
        with torch.no_grad():
            self.pr.weight.copy_(torch.tensor([0.0, 0.25, 2.0]))

    def forward(self, x: Any) -> Any:
        y = self.pr(self.c(x))
        a = self.mp(self.ap(y)).flatten(1)
        b = nn.functional.hardtanh(y.transpose(2, 3)[:, :, 1:4, ::2], -0.5, 0.75).flatten(1)
        return self.fc(torch.cat([a, b], 1))


def test_prelu_ceil_mode_pools_count_include_pad_transpose_slice() -> None:
    torch.manual_seed(9)
    m = _Pools()
    _check(m, (1, 1, 5, 5), n=8)


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_opset_variants_of_squeeze_clip_slice_match_onnxruntime(opset: int) -> None:
    rng = np.random.default_rng(opset)
    B = rng.normal(size=(4, 6)).astype(np.float32)
    inits = [numpy_helper.from_array(B, "B")]
    nodes = [helper.make_node("MatMul", ["x", "B"], ["h"])]
    if opset >= 13:
        inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "ax"))
        nodes.append(helper.make_node("Unsqueeze", ["h", "ax"], ["u"]))
        nodes.append(helper.make_node("Squeeze", ["u", "ax"], ["s"]))
    else:
        nodes.append(helper.make_node("Unsqueeze", ["h"], ["u"], axes=[0]))
        nodes.append(helper.make_node("Squeeze", ["u"], ["s"], axes=[0]))
    if opset >= 11:
        inits += [numpy_helper.from_array(np.array(-0.5, dtype=np.float32), "lo"),
                  numpy_helper.from_array(np.array(0.75, dtype=np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["s", "lo", "hi"], ["c"]))
    else:
        nodes.append(helper.make_node("Clip", ["s"], ["c"], min=-0.5, max=0.75))
    if opset >= 10:
        inits += [numpy_helper.from_array(np.array([1], dtype=np.int64), n) for n in ("st", "axs")]
        inits.append(numpy_helper.from_array(np.array([5], dtype=np.int64), "en"))
        nodes.append(helper.make_node("Slice", ["c", "st", "en", "axs"], ["y"]))
    else:
        nodes.append(helper.make_node("Slice", ["c"], ["y"], starts=[1], ends=[5], axes=[1]))
    model = _model(nodes, inits, [1, 4], [1, 4], opset=opset)
    X = rng.normal(size=(20, 4))
    ref = _ort(model.SerializeToString(), X, (1, 4))
    raw = lower(graph_from_onnx(model))
    assert np.abs(raw_forward_float(raw, X) - ref).max() < 1e-5
    net = network_from_onnx(model)
    assert net.num_hidden == 2 * 6  # Clip: two ReLU entries per element
    for x, r in zip(X[:5], ref):
        assert np.abs(np.array([float(v) for v in net.forward([Fraction(float(v)) for v in x])]) - r).max() < 1e-5


def test_gemm_with_the_data_as_b_and_transA() -> None:
    rng = np.random.default_rng(10)
    A = rng.normal(size=(4, 3)).astype(np.float32)  # transA: A' is 3 x 4
    nodes = [helper.make_node("Gemm", ["A", "x"], ["h"], transA=1, transB=1, alpha=0.75),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Flatten", ["r"], ["y"], axis=0)]
    model = _model(nodes, [numpy_helper.from_array(A, "A")], [1, 4], [1, 3])
    X = rng.normal(size=(6, 4))
    ref = _ort(model.SerializeToString(), X, (1, 4))
    net = network_from_onnx(model)
    for x, r in zip(X, ref):
        exact = net.forward([Fraction(float(v)) for v in x])
        assert np.abs(np.array([float(v) for v in exact]) - r).max() < 1e-5
        expect = [max(Fraction(3, 4) * sum((Fraction(float(A[i, j])) * Fraction(float(x[i])) for i in range(4)),
                                           Fraction(0)), Fraction(0)) for j in range(3)]
        assert list(exact) == expect


def test_cli_builds_the_complex_of_an_onnx_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from exactcells import Domain, build_complex
    from exactcells.cli import main

    torch.manual_seed(11)
    m = nn.Sequential(nn.Linear(2, 6), nn.LeakyReLU(0.5), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1))
    p = tmp_path / "small.onnx"
    p.write_bytes(_export(m, (1, 2)))
    assert main(["cells", str(p), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    K = build_complex(load_network(p), Domain.box(2), progress=False)
    assert tuple(out["f_vector"]) == K.f_vector and K.num_regions > 1
