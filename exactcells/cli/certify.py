"""``exactcells certify`` and ``exactcells certify-claim``: certificates and verdicts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..build import build_complex
from ..certify import certify
from ..claims import judge_claim, load_claim
from ..complex import PolyhedralComplex, load_complex
from ..errors import FormatError
from ..numbers import float_view
from . import print_json
from .argtypes import cdd_count, positive_int
from .common import add_network_args, load_problem


def register(sub: Any) -> None:
    p = sub.add_parser("certify", help="build the complex and certify it independently",
                       description="Build the exact complex of NETWORK and certify it with "
                                   "independent exact checks. Exit code 0 only when certified.")
    add_network_args(p)
    p.add_argument("--with-output", action="store_true",
                   help="also cut by the output (zero sets for one output, argmax boundaries for several)")
    p.add_argument("--refine", choices=("zero", "argmax"), default=None,
                   help="the output refinement (implies --with-output): zero (F_j = 0) or argmax")
    p.add_argument("--no-volumes", action="store_true", help="skip the exact volume check")
    p.add_argument("--affine-dims", action="store_true",
                   help="also compare every cell's dimension with the exact rank of its vertices "
                        "(the structural checks already prove the dimensions)")
    p.add_argument("--interior-forward", action="store_true",
                   help="also recompute every top cell's interior sign vector by an exact forward "
                        "pass (Lemma B already proves it from the vertices)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="J",
                   help="processes for the exact volumes (default: 2 on a machine with 2 or more "
                        "cores for 1000+ regions; 1 keeps everything in this process)")
    p.add_argument("--cdd", type=cdd_count, default=0, metavar="K",
                   help="also recompute K top cells from scratch with cddlib (-1: all)")
    p.add_argument("--complex", metavar="FILE.npz|DIR", dest="complex_file",
                   help="certify this saved complex (exactcells .npz format or a sharded directory, gathered; e.g. from another "
                        "tool) against NETWORK and the domain, instead of building one")
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


def run_certify(args: argparse.Namespace) -> int:
    prob = load_problem(args)
    net, dom = prob.network, prob.domain
    if args.complex_file:
        loaded = load_complex(args.complex_file)
        # a sharded complex is gathered here (certification per shard is not implemented yet)
        L = loaded if isinstance(loaded, PolyhedralComplex) else loaded.to_complex()
        K = PolyhedralComplex(network=net, domain=dom, with_output=L.with_output,
                              output_refinement=L.output_refinement, dims=L.dims,
                              signs=L.signs, facet_indptr=L.facet_csr[0], facet_indices=L.facet_csr[1],
                              vertex_coords=[L.vertex_homogeneous(v) for v in range(L.f_vector[0])],
                              build_seconds=L.build_seconds)
    else:
        K = build_complex(net, dom, with_output=args.with_output or args.refine is not None,
                          refine=args.refine, progress=not args.no_progress)
    cdd = None if args.cdd < 0 else args.cdd
    cert = certify(K, volumes=not args.no_volumes, affine_dims=args.affine_dims,
                   interior_forward=args.interior_forward, cdd_regions=cdd, jobs=args.jobs,
                   progress=not args.no_progress)
    if args.json:
        out = cert.to_dict()
        out["build_seconds"] = round(K.build_seconds, 4)
        out["slice"] = prob.record
        print_json(out)
    else:
        print(cert.summary())
        print(f"build {K.build_seconds:.3f} s, certification {cert.seconds:.3f} s", file=sys.stderr)
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
