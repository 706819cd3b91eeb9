"""The sharded complex: one self-describing file per partition of the cells, plus a small index.

A complex larger than one process's memory is written as a directory::

    DIR/index.json          format, version, network, domain, refinement, f-vector, partitions
    DIR/shard-00000.npz     the cells whose sign vector hashes to partition 0
    ...

Cells are assigned to partitions by :func:`partition_of`, a fixed hash of their sign vector
(independent of the machine, the number of workers and the order of the work), so that a cell's
shard is found from its sign vector alone. Inside a shard the cells are in canonical order (by
dimension, then sign vector), and a facet is referred to by ``(shard, local index)``; the facets
of a cell are listed in canonical order (by sign vector). Shard files are written
deterministically (fixed zip timestamps), so the same complex gives byte-identical shards however
it was computed. :func:`load_sharded` (and :func:`exactcells.load_complex` on a directory) reads
the index only; shards are loaded when a lookup needs them.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .complex import PolyhedralComplex, cell_codes
from .domain import Domain
from .errors import ExactCellsError, FormatError, OutputExistsError
from .network import Network, network_from_dict

__all__ = [
    "SHARDED_FORMAT_NAME", "SHARD_FORMAT_NAME", "SHARDED_FORMAT_VERSION", "INDEX_FILE",
    "partition_of", "Shard", "ShardedComplex", "shard_complex", "write_shards", "write_index",
    "load_sharded", "gather_shards", "shard_filename", "z2_betti", "dual_adjacency", "certify_shards",
    "shard_volume", "closure_volume", "sharded_certificate", "SHARD_CHECKS",
]

SHARDED_FORMAT_NAME = "exactcells-sharded-complex"
SHARD_FORMAT_NAME = "exactcells-shard"
SHARDED_FORMAT_VERSION = 1
INDEX_FILE = "index.json"
_MASK = (1 << 64) - 1
_CHUNK = 1 << 16


def shard_filename(p: int) -> str:
    return f"shard-{p:05d}.npz"


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _weights(width: int) -> np.ndarray:
    return np.array([_splitmix(k + 1) for k in range(width)], dtype=np.uint64)


def partition_of(signs: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each sign vector (rows of ``signs``, entries -1, 0, 1).

    ``h = sum_k (s_k + 1) * w_k  (mod 2^64)`` with ``w_k = splitmix64(k + 1)``, then one
    xor-shift-multiply round, then ``h mod partitions``. Pure integer arithmetic: the same on
    every machine.
    """
    signs = np.asarray(signs)
    N = signs.shape[0]
    out = np.empty(N, dtype=np.int64)
    if partitions == 1 or N == 0:
        out[:] = 0
        return out
    w = _weights(signs.shape[1])
    for a in range(0, N, _CHUNK):
        codes = (signs[a : a + _CHUNK].astype(np.int64) + 1).astype(np.uint64)
        h = (codes * w).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
        out[a : a + _CHUNK] = (h % np.uint64(partitions)).astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class Shard:
    """The cells of one partition, in canonical order, with cross-shard facet references."""

    dims: np.ndarray  # int8 (m,)
    signs: np.ndarray  # int8 (m, width)
    facet_indptr: np.ndarray  # int64 (m + 1,)
    facet_shard: np.ndarray  # int32: the shard of each facet
    facet_local: np.ndarray  # int64: its index in that shard
    vertex_coords: tuple[tuple[int, ...], ...]  # the dimension-0 cells (the first ones)

    @property
    def num_cells(self) -> int:
        return int(self.dims.shape[0])

    def f_vector(self, n: int) -> tuple[int, ...]:
        return tuple(int(x) for x in np.bincount(self.dims.astype(np.int64), minlength=n + 1)[: n + 1])

    def to_bytes(self, p: int, partitions: int) -> bytes:
        """The shard file (an ``.npz`` archive written with fixed timestamps)."""
        meta = {"format": SHARD_FORMAT_NAME, "version": SHARDED_FORMAT_VERSION, "shard": p,
                "partitions": partitions}
        text = "\n".join(" ".join(str(x) for x in h) for h in self.vertex_coords)
        arrays: list[tuple[str, np.ndarray]] = [
            ("meta", np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)),
            ("dims", self.dims), ("signs", self.signs), ("facet_indptr", self.facet_indptr),
            ("facet_shard", self.facet_shard), ("facet_local", self.facet_local),
            ("vertex_coords", np.frombuffer(text.encode(), dtype=np.uint8)),
        ]
        from .io import write_npz

        buf = io.BytesIO()
        write_npz(buf, arrays)
        return buf.getvalue()

    def save(self, path: str | Path, p: int, partitions: int, force: bool = False) -> None:
        from .io import atomic_write_bytes

        atomic_write_bytes(path, self.to_bytes(p, partitions), force=force)


def load_shard(path: str | Path, p: int, partitions: int, width: int, n: int, vertices: bool = True) -> Shard:
    """Read and check one shard file (without ``vertices``, its vertices' coordinates are
    neither read nor checked and the shard has none: for lookups of dimensions, sign vectors
    and facets)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as e:  # a truncated zip: BadZipFile
        raise FormatError(f"{path}: not a readable exactcells shard ({e})") from e
    try:
        with data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format") != SHARD_FORMAT_NAME or meta.get("version") != SHARDED_FORMAT_VERSION:
                raise FormatError(f"{path}: not an exactcells shard of version {SHARDED_FORMAT_VERSION}")
            if meta.get("shard") != p or meta.get("partitions") != partitions:
                raise FormatError(f"{path}: shard {meta.get('shard')} of {meta.get('partitions')}, "
                                  f"expected shard {p} of {partitions}")
            dims, signs = cell_codes(data["dims"], data["signs"], n, path)
            indptr = np.asarray(data["facet_indptr"], dtype=np.int64)
            fsh = np.asarray(data["facet_shard"], dtype=np.int32)
            floc = np.asarray(data["facet_local"], dtype=np.int64)
            text = bytes(data["vertex_coords"]).decode() if vertices else ""
    except FormatError:
        raise
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise FormatError(f"{path}: corrupt exactcells shard ({type(e).__name__}: {e})") from e
    m = dims.shape[0]
    if signs.shape != (m, width) or indptr.shape != (m + 1,) or (m and indptr[0] != 0) \
            or indptr[-1] != fsh.shape[0] or fsh.shape != floc.shape:
        raise FormatError(f"{path}: inconsistent array shapes in the shard")
    if fsh.size and (fsh.min() < 0 or fsh.max() >= partitions or floc.min() < 0):
        raise FormatError(f"{path}: facet references outside the shards")
    verts = tuple(tuple(int(x) for x in line.split()) for line in text.split("\n")) if text else ()
    f0 = int(np.count_nonzero(dims == 0))
    if not vertices:
        return Shard(dims, signs, indptr, fsh, floc, ())
    if len(verts) != f0 or any(len(v) != n + 1 or v[-1] <= 0 for v in verts):
        raise FormatError(f"{path}: 'vertex_coords' must have {f0} lines of {n + 1} integers")
    return Shard(dims, signs, indptr, fsh, floc, verts)


def _canonical_order(dims: np.ndarray, signs: np.ndarray) -> np.ndarray:
    K = signs.shape[1]
    return np.lexsort(tuple(signs[:, k] for k in range(K - 1, -1, -1)) + (dims,))


def shard_complex(K: PolyhedralComplex, partitions: int) -> list[Shard]:
    """Split an in-memory complex into shards (the same shards a distributed build writes)."""
    if partitions < 1:
        raise ExactCellsError(f"partitions must be at least 1, got {partitions}")
    part = partition_of(K.signs, partitions)
    local = np.empty(K.num_cells, dtype=np.int64)
    members = [np.flatnonzero(part == p) for p in range(partitions)]  # canonical order kept
    for ids in members:
        local[ids] = np.arange(ids.shape[0], dtype=np.int64)
    indptr, indices = K.facet_csr
    out = []
    for ids in members:
        counts = (indptr[ids + 1] - indptr[ids]).astype(np.int64)
        ptr = np.zeros(ids.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        if ids.size:
            starts = np.repeat(indptr[ids], counts)
            within = np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], counts)
            fac = indices[starts + within]
        else:
            fac = np.zeros(0, dtype=np.int64)
        f0 = int(np.count_nonzero(K.dims[ids] == 0))
        out.append(Shard(
            K.dims[ids].copy(), K.signs[ids].copy(), ptr, part[fac].astype(np.int32), local[fac],
            tuple(K.vertex_homogeneous(int(v)) for v in ids[:f0]),
        ))
    return out


def _index_record(net: Network, domain: Domain, refinement: str | None, f_vector: Sequence[int],
                  shard_f: Sequence[Sequence[int]]) -> dict[str, Any]:
    return {
        "format": SHARDED_FORMAT_NAME,
        "version": SHARDED_FORMAT_VERSION,
        "network": net.to_dict(),
        "domain": domain.to_dict(),
        "with_output": refinement is not None,
        "output_refinement": refinement,
        "f_vector": [int(x) for x in f_vector],
        "num_cells": int(sum(f_vector)),
        "partitions": len(shard_f),
        "hash": "splitmix64-weighted sum of (sign + 1), see exactcells.shards.partition_of",
        "shards": [{"file": shard_filename(p), "f_vector": [int(x) for x in f]} for p, f in enumerate(shard_f)],
    }


def check_out_dir(path: Path, force: bool) -> None:
    if (path / INDEX_FILE).exists() and not force:
        raise OutputExistsError(f"{path} holds a complex already; pass --force (force=True) to overwrite")
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a directory")


def write_index(path: str | Path, net: Network, domain: Domain, refinement: str | None,
                shard_f: Sequence[Sequence[int]], force: bool = False) -> None:
    """Write ``index.json`` last (atomically): a directory with an index is complete."""
    from .io import atomic_write_text

    n = domain.dim
    f = [sum(int(sf[k]) for sf in shard_f) for k in range(n + 1)]
    rec = _index_record(net, domain, refinement, f, shard_f)
    atomic_write_text(Path(path) / INDEX_FILE, json.dumps(rec, sort_keys=True, indent=1) + "\n", force=force)


def write_shards(K: PolyhedralComplex, path: str | Path, partitions: int = 8, force: bool = False) -> None:
    """Write an in-memory complex as a sharded directory."""
    p = Path(path)
    check_out_dir(p, force)
    shards = shard_complex(K, partitions)
    p.mkdir(parents=True, exist_ok=True)
    for q, s in enumerate(shards):
        s.save(p / shard_filename(q), q, partitions, force=True)
    write_index(p, K.network, K.domain, K.output_refinement,
                [s.f_vector(K.input_dim) for s in shards], force=force)


def gather_shards(shards: Sequence[Shard], net: Network, domain: Domain, refinement: str | None,
                  build_seconds: float = 0.0) -> PolyhedralComplex:
    """One in-memory :class:`PolyhedralComplex` (canonical numbering) from all the shards."""
    dims = np.concatenate([s.dims for s in shards]) if shards else np.zeros(0, np.int8)
    signs = np.concatenate([s.signs for s in shards])
    offs = np.zeros(len(shards) + 1, dtype=np.int64)
    np.cumsum([s.num_cells for s in shards], out=offs[1:])
    order = _canonical_order(dims, signs)
    N = dims.shape[0]
    new_id = np.empty(N, dtype=np.int64)
    new_id[order] = np.arange(N, dtype=np.int64)
    counts = np.concatenate([np.diff(s.facet_indptr) for s in shards])
    flat_old = np.concatenate([offs[s.facet_shard] + s.facet_local for s in shards])
    flat = new_id[flat_old] if flat_old.size else flat_old.astype(np.int64)
    # the facets of a cell are listed by sign vector within its shard: the canonical order
    cell_start = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(counts, out=cell_start[1:])
    sorted_counts = counts[order]
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(sorted_counts, out=indptr[1:])
    starts = np.repeat(cell_start[order], sorted_counts)
    within = np.arange(int(indptr[-1]), dtype=np.int64) - np.repeat(indptr[:-1], sorted_counts)
    indices = flat[starts + within]
    all_verts: list[tuple[int, ...]] = []
    vert_old: list[int] = []
    for q, s in enumerate(shards):
        all_verts.extend(s.vertex_coords)
        vert_old.extend(range(int(offs[q]), int(offs[q]) + len(s.vertex_coords)))
    pos = {old: i for i, old in enumerate(vert_old)}
    f0 = len(vert_old)
    verts = [all_verts[pos[int(old)]] for old in order[:f0]]
    return PolyhedralComplex(
        network=net, domain=domain, with_output=refinement is not None,
        output_refinement=refinement, dims=dims[order], signs=signs[order],
        facet_indptr=indptr, facet_indices=indices, vertex_coords=verts,
        build_seconds=build_seconds,
    )


class ShardedComplex:
    """A complex on disk in shards, read lazily (at most ``cache`` shards in memory at once).

    Cells are named by *cell ids* ``local * partitions + shard``. :meth:`index_of` finds a cell
    from its sign vector by loading only the shard the sign vector hashes to.
    """

    def __init__(self, path: str | Path, cache: int = 4) -> None:
        self._path = Path(path)
        idx = self._path / INDEX_FILE
        try:
            rec = json.loads(idx.read_text(encoding="utf-8"))
        except OSError as e:
            raise FormatError(f"{self._path}: no readable {INDEX_FILE} ({e.strerror or e})") from e
        except ValueError as e:
            raise FormatError(f"{idx}: not valid JSON") from e
        if not isinstance(rec, dict) or rec.get("format") != SHARDED_FORMAT_NAME:
            raise FormatError(f"{idx}: not an exactcells sharded complex")
        if rec.get("version") != SHARDED_FORMAT_VERSION:
            raise FormatError(f"{idx}: format version {rec.get('version')!r} is not supported "
                              f"(this exactcells reads version {SHARDED_FORMAT_VERSION})")
        try:
            self._net = network_from_dict(rec["network"])
            self._domain = Domain.from_dict(rec["domain"])
            self._refinement: str | None = rec["output_refinement"]
            self._f = tuple(int(x) for x in rec["f_vector"])
            self._P = int(rec["partitions"])
            self._shard_f = [tuple(int(x) for x in s["f_vector"]) for s in rec["shards"]]
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{idx}: incomplete index ({type(e).__name__}: {e})") from e
        if self._refinement not in (None, "zero", "argmax") or len(self._shard_f) != self._P \
                or len(self._f) != self._domain.dim + 1:
            raise FormatError(f"{idx}: inconsistent index")
        self._width = self._net.num_hidden + self._domain.num_facets + (
            self._net.output_dim if self._refinement is not None else 0)
        self._cache_size = max(1, cache)
        self._shards: OrderedDict[int, Shard] = OrderedDict()
        self._keys: dict[int, dict[bytes, int]] = {}

    # -- facts from the index alone ----------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def network(self) -> Network:
        return self._net

    @property
    def domain(self) -> Domain:
        return self._domain

    @property
    def input_dim(self) -> int:
        return self._domain.dim

    @property
    def with_output(self) -> bool:
        return self._refinement is not None

    @property
    def output_refinement(self) -> str | None:
        return self._refinement

    @property
    def partitions(self) -> int:
        return self._P

    @property
    def f_vector(self) -> tuple[int, ...]:
        return self._f

    @property
    def num_cells(self) -> int:
        return sum(self._f)

    @property
    def num_regions(self) -> int:
        return self._f[-1]

    @property
    def euler_characteristic(self) -> int:
        return sum((-1) ** k * f for k, f in enumerate(self._f))

    @property
    def shard_width(self) -> int:
        """The length of a sign vector in the shards."""
        return self._width

    def shard_f_vectors(self) -> list[tuple[int, ...]]:
        return list(self._shard_f)

    def summary(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim, "architecture": self._net.architecture,
            "domain": self._domain.describe(), "with_output": self.with_output,
            "output_refinement": self._refinement, "f_vector": list(self._f),
            "num_cells": self.num_cells, "num_regions": self.num_regions,
            "euler_characteristic": self.euler_characteristic, "rounding": self._net.rounding,
            "partitions": self._P,
        }

    def __len__(self) -> int:
        return self.num_cells

    def __repr__(self) -> str:
        return (f"ShardedComplex({str(self._path)!r}, architecture={self._net.architecture!r}, "
                f"partitions={self._P}, f_vector={self._f})")

    # -- shards, loaded on demand ------------------------------------------------------------
    def shard(self, p: int) -> Shard:
        s = self._shards.get(p)
        if s is not None:
            self._shards.move_to_end(p)
            return s
        if not 0 <= p < self._P:
            raise IndexError(f"shard {p} out of range (0..{self._P - 1})")
        s = load_shard(self._path / shard_filename(p), p, self._P, self._width, self.input_dim)
        if s.f_vector(self.input_dim) != self._shard_f[p]:
            raise FormatError(f"{self._path / shard_filename(p)}: its f-vector does not match the index")
        self._shards[p] = s
        while len(self._shards) > self._cache_size:
            old, _ = self._shards.popitem(last=False)
            self._keys.pop(old, None)
        return s

    def loaded_shards(self) -> tuple[int, ...]:
        return tuple(self._shards)

    def _split(self, cid: int) -> tuple[int, int]:
        if cid < 0:
            raise IndexError(f"cell id {cid} is negative")
        return cid % self._P, cid // self._P

    def index_of(self, sign_vector: Sequence[int]) -> int:
        """The cell id of the cell with this sign vector (``KeyError`` if there is none)."""
        row = np.asarray(sign_vector, dtype=np.int8).reshape(1, -1)
        if row.shape[1] != self._width:
            raise KeyError(f"no cell with sign vector {tuple(sign_vector)}")
        p = int(partition_of(row, self._P)[0])
        s = self.shard(p)
        keys = self._keys.get(p)
        if keys is None:
            rows = np.ascontiguousarray(s.signs)
            keys = {rows[i].tobytes(): i for i in range(s.num_cells)}
            self._keys[p] = keys
        try:
            return keys[row.tobytes()] * self._P + p
        except KeyError:
            raise KeyError(f"no cell with sign vector {tuple(sign_vector)}") from None

    def __contains__(self, sign_vector: object) -> bool:
        try:
            self.index_of(sign_vector)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def dim(self, cid: int) -> int:
        p, i = self._split(cid)
        return int(self.shard(p).dims[i])

    def sign_vector(self, cid: int) -> tuple[int, ...]:
        p, i = self._split(cid)
        return tuple(int(x) for x in self.shard(p).signs[i])

    def facets(self, cid: int) -> tuple[int, ...]:
        p, i = self._split(cid)
        s = self.shard(p)
        a, b = int(s.facet_indptr[i]), int(s.facet_indptr[i + 1])
        return tuple(int(loc) * self._P + int(q) for q, loc in zip(s.facet_shard[a:b], s.facet_local[a:b]))

    def vertex_homogeneous(self, cid: int) -> tuple[int, ...]:
        p, i = self._split(cid)
        s = self.shard(p)
        if s.dims[i] != 0:
            raise ExactCellsError(f"cell {cid} is not a vertex")
        return s.vertex_coords[i]

    def cells_of_dim(self, k: int) -> Iterator[int]:
        """The cell ids of dimension ``k``, shard by shard (one shard in memory at a time)."""
        for p in range(self._P):
            if k < 0 or k >= len(self._shard_f[p]) or self._shard_f[p][k] == 0:
                continue
            s = self.shard(p)
            lo = int(np.searchsorted(s.dims, k, side="left"))
            hi = int(np.searchsorted(s.dims, k, side="right"))
            yield from (i * self._P + p for i in range(lo, hi))

    def iter_shards(self) -> Iterator[tuple[int, Shard]]:
        for p in range(self._P):
            yield p, self.shard(p)

    def to_complex(self) -> PolyhedralComplex:
        """Gather every shard into one in-memory :class:`PolyhedralComplex` (small complexes)."""
        shards = [load_shard(self._path / shard_filename(p), p, self._P, self._width, self.input_dim)
                  for p in range(self._P)]
        return gather_shards(shards, self._net, self._domain, self._refinement)


def load_sharded(path: str | Path, cache: int = 4) -> ShardedComplex:
    """Open a sharded complex directory lazily (reads ``index.json`` only)."""
    return ShardedComplex(path, cache)


def z2_betti(S: ShardedComplex, subcomplex: str = "all", output: int = 0) -> tuple[int, ...]:
    """Z/2 Betti numbers of a sharded complex or of a decision boundary, without gathering it.

    ``subcomplex``: ``"all"`` (the whole complex) or ``"decision_boundary"`` (the cells where
    output ``output`` is zero: a closed subcomplex, since an affine function that vanishes on a
    cell vanishes on its closure). The boundary matrix is assembled shard by shard (one shard in
    memory at a time besides the matrix: columns by dimension, then shard, then local index, so
    every face comes before its cofaces) and reduced by PHAT in this process. The matrix takes
    about ``8 (N + F)`` bytes for ``N`` cells and ``F`` facet incidences (a few hundred MB at
    10^7 cells); PHAT's own memory is some times that.
    """
    from .topology.phat_adapter import reduce_pairs

    n = S.input_dim
    P = S.partitions
    if subcomplex not in ("all", "decision_boundary"):
        raise ExactCellsError(f"subcomplex must be 'all' or 'decision_boundary', got {subcomplex!r}")
    col = None
    if subcomplex == "decision_boundary":
        if S.output_refinement != "zero":
            raise ExactCellsError("the decision boundary needs a complex built with the output (zero refinement)")
        m = S.network.output_dim
        if not 0 <= output < m:
            raise ExactCellsError(f"output {output} does not exist (the network has {m} outputs)")
        col = S.network.num_hidden + S.domain.num_facets + output
    # pass 1: which cells are in, and their column numbers (dimension, shard, local index)
    keep: list[np.ndarray] = []
    for p in range(P):
        s = S.shard(p)
        keep.append(np.ones(s.num_cells, dtype=bool) if col is None else s.signs[:, col] == 0)
    counts = np.array([[int(np.count_nonzero(keep[p][S.shard(p).dims == k])) for p in range(P)]
                       for k in range(n + 1)], dtype=np.int64) if P else np.zeros((n + 1, 0), np.int64)
    base = np.concatenate([[0], np.cumsum(counts.reshape(-1))])[:-1].reshape(n + 1, P) if P else counts
    colid: list[np.ndarray] = []
    for p in range(P):
        s = S.shard(p)
        ids = np.full(s.num_cells, -1, dtype=np.int64)
        for k in range(n + 1):
            sel = np.flatnonzero(keep[p] & (s.dims == k))
            ids[sel] = base[k, p] + np.arange(sel.shape[0], dtype=np.int64)
        colid.append(ids)
    N = int(counts.sum())
    dims = np.empty(N, dtype=np.int64)
    nnz = np.zeros(N, dtype=np.int64)
    entries: list[tuple[np.ndarray, np.ndarray]] = []
    # pass 2: the columns (a facet of a kept cell is kept: the subcomplex is closed)
    for p in range(P):
        s = S.shard(p)
        sel = np.flatnonzero(colid[p] >= 0)
        dims[colid[p][sel]] = s.dims[sel]
        c = np.diff(s.facet_indptr)[sel]
        nnz[colid[p][sel]] = c
        pos = np.repeat(s.facet_indptr[sel], c) + (np.arange(int(c.sum()), dtype=np.int64)
                                                   - np.repeat(np.cumsum(c) - c, c))
        rows = np.empty(pos.shape[0], dtype=np.int64)
        fq, fl = s.facet_shard[pos], s.facet_local[pos]
        for q in np.unique(fq).tolist():
            m_ = fq == q
            rows[m_] = colid[q][fl[m_]]
        if np.any(rows < 0):
            raise FormatError(f"{S.path}: a facet of the subcomplex is missing from it")
        entries.append((np.repeat(colid[p][sel], c), rows))
    owner = np.concatenate([e[0] for e in entries]) if entries else np.zeros(0, np.int64)
    rows_all = np.concatenate([e[1] for e in entries]) if entries else np.zeros(0, np.int64)
    order = np.lexsort((rows_all, owner))
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(nnz, out=indptr[1:])
    pairs = reduce_pairs(dims, indptr, rows_all[order])
    betti = np.bincount(dims, minlength=n + 1)[: n + 1].astype(np.int64)
    if pairs.shape[0]:
        betti -= np.bincount(dims[pairs[:, 0]], minlength=n + 1)[: n + 1]
        betti -= np.bincount(dims[pairs[:, 1]], minlength=n + 1)[: n + 1]
    return tuple(int(b) for b in betti)


# -- certification per shard ----------------------------------------------------------------

_MAX_REPORTED = 5


def _expected_vertex_signs(S: ShardedComplex, coords: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Exact sign vectors at vertices given as homogeneous integer vectors: the one-process
    certificate's own forward pass (:func:`exactcells.certify.exact_sign_vectors`: a float filter
    with a proven bound, exact integers for every sign it cannot decide)."""
    from .certify import exact_sign_vectors

    return exact_sign_vectors(S.network, S.domain, coords, S.output_refinement)


class _Failures:
    """The failures of one task: every failure counted by kind (the kinds of
    :data:`exactcells.certify.FAILURE_KINDS`) and by check (the names of :data:`SHARD_CHECKS`),
    the first few of each kind described (with the cell concerned, as a cell id, and its sign
    vector, when there is one), and the time spent in each check."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.kinds: list[str] = []
        self.cells: list[int | None] = []
        self.keys: list[str | None] = []
        self.counts: dict[str, int] = {}
        self.checks: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def add(self, check: str, kind: str, count: int, messages: Sequence[str],
            cells: Sequence[int] | None = None, keys: Sequence[str] | None = None) -> None:
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + int(count)
            self.checks[check] = self.checks.get(check, 0) + int(count)
            for i, m in enumerate(messages[:_MAX_REPORTED]):
                self.messages.append(m)
                self.kinds.append(kind)
                self.cells.append(int(cells[i]) if cells is not None else None)
                self.keys.append(keys[i] if keys is not None else None)

    def timed(self, check: str, t0: float) -> float:
        import time

        t = time.perf_counter()
        self.seconds[check] = self.seconds.get(check, 0.0) + t - t0
        return t

    def record(self) -> dict[str, Any]:
        return {"failures": self.messages, "failure_kinds": self.kinds, "failure_cells": self.cells,
                "failure_keys": self.keys, "failure_counts": self.counts, "check_failure_counts": self.checks,
                "seconds": self.seconds}


def _key(row: np.ndarray) -> str:
    from .numbers import format_signs

    return format_signs(row)


def _load_facet_lists(path: Path, q: int, partitions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Only the dimensions and facet arrays of shard ``q`` (``dims``, ``indptr``, facets as
    cell ids): what another shard's interval check asks of it."""
    f = path / shard_filename(q)
    try:
        with np.load(f, allow_pickle=False) as data:
            dims = np.asarray(data["dims"], dtype=np.int8)
            indptr = np.asarray(data["facet_indptr"], dtype=np.int64)
            fsh = np.asarray(data["facet_shard"], dtype=np.int64)
            floc = np.asarray(data["facet_local"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FormatError(f"{f}: not a readable exactcells shard ({e})") from e
    if indptr.shape != (dims.shape[0] + 1,) or indptr[-1] != fsh.shape[0] or fsh.shape != floc.shape:
        raise FormatError(f"{f}: inconsistent array shapes in the shard")
    return dims, indptr, floc * partitions + fsh


def _interval_requests(s: Shard, partitions: int) -> list[np.ndarray]:
    """The facets of the shard's cells of dimension >= 2, by shard (local indices, sorted,
    distinct): the cells whose facet lists the interval check of this shard needs."""
    counts = np.diff(s.facet_indptr)
    up = np.repeat(s.dims >= 2, counts)
    fsh, floc = s.facet_shard[up], s.facet_local[up]
    return [np.unique(floc[fsh == q]) for q in range(partitions)]


def check_shard(path: str | Path, p: int) -> dict[str, Any]:
    """The checks of one shard that need only this shard and its facets' sign vectors.

    - ``shard_keys``: every cell hashes to this shard; cells are distinct and in canonical order;
    - ``vertex_signs``: every vertex's sign vector is the exact one at its coordinates (forward pass);
    - ``facet_links``: every facet of a cell exists, has one dimension less, and its sign vector
      agrees with the cell's wherever it is not zero (and differs from it); a vertex has no
      facets, a cell of dimension ``k >= 2`` at least ``k + 1``;
    - ``cell_signs`` (Lemma B): every cell of dimension ``k >= 1`` has facets of lower dimension,
      and its sign vector is the join of theirs (entrywise the non-zero value, no entry both
      ``+`` and ``-``). With the vertices' sign vectors exact (``vertex_signs``), this holds for
      every cell iff every cell's sign vector is the join of its vertices' (the one-process
      ``cell_signs``): the claimed vertices of a cell are the union of its lower facets', and a
      join of joins is the join of the union (induction on the dimension, both ways).

    Returns the shard's f-vector, counts, failures (the first few of each kind, with every
    failure counted by kind and by check), the time of each check; for the cross-shard checks,
    ``walls``: for every shard ``q`` the local indices of the facets in ``q`` of this shard's top
    cells and (distinct) of its other cells, and ``requests``: for every shard ``q`` the facets in
    ``q`` of this shard's cells of dimension >= 2 (:func:`answer_facets`, :func:`check_intervals`).
    """
    import time

    S = ShardedComplex(path, cache=2)
    n, P = S.input_dim, S.partitions
    t = time.perf_counter()
    s = S.shard(p)
    fail = _Failures()
    checked = {"cells": s.num_cells, "vertices": 0, "facet incidences": 0}
    if s.num_cells:
        wrong = np.flatnonzero(partition_of(s.signs, P) != p)
        fail.add("shard_keys", "format", wrong.shape[0], [f"shard {p}: cell {i} does not hash to this shard"
                                                          for i in wrong[:_MAX_REPORTED].tolist()],
                 (wrong[:_MAX_REPORTED] * P + p).tolist())
    order = _canonical_order(s.dims, s.signs)
    if not np.array_equal(order, np.arange(s.num_cells)):
        first = int(np.flatnonzero(order != np.arange(s.num_cells))[0])
        fail.add("shard_keys", "canonical_order", 1,
                 [f"shard {p}: cells are not in canonical order (from cell {first} on)"], [first * P + p])
    if s.num_cells > 1:
        d = np.diff(s.signs.astype(np.int16), axis=0)
        same = np.flatnonzero((np.diff(s.dims) == 0) & ~d.any(axis=1))
        fail.add("shard_keys", "extra_cell", same.shape[0],
                 [f"shard {p}: cells {i} and {i + 1} have the same sign vector" for i in same[:_MAX_REPORTED].tolist()],
                 ((same[:_MAX_REPORTED] + 1) * P + p).tolist())
    t = fail.timed("shard_keys", t)
    f0 = len(s.vertex_coords)
    if f0:
        exp = _expected_vertex_signs(S, s.vertex_coords)
        bad = np.flatnonzero(~(exp == s.signs[:f0]).all(axis=1))
        checked["vertices"] = f0
        fail.add("vertex_signs", "vertex_moved", bad.shape[0], [
            f"shard {p}: vertex {i} has sign vector {tuple(int(x) for x in s.signs[i])}, "
            f"the forward pass gives {tuple(int(x) for x in exp[i])}" for i in bad[:_MAX_REPORTED].tolist()],
            (bad[:_MAX_REPORTED] * P + p).tolist(), [_key(s.signs[i]) for i in bad[:_MAX_REPORTED].tolist()])
    t = fail.timed("vertex_signs", t)
    counts = np.diff(s.facet_indptr)
    owner = np.repeat(np.arange(s.num_cells, dtype=np.int64), counts)
    fdims = np.empty(owner.shape[0], dtype=np.int8)
    fsigns = np.empty((owner.shape[0], s.signs.shape[1]), dtype=np.int8)
    for q in np.unique(s.facet_shard).tolist():
        sel = np.flatnonzero(s.facet_shard == q)
        other = s if q == p else load_shard(S.path / shard_filename(q), q, P, s.signs.shape[1], n, vertices=False)
        loc = s.facet_local[sel]
        if loc.size and (loc.max() >= other.num_cells or loc.min() < 0):
            past = int(np.count_nonzero((loc >= other.num_cells) | (loc < 0)))
            fail.add("facet_links", "format", past, [f"shard {p}: a facet reference points outside shard {q}"])
            loc = np.clip(loc, 0, max(other.num_cells - 1, 0))
        fdims[sel] = other.dims[loc]
        fsigns[sel] = other.signs[loc]
    checked["facet incidences"] = int(owner.shape[0])
    cs = s.signs[owner]
    bad_dim = np.flatnonzero(fdims != s.dims[owner] - 1)
    bad_sign = np.flatnonzero(((fsigns != cs) & (fsigns != 0)).any(axis=1) | (fsigns == cs).all(axis=1))
    bad_link = np.union1d(bad_dim, bad_sign)
    wrong_dim = set(bad_dim[:_MAX_REPORTED].tolist())
    fail.add("facet_links", "bad_facet_link", bad_link.shape[0], [
        f"shard {p}: cell {int(owner[j])} has a facet with a wrong "
        f"{'dimension' if j in wrong_dim else 'sign vector'}" for j in bad_link[:_MAX_REPORTED].tolist()],
        (owner[bad_link[:_MAX_REPORTED]] * P + p).tolist())
    k = s.dims.astype(np.int64)
    bad_count = np.flatnonzero(((k >= 2) & (counts < k + 1)) | ((k == 0) & (counts != 0)))
    fail.add("facet_links", "missing_cell", bad_count.shape[0], [
        f"shard {p}: cell {i} of dimension {int(k[i])} has {int(counts[i])} facets"
        for i in bad_count[:_MAX_REPORTED].tolist()], (bad_count[:_MAX_REPORTED] * P + p).tolist())
    t = fail.timed("facet_links", t)
    _check_joins(fail, s, p, P, owner, fdims, fsigns)
    fail.timed("cell_signs", t)
    top = np.repeat(s.dims == n, counts)
    walls = [(s.facet_local[top & (s.facet_shard == q)], np.unique(s.facet_local[~top & (s.facet_shard == q)]))
             for q in range(P)]
    return {"shard": p, "f_vector": list(s.f_vector(n)), "checked": checked, **fail.record(), "walls": walls,
            "requests": _interval_requests(s, P)}


def _check_joins(fail: _Failures, s: Shard, p: int, P: int, owner: np.ndarray, fdims: np.ndarray,
                 fsigns: np.ndarray) -> None:
    """``cell_signs`` on one shard: each cell's sign vector against the join of its lower facets'
    (``owner``, ``fdims``, ``fsigns``: the facet links in order, the facets' dimensions and sign
    vectors, wherever they live)."""
    lower = np.flatnonzero(fdims < s.dims[owner])
    own = owner[lower]
    cells = np.flatnonzero(s.dims >= 1)
    has = np.zeros(s.num_cells, dtype=bool)
    has[own] = True
    empty = cells[~has[cells]]
    fail.add("cell_signs", "extra_cell", empty.shape[0], [
        f"cell {int(i) * P + p} (shard {p}, local {int(i)}) of dimension {int(s.dims[i])} has no vertices "
        "(no facets of lower dimension)" for i in empty[:_MAX_REPORTED].tolist()],
        (empty[:_MAX_REPORTED] * P + p).tolist(), [_key(s.signs[i]) for i in empty[:_MAX_REPORTED].tolist()])
    if own.size == 0 or s.signs.shape[1] == 0:
        return
    # joins as bit masks: + where some facet is + (and, for a cell, none -), - likewise
    pos, neg = np.packbits(fsigns[lower] > 0, axis=1), np.packbits(fsigns[lower] < 0, axis=1)
    starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])  # ``owner`` is sorted
    ids = own[starts]
    jp = np.bitwise_or.reduceat(pos, starts, axis=0)
    jn = np.bitwise_or.reduceat(neg, starts, axis=0)
    cp, cn = np.packbits(s.signs[ids] > 0, axis=1), np.packbits(s.signs[ids] < 0, axis=1)
    straddle = np.any(jp & jn, axis=1)
    wrong = ~straddle & (np.any(jp != cp, axis=1) | np.any(jn != cn, axis=1))
    width = s.signs.shape[1]
    a, b = ids[straddle], np.flatnonzero(wrong)
    fail.add("cell_signs", "extra_cell", a.shape[0], [
        f"cell {int(i) * P + p} (shard {p}, local {int(i)}): its facets lie on both sides of a zero set, "
        "it is no cell" for i in a[:_MAX_REPORTED].tolist()],
        (a[:_MAX_REPORTED] * P + p).tolist(), [_key(s.signs[i]) for i in a[:_MAX_REPORTED].tolist()])
    msgs, cids, keys = [], [], []
    for j in b[:_MAX_REPORTED].tolist():
        i = int(ids[j])
        join = (np.unpackbits(jp[j])[:width].astype(np.int8) - np.unpackbits(jn[j])[:width].astype(np.int8))
        msgs.append(f"cell {i * P + p} (shard {p}, local {i}): the join of its vertices' sign vectors is "
                    f"{_key(join)}, not the claimed {_key(s.signs[i])}")
        cids.append(i * P + p)
        keys.append(_key(s.signs[i]))
    fail.add("cell_signs", "sign_vector_wrong", b.shape[0], msgs, cids, keys)


def check_walls(path: str | Path, q: int, *hits: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """The cofacets of shard ``q``'s cells, counted across shards (``hits``: every shard's
    ``walls[q]`` of :func:`check_shard`).

    - ``walls``: each wall (a cell of dimension ``n - 1``) is a facet of exactly two top cells, or
      of exactly one when it lies on a facet of the domain (a domain entry 0);
    - ``cofacets``: each cell of dimension ``< n - 1`` is a facet of some cell (the part of the
      one-process ``facet_links`` that needs the cofacets: a cell in no higher cell is extra)."""
    import time

    t = time.perf_counter()
    S = ShardedComplex(path, cache=1)
    n, P = S.input_dim, S.partitions
    s = S.shard(q)
    fail = _Failures()
    m = s.num_cells  # references past the end are reported by check_shard (facet_links)
    tops = [h[0][h[0] < m] for h in hits]
    allhits = np.concatenate(tops) if tops else np.zeros(0, np.int64)
    count = np.bincount(allhits, minlength=m)
    sl = slice(S.network.num_hidden, S.network.num_hidden + S.domain.num_facets)
    walls = np.flatnonzero(s.dims == n - 1)
    on_boundary = (s.signs[walls, sl] == 0).any(axis=1)
    want = np.where(on_boundary, 1, 2)
    bad = walls[count[walls] != want]
    fail.add("walls", "missing_region", bad.shape[0],
             [f"shard {q}: wall {int(i)} is a facet of {int(count[i])} top cells" for i in bad[:_MAX_REPORTED]],
             (bad[:_MAX_REPORTED] * P + q).tolist(), [_key(s.signs[i]) for i in bad[:_MAX_REPORTED].tolist()])
    stray = np.flatnonzero((count > 0) & (s.dims != n - 1))
    fail.add("walls", "bad_facet_link", stray.shape[0],
             [f"shard {q}: cell {int(i)} is a facet of a top cell but not a wall" for i in stray[:_MAX_REPORTED]],
             (stray[:_MAX_REPORTED] * P + q).tolist())
    t = fail.timed("walls", t)
    linked = count > 0
    for h in hits:
        linked[h[1][h[1] < m]] = True
    low = np.flatnonzero(s.dims < n - 1)
    alone = low[~linked[low]]
    fail.add("cofacets", "extra_cell", alone.shape[0], [
        f"cell {int(i) * P + q} (shard {q}, local {int(i)}) of dimension {int(s.dims[i])} is in no higher cell "
        "(no cell lists it as a facet)" for i in alone[:_MAX_REPORTED].tolist()],
        (alone[:_MAX_REPORTED] * P + q).tolist(), [_key(s.signs[i]) for i in alone[:_MAX_REPORTED].tolist()])
    fail.timed("cofacets", t)
    return {"shard": q, "walls": int(walls.shape[0]), "lower_cells": int(low.shape[0]), **fail.record()}


def answer_facets(path: str | Path, q: int, *requests: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Shard ``q``'s answers to every shard's interval requests (:func:`check_shard`'s
    ``requests[q]``, one per shard, in shard order): for each requested cell (sorted local
    indices) its dimension and facet list (cell ids); only the shard's facet arrays are read."""
    S = ShardedComplex(path, cache=1)
    P = S.partitions
    if not any(r.size for r in requests):
        return [_no_answer() for _ in requests]
    dims, indptr, fac = _load_facet_lists(S.path, q, P)
    return [_answer(dims, indptr, fac, q, r) for r in requests]


def _no_answer() -> dict[str, np.ndarray]:
    return {"local": np.zeros(0, np.int64), "dims": np.zeros(0, np.int8), "ptr": np.zeros(1, np.int64),
            "facets": np.zeros(0, np.int64)}


def _answer(dims: np.ndarray, indptr: np.ndarray, fac: np.ndarray, q: int, local: np.ndarray
            ) -> dict[str, np.ndarray]:
    local = np.asarray(local, dtype=np.int64)
    if local.size and (local.min() < 0 or local.max() >= dims.shape[0]):
        local = local[(local >= 0) & (local < dims.shape[0])]  # reported by facet_links
    c = (indptr[local + 1] - indptr[local]).astype(np.int64)
    ptr = np.zeros(local.shape[0] + 1, dtype=np.int64)
    np.cumsum(c, out=ptr[1:])
    pos = np.repeat(indptr[local], c) + (np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], c))
    return {"local": local, "dims": dims[local], "ptr": ptr, "facets": fac[pos]}


def check_intervals(path: str | Path, p: int, *answers: dict[str, np.ndarray]) -> dict[str, Any]:
    """``intervals`` on shard ``p``: every edge has exactly 2 facets (vertices), and every interval
    ``[r, c]`` of length 2 (``c`` of dimension ``k >= 2`` in this shard, ``r`` a facet of a facet
    ``g`` of ``c`` of dimension ``k - 1``) has exactly two middle elements ``g``; ``answers``:
    every shard's :func:`answer_facets` to this shard's requests, in shard order. Reports the
    number of edges and intervals checked (the one-process ``intervals``' count)."""
    import time

    t = time.perf_counter()
    S = ShardedComplex(path, cache=1)
    P = S.partitions
    s = load_shard(S.path / shard_filename(p), p, P, S.shard_width, S.input_dim, vertices=False)
    fail = _Failures()
    counts = np.diff(s.facet_indptr)
    edges = np.flatnonzero(s.dims == 1)
    bad = edges[counts[edges] != 2]
    fail.add("intervals", "extra_cell", int(np.count_nonzero(counts[bad] > 2)), [
        f"edge {int(e) * P + p} (shard {p}, local {int(e)}) has {int(counts[e])} vertices"
        for e in bad[counts[bad] > 2][:_MAX_REPORTED].tolist()],
        (bad[counts[bad] > 2][:_MAX_REPORTED] * P + p).tolist())
    few = bad[counts[bad] < 2]
    fail.add("intervals", "missing_cell", few.shape[0], [
        f"edge {int(e) * P + p} (shard {p}, local {int(e)}) has {int(counts[e])} vertex: an endpoint is "
        "missing from the complex (or its link dropped)" for e in few[:_MAX_REPORTED].tolist()],
        (few[:_MAX_REPORTED] * P + p).tolist(), [_key(s.signs[e]) for e in few[:_MAX_REPORTED].tolist()])
    owner = np.repeat(np.arange(s.num_cells, dtype=np.int64), counts)
    up = s.dims[owner] >= 2
    own_parts: list[np.ndarray] = []
    r_parts: list[np.ndarray] = []
    for q in range(P):
        a = answers[q] if q < len(answers) else None
        sel = np.flatnonzero(up & (s.facet_shard == q))
        if a is None or sel.size == 0:
            continue
        at = np.searchsorted(a["local"], s.facet_local[sel])
        ok = at < a["local"].shape[0]
        ok[ok] = a["local"][at[ok]] == s.facet_local[sel][ok]
        sel, at = sel[ok], at[ok]
        keep = a["dims"][at] == s.dims[owner[sel]] - 1  # middle elements of dimension k - 1 only
        sel, at = sel[keep], at[keep]
        c = a["ptr"][at + 1] - a["ptr"][at]
        pos = np.repeat(a["ptr"][at], c) + (np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c))
        own_parts.append(np.repeat(owner[sel], c))
        r_parts.append(a["facets"][pos])
    own = np.concatenate(own_parts) if own_parts else np.zeros(0, np.int64)
    rr = np.concatenate(r_parts) if r_parts else np.zeros(0, np.int64)
    if own.size:
        M = int(rr.max()) + 1
        if int(own.max()) < (1 << 62) // M:
            pairs, mult = np.unique(own * M + rr, return_counts=True)
            cell, ridge = pairs // M, pairs % M
        else:  # pragma: no cover - beyond 2^62 pairs of ids
            both, mult = np.unique(np.stack([own, rr], axis=1), axis=0, return_counts=True)
            cell, ridge = both[:, 0], both[:, 1]
    else:
        cell = ridge = mult = np.zeros(0, np.int64)
    wrong = np.flatnonzero(mult != 2)
    many, one = wrong[mult[wrong] > 2], wrong[mult[wrong] < 2]
    fail.add("intervals", "extra_cell", many.shape[0], [
        f"interval [{int(ridge[j])}, {int(cell[j]) * P + p}] has {int(mult[j])} middle elements"
        for j in many[:_MAX_REPORTED].tolist()], (cell[many[:_MAX_REPORTED]] * P + p).tolist(),
        [_key(s.signs[int(cell[j])]) for j in many[:_MAX_REPORTED].tolist()])
    fail.add("intervals", "missing_cell", one.shape[0], [
        f"cell {int(cell[j]) * P + p} (shard {p}, local {int(cell[j])}): interval [{int(ridge[j])}, "
        f"{int(cell[j]) * P + p}] has 1 middle element: a facet of the cell through its ridge {int(ridge[j])} "
        "is missing (or its link dropped)" for j in one[:_MAX_REPORTED].tolist()],
        (cell[one[:_MAX_REPORTED]] * P + p).tolist(), [_key(s.signs[int(cell[j])]) for j in one[:_MAX_REPORTED].tolist()])
    fail.timed("intervals", t)
    return {"shard": p, "intervals": int(edges.shape[0] + mult.shape[0]), **fail.record()}


# -- exact volumes per shard ----------------------------------------------------------------
#
# The volume of a top cell needs its closure (its facets, their facets, ..., its vertices), which
# lies in other shards too. Shard p's closure is fetched level by level: its top cells, then
# their facets, ..., then the vertices; in each round every shard answers the requests of all
# shards at once (one load per shard and round). The closure is then a small complex of its own,
# on which the exact face recursion of :mod:`exactcells.volumes` runs.
#
# The volumes are then summed by *ranges of the canonical order*, not by shard: a shard's top
# cells are a hash-random sample of the domain whose volumes share no denominators, and their
# exact sum has a denominator of millions of bits (measured: 4.7 million bits for one of 8 shards
# of 3-32-32-1, 16 s); neighbours in canonical order share vertices, hence denominators, and a
# contiguous range sums to a rational of some ten thousand bits (1 s). So each shard splits its
# regions' volumes at splitters sampled from every shard, each range sums its part in canonical
# order (a balanced tree), and the ranges' sums are added as a tree in range order.

Fetched = dict[str, Any]


def top_requests(s: Shard, p: int, partitions: int, n: int) -> list[np.ndarray]:
    """The first round's requests of shard ``p``: its own top cells (local indices)."""
    req = [np.zeros(0, dtype=np.int64) for _ in range(partitions)]
    req[p] = np.flatnonzero(s.dims == n).astype(np.int64)
    return req


def fetch_cells(s: Shard, q: int, partitions: int, local: np.ndarray) -> Fetched:
    """The cells ``local`` (sorted local indices) of shard ``q``: cell ids, dimensions, sign
    vectors, facets (as cell ids) and, for the vertices, their homogeneous coordinates."""
    local = np.asarray(local, dtype=np.int64)
    if local.size and (local.min() < 0 or local.max() >= s.num_cells):
        raise FormatError(f"shard {q}: a facet reference points past its end")
    c = (s.facet_indptr[local + 1] - s.facet_indptr[local]).astype(np.int64)
    ptr = np.zeros(local.shape[0] + 1, dtype=np.int64)
    np.cumsum(c, out=ptr[1:])
    pos = np.repeat(s.facet_indptr[local], c) + (np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], c))
    facets = s.facet_local[pos] * partitions + s.facet_shard[pos].astype(np.int64)
    f0 = len(s.vertex_coords)
    verts = [s.vertex_coords[i] for i in local[local < f0].tolist()]
    return {"ids": local * partitions + q, "dims": s.dims[local], "signs": s.signs[local], "ptr": ptr,
            "facets": facets, "coords": verts}


def fetch_requests(partitions: int, *fetched: Fetched) -> list[np.ndarray]:
    """The next round's requests: the facets of the cells just fetched, by shard (local indices,
    sorted, distinct)."""
    f = np.concatenate([r["facets"] for r in fetched]) if fetched else np.zeros(0, np.int64)
    f = np.unique(f)
    q = f % partitions
    return [f[q == k] // partitions for k in range(partitions)]


def _tree_sum(terms: list[Any]) -> Any:
    """Exact sum of ``fmpq`` terms as a balanced tree (partial sums stay small)."""
    from flint import fmpq

    if not terms:
        return fmpq(0)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def closure_volume(net: Network, domain: Domain, refinement: str | None, p: int, splitters: np.ndarray,
                   *fetched: Fetched) -> dict[str, Any]:
    """Exact volumes of the top cells of shard ``p`` from their fetched closure.

    The closure is renumbered as a complex of its own (by dimension, then cell id: vertices first)
    and :func:`exactcells.volumes.face_volumes` runs on it. Returns the shard, the number of its
    top cells, the cell ids of the cells whose facets do not lie in one flat (none in a valid
    complex) and ``pieces``: for each range of the canonical order cut at ``splitters`` (rows of
    sign bytes ``s + 1``, sorted), the top cells in it as ``(sign bytes, nu, L)`` with
    ``vol = nu / (L n!)`` (Python integers; see :mod:`exactcells.volumes`)."""
    import time

    import scipy.sparse as sp

    from .localforms import LocalForms
    from .volumes import cell_vertex_matrix, face_volumes

    t0 = time.perf_counter()
    n = domain.dim
    width = net.num_hidden + domain.num_facets + (net.output_dim if refinement is not None else 0)
    recs = [r for r in fetched if r["ids"].shape[0]]
    if not recs:
        z = np.zeros((0, width), dtype=np.uint8)
        return {"shard": p, "regions": 0, "pieces": [(z, [], [])] * (splitters.shape[0] + 1), "inconsistent": [],
                "seconds": {"volumes": time.perf_counter() - t0}}
    ids = np.concatenate([r["ids"] for r in recs])
    dims = np.concatenate([r["dims"] for r in recs]).astype(np.int64)
    signs = np.concatenate([r["signs"] for r in recs]).reshape(-1, width)
    counts = np.concatenate([np.diff(r["ptr"]) for r in recs])
    facets = np.concatenate([r["facets"] for r in recs])
    vmap: dict[int, tuple[int, ...]] = {}
    off = 0
    for r in recs:
        for row, co in zip((off + np.flatnonzero(r["dims"] == 0)).tolist(), r["coords"]):
            vmap[row] = co
        off += r["ids"].shape[0]
    uniq, first = np.unique(ids, return_index=True)
    order = np.lexsort((uniq, dims[first]))
    sel = first[order]  # rows of the concatenation, by dimension then cell id
    N = sel.shape[0]
    new_of_uniq = np.empty(N, dtype=np.int64)
    new_of_uniq[order] = np.arange(N, dtype=np.int64)
    start = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    c = counts[sel]
    ptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(c, out=ptr[1:])
    pos = np.repeat(start[sel], c) + (np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], c))
    fac = facets[pos]
    u = np.minimum(np.searchsorted(uniq, fac), N - 1)
    found = uniq[u] == fac  # a facet outside the closure: only in a damaged complex
    owner = np.repeat(np.arange(N, dtype=np.int64), c)[found]
    B = sp.csr_matrix((np.ones(owner.shape[0], dtype=np.int64), (owner, new_of_uniq[u[found]])), shape=(N, N))
    B.sort_indices()
    d = dims[sel]
    f0 = int(np.count_nonzero(d == 0))
    H = [vmap[int(r)] for r in sel[:f0]]
    V = cell_vertex_matrix(N, f0, d, B, n)
    fv = face_volumes(n, d, signs[sel], B, V, H, LocalForms(net, domain, refinement))
    tops = np.flatnonzero(d == n)
    keys = _sign_keys(signs[sel][tops])
    cut = np.searchsorted(_void_rows(splitters), _void_rows(keys), side="right") if splitters.shape[0] \
        else np.zeros(tops.shape[0], dtype=np.int64)
    nu, L = fv.nu, fv.L
    pieces = []
    for k in range(splitters.shape[0] + 1):
        t = np.flatnonzero(cut == k)
        pieces.append((keys[t], [int(nu[c]) for c in tops[t].tolist()], [int(L[c]) for c in tops[t].tolist()]))
    return {"shard": p, "regions": int(tops.shape[0]), "pieces": pieces,
            "inconsistent": [int(x) for x in uniq[order][fv.inconsistent].tolist()],
            "seconds": {"volumes": time.perf_counter() - t0}}


def _sign_keys(signs: np.ndarray) -> np.ndarray:
    """Sign vectors as bytes ``s + 1`` (uint8 rows): byte order is the canonical order."""
    return (np.asarray(signs, dtype=np.int16) + 1).astype(np.uint8)


def _void_rows(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return a.view(np.dtype((np.void, max(a.shape[1], 1)))).reshape(a.shape[0])


def top_sample(s: Shard, n: int, count: int = 64) -> np.ndarray:
    """Sign bytes of up to ``count`` evenly spaced top cells of a shard (for the splitters)."""
    tops = np.flatnonzero(s.dims == n)
    pick = tops[np.linspace(0, tops.shape[0] - 1, min(count, tops.shape[0])).astype(np.int64)] if tops.size \
        else tops
    return _sign_keys(s.signs[pick])


def range_splitters(ranges: int, *samples: np.ndarray) -> np.ndarray:
    """``ranges - 1`` sign-byte rows cutting the pooled samples into ``ranges`` equal parts of the
    canonical order (fewer when there are fewer distinct samples)."""
    pool = np.concatenate(samples) if samples else np.zeros((0, 0), np.uint8)
    if ranges <= 1 or pool.shape[0] == 0:
        return pool[:0]
    v = _void_rows(pool)
    u, idx = np.unique(v, return_index=True)
    pool = pool[idx]
    at = np.unique(np.linspace(0, pool.shape[0], ranges + 1)[1:-1].astype(np.int64))
    return pool[at[(at > 0) & (at < pool.shape[0])]]


def range_volume(n: int, *pieces: tuple[np.ndarray, list[int], list[int]]) -> tuple[int, int]:
    """Exact volume of one range's top cells (from every shard's piece of it), summed in
    canonical order as a balanced tree, the first level unreduced (one gcd per pair)."""
    import math

    from flint import fmpq

    keys = [pc[0] for pc in pieces if pc[0].shape[0]]
    if not keys:
        return 0, 1
    nu = [x for pc in pieces for x in pc[1]]
    L = [x for pc in pieces for x in pc[2]]
    order = np.argsort(_void_rows(np.concatenate(keys)), kind="stable").tolist()
    pairs = [(nu[i], L[i]) for i in order]
    terms = [fmpq(a * d + c * b, b * d) for (a, b), (c, d) in zip(pairs[0::2], pairs[1::2])]
    if len(pairs) % 2:
        terms.append(fmpq(*pairs[-1]))
    t = _tree_sum(terms) / math.factorial(n)
    return int(t.p), int(t.q)


def add_volumes(*parts: tuple[int, int]) -> tuple[int, int]:
    """Exact sum of rationals given as ``(numerator, denominator)`` (one node of the tree)."""
    from flint import fmpq

    t = _tree_sum([fmpq(a, b) for a, b in parts])
    return int(t.p), int(t.q)


def shard_volume(S: ShardedComplex, p: int, splitters: np.ndarray | None = None) -> dict[str, Any]:
    """:func:`closure_volume` of shard ``p`` in this process (shards loaded through ``S``'s cache
    when their vertices are asked for, else without their vertices' coordinates, which are then
    neither read nor parsed)."""
    n, P = S.input_dim, S.partitions
    req = top_requests(S.shard(p), p, P, n)
    fetched: list[Fetched] = []
    f0 = [f[0] for f in S.shard_f_vectors()]

    def shard(q: int, r: np.ndarray) -> Shard:
        if q in S.loaded_shards() or int(r.min()) < f0[q]:
            return S.shard(q)
        return load_shard(S.path / shard_filename(q), q, P, S.shard_width, n, vertices=False)

    for _ in range(n + 1):
        level = [fetch_cells(shard(q, req[q]), q, P, req[q]) for q in range(P) if req[q].size]
        fetched.extend(level)
        req = fetch_requests(P, *level)
    sp = np.zeros((0, S.shard_width), np.uint8) if splitters is None else splitters
    return closure_volume(S.network, S.domain, S.output_refinement, p, sp, *fetched)


def sharded_volume(S: ShardedComplex) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Every shard's :func:`shard_volume` (one closure at a time) and the exact total, summed by
    ranges of the canonical order (one range per shard) and the ranges as a tree, in this
    process. Returns the shards' results without their pieces, and the total."""
    P, n = S.partitions, S.input_dim
    splitters = range_splitters(P, *[top_sample(S.shard(p), n) for p in range(P)])
    results = [shard_volume(S, p, splitters) for p in range(P)]
    sums = [range_volume(n, *[r["pieces"][k] for r in results]) for k in range(splitters.shape[0] + 1)]
    return [{k: v for k, v in r.items() if k != "pieces"} for r in results], add_volumes(*sums)


def _small(x: Any) -> bool:
    return max(x.numerator.bit_length(), x.denominator.bit_length()) <= 1000


def _short(x: Any) -> str:
    """A rational in full when it is short, else its float view and its size."""
    from .numbers import float_view, format_rational

    if _small(x):
        return format_rational(x)
    return f"{float_view(x):.9g} (a rational of {x.denominator.bit_length()}-bit denominator)"


#: the one-process certificate's checks that the sharded certificate does not run (both opt-in
#: in one process, and refused on a sharded directory by ``exactcells certify``: the structural
#: checks already prove every dimension, and every region exact)
NOT_CHECKED_ON_SHARDS = ("affine dimensions", "completeness by cddlib")


def summarize_checks(S: ShardedComplex, shard_results: Sequence[dict[str, Any]],
                     wall_results: Sequence[dict[str, Any]],
                     volume_results: Sequence[dict[str, Any]] | None = None,
                     total_volume: tuple[int, int] | None = None,
                     interval_results: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Exact reductions of the per-shard results: f-vector (against the index), Euler
    characteristic (1 for a complex whose union is a polytope), the total volume of the top
    cells (against the domain's, when the volumes were computed), all failures (the first few of
    each kind per task, ``failure_kinds``, ``failure_cells`` and ``failure_keys`` aligned with
    ``failures``; ``failure_counts`` counts every failure by kind, ``check_failure_counts`` by
    check) and the time of each check summed over the tasks (``check_seconds``).
    ``exact_total_volume`` and ``exact_domain_volume`` are the exact values (``Fraction``)."""
    from fractions import Fraction

    from .numbers import format_rational

    n = S.input_dim
    f = [sum(int(r["f_vector"][k]) for r in shard_results) for k in range(n + 1)]
    fail = _Failures()
    if tuple(f) != S.f_vector:
        fail.add("shard_keys", "format", 1, [f"the shards' f-vector {tuple(f)} differs from the index's {S.f_vector}"])
    chi = sum((-1) ** k * x for k, x in enumerate(f))
    if chi != 1:
        fail.add("euler_characteristic", "euler_characteristic", 1, [f"Euler characteristic {chi}, expected 1"])
    seconds: dict[str, float] = {}
    for r in list(shard_results) + list(wall_results) + list(interval_results) + list(volume_results or []):
        for kind, c in r.get("failure_counts", {}).items():
            fail.counts[kind] = fail.counts.get(kind, 0) + int(c)
        for check, c in r.get("check_failure_counts", {}).items():
            fail.checks[check] = fail.checks.get(check, 0) + int(c)
        fail.messages.extend(r.get("failures", []))
        fail.kinds.extend(r.get("failure_kinds", []))
        fail.cells.extend(r.get("failure_cells", [None] * len(r.get("failures", []))))
        fail.keys.extend(r.get("failure_keys", [None] * len(r.get("failures", []))))
        for name, t in r.get("seconds", {}).items():
            seconds[name] = seconds.get(name, 0.0) + float(t)
    out: dict[str, Any] = {
        "certified": False,
        "f_vector": f,
        "euler_characteristic": chi,
        "shards": len(shard_results),
        "cells_checked": sum(r["checked"]["cells"] for r in shard_results),
        "vertices_checked": sum(r["checked"]["vertices"] for r in shard_results),
        "facet_incidences_checked": sum(r["checked"]["facet incidences"] for r in shard_results),
        "walls_checked": sum(r["walls"] for r in wall_results),
        "lower_cells_checked": sum(r.get("lower_cells", 0) for r in wall_results),
        "intervals_checked": sum(r["intervals"] for r in interval_results),
    }
    if volume_results is not None and total_volume is not None:
        total = Fraction(*total_volume)
        dvol = S.domain.volume()
        inconsistent = [cid for r in volume_results for cid in r["inconsistent"]]
        fail.add("volumes", "affine_dimension", len(inconsistent), [
            f"cell {cid}: its facets' vertices do not lie in one affine subspace of its dimension "
            "(exact volume recursion)" for cid in inconsistent[:_MAX_REPORTED]], inconsistent[:_MAX_REPORTED])
        if total != dvol:
            fail.add("volumes", "volume", 1, [f"the top cells' exact volumes add up to {_short(total)}, the "
                                              f"domain's volume is {_short(dvol)}"])
        out["regions_measured"] = sum(r["regions"] for r in volume_results)
        out["total_volume"] = format_rational(total) if total == dvol or _small(total) else _short(total)
        out["domain_volume"] = format_rational(dvol)
        out["exact_total_volume"], out["exact_domain_volume"] = total, dvol
        out["not_checked"] = ", ".join(NOT_CHECKED_ON_SHARDS)
    else:
        out["not_checked"] = ", ".join(("region volumes (exact volume sum)",) + NOT_CHECKED_ON_SHARDS)
    out["certified"] = not fail.counts
    out["failures"] = fail.messages
    out["failure_kinds"] = fail.kinds
    out["failure_cells"] = fail.cells
    out["failure_keys"] = fail.keys
    out["failure_counts"] = fail.counts
    out["check_failure_counts"] = fail.checks
    out["check_seconds"] = seconds
    return out


def certify_shards(path: str | Path, volumes: bool = False) -> dict[str, Any]:
    """Every check of the sharded certificate in this process, one or two shards in memory at a
    time: :func:`check_shard` on every shard, :func:`check_walls` on every shard with every
    shard's facet references into it, :func:`check_intervals` on every shard with the facet lists
    of its cells' facets (:func:`answer_facets`, from the facet arrays of every shard, one shard's
    answers at a time), and with ``volumes`` the exact volume of every shard's top cells
    (:func:`shard_volume`: the closure of one shard's top cells at a time), summed exactly;
    :func:`exactcells.parallel.certify_on_cluster` runs the same functions as Dask tasks."""
    S = ShardedComplex(path)
    P = S.partitions
    res = [check_shard(path, p) for p in range(P)]
    walls = [check_walls(path, q, *[r["walls"][q] for r in res]) for q in range(P)]
    for r in res:
        del r["walls"]
    intervals = []
    for p in range(P):
        req = res[p].pop("requests")
        answers = [_answer(*_load_facet_lists(S.path, q, P), q, req[q]) if req[q].size else _no_answer()
                   for q in range(P)]
        intervals.append(check_intervals(path, p, *answers))
        del req, answers
    if not volumes:
        return summarize_checks(S, res, walls, interval_results=intervals)
    vols, total = sharded_volume(S)
    return summarize_checks(S, res, walls, vols, total, intervals)


#: the sharded certificate's checks: name, the failure kinds it reports, what it checks
SHARD_CHECKS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("shard_keys", ("format", "canonical_order", "extra_cell"),
     "every cell hashes to its shard; sign vectors distinct and in canonical order in every shard; "
     "the shards' f-vector is the index's"),
    ("vertex_signs", ("vertex_moved",),
     "exact sign vector of every vertex's coordinates equals its claimed one (the certificate's own "
     "forward pass, shard by shard: a float filter with a proven bound, exact integers elsewhere)"),
    ("facet_links", ("bad_facet_link", "missing_cell", "format"),
     "each link f -> c has s_f < s_c and dim f = dim c - 1 (facets in any shard); vertices have no "
     "facets, k-cells at least k + 1"),
    ("cell_signs", ("sign_vector_wrong", "extra_cell"),
     "every cell's sign vector is the join of its lower facets' (facets in any shard), hence, with "
     "the vertices exact, the join of its vertices' exact sign vectors (Lemma B)"),
    ("intervals", ("missing_cell", "extra_cell"),
     "every edge has 2 vertices; every interval of length 2 has 2 middle elements (the facets' facet "
     "lists asked of the shards that hold them)"),
    ("walls", ("missing_region", "bad_facet_link"),
     "each (n-1)-cell lies in 2 top cells, or in 1 on the domain's boundary (counted across shards)"),
    ("cofacets", ("extra_cell",),
     "every cell of dimension < n - 1 is a facet of some cell (counted across shards)"),
    ("euler_characteristic", ("euler_characteristic",), ""),
    ("volumes", ("volume", "affine_dimension"), ""),
)


def sharded_certificate(S: ShardedComplex, result: dict[str, Any], seconds: float) -> Any:
    """The result of :func:`certify_shards` or :func:`exactcells.parallel.certify_on_cluster` as
    an :class:`exactcells.certify.Certificate` (the one-process certificate's report): one
    :class:`~exactcells.certify.CheckResult` per check of :data:`SHARD_CHECKS` (its failures
    counted by check, its time summed over the shards' tasks), the failures with their kinds,
    cells (cell ids ``local * partitions + shard``) and sign vectors, counted by kind."""
    from fractions import Fraction

    from .certify import MAX_WITNESSES, Certificate, CheckResult, Failure
    from .numbers import format_rational

    counts: dict[str, int] = {k: int(v) for k, v in result["failure_counts"].items() if v}
    by_check: dict[str, int] = {k: int(v) for k, v in result["check_failure_counts"].items() if v}
    kinds: list[str] = result["failure_kinds"]
    cells = result.get("failure_cells", [None] * len(kinds))
    keys = result.get("failure_keys", [None] * len(kinds))
    failures: list[Failure] = []
    shown: dict[str, int] = {}
    for kind, msg, cell, key in zip(kinds, result["failures"], cells, keys):
        if shown.get(kind, 0) < MAX_WITNESSES:
            shown[kind] = shown.get(kind, 0) + 1
            failures.append(Failure(kind, cell, key, None, "", "", msg))
    secs: dict[str, float] = result.get("check_seconds", {})
    chi = int(result["euler_characteristic"])
    volumes = "exact_total_volume" in result
    total: Fraction | None = result.get("exact_total_volume")
    dvol: Fraction | None = result.get("exact_domain_volume")
    checked = {"shard_keys": result["cells_checked"], "vertex_signs": result["vertices_checked"],
               "facet_links": result["facet_incidences_checked"], "cell_signs": result["cells_checked"],
               "intervals": result["intervals_checked"], "walls": result["walls_checked"],
               "cofacets": result["lower_cells_checked"], "euler_characteristic": 1,
               "volumes": result.get("regions_measured", 0)}
    checks = []
    for name, _, detail in SHARD_CHECKS:
        if name == "volumes" and not volumes:
            continue
        if name == "euler_characteristic":
            detail = f"chi = {chi}"
        elif name == "volumes":
            detail = (f"sum of exact top-cell volumes = vol(D) = {format_rational(dvol or 0)} (closures "
                      "fetched from the shards; summed exactly by ranges of the canonical order, then "
                      "as a tree)")
        nf = by_check.get(name, 0)
        checks.append(CheckResult(name, nf == 0, int(checked[name]), nf, float(secs.get(name, 0.0)), detail))
    known = {name for name, _, _ in SHARD_CHECKS}
    assert known.issuperset(by_check), f"failures of no check: {set(by_check) - known}"
    f = tuple(int(x) for x in result["f_vector"])
    return Certificate(
        certified=bool(result["certified"]) and not counts,
        checks=tuple(checks),
        failures=tuple(failures),
        failure_counts=counts,
        f_vector=f,
        num_cells=sum(f),
        euler_characteristic=chi,
        total_volume=total,
        domain_volume=dvol,
        cdd_regions_checked=0,
        seconds=seconds,
        architecture=S.network.architecture,
        domain=S.domain.describe(),
        with_output=S.output_refinement is not None,
    )


def dual_adjacency(S: ShardedComplex) -> tuple[Any, np.ndarray]:
    """The dual graph of a sharded complex as a sparse adjacency matrix, built shard by shard.

    Nodes are the regions in shard order (shard 0's regions in canonical order, then shard 1's,
    ...); returns ``(A, cell_ids)`` with ``A`` a symmetric 0/1 ``scipy.sparse.csr_matrix`` and
    ``cell_ids[i]`` the cell id of node ``i``. Two regions are adjacent when they share a wall
    (an ``(n-1)``-cell); only the ``(wall, region)`` incidences are held, never the whole complex.
    Hand ``A`` to :func:`exactcells.spectral.fiedler` for the Fiedler vector.
    """
    import scipy.sparse as sp

    n, P = S.input_dim, S.partitions
    ids: list[np.ndarray] = []
    walls: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    base = 0
    for p in range(P):
        s = S.shard(p)
        tops = np.flatnonzero(s.dims == n)
        c = np.diff(s.facet_indptr)[tops]
        pos = np.repeat(s.facet_indptr[tops], c) + (np.arange(int(c.sum()), dtype=np.int64)
                                                    - np.repeat(np.cumsum(c) - c, c))
        ids.append(tops.astype(np.int64) * P + p)
        walls.append(s.facet_local[pos] * P + s.facet_shard[pos].astype(np.int64))
        owners.append(base + np.repeat(np.arange(tops.shape[0], dtype=np.int64), c))
        base += tops.shape[0]
    w = np.concatenate(walls) if walls else np.zeros(0, np.int64)
    o = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    order = np.argsort(w, kind="stable")
    w, o = w[order], o[order]
    if w.shape[0] > 2 and (w[2:] == w[:-2]).any():
        raise FormatError(f"{S.path}: a wall is a facet of more than two regions")
    pair = np.flatnonzero(w[1:] == w[:-1])
    i, j = o[pair], o[pair + 1]
    N = base
    A = sp.coo_matrix((np.ones(2 * i.shape[0]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                      shape=(N, N)).tocsr()
    A.data[:] = 1.0
    return A, np.concatenate(ids) if ids else np.zeros(0, np.int64)
