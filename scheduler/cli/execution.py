"""``allmende execution status|render``: what became of approved allocations, and the RayJob one of them runs as.

``status`` asks the server (``ListExecutions``).  ``render`` reads the server's database directly, as the ``token``
commands do, because it needs the request's entrypoint and runtime environment and the round's publication time,
which no single RPC returns; it builds the job exactly as the executor would submit it next and prints the
KubeRay manifest, to review or to apply by hand.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from scheduler.cli import tables
from scheduler.cli.client import command, group
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from scheduler.cli.output import add_option, emit

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote
    from scheduler.domain import AllocationRecord, RequestRecord, RoundRecord
    from scheduler.execution.backend import JobSpec

err = Console(stderr=True)


def register(sub: Any) -> None:
    commands = group(sub, "execution", "approved allocations as jobs: their state, and their manifests")
    p = command(commands, "status", "approved allocations of published rounds and what became of them", status)
    p.add_argument("round_id", nargs="?", help="one round (default: every published round)")
    add_option(p)
    p = commands.add_parser("render", help="print the KubeRay RayJob of one allocation (reads the database)")
    p.add_argument("allocation_id")
    p.add_argument("--db", dest="database_url", help="database URL (default: ALLMENDE_DATABASE_URL, then the "
                                                     "server's default)")
    p.set_defaults(func=render)


def status(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import execution_pb2 as exe

    found = tables.pages(lambda token: remote.call(remote.execution.ListExecutions, exe.ListExecutionsRequest(
        round_id=args.round_id or "", page={"page_token": token, "page_size": 500})), "executions")
    emit(args, found, lambda wide: tables.executions(found, wide))
    return EXIT_OK


def render(args: argparse.Namespace) -> int:
    from scheduler.api.server import kuberay_options
    from scheduler.errors import NotFound
    from scheduler.execution.kuberay_manifest import render as manifest
    from scheduler.settings import SettingsError, load
    from scheduler.store import open_store

    try:
        settings = load({"database_url": args.database_url})
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    options = kuberay_options(settings)
    if options is None:
        err.print("[red]error:[/red] rendering a RayJob needs the kubernetes client (pip install kubernetes)")
        return EXIT_FAILED
    store = open_store(settings.database_url)
    try:
        def read(r: Any) -> tuple[JobSpec, str]:
            a = r.get_allocation(args.allocation_id)
            cluster = r.get_cluster(a.cluster)
            namespace = cluster.execution.namespace if cluster.execution is not None else ""
            return job(a, r.get_request(a.request_id), r.get_round(a.round_id),
                       settings.execution_seconds_per_slot), namespace

        spec, namespace = store.read(read)
    except NotFound as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    finally:
        store.close()
    if namespace:  # the cluster's own namespace wins over the per-organisation template, as in KubeRayBackend
        options = options.model_copy(update={"namespace": namespace})
    print(manifest(spec, options), end="")
    return EXIT_OK


def job(a: AllocationRecord, request: RequestRecord, round: RoundRecord, seconds_per_slot: float | None) -> JobSpec:
    """The job the executor submits for this allocation's current attempt."""
    from scheduler.execution.executor import job_spec
    from scheduler.execution.reconcile import submission_id, window

    attempt = (a.execution.attempts if a.execution is not None else 0) or 1
    span = window(round, a, seconds_per_slot, epoch=round.updated_at)
    return job_spec(a, request, span, submission_id(a.id, attempt))
