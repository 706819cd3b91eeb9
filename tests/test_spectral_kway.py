"""k-way spectral partitions of the dual graph and their exact agreement with k classes."""

from __future__ import annotations

import warnings
from fractions import Fraction
from itertools import permutations

import numpy as np
import pytest
from argmax_helpers import argmax_complex, argmax_from_difference, difference_network, zero_complex
from hypothesis import given, settings
from hypothesis import strategies as st

from exactcells import Domain, build_complex, network_from_dict
from exactcells.dual import (
    class_volumes,
    dual_graph,
    locate_points,
    region_argmax_volumes,
    region_class_volumes,
    region_volumes_and_centroids,
)
from exactcells.errors import InvalidDomainError
from exactcells.spectral import (
    SpectralError,
    boundary_agreement,
    dual_fiedler,
    kway_agreement,
    kway_partition,
)

F = Fraction
BOX = Domain.box(2, -1, 1)


def random_net(seed: int, widths: tuple[int, ...]) -> object:
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        W = [[F(int(x), 4) for x in rng.integers(-8, 9, size=a)] for _ in range(b)]
        c = [F(int(x), 8) for x in rng.integers(-6, 7, size=b)]
        layers.append({"W": [[str(x) for x in r] for r in W], "b": [str(x) for x in c]})
    return network_from_dict({"layers": layers})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", ["none", "facet-volume", "training-points"])
def test_binary_case_is_todays_fiedler_agreement(seed: int, weights: str) -> None:
    net = random_net(seed, (2, 6, 1))
    K = build_complex(net, BOX)  # type: ignore[arg-type]
    R = zero_complex(net, BOX)  # type: ignore[arg-type]
    G = dual_graph(K)
    if G.num_nodes < 2:
        pytest.skip("one region")
    pts = np.random.default_rng(seed).uniform(-1, 1, size=(40, 2))
    loc = locate_points(K, pts) if weights == "training-points" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dual_fiedler(G, weights=weights, location=loc)
        P = kway_partition(G, 2, weights=weights, location=loc)
    assert np.array_equal(P.labels, (r.vector > 0).astype(np.int64))
    cv = region_class_volumes(K, R)
    assert class_volumes(K, R) == list(cv)
    ba = boundary_agreement(G, r.vector, cv)
    ka = kway_agreement(P.labels, cv)
    assert ka.volume_agreement == ba.sign.volume_agreement
    assert ka.adjusted_rand_index == ba.sign.adjusted_rand_index
    # the matching is the flip
    assert ka.matching == ((1, 0) if ba.sign.flipped else (0, 1))


@pytest.mark.parametrize("seed", range(3))
def test_two_outputs_argmax_volumes_are_the_difference_networks(seed: int) -> None:
    net = random_net(seed, (2, 5, 2))
    K = build_complex(net, BOX)  # type: ignore[arg-type]
    A = argmax_from_difference(net, BOX)  # type: ignore[arg-type]
    D = difference_network(net)  # type: ignore[arg-type]
    KD = build_complex(D, BOX)
    RD = build_complex(D, BOX, with_output=True)
    av = region_argmax_volumes(K, A)
    bv = region_class_volumes(KD, RD)
    # class 0 is F_0 > F_1, i.e. the difference's class 1; ties have no volume
    assert av == [(b, a) for a, b in bv]
    vols, _ = region_volumes_and_centroids(K)
    assert [sum(v) for v in av] == vols
    # on the argmax complex itself every region is of one class
    own = region_argmax_volumes(A)
    assert all(sum(1 for x in v if x) == 1 for v in own)
    assert sum((sum(v) for v in own), F(0)) == 4


def test_class_volumes_need_the_argmax_complex() -> None:
    net = random_net(0, (2, 3, 3))
    K = build_complex(net, BOX)  # type: ignore[arg-type]
    with pytest.raises(InvalidDomainError, match="argmax complex"):
        region_argmax_volumes(K)
    with pytest.raises(InvalidDomainError, match="at least two outputs"):
        region_argmax_volumes(build_complex(random_net(0, (2, 3, 1)), BOX))  # type: ignore[arg-type]


def strips(n: int) -> object:
    """Hidden neurons relu(x - c) for n - 1 cuts: the dual graph is a path of n strips."""
    cs = [F(2 * i, n) - 1 for i in range(1, n)]
    return network_from_dict({"layers": [
        {"W": [[1, 0]] * (n - 1), "b": [str(-c) for c in cs]}, {"W": [[1] * (n - 1)], "b": [0]}]})


def test_recursive_cuts_of_a_path_closed_form() -> None:
    K = build_complex(strips(8), BOX)  # type: ignore[arg-type]
    G = dual_graph(K)
    _, cents = region_volumes_and_centroids(K)
    order = np.argsort([float(c[0]) for c in cents])  # nodes from left to right
    P = kway_partition(G, 4)
    parts = {frozenset(int(x) for x in np.flatnonzero(P.labels == c)) for c in range(4)}
    assert parts == {frozenset(int(x) for x in order[2 * i : 2 * i + 2]) for i in range(4)}
    # Fiedler values: path of 8, then two paths of 4 (2 - 2 cos(pi / n))
    assert P.cut_values[0] == pytest.approx(2 - 2 * np.cos(np.pi / 8))
    assert P.cut_values[1] == pytest.approx(2 - 2 * np.cos(np.pi / 4))
    # classes: strips 0-1, 2-3, 4-5, 6-7 -> classes 3, 0, 2, 1: perfect agreement
    cls = {0: 3, 1: 3, 2: 0, 3: 0, 4: 2, 5: 2, 6: 1, 7: 1}
    vols, _ = region_volumes_and_centroids(K)
    cv = [tuple(vols[i] if cls[int(np.flatnonzero(order == i)[0])] == j else F(0) for j in range(4))
          for i in range(8)]
    ka = kway_agreement(P.labels, cv)
    assert ka.volume_agreement == 1 and ka.adjusted_rand_index == 1.0
    # relabelled by the matching, every node carries its class
    rel = ka.relabel(P.labels)
    assert [int(rel[i]) for i in range(8)] == [cls[int(np.flatnonzero(order == i)[0])] for i in range(8)]
    # k-means on the embedding finds the same four pairs here
    Q = kway_partition(G, 4, method="kmeans", seed=0)
    assert {frozenset(np.flatnonzero(Q.labels == c).tolist()) for c in range(4)} == parts
    with pytest.raises(SpectralError):
        kway_partition(G, 9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=9),
       st.lists(st.lists(st.integers(0, 5), min_size=3, max_size=3), min_size=9, max_size=9))
def test_matching_is_the_best_permutation(labels: list[int], vols: list[list[int]]) -> None:
    n = len(labels)
    cv = [tuple(F(x) for x in v) for v in vols[:n]]
    total = sum((sum(v) for v in cv), F(0))
    if total == 0:
        return
    lab = np.array(labels)
    _, lab = np.unique(lab, return_inverse=True)
    ka = kway_agreement(lab, cv)
    p = int(lab.max()) + 1
    C = [[sum((cv[i][j] for i in range(n) if lab[i] == c), F(0)) for j in range(3)] for c in range(p)]
    if p <= 3:
        best = max(sum((C[c][perm[c]] for c in range(p)), F(0)) for perm in permutations(range(3), p))
    else:
        best = max(sum((C[perm[j]][j] for j in range(3)), F(0)) for perm in permutations(range(p), 3))
    assert ka.volume_agreement == best / total
    used = [m for m in ka.matching if m is not None]
    assert len(used) == len(set(used)) == min(p, 3)


def test_kway_on_three_classes() -> None:
    net = random_net(2, (2, 6, 3))
    K = build_complex(net, BOX)  # type: ignore[arg-type]
    R = argmax_complex(net, BOX)  # type: ignore[arg-type]
    cv = region_argmax_volumes(K, R)
    P = kway_partition(dual_graph(K), 3)
    ka = kway_agreement(P.labels, cv)
    assert F(1, 3) <= ka.volume_agreement <= 1
    assert sum((sum(r) for r in ka.confusion), F(0)) == 4


def test_points_are_located_in_the_argmax_complex() -> None:
    net = random_net(1, (2, 5, 2))
    A = argmax_complex(net, BOX)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    pts = [tuple(F(int(v), 8) for v in rng.integers(-8, 9, size=2)) for _ in range(60)]
    loc = locate_points(A, pts)
    out = A.sign_slices()["outputs"]
    for p, c in zip(pts, loc.cells.tolist()):
        Fx = net.forward(p)  # type: ignore[attr-defined]
        top = {j for j, v in enumerate(Fx) if v == max(Fx)}
        assert {j for j, s in enumerate(A.sign_vector(c)[out]) if s == 0} == top
