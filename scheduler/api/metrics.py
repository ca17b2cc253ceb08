"""Prometheus metrics on a port of their own (``metrics_port``; 0 turns them off).

Two kinds, by where the truth lives:

- What one process sees as it happens: RPCs by method and status code and their latency (a gRPC
  interceptor, :class:`RpcMetrics`), and the executor's reconcile ticks (:meth:`Metrics.reconciled`).
- What the database knows, read at scrape time (:class:`StoreCollector`): allocations by state, the
  latest solved round's solve time and gap to its bound, energy and CO2 of executed allocations.
  Read from the store, these agree on every worker of ``--workers`` and survive a restart.

With ``--workers N``, worker ``i`` serves its metrics on ``metrics_port + i`` (an HTTP port cannot be
shared the way the gRPC port is); the store-derived families are the same on each.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from scheduler.domain import AllocationRecord, RoundRecord
from scheduler.states import AllocationState, RoundState
from scheduler.store import Repository, RoundQuery
from scheduler.store.pages import all_pages

log = logging.getLogger("allmende.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SOLVED = frozenset({RoundState.PROPOSED, RoundState.APPROVED, RoundState.PUBLISHED})


class Metrics:
    """The registry of one server process, and the families written as things happen."""

    def __init__(self, store: Repository) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter("allmende_rpcs", "RPCs handled, by full method name and gRPC status code",
                            ["method", "code"], registry=self.registry)
        self.rpc_seconds = Histogram("allmende_rpc_duration_seconds", "Time to handle an RPC, by method",
                                     ["method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.reconcile_seconds = Histogram("allmende_reconcile_duration_seconds",
                                           "Time one executor tick takes (observe, decide, act)",
                                           buckets=LATENCY_BUCKETS, registry=self.registry)
        self.last_reconcile: float | None = None  # time.time() of the last tick that finished
        self._http: WSGIServer | None = None
        self.registry.register(StoreCollector(store, self))

    def reconciled(self, seconds: float) -> None:
        """An executor tick finished (successfully) and took ``seconds``."""
        self.reconcile_seconds.observe(seconds)
        self.last_reconcile = time.time()

    def interceptor(self) -> RpcMetrics:
        return RpcMetrics(self)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint in a daemon thread; returns the bound port (``port`` 0: any free one, for tests)."""
        self._http, _thread = start_http_server(port, addr=host, registry=self.registry)
        bound: int = self._http.server_address[1]
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class StoreCollector(Collector):
    """Families read from the store at each scrape: the database is the truth every worker shares."""

    def __init__(self, store: Repository, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self._solved: dict[str, tuple[float, float]] = {}  # round id -> (solve seconds, gap): never change

    def collect(self) -> Iterator[Metric]:
        yield from self._reconcile()
        try:
            allocations = self.store.read(lambda r: all_pages(lambda p: r.list_allocations(None, p)))
            rounds = self.store.read(lambda r: all_pages(lambda p: r.list_rounds(RoundQuery(states=SOLVED), p)))
        except Exception:  # a scrape must answer even when the database does not; the gap in the series shows it
            log.exception("metrics: the store could not be read")
            return
        yield from _allocations(allocations)
        yield from self._rounds(rounds)

    def _reconcile(self) -> Iterator[Metric]:
        last = self.metrics.last_reconcile
        if last is not None:
            lag = GaugeMetricFamily("allmende_reconcile_lag_seconds",
                                    "Seconds since the executor last finished a reconcile tick")
            lag.add_metric([], max(0.0, time.time() - last))
            yield lag

    def _rounds(self, rounds: list[RoundRecord]) -> Iterator[Metric]:
        for record in rounds:
            if record.id not in self._solved and record.plan is not None:
                info = record.plan.solver
                gap = abs(info.bound - info.objective) / max(abs(info.bound), 1e-9)
                self._solved[record.id] = (info.wall_seconds, gap)
        solved = GaugeMetricFamily("allmende_rounds_solved", "Rounds with a plan (proposed, approved, published)")
        solved.add_metric([], len(rounds))
        yield solved
        if not rounds:
            return
        latest = max(rounds, key=lambda r: r.created_at).id
        seconds, gap = self._solved.get(latest, (0.0, 0.0))
        solve = GaugeMetricFamily("allmende_round_solve_seconds", "Solver wall time of the latest solved round",
                                  labels=["round_id"])
        solve.add_metric([latest], seconds)
        yield solve
        ratio = GaugeMetricFamily("allmende_round_gap_ratio",
                                  "Relative gap between the latest solved round's objective and its bound",
                                  labels=["round_id"])
        ratio.add_metric([latest], gap)
        yield ratio


def _allocations(allocations: list[AllocationRecord]) -> Iterator[Metric]:
    by_state = GaugeMetricFamily("allmende_allocations", "Allocations by state", labels=["state"])
    for state in AllocationState:
        by_state.add_metric([state.value], sum(1 for a in allocations if a.state == state))
    yield by_state
    used = [a.usage for a in allocations if a.usage is not None]
    energy = CounterMetricFamily("allmende_energy_kwh", "Energy used by executed allocations, kWh",
                                 labels=["source"])
    for source in ("measured", "estimated"):
        energy.add_metric([source], sum(u.energy_kwh for u in used if u.energy_source == source))
    yield energy
    co2 = CounterMetricFamily("allmende_co2_kg", "CO2 emitted by executed allocations whose cluster reports "
                                                 "its carbon intensity, kg")
    co2.add_metric([], sum(u.co2_kg for u in used if u.co2_kg is not None))
    yield co2


class RpcMetrics(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no stubs
    """Counts and times every RPC, health checks and refused calls included, by method and final code."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._unary(method, handler.unary_unary))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=self._unary(method, handler.stream_unary))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=self._stream(method, handler.unary_stream))
        return handler._replace(stream_stream=self._stream(method, handler.stream_stream))

    def _unary(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            failed = True
            try:
                response = await behaviour(request, context)
                failed = False
                return response
            finally:
                self._observe(method, context, started, failed)

        return timed

    def _stream(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isasyncgenfunction(behaviour):  # writes with context.write: time it as a unary call
            return self._unary(method, behaviour)

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            started = time.perf_counter()
            failed = True
            try:
                async for item in behaviour(request, context):
                    yield item
                failed = False
            finally:
                self._observe(method, context, started, failed)

        return timed

    def _observe(self, method: str, context: grpc.aio.ServicerContext[Any, Any], started: float,
                 failed: bool) -> None:
        code = context.code()
        if failed and code is None and context.cancelled():
            name = "CANCELLED"
        elif isinstance(code, grpc.StatusCode):
            name = code.name
        elif code is None or code == 0:
            name = "UNKNOWN" if failed else "OK"
        else:
            name = next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))
        self.metrics.rpcs.labels(method, name).inc()
        self.metrics.rpc_seconds.labels(method).observe(time.perf_counter() - started)
