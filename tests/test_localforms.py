"""Local affine forms (exactcells.localforms) against exact forward passes.

At any point ``p`` the form of neuron ``j`` taken on the cell of ``p``'s own sign vector must
have exactly the sign of ``j``'s pre-activation at ``p`` (Lemma A), and equal forms must get
equal ids.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from net_strategies import examples, integer_networks

from exactcells import Domain, network_from_dict
from exactcells.certify import exact_sign_vectors
from exactcells.localforms import LocalForms


@examples(40)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), integer_networks(n, max_depth=3, max_width=4))),
       st.lists(st.lists(st.integers(-6, 6), min_size=4, max_size=4), min_size=1, max_size=12),
       st.booleans())
def test_forms_have_the_signs_of_the_pre_activations(nn: tuple[int, dict[str, Any]], raw: list[list[int]],
                                                      with_output: bool) -> None:
    n, d = nn
    net = network_from_dict(d)
    dom = Domain.box(n, -1, 1)
    pts = [tuple(r[:n]) + (3,) for r in raw]  # (D x, D) with D = 3: x in [-2, 2]^n, some outside D
    S = exact_sign_vectors(net, dom, pts, with_output)
    forms = LocalForms(net, dom)
    width = S.shape[1]
    for j in range(width):
        rows, ids = forms.rows(S, np.full(len(pts), j))
        got = [int(np.sign(sum(int(a) * b for a, b in zip(r, p)))) for r, p in zip(rows, pts)]
        assert got == S[:, j].tolist(), j
        # equal ids, equal forms
        for a in range(len(pts)):
            for b in range(len(pts)):
                if ids[a] == ids[b]:
                    assert list(rows[a]) == list(rows[b])


def test_forms_on_a_hand_example() -> None:
    # z1 = x - y, z2 = relu(z1) + 1/2: on the cell where z1 > 0 the form of z2 is x - y + 1/2
    net = network_from_dict({"layers": [{"W": [[1, -1]], "b": [0]}, {"W": [[1]], "b": [Fraction(1, 2)]},
                                        {"W": [[1]], "b": [0]}]})
    forms = LocalForms(net, Domain.box(2, -1, 1))
    active = np.array([[1, 1, 1, 1, 1, 1, 1]], dtype=np.int8)  # z1 > 0, z2 > 0, inside the box
    inactive = np.array([[-1, 1, 1, 1, 1, 1, 1]], dtype=np.int8)
    (on,), _ = forms.rows(active, np.array([1]))
    (off,), _ = forms.rows(inactive, np.array([1]))
    assert [int(v) for v in on] == [2, -2, 1] and [int(v) for v in off] == [0, 0, 1]


@examples(30)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), integer_networks(n, max_depth=3, max_width=4))),
       st.lists(st.lists(st.integers(-6, 6), min_size=4, max_size=4), min_size=1, max_size=12))
def test_layer_one_rows_equal_the_tables(nn: tuple[int, dict[str, Any]], raw: list[list[int]]) -> None:
    """The forms of hidden layer 1 asked for one by one (plain networks: 0/1 sums of fixed rows)
    equal the rows of the full tables (a python-flint product per distinct prefix), with the
    same ids for the same prefix and row."""
    n, d = nn
    net = network_from_dict(d)
    dom = Domain.box(n, -1, 1)
    forms = LocalForms(net, dom)
    if not net.is_plain or len(net.layers) < 3:
        return
    pts = [tuple(r[:n]) + (2,) for r in raw]
    S = exact_sign_vectors(net, dom, pts)
    w0 = len(net.layers[0].b)
    for j in range(w0, w0 + len(net.layers[1].b)):
        rows, ids = forms.rows(S, np.full(len(pts), j))
        table = LocalForms(net, dom).tables(1, S)
        assert [list(map(int, r)) for r in rows] == [list(map(int, t[j - w0])) for t in table]
        for a in range(len(pts)):
            for b in range(len(pts)):
                same_prefix = np.array_equal(S[a, :w0] > 0, S[b, :w0] > 0)
                assert (ids[a] == ids[b]) == same_prefix
