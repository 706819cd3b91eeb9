"""Where a small build's peak memory goes: exactcells and Regioncam, stage by stage.

For each network, one fresh process per tool (alternating, ``--repeats`` times) records its own
peak resident set so far (``VmHWM``: ``peak.py`` says why not ``ru_maxrss``) after each stage: the interpreter alone, ``import
numpy``, the tool's import, loading the network, the build. A stage's figure is the growth of
the peak it caused (MiB, medians). For exactcells' build the script also splits the resident
growth by mapping (``/proc/self/smaps``: the code pages of numpy's and the compiled modules'
shared libraries touched for the first time, the malloc heap, anonymous mappings) and gives
Python's traced peak (tracemalloc, a separate run: tracing changes the peak). With ``--by-line``
a further run traces exactcells' source lines and names those during which numpy's code pages
were first touched (slow: it reads ``smaps`` at every line).

The point is to separate a fixed cost (interpreter, imports, first use of code) from the cost
that grows with the complex: on a network as small as A (412 regions) the fixed cost is all of
the difference between the tools.

    python benchmarks/bench_memory_floor.py [--nets A B E] [--repeats 3] [--by-line A] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from networks import find_network
from peak import OWN_PEAK_SOURCE

HERE = Path(__file__).resolve().parent

COMMON = OWN_PEAK_SOURCE + r"""
import json, sys
peak = own_peak_mib
def smaps():
    out, cur = {}, None
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else "[anon]"
                cur = ("numpy code" if "numpy" in name and name.endswith(".so") else
                       "exactcells compiled modules" if "exactcells" in name and name.endswith(".so") else
                       "malloc heap" if name == "[heap]" else
                       "anonymous mappings" if name == "[anon]" else "other")
            elif line.startswith("Rss:"):
                out[cur] = out.get(cur, 0) + int(head[1])
    return out
marks = {"interpreter": peak()}
import numpy as np
marks["import numpy"] = peak()
"""

EXACT = COMMON + r"""
trace = sys.argv[2] == "trace"
from exactcells import load_network, build_complex
marks["import the tool"] = peak()
net = load_network(sys.argv[1])
marks["load the network"] = peak()
before = smaps()
if trace:
    import tracemalloc
    tracemalloc.start()
K = build_complex(net)
marks["build"] = peak()
after = smaps()
res = {"marks": marks, "cells": K.num_cells, "regions": K.num_regions,
       "maps": {k: (after.get(k, 0) - before.get(k, 0)) / 1024 for k in set(before) | set(after)}}
if trace:
    res["traced_peak"] = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps(res))
"""

BY_LINE = COMMON + r"""
from collections import Counter
from exactcells import load_network, build_complex
net = load_network(sys.argv[1])
def numpy_kib():
    return smaps().get("numpy code", 0)
grown, last = Counter(), [numpy_kib(), None]
def tracer(frame, event, arg):
    if "exactcells" in frame.f_code.co_filename and event in ("line", "return"):
        now = numpy_kib()
        if now > last[0] and last[1] is not None:
            grown[last[1]] += now - last[0]  # the pages came during the previous line
        last[0] = now
        last[1] = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
    return tracer
start = numpy_kib()
sys.settrace(tracer)
build_complex(net)
sys.settrace(None)
print(json.dumps({"total": numpy_kib() - start, "lines": grown.most_common()}))
"""

PEER = COMMON + r"""
import regioncam
marks["import the tool"] = peak()
d = json.load(open(sys.argv[1]))
layers = [(np.array(L["W"], dtype=np.float32), np.array(L["b"], dtype=np.float32)) for L in d["layers"]]
marks["load the network"] = peak()
rc = regioncam.Regioncam(size=1)
for W, b in layers[:-1]:
    rc.linear(W.T, b)
    rc.relu()
marks["build"] = peak()
print(json.dumps({"marks": marks, "regions": int(rc.num_faces)}))
"""

STAGES = ["interpreter", "import numpy", "import the tool", "load the network", "build"]


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth(runs: list[dict]) -> list[float]:
    """Median growth of the peak by stage (the interpreter's: its own peak)."""
    rows = []
    for i, s in enumerate(STAGES):
        prev = STAGES[i - 1] if i else None
        rows.append(statistics.median(r["marks"][s] - (r["marks"][prev] if prev else 0) for r in runs))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["A", "B", "E"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--by-line", nargs="*", default=[], metavar="NET",
                    help="for these of the networks, the source lines that first touched numpy's code pages")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "memory_floor.md")
    args = ap.parse_args()
    try:
        import regioncam  # noqa: F401
    except ImportError:
        sys.exit("Regioncam is not installed: pip install regioncam")
    lines = [f"# Peak memory stage by stage, exactcells and Regioncam ({time.strftime('%Y-%m-%d')}, "
             f"{platform.machine()}, Python {platform.python_version()}, medians of {args.repeats}, "
             "fresh processes, alternating)", ""]
    for name in args.nets:
        path = str(find_network(name))
        ex, pe = [], []
        for _ in range(args.repeats):
            ex.append(run(EXACT, path, "plain"))
            pe.append(run(PEER, path))
        traced = run(EXACT, path, "trace")["traced_peak"]
        ge, gp = growth(ex), growth(pe)
        lines += [f"## {name}: {ex[0]['regions']:,} regions ({ex[0]['cells']:,} cells of every dimension); "
                  f"Regioncam {pe[0]['regions']:,} regions", "",
                  "| stage | exactcells MiB | Regioncam MiB |", "|---|---|---|"]
        for s, a, b in zip(STAGES, ge, gp):
            lines.append(f"| {s} | +{a:.1f} | +{b:.1f} |")
        lines.append(f"| **peak** | **{statistics.median(r['marks']['build'] for r in ex):.1f}** | "
                     f"**{statistics.median(r['marks']['build'] for r in pe):.1f}** |")
        maps = {k: statistics.median(r["maps"].get(k, 0.0) for r in ex) for k in ex[0]["maps"]}
        parts = ", ".join(f"{k} {v:+.2f}" for k, v in sorted(maps.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.01)
        lines += ["", f"exactcells' build, resident growth by mapping (MiB): {parts}; Python's traced "
                  f"peak during the build {traced:.2f} MiB.", ""]
        if name in args.by_line:
            by = run(BY_LINE, path)
            top = ", ".join(f"`{where}` {kib} KiB" for where, kib in by["lines"])
            lines += [f"numpy's code pages first touched during the build ({by['total']} KiB), by the "
                      f"exactcells line that touched them: {top}.", ""]
        print(f"{name} done", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
