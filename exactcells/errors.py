"""The exception hierarchy of exactcells.

Every error the library raises on purpose derives from :class:`ExactCellsError`; each subclass
also derives from the built-in exception that fits it, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ExactCellsError",
    "ReportDependencyError",
    "InvalidNetworkError",
    "NotPiecewiseLinearError",
    "UnsupportedOperatorError",
    "NonRationalInputError",
    "InvalidDomainError",
    "EmptyDomainError",
    "UnboundedDomainError",
    "FlatDomainError",
    "CellLimitExceeded",
    "IncompleteComplexError",
    "FormatError",
    "OutputExistsError",
    "OutputPathError",
    "InvalidArgumentError",
    "DependencyMissingError",
    "InvalidSubcomplexError",
    "InvalidFiltrationError",
    "TopologySizeError",
    "PersistenceBackendError",
    "DomainTooLargeError",
    "InvalidSliceError",
    "SpectralError",
    "DisconnectedGraphError",
    "TrainingError",
    "TrackingError",
    "TrackArgumentError",
]


class ExactCellsError(Exception):
    """Base class of every error raised by exactcells on purpose."""


class InvalidNetworkError(ExactCellsError, ValueError):
    """The network is malformed: missing keys, ragged or mismatched shapes, empty layers."""


class UnsupportedOperatorError(InvalidNetworkError):
    """A model file uses an operator (or an operator's option) that exactcells does not convert.

    The message names the file, the node and the operator, e.g.
    ``model.onnx: node 'Gather_7' (Gather) is not supported``.
    """


class NotPiecewiseLinearError(UnsupportedOperatorError):
    """A model uses an operator that is not piecewise linear (``Tanh``, ``Exp``, a product of two
    data tensors, ...): its cells are not polyhedra, so there is no exact complex to compute."""


class NonRationalInputError(ExactCellsError, TypeError):
    """A value cannot be read as an exact rational (NaN, infinity, a non-numeric string, ...).

    Floats are accepted only through :func:`exactcells.numbers.to_rational`, which takes their
    exact binary value; pass ``Fraction(x)`` or a decimal string such as ``"0.1"`` to be explicit.
    """


class InvalidDomainError(ExactCellsError, ValueError):
    """The input domain is malformed or does not fit the network."""


class EmptyDomainError(InvalidDomainError):
    """The domain ``{x : A x <= c}`` has no point."""


class UnboundedDomainError(InvalidDomainError):
    """The domain is unbounded; exactcells needs a polytope."""


class FlatDomainError(InvalidDomainError):
    """The domain is not full-dimensional (it lies in a hyperplane)."""


class DomainTooLargeError(InvalidDomainError):
    """A full-dimensional domain above :data:`exactcells.domain.MAX_DOMAIN_DIM` dimensions (its
    face lattice is too large to enumerate); take a 1-, 2- or 3-D slice instead."""


class CellLimitExceeded(ExactCellsError, RuntimeError):
    """The enumeration was stopped by the ``max_cells`` guard."""


class IncompleteComplexError(ExactCellsError, ValueError):
    """A complex fails a completeness check (Euler characteristic, volumes, face poset)."""


class FormatError(ExactCellsError, ValueError):
    """A file is not in the documented format (wrong kind, version or content)."""


class OutputExistsError(ExactCellsError, FileExistsError):
    """An output path exists already and overwriting was not asked for."""


class OutputPathError(ExactCellsError, OSError):
    """An output file cannot be created where it was asked for (no such folder, no permission)."""


class InvalidArgumentError(ExactCellsError, ValueError):
    """A parameter is out of its range (e.g. a rounding denominator below 1)."""


class InvalidSliceError(InvalidArgumentError):
    """A slice is malformed: wrong dimension, zero or dependent directions, bad radius."""


class DependencyMissingError(ExactCellsError, ImportError):
    """An optional dependency (e.g. PyTorch) is needed for this call but is not installed."""


class InvalidSubcomplexError(ExactCellsError, ValueError):
    """A set of cells is not a closed subcomplex, or a pair ``(K, L)`` has ``L`` not inside ``K``,
    or a subcomplex needs what the complex lacks (e.g. the output's signs)."""


class InvalidFiltrationError(ExactCellsError, ValueError):
    """Cell values or an order do not define a filtration (a face would enter after a coface)."""


class TopologySizeError(ExactCellsError, ValueError):
    """An exact homology computation (over Q or Z) was asked beyond its stated size limit."""


class PersistenceBackendError(ExactCellsError, RuntimeError):
    """The persistence backend (PHAT) failed or returned something inconsistent."""


class SpectralError(ExactCellsError, ValueError):
    """A spectral problem is ill-posed (too few nodes, bad weights, conflicting options)."""


class DisconnectedGraphError(SpectralError):
    """The graph is disconnected: its Fiedler value is 0 and the vector is not unique."""


class TrainingError(ExactCellsError, ValueError):
    """A training configuration is invalid (unknown task, bad architecture string, ...)."""


class TrackingError(ExactCellsError, ValueError):
    """Snapshots or settings that cannot be tracked (duplicate epochs, no snapshot, ...)."""


class TrackArgumentError(ExactCellsError, ValueError):
    """Inconsistent ``track`` options."""


class ReportDependencyError(ExactCellsError, RuntimeError):
    """plotly (its bundled plotly.js) is not installed."""
