"""The PolyhedralComplex object and its file format: exact save/load round trip, refusals."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exactcells import (
    Domain,
    PolyhedralComplex,
    build_complex,
    load_complex,
    network_from_dict,
    round_network,
)
from exactcells.complex import FORMAT_NAME, FORMAT_VERSION
from exactcells.errors import ExactCellsError, FormatError, OutputExistsError

F = Fraction
GRID = {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]}


def _complexes() -> list[PolyhedralComplex]:
    net = network_from_dict({"layers": [
        {"W": [[1, "1/3", -1], [0.1, 2, "0.7"], [-1, 1, 1], [3, 0, 1]], "b": ["1/7", 0, "-0.2", 1]},
        {"W": [[1, -1, 2, 0], [0, 1, 1, -1]], "b": ["1/2", 0]},
        {"W": [[1, -1]], "b": ["0.05"]}]})
    octahedron = Domain([[s1, s2, s3] for s1 in (-1, 1) for s2 in (-1, 1) for s3 in (-1, 1)],
                        ["3/2"] * 8)
    return [
        build_complex(network_from_dict(GRID)),
        build_complex(net, Domain.box(3, ["-1/2", -1, 0], [1, "1/3", 2]), with_output=True),
        build_complex(round_network(net, 5), octahedron),
    ]


def _same(K1: PolyhedralComplex, K2: PolyhedralComplex) -> None:
    assert K1.f_vector == K2.f_vector and K1.with_output == K2.with_output
    assert K1.dims.dtype == K2.dims.dtype == np.int8
    assert K1.signs.dtype == K2.signs.dtype == np.int8
    assert np.array_equal(K1.dims, K2.dims) and np.array_equal(K1.signs, K2.signs)
    for a, b in zip(K1.facet_csr, K2.facet_csr):
        assert np.array_equal(a, b)
    f0 = K1.f_vector[0]
    assert [K1.vertex_homogeneous(v) for v in range(f0)] == [K2.vertex_homogeneous(v) for v in range(f0)]
    assert [K1.vertex(v) for v in range(f0)] == [K2.vertex(v) for v in range(f0)]
    assert K1.network == K2.network and K1.network.rounding == K2.network.rounding
    assert K1.domain == K2.domain


@pytest.mark.parametrize("which", range(3))
def test_save_load_round_trip_is_exact(tmp_path: Path, which: int) -> None:
    K = _complexes()[which]
    p = tmp_path / "k.npz"
    K.save(p)
    L = load_complex(p)
    _same(K, L)
    assert L.build_seconds == pytest.approx(K.build_seconds)
    # derived exact quantities agree too
    assert L.region_volumes() == K.region_volumes()
    assert [L.interior_point(i) for i in range(L.num_cells)] == [K.interior_point(i) for i in range(K.num_cells)]
    assert L.summary() == K.summary()
    # and a second round trip is byte-for-byte the same file (fixed timestamps, same arrays)
    q = tmp_path / "k2.npz"
    L.save(q)
    _same(L, load_complex(q))
    assert q.read_bytes() == p.read_bytes()


def test_loading_does_not_recompute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import exactcells.build as build

    K = _complexes()[1]
    p = tmp_path / "k.npz"
    K.save(p)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load_complex must not rebuild the complex")

    monkeypatch.setattr(build, "_refine", boom)
    monkeypatch.setattr(build, "build_complex", boom)
    _same(K, load_complex(p))


def test_file_contents_follow_the_documented_format(tmp_path: Path) -> None:
    K = build_complex(network_from_dict(GRID))
    p = tmp_path / "k.npz"
    K.save(p)
    with np.load(p, allow_pickle=False) as data:
        assert set(data.files) == {"meta", "dims", "signs", "facet_indptr", "facet_indices", "vertex_coords"}
        meta = json.loads(bytes(data["meta"]).decode())
        assert meta["format"] == FORMAT_NAME == "exactcells-complex"
        assert meta["version"] == FORMAT_VERSION == 1
        assert meta["f_vector"] == [9, 12, 4] and meta["with_output"] is False
        assert network_from_dict(meta["network"]) == K.network
        assert meta["domain"] == {"box": [["-1", "1"], ["-1", "1"]]}
        lines = bytes(data["vertex_coords"]).decode().split("\n")
        assert len(lines) == 9
        # one line per vertex: D x1 ... D xn D, primitive, D > 0
        for v, line in enumerate(lines):
            h = tuple(int(t) for t in line.split())
            assert h == K.vertex_homogeneous(v) and h[-1] > 0 and math.gcd(*h) == 1


def test_save_refuses_an_existing_path_unless_forced(tmp_path: Path) -> None:
    K = build_complex(network_from_dict(GRID))
    p = tmp_path / "k.npz"
    p.write_text("precious")
    with pytest.raises(OutputExistsError, match="exists"):
        K.save(p)
    assert p.read_text() == "precious"
    K.save(p, force=True)
    _same(K, load_complex(p))
    assert sorted(q.name for q in tmp_path.iterdir()) == ["k.npz"]


def test_a_failed_save_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    K = build_complex(network_from_dict(GRID))

    def fail_midway(f: Any, *args: Any, **kwargs: Any) -> None:
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    import exactcells.io

    monkeypatch.setattr(exactcells.io, "write_npz", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        K.save(tmp_path / "k.npz")
    assert list(tmp_path.iterdir()) == []
    # an existing file survives a failed forced overwrite untouched
    (tmp_path / "k.npz").write_text("old")
    with pytest.raises(OSError):
        K.save(tmp_path / "k.npz", force=True)
    assert (tmp_path / "k.npz").read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["k.npz"]


def _rewrite(src: Path, dst: Path, meta: Any = None, drop: str | None = None, **arrays: Any) -> Path:
    with np.load(src, allow_pickle=False) as data:
        d = {k: data[k] for k in data.files}
    if meta is not None:
        d["meta"] = np.frombuffer(meta if isinstance(meta, bytes) else json.dumps(meta).encode(),
                                  dtype=np.uint8)
    if drop:
        del d[drop]
    d.update(arrays)
    np.savez(dst, **d)
    return dst


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    K = build_complex(network_from_dict(GRID))
    p = tmp_path / "k.npz"
    K.save(p)
    with np.load(p) as data:
        meta = json.loads(bytes(data["meta"]).decode())
    return p, meta


@pytest.mark.parametrize("change, word", [
    ({"format": "something-else"}, "not an exactcells complex"),
    ({"format": None}, "not an exactcells complex"),
    ({"version": 2}, "version 2 is not supported"),
    ({"version": 0}, "version 0"),
    ({"version": "1"}, "version"),
])
def test_loading_refuses_wrong_format_or_version(saved: tuple[Path, dict[str, Any]], change: dict[str, Any],
                                                 word: str) -> None:
    p, meta = saved
    bad = _rewrite(p, p.with_name("bad.npz"), meta={**meta, **change})
    with pytest.raises(FormatError, match=word):
        load_complex(bad)


def test_loading_refuses_other_files(tmp_path: Path, saved: tuple[Path, dict[str, Any]]) -> None:
    p, _ = saved
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(FormatError, match="not a readable"):
        load_complex(garbage)
    with pytest.raises(FormatError):
        load_complex(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, W0=np.ones((2, 2)))
    with pytest.raises(FormatError, match="meta"):
        load_complex(other)
    with pytest.raises(FormatError, match="meta"):
        load_complex(_rewrite(p, tmp_path / "badmeta.npz", meta=b"{not json"))
    with pytest.raises(FormatError, match="meta"):
        load_complex(_rewrite(p, tmp_path / "badutf.npz", meta=b"\xff\xfe"))
    net = tmp_path / "net.json"
    net.write_text(json.dumps(GRID))
    with pytest.raises(FormatError):
        load_complex(net)


CORRUPT = [
    ("an array is missing", {"drop": "dims"}),
    ("vertex_coords is missing", {"drop": "vertex_coords"}),
    ("a meta key is missing", {"meta_drop": "network"}),
    ("meta is not an object", {"meta": [1, 2]}),
    ("vertex text is not integers", {"vertex_coords": np.frombuffer(b"1 2 x", dtype=np.uint8)}),
    ("signs have too few rows", {"signs_rows": 3}),
]


@pytest.mark.parametrize("what, how", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_loading_refuses_corrupt_content(saved: tuple[Path, dict[str, Any]], what: str,
                                         how: dict[str, Any]) -> None:
    p, meta = saved
    kw: dict[str, Any] = {}
    if "drop" in how:
        kw["drop"] = how["drop"]
    if "meta_drop" in how:
        kw["meta"] = {k: v for k, v in meta.items() if k != how["meta_drop"]}
    if "meta" in how:
        kw["meta"] = how["meta"]
    if "vertex_coords" in how:
        kw["vertex_coords"] = how["vertex_coords"]
    if "signs_rows" in how:
        with np.load(p) as data:
            kw["signs"] = data["signs"][: how["signs_rows"]]
    bad = _rewrite(p, p.with_name("corrupt.npz"), **kw)
    with pytest.raises(FormatError):
        load_complex(bad)


# -- the complex object --------------------------------------------------------------------

def test_cells_lookup_and_relations() -> None:
    K = build_complex(network_from_dict(GRID))
    assert K.f_vector == (9, 12, 4) and K.num_cells == 25 and len(K) == 25
    assert K.input_dim == 2 and K.num_regions == 4 and K.euler_characteristic == 1
    assert K.cells_of_dim(0) == range(0, 9) and K.cells_of_dim(1) == range(9, 21)
    assert K.regions() == range(21, 25) and K.cells_of_dim(3) == range(0)
    sl = K.sign_slices()
    assert sl == {"neurons": slice(0, 2), "domain_facets": slice(2, 6), "outputs": slice(6, 6)}
    # the centre: both neurons 0, inside the square
    c = K.index_of((0, 0, 1, 1, 1, 1))
    assert K.dim(c) == 0 and K.vertex(c) == (0, 0)
    assert (0, 0, 1, 1, 1, 1) in K and (1, 1, 0, 1, 1, 1) not in K and "junk" not in K
    with pytest.raises(KeyError, match="no cell"):
        K.index_of((1, 1, 0, 1, 1, 1))  # x > 0 on the facet x = -1
    cell = K.cell(c)
    assert cell.index == c and cell.dim == 0 and cell.vertices == (c,) and cell.facets == ()
    assert len(cell.cofacets) == 4  # four half-axes meet at the centre
    with pytest.raises(IndexError):
        K.cell(25)
    q = K.index_of((1, 1, 1, 1, 1, 1))  # the quadrant x > 0, y > 0
    assert K.volume(q) == 1 and K.interior_point(q) == (F(1, 2), F(1, 2))
    assert {K.vertex(v) for v in K.cell_vertices(q)} == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert K.affine_map(q) == (((1, 1),), (0,))
    assert K.volume(c) == 0
    assert [cl.index for cl in K] == list(range(25))
    assert "f_vector=(9, 12, 4)" in repr(K)


def test_csr_relations_and_hasse_diagram() -> None:
    K = _complexes()[1]
    ptr, ind = K.facet_csr
    cptr, cind = K.cofacet_csr()
    pairs = {(int(f), i) for i in range(K.num_cells) for f in ind[ptr[i] : ptr[i + 1]]}
    cpairs = {(g, int(c)) for g in range(K.num_cells) for c in cind[cptr[g] : cptr[g + 1]]}
    assert pairs == cpairs
    G = K.hasse_diagram()
    assert G.number_of_nodes() == K.num_cells
    assert set(G.edges()) == pairs
    for i in (0, K.num_cells - 1):
        assert G.nodes[i]["dim"] == K.dim(i) and G.nodes[i]["sign_vector"] == K.sign_vector(i)
    assert all(K.dim(b) == K.dim(a) + 1 for a, b in G.edges())


def test_complex_is_immutable() -> None:
    K = build_complex(network_from_dict(GRID))
    for arr in (K.dims, K.signs, *K.facet_csr, *K.cofacet_csr()):
        with pytest.raises(ValueError):
            arr[0] = 1
    with pytest.raises(AttributeError):
        K._signs = np.zeros((1, 1), dtype=np.int8)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        K.signs = K.signs  # type: ignore[misc]


def test_vertices_float_is_a_float_view() -> None:
    K = _complexes()[1]
    X = K.vertices_float()
    assert X.dtype == np.float64 and X.shape == (K.f_vector[0], 3)
    for v in (0, K.f_vector[0] - 1):
        assert X[v].tolist() == pytest.approx([float(x) for x in K.vertex(v)])


def test_max_cells_guard_stops_cleanly() -> None:
    from exactcells import CellLimitExceeded

    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "1/3"]},
                                        {"W": [[1, 1, 1]], "b": [0]}]})
    K = build_complex(net, max_cells=1000)
    with pytest.raises(CellLimitExceeded, match="max_cells = 10") as info:
        build_complex(net, max_cells=10)
    assert isinstance(info.value, ExactCellsError) and "\n" not in str(info.value)
    assert K.num_cells > 10
