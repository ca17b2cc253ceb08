"""``allmende round open|run|show|list|explain``: allocation rounds, from a horizon to a proposed plan."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scheduler.cli import tables
from scheduler.cli.client import command, group
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from scheduler.cli.output import add_option, emit
from scheduler.cli.policy import add_policy_option
from scheduler.cli.tables import safe

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

console = Console()
err = Console(stderr=True)


def register(sub: Any) -> None:
    rounds = group(sub, "round", "open, run and inspect allocation rounds")
    p = command(rounds, "open", "open a round over a horizon", open_round)
    p.add_argument("--start", required=True, help="ISO time of slot 0")
    p.add_argument("--slots", type=int, required=True)
    p.add_argument("--slot-minutes", type=int, default=60)
    add_policy_option(p)
    p.add_argument("--share", action="append", default=[], metavar="CATEGORY=SHARE")
    p.add_argument("--org-cap-share", type=float)
    p.add_argument("--energy-budget-mwh", type=float)
    p.add_argument("--carbon-budget-t", type=float)
    p.add_argument("--time-limit", type=float, help="solver seconds (server default if omitted)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reason", default="")
    add_option(p)  # -o json: a script reads the new round's id (.roundId)
    p = command(rounds, "run", "solve the round, with a progress bar", run)
    p.add_argument("round_id")
    p.add_argument("--allow-no-clusters", action="store_true",
                   help="run even when no cluster is active (every request is then rejected)")
    p = command(rounds, "show", "a round and its plan", show)
    p.add_argument("round_id")
    add_option(p)
    add_option(command(rounds, "list", "list rounds", list_rounds))
    p = command(rounds, "explain", "why a request was rejected, and what would change that", explain)
    p.add_argument("round_id")
    p.add_argument("request_id")


def open_round(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import common_pb2 as common
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from scheduler.cli.remote import CliError, timestamp

    try:
        shares = {k: float(v) for k, v in (s.split("=", 1) for s in args.share)}
    except ValueError:
        raise CliError("--share CATEGORY=SHARE", EXIT_BAD_INPUT) from None
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
    opened = remote.call(remote.rounds.OpenRound, msg)
    emit(args, opened, lambda wide: tables.rounds([opened], wide))
    return EXIT_OK


def run(remote: Remote, args: argparse.Namespace) -> int:
    """Solve with a progress bar fed by the server's stream, then show the proposed plan."""
    import grpc

    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from scheduler.cli.remote import rpc_error

    check_clusters(remote, args.allow_no_clusters)
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
        why = safe(last.message) if last else "no progress"
        err.print(f"[red]round {safe(args.round_id)} did not solve:[/red] {why}")
        return EXIT_FAILED
    return show(remote, args)


def check_clusters(remote: Remote, allow_none: bool) -> None:
    """Warn of stale clusters (a round leaves them out), and refuse to plan on none unless ``allow_none``."""
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.remote import CliError

    found = tables.pages(lambda token: remote.call(remote.inventory.ListClusters, inv.ListClustersRequest(
        page={"page_token": token, "page_size": 500})), "clusters")
    stale = [c.cluster_id for c in found if c.state == inv.CLUSTER_STATE_STALE]
    active = [c for c in found if c.state == inv.CLUSTER_STATE_ACTIVE]
    if stale:
        err.print(f"[yellow]warning:[/yellow] {len(stale)} stale cluster(s) left out of this round (no heartbeat "
                  f"from their agents): {safe(', '.join(stale))}")
    if not active and not allow_none:
        raise CliError(f"no cluster is active ({len(found)} registered, {len(stale)} stale): the round would reject "
                       "every request; start the clusters' agents, or run again with --allow-no-clusters")


def show(remote: Remote, args: argparse.Namespace) -> int:
    """The round, and its plan once it has one; ``args.round_id`` names it."""
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from scheduler.cli.remote import CliError

    found = remote.call(remote.rounds.GetRound, rnd.GetRoundRequest(round_id=args.round_id))
    plan = None
    if found.state not in (rnd.ROUND_STATE_OPEN, rnd.ROUND_STATE_SOLVING, rnd.ROUND_STATE_FAILED):
        try:
            plan = remote.call(remote.rounds.GetPlan, rnd.GetPlanRequest(round_id=args.round_id))
        except CliError as exc:
            if exc.status != "PERMISSION_DENIED":
                raise
            err.print("the plan itself is shown to operators and analysts; `allmende round explain ROUND REQUEST` "
                      "explains your own requests")

    def draw(wide: bool) -> None:
        tables.rounds([found], wide)
        if plan is not None:
            tables.plan(plan, wide)

    emit(args, {"round": found, "plan": plan}, draw)
    return EXIT_OK


def list_rounds(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    found = tables.pages(lambda token: remote.call(remote.rounds.ListRounds, rnd.ListRoundsRequest(
        page={"page_token": token, "page_size": 500})), "rounds")
    emit(args, found, lambda wide: tables.rounds(found, wide))
    return EXIT_OK


def explain(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    e = remote.call(remote.rounds.Explain, rnd.ExplainRequest(round_id=args.round_id, request_id=args.request_id))
    if e.assigned:
        a = e.assignment
        console.print(f"{safe(e.request_id)}: assigned to {safe(a.cluster_id)} ({safe(a.gpu_type)}), "
                      f"slots \\[{a.start_slot}, {a.end_slot}): {tables.instant(a, 'start')} → "
                      f"{tables.instant(a, 'end')} UTC")
        return EXIT_OK
    console.print(f"{safe(e.request_id)}: rejected, [bold]{safe(e.reason)}[/bold]: {safe(e.detail)}")
    if e.HasField("counterfactual"):
        console.print(f"  {safe(e.counterfactual.text)}")
    return EXIT_OK
