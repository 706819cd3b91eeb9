"""Exact rational numbers: the one place where floats and strings become :class:`Fraction`.

A float is taken as its exact binary value (``0.1`` becomes ``3602879701896397/36028797018963968``);
a string is read exactly, so ``"0.1"`` is ``1/10`` and ``"-3/2"`` is ``-3/2``.

Numbers read from files are bounded, so that a tiny hostile file cannot make the reader run
for hours: at most :data:`MAX_NUMBER_DIGITS` digits in a number and an exponent of at most
:data:`MAX_DECIMAL_EXPONENT` in absolute value. Large integers are parsed and printed with
FLINT (quasi-linear time); Python's process-wide int/str digit limit is never changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction
from numbers import Rational
from typing import Any

from .errors import NonRationalInputError

__all__ = [
    "MAX_NUMBER_DIGITS",
    "MAX_DECIMAL_EXPONENT",
    "to_rational",
    "format_rational",
    "format_int",
    "parse_int_string",
    "parse_rational_string",
    "float_or_none",
    "float_view",
    "common_denominator",
    "clear_denominators",
    "format_signs",
]

#: The most digits a number read from text may have (integer, numerator or decimal).
MAX_NUMBER_DIGITS = 100_000
#: The largest absolute decimal exponent of a number read from text (``"1e100000"``).
MAX_DECIMAL_EXPONENT = 100_000

# Python converts int <-> str in quadratic time and refuses more than 4300 digits by default;
# below this length its own conversion is fast and allowed.
_SMALL_DIGITS = 4000

_INT = re.compile(r"[+-]?[0-9]+")
_FRACTION = re.compile(r"([+-]?[0-9]+)\s*/\s*([+-]?[0-9]+)")
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")


def parse_int_string(text: str, max_digits: int = MAX_NUMBER_DIGITS) -> int:
    """Read a decimal integer (optional sign) exactly, refusing more than ``max_digits`` digits.

    Long integers are parsed by FLINT in quasi-linear time.

    Raises
    ------
    NonRationalInputError
        When ``text`` is not an integer or has too many digits.
    """
    s = text.strip()
    if not _INT.fullmatch(s):
        raise NonRationalInputError(f"{_show(text)} is not an integer")
    digits = len(s) - (s[0] in "+-")
    if digits > max_digits:
        raise NonRationalInputError(
            f"an integer with {digits:,} digits is too long (at most {max_digits:,} digits)"
        )
    if digits <= _SMALL_DIGITS:
        return int(s)
    from flint import fmpz

    return int(fmpz(s))


def parse_rational_string(text: str) -> Fraction:
    """Read an integer, ``"p/q"`` or decimal string (``"0.1"``, ``"1e-3"``) exactly.

    At most :data:`MAX_NUMBER_DIGITS` digits (in each of ``p`` and ``q``) and a decimal exponent
    of at most :data:`MAX_DECIMAL_EXPONENT` in absolute value.

    Raises
    ------
    NonRationalInputError
        When the string is not one of those forms (``"nan"``, ``"inf"``, ``"abc"``, ``""``) or
        exceeds the bounds.
    """
    s = text.strip()
    if _INT.fullmatch(s):
        return Fraction(parse_int_string(s))
    m = _FRACTION.fullmatch(s)
    if m:
        p, q = parse_int_string(m.group(1)), parse_int_string(m.group(2))
        if q == 0:
            raise NonRationalInputError(f"{_show(text)} has a zero denominator")
        return Fraction(p, q)
    m = _DECIMAL.fullmatch(s)
    if not m or not (m.group(2) or m.group(3)):
        raise NonRationalInputError(
            f"{_show(text)} is not a finite rational number (expected an integer, 'p/q' or a decimal)"
        )
    sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    if len(whole) + len(frac) > MAX_NUMBER_DIGITS:
        raise NonRationalInputError(
            f"a decimal with {len(whole) + len(frac):,} digits is too long "
            f"(at most {MAX_NUMBER_DIGITS:,} digits)"
        )
    e = 0
    if exp is not None:
        magnitude = exp.lstrip("+-").lstrip("0") or "0"
        if len(magnitude) > len(str(MAX_DECIMAL_EXPONENT)) or int(magnitude) > MAX_DECIMAL_EXPONENT:
            raise NonRationalInputError(
                f"{_show(text)}: the exponent is out of range (at most {MAX_DECIMAL_EXPONENT:,} "
                "in absolute value)"
            )
        e = -int(magnitude) if exp.startswith("-") else int(magnitude)
    mantissa = parse_int_string(sign + (whole + frac or "0"), max_digits=MAX_NUMBER_DIGITS + 1)
    scale = e - len(frac)
    if scale >= 0:
        return Fraction(mantissa * 10**scale)
    return Fraction(mantissa, 10**-scale)


def _show(text: str, limit: int = 40) -> str:
    """``repr`` of ``text``, shortened for error messages."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text):,} characters)"


# short strings already read by to_rational (bounded; values are immutable Fractions)
_PARSED: dict[str, Fraction] = {}
_PARSED_MAX = 1 << 16


def to_rational(value: Any, where: str = "value") -> Fraction:
    """Convert ``value`` to an exact :class:`Fraction`.

    Parameters
    ----------
    value
        An int, a Fraction (or any :class:`numbers.Rational`), a finite float (taken as its exact
        binary value), a numpy scalar of those kinds (``longdouble`` included, at its full
        precision), or a string accepted by :func:`parse_rational_string`.
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
    kind_ = type(value)
    if kind_ is str:  # the common case of network files, most values repeated ("0", "1")
        hit = _PARSED.get(value)
        if hit is not None:
            return hit
    elif kind_ is Fraction:
        return value
    elif kind_ is int:
        return Fraction(value)
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
            r = parse_rational_string(value)
        except NonRationalInputError as e:
            raise NonRationalInputError(f"{where}: {e}") from None
        if kind_ is str and len(value) <= 64 and len(_PARSED) < _PARSED_MAX:
            _PARSED[value] = r  # Fractions are immutable: sharing one is safe
        return r
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
                if not np.isfinite(value):
                    raise NonRationalInputError(f"{where}: {value!r} is not finite")
                # exact at the scalar's own precision (longdouble is not rounded to float64)
                p, q = value.as_integer_ratio()
                return Fraction(int(p), int(q))
            if isinstance(value, np.bool_):
                raise NonRationalInputError(f"{where}: {value!r} is a boolean, not a number")
        except ImportError:  # pragma: no cover
            pass
    raise NonRationalInputError(
        f"{where}: {value!r} of type {type(value).__name__} is not a number "
        "(use an int, a float, a Fraction or a string such as '1/3' or '0.1')"
    )


def format_int(v: int) -> str:
    """Decimal digits of any integer (long ones through FLINT, in quasi-linear time)."""
    if v.bit_length() < 13000:  # fewer than 3914 digits: Python's own conversion
        return str(v)
    from flint import fmpz

    return str(fmpz(v))


def format_rational(x: Fraction | int) -> str:
    """Format a rational as ``"p"`` or ``"p/q"`` (the inverse of :func:`to_rational` on strings).

    Integers of any size are written in full.
    """
    f = Fraction(x)
    if f.denominator == 1:
        return format_int(f.numerator)
    return f"{format_int(f.numerator)}/{format_int(f.denominator)}"


def float_view(x: Fraction | int | float) -> float:
    """The nearest float to ``x``, saturating to ``±inf`` beyond the float range."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def float_or_none(x: Fraction | int | float | None) -> float | None:
    """The nearest float to ``x`` for a JSON companion field; ``None`` beyond the float range."""
    if x is None:
        return None
    try:
        return float(x)
    except OverflowError:
        return None


# -- denominators ----------------------------------------------------------------------------------

def common_denominator(values: Iterable[Fraction | int]) -> int:
    """The least common multiple of the denominators of exact rationals (1 for none).

    The one home of denominator clearing: integer rows, homogeneous coordinates and the
    integer matrices of the network and the domain all scale by this.
    """
    return math.lcm(1, *(v.denominator for v in values))


def clear_denominators(values: Iterable[Fraction | int]) -> tuple[list[int], int]:
    """``(L v_1, ..., L v_k)`` as integers and ``L``, the :func:`common_denominator` of the ``v_i``.

    >>> clear_denominators([Fraction(1, 2), Fraction(-2, 3), 1])
    ([3, -4, 6], 6)
    """
    fr = [v if isinstance(v, Fraction) else Fraction(v) for v in values]
    den = common_denominator(fr)
    return [int(v * den) for v in fr], den


def format_signs(signs: Iterable[int]) -> str:
    """A sign vector as text: ``+``, ``-`` and ``0`` per entry.

    >>> format_signs([1, -1, 0, 1, 1])
    '+-0++'
    """
    return "".join("+" if s > 0 else ("-" if s < 0 else "0") for s in signs)
