"""Reading training points from files (``.npy``, ``.csv``/``.txt``, ``.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ExactCellsError, FormatError
from ..numbers import to_rational

__all__ = ["load_points"]


def load_points(path: str | Path, n: int | None = None) -> Any:
    """Read training points, shape ``(N, n)``.

    Formats (by suffix):

    ``.npy``
        A numpy array of shape ``(N, n)`` (floats are taken as their exact binary values).
    ``.csv``, ``.txt``
        One point per line, coordinates separated by commas (read by the standard :mod:`csv`
        module: fields may be quoted; an empty field is an error) or by white space; blank lines
        and lines starting with ``#`` are skipped, and a first line that is not numeric (a
        header) is skipped. Numbers are read exactly as written (``0.1`` is 1/10).
    ``.json``
        A list of points, or an object with key ``"points"``; each coordinate a number or an
        exact string (the README's "Formats" rules: a JSON float is its binary value).

    Returns a float/int numpy array (``.npy``) or a list of tuples of Fractions.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    from ..io import loads_json, read_npy

    try:
        if suffix == ".npy":
            arr = read_npy(p, FormatError)
        else:
            text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{p}: cannot read training points ({e})") from e
    if suffix == ".npy":
        if arr.ndim != 2 or (n is not None and arr.shape[1] != n) or arr.dtype.kind not in "fiu":
            raise FormatError(f"{p}: expected a numeric array of shape (N, {n or 'n'}), "
                              f"got {arr.dtype} {arr.shape}")
        return arr
    rows: list[list[Any]]
    if suffix == ".json":
        data = loads_json(text, FormatError, str(p))
        if isinstance(data, dict):
            data = data.get("points")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise FormatError(f"{p}: expected a list of points or {{\"points\": [...]}}")
        rows = data
    elif suffix in (".csv", ".txt"):
        rows = _text_rows(p, text)
    else:
        raise FormatError(f"{p}: unknown training-point format {suffix!r} (use .npy, .csv, .txt or .json)")
    out = []
    for i, r in enumerate(rows):
        if n is not None and len(r) != n:
            raise FormatError(f"{p}: point {i} has {len(r)} coordinates, not {n}")
        try:
            out.append(tuple(to_rational(x, f"{p}: point {i}") for x in r))
        except ExactCellsError as e:
            raise FormatError(str(e)) from e
    return out


def _text_rows(p: Path, text: str) -> list[list[Any]]:
    """The fields of the data lines of a ``.csv``/``.txt`` file (see :func:`load_points`)."""
    import csv

    rows: list[list[Any]] = []
    first = True
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if "," in s:
            try:
                fields = [f.strip() for f in next(csv.reader([s], skipinitialspace=True, strict=True))]
            except csv.Error as e:
                raise FormatError(f"{p}: line {lineno}: {e}") from None
        else:
            fields = s.split()
        if first:
            first = False
            try:
                for f in fields:
                    if f:
                        to_rational(f)
            except ExactCellsError:
                continue  # a header line
        empty = [k for k, f in enumerate(fields) if not f]
        if empty:
            raise FormatError(f"{p}: line {lineno}: field {empty[0] + 1} is empty")
        rows.append(fields)
    return rows
