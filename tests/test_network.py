"""Networks: exact loading (JSON, NPZ, state_dict, PyTorch), passes, export, and bad input.

Every bad input must raise an :class:`ExactCellsError` subclass (also the fitting builtin)
whose one-line message names the problem (and, for shapes, the layer and the expected shape).
"""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactcells import (
    ExactCellsError,
    InvalidNetworkError,
    Network,
    NonRationalInputError,
    load_network,
    network_from_arrays,
    network_from_dict,
    network_from_torch,
    round_network,
    save_network,
)
from exactcells.errors import OutputExistsError
from exactcells.numbers import format_rational, to_rational

F = Fraction
EXAMPLE = {"layers": [{"W": [[1, "-3/2"], [0.25, "0.1"]], "b": [0, "1/3"]},
                      {"W": [[1, -1]], "b": ["0"]}]}


def _write(tmp_path: Path, obj: Any, name: str = "net.json") -> Path:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return p


# -- numbers ---------------------------------------------------------------------------------

def test_numbers_are_read_exactly() -> None:
    net = network_from_dict(EXAMPLE)
    (W0, b0), (W1, b1) = ((L.W, L.b) for L in net.layers)
    assert W0 == ((F(1), F(-3, 2)), (F(1, 4), F(1, 10)))
    assert b0 == (F(0), F(1, 3)) and W1 == ((F(1), F(-1)),) and b1 == (F(0),)
    assert all(type(v) is Fraction for L in net.layers for row in L.W for v in row)


@pytest.mark.parametrize("text, value", [
    ("0.1", F(1, 10)), ("-3/2", F(-3, 2)), ("6/4", F(3, 2)), ("1e-3", F(1, 1000)),
    ("-0.125", F(-1, 8)), ("7", F(7)), (" 2 ", F(2)), ("2.5E2", F(250)),
])
def test_strings_are_exact(text: str, value: Fraction) -> None:
    assert to_rational(text) == value
    assert network_from_dict({"layers": [{"W": [[text]], "b": [0]}]}).layers[0].W[0][0] == value


def test_floats_are_taken_as_their_exact_binary_value() -> None:
    net = network_from_dict({"layers": [{"W": [[0.1]], "b": [0.5]}]})
    assert net.layers[0].W[0][0] == F(3602879701896397, 36028797018963968) == F(0.1)
    assert net.layers[0].W[0][0] != F(1, 10)
    assert net.layers[0].b[0] == F(1, 2)
    # float32 values (as numpy produces them) are exact too
    w32 = np.float32(0.1)
    assert to_rational(w32) == F(float(w32)) == F(13421773, 134217728)


def test_format_rational_inverts_to_rational() -> None:
    for x in (F(0), F(-7), F(1, 3), F(-22, 7), F(0.1)):
        assert to_rational(format_rational(x)) == x


# -- bad input in the dict / JSON ------------------------------------------------------------

BAD_NETWORKS: list[tuple[str, Any, type[ExactCellsError], list[str]]] = [
    ("top-level list", [], InvalidNetworkError, ["JSON object"]),
    ("no layers key", {"weights": []}, InvalidNetworkError, ["'layers'"]),
    ("layers not a list", {"layers": {}}, InvalidNetworkError, ["'layers'", "list"]),
    ("empty network", {"layers": []}, InvalidNetworkError, ["no layers"]),
    ("layer not an object", {"layers": [[1, 2]]}, InvalidNetworkError, ["layer 0"]),
    ("missing W", {"layers": [{"b": [0]}]}, InvalidNetworkError, ["layer 0", "'W'"]),
    ("missing b", {"layers": [{"W": [[1, 1]]}, {"W": [[1]], "b": [0]}]}, InvalidNetworkError,
     ["layer 0", "'b'"]),
    ("missing b in layer 1", {"layers": [{"W": [[1, 1]], "b": [0]}, {"W": [[1]]}]},
     InvalidNetworkError, ["layer 1", "'b'"]),
    ("zero-width layer", {"layers": [{"W": [], "b": []}, {"W": [[1]], "b": [0]}]},
     InvalidNetworkError, ["layer 0", "zero-width"]),
    ("zero-width middle layer", {"layers": [{"W": [[1, 2]], "b": [0]}, {"W": [], "b": []},
                                            {"W": [[1]], "b": [0]}]},
     InvalidNetworkError, ["layer 1", "zero-width"]),
    ("rows of length 0", {"layers": [{"W": [[]], "b": [0]}]}, InvalidNetworkError,
     ["layer 0", "length 0"]),
    ("ragged W", {"layers": [{"W": [[1, 2], [3]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]},
     InvalidNetworkError, ["layer 0", "ragged", "row 1"]),
    ("b too short", {"layers": [{"W": [[1, 0], [0, 1]], "b": [0]}, {"W": [[1, 1]], "b": [0]}]},
     InvalidNetworkError, ["layer 0", "b has 1", "2 rows"]),
    ("b too long", {"layers": [{"W": [[1, 0]], "b": [0, 0]}, {"W": [[1]], "b": [0]}]},
     InvalidNetworkError, ["layer 0", "b has 2"]),
    ("layer shapes mismatch", {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
                                          {"W": [[1, 1, 1]], "b": [0]}]},
     InvalidNetworkError, ["layer 1", "(1, 3)", "expected shape (1, 2)"]),
    ("mismatch in a deep layer", {"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1], [2]], "b": [0, 0]},
                                             {"W": [[1, 1, 1], [1, 1, 1]], "b": [0, 0]},
                                             {"W": [[1, 1]], "b": [0]}]},
     InvalidNetworkError, ["layer 2", "expected shape (2, 2)"]),
    ("W not a list", {"layers": [{"W": "abc", "b": [0]}]}, InvalidNetworkError, ["layer 0", "W"]),
    ("row not a list", {"layers": [{"W": ["12"], "b": [0]}]}, InvalidNetworkError, ["layer 0", "W[0]"]),
    ("b not a list", {"layers": [{"W": [[1]], "b": 0}]}, InvalidNetworkError, ["layer 0", "b"]),
    ("NaN", {"layers": [{"W": [[float("nan"), 1]], "b": [0]}]}, NonRationalInputError,
     ["layer 0, W[0][0]", "not finite"]),
    ("infinity in b", {"layers": [{"W": [[1, 1]], "b": [float("inf")]}]}, NonRationalInputError,
     ["layer 0, b[0]", "not finite"]),
    ("'nan' string", {"layers": [{"W": [[1, "nan"]], "b": [0]}]}, NonRationalInputError,
     ["layer 0, W[0][1]"]),
    ("'-Infinity' string", {"layers": [{"W": [[1, 1]], "b": ["-Infinity"]}]}, NonRationalInputError,
     ["layer 0, b[0]"]),
    ("non-numeric string", {"layers": [{"W": [[1, 1]], "b": [0]}, {"W": [["abc"]], "b": [0]}]},
     NonRationalInputError, ["layer 1, W[0][0]", "'abc'"]),
    ("empty string", {"layers": [{"W": [[""]], "b": [0]}]}, NonRationalInputError, ["layer 0"]),
    ("division by zero", {"layers": [{"W": [["1/0"]], "b": [0]}]}, NonRationalInputError, ["'1/0'"]),
    ("hex string", {"layers": [{"W": [["0x10"]], "b": [0]}]}, NonRationalInputError, ["'0x10'"]),
    ("boolean", {"layers": [{"W": [[True]], "b": [0]}]}, NonRationalInputError, ["boolean"]),
    ("null", {"layers": [{"W": [[None]], "b": [0]}]}, NonRationalInputError, ["None"]),
    ("nested list as a number", {"layers": [{"W": [[[1]]], "b": [0]}]}, NonRationalInputError,
     ["layer 0, W[0][0]"]),
]


@pytest.mark.parametrize("what, d, err, words", BAD_NETWORKS, ids=[c[0] for c in BAD_NETWORKS])
def test_bad_network_dicts(what: str, d: Any, err: type[ExactCellsError], words: list[str]) -> None:
    with pytest.raises(err) as info:
        network_from_dict(d)
    msg = str(info.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
    # each error is also the fitting builtin
    assert isinstance(info.value, ValueError if err is InvalidNetworkError else TypeError)


@pytest.mark.parametrize("what, d, err, words", BAD_NETWORKS, ids=[c[0] for c in BAD_NETWORKS])
def test_bad_network_files_name_the_file(tmp_path: Path, what: str, d: Any, err: type[ExactCellsError],
                                         words: list[str]) -> None:
    # NaN and infinity are written as the JSON extensions NaN / Infinity, which json accepts
    p = _write(tmp_path, d)
    with pytest.raises(err) as info:
        load_network(p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("text", ['{"layers": [', '{"layers": [}', "", "not json", '{"layers": [1,]}'])
def test_malformed_json(tmp_path: Path, text: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(InvalidNetworkError, match="malformed JSON") as info:
        load_network(p)
    assert str(p) in str(info.value) and "line" in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidNetworkError, match="no such file"):
        load_network(tmp_path / "missing.json")
    with pytest.raises(InvalidNetworkError):
        load_network(tmp_path)  # a directory
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"layers": "\xff\xfe"}')
    with pytest.raises(InvalidNetworkError, match="cannot read"):
        load_network(p)


# -- the network object ----------------------------------------------------------------------

def test_network_is_immutable_and_comparable() -> None:
    net = network_from_dict(EXAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.layers = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.layers[0].W = ()  # type: ignore[misc]
    assert net == network_from_dict(json.loads(json.dumps(EXAMPLE)))
    assert hash(net) == hash(network_from_dict(EXAMPLE))
    assert net.input_dim == 2 and net.output_dim == 1 and net.hidden_widths == (2,)
    assert net.num_hidden == 2 and net.architecture == "2-2-1"
    assert net.neuron_labels() == [(0, 0), (0, 1)]


def test_network_constructor_checks_shapes() -> None:
    from exactcells.network import Layer

    with pytest.raises(InvalidNetworkError, match="no layers"):
        Network(())
    with pytest.raises(InvalidNetworkError, match="layer 1"):
        Network((Layer(((F(1),),), (F(0),)), Layer(((F(1), F(1)),), (F(0),))))
    with pytest.raises(NonRationalInputError):
        Network((Layer(((0.5,),), (F(0),)),))  # type: ignore[arg-type]


def test_exact_forward_pass_and_signs() -> None:
    net = network_from_dict(EXAMPLE)
    x = (F(1, 2), F(-1, 3))
    # z = (1/2 + 1/2 + 0, 1/8 - 1/30 + 1/3) = (1, 17/40); output = 1 - 17/40 = 23/40
    assert net.pre_activations(x) == [(F(1), F(17, 40)), (F(23, 40),)]
    assert net.forward(x) == (F(23, 40),)
    assert net.hidden_signs(x) == (1, 1)
    assert net.hidden_signs(("-1/2", 0)) == (-1, 1)
    assert net.hidden_signs((F(3, 2), 1)) == (0, 1)  # 3/2 - 3/2 = 0 exactly
    assert net.output_signs(x) == (1,)
    with pytest.raises(InvalidNetworkError, match="coordinates"):
        net.forward((1, 2, 3))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(-4, 4), min_size=3, max_size=3), min_size=1, max_size=3),
       st.lists(st.fractions(-2, 2, max_denominator=7), min_size=2, max_size=2))
def test_float_pass_approximates_the_exact_pass(rows: list[list[int]], x: list[Fraction]) -> None:
    net = network_from_dict({"layers": [{"W": [r[:2] for r in rows], "b": [r[2] for r in rows]},
                                        {"W": [[1] * len(rows), [-1] * len(rows)], "b": ["1/3", 0]}]})
    exact = net.forward(x)
    approx = net.forward_float(np.array([[float(v) for v in x]]))
    assert approx.shape == (1, 2)
    assert approx[0].tolist() == pytest.approx([float(v) for v in exact], abs=1e-12)


@st.composite
def _rational_networks(draw: st.DrawFn) -> tuple[Network, list[Fraction]]:
    """Networks with small rational weights (widths 2-(1..3)x(1..3)-1) and a rational point."""
    widths = [2] + draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)) + [1]
    size = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    nums = draw(st.lists(st.integers(-6, 6), min_size=size + 2, max_size=size + 2))
    dens = draw(st.lists(st.integers(1, 5), min_size=size + 2, max_size=size + 2))
    vals = [F(p, q) for p, q in zip(nums, dens)]
    layers, k = [], 0
    for a, b in zip(widths[:-1], widths[1:]):
        W = [[str(vals[k + i * a + j]) for j in range(a)] for i in range(b)]
        k += a * b
        layers.append({"W": W, "b": [str(v) for v in vals[k : k + b]]})
        k += b
    x = [v / 6 for v in vals[k : k + 2]]
    return network_from_dict({"layers": layers}), x


@settings(max_examples=40, deadline=None)
@given(_rational_networks())
def test_integer_layers_are_sign_equivalent(case: tuple[Network, list[Fraction]]) -> None:
    """integer_layers() rescales each neuron by a positive factor: every hidden sign is kept."""
    net, x = case
    ints = net.integer_layers()
    a = list(x)
    signs = []
    for li, (W, b) in enumerate(ints):
        assert all(isinstance(v, int) for row in W for v in row) and all(isinstance(v, int) for v in b)
        z = [sum((w * v for w, v in zip(row, a)), F(bj)) for row, bj in zip(W, b)]
        if li < len(ints) - 1:
            signs += [(v > 0) - (v < 0) for v in z]
        a = [max(v, F(0)) for v in z]
    assert tuple(signs) == net.hidden_signs(x)


# -- export, rounding ------------------------------------------------------------------------

def test_to_dict_round_trip_is_exact() -> None:
    net = network_from_dict({"layers": [{"W": [[0.1, "1/3"], [-2, "1e-9"]], "b": [0.7, "-5/6"]},
                                        {"W": [[1, 1]], "b": [0]}]})
    d = net.to_dict()
    assert all(isinstance(v, str) for L in d["layers"] for row in L["W"] for v in row)
    assert network_from_dict(d) == net
    assert network_from_dict(json.loads(net.to_json())) == net
    assert "rounding" not in d


def test_save_and_load_network(tmp_path: Path) -> None:
    net = network_from_dict(EXAMPLE)
    p = tmp_path / "out.json"
    save_network(net, p)
    assert load_network(p) == net
    with pytest.raises(OutputExistsError, match="exists"):
        save_network(net, p)
    save_network(round_network(net, 2), p, force=True)
    assert load_network(p) == round_network(net, 2)
    assert [q.name for q in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_rounding_is_opt_in_and_recorded() -> None:
    net = network_from_dict({"layers": [{"W": [[0.1, math.pi]], "b": [F(1, 3)]}, {"W": [[1]], "b": [0]}]})
    assert net.rounding is None
    r = round_network(net, 10)
    assert r.layers[0].W[0] == (F(1, 10), F(22, 7)) and r.layers[0].b == (F(1, 3),)
    assert r.rounding is not None and "10" in r.rounding
    assert r.to_dict()["rounding"] == r.rounding
    assert network_from_dict(r.to_dict()).rounding == r.rounding
    rr = round_network(r, 3)
    assert rr.rounding is not None and rr.rounding.startswith(r.rounding)
    with pytest.raises(ValueError):
        round_network(net, 0)


def test_rounding_is_recorded_in_the_complex() -> None:
    from exactcells import build_complex

    K = build_complex(round_network(network_from_dict(EXAMPLE), 100))
    assert K.summary()["rounding"] == K.network.rounding is not None


# -- NPZ, state_dict, PyTorch ----------------------------------------------------------------

def test_npz_loader(tmp_path: Path) -> None:
    W0 = np.array([[1.5, -2.0], [0.1, 3.0]])
    W1 = np.array([[1, -1]], dtype=np.int64)
    p = tmp_path / "net.npz"
    np.savez(p, W0=W0, b0=np.array([0.25, -1.0]), W1=W1, b1=np.array([0]), extra=np.zeros(3))
    net = load_network(p)
    assert net.layers[0].W == ((F(3, 2), F(-2)), (F(0.1), F(3)))
    assert net.layers[1].W == ((F(1), F(-1)),)
    assert net == network_from_arrays([(W0, [0.25, -1.0]), (W1, [0])])
    assert net.layers[0].W[1][0] != F(1, 10)  # float64 0.1 is taken exactly


@pytest.mark.parametrize("arrays, err, words", [
    ({"W0": np.ones((2, 2)), "b0": np.zeros(2), "W1": np.ones((1, 2))}, InvalidNetworkError, ["b1"]),
    ({"weights": np.ones((2, 2))}, InvalidNetworkError, ["W0"]),
    ({"W0": np.ones((2, 2)), "b0": np.array([0.0, np.nan])}, NonRationalInputError, ["layer 0, b[1]"]),
    ({"W0": np.array([[np.inf, 1.0]]), "b0": np.zeros(1)}, NonRationalInputError, ["not finite"]),
    ({"W0": np.array([["a", "b"]]), "b0": np.zeros(1)}, NonRationalInputError, ["numeric"]),
    ({"W0": np.ones((2, 3)), "b0": np.zeros(2), "W1": np.ones((1, 3)), "b1": np.zeros(1)},
     InvalidNetworkError, ["layer 1", "expected shape (1, 2)"]),
    ({"W0": np.ones((0, 2)), "b0": np.zeros(0)}, InvalidNetworkError, ["layer 0", "zero-width"]),
    ({"W0": np.ones(3), "b0": np.zeros(1)}, InvalidNetworkError, ["layer 0", "2-D"]),
])
def test_npz_bad_input(tmp_path: Path, arrays: dict[str, np.ndarray], err: type[ExactCellsError],
                       words: list[str]) -> None:
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)  # type: ignore[arg-type]
    with pytest.raises(err) as info:
        load_network(p)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_npz_garbage_and_pickles_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "garbage.npz"
    p.write_bytes(b"this is not a zip file")
    with pytest.raises(InvalidNetworkError, match="NPZ"):
        load_network(p)


def test_npz_object_arrays_are_refused_cleanly(tmp_path: Path) -> None:
    q = tmp_path / "objects.npz"
    np.savez(q, W0=np.array([[F(1, 3)]], dtype=object), b0=np.zeros(1))
    with pytest.raises(ExactCellsError):
        load_network(q)  # object arrays need pickle, which is never enabled


def test_state_dict_of_arrays_in_numeric_layer_order() -> None:
    # keys as nn.Sequential names them; "10" must come after "2" (numeric, not string, order)
    sd = {
        "10.weight": np.array([[1.0, 2.0]]), "10.bias": np.array([0.5]),
        "0.weight": np.array([[1.0, 0.0], [0.0, 1.0]]), "0.bias": np.array([0.0, 0.0]),
        "2.weight": np.array([[1.0, -1.0], [2.0, 0.0]]), "2.bias": np.array([0.0, -1.0]),
    }
    net = network_from_torch(sd)
    assert net.architecture == "2-2-2-1"
    assert net.layers[1].W == ((F(1), F(-1)), (F(2), F(0)))
    assert net.layers[2].b == (F(1, 2),)
    with pytest.raises(InvalidNetworkError, match="weight"):
        network_from_torch({"foo": np.zeros(2)})


def test_pytorch_sequential_and_file(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    net = network_from_torch(model)
    assert net.architecture == "2-3-2-1"
    w = model[0].weight.detach().numpy()  # float32, taken exactly
    assert net.layers[0].W[0][0] == F(float(w[0, 0]))
    assert net == network_from_torch(model.state_dict())
    X = np.array([[0.3, -0.7], [0.9, 0.1]])
    with torch.no_grad():
        y = model(torch.tensor(X, dtype=torch.float64).float()).double().numpy()
    assert net.forward_float(X) == pytest.approx(y, abs=1e-5)
    p = tmp_path / "model.pt"
    torch.save(model, p)
    # a whole pickled module needs the full unpickler: refused unless trusted explicitly
    with pytest.raises(InvalidNetworkError, match="trust-pickle"):
        load_network(p)
    assert load_network(p, trust=True) == net
    q = tmp_path / "state.pth"
    torch.save(model.state_dict(), q)
    assert load_network(q) == net
    with pytest.raises(InvalidNetworkError, match="Linear"):
        network_from_torch(nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    with pytest.raises(InvalidNetworkError, match="ends with ReLU"):
        network_from_torch(nn.Sequential(nn.Linear(2, 1), nn.ReLU()))
    with pytest.raises(InvalidNetworkError, match="Sequential"):
        network_from_torch(nn.Linear(2, 1))


def test_format_rational_writes_integers_of_any_size() -> None:
    # exact volumes can have more digits than Python's default int-to-str limit (4300)
    from exactcells.numbers import format_rational, to_rational

    x = F(10**5000 + 1, 3**7000)
    text = format_rational(x)
    assert len(text) > 8000 and to_rational(text) == x
