"""Laplacians of the dual graph, Fiedler vectors, and their agreement with the decision boundary.

This is the **float zone** of exactcells: the graph and its exact attributes come from
:mod:`exactcells.dual`; eigenvalues and eigenvectors are float64 (scipy), with explicit
tolerances and seeds stored in every result.

Every problem is one generalized symmetric eigenproblem

.. math:: L v = \\lambda M v, \\qquad L = B^T W_E B = D - A,

with ``B`` the (edge x node) incidence matrix, ``W_E`` the diagonal of edge weights (1, or the
shared facets' volumes), ``A`` the weighted adjacency and ``D`` its degrees, and ``M`` a positive
diagonal of node weights:

``combinatorial``
    ``M = I``: the plain Laplacian ``D - A``.
``normalized``
    ``M = D``: the same spectrum as ``I - D^{-1/2} A D^{-1/2}``.
``node-weighted``
    ``M = W_V`` given: the paper's ``W_V = diag(1 + training points in the region)``, or region
    volumes (scaled to mean 1).

It is solved in the symmetric form ``S u = lambda u`` with ``S = M^{-1/2} L M^{-1/2}`` and
``v = M^{-1/2} u``. On a connected graph the kernel of ``S`` is spanned by ``u_0 = M^{1/2} 1``.
The Fiedler value is the second smallest eigenvalue ``lambda_2``, the Fiedler vector its ``v``,
normalized to ``v^T M v = 1`` and signed so that its first entry of magnitude at least
``1e-8 max |v|`` is positive.

Solvers:

``dense``
    ``scipy.linalg.eigh`` (all graphs up to ``dense_max`` nodes under ``method="auto"``).
``shift-invert``
    Lanczos (``scipy.sparse.linalg.eigsh``) on the pseudo-inverse ``S^+``, applied through a
    sparse LU factorization of ``S`` with the last node grounded (``S`` without its row and
    column is positive definite on a connected graph), restricted to the complement of ``u_0``:
    the two largest eigenvalues of ``S^+`` are ``1 / lambda_2`` and ``1 / lambda_3``.
``lobpcg``
    ``scipy.sparse.linalg.lobpcg`` with the constraint ``u _|_ u_0`` and a Jacobi
    preconditioner (no factorization; slow on long path-like graphs).

The agreement of a partition with the decision boundary of a one-output network uses the
regions' exact class volumes (:func:`exactcells.dual.region_class_volumes`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg, splu

from .dual import DualGraph, PointLocation, facet_volumes, locate_points, region_volumes_and_centroids
from .errors import DisconnectedGraphError, SpectralError

__all__ = [
    "SpectralError",
    "DisconnectedGraphError",
    "FiedlerGapWarning",
    "FiedlerResult",
    "ComponentFiedler",
    "PartitionAgreement",
    "BoundaryAgreement",
    "adjacency_matrix",
    "incidence_matrix",
    "laplacian",
    "normalized_laplacian",
    "edge_weights",
    "node_weights",
    "fiedler",
    "fiedler_components",
    "dual_fiedler",
    "adjusted_rand_index",
    "partition_agreement",
    "boundary_agreement",
    "KWayPartition",
    "KWayAgreement",
    "kway_partition",
    "kway_agreement",
]

Method = Literal["auto", "dense", "shift-invert", "lobpcg"]


class FiedlerGapWarning(UserWarning):
    """The second and third eigenvalues are nearly equal: the Fiedler vector is ill-determined."""


# -- matrices ----------------------------------------------------------------------------------
def _edges_of(G: DualGraph | np.ndarray) -> np.ndarray:
    return G.edges if isinstance(G, DualGraph) else np.asarray(G, dtype=np.int64).reshape(-1, 2)


def adjacency_matrix(
    G: DualGraph | np.ndarray, num_nodes: int | None = None, weights: np.ndarray | None = None
) -> sp.csr_matrix:
    """The symmetric weighted adjacency matrix (float64 CSR) of a dual graph or an edge array."""
    edges = _edges_of(G)
    N = G.num_nodes if isinstance(G, DualGraph) else int(num_nodes if num_nodes is not None
                                                        else (edges.max() + 1 if edges.size else 0))
    w = np.ones(edges.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (edges.shape[0],):
        raise SpectralError(f"{w.shape[0] if w.ndim else 0} edge weights for {edges.shape[0]} edges")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise SpectralError("edge weights must be positive and finite")
    r = np.concatenate([edges[:, 0], edges[:, 1]])
    c = np.concatenate([edges[:, 1], edges[:, 0]])
    return sp.csr_matrix((np.concatenate([w, w]), (r, c)), shape=(N, N))


def incidence_matrix(G: DualGraph | np.ndarray, num_nodes: int | None = None) -> sp.csr_matrix:
    """The (edge x node) incidence matrix ``B``: row ``e = (i, j)`` has +1 at ``i``, -1 at ``j``.

    ``B^T B`` is the combinatorial Laplacian ``D - A``.
    """
    edges = _edges_of(G)
    N = G.num_nodes if isinstance(G, DualGraph) else int(num_nodes if num_nodes is not None
                                                        else (edges.max() + 1 if edges.size else 0))
    E = edges.shape[0]
    rows = np.repeat(np.arange(E), 2)
    data = np.tile([1.0, -1.0], E)
    return sp.csr_matrix((data, (rows, edges.ravel())), shape=(E, N))


def _check_adjacency(A: Any) -> sp.csr_matrix:
    A = sp.csr_matrix(A, dtype=float)
    if A.shape[0] != A.shape[1]:
        raise SpectralError(f"the adjacency matrix is not square: {A.shape}")
    A = A - sp.diags(A.diagonal())
    A.eliminate_zeros()
    if A.nnz and (not np.all(np.isfinite(A.data)) or A.data.min() < 0):
        raise SpectralError("adjacency weights must be non-negative and finite")
    if A.nnz and abs(A - A.T).max() > 0:
        raise SpectralError("the adjacency matrix is not symmetric")
    return A


def laplacian(A: Any) -> sp.csr_matrix:
    """``L = D - A`` of a symmetric non-negative adjacency matrix (self-loops ignored)."""
    A = _check_adjacency(A)
    return sp.csr_matrix(sp.diags(np.asarray(A.sum(axis=1)).ravel()) - A)


def normalized_laplacian(A: Any) -> sp.csr_matrix:
    """``I - D^{-1/2} A D^{-1/2}`` (isolated nodes get a 0 row)."""
    A = _check_adjacency(A)
    d = np.asarray(A.sum(axis=1)).ravel()
    s = np.zeros_like(d)
    s[d > 0] = 1.0 / np.sqrt(d[d > 0])
    Ds = sp.diags(s)
    return sp.csr_matrix(sp.diags((d > 0).astype(float)) - Ds @ A @ Ds)


def edge_weights(G: DualGraph, kind: str = "none") -> np.ndarray | None:
    """Edge weights of a dual graph: ``"none"`` (``None``: unit weights) or ``"facet-volume"``
    (the float view of each shared facet's exact ``(n-1)``-volume)."""
    if kind == "none":
        return None
    if kind == "facet-volume":
        return np.array([v.value for v in facet_volumes(G.complex, G.edge_cells)], dtype=float)
    raise SpectralError(f"unknown edge weights {kind!r} (use 'none' or 'facet-volume')")


def node_weights(
    G: DualGraph, kind: str = "none", points: Any = None, location: PointLocation | None = None
) -> np.ndarray | None:
    """Node weights ``M`` of a dual graph.

    ``"none"``
        ``None`` (``M = I``).
    ``"region-volume"``
        Exact region volumes as floats, scaled to mean 1 (``N vol_i / vol(D)``).
    ``"training-points"``
        The paper's ``1 + (number of training points in the region)``; the points are located
        exactly (:func:`exactcells.dual.locate_points`; pass ``location`` to reuse one).
    """
    if kind == "none":
        return None
    if kind == "region-volume":
        vols, _ = region_volumes_and_centroids(G.complex)
        total = sum(vols, Fraction(0))
        return np.array([float(v * G.num_nodes / total) for v in vols], dtype=float)
    if kind == "training-points":
        if location is None:
            if points is None:
                raise SpectralError("node weights 'training-points' need the points")
            location = locate_points(G.complex, points)
        return 1.0 + location.counts(G.num_nodes).astype(float)
    raise SpectralError(f"unknown node weights {kind!r} (use 'none', 'region-volume' or 'training-points')")


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FiedlerResult:
    """The Fiedler value and vector of ``L v = lambda M v`` (see the module docstring).

    Attributes
    ----------
    value
        ``lambda_2``, the smallest non-zero eigenvalue (connected graph).
    vector
        The Fiedler vector ``v`` (read-only float64), ``v^T M v = 1``, fixed sign: its first
        entry of magnitude at least ``1e-8 max |v|`` is positive.
    eigenvalues
        ``(lambda_2, lambda_3)`` (only ``lambda_2`` on a graph with two nodes).
    residual
        ``||S u - lambda_2 u||_2`` with ``||u|| = 1`` (symmetric form).
    method
        ``"dense"``, ``"shift-invert"`` or ``"lobpcg"``.
    problem
        ``"combinatorial"``, ``"normalized"`` or ``"node-weighted"``.
    tol, seed, gap_rtol
        The tolerance and seed given to the solver, and the relative gap below which
        ``lambda_2`` and ``lambda_3`` count as nearly equal.
    nearly_degenerate
        ``lambda_3 - lambda_2 <= gap_rtol * lambda_3`` (a :class:`FiedlerGapWarning` was issued).
    num_nodes, num_edges
        Size of the graph.
    """

    value: float
    vector: np.ndarray
    eigenvalues: tuple[float, ...]
    residual: float
    method: str
    problem: str
    tol: float
    seed: int | None
    gap_rtol: float
    nearly_degenerate: bool
    num_nodes: int
    num_edges: int

    @property
    def side(self) -> np.ndarray:
        """The sign partition: ``True`` where the vector is positive."""
        return np.asarray(self.vector > 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the vector)."""
        return {
            "fiedler_value": self.value,
            "eigenvalues": list(self.eigenvalues),
            "residual": self.residual,
            "method": self.method,
            "problem": self.problem,
            "tol": self.tol,
            "seed": self.seed,
            "nearly_degenerate": self.nearly_degenerate,
            "num_nodes": self.num_nodes,
            "num_edges": self.num_edges,
            "positive_nodes": int(np.count_nonzero(self.vector > 0)),
        }


@dataclass(frozen=True, slots=True)
class ComponentFiedler:
    """The Fiedler result of one connected component (``None`` for a single node)."""

    nodes: np.ndarray
    result: FiedlerResult | None


# -- solvers -----------------------------------------------------------------------------------
def _symmetric_form(
    A: sp.csr_matrix, mass: np.ndarray | None, normalized: bool
) -> tuple[sp.csr_matrix, np.ndarray, str]:
    N = A.shape[0]
    d = np.asarray(A.sum(axis=1)).ravel()
    L = sp.csr_matrix(sp.diags(d) - A)
    if normalized:
        if mass is not None:
            raise SpectralError("normalized=True uses the degrees as node weights; it cannot be "
                                "combined with other node weights")
        m = d
        problem = "normalized"
    elif mass is None:
        m = np.ones(N)
        problem = "combinatorial"
    else:
        m = np.asarray(mass, dtype=float).ravel()
        if m.shape != (N,):
            raise SpectralError(f"{m.shape[0]} node weights for {N} nodes")
        if not np.all(np.isfinite(m)) or np.any(m <= 0):
            raise SpectralError("node weights must be positive and finite")
        problem = "node-weighted"
    s = sp.diags(1.0 / np.sqrt(m))
    S = sp.csr_matrix(s @ L @ s)
    return S, m, problem


def _solve_dense(S: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    N = S.shape[0]
    w, U = scipy.linalg.eigh(S.toarray(), subset_by_index=[0, min(2, N - 1)])
    return w[1:], U[:, 1:]


def _solve_shift_invert(
    S: sp.csr_matrix, u0: np.ndarray, tol: float, rng: np.random.Generator, maxiter: int | None
) -> tuple[np.ndarray, np.ndarray]:
    N = S.shape[0]
    # ground the last node: S without its row and column is positive definite (connected graph)
    Sg = sp.csc_matrix(S[: N - 1, : N - 1])
    lu = splu(Sg, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})

    def apply(b: np.ndarray) -> np.ndarray:
        b = np.asarray(b, dtype=float).ravel()
        b = b - u0 * (u0 @ b)
        x = np.zeros(N)
        x[: N - 1] = lu.solve(b[: N - 1])
        return x - u0 * (u0 @ x)

    op = LinearOperator((N, N), matvec=apply, dtype=float)
    v0 = rng.standard_normal(N)
    v0 -= u0 * (u0 @ v0)
    k = 2 if N > 3 else 1
    vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol, maxiter=maxiter)
    order = np.argsort(-vals)
    return 1.0 / vals[order], vecs[:, order]


def _solve_lobpcg(
    S: sp.csr_matrix, u0: np.ndarray, tol: float, rng: np.random.Generator, maxiter: int | None
) -> tuple[np.ndarray, np.ndarray]:
    N = S.shape[0]
    k = 2 if N > 3 else 1
    X = rng.standard_normal((N, k))
    dg = S.diagonal()
    P = sp.diags(1.0 / np.where(dg > 0, dg, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its own convergence notes; we report the residual
        vals, vecs = lobpcg(S, X, M=P, Y=u0[:, None], tol=tol, maxiter=maxiter or 2000, largest=False)
    order = np.argsort(vals)
    return np.asarray(vals)[order], np.asarray(vecs)[:, order]


def _fix_sign(v: np.ndarray) -> float:
    mx = float(np.max(np.abs(v))) if v.size else 0.0
    idx = np.nonzero(np.abs(v) >= 1e-8 * mx)[0]
    return -1.0 if idx.size and v[idx[0]] < 0 else 1.0


def fiedler(
    A: Any,
    *,
    mass: np.ndarray | None = None,
    normalized: bool = False,
    method: Method = "auto",
    tol: float = 1e-10,
    seed: int | None = 0,
    maxiter: int | None = None,
    gap_rtol: float = 1e-6,
    dense_max: int = 2000,
) -> FiedlerResult:
    """The Fiedler value and vector of a connected weighted graph.

    Parameters
    ----------
    A
        Symmetric non-negative adjacency matrix (``N x N``; self-loops are ignored), e.g.
        :func:`adjacency_matrix`.
    mass
        Positive node weights ``M`` (default: the identity).
    normalized
        Use the degrees as node weights (the normalized Laplacian); not with ``mass``.
    method
        ``"auto"`` (dense up to ``dense_max`` nodes, else shift-invert), ``"dense"``,
        ``"shift-invert"`` or ``"lobpcg"``.
    tol, seed, maxiter
        Passed to the iterative solvers (``seed`` fixes their start vectors).
    gap_rtol
        Warn (:class:`FiedlerGapWarning`) when ``lambda_3 - lambda_2 <= gap_rtol * lambda_3``.

    Returns
    -------
    FiedlerResult

    Raises
    ------
    DisconnectedGraphError
        When the graph is disconnected (use :func:`fiedler_components`).
    SpectralError
        With fewer than two nodes or bad weights.

    Examples
    --------
    >>> import numpy as np
    >>> r = fiedler(adjacency_matrix(np.array([[0, 1], [1, 2], [2, 3]])))  # path of 4 nodes
    >>> bool(abs(r.value - 2 * (1 - np.cos(np.pi / 4))) < 1e-12)
    True
    """
    A = _check_adjacency(A)
    N = A.shape[0]
    if N < 2:
        raise SpectralError(f"a graph with {N} node(s) has no Fiedler vector")
    ncomp, labels = connected_components(A, directed=False)
    if ncomp > 1:
        sizes = np.bincount(labels)
        raise DisconnectedGraphError(
            f"the graph has {ncomp} connected components (sizes {sorted(sizes.tolist(), reverse=True)[:5]}"
            f"{'...' if ncomp > 5 else ''}): its Fiedler value is 0; use fiedler_components() for one "
            "result per component")
    S, m, problem = _symmetric_form(A, mass, normalized)
    u0 = np.sqrt(m)
    u0 /= np.linalg.norm(u0)
    rng = np.random.default_rng(seed)
    if method == "auto":
        method = "dense" if N <= dense_max else "shift-invert"
    if method == "dense" or N <= 3:
        lams, U = _solve_dense(S)
        used = "dense"
    elif method == "shift-invert":
        lams, U = _solve_shift_invert(S, u0, tol, rng, maxiter)
        used = method
    elif method == "lobpcg":
        lams, U = _solve_lobpcg(S, u0, tol, rng, maxiter)
        used = method
    else:
        raise SpectralError(f"unknown method {method!r} (use auto, dense, shift-invert or lobpcg)")
    u = U[:, 0] - u0 * (u0 @ U[:, 0])
    u /= np.linalg.norm(u)
    Su = S @ u
    lam = float(u @ Su)
    residual = float(np.linalg.norm(Su - lam * u))
    v = u / np.sqrt(m)
    v *= _fix_sign(v)
    v.setflags(write=False)
    eig = (lam,) + tuple(float(x) for x in lams[1:2])
    degenerate = len(eig) > 1 and eig[1] - eig[0] <= gap_rtol * abs(eig[1])
    if degenerate:
        warnings.warn(f"lambda_2 = {eig[0]:.6g} and lambda_3 = {eig[1]:.6g} are nearly equal (relative gap "
                      f"<= {gap_rtol:g}): the Fiedler vector is not well determined",
                      FiedlerGapWarning, stacklevel=2)
    return FiedlerResult(lam, v, eig, residual, used, problem, float(tol), seed, float(gap_rtol),
                         bool(degenerate), int(N), int(A.nnz // 2))


def fiedler_components(A: Any, *, mass: np.ndarray | None = None, **kwargs: Any) -> tuple[ComponentFiedler, ...]:
    """One Fiedler result per connected component (in order of each component's smallest node);
    ``result`` is ``None`` for a single-node component. Keywords as in :func:`fiedler`."""
    A = _check_adjacency(A)
    _, labels = connected_components(A, directed=False)
    comps: dict[int, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        comps.setdefault(lab, []).append(i)
    out = []
    for nodes in sorted(comps.values(), key=lambda c: c[0]):
        idx = np.array(nodes, dtype=np.int64)
        idx.setflags(write=False)
        if len(nodes) == 1:
            out.append(ComponentFiedler(idx, None))
            continue
        sub = A[idx][:, idx]
        out.append(ComponentFiedler(idx, fiedler(sub, mass=None if mass is None else np.asarray(mass)[idx],
                                                 **kwargs)))
    return tuple(out)


def dual_fiedler(
    G: DualGraph,
    *,
    weights: str = "none",
    normalized: bool = False,
    points: Any = None,
    location: PointLocation | None = None,
    **kwargs: Any,
) -> FiedlerResult:
    """The Fiedler result of a dual graph with the weights of the command line.

    ``weights`` is ``"none"``, ``"facet-volume"`` (edge weights), ``"region-volume"`` or
    ``"training-points"`` (node weights; the latter with ``points`` or ``location``).
    Other keywords go to :func:`fiedler`.
    """
    if weights in ("none", "facet-volume"):
        A = adjacency_matrix(G, weights=edge_weights(G, weights))
        return fiedler(A, normalized=normalized, **kwargs)
    if normalized:
        raise SpectralError(f"--normalized uses the degrees as node weights; it cannot be combined with "
                            f"weights {weights!r}")
    mass = node_weights(G, weights, points=points, location=location)
    return fiedler(adjacency_matrix(G), mass=mass, **kwargs)


# -- agreement with the decision boundary ------------------------------------------------------
def adjusted_rand_index(labels_a: Sequence[int] | np.ndarray, labels_b: Sequence[int] | np.ndarray,
                        counts: Sequence[int] | np.ndarray | None = None) -> float:
    """The adjusted Rand index (Hubert and Arabie) of two labellings of the same items.

    ``counts`` gives each item a multiplicity (default 1). Returns 1.0 when both labellings
    are trivial in the same way (the expected and maximal indices coincide).

    Examples
    --------
    >>> adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 6)
    -0.5
    """
    a = np.asarray(labels_a)
    b = np.asarray(labels_b)
    if a.shape != b.shape:
        raise SpectralError("the two labellings have different lengths")
    w = np.ones(a.shape[0], dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1 if a.size else 0, bi.max() + 1 if b.size else 0), dtype=np.int64)
    np.add.at(table, (ai.ravel(), bi.ravel()), w)

    def c2(x: np.ndarray) -> int:
        return int(sum(int(v) * (int(v) - 1) // 2 for v in x.ravel()))

    n = int(w.sum())
    if n < 2:
        return 1.0
    index = c2(table)
    sa, sb = c2(table.sum(axis=1)), c2(table.sum(axis=0))
    total = n * (n - 1) // 2
    expected = Fraction(sa * sb, total)
    maximum = Fraction(sa + sb, 2)
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


@dataclass(frozen=True, slots=True)
class PartitionAgreement:
    """How a two-sided partition of the regions (``vector > threshold``) matches the classes.

    Attributes
    ----------
    threshold
        The partition is ``vector > threshold``.
    flipped
        Whether the side ``vector > threshold`` is matched with class 0 (``F <= 0``).
    volume_agreement
        Exact fraction of the domain's volume whose class matches its region's side, maximised
        over the flip (computed from the exact class volumes).
    adjusted_rand_index
        ARI between the sides and the classes over the regions of the complex refined by the
        decision boundary (each piece of a region inherits the region's side).
    cut_edges
        Dual edges whose ends lie on different sides.
    boundary_edges
        Dual edges whose ends have different classes (a region of mixed class takes its
        majority class by volume, ties going to class 0).
    cut_boundary_edges
        Dual edges that are both.
    cut_on_boundary, boundary_cut
        ``cut_boundary_edges / cut_edges`` and ``cut_boundary_edges / boundary_edges``
        (``None`` when the denominator is 0).
    """

    threshold: float
    flipped: bool
    volume_agreement: Fraction
    adjusted_rand_index: float
    cut_edges: int
    boundary_edges: int
    cut_boundary_edges: int

    @property
    def volume_agreement_float(self) -> float:
        return float(self.volume_agreement)

    @property
    def cut_on_boundary(self) -> float | None:
        return self.cut_boundary_edges / self.cut_edges if self.cut_edges else None

    @property
    def boundary_cut(self) -> float | None:
        return self.cut_boundary_edges / self.boundary_edges if self.boundary_edges else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "flipped": self.flipped,
            "volume_agreement": self.volume_agreement_float,
            "adjusted_rand_index": self.adjusted_rand_index,
            "cut_edges": self.cut_edges,
            "boundary_edges": self.boundary_edges,
            "cut_boundary_edges": self.cut_boundary_edges,
            "cut_on_boundary": self.cut_on_boundary,
            "boundary_cut": self.boundary_cut,
        }


@dataclass(frozen=True, slots=True)
class BoundaryAgreement:
    """The agreement of the Fiedler sign partition and of the best threshold sweep."""

    sign: PartitionAgreement
    best_sweep: PartitionAgreement

    def to_dict(self) -> dict[str, Any]:
        return {"sign": self.sign.to_dict(), "best_sweep": self.best_sweep.to_dict()}


def partition_agreement(
    edges: np.ndarray,
    side: np.ndarray,
    class_volumes: Sequence[tuple[Fraction, Fraction]],
    threshold: float = 0.0,
) -> PartitionAgreement:
    """The agreement of one partition (``side``, bool per node) with the classes.

    ``class_volumes[i]`` is ``(volume of class 0, volume of class 1)`` in node ``i``
    (:func:`exactcells.dual.region_class_volumes`).
    """
    side = np.asarray(side, dtype=bool)
    N = side.shape[0]
    if len(class_volumes) != N:
        raise SpectralError(f"{len(class_volumes)} class volumes for {N} nodes")
    total = sum((a + b for a, b in class_volumes), Fraction(0))
    if total <= 0:
        raise SpectralError("the regions have no volume")
    agree = sum((cv[1] if s else cv[0] for s, cv in zip(side.tolist(), class_volumes)), Fraction(0))
    flipped = 2 * agree < total
    if flipped:
        agree = total - agree
    # ARI over the pieces (region, class) of positive volume
    la, lb = [], []
    for i, (c0, c1) in enumerate(class_volumes):
        for c, vol in ((0, c0), (1, c1)):
            if vol > 0:
                la.append(int(side[i]))
                lb.append(c)
    ari = adjusted_rand_index(la, lb)
    major = np.array([1 if c1 > c0 else 0 for c0, c1 in class_volumes], dtype=np.int8)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    cut = side[e[:, 0]] != side[e[:, 1]]
    bnd = major[e[:, 0]] != major[e[:, 1]]
    return PartitionAgreement(float(threshold), bool(flipped), agree / total, ari, int(cut.sum()),
                              int(bnd.sum()), int((cut & bnd).sum()))


def boundary_agreement(
    G: DualGraph | np.ndarray,
    vector: np.ndarray,
    class_volumes: Sequence[tuple[Fraction, Fraction]],
) -> BoundaryAgreement:
    """Agreement of a Fiedler vector's partitions with the decision boundary.

    ``sign`` is the partition ``vector > 0``; ``best_sweep`` the threshold ``t`` (a midpoint
    between consecutive distinct values of the vector) whose partition ``vector > t`` has the
    largest volume agreement (chosen in float arithmetic, first maximum; then reported exactly).
    """
    edges = _edges_of(G)
    v = np.asarray(vector, dtype=float)
    sign = partition_agreement(edges, v > 0, class_volumes, 0.0)
    # float weights as fractions of the exact total (in [0, 1]: no overflow for huge domains)
    total = sum((Fraction(a) + Fraction(b) for a, b in class_volumes), Fraction(0)) or Fraction(1)
    w0 = np.array([float(Fraction(a) / total) for a, _ in class_volumes])
    w1 = np.array([float(Fraction(b) / total) for _, b in class_volumes])
    T = float(w0.sum() + w1.sum())
    order = np.argsort(v, kind="stable")
    vs = v[order]
    c0 = np.concatenate([[0.0], np.cumsum(w0[order])])
    c1 = np.concatenate([[0.0], np.cumsum(w1[order])])
    k = np.arange(1, v.shape[0])
    k = k[vs[k - 1] < vs[k]]
    if k.size == 0:
        return BoundaryAgreement(sign, sign)
    a = (c0[k] + (c1[-1] - c1[k])) / T
    score = np.maximum(a, 1.0 - a)
    best = int(k[int(np.argmax(score))])
    t = float((vs[best - 1] + vs[best]) / 2)
    sweep = partition_agreement(edges, v > t, class_volumes, t)
    if sweep.volume_agreement < sign.volume_agreement:  # the sign cut is a candidate too
        sweep = sign
    return BoundaryAgreement(sign, sweep)


# -- k-way partitions and their agreement with k classes ---------------------------------------
@dataclass(frozen=True, slots=True)
class KWayPartition:
    """A partition of the nodes of a dual graph into ``k`` clusters (float zone).

    Attributes
    ----------
    labels
        ``(N,)`` int64 cluster of every node (read-only), clusters ``0 .. num_clusters - 1``.
    k
        The number of clusters asked for.
    method
        ``"recursive"`` (recursive Fiedler cuts) or ``"kmeans"`` (seeded k-means on the first
        ``k - 1`` non-trivial eigenvectors).
    cut_values
        Recursive: the Fiedler value of the part cut at each step (0 for a part whose induced
        subgraph is disconnected). k-means: the eigenvalues ``lambda_2 .. lambda_k``.
    seed
        The seed of k-means (``None`` for recursive cuts, which are deterministic up to the
        eigensolver).
    """

    labels: np.ndarray
    k: int
    method: str
    cut_values: tuple[float, ...]
    seed: int | None

    @property
    def num_clusters(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "method": self.method, "num_clusters": self.num_clusters,
                "cut_values": list(self.cut_values), "seed": self.seed,
                "cluster_sizes": np.bincount(self.labels).tolist() if self.labels.size else []}


def _weighted_problem(
    G: DualGraph, weights: str, normalized: bool, points: Any, location: PointLocation | None
) -> tuple[sp.csr_matrix, np.ndarray | None]:
    if weights in ("none", "facet-volume"):
        return adjacency_matrix(G, weights=edge_weights(G, weights)), None
    if normalized:
        raise SpectralError(f"--normalized uses the degrees as node weights; it cannot be combined with "
                            f"weights {weights!r}")
    return adjacency_matrix(G), node_weights(G, weights, points=points, location=location)


def kway_partition(
    G: DualGraph,
    k: int,
    *,
    weights: str = "none",
    normalized: bool = False,
    points: Any = None,
    location: PointLocation | None = None,
    method: str = "recursive",
    seed: int = 0,
    **kwargs: Any,
) -> KWayPartition:
    """A ``k``-way spectral partition of the dual graph with the weights of :func:`dual_fiedler`.

    ``method="recursive"`` (the default): the first cut is the Fiedler sign cut of the whole
    graph (``vector > 0``, exactly the partition of :func:`boundary_agreement`'s ``sign``), so
    that ``k = 2`` is today's binary partition; then, while there are fewer than ``k`` parts,
    the part whose induced subgraph (same edge and node weights) has the smallest Fiedler value,
    i.e. the weakest-connected part, is cut by the sign of its own Fiedler vector (a part whose
    subgraph is disconnected is cut into the component of its first node and the rest). It is
    deterministic, every cut is the one the binary analysis already trusts, and no cluster
    count has to fit k-means' assumptions.

    ``method="kmeans"``: the first ``k - 1`` non-trivial eigenvectors of ``L v = lambda M v``
    (dense; graphs up to 4000 nodes) as coordinates, then k-means++ seeded with ``seed``
    (``scipy.cluster.vq.kmeans2``, ten starts from one seeded stream, the lowest inertia kept). Clusters are renumbered by their smallest node.
    Other keywords go to :func:`fiedler` (``tol``, ``method`` is the eigensolver's ``solver``).
    """
    N = G.num_nodes
    if k < 1:
        raise SpectralError(f"k must be at least 1, got {k}")
    if N < k:
        raise SpectralError(f"a graph with {N} nodes cannot be cut into {k} parts")
    A, mass = _weighted_problem(G, weights, normalized, points, location)
    solver = kwargs.pop("solver", "auto")
    labels = np.zeros(N, dtype=np.int64)
    if k == 1:
        labels.setflags(write=False)
        return KWayPartition(labels, 1, method, (), None)
    if method == "kmeans":
        return _kmeans_partition(A, mass, normalized, k, seed)
    if method != "recursive":
        raise SpectralError(f"unknown k-way method {method!r} (use 'recursive' or 'kmeans')")

    def cut(idx: np.ndarray) -> tuple[float, np.ndarray] | None:
        if idx.size < 2:
            return None
        sub = A[idx][:, idx]
        ncomp, lab = connected_components(sub, directed=False)
        if ncomp > 1:
            return 0.0, lab == lab[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FiedlerGapWarning)
            r = fiedler(sub, mass=None if mass is None else mass[idx], normalized=normalized,
                        method=solver, **kwargs)
        side = np.asarray(r.vector > 0)
        if side.all() or not side.any():
            return None
        return r.value, side

    parts: list[np.ndarray] = [np.arange(N, dtype=np.int64)]
    values: list[float] = []
    cache: dict[int, tuple[float, np.ndarray] | None] = {}
    while len(parts) < k:
        best: tuple[float, int] | None = None
        for p_i, idx in enumerate(parts):
            key = int(idx[0]) * (N + 1) + idx.size
            if key not in cache:
                cache[key] = cut(idx)
            c = cache[key]
            if c is not None and (best is None or c[0] < best[0]):
                best = (c[0], p_i)
        if best is None:
            break
        idx = parts[best[1]]
        c = cache[int(idx[0]) * (N + 1) + idx.size]
        assert c is not None
        side = c[1]
        # the side "vector > 0" keeps the higher label, so that k = 2 gives labels = (v > 0)
        parts[best[1]] = idx[~side]
        parts.insert(best[1] + 1, idx[side])
        values.append(float(c[0]))
    for lab, idx in enumerate(parts):
        labels[idx] = lab
    labels.setflags(write=False)
    return KWayPartition(labels, k, "recursive", tuple(values), None)


def _kmeans_partition(A: sp.csr_matrix, mass: np.ndarray | None, normalized: bool, k: int,
                      seed: int) -> KWayPartition:
    from scipy.cluster.vq import kmeans2

    N = A.shape[0]
    if N > 4000:
        raise SpectralError(f"k-means partitions are dense: at most 4000 nodes, the graph has {N}")
    if connected_components(A, directed=False)[0] > 1:
        raise DisconnectedGraphError("the graph is disconnected; use method='recursive'")
    S, m, _ = _symmetric_form(sp.csr_matrix(A), mass, normalized)
    w, U = scipy.linalg.eigh(S.toarray(), subset_by_index=[0, k - 1])
    X = U[:, 1:k] / np.sqrt(m)[:, None]
    X = X / np.sqrt(np.mean(np.sum(X * X, axis=1)))
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(10):  # ten k-means++ starts from one seeded stream; the lowest inertia wins
        cen, lab_try = kmeans2(X, k, minit="++", seed=rng, iter=100)
        inertia = float(np.sum((X - cen[lab_try]) ** 2))
        if best is None or inertia < best[0]:
            best = (inertia, lab_try)
    assert best is not None
    lab = best[1]
    # renumber clusters by their smallest node, dropping empty ones
    first: dict[int, int] = {}
    for c in lab.tolist():
        first.setdefault(int(c), len(first))
    labels = np.array([first[int(c)] for c in lab.tolist()], dtype=np.int64)
    labels.setflags(write=False)
    return KWayPartition(labels, k, "kmeans", tuple(float(x) for x in w[1:k]), int(seed))


@dataclass(frozen=True, slots=True)
class KWayAgreement:
    """How a partition of the regions into clusters matches ``k`` classes, exactly.

    Attributes
    ----------
    confusion
        ``confusion[c][j]``: exact volume of cluster ``c`` that is of class ``j``.
    matching
        ``matching[c]``: the class matched with cluster ``c`` (``None`` when there are more
        clusters than classes and ``c`` is left over), one-to-one, maximising the matched volume.
    volume_agreement
        Exact fraction of the domain's volume whose class is its cluster's matched class.
    adjusted_rand_index
        ARI between clusters and classes over the pieces (region, class) of positive volume
        (each piece one item, as in :class:`PartitionAgreement`).
    """

    confusion: tuple[tuple[Fraction, ...], ...]
    matching: tuple[int | None, ...]
    volume_agreement: Fraction
    adjusted_rand_index: float

    @property
    def volume_agreement_float(self) -> float:
        return float(self.volume_agreement)

    def relabel(self, labels: Sequence[int] | np.ndarray) -> np.ndarray:
        """Cluster labels replaced by their matched classes (for pictures coloured like the
        classes); a cluster left unmatched gets ``k + c`` (``k`` classes, cluster ``c``)."""
        k = len(self.confusion[0]) if self.confusion else 0
        table = np.array([k + c if m is None else m for c, m in enumerate(self.matching)], dtype=np.int64)
        return table[np.asarray(labels, dtype=np.int64)]

    def to_dict(self) -> dict[str, Any]:
        return {"volume_agreement": self.volume_agreement_float,
                "volume_agreement_exact": f"{self.volume_agreement.numerator}/{self.volume_agreement.denominator}",
                "adjusted_rand_index": self.adjusted_rand_index, "matching": list(self.matching),
                "confusion": [[float(x) for x in row] for row in self.confusion]}


def _best_matching(C: list[list[Fraction]]) -> tuple[tuple[int | None, ...], Fraction]:
    """A one-to-one matching of rows to columns of maximal exact total (exhaustive for small
    sizes, else scipy's linear_sum_assignment on floats, summed exactly)."""
    import itertools
    import math as _math

    p = len(C)
    q = len(C[0]) if C else 0
    if p == 0 or q == 0:
        return tuple(None for _ in range(p)), Fraction(0)
    if _math.perm(max(p, q), min(p, q)) <= 40320:
        best: tuple[int | None, ...] = ()
        total = Fraction(-1)
        if p <= q:
            for perm in itertools.permutations(range(q), p):
                t = sum((C[i][perm[i]] for i in range(p)), Fraction(0))
                if t > total:
                    best, total = tuple(perm), t
        else:
            for perm in itertools.permutations(range(p), q):
                t = sum((C[perm[j]][j] for j in range(q)), Fraction(0))
                if t > total:
                    m: list[int | None] = [None] * p
                    for j in range(q):
                        m[perm[j]] = j
                    best, total = tuple(m), t
        return best, total
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(np.array([[float(x) for x in r] for r in C]), maximize=True)
    m2: list[int | None] = [None] * p
    for r, c in zip(rows.tolist(), cols.tolist()):
        m2[r] = c
    return tuple(m2), sum((C[r][c] for r, c in zip(rows.tolist(), cols.tolist())), Fraction(0))


def kway_agreement(labels: Sequence[int] | np.ndarray,
                   class_volumes: Sequence[Sequence[Fraction]]) -> KWayAgreement:
    """The agreement of clusters (``labels``, one per node) with classes, from the exact class
    volumes per node (:func:`exactcells.dual.class_volumes`): the best one-to-one matching of
    clusters to classes by exact volume, and the adjusted Rand index over the pieces.

    For two clusters and two classes this is :func:`partition_agreement` of the side
    ``labels == 1`` (the matching is the best flip).
    """
    lab = np.asarray(labels, dtype=np.int64)
    N = lab.shape[0]
    if len(class_volumes) != N:
        raise SpectralError(f"{len(class_volumes)} class volumes for {N} nodes")
    q = len(class_volumes[0]) if N else 0
    p = int(lab.max()) + 1 if N else 0
    C = [[Fraction(0)] * q for _ in range(p)]
    total = Fraction(0)
    la: list[int] = []
    lb: list[int] = []
    for i, cv in enumerate(class_volumes):
        for j, v in enumerate(cv):
            C[int(lab[i])][j] += v
            total += v
            if v > 0:
                la.append(int(lab[i]))
                lb.append(j)
    if total <= 0:
        raise SpectralError("the regions have no volume")
    matching, matched = _best_matching(C)
    return KWayAgreement(tuple(tuple(r) for r in C), matching, matched / total,
                         adjusted_rand_index(la, lb))
