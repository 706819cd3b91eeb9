"""Activation units beyond ReLU (leaky, linear carries, max) and the argmax refinement.

Independent checks: every exact invariant of :func:`conftest.check_complex` (Euler
characteristic, diamond property, affine ranks, interior points recomputed by the generic exact
forward pass, completeness on a grid), the certificate, exact volumes against the domain's, and
equivalences with plain ReLU networks derived by hand: a leaky unit cuts exactly where the pair
``relu(z), relu(-z)`` does, and ``max(a, b) = b + relu(a - b)``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, unit_networks

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.certify import certify
from exactcells.errors import InvalidArgumentError, InvalidNetworkError
from exactcells.network import Layer, Network, Unit, local_affine_forms

Check = Callable[..., None]


@examples(40)
@given(d=unit_networks(2, outputs=3), with_output=st.booleans())
def test_unit_networks_2d(d: dict[str, Any], with_output: bool, assert_complex_ok: Check) -> None:
    net = network_from_dict(d)
    K = build_complex(net, with_output=with_output)
    assert_complex_ok(K, grid=4)
    assert sum(K.region_volumes()) == K.domain.volume()
    assert certify(K).certified


@examples(10)
@given(d=unit_networks(3, max_units=3, outputs=2))
def test_unit_networks_3d(d: dict[str, Any], assert_complex_ok: Check) -> None:
    net = network_from_dict(d)
    K = build_complex(net, with_output=True)
    assert K.output_refinement == "argmax"
    assert_complex_ok(K, grid=2)
    assert certify(K).certified


@examples(25)
@given(d=integer_networks(2, outputs=3), data=st.data())
def test_argmax_complex_2d(d: dict[str, Any], data: st.DataObject, assert_complex_ok: Check) -> None:
    net = network_from_dict(d)
    K = build_complex(net, with_output=True, refine="argmax")
    assert_complex_ok(K, grid=4)
    C = certify(K, volumes=True)
    assert C.certified and C.total_volume == K.domain.volume()
    # every region has an argmax set; its classes attain the maximum at an interior point
    for r in K.regions():
        x = K.interior_point(r)
        out = net.forward(x)
        assert K.argmax_sets()[r] == {j for j, v in enumerate(out) if v == max(out)}


def test_leaky_cuts_like_a_pair_of_relus(assert_same_complex: Callable[..., None]) -> None:
    """leaky(z) with slope s is relu(z) - s relu(-z): the same cells, entries e <-> (e, -e)."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        W1 = rng.integers(-3, 4, (3, 2)).tolist()
        b1 = rng.integers(-2, 3, 3).tolist()
        W2 = rng.integers(-3, 4, (2, 3)).tolist()
        b2 = rng.integers(-2, 3, 2).tolist()
        W3 = rng.integers(-3, 4, (1, 2)).tolist()
        s = Fraction(1, 3)
        leaky = network_from_dict({"layers": [
            {"W": W1, "b": b1, "units": [["leaky", j, "1/3"] for j in range(3)]},
            {"W": W2, "b": b2}, {"W": W3, "b": [0]}]})
        plain = network_from_dict({"layers": [
            {"W": W1 + [[-w for w in row] for row in W1], "b": b1 + [-v for v in b1]},
            {"W": [row + [-s * w for w in row] for row in W2], "b": b2}, {"W": W3, "b": [0]}]})
        KL = build_complex(leaky)
        KP = build_complex(plain)
        assert KL.f_vector == KP.f_vector
        mapped = {tuple(K) for K in KL.signs.tolist()}
        expect = {tuple(row[:3] + row[6:]) for row in KP.signs.tolist()}
        assert mapped == expect
        for x in ((Fraction(1, 3), Fraction(-1, 2)), (Fraction(0), Fraction(1, 7))):
            assert leaky.forward(x) == plain.forward(x)


def test_max_of_two_is_a_relu_of_the_difference() -> None:
    """max(a, b) = b + relu(a - b): entries (sign(a - m), sign(b - m)) <-> sign(a - b)."""
    rng = np.random.default_rng(5)
    for _ in range(5):
        W1 = rng.integers(-3, 4, (4, 2)).tolist()
        b1 = rng.integers(-2, 3, 4).tolist()
        W2 = rng.integers(-3, 4, (1, 2)).tolist()
        net = network_from_dict({"layers": [
            {"W": W1, "b": b1, "units": [["max", [0, 1]], ["max", [2, 3]]]}, {"W": W2, "b": [1]}]})
        diff = [[a - c for a, c in zip(W1[0], W1[1])], [a - c for a, c in zip(W1[2], W1[3])]]
        K = build_complex(net)
        code = {(0, -1): 1, (-1, 0): -1, (0, 0): 0}
        got = {(code[tuple(r[0:2])], code[tuple(r[2:4])]) for r in K.signs[list(K.regions())].tolist()}
        two = network_from_dict({"layers": [{"W": diff, "b": [b1[0] - b1[1], b1[2] - b1[3]]},
                                            {"W": [[1, 1]], "b": [0]}]})
        K2 = build_complex(two)
        assert K.f_vector == K2.f_vector
        assert got == {tuple(r[:2]) for r in K2.signs[list(K2.regions())].tolist()}
        x = (Fraction(1, 5), Fraction(-2, 3))
        z = [sum(w * v for w, v in zip(row, x)) + c for row, c in zip(W1, b1)]
        assert net.forward(x)[0] == W2[0][0] * max(z[0], z[1]) + W2[0][1] * max(z[2], z[3]) + 1


def test_three_linear_classes_meet_at_one_point() -> None:
    """F = (x, y, -x - y): three sectors meeting at the origin, where all three tie."""
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0],
                                         "units": [["linear", 0], ["linear", 1]]},
                                        {"W": [[1, 0], [0, 1], [-1, -1]], "b": [0, 0, 0]}]})
    K = build_complex(net, with_output=True)
    sets = K.argmax_sets()
    assert K.num_regions == 3
    assert sorted(sorted(sets[r]) for r in K.regions()) == [[0], [1], [2]]
    junctions = [c for c in range(K.num_cells) if len(sets[c]) == 3]
    assert len(junctions) == 1 and K.dim(junctions[0]) == 0
    assert K.vertex(junctions[0]) == (0, 0)
    walls = [c for c in K.cells_of_dim(1) if len(sets[c]) == 2]
    assert len(walls) == 3  # the three rays x = y >= 0, y = -2x, x = -2y
    assert sum(K.region_volumes()) == 4
    assert certify(K).certified


def test_identical_outputs_tie_everywhere() -> None:
    """Two identical output rows: both classes are top together wherever either is."""
    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
                                        {"W": [[1, -1], [1, -1], [0, 1]], "b": [0, 0, 0]}]})
    K = build_complex(net, with_output=True)
    sets = K.argmax_sets()
    assert all(not ({0, 1} & s) or {0, 1} <= s for s in sets)
    assert certify(K).certified


@examples(30)
@given(d=integer_networks(2, max_depth=1, max_width=4), data=st.data())
def test_argmax_of_relus_that_tie_on_whole_cells(d: dict[str, Any], data: st.DataObject,
                                                 assert_complex_ok: Check) -> None:
    """Classes that tie on whole cells, not everywhere: the outputs pick hidden ReLUs (0 on
    their dead side), a constant 0, and a duplicate, so the argmax set on a region where the
    picked ReLUs are all dead is every class at once (the shortcut for cells whose candidates
    tie at all their vertices), elsewhere a single class or a wall."""
    hidden = d["layers"][0]
    m = len(hidden["W"])
    picks = data.draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=3))
    rows = [[1 if c == p else 0 for c in range(m)] for p in picks] + [[0] * m]
    rows.append(rows[data.draw(st.integers(0, len(rows) - 1))])
    net = network_from_dict({"layers": [hidden, {"W": rows, "b": [0] * len(rows)}]})
    K = build_complex(net, with_output=True, refine="argmax")
    assert_complex_ok(K, grid=4)
    C = certify(K, volumes=True)
    assert C.certified and C.total_volume == K.domain.volume()
    sets = K.argmax_sets()
    for c in range(K.num_cells):  # every cell, of every dimension, at an interior point
        out = net.forward(K.interior_point(c))
        assert sets[c] == {j for j, v in enumerate(out) if v == max(out)}


def test_max_pool_of_dead_relus_keeps_the_cells() -> None:
    """A max unit over ReLUs that are all dead on a region: the whole region ties, and the
    complex is the hidden layer's, every region's argmax set read off its dead neurons."""
    net = network_from_dict({"layers": [
        {"W": [[1, 0], [0, 1]], "b": [0, 0]},
        {"W": [[1, 0], [0, 1], [0, 0]], "b": [0, 0, 0], "units": [["max", [0, 1, 2]]]},
        {"W": [[1]], "b": [0]}]})
    K = build_complex(net)
    H = build_complex(network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]},
                                                    {"W": [[1, 1]], "b": [0]}]}))
    # max(relu x, relu y, 0) adds one wall, x = y from (0, 0) to the box's corner (1, 1)
    assert K.f_vector == (H.f_vector[0], H.f_vector[1] + 1, H.f_vector[2] + 1)
    assert certify(K).certified
    neg = [r for r in K.regions() if all(v < 0 for v in K.interior_point(r))]
    assert len(neg) == 1 and tuple(K.sign_vector(neg[0])[2:5]) == (0, 0, 0)


def test_argmax_needs_two_outputs_and_the_output() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    with pytest.raises(InvalidArgumentError, match="two outputs"):
        build_complex(net, with_output=True, refine="argmax")
    with pytest.raises(InvalidArgumentError, match="with_output"):
        build_complex(net, refine="zero")
    assert build_complex(net, with_output=True).output_refinement == "zero"


def test_a_corrupted_argmax_entry_is_caught() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 2], [2, -1]], "b": [0, "1/3"]},
                                        {"W": [[1, 0], [0, 1], [-1, -1]], "b": [0, 0, "1/4"]}]})
    K = build_complex(net, with_output=True)
    assert certify(K).certified
    S = K.signs.copy()
    r = K.regions()[0]
    row = S[r, -3:].copy()
    S[r, -3:] = np.where(row == 0, -1, 0)  # claim the other classes win there
    bad = PolyhedralComplex(network=net, domain=K.domain, with_output=True, output_refinement="argmax",
                            dims=K.dims.copy(), signs=S, facet_indptr=K.facet_csr[0].copy(),
                            facet_indices=K.facet_csr[1].copy(),
                            vertex_coords=[K.vertex_homogeneous(v) for v in range(K.f_vector[0])])
    assert not certify(bad).certified


def test_units_round_trip_through_json_and_forms() -> None:
    d = {"layers": [{"W": [[1, 2], [3, 4], [5, 6], [1, 1]], "b": [0, 1, 2, 3],
                     "units": [["leaky", 0, "1/8"], ["linear", 1], ["max", [2, 3]]]},
                    {"W": [[1, 2, 3]], "b": [0]}]}
    net = network_from_dict(d)
    assert network_from_dict(net.to_dict()) == net
    assert net.num_hidden == 3 and net.sign_widths == (3,) and not net.is_plain
    x = (Fraction(-1, 2), Fraction(1, 5))
    s = net.hidden_signs(x)
    entries, (A, c) = local_affine_forms(net, s)
    assert [(sum(a * v for a, v in zip(f, x)) + f0 > 0) - (sum(a * v for a, v in zip(f, x)) + f0 < 0)
            for f, f0 in entries] == list(s)
    assert tuple(sum(a * v for a, v in zip(row, x)) + cj for row, cj in zip(A, c)) == net.forward(x)


@pytest.mark.parametrize("bad, msg", [
    ([["relu", 5]], "not a row"),
    ([["max", [0]]], "at least two"),
    ([["leaky", 0]], "3 entries"),
    ([["tanh", 0]], "expected"),
])
def test_bad_units_are_refused(bad: list[Any], msg: str) -> None:
    with pytest.raises(InvalidNetworkError, match=msg):
        network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0], "units": bad},
                                      {"W": [[1]], "b": [0]}]})


def test_unit_built_network_equals_direct_layers() -> None:
    units = (Unit("relu", (0,)), Unit("max", (1, 2)))
    net = Network((Layer(((Fraction(1), Fraction(0)), (Fraction(0), Fraction(1)), (Fraction(1), Fraction(1))),
                         (Fraction(0),) * 3, units),
                   Layer(((Fraction(1), Fraction(-1)),), (Fraction(0),))))
    assert build_complex(net, Domain.box(2)).euler_characteristic == 1
