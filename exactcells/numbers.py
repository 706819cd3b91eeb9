"""Exact rational numbers: the one place where floats and strings become :class:`Fraction`.

A float is taken as its exact binary value (``0.1`` becomes ``3602879701896397/36028797018963968``);
a string is read exactly, so ``"0.1"`` is ``1/10`` and ``"-3/2"`` is ``-3/2``.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from fractions import Fraction
from numbers import Rational
from typing import Any

from .errors import NonRationalInputError

__all__ = ["to_rational", "format_rational", "parse_rational_string"]


def parse_rational_string(text: str) -> Fraction:
    """Read an integer, ``"p/q"`` or decimal string (``"0.1"``, ``"1e-3"``) exactly.

    Raises
    ------
    NonRationalInputError
        When the string is not one of those forms (``"nan"``, ``"inf"``, ``"abc"``, ``""``).
    """
    s = text.strip()
    low = s.lower()
    if not s or "nan" in low or "inf" in low:
        raise NonRationalInputError(f"{text!r} is not a finite rational number")
    try:
        if len(s) < 4000:
            return Fraction(s)
        with _unlimited_digits():
            return Fraction(s)
    except (ValueError, ZeroDivisionError) as e:
        raise NonRationalInputError(
            f"{text!r} is not a rational number (expected an integer, 'p/q' or a decimal)"
        ) from e


def to_rational(value: Any, where: str = "value") -> Fraction:
    """Convert ``value`` to an exact :class:`Fraction`.

    Parameters
    ----------
    value
        An int, a Fraction (or any :class:`numbers.Rational`), a finite float (taken as its exact
        binary value), a numpy scalar of those kinds, or a string accepted by
        :func:`parse_rational_string`.
    where
        A description of where the value comes from, used in error messages
        (e.g. ``"layer 1, W[2][0]"``).

    Examples
    --------
    >>> to_rational("0.1")
    Fraction(1, 10)
    >>> to_rational(0.5)
    Fraction(1, 2)
    """
    if isinstance(value, bool):
        raise NonRationalInputError(f"{where}: {value!r} is a boolean, not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, str):
        try:
            return parse_rational_string(value)
        except NonRationalInputError as e:
            raise NonRationalInputError(f"{where}: {e}") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NonRationalInputError(f"{where}: {value!r} is not finite")
        return Fraction(value)
    # numpy scalars and other number-likes
    kind = type(value).__module__
    if kind == "numpy" or hasattr(value, "dtype"):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                return Fraction(int(value))
            if isinstance(value, np.floating):
                f = float(value)
                if not math.isfinite(f):
                    raise NonRationalInputError(f"{where}: {value!r} is not finite")
                return Fraction(f)
            if isinstance(value, np.bool_):
                raise NonRationalInputError(f"{where}: {value!r} is a boolean, not a number")
        except ImportError:  # pragma: no cover
            pass
    raise NonRationalInputError(
        f"{where}: {value!r} of type {type(value).__name__} is not a number "
        "(use an int, a float, a Fraction or a string such as '1/3' or '0.1')"
    )


@contextlib.contextmanager
def _unlimited_digits() -> Iterator[None]:
    """Lift Python's int/str digit limit (4300) for a moment: exact volumes can exceed it."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def _int_str(v: int) -> str:
    """Decimal digits of any integer."""
    if v.bit_length() < 14000:  # fewer than 4300 digits
        return str(v)
    with _unlimited_digits():
        return str(v)


def format_rational(x: Fraction | int) -> str:
    """Format a rational as ``"p"`` or ``"p/q"`` (the inverse of :func:`to_rational` on strings).

    Integers of any size are written in full.
    """
    f = Fraction(x)
    if f.denominator == 1:
        return _int_str(f.numerator)
    return f"{_int_str(f.numerator)}/{_int_str(f.denominator)}"
