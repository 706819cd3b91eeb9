"""Regioncam's regions on planes through digit images, certified by exactcells.

For the bundled digits MLP (``exactcells/data/digits_mlp.json``, 64-32-32-10) and planes through
three test images (the bundled ``digits_plane.json`` and ``--planes`` random triples of the test
split), Regioncam (float32) computes the regions of the network on the plane; exactcells builds
the exact complex of the *same* 2-D problem (Regioncam's float32 plane map and square, as exact
binary values; see ``validation/regioncam_common.py``), certifies it independently
(``exactcells.certify``), and judges Regioncam's faces as a claim (``exactcells.claims``):
missing and spurious patterns, wrong and missing adjacencies, and the largest distance of a
Regioncam vertex from the exact vertex it stands for.

The digits CNN is not run through Regioncam: its ``max_pool`` takes the maximum over a whole
layer (one output), so 2x2 pooling windows followed by a Linear layer cannot be expressed.

    python validation/regioncam_digits.py [--planes 10] [--sizes 1.5 6] [--seed 0] [--force]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from regioncam_common import exact_plane, regioncam_claim, regioncam_plane  # noqa: E402

from exactcells import build_complex, load_network  # noqa: E402
from exactcells.certify import certify  # noqa: E402
from exactcells.claims import judge_claim  # noqa: E402

DATA = HERE.parent / "exactcells" / "data"
REPORTS = HERE / "reports"


def _test_images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    _, Xte, _, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    return Xte, yte


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--planes", type=int, default=10, help="random planes of test images (besides the bundled one)")
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.5, 6.0],
                    help="Regioncam's size parameter (the square's half-width relative to the points)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    import datetime
    import platform

    import regioncam

    from exactcells.io import atomic_write_text, check_writable

    report = args.out / "regioncam_digits.md"
    check_writable(report, args.force)
    t_start = time.perf_counter()
    net = load_network(DATA / "digits_mlp.json")
    Xte, yte = _test_images()
    rng = np.random.default_rng(args.seed)
    planes = [("bundled digits_plane.json",
               np.array([[float(Fraction(v)) for v in p] for p in json.loads((DATA / "digits_plane.json").read_text())]))]
    for _ in range(args.planes):
        idx = rng.choice(len(Xte), size=3, replace=False)
        planes.append((f"test images {idx.tolist()} (labels {yte[idx].tolist()})", Xte[idx]))
    rows = []
    bad = []
    totals = dict(faces=0, regions=0, missing=0, spurious=0, adj_wrong=0, adj_missing=0)
    for desc, P in planes:
        for size in args.sizes:
            cam, t_rc = regioncam_plane(net, P, size=size)
            net2, dom = exact_plane(net, cam)
            t0 = time.perf_counter()
            K = build_complex(net2, dom, progress=False)
            t_ex = time.perf_counter() - t0
            cert = certify(K, volumes=True)
            claim = regioncam_claim(cam, net)
            v = judge_claim(K, claim)
            rows.append((desc, size, cam.num_faces, K.num_regions, K.f_vector, cert.certified, len(v.missing),
                         len(v.spurious_patterns), len(v.adjacency_wrong or ()), len(v.adjacency_missing or ()),
                         v.max_vertex_distance, t_rc, t_ex))
            totals["faces"] += cam.num_faces
            totals["regions"] += K.num_regions
            totals["missing"] += len(v.missing)
            totals["spurious"] += len(v.spurious_patterns)
            totals["adj_wrong"] += len(v.adjacency_wrong or ())
            totals["adj_missing"] += len(v.adjacency_missing or ())
            if not v.exact:
                bad.append((desc, size, v))
            print(f"{desc}, size {size}: regioncam {cam.num_faces} faces, exact {K.num_regions} regions "
                  f"(certified: {cert.certified}); {'EXACT' if v.exact else 'NOT EXACT'}", file=sys.stderr)
    lines = [
        f"Network: `exactcells/data/digits_mlp.json` ({net.architecture}), Regioncam "
        f"{getattr(regioncam, '__version__', '0.5.2')} (float32). Planes: the bundled "
        f"`digits_plane.json` and {args.planes} random triples of test images (seed {args.seed}), each at "
        f"Regioncam sizes {', '.join(str(s) for s in args.sizes)} (the square of plane coordinates grows "
        "with the size).",
        "",
        "Method: Regioncam computes its faces on the plane through the three images. exactcells builds the "
        "exact complex of the same 2-D problem (Regioncam's float32 plane map `u -> u P + p` and its square, "
        "taken as exact binary values, composed exactly with the network), certifies it with the independent "
        "checks of `exactcells.certify`, and judges Regioncam's faces as a claim: each face's pattern is the "
        "signs of the hidden pre-activations at its vertex centroid (from Regioncam's own per-face affine "
        "maps), its neighbours are the faces across its interior edges, and its vertices are compared with "
        "the exact vertices.",
        "",
        "| plane | size | Regioncam faces | exact regions | exact f-vector | certified | missing | spurious | "
        "adjacency wrong / missing | max vertex distance | Regioncam s | exactcells build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]:g} | {r[2]} | {r[3]} | {r[4]} | {'yes' if r[5] else '**no**'} | {r[6]} | "
                     f"{r[7]} | {r[8]} / {r[9]} | {r[10]:.2g} | {r[11]:.4f} | {r[12]:.3f} |")
    lines += [
        "",
        f"**Totals**: {totals['faces']} Regioncam faces, {totals['regions']} exact regions; "
        f"{totals['missing']} missing regions, {totals['spurious']} spurious patterns, "
        f"{totals['adj_wrong']} wrong and {totals['adj_missing']} missing adjacencies over "
        f"{len(rows)} planes.",
        "",
    ]
    if bad:
        lines.append("What Regioncam gets wrong:")
        lines.append("")
        for desc, size, v in bad:
            lines.append(f"- {desc}, size {size:g}: {v.summary().replace(chr(10), '; ')}")
            for m in v.missing[:5]:
                lines.append(f"  - missing `{m.pattern}`: exact area {float(m.volume):.3g}")
            for p in v.spurious_patterns[:5]:
                lines.append(f"  - spurious `{p}`")
    else:
        lines.append("Regioncam's regions are exactly right on every plane: same regions (every exact region's "
                     "pattern is a face, every face's pattern a region), the same adjacencies, and vertices "
                     "within float32 error of the exact ones.")
    lines += ["", "The digits CNN is not compared: Regioncam's `max_pool` is the maximum over a whole layer "
              "(one output), so 2x2 pooling windows feeding a Linear layer cannot be written for it."]
    head = (f"# Regioncam on planes through digit images, certified by exactcells\n\n_Generated by "
            f"`python validation/regioncam_digits.py` on {datetime.date.today().isoformat()} "
            f"({platform.machine()}, Python {platform.python_version()}); run time "
            f"{time.perf_counter() - t_start:.1f} s._\n\n")
    atomic_write_text(report, head + "\n".join(lines) + "\n", force=args.force)
    print(f"wrote {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
