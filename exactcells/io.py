"""Atomic, non-clobbering output files.

Every file exactcells writes goes through :func:`atomic_output`: the content is written to a
temporary file beside the target and renamed into place only when complete, so a failure leaves
no partial file; an existing target is refused unless ``force`` is given.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import OutputExistsError, OutputPathError

__all__ = ["atomic_output", "atomic_write_text", "atomic_write_bytes", "check_writable"]


def check_writable(path: Path, force: bool = False) -> None:
    """Raise :class:`OutputExistsError` when ``path`` exists and ``force`` is false."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists already; pass --force (force=True) to overwrite")


@contextlib.contextmanager
def atomic_output(path: str | Path, force: bool = False, binary: bool = True) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` atomically when the block ends without error."""
    p = Path(path)
    check_writable(p, force)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:
        raise OutputPathError(f"cannot write {p}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
        check_writable(p, force)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, force: bool = False) -> None:
    with atomic_output(path, force=force, binary=False) as f:
        f.write(text)


def atomic_write_bytes(path: str | Path, data: bytes, force: bool = False) -> None:
    with atomic_output(path, force=force, binary=True) as f:
        f.write(data)
