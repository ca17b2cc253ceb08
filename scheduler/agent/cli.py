"""``allmende agent --cluster ID``: run beside a cluster and report its inventory to the service.

The agent authenticates with its cluster-agent token (``--token-file`` or ``ALLMENDE_TOKEN``; never
on the command line, where ``ps`` shows it) and, where the server asks for mTLS, the client
certificate of its cluster (``--ca`` / ``--cert`` / ``--key``, as for the other client commands).
It reads the GPUs from the Kubernetes nodes, or from ``--static FILE`` at sites without
Kubernetes, and with ``--prometheus URL`` the measured GPU power from DCGM or Kepler.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.agent.errors import AgentError

if TYPE_CHECKING:  # the domain (and with it the solver) loads when the agent runs, not when ``allmende`` parses
    from scheduler.agent.loop import Agent
    from scheduler.domain import Inventory

Read = Callable[[], "Inventory"]
NodeGpus = Callable[[], dict[str, tuple[str, int]]]
Measure = Callable[[], dict[str, float]]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser("agent", help="report a cluster's GPUs, carbon forecast and power to the service")
    p.add_argument("--cluster", required=True, help="the cluster's id, as registered")
    p.add_argument("--server", help="host:port (ALLMENDE_SERVER, default 127.0.0.1:50051)")
    p.add_argument("--token-file", help="file holding the cluster-agent token (default: ALLMENDE_TOKEN)")
    p.add_argument("--ca", help="CA certificate of the server: use TLS")
    p.add_argument("--cert", help="client certificate of this cluster (mTLS)")
    p.add_argument("--key", help="client key (mTLS)")
    p.add_argument("--static", type=Path, metavar="FILE", help="read the inventory from this YAML file, not Kubernetes")
    p.add_argument("--context", help="kubeconfig context (default: in-cluster, else the current one)")
    p.add_argument("--gpu-label", action="append", default=[], metavar="PRODUCT=TYPE",
                   help="map a nvidia.com/gpu.product value to a GPU type id (repeatable)")
    p.add_argument("--product-label", default="nvidia.com/gpu.product", help="node label naming the GPU product")
    p.add_argument("--prometheus", metavar="URL", help="Prometheus to read measured GPU power from")
    p.add_argument("--power", choices=["dcgm", "kepler"], default="dcgm", help="power metrics (default dcgm)")
    p.add_argument("--power-every", type=float, default=300.0, help="seconds between power measurements")
    p.add_argument("--heartbeat-interval", type=float, default=30.0, help="seconds between heartbeats")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        agent = build(args)
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: agent.stop.set())
    try:
        agent.run()
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def build(args: argparse.Namespace) -> Agent:
    """The agent the arguments describe, connected; an :class:`AgentError` for a bad combination."""
    from scheduler.agent.loop import Agent, WithPower
    from scheduler.cli.remote import connect

    if args.heartbeat_interval <= 0 or args.power_every <= 0:
        raise AgentError("--heartbeat-interval and --power-every must be positive")
    read, label_map, nodes = _source(args)
    if args.prometheus:
        if args.power == "kepler" and nodes is None:
            raise AgentError("--power kepler needs the Kubernetes nodes (to know each node's GPUs): drop --static")
        read = WithPower(read, _measure(args, label_map, nodes), every_s=args.power_every)
    remote = connect(args.server, _token(args), args.ca, args.cert, args.key)
    return Agent(remote.inventory, args.cluster, read, metadata=remote.metadata, interval_s=args.heartbeat_interval)


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AgentError(f"--token-file: {exc}") from None
    else:
        token = os.environ.get("ALLMENDE_TOKEN", "").strip()
    if not token:
        raise AgentError("the agent needs its cluster-agent token: --token-file FILE or ALLMENDE_TOKEN")
    return token


def _source(args: argparse.Namespace) -> tuple[Read, dict[str, str], NodeGpus | None]:
    """The inventory reader, the product -> type map, and (Kubernetes only) a node -> GPUs reader."""
    from scheduler.agent import kube, static
    from scheduler.domain import Inventory

    label_map = kube.parse_label_map(args.gpu_label)
    if args.static is not None:
        path: Path = args.static

        def read_file() -> Inventory:
            return static.read_static(path)

        return read_file, label_map, None
    if not label_map:
        raise AgentError("reading Kubernetes nodes needs --gpu-label PRODUCT=TYPE for each GPU product "
                         "(e.g. NVIDIA-H100-80GB-HBM3=H100), or --static FILE")

    def read_nodes() -> Inventory:
        return Inventory(gpus=kube.inventory_from_nodes(kube.read_nodes(args.context), label_map, args.product_label))

    def nodes() -> dict[str, tuple[str, int]]:
        return kube.node_gpus(kube.read_nodes(args.context), label_map, args.product_label)

    return read_nodes, label_map, nodes


def _measure(args: argparse.Namespace, label_map: dict[str, str], nodes: NodeGpus | None) -> Measure:
    from scheduler.agent import power

    url: str = args.prometheus
    if nodes is not None and args.power == "kepler":
        return lambda: power.kepler_watts(power.query(url, power.KEPLER_NODE_GPU_WATTS), nodes())
    return lambda: power.dcgm_watts(power.query(url, power.DCGM_POWER), label_map, power.query(url, power.DCGM_UTIL))
