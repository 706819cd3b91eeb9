"""Domains: boxes and H-polytopes, checked exactly (non-empty, bounded, full-dimensional)."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from exactcells import (
    Domain,
    EmptyDomainError,
    ExactCellsError,
    FlatDomainError,
    InvalidDomainError,
    NonRationalInputError,
    UnboundedDomainError,
    build_complex,
    load_domain,
    network_from_dict,
)

F = Fraction
SQUARE_A = [[1, 0], [-1, 0], [0, 1], [0, -1]]


def _f_vector(D: Domain) -> tuple[int, ...]:
    faces = D.faces()
    return tuple(sum(1 for f in faces if f.dim == k) for k in range(D.dim + 1))


def test_box() -> None:
    D = Domain.box(2, -1, 1)
    assert D.dim == 2 and D.num_facets == 4 and D.is_box()
    assert set(D.vertices) == {(F(a), F(b)) for a, b in product((-1, 1), repeat=2)}
    assert D.volume() == 4
    assert D.describe() == "[-1, 1]^2"
    assert _f_vector(D) == (4, 4, 1)
    # facets in the order x >= -1, x <= 1, y >= -1, y <= 1 (the sign vectors' order)
    assert D.facet_signs((-1, 0)) == (0, 1, 1, 1)
    assert D.facet_signs((1, 1)) == (1, 0, 1, 0)
    assert D.facet_signs((0, 0)) == (1, 1, 1, 1)
    assert D.facet_signs((2, 0)) == (1, -1, 1, 1)
    assert D.contains((1, "-1")) and not D.contains(("1.0000001", 0))


def test_box_with_rational_per_coordinate_bounds() -> None:
    D = Domain.box(3, ["-1/3", 0, "0.1"], [1, "2/7", "0.2"])
    assert D.volume() == F(4, 3) * F(2, 7) * F(1, 10)
    assert D.box_bounds == ((F(-1, 3), F(1)), (F(0), F(2, 7)), (F(1, 10), F(1, 5)))
    assert _f_vector(D) == (8, 12, 6, 1)
    assert Domain.from_dict(D.to_dict()) == D


@pytest.mark.parametrize("A, c, volume, fvec", [
    ([[-1, 0], [0, -1], [1, 1]], [0, 0, 1], F(1, 2), (3, 3, 1)),                       # triangle
    ([[1, 1, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], [1, 0, 0, 0], F(1, 6), (4, 6, 4, 1)),  # simplex
    ([list(s) for s in product((-1, 1), repeat=3)], [1] * 8, F(4, 3), (6, 12, 8, 1)),  # octahedron
    # a hexagon |x| <= 1, |y| <= 1, |x + y| <= 1: the square minus two corner triangles
    ([[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1]], [1, 1, 1, 1, 1, 1], F(3), (6, 6, 1)),
])
def test_h_polytopes(A: list[list[int]], c: list[int], volume: Fraction, fvec: tuple[int, ...]) -> None:
    D = Domain(A, c)
    assert not D.is_box()
    assert D.volume() == volume
    assert _f_vector(D) == fvec
    assert D.num_facets == fvec[-2]
    assert Domain.from_dict(D.to_dict()) == D
    assert Domain.from_dict(json.loads(json.dumps(D.to_dict()))) == D


def test_redundant_and_duplicate_rows_are_dropped_in_user_order() -> None:
    # rows 4 (x + y <= 5) and 5 (2x <= 2, the same facet as row 0) are not facets
    D = Domain(SQUARE_A + [[1, 1], [2, 0]], [1, 1, 1, 1, 5, 2])
    assert D.A == tuple(tuple(F(v) for v in r) for r in SQUARE_A)
    assert D.num_facets == 4 and D.volume() == 4
    # a row that only touches the square at a corner is not a facet either
    D2 = Domain([[1, 1]] + SQUARE_A, [2, 1, 1, 1, 1])
    assert D2.num_facets == 4
    # a trivially true zero row is dropped too
    assert Domain([[0, 0]] + SQUARE_A, [3, 1, 1, 1, 1]).num_facets == 4


def test_domain_values_are_exact() -> None:
    D = Domain(SQUARE_A, ["0.1", 0.1, "1/3", 1])
    assert D.c == (F(1, 10), F(0.1), F(1, 3), F(1))
    assert D.volume() == (F(1, 10) + F(0.1)) * (F(1, 3) + 1)


BAD_DOMAINS: list[tuple[str, Any, Any, type[ExactCellsError], str]] = [
    ("empty", SQUARE_A, [1, -2, 1, 1], EmptyDomainError, "empty"),
    ("empty by a zero row", [[0, 0]] + SQUARE_A, [-1, 1, 1, 1, 1], EmptyDomainError, "no point"),
    ("unbounded", [[1, 0], [0, 1]], [1, 1], UnboundedDomainError, "unbounded"),
    ("unbounded strip", [[1, 0], [-1, 0]], [1, 1], UnboundedDomainError, "unbounded"),
    ("flat: a segment", SQUARE_A, [0, 0, 1, 1], FlatDomainError, "full-dimensional"),
    ("flat: a slanted segment", [[1, 1], [-1, -1], [0, 1], [0, -1]], [1, -1, 1, 1], FlatDomainError,
     "full-dimensional"),
    ("flat: a point", SQUARE_A, [0, 0, 0, 0], FlatDomainError, "full-dimensional"),
    ("no rows", [], [], InvalidDomainError, "A is empty"),
    ("rows of length 0", [[]], [1], InvalidDomainError, "no columns"),
    ("ragged A", [[1, 0], [-1]], [1, 1], InvalidDomainError, "ragged"),
    ("A and c mismatch", SQUARE_A, [1, 1, 1], InvalidDomainError, "c has 3"),
    ("NaN", [[float("nan"), 0]] + SQUARE_A[1:], [1, 1, 1, 1], NonRationalInputError, "A[0][0]"),
    ("infinity in c", SQUARE_A, [1, float("inf"), 1, 1], NonRationalInputError, "c[1]"),
    ("non-numeric", [["a", 0]] + SQUARE_A[1:], [1, 1, 1, 1], NonRationalInputError, "'a'"),
]


@pytest.mark.parametrize("what, A, c, err, word", BAD_DOMAINS, ids=[b[0] for b in BAD_DOMAINS])
def test_bad_h_polytopes(what: str, A: Any, c: Any, err: type[ExactCellsError], word: str) -> None:
    with pytest.raises(err, match=re.escape(word)) as info:
        Domain(A, c)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError if issubclass(err, InvalidDomainError) else TypeError)


@pytest.mark.parametrize("args, err, word", [
    ((2, 1, 1), InvalidDomainError, "LO = 1 is not below HI = 1"),
    ((2, 2, -1), InvalidDomainError, "LO = 2 is not below HI = -1"),
    ((2, [-1, 0], [1, 0]), InvalidDomainError, "coordinate 1"),
    ((2, "1/2", "0.5"), InvalidDomainError, "not below"),
    ((0,), InvalidDomainError, "dimension"),
    ((2, [0, 0], [1]), InvalidDomainError, "2 entries"),
    ((2, "a", 1), NonRationalInputError, "'a'"),
    ((2, float("-inf"), 1), NonRationalInputError, "not finite"),
    ((2, float("nan"), 1), NonRationalInputError, "not finite"),
])
def test_bad_boxes(args: tuple[Any, ...], err: type[ExactCellsError], word: str) -> None:
    with pytest.raises(err, match=word):
        Domain.box(*args)


@pytest.mark.parametrize("d, word", [
    ([], "JSON object"),
    ({"A": [[1]]}, "'c'"),
    ({"c": [1]}, "'A'"),
    ({"A": "x", "c": [1]}, "'A'"),
    ({"A": [[1], [-1]], "c": 3}, "'c'"),
    ({"box": [[0, 1, 2]]}, "pairs"),
    ({"box": [[1, 0]]}, "not below"),
    ({"box": []}, "dimension"),
])
def test_bad_domain_dicts(d: Any, word: str) -> None:
    with pytest.raises(InvalidDomainError, match=word):
        Domain.from_dict(d)


def test_load_domain(tmp_path: Path) -> None:
    p = tmp_path / "tri.json"
    p.write_text(json.dumps({"A": [[-1, 0], [0, -1], [1, 1]], "c": [0, 0, "1/2"]}))
    D = load_domain(p)
    assert D.volume() == F(1, 8)
    q = tmp_path / "box.json"
    q.write_text(json.dumps({"box": [[-2, 2], ["0", "1/3"]]}))
    assert load_domain(q) == Domain.box(2, [-2, 0], [2, F(1, 3)])


@pytest.mark.parametrize("text, err, word", [
    ('{"A": [[1, 0]', InvalidDomainError, "malformed JSON"),
    ('{"A": [[1, 0], [0, 1]], "c": [1, 1]}', UnboundedDomainError, "unbounded"),
    ('{"A": [[1, 0], [-1, 0], [0, 1], [0, -1]], "c": [1, -2, 1, 1]}', EmptyDomainError, "empty"),
    ('{"A": [[1, 0], [-1, 0], [0, 1], [0, -1]], "c": [0, 0, 1, 1]}', FlatDomainError, "full-dim"),
    ('{"box": [[1, 1]]}', InvalidDomainError, "not below"),
])
def test_bad_domain_files_name_the_file(tmp_path: Path, text: str, err: type[ExactCellsError],
                                        word: str) -> None:
    p = tmp_path / "dom.json"
    p.write_text(text)
    with pytest.raises(err, match=word) as info:
        load_domain(p)
    assert str(p) in str(info.value)


def test_unreadable_domain_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidDomainError, match="cannot read"):
        load_domain(tmp_path / "missing.json")
    with pytest.raises(InvalidDomainError, match="cannot read"):
        load_domain(tmp_path)  # a directory


def test_non_utf8_domain_file(tmp_path: Path) -> None:
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"box": [["\xff", 1]]}')
    with pytest.raises(InvalidDomainError):
        load_domain(p)


def test_domain_dimension_must_match_the_network() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    with pytest.raises(InvalidDomainError, match="R\\^3 but the network takes 2"):
        build_complex(net, Domain.box(3))


def test_domain_faces_are_its_face_lattice() -> None:
    D = Domain.box(3, 0, 1)
    faces = D.faces()
    assert [f.dim for f in faces] == sorted(f.dim for f in faces)
    for f in faces:
        # a face of dimension k of the cube lies on exactly 3 - k facets and has 2^k vertices
        assert len(f.on_facets) == 3 - f.dim and len(f.vertices) == 2**f.dim


def test_one_dimensional_domain() -> None:
    # a segment cut by two points: 4 vertices, 3 edges
    net = network_from_dict({"layers": [{"W": [[1], [2]], "b": ["1/2", -1]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(1, -1, 1))
    assert K.f_vector == (4, 3)
    # the points -1/2 and 1/2: pieces of lengths 1/2, 1, 1/2
    assert sorted(K.region_volumes()) == [F(1, 2), F(1, 2), F(1)]
    assert {K.vertex(v) for v in range(4)} == {(F(-1),), (F(-1, 2),), (F(1, 2),), (F(1),)}


@pytest.mark.parametrize("D", [
    Domain.box(4, 0, 1),
    # a square pyramid (not simple: its apex lies on 4 facets) and a triangular prism
    Domain([[0, 0, -1], [2, 0, 1], [-2, 0, 1], [0, 2, 1], [0, -2, 1]], [0, 2, 2, 2, 2]),
    Domain([[-1, 0, 0], [0, -1, 0], [1, 1, 0], [0, 0, 1], [0, 0, -1]], [0, 0, 1, 1, 0]),
], ids=["4-cube", "pyramid", "prism"])
def test_face_lattice_agrees_with_affine_hulls(D: Domain) -> None:
    from exactcells.geometry import affine_rank

    faces, facets = D.face_lattice()
    assert faces == D.faces()
    for i, f in enumerate(faces):
        # the dimension is that of the affine hull of the face's vertices
        assert f.dim == affine_rank([D.vertices[v] for v in sorted(f.vertices)])
        # the facets of a face: the faces one dimension lower whose vertex sets lie inside it
        expected = [j for j, g in enumerate(faces) if g.dim == f.dim - 1 and g.vertices < f.vertices]
        assert facets[i] == expected
    pyramid_like = D.num_facets == 5 and len(D.vertices) == 5
    if pyramid_like:
        assert [sum(1 for f in faces if f.dim == k) for k in range(4)] == [5, 8, 5, 1]
