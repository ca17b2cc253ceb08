"""``allmende token create|list|revoke``: bearer tokens, managed straight on the server's database.

Not over gRPC: the first operator token must exist before anyone can call the server, so these commands run on the
server's host with its ``--db`` (or ``ALLMENDE_DATABASE_URL``).  A revoked token is refused by running servers
within their ``token_cache_s``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from scheduler.cli import tables
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_OK
from scheduler.cli.output import add_option, emit

if TYPE_CHECKING:
    from scheduler.domain import Change

console = Console()
err = Console(stderr=True)


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="bearer tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create a token in the database and print it once")
    p.add_argument("--role", required=True, choices=["applicant", "operator", "cluster-agent", "analyst"])
    p.add_argument("--org", help="the applicant's organisation")
    p.add_argument("--cluster", help="the cluster agent's cluster")
    p.add_argument("--name", default="")
    p.add_argument("--db", dest="database_url")
    p.add_argument("--create-db", action="store_true", help="create the SQLite database if it does not exist yet")
    p.set_defaults(func=cmd_create)
    p = token.add_parser("list", help="list the tokens in the database (never their secrets)")
    p.add_argument("--db", dest="database_url")
    add_option(p)
    p.set_defaults(func=cmd_list)
    p = token.add_parser("revoke", help="revoke a token; running servers refuse it within their token_cache_s (10 s)")
    p.add_argument("token_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--db", dest="database_url")
    p.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    from scheduler.domain import Role
    from scheduler.errors import DomainError

    store = _open_store(args, create=args.create_db)
    if store is None:
        return EXIT_BAD_INPUT
    by = _change("create_token", args.name)
    try:
        issued = store.write(lambda t: t.create_token(Role(args.role), by=by, org=args.org, cluster=args.cluster,
                                                      name=args.name))
    except DomainError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    finally:
        store.close()
    err.print(f"token {issued.record.id} ({issued.record.role}); shown once, keep it secret:")
    console.print(issued.bearer, highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from scheduler.store import PageRequest

    store = _open_store(args)
    if store is None:
        return EXIT_BAD_INPUT
    try:
        found, cursor = [], None
        while True:
            request = PageRequest(limit=500, cursor=cursor)
            page = store.read(lambda r, request=request: r.list_tokens(request))
            found += page.items
            cursor = page.next_cursor
            if not cursor:
                break
    finally:
        store.close()
    emit(args, found, lambda wide: tables.tokens(found, wide))
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    from scheduler.errors import DomainError

    store = _open_store(args)
    if store is None:
        return EXIT_BAD_INPUT
    by = _change("revoke_token", args.reason)
    try:
        record = store.write(lambda t: t.revoke_token(args.token_id, by))
    except DomainError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    finally:
        store.close()
    err.print(f"token {record.id} ({record.role}) revoked at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
              "running servers refuse it within their token_cache_s (default 10 s)")
    return EXIT_OK


def _open_store(args: argparse.Namespace, create: bool = False) -> Any:
    """The server's database, named on stderr; None (and the reason) when its URL does not validate, or when it is a
    SQLite file that does not exist and ``create`` is not set: run from another directory, the default
    ``sqlite:///allmende.db`` would otherwise be a new, empty database beside the caller."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from scheduler.settings import SettingsError, load
    from scheduler.store import open_store

    try:
        url = load({"database_url": args.database_url}).database_url
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return None
    parsed = make_url(url) if "://" in url and not url.startswith("memory:") else None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "").resolve()
        if not path.exists() and not create:
            err.print(f"[red]error:[/red] no database at {escape(str(path))}: give the server's with --db (or "
                      "ALLMENDE_DATABASE_URL), or pass --create-db to create it there")
            return None
        err.print(f"database: {escape(str(path))}")
    else:
        err.print(f"database: {escape(url.split('@')[-1])}")  # never a password
    return open_store(url)


def _change(action: str, reason: str) -> Change:
    """The audit record of a token change made on the host: actor ``cli``, role system."""
    from datetime import UTC, datetime

    from scheduler.domain import Change, Role

    return Change(actor="cli", role=Role.SYSTEM, at=datetime.now(UTC), action=action, reason=reason)
