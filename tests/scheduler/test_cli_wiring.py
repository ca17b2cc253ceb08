"""How the ``allmende`` command is put together: one table of command modules, and imports that point one way.

Imports are checked in a fresh interpreter, since this process has long since loaded everything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli import COMMANDS, build_parser
from solver.policies import DEFAULT, POLICIES

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    ("statement", "must_not_load"),
    [
        pytest.param("import simulations.cli", {"scheduler.cli.core", "scheduler.cli.client", "simulations.runner"},
                     id="simulations.cli takes only the exit codes from scheduler.cli, no command of ours"),
        pytest.param("import scheduler.cli", {"simulations", "simulations.cli", "scheduler.cli.core"},
                     id="loading scheduler.cli loads no command module until a parser is built"),
        pytest.param("from scheduler.cli import build_parser; build_parser()", {"grpc", "solver", "ortools"},
                     id="building the parser loads neither gRPC nor the solver"),
    ],
)
def test_imports_point_one_way_and_stay_lazy(statement: str, must_not_load: set[str]) -> None:
    assert loaded_after(statement) & must_not_load == set()


def test_simulations_cli_reads_the_exit_codes_from_the_module_without_imports() -> None:
    exitcodes = Path(importlib.import_module("scheduler.cli.exitcodes").__file__ or "")
    assert not [line for line in exitcodes.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert "scheduler.cli.exitcodes" in loaded_after("import simulations.cli")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


Parsers = dict[tuple[str, ...], argparse.ArgumentParser]


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Parsers:
    """Every runnable command, by its words: ``("round", "open")``."""
    children = subcommands(parser)
    if not children:
        return {path: parser}
    return {k: v for name, child in children.items() for k, v in leaves(child, (*path, name)).items()}


def test_every_module_in_the_table_adds_commands_and_every_command_has_a_handler() -> None:
    for name in COMMANDS:
        parser = argparse.ArgumentParser()
        importlib.import_module(name).register(parser.add_subparsers())
        assert subcommands(parser), f"{name} registers no command"
    missing = [" ".join(path) for path, p in leaves(build_parser()).items() if not callable(p.get_default("func"))]
    assert missing == []


@pytest.mark.parametrize("command", [pytest.param(("solve",), id="offline solve"),
                                     pytest.param(("round", "open"), id="a round opened on the server")])
def test_policy_choices_are_the_solvers_policies(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    parser = leaves(build_parser())[command]
    policy = next(a for a in parser._actions if a.dest == "policy")
    assert list(policy.choices or ()) == sorted(POLICIES)
    assert policy.default == DEFAULT
    assert "{" + ",".join(sorted(POLICIES)) + "}" in parser.format_help()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--policy", "no-such-policy"])
    assert exit_.value.code == 2
    assert "invalid choice: 'no-such-policy'" in capsys.readouterr().err
