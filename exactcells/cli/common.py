"""Options and helpers shared by the commands."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..domain import Domain, load_domain
from ..errors import InvalidArgumentError, InvalidDomainError
from ..network import Network, load_network, round_network
from ..numbers import to_rational

__all__ = ["add_network_args", "network_and_domain", "default_network_path"]


def default_network_path() -> Path:
    """The bundled default network (a small trained 2-D classifier)."""
    return Path(str(resources.files("exactcells") / "data" / "default_network.json"))


def add_network_args(p: argparse.ArgumentParser, optional_network: bool = False) -> None:
    if optional_network:
        p.add_argument("network", nargs="?", help="network file (.json, .npz, .pt); default: bundled")
    else:
        p.add_argument("network", help="network file (.json, .npz, .pt)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"),
                   help="the box [LO, HI]^n (exact: '-1', '1/2', '0.1'); default [-1, 1]^n")
    g.add_argument("--domain", metavar="FILE", help='domain JSON {"A": [...], "c": [...]} for A x <= c')
    p.add_argument("--round", type=int, metavar="Q", dest="round_denominator",
                   help="opt-in: round weights to fractions with denominator <= Q (recorded)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a .pt file holding a whole pickled module: unpickling runs code "
                        "from the file, so only for files you made yourself (a state_dict needs "
                        "no trust)")


def network_and_domain(args: argparse.Namespace) -> tuple[Network, Domain]:
    path = getattr(args, "network", None) or default_network_path()
    net = load_network(path, trust=bool(getattr(args, "trust_pickle", False)))
    if getattr(args, "round_denominator", None) is not None:
        try:
            net = round_network(net, args.round_denominator)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"--round: {e}") from None
    if getattr(args, "domain", None):
        dom = load_domain(args.domain)
    elif getattr(args, "box", None):
        lo = to_rational(args.box[0], "--box LO")
        hi = to_rational(args.box[1], "--box HI")
        if lo >= hi:
            raise InvalidDomainError(f"--box: LO = {args.box[0]} is not below HI = {args.box[1]}")
        dom = Domain.box(net.input_dim, lo, hi)
    else:
        dom = Domain.box(net.input_dim)
    if dom.dim != net.input_dim:
        raise InvalidDomainError(
            f"the domain lives in R^{dom.dim} but the network takes {net.input_dim} inputs"
        )
    return net, dom
