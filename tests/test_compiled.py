"""The compiled passes (exactcells._cutc) against the numpy passes they replace.

The build must give the identical lattice with and without the extension: the same cells with
the same ids, sign rows, padded facet rows and vertex creation records (so the same complex,
cell by cell, and the same exact coordinates). The float filter's compiled signs and crossings
must decide exactly what the numpy filter decides, with bit-identical float data. The tests
load the extension directly, so they compare both paths even under ``EXACTCELLS_NO_EXT=1``;
they skip when the extension is not built (``python setup.py build_ext --inplace``).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import same_complex
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, kernel_module, unit_networks

from exactcells import build as B
from exactcells.domain import Domain
from exactcells.kernel import VertexStore
from exactcells.network import Network, network_from_dict

REPO = Path(__file__).resolve().parents[1]


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("exactcells._cutc")
    except ImportError:
        return None


EXT = _load()
pytestmark = pytest.mark.skipif(EXT is None, reason="the compiled extension is not built "
                                "(python setup.py build_ext --inplace)")


def lattice(net: Network, domain: Domain, refine: str | None = None) -> B.Lattice:
    lat = B.domain_lattice(domain, B._num_columns(net, refine), net)
    return B._refine(lat, net, refine)


def assert_same_lattice(L1: B.Lattice, L2: B.Lattice) -> None:
    """The same cells with the same ids, dims, sign rows, facet rows and vertex records."""
    N = L1.num_cells()
    assert N == L2.num_cells()
    assert L1.dim == L2.dim
    assert L1.by_dim == L2.by_dim
    assert np.array_equal(L1.sig[:N], L2.sig[:N])
    assert np.array_equal(L1.pos[:N], L2.pos[:N])
    assert np.array_equal(L1.cvid[:N], L2.cvid[:N])
    for k in range(1, L1.n + 1):
        P1, P2 = L1.padv(k), L2.padv(k)
        assert P1.shape == P2.shape
        assert np.array_equal(P1, P2)
    s1, s2 = L1.store, L2.store
    assert s1.size == s2.size
    for name in ("pa", "pb", "fn"):
        assert np.array_equal(getattr(s1, name)[: s1.size], getattr(s2, name)[: s2.size])
    assert s1.fns == s2.fns
    verts = L1.by_dim[0]
    assert L1.vertex_coords(verts) == L2.vertex_coords(verts)


def compare(d: dict[str, Any], n: int, refine: str | None = None, domain: Domain | None = None) -> None:
    net = network_from_dict(d)
    dom = domain or Domain.box(n)
    with kernel_module("EXT", EXT):
        L1 = lattice(net, dom, refine)
        K1 = B.build_complex(net, dom, with_output=refine is not None, refine=refine)
    with kernel_module("EXT", None):
        L2 = lattice(net, dom, refine)
        K2 = B.build_complex(net, dom, with_output=refine is not None, refine=refine)
    assert_same_lattice(L1, L2)
    same_complex(K1, K2)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@examples(25)
@given(data=st.data())
def test_identical_lattices_on_small_integer_networks(n: int, data: st.DataObject) -> None:
    """Small integer weights: coincident, opposite, dead and identically-zero neurons, pencils
    of lines and planes through one point, zero sets through vertices and along facets."""
    width = 4 if n <= 2 else 3
    d = data.draw(integer_networks(n, max_depth=3 if n <= 2 else 2, max_width=width, weight=2))
    compare(d, n)


@examples(20)
@given(d=integer_networks(2, max_depth=2, max_width=4, weight=2, outputs=3))
def test_identical_lattices_with_the_argmax(d: dict[str, Any]) -> None:
    compare(d, 2, "argmax")


@examples(20)
@given(d=unit_networks(2, outputs=2))
def test_identical_lattices_with_units_and_zero_sets_of_outputs(d: dict[str, Any]) -> None:
    compare(d, 2, "zero")


@examples(10)
@given(d=unit_networks(3, max_depth=1, outputs=3))
def test_identical_lattices_with_units_in_3d(d: dict[str, Any]) -> None:
    compare(d, 3, "argmax")


DEGENERATE = {
    "pencil of four lines through the origin": {"layers": [
        {"W": [[1, 0], [0, 1], [1, 1], [1, -1]], "b": [0, 0, 0, 0]}, {"W": [[1, 1, 1, 1]], "b": [0]}]},
    "coincident, opposite and dead neurons": {"layers": [
        {"W": [[1, 2], [1, 2], [-1, -2], [0, 0], [0, 0]], "b": [1, 1, -1, -1, 0]},
        {"W": [[1, 1, 1, 1, 1], [1, -1, 0, 0, 0]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]},
    "zero sets through the corners": {"layers": [
        {"W": [[1, 1], [1, -1]], "b": [0, 0]}, {"W": [[1, -1], [1, 1]], "b": [0, -2]},
        {"W": [[1, 1]], "b": [0]}]},
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_identical_lattices_on_degenerate_networks(name: str) -> None:
    compare(DEGENERATE[name], 2)
    compare(DEGENERATE[name], 2, "zero")


def test_identical_lattices_on_a_pencil_of_planes_in_4d() -> None:
    d = {"layers": [{"W": [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]],
                     "b": [0, 0, 0, 0, 0]}, {"W": [[1, -1, 1, 1, -1]], "b": [0]}]}
    compare(d, 4)


def test_identical_lattices_on_a_triangle_domain() -> None:
    triangle = Domain([[-1, 0], [0, -1], [1, 1]], [0, 0, 1])  # x, y >= 0, x + y <= 1
    compare({"layers": [{"W": [[1, -1], [2, 1], [1, 1]], "b": ["-1/3", "-1/2", -1]},
                        {"W": [[1, 1, 1]], "b": [0]}]}, 2, domain=triangle)


@pytest.mark.parametrize("name", ["A", "C", "D"])
def test_identical_complexes_on_benchmark_networks(name: str) -> None:
    from exactcells import load_network

    path = next((REPO / "benchmarks" / "networks").glob(f"{name}_*.json"))
    net = load_network(path)
    with kernel_module("EXT", EXT):
        L1 = lattice(net, Domain.box(net.input_dim))
    with kernel_module("EXT", None):
        L2 = lattice(net, Domain.box(net.input_dim))
    assert_same_lattice(L1, L2)


# -- the float filter, pass by pass ---------------------------------------------------------

def _store(rng: np.random.Generator, size: int = 40) -> tuple[VertexStore, np.ndarray]:
    """A store at layer 0 of a network whose four first-layer rows feed one max unit (so they
    share one integer scale and differences of rows are meaningful), with ``size`` exact roots."""
    net = network_from_dict({"layers": [{"W": [[1, 2], [-3, 1], [1, 1], [2, -1]], "b": [0, "1/3", -1, "1/7"],
                                         "units": [["max", [0, 1, 2, 3]]]},
                                        {"W": [[1]], "b": [0]}]})
    store = VertexStore(net, 2)
    pts = [(int(a), int(b), int(c)) for a, b, c in zip(rng.integers(-50, 50, size), rng.integers(-50, 50, size),
                                                       rng.integers(1, 20, size))]
    vids = store.add_roots(pts)
    store.transition(vids, 0)
    return store, vids


def _adversarial(store: VertexStore, rng: np.random.Generator) -> None:
    """Overwrite the float data with values the bound must handle: exact zeros, values at the
    bound, tiny and huge magnitudes, infinities and NaNs (the exact path answers for those)."""
    Z, R = store.Z[: store.size], store.R[: store.size]
    m = Z.shape
    pick = rng.integers(0, 9, m)
    Z[pick == 0] = 0.0
    R[pick == 0] = 0.0
    R[pick == 1] = np.abs(Z[pick == 1])  # the bound equals the value: undecided
    R[pick == 2] = np.nextafter(np.abs(Z[pick == 2]), 0.0)
    Z[pick == 3] = np.inf
    R[pick == 4] = np.nan
    Z[pick == 5] *= 1e-310
    R[pick == 6] = np.inf


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("minus", [-1, 2])
def test_compiled_signs_decide_what_the_numpy_filter_decides(seed: int, minus: int) -> None:
    rng = np.random.default_rng(seed)
    store, vids = _store(rng)
    _adversarial(store, rng)
    results = []
    for ext in (EXT, None):
        s = copy.deepcopy(store)
        asked: list[int] = []
        orig = s.exact_values

        def record(v: np.ndarray, orig: Any = orig, asked: list[int] = asked) -> list[np.ndarray]:
            asked.extend(v.tolist())
            return orig(v)

        s.exact_values = record  # type: ignore[method-assign]
        with kernel_module("EXT", ext):
            out = s.signs(vids, 1, minus)
        results.append((out.tolist(), asked, s.decided, s.fallback))
    assert results[0] == results[1]
    assert results[0][3] > 0  # the adversarial values reached the exact path


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("minus", [-1, 3])
def test_compiled_crossings_are_bit_identical(seed: int, minus: int) -> None:
    rng = np.random.default_rng(seed)
    store, vids = _store(rng, 60)
    with kernel_module("EXT", None):
        sg = store.signs(vids, 0, minus)
    P, Q = vids[sg > 0], vids[sg < 0]
    k = min(P.size, Q.size)
    assert k > 0
    P, Q = rng.permutation(P)[:k], rng.permutation(Q)[:k]
    if seed % 2:  # some ends with NaN or infinite bounds: those crossings go to the exact path
        store.R[P[::3], 1] = np.nan
        store.R[Q[::4], 0] = np.inf
    out = []
    for ext in (EXT, None):
        s = copy.deepcopy(store)
        with kernel_module("EXT", ext):
            new = s.cross(P, Q, 0, minus)
        out.append((new, s.Z[new].copy(), s.R[new].copy(), sorted(v for v in s.exact if v >= new[0])))
    (n1, Z1, R1, e1), (n2, Z2, R2, e2) = out
    assert np.array_equal(n1, n2)
    assert e1 == e2
    # the crossings the filter placed: bit for bit, signed zeros too (any NaN for a NaN); those
    # of the exact path get float data from a layer step (sequential sums in the compiled one,
    # BLAS in numpy's: the same bound, not always the same last bits)
    filt = ~np.isin(n1, e1)
    assert filt.sum() > 0
    for A1, A2 in ((Z1[filt], Z2[filt]), (R1[filt], R2[filt])):
        assert np.array_equal(np.isnan(A1), np.isnan(A2))
        ok = ~np.isnan(A1)
        assert np.array_equal(A1[ok].view(np.int64), A2[ok].view(np.int64))
    assert seed % 2 == 0 or (len(e1) > 0 and np.isnan(R1[filt]).any())  # the NaNs took effect


def test_a_nan_bound_is_not_an_exact_zero() -> None:
    """Products of 10^300 overflow the float network (inf - inf = NaN, then inf * 0 = NaN in
    the next layer's bound): the bound NaN must send the sign to the exact path, which sees
    that the last hidden neuron is the constant 1 (positive everywhere), not 0."""
    d = {"layers": [{"W": [[10**300], [10**300]], "b": [0, 0]},
                    {"W": [[10**300, -(10**300) + 1]], "b": [0]},
                    {"W": [[0]], "b": [1]},
                    {"W": [[1]], "b": [0]}]}
    net = network_from_dict(d)
    for ext in (EXT, None):
        with kernel_module("EXT", ext):
            K = B.build_complex(net)
        assert (K.signs[:, 3] == 1).all(), K.signs
    compare(d, 1)


def test_the_environment_variable_switches_the_extensions_off() -> None:
    """``EXACTCELLS_NO_EXT=1`` switches off both compiled modules (the cut and the GMP module)."""
    code = ("from exactcells import kernel; "
            "print(kernel.EXT is None, kernel.compiled_passes() is None, kernel.GMP is None)")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    gmp_absent = importlib.util.find_spec("exactcells._exactc") is None
    for value, expect in (("1", "True True True"), ("0", f"False False {gmp_absent}")):
        env["EXACTCELLS_NO_EXT"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True, cwd=REPO)
        assert out.stdout.strip() == expect


@pytest.mark.parametrize("seed", range(4))
def test_packed_keys_sort_like_the_byte_rows(seed: int) -> None:
    """The canonical order from packed keys and the radix sort equals numpy's sort of the rows
    ``(dimension, codes...)`` as byte strings; ties (repeated rows) keep their order."""
    assert EXT is not None
    rng = np.random.default_rng(seed)
    N = int(rng.integers(1, 3000))
    K = [1, 28, 29, 150][seed]  # 28 codes and the dimension fill one word exactly
    base = rng.integers(0, 3, (max(1, N // 7), K)).astype(np.int8)  # many shared prefixes, repeats
    sig = np.ascontiguousarray(base[rng.integers(0, base.shape[0], N)])
    sig[:, -1:] = rng.integers(0, 3, (N, 1))
    dims = rng.integers(0, 5, N).astype(np.int8)
    cols = rng.permutation(K).astype(np.int64)
    keys = np.ascontiguousarray(np.concatenate([dims[:, None], sig[:, cols]], axis=1))
    want = np.argsort(keys.view(np.dtype((np.void, K + 1))).ravel(), kind="stable")
    words = EXT.pack_keys(dims, sig, cols)
    assert words.shape == (N, (8 + 2 * K + 63) // 64)
    got = EXT.sort_keys(words)
    assert np.array_equal(got, want)
    assert np.array_equal(EXT.gather_signs(sig, got, cols), sig[got][:, cols] - 1)


@pytest.mark.parametrize("seed", range(4))
def test_dense_layer_step_is_the_general_one(seed: int) -> None:
    """With no weight 0, the step's shortcut for the eta term (some term kept) gives the same
    bits as counting the non-zero weights of the kept terms; rows whose terms are all exactly 0
    with bound 0 (dead ReLUs) get no eta either way, and a zero bias then leaves them 0."""
    assert EXT is not None
    rng = np.random.default_rng(seed)
    B_, m, w = 50, 7, 5
    post = rng.normal(size=(B_, m))
    Rp = np.abs(rng.normal(size=(B_, m))) * 1e-14
    dead = rng.random((B_, m)) < [0.2, 0.5, 0.9, 1.0][seed]
    post[dead] = 0.0
    Rp[dead] = 0.0
    W = rng.normal(size=(m, w))
    absW = np.abs(W) * 1.0000001
    bias = np.where(rng.random(w) < 0.5, 0.0, rng.normal(size=w))
    cb = np.where(bias != 0, 1e-16 * np.abs(bias) + 2.0**-1000, 0.0)
    nzW = (W != 0).astype(np.float64)
    Z1, R1 = EXT.layer_step(post, Rp, W, absW, bias, cb, nzW, 1e-15, 1.0 + 2.0**-40, 2.0**-1000)
    Z2, R2 = EXT.layer_step(post, Rp, W, absW, bias, cb, nzW, 1e-15, 1.0 + 2.0**-40, 2.0**-1000, True)
    assert np.array_equal(Z1.view(np.int64), Z2.view(np.int64))
    assert np.array_equal(R1.view(np.int64), R2.view(np.int64))
    if seed == 3:  # every term dead: exact zeros where the bias is 0
        assert (R2[:, bias == 0] == 0).all()


@pytest.mark.parametrize("seed", range(3))
def test_wide_keys_sort_like_lexsort(seed: int) -> None:
    """Keys of three words or more (radix by the first word, then runs merged): numpy's stable
    lexsort order, with long runs of equal first words, repeated rows and empty input."""
    assert EXT is not None
    rng = np.random.default_rng(seed)
    for _ in range(40):
        N = int(rng.integers(0, 2000))
        W = int(rng.integers(3, 7))
        base = rng.integers(0, 4, (max(1, N // 5), W)).astype(np.uint64) << rng.integers(0, 62, (1, W)).astype(np.uint64)
        base[:, 0] &= np.uint64(3)  # few distinct first words: long runs
        words = np.ascontiguousarray(base[rng.integers(0, base.shape[0], N)]).reshape(N, W)
        got = EXT.sort_keys(words)
        assert np.array_equal(got, np.lexsort(words.T[::-1]) if N else np.zeros(0, dtype=np.int64))
