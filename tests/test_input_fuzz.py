"""Arbitrary JSON documents as networks, domains and claims: each either loads or is refused
with an :class:`~exactcells.errors.ExactCellsError` (the CLI's one-line error, exit 2), never
another exception. What loads is then used (a small network is built on a box, a domain gives
its face lattice, a claim is judged), so an accepted document that the later steps cannot use
fails too.

The documents are valid ones (random integer networks, boxes and polytopes, a claim read off a
grid) with up to three places replaced by hostile values (nested lists where numbers belong,
strings that look like numbers, huge integers, NaN and infinities, booleans, ``None``), deleted
or duplicated. ``EXACTCELLS_FUZZ=K`` runs K times the examples; ``pytest
--hypothesis-show-statistics`` shows how many loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from net_strategies import examples, integer_networks, unit_networks

from exactcells import Domain, PolyhedralComplex, build_complex, load_complex, load_domain, network_from_dict
from exactcells.certify import certify
from exactcells.claims import claim_from_dict, claim_from_grid, judge_claim, with_hamming_neighbors
from exactcells.errors import ExactCellsError

T = TypeVar("T")

KEYS = ["W", "b", "layers", "units", "box", "A", "c", "regions", "cells", "pattern", "dim", "vertices",
        "neighbors", "format", "version", "x"]

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1/2", "-3/4", "0", "1e-3", "nan", "inf", "1/0", "x", "", " 1", "1_0", "0x10",
                     "1e999999", "-0", "2/-3", "\u0663", "+-0", "relu", "max", "leaky", "+-0+", "1e400",
                     "-1e400", "1e-400", "7e308", "1/3"]),
    st.text(max_size=5),
)
ANY = st.recursive(SCALARS, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                 st.dictionaries(st.sampled_from(KEYS), ch, max_size=4)),
                   max_leaves=12)


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (the root is ``()``)."""
    out = [here]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, here + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, here + (i,))
    return out


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid document with up to three places replaced by hostile values, deleted or
    duplicated (none: the document as it is)."""
    doc = json.loads(json.dumps(draw(valid)))  # a private copy
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            return draw(ANY)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key, how = path[-1], draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if how == "replace":
            parent[key] = draw(st.one_of(SCALARS, ANY))
        elif how == "delete":
            del parent[key]
        elif isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(parent[key])))
        else:
            parent[key] = [parent[key], parent[key]]
    return doc


def _box_doc(n: int) -> st.SearchStrategy[Any]:
    pair = st.tuples(st.integers(-3, 0), st.integers(1, 3)).map(lambda t: [t[0], t[1]])
    return st.lists(pair, min_size=n, max_size=n).map(lambda b: {"box": b})


# a fixed complex to judge claims against: 2-D, two neurons (x and y), four regions
GRID = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
GRID_COMPLEX = build_complex(GRID, Domain.box(2, -1, 1))
GRID_CLAIM = with_hamming_neighbors(claim_from_grid(GRID, Domain.box(2, -1, 1), 4)).to_dict()
GRID_CLAIM["regions"][3]["vertices"] = [[0, 0], [0, 1], [1, 0], ["1", "1/1"]]  # the region x, y > 0
GRID_CLAIM["cells"] = [{"pattern": "00", "dim": 0}, {"pattern": "++", "dim": 2}]

NETWORK_DOCS = mutated(st.one_of(integer_networks(2), unit_networks(2), integer_networks(3, max_depth=2)))
DOMAIN_DOCS = mutated(st.one_of(_box_doc(2), _box_doc(3),
                                st.just({"A": [[1, 0], [0, 1], [-1, -1]], "c": [1, 1, 1]})))
CLAIM_DOCS = mutated(st.just(GRID_CLAIM))
FUZZ = settings(examples(300), suppress_health_check=list(HealthCheck))


def loaded(read: Callable[..., T], *args: Any) -> T | None:
    """``read(*args)``, or None when it refuses the input with an ExactCellsError (both counted
    as hypothesis events)."""
    try:
        out = read(*args)
    except ExactCellsError:
        event("refused")
        return None
    event("loaded")
    return out


@FUZZ
@given(NETWORK_DOCS)
def test_any_network_document_loads_or_is_refused(doc: Any) -> None:
    net = loaded(network_from_dict, doc)
    if net is not None and net.input_dim <= 3 and sum(len(layer.W) for layer in net.layers) <= 12:
        K = build_complex(net, Domain.box(net.input_dim, -1, 1))
        assert K.euler_characteristic == 1


@FUZZ
@given(DOMAIN_DOCS)
def test_any_domain_document_loads_or_is_refused(tmp_path_factory: pytest.TempPathFactory, doc: Any) -> None:
    path: Path = tmp_path_factory.mktemp("dom") / "domain.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    dom = loaded(load_domain, path)
    if dom is None:
        return
    faces, _ = dom.face_lattice()
    # a nonempty polytope of full dimension: the Euler characteristic of its faces is 1
    assert sum((-1) ** f.dim for f in faces) == 1
    # and a network's complex on it, whatever the size of its coordinates
    n = dom.dim
    net = network_from_dict({"layers": [{"W": [[1] * n, [1] + [-1] * (n - 1)], "b": [0, "1/2"]},
                                        {"W": [[1, -1]], "b": [0]}]})
    assert build_complex(net, dom).euler_characteristic == 1


@FUZZ
@given(CLAIM_DOCS)
def test_any_claim_document_is_judged_or_refused(doc: Any) -> None:
    claim = loaded(claim_from_dict, doc)
    if claim is not None:
        loaded(judge_claim, GRID_COMPLEX, claim)


def test_the_unmutated_documents_load() -> None:
    # the fuzzing starts from valid documents: they must load (else it tests only refusals)
    assert GRID_CLAIM["regions"][3]["pattern"] == "11"
    v = judge_claim(GRID_COMPLEX, claim_from_dict(GRID_CLAIM))
    assert (v.num_exact_regions, v.missing, v.spurious_patterns) == (4, (), ())
    assert (v.adjacency_wrong, v.adjacency_missing, v.vertices_wrong, v.vertices_missing) == ((), (), 0, 0)
    assert (v.cells_spurious, v.cells_wrong_dim) == ((), 0)


# -- saved complexes: a certified complex is the complex ---------------------------------------

SAVED_NET = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "1/2"]},
                                          {"W": [[1, 1, 1]], "b": [0]}]})
SAVED = build_complex(SAVED_NET, Domain.box(2, -1, 1))
ARRAY_VALUES = st.one_of(st.integers(-3, 60), st.sampled_from([-(2**62), 2**62, 127, -128, 255]))
TEXT_EDITS = st.sampled_from(["x", "9", "-", "\n", "0", " ", "99999999999999999999", "}", '{"a":1}', "\r"])


@st.composite
def mutated_arrays(draw: st.DrawFn, base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``base`` with one to three edits: an entry changed, an array cut short or dropped, a
    character of a text record (``meta``, ``vertex_coords``) replaced."""
    arrs = {k: v.copy() for k, v in base.items()}
    for _ in range(draw(st.integers(1, 3))):
        if not arrs:
            break
        name = draw(st.sampled_from(sorted(arrs)))
        a = arrs[name]
        how = draw(st.sampled_from(["entry", "entry", "truncate", "drop", "text"]))
        if how == "drop":
            del arrs[name]
        elif how == "truncate" and a.size:
            arrs[name] = a[: draw(st.integers(0, a.shape[0] - 1))]
        elif how == "text" and name in ("meta", "vertex_coords") and a.size:
            text = bytes(a).decode("utf-8", "replace")
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + draw(TEXT_EDITS) + text[i + 1:]
            arrs[name] = np.frombuffer(text.encode(), dtype=np.uint8)
        elif a.size:
            flat = a.reshape(-1).copy()
            value = draw(st.integers(0, 255)) if a.dtype == np.uint8 else draw(ARRAY_VALUES)
            flat[draw(st.integers(0, flat.size - 1))] = np.array(value).astype(a.dtype)
            arrs[name] = flat.reshape(a.shape)
    return arrs


@pytest.fixture(scope="module")
def saved_arrays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    path = tmp_path_factory.mktemp("saved") / "k.npz"
    SAVED.save(path)
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@FUZZ
@given(data=st.data())
def test_an_edited_complex_file_is_refused_rejected_or_the_complex(
        tmp_path_factory: pytest.TempPathFactory, saved_arrays: dict[str, np.ndarray], data: st.DataObject) -> None:
    # the complex of a network on a domain is unique: whatever the certificate certifies must be
    # it (same cells, facets and exact vertices); anything else is refused or rejected
    arrs = data.draw(mutated_arrays(saved_arrays))
    path = tmp_path_factory.mktemp("edited") / "k.npz"
    np.savez(path, **arrs)  # type: ignore[arg-type]
    try:
        K = load_complex(path)
        cert = certify(K)
    except ExactCellsError:
        event("refused")
        return
    assert isinstance(K, PolyhedralComplex)
    event("certified" if cert.certified else "rejected")
    if cert.certified:
        assert np.array_equal(K.dims, SAVED.dims) and np.array_equal(K.signs, SAVED.signs)
        assert all(np.array_equal(a, b) for a, b in zip(K.facet_csr, SAVED.facet_csr))
        assert [K.vertex(v) for v in range(K.f_vector[0])] == [SAVED.vertex(v) for v in range(SAVED.f_vector[0])]
