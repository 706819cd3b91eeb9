"""Progress bars (exactcells.progress): shown on a terminal when asked, silent otherwise."""

from __future__ import annotations

import io
import re

import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.certify import certify
from exactcells.progress import Progress


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_bar_appears_on_a_terminal() -> None:
    out = Terminal()
    with Progress(4, "neurons", file=out, delay=0) as bar:
        for i in range(4):
            bar.advance_to(i + 1, f"layer {i}")
    text = out.getvalue()
    assert bar.enabled
    assert "exactcells: neurons" in text
    assert re.search(r"4/4", text) and "layer 3" in text


def test_the_bar_is_silent_when_not_asked_for_or_not_a_terminal() -> None:
    for out, show in ((Terminal(), False), (io.StringIO(), True)):
        with Progress(4, "neurons", show=show, file=out, delay=0) as bar:
            for _ in range(4):
                bar.step("x")
        assert not bar.enabled and out.getvalue() == ""
        assert bar.n == 4


def test_log_lines_go_above_the_bar_or_plainly() -> None:
    out = Terminal()
    with Progress(2, "snapshots", file=out, delay=0) as bar:
        bar.write("a log line")
    assert "a log line\n" in out.getvalue()
    plain = io.StringIO()
    with Progress(2, "snapshots", show=False, file=plain) as bar:
        bar.write("a log line")
    assert plain.getvalue() == "a log line\n"


NET = network_from_dict({"layers": [{"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 0, "-1/2"]},
                                    {"W": [[1, -1, 1]], "b": [0]}]})


def test_build_and_certify_draw_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import exactcells.progress as progress

    monkeypatch.setattr(progress, "DELAY", 0.0)
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    K = build_complex(NET, Domain.box(2, -1, 1), progress=True)
    assert "exactcells: neurons" in term.getvalue() and "3/3" in term.getvalue()
    cert = certify(K, progress=True)
    assert cert.certified and "exactcells: checks" in term.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    K2 = build_complex(NET, Domain.box(2, -1, 1), progress=True)
    assert certify(K2, progress=True).certified
    assert pipe.getvalue() == ""
    assert K2.f_vector == K.f_vector == (13, 19, 7)


def test_quiet_and_no_progress_are_one_flag() -> None:
    from exactcells.cli import _parser

    p = _parser()
    for flag in ("--quiet", "--no-progress"):
        assert p.parse_args(["cells", "net.json", flag]).no_progress
        assert p.parse_args(["track", "--task", "moons", flag, "-o", "x"]).no_progress
    assert not p.parse_args(["cells", "net.json"]).no_progress
