"""The report's picture of a complex of thousands of regions, in headless Chromium: what cannot be
seen is decimated and the page says so, with counts recomputed here from the page's own drawing
coordinates and axes; the colouring selector repaints the regions in the chosen colours.

(How fast a 100,000-region page opens is a benchmark: ``benchmarks/bench_report.py``.)
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.complex import PolyhedralComplex
from exactcells.io import atomic_write_text
from exactcells.numbers import format_rational
from exactcells.report.page import render_page
from exactcells.report.payload import complex_payload

pytest.importorskip("plotly")
from test_report import _console_errors, _grouped, _open, _screenshot, browser  # noqa: E402,F401  (fixture)

OUTLINE_PX = 4  # report.js: outlines only around regions at least this many pixels across
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]


def _net(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    W = rng.integers(-30, 31, size=(n, 2))
    W[np.all(W == 0, axis=1)] = [1, 0]
    return {"layers": [{"W": W.tolist(), "b": rng.integers(-25, 26, size=n).tolist()},
                       {"W": [rng.integers(-3, 4, size=n).tolist()], "b": [1]}]}


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PolyhedralComplex, dict[str, Any], Path]]:
    K = build_complex(network_from_dict(_net(170, 3)), Domain.box(2, -1, 1), with_output=True)
    assert K.num_regions >= 5000
    fied = np.cos(np.arange(K.num_regions) / 50.0)
    cx = complex_payload(K, fiedler=fied, details=False)
    cx["default_colouring"] = 0
    data: dict[str, Any] = {"kind": "analysis", "complex": cx, "complex_title": f"{K.num_regions} regions",
            "betti": {"head": ["subcomplex"], "rows": []}, "persistence": None, "summary": []}
    path = tmp_path_factory.mktemp("medium") / "report.html"
    atomic_write_text(path, render_page("medium", [], data))
    yield K, cx, path


def _f4(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def _view(d: Any) -> dict[str, Any]:
    """The plot area's axes ranges, the canvas size in device pixels, and the notice's counts."""
    out: dict[str, Any] = d.execute_script(
        "var fl = document.getElementById('ec-complex-plot')._fullLayout, n = document.getElementById("
        "'ec-complex-decimation'), c = document.querySelector('#ec-complex-canvas canvas');"
        "return {x: fl.xaxis.range, y: fl.yaxis.range, W: c.width, H: c.height,"
        " dpr: window.devicePixelRatio || 1, text: n.textContent, visible: +n.dataset.visible,"
        " hidden: +n.dataset.hidden, outlined: +n.dataset.outlined, drawn: exactcellsReport.widget.drawCount};")
    return out


def _expected_counts(cx: dict[str, Any], v: dict[str, Any]) -> tuple[int, int, int]:
    """Regions in view, regions that contain no pixel centre (not painted: they cannot be seen),
    regions at least OUTLINE_PX pixels across; recomputed from the page's float32 drawing
    coordinates in double arithmetic: a pixel (i, j) belongs to a region when its centre
    (i + 1/2, j + 1/2) lies in the region's scanline span [xl, xr) x [ymin, ymax)."""
    px, py = _f4(cx["poly_x"]).astype(np.float64), _f4(cx["poly_y"]).astype(np.float64)
    ps = np.frombuffer(base64.b64decode(cx["poly_start"]), dtype="<i4")
    (x0, x1), (y0, y1), W, H = v["x"], v["y"], v["W"], v["H"]
    sx, sy = W / (x1 - x0), H / (y1 - y0)
    maxx, miny = x0 + W / sx, y1 - H / sy
    visible = hidden = outlined = 0
    for r in range(len(ps) - 1):
        xs, ys = px[ps[r] : ps[r + 1]], py[ps[r] : ps[r + 1]]
        if xs.max() < x0 or xs.min() > maxx or ys.max() < miny or ys.min() > y1:
            continue
        visible += 1
        if max((xs.max() - xs.min()) * sx, (ys.max() - ys.min()) * sy) >= OUTLINE_PX * v["dpr"]:
            outlined += 1
        X, Y = (xs - x0) * sx, (y1 - ys) * sy
        seen = False
        for j in range(max(0, math.ceil(Y.min() - 0.5)), min(H - 1, math.ceil(Y.max() - 0.5) - 1) + 1):
            yc = j + 0.5
            cuts = [X[a] + (yc - Y[a]) * (X[a - 1] - X[a]) / (Y[a - 1] - Y[a])
                    for a in range(len(X)) if (Y[a] <= yc) != (Y[a - 1] <= yc)]
            if max(0, math.ceil(min(cuts) - 0.5)) <= min(W - 1, math.ceil(max(cuts) - 0.5) - 1):
                seen = True
                break
        hidden += not seen
    return visible, hidden, outlined


def _pixel(d: Any, x: float, y: float) -> tuple[int, int, int, int]:
    """The painted colour (RGBA) of data point (x, y) on the regions' canvas."""
    rgba = d.execute_script(
        "var fl = document.getElementById('ec-complex-plot')._fullLayout, dpr = window.devicePixelRatio || 1;"
        "var c = document.querySelector('#ec-complex-canvas canvas'), X = fl.xaxis.l2p(arguments[0]) * dpr,"
        " Y = fl.yaxis.l2p(arguments[1]) * dpr;"
        "return Array.from(c.getContext('2d').getImageData(Math.floor(X), Math.floor(Y), 1, 1).data);", x, y)
    return tuple(int(c) for c in rgba)  # type: ignore[return-value]


def _hex(c: str) -> tuple[int, int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), 255


def _diverging(t: float) -> tuple[int, int, int, int]:
    """report.js's blue-white-red scale at t in [0, 1]."""
    stops = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199],
             [239, 138, 98], [178, 24, 43]]
    t = max(0.0, min(1.0, t)) * (len(stops) - 1)
    i = min(int(np.floor(t)), len(stops) - 2)
    u = t - i
    a, b = stops[i], stops[i + 1]
    rgb = [int(np.floor(a[k] + u * (b[k] - a[k]) + 0.5)) for k in range(3)]
    return rgb[0], rgb[1], rgb[2], 255


def _switch(d: Any, k: int) -> None:
    d.execute_script("var s = document.getElementById('ec-complex-colour'); s.value = arguments[0];"
                     "s.dispatchEvent(new Event('change'));", str(k))
    import time

    t0 = time.time()
    while d.execute_script("return document.getElementById('ec-complex').dataset.colouring") != str(k):
        assert time.time() - t0 < 60
        time.sleep(0.05)


def _wait_redraw(d: Any, before: int) -> None:
    import time

    t0 = time.time()
    while not d.execute_script("return exactcellsReport.widget.drawCount > arguments[0]", before):
        assert time.time() - t0 < 60
        time.sleep(0.05)


def test_decimation_notice_counts_what_cannot_be_seen(browser: Any, medium: Any,  # noqa: F811
                                                      tmp_path: Path) -> None:
    K, cx, path = medium
    _open(browser, path)
    assert _console_errors(browser) == []
    v = _view(browser)
    visible, hidden, outlined = _expected_counts(cx, v)
    assert (v["visible"], v["hidden"], v["outlined"]) == (visible, hidden, outlined)
    # at the default zoom the whole complex is in view, some regions contain no pixel centre, and
    # the outlines of the small ones are left out: the notice says so, with the numbers
    assert visible == K.num_regions and 0 < hidden and outlined < visible
    assert f"{visible:,} of {K.num_regions:,} regions in view" in v["text"]
    assert f"{hidden:,} regions are too small to contain a pixel centre at this zoom" in v["text"]
    assert f"Outlines are drawn only around the {outlined:,} regions at least {OUTLINE_PX} pixels" in v["text"]
    # zoomed in to a small window: fewer regions in view, fewer below a pixel, recounted
    (x0, x1), (y0, y1) = v["x"], v["y"]
    cxm, cym = (x0 + x1) / 2, (y0 + y1) / 2
    browser.execute_script("Plotly.relayout('ec-complex-plot', {'xaxis.range': [arguments[0], arguments[1]],"
                           " 'yaxis.range': [arguments[2], arguments[3]]});",
                           cxm - 0.06, cxm + 0.06, cym - 0.06, cym + 0.06)
    _wait_redraw(browser, v["drawn"])
    z = _view(browser)
    assert z["x"][1] - z["x"][0] < 0.5
    visible2, hidden2, outlined2 = _expected_counts(cx, z)
    assert (z["visible"], z["hidden"], z["outlined"]) == (visible2, hidden2, outlined2)
    assert 0 < visible2 < visible and hidden2 < hidden
    assert f"{visible2:,} of {K.num_regions:,} regions in view" in z["text"]
    # the mouse wheel zooms out (plotly moves the picture while it zooms, then it is repainted)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    plot = browser.find_element("id", "ec-complex-plot")
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(plot), 0, 300).perform()
    import time

    t0 = time.time()
    while _view(browser)["x"] == z["x"] or _view(browser)["drawn"] == z["drawn"]:
        assert time.time() - t0 < 30, "the wheel did not zoom"
        time.sleep(0.1)
    time.sleep(1.0)
    w = _view(browser)
    assert w["x"][1] - w["x"][0] > z["x"][1] - z["x"][0]
    assert (w["visible"], w["hidden"], w["outlined"]) == _expected_counts(cx, w)
    assert _console_errors(browser) == []


def test_colouring_switch_repaints_the_regions(browser: Any, medium: Any, tmp_path: Path) -> None:  # noqa: F811
    K, cx, path = medium
    _open(browser, path)
    regions = K.regions()
    vols = [float(v) for v in K.region_volumes()]
    names = [c["name"] for c in cx["colourings"]]
    k_cat = next(i for i, c in enumerate(cx["colourings"]) if c["kind"] == "category")
    k_fied = names.index("Fiedler vector entry (float)")
    cat = np.frombuffer(base64.b64decode(cx["colourings"][k_cat]["values"]), dtype="<i4")
    fied = _f4(cx["colourings"][k_fied]["values"]).astype(np.float64)
    vmax = float(np.abs(fied).max())
    # probe the centroids of the five largest regions (far from every edge and outline)
    big = np.argsort(vols)[-5:]
    cents = []
    for i in big:
        pts = np.array([[float(x) for x in K.vertex(u)] for u in K.cell_vertices(regions[i])])
        cents.append(pts.mean(axis=0))
    for k in (k_cat, k_fied, k_cat):
        _switch(browser, k)
        assert int(browser.execute_script("return exactcellsReport.widget.colouring")) == k
        for i, (x, y) in zip(big, cents):
            got = _pixel(browser, float(x), float(y))
            if k == k_cat:
                want = _hex(PALETTE[int(cat[i]) % len(PALETTE)])
            else:
                b = max(0, min(32, int(np.floor((fied[i] / vmax + 1) / 2 * 33))))
                want = _diverging((b + 0.5) / 33)
            assert got == want, (k, int(i), got, want)
    # the Fiedler colouring has its colour bar; the class colouring a legend entry per class
    _switch(browser, k_fied)
    bars = browser.execute_script(
        "return document.getElementById('ec-complex-plot').data.filter(function (t) {"
        " return t.marker && t.marker.colorbar; }).map(function (t) { return t.marker.colorbar.title.text; });")
    assert bars == [names[k_fied]]
    _switch(browser, k_cat)
    legend = browser.execute_script(
        "return document.getElementById('ec-complex-plot').data.filter(function (t) {"
        " return t.legendgroup === 'classes'; }).map(function (t) { return t.name; });")
    assert legend == cx["colourings"][k_cat]["labels"]
    # the exact texts arrive packed (zlib) and are unpacked in the page: hover shows them exactly
    raw = path.read_text(encoding="utf-8")
    assert '"volumes":{"packed":"lines"' in raw and '"signs":{"packed":"bytes"' in raw
    for i in (0, int(big[-1]), K.num_regions - 1):
        text = browser.execute_script("return exactcellsReport.hoverRegion(arguments[0]);", i)
        assert f"area (exact): {format_rational(K.volume(regions[i]))}" in text
        assert _grouped(K, regions[i]) in text
    assert _console_errors(browser) == []
    _screenshot(browser, "report_medium.png", tmp_path)
