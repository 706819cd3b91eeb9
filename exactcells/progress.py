"""Progress bars on stderr (tqdm), the one home of progress display.

A bar is shown only when asked for (``show=True``; the CLI's ``--quiet``/``--no-progress``
turn it off) *and* its stream is a terminal (tqdm is imported only then), and only once the work
has run for ``delay`` seconds, so short runs, pipes and log files stay quiet. Progress never
goes to stdout: ``--json`` output stays one JSON object.

>>> with Progress(3, "steps", show=False) as bar:  # disabled: nothing is written anywhere
...     for i in range(3):
...         bar.advance_to(i + 1, f"step {i}")
>>> bar.n
3
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Progress"]

#: Seconds of work before a bar appears (short runs stay quiet).
DELAY = 1.0


class Progress:
    """A progress bar over ``total`` items (``None``: unknown), labelled ``exactcells: desc``.

    Parameters
    ----------
    total
        Number of items.
    desc
        What is counted (``"neurons"``, ``"checks"``, ...).
    show
        ``False`` disables the bar entirely (``--quiet``); ``True`` shows it when ``file`` is
        a terminal.
    file
        The stream (default: ``sys.stderr`` at the time of the call).
    delay
        Seconds before the bar first appears (default :data:`DELAY`).
    """

    def __init__(self, total: int | None, desc: str, *, show: bool = True, file: TextIO | None = None,
                 delay: float | None = None) -> None:
        self._file = sys.stderr if file is None else file
        self.n = 0
        isatty = getattr(self._file, "isatty", None)
        #: Whether the bar is displayed (asked for, and its stream is a terminal).
        self.enabled: bool = bool(show and isatty is not None and isatty())
        self._bar: tqdm | None = None  # tqdm is imported only for a bar that is shown
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=f"exactcells: {desc}", unit="", file=self._file,
                             delay=DELAY if delay is None else delay, dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                        "[{elapsed}<{remaining}]{postfix}")

    def advance_to(self, done: int, status: str = "") -> None:
        """Set the number of items done to ``done`` and show ``status`` after the bar."""
        if self._bar is not None:
            if status:
                self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(done - self.n)
        self.n = done

    def step(self, status: str = "") -> None:
        """One more item done."""
        self.advance_to(self.n + 1, status)

    def write(self, message: str) -> None:
        """A log line on the bar's stream, above the bar when it is shown."""
        if self._bar is not None:
            self._bar.write(message, file=self._file)
        else:
            print(message, file=self._file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
