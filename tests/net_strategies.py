"""Helpers shared by the test modules: hypothesis strategies (small integer networks), seeded
random integer networks, and a switch of the kernel's compiled modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from exactcells import kernel, network_from_dict


def random_net(seed: int, widths: tuple[int, ...]) -> Any:
    """A network of small random integer weights (-3..3) and biases (-2..2), ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    layers = [{"W": rng.integers(-3, 4, (b, a)).tolist(), "b": rng.integers(-2, 3, b).tolist()}
              for a, b in zip(widths[:-1], widths[1:])]
    return network_from_dict({"layers": layers})


@contextmanager
def kernel_module(name: str, module: ModuleType | None) -> Iterator[None]:
    """Run with ``exactcells.kernel.<name>`` (``"EXT"``: the compiled cut, ``"GMP"``: the GMP
    module) set to ``module`` (``None``: the numpy and Python-integer paths)."""
    old = getattr(kernel, name)
    setattr(kernel, name, module)
    try:
        yield
    finally:
        setattr(kernel, name, old)


def examples(n: int) -> settings:
    """Hypothesis settings: ``n`` examples, no per-example deadline (builds vary in size).

    ``EXACTCELLS_FUZZ=K`` in the environment multiplies ``n`` by ``K``: a long fuzzing campaign
    with the same tests (``EXACTCELLS_FUZZ=50 pytest tests/test_build_properties.py``)."""
    scale = int(os.environ.get("EXACTCELLS_FUZZ", "1"))
    return settings(max_examples=n * max(scale, 1), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def integer_networks(draw: st.DrawFn, n: int, max_depth: int = 3, max_width: int = 4,
                     weight: int = 3, outputs: int = 1) -> dict[str, Any]:
    """Network JSON with integer weights in [-weight, weight], 1..max_depth hidden layers of
    widths 1..max_width."""
    depth = draw(st.integers(1, max_depth))
    widths = [n] + [draw(st.integers(1, max_width)) for _ in range(depth)] + [outputs]
    ints = st.integers(-weight, weight)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        W = draw(st.lists(st.lists(ints, min_size=fan_in, max_size=fan_in),
                          min_size=fan_out, max_size=fan_out))
        b = draw(st.lists(ints, min_size=fan_out, max_size=fan_out))
        layers.append({"W": W, "b": b})
    return {"layers": layers}


@st.composite
def unit_networks(draw: st.DrawFn, n: int, max_depth: int = 2, max_units: int = 4,
                  weight: int = 3, outputs: int = 1) -> dict[str, Any]:
    """Network JSON whose hidden stages mix relu, leaky, linear and max units (integer weights,
    slopes in {-1/2, 1/4, 1/2, 2})."""
    depth = draw(st.integers(1, max_depth))
    ints = st.integers(-weight, weight)
    layers = []
    fan_in = n
    for _ in range(depth):
        kinds = draw(st.lists(st.sampled_from(["relu", "leaky", "linear", "max"]), min_size=1,
                              max_size=max_units))
        units: list[Any] = []
        rows = 0
        for kind in kinds:
            if kind == "max":
                k = draw(st.integers(2, 3))
                units.append(["max", list(range(rows, rows + k))])
                rows += k
            elif kind == "leaky":
                units.append(["leaky", rows, draw(st.sampled_from(["-1/2", "1/4", "1/2", "2"]))])
                rows += 1
            else:
                units.append([kind, rows])
                rows += 1
        W = draw(st.lists(st.lists(ints, min_size=fan_in, max_size=fan_in), min_size=rows, max_size=rows))
        b = draw(st.lists(ints, min_size=rows, max_size=rows))
        layers.append({"W": W, "b": b, "units": units})
        fan_in = len(units)
    W = draw(st.lists(st.lists(ints, min_size=fan_in, max_size=fan_in), min_size=outputs, max_size=outputs))
    b = draw(st.lists(ints, min_size=outputs, max_size=outputs))
    layers.append({"W": W, "b": b})
    return {"layers": layers}
