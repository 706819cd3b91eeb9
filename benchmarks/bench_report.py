"""Size and load time of report.html for a complex of about 100,000 regions.

A 2-D network with one hidden layer of ``N`` ReLUs (small integer weights, so that the exact
build is quick) cut by its output; the page is the analysis page's picture with every region
drawn and hoverable. Measured: the build, the page data, the file size, and in headless Chromium
(selenium; ``--enable-unsafe-swiftshader``: software WebGL) the time until the page is ready
(``performance.now()`` when report.js has drawn the complex), the time of a real mouse hover and
of a colouring switch.

Usage: ``python benchmarks/bench_report.py [N] [OUT.html]`` (default N = 560).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np

from exactcells import Domain, build_complex, network_from_dict
from exactcells.io import atomic_write_text
from exactcells.report.page import render_page
from exactcells.report.payload import complex_payload


def network(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    W = rng.integers(-30, 31, size=(n, 2))
    W[np.all(W == 0, axis=1)] = [1, 0]
    b = rng.integers(-25, 26, size=n)
    v = rng.integers(-3, 4, size=n)
    return {"layers": [{"W": W.tolist(), "b": b.tolist()}, {"W": [v.tolist()], "b": [1]}]}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 560
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/exactcells-bench-report.html")
    t = time.perf_counter()
    K = build_complex(network_from_dict(network(n)), Domain.box(2, -1, 1), with_output=True)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    fied = np.sin(np.arange(K.num_regions) / 997.0)
    cx = complex_payload(K, fiedler=fied)
    data = {"kind": "analysis", "complex": cx, "complex_title": f"{K.num_regions} regions",
            "betti": {"head": ["subcomplex"], "rows": []}, "persistence": None,
            "summary": [["regions", str(K.num_regions)]]}
    page = render_page(f"benchmark: 2-{n}-1, {K.num_regions} regions", [], data)
    atomic_write_text(out, page, force=True)
    t_page = time.perf_counter() - t
    size = out.stat().st_size
    print(f"2-{n}-1: f-vector {K.f_vector}, build {t_build:.1f} s, page data {t_page:.1f} s, "
          f"file {size / 2**20:.1f} MiB (vertex coordinates {'in' if cx['details']['vertices'] else 'left out'})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1200",
              "--enable-unsafe-swiftshader"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    try:
        t = time.perf_counter()
        d.get(out.as_uri())
        while not d.execute_script("return !!(window.exactcellsReport && window.exactcellsReport.ready)"):
            time.sleep(0.02)
        wall = time.perf_counter() - t
        ready = d.execute_script("return window.exactcellsReport.readyMs")
        print(f"browser: ready {ready / 1000:.2f} s after navigation start (selenium wall clock {wall:.2f} s)")
        r = int(np.argmax([len(K.facets(c)) for c in K.regions()]))
        px, py = d.execute_script(
            "var g = document.getElementById('ec-complex-plot'), fl = g._fullLayout, r = g.getBoundingClientRect();"
            "var v = exactcellsReport.widget.view, lo = v.ps[arguments[0]], hi = v.ps[arguments[0] + 1], x = 0, y = 0;"
            "for (var k = lo; k < hi; k++) { x += v.px[k]; y += v.py[k]; } x /= hi - lo; y /= hi - lo;"
            "return [r.left + fl.xaxis._offset + fl.xaxis.l2p(x), r.top + fl.yaxis._offset + fl.yaxis.l2p(y)];", r)
        t = time.perf_counter()
        a = ActionBuilder(d)
        a.pointer_action.move_to_location(int(px), int(py))
        a.perform()
        while d.execute_script("return document.getElementById('ec-complex-tip').style.display") != "block":
            time.sleep(0.01)
        dt = time.perf_counter() - t
        got = d.execute_script("return document.getElementById('ec-complex-tip').dataset.region")
        print(f"hover: tooltip of region {got} (mouse at the vertex mean of region {r}) in {dt:.2f} s")
        t = time.perf_counter()
        d.execute_script("var s = document.getElementById('ec-complex-colour'); s.value = '2';"
                         "s.dispatchEvent(new Event('change'));")
        d.execute_script("return 1")
        print(f"colouring switch (Fiedler): {time.perf_counter() - t:.2f} s")
        time.sleep(1)
        d.save_screenshot(str(out.with_suffix(".png")))
        severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        print(f"console errors: {len(severe)}")
    finally:
        d.quit()


if __name__ == "__main__":
    main()
