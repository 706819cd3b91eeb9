"""Sampling vs exact: do uniform samples see what the exact complex predicts?

For each network: N uniform samples in the domain, their activation patterns (float forward
passes, as sampling tools do); checks that

* every sampled pattern is the binary pattern of a region of the exact complex (and, for a
  sub-sample, that the exact sign vector of the sample point is a cell of the complex);
* the number of distinct patterns found after ``N`` samples follows its exact expectation
  ``E(N) = sum_P (1 - (1 - p_P)^N)`` (``p_P = vol(regions with pattern P) / vol(D)``, exact
  volumes), within its standard deviation (covariances of the indicators included);
* the sampled frequencies of the patterns fit ``p_P`` (chi-square goodness of fit,
  ``scipy.stats.chisquare``, bins with expected count below 5 pooled).

    python validation/sampling_vs_exact.py [--nets A C D] [--samples 200000] [--force]
"""

from __future__ import annotations

import time
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import label, load, parser, preflight, save_png, write_report  # noqa: E402
from scipy import stats  # noqa: E402

from exactcells.certify import exact_sign_vectors, region_volumes  # noqa: E402


def expectation_and_sd(p: np.ndarray, N: int) -> tuple[float, float]:
    """Mean and standard deviation of the number of distinct patterns in N samples."""
    q = np.exp(N * np.log1p(-p))  # P(pattern not found)
    mean = float(np.sum(1 - q))
    var = float(np.sum(q * (1 - q)))
    # Cov(I_P, I_Q) = (1 - p_P - p_Q)^N - q_P q_Q, summed over P != Q (chunks keep memory small)
    m = p.size
    for a in range(0, m, 1024):
        pa = p[a:a + 1024, None]
        both = np.clip(1 - pa - p[None, :], 0.0, None)
        with np.errstate(divide="ignore"):
            cov = np.exp(N * np.log(both)) - q[a:a + 1024, None] * q[None, :]
        idx = np.arange(a, min(a + 1024, m))
        cov[idx - a, idx] = 0.0
        var += float(cov.sum())
    return mean, float(np.sqrt(max(var, 0.0)))


def run_one(name: str, samples: int, seed: int, out, force: bool) -> str:
    net, K, tb = load(name)
    n = K.input_dim
    t0 = time.perf_counter()
    vols = region_volumes(K)
    tv = time.perf_counter() - t0
    dvol = Fraction(2) ** n
    assert sum(vols) == dvol
    regs = K.regions()
    sl = K.sign_slices()["neurons"]
    pats = [bytes((np.asarray(K.signs[c, sl]) > 0).astype(np.uint8)) for c in regs]
    pvol: dict[bytes, Fraction] = {}
    for pt, v in zip(pats, vols):
        pvol[pt] = pvol.get(pt, Fraction(0)) + v
    keys = list(pvol)
    index = {k: i for i, k in enumerate(keys)}
    p = np.array([float(pvol[k] / dvol) for k in keys])
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(samples, n))
    S = (net.hidden_signs_float(X) > 0).astype(np.uint8)
    ids = np.array([index.get(bytes(row), -1) for row in S])
    not_a_region = int(np.count_nonzero(ids < 0))
    # exact cross-check on a sub-sample: the exact sign vector of the sample point is a cell
    sub = min(2000, samples)
    H = []
    for row in X[:sub]:
        fr = [Fraction(float(x)) for x in row]
        den = max(f.denominator for f in fr)
        H.append(tuple(int(f * den) for f in fr) + (den,))
    exact = exact_sign_vectors(net, K.domain, H)
    exact_missing = sum(1 for s in exact if tuple(s) not in K)
    float_vs_exact = int(np.count_nonzero(np.any((exact[:, sl] > 0).astype(np.uint8) != S[:sub], axis=1)))
    # discovery curve
    grid = np.unique(np.geomspace(10, samples, 14).astype(int))
    first = np.full(len(keys), np.iinfo(np.int64).max)
    valid = ids >= 0
    order = np.arange(samples)
    np.minimum.at(first, ids[valid], order[valid])
    observed = [int(np.count_nonzero(first < N)) for N in grid]
    ms = [expectation_and_sd(p, int(N)) for N in grid]
    z = [(o - m) / s if s > 0 else 0.0 for o, (m, s) in zip(observed, ms)]
    # goodness of fit at N = samples
    counts = np.bincount(ids[valid], minlength=len(keys)).astype(float)
    expct = p * valid.sum()
    big = expct >= 5
    f_obs = np.append(counts[big], counts[~big].sum())
    f_exp = np.append(expct[big], expct[~big].sum())
    if f_exp[-1] == 0:
        f_obs, f_exp = f_obs[:-1], f_exp[:-1]
    f_exp *= f_obs.sum() / f_exp.sum()
    chi = stats.chisquare(f_obs, f_exp)
    # plots
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    mean = np.array([m for m, _ in ms])
    sd = np.array([s for _, s in ms])
    ax[0].fill_between(grid, mean - 2 * sd, mean + 2 * sd, alpha=0.3, label="exact E(N) ± 2 sd")
    ax[0].plot(grid, mean, "-", label="exact expectation")
    ax[0].plot(grid, observed, "o", ms=4, label="observed")
    ax[0].axhline(len(keys), ls=":", c="k", label=f"all {len(keys)} patterns")
    ax[0].set_xscale("log")
    ax[0].set_xlabel("samples N")
    ax[0].set_ylabel("distinct patterns found")
    ax[0].legend(fontsize=8)
    ax[0].set_title(f"{label(name)}: discovery curve")
    ok = expct > 0
    ax[1].loglog(expct[ok], np.maximum(counts[ok], 0.5), ".", ms=3)
    lim = [max(expct[ok].min(), 1e-3), expct.max() * 1.5]
    ax[1].plot(lim, lim, "k-", lw=0.8)
    ax[1].set_xlabel("expected count N p (exact volumes)")
    ax[1].set_ylabel("sampled count (0 drawn at 0.5)")
    ax[1].set_title(f"chi-square p-value {chi.pvalue:.3f}")
    save_png(fig, out / f"sampling_{name}.png", force)
    plt.close(fig)
    rows = "\n".join(f"| {N} | {o} | {m:.1f} | {s:.1f} | {zz:+.2f} |"
                     for N, o, (m, s), zz in zip(grid, observed, ms, z))
    return (f"## {label(name)}\n\n"
            f"{K.num_regions} regions, {len(keys)} distinct binary patterns; build {tb:.2f} s, exact "
            f"volumes {tv:.2f} s (sum = vol(D) = {dvol} exactly).\n\n"
            f"- {samples} uniform samples: **{not_a_region}** sampled patterns are not the pattern of an "
            f"exact region (must be 0).\n"
            f"- Exact cross-check of the first {sub} samples: {exact_missing} exact sign vectors not a cell "
            f"of the complex (must be 0); float and exact patterns differ at {float_vs_exact} points.\n"
            f"- Largest |z| of the discovery curve against its exact expectation: "
            f"{max(abs(x) for x in z):.2f}; regions never found after {samples} samples: "
            f"{len(keys) - observed[-1]} (expected {len(keys) - ms[-1][0]:.1f}), their total volume "
            f"fraction {float(p[first >= samples].sum()):.2e}.\n"
            f"- Goodness of fit of sampled frequencies: chi-square {chi.statistic:.1f} on "
            f"{len(f_obs) - 1} degrees of freedom, p-value {chi.pvalue:.3f}.\n\n"
            f"| N | observed | expected | sd | z |\n|---|---|---|---|---|\n{rows}\n\n"
            f"![discovery curve and counts](sampling_{name}.png)\n\n")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=200_000)
    args = p.parse_args()
    out = args.out
    preflight([out / "sampling_vs_exact.md"] + [out / f"sampling_{n}.png" for n in args.nets], args.force)
    t0 = time.perf_counter()
    body = ("Uniform samples against the exact complex: every sampled pattern must be a region, the "
            "number of patterns found must follow its exact expectation (volumes are exact), and the "
            "sampled frequencies must fit the exact volume fractions.\n\n")
    for name in args.nets:
        body += run_one(name, args.samples, args.seed, out, args.force)
        print(f"{name} done", flush=True)
    write_report(out / "sampling_vs_exact.md", "Sampling vs exact", body, args.force, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
