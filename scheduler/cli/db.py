"""``allmende db upgrade``: migrate the database to the latest schema, and nothing else.

The server migrates at start-up too; this command exists for deployments that migrate in a step of
their own before the new version starts (the Helm chart's pre-upgrade hook Job), so that a failed
migration stops the upgrade instead of a crash-looping server.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

err = Console(stderr=True)


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="the database schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="run the migrations up to the latest revision (idempotent)")
    p.add_argument("--db", dest="database_url", help="database URL (default: ALLMENDE_DATABASE_URL, else SQLite)")
    p.set_defaults(func=cmd_upgrade)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from scheduler.settings import SettingsError, load

    try:
        url = load({"database_url": args.database_url}).database_url
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    if url.startswith("memory:"):
        err.print("[red]error:[/red] memory:// has no schema to migrate")
        return EXIT_BAD_INPUT
    from scheduler.store.migrate import current, head, upgrade

    try:
        before = current(url)
        upgrade(url)
    except Exception as exc:  # the driver's error, shown as it is: the operator must see why
        err.print(f"[red]error:[/red] migration failed: {exc}")
        return EXIT_FAILED
    err.print(f"database at {head()} (was {before or 'empty'})")
    return EXIT_OK
