"""The bundled digits models (scripts/train_digits.py): files agree with each other and with
onnxruntime, exactly where it matters."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from exactcells import load_network

DATA = Path(__file__).resolve().parent.parent / "exactcells" / "data"


def _plane() -> list[list[Fraction]]:
    pts = json.loads((DATA / "digits_plane.json").read_text())
    return [[Fraction(v) for v in p] for p in pts]


def test_plane_file_is_three_digit_images_in_the_unit_cube() -> None:
    P = _plane()
    assert len(P) == 3 and all(len(p) == 64 for p in P)
    assert all(0 <= v <= 1 and (16 * v).denominator == 1 for p in P for v in p)
    M = np.array([[float(v) for v in p] for p in P])
    assert np.linalg.matrix_rank(M[1:] - M[0]) == 2  # they span a plane


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_json_is_the_onnx_network_and_matches_onnxruntime(name: str) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = load_network(DATA / f"{name}.json")
    assert load_network(DATA / f"{name}.onnx") == net
    assert net.input_dim == 64 and net.output_dim == 10
    sess = ort.InferenceSession(str(DATA / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    for p in _plane():
        exact = np.array([float(v) for v in net.forward(p)])
        ref = sess.run(None, {"image": np.array([[float(v) for v in p]], dtype=np.float32)})[0][0]
        assert np.abs(exact - ref).max() < 1e-4
        assert int(np.argmax(exact)) == int(np.argmax(ref))
