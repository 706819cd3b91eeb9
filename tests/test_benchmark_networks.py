"""The six benchmark networks regenerated from their recipe (benchmarks/networks.py).

They must equal the project's copies of the shared files (``benchmarks/networks/``), and give
the counts the shared README lists (which were found by an independent exact computation).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from exactcells import build_complex, network_from_dict

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "benchmarks" / "networks"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("exactcells_benchmark_networks",
                                                  REPO / "benchmarks" / "networks.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _generator()
NAMES = ["A", "B", "C", "D", "E", "F"]


@pytest.mark.parametrize("name", NAMES)
def test_architecture_matches_the_name(name: str) -> None:
    d = GEN.benchmark_network(name)
    widths = [len(d["layers"][0]["W"][0])] + [len(L["W"]) for L in d["layers"]]
    assert GEN.benchmark_file_name(name) == f"{name}_{'-'.join(map(str, widths))}.json"
    for L in d["layers"]:
        assert len(L["b"]) == len(L["W"])
        assert all(isinstance(v, float) for row in L["W"] for v in row)


@pytest.mark.parametrize("name", NAMES)
def test_regenerated_network_equals_shared_file(name: str) -> None:
    shared = SHARED / GEN.benchmark_file_name(name)
    assert shared.is_file()
    text = shared.read_text(encoding="utf-8")
    # equal as data (every float bit for bit) ...
    assert json.loads(text) == GEN.benchmark_network(name)
    # ... and as exact networks
    assert network_from_dict(json.loads(text)) == network_from_dict(GEN.benchmark_network(name))


def test_write_all_reproduces_the_shared_files_byte_for_byte(tmp_path: Path) -> None:
    paths = GEN.write_all(tmp_path)
    assert sorted(p.name for p in paths) == sorted(p.name for p in SHARED.glob("*.json"))
    for p in paths:
        assert p.read_bytes() == (SHARED / p.name).read_bytes()


def test_unknown_benchmark_name() -> None:
    with pytest.raises(KeyError):
        GEN.benchmark_network("G")


# f-vectors from the shared README (an independent exact computation); B only lists
# regions, vertices and edges, which for n = 2 is the whole f-vector.
EXPECTED = {
    "A": (444, 855, 412),
    "B": (2104, 4136, 2033),
    "C": (4862, 13927, 13306, 4240),
    "D": (2761, 9700, 12806, 7530, 1664),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_regenerated_benchmark_counts(name: str) -> None:
    K = build_complex(network_from_dict(GEN.benchmark_network(name)))
    assert K.f_vector == EXPECTED[name]
    assert K.euler_characteristic == 1
