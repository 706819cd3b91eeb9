"""A build loads only what it needs: no python-flint, cddlib or scipy for ``import exactcells``,
``load_network`` and ``build_complex`` on a box (their memory is most of a small build's peak),
and the pure-Python paths that replace them give the same answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from itertools import product
from pathlib import Path

import pytest
from flint import fmpz_mat
from hypothesis import given, settings
from hypothesis import strategies as st

import exactcells
from exactcells.domain import Domain
from exactcells.geometry import _int_rank, exact_rank, vertices_of

ROOT = Path(__file__).resolve().parents[1]
# _hashlib maps OpenSSL's libcrypto (about 3.5 MiB resident): `secrets` and `hashlib` import it
HEAVY = ("flint", "cdd", "scipy", "networkx", "matplotlib", "phat", "torch", "onnx", "_hashlib")

PROBE = r"""
import json, sys
import exactcells
from exactcells import Domain, build_complex, load_network
net = load_network(sys.argv[1])
K = build_complex(net, Domain.box(net.input_dim, -1, "1/2"), with_output=True)
print(json.dumps({"f": list(K.f_vector), "modules": sorted(m.split(".")[0] for m in sys.modules),
                  "gmp": "exactcells._exactc" in sys.modules, "file": exactcells.__file__}))
"""


def _probe(net_file: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", PROBE, str(net_file)], capture_output=True, text=True,
                         check=True, env=env, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["A_2-16-16-1.json", "C_3-16-16-1.json"])
def test_a_build_imports_no_heavy_module(name: str) -> None:
    got = _probe(ROOT / "benchmarks" / "networks" / name)
    assert Path(str(got["file"])).resolve().is_relative_to(ROOT)  # this checkout, not an install
    loaded = set(got["modules"])  # type: ignore[arg-type]
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert got["gmp"] is False  # the GMP module (exact coordinates, certificate) is not mapped
    # and the build ran: the same complex as in this process (where flint is loaded)
    net = exactcells.load_network(ROOT / "benchmarks" / "networks" / name)
    K = exactcells.build_complex(net, Domain.box(net.input_dim, -1, "1/2"), with_output=True)
    assert got["f"] == list(K.f_vector)


def test_the_certificate_is_still_a_public_name() -> None:
    from exactcells.certify import Certificate, certify

    assert exactcells.certify is certify
    assert exactcells.Certificate is Certificate
    assert "certify" in dir(exactcells)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=1, max_size=6).map(tuple), min_size=1, max_size=7)
       .filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_small_integer_rank_is_flints(rows: list[tuple[int, ...]]) -> None:
    ints = [list(r) for r in rows]
    assert _int_rank(ints) == fmpz_mat(ints).rank()


def test_exact_rank_of_rational_rows() -> None:
    third = Fraction(1, 3)
    assert exact_rank([[third, 2 * third], [1, 2]]) == 1
    assert exact_rank([[third, 0], [0, third]]) == 2
    assert exact_rank([[0, 0], [0, 0]]) == 0
    big = [[Fraction(i * j + 1, j + 1) for i in range(40)] for j in range(40)]  # through flint
    assert exact_rank(big) == fmpz_mat([[(i * j + 1) for i in range(40)] for j in range(40)]).rank()


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_box_corners_are_cdds(n: int) -> None:
    lo = [Fraction(-1), Fraction(0), Fraction(1, 3), Fraction(-7, 2)][:n]
    hi = [Fraction(1), Fraction(5), Fraction(2), Fraction(-3)][:n]
    D = Domain.box(n, lo, hi)
    verts, inc, rays = vertices_of(D.A, D.c)  # cddlib on the same rows
    assert rays == 0
    assert set(D.vertices) == set(verts) == set(product(*zip(lo, hi)))
    for i in range(D.num_facets):
        assert {D.vertices[j] for j in D.facet_vertices[i]} == {verts[j] for j in inc[i]}
    # the same domain given by its inequalities has the same faces
    G = Domain(D.A, D.c)

    def faces(X: Domain) -> set[tuple[frozenset[tuple[Fraction, ...]], int, frozenset[int]]]:
        return {(frozenset(X.vertices[v] for v in f.vertices), f.dim, f.on_facets) for f in X.faces()}
    assert faces(D) == faces(G)
    assert len(D.faces()) == 3**n
