"""Scale-out on ``dask.distributed``: the one execution layer for builds on several processes.

:func:`cluster` gives a :class:`distributed.Client`: a local cluster of ``jobs`` worker
processes (one thread each), or a running cluster (``dask scheduler`` plus ``dask worker``
processes) at a given address. :func:`build_on_cluster` runs the build as Dask tasks:

1. **Units** (in the client, milliseconds): the first few neurons cut the domain into enough
   top cells (:func:`plan_groups`); these are ordered along one axis and cut into groups of
   about equal estimated work, a few per worker. A unit is the closure of one group's top
   cells, refined in one pass on a worker (every later cut of a cell depends only on that
   cell's closure, so units refine independently and every cell of a refined unit is a cell
   of the whole complex: docs/mathematics.md, "Independent units"). Every cell of the planning
   complex is *owned* by one unit (the first whose closure has it), and a unit reports only
   the cells lying in the relative interiors of the planning cells it owns: every cell of the
   complex is reported exactly once, with no merge by key. Few large units are fastest: a unit
   pays a fixed cost per remaining neuron.
2. **Gathered** (no ``out``): splitters sampled from every unit's keys cut the canonical order
   (dimension, sign vector) into ranges, one range task per worker; range task ``p`` sorts its
   cells and tells every unit the rank of each cell it sent and of each facet it asked about
   (its facets owned by other units), and where each cell's facet list starts. When every
   worker sees the client's shared memory (``/dev/shm``: a local cluster, or workers started by
   hand on the same machine), the range tasks write their cells' sign vectors, dimensions and
   facet pointers, and the units their facet lists in global indices, straight into shared
   files at their places (each writer reserves its part first; with no room left the build
   gathers instead), which the client maps (nothing to receive, unpack or place);
   otherwise the client receives the ranges' packed keys and the units' facet lists and
   assembles them. Exact vertex coordinates stay lazy, as in the one-process build: rebuilt
   from the units' vertex stores (creation records) when asked. The network travels as integer
   arrays, rebuilt once per worker process.
3. **Sharded** (``out=DIR``, a directory every worker can reach): each unit splits its cells
   into ``partitions`` pieces by :func:`exactcells.shards.partition_of` (a fixed hash of the
   sign vector), facets named by sign vector; partition ``p`` sorts the ``p``-th pieces
   canonically, facet references are resolved to ``(shard, local index)`` by a request/answer
   exchange between partitions, and the workers write their shards (with the exact
   coordinates of their vertices). No task holds more than one partition plus the keys it
   asks about: no process holds the whole complex.

The result does not depend on the number of workers, the units or the order in which tasks
finish: the gathered complex is identical to :func:`exactcells.build_complex`'s (coordinates
included), and the shard files byte-identical to :func:`exactcells.shards.write_shards` of it.
A worker lost in the middle is handled by Dask (its tasks are recomputed elsewhere).
``max_cells`` is exact: the units' owned counts add up to the number of cells, so their sum
only grows as units finish, is a lower bound of the total, and the build stops as soon as it
passes ``max_cells`` (the final sum decides otherwise), exactly when the one-process build stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import operator
import os
import pickle
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .build import (
    Lattice,
    _check_domain,
    _check_limit,
    _closure,
    _num_columns,
    _refine,
    _schedule,
    _sublattice,
    domain_lattice,
    output_refinement,
)
from .complex import PolyhedralComplex
from .domain import Domain
from .errors import CellLimitExceeded, DependencyMissingError, InvalidArgumentError
from .kernel import VertexStore, compiled_passes
from .network import Layer, Network
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

__all__ = ["cluster", "build_on_cluster", "certify_on_cluster", "plan_groups", "DEFAULT_PARTITIONS",
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


def _worker_environ() -> dict[str, Any]:
    """The environment Dask's nannies give the local workers, without ``MALLOC_TRIM_THRESHOLD_``:
    setting it (Dask's default, 64 KiB) turns off glibc's adaptive mmap threshold, so every
    large numpy temporary is a fresh mmap and page faults: the build ran 2-3 times slower
    (measured on a unit of 3-48-48-1, 2026-12-01). BLAS stays single-threaded (one thread per
    worker process)."""
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return env


@contextlib.contextmanager
def _without_env(name: str) -> Iterator[None]:
    """The environment variable ``name`` removed from this process for the block, then restored."""
    saved = os.environ.pop(name, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[name] = saved


@contextlib.contextmanager
def cluster(jobs: int = 2, scheduler: str | None = None, *, announce: bool = True) -> Iterator[Client]:
    """A Dask client: on a running cluster at ``scheduler``, else on a local cluster of ``jobs``
    worker processes (127.0.0.1 only, one thread each). The dashboard's address goes to stderr."""
    _require_distributed()
    import dask
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
        # no statistical profiler in the workers (it samples the task's stack every 10 ms)
        # a nanny writes its pre-spawn environment into *this* process's os.environ (distributed's
        # Nanny does ``os.environ.update``), so a cluster started earlier without this config
        # leaves MALLOC_TRIM_THRESHOLD_ here for every later worker to inherit: hidden while the
        # workers start, and put back afterwards
        with single_threaded_children(), _without_env("MALLOC_TRIM_THRESHOLD_"), \
                dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ(),
                                 "distributed.worker.profile.enabled": False, **_QUIET}):
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


#: a local cluster's periodic housekeeping, less often (measured: the client process, which runs
#: the scheduler, spent more CPU on it than on the build's own work there); and one queued unit
#: per one-thread worker (Dask's default, 1.1, rounds up to two: both units of a 2-worker build
#: were once given to one worker, the other idle)
_QUIET = {"distributed.admin.tick.interval": "200ms", "distributed.admin.system-monitor.interval": "2s",
          "distributed.worker.memory.monitor-interval": "500ms", "distributed.scheduler.worker-saturation": 1.0}


def _workers(client: Client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


# -- units --------------------------------------------------------------------------------

def _live(L: Lattice) -> Lattice:
    """``L`` without cells the engine dropped but did not yet remove (an engine whose argmax
    refinement drops cells in place has ``Lattice.compact``; this one has none)."""
    compact = getattr(L, "compact", None)
    return compact() if compact is not None else L


@dataclass(frozen=True, slots=True)
class UnitGroup:
    """One unit task of the distributed build: the closure of a group of top cells of the
    complex after the first ``start`` steps (one lattice, refined in one pass), and the sign
    rows, in the planning columns (:func:`_planning_columns`), of the cells of that complex
    whose refinement this unit *owns* (reports; the other units' copies are dropped).

    The worker rebuilds the planning complex itself (a few cuts of the domain: deterministic,
    milliseconds) and takes the closure of the top cells at positions ``tops`` of its
    ``by_dim[n]``: nothing but these small arrays is shipped, and the unit's vertex store has
    the domain's vertices as its only roots (no exact coordinates are computed to plan)."""

    start: int
    tops: np.ndarray  # positions in by_dim[n] of the planning complex
    owned: np.ndarray  # uint8 (k, planning columns): sign codes of the owned planning cells
    cost: float  # the planning's estimate (scheduling only)


def _planning_lattice(net: Network, domain: Domain, refine: str | None, start: int,
                      max_cells: int | None = None) -> Lattice:
    lat = domain_lattice(domain, _num_columns(net, refine), net)
    _check_limit(lat.num_cells(), max_cells, "the domain's face lattice has")
    return _refine(lat, net, refine, 0, start, max_cells=max_cells)


def _estimates(lat: Lattice, net: Network, rest: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Float positions (centroids) and costs ``(1 + c)^n`` of the top cells, ``c`` the
    first-layer hyperplanes of rows ``rest`` crossing the cell, from the float values the vertex
    store carries (coordinates, or the first layer's pre-activations): scheduling only."""
    n = lat.n
    tops = lat.ids(n)
    verts = lat.ids(0)
    store = lat.store
    cent = np.zeros((tops.size, n))
    cost = np.ones(tops.size)
    if store.layer > 0 or not verts.size:
        cent[:, 0] = np.arange(tops.size)
        return cent, cost
    Z = np.asarray(store.Z[lat.cvid[verts]], dtype=np.float64)
    W0, b0 = net.float_layers()[0]
    with np.errstate(all="ignore"):
        if store.layer < 0:
            X, V = Z, Z @ W0[list(rest)].T + b0[list(rest)]
        else:
            # the least-squares points (W0's pseudo-inverse: one small SVD, not one per vertex)
            X = (Z - b0) @ np.linalg.pinv(W0).T if W0.shape[0] >= n else np.zeros((Z.shape[0], n))
            V = Z[:, list(rest)]
    X = np.nan_to_num(X)
    top, vr = _top_vertices(lat, tops, verts)  # (top cell, vertex row) pairs, each once
    cnt = np.bincount(top, minlength=tops.size)
    has = np.flatnonzero(cnt)
    if not has.size:
        return cent, cost
    at = np.searchsorted(top, has)  # the pairs come sorted by top cell: one segment each
    cent[has] = np.add.reduceat(X[vr], at, axis=0) / cnt[has, None]
    Vv = V[vr]
    pos = np.logical_or.reduceat(Vv > 0, at, axis=0)
    neg = np.logical_or.reduceat(Vv < 0, at, axis=0)
    cost[has] = (1.0 + np.count_nonzero(pos & neg, axis=1)) ** n
    return cent, cost


def _top_vertices(lat: Lattice, tops: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (position in ``tops``, position in ``verts``) of every top cell and every vertex
    in its closure, each pair once: pairs (top, cell) pushed down through each dimension's
    facets (the faces :func:`_closure` marks, for all top cells at once)."""
    N = lat.num_cells()
    top = np.arange(tops.size, dtype=np.int64)
    cell = tops.astype(np.int64)
    for d in range(lat.n, 0, -1):
        Pd = lat.pad[d][lat.pos[cell]]
        r, c = np.nonzero(Pd >= 0)
        pair = np.unique(top[r] * (N + 1) + Pd[r, c])
        top, cell = pair // (N + 1), pair % (N + 1)
    vrow = np.full(N + 1, -1, dtype=np.int64)
    vrow[verts] = np.arange(verts.size, dtype=np.int64)
    return top, vrow[cell]


def plan_groups(net: Network, domain: Domain, refine: str | None, groups: int,
                max_cells: int | None = None, tops_per_group: int = 64,
                max_planning_cells: int = 50_000) -> list[UnitGroup]:
    """About ``groups`` independent units of roughly equal work.

    The client cuts the first neurons (plain cuts only) until there are ``tops_per_group``
    top cells per group wanted (or the planning complex has ``max_planning_cells`` cells).
    The top cells are ordered along the axis of widest spread of their centroids and cut into
    contiguous groups of equal estimated cost (:func:`_estimates`; the estimate only
    schedules, the result does not depend on it). A group's unit is the closure of its top
    cells; a cell of the planning complex in several closures is *owned* by the first group
    that has it, so every cell of the whole complex is reported by exactly one unit: the one
    owning the cell of the planning complex whose relative interior contains it, named by its
    sign entries in the planning columns (docs/mathematics.md, "Independent units").
    """
    sched = _schedule(net, refine)
    total = len(sched)
    lat = _planning_lattice(net, domain, refine, 0, max_cells)
    n = lat.n
    start = 0
    while (groups > 1 and start < total and sched[start].kind == "cut"
           and len(lat.by_dim[n]) < groups * tops_per_group and lat.num_cells() < max_planning_cells):
        _refine(lat, net, refine, start, start + 1, max_cells=max_cells)
        start += 1
    tops = lat.ids(n)
    G = max(1, min(groups, tops.size))
    rest = [item.rows[0] for item in sched[start:] if item.layer == 0 and item.kind == "cut"]
    cent, cost = _estimates(lat, net, rest)
    axis = int(np.argmax(np.ptp(cent, axis=0))) if tops.size else 0
    order = np.argsort(cent[:, axis], kind="stable")
    cum = np.cumsum(cost[order])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, G) / G, side="left").tolist() + [tops.size]
    members: list[np.ndarray] = []
    a = 0
    for g, c in enumerate(cuts):
        b = min(max(int(c), a + 1), tops.size - (G - 1 - g))  # every group non-empty
        members.append(np.sort(order[a:b]))
        a = b
    owner = np.full(lat.num_cells() + 1, G, dtype=np.int64)
    closures = []
    for g, mem in enumerate(members):
        cl = np.asarray(_closure(lat, tops[mem].tolist()), dtype=np.int64)
        owner[cl] = np.minimum(owner[cl], g)
        closures.append(cl)
    cols = _planning_columns(net, refine, start, lat.ncut, domain.num_facets)
    out = []
    for g, (mem, cl) in enumerate(zip(members, closures)):
        mine = cl[owner[cl] == g]
        owned = np.ascontiguousarray(lat.sig[mine][:, cols]).view(np.uint8)
        out.append(UnitGroup(start, mem.astype(np.int64), owned, float(cost[mem].sum())))
    return out


def _unit_lattice(group: UnitGroup, net: Network, domain: Domain, refine: str | None) -> Lattice:
    """The closure of the group's top cells in the planning complex (rebuilt here)."""
    lat = _planning_lattice(net, domain, refine, group.start)
    tops = lat.ids(lat.n)[group.tops]
    return _sublattice(lat, _closure(lat, tops.tolist()))[0]


# -- shipping the network -------------------------------------------------------------------
#
# A pickled Network rebuilds every weight with ``Fraction(n, d)`` (type checks and a gcd each):
# 0.25 s per worker and per build for the 66,000 weights of S2_256, before its unit can start,
# and 0.2 s in the client. Shipped instead as integer arrays of numerators and denominators
# (already in lowest terms), rebuilt once per worker process and network (cached by digest),
# with what the client's network object already derived (:data:`_SHIPPED_MEMO`).

Shipped = tuple[bytes, bytes]  # (digest, payload)
#: derived data a network memoizes that the client may already have (cheap to pickle, costly
#: to derive: the integer network of S2_256 takes 0.6 s, on the first exact sign test)
_SHIPPED_MEMO = ("float_layers", "integer_network")
_RECEIVED: dict[bytes, Network] = {}
_RECEIVED_MAX = 4


def _ship_network(net: Network) -> Shipped:
    """``net`` as a digest and a payload of integer arrays (object lists past 64 bits)."""
    layers = []
    for L in net.layers:
        vals = [f for row in L.W for f in row] + list(L.b)
        nums: Any = [f.numerator for f in vals]
        dens: Any = [f.denominator for f in vals]
        try:
            nums, dens = np.array(nums, dtype=np.int64), np.array(dens, dtype=np.int64)
        except OverflowError:
            pass
        layers.append((L.fan_out, L.fan_in, nums, dens, L.units))
    memo = {k: net._memo[k] for k in _SHIPPED_MEMO if k in net._memo}
    payload = pickle.dumps((layers, net.rounding), protocol=5)
    # the digest names the network; what the client already derived from it travels along
    return hashlib.blake2b(payload, digest_size=16).digest(), pickle.dumps((payload, memo), protocol=5)


def _receive_network(shipped: Shipped) -> Network:
    """The network of :func:`_ship_network`'s payload (built once per process and digest)."""
    digest, payload = shipped
    net = _RECEIVED.get(digest)
    if net is not None:
        return net
    weights, memo = pickle.loads(payload)
    layers, rounding = pickle.loads(weights)
    built = []
    new = object.__new__
    for fo, fi, nums, dens, units in layers:
        vals = []
        for a, b in zip(nums.tolist() if isinstance(nums, np.ndarray) else nums,
                        dens.tolist() if isinstance(dens, np.ndarray) else dens):
            f = new(Fraction)  # in lowest terms already: no gcd, no type checks
            f._numerator, f._denominator = a, b  # type: ignore[attr-defined]
            vals.append(f)
        built.append(Layer(tuple(tuple(vals[i * fi : (i + 1) * fi]) for i in range(fo)), tuple(vals[fo * fi :]),
                           units))
    net = Network(tuple(built), rounding)
    net._memo.update(memo)
    while len(_RECEIVED) >= _RECEIVED_MAX:
        _RECEIVED.pop(next(iter(_RECEIVED)))
    _RECEIVED[digest] = net
    return net


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
    return _pack_codes(np.asarray(signs, dtype=np.int8) + np.int8(1))


def _pack_codes(codes: np.ndarray) -> np.ndarray:
    """:func:`_pack` of the sign codes ``s + 1`` (the build's ``Lattice.sig`` entries)."""
    N, w = codes.shape
    wb = (w + 3) // 4
    if w == 4 * wb and codes.dtype == np.uint8 and codes.flags.c_contiguous:
        c = codes
    else:
        c = np.zeros((N, 4 * wb), dtype=np.uint8)
        c[:, :w] = codes
    # four codes b0..b3 (the bytes of a little-endian word v, each < 4) into one byte, b0 in
    # the high bits: v * (2^30 + 2^20 + 2^10 + 1) mod 2^32 has b0 b1 b2 b3 in bits 30, 28, 26, 24
    # and only terms below 2^22 under them (no carry reaches bit 24)
    v = c.view("<u4").reshape(N, wb)
    return ((v * np.uint32(0x40100401)) >> np.uint32(24)).astype(np.uint8)


# the four signs of every packed byte, as the bytes of one little-endian 32-bit word
_UNPACKED = np.array([[((b >> (6 - 2 * k)) & 3) - 1 for k in range(4)] for b in range(256)],
                     dtype=np.int8).view("<u4").reshape(256)


def _unpack(packed: np.ndarray, w: int) -> np.ndarray:
    """The int8 sign vectors of :func:`_pack`'s rows."""
    out = np.empty((packed.shape[0], w), dtype=np.int8)
    _unpack_into(out, packed)
    return out


def _unpack_into(out: np.ndarray, packed: np.ndarray, start: int = 0) -> None:
    """Write the sign vectors of the packed rows (columns ``start`` on of ``packed``) into the
    int8 rows ``out``: the compiled pass straight into ``out``, or one table lookup of a 32-bit
    word per packed byte."""
    ext = compiled_passes()
    if (ext is not None and out.shape[0] and packed.dtype == np.uint8 and packed.flags.c_contiguous
            and out.dtype == np.int8 and out.flags.c_contiguous and out.ndim == 2):
        ext.unpack_signs(packed, start, out)
        return
    rows = packed[:, start:]
    N, wb = rows.shape
    out[:] = _UNPACKED[rows].view(np.int8).reshape(N, 4 * wb)[:, : out.shape[1]]


def _refined_unit(group: UnitGroup, net: Network, domain: Domain, refine: str | None,
                  max_cells: int | None) -> tuple[Lattice, np.ndarray]:
    """One unit refined by the remaining neurons, and which of its cells it owns."""
    U = _unit_lattice(group, net, domain, refine)
    owns_all = U.num_cells() == group.owned.shape[0]  # owns every cell of its closure
    try:
        L = _live(_refine(U, net, refine, group.start, max_cells=max_cells))
    except CellLimitExceeded:
        raise CellLimitExceeded(f"one unit of the complex alone has more than max_cells = {max_cells} "
                                "cells (stopped while cutting it by the neurons)") from None
    if owns_all:
        return L, np.ones(L.num_cells(), dtype=bool)
    cols = _planning_columns(net, refine, group.start, L.ncut, domain.num_facets)
    return L, _owned(L, cols, group.owned)


def _facet_csr(L: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """``L.facet_csr()`` (each cell's facets sorted, when the compiled passes do it: 5x faster)."""
    ext = compiled_passes()
    if ext is None:
        return L.facet_csr()
    N = L.num_cells()
    return ext.facet_csr(N, np.arange(N, dtype=np.int64), [L.ids(k) for k in range(L.n + 1)], L.pad)


def _dims(L: Lattice) -> np.ndarray:
    """The dimension of every cell of ``L`` (int8), from its cached ``by_dim`` arrays."""
    dims = np.zeros(L.num_cells(), dtype=np.int8)
    for k in range(1, L.n + 1):
        dims[L.ids(k)] = k
    return dims


def _unit_task(group: UnitGroup, shipped: Shipped, domain: Domain, refine: str | None, partitions: int,
               max_cells: int | None) -> dict[str, Any]:
    """Refine one unit; return the cells it owns split into ``partitions`` pieces (by the hash
    of their sign vectors), facets named by sign vector."""
    t0, c0 = time.perf_counter(), time.thread_time()
    net = _receive_network(shipped)
    L, own = _refined_unit(group, net, domain, refine, max_cells)
    N = L.num_cells()
    m = domain.num_facets
    pieces: list[list[Piece]] = [[] for _ in range(partitions)]
    for p, piece in enumerate(_lattice_pieces(L, own, net, m, partitions)):
        if piece[0].shape[0]:
            pieces[p].append(piece)
    return {"pieces": pieces, "owned": int(np.count_nonzero(own)), "seconds": time.perf_counter() - t0,
            "cpu": time.thread_time() - c0, "cells": N, "units": 1}


def _lattice_pieces(L: Lattice, own: np.ndarray, net: Network, m: int, partitions: int) -> list[Piece]:
    """The cells of a refined unit that it owns, split by partition, facets named by their packed
    sign vectors (:func:`_pack`) and their partitions; the exact coordinates of the owned
    vertices (the shard files hold them)."""
    N = L.num_cells()
    signs = L.sig[:N][:, _canonical_columns(net, L.ncut, m)] - np.int8(1)
    dims = _dims(L)
    part = partition_of(signs, partitions)
    packed = _pack(signs)
    del signs
    starts, flat = _facet_csr(L)
    counts = np.diff(starts)
    pieces: list[Piece] = []
    for p in range(partitions):
        ids = np.flatnonzero((part == p) & own)
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


# -- the gathered build: tasks ---------------------------------------------------------------
#
# Every cell is reported once, by the unit that owns it. Its global index (canonical order: by
# dimension, then sign vector) comes from *range* partitions: splitters sampled from every
# unit's keys cut the canonical order into P ranges; range task p sorts the keys of its range
# and gives every unit the rank of each key it sent (its own cells) or asked about (facets owned
# by another unit). Each unit then writes its cells' facet lists in global indices, and the
# client only concatenates the ranges (dimensions and sign vectors, already in canonical order)
# and places the facet lists.

def _keys(dims: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows ``(dim, packed sign codes)``: their byte order is the canonical order."""
    packed = _pack_codes(codes)
    keys = np.empty((packed.shape[0], packed.shape[1] + 1), dtype=np.uint8)
    keys[:, 0] = dims.astype(np.uint8)
    keys[:, 1:] = packed
    return keys


def _take_columns(A: np.ndarray, cols: Sequence[int], width: int | None = None) -> np.ndarray:
    """``A[:, cols]`` as uint8, copied by runs of consecutive columns (numpy's fancy indexing
    of int8 columns is many times slower), zero-padded on the right to ``width`` columns."""
    out = np.zeros((A.shape[0], max(len(cols), width or 0)), dtype=np.uint8)
    i = 0
    while i < len(cols):
        j = i + 1
        while j < len(cols) and cols[j] == cols[j - 1] + 1:
            j += 1
        out[:, i:j] = A[:, cols[i] : cols[i] + (j - i)]
        i = j
    return out


def _canonical_keys(L: Lattice, net: Network, m: int, dims: np.ndarray) -> np.ndarray:
    """:func:`_keys` of the cells of ``L`` (of dimensions ``dims``): ``(dim, packed canonical
    sign codes)``."""
    N = L.num_cells()
    cols = _canonical_columns(net, L.ncut, m)
    wb = (len(cols) + 3) // 4
    ext = compiled_passes()
    sig = L.sig[:N]
    if ext is not None and sig.dtype == np.int8 and sig.flags.c_contiguous:
        return np.asarray(ext.pack_rows(np.ascontiguousarray(dims, dtype=np.int8), sig,
                                        np.asarray(cols, dtype=np.int64)))
    c = _take_columns(sig, cols, 4 * wb)
    keys = np.empty((N, wb + 1), dtype=np.uint8)
    keys[:, 0] = dims.view(np.uint8)
    keys[:, 1:] = _pack_codes(c)
    return keys


def _packed_words(dims: np.ndarray, sig: np.ndarray, cols: Sequence[int]) -> np.ndarray | None:
    """The compiled ``pack_keys`` of rows ``sig`` (int8 sign codes) in columns ``cols`` after
    the dimensions ``dims``: uint64 words whose big-endian bytes are :func:`_keys`' bytes (then
    zero padding); ``None`` without the compiled passes. Faster than numpy's packing for a few
    scattered columns (the ownership test), slower for whole sign vectors (measured)."""
    ext = compiled_passes()
    if ext is None or sig.dtype != np.int8 or not sig.flags.c_contiguous:
        return None
    return np.asarray(ext.pack_keys(np.ascontiguousarray(dims, dtype=np.int8), sig,
                                    np.asarray(list(cols), dtype=np.int64)))


def _segments(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + counts[i] - 1`` of every segment, in order (one
    repeat: each segment's start less the positions before it, plus a running index)."""
    F = int(counts.sum())
    before = np.cumsum(counts) - counts
    return np.repeat(starts - before, counts) + np.arange(F, dtype=np.int64)


def _owned(L: Lattice, cols: Sequence[int], owned: np.ndarray) -> np.ndarray:
    """Which cells of ``L`` the unit owns: their sign codes in the planning columns ``cols``
    are a row of ``owned`` (compared packed, :func:`_pack_codes`: as one integer per row when
    they fit 64 bits)."""
    N = L.num_cells()
    k = owned.shape[0]
    wr = _packed_words(np.zeros(N, dtype=np.int8), L.sig[:N], cols)
    wt = _packed_words(np.zeros(k, dtype=np.int8), np.ascontiguousarray(owned).view(np.int8), range(len(cols)))
    if wr is not None and wt is not None:  # equal rows are equal words (a zero byte, then the codes)
        if wr.shape[1] == 1:
            return _member_words(wr[:, 0], wt[:, 0])
        return _member(np.ascontiguousarray(wr).view(np.uint8), np.ascontiguousarray(wt).view(np.uint8))
    rows = _pack_codes(_take_columns(L.sig[:N], cols))
    table = _pack_codes(np.ascontiguousarray(owned, dtype=np.uint8))
    if rows.shape[1] > 8:
        return _member(rows, table)
    return _member_words(_as_words(rows), _as_words(table))


def _as_words(packed: np.ndarray) -> np.ndarray:
    """Packed rows of at most 8 bytes as one uint64 each (their byte order kept)."""
    w = np.zeros((packed.shape[0], 8), dtype=np.uint8)
    w[:, : packed.shape[1]] = packed
    return w.view(">u8").reshape(packed.shape[0]).astype(np.uint64)


def _member_words(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each entry of ``rows`` is an entry of ``table``."""
    if not table.shape[0] or not rows.shape[0]:
        return np.zeros(rows.shape[0], dtype=bool)
    tv = np.sort(table)
    at = np.minimum(np.searchsorted(tv, rows), tv.shape[0] - 1)
    return np.asarray(tv[at] == rows, dtype=bool)


def _member(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each row of ``rows`` (uint8) is a row of ``table``."""
    if not table.shape[0] or not rows.shape[0]:
        return np.zeros(rows.shape[0], dtype=bool)
    tv = np.sort(_void(table))
    qv = _void(rows)
    at = np.minimum(np.searchsorted(tv, qv), tv.shape[0] - 1)
    return np.asarray(tv[at] == qv, dtype=bool)


def _group_task(group: UnitGroup, shipped: Shipped, domain: Domain, refine: str | None,
                max_cells: int | None) -> dict[str, Any]:
    """Refine one unit; its cells' canonical keys, which it owns, its facet lists, and its
    vertex store (floats dropped: exact coordinates stay rebuildable from it)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    net = _receive_network(shipped)
    L, own = _refined_unit(group, net, domain, refine, max_cells)
    N = L.num_cells()
    m = domain.num_facets
    dims = _dims(L)
    keys = _canonical_keys(L, net, m, dims)
    indptr, flat = _facet_csr(L)
    vcells = np.flatnonzero(own & (dims == 0))
    vids = L.cvid[vcells]
    store = L.store
    store.release_floats()
    return {"keys": keys, "own": own, "indptr": indptr, "flat": flat, "vcells": vcells, "vids": vids,
            "store": store, "owned": int(np.count_nonzero(own)), "cells": N, "units": 1,
            "facets": int(np.diff(indptr)[own].sum()),
            "seconds": time.perf_counter() - t0, "cpu": time.thread_time() - c0}


def _group_stats(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("owned", "seconds", "cpu", "cells", "units", "facets") if k in r}


def _group_summary(r: dict[str, Any]) -> dict[str, Any]:
    """A unit's counts (:func:`_group_stats`) and its sample of keys (:func:`_sample`): one small
    task per unit, watched by the client and read by the splitters."""
    return {**_group_stats(r), "sample": _sample(r)}


def _summary_splitters(P: int, *summaries: dict[str, Any]) -> np.ndarray:
    return _splitters(P, *[s["sample"] for s in summaries])


def _sample(r: dict[str, Any], size: int = 2048) -> tuple[np.ndarray, float]:
    """Evenly spaced keys of the owned cells, and the number of cells each stands for."""
    ids = np.flatnonzero(r["own"])
    if not ids.size:
        return r["keys"][:0], 0.0
    pick = ids[np.linspace(0, ids.size - 1, min(size, ids.size)).astype(np.int64)]
    return r["keys"][pick], ids.size / pick.size


def _splitters(P: int, *samples: tuple[np.ndarray, float]) -> np.ndarray:
    """``P - 1`` keys cutting the canonical order into ranges of about equal cell counts."""
    rows = [s for s, _ in samples if s.shape[0]]
    if P <= 1 or not rows:
        width = samples[0][0].shape[1] if samples else 1
        return np.zeros((0, width), dtype=np.uint8)
    keys = np.concatenate(rows)
    weight = np.concatenate([np.full(s.shape[0], w) for s, w in samples if s.shape[0]])
    order = np.argsort(_void(keys), kind="stable")
    cum = np.cumsum(weight[order])
    at = np.searchsorted(cum, cum[-1] * np.arange(1, P) / P, side="left")
    return np.ascontiguousarray(keys[order][np.minimum(at, keys.shape[0] - 1)])


def _range_of(keys: np.ndarray, splitters: np.ndarray) -> np.ndarray:
    """The range of every key (rows of uint8): how many splitters are at or below it."""
    if not splitters.shape[0]:
        return np.zeros(keys.shape[0], dtype=np.int64)
    ext = compiled_passes()
    if ext is not None and keys.shape[1] == splitters.shape[1]:
        return np.asarray(ext.key_ranges(np.ascontiguousarray(keys, dtype=np.uint8),
                                         np.ascontiguousarray(splitters, dtype=np.uint8)), dtype=np.int64)
    return np.searchsorted(_void(splitters), _void(keys), side="right").astype(np.int64)


def _take_rows(A: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``A[idx]`` for a uint8 matrix, each row moved as one opaque value (numpy's fancy
    indexing of short uint8 rows is several times slower)."""
    if not A.shape[1]:
        return A[idx]
    return _void(A)[idx].view(np.uint8).reshape(-1, A.shape[1])


def _route(r: dict[str, Any], splitters: np.ndarray) -> dict[str, Any]:
    """Which range each owned cell, and each facet of one owned by another unit, falls in; the
    keys to send to every range task."""
    own = r["own"]
    keys = r["keys"]
    indptr, flat = r["indptr"], r["flat"]
    counts = np.diff(indptr)
    if own.all():  # a unit owning its whole closure asks about no facet
        oid = np.arange(own.shape[0], dtype=np.int64)
        need = np.zeros(0, dtype=np.int64)
        okeys, oc = keys, counts
    else:
        oid = np.flatnonzero(own)
        oc = counts[oid]
        fac = flat[_segments(indptr[oid], oc)]
        need = np.unique(fac[~own[fac]])
        okeys = _take_rows(keys, oid)
    opart = _range_of(okeys, splitters)
    nkeys = _take_rows(keys, need)
    npart = _range_of(nkeys, splitters)
    P = splitters.shape[0] + 1
    oc = oc.astype(np.int32)
    msgs = []
    for p in range(P):
        if P == 1:
            msgs.append((okeys, nkeys, oc))
            continue
        sel = np.flatnonzero(opart == p)
        msgs.append((_take_rows(okeys, sel), _take_rows(nkeys, np.flatnonzero(npart == p)), oc[sel]))
    return {"oid": oid, "opart": opart, "need": need, "npart": npart, "msgs": msgs}


def _msg(route: dict[str, Any], p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return route["msgs"][p]


def _range_task(width: int, *msgs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Sort one range's keys (each cell comes from exactly one unit); answer every unit with the
    ranks of the keys it sent and of those it asked about, and where the facet list of each
    cell it sent starts in the range's facets (cells in order)."""
    wb = (width + 3) // 4
    own = [mg[0] for mg in msgs]
    keys = np.concatenate(own) if own else np.zeros((0, wb + 1), np.uint8)
    M = keys.shape[0]
    order, srt, distinct = _sorted_keys(keys)
    rank = np.empty(M, dtype=np.int64)
    rank[order] = np.arange(M, dtype=np.int64)
    fcount = (np.concatenate([mg[2] for mg in msgs]) if msgs else np.zeros(0, np.int32))[order]
    fstart = np.zeros(M + 1, dtype=np.int64)
    np.cumsum(fcount, out=fstart[1:])
    if not distinct:
        raise RuntimeError("a cell was reported by two units (internal error)")
    sv = _void(srt)
    answers = []
    a = 0
    for ok, nk, _ in msgs:
        mine = rank[a : a + ok.shape[0]]
        a += ok.shape[0]
        if nk.shape[0]:
            qv = _void(nk)
            at = np.minimum(np.searchsorted(sv, qv), max(M - 1, 0))
            if not M or not (sv[at] == qv).all():
                raise RuntimeError("a facet is missing from its range (internal error)")
        else:
            at = np.zeros(0, dtype=np.int64)
        answers.append((mine, at.astype(np.int64), fstart[mine]))
    return {"count": M, "keys": srt, "answers": answers, "fstart": fstart}


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The stable order of the rows of ``keys`` (uint8) as byte strings, the rows in that order,
    and whether they are all distinct: one compiled pass, or :func:`_key_order`."""
    ext = compiled_passes()
    keys = np.ascontiguousarray(keys, dtype=np.uint8)
    if ext is not None and keys.shape[1]:
        order, srt, distinct = ext.sort_rows(keys)
        return np.asarray(order, dtype=np.int64), srt, bool(distinct)
    order = _key_order(keys)
    srt = _take_rows(keys, order)
    return order, srt, keys.shape[0] <= 1 or bool((srt[1:] != srt[:-1]).any(axis=1).all())


def _key_order(keys: np.ndarray) -> np.ndarray:
    """The stable order of the rows of ``keys`` (uint8) as byte strings: the compiled sort of
    their big-endian 64-bit words (a fifth faster than numpy's sort of opaque rows), or numpy's."""
    ext = compiled_passes()
    if ext is None or not keys.shape[0]:
        return np.argsort(_void(keys), kind="stable")
    M, K = keys.shape
    W = (K + 7) // 8
    b = np.zeros((M, 8 * W), dtype=np.uint8)
    b[:, :K] = keys
    return np.asarray(ext.sort_keys(b.view(">u8").astype(np.uint64)), dtype=np.int64)


def _range_count(rr: dict[str, Any]) -> int:
    return int(rr["count"])


def _range_sizes(rr: dict[str, Any]) -> tuple[int, int]:
    """A range's cells and facets."""
    return int(rr["count"]), int(rr["fstart"][-1])


def _range_block(rr: dict[str, Any]) -> np.ndarray:
    """A range's sorted keys (the client unpacks them: a quarter of the bytes of the signs)."""
    return rr["keys"]


def _range_answer(rr: dict[str, Any], i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rr["answers"][i]


def _final_task(r: dict[str, Any], route: dict[str, Any], counts: Sequence[int],
                *answers: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, Any]:
    """A unit's owned cells in global indices: their facet lists (each in canonical order) and
    its vertices' records."""
    gid, c, _ = _global_ids(r, route, counts, answers)
    fg = np.empty(int(c.sum()), dtype=np.int64)
    _place_facets(r, route["oid"], gid, c, np.cumsum(c) - c, 0, fg)
    return {"gids": gid[route["oid"]], "counts": c, "facets": fg, "vgids": gid[r["vcells"]], "vids": r["vids"],
            "store": _store_records(r["store"])}


def _global_ids(r: dict[str, Any], route: dict[str, Any], counts: Sequence[int],
                answers: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                fcounts: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The global index of every cell of the unit that it owns or asked about (-1 for the
    others), the facet counts of its owned cells (in ``route["oid"]`` order) and, given the
    ranges' facet counts ``fcounts``, the position of each owned cell's first facet in the whole
    complex's facet list."""
    offs = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts, dtype=np.int64), out=offs[1:])
    foffs = np.zeros(len(counts) + 1, dtype=np.int64)
    if fcounts is not None:
        np.cumsum(np.asarray(fcounts, dtype=np.int64), out=foffs[1:])
    own, indptr = r["own"], r["indptr"]
    oid, opart, need, npart = route["oid"], route["opart"], route["need"], route["npart"]
    gid = np.full(own.shape[0], -1, dtype=np.int64)
    fst = np.zeros(oid.shape[0], dtype=np.int64)
    for p, (mine, asked, fstart) in enumerate(answers):
        sel = opart == p
        gid[oid[sel]] = offs[p] + mine
        gid[need[npart == p]] = offs[p] + asked
        fst[sel] = foffs[p] + fstart
    return gid, np.diff(indptr)[oid], fst


def _place_facets(r: dict[str, Any], oid: np.ndarray, gid: np.ndarray, c: np.ndarray, starts: np.ndarray,
                  lo: int, out: np.ndarray) -> None:
    """Write the facet lists of the unit's cells ``oid`` (``c`` facets each) in global indices
    ``gid``, each ascending, at ``out[starts - lo]`` on: one compiled pass, or a gather, one
    int64 sort by (cell, index) and a scatter."""
    indptr, flat = r["indptr"], r["flat"]
    F = int(c.sum())
    if not F:
        return
    ext = compiled_passes()
    if ext is not None and out.dtype == np.int64 and out.flags.c_contiguous:
        try:
            ext.place_facets(indptr, flat, np.ascontiguousarray(oid, dtype=np.int64), gid,
                             np.ascontiguousarray(starts, dtype=np.int64), lo, out)
        except ValueError as e:
            raise RuntimeError(f"{e} (internal error)") from None
        return
    fg = gid[flat[_segments(indptr[oid], c)]]
    if fg.min() < 0:
        raise RuntimeError("a facet has no global index (internal error)")
    total = int(gid.max()) + 1
    owner = np.repeat(np.arange(oid.shape[0], dtype=np.int64), c)
    if (oid.shape[0] + 1) * (total + 1) < 2**62:  # one int64 sort: facets ascending per cell
        fg = np.sort(owner * (total + 1) + fg) % (total + 1)
    else:  # pragma: no cover - beyond 2^62
        fg = fg[np.lexsort((fg, owner))]
    out[_segments(np.asarray(starts, dtype=np.int64) - lo, c)] = fg


def _store_records(store: VertexStore) -> dict[str, Any]:
    """What a vertex store needs to rebuild exact coordinates: its vertices' creation records
    and its exact ones (a store pickles its network and float constants too: megabytes)."""
    k = store.size
    return {"n": store.n, "size": k, "pa": store.pa[:k].copy(), "pb": store.pb[:k].copy(),
            "fn": store.fn[:k].copy(), "fns": list(store.fns), "exact": dict(store.exact)}


def _store_from_records(rec: dict[str, Any], net: Network) -> VertexStore:
    store = VertexStore(net, rec["n"], cap=1)
    store.release_floats()
    store.size = rec["size"]
    store.pa, store.pb, store.fn = rec["pa"], rec["pb"], rec["fn"]
    store.fns = rec["fns"]
    store.exact = rec["exact"]
    return store


class _GroupCoords:
    """The exact coordinates of the gathered complex's vertices, rebuilt when first asked for
    from the records of the units' vertex stores (vertex ``i`` is ``vids[i]`` of store
    ``unit[i]``)."""

    def __init__(self, net: Network, records: Sequence[dict[str, Any]], unit: np.ndarray, vids: np.ndarray) -> None:
        self.net = net
        self.records = list(records)
        self.unit = unit
        self.vids = vids

    def __call__(self) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = [()] * self.unit.shape[0]
        for i, rec in enumerate(self.records):
            sel = np.flatnonzero(self.unit == i)
            store = _store_from_records(rec, self.net)
            if sel.size:
                for j, h in zip(sel.tolist(), store.exact_coords(self.vids[sel].tolist())):
                    out[j] = h
        return out


def _assemble_gathered(blocks: Sequence[np.ndarray], finals: Sequence[dict[str, Any]],
                       net: Network, domain: Domain, refine: str | None, seconds: float) -> PolyhedralComplex:
    """The complex from the ranges' sorted keys (canonical order already) and the units' facet
    lists."""
    width = net.num_hidden + domain.num_facets + (net.output_dim if refine is not None else 0)
    N = sum(b.shape[0] for b in blocks)
    dims = np.empty(N, dtype=np.int8)
    signs = np.empty((N, width), dtype=np.int8)
    a = 0
    for b in blocks:
        dims[a : a + b.shape[0]] = b[:, 0]
        _unpack_into(signs[a : a + b.shape[0]], b, 1)
        a += b.shape[0]
    counts = np.zeros(N, dtype=np.int64)
    for f in finals:
        counts[f["gids"]] = f["counts"]
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    for f in finals:
        c = f["counts"]
        F = int(c.sum())
        if F:
            pos = np.repeat(indptr[f["gids"]], c) + (np.arange(F, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c))
            indices[pos] = f["facets"]
    return _gathered_complex(dims, signs, indptr, indices, finals, net, domain, refine, seconds)


def _gathered_complex(dims: np.ndarray, signs: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                      parts: Sequence[dict[str, Any]], net: Network, domain: Domain, refine: str | None,
                      seconds: float) -> PolyhedralComplex:
    """The gathered complex from its arrays; its vertices' exact coordinates stay lazy, rebuilt
    from the vertex stores of the units (``parts``) that made them."""
    f0 = int(np.count_nonzero(dims == 0))
    unit = np.full(f0, -1, dtype=np.int64)
    vids = np.zeros(f0, dtype=np.int64)
    for i, f in enumerate(parts):
        unit[f["vgids"]] = i
        vids[f["vgids"]] = f["vids"]
    if f0 and unit.min() < 0:
        raise RuntimeError("a vertex has no unit (internal error)")
    return PolyhedralComplex(
        network=net, domain=domain, with_output=refine is not None, output_refinement=refine,
        dims=dims, signs=signs, facet_indptr=indptr, facet_indices=indices,
        vertex_coords=_GroupCoords(net, [f["store"] for f in parts], unit, vids), build_seconds=seconds)


# -- the gathered build on one machine: the workers write the complex's arrays ----------------
#
# When every worker sees the client's shared memory (``/dev/shm``: a local cluster, or workers
# started by hand on this machine), the range tasks write the sign vectors, dimensions and facet
# pointers of their ranges, and the units their facet lists, straight into files there, each at
# its place in the canonical order; the client maps the files (and unlinks them: the mapping
# stays) instead of receiving, unpacking and placing everything itself. The arrays are the
# same as the gathered ones; writing the same bytes twice (a task recomputed after a lost worker)
# changes nothing. Elsewhere (remote workers, no room) the results are gathered.

#: off: always gather (tests switch it to check both paths)
SHARED_MEMORY = True
SHARED_DIR = "/dev/shm"
_SHARED_FILES = ("dims", "signs", "indptr", "indices")


def _sees(path: str, token: str) -> bool:
    """Whether this process reads ``token`` in ``path`` and may write there (the same files)."""
    try:
        with open(Path(path) / "token", "r+") as f:
            return f.read() == token
    except OSError:
        return False


def _shared_dir(client: Client) -> Path | None:
    """A new directory in :data:`SHARED_DIR` that every worker sees (asked while the units run),
    or ``None``."""
    import tempfile

    base = Path(SHARED_DIR)
    if not SHARED_MEMORY or not base.is_dir() or not os.access(base, os.W_OK):
        return None
    try:
        where = Path(tempfile.mkdtemp(prefix=f"exactcells-{os.getpid()}-", dir=base))  # the client's pid
    except OSError:
        return None
    token = uuid.uuid4().hex
    try:
        (where / "token").write_text(token)
        if all(client.run(_sees, str(where), token).values()):
            return where
    except Exception:  # noqa: BLE001 - any failure (no room, a worker elsewhere): gather instead
        pass
    shutil.rmtree(where, ignore_errors=True)
    return None


def _reserve_shared(where: Path, N: int, F: int, width: int) -> bool:
    """Whether the shared files of a complex of ``N`` cells (``width`` sign entries) and ``F``
    facet links fit (twice their size is free) and were created (sparse: each writer reserves
    its own part before mapping it, :func:`_open_shared`)."""
    nbytes = N * (1 + width) + 8 * (N + 1 + F)
    try:
        st = os.statvfs(where)
        if st.f_bavail * st.f_frsize < 2 * nbytes:
            return False
        _create_shared(where, N, F, width, reserve=False)
    except OSError:
        return False
    return True


def _create_shared(where: Path, N: int, F: int, width: int, reserve: bool = True) -> None:
    """The shared files, zero-filled (their room reserved with ``reserve``)."""
    for name, size in zip(_SHARED_FILES, (N, N * width, 8 * (N + 1), 8 * F)):
        with open(where / name, "wb") as f:
            f.truncate(size)
            if reserve and size and hasattr(os, "posix_fallocate"):
                os.posix_fallocate(f.fileno(), 0, size)


def _open_shared(where: str | Path, name: str, dtype: Any, start: int, count: int, width: int = 1) -> np.ndarray:
    """Rows ``start .. start + count`` of shared array ``name`` (``width`` columns), writable."""
    dt = np.dtype(dtype)
    if count == 0:
        return np.zeros((0, width) if width > 1 else 0, dtype=dt)
    shape = (count, width) if width > 1 else (count,)
    offset = start * width * dt.itemsize
    try:
        if hasattr(os, "posix_fallocate"):  # the room of these rows, reserved before writing into the
            # mapping (a full tmpfs would kill the worker there; here it is an OSError the client handles)
            with open(Path(where) / name, "r+b") as f:
                os.posix_fallocate(f.fileno(), offset, count * width * dt.itemsize)
        return np.memmap(Path(where) / name, dtype=dt, mode="r+", offset=offset, shape=shape)
    except FileNotFoundError:
        raise RuntimeError(f"the build's shared memory {where} is not visible on this worker") from None


def _write_block(rr: dict[str, Any], where: str, p: int, width: int, *sizes: tuple[int, int]) -> int:
    """Write range ``p``'s cells (dimensions, sign vectors, facet pointers) at their places."""
    off = sum(m for m, _ in sizes[:p])
    foff = sum(f for _, f in sizes[:p])
    keys = rr["keys"]
    M = keys.shape[0]
    d = _open_shared(where, "dims", np.int8, off, M)
    d[:] = keys[:, 0].view(np.int8)
    sg = _open_shared(where, "signs", np.int8, off, M, width)
    if M:
        _unpack_into(sg, keys, 1)
    ip = _open_shared(where, "indptr", np.int64, off + 1, M)
    ip[:] = foff + rr["fstart"][1:]
    for a in (d, sg, ip):
        if isinstance(a, np.memmap):
            a.flush()
    return M


def _write_facets(r: dict[str, Any], route: dict[str, Any], where: str, P: int, *rest: Any) -> dict[str, Any]:
    """Write a unit's owned cells' facet lists (global indices, ascending) at their places; its
    vertices' records for the exact coordinates."""
    sizes = rest[:P]
    gid, c, fst = _global_ids(r, route, [m for m, _ in sizes], rest[P:], [f for _, f in sizes])
    if int(c.sum()):
        lo = int(fst.min())
        hi = int((fst + c).max())
        out = _open_shared(where, "indices", np.int64, lo, hi - lo)
        _place_facets(r, route["oid"], gid, c, fst, lo, out)
        if isinstance(out, np.memmap):
            out.flush()
    return {"vgids": gid[r["vcells"]], "vids": r["vids"], "store": _store_records(r["store"])}


def _map_shared(where: Path, N: int, F: int, width: int) -> tuple[np.ndarray, ...]:
    """The shared arrays, mapped into this process (plain arrays; the files are removed: the
    mappings keep their pages)."""
    out = []
    for name, dt, shape in zip(_SHARED_FILES, (np.int8, np.int8, np.int64, np.int64),
                               ((N,), (N, width), (N + 1,), (F,))):
        if int(np.prod(shape)) == 0:
            out.append(np.zeros(shape, dtype=dt))
        else:
            out.append(np.memmap(where / name, dtype=dt, mode="r+", shape=shape).view(np.ndarray))
    return tuple(out)


def _assemble_shared(where: Path, N: int, F: int, small: Sequence[dict[str, Any]], net: Network, domain: Domain,
                     refine: str | None, seconds: float) -> PolyhedralComplex:
    width = net.num_hidden + domain.num_facets + (net.output_dim if refine is not None else 0)
    dims, signs, indptr, indices = _map_shared(where, N, F, width)
    return _gathered_complex(dims, signs, indptr, indices, small, net, domain, refine, seconds)


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
    tasks_per_worker: int = 1,
    task_stats: list[dict[str, Any]] | None = None,
) -> PolyhedralComplex | ShardedComplex:
    """The complex of ``net`` on ``domain``, computed as Dask tasks on ``client``'s cluster.

    Without ``out`` the result is gathered into one :class:`PolyhedralComplex`, identical to
    :func:`exactcells.build_complex`'s (its exact vertex coordinates are rebuilt when first
    asked for, from the units' vertex stores, as the one-process build's are). With ``out`` the
    workers write the shards into that directory (which they must all reach), the client writes
    the index last, and the result is the lazily opened
    :class:`~exactcells.shards.ShardedComplex`. ``tasks_per_worker``: unit tasks per worker
    (each unit pays a fixed cost per remaining neuron, so few large units are fastest; more
    give Dask room to balance). ``task_stats``, when given, receives one record per unit task
    (its seconds, CPU seconds, cells, and owned cells). ``partitions``: the shards of ``out`` (default
    :data:`DEFAULT_PARTITIONS`); without ``out`` only an internal choice (default: one per
    worker; the result is the same for every value).
    """
    if domain is None:
        domain = Domain.box(net.input_dim)
    _check_domain(net, domain)
    if partitions is not None and partitions < 1:
        raise InvalidArgumentError(f"partitions must be at least 1, got {partitions}")
    if max_cells is not None and max_cells < 0:
        raise InvalidArgumentError(f"max_cells must be non-negative, got {max_cells}")
    if tasks_per_worker < 1:
        raise InvalidArgumentError(f"tasks_per_worker must be at least 1, got {tasks_per_worker}")
    if out is not None:
        check_out_dir(Path(out), force)

    t0 = time.perf_counter()
    ro = output_refinement(net, with_output, refine)
    W = _workers(client)
    groups = plan_groups(net, domain, ro, _unit_count(net, domain.dim, ro, W, tasks_per_worker),
                         max_cells=max_cells)
    # the largest units first: Dask starts tasks in submission order when it can
    groups.sort(key=lambda g: -g.cost)
    P = partitions if partitions is not None else (DEFAULT_PARTITIONS if out is not None else W)
    m = domain.num_facets
    tag = uuid.uuid4().hex[:12]
    width = net.num_hidden + m + (net.output_dim if ro is not None else 0)
    net_f, dom_f = client.scatter([_ship_network(net), domain], broadcast=True, hash=False)
    T = len(groups)
    if out is None:
        unit_f = [client.submit(_group_task, g, net_f, dom_f, ro, max_cells, key=f"ec-unit-{tag}-{i}")
                  for i, g in enumerate(groups)]
        count_f = [client.submit(_group_summary, f, key=f"ec-count-{tag}-{i}") for i, f in enumerate(unit_f)]
        split_f = client.submit(_summary_splitters, P, *count_f, key=f"ec-splitters-{tag}")
        route_f = [client.submit(_route, f, split_f, key=f"ec-route-{tag}-{i}") for i, f in enumerate(unit_f)]
        msg_f = [[client.submit(_msg, rf, p, key=f"ec-msg-{tag}-{i}-{p}") for p in range(P)]
                 for i, rf in enumerate(route_f)]
        # one range per worker (a loose restriction: Dask otherwise may put two on one worker
        # when their inputs are equally spread, and the other waits; a lost worker's go elsewhere)
        ws = sorted(client.scheduler_info().get("workers", {}))
        range_f = [client.submit(_range_task, width, *[msg_f[i][p] for i in range(T)], key=f"ec-range-{tag}-{p}",
                                 **_near(ws[p % len(ws)] if ws else None)) for p in range(P)]
        ans_f: list[Any] = [[client.submit(_range_answer, range_f[p], i, key=f"ec-rans-{tag}-{p}-{i}")
                             for p in range(P)] for i in range(T)]
        # the last tasks (gather, or write into shared memory) are chosen when the units are done
        result_f: list[Any] = list(range_f)
        del split_f, msg_f
    else:
        unit_f = [client.submit(_unit_task, g, net_f, dom_f, ro, P, max_cells, key=f"ec-unit-{tag}-{i}")
                  for i, g in enumerate(groups)]
        count_f = [client.submit(_group_stats, f, key=f"ec-count-{tag}-{i}") for i, f in enumerate(unit_f)]
        piece_f = [[client.submit(_piece, f, p, key=f"ec-piece-{tag}-{i}-{p}") for p in range(P)]
                   for i, f in enumerate(unit_f)]
        merged_f = [client.submit(_merge_partition, P, width, *[pf[p] for pf in piece_f],
                                  key=f"ec-merge-{tag}-{p}") for p in range(P)]
        req_f = [[client.submit(_request, merged_f[p], q, key=f"ec-req-{tag}-{p}-{q}") for q in range(P)]
                 for p in range(P)]
        ans_f = [client.submit(_answer, merged_f[q], *[req_f[p][q] for p in range(P)], key=f"ec-ans-{tag}-{q}")
                 for q in range(P)]
        ans_pq = [[client.submit(operator.getitem, ans_f[q], p, key=f"ec-ansp-{tag}-{q}-{p}") for q in range(P)]
                  for p in range(P)]
        result_f = [client.submit(_finalize, merged_f[p], *ans_pq[p], key=f"ec-shard-{tag}-{p}") for p in range(P)]
        del piece_f, merged_f, req_f, ans_f, ans_pq, unit_f
    everything: list[Any] = result_f + count_f
    where: Path | None = None
    try:
        if out is None:
            where = _shared_dir(client)  # while the units run
        owned, facets = _watch_units(count_f, max_cells, task_stats, progress, t0)
        if max_cells is not None and owned > max_cells:  # decided before anything is written
            raise CellLimitExceeded(f"the complex has {owned} cells, more than max_cells = {max_cells}")
        if out is None:
            if where is not None and not _reserve_shared(where, owned, facets, width):
                shutil.rmtree(where, ignore_errors=True)
                where = None
            small: list[dict[str, Any]] | None = None
            if where is not None:
                sizes_f = [client.submit(_range_sizes, f, key=f"ec-sizes-{tag}-{p}") for p, f in enumerate(range_f)]
                # each write next to its big input (Dask once sent a unit's 40 MB to the other
                # worker, which then did both units' writes)
                held = client.who_has(unit_f)
                wb_f = [client.submit(_write_block, range_f[p], str(where), p, width, *sizes_f,
                                      key=f"ec-wblock-{tag}-{p}", **_near(ws[p % len(ws)] if ws else None))
                        for p in range(P)]
                wf_f = [client.submit(_write_facets, unit_f[i], route_f[i], str(where), P, *sizes_f, *ans_f[i],
                                      key=f"ec-wfacets-{tag}-{i}", **_near(next(iter(held.get(unit_f[i].key, ())), None)))
                        for i in range(T)]
                everything += wb_f + wf_f
                del sizes_f
                try:
                    written = sum(client.gather(wb_f))
                    small = client.gather(wf_f)
                except OSError:  # no room left in the shared memory after all: gather instead
                    client.cancel(wb_f + wf_f)
                    shutil.rmtree(where, ignore_errors=True)
                    where = None
                else:
                    if written != owned:
                        raise RuntimeError(f"the ranges wrote {written} cells, the units own {owned} (internal error)")
            if where is None:
                rcount_f = [client.submit(_range_count, f, key=f"ec-rcount-{tag}-{p}") for p, f in enumerate(range_f)]
                block_f = [client.submit(_range_block, f, key=f"ec-block-{tag}-{p}") for p, f in enumerate(range_f)]
                final_f = [client.submit(_final_task_flat, unit_f[i], route_f[i], P, *rcount_f, *ans_f[i],
                                         key=f"ec-final-{tag}-{i}") for i in range(T)]
                everything += block_f + final_f
                del unit_f, route_f, range_f, ans_f, rcount_f
                blocks = client.gather(block_f)
                finals = client.gather(final_f)
            else:
                del unit_f, route_f, range_f, ans_f
        else:
            Path(out).mkdir(parents=True, exist_ok=True)
            write_f = [client.submit(_write_shard, sf, str(out), p, P, domain.dim, key=f"ec-write-{tag}-{p}")
                       for p, sf in enumerate(result_f)]
            everything += write_f
            results = client.gather(write_f)
        if out is not None:
            write_index(out, net, domain, ro, [tuple(int(x) for x in r) for r in results], force=force)
            return load_sharded(out)
        if where is not None and small is not None:
            return _assemble_shared(where, owned, facets, small, net, domain, ro, time.perf_counter() - t0)
    except BaseException:
        client.cancel(everything)
        raise
    finally:
        if where is not None:
            shutil.rmtree(where, ignore_errors=True)
    return _assemble_gathered(blocks, finals, net, domain, ro, time.perf_counter() - t0)


def _near(worker: str | None) -> dict[str, Any]:
    """Submit options preferring ``worker`` (a loose restriction: any other worker when it is gone)."""
    return {} if worker is None else {"workers": [worker], "allow_other_workers": True}


#: the expected one-process memory of a unit (:func:`estimate_memory`) is kept below this
UNIT_BYTES = 4 * 2**30


def _unit_count(net: Network, dim: int, refine: str | None, workers: int, tasks_per_worker: int) -> int:
    """``workers * tasks_per_worker`` units, more (a multiple of ``workers``) when the expected
    memory of the whole build (:func:`estimate_memory`) divided among them would exceed
    :data:`UNIT_BYTES` each."""
    wo = refine is not None
    need = -(-estimate_memory(estimate_cells(net, dim, wo, refine), net, dim, wo, refine) // UNIT_BYTES)
    want = workers * tasks_per_worker
    return want if need <= want else -(-need // workers) * workers


def _final_task_flat(r: dict[str, Any], route: dict[str, Any], P: int, *rest: Any) -> dict[str, Any]:
    return _final_task(r, route, list(rest[:P]), *rest[P:])


def _watch_units(count_f: Sequence[Any], max_cells: int | None, task_stats: list[dict[str, Any]] | None,
                 progress: bool, t0: float) -> tuple[int, int]:
    """Wait for the unit tasks' counts; stop as soon as the owned cells pass ``max_cells``
    (every cell is owned by one unit: the running sum is a lower bound, the final one exact)."""
    from distributed import as_completed

    owned = 0
    facets = 0
    done = 0
    for f in as_completed(count_f):
        st = f.result()
        if task_stats is not None:
            task_stats.append({k: v for k, v in st.items() if k != "sample"})
        owned += st["owned"]
        facets += st.get("facets", 0)
        done += 1
        if max_cells is not None and owned > max_cells:
            raise CellLimitExceeded(
                f"stopped after {done} of {len(count_f)} units (one task each): the complex has at least "
                f"{owned} cells, more than max_cells = {max_cells}")
        if progress:
            sys.stderr.write(f"exactcells: {done}/{len(count_f)} unit tasks, {time.perf_counter() - t0:.1f} s\n")
    return owned, facets


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


def certify_on_cluster(path: str | Path, client: Client, volumes: bool = False) -> dict[str, Any]:
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
