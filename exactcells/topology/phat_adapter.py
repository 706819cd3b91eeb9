"""The one place that talks to PHAT (persistent homology over Z/2).

A boundary matrix is given as compressed columns in filtration order: column ``j`` has
dimension ``dims[j]`` and the (ascending) row indices ``rows[indptr[j]:indptr[j+1]]``, each
smaller than ``j`` (every face enters before its cofaces). The matrix is handed to PHAT through
its binary file format (written with numpy, so a million columns load in well under a second,
instead of a Python list of lists), reduced by the **twist** algorithm (standard reduction with
*clearing*: columns of dimension ``k`` are reduced before those of ``k - 1``, and a column whose
index is already a pivot is zeroed without work), optionally on the **dualized** matrix
(persistent cohomology; PHAT maps the pairs back).

PHAT's binary formats, as its ``save_binary``/``load_binary`` read and write them (int64,
native byte order): a boundary matrix is ``ncols`` then, per column, ``dim, nnz, rows...``;
persistence pairs are ``npairs`` then ``birth, death`` per pair.
"""

from __future__ import annotations

import os
import tempfile
from typing import Literal

import numpy as np

from ..errors import DependencyMissingError, InvalidArgumentError, PersistenceBackendError

__all__ = ["reduce_pairs", "ALGORITHMS", "Algorithm"]

Algorithm = Literal["twist", "twist-dual"]
ALGORITHMS: tuple[str, ...] = ("twist", "twist-dual")


def _phat() -> object:
    try:
        import phat
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise DependencyMissingError(
            "PHAT is needed for homology over Z/2 and persistence; install it with "
            "'pip install pybind11 setuptools wheel && "
            "pip install --use-deprecated=legacy-resolver --no-build-isolation phat'"
        ) from e
    return phat


def require_phat() -> None:
    """Raise :class:`DependencyMissingError` (with the install recipe) when PHAT is missing."""
    _phat()


def _encode(dims: np.ndarray, indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """PHAT's binary boundary-matrix layout as one int64 array."""
    n = len(dims)
    counts = np.diff(indptr).astype(np.int64)
    out = np.empty(1 + 2 * n + len(rows), dtype=np.int64)
    out[0] = n
    # column j starts at 1 + 2 j + indptr[j]
    starts = 1 + 2 * np.arange(n, dtype=np.int64) + indptr[:-1]
    out[starts] = dims
    out[starts + 1] = counts
    if len(rows):
        owner = np.repeat(np.arange(n, dtype=np.int64), counts)
        out[np.arange(len(rows), dtype=np.int64) + 2 * owner + 3] = rows  # 1 + 2 j + t + 2
    return out


def reduce_pairs(
    dims: np.ndarray,
    indptr: np.ndarray,
    rows: np.ndarray,
    *,
    algorithm: Algorithm = "twist",
) -> np.ndarray:
    """Persistence pairs of a filtered boundary matrix over Z/2, computed by PHAT.

    Parameters
    ----------
    dims, indptr, rows
        The columns in filtration order (see the module docstring).
    algorithm
        ``"twist"`` (twist reduction with clearing) or ``"twist-dual"`` (the same on the
        dualized matrix).

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(p, 2)``: ``(birth column, death column)``, sorted by birth.
        Columns in no pair are the essential classes.

    Examples
    --------
    >>> # a filled triangle: vertices 0, 1, 3; edges 2, 4, 5; the face 6
    >>> dims = np.array([0, 0, 1, 0, 1, 1, 2])
    >>> indptr = np.array([0, 0, 0, 2, 2, 4, 6, 9])
    >>> rows = np.array([0, 1, 1, 3, 0, 3, 2, 4, 5])
    >>> reduce_pairs(dims, indptr, rows).tolist()
    [[1, 2], [3, 4], [5, 6]]
    """
    if algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    dims = np.asarray(dims, dtype=np.int64)
    indptr = np.asarray(indptr, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    n = len(dims)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if len(indptr) != n + 1 or int(indptr[-1]) != len(rows):
        raise PersistenceBackendError("malformed boundary matrix (indptr does not match)")
    phat = _phat()
    data = _encode(dims, indptr, rows)
    with tempfile.TemporaryDirectory(prefix="exactcells-phat-") as tmp:
        mpath = os.path.join(tmp, "matrix.bin")
        ppath = os.path.join(tmp, "pairs.bin")
        data.tofile(mpath)
        try:
            bm = phat.boundary_matrix(  # type: ignore[attr-defined]
                representation=phat.representations.bit_tree_pivot_column  # type: ignore[attr-defined]
            )
            if not bm.load(mpath, "b"):
                raise PersistenceBackendError("PHAT could not read the boundary matrix")
            red = phat.reductions.twist_reduction  # type: ignore[attr-defined]
            if algorithm == "twist":
                pairs = bm.compute_persistence_pairs(reduction=red)
            else:
                pairs = bm.compute_persistence_pairs_dualized(reduction=red)
            pairs.sort()
            pairs.save_binary(ppath)
        except PersistenceBackendError:
            raise
        except Exception as e:  # PHAT raises whatever pybind11 maps from C++
            raise PersistenceBackendError(f"PHAT failed: {e}") from e
        raw = np.fromfile(ppath, dtype=np.int64)
    if raw.size < 1 or raw.size != 1 + 2 * int(raw[0]):
        raise PersistenceBackendError("PHAT returned a malformed list of pairs")
    out = raw[1:].reshape(-1, 2)
    if out.size and (np.any(out[:, 0] >= out[:, 1]) or np.any(dims[out[:, 1]] != dims[out[:, 0]] + 1)):
        raise PersistenceBackendError("PHAT returned pairs that are not (face, coface) pairs")
    return out
