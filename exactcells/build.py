"""Construct the polyhedral complex of a ReLU network on a domain, exactly.

The algorithm is layer-wise refinement of the whole face lattice (design.md §6):

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

Vertices are stored as primitive integer vectors ``(D x, D z, D)`` where ``z`` are the
pre-activations of the current layer (of an integer-scaled, sign-equivalent network); the
crossing of an edge ``(p, q)`` with values ``a > 0 > b`` is ``a q - b p``, an integer vector.
No floating point and no tolerance enters the computation.

The work can be split into independent units: the closed top cells of the complex after the
first few neurons (:func:`plan_units`), each refined by the remaining neurons
(:func:`refine_unit`), and merged by their canonical sign-vector keys (:func:`merge_units`).
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .complex import PolyhedralComplex
from .domain import Domain
from .errors import CellLimitExceeded, InvalidArgumentError, InvalidDomainError
from .measure import homogeneous
from .network import Network, integer_stage_apply

__all__ = ["build_complex", "output_refinement", "num_steps", "Lattice", "plan_units", "refine_unit", "merge_units"]

# sign codes stored during the build: 0 means '-', 1 means '0', 2 means '+'
_NEG, _ZERO, _POS = 1, 2, 4  # mask bits
ProgressFn = Callable[[str], None]


@dataclass(slots=True)
class Lattice:
    """A mutable face lattice during the build (internal to this module and its workers).

    Cells are integer ids; vertices are the cells of dimension 0 and carry a homogeneous
    integer vector in ``hv``. ``sig`` holds one row of sign codes per cell (0 for '-', 1 for
    '0', 2 for '+'): one column per cutting neuron (hidden, then output), then one per domain
    facet. ``pad[k]`` mirrors the facet lists of the cells of dimension ``k`` (rows in the order
    of ``by_dim[k]``, padded with -1) so that the cells' vertex signs can be combined with numpy.
    """

    n: int
    ncut: int
    dim: list[int]
    facets: list[list[int]]
    sig: np.ndarray
    hv: dict[int, list[int]]
    by_dim: list[list[int]]
    pad: list[np.ndarray]
    pos: list[int]  # position of each cell in by_dim[its dimension]

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

    def new_cell(self, d: int, facets: list[int]) -> int:
        c = len(self.dim)
        self.dim.append(d)
        self.facets.append(facets)
        return c

    def reserve(self, size: int) -> None:
        """Make room for ``size`` rows of sign codes."""
        cap = self.sig.shape[0]
        if size > cap:
            grown = np.zeros((max(size, 2 * cap), self.sig.shape[1]), dtype=np.int8)
            grown[:cap] = self.sig
            self.sig = grown

    def rebuild_pad(self) -> None:
        """Recompute ``pad`` and ``pos`` from the facet lists and ``by_dim``."""
        self.pos = [0] * len(self.dim)
        for ids in self.by_dim:
            for i, c in enumerate(ids):
                self.pos[c] = i
        self.pad = [np.zeros((0, 0), dtype=np.int64)]
        for k in range(1, self.n + 1):
            self.pad.append(_padded([self.facets[c] for c in self.by_dim[k]]))


def _padded(rows: Sequence[Sequence[int]], width: int = 0) -> np.ndarray:
    w = max([width] + [len(r) for r in rows])
    out = np.full((len(rows), w), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def domain_lattice(domain: Domain, ncut: int) -> Lattice:
    """The face lattice of the domain with homogeneous vertex vectors ``(D x, D)``."""
    faces, face_facets = domain.face_lattice()
    n = domain.dim
    m = domain.num_facets
    sig = np.zeros((max(64, len(faces)), ncut + m), dtype=np.int8)
    lat = Lattice(n, ncut, [], [], sig, {}, [[] for _ in range(n + 1)], [], [])
    for i, f in enumerate(faces):
        lat.new_cell(f.dim, face_facets[i])
        lat.sig[i, ncut:] = [1 if k in f.on_facets else 2 for k in range(m)]
        lat.by_dim[f.dim].append(i)
        if f.dim == 0:
            (v,) = tuple(f.vertices)
            lat.hv[i] = list(homogeneous(domain.vertices[v]))
    lat.rebuild_pad()
    return lat


def _transition(
    lat: Lattice,
    W: list[list[int]],
    b: list[int],
    first: bool,
    stage: Sequence[tuple[str, tuple[int, ...], int, int]] | None = None,
) -> None:
    """Replace each vertex's carried pre-activations by those of the next layer.

    ``stage`` is the previous layer's integer activation stage (:meth:`Network.integer_stages`);
    ``None`` means one ReLU per row.
    """
    from flint import fmpz_mat

    n = lat.n
    vids = list(lat.hv)
    if not vids:
        return
    rows = []
    if first or stage is None:
        for v in vids:
            h = lat.hv[v]
            src = h[:n] if first else [x if x > 0 else 0 for x in h[n:-1]]
            rows.append(src + [h[-1]])
    else:
        carried = np.array([lat.hv[v][n:-1] for v in vids], dtype=object).T
        post = integer_stage_apply(stage, carried)[1].T
        rows = [list(r) + [lat.hv[v][-1]] for r, v in zip(post.tolist(), vids)]
    M = fmpz_mat([list(r) + [bj] for r, bj in zip(W, b)])  # (out, in+1)
    Z = fmpz_mat(rows) * M.transpose()
    width = len(W)
    flat = [int(e) for e in Z.entries()]
    for k, v in enumerate(vids):
        h = lat.hv[v]
        new = h[:n] + flat[k * width : (k + 1) * width] + [h[-1]]
        g = math.gcd(*new)
        if g > 1:
            new = [e // g for e in new]
        lat.hv[v] = new


def _cut(lat: Lattice, col: int, j: int, minus: int | None = None) -> int:
    """Cut every cell of ``lat`` by the zero set of the carried pre-activation ``col``.

    ``j`` is the sign column of the neuron. With ``minus``, the function that cuts is the
    difference of the carried values ``col - minus`` (both of one common integer scale).
    Returns the number of cells split. The signs of all cells are combined with numpy (a cell's
    mask is the OR of its facets' masks, dimension by dimension); only the split cells are
    handled one by one.
    """
    facets, hv, sig = lat.facets, lat.hv, lat.sig
    N = lat.num_cells()
    mask = np.zeros(N + 1, dtype=np.uint8)  # mask[N] = 0 serves the padding index -1
    verts = lat.by_dim[0]
    vals = [hv[v][col] for v in verts] if minus is None else [hv[v][col] - hv[v][minus] for v in verts]
    mask[verts] = [_POS if x > 0 else (_NEG if x < 0 else _ZERO) for x in vals]
    split_ids: list[list[int]] = [[]]
    for k in range(1, lat.n + 1):
        ids = lat.by_dim[k]
        if not ids:
            split_ids.append([])
            continue
        mk = np.bitwise_or.reduce(mask[lat.pad[k]], axis=1)
        mask[ids] = mk
        split_ids.append(np.asarray(ids, dtype=np.int64)[(mk & 5) == 5].tolist())
    codes = np.where(mask[:N] & _POS, 2, np.where(mask[:N] & _NEG, 0, 1)).astype(np.int8)
    sig[:N, j] = codes
    if not any(split_ids):
        return 0
    maskl = mask.tolist()
    parts: dict[int, tuple[int, int, int]] = {}
    new_rows: list[list[int]] = [[] for _ in range(lat.n + 1)]
    parents: list[int] = []
    child_codes: list[int] = []
    changed: list[tuple[int, int]] = []  # (dim, cell) whose facet list changed
    for k in range(1, lat.n + 1):
        for c in split_ids[k]:
            fc = facets[c]
            if k == 1:
                a, bb = fc
                if maskl[a] != _POS:
                    a, bb = bb, a
                ha, hb = hv[a], hv[bb]
                va, vb = ha[col], hb[col]
                if minus is not None:
                    va, vb = va - ha[minus], vb - hb[minus]
                new = [va * y - vb * x for x, y in zip(ha, hb)]
                g = math.gcd(*new)
                if g > 1:
                    new = [e // g for e in new]
                z = lat.new_cell(0, [])
                hv[z] = new
                neg = lat.new_cell(1, [bb, z])
                facets[c] = [a, z]
            else:
                pos_f: list[int] = []
                neg_f: list[int] = []
                zero_f: list[int] = []
                zero_faces: set[int] = set()
                for f in fc:
                    p = parts.get(f)
                    if p is not None:
                        pos_f.append(p[0])
                        neg_f.append(p[1])
                        zero_f.append(p[2])
                        continue
                    if maskl[f] & _POS:
                        pos_f.append(f)
                    else:
                        neg_f.append(f)
                    for g2 in facets[f]:
                        if maskl[g2] == _ZERO:
                            zero_faces.add(g2)
                zero_f.extend(sorted(zero_faces))
                z = lat.new_cell(k - 1, zero_f)
                pos_f.append(z)
                neg_f.append(z)
                neg = lat.new_cell(k, neg_f)
                facets[c] = pos_f
            parts[c] = (c, neg, z)
            new_rows[k - 1].append(z)
            new_rows[k].append(neg)
            changed.append((k, c))
            parents += (c, c)  # creation order: z, then neg
            child_codes += (1, 0)
    # sign rows of the new cells: the parent's row with this neuron's code
    M = lat.num_cells()
    lat.reserve(M)
    sig = lat.sig
    sig[N:M] = sig[parents]
    sig[N:M, j] = child_codes
    # the padded facet arrays: rows of changed cells, then rows of the new cells
    for k in range(1, lat.n + 1):
        rows_new = [facets[c] for c in new_rows[k]]
        upd = [c for kk, c in changed if kk == k]
        P = lat.pad[k]
        width = max([P.shape[1]] + [len(f) for f in rows_new] + [len(facets[c]) for c in upd])
        if width > P.shape[1]:
            P = np.concatenate([P, np.full((P.shape[0], width - P.shape[1]), -1, dtype=np.int64)], axis=1)
        for c in upd:
            r = lat.pos[c]
            P[r, :] = -1
            P[r, : len(facets[c])] = facets[c]
        if rows_new:
            P = np.concatenate([P, _padded(rows_new, width)], axis=0)
        lat.pad[k] = P
    lat.pos.extend([0] * (M - N))
    for k in range(lat.n + 1):
        for cid in new_rows[k]:
            lat.pos[cid] = len(lat.by_dim[k])
            lat.by_dim[k].append(cid)
    return len(parts)


class _Progress:
    def __init__(self, total: int, enabled: bool, what: str = "neurons") -> None:
        self.total = total
        self.what = what
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, cells: int, label: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.t0 < 1.0:  # short runs stay quiet
            return
        if done < self.total and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        width = 24
        filled = int(width * done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        msg = (f"exactcells: [{bar}] {done}/{self.total} {self.what} ({label}), "
               f"{cells} cells, {now - self.t0:.1f} s")
        if self.tty:
            sys.stderr.write("\r" + msg + ("\n" if done >= self.total else ""))
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()


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


def num_steps(net: Network, with_output: bool = False, refine: str | None = None) -> int:
    """Number of refinement steps of a build (one per cutting unit; one per max unit; the
    outputs: one per output for the zero refinement, one for the argmax refinement)."""
    return len(_schedule(net, output_refinement(net, with_output, refine)))


def _num_columns(net: Network, refine: str | None) -> int:
    return net.num_hidden + (net.output_dim if refine is not None else 0)


def _sublattice(lat: Lattice, cells: Sequence[int]) -> tuple[Lattice, list[int]]:
    """The sub-lattice on ``cells`` (closed under faces), renumbered by dimension, and the
    original id of each of its cells (vectorized: the facet lists are remapped as one array;
    vertex vectors are shared, never modified in place)."""
    ids = np.asarray(cells, dtype=np.int64)
    dims_all = np.asarray(lat.dim, dtype=np.int64)
    order_arr = ids[np.argsort(dims_all[ids], kind="stable")]
    order = order_arr.tolist()
    new = np.full(lat.num_cells(), -1, dtype=np.int64)
    new[order_arr] = np.arange(order_arr.size, dtype=np.int64)
    counts = np.fromiter((len(lat.facets[c]) for c in order), dtype=np.int64, count=len(order))
    flat = np.fromiter(itertools.chain.from_iterable(lat.facets[c] for c in order), dtype=np.int64,
                       count=int(counts.sum()))
    mapped = new[flat].tolist() if flat.size else []
    offs = np.concatenate(([0], np.cumsum(counts))).tolist()
    facets = [mapped[a:b] for a, b in zip(offs[:-1], offs[1:])]
    dims = dims_all[order_arr]
    sub = Lattice(lat.n, lat.ncut, dims.tolist(), facets, lat.sig[order].copy(), {},
                  [[] for _ in range(lat.n + 1)], [], [])
    bounds = np.searchsorted(dims, np.arange(lat.n + 2)).tolist()
    for k in range(lat.n + 1):
        sub.by_dim[k] = list(range(bounds[k], bounds[k + 1]))
    hv = lat.hv
    sub.hv = {i: hv[c] for i, c in enumerate(order[: bounds[1]])}
    sub.pos = (np.arange(len(order), dtype=np.int64) - np.asarray(bounds, dtype=np.int64)[dims]).tolist()
    sub.pad = [np.zeros((0, 0), dtype=np.int64)]
    for k in range(1, lat.n + 1):
        a, b = bounds[k], bounds[k + 1]
        cnt = counts[a:b]
        P = np.full((b - a, int(cnt.max()) if b > a else 0), -1, dtype=np.int64)
        if b > a and cnt.sum():
            rows = np.repeat(np.arange(b - a, dtype=np.int64), cnt)
            starts = np.repeat(np.asarray(offs[a:b], dtype=np.int64) - offs[a], cnt)
            cols = np.arange(int(cnt.sum()), dtype=np.int64) - starts
            P[rows, cols] = np.asarray(mapped[offs[a]:offs[b]], dtype=np.int64)
        sub.pad.append(P)
    return sub, order


def _closure(lat: Lattice, seeds: Sequence[int]) -> list[int]:
    seen = set(seeds)
    stack = list(seeds)
    while stack:
        for f in lat.facets[stack.pop()]:
            if f not in seen:
                seen.add(f)
                stack.append(f)
    return list(seen)


def _drop(lat: Lattice, dead: np.ndarray, add: Sequence[Sequence[int]] | None = None) -> None:
    """Take the cells marked in ``dead`` out of the complex (from ``by_dim``, the padded facet
    arrays and the vertex vectors; their ids stay unused) and list the new cells ``add[d]``
    (already created, with their facets). The remaining cells must be closed under faces."""
    n = lat.n
    M = lat.num_cells()
    dead = np.concatenate([dead, np.zeros(M - dead.size, dtype=bool)]) if dead.size < M else dead[:M]
    for v in lat.by_dim[0]:
        if dead[v]:
            lat.hv.pop(v, None)
    for d in range(n + 1):
        old = np.asarray(lat.by_dim[d], dtype=np.int64)
        stay = ~dead[old] if old.size else np.zeros(0, dtype=bool)
        extra = list(add[d]) if add is not None else []
        lat.by_dim[d] = old[stay].tolist() + extra
        if d == 0:
            continue
        P = lat.pad[d][stay]
        rows_new = [lat.facets[c] for c in extra]
        width = max([P.shape[1]] + [len(r) for r in rows_new])
        if width > P.shape[1]:
            P = np.concatenate([P, np.full((P.shape[0], width - P.shape[1]), -1, dtype=np.int64)], axis=1)
        if rows_new:
            P = np.concatenate([P, _padded(rows_new, width)], axis=0)
        lat.pad[d] = P
    pos = np.zeros(M, dtype=np.int64)
    for ids in lat.by_dim:
        pos[ids] = np.arange(len(ids), dtype=np.int64)
    lat.pos = pos.tolist()


def _argmax_refine(lat: Lattice, rows: Sequence[int], sig0: int) -> None:
    """Refine every cell of ``lat`` by the set of maximizers of the carried values ``rows``, in place.

    A cell of the result is a maximal convex set on which the argmax set of the values (which
    are affine on every current cell and share one integer scale) is constant; its sign entries
    are ``sign(z_j - max)`` (0 for a maximizer, -1 otherwise) in columns ``sig0 + j``.

    Class ``i`` is a *candidate* of a cell when for every ``j`` some vertex has ``z_i >= z_j``
    (necessary for ``i`` to attain the maximum somewhere in the closed cell; a face has no more
    candidates than its cell). A cell with one candidate (*settled*) has it as the strict
    maximum on its whole closure: it keeps its shape and only gets its entries. The cells with
    two or more candidates (*active*; their cofaces are active too) are replaced: for each class
    ``i``, the closure of the active cells with candidate ``i`` is copied, cut by every
    ``z_i - z_j`` in turn, and only the parts where ``z_i >= z_j`` are kept; what remains is the
    face lattice of ``{x : z_i(x) = max}`` there (docs/mathematics.md, Lemma 3). Its settled
    cells are the original ones (a settled cell survives only in the copy of its own winner,
    unsplit); its other cells are grafted into ``lat``, identified across classes by sign vector.
    """
    n = lat.n
    k = len(rows)
    cols = [n + r for r in rows]
    N = lat.num_cells()
    verts = lat.by_dim[0]
    vals = np.array([[lat.hv[v][c] for c in cols] for v in verts], dtype=object).reshape(len(verts), k)
    wide = k > 63
    dtype = object if wide else np.uint64
    one = 1 if wide else np.uint64(1)
    cand = np.zeros(N, dtype=dtype)
    for i in range(k):
        # bit j of a vertex: z_i >= z_j there; a cell's bits: the OR over its vertices
        vb = np.zeros(len(verts), dtype=dtype)
        for j in range(k):
            bit = one << (j if wide else np.uint64(j))
            if j == i:
                vb = vb | bit
            else:
                vb = vb | np.where(vals[:, i] >= vals[:, j], bit, 0).astype(dtype)
        bits = np.zeros(N + 1, dtype=dtype)
        bits[verts] = vb
        for d in range(1, n + 1):
            ids = lat.by_dim[d]
            if ids:
                bits[ids] = np.bitwise_or.reduce(bits[lat.pad[d]], axis=1)
        hit = bits[:N] == (((1 << k) - 1) if wide else np.uint64((1 << k) - 1))
        cand[hit] = cand[hit] | (one << (i if wide else np.uint64(i)))
    alive = np.zeros(N, dtype=bool)
    for ids in lat.by_dim:
        alive[ids] = True
    count = np.zeros(N, dtype=np.int64)
    for i in range(k):
        count += ((cand >> (i if wide else np.uint64(i))) & one).astype(np.int64)
    settled = alive & (count == 1)
    winner = np.full(N, -1, dtype=np.int64)
    for i in range(k):
        winner[settled & (((cand >> (i if wide else np.uint64(i))) & one) != 0)] = i
    sel = np.flatnonzero(settled)
    for j in range(k):
        lat.sig[sel, sig0 + j] = np.where(winner[sel] == j, 1, 0)
    active = alive & (count >= 2)
    if not active.any():
        return
    act_ids = np.flatnonzero(active)
    new_key: dict[bytes, int] = {}
    new_rows: list[np.ndarray] = []
    new_by_dim: list[list[int]] = [[] for _ in range(n + 1)]
    for i in range(k):
        ibit = one << (i if wide else np.uint64(i))
        seeds = act_ids[(cand[act_ids] & ibit) != 0].tolist()
        if not seeds:
            continue
        L, orig = _sublattice(lat, _closure(lat, seeds))
        for j in range(k):
            if j == i:
                continue
            _cut(L, cols[i], sig0 + j, minus=cols[j])
            _drop(L, L.sig[: L.num_cells(), sig0 + j] == 0)  # the parts where z_i < z_j
            if L.live_cells() == 0:
                break
        M = L.num_cells()
        if L.live_cells() == 0:
            continue
        orig.extend([-1] * (M - len(orig)))
        for j in range(k):  # code of sign(z_j - max): '+' of z_i - z_j is '-', '0' stays '0'
            L.sig[:M, sig0 + j] = 2 - L.sig[:M, sig0 + j] if j != i else 1
        gid = [0] * M
        for d in range(n + 1):
            for c in L.by_dim[d]:
                o = orig[c]
                if o >= 0 and settled[o]:
                    gid[c] = o
                    continue
                key = L.sig[c].tobytes()
                g = new_key.get(key)
                if g is None:
                    g = lat.new_cell(d, [gid[f] for f in L.facets[c]])
                    new_key[key] = g
                    new_rows.append(L.sig[c])
                    new_by_dim[d].append(g)
                    if c in L.hv:
                        lat.hv[g] = L.hv[c]
                gid[c] = g
    # the new cells' sign rows; the active cells leave (their faces that stay are settled)
    M = lat.num_cells()
    lat.reserve(M)
    if new_rows:
        lat.sig[N:M] = np.array(new_rows, dtype=np.int8)
    _drop(lat, active, new_by_dim)


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
    ints = net.integer_layers()
    stages = net.integer_stages()
    sched = _schedule(net, refine_output)
    stop = len(sched) if stop is None else stop
    bar = _Progress(stop - start, progress)
    n = lat.n
    current_layer = sched[start - 1].layer if start > 0 else -1
    for i in range(start, stop):
        item = sched[i]
        while current_layer < item.layer:
            current_layer += 1
            W, b = ints[current_layer]
            plain_prev = current_layer == 0 or net.layers[current_layer - 1].units is None
            _transition(lat, W, b, first=current_layer == 0,
                        stage=None if plain_prev else stages[current_layer - 1])
        if item.kind == "cut":
            _cut(lat, n + item.rows[0], item.sig)
        else:
            _argmax_refine(lat, item.rows, item.sig)
        if max_cells is not None and lat.live_cells() > max_cells:
            raise CellLimitExceeded(
                f"stopped after {i + 1} of {len(sched)} steps: the complex has "
                f"{lat.live_cells()} cells already, more than max_cells = {max_cells}"
            )
        bar.update(i + 1 - start, lat.live_cells(), f"layer {item.layer}")
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
        units (one per region of the first layer) run in that many processes and merged by sign
        vector (:func:`build_complex_by_units`); the result is identical.

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
    lat = domain_lattice(domain, _num_columns(net, ro))
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
    lat = lat.compact()
    N = lat.num_cells()
    n = lat.n
    nh = net.num_hidden
    m = domain.num_facets
    nc = lat.ncut
    K = nc + m
    cols = list(range(nh)) + list(range(nc, nc + m)) + list(range(nh, nc))
    signs = lat.sig[:N][:, cols] - np.int8(1)
    dims = np.asarray(lat.dim, dtype=np.int8)
    order = np.lexsort(tuple(signs[:, k] for k in range(K - 1, -1, -1)) + (dims,))
    new_id = np.empty(N, dtype=np.int64)
    new_id[order] = np.arange(N, dtype=np.int64)
    counts = np.fromiter(map(len, lat.facets), dtype=np.int64, count=N)
    total = int(counts.sum())
    flat = np.fromiter(itertools.chain.from_iterable(lat.facets), dtype=np.int64, count=total)
    owners = new_id[np.repeat(np.arange(N, dtype=np.int64), counts)]
    indices = new_id[flat] if total else flat
    perm = np.lexsort((indices, owners))
    indices = indices[perm]
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners, minlength=N), out=indptr[1:])
    f0 = int(np.count_nonzero(dims == 0))
    verts = []
    for c in order[:f0]:
        h = lat.hv[int(c)]
        v = h[:n] + [h[-1]]
        g = math.gcd(*v)
        verts.append(tuple(e // g for e in v))
    return PolyhedralComplex(
        network=net,
        domain=domain,
        with_output=refine is not None,
        output_refinement=refine,
        dims=dims[order],
        signs=signs[order],
        facet_indptr=indptr,
        facet_indices=indices,
        vertex_coords=tuple(verts),
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
    lat = domain_lattice(domain, _num_columns(net, ro))
    _check_limit(lat.num_cells(), max_cells, "the domain's face lattice has")
    _refine(lat, net, ro, 0, start, max_cells=max_cells)
    return [WorkUnit(start, _closure_lattice(lat, top)) for top in lat.by_dim[lat.n]]


def _closure_lattice(lat: Lattice, top: int) -> Lattice:
    """The face lattice of the closure of cell ``top``, renumbered."""
    return _sublattice(lat, _closure(lat, [top]))[0]


def refine_unit(
    unit: WorkUnit, net: Network, with_output: bool = False, refine: str | None = None,
    max_cells: int | None = None,
) -> Lattice:
    """Refine one unit by the remaining steps (independent of every other unit).

    A unit's cells are distinct cells of the whole complex, so a unit above ``max_cells`` stops
    the build (:class:`~exactcells.errors.CellLimitExceeded`).
    """
    src = unit.lattice
    lat = Lattice(src.n, src.ncut, list(src.dim), [list(f) for f in src.facets], src.sig.copy(),
                  {k: list(v) for k, v in src.hv.items()}, [list(x) for x in src.by_dim], [], [])
    lat.rebuild_pad()
    return _refine(lat, net, output_refinement(net, with_output, refine), unit.start, max_cells=max_cells)


_WORKER_ARGS: tuple[Network, bool, str | None, int | None] | None = None  # set once in every pool worker


def _init_worker(net: Network, with_output: bool, refine: str | None, max_cells: int | None) -> None:
    global _WORKER_ARGS
    _WORKER_ARGS = (net, with_output, refine, max_cells)


def _refine_unit_task(unit: WorkUnit) -> Lattice:
    """:func:`refine_unit` in a pool worker (the network was sent once, by :func:`_init_worker`)."""
    assert _WORKER_ARGS is not None
    return refine_unit(unit, *_WORKER_ARGS)


class _Merger:
    """Merges refined units one by one, identifying cells by their sign vectors; ``num_cells``
    is at every moment the number of distinct cells of the complex found so far."""

    def __init__(self, n: int, ncut: int, width: int) -> None:
        self.key_to_id: dict[bytes, int] = {}
        self.rows: list[np.ndarray] = []
        self.width = width
        self.out = Lattice(n, ncut, [], [], np.zeros((0, width), dtype=np.int8), {},
                           [[] for _ in range(n + 1)], [], [])

    @property
    def num_cells(self) -> int:
        return len(self.rows)

    def add(self, part: Lattice) -> None:
        out, key_to_id = self.out, self.key_to_id
        local: dict[int, int] = {}
        sig = part.sig
        for k in range(out.n + 1):
            for c in part.by_dim[k]:
                key = sig[c].tobytes()
                gid = key_to_id.get(key)
                if gid is None:
                    gid = out.new_cell(k, [local[f] for f in part.facets[c]])
                    key_to_id[key] = gid
                    self.rows.append(sig[c])
                    out.by_dim[k].append(gid)
                    if c in part.hv:
                        out.hv[gid] = part.hv[c]
                local[c] = gid

    def finish(self) -> Lattice:
        self.out.sig = np.array(self.rows, dtype=np.int8).reshape(len(self.rows), self.width)
        self.out.rebuild_pad()
        return self.out


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
    is refined separately, in ``jobs`` processes, and the parts are merged by sign vector as
    they finish. ``max_cells`` is checked while planning, inside every unit and on the merged
    count after every unit: beyond it the pool is terminated and
    :class:`~exactcells.errors.CellLimitExceeded` raised at once.
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
    bar = _Progress(len(units), progress, "units")

    def take(i: int, part: Lattice) -> None:
        merger.add(part)
        _check_limit(merger.num_cells, max_cells, f"after {i} of {len(units)} units the complex has")
        bar.update(i, merger.num_cells, "merged")

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
    lat = merger.finish()
    return _assemble(lat, net, domain, ro, time.perf_counter() - t0)
