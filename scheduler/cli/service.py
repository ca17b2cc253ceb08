"""Service commands: ``allmende serve`` and the client commands that talk to it over gRPC.

The client commands take ``--server`` (``ALLMENDE_SERVER``, default 127.0.0.1:50051) and
``--token`` (``ALLMENDE_TOKEN``), plus ``--ca`` / ``--cert`` / ``--key`` for TLS and
mTLS.  ``token create`` is the one exception: it writes to the database directly, so
the first operator token can be made before anyone can call the server.  Exit codes:
0 success, 1 the server refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, tables

console = Console()
err = Console(stderr=True)
Handler = Callable[[argparse.Namespace], int]


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the allocation service (embedded SQLite by default)")
    p.add_argument("--db", dest="database_url", help="database URL (default sqlite:///allmende.db)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--tls-cert", dest="tls_cert_file")
    p.add_argument("--tls-key", dest="tls_key_file")
    p.add_argument("--client-ca", dest="client_ca_file", help="CA of cluster-agent certificates (mTLS)")
    p.add_argument("--agent-port", dest="agent_port", type=int, help="mTLS port for cluster agents (default 50052)")
    p.add_argument("--heartbeat-interval", dest="heartbeat_interval_s", type=float)
    p.add_argument("--stale-after", dest="stale_after_missed", type=int, help="missed heartbeats before stale")
    p.add_argument("--solver-executor", dest="solver_executor", choices=["process", "thread"])
    p.add_argument("--workers", type=int, help="server processes sharing the port (default 1; one per core)")
    p.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="bearer tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create a token in the database and print it once")
    p.add_argument("--role", required=True, choices=["applicant", "operator", "cluster-agent", "analyst"])
    p.add_argument("--org", help="the applicant's organisation")
    p.add_argument("--cluster", help="the cluster agent's cluster")
    p.add_argument("--name", default="")
    p.add_argument("--db", dest="database_url")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("list", help="list the tokens in the database (never their secrets)")
    p.add_argument("--db", dest="database_url")
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="revoke a token; running servers refuse it within their token_cache_s (10 s)")
    p.add_argument("token_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--db", dest="database_url")
    p.set_defaults(func=cmd_token_revoke)

    cluster = _group(sub, "cluster", "register clusters and report their inventory")
    p = _client(cluster.add_parser("register", help="register a cluster (or update its description)"))
    p.add_argument("cluster_id")
    p.add_argument("--country", required=True)
    p.add_argument("--operator", default="")
    p.add_argument("--gpu", action="append", required=True, metavar="TYPE:COUNT:WATTS[:MEMORY_GB]")
    p.add_argument("--power-cap-kw", type=float)
    p.add_argument("--pue", type=float, default=1.0)
    p.set_defaults(func=_cmd(_cluster_register))
    p = _client(cluster.add_parser("report", help="send inventory and heartbeats on one stream"))
    p.add_argument("cluster_id")
    p.add_argument("--gpus", action="append", default=[], metavar="TYPE=COUNT")
    p.add_argument("--withdraw", action="append", default=[], metavar="TYPE:GPUS:START/END")
    p.add_argument("--carbon", help="gCO2e/kWh per step, comma-separated")
    p.add_argument("--carbon-start", help="ISO time of the first carbon step")
    p.add_argument("--carbon-step", type=int, default=60, help="minutes per carbon step")
    p.add_argument("--heartbeats", type=int, default=0, help="heartbeats to send after the inventory")
    p.add_argument("--every", type=float, default=10.0, help="seconds between heartbeats")
    p.set_defaults(func=_cmd(_cluster_report))
    p = _client(cluster.add_parser("list", help="list clusters"))
    p.add_argument("--state", choices=["active", "stale", "retired"])
    p.set_defaults(func=_cmd(_cluster_list))
    p = _client(cluster.add_parser("show", help="one cluster"))
    p.add_argument("cluster_id")
    p.set_defaults(func=_cmd(_cluster_show))

    request = _group(sub, "request", "submit and follow allocation requests")
    p = _client(request.add_parser("submit", help="submit the request(s) of a YAML or JSON file"))
    p.add_argument("file")
    p.set_defaults(func=_cmd(_request_submit))
    p = _client(request.add_parser("list", help="list requests"))
    p.add_argument("--org")
    p.add_argument("--state", choices=["submitted", "in_round", "allocated", "rejected", "withdrawn"])
    p.add_argument("--round", dest="round_id")
    p.set_defaults(func=_cmd(_request_list))
    p = _client(request.add_parser("show", help="one request"))
    p.add_argument("request_id")
    p.set_defaults(func=_cmd(_request_show))
    p = _client(request.add_parser("amend", help="replace a request's content from a file, until it enters a round"))
    p.add_argument("request_id")
    p.add_argument("file")
    p.add_argument("--reason", default="")
    p.set_defaults(func=_cmd(_request_amend))
    p = _client(request.add_parser("withdraw", help="withdraw a request, until it enters a round"))
    p.add_argument("request_id")
    p.add_argument("--reason", default="")
    p.set_defaults(func=_cmd(_request_withdraw))

    rounds = _group(sub, "round", "open, run and inspect allocation rounds")
    p = _client(rounds.add_parser("open", help="open a round over a horizon"))
    p.add_argument("--start", required=True, help="ISO time of slot 0")
    p.add_argument("--slots", type=int, required=True)
    p.add_argument("--slot-minutes", type=int, default=60)
    p.add_argument("--policy", choices=["fair", "value"], default="fair")
    p.add_argument("--share", action="append", default=[], metavar="CATEGORY=SHARE")
    p.add_argument("--org-cap-share", type=float)
    p.add_argument("--energy-budget-mwh", type=float)
    p.add_argument("--carbon-budget-t", type=float)
    p.add_argument("--time-limit", type=float, help="solver seconds (server default if omitted)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reason", default="")
    p.set_defaults(func=_cmd(_round_open))
    p = _client(rounds.add_parser("run", help="solve the round, with a progress bar"))
    p.add_argument("round_id")
    p.set_defaults(func=_cmd(_round_run))
    p = _client(rounds.add_parser("show", help="a round and its plan"))
    p.add_argument("round_id")
    p.set_defaults(func=_cmd(_round_show))
    p = _client(rounds.add_parser("list", help="list rounds"))
    p.set_defaults(func=_cmd(_round_list))
    p = _client(rounds.add_parser("explain", help="why a request was rejected, and what would change that"))
    p.add_argument("round_id")
    p.add_argument("request_id")
    p.set_defaults(func=_cmd(_round_explain))

    review = _group(sub, "review", "approve, reject or pin allocations of a proposed round")
    for verb in ("approve", "reject"):
        p = _client(review.add_parser(verb, help=f"{verb} a whole round, or the allocations of some requests"))
        p.add_argument("round_id")
        p.add_argument("request_ids", nargs="*")
        p.add_argument("--reason", required=True)
        p.set_defaults(func=_cmd(_review_approve if verb == "approve" else _review_reject))
    p = _client(review.add_parser("pin", help="force an assignment and re-solve the rest"))
    p.add_argument("round_id")
    p.add_argument("request_id")
    p.add_argument("--cluster", required=True)
    p.add_argument("--gpu-type", required=True)
    p.add_argument("--start", type=int, required=True, help="start slot")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_cmd(_review_pin))

    p = _client(sub.add_parser("publish", help="publish an approved round to the public ledger"))
    p.add_argument("round_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_cmd(_publish))
    p = _client(sub.add_parser("ledger", help="the public ledger: published rounds, or one in full"))
    p.add_argument("round_id", nargs="?")
    p.set_defaults(func=_cmd(_ledger))
    p = _client(sub.add_parser("audit", help="the audit log: who did what, when and why"))
    p.add_argument("--subject", help="e.g. round/round-..., request/req-...")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=_cmd(_audit))
    p = _client(sub.add_parser("replay", help="re-solve a stored round with its stored parameters and compare"))
    p.add_argument("round_id")
    p.set_defaults(func=_cmd(_replay))


def _group(sub: Any, name: str, help: str) -> Any:
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def _client(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--server", help="host:port (ALLMENDE_SERVER, default 127.0.0.1:50051)")
    p.add_argument("--token", help="bearer token (ALLMENDE_TOKEN)")
    p.add_argument("--ca", help="CA certificate of the server: use TLS")
    p.add_argument("--cert", help="client certificate (mTLS, cluster agents)")
    p.add_argument("--key", help="client key (mTLS)")
    return p


def _cmd(fn: Callable[[Any, argparse.Namespace], int]) -> Handler:
    """Connect, run, and turn a refusal into one line on stderr and an exit code."""

    def run(args: argparse.Namespace) -> int:
        from scheduler.cli.remote import CliError, connect

        try:
            remote = connect(args.server, args.token, args.ca, args.cert, args.key)
            try:
                return fn(remote, args)
            finally:
                remote.channel.close()
        except CliError as exc:
            err.print(f"[red]error:[/red] {exc}")
            return exc.code

    return run


# -- serve and tokens -----------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from scheduler.api.server import serve
    from scheduler.api.workers import serve_workers
    from scheduler.settings import SettingsError, load

    fields = ("database_url", "host", "port", "agent_port", "tls_cert_file", "tls_key_file", "client_ca_file",
              "heartbeat_interval_s", "stale_after_missed", "solver_executor", "workers")
    try:
        settings = load({k: getattr(args, k) for k in fields})
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers > 1:
        return EXIT_FAILED if asyncio.run(serve_workers(settings)) else EXIT_OK
    asyncio.run(serve(settings))
    return EXIT_OK


def _admin_store(args: argparse.Namespace) -> Any:
    """The server's database, opened directly: tokens are managed on the server's host, not over gRPC."""
    from scheduler.settings import SettingsError, load
    from scheduler.store import open_store

    try:
        return open_store(load({"database_url": args.database_url}).database_url)
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return None


def _admin(action: str, reason: str) -> Any:
    from datetime import UTC, datetime

    from scheduler.domain import Change, Role

    return Change(actor="cli", role=Role.SYSTEM, at=datetime.now(UTC), action=action, reason=reason)


def cmd_token_create(args: argparse.Namespace) -> int:
    from scheduler.domain import Role
    from scheduler.errors import DomainError

    store = _admin_store(args)
    if store is None:
        return EXIT_BAD_INPUT
    by = _admin("create_token", args.name)
    try:
        issued = store.write(lambda t: t.create_token(Role(args.role), by=by, org=args.org, cluster=args.cluster,
                                                      name=args.name))
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    finally:
        store.close()
    err.print(f"token {issued.record.id} ({issued.record.role}); shown once, keep it secret:")
    console.print(issued.bearer, highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace) -> int:
    from scheduler.store import PageRequest

    store = _admin_store(args)
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
    tables.tokens(found)
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from scheduler.errors import DomainError

    store = _admin_store(args)
    if store is None:
        return EXIT_BAD_INPUT
    by = _admin("revoke_token", args.reason)
    try:
        record = store.write(lambda t: t.revoke_token(args.token_id, by))
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    finally:
        store.close()
    err.print(f"token {record.id} ({record.role}) revoked at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
              "running servers refuse it within their token_cache_s (default 10 s)")
    return EXIT_OK


# -- clusters -----------------------------------------------------------------------------------------


def _cluster_register(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.remote import CliError

    pools = []
    for text in args.gpu:
        parts = text.split(":")
        try:
            gpu_type, count, watts = parts[0], int(parts[1]), float(parts[2])
            memory = float(parts[3]) if len(parts) > 3 else 0.0
        except (IndexError, ValueError):
            raise CliError(f"--gpu {text!r}: expected TYPE:COUNT:WATTS[:MEMORY_GB]", 2) from None
        pools.append(inv.GpuPool(gpu_type=gpu_type, count=count, tdp_watts=watts, memory_gb=memory))
    msg = inv.RegisterClusterRequest(cluster_id=args.cluster_id, operator=args.operator, country=args.country,
                                     gpus=pools, pue=args.pue)
    if args.power_cap_kw is not None:
        msg.power_cap_kw = args.power_cap_kw
    tables.clusters([remote.call(remote.inventory.RegisterCluster, msg)])
    return EXIT_OK


def _cluster_report(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.remote import CliError, timestamp

    report = inv.InventoryReport(cluster_id=args.cluster_id)
    if args.gpus or args.withdraw or args.carbon:
        try:
            gpus = {k: int(v) for k, v in (g.split("=", 1) for g in args.gpus)}
            windows = [inv.WithdrawnWindow(gpu_type=t, gpus=int(n), start=timestamp(a), end=timestamp(b))
                       for t, n, a, b in (_window(w) for w in args.withdraw)]
        except ValueError:
            raise CliError("expected --gpus TYPE=COUNT and --withdraw TYPE:GPUS:START/END (ISO times)", 2) from None
        report.inventory.CopyFrom(inv.Inventory(gpus=gpus, withdrawn=windows))
        if args.carbon:
            if not args.carbon_start:
                raise CliError("--carbon needs --carbon-start", 2)
            report.inventory.carbon.CopyFrom(inv.CarbonForecast(
                start=timestamp(args.carbon_start), step_minutes=args.carbon_step,
                g_per_kwh=[float(v) for v in args.carbon.split(",")]))
    else:
        report.heartbeat.SetInParent()

    def stream() -> Iterator[Any]:
        yield report
        for _ in range(args.heartbeats):
            time.sleep(args.every)
            yield inv.InventoryReport(cluster_id=args.cluster_id, heartbeat=inv.Heartbeat())

    answer = remote.call(remote.inventory.ReportInventory, stream())
    err.print(f"{answer.reports} report(s) accepted")
    tables.clusters([answer.cluster])
    return EXIT_OK


def _window(text: str) -> tuple[str, str, str, str]:
    gpu_type, gpus, span = text.split(":", 2)
    start, end = span.split("/")
    return gpu_type, gpus, start, end


def _cluster_list(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    state = f"CLUSTER_STATE_{args.state.upper()}" if args.state else "CLUSTER_STATE_UNSPECIFIED"
    found = tables.pages(lambda token: remote.call(remote.inventory.ListClusters, inv.ListClustersRequest(
        state=state, page={"page_token": token, "page_size": 500})), "clusters")
    tables.clusters(found)
    return EXIT_OK


def _cluster_show(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    tables.clusters([remote.call(remote.inventory.GetCluster, inv.GetClusterRequest(cluster_id=args.cluster_id))])
    return EXIT_OK


# -- requests -----------------------------------------------------------------------------------------


def _request_submit(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from scheduler.cli.remote import load_specs

    made = [remote.call(remote.requests.SubmitRequest, req.SubmitRequestRequest(idempotency_key=key, spec=spec))
            for key, spec in load_specs(args.file)]
    tables.requests(made)
    return EXIT_OK


def _request_list(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    state = f"REQUEST_STATE_{args.state.upper()}" if args.state else "REQUEST_STATE_UNSPECIFIED"
    found = tables.pages(lambda token: remote.call(remote.requests.ListRequests, req.ListRequestsRequest(
        org=args.org or "", state=state, round_id=args.round_id or "",
        page={"page_token": token, "page_size": 500})), "requests")
    tables.requests(found)
    return EXIT_OK


def _request_show(remote: Any, args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    found = remote.call(remote.requests.GetRequest, req.GetRequestRequest(request_id=args.request_id))
    tables.requests([found])
    console.print_json(json_format.MessageToJson(found.spec))
    return EXIT_OK


def _request_amend(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from scheduler.cli.remote import CliError, load_specs

    specs = load_specs(args.file)
    if len(specs) != 1:
        raise CliError(f"{args.file}: an amendment is one request, found {len(specs)}", 2)
    msg = req.AmendRequestRequest(request_id=args.request_id, spec=specs[0][1], reason=args.reason)
    tables.requests([remote.call(remote.requests.AmendRequest, msg)])
    return EXIT_OK


def _request_withdraw(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    msg = req.WithdrawRequestRequest(request_id=args.request_id, reason=args.reason)
    tables.requests([remote.call(remote.requests.WithdrawRequest, msg)])
    return EXIT_OK


# -- rounds -------------------------------------------------------------------------------------------


def _round_open(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import common_pb2 as common
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from scheduler.cli.remote import CliError, timestamp

    try:
        shares = {k: float(v) for k, v in (s.split("=", 1) for s in args.share)}
    except ValueError:
        raise CliError("--share CATEGORY=SHARE", 2) from None
    policy = common.PolicyConfig(category_shares=shares)
    for name in ("org_cap_share", "energy_budget_mwh", "carbon_budget_t"):
        if getattr(args, name) is not None:
            setattr(policy, name, getattr(args, name))
    msg = rnd.OpenRoundRequest(
        horizon=common.Horizon(start=timestamp(args.start), slot_minutes=args.slot_minutes, slots=args.slots),
        policy=f"POLICY_{args.policy.upper()}", policy_config=policy, reason=args.reason,
    )
    if args.time_limit is not None:
        msg.solver.CopyFrom(common.SolverParams(time_limit_s=args.time_limit, workers=1, seed=args.seed,
                                                deterministic=True))
    tables.rounds([remote.call(remote.rounds.OpenRound, msg)])
    return EXIT_OK


def _round_run(remote: Any, args: argparse.Namespace) -> int:
    import grpc

    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from scheduler.cli.remote import rpc_error

    last = None
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn(), TextColumn("{task.fields[detail]}", markup=False))
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("snapshot", total=1.0, detail="")
        try:
            for update in remote.rounds.RunRound(rnd.RunRoundRequest(round_id=args.round_id),
                                                 metadata=remote.metadata):
                bar.update(task, completed=update.fraction, description=update.phase or "solve",
                           detail=update.message if update.state == rnd.ROUND_STATE_SOLVING else "")
                last = update
        except grpc.RpcError as exc:
            raise rpc_error(exc) from None
    if last is None or last.state != rnd.ROUND_STATE_PROPOSED:
        err.print(f"[red]round {args.round_id} did not solve:[/red] {last.message if last else 'no progress'}")
        return EXIT_FAILED
    return _round_show(remote, args)


def _round_show(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    found = remote.call(remote.rounds.GetRound, rnd.GetRoundRequest(round_id=args.round_id))
    tables.rounds([found])
    if found.state in (rnd.ROUND_STATE_OPEN, rnd.ROUND_STATE_SOLVING, rnd.ROUND_STATE_FAILED):
        return EXIT_OK
    tables.plan(remote.call(remote.rounds.GetPlan, rnd.GetPlanRequest(round_id=args.round_id)))
    return EXIT_OK


def _round_list(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    found = tables.pages(lambda token: remote.call(remote.rounds.ListRounds, rnd.ListRoundsRequest(
        page={"page_token": token, "page_size": 500})), "rounds")
    tables.rounds(found)
    return EXIT_OK


def _round_explain(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    e = remote.call(remote.rounds.Explain, rnd.ExplainRequest(round_id=args.round_id, request_id=args.request_id))
    if e.assigned:
        a = e.assignment
        console.print(f"{e.request_id}: assigned to {a.cluster_id} ({a.gpu_type}), slots [{a.start_slot}, "
                      f"{a.end_slot})")
        return EXIT_OK
    console.print(f"{e.request_id}: rejected, [bold]{e.reason}[/bold]: {e.detail}")
    if e.HasField("counterfactual"):
        console.print(f"  {e.counterfactual.text}")
    return EXIT_OK


# -- review, ledger, audit, replay --------------------------------------------------------------------


def _review_approve(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.ApproveRequest(round_id=args.round_id, request_ids=args.request_ids, reason=args.reason)
    tables.rounds([remote.call(remote.review.Approve, msg)])
    return EXIT_OK


def _review_reject(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.RejectRequest(round_id=args.round_id, request_ids=args.request_ids, reason=args.reason)
    tables.rounds([remote.call(remote.review.Reject, msg)])
    return EXIT_OK


def _review_pin(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    msg = rev.PinRequest(round_id=args.round_id, request_id=args.request_id, cluster_id=args.cluster,
                         gpu_type=args.gpu_type, start_slot=args.start, reason=args.reason)
    with err.status("pinning and re-solving the rest"):
        remote.call(remote.review.Pin, msg)
    return _round_show(remote, args)


def _publish(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    tables.rounds([remote.call(remote.review.Publish, rev.PublishRequest(round_id=args.round_id, reason=args.reason))])
    return EXIT_OK


def _ledger(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import ledger_pb2 as led

    if args.round_id is None:
        tables.published(tables.pages(lambda token: remote.call(
            remote.ledger.ListPublishedRounds, led.ListPublishedRoundsRequest(page={"page_token": token,
                                                                                "page_size": 500})), "entries"))
        return EXIT_OK
    tables.ledger_entry(remote.call(remote.ledger.GetLedgerEntry, led.GetLedgerEntryRequest(round_id=args.round_id)))
    return EXIT_OK


def _audit(remote: Any, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import review_pb2 as rev

    found = tables.pages(lambda token: remote.call(remote.review.ListAuditEvents, rev.ListAuditEventsRequest(
        subject_id=args.subject or "", page={"page_token": token, "page_size": 500})), "events", limit=args.limit)
    tables.audit(found)
    return EXIT_OK


def _replay(remote: Any, args: argparse.Namespace) -> int:
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
        table.add_row(d.request_id, d.before, d.after)
    console.print(table)
    return EXIT_FAILED


# -- helpers ------------------------------------------------------------------------------------------


