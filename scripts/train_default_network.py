"""Regenerate exactcells/data/default_network.json: a small 2-D classifier trained with numpy.

Task: two interleaved half-moons in [-1, 1]^2 (seeded). Architecture 2-8-8-1, full-batch Adam on
the logistic loss. The float64 weights are written as decimal strings with 6 significant digits,
which exactcells reads exactly; the network is small on purpose (a few hundred regions), so that
`exactcells analyze` with no argument finishes in seconds.

    python scripts/train_default_network.py [--force]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def moons(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = rng.uniform(0, np.pi, n)
    half = n // 2
    x = np.empty((n, 2))
    x[:half] = np.c_[np.cos(t[:half]), np.sin(t[:half])]
    x[half:] = np.c_[1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])]
    x += rng.normal(0, 0.08, x.shape)
    x = (x - [0.5, 0.25]) / 1.6
    y = np.r_[np.ones(half), np.zeros(n - half)]
    return x, y


def train(seed: int = 0, widths: tuple[int, ...] = (2, 8, 8, 1), steps: int = 3000) -> list:
    rng = np.random.default_rng(seed)
    X, y = moons(rng, 400)
    params = []
    for a, b in zip(widths[:-1], widths[1:]):
        params.append([rng.normal(0, np.sqrt(2 / a), (b, a)), np.zeros(b)])
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    lr, b1, b2 = 0.01, 0.9, 0.999
    for step in range(1, steps + 1):
        acts = [X]
        for i, (W, b) in enumerate(params):
            z = acts[-1] @ W.T + b
            acts.append(np.maximum(z, 0) if i < len(params) - 1 else z)
        logit = acts[-1][:, 0]
        p = 1 / (1 + np.exp(-logit))
        g = ((p - y) / len(y))[:, None]
        for i in range(len(params) - 1, -1, -1):
            W, b = params[i]
            gW, gb = g.T @ acts[i], g.sum(0)
            if i > 0:
                g = (g @ W) * (acts[i] > 0)
            for k, gr in enumerate((gW, gb)):
                m[i][k] = b1 * m[i][k] + (1 - b1) * gr
                v[i][k] = b2 * v[i][k] + (1 - b2) * gr**2
                mh = m[i][k] / (1 - b1**step)
                vh = v[i][k] / (1 - b2**step)
                params[i][k] = params[i][k] - lr * mh / (np.sqrt(vh) + 1e-8)
    acc = float(((logit > 0) == (y > 0.5)).mean())
    print(f"training accuracy {acc:.3f}")
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = Path(__file__).resolve().parents[1] / "exactcells" / "data" / "default_network.json"
    if out.exists() and not args.force:
        raise SystemExit(f"{out} exists; pass --force to regenerate it")
    params = train()
    doc = {
        "description": "2-8-8-1 ReLU classifier of two half-moons in [-1, 1]^2 "
        "(scripts/train_default_network.py, seed 0); weights are exact decimals",
        "layers": [
            {"W": [[f"{w:.6g}" for w in row] for row in W], "b": [f"{x:.6g}" for x in b]}
            for W, b in params
        ],
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
