"""Local complexity: regions per unit volume, estimated by sampling vs the exact density.

Global: the exact density is ``#regions / vol(D)``; a sampling tool estimates it by the number
of distinct patterns among N samples (a lower bound) or by the Chao1 richness estimator
``S_obs + f1^2 / (2 f2)`` (f1, f2: patterns seen once, twice). Local: around random centres
``c``, the box ``c + [-r, r]^n``; the exact number of regions meeting it is the number of
regions of the network's complex on that box (built exactly), against the distinct patterns of
``k`` uniform samples in the box (and Chao1).

    python validation/local_complexity.py [--nets A C D] [--centers 40] [--radius 0.1]
                                          [--samples 2000] [--force]
"""

from __future__ import annotations

import time
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import label, load, parser, preflight, save_png, write_report  # noqa: E402

from exactcells import Domain, build_complex  # noqa: E402


def chao1(ids: np.ndarray) -> float:
    _, counts = np.unique(ids, return_counts=True)
    f1 = int(np.count_nonzero(counts == 1))
    f2 = int(np.count_nonzero(counts == 2))
    s = counts.size
    return s + (f1 * f1 / (2 * f2) if f2 > 0 else f1 * (f1 - 1) / 2)


def patterns(net, X: np.ndarray) -> np.ndarray:
    S = (net.hidden_signs_float(X) > 0).astype(np.uint8)
    packed = np.packbits(S, axis=1)
    _, ids = np.unique(packed, axis=0, return_inverse=True)
    return ids.ravel()


def run_one(name: str, centers: int, radius: Fraction, k: int, global_n: int, seed: int, out,
            force: bool) -> str:
    net, K, tb = load(name)
    n = K.input_dim
    rng = np.random.default_rng(seed)
    dvol = 2.0 ** n
    exact_density = K.num_regions / dvol
    X = rng.uniform(-1, 1, size=(global_n, n))
    ids = patterns(net, X)
    s_obs, s_chao = int(np.unique(ids).size), chao1(ids)
    r = float(radius)
    rows = []
    for _ in range(centers):
        c = [Fraction(int(x), 1 << 16) for x in rng.integers(-(1 << 16), 1 << 16, size=n)]
        c = [min(max(x, -1 + radius), 1 - radius) for x in c]
        lo, hi = [x - radius for x in c], [x + radius for x in c]
        exact = build_complex(net, Domain.box(n, lo, hi)).num_regions
        Y = np.array([float(x) for x in c]) + rng.uniform(-r, r, size=(k, n))
        yid = patterns(net, Y)
        rows.append((exact, int(np.unique(yid).size), chao1(yid)))
    ex = np.array([a for a, _, _ in rows], dtype=float)
    ob = np.array([b for _, b, _ in rows], dtype=float)
    ch = np.array([c for _, _, c in rows], dtype=float)
    bvol = (2 * r) ** n
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(ex / bvol, ob / bvol, "o", ms=4, label="distinct patterns")
    ax[0].plot(ex / bvol, ch / bvol, "x", ms=4, label="Chao1")
    lim = [0, max(ex.max(), ch.max()) / bvol * 1.05]
    ax[0].plot(lim, lim, "k-", lw=0.8)
    ax[0].axvline(exact_density, c="g", ls=":", label="global exact density")
    ax[0].set_xlabel("exact regions per unit volume in the box")
    ax[0].set_ylabel(f"sampled estimate ({k} samples)")
    ax[0].set_title(f"{label(name)}: boxes of half-width {r:g}")
    ax[0].legend(fontsize=8)
    Ns = np.unique(np.geomspace(100, global_n, 12).astype(int))
    ax[1].plot(Ns, [np.unique(ids[:N]).size / dvol for N in Ns], "o-", ms=3, label="distinct patterns")
    ax[1].plot(Ns, [chao1(ids[:N]) / dvol for N in Ns], "x-", ms=3, label="Chao1")
    ax[1].axhline(exact_density, c="g", ls=":", label="exact density")
    ax[1].set_xscale("log")
    ax[1].set_xlabel("samples in the whole domain")
    ax[1].set_ylabel("regions per unit volume")
    ax[1].legend(fontsize=8)
    save_png(fig, out / f"local_{name}.png", force)
    plt.close(fig)
    return (f"## {label(name)}\n\n"
            f"Exact density {K.num_regions} regions / vol(D) = {exact_density:.1f} per unit volume "
            f"(build {tb:.2f} s).\n\n"
            f"- Global, {global_n} samples: {s_obs} distinct patterns ({s_obs / dvol:.1f} per unit volume, "
            f"{100 * s_obs / K.num_regions:.0f}% of the exact density); Chao1 {s_chao:.0f} "
            f"({100 * s_chao / K.num_regions:.0f}%).\n"
            f"- Local, {centers} boxes of half-width {r:g}, {k} samples each: exact regions per box mean "
            f"{ex.mean():.1f} (max {int(ex.max())}); sampled distinct patterns find "
            f"{100 * ob.sum() / ex.sum():.0f}% of them (never more than exact: "
            f"{bool(np.all(ob <= ex))}); Chao1 estimates {100 * ch.sum() / ex.sum():.0f}%; "
            f"mean |Chao1 - exact| / exact = {np.mean(np.abs(ch - ex) / ex):.2f}.\n\n"
            f"![local complexity](local_{name}.png)\n\n")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--centers", type=int, default=40)
    p.add_argument("--radius", default="1/10", help="half-width of the boxes (exact, e.g. 1/10)")
    p.add_argument("--samples", type=int, default=2000, help="samples per box")
    p.add_argument("--global-samples", type=int, default=100_000)
    args = p.parse_args()
    out = args.out
    preflight([out / "local_complexity.md"] + [out / f"local_{n}.png" for n in args.nets], args.force)
    t0 = time.perf_counter()
    body = ("Regions per unit volume: what sampling estimates against the exact count, globally and "
            "in small boxes (each box's complex built exactly).\n\n")
    for name in args.nets:
        body += run_one(name, args.centers, Fraction(args.radius), args.samples, args.global_samples,
                        args.seed, out, args.force)
        print(f"{name} done", flush=True)
    write_report(out / "local_complexity.md", "Local complexity", body, args.force, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
