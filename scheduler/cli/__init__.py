"""The ``allmende`` command line: one table of command modules, each registering its own subcommands.

A command module exposes ``register(sub)``, which adds its parsers to the top-level subparsers and binds each to a
handler; adding a command group is one new module and one line in :data:`COMMANDS`.  Handlers return the codes of
:mod:`scheduler.cli.exitcodes`.

Why the simulation commands are named here and not the other way round: the ``allmende`` command is the composition
root of the whole project, so it may sit above every package, ``simulations`` included.  The arrows stay one way
(``simulations -> scheduler``) because ``simulations.cli`` imports only :mod:`scheduler.cli.exitcodes`, a module with
no imports, and this module imports no command module until :func:`build_parser` runs.  Loading
``simulations.cli`` therefore never loads a command of ours, and loading ``scheduler.cli`` never loads
``simulations``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# In the order of ``allmende --help``.  Heavy dependencies are imported lazily inside each module's handlers.
COMMANDS: tuple[str, ...] = (
    "scheduler.cli.core",  # solve, verify, explain, schema, demo-solver: offline, on files
    "scheduler.cli.demo",  # demo: the whole product on one machine
    "scheduler.cli.examples",  # examples: the example files, copied out
    "scheduler.cli.serve",  # serve
    "scheduler.cli.db",  # db upgrade: migrations alone, for a deployment step (the Helm hook)
    "scheduler.agent.cli",  # agent: a cluster's inventory, carbon and power, reported
    "scheduler.cli.tokens",  # token create|list|revoke, straight on the database
    "scheduler.cli.clusters",  # cluster register|report|list|show
    "scheduler.cli.requests",  # request submit|list|show|amend|withdraw
    "scheduler.cli.rounds",  # round open|run|show|list|explain
    "scheduler.cli.review",  # review approve|reject|pin
    "scheduler.cli.ledger",  # publish, ledger, audit, replay
    "scheduler.cli.execution",  # execution status|render
    "simulations.cli",  # simulate, sweep
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="allmende", description="Fair, energy-capped allocation of public GPUs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
