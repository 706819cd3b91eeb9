"""Hypothesis strategies shared by the test modules (small integer networks)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def examples(n: int) -> settings:
    """Hypothesis settings: ``n`` examples, no per-example deadline (builds vary in size)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
