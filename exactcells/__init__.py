"""exactcells: the exact polyhedral complex of a ReLU network, and its topology.

Quick start
-----------
>>> from exactcells import network_from_dict, build_complex, Domain
>>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "-1/2"]},
...                                     {"W": [[1, -1, 1]], "b": [0]}]})
>>> K = build_complex(net, Domain.box(2, -1, 1))
>>> K.f_vector, K.euler_characteristic
((13, 19, 7), 1)
"""

from .build import build_complex
from .complex import Cell, PolyhedralComplex, load_complex
from .domain import Domain, load_domain
from .errors import (
    CellLimitExceeded,
    EmptyDomainError,
    ExactCellsError,
    FlatDomainError,
    IncompleteComplexError,
    InvalidDomainError,
    InvalidNetworkError,
    NonRationalInputError,
    UnboundedDomainError,
)
from .network import (
    Network,
    load_network,
    network_from_arrays,
    network_from_dict,
    network_from_torch,
    round_network,
    save_network,
)

__version__ = "0.1.0"

__all__ = [
    "build_complex",
    "Cell",
    "PolyhedralComplex",
    "load_complex",
    "Domain",
    "load_domain",
    "Network",
    "load_network",
    "network_from_arrays",
    "network_from_dict",
    "network_from_torch",
    "round_network",
    "save_network",
    "ExactCellsError",
    "InvalidNetworkError",
    "NonRationalInputError",
    "InvalidDomainError",
    "EmptyDomainError",
    "UnboundedDomainError",
    "FlatDomainError",
    "CellLimitExceeded",
    "IncompleteComplexError",
    "__version__",
]
