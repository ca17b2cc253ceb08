"""``allmende cluster register|report|list|show``: clusters, their inventory and their heartbeats."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console

from scheduler.cli import tables
from scheduler.cli.client import command, group
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_OK
from scheduler.cli.output import add_option, emit

if TYPE_CHECKING:
    from scheduler.cli.remote import Remote

err = Console(stderr=True)


def register(sub: Any) -> None:
    cluster = group(sub, "cluster", "register clusters and report their inventory")
    p = command(cluster, "register", "register a cluster (or update its description), or every cluster of a file",
                register_cluster)
    p.add_argument("cluster_id", nargs="?")
    p.add_argument("--file", help="a clusters file like scheduler/examples/clusters.yaml, checked whole first")
    p.add_argument("--country")
    p.add_argument("--operator", default="")
    p.add_argument("--gpu", action="append", metavar="TYPE:COUNT:WATTS[:MEMORY_GB]")
    p.add_argument("--power-cap-kw", type=float)
    p.add_argument("--pue", type=float, default=1.0)
    p.add_argument("--execution", choices=["ray", "kuberay"], help="where approved allocations run (operators only)")
    p.add_argument("--execution-address", default="", help="ray: the dashboard URL (default: the service's own head)")
    p.add_argument("--execution-context", default="", help="kuberay: kubeconfig context (default: the current one)")
    p.add_argument("--execution-namespace", default="", help="kuberay: namespace (default: one per organisation)")
    p = command(cluster, "report", "send inventory and heartbeats on one stream", report)
    p.add_argument("cluster_id")
    p.add_argument("--gpus", action="append", default=[], metavar="TYPE=COUNT")
    p.add_argument("--withdraw", action="append", default=[], metavar="TYPE:GPUS:START/END")
    p.add_argument("--carbon", help="gCO2e/kWh per step, comma-separated")
    p.add_argument("--carbon-start", help="ISO time of the first carbon step")
    p.add_argument("--carbon-step", type=int, default=60, help="minutes per carbon step")
    p.add_argument("--heartbeats", type=int, default=0, help="heartbeats to send after the inventory")
    p.add_argument("--every", type=float, default=10.0, help="seconds between heartbeats")
    p = command(cluster, "list", "list clusters", list_clusters)
    p.add_argument("--state", choices=["active", "stale", "retired"])
    add_option(p)
    p = command(cluster, "show", "one cluster", show)
    p.add_argument("cluster_id")
    add_option(p)


def register_cluster(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.cli import cluster_file

    messages = cluster_file.load(args.file) if args.file else [_from_flags(args)]
    tables.clusters([remote.call(remote.inventory.RegisterCluster, msg) for msg in messages])
    return EXIT_OK


def _from_flags(args: argparse.Namespace) -> Any:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.cluster_file import target
    from scheduler.cli.remote import CliError

    missing = [flag for flag, value in (("CLUSTER_ID", args.cluster_id), ("--country", args.country),
                                        ("--gpu", args.gpu)) if not value]
    if missing:
        raise CliError(f"cluster register needs {', '.join(missing)} (or --file)", EXIT_BAD_INPUT)
    msg = inv.RegisterClusterRequest(cluster_id=args.cluster_id, operator=args.operator, country=args.country,
                                     gpus=[_pool(text) for text in args.gpu], pue=args.pue)
    if args.power_cap_kw is not None:
        msg.power_cap_kw = args.power_cap_kw
    if args.execution:
        msg.execution.CopyFrom(target(args.execution, args.execution_address, args.execution_context,
                                      args.execution_namespace))
    return msg


def _pool(text: str) -> Any:
    """``--gpu TYPE:COUNT:WATTS[:MEMORY_GB]`` as a GpuPool message."""
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.remote import CliError

    parts = text.split(":")
    try:
        gpu_type, count, watts = parts[0], int(parts[1]), float(parts[2])
        memory = float(parts[3]) if len(parts) > 3 else 0.0
    except (IndexError, ValueError):
        raise CliError(f"--gpu {text!r}: expected TYPE:COUNT:WATTS[:MEMORY_GB]", EXIT_BAD_INPUT) from None
    return inv.GpuPool(gpu_type=gpu_type, count=count, tdp_watts=watts, memory_gb=memory)


def report(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    first = _first_report(args)

    def stream() -> Iterator[Any]:
        yield first
        for _ in range(args.heartbeats):
            time.sleep(args.every)
            yield inv.InventoryReport(cluster_id=args.cluster_id, heartbeat=inv.Heartbeat())

    answer = remote.call(remote.inventory.ReportInventory, stream())
    err.print(f"{answer.reports} report(s) accepted")
    tables.clusters([answer.cluster])
    return EXIT_OK


def _first_report(args: argparse.Namespace) -> Any:
    """The inventory given by ``--gpus``, ``--withdraw`` and ``--carbon``, or a heartbeat when none is given."""
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.cli.remote import CliError, timestamp

    report = inv.InventoryReport(cluster_id=args.cluster_id)
    if not (args.gpus or args.withdraw or args.carbon):
        report.heartbeat.SetInParent()
        return report
    try:
        gpus = {k: int(v) for k, v in (g.split("=", 1) for g in args.gpus)}
        windows = [inv.WithdrawnWindow(gpu_type=t, gpus=int(n), start=timestamp(a), end=timestamp(b))
                   for t, n, a, b in (_window(w) for w in args.withdraw)]
    except ValueError:
        raise CliError("expected --gpus TYPE=COUNT and --withdraw TYPE:GPUS:START/END (ISO times)",
                       EXIT_BAD_INPUT) from None
    report.inventory.CopyFrom(inv.Inventory(gpus=gpus, withdrawn=windows))
    if args.carbon:
        if not args.carbon_start:
            raise CliError("--carbon needs --carbon-start", EXIT_BAD_INPUT)
        report.inventory.carbon.CopyFrom(inv.CarbonForecast(
            start=timestamp(args.carbon_start), step_minutes=args.carbon_step,
            g_per_kwh=[float(v) for v in args.carbon.split(",")]))
    return report


def _window(text: str) -> tuple[str, str, str, str]:
    gpu_type, gpus, span = text.split(":", 2)
    start, end = span.split("/")
    return gpu_type, gpus, start, end


def list_clusters(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    state = f"CLUSTER_STATE_{args.state.upper()}" if args.state else "CLUSTER_STATE_UNSPECIFIED"
    found = tables.pages(lambda token: remote.call(remote.inventory.ListClusters, inv.ListClustersRequest(
        state=state, page={"page_token": token, "page_size": 500})), "clusters")
    emit(args, found, lambda wide: tables.clusters(found, wide))
    return EXIT_OK


def show(remote: Remote, args: argparse.Namespace) -> int:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    found = remote.call(remote.inventory.GetCluster, inv.GetClusterRequest(cluster_id=args.cluster_id))
    emit(args, found, lambda wide: tables.clusters([found], wide))
    return EXIT_OK
