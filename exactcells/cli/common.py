"""Options and helpers shared by the commands.

Every command that builds a complex takes the network, a domain (``--box`` or ``--domain``) and
optionally a slice (``--plane``, ``--slice`` or ``--around``, with ``--ambient-box`` or
``--ambient-domain``): :func:`add_network_args` adds them and :func:`load_problem` reads them
into a :class:`Problem` -- the network to build (restricted to the slice when there is one), the
domain (in slice coordinates then) and the slice's record.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from ..domain import (
    MAX_DOMAIN_DIM,
    Domain,
    DomainTooLargeError,
    load_domain,
    load_halfspaces,
    too_large_message,
)
from ..errors import InvalidArgumentError, InvalidDomainError
from ..network import Network, load_network, round_network
from ..numbers import format_rational, to_rational
from ..slicing import (
    InvalidSliceError,
    Slice,
    around_point,
    axis_plane,
    exact_row,
    load_plane,
    load_point,
    load_slice,
    plane_domain,
    plane_through,
    read_points,
)

__all__ = ["add_network_args", "network_and_domain", "load_problem", "Problem", "default_network_path"]


def count(n: int, noun: str) -> str:
    """``n`` and the noun, singular for one: ``count(1, "region") == "1 region"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def default_network_path() -> Path:
    """The bundled default network (a small trained 2-D classifier)."""
    return Path(str(resources.files("exactcells") / "data" / "default_network.json"))


def add_network_args(p: argparse.ArgumentParser, optional_network: bool = False, seed_alias: bool = True) -> None:
    """The network, the domain and the slice options.

    ``seed_alias``: also accept ``--seed`` for ``--around-seed`` (commands with a ``--seed`` of
    their own pass ``False``).
    """
    if optional_network:
        p.add_argument("network", nargs="?", help="network file (.json, .npz, .pt, .onnx); default: bundled")
    else:
        p.add_argument("network", help="network file (.json, .npz, .pt, .onnx)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"),
                   help="the box [LO, HI]^n (exact: '-1', '1/2', '0.1'); default [-1, 1]^n; with a "
                        "slice: the box in slice coordinates")
    g.add_argument("--domain", metavar="FILE",
                   help='domain JSON {"A": [...], "c": [...]} for A x <= c (in slice coordinates with a slice)')
    p.add_argument("--round", type=int, metavar="Q", dest="round_denominator",
                   help="opt-in: round weights to fractions with denominator <= Q (recorded)")
    p.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true",
                   help="no progress bars on stderr (they are shown only when stderr is a terminal)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a .pt file holding a whole pickled module: unpickling runs code "
                        "from the file, so only for files you made yourself (a state_dict needs "
                        "no trust)")
    s = p.add_argument_group("slices (for high-dimensional inputs; the ambient domain is never enumerated)")
    sg = s.add_mutually_exclusive_group()
    sg.add_argument("--plane", metavar="FILE",
                    help="the plane through three points p0, p1, p2 (JSON list, .npy (3, n), CSV): "
                         "(s, t) -> p0 + s (p1 - p0) + t (p2 - p0); default box [-1/2, 3/2]^2")
    sg.add_argument("--slice", metavar="FILE",
                    help='a 1-, 2- or 3-D slice: JSON {"origin": [...], "directions": [[...], ...]}; '
                         "default box [-1, 1]^k")
    sg.add_argument("--around", metavar="POINT_FILE",
                    help="the box [-R, R]^k around a point in a k-dimensional subspace (needs --radius)")
    s.add_argument("--radius", metavar="R", help="half-width of the --around box (exact, > 0)")
    s.add_argument("--dims", type=int, default=2, metavar="K", help="dimension of the --around box (1-3; default 2)")
    s.add_argument("--directions", default="gaussian", metavar="KIND",
                   help="--around directions: gaussian (default; seeded, unit length, recorded exactly), "
                        "coordinate (seeded random input axes) or a JSON file with K directions")
    seed_flags = ["--around-seed", "--seed"] if seed_alias else ["--around-seed"]
    s.add_argument(*seed_flags, type=int, default=0, dest="around_seed", metavar="S",
                   help="seed of random --around directions (default 0)")
    ag = s.add_mutually_exclusive_group()
    ag.add_argument("--ambient-box", nargs=2, metavar=("LO", "HI"),
                    help="also intersect the slice with the input box [LO, HI]^n (e.g. 0 1 for pixels)")
    ag.add_argument("--ambient-domain", metavar="FILE",
                    help="also intersect the slice with this input-space domain JSON (not enumerated)")


@dataclass(frozen=True)
class Problem:
    """What a command builds: the network and domain (restricted to the slice when there is one)."""

    network: Network  # the network to build (the restricted one on a slice)
    domain: Domain  # in slice coordinates on a slice
    original: Network  # the network as loaded (and rounded)
    slice: Slice | None = None
    record: dict[str, Any] | None = None  # the slice's record (None without a slice)
    note: str | None = None  # a sentence when exactcells picked the slice

    @property
    def marks(self) -> list[tuple[str, tuple[Fraction, ...]]]:
        return self.slice.marks() if self.slice is not None else []


def _rational(text: str, what: str) -> Fraction:
    return to_rational(text, what)


def _box_bounds(args_box: list[str], what: str) -> tuple[Fraction, Fraction]:
    lo = _rational(args_box[0], f"{what} LO")
    hi = _rational(args_box[1], f"{what} HI")
    if lo >= hi:
        raise InvalidDomainError(f"{what}: LO = {args_box[0]} is not below HI = {args_box[1]}")
    return lo, hi


def _has_slice(args: argparse.Namespace) -> bool:
    return any(getattr(args, a, None) for a in ("plane", "slice", "around"))


def _load_net(args: argparse.Namespace) -> Network:
    path = getattr(args, "network", None) or default_network_path()
    net = load_network(path, trust=bool(getattr(args, "trust_pickle", False)))
    if getattr(args, "round_denominator", None) is not None:
        try:
            net = round_network(net, args.round_denominator)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"--round: {e}") from None
    return net


def _read_slice(args: argparse.Namespace, n: int) -> Slice:
    if args.plane:
        return load_plane(args.plane, n)
    if args.slice:
        sl = load_slice(args.slice)
        if sl.ambient_dim != n:
            raise InvalidSliceError(f"{args.slice}: the slice lives in R^{sl.ambient_dim} but the network "
                                    f"takes {n} inputs")
        return sl
    if args.radius is None:
        raise InvalidSliceError("--around needs --radius R")
    centre = load_point(args.around, n)
    radius = _rational(args.radius, "--radius")
    dirs: Any = args.directions
    if dirs not in ("gaussian", "coordinate"):
        import json

        try:
            dirs = json.loads(Path(dirs).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise InvalidSliceError(f"--directions: {dirs!r} is neither gaussian, coordinate nor a "
                                    f"readable JSON file of directions ({e})") from None
        if isinstance(dirs, dict):
            dirs = dirs.get("directions")
        if not isinstance(dirs, list) or not all(isinstance(d, list) for d in dirs):
            raise InvalidSliceError(f"--directions {args.directions}: expected a JSON list of directions")
        if any(len(d) != n for d in dirs):
            raise InvalidSliceError(f"--directions {args.directions}: a direction does not have {n} coordinates")
    return around_point(centre, radius, args.dims, directions=dirs, seed=args.around_seed,
                        source=str(args.around))


def _base_domain(args: argparse.Namespace, sl: Slice) -> Domain:
    k = sl.dim
    if sl.kind == "around":
        if args.box or args.domain:
            raise InvalidArgumentError("--around takes --radius R for its box, not --box or --domain")
        assert sl.radius is not None
        return Domain.box(k, -sl.radius, sl.radius)
    if args.domain:
        return load_domain(args.domain)
    if args.box:
        lo, hi = _box_bounds(args.box, "--box")
        return Domain.box(k, lo, hi)
    if sl.kind == "plane":
        return Domain.box(k, Fraction(-1, 2), Fraction(3, 2))
    return Domain.box(k, -1, 1)


def _ambient(args: argparse.Namespace, sl: Slice) -> tuple[Any, dict[str, Any] | None, str]:
    if getattr(args, "ambient_box", None):
        lo, hi = _box_bounds(args.ambient_box, "--ambient-box")
        n = sl.ambient_dim
        rows = sl.box_pullback([lo] * n, [hi] * n)
        return rows, {"box": [format_rational(lo), format_rational(hi)]}, \
            f"the ambient box [{format_rational(lo)}, {format_rational(hi)}]^{n}"
    if getattr(args, "ambient_domain", None):
        A, c = load_halfspaces(args.ambient_domain)
        if A and len(A[0]) != sl.ambient_dim:
            raise InvalidDomainError(f"--ambient-domain {args.ambient_domain}: the domain lives in "
                                     f"R^{len(A[0])} but the network takes {sl.ambient_dim} inputs")
        return sl.pullback(A, c), {"file": str(args.ambient_domain), "rows": len(A)}, \
            f"the ambient domain {args.ambient_domain}"
    return None, None, ""


def _default_plane(args: argparse.Namespace, net: Network) -> tuple[Slice, Domain, Any, dict[str, Any] | None, str]:
    """The plane ``analyze`` picks for a high-dimensional network: through three training points
    (``--points``) when given, else through the centre of the box spanned by ``x1`` and ``x2``."""
    n = net.input_dim
    if getattr(args, "domain", None):
        raise DomainTooLargeError(too_large_message(n))
    lo, hi = _box_bounds(args.box, "--box") if args.box else (Fraction(-1), Fraction(1))
    points_file = getattr(args, "points", None)
    if points_file:
        raw = read_points(points_file)
        chosen = _independent_triple(raw, n, points_file)
        pts = [exact_row(raw[i], f"{points_file}: point {i}") for i in chosen]
        sl = plane_through(pts[0], pts[1], pts[2], source=f"training points {chosen[0]}, {chosen[1]}, "
                                                                f"{chosen[2]} of {points_file}")
        note = (f"picked the plane through training points {chosen[0]}, {chosen[1]} and {chosen[2]} "
                f"(0-based) of {points_file}")
        rows = None
        amb: dict[str, Any] | None = None
        if args.box:
            rows = sl.box_pullback([lo] * n, [hi] * n)
            amb = {"box": [format_rational(lo), format_rational(hi)]}
            note += f", inside [{format_rational(lo)}, {format_rational(hi)}]^{n}"
        return sl, Domain.box(2, Fraction(-1, 2), Fraction(3, 2)), rows, amb, note
    sl, dom = axis_plane([lo] * n, [hi] * n)
    note = f"picked the plane {sl.source} of [{format_rational(lo)}, {format_rational(hi)}]^{n}"
    return sl, dom, None, None, note


def _independent_triple(raw: Any, n: int, where: str) -> tuple[int, int, int]:
    """The first three affinely independent points (0-based indices): the first point, the
    first one different from it, the first one off the line through both."""
    from ..geometry import affine_rank

    if len(raw) == 0:
        raise InvalidSliceError(f"{where}: no training points")

    def pt(i: int) -> tuple[Fraction, ...]:
        row = raw[i]
        if len(row) != n:
            raise InvalidSliceError(f"{where}: point {i} has {len(row)} coordinates but the network takes {n} inputs")
        return exact_row(row, f"{where}: point {i}")

    first = pt(0)
    second = next((j for j in range(1, len(raw)) if pt(j) != first), None)
    if second is not None:
        p1 = pt(second)
        for j in range(second + 1, len(raw)):
            if affine_rank([first, p1, pt(j)]) == 2:
                return 0, second, j
    raise InvalidSliceError(f"{where}: the training points are collinear (no plane through three of them)")


def load_problem(args: argparse.Namespace, default_plane: bool = False) -> Problem:
    """Read the network, the domain and the slice options.

    Without a slice, a network above :data:`~exactcells.domain.MAX_DOMAIN_DIM` inputs is refused
    at once, unless ``default_plane`` (``analyze``): then a plane is picked and said.
    """
    net = _load_net(args)
    n = net.input_dim
    ambient_opts = getattr(args, "ambient_box", None) or getattr(args, "ambient_domain", None)
    if not _has_slice(args):
        if ambient_opts:
            raise InvalidArgumentError("--ambient-box and --ambient-domain need a slice (--plane, --slice or --around)")
        if getattr(args, "radius", None) is not None:
            raise InvalidArgumentError("--radius needs --around POINT_FILE")
        if n > MAX_DOMAIN_DIM:
            if not default_plane:
                raise DomainTooLargeError(f"the network takes {n} inputs: {too_large_message(n)}")
            sl, base, rows, amb, note = _default_plane(args, net)
            dom = plane_domain(sl, base, rows, "the box")
            return _sliced(net, sl, dom, amb, note)
        return Problem(net, _full_domain(args, net), net)
    sl = _read_slice(args, n)
    base = _base_domain(args, sl)
    rows, amb, name = _ambient(args, sl)
    dom = plane_domain(sl, base, rows, name)
    return _sliced(net, sl, dom, amb, None)


def _sliced(net: Network, sl: Slice, dom: Domain, ambient: dict[str, Any] | None, note: str | None) -> Problem:
    record = sl.to_dict()
    record["network_architecture"] = net.architecture
    record["domain"] = dom.to_dict()
    record["domain_description"] = dom.describe()
    record["ambient"] = ambient
    if note:
        record["note"] = note
        print(f"exactcells: {note}", file=sys.stderr, flush=True)
    return Problem(sl.restrict(net), dom, net, sl, record, note)


def _full_domain(args: argparse.Namespace, net: Network) -> Domain:
    if getattr(args, "domain", None):
        dom = load_domain(args.domain)
    elif getattr(args, "box", None):
        lo, hi = _box_bounds(args.box, "--box")
        dom = Domain.box(net.input_dim, lo, hi)
    else:
        dom = Domain.box(net.input_dim)
    if dom.dim != net.input_dim:
        raise InvalidDomainError(
            f"the domain lives in R^{dom.dim} but the network takes {net.input_dim} inputs"
        )
    return dom


def network_and_domain(args: argparse.Namespace) -> tuple[Network, Domain]:
    """The network to build and its domain (restricted to the slice when one is given)."""
    p = load_problem(args)
    return p.network, p.domain


def jobs_arg(text: str) -> int | None:
    """``--jobs``: ``auto`` (``None``: chosen by size, see :func:`choose_jobs`) or a count >= 1."""
    if text.strip().lower() == "auto":
        return None
    from .argtypes import positive_int

    return positive_int(text)


def choose_jobs(jobs: int | None, net: Network, dim: int, with_output: bool, refine: str | None,
                max_cells: int | None) -> int:
    """The worker processes to use: ``jobs`` when given, else the automatic choice by size
    (:func:`exactcells.parallel.auto_jobs` on the estimates of :mod:`exactcells.parallel`),
    announced on stderr when it starts a Dask cluster."""
    if jobs is not None:
        return jobs
    import os

    from ..parallel import auto_jobs, estimate_cells, estimate_memory, physical_memory

    cells = estimate_cells(net, dim, with_output, refine)
    need = estimate_memory(cells, net, dim, with_output, refine)
    chosen = auto_jobs(cells, need, os.cpu_count() or 1, physical_memory(), max_cells)
    if chosen > 1:
        sys.stderr.write(f"exactcells: about {cells:,} cells and {need / 2**30:.1f} GiB expected in one "
                         f"process: building on a local Dask cluster of {chosen} workers (--jobs 1 for "
                         "one process)\n")
    return chosen
