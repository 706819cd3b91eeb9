"""A process's own peak resident memory, for the benchmarks.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is not that on Linux: exec keeps the process's
``maxrss`` from before, and a child forked (or vforked, as :mod:`subprocess` does) from a
benchmark script starts with the parent's resident set. A fresh ``python -c`` started from a
script that imported numpy reports about 30 MiB before it does anything (13 MiB from a shell),
which hid the difference between two tools on small networks. ``VmHWM`` in ``/proc/self/status``
is the high-water mark of the process's current address space only: what the benchmarks report.

A measured child runs :data:`OWN_PEAK_SOURCE` (this function's source) and calls it.
"""

from __future__ import annotations

import inspect


def own_peak_mib() -> float:
    """Peak resident memory of this process's address space, MiB (``VmHWM``; where there is no
    ``/proc``, ``ru_maxrss``, which may include the parent's)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    import sys
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


#: source of :func:`own_peak_mib`, to prepend to the code of a measured ``python -c`` child
OWN_PEAK_SOURCE = inspect.getsource(own_peak_mib)
