"""The argmax refinement with more than 63 compared values (the candidate sets no longer fit
one machine word)."""

from __future__ import annotations

import math

import pytest

from exactcells import build_complex
from exactcells.network import network_from_dict


@pytest.mark.parametrize("k", [63, 64, 70])
def test_fan_of_k_linear_classes(k: int) -> None:
    # F_j(x) = u_j . x with unit vectors u_j at equal angles: class j wins the sector of angle
    # 2 pi / k around u_j, and all k sectors meet at the origin; inside the box every sector
    # is a region, every boundary ray an edge, so the f-vector is known
    rows = [[math.cos(2 * math.pi * j / k), math.sin(2 * math.pi * j / k)] for j in range(k)]
    net = network_from_dict({"layers": [{"W": rows, "b": [0] * k}]})
    K = build_complex(net, with_output=True)
    assert K.output_refinement == "argmax"
    assert K.f_vector[2] == k
    assert K.euler_characteristic == 1
    sets = K.argmax_sets()
    assert sorted(len(s) for s, d in zip(sets, K.dims) if d == 2) == [1] * k
    # the origin is the one vertex where every class attains the maximum
    assert sum(1 for s, d in zip(sets, K.dims) if d == 0 and len(s) == k) == 1
