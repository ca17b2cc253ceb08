"""``allmende request submit|list|show|amend|withdraw``: allocation requests, from a file to a round."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console

from scheduler.cli import tables
from scheduler.cli.client import command, group
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_OK
from scheduler.cli.output import add_option, emit

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

console = Console()


def register(sub: Any) -> None:
    request = group(sub, "request", "submit and follow allocation requests")
    p = command(request, "submit", "submit the request(s) of a YAML or JSON file", submit)
    p.add_argument("file")
    p = command(request, "list", "list requests", list_requests)
    p.add_argument("--org")
    p.add_argument("--state", choices=["submitted", "in_round", "allocated", "rejected", "withdrawn"])
    p.add_argument("--round", dest="round_id")
    add_option(p)
    p = command(request, "show", "one request", show)
    p.add_argument("request_id")
    add_option(p)
    p = command(request, "amend", "replace a request's content from a file, until it enters a round", amend)
    p.add_argument("request_id")
    p.add_argument("file")
    p.add_argument("--reason", default="")
    p = command(request, "withdraw", "withdraw a request, until it enters a round", withdraw)
    p.add_argument("request_id")
    p.add_argument("--reason", default="")


def submit(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from scheduler.cli.remote import CliError, load_specs

    specs = load_specs(args.file)  # every request checked before the first is sent
    made = []
    try:
        for key, spec in specs:
            made.append(remote.call(remote.requests.SubmitRequest,
                                    req.SubmitRequestRequest(idempotency_key=key, spec=spec)))
    except CliError:
        if made:  # the server refused one: show what it stored, so that nothing stored goes unseen
            tables.requests(made)
            tables.err.print(f"{len(made)} of {len(specs)} request(s) stored before the refusal below; submitting "
                             "the same file again stores the rest and returns these unchanged")
        raise
    tables.requests(made)
    return EXIT_OK


def list_requests(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    state = f"REQUEST_STATE_{args.state.upper()}" if args.state else "REQUEST_STATE_UNSPECIFIED"
    found = tables.pages(lambda token: remote.call(remote.requests.ListRequests, req.ListRequestsRequest(
        org=args.org or "", state=state, round_id=args.round_id or "",
        page={"page_token": token, "page_size": 500})), "requests")
    emit(args, found, lambda wide: tables.requests(found, wide))
    return EXIT_OK


def show(remote: Remote, args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    found = remote.call(remote.requests.GetRequest, req.GetRequestRequest(request_id=args.request_id))

    def draw(wide: bool) -> None:
        tables.requests([found], wide)
        console.print_json(json_format.MessageToJson(found.spec))
        if found.waiting:
            console.print(f"[yellow]{tables.safe(found.waiting)}[/yellow]")

    emit(args, found, draw)
    return EXIT_OK


def amend(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from scheduler.cli.remote import CliError, load_specs

    specs = load_specs(args.file)
    if len(specs) != 1:
        raise CliError(f"{args.file}: an amendment is one request, found {len(specs)}", EXIT_BAD_INPUT)
    msg = req.AmendRequestRequest(request_id=args.request_id, spec=specs[0][1], reason=args.reason)
    tables.requests([remote.call(remote.requests.AmendRequest, msg)])
    return EXIT_OK


def withdraw(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    msg = req.WithdrawRequestRequest(request_id=args.request_id, reason=args.reason)
    tables.requests([remote.call(remote.requests.WithdrawRequest, msg)])
    return EXIT_OK
