"""``exactcells homology``: Betti numbers of the complex or of a subcomplex, exactly."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..build import build_complex
from ..topology.homology import COEFFICIENTS, homology
from ..topology.subcomplex import SUBCOMPLEX_NAMES, named_subcomplex
from . import print_json
from .common import add_network_args, load_problem

__all__ = ["register", "run", "OUTPUT_SUBCOMPLEXES"]

# the subcomplexes defined by the output: the command builds the complex refined by it
OUTPUT_SUBCOMPLEXES = ("decision-boundary", "positive", "negative")
_RING = {"z2": "Z/2", "q": "Q", "z": "Z"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "homology", help="Betti numbers of the complex, the decision boundary or a region",
        description="Homology of the polyhedral complex of NETWORK, or of a closed subcomplex: "
                    "the domain boundary, the decision boundary F = 0, the regions F >= 0 "
                    "(positive) and F <= 0 (negative). Over Z/2 by PHAT, over Q and Z (with "
                    "torsion) by an exact Smith normal form.")
    add_network_args(p)
    p.add_argument("--subcomplex", choices=SUBCOMPLEX_NAMES, default="all",
                   help="what to compute the homology of (default: all)")
    p.add_argument("--relative", action="store_true",
                   help="relative to its part on the domain's boundary (e.g. the decision "
                        "boundary as an unbounded set, when the box holds every vertex)")
    p.add_argument("--coefficients", choices=COEFFICIENTS, default="z2",
                   help="z2 (PHAT, any size), q or z (exact Smith form, up to a size limit)")
    p.add_argument("--output-index", type=int, default=0, metavar="J",
                   help="which output neuron defines F (default 0)")
    p.add_argument("--max-cells", type=int, default=None,
                   help="stop the build cleanly beyond this many cells")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    with_output = args.subcomplex in OUTPUT_SUBCOMPLEXES
    K = build_complex(net, dom, with_output=with_output, max_cells=args.max_cells,
                      progress=not args.no_progress)
    target = named_subcomplex(K, args.subcomplex, output=args.output_index, relative=args.relative)
    h = homology(target, args.coefficients)
    out: dict[str, Any] = {
        "betti": list(h.betti),
        "coefficients": h.coefficients,
        "torsion": [list(t) for t in h.torsion],
        "subcomplex": args.subcomplex,
        "relative": bool(args.relative),
        "description": h.description,
        "output_index": args.output_index if with_output else None,
        "f_vector": list(h.f_vector),
        "euler_characteristic": h.euler_characteristic,
        "complex": K.summary(),
        "slice": prob.record,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    if args.json:
        print_json(out)
    else:
        tors = ""
        if args.coefficients == "z" and any(h.torsion):
            tors = ", torsion " + "; ".join(
                f"H_{k}: " + " + ".join(f"Z/{t}" for t in ts) for k, ts in enumerate(h.torsion) if ts)
        print(f"H_*({h.description}; {_RING[h.coefficients]}): "
              f"Betti numbers {tuple(h.betti)}{tors}")
        print(f"cells {tuple(h.f_vector)} of a complex with f-vector {K.f_vector}")
        print(f"{out['seconds']} s", file=sys.stderr)
    return 0


def analyze_section(ctx: Any) -> dict[str, Any]:
    """The ``analyze`` report section (a :class:`~exactcells.cli.analyze.AnalysisContext`):
    Betti numbers over Z/2 of the decision boundary ``F_j = 0`` (absolute and relative to the
    domain's boundary), of ``F_j >= 0`` and of ``F_j <= 0`` for every output ``j``, and the
    Betti curves of 5 seeded dimension-random filtrations of the hidden-neuron complex
    (``betti_curves.png``), whose maxima give back the f-vector."""
    from ..topology.homology import homology as _homology
    from ..topology.persistence import betti_curves, f_vector_from_betti_maxima
    from ..topology.plot import save_betti_curves_png
    from ..topology.subcomplex import decision_boundary, negative_region, positive_region

    t0 = time.perf_counter()
    R = ctx.refined
    outputs = []
    for j in range(ctx.network.output_dim):
        outputs.append({
            "output": j,
            "decision_boundary_betti": list(_homology(decision_boundary(R, j)).betti),
            "decision_boundary_relative_betti": list(
                _homology(named_subcomplex(R, "decision-boundary", output=j, relative=True)).betti),
            "positive_betti": list(_homology(positive_region(R, j)).betti),
            "negative_betti": list(_homology(negative_region(R, j)).betti),
        })
    C, _ = betti_curves(ctx.hidden, "dimension-random", seed=0, repeats=5)
    png = ctx.outdir / "betti_curves.png"
    save_betti_curves_png(
        C, png, force=ctx.force,
        title=f"Betti curves of the {ctx.network.architecture} complex, dimension-random "
              f"filtration ({C.repeats} seeds)")
    return {"topology": {
        "coefficients": "z2",
        "decision_boundary_betti": outputs[0]["decision_boundary_betti"],
        "positive_betti": outputs[0]["positive_betti"],
        "outputs": outputs,
        "betti_curves": {
            "file": "betti_curves.png",
            "filtration": "dimension-random",
            "seeds": list(C.seeds),
            "maxima": C.maxima[0].tolist(),
            "f_vector_from_maxima": list(f_vector_from_betti_maxima(C.maxima[0], C.final_betti)),
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }}
