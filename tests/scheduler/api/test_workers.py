"""``allmende serve --workers N``: several processes on one port and one database, living and dying together."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import Role
from scheduler.settings import SettingsError, load
from scheduler.store import open_store
from support.ports import listening, wait_for
from tests.scheduler.api.harness import Stubs, SubprocessServer, auth, issue

CONNECTIONS = 16


def spec(n: int) -> req.RequestSpec:
    return req.RequestSpec(title=f"job {n}", org="org-a", category="research", gpus=1 + n % 4,
                           runtime_slots={"H100": 1 + n % 5}, entrypoint="python train.py")


def children(pid: int) -> list[int]:
    return [int(c) for task in os.listdir(f"/proc/{pid}/task")
            for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]


def workers(server: SubprocessServer) -> list[int]:
    """The server's processes that serve: itself and its spawned workers (not multiprocessing's helpers)."""
    assert server.proc is not None
    spawned = [c for c in children(server.proc.pid)
               if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
    return [server.proc.pid, *spawned]


def connections_by_pid(port: int, pids: list[int]) -> dict[int, int]:
    """Established TCP connections on ``port`` that each process holds (from /proc/net/tcp and its fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held = {}
    for pid in pids:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        held[pid] = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
    return held


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def separate_connection(address: str) -> Stubs:
    """A channel with its own TCP connection (gRPC shares subchannels between equal channels otherwise)."""
    return Stubs(grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]))


def two_workers(tmp_path: Path) -> tuple[SubprocessServer, str]:
    """A started ``allmende serve --workers 2`` on SQLite, and an applicant token of org-a."""
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    store = open_store(url)
    token = issue(store, Role.APPLICANT, org="org-a")
    store.close()
    server = SubprocessServer(url, workers=2)
    server.start()
    return server, token


def test_workers_share_the_port_each_serves_and_every_submission_is_stored_once(tmp_path: Path) -> None:
    server, token = two_workers(tmp_path)
    try:
        pids = workers(server)
        assert len(pids) == 2 and listening(server.port) == 2
        channels = [separate_connection(server.address) for _ in range(CONNECTIONS)]

        def submit(i: int) -> list[str]:
            made = []
            for n in range(i * 20, i * 20 + 20):
                msg = req.SubmitRequestRequest(idempotency_key=f"k-{n}", spec=spec(n))
                made.append(channels[i].requests.SubmitRequest(msg, metadata=auth(token), timeout=10).request_id)
            return made

        with ThreadPoolExecutor(CONNECTIONS) as pool:
            made = [r for rs in pool.map(submit, range(CONNECTIONS)) for r in rs]
        held = connections_by_pid(server.port, pids)
        # The same key again on every connection, so on both workers: always the first answer.
        replays = {c.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="k-0", spec=spec(0)),
                                            metadata=auth(token)).request_id for c in channels}
        listed = channels[0].requests.ListRequests(req.ListRequestsRequest(page={"page_size": 500}),
                                                   metadata=auth(token))
        for c in channels:
            c.channel.close()
    finally:
        assert server.stop() == 0, server.stderr()
    assert all(n > 0 for n in held.values()), f"connections per worker: {held}"
    assert replays == {made[0]}
    assert sorted(r.request_id for r in listed.requests) == sorted(made)
    assert len(set(made)) == CONNECTIONS * 20
    assert all(gone(pid) for pid in pids)


def test_a_killed_server_takes_its_workers_with_it_and_restarts_on_the_same_port(tmp_path: Path) -> None:
    server, token = two_workers(tmp_path)
    pids = workers(server)
    assert len(pids) == 2
    stubs = server.stubs()
    first = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="k", spec=spec(1)),
                                         metadata=auth(token))
    stubs.channel.close()
    server.kill()  # SIGKILL: no chance to stop its workers itself
    wait_for(lambda: all(gone(pid) for pid in pids), timeout=10)
    server.start()
    try:
        stubs = server.stubs()
        again = stubs.requests.GetRequest(req.GetRequestRequest(request_id=first.request_id), metadata=auth(token))
        stubs.channel.close()
    finally:
        assert server.stop() == 0, server.stderr()
    assert again.idempotency_key == "k"


def test_a_worker_that_dies_stops_the_whole_server_with_an_error(tmp_path: Path) -> None:
    server = SubprocessServer(f"sqlite:///{tmp_path / 'workers.db'}", workers=3)
    server.start()
    pids = workers(server)
    assert len(pids) == 3
    os.kill(pids[1], signal.SIGKILL)
    assert server.proc is not None
    deadline = time.monotonic() + 30
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    code = server.proc.poll()
    if code is None:
        server.kill()
    assert code not in (None, 0)
    assert "worker allmende-worker-1 exited" in server.stderr()
    wait_for(lambda: all(gone(pid) for pid in pids), timeout=10)


def test_ctrl_c_reaching_every_worker_stops_the_server_cleanly(tmp_path: Path) -> None:
    server, _ = two_workers(tmp_path)
    pids = workers(server)
    for pid in pids:  # what a terminal does: SIGINT to every process of its foreground group
        os.kill(pid, signal.SIGINT)
    assert server.proc is not None
    assert server.proc.wait(30) == 0, server.stderr()
    wait_for(lambda: all(gone(pid) for pid in pids), timeout=10)


def test_every_worker_shows_a_running_solve_with_the_solver_s_latest_report(tmp_path: Path) -> None:
    """The solve runs on the worker that got RunRound; the others read its reports from the round record."""
    import random
    import threading

    from google.protobuf.timestamp_pb2 import Timestamp

    from scheduler.api.gen.allmende.v1 import common_pb2 as common
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from tests.scheduler.api.harness import T0

    url = f"sqlite:///{tmp_path / 'workers.db'}"
    store = open_store(url)
    md = auth(issue(store, Role.OPERATOR))
    store.close()
    server = SubprocessServer(url, workers=2, extra_env={"ALLMENDE_SOLVER_EXECUTOR": "process"})
    server.start()
    try:
        stubs = separate_connection(server.address)
        for c in range(4):
            stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
                cluster_id=f"c{c}", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=16, tdp_watts=700)]),
                metadata=md)
        rng = random.Random(3)
        for n in range(300):
            s = req.RequestSpec(title=f"j{n}", org=f"org-{n % 9}", category=rng.choice(["research", "industry"]),
                                gpus=rng.choice([1, 2, 4, 8]), runtime_slots={"H100": rng.randint(2, 12)},
                                merit=rng.random(), entrypoint="python x.py")
            stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=f"k{n}", spec=s), metadata=md)
        opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
            horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=48),
            policy_config=common.PolicyConfig(category_shares={"research": 0.5, "industry": 0.5}),
            solver=common.SolverParams(time_limit_s=8, workers=1)), metadata=md)
        runner = threading.Thread(target=lambda: list(
            stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md)))
        runner.start()
        others = [separate_connection(server.address) for _ in range(CONNECTIONS)]
        seen: list[rnd.RoundProgress] = []

        def reported() -> bool:  # by the solver, on every connection: so on both workers
            seen[:] = [o.rounds.GetRound(rnd.GetRoundRequest(round_id=opened.round_id), metadata=md).progress
                       for o in others]
            return all(" assigned, value " in p.message for p in seen) or not runner.is_alive()

        wait_for(reported, timeout=60, every=0.2)
        runner.join(60)
        after = {o.rounds.GetRound(rnd.GetRoundRequest(round_id=opened.round_id), metadata=md).state for o in others}
        for c in (stubs, *others):
            c.channel.close()
    finally:
        assert server.stop() == 0, server.stderr()
    assert all(p.state == rnd.ROUND_STATE_SOLVING and p.phase == "solve" for p in seen)
    assert all(" assigned, value " in p.message and 0.05 < p.fraction < 1 for p in seen), [p.message for p in seen]
    assert after == {rnd.ROUND_STATE_PROPOSED}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"workers": 2, "database_url": "memory://"}, "need SQLite or PostgreSQL"),
    ({"workers": 2, "port": 0}, "must be given, not 0"),
    ({"workers": 0}, "workers"),
])
def test_workers_refuse_settings_they_cannot_share(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(overrides, environ={})
