"""The passes of the distributed build after the units (exactcells.parallel): the compiled ones
(``_cutc``: ``sort_rows``, ``key_ranges``, ``unpack_signs``, ``place_facets``) against numpy
recomputations, and the whole gathered pipeline run task by task in this process, with and
without the compiled passes, through shared files and through the client's assembly, against
the one-process build on degenerate and generic networks (1-D to 4-D, argmax)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from net_strategies import random_net

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells import parallel as par
from exactcells.build import output_refinement
from exactcells.kernel import compiled_passes

EXT = compiled_passes()
needs_ext = pytest.mark.skipif(EXT is None, reason="the compiled passes are not built")
Same = Callable[[PolyhedralComplex, PolyhedralComplex], None]



NETS = {
    # coincident first-layer neurons, a dead one, hyperplanes through the box's corners and one point
    "degenerate": network_from_dict({"layers": [
        {"W": [[1, 0], [1, 0], [0, 0], [1, 1], [1, -1], [2, 1]], "b": [0, 0, 1, 0, 0, 0]},
        {"W": [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, -1, 0], [1, 1, 0, 0, 0, -1]], "b": [0, 0, 0]},
        {"W": [[1, -1, 1], [0, 1, 1]], "b": [0, -1]}]}),
    # a first-layer neuron through a vertex of the others' arrangement
    "through-vertex": network_from_dict({"layers": [
        {"W": [[1, 0], [0, 1], [1, 1], [1, 1], [0, 0]], "b": [0, 0, 0, 0, -1]},
        {"W": [[1, -1, 1, 0, 1], [0, 1, 1, -1, 0]], "b": [0, "1/2"]}, {"W": [[1, -1]], "b": [0]}]}),
    "1-d": random_net(5, (1, 5, 4, 1)),
    "3-d": random_net(1, (3, 5, 4, 1)),
    "4-d": random_net(6, (4, 3, 3, 1)),
    "argmax": random_net(2, (2, 4, 3, 3)),
    "generic-2d": random_net(0, (2, 9, 7, 1)),
}


def _keys_from(draw_rows: int, width: int, seed: int, shared_prefix: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 3, (draw_rows, width)).astype(np.uint8)
    keys[draw_rows // 2 :] = keys[: draw_rows - draw_rows // 2]  # repeated rows
    if shared_prefix:
        keys[:, : min(width, 9)] = 7  # long runs of equal first words
    return keys


@needs_ext
@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(0, 300), st.integers(0, 2**32 - 1), st.booleans())
def test_sort_rows_is_the_stable_byte_order(width: int, rows: int, seed: int, shared_prefix: bool) -> None:
    """The compiled sort's order is numpy's stable sort of the rows as byte strings, its rows are
    the rows in that order, and it says whether they are distinct (also with the repeats
    removed: then they are)."""
    keys = _keys_from(rows, width, seed, shared_prefix)
    order, srt, distinct = EXT.sort_rows(keys)
    ref = np.argsort(par._void(keys), kind="stable")
    assert np.array_equal(order, ref)
    assert np.array_equal(srt, keys[ref])
    assert distinct == (len({r.tobytes() for r in keys}) == rows)
    u = np.unique(par._void(keys))
    ukeys = np.frombuffer(u.tobytes(), dtype=np.uint8).reshape(-1, width)[::-1].copy()
    order, srt, distinct = EXT.sort_rows(ukeys)
    assert distinct and np.array_equal(order, np.arange(ukeys.shape[0])[::-1])


@needs_ext
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(0, 200), st.integers(0, 6), st.integers(0, 2**32 - 1))
def test_key_ranges_count_the_splitters_at_or_below(width: int, rows: int, S: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 3, (rows, width)).astype(np.uint8)
    pool = np.concatenate([keys, rng.integers(0, 3, (S, width)).astype(np.uint8)])
    spl = pool[rng.integers(0, pool.shape[0], S)] if pool.shape[0] else pool[:0]
    spl = spl[np.argsort(par._void(spl), kind="stable")]
    got = EXT.key_ranges(keys, np.ascontiguousarray(spl))
    want = [sum(1 for s in spl if s.tobytes() <= k.tobytes()) for k in keys]
    assert got.tolist() == want


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 45), st.integers(0, 50), st.integers(0, 2**32 - 1), st.booleans())
def test_unpacking_inverts_packing(width: int, rows: int, seed: int, compiled: bool) -> None:
    """Packed keys ``(dim, packed signs)`` unpack to the signs, by the compiled pass or the table,
    into plain arrays and into rows of a larger array."""
    if compiled and EXT is None:
        pytest.skip("the compiled passes are not built")
    rng = np.random.default_rng(seed)
    signs = rng.integers(-1, 2, (rows, width)).astype(np.int8)
    dims = rng.integers(0, 4, rows).astype(np.int8)
    keys = par._keys(dims, (signs + 1).astype(np.int8))
    with pytest.MonkeyPatch.context() as mp:
        if not compiled:
            mp.setattr(par, "compiled_passes", lambda: None)
        out = np.full((rows + 2, width), 9, dtype=np.int8)
        par._unpack_into(out[1 : rows + 1], keys, 1)
        assert np.array_equal(out[1 : rows + 1], signs) and (out[0] == 9).all() and (out[-1] == 9).all()
        assert np.array_equal(par._unpack(np.ascontiguousarray(keys[:, 1:]), width), signs)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_facet_lists_are_placed_ascending(compiled: bool, seed: int) -> None:
    """Each chosen cell's facets in global indices, ascending, at its start (lists longer than
    32 included), nothing else written; a facet without a global index is an internal error."""
    if compiled and EXT is None:
        pytest.skip("the compiled passes are not built")
    rng = np.random.default_rng(seed)
    N = 100
    counts = rng.integers(0, 6, N)
    counts[rng.integers(0, N, 3)] = rng.integers(33, 80, 3)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = np.concatenate([rng.choice(N, int(c), replace=False) for c in counts]).astype(np.int64)
    gid = rng.permutation(5 * N)[:N].astype(np.int64)
    cells = np.sort(rng.choice(N, 60, replace=False)).astype(np.int64)
    c = counts[cells]
    gap = rng.integers(0, 3, cells.size)
    starts = 7 + np.cumsum(c + gap) - c  # the lists' places, with gaps between them
    out = np.full(int(starts[-1] + c[-1]) + 3 - 7, -5, dtype=np.int64)
    with pytest.MonkeyPatch.context() as mp:
        if not compiled:
            mp.setattr(par, "compiled_passes", lambda: None)
        par._place_facets({"indptr": indptr, "flat": flat}, cells, gid, c, starts, 7, out)
        want = np.full_like(out, -5)
        for j, cell in enumerate(cells.tolist()):
            lst = sorted(gid[flat[indptr[cell] : indptr[cell + 1]]].tolist())
            want[starts[j] - 7 : starts[j] - 7 + len(lst)] = lst
        assert np.array_equal(out, want)
        bad = gid.copy()
        bad[flat[indptr[cells[np.flatnonzero(c)[-1]]]]] = -1
        with pytest.raises(RuntimeError, match="no global index"):
            par._place_facets({"indptr": indptr, "flat": flat}, cells, bad, c, starts, 7, out)


def _pipeline(net: Any, with_output: bool, T: int, P: int, where: Path | None) -> PolyhedralComplex:
    """``build_on_cluster``'s gathered build, every task called in turn in this process."""
    dom = Domain.box(net.input_dim)
    ro = output_refinement(net, with_output, None)
    groups = par.plan_groups(net, dom, ro, T)
    shipped = par._ship_network(net)
    units = [par._group_task(g, shipped, dom, ro, None) for g in groups]
    summaries = [par._group_summary(u) for u in units]
    split = par._summary_splitters(P, *summaries)
    routes = [par._route(u, split) for u in units]
    width = net.num_hidden + dom.num_facets + (net.output_dim if ro is not None else 0)
    ranges = [par._range_task(width, *[r["msgs"][p] for r in routes]) for p in range(P)]
    owned = sum(s["owned"] for s in summaries)
    facets = sum(s["facets"] for s in summaries)
    if where is None:
        counts = [par._range_count(rr) for rr in ranges]
        finals = [par._final_task(u, r, counts, *[rr["answers"][i] for rr in ranges])
                  for i, (u, r) in enumerate(zip(units, routes))]
        return par._assemble_gathered([par._range_block(rr) for rr in ranges], finals, net, dom, ro, 0.0)
    assert par._reserve_shared(where, owned, facets, width)
    sizes = [par._range_sizes(rr) for rr in ranges]
    assert sum(par._write_block(ranges[p], str(where), p, width, *sizes) for p in range(P)) == owned
    small = [par._write_facets(u, r, str(where), P, *sizes, *[rr["answers"][i] for rr in ranges])
             for i, (u, r) in enumerate(zip(units, routes))]
    return par._assemble_shared(where, owned, facets, small, net, dom, ro, 0.0)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("name", sorted(NETS))
def test_gathered_pipeline_in_one_process(name: str, compiled: bool, tmp_path: Path, assert_same_complex: Same,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Units, routes, range sorts, and both assemblies (shared files written by the tasks, or
    the client's) give the one-process complex, coordinates included, for 1 to 3 units and
    ranges, with the compiled passes and with their numpy fallbacks."""
    if compiled and EXT is None:
        pytest.skip("the compiled passes are not built")
    if not compiled:
        monkeypatch.setattr(par, "compiled_passes", lambda: None)
    net = NETS[name]
    for with_output in (False, True):
        K = build_complex(net, with_output=with_output)
        for T, P in ((1, 1), (2, 2), (3, 2), (2, 3)):
            assert_same_complex(K, _pipeline(net, with_output, T, P, None))
            where = tmp_path / f"{with_output}-{T}-{P}"
            where.mkdir()
            assert_same_complex(K, _pipeline(net, with_output, T, P, where))


def test_a_cell_reported_twice_is_an_internal_error() -> None:
    keys = np.array([[1, 2, 3], [0, 9, 9], [1, 2, 3]], dtype=np.uint8)
    msg = (keys, keys[:0], np.ones(3, dtype=np.int32))
    with pytest.raises(RuntimeError, match="reported by two units"):
        par._range_task(8, msg)


@pytest.mark.parametrize("name", sorted(NETS))
def test_top_vertices_are_the_closures_vertices(name: str) -> None:
    """The planning's (top cell, vertex) pairs are exactly the vertices of each top cell's
    closure (:func:`exactcells.build._closure`, one top cell at a time), each pair once."""
    from exactcells.build import _closure

    net = NETS[name]
    dom = Domain.box(net.input_dim)
    ro = output_refinement(net, True, None)
    for start in range(0, 4):
        lat = par._planning_lattice(net, dom, ro, min(start, len(net.layers[0].b)))
        tops, verts = lat.ids(lat.n), lat.ids(0)
        top, vr = par._top_vertices(lat, tops, verts)
        got = sorted(zip(top.tolist(), vr.tolist()))
        vset = set(verts.tolist())
        want = sorted((i, int(np.searchsorted(verts, v))) for i, t in enumerate(tops.tolist())
                      for v in _closure(lat, [t]) if v in vset)
        assert np.all(np.diff(verts) > 0) and got == want


@needs_ext
@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 50), st.integers(0, 2**32 - 1), st.booleans())
def test_pack_rows_is_the_key_packing(K: int, rows: int, seed: int, runs: bool) -> None:
    """The compiled packing of chosen columns (runs of consecutive ones, or scattered and
    repeated) gives the bytes of ``_keys`` of those columns."""
    rng = np.random.default_rng(seed)
    width = K + 5
    sig = rng.integers(0, 3, (rows, width)).astype(np.int8)
    dims = rng.integers(0, 5, rows).astype(np.int8)
    cols = (np.arange(K) + int(rng.integers(0, 6)) if runs else rng.integers(0, width, K)).astype(np.int64)
    got = EXT.pack_rows(dims, sig, cols)
    assert np.array_equal(got, par._keys(dims, np.ascontiguousarray(sig[:, cols])))
