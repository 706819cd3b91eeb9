"""Train the bundled digits models (scikit-learn's 8x8 handwritten digits; no download).

Writes into ``exactcells/data/`` (or ``--out DIR``):

* ``digits_mlp.onnx`` / ``digits_mlp.json``: a 64-32-32-10 ReLU MLP;
* ``digits_cnn.onnx`` / ``digits_cnn.json``: Conv2d(1->4, 3x3) - ReLU - MaxPool(2x2) - Linear(36->10);
* ``digits_plane.json``: three test images (64-D points, pixels scaled to [0, 1]) that span a plane.

The JSON files are the exact networks read back from the ONNX files by ``exactcells.models``
(every float32 weight as its exact binary value); the script checks that each JSON round-trips
and that the exact network's predictions agree with torch on the whole test set. Seeded and
deterministic on CPU: ``python scripts/train_digits.py [--out DIR] [--epochs E]``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

SEED = 0
DATA = Path(__file__).resolve().parent.parent / "exactcells" / "data"


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixel values 0..16 -> [0, 1]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=SEED, stratify=y)
    return Xtr, Xte, ytr.astype(np.int64), yte.astype(np.int64)


def _models() -> tuple[Any, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    mlp = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    cnn = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    return mlp, cnn


def _train(model: Any, Xtr: np.ndarray, ytr: np.ndarray, epochs: int) -> None:
    import torch

    g = torch.Generator().manual_seed(SEED)
    X = torch.tensor(Xtr)
    y = torch.tensor(ytr)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(model(X[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float((model(torch.tensor(X)).argmax(1).numpy() == y).mean())


def _onnx_bytes(model: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 64),), buf, dynamo=False, opset_version=17,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args(argv)
    import torch

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    from exactcells.models import load_onnx
    from exactcells.network import load_network, save_network

    Xtr, Xte, ytr, yte = _data()
    mlp, cnn = _models()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, model in (("digits_mlp", mlp), ("digits_cnn", cnn)):
        _train(model, Xtr, ytr, args.epochs)
        acc_tr, acc_te = _accuracy(model, Xtr, ytr), _accuracy(model, Xte, yte)
        onnx_path = args.out / f"{name}.onnx"
        onnx_path.write_bytes(_onnx_bytes(model))
        net = load_onnx(onnx_path)
        json_path = args.out / f"{name}.json"
        save_network(net, json_path, force=True)
        json_path.chmod(0o644)
        if load_network(json_path) != net:
            raise SystemExit(f"{json_path}: the JSON does not round-trip")
        # the exact network's class (floats would do; this checks the IR against torch)
        F = net.forward_float(Xte.astype(np.float64))
        agree = float((F.argmax(1) == _predict(model, Xte)).mean())
        report[name] = {"architecture": net.architecture, "sign_entries": net.num_hidden,
                        "train_accuracy": round(acc_tr, 4), "test_accuracy": round(acc_te, 4),
                        "exact_vs_torch_test_argmax_agreement": agree}
        print(f"{name}: {net.architecture} ({net.num_hidden} sign entries), train accuracy {acc_tr:.4f}, "
              f"test accuracy {acc_te:.4f}, exact network agrees with torch on {agree:.4f} of the test set",
              file=sys.stderr)
    # three test images of three different classes, classified correctly by both models
    picks: list[int] = []
    seen: set[int] = set()
    pm, pc = _predict(mlp, Xte), _predict(cnn, Xte)
    for i in range(len(Xte)):
        if yte[i] in (0, 3, 7) and yte[i] not in seen and pm[i] == yte[i] and pc[i] == yte[i]:
            picks.append(i)
            seen.add(int(yte[i]))
    plane = [[str(Fraction(float(v)).limit_denominator(16)) for v in Xte[i]] for i in picks]
    assert all(Fraction(p) * 16 == int(Fraction(p) * 16) for row in plane for p in row)  # k/16 exactly
    (args.out / "digits_plane.json").write_text(json.dumps(plane) + "\n", encoding="utf-8")
    report["plane"] = {"test_indices": picks, "labels": [int(yte[i]) for i in picks]}
    print(json.dumps(report, indent=1))
    return 0


def _predict(model: Any, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.tensor(X)).argmax(1).numpy()


if __name__ == "__main__":
    raise SystemExit(main())
