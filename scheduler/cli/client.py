"""What every command that talks to ``allmende serve`` shares: its connection options, and the wrapper that connects,
runs the handler and turns a refusal into one line on stderr and an exit code.

The client commands take ``--server`` (``ALLMENDE_SERVER``, default 127.0.0.1:50051) and ``--token``
(``ALLMENDE_TOKEN``), plus ``--ca`` / ``--cert`` / ``--key`` for TLS and mTLS.  gRPC is loaded (by
:mod:`scheduler.cli.remote`) only when a client command runs, so offline commands never pay for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

err = Console(stderr=True)
RemoteHandler = Callable[["Remote", argparse.Namespace], int]


def group(sub: Any, name: str, help: str) -> Any:
    """A command with subcommands, e.g. ``allmende cluster``; returns the subparsers to add them to."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def command(sub: Any, name: str, help: str, handler: RemoteHandler) -> argparse.ArgumentParser:
    """A client command: its parser, with the connection options, bound to ``handler(remote, args)``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.add_argument("--server", help="host:port (ALLMENDE_SERVER, default 127.0.0.1:50051)")
    p.add_argument("--token", help="bearer token (ALLMENDE_TOKEN)")
    p.add_argument("--ca", help="CA certificate of the server: use TLS")
    p.add_argument("--cert", help="client certificate (mTLS, cluster agents)")
    p.add_argument("--key", help="client key (mTLS)")
    p.set_defaults(func=_connected(handler))
    return p


def _connected(handler: RemoteHandler) -> Callable[[argparse.Namespace], int]:
    """Connect, run, and turn a refusal into one line on stderr and an exit code."""

    def run(args: argparse.Namespace) -> int:
        from scheduler.cli.remote import CliError, connect
        from scheduler.cli.tables import safe

        try:
            remote = connect(args.server, args.token, args.ca, args.cert, args.key)
            try:
                return handler(remote, args)
            finally:
                remote.channel.close()
        except CliError as exc:
            err.print(f"[red]error:[/red] {safe(exc)}")
            return exc.code

    return run
