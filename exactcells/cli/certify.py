"""``exactcells certify`` and ``exactcells certify-claim``: certificates and verdicts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..build import build_complex
from ..certify import certify
from ..claims import judge_claim, load_claim
from ..complex import PolyhedralComplex, load_complex
from ..errors import FormatError, InvalidArgumentError
from ..numbers import float_view
from . import print_json
from .argtypes import cdd_count
from .common import add_network_args, jobs_arg, load_problem

#: ``--jobs auto`` certifies a sharded directory on a local Dask cluster from this many cells on
#: (below, shard by shard in this process, which holds one shard or one closure at a time)
SHARDED_AUTO_DASK_CELLS = 1_000_000


def register(sub: Any) -> None:
    p = sub.add_parser("certify", help="build the complex and certify it independently",
                       description="Build the exact complex of NETWORK and certify it with "
                                   "independent exact checks, or certify a saved complex "
                                   "(--complex; NETWORK may be a sharded directory, certified "
                                   "against the network and domain of its index). Exit code 0 "
                                   "only when certified.")
    add_network_args(p)
    p.add_argument("--with-output", action="store_true",
                   help="also cut by the output (zero sets for one output, argmax boundaries for several)")
    p.add_argument("--refine", choices=("zero", "argmax"), default=None,
                   help="the output refinement (implies --with-output): zero (F_j = 0) or argmax")
    vol = p.add_mutually_exclusive_group()
    vol.add_argument("--volumes", action="store_true",
                     help="also check that the exact volumes of the regions add up to the domain's "
                          "(an independent cross-check: the structural proof implies it; several "
                          "times slower)")
    vol.add_argument("--no-volumes", action="store_true",
                     help="no volume check (the default; kept for scripts written when it was on)")
    p.add_argument("--affine-dims", action="store_true",
                   help="also compare every cell's dimension with the exact rank of its vertices "
                        "(the structural checks already prove the dimensions)")
    p.add_argument("--interior-forward", action="store_true",
                   help="also recompute every top cell's interior sign vector by an exact forward "
                        "pass (Lemma B already proves it from the vertices)")
    p.add_argument("--jobs", type=jobs_arg, default=None, metavar="J|auto",
                   help="processes: with --volumes, J > 1 computes the exact volumes of all but "
                        "one group of regions as Dask tasks on a local cluster of J - 1 workers (a sharded "
                        "directory: every check as Dask tasks on J workers); 1 keeps everything "
                        "in this process; auto (default): one process unless the volumes are "
                        "expected to take 10 s or more (a sharded directory: a million cells)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the volume tasks of --volumes (a sharded directory: every check) on a running "
                        "Dask cluster (e.g. tcp://host:8786); its workers must see the directory")
    p.add_argument("--cdd", type=cdd_count, default=0, metavar="K",
                   help="also recompute K top cells from scratch with cddlib (-1: all)")
    p.add_argument("--complex", metavar="FILE.npz|DIR", dest="complex_file",
                   help="certify this saved complex (exactcells .npz format, e.g. from another tool, "
                        "or a sharded directory, certified shard by shard without being gathered) "
                        "against NETWORK and the domain, instead of building one")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run_certify)

    q = sub.add_parser("certify-claim", help="judge a decomposition claimed by another tool",
                       description="Compare CLAIM (JSON: {\"regions\": [{\"pattern\": \"0110...\"}, ...]}, "
                                   "see exactcells.claims) with the exact complex of NETWORK. "
                                   "Exit code 0 when the claim is exactly right, 1 otherwise.")
    add_network_args(q)
    q.add_argument("claim", help="claim JSON file")
    q.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    q.set_defaults(func=run_claim)


def _sharded_dir(path: str | None) -> Path | None:
    """``path`` when it is a directory (a sharded complex; its index is read later)."""
    return Path(path) if path is not None and Path(path).is_dir() else None


def run_certify(args: argparse.Namespace) -> int:
    positional = _sharded_dir(args.network)
    if positional is not None:
        if args.complex_file:
            raise InvalidArgumentError(f"{args.network} is a directory: give a network file with --complex, "
                                       "or certify the sharded directory alone")
        given = [f"--{k.replace('_', '-')}" for k in ("box", "domain", "round_denominator", "plane", "slice",
                                                       "around", "ambient_box", "ambient_domain")
                 if getattr(args, k, None) is not None]
        if given:
            raise InvalidArgumentError(f"{args.network} is a sharded complex whose index holds its network and "
                                       f"domain: {', '.join(given)} cannot be used with it (pass NETWORK "
                                       "--complex DIR to certify it against another network or domain)")
        return _certify_sharded(args, positional, None)
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    directory = _sharded_dir(args.complex_file)
    if directory is not None:
        return _certify_sharded(args, directory, prob)
    if args.complex_file:
        L = load_complex(args.complex_file)
        assert isinstance(L, PolyhedralComplex)  # a directory was handled above
        K = PolyhedralComplex(network=net, domain=dom, with_output=L.with_output,
                              output_refinement=L.output_refinement, dims=L.dims,
                              signs=L.signs, facet_indptr=L.facet_csr[0], facet_indices=L.facet_csr[1],
                              vertex_coords=[L.vertex_homogeneous(v) for v in range(L.f_vector[0])],
                              build_seconds=L.build_seconds)
    else:
        K = build_complex(net, dom, with_output=args.with_output or args.refine is not None,
                          refine=args.refine, progress=not args.no_progress)
    cdd = None if args.cdd < 0 else args.cdd
    cert = certify(K, volumes=args.volumes, affine_dims=args.affine_dims,
                   interior_forward=args.interior_forward, cdd_regions=cdd, jobs=args.jobs,
                   progress=not args.no_progress, scheduler=args.scheduler)
    if args.json:
        out = cert.to_dict()
        out["build_seconds"] = round(K.build_seconds, 4)
        out["slice"] = prob.record
        print_json(out)
    else:
        print(cert.summary())
        print(f"build {K.build_seconds:.3f} s, certification {cert.seconds:.3f} s", file=sys.stderr)
    return 0 if cert.certified else 1


def _certify_sharded(args: argparse.Namespace, path: Path, prob: Any) -> int:
    """Certify a sharded directory without gathering it: shard by shard in this process
    (:func:`exactcells.shards.certify_shards`) or as Dask tasks
    (:func:`exactcells.parallel.certify_on_cluster`); the same report and exit codes as the
    one-process certificate. With ``prob`` (NETWORK --complex DIR) the index's network and
    domain must be exactly NETWORK's and the domain given, else the complex is not certified."""
    import os

    from ..shards import load_sharded, sharded_certificate

    unsupported = [flag for flag, on in (("--cdd", args.cdd != 0), ("--affine-dims", args.affine_dims),
                                         ("--interior-forward", args.interior_forward)) if on]
    if unsupported:
        raise InvalidArgumentError(f"{', '.join(unsupported)}: not available on a sharded directory ({path}); "
                                   "the sharded certificate runs every default check of the one-process "
                                   "certificate (README, 'Several processes, several machines'); for these opt-in checks "
                                   "certify a gathered copy that fits in memory (--complex FILE.npz)")
    t0 = time.perf_counter()
    S = load_sharded(path)
    mismatch = _index_mismatch(S, prob)
    if mismatch is not None:
        cert = _not_this_network(S, mismatch, time.perf_counter() - t0)
        return _report_sharded(args, path, S, cert, "")
    jobs = args.jobs
    if jobs is None and args.scheduler is None:
        cores = os.cpu_count() or 1
        jobs = min(cores, 8) if S.num_cells >= SHARDED_AUTO_DASK_CELLS and cores >= 2 else 1
        if jobs > 1:
            sys.stderr.write(f"exactcells: {S.num_cells:,} cells in {S.partitions} shards: certifying on a local "
                             f"Dask cluster of {jobs} workers (--jobs 1 for one process)\n")
    volumes = args.volumes
    if args.scheduler is not None or (jobs is not None and jobs > 1):
        from ..parallel import certify_on_cluster, cluster

        with cluster(jobs or 2, args.scheduler, announce=not args.no_progress) as client:
            result = certify_on_cluster(path, client, volumes=volumes)
    else:
        from ..shards import certify_shards

        result = certify_shards(path, volumes=volumes)
    cert = sharded_certificate(S, result, time.perf_counter() - t0)
    return _report_sharded(args, path, S, cert, result["not_checked"])


def _index_mismatch(S: Any, prob: Any) -> str | None:
    if prob is None:
        return None
    if S.network.to_dict() != prob.network.to_dict():
        return (f"the index of {S.path} holds a different network than the one given (exact weights "
                f"compared; architectures {S.network.architecture} and {prob.network.architecture})")
    if S.domain.to_dict() != prob.domain.to_dict():
        return f"the index of {S.path} holds another domain ({S.domain.describe()}) than {prob.domain.describe()}"
    return None


def _not_this_network(S: Any, message: str, seconds: float) -> Any:
    from ..certify import Certificate, CheckResult, Failure

    f = tuple(S.f_vector)
    return Certificate(certified=False, checks=(CheckResult("index", False, 1, 1, seconds, message),),
                       failures=(Failure("format", None, None, None, "", "", message),),
                       failure_counts={"format": 1}, f_vector=f, num_cells=sum(f),
                       euler_characteristic=sum((-1) ** k * x for k, x in enumerate(f)), total_volume=None,
                       domain_volume=None, cdd_regions_checked=0, seconds=seconds,
                       architecture=S.network.architecture, domain=S.domain.describe(),
                       with_output=S.output_refinement is not None)


def _report_sharded(args: argparse.Namespace, path: Path, S: Any, cert: Any, not_checked: str) -> int:
    if args.json:
        out = cert.to_dict()
        out["build_seconds"] = None
        out["slice"] = None
        out["sharded"] = str(path)
        out["shards"] = S.partitions
        out["not_checked"] = not_checked
        print_json(out)
    else:
        print(cert.summary())
        if not_checked:
            print(f"not checked on shards: {not_checked}")
        print(f"{S.partitions} shards, certification {cert.seconds:.3f} s", file=sys.stderr)
    return 0 if cert.certified else 1


def run_claim(args: argparse.Namespace) -> int:
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    claim = load_claim(args.claim)
    K = build_complex(net, dom, progress=not args.no_progress)
    try:
        verdict = judge_claim(K, claim)
    except FormatError as e:
        raise FormatError(f"{args.claim}: {e}") from None
    if args.json:
        print_json(verdict.to_dict() | {"slice": prob.record})
    else:
        print(verdict.summary())
        for m in verdict.missing[:20]:
            print(f"  missing {m.pattern}: volume {float_view(m.volume):.3g}, interior point "
                  f"({', '.join(f'{float_view(x):.4g}' for x in m.interior_point)})")
    return 0 if verdict.exact else 1
