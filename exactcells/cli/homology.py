"""``exactcells homology``: Betti numbers of the complex or of a subcomplex, exactly."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..build import build_complex
from ..complex import PolyhedralComplex
from ..domain import Domain
from ..errors import InvalidArgumentError, InvalidSubcomplexError
from ..network import Network
from ..topology.homology import COEFFICIENTS, homology
from ..topology.subcomplex import (
    SUBCOMPLEX_NAMES,
    named_subcomplex,
    parse_subcomplex_name,
    subcomplex_refinement,
)
from . import print_json
from .common import add_network_args, load_problem

__all__ = ["register", "run", "OUTPUT_SUBCOMPLEXES", "REFINEMENTS", "subcomplex_arg",
           "resolve_refinement", "build_for"]

# the subcomplexes defined by the output: the command builds the complex refined by it
OUTPUT_SUBCOMPLEXES = ("decision-boundary", "positive", "negative", "class:J", "boundary:I,J",
                       "junctions")
REFINEMENTS = ("zero", "argmax")
_RING = {"z2": "Z/2", "q": "Q", "z": "Z"}


def subcomplex_arg(text: str) -> str:
    """argparse ``type`` of ``--subcomplex``: a known name, ``class:J`` or ``boundary:I,J``."""
    import argparse

    try:
        parse_subcomplex_name(text)
    except InvalidSubcomplexError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def resolve_refinement(net: Network, refine: str | None, needed: str | None,
                       what: str, with_output: bool = False) -> str | None:
    """The output refinement to build with: ``refine`` (``--refine``) when given, else what
    ``what`` needs (``needed``), else ``None`` (no output refinement) unless ``with_output``.

    Raises a one-line :class:`InvalidArgumentError` when they conflict or when the argmax
    refinement is asked of a network with one output."""
    k = net.output_dim
    if refine is not None and refine not in REFINEMENTS:
        raise InvalidArgumentError(f"--refine {refine}: choose one of {', '.join(REFINEMENTS)}")
    if refine is not None and needed is not None and refine != needed:
        raise InvalidArgumentError(f"{what} needs --refine {needed}, not --refine {refine}")
    r = refine or needed
    if r is None and with_output:
        r = "argmax" if k >= 2 else "zero"
    if r == "argmax" and k < 2:
        asked = "--refine argmax" if refine is not None else f"{what} (the argmax refinement)"
        raise InvalidArgumentError(f"{asked} needs a network with at least 2 outputs (classes); "
                                   f"this one has {k}" + (": use --refine zero" if refine is not None else ""))
    return r


def build_for(net: Network, dom: Domain, refine: str | None, **kw: object) -> PolyhedralComplex:
    """``build_complex`` with the output refinement ``refine`` (``None``: hidden neurons only)."""
    if refine is None:
        return build_complex(net, dom, **kw)  # type: ignore[arg-type]
    return build_complex(net, dom, with_output=True, refine=refine, **kw)  # type: ignore[arg-type]


def _needed(name: str, net: Network, refine: str | None) -> str | None:
    """The refinement a subcomplex needs; the decision boundary takes either (``F_j = 0`` with
    ``--refine zero``, >= 2 maximizers with ``argmax``, the default for several outputs)."""
    if refine is not None and parse_subcomplex_name(name)[0] == "decision-boundary":
        return refine
    return subcomplex_refinement(name, net.output_dim)


def _check_classes(net: Network, name: str) -> None:
    head, nums = parse_subcomplex_name(name)
    k = net.output_dim
    for j in nums:
        if j >= k:
            raise InvalidSubcomplexError(f"--subcomplex {name}: class {j} does not exist (the network "
                                         f"has {k} outputs: classes 0..{k - 1})")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "homology", help="Betti numbers of the complex, the decision boundary or a region",
        description="Homology of the polyhedral complex of NETWORK, or of a closed subcomplex: "
                    "the domain boundary, the decision boundary (F = 0 for one output; >= 2 "
                    "maximizers of the argmax complex for several), the regions F >= 0 "
                    "(positive) and F <= 0 (negative), the class region class:J, the pairwise "
                    "boundary boundary:I,J and the junctions (>= 3 maximizers). Over Z/2 by PHAT, "
                    "over Q and Z (with torsion) by an exact Smith normal form.")
    add_network_args(p)
    p.add_argument("--subcomplex", type=subcomplex_arg, default="all", metavar="NAME",
                   help=f"what to compute the homology of: {', '.join(SUBCOMPLEX_NAMES)} (default: all)")
    p.add_argument("--refine", choices=REFINEMENTS, default=None,
                   help="output refinement: zero (F_j = 0) or argmax (F_i = F_j = max); default: "
                        "what the subcomplex needs (argmax for class:J, boundary:I,J, junctions and "
                        "the decision boundary of >= 2 outputs)")
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
    _check_classes(net, args.subcomplex)
    refine = resolve_refinement(net, args.refine, _needed(args.subcomplex, net, args.refine),
                                f"--subcomplex {args.subcomplex}")
    with_output = refine is not None
    K = build_for(net, dom, refine, max_cells=args.max_cells, progress=not args.no_progress)
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
        "refine": refine,
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
    domain's boundary), of ``F_j >= 0`` and of ``F_j <= 0`` for every output ``j`` (for an argmax
    complex instead: every class region, the decision boundary and the junctions), and the
    Betti curves of 5 seeded dimension-random filtrations of the hidden-neuron complex
    (``betti_curves.png``), whose maxima give back the f-vector."""
    from ..topology.homology import homology as _homology
    from ..topology.persistence import betti_curves, f_vector_from_betti_maxima
    from ..topology.plot import save_betti_curves_png
    from ..topology.subcomplex import (
        class_region,
        decision_boundary,
        junctions,
        negative_region,
        output_refinement,
        positive_region,
    )

    t0 = time.perf_counter()
    R = ctx.refined
    outputs = []
    classes: dict[str, Any] | None = None
    if output_refinement(R) == "argmax":
        k = ctx.network.output_dim
        J = junctions(R)
        classes = {
            "refine": "argmax",
            "class_betti": [list(_homology(class_region(R, j)).betti) for j in range(k)],
            "decision_boundary_betti": list(_homology(decision_boundary(R)).betti),
            "decision_boundary_relative_betti": list(
                _homology(named_subcomplex(R, "decision-boundary", relative=True)).betti),
            "junction_cells": list(J.f_vector),
            "junctions_betti": list(_homology(J).betti),
        }
    else:
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
    top: dict[str, Any] = {"coefficients": "z2"}
    if classes is not None:
        top.update(decision_boundary_betti=classes["decision_boundary_betti"], classes=classes)
    else:
        top.update(decision_boundary_betti=outputs[0]["decision_boundary_betti"],
                   positive_betti=outputs[0]["positive_betti"], outputs=outputs)
    return {"topology": {
        **top,
        "betti_curves": {
            "file": "betti_curves.png",
            "filtration": "dimension-random",
            "seeds": list(C.seeds),
            "maxima": C.maxima[0].tolist(),
            "f_vector_from_maxima": list(f_vector_from_betti_maxima(C.maxima[0], C.final_betti)),
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }}
