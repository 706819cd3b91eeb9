"""The ``homology`` and ``persistence`` commands and the ``analyze`` report section.

``--json`` prints exactly one JSON object; output subcomplexes build the refined complex by
themselves; files are written atomically and never overwritten without ``--force``; bad input
exits with code 2 and a one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.cli import main

DIAMOND = {"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
                      {"W": [[1, 1, 1, 1]], "b": ["-1/2"]}]}
LINES = {"layers": [{"W": [[1, 0], [-1, 0]], "b": [0, 0]}, {"W": [[1, 1]], "b": ["-1/2"]}]}


@pytest.fixture()
def nets(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, d in (("diamond", DIAMOND), ("lines", LINES)):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(d))
        out[name] = str(p)
    return out


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv + ["--json", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object on stdout
    return json.loads(out)


@pytest.mark.parametrize(("sub", "betti"), [
    ("all", [1, 0, 0]), ("domain-boundary", [1, 1, 0]), ("decision-boundary", [1, 1, 0]),
    ("positive", [1, 1, 0]), ("negative", [1, 0, 0]),
])
@pytest.mark.parametrize("ring", ["z2", "q", "z"])
def test_homology_of_the_diamond(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                 sub: str, betti: list[int], ring: str) -> None:
    d = run_json(capsys, ["homology", nets["diamond"], "--subcomplex", sub, "--coefficients", ring])
    assert d["betti"] == betti and d["coefficients"] == ring
    assert d["complex"]["with_output"] == (sub in ("decision-boundary", "positive", "negative"))
    assert d["euler_characteristic"] == sum((-1) ** k * b for k, b in enumerate(betti))


def test_homology_relative_and_box(nets: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, ["homology", nets["lines"], "--subcomplex", "decision-boundary", "--relative"])
    assert d["betti"] == [0, 2, 0] and d["relative"] is True
    d = run_json(capsys, ["homology", nets["lines"], "--relative", "--coefficients", "z"])
    assert d["betti"] == [0, 0, 1] and d["torsion"] == [[], [], []]
    # the box [-1/4, 1]^2 cuts two corners off the diamond |x| + |y| = 1/2; what is left of the
    # lower-left side is the single point (-1/4, -1/4), the box's corner: an arc and a point
    box = ["--box", "-0.25", "1"]
    d = run_json(capsys, ["homology", nets["diamond"], "--subcomplex", "decision-boundary"] + box)
    assert d["betti"] == [2, 0, 0]
    # relative to the box's boundary: the arc modulo its two ends; the point modulo itself
    d = run_json(capsys, ["homology", nets["diamond"], "--subcomplex", "decision-boundary",
                          "--relative"] + box)
    assert d["betti"] == [0, 1, 0]
    assert main(["homology", nets["diamond"], "--no-progress"]) == 0
    assert "Betti numbers (1, 0, 0)" in capsys.readouterr().out


def test_homology_bad_input(nets: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["homology", nets["diamond"], "--subcomplex", "positive", "--output-index", "3",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exactcells: error:") and err.count("\n") == 1
    assert main(["homology", nets["diamond"], "--box", "1", "0"]) == 2


def test_persistence_writes_its_files(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    out = tmp_path / "p"
    d = run_json(capsys, ["persistence", nets["diamond"], "--seed", "4", "--repeats", "3", "-o", str(out)])
    assert d["seeds"] == [4, 5, 6] and d["final_betti"] == [1, 0, 0]
    K = build_complex(network_from_dict(DIAMOND), Domain.box(2, -1, 1))
    assert d["f_vector_from_betti_maxima"] == [list(K.f_vector)] * 3
    for name in ("diagrams.json", "diagrams.npz", "betti_curves.png", "diagram.png"):
        assert (out / name).stat().st_size > 0
    rec = json.loads((out / "diagrams.json").read_text())
    assert rec["diagram"]["seed"] == 4 and rec["betti_curves"]["seeds"] == [4, 5, 6]
    with np.load(out / "diagrams.npz") as z:
        assert z["dgm_0"].shape[1] == 2 and np.isinf(z["dgm_0"][:, 1]).sum() == 1
        assert z["betti_mean"].shape == (3, K.num_cells + 1)
        assert z["betti_maxima"].tolist() == [[K.f_vector[0], K.f_vector[2], 0]] * 3
    # never overwritten without --force
    assert main(["persistence", nets["diamond"], "-o", str(out), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    d = run_json(capsys, ["persistence", nets["diamond"], "--filtration", "output-upper-star",
                          "-o", str(out), "--force"])
    assert d["seeds"] == [None] and d["num_points"] == [4, 1, 0]
    rec = json.loads((out / "diagrams.json").read_text())
    # the exact record keeps every pair, zero persistence included
    assert [p for p in rec["diagram"]["pairs"]["1"] if p[0] != p[1]] == [["-1/2", "1/2"]]
    assert len(rec["diagram"]["pairs"]["0"]) == K.f_vector[0]


def test_persistence_of_an_output_subcomplex(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    d = run_json(capsys, ["persistence", nets["diamond"], "--subcomplex", "decision-boundary",
                          "--filtration", "random", "-o", str(tmp_path / "q")])
    assert d["final_betti"] == [1, 1, 0] and d["f_vector"] == [4, 4, 0]
    assert main(["persistence", nets["diamond"], "--repeats", "0", "-o", str(tmp_path / "r")]) == 2


def test_analyze_section(nets: dict[str, str], tmp_path: Path) -> None:
    from exactcells.cli.analyze import AnalysisContext
    from exactcells.cli.homology import analyze_section

    net = network_from_dict(DIAMOND)
    dom = Domain.box(2, -1, 1)
    H = build_complex(net, dom)
    R = build_complex(net, dom, with_output=True)
    out = analyze_section(AnalysisContext(net, dom, H, R, R, tmp_path, False))["topology"]
    assert out["decision_boundary_betti"] == [1, 1, 0] and out["positive_betti"] == [1, 1, 0]
    assert out["outputs"][0]["negative_betti"] == [1, 0, 0]
    assert out["betti_curves"]["f_vector_from_maxima"] == list(H.f_vector)
    assert (tmp_path / "betti_curves.png").stat().st_size > 0
