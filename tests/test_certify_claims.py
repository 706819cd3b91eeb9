"""Verdicts on claimed decompositions, the adapters, and the two commands."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.claims import (
    Claim,
    ClaimedRegion,
    claim_from_dict,
    claim_from_dump,
    claim_from_grid,
    claim_from_points,
    exact_dual_edges,
    judge_claim,
    load_claim,
    with_hamming_neighbors,
)
from exactcells.cli import main
from exactcells.dual import locate_points
from exactcells.errors import FormatError

NET = network_from_dict({"layers": [
    {"W": [[1, 0], [0, 1], [1, 1], [1, -2], [3, 1]], "b": [0, "1/3", "-1/2", "1/5", "-2/7"]},
    {"W": [[1, -1, 1, 0, 1], [0, 1, 1, -1, -1], [1, 1, -1, 1, 0]], "b": ["1/7", "-1/4", "1/9"]},
    {"W": [[1, 1, 1]], "b": [0]}]})


@pytest.fixture(scope="module")
def K() -> object:
    return build_complex(NET, Domain.box(2, -1, 1))


def patterns(K: object) -> list[str]:
    regs = K.regions()  # type: ignore[attr-defined]
    sl = K.sign_slices()["neurons"]  # type: ignore[attr-defined]
    return ["".join("1" if s > 0 else "0" for s in K.signs[c, sl]) for c in regs]  # type: ignore[attr-defined]


def test_exact_claim_is_exact(K: object) -> None:
    pats = patterns(K)
    edges = exact_dual_edges(K)  # type: ignore[arg-type]
    nb: dict[int, list[int]] = {i: [] for i in range(len(pats))}
    for a, b in edges:
        nb[a].append(b)
        nb[b].append(a)
    claim = Claim(tuple(ClaimedRegion(p, None, tuple(nb[i])) for i, p in enumerate(pats)))
    v = judge_claim(K, claim)  # type: ignore[arg-type]
    assert v.exact and v.missing_volume_fraction == 0
    assert v.adjacency_precision == v.adjacency_recall == 1.0


def test_sampling_claim_reports_exactly_the_regions_the_sample_missed(K: object) -> None:
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, size=(300, 2))
    v = judge_claim(K, claim_from_points(NET, X))  # type: ignore[arg-type]
    loc = locate_points(K, X)  # type: ignore[arg-type]
    hit = set(loc.nodes.tolist())
    start = K.regions().start  # type: ignore[attr-defined]
    expected = {start + i for i in range(K.num_regions) if i not in hit}  # type: ignore[attr-defined]
    assert expected  # the sample is small enough to miss some
    assert {m.cell for m in v.missing} == expected
    assert not v.spurious_patterns
    vols = {c: K.volume(c) for c in expected}  # type: ignore[attr-defined]
    assert v.missing_volume_fraction == sum(vols.values()) / 4
    for m in v.missing:
        assert m.volume == vols[m.cell]
        assert K.network.hidden_signs(m.interior_point) == K.sign_vector(m.cell)[:5 + 3]  # type: ignore[attr-defined]


def test_spurious_patterns_and_format_errors(K: object) -> None:
    pats = patterns(K)
    bogus = next(p for p in ("".join(b) for b in np.array(np.meshgrid(*[["0", "1"]] * 8)).reshape(8, -1).T)
                 if p not in pats)
    claim = claim_from_dict({"regions": [{"pattern": p} for p in pats] + [{"pattern": bogus}]})
    v = judge_claim(K, claim)  # type: ignore[arg-type]
    assert v.spurious_patterns == (bogus,) and not v.missing
    with pytest.raises(FormatError):
        judge_claim(K, claim_from_dict({"regions": [{"pattern": "0101"}]}))  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        claim_from_dict({"regions": [{"pattern": "01x"}]})
    with pytest.raises(FormatError):
        claim_from_dict({"regions": [{"pattern": "01", "neighbors": [5]}]})


def test_hamming_dual_graph_precision_and_recall(K: object) -> None:
    pats = patterns(K)
    claim = with_hamming_neighbors(Claim(tuple(ClaimedRegion(p) for p in pats)))
    v = judge_claim(K, claim)  # type: ignore[arg-type]
    ex = {tuple(sorted((pats[a], pats[b]))) for a, b in exact_dual_edges(K)}  # type: ignore[arg-type]
    ham = {tuple(sorted((p, q))) for p in pats for q in pats
           if p < q and sum(x != y for x, y in zip(p, q)) == 1}
    tp = len(ex & ham)
    assert v.adjacency_precision == pytest.approx(tp / len(ham))
    assert v.adjacency_recall == pytest.approx(tp / len(ex))
    assert len(v.adjacency_wrong or ()) == len(ham - ex)
    assert len(v.adjacency_missing or ()) == len(ex - ham)


def test_one_layer_hamming_graph_is_exact() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, "1/3", "-1/2"]},
                                        {"W": [[1, 1, 1]], "b": [0]}]})
    K1 = build_complex(net, Domain.box(2, -1, 1))
    v = judge_claim(K1, with_hamming_neighbors(claim_from_grid(net, K1.domain, 64)))
    assert v.exact and v.adjacency_precision == v.adjacency_recall == 1.0


def test_grid_claim_and_vertex_distances(K: object) -> None:
    v = judge_claim(K, claim_from_grid(NET, K.domain, 40))  # type: ignore[arg-type, attr-defined]
    assert v.missing and not v.spurious_patterns
    V = K.vertices_float()  # type: ignore[attr-defined]
    r = K.regions()[0]  # type: ignore[attr-defined]
    p = patterns(K)[0]
    verts = [list(V[i] + [0.001, 0.0]) for i in K.cell_vertices(r)]  # type: ignore[attr-defined]
    v2 = judge_claim(K, claim_from_dict({"regions": [{"pattern": p, "vertices": verts}]}))  # type: ignore[arg-type]
    assert v2.max_vertex_distance == pytest.approx(0.001, abs=1e-9)


def test_dump_adapter(K: object) -> None:
    f0 = K.f_vector[0]  # type: ignore[attr-defined]
    V = K.vertices_float()  # type: ignore[attr-defined]
    sl = K.sign_slices()["neurons"]  # type: ignore[attr-defined]
    signs = [list(K.signs[v, sl]) for v in range(f0)]  # type: ignore[attr-defined]
    edges = [tuple(K.facets(e)) for e in K.cells_of_dim(1)]  # type: ignore[attr-defined]
    claim = claim_from_dump(V.tolist(), edges, signs, patterns(K))
    v = judge_claim(K, claim)  # type: ignore[arg-type]
    assert v.exact and v.cells_missing == 0 and v.cells_spurious == ()
    assert v.max_vertex_distance == pytest.approx(0.0, abs=1e-12)
    # drop an edge: one cell missing
    v2 = judge_claim(K, claim_from_dump(V.tolist(), edges[1:], signs, patterns(K)))  # type: ignore[arg-type]
    assert v2.cells_missing == 1


def test_claim_roundtrip(tmp_path: Path) -> None:
    c = with_hamming_neighbors(Claim((ClaimedRegion("01"), ClaimedRegion("11"), ClaimedRegion("00"))))
    p = tmp_path / "c.json"
    p.write_text(c.to_json())
    c2 = load_claim(p)
    assert [r.pattern for r in c2.regions] == ["01", "11", "00"]
    assert c2.regions[0].neighbors == (1, 2)


def test_cli_certify_and_certify_claim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    netp = tmp_path / "net.json"
    netp.write_text(NET.to_json())
    assert main(["certify", str(netp), "--json", "--no-progress", "--cdd", "3"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["certified"] is True and "walls" in d["checks"] and d["cdd_regions_checked"] == 3
    assert "volumes" not in d["checks"] and d["total_volume"] is None  # opt-in: --volumes
    assert main(["certify", str(netp), "--box", "-2", "2", "--json", "--no-progress", "--volumes"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["domain_volume"] == "16" and "affine_dims" not in d["checks"]
    assert main(["certify", str(netp), "--json", "--no-progress", "--affine-dims", "--interior-forward"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["checks"]["affine_dims"]["passed"] and "forward pass" in d["checks"]["cell_signs"]["detail"]
    X = np.random.default_rng(1).uniform(-1, 1, size=(100, 2))
    cp = tmp_path / "claim.json"
    cp.write_text(claim_from_points(NET, X).to_json())
    code = main(["certify-claim", str(netp), str(cp), "--json", "--no-progress"])
    d = json.loads(capsys.readouterr().out)
    assert code == 1 and d["missing_regions"] > 0 and d["spurious_regions"] == 0
    assert Fraction(d["missing_volume_fraction"]) == pytest.approx(d["missing_volume_fraction_float"])
    assert 0 < d["missing_volume_fraction_float"] < 1
    # a saved complex, certified against the network; then a corrupted copy
    K1 = build_complex(NET, Domain.box(2, -1, 1))
    K1.save(tmp_path / "k.npz")
    assert main(["certify", str(netp), "--complex", str(tmp_path / "k.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["certified"] is True
    from exactcells import PolyhedralComplex

    ind = K1.facet_csr[1].copy()
    ptr = K1.facet_csr[0]
    r = K1.regions()[0]
    keep = np.ones(ind.size, dtype=bool)
    keep[ptr[r]] = False  # drop one facet link of a region
    K2 = PolyhedralComplex(network=K1.network, domain=K1.domain, with_output=False, dims=K1.dims,
                           signs=K1.signs, facet_indptr=np.concatenate([ptr[:r + 1], ptr[r + 1:] - 1]),
                           facet_indices=ind[keep],
                           vertex_coords=[K1.vertex_homogeneous(v) for v in range(K1.f_vector[0])])
    K2.save(tmp_path / "k2.npz")
    assert main(["certify", str(netp), "--complex", str(tmp_path / "k2.npz"), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["certified"] is False and d["failure_counts"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"regions": [{"pattern": "012"}]}')
    assert main(["certify-claim", str(netp), str(bad), "--json"]) == 2
