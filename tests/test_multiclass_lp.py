"""The argmax complex against independent derivations: one top cell per (region, class) pair
whose class set has interior (an LP per pair, its point verified exactly), and class volumes
against uniform sampling."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from argmax_helpers import argmax_complex
from scipy.optimize import linprog

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.dual import region_argmax_volumes
from exactcells.network import Network

BOX = Domain.box(2, -1, 1)


def net_of(seed: int, k: int, hidden: int = 5) -> Network:
    rng = np.random.default_rng(100 + seed)
    return network_from_dict({"layers": [
        {"W": rng.integers(-4, 5, size=(hidden, 2)).tolist(),
         "b": [f"{v}/3" for v in rng.integers(-3, 4, size=hidden)]},
        {"W": rng.integers(-3, 4, size=(k, hidden)).tolist(),
         "b": [f"{v}/2" for v in rng.integers(-2, 3, size=k)]}]})


def local_forms(net: Network, pattern: tuple[int, ...]) -> tuple[list, list]:
    """Per hidden neuron and per output, the exact affine form (a, c) on the pattern's region,
    from the weights alone (ReLU passes +1, stops -1 and 0)."""
    n = net.input_dim
    A = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    c = [Fraction(0)] * n
    hidden = []
    pos = 0
    layers = net.layers
    for li, L in enumerate(layers):
        zA = [[sum((w * A[k][j] for k, w in enumerate(row)), Fraction(0)) for j in range(n)] for row in L.W]
        zc = [sum((w * c[k] for k, w in enumerate(row)), b) for row, b in zip(L.W, L.b)]
        if li == len(layers) - 1:
            return hidden, list(zip(zA, zc))
        hidden += list(zip(zA, zc))
        for i in range(len(zA)):
            if pattern[pos + i] <= 0:
                zA[i], zc[i] = [Fraction(0)] * n, Fraction(0)
        pos += len(zA)
        A, c = zA, zc
    raise AssertionError


def pair_has_interior(net: Network, pattern: tuple[int, ...], j: int) -> bool:
    hidden, outs = local_forms(net, pattern)
    n = net.input_dim
    rows, rhs = [], []
    # variables (x, t); maximize t; constraints written as G [x, t] <= h
    for s, (a, c) in zip(pattern, hidden):
        if s != 0:  # s (a x + c) >= t
            rows.append([-s * float(v) for v in a] + [1.0])
            rhs.append(s * float(c))
    for arow, cv in zip(BOX.A, BOX.c):
        rows.append([float(v) for v in arow] + [1.0])
        rhs.append(float(cv))
    aj, cj = outs[j]
    for i, (ai, ci) in enumerate(outs):
        if i != j:  # (a_j - a_i) x + (c_j - c_i) >= t
            rows.append([-(float(p) - float(q)) for p, q in zip(aj, ai)] + [1.0])
            rhs.append(float(cj) - float(ci))
    res = linprog([0.0] * n + [-1.0], A_ub=rows, b_ub=rhs, bounds=[(None, None)] * n + [(None, 1.0)],
                  method="highs")
    assert res.status == 0
    t = -res.fun
    if t > 1e-7:  # verify the point exactly: it lies strictly inside the pair's set
        x = tuple(Fraction(float(v)) for v in res.x[:n])
        assert net.hidden_signs(x) == pattern
        assert all(s > 0 for s in BOX.facet_signs(x))
        F = net.forward(x)
        assert all(F[j] > F[i] for i in range(len(F)) if i != j)
        return True
    assert t < 1e-9, f"ambiguous LP optimum {t}"
    return False


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", range(4))
def test_top_cells_are_the_region_class_pairs_with_interior(seed: int, k: int) -> None:
    net = net_of(seed, k)
    R = argmax_complex(net, BOX)
    K = build_complex(net, BOX)
    nh = net.num_hidden
    count = sum(pair_has_interior(net, K.sign_vector(r)[:nh], j) for r in K.regions() for j in range(k))
    assert R.num_regions == count
    # and every top cell of R has one maximizer, lying in a region of K
    out = R.sign_slices()["outputs"]
    for r in R.regions():
        assert sum(1 for s in R.sign_vector(r)[out] if s == 0) == 1


def sample_classes(net: Network, n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))
    return np.argmax(net.forward_float(X), axis=1)


@pytest.mark.parametrize("k", [2, 3])
def test_class_volumes_against_sampling(k: int) -> None:
    net = net_of(7, k, hidden=6)
    K: PolyhedralComplex = build_complex(net, BOX)
    R = argmax_complex(net, BOX)
    cv = region_argmax_volumes(K, R)
    exact = [float(sum((v[j] for v in cv), Fraction(0)) / 4) for j in range(k)]
    assert sum(exact) == pytest.approx(1.0, abs=1e-15)
    N = 20000
    freq = np.bincount(sample_classes(net, N, 1), minlength=k) / N
    for p, f in zip(exact, freq):
        assert abs(f - p) <= 4.5 * np.sqrt(p * (1 - p) / N) + 1e-12
    # the argmax complex's own volumes add up per class to the same numbers
    own = region_argmax_volumes(R)
    assert [sum((v[j] for v in own), Fraction(0)) for j in range(k)] == \
        [sum((v[j] for v in cv), Fraction(0)) for j in range(k)]
