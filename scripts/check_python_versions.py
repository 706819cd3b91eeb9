"""Build the compiled modules and run the tests of their integer conversions on other Pythons.

``exactcells/_exactc_conv.h`` converts Python ints to GMP integers through CPython's internals,
which differ by version (3.10-3.11: the digits; 3.12: two's complement bytes by the private
functions; 3.13 and later: the public ``PyLong_AsNativeBytes``). The test command runs on one
Python; this script checks the others. For each interpreter it makes a venv (kept in
``--venvs``, reused), installs what the tests import, copies the tracked files of this checkout
to a temporary directory, builds both extensions there and runs the tests that exercise the GMP
module on both paths; ``--all-tests`` runs the whole suite instead (PHAT installed by the
README's recipe; the tests of torch, ONNX and the browser skip where those are absent)::

    python scripts/check_python_versions.py [PYTHON ...] [--venvs DIR] [--tests T ... | --all-tests]

With no PYTHON it takes every ``~/.pyenv/versions/3.1*/bin/python`` from 3.10 on. Exit status 1
if any version fails to build a module or fails a test.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPS = ["numpy", "cython", "hypothesis", "pytest", "pycddlib", "python-flint", "scipy", "networkx",
        "matplotlib", "plotly", "tqdm", "setuptools", "wheel", "dask[distributed]"]
TESTS = ["tests/test_exactc.py", "tests/test_certify.py", "tests/test_coords.py"]


def _version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _found() -> list[Path]:
    found = []
    for p in sorted((Path.home() / ".pyenv" / "versions").glob("3.1*/bin/python")):
        minor = int(p.parent.parent.name.split(".")[1])
        if minor >= 10:
            found.append(p)
    return found


def check(python: Path, venvs: Path, tests: list[str], phat: bool = False) -> tuple[str, str]:
    """(version, result line) for one interpreter."""
    ver = _version(python)
    venv = venvs / f"py{ver}"
    vpy = venv / "bin" / "python"
    if not vpy.exists():
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", *DEPS], check=True)
    if phat:  # the README's recipe (PHAT's sdist has inconsistent metadata)
        subprocess.run([str(vpy), "-m", "pip", "install", "-q", "pybind11"], check=True)
        subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--use-deprecated=legacy-resolver",
                        "--no-build-isolation", "phat"], check=True)
    with tempfile.TemporaryDirectory(prefix=f"exactcells-py{ver}-") as tmp:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split()
        for f in files:
            dst = Path(tmp) / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst)
        subprocess.run([str(vpy), "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp,
                       capture_output=True, check=True)
        probe = subprocess.run([str(vpy), "-c", "import exactcells.kernel as k; "
                                "print(k.EXT is not None, k.GMP is not None)"],
                               cwd=tmp, capture_output=True, text=True)
        if probe.stdout.split() != ["True", "True"]:
            return ver, f"FAILED: the compiled modules did not load ({probe.stdout.strip()} {probe.stderr[-300:]})"
        run = subprocess.run([str(vpy), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                             cwd=tmp, capture_output=True, text=True)
        last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:]
        return ver, ("ok: " if run.returncode == 0 else "FAILED: ") + last


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pythons", nargs="*", type=Path)
    ap.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "exactcells-venvs")
    ap.add_argument("--tests", nargs="+", default=TESTS)
    ap.add_argument("--all-tests", action="store_true", help="the whole suite (installs PHAT)")
    args = ap.parse_args()
    tests = ["tests"] if args.all_tests else args.tests
    pythons = args.pythons or _found()
    if not pythons:
        print("no interpreters given or found under ~/.pyenv/versions", file=sys.stderr)
        return 2
    args.venvs.mkdir(parents=True, exist_ok=True)
    bad = False
    for py in pythons:
        ver, line = check(py, args.venvs, tests, phat=args.all_tests)
        print(f"Python {ver}: {line}", flush=True)
        bad |= not line.startswith("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
