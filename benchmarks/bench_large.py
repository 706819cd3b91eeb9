"""A complex of about a million cells: build, certificate, save and load times and peak memory.

Network 3-48-48-1 drawn with the benchmark recipe from ``numpy.random.default_rng(1)`` (the same
network as bench_topology.py), box [-1, 1]^3, cut by the hidden neurons. Writes
benchmarks/results/large.md; `python benchmarks/collect.py` adds it to RESULTS.md.

    python benchmarks/bench_large.py
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from exactcells import build_complex, kernel, load_complex, network_from_dict
from exactcells.certify import certify
from exactcells.io import atomic_write_text

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(1)
    widths = (3, 48, 48, 1)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        W = rng.normal(0, np.sqrt(2 / a), (b, a))
        bias = rng.normal(0, 0.1, b)
        layers.append({"W": W.tolist(), "b": bias.tolist()})
    net = network_from_dict({"layers": layers})
    load = os.getloadavg()[0]
    builds, certs = [], []
    for _ in range(3):  # build and certify back to back: slow minutes on a shared machine hit both
        t0 = time.perf_counter()
        K = build_complex(net)
        builds.append(time.perf_counter() - t0)
        peak_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        cert = certify(K)
        certs.append(time.perf_counter() - t0)
        del cert
    # where the certificate's time goes, on one more fresh build: the exact coordinates (left
    # implicit by the build) first, then the checks
    K3 = build_complex(net)
    t0 = time.perf_counter()
    K3.vertex_homogeneous(0)
    fresh_coords_s = time.perf_counter() - t0
    parts = [(c.name, c.seconds) for c in certify(K3).checks]
    del K3
    ratios = sorted(c / b for b, c in zip(builds, certs))
    build_s, cert_s = statistics.median(builds), statistics.median(certs)
    K.vertex_homogeneous(0)  # the exact coordinates (computed by the certificate; saving needs them)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.npz"
        t0 = time.perf_counter()
        K.save(path)
        save_s = time.perf_counter() - t0
        size = path.stat().st_size / 2**20
        t0 = time.perf_counter()
        K2 = load_complex(path)
        load_s = time.perf_counter() - t0
        assert K2.f_vector == K.f_vector
    cert = certify(K)
    t0 = time.perf_counter()
    full = certify(K, volumes=True)
    full_s = time.perf_counter() - t0
    peak_cert = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    vol_procs = "2 processes" if "processes" in full.check("volumes").detail else "1 process"
    ok = "certified" if cert.certified and full.certified else "NOT CERTIFIED"
    lines = [
        "## A complex of about a million cells (`bench_large.py`)",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, one process (the volume cross-check's "
        f"volumes: {vol_procs}), load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.",
        f"Network 3-48-48-1 (benchmark recipe, `default_rng(1)`), box [-1, 1]^3: f-vector "
        f"{K.f_vector}, **{K.num_cells:,} cells**, Euler characteristic {K.euler_characteristic}.",
        "",
        "| step | measured |",
        "|---|---|",
        f"| `build_complex` (median of 3) | {build_s:.2f} s ({', '.join(f'{b:.2f}' for b in builds)}) |",
        f"| peak resident memory after the build | {peak_build:,.0f} MiB |",
        f"| `certify` (the default structural proof; median of 3, each right after a build) | {cert_s:.2f} s, "
        f"{ok}, **{statistics.median(ratios):.2f}x the build** (ratios {', '.join(f'{r:.2f}' for r in ratios)}) |",
        f"| exact vertex coordinates of a fresh build (first request; inside the certificate above) | "
        f"{fresh_coords_s:.2f} s |",
        f"| `save` (compressed `.npz`) | {save_s:.1f} s, {size:.1f} MiB on disk |",
        f"| `load_complex` (no recomputation) | {load_s:.1f} s |",
        f"| `certify(K, volumes=True)` (the opt-in volume cross-check) | {full_s:.1f} s, "
        f"{full_s / build_s:.2f}x the build |",
        f"| peak resident memory of one process, certificates included | {peak_cert:,.0f} MiB |",
        "",
        "Where the certificate's time goes (one more fresh build; seconds): the exact vertex "
        f"coordinates, which the build leaves implicit and the certificate reads as claims, {fresh_coords_s:.2f}; "
        + ", ".join(f"`{name}` {sec:.2f}" for name, sec in parts if sec >= 0.01)
        + f". Exact integers: {'GMP (`exactcells._exactc`)' if kernel.GMP is not None else 'Python'}; "
        "the first certificate of a process also imports scipy and python-flint (about 0.5 s).",
        "",
        "The build keeps the vertices implicit (their defining hyperplanes and float values checked "
        "by a certified filter); the exact coordinates are rebuilt on first request. The volume "
        "cross-check's peak comes from its recursion: every face's exact big-integer data (products "
        "of its vertices' denominators) for about a million faces.",
        "",
    ]
    (HERE / "results").mkdir(exist_ok=True)
    atomic_write_text(HERE / "results" / "large.md", "\n".join(lines), force=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
