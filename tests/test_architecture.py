"""Structural rules of the package: one error hierarchy, a pinned public API."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import exactcells
from exactcells import errors

# every error class lives in errors.py (none elsewhere)
_ELSEWHERE: set[str] = set()


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


PUBLIC = {
    "Network", "load_network", "network_from_dict", "save_network", "Domain", "load_domain",
    "build_complex", "PolyhedralComplex", "Cell", "load_complex", "certify", "Certificate",
    "homology", "make_filtration", "persistence", "betti_curves", "dual_graph", "DualGraph",
    "dual_fiedler", "FiedlerResult", "track", "load_snapshots", "ExactCellsError", "__version__",
}


def test_the_public_api_is_pinned() -> None:
    assert set(exactcells.__all__) == PUBLIC
    assert len(exactcells.__all__) == len(PUBLIC)


def test_every_public_name_is_the_object_its_module_defines() -> None:
    from exactcells import certify as certify_module_or_function
    from exactcells import dual, spectral, topology, tracking

    homes = {"homology": topology, "make_filtration": topology, "persistence": topology,
             "betti_curves": topology, "dual_graph": dual, "DualGraph": dual, "dual_fiedler": spectral,
             "FiedlerResult": spectral, "track": tracking, "load_snapshots": tracking}
    for name in PUBLIC:
        obj = getattr(exactcells, name)
        assert obj is not None, name
        if name in homes:
            assert obj is getattr(homes[name], name), name
    assert callable(certify_module_or_function)  # the function, not the module
    assert set(dir(exactcells)) >= PUBLIC


def test_older_top_level_names_stay_importable() -> None:
    from exactcells import (  # noqa: F401
        CellLimitExceeded,
        InvalidNetworkError,
        network_from_arrays,
        network_from_torch,
        round_network,
    )

    with pytest.raises(AttributeError):
        exactcells.no_such_name  # noqa: B018


def test_the_readme_quick_tour_uses_only_the_public_api() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick tour", 1)[1].split("\n#", 1)[0]
    tour = "".join(b.split("```", 1)[0] for b in section.split("```python")[1:])
    imported = set()
    for m in re.finditer(r"^from (\S+) import (.+)$", tour, re.M):
        assert m.group(1) == "exactcells", m.group(0)
        imported |= {x.strip() for x in m.group(2).split(",")}
    assert not re.search(r"^import ", tour, re.M)
    assert imported and imported <= PUBLIC
    assert {"certify", "homology", "persistence", "dual_graph", "dual_fiedler", "track"} <= imported
