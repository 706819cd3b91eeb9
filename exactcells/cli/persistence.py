"""``exactcells persistence``: persistence diagrams and Betti curves of filtrations of the complex."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputPathError
from ..io import atomic_output, atomic_write_text, check_writable, prepare_output_dir
from ..topology.filtrations import FILTRATION_KINDS
from ..topology.persistence import betti_curves, f_vector_from_betti_maxima
from ..topology.phat_adapter import ALGORITHMS
from ..topology.plot import save_betti_curves_png, save_diagram_png
from ..topology.subcomplex import SUBCOMPLEX_NAMES, Subcomplex, named_subcomplex
from . import print_json
from .common import add_network_args, load_problem
from .homology import REFINEMENTS, _check_classes, _needed, build_for, resolve_refinement, subcomplex_arg

__all__ = ["register", "run", "FILES"]

FILES = ("diagrams.json", "diagrams.npz", "betti_curves.png", "diagram.png")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "persistence", help="persistence diagrams and Betti curves of a filtration of the complex",
        description="Filter the polyhedral complex of NETWORK (by dimension in random order, by a "
                    "random linear extension of the face poset, by the network output, by the "
                    "classification margin or by a class score F_J - max of the others), "
                    "compute persistence over Z/2 with PHAT, and write diagrams.json (exact "
                    "pairs), diagrams.npz (float diagrams and Betti curves), betti_curves.png "
                    "and diagram.png into DIR.")
    add_network_args(p, seed_alias=False)
    p.add_argument("--filtration", choices=FILTRATION_KINDS, default="dimension-random",
                   help="the filtration (default: dimension-random)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first repeat (default 0)")
    p.add_argument("--repeats", type=int, default=1, metavar="R",
                   help="random filtrations with seeds S .. S+R-1; the curves are averaged")
    p.add_argument("-o", "--output", default="exactcells-persistence", metavar="DIR",
                   help="output folder (default: ./exactcells-persistence)")
    p.add_argument("--force", action="store_true", help="overwrite files in an existing folder")
    p.add_argument("--subcomplex", type=subcomplex_arg, default="all", metavar="NAME",
                   help=f"filter this subcomplex: {', '.join(SUBCOMPLEX_NAMES)} (default: all)")
    p.add_argument("--with-output", action="store_true",
                   help="use the complex refined by the output (zero sets for one output, argmax "
                        "boundaries for several; see --refine)")
    p.add_argument("--refine", choices=REFINEMENTS, default=None,
                   help="output refinement: zero (F_j = 0) or argmax (F_i = F_j = max); the margin "
                        "and class-score filtrations use argmax")
    p.add_argument("--output-index", type=int, default=0, metavar="J",
                   help="the output neuron of output filtrations and subcomplexes, the class of "
                        "class-score-lower-star (default 0)")
    p.add_argument("--algorithm", choices=ALGORITHMS, default="twist",
                   help="PHAT reduction: twist (with clearing) or its dualized form")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    from ..errors import InvalidFiltrationError

    if args.repeats < 1:
        raise InvalidFiltrationError("--repeats must be at least 1")
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise OutputPathError(f"cannot use {outdir} as the output folder: it is a file, not a folder")
    for name in FILES:
        check_writable(outdir / name, args.force)
    _check_classes(net, args.subcomplex)
    needed = _needed(args.subcomplex, net, args.refine)
    what = f"--subcomplex {args.subcomplex}"
    if args.filtration in ("margin-lower-star", "class-score-lower-star"):
        if needed == "zero":
            raise InvalidFiltrationError(f"--filtration {args.filtration} lives on the argmax complex; "
                                         f"{what} needs the zero refinement")
        needed, what = "argmax", f"--filtration {args.filtration}"
        if args.filtration == "class-score-lower-star" and not 0 <= args.output_index < net.output_dim:
            raise InvalidFiltrationError(f"--output-index {args.output_index}: class does not exist "
                                         f"(the network has {net.output_dim} outputs)")
    refine = resolve_refinement(net, args.refine, needed, what, with_output=args.with_output)
    K = build_for(net, dom, refine, progress=not args.no_progress)
    S = named_subcomplex(K, args.subcomplex, output=args.output_index)
    assert isinstance(S, Subcomplex)
    C, P = betti_curves(S, args.filtration, seed=args.seed, repeats=args.repeats,
                        output=args.output_index, algorithm=args.algorithm,
                        progress=not args.no_progress)
    dgms = P.diagrams()
    summary: dict[str, Any] = {
        "filtration": args.filtration,
        "subcomplex": S.name,
        "seeds": list(C.seeds),
        "repeats": C.repeats,
        "algorithm": args.algorithm,
        "final_betti": list(C.final_betti),
        "betti_maxima": C.maxima.tolist(),
        "mean_betti_maxima": C.maxima.mean(axis=0).tolist(),
        "num_points": [len(d) for d in dgms],
        "f_vector": list(S.f_vector),
        "refine": refine,
        "complex": K.summary(),
        "slice": prob.record,
    }
    if P.filtration.uncertified is not None:
        summary["uncertified_cells"] = P.filtration.uncertified
    if P.filtration.refined is not None:  # cells cut by the top-two refinement (exact margins)
        summary["refined_cells"] = P.filtration.refined
    if args.filtration == "dimension-random":
        summary["f_vector_from_betti_maxima"] = [
            list(f_vector_from_betti_maxima(m, C.final_betti)) for m in C.maxima]
    prepare_output_dir(outdir)
    record = dict(summary, diagram=P.to_dict(), betti_curves=C.to_dict())
    atomic_write_text(outdir / "diagrams.json", json.dumps(record) + "\n", force=args.force)
    arrays: dict[str, np.ndarray] = {f"dgm_{k}": d for k, d in enumerate(dgms)}
    arrays.update(betti_grid=C.grid, betti_mean=C.mean, betti_std=C.std, betti_min=C.min,
                  betti_max=C.max, betti_maxima=C.maxima)
    with atomic_output(outdir / "diagrams.npz", force=args.force) as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    title = f"{net.architecture} on {dom.describe()}, {S.name}"
    save_betti_curves_png(C, outdir / "betti_curves.png", force=args.force,
                          title=f"Betti curves, {args.filtration}"
                                + (f" ({C.repeats} seeds)" if C.repeats > 1 else "") + f"\n{title}")
    save_diagram_png(P, outdir / "diagram.png", force=args.force,
                     title=f"{P.filtration.describe()}\n{title}")
    summary["files"] = [str(outdir / n) for n in FILES]
    summary["seconds"] = round(time.perf_counter() - t0, 4)
    if args.json:
        print_json(summary)
    else:
        print(f"{args.filtration} filtration of the {S.name} ({S.num_cells} cells), "
              f"{C.repeats} repeat(s): final Betti numbers {tuple(C.final_betti)}")
        print(f"Betti-curve maxima (mean): {tuple(round(x, 3) for x in summary['mean_betti_maxima'])}")
        print(f"wrote {', '.join(FILES)} into {outdir}", file=sys.stderr)
    return 0
