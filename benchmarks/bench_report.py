"""Size and load time of report.html for a complex of 100,000 regions and more.

The complex: a 2-D network refined by its output on the box [-1, 1]^2, either a network file
(``--net``, e.g. ``../shared/benchmarks/scaling/S2_256.json``: 2-256-256-1, 119,245 regions) or
``2-N-1`` with small integer weights (``--hidden N``). The build is slow (minutes), so it is done
once and kept (``--complex PATH.npz``, the library's ``save``/``load_complex``); so is the page's
data (``--data PATH.json``). Neither belongs in the repository.

Measured: the build, the page data, the file size, and in headless Chromium (selenium, one fresh
browser) the time from navigation start to "ready" (``performance.now()`` when plotly has drawn
every plot and the regions are painted; report.js sets ``exactcellsReport.ready``), a real mouse
hover, every colouring switch (the selector's change to the painted picture, ``colourMs``), a
zoom (relayout to a quarter of the box and the repaint) and the decimation notice's counts.
Each page load is repeated (``--repeats``); the machine, date and load average are printed.

Usage: ``python benchmarks/bench_report.py --net NET.json --complex /tmp/K.npz --data /tmp/K.json``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from exactcells import Domain, build_complex, load_network, network_from_dict
from exactcells.complex import PolyhedralComplex, load_complex
from exactcells.io import atomic_write_text
from exactcells.report.page import render_page
from exactcells.report.payload import complex_payload


def network(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    W = rng.integers(-30, 31, size=(n, 2))
    W[np.all(W == 0, axis=1)] = [1, 0]
    b = rng.integers(-25, 26, size=n)
    v = rng.integers(-3, 4, size=n)
    return {"layers": [{"W": W.tolist(), "b": b.tolist()}, {"W": [v.tolist()], "b": [1]}]}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    try:
        ver = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        ver = "?"
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {ver}, "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")


def load(s: str) -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def the_complex(args: argparse.Namespace) -> PolyhedralComplex:
    cache = Path(args.complex) if args.complex else None
    if cache is not None and cache.exists():
        t = time.perf_counter()
        K = load_complex(cache)
        assert isinstance(K, PolyhedralComplex)
        print(f"loaded {cache} in {time.perf_counter() - t:.1f} s")
        return K
    net = load_network(args.net) if args.net else network_from_dict(network(args.hidden))
    t = time.perf_counter()
    K = build_complex(net, Domain.box(2, -1, 1), with_output=True)
    print(f"build_complex {net.architecture}: {time.perf_counter() - t:.1f} s ({load('')})")
    if cache is not None:
        K.save(cache)
    return K


def page_data(K: PolyhedralComplex, args: argparse.Namespace) -> dict[str, Any]:
    cache = Path(args.data) if args.data else None
    if cache is not None and cache.exists():
        out: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
        return out
    t = time.perf_counter()
    fied = np.sin(np.arange(K.num_regions) / 997.0)
    cx = complex_payload(K, fiedler=fied)
    print(f"page data (complex_payload: exact areas, affine maps, edges, vertex texts): "
          f"{time.perf_counter() - t:.1f} s ({load('')})")
    data = {"kind": "analysis", "complex": cx, "complex_title": f"{K.num_regions} regions",
            "betti": {"head": ["subcomplex"], "rows": []}, "persistence": None,
            "summary": [["regions", str(K.num_regions)]]}
    if cache is not None:
        atomic_write_text(cache, json.dumps(data), force=True)
    return data


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1200",
              "--enable-unsafe-swiftshader"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))


def wait(d: Any, script: str, limit: float = 600.0) -> float:
    t = time.perf_counter()
    while not d.execute_script(script):
        if time.perf_counter() - t > limit:
            raise TimeoutError(script)
        time.sleep(0.01)
    return time.perf_counter() - t


def measure(d: Any, out: Path, K: PolyhedralComplex, repeats: int) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    for i in range(repeats):
        d.get("about:blank")
        t = time.perf_counter()
        d.get(out.as_uri())
        wait(d, "return !!(window.exactcellsReport && window.exactcellsReport.ready)")
        wall = time.perf_counter() - t
        wait(d, "return !!exactcellsReport.exactReady")
        ready, script, T, nav, exact = d.execute_script(
            "var n = performance.getEntriesByType('navigation')[0];"
            "return [exactcellsReport.readyMs, exactcellsReport.scriptMs, exactcellsReport.timing,"
            " [n.responseEnd, n.domInteractive, n.domContentLoadedEventEnd], exactcellsReport.exactMs]")
        print(f"load {i + 1}: ready {ready / 1000:.2f} s after navigation start (file read {nav[0] / 1000:.2f} s, "
              f"report.js starts {T['start'] / 1000:.2f} s, data parsed {T['parsed'] / 1000:.2f} s, "
              f"picture data unpacked {T['unpacked'] / 1000:.2f} s, arrays decoded {T['view'] / 1000:.2f} s, "
              f"report.js done {script / 1000:.2f} s; selenium wall clock {wall:.2f} s); exact texts unpacked "
              f"{exact / 1000:.2f} s ({load('')})")
    note = d.execute_script("var n = document.getElementById('ec-complex-decimation'),"
                            " c = document.querySelector('#ec-complex-canvas canvas');"
                            "return [c.width, c.height, exactcellsReport.widget.painter.timing, n.textContent,"
                            " exactcellsReport.widget.drawMs];")
    print(f"painted in {note[4]:.0f} ms ({note[2]}) on {note[0]} x {note[1]} device pixels; notice: {note[3]}")
    # a real mouse hover over the vertex mean of the region with the most edges
    r = int(np.argmax(np.diff(K.facet_csr[0][K.regions().start : K.regions().stop + 1])))
    px, py = d.execute_script(
        "var g = document.getElementById('ec-complex-plot'), fl = g._fullLayout, r = g.getBoundingClientRect();"
        "var v = exactcellsReport.widget.view, lo = v.ps[arguments[0]], hi = v.ps[arguments[0] + 1], x = 0, y = 0;"
        "for (var k = lo; k < hi; k++) { x += v.px[k]; y += v.py[k]; } x /= hi - lo; y /= hi - lo;"
        "return [r.left + fl.xaxis._offset + fl.xaxis.l2p(x), r.top + fl.yaxis._offset + fl.yaxis.l2p(y)];", r)
    t = time.perf_counter()
    a = ActionBuilder(d)
    a.pointer_action.move_to_location(int(px), int(py))
    a.perform()
    wait(d, "return document.getElementById('ec-complex-tip').style.display === 'block'")
    got = d.execute_script("return document.getElementById('ec-complex-tip').dataset.region")
    print(f"hover: tooltip of region {got} (mouse at the vertex mean of region {r}) in "
          f"{time.perf_counter() - t:.2f} s")
    n = int(d.execute_script("return exactcellsReport.data.complex.colourings.length"))
    for k in [*range(n), *range(n)]:
        cur = d.execute_script("return document.getElementById('ec-complex').dataset.colouring")
        if cur == str(k):
            continue
        t = time.perf_counter()
        d.execute_script("var s = document.getElementById('ec-complex-colour'); s.value = arguments[0];"
                         "s.dispatchEvent(new Event('change'));", str(k))
        wait(d, f"return document.getElementById('ec-complex').dataset.colouring === '{k}'")
        wall = time.perf_counter() - t
        ms = d.execute_script("return exactcellsReport.widget.colourMs")
        name = d.execute_script("return exactcellsReport.data.complex.colourings[arguments[0]].name", k)
        print(f"colouring switch to {name!r}: {ms:.0f} ms in the page (selenium wall clock {wall:.2f} s)")
    t = time.perf_counter()
    d.execute_script("window.__z = exactcellsReport.widget.drawCount;"
                     "Plotly.relayout('ec-complex-plot', {'xaxis.range': [0, 0.5], 'yaxis.range': [0, 0.5]});")
    wait(d, "return exactcellsReport.widget.drawCount > window.__z")
    note = d.execute_script("var n = document.getElementById('ec-complex-decimation');"
                            "return [n.textContent, exactcellsReport.widget.drawMs];")
    print(f"zoom to [0, 0.5]^2: repainted in {note[1]:.0f} ms (selenium wall clock "
          f"{time.perf_counter() - t:.2f} s); notice: {note[0]}")
    d.save_screenshot(str(out.with_suffix(".png")))
    severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    print(f"console errors: {len(severe)} {severe[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", help="a 2-D network file (default: 2-N-1 with integer weights)")
    ap.add_argument("--hidden", type=int, default=560, help="N of 2-N-1 (without --net)")
    ap.add_argument("--complex", help="keep / reuse the built complex here (.npz)")
    ap.add_argument("--data", help="keep / reuse the page's data here (.json)")
    ap.add_argument("--out", default="/tmp/exactcells-bench-report.html")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(machine(), "|", load(""))
    K = the_complex(args)
    print(f"f-vector {tuple(K.f_vector)}: {K.num_regions} regions")
    data = page_data(K, args)
    out = Path(args.out)
    t = time.perf_counter()
    atomic_write_text(out, render_page(f"benchmark: {K.num_regions} regions", [], data), force=True)
    print(f"render_page {time.perf_counter() - t:.1f} s; report.html {out.stat().st_size / 2**20:.1f} MiB "
          f"(exact vertex coordinates {'in' if data['complex']['details']['vertices'] else 'left out'})")
    d = browser()
    try:
        measure(d, out, K, args.repeats)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
