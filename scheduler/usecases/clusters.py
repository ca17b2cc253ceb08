"""Clusters: registration, inventory reports, and the sweep that marks silent clusters stale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from scheduler.access import SYSTEM, Principal, require_cluster
from scheduler.domain import ClusterRecord, Inventory
from scheduler.errors import InvalidInput, NotFound
from scheduler.states import ClusterState
from scheduler.store import AllocationQuery, ClusterQuery, Transaction
from scheduler.store.pages import all_pages, allocations
from scheduler.usecases.standing import FLAGGABLE

DESCRIPTION = ("operator", "country", "gpu_types", "gpus", "power_cap_kw", "pue")


def register(t: Transaction, who: Principal, record: ClusterRecord, reason: str, now: datetime) -> ClusterRecord:
    """A new cluster, or a new description of a known one; registering the same description again writes nothing."""
    require_cluster(who, record.id, "register")
    try:
        stored = t.get_cluster(record.id)
    except NotFound:
        fresh = record.model_copy(update={"registered_at": now})
        return t.add_cluster(fresh, who.change("register", now, reason))
    update = {k: getattr(record, k) for k in DESCRIPTION}
    if all(getattr(stored, k) == v for k, v in update.items()):
        return stored
    return t.update_cluster(stored.model_copy(update=update), who.change("describe", now, reason))


def report_inventory(t: Transaction, cluster_id: str, inventory: Inventory, now: datetime) -> ClusterRecord:
    """A heartbeat with a new inventory, written at once; a stale cluster that reports becomes active again."""
    check_inventory(t.get_cluster(cluster_id), inventory)
    record = t.record_heartbeat(cluster_id, now, inventory)
    if record.state == ClusterState.STALE:
        record = t.update_cluster(record.model_copy(update={"state": ClusterState.ACTIVE}),
                                  SYSTEM.change("heartbeat_resumed", now))
    return record


def check_inventory(cluster: ClusterRecord, inventory: Inventory) -> None:
    """An inventory names only GPU types the cluster registered."""
    for g in sorted(set(inventory.gpus) - set(cluster.gpu_types)):
        raise InvalidInput(f"inventory.gpus[{g}]", f"cluster {cluster.id} registered no {g} GPUs")
    for i, w in enumerate(inventory.unavailable):
        if w.gpu_type not in cluster.gpu_types:
            raise InvalidInput(f"inventory.withdrawn[{i}].gpu_type", f"cluster {cluster.id} has no {w.gpu_type}")


def mark_stale(t: Transaction, cutoff: datetime, seen: Callable[[str], datetime | None], now: datetime) -> list[str]:
    """Active clusters silent since ``cutoff`` go stale and their standing allocations are flagged.

    Silent means neither the store nor ``seen`` (the heartbeat buffer) has heard from the
    cluster since the cutoff.  Returns the ids of the clusters that went stale.
    """
    silent = all_pages(lambda p: t.list_clusters(
        ClusterQuery(states=frozenset({ClusterState.ACTIVE}), heartbeat_before=cutoff), p))
    gone = [c for c in silent if max(c.last_heartbeat or c.registered_at, seen(c.id) or c.registered_at) < cutoff]
    for c in gone:
        why = f"no heartbeat since {c.last_heartbeat or 'registration'}"
        t.update_cluster(c.model_copy(update={"state": ClusterState.STALE}), SYSTEM.change("stale", now, why))
        for a in allocations(t, AllocationQuery(cluster=c.id, states=FLAGGABLE)):
            if not a.flagged_stale:
                t.update_allocation(a.model_copy(update={"flagged_stale": True}),
                                    SYSTEM.change("flag_stale", now, f"cluster {c.id} is stale"))
    return [c.id for c in gone]
