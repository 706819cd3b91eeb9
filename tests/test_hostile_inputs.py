"""Hostile and malformed inputs through the command line, each in its own process.

Every case must end within a timeout with exit code 2, exactly one line on stderr of the form
``exactcells: error: <file>: <problem>`` (no traceback), nothing written beside the inputs, and,
for pickles, no code from the file run. Option values out of range are refused by the parser
(exit 2, ``error: argument --X``) before any work.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60
GRID = {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]}
MARKER = "PAYLOAD_RAN"


def cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "exactcells", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


class Payload:
    """Unpickling this object writes MARKER into the current folder."""

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (exec, (f"open({MARKER!r}, 'w').write('ran')",))


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _complex_file(tmp: Path, name: str = "k.npz") -> Path:
    from exactcells import Domain, build_complex, network_from_dict

    K = build_complex(network_from_dict(GRID), Domain.box(2, -1, 1))
    p = tmp / name
    K.save(p)
    return p


def _replace_member(p: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(p) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[member] = data
    with zipfile.ZipFile(p, "w") as z:
        for n, d in items.items():
            z.writestr(n, d)


# each case: (name, setup(tmp) -> argv, the file the message must name, words the message must hold)
def case_pickled_module(tmp: Path) -> list[str]:
    torch = pytest.importorskip("torch")
    torch.save({"layer.weight": Payload()}, tmp / "evil.pt")
    return ["cells", "evil.pt", "--no-progress"]


def case_plain_pickle(tmp: Path) -> list[str]:
    pytest.importorskip("torch")
    (tmp / "evil.pt").write_bytes(pickle.dumps(Payload()))
    return ["cells", "evil.pt", "--no-progress"]


def case_huge_exponent(tmp: Path) -> list[str]:
    net = json.loads(json.dumps(GRID))
    net["layers"][0]["b"][0] = "1e1000000000"
    (tmp / "net.json").write_text(json.dumps(net))
    return ["cells", "net.json", "--no-progress"]


def case_huge_exponent_box(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    return ["cells", "net.json", "--box", "-1", "1e30000000", "--no-progress"]


def case_million_digit_decimal(tmp: Path) -> list[str]:
    net = json.loads(json.dumps(GRID))
    net["layers"][0]["b"][0] = "0." + "3" * 1_000_000
    (tmp / "net.json").write_text(json.dumps(net))
    return ["cells", "net.json", "--no-progress"]


def case_long_int_literal(tmp: Path) -> list[str]:
    text = json.dumps(GRID).replace('"b": [0, 0]', '"b": [' + "7" * 100_001 + ", 0]")
    (tmp / "net.json").write_text(text)
    return ["cells", "net.json", "--no-progress"]


def case_deep_network(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text('{"layers": ' + _deep(100_000) + "}")
    return ["cells", "net.json", "--no-progress"]


def case_deep_domain(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "dom.json").write_text('{"A": ' + _deep(100_000) + "}")
    return ["cells", "net.json", "--domain", "dom.json", "--no-progress"]


def case_deep_claim(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "claim.json").write_text('{"regions": ' + _deep(100_000) + "}")
    return ["certify-claim", "net.json", "claim.json", "--no-progress"]


def case_deep_complex_meta(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    p = _complex_file(tmp)
    meta = np.frombuffer(('{"format": ' + _deep(100_000) + "}").encode(), dtype=np.uint8)
    import io

    buf = io.BytesIO()
    np.save(buf, meta)
    _replace_member(p, "meta.npy", buf.getvalue())
    return ["certify", "net.json", "--complex", "k.npz", "--no-progress"]


def case_npz_network_with_a_gap(tmp: Path) -> list[str]:
    # W1, b1 missing: the layers W2, b2 were silently dropped (a 2-1 network of W0 alone)
    np.savez(tmp / "net.npz", W0=np.ones((1, 2)), b0=np.zeros(1), W2=np.ones((1, 1)), b2=np.zeros(1))
    return ["cells", "net.npz", "--no-progress"]


def case_truncated_npz_network(tmp: Path) -> list[str]:
    buf = tmp / "full.npz"
    np.savez(buf, W0=np.eye(2), b0=np.zeros(2), W1=np.ones((1, 2)), b1=np.zeros(1))
    data = buf.read_bytes()
    buf.unlink()
    (tmp / "net.npz").write_bytes(data[: len(data) // 2])
    return ["cells", "net.npz", "--no-progress"]


def case_truncated_complex(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    p = _complex_file(tmp)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    return ["certify", "net.json", "--complex", "k.npz", "--no-progress"]


def case_npz_declares_terabytes(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    p = _complex_file(tmp)
    _replace_member(p, "dims.npy", _npy_header((10**12,), "|i1") + b"\x00" * 64)
    return ["certify", "net.json", "--complex", "k.npz", "--no-progress"]


def case_network_npz_huge_w0(tmp: Path) -> list[str]:
    with zipfile.ZipFile(tmp / "net.npz", "w") as z:
        z.writestr("W0.npy", _npy_header((10**6, 10**6)) + b"\x00" * 64)
        z.writestr("b0.npy", _npy_header((2,)) + b"\x00" * 16)
    return ["cells", "net.npz", "--no-progress"]


def case_claim_3d_vertices(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "claim.json").write_text(json.dumps({"regions": [{"pattern": "11", "vertices": [[0, 0, 0]]}]}))
    return ["certify-claim", "net.json", "claim.json", "--no-progress"]


def case_claim_without_regions(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "claim.json").write_text(json.dumps({"cells": []}))
    return ["certify-claim", "net.json", "claim.json", "--no-progress"]


def case_analyze_onto_file(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "report").write_text("mine")
    return ["analyze", "net.json", "-o", "report", "--no-progress"]


def case_persistence_onto_file(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    (tmp / "report").write_text("mine")
    return ["persistence", "net.json", "-o", "report", "--no-progress"]


def case_analyze_box_beyond_floats(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    return ["analyze", "net.json", "--box", "-1e400", "1e400", "--out", "report", "--no-progress"]


def case_fiedler_picture_beyond_floats(tmp: Path) -> list[str]:
    (tmp / "net.json").write_text(json.dumps(GRID))
    return ["fiedler", "net.json", "--box", "-1e400", "1e400", "-o", "report", "--no-progress"]


CASES = [
    (case_pickled_module, "evil.pt", "trust-pickle"),
    (case_plain_pickle, "evil.pt", "trust-pickle"),
    (case_huge_exponent, "net.json", "exponent"),
    (case_huge_exponent_box, None, "exponent"),
    (case_million_digit_decimal, "net.json", "digits"),
    (case_long_int_literal, "net.json", "digits"),
    (case_deep_network, "net.json", "nested too deeply"),
    (case_deep_domain, "dom.json", "nested too deeply"),
    (case_deep_claim, "claim.json", "nested too deeply"),
    (case_deep_complex_meta, "k.npz", "nested too deeply"),
    (case_npz_network_with_a_gap, "net.npz", "array W2 comes after a gap"),
    (case_truncated_npz_network, "net.npz", "NPZ"),
    (case_truncated_complex, "k.npz", "NPZ"),
    (case_npz_declares_terabytes, "k.npz", "declares shape (1000000000000,)"),
    (case_network_npz_huge_w0, "net.npz", "declares shape (1000000, 1000000)"),
    (case_claim_3d_vertices, "claim.json", "3 coordinates"),
    (case_claim_without_regions, "claim.json", "regions"),
    (case_analyze_onto_file, "report", "not a folder"),
    (case_persistence_onto_file, "report", "not a folder"),
    (case_analyze_box_beyond_floats, None, "beyond the float range"),
    (case_fiedler_picture_beyond_floats, None, "beyond the float range"),
]


@pytest.mark.parametrize(("setup", "names", "problem"), CASES, ids=[c[0].__name__[5:] for c in CASES])
def test_hostile_input_is_a_one_line_error(tmp_path: Path, setup: Callable[[Path], list[str]],
                                           names: str | None, problem: str) -> None:
    argv = setup(tmp_path)
    before = files(tmp_path)
    r = cli(tmp_path, *argv)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("exactcells: error: ")
    if names is not None:
        assert names in lines[0]
    assert problem in lines[0]
    assert r.stdout == ""
    assert files(tmp_path) == before  # nothing written, not even a temporary file
    assert not (tmp_path / MARKER).exists()  # no code from the file ran
    if (tmp_path / "report").is_file():
        assert (tmp_path / "report").read_text() == "mine"


@pytest.mark.parametrize("argv", [
    ["cells", "net.json", "--jobs", "0"],
    ["cells", "net.json", "--jobs", "-3"],
    ["certify", "net.json", "--jobs", "0"],
    ["certify", "net.json", "--cdd", "-5"],
    ["fiedler", "net.json", "--tol", "nan"],
    ["fiedler", "net.json", "--tol", "-1"],
])
def test_out_of_range_options_are_refused(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "net.json").write_text(json.dumps(GRID))
    r = cli(tmp_path, *argv, "--no-progress")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"error: argument {argv[2]}" in r.stderr
    assert r.stdout == ""


def test_trusted_pickle_is_loaded_only_with_the_flag(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), tmp_path / "model.pt")
    assert cli(tmp_path, "cells", "model.pt", "--no-progress").returncode == 2
    r = cli(tmp_path, "cells", "model.pt", "--no-progress", "--trust-pickle", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["architecture"] == "2-3-1"


def test_certify_huge_box_has_null_float_companion(tmp_path: Path) -> None:
    (tmp_path / "net.json").write_text(json.dumps(GRID))
    r = cli(tmp_path, "certify", "net.json", "--box", "-1e200", "1e200", "--json", "--no-progress", "--volumes")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["certified"] is True
    assert d["total_volume"] == "4" + "0" * 400 and d["total_volume_float"] is None


@pytest.mark.parametrize("bound", ["1e400", "1e-400"])
def test_a_box_beyond_the_float_range_is_built_and_certified(tmp_path: Path, bound: str) -> None:
    """Coordinates beyond the float range (or below it) take the exact path where the float
    filter cannot decide; GRID's cuts pass through the origin, so every box [-c, c]^2 gives the
    complex of [-1, 1]^2. Before, 1e400 was an OverflowError traceback."""
    (tmp_path / "net.json").write_text(json.dumps(GRID))
    for cmd in ("cells", "certify"):
        r = cli(tmp_path, cmd, "net.json", "--box", f"-{bound}", bound, "--json", "--no-progress")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        d = json.loads(r.stdout)
        assert d["f_vector"] == [9, 12, 4]
    assert d["certified"] is True


@pytest.mark.parametrize("small", ["1/2", "1e-400"])
def test_weights_beyond_the_float_range_through_every_command(tmp_path: Path, small: str) -> None:
    """A network whose output weight is 1e400 (and, second, whose third neuron's weights are
    1e-400): every command runs, with no traceback and no numpy warning; the float views
    (pictures, the report's colours) saturate. Before: OverflowError in analyze's report,
    "invalid value" warnings from the float forward pass, and a wrong complex for 1e-400."""
    net = {"layers": [{"W": [[1, 0], [0, 1], [small, small]], "b": [0, 0, small]},
                      {"W": [[1, -1, "1e400"]], "b": [0]}]}
    (tmp_path / "net.json").write_text(json.dumps(net))
    for argv in (["cells", "--json"], ["cells", "--with-output", "--json"], ["certify", "--with-output", "--json"],
                 ["analyze", "--out", "a"], ["fiedler", "-o", "f"],
                 ["persistence", "--filtration", "output-lower-star", "-o", "p"]):
        r = cli(tmp_path, argv[0], "net.json", *argv[1:], "--no-progress")
        assert r.returncode == 0, r.stderr[-2000:]
        assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr[-2000:]
        if argv == ["cells", "--json"]:
            # the hidden neurons x, y and (a multiple of) x + y + 1, the same for both
            assert json.loads(r.stdout)["f_vector"] == [9, 13, 5]
        elif argv[0] == "certify":
            assert json.loads(r.stdout)["certified"] is True


def test_a_1d_graph_beyond_the_float_range_is_drawn(tmp_path: Path) -> None:
    """analyze draws a 1-D complex as the graph of the output: values of 1e400 saturate
    (before: OverflowError)."""
    net = {"layers": [{"W": [[1], [-1]], "b": [0, "1/2"]}, {"W": [["1e400", 1]], "b": [0]}]}
    (tmp_path / "net.json").write_text(json.dumps(net))
    r = cli(tmp_path, "analyze", "net.json", "--out", "a", "--no-progress")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert (tmp_path / "a" / "complex.png").stat().st_size > 0


def test_fiedler_on_a_huge_box_has_no_float_overflow(tmp_path: Path) -> None:
    """The float-guided sweep weighs regions by their share of the exact total volume."""
    (tmp_path / "net.json").write_text(json.dumps(GRID))
    r = cli(tmp_path, "fiedler", "net.json", "--box", "-1e200", "1e200", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    small = cli(tmp_path, "fiedler", "net.json", "--box", "-1", "1", "--json", "--no-progress")
    assert small.returncode == 0, small.stderr
    # the complex is the same up to scaling by 1e200 (GRID's cuts pass through the origin)
    e = json.loads(small.stdout)
    assert (d["num_nodes"], d["num_edges"], d["f_vector"]) == (e["num_nodes"], e["num_edges"], e["f_vector"])
    assert d["agreement"] == e["agreement"]


def test_plane_npy_declaring_a_huge_array_is_refused_before_reading(tmp_path: Path) -> None:
    """``--plane FILE.npy`` goes through the hardened reader like every other array file."""
    import struct

    (tmp_path / "net.json").write_text(json.dumps(GRID))
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1000000000), }"
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    (tmp_path / "plane.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    r = cli(tmp_path, "cells", "net.json", "--plane", "plane.npy", "--no-progress")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "plane.npy" in r.stderr and "declares shape" in r.stderr
