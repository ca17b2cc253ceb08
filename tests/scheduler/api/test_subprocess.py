"""``allmende serve`` as a subprocess: crash safety under SIGKILL, graceful stop, and RPCs fast during a solve."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import Role
from scheduler.store import open_store
from tests.scheduler.api.harness import Stubs, SubprocessServer, auth, issue

pytestmark = pytest.mark.slow

KILLS = 5
CLIENTS = 8


def spec(n: int) -> req.RequestSpec:
    return req.RequestSpec(title=f"job {n}", org="org-a", category="research", gpus=1 + n % 8,
                           runtime_slots={"H100": 1 + n % 5}, entrypoint="python train.py")


@pytest.mark.parametrize("workers", [1, 2])
def test_every_acknowledged_submission_survives_sigkill_and_none_is_duplicated(tmp_path: Path, workers: int) -> None:
    """With two workers, two writers share the file, and SIGKILL of the server takes both mid-commit."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    store = open_store(url)
    token = issue(store, Role.APPLICANT, org="org-a")
    store.close()
    server = SubprocessServer(url, workers=workers)
    acked: dict[str, str] = {}  # idempotency key -> request id, only for answers the client received
    tried: set[str] = set()
    lock = threading.Lock()
    counter = iter(range(10**9))

    def client(stop: threading.Event) -> None:
        stubs = Stubs(grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)]))
        while not stop.is_set():
            with lock:
                n = next(counter)
            key = f"key-{n}"
            tried.add(key)
            try:
                made = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=key, spec=spec(n)),
                                                    metadata=auth(token), timeout=5)
            except grpc.RpcError:
                time.sleep(0.05)
                continue
            with lock:
                acked[key] = made.request_id
        stubs.channel.close()

    for _ in range(KILLS):
        server.start()
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(stop,)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        before = len(acked)
        deadline = time.monotonic() + 10
        while len(acked) < before + 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # SIGKILL mid-stream: some submissions are committed but never answered
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acked) > before, "submissions went through between kills"

    server.start()
    try:
        stubs = server.stubs()
        retried = {}
        for key in sorted(tried - acked.keys()):  # a client's retry after the crash: never a second request
            n = int(key.split("-")[1])
            retried[key] = stubs.requests.SubmitRequest(
                req.SubmitRequestRequest(idempotency_key=key, spec=spec(n)), metadata=auth(token)).request_id
        stored: list[req.AllocationRequest] = []
        token_ = ""
        while True:
            page = stubs.requests.ListRequests(req.ListRequestsRequest(page={"page_size": 500, "page_token": token_}),
                                               metadata=auth(token))
            stored += page.requests
            token_ = page.next_page_token
            if not token_:
                break
    finally:
        assert server.stop() == 0, server.stderr()
    by_key = {r.idempotency_key: r.request_id for r in stored}
    assert len(by_key) == len(stored), "an idempotency key was stored twice"
    assert {k: by_key.get(k) for k in acked} == acked, "an acknowledged submission was lost or changed"
    assert {k: by_key.get(k) for k in retried} == retried
    assert len(stored) == len(tried)


def test_rpcs_stay_fast_while_a_round_solves_in_a_worker_process() -> None:
    """The solve runs in a spawned process: reads keep answering in milliseconds, and progress streams."""
    import random
    import statistics

    from google.protobuf.timestamp_pb2 import Timestamp

    from scheduler.api.gen.allmende.v1 import common_pb2 as common
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from tests.scheduler.api.harness import T0, InProcessServer

    server = InProcessServer(solver="process")
    try:
        stubs = server.stubs()
        operator = server.token(Role.OPERATOR)
        md = auth(operator)
        for c in range(4):
            stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
                cluster_id=f"c{c}", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=16, tdp_watts=700),
                                                        inv.GpuPool(gpu_type="A100", count=16, tdp_watts=400)]),
                metadata=md)
        rng = random.Random(7)
        for n in range(400):
            s = req.RequestSpec(title=f"j{n}", org=f"org-{n % 9}", category=rng.choice(["research", "industry"]),
                                gpus=rng.choice([1, 2, 4, 8]), runtime_slots={"H100": rng.randint(2, 12),
                                                                              "A100": rng.randint(3, 18)},
                                earliest_slot=rng.randint(0, 20), merit=rng.random(), entrypoint="python x.py")
            first = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=f"k{n}", spec=s), metadata=md)
        opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
            horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=48),
            policy_config=common.PolicyConfig(category_shares={"research": 0.5, "industry": 0.5}),
            solver=common.SolverParams(time_limit_s=4, workers=1)), metadata=md)
        updates: list[rnd.RoundProgress] = []
        runner = threading.Thread(target=lambda: updates.extend(
            stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md)))
        runner.start()
        latencies = []
        while runner.is_alive():
            t = time.perf_counter()
            stubs.requests.GetRequest(req.GetRequestRequest(request_id=first.request_id), metadata=md)
            latencies.append(time.perf_counter() - t)
            time.sleep(0.02)
        runner.join()
    finally:
        server.close()
    assert updates[-1].state == rnd.ROUND_STATE_PROPOSED
    assert len({round(u.fraction, 2) for u in updates}) >= 5, "progress moved while it solved"
    reports = [u for u in updates if u.solver_phase]  # the solver's own, from the worker process
    assert reports and reports[0].solver_phase in ("first_plan", "bound")
    assert {u.solver_phase for u in reports} <= {"first_plan", "bound", "improve", "polish"}
    assert all(u.assigned > 0 and u.value > 0 and f"{u.assigned:,} assigned" in u.message for u in reports)
    assert all(u.value <= u.bound + 1e-6 for u in reports if u.HasField("bound"))
    assert len(latencies) >= 50
    assert statistics.quantiles(latencies, n=20)[-1] < 0.1, f"p95 {statistics.quantiles(latencies, n=20)[-1]:.3f}s"
