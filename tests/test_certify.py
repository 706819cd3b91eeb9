"""Certificates: pass on correct complexes (degenerate ones included), catch every corruption.

Corrupted complexes are assembled directly from modified arrays (:func:`rebuild`), so the
certificate sees exactly what a buggy builder or a foreign tool would hand it.
"""

from __future__ import annotations

import json
from fractions import Fraction
from math import lcm
from typing import Any

import numpy as np
import pytest

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict
from exactcells.certify import (
    FAILURE_KINDS,
    Certificate,
    certify,
    exact_sign_vectors,
    sign_key,
)

# every test twice, with the GMP module and with the pure-Python path (conftest.exact_path):
# every corruption must be caught, and named, by both
pytestmark = pytest.mark.usefixtures("exact_path")


def net_of(*layers: tuple[list[list[Any]], list[Any]], out: int = 1) -> Any:
    d = {"layers": [{"W": W, "b": b} for W, b in layers]}
    d["layers"].append({"W": [[1] * len(layers[-1][1])] * out, "b": [0] * out})
    return network_from_dict(d)


# (name, network, dimension): every degenerate situation the builder's tests know
DEGENERATE = [
    ("two_lines", net_of(([[1, 0], [0, 1]], [0, 0])), 2),
    ("duplicated_neurons", net_of(([[1, 1], [1, 1], [2, 2]], [0, 0, 0])), 2),
    ("neuron_and_negative", net_of(([[1, -1], [-1, 1], [0, 1]], [0, 0, "1/3"])), 2),
    ("dead_neuron", net_of(([[1, 0], [0, 0], [1, 1]], [0, -1, 0])), 2),
    ("identically_zero_neuron", net_of(([[1, 0], [0, 0]], [0, 0])), 2),
    ("dead_neuron_touching_corner", net_of(([[1, 1], [1, 0]], [-2, "1/2"])), 2),
    ("deep_zero_on_a_region", net_of(([[1, 0], [0, 1]], [0, 0]), ([[1, 0], [-1, 0], [0, 0]], [0, 0, 0])), 2),
    ("deep_duplicate_of_first_layer", net_of(([[1, 0], [0, 1]], [0, "1/2"]), ([[1, 0], [1, 1]], [0, -1])), 2),
    ("three_lines_concurrent", net_of(([[1, 0], [0, 1], [1, 1]], ["-0.1", "-0.2", "-0.3"])), 2),
    ("four_lines_concurrent", net_of(([[1, 0], [0, 1], [1, 1], [1, -1]], [0, 0, 0, 0])), 2),
    ("zero_set_on_box_facet", net_of(([[1, 0], [0, 1]], [1, 0])), 2),
    ("line_through_two_corners", net_of(([[1, 1], [1, -2]], [0, "1/5"])), 2),
    ("line_through_one_corner", net_of(([[1, 2]], [3])), 2),
    ("three_layers_dead_and_zero",
     net_of(([[1, 0], [0, 1], [1, -1]], [0, 0, "1/4"]), ([[1, 1, 0], [0, 0, 0], [-1, 0, 1]], [0, -1, 0]),
            ([[1, -1, 1], [0, 0, 0]], ["-1/3", 0])), 2),
    ("plane_through_cube_edge", net_of(([[1, 1, 0], [0, 0, 1]], [2, 0])), 3),
    ("three_planes_through_a_line", net_of(([[1, 0, 0], [0, 1, 0], [1, 1, 0]], [0, 0, 0])), 3),
    ("plane_touching_a_corner", net_of(([[1, 1, 1], [1, -1, 0]], [3, 0])), 3),
    ("deep_3d", net_of(([[1, 0, 1], [0, 1, -1], [1, 1, 1]], [0, "1/3", 0]), ([[1, -1, 1], [1, 1, 0]], [0, "-1/2"])), 3),
]


@pytest.mark.parametrize("name,net,n", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_certificate_passes_on_degenerate_networks(name: str, net: Any, n: int) -> None:
    K = build_complex(net, Domain.box(n, -1, 1))
    cert = certify(K, cdd_regions=None, volumes=True)
    assert cert.certified, cert.summary()
    assert cert.total_volume == cert.domain_volume == 2 ** n
    assert cert.euler_characteristic == 1
    assert cert.cdd_regions_checked == K.num_regions
    assert not cert.failures and not cert.failure_kinds


def test_default_certificate_is_the_structural_proof(K3: PolyhedralComplex) -> None:
    """Volumes are an opt-in cross-check: the default runs the structural checks and the Euler
    characteristic, computes no volume, and still catches a removed region (structurally)."""
    cert = certify(K3)
    assert cert.certified and cert.total_volume is None and cert.domain_volume is None
    names = [c.name for c in cert.checks]
    assert "volumes" not in names and {"vertex_signs", "cell_signs", "intervals", "walls"} <= set(names)
    r = next(r for r in K3.regions() if interior(K3, r))
    broken = certify(rebuild(K3, [c for c in cells_of(K3) if c["id"] != r]))
    assert not broken.certified and "missing_region" in broken.failure_kinds
    assert "volume" not in broken.failure_kinds


@pytest.mark.parametrize("name,net,n", DEGENERATE[:6], ids=[d[0] for d in DEGENERATE[:6]])
def test_certificate_passes_with_output_refinement(name: str, net: Any, n: int) -> None:
    K = build_complex(net, Domain.box(n, -1, 1), with_output=True)
    cert = certify(K, cdd_regions=None)
    assert cert.certified, cert.summary()


# -- corruptions --------------------------------------------------------------------------------

Cells = list[dict[str, Any]]


def cells_of(K: PolyhedralComplex) -> Cells:
    """The complex as editable Python data (facets by old index; vertices homogeneous)."""
    f0 = K.f_vector[0]
    return [{"id": i, "dim": K.dim(i), "sign": K.sign_vector(i), "facets": list(K.facets(i)),
             "vertex": K.vertex_homogeneous(i) if i < f0 else None} for i in range(K.num_cells)]


def rebuild(K: PolyhedralComplex, cells: Cells) -> PolyhedralComplex:
    """A complex from edited cells, renumbered canonically (links to removed cells dropped)."""
    cells = sorted(cells, key=lambda c: (c["dim"], c["sign"]))
    new = {c["id"]: i for i, c in enumerate(cells)}
    indptr = [0]
    indices: list[int] = []
    for c in cells:
        fs = sorted(new[f] for f in c["facets"] if f in new)
        indices.extend(fs)
        indptr.append(len(indices))
    return PolyhedralComplex(
        network=K.network, domain=K.domain, with_output=K.with_output,
        dims=np.array([c["dim"] for c in cells], dtype=np.int8),
        signs=np.array([c["sign"] for c in cells], dtype=np.int8),
        facet_indptr=np.array(indptr, dtype=np.int64),
        facet_indices=np.array(indices, dtype=np.int64),
        vertex_coords=[c["vertex"] for c in cells if c["dim"] == 0],
    )


NET2 = net_of(([[1, 0], [0, 1], [1, 1], [1, -2]], [0, "1/3", "-1/2", "1/5"]),
              ([[1, -1, 1, 0], [0, 1, 1, -1]], ["1/7", "-1/4"]))
NET3 = net_of(([[1, 0, 1], [0, 1, -1], [1, 1, 1], [2, -1, 0]], [0, "1/3", "-1/4", "1/5"]),
              ([[1, -1, 1, 1]], ["1/6"]))


@pytest.fixture(scope="module")
def K2() -> PolyhedralComplex:
    return build_complex(NET2, Domain.box(2, -1, 1))


@pytest.fixture(scope="module")
def K3() -> PolyhedralComplex:
    return build_complex(NET3, Domain.box(3, -1, 1))


def interior(K: PolyhedralComplex, i: int) -> bool:
    dom = K.sign_slices()["domain_facets"]
    return all(s == 1 for s in K.sign_vector(i)[dom])


def test_the_fixtures_are_certified(K2: PolyhedralComplex, K3: PolyhedralComplex) -> None:
    for K in (K2, K3):
        cert = certify(K, cdd_regions=None)
        assert cert.certified, cert.summary()
        assert rebuild(K, cells_of(K)).f_vector == K.f_vector
        assert certify(rebuild(K, cells_of(K))).certified


@pytest.mark.parametrize("which", ["K2", "K3"])
def test_removed_top_cell(which: str, request: pytest.FixtureRequest) -> None:
    K = request.getfixturevalue(which)
    r = next(r for r in K.regions() if interior(K, r))
    cells = [c for c in cells_of(K) if c["id"] != r]
    cert = certify(rebuild(K, cells), volumes=True)
    assert not cert.certified
    assert "missing_region" in cert.failure_kinds
    # the witness names the removed region's sign vector, found just across one of its walls
    assert any(f.kind == "missing_region" and f.expected == sign_key(K.sign_vector(r))
               for f in cert.failures)
    assert cert.total_volume == cert.domain_volume - K.volume(r)
    assert "volume" in cert.failure_kinds and "euler_characteristic" in cert.failure_kinds


@pytest.mark.parametrize("which,dim", [("K2", 1), ("K2", 0), ("K3", 2), ("K3", 1)])
def test_removed_lower_cell(which: str, dim: int, request: pytest.FixtureRequest) -> None:
    K = request.getfixturevalue(which)
    i = next(i for i in K.cells_of_dim(dim) if interior(K, i))
    cells = [c for c in cells_of(K) if c["id"] != i]
    cert = certify(rebuild(K, cells))
    assert not cert.certified
    assert "missing_cell" in cert.failure_kinds, cert.summary()
    assert "dropped_facet_link" not in cert.failure_kinds


@pytest.mark.parametrize("which", ["K2", "K3"])
def test_moved_vertex(which: str, request: pytest.FixtureRequest) -> None:
    K = request.getfixturevalue(which)
    v = next(v for v in K.cells_of_dim(0) if interior(K, v))
    cells = cells_of(K)
    h = list(cells[v]["vertex"])
    h[0] += 1  # x_1 moves by 1/D
    cells[v]["vertex"] = tuple(h)
    cert = certify(rebuild(K, cells))
    assert not cert.certified
    assert "vertex_moved" in cert.failure_kinds
    (f,) = [f for f in cert.failures if f.kind == "vertex_moved"]
    assert f.cell == v and f.found == sign_key(K.sign_vector(v)) and f.expected != f.found
    assert f.point == tuple(str(Fraction(x, h[-1])) for x in h[:-1])
    assert "sign_vector_wrong" not in cert.failure_kinds


@pytest.mark.parametrize("which,dim", [("K2", 2), ("K2", 1), ("K3", 3), ("K3", 2)])
def test_wrong_sign_vector(which: str, dim: int, request: pytest.FixtureRequest) -> None:
    K = request.getfixturevalue(which)
    nh = K.network.num_hidden
    cells = cells_of(K)
    present = {c["sign"] for c in cells}
    for i in K.cells_of_dim(dim):
        s = list(K.sign_vector(i))
        j = next((j for j in range(nh) if s[j] != 0), None)
        if j is None:
            continue
        s[j] = -s[j]
        if tuple(s) not in present:
            break
    cells[i]["sign"] = tuple(s)
    cert = certify(rebuild(K, cells))
    assert not cert.certified
    assert "sign_vector_wrong" in cert.failure_kinds
    assert any(f.kind == "sign_vector_wrong" and f.expected == sign_key(K.sign_vector(i))
               and f.found == sign_key(s) for f in cert.failures)


@pytest.mark.parametrize("value", [2, 127, -2])
def test_a_sign_entry_outside_minus_one_to_one_is_a_format_failure(value: int, K2: PolyhedralComplex) -> None:
    # a top cell's '+' entry written as 2 or 127, or a '-' as -2 (read as the sign, they passed)
    cells = cells_of(K2)
    want = 1 if value > 0 else -1
    i = next(int(i) for i in K2.cells_of_dim(2) if want in cells[i]["sign"])
    s = list(cells[i]["sign"])
    j = s.index(want)
    s[j] = value
    cells[i]["sign"] = tuple(s)
    cert = certify(rebuild(K2, cells))
    assert not cert.certified
    assert any(f.kind == "format" and "not -1, 0 or 1" in f.message for f in cert.failures)


def test_a_wall_without_vertices_is_reported_not_raised(K2: PolyhedralComplex) -> None:
    # an interior edge stripped of its vertices and unlinked from one of its two regions: the
    # walls check looks beyond it for the missing region and has no point to look from (before:
    # an IndexError from the certificate)
    cells = cells_of(K2)
    w = next(int(i) for i in K2.cells_of_dim(1) if interior(K2, int(i)))
    cells[w]["facets"] = []
    top = next(c for c in cells if c["dim"] == 2 and w in c["facets"])
    top["facets"].remove(w)
    cert = certify(rebuild(K2, cells))
    assert not cert.certified
    assert "missing_region" in cert.failure_kinds


@pytest.mark.parametrize("which,dim", [("K2", 2), ("K2", 1), ("K3", 3), ("K3", 2), ("K3", 1)])
def test_dropped_facet_link(which: str, dim: int, request: pytest.FixtureRequest) -> None:
    K = request.getfixturevalue(which)
    i = next(i for i in K.cells_of_dim(dim) if interior(K, i))
    cells = cells_of(K)
    j = next(j for j, f in enumerate(cells[i]["facets"]) if interior(K, f))
    cells[i]["facets"].pop(j)
    cert = certify(rebuild(K, cells))
    assert not cert.certified
    assert "dropped_facet_link" in cert.failure_kinds, cert.summary()
    assert "missing_cell" not in cert.failure_kinds and "missing_region" not in cert.failure_kinds


def test_extra_top_cell(K2: PolyhedralComplex) -> None:
    cells = cells_of(K2)
    r = K2.regions()[0]
    present = {c["sign"] for c in cells}
    nh = K2.network.num_hidden
    s = list(K2.sign_vector(r))
    for j in range(nh):
        t = s.copy()
        t[j] = -t[j] if t[j] else 1
        if tuple(t) not in present:
            break
    cells.append({"id": -1, "dim": 2, "sign": tuple(t), "facets": list(K2.facets(r)), "vertex": None})
    cert = certify(rebuild(K2, cells), volumes=True)
    assert not cert.certified
    assert "extra_cell" in cert.failure_kinds
    assert any(f.kind == "extra_cell" and f.key == sign_key(t) for f in cert.failures)
    assert cert.total_volume == cert.domain_volume + K2.volume(r)


def test_extra_vertex(K2: PolyhedralComplex) -> None:
    """A point in the middle of an edge, claimed as a vertex: its key is the edge's."""
    cells = cells_of(K2)
    e = next(e for e in K2.cells_of_dim(1) if interior(K2, e))
    p = K2.interior_point(e)
    den = lcm(*(x.denominator for x in p))
    cells.append({"id": -1, "dim": 0, "sign": K2.sign_vector(e), "facets": [],
                  "vertex": tuple(int(x * den) for x in p) + (den,)})
    cert = certify(rebuild(K2, cells))
    assert not cert.certified
    assert cert.failure_kinds == {"extra_cell", "euler_characteristic"}, cert.summary()


def test_cdd_recomputation_catches_corruptions_too(K2: PolyhedralComplex) -> None:
    cells = cells_of(K2)
    v = next(v for v in K2.cells_of_dim(0) if interior(K2, v))
    h = list(cells[v]["vertex"])
    h[1] -= 1
    cells[v]["vertex"] = tuple(h)
    cert = certify(rebuild(K2, cells), cdd_regions=None)
    assert "cdd_mismatch" in cert.failure_kinds


def test_certificate_json_and_records(K3: PolyhedralComplex) -> None:
    cert = certify(K3, volumes=True)
    d = json.loads(cert.to_json())
    assert d["certified"] is True
    assert d["total_volume"] == d["domain_volume"] == "8"
    assert set(d["checks"]) >= {"vertex_signs", "facet_links", "cell_signs", "intervals", "walls",
                                "euler_characteristic", "volumes"}
    assert all(c["passed"] for c in d["checks"].values())
    extra = certify(K3, affine_dims=True, interior_forward=True)
    assert extra.certified and {"affine_dims", "cell_signs"} <= {c.name for c in extra.checks}
    assert "forward pass" in extra.check("cell_signs").detail
    assert d["f_vector"] == list(K3.f_vector)
    assert isinstance(cert, Certificate)
    with pytest.raises(AttributeError):
        cert.certified = False  # type: ignore[misc]
    assert set(FAILURE_KINDS) >= {"missing_region", "missing_cell", "vertex_moved",
                                  "sign_vector_wrong", "dropped_facet_link", "extra_cell"}


def test_exact_sign_vectors_match_forward_passes(K3: PolyhedralComplex) -> None:
    pts = [(1, 2, -3, 7), (0, 0, 0, 1), (5, -5, 5, 5), (1, 1, 1, 3)]
    got = exact_sign_vectors(K3.network, K3.domain, pts)
    for p, row in zip(pts, got):
        x = [Fraction(a, p[-1]) for a in p[:-1]]
        assert tuple(row) == K3.network.hidden_signs(x) + K3.domain.facet_signs(x)


# -- property: random small integer networks (often degenerate) are certified ----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def small_networks(draw: st.DrawFn) -> tuple[Any, int]:
    n = draw(st.integers(2, 3))
    w1 = draw(st.integers(1, 4))
    ints = st.integers(-2, 2)
    W1 = [[draw(ints) for _ in range(n)] for _ in range(w1)]
    b1 = [draw(ints) for _ in range(w1)]
    layers = [(W1, b1)]
    if draw(st.booleans()):
        w2 = draw(st.integers(1, 3))
        layers.append(([[draw(ints) for _ in range(w1)] for _ in range(w2)], [draw(ints) for _ in range(w2)]))
    return net_of(*layers), n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks(), st.booleans())
def test_random_integer_networks_are_certified(nn: tuple[Any, int], with_output: bool) -> None:
    net, n = nn
    K = build_complex(net, Domain.box(n, -1, 1), with_output=with_output)
    cert = certify(K, cdd_regions=3, volumes=True)
    assert cert.certified, cert.summary()
    assert cert.total_volume == 2 ** n


def test_four_dimensional_network_with_cdd() -> None:
    net = net_of(([[1, 0, 0, 1], [0, 1, -1, 0], [1, 1, 1, 1], [0, 0, 1, -2]], [0, "1/3", "-1/2", "1/5"]),
                 ([[1, -1, 1, 1], [0, 1, 1, -1]], ["1/7", 0]))
    K = build_complex(net, Domain.box(4, -1, 1))
    cert = certify(K, cdd_regions=None, volumes=True)
    assert cert.certified, cert.summary()
    assert cert.total_volume == 16 and cert.cdd_regions_checked == K.num_regions


def _fraction_signs(net: Any, dom: Domain, h: tuple[int, ...]) -> tuple[int, ...]:
    """Sign vector of a homogeneous point by the Fraction forward pass (an independent path)."""
    x = [Fraction(v, h[-1]) for v in h[:-1]]
    return net.hidden_signs(x) + dom.facet_signs(x) + net.output_signs(x)


@pytest.mark.parametrize("name,net,n", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_integer_signs_equal_fraction_signs_on_degenerate_networks(name: str, net: Any, n: int) -> None:
    """The certificate's integer sign vectors equal the Fraction forward pass, zeros included."""
    K = build_complex(net, Domain.box(n, -1, 1), with_output=True)
    f0 = K.f_vector[0]
    H = [K.vertex_homogeneous(v) for v in range(f0)]
    # vertices, and sums of vertex pairs (points on edges and inside cells)
    H += [tuple(a + b for a, b in zip(H[i], H[(7 * i + 3) % f0])) for i in range(f0)]
    got = exact_sign_vectors(K.network, K.domain, H, True)
    assert [tuple(int(v) for v in row) for row in got] == [_fraction_signs(net, K.domain, h) for h in H]
    assert np.array_equal(got[:f0], np.asarray(K.signs[:f0]))


@settings(max_examples=40, deadline=None)
@given(small_networks(), st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6), st.integers(-6, 6),
                                            st.integers(1, 6)), min_size=1, max_size=12))
def test_integer_signs_property(nn: tuple[Any, int], pts: list[tuple[int, ...]]) -> None:
    net, n = nn
    dom = Domain.box(n, -1, 1)
    H = [p[:n] + (p[3],) for p in pts]
    got = exact_sign_vectors(net, dom, H, True)
    assert [tuple(int(v) for v in row) for row in got] == [_fraction_signs(net, dom, h) for h in H]


@pytest.mark.parametrize("jobs", [2, 3])
def test_volumes_in_worker_processes_equal_one_process(jobs: int, K3: PolyhedralComplex) -> None:
    one = certify(K3, jobs=1, volumes=True)
    many = certify(K3, jobs=jobs, volumes=True)
    assert one.certified and many.certified
    assert many.total_volume == one.total_volume == 8
    assert ("processes" in many.check("volumes").detail) == (K3.num_regions >= jobs)
    # a removed region is caught the same way when its volume is summed in a worker
    r = [r for r in K3.regions() if interior(K3, r)][-1]
    broken = rebuild(K3, [c for c in cells_of(K3) if c["id"] != r])
    cert = certify(broken, jobs=jobs, volumes=True)
    assert cert.total_volume == 8 - K3.volume(r) and "volume" in cert.failure_kinds


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_jobs_must_be_a_positive_integer(bad: Any, K2: PolyhedralComplex) -> None:
    from exactcells.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="jobs"):
        certify(K2, jobs=bad)
