"""Exact restriction of a network and its domain to an affine plane (2-D slices).

The complex of the restricted network on the sliced domain is exactly the intersection of the
original complex with the plane (its cells are the intersections of cells with the plane).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .domain import Domain
from .network import Layer, Network

__all__ = ["restrict_to_plane", "default_slice"]


def restrict_to_plane(
    net: Network,
    domain: Domain,
    origin: Sequence[Fraction],
    directions: Sequence[Sequence[Fraction]],
) -> tuple[Network, Domain]:
    """The network ``t -> F(origin + sum_k t_k d_k)`` and the domain's preimage, exactly."""
    first = net.layers[0]
    W = tuple(
        tuple(sum((w * d[i] for i, w in enumerate(row)), Fraction(0)) for d in directions)
        for row in first.W
    )
    b = tuple(bj + sum((w * o for w, o in zip(row, origin)), Fraction(0)) for row, bj in zip(first.W, first.b))
    new_net = Network((Layer(W, b),) + net.layers[1:], rounding=net.rounding)
    A = [[sum((a * d[i] for i, a in enumerate(row)), Fraction(0)) for d in directions] for row in domain.A]
    c = [ci - sum((a * o for a, o in zip(row, origin)), Fraction(0)) for row, ci in zip(domain.A, domain.c)]
    if domain.box_bounds is not None and all(
        sum(1 for x in d if x != 0) == 1 and all(x in (0, 1) for x in d) for d in directions
    ):
        axes = [next(i for i, x in enumerate(d) if x == 1) for d in directions]
        lo = [domain.box_bounds[i][0] - origin[i] for i in axes]
        hi = [domain.box_bounds[i][1] - origin[i] for i in axes]
        return new_net, Domain.box(len(directions), lo, hi)
    return new_net, Domain(A, c)


def default_slice(net: Network, domain: Domain) -> tuple[Network, Domain, str]:
    """The slice through the domain's vertex centroid along the first two coordinates.

    Returns the restricted network and domain and a sentence that says which slice it is.
    """
    n = domain.dim
    k = len(domain.vertices)
    center = [sum((v[i] for v in domain.vertices), Fraction(0)) / k for i in range(n)]
    if domain.box_bounds is not None:
        center = [(a + b) / 2 for a, b in domain.box_bounds]
    dirs = [[Fraction(int(i == j)) for i in range(n)] for j in (0, 1)]
    origin = [Fraction(0), Fraction(0)] + center[2:]
    if domain.box_bounds is None:
        origin = [Fraction(0)] * 2 + center[2:]
    net2, dom2 = restrict_to_plane(net, domain, origin, dirs)
    fixed = ", ".join(f"x{i + 1} = {float(center[i]):g}" for i in range(2, n))
    return net2, dom2, f"2-D slice spanned by x1 and x2 through the domain's centre ({fixed})"
