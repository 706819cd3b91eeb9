"""The build as independent units of work merged by sign-vector keys (build.plan_units & co.)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from net_strategies import random_net

from exactcells import Domain, InvalidDomainError, PolyhedralComplex, build_complex, network_from_dict
from exactcells.build import (
    _assemble,
    build_complex_by_units,
    merge_units,
    num_steps,
    plan_units,
    refine_unit,
)

Same = Callable[[PolyhedralComplex, PolyhedralComplex], None]



NETS = [(0, (2, 4, 3, 1)), (1, (3, 3, 3, 1)), (2, (2, 3, 2, 2, 2)), (3, (2, 1, 4, 1))]


@pytest.mark.parametrize("seed, widths", NETS)
@pytest.mark.parametrize("with_output", [False, True])
def test_units_give_the_whole_build(seed: int, widths: tuple[int, ...], with_output: bool, assert_same_complex: Same) -> None:
    net = random_net(seed, widths)
    K = build_complex(net, with_output=with_output)
    total = num_steps(net, with_output)
    for start in sorted({0, 1, net.hidden_widths[0], total}):
        assert_same_complex(K, build_complex_by_units(net, start=start, with_output=with_output))


@pytest.mark.parametrize("seed, widths", NETS)
def test_units_are_the_regions_after_the_first_neurons(seed: int, widths: tuple[int, ...]) -> None:
    net = random_net(seed, widths)
    dom = Domain.box(net.input_dim)
    w1 = net.hidden_widths[0]
    units = plan_units(net, dom, w1)
    # the regions of the first layer alone (an independent build of a one-layer network)
    first = network_from_dict({"layers": [net.to_dict()["layers"][0], {"W": [[1] * w1], "b": [0]}]})
    assert len(units) == build_complex(first, dom).num_regions
    for u in units:
        lat = u.lattice
        # a closed top cell: one cell of top dimension, Euler characteristic 1
        assert len(lat.by_dim[lat.n]) == 1
        assert sum((-1) ** k * len(c) for k, c in enumerate(lat.by_dim)) == 1
    # regions are never shared between units: the parts' top cells add up
    parts = [refine_unit(u, net) for u in units]
    K = build_complex(net, dom)
    assert sum(len(p.by_dim[p.n]) for p in parts) == K.num_regions
    # lower-dimensional cells on the units' common boundaries are merged, not duplicated
    assert sum(p.num_cells() for p in parts) >= K.num_cells


def test_units_are_independent_and_picklable(assert_same_complex: Same) -> None:
    net = random_net(0, (2, 4, 3, 1))
    dom = Domain.box(2)
    units = plan_units(net, dom, 4)
    shipped = [pickle.loads(pickle.dumps(u)) for u in units]
    once = [refine_unit(u, net) for u in units]
    twice = [refine_unit(u, net) for u in units]  # refining does not consume the unit
    again = [refine_unit(u, pickle.loads(pickle.dumps(net))) for u in shipped]
    K = build_complex(net, dom)
    for parts in (once, twice, again):
        assert_same_complex(K, _assemble(merge_units(parts), net, dom, None, 0.0))
    # merging is idempotent: a unit computed twice (e.g. a retried job) changes nothing
    assert_same_complex(K, _assemble(merge_units(once + twice), net, dom, None, 0.0))


def test_parallel_jobs_give_the_same_complex(assert_same_complex: Same) -> None:
    net = random_net(7, (3, 5, 4, 1))
    K = build_complex(net, with_output=True)
    assert_same_complex(K, build_complex(net, with_output=True, jobs=2))


def test_units_of_a_network_without_hidden_layers() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 1]], "b": [0]}]})
    assert build_complex(net).f_vector == (4, 4, 1)
    assert build_complex(net, with_output=True).f_vector == (4, 5, 2)
    assert build_complex(net, jobs=2).f_vector == (4, 4, 1)
    assert build_complex_by_units(net, with_output=True).f_vector == (4, 5, 2)


def test_units_check_the_domain_dimension() -> None:
    net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    with pytest.raises(InvalidDomainError):
        build_complex_by_units(net, Domain.box(3))
