"""exactcells and the edge-subdivision tool (Berzins, ICML 2023) side by side, interleaved, medians of 3.

The peer (float32, PyTorch, CPU, one thread) is not on PyPI: the benchmark clones its repository
(``https://github.com/arturs-berzins/relu_edge_subdivision``) into ``benchmarks/.peers/`` the first
time, or uses the checkout named by ``--peer DIR`` (or ``$EDGE_SUBDIVISION_DIR``). Its code is
imported from there at run time; none of it is in this repository.

Both tools get the same problem: the box ``[-1, 1]^n`` cut by the *hidden* neurons (the peer is
given a network of the hidden layers only, so that it does not also cut by the output neuron).
The peer returns the vertices and edges of the subdivision; their counts are compared with the
exact ``f0`` and ``f1`` (they agree on generic networks: a check that both solve the same
problem). Each measurement runs in a fresh subprocess. Times are the time inside the call
(``build_complex``; the peer's ``skeletal_subdivision``), imports and loading excluded; CPU time of
the process over the call is reported too (steadier on a shared machine). Each subprocess calls
its tool twice: the first call ("cold", what a user's script pays once) is the main figure; the
second ("warm": caches, allocators and lazy imports done) is reported beside it.

    python benchmarks/bench_edge_subdivision.py [--nets C D F S3_32 S3_48 D4_10x3 D4_16x3]
                                                [--repeats 3] [--peer DIR] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from networks import find_network

HERE = Path(__file__).resolve().parent
REPO = "https://github.com/arturs-berzins/relu_edge_subdivision"

EXACT = r"""
import json, sys, time
from exactcells import load_network, build_complex
net = load_network(sys.argv[1])
runs = []
for _ in range(2):  # the first call in a fresh process ("cold"), then a second one ("warm")
    t = time.perf_counter(); u = time.process_time(); K = build_complex(net)
    runs.append((time.perf_counter() - t, time.process_time() - u))
f = K.f_vector
print(json.dumps({"seconds": runs[0][0], "cpu": runs[0][1], "warm": runs[1][0], "warm_cpu": runs[1][1],
                  "f0": f[0], "f1": f[1], "regions": K.num_regions}))
"""

PEER = r"""
import contextlib, io, json, sys, time
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[2])
from NN import Net
from edge_subdivision import skeletal_subdivision
d = json.load(open(sys.argv[1]))
hidden = d["layers"][:-1]
ks = [len(hidden[0]["W"][0])] + [len(L["W"]) for L in hidden]
f = Net(ks=ks)
with torch.no_grad():
    for fc, L in zip(f.fcs, hidden):
        fc.weight.copy_(torch.tensor(L["W"], dtype=torch.float32))
        fc.bias.copy_(torch.tensor(L["b"], dtype=torch.float32))
    runs = []
    for _ in range(2):  # the first call in a fresh process ("cold"), then a second one ("warm")
        with contextlib.redirect_stdout(io.StringIO()):
            t = time.perf_counter(); u = time.process_time()
            vs, edges, v_sv = skeletal_subdivision(f, bbox=(-1, 1), device="cpu", verbose=False, plot=False)
            runs.append((time.perf_counter() - t, time.process_time() - u))
print(json.dumps({"seconds": runs[0][0], "cpu": runs[0][1], "warm": runs[1][0], "warm_cpu": runs[1][1],
                  "f0": int(vs.shape[0]), "f1": int(edges.shape[0])}))
"""


def peer_dir(arg: Path | None) -> Path:
    """The peer's checkout: ``--peer``, ``$EDGE_SUBDIVISION_DIR``, or a clone into benchmarks/.peers."""
    if arg is not None:
        return arg
    env = os.environ.get("EDGE_SUBDIVISION_DIR")
    if env:
        return Path(env)
    d = HERE / ".peers" / "relu_edge_subdivision"
    if not (d / "edge_subdivision.py").is_file():
        d.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--depth", "1", REPO, str(d)], check=True)
    return d


def run(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, timeout=3600)
    if out.returncode:
        raise SystemExit(f"benchmark subprocess failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["C", "D", "F", "S3_32", "S3_48", "D4_10x3", "D4_16x3"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer", type=Path, default=None, help="a checkout of the peer's repository")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "edge_subdivision.md")
    args = ap.parse_args()
    peer = peer_dir(args.peer)
    start_load = os.getloadavg()[0]
    rows = []
    for name in args.nets:
        path = str(find_network(name))
        ex, pe = [], []
        for _ in range(args.repeats):
            ex.append(run([EXACT, path]))
            pe.append(run([PEER, path, str(peer)]))
        te, tp = (statistics.median(r["seconds"] for r in x) for x in (ex, pe))
        ce, cp = (statistics.median(r["cpu"] for r in x) for x in (ex, pe))
        we, wp = (statistics.median(r["warm_cpu"] for r in x) for x in (ex, pe))
        same = (ex[0]["f0"], ex[0]["f1"]) == (pe[0]["f0"], pe[0]["f1"])
        rows.append((name, ex[0]["regions"], ex[0]["f0"], ex[0]["f1"], pe[0]["f0"], pe[0]["f1"], same,
                     te, tp, ce, cp, we, wp))
        print(f"{name}: exactcells {te:.3f} s, edge subdivision {tp:.3f} s, ratio {te / tp:.1f}x "
              f"(CPU {ce / cp:.1f}x, warm CPU {we / wp:.1f}x), counts agree: {same}", file=sys.stderr)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"# exactcells vs the edge-subdivision tool ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, medians of "
        f"{args.repeats}, interleaved; load average {start_load:.1f} at the start, {load} at the end)",
        "",
        "Box [-1, 1]^n cut by the hidden neurons. The peer: float32, PyTorch on the CPU, one thread, "
        "time inside `skeletal_subdivision`; exactcells: `build_complex` (every cell of every dimension "
        "and its facets, exact signs; exact coordinates are computed when first asked for).",
        "",
        "| net | regions | f0 / f1 exact | f0 / f1 peer | counts agree | exactcells s | peer s | ratio | "
        "exactcells CPU s | peer CPU s | CPU ratio | warm: exactcells CPU s | peer CPU s | CPU ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, reg, e0, e1, p0, p1, same, te, tp, ce, cp, we, wp in rows:
        lines.append(f"| {name} | {reg:,} | {e0:,} / {e1:,} | {p0:,} / {p1:,} | {'yes' if same else 'NO'} | "
                     f"{te:.3f} | {tp:.3f} | {te / tp:.1f}x | {ce:.3f} | {cp:.3f} | {ce / cp:.1f}x | "
                     f"{we:.3f} | {wp:.3f} | {we / wp:.1f}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
