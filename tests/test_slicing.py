"""Slices: exact restriction of a network to a plane/line/3-flat, the domain in slice coordinates,
the dimension limit, and the options of every command that takes --box/--domain.

Independent checks: closed-form region counts of hand networks whose neurons are coordinate
hyperplanes; exact forward passes of the original network at lifted points (every sampled sign
pattern is a region of the slice complex, every slice cell is a cell of the full complex).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactcells import Domain, build_complex, network_from_dict
from exactcells.cli import main
from exactcells.domain import MAX_DOMAIN_DIM, DomainTooLargeError
from exactcells.errors import CellLimitExceeded, EmptyDomainError, FlatDomainError
from exactcells.slicing import (
    InvalidSliceError,
    Slice,
    around_point,
    plane_domain,
    plane_through,
    points_in_slice,
    slice_from_dict,
)

F = Fraction


def _write(tmp_path: Path, obj: Any, name: str) -> str:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(p)


def _coordinate_net(cs: list[Any]) -> dict[str, Any]:
    """Hidden neuron i is x_i - c_i: its zero set is the hyperplane x_i = c_i."""
    n = len(cs)
    return {"layers": [{"W": [[int(i == j) for j in range(n)] for i in range(n)], "b": [f"-{c}" for c in cs]},
                       {"W": [[1] * n], "b": [0]}]}


def _random_net(rng: np.random.Generator, sizes: list[int]) -> Any:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append({"W": (rng.standard_normal((b, a)) / np.sqrt(a)).tolist(),
                       "b": (0.1 * rng.standard_normal(b)).tolist()})
    return network_from_dict({"layers": layers})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bad(capsys: pytest.CaptureFixture[str], *argv: str, words: tuple[str, ...] = ()) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    assert err.startswith("exactcells: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    return err


# -- closed forms ------------------------------------------------------------------------------

def test_coordinate_hyperplanes_cut_a_plane_into_a_grid() -> None:
    # x = (s, t, t) through p0 = 0, p1 = e1, p2 = e2 + e3; the neurons x1 = 1/2, x2 = 1/2, x3 = 1/4
    # are the lines s = 1/2, t = 1/2, t = 1/4 of the plane: a 2 x 3 grid on [-1/2, 3/2]^2
    net = network_from_dict(_coordinate_net(["1/2", "1/2", "1/4"]))
    sl = plane_through([0, 0, 0], [1, 0, 0], [0, 1, 1])
    K = build_complex(sl.restrict(net), Domain.box(2, F(-1, 2), F(3, 2)))
    assert K.f_vector == (12, 17, 6)


def test_coordinate_hyperplanes_in_general_position() -> None:
    # n = 4, the plane x = (s, t, s + t, s - t) and the lines s = 1/3, t = 1/4, s + t = 1/5,
    # s - t = 1/7 on [-1/2, 3/2]^2: the 6 crossings (1/3, 1/4), (1/3, -2/15), (1/3, 4/21),
    # (-1/20, 1/4), (11/28, 1/4), (6/35, 1/35) are distinct and inside, and every line crosses the
    # square. Regions of 4 lines in general position cutting a convex domain: 1 + 4 + 6 = 11.
    net = network_from_dict(_coordinate_net(["1/3", "1/4", "1/5", "1/7"]))
    sl = plane_through([0, 0, 0, 0], [1, 0, 1, 1], [0, 1, 1, -1])
    K = build_complex(sl.restrict(net), Domain.box(2, F(-1, 2), F(3, 2)))
    assert K.num_regions == 11
    assert K.f_vector == (6 + 4 * 2 + 4, 28, 11)  # crossings, line ends, corners; Euler gives 28 edges


def test_a_one_dimensional_slice_counts_crossings() -> None:
    # the line x = origin + t d crosses the hyperplanes x_i = 0 at t = -o_i / d_i
    net = network_from_dict(_coordinate_net(["0", "0", "0"]))
    sl = slice_from_dict({"origin": ["1/4", "-1/2", "3/4"], "directions": [[1, 1, -1]]})
    K = build_complex(sl.restrict(net), Domain.box(1, -1, 1))
    # crossings at t = -1/4, 1/2, 3/4: 4 pieces
    assert K.num_regions == 4
    assert sorted(K.vertex(v)[0] for v in range(K.f_vector[0])) == [F(-1), F(-1, 4), F(1, 2), F(3, 4), F(1)]


# -- exactness against the original network -----------------------------------------------------

NET3 = network_from_dict({"layers": [
    {"W": [[1, "1/2", 0], [0, 1, "-1/3"], ["-1/2", 0, 1], [1, 1, 1]], "b": ["1/10", 0, "-1/5", "-1/2"]},
    {"W": [[1, -1, "1/2", 1], ["1/3", 1, -1, 0]], "b": ["1/7", "-1/9"]},
    {"W": [[1, -1]], "b": ["1/10"]}]})
PLANE3 = plane_through(["-1/2", "-1/3", "1/5"], ["3/4", "-1/4", "-1/2"], ["-1/4", "2/3", "1/2"])


@settings(max_examples=40, deadline=None)
@given(st.fractions(-3, 3), st.fractions(-3, 3))
def test_restricted_network_is_the_network_on_the_plane(s: Fraction, t: Fraction) -> None:
    net2 = PLANE3.restrict(NET3)
    x = PLANE3.to_input([s, t])
    assert net2.pre_activations([s, t]) == NET3.pre_activations(x)
    assert PLANE3.locate(x) == (s, t)


def test_slice_cells_are_cells_of_the_full_complex() -> None:
    full = build_complex(NET3, Domain.box(3, -1, 1), with_output=True)
    cube = PLANE3.box_pullback([F(-1)] * 3, [F(1)] * 3)
    dom = plane_domain(PLANE3, Domain.box(2, F(-1, 2), F(3, 2)), cube)
    K = build_complex(PLANE3.restrict(NET3), dom, with_output=True)
    nh = NET3.num_hidden
    full_patterns = {tuple(full.sign_vector(c)[:nh]) + tuple(full.sign_vector(c)[-1:]) for c in range(full.num_cells)}
    for c in range(K.num_cells):
        x = PLANE3.to_input(K.interior_point(c))
        sv = NET3.hidden_signs(x) + full.domain.facet_signs(x) + NET3.output_signs(x)
        assert -1 not in full.domain.facet_signs(x)
        # the cell of the full complex through the lifted interior point exists
        full.index_of(sv)
        # and the slice cell's sign vector is that point's, neuron by neuron
        assert tuple(K.sign_vector(c)[:nh]) + tuple(K.sign_vector(c)[-1:]) == sv[:nh] + sv[-1:]
        assert sv[:nh] + sv[-1:] in full_patterns


def test_sampled_sign_patterns_are_regions_of_the_slice() -> None:
    cube = PLANE3.box_pullback([F(-1)] * 3, [F(1)] * 3)
    dom = plane_domain(PLANE3, Domain.box(2, F(-1, 2), F(3, 2)), cube)
    K = build_complex(PLANE3.restrict(NET3), dom)
    nh = NET3.num_hidden
    regions = {tuple(K.sign_vector(r)[:nh]) for r in K.regions()}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(3000):
        t = [F(int(v), 4096) for v in rng.integers(-2048, 6144, size=2)]
        if not dom.contains(t):
            continue
        s = NET3.hidden_signs(PLANE3.to_input(t))
        if 0 in s:
            continue
        assert s in regions
        seen.add(s)
    assert len(seen) >= len(regions) // 2  # the sample reaches most regions


# -- domains in slice coordinates ----------------------------------------------------------------

def test_ambient_box_pulls_back_exactly() -> None:
    # x = (s, t, s + t) in [0, 1]^3: the square [0, 1]^2 cut by s + t <= 1: a triangle
    sl = plane_through([0, 0, 0], [1, 0, 1], [0, 1, 1])
    dom = plane_domain(sl, Domain.box(2, F(-1, 2), F(3, 2)), sl.box_pullback([F(0)] * 3, [F(1)] * 3))
    assert sorted(dom.vertices) == [(0, 0), (0, 1), (1, 0)]
    assert dom.volume() == F(1, 2)


def test_ambient_domain_missing_or_flat() -> None:
    far = plane_through([10, 10, 10], [11, 10, 10], [10, 11, 10])
    with pytest.raises(EmptyDomainError, match="does not meet"):
        plane_domain(far, Domain.box(2, F(-1, 2), F(3, 2)), far.box_pullback([F(0)] * 3, [F(1)] * 3))
    # x = (s, t, 1 + t) meets [0, 1]^3 in the segment t = 0
    edge = plane_through([0, 0, 1], [1, 0, 1], [0, 1, 2])
    with pytest.raises(FlatDomainError, match="lower-dimensional"):
        plane_domain(edge, Domain.box(2, F(-1, 2), F(3, 2)), edge.box_pullback([F(0)] * 3, [F(1)] * 3))


def test_bad_slices() -> None:
    with pytest.raises(InvalidSliceError, match="collinear"):
        plane_through([0, 0, 0], [1, 1, 1], [2, 2, 2])
    with pytest.raises(InvalidSliceError, match="direction 1 is zero"):
        Slice((F(0), F(0)), ((F(1), F(0)), (F(0), F(0))))
    with pytest.raises(InvalidSliceError, match="linearly dependent"):
        slice_from_dict({"origin": [0, 0, 0], "directions": [[1, 2, 3], [2, 4, 6]]})
    with pytest.raises(InvalidSliceError, match="radius"):
        around_point([0, 0, 0], 0)
    with pytest.raises(InvalidSliceError, match="--dims"):
        around_point([0, 0, 0], 1, dims=4)


def test_gaussian_directions_are_seeded_and_recorded_exactly() -> None:
    a = around_point([0] * 30, "1/10", 2, seed=7)
    b = around_point([0] * 30, "1/10", 2, seed=7)
    c = around_point([0] * 30, "1/10", 2, seed=8)
    assert a.directions == b.directions != c.directions
    rec = a.to_dict()
    assert rec["seed"] == 7 and rec["direction_kind"] == "gaussian" and rec["radius"] == "1/10"
    again = slice_from_dict(rec)
    assert again.directions == a.directions and again.origin == a.origin
    # the exact binary values of unit-length float vectors
    for d in a.directions:
        assert all(v.denominator & (v.denominator - 1) == 0 for v in d)
        assert abs(float(sum(v * v for v in d)) - 1) < 1e-12
    coord = around_point([0] * 30, 1, 3, directions="coordinate", seed=3)
    assert coord.axes is not None and len(set(coord.axes)) == 3
    assert all(sum(d) == 1 and set(d) <= {0, 1} for d in coord.directions)


def test_points_in_slice() -> None:
    idx, coords = points_in_slice(PLANE3, [PLANE3.to_input([F(1, 3), F(-2)]), [0, 0, 0], list(PLANE3.points[2])])
    assert idx == [0, 2] and coords == [(F(1, 3), F(-2)), (F(0), F(1))]


# -- the dimension limit and cell limits ----------------------------------------------------------

def test_domains_above_the_limit_are_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # "at once": refused before any vertex enumeration (cddlib is never called)
    import exactcells.domain as dm

    def never(*a: object, **k: object) -> None:
        raise AssertionError("the vertices were enumerated")

    monkeypatch.setattr(dm, "vertices_of", never)
    with pytest.raises(DomainTooLargeError, match="--plane"):
        Domain.box(MAX_DOMAIN_DIM + 1)
    with pytest.raises(DomainTooLargeError, match="--around"):
        Domain([[1] * 50], [1])


def test_max_cells_stops_a_parallel_build_early() -> None:
    rng = np.random.default_rng(3)
    net = _random_net(rng, [2, 10, 30, 30, 1])
    dom = Domain.box(2, -2, 2)
    full = build_complex(net, dom, jobs=2)
    # the workers' units are merged as they finish, in any order: the same canonical complex
    one = build_complex(net, dom)
    assert full.f_vector == one.f_vector and np.array_equal(full.signs, one.signs)
    limit = full.num_cells // 10
    with pytest.raises(CellLimitExceeded, match=f"more than max_cells = {limit}") as e:
        build_complex(net, dom, jobs=2, max_cells=limit)
    # stopped early: inside a unit or after some, not all, of the units (no timing: the message
    # says where it stopped)
    msg = str(e.value)
    assert "neurons" in msg or "units" in msg
    if "units" in msg:
        done, total = (int(w) for w in msg.split("after ")[1].split(" units")[0].split(" of "))
        assert done < total


# -- the command line -----------------------------------------------------------------------------

@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    out = {
        "net3": _write(tmp_path, _coordinate_net(["1/2", "1/2", "1/4"]), "net3.json"),
        "plane": _write(tmp_path, [[0, 0, 0], [1, 0, 0], [0, 1, 1]], "plane.json"),
        "collinear": _write(tmp_path, [[0, 0, 0], [1, 1, 1], [2, 2, 2]], "collinear.json"),
        "two": _write(tmp_path, [[0, 0, 0], [1, 1, 1]], "two.json"),
        "short": _write(tmp_path, [[0, 0], [1, 0], [0, 1]], "short.json"),
        "far": _write(tmp_path, [[10, 10, 10], [11, 10, 10], [10, 11, 10]], "far.json"),
        "edge": _write(tmp_path, [[0, 0, 1], [1, 0, 1], [0, 1, 2]], "edge.json"),
        "slice": _write(tmp_path, {"origin": [0, 0, 0], "directions": [[1, 0, 0], [0, 1, 1]]}, "slice.json"),
        "dep": _write(tmp_path, {"origin": [0, 0, 0], "directions": [[1, 0, 0], [2, 0, 0]]}, "dep.json"),
        "zero": _write(tmp_path, {"origin": [0, 0, 0], "directions": [[1, 0, 0], [0, 0, 0]]}, "zero.json"),
        "centre": _write(tmp_path, ["1/2", "1/2", "1/4"], "centre.json"),
        "out": str(tmp_path / "out.npz"),
    }
    return out


def test_cli_plane_records_the_slice(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cells", files["net3"], "--plane", files["plane"], "--save", files["out"], "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["f_vector"] == [12, 17, 6]
    rec = obj["slice"]
    assert rec["kind"] == "plane" and rec["points"] == [["0", "0", "0"], ["1", "0", "0"], ["0", "1", "1"]]
    assert rec["directions"] == [["1", "0", "0"], ["0", "1", "1"]] and rec["domain"] == {"box": [["-1/2", "3/2"]] * 2}
    with np.load(files["out"]) as data:
        meta = json.loads(bytes(data["meta"]).decode())
    assert meta["slice"] == rec
    # the same through a slice file, and a --box in slice coordinates
    obj2 = json.loads(run(capsys, "cells", files["net3"], "--slice", files["slice"], "--box", "-1/2", "3/2",
                          "--json")[1])
    assert obj2["f_vector"] == [12, 17, 6] and obj2["slice"]["kind"] == "slice"


def test_cli_ambient_box_and_around(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # inside [0, 1]^3 the plane (s, t, t) is the unit square, cut by s = 1/2, t = 1/4, t = 1/2
    obj = json.loads(run(capsys, "cells", files["net3"], "--plane", files["plane"], "--ambient-box", "0", "1",
                         "--json")[1])
    assert obj["num_regions"] == 6 and obj["slice"]["ambient"] == {"box": ["0", "1"]}
    # around (1/2, 1/2, 1/4) in the axes x1, x3 (seeded), radius 1/8: the 4 quadrants
    code, out, err = run(capsys, "cells", files["net3"], "--around", files["centre"], "--radius", "1/8",
                         "--directions", "coordinate", "--seed", "1", "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["num_regions"] == 4 and obj["slice"]["kind"] == "around" and obj["slice"]["radius"] == "1/8"


@pytest.mark.parametrize("extra,words", [
    (("--plane", "collinear"), ("collinear",)),
    (("--plane", "two"), ("exactly 3 points",)),
    (("--plane", "short"), ("2 coordinates", "3 inputs")),
    (("--slice", "dep"), ("linearly dependent",)),
    (("--slice", "zero"), ("direction 1 is zero",)),
    (("--around", "centre", "--radius", "0"), ("radius must be positive",)),
    (("--around", "centre", "--radius", "-1/2"), ("radius must be positive",)),
    (("--around", "centre"), ("--radius",)),
    (("--around", "centre", "--radius", "1", "--dims", "0"), ("--dims",)),
    (("--around", "centre", "--radius", "1", "--dims", "4"), ("--dims",)),
    (("--around", "plane", "--radius", "1"), ("exactly one point",)),
    (("--plane", "far", "--ambient-box", "0", "1"), ("does not meet",)),
    (("--plane", "edge", "--ambient-box", "0", "1"), ("lower-dimensional",)),
    (("--ambient-box", "0", "1"), ("need a slice",)),
])
def test_cli_bad_slices(files: dict[str, str], capsys: pytest.CaptureFixture[str], extra: tuple[str, ...],
                        words: tuple[str, ...]) -> None:
    argv = [files.get(a, a) for a in extra]
    bad(capsys, "cells", files["net3"], *argv, "--save", files["out"], words=words)
    assert not Path(files["out"]).exists()


def _enumerations(monkeypatch: pytest.MonkeyPatch, refuse: bool = False) -> list[int]:
    """Record the number of columns of every vertex enumeration (cddlib) in this process; with
    ``refuse`` any enumeration fails the test. Returns the (growing) list of column counts."""
    import exactcells.domain as dm
    import exactcells.geometry as geo

    seen: list[int] = []
    real = geo.vertices_of

    def spy(A: Any, c: Any) -> Any:
        seen.append(len(A[0]) if len(A) else 0)
        if refuse:
            raise AssertionError("the vertices were enumerated")
        return real(A, c)

    monkeypatch.setattr(dm, "vertices_of", spy)
    monkeypatch.setattr(geo, "vertices_of", spy)
    return seen


def _no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any build (one process or a Dask cluster started) fails the test."""
    import exactcells.cli.cells as cells_cli
    import exactcells.cli.certify as certify_cli
    import exactcells.parallel as par

    def never(*a: object, **k: object) -> None:
        raise AssertionError("a build or a Dask cluster was started")

    for mod, name in ((cells_cli, "build_complex"), (certify_cli, "build_complex"), (par, "cluster"),
                      (par, "build_on_cluster")):
        monkeypatch.setattr(mod, name, never)


def test_cli_refuses_high_dimensional_domains(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # refused before any vertex enumeration or build
    n = MAX_DOMAIN_DIM + 1
    net = _write(tmp_path, {"layers": [{"W": [[1] * n], "b": [0]}, {"W": [[1]], "b": [0]}]}, "big.json")
    _enumerations(monkeypatch, refuse=True)
    _no_build(monkeypatch)
    for cmd in ("cells", "homology", "certify"):
        bad(capsys, cmd, net, words=(f"R^{n}", "--plane", "--around"))


def test_around_a_point_of_a_50d_network(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import exactcells.parallel as par

    rng = np.random.default_rng(5)
    net = _random_net(rng, [50, 200, 1])
    path = tmp_path / "n50.json"
    path.write_text(net.to_json(), encoding="utf-8")
    centre = _write(tmp_path, rng.random(50).tolist(), "c.json")
    # only the 2-D slice is enumerated and built (the 50-D box never is)
    enumerated = _enumerations(monkeypatch)
    built: list[tuple[int, int]] = []
    real = par.build_on_cluster

    def spy(n: Any, d: Any = None, **k: Any) -> Any:
        built.append((n.input_dim, d.dim))
        return real(n, d, **k)

    monkeypatch.setattr(par, "build_on_cluster", spy)
    code, out, err = run(capsys, "cells", str(path), "--around", centre, "--radius", "1/2", "--seed", "4",
                         "--max-cells", "100000", "--jobs", "2", "--json")
    assert code == 0, err
    assert built == [(2, 2)] and max(enumerated, default=2) <= 3
    obj = json.loads(out)
    assert obj["slice"]["seed"] == 4 and len(obj["slice"]["directions"]) == 2
    # reproducible from the record alone
    sl = slice_from_dict(obj["slice"])
    K = build_complex(sl.restrict(net), Domain.box(2, F(-1, 2), F(1, 2)))
    assert K.f_vector == tuple(obj["f_vector"])


def test_plane_of_a_784d_network(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    layers = [(rng.standard_normal((b, a)) / np.sqrt(a), 0.1 * rng.standard_normal(b))
              for a, b in ((784, 64), (64, 64), (64, 10))]
    npz = tmp_path / "mnist.npz"
    np.savez(npz, **{f"W{i}": W for i, (W, _) in enumerate(layers)}, **{f"b{i}": b for i, (_, b) in enumerate(layers)})
    plane = tmp_path / "plane.npy"
    np.save(plane, rng.random((3, 784)))
    # the 784-D pixel box is never enumerated: only the sliced domain, in 2-D, is (and built)
    enumerated = _enumerations(monkeypatch)
    code, out, err = run(capsys, "cells", str(npz), "--plane", str(plane), "--ambient-box", "0", "1", "--json")
    assert code == 0, err
    assert enumerated and set(enumerated) == {2}
    obj = json.loads(out)
    assert obj["num_regions"] > 10 and obj["slice"]["ambient_dim"] == 784
    # the plane's points lie in the pixel box, so (0, 0), (1, 0), (0, 1) are in the sliced domain
    dom = Domain.from_dict(obj["slice"]["domain"])
    assert all(dom.contains(p) for p in ([0, 0], [1, 0], [0, 1]))


def test_analyze_picks_a_plane_for_a_high_dimensional_network(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    net = _random_net(rng, [30, 8, 1])
    path = tmp_path / "n30.json"
    path.write_text(net.to_json(), encoding="utf-8")
    pts = tmp_path / "pts.npy"
    np.save(pts, rng.random((20, 30)))
    code, out, err = run(capsys, "analyze", str(path), "-o", str(tmp_path / "a"), "--json")
    assert code == 0, err
    assert "picked the plane spanned by x1 and x2" in err
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["slice"]["kind"] == "default" and summary["input_dim"] == 30
    assert (tmp_path / "a" / "complex.png").stat().st_size > 0
    code, out, err = run(capsys, "analyze", str(path), "--points", str(pts), "-o", str(tmp_path / "b"), "--json")
    assert code == 0, err
    assert "training points 0, 1 and 2" in err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["slice"]["kind"] == "plane"
    assert summary["picture"]["marked_points"] == ["p0", "p1", "p2"]
    assert summary["picture"]["data_points_in_plane"] == 3  # the three points the plane goes through


def test_analyze_and_fiedler_on_a_plane(files: dict[str, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", files["net3"], "--plane", files["plane"], "-o", str(tmp_path / "r"))
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["num_regions"] == 6 and summary["slice"]["kind"] == "plane"
    assert summary["picture"]["coordinates"] == ["s", "t"]
    pts = _write(tmp_path, [[0, 0, 0], ["1/2", 1, 1], [1, 1, 0]], "pts.json")
    code, out, err = run(capsys, "fiedler", files["net3"], "--plane", files["plane"], "--weights",
                         "training-points", pts, "-o", str(tmp_path / "f"), "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["training_points"]["count"] == 2 and obj["training_points"]["off_slice"] == 1
    assert obj["slice"]["kind"] == "plane"


def test_cli_max_cells_with_jobs_stops_early(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    path = tmp_path / "net.json"
    path.write_text(_random_net(rng, [2, 10, 30, 30, 1]).to_json(), encoding="utf-8")
    out = tmp_path / "K.npz"
    code, stdout, err = run(capsys, "cells", str(path), "--box", "-2", "2", "--max-cells", "200", "--jobs", "2",
                            "--save", str(out))
    assert code == 2 and stdout == "", err
    # with --jobs the Dask cluster's address comes first (a progress line); then the one-line error
    lines = err.splitlines()
    assert lines[-1].startswith("exactcells: error: ") and "max_cells = 200" in lines[-1], err
    assert all(line.startswith("exactcells: dask") for line in lines[:-1]) and "Traceback" not in err, err
    assert not out.exists()


def test_cli_50d_network_with_a_wide_layer_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 12: this hung for 60 s with no output (the 50-D box's vertices were enumerated first)
    rng = np.random.default_rng(4)
    path = tmp_path / "n50.json"
    path.write_text(_random_net(rng, [50, 200, 1]).to_json(), encoding="utf-8")
    # "at once": before any vertex enumeration, build or Dask cluster
    _enumerations(monkeypatch, refuse=True)
    _no_build(monkeypatch)
    bad(capsys, "cells", str(path), "--max-cells", "100000", "--jobs", "2", words=("R^50", "--around"))


def test_cli_ambient_domain_file(files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # on the plane (s, t, t), x1 + x2 + x3 <= 1 reads s + 2 t <= 1: it leaves of the square
    # [-1/2, 3/2]^2 the trapezoid under the line from (-1/2, 3/4) to (3/2, -1/4), of area
    # 2 (5/4 + 1/4) / 2 = 3/2; the lines s = 1/2, t = 1/4, t = 1/2 cut it
    amb = _write(tmp_path, {"A": [[1, 1, 1]], "c": [1]}, "amb.json")
    code, out, err = run(capsys, "cells", files["net3"], "--plane", files["plane"], "--ambient-domain", amb, "--json")
    assert code == 0, err
    obj = json.loads(out)
    dom = Domain.from_dict(obj["slice"]["domain"])
    assert dom.volume() == F(3, 2) and dom.num_facets == 4
    K = build_complex(plane_through([0, 0, 0], [1, 0, 0], [0, 1, 1]).restrict(
        network_from_dict(_coordinate_net(["1/2", "1/2", "1/4"]))), dom)
    assert obj["f_vector"] == list(K.f_vector)
    # s + 2 t <= 1 passes through (1/2, 1/4): the point where two of the lines meet
    assert (F(1, 2), F(1, 4)) in {K.vertex(v) for v in range(K.f_vector[0])}
    wrong = _write(tmp_path, {"A": [[1, 1]], "c": [1]}, "wrong.json")
    bad(capsys, "cells", files["net3"], "--plane", files["plane"], "--ambient-domain", wrong, words=("R^2", "3 inputs"))
