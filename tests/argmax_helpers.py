"""Argmax complexes for the multiclass tests.

``argmax_complex`` is the engine's (``build_complex(..., refine="argmax")``);
``argmax_from_difference`` is an independent construction of the two-output one from the zero
refinement of the difference network ``F_0 - F_1``: ``sign(F_0 - F_1) = +1, -1, 0`` maps to the
argmax entries ``(0, -1), (-1, 0), (0, 0)``, and the cells are put back in canonical order.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from exactcells import Domain, PolyhedralComplex, build_complex
from exactcells.network import Network

_MAP = {1: (0, -1), -1: (-1, 0), 0: (0, 0)}


def difference_network(net: Network) -> Network:
    last = net.layers[-1]
    W = (tuple(a - b for a, b in zip(last.W[0], last.W[1])),)
    b = (last.b[0] - last.b[1],)
    return Network(net.layers[:-1] + (replace(last, W=W, b=b),))


def argmax_from_difference(net: Network, dom: Domain) -> PolyhedralComplex:
    """The two-output argmax complex built from the difference network's zero refinement."""
    assert net.output_dim == 2
    Z = build_complex(difference_network(net), dom, with_output=True)
    old = np.asarray(Z.signs)
    rows = np.array([list(r[:-1]) + list(_MAP[int(r[-1])]) for r in old], dtype=np.int8)
    dims = np.asarray(Z.dims)
    perm = np.lexsort(tuple(rows[:, c] for c in range(rows.shape[1] - 1, -1, -1)) + (dims,))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    ptr, ind = Z.facet_csr
    new_ptr = [0]
    new_ind: list[int] = []
    for o in perm.tolist():
        new_ind += sorted(int(inv[f]) for f in ind[ptr[o] : ptr[o + 1]])
        new_ptr.append(len(new_ind))
    f0 = Z.f_vector[0]
    return PolyhedralComplex(
        network=net, domain=dom, with_output=True, output_refinement="argmax", dims=dims[perm].copy(), signs=rows[perm].copy(),
        facet_indptr=np.array(new_ptr, dtype=np.int64), facet_indices=np.array(new_ind, dtype=np.int64),
        vertex_coords=[Z.vertex_homogeneous(int(o)) for o in perm[:f0]])


def argmax_complex(net: Network, dom: Domain) -> PolyhedralComplex:
    return build_complex(net, dom, with_output=True, refine="argmax")


def zero_complex(net: Network, dom: Domain) -> PolyhedralComplex:
    return build_complex(net, dom, with_output=True, refine="zero")
