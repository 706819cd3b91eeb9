"""``exactcells cells``: build the complex, print its counts, optionally save it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..build import build_complex
from ..io import check_writable
from . import print_json
from .argtypes import positive_int
from .common import add_network_args, load_problem


def register(sub: Any) -> None:
    p = sub.add_parser("cells", help="every cell of every dimension, exactly",
                       description="Build the exact polyhedral complex of NETWORK on the domain.")
    add_network_args(p)
    p.add_argument("--with-output", action="store_true",
                   help="also cut by the output (the decision boundary): zero sets for one output, "
                        "argmax boundaries F_i = F_j = max for several (see --refine)")
    p.add_argument("--refine", choices=("zero", "argmax"), default=None,
                   help="the output refinement (implies --with-output): zero (F_j = 0) or argmax")
    p.add_argument("--save", metavar="PATH", help="write the complex (.npz format, see README)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --save file")
    p.add_argument("--max-cells", type=int, default=None, help="stop cleanly beyond this many cells")
    p.add_argument("--jobs", type=positive_int, default=1, help="worker processes (independent units, merged)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    if args.save:
        from pathlib import Path

        check_writable(Path(args.save), args.force)
    with_output = args.with_output or args.refine is not None
    K = build_complex(net, dom, with_output=with_output, refine=args.refine, max_cells=args.max_cells,
                      progress=not args.no_progress, jobs=args.jobs)
    extra = {"slice": prob.record} if prob.record is not None else None
    if args.save:
        K.save(args.save, force=args.force, extra_meta=extra)
    out = K.summary()
    if prob.record is not None:
        out["slice"] = prob.record
    out["seconds"] = round(time.perf_counter() - t0, 4)
    out["build_seconds"] = round(K.build_seconds, 4)
    if args.save:
        out["saved"] = str(args.save)
    if args.json:
        print_json(out)
    else:
        where = out["domain"] if prob.slice is None else f"{out['domain']} in {prob.slice.describe()}"
        print(f"network {prob.original.architecture if prob.slice else out['architecture']} on {where}"
              f"{f' (refined by the output: {K.output_refinement})' if with_output else ''}")
        print(f"f-vector {tuple(out['f_vector'])}, {out['num_regions']} regions, "
              f"{out['num_cells']} cells, Euler characteristic {out['euler_characteristic']}")
        print(f"{out['seconds']} s", file=sys.stderr)
    return 0
