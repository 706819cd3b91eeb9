"""The command line: `exactcells cells` and `exactcells analyze`, in-process and as a process.

Contract: exit code 0 on success; on bad input exit code 2 and exactly one line on stderr,
``exactcells: error: <message naming the problem>``, nothing on stdout and no output file
(not even a partial one); ``--json`` prints exactly one JSON object on stdout and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exactcells import load_complex
from exactcells.cli import main

GRID = {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]}
NET3 = {"layers": [{"W": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], "b": [0, 0, 0, "-1/2"]},
                   {"W": [[1, -1, 1, -1]], "b": ["1/10"]}]}


def _write(tmp_path: Path, obj: Any, name: str = "net.json") -> str:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(p)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert out.endswith("\n") and out.count("\n") == 1  # one line: one JSON object
    obj = json.loads(out)
    assert isinstance(obj, dict)
    return obj


def assert_bad_input(capsys: pytest.CaptureFixture[str], *argv: str, words: tuple[str, ...] = ()) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("exactcells: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    return err


# -- cells ---------------------------------------------------------------------------------

def test_cells_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = run_json(capsys, "cells", _write(tmp_path, GRID))
    assert obj["input_dim"] == 2
    assert obj["f_vector"] == [9, 12, 4]
    assert obj["num_regions"] == 4
    assert isinstance(obj["seconds"], (int, float)) and obj["seconds"] >= 0
    assert obj["euler_characteristic"] == 1 and obj["rounding"] is None


def test_cells_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cells", _write(tmp_path, GRID))
    assert code == 0
    assert "(9, 12, 4)" in out and "4 regions" in out


def test_cells_text_output_one_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the neuron x + 5 does not vanish on the box: the square is one region, 4 + 4 + 1 cells
    code, out, err = run(capsys, "cells", _write(tmp_path, {"layers": [{"W": [[1, 0]], "b": [5]},
                                                                      {"W": [[1]], "b": [0]}]}))
    assert code == 0
    assert out.splitlines()[1] == "f-vector (4, 4, 1), 1 region, 9 cells, Euler characteristic 1"


def test_cells_box_domain_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path, GRID)
    # [1/2, 3/2]^2 lies in the quadrant x, y > 0: no cut
    assert run_json(capsys, "cells", net, "--box", "1/2", "1.5")["f_vector"] == [4, 4, 1]
    # [-0.1, 2]^2: both lines cut near the lower-left corner: the 3 x 3 grid combinatorics
    assert run_json(capsys, "cells", net, "--box", "-0.1", "2")["f_vector"] == [9, 12, 4]
    # the output relu(x) + relu(y) is identically 0 on x, y <= 0 and positive elsewhere: no cut
    obj = run_json(capsys, "cells", net, "--with-output")
    assert obj["with_output"] is True and obj["f_vector"] == [9, 12, 4]
    # relu(x) - relu(y) vanishes on the diagonal of the quadrant x, y > 0: one more region,
    # one more edge (the half-diagonal), no new vertex (it ends at the centre and at a corner)
    diff = _write(tmp_path, {"layers": [GRID["layers"][0], {"W": [[1, -1]], "b": [0]}]}, "diff.json")
    assert run_json(capsys, "cells", diff, "--with-output")["f_vector"] == [9, 13, 5]
    dom = _write(tmp_path, {"A": [[-1, 0], [0, -1], [1, 1]], "c": ["1/2", "1/2", 1]}, "tri.json")
    # the triangle x >= -1/2, y >= -1/2, x + y <= 1 cut by x = 0 and y = 0 into 4 pieces:
    # vertices 3 + 4 (x = 0, y = 0 each meet 2 sides) + 1; edges 3 + 4 + 4 = 11; regions 4
    assert run_json(capsys, "cells", net, "--domain", dom)["f_vector"] == [8, 11, 4]
    assert run_json(capsys, "cells", _write(tmp_path, NET3, "n3.json"))["input_dim"] == 3


def test_cells_jobs_and_rounding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path, {"layers": [{"W": [[1, 0.3], [0.7, -1], [0.5, 0.5]], "b": [0.01, 0, -0.2]},
                                       {"W": [[1, 1, 1]], "b": [0]}]})
    one = run_json(capsys, "cells", net)
    assert run_json(capsys, "cells", net, "--jobs", "2")["f_vector"] == one["f_vector"]
    rounded = run_json(capsys, "cells", net, "--round", "10")
    assert rounded["rounding"] is not None and "10" in rounded["rounding"]


def test_cells_save_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path, GRID)
    out = tmp_path / "k.npz"
    obj = run_json(capsys, "cells", net, "--save", str(out))
    assert obj["saved"] == str(out)
    K = load_complex(out)
    assert K.f_vector == (9, 12, 4)
    before = out.read_bytes()
    # an existing output is refused, and left untouched
    assert_bad_input(capsys, "cells", net, "--with-output", "--save", str(out), words=("exists", "--force"))
    assert out.read_bytes() == before
    obj = run_json(capsys, "cells", net, "--with-output", "--save", str(out), "--force")
    assert load_complex(out).with_output is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npz", "net.json"]


def test_cells_failure_leaves_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path, GRID)
    out = tmp_path / "out" / "k.npz"
    assert_bad_input(capsys, "cells", net, "--save", str(out), "--max-cells", "5", words=("max_cells",))
    assert not out.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    bad = _write(tmp_path, {"layers": []}, "bad.json")
    assert_bad_input(capsys, "cells", bad, "--save", str(out))
    assert not out.exists()


BAD_NETWORK_FILES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("malformed JSON", '{"layers": [{"W": [[1, 0]], "b": [0]}', ("malformed JSON",)),
    ("not JSON at all", "W = [[1, 0]]", ("malformed JSON",)),
    ("missing layers", {"W": [[1]]}, ("'layers'",)),
    ("missing W", {"layers": [{"b": [0]}]}, ("layer 0", "'W'")),
    ("missing b", {"layers": [{"W": [[1, 0]]}, {"W": [[1]], "b": [0]}]}, ("layer 0", "'b'")),
    ("ragged", {"layers": [{"W": [[1, 0], [1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]},
     ("layer 0", "ragged")),
    ("b mismatch", {"layers": [{"W": [[1, 0], [0, 1]], "b": [0]}, {"W": [[1, 1]], "b": [0]}]},
     ("layer 0", "b has 1", "2 rows")),
    ("shape mismatch", {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1, 1]], "b": [0]}]},
     ("layer 1", "expected shape (1, 2)")),
    ("NaN", '{"layers": [{"W": [[NaN, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]}', ("layer 0", "nan")),
    ("Infinity", '{"layers": [{"W": [[1, 0]], "b": [Infinity]}, {"W": [[1]], "b": [0]}]}',
     ("layer 0", "inf")),
    ("non-numeric", {"layers": [{"W": [[1, "one"]], "b": [0]}, {"W": [[1]], "b": [0]}]},
     ("layer 0, W[0][1]", "'one'")),
    ("empty network", {"layers": []}, ("no layers",)),
    ("zero-width layer", {"layers": [{"W": [], "b": []}, {"W": [[1]], "b": [0]}]}, ("layer 0", "zero-width")),
]


@pytest.mark.parametrize("what, content, words", BAD_NETWORK_FILES, ids=[b[0] for b in BAD_NETWORK_FILES])
def test_cells_bad_networks(tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, content: Any,
                            words: tuple[str, ...]) -> None:
    path = _write(tmp_path, content)
    err = assert_bad_input(capsys, "cells", path, "--json", "--save", str(tmp_path / "k.npz"), words=words)
    assert path in err  # the message names the file
    assert not (tmp_path / "k.npz").exists()


def test_cells_unreadable_network_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(capsys, "cells", str(tmp_path / "missing.json"), words=("missing.json", "no such file"))
    assert_bad_input(capsys, "cells", str(tmp_path))  # a directory
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"layers": "\xe9"}')
    assert_bad_input(capsys, "cells", str(p), words=("cannot read",))
    q = tmp_path / "garbage.npz"
    q.write_bytes(b"nope")
    assert_bad_input(capsys, "cells", str(q), words=("NPZ",))


@pytest.mark.parametrize("box, words", [
    (("1", "1"), ("LO = 1 is not below HI = 1",)),
    (("2", "-2"), ("not below",)),
    (("0.5", "1/2"), ("not below",)),
    (("a", "1"), ("--box LO", "'a'")),
    (("-1", "nan"), ("--box HI",)),
    (("-1", "inf"), ("--box HI",)),
])
def test_cells_bad_boxes(tmp_path: Path, capsys: pytest.CaptureFixture[str], box: tuple[str, str],
                         words: tuple[str, ...]) -> None:
    assert_bad_input(capsys, "cells", _write(tmp_path, GRID), "--box", *box, words=words)


@pytest.mark.parametrize("domain, words", [
    ({"A": [[1, 0], [-1, 0], [0, 1], [0, -1]], "c": [1, -2, 1, 1]}, ("empty",)),
    ({"A": [[1, 0], [0, 1]], "c": [1, 1]}, ("unbounded",)),
    ({"A": [[1, 0], [-1, 0], [0, 1], [0, -1]], "c": [0, 0, 1, 1]}, ("full-dimensional",)),
    ({"A": [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], "c": [1] * 6},
     ("R^3", "2 inputs")),
    ({"box": [[-1, 1]]}, ("R^1", "2 inputs")),
    ({"box": [[1, -1], [0, 1]]}, ("not below",)),
    ({"A": [[1, 0]]}, ("'c'",)),
    ('{"A": [[1, 0]', ("malformed JSON",)),
    ({"A": [[1, "x"], [-1, 0], [0, 1], [0, -1]], "c": [1, 1, 1, 1]}, ("'x'",)),
])
def test_cells_bad_domains(tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: Any,
                           words: tuple[str, ...]) -> None:
    d = _write(tmp_path, domain, "dom.json")
    assert_bad_input(capsys, "cells", _write(tmp_path, GRID), "--domain", d, words=words)


def test_cells_missing_domain_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(capsys, "cells", _write(tmp_path, GRID), "--domain", str(tmp_path / "nope.json"),
                     words=("nope.json",))


@pytest.mark.parametrize("q", ["-3", "0"])
def test_cells_bad_round(tmp_path: Path, capsys: pytest.CaptureFixture[str], q: str) -> None:
    assert_bad_input(capsys, "cells", _write(tmp_path, GRID), "--round", q, words=("--round",))


def test_cells_unwritable_save_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    assert_bad_input(capsys, "cells", _write(tmp_path, GRID), "--save", str(tmp_path / "afile" / "k.npz"))


def test_box_dimension_follows_the_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --box gives the same bounds on every coordinate of the network's input space
    obj = run_json(capsys, "cells", _write(tmp_path, NET3), "--box", "-2", "2")
    assert obj["input_dim"] == 3 and obj["domain"] == "[-2, 2]^3"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["cells"], ["cells", "x.json", "--bogus"], ["nosuchcommand"], [],
                 ["cells", "x.json", "--box", "0", "1", "--domain", "d.json"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        out, _ = capsys.readouterr()
        assert out == ""


# -- analyze -------------------------------------------------------------------------------

def _png(p: Path) -> bool:
    return p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_the_bundled_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code, stdout, err = run(capsys, "analyze", "-o", str(out), "--no-progress", "--json")
    assert code == 0, err
    assert stdout.count("\n") == 1  # --json: one object on stdout, nothing else
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(stdout)["f_vector"] == summary["f_vector"]
    assert summary["input_dim"] == 2
    assert summary["euler_characteristic"] == 1
    assert sum((-1) ** k * f for k, f in enumerate(summary["f_vector"])) == 1
    assert summary["num_regions"] == summary["f_vector"][-1]
    assert summary["with_output"]["num_regions"] >= summary["num_regions"]
    assert _png(out / "complex.png")


def test_analyze_refuses_to_overwrite_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _write(tmp_path, GRID)
    out = tmp_path / "report"
    code, stdout, err = run(capsys, "analyze", net, "-o", str(out), "--no-progress")
    assert code == 0, err
    assert "(9, 12, 4)" in stdout
    before = (out / "summary.json").read_bytes()
    assert_bad_input(capsys, "analyze", net, "-o", str(out), words=("exists", "--force"))
    assert (out / "summary.json").read_bytes() == before
    code, stdout, err = run(capsys, "analyze", net, "-o", str(out), "--force", "--json", "--no-progress")
    assert code == 0 and json.loads(stdout)["f_vector"] == [9, 12, 4]
    names = {p.name for p in out.iterdir()}  # report sections of later issues may add files
    assert {"complex.png", "summary.json"} <= names
    assert not any(n.startswith(".") or n.endswith(".tmp") for n in names)  # no temporaries left


def test_analyze_a_3d_network_draws_a_slice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r3"
    obj = run_json(capsys, "analyze", _write(tmp_path, NET3), "-o", str(out), "--no-progress")
    assert obj["input_dim"] == 3
    assert obj["picture"]["slice"]  # the 2-D slice is chosen and said
    assert json.loads((out / "summary.json").read_text())["f_vector"] == obj["f_vector"]
    assert _png(out / "complex.png")


def test_analyze_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    bad = _write(tmp_path, {"layers": [{"W": [[1, 0]], "b": []}]})
    assert_bad_input(capsys, "analyze", bad, "-o", str(out), words=("layer 0",))
    assert not out.exists() or list(out.iterdir()) == []
    assert_bad_input(capsys, "analyze", _write(tmp_path, GRID, "g.json"), "--box", "3", "-3", "-o", str(out))
    assert not out.exists() or list(out.iterdir()) == []


# -- as a separate process -----------------------------------------------------------------

def test_python_dash_m_exactcells(tmp_path: Path) -> None:
    net = _write(tmp_path, GRID)
    r = subprocess.run([sys.executable, "-m", "exactcells", "cells", net, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["f_vector"] == [9, 12, 4]
    assert r.stdout.count("\n") == 1
    bad = _write(tmp_path, {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1, 1]], "b": [0]}]},
                 "bad.json")
    r = subprocess.run([sys.executable, "-m", "exactcells", "cells", bad, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert r.stderr.count("\n") == 1 and "expected shape (1, 2)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_box_takes_negative_fractions_and_exponents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # argparse alone would read "-1/4" as an option
    obj = run_json(capsys, "cells", _write(tmp_path, GRID), "--box", "-1/4", "1")
    assert obj["domain"] == "[-1/4, 1]^2"
    obj = run_json(capsys, "cells", _write(tmp_path, GRID), "--box", "-1e-1", "1")
    assert obj["domain"] == "[-1/10, 1]^2"


def test_analyze_a_one_dimensional_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # F(x) = relu(x) - relu(x + 1/2) + relu(-x) on [-1, 1]: zero at x = -1/4 only
    net = {"layers": [{"W": [[1], [1], [-1]], "b": [0, "1/2", 0]}, {"W": [[1, -1, 1]], "b": [0]}]}
    out = tmp_path / "rep"
    obj = run_json(capsys, "analyze", _write(tmp_path, net), "-o", str(out), "--no-progress")
    assert obj["f_vector"] == [4, 3] and obj["with_output"]["f_vector"] == [5, 4]
    assert (out / "complex.png").stat().st_size > 0 and (out / "summary.json").exists()
