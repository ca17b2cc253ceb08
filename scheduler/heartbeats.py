"""Heartbeats are observations: the latest per cluster lives in memory and reaches the store at a slow pace.

A thousand clusters beating every 10 s is 100 store writes a second if each is written.
A heartbeat changes only ``last_heartbeat`` (no version, no audit entry), so
:class:`Heartbeats` keeps the latest instant per cluster in memory and writes it:

- at most every ``persist_s`` per cluster (default: half the staleness window), in one
  unit of work for every cluster that is due, at most every ``flush_s``;
- at once (next flush) when the cluster is stale, so it turns ``active`` again;
- on demand: at the end of a ``ReportInventory`` stream (its answer shows the stored
  cluster) and on shutdown.

Staleness reads both: a cluster is silent if neither the store nor memory has seen it
since the cutoff (:meth:`last_seen`).  After a crash the store may lag by ``persist_s``,
so the sweep waits one heartbeat interval after start before it judges anyone
(:meth:`settled`): every agent gets a chance to reconnect first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from scheduler.access import SYSTEM
from scheduler.states import ClusterState
from scheduler.store import Repository, Transaction

log = logging.getLogger("allmende.heartbeats")


class Heartbeats:
    def __init__(self, store: Repository, clock: Callable[[], datetime], *, flush_s: float, persist_s: float,
                 settle_s: float) -> None:
        self.store = store
        self.clock = clock
        self.flush_s = flush_s
        self.persist = timedelta(seconds=persist_s)
        self.started = clock()
        self.settle = timedelta(seconds=settle_s)
        self.known: set[str] = set()  # clusters that exist (they are never deleted, only retired)
        self.stale: set[str] = set()  # marked stale by the sweep: their next beat is written at once
        self._seen: dict[str, datetime] = {}
        self._written: dict[str, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def beat(self, cluster_id: str) -> None:
        """Note a heartbeat now; an unknown cluster raises NotFound from the store."""
        if cluster_id not in self.known:
            await self.store.read_async(lambda r: r.get_cluster(cluster_id))
            self.known.add(cluster_id)
        self._seen[cluster_id] = self.clock()
        if self._due(cluster_id) and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.ensure_future(self._flush_later())

    def last_seen(self, cluster_id: str) -> datetime | None:
        return self._seen.get(cluster_id)

    def settled(self) -> bool:
        """True once the service has run for one heartbeat interval: agents had time to reconnect."""
        return self.clock() - self.started >= self.settle

    def _due(self, cluster_id: str) -> bool:
        seen, written = self._seen.get(cluster_id), self._written.get(cluster_id)
        if seen is None or seen == written:
            return False
        return cluster_id in self.stale or written is None or seen - written >= self.persist

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_s)
        try:
            await self.flush()
        except Exception:  # the beats stay in memory and are written by a later flush
            log.exception("heartbeat flush failed")

    async def flush(self, only: Iterable[str] | None = None) -> None:
        """Write the beats that are due, or every unwritten beat of ``only``."""
        async with self._lock:
            ids = [c for c in self._seen if self._due(c)] if only is None else [
                c for c in only if c in self._seen and self._seen[c] != self._written.get(c)]
            batch = {c: self._seen[c] for c in sorted(ids)}
            if not batch:
                return

            def tx(t: Transaction) -> None:
                for cluster_id, at in batch.items():
                    record = t.record_heartbeat(cluster_id, at)
                    if record.state == ClusterState.STALE:
                        t.update_cluster(record.model_copy(update={"state": ClusterState.ACTIVE}),
                                         SYSTEM.change("heartbeat_resumed", at))

            await self.store.write_async(tx)
            self._written.update(batch)
            self.stale.difference_update(batch)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush(only=list(self._seen))
