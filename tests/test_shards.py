"""The sharded complex format (exactcells.shards): lossless, deterministic, read lazily."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from exactcells import PolyhedralComplex, build_complex, load_complex, network_from_dict
from exactcells.cli import main
from exactcells.errors import FormatError, OutputExistsError
from exactcells.shards import (
    INDEX_FILE,
    ShardedComplex,
    gather_shards,
    partition_of,
    shard_complex,
    shard_filename,
    write_shards,
)

Same = Callable[[PolyhedralComplex, PolyhedralComplex], None]


def _net(seed: int = 0, widths: tuple[int, ...] = (2, 6, 5, 1)) -> object:
    rng = np.random.default_rng(seed)
    return network_from_dict({"layers": [
        {"W": rng.integers(-3, 4, (b, a)).tolist(), "b": rng.integers(-2, 3, b).tolist()}
        for a, b in zip(widths[:-1], widths[1:])]})


@pytest.fixture(scope="module")
def K() -> PolyhedralComplex:
    return build_complex(_net(), with_output=True)  # type: ignore[arg-type]


def test_partition_is_a_fixed_function_of_the_sign_vector() -> None:
    rows = np.array([[1, 0, -1, 1], [0, 0, 0, 0], [-1, -1, 1, 0]], dtype=np.int8)
    a = partition_of(rows, 7)
    assert a.tolist() == partition_of(rows.copy(), 7).tolist()
    assert a.tolist() == [int(partition_of(r[None, :], 7)[0]) for r in rows]  # row by row = batch
    assert partition_of(rows, 1).tolist() == [0, 0, 0]
    # the hash is part of the format (README): recomputed here with Python integers, and pinned
    assert [_reference_hash(r.tolist(), 7) for r in rows] == a.tolist() == [6, 6, 2]
    assert partition_of(rows, 1000003).tolist() == [111522, 151450, 940094]
    assert [_reference_hash(r.tolist(), 1000003) for r in rows] == [111522, 151450, 940094]


def _reference_hash(signs: list[int], P: int) -> int:
    M = (1 << 64) - 1

    def splitmix(x: int) -> int:
        x = (x + 0x9E3779B97F4A7C15) & M
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
        return x ^ (x >> 31)

    h = sum((s + 1) * splitmix(k + 1) for k, s in enumerate(signs)) & M
    h ^= h >> 29
    h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 32
    return h % P


@pytest.mark.parametrize("P", [1, 2, 7])
def test_shards_gather_back_to_the_same_complex(K: PolyhedralComplex, P: int, assert_same_complex: Same) -> None:
    shards = shard_complex(K, P)
    assert sum(s.num_cells for s in shards) == K.num_cells
    assert_same_complex(K, gather_shards(shards, K.network, K.domain, K.output_refinement))
    # every cell sits in the shard its sign vector hashes to, in canonical order
    for p, s in enumerate(shards):
        assert (partition_of(s.signs, P) == p).all()
        keys = [(int(d), tuple(r)) for d, r in zip(s.dims, s.signs.tolist())]
        assert keys == sorted(keys)


def test_directory_is_read_lazily(K: PolyhedralComplex, tmp_path: Path, assert_same_complex: Same) -> None:
    d = tmp_path / "K"
    write_shards(K, d, partitions=5)
    S = load_complex(d)
    assert isinstance(S, ShardedComplex)
    assert S.f_vector == K.f_vector and S.euler_characteristic == 1
    assert S.loaded_shards() == ()  # counts come from the index alone
    i = K.num_cells // 2
    cid = S.index_of(K.sign_vector(i))
    assert len(S.loaded_shards()) == 1  # one lookup reads one shard
    assert S.sign_vector(cid) == K.sign_vector(i) and S.dim(cid) == K.dim(i)
    assert sorted(S.sign_vector(f) for f in S.facets(cid)) == sorted(K.sign_vector(f) for f in K.facets(i))
    assert K.sign_vector(i) in S and (9,) * 3 not in S
    with pytest.raises(KeyError):
        S.index_of([2] * K.signs.shape[1])
    for k in range(K.input_dim + 1):
        got = sorted(S.sign_vector(c) for c in S.cells_of_dim(k))
        assert got == [K.sign_vector(j) for j in K.cells_of_dim(k)]
    v = next(iter(S.cells_of_dim(0)))
    assert S.vertex_homogeneous(v) == K.vertex_homogeneous(K.index_of(S.sign_vector(v)))
    assert_same_complex(K, S.to_complex())
    assert S.summary()["f_vector"] == list(K.f_vector)


def test_shard_files_are_deterministic(K: PolyhedralComplex, tmp_path: Path) -> None:
    write_shards(K, tmp_path / "a", partitions=3)
    write_shards(build_complex(K.network, with_output=True), tmp_path / "b", partitions=3)
    for name in [INDEX_FILE] + [shard_filename(p) for p in range(3)]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with pytest.raises(OutputExistsError):
        write_shards(K, tmp_path / "a", partitions=3)
    write_shards(K, tmp_path / "a", partitions=3, force=True)


def test_bad_directories_are_format_errors(K: PolyhedralComplex, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="index.json"):
        load_complex(tmp_path)
    d = tmp_path / "K"
    write_shards(K, d, partitions=2)
    rec = json.loads((d / INDEX_FILE).read_text())
    (d / INDEX_FILE).write_text(json.dumps({**rec, "version": 99}))
    with pytest.raises(FormatError, match="version 99"):
        load_complex(d)
    (d / INDEX_FILE).write_text(json.dumps(rec))
    (d / shard_filename(1)).write_bytes(b"not a zip")
    S = load_complex(d)
    assert isinstance(S, ShardedComplex)
    with pytest.raises(FormatError, match="shard"):
        list(S.cells_of_dim(0))
    # a shard from another partition count is refused
    write_shards(K, tmp_path / "other", partitions=3)
    (d / shard_filename(1)).write_bytes((tmp_path / "other" / shard_filename(1)).read_bytes())
    with pytest.raises(FormatError, match="expected shard 1 of 2"):
        load_complex(d).shard(1)  # type: ignore[union-attr]
    # a sign entry that is not -1, 0 or 1 (read as a sign, it would pass for one)
    write_shards(K, tmp_path / "signs", partitions=2)
    f = tmp_path / "signs" / shard_filename(0)
    with np.load(f, allow_pickle=False) as data:
        arrs = {k: data[k] for k in data.files}
    arrs["signs"][-1, 0] = 5
    np.savez(f, **arrs)
    with pytest.raises(FormatError, match="not -1, 0 or 1"):
        load_complex(tmp_path / "signs").shard(0)  # type: ignore[union-attr]


def test_cli_out_and_certify_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(_net(3, (2, 4, 3, 1)).to_dict()))  # type: ignore[attr-defined]
    d = tmp_path / "K"
    assert main(["cells", str(net_file), "--out", str(d), "--partitions", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["partitions"] == 3 and out["sharded"] == str(d)
    assert main(["cells", str(net_file), "--out", str(d)]) == 2  # exists: --force needed
    assert "--force" in capsys.readouterr().err
    assert main(["certify", str(net_file), "--complex", str(d), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["certified"] is True


def _flip_vertex_sign(d: Path, K: PolyhedralComplex, partitions: int) -> None:
    """Damage shard 0 in place: one vertex's sign vector wrong in its last hidden entry."""
    from exactcells.shards import Shard, load_shard

    s = load_shard(d / shard_filename(0), 0, partitions, K.signs.shape[1], K.input_dim)
    signs = s.signs.copy()
    col = K.network.num_hidden - 1
    signs[0, col] = -1 if signs[0, col] >= 0 else 1
    Shard(s.dims, signs, s.facet_indptr, s.facet_shard, s.facet_local, s.vertex_coords).save(
        d / shard_filename(0), 0, partitions, force=True)


@pytest.fixture
def sharded_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, PolyhedralComplex]:
    """A network file and its complex written by ``cells NET --out DIR`` (3 shards, one process).
    Gathering a sharded complex is made to fail, so a test passes only if nothing is gathered."""
    import exactcells.shards as shards_module

    net = _net(3, (2, 4, 3, 1))
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(net.to_dict()))  # type: ignore[attr-defined]
    d = tmp_path / "K"
    assert main(["cells", str(net_file), "--out", str(d), "--partitions", "3", "--jobs", "1", "--quiet"]) == 0

    def no_gathering(*a: object, **k: object) -> None:
        raise AssertionError("the sharded complex was gathered")

    monkeypatch.setattr(shards_module, "gather_shards", no_gathering)
    monkeypatch.setattr(ShardedComplex, "to_complex", no_gathering)
    return net_file, d, build_complex(net)  # type: ignore[arg-type]


def test_cli_certifies_a_sharded_directory_without_gathering_it(
        sharded_cli: tuple[Path, Path, PolyhedralComplex], capsys: pytest.CaptureFixture[str]) -> None:
    from exactcells.certify import certify

    net_file, d, K = sharded_cli
    capsys.readouterr()
    assert main(["certify", str(d), "--quiet", "--volumes"]) == 0  # the index's network and domain
    text = capsys.readouterr().out
    assert text.startswith(f"CERTIFIED: f-vector {K.f_vector}, {K.num_cells} cells, Euler characteristic 1")
    assert "volumes: sum 4, domain 4" in text and "[FAIL]" not in text
    for check in ("shard_keys", "vertex_signs", "facet_links", "cell_signs", "intervals", "walls", "cofacets",
                  "euler_characteristic", "volumes"):
        assert f"[ok] {check}:" in text
    assert "not checked on shards: affine dimensions, completeness by cddlib" in text
    assert main(["certify", str(net_file), "--complex", str(d), "--json", "--quiet", "--jobs", "1",
                 "--volumes"]) == 0
    out = json.loads(capsys.readouterr().out)
    one = certify(K, jobs=1, volumes=True).to_dict()
    # the one-process certificate's report: same keys and totals; checks as the shards run them
    assert set(one) <= set(out) and out["sharded"] == str(d) and out["shards"] == 3
    for key in ("certified", "f_vector", "num_cells", "euler_characteristic", "total_volume", "domain_volume",
                "architecture", "domain", "failure_counts", "failures"):
        assert out[key] == one[key], key
    c = out["checks"]
    for name in ("vertex_signs", "facet_links", "cell_signs", "intervals", "walls", "euler_characteristic",
                 "volumes"):  # the same items as the one-process certificate
        assert c[name]["checked"] == one["checks"][name]["checked"] and c[name]["passed"], name
    assert c["vertex_signs"]["checked"] == K.f_vector[0] and c["walls"]["checked"] == K.f_vector[-2]
    assert c["facet_links"]["checked"] == K.facet_csr[1].shape[0] and c["volumes"]["checked"] == K.num_regions
    assert c["shard_keys"]["checked"] == K.num_cells
    for flags in (["--no-volumes"], []):  # the default is the structural proof
        assert main(["certify", str(d), *flags, "--json", "--quiet"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert "volumes" not in out["checks"] and out["total_volume"] is None
        assert "region volumes" in out["not_checked"]


def test_cli_sharded_certificate_fails_cleanly_on_damage(
        sharded_cli: tuple[Path, Path, PolyhedralComplex], capsys: pytest.CaptureFixture[str]) -> None:
    net_file, d, K = sharded_cli
    _flip_vertex_sign(d, K, 3)
    capsys.readouterr()
    assert main(["certify", str(d), "--json", "--quiet", "--jobs", "1"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] is False and out["failure_counts"].get("vertex_moved") == 1
    assert out["checks"]["vertex_signs"]["passed"] is False and out["checks"]["vertex_signs"]["failures"] == 1
    assert any(f["kind"] == "vertex_moved" and "forward pass" in f["message"] for f in out["failures"])
    assert main(["certify", str(d), "--quiet"]) == 1
    assert capsys.readouterr().out.startswith("NOT CERTIFIED:")
    # a shard that is no shard file: a clear error naming it, exit code 2, no traceback
    (d / shard_filename(1)).write_bytes(b"not a zip")
    assert main(["certify", str(d), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{d / shard_filename(1)}: not a readable exactcells shard" in err and "Traceback" not in err
    # a truncated shard (a zip's first bytes: numpy hands it to zipfile, which raises BadZipFile)
    (d / shard_filename(1)).write_bytes((d / shard_filename(0)).read_bytes()[:500])
    assert main(["certify", str(d), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{d / shard_filename(1)}: not a readable exactcells shard" in err and "Traceback" not in err
    # the complex of another network, or on another domain, is not certified against it
    other = net_file.with_name("other.json")
    rec = json.loads(net_file.read_text())
    rec["layers"][0]["b"][0] = str(Fraction(rec["layers"][0]["b"][0]) + 1)
    other.write_text(json.dumps(rec))
    assert main(["certify", str(other), "--complex", str(d), "--json", "--quiet"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] is False and "different network" in out["failures"][0]["message"]
    assert main(["certify", str(net_file), "--complex", str(d), "--box", "-1", "2", "--quiet"]) == 1
    assert "another domain" in capsys.readouterr().out
    # options the sharded certificate does not have are refused
    assert main(["certify", str(d), "--cdd", "3", "--quiet"]) == 2
    assert "--cdd: not available on a sharded directory" in capsys.readouterr().err
    assert main(["certify", str(d), "--box", "0", "1", "--quiet"]) == 2
    assert "--box cannot be used" in capsys.readouterr().err


def test_cli_sharded_certificate_on_dask_gives_the_same_report(
        sharded_cli: tuple[Path, Path, PolyhedralComplex], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    net_file, d, K = sharded_cli
    _flip_vertex_sign(d, K, 3)
    capsys.readouterr()
    assert main(["certify", str(d), "--json", "--quiet", "--jobs", "1"]) == 1
    one = json.loads(capsys.readouterr().out)
    assert main(["certify", str(d), "--json", "--quiet", "--jobs", "2"]) == 1
    two = json.loads(capsys.readouterr().out)
    for key in ("certified", "f_vector", "euler_characteristic", "total_volume", "failure_counts", "failures"):
        assert one[key] == two[key], key
    assert {k: (v["passed"], v["checked"], v["failures"]) for k, v in one["checks"].items()} == \
        {k: (v["passed"], v["checked"], v["failures"]) for k, v in two["checks"].items()}


@pytest.mark.parametrize("seed, widths", [(0, (2, 6, 5, 1)), (1, (3, 4, 3, 1)), (4, (2, 8, 8, 1)), (2, (2, 5, 2))])
def test_z2_betti_from_shards_equals_homology_of_the_gathered_complex(seed: int, widths: tuple[int, ...],
                                                                      tmp_path: Path) -> None:
    from exactcells.shards import z2_betti
    from exactcells.topology.homology import homology
    from exactcells.topology.subcomplex import decision_boundary

    K = build_complex(_net(seed, widths), with_output=True, refine="zero")  # type: ignore[arg-type]
    write_shards(K, tmp_path / "K", partitions=3)
    S = load_complex(tmp_path / "K")
    assert isinstance(S, ShardedComplex)
    assert z2_betti(S) == homology(K).betti == (1,) + (0,) * K.input_dim
    for j in range(K.network.output_dim):
        assert z2_betti(S, "decision_boundary", j) == homology(decision_boundary(K, j)).betti


def test_certify_shards_passes_on_a_good_complex_and_finds_damage(K: PolyhedralComplex, tmp_path: Path) -> None:
    from exactcells.shards import Shard, certify_shards, load_shard

    d = tmp_path / "K"
    write_shards(K, d, partitions=3)
    c = certify_shards(d)
    assert c["certified"], c["failures"]
    assert c["euler_characteristic"] == 1 and tuple(c["f_vector"]) == K.f_vector
    assert c["vertices_checked"] == K.f_vector[0]
    assert c["facet_incidences_checked"] == K.facet_csr[1].shape[0]
    assert c["walls_checked"] == K.f_vector[-2]
    # damage one vertex's sign vector (in place, keeping the shard's order): found by the
    # forward pass, and by the face checks of the cells above it
    s = load_shard(d / shard_filename(0), 0, 3, K.signs.shape[1], K.input_dim)
    signs = s.signs.copy()
    col = K.network.num_hidden - 1
    signs[0, col] = -1 if signs[0, col] >= 0 else 1
    bad = Shard(s.dims, signs, s.facet_indptr, s.facet_shard, s.facet_local, s.vertex_coords)
    bad.save(d / shard_filename(0), 0, 3, force=True)
    c = certify_shards(d)
    assert not c["certified"]
    assert any("forward pass" in f for f in c["failures"])
    # drop one top cell's facet list: its walls are then short of a cofacet
    write_shards(K, d, partitions=3, force=True)
    for p in range(3):
        s = load_shard(d / shard_filename(p), p, 3, K.signs.shape[1], K.input_dim)
        tops = np.flatnonzero(s.dims == K.input_dim)
        if tops.size:
            i = int(tops[0])
            a, b = int(s.facet_indptr[i]), int(s.facet_indptr[i + 1])
            ptr = s.facet_indptr.copy()
            ptr[i + 1 :] -= b - a
            bad = Shard(s.dims, s.signs, ptr, np.delete(s.facet_shard, np.s_[a:b]),
                        np.delete(s.facet_local, np.s_[a:b]), s.vertex_coords)
            bad.save(d / shard_filename(p), p, 3, force=True)
            break
    c = certify_shards(d)
    assert not c["certified"]
    assert any("top cells" in f for f in c["failures"]) and any("facets" in f for f in c["failures"])


@pytest.mark.parametrize("seed, widths, with_output, partitions",
                         [(0, (2, 6, 5, 1), True, 3), (1, (3, 4, 3, 1), False, 4), (2, (4, 3, 3, 1), True, 2),
                          (3, (3, 5, 1), False, 1)])
def test_shard_volumes_are_the_exact_volumes_of_each_shards_regions(
        seed: int, widths: tuple[int, ...], with_output: bool, partitions: int, tmp_path: Path) -> None:
    import math

    from exactcells.certify import certify
    from exactcells.shards import (
        add_volumes,
        certify_shards,
        range_splitters,
        range_volume,
        shard_volume,
        top_sample,
    )
    from exactcells.volumes import region_volumes

    K = build_complex(_net(seed, widths), with_output=with_output)  # type: ignore[arg-type]
    write_shards(K, tmp_path / "K", partitions=partitions)
    S = load_complex(tmp_path / "K")
    assert isinstance(S, ShardedComplex)
    n = K.input_dim
    # independent: the one-process face recursion on the whole complex, region by region
    vols = region_volumes(K)
    regions = list(K.regions())
    part = partition_of(K.signs[regions], partitions)
    splitters = range_splitters(3, *[top_sample(S.shard(p), n, count=5) for p in range(partitions)])
    assert 1 <= splitters.shape[0] <= 2
    results = []
    for p in range(partitions):
        r = shard_volume(S, p, splitters)
        assert r["shard"] == p and r["inconsistent"] == []
        assert r["regions"] == int(np.count_nonzero(part == p))
        # the shard's regions, each with its exact volume, in the ranges of the canonical order
        got = {bytes(k.tobytes()): Fraction(a, b * math.factorial(n))
               for keys, nus, Ls in r["pieces"] for k, a, b in zip(keys, nus, Ls)}
        want = {bytes((K.signs[c].astype(np.int16) + 1).astype(np.uint8).tobytes()): v
                for c, v, q in zip(regions, vols, part) if q == p}
        assert got == want
        results.append(r)
    # ranges: contiguous in canonical order (sign bytes), together every region once
    R = splitters.shape[0] + 1
    ranges = [sorted(bytes(k.tobytes()) for r in results for k in r["pieces"][j][0]) for j in range(R)]
    assert sum(map(len, ranges)) == len(regions)
    for j in range(R - 1):
        if ranges[j] and ranges[j + 1]:
            assert ranges[j][-1] < ranges[j + 1][0]
    sums = [range_volume(n, *[r["pieces"][j] for r in results]) for j in range(R)]
    vol_of = {bytes((K.signs[c].astype(np.int16) + 1).astype(np.uint8).tobytes()): v for c, v in zip(regions, vols)}
    for j in range(R):
        assert Fraction(*sums[j]) == sum((vol_of[k] for k in ranges[j]), Fraction(0))
    total = Fraction(*add_volumes(*sums))
    assert total == K.domain.volume() == certify(K, volumes=True).total_volume == 2 ** K.input_dim
    c = certify_shards(tmp_path / "K", volumes=True)
    assert c["certified"], c["failures"]
    assert Fraction(c["total_volume"]) == Fraction(c["domain_volume"]) == total
    assert c["regions_measured"] == K.num_regions
    assert "region volumes" not in c["not_checked"]
    assert "region volumes" in certify_shards(tmp_path / "K")["not_checked"]  # the default


def test_shard_volume_sum_disagrees_with_a_wrong_domain(K: PolyhedralComplex, tmp_path: Path) -> None:
    from exactcells.shards import certify_shards

    d = tmp_path / "K"
    write_shards(K, d, partitions=3)
    rec = json.loads((d / INDEX_FILE).read_text())
    assert rec["domain"] == {"box": [["-1", "1"], ["-1", "1"]]}
    rec["domain"] = {"box": [["-1", "1"], ["-1", "2"]]}  # the cells cover only 4 of its 6
    (d / INDEX_FILE).write_text(json.dumps(rec))
    c = certify_shards(d, volumes=True)
    assert not c["certified"]
    assert Fraction(c["domain_volume"]) == 6
    assert any(f.startswith("the top cells' exact volumes add up to") and f.endswith("the domain's volume is 6")
               for f in c["failures"])


@pytest.mark.parametrize("seed, widths", [(0, (2, 6, 5, 1)), (1, (3, 4, 3, 1))])
def test_dual_graph_and_fiedler_vector_from_shards(seed: int, widths: tuple[int, ...], tmp_path: Path) -> None:
    from exactcells.dual import dual_graph
    from exactcells.shards import dual_adjacency
    from exactcells.spectral import adjacency_matrix, fiedler

    K = build_complex(_net(seed, widths))  # type: ignore[arg-type]
    write_shards(K, tmp_path / "K", partitions=4)
    S = load_complex(tmp_path / "K")
    assert isinstance(S, ShardedComplex)
    A, ids = dual_adjacency(S)
    # node i of the sharded graph is region perm[i] of the in-memory complex
    perm = np.array([K.index_of(S.sign_vector(int(c))) for c in ids]) - K.regions().start
    assert sorted(perm.tolist()) == list(range(K.num_regions))
    B = adjacency_matrix(dual_graph(K))
    assert (A != B[perm][:, perm]).nnz == 0  # the same graph, exactly
    fa, fb = fiedler(A, method="dense"), fiedler(B, method="dense")
    assert fa.value == pytest.approx(fb.value, rel=1e-9)
    va, vb = fa.vector, fb.vector[perm]
    s = 1.0 if float(va @ vb) >= 0 else -1.0
    assert np.allclose(va, s * vb, atol=1e-8)


# -- the sharded certificate runs the one-process certificate's structural checks -------------------
#
# Corrupted complexes are assembled from cell lists (sign vectors, facet lists, coordinates) in
# canonical order and written by the shard writer, so every shard file is well formed and only the
# intended claim is wrong. Gathering is made to fail in these tests (``no_gathering``).

ZERO_NEURON = network_from_dict({"layers": [  # an identically zero neuron, three concurrent lines
    {"W": [[1, 0], [0, 1], [1, 1], [0, 0], [1, -1]], "b": [0, "1/3", "-1/2", 0, 0]},
    {"W": [[1, -1, 1, 1, 2], [0, 1, 0, 3, 1]], "b": [0, "-1/4"]}, {"W": [[1, 1]], "b": [0]}]})
CERT_NETS = {"generic-2d": (_net(0, (2, 6, 5, 1)), True), "generic-3d": (_net(1, (3, 4, 3, 1)), False),
             "degenerate-2d": (ZERO_NEURON, True), "degenerate-3d": (network_from_dict({"layers": [
                 {"W": [[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0], [1, 1, 1]], "b": [0, 0, 0, 0, 3]},
                 {"W": [[1, -1, 1, 0, 1]], "b": [0]}]}), False)}
#: the one-process checks each sharded check stands for (the others have the same name)
ONE_PROCESS_NAMES = {"shard_keys": {"format", "unique_keys"}, "cofacets": {"facet_links"}}
Cells = tuple[list[int], list[tuple[int, ...]], list[list[int]], dict[int, tuple[int, ...]]]


@pytest.fixture
def no_gathering(monkeypatch: pytest.MonkeyPatch) -> None:
    import exactcells.shards as shards_module

    def fail(*a: object, **k: object) -> None:
        raise AssertionError("the sharded complex was gathered")

    monkeypatch.setattr(shards_module, "gather_shards", fail)
    monkeypatch.setattr(ShardedComplex, "to_complex", fail)


def _cells_of(K: PolyhedralComplex) -> Cells:
    ptr, ind = K.facet_csr
    return ([int(x) for x in K.dims], [tuple(int(x) for x in r) for r in K.signs],
            [[int(x) for x in ind[ptr[i]:ptr[i + 1]]] for i in range(K.num_cells)],
            {v: K.vertex_homogeneous(v) for v in range(K.f_vector[0])})


def _assemble(K: PolyhedralComplex, cells: Cells) -> PolyhedralComplex:
    """A complex of ``K``'s network from cell lists, renumbered in canonical order."""
    dims, signs, facets, coords = cells
    N = len(dims)
    order = sorted(range(N), key=lambda i: (dims[i], signs[i]))
    new = {old: k for k, old in enumerate(order)}
    lists = [sorted(new[f] for f in facets[old]) for old in order]
    indptr = np.zeros(N + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(x) for x in lists])
    return PolyhedralComplex(
        network=K.network, domain=K.domain, with_output=K.with_output, output_refinement=K.output_refinement,
        dims=np.array([dims[i] for i in order], dtype=np.int8),
        signs=np.array([signs[i] for i in order], dtype=np.int8).reshape(N, -1), facet_indptr=indptr,
        facet_indices=np.array([f for x in lists for f in x], dtype=np.int64),
        vertex_coords=[coords[i] for i in order if dims[i] == 0])


def _both(K: PolyhedralComplex, d: Path, partitions: int = 3, volumes: bool = True) -> tuple[object, object]:
    """The one-process certificate of ``K`` and the sharded one of ``K`` written to ``d``."""
    from exactcells.certify import certify
    from exactcells.shards import certify_shards, load_sharded, sharded_certificate

    one = certify(K, jobs=1, volumes=volumes)
    write_shards(K, d, partitions=partitions)
    return one, sharded_certificate(load_sharded(d), certify_shards(d, volumes=volumes), 0.0)


def _failed(cert: object, one_process_names: bool = False) -> set[str]:
    names = {c.name for c in cert.checks if not c.passed}  # type: ignore[attr-defined]
    if one_process_names:
        return set().union(*[ONE_PROCESS_NAMES.get(x, {x}) for x in names])
    return names


@pytest.mark.parametrize("name", sorted(CERT_NETS))
def test_sharded_certificate_runs_the_one_process_checks(name: str, tmp_path: Path, no_gathering: None) -> None:
    net, with_output = CERT_NETS[name]
    K = build_complex(net, with_output=with_output)  # type: ignore[arg-type]
    one, sh = _both(K, tmp_path / "K", partitions=4)
    assert one.certified and sh.certified, sh.failures  # type: ignore[attr-defined]
    got = {c.name: c for c in sh.checks}  # type: ignore[attr-defined]
    assert set().union(*[ONE_PROCESS_NAMES.get(x, {x}) for x in got]) == {c.name for c in one.checks}  # type: ignore[attr-defined]
    for c in one.checks:  # type: ignore[attr-defined]
        if c.name in got:  # the same items examined: vertices, links, cells, edges + intervals, walls, regions
            assert got[c.name].checked == c.checked and got[c.name].passed, c.name
    n = K.input_dim
    assert got["cofacets"].checked == sum(K.f_vector[: n - 1])
    # the intervals, independently: pairs (c, r) joined by a path c -> g -> r, dim c >= 2
    ptr, ind = K.facet_csr
    pairs = {(c, r) for c in range(K.num_cells) if K.dims[c] >= 2
             for g in ind[ptr[c]:ptr[c + 1]] for r in ind[ptr[g]:ptr[g + 1]]}
    assert got["intervals"].checked == K.f_vector[1] + len(pairs)


def _named(cert: object, S: ShardedComplex, signs: tuple[int, ...], text: str) -> bool:
    """A failure naming the cell with sign vector ``signs`` (by cell id) with ``text`` in its message."""
    return any(f.cell is not None and S.sign_vector(f.cell) == signs and text in f.message  # type: ignore[attr-defined]
               for f in cert.failures)  # type: ignore[attr-defined]


def test_a_flipped_sign_entry_fails_exactly_the_join_check(tmp_path: Path, no_gathering: None) -> None:
    K = build_complex(ZERO_NEURON)  # type: ignore[arg-type]
    dims, signs, facets, coords = cells = _cells_of(K)
    # a region's entry of the identically zero neuron (0 everywhere) set to +: still a face of
    # nothing, above all its facets, hashed to its new shard by the writer; only the join is wrong
    c = max(i for i in range(len(dims)) if dims[i] == 2)
    s = list(signs[c])
    assert s[3] == 0
    s[3] = 1
    signs[c] = tuple(s)
    one, sh = _both(_assemble(K, cells), tmp_path / "K", volumes=False)
    assert _failed(sh) == {"cell_signs"} and _failed(one) == {"cell_signs"}
    assert sh.check("cell_signs").failures == 1 and sh.failure_counts == {"sign_vector_wrong": 1}  # type: ignore[attr-defined]
    assert _named(sh, ShardedComplex(tmp_path / "K"), signs[c], "the join of its vertices' sign vectors is")
    # with the volumes: the face recursion finds the wrong cell too, in both certificates
    one, sh = _both(_assemble(K, cells), tmp_path / "V", volumes=True)
    assert _failed(sh) == _failed(one) == {"cell_signs", "volumes"}


def test_a_dropped_facet_fails_exactly_the_interval_check(tmp_path: Path, no_gathering: None) -> None:
    K = build_complex(_net(1, (3, 4, 3, 1)))  # type: ignore[arg-type]
    dims, signs, facets, coords = cells = _cells_of(K)
    # a 2-cell of a 3-D complex loses one of its (five or more) edges: its join and every count
    # stay right, two intervals through the edge's vertices and those above it lose a middle element
    c = next(i for i in range(len(dims)) if dims[i] == 2 and len(facets[i]) >= 5)
    facets[c].pop(0)
    one, sh = _both(_assemble(K, cells), tmp_path / "K")
    assert _failed(sh) == _failed(one) == {"intervals"}
    assert _named(sh, ShardedComplex(tmp_path / "K"), signs[c], "has 1 middle element")
    assert sh.check("intervals").failures == one.check("intervals").failures  # type: ignore[attr-defined]


def test_a_spurious_cell_fails_exactly_the_cofacet_check(tmp_path: Path, no_gathering: None) -> None:
    K = build_complex(_net(1, (3, 4, 3, 1)))  # type: ignore[arg-type]
    dims, signs, facets, coords = cells = _cells_of(K)
    # a new vertex m, the midpoint of an edge e of a 2-cell c, and a new edge from m to a vertex w
    # of c off e: every link is a true face relation, the join of (m, w) is c's sign vector, the
    # Euler characteristic is unchanged; but the new edge lies in no higher cell
    c = next(i for i in range(len(dims)) if dims[i] == 2 and len(facets[i]) >= 4)
    e = facets[c][0]
    u, v = facets[e]
    w = next(x for f in facets[c] for x in facets[f] if x not in (u, v))
    hu, hv = coords[u], coords[v]
    N = len(dims)
    coords[N] = tuple(a * hv[-1] + b * hu[-1] for a, b in zip(hu[:-1], hv[:-1])) + (2 * hu[-1] * hv[-1],)
    dims += [0, 1]
    signs += [signs[e], signs[c]]
    facets += [[], [N, w]]
    one, sh = _both(_assemble(K, cells), tmp_path / "K")
    assert _failed(sh) == {"cofacets"} and _failed(one) == {"facet_links"} == _failed(sh, True)
    assert sh.failure_counts == one.failure_counts == {"extra_cell": 1}  # type: ignore[attr-defined]
    S = ShardedComplex(tmp_path / "K")
    assert _named(sh, S, signs[c], "of dimension 1 is in no higher cell")
    [f] = sh.failures  # type: ignore[attr-defined]
    assert S.dim(f.cell) == 1


def test_a_deleted_cofacet_fails_the_checks_the_one_process_certificate_fails(
        tmp_path: Path, no_gathering: None) -> None:
    K = build_complex(_net(1, (3, 4, 3, 1)))  # type: ignore[arg-type]
    dims, signs, facets, coords = cells = _cells_of(K)
    # vertex u loses its cofacet e (e's link to u deleted): e has one vertex, its join is the
    # other vertex's sign vector, and the intervals [u, c] above e have one middle element
    e = next(i for i in range(len(dims)) if dims[i] == 1)
    u = facets[e].pop(0)
    one, sh = _both(_assemble(K, cells), tmp_path / "K")
    assert _failed(sh, True) == _failed(one) == {"cell_signs", "intervals"}
    S = ShardedComplex(tmp_path / "K")
    assert _named(sh, S, signs[e], "has 1 vertex") and _named(sh, S, signs[e], "the join of its vertices'")
    assert sh.check("intervals").failures == one.check("intervals").failures  # type: ignore[attr-defined]
    assert signs[u] not in [S.sign_vector(f.cell) for f in sh.failures if f.cell is not None]  # type: ignore[attr-defined]


def test_sharded_certificate_on_dask_equals_the_one_process_run(tmp_path: Path, no_gathering: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The new checks as Dask tasks on a local cluster of 2 workers: the same result as in one
    process, on good and corrupted complexes (every shard's failures, cells and counts)."""
    pytest.importorskip("distributed")
    import os

    from exactcells.parallel import certify_on_cluster, cluster
    from exactcells.shards import certify_shards

    dirs = []
    for name in ("generic-3d", "degenerate-2d"):
        net, with_output = CERT_NETS[name]
        K = build_complex(net, with_output=with_output)  # type: ignore[arg-type]
        write_shards(K, tmp_path / name, partitions=3)
        dirs.append(tmp_path / name)
    K = build_complex(_net(1, (3, 4, 3, 1)))  # type: ignore[arg-type]
    for k, pick in enumerate((lambda d: d == 2, lambda d: d == 1)):  # drop a facet; delete a cofacet
        dims, signs, facets, coords = cells = _cells_of(K)
        c = next(i for i in range(len(dims)) if pick(dims[i]) and len(facets[i]) >= 2)
        facets[c].pop(0)
        write_shards(_assemble(K, cells), tmp_path / f"bad{k}", partitions=3)
        dirs.append(tmp_path / f"bad{k}")
    root = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with cluster(2, announce=False) as client:
        for d in dirs:
            for volumes in (True, False):
                a = certify_on_cluster(d, client, volumes=volumes)
                b = certify_shards(d, volumes=volumes)
                assert set(a["check_seconds"]) == set(b["check_seconds"]) >= {"cell_signs", "intervals", "cofacets"}
                assert {k: v for k, v in a.items() if k != "check_seconds"} == \
                    {k: v for k, v in b.items() if k != "check_seconds"}, d
                assert a["certified"] == (not d.name.startswith("bad")), a["failures"]


def test_a_facet_reference_past_a_shards_end_is_a_failure_not_a_crash(K: PolyhedralComplex, tmp_path: Path,
                                                                       no_gathering: None) -> None:
    from exactcells.shards import Shard, certify_shards, load_shard

    d = tmp_path / "K"
    write_shards(K, d, partitions=3)
    s = load_shard(d / shard_filename(0), 0, 3, K.signs.shape[1], K.input_dim)
    top = int(np.flatnonzero(s.dims == K.input_dim)[0])
    j = int(s.facet_indptr[top])  # a region's first facet now points past the end of its shard
    q = int(s.facet_shard[j])
    floc = s.facet_local.copy()
    floc[j] = load_shard(d / shard_filename(q), q, 3, K.signs.shape[1], K.input_dim).num_cells + 7
    Shard(s.dims, s.signs, s.facet_indptr, s.facet_shard, floc, s.vertex_coords).save(
        d / shard_filename(0), 0, 3, force=True)
    c = certify_shards(d, volumes=False)
    assert not c["certified"] and c["check_failure_counts"]["facet_links"] >= 1
    assert any(f"a facet reference points outside shard {q}" in m for m in c["failures"])
