"""A Service over the memory store with a manual clock and a thread solver: no gRPC, no network.

``run(story)`` runs one async story on a fresh world and closes it afterwards, so the
service tests (``test_service_*``) read as plain functions of the world.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from scheduler.access import Principal
from scheduler.domain import ClusterRecord, RequestSpec, Role
from scheduler.service import NewRound, Service
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.store import PageRequest, Repository, open_store
from solver.params import SolveParams
from solver.problem import GpuType, Horizon, PolicyConfig
from tests.scheduler.api.harness import T0, ManualClock

T = TypeVar("T")
OPERATOR = Principal(id="ops", role=Role.OPERATOR)
ANALYST = Principal(id="analyst", role=Role.ANALYST)
PAGE = PageRequest()


@dataclass
class World:
    service: Service
    store: Repository
    clock: ManualClock


def run(story: Callable[[World], Coroutine[Any, Any, T]], **settings: Any) -> T:
    """Run ``story`` on a fresh service, on its own event loop; the service is closed however the story ends."""

    async def main() -> T:
        store, clock = open_store("memory://"), ManualClock()
        service = Service(store, Settings(solver_executor="thread", **settings), clock=clock,
                          runner=SolverRunner("thread"))
        try:
            return await story(World(service, store, clock))
        finally:
            await service.close()
            store.close()

    return asyncio.run(main())


def applicant(org: str) -> Principal:
    return Principal(id=f"{org}-app", role=Role.APPLICANT, org=org)


def agent(cluster: str) -> Principal:
    return Principal(id=f"{cluster}-agent", role=Role.CLUSTER_AGENT, cluster=cluster)


def cluster(id: str, gpu: str = "H100", count: int = 8, country: str = "DE", **more: Any) -> ClusterRecord:
    return ClusterRecord(id=id, operator=id.upper(), country=country, gpu_types={gpu: GpuType(tdp_watts=700)},
                         gpus={gpu: count}, registered_at=T0, **more)


def spec(org: str, title: str, gpus: int = 4, gpu: str = "H100", slots: int = 2, hours: float | None = None,
         **more: Any) -> RequestSpec:
    """A request for ``hours`` on ``gpu`` when given, else for ``slots`` of the round (the deprecated form)."""
    runtime = {"runtime_slots": {gpu: slots}} if hours is None else {"runtime_hours": {gpu: hours}}
    return RequestSpec(org=org, title=title, category="research", gpus=gpus, entrypoint=f"python {title}.py",
                       **runtime, **more)


def new_round(slots: int = 4) -> NewRound:
    return NewRound(horizon=Horizon(start=T0, slots=slots), objective="fair", policy=PolicyConfig(),
                    params=SolveParams(time_limit_s=2, workers=1, seed=0, deterministic=True))


async def solved(world: World, slots: int = 4) -> str:
    """A round opened, run and waited for; its id."""
    opened = await world.service.open_round(OPERATOR, new_round(slots))
    run = await world.service.run_round(OPERATOR, opened.id)
    await asyncio.wait_for(run.done.wait(), 30)
    assert run.error is None, run.error
    return opened.id
