"""Scale-out on ``dask.distributed``: the one execution layer for builds on several processes.

:func:`cluster` gives a :class:`distributed.Client`: a local cluster of ``jobs`` worker
processes (one thread each), or a running cluster (``dask scheduler`` plus ``dask worker``
processes) at a given address. :func:`build_on_cluster` runs the build as Dask tasks:

1. **Units** (in the client, a short one-process pass): the closures of the regions after the
   first few neurons (enough for the tasks wanted, at most the first layer); while one is much
   larger than the rest, it is refined by one more step and split into the closures of its
   regions (:func:`plan_balanced_units`). Every later cut of a
   cell depends only on that cell's closure, so each unit refines independently and every cell
   of a refined unit is a cell of the whole complex (docs/mathematics.md, "Independent units").
2. **Unit tasks**: a batch of units is refined on a worker, merged locally by sign vector, and
   its cells are split into ``partitions`` pieces by :func:`exactcells.shards.partition_of`
   (a fixed hash of the sign vector). Facets are named by their sign vectors.
3. **Partition tasks**: partition ``p`` merges the ``p``-th pieces of every unit task (cells
   shared by several units have equal sign vectors and equal faces: they are kept once) and
   sorts them canonically. Facet references are resolved to ``(shard, local index)`` by a
   request/answer exchange between partitions, so no task ever holds more than one partition
   plus the keys it asks about: no process holds the whole complex.
4. The shards are written by the workers (``out=DIR``, a directory every worker can reach) or
   gathered into one :class:`~exactcells.complex.PolyhedralComplex` in the client.

The result does not depend on the number of workers, the units, the batches or the order in
which tasks finish: the gathered complex is byte-identical to :func:`exactcells.build_complex`,
and the shard files to :func:`exactcells.shards.write_shards` of it. A worker lost in the middle
is handled by Dask (its tasks are recomputed elsewhere). ``max_cells`` is exact: every unit
counts the cells in the relative interior of its top cell, which no other unit has; their sum
only grows as units finish and is a lower bound of the total, so the build stops as soon as it
passes ``max_cells`` (and otherwise the final count decides), exactly when the one-process
build stops.
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .build import (
    Lattice,
    WorkUnit,
    _check_domain,
    _closure_lattice,
    _num_columns,
    _refine,
    _schedule,
    domain_lattice,
    output_refinement,
)
from .complex import PolyhedralComplex
from .domain import Domain
from .errors import CellLimitExceeded, DependencyMissingError, InvalidArgumentError
from .network import Network
from .processes import single_threaded_children
from .shards import (
    Fetched,
    Shard,
    ShardedComplex,
    add_volumes,
    check_out_dir,
    closure_volume,
    fetch_cells,
    fetch_requests,
    gather_shards,
    load_shard,
    load_sharded,
    partition_of,
    range_splitters,
    range_volume,
    shard_filename,
    top_requests,
    top_sample,
    write_index,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["cluster", "build_on_cluster", "certify_on_cluster", "plan_balanced_units", "DEFAULT_PARTITIONS",
           "AUTO_DASK_BYTES", "estimate_cells", "estimate_memory", "auto_jobs"]

DEFAULT_PARTITIONS = 8


#: the automatic choice (``--jobs auto``, the CLI's default) uses Dask from this expected
#: one-process memory on (or half the machine's memory, if that is less)
AUTO_DASK_BYTES = 6 * 2**30
#: and then at most this many local workers
AUTO_MAX_WORKERS = 8
#: bytes per cell and per sign-vector entry of a one-process build (measured: 15 on 3-48-48-1,
#: 1.6 GiB for 1.12 million cells of 102 entries; 21 on 2-256-256-1, 4.6 GiB)
BYTES_PER_SIGN_ENTRY = 20


def estimate_cells(net: Network, dim: int, with_output: bool = False, refine: str | None = None) -> int:
    """A quick estimate of the number of cells of ``net``'s complex in ``dim`` dimensions.

    The number of faces of all dimensions of a simple arrangement of ``N`` hyperplanes in
    ``R^dim`` (Buck): ``sum_{j <= dim} C(N, j) 2^j``, with ``N`` the hidden sign entries (plus
    the output's boundaries with ``with_output``: one per output for the zero refinement, one per
    pair for argmax). Exact for one hidden layer in general position on all of ``R^dim``; on the
    benchmark networks of two hidden layers it is within 25% of the true count (3-48-48-1: 1.16
    million for 1.12 million cells); it over-estimates deep, narrow networks (3x on
    4-10-10-10-1) and degenerate ones (parallel or dead neurons), and ignores the domain's own
    facets. No geometry is computed.
    """
    N = net.num_hidden + _output_entries(net, with_output, refine)
    return sum(math.comb(N, j) * 2**j for j in range(dim + 1))


def _output_entries(net: Network, with_output: bool, refine: str | None) -> int:
    if not (with_output or refine is not None):
        return 0
    m = net.output_dim
    return m * (m - 1) // 2 if (refine == "argmax" or (refine is None and m > 1)) else m


def estimate_memory(cells: int, net: Network, dim: int, with_output: bool = False,
                    refine: str | None = None) -> int:
    """Expected peak bytes of a one-process build of ``cells`` cells:
    ``cells * BYTES_PER_SIGN_ENTRY * width``, the width being the sign vector's (hidden entries,
    the box's ``2 dim`` facets, the output's entries)."""
    width = net.num_hidden + 2 * dim + _output_entries(net, with_output, refine)
    return cells * BYTES_PER_SIGN_ENTRY * width


def auto_jobs(estimated_cells: int, estimated_bytes: int, cores: int, memory: int | None = None,
              max_cells: int | None = None) -> int:
    """The number of worker processes for ``--jobs auto``: 1 (one process, no Dask) for small
    work, else a local Dask cluster of ``min(cores, AUTO_MAX_WORKERS)`` workers.

    The rule: Dask when the one-process build is expected to need at least
    ``min(AUTO_DASK_BYTES, memory / 2)`` (6 GiB, or half the machine's ``memory``) and there are
    at least 2 cores; ``max_cells`` caps the expected size (the build stops there). Below that
    one process is faster (no cluster start-up, no data moved between processes) and fits."""
    need = estimated_bytes
    if max_cells is not None and estimated_cells > max_cells + 1:
        need = estimated_bytes * (max_cells + 1) // max(estimated_cells, 1)
    limit = AUTO_DASK_BYTES if memory is None else min(AUTO_DASK_BYTES, memory // 2)
    if need < limit or cores < 2:
        return 1
    return min(cores, AUTO_MAX_WORKERS)


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (``None`` if unknown)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        raise DependencyMissingError(
            "running on several processes needs dask.distributed: pip install 'dask[distributed]'"
        ) from e


@contextlib.contextmanager
def cluster(jobs: int = 2, scheduler: str | None = None, *, announce: bool = True) -> Iterator[Client]:
    """A Dask client: on a running cluster at ``scheduler``, else on a local cluster of ``jobs``
    worker processes (127.0.0.1 only, one thread each). The dashboard's address goes to stderr."""
    _require_distributed()
    from distributed import Client, LocalCluster

    if scheduler is None and jobs < 1:
        raise InvalidArgumentError(f"jobs must be at least 1, got {jobs}")
    local: Any = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InvalidArgumentError(f"cannot connect to the Dask scheduler at {scheduler}: {e}") from None
    else:
        # silence_logs: a failed task's exception (e.g. a FormatError naming a damaged shard)
        # reaches the client, which raises it; the workers' error log would repeat it with a traceback
        with single_threaded_children():
            local = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
        client = Client(local)
    try:
        if announce:
            nw = len(client.scheduler_info().get("workers", {}))
            sys.stderr.write(f"exactcells: dask scheduler {client.scheduler.address} with {nw} "
                             f"worker(s); dashboard {client.dashboard_link}\n")
            sys.stderr.flush()
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def _workers(client: Client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


# -- units --------------------------------------------------------------------------------

def _copy(lat: Lattice) -> Lattice:
    return lat.detach()


def _live(L: Lattice) -> Lattice:
    """``L`` without cells the engine dropped but did not yet remove (an engine whose argmax
    refinement drops cells in place has ``Lattice.compact``; this one has none)."""
    compact = getattr(L, "compact", None)
    return compact() if compact is not None else L


def _split_unit(unit: WorkUnit, net: Network, ro: str | None) -> list[WorkUnit]:
    lat = _live(_refine(_copy(unit.lattice), net, ro, unit.start, unit.start + 1))
    return [WorkUnit(unit.start + 1, _closure_lattice(lat, top)) for top in lat.by_dim[lat.n]]


def plan_balanced_units(net: Network, domain: Domain, refine: str | None, min_units: int,
                        max_splits: int = 256) -> list[WorkUnit]:
    """Independent units for about ``min_units`` tasks: the closed regions after the fewest
    first steps that give at least ``min_units`` of them (whole first layer at most); then, while
    one unit is much larger (in cells) than the mean, the largest is refined by one more step and
    replaced by the closures of its regions.

    Few large units are much cheaper than many small ones: every unit pays a fixed cost per
    remaining step (profiled: with one unit per first-layer region, the units' total work was
    4.5 times the one-process build on 3-16-16-1)."""
    sched = _schedule(net, refine)
    total = len(sched)
    first = sum(1 for item in sched if item.layer == 0) if len(net.layers) > 1 else 0
    lat = domain_lattice(domain, _num_columns(net, refine), net)
    start = 0
    while start < first and len(lat.by_dim[lat.n]) < min_units:
        _refine(lat, net, refine, start, start + 1)
        start += 1
    units = [WorkUnit(start, _closure_lattice(lat, top)) for top in lat.by_dim[lat.n]]
    for _ in range(max_splits):
        sizes = [u.lattice.num_cells() if u.start < total else -1 for u in units]
        big = int(np.argmax(sizes))
        if sizes[big] < 0:
            break
        mean = sum(max(x, 0) for x in sizes) / len(sizes)
        if len(units) >= min_units and sizes[big] <= 4 * mean:
            break
        units[big : big + 1] = _split_unit(units[big], net, refine)
    return units


def _batches(units: Sequence[WorkUnit], count: int) -> list[list[WorkUnit]]:
    """Contiguous batches of roughly equal size (in cells of the units)."""
    count = max(1, min(count, len(units)))
    cost = np.cumsum([u.lattice.num_cells() for u in units], dtype=np.float64)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, count) / count, side="left")
    out: list[list[WorkUnit]] = []
    a = 0
    for c in list(cuts.tolist()) + [len(units)]:
        b = max(int(c), a + 1) if c < len(units) else len(units)
        if b > a:
            out.append(list(units[a:b]))
            a = b
    return out


# -- tasks (run on the workers) -----------------------------------------------------------

def _planning_columns(net: Network, refine: str | None, start: int, ncut: int, m: int) -> list[int]:
    cols: list[int] = []
    for item in _schedule(net, refine)[:start]:
        cols.extend(range(item.sig, item.sig + (len(item.rows) if item.kind == "max" else 1)))
    return cols + list(range(ncut, ncut + m))


def _canonical_columns(net: Network, ncut: int, m: int) -> list[int]:
    nh = net.num_hidden
    return list(range(nh)) + list(range(ncut, ncut + m)) + list(range(nh, ncut))


Piece = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[int, ...]]]


def _pack(signs: np.ndarray) -> np.ndarray:
    """Sign vectors packed 2 bits per entry, ``s + 1`` in {0, 1, 2}, four entries per byte, the
    first in the high bits (padding 0): byte order of the packed rows is the canonical order of
    the sign vectors, and equal rows are equal sign vectors. A quarter of the int8 rows."""
    N, w = signs.shape
    wb = (w + 3) // 4
    codes = np.zeros((N, 4 * wb), dtype=np.uint8)
    codes[:, :w] = signs.astype(np.int16) + 1
    c = codes.reshape(N, wb, 4)
    return (c[:, :, 0] << 6) | (c[:, :, 1] << 4) | (c[:, :, 2] << 2) | c[:, :, 3]


def _unpack(packed: np.ndarray, w: int) -> np.ndarray:
    """The int8 sign vectors of :func:`_pack`'s rows."""
    N, wb = packed.shape
    codes = np.empty((N, wb, 4), dtype=np.uint8)
    for k in range(4):
        codes[:, :, k] = (packed >> (6 - 2 * k)) & 3
    return (codes.reshape(N, 4 * wb)[:, :w].astype(np.int8) - np.int8(1)).astype(np.int8)


def _unit_task(units: Sequence[WorkUnit], net: Network, refine: str | None, m: int, partitions: int,
               max_cells: int | None) -> dict[str, Any]:
    """Refine a batch of units; return its cells split into ``partitions`` pieces and the number
    of cells in the relative interiors of the units' top cells (no other unit has them)."""
    t0 = time.perf_counter()
    parts: list[Lattice] = []
    interior = 0
    for u in units:
        try:
            lat = _live(_refine(_copy(u.lattice), net, refine, u.start, max_cells=max_cells))
        except CellLimitExceeded:
            raise CellLimitExceeded(f"one unit of the complex alone has more than max_cells = {max_cells} "
                                    "cells (stopped while cutting it by the neurons)") from None
        cols = _planning_columns(net, refine, u.start, lat.ncut, m)
        top = u.lattice.sig[u.lattice.by_dim[lat.n][0], cols]
        interior += int(np.count_nonzero(np.all(lat.sig[: lat.num_cells(), cols] == top, axis=1)))
        parts.append(lat)
    cells = sum(L.num_cells() for L in parts)
    # no local merge: the partition tasks drop the duplicates (cheaper than merge_units here)
    pieces: list[list[Piece]] = [[] for _ in range(partitions)]
    while parts:
        L = parts.pop(0)
        for p, piece in enumerate(_lattice_pieces(L, net, m, partitions)):
            if piece[0].shape[0]:
                pieces[p].append(piece)
        del L
    return {"pieces": pieces, "interior": interior, "seconds": time.perf_counter() - t0,
            "cells": cells, "units": len(units)}


def _lattice_pieces(L: Lattice, net: Network, m: int, partitions: int) -> list[Piece]:
    """The cells of a refined unit split by partition, facets named by their packed sign
    vectors (:func:`_pack`) and their partitions."""
    N = L.num_cells()
    signs = L.sig[:N][:, _canonical_columns(net, L.ncut, m)] - np.int8(1)
    dims = np.asarray(L.dim, dtype=np.int8)
    part = partition_of(signs, partitions)
    packed = _pack(signs)
    del signs
    starts, flat = L.facet_csr()
    counts = np.diff(starts)
    pieces: list[Piece] = []
    for p in range(partitions):
        ids = np.flatnonzero(part == p)
        c = counts[ids]
        ptr = np.zeros(ids.shape[0] + 1, dtype=np.int64)
        np.cumsum(c, out=ptr[1:])
        pos = np.repeat(starts[ids], c) + (np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], c))
        vid = ids[dims[ids] == 0]
        verts = L.vertex_coords(vid.tolist())
        fac = flat[pos]
        pieces.append((dims[ids], packed[ids], ptr, packed[fac], part[fac].astype(np.int32),
                       np.searchsorted(ids, vid), verts))
    return pieces


def _stats(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("interior", "seconds", "cells", "units")}


def _piece(r: dict[str, Any], p: int) -> list[Piece]:
    return r["pieces"][p]


def _void(a: np.ndarray) -> np.ndarray:
    """Rows of a uint8 matrix as one opaque value each: numpy compares them as bytes (memcmp)."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return a.view(np.dtype((np.void, max(a.shape[1], 1)))).reshape(a.shape[0]) if a.shape[1] else \
        np.zeros(a.shape[0], dtype=np.dtype((np.void, 1)))


def _merge_partition(partitions: int, width: int, *lists: list[Piece]) -> dict[str, Any]:
    """Merge the pieces of one partition: distinct cells in canonical order, facets by key.

    Sorting and deduplication run on byte strings ``(dim, packed sign vector)``, whose byte
    order is the canonical order; the first copy of a cell is kept (all copies are equal)."""
    wb = (width + 3) // 4
    pieces = [pc for lst in lists for pc in lst]
    if not pieces:
        z8 = np.zeros((0, wb), np.uint8)
        return {"dims": np.zeros(0, np.int8), "signs": z8, "ptr": np.zeros(1, np.int64), "fkeys": z8,
                "fpart": np.zeros(0, np.int32), "verts": [], "requests": [z8] * partitions, "width": width}
    dims = np.concatenate([pc[0] for pc in pieces])
    signs = np.concatenate([pc[1] for pc in pieces]).reshape(-1, wb)
    counts = np.concatenate([np.diff(pc[2]) for pc in pieces])
    offs = np.cumsum([0] + [pc[0].shape[0] for pc in pieces])
    vrows = np.concatenate([pc[5] + o for pc, o in zip(pieces, offs[:-1])]).astype(np.int64)
    vco = [co for pc in pieces for co in pc[6]]
    M = dims.shape[0]
    start = np.zeros(M + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    keyb = np.empty((M, wb + 1), dtype=np.uint8)
    keyb[:, 0] = dims.astype(np.uint8)
    keyb[:, 1:] = signs
    order = np.argsort(_void(keyb), kind="stable")
    ks = keyb[order]
    del keyb
    first = np.ones(M, dtype=bool)
    first[1:] = (ks[1:] != ks[:-1]).any(axis=1)
    del ks
    keep = order[first]
    dims, signs = dims[keep], signs[keep]
    c = counts[keep]
    K = keep.shape[0]
    ptr = np.zeros(K + 1, dtype=np.int64)
    np.cumsum(c, out=ptr[1:])
    F = int(ptr[-1])
    pos = np.repeat(start[keep], c) + (np.arange(F, dtype=np.int64) - np.repeat(ptr[:-1], c))
    fkeys = np.concatenate([pc[3] for pc in pieces]).reshape(-1, wb)
    fk = fkeys[pos]
    del fkeys
    fpart = np.concatenate([pc[4] for pc in pieces])[pos]
    del pieces, pos
    # the facets of each cell in canonical order (one dimension: by sign vector)
    fb = np.empty((F, 8 + wb), dtype=np.uint8)
    fb[:, :8] = np.repeat(np.arange(K, dtype=">i8"), c).view(np.uint8).reshape(F, 8)
    fb[:, 8:] = fk
    fo = np.argsort(_void(fb), kind="stable")
    del fb
    fk, fpart = fk[fo], fpart[fo]
    f0 = int(np.count_nonzero(dims == 0))
    vmap = dict(zip(vrows.tolist(), vco))
    requests = []
    for q in range(partitions):
        sel = fk[fpart == q]
        u = np.unique(_void(sel)) if sel.shape[0] else _void(sel)
        requests.append(np.frombuffer(u.tobytes(), dtype=np.uint8).reshape(-1, wb))
    return {"dims": dims, "signs": signs, "ptr": ptr, "fkeys": fk, "fpart": fpart,
            "verts": [vmap[r] for r in keep[:f0].tolist()], "requests": requests, "width": width}


def _request(merged: dict[str, Any], q: int) -> np.ndarray:
    return merged["requests"][q]


def _lookup(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row index in ``table`` of every row of ``queries`` (packed rows, all present)."""
    if not queries.shape[0]:
        return np.zeros(0, dtype=np.int64)
    if not table.shape[0]:
        raise RuntimeError("a facet is missing from its partition (internal error)")
    tv = _void(table)
    qv = _void(queries)
    order = np.argsort(tv, kind="stable")
    found = order[np.minimum(np.searchsorted(tv[order], qv), len(order) - 1)]
    if not (tv[found] == qv).all():
        raise RuntimeError("a facet is missing from its partition (internal error)")
    return found.astype(np.int64)


def _answer(merged: dict[str, Any], *requests: np.ndarray) -> list[np.ndarray]:
    """The local indices, in this partition, of the sign vectors other partitions ask about."""
    return [_lookup(merged["signs"], r) for r in requests]


def _finalize(merged: dict[str, Any], *answers: np.ndarray) -> Shard:
    fk, fpart = merged["fkeys"], merged["fpart"]
    local = np.empty(fk.shape[0], dtype=np.int64)
    for q, ans in enumerate(answers):
        sel = np.flatnonzero(fpart == q)
        if sel.size:
            local[sel] = ans[_lookup(merged["requests"][q], fk[sel])]
    return Shard(merged["dims"], _unpack(merged["signs"], merged["width"]), merged["ptr"],
                 fpart.astype(np.int32), local, tuple(merged["verts"]))


def _shard_cells(shard: Shard) -> int:
    return shard.num_cells


def _write_shard(shard: Shard, path: str, p: int, partitions: int, n: int) -> tuple[int, ...]:
    shard.save(Path(path) / shard_filename(p), p, partitions, force=True)
    return shard.f_vector(n)


# -- the build ------------------------------------------------------------------------------

def build_on_cluster(
    net: Network,
    domain: Domain | None = None,
    *,
    client: Client,
    with_output: bool = False,
    refine: str | None = None,
    max_cells: int | None = None,
    partitions: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: bool = False,
    tasks_per_worker: int = 4,
    task_stats: list[dict[str, Any]] | None = None,
) -> PolyhedralComplex | ShardedComplex:
    """The complex of ``net`` on ``domain``, computed as Dask tasks on ``client``'s cluster.

    Without ``out`` the shards are gathered into one :class:`PolyhedralComplex`, identical to
    :func:`exactcells.build_complex`'s. With ``out`` the workers write the shards into that
    directory (which they must all reach), the client writes the index last, and the result is
    the lazily opened :class:`~exactcells.shards.ShardedComplex`. ``task_stats``, when given,
    receives one record per unit task (its seconds, cells, units and interior cells).
    ``partitions``: the shards of ``out`` (default :data:`DEFAULT_PARTITIONS`); without ``out``
    only an internal choice (default: one per worker; the result is the same for every value).
    """
    if domain is None:
        domain = Domain.box(net.input_dim)
    _check_domain(net, domain)
    if partitions is not None and partitions < 1:
        raise InvalidArgumentError(f"partitions must be at least 1, got {partitions}")
    if max_cells is not None and max_cells < 0:
        raise InvalidArgumentError(f"max_cells must be non-negative, got {max_cells}")
    if out is not None:
        check_out_dir(Path(out), force)
    from distributed import as_completed

    t0 = time.perf_counter()
    ro = output_refinement(net, with_output, refine)
    W = _workers(client)
    units = plan_balanced_units(net, domain, ro, min_units=W * tasks_per_worker)
    batches = _batches(units, W * tasks_per_worker)
    P = partitions if partitions is not None else (DEFAULT_PARTITIONS if out is not None else W)
    m = domain.num_facets
    tag = uuid.uuid4().hex[:12]
    [net_f] = client.scatter([net], broadcast=True, hash=False)
    unit_f = [client.submit(_unit_task, b, net_f, ro, m, P, max_cells, key=f"ec-unit-{tag}-{i}")
              for i, b in enumerate(batches)]
    count_f = [client.submit(_stats, f, key=f"ec-count-{tag}-{i}") for i, f in enumerate(unit_f)]
    piece_f = [[client.submit(_piece, f, p, key=f"ec-piece-{tag}-{i}-{p}") for p in range(P)]
               for i, f in enumerate(unit_f)]
    width = net.num_hidden + m + (net.output_dim if ro is not None else 0)
    merged_f = [client.submit(_merge_partition, P, width, *[pf[p] for pf in piece_f], key=f"ec-merge-{tag}-{p}")
                for p in range(P)]
    req_f = [[client.submit(_request, merged_f[p], q, key=f"ec-req-{tag}-{p}-{q}") for q in range(P)]
             for p in range(P)]
    ans_f = [client.submit(_answer, merged_f[q], *[req_f[p][q] for p in range(P)], key=f"ec-ans-{tag}-{q}")
             for q in range(P)]
    ans_pq = [[client.submit(operator.getitem, ans_f[q], p, key=f"ec-ansp-{tag}-{q}-{p}") for q in range(P)]
              for p in range(P)]
    shard_f = [client.submit(_finalize, merged_f[p], *ans_pq[p], key=f"ec-shard-{tag}-{p}") for p in range(P)]
    size_f = [client.submit(_shard_cells, f, key=f"ec-size-{tag}-{p}") for p, f in enumerate(shard_f)]
    del piece_f, merged_f, req_f, ans_f, ans_pq, unit_f
    everything: list[Any] = shard_f + size_f + count_f
    try:
        interior = 0
        done = 0
        for f in as_completed(count_f):
            st = f.result()
            if task_stats is not None:
                task_stats.append(st)
            interior += st["interior"]
            done += 1
            if max_cells is not None and interior > max_cells:
                raise CellLimitExceeded(
                    f"stopped after {done} of {len(count_f)} units (batches of regions, one task each): "
                    f"the complex has at least "
                    f"{interior} cells, more than max_cells = {max_cells}")
            if progress:
                sys.stderr.write(f"exactcells: {done}/{len(count_f)} unit tasks, "
                                 f"{time.perf_counter() - t0:.1f} s\n")
        total = sum(client.gather(size_f))
        if max_cells is not None and total > max_cells:  # decided before anything is written
            raise CellLimitExceeded(f"the complex has {total} cells, more than max_cells = {max_cells}")
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            write_f = [client.submit(_write_shard, sf, str(out), p, P, domain.dim, key=f"ec-write-{tag}-{p}")
                       for p, sf in enumerate(shard_f)]
            everything += write_f
            results = client.gather(write_f)
        else:
            results = client.gather(shard_f)
    except BaseException:
        client.cancel(everything)
        raise
    seconds = time.perf_counter() - t0
    if out is not None:
        write_index(out, net, domain, ro, [tuple(int(x) for x in r) for r in results], force=force)
        return load_sharded(out)
    return gather_shards(results, net, domain, ro, seconds)


def _walls_to(r: dict[str, Any], q: int) -> tuple[np.ndarray, np.ndarray]:
    return r["walls"][q]


def _without_walls(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("walls", "requests")}


def _requests_to(r: dict[str, Any], q: int) -> np.ndarray:
    return r["requests"][q]


def _top_task(path: str, p: int) -> list[np.ndarray]:
    S = load_sharded(path, cache=1)
    return top_requests(S.shard(p), p, S.partitions, S.input_dim)


def _fetch_task(path: str, q: int, *requests: np.ndarray) -> list[Fetched]:
    """Shard ``q``'s answers to every shard's requests of one round (the shard loaded once)."""
    S = load_sharded(path, cache=1)
    P = S.partitions
    if not any(r.size for r in requests):
        w = S.shard_width
        empty: Fetched = {"ids": np.zeros(0, np.int64), "dims": np.zeros(0, np.int8),
                          "signs": np.zeros((0, w), np.int8), "ptr": np.zeros(1, np.int64),
                          "facets": np.zeros(0, np.int64), "coords": []}
        return [empty] * len(requests)
    f0 = S.shard_f_vectors()[q][0]  # the vertices come first: read their coordinates only if asked
    s = load_shard(S.path / shard_filename(q), q, P, S.shard_width, S.input_dim,
                   vertices=any(bool(r.size) and int(r.min()) < f0 for r in requests))
    return [fetch_cells(s, q, P, r) for r in requests]


def _closure_volume_task(path: str, p: int, splitters: np.ndarray, *fetched: Fetched) -> dict[str, Any]:
    S = load_sharded(path, cache=1)
    return closure_volume(S.network, S.domain, S.output_refinement, p, splitters, *fetched)


def _sample_task(path: str, p: int) -> np.ndarray:
    S = load_sharded(path, cache=1)
    s = load_shard(S.path / shard_filename(p), p, S.partitions, S.shard_width, S.input_dim, vertices=False)
    return top_sample(s, S.input_dim)


def _range_piece(r: dict[str, Any], k: int) -> tuple[np.ndarray, list[int], list[int]]:
    return r["pieces"][k]


def _without_pieces(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "pieces"}


def certify_on_cluster(path: str | Path, client: Client, volumes: bool = True) -> dict[str, Any]:
    """The per-shard certificate of a sharded complex (:func:`exactcells.shards.certify_shards`)
    as Dask tasks: one check per shard (its keys, vertices, facet links and joins), one wall and
    cofacet count per shard fed by every shard's facet references into it, one interval check per
    shard fed by the facet lists of its cells' facets (one task per shard answers every shard's
    requests), the f-vector and Euler characteristic reduced exactly in the client. With ``volumes``, the
    closure of every shard's top cells is fetched level by level (one task per shard and level
    answers every shard's requests), one task per shard computes its regions' exact volumes on
    that closure and splits them by ranges of the canonical order (splitters sampled from every
    shard), one task per range sums them exactly in canonical order, and the ranges' sums are
    added pairwise, in order, as a tree of tasks; the total must be the domain's volume. Nothing
    is gathered: no task holds more than a shard, its requests, one shard's closure or one
    range's volumes. The workers must see ``path``."""
    from .shards import answer_facets, check_intervals, check_shard, check_walls, summarize_checks

    S = load_sharded(path)
    P, n = S.partitions, S.input_dim
    tag = uuid.uuid4().hex[:12]
    sp = str(path)
    shard_f = [client.submit(check_shard, sp, p, key=f"ec-check-{tag}-{p}") for p in range(P)]
    hit_f = [[client.submit(_walls_to, f, q, key=f"ec-hits-{tag}-{p}-{q}") for q in range(P)]
             for p, f in enumerate(shard_f)]
    wall_f = [client.submit(check_walls, sp, q, *[hit_f[p][q] for p in range(P)], key=f"ec-walls-{tag}-{q}")
              for q in range(P)]
    # intervals: every shard asks the owners of its cells' facets for their facet lists
    ask_f = [[client.submit(_requests_to, f, q, key=f"ec-ask-{tag}-{p}-{q}") for q in range(P)]
             for p, f in enumerate(shard_f)]
    answer_f = [client.submit(answer_facets, sp, q, *[ask_f[p][q] for p in range(P)], key=f"ec-answer-{tag}-{q}")
                for q in range(P)]
    interval_f = [client.submit(check_intervals, sp, p,
                                *[client.submit(operator.getitem, answer_f[q], p, key=f"ec-answered-{tag}-{q}-{p}")
                                  for q in range(P)], key=f"ec-intervals-{tag}-{p}") for p in range(P)]
    small_f = [client.submit(_without_walls, f, key=f"ec-checked-{tag}-{p}") for p, f in enumerate(shard_f)]
    del hit_f, shard_f, ask_f, answer_f
    vol_f: list[Any] = []
    total_f: Any = None
    if volumes:
        getitem = operator.getitem
        req = [client.submit(_top_task, sp, p, key=f"ec-top-{tag}-{p}") for p in range(P)]
        fetched: list[list[Any]] = [[] for _ in range(P)]
        for level in range(n + 1):
            req_pq = [[client.submit(getitem, req[p], q, key=f"ec-rq-{tag}-{level}-{p}-{q}") for q in range(P)]
                      for p in range(P)]
            fetch = [client.submit(_fetch_task, sp, q, *[req_pq[p][q] for p in range(P)],
                                   key=f"ec-fetch-{tag}-{level}-{q}") for q in range(P)]
            got = [[client.submit(getitem, fetch[q], p, key=f"ec-got-{tag}-{level}-{q}-{p}") for q in range(P)]
                   for p in range(P)]
            for p in range(P):
                fetched[p].extend(got[p])
            if level < n:
                req = [client.submit(fetch_requests, P, *got[p], key=f"ec-next-{tag}-{level}-{p}")
                       for p in range(P)]
            del req_pq, fetch, got
        # the volumes are summed by ranges of the canonical order (shards.py explains why)
        sample_f = [client.submit(_sample_task, sp, p, key=f"ec-sample-{tag}-{p}", priority=10) for p in range(P)]
        split_f = client.submit(range_splitters, P, *sample_f, key=f"ec-splitters-{tag}", priority=10)
        splitters = client.gather(split_f)
        R = splitters.shape[0] + 1
        closure_f = [client.submit(_closure_volume_task, sp, p, split_f, *fetched[p], key=f"ec-volume-{tag}-{p}")
                     for p in range(P)]
        del fetched, req, sample_f
        piece_f = [[client.submit(_range_piece, f, k, key=f"ec-vpiece-{tag}-{p}-{k}") for k in range(R)]
                   for p, f in enumerate(closure_f)]
        vol_f = [client.submit(_without_pieces, f, key=f"ec-vshard-{tag}-{p}") for p, f in enumerate(closure_f)]
        tree = [client.submit(range_volume, n, *[piece_f[p][k] for p in range(P)], key=f"ec-vsum-{tag}-0-{k}")
                for k in range(R)]
        del closure_f, piece_f
        depth = 0
        while len(tree) > 1:
            depth += 1
            tree = [client.submit(add_volumes, *tree[i : i + 2], key=f"ec-vsum-{tag}-{depth}-{i}")
                    for i in range(0, len(tree), 2)]
        total_f = tree[0]
    shard_results = client.gather(small_f)
    wall_results = client.gather(wall_f)
    interval_results = client.gather(interval_f)
    if not volumes:
        return summarize_checks(S, shard_results, wall_results, interval_results=interval_results)
    return summarize_checks(S, shard_results, wall_results, client.gather(vol_f), client.gather(total_f),
                            interval_results)
