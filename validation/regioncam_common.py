"""Regioncam and exactcells on the same plane (shared by validation/ and benchmarks/).

Regioncam (``pip install regioncam``) computes the regions of a network restricted to the plane
through three points, in float32. :func:`regioncam_plane` runs it on an exact network's weights
(rounded to float32, which is exact for weights that came from float32), and
:func:`exact_plane` builds the exact network on *Regioncam's own* plane: its float32 map
``u -> u @ P + p`` and its float32 square of plane coordinates, taken as exact binary values.
So both tools see exactly the same 2-D problem, and any difference is Regioncam's float error.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import numpy as np

from exactcells import Domain
from exactcells.claims import Claim, ClaimedRegion
from exactcells.network import Layer, Network


def regioncam_plane(net: Network, points: np.ndarray, size: float = 1.5) -> tuple[Any, float]:
    """Regioncam on the plane through ``points`` (3 x n) with ``net``'s layers; returns the
    Regioncam object and its wall time (plane and layers)."""
    import regioncam as rc

    if not net.is_plain:
        raise ValueError("Regioncam takes plain Linear/ReLU stacks here")
    layers = [(np.array([[float(w) for w in row] for row in L.W], dtype=np.float32).T.copy(),
               np.array([float(v) for v in L.b], dtype=np.float32)) for L in net.layers]
    t = time.perf_counter()
    cam = rc.Regioncam.through_points(np.asarray(points, dtype=np.float32), size=size)
    for k, (W, b) in enumerate(layers):
        cam.linear(W, b)
        if k < len(layers) - 1:
            cam.relu()
    return cam, time.perf_counter() - t


def plane_of(cam: Any) -> tuple[list[list[Fraction]], list[Fraction], tuple[Fraction, Fraction, Fraction, Fraction]]:
    """Regioncam's plane as exact values: rows of ``P`` (2 x n), ``p`` (n), and the square
    ``(lo0, hi0, lo1, hi1)`` of plane coordinates (its initial region)."""
    P = [[Fraction(float(v)) for v in row] for row in np.asarray(cam.plane.weight, dtype=np.float32)]
    p = [Fraction(float(v)) for v in np.asarray(cam.plane.bias, dtype=np.float32)]
    V = np.asarray(cam.layers[0].vertex_activations, dtype=np.float32)
    return P, p, (Fraction(float(V[:, 0].min())), Fraction(float(V[:, 0].max())),
                  Fraction(float(V[:, 1].min())), Fraction(float(V[:, 1].max())))


def compose_plane(net: Network, P: list[list[Fraction]], p: list[Fraction]) -> Network:
    """The exact network ``u -> F(u P + p)`` on plane coordinates ``u`` (units kept)."""
    L0 = net.layers[0]
    W = tuple(tuple(sum((w * d[i] for i, w in enumerate(row)), Fraction(0)) for d in P) for row in L0.W)
    b = tuple(bj + sum((w * o for w, o in zip(row, p)), Fraction(0)) for row, bj in zip(L0.W, L0.b))
    return Network((Layer(W, b, L0.units),) + net.layers[1:], rounding=net.rounding)


def exact_plane(net: Network, cam: Any) -> tuple[Network, Domain]:
    """The exact 2-D problem Regioncam solves: the network on its float32 plane and square."""
    P, p, (a0, b0, a1, b1) = plane_of(cam)
    return compose_plane(net, P, p), Domain.box(2, [a0, a1], [b0, b1])


def regioncam_claim(cam: Any, net: Network) -> Claim:
    """Regioncam's faces as a claim: each face's pattern (signs of the hidden pre-activations at
    its vertex centroid, from Regioncam's per-face affine maps in float64), its vertices (plane
    coordinates) and its neighbours across interior edges."""
    # layer 0: plane coordinates, 1: the input space, then Linear, ReLU, Linear, ReLU, ..., Linear
    hidden_layers = [2 + 2 * k for k in range(len(net.layers) - 1)]
    maps = [np.asarray(cam.layers[k].face_activations, dtype=np.float64) for k in hidden_layers]
    V = np.asarray(cam.vertex_inputs, dtype=np.float64)
    faces = list(cam.faces)
    pats = []
    verts = []
    for f_i, f in enumerate(faces):
        ids = list(f.vertex_ids)
        c = np.append(V[ids].mean(axis=0), 1.0)
        bits = "".join("1" if v > 0 else "0" for A in maps for v in c @ A[f_i])
        pats.append(bits)
        verts.append(tuple(tuple(float(x) for x in V[i]) for i in ids))
    nbrs: list[set[int]] = [set() for _ in faces]
    fid = {tuple(sorted(f.vertex_ids)): i for i, f in enumerate(faces)}
    for e in cam.edges:
        fs = [fid.get(tuple(sorted(g.vertex_ids))) for g in e.faces if g is not None]
        fs = [x for x in fs if x is not None]
        if len(fs) == 2 and fs[0] != fs[1]:
            nbrs[fs[0]].add(fs[1])
            nbrs[fs[1]].add(fs[0])
    regions = tuple(ClaimedRegion(pats[i], verts[i], tuple(sorted(nbrs[i]))) for i in range(len(faces)))
    return Claim(regions, (), "regioncam")
