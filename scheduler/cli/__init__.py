"""The ``allmende`` command line.

Each command family lives in its own module and registers its subcommands; this
module only collects them.  Exit codes: 0 success, 1 a check failed (for example
``verify`` found violations), 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that define ``register(subparsers)``; heavy dependencies are imported lazily inside them.
COMMAND_MODULES = [
    "scheduler.cli.core",
    "scheduler.cli.service",
    "simulations.cli",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="allmende", description="Fair, energy-capped allocation of public GPUs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
