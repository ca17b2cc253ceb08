"""``allmende examples [DIR]``: the packaged example files, copied out to read, edit and feed to the commands.

Clusters (``cluster register --file``), requests (``request submit``) and the agents' static inventories
(``agent --static``).  An existing file is never overwritten without ``--force``; on a refusal nothing is written.
"""

from __future__ import annotations

import argparse
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_OK

console = Console(highlight=False)
err = Console(stderr=True)
FILES = ("clusters.yaml", "requests.yaml", "agent-static.yaml")
FOLDERS = ("agents",)  # every *.yaml inside


def register(sub: Any) -> None:
    p = sub.add_parser("examples", help="copy the example clusters, requests and agent files into a folder")
    p.add_argument("dir", nargs="?", default="allmende-examples", help="target folder (default ./allmende-examples)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=cmd_examples)


def packaged() -> dict[str, Traversable]:
    """The example files by their path relative to the target folder."""
    root = resources.files("scheduler.examples")
    found = {name: root.joinpath(name) for name in FILES}
    for folder in FOLDERS:
        for item in sorted(root.joinpath(folder).iterdir(), key=lambda t: t.name):
            if item.name.endswith(".yaml"):
                found[f"{folder}/{item.name}"] = item
    return found


def cmd_examples(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    files = packaged()
    existing = [name for name in files if (target / name).exists()]
    if existing and not args.force:
        err.print(f"[red]error:[/red] {escape(str(target))} already holds {', '.join(existing)}; nothing written "
                  "(--force overwrites)")
        return EXIT_BAD_INPUT
    for name, source in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.read_bytes())
        console.print(f"wrote {path}")
    return EXIT_OK
