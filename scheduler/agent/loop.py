"""The agent's loop: one ``ReportInventory`` stream at a time, reconnecting with backoff.

A stream opens with the full inventory; then every ``interval_s`` it sends a heartbeat, or the new
inventory when the reading changed (the server writes an inventory at once and buffers heartbeats).
When the stream breaks (server restart, network), the agent waits 1, 2, 4 ... up to ``max_s``
seconds and opens a new one, which again starts with the full inventory.  A refusal that retrying
cannot fix (bad token, another cluster's token, an inventory the server rejects) stops the agent.

``read`` is the inventory source (Kubernetes nodes or a static file, plus measured power); a
reading that fails after the first is logged and the last good one kept, so a flaky API server
does not silence the heartbeats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from scheduler.agent.errors import AgentError
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.outbound import ts
from scheduler.domain import Inventory

Read = Callable[[], Inventory]
FATAL = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT}
log = logging.getLogger(__name__)


class ReportStub(Protocol):
    """What the loop needs of ``InventoryServiceStub``."""

    @property
    def ReportInventory(self) -> Callable[..., inv.ReportInventoryResponse]: ...


@dataclass
class Backoff:
    """Exponential delays between reconnects: ``initial_s``, doubling, at most ``max_s``."""

    initial_s: float = 1.0
    max_s: float = 60.0
    _next: float = field(default=0.0, init=False)

    def delay(self) -> float:
        self._next = min(self.max_s, self._next * 2 if self._next else self.initial_s)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


def report(cluster_id: str, inventory: Inventory) -> inv.InventoryReport:
    """The wire form of one full inventory report."""
    msg = inv.Inventory(
        gpus=inventory.gpus,
        withdrawn=[inv.WithdrawnWindow(gpu_type=w.gpu_type, gpus=w.gpus, start=ts(w.start), end=ts(w.end))
                   for w in inventory.unavailable],
        gpu_power_w=inventory.gpu_power_w,
    )
    if inventory.carbon is not None:  # absent, not zero, when the site has no carbon data
        c = inventory.carbon
        msg.carbon.CopyFrom(inv.CarbonForecast(start=ts(c.start), step_minutes=c.step_minutes, g_per_kwh=c.values))
    return inv.InventoryReport(cluster_id=cluster_id, inventory=msg)


@dataclass
class Agent:
    """Reports one cluster's inventory until ``stop`` is set."""

    stub: ReportStub
    cluster_id: str
    read: Read
    metadata: Sequence[tuple[str, str]] = ()
    interval_s: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    stop: threading.Event = field(default_factory=threading.Event)
    last: Inventory | None = None

    def run(self) -> inv.ReportInventoryResponse | None:
        """Stream until stopped; the server's answer to the last stream, or None if none closed cleanly."""
        self.last = self.read()  # the first reading must work: a misconfigured agent stops here
        answer = None
        while not self.stop.is_set():
            opened = time.monotonic()
            try:
                answer = self.stub.ReportInventory(self._reports(), metadata=list(self.metadata))
                log.info("stream closed after %d report(s)", answer.reports)
            except grpc.RpcError as exc:
                code: grpc.StatusCode = exc.code()
                if code in FATAL:
                    raise AgentError(f"the server refused the agent of {self.cluster_id}: "
                                     f"{code.name}: {exc.details()}") from None
                if time.monotonic() - opened > self.interval_s:  # the stream had lived: start backing off anew
                    self.backoff.reset()
                delay = self.backoff.delay()
                log.warning("stream broke (%s: %s); reconnecting in %.1f s", code.name, exc.details(), delay)
                self.stop.wait(delay)
        return answer

    def _reports(self) -> Iterator[inv.InventoryReport]:
        current = self._reading()
        yield report(self.cluster_id, current)
        while not self.stop.wait(self.interval_s):
            fresh = self._reading()
            if fresh != current:
                current = fresh
                yield report(self.cluster_id, current)
            else:
                yield inv.InventoryReport(cluster_id=self.cluster_id, heartbeat=inv.Heartbeat())

    def _reading(self) -> Inventory:
        try:
            self.last = self.read()
        except AgentError as exc:
            log.warning("keeping the last inventory: %s", exc)
        if self.last is None:
            raise AgentError("no inventory has been read yet")
        return self.last


@dataclass
class WithPower:
    """An inventory source with measured power merged in, measured at most every ``every_s`` seconds.

    Power wobbles from one reading to the next; re-measuring on every beat would turn each heartbeat
    into a new inventory, so a measurement is kept for ``every_s`` and rounded to whole watts.  A
    failed measurement is logged and leaves the source's own figures.
    """

    read: Read
    measure: Callable[[], dict[str, float]]
    every_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _measured: dict[str, float] = field(default_factory=dict, init=False)
    _at: float | None = field(default=None, init=False)

    def __call__(self) -> Inventory:
        inventory = self.read()
        now = self.clock()
        if self._at is None or now - self._at >= self.every_s:
            self._at = now
            try:
                self._measured = {g: round(w) for g, w in self.measure().items() if g in inventory.gpus}
            except AgentError as exc:
                log.warning("no power measurement: %s", exc)
        power: dict[str, Any] = {**inventory.gpu_power_w, **self._measured}
        return inventory.model_copy(update={"gpu_power_w": power})
