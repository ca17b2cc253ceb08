"""``allmende publish``, ``ledger``, ``audit`` and ``replay``: the public record of rounds, and its checks.

Publishing puts an approved round on the ledger; the ledger and the audit log say what was decided, by whom and why;
a replay re-solves a stored round with its stored parameters and exits 1 if any outcome differs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from scheduler.cli import tables
from scheduler.cli.client import command
from scheduler.cli.exitcodes import EXIT_FAILED, EXIT_OK
from scheduler.cli.output import add_option, emit

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

console = Console()
err = Console(stderr=True)


def register(sub: Any) -> None:
    p = command(sub, "publish", "publish an approved round to the public ledger", publish)
    p.add_argument("round_id")
    p.add_argument("--reason", required=True)
    p = command(sub, "ledger", "the public ledger: published rounds, or one in full", ledger)
    p.add_argument("round_id", nargs="?")
    add_option(p)
    p = command(sub, "audit", "the audit log: who did what, when and why", audit)
    p.add_argument("--subject", help="e.g. round/round-..., request/req-...")
    p.add_argument("--limit", type=int, default=200)
    add_option(p)
    p = command(sub, "replay", "re-solve a stored round with its stored parameters and compare", replay)
    p.add_argument("round_id")


def publish(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    tables.rounds([remote.call(remote.review.Publish, rev.PublishRequest(round_id=args.round_id, reason=args.reason))])
    return EXIT_OK


def ledger(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import ledger_pb2 as led

    if args.round_id is None:
        entries = tables.pages(lambda token: remote.call(
            remote.ledger.ListPublishedRounds, led.ListPublishedRoundsRequest(page={"page_token": token,
                                                                                "page_size": 500})), "entries")
        emit(args, entries, lambda wide: tables.published(entries, wide))
        return EXIT_OK
    entry = remote.call(remote.ledger.GetLedgerEntry, led.GetLedgerEntryRequest(round_id=args.round_id))
    emit(args, entry, lambda wide: tables.ledger_entry(entry, wide))
    return EXIT_OK


def audit(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    found = tables.pages(lambda token: remote.call(remote.review.ListAuditEvents, rev.ListAuditEventsRequest(
        subject_id=args.subject or "", page={"page_token": token, "page_size": 500})), "events", limit=args.limit)
    emit(args, found, lambda wide: tables.audit(found, wide))
    return EXIT_OK


def replay(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    with err.status(f"re-solving round {args.round_id}"):
        r = remote.call(remote.rounds.ReplayRound, rnd.ReplayRoundRequest(round_id=args.round_id))
    console.print(f"OR-Tools {r.stored_ortools_version} then, {r.current_ortools_version} now")
    if r.identical:
        console.print(f"[green]identical[/green]: every request has the same outcome "
                      f"({r.replayed.assigned} assigned, {r.replayed.rejected} rejected)")
        return EXIT_OK
    table = Table("request", "stored", "replayed", title=f"{len(r.differences)} difference(s)")
    for d in r.differences:
        tables.row(table, d.request_id, d.before, d.after)
    console.print(table)
    return EXIT_FAILED
