"""Helpers for starting worker processes (certificate volume workers, Dask workers)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["single_threaded_children"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Processes started inside this block begin with one BLAS/OpenMP thread each (unless the
    user chose a number): several processes with several BLAS threads each only fight over the
    cores. The environment is restored afterwards."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    for k in THREAD_VARS:
        os.environ.setdefault(k, "1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
