"""The dual graph of the regions of a complex: one node per region, one edge per shared
``(n-1)``-cell (read off the face poset; no geometry), and its networkx export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import IncompleteComplexError, InvalidArgumentError
from .nodes import RegionNode, region_nodes
from .volumes import FacetVolume, facet_volumes

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["DualGraph", "dual_graph", "to_networkx"]


# -- the graph ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DualGraph:
    """The dual graph of the regions of a complex (topology only; see :func:`region_nodes`
    and :func:`facet_volumes` for the exact attributes).

    Attributes
    ----------
    complex
        The complex whose regions are the nodes.
    edges
        ``(E, 2)`` int64 array of node pairs ``(i, j)`` with ``i < j``, sorted (read-only).
    edge_cells
        ``(E,)`` int64 array: the ``(n-1)``-cell the two regions of each edge share (read-only).
    """

    complex: PolyhedralComplex
    edges: np.ndarray
    edge_cells: np.ndarray

    @property
    def num_nodes(self) -> int:
        return self.complex.num_regions

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def region_cells(self) -> range:
        """The cell index of every node (node ``i`` is cell ``region_cells[i]``)."""
        return self.complex.regions()

    def node_of_cell(self, cell: int) -> int:
        """The node of a top cell (``ValueError`` for a lower-dimensional cell)."""
        r = self.complex.regions()
        if cell not in r:
            raise InvalidArgumentError(f"cell {cell} is not a region (regions are cells {r.start}..{r.stop - 1})")
        return cell - r.start

    def edge_set(self) -> set[tuple[int, int]]:
        """The edges as a set of node pairs ``(i, j)`` with ``i < j``."""
        return {(int(a), int(b)) for a, b in self.edges}

    def degrees(self) -> np.ndarray:
        """Number of neighbours of every node."""
        return np.bincount(self.edges.ravel(), minlength=self.num_nodes)


def dual_graph(K: PolyhedralComplex) -> DualGraph:
    """The exact dual graph of the regions of ``K`` (vectorized; no geometry is computed).

    Raises
    ------
    IncompleteComplexError
        When an ``(n-1)``-cell has more than two cofacets or two regions share two cells
        (impossible in a complete complex).
    """
    n = K.input_dim
    ptr, ind = K.cofacet_csr()
    regions = K.regions()
    ridges = K.cells_of_dim(n - 1)
    counts = np.diff(ptr[ridges.start : ridges.stop + 1])
    if counts.size and int(counts.max()) > 2:
        bad = int(np.argmax(counts)) + ridges.start
        raise IncompleteComplexError(f"the (n-1)-cell {bad} has {int(counts.max())} cofacets (at most 2 "
                                     "in a polyhedral complex of a polytope)")
    sel = np.nonzero(counts == 2)[0].astype(np.int64) + ridges.start
    a = ind[ptr[sel]].astype(np.int64)
    b = ind[ptr[sel] + 1].astype(np.int64)
    i = np.minimum(a, b) - regions.start
    j = np.maximum(a, b) - regions.start
    order = np.lexsort((j, i))
    edges = np.stack([i[order], j[order]], axis=1) if sel.size else np.zeros((0, 2), dtype=np.int64)
    cells = sel[order]
    if edges.shape[0] > 1:
        same = np.all(edges[1:] == edges[:-1], axis=1)
        if same.any():
            k = int(np.argmax(same))
            raise IncompleteComplexError(f"regions {regions.start + edges[k, 0]} and "
                                         f"{regions.start + edges[k, 1]} share two (n-1)-cells")
    edges.setflags(write=False)
    cells.setflags(write=False)
    return DualGraph(K, edges, cells)


# -- networkx export ---------------------------------------------------------------------------
def to_networkx(
    G: DualGraph,
    nodes: Sequence[RegionNode] | None = None,
    volumes: Sequence[FacetVolume] | None = None,
) -> nx.Graph:
    """The dual graph as a :class:`networkx.Graph` with every exact attribute.

    Node ``i`` carries the fields of :class:`RegionNode` (``cell``, ``sign_vector``, ``volume``,
    ``volume_float``, ``centroid``, ``centroid_float``, ``output_signs``, ``output_class``,
    ``output_changes_sign``); edge ``(i, j)`` carries ``cell`` (the shared cell),
    ``volume`` (:class:`FacetVolume`), ``volume_squared`` (Fraction) and ``volume_float``.
    ``nodes`` and ``volumes`` are computed when not given.
    """
    import networkx as nx

    K = G.complex
    if nodes is None:
        nodes = region_nodes(K)
    if volumes is None:
        volumes = facet_volumes(K, G.edge_cells)
    g = nx.Graph()
    for v in nodes:
        g.add_node(v.node, cell=v.cell, sign_vector=v.sign_vector, volume=v.volume,
                   volume_float=v.volume_float, centroid=v.centroid, centroid_float=v.centroid_float,
                   output_signs=v.output_signs, output_class=v.output_class,
                   output_changes_sign=v.output_changes_sign)
    for (a, b), c, vol in zip(G.edges.tolist(), G.edge_cells.tolist(), volumes):
        g.add_edge(a, b, cell=c, volume=vol, volume_squared=vol.squared, volume_float=vol.value)
    return g
