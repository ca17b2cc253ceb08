"""``allmende serve``: run the allocation service on the settings from flags, environment and defaults."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape

from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

err = Console(stderr=True)
# The flags that override a setting of the same name (scheduler.settings).
SETTINGS = ("database_url", "host", "port", "agent_port", "tls_cert_file", "tls_key_file", "client_ca_file",
            "heartbeat_interval_s", "stale_after_missed", "solver_executor", "workers", "execute",
            "execution_seconds_per_slot", "local_ray_address", "metrics_port", "http_port", "http_host", "log_format")


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
    p.add_argument("--execute", choices=["none", "local", "clusters"],
                   help="run approved allocations of published rounds (local: on the service's own Ray head; "
                        "clusters: only on clusters with a target of their own, no local head)")
    p.add_argument("--execution-seconds-per-slot", dest="execution_seconds_per_slot", type=float, metavar="S",
                   help="compressed clock for demos: one slot of a round lasts S seconds from its publication")
    p.add_argument("--local-ray-address", dest="local_ray_address", metavar="URL",
                   help="dashboard URL of an existing Ray head to use instead of starting one")
    p.add_argument("--metrics-port", dest="metrics_port", type=int, help="Prometheus metrics port (default 0: off)")
    p.add_argument("--http-port", dest="http_port", type=int,
                   help="serve the web console on this port (default 0: off)")
    p.add_argument("--http-host", dest="http_host", help="the web console's host (default: --host)")
    p.add_argument("--log-format", dest="log_format", choices=["text", "json"], help="log lines (default text)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from scheduler import logs
    from scheduler.api.server import serve
    from scheduler.api.workers import serve_workers
    from scheduler.settings import SettingsError, load

    try:
        settings = load({k: getattr(args, k) for k in SETTINGS})
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    logs.configure(settings.log_format)
    if settings.workers > 1:
        return EXIT_FAILED if asyncio.run(serve_workers(settings)) else EXIT_OK
    asyncio.run(serve(settings))
    return EXIT_OK
