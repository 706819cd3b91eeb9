"""Files in and out: atomic non-clobbering outputs, bounded JSON and safe ``.npy``/``.npz`` reading.

Every file exactcells writes goes through :func:`atomic_output`: the content is written to a
temporary file beside the target (created with the user's umask, like any new file) and put in
place only when complete, so a failure leaves no partial file. Without ``force`` the target is
claimed with a hard link, which fails atomically if the name exists (no check-then-replace
race); with ``force`` an existing file is replaced and keeps its permission bits.

Readers of untrusted files: :func:`loads_json` / :func:`read_json` (integers bounded by
:data:`~exactcells.numbers.MAX_NUMBER_DIGITS`, nesting errors turned into clear errors) and
:class:`SafeArchive` / :func:`read_npy` (declared shapes checked against limits and against
the data actually present before anything is allocated; object arrays refused).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import ExactCellsError, NonRationalInputError, OutputExistsError, OutputPathError
from .numbers import parse_int_string

__all__ = [
    "atomic_output",
    "atomic_write_text",
    "atomic_write_bytes",
    "check_writable",
    "prepare_output_dir",
    "loads_json",
    "read_json",
    "SafeArchive",
    "read_npy",
    "MAX_ARRAY_BYTES",
]

#: The largest array (in bytes) read from a ``.npy``/``.npz`` file.
MAX_ARRAY_BYTES = 2**30


def check_writable(path: Path, force: bool = False) -> None:
    """Raise :class:`OutputExistsError` when ``path`` exists and ``force`` is false, and
    :class:`OutputPathError` when it is a folder or its parent is a file."""
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"cannot write {path}: {parent} is not a folder")
            break
    if (path.exists() or path.is_symlink()) and not force:
        raise OutputExistsError(f"{path} exists already; pass --force (force=True) to overwrite")


def prepare_output_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (and its parents) if needed; a clear
    :class:`OutputPathError` when a file is in the way or it cannot be created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"cannot use {p} as the output folder: it is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(f"cannot create the output folder {p}: {e.strerror or e}") from e
    return p


def _temp_beside(p: Path) -> tuple[int, Path]:
    """A new empty file beside ``p``, created with mode 0666 minus the umask."""
    for _ in range(100):
        tmp = p.parent / f".{p.name}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        return fd, tmp
    raise OutputPathError(f"cannot create a temporary file beside {p}")  # pragma: no cover


def _commit(tmp: Path, p: Path, force: bool) -> None:
    """Put the complete file ``tmp`` at ``p`` (see the module docstring)."""
    if force:
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(p)
            if stat.S_ISREG(st.st_mode):
                os.chmod(tmp, stat.S_IMODE(st.st_mode))  # --force keeps the file's mode
        os.replace(tmp, p)
        return
    try:
        os.link(tmp, p)  # fails atomically if p exists
    except FileExistsError:
        raise OutputExistsError(f"{p} exists already; pass --force (force=True) to overwrite") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK,
                           errno.ENOSYS, errno.EACCES):
            raise
        # no hard links on this file system: reserve the name exclusively, then replace it
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise OutputExistsError(
                f"{p} exists already; pass --force (force=True) to overwrite") from None
        os.replace(tmp, p)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: str | Path, force: bool = False, binary: bool = True) -> Iterator[IO]:
    """Open a temporary file that becomes ``path`` atomically when the block ends without error.

    The new file gets the user's umask (``0666 & ~umask``); with ``force`` an existing file is
    replaced and keeps its mode; without it an existing ``path`` is never overwritten, even if
    it appears while the block runs.
    """
    p = Path(path)
    check_writable(p, force)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_beside(p)
    except OSError as e:
        raise OutputPathError(f"cannot write {p}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
        _commit(tmp, p, force)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, force: bool = False) -> None:
    with atomic_output(path, force=force, binary=False) as f:
        f.write(text)


#: zlib level of the .npz files exactcells writes: 1 compresses a complex's sign rows (values
#: -1, 0, 1) about 3.5x faster than numpy's default 6, into files about 2x as large
NPZ_LEVEL = 1


def write_npz(f: IO[bytes], arrays: list[tuple[str, np.ndarray]], level: int = NPZ_LEVEL) -> None:
    """A numpy ``.npz`` archive of ``arrays`` (read by ``numpy.load``), deflated at ``level``,
    with fixed timestamps: the same arrays give the same bytes."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, arr in arrays:
            b = io.BytesIO()
            np.lib.format.write_array(b, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, b.getvalue(), compresslevel=level)


def atomic_write_bytes(path: str | Path, data: bytes, force: bool = False) -> None:
    with atomic_output(path, force=force, binary=True) as f:
        f.write(data)


# -- JSON -------------------------------------------------------------------------------------

def loads_json(text: str | bytes, error: type[ExactCellsError], where: str) -> Any:
    """Parse JSON with bounded integers; every failure becomes ``error`` naming ``where``.

    Integer literals longer than :data:`~exactcells.numbers.MAX_NUMBER_DIGITS` digits and
    documents nested too deeply for the parser are refused with a one-line message.
    """
    try:
        return json.loads(text, parse_int=parse_int_string)
    except json.JSONDecodeError as e:
        raise error(f"{where}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except NonRationalInputError as e:
        raise error(f"{where}: {e}") from None
    except RecursionError:
        raise error(f"{where}: the JSON is nested too deeply") from None
    except UnicodeDecodeError as e:
        raise error(f"{where}: not UTF-8 text ({e.reason})") from None


def read_json(path: str | Path, error: type[ExactCellsError]) -> Any:
    """Read a UTF-8 JSON file with :func:`loads_json`; unreadable files raise ``error`` too."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{p}: cannot read the file ({e})") from None
    return loads_json(text, error, str(p))


# -- .npy / .npz ------------------------------------------------------------------------------

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
               NotImplementedError)


def _npy_header(f: IO[bytes], where: str, error: type[ExactCellsError]) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _ZIP_ERRORS as e:
        raise error(f"{where}: not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise error(f"{where}: object arrays are refused (they would need unpickling)")
    return tuple(int(s) for s in shape), bool(fortran), dtype


def _check_size(shape: tuple[int, ...], dtype: np.dtype, available: int, where: str,
                error: type[ExactCellsError], max_bytes: int, max_entries: int | None) -> int:
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if max_entries is not None and count > max_entries:
        raise error(f"{where}: the array declares shape {shape} ({count:,} entries); at most "
                    f"{max_entries:,} are accepted")
    if nbytes > max_bytes:
        raise error(f"{where}: the array declares shape {shape} ({nbytes:,} bytes); at most "
                    f"{max_bytes:,} bytes are accepted")
    if nbytes != available:
        raise error(f"{where}: the array declares shape {shape} of {dtype} ({nbytes:,} bytes) but "
                    f"the file holds {available:,} bytes of data (truncated or corrupt)")
    return nbytes


def _read_body(f: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype, nbytes: int,
               where: str, error: type[ExactCellsError]) -> np.ndarray:
    buf = bytearray(nbytes)
    try:
        got = f.readinto(buf) if nbytes else 0  # type: ignore[attr-defined]
        while got < nbytes:
            more = f.readinto(memoryview(buf)[got:])  # type: ignore[attr-defined]
            if not more:
                break
            got += more
    except _ZIP_ERRORS as e:
        raise error(f"{where}: cannot read the array data ({e})") from None
    if got != nbytes:
        raise error(f"{where}: the array data is truncated ({got:,} of {nbytes:,} bytes)")
    arr = np.frombuffer(buf, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C")


class SafeArchive:
    """A ``.npz`` archive read without trusting it.

    Each array's header is read first; its declared shape must fit ``max_bytes`` (and
    ``max_entries`` when given) and match the bytes the archive holds before anything is
    allocated. Truncated or corrupt archives raise ``error`` naming the file.

    Use as a context manager; :attr:`files` lists the array names, :meth:`shape` peeks at a
    declared shape, :meth:`read` returns an array.
    """

    def __init__(self, path: str | Path, error: type[ExactCellsError]) -> None:
        self.path = Path(path)
        self.error = error
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _ZIP_ERRORS as e:
            raise error(f"{self.path}: not a readable NPZ file ({e})") from None
        self.files = [n[:-4] for n in self._zip.namelist() if n.endswith(".npy")]

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def _open(self, name: str) -> tuple[IO[bytes], zipfile.ZipInfo]:
        if name not in self.files:
            raise self.error(f"{self.path}: no array {name!r}")
        info = self._zip.getinfo(name + ".npy")
        try:
            return self._zip.open(info), info
        except _ZIP_ERRORS as e:
            raise self.error(f"{self.path}: array {name!r}: cannot be read ({e})") from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.read(name)

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape array ``name`` declares (nothing of its data is read)."""
        f, _ = self._open(name)
        with f:
            return _npy_header(f, f"{self.path}: array {name!r}", self.error)[0]

    def read(self, name: str, *, max_bytes: int = MAX_ARRAY_BYTES,
             max_entries: int | None = None) -> np.ndarray:
        """Array ``name``, after its declared size has been checked."""
        where = f"{self.path}: array {name!r}"
        f, info = self._open(name)
        with f:
            shape, fortran, dtype = _npy_header(f, where, self.error)
            try:
                available = info.file_size - f.tell()
            except _ZIP_ERRORS as e:
                raise self.error(f"{where}: cannot be read ({e})") from None
            nbytes = _check_size(shape, dtype, available, where, self.error, max_bytes, max_entries)
            return _read_body(f, shape, fortran, dtype, nbytes, where, self.error)


def read_npy(path: str | Path, error: type[ExactCellsError], *, max_bytes: int = MAX_ARRAY_BYTES,
             max_entries: int | None = None) -> np.ndarray:
    """A ``.npy`` array read without trusting its header (see :class:`SafeArchive`)."""
    p = Path(path)
    try:
        f = open(p, "rb")  # noqa: SIM115
    except OSError as e:
        raise error(f"{p}: cannot read the file ({e.strerror or e})") from None
    with f:
        shape, fortran, dtype = _npy_header(f, str(p), error)
        available = os.fstat(f.fileno()).st_size - f.tell()
        nbytes = _check_size(shape, dtype, available, str(p), error, max_bytes, max_entries)
        return _read_body(f, shape, fortran, dtype, nbytes, str(p), error)
