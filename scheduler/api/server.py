"""The gRPC server: ``create_server`` wires servicers, auth, health and reflection and binds a port.

``create_server`` returns the server (not started) and the port it bound, so tests
pass port 0 and read the real one back.  ``serve`` runs the whole thing for
``allmende serve``: open the store (migrated), recover rounds a dead server left
``solving``, start, sweep for stale clusters every ``staleness_check_s``, and on
SIGTERM or SIGINT stop gracefully: health turns NOT_SERVING, new calls are refused,
calls in flight get ``grace_s`` to finish, then solves are stopped and the store is
closed (queued writes finish first).  With ``http_port`` set, worker 0 also serves the
web console (:mod:`scheduler.web`) on the same loop, over the same service, with this
module's role table (:func:`scheduler.api.auth.allowed`); it stops before the gRPC server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scheduler.api import servicers
from scheduler.api.auth import Guard, allowed
from scheduler.api.gen.allmende.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
    ledger_pb2,
    ledger_pb2_grpc,
    requests_pb2,
    requests_pb2_grpc,
    review_pb2,
    review_pb2_grpc,
    rounds_pb2,
    rounds_pb2_grpc,
)
from scheduler.domain import ClusterRecord
from scheduler.service import Service
from scheduler.settings import Settings
from scheduler.store import open_store
from scheduler.store.pages import all_pages

if TYPE_CHECKING:
    from scheduler.api.metrics import Metrics
    from scheduler.execution.backend import Backend
    from scheduler.execution.executor import BackendFor
    from scheduler.execution.kuberay_manifest import KubeRayOptions
    from scheduler.web.server import Listening

log = logging.getLogger("allmende.server")

SERVICE_NAMES = (
    inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name,
    requests_pb2.DESCRIPTOR.services_by_name["RequestService"].full_name,
    rounds_pb2.DESCRIPTOR.services_by_name["RoundService"].full_name,
    review_pb2.DESCRIPTOR.services_by_name["ReviewService"].full_name,
    ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name,
    execution_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name,
)
OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
]


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    agent_port: int | None = None  # the mTLS listener, when a client CA is configured


def credentials(settings: Settings, *, mutual: bool = False) -> grpc.ServerCredentials | None:
    """TLS for the main port; with ``mutual``, the agents' port, where a client certificate is required.

    gRPC Python cannot ask for a client certificate without requiring one, so mTLS gets a
    listener of its own: applicants need no certificate on the main port, and the auth gate
    refuses a cluster-agent token on any connection without a verified certificate naming
    the agent's cluster.
    """
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    pair = (settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())
    if mutual and settings.client_ca_file is not None:
        return grpc.ssl_server_credentials([pair], root_certificates=settings.client_ca_file.read_bytes(),
                                           require_client_auth=True)
    return grpc.ssl_server_credentials([pair])


async def create_server(service: Service, settings: Settings,
                        metrics: Metrics | None = None) -> tuple[grpc.aio.Server, int]:
    running = await _build(service, settings, metrics)
    return running.server, running.port


async def _build(service: Service, settings: Settings, metrics: Metrics | None = None) -> Running:
    # A port is shared only by the workers of one server (scheduler.api.workers); otherwise a second
    # server on the same port must fail to bind rather than quietly take half the connections.
    server = grpc.aio.server(options=[*OPTIONS, ("grpc.so_reuseport", int(settings.workers > 1))],
                             interceptors=[metrics.interceptor()] if metrics is not None else None)
    guard = Guard(server, service.authenticate,
                  agents_need_certificate=settings.client_ca_file is not None, cache_s=settings.token_cache_s)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicers.InventoryServicer(service), guard)  # type: ignore[no-untyped-call]
    requests_pb2_grpc.add_RequestServiceServicer_to_server(servicers.RequestServicer(service), guard)  # type: ignore[no-untyped-call]
    rounds_pb2_grpc.add_RoundServiceServicer_to_server(servicers.RoundServicer(service), guard)  # type: ignore[no-untyped-call]
    review_pb2_grpc.add_ReviewServiceServicer_to_server(servicers.ReviewServicer(service), guard)  # type: ignore[no-untyped-call]
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(servicers.LedgerServicer(service), guard)  # type: ignore[no-untyped-call]
    execution_pb2_grpc.add_ExecutionServiceServicer_to_server(servicers.ExecutionServicer(service), guard)  # type: ignore[no-untyped-call]
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    for name in ("", *SERVICE_NAMES):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{settings.host}:{settings.port}"
    creds = credentials(settings)
    port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    agent_port = None
    mutual = credentials(settings, mutual=True) if settings.client_ca_file is not None else None
    if mutual is not None:
        agent_port = server.add_secure_port(f"{settings.host}:{settings.agent_port}", mutual)
        if agent_port == 0:
            raise OSError(f"could not bind {settings.host}:{settings.agent_port}")
    return Running(server, port, checker, agent_port)


async def stop(running: Running, service: Service, grace_s: float) -> None:
    await running.health.enter_graceful_shutdown()
    await running.server.stop(grace_s)
    await service.close()


async def sweep_forever(service: Service, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await service.sweep_stale()
        except Exception:  # a failed sweep is retried on the next tick; it must not end the loop
            log.exception("staleness sweep failed")


async def execute_forever(service: Service, settings: Settings, metrics: Metrics | None = None) -> None:
    """With ``--execute local``: run approved allocations until cancelled; a local Ray head starts on first need.
    With ``--execute clusters``: only on clusters with a target of their own; no local head is started."""
    from scheduler.execution import local_head
    from scheduler.execution.executor import Executor, backend_for
    from scheduler.execution.reconcile import Rules

    def clusters() -> list[ClusterRecord]:
        return all_pages(lambda p: service.store.read(lambda r: r.list_clusters(None, p)))

    head = local_head.OnDemand(clusters, settings.local_ray_gpus, settings.local_ray_address)
    rules = Rules(max_attempts=settings.max_attempts, retry_backoff_s=settings.retry_backoff_s,
                  pending_timeout_s=settings.pending_timeout_s, stop_grace_s=settings.stop_grace_s)
    backends = backend_for(head.url, kuberay_options(settings))
    if settings.execute == "clusters":
        backends = own_targets_only(backends)
    executor = Executor(service.store, backends, clock=service.clock,
                        rules=rules, seconds_per_slot=settings.execution_seconds_per_slot,
                        utilisation=settings.gpu_utilisation)
    try:
        await executor.run_forever(settings.execution_tick_s, metrics.reconciled if metrics is not None else None)
    finally:
        await asyncio.to_thread(head.stop)


def own_targets_only(backends: BackendFor) -> BackendFor:
    """A cluster without a target of its own (it would run on the local head) is not executed here."""

    def build(cluster: ClusterRecord) -> Backend | None:
        target = cluster.execution
        if target is None or (target.kind == "ray" and not target.address):
            return None
        return backends(cluster)

    return build


def kuberay_options(settings: Settings) -> KubeRayOptions | None:
    """The RayJob settings, or ``None`` where the kubernetes client is not installed (no KubeRay cluster then)."""
    try:
        from scheduler.execution.kuberay_manifest import KubeRayOptions
    except ImportError:
        return None
    return KubeRayOptions(image=settings.kuberay_image, gpus_per_node=settings.kuberay_gpus_per_node,
                          namespace_template=settings.kuberay_namespace_template, queue_name=settings.kuberay_queue,
                          suspend_until_start=settings.kuberay_suspend_until_start,
                          ttl_seconds_after_finished=settings.kuberay_ttl_s)


async def start_console(service: Service, settings: Settings) -> Listening:
    """The web console on ``http_host:http_port``, over TLS when the gRPC server has a certificate."""
    from scheduler.web.app import create_app
    from scheduler.web.server import listen

    app = create_app(service, allowed, secure=settings.tls)
    listening = await listen(app, settings.console_host, settings.http_port, cert=settings.tls_cert_file,
                             key=settings.tls_key_file)
    scheme = "https" if settings.tls else "http"
    log.info("web console on %s://%s:%d/", scheme, settings.console_host, listening.port)
    return listening


async def serve(settings: Settings, ready: Callable[[int], Awaitable[None] | None] | None = None, *,
                duties: bool = True, stop_when: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT (or ``stop_when``).  ``duties``: recover rounds at start and sweep
    for stale clusters, which one process of a server does (worker 0 of ``--workers``)."""
    store = open_store(settings.database_url)
    service = Service(store, settings)
    metrics = None
    if settings.metrics_port:
        from scheduler.api.metrics import Metrics

        metrics = Metrics(store)
        metrics.serve(settings.host, settings.metrics_port)
    try:
        if duties:
            recovered = await service.recover()
            if recovered:
                log.warning("rounds left solving by a stopped server marked failed: %s", ", ".join(recovered))
        running = await _build(service, settings, metrics)
        console = await start_console(service, settings) if duties and settings.http_port else None
        await running.server.start()
        log.info("allmende serving on %s:%d (%s)", settings.host, running.port, "TLS" if settings.tls else "plaintext")
        if running.agent_port is not None:
            log.info("cluster agents: mTLS on %s:%d", settings.host, running.agent_port)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopping.set)
        if ready is not None:
            result = ready(running.port)
            if result is not None:
                await result
        sweeper = asyncio.create_task(sweep_forever(service, settings.staleness_check_s)) if duties else None
        executing = duties and settings.execute != "none"
        executor = asyncio.create_task(execute_forever(service, settings, metrics)) if executing else None
        waits = [asyncio.ensure_future(e.wait()) for e in (stopping, stop_when) if e is not None]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        log.info("stopping: %.1fs for calls in flight", settings.grace_s)
        if sweeper is not None:
            sweeper.cancel()
        if executor is not None:
            executor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await executor  # its Ray head stops
        if console is not None:
            await console.stop()
        await stop(running, service, settings.grace_s)
    finally:
        if metrics is not None:
            metrics.close()
        store.close()
