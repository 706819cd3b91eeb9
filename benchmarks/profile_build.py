"""Where the time of ``build_complex`` goes: a cProfile summary per network.

    python benchmarks/profile_build.py [E S2_64 C F D4_10x3] [--top 25] [--sort tottime]

Each network is loaded and built once untimed (warm-up: imports, first-call costs), then built
under cProfile; the top functions by own time are printed, with the CPU time of the profiled
build (``time.process_time``, which includes the profiler's overhead) and of an unprofiled
build. ``EXACTCELLS_NO_EXT=1`` profiles the numpy fallback of the build's cut.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networks import find_network  # noqa: E402

from exactcells import build_complex, load_network  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nets", nargs="*", default=["E", "S2_64", "C", "F", "D4_10x3"])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="tottime")
    args = ap.parse_args()
    from exactcells import kernel

    print(f"compiled passes: {getattr(kernel, 'EXT', None) is not None}")
    for name in args.nets:
        net = load_network(find_network(name) if "/" not in name else name)
        build_complex(net)  # warm-up
        u = time.process_time()
        K = build_complex(net)
        plain = time.process_time() - u
        prof = cProfile.Profile(time.process_time)  # CPU time: steadier on a shared machine
        u = time.process_time()
        prof.enable()
        build_complex(net)
        prof.disable()
        profiled = time.process_time() - u
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(f"== {name}: {K.num_cells} cells; CPU {plain:.3f} s unprofiled, {profiled:.3f} s profiled")
        print(out.getvalue())


if __name__ == "__main__":
    main()
