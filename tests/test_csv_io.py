"""CSV through the standard csv module: the training-point reader and the tracking table."""

from __future__ import annotations

import csv
import io
from fractions import Fraction as F
from pathlib import Path
from types import MappingProxyType

import pytest

from exactcells.dual import load_points
from exactcells.errors import FormatError
from exactcells.tracking import SnapshotResult, TrackingResult, TrackSettings, columns


def test_an_empty_field_is_an_error_naming_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("x,y\n1,2\n3,,4\n")
    with pytest.raises(FormatError, match=r"line 3: field 2 is empty"):
        load_points(p, 2)
    p.write_text("1,\n")
    with pytest.raises(FormatError, match=r"line 1: field 2 is empty"):
        load_points(p, 2)


def test_quoted_fields_and_whitespace_lines(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text('"x","y"\n"1/3", "-0.25"\n  5   6  \n')
    assert load_points(p, 2) == [(F(1, 3), F(-1, 4)), (F(5), F(6))]


def test_a_malformed_quote_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text('1,"2"x\n')
    with pytest.raises(FormatError, match="line 1"):
        load_points(p, 2)


def test_tracking_table_round_trips_through_the_csv_module() -> None:
    settings = TrackSettings()
    cols = columns(settings.domain.dim, settings.classes)
    weird = 'a, "quoted" value'
    rows = []
    for epoch in (0, 5):
        row = {c: None for c in cols}
        row[cols[0]] = epoch
        row[cols[1]] = 0.1 + epoch
        row[cols[2]] = weird
        rows.append(SnapshotResult(epoch, MappingProxyType(row), (), None, (), f"k{epoch}"))
    text = TrackingResult(settings, tuple(rows)).to_csv()
    got = list(csv.reader(io.StringIO(text)))
    assert got[0] == list(cols)
    assert [r[0] for r in got[1:]] == ["0", "5"]
    assert [float(r[1]) for r in got[1:]] == [0.1, 5.1]
    assert all(r[2] == weird for r in got[1:])
    assert all(r[3:] == [""] * (len(cols) - 3) for r in got[1:])
