"""``exactcells cells``: build the complex, print its counts, optionally save it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..build import build_complex
from ..errors import InvalidArgumentError
from ..io import check_writable
from ..parallel import DEFAULT_PARTITIONS
from . import print_json
from .common import add_network_args, choose_jobs, count, jobs_arg, load_problem


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
    p.add_argument("--jobs", type=jobs_arg, default=None, metavar="J|auto",
                   help="worker processes: J > 1 runs the build as Dask tasks on a local cluster "
                        "of J workers, 1 is one process without Dask; auto (the default) is one "
                        "process unless the one-process build is expected to need 6 GiB or more "
                        "(or half the machine's memory; see README, 'Several processes')")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the build on a running Dask cluster (e.g. tcp://host:8786)")
    p.add_argument("--out", metavar="DIR",
                   help="write the complex as a sharded directory (index.json + one file per partition)")
    p.add_argument("--partitions", type=int, default=None,
                   help=f"partitions of the sharded complex (default {DEFAULT_PARTITIONS})")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    from pathlib import Path

    from ..complex import PolyhedralComplex
    from ..shards import ShardedComplex, check_out_dir, load_sharded, write_shards

    if args.max_cells is not None and args.max_cells < 0:
        raise InvalidArgumentError(f"--max-cells must be non-negative, got {args.max_cells}")
    parts = DEFAULT_PARTITIONS if args.partitions is None else args.partitions
    if parts < 1:
        raise InvalidArgumentError(f"--partitions must be at least 1, got {parts}")
    if args.partitions is not None and not args.out:
        raise InvalidArgumentError("--partitions needs --out DIR")
    if args.save:
        check_writable(Path(args.save), args.force)
    if args.out:
        check_out_dir(Path(args.out), args.force)
    with_output = args.with_output or args.refine is not None
    extra = {"slice": prob.record} if prob.record is not None else None
    K: PolyhedralComplex | ShardedComplex
    jobs = 1 if args.scheduler else choose_jobs(args.jobs, net, dom.dim, with_output, args.refine,
                                                args.max_cells)
    if jobs > 1 or args.scheduler:
        from ..parallel import build_on_cluster, cluster

        with cluster(jobs, args.scheduler) as client:
            K = build_on_cluster(net, dom, client=client, with_output=with_output, refine=args.refine,
                                 max_cells=args.max_cells, partitions=parts,
                                 out=args.out, force=args.force, progress=not args.no_progress)
    else:
        K = build_complex(net, dom, with_output=with_output, refine=args.refine, max_cells=args.max_cells,
                          progress=not args.no_progress)
        if args.out:
            write_shards(K, args.out, parts, force=args.force)
    if args.save:
        if not isinstance(K, PolyhedralComplex):
            K = K.to_complex()
        K.save(args.save, force=args.force, extra_meta=extra)
    if args.out and isinstance(K, PolyhedralComplex):
        K = load_sharded(args.out)
    out = K.summary()
    if prob.record is not None:
        out["slice"] = prob.record
    out["seconds"] = round(time.perf_counter() - t0, 4)
    if isinstance(K, PolyhedralComplex):
        out["build_seconds"] = round(K.build_seconds, 4)
    if args.save:
        out["saved"] = str(args.save)
    if args.out:
        out["sharded"] = str(args.out)
    if args.json:
        print_json(out)
    else:
        where = out["domain"] if prob.slice is None else f"{out['domain']} in {prob.slice.describe()}"
        print(f"network {prob.original.architecture if prob.slice else out['architecture']} on {where}"
              f"{f' (refined by the output: {K.output_refinement})' if with_output else ''}")
        print(f"f-vector {tuple(out['f_vector'])}, {count(out['num_regions'], 'region')}, "
              f"{count(out['num_cells'], 'cell')}, Euler characteristic {out['euler_characteristic']}")
        print(f"{out['seconds']} s", file=sys.stderr)
    return 0
