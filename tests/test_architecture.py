"""Structural rules of the package: one error hierarchy, a pinned public API."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import exactcells
from exactcells import errors

# report/ is maintained on its own branch; its one error class is folded into errors.py later
_ELSEWHERE = {"exactcells.report.page.ReportDependencyError"}


def _modules() -> list[str]:
    names = ["exactcells"]
    for info in pkgutil.walk_packages(exactcells.__path__, "exactcells."):
        if info.name != "exactcells.__main__":  # importing it runs the CLI
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_every_error_class_lives_in_errors_and_derives_from_the_base(name: str) -> None:
    try:
        mod = importlib.import_module(name)
    except ImportError as e:  # an optional dependency (torch, onnx) is missing
        pytest.skip(f"{name}: {e}")
    for attr, obj in vars(mod).items():
        if not (inspect.isclass(obj) and issubclass(obj, Exception)) or issubclass(obj, Warning):
            continue
        if obj.__module__ == name and f"{name}.{attr}" not in _ELSEWHERE:
            assert name == "exactcells.errors", f"{name}.{attr} is defined outside exactcells.errors"
        if obj.__module__ == "exactcells.errors":
            assert issubclass(obj, errors.ExactCellsError), attr


def test_errors_module_lists_every_class() -> None:
    defined = {k for k, v in vars(errors).items()
               if inspect.isclass(v) and issubclass(v, Exception) and v.__module__ == errors.__name__}
    assert defined == set(errors.__all__)
    for k in defined:
        assert issubclass(getattr(errors, k), errors.ExactCellsError), k


def test_moved_error_classes_keep_their_old_homes() -> None:
    from exactcells import domain, slicing, spectral, tracking, training
    from exactcells.cli import track

    assert spectral.SpectralError is errors.SpectralError
    assert spectral.DisconnectedGraphError is errors.DisconnectedGraphError
    assert training.TrainingError is errors.TrainingError
    assert tracking.TrackingError is errors.TrackingError
    assert track.TrackArgumentError is errors.TrackArgumentError
    assert domain.DomainTooLargeError is errors.DomainTooLargeError
    assert slicing.InvalidSliceError is errors.InvalidSliceError
    for cls in (errors.SpectralError, errors.TrainingError, errors.TrackingError,
                errors.TrackArgumentError, errors.InvalidSliceError, errors.DomainTooLargeError):
        assert issubclass(cls, ValueError)


def test_topology_and_dual_argument_errors_are_exactcells_errors() -> None:
    from exactcells import Domain, build_complex, network_from_dict
    from exactcells.dual import facet_volume
    from exactcells.topology.homology import homology

    net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, 0]}, {"W": [[1, 1]], "b": [0]}]})
    K = build_complex(net, Domain.box(2, -1, 1))
    with pytest.raises(errors.InvalidArgumentError):
        facet_volume(K, 0)  # a vertex, not an (n-1)-cell
    with pytest.raises(errors.InvalidArgumentError):
        homology(K, coefficients="R")  # type: ignore[arg-type]
