"""Independent certificates of polyhedral complexes: is a claimed complex exactly the true one?

:func:`certify` re-derives everything it needs from the network and the domain with exact integer
arithmetic; it shares no code with the builder (:mod:`exactcells.build`). The complex under test
is treated as an untrusted *witness*: its vertices, sign vectors and facet links are claims that
are each checked exactly, and completeness is proved by local counting conditions.

The mathematics (docs/mathematics.md, "Cells are sign vectors"; ``sigma(x)`` is the exact sign
vector of a point ``x``):

**Lemma A** (closures from signs). For a sign vector ``s``, let ``P_s`` be the polyhedron cut out
of ``D`` by the *local* affine pre-activations of ``s`` (neurons with sign ``+1`` pass, others give
zero): ``s_j z_j(x) >= 0`` and ``z_j(x) = 0`` where ``s_j = 0``. Then ``x`` lies in ``P_s`` iff
``sigma(x) <= s`` in the face order (every entry equal or 0); on ``P_s`` the true pre-activations
are the local ones. (Induction over layers: the ReLU of a pre-activation of sign ``0`` or ``s_j``
is what the local map assumes.) If the cell ``S_s = {sigma = s}`` is non-empty, ``P_s`` is its
closure.

**Lemma B** (joins). If the points ``v_1 .. v_k`` all satisfy ``sigma(v_i) <= s`` then every
positive combination ``p`` of them has ``sigma(p) = join(sigma(v_i))`` (entrywise the non-zero
value, if any): ``p`` is in the convex set ``P_s`` where every ``z_j`` is affine. So the sign
vector of a cell equals the join of its vertices' sign vectors, and it is checked that way for
every cell; the point ``sum_v (D_v x_v, D_v)`` of each cell (a positive combination of its
vertices) then has exactly the claimed sign vector. ``interior_forward=True`` recomputes that
sign vector at every top cell by an exact forward pass as well.

**Completeness** (nothing missing). Once every claimed cell is a true cell and every claimed
facet link ``f -> c`` is a true face relation (``s_f < s_c``, Lemma A), the claimed dimensions
are exact by chain length (each cell has a chain of links down to a vertex and up to a top cell,
and true dimensions strictly increase along links). Then:

* *edges* have exactly 2 vertices, and every interval ``[r, c]`` of length 2 has exactly two
  middle elements: by induction on the dimension every claimed cell lists *all* its true facets
  (the facet-ridge graph of a polytope is connected, so a missing facet leaves a ridge of a
  present facet with only one middle element);
* every ``(n-1)``-cell lies in exactly 2 top cells, or in exactly 1 when it lies on a facet of the
  domain: the claimed regions are then closed under adjacency, and the dual graph of the true
  regions is connected, so every true region is claimed, and with it (by the facet lists) every
  true cell.

Hence a complex passing every structural check *is* the complex of the network on the domain;
in particular each top cell's claimed vertices are exactly the vertices of the polytope its sign
vector's inequalities cut out, which is what a cddlib conversion gives (``cdd_regions`` checks
that literally, at 10-200 ms per cell). The structural checks use the certificate's own integer
matrices; the volume recursion takes its local forms from :meth:`Network.integer_network`
(shared with the builder), which cannot make a wrong complex pass: the structural proof does
not use them, and wrong forms would only make the volumes disagree.

This structural proof is the default certificate. On top of it the Euler characteristic is
checked to be 1, and three independent cross-checks are opt-in, because the proof already
implies what they check:

* ``volumes``: the exact volumes of the top cells add up to ``vol(D)`` (exact face recursion of
  :mod:`exactcells.volumes`, which also detects facets whose vertices leave one flat). Implied:
  a complex that passes the structural checks is the true complex, whose regions tile ``D``
  with disjoint interiors, so their volumes add up to ``vol(D)``; the check guards the
  implementation of the proof, not the mathematics. It costs several times the structural
  checks (3-48-48-1: about 23 s against 6 s, the vertices' exact coordinates already
  computed), so it runs only when asked (``volumes=True``, CLI ``--volumes``);
* ``affine_dims``: every cell's dimension is compared with the rank of its exact affine hull;
* ``cdd_regions``: top cells are recomputed from scratch with cddlib's exact GMP kernel:
  vertices and the full face lattice from incidences, compared with the claims.

Examples
--------
>>> from exactcells import Domain, build_complex, network_from_dict
>>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
...                                     {"W": [[1, 1]], "b": [0]}]})
>>> K = build_complex(net, Domain.box(2, -1, 1))
>>> cert = certify(K)
>>> cert.certified, cert.euler_characteristic, cert.total_volume
(True, 1, None)
>>> cert = certify(K, volumes=True)
>>> cert.certified, cert.total_volume, cert.domain_volume
(True, Fraction(4, 1), Fraction(4, 1))
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from operator import mul
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from flint import fmpq, fmpz, fmpz_mat

if TYPE_CHECKING:  # scipy is imported where it is used: `import exactcells` stays light
    import scipy.sparse as sp

from .complex import PolyhedralComplex
from .domain import Domain
from .errors import InvalidArgumentError
from .localforms import LocalForms, domain_rows, select_sums
from .network import Layer, Network, filter_float, local_affine_forms
from .numbers import common_denominator, float_or_none, float_view, format_rational
from .numbers import format_signs as sign_key
from .progress import Progress
from .volumes import cell_vertex_matrix as _vertex_csr
from .volumes import face_volumes
from .volumes import region_volumes as region_volumes  # importable from here as before

__all__ = [
    "Certificate",
    "CheckResult",
    "Failure",
    "FAILURE_KINDS",
    "certify",
    "exact_sign_vectors",
    "sign_key",
]

FAILURE_KINDS = {
    "format": "the arrays are malformed (shapes, index ranges, dimension order, denominators)",
    "canonical_order": "cells are not in canonical order (by dimension, then sign vector)",
    "vertex_moved": "a vertex's exact coordinates do not have its claimed sign vector",
    "sign_vector_wrong": "a cell's claimed sign vector is not the exact sign of its interior",
    "extra_cell": "a claimed cell that is no cell of the network's complex (or a duplicate)",
    "bad_facet_link": "a claimed facet link that is not a face relation of codimension 1",
    "dropped_facet_link": "two cells of the complex that are facet and cofacet, without the link",
    "missing_cell": "a cell of the network's complex that the claimed complex lacks",
    "missing_region": "a top cell of the network's complex that the claimed complex lacks",
    "volume": "the exact volumes of the top cells do not add up to the domain's volume",
    "euler_characteristic": "the Euler characteristic is not 1",
    "affine_dimension": "a cell's claimed dimension is not the dimension of its exact affine hull",
    "cdd_mismatch": "cddlib's recomputation of a top cell differs from the claim",
}

MAX_WITNESSES = 20  # per failure kind; the total count is always recorded


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check with its witness.

    Attributes
    ----------
    kind
        One of :data:`FAILURE_KINDS`.
    cell
        The claimed cell concerned (canonical index), if any.
    key
        Its claimed sign vector as text (:func:`sign_key`), if any.
    point
        An exact witness point (coordinates as ``"p/q"`` strings), if any.
    expected, found
        What the exact recomputation gives and what the claim says.
    message
        A one-line human explanation.
    """

    kind: str
    cell: int | None
    key: str | None
    point: tuple[str, ...] | None
    expected: str
    found: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cell": self.cell, "key": self.key,
                "point": list(self.point) if self.point is not None else None,
                "expected": self.expected, "found": self.found, "message": self.message}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: its name, whether it passed, how many items it examined and its time."""

    name: str
    passed: bool
    checked: int
    failures: int
    seconds: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "checked": self.checked,
                "failures": self.failures, "seconds": round(self.seconds, 6), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Certificate:
    """The verdict of :func:`certify` on one complex.

    Attributes
    ----------
    certified
        True iff every check passed: the complex is exactly the network's complex on the domain.
    checks
        Every check run, in order (:class:`CheckResult`).
    failures
        Witnesses of failures (at most ``MAX_WITNESSES`` per kind; counts are in ``checks`` and
        ``failure_counts``).
    failure_counts
        Number of failures of each kind.
    f_vector, num_cells, euler_characteristic
        Counts of the claimed complex.
    total_volume, domain_volume
        Exact sum of the top cells' volumes and the domain's volume (``None`` if volumes were
        not computed).
    cdd_regions_checked
        How many top cells were recomputed with cddlib (0 by default).
    seconds
        Wall time of the certification.
    """

    certified: bool
    checks: tuple[CheckResult, ...]
    failures: tuple[Failure, ...]
    failure_counts: dict[str, int]
    f_vector: tuple[int, ...]
    num_cells: int
    euler_characteristic: int
    total_volume: Fraction | None
    domain_volume: Fraction | None
    cdd_regions_checked: int
    seconds: float
    architecture: str = ""
    domain: str = ""
    with_output: bool = False

    @property
    def failure_kinds(self) -> frozenset[str]:
        """The kinds of failure found (empty for a certified complex)."""
        return frozenset(k for k, v in self.failure_counts.items() if v)

    def check(self, name: str) -> CheckResult:
        """The check called ``name`` (``KeyError`` if it was not run)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: exact values as ``"p/q"`` strings with float companions."""

        def q(x: Fraction | None) -> str | None:
            return None if x is None else format_rational(x)

        return {
            "certified": self.certified,
            "architecture": self.architecture,
            "domain": self.domain,
            "with_output": self.with_output,
            "f_vector": list(self.f_vector),
            "num_cells": self.num_cells,
            "euler_characteristic": self.euler_characteristic,
            "total_volume": q(self.total_volume),
            "domain_volume": q(self.domain_volume),
            "total_volume_float": float_or_none(self.total_volume),
            "cdd_regions_checked": self.cdd_regions_checked,
            "seconds": round(self.seconds, 4),
            "checks": {c.name: c.to_dict() for c in self.checks},
            "failure_counts": dict(self.failure_counts),
            "failures": [f.to_dict() for f in self.failures],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> str:
        """A few human lines."""
        lines = [f"{'CERTIFIED' if self.certified else 'NOT CERTIFIED'}: f-vector {self.f_vector}, "
                 f"{self.num_cells} cells, Euler characteristic {self.euler_characteristic}, "
                 f"{self.seconds:.3f} s"]
        if self.total_volume is not None:
            lines.append(f"volumes: sum {format_rational(self.total_volume)}, domain "
                         f"{format_rational(self.domain_volume or 0)}")
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail} "
                         f"({c.checked} checked, {c.seconds:.3f} s)")
        for f in self.failures[:10]:
            lines.append(f"  {f.kind}: {f.message}")
        return "\n".join(lines)


# -- exact sign vectors of points (an integer forward pass of our own) ---------------------------

def _lcm_den(values: Sequence[Fraction]) -> int:
    return common_denominator(Fraction(v) for v in values)


def _integer_layer_matrices(net: Network) -> list[fmpz_mat]:
    """``L [W | b]`` per layer, with ``L > 0`` clearing the layer's denominators."""
    mats = []
    for layer in net.layers:
        vals = [v for row in layer.W for v in row] + list(layer.b)
        L = _lcm_den(vals)
        mats.append(fmpz_mat([[int(w * L) for w in row] + [int(bj * L)]
                              for row, bj in zip(layer.W, layer.b)]))
    return mats


def _domain_matrix(domain: Domain) -> fmpz_mat:
    """Rows ``L_i [-A_i | c_i]``: ``(D x, D) . row`` has the sign of ``c_i - A_i x``."""
    return fmpz_mat(domain_rows(domain))


def _signs_of(M: fmpz_mat) -> np.ndarray:
    return _signs_arr(np.array(M.entries(), dtype=object).reshape(M.nrows(), M.ncols()))


def _signs_arr(arr: np.ndarray) -> np.ndarray:
    return (arr > 0).astype(np.int8) - (arr < 0).astype(np.int8)


def exact_sign_vectors(
    net: Network,
    domain: Domain,
    points: Sequence[Sequence[int]],
    with_output: bool | str | None = False,
) -> np.ndarray:
    """Exact sign vectors (hidden entries, domain facets, outputs) of homogeneous integer points.

    Parameters
    ----------
    points
        Rows ``(D x_1, ..., D x_n, D)`` of integers with ``D > 0``.
    with_output
        ``False``/``None`` (no output part), ``True`` or ``"zero"`` (``sign(F_j)``) or
        ``"argmax"`` (``sign(F_j - max F)``).

    Returns
    -------
    numpy.ndarray
        ``int8`` array with one row per point, laid out like :attr:`PolyhedralComplex.signs`.

    Each layer's integer matrix is ``L [W | b]`` with one common ``L > 0`` for the whole layer,
    so values of one layer can be compared (max units, argmax); a layer with leaky units of
    slopes ``p/q`` scales its outputs by the lcm ``Q`` of the ``q`` so they stay integers. The
    homogeneous coordinate is scaled like the values, layer by layer.
    """
    refinement = _refinement_name(with_output)
    # the filter for one or two layers of plain ReLUs (deeper layers would need the integer pass
    # at most points anyway: every vertex lies on some hyperplane of the deepest layer)
    if (len(points) and refinement != "argmax" and len(net.layers) <= 3
            and all(L.units is None for L in net.layers[:-1])):
        pts: list[tuple[int, ...]] = (cast(list[tuple[int, ...]], points) if _int_tuples(points, len(points[0]))
                                      else [tuple(map(int, p)) for p in points])
        floats = _float_points(pts)
        if floats is not None:
            return _filtered_sign_vectors(net, domain, pts, refinement, *floats)
    return _integer_sign_vectors(net, domain, points, refinement)


def _integer_sign_vectors(net: Network, domain: Domain, points: Sequence[Sequence[int]],
                          refinement: str | None) -> np.ndarray:
    """:func:`exact_sign_vectors` by the integer forward pass alone (every network, every point)."""
    N = len(points)
    nh = net.num_hidden
    m = domain.num_facets
    width = nh + m + (net.output_dim if refinement else 0)
    if N == 0:
        return np.zeros((N, width), dtype=np.int8)
    gmp = _gmp()
    if gmp is not None and refinement in (None, "zero") and all(L.units is None for L in net.layers[:-1]):
        # the same pass in GMP integers, point by point (plain ReLU stages: outputs relu(z), the
        # homogeneous coordinate times each layer's factor)
        pts = [tuple(p) for p in points]
        out = np.zeros((N, width), dtype=np.int8)
        out[:, nh:nh + m] = gmp.sign_table([tuple(r) for r in domain_rows(domain)], pts)[0]
        nl = len(net.layers) if refinement else len(net.layers) - 1
        if nl:
            rows = [[tuple(int(x) for x in row) for row in M.tolist()] for M in _integer_layer_matrices(net)[:nl]]
            buf = np.empty((N, sum(len(M) for M in rows)), dtype=np.int8)
            gmp.forward_signs(rows, [_layer_factor(net, li) for li in range(nl)], pts, buf)
            out[:, :nh] = buf[:, :nh]
            if refinement:
                out[:, nh + m:] = buf[:, nh:]
        return out
    X = fmpz_mat([[int(x) for x in p] for p in points])
    out = np.zeros((N, width), dtype=np.int8)
    out[:, nh:nh + m] = _signs_of(X * _domain_matrix(domain).transpose())
    mats = _integer_layer_matrices(net)
    pos = 0
    cur = X
    t = np.array([int(p[-1]) for p in points], dtype=object)  # the homogeneous coordinate
    last = len(mats) - 1
    for li, M in enumerate(mats):
        if li == last and not refinement:
            break
        Z = np.array((cur * M.transpose()).entries(), dtype=object).reshape(N, M.nrows())
        if li == last:
            if refinement == "argmax":
                out[:, nh + m:] = np.where(Z == Z.max(axis=1)[:, None], 0, -1)
            else:
                out[:, nh + m:] = _signs_arr(Z)
            break
        sg, post, Q = _stage_of(net.layers[li], Z)
        out[:, pos:pos + sg.shape[1]] = sg
        pos += sg.shape[1]
        t = t * (_layer_factor(net, li) * Q)
        nxt = np.hstack([post, t[:, None]])
        cur = fmpz_mat(N, nxt.shape[1], nxt.ravel().tolist())
    return out


# -- the certificate's float filter ---------------------------------------------------------------
#
# :func:`exact_sign_vectors` on networks of plain ReLU layers decides most signs in float64 with a
# proven error bound, and computes the others exactly. It shares nothing with the builder's
# kernel (exactcells.kernel) but, when it is built, the module of exact integer signs over GMP
# (exactcells._exactc, whose own filter and proof are in its docstring; it also rebuilds the
# kernel's exact coordinates): the points' floats (P1 below, its (F1) there) and the exact signs of
# the entries this filter leaves undecided. The pure-Python path computes the same signs (tests
# compare the two on hypothesis networks and adversarial points).
#
# Notation: u = 2^-53 (float64, round to nearest), gamma_k = k u / (1 - k u), eta = 2^-1000.
# ``W, b`` are a layer's exact rational weights, ``W^, b^`` their float64 roundings
# (``float(Fraction)`` is correctly rounded): ``|W^ - W| <= u |W|``, so ``|W| <= |W^| / (1 - u)``.
# Where that fails (a weight beyond the float range, or one that is not 0 but rounds below
# ``2^-1022``) ``W^`` is NaN (``Network.filter_layers``): every value and bound it enters is NaN
# and decides nothing (P3).
#
# (P1) Points. ``x^_i = fl(D x_i / D)`` (CPython's int / int is correctly rounded):
#      ``|x^ - x| <= u |x| + 2^-1075 <= 2 u |x^| + eta``, and ``x^_i = 0`` with bound 0 where
#      ``D x_i = 0``. A coordinate too large for a float sends the whole call to the integer pass.
#      With the GMP module, ``x^_i`` is (F1) of :mod:`exactcells._exactc`: ``|x^ - x| <= 4 u |x^|``,
#      and the bound used, ``fl(5 u |x^|) + eta``, exceeds it; a point (F1) cannot convert gets NaN
#      values and infinite bounds, so every entry of it goes to the exact path (P3).
# (P2) A layer. Let ``|y^ - y| <= r`` (entrywise) for the exact layer input ``y``. The computed
#      ``z^ = fl(W^ y^ + b^)`` (a dot product of ``m`` terms plus one addition, any order, FMA
#      or not) has ``|z^ - (W^ y^ + b^)| <= gamma_{m+1} (|W^| |y^| + |b^|)`` (underflow aside),
#      and ``|(W^ y^ + b^) - (W y + b)| <= u |W| |y^| + |W| r + u |b|``. With ``c = gamma_{m+2}
#      >= gamma_{m+1} + u``, the exact value ``z = W y + b`` satisfies
#          |z^ - z| <= T / (1 - u),   T = |W^| (r + c |y^|) + c |b^|.
#      ``T`` is computed in float64 from non-negative terms, each through at most ``m + 4``
#      roundings, so the computed ``T~ >= T (1 - (m + 4) u)``; the bound used is
#          R = fl(fl(T~ F) + eta),   F = 1 + 8 (m + 5) u,
#      and ``R >= T / (1 - u) + eta / 2`` (for ``(m + 6) u < 1/8``, i.e. any real width): the
#      ``eta / 2`` absorbs every underflow (at most ``2 (m + 4)`` operations per entry, each off by
#      at most ``2^-1074``). A value or bound that is not finite decides nothing.
# (P3) A sign. If ``|z^| > R`` (both finite), ``sign(z) = sign(z^)``. Every other entry is
#      computed exactly (below); in particular every exact zero is.
# (P4) ReLU. ``relu`` is 1-Lipschitz: ``y'^ = max(z^, 0)`` is within ``R`` of ``relu(z)``; where the
#      exact sign is ``<= 0`` (decided by P3 or exactly) the output is exactly 0, bound 0.
#
# Exact values of undecided entries, on the certificate's integer matrices (``M_l = L_l [W | b]``,
# the homogeneous coordinate scaled by ``L_0`` after the first layer, as in the integer pass):
# layer 0: ``M_0[j] . h``; layer 1: ``sum_{i : s_i} M_1[k, i] M_0[i] . h + M_1[k, w] L_0 D`` with
# ``s_i = [M_0[i] . h > 0]`` the exact signs of layer 0 (all decided by then), that is ``A . h``
# with ``A = sum_{i : s_i} (M_1[k, i] M_0[i])``, a 0/1 combination of fixed integer rows, summed
# exactly in int64 pieces (:func:`exactcells.localforms.select_sums`); deeper layers and outputs: the whole point goes
# through the integer pass (:func:`_integer_sign_vectors`). The domain's facet entries
# ``sign(c_i - A_i x)`` are a "layer" like the others (weights ``-A``, biases ``c``, rounded to
# nearest: P2 and P3 hold verbatim on the points of P1); the entries P3 cannot decide (every point
# on a facet) are computed exactly on the integer rows ``L_i [-A_i | c_i]``.

_U = 2.0**-53
_ETA = 2.0**-1000


def _int_tuples(points: Sequence[Sequence[int]], width: int) -> bool:
    """Whether ``points`` is a list of homogeneous points ``(D x, D)``, ``D > 0``, each a tuple of
    ``width`` Python ints already (usable without a copy)."""
    if type(points) is not list:
        return False
    gmp = _gmp()
    if gmp is not None:
        return bool(gmp.int_points(points, width) < 0)
    return (set(map(type, points)) <= {tuple} and set(map(type, chain.from_iterable(points))) <= {int}
            and all(len(p) == width and p[-1] > 0 for p in points))


def _gmp() -> Any:
    """The GMP module or ``None`` (:func:`exactcells.kernel.gmp_module`, read at each call: tests
    switch it)."""
    from .kernel import gmp_module

    return gmp_module()


def _float_points(points: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray] | None:
    """Float coordinates and their bounds (P1), or ``None`` if a coordinate is too large
    (``points``: Python integers, so that ``/`` is CPython's correctly rounded division)."""
    n = len(points[0]) - 1
    gmp = _gmp()
    if gmp is not None:
        X = np.empty((len(points), n))
        R = np.empty((len(points), n))
        gmp.float_points(list(points), X, R)
        return X, R
    try:
        X = np.array([[p[i] / p[n] for i in range(n)] for p in points], dtype=float).reshape(len(points), n)
    except OverflowError:
        return None
    nz = np.array([[p[i] != 0 for i in range(n)] for p in points], dtype=bool).reshape(len(points), n)
    with np.errstate(all="ignore"):
        R = np.where(nz, 2 * _U * np.abs(X) + _ETA, 0.0)
    return X, R


def _float_layer(W: np.ndarray, b: np.ndarray, Y: np.ndarray, R: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``z^`` and its bound (P2), and the entries whose sign P3 decides (``W, b``: the layer's
    weights rounded to nearest, :meth:`Network.float_layers`)."""
    m = Y.shape[1]
    c = (m + 2) * _U / (1 - (m + 2) * _U)
    with np.errstate(all="ignore"):
        Z = Y @ W.T + b
        T = (R + c * np.abs(Y)) @ np.abs(W).T + c * np.abs(b)
        B = T * (1 + 8 * (m + 5) * _U) + _ETA
        sure = np.isfinite(Z) & np.isfinite(B) & (np.abs(Z) > B)
    return Z, B, sure


def _compiled_layer(gmp: Any, W: np.ndarray, b: np.ndarray, Y: np.ndarray, RY: np.ndarray,
                    live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_float_layer` (and P4 from ``live``, the previous layer's exact signs, if not empty)
    compiled: the signs (0 where undecided), ``Z``, ``B`` and the undecided entries' positions."""
    N, k = Y.shape[0], W.shape[0]
    Z = np.empty((N, k))
    B = np.empty((N, k))
    sg = np.empty((N, k), dtype=np.int8)
    nbad = gmp.filter_layer(np.ascontiguousarray(W, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64),
                            np.ascontiguousarray(Y), np.ascontiguousarray(RY), np.ascontiguousarray(live), Z, B, sg)
    todo = np.argwhere(sg == 2) if nbad else np.zeros((0, 2), dtype=np.int64)
    if nbad:
        sg[todo[:, 0], todo[:, 1]] = 0
    return sg, Z, B, todo


def _filtered_sign_vectors(net: Network, domain: Domain, points: Sequence[Sequence[int]],
                           refinement: str | None, X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """:func:`exact_sign_vectors` for plain ReLU layers: the float filter above, exact elsewhere."""
    N = len(points)
    nh = net.num_hidden
    m = domain.num_facets
    width = nh + m + (net.output_dim if refinement else 0)
    out = np.zeros((N, width), dtype=np.int8)
    # the domain's facets: a "layer" with weights -A and biases c (P2 and P3 as for the network's
    # layers, the rational entries rounded to nearest, NaN where that is not within relative
    # error u), exact integer rows where undecided
    Wd = np.array([[filter_float(-a) for a in row] for row in domain.A], dtype=float).reshape(m, len(points[0]) - 1)
    bd = np.array([filter_float(c) for c in domain.c], dtype=float)
    gmp = _gmp()
    pl = list(points)
    none = np.zeros((0, 0), dtype=np.int8)
    if gmp is not None:  # the same pass compiled (undecided: 2, set below)
        sd, _, _, todo_d = _compiled_layer(gmp, Wd, bd, X, R, none)
    else:
        Zd, _, sure_d = _float_layer(Wd, bd, X, R)
        sd = np.where(sure_d, np.sign(Zd), 0).astype(np.int8)
        todo_d = np.argwhere(~sure_d)
    drows = domain_rows(domain)
    if gmp is not None and todo_d.size:
        got = np.empty(todo_d.shape[0], dtype=np.int8)
        gmp.dot_signs([tuple(r) for r in drows], pl, np.ascontiguousarray(todo_d[:, 1]),
                      np.ascontiguousarray(todo_d[:, 0]), got)
        sd[todo_d[:, 0], todo_d[:, 1]] = got
    else:
        for r, i in todo_d.tolist():
            v = sum(map(mul, drows[i], points[r]))
            sd[r, i] = (v > 0) - (v < 0)
    out[:, nh:nh + m] = sd
    mats = [[[int(x) for x in row] for row in M.tolist()] for M in _integer_layer_matrices(net)]
    M0t = [tuple(r) for r in mats[0]]  # the first layer's rows for the GMP module
    last = len(net.layers) - 1
    deep = np.zeros(N, dtype=bool)  # points with an undecided entry below layer 1
    floats = net.filter_layers()
    Y, RY = X, R
    live = none
    pos = 0
    for li in range(len(net.layers)):
        if li == last and not refinement:
            break
        if gmp is not None:  # P4 is applied inside, from the previous layer's exact signs
            sg, Z, B, todo = _compiled_layer(gmp, *floats[li], Y, RY, live)
        else:
            Z, B, sure = _float_layer(*floats[li], Y, RY)
            sg = np.where(sure, np.sign(Z), 0).astype(np.int8)
            todo = np.argwhere(~sure)
        if todo.size and li == 0 and gmp is not None:
            got = np.empty(todo.shape[0], dtype=np.int8)
            gmp.dot_signs(M0t, pl, np.ascontiguousarray(todo[:, 1]),
                          np.ascontiguousarray(todo[:, 0]), got)
            sg[todo[:, 0], todo[:, 1]] = got
        elif todo.size and li == 0:
            M0 = mats[0]
            for r, j in todo.tolist():
                v = sum(map(mul, M0[j], points[r]))
                sg[r, j] = (v > 0) - (v < 0)
        elif todo.size and li == 1 and gmp is not None:
            w = len(mats[0])
            L0 = _layer_factor(net, 0)
            M1 = mats[1]
            got = np.empty(todo.shape[0], dtype=np.int8)
            gmp.relu_signs(M0t, [r[:w] for r in M1], [r[w] * L0 for r in M1],
                           np.ascontiguousarray(out[:, :pos] > 0, dtype=np.uint8), pl,
                           np.ascontiguousarray(todo[:, 0]), np.ascontiguousarray(todo[:, 1]), got)
            sg[todo[:, 0], todo[:, 1]] = got
        elif todo.size and li == 1:
            _exact_second_layer(mats, net, points, out[:, :pos] > 0, todo, sg)
        elif todo.size:
            deep[todo[:, 0]] = True
        cols = slice(pos, pos + sg.shape[1]) if li < last else slice(nh + m, width)
        out[:, cols] = sg
        pos += sg.shape[1]
        if li < last and gmp is not None:
            Y, RY, live = Z, B, sg
        elif li < last:  # P4
            alive = sg > 0
            Y = np.where(alive, np.maximum(Z, 0.0), 0.0)
            RY = np.where(alive, B, 0.0)
    if deep.any():
        rows = np.flatnonzero(deep)
        out[rows] = _integer_sign_vectors(net, domain, [points[i] for i in rows.tolist()], refinement)
    return out


def _exact_second_layer(mats: list[list[list[int]]], net: Network, points: Sequence[Sequence[int]],
                        S: np.ndarray, todo: np.ndarray, sg: np.ndarray) -> None:
    """Exact signs of the entries ``todo`` (pairs point, row) of layer 1, into ``sg``; ``S``: the
    exact activation pattern of layer 0 at every point (True: the ReLU passes)."""
    M0, M1 = mats[0], mats[1]
    w = len(M0)
    L0 = _layer_factor(net, 0)
    n = len(points[0]) - 1
    # one form per distinct activation pattern and row (many points share them)
    bits = np.packbits(S, axis=1)
    pat = np.unique(bits.view(np.dtype((np.void, bits.shape[1]))).ravel(), return_inverse=True)[1].ravel() \
        if S.shape[1] else np.zeros(S.shape[0], dtype=np.int64)
    for k in np.unique(todo[:, 1]).tolist():
        rs = todo[todo[:, 1] == k, 0]
        upat, first, inv = np.unique(pat[rs], return_index=True, return_inverse=True)
        forms = select_sums(S[rs[first]].astype(np.int64), [[M1[k][i] * a for a in M0[i]] for i in range(w)])
        tail = M1[k][w] * L0
        for form in forms:
            form[n] += tail  # the bias on the homogeneous coordinate
        for r, f in zip(rs.tolist(), np.asarray(inv).ravel().tolist()):
            v = sum(map(mul, forms[f], points[r]))
            sg[r, k] = (v > 0) - (v < 0)


def _refinement_name(with_output: bool | str | None) -> str | None:
    if with_output is True:
        return "zero"
    return with_output or None


def _stage_of(layer: Layer, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sign entries, integer outputs (times ``Q``) and ``Q`` of a stage on integer values ``Z``
    (one row per point, one column per pre-activation; one common scale in the layer)."""
    sz = _signs_arr(Z)
    if layer.units is None:
        return sz, np.where(sz > 0, Z, 0), 1
    Q = common_denominator(u.slope for u in layer.units if u.kind == "leaky")
    sgs: list[np.ndarray] = []
    outs: list[np.ndarray] = []
    for u in layer.units:
        if u.kind == "max":
            block = Z[:, list(u.inputs)]
            top = block.max(axis=1)
            sgs.append(np.where(block == top[:, None], 0, -1))
            outs.append(top * Q)
            continue
        z = Z[:, u.inputs[0]]
        if u.kind == "linear":
            outs.append(z * Q)
            continue
        sgs.append(sz[:, u.inputs[0]][:, None])
        neg = int(u.slope * Q) if u.kind == "leaky" else 0
        outs.append(np.where(z > 0, z * Q, z * neg))
    N = Z.shape[0]
    sg = np.concatenate(sgs, axis=1).astype(np.int8) if sgs else np.zeros((N, 0), dtype=np.int8)
    post = np.stack(outs, axis=1) if outs else np.zeros((N, 0), dtype=object)
    return sg, post, Q


def _layer_factor(net: Network, li: int) -> int:
    layer = net.layers[li]
    return _lcm_den([v for row in layer.W for v in row] + list(layer.b))


def _lex_sign_vector(
    net: Network, domain: Domain, p: Sequence[Fraction], d: Sequence[Fraction],
    with_output: bool | str | None,
) -> tuple[int, ...]:
    """Exact sign vector at ``p + e d`` for ``e -> 0+`` (first-order lexicographic pass)."""
    def sgn(v: tuple[Fraction, Fraction]) -> int:
        if v[0] != 0:
            return 1 if v[0] > 0 else -1
        return (v[1] > 0) - (v[1] < 0)

    hidden, outs = net.lex_signs(p, d)
    out = list(hidden)
    for row, ci in zip(domain.A, domain.c):
        v = (ci - sum((w * x for w, x in zip(row, p)), Fraction(0)), -sum((w * y for w, y in zip(row, d)), Fraction(0)))
        out.append(sgn(v))
    refinement = _refinement_name(with_output)
    if refinement == "argmax":
        top = max(outs)
        out.extend(0 if v == top else -1 for v in outs)
    elif refinement:
        out.extend(sgn(v) for v in outs)
    return tuple(out)


# -- the certificate -----------------------------------------------------------------------------

class _KeyIndex:
    """Cell index by sign-vector bytes, built on the first lookup (only diagnostics need it)."""

    def __init__(self, S: np.ndarray) -> None:
        self._S = S
        self._d: dict[bytes, int] | None = None

    def get(self, key: bytes) -> int | None:
        if self._d is None:
            self._d = {row.tobytes(): i for i, row in enumerate(self._S)}
        return self._d.get(key)


class _Recorder:
    def __init__(self) -> None:
        self.checks: list[CheckResult] = []
        self.failures: list[Failure] = []
        self.counts: dict[str, int] = {}
        self._t = time.perf_counter()

    def fail(self, f: Failure) -> None:
        c = self.counts.get(f.kind, 0)
        self.counts[f.kind] = c + 1
        if c < MAX_WITNESSES:
            self.failures.append(f)

    def start(self, at: float | None = None) -> None:
        self._t = time.perf_counter() if at is None else at

    def done(self, name: str, checked: int, kinds: Sequence[str], before: dict[str, int],
             detail: str) -> None:
        nf = sum(self.counts.get(k, 0) - before.get(k, 0) for k in kinds)
        self.checks.append(CheckResult(name, nf == 0, int(checked), int(nf),
                                       time.perf_counter() - self._t, detail))


def _point_str(h: Sequence[int]) -> tuple[str, ...]:
    return tuple(format_rational(Fraction(int(x), int(h[-1]))) for x in h[:-1])


# -- the checks ----------------------------------------------------------------------------------
#
# Every check has one signature: it reads the claimed complex (and what earlier checks derived)
# from a :class:`_Context`, records its failures there, and returns how many items it examined
# and a one-line description; :func:`certify` times it and counts its failures (by the failure
# kinds it declares) into a :class:`CheckResult`. To add a check, write such a function and list
# it in :data:`CHECKS`.

@dataclass
class _Options:
    volumes: bool
    affine_dims: bool
    interior_forward: bool
    cdd_regions: int | None
    jobs: int | None


class _Context:
    """The claimed complex under test as arrays, and what the checks derive from it.

    Derived arrays (the cofacet lists, the exact sign vectors of the vertices) are computed on
    first use, inside the check that needs them first, so they count towards its time.
    """

    def __init__(self, K: PolyhedralComplex, options: _Options) -> None:
        self.K = K
        self.options = options
        self.rec = _Recorder()
        self.net, self.dom = K.network, K.domain
        self.n = self.dom.dim
        self.N = K.num_cells
        self.S = np.asarray(K.signs, dtype=np.int8)
        self.dims = np.asarray(K.dims, dtype=np.int64)
        self.indptr, self.indices = (np.asarray(a, dtype=np.int64) for a in K.facet_csr)
        self.nh, self.m = self.net.num_hidden, self.dom.num_facets
        self.width = self.nh + self.m + (self.net.output_dim if K.with_output else 0)
        self.f0 = int(np.count_nonzero(self.dims == 0))
        self.H: list[tuple[int, ...]] = []
        self.ok_format = True
        # set by _claimed_structure once the format check has passed
        self.key_index = _KeyIndex(self.S)  # built on first use: only failures need it
        import scipy.sparse as sp
        self.B: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.int64)
        self.V: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.int64)
        self.tops = np.zeros(0, dtype=np.int64)
        self.volumes: _VolumeRun | None = None
        # set by the checks
        self.mism = np.zeros(0, dtype=np.int64)  # cells whose join check failed (cell_signs)
        self.total: Fraction | None = None
        self.dvol: Fraction | None = None
        self.ncdd = 0
        self._sigma: np.ndarray | None = None
        self._cof: tuple[np.ndarray, np.ndarray] | None = None
        self._words: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def f_vector(self) -> tuple[int, ...]:
        return tuple(int(np.count_nonzero(self.dims == k)) for k in range(self.n + 1))

    @property
    def owners(self) -> np.ndarray:
        """The cell owning each entry of ``indices`` (the cofacet side of each facet link)."""
        return np.repeat(np.arange(self.N, dtype=np.int64), np.diff(self.indptr))

    @property
    def sigma(self) -> np.ndarray:
        """Exact sign vectors of the claimed vertex coordinates (the certificate's forward pass)."""
        if self._sigma is None:
            self._sigma = exact_sign_vectors(self.net, self.dom, self.H, self.K.output_refinement)
        return self._sigma

    @property
    def words(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_sign_words` of the claimed sign vectors (computed once)."""
        if self._words is None:
            self._words = _sign_words(self.S)
        return self._words

    @property
    def cofacets(self) -> tuple[np.ndarray, np.ndarray]:
        """The claimed cofacet lists as a CSR pair ``(pointer, indices)``."""
        if self._cof is None:
            ptr, ind = self.K.cofacet_csr()
            self._cof = (np.asarray(ptr, dtype=np.int64), np.asarray(ind, dtype=np.int64))
        return self._cof

    def fail(self, f: Failure) -> None:
        self.rec.fail(f)


CheckFn = Callable[[_Context], tuple[int, str]]


@dataclass(frozen=True)
class _Check:
    """One named check: ``run(ctx) -> (items checked, detail)``; its failures are counted by
    ``kinds``. ``stage`` is the name passed to the progress callback (``None``: not announced),
    ``enabled`` decides from the options whether it runs."""

    name: str
    stage: str | None
    kinds: tuple[str, ...]
    run: CheckFn
    enabled: Callable[[_Options], bool] = lambda o: True


def _check_format(ctx: _Context) -> tuple[int, str]:
    """Shapes, index ranges, the dimension order and the homogeneous vertex coordinates."""
    K, S, dims, indptr, indices, N, n = ctx.K, ctx.S, ctx.dims, ctx.indptr, ctx.indices, ctx.N, ctx.n

    def bad(msg: str) -> None:
        ctx.ok_format = False
        ctx.fail(Failure("format", None, None, None, "", "", msg))

    if S.ndim != 2 or S.shape != (N, ctx.width):
        bad(f"signs have shape {S.shape}, expected ({N}, {ctx.width})")
    elif S.size and (S.min() < -1 or S.max() > 1):
        bad("a sign entry is not -1, 0 or 1")
    if indptr.shape != (N + 1,) or (N and (indptr[0] != 0 or np.any(np.diff(indptr) < 0))):
        bad("facet_indptr is not a valid CSR pointer")
    elif indices.size != indptr[-1] or (indices.size and (indices.min() < 0 or indices.max() >= N)):
        bad("facet_indices out of range")
    if N and (np.any(np.diff(dims) < 0) or dims.min() < 0 or dims.max() > n):
        bad("dims are not sorted in 0..n")
    if K.num_vertex_coords != ctx.f0:
        bad(f"{K.num_vertex_coords} vertex coordinate vectors for {ctx.f0} cells of dimension 0")
    if ctx.ok_format:
        H = (list(K._coords) if type(K) is PolyhedralComplex
             else [K.vertex_homogeneous(v) for v in range(ctx.f0)])
        if _int_tuples(H, n + 1):  # well formed as they are
            ctx.H = H
        else:
            ctx.H = [tuple(map(int, h)) for h in H]
            if any(len(h) != n + 1 or h[-1] <= 0 for h in ctx.H):
                bad("a vertex is not a homogeneous vector (D x, D) with D > 0")
    else:
        ctx.H = []
    return N, "shapes, ranges, dimension order"


def _check_unique_keys(ctx: _Context) -> tuple[int, str]:
    """Cells in canonical order (dimension, then sign vector) and no sign vector twice."""
    S, dims, N = ctx.S, ctx.dims, ctx.N
    if _strictly_increasing(S, dims):  # in canonical order, every sign vector once
        return N, "sign vectors distinct and in canonical order"
    order = _canonical_order(S, dims)
    if not np.array_equal(order, np.arange(N)):
        first = int(np.flatnonzero(order != np.arange(N))[0])
        ctx.fail(Failure("canonical_order", first, sign_key(S[first]), None,
                         f"cell {int(order[first])} at position {first}", f"cell {first}",
                         "cells are not ordered by dimension, then sign vector"))
    sorted_keys = S[order]
    dup = np.flatnonzero(np.all(sorted_keys[1:] == sorted_keys[:-1], axis=1)) if N > 1 else np.array([], int)
    for d in dup.tolist():
        a, b = int(order[d]), int(order[d + 1])
        ctx.fail(Failure("extra_cell", b, sign_key(S[b]), None, "one cell per sign vector",
                         f"cells {a} and {b} share it",
                         f"cells {a} and {b} have the same sign vector: one of them is extra"))
    return N, "sign vectors distinct and in canonical order"


def _strictly_increasing(S: np.ndarray, dims: np.ndarray) -> bool:
    """Whether the rows (dimension, then sign vector) strictly increase in the order of
    :func:`_canonical_order`: each row's key, as the byte string of :func:`_canonical_order`
    read as big-endian 64-bit words (zero padded: the same order as the bytes), exceeds the
    previous one at their first differing word. Linear time; no sort."""
    N, width = S.shape
    if N < 2:
        return True
    if dims.min() < 0 or dims.max() > 255:  # pragma: no cover - the format check
        return False
    nw = -(-(width + 1) // 8)
    keys = np.zeros((N, nw * 8), dtype=np.uint8)
    keys[:, 0] = dims
    keys[:, 1:width + 1] = S.view(np.uint8) ^ 0x80  # int8 + 128 (two's complement)
    w = keys.view(">u8").astype(np.uint64)
    a, b = w[:-1], w[1:]
    neq = a != b
    first = np.argmax(neq, axis=1)
    rows = np.arange(N - 1)
    return bool(np.all(neq[rows, first]) and np.all(b[rows, first] > a[rows, first]))


def _canonical_order(S: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """The stable order of the cells by dimension, then sign vector (lexicographic, entries as
    signed integers): one stable sort of byte strings (the dimension, then every entry plus
    128, which maps int8 onto 0..255 in order), the order ``np.lexsort`` of the columns gives,
    and linear time on rows that are already in order."""
    N, width = S.shape
    if N == 0 or dims.min() < 0 or dims.max() > 255:  # pragma: no cover - the format check
        return np.lexsort(tuple(S[:, k] for k in range(width - 1, -1, -1)) + (dims,))
    keys = np.empty((N, width + 1), dtype=np.uint8)
    keys[:, 0] = dims
    keys[:, 1:] = S.astype(np.int16) + 128
    return np.argsort(keys.view(np.dtype((np.void, width + 1))).ravel(), kind="stable")


def _check_vertex_signs(ctx: _Context) -> tuple[int, str]:
    """The exact sign vector of every vertex's coordinates equals its claimed one."""
    S, H, sigma = ctx.S, ctx.H, ctx.sigma
    cof_ptr, cof_ind = ctx.cofacets
    wrong_v = np.flatnonzero(np.any(sigma != S[:ctx.f0], axis=1))
    for v in wrong_v.tolist():
        cofs = cof_ind[cof_ptr[v]:cof_ptr[v + 1]]
        claimed_ok = all(_face_of(S[v], S[c]) for c in cofs)
        true_ok = all(_face_of(sigma[v], S[c]) for c in cofs)
        kind = "sign_vector_wrong" if (true_ok and not claimed_ok) else "vertex_moved"
        ctx.fail(Failure(kind, v, sign_key(S[v]), _point_str(H[v]), sign_key(sigma[v]), sign_key(S[v]),
                         f"vertex {v}: its coordinates have sign vector {sign_key(sigma[v])}, "
                         f"not the claimed {sign_key(S[v])}"
                         + (" (its coordinates are off)" if kind == "vertex_moved" else "")))
    return ctx.f0, ("exact sign vector of every vertex's coordinates equals its claimed one (the "
                    "certificate's own forward pass on the homogeneous coordinates: a float filter "
                    "with a proven bound, exact integers for every sign it cannot decide)")


def _check_facet_links(ctx: _Context) -> tuple[int, str]:
    """Every facet link is a face relation of codimension 1; every cell is linked."""
    S, dims, indptr, indices, n = ctx.S, ctx.dims, ctx.indptr, ctx.indices, ctx.n
    cof_ptr, _ = ctx.cofacets
    if indices.size:
        # s_f <= s_c entrywise (equal or 0) iff f's + entries are + in c and its - entries are -
        # in c: inclusions of bit masks, 64 entries per word
        pos, neg = ctx.words
        gmp = _gmp()
        if gmp is not None:  # the same test, compiled
            badl = gmp.facet_link_faults(pos, neg, indptr, indices, dims)
        else:
            owners = ctx.owners
            pf, pc, nf, nc = pos[indices], pos[owners], neg[indices], neg[owners]
            face = ~np.any((pf & ~pc) | (nf & ~nc), axis=1) & np.any((pf != pc) | (nf != nc), axis=1)
            codim = dims[indices] == dims[owners] - 1
            badl = np.flatnonzero(~(face & codim))
        owners = ctx.owners if badl.size else indices
        for e in badl.tolist():
            f, c = int(indices[e]), int(owners[e])
            ctx.fail(Failure("bad_facet_link", c, sign_key(S[c]), None,
                             f"facet of dimension {int(dims[c]) - 1} with sign vector below {sign_key(S[c])}",
                             f"cell {f} of dimension {int(dims[f])}: {sign_key(S[f])}",
                             f"link {f} -> {c} is not a facet relation"))
    nfac = np.diff(indptr)
    ncof = np.diff(cof_ptr)
    nofacet = np.flatnonzero((dims >= 1) & (nfac == 0))
    for c in nofacet.tolist():
        ctx.fail(Failure("extra_cell", int(c), sign_key(S[c]), None, "a cell with facets", "none",
                         f"cell {int(c)} of dimension {int(dims[c])} has no facets"))
    nocof = np.flatnonzero((dims < n - 1) & (ncof == 0))  # (n-1)-cells: see the walls check
    for c in nocof.tolist():
        up = np.flatnonzero(dims == dims[c] + 1)
        above = up[np.all((S[up] == S[c]) | (S[c] == 0), axis=1) & np.any(S[up] != S[c], axis=1)]
        if above.size:
            h = int(above[0])
            ctx.fail(Failure("dropped_facet_link", h, sign_key(S[h]), None,
                             f"cell {c} is a facet of cell {h}", "no link",
                             f"cell {h} lacks the link to its facet {c}"))
        else:
            ctx.fail(Failure("extra_cell", c, sign_key(S[c]), None, "a face of a top cell",
                             "no cofacet", f"cell {c} of dimension {int(dims[c])} is in no higher cell"))
    return int(indices.size), "each link f -> c has s_f < s_c and dim f = dim c - 1; every cell is linked"


def _sign_words(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries ``> 0`` and ``< 0`` of every sign vector as bit masks, ``uint64`` words per row
    (padded with zero bits)."""
    N, width = S.shape
    words = max(1, -(-width // 64))
    out = []
    for mask in (S > 0, S < 0):
        b = np.zeros((N, words * 8), dtype=np.uint8)
        b[:, :(width + 7) // 8] = np.packbits(mask, axis=1)
        out.append(b.view(np.uint64))
    return out[0], out[1]


def _check_cell_signs(ctx: _Context) -> tuple[int, str]:
    """Every cell's sign vector is the join of its vertices' (Lemma B); optionally an exact
    forward pass at every top cell's interior point."""
    S, V, width = ctx.S, ctx.V, ctx.width
    vptr, vind = V.indptr.astype(np.int64), V.indices.astype(np.int64)
    nv = np.diff(vptr)
    empty = np.flatnonzero(nv == 0)
    for c in empty.tolist():
        ctx.fail(Failure("extra_cell", int(c), sign_key(S[c]), None, "a cell with vertices", "none",
                         f"cell {int(c)} has no vertices"))
    nonempty = np.flatnonzero(nv > 0)
    # joins of the claimed vertex sign vectors (checked against coordinates by vertex_signs), as
    # bit masks: the join is + where some vertex is + (and none -), - likewise, 0 elsewhere
    pos, neg = ctx.words
    gmp = _gmp()
    if gmp is not None:  # the same joins, compiled
        jp, jn = gmp.joins(pos, neg, vptr, vind)
    else:
        starts = vptr[nonempty]
        jp = np.zeros_like(pos)
        jn = np.zeros_like(neg)
        if vind.size and pos.shape[1]:
            jp[nonempty] = np.bitwise_or.reduceat(pos[vind], starts, axis=0)
            jn[nonempty] = np.bitwise_or.reduceat(neg[vind], starts, axis=0)
    undefined = np.any(jp & jn, axis=1)
    mism = np.flatnonzero((np.any(jp != pos, axis=1) | np.any(jn != neg, axis=1) | undefined) & (nv > 0))
    ctx.mism = mism

    def join_of(c: int) -> np.ndarray:
        return (np.unpackbits(jp[c].view(np.uint8))[:width].astype(np.int8)
                - np.unpackbits(jn[c].view(np.uint8))[:width].astype(np.int8))

    for c in mism.tolist():
        if undefined[c]:
            ctx.fail(Failure("extra_cell", c, sign_key(S[c]), None, "vertices in one closed cell",
                             "vertices on both sides of a neuron's zero set",
                             f"cell {c}: its vertices straddle a zero set, it is no cell"))
            continue
        _classify_sign(ctx.rec, c, S, join_of(c), ctx.key_index, ctx.dims, "join of its vertices' sign vectors")
    # interior points of top cells: the point p = sum of the homogeneous vertex vectors is a
    # positive combination of the vertices, so (Lemma B, with the vertices' sign vectors exact by
    # vertex_signs and their join equal to the claim) sigma(p) is the claimed sign vector;
    # optionally it is recomputed by an independent exact forward pass
    interior_forward = ctx.options.interior_forward
    if interior_forward and ctx.tops.size and ctx.f0:
        _interior_forward(ctx, vptr, vind, nv)
    return ctx.N, ("every cell's sign vector is the join of its vertices' exact sign vectors, hence (Lemma "
                   "B) the exact sign vector of the interior point sum_v (D_v x_v, D_v) of every cell"
                   + ("; recomputed by an exact forward pass at every top cell's interior point"
                      if interior_forward else ""))


def _interior_forward(ctx: _Context, vptr: np.ndarray, vind: np.ndarray, nv: np.ndarray) -> None:
    """An exact forward pass at the point ``sum_v (D_v x_v, D_v)`` of every top cell."""
    S, H, n, tops = ctx.S, ctx.H, ctx.n, ctx.tops
    Hobj = np.empty((ctx.f0, n + 1), dtype=object)
    for v, hv in enumerate(H):
        Hobj[v, :] = hv
    P = np.add.reduceat(Hobj[vind], vptr[:-1][nv > 0], axis=0)
    rowpos = np.cumsum(nv > 0) - 1
    Ptop = [tuple(int(x) for x in P[rowpos[c]]) for c in tops]
    sig_top = exact_sign_vectors(ctx.net, ctx.dom, Ptop, ctx.K.output_refinement)
    mism_set = set(ctx.mism.tolist())
    for i in np.flatnonzero(np.any(sig_top != S[tops], axis=1)).tolist():
        c = int(tops[i])
        if c in mism_set:
            continue
        _classify_sign(ctx.rec, c, S, sig_top[i], ctx.key_index, ctx.dims, "sign vector at an interior point",
                       point=_point_str(Ptop[i]))


def _check_intervals(ctx: _Context) -> tuple[int, str]:
    """Edges have two vertices; intervals of length 2 have two middle elements."""
    S, dims, B, N, n = ctx.S, ctx.dims, ctx.B, ctx.N, ctx.n
    cof_ptr, cof_ind = ctx.cofacets
    nfac = np.diff(ctx.indptr)
    edges = np.flatnonzero(dims == 1)
    bad_edges = edges[nfac[edges] != 2]
    for e in bad_edges:
        _diagnose_edge(ctx.rec, int(e), S, ctx.sigma, ctx.H, ctx.V, ctx.f0, int(nfac[e]))
    n_intervals = 0
    for k in range(2, n + 1):
        sel = np.flatnonzero(dims == k)
        selb = np.flatnonzero(dims == k - 1)
        if sel.size == 0:
            continue
        import scipy.sparse as sp
        Rk = sp.csr_matrix((np.ones(sel.size, dtype=np.int64), (sel, sel)), shape=(N, N))
        Rb = sp.csr_matrix((np.ones(selb.size, dtype=np.int64), (selb, selb)), shape=(N, N))
        P2 = ((Rk @ B) @ (Rb @ B)).tocoo()
        n_intervals += P2.nnz
        for c, r, cnt in zip(P2.row[P2.data != 2], P2.col[P2.data != 2], P2.data[P2.data != 2]):
            _diagnose_interval(ctx.rec, int(r), int(c), int(cnt), S, B, cof_ptr, cof_ind, ctx.indptr,
                               ctx.indices)
    return int(edges.size + n_intervals), \
        "every edge has 2 vertices; every interval of length 2 has 2 middle elements"


def _check_walls(ctx: _Context) -> tuple[int, str]:
    """Each ``(n-1)``-cell lies in two top cells, or in one on the domain's boundary."""
    S, dims, n, nh, m = ctx.S, ctx.dims, ctx.n, ctx.nh, ctx.m
    cof_ptr, cof_ind = ctx.cofacets
    ncof = np.diff(cof_ptr)
    walls = np.flatnonzero(dims == n - 1)
    on_bd = np.any(S[walls][:, nh:nh + m] == 0, axis=1) if walls.size else np.zeros(0, bool)
    want = np.where(on_bd, 1, 2)
    for w, wn in zip(walls[ncof[walls] != want], want[ncof[walls] != want]):
        _diagnose_wall(ctx.rec, int(w), int(wn), ctx.K, S, cof_ptr, cof_ind, ctx.V, ctx.H, ctx.key_index)
    return int(walls.size), "each (n-1)-cell lies in 2 top cells, or in 1 on the domain's boundary"


def _check_euler(ctx: _Context) -> tuple[int, str]:
    """The Euler characteristic of the claimed f-vector is 1 (the domain is a polytope)."""
    f_vector = ctx.f_vector
    chi = sum((-1) ** k * f for k, f in enumerate(f_vector))
    if chi != 1:
        ctx.fail(Failure("euler_characteristic", None, None, None, "1", str(chi),
                         f"Euler characteristic {chi} (f-vector {f_vector})"))
    return 1, f"chi = {chi}"


def _check_volumes(ctx: _Context) -> tuple[int, str]:
    """The exact volumes of the top cells add up to the domain's volume."""
    assert ctx.volumes is not None
    S, dims = ctx.S, ctx.dims
    dvol = ctx.dom.volume()
    total, inconsistent = ctx.volumes.collect()
    ctx.total, ctx.dvol = total, dvol
    for c in inconsistent:
        ctx.fail(Failure("affine_dimension", c, sign_key(S[c]), None,
                         f"vertices in one {int(dims[c])}-flat", "not",
                         f"cell {c}: its facets' vertices do not lie in one affine subspace of "
                         f"dimension {int(dims[c])} (exact volume recursion)"))
    if total != dvol:
        ctx.fail(Failure("volume", None, None, None, format_rational(dvol), format_rational(total),
                         f"the top cells' volumes add up to {float_view(total):.6g}, the domain's "
                         f"volume is {float_view(dvol):.6g} ({'missing' if total < dvol else 'excess'} "
                         f"{format_rational(abs(dvol - total))})"))
    nproc = ctx.volumes.processes
    return int(ctx.tops.size), (
        f"sum of exact top-cell volumes = vol(D) = {format_rational(dvol)} (face recursion "
        f"in exterior algebra, exactcells.volumes"
        + (f"; {nproc} processes: this one and {nproc - 1} Dask worker task(s), overlapping the other "
           "checks)" if nproc > 1 else ")"))


def _check_affine_dims(ctx: _Context) -> tuple[int, str]:
    """Every cell's dimension is the rank of its exact homogeneous vertex matrix minus 1."""
    S, dims, H, V, n, N = ctx.S, ctx.dims, ctx.H, ctx.V, ctx.n, ctx.N
    vptr, vind = V.indptr.astype(np.int64), V.indices.astype(np.int64)
    Hf = [[fmpz(x) for x in h] for h in H]
    prim = {tuple(x // math.gcd(*h) for x in h) for h in H}
    distinct = len(prim) == ctx.f0
    vols_pos: set[int] = set()
    for c in range(N):
        vs = vind[vptr[c]:vptr[c + 1]]
        if vs.size == 0:
            continue
        d = int(dims[c])
        # cheap exact cases: a point; two distinct points; a top cell of positive volume
        if d == 0 and vs.size == 1:
            continue
        if d == 1 and vs.size == 2 and distinct:
            continue
        if d == n and c in vols_pos:
            continue
        r = int(fmpz_mat([Hf[v] for v in vs]).rank()) - 1
        if r != d:
            ctx.fail(Failure("affine_dimension", c, sign_key(S[c]), None, str(r), str(d),
                             f"cell {c}: claimed dimension {d}, its vertices span dimension {r}"))
    return N, ("dimension = rank of the exact homogeneous vertex matrix - 1 (points, edges with "
               "2 distinct vertices and top cells of positive exact volume need no elimination)")


def _check_cdd_regions(ctx: _Context) -> tuple[int, str]:
    """Top cells recomputed from their sign vectors with cddlib's exact kernel."""
    from .geometry import vertices_of

    tops, wanted = ctx.tops, ctx.options.cdd_regions
    chosen = tops if wanted is None or wanted >= tops.size else \
        tops[np.linspace(0, tops.size - 1, wanted).astype(np.int64)]
    for c in chosen:
        _cdd_region(ctx.rec, int(c), ctx.K, ctx.S, ctx.V, ctx.H, ctx.dims, ctx.B, ctx.key_index, vertices_of)
        ctx.ncdd += 1
    return ctx.ncdd, "cddlib (GMP) vertices and face lattice of top cells equal the claims"


#: The checks in the order they run (the format check first: the others assume its arrays).
CHECKS: tuple[_Check, ...] = (
    _Check("format", "format", ("format",), _check_format),
    _Check("unique_keys", "keys", ("canonical_order", "extra_cell"), _check_unique_keys),
    _Check("vertex_signs", "vertices", ("vertex_moved", "sign_vector_wrong"), _check_vertex_signs),
    _Check("facet_links", "links", ("bad_facet_link", "extra_cell"), _check_facet_links),
    _Check("cell_signs", "joins", ("sign_vector_wrong", "extra_cell"), _check_cell_signs),
    _Check("intervals", "intervals", ("missing_cell", "dropped_facet_link", "extra_cell"), _check_intervals),
    _Check("walls", "walls", ("missing_region", "dropped_facet_link", "extra_cell"), _check_walls),
    _Check("euler_characteristic", None, ("euler_characteristic",), _check_euler),
    _Check("volumes", "volumes", ("volume", "affine_dimension"), _check_volumes, lambda o: o.volumes),
    _Check("affine_dims", "affine_dims", ("affine_dimension",), _check_affine_dims, lambda o: o.affine_dims),
    _Check("cdd_regions", "cdd", ("cdd_mismatch",), _check_cdd_regions,
           lambda o: o.cdd_regions is None or o.cdd_regions > 0),
)


def _claimed_structure(ctx: _Context) -> None:
    """The claimed facet matrix, vertex sets (unions over facet links) and top cells."""
    N = ctx.N
    import scipy.sparse as sp
    ctx.B = sp.csr_matrix((np.ones(ctx.indices.size, dtype=np.int64), ctx.indices, ctx.indptr), shape=(N, N))
    ctx.V = _vertex_csr(N, ctx.f0, ctx.dims, ctx.B, ctx.n)
    ctx.tops = np.flatnonzero((ctx.dims == ctx.n) & (np.diff(ctx.V.indptr) > 0))


def _run_check(ctx: _Context, check: _Check, progress: Callable[[str], None] | None) -> None:
    if check.stage is not None and progress is not None:
        progress(check.stage)
    rec = ctx.rec
    before = dict(rec.counts)
    # the volumes run (partly) in worker processes started before the other checks: their time
    # counts from that start
    run = ctx.volumes
    started = run.started if check.name == "volumes" and run is not None and run.pending is not None else None
    rec.start(started)
    checked, detail = check.run(ctx)
    rec.done(check.name, checked, check.kinds, before, detail)


def certify(
    K: PolyhedralComplex,
    *,
    volumes: bool = False,
    affine_dims: bool = False,
    interior_forward: bool = False,
    cdd_regions: int | None = 0,
    jobs: int | None = None,
    progress: bool | Callable[[str], None] | None = None,
    scheduler: str | None = None,
) -> Certificate:
    """Certify that ``K`` is exactly the complex of ``K.network`` on ``K.domain``.

    The checks run are those of :data:`CHECKS` (in that order) that the options enable.

    Parameters
    ----------
    K
        The complex to check (built by exactcells or assembled from foreign arrays).
    volumes
        Also check that the exact volumes of the top cells add up to ``vol(D)``. Off by default:
        the structural checks imply it (module docstring), and it costs several times their
        time; an independent cross-check of the proof's implementation when asked.
    affine_dims
        Also check every cell's dimension against the exact rank of its vertices' affine hull.
        Off by default: the structural checks already prove every dimension (chains of facet
        links, module docstring), and the volume recursion finds a violated flat too.
    interior_forward
        Also recompute the sign vector at every top cell's interior point by an exact forward
        pass through the network. Off by default: Lemma B proves it from the checked vertices.
    cdd_regions
        Recompute this many top cells (evenly spread; ``None`` for all) from scratch with
        cddlib's exact kernel and compare vertices and face lattices. Slow (tens of ms per
        cell in 4-D); the structural checks do not need it.
    jobs
        Processes for the exact volumes: with ``jobs > 1`` the top cells are split into
        ``jobs`` groups (consecutive in canonical order, so spatially coherent); the volumes of
        all groups but the first are Dask tasks on a local cluster of ``jobs - 1`` worker
        processes (:func:`exactcells.parallel.cluster`; each task is sent only its group's
        closure), while this process runs the other checks and then the first, smaller (in
        1-D and 2-D empty) group. ``None`` (default): everything in this process, unless
        the volumes are expected to take :data:`AUTO_VOLUME_SECONDS` or more (by the number of
        top cells and :data:`VOLUME_MS_PER_REGION`) on a machine of 2 or more cores: then 2 (a
        local cluster costs seconds to start, more than the whole volume check of a smaller
        complex). Spawned Dask workers
        re-import the main module: a script that asks for ``jobs > 1`` needs the
        ``if __name__ == "__main__":`` guard.
    progress
        ``True``: a progress bar over the checks on stderr (:class:`exactcells.progress.Progress`,
        shown when stderr is a terminal); or a function, called with the name of each check as
        it starts.
    scheduler
        Address of a running Dask scheduler: the volume groups (one per worker with
        ``jobs=None``, else ``jobs - 1``) run on its workers instead of a local cluster.

    Returns
    -------
    Certificate
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise InvalidArgumentError(f"jobs (--jobs) must be a positive integer, got {jobs!r}")
    t0 = time.perf_counter()
    options = _Options(volumes, affine_dims, interior_forward, cdd_regions, jobs)
    ctx = _Context(K, options)
    first, *rest = [c for c in CHECKS if c.enabled(options)]
    bar: Progress | None = None
    note: Callable[[str], None] | None
    if callable(progress):
        note = progress
    elif progress:
        bar = Progress(sum(c.stage is not None for c in (first, *rest)), "checks")
        note = bar.step
    else:
        note = None
    try:
        _run_check(ctx, first, note)  # the format check
        if not ctx.ok_format:
            return _finish(ctx, t0)
        _claimed_structure(ctx)
        if volumes:
            ctx.volumes = _start_volumes(ctx, jobs, scheduler, announce=bool(progress))
        for check in rest:
            _run_check(ctx, check, note)
        return _finish(ctx, t0)
    finally:
        if ctx.volumes is not None:
            ctx.volumes.close()  # the other checks failed: stop the volume tasks' cluster
        if bar is not None:
            bar.close()


# -- the exact volumes, split over processes -----------------------------------------------------
#
# With ``jobs > 1`` (or a ``scheduler``) the volumes of all but the first group of top cells are
# Dask tasks (:func:`exactcells.parallel.cluster`: a local cluster of ``jobs - 1`` worker
# processes, or a running cluster), each sent only the closure of its group (renumbered, vertices
# first, canonical order kept), while this process runs the other checks and then the first group.
# The automatic choice (``jobs=None``) stays in this process unless the volumes are long: a local
# Dask cluster costs about 4 s to start and stop on the 2-core machine (measured 2026-12-01:
# 1.4 s to import distributed, 2.4 s to start one worker, 0.6 s to close), more than the whole
# volume check of the benchmark networks A-E (0.02-0.65 s) and most of F's (5.6 s). So small
# complexes never start Dask (no process at all is started for them), and there is no process
# pool of our own.

#: the automatic choice (``jobs=None``) splits the volumes over 2 processes (this one and one
#: Dask worker) when they are expected to take at least this long in one process: a local
#: cluster costs about 4 s to start and stop, and the worker's half must win that back
AUTO_VOLUME_SECONDS = 10.0
#: the volume check's time per top cell by input dimension in one process (ms; benchmarks/
#: RESULTS.md, "Time per check": E 0.10 in 2-D, C 0.12 in 3-D, F 0.65 and D 0.37 in 4-D)
VOLUME_MS_PER_REGION = {1: 0.05, 2: 0.1, 3: 0.15, 4: 0.65}


@dataclass
class _VolumeRun:
    """The volume check under way: ``processes`` in all, the workers' results pending."""

    job: dict[str, Any]
    processes: int
    started: float
    pending: Callable[[], list[tuple[int, int, list[int]]]] | None
    stop: Callable[[], None] | None = None

    def collect(self) -> tuple[Fraction, list[int]]:
        """The exact total volume of the top cells and the cells found inconsistent (sorted):
        this process's part first, then the workers'."""
        try:
            parts = [_volume_part_of(self.job, 0)] + (self.pending() if self.pending is not None else [])
        finally:
            self.close()
        total = sum((Fraction(p, q) for p, q, _ in parts), Fraction(0))
        return total, sorted({c for _, _, inc in parts for c in inc})

    def close(self) -> None:
        """Stop the Dask cluster (or disconnect from a running one), once."""
        stop, self.stop = self.stop, None
        if stop is not None:
            stop()


def _start_volumes(ctx: _Context, jobs: int | None, scheduler: str | None = None,
                   announce: bool = False) -> _VolumeRun:
    """Split the top cells into groups and start the Dask tasks for all but the first (this
    process takes a smaller share, or none: it runs the other checks first)."""
    tops, n = ctx.tops, ctx.n
    nproc = _volume_processes(jobs, tops.size, n, scheduler)
    job = {"n": n, "dims": ctx.dims, "S": ctx.S, "B": ctx.B, "V": ctx.V, "H": ctx.H, "net": ctx.net,
           "dom": ctx.dom, "refinement": ctx.K.output_refinement, "chunks": [tops]}
    started = time.perf_counter()
    if nproc == 1:
        return _VolumeRun(job, 1, started, None)
    import contextlib

    from .parallel import cluster

    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(cluster(nproc - 1, scheduler, announce=announce))
        if scheduler is not None and jobs is None:  # a running cluster: one group per worker
            nproc = 1 + max(1, len(client.scheduler_info().get("workers", {})))
        weights = np.array([_parent_weight(n)] + [1.0] * (nproc - 1))
        cuts = np.round(np.cumsum(weights) / weights.sum() * tops.size).astype(np.int64)
        job["chunks"] = np.split(tops, cuts[:-1])
        tag = f"{id(job):x}-{time.monotonic_ns():x}"
        futures = []
        for i in range(1, nproc):  # each group's closure is sent once, as data (not in the graph)
            [data] = client.scatter([_closure_job(job, i)], hash=False)
            futures.append(client.submit(_volume_part_of, data, 0, pure=False, key=f"ec-certify-volumes-{tag}-{i}"))
    except BaseException:
        stack.close()
        raise

    def wait() -> list[tuple[int, int, list[int]]]:
        return [(p, q, [int(x) for x in inc]) for p, q, inc in client.gather(futures)]

    return _VolumeRun(job, nproc, started, wait, stack.close)


def _parent_weight(n: int) -> float:
    """The main process's share of the volumes relative to a worker's.

    It runs the other checks first. In 1-D and 2-D those dominate (the exact forward pass over
    the vertices) and the volumes are cheap, so it takes none; in 3-D a small share; from 4-D on,
    where the volumes dominate, 0.6 of a worker's (measured on the benchmark networks).
    """
    return {1: 0.0, 2: 0.0, 3: 0.25}.get(n, 0.6)


def _closure_job(job: dict[str, Any], i: int) -> dict[str, Any]:
    """The volume job of group ``i`` alone: the closure of its top cells (their faces, down to
    the vertices) renumbered as a complex of its own, in the same order (vertices first), and
    ``ids``: the original number of every cell (to report inconsistent cells by it)."""
    from .volumes import closure

    chunk = job["chunks"][i]
    mask = closure(job["B"], job["dims"], chunk)
    ids = np.flatnonzero(mask)
    f0 = len(job["H"])
    vids = ids[ids < f0]
    B = job["B"][ids][:, ids].tocsr()
    V = job["V"][ids][:, vids].tocsr()
    B.sort_indices()
    V.sort_indices()
    return {"n": job["n"], "dims": job["dims"][ids], "S": job["S"][ids], "B": B, "V": V,
            "H": [job["H"][v] for v in vids.tolist()], "net": job["net"], "dom": job["dom"],
            "refinement": job["refinement"], "chunks": [np.searchsorted(ids, chunk)], "ids": ids}


def _volume_part_of(job: dict[str, Any], i: int) -> tuple[int, int, list[int]]:
    """Exact sum of the volumes of the top cells ``job["chunks"][i]`` (and inconsistent cells,
    by their number in the whole complex)."""
    from .volumes import closure

    chunk = job["chunks"][i]
    mask = closure(job["B"], job["dims"], chunk) if len(job["chunks"]) > 1 else None
    fv = face_volumes(job["n"], job["dims"], job["S"], job["B"], job["V"], job["H"],
                      LocalForms(job["net"], job["dom"], job["refinement"]), cells=mask)
    pairs = [(fv.nu[c], fv.L[c]) for c in chunk.tolist()]
    # first level of the summation tree unreduced: one gcd per pair of regions
    terms = [fmpq(a * d + c * b, b * d) for (a, b), (c, d) in zip(pairs[0::2], pairs[1::2])]
    if len(pairs) % 2:
        terms.append(fmpq(*pairs[-1]))
    s = _exact_sum(terms) / math.factorial(job["n"])
    inconsistent = fv.inconsistent if "ids" not in job else job["ids"][fv.inconsistent]
    return s.numerator, s.denominator, [int(c) for c in inconsistent]


def _volume_processes(jobs: int | None, ntops: int, n: int, scheduler: str | None = None) -> int:
    """Processes for the volumes: ``jobs`` (at most one per top cell); automatically 1 (no Dask)
    unless the volumes are expected to take :data:`AUTO_VOLUME_SECONDS` or more in one process
    (:data:`VOLUME_MS_PER_REGION`), then 2 on a machine of 2 or more cores; on a running cluster
    (``scheduler``) 2 (resized to its workers once connected)."""
    import os

    if jobs is None:
        if scheduler is not None:
            return 2 if ntops >= 2 else 1
        expected = ntops * VOLUME_MS_PER_REGION.get(n, 1.0) / 1000
        return 2 if expected >= AUTO_VOLUME_SECONDS and (os.cpu_count() or 1) >= 2 else 1
    return min(jobs, max(ntops, 1))


def _finish(ctx: _Context, t0: float) -> Certificate:
    K, rec = ctx.K, ctx.rec
    dims = np.asarray(K.dims, dtype=np.int64)
    n = K.input_dim
    fv = tuple(int(np.count_nonzero(dims == k)) for k in range(n + 1))
    return Certificate(
        certified=all(c.passed for c in rec.checks) and not any(rec.counts.values()),
        checks=tuple(rec.checks),
        failures=tuple(rec.failures),
        failure_counts={k: v for k, v in rec.counts.items() if v},
        f_vector=fv,
        num_cells=int(dims.size),
        euler_characteristic=sum((-1) ** k * f for k, f in enumerate(fv)),
        total_volume=ctx.total,
        domain_volume=ctx.dvol,
        cdd_regions_checked=ctx.ncdd,
        seconds=time.perf_counter() - t0,
        architecture=K.network.architecture,
        domain=K.domain.describe(),
        with_output=K.with_output,
    )


def _face_of(a: np.ndarray, b: np.ndarray) -> bool:
    """``a <= b`` in the face order (every entry equal or 0)."""
    return bool(np.all((a == b) | (a == 0)))


def _classify_sign(rec: _Recorder, c: int, S: np.ndarray, true: np.ndarray,
                   key_index: _KeyIndex, dims: np.ndarray, how: str,
                   point: tuple[str, ...] | None = None) -> None:
    other = key_index.get(np.asarray(true, dtype=np.int8).tobytes())
    if other is not None and other != c:
        rec.fail(Failure("extra_cell", c, sign_key(S[c]), point, sign_key(true), sign_key(S[c]),
                         f"cell {c} is a copy of cell {other} ({how} is {sign_key(true)}): extra"))
    else:
        rec.fail(Failure("sign_vector_wrong", c, sign_key(S[c]), point, sign_key(true), sign_key(S[c]),
                         f"cell {c}: the {how} is {sign_key(true)}, not the claimed {sign_key(S[c])}"))


def _diagnose_edge(rec: _Recorder, e: int, S: np.ndarray, sigma: np.ndarray, H: list[tuple[int, ...]],
                   V: sp.csr_matrix, f0: int, count: int) -> None:
    if count > 2:
        rec.fail(Failure("extra_cell", e, sign_key(S[e]), None, "2 vertices", f"{count}",
                         f"edge {e} has {count} vertices"))
        return
    have = set(int(x) for x in V.indices[V.indptr[e]:V.indptr[e + 1]])
    cand = np.flatnonzero(np.all((sigma == S[e]) | (sigma == 0), axis=1))
    extra = [int(v) for v in cand if int(v) not in have]
    if extra:
        v = extra[0]
        rec.fail(Failure("dropped_facet_link", e, sign_key(S[e]), _point_str(H[v]),
                         f"vertex {v} is a facet of edge {e}", "no link",
                         f"edge {e} lacks the link to its vertex {v}"))
    else:
        rec.fail(Failure("missing_cell", e, sign_key(S[e]), None, "2 vertices", f"{count}",
                         f"edge {e} has {count} vertex: an endpoint is missing from the complex"))


def _diagnose_interval(rec: _Recorder, r: int, c: int, cnt: int, S: np.ndarray, B: sp.csr_matrix,
                       cof_ptr: np.ndarray, cof_ind: np.ndarray, indptr: np.ndarray,
                       indices: np.ndarray) -> None:
    if cnt > 2:
        rec.fail(Failure("extra_cell", c, sign_key(S[c]), None, "2 middle elements", str(cnt),
                         f"interval [{r}, {c}] has {cnt} middle elements"))
        return
    mids = set(int(g) for g in indices[indptr[c]:indptr[c + 1]]) & \
        set(int(g) for g in cof_ind[cof_ptr[r]:cof_ptr[r + 1]])
    # a cofacet of r below c that c does not link, or a facet of c above r that does not link r
    for h in cof_ind[cof_ptr[r]:cof_ptr[r + 1]].tolist():
        if h not in mids and _face_of(S[h], S[c]) and h != c:
            rec.fail(Failure("dropped_facet_link", c, sign_key(S[c]), None,
                             f"cell {h} is a facet of cell {c}", "no link",
                             f"cell {c} lacks the link to its facet {h} (interval [{r}, {c}])"))
            return
    for h in indices[indptr[c]:indptr[c + 1]].tolist():
        if h not in mids and _face_of(S[r], S[h]):
            rec.fail(Failure("dropped_facet_link", h, sign_key(S[h]), None,
                             f"cell {r} is a facet of cell {h}", "no link",
                             f"cell {h} lacks the link to its facet {r} (interval [{r}, {c}])"))
            return
    rec.fail(Failure("missing_cell", c, sign_key(S[c]), None, "2 middle elements", str(cnt),
                     f"a facet of cell {c} through its ridge {r} ({sign_key(S[r])}) is missing"))


def _diagnose_wall(rec: _Recorder, w: int, want: int, K: PolyhedralComplex, S: np.ndarray,
                   cof_ptr: np.ndarray, cof_ind: np.ndarray, V: sp.csr_matrix,
                   H: list[tuple[int, ...]], key_index: _KeyIndex) -> None:
    cofs = [int(x) for x in cof_ind[cof_ptr[w]:cof_ptr[w + 1]]]
    if len(cofs) > want:
        rec.fail(Failure("extra_cell", w, sign_key(S[w]), None, f"{want} top cells", str(len(cofs)),
                         f"(n-1)-cell {w} lies in {len(cofs)} top cells {cofs}"))
        return
    vs = V.indices[V.indptr[w]:V.indptr[w + 1]]
    rs = V.indices[V.indptr[cofs[0]]:V.indptr[cofs[0] + 1]] if cofs else vs
    if not len(vs) or not len(rs):  # a malformed complex (its intervals check fails too)
        rec.fail(Failure("missing_region", w, sign_key(S[w]), None, f"{want} top cells", str(len(cofs)),
                         f"(n-1)-cell {w} lies in {len(cofs)} top cells, and the complex gives it or "
                         "its top cell no vertices to look beyond it from"))
        return
    p = _mean([H[v] for v in vs])
    pt = tuple(format_rational(x) for x in p)
    if cofs:  # step out of the one region the wall has
        q = _mean([H[v] for v in rs])
        dirs = [[a - b for a, b in zip(p, q)]]
    else:  # towards the domain's centre (and away from it, for an interior wall)
        ctr = [sum((Fraction(v[i]) for v in K.domain.vertices), Fraction(0)) / len(K.domain.vertices)
               for i in range(len(p))]
        d0 = [a - b for a, b in zip(ctr, p)]
        dirs = [d0] if want == 1 else [d0, [-x for x in d0]]
    for d in dirs:
        t = _lex_sign_vector(K.network, K.domain, p, d, K.output_refinement)
        other = key_index.get(np.asarray(t, dtype=np.int8).tobytes())
        if other is not None and other not in cofs and int(K.dims[other]) == K.input_dim:
            rec.fail(Failure("dropped_facet_link", other, sign_key(t), pt,
                             f"cell {w} is a facet of cell {other}", "no link",
                             f"top cell {other} lacks the link to its facet {w}"))
        else:
            rec.fail(Failure("missing_region", w, sign_key(S[w]), pt, sign_key(t), "absent",
                             f"the top cell {sign_key(t)} next to (n-1)-cell {w} (just off the point "
                             f"{pt}) is missing"))


def _mean(hs: Sequence[Sequence[int]]) -> list[Fraction]:
    n = len(hs[0]) - 1
    return [sum((Fraction(h[i], h[-1]) for h in hs), Fraction(0)) / len(hs) for i in range(n)]


def _exact_sum(values: Sequence[Any]) -> Fraction:
    """Exact sum of many ``fmpq`` with large denominators (flint's fast gcd, balanced tree).

    The order matters for speed: neighbours in canonical order (sign vectors sorted) tend to
    share vertices, hence denominators, so partial sums stay small.
    """
    terms = list(values)
    if not terms:
        return Fraction(0)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return Fraction(int(terms[0].p), int(terms[0].q))


def _cdd_region(rec: _Recorder, c: int, K: PolyhedralComplex, S: np.ndarray, V: sp.csr_matrix,
                H: list[tuple[int, ...]], dims: np.ndarray, B: sp.csr_matrix,
                key_index: _KeyIndex,
                vertices_of: Callable[..., tuple[list[tuple[Fraction, ...]], list[frozenset[int]], int]]
                ) -> None:
    """Recompute top cell ``c`` with cddlib from its sign vector and compare with the claims."""
    net, dom = K.network, K.domain
    s = [int(x) for x in S[c]]
    A, rhs, labels = _local_inequalities(net, dom, s, K.output_refinement)
    verts, inc, rays = vertices_of(A, rhs)
    claimed = {tuple(Fraction(x, H[v][-1]) for x in H[v][:-1]): int(v)
               for v in V.indices[V.indptr[c]:V.indptr[c + 1]]}
    if rays or not verts:
        rec.fail(Failure("cdd_mismatch", c, sign_key(s), None, "a non-empty polytope",
                         "empty" if not verts else "unbounded", f"cdd: cell {c} is not a polytope"))
        return
    found = set(verts)
    if found != set(claimed):
        miss = sorted(found - set(claimed))
        rec.fail(Failure("cdd_mismatch", c, sign_key(s),
                         tuple(format_rational(x) for x in miss[0]) if miss else None,
                         f"{len(found)} vertices", f"{len(claimed)} claimed",
                         f"cdd: the vertices of top cell {c} differ from the claimed ones"))
        return
    # face lattice from incidences: faces = non-empty intersections of facet vertex sets
    vid = [claimed[v] for v in verts]
    # (a neutral helper of cddlib's module, not the builder's lattice code)
    from .geometry import affine_rank, faces_from_incidences

    allv = frozenset(range(len(verts)))
    faces = set(faces_from_incidences(allv, (s2 for s2 in inc if s2 and s2 != allv)))
    # each face: sign vector = cell's signs with zeros for rows tight on the whole face

    for f in faces:
        tight = {labels[i] for i, s2 in enumerate(inc) if f <= s2}
        t = [0 if j in tight else s[j] for j in range(len(s))]
        idx = key_index.get(np.asarray(t, dtype=np.int8).tobytes())
        d = affine_rank([verts[i] for i in sorted(f)])
        vs = frozenset(vid[i] for i in f)
        if idx is None:
            rec.fail(Failure("cdd_mismatch", c, sign_key(s), None, f"a {d}-face {sign_key(t)}", "absent",
                             f"cdd: a {d}-face of top cell {c} is not in the complex"))
            continue
        got = frozenset(int(x) for x in V.indices[V.indptr[idx]:V.indptr[idx + 1]])
        if int(dims[idx]) != d or got != vs:
            rec.fail(Failure("cdd_mismatch", idx, sign_key(t), None, f"dimension {d}, {len(vs)} vertices",
                             f"dimension {int(dims[idx])}, {len(got)} vertices",
                             f"cdd: face {idx} of top cell {c} differs from the claim"))
            continue
        # facets of the face: maximal proper sub-faces
        subs = [g for g in faces if g < f]
        maxi = {g for g in subs if not any(g < h for h in subs)}
        want = {key_index.get(np.asarray([0 if j in {labels[i] for i, s2 in enumerate(inc) if g <= s2} else s[j]
                                          for j in range(len(s))], dtype=np.int8).tobytes()) for g in maxi}
        have = set(int(x) for x in B.indices[B.indptr[idx]:B.indptr[idx + 1]])
        if want != have:
            rec.fail(Failure("cdd_mismatch", idx, sign_key(t), None, f"facets {sorted(x for x in want if x is not None)}",
                             f"facets {sorted(have)}", f"cdd: the facets of cell {idx} differ"))


def _local_inequalities(net: Network, dom: Domain, s: Sequence[int], refinement: str | None = "zero"
                        ) -> tuple[list[list[Fraction]], list[Fraction], list[int]]:
    """``A x <= c`` for the closure of the cell with sign vector ``s`` (local affine maps).

    ``labels[i]`` is the sign-vector position the row comes from (an equality gives two rows).
    """
    entries, (FA, Fc) = local_affine_forms(net, s)
    nh = len(entries)
    out_pos = nh + dom.num_facets
    if len(s) > out_pos:  # the output part
        outs = list(zip(FA, Fc))
        if refinement == "argmax":
            block = list(s[out_pos:])
            t = block.index(0) if 0 in block else 0
            outs = [(tuple(x - y for x, y in zip(a, FA[t])), c - Fc[t]) for a, c in outs]
    else:
        outs = []
    rows: list[list[Fraction]] = []
    rhs: list[Fraction] = []
    labels: list[int] = []

    def add(form: tuple[tuple[Fraction, ...], Fraction], sj: int, label: int) -> None:
        a, c = form
        for sign in ((sj,) if sj != 0 else (1, -1)):  # sign (a.x + c) >= 0
            rows.append([-sign * x for x in a])
            rhs.append(sign * c)
            labels.append(label)

    for j, form in enumerate(entries):
        add(form, s[j], j)
    for i, (a, ci) in enumerate(zip(dom.A, dom.c)):
        rows.append(list(a))
        rhs.append(ci)
        labels.append(nh + i)
    for j, form in enumerate(outs):
        add(form, s[out_pos + j], out_pos + j)
    return rows, rhs, labels
