"""The exact dual graph of the regions of a complex, and where points fall in it.

The **dual graph** of a polyhedral complex ``K`` that subdivides a polytope domain has one node
per top-dimensional cell (region) and one edge per ``(n-1)``-cell with exactly two cofacets: the
two regions that share it. Cells of a polyhedral complex meet in a common face, so two regions
share at most one ``(n-1)``-cell and the graph has no multi-edges; ``(n-1)``-cells with one
cofacet lie on the domain's boundary. Because the domain is convex, the dual graph is connected.

Everything here is exact: volumes and centroids are :class:`~fractions.Fraction`, the
``(n-1)``-volume of a shared facet is ``coefficient * sqrt(radicand)`` with a rational
coefficient and an integer radicand (:class:`FacetVolume`), and points are located in regions
by exact sign vectors. Float values appear only in attributes named ``*_float`` or ``value``.

Node numbering: node ``i`` is the region ``K.regions()[i]``, i.e. regions in canonical order
(by sign vector).

The paper's proxy (arXiv 2510.12700) joins two regions whose binary activation patterns differ
in exactly one neuron (:func:`hamming_proxy_edges`); :func:`compare_proxy` gives its precision
and recall against the exact dual graph. For one hidden layer with pairwise distinct
hyperplanes the two graphs coincide; for deeper networks they need not.

Examples
--------
>>> from exactcells import Domain, build_complex, network_from_dict
>>> net = network_from_dict({"layers": [{"W": [[1, 0], [1, 0]], "b": ["1/2", "-1/2"]},
...                                     {"W": [[1, 1]], "b": [0]}]})
>>> K = build_complex(net, Domain.box(2, -1, 1))
>>> G = dual_graph(K)
>>> G.num_nodes, G.num_edges
(3, 2)
>>> [v.volume for v in region_nodes(K)]  # x < -1/2, -1/2 < x < 1/2, x > 1/2
[Fraction(1, 1), Fraction(2, 1), Fraction(1, 1)]
>>> facet_volumes(K, G.edge_cells)[0].squared
Fraction(4, 1)
"""


from __future__ import annotations

from .graph import DualGraph, dual_graph, to_networkx
from .loading import load_points
from .nodes import (
    RegionNode,
    class_volumes,
    region_argmax_volumes,
    region_class_volumes,
    region_nodes,
    region_volumes_and_centroids,
)
from .points import PointLocation, locate_points
from .proxy import ProxyComparison, binary_patterns, compare_proxy, hamming_proxy_edges
from .volumes import FacetVolume, facet_volume, facet_volumes

__all__ = [
    "DualGraph",
    "RegionNode",
    "FacetVolume",
    "PointLocation",
    "ProxyComparison",
    "dual_graph",
    "region_nodes",
    "region_volumes_and_centroids",
    "facet_volume",
    "facet_volumes",
    "region_class_volumes",
    "region_argmax_volumes",
    "class_volumes",
    "to_networkx",
    "binary_patterns",
    "hamming_proxy_edges",
    "compare_proxy",
    "locate_points",
    "load_points",
]
