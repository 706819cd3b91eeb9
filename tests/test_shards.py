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
    assert main(["certify", str(d), "--quiet"]) == 0  # the index's network and domain
    text = capsys.readouterr().out
    assert text.startswith(f"CERTIFIED: f-vector {K.f_vector}, {K.num_cells} cells, Euler characteristic 1")
    assert "volumes: sum 4, domain 4" in text and "[FAIL]" not in text
    for check in ("shard_keys", "vertex_signs", "facet_links", "walls", "euler_characteristic", "volumes"):
        assert f"[ok] {check}:" in text
    assert "not checked on shards: cell sign vectors as joins" in text
    assert main(["certify", str(net_file), "--complex", str(d), "--json", "--quiet", "--jobs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    one = certify(K, jobs=1).to_dict()
    # the one-process certificate's report: same keys and totals; checks as the shards run them
    assert set(one) <= set(out) and out["sharded"] == str(d) and out["shards"] == 3
    for key in ("certified", "f_vector", "num_cells", "euler_characteristic", "total_volume", "domain_volume",
                "architecture", "domain", "failure_counts", "failures"):
        assert out[key] == one[key], key
    c = out["checks"]
    assert c["vertex_signs"]["checked"] == K.f_vector[0] and c["walls"]["checked"] == K.f_vector[-2]
    assert c["facet_links"]["checked"] == K.facet_csr[1].shape[0] and c["volumes"]["checked"] == K.num_regions
    assert c["shard_keys"]["checked"] == K.num_cells
    assert main(["certify", str(d), "--no-volumes", "--json", "--quiet"]) == 0
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
    assert total == K.domain.volume() == certify(K).total_volume == 2 ** K.input_dim
    c = certify_shards(tmp_path / "K")
    assert c["certified"], c["failures"]
    assert Fraction(c["total_volume"]) == Fraction(c["domain_volume"]) == total
    assert c["regions_measured"] == K.num_regions
    assert "region volumes" not in c["not_checked"]
    assert "region volumes" in certify_shards(tmp_path / "K", volumes=False)["not_checked"]


def test_shard_volume_sum_disagrees_with_a_wrong_domain(K: PolyhedralComplex, tmp_path: Path) -> None:
    from exactcells.shards import certify_shards

    d = tmp_path / "K"
    write_shards(K, d, partitions=3)
    rec = json.loads((d / INDEX_FILE).read_text())
    assert rec["domain"] == {"box": [["-1", "1"], ["-1", "1"]]}
    rec["domain"] = {"box": [["-1", "1"], ["-1", "2"]]}  # the cells cover only 4 of its 6
    (d / INDEX_FILE).write_text(json.dumps(rec))
    c = certify_shards(d)
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
