"""Build of exactcells' optional compiled extensions; metadata: pyproject.toml.

exactcells._cutc (the build's cut and float filter) is compiled from exactcells/_cutc.pyx, and
exactcells._exactc (exact signs and crossings over GMP) from exactcells/_exactc.pyx, when Cython,
a C compiler and, for the second, GMP's headers (libgmp-dev) are available (``./run`` installs
Cython first). Without them, or when compiling fails, exactcells installs without the module
concerned and uses its numpy and Python-integer passes (identical results, slower); a warning
says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _extensions() -> list:
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        sys.stderr.write("exactcells: Cython is not installed; building without the compiled cut "
                         "(pip install cython, then reinstall, to get it)\n")
        return []
    exts = [Extension("exactcells._cutc", ["exactcells/_cutc.pyx"]),
            # exact signs and crossings over GMP (libgmp-dev, which cddlib needs anyway)
            Extension("exactcells._exactc", ["exactcells/_exactc.pyx"], libraries=["gmp"],
                      include_dirs=["exactcells"])]
    out = []
    for ext in exts:  # one failure leaves the other module
        try:
            out += cythonize([ext], compiler_directives={"language_level": "3"}, quiet=True)
        except Exception as exc:  # pragma: no cover - a broken Cython
            sys.stderr.write(f"exactcells: cythonize failed ({exc}); building without {ext.name}\n")
    return out


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install: a missing compiler leaves the numpy passes."""

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        if self.compiler.compiler_type == "unix":
            # no fused multiply-add contraction and no fast-math: every float operation of the
            # filter rounds as the proof in exactcells/kernel.py assumes (and as numpy does)
            ext.extra_compile_args = [*ext.extra_compile_args, "-ffp-contract=off", "-fno-fast-math"]
        try:
            super().build_extension(ext)
        except Exception as exc:
            sys.stderr.write(f"exactcells: could not compile {ext.name} ({exc}); "
                             "exactcells works without it (the numpy passes)\n")

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            sys.stderr.write(f"exactcells: building extensions failed ({exc}); "
                             "exactcells works without them (the numpy passes)\n")


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
