"""Certificates: pass on correct complexes (degenerate ones included), catch every corruption.

Corrupted complexes are assembled directly from modified arrays (:func:`rebuild`), so the
certificate sees exactly what a buggy builder or a foreign tool would hand it.
"""

from __future__ import annotations

from typing import Any

import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.certify import certify


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
    cert = certify(K, cdd_regions=None)
    assert cert.certified, cert.summary()
    assert cert.total_volume == cert.domain_volume == 2 ** n
    assert cert.euler_characteristic == 1
    assert cert.cdd_regions_checked == K.num_regions
    assert not cert.failures and not cert.failure_kinds


@pytest.mark.parametrize("name,net,n", DEGENERATE[:6], ids=[d[0] for d in DEGENERATE[:6]])
def test_certificate_passes_with_output_refinement(name: str, net: Any, n: int) -> None:
    K = build_complex(net, Domain.box(n, -1, 1), with_output=True)
    cert = certify(K, cdd_regions=None)
    assert cert.certified, cert.summary()
