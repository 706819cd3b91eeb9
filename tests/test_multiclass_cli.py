"""The multiclass command line: class regions, --refine, margin filtrations, k-way agreement,
and its bad input (one-line errors, exit code 2, no partial file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exactcells.cli import main

# F_0 = |x| + |y| - 1/2 (hidden layer), F_1 = 0: class 0 is an annulus, class 1 a diamond
DIAMOND2 = {"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
                       {"W": [[1, 1, 1, 1], [0, 0, 0, 0]], "b": ["-1/2", 0]}]}
# three linear classes meeting at the origin, behind an identity-like ReLU layer
THREE = {"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [2, 2, 2, 2]},
                    {"W": [[1, -1, 0, 0], [-1, 1, 1, -1], [-1, 1, -1, 1]], "b": [0, 0, 0]}]}
ONE = {"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]}
TIES = {"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1], [1]], "b": [0, 0]}]}



@pytest.fixture()
def nets(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, d in (("diamond2", DIAMOND2), ("three", THREE), ("one", ONE), ("ties", TIES)):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(d))
        out[name] = str(p)
    return out


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv + ["--json", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def fails(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    code = main(argv + ["--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert match in err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, err  # one line


@pytest.mark.parametrize(("sub", "betti"), [
    ("class:0", [1, 1, 0]), ("class:1", [1, 0, 0]), ("decision-boundary", [1, 1, 0]),
    ("boundary:0,1", [1, 1, 0]), ("junctions", [0, 0, 0]),
])
def test_homology_of_class_regions(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                   sub: str, betti: list[int]) -> None:
    d = run_json(capsys, ["homology", nets["diamond2"], "--subcomplex", sub, "--coefficients", "q"])
    assert d["betti"] == betti and d["refine"] == "argmax"


def test_three_classes_cli(nets: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = run_json(capsys, ["homology", nets["three"], "--subcomplex", "junctions", "--coefficients", "q"])
    assert d["betti"] == [1, 0, 0] and d["f_vector"] == [1, 0, 0]
    d = run_json(capsys, ["homology", nets["three"], "--subcomplex", "decision-boundary", "--relative",
                          "--coefficients", "q"])
    assert d["betti"] == [0, 2, 0]
    # the hidden layer does not cut the box: one region, no partition, a clear error
    fails(capsys, ["fiedler", nets["three"]], "1 node")
    # the argmax complex has the three cones: three singleton clusters, each one class
    d = run_json(capsys, ["fiedler", nets["three"], "--with-output"])
    assert d["refine"] == "argmax" and d["kway"]["partition"]["k"] == 3
    assert d["kway"]["agreement"]["volume_agreement"] == 1.0
    assert d["kway"]["agreement"]["volume_agreement_exact"] == "1/1"


def test_margin_persistence_cli(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                tmp_path: Path) -> None:
    pytest.importorskip("phat")
    d = run_json(capsys, ["persistence", nets["three"], "--filtration", "margin-lower-star",
                          "-o", str(tmp_path / "m")])
    assert d["refine"] == "argmax" and d["final_betti"] == [1, 0, 0]
    assert d["uncertified_cells"] == 0 and d["refined_cells"] >= 0  # exact: refined where needed
    d = run_json(capsys, ["persistence", nets["diamond2"], "--filtration", "class-score-lower-star",
                          "--output-index", "1", "-o", str(tmp_path / "c")])
    assert d["uncertified_cells"] == 0


def test_bad_multiclass_input(nets: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fails(capsys, ["homology", nets["diamond2"], "--subcomplex", "class:2"], "class 2 does not exist")
    fails(capsys, ["homology", nets["diamond2"], "--subcomplex", "boundary:0,5"], "class 5 does not exist")
    fails(capsys, ["homology", nets["one"], "--refine", "argmax"],
          "--refine argmax needs a network with at least 2 outputs (classes); this one has 1: use --refine zero")
    fails(capsys, ["homology", nets["one"], "--subcomplex", "class:0"], "at least 2 outputs")
    fails(capsys, ["homology", nets["diamond2"], "--subcomplex", "class:0", "--refine", "zero"],
          "needs --refine argmax")
    # the message names what asked for the argmax refinement (here the filtration, not --refine)
    fails(capsys, ["persistence", nets["one"], "--filtration", "margin-lower-star", "-o", str(tmp_path / "x")],
          "--filtration margin-lower-star (the argmax refinement) needs a network with at least 2 outputs")
    assert not (tmp_path / "x" / "diagrams.json").exists()
    fails(capsys, ["persistence", nets["diamond2"], "--filtration", "class-score-lower-star",
                   "--output-index", "4", "-o", str(tmp_path / "y")], "class does not exist")
    assert not (tmp_path / "y").exists()
    fails(capsys, ["fiedler", nets["one"], "--refine", "argmax"], "at least 2 outputs")
    # a malformed name is an argparse error (exit code 2)
    with pytest.raises(SystemExit) as e:
        main(["homology", nets["diamond2"], "--subcomplex", "class:x"])
    assert e.value.code == 2


def test_ties_everywhere_is_an_exact_answer(nets: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Two identical outputs: every cell has both maximizers; class regions and the decision
    boundary are the whole square (documented), no error."""
    for sub in ("class:0", "class:1", "decision-boundary", "boundary:0,1"):
        d = run_json(capsys, ["homology", nets["ties"], "--subcomplex", sub, "--coefficients", "q"])
        assert d["betti"] == [1, 0, 0]


def test_cells_and_certify_take_refine(nets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    d = run_json(capsys, ["cells", nets["three"], "--refine", "argmax"])
    assert d["num_regions"] == 3 and d["with_output"] is True
    z = run_json(capsys, ["cells", nets["three"], "--refine", "zero"])
    assert z["num_regions"] != 3  # cut by F_j = 0 instead: a different complex
    out = tmp_path / "a.npz"
    run_json(capsys, ["cells", nets["diamond2"], "--refine", "argmax", "--save", str(out)])
    c = main(["certify", nets["diamond2"], "--complex", str(out), "--json", "--no-progress"])
    assert c == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["certify", nets["three"], "--refine", "argmax", "--json", "--no-progress"]) == 0
    capsys.readouterr()
    fails(capsys, ["cells", nets["one"], "--refine", "argmax"], "two outputs")


def test_decision_boundary_of_several_outputs_either_refinement(nets: dict[str, str],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # argmax (default for 2 outputs): the diamond outline; zero: F_0 = 0 is the same outline here
    d = run_json(capsys, ["homology", nets["diamond2"], "--subcomplex", "decision-boundary"])
    assert d["refine"] == "argmax" and d["betti"] == [1, 1, 0]
    z = run_json(capsys, ["homology", nets["diamond2"], "--subcomplex", "decision-boundary",
                          "--refine", "zero"])
    assert z["refine"] == "zero" and z["betti"] == [1, 1, 0]
    # F_1 = 0 everywhere: with the zero refinement its "boundary" is the whole square
    z1 = run_json(capsys, ["homology", nets["diamond2"], "--subcomplex", "decision-boundary",
                           "--refine", "zero", "--output-index", "1"])
    assert z1["betti"] == [1, 0, 0]


@pytest.mark.parametrize(("name", "classes_png"), [("one", False), ("three", True)])
def test_analyze_names_every_file_it_wrote(nets: dict[str, str], tmp_path: Path, name: str, classes_png: bool,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The closing line lists exactly the files in the output directory (classes.png only for
    two or more classes)."""
    out = tmp_path / f"out-{name}"
    assert main(["analyze", nets[name], "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("wrote into ")][-1]
    listed = line.split(": ", 1)[1].split(", ")
    assert sorted(listed) == sorted(p.name for p in out.iterdir())
    assert ("classes.png" in listed) == classes_png
