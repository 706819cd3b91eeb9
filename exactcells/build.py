"""Construct the polyhedral complex of a ReLU network on a domain, exactly.

The algorithm is layer-wise refinement of the whole face lattice (docs/mathematics.md, "Layer-wise refinement"):

1. Start from the domain's face lattice (from cddlib's exact vertex/facet incidences).
2. For each hidden neuron in layer order (then each output neuron, with ``with_output``), take
   its exact pre-activation at every vertex. On every current cell it is affine, because all
   earlier layers have already cut that cell, and the pre-activations of the current layer are
   carried along as homogeneous integer coordinates. A cell whose vertices take both strict signs
   splits into a ``+`` part, a ``-`` part and a zero part one dimension lower; new vertices sit on
   the edges whose ends have opposite signs, at the exact crossing. Faces of the parts come from
   the faces of the cell: a split facet gives its parts, and the all-zero faces of codimension 2
   become facets of the zero part.
3. Every other cell keeps its shape and records the sign of its vertices.

Why the dimensions are exact: a split cell has vertices with both strict signs, so the neuron's
affine function is non-constant on its affine hull and its zero set meets the relative interior
in a hyperplane of that hull. The dimension bookkeeping is a consequence of exact signs, never a
count of zeros; :func:`exactcells.certify` recomputes it from affine hulls independently.

Signs at vertices come from :mod:`exactcells.kernel`: float64 values with a proven error bound
decide a sign when they can, exact integers otherwise, so every sign is exact. A new vertex is
recorded as the crossing of its edge ``(p, q)`` by the cutting function; its exact coordinates
(a primitive integer vector ``(D x, D)``) are rebuilt from those records when first asked for.
No tolerance enters the computation.

The work can be split into independent units: the closed top cells of the complex after the
first few neurons (:func:`plan_units`), each refined by the remaining neurons
(:func:`refine_unit`), and merged by their canonical sign-vector keys (:func:`merge_units`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from .complex import PolyhedralComplex
from .domain import Domain
from .errors import CellLimitExceeded, InvalidArgumentError, InvalidDomainError
from .kernel import LazyCoords, VertexStore, compiled_passes
from .measure import homogeneous
from .network import Network
from .progress import Progress

# the public part; Lattice, plan_units, refine_unit and merge_units are the engine's interface to
# exactcells.parallel and the tests
__all__ = ["build_complex", "output_refinement", "num_steps"]

# Lattice.sig stores sign codes 0 ('-'), 1 ('0'), 2 ('+'); these are the bits 1 << code, OR-ed
# into a mask of the signs a cell's vertices take
_NEG, _ZERO, _POS = 1, 2, 4
# sign code of a cell from the OR of its vertices' bits: '+' if any is positive, else '-' if
# any is negative, else '0' (a split cell, with both, keeps '+' for the part that keeps its id)
_CODES = np.array([1 if not m & (_POS | _NEG) else (2 if m & _POS else 0) for m in range(8)], dtype=np.int8)


@dataclass(slots=True)
class Lattice:
    """A mutable face lattice during the build (internal to this module and its workers).

    Cells are integer ids; vertices are the cells of dimension 0: ``cvid[c]`` is the vertex id
    of vertex cell ``c`` in ``store`` (:class:`~exactcells.kernel.VertexStore`: float values
    with proven error bounds, exact coordinates on demand; sub-lattices share their parent's
    store). ``sig`` holds one row of sign codes per cell (0 for '-', 1 for
    '0', 2 for '+'): one column per cutting neuron (hidden, then output), then one per domain
    facet. The facets of the cells of dimension ``k`` are the rows of ``pad[k]`` (in the order
    of ``by_dim[k]``, padded with -1; ``pos[c]`` is the row of cell ``c``): flat integer arrays
    that numpy combines a whole dimension at a time, and the only copy of the incidences.
    """

    n: int
    ncut: int
    dim: list[int]
    sig: np.ndarray
    store: VertexStore
    cvid: np.ndarray
    by_dim: list[list[int]]
    pad: list[np.ndarray]
    pos: np.ndarray  # position of each cell in by_dim[its dimension] (int64, capacity as sig)
    _ids: dict[int, tuple[list[int], np.ndarray]] = field(default_factory=dict)

    def ids(self, k: int) -> np.ndarray:
        """``by_dim[k]`` as an array (cached; lists only grow by appending or are replaced)."""
        lst = self.by_dim[k]
        ent = self._ids.get(k)
        if ent is not None and ent[0] is lst and ent[1].size <= len(lst):
            arr = ent[1]
            if arr.size == len(lst):
                return arr
            arr = np.concatenate([arr, np.asarray(lst[arr.size:], dtype=np.int64)])
        else:
            arr = np.asarray(lst, dtype=np.int64)
        self._ids[k] = (lst, arr)
        return arr

    def num_cells(self) -> int:
        """Cell ids in use, including cells an argmax refinement replaced (not in ``by_dim``)."""
        return len(self.dim)

    def live_cells(self) -> int:
        """Cells of the current complex (those listed in ``by_dim``)."""
        return sum(len(ids) for ids in self.by_dim)

    def compact(self) -> Lattice:
        """The same complex without replaced cells, renumbered (self when there are none)."""
        if self.live_cells() == self.num_cells():
            return self
        return _sublattice(self, [c for ids in self.by_dim for c in ids])[0]

    def facet_rows(self, cells: np.ndarray, k: int) -> np.ndarray:
        """The padded facet rows of the live cells ``cells``, all of dimension ``k >= 1``."""
        return self.pad[k][self.pos[cells]]

    def facet_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, indices)``: the facets of the cells ``0 .. num_cells() - 1`` (none for a
        cell that is not live), each cell's in the order of its padded row."""
        N = self.num_cells()
        counts = np.zeros(N, dtype=np.int64)
        for k in range(1, self.n + 1):
            ids = self.ids(k)
            if ids.size:
                counts[ids] = (self.padv(k) >= 0).sum(axis=1)
        indptr = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.zeros(int(indptr[-1]), dtype=np.int64)
        for k in range(1, self.n + 1):  # each entry straight to its place: no sort
            ids = self.ids(k)
            if not ids.size:
                continue
            P = self.padv(k)
            valid = P >= 0
            rank = np.cumsum(valid, axis=1) - 1
            r, c = np.nonzero(valid)
            indices[indptr[ids[r]] + rank[r, c]] = P[r, c]
        return indptr, indices

    def reserve(self, size: int) -> None:
        """Make room for ``size`` rows of sign codes."""
        cap = self.sig.shape[0]
        if size > cap:
            grown = np.zeros((max(size, 2 * cap), self.sig.shape[1]), dtype=np.int8)
            grown[:cap] = self.sig
            self.sig = grown
        cap = self.cvid.shape[0]
        if size > cap:
            vids = np.full(max(size, 2 * cap), -1, dtype=np.int64)
            vids[:cap] = self.cvid
            self.cvid = vids
        cap = self.pos.shape[0]
        if size > cap:
            pos = np.zeros(max(size, 2 * cap), dtype=np.int64)
            pos[:cap] = self.pos
            self.pos = pos

    def padv(self, k: int) -> np.ndarray:
        """The padded facet rows of the cells of dimension ``k`` (``pad[k]`` may have spare
        rows, all -1, past them)."""
        return self.pad[k][: len(self.by_dim[k])]

    def vids(self, cells: Sequence[int] | np.ndarray) -> np.ndarray:
        """Vertex ids (in ``store``) of vertex cells."""
        return self.cvid[np.asarray(cells, dtype=np.int64)]

    def vertex_coords(self, cells: Sequence[int]) -> list[tuple[int, ...]]:
        """Exact primitive homogeneous coordinates ``(D x, D)`` of vertex cells."""
        return self.store.exact_coords(self.vids(cells).tolist())

    def detach(self) -> Lattice:
        """A copy with its own store holding only this lattice's vertices (as exact roots at the
        store's current layer): what independent units carry."""
        verts = self.by_dim[0]
        coords = self.vertex_coords(verts)
        store = VertexStore(self.store.net, self.n)
        store.set_layer(self.store.layer, self.store.width)
        new = Lattice(self.n, self.ncut, list(self.dim), self.sig.copy(),
                      store, np.full(self.sig.shape[0], -1, dtype=np.int64),
                      [list(x) for x in self.by_dim], [np.zeros((0, 0), dtype=np.int64)]
                      + [self.padv(k).copy() for k in range(1, self.n + 1)], self.pos.copy())
        new.reserve(self.num_cells())
        if verts:
            new.cvid[np.asarray(verts, dtype=np.int64)] = store.add_roots(coords)
        return new

    def set_facets(self, facets: Sequence[Sequence[int]]) -> None:
        """Set ``pad`` and ``pos`` from the facet lists of all cells (``facets[c]``) and ``by_dim``."""
        self.pos = np.zeros(max(len(self.dim), self.sig.shape[0]), dtype=np.int64)
        for ids in self.by_dim:
            self.pos[np.asarray(ids, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
        self.pad = [np.zeros((0, 0), dtype=np.int64)]
        for k in range(1, self.n + 1):
            self.pad.append(_padded([facets[c] for c in self.by_dim[k]]))


def _padded(rows: Sequence[Sequence[int]], width: int = 0) -> np.ndarray:
    w = max([width] + [len(r) for r in rows])
    out = np.full((len(rows), w), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def domain_lattice(domain: Domain, ncut: int, net: Network) -> Lattice:
    """The face lattice of the domain; its vertices are the roots of a new vertex store."""
    faces, face_facets = domain.face_lattice()
    n = domain.dim
    m = domain.num_facets
    cap = max(64, len(faces))
    sig = np.zeros((cap, ncut + m), dtype=np.int8)
    lat = Lattice(n, ncut, [], sig, VertexStore(net, n), np.full(cap, -1, dtype=np.int64),
                  [[] for _ in range(n + 1)], [], np.zeros(0, dtype=np.int64))
    cells: list[int] = []
    coords: list[tuple[int, ...]] = []
    for i, f in enumerate(faces):
        lat.dim.append(f.dim)
        lat.sig[i, ncut:] = [1 if k in f.on_facets else 2 for k in range(m)]
        lat.by_dim[f.dim].append(i)
        if f.dim == 0:
            (v,) = tuple(f.vertices)
            cells.append(i)
            coords.append(homogeneous(domain.vertices[v]))
    if cells:
        lat.cvid[np.asarray(cells, dtype=np.int64)] = lat.store.add_roots(coords)
    lat.set_facets(face_facets)
    return lat


def _transition(lat: Lattice, layer: int, sign_cols: Sequence[int] = ()) -> None:
    """Replace each vertex's carried values by the pre-activations of ``layer`` (the next);
    ``sign_cols``: the sign columns of the previous layer's stage (their exact codes at the
    vertices let the kernel know the ReLUs that output exactly 0)."""
    verts = lat.ids(0)
    codes = lat.sig[verts][:, list(sign_cols)] if len(sign_cols) else None
    lat.store.transition(lat.cvid[verts], layer, codes)


class _Columns:
    """A column-major buffer for the sign codes that cuts write, flushed into ``lat.sig``.

    A cut writes one code per cell in column ``j`` of the row-major ``lat.sig``: a strided
    write that touched one cache line per cell and was a quarter of a cut's time. The buffer
    takes up to ``width`` such columns contiguously (new cells copy their parents' buffered
    codes) and writes them into ``lat.sig`` as one block; ``lat.sig`` is complete after
    :meth:`flush`, which :func:`_refine` calls before any step that reads it and at its end.
    """

    def __init__(self, lat: Lattice, width: int = 64) -> None:
        self.lat = lat
        self.buf = np.zeros((width, lat.sig.shape[0]), dtype=np.int8)
        self.cols: list[int] = []
        self._parts: tuple[np.ndarray, np.ndarray] | None = None

    def parts(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Two int64 arrays of at least ``size`` entries, all -1: the cuts' maps from split cells
        to their '-' and zero parts, kept between cuts (a cut resets the entries it set)."""
        if self._parts is None or self._parts[0].size < size:
            cap = max(size, 2 * self._parts[0].size if self._parts is not None else 0)
            self._parts = (np.full(cap, -1, dtype=np.int64), np.full(cap, -1, dtype=np.int64))
        return self._parts

    def put(self, j: int, codes: np.ndarray) -> None:
        """Column ``j`` of the cells ``0 .. len(codes) - 1``."""
        self.column(j, codes.size)[:] = codes

    def column(self, j: int, size: int) -> np.ndarray:
        """A new column ``j``: the (contiguous) entries of the cells ``0 .. size - 1``, to fill."""
        if len(self.cols) == self.buf.shape[0]:
            self.flush()
        if size > self.buf.shape[1]:  # only after a flush: a cut keeps the buffer as long as the cells
            self._renew(size)
        self.cols.append(j)
        return self.buf[len(self.cols) - 1, :size]

    def make_room(self, size: int, done: int) -> bool:
        """Room for the cells ``0 .. size - 1``, the buffered columns holding the codes of the
        cells ``0 .. done - 1``. When the buffer must grow it is flushed into ``lat.sig`` and
        replaced by a larger empty one, never copied (two buffers at once were the build's peak
        memory); then it returns False, and the caller writes the cut's codes to ``lat.sig``."""
        if size <= self.buf.shape[1]:
            return True
        self.flush(done)
        self._renew(size)
        return False

    def _renew(self, size: int) -> None:
        assert not self.cols
        width = self.buf.shape[0]
        del self.buf  # freed before its successor is allocated
        self.buf = np.zeros((width, max(size, self.lat.sig.shape[0])), dtype=np.int8)

    def new_cells(self, parents: np.ndarray, start: int, codes: np.ndarray) -> None:
        """Cells ``start ..`` copy their parents' buffered codes, then take ``codes`` in the
        column put last (the cut's own); :meth:`make_room` has made room for them."""
        stop = start + parents.size
        k = len(self.cols)
        self.buf[:k, start:stop] = self.buf[:k, parents]
        self.buf[k - 1, start:stop] = codes

    def flush(self, done: int | None = None) -> None:
        """Write the buffered columns of the cells ``0 .. done - 1`` (default: all) to ``lat.sig``."""
        k = len(self.cols)
        if not k:
            return
        N = self.lat.num_cells() if done is None else done
        c0 = self.cols[0]
        if self.cols == list(range(c0, c0 + k)):
            self.lat.sig[:N, c0 : c0 + k] = self.buf[:k, :N].T
        else:  # pragma: no cover - the schedule writes consecutive columns
            self.lat.sig[:N, self.cols] = self.buf[:k, :N].T
        self.cols = []


def _cut(lat: Lattice, row: int, j: int, minus: int | None = None, columns: _Columns | None = None) -> int:
    """Cut every cell of ``lat`` by the zero set of the carried pre-activation ``row``.

    ``j`` is the sign column of the neuron. With ``minus``, the function that cuts is the
    difference of the carried values ``row - minus`` (both of one common integer scale).
    Returns the number of cells split. The vertex signs come from the kernel; a cell's mask is
    the OR of its facets' masks (:func:`_sign_masks`); the split cells of each dimension get the
    facets of their parts in array operations (:func:`_split_facets`, the edges inline), and the
    padded facet rows are updated (:func:`_write_pads`). With ``columns`` the codes go to that
    buffer instead of ``lat.sig``.
    """
    mi = -1 if minus is None else minus
    ext = compiled_passes()  # or None: the numpy passes (identical results)
    if ext is not None:
        return _cut_compiled(ext, lat, row, j, mi, columns)
    store = lat.store
    N = lat.num_cells()
    n = lat.n
    mask, split_ids = _sign_masks(lat, store.signs(lat.cvid[lat.ids(0)], row, mi))
    if columns is None:
        lat.sig[:N, j] = _CODES[mask[:N]]
    else:
        columns.put(j, _CODES[mask[:N]])
    if not any(x.size for x in split_ids):
        return 0
    # the split cells, dimension by dimension (a split cell's facets are split before it); a
    # split cell c keeps its id for its '+' part and gets a '-' part and a zero part (one
    # dimension lower). All of it in array operations over the cells of one dimension.
    part_neg = np.full(N + 1, -1, dtype=np.int64)  # index N serves the padding -1
    part_zero = np.full(N + 1, -1, dtype=np.int64)
    nxt = N
    new_dim: list[int] = []
    new_ids: list[list[np.ndarray]] = [[] for _ in range(n + 1)]  # new cells by dimension
    pad_new: list[list[np.ndarray]] = [[] for _ in range(n + 1)]  # their padded facet rows
    parents: list[np.ndarray] = []
    child_codes: list[np.ndarray] = []
    split_total = 0
    cross_p = cross_q = cross_z = np.zeros(0, dtype=np.int64)
    pos_rows: list[np.ndarray] = [np.zeros((0, 0), dtype=np.int64)] * (n + 1)
    for k in range(1, n + 1):
        S = split_ids[k]
        cnt = S.size
        if not cnt:
            continue
        split_total += cnt
        z_ids = np.arange(nxt, nxt + cnt, dtype=np.int64)
        neg_ids = np.arange(nxt + cnt, nxt + 2 * cnt, dtype=np.int64)
        nxt += 2 * cnt
        if k == 1:
            F = lat.pad[k][lat.pos[S]]
            a, b = F[:, 0], F[:, 1]
            swap = mask[a] != _POS
            a, b = np.where(swap, b, a), np.where(swap, a, b)
            cross_p, cross_q, cross_z = a, b, z_ids
            pos_F = np.stack([a, z_ids], axis=1)
            neg_F = np.stack([b, z_ids], axis=1)
            zero_pad = np.zeros((cnt, 0), dtype=np.int64)
        else:
            F = lat.pad[k][lat.pos[S]]
            pos_F, neg_F, zero_pad = _split_facets(lat, mask, F, z_ids, part_neg, part_zero, k)
        # record: '+' part keeps id and gets new facets; new zero and '-' cells
        pos_rows[k] = pos_F
        new_dim += [k - 1] * cnt + [k] * cnt
        new_ids[k - 1].append(z_ids)
        new_ids[k].append(neg_ids)
        if k - 1 >= 1:
            pad_new[k - 1].append(zero_pad)
        pad_new[k].append(neg_F)
        part_neg[S] = neg_ids
        part_zero[S] = z_ids
        parents += [S, S]
        child_codes += [np.ones(cnt, dtype=np.int8), np.zeros(cnt, dtype=np.int8)]
    # the new cells
    lat.dim += new_dim
    M = lat.num_cells()
    lat.reserve(M)
    if columns is not None and not columns.make_room(M, N):
        columns = None  # flushed: this cut's codes go to lat.sig
    if cross_z.size:
        lat.cvid[cross_z] = store.cross(lat.cvid[cross_p], lat.cvid[cross_q], row, mi)
    sig = lat.sig
    par = np.concatenate(parents)
    sig[N:M] = sig[par]
    if columns is None:
        sig[N:M, j] = np.concatenate(child_codes)
    else:
        columns.new_cells(par, N, np.concatenate(child_codes))
    _write_pads(lat, split_ids, pos_rows, pad_new)
    for k in range(n + 1):
        if new_ids[k]:
            ids = np.concatenate(new_ids[k])
            start = len(lat.by_dim[k])
            lat.pos[ids] = np.arange(start, start + ids.size, dtype=np.int64)
            lat.by_dim[k].extend(ids.tolist())
    return split_total


def _cut_compiled(ext: ModuleType, lat: Lattice, row: int, j: int, mi: int, columns: _Columns | None) -> int:
    """:func:`_cut` with the compiled passes: the same lattice, from one compiled call
    (``cut_core``: masks, codes, the parts' facet rows) and the new cells' bookkeeping."""
    store = lat.store
    N = lat.num_cells()
    n = lat.n
    verts = lat.ids(0)
    vsg = store.signs(lat.cvid[verts], row, mi)
    if columns is not None:
        codes = columns.column(j, N)
        part_neg, part_zero = columns.parts(N + 1)  # all -1 between cuts
    else:
        codes = np.empty(N, dtype=np.int8)
        part_neg = np.full(N + 1, -1, dtype=np.int64)
        part_zero = np.full(N + 1, -1, dtype=np.int64)
    split_ids, blocks, par, child = ext.cut_core(N, verts, vsg, [lat.ids(k) for k in range(n + 1)], lat.pad,
                                                 lat.pos, part_neg, part_zero, codes)
    if columns is None:
        lat.sig[:N, j] = codes
    del codes  # (a view of the column buffer, which make_room may replace below)
    if not par.size:
        return 0
    # a split k-cell keeps its id for its '+' part; its zero part (dimension k - 1) and '-' part
    # are new, in the ranges z0 .. and z0 + cnt .. ; the new cells of one dimension are listed
    # in the order of _cut: the '-' parts of its split cells, then the zero parts from above
    new_dim: list[int] = []
    ranges: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
    pad_new: list[list[np.ndarray]] = [[] for _ in range(n + 1)]
    pos_rows: list[np.ndarray] = [np.zeros((0, 0), dtype=np.int64)] * (n + 1)
    cross: tuple[np.ndarray, np.ndarray, int, int] | None = None
    for k in range(1, n + 1):
        blk = blocks[k - 1]
        if blk is None:
            continue
        z0, pos_F, neg_F, zero_pad = blk
        cnt = pos_F.shape[0]
        if k == 1:
            cross = (pos_F[:, 0], neg_F[:, 0], z0, cnt)
        pos_rows[k] = pos_F
        new_dim += [k - 1] * cnt + [k] * cnt
        ranges[k - 1].append((z0, cnt))
        ranges[k].append((z0 + cnt, cnt))
        if k - 1 >= 1:
            pad_new[k - 1].append(zero_pad)
        pad_new[k].append(neg_F)
    lat.dim += new_dim
    M = lat.num_cells()
    lat.reserve(M)
    if columns is not None and not columns.make_room(M, N):
        columns = None  # flushed: this cut's codes go to lat.sig
    if cross is not None:
        P, Q, z0, cnt = cross
        lat.cvid[z0 : z0 + cnt] = store.cross(lat.cvid[P], lat.cvid[Q], row, mi)
    if columns is None:
        ext.copy_parents(lat.sig, N, par, lat.sig[:0], 0, child)
        lat.sig[N:M, j] = child
    else:  # the rows of lat.sig and of the buffer in one pass
        ext.copy_parents(lat.sig, N, par, columns.buf, len(columns.cols), child)
    _write_pads(lat, split_ids, pos_rows, pad_new)
    for d in range(n + 1):
        lst = lat.by_dim[d]
        for z0, cnt in ranges[d]:
            start = len(lst)
            lat.pos[z0 : z0 + cnt] = np.arange(start, start + cnt, dtype=np.int64)
            lst.extend(range(z0, z0 + cnt))
    return int(par.size) // 2


def _sign_masks(lat: Lattice, vsg: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The OR of the sign bits of every cell's vertices (``vsg``: exact signs at ``ids(0)``),
    index ``N`` serving the padding, and the split cells (both strict signs) of each dimension."""
    N = lat.num_cells()
    mask = np.zeros(N + 1, dtype=np.uint8)
    mask[lat.ids(0)] = np.array([_NEG, _ZERO, _POS], dtype=np.uint8)[vsg + 1]
    split_ids: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for k in range(1, lat.n + 1):
        ids = lat.ids(k)
        if not ids.size:
            split_ids.append(np.zeros(0, dtype=np.int64))
            continue
        mk = _or_rows(mask[lat.padv(k)])
        mask[ids] = mk
        split_ids.append(ids[(mk & 5) == 5])
    return mask, split_ids


def _or_rows(G: np.ndarray) -> np.ndarray:
    """The OR of each row of a C-contiguous uint8 matrix: eight columns at a time as one
    uint64 word, the word's bytes folded (several times faster than ``np.bitwise_or.reduce``
    along short rows)."""
    N, w = G.shape
    q = w // 8
    if q:
        words = G[:, : 8 * q].view(np.uint64)
        acc = words[:, 0].copy()
        for i in range(1, q):
            acc |= words[:, i]
        for sh in (32, 16, 8):
            acc |= acc >> np.uint64(sh)
        res = acc.astype(np.uint8)  # the low byte: the OR of the eight
    else:
        res = np.zeros(N, dtype=np.uint8)
    for j in range(8 * q, w):
        res |= G[:, j]
    return res


def _split_facets(lat: Lattice, mask: np.ndarray, F: np.ndarray, z_ids: np.ndarray, part_neg: np.ndarray,
                  part_zero: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded facet rows of the three parts of split ``k``-cells (``k >= 2``) with facet rows
    ``F``: the '+' part (the split facets' '+' parts, which keep their ids, the facets on the
    '+' side, and the zero part ``z_ids``), the '-' part (likewise), and the zero part (the split
    facets' zero parts, then, sorted and once, the faces in the zero set of the other facets)."""
    N = part_neg.shape[0] - 1
    cnt = F.shape[0]
    Fi = np.where(F >= 0, F, N)
    sp = part_zero[Fi] >= 0
    valid = F >= 0
    up = valid & ~sp
    posside = up & ((mask[Fi] & _POS) != 0)
    negside = up & ~posside
    zc = z_ids[:, None]
    pos_F = _compact_rows(np.concatenate([np.where(sp | posside, F, -1), zc], axis=1))
    neg_F = _compact_rows(np.concatenate([np.where(sp, part_neg[Fi], np.where(negside, F, -1)), zc],
                                         axis=1))
    # the zero part: the zero parts of split facets, then (sorted, once) the faces of
    # the other facets that lie in the zero set
    zs = np.where(sp, part_zero[Fi], -1)
    r_i, c_i = np.nonzero(up)
    G = lat.pad[k - 1][lat.pos[F[r_i, c_i]]]
    Gi = np.where(G >= 0, G, N)
    hit = mask[Gi] == _ZERO
    gr, gc = np.nonzero(hit)
    key = _unique_ints(r_i[gr] * (N + 1) + G[gr, gc])
    zcell, zface = np.divmod(key, N + 1)
    zcount = np.bincount(zcell, minlength=cnt)
    first = _compact_rows(zs)
    fcount = (first >= 0).sum(axis=1)
    total = fcount + zcount
    zero_pad = np.full((cnt, int(total.max(initial=0))), -1, dtype=np.int64)
    zero_pad[:, : first.shape[1]] = first  # fcount <= total, so it fits
    if zface.size:
        starts = np.concatenate(([0], np.cumsum(zcount)[:-1]))
        cols = fcount[zcell] + (np.arange(zface.size) - starts[zcell])
        zero_pad[zcell, cols] = zface
    return pos_F, neg_F, zero_pad


def _write_pads(lat: Lattice, split_ids: list[np.ndarray], pos_rows: list[np.ndarray],
                pad_new: list[list[np.ndarray]]) -> None:
    """Update the padded facet rows: the split cells' new rows, then rows for the new cells."""
    for k in range(1, lat.n + 1):
        P = lat.pad[k]
        blocks = pad_new[k]
        width = max([P.shape[1], pos_rows[k].shape[1]] + [x.shape[1] for x in blocks])
        if width > P.shape[1]:
            P = np.concatenate([P, np.full((P.shape[0], width - P.shape[1]), -1, dtype=np.int64)], axis=1)
        ext = compiled_passes()
        if pos_rows[k].size:
            rows_ = lat.pos[split_ids[k]]
            if ext is not None:
                ext.write_rows(P, rows_, np.ascontiguousarray(pos_rows[k]))
            else:
                P[rows_] = -1
                P[rows_, : pos_rows[k].shape[1]] = pos_rows[k]
        live = len(lat.by_dim[k])
        need = live + sum(x.shape[0] for x in blocks)
        if need > P.shape[0]:  # grow by doubling: rows past the live ones are all -1
            grown = np.full((max(need, 2 * P.shape[0]), width), -1, dtype=np.int64)
            grown[:live] = P[:live]
            P = grown
        for x in blocks:
            if ext is not None:
                ext.put_block(P, live, np.ascontiguousarray(x))
            else:
                P[live : live + x.shape[0], : x.shape[1]] = x
            live += x.shape[0]
        lat.pad[k] = P


def _compact_rows(A: np.ndarray) -> np.ndarray:
    """Each row's entries ``>= 0`` moved to the front (in order), ``-1`` after them; columns
    that hold only ``-1`` dropped."""
    if A.size == 0:
        return A
    keep = A >= 0
    col = np.cumsum(keep, axis=1) - 1  # the new column of each kept entry
    out = np.full((A.shape[0], int(col[:, -1].max(initial=-1)) + 1), -1, dtype=A.dtype)
    r, c = np.nonzero(keep)
    out[r, col[r, c]] = A[r, c]
    return out


def _unique_ints(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-D integer array (``np.unique`` without its import of
    ``numpy.ma``, which costs a tenth of a second once per process)."""
    s = np.sort(a)
    if s.size:
        s = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return s


def _row_lists(A: np.ndarray) -> list[list[int]]:
    """The rows of a padded array (``-1`` at the end) as lists without the padding."""
    if A.shape[1] == 0:
        return [[] for _ in range(A.shape[0])]
    counts = (A >= 0).sum(axis=1).tolist()
    return [r[:c] for r, c in zip(A.tolist(), counts)]


@dataclass(frozen=True, slots=True)
class _Item:
    """One step of the refinement: a cut by one pre-activation (``relu``, ``leaky``, an output's
    zero set) or the argmax refinement of a ``max`` unit (or of the outputs)."""

    layer: int
    kind: str  # "cut" or "max"
    rows: tuple[int, ...]  # rows of the layer's pre-activation (carried coordinates n + row)
    sig: int  # the first sign column it writes


def output_refinement(net: Network, with_output: bool, refine: str | None) -> str | None:
    """The output refinement a build uses: ``None`` without the output, else ``"zero"`` or
    ``"argmax"`` (the default: ``"zero"`` for one output, ``"argmax"`` for two or more)."""
    if refine is not None and refine not in ("zero", "argmax"):
        raise InvalidArgumentError(f"refine must be 'zero' or 'argmax', got {refine!r}")
    if not with_output:
        if refine is not None:
            raise InvalidArgumentError("refine= needs with_output=True")
        return None
    if refine is None:
        return "argmax" if net.output_dim >= 2 else "zero"
    if refine == "argmax" and net.output_dim < 2:
        raise InvalidArgumentError(
            "the argmax refinement needs at least two outputs; this network has one "
            "(use the zero refinement, F = 0)"
        )
    return refine


def _schedule(net: Network, refine: str | None) -> list[_Item]:
    """The refinement steps in order, with their sign columns."""
    items: list[_Item] = []
    col = 0
    for li, layer in enumerate(net.layers[:-1]):
        if layer.units is None:
            items.extend(_Item(li, "cut", (j,), col + j) for j in range(layer.fan_out))
            col += layer.fan_out
            continue
        for u in layer.units:
            if u.kind == "max":
                items.append(_Item(li, "max", u.inputs, col))
                col += len(u.inputs)
            elif u.kind != "linear":
                items.append(_Item(li, "cut", u.inputs, col))
                col += 1
    last = len(net.layers) - 1
    m = net.output_dim
    if refine == "argmax":
        items.append(_Item(last, "max", tuple(range(m)), col))
    elif refine == "zero":
        items.extend(_Item(last, "cut", (j,), col + j) for j in range(m))
    return items


def _stage_columns(net: Network, layer: int) -> range:
    """The sign columns of hidden layer ``layer``'s stage (they come first, layer by layer)."""
    start = sum(L.num_signs for L in net.layers[:layer])
    return range(start, start + net.layers[layer].num_signs)


def num_steps(net: Network, with_output: bool = False, refine: str | None = None) -> int:
    """Number of refinement steps of a build (one per cutting unit; one per max unit; the
    outputs: one per output for the zero refinement, one for the argmax refinement)."""
    return len(_schedule(net, output_refinement(net, with_output, refine)))


def _num_columns(net: Network, refine: str | None) -> int:
    return net.num_hidden + (net.output_dim if refine is not None else 0)


def _sublattice(lat: Lattice, cells: Sequence[int] | np.ndarray) -> tuple[Lattice, np.ndarray]:
    """The sub-lattice on the live ``cells`` (closed under faces), renumbered by dimension, and
    the original id of each of its cells (array operations on the padded facet rows; the
    vertex store is shared)."""
    n = lat.n
    ids = np.asarray(cells, dtype=np.int64)
    dims_all = np.asarray(lat.dim, dtype=np.int64)
    order = ids[np.argsort(dims_all[ids], kind="stable")]
    dims = dims_all[order]
    bounds = np.searchsorted(dims, np.arange(n + 2))
    b = bounds.tolist()
    new = np.full(lat.num_cells() + 1, -1, dtype=np.int64)  # the last entry maps the padding -1
    new[order] = np.arange(order.size, dtype=np.int64)
    cvid = np.full(order.size, -1, dtype=np.int64)
    cvid[: b[1]] = lat.cvid[order[: b[1]]]
    pads = [np.zeros((0, 0), dtype=np.int64)]
    for k in range(1, n + 1):
        pads.append(new[lat.facet_rows(order[b[k] : b[k + 1]], k)])
    pos = np.arange(order.size, dtype=np.int64) - bounds[dims]
    sub = Lattice(n, lat.ncut, dims.tolist(), lat.sig[order], lat.store, cvid,
                  [list(range(b[k], b[k + 1])) for k in range(n + 1)], pads, pos)
    return sub, order


def _closure(lat: Lattice, seeds: Sequence[int]) -> list[int]:
    """The live cells ``seeds`` and all their faces (marked dimension by dimension, top down)."""
    mark = np.zeros(lat.num_cells() + 1, dtype=bool)  # the last entry absorbs the padding -1
    mark[np.asarray(seeds, dtype=np.int64)] = True
    for d in range(lat.n, 0, -1):
        ids = lat.ids(d)
        sel = ids[mark[ids]]
        if sel.size:
            mark[lat.padv(d)[lat.pos[sel]].ravel()] = True
    mark[-1] = False
    return np.flatnonzero(mark).tolist()


def _drop(lat: Lattice, dead: np.ndarray, add: Sequence[np.ndarray] | None = None,
          add_rows: Sequence[np.ndarray | None] | None = None) -> None:
    """Take the cells marked in ``dead`` out of the complex (from ``by_dim`` and the padded
    facet arrays; their ids stay unused) and list the new cells ``add[d]`` (already created)
    with their padded facet rows ``add_rows[d]``. The remaining cells must be closed under faces."""
    n = lat.n
    M = lat.num_cells()
    dead = np.concatenate([dead, np.zeros(M - dead.size, dtype=bool)]) if dead.size < M else dead[:M]
    for d in range(n + 1):
        old = lat.ids(d)
        stay = ~dead[old]
        extra = add[d] if add is not None else np.zeros(0, dtype=np.int64)
        rows_old = lat.padv(d)[stay] if d else None
        lat.by_dim[d] = old[stay].tolist() + extra.tolist()
        if rows_old is None:
            continue
        P = rows_old
        R = add_rows[d] if add_rows is not None else None
        if R is not None and R.shape[0]:
            width = max(P.shape[1], R.shape[1])
            P = np.concatenate([_widen(P, width), _widen(R, width)], axis=0)
        lat.pad[d] = P
    pos = np.zeros(M, dtype=np.int64)
    for ids in lat.by_dim:
        pos[ids] = np.arange(len(ids), dtype=np.int64)
    lat.pos = pos


def _widen(P: np.ndarray, width: int) -> np.ndarray:
    """Padded rows ``P`` with -1 columns added up to ``width``."""
    if P.shape[1] >= width:
        return P
    return np.concatenate([P, np.full((P.shape[0], width - P.shape[1]), -1, dtype=np.int64)], axis=1)


def _argmax_refine(lat: Lattice, rows: Sequence[int], sig0: int) -> None:
    """Refine every cell of ``lat`` by the set of maximizers of the carried values ``rows``, in place.

    A cell of the result is a maximal convex set on which the argmax set of the values (which
    are affine on every current cell and share one integer scale) is constant; its sign entries
    are ``sign(z_j - max)`` (0 for a maximizer, -1 otherwise) in columns ``sig0 + j``.

    Class ``i`` is a *candidate* of a cell when for every ``j`` some vertex has ``z_i >= z_j``
    (necessary for ``i`` to attain the maximum somewhere in the closed cell; a face has no more
    candidates than its cell). A cell whose candidates tie at all its vertices (*settled*: one
    candidate, or several equal on the whole cell, as ReLUs that are all exactly 0 feeding a
    max-pool) has its candidate set as the argmax set on its whole closure (every other class
    is below some candidate there): it keeps its shape and only gets its entries; its faces are
    settled with the same candidates. The other cells (*active*; their cofaces are active too)
    are replaced: for each class
    ``i``, the closure of the active cells with candidate ``i`` is copied, cut by every
    ``z_i - z_j`` in turn, and only the parts where ``z_i >= z_j`` are kept; what remains is the
    face lattice of ``{x : z_i(x) = max}`` there (docs/mathematics.md, Lemma 3). Its settled
    cells are the original ones (a settled cell survives, unsplit, only in the copies of its
    candidates); its other cells are grafted into ``lat``, identified across classes by sign vector.
    """
    n = lat.n
    k = len(rows)
    N = lat.num_cells()
    verts = lat.ids(0)
    vids = lat.cvid[verts]
    wide = k > 63
    dtype = object if wide else np.uint64
    one = 1 if wide else np.uint64(1)
    cand = np.zeros(N, dtype=dtype)
    # exact signs of z_i - z_j at every vertex, once per pair
    pair = {(i, j): lat.store.signs(vids, rows[i], rows[j]) for i in range(k) for j in range(i + 1, k)}
    for i in range(k):
        # bit j of a vertex: z_i >= z_j there; a cell's bits: the OR over its vertices
        vb = np.zeros(verts.size, dtype=dtype)
        for j in range(k):
            bit = one << (j if wide else np.uint64(j))
            if j == i:
                vb = vb | bit
            else:
                ge = pair[(i, j)] >= 0 if i < j else pair[(j, i)] <= 0
                # (a bit above 63 is a Python int: it only fits an object array)
                vb = vb | (ge.astype(object) * bit if wide else np.where(ge, bit, np.uint64(0)).astype(dtype))
        bits = np.zeros(N + 1, dtype=dtype)
        bits[verts] = vb
        for d in range(1, n + 1):
            ids = lat.ids(d)
            if ids.size:
                bits[ids] = np.bitwise_or.reduce(bits[lat.padv(d)], axis=1)
        hit = bits[:N] == (((1 << k) - 1) if wide else np.uint64((1 << k) - 1))
        cand[hit] = cand[hit] | (one << (i if wide else np.uint64(i)))
    alive = np.zeros(N, dtype=bool)
    for d in range(n + 1):
        alive[lat.ids(d)] = True
    # a cell is settled when its candidates tie at all its vertices: then they tie on the whole
    # cell (the differences are affine there), every other class is below one of them on the
    # closed cell, and the argmax set is the candidate set everywhere on it (with one candidate,
    # trivially; with several, e.g. ReLUs that are all exactly 0 feeding a max-pool)
    member = [((cand >> (i if wide else np.uint64(i))) & one) != 0 for i in range(k)]
    tie_bits = np.array([_NEG, _ZERO, _POS], dtype=np.uint8)
    unsettled = np.zeros(N, dtype=bool)
    for (i, j), sg in pair.items():
        both = member[i] & member[j]
        if not both.any():
            continue
        m = np.zeros(N + 1, dtype=np.uint8)
        m[verts] = tie_bits[sg + 1]
        for d in range(1, n + 1):
            ids = lat.ids(d)
            if ids.size:
                m[ids] = _or_rows(m[lat.padv(d)])
        unsettled |= both & (m[:N] != _ZERO)
    settled = alive & ~unsettled
    sel = np.flatnonzero(settled)
    for j in range(k):
        lat.sig[sel, sig0 + j] = np.where(member[j][sel], 1, 0)
    active = alive & unsettled
    if not active.any():
        return
    act_ids = np.flatnonzero(active)
    copies: list[tuple[Lattice, np.ndarray]] = []
    for i in range(k):
        ibit = one << (i if wide else np.uint64(i))
        seeds = act_ids[(cand[act_ids] & ibit) != 0]
        if not seeds.size:
            continue
        L, orig = _sublattice(lat, _closure(lat, seeds))
        for j in range(k):
            if j == i:
                continue
            _cut(L, rows[i], sig0 + j, minus=rows[j])
            _drop(L, L.sig[: L.num_cells(), sig0 + j] == 0)  # the parts where z_i < z_j
            if L.live_cells() == 0:
                break
        M = L.num_cells()
        if L.live_cells() == 0:
            continue
        for j in range(k):  # code of sign(z_j - max): '+' of z_i - z_j is '-', '0' stays '0'
            L.sig[:M, sig0 + j] = 2 - L.sig[:M, sig0 + j] if j != i else 1
        origx = np.full(M + 1, -1, dtype=np.int64)  # -1: a new cell (and the padding)
        origx[: orig.size] = orig
        copies.append((L, origx))
    _graft(lat, copies, settled, active)


def _graft(lat: Lattice, copies: Sequence[tuple[Lattice, np.ndarray]], settled: np.ndarray,
           active: np.ndarray) -> None:
    """Put the cells of the argmax copies into ``lat`` in place of the ``active`` cells.

    Dimension by dimension: a copy's cell that is a settled original keeps its id; every other
    cell is identified across the copies by its sign row (one sort of all the rows) and gets a
    new id; its facets (already mapped, one dimension lower) and, for a vertex, its vertex come
    from its first occurrence."""
    n = lat.n
    base = lat.num_cells()
    gids = [np.full(L.num_cells() + 1, -1, dtype=np.int64) for L, _ in copies]  # [-1] maps padding
    nxt = base
    add: list[np.ndarray] = []
    add_rows: list[np.ndarray | None] = []
    sig_rows: list[np.ndarray] = []
    for d in range(n + 1):
        rest: list[np.ndarray] = []
        for ci, (L, origx) in enumerate(copies):
            ids = L.ids(d)
            o = origx[ids]
            keep = o >= 0
            keep[keep] = settled[o[keep]]
            gids[ci][ids[keep]] = o[keep]
            rest.append(ids[~keep])
        cls = np.concatenate([np.full(r.size, ci, dtype=np.int64) for ci, r in enumerate(rest)]) \
            if rest else np.zeros(0, dtype=np.int64)
        loc = np.concatenate(rest) if rest else np.zeros(0, dtype=np.int64)
        if not loc.size:
            add.append(np.zeros(0, dtype=np.int64))
            add_rows.append(None)
            continue
        rows_ = np.concatenate([copies[ci][0].sig[r] for ci, r in enumerate(rest)])
        order = np.argsort(np.ascontiguousarray(rows_).view(np.dtype((np.void, rows_.shape[1]))).ravel(),
                           kind="stable")
        srt = rows_[order]
        first = np.concatenate(([True], (srt[1:] != srt[:-1]).any(axis=1)))
        group = np.empty(order.size, dtype=np.int64)
        group[order] = np.cumsum(first) - 1
        reps = order[first]  # the first occurrence of each distinct row
        g = nxt + np.arange(reps.size, dtype=np.int64)
        for ci, r in enumerate(rest):
            gids[ci][r] = g[group[cls == ci]]
        nxt += reps.size
        rc, rl = cls[reps], loc[reps]
        sig_rows.append(rows_[reps])
        add.append(g)
        if d == 0:
            lat.reserve(nxt)
            for ci, (L, _) in enumerate(copies):
                sel = rc == ci
                lat.cvid[g[sel]] = L.cvid[rl[sel]]
            add_rows.append(None)
            continue
        blocks = [(np.flatnonzero(rc == ci), gids[ci][L.facet_rows(rl[rc == ci], d)])
                  for ci, (L, _) in enumerate(copies)]
        width = max(B.shape[1] for _, B in blocks)
        R = np.full((reps.size, width), -1, dtype=np.int64)
        for where, B in blocks:
            R[where, : B.shape[1]] = B
        add_rows.append(R)
    lat.dim += [d for d in range(n + 1) for _ in range(add[d].size)]
    lat.reserve(nxt)
    if sig_rows:
        lat.sig[base:nxt] = np.concatenate(sig_rows)
    _drop(lat, active, add, add_rows)


def _refine(
    lat: Lattice,
    net: Network,
    refine_output: str | None,
    start: int = 0,
    stop: int | None = None,
    max_cells: int | None = None,
    progress: bool = False,
) -> Lattice:
    """Apply the steps ``start <= i < stop`` of the schedule to ``lat``, in place.

    ``lat``'s vertices must carry the pre-activations of the layer of step ``start``
    (for ``start = 0``: only ``(D x, D)``).
    """
    sched = _schedule(net, refine_output)
    stop = len(sched) if stop is None else stop
    bar = Progress(stop - start, "neurons", show=progress)
    columns = _Columns(lat)
    try:
        for i in range(start, stop):
            item = sched[i]
            if lat.store.layer < item.layer or item.kind != "cut":
                columns.flush()  # transitions and argmax refinements read lat.sig
            while lat.store.layer < item.layer:
                nxt = lat.store.layer + 1
                _transition(lat, nxt, _stage_columns(net, nxt - 1) if nxt > 0 else ())
            if item.kind == "cut":
                _cut(lat, item.rows[0], item.sig, columns=columns)
            else:
                _argmax_refine(lat, item.rows, item.sig)
            if max_cells is not None and lat.live_cells() > max_cells:
                raise CellLimitExceeded(
                    f"stopped after {i + 1} of {len(sched)} steps: the complex has "
                    f"{lat.live_cells()} cells already, more than max_cells = {max_cells}"
                )
            bar.advance_to(i + 1 - start, f"layer {item.layer}, {lat.live_cells()} cells")
    finally:
        columns.flush()
        bar.close()
    return lat


def build_complex(
    net: Network,
    domain: Domain | None = None,
    *,
    with_output: bool = False,
    refine: str | None = None,
    max_cells: int | None = None,
    progress: bool = False,
    jobs: int = 1,
) -> PolyhedralComplex:
    """Every cell of every dimension of the complex that ``net`` cuts ``domain`` into.

    Parameters
    ----------
    net
        The network (exact weights).
    domain
        A full-dimensional polytope; by default the box ``[-1, 1]^n``.
    with_output
        Also refine by the output: by the zero sets of the outputs (the decision boundary
        ``F = 0``) or by the argmax set of the outputs (the class regions), see ``refine``.
    refine
        ``"zero"`` (one sign entry ``sign(F_j)`` per output) or ``"argmax"`` (one entry
        ``sign(F_j - max_k F_k)`` per output: a cell is a maximal convex set where the hidden
        signs and the set of top classes are constant). Default with ``with_output``:
        ``"zero"`` for one output, ``"argmax"`` for two or more.
    max_cells
        Stop with :class:`~exactcells.errors.CellLimitExceeded` once the complex under
        construction has more cells than this (cell counts only grow while refining).
    progress
        Show a progress bar on stderr.
    jobs
        With ``jobs > 1`` the refinement after the first hidden layer is split into independent
        units (balanced groups of its regions) run as Dask tasks on a local cluster of that many
        workers and merged by sign vector (:func:`build_complex_by_units`,
        :func:`exactcells.parallel.build_on_cluster`); the result is identical.

    Returns
    -------
    PolyhedralComplex

    Examples
    --------
    >>> from exactcells import network_from_dict, build_complex
    >>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
    ...                                     {"W": [[1, 1]], "b": [0]}]})
    >>> build_complex(net).f_vector
    (9, 12, 4)
    """
    if domain is None:
        domain = Domain.box(net.input_dim)
    _check_domain(net, domain)
    ro = output_refinement(net, with_output, refine)
    if jobs > 1:
        return build_complex_by_units(net, domain, with_output=with_output, refine=ro, jobs=jobs,
                                      max_cells=max_cells, progress=progress)
    t0 = time.perf_counter()
    lat = domain_lattice(domain, _num_columns(net, ro), net)
    _check_limit(lat.num_cells(), max_cells, "the domain's face lattice has")
    _refine(lat, net, ro, max_cells=max_cells, progress=progress)
    return _assemble(lat, net, domain, ro, time.perf_counter() - t0)


def _check_limit(cells: int, max_cells: int | None, what: str) -> None:
    if max_cells is not None and cells > max_cells:
        raise CellLimitExceeded(f"stopped: {what} {cells} cells already, more than max_cells = {max_cells}")


def _check_domain(net: Network, domain: Domain) -> None:
    if domain.dim != net.input_dim:
        raise InvalidDomainError(
            f"the domain lives in R^{domain.dim} but the network takes {net.input_dim} inputs"
        )


def _assemble(
    lat: Lattice, net: Network, domain: Domain, refine: str | None, seconds: float
) -> PolyhedralComplex:
    """Freeze a finished lattice into a canonical :class:`PolyhedralComplex`."""
    lat.store.release_floats()  # not needed any more: their memory is free for the arrays below
    lat = lat.compact()
    N = lat.num_cells()
    nh = net.num_hidden
    m = domain.num_facets
    nc = lat.ncut
    K = nc + m
    dims = np.asarray(lat.dim, dtype=np.int8)
    ext = compiled_passes()
    if ext is not None:  # the same order and arrays, from keys packed into words and C loops
        cols = np.r_[0:nh, nc : nc + m, nh:nc].astype(np.int64)
        sig = np.ascontiguousarray(lat.sig[:N])
        order = ext.sort_keys(ext.pack_keys(dims, sig, cols))
        signs = ext.gather_signs(sig, order, cols)
        new_id = np.empty(N, dtype=np.int64)
        new_id[order] = np.arange(N, dtype=np.int64)
        indptr, indices = ext.facet_csr(N, new_id, [lat.ids(k) for k in range(lat.n + 1)], lat.pad)
        return _complex(lat, net, domain, refine, seconds, dims, order, signs, indptr, indices)
    # canonical order: by dimension, then the sign vector (hidden, domain facets, outputs)
    # lexicographically (-1 < 0 < 1); the rows are unique, so sorting them as byte strings of
    # (dimension, codes) gives that order in one pass
    keys = np.empty((N, K + 1), dtype=np.int8)
    keys[:, 0] = dims
    sig = lat.sig
    keys[:, 1 : nh + 1] = sig[:N, :nh]
    keys[:, nh + 1 : nh + m + 1] = sig[:N, nc : nc + m]
    keys[:, nh + m + 1 :] = sig[:N, nh:nc]
    order = np.argsort(keys.view(np.dtype((np.void, K + 1))).ravel(), kind="stable")
    signs = keys[order, 1:]
    signs -= 1
    new_id = np.empty(N, dtype=np.int64)
    new_id[order] = np.arange(N, dtype=np.int64)
    ptr, flat = lat.facet_csr()
    owners = new_id[np.repeat(np.arange(N, dtype=np.int64), np.diff(ptr))]
    indices = new_id[flat]
    if N < 2**31:  # sort (owner, index) pairs as one int64 key: several times faster than lexsort
        indices = np.sort(owners * N + indices) % N
    else:  # pragma: no cover - beyond two billion cells
        indices = indices[np.lexsort((indices, owners))]
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners, minlength=N), out=indptr[1:])
    return _complex(lat, net, domain, refine, seconds, dims, order, signs, indptr, indices)


def _complex(lat: Lattice, net: Network, domain: Domain, refine: str | None, seconds: float,
             dims: np.ndarray, order: np.ndarray, signs: np.ndarray, indptr: np.ndarray,
             indices: np.ndarray) -> PolyhedralComplex:
    """The complex of :func:`_assemble` from the canonical ``order`` and arrays."""
    f0 = int(np.count_nonzero(dims == 0))
    vids = lat.vids(order[:f0])
    lat.store.release_floats()
    verts = LazyCoords(lat.store, vids)  # exact coordinates when first asked for
    return PolyhedralComplex(
        network=net,
        domain=domain,
        with_output=refine is not None,
        output_refinement=refine,
        dims=dims[order],
        signs=signs,
        facet_indptr=indptr,
        facet_indices=indices,
        vertex_coords=verts,
        build_seconds=seconds,
    )


# -- independent units of work ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A closed top cell of the complex after the first ``start`` neurons, to be refined."""

    start: int
    lattice: Lattice


def plan_units(
    net: Network, domain: Domain, start: int, with_output: bool = False, refine: str | None = None,
    max_cells: int | None = None,
) -> list[WorkUnit]:
    """Split the build into independent units: the closures of the top cells after ``start`` steps."""
    ro = output_refinement(net, with_output, refine)
    total = len(_schedule(net, ro))
    if not 0 <= start <= total:
        raise InvalidArgumentError(f"start must be between 0 and {total} (the number of steps), got {start}")
    lat = domain_lattice(domain, _num_columns(net, ro), net)
    _check_limit(lat.num_cells(), max_cells, "the domain's face lattice has")
    _refine(lat, net, ro, 0, start, max_cells=max_cells)
    return [WorkUnit(start, _closure_lattice(lat, top)) for top in lat.by_dim[lat.n]]


def _closure_lattice(lat: Lattice, top: int) -> Lattice:
    """The face lattice of the closure of cell ``top``, renumbered, with its own vertex store."""
    return _sublattice(lat, _closure(lat, [top]))[0].detach()


def refine_unit(
    unit: WorkUnit, net: Network, with_output: bool = False, refine: str | None = None,
    max_cells: int | None = None,
) -> Lattice:
    """Refine one unit by the remaining steps (independent of every other unit).

    A unit's cells are distinct cells of the whole complex, so a unit above ``max_cells`` stops
    the build (:class:`~exactcells.errors.CellLimitExceeded`).
    """
    lat = unit.lattice.detach()
    return _refine(lat, net, output_refinement(net, with_output, refine), unit.start, max_cells=max_cells)


class _Merger:
    """Merges refined units one by one, identifying cells by their sign vectors; ``num_cells``
    is at every moment the number of distinct cells of the complex found so far."""

    def __init__(self, n: int, ncut: int, width: int) -> None:
        self.n, self.ncut, self.width = n, ncut, width
        self.key_to_id: dict[bytes, int] = {}
        self.rows: list[np.ndarray] = []
        self.dims: list[int] = []
        self.facets: list[list[int]] = []
        self.by_dim: list[list[int]] = [[] for _ in range(n + 1)]
        self.net: Network | None = None
        self.coords: dict[int, tuple[int, ...]] = {}

    @property
    def num_cells(self) -> int:
        return len(self.rows)

    def add(self, part: Lattice) -> None:
        key_to_id = self.key_to_id
        local: dict[int, int] = {}
        sig = part.sig
        self.net = part.store.net
        vcoords = dict(zip(part.by_dim[0], part.vertex_coords(part.by_dim[0])))
        for k in range(self.n + 1):
            prow = part.padv(k).tolist() if k else []
            for idx, c in enumerate(part.by_dim[k]):
                key = sig[c].tobytes()
                gid = key_to_id.get(key)
                if gid is None:
                    gid = len(self.rows)
                    key_to_id[key] = gid
                    self.rows.append(sig[c])
                    self.dims.append(k)
                    self.facets.append([local[f] for f in prow[idx] if f >= 0] if k else [])
                    self.by_dim[k].append(gid)
                    if k == 0:
                        self.coords[gid] = vcoords[c]
                local[c] = gid

    def finish(self) -> Lattice:
        assert self.net is not None, "nothing to merge"
        N = len(self.rows)
        out = Lattice(self.n, self.ncut, self.dims, np.array(self.rows, dtype=np.int8).reshape(N, self.width),
                      VertexStore(self.net, self.n), np.full(N, -1, dtype=np.int64), self.by_dim, [],
                      np.zeros(0, dtype=np.int64))
        verts = out.by_dim[0]
        if verts:
            out.cvid[np.asarray(verts, dtype=np.int64)] = out.store.add_roots(
                [self.coords[v] for v in verts], floats=False)
        out.set_facets(self.facets)
        return out


def merge_units(parts: Sequence[Lattice]) -> Lattice:
    """Merge refined units into one lattice, identifying cells by their sign vectors."""
    m = _Merger(parts[0].n, parts[0].ncut, parts[0].sig.shape[1])
    for part in parts:
        m.add(part)
    return m.finish()


def build_complex_by_units(
    net: Network,
    domain: Domain | None = None,
    *,
    start: int | None = None,
    with_output: bool = False,
    refine: str | None = None,
    jobs: int = 1,
    max_cells: int | None = None,
    progress: bool = False,
) -> PolyhedralComplex:
    """The same complex as :func:`build_complex`, computed as independent units and merged.

    ``start`` neurons are cut first (default: the first hidden layer); each resulting top cell
    is refined separately and the parts are merged by sign vector as they finish. With
    ``jobs > 1`` the work runs on a local Dask cluster of that many workers
    (:func:`exactcells.parallel.build_on_cluster`, which plans its own balanced units). ``max_cells``
    is checked while planning, inside every unit and on the merged count after every unit:
    beyond it :class:`~exactcells.errors.CellLimitExceeded` is raised at once.
    """
    if domain is None:
        domain = Domain.box(net.input_dim)
    _check_domain(net, domain)
    t0 = time.perf_counter()
    ro = output_refinement(net, with_output, refine)
    if start is None:
        start = sum(1 for item in _schedule(net, ro) if item.layer == 0) if len(net.layers) > 1 else 0
    units = plan_units(net, domain, start, with_output, ro, max_cells=max_cells)
    steps = len(_schedule(net, ro))
    merger = _Merger(domain.dim, _num_columns(net, ro), units[0].lattice.sig.shape[1])
    bar = Progress(len(units), "units", show=progress)

    def take(i: int, part: Lattice) -> None:
        merger.add(part)
        _check_limit(merger.num_cells, max_cells, f"after {i} of {len(units)} units the complex has")
        bar.advance_to(i, f"{merger.num_cells} cells merged")

    if jobs > 1 and len(units) > 1 and start < steps:
        # several processes: the one execution layer, a local Dask cluster (exactcells.parallel
        # plans its own balanced units and merges them by sign vector: the identical complex)
        from .parallel import build_on_cluster, cluster

        with cluster(min(jobs, len(units)), announce=progress) as client:
            K = build_on_cluster(net, domain, client=client, with_output=with_output, refine=ro,
                                 max_cells=max_cells, progress=progress)
        assert isinstance(K, PolyhedralComplex)
        return K
    else:
        for i, unit in enumerate(units, 1):
            take(i, refine_unit(unit, net, with_output, ro, max_cells))
    bar.close()
    lat = merger.finish()
    return _assemble(lat, net, domain, ro, time.perf_counter() - t0)
