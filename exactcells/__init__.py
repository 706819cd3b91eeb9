"""exactcells: the exact polyhedral complex of a ReLU network, and its topology.

The public API is :data:`__all__`: load a network, build its complex on a domain, certify it,
and read off its homology, persistence, dual graph, Fiedler vector and (through training) its
tracked signatures. Everything else lives in the submodules (``exactcells.topology``,
``exactcells.dual``, ``exactcells.spectral``, ...), which document their own, larger APIs; their
``__all__`` lists what they offer to users, not their helpers. docs/architecture.md maps the
modules.

Quick start
-----------
>>> from exactcells import network_from_dict, build_complex, Domain
>>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "-1/2"]},
...                                     {"W": [[1, -1, 1]], "b": [0]}]})
>>> K = build_complex(net, Domain.box(2, -1, 1))
>>> K.f_vector, K.euler_characteristic
((13, 19, 7), 1)
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .certify import Certificate, certify
    from .dual import DualGraph, dual_graph
    from .spectral import FiedlerResult, dual_fiedler
    from .topology import betti_curves, homology, make_filtration, persistence
    from .tracking import load_snapshots, track

__version__ = "0.1.0"

#: The public API (pinned by tests/test_architecture.py).
__all__ = [
    # networks and domains
    "Network",
    "load_network",
    "network_from_dict",
    "save_network",
    "Domain",
    "load_domain",
    # the complex
    "build_complex",
    "PolyhedralComplex",
    "Cell",
    "load_complex",
    # its independent certificate
    "certify",
    "Certificate",
    # topology
    "homology",
    "make_filtration",
    "persistence",
    "betti_curves",
    # the dual graph and its Fiedler vector
    "dual_graph",
    "DualGraph",
    "dual_fiedler",
    "FiedlerResult",
    # through training
    "track",
    "load_snapshots",
    # the base of every error (the others: exactcells.errors)
    "ExactCellsError",
    "__version__",
]

# names importable from here for compatibility, not advertised in __all__ (their modules export them)
_COMPATIBLE = (network_from_arrays, network_from_torch, round_network, CellLimitExceeded, EmptyDomainError,
               FlatDomainError, IncompleteComplexError, InvalidDomainError, InvalidNetworkError,
               NonRationalInputError, UnboundedDomainError)

# loaded on first use: the certificate imports python-flint (and scipy's sparse matrices when it
# runs), topology, spectra and tracking import scipy's solvers, PHAT and matplotlib; a build needs
# none of them (tests/test_imports.py)
_LAZY = {
    "certify": ".certify",
    "Certificate": ".certify",
    "homology": ".topology",
    "make_filtration": ".topology",
    "persistence": ".topology",
    "betti_curves": ".topology",
    "dual_graph": ".dual",
    "DualGraph": ".dual",
    "dual_fiedler": ".spectral",
    "FiedlerResult": ".spectral",
    "track": ".tracking",
    "load_snapshots": ".tracking",
}


class _Package(ModuleType):
    """This package's module type: ``exactcells.certify`` stays the function :func:`certify`.

    A submodule's first import sets the package's attribute of its name to the submodule; the
    certificate is loaded lazily, so its module ``exactcells.certify`` may be first imported after
    this file ran (by ``exactcells.certify.X`` or a lazy name), and the function it defines keeps
    the name, as when this file imported it eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "certify" and isinstance(value, ModuleType) and value.__name__ == f"{__name__}.certify":
            value = value.certify
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
