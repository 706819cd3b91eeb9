"""``exactcells fiedler`` and the Fiedler section of ``exactcells analyze``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exactcells.cli import main


def _write(path: Path, layers: list[dict[str, object]]) -> str:
    path.write_text(json.dumps({"layers": layers}))
    return str(path)


@pytest.fixture()
def strips_net(tmp_path: Path) -> str:
    # 4 vertical strips (lines x = -1/2, 0, 1/2) and F = relu(x) - relu(-x) = x
    return _write(tmp_path / "strips.json", [
        {"W": [[1, 0], [1, 0], [1, 0], [-1, 0]], "b": ["1/2", 0, "-1/2", 0]},
        {"W": [[0, 1, 0, -1]], "b": [0]}])


def _run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv + ["--json", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_fiedler_json(strips_net: str, capsys: pytest.CaptureFixture[str]) -> None:
    d = _run_json(capsys, ["fiedler", strips_net])
    assert d["num_nodes"] == 4 and d["num_edges"] == 3
    assert d["fiedler_value"] == pytest.approx(2 * (1 - np.cos(np.pi / 4)))
    assert d["agreement"]["sign"]["volume_agreement"] == 1.0
    assert d["agreement"]["sign"]["adjusted_rand_index"] == 1.0
    assert d["hamming_proxy"]["recall"] == pytest.approx(2 / 3)  # two neurons flip across x = 0
    d = _run_json(capsys, ["fiedler", strips_net, "--with-output", "--weights", "facet-volume"])
    assert d["with_output"] is True and d["num_nodes"] == 4
    assert d["fiedler_value"] == pytest.approx(2 * 2 * (1 - np.cos(np.pi / 4)))  # facets of length 2
    d = _run_json(capsys, ["fiedler", strips_net, "--normalized", "--box", "-2", "2"])
    assert d["problem"] == "normalized" and d["domain"] == "[-2, 2]^2"


def test_fiedler_training_points(strips_net: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pts = tmp_path / "train.csv"
    pts.write_text("x,y\n-0.9,0\n-0.8,0.1\n0,0\n0.7,0.7\n3,3\n")
    d = _run_json(capsys, ["fiedler", strips_net, "--weights", "training-points", str(pts)])
    assert d["problem"] == "node-weighted" and d["weights"] == "training-points"
    assert d["training_points"] == {"file": str(pts), "count": 5, "outside_domain": 1, "on_boundary": 1}
    npy = tmp_path / "train.npy"
    np.save(npy, np.array([[-0.9, 0.0], [0.7, 0.7]]))
    d2 = _run_json(capsys, ["fiedler", strips_net, "--weights", "training-points", str(npy)])
    assert d2["training_points"]["count"] == 2


@pytest.mark.parametrize("argv", [
    ["--weights", "bogus"],
    ["--weights", "training-points"],
    ["--weights", "none", "extra"],
    ["--weights", "region-volume", "--normalized"],
    ["--weights", "training-points", "/nonexistent/points.csv"],
])
def test_fiedler_bad_input_exits_2(strips_net: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fiedler", strips_net, "--no-progress", "--json"] + argv) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.startswith("exactcells: error:")


def test_fiedler_picture(strips_net: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    d = _run_json(capsys, ["fiedler", strips_net, "-o", str(out)])
    png = out / "fiedler.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert d["picture"]["file"] == str(png)
    assert main(["fiedler", strips_net, "--no-progress", "-o", str(out)]) == 2  # no --force
    capsys.readouterr()
    assert main(["fiedler", strips_net, "--no-progress", "-o", str(out), "--force"]) == 0
    capsys.readouterr()


def test_fiedler_picture_of_a_3d_network_is_a_slice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path / "n3.json", [
        {"W": [[1, 0, 1], [0, 1, -1], [1, -1, 0]], "b": [0, "1/3", "-1/4"]},
        {"W": [[1, -1, 1]], "b": ["-1/8"]}])
    d = _run_json(capsys, ["fiedler", net, "-o", str(tmp_path / "o")])
    assert (tmp_path / "o" / "fiedler.png").exists()
    assert "slice" in d["picture"]["slice"]
    assert 0.5 <= d["agreement"]["best_sweep"]["volume_agreement"] <= 1.0


def test_analyze_adds_the_fiedler_section(strips_net: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    d = _run_json(capsys, ["analyze", strips_net, "-o", str(out)])
    f = d["fiedler"]
    assert f["num_nodes"] == 4 and f["fiedler_value"] == pytest.approx(2 * (1 - np.cos(np.pi / 4)))
    assert f["agreement"]["sign"]["volume_agreement"] == 1.0
    assert (out / "fiedler.png").exists()
    assert json.loads((out / "summary.json").read_text())["fiedler"]["num_edges"] == 3


def test_plane_values_match_exact_location(strips_net: str) -> None:
    from exactcells import build_complex, load_network
    from exactcells.cli.fiedler import plane_values
    from exactcells.dual import locate_points

    net = load_network(strips_net)
    K = build_complex(net)
    R = build_complex(net, with_output=True)
    v = np.arange(K.num_regions, dtype=float)
    loc = locate_points(K, [R.interior_point(r) for r in R.regions()])
    assert plane_values(K, R, v).tolist() == v[loc.nodes].tolist()
    assert plane_values(R, R, np.arange(R.num_regions, dtype=float)).tolist() == list(range(R.num_regions))
