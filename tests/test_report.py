"""The interactive report (report.html): its exact data, the commands that write it, and the page
in a real browser (headless Chromium through selenium).

The browser tests skip only when Chromium, chromedriver or selenium is missing AND the
environment variable ``CI`` is not set; in CI they fail instead. Screenshots are kept in
``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.cli import main
from exactcells.complex import PolyhedralComplex
from exactcells.dual import dual_graph
from exactcells.numbers import format_rational
from exactcells.report.page import pack, read_page_data, unpack
from exactcells.report.payload import complex_payload

pytest.importorskip("plotly")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SYM = {1: "+", -1: "-", 0: "0"}


def _random_net(seed: int, widths: tuple[int, ...] = (2, 6, 5, 1)) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append({"W": rng.integers(-4, 5, size=(b, a)).tolist(),
                       "b": [f"{v}/3" for v in rng.integers(-3, 4, size=b)]})
    return {"layers": layers}


def _grouped(K: PolyhedralComplex, cell: int) -> str:
    s = "".join(SYM[int(x)] for x in K.signs[cell])
    sl = K.sign_slices()
    return f"{s[sl['neurons']]} | {s[sl['domain_facets']]} | {s[sl['outputs']]}"


def _i32(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i4")


def _unpack(text: str, stride: int, rows: int, width: int) -> np.ndarray:
    b = np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(rows, stride)
    codes = np.stack([(b >> (2 * k)) & 3 for k in range(4)], axis=2).reshape(rows, 4 * stride)[:, :width]
    return np.where(codes == 1, 1, np.where(codes == 2, -1, 0))


def _page_data(path: Path) -> dict[str, Any]:
    return read_page_data(path.read_text(encoding="utf-8"))


def _external_resources(page: str) -> list[tuple[str, str]]:
    """Every tag attribute of the page that loads something (src, href of a link)."""
    from html.parser import HTMLParser

    found: list[tuple[str, str]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for k, v in attrs:
                if k == "src" or (tag == "link" and k == "href"):
                    found.append((tag, v or ""))

    P().feed(page)
    return found


# -- the exact data ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed,widths", [(0, (2, 6, 5, 1)), (1, (2, 5, 4, 3)), (2, (2, 7, 2))])
def test_payload_is_exact_and_complete(seed: int, widths: tuple[int, ...]) -> None:
    net = network_from_dict(_random_net(seed, widths))
    K = build_complex(net, Domain.box(2, -1, 1), with_output=True)
    regions = K.regions()
    d = complex_payload(K, fiedler=np.linspace(-1, 1, K.num_regions))
    assert d["num_regions"] == K.num_regions
    # exact area and affine map of every region, against independent computations
    ps = _i32(d["poly_start"])
    assert ps[-1] == len(np.frombuffer(base64.b64decode(d["poly_x"]), dtype="<f4"))
    for i, r in enumerate(regions):
        assert d["volumes"][i] == format_rational(K.volume(r))
        A, c = K.affine_map(r)
        lines = d["affine"][i].split("\n")
        assert len(lines) == net.output_dim
        for j, line in enumerate(lines):
            assert line.endswith(f"{format_rational(A[j][0])}·x1 + {format_rational(A[j][1])}·x2 + "
                                 f"{format_rational(c[j])}")
    # polygons: the region's vertices (float views), one per edge
    V = K.vertices_float()
    xs = np.frombuffer(base64.b64decode(d["poly_x"]), dtype="<f4")
    ys = np.frombuffer(base64.b64decode(d["poly_y"]), dtype="<f4")
    for i, r in enumerate(regions):
        got = sorted(zip(xs[ps[i] : ps[i + 1]].tolist(), ys[ps[i] : ps[i + 1]].tolist()))
        want = sorted((float(np.float32(V[v, 0])), float(np.float32(V[v, 1]))) for v in K.vertex_sets()[r])
        assert got == want and len(got) == len(K.facets(r))
    # packed sign vectors decode to the exact ones
    S = _unpack(d["signs"], d["sign_stride"], K.num_regions, K.signs.shape[1])
    assert np.array_equal(S, K.signs[regions.start : regions.stop])
    assert len(d["entry_names"]) == K.signs.shape[1]
    # the click panel's edges: facets, exact edge sign vectors, the regions on both sides
    det = d["details"]
    e0 = det["edge_cell_start"]
    rp, re_ = _i32(det["region_edge_ptr"]), _i32(det["region_edges"])
    zp, zi = _i32(det["edge_zero_ptr"]), _i32(det["edge_zero_idx"])
    sides = _i32(det["edge_sides"]).reshape(-1, 2)
    G = dual_graph(K)
    nbrs: dict[int, set[int]] = {i: set() for i in range(K.num_regions)}
    for a, b in G.edges.tolist():
        nbrs[a].add(b)
        nbrs[b].add(a)
    for i, r in enumerate(regions):
        es = [int(e) for e in re_[rp[i] : rp[i + 1]]]
        assert sorted(e + e0 for e in es) == sorted(K.facets(r))
        seen = set()
        for e in es:
            sv = K.signs[r].copy()
            sv[zi[zp[e] : zp[e + 1]]] = 0
            assert tuple(sv) == K.sign_vector(e + e0)
            other = [int(s) for s in sides[e] if s != i]
            assert len(other) == 1 and (other[0] == -1 or other[0] in nbrs[i])
            seen |= {o for o in other if o >= 0}
        assert seen == nbrs[i]
    verts = det["vertices"]
    assert verts[3] == ", ".join(format_rational(x) for x in K.vertex(3))
    # the decision boundary: the edges on which the output part vanishes
    bx = np.frombuffer(base64.b64decode(d["boundary_x"]), dtype="<f4")
    out = K.sign_slices()["outputs"]
    need = 2 if K.output_refinement == "argmax" else 1
    nb = sum(1 for e in K.cells_of_dim(1) if np.count_nonzero(K.signs[e, out] == 0) >= need)
    assert len(bx) == 3 * nb


def test_class_labels_follow_the_argmax_sets() -> None:
    net = network_from_dict(_random_net(4, (2, 6, 3)))
    K = build_complex(net, Domain.box(2, -1, 1), with_output=True, refine="argmax")
    d = complex_payload(K)
    cat = next(c for c in d["colourings"] if c["kind"] == "category")
    idx = _i32(cat["values"])
    sets = K.argmax_sets()
    for i, r in enumerate(K.regions()):
        label = cat["labels"][idx[i]]
        top = sorted(sets[r])
        if len(top) == 1:
            assert label == f"class {top[0] + 1} (argmax {{{top[0] + 1}}})"
        else:
            assert label == "tie: argmax {" + ", ".join(str(t + 1) for t in top) + "}"


def test_vertex_text_budget_is_said() -> None:
    K = build_complex(network_from_dict(_random_net(0)), Domain.box(2, -1, 1), with_output=True)
    d = complex_payload(K, vertex_text_budget=10)
    assert d["details"]["vertices"] is None and d["details"]["vertex_text_budget"] == 10


def test_payload_rejects_other_dimensions() -> None:
    from exactcells.errors import InvalidDomainError

    net = network_from_dict({"layers": [{"W": [[1, 0, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    with pytest.raises(InvalidDomainError):
        complex_payload(build_complex(net, Domain.box(3, -1, 1)))


def test_packing_round_trips_and_shrinks_the_exact_texts() -> None:
    K = build_complex(network_from_dict(_random_net(0, (2, 12, 10, 1))), Domain.box(2, -1, 1), with_output=True)
    d = complex_payload(K)
    big = {"volumes": d["volumes"] * 40, "signs": d["signs"] * 0 + base64.b64encode(bytes(200_000)).decode(),
           "poly_x": base64.b64encode(np.random.default_rng(0).bytes(200_000)).decode(),
           "small": ["1/3", "2"], "nested": [{"affine": d["affine"] * 40}], "text": "not base64; " * 10_000}
    packed = pack(big)
    assert unpack(packed) == big
    assert set(packed["volumes"]) == {"packed", "z"} and packed["volumes"]["packed"] == "lines"
    assert packed["signs"]["packed"] == "bytes" and len(packed["signs"]["z"]) < len(big["signs"]) / 20
    assert packed["nested"][0]["affine"]["packed"] == "lines"
    # incompressible bytes, short lists and texts that are not base64 stay as they are
    assert packed["poly_x"] == big["poly_x"] and packed["small"] == big["small"] and packed["text"] == big["text"]
    assert len(json.dumps(packed)) < len(json.dumps(big)) / 2


# -- the commands ---------------------------------------------------------------------------
def _write(tmp_path: Path, obj: Any, name: str) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(obj), encoding="utf-8")
    return str(p)


def test_analyze_writes_a_self_contained_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    pts = _write(tmp_path, [[0.5, 0.25], [-0.5, "1/3"]], "pts.json")
    assert main(["analyze", "-o", str(out), "--no-progress", "--points", pts]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert _external_resources(page) == []  # no server, no network needed
    assert "Plotly" in page
    data = _page_data(out / "report.html")
    assert data["kind"] == "analysis"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["report"] == "report.html"
    assert data["complex"]["num_regions"] == summary["with_output"]["num_regions"]
    assert np.allclose(np.frombuffer(base64.b64decode(data["complex"]["points"]), dtype="<f4"),
                       [0.5, 0.25, -0.5, 1 / 3])
    names = [c["name"] for c in data["complex"]["colourings"]]
    assert names[0].startswith("output F") and names[1] == "class / argmax set" and names[2].startswith("Fiedler")
    assert data["betti"]["rows"][0] == ["decision boundary F = 0"] + [
        str(b) for b in summary["topology"]["decision_boundary_betti"]]
    assert ["num_regions", str(summary["num_regions"])] in data["summary"]
    # no overwrite without --force, --no-report writes none
    capsys.readouterr()
    from exactcells.cli.analyze import REPORT_FILES

    for name in REPORT_FILES:
        (out / name).unlink(missing_ok=True)
    assert main(["analyze", "-o", str(out), "--no-progress"]) == 2
    assert "report.html" in capsys.readouterr().err
    out2 = tmp_path / "out2"
    assert main(["analyze", "-o", str(out2), "--no-progress", "--no-report"]) == 0
    assert not (out2 / "report.html").exists()


def test_analyze_bad_points_is_a_clear_error_and_writes_nothing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bad = _write(tmp_path, [[0.5, 0.25, 1.0]], "pts.json")
    assert main(["analyze", "-o", str(out), "--no-progress", "--points", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exactcells: error:") and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


def test_analyze_a_3d_network_reports_the_slice(tmp_path: Path) -> None:
    net3 = {"layers": [{"W": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], "b": [0, 0, 0, "-1/2"]},
                       {"W": [[1, -1, 1, -1]], "b": ["1/10"]}]}
    out = tmp_path / "out"
    assert main(["analyze", _write(tmp_path, net3, "n3.json"), "-o", str(out), "--no-progress"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "2-D slice spanned by x1 and x2" in page
    assert _page_data(out / "report.html")["complex"]["num_regions"] > 0


def _track(tmp_path: Path) -> Path:
    from exactcells.tracking import Snapshot, snapshot_filename, snapshot_to_dict

    snaps = tmp_path / "snaps"
    snaps.mkdir()
    for i in range(3):
        s = Snapshot(10 * i, network_from_dict(_random_net(i, (2, 5, 4, 1))), loss=1.0 / (i + 1))
        (snaps / snapshot_filename(s.epoch)).write_text(json.dumps(snapshot_to_dict(s)))
    (snaps / "training_points.json").write_text(json.dumps({"X": [[0.25, 0.5], [-0.5, -0.25]]}))
    out = tmp_path / "track"
    assert main(["track", "--snapshots", str(snaps), "-o", str(out), "--box", "-1", "1", "--repeats", "2",
                 "--pixels", "0", "--jobs", "0", "--no-gif", "--no-progress"]) == 0
    return out


def test_track_writes_the_training_report(tmp_path: Path) -> None:
    out = _track(tmp_path)
    data = _page_data(out / "report.html")
    assert data["kind"] == "training"
    assert [f["epoch"] for f in data["frames"]] == data["curves"]["epoch"] == [0, 10, 20]
    panels = {p["title"]: p for p in data["curves"]["panels"]}
    assert set(panels) == {"loss", "regions", "Betti numbers", "Fiedler agreement"}
    rows = (out / "track.csv").read_text().splitlines()
    header = rows[0].split(",")
    regions = [int(r.split(",")[header.index("num_regions")]) for r in rows[1:]]
    assert next(s for s in panels["regions"]["series"] if s["name"] == "num_regions")["values"] == regions
    assert "report.html" in json.loads((out / "summary.json").read_text())["files"]


# -- in a real browser ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if webdriver is None or not chromium or not driver:
        what = "selenium, chromium and chromedriver"
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests need {what} (apt-get install chromium chromium-driver; "
                        "pip install selenium)")
        pytest.skip(f"needs {what}")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1200",
              "--enable-unsafe-swiftshader", "--disable-gpu-sandbox"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=Service(driver))
    try:
        yield d
    finally:
        d.quit()


def _open(d: Any, path: Path) -> float:
    d.get(path.as_uri())
    t0 = time.time()
    # ready: the picture is drawn; exactReady: the (possibly packed) exact texts are unpacked
    while not d.execute_script("return !!(window.exactcellsReport && exactcellsReport.ready && "
                               "exactcellsReport.exactReady)"):
        assert time.time() - t0 < 120, "the page never became ready"
        time.sleep(0.05)
    return float(d.execute_script("return window.exactcellsReport.readyMs"))


def _console_errors(d: Any) -> list[dict[str, Any]]:
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(d: Any, name: str, tmp_path: Path) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    p = ARTIFACTS / name
    assert d.save_screenshot(str(tmp_path / name))
    shutil.copyfile(tmp_path / name, p)
    assert p.stat().st_size > 10_000
    return p


def _pixel(d: Any, x: float, y: float) -> tuple[int, int]:
    """Viewport pixel of data point (x, y) in the complex's plot."""
    px, py = d.execute_script(
        "var g = document.getElementById('ec-complex-plot'), fl = g._fullLayout, r = g.getBoundingClientRect();"
        "return [r.left + fl.xaxis._offset + fl.xaxis.l2p(arguments[0]),"
        "        r.top + fl.yaxis._offset + fl.yaxis.l2p(arguments[1])];", x, y)
    return int(round(px)), int(round(py))


def _mouse_at(d: Any, px: int, py: int) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    a = ActionBuilder(d)
    a.pointer_action.move_to_location(px, py)
    a.perform()


def test_analysis_page_in_a_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    out = tmp_path / "out"
    assert main(["analyze", "-o", str(out), "--no-progress"]) == 0
    ms = _open(browser, out / "report.html")
    assert ms < 60_000
    assert _console_errors(browser) == []
    # the biggest region: the real mouse over its centroid shows its exact sign vector and area
    from exactcells.cli.common import default_network_path
    from exactcells.network import load_network

    K = build_complex(load_network(default_network_path()), Domain.box(2, -1, 1), with_output=True)
    vols = K.region_volumes()
    i = int(np.argmax([float(v) for v in vols]))
    r = K.regions()[i]
    cx, cy = (float(sum(K.vertex(v)[k] for v in K.cell_vertices(r)) / len(K.cell_vertices(r)))
              for k in (0, 1))
    _mouse_at(browser, *_pixel(browser, cx, cy))
    time.sleep(0.3)
    tip = browser.find_element("id", "ec-complex-tip")
    assert tip.is_displayed()
    assert tip.get_attribute("data-region") == str(i)
    text = tip.text
    assert f"sign vector (neurons | domain facets | output): {_grouped(K, r)}" in text
    assert f"area (exact): {format_rational(vols[i])}" in text
    A, c = K.affine_map(r)
    assert f"F = {format_rational(A[0][0])}·x1 + {format_rational(A[0][1])}·x2 + {format_rational(c[0])}" in text
    assert ("class 1 (F > 0)" if K.signs[r, -1] > 0 else "class 0 (F < 0)") in text
    # a click lists its facets and neighbours (those of the exact dual graph)
    a = ActionBuilder(browser)
    a.pointer_action.move_to_location(*_pixel(browser, cx, cy)).click()
    a.perform()
    time.sleep(0.3)
    panel = browser.find_element("id", "ec-panel")
    assert panel.get_attribute("data-region") == str(i)
    G = dual_graph(K)
    nbrs = sorted({int(b) for a_, b in G.edges.tolist() if a_ == i} | {int(a_) for a_, b in G.edges.tolist() if b == i})
    assert f"Neighbours: {', '.join(str(n) for n in nbrs)}" in panel.text
    assert f"Facets ({len(K.facets(r))} edges)" in panel.text
    links = panel.find_elements("css selector", "a[data-region]")
    assert sorted(int(x.get_attribute("data-region")) for x in links) == nbrs
    # the colour selector switches to the Fiedler vector without errors
    browser.execute_script("var s = document.getElementById('ec-complex-colour'); s.value = '2';"
                           "s.dispatchEvent(new Event('change'));")
    time.sleep(0.5)
    assert "Fiedler" in browser.execute_script(
        "var d = document.getElementById('ec-complex-plot').data; "
        "return d.filter(function (t) { return t.marker && t.marker.colorbar; })[0].marker.colorbar.title.text;")
    browser.execute_script("var s = document.getElementById('ec-complex-colour'); s.value = '1';"
                           "s.dispatchEvent(new Event('change'));")
    time.sleep(0.3)
    _mouse_at(browser, *_pixel(browser, cx, cy))
    time.sleep(0.3)
    assert _console_errors(browser) == []
    _screenshot(browser, "report_analysis.png", tmp_path)


def test_training_page_in_a_browser(browser: Any, tmp_path: Path) -> None:
    out = _track(tmp_path)
    _open(browser, out / "report.html")
    assert _console_errors(browser) == []
    browser.execute_script("var s = document.getElementById('ec-slider'); s.value = '2';"
                           "s.dispatchEvent(new Event('input'));")
    time.sleep(0.5)
    assert browser.find_element("id", "ec-root").get_attribute("data-frame") == "2"
    x0 = browser.execute_script("return document.getElementById('ec-curves').layout.shapes.map("
                                "function (s) { return s.x0; });")
    assert x0 == [20]
    assert "epoch 20" in browser.find_element("id", "ec-complex").text
    # hover works on the frame shown: the region under a region's centroid
    data = _page_data(out / "report.html")
    K = build_complex(network_from_dict(_random_net(2, (2, 5, 4, 1))), Domain.box(2, -1, 1), with_output=True)
    assert data["frames"][2]["complex"]["num_regions"] == K.num_regions
    r = K.regions()[0]
    pts = [K.vertex(v) for v in K.cell_vertices(r)]
    cx, cy = (float(sum((p[k] for p in pts), Fraction(0)) / len(pts)) for k in (0, 1))
    _mouse_at(browser, *_pixel(browser, cx, cy))
    time.sleep(0.3)
    tip = browser.find_element("id", "ec-complex-tip")
    assert tip.get_attribute("data-region") == "0"
    assert f"area (exact): {format_rational(K.volume(r))}" in tip.text
    assert _console_errors(browser) == []
    _screenshot(browser, "report_training.png", tmp_path)
