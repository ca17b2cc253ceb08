"""The servicers: each RPC converts at the edge, calls the service, converts back.

Authentication, authorisation and the mapping of domain errors to status codes happen
around every method in :mod:`scheduler.api.auth`; the caller is :func:`caller`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from scheduler import text
from scheduler.api import inbound, outbound
from scheduler.api.auth import caller
from scheduler.api.gen.allmende.v1 import execution_pb2 as execution
from scheduler.api.gen.allmende.v1 import execution_pb2_grpc as execution_grpc
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inventory
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc as inventory_grpc
from scheduler.api.gen.allmende.v1 import ledger_pb2 as ledger
from scheduler.api.gen.allmende.v1 import ledger_pb2_grpc as ledger_grpc
from scheduler.api.gen.allmende.v1 import requests_pb2 as requests
from scheduler.api.gen.allmende.v1 import requests_pb2_grpc as requests_grpc
from scheduler.api.gen.allmende.v1 import review_pb2 as review
from scheduler.api.gen.allmende.v1 import review_pb2_grpc as review_grpc
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rounds
from scheduler.api.gen.allmende.v1 import rounds_pb2_grpc as rounds_grpc
from scheduler.service import Service
from scheduler.states import ClusterState, RequestState, RoundState
from scheduler.store import Page, PageRequest

Context = Any  # grpc.aio.ServicerContext
PROGRESS_TICK_S = 0.25
MAX_RESPONSE_BYTES = 2 * 1024 * 1024  # half a default client's 4 MiB receive limit
T = TypeVar("T")
W = TypeVar("W", bound=Message)


async def sized(fetch: Callable[[PageRequest], Awaitable[Page[T]]], page: PageRequest,
                convert: Callable[[T], W]) -> tuple[list[W], str]:
    """A page cut by size as well as count: no stored record, however large, pushes a list past the message limit.

    When the converted records outgrow :data:`MAX_RESPONSE_BYTES`, the page ends before the one that overflows
    (a page holds at least one record), and the store is asked once more for the cursor after the kept ones.
    """
    found = await fetch(page)
    out: list[W] = []
    size = 0
    for item in found.items:
        msg = convert(item)
        size += msg.ByteSize() + 8  # the field tag and length of each repeated entry
        if out and size > MAX_RESPONSE_BYTES:
            cut = await fetch(page.model_copy(update={"limit": len(out)}))
            return out, cut.next_cursor or ""
        out.append(msg)
    return out, found.next_cursor or ""


def own_org(spec: requests.RequestSpec) -> None:
    """An applicant's request may leave out ``org``: its token already names the organisation."""
    who = caller()
    if not spec.org and who.is_applicant and who.org and spec.ByteSize():
        spec.org = who.org


class InventoryServicer(inventory_grpc.InventoryServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def RegisterCluster(self, request: inventory.RegisterClusterRequest, context: Context) -> inventory.Cluster:
        record = inbound.register_cluster(request, self.service.clock())
        return outbound.cluster(await self.service.register_cluster(caller(), record))

    async def ReportInventory(
        self, request_iterator: AsyncIterator[inventory.InventoryReport], context: Context
    ) -> inventory.ReportInventoryResponse:
        out, last = inventory.ReportInventoryResponse(), None
        async for report in request_iterator:
            last, inv = inbound.inventory_report(report)
            await self.service.report(caller(), last, inv)
            out.reports += 1
        if last is not None:
            out.cluster.CopyFrom(outbound.cluster(await self.service.reported(caller(), last)))
        return out

    async def ListClusters(self, request: inventory.ListClustersRequest, context: Context) -> (
            inventory.ListClustersResponse):
        state = inbound.state_filter(request.state, ClusterState, "CLUSTER_STATE_", "state")
        found, cursor = await sized(lambda p: self.service.list_clusters(caller(), state, p),
                                    inbound.page(request.page), outbound.cluster)
        return inventory.ListClustersResponse(clusters=found, next_page_token=cursor)

    async def GetCluster(self, request: inventory.GetClusterRequest, context: Context) -> inventory.Cluster:
        cluster_id = inbound.identifier(request.cluster_id, "cluster_id")
        return outbound.cluster(await self.service.get_cluster(caller(), cluster_id))


class RequestServicer(requests_grpc.RequestServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def SubmitRequest(self, request: requests.SubmitRequestRequest, context: Context) -> (
            requests.AllocationRequest):
        own_org(request.spec)
        return outbound.request(await self.service.submit(caller(), inbound.submit(request)))

    async def GetRequest(self, request: requests.GetRequestRequest, context: Context) -> requests.AllocationRequest:
        request_id = inbound.identifier(request.request_id, "request_id")
        return outbound.request(await self.service.get_request(caller(), request_id))

    async def ListRequests(self, request: requests.ListRequestsRequest, context: Context) -> (
            requests.ListRequestsResponse):
        state = inbound.state_filter(request.state, RequestState, "REQUEST_STATE_", "state")
        org = inbound.optional_identifier(request.org, "org")
        category = inbound.optional_identifier(request.category, "category")
        round_id = inbound.optional_identifier(request.round_id, "round_id")
        found, cursor = await sized(lambda p: self.service.list_requests(
            caller(), p, org=org, state=state, category=category, round_id=round_id),
            inbound.page(request.page), outbound.request)
        return requests.ListRequestsResponse(requests=found, next_page_token=cursor)

    async def AmendRequest(self, request: requests.AmendRequestRequest, context: Context) -> (
            requests.AllocationRequest):
        request_id = inbound.identifier(request.request_id, "request_id")
        own_org(request.spec)
        spec = inbound.request_spec(request.spec, "spec", None)
        reason = text.reason(request.reason, required=False)
        return outbound.request(await self.service.amend(caller(), request_id, spec, reason))

    async def WithdrawRequest(self, request: requests.WithdrawRequestRequest, context: Context) -> (
            requests.AllocationRequest):
        request_id = inbound.identifier(request.request_id, "request_id")
        reason = text.reason(request.reason, required=False)
        return outbound.request(await self.service.withdraw(caller(), request_id, reason))


class RoundServicer(rounds_grpc.RoundServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def OpenRound(self, request: rounds.OpenRoundRequest, context: Context) -> rounds.Round:
        return outbound.round(await self.service.open_round(caller(), inbound.open_round(request)))

    async def RunRound(self, request: rounds.RunRoundRequest, context: Context) -> AsyncIterator[rounds.RoundProgress]:
        round_id = inbound.identifier(request.round_id, "round_id")
        run = await self.service.run_round(caller(), round_id)
        while not run.done.is_set():
            yield outbound.live_progress(run)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.done.wait(), PROGRESS_TICK_S)
        record, _ = await self.service.get_round(caller(), round_id)
        final = outbound.progress(record, None)
        final.elapsed_s, final.phase = run.elapsed_s, run.phase
        yield final

    async def GetRound(self, request: rounds.GetRoundRequest, context: Context) -> rounds.Round:
        round_id = inbound.identifier(request.round_id, "round_id")
        record, allocations = await self.service.get_round(caller(), round_id)
        return outbound.round(record, allocations, self.service.round_run(round_id))

    async def ListRounds(self, request: rounds.ListRoundsRequest, context: Context) -> rounds.ListRoundsResponse:
        state = inbound.state_filter(request.state, RoundState, "ROUND_STATE_", "state")
        found, cursor = await sized(lambda p: self.service.list_rounds(caller(), state, p),
                                    inbound.page(request.page), outbound.round)
        return rounds.ListRoundsResponse(rounds=found, next_page_token=cursor)

    async def GetPlan(self, request: rounds.GetPlanRequest, context: Context) -> rounds.Plan:
        round_id = inbound.identifier(request.round_id, "round_id")
        record, allocations = await self.service.get_round(caller(), round_id)
        return outbound.plan(record, allocations)

    async def Explain(self, request: rounds.ExplainRequest, context: Context) -> rounds.Explanation:
        round_id = inbound.identifier(request.round_id, "round_id")
        request_id = inbound.identifier(request.request_id, "request_id")
        return outbound.explanation(await self.service.explain(caller(), round_id, request_id))

    async def ReplayRound(self, request: rounds.ReplayRoundRequest, context: Context) -> rounds.ReplayRoundResponse:
        round_id = inbound.identifier(request.round_id, "round_id")
        return outbound.replay(await self.service.replay(caller(), round_id))


class ReviewServicer(review_grpc.ReviewServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def Approve(self, request: review.ApproveRequest, context: Context) -> rounds.Round:
        round_id = inbound.identifier(request.round_id, "round_id")
        ids = inbound.identifiers(request.request_ids, "request_ids")
        return outbound.round(await self.service.approve(caller(), round_id, ids, text.reason(request.reason)))

    async def Reject(self, request: review.RejectRequest, context: Context) -> rounds.Round:
        round_id = inbound.identifier(request.round_id, "round_id")
        ids = inbound.identifiers(request.request_ids, "request_ids")
        return outbound.round(await self.service.reject(caller(), round_id, ids, text.reason(request.reason)))

    async def Pin(self, request: review.PinRequest, context: Context) -> rounds.Round:
        round_id = inbound.identifier(request.round_id, "round_id")
        pin, reason = inbound.pin(request), text.reason(request.reason)
        return outbound.round(await self.service.pin(caller(), pin, round_id, reason))

    async def Publish(self, request: review.PublishRequest, context: Context) -> rounds.Round:
        round_id = inbound.identifier(request.round_id, "round_id")
        return outbound.round(await self.service.publish(caller(), round_id, text.reason(request.reason)))

    async def ListAuditEvents(self, request: review.ListAuditEventsRequest, context: Context) -> (
            review.ListAuditEventsResponse):
        subject = inbound.audit_subject(request.subject_id)
        found, cursor = await sized(lambda p: self.service.audit(caller(), subject, p), inbound.page(request.page),
                                    outbound.audit_event)
        return review.ListAuditEventsResponse(events=found, next_page_token=cursor)


class LedgerServicer(ledger_grpc.LedgerServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def ListPublishedRounds(self, request: ledger.ListPublishedRoundsRequest, context: Context) -> (
            ledger.ListPublishedRoundsResponse):
        async def fetch(p: PageRequest) -> Page[Any]:
            return Page(*await self.service.ledger_entries(p))

        found, cursor = await sized(fetch, inbound.page(request.page), lambda e: outbound.ledger_entry(e, False))
        return ledger.ListPublishedRoundsResponse(entries=found, next_page_token=cursor)

    async def GetLedgerEntry(self, request: ledger.GetLedgerEntryRequest, context: Context) -> ledger.LedgerEntry:
        round_id = inbound.identifier(request.round_id, "round_id")
        return outbound.ledger_entry(await self.service.ledger_entry(round_id))



class ExecutionServicer(execution_grpc.ExecutionServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def ListExecutions(self, request: execution.ListExecutionsRequest, context: Context) -> (
            execution.ListExecutionsResponse):
        round_id = inbound.optional_identifier(request.round_id, "round_id")
        found, cursor = await sized(lambda p: self.service.list_executions(caller(), round_id, p),
                                    inbound.page(request.page), outbound.execution)
        return execution.ListExecutionsResponse(executions=found, next_page_token=cursor)
