"""Issue 12 (hardening), below the command line: bounded exact parsing, safe readers, files
written as users expect, exact claim verdicts, and the smaller exactness fixes."""

from __future__ import annotations

import json
import math
import os
import stat
import sys
import threading
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exactcells import Domain, build_complex, load_complex, load_network, network_from_dict
from exactcells.claims import claim_from_dict, judge_claim
from exactcells.cli import main
from exactcells.errors import (
    FormatError,
    InvalidNetworkError,
    NonRationalInputError,
    OutputExistsError,
)
from exactcells.io import atomic_output, atomic_write_text, loads_json
from exactcells.numbers import (
    MAX_DECIMAL_EXPONENT,
    MAX_NUMBER_DIGITS,
    format_rational,
    parse_rational_string,
    to_rational,
)

GRID = {"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]}


# -- numbers ----------------------------------------------------------------------------------

def _conversions(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int], dict[str, bool]]:
    """Spy on the two ways a number's text becomes an integer: ``parse_int_string`` (the digits
    given to it; with ``state["refuse"]`` any call fails the test at once) and FLINT's ``fmpz``
    (the quasi-linear conversion of long digit strings; one of more than ``MAX_NUMBER_DIGITS``
    digits fails the test at once)."""
    import flint

    import exactcells.numbers as numbers

    parsed: list[int] = []
    converted: list[int] = []
    state = {"refuse": True}
    real_parse, real_fmpz = numbers.parse_int_string, flint.fmpz

    def parse(text: str, max_digits: int = MAX_NUMBER_DIGITS) -> int:
        parsed.append(len(text))
        if state["refuse"]:
            raise AssertionError(f"digits read before the bounds were checked: {text[:20]!r}...")
        return real_parse(text, max_digits)

    def fmpz(x: Any) -> Any:
        if isinstance(x, str):
            converted.append(len(x))
            if len(x.lstrip("+-")) > MAX_NUMBER_DIGITS:
                raise AssertionError(f"a number of {len(x)} digits converted")
        return real_fmpz(x)

    monkeypatch.setattr(numbers, "parse_int_string", parse)
    monkeypatch.setattr(flint, "fmpz", fmpz)
    return parsed, converted, state


def test_exponents_and_lengths_are_bounded_and_refused_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # "fast": refused before any conversion of the digits (decimals: before any integer is read;
    # integers and fractions: by their length, before FLINT or Python converts them)
    parsed, converted, state = _conversions(monkeypatch)
    for text in ("1e1000000000", "1e-1000000000", f"1e{MAX_DECIMAL_EXPONENT + 1}",
                 "0." + "3" * 1_000_000, "1e" + "0" * 500_000 + "1000001"):
        with pytest.raises(NonRationalInputError, match="exponent|digits"):
            to_rational(text, "W[0][0]")
    assert parsed == [] and converted == []
    state["refuse"] = False  # integers and fractions are read by parse_int_string, which checks them
    for text in ("1" * (MAX_NUMBER_DIGITS + 1), "1/" + "7" * (MAX_NUMBER_DIGITS + 1)):
        with pytest.raises(NonRationalInputError, match="digits"):
            to_rational(text, "W[0][0]")
    assert converted == []
    # at the bounds: exact, and the long integer converted by FLINT (quasi-linear), not by Python
    x = parse_rational_string("7" * MAX_NUMBER_DIGITS)
    assert x == (10**MAX_NUMBER_DIGITS - 1) // 9 * 7
    assert converted == [MAX_NUMBER_DIGITS]
    assert parse_rational_string(f"1e-{MAX_DECIMAL_EXPONENT}") == Fraction(1, 10**MAX_DECIMAL_EXPONENT)
    assert parse_rational_string("-12.5e-1") == Fraction(-5, 4)
    assert parse_rational_string(" 3 / -6 ") == Fraction(-1, 2)
    assert converted == [MAX_NUMBER_DIGITS]  # short numbers need no FLINT


def test_the_process_wide_digit_limit_is_never_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(n: int) -> None:
        raise AssertionError("sys.set_int_max_str_digits called")

    monkeypatch.setattr(sys, "set_int_max_str_digits", refuse)
    big = 10**20000 + 1
    text = format_rational(Fraction(big, 3))
    assert to_rational(text) == Fraction(big, 3)
    assert loads_json("[" + "9" * 50_000 + "]", FormatError, "x")[0] == 10**50_000 - 1


def test_json_integer_literals_and_nesting_are_bounded() -> None:
    with pytest.raises(FormatError, match="f.json: an integer with 100,001 digits"):
        loads_json("[" + "1" * 100_001 + "]", FormatError, "f.json")
    with pytest.raises(FormatError, match="f.json: the JSON is nested too deeply"):
        loads_json("[" * 100_000 + "]" * 100_000, FormatError, "f.json")


def test_longdouble_is_taken_at_full_precision(tmp_path: Path) -> None:
    x = np.longdouble(1) / np.longdouble(3)
    p, q = x.as_integer_ratio()
    assert to_rational(x) == Fraction(int(p), int(q))
    if np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant:  # x86-64: 80-bit
        assert to_rational(x) != Fraction(float(x))
    np.savez(tmp_path / "net.npz", W0=np.array([[x, 1]], dtype=np.longdouble), b0=np.zeros(1))
    net = load_network(tmp_path / "net.npz")
    assert net.layers[0].W[0][0] == Fraction(int(p), int(q))


# -- safe readers -----------------------------------------------------------------------------

def _npy(shape: tuple[int, ...], body: bytes, descr: str = "<f8") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + body


def test_declared_shapes_are_checked_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "net.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("W0.npy", _npy((10**6, 10**6), b"\0" * 16))
        z.writestr("b0.npy", _npy((1,), b"\0" * 8))
    with pytest.raises(InvalidNetworkError, match=r"W0.*declares shape \(1000000, 1000000\)"):
        load_network(p)
    # a declared shape that does not match the data is refused too (no short read)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("W0.npy", _npy((3, 2), b"\0" * 16))
        z.writestr("b0.npy", _npy((3,), b"\0" * 24))
    with pytest.raises(InvalidNetworkError, match="holds 16 bytes"):
        load_network(p)
    # object arrays are refused without unpickling
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    from exactcells.dual import load_points

    with pytest.raises(FormatError, match="object arrays are refused"):
        load_points(tmp_path / "obj.npy", 2)


def test_complex_with_long_coordinates_saves_and_loads(tmp_path: Path) -> None:
    q = 3**9200  # 4390 digits: beyond Python's default int/str limit
    net = network_from_dict({"layers": [{"W": [[1]], "b": [Fraction(-1, q)]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, Domain.box(1, -1, 1))
    assert Fraction(1, q) in {K.vertex(v)[0] for v in range(K.f_vector[0])}
    K.save(tmp_path / "k.npz")
    L = load_complex(tmp_path / "k.npz")
    assert [L.vertex(v) for v in range(L.f_vector[0])] == [K.vertex(v) for v in range(K.f_vector[0])]
    assert L.network == net


# -- output files -----------------------------------------------------------------------------

def test_new_files_get_the_umask_and_force_keeps_the_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "1")
        assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o644
        os.umask(0o027)
        atomic_write_text(tmp_path / "b.json", "1")
        assert stat.S_IMODE(os.stat(tmp_path / "b.json").st_mode) == 0o640
    finally:
        os.umask(old)
    os.chmod(tmp_path / "a.json", 0o604)
    atomic_write_text(tmp_path / "a.json", "2", force=True)
    assert (tmp_path / "a.json").read_text() == "2"
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_no_clobber_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    # the file appears while the output is being written: it is kept, and nothing is left over
    with pytest.raises(OutputExistsError), atomic_output(target, binary=False) as f:
        f.write("ours")
        target.write_text("theirs")
    assert target.read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


# -- claims -----------------------------------------------------------------------------------

def _grid_complex() -> Any:
    return build_complex(network_from_dict(GRID), Domain.box(2, -1, 1))


def test_claim_vertices_must_be_the_exact_vertices() -> None:
    K = _grid_complex()
    # region "11" is the square [0, 1]^2
    right = {"regions": [{"pattern": p} for p in ("00", "01", "10")]
             + [{"pattern": "11", "vertices": [[0, 0], [1, 0], [0, 1], [1, 1]]}]}
    assert judge_claim(K, claim_from_dict(right)).exact
    far = json.loads(json.dumps(right))
    far["regions"][3]["vertices"] = [[x + 7, y] for x, y in far["regions"][3]["vertices"]]
    v = judge_claim(K, claim_from_dict(far))
    assert not v.exact and v.vertices_wrong == 4 and v.vertices_missing == 4
    short = json.loads(json.dumps(right))
    short["regions"][3]["vertices"] = [[0, 0], [1, 0], [0, 1]]
    v = judge_claim(K, claim_from_dict(short))
    assert not v.exact and v.vertices_wrong == 0 and v.vertices_missing == 1


def test_claim_vertices_exact_or_correctly_rounded() -> None:
    net = network_from_dict({"layers": [{"W": [[3, 0]], "b": [-1]}, {"W": [[1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))  # vertices (1/3, -1) and (1/3, 1)
    for third in ("1/3", 1 / 3):
        d = {"regions": [{"pattern": "0"},
                         {"pattern": "1", "vertices": [[third, -1], [third, 1], [1, -1], [1, 1]]}]}
        assert judge_claim(K, claim_from_dict(d)).exact
    off = np.nextafter(1 / 3, 1.0)  # one ulp away: not the exact vertex, not its rounding
    d = {"regions": [{"pattern": "0"},
                     {"pattern": "1", "vertices": [[off, -1], [1 / 3, 1], [1, -1], [1, 1]]}]}
    assert judge_claim(K, claim_from_dict(d)).vertices_wrong == 1


def test_claimed_cell_dimensions_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    K = _grid_complex()
    cells = [{"pattern": "00", "dim": 0}, {"pattern": "++", "dim": 2}]
    regions = [{"pattern": p} for p in ("00", "01", "10", "11")]
    v = judge_claim(K, claim_from_dict({"regions": regions, "cells": cells}))
    assert v.cells_wrong_dim == 0
    wrong = [{"pattern": "00", "dim": 1}, {"pattern": "++", "dim": 2}]
    v = judge_claim(K, claim_from_dict({"regions": regions, "cells": wrong}))
    assert v.cells_wrong_dim == 1 and not v.exact
    with pytest.raises(FormatError, match="dimension 3"):
        judge_claim(K, claim_from_dict({"regions": regions, "cells": [{"pattern": "00", "dim": 3}]}))
    # through the command line: exit 1 (not exact), 0 only for the exactly right claim
    (tmp_path / "net.json").write_text(json.dumps(GRID))
    all_cells = [{"pattern": "".join("+-0"[[1, -1, 0].index(s)] for s in K.sign_vector(i)[:2]),
                  "dim": K.dim(i)} for i in range(K.num_cells)]
    for cs, code in ((all_cells, 0), ([dict(c, dim=(c["dim"] + 1) % 3) for c in all_cells], 1)):
        (tmp_path / "claim.json").write_text(json.dumps({"regions": regions, "cells": cs}))
        assert main(["certify-claim", str(tmp_path / "net.json"), str(tmp_path / "claim.json"),
                     "--no-progress"]) == code
    capsys.readouterr()


def test_claim_without_regions_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="no 'regions'"):
        claim_from_dict({"cells": []})


# -- exactness details ------------------------------------------------------------------------

def test_facet_volume_equality_is_by_exact_value() -> None:
    from exactcells.dual import FacetVolume

    a, b = FacetVolume(Fraction(1), 20402), FacetVolume(Fraction(101), 2)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != FacetVolume(Fraction(1), 20403)
    assert a != FacetVolume(Fraction(-101), 2)


def test_certify_reports_missing_vertex_coordinates_as_format() -> None:
    from exactcells import PolyhedralComplex
    from exactcells.certify import certify

    K = _grid_complex()
    L = PolyhedralComplex(network=K.network, domain=K.domain, with_output=False, dims=K.dims,
                          signs=K.signs, facet_indptr=K.facet_csr[0], facet_indices=K.facet_csr[1],
                          vertex_coords=[K.vertex_homogeneous(v) for v in range(K.f_vector[0] - 1)])
    cert = certify(L)
    assert not cert.certified
    assert cert.failure_counts.get("format") == 1


def test_filtration_values_beyond_the_float_range() -> None:
    from exactcells.topology.filtrations import filtration_from_values

    K = _grid_complex()
    huge = [Fraction(10**400 * (K.dim(i) + 1) + i) for i in range(K.num_cells)]
    F = filtration_from_values(K, huge)
    assert F.levels is not None and list(F.levels) == sorted(set(huge))
    assert F.value(K.num_cells - 1) == huge[-1]


def test_analyze_without_phat_leaves_no_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "phat", None)  # import phat raises ImportError
    out = tmp_path / "report"
    assert main(["analyze", "-o", str(out), "--no-progress"]) == 2
    assert "PHAT" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_analyze_failure_late_removes_the_files_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from exactcells.cli import analyze
    from exactcells.errors import InvalidArgumentError

    def boom(ctx: Any) -> dict[str, Any]:
        raise InvalidArgumentError("a section failed")

    monkeypatch.setattr(analyze, "SECTIONS", [*analyze.SECTIONS, f"{__name__}:_unused"])
    monkeypatch.setitem(globals(), "_unused", boom)
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["analyze", "-o", str(out), "--no-progress"]) == 2
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # a folder the run created goes too
    fresh = tmp_path / "new-report"
    assert main(["analyze", "-o", str(fresh), "--no-progress"]) == 2
    assert not fresh.exists()
    capsys.readouterr()


def test_certify_workers_are_spawned_from_a_threaded_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # the volume tasks run on Dask workers, which are spawned (never forked: forking a process
    # that runs other threads can deadlock the child), so a threaded caller is safe
    pytest.importorskip("distributed")
    import multiprocessing as mp

    from exactcells.certify import certify

    methods: list[str] = []
    real = mp.get_context

    def spy(method: str | None = None) -> Any:
        methods.append(str(method))
        return real(method)

    monkeypatch.setattr(mp, "get_context", spy)
    K = _grid_complex()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        cert = certify(K, jobs=2, volumes=True)
    finally:
        stop.set()
        t.join()
    assert cert.certified and "2 processes" in cert.check("volumes").detail
    assert "spawn" in methods and "fork" not in methods


def test_claimed_vertex_distances_do_not_overflow() -> None:
    # the distance of a claimed vertex (1.34e154, 0) from the exact (1, 0) is a float; squaring
    # its coordinates overflowed (an inf and a RuntimeWarning); a distance beyond the float range
    # is None in the JSON (whose readers do not take Infinity)
    K = _grid_complex()  # region "11" is the square [0, 1]^2
    far = 1.3407807929942597e154
    d = {"regions": [{"pattern": p} for p in ("00", "01", "10")]
         + [{"pattern": "11", "vertices": [[far, 0], [1, 0], [0, 1], [1, 1]]}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = judge_claim(K, claim_from_dict(d))
    assert v.max_vertex_distance is not None and abs(v.max_vertex_distance - far) <= 1e-12 * far
    d["regions"][3]["vertices"][0] = ["1e400", 0]
    v = judge_claim(K, claim_from_dict(d))
    assert v.max_vertex_distance == math.inf and v.to_dict()["max_vertex_distance"] is None
    json.loads(json.dumps(v.to_dict()), parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} in JSON")
