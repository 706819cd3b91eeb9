"""Fiedler values and vectors: closed forms on the dual graphs of parallel lines and grids,
solvers that agree, weighted forms that reduce to the plain one, errors and warnings."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg

from exactcells import Domain, build_complex, network_from_dict
from exactcells.dual import dual_graph
from exactcells.spectral import (
    DisconnectedGraphError,
    FiedlerGapWarning,
    SpectralError,
    adjacency_matrix,
    dual_fiedler,
    fiedler,
    fiedler_components,
    incidence_matrix,
    laplacian,
    node_weights,
    normalized_laplacian,
)

F = Fraction
BOX = Domain.box(2, -1, 1)


def lines(rows: list[list[object]]) -> object:
    return network_from_dict({"layers": [{"W": [r[:2] for r in rows], "b": [r[2] for r in rows]},
                                         {"W": [[1] * len(rows)], "b": [0]}]})


def parallel(k: int, spacing: list[Fraction] | None = None) -> object:
    cs = spacing or [F(-1) + F(2 * i, k) for i in range(1, k)]
    return dual_graph(build_complex(lines([[1, 0, -c] for c in cs]), BOX))


def grid(a: int, b: int) -> object:
    xs = [F(-1) + F(2 * i, a) for i in range(1, a)]
    ys = [F(-1) + F(2 * j, b) for j in range(1, b)]
    return dual_graph(build_complex(lines([[1, 0, -x] for x in xs] + [[0, 1, -y] for y in ys]), BOX))


def path_vector(k: int) -> np.ndarray:
    v = np.cos(np.pi * (np.arange(k) + 0.5) / k)
    return v / np.linalg.norm(v)


def assert_up_to_sign(u: np.ndarray, v: np.ndarray, tol: float = 1e-7) -> None:
    s = 1.0 if float(u @ v) >= 0 else -1.0
    assert np.allclose(s * u, v, atol=tol)


# -- closed forms ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 4, 7, 12])
def test_parallel_lines_fiedler_value(k: int) -> None:
    G = parallel(k)
    r = fiedler(adjacency_matrix(G))
    assert r.value == pytest.approx(2 * (1 - np.cos(np.pi / k)), abs=1e-12)
    assert r.method == "dense" and r.problem == "combinatorial"
    assert r.residual < 1e-10
    # nodes run left to right; the Fiedler vector of a path is cos(pi (i + 1/2) / k)
    assert_up_to_sign(r.vector, path_vector(k))
    # fixed sign convention: the first (non-negligible) entry is positive
    assert np.allclose(r.vector, path_vector(k), atol=1e-8)
    if k > 2:
        assert r.eigenvalues[1] == pytest.approx(2 * (1 - np.cos(2 * np.pi / k)), abs=1e-12)


def test_unequal_spacing_does_not_change_the_combinatorial_path() -> None:
    G = parallel(4, [F(-9, 10), F(0), F(1, 7)])
    assert fiedler(adjacency_matrix(G)).value == pytest.approx(2 * (1 - np.cos(np.pi / 4)))


@pytest.mark.parametrize(("a", "b"), [(3, 5), (4, 2)])
def test_grid_spectrum(a: int, b: int) -> None:
    G = grid(a, b)
    L = laplacian(adjacency_matrix(G)).toarray()
    pa = 2 * (1 - np.cos(np.pi * np.arange(a) / a))
    pb = 2 * (1 - np.cos(np.pi * np.arange(b) / b))
    expected = np.sort((pa[:, None] + pb[None, :]).ravel())
    assert np.allclose(np.linalg.eigvalsh(L), expected, atol=1e-10)
    r = fiedler(adjacency_matrix(G))
    assert r.value == pytest.approx(expected[1], abs=1e-12)
    assert r.eigenvalues[1] == pytest.approx(expected[2], abs=1e-12)
    assert not r.nearly_degenerate


def test_square_grid_warns_that_lambda2_equals_lambda3() -> None:
    G = grid(3, 3)
    with pytest.warns(FiedlerGapWarning):
        r = fiedler(adjacency_matrix(G))
    assert r.nearly_degenerate
    assert r.value == pytest.approx(1.0) and r.eigenvalues[1] == pytest.approx(1.0)
    # any vector of the eigenspace: check the eigen-equation instead of the vector
    L = laplacian(adjacency_matrix(G))
    assert np.linalg.norm(L @ r.vector - r.value * r.vector) < 1e-9


def test_incidence_matrix_gives_the_laplacian() -> None:
    G = grid(3, 4)
    B = incidence_matrix(G)
    assert B.shape == (G.num_edges, G.num_nodes)
    assert np.array_equal((B.T @ B).toarray(), laplacian(adjacency_matrix(G)).toarray())


# -- solvers agree -----------------------------------------------------------------------------
def _random_connected(N: int, extra: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tree = [(int(rng.integers(0, i)), i) for i in range(1, N)]
    more = [tuple(sorted(map(int, rng.choice(N, 2, replace=False)))) for _ in range(extra)]
    return np.array(sorted(set(tree) | set(more)), dtype=np.int64)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_and_dense_agree(seed: int) -> None:
    edges = _random_connected(300, 400, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, len(edges))
    mass = np.random.default_rng(seed + 10).integers(1, 5, 300).astype(float)
    A = adjacency_matrix(edges, 300, weights=w)
    for kw in ({}, {"mass": mass}, {"normalized": True}):
        d = fiedler(A, method="dense", **kw)
        s = fiedler(A, method="shift-invert", **kw)
        lo = fiedler(A, method="lobpcg", tol=1e-7, maxiter=500, **kw)
        assert s.method == "shift-invert" and d.method == "dense"
        assert s.value == pytest.approx(d.value, rel=1e-9)
        assert s.eigenvalues[1] == pytest.approx(d.eigenvalues[1], rel=1e-8)
        assert_up_to_sign(s.vector, d.vector, 1e-6)
        assert np.array_equal(np.sign(s.vector[np.abs(d.vector) > 1e-6]),
                              np.sign(d.vector[np.abs(d.vector) > 1e-6]))  # same sign convention
        assert lo.value == pytest.approx(d.value, rel=1e-6)
        assert_up_to_sign(lo.vector, d.vector, 1e-3)
        assert lo.residual < 1e-6
        assert s.residual < 1e-8 and d.residual < 1e-10


def test_generalized_problem_against_scipy() -> None:
    edges = _random_connected(60, 90, 7)
    A = adjacency_matrix(edges, 60)
    mass = 1.0 + np.random.default_rng(3).integers(0, 6, 60)
    r = fiedler(A, mass=mass)
    L = laplacian(A).toarray()
    w, V = scipy.linalg.eigh(L, np.diag(mass))
    assert r.value == pytest.approx(w[1], rel=1e-10)
    assert_up_to_sign(r.vector, V[:, 1] / np.sqrt(V[:, 1] @ (mass * V[:, 1])), 1e-8)
    assert r.vector @ (mass * r.vector) == pytest.approx(1.0)
    assert np.linalg.norm(L @ r.vector - r.value * mass * r.vector) < 1e-9


def test_shift_invert_on_a_long_path_matches_the_closed_form() -> None:
    k = 3000
    e = np.stack([np.arange(k - 1), np.arange(1, k)], axis=1)
    r = fiedler(adjacency_matrix(e, k), method="shift-invert", seed=5)
    assert r.value == pytest.approx(2 * (1 - np.cos(np.pi / k)), rel=1e-6)
    assert np.allclose(r.vector, path_vector(k), atol=1e-6)
    r2 = fiedler(adjacency_matrix(e, k), method="shift-invert", seed=6)
    assert np.allclose(r.vector, r2.vector, atol=1e-8)  # the seed does not change the answer


# -- weighted forms reduce to the plain one ----------------------------------------------------
def test_unit_weights_reduce_to_the_plain_laplacian() -> None:
    G = grid(3, 4)
    plain = fiedler(adjacency_matrix(G))
    for r in (fiedler(adjacency_matrix(G, weights=np.ones(G.num_edges))),
              fiedler(adjacency_matrix(G), mass=np.ones(G.num_nodes)),
              dual_fiedler(G, weights="training-points", points=np.zeros((0, 2)))):
        assert r.value == pytest.approx(plain.value, abs=1e-12)
        assert np.allclose(r.vector, plain.vector, atol=1e-10)


def test_equal_regions_and_equal_facets() -> None:
    G = parallel(6)  # equal strips: all volumes 2/3, all shared facets of length 2
    plain = dual_fiedler(G)
    vol = dual_fiedler(G, weights="region-volume")
    assert np.allclose(node_weights(G, "region-volume"), 1.0)
    assert vol.value == pytest.approx(plain.value) and np.allclose(vol.vector, plain.vector)
    fac = dual_fiedler(G, weights="facet-volume")
    assert fac.value == pytest.approx(2 * plain.value)
    assert np.allclose(fac.vector, plain.vector)


def test_region_volume_weights_of_unequal_strips() -> None:
    G = parallel(4, [F(-9, 10), F(0), F(1, 7)])
    m = node_weights(G, "region-volume")
    widths = [F(1, 10), F(9, 10), F(1, 7), F(6, 7)]
    assert np.allclose(m, [float(w * 4 / 2) for w in widths], rtol=1e-15)
    r = dual_fiedler(G, weights="region-volume")
    L = laplacian(adjacency_matrix(G)).toarray()
    w, V = scipy.linalg.eigh(L, np.diag(m))
    assert r.value == pytest.approx(w[1], rel=1e-10)
    assert_up_to_sign(r.vector, V[:, 1] / np.sqrt(V[:, 1] @ (m * V[:, 1])), 1e-8)


# the cycle's lambda_2 = lambda_3 exactly: whether their floats tie (and gap_rtol=0 warns) depends on
# the LAPACK build (they tie with Python 3.13's scipy wheel); the values are what this test checks
@pytest.mark.filterwarnings("ignore::exactcells.spectral.FiedlerGapWarning")
def test_normalized_on_a_regular_graph() -> None:
    k = 10
    e = np.array([(i, (i + 1) % k) for i in range(k)])
    e = np.sort(e, axis=1)
    A = adjacency_matrix(e, k)
    plain = fiedler(A, gap_rtol=0)
    norm = fiedler(A, normalized=True, gap_rtol=0)
    assert norm.value == pytest.approx(plain.value / 2)
    Ln = normalized_laplacian(A).toarray()
    assert np.linalg.eigvalsh(Ln)[1] == pytest.approx(norm.value)


def test_training_points_weights_count_points_per_region() -> None:
    G = parallel(3)  # strips x < -1/3, -1/3 < x < 1/3, x > 1/3
    pts = [[-0.9, 0], [-0.5, 0.5], ["-1/3", 0], [0.9, 0.9], [5, 5]]
    m = node_weights(G, "training-points", points=pts)
    assert m.tolist() == [4.0, 1.0, 2.0]  # the point on x = -1/3 goes to the left strip
    r = dual_fiedler(G, weights="training-points", points=pts)
    L = laplacian(adjacency_matrix(G)).toarray()
    w = scipy.linalg.eigh(L, np.diag(m), eigvals_only=True)
    assert r.value == pytest.approx(w[1]) and r.problem == "node-weighted"


# -- errors ------------------------------------------------------------------------------------
def test_disconnected_graph() -> None:
    e = np.array([[0, 1], [1, 2], [3, 4]])
    A = adjacency_matrix(e, 6)
    with pytest.raises(DisconnectedGraphError, match="3 connected components"):
        fiedler(A)
    comps = fiedler_components(A)
    assert [c.nodes.tolist() for c in comps] == [[0, 1, 2], [3, 4], [5]]
    assert comps[0].result is not None and comps[0].result.value == pytest.approx(1.0)
    assert comps[1].result is not None and comps[1].result.value == pytest.approx(2.0)
    assert comps[2].result is None


def test_bad_input() -> None:
    G = parallel(3)
    with pytest.raises(SpectralError):
        fiedler(adjacency_matrix(np.zeros((0, 2), dtype=np.int64), 1))
    with pytest.raises(SpectralError):
        fiedler(adjacency_matrix(G), mass=-np.ones(3))
    with pytest.raises(SpectralError):
        fiedler(adjacency_matrix(G), mass=np.ones(3), normalized=True)
    with pytest.raises(SpectralError):
        dual_fiedler(G, weights="region-volume", normalized=True)
    with pytest.raises(SpectralError):
        dual_fiedler(G, weights="bogus")
    with pytest.raises(SpectralError):
        adjacency_matrix(G, weights=np.zeros(G.num_edges))


def test_result_is_immutable() -> None:
    r = fiedler(adjacency_matrix(parallel(4)))
    with pytest.raises(AttributeError):
        r.value = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.vector[0] = 1.0
    d = r.to_dict()
    assert d["num_nodes"] == 4 and d["num_edges"] == 3 and d["fiedler_value"] == r.value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fiedler(adjacency_matrix(parallel(5)))  # a clear gap: no warning
