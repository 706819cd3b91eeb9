"""The result: an immutable polyhedral complex whose cells are keyed by exact sign vectors.

Cells are numbered canonically: by dimension, then by sign vector (lexicographic, with
``-1 < 0 < +1``). Vertices are therefore the cells ``0 .. f_0 - 1``. A cell's sign vector lists
the signs of every hidden neuron (layer order), then one entry per domain facet (0 on the facet,
+1 inside), then, for a complex built ``with_output``, the output part: ``sign(F_j)`` per output
(``output_refinement == "zero"``) or ``sign(F_j - max_k F_k)`` per output (``"argmax"``: 0 for the
classes that attain the maximum, -1 for the others).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .domain import Domain
from .errors import ExactCellsError, FormatError
from .network import Network, network_from_dict
from .numbers import float_view

if TYPE_CHECKING:
    import networkx as nx

    from .shards import ShardedComplex

__all__ = ["Cell", "PolyhedralComplex", "load_complex", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "exactcells-complex"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a :class:`PolyhedralComplex` (a read-only view).

    Attributes
    ----------
    index
        The canonical index of the cell in its complex.
    dim
        Exact dimension (of the affine hull).
    sign_vector
        Neuron signs, domain-facet signs, then output signs (each -1, 0 or +1).
    vertices
        Indices of its vertices (cells of dimension 0).
    facets, cofacets
        Indices of the cells one dimension lower it contains / one higher that contain it.
    """

    index: int
    dim: int
    sign_vector: tuple[int, ...]
    vertices: tuple[int, ...]
    facets: tuple[int, ...]
    cofacets: tuple[int, ...]


class PolyhedralComplex:
    """Every cell of every dimension that a ReLU network cuts its domain into, and the face poset.

    Built by :func:`exactcells.build_complex`; saved with :meth:`save` and read back with
    :func:`load_complex`. All geometric data are exact: vertices are rationals, stored as
    primitive integer vectors ``(D x_1, ..., D x_n, D)``.
    """

    __slots__ = (
        "_network", "_domain", "_with_output", "_refinement", "_dims", "_signs", "_indptr", "_indices",
        "_vcoords", "_vsource", "_build_seconds", "_offsets", "_key_index", "_cof", "_vsets",
    )

    def __init__(
        self,
        *,
        network: Network,
        domain: Domain,
        with_output: bool,
        dims: np.ndarray,
        signs: np.ndarray,
        facet_indptr: np.ndarray,
        facet_indices: np.ndarray,
        vertex_coords: Sequence[tuple[int, ...]] | Callable[[], Sequence[tuple[int, ...]]],
        build_seconds: float = 0.0,
        output_refinement: str | None = None,
    ) -> None:
        self._network = network
        self._domain = domain
        self._with_output = bool(with_output)
        if output_refinement not in (None, "zero", "argmax"):
            raise FormatError(f"unknown output refinement {output_refinement!r}")
        if self._with_output and output_refinement is None:
            output_refinement = "zero"
        self._refinement = output_refinement if self._with_output else None
        for a in (dims, signs, facet_indptr, facet_indices):
            a.setflags(write=False)
        self._dims = dims
        self._signs = signs
        self._indptr = facet_indptr
        self._indices = facet_indices
        # exact vertex coordinates, or a callable that computes them when first asked
        self._vcoords: tuple[tuple[int, ...], ...] | None = None
        self._vsource: Callable[[], Sequence[tuple[int, ...]]] | None = None
        if callable(vertex_coords):
            self._vsource = vertex_coords
        else:
            self._vcoords = tuple(vertex_coords)
        self._build_seconds = float(build_seconds)
        n = domain.dim
        self._offsets = np.searchsorted(dims, np.arange(n + 2)).astype(np.int64)
        self._key_index: dict[bytes, int] | None = None
        self._cof: tuple[np.ndarray, np.ndarray] | None = None
        self._vsets: list[frozenset[int]] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name) and name in {"_network", "_domain", "_dims", "_signs"}:
            raise AttributeError("PolyhedralComplex is immutable")
        object.__setattr__(self, name, value)

    @property
    def _coords(self) -> tuple[tuple[int, ...], ...]:
        """The exact vertex coordinates, computed on first use when the build left them lazy."""
        if self._vcoords is None:
            assert self._vsource is not None
            object.__setattr__(self, "_vcoords", tuple(self._vsource()))
            object.__setattr__(self, "_vsource", None)
        assert self._vcoords is not None
        return self._vcoords

    # -- basic facts -----------------------------------------------------------------------
    @property
    def network(self) -> Network:
        return self._network

    @property
    def domain(self) -> Domain:
        return self._domain

    @property
    def with_output(self) -> bool:
        return self._with_output

    @property
    def output_refinement(self) -> str | None:
        """``None`` (hidden units only), ``"zero"`` (cut by every ``F_j = 0``) or ``"argmax"``
        (refined by the set of top classes)."""
        return self._refinement

    def argmax_sets(self) -> list[frozenset[int]]:
        """The set of classes that attain the maximum output on each cell (``"argmax"`` only)."""
        if self._refinement != "argmax":
            raise ExactCellsError("argmax sets need a complex built with refine='argmax'")
        out = self._signs[:, self.sign_slices()["outputs"]]
        return [frozenset(np.flatnonzero(row == 0).tolist()) for row in out]

    @property
    def input_dim(self) -> int:
        return self._domain.dim

    @property
    def build_seconds(self) -> float:
        return self._build_seconds

    @property
    def num_cells(self) -> int:
        return int(self._dims.shape[0])

    @property
    def dims(self) -> np.ndarray:
        """Dimension of every cell (read-only int8 array)."""
        return self._dims

    @property
    def signs(self) -> np.ndarray:
        """Sign vectors of every cell (read-only int8 array, one row per cell)."""
        return self._signs

    @property
    def facet_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """The facet relation as CSR arrays ``(indptr, indices)`` (read-only)."""
        return self._indptr, self._indices

    @property
    def f_vector(self) -> tuple[int, ...]:
        """Number of cells of each dimension (index = dimension)."""
        o = self._offsets
        return tuple(int(o[k + 1] - o[k]) for k in range(self.input_dim + 1))

    @property
    def num_regions(self) -> int:
        return self.f_vector[-1]

    @property
    def euler_characteristic(self) -> int:
        return sum((-1) ** k * f for k, f in enumerate(self.f_vector))

    @property
    def num_neurons(self) -> int:
        return self._network.num_hidden

    def sign_slices(self) -> dict[str, slice]:
        """Where the neuron, domain-facet and output parts sit in a sign vector."""
        nh = self._network.num_hidden
        m = self._domain.num_facets
        return {
            "neurons": slice(0, nh),
            "domain_facets": slice(nh, nh + m),
            "outputs": slice(nh + m, self._signs.shape[1]),
        }

    def cells_of_dim(self, k: int) -> range:
        """Indices of the cells of dimension ``k`` (a contiguous range)."""
        if k < 0 or k > self.input_dim:
            return range(0)
        return range(int(self._offsets[k]), int(self._offsets[k + 1]))

    def regions(self) -> range:
        """Indices of the top-dimensional cells."""
        return self.cells_of_dim(self.input_dim)

    def __len__(self) -> int:
        return self.num_cells

    def __iter__(self) -> Iterator[Cell]:
        return (self.cell(i) for i in range(self.num_cells))

    def __repr__(self) -> str:
        return (f"PolyhedralComplex(architecture={self._network.architecture!r}, "
                f"domain={self._domain.describe()!r}, with_output={self._with_output}, "
                f"f_vector={self.f_vector})")

    # -- cells -----------------------------------------------------------------------------
    def dim(self, i: int) -> int:
        return int(self._dims[i])

    def sign_vector(self, i: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self._signs[i])

    def index_of(self, sign_vector: Sequence[int]) -> int:
        """The index of the cell with this sign vector (``KeyError`` if there is none)."""
        if self._key_index is None:
            rows = np.ascontiguousarray(self._signs)
            self._key_index = {rows[i].tobytes(): i for i in range(self.num_cells)}
        key = np.asarray(sign_vector, dtype=np.int8).tobytes()
        try:
            return self._key_index[key]
        except KeyError:
            raise KeyError(f"no cell with sign vector {tuple(sign_vector)}") from None

    def __contains__(self, sign_vector: object) -> bool:
        try:
            self.index_of(sign_vector)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def facets(self, i: int) -> tuple[int, ...]:
        a, b = self._indptr[i], self._indptr[i + 1]
        return tuple(int(x) for x in self._indices[a:b])

    def cofacet_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """The cofacet relation as CSR arrays ``(indptr, indices)``."""
        if self._cof is None:
            N = self.num_cells
            counts = np.diff(self._indptr)
            owners = np.repeat(np.arange(N, dtype=np.int64), counts)
            order = np.argsort(self._indices, kind="stable")
            ind = owners[order]
            ptr = np.zeros(N + 1, dtype=np.int64)
            np.cumsum(np.bincount(self._indices, minlength=N), out=ptr[1:])
            ptr.setflags(write=False)
            ind.setflags(write=False)
            self._cof = (ptr, ind)
        return self._cof

    def cofacets(self, i: int) -> tuple[int, ...]:
        ptr, ind = self.cofacet_csr()
        return tuple(int(x) for x in ind[ptr[i] : ptr[i + 1]])

    def vertex_sets(self) -> list[frozenset[int]]:
        """The vertex indices of every cell."""
        if self._vsets is None:
            N = self.num_cells
            vs: list[frozenset[int]] = [frozenset()] * N
            ptr, ind = self._indptr, self._indices.tolist()
            f0 = self.f_vector[0]
            for i in range(f0):
                vs[i] = frozenset((i,))
            for i in range(f0, N):
                s: set[int] = set()
                for f in ind[ptr[i] : ptr[i + 1]]:
                    s |= vs[f]
                vs[i] = frozenset(s)
            self._vsets = vs
        return self._vsets

    def cell_vertices(self, i: int) -> tuple[int, ...]:
        return tuple(sorted(self.vertex_sets()[i]))

    def cell(self, i: int) -> Cell:
        if not 0 <= i < self.num_cells:
            raise IndexError(f"cell index {i} out of range (0..{self.num_cells - 1})")
        return Cell(i, self.dim(i), self.sign_vector(i), self.cell_vertices(i),
                    self.facets(i), self.cofacets(i))

    # -- exact geometry --------------------------------------------------------------------
    def vertex(self, v: int) -> tuple[Fraction, ...]:
        """Exact coordinates of vertex ``v`` (a cell of dimension 0)."""
        h = self._coords[v]
        return tuple(Fraction(x, h[-1]) for x in h[:-1])

    def vertex_homogeneous(self, v: int) -> tuple[int, ...]:
        """The primitive integer vector ``(D x, D)`` of vertex ``v``."""
        return self._coords[v]

    @property
    def num_vertex_coords(self) -> int:
        """How many vertex coordinate vectors the complex holds (``f_0`` when well formed)."""
        return len(self._coords)

    def vertices_float(self) -> np.ndarray:
        """Float view of every vertex, shape ``(f_0, n)`` (``±inf`` beyond the float range)."""
        def view(x: int, d: int) -> float:
            try:
                return x / d
            except OverflowError:
                return float_view(Fraction(x, d))

        return np.array([[view(x, h[-1]) for x in h[:-1]] for h in self._coords], dtype=float)

    def interior_point(self, i: int) -> tuple[Fraction, ...]:
        """An exact point of the relative interior of cell ``i`` (the average of its vertices)."""
        vs = self.cell_vertices(i)
        n = self.input_dim
        acc = [Fraction(0)] * n
        for v in vs:
            for k, x in enumerate(self.vertex(v)):
                acc[k] += x
        return tuple(a / len(vs) for a in acc)

    def volume(self, i: int) -> Fraction:
        """Exact ``n``-dimensional volume of a top cell (0 for lower-dimensional cells)."""
        from .measure import pulling_triangulation, simplices_volume

        if self.dim(i) < self.input_dim:
            return Fraction(0)
        vsets = self.vertex_sets()
        simplices = pulling_triangulation(i, self.facets, lambda c: vsets[c], self.dim)
        return simplices_volume(simplices, self._coords.__getitem__)

    def region_volumes(self) -> list[Fraction]:
        """Exact volumes of the regions, in the order of :meth:`regions`.

        Computed for all regions at once by the face recursion of :mod:`exactcells.volumes`
        (:meth:`volume` is the per-region pulling triangulation it is tested against).
        """
        from .volumes import region_volumes

        return region_volumes(self)

    def affine_map(self, i: int) -> tuple[tuple[tuple[Fraction, ...], ...], tuple[Fraction, ...]]:
        """The exact affine map ``x -> A x + c`` of the network output on cell ``i``.

        Every unit is affine on the closure of a cell (a ReLU with sign +1 passes, with -1 or 0
        passes nothing: on a cell a zero unit is identically 0, so either choice gives the same
        map there; a max unit passes its first maximizer).
        """
        from .network import local_affine_forms

        return local_affine_forms(self._network, self.sign_vector(i))[1]

    def output_values_at_vertices(self) -> list[tuple[Fraction, ...]]:
        """Exact network output at every vertex (one integer forward pass over all vertices)."""
        return self._network.forward_homogeneous(self._coords)[1]

    # -- graphs ----------------------------------------------------------------------------
    def hasse_diagram(self) -> nx.DiGraph:
        """The face poset's cover relation as a DiGraph with edges facet -> cofacet.

        Nodes are cell indices with attributes ``dim`` and ``sign_vector``.
        """
        import networkx as nx

        G = nx.DiGraph()
        for i in range(self.num_cells):
            G.add_node(i, dim=self.dim(i), sign_vector=self.sign_vector(i))
        counts = np.diff(self._indptr)
        owners = np.repeat(np.arange(self.num_cells), counts)
        G.add_edges_from(zip(self._indices.tolist(), owners.tolist()))
        return G

    # -- summaries and files ---------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "architecture": self._network.architecture,
            "domain": self._domain.describe(),
            "with_output": self._with_output,
            "output_refinement": self._refinement,
            "f_vector": list(self.f_vector),
            "num_cells": self.num_cells,
            "num_regions": self.num_regions,
            "euler_characteristic": self.euler_characteristic,
            "rounding": self._network.rounding,
        }

    def save(self, path: str | Path, force: bool = False, extra_meta: dict[str, Any] | None = None) -> None:
        """Write the complex in the versioned ``.npz`` format (see :func:`load_complex`).

        ``extra_meta`` adds keys to the ``meta`` record (e.g. ``"slice"``: the slice the complex
        was built on); they cannot replace the format's own keys.
        """
        from .io import atomic_output, write_npz

        meta: dict[str, Any] = dict(extra_meta or {})
        meta |= {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "network": self._network.to_dict(),
            "domain": self._domain.to_dict(),
            "with_output": self._with_output,
            "output_refinement": self._refinement,
            "f_vector": list(self.f_vector),
            "build_seconds": self._build_seconds,
        }
        from .numbers import format_int

        text = "\n".join(" ".join(format_int(x) for x in h) for h in self._coords)
        with atomic_output(path, force=force) as f:
            write_npz(f, [
                ("meta", np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)),
                ("dims", self._dims),
                ("signs", self._signs),
                ("facet_indptr", self._indptr),
                ("facet_indices", self._indices),
                ("vertex_coords", np.frombuffer(text.encode(), dtype=np.uint8)),
            ])


def load_complex(path: str | Path) -> PolyhedralComplex | ShardedComplex:
    """Read a complex written by :meth:`PolyhedralComplex.save`, without recomputation.

    A directory is a sharded complex (:mod:`exactcells.shards`): it is opened lazily as a
    :class:`~exactcells.shards.ShardedComplex` (the index only; shards load on demand).

    The file is a numpy ``.npz`` archive with arrays

    ``meta``
        UTF-8 JSON: ``format`` (``"exactcells-complex"``), ``version`` (1), ``network``
        (README.md, "Formats"), ``domain`` (``{"box": ...}`` or ``{"A": ..., "c": ...}``),
        ``with_output``, ``output_refinement``, ``f_vector``, ``build_seconds`` (and any
        ``extra_meta`` of :meth:`PolyhedralComplex.save`, e.g. ``slice``).
    ``dims`` (int8), ``signs`` (int8, cells x sign-vector length)
        Canonical order: by dimension, then sign vector.
    ``facet_indptr``, ``facet_indices`` (int64)
        The facet relation in CSR form.
    ``vertex_coords``
        UTF-8 text, one line per vertex: the integers ``D x_1 ... D x_n D``.
    """
    from .io import SafeArchive

    p = Path(path)
    if p.is_dir():
        from .shards import load_sharded

        return load_sharded(p)
    data = SafeArchive(p, FormatError)
    try:
        with data:
            return _complex_from_arrays(p, data)
    except FormatError:
        raise
    except (ExactCellsError, KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise FormatError(f"{p}: corrupt exactcells complex ({type(e).__name__}: {e})") from e


def cell_codes(dims: Any, signs: Any, n: int, where: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A file's ``dims`` and ``signs`` arrays as int8, checked before the cast (which would wrap
    a stored 300 around): integers, dimensions in ``0 .. n``, signs -1, 0 or 1."""
    d, s = np.asarray(dims), np.asarray(signs)
    if d.dtype.kind not in "iu" or s.dtype.kind not in "iu":
        raise FormatError(f"{where}: 'dims' and 'signs' must be integer arrays")
    if s.size and (s.min() < -1 or s.max() > 1):
        bad = tuple(np.argwhere((s < -1) | (s > 1))[0].tolist())
        raise FormatError(f"{where}: 'signs' holds {s[bad]} at {bad}, not -1, 0 or 1")
    if d.size and (d.min() < 0 or d.max() > n):
        raise FormatError(f"{where}: 'dims' out of the range 0..{n}")
    return d.astype(np.int8), s.astype(np.int8)


def _complex_from_arrays(p: Path, data: Any) -> PolyhedralComplex:
    if "meta" not in data.files:
        raise FormatError(f"{p}: no 'meta' record: not an exactcells complex")
    from .io import loads_json

    meta = loads_json(bytes(data["meta"]), FormatError, f"{p}: the 'meta' record")
    if not isinstance(meta, dict):
        raise FormatError(f"{p}: the 'meta' record is not a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise FormatError(f"{p}: not an exactcells complex (format {meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION or not isinstance(meta.get("version"), int):
        raise FormatError(f"{p}: format version {meta.get('version')!r} is not supported "
                          f"(this exactcells reads version {FORMAT_VERSION})")
    for key in ("network", "domain", "with_output"):
        if key not in meta:
            raise FormatError(f"{p}: the 'meta' record has no '{key}'")
    for name in ("dims", "signs", "facet_indptr", "facet_indices", "vertex_coords"):
        if name not in data.files:
            raise FormatError(f"{p}: the array '{name}' is missing")
    net = network_from_dict(meta["network"])
    dom = Domain.from_dict(meta["domain"])
    with_output = bool(meta["with_output"])
    refinement = meta.get("output_refinement", "zero" if with_output else None)
    if refinement not in (None, "zero", "argmax") or (refinement is None) == with_output:
        raise FormatError(f"{p}: output_refinement {refinement!r} does not fit with_output = {with_output}")
    dims, signs = cell_codes(data["dims"], data["signs"], dom.dim, p)
    indptr = np.asarray(data["facet_indptr"], dtype=np.int64)
    indices = np.asarray(data["facet_indices"], dtype=np.int64)
    N = dims.shape[0]
    width = net.num_hidden + dom.num_facets + (net.output_dim if with_output else 0)
    if dims.ndim != 1 or signs.shape != (N, width):
        raise FormatError(f"{p}: 'signs' has shape {signs.shape}, expected ({N}, {width})")
    if indptr.shape != (N + 1,) or indptr[0] != 0 or indptr[-1] != indices.shape[0] \
            or np.any(np.diff(indptr) < 0):
        raise FormatError(f"{p}: 'facet_indptr' does not describe {N} cells")
    if indices.size and (indices.min() < 0 or indices.max() >= N):
        raise FormatError(f"{p}: 'facet_indices' points outside the cells")
    if N and (np.any(np.diff(dims) < 0) or dims.min() < 0 or dims.max() > dom.dim):
        raise FormatError(f"{p}: 'dims' is not sorted or out of range")
    text = bytes(data["vertex_coords"]).decode()
    verts = [tuple(_coordinate(x) for x in line.split()) for line in text.split("\n")] if text else []
    f0 = int(np.count_nonzero(dims == 0))
    if len(verts) != f0 or any(len(v) != dom.dim + 1 or v[-1] <= 0 for v in verts):
        raise FormatError(f"{p}: 'vertex_coords' must have {f0} lines of {dom.dim + 1} integers "
                          "with a positive last entry")
    return PolyhedralComplex(
        network=net,
        domain=dom,
        with_output=with_output,
        dims=dims,
        signs=signs,
        facet_indptr=indptr,
        facet_indices=indices,
        vertex_coords=verts,
        build_seconds=_seconds(meta.get("build_seconds", 0.0)),
        output_refinement=refinement,
    )


#: The most digits of one vertex coordinate in a complex file.
MAX_COORDINATE_DIGITS = 1_000_000


def _coordinate(token: str) -> int:
    """One integer of ``vertex_coords`` (long ones through FLINT; bounded length)."""
    if len(token) <= 4000:
        return int(token)
    from .numbers import parse_int_string

    return parse_int_string(token, max_digits=MAX_COORDINATE_DIGITS)


def _seconds(value: Any) -> float:
    """The ``build_seconds`` of a complex file's meta record (0 when absent or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    f = float_view(value)
    return f if math.isfinite(f) else 0.0
