"""``allmende review approve|reject|pin``: an operator's decisions on a proposed round, each with a reason."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console

from scheduler.cli import rounds, tables
from scheduler.cli.client import command, group
from scheduler.cli.exitcodes import EXIT_OK

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

err = Console(stderr=True)


def register(sub: Any) -> None:
    review = group(sub, "review", "approve, reject or pin allocations of a proposed round")
    for verb, handler in (("approve", approve), ("reject", reject)):
        p = command(review, verb, f"{verb} a whole round, or the allocations of some requests", handler)
        p.add_argument("round_id")
        p.add_argument("request_ids", nargs="*")
        p.add_argument("--reason", required=True)
    p = command(review, "pin", "force an assignment and re-solve the rest", pin)
    p.add_argument("round_id")
    p.add_argument("request_id")
    p.add_argument("--cluster", required=True)
    p.add_argument("--gpu-type", required=True)
    p.add_argument("--start", type=int, required=True, help="start slot")
    p.add_argument("--reason", required=True)


def approve(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.ApproveRequest(round_id=args.round_id, request_ids=args.request_ids, reason=args.reason)
    tables.rounds([remote.call(remote.review.Approve, msg)])
    return EXIT_OK


def reject(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.RejectRequest(round_id=args.round_id, request_ids=args.request_ids, reason=args.reason)
    tables.rounds([remote.call(remote.review.Reject, msg)])
    return EXIT_OK


def pin(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.PinRequest(round_id=args.round_id, request_id=args.request_id, cluster_id=args.cluster,
                         gpu_type=args.gpu_type, start_slot=args.start, reason=args.reason)
    with err.status("pinning and re-solving the rest"):
        remote.call(remote.review.Pin, msg)
    return rounds.show(remote, args)
