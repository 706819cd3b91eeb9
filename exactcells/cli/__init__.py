"""The ``exactcells`` command line.

Each command lives in its own module of this package with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (taking the parsed arguments, returning an exit code).
``--json`` prints exactly one JSON object on stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ExactCellsError

__all__ = ["main", "COMMAND_MODULES"]

_NEGATIVE_NUMBER = re.compile(r"^-(\d+(/\d+)?|\d*\.\d+|\d+(\.\d*)?[eE][-+]?\d+)$")

# the modules that define commands, in the order of the help text
COMMAND_MODULES = ("cells", "analyze", "fiedler", "homology", "persistence", "certify", "track")
# commands whose name differs from their module's
_COMMAND_MODULE = {"certify-claim": "certify"}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that command's module is imported (fast start-up)."""
    from .. import __version__

    p = argparse.ArgumentParser(
        prog="exactcells",
        description="Exact polyhedral complexes of ReLU networks and their topology.",
    )
    p.add_argument("--version", action="version", version=f"exactcells {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = _COMMAND_MODULE.get(command or "", command)
    for name in COMMAND_MODULES if wanted not in COMMAND_MODULES else (wanted,):
        mod = importlib.import_module(f".{name}", __name__)
        mod.register(sub)
    # exact numbers such as -1/4 or -1e-3 are values, not options (argparse knows only -1 and -0.5)
    for parser in [p, *sub.choices.values()]:
        parser._negative_number_matcher = _NEGATIVE_NUMBER
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input, 1 other failure)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = _parser(first)
    args = parser.parse_args(args_list)
    try:
        code = args.func(args)
    except ExactCellsError as e:
        print(f"exactcells: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"exactcells: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("exactcells: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (the ``--json`` contract)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
