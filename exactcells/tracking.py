"""Topological signatures of network snapshots through training (arXiv 2510.12700, exactly).

Given snapshots of a network (epoch, loss, accuracy, exact weights), the domain and optionally
the training points, :func:`track` computes for every snapshot:

* the exact complex cut by the hidden neurons (the paper's regions): f-vector, cells, regions,
  and the number of distinct binary activation patterns among the regions;
* the complex refined by the decision boundary ``F = 0`` and the Betti numbers (over Z/2) of the
  decision boundary and of the closed positive region ``F >= 0``;
* Betti curves of seeded random filtrations of the complex (``random``: random linear extensions
  of the face poset, the paper's random filtrations), ``repeats`` of them: the mean and standard
  deviation of each curve's maximum; and whether the maxima of ``dimension-random`` filtrations
  give back the f-vector (they must: :func:`~exactcells.topology.persistence.f_vector_from_betti_maxima`);
* the Fiedler value of the exact dual graph (unweighted), and with the paper's node weights
  ``1 + training points in the region`` (points located exactly); the agreement of the Fiedler
  sign partition with the decision boundary (exact volume fraction, maximised over the flip,
  adjusted Rand index, and the best threshold sweep), with two baselines (:func:`cut_baselines`):
  the majority class (the agreement of a constant classifier's boundary) and random cuts of the
  same size (regions shuffled between the sides; straight cuts of the same area);
* the Betti-curve maxima of the output's lower-star filtration (sublevel sets of ``F``);
* the paper's Hamming-1 proxy against the exact dual graph (precision, recall, wrong and missing
  edges);
* the paper's pixel pipeline: a grid of ``pixels x pixels`` sample points, float activation
  patterns, regions seen as distinct patterns, the Hamming-1 graph among them with the paper's
  weights, its Fiedler partition and its pixel agreement with the decision boundary; and what the
  pixels miss (exact regions whose pattern no pixel has, and their exact share of the area).

Inputs of any dimension go through a fixed slice (:attr:`TrackSettings.slice`, e.g. the plane
through three training images): every snapshot's network is restricted to it exactly
(:meth:`exactcells.slicing.Slice.restrict`), so each snapshot's complex is the exact 2-D slice
of that snapshot's complex, the domain is in slice coordinates, and the training points that
lie in the slice (exactly) are the ones located and counted.

Results: one :class:`SnapshotResult` per snapshot, gathered in a :class:`TrackingResult` whose
:meth:`~TrackingResult.to_csv` is the tidy table (one row per snapshot, columns
:func:`columns`). Float columns are float summaries (spectral values, means, pixel estimates);
counts and Betti numbers are exact integers.

Snapshots are independent units of work: :func:`track` runs them as Dask tasks (``jobs``
local worker processes, or a running cluster) and, with
a ``cache_dir``, writes each snapshot's raw result there atomically (``epoch_000100.json``,
keyed by a hash of the network, the settings and the points), so an interrupted run resumes
where it stopped. A result is a pure function of its inputs: resumed or not, in one process or
many, from a folder or from memory, the table is the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .domain import Domain
from .errors import ExactCellsError, FormatError, InvalidNetworkError, TrackingError
from .network import Network, load_network, network_from_dict
from .slicing import Slice, slice_from_record

__all__ = [
    "Snapshot",
    "TrackSettings",
    "SnapshotResult",
    "TrackingResult",
    "TrackingError",
    "default_domain",
    "columns",
    "track",
    "track_snapshot",
    "track_folder",
    "load_snapshots",
    "load_tracking",
    "load_training_points",
    "TRAINING_POINTS_FILE",
    "correlations",
    "SIGNATURE_COLUMNS",
    "MULTICLASS_SIGNATURE_COLUMNS",
    "snapshot_filename",
    "snapshot_to_dict",
    "snapshot_from_dict",
    "result_filename",
    "cut_baselines",
    "sliced_snapshots",
    "points_in_slice_coordinates",
]

CACHE_FORMAT = "exactcells-track-snapshot"
CACHE_VERSION = 3
TRAINING_POINTS_FILE = "training_points.json"
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.(json|npz|pt|pth)")

Scalar = int | float | str | None

# Eigenvalues and eigenvectors are rounded to this many significant digits, so that a result
# does not depend on the BLAS thread count of the process that computed it (LAPACK's last bits
# may); the sign partitions and agreements are computed before rounding.
SPECTRAL_DIGITS = 10


def default_domain() -> Domain:
    """The paper's box ``[-3, 3]^2``."""
    return Domain.box(2, -3, 3)


# -- snapshots ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A network at one epoch of training, with what was measured there (``None``: unknown).

    ``loss`` and ``accuracy`` are on the training set; ``accuracy`` is ``None`` for regression.
    """

    epoch: int
    network: Network
    loss: float | None = None
    accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None


_META = ("loss", "accuracy", "test_loss", "test_accuracy")


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def snapshot_filename(epoch: int) -> str:
    """``epoch_000100.json`` for epoch 100."""
    return f"epoch_{epoch:06d}.json"


def result_filename(epoch: int) -> str:
    """The cache file of one snapshot's result, ``epoch_000100.json`` (in the cache folder)."""
    return f"epoch_{epoch:06d}.json"


def snapshot_to_dict(s: Snapshot) -> dict[str, Any]:
    """The network JSON (README.md, "Formats": exact strings) plus the keys ``epoch``, ``loss``,
    ``accuracy``, ``test_loss`` and ``test_accuracy`` (ignored by the network loader)."""
    d = s.network.to_dict()
    d["epoch"] = int(s.epoch)
    for k in _META:
        d[k] = _finite(getattr(s, k))
    return d


def snapshot_from_dict(d: Mapping[str, Any], epoch: int | None = None) -> Snapshot:
    """Read a snapshot JSON object; ``epoch`` overrides (or supplies) its ``epoch`` key."""
    net = network_from_dict(d)
    e = epoch if epoch is not None else d.get("epoch")
    if not isinstance(e, int) or isinstance(e, bool) or e < 0:
        raise TrackingError(f"a snapshot needs a non-negative integer epoch, got {e!r}")
    return Snapshot(e, net, *(_finite(d.get(k)) for k in _META))


def load_snapshots(folder: str | Path) -> tuple[Snapshot, ...]:
    """Read every ``epoch_<N>.json`` (or ``.npz``, ``.pt``) network file of a folder.

    The epoch is the number in the file name; ``loss``, ``accuracy``, ``test_loss`` and
    ``test_accuracy`` are read from the JSON's extra keys when present. Sorted by epoch.
    """
    p = Path(folder)
    if not p.is_dir():
        raise TrackingError(f"{p}: no such folder of snapshots")
    found: dict[int, Path] = {}
    for f in sorted(p.iterdir()):
        m = _EPOCH_FILE.fullmatch(f.name)
        if not m:
            continue
        e = int(m.group(1))
        if e in found:
            raise TrackingError(f"{p}: two snapshot files for epoch {e}: {found[e].name} and {f.name}")
        found[e] = f
    if not found:
        raise TrackingError(f"{p}: no snapshot files named like epoch_000100.json")
    out = []
    for e in sorted(found):
        f = found[e]
        if f.suffix == ".json":
            from .io import read_json

            d = read_json(f, InvalidNetworkError)
            try:
                out.append(snapshot_from_dict(d, epoch=e))
            except ExactCellsError as err:
                raise type(err)(f"{f}: {err}") from None
        else:
            out.append(Snapshot(e, load_network(f)))
    return tuple(out)


def load_training_points(path: str | Path) -> np.ndarray:
    """Training points from JSON: ``{"X": [[x, y], ...], ...}`` or a list of points (floats)."""
    from .io import read_json

    path = Path(path)
    d = read_json(path, FormatError)
    try:
        X = np.asarray(d["X"] if isinstance(d, dict) else d, dtype=float)
    except (ValueError, KeyError, TypeError, OverflowError) as e:
        raise FormatError(f"{path}: not a training-points file ({e})") from e
    if X.ndim != 2:
        raise FormatError(f"{path}: expected a list of points")
    return X


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackSettings:
    """What :func:`track` computes per snapshot.

    Attributes
    ----------
    domain
        The domain (default: the paper's box ``[-3, 3]^2``).
    repeats
        Seeded random filtrations per snapshot (seeds ``seed .. seed + repeats - 1``, the same
        for every snapshot).
    seed
        First filtration seed.
    pixels
        Side of the pixel grid of the paper's sampling pipeline (0: skip it; 2-D domains only).
    fiedler_tol
        Tolerance of the iterative eigensolvers (small graphs are solved densely).
    classes
        1 for networks with one output (binary classification, regression); ``k >= 2`` for
        ``k``-class networks (one output per class, tracked on the argmax complex). :func:`track`
        sets it from the snapshots.
    slice
        A fixed 2-D slice of the input space (e.g. :func:`exactcells.slicing.plane_through`
        three training images) for networks with more than two inputs; ``domain`` is then in
        slice coordinates and every snapshot's network is restricted to the slice exactly.
        ``None``: the networks take the domain's inputs directly.
    """

    domain: Domain = field(default_factory=default_domain)
    repeats: int = 10
    seed: int = 0
    pixels: int = 200
    fiedler_tol: float = 1e-10
    classes: int = 1
    slice: Slice | None = None

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise TrackingError(f"repeats must be at least 1, got {self.repeats}")
        if self.pixels < 0:
            raise TrackingError(f"pixels must be non-negative, got {self.pixels}")
        if self.classes < 1:
            raise TrackingError(f"classes must be at least 1, got {self.classes}")
        if self.slice is not None and self.slice.dim != self.domain.dim:
            raise TrackingError(f"the slice has {self.slice.dim} coordinates but the domain lives in "
                                f"R^{self.domain.dim} (give the domain in slice coordinates)")

    @property
    def input_dim(self) -> int:
        """The networks' input dimension: the slice's ambient dimension, else the domain's."""
        return self.slice.ambient_dim if self.slice is not None else self.domain.dim

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"domain": self.domain.to_dict(), "repeats": self.repeats, "seed": self.seed,
                             "pixels": self.pixels, "fiedler_tol": self.fiedler_tol}
        if self.classes != 1:  # one-output settings keep their old form (and cache keys)
            d["classes"] = self.classes
        if self.slice is not None:
            d["slice"] = self.slice.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrackSettings:
        sl = d.get("slice")
        return cls(Domain.from_dict(d["domain"]), int(d["repeats"]), int(d["seed"]),
                   int(d["pixels"]), float(d["fiedler_tol"]), int(d.get("classes", 1)),
                   None if sl is None else slice_from_record(sl))


def columns(n: int = 2, classes: int = 1) -> tuple[str, ...]:
    """The columns of the table for an ``n``-dimensional domain, in order.

    ``epoch, loss, accuracy, test_loss, test_accuracy`` (from the snapshot);
    ``num_regions, num_cells, f0 .. fn, euler_characteristic, distinct_patterns`` (the exact
    complex cut by the hidden neurons); ``refined_regions`` (also cut by ``F = 0``);
    ``boundary_b0 .. boundary_b{n-1}`` (decision boundary), ``positive_b0 .. positive_b{n-1}``
    (``F >= 0``); ``betti_max_k_mean``, ``betti_max_k_std`` for ``k = 0 .. n`` (random linear
    extensions), ``betti_maxima_give_f`` (1 when the dimension-random maxima give the f-vector
    in every repeat); ``lower_star_max_0 .. lower_star_max_{n-1}`` (maxima of the Betti curves
    of the sublevel sets of ``F``, the output's lower-star filtration); ``majority_agreement``
    (the share of the area of the larger class: the agreement of any cut that puts the whole box
    on one side); ``fiedler_value, fiedler_agreement, fiedler_ari, fiedler_sweep_agreement,
    random_cut_agreement, line_cut_agreement`` (exact dual graph, unweighted; the two baselines
    of :func:`cut_baselines` for its sign cut) and the same with suffix ``_weighted`` (the
    paper's weights; empty without training points), ``training_points_inside``; ``dual_edges, hamming_edges,
    hamming_precision, hamming_recall, hamming_false_edges, hamming_missing_edges``;
    ``pixel_regions, pixel_missed_regions, pixel_missed_area, paper_fiedler_value,
    paper_components, paper_agreement`` (the pixel pipeline; empty when ``pixels = 0``).

    With ``classes = k >= 2`` (one output per class) the refinement is the argmax complex:
    ``refined_regions`` counts its regions, ``boundary_b*`` are the Betti numbers of the
    decision boundary (cells with >= 2 maximizers), ``positive_b*`` are replaced by
    ``class{j}_b{d}`` (class region ``j``), followed by ``junction_cells`` (cells with >= 3
    maximizers); the Fiedler agreement columns stay empty and ``kway_agreement, kway_ari`` (and
    ``_weighted``) give the k-way partition's exact volume agreement with the classes (recursive
    Fiedler cuts, best matching) and its ARI; ``margin_h{d}_pairs``, ``margin_h{d}_total`` (pairs
    of positive persistence and their total persistence, float, essential classes left out) of
    the margin's exact lower-star filtration (the sublevel sets of the margin, on the argmax
    complex refined by the runner-up where needed:
    :func:`~exactcells.topology.filtrations.margin_filtration`), and ``margin_refined_cells``
    (cells of the argmax complex on which the margin is not affine, cut by that refinement);
    ``paper_agreement`` stays empty.
    """
    cols = ["epoch", *_META, "num_regions", "num_cells", *(f"f{k}" for k in range(n + 1)),
            "euler_characteristic", "distinct_patterns", "refined_regions",
            *(f"boundary_b{k}" for k in range(n))]
    if classes >= 2:
        cols += [f"class{j}_b{k}" for j in range(classes) for k in range(n)]
        cols.append("junction_cells")
    else:
        cols += [f"positive_b{k}" for k in range(n)]
    for k in range(n + 1):
        cols += [f"betti_max_{k}_mean", f"betti_max_{k}_std"]
    cols.append("betti_maxima_give_f")
    cols += [f"lower_star_max_{k}" for k in range(n)]
    cols.append("majority_agreement")
    for suffix in ("", "_weighted"):
        cols += [f"fiedler_value{suffix}", f"fiedler_agreement{suffix}", f"fiedler_ari{suffix}",
                 f"fiedler_sweep_agreement{suffix}", f"random_cut_agreement{suffix}",
                 f"line_cut_agreement{suffix}"]
    if classes >= 2:
        cols += ["kway_agreement", "kway_ari", "kway_agreement_weighted", "kway_ari_weighted"]
        for k in range(n):
            cols += [f"margin_h{k}_pairs", f"margin_h{k}_total"]
        cols.append("margin_refined_cells")
    cols += ["training_points_inside", "dual_edges", "hamming_edges", "hamming_precision",
             "hamming_recall", "hamming_false_edges", "hamming_missing_edges",
             "pixel_regions", "pixel_missed_regions", "pixel_missed_area", "paper_fiedler_value",
             "paper_components", "paper_agreement"]
    return tuple(cols)


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """The signatures of one snapshot.

    Attributes
    ----------
    epoch
        The snapshot's epoch.
    row
        Read-only mapping column -> value (:func:`columns`; ``None`` where not computed).
    fiedler_vector, fiedler_vector_weighted
        The Fiedler vectors of the exact dual graph (unweighted; with the paper's weights, or
        ``None``), one float per region in canonical order.
    betti_maxima
        Per repeat, the maxima of ``beta_0 .. beta_n`` over the random filtration (exact ints).
    key
        Hash of the inputs (network, snapshot metadata, settings, points): the cache key.
    seconds
        Computing time (not part of equality: a resumed run has the time of the first one).
    """

    epoch: int
    row: Mapping[str, Scalar]
    fiedler_vector: tuple[float, ...]
    fiedler_vector_weighted: tuple[float, ...] | None
    betti_maxima: tuple[tuple[int, ...], ...]
    key: str
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"format": CACHE_FORMAT, "version": CACHE_VERSION, "key": self.key,
                "epoch": self.epoch, "row": dict(self.row),
                "fiedler_vector": list(self.fiedler_vector),
                "fiedler_vector_weighted": (None if self.fiedler_vector_weighted is None
                                            else list(self.fiedler_vector_weighted)),
                "betti_maxima": [list(m) for m in self.betti_maxima],
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SnapshotResult:
        if d.get("format") != CACHE_FORMAT or d.get("version") != CACHE_VERSION:
            raise FormatError(f"not a {CACHE_FORMAT} version {CACHE_VERSION} object")
        fw = d.get("fiedler_vector_weighted")
        return cls(int(d["epoch"]), MappingProxyType(dict(d["row"])),
                   tuple(float(x) for x in d["fiedler_vector"]),
                   None if fw is None else tuple(float(x) for x in fw),
                   tuple(tuple(int(x) for x in m) for m in d["betti_maxima"]),
                   str(d["key"]), float(d.get("seconds", 0.0)))


def _csv_value(v: Scalar) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


@dataclass(frozen=True, slots=True)
class TrackingResult:
    """The signatures of every snapshot (in epoch order) and the settings used."""

    settings: TrackSettings
    results: tuple[SnapshotResult, ...]
    cached: int = field(default=0, compare=False)

    @property
    def columns(self) -> tuple[str, ...]:
        return columns(self.settings.domain.dim, self.settings.classes)

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(r.epoch for r in self.results)

    def rows(self) -> list[dict[str, Scalar]]:
        cols = self.columns
        return [{c: r.row.get(c) for c in cols} for r in self.results]

    def series(self, column: str) -> np.ndarray:
        """A column as a float array (``nan`` where empty)."""
        if column not in self.columns:
            raise KeyError(f"no column {column!r}")
        return np.array([np.nan if r.row.get(column) is None else float(r.row[column])  # type: ignore[arg-type]
                         for r in self.results], dtype=float)

    def to_csv(self) -> str:
        """The tidy table: a header line, then one line per snapshot (empty cell = no value);
        written by the standard :mod:`csv` module (a field with a comma or a quote is quoted)."""
        import csv
        import io

        cols = self.columns
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in self.results:
            w.writerow([_csv_value(r.row.get(c)) for c in cols])
        return buf.getvalue()

    def write_csv(self, path: str | Path, force: bool = False) -> None:
        from .io import atomic_write_text

        atomic_write_text(path, self.to_csv(), force=force)


# -- the work of one snapshot ---------------------------------------------------------------


def _key(s: Snapshot, settings: TrackSettings, points: np.ndarray | None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": CACHE_VERSION, "snapshot": snapshot_to_dict(s),
                         "settings": settings.to_dict()}, sort_keys=True).encode())
    if points is not None:
        h.update(np.ascontiguousarray(points, dtype=np.float64).tobytes())
    return h.hexdigest()


def _round(x: float, digits: int = SPECTRAL_DIGITS) -> float:
    """A float rounded to ``digits`` significant digits (see :data:`SPECTRAL_DIGITS`)."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits - 1}e}")


def _round_vector(v: np.ndarray, digits: int = SPECTRAL_DIGITS) -> list[float]:
    """A vector rounded to ``digits`` significant digits of its largest entry (entries near 0
    carry LAPACK noise that a relative rounding per entry would keep)."""
    v = np.asarray(v, dtype=float)
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0 or not math.isfinite(scale):
        return [float(x) for x in v]
    decimals = digits - 1 - math.floor(math.log10(scale))
    return [float(x) + 0.0 for x in np.round(v, decimals)]


def _unique_rows(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a bool array (sorted by their packed bytes) and each row's index."""
    packed = np.ascontiguousarray(np.packbits(bits, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    return bits[first], inv.ravel()


def _paper_pipeline(K: Any, settings: TrackSettings, points: np.ndarray | None,
                    vols: Sequence[Any], multi: bool = False) -> dict[str, Scalar]:
    """The pixel pipeline of the paper, and what it misses (see the module docstring)."""
    from scipy.sparse.csgraph import connected_components

    from .dual import binary_patterns
    from .dual.proxy import hamming1_pairs, pixel_centres
    from .spectral import adjacency_matrix, fiedler

    net = K.network
    P = pixel_centres(settings.domain, settings.pixels, first_axis_fastest=True)
    pix = net.hidden_signs_float(P) > 0
    uniq, inv = _unique_rows(pix)
    U = uniq.shape[0]
    seen = {row.tobytes() for row in uniq}
    exact_bits = binary_patterns(K)
    missed = [i for i, row in enumerate(exact_bits) if row.tobytes() not in seen]
    total = sum(vols)
    out: dict[str, Scalar] = {
        "pixel_regions": U,
        "pixel_missed_regions": len(missed),
        "pixel_missed_area": float(sum((vols[i] for i in missed), 0 * total) / total),
    }
    cls = net.forward_float(P)[:, 0] > 0
    if multi:  # the paper's pipeline is binary: no agreement for k classes
        out.update(paper_fiedler_value=None, paper_components=U, paper_agreement=None)
        return out
    if U < 2:
        out.update(paper_fiedler_value=None, paper_components=U, paper_agreement=None)
        return out
    edges = hamming1_pairs(uniq)
    A = adjacency_matrix(edges, num_nodes=U)
    mass = np.ones(U)
    if points is not None and len(points):
        tb = net.hidden_signs_float(points) > 0
        where = {row.tobytes(): i for i, row in enumerate(uniq)}
        for row in tb:
            i = where.get(row.tobytes())
            if i is not None:
                mass[i] += 1.0
    ncomp, labels = connected_components(A, directed=False)
    if ncomp > 1:
        # a disconnected graph has Fiedler value 0; its partition: the largest component
        big = int(np.argmax(np.bincount(labels)))
        side = labels == big
        value: float | None = 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fiedler(A, mass=mass, tol=settings.fiedler_tol, seed=0)
        side = r.vector > 0
        value = _round(r.value)
    a = float(np.mean(side[inv] == cls))
    out.update(paper_fiedler_value=value, paper_components=int(ncomp),
               paper_agreement=max(a, 1.0 - a))
    return out


def _margin_summary(R: Any, n: int) -> dict[str, Scalar]:
    """Persistence of the margin's exact lower-star filtration of the argmax complex ``R``: per
    dimension the number of pairs of positive persistence and their total persistence (float
    views of exact values; essential classes left out), and the cells of ``R`` refined."""
    from .topology.filtrations import margin_filtration
    from .topology.persistence import persistence

    F = margin_filtration(R)
    P = persistence(F)
    out: dict[str, Scalar] = {}
    for k in range(n):
        pairs = [(b, d) for b, d in P.exact_pairs(k) if d is not None and d != b]
        out[f"margin_h{k}_pairs"] = len(pairs)
        out[f"margin_h{k}_total"] = float(sum((Fraction(d) - Fraction(b) for b, d in pairs), Fraction(0)))
    out["margin_refined_cells"] = F.refined
    return out


def track_snapshot(snapshot: Snapshot, settings: TrackSettings | None = None,
                   points: np.ndarray | None = None) -> SnapshotResult:
    """The signatures of one snapshot (see the module docstring), computed in this process
    without a cache. The exact columns equal those of :func:`track`; the rounded float spectral
    values can differ in their last digit when this process's BLAS runs several threads."""
    settings = settings or TrackSettings()
    t0 = time.perf_counter()
    d = _compute(snapshot, settings, points)
    d["seconds"] = round(time.perf_counter() - t0, 4)
    return SnapshotResult.from_dict(_json_roundtrip(d))


def _json_roundtrip(d: dict[str, Any]) -> dict[str, Any]:
    # the same value types whether a result was computed now or read from its cache file
    out: dict[str, Any] = json.loads(json.dumps(d))
    return out


def _compute(s: Snapshot, settings: TrackSettings, points: np.ndarray | None) -> dict[str, Any]:
    from .build import build_complex
    from .dual import (
        binary_patterns,
        class_volumes,
        compare_proxy,
        dual_graph,
        locate_points,
        region_volumes_and_centroids,
    )
    from .spectral import boundary_agreement, dual_fiedler, kway_agreement, kway_partition
    from .topology.homology import homology
    from .topology.persistence import betti_curves, f_vector_from_betti_maxima
    from .topology.subcomplex import class_region, decision_boundary, junctions, positive_region

    net, dom = s.network, settings.domain
    if net.input_dim != settings.input_dim:
        where = (f"the slice lives in R^{settings.input_dim}" if settings.slice is not None
                 else f"the domain lives in R^{dom.dim}")
        raise TrackingError(f"epoch {s.epoch}: the network takes {net.input_dim} inputs but {where}")
    if settings.slice is not None:
        net = settings.slice.restrict(net)
    located = points_in_slice_coordinates(points, settings)
    k_out = net.output_dim
    classes = settings.classes
    if (classes == 1 and k_out != 1) or (classes >= 2 and k_out != classes):
        raise TrackingError(f"epoch {s.epoch}: the network has {k_out} outputs but the settings "
                            f"track {classes} class(es) (one output, or one output per class)")
    multi = classes >= 2
    n = dom.dim
    K = build_complex(net, dom)
    if multi:
        R = build_complex(net, dom, with_output=True, refine="argmax")
    else:
        R = build_complex(net, dom, with_output=True)
    row: dict[str, Scalar] = {"epoch": s.epoch}
    for name in _META:
        row[name] = _finite(getattr(s, name))
    fv = K.f_vector
    row.update(num_regions=K.num_regions, num_cells=K.num_cells,
               **{f"f{k}": fv[k] for k in range(n + 1)},
               euler_characteristic=K.euler_characteristic,
               distinct_patterns=int(_unique_rows(binary_patterns(K))[0].shape[0]),
               refined_regions=R.num_regions)
    hb = homology(decision_boundary(R)).betti
    for k in range(n):
        row[f"boundary_b{k}"] = int(hb[k])
    if multi:
        for j in range(classes):
            hc = homology(class_region(R, j)).betti
            for k in range(n):
                row[f"class{j}_b{k}"] = int(hc[k])
        row["junction_cells"] = junctions(R).num_cells
    else:
        hp = homology(positive_region(R)).betti
        for k in range(n):
            row[f"positive_b{k}"] = int(hp[k])
    C, _ = betti_curves(K, "random", seed=settings.seed, repeats=settings.repeats)
    M = np.asarray(C.maxima)
    for k in range(n + 1):
        row[f"betti_max_{k}_mean"] = float(M[:, k].mean())
        row[f"betti_max_{k}_std"] = float(M[:, k].std())
    D, _ = betti_curves(K, "dimension-random", seed=settings.seed, repeats=settings.repeats)
    row["betti_maxima_give_f"] = int(all(
        f_vector_from_betti_maxima(m, D.final_betti) == fv for m in np.asarray(D.maxima)))
    L, _ = betti_curves(K, "output-lower-star")
    for k in range(n):
        row[f"lower_star_max_{k}"] = int(np.asarray(L.maxima)[0, k])
    G = dual_graph(K)
    vols, cents = region_volumes_and_centroids(K)
    cv = class_volumes(K, refined=R)
    totals = [sum((v[j] for v in cv), Fraction(0)) for j in range(len(cv[0]))] if cv else [Fraction(1)]
    row["majority_agreement"] = float(max(totals) / sum(totals))
    cv_float = np.array([[float(v) for v in c] for c in cv])
    cent_float = np.array([[float(x) for x in c] for c in cents]).reshape(-1, n)
    loc = None
    inside: int | None = None
    if located is not None:
        loc = locate_points(K, located)
        inside = int(len(located) - loc.num_outside)
    row["training_points_inside"] = inside
    vec: list[float] = []
    vec_w: list[float] | None = None
    for suffix, weights in (("", "none"), ("_weighted", "training-points")):
        keys = [f"fiedler_value{suffix}", f"fiedler_agreement{suffix}", f"fiedler_ari{suffix}",
                f"fiedler_sweep_agreement{suffix}", f"random_cut_agreement{suffix}",
                f"line_cut_agreement{suffix}"]
        kkeys = [f"kway_agreement{suffix}", f"kway_ari{suffix}"] if multi else []
        if G.num_nodes < 2 or (weights == "training-points" and loc is None):
            row.update(dict.fromkeys(keys + kkeys))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = dual_fiedler(G, weights=weights, location=loc, tol=settings.fiedler_tol, seed=0)
        if multi:
            row.update(dict.fromkeys(keys[1:]))
            row[keys[0]] = _round(r.value)
            if G.num_nodes >= classes:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    part = kway_partition(G, classes, weights=weights, location=loc,
                                          tol=settings.fiedler_tol, seed=0)
                ka = kway_agreement(part.labels, cv)
                row.update(zip(kkeys, (ka.volume_agreement_float, ka.adjusted_rand_index)))
            else:
                row.update(dict.fromkeys(kkeys))
        else:
            ag = boundary_agreement(G, r.vector, cv)  # type: ignore[arg-type]
            rnd, line = cut_baselines(np.asarray(r.vector) > 0, cv_float, cent_float, seed=settings.seed)
            row.update(zip(keys, (_round(r.value), ag.sign.volume_agreement_float,
                                  ag.sign.adjusted_rand_index, ag.best_sweep.volume_agreement_float,
                                  rnd, line)))
        if suffix:
            vec_w = _round_vector(r.vector)
        else:
            vec = _round_vector(r.vector)
    if multi:
        row.update(_margin_summary(R, n))
    pc = compare_proxy(K, G)
    row.update(dual_edges=pc.exact_edges, hamming_edges=pc.proxy_edges,
               hamming_precision=pc.precision, hamming_recall=pc.recall,
               hamming_false_edges=len(pc.false_positives),
               hamming_missing_edges=len(pc.false_negatives))
    if settings.pixels and n == 2:
        fpts = None if located is None else np.array([[float(x) for x in p] for p in located],
                                                     dtype=float).reshape(-1, n)
        row.update(_paper_pipeline(K, settings, fpts, vols, multi))
    else:
        row.update(dict.fromkeys(("pixel_regions", "pixel_missed_regions", "pixel_missed_area",
                                  "paper_fiedler_value", "paper_components", "paper_agreement")))
    for col, v in row.items():
        if isinstance(v, (float, np.floating)):
            row[col] = _finite(v)
        elif isinstance(v, np.integer):
            row[col] = int(v)
    return {"format": CACHE_FORMAT, "version": CACHE_VERSION,
            "key": _key(s, settings, points), "epoch": s.epoch, "row": row,
            "fiedler_vector": vec, "fiedler_vector_weighted": vec_w,
            "betti_maxima": M.tolist()}


def points_in_slice_coordinates(points: Any, settings: TrackSettings) -> list[tuple[Fraction, ...]] | Any:
    """The training points that lie in the settings' slice, exactly, in slice coordinates
    (``Fraction`` tuples); without a slice (or points) the points as given. A point lies in the
    slice when its exact binary value is ``origin + M t`` for some ``t``
    (:meth:`~exactcells.slicing.Slice.locate`); only those can be located in the slice's
    complex (for a plane through three training points: at least those three)."""
    sl = settings.slice
    if sl is None or points is None:
        return points
    from .slicing import points_in_slice

    return points_in_slice(sl, np.asarray(points, dtype=float).tolist())[1]


def sliced_snapshots(snapshots: Sequence[Snapshot], settings: TrackSettings) -> tuple[Snapshot, ...]:
    """The snapshots with their networks restricted to the settings' slice (unchanged without
    one): the 2-D networks whose complexes :func:`track` computes, for pictures and reports."""
    if settings.slice is None:
        return tuple(snapshots)
    sl = settings.slice
    return tuple(replace(s, network=sl.restrict(s.network)) for s in snapshots)


def _agreement_float(side: np.ndarray, class_volumes: np.ndarray) -> np.ndarray:
    """Float agreement (maximised over the flip) of partitions ``side`` (``(k, N)`` bool) with
    the classes, from float class volumes ``(N, 2)``."""
    total = float(class_volumes.sum())
    a = (np.where(side, class_volumes[:, 1], class_volumes[:, 0]).sum(axis=-1)) / total
    out: np.ndarray = np.maximum(a, 1.0 - a)
    return out


def cut_baselines(side: np.ndarray, class_volumes: np.ndarray, centroids: np.ndarray, *,
                  seed: int = 0, shuffles: int = 200, directions: int = 36) -> tuple[float, float]:
    """Two chance levels for the agreement of a cut ``side`` (bool per region) with the classes.

    ``random``: the mean agreement of ``shuffles`` seeded random cuts with as many regions on
    each side as ``side`` (a random permutation of ``side``). ``line``: the mean, over
    ``directions`` evenly spaced directions ``u``, of the agreement of the straight cut
    ``centroid . u > t`` whose side holds the same area as ``side`` (the nearest achievable
    area, regions taken whole, ordered by their centroids). Both maximised over the flip, in
    float arithmetic from ``class_volumes`` (``(N, 2)``: area of class 0 and of class 1 per
    region). A cut that beats both is better than chance given its size; the majority-class
    agreement bounds what a near-constant classifier gets from any cut that is nearly all on
    one side.

    Examples
    --------
    >>> cv = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> xy = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0]])
    >>> r, l = cut_baselines(np.array([False, False, True, True]), cv, xy)
    >>> 0.5 <= r < 1.0 and 0.5 <= l < 1.0
    True
    """
    side = np.asarray(side, dtype=bool)
    cv = np.asarray(class_volumes, dtype=float)
    N = side.shape[0]
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((shuffles, N)), axis=1)
    rnd = float(_agreement_float(side[perms], cv).mean())
    vol = cv.sum(axis=1)
    target = float(vol[side].sum())
    C = np.asarray(centroids, dtype=float).reshape(N, -1)
    if C.shape[1] == 2:
        angles = np.arange(directions) * (np.pi / directions)
        U = np.c_[np.cos(angles), np.sin(angles)]
    else:
        U = rng.normal(size=(directions, C.shape[1]))
    lines = []
    for u in U:
        proj = C @ u
        order = np.argsort(proj, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(vol[order])])
        k = int(np.argmin(np.abs(cum - target)))
        s = np.zeros(N, dtype=bool)
        s[order[:k]] = True
        lines.append(float(_agreement_float(s[None, :], cv)[0]))
    return rnd, float(np.mean(lines))


def _work(task: tuple[dict[str, Any], dict[str, Any], list[list[float]] | None, str | None]) -> dict[str, Any]:
    """One unit of work in a worker process: compute, write the cache file, return the dict."""
    sd, settings_d, pts, cache = task
    s = snapshot_from_dict(sd)
    settings = TrackSettings.from_dict(settings_d)
    points = None if pts is None else np.asarray(pts, dtype=float).reshape(-1, settings.input_dim)
    t0 = time.perf_counter()
    d = _compute(s, settings, points)
    d["seconds"] = round(time.perf_counter() - t0, 4)
    d = _json_roundtrip(d)
    if cache is not None:
        from .io import atomic_write_text

        atomic_write_text(cache, json.dumps(d) + "\n", force=True)
    return d


def _read_cache(path: Path, key: str) -> SnapshotResult | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        r = SnapshotResult.from_dict(d)
    except (OSError, ValueError, KeyError, TypeError, FormatError, RecursionError):
        return None
    return r if r.key == key else None


def track(
    snapshots: Sequence[Snapshot],
    settings: TrackSettings | None = None,
    *,
    points: np.ndarray | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    scheduler: str | None = None,
) -> TrackingResult:
    """The signatures of every snapshot.

    Parameters
    ----------
    snapshots
        Networks with their epochs (distinct); results come back in epoch order.
    settings
        What to compute (:class:`TrackSettings`; default: the box ``[-3, 3]^2``, 10 repeats).
    points
        Training points ``(N, n)`` (float; each float is its exact binary value) for the
        paper's node weights; ``None``: the weighted columns stay empty.
    jobs
        Worker processes of a local Dask cluster (:func:`exactcells.parallel.cluster`; one task
        per snapshot). Workers start with one BLAS thread each, so that float spectral results do not depend on the thread count; ``jobs = 0``
        computes in this process instead (the same exact columns; the last digits of the
        Fiedler values and vectors can then differ when this process's BLAS uses several
        threads). Scripts that call this with ``jobs >= 1`` need the usual
        ``if __name__ == "__main__":`` guard (spawned processes import the main module).
    cache_dir
        Folder of per-snapshot result files: valid ones (same key) are reused, new ones are
        written atomically as soon as each snapshot is done.
    progress
        Called with a one-line message after each snapshot.
    scheduler
        Address of a running Dask scheduler: the snapshots run on its workers (which must see
        ``cache_dir``) instead of a local cluster.

    Returns
    -------
    TrackingResult
    """
    settings = settings or TrackSettings()
    snaps = sorted(snapshots, key=lambda s: s.epoch)
    if not snaps:
        raise TrackingError("no snapshots to track")
    outs = {s.network.output_dim for s in snaps}
    if len(outs) != 1:
        raise TrackingError(f"the snapshots have different numbers of outputs: {sorted(outs)}")
    k_out = outs.pop()
    want = k_out if k_out >= 2 else 1
    if settings.classes != want:
        settings = replace(settings, classes=want)
    epochs = [s.epoch for s in snaps]
    if len(set(epochs)) != len(epochs):
        dup = sorted({e for e in epochs if epochs.count(e) > 1})
        raise TrackingError(f"duplicate epochs among the snapshots: {dup}")
    for s in snaps:
        if s.network.input_dim != settings.input_dim:
            where = (f"the slice lives in R^{settings.input_dim}" if settings.slice is not None
                     else f"the domain lives in R^{settings.domain.dim}")
            raise TrackingError(f"epoch {s.epoch}: the network takes {s.network.input_dim} inputs but "
                                f"{where}" + ("" if settings.slice is not None or s.network.input_dim <= 2
                                              else " (track a plane through the inputs: TrackSettings.slice, "
                                                   "exactcells track --plane FILE)"))
    if points is not None:
        points = np.asarray(points, dtype=float)
        if points.ndim != 2 or points.shape[1] != settings.input_dim:
            raise TrackingError(f"training points must have shape (N, {settings.input_dim}), "
                                f"got {points.shape}")
        if not np.all(np.isfinite(points)):
            raise TrackingError("training points contain NaN or infinity")
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    done: dict[int, SnapshotResult] = {}
    todo: list[Snapshot] = []
    for s in snaps:
        if cache is not None:
            r = _read_cache(cache / result_filename(s.epoch), _key(s, settings, points))
            if r is not None:
                done[s.epoch] = r
                continue
        todo.append(s)
    cached = len(done)
    total = len(snaps)

    def report(r: SnapshotResult) -> None:
        if progress is not None:
            progress(f"[{len(done)}/{total}] epoch {r.epoch}: {r.row['num_regions']} regions, "
                     f"{r.seconds:.2f} s")

    if progress is not None and cached:
        progress(f"{cached} of {total} snapshots from the cache in {cache}")
    pts = None if points is None else points.tolist()
    tasks = [(snapshot_to_dict(s), settings.to_dict(), pts,
              None if cache is None else str(cache / result_filename(s.epoch))) for s in todo]
    if jobs < 0:
        raise TrackingError(f"jobs must be non-negative, got {jobs}")
    if (jobs == 0 and scheduler is None) or not tasks:
        for t in tasks:
            r = SnapshotResult.from_dict(_work(t))
            done[r.epoch] = r
            report(r)
    else:
        # one Dask task per snapshot, on a local cluster of ``jobs`` workers or on ``scheduler``
        from distributed import as_completed

        from .parallel import cluster

        with cluster(min(jobs, len(tasks)), scheduler, announce=progress is not None) as client:
            futs = [client.submit(_work, t, pure=False) for t in tasks]
            try:
                for f in as_completed(futs):
                    r = SnapshotResult.from_dict(f.result())
                    done[r.epoch] = r
                    report(r)
            except BaseException:
                client.cancel(futs)
                raise
    return TrackingResult(settings, tuple(done[e] for e in epochs), cached)


def track_folder(
    folder: str | Path,
    settings: TrackSettings | None = None,
    *,
    points: np.ndarray | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrackingResult:
    """:func:`track` on the snapshots of a folder (:func:`load_snapshots`); the training points
    default to the folder's ``training_points.json`` when it has one."""
    snaps = load_snapshots(folder)
    if points is None and (Path(folder) / TRAINING_POINTS_FILE).is_file():
        points = load_training_points(Path(folder) / TRAINING_POINTS_FILE)
    return track(snaps, settings, points=points, jobs=jobs, cache_dir=cache_dir, progress=progress)


SIGNATURE_COLUMNS = ("num_regions", "num_cells", "f0", "f1", "f2", "boundary_b0", "boundary_b1",
                     "positive_b0", "positive_b1", "betti_max_0_mean", "betti_max_1_mean",
                     "fiedler_value", "fiedler_agreement", "fiedler_value_weighted",
                     "fiedler_agreement_weighted", "paper_agreement")
MULTICLASS_SIGNATURE_COLUMNS = ("num_regions", "num_cells", "refined_regions", "boundary_b0",
                                "boundary_b1", "junction_cells", "fiedler_value", "kway_agreement",
                                "kway_ari", "kway_agreement_weighted", "margin_h0_pairs",
                                "margin_h0_total", "margin_h1_pairs")


def correlations(res: TrackingResult, against: str = "loss",
                 names: Sequence[str] | None = None) -> dict[str, float | None]:
    """Spearman rank correlation of each signature column with ``against`` over the snapshots
    (float; ``None`` when a series is constant or has fewer than three values). ``names``
    defaults to :data:`SIGNATURE_COLUMNS` (with the class regions' Betti numbers and
    :data:`MULTICLASS_SIGNATURE_COLUMNS` for ``k`` classes)."""
    from scipy.stats import spearmanr

    if names is None:
        k = res.settings.classes
        names = SIGNATURE_COLUMNS if k < 2 else (
            *MULTICLASS_SIGNATURE_COLUMNS, *(f"class{j}_b{d}" for j in range(k) for d in range(2)))
    y = res.series(against)
    out: dict[str, float | None] = {}
    for c in names:
        if c not in res.columns:
            continue
        x = res.series(c)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            out[c] = None
            continue
        rho = float(spearmanr(x[ok], y[ok]).statistic)
        out[c] = rho if math.isfinite(rho) else None
    return out


def load_tracking(cache_dir: str | Path, settings: TrackSettings | None = None) -> TrackingResult:
    """Read a tracking result back from its per-snapshot files (every ``epoch_*.json``)."""
    p = Path(cache_dir)
    results = []
    for f in sorted(p.glob("epoch_*.json")):
        try:
            results.append(SnapshotResult.from_dict(json.loads(f.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
            raise FormatError(f"{f}: not a tracking result ({type(e).__name__}: {e})") from None
    if not results:
        raise TrackingError(f"{p}: no tracking results")
    results.sort(key=lambda r: r.epoch)
    return TrackingResult(settings or TrackSettings(), tuple(results))
